//! [`create`]: a spec checked and resolved into a [`Plan`] in the parent, the init spawned with it, and the
//! [`Created`] container the caller starts, detaches or aborts.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::cgroup::{self, Cgroup};
use crate::error::RuntimeError;
use crate::idmap::id_maps;
use crate::plan::{BeforePivot, Plan};
use crate::rootfs::Overlay;
use crate::spawn::{open_namespace, spawn};
use crate::status::{await_exec, GO};
use crate::{idmap, seccomp, state};

/// Options of [`create`] that are not part of the spec.
#[derive(Debug, Clone)]
pub struct CreateOptions<'a> {
    /// The cgroup filesystem root (`/sys/fs/cgroup`); a container gets a cgroup only when its spec has
    /// `linux.cgroupsPath`, which is taken relative to this root.
    pub cgroup_root: PathBuf,
    /// The container's stdin, stdout and stderr. `None`: the caller's own 0, 1 and 2. Ignored with a
    /// terminal, which becomes all three.
    pub stdio: Option<[BorrowedFd<'a>; 3]>,
    /// PID 1 stays the runtime's own init, which runs the command as its child (see [`reaper`]).
    pub init: bool,
    /// Mount points of the caller's to leave out when the root is a recursive bind of a tree that holds them
    /// (the host's own `/`, say, holding an engine's per-container mounts): in the container's new mount
    /// namespace they are made unbindable before the root is bound, so the bind skips them and all below
    /// them instead of copying them only to detach them later. A path that is not a mount point is ignored.
    pub hide: Vec<PathBuf>,
    /// A mount namespace file ([`mount_template`]) to copy the container's mount namespace from, instead of
    /// the caller's. Not with a shared root propagation: the container's mounts would be peers of the
    /// template's, not of the caller's.
    pub mount_template: Option<PathBuf>,
    /// The root is this overlay, mounted by the init in the container's own mount namespace ([`rootfs`]),
    /// instead of a bind of the spec's `root.path` (which is then not used). With `root.readonly` the
    /// overlay is made read-only once the spec's mount points are made in its upper layer.
    pub overlay: Option<Overlay>,
    /// A FIFO the init waits on, instead of the caller's [`Created::start`], before it execs the command: the
    /// OCI command line's `create` exits and a later `start` (another process) writes one byte to it. The
    /// init opens it read-write before it forks, which never blocks on a FIFO and keeps it open for reading
    /// after the caller has gone, so the writer's `open(O_WRONLY | O_NONBLOCK)` fails with `ENXIO` exactly
    /// when the init is gone. See [`Created::detach`].
    pub start_fifo: Option<PathBuf>,
    /// How many descriptors after stdio (3, 4, ...) the container's process inherits, as the OCI command
    /// line's `--preserve-fds` asks; every other descriptor is closed at exec.
    pub preserve_fds: u32,
    /// Assemble the root on the spec's root directory itself (a recursive bind of it onto itself, as runc
    /// does) instead of over the bundle directory. An OCI caller's bundle holds files of its own that the
    /// container mounts (podman keeps the container's `/dev/shm` there), which a bind over the bundle would
    /// hide. Not with [`CreateOptions::overlay`], which is always mounted over the bundle.
    pub root_in_place: bool,
    /// The state the spec's `startContainer` hooks are told (its PID and status are filled in by the init,
    /// which runs them in the container's namespaces once started, just before it execs the process, as
    /// runc does). `None`: those hooks are not run (the engine's containers have none).
    pub hook_state: Option<state::State>,
    /// With a new user namespace and no overlay, the root is a recursive clone of the spec's root whose
    /// mounts are idmapped onto the namespace's IDs (see the idmap module), instead of a bind that shows
    /// the caller's files as nobody's. The engine's `host` image asks for it.
    pub idmap_root: bool,
    /// Run by the caller once the init has made the container's mounts and before it enters its root
    /// (pivot_root), with the init's PID; the init waits for it. The OCI command line's `prestart` and
    /// `createRuntime` hooks run here, so that the `createContainer` hooks the init runs next come after
    /// them (the runtime spec's order). An error kills the init and fails [`create`].
    pub before_pivot: Option<BeforePivot<'a>>,
    /// The container's cgroup is this transient scope, which systemd makes on the system bus with the init
    /// in it (the cgroup::systemd module), instead of `linux.cgroupsPath` under [`CreateOptions::cgroup_root`].
    /// The directories of the hierarchies systemd does not manage are made at the scope's path, and every
    /// limit is written to the files as well, as without it.
    pub systemd_scope: Option<cgroup::systemd::Scope>,
}

