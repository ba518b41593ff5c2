//! Why the resolver could not be configured, started or run.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("cannot read {0}")]
    Read(PathBuf, #[source] io::Error),
    #[error("cannot parse {0}")]
    Parse(PathBuf, #[source] serde_json::Error),
    #[error("cannot write {0}")]
    Write(PathBuf, #[source] io::Error),
    #[error("cannot lock {0}")]
    Lock(PathBuf, #[source] io::Error),
    #[error("another DNS server holds {0}")]
    Busy(PathBuf),
    #[error("cannot start {0}")]
    Spawn(PathBuf, #[source] io::Error),
    #[error("the DNS server for {0} did not report ready within {1:?}")]
    NotReady(PathBuf, std::time::Duration),
    #[error("the DNS server for {0} failed: {1}")]
    Failed(PathBuf, String),
    #[error("cannot signal the DNS server (PID {0})")]
    Signal(i32, #[source] nix::errno::Errno),
    #[error("cannot use inherited descriptor {0}")]
    Inherited(i32, #[source] nix::errno::Errno),
    #[error("cannot set up the server's {0}")]
    Setup(&'static str, #[source] io::Error),
    #[error("cannot listen on {0}")]
    Bind(SocketAddr, #[source] io::Error),
}
