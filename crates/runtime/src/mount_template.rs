//! A mount namespace for containers' mount namespaces to be copied from, instead of the caller's.
//!
//! A new mount namespace starts as a copy of every mount of the one it is made from, and a container's init
//! then detaches them all again when it leaves the old root behind `pivot_root`. An engine keeps one mount
//! per container on the host (its network namespace file), so both steps grow with the number of
//! containers: at a thousand, about 2.5 ms of every start. A template is a mount namespace that has the
//! host's mounts without those: it is made once, as a copy of the host's whose mounts are all slaves of the
//! host's, so that what the host mounts or unmounts later reaches it, and with the directories of namespace
//! files (`leave_out`) detached, so that nothing mounted there does.
//!
//! Propagation only reaches the template from shared mounts; [`make`] refuses unless the caller's `/` is
//! shared (as systemd makes it), because a template of a private host would keep a stale view of it.

use std::fs::{self, OpenOptions};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{sched_getaffinity, sched_setaffinity, unshare, CloneFlags, CpuSet};
use nix::unistd::Pid;

/// Why a template could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The caller's root mount does not propagate, so a template would not follow the host's mounts.
    #[error("the root mount is not shared: a mount template would not see later mounts")]
    RootNotShared,
    #[error("read the mount table")]
    MountTable(#[source] std::io::Error),
    #[error("create {0}")]
    CreateFile(PathBuf, #[source] std::io::Error),
    #[error("bind the mount template on {0}")]
    Bind(PathBuf, #[source] Errno),
    #[error("{what}")]
    Sys {
        what: String,
        #[source]
        source: Errno,
    },
}

/// True when the caller's root mount is shared (propagates what is mounted on it to its peers and slaves).
/// Reads only as far as the root's line, the first of the table.
pub fn root_is_shared() -> std::io::Result<bool> {
    let mut shared = false;
    minotaur_ns::mountinfo::scan("/proc/self/mountinfo", |m| {
        if m.mount_point == Path::new("/") {
            shared = m.is_shared();
            return false;
        }
        true
    })?;
    Ok(shared)
}

/// Makes a template at `file` (created, and then a bind mount of the template's namespace file): a copy of
/// the caller's mount namespace, slave to it, without the mounts at or below each of `leave_out` (directories
/// of bound namespace files; one that is not a mount point is skipped).
///
/// `file` must be on a mount that is not shared: the kernel refuses to propagate a bound mount namespace
/// file, and so refuses to bind one under a shared mount. On failure nothing is left behind.
pub fn make(file: &Path, leave_out: &[PathBuf]) -> Result<(), TemplateError> {
    if !root_is_shared().map_err(TemplateError::MountTable)? {
        return Err(TemplateError::RootNotShared);
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(file)
        .map_err(|e| TemplateError::CreateFile(file.to_owned(), e))?;
    // The kernel refuses to bind a mount namespace older than the caller's (that could make a loop), and
    // judges age by namespace ids, which each CPU hands out from a batch of its own: a namespace made on one
    // CPU may get a smaller id than one made earlier on another. The caller's was made on some CPU, whose
    // next id is larger: on EINVAL, try again on each CPU in turn.
    let bind = |ns: &OwnedFd| {
        let source = format!("/proc/self/fd/{}", ns.as_raw_fd());
        mount(
            Some(source.as_str()),
            file,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| TemplateError::Bind(file.to_owned(), e))
    };
    let cpus = sched_getaffinity(Pid::from_raw(0)).map_or(Vec::new(), |set| {
        (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect()
    });
    let mut bound = in_template(leave_out, None, bind);
    for &cpu in &cpus {
        if !matches!(bound, Err(TemplateError::Bind(_, Errno::EINVAL))) {
            break;
        }
        bound = in_template(leave_out, Some(cpu), bind);
    }
    if bound.is_err() {
        let _ = fs::remove_file(file);
    }
    bound
}

/// Makes the template's namespace on a thread of its own (so the caller's stays as it is), on `cpu` if given,
/// and binds it with `bind`. The open namespace file keeps the namespace alive after the thread ends.
fn in_template(
    leave_out: &[PathBuf],
    cpu: Option<usize>,
    bind: impl FnOnce(&OwnedFd) -> Result<(), TemplateError>,
) -> Result<(), TemplateError> {
    let leave_out = leave_out.to_vec();
    let ns = std::thread::Builder::new()
        .name("mount-template".into())
        .spawn(move || {
            if let Some(c) = cpu {
                let mut set = CpuSet::new();
                set.set(c)
                    .and_then(|()| sched_setaffinity(Pid::from_raw(0), &set))
                    .map_err(|source| TemplateError::Sys {
                        what: format!("move to CPU {c}"),
                        source,
                    })?;
            }
            make_namespace(&leave_out)
        })
        .map_err(|e| TemplateError::Sys {
            what: "start a thread".into(),
            source: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        })?
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
    bind(&ns)
}

/// In a new thread: the template's namespace, left out and all, as an open namespace file.
fn make_namespace(leave_out: &[PathBuf]) -> Result<OwnedFd, TemplateError> {
    let sys = |what: String| move |source| TemplateError::Sys { what, source };
    unshare(CloneFlags::CLONE_NEWNS).map_err(sys("new mount namespace".into()))?;
    // Slaves receive the host's mounts and unmounts and send nothing back: the detaching below must
    // not reach the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys("make / a slave".into()))?;
    // Binds may be stacked on a directory; EINVAL: no (more) mount there.
    for dir in leave_out {
        loop {
            match umount2(dir, MntFlags::MNT_DETACH) {
                Ok(()) => {}
                Err(Errno::EINVAL) | Err(Errno::ENOENT) => break,
                Err(e) => return Err(sys(format!("detach {}", dir.display()))(e)),
            }
        }
    }
    fs::File::open("/proc/thread-self/ns/mnt")
        .map(OwnedFd::from)
        .map_err(|e| TemplateError::Sys {
            what: "open the template's namespace".into(),
            source: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        })
}
