//! Doing something inside another network namespace without moving the caller: a short-lived thread joins
//! the namespace, does it and ends. Sockets it opens stay bound to that namespace, and files under
//! /proc/sys/net it opens belong to it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};

/// The namespace could not be entered.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("cannot open network namespace {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot enter network namespace {}", path.display())]
    Enter {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot start a thread for network namespace {}", path.display())]
    Thread {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Runs `f` on a thread of its own inside the network namespace of the nsfs file `netns`.
pub fn in_netns<T: Send, E: From<NetnsError> + Send>(
    netns: &Path,
    f: impl FnOnce() -> Result<T, E> + Send,
) -> Result<T, E> {
    let ns = File::open(netns).map_err(|source| NetnsError::Open {
        path: netns.to_owned(),
        source,
    })?;
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("in-netns".into())
            .spawn_scoped(s, || {
                setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| NetnsError::Enter {
                    path: netns.to_owned(),
                    source: e.into(),
                })?;
                f()
            })
            .map_err(|source| NetnsError::Thread {
                path: netns.to_owned(),
                source,
            })?
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}
