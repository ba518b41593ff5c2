//! Cluster IPs: virtual addresses of Kubernetes Services whose ports lead, by kernel DNAT, to the ready
//! endpoints behind them (a pod's address and its `targetPort`); and node ports, ports on every address
//! of the host that lead to the same endpoints (`type: NodePort` and `LoadBalancer`).
//!
//! # The service range
//!
//! Cluster IPs come from `10.96.0.0/12`, Kubernetes' own default service range, so manifests that name a
//! `clusterIP` written for a cluster keep it. minotaur's networks never get a subnet there: their pools are
//! Docker's (`172.17.0.0/16` … `172.31.0.0/16`, then `192.168.0.0/16`), and the caller refuses a cluster IP
//! that a network made with `--subnet` covers. The rules match only the cluster IPs given out (the set
//! `cluster_ips4`), never the whole range, which a host's own network may use: traffic to one is DNATed
//! in `prerouting` (from containers) and `output` (from the host), and what no rule DNATed (a port with
//! no ready endpoint) is refused, in `forward` for a container's connection (so it never leaves for the
//! host's default route) and in the filter `output` hook for the host's own (a lookup in that one set,
//! which every packet the host sends passes).
//!
//! # Node ports
//!
//! A node port is looked up after the published ports (`-p`), in the same chain: on any local address,
//! from outside, from containers and from the host (`127.0.0.1` too, as a published port is). A published
//! port with the same number wins; the caller refuses to give out such a node port. A node port with no
//! ready endpoint is not DNATed, so the connection reaches whatever listens on the host, usually nothing.
//!
//! # One map per kind, fixed rules
//!
//! As with published ports, the rules are fixed and every cluster IP and node port is map elements. The
//! map's key has a slot, and each of a port's 16 slots holds one endpoint, given out in turn, so
//! connections spread over up to 16 endpoints (evenly when their number divides 16, within one slot's
//! share otherwise). The slot comes from one of two places:
//!
//! - By default, bits 1 to 4 of the connection's source port (`th sport & 0x1e`). Bit 0 is left out
//!   because Linux gives `connect()` even ports, stepping by two from a random start, so a client's
//!   successive connections walk the slots in turn. (A random slot, `numgen random mod 16`, needs a
//!   `typeof` map, and nftables 1.0.6 cannot add a rule again that looks one up once the map exists: every
//!   network added re-adds the fixed rules.)
//! - With `sessionAffinity: ClientIP`, the low four bits of the client's address (`ip saddr &
//!   0.0.0.15`, a slot written `0.0.0.N`): every connection of one client reaches the same endpoint for
//!   as long as the endpoints stay the same. (Kubernetes' affinity also expires after
//!   `timeoutSeconds`; this one lasts while the endpoint set does.)
//!
//! | map | key |
//! |---|---|
//! | `services4` | `cluster IP . proto . port . source port slot` |
//! | `services4_client` | `cluster IP . proto . port . source address slot` |
//! | `node_ports4` | `proto . node port . source port slot` |
//! | `node_ports4_client` | `proto . node port . source address slot` |
//!
//! Each holds `endpoint address . port`. A port with more than 16 ready endpoints sends to its first 16.
//! An endpoint set that changes (a pod turns ready or not) replaces that Service's elements in one batch.
//! Replies come back through conntrack; a connection from a pod to its own Service (hairpin) is
//! masqueraded by the rule that already masquerades DNATed flows back out a bridge.
//!
//! # IPv6
//!
//! An IPv6 cluster IP comes from `fd00:10:96::/112` (the IPv6 service range single-node Kubernetes
//! distributions such as kind use), outside minotaur's IPv6 pool (`fd6d:696e:6f74::/48`). It has maps of
//! its own, `services6` and `services6_client` (the slot of the latter from `ip6 saddr & ::f`), and the
//! set `cluster_ips6`, with the same rules in the same places. A cluster IP leads to endpoints of its own
//! family: a dual-stack Service is two cluster IPs. Node ports lead to IPv4 endpoints only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::batch::{Batch, Command, Element, Proto, Verb};
pub use crate::batch::{Front, ProtoKey, Slot};
use crate::error::FirewallError;
pub(crate) use crate::table::MAPS;

