//! The ruleset as data: the fixed skeleton of `table inet minotaur` (chains, rules, sets, maps) and the
//! elements that networks and published ports add to it, rendered as one nft script per operation.
//!
//! Everything here is pure: it builds a [`Batch`] and renders it in nft's own syntax, which libnftables parses
//! and sends to the kernel as one netlink transaction. The golden tests below need no root.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::FirewallError;

/// The one table minotaur owns.
pub const TABLE: &str = "inet minotaur";

/// What the firewall needs to know about a network: its bridge, its subnets and whether it is internal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRules {
    /// The bridge's interface name.
    pub bridge: String,
    /// The network's subnets (IPv4 and/or IPv6); host bits are ignored.
    pub subnets: Vec<IpNet>,
    /// An internal network forwards nothing into or out of its bridge and is not masqueraded.
    pub internal: bool,
}

/// The transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One published port: traffic to `host_ip:host_port` (any local address when `host_ip` is `None` or
/// unspecified) is DNATed to `container_ip:container_port`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRule {
    pub proto: Proto,
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
}

impl PortRule {
    /// The host address the DNAT is restricted to: `None` for every local address (`0.0.0.0` and `::` mean
    /// the same, as in Docker).
    pub fn bound_ip(&self) -> Option<IpAddr> {
        self.host_ip.filter(|ip| !ip.is_unspecified())
    }

    /// What identifies a published port: two rules with the same key cannot both be published. A port on
    /// every address exists once per family (`0.0.0.0` and `::`), as the DNAT cannot change the family.
    pub fn key(&self) -> (Proto, IpAddr, u16) {
        let any = match self.container_ip {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        (self.proto, self.bound_ip().unwrap_or(any), self.host_port)
    }
}

impl fmt::Display for PortRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.proto)?;
        write_endpoint(f, self.bound_ip(), self.host_port)?;
        f.write_str(" -> ")?;
        write_endpoint(f, Some(self.container_ip), self.container_port)
    }
}

/// `ADDR:PORT`, `[ADDR6]:PORT`, or `*:PORT` for every address.
pub(crate) fn write_endpoint(
    f: &mut impl fmt::Write,
    ip: Option<IpAddr>,
    port: u16,
) -> fmt::Result {
    match ip {
        None => write!(f, "*:{port}"),
        Some(IpAddr::V4(a)) => write!(f, "{a}:{port}"),
        Some(IpAddr::V6(a)) => write!(f, "[{a}]:{port}"),
    }
}

/// A named set or map of the table and its declaration.
struct SetDef {
    name: &'static str,
    /// `set` or `map`.
    kind: &'static str,
    spec: &'static str,
}

const SETS: &[SetDef] = &[
    SetDef {
        name: "bridges",
        kind: "set",
        spec: "type ifname;",
    },
    SetDef {
        name: "internal",
        kind: "set",
        spec: "type ifname;",
    },
    SetDef {
        name: "same_bridge",
        kind: "set",
        spec: "type ifname . ifname;",
    },
    SetDef {
        name: "subnets4",
        kind: "set",
        spec: "type ipv4_addr; flags interval;",
    },
    SetDef {
        name: "subnets6",
        kind: "set",
        spec: "type ipv6_addr; flags interval;",
    },
    SetDef {
        name: "masquerade4",
        kind: "set",
        spec: "type ipv4_addr; flags interval;",
    },
    SetDef {
        name: "masquerade6",
        kind: "set",
        spec: "type ipv6_addr; flags interval;",
    },
    SetDef {
        name: "ports4",
        kind: "map",
        spec: "type inet_proto . inet_service : ipv4_addr . inet_service;",
    },
    SetDef {
        name: "ports4_host",
        kind: "map",
        spec: "type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service;",
    },
    SetDef {
        name: "ports6",
        kind: "map",
        spec: "type inet_proto . inet_service : ipv6_addr . inet_service;",
    },
    SetDef {
        name: "ports6_host",
        kind: "map",
        spec: "type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service;",
    },
    SetDef {
        name: crate::services::MAPS[0].0,
        kind: "map",
        spec: crate::services::MAPS[0].1,
    },
    SetDef {
        name: crate::services::MAPS[1].0,
        kind: "map",
        spec: crate::services::MAPS[1].1,
    },
    SetDef {
        name: crate::services::MAPS[2].0,
        kind: "map",
        spec: crate::services::MAPS[2].1,
    },
    SetDef {
        name: crate::services::MAPS[3].0,
        kind: "map",
        spec: crate::services::MAPS[3].1,
    },
    SetDef {
        name: crate::services::MAPS[4].0,
        kind: "map",
        spec: crate::services::MAPS[4].1,
    },
    SetDef {
        name: crate::services::MAPS[5].0,
        kind: "map",
        spec: crate::services::MAPS[5].1,
    },
    SetDef {
        name: "cluster_ips4",
        kind: "set",
        spec: "type ipv4_addr;",
    },
    SetDef {
        name: "cluster_ips6",
        kind: "set",
        spec: "type ipv6_addr;",
    },
];

