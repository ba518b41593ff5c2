//! What the network modules (`network`) fail on: bad network input, conflicts, and the kernel and
//! firewall errors below.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    #[error("network reference {0:?} is ambiguous: it is the prefix of several network IDs")]
    Ambiguous(String),
    #[error("invalid network name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, up to 64 characters")]
    BadName(String),
    #[error("network driver {0:?} is not supported (only bridge)")]
    Driver(String),
    #[error("invalid {what} {value:?}: {why}")]
    Invalid {
        what: &'static str,
        value: String,
        why: String,
    },
    #[error("subnet {subnet} overlaps subnet {other} of network {network}")]
    Overlap {
        subnet: IpNet,
        other: IpNet,
        network: String,
    },
    #[error("no free {0} subnet left in the address pools")]
    PoolExhausted(&'static str),
    #[error("{0} is a pre-defined network and cannot be removed")]
    Predefined(String),
    #[error(
        "network {network} is in use by container(s) {containers}: remove or disconnect them first"
    )]
    InUse { network: String, containers: String },
    #[error("address {address} is not in a subnet of network {network}")]
    AddressOutside { address: IpAddr, network: String },
    #[error("cannot publish ports: container {0} is only on internal networks (nothing could reach them)")]
    InternalPublish(String),
    #[error("container {container} is already connected to network {network}")]
    AlreadyConnected { container: String, network: String },
    #[error("container {container} is not connected to network {network}")]
    NotConnected { container: String, network: String },
    #[error("container {0} does not have a network namespace of its own (--network host or container:X)")]
    NoOwnNetwork(String),
    #[error("corrupt record of network {id}")]
    Corrupt {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Netlink(#[from] minotaur_net::NetlinkError),
    #[error(transparent)]
    Shaping(#[from] minotaur_net::TcError),
    #[error(transparent)]
    Sysctl(#[from] minotaur_net::sysctl::SysctlError),
    #[error(transparent)]
    Firewall(#[from] minotaur_firewall::FirewallError),
    #[error(transparent)]
    Redirect(#[from] minotaur_firewall::connect::RedirectError),
    #[error(transparent)]
    Dns(#[from] minotaur_dns::DnsError),
    #[error(transparent)]
    Netns(#[from] minotaur_net::netns::NetnsError),
}
