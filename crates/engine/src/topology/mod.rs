//! What is connected to what, read from the kernel and the store together: the debugging verbs `whois`,
//! `graph` and `why`.
//!
//! Everything here reads; nothing changes a namespace, a link or a rule. The live state comes from the
//! kernel (every network namespace from `/proc` and nsfs mounts, links, addresses and routes over route
//! netlink, listening sockets from each namespace's `/proc/PID/net` tables, published ports from the port
//! maps of minotaur's own nftables table) and the model from the store (containers, networks, endpoints,
//! recorded ports). Nothing needs a minotaur process to be running, and a machine where minotaur never ran
//! is described as well: its namespaces are labelled by what holds them.
//!
//! | module | owns |
//! |---|---|
//! | [`model`] | [`Topology`]: the scan that joins live state and the store |
//! | [`owner`] | what a namespace belongs to: the host, a container, an `ip netns` name, docker, podman, a process |
//! | [`whois`] | `whois IP | IFACE | :PORT | PID | NS-INODE` |
//! | [`graph`] | `graph`: nodes and edges of the topology, for the CLI's renderers |
//! | [`why`] | `why SOURCE DEST[:PORT][/udp]`: reachability from the network model, confirmed by a probe |
//! | [`probe`] | a connection attempt from inside a network namespace: TCP connect, UDP datagram, ICMP echo |

pub mod graph;
pub mod model;
pub mod owner;
pub mod probe;
pub mod whois;
pub mod why;

use std::io;
use std::path::PathBuf;

pub use model::{ContainerView, NetNs, Topology};
pub use owner::Owner;

use crate::error::EngineError;

/// What the debugging verbs fail on.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Netlink(#[from] minotaur_net::NetlinkError),
    #[error(transparent)]
    Discover(#[from] minotaur_ns::discover::DiscoverError),
    #[error(transparent)]
    Sockets(#[from] minotaur_net::sockets::SocketsError),
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0:?} is not an address, an interface, :PORT, a PID or a namespace inode")]
    BadQuery(String),
    #[error("{0}")]
    NotFound(String),
    #[error("nothing listens on port {0}, and no container publishes it")]
    NothingListens(String),
    #[error("invalid {what} {value:?}: {why}")]
    BadEndpoint {
        what: &'static str,
        value: String,
        why: String,
    },
    #[error("cannot probe from {from}")]
    Probe {
        from: String,
        #[source]
        source: io::Error,
    },
}

impl From<minotaur_net::netns::NetnsError> for TopologyError {
    fn from(e: minotaur_net::netns::NetnsError) -> TopologyError {
        TopologyError::Netlink(e.into())
    }
}
