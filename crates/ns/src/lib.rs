//! Linux namespaces, as minotaur sees them.
//!
//! This crate owns what a namespace is ([`NsKind`], [`NsId`]) and the operations on namespaces that the CLI's
//! namespace tools and, later, the container runtime share. It owns no state store, no container model and no
//! networking beyond creating and naming network namespaces: crates above it map names of containers to
//! namespaces and decide what to do with them. All system calls go through `nix` or `minotaur-sys`.
#![forbid(unsafe_code)]

pub mod discover;
pub mod enter;
mod kind;
pub mod mountinfo;
pub mod netns;
pub mod netnsid;
pub mod run;
pub mod target;
pub mod unshare;

pub use discover::{discover, discover_with, FdHolder, Namespace, NsfsMount};
pub use kind::{NsId, NsKind, ParseKindError};

/// An error and its causes on one line, `a: b: c`, as the CLI prints them (for log lines and reports).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}
