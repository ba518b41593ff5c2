//! Running a container's checks (their model is [`crate::healthcheck`]): the monitor the supervisor runs
//! them with, and the checks that run no command in the container.
//!
//! There is no daemon: the supervisor of a running container is the only process that knows when a check
//! is due. Its poll loop ([`crate::relay`]) watches the [`monitor::Monitor`]'s timer, the running check's pidfd and
//! its output pipe beside the container's own streams (the [`monitor`] module), so a check never stops the logs from being copied.
//! A check is an `exec` into the container (the same process description `exec` builds: the container's
//! namespaces, cgroup, seccomp filter, user, environment and working directory), its standard output and
//! error captured together, its first 4,096 bytes kept. Each result is written into the container's
//! state record in one write transaction that changes nothing else of it.

pub(crate) mod grpc;
pub(crate) mod monitor;
pub mod netprobe;
mod step;
