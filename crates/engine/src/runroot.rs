//! The run root and the mounts made below it: the run root as a shared mount point of its own, and the mount
//! template containers' mount namespaces are copied from; and the directories of a container's overlay root
//! (which the runtime mounts in the container's own mount namespace, not here).

use std::fs;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::context::Context;
use crate::error::{io_err, EngineError};
use crate::ids::ContainerId;
use crate::paths::Paths;

/// Makes the run root (where the per-container mounts go: namespace files) and makes it a
/// mount point of its own, bound onto itself the first time. Containers of the `host` image have the
/// host's `/` as their root, a recursive bind; as a mount point the run root can be left out of it (see
/// `hide` in the runtime's options), so a container start does not copy, then detach, every other
/// container's mounts. An exclusive flock on the directory keeps two engines from both binding it. It is a
/// shared mount (for the mount template, see [`mount_template`]) in a peer group of its own.
pub(crate) fn ready(ctx: &Context) -> Result<(), EngineError> {
    let dir = &ctx.paths.runroot;
    fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
    if is_mount_point(dir)? {
        return Ok(());
    }
    let lock = lock_dir(dir)?;
    if !is_mount_point(dir)? {
        bind_onto_itself(dir)?;
        // Shared, so what is mounted below it reaches the mount template; a peer group of its own
        // (private first), so it is not also copied onto the mount the run root sits on.
        for (flags, what) in [
            (nix::mount::MsFlags::MS_PRIVATE, "private"),
            (nix::mount::MsFlags::MS_SHARED, "shared"),
        ] {
            set_propagation(dir, flags, what)?;
        }
    }
    drop(lock);
    Ok(())
}

/// The run root, ready, under an exclusive flock until the guard is dropped: for making what is made
/// once per boot below it.
pub(crate) fn locked(ctx: &Context) -> Result<Flock<fs::File>, EngineError> {
    ready(ctx)?;
    lock_dir(&ctx.paths.runroot)
}

/// The mount namespace containers' mount namespaces are copied from (the runtime's mount template): the
/// host's mounts without the containers' namespace files, so that a start does not copy and then detach
/// a mount for every other container. Made on first use, under the run root's lock; `None` where the
/// host's root mount is private (a template would not follow the host's later mounts), and containers
/// then copy the engine's own namespace as before.
pub(crate) fn mount_template(ctx: &Context) -> Result<Option<PathBuf>, EngineError> {
    let dir = ctx.paths.runroot.join("mnt");
    let file = dir.join("template");
    if is_mount_point(&file).unwrap_or(false) {
        return Ok(Some(file));
    }
    if !minotaur_runtime::mount_template::root_is_shared().unwrap_or(false) {
        return Ok(None);
    }
    let lock = locked(ctx)?;
    if is_mount_point(&file).unwrap_or(false) {
        return Ok(Some(file));
    }
    // The template's file must sit on a mount that does not propagate (the kernel will not propagate a
    // bound mount namespace); the directory of namespace files must be a mount point before the template
    // is made, so the template can leave it out whole, with whatever is bound there later.
    fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
    if !is_mount_point(&dir)? {
        bind_onto_itself(&dir)?;
    }
    set_propagation(&dir, nix::mount::MsFlags::MS_UNBINDABLE, "unbindable")?;
    ctx.netns().prepare()?;
    let _ = fs::remove_file(&file);
    let root = host_root_of(ctx);
    fs::create_dir_all(&root.dir).map_err(io_err(format!("create {}", root.dir.display())))?;
    let made = minotaur_runtime::mount_template::make(&file, &[ctx.paths.netns_dir()], Some(&root));
    drop(lock);
    match made {
        Ok(()) => Ok(Some(file)),
        Err(e) => {
            log::warn!("no mount template, containers copy the host's mounts: {e}");
            Ok(None)
        }
    }
}

/// Where the `host` image's root lies ready in the mount template (see the runtime's `mount_template`), and
/// what is left out of it: the paths where the `host` image mounts filesystems of its own, and the run root
/// (which every container's root leaves out, `hide`).
fn host_root_of(ctx: &Context) -> minotaur_runtime::mount_template::HostRoot {
    let mut without: Vec<PathBuf> = ["/proc", "/dev", "/sys", "/tmp", "/run"]
        .iter()
        .map(PathBuf::from)
        .collect();
    without.push(ctx.paths.runroot.clone());
    minotaur_runtime::mount_template::HostRoot {
        dir: ctx.paths.runroot.join("mnt").join("root"),
        without,
    }
}

/// The root a `host` image container with `spec` binds from the mount `template`: the host's `/` as the
/// template holds it ready, without the host's `/proc`, `/dev`, `/sys`, `/tmp` and `/run`, when the spec
/// mounts a filesystem of its own on each of them (so that the container sees the same as with a bind of
/// `/` whose submounts there its init detaches, and the init has nothing to detach); `None`: `/` itself.
pub(crate) fn host_root(
    ctx: &Context,
    template: &Path,
    spec: &oci_spec::runtime::Spec,
) -> Option<PathBuf> {
    let root = host_root_of(ctx);
    let without = minotaur_runtime::mount_template::host_root(template, &root.dir)?;
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    let own_filesystem = |p: &Path| {
        mounts.iter().any(|m| {
            m.destination() == p
                && m.typ().as_deref().is_some_and(|t| t != "bind")
                && !m
                    .options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind")
        })
    };
    without
        .iter()
        .all(|p| *p == ctx.paths.runroot || own_filesystem(p))
        .then_some(root.dir)
}