/// The service range (see the module documentation).
pub const SERVICE_RANGE4: &str = "10.96.0.0/12";
/// The IPv6 service range.
pub const SERVICE_RANGE6: &str = "fd00:10:96::/112";

/// Slots per port: the values of the rules' `th sport & 0x1e` (halved) or `ip saddr & 0.0.0.15`.
pub const SLOTS: u16 = 16;

/// The range node ports are given out from when a Service names none (Kubernetes' default).
pub const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

/// Whether `ip` is in the service range of its family.
pub fn in_range(ip: IpAddr) -> bool {
    range(ip.is_ipv4()).contains(&ip)
}

/// The service range of IPv4 (`true`) or IPv6.
pub fn range(v4: bool) -> ipnet::IpNet {
    let text = if v4 { SERVICE_RANGE4 } else { SERVICE_RANGE6 };
    text.parse().expect("the service ranges parse")
}

/// One port of a cluster IP, the node ports that lead where it does, and the ready endpoints (address,
/// target port) it leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRule {
    pub cluster_ip: IpAddr,
    pub proto: Proto,
    pub port: u16,
    /// Ports on every address of the host with the same endpoints (`nodePort`, and a `LoadBalancer`'s
    /// `port`).
    pub node_ports: Vec<u16>,
    /// `sessionAffinity: ClientIP`: the slot is taken from the client's address.
    pub client_affinity: bool,
    /// Of the cluster IP's family.
    pub endpoints: Vec<(IpAddr, u16)>,
}

/// The slots of `rules`: each port's endpoints, sorted, given out in turn over its [`SLOTS`] slots, at the
/// cluster IP and at each node port. A rule with no endpoint has none.
pub fn slots(rules: &[ServiceRule]) -> Vec<Slot> {
    let mut out = Vec::new();
    for r in rules {
        let mut endpoints = r.endpoints.clone();
        // A node port leads to IPv4 endpoints only (see the module documentation).
        let node_ports = if r.cluster_ip.is_ipv4() {
            &r.node_ports[..]
        } else {
            &[]
        };
        endpoints.retain(|(a, _)| a.is_ipv4() == r.cluster_ip.is_ipv4());
        endpoints.sort();
        endpoints.dedup();
        if endpoints.is_empty() {
            continue;
        }
        let fronts = std::iter::once((Front::ClusterIp(r.cluster_ip), r.port))
            .chain(node_ports.iter().map(|p| (Front::Node, *p)));
        for (front, port) in fronts {
            for slot in 0..SLOTS {
                let (to, to_port) = endpoints[usize::from(slot) % endpoints.len()];
                out.push(Slot {
                    front,
                    proto: r.proto.into(),
                    port,
                    by_client: r.client_affinity,
                    slot,
                    to,
                    to_port,
                });
            }
        }
    }
    out.sort();
    out
}

fn check(rules: &[ServiceRule]) -> Result<(), FirewallError> {
    let mut node_ports = Vec::new();
    for r in rules {
        let bad = |reason| FirewallError::InvalidServicePort {
            port: format!("{} {}:{}", r.proto, r.cluster_ip, r.port),
            reason,
        };
        if !in_range(r.cluster_ip) {
            return Err(bad("the cluster IP is outside the service range"));
        }
        if r.endpoints
            .iter()
            .any(|(a, _)| a.is_ipv4() != r.cluster_ip.is_ipv4())
        {
            return Err(bad("an endpoint is of another family than the cluster IP"));
        }
        if r.port == 0 || r.endpoints.iter().any(|(_, p)| *p == 0) || r.node_ports.contains(&0) {
            return Err(bad("port 0 cannot be a service port"));
        }
        for n in &r.node_ports {
            let key = (ProtoKey::from(r.proto), *n);
            if node_ports.contains(&key) {
                return Err(bad("its node port is another Service port's"));
            }
            node_ports.push(key);
        }
    }
    Ok(())
}

