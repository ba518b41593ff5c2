//! The clone3 of a container's init: its new namespaces in one call, the ID maps of a new user namespace
//! written from outside, and the cgroup join of a child that cannot join on its own.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use minotaur_sys::Clone3Result;
use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::error::RuntimeError;
use crate::idmap::{host_root, write_id_maps};
use crate::init;
use crate::plan::{BeforePivot, Plan};
use crate::status::{await_message, await_ready, pipe, GO, MOUNTED, SHARED_ROOT};

/// The name of a namespace's file in `/proc/PID/ns`.
pub(crate) fn ns_file(flag: CloneFlags) -> &'static str {
    match flag {
        CloneFlags::CLONE_NEWNET => "net",
        CloneFlags::CLONE_NEWIPC => "ipc",
        CloneFlags::CLONE_NEWUTS => "uts",
        CloneFlags::CLONE_NEWCGROUP => "cgroup",
        CloneFlags::CLONE_NEWPID => "pid_for_children",
        CloneFlags::CLONE_NEWUSER => "user",
        _ => "mnt",
    }
}

/// What the parent does for the child's cgroup between the clone and the go, when the child does not join
/// its cgroup itself: with a new user namespace the child could not ([`crate::Cgroup::add`]), and with the systemd
/// driver systemd is asked to take it into a scope first.
pub(crate) type ParentJoin<'a> = &'a dyn Fn(Pid) -> Result<(), RuntimeError>;

/// A cgroup v2 directory the child is cloned into (`CLONE_INTO_CGROUP`), and its cgroup, which the parent
/// moves the child into on a kernel without that flag. The plan then names no cgroup for the child to join.
pub(crate) struct BornIn<'a> {
    pub(crate) cgroup: &'a crate::cgroup::Cgroup,
    pub(crate) directory: OwnedFd,
}

/// Work of the caller's that [`crate::create_then`] runs while the child sets itself up: false gives the
/// start up (the child is killed and reaped).
pub(crate) type Meanwhile<'a> = &'a mut dyn FnMut() -> bool;

