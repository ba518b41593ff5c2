//! The root of a container that has no mount namespace of its own.
//!
//! A spec without a `mount` namespace (the container inherits the caller's) or with one given by path (it
//! joins it) makes the container's root and mounts in a namespace that other processes use too. The init
//! binds the root onto itself there, mounts the spec's mounts under it and enters it with chroot(2) (see
//! the init module). Nothing would take those mounts away once the container is gone, so the init tells
//! its caller the ID of the root's bind ([`crate::Created::shared_root`]), the caller records it
//! ([`SharedRoot`]), and `delete` detaches it with everything mounted on and below it ([`release`]). A
//! namespace joined by path is entered for that on a thread of its own, which unshares its filesystem
//! attributes first (setns(2) refuses a mount namespace to a thread that shares them).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use minotaur_ns::mountinfo::{self, MountInfo};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{umount2, MntFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

/// Errors of finding and detaching a shared root.
#[derive(Debug, thiserror::Error)]
pub enum SharedMountsError {
    #[error("read the mount table {path}")]
    MountTable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("open mount namespace {path}")]
    Namespace {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("enter mount namespace {path}")]
    Enter {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("detach the container's root at {path}")]
    Detach {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("the thread detaching the container's root panicked")]
    Thread,
}

/// The bind the init made of its root in a mount namespace not its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedRoot {
    pub mount_id: u64,
    /// Where it is mounted in that namespace: with the ID, what tells it from a later mount that got the
    /// same ID.
    pub mount_point: PathBuf,
    /// The namespace it is in when it is one the container joined by path; `None`: the caller's.
    pub namespace: Option<PathBuf>,
}

impl SharedRoot {
    fn is(&self, m: &MountInfo) -> bool {
        u64::from(m.mount_id) == self.mount_id && m.mount_point == self.mount_point
    }
}

/// Detaches the container's root and all mounted on and below it, when it is still there (a namespace
/// that is gone took it with it).
pub fn release(root: &SharedRoot) -> Result<(), SharedMountsError> {
    let Some(ns) = &root.namespace else {
        return detach_in(root, Path::new("/proc/self/mountinfo"));
    };
    let fd = match open(ns, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(source) => {
            return Err(SharedMountsError::Namespace {
                path: ns.clone(),
                source,
            })
        }
    };
    let root = root.clone();
    std::thread::spawn(move || in_namespace(&root, fd))
        .join()
        .map_err(|_| SharedMountsError::Thread)?
}

/// On a thread of its own: enters the namespace `fd` and detaches the root there. The thread ends with it.
fn in_namespace(root: &SharedRoot, fd: OwnedFd) -> Result<(), SharedMountsError> {
    let ns = root.namespace.clone().unwrap_or_default();
    unshare(CloneFlags::CLONE_FS).map_err(|source| SharedMountsError::Enter {
        path: ns.clone(),
        source,
    })?;
    setns(&fd, CloneFlags::CLONE_NEWNS)
        .map_err(|source| SharedMountsError::Enter { path: ns, source })?;
    detach_in(root, Path::new("/proc/thread-self/mountinfo"))
}

fn detach_in(root: &SharedRoot, table: &Path) -> Result<(), SharedMountsError> {
    // umount2(2) takes the topmost mount at a path: what is stacked on the root (a read-only root's
    // mount point shims) goes first, each time with all below it. Each round removes one mount at the
    // path, and there are not more than the table had.
    let mut rounds = read(table)?.len();
    while rounds > 0 && read(table)?.iter().any(|m| root.is(m)) {
        match umount2(&root.mount_point, MntFlags::MNT_DETACH) {
            Ok(()) => rounds -= 1,
            Err(Errno::EINVAL) | Err(Errno::ENOENT) => return Ok(()),
            Err(source) => {
                return Err(SharedMountsError::Detach {
                    path: root.mount_point.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<MountInfo>, SharedMountsError> {
    mountinfo::read(path).map_err(|source| SharedMountsError::MountTable {
        path: path.to_owned(),
        source,
    })
}