/// The batch that turns `live` (the maps as read) and `live_ips` (the `cluster_ips4` set as read) into
/// `rules` for the cluster IPs `ips` and the node ports `node_ports` (and those of `rules`): their slots
/// that must go are deleted, the new ones added; an address with a rule (even one with no endpoint) is
/// in the set, one without leaves it; other cluster IPs and node ports are left alone. Empty when
/// nothing changes.
pub fn replace(
    live: &[Slot],
    live_ips: &[IpAddr],
    ips: &[IpAddr],
    node_ports: &[(Proto, u16)],
    rules: &[ServiceRule],
) -> Result<Batch, FirewallError> {
    check(rules)?;
    let mut our_ips = ips.to_vec();
    our_ips.extend(rules.iter().map(|r| r.cluster_ip));
    let mut our_ports: Vec<(ProtoKey, u16)> =
        node_ports.iter().map(|(p, n)| ((*p).into(), *n)).collect();
    our_ports.extend(
        rules
            .iter()
            .flat_map(|r| r.node_ports.iter().map(|n| (r.proto.into(), *n))),
    );
    let wanted = slots(rules);
    let mut wanted_ips: Vec<IpAddr> = rules.iter().map(|r| r.cluster_ip).collect();
    wanted_ips.sort();
    wanted_ips.dedup();
    let ips_gone: Vec<IpAddr> = live_ips
        .iter()
        .filter(|ip| our_ips.contains(ip) && !wanted_ips.contains(ip))
        .copied()
        .collect();
    let ips_new: Vec<IpAddr> = wanted_ips
        .iter()
        .filter(|ip| !live_ips.contains(ip))
        .copied()
        .collect();
    let in_set = |ips: &[IpAddr], v4: bool| -> Vec<Element> {
        ips.iter()
            .filter(|ip| ip.is_ipv4() == v4)
            .map(|ip| Element::Addr(*ip))
            .collect()
    };
    // A slot's key with another endpoint is deleted and added again: `add` cannot change a value.
    let gone: Vec<&Slot> = live
        .iter()
        .filter(|s| slot_of(s, &our_ips, &our_ports) && !wanted.contains(s))
        .collect();
    let new: Vec<&Slot> = wanted.iter().filter(|s| !live.contains(s)).collect();
    let mut b = Batch::default();
    if gone.is_empty() && new.is_empty() && ips_gone.is_empty() && ips_new.is_empty() {
        return Ok(b);
    }
    let in_map = |slots: &[&Slot], map: &str| -> Vec<Element> {
        slots
            .iter()
            .filter(|s| s.map() == map)
            .map(|s| Element::Service((*s).clone()))
            .collect()
    };
    // The skeleton first: a table made before cluster IPs or node ports has no maps for them yet.
    b.commands.push(Command::Skeleton);
    for (map, _) in MAPS {
        b.push_elements(Verb::Delete, map, in_map(&gone, map));
    }
    for (set, v4) in [("cluster_ips4", true), ("cluster_ips6", false)] {
        b.push_elements(Verb::Delete, set, in_set(&ips_gone, v4));
        b.push_elements(Verb::Add, set, in_set(&ips_new, v4));
    }
    for (map, _) in MAPS {
        b.push_elements(Verb::Add, map, in_map(&new, map));
    }
    Ok(b)
}

/// The addresses in what `list set` printed for `cluster_ips4` or `cluster_ips6`.
pub fn parse_ips(listing: &str) -> Vec<IpAddr> {
    let Some(start) = listing.find("elements = {") else {
        return Vec::new();
    };
    let body = &listing[start + "elements = {".len()..];
    let mut out: Vec<IpAddr> = body
        .split('}')
        .next()
        .unwrap_or_default()
        .split(',')
        .filter_map(|e| e.trim().parse().ok())
        .collect();
    out.sort();
    out
}