/// The fixed rules that decide reachability, by what they do, so that `why` can name the rule that drops or
/// lets through a flow (the chains below are built from the same strings).
pub mod rule {
    /// One network talking to itself (bridged traffic between two ports of one bridge).
    pub const SAME_BRIDGE: &str = "iifname . oifname @same_bridge accept";
    /// Nothing is forwarded out of an internal network's bridge.
    pub const INTERNAL_OUT: &str = "iifname @internal drop";
    /// Nothing is forwarded into an internal network's bridge.
    pub const INTERNAL_IN: &str = "oifname @internal drop";
    /// Published ports reached through the host's address (hairpin) cross networks.
    pub const DNAT_ACCEPT: &str = "ct status dnat oifname @bridges accept";
    /// Isolation: one minotaur bridge to another is dropped.
    pub const ISOLATION: &str = "iifname @bridges oifname @bridges drop";
    /// Traffic of a non-internal IPv4 network leaving through a non-minotaur interface is masqueraded.
    pub const MASQUERADE4: &str = "ip saddr @masquerade4 oifname != @bridges masquerade";
    /// Traffic to a local address is looked up in the published-port maps.
    pub const PUBLISHED_PREROUTING: &str = "fib daddr type local jump published";
    /// The host's own connections to a local address are looked up in the published-port maps.
    pub const PUBLISHED_OUTPUT: &str = "meta nfproto ipv4 fib daddr type local jump published";
    /// The DNAT of a port published on every address.
    pub const DNAT4: &str =
        "meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport map @ports4";
    /// The DNAT of a port published on one host address.
    pub const DNAT4_HOST: &str =
        "meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport map @ports4_host";
    /// Traffic to a cluster IP is looked up in the cluster IPs' map.
    pub const SERVICES_JUMP: &str = "ip daddr @cluster_ips4 jump services";
    /// The DNAT of a cluster IP's port to one of its ready endpoints, by the slot of the source port.
    pub const SERVICES_DNAT: &str = "meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport . ( th sport & 0x1e ) map @services4";
    /// The same with `sessionAffinity: ClientIP`, by the slot of the source address.
    pub const SERVICES_DNAT_CLIENT: &str = "meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport . ( ip saddr & 0.0.0.15 ) map @services4_client";
    /// The DNAT of a node port (on a local address) to one of its Service's ready endpoints.
    pub const NODE_PORTS_DNAT: &str = "meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport . ( th sport & 0x1e ) map @node_ports4";
    /// The same with `sessionAffinity: ClientIP`.
    pub const NODE_PORTS_DNAT_CLIENT: &str = "meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport . ( ip saddr & 0.0.0.15 ) map @node_ports4_client";
    /// A cluster IP's port with no ready endpoint (not DNATed) is refused, never routed on.
    pub const SERVICES_REJECT: &str = "ip daddr @cluster_ips4 reject";
    /// Traffic to an IPv6 cluster IP is looked up in the IPv6 cluster IPs' maps.
    pub const SERVICES6_JUMP: &str = "ip6 daddr @cluster_ips6 jump services";
    /// The DNAT of an IPv6 cluster IP's port, by the slot of the source port.
    pub const SERVICES6_DNAT: &str = "meta l4proto { tcp, udp } dnat ip6 to ip6 daddr . meta l4proto . th dport . ( th sport & 0x1e ) map @services6";
    /// The same with `sessionAffinity: ClientIP`, by the slot of the source address.
    pub const SERVICES6_DNAT_CLIENT: &str = "meta l4proto { tcp, udp } dnat ip6 to ip6 daddr . meta l4proto . th dport . ( ip6 saddr & ::f ) map @services6_client";
    /// An IPv6 cluster IP's port with no ready endpoint is refused.
    pub const SERVICES6_REJECT: &str = "ip6 daddr @cluster_ips6 reject";

