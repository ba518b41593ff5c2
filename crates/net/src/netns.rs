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

/// Runs `f` inside the network namespace of each nsfs file of `paths`, on `workers` threads of their own
/// that move from one namespace to the next (a thread per namespace would cost a thread start each: at a
/// thousand namespaces, most of the work). The threads end afterwards, so no caller's thread ever changes
/// namespace. Results come in the order of `paths`.
pub fn in_each_netns<T: Send, E: From<NetnsError> + Send>(
    paths: &[&Path],
    workers: usize,
    f: impl Fn(&Path) -> Result<T, E> + Sync,
) -> Vec<Result<T, E>> {
    let workers = workers.clamp(1, paths.len().max(1));
    let chunk = paths.len().div_ceil(workers).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                std::thread::Builder::new()
                    .name("in-netns".into())
                    .spawn_scoped(s, move || {
                        part.iter()
                            .map(|path| {
                                let ns = File::open(path).map_err(|source| NetnsError::Open {
                                    path: path.to_path_buf(),
                                    source,
                                })?;
                                setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| {
                                    NetnsError::Enter {
                                        path: path.to_path_buf(),
                                        source: e.into(),
                                    }
                                })?;
                                f(path)
                            })
                            .collect::<Vec<_>>()
                    })
            })
            .collect();
        let mut out = Vec::with_capacity(paths.len());
        for (h, part) in handles.into_iter().zip(paths.chunks(chunk)) {
            match h {
                Ok(h) => out.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
                Err(source) => out.extend(part.iter().map(|path| {
                    Err(NetnsError::Thread {
                        path: path.to_path_buf(),
                        source: std::io::Error::new(source.kind(), source.to_string()),
                    }
                    .into())
                })),
            }
        }
        out
    })
}