/// The slots in what `list map` printed for `map` (one of [`MAPS`]); lines nft cannot have printed are
/// skipped.
pub fn parse_map(map: &str, listing: &str) -> Vec<Slot> {
    let Some(start) = listing.find("elements = {") else {
        return Vec::new();
    };
    let (cluster, by_client, v4) = match map {
        "services4" => (true, false, true),
        "services4_client" => (true, true, true),
        "services6" => (true, false, false),
        "services6_client" => (true, true, false),
        "node_ports4" => (false, false, true),
        "node_ports4_client" => (false, true, true),
        _ => return Vec::new(),
    };
    let body = &listing[start + "elements = {".len()..];
    let body = body.split('}').next().unwrap_or_default();
    let mut out: Vec<Slot> = body
        .split(',')
        .filter_map(|e| {
            let (key, value) = e.trim().split_once(" : ")?;
            let mut key: Vec<&str> = key.split(" . ").map(str::trim).collect();
            let front = if cluster {
                if key.len() != 4 {
                    return None;
                }
                Front::ClusterIp(key.remove(0).parse().ok()?)
            } else {
                Front::Node
            };
            let [proto, port, slot] = key.as_slice() else {
                return None;
            };
            let slot = match (by_client, v4) {
                (true, true) => u16::try_from(u32::from(slot.parse::<Ipv4Addr>().ok()?)).ok()?,
                (true, false) => u16::try_from(u128::from(slot.parse::<Ipv6Addr>().ok()?)).ok()?,
                (false, _) => slot.parse::<u16>().ok().filter(|s| s % 2 == 0)? / 2,
            };
            let (to, to_port) = value.trim().split_once(" . ")?;
            Some(Slot {
                front,
                proto: match *proto {
                    "tcp" => ProtoKey::Tcp,
                    "udp" => ProtoKey::Udp,
                    _ => return None,
                },
                port: port.parse().ok()?,
                by_client,
                slot,
                to: to.trim().parse().ok()?,
                to_port: to_port.trim().parse().ok()?,
            })
            .filter(|s| s.slot < SLOTS && s.to.is_ipv4() == v4)
        })
        .collect();
    out.sort();
    out
}

