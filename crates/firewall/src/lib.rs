//! minotaur's firewall: the nftables table `inet minotaur`, built as data and applied in-process through
//! libnftables, one atomic batch per operation.
//!
//! This crate owns that one table and nothing else: it never lists, flushes or changes another table, nor the
//! ruleset's global state. It does not own bridges, addresses, routes or sysctls (the network layer sets
//! `net.ipv4.ip_forward` and each bridge's `route_localnet`), nor what a network or a container is: callers
//! describe them as [`NetworkRules`] and [`PortRule`]s.
//!
//! # How rules are applied
//!
//! Each operation renders one nft script (see [`rules`]) and hands it to libnftables
//! ([`minotaur_sys::Nftables`], loaded at run time so no nftables development files are needed to build),
//! which sends it to the kernel as one netlink transaction: every change of the call takes effect, or none.
//! No `nft` process is started. The script is nft's text syntax rather than its JSON: it is what nftables
//! 1.0.6's parser handles best, its error messages quote the refused line, and it needs no schema crate.
//!
//! # What the rules do (IPv4 and IPv6 alike: the table is `inet`)
//!
//! The rules are fixed; networks and ports are elements of sets and maps, so adding or removing a container's
//! ports costs the same whatever the number of containers, and matching is a hash or interval lookup, not a
//! walk through one rule per container.
//!
//! | set / map | holds |
//! |---|---|
//! | `bridges` | every minotaur bridge |
//! | `internal` | the bridges of internal networks |
//! | `same_bridge` | `bridge . bridge` for every bridge |
//! | `subnets4`, `subnets6` | every network's subnets |
//! | `masquerade4`, `masquerade6` | the subnets of non-internal networks |
//! | `ports4`, `ports6` | `proto . host port : container address . port`, published on every local address |
//! | `ports4_host`, `ports6_host` | the same keyed by the host address too (`-p ADDR:PORT:PORT`) |
//! | `services4`, `services4_client` | `cluster IP . proto . port . slot : endpoint address . port` (see [`services`]) |
//! | `node_ports4`, `node_ports4_client` | `proto . node port . slot : endpoint address . port` |
//! | `services6`, `services6_client` | the same for IPv6 cluster IPs |
//! | `cluster_ips4`, `cluster_ips6` | the cluster IPs given out |
//!
//! - **Masquerade** (`postrouting`, srcnat): traffic from a non-internal subnet that leaves through an interface
//!   that is not a minotaur bridge is masqueraded. (Through another minotaur bridge it is dropped, below.)
//! - **Isolation** (`forward`): forwarding from one minotaur bridge to another is dropped, unless the flow was
//!   DNATed to a published port (hairpin through the host's address, which Docker also lets through).
//!   Traffic within one bridge is always accepted first: with `br_netfilter` loaded (Docker loads it, and
//!   its `bridge-nf-call-iptables` is on in every new namespace), frames bridged between two containers of
//!   one network pass the forward hook as `mino0 -> mino0`. With `br_netfilter`, hairpin to a container on
//!   the same bridge also needs hairpin mode on its bridge port (the network layer sets it, as Docker does).
//! - **Internal networks** (`forward`): nothing is forwarded into or out of their bridges, so their containers
//!   reach nothing beyond the host, and nothing reaches them but the host; host ↔ container traffic takes the
//!   input and output paths and keeps working.
//! - **Published ports** (kernel DNAT, no proxy): a connection to a local address (`fib daddr type local`)
//!   whose protocol and port are in a port map is DNATed to the container, first by the host-address maps,
//!   then by the any-address maps. This runs in `prerouting` (from outside, and from containers: hairpin) and
//!   in `output` (from the host itself, including `127.0.0.1`; `::1` is left alone, since IPv6 never routes
//!   it out). Flows from `127.0.0.0/8` out a minotaur bridge and flows DNATed from a minotaur subnet back out a
//!   minotaur bridge are masqueraded, so that the container's answer comes back through the host. IPv4 localhost DNAT
//!   also needs `route_localnet=1` on the bridge. Connections from the host's own processes to a published
//!   port on `127.0.0.0/8` can skip the DNAT altogether: see [`connect`].
//! - **Forwarding** (`forward`, policy accept): established and related flows are accepted, and so are
//!   DNATed flows towards a bridge. Our accept does not override a drop in another table: a host firewall
//!   that drops forwarded traffic must let minotaur's through itself.
//!
//! # Locking
//!
//! Every batch is atomic, but two processes that read then write (such as "is this port free?") are not
//! serialised here: port conflicts are caught by the kernel (`create element` fails on an existing key), so
//! two racing publishers of the same port cannot both succeed.
#![forbid(unsafe_code)]