    /// `table inet minotaur chain CHAIN: RULE`, as `why` names it.
    pub fn cite(chain: &str, rule: &str) -> String {
        format!("table {} chain {chain}: {rule}", super::TABLE)
    }
}

/// A chain of the table: its hook (none for a chain that is only jumped to) and its fixed rules.
struct ChainDef {
    name: &'static str,
    base: Option<&'static str>,
    rules: &'static [&'static str],
}

/// The fixed rules. The crate documentation explains them; the sets and maps carry everything per network
/// and per port, so no rule is ever added for one of those.
const CHAINS: &[ChainDef] = &[
    ChainDef {
        name: "prerouting",
        base: Some("type nat hook prerouting priority dstnat; policy accept;"),
        rules: &[
            rule::PUBLISHED_PREROUTING,
            rule::SERVICES_JUMP,
            rule::SERVICES6_JUMP,
        ],
    },
    ChainDef {
        name: "output",
        // The nat output hook has no named priority; -100 is dstnat's value.
        base: Some("type nat hook output priority -100; policy accept;"),
        rules: &[
            rule::PUBLISHED_OUTPUT,
            // IPv6 never routes ::1 out of the host, so a DNAT of it could only black-hole the connection.
            "ip6 daddr != ::1 fib daddr type local jump published",
            rule::SERVICES_JUMP,
            rule::SERVICES6_JUMP,
        ],
    },
    ChainDef {
        name: "services",
        base: None,
        rules: &[
            rule::SERVICES_DNAT_CLIENT,
            rule::SERVICES_DNAT,
            rule::SERVICES6_DNAT_CLIENT,
            rule::SERVICES6_DNAT,
        ],
    },
    ChainDef {
        name: "published",
        base: None,
        rules: &[
            rule::DNAT4_HOST,
            rule::DNAT4,
            rule::NODE_PORTS_DNAT_CLIENT,
            rule::NODE_PORTS_DNAT,
            "meta l4proto { tcp, udp } dnat ip6 to ip6 daddr . meta l4proto . th dport map @ports6_host",
            "meta l4proto { tcp, udp } dnat ip6 to meta l4proto . th dport map @ports6",
        ],
    },
    ChainDef {
        name: "postrouting",
        base: Some("type nat hook postrouting priority srcnat; policy accept;"),
        rules: &[
            // Loopback-sourced traffic leaving through a bridge (route_localnet) is DNATed from 127.0.0.1, or
            // redirected at connect() from a socket bound to it (see `connect`): either way the container
            // could not answer 127.0.0.1.
            "ip saddr 127.0.0.0/8 oifname @bridges masquerade",
            "ct status dnat ip saddr @subnets4 oifname @bridges masquerade",
            "ct status dnat ip6 saddr @subnets6 oifname @bridges masquerade",
            rule::MASQUERADE4,
            "ip6 saddr @masquerade6 oifname != @bridges masquerade",
        ],
    },
    ChainDef {
        name: "local_out",
        // After the nat output hook (-100): what it DNATed no longer goes to a cluster IP.
        base: Some("type filter hook output priority filter; policy accept;"),
        // The host's own connection to a cluster IP's port with no ready endpoint is refused, as a
        // container's is in forward, rather than sent along the host's routes.
        rules: &[rule::SERVICES_REJECT, rule::SERVICES6_REJECT],
    },
    ChainDef {
        name: "forward",
        base: Some("type filter hook forward priority filter; policy accept;"),
        rules: &[
            // With br_netfilter loaded (Docker loads it), frames bridged between two ports of one bridge pass
            // this hook too, as bridge -> same bridge: that is one network talking to itself, always allowed.
            // Before it: a cluster IP that was not DNATed has no ready endpoint.
            rule::SERVICES_REJECT,
            rule::SERVICES6_REJECT,
            rule::SAME_BRIDGE,
            rule::INTERNAL_OUT,
            rule::INTERNAL_IN,
            "ct state established,related accept",
            rule::DNAT_ACCEPT,
            rule::ISOLATION,
        ],
    },
];

/// The number of fixed rules in the table (for tests and checks).
pub fn fixed_rule_count() -> usize {
    CHAINS.iter().map(|c| c.rules.len()).sum()
}

