//! The embedded DNS resolver of minotaur's container networks.
//!
//! One server process per machine (per resolver directory) answers for every network that has containers: it
//! listens on each network's gateway address, port 53, UDP and TCP, and answers the names of that network's
//! containers (A, AAAA, and PTR for their addresses). Other names are forwarded to the host's upstream
//! servers, except on internal networks, where they do not exist. Like aardvark-dns, it is started on demand
//! when the first container joins a network ([`notify`]) and goes away by itself when the configuration names
//! no network any more; there is no daemon otherwise.
//!
//! This crate owns the resolver directory (layout below), the server ([`serve`]) and the protocol by which the
//! engine hands it a new configuration ([`write_config`], then [`notify`]). It does not know what a container
//! or a network is beyond the names and addresses in [`Config`]: the engine computes those. Messages are
//! parsed and built with `hickory-proto`; the server itself is plain blocking sockets and threads.
//!
//! ```text
//! DIR/config.json            the Config, replaced atomically (temp file + rename) by write_config
//! DIR/records/<container>.json  one container's Entries (its records on each network), by write_records
//! DIR/lock                   flock(2)ed exclusively by the running server, which writes its PID there
//! ```
//!
//! A listener's zone holds the records of its [`Listener`] plus the entries of every record file that name its
//! network. The server watches `records/` with inotify and applies a changed file by itself, so starting or
//! removing a container costs the engine one small file whatever the number of containers; SIGHUP is only
//! needed when the listeners change (the engine sends it every time anyway: it is cheap and it is what
//! starts a server that is not running). A server whose user has no inotify left (a container running as the
//! same user may have used up its instances) looks at `records/`'s modification time on every wake-up and at
//! least every 250 ms instead, and warns once: the names still resolve.
#![forbid(unsafe_code)]

mod answer;
mod control;
mod forward;
mod server;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use answer::{answer, Outcome, Zone, TTL};
pub use control::{
    adopt_fd, detach, ensure_running, notify, notify_nowait, read_config, read_records, serving,
    write_config, write_records, Starting, CONFIG_FILE, LOCK_FILE, RECORDS_DIR,
};
pub use forward::host_upstreams;
pub use server::{serve, serve_locked};

/// What the server serves.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// One per network that has containers.
    pub listeners: Vec<Listener>,
    /// Where names that are not a container's are forwarded (not from internal networks).
    pub upstreams: Vec<SocketAddr>,
}

/// One network's resolver.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Listener {
    /// The network's gateway address: the server listens on this address, UDP and TCP.
    pub address: IpAddr,
    /// The network's name (for log messages).
    pub network: String,
    /// An internal network: names that are not a container's get NXDOMAIN and are never forwarded.
    pub internal: bool,
    /// The containers of this network: a network sees only its own.
    pub records: Vec<Record>,
}

/// One container on one network.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Record {
    /// The container's name first (PTR answers name it), then its aliases.
    pub names: Vec<String>,
    pub addresses: Vec<IpAddr>,
    /// Who the container is (its ID), to tie its records on several networks together: a query from any of
    /// its addresses is also answered from its other networks' records.
    #[serde(default)]
    pub container: String,
}

/// A container's record on one network, as kept in its file under `DIR/records` (see [`write_records`]).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Entry {
    /// The network's name: the entry goes into the zone of the listener with this name.
    pub network: String,
    #[serde(flatten)]
    pub record: Record,
}

/// Why the resolver could not be configured, started or run.
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