impl Default for CreateOptions<'_> {
    fn default() -> Self {
        CreateOptions {
            cgroup_root: PathBuf::from(cgroup::DEFAULT_ROOT),
            stdio: None,
            init: false,
            hide: Vec::new(),
            mount_template: None,
            overlay: None,
            start_fifo: None,
            preserve_fds: 0,
            root_in_place: false,
            hook_state: None,
            idmap_root: false,
            before_pivot: None,
            systemd_scope: None,
        }
    }
}

/// A container whose init process has set up everything and waits for [`Created::start`]. Dropping it
/// instead makes the init process exit (the caller still reaps it); [`Created::abort`] also reaps it and
/// removes the cgroup.
#[derive(Debug)]
pub struct Created {
    pid: Pid,
    pidfd: OwnedFd,
    cgroup: Option<Cgroup>,
    status: File,
    go: File,
    console: Option<OwnedFd>,
    /// The init waits on a start FIFO rather than on `go` ([`CreateOptions::start_fifo`]).
    gated: bool,
    /// Without a mount namespace of its own: the ID of the bind of its root and where it is.
    shared_root: Option<(u64, PathBuf)>,
}

/// A started container: its PID 1, a pidfd for it, and its cgroup (to [`Cgroup::remove`] once it has exited).
/// The caller is the process's parent and must reap it.
#[derive(Debug)]
pub struct Started {
    pub pid: Pid,
    pub pidfd: OwnedFd,
    pub cgroup: Option<Cgroup>,
}

impl Created {
    /// The init process's PID in the caller's PID namespace (`/proc/PID/ns/*` are the container's namespaces).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// A pidfd for the init process.
    pub fn pidfd(&self) -> &OwnedFd {
        &self.pidfd
    }

    /// When the container has no mount namespace of its own, the ID of the mount the init made of its root
    /// in the namespace it shares, and its mount point there: what [`shared_mounts::release`] takes away.
    pub fn shared_root(&self) -> Option<(u64, &Path)> {
        self.shared_root.as_ref().map(|(id, p)| (*id, p.as_path()))
    }

    /// The master side of the container's terminal (when `process.terminal` is set), for the supervisor to
    /// relay; the container has the slave as `/dev/console` and as its stdin, stdout and stderr.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }

    /// Lets the init process drop privileges and exec the command. Returns once the exec has happened, or the
    /// reason it did not (the init process then exits with 126/127 and the caller still reaps it).
    pub fn start(self) -> Result<Started, RuntimeError> {
        let Created {
            pid,
            pidfd,
            cgroup,
            status,
            mut go,
            console: _,
            gated: _,
            shared_root: _,
        } = self;
        go.write_all(&[GO]).map_err(RuntimeError::Sync)?;
        drop(go);
        await_exec(status)?;
        Ok(Started { pid, pidfd, cgroup })
    }

    /// Leaves the init process waiting on [`CreateOptions::start_fifo`] and gives up being its starter: the
    /// caller may exit, and the init goes on to exec when a byte is written to the FIFO. Without a start FIFO
    /// the init would exit once the caller's end of the go pipe closes, so that is an error.
    pub fn detach(self) -> Result<Started, RuntimeError> {
        if !self.gated {
            return Err(RuntimeError::InvalidSpec(
                "detach needs a start fifo".into(),
            ));
        }
        Ok(Started {
            pid: self.pid,
            pidfd: self.pidfd,
            cgroup: self.cgroup,
        })
    }

    /// Kills and reaps the init process and removes the cgroup: the container never started.
    pub fn abort(self) -> Result<(), RuntimeError> {
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
        if let Some(cg) = self.cgroup {
            cg.remove()?;
        }
        Ok(())
    }
}

