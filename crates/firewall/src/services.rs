//! Cluster IPs: virtual addresses of Kubernetes Services whose ports lead, by kernel DNAT, to the ready
//! endpoints behind them (a pod's address and its `targetPort`).
//!
//! # The service range
//!
//! Cluster IPs come from `10.96.0.0/12`, Kubernetes' own default service range, so manifests that name a
//! `clusterIP` written for a cluster keep it. minotaur's networks never get a subnet there: their pools are
//! Docker's (`172.17.0.0/16` … `172.31.0.0/16`, then `192.168.0.0/16`), and the caller refuses a cluster IP
//! that a network made with `--subnet` covers. The rules match only the cluster IPs given out (the set
//! `cluster_ips4`), never the whole range, which a host's own network may use: traffic to one is DNATed
//! in `prerouting` (from containers) and `output` (from the host), and what no rule DNATed (a port with
//! no ready endpoint) is refused in `forward`, so a container's connection never leaves for the host's
//! default route. (The host's own connection to such a port takes the host's routes: a rule for it
//! would have to sit in a filter hook that every packet of the host passes.)
//!
//! # One map, fixed rules
//!
//! As with published ports, the rules are fixed and every cluster IP is map elements. The map's key has a
//! slot, bits 1 to 4 of the connection's source port (`th sport & 0x1e`): each of a port's 16 slots holds
//! one endpoint, given out in turn, so connections spread over up to 16 endpoints (evenly when their
//! number divides 16, within one slot's share otherwise). Bit 0 is left out because Linux gives
//! `connect()` even ports, stepping by two from a random start, so a client's successive connections walk
//! the slots in turn. (A random slot, `numgen random mod 16`, needs a `typeof` map, and nftables 1.0.6
//! cannot add a rule again that looks one up once the map exists: every network added re-adds the fixed
//! rules.) A port with more than 16 ready endpoints sends
//! to its first 16. An endpoint set that changes (a pod turns ready or not) replaces that cluster IP's
//! elements in one batch. Replies come back through conntrack; a connection from a pod to its own Service
//! (hairpin) is masqueraded by the rule that already masquerades DNATed flows back out a bridge.
//!
//! IPv4 only: a cluster IP is one IPv4 address.

use std::fmt;
use std::net::Ipv4Addr;

use crate::rules::{Batch, Command, Element, Proto, Verb};
use crate::FirewallError;

/// The service range (see the module documentation). The fixed rules name it literally.
pub const SERVICE_RANGE4: &str = "10.96.0.0/12";

/// Slots per cluster IP port: the values of the rule's `th sport & 0x1e`.
pub const SLOTS: u16 = 16;

/// The map's declaration. The slot is typed as a port: it is the masked source port.
pub(crate) const MAP_SPEC: &str =
    "type ipv4_addr . inet_proto . inet_service . inet_service : ipv4_addr . inet_service;";

/// Whether `ip` is in the service range.
pub fn in_range(ip: Ipv4Addr) -> bool {
    SERVICE_RANGE4
        .parse::<ipnet::Ipv4Net>()
        .is_ok_and(|n| n.contains(&ip))
}

/// One port of a cluster IP and the ready endpoints (address, target port) it leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRule {
    pub cluster_ip: Ipv4Addr,
    pub proto: Proto,
    pub port: u16,
    pub endpoints: Vec<(Ipv4Addr, u16)>,
}

/// One element of the map: a cluster IP port's slot (0 to 15; its key is twice that, the masked source
/// port) and the endpoint it leads to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub cluster_ip: Ipv4Addr,
    pub proto: ProtoKey,
    pub port: u16,
    pub slot: u16,
    pub to: Ipv4Addr,
    pub to_port: u16,
}

/// [`Proto`] with an order, for sorting slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProtoKey {
    Tcp,
    Udp,
}

