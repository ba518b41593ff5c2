//! What the server serves: its listeners, one per network, with their containers' records, and the
//! upstreams it forwards other names to.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

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

/// A container's record on one network, as kept in its file under `DIR/records` (see [`write_records`](crate::write_records)).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Entry {
    /// The network's name: the entry goes into the zone of the listener with this name.
    pub network: String,
    #[serde(flatten)]
    pub record: Record,
}
