//! The container network data path: what `docker network create` and `docker run --network` need from the
//! kernel, done in-process over route netlink (no `ip` is spawned).
//!
//! This crate owns bridges, veth pairs, addresses, routes and link lookups in a given network namespace
//! ([`link`]), the choice of subnets, gateways, container addresses and MACs ([`pool`]), per-namespace
//! sysctls ([`sysctl`]) and traffic shaping (token buckets, ifb devices: [`tc`]); and reading a namespace
//! back for the debugging verbs: links with their veth peers and addresses, default routes ([`inspect`])
//! and listening sockets ([`sockets`]). It owns no state: which
//! networks exist, which addresses are taken and which container sits where belong to the engine, and
//! firewalling (NAT, isolation) belongs to the firewall crate. Messages are built and parsed by
//! `netlink-packet-route`; the socket is `netlink-sys`'s.
#![forbid(unsafe_code)]

pub mod inspect;
pub mod link;
pub mod netns;
pub mod pool;
pub mod sockets;
pub mod sysctl;
pub mod tc;

pub use inspect::{DefaultRoute, Link};
pub use link::{configure_peer, Netlink, NetlinkError, VethSpec};
pub use netns::{in_each_netns, in_netns};
pub use tc::{TcError, TokenBucket};