impl From<Proto> for ProtoKey {
    fn from(p: Proto) -> ProtoKey {
        match p {
            Proto::Tcp => ProtoKey::Tcp,
            Proto::Udp => ProtoKey::Udp,
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.proto {
            ProtoKey::Tcp => "tcp",
            ProtoKey::Udp => "udp",
        };
        write!(
            f,
            "{} . {proto} . {} . {} : {} . {}",
            self.cluster_ip,
            self.port,
            self.slot * 2,
            self.to,
            self.to_port
        )
    }
}

/// The slots of `rules`: each port's endpoints, sorted, given out in turn over its [`SLOTS`] slots. A
/// rule with no endpoint has none.
pub fn slots(rules: &[ServiceRule]) -> Vec<Slot> {
    let mut out = Vec::new();
    for r in rules {
        let mut endpoints = r.endpoints.clone();
        endpoints.sort();
        endpoints.dedup();
        if endpoints.is_empty() {
            continue;
        }
        for slot in 0..SLOTS {
            let (to, to_port) = endpoints[usize::from(slot) % endpoints.len()];
            out.push(Slot {
                cluster_ip: r.cluster_ip,
                proto: r.proto.into(),
                port: r.port,
                slot,
                to,
                to_port,
            });
        }
    }
    out.sort();
    out
}

fn check(rules: &[ServiceRule]) -> Result<(), FirewallError> {
    for r in rules {
        let bad = |reason| FirewallError::InvalidServicePort {
            port: format!("{} {}:{}", r.proto, r.cluster_ip, r.port),
            reason,
        };
        if !in_range(r.cluster_ip) {
            return Err(bad(
                "the cluster IP is outside the service range 10.96.0.0/12",
            ));
        }
        if r.port == 0 || r.endpoints.iter().any(|(_, p)| *p == 0) {
            return Err(bad("port 0 cannot be a service port"));
        }
    }
    Ok(())
}

/// The batch that turns `live` (the map as read) and `live_ips` (the `cluster_ips4` set as read) into
/// `rules` for the cluster IPs `ips` (and those of `rules`): their slots that must go are deleted, the
/// new ones added; an address with a rule (even one with no endpoint) is in the set, one without leaves
/// it; other cluster IPs are left alone. Empty when nothing changes.
pub fn replace(
    live: &[Slot],
    live_ips: &[Ipv4Addr],
    ips: &[Ipv4Addr],
    rules: &[ServiceRule],
) -> Result<Batch, FirewallError> {
    check(rules)?;
    let ours = |ip: &Ipv4Addr| ips.contains(ip) || rules.iter().any(|r| r.cluster_ip == *ip);
    let wanted = slots(rules);
    let mut wanted_ips: Vec<Ipv4Addr> = rules.iter().map(|r| r.cluster_ip).collect();
    wanted_ips.sort();
    wanted_ips.dedup();
    let ips_gone: Vec<Element> = live_ips
        .iter()
        .filter(|ip| ours(ip) && !wanted_ips.contains(ip))
        .map(|ip| Element::Addr((*ip).into()))
        .collect();
    let ips_new: Vec<Element> = wanted_ips
        .iter()
        .filter(|ip| !live_ips.contains(ip))
        .map(|ip| Element::Addr((*ip).into()))
        .collect();
    // A slot's key with another endpoint is deleted and added again: `add` cannot change a value.
    let gone: Vec<Element> = live
        .iter()
        .filter(|s| ours(&s.cluster_ip) && !wanted.contains(s))
        .map(|s| Element::Service(s.clone()))
        .collect();
    let new: Vec<Element> = wanted
        .iter()
        .filter(|s| !live.contains(s))
        .map(|s| Element::Service(s.clone()))
        .collect();
    let mut b = Batch::default();
    if gone.is_empty() && new.is_empty() && ips_gone.is_empty() && ips_new.is_empty() {
        return Ok(b);
    }
    // The skeleton first: a table made before cluster IPs has no map yet.
    b.commands.push(Command::Skeleton);
    b.push_elements(Verb::Delete, "services4", gone);
    b.push_elements(Verb::Delete, "cluster_ips4", ips_gone);
    b.push_elements(Verb::Add, "cluster_ips4", ips_new);
    b.push_elements(Verb::Add, "services4", new);
    Ok(b)
}

/// The addresses in what `list set` printed for `cluster_ips4`.
pub fn parse_ips(listing: &str) -> Vec<Ipv4Addr> {
    let Some(start) = listing.find("elements = {") else {
        return Vec::new();
    };
    let body = &listing[start + "elements = {".len()..];
    let mut out: Vec<Ipv4Addr> = body
        .split('}')
        .next()
        .unwrap_or_default()
        .split(',')
        .filter_map(|e| e.trim().parse().ok())
        .collect();
    out.sort();
    out
}

/// The slots in what `list map` printed for `services4`; lines nft cannot have printed are skipped.
pub fn parse_map(listing: &str) -> Vec<Slot> {
    let Some(start) = listing.find("elements = {") else {
        return Vec::new();
    };
    let body = &listing[start + "elements = {".len()..];
    let body = body.split('}').next().unwrap_or_default();
    let mut out: Vec<Slot> = body
        .split(',')
        .filter_map(|e| {
            let (key, value) = e.trim().split_once(" : ")?;
            let key: Vec<&str> = key.split(" . ").map(str::trim).collect();
            let [ip, proto, port, slot] = key.as_slice() else {
                return None;
            };
            let (to, to_port) = value.trim().split_once(" . ")?;
            Some(Slot {
                cluster_ip: ip.parse().ok()?,
                proto: match *proto {
                    "tcp" => ProtoKey::Tcp,
                    "udp" => ProtoKey::Udp,
                    _ => return None,
                },
                port: port.parse().ok()?,
                slot: slot.parse::<u16>().ok().filter(|s| s % 2 == 0)? / 2,
                to: to.trim().parse().ok()?,
                to_port: to_port.trim().parse().ok()?,
            })
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn rule(endpoints: &[(&str, u16)]) -> ServiceRule {
        ServiceRule {
            cluster_ip: ip("10.96.0.10"),
            proto: Proto::Tcp,
            port: 80,
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
        let b = replace(&live, &live_ips, &[ip("10.96.0.10")], &[])
            .unwrap()
            .to_string();
        assert_eq!(b.matches("delete element").count(), 17);
        assert!(b.contains("delete element inet minotaur cluster_ips4 { 10.96.0.10 }"));
        assert_eq!(b.matches("add element").count(), 0);
        // A Service whose pods are none ready: no slot, but its address stays in the set (refused).
        let b = replace(&live, &live_ips, &[], &[rule(&[])])
            .unwrap()
            .to_string();
        assert_eq!(b.matches("delete element").count(), 16);
        assert!(!b.contains("element inet minotaur cluster_ips4"), "{b}");
        // A new Service: its address joins the set.
        let b = replace(&[], &[], &[], &[rule(&[])]).unwrap().to_string();
        assert!(b.contains("add element inet minotaur cluster_ips4 { 10.96.0.10 }"));
        // Nothing to change: an empty batch.
        assert!(
            replace(&before, &live_ips, &[], &[rule(&[("172.17.0.2", 8080)])])
                .unwrap()
                .is_empty()
        );
        let e = replace(
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
    fn the_map_reads_back() {
        let listing = "table inet minotaur {\n\tmap services4 {\n\t\ttype ipv4_addr . inet_proto . inet_service . inet_service : ipv4_addr . inet_service\n\t\telements = { 10.96.0.10 . tcp . 80 . 0 : 172.17.0.2 . 8080,\n\t\t\t     10.96.0.10 . udp . 53 . 30 : 172.17.0.3 . 5353 }\n\t}\n}\n";
        let s = parse_map(listing);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[1].to_string(),
            "10.96.0.10 . udp . 53 . 30 : 172.17.0.3 . 5353"
        );
        assert!(parse_map("table inet minotaur {}").is_empty());
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
