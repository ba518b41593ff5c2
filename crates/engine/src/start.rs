//! `start`: what a container's start needs looked up before its supervisor runs (the namespaces it joins,
//! its root filesystem, its spec, the mount template), then the supervisor.

use std::fs;
use std::path::{Path, PathBuf};

use crate::attach::Ended;
use crate::container::{Container, Status};
use crate::context::Context;
use crate::create::{self, CreateRequest};
use crate::error::{io_err, EngineError};
use crate::ids::ContainerId;
use crate::network::{dns, ports, restore};
use crate::parse::NsMode;
use crate::process::alive;
use crate::remove;
use crate::runroot::{self, lock_container};
use crate::spec::{self, Joins, Root};
use crate::store;
use crate::supervisor::{self, Attach, Source, Started};
use crate::user;
use crate::volume;

/// Starts a created or exited container. Detached: returns once its command runs, with `None`.
/// In the foreground: this process attaches to it and returns how that ended (its exit status, a
/// detach, or a signal this process should die of).
///
/// Starts of one container are serialized by an exclusive `flock(2)` on its directory, held until it is
/// recorded running (or failed to start): of two concurrent starts, the second finds it running and
/// does nothing, where both would otherwise run it, each with a supervisor and a PID 1 of its own.
pub fn start(ctx: &Context, reference: &str, attach: Attach) -> Result<Option<Ended>, EngineError> {
    let c = ctx.find(reference)?;
    let lock = lock_container(&ctx.paths, &c.id)?;
    start_locked(ctx, c.id.as_str(), attach, runroot::ContainerLock(lock))
}

/// [`start`] under the container's start lock.
fn start_locked(
    ctx: &Context,
    reference: &str,
    attach: Attach,
    lock: runroot::ContainerLock,
) -> Result<Option<Ended>, EngineError> {
    let lock = lock.0;
    let c = ctx.find(reference)?;
    if c.state.status == Status::Running && alive(c.state.pid, c.state.pid_start_time) {
        return Ok(None);
    }
    // Its supervisor is waiting to restart it: that start is under way.
    if c.state.status == Status::Restarting
        && alive(c.state.supervisor_pid, c.state.supervisor_start_time)
    {
        return Ok(None);
    }
    restore_network(ctx, &c)?;
    let mut prepared = prepare(ctx, &c)?;
    prepared.lock = Some(lock);
    log::debug!("start {}: prepared", c.name);
    let started = supervisor::start(
        ctx,
        Source::Prepared(Box::new((c, prepared))),
        attach,
        again,
    )?;
    Ok(started.ended)
}

/// `run`: creates a container and starts it. Both happen in the supervisor, which this process forks
/// before it opens the store (see [`Source::Create`]); it returns once the supervisor reports the
/// container running, or why it could not make or start it. A container made but not started is removed
/// before that report: nothing of a failed `run` is left.
pub fn run(ctx: &Context, req: CreateRequest, attach: Attach) -> Result<Started, EngineError> {
    let tty = req.tty;
    let id = ContainerId::random();
    let cgroup = ctx.paths.cgroup(&id);
    let make = move |ctx: &Context| {
        // Under the start lock from the create on: no moment in which `system prune` could take it for
        // a stopped container, nor another `start` run it too.
        let (c, lock, pending) = create::create_locked(ctx, req, id)?;
        match prepare(ctx, &c) {
            Ok(mut prepared) => {
                prepared.lock = Some(lock.0);
                prepared.pending = pending;
                prepared.name_late = true;
                log::debug!("start {}: prepared", c.name);
                Ok((c, prepared))
            }
            Err(e) => {
                drop(lock);
                // Not recorded yet: only what was made goes.
                let _ = match pending {
                    Some(_) => remove::cleanup(ctx, &c),
                    None => remove::remove(ctx, c.id.as_str(), true, true).map(drop),
                };
                Err(e)
            }
        }
    };
    let source = Source::Create {
        tty,
        make: Box::new(make),
        cgroup,
    };
    supervisor::start(ctx, source, attach, again)
}

/// After a reboot the run root is empty: the network namespace the container uses (its own, or the one
/// of the container whose network it joins) is made again from the records, then minotaur's firewall
/// table and the resolver. One `statfs(2)` when nothing was lost. (`system boot` does this for every
/// container first, and the firewall table once.)
fn restore_network(ctx: &Context, c: &Container) -> Result<(), EngineError> {
    let mut owner = c.clone();
    for _ in 0..16 {
        match owner.config.host.network_mode.strip_prefix("container:") {
            Some(x) if owner.state.sandbox_key.is_none() => owner = ctx.find(x)?,
            _ => break,
        }
    }
    if restore::sandbox(ctx, &owner)? {
        ports::reload(ctx)?;
        dns::update(ctx, &owner.id)?;
    }
    Ok(())
}

/// A restart by the container's supervisor: under the start lock, with the record read again.
fn again(ctx: &Context, c: &Container) -> Result<supervisor::Prepared, EngineError> {
    let lock = lock_container(&ctx.paths, &c.id)?;
    let c = ctx.find(c.id.as_str())?;
    let mut prepared = prepare(ctx, &c)?;
    prepared.lock = Some(lock);
    Ok(prepared)
}

/// Everything the supervisor needs that is looked up before it starts: the root and the spec.
fn prepare(ctx: &Context, c: &Container) -> Result<supervisor::Prepared, EngineError> {
    let h = &c.config.host;
    let names_others = h.network_mode.starts_with("container:")
        || [&h.pid_mode, &h.ipc_mode, &h.uts_mode]
            .into_iter()
            .flatten()
            .any(|m| matches!(m, NsMode::Container(_)));
    // Only namespaces of other containers are looked up in the store.
    let joins = if !names_others {
        let host = |mode: &Option<NsMode>| matches!(mode, Some(NsMode::Host));
        Joins {
            net: c.state.sandbox_key.clone(),
            host_net: h.network_mode == "host",
            host_pid: host(&h.pid_mode),
            host_ipc: host(&h.ipc_mode),
            host_uts: host(&h.uts_mode),
            ..Default::default()
        }
    } else {
        others_joins(ctx, c)?
    };
    prepare_with(ctx, c, joins)
}

