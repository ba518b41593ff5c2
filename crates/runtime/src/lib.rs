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

pub mod capabilities;
pub mod cgroup;
pub mod console;
mod create;
pub mod defaults;
pub mod detached;
mod error;
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

pub use cgroup::Cgroup;
pub use create::{create, create_then, CreateOptions, Created, Started};
pub use error::{exec_exit_code, IdmapError, RuntimeError};
pub use exec::{exec, Exec, ExecOptions};
pub use plan::BeforePivot;
pub use rootfs::Overlay;