mod batch;
pub mod connect;
mod error;
pub mod rules;
pub mod services;
mod table;

use std::net::IpAddr;

use minotaur_sys::Nftables;

pub use batch::Proto;
pub use error::{FirewallError, NftError};
pub use rules::{NetworkRules, PortRule};
pub use services::{ServiceRule, Slot};

/// minotaur's nftables table, reached through one libnftables context in the network namespace of the
/// thread that opened it.
pub struct Firewall {
    nft: Nftables,
}

impl Firewall {
    /// Loads libnftables and opens a context. Fails with "cannot load libnftables.so.1 (is nftables
    /// installed?)" on a machine without nftables.
    pub fn open() -> Result<Firewall, FirewallError> {
        Ok(Firewall {
            nft: Nftables::open()?,
        })
    }

    fn apply(
        &mut self,
        action: impl FnOnce() -> String,
        batch: &str,
    ) -> Result<String, FirewallError> {
        self.nft.run(batch).map_err(|e| FirewallError::Apply {
            action: action(),
            source: NftError::new(&e),
        })
    }

    /// Ensures the table with its fixed chains, sets and maps (idempotent: creating them again changes
    /// nothing, the fixed rules are not duplicated) and adds this network's elements. One batch.
    pub fn add_network(&mut self, n: &NetworkRules) -> Result<(), FirewallError> {
        let batch = rules::add_network(n)?;
        self.apply(
            || format!("add network on bridge {}", n.bridge),
            &batch.to_string(),
        )
        .map(drop)
    }