/// Whether `slot` belongs to `ips` or `node_ports`.
fn slot_of(slot: &Slot, ips: &[IpAddr], node_ports: &[(ProtoKey, u16)]) -> bool {
    match slot.front {
        Front::ClusterIp(ip) => ips.contains(&ip),
        Front::Node => node_ports.contains(&(slot.proto, slot.port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn rule(endpoints: &[(&str, u16)]) -> ServiceRule {
        ServiceRule {
            cluster_ip: ip("10.96.0.10"),
            proto: Proto::Tcp,
            port: 80,
            node_ports: Vec::new(),
            client_affinity: false,
            endpoints: endpoints.iter().map(|(a, p)| (ip(a), *p)).collect(),
        }
    }

    #[test]
    fn endpoints_are_given_out_in_turn_over_the_slots() {
        let s = slots(&[rule(&[("172.17.0.3", 8080), ("172.17.0.2", 8080)])]);
        assert_eq!(s.len(), 16);
        assert_eq!(
            s[0].to_string(),
            "10.96.0.10 . tcp . 80 . 0 : 172.17.0.2 . 8080"
        );
        assert_eq!(s[1].to, ip("172.17.0.3"));
        assert_eq!(
            s[15].to_string(),
            "10.96.0.10 . tcp . 80 . 30 : 172.17.0.3 . 8080",
            "keyed by the masked source port"
        );
        let to_a = s.iter().filter(|x| x.to == ip("172.17.0.2")).count();
        assert_eq!(to_a, 8, "evenly");
        assert!(slots(&[rule(&[])]).is_empty(), "no endpoint, no slot");
    }

    #[test]
    fn node_ports_and_client_affinity_have_maps_of_their_own() {
        let r = ServiceRule {
            node_ports: vec![30080, 80],
            client_affinity: true,
            ..rule(&[("172.17.0.2", 8080), ("172.17.0.3", 8080)])
        };
        let s = slots(&[r]);
        assert_eq!(s.len(), 48, "the cluster IP and two node ports");
        let maps: std::collections::BTreeSet<&str> = s.iter().map(Slot::map).collect();
        assert_eq!(
            maps.into_iter().collect::<Vec<_>>(),
            ["node_ports4_client", "services4_client"]
        );
        let texts: Vec<String> = s.iter().map(Slot::to_string).collect();
        assert!(texts.contains(&"10.96.0.10 . tcp . 80 . 0.0.0.15 : 172.17.0.3 . 8080".into()));
        assert!(texts.contains(&"tcp . 30080 . 0.0.0.1 : 172.17.0.3 . 8080".into()));
        assert!(texts.contains(&"tcp . 80 . 0.0.0.0 : 172.17.0.2 . 8080".into()));
        let b = replace(
            &[],
            &[],
            &[],
            &[],
            &[ServiceRule {
                client_affinity: false,
                node_ports: vec![30080],
                ..rule(&[("172.17.0.2", 8080)])
            }],
        )
        .unwrap()
        .to_string();
        assert!(
            b.contains(
                "add element inet minotaur node_ports4 { tcp . 30080 . 30 : 172.17.0.2 . 8080 }"
            ),
            "{b}"
        );
        // The Service gone: the caller names its node ports, whose slots go with the cluster IP's.
        let live = slots(&[ServiceRule {
            node_ports: vec![30080],
            ..rule(&[("172.17.0.2", 8080)])
        }]);
        let b = replace(
            &live,
            &[ip("10.96.0.10")],
            &[ip("10.96.0.10")],
            &[(Proto::Tcp, 30080)],
            &[],
        )
        .unwrap()
        .to_string();
        assert_eq!(
            b.matches("delete element inet minotaur node_ports4 ")
                .count(),
            16,
            "{b}"
        );
        // Another Service's node port is left alone.
        let b = replace(
            &live,
            &[ip("10.96.0.10")],
            &[ip("10.96.0.10")],
            &[(Proto::Udp, 30080)],
            &[],
        )
        .unwrap()
        .to_string();
        assert!(!b.contains("element inet minotaur node_ports4"), "{b}");
        let twice = ServiceRule {
            node_ports: vec![30080],
            ..rule(&[])
        };
        let e = replace(
            &[],
            &[],
            &[],
            &[],
            &[twice.clone(), ServiceRule { port: 81, ..twice }],
        );
        assert!(e.unwrap_err().to_string().contains("node port"));
    }

    #[test]
    fn ipv6_cluster_ips_have_maps_and_a_set_of_their_own() {
        let r = ServiceRule {
            cluster_ip: ip("fd00:10:96::a"),
            node_ports: vec![30080],
            client_affinity: true,
            endpoints: vec![(ip("fd6d:696e:6f74::2"), 8080)],
            ..rule(&[])
        };
        let s = slots(std::slice::from_ref(&r));
        assert_eq!(s.len(), 16, "no node port leads to IPv6 endpoints");
        assert_eq!(s[5].map(), "services6_client");
        assert_eq!(
            s[5].to_string(),
            "fd00:10:96::a . tcp . 80 . ::5 : fd6d:696e:6f74::2 . 8080"
        );
        let b = replace(&[], &[], &[], &[], std::slice::from_ref(&r))
            .unwrap()
            .to_string();
        assert!(
            b.contains("add element inet minotaur cluster_ips6 { fd00:10:96::a }"),
            "{b}"
        );
        assert!(!b.contains("element inet minotaur cluster_ips4"), "{b}");
        let listing = format!(
            "map services6_client {{\n\telements = {{ {} }}\n}}",
            s.iter()
                .map(Slot::to_string)
                .collect::<Vec<_>>()
                .join(",\n")
        );
        assert_eq!(parse_map("services6_client", &listing), s);
        let e = replace(
            &[],
            &[],
            &[],
            &[],
            &[ServiceRule {
                endpoints: vec![(ip("172.17.0.2"), 80)],
                ..r.clone()
            }],
        );
        assert!(e.unwrap_err().to_string().contains("another family"));
        let e = replace(
            &[],
            &[],
            &[],
            &[],
            &[ServiceRule {
                cluster_ip: ip("fd00:10:97::a"),
                endpoints: vec![],
                ..r
            }],
        );
        assert!(e.unwrap_err().to_string().contains("service range"));
        assert!(in_range(ip("fd00:10:96::ffff")) && !in_range(ip("fd6d:696e:6f74::1")));
    }

    #[test]
    fn a_change_replaces_only_that_cluster_ips_slots() {
        let before = slots(&[rule(&[("172.17.0.2", 8080)])]);
        let mut other = rule(&[("172.17.0.9", 53)]);
        other.cluster_ip = ip("10.96.0.11");
        let mut live = before.clone();
        live.extend(slots(&[other]));
        let b = replace(
            &live,
            &[ip("10.96.0.10"), ip("10.96.0.11")],
            &[],
            &[],
            &[rule(&[("172.17.0.2", 8080), ("172.17.0.3", 8080)])],
        )
        .unwrap();
        let text = b.to_string();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(" element ")).collect();
        // Slots 1, 3, … change endpoint: deleted and added; the even ones stay; 10.96.0.11 is untouched.
        assert_eq!(lines.len(), 16);
        assert!(lines.contains(
            &"delete element inet minotaur services4 { 10.96.0.10 . tcp . 80 . 2 : 172.17.0.2 . 8080 }"
        ));
        assert!(lines.contains(
            &"add element inet minotaur services4 { 10.96.0.10 . tcp . 80 . 2 : 172.17.0.3 . 8080 }"
        ));
        assert!(!text.contains("10.96.0.11"));
        // The last endpoint gone: every slot of the address goes, and nothing is added.
        // With the Service gone, the address leaves the set too.
        let live_ips = [ip("10.96.0.10"), ip("10.96.0.11")];
        let b = replace(&live, &live_ips, &[ip("10.96.0.10")], &[], &[])
            .unwrap()
            .to_string();
        assert_eq!(b.matches("delete element").count(), 17);
        assert!(b.contains("delete element inet minotaur cluster_ips4 { 10.96.0.10 }"));
        assert_eq!(b.matches("add element").count(), 0);
        // A Service whose pods are none ready: no slot, but its address stays in the set (refused).
        let b = replace(&live, &live_ips, &[], &[], &[rule(&[])])
            .unwrap()
            .to_string();
        assert_eq!(b.matches("delete element").count(), 16);
        assert!(!b.contains("element inet minotaur cluster_ips4"), "{b}");
        // A new Service: its address joins the set.
        let b = replace(&[], &[], &[], &[], &[rule(&[])])
            .unwrap()
            .to_string();
        assert!(b.contains("add element inet minotaur cluster_ips4 { 10.96.0.10 }"));
        // Nothing to change: an empty batch.
        assert!(replace(
            &before,
            &live_ips,
            &[],
            &[],
            &[rule(&[("172.17.0.2", 8080)])]
        )
        .unwrap()
        .is_empty());
        let e = replace(
            &[],
            &[],
            &[],
            &[],
            &[ServiceRule {
                cluster_ip: ip("172.17.0.1"),
                ..rule(&[])
            }],
        );
        assert!(e.unwrap_err().to_string().contains("service range"));
    }

    #[test]
    fn the_maps_read_back() {
        let listing = "table inet minotaur {\n\tmap services4 {\n\t\ttype ipv4_addr . inet_proto . inet_service . inet_service : ipv4_addr . inet_service\n\t\telements = { 10.96.0.10 . tcp . 80 . 0 : 172.17.0.2 . 8080,\n\t\t\t     10.96.0.10 . udp . 53 . 30 : 172.17.0.3 . 5353 }\n\t}\n}\n";
        let s = parse_map("services4", listing);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[1].to_string(),
            "10.96.0.10 . udp . 53 . 30 : 172.17.0.3 . 5353"
        );
        assert!(parse_map("services4", "table inet minotaur {}").is_empty());
        let r = ServiceRule {
            node_ports: vec![30080],
            ..rule(&[("172.17.0.2", 8080)])
        };
        for client_affinity in [false, true] {
            let s = slots(&[ServiceRule {
                client_affinity,
                ..r.clone()
            }]);
            for map in [
                "services4",
                "services4_client",
                "node_ports4",
                "node_ports4_client",
            ] {
                let mine: Vec<Slot> = s.iter().filter(|x| x.map() == map).cloned().collect();
                let text: Vec<String> = mine.iter().map(Slot::to_string).collect();
                let listing = format!("map {map} {{\n\telements = {{ {} }}\n}}", text.join(",\n"));
                assert_eq!(parse_map(map, &listing), mine, "{map}");
            }
        }
    }

    #[test]
    fn the_rules_match_the_cluster_ips_given_out_not_the_range() {
        assert!(crate::rules::rule::SERVICES_JUMP.contains("@cluster_ips4"));
        assert!(crate::rules::rule::SERVICES_REJECT.contains("@cluster_ips4"));
        assert_eq!(
            parse_ips(
                "set cluster_ips4 {\n\ttype ipv4_addr\n\telements = { 10.96.0.10, 10.96.3.1 }\n}"
            ),
            [ip("10.96.0.10"), ip("10.96.3.1")]
        );
        let mask = format!("& {:#x} ", (SLOTS - 1) * 2);
        assert!(crate::rules::rule::SERVICES_DNAT.contains(&mask));
        assert!(in_range(ip("10.111.255.255")) && !in_range(ip("10.112.0.0")));
    }
}
