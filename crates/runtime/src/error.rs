//! The runtime's errors, and the exit codes Docker gives for them.

use std::path::PathBuf;

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::{cgroup, hooks, seccomp};

/// Errors of creating and starting a container.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The spec asks for something this runtime does not do.
    #[error("unsupported spec: {0}")]
    Unsupported(String),
    /// The spec is incomplete or inconsistent.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// A namespace file to join could not be opened.
    #[error("cannot open namespace {path}")]
    OpenNamespace {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    /// The bundle directory is unusable.
    #[error("bundle {path}")]
    Bundle {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A system call of the parent side failed.
    #[error("{what}")]
    Sys {
        what: &'static str,
        #[source]
        source: Errno,
    },
    /// The new user namespace's ID mapping could not be written.
    #[error("write {path}")]
    IdMap {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The idmapped root of a container with a user namespace of its own could not be made.
    #[error(transparent)]
    Idmap(#[from] IdmapError),
    /// The container's cgroup could not be set up.
    #[error(transparent)]
    Cgroup(#[from] cgroup::CgroupError),
    /// systemd could not make the container's scope ([`CreateOptions::systemd_scope`]).
    #[error(transparent)]
    Systemd(#[from] cgroup::systemd::SystemdError),
    /// The seccomp profile could not be compiled.
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    /// A setup step inside the container's init process failed.
    #[error("container init: {step}")]
    Init {
        step: String,
        #[source]
        source: Errno,
    },
    /// The container's command could not be executed; [`RuntimeError::exit_code`] gives 127 or 126.
    #[error("exec {program}")]
    Exec {
        program: String,
        #[source]
        source: Errno,
    },
    /// The container's init process (behind the pidfd given to [`exec()`]) is not running.
    #[error("container init {pid} is not running")]
    NotRunning {
        pid: Pid,
        #[source]
        source: Errno,
    },
    /// A hook the caller runs before the container's root is entered ([`CreateOptions::before_pivot`])
    /// failed.
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    /// The init process died without saying why.
    #[error("container init exited unexpectedly ({status})")]
    InitDied { status: String },
    /// The pipe to the init process failed.
    #[error("sync pipe with container init")]
    Sync(#[source] std::io::Error),
    /// The caller's work beside the init's setup failed (see [`crate::create_then`]): the caller has the
    /// reason.
    #[error("the start was given up")]
    Abandoned,
}

impl RuntimeError {
    /// The exit code Docker gives for this error: 127 when the command is not found, 126 when it cannot be
    /// executed, 125 for every other (engine) error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::Exec { source, .. } => exec_exit_code(*source),
            _ => 125,
        }
    }
}

/// 127 for "not found" errors of execve, 126 for the others (as Docker and POSIX shells do).
pub fn exec_exit_code(errno: Errno) -> i32 {
    match errno {
        Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP | Errno::ENAMETOOLONG => 127,
        _ => 126,
    }
}

/// The idmapped overlay could not be made.
#[derive(Debug, thiserror::Error)]
pub enum IdmapError {
    #[error("cannot make a user namespace to idmap the root with ({step})")]
    Userns {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot idmap {path} ({step}){hint}")]
    Layer {
        path: std::path::PathBuf,
        step: &'static str,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot mount the idmapped overlay of {upper} ({step})")]
    Overlay {
        upper: std::path::PathBuf,
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
}