/// Keeps the mount template's directory out of clones of the host's mount tree: it is made unbindable
/// (so also private), and a recursive clone (open_tree(2) `AT_RECURSIVE`, as the idmapped root of a `host`
/// image container with a user namespace of its own is made) leaves it out. Such a clone would otherwise
/// hold the template, a mount namespace's file, and the kernel refuses to move a tree holding one into a
/// newer mount namespace (ELOOP: it could make a loop of namespaces). A template made before directories
/// were made unbindable sits on a private one, changed here. Nothing to do without a template.
pub(crate) fn template_unbindable(ctx: &Context) -> Result<(), EngineError> {
    let dir = ctx.paths.runroot.join("mnt");
    if is_mount_point(&dir).unwrap_or(false) {
        set_propagation(&dir, nix::mount::MsFlags::MS_UNBINDABLE, "unbindable")?;
    }
    Ok(())
}

/// The overlay root of an image container: the image's layers (top first) under the container's own upper
/// layer, whose directories are made here. The runtime mounts it in the container's mount namespace.
pub(crate) fn overlay(
    lower: Vec<PathBuf>,
    container_dir: &Path,
) -> Result<minotaur_runtime::Overlay, EngineError> {
    let upper = container_dir.join("upper");
    let work = container_dir.join("work");
    for d in [&upper, &work] {
        fs::create_dir_all(d).map_err(io_err(format!("create {}", d.display())))?;
    }
    Ok(minotaur_runtime::Overlay { lower, upper, work })
}

/// An exclusive `flock(2)` on directory `dir`, held until the returned file is dropped.
pub(crate) fn lock_dir(dir: &Path) -> Result<Flock<fs::File>, EngineError> {
    fs::File::open(dir)
        .map_err(io_err(format!("open {}", dir.display())))
        .and_then(|f| {
            Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, source)| EngineError::Sys {
                what: format!("lock {}", dir.display()),
                source,
            })
        })
}

/// Container `id`'s lock ([`ContainerLock`]): on the directory its files are in (see [`crate::etc::dir`]),
/// which for a container `run --rm` made is its run directory: its directory under the state root, on a
/// file system that may be slow to make entries in, is made only with its log.
pub(crate) fn lock_container(
    paths: &Paths,
    id: &ContainerId,
) -> Result<Flock<fs::File>, EngineError> {
    lock_dir(&crate::etc::dir(paths, id))
}

/// The lock on a container's directory that `create` takes before the record exists and `start` holds
/// until the container is recorded running: a container under it is being made or started, and `prune`
/// leaves it alone. `run` carries it from its create to its start, so nothing can remove the container in
/// between.
pub struct ContainerLock(pub(crate) Flock<fs::File>);

/// The container directory's lock if nobody holds it; `None` when it is held or the directory is missing
/// (a container whose record is there but not its directory is being made, or was left by a crash, which
/// `system check` repairs).
pub(crate) fn try_lock_dir(dir: &Path) -> Result<Option<Flock<fs::File>>, EngineError> {
    let f = match fs::File::open(dir) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(format!("open {}", dir.display()))(e)),
    };
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(l)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, source)) => Err(EngineError::Sys {
            what: format!("lock {}", dir.display()),
            source,
        }),
    }
}

/// True when `dir` is the root of a mount.
fn is_mount_point(dir: &Path) -> Result<bool, EngineError> {
    rustix::fs::statx(
        rustix::fs::CWD,
        dir,
        rustix::fs::AtFlags::empty(),
        rustix::fs::StatxFlags::BASIC_STATS,
    )
    .map(|s| {
        let root = rustix::fs::StatxAttributes::MOUNT_ROOT;
        s.stx_attributes_mask.contains(root) && s.stx_attributes.contains(root)
    })
    .map_err(|e| EngineError::Sys {
        what: format!("look at {}", dir.display()),
        source: nix::errno::Errno::from_raw(e.raw_os_error()),
    })
}

/// Binds `dir` onto itself (with what is mounted below it), making it a mount point.
fn bind_onto_itself(dir: &Path) -> Result<(), EngineError> {
    nix::mount::mount(
        Some(dir),
        dir,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|source| EngineError::Sys {
        what: format!("bind {} onto itself", dir.display()),
        source,
    })
}

/// Changes the propagation of the mount at `dir` (`what`: the type's name, for the error).
fn set_propagation(dir: &Path, flags: nix::mount::MsFlags, what: &str) -> Result<(), EngineError> {
    nix::mount::mount(None::<&str>, dir, None::<&str>, flags, None::<&str>).map_err(|source| {
        EngineError::Sys {
            what: format!("make {} {what}", dir.display()),
            source,
        }
    })
}
