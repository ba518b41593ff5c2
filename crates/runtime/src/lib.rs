//! minotaur's container runtime: it turns an OCI runtime spec ([`oci_spec::runtime::Spec`]) into a running
//! process, the container's PID 1.
//!
//! It owns the sequence that makes a container out of a process: namespaces (new, or joined by path), the root
//! filesystem (`pivot_root` into a bind of the spec's root, private mount propagation), the spec's mounts, a
//! minimal `/dev`, masked and read-only paths, hostname, rlimits, the user, capabilities, the seccomp filter,
//! closing inherited descriptors, and `execve`; the cgroup of the container ([`cgroup`]); and Docker's defaults
//! for all of these ([`defaults`]). It does not own names, images, networks or the state store: the engine
//! above it decides what the spec says, and is the parent (the supervisor) of the process made here.
//!
//! The life of a container here has two steps. [`create`] forks the init process, which sets everything up
//! and then waits; at that point every namespace exists, so the engine can configure the network namespace
//! (through `/proc/PID/ns/net`) before [`Created::start`] lets the init process drop its privileges and exec
//! the command. Errors in the child, at either step, come back to the parent over a pipe with their errno.
//! [`exec()`] starts another process in a running container, through the same last steps.
#![forbid(unsafe_code)]

pub mod cgroup;
pub mod console;
mod create;
pub mod defaults;
pub mod detached;
mod exec;
pub mod hooks;
pub mod idmap;
mod init;
pub mod mount_template;
pub mod mounts;
mod plan;
pub mod reaper;
pub mod rootfs;
pub mod seccomp;
pub mod shared_mounts;
mod spawn;
pub mod state;
mod status;
pub mod usage;

use std::path::PathBuf;

use nix::errno::Errno;
use nix::unistd::Pid;

pub use cgroup::Cgroup;
pub use create::{create, CreateOptions, Created, Started};
pub use exec::{exec, Exec, ExecOptions};
pub use plan::BeforePivot;
pub(crate) use plan::Plan;
pub use rootfs::Overlay;
pub(crate) use status::{
    await_exec, await_ready, pipe, Failure, FAILED, GO, MOUNTED, READY, SHARED_ROOT,
};

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
    Idmap(#[from] idmap::IdmapError),
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