/// Creates a container from `spec`: forks its init process into new namespaces, sets up its root filesystem
/// and mounts, and leaves it waiting for [`Created::start`]. `bundle` is a directory the root is assembled
/// on (the OCI bundle); a relative `root.path` is resolved against it.
///
/// The caller must be single-threaded (the init process is forked with clone3), and is the init process's
/// parent. Joining a PID namespace by path sets the caller's namespace for children (setns(2) cannot move the
/// caller itself), which is harmless for a supervisor whose only child is the container.
pub fn create(spec: &Spec, bundle: &Path, opts: &CreateOptions) -> Result<Created, RuntimeError> {
    create_then(spec, bundle, opts, None)
}

/// [`create`], running `meanwhile` once the init has been cloned and told to set itself up, and before
/// it is READY: the caller's own work (the engine records the container) overlaps the init's, on another
/// core, and the caller stays single-threaded for the clone. When `meanwhile` answers false, the init is
/// killed and reaped, its cgroup removed, and the error is [`RuntimeError::Abandoned`].
pub fn create_then(
    spec: &Spec,
    bundle: &Path,
    opts: &CreateOptions,
    meanwhile: Option<&mut dyn FnMut() -> bool>,
) -> Result<Created, RuntimeError> {
    let bundle = bundle
        .canonicalize()
        .map_err(|source| RuntimeError::Bundle {
            path: bundle.to_owned(),
            source,
        })?;
    check_oci_version(spec.version())?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| RuntimeError::InvalidSpec("no root".into()))?;
    let root = bundle.join(root.path());
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| RuntimeError::InvalidSpec("no process".into()))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(RuntimeError::InvalidSpec(
            "no command (process.args)".into(),
        ));
    }
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| RuntimeError::InvalidSpec("no linux section".into()))?;

    let mut flags = CloneFlags::empty();
    let mut join = Vec::new();
    let mut new_cgroup_ns = false;
    let mut new_mount = false;
    let mut own_uts = false;
    let mut new_user = false;
    for ns in linux.namespaces().iter().flatten() {
        let flag = CloneFlags::from_bits_retain(ns.typ() as i32);
        match (ns.typ(), ns.path()) {
            (LinuxNamespaceType::Time, _) => {
                return Err(RuntimeError::Unsupported(format!("{} namespace", ns.typ())))
            }
            (LinuxNamespaceType::User, None) => {
                new_user = true;
                flags |= flag;
            }
            // Joined before any other: the namespaces joined after it are then entered with the
            // capabilities it gives.
            (LinuxNamespaceType::User, Some(path)) => {
                join.insert(0, (flag, open_namespace(path)?));
            }
            // The container's mounts are made in the joined namespace (see `shared_mounts`).
            (LinuxNamespaceType::Mount, Some(path)) => {
                join.push((flag, open_namespace(path)?));
            }
            (LinuxNamespaceType::Mount, None) => {
                new_mount = true;
                flags |= flag;
            }
            // Created after the parent has put the child in its cgroup, so the namespace is rooted there.
            (LinuxNamespaceType::Cgroup, None) => new_cgroup_ns = true,
            (LinuxNamespaceType::Uts, None) => {
                own_uts = true;
                flags |= flag;
            }
            // A UTS namespace given by path is the container's too: its hostname is set there, as runc
            // does (the spec forbids a hostname only with the caller's own).
            (LinuxNamespaceType::Uts, Some(path)) => {
                own_uts = true;
                join.push((flag, open_namespace(path)?));
            }
            (_, None) => flags |= flag,
            (kind, Some(path)) => {
                let fd = open_namespace(path)?;
                if kind == LinuxNamespaceType::Pid {
                    // setns(CLONE_NEWPID) only applies to children: do it here so the child is born there.
                    nix::sched::setns(&fd, flag).map_err(|source| RuntimeError::OpenNamespace {
                        path: path.clone(),
                        source,
                    })?;
                } else {
                    join.push((flag, fd));
                }
            }
        }
    }
    if !new_mount {
        check_shared_mount_ns(linux, opts, new_user)?;
    }
    if spec.hostname().is_some() && !own_uts {
        return Err(RuntimeError::InvalidSpec(
            "a hostname needs a uts namespace of the container's own".into(),
        ));
    }
    let id_maps = if new_user {
        Some(id_maps(linux)?)
    } else {
        None
    };
    // A new user namespace would show the image's files (the host's root's) as nobody's: its layers are
    // idmapped onto the namespace's IDs. A root that is a plain directory is bound as it is (as runc does:
    // its owner is the caller's business).
    let idmapped_root = match (&id_maps, &opts.overlay) {
        (Some(maps), Some(overlay)) => {
            let userns = idmap::userns(maps)?;
            Some(idmap::overlay(overlay, userns.as_fd(), false)?)
        }
        (Some(maps), None) if opts.idmap_root => {
            let userns = idmap::userns(maps)?;
            Some(idmap::tree(&root, userns.as_fd())?)
        }
        _ => None,
    };
    let mount_template = match &opts.mount_template {
        // Shared with the template's mounts, the container's would never reach the caller's.
        Some(_)
            if linux
                .rootfs_propagation()
                .as_deref()
                .is_some_and(|p| p.contains("shared")) =>
        {
            return Err(RuntimeError::Unsupported(
                "shared root propagation with a mount template".into(),
            ))
        }
        Some(path) => {
            // The child copies the template instead of the caller's namespace (init::body).
            flags.remove(CloneFlags::CLONE_NEWNS);
            Some(open_namespace(path)?)
        }
        None => None,
    };
    let seccomp = linux.seccomp().as_ref().map(seccomp::compile).transpose()?;
    let start_gate = match &opts.start_fifo {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|source| RuntimeError::Bundle {
                    path: path.clone(),
                    source,
                })?,
        ),
        None => None,
    };
    let gated = start_gate.is_some();
    let resources = linux.resources().as_ref().map(|res| {
        cgroup::with_default_device_rules(res, linux.devices().as_deref().unwrap_or_default())
    });
    let host_is_cgroup2 = cgroup::is_cgroup2(&opts.cgroup_root);
    // With systemd's driver the cgroup is made once the init exists: systemd takes a PID into the scope.
    let cgroup = match (linux.cgroups_path(), &opts.systemd_scope) {
        (Some(path), None) => Some(Cgroup::create(&opts.cgroup_root, path, resources.as_ref())?),
        _ => None,
    };
    let systemd = std::cell::RefCell::new(None);
    let scope_cgroup = std::cell::RefCell::new(None);
    // The bus connection is made only here, after the clone: zbus runs threads of its own, and a child
    // cloned from a process with other threads may find a lock one of them held (the allocator's) locked
    // forever. The init waits for its go meanwhile.
    let join_scope = |pid: Pid| -> Result<(), RuntimeError> {
        let Some(scope) = &opts.systemd_scope else {
            return Ok(());
        };
        let sd = cgroup::systemd::Systemd::connect()?;
        let started = sd.start_scope(
            scope,
            pid.as_raw() as u32,
            resources.as_ref(),
            host_is_cgroup2,
        );
        *systemd.borrow_mut() = Some(sd);
        started?;
        let cg = Cgroup::create(&opts.cgroup_root, &scope.cgroup, resources.as_ref())?;
        let added = cg.add(pid);
        *scope_cgroup.borrow_mut() = Some(cg);
        Ok(added?)
    };
    let target = if opts.root_in_place && opts.overlay.is_none() {
        root.clone()
    } else {
        bundle.clone()
    };
    // On cgroup v2 the init is born in its cgroup (see `minotaur_sys::clone3_into`): moving it there after,
    // by itself or by its parent, would wait for an RCU grace period (the thread-group lock). On v1 it moves
    // itself through `tasks` first thing, which needs no such lock, or, in a new user namespace, its parent
    // moves it.
    let born_in = cgroup.as_ref().and_then(|cg| {
        Some(crate::spawn::BornIn {
            cgroup: cg,
            directory: cg.v2_directory()?,
        })
    });
    let plan = Plan {
        spec,
        bundle,
        target,
        root,
        join,
        new_cgroup_ns,
        own_uts,
        new_user,
        seccomp,
        host_is_cgroup2,
        stdio: opts.stdio,
        init: opts.init,
        hide: &opts.hide,
        mount_template,
        overlay: opts.overlay.as_ref(),
        idmapped_root,
        start_gate,
        preserve_fds: opts.preserve_fds,
        hook_state: opts.hook_state.as_ref(),
        own_mount_ns: new_mount,
        pause_before_pivot: opts.before_pivot.is_some(),
        shared_root: crate::plan::SharedRootUndo::default(),
        cgroup: cgroup.as_ref().filter(|_| !new_user && born_in.is_none()),
    };
    let parent_adds = cgroup.as_ref().filter(|_| new_user && born_in.is_none());
    let add = |pid: Pid| -> Result<(), RuntimeError> {
        match parent_adds {
            Some(cg) => Ok(cg.add(pid)?),
            None => Ok(()),
        }
    };
    let parent_join: Option<crate::spawn::ParentJoin<'_>> = if opts.systemd_scope.is_some() {
        Some(&join_scope)
    } else if parent_adds.is_some() {
        Some(&add)
    } else {
        None
    };
    let result = spawn(
        plan,
        flags,
        parent_join,
        id_maps.as_ref(),
        opts.before_pivot,
        born_in,
        meanwhile,
    );
    let cgroup = cgroup.or_else(|| scope_cgroup.take());
    match result {
        Ok(s) => Ok(Created {
            pid: s.pid,
            pidfd: s.pidfd,
            cgroup,
            status: s.status,
            go: s.go,
            console: s.console,
            gated,
            shared_root: s.shared_root,
        }),
        Err(e) => {
            // The init is dead: systemd stops an empty scope by itself, but not before it notices.
            if let (Some(sd), Some(scope)) = (systemd.take(), &opts.systemd_scope) {
                let _ = sd.stop(&scope.unit);
            }
            if let Some(cg) = cgroup {
                let _ = cg.remove();
            }
            Err(e)
        }
    }
}