/// How a batch changes elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    /// Adds; an element that is already there (with the same value) is not an error.
    Add,
    /// Adds; an element whose key is already there fails the whole batch (`EEXIST`).
    Create,
    /// Removes; a missing element fails the whole batch (`ENOENT`).
    Delete,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Add => "add",
            Verb::Create => "create",
            Verb::Delete => "delete",
        }
    }
}

/// One element of a set or map, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Element {
    Ifname(String),
    /// `iifname . oifname`.
    IfnamePair(String, String),
    Net(IpNet),
    /// A port map element: `[host address .] proto . port : container address . port`.
    Port {
        host: Option<IpAddr>,
        proto: Proto,
        port: u16,
        to: IpAddr,
        to_port: u16,
    },
    /// A cluster IP's slot: `cluster IP . proto . port . slot : endpoint address . port`.
    Service(crate::services::Slot),
    /// One address.
    Addr(IpAddr),
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Validated by `check_bridge`: no quote or backslash can end the string early.
            Element::Ifname(name) => write!(f, "\"{name}\""),
            Element::IfnamePair(a, b) => write!(f, "\"{a}\" . \"{b}\""),
            Element::Net(net) => write!(f, "{}", net.trunc()),
            Element::Port {
                host,
                proto,
                port,
                to,
                to_port,
            } => {
                if let Some(h) = host {
                    write!(f, "{h} . ")?;
                }
                write!(f, "{proto} . {port} : {to} . {to_port}")
            }
            Element::Service(s) => write!(f, "{s}"),
            Element::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// One command of a batch.
#[derive(Debug)]
pub(crate) enum Command {
    /// `add table` (nothing if it exists) or `delete table` (with everything in it).
    Table(Verb),
    /// Declares the fixed sets, maps and chains, empties the chains and adds their fixed rules: the result is
    /// the same whether the table was empty or already complete.
    Skeleton,
    Elements {
        verb: Verb,
        set: &'static str,
        elements: Vec<Element>,
    },
}

/// Commands that libnftables applies as one transaction: all of them or none.
#[derive(Debug, Default)]
pub struct Batch {
    pub(crate) commands: Vec<Command>,
}

impl Batch {
    pub(crate) fn push_elements(&mut self, verb: Verb, set: &'static str, elements: Vec<Element>) {
        if !elements.is_empty() {
            self.commands.push(Command::Elements {
                verb,
                set,
                elements,
            });
        }
    }

