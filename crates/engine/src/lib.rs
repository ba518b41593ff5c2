//! minotaur's container model.
//!
//! This crate owns what a container is to a user: its ID and name, its configuration and state, its lifecycle
//! (create, start, stop, kill, remove, wait), the supervisor process that is the parent of its PID 1, its logs,
//! and how it is shown (`inspect` JSON and Go templates). It composes the layers below — the state store, the
//! runtime that makes the process, the image store, and later the network — and owns none of their mechanics:
//! it never calls a namespace or mount system call itself.
//!
//! There is no engine struct: [`context::Context`] holds what every capability shares (the paths, the cgroup
//! root, the state store), and each capability (`create`, `start`, `stop`, `remove`, `exec`, `network`, ...) is
//! a module of functions over it. See docs/ARCHITECTURE.md for the modules and what each owns.
#![forbid(unsafe_code)]

pub mod attach;
pub mod boot;
pub mod capture;
pub mod cni;
pub mod container;
pub mod context;
pub mod cp;
pub mod crash;
pub mod create;
pub mod debug;
pub mod diff;
pub mod docker_types;
pub mod error;
pub mod etc;
pub mod events;
pub mod exec;
pub mod filters;
pub mod gofmt;
pub mod health;
pub mod healthcheck;
pub mod human;
pub mod ids;
pub mod image;
pub mod inspect;
pub mod logs;
pub mod names;
pub mod network;
pub mod parse;
pub mod paths;
pub mod portforward;
pub mod process;
mod relay;
pub mod remove;
pub mod rename;
pub mod restart;
mod runroot;
pub use runroot::ContainerLock;
pub mod spec;
pub mod start;
pub mod stats;
pub mod stop;
pub mod store;
pub mod supervisor;
pub mod system;
pub mod template;
pub mod topology;
mod tree;
pub mod user;
pub mod userns;
pub mod volume;

pub use minotaur_ns::error_chain;
pub use minotaur_runtime::cgroup::v2_root as cgroup2_root;