/// What a container without a mount namespace of its own cannot have. As runc: masked and read-only
/// paths (they would restrict the namespace's other users too). The engine's own ways of making a root
/// (an overlay, idmapped layers, a mount template) are made for a private namespace. A mount namespace
/// joined with a new user namespace would have to be joined by the caller around clone3, which would move
/// the caller's root and working directory.
fn check_shared_mount_ns(
    linux: &oci_spec::runtime::Linux,
    opts: &CreateOptions,
    new_user: bool,
) -> Result<(), RuntimeError> {
    let refuse = |what: &str| {
        Err(RuntimeError::Unsupported(format!(
            "{what} without a mount namespace of the container's own"
        )))
    };
    if linux.masked_paths().as_ref().is_some_and(|p| !p.is_empty())
        || linux
            .readonly_paths()
            .as_ref()
            .is_some_and(|p| !p.is_empty())
    {
        return refuse("masked or read-only paths (linux.maskedPaths, linux.readonlyPaths)");
    }
    if new_user {
        return refuse("a new user namespace");
    }
    if opts.overlay.is_some() || opts.idmap_root || opts.mount_template.is_some() {
        return refuse("an overlay, idmapped or templated root");
    }
    Ok(())
}

/// Refuses a spec whose `ociVersion` is not a version of the runtime spec this runtime implements (1.x.y,
/// SemVer): the spec makes an unsupported value an error, not something to guess at.
fn check_oci_version(version: &str) -> Result<(), RuntimeError> {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if numeric && parts[0] == "1" {
        Ok(())
    } else {
        Err(RuntimeError::Unsupported(format!(
            "ociVersion {version:?} (this runtime implements 1.x.y)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::check_oci_version;

    /// The conformance suite's config with `ociVersion: "invalid"` was run instead of refused.
    #[test]
    fn oci_versions_other_than_1_x_y_are_refused() {
        for ok in ["1.0.0", "1.0.2-dev", "1.1.0", "1.2.1+build.5"] {
            assert!(check_oci_version(ok).is_ok(), "{ok}");
        }
        for bad in ["invalid", "", "2.0.0", "1.0", "1.a.0", "v1.0.0"] {
            assert!(check_oci_version(bad).is_err(), "{bad}");
        }
    }
}