/// The namespaces a container joins when it names other containers' (`container:X` modes), read in one
/// transaction.
fn others_joins(ctx: &Context, c: &Container) -> Result<Joins, EngineError> {
    let mut st = ctx.store()?;
    let joins = st.read(|tx| -> Result<Joins, EngineError> {
        let h = &c.config.host;
        let mut j = Joins {
            net: c.state.sandbox_key.clone(),
            ..Default::default()
        };
        j.host_net = h.network_mode == "host";
        if let Some(x) = h.network_mode.strip_prefix("container:") {
            let mut other = store::find(tx, x)?;
            // A container that joined another's network hands that one on, as with Docker; the
            // chain is bounded so that a loop of renamed containers cannot hang this.
            for _ in 0..16 {
                match other.config.host.network_mode.strip_prefix("container:") {
                    Some(y) if other.state.sandbox_key.is_none() => other = store::find(tx, y)?,
                    _ => break,
                }
            }
            if other.config.host.network_mode == "host" {
                j.host_net = true;
                j.net = None;
            } else {
                j.net = Some(other.state.sandbox_key.clone().ok_or_else(|| {
                    EngineError::NotRunning(format!("{x} (it has no network namespace of its own)"))
                })?);
            }
        }
        let path_of =
            |mode: &Option<NsMode>, kind: &str| -> Result<(bool, Option<PathBuf>), EngineError> {
                match mode {
                    Some(NsMode::Host) => Ok((true, None)),
                    Some(NsMode::Container(x)) => {
                        let other = store::find(tx, x)?;
                        if other.state.status != Status::Running
                            || !alive(other.state.pid, other.state.pid_start_time)
                        {
                            return Err(EngineError::NotRunning(x.clone()));
                        }
                        Ok((
                            false,
                            Some(PathBuf::from(format!(
                                "/proc/{}/ns/{kind}",
                                other.state.pid
                            ))),
                        ))
                    }
                    _ => Ok((false, None)),
                }
            };
        (j.host_pid, j.pid) = path_of(&h.pid_mode, "pid")?;
        (j.host_ipc, j.ipc) = path_of(&h.ipc_mode, "ipc")?;
        (j.host_uts, j.uts) = path_of(&h.uts_mode, "uts")?;
        Ok(j)
    })?;
    Ok(joins)
}

/// [`prepare`] with the namespaces to join found.
fn prepare_with(
    ctx: &Context,
    c: &Container,
    joins: Joins,
) -> Result<supervisor::Prepared, EngineError> {
    let bundle = ctx.paths.bundle(&c.id);
    fs::create_dir_all(&bundle).map_err(io_err(format!("create {}", bundle.display())))?;
    // An image's root is an overlay the container's init mounts in its own mount namespace (see the
    // runtime's rootfs module): nothing of it is mounted here, and the user is looked up in its layers.
    let (root, overlay, identity) = if c.config.image_id == "host" {
        let identity = user::resolve(&c.config.user, Path::new("/"))?;
        if c.config.host.userns.is_some() {
            // Its root is an idmapped clone of the host's tree, which must leave the template out.
            runroot::template_unbindable(ctx)?;
        }
        (Root::Host, None, identity)
    } else {
        let images = minotaur_image::Store::open(&ctx.paths.root)?;
        let id = images.resolve(&c.config.image_id)?;
        let overlay = runroot::overlay(images.lower_dirs(&id)?, &ctx.paths.container_dir(&c.id))?;
        let layers: Vec<PathBuf> = std::iter::once(overlay.upper.clone())
            .chain(overlay.lower.iter().cloned())
            .collect();
        let identity = user::resolve_in_layers(&c.config.user, &layers)?;
        // With a user namespace of its own the container writes its layer with its range's IDs; the
        // layer's top is its root's, or the container's `/` would be nobody's (see the runtime's idmap
        // module).
        if let Some(m) = &c.config.host.userns {
            std::os::unix::fs::chown(&overlay.upper, Some(m.uid), Some(m.gid))
                .map_err(io_err(format!("chown {}", overlay.upper.display())))?;
        }
        (Root::Dir(PathBuf::from("rootfs")), Some(overlay), identity)
    };
    let etc = crate::spec::EtcFiles::in_dir(&crate::etc::dir(&ctx.paths, &c.id));
    let mut spec = spec::build(
        &c.config,
        &identity,
        &root,
        &joins,
        &etc,
        &ctx.paths.cgroup(&c.id),
    )?;
    volume::add_mounts(ctx, c, &mut spec)?;
    spec::order_mounts(&mut spec);
    // The template's mount namespace belongs to the host's user namespace: a container in a user
    // namespace of its own cannot join it, and copies the caller's instead.
    let mount_template = match c.config.host.userns {
        Some(_) => None,
        None => runroot::mount_template(ctx)?,
    };
    if let (Root::Host, Some(template)) = (&root, &mount_template) {
        if let (Some(ready), Some(mut r)) = (
            runroot::host_root(ctx, template, &spec),
            spec.root().clone(),
        ) {
            r.set_path(ready);
            spec.set_root(Some(r));
        }
    }
    Ok(supervisor::Prepared {
        spec,
        bundle,
        overlay,
        mount_template,
        lock: None,
        pending: None,
        name_late: false,
        cgroup_ahead: None,
    })
}
