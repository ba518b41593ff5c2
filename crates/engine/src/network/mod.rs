//! Container networks: what a network is (stored in the state store's `networks` table), how a container
//! joins one (its endpoint, in `endpoints`), and the kernel work behind both, done in-process: the bridge,
//! veth and addresses through route netlink (`minotaur-net`), NAT, isolation and published ports in
//! minotaur's own nftables table (`minotaur-firewall`), names through the embedded resolver (`minotaur-dns`).
//!
//! A container's network namespace is made at `create` and joined to its networks there, before anything
//! runs in it; it lives until `rm`. The veth's container end is created directly inside that namespace and
//! its host end directly on the bridge (moving a veth costs ~25 ms). Removing the namespace lets the kernel
//! reap the veth. Firewall work per container is a few map elements, whatever the number of containers.
//!
//! | module | owns |
//! |---|---|
//! | [`record`] | the network and endpoint records, reading them back, `network inspect` |
//! | [`networks`] | `network create/ls/rm/prune`, the default network, bridges and their firewall elements |
//! | [`attach`] | a container's endpoints: addresses, veth, routes; `network connect/disconnect` |
//! | [`ports`] | published ports: their records, firewall rules, the connect4 redirect; `network reload` |
//! | [`dns`] | the resolver's records and telling the resolver |
//! | [`netns`] | containers' `ip netns` names |
//! | [`restore`] | a container's namespace and endpoints made again from their records, after a reboot |
//! | [`services`] | Kubernetes Services' cluster IPs: their names, and their ports' ready endpoints in the firewall |
//!
//! Each is a set of functions over the engine's [`Context`](crate::context::Context).

pub mod attach;
pub mod dns;
pub mod netns;
pub mod networks;
pub mod ports;
pub mod record;
pub mod restore;
pub mod services;

pub use crate::error::network::NetworkError;
pub use attach::{attachments, connect, disconnect};
/// Parses a MAC address as `--mac-address` takes it.
pub use minotaur_net::pool::parse_mac;
pub use networks::{create, default_network, find, list, prune, remove, NetworkCreate};
pub use ports::{all_published, published, reload, Published};
pub use record::{
    is_bridge_mode, Attachment, Endpoint, Network, Subnet, BUILTIN, DEFAULT_BRIDGE, DEFAULT_NETWORK,
};