pub(crate) fn spawn(
    mut plan: Plan<'_>,
    flags: CloneFlags,
    parent_join: Option<ParentJoin<'_>>,
    id_maps: Option<&(String, String)>,
    before_pivot: Option<BeforePivot<'_>>,
    born_in: Option<BornIn<'_>>,
    meanwhile: Option<Meanwhile<'_>>,
) -> Result<Spawned, RuntimeError> {
    let own_mount_ns = plan.own_mount_ns;
    let (mut status_rx, status_tx) = pipe()?;
    let (go_rx, mut go_tx) = pipe()?;
    // A child in a new user namespace may not join namespaces the host's user namespace owns (setns(2)
    // needs CAP_SYS_ADMIN over their owner): it is born in them instead. This thread joins them for the
    // clone3 and then goes back to its own, as runc's nsexec joins them before it unshares the user
    // namespace.
    let mut inherit = Vec::new();
    if id_maps.is_some() {
        (inherit, plan.join) = std::mem::take(&mut plan.join)
            .into_iter()
            .partition(|(flag, _)| *flag != CloneFlags::CLONE_NEWUSER);
    }
    let sys = |what| move |source| RuntimeError::Sys { what, source };
    let mut back = Vec::with_capacity(inherit.len());
    for (flag, _) in &inherit {
        let own = PathBuf::from(format!("/proc/thread-self/ns/{}", ns_file(*flag)));
        back.push((*flag, open_namespace(&own)?));
    }
    let switch_back = |back: &[(CloneFlags, OwnedFd)]| {
        for (flag, fd) in back {
            nix::sched::setns(fd, *flag).map_err(sys("return to the caller's namespace"))?;
        }
        Ok::<(), RuntimeError>(())
    };
    for (flag, fd) in &inherit {
        if let Err(e) = nix::sched::setns(fd, *flag) {
            switch_back(&back)?;
            return Err(sys("join a namespace for the container's init")(e));
        }
    }
    // The thread that makes a user namespace owns it, and the kernel charges what the namespace's processes
    // hold (inotify instances and watches, user namespaces) to its owner in every namespace above it. Made
    // as the host user the container's root maps to, a container that exhausts those counts exhausts its
    // own range's user's, not root's, whose daemons share them.
    let owner = id_maps
        .and_then(|(uid_map, gid_map)| Some((host_root(uid_map)?, host_root(gid_map)?)))
        .filter(|_| nix::unistd::geteuid().is_root());
    let egid = nix::unistd::getegid().as_raw();
    let restore = |owner: Option<(u32, u32)>| match owner {
        Some(_) => minotaur_sys::set_thread_euid(0)
            .and_then(|()| minotaur_sys::set_thread_egid(egid))
            .map_err(sys("become root again after making the user namespace")),
        None => Ok(()),
    };
    if let Some((uid, gid)) = owner {
        let become_owner = minotaur_sys::set_thread_egid(gid)
            .and_then(|()| minotaur_sys::set_thread_euid(uid))
            .map_err(sys("become the owner of the container's user namespace"));
        if let Err(e) = become_owner {
            restore(owner)?;
            switch_back(&back)?;
            return Err(e);
        }
    }
    // On cgroup v2 the child is born in its cgroup. A kernel older than 5.7 refuses the flag: the child is
    // then cloned as before and its parent moves it before the go.
    let mut move_after = None;
    let clone = match &born_in {
        Some(BornIn { cgroup, directory }) => {
            match minotaur_sys::clone3_into(flags.bits() as u64, directory.as_fd()) {
                Err(nix::errno::Errno::EINVAL | nix::errno::Errno::E2BIG) => {
                    move_after = Some(*cgroup);
                    minotaur_sys::clone3(flags.bits() as u64)
                }
                r => r,
            }
        }
        None => minotaur_sys::clone3(flags.bits() as u64),
    }
    .map_err(sys("clone3"));
    let (pid, pidfd) = match clone {
        Ok(Clone3Result::Child) => {
            drop(status_rx);
            drop(go_tx);
            init::run(plan, status_tx, go_rx)
        }
        Ok(Clone3Result::Parent { child, pidfd }) => (child, pidfd),
        Err(e) => {
            restore(owner)?;
            switch_back(&back)?;
            return Err(e);
        }
    };
    if let Err(e) = restore(owner) {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(pid, None);
        return Err(e);
    }
    if let Err(e) = switch_back(&back) {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(pid, None);
        return Err(e);
    }
    drop(status_tx);
    drop(go_rx);
    let reap = |e: RuntimeError| {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(pid, None);
        e
    };
    if let Some(cg) = move_after {
        cg.add(pid).map_err(|e| reap(e.into()))?;
    }
    if let Some(join) = parent_join {
        join(pid).map_err(reap)?;
    }
    // Before GO: the child sets up nothing until its IDs mean something in its namespace.
    if let Some(maps) = id_maps {
        write_id_maps(pid, maps).map_err(reap)?;
    }
    if let Err(e) = go_tx.write_all(&[GO]) {
        // A child that failed before the go (joining its cgroup) has closed its end and said why on the
        // status pipe: that is the error to report, not the broken pipe.
        await_ready(&mut status_rx, pid, &pidfd)?;
        return Err(reap(RuntimeError::Sync(e)));
    }
    // The child sets itself up from here on; the caller's own work meanwhile runs beside it.
    if let Some(work) = meanwhile {
        if !work() {
            return Err(reap(RuntimeError::Abandoned));
        }
    }
    let shared_root = if own_mount_ns {
        None
    } else {
        let head = await_message(&mut status_rx, pid, SHARED_ROOT, 12)?;
        let (id, len) = head.split_at(8);
        let id = u64::from_le_bytes(id.try_into().unwrap_or_default());
        let len = u32::from_le_bytes(len.try_into().unwrap_or_default());
        let mut at = vec![0u8; len as usize];
        status_rx.read_exact(&mut at).map_err(|e| {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(pid, None);
            RuntimeError::Sync(e)
        })?;
        Some((id, PathBuf::from(std::ffi::OsString::from_vec(at))))
    };
    if let Some(BeforePivot(step)) = before_pivot {
        await_message(&mut status_rx, pid, MOUNTED, 0)?;
        step(pid).map_err(|e| reap(e.into()))?;
        go_tx
            .write_all(&[GO])
            .map_err(|e| reap(RuntimeError::Sync(e)))?;
    }
    let console = await_ready(&mut status_rx, pid, &pidfd)?;
    Ok(Spawned {
        pid,
        pidfd,
        status: status_rx,
        go: go_tx,
        console,
        shared_root,
    })
}

/// The init [`spawn`] made, once it is READY.
pub(crate) struct Spawned {
    pub(crate) pid: Pid,
    pub(crate) pidfd: OwnedFd,
    pub(crate) status: File,
    pub(crate) go: File,
    pub(crate) console: Option<OwnedFd>,
    pub(crate) shared_root: Option<(u64, PathBuf)>,
}

pub(crate) fn open_namespace(path: &Path) -> Result<OwnedFd, RuntimeError> {
    open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|source| {
        RuntimeError::OpenNamespace {
            path: path.to_owned(),
            source,
        }
    })
}
