//! `rm`: removing a container and everything it owns (published ports, `ip netns` name, network namespace,
//! cgroup, files, record, and on request its anonymous volumes), going on past errors.

use std::fs;
use std::io;
use std::time::Duration;

use minotaur_ns::netns::{NetnsError, NetnsName};
use nix::sys::signal::Signal;

use crate::container::{Container, Status};
use crate::context::Context;
use crate::error::EngineError;
use crate::events;
use crate::network::{attach, dns, netns, ports};
use crate::process::alive;
use crate::stop;
use crate::volume;

/// Removes a container and everything it owns: network namespace, cgroup, files, record; with `volumes`
/// (`rm -v`), its anonymous volumes too.
pub fn remove(
    ctx: &Context,
    reference: &str,
    force: bool,
    volumes: bool,
) -> Result<Container, EngineError> {
    let c = ctx.find(reference)?;
    let restarting = c.state.status == Status::Restarting
        && alive(c.state.supervisor_pid, c.state.supervisor_start_time);
    if stop::pidfd(&c)?.is_some() || restarting {
        if !force {
            return Err(EngineError::Running(c.name.to_string()));
        }
        stop::halt(ctx, &c, Signal::SIGKILL, Duration::ZERO)?;
    }
    stop::settle(ctx, &c);
    remove_stopped_with(ctx, &c, volumes || c.config.host.auto_remove)?;
    Ok(c)
}

/// Removes what a stopped container owns, and its anonymous volumes when it was run with `--rm`. Goes on
/// past errors and reports the first.
pub fn remove_stopped(ctx: &Context, c: &Container) -> Result<(), EngineError> {
    remove_stopped_with(ctx, c, c.config.host.auto_remove)
}

fn remove_stopped_with(ctx: &Context, c: &Container, volumes: bool) -> Result<(), EngineError> {
    let anonymous = if volumes {
        volume::of(ctx, &c.id)?
    } else {
        Vec::new()
    };
    let networked = attach::attachments(ctx, Some(c.id.as_str()), None)
        .map(|a| !a.is_empty())
        .unwrap_or(true);
    let mut first = cleanup(ctx, c).err();
    let deleted = ctx
        .store()
        .and_then(|mut st| Ok(st.write(|tx| tx.delete_container(c.id.as_str()))?));
    match deleted {
        Ok(_) => {
            events::container(ctx, "destroy", c, &[]);
            if let Err(e) = volume::remove_anonymous(ctx, &anonymous) {
                first.get_or_insert(e.into());
            }
        }
        Err(e) => {
            first.get_or_insert(e);
        }
    }
    if networked {
        if let Err(e) = dns::update(ctx, &c.id) {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// Deletes a container's kernel objects and files (not its record).
fn cleanup(ctx: &Context, c: &Container) -> Result<(), EngineError> {
    let mut first: Option<EngineError> = ports::unpublish(ctx, c).err();
    if let Some(sandbox) = &c.state.sandbox_key {
        netns::unregister(c.name.as_str(), sandbox);
    }
    if c.state.sandbox_key.is_some() {
        if let Ok(name) = NetnsName::new(c.id.as_str()) {
            match ctx.netns().delete(&name) {
                Ok(()) | Err(NetnsError::NotFound(..)) => {}
                Err(e) => {
                    first.get_or_insert(e.into());
                }
            }
        }
    }
    if let Err(e) =
        minotaur_runtime::Cgroup::existing(&ctx.cgroup_root, &ctx.paths.cgroup(&c.id)).remove()
    {
        first.get_or_insert(EngineError::Runtime(e.into()));
    }
    for dir in [ctx.paths.run_dir(&c.id), ctx.paths.container_dir(&c.id)] {
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                first.get_or_insert(EngineError::Io {
                    what: format!("remove {}", dir.display()),
                    source: e,
                });
            }
        }
    }
    first.map_or(Ok(()), Err)
}
