//! What the init process and the parent say over the status pipe: READY (with the terminal's master),
//! MOUNTED, the shared root's mount, or a [`Failure`]; and the GO the parent answers with.

use std::fs::File;
use std::io::Read;

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// What the init process tells the parent over the status pipe.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Failure {
    pub step: String,
    pub errno: i32,
    /// Set when execve itself failed; `step` is then the program.
    pub exec: bool,
}

pub(crate) const READY: u8 = b'R';
pub(crate) const FAILED: u8 = b'F';
pub(crate) const GO: u8 = b'G';
/// The init has made the container's mounts and waits for a GO before it enters its root
/// ([`CreateOptions::before_pivot`]).
pub(crate) const MOUNTED: u8 = b'M';
/// Without a mount namespace of its own, the init has bound the root in the namespace it shares; the
/// mount's ID follows (8 bytes, little-endian), then the length of its path (4 bytes) and the path.
pub(crate) const SHARED_ROOT: u8 = b'B';

pub(crate) fn failure_error(json: &[u8]) -> RuntimeError {
    match serde_json::from_slice::<Failure>(json) {
        Ok(f) if f.exec => RuntimeError::Exec {
            program: f.step,
            source: Errno::from_raw(f.errno),
        },
        Ok(f) => RuntimeError::Init {
            step: f.step,
            source: Errno::from_raw(f.errno),
        },
        Err(e) => RuntimeError::Sync(std::io::Error::other(e)),
    }
}

pub(crate) fn pipe() -> Result<(File, File), RuntimeError> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| RuntimeError::Sys {
        what: "pipe2",
        source,
    })?;
    Ok((File::from(r), File::from(w)))
}

/// Waits for the child's message `want` and reads the `len` bytes that follow it. On any other outcome
/// the child is reaped (killed first if it still runs) and the error returned.
pub(crate) fn await_message(
    status_rx: &mut File,
    pid: Pid,
    want: u8,
    len: usize,
) -> Result<Vec<u8>, RuntimeError> {
    let reap = |e: RuntimeError| {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(pid, None);
        e
    };
    let mut first = [0u8; 1];
    let n = status_rx
        .read(&mut first)
        .map_err(|e| reap(RuntimeError::Sync(e)))?;
    match (n, first[0]) {
        (1, got) if got == want => {
            let mut rest = vec![0u8; len];
            status_rx
                .read_exact(&mut rest)
                .map_err(|e| reap(RuntimeError::Sync(e)))?;
            Ok(rest)
        }
        (1, FAILED) => {
            let mut rest = Vec::new();
            let _ = status_rx.read_to_end(&mut rest);
            let _ = waitpid(pid, None);
            Err(failure_error(&rest))
        }
        _ => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let status = waitpid(pid, None)
                .map(|s| format!("{s:?}"))
                .unwrap_or_else(|e| e.to_string());
            Err(RuntimeError::InitDied { status })
        }
    }
}

/// Waits for the child's READY (and the number of its terminal's master, taken with pidfd_getfd(2)). On any
/// other outcome the child is reaped (killed first if it still runs) and the error returned.
pub(crate) fn await_ready(
    status_rx: &mut File,
    pid: Pid,
    pidfd: &OwnedFd,
) -> Result<Option<OwnedFd>, RuntimeError> {
    let fd = await_message(status_rx, pid, READY, 4)?;
    match i32::from_le_bytes(fd.try_into().unwrap_or([0xff; 4])) {
        -1 => Ok(None),
        fd => minotaur_sys::pidfd_getfd(pidfd, fd)
            .map(Some)
            .map_err(|source| {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                let _ = waitpid(pid, None);
                RuntimeError::Sys {
                    what: "pidfd_getfd (container terminal)",
                    source,
                }
            }),
    }
}

/// Waits for the child's execve: the status pipe is close-on-exec in the child, so EOF with nothing written
/// means it succeeded; otherwise the child's [`Failure`] (it then exits on its own).
pub(crate) fn await_exec(mut status: File) -> Result<(), RuntimeError> {
    let mut buf = Vec::new();
    status.read_to_end(&mut buf).map_err(RuntimeError::Sync)?;
    match buf.split_first() {
        None => Ok(()),
        Some((&FAILED, rest)) => Err(failure_error(rest)),
        Some(_) => Err(RuntimeError::Sync(std::io::Error::other(
            "unexpected message from the container process",
        ))),
    }
}

pub(crate) type Step<T> = Result<T, Failure>;

pub(crate) fn fail(step: impl Into<String>, errno: Errno) -> Failure {
    Failure {
        step: step.into(),
        errno: errno as i32,
        exec: false,
    }
}

pub(crate) trait At<T> {
    fn at(self, step: impl FnOnce() -> String) -> Step<T>;
}

impl<T> At<T> for Result<T, Errno> {
    fn at(self, step: impl FnOnce() -> String) -> Step<T> {
        self.map_err(|e| fail(step(), e))
    }
}

impl<T> At<T> for std::io::Result<T> {
    fn at(self, step: impl FnOnce() -> String) -> Step<T> {
        self.map_err(|e| {
            let errno = e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO);
            fail(step(), errno)
        })
    }
}
