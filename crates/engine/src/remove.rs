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
use crate::store::StoreError;
use crate::volume;

/// Removes a container and everything it owns: network namespace, cgroup, files, record; with `volumes`
/// (`rm -v`), its anonymous volumes too.
pub fn remove(
    ctx: &Context,
    reference: &str,
    force: bool,
    volumes: bool,
) -> Result<Container, EngineError> {
    remove_many(ctx, &[reference.to_owned()], force, volumes)
        .pop()
        .expect("one result per reference")
}

/// Removes several containers, as `rm A B C` asks, with the result of each in the order given. With
/// `force`, every running one is SIGKILLed before any is waited for: their supervisors then record the
/// exits side by side, and removing a thousand running containers costs about one exit and a thousand
/// removals rather than a thousand exits one after another. A container named twice is removed once;
/// the second name finds it gone, as it would one command later.
pub fn remove_many(
    ctx: &Context,
    references: &[String],
    force: bool,
    volumes: bool,
) -> Vec<Result<Container, EngineError>> {
    let mut seen = std::collections::HashSet::new();
    // Each container found, with the PID 1 that was SIGKILLed (0: none) and whether its supervisor is
    // waiting to restart it.
    let found: Vec<Result<(Container, i32, bool), EngineError>> = references
        .iter()
        .map(|r| {
            let c = ctx.find(r)?;
            if !seen.insert(c.id.clone()) {
                return Err(StoreError::NoSuchContainer(r.clone()).into());
            }
            let restarting = c.state.status == Status::Restarting
                && alive(c.state.supervisor_pid, c.state.supervisor_start_time);
            let running = stop::pidfd(&c)?.is_some();
            if (running || restarting) && !force {
                return Err(EngineError::Running(c.name.to_string()));
            }
            let signalled = if running { stop::kill_now(ctx, &c)? } else { 0 };
            Ok((c, signalled, restarting))
        })
        .collect();
    found
        .into_iter()
        .map(|f| {
            let (c, signalled, restarting) = f?;
            if signalled != 0 {
                stop::wait_halted(ctx, &c, Signal::SIGKILL, Duration::ZERO, signalled)?;
            } else if restarting {
                stop::halt(ctx, &c, Signal::SIGKILL, Duration::ZERO)?;
            }
            stop::settle(ctx, &c);
            remove_stopped_with(ctx, &c, volumes || c.config.host.auto_remove)?;
            Ok(c)
        })
        .collect()
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
    crate::crash::after("rm:kernel");
    let deleted = ctx
        .store()
        .and_then(|mut st| Ok(st.write_freeing(|tx| tx.delete_container(c.id.as_str()))?));
    crate::crash::after("rm:record");
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