    /// Adds and then deletes the elements in the same transaction: the add makes the delete valid when an
    /// element is missing (nftables 1.0.6 has no `destroy`), so removing is idempotent and still atomic.
    fn push_removal(&mut self, set: &'static str, elements: Vec<Element>) {
        self.push_elements(Verb::Add, set, elements.clone());
        self.push_elements(Verb::Delete, set, elements);
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

impl fmt::Display for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for command in &self.commands {
            match command {
                Command::Table(verb) => writeln!(f, "{} table {TABLE}", verb.as_str())?,
                Command::Skeleton => {
                    for s in SETS {
                        writeln!(f, "add {} {TABLE} {} {{ {} }}", s.kind, s.name, s.spec)?;
                    }
                    for c in CHAINS {
                        match c.base {
                            Some(base) => writeln!(f, "add chain {TABLE} {} {{ {base} }}", c.name)?,
                            None => writeln!(f, "add chain {TABLE} {}", c.name)?,
                        }
                    }
                    for c in CHAINS {
                        writeln!(f, "flush chain {TABLE} {}", c.name)?;
                        for r in c.rules {
                            writeln!(f, "add rule {TABLE} {} {r}", c.name)?;
                        }
                    }
                }
                Command::Elements {
                    verb,
                    set,
                    elements,
                } => {
                    // One element per line, so that nft's error message points at the one it refused.
                    for e in elements {
                        writeln!(f, "{} element {TABLE} {set} {{ {e} }}", verb.as_str())?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Interface names as the kernel accepts them (at most 15 bytes, no `/`, `:` or whitespace), and nothing that
/// could end an nft string early.
pub fn check_bridge(name: &str) -> Result<(), FirewallError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 15 {
        Some("it is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("it is '.' or '..'")
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | ':' | '"' | '\\'))
    {
        Some("it contains whitespace, a control character or one of / : \" \\")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(FirewallError::InvalidBridge {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

fn check_port(p: &PortRule) -> Result<(), FirewallError> {
    let reason = if p.host_port == 0 || p.container_port == 0 {
        Some("port 0 cannot be published")
    } else if p
        .bound_ip()
        .is_some_and(|h| h.is_ipv4() != p.container_ip.is_ipv4())
    {
        Some("the host address and the container address are of different families")
    } else if p.container_ip.is_unspecified() {
        Some("the container address is unspecified")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(FirewallError::InvalidPort {
            port: p.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Refuses invalid ports and two ports with the same key in one request.
pub fn check_ports(ports: &[PortRule]) -> Result<(), FirewallError> {
    let mut seen = HashSet::new();
    for p in ports {
        check_port(p)?;
        if !seen.insert(p.key()) {
            return Err(FirewallError::port_in_use(p));
        }
    }
    Ok(())
}

/// The map a port goes in, and its element.
fn port_element(p: &PortRule) -> (&'static str, Element) {
    let host = p.bound_ip();
    let set = match (p.container_ip.is_ipv4(), host.is_some()) {
        (true, false) => "ports4",
        (true, true) => "ports4_host",
        (false, false) => "ports6",
        (false, true) => "ports6_host",
    };
    let e = Element::Port {
        host,
        proto: p.proto,
        port: p.host_port,
        to: p.container_ip,
        to_port: p.container_port,
    };
    (set, e)
}

/// A single-port lookup of the key only (`get element`), to tell which port of a refused batch was taken.
pub fn port_lookup(p: &PortRule) -> String {
    let (set, _) = port_element(p);
    let mut key = String::new();
    if let Some(h) = p.bound_ip() {
        let _ = write!(key, "{h} . ");
    }
    let _ = write!(key, "{} . {}", p.proto, p.host_port);
    format!("get element {TABLE} {set} {{ {key} }}")
}

/// The four published-port maps and whether each is keyed by the host address too.
pub const PORT_MAPS: [(&str, bool); 4] = [
    ("ports4", false),
    ("ports4_host", true),
    ("ports6", false),
    ("ports6_host", true),
];

/// The command that lists one port map (a read of minotaur's own table; nothing else is listed).
pub fn list_map(map: &str) -> String {
    format!("list map {TABLE} {map}")
}

/// The published ports in what `list map` printed for a port map (`host_keyed`: one of the `_host` maps,
/// whose keys start with the host address). Elements nft cannot have printed (a malformed line) are skipped.
pub fn parse_port_map(listing: &str, host_keyed: bool) -> Vec<PortRule> {
    let Some(start) = listing.find("elements = {") else {
        return Vec::new();
    };
    let body = &listing[start + "elements = {".len()..];
    let body = body.split('}').next().unwrap_or_default();
    body.split(',')
        .filter_map(|e| {
            // `[HOST . ]PROTO . PORT : ADDR . PORT`; an IPv6 address holds colons but never " : ".
            let (key, value) = e.trim().split_once(" : ")?;
            let key: Vec<&str> = key.split(" . ").map(str::trim).collect();
            let (host_ip, proto, port) = match (host_keyed, key.as_slice()) {
                (true, [h, p, n]) => (Some(h.parse().ok()?), *p, *n),
                (false, [p, n]) => (None, *p, *n),
                _ => return None,
            };
            let (to, to_port) = value.trim().split_once(" . ")?;
            Some(PortRule {
                proto: match proto {
                    "tcp" => Proto::Tcp,
                    "udp" => Proto::Udp,
                    _ => return None,
                },
                host_ip,
                host_port: port.parse().ok()?,
                container_ip: to.trim().parse().ok()?,
                container_port: to_port.trim().parse().ok()?,
            })
        })
        .collect()
}

/// The command that lists one set of interface names (a read of minotaur's own table).
pub fn list_set(set: &str) -> String {
    format!("list set {TABLE} {set}")
}

/// The interface names in what `list set` printed for a set of `type ifname` (`bridges`, `internal`): nft
/// prints each one quoted.
pub fn parse_ifname_set(listing: &str) -> Vec<String> {
    let Some(start) = listing.find("elements = {") else {
        return Vec::new();
    };
    let body = &listing[start + "elements = {".len()..];
    body.split('}')
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|e| e.trim().trim_matches('"').to_owned())
        .filter(|e| !e.is_empty())
        .collect()
}

/// The elements of a network, set by set.
fn network_elements(n: &NetworkRules) -> Vec<(&'static str, Vec<Element>)> {
    let bridge = Element::Ifname(n.bridge.clone());
    let nets = |v4: bool| -> Vec<Element> {
        n.subnets
            .iter()
            .filter(|s| matches!(s, IpNet::V4(_)) == v4)
            .map(|s| Element::Net(*s))
            .collect()
    };
    let pair = Element::IfnamePair(n.bridge.clone(), n.bridge.clone());
    let mut out = vec![
        ("bridges", vec![bridge.clone()]),
        ("same_bridge", vec![pair]),
        ("subnets4", nets(true)),
        ("subnets6", nets(false)),
    ];
    if n.internal {
        out.push(("internal", vec![bridge]));
    } else {
        out.push(("masquerade4", nets(true)));
        out.push(("masquerade6", nets(false)));
    }
    out
}

/// Groups port elements by map, keeping the order of the request.
fn port_elements(ports: &[PortRule]) -> Vec<(&'static str, Vec<Element>)> {
    let mut out: Vec<(&'static str, Vec<Element>)> = Vec::new();
    for p in ports {
        let (set, e) = port_element(p);
        match out.iter_mut().find(|(s, _)| *s == set) {
            Some((_, v)) => v.push(e),
            None => out.push((set, vec![e])),
        }
    }
    out
}

/// The table with its skeleton, plus the network's elements.
pub fn add_network(n: &NetworkRules) -> Result<Batch, FirewallError> {
    check_bridge(&n.bridge)?;
    let mut b = Batch::default();
    b.commands.push(Command::Table(Verb::Add));
    b.commands.push(Command::Skeleton);
    for (set, elements) in network_elements(n) {
        b.push_elements(Verb::Add, set, elements);
    }
    Ok(b)
}

/// Removes the network's elements; missing ones are not an error.
pub fn remove_network(n: &NetworkRules) -> Result<Batch, FirewallError> {
    check_bridge(&n.bridge)?;
    let mut b = Batch::default();
    for (set, elements) in network_elements(n) {
        b.push_removal(set, elements);
    }
    Ok(b)
}

/// Publishes ports; a key already in a map fails the whole batch.
pub fn add_ports(ports: &[PortRule]) -> Result<Batch, FirewallError> {
    check_ports(ports)?;
    let mut b = Batch::default();
    for (set, elements) in port_elements(ports) {
        b.push_elements(Verb::Create, set, elements);
    }
    Ok(b)
}

/// Unpublishes ports; missing ones are not an error.
pub fn remove_ports(ports: &[PortRule]) -> Result<Batch, FirewallError> {
    for p in ports {
        check_port(p)?;
    }
    let mut b = Batch::default();
    for (set, elements) in port_elements(ports) {
        b.push_removal(set, elements);
    }
    Ok(b)
}

/// The whole table, replacing whatever is there (or nothing).
pub fn sync(networks: &[NetworkRules], ports: &[PortRule]) -> Result<Batch, FirewallError> {
    for n in networks {
        check_bridge(&n.bridge)?;
    }
    check_ports(ports)?;
    let mut b = Batch::default();
    // `add` first so that `delete` finds a table even when there was none.
    b.commands.push(Command::Table(Verb::Add));
    b.commands.push(Command::Table(Verb::Delete));
    b.commands.push(Command::Table(Verb::Add));
    b.commands.push(Command::Skeleton);
    for n in networks {
        for (set, elements) in network_elements(n) {
            b.push_elements(Verb::Add, set, elements);
        }
    }
    for (set, elements) in port_elements(ports) {
        b.push_elements(Verb::Create, set, elements);
    }
    Ok(b)
}

/// Deletes the table if it is there.
pub fn remove_table() -> Batch {
    Batch {
        commands: vec![Command::Table(Verb::Add), Command::Table(Verb::Delete)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(bridge: &str, subnets: &[&str], internal: bool) -> NetworkRules {
        NetworkRules {
            bridge: bridge.into(),
            subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
            internal,
        }
    }

    fn port(proto: Proto, host: Option<&str>, hp: u16, ip: &str, cp: u16) -> PortRule {
        PortRule {
            proto,
            host_ip: host.map(|h| h.parse().unwrap()),
            host_port: hp,
            container_ip: ip.parse().unwrap(),
            container_port: cp,
        }
    }

    fn element_lines(b: &Batch) -> Vec<String> {
        b.to_string()
            .lines()
            .filter(|l| l.contains(" element "))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn add_network_declares_the_skeleton_then_the_elements() {
        let b = add_network(&net("mino0", &["10.88.0.5/16", "fd00:88::/64"], false)).unwrap();
        let text = b.to_string();
        assert!(text.starts_with(
            "add table inet minotaur\nadd set inet minotaur bridges { type ifname; }\n"
        ));
        assert!(text.contains("flush chain inet minotaur forward\n"));
        assert_eq!(text.matches("add rule ").count(), fixed_rule_count());
        assert_eq!(
            element_lines(&b),
            [
                r#"add element inet minotaur bridges { "mino0" }"#,
                r#"add element inet minotaur same_bridge { "mino0" . "mino0" }"#,
                "add element inet minotaur subnets4 { 10.88.0.0/16 }",
                "add element inet minotaur subnets6 { fd00:88::/64 }",
                "add element inet minotaur masquerade4 { 10.88.0.0/16 }",
                "add element inet minotaur masquerade6 { fd00:88::/64 }",
            ]
        );
    }

    #[test]
    fn an_internal_network_is_not_masqueraded() {
        let b = add_network(&net("mino1", &["10.89.0.0/24"], true)).unwrap();
        assert_eq!(
            element_lines(&b),
            [
                r#"add element inet minotaur bridges { "mino1" }"#,
                r#"add element inet minotaur same_bridge { "mino1" . "mino1" }"#,
                "add element inet minotaur subnets4 { 10.89.0.0/24 }",
                r#"add element inet minotaur internal { "mino1" }"#,
            ]
        );
    }

    #[test]
    fn removing_adds_then_deletes_so_missing_elements_are_no_error() {
        let b = remove_network(&net("mino1", &["10.89.0.0/24"], true)).unwrap();
        assert_eq!(
            element_lines(&b),
            [
                r#"add element inet minotaur bridges { "mino1" }"#,
                r#"delete element inet minotaur bridges { "mino1" }"#,
                r#"add element inet minotaur same_bridge { "mino1" . "mino1" }"#,
                r#"delete element inet minotaur same_bridge { "mino1" . "mino1" }"#,
                "add element inet minotaur subnets4 { 10.89.0.0/24 }",
                "delete element inet minotaur subnets4 { 10.89.0.0/24 }",
                r#"add element inet minotaur internal { "mino1" }"#,
                r#"delete element inet minotaur internal { "mino1" }"#,
            ]
        );
        assert!(!b.to_string().contains("table"));
    }

    #[test]
    fn ports_go_to_the_map_of_their_family_and_binding() {
        let b = add_ports(&[
            port(Proto::Tcp, None, 8080, "10.88.0.2", 80),
            port(Proto::Udp, Some("127.0.0.1"), 53, "10.88.0.3", 53),
            port(Proto::Tcp, Some("0.0.0.0"), 8443, "10.88.0.2", 443),
            port(Proto::Tcp, Some("fd00::1"), 80, "fd00:88::2", 8080),
            port(Proto::Udp, None, 5353, "fd00:88::2", 53),
        ])
        .unwrap();
        assert_eq!(
            b.to_string(),
            "create element inet minotaur ports4 { tcp . 8080 : 10.88.0.2 . 80 }\n\
             create element inet minotaur ports4 { tcp . 8443 : 10.88.0.2 . 443 }\n\
             create element inet minotaur ports4_host { 127.0.0.1 . udp . 53 : 10.88.0.3 . 53 }\n\
             create element inet minotaur ports6_host { fd00::1 . tcp . 80 : fd00:88::2 . 8080 }\n\
             create element inet minotaur ports6 { udp . 5353 : fd00:88::2 . 53 }\n"
        );
        assert_eq!(
            port_lookup(&port(Proto::Udp, Some("127.0.0.1"), 53, "10.88.0.3", 53)),
            "get element inet minotaur ports4_host { 127.0.0.1 . udp . 53 }"
        );
    }

    #[test]
    fn ifname_sets_are_read_back_from_nft_listings() {
        let listing = "table inet minotaur {
\tset bridges {
\t\ttype ifname
\t\telements = { \"minotaur0\",
\t\t\t     \"mt-0123456789ab\" }
\t}
}
";
        assert_eq!(
            parse_ifname_set(listing),
            vec!["minotaur0".to_owned(), "mt-0123456789ab".to_owned()]
        );
        assert!(parse_ifname_set("\tset bridges {\n\t\ttype ifname\n\t}\n").is_empty());
        // What the table's own batches write is what a listing gives back.
        let n = NetworkRules {
            bridge: "mt-abc".into(),
            subnets: vec![],
            internal: false,
        };
        let batch = add_network(&n).unwrap().to_string();
        let line = batch
            .lines()
            .find(|l| l.contains("bridges") && l.contains("element"))
            .unwrap();
        assert_eq!(
            parse_ifname_set(&line.replace("{", "elements = {")),
            vec!["mt-abc".to_owned()]
        );
    }

    #[test]
    fn port_maps_are_read_back_from_nft_listings() {
        let listing = "table inet minotaur {
\tmap ports4 {
\t\ttype inet_proto . inet_service : ipv4_addr . inet_service
\t\telements = { udp . 53 : 10.0.0.9 . 53,
\t\t\t     tcp . 8081 : 10.0.0.1 . 80 }
\t}
}
";
        assert_eq!(
            parse_port_map(listing, false),
            vec![
                port(Proto::Udp, None, 53, "10.0.0.9", 53),
                port(Proto::Tcp, None, 8081, "10.0.0.1", 80)
            ]
        );
        let host6 = "\t\telements = { ::1 . tcp . 22 : fd00::2 . 2222 }\n";
        assert_eq!(
            parse_port_map(host6, true),
            vec![port(Proto::Tcp, Some("::1"), 22, "fd00::2", 2222)]
        );
        assert_eq!(parse_port_map("\t\ttype inet_proto\n", false), vec![]);
        // What the table's own batches write is what a listing gives back.
        let p = port(Proto::Tcp, Some("127.0.0.1"), 8080, "10.88.0.3", 80);
        let (set, e) = port_element(&p);
        assert_eq!(set, "ports4_host");
        assert_eq!(
            parse_port_map(&format!("elements = {{ {e} }}"), true),
            vec![p]
        );
    }

    #[test]
    fn the_same_key_twice_in_one_request_is_port_in_use() {
        let err = add_ports(&[
            port(Proto::Tcp, None, 8080, "10.88.0.2", 80),
            port(Proto::Tcp, Some("0.0.0.0"), 8080, "10.88.0.3", 80),
        ])
        .unwrap_err();
        assert!(
            matches!(
                err,
                FirewallError::PortInUse {
                    host_port: 8080,
                    ..
                }
            ),
            "{err}"
        );
        // Other protocol or another host address: no clash.
        add_ports(&[
            port(Proto::Tcp, None, 8080, "10.88.0.2", 80),
            port(Proto::Udp, None, 8080, "10.88.0.2", 80),
            port(Proto::Tcp, Some("127.0.0.1"), 8080, "10.88.0.2", 80),
            port(Proto::Tcp, None, 8080, "fd00:88::2", 80),
        ])
        .unwrap();
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_built() {
        for bad in ["", "a\"b", "a b", "0123456789abcdef", "x/y", "a\\b"] {
            let err = add_network(&net(bad, &[], false)).unwrap_err();
            assert!(
                matches!(err, FirewallError::InvalidBridge { .. }),
                "{bad:?}"
            );
        }
        let mixed = port(Proto::Tcp, Some("::1"), 80, "10.88.0.2", 80);
        assert!(matches!(
            add_ports(&[mixed]),
            Err(FirewallError::InvalidPort { .. })
        ));
        let zero = port(Proto::Tcp, None, 0, "10.88.0.2", 80);
        assert!(matches!(
            add_ports(&[zero]),
            Err(FirewallError::InvalidPort { .. })
        ));
    }

    #[test]
    fn sync_replaces_the_table_in_one_batch() {
        let text = sync(
            &[net("mino0", &["10.88.0.0/16"], false)],
            &[port(Proto::Tcp, None, 8080, "10.88.0.2", 80)],
        )
        .unwrap()
        .to_string();
        assert!(text.starts_with(
            "add table inet minotaur\ndelete table inet minotaur\nadd table inet minotaur\n"
        ));
        assert!(
            text.ends_with("create element inet minotaur ports4 { tcp . 8080 : 10.88.0.2 . 80 }\n")
        );
        assert_eq!(
            remove_table().to_string(),
            "add table inet minotaur\ndelete table inet minotaur\n"
        );
    }
}