    /// Removes the network's elements (missing ones, or a missing table, are not an error). One batch.
    pub fn remove_network(&mut self, n: &NetworkRules) -> Result<(), FirewallError> {
        let batch = rules::remove_network(n)?;
        match self.apply(
            || format!("remove network on bridge {}", n.bridge),
            &batch.to_string(),
        ) {
            Ok(_) => Ok(()),
            Err(_) if !self.table_exists()? => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Publishes ports, one batch; a (proto, host_ip, host_port) already published gives
    /// [`FirewallError::PortInUse`] and nothing changes. The table must exist ([`Firewall::add_network`]).
    pub fn add_ports(&mut self, ports: &[PortRule]) -> Result<(), FirewallError> {
        let batch = rules::add_ports(ports)?;
        if batch.is_empty() {
            return Ok(());
        }
        let err = match self.apply(|| "publish ports".to_owned(), &batch.to_string()) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if !self.table_exists()? {
            return Err(FirewallError::TableMissing);
        }
        if matches!(&err, FirewallError::Apply { source, .. } if source.is_exists()) {
            // Which one? Only the requested keys are looked up, so this costs what the request does.
            for p in ports {
                if self.nft.run(&rules::port_lookup(p)).is_ok() {
                    return Err(p.in_use());
                }
            }
        }
        Err(err)
    }

    /// Unpublishes ports (missing ones, or a missing table, are not an error). One batch, unless one of the
    /// keys is published towards another container: then each port is removed on its own and that one is
    /// left alone.
    pub fn remove_ports(&mut self, ports: &[PortRule]) -> Result<(), FirewallError> {
        let batch = rules::remove_ports(ports)?;
        if batch.is_empty() {
            return Ok(());
        }
        let err = match self.apply(|| "unpublish ports".to_owned(), &batch.to_string()) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if !self.table_exists()? {
            return Ok(());
        }
        if !matches!(&err, FirewallError::Apply { source, .. } if source.is_exists()) {
            return Err(err);
        }
        for p in ports {
            let one = rules::remove_ports(std::slice::from_ref(p))?.to_string();
            match self.apply(|| format!("unpublish {p}"), &one) {
                Ok(_) => {}
                Err(FirewallError::Apply { source, .. }) if source.is_exists() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Replaces the whole table with exactly this state in one batch (`network reload`, after someone
    /// flushed the ruleset). Two ports with the same key give [`FirewallError::PortInUse`].
    pub fn sync(
        &mut self,
        networks: &[NetworkRules],
        ports: &[PortRule],
    ) -> Result<(), FirewallError> {
        let batch = rules::sync(networks, ports)?;
        self.apply(|| "replace the table".to_owned(), &batch.to_string())
            .map(drop)
    }

    /// The ports published in the live table, read back from its four port maps (what the kernel DNATs,
    /// whatever the store says). No table: none.
    pub fn published(&mut self) -> Result<Vec<PortRule>, FirewallError> {
        if !self.table_exists()? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (map, host_keyed) in rules::PORT_MAPS {
            let listing = self.apply(|| format!("list map {map}"), &rules::list_map(map))?;
            out.extend(rules::parse_port_map(&listing, host_keyed));
        }
        Ok(out)
    }

    /// The bridges in the live table's `bridges` set (one per network whose elements were added). No
    /// table: none.
    pub fn bridges(&mut self) -> Result<Vec<String>, FirewallError> {
        if !self.table_exists()? {
            return Ok(Vec::new());
        }
        let listing = self.apply(
            || "list set bridges".to_owned(),
            &rules::list_set("bridges"),
        )?;
        Ok(rules::parse_ifname_set(&listing))
    }

    /// Makes the ports of the cluster IPs `ips` and the node ports `node_ports` lead to exactly `rules`'
    /// endpoints: what the maps held for those addresses and ports is replaced, and an address with no
    /// rule (or rules with no endpoint) leaves them. One batch, after reading the maps back; a batch
    /// refused because another process changed the same cluster IP in between is made again from a fresh
    /// read (three tries).
    pub fn set_services(
        &mut self,
        ips: &[IpAddr],
        node_ports: &[(Proto, u16)],
        rules: &[ServiceRule],
    ) -> Result<(), FirewallError> {
        if !self.table_exists()? {
            return match rules.iter().all(|r| r.endpoints.is_empty()) {
                true => Ok(()),
                false => Err(FirewallError::TableMissing),
            };
        }
        let mut last = None;
        for _ in 0..3 {
            let live = self.service_slots()?;
            let live_ips = self.cluster_ips()?;
            let batch = services::replace(&live, &live_ips, ips, node_ports, rules)?;
            if batch.is_empty() {
                return Ok(());
            }
            match self.apply(
                || "set the endpoints of cluster IPs".to_owned(),
                &batch.to_string(),
            ) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("three tries failed"))
    }

    /// The cluster IPs' and node ports' slots in the live table, from its four maps (none without the
    /// table; none from a map that a table made before it lacks).
    pub fn service_slots(&mut self) -> Result<Vec<Slot>, FirewallError> {
        if !self.table_exists()? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (map, _) in services::MAPS {
            if let Ok(listing) = self.nft.run(&rules::list_map(map)) {
                out.extend(services::parse_map(map, &listing));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The cluster IPs given out in the live table (the `cluster_ips4` and `cluster_ips6` sets; none
    /// from a set the table lacks).
    pub fn cluster_ips(&mut self) -> Result<Vec<IpAddr>, FirewallError> {
        if !self.table_exists()? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for set in ["cluster_ips4", "cluster_ips6"] {
            if let Ok(listing) = self.nft.run(&rules::list_set(set)) {
                out.extend(services::parse_ips(&listing));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Whether the table exists (it may have been flushed away with the whole ruleset).
    pub fn table_exists(&mut self) -> Result<bool, FirewallError> {
        // Lists table names only, never their contents.
        let out = self.apply(|| "list tables".to_owned(), "list tables inet")?;
        let wanted = format!("table {}", rules::TABLE);
        Ok(out.lines().any(|l| l.trim() == wanted))
    }

    /// Removes the table with everything in it (when the last network goes away, or for tests). A missing
    /// table is not an error.
    pub fn remove_table(&mut self) -> Result<(), FirewallError> {
        self.apply(
            || "remove the table".to_owned(),
            &rules::remove_table().to_string(),
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_in_use_names_the_port() {
        let p = PortRule {
            proto: Proto::Udp,
            host_ip: Some("::1".parse().unwrap()),
            host_port: 53,
            container_ip: "fd00::2".parse().unwrap(),
            container_port: 53,
        };
        assert_eq!(
            p.in_use().to_string(),
            "udp port [::1]:53 is already published"
        );
        assert_eq!(p.to_string(), "udp [::1]:53 -> [fd00::2]:53");
    }
}
