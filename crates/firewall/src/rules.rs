//! The elements that networks and published ports add to the table (whose fixed skeleton is in `table`),
//! as [`Batch`]es of one nft script per operation, and reading the port maps back.
//!
//! Everything here is pure: it builds a [`Batch`] and renders it in nft's own syntax, which libnftables parses
//! and sends to the kernel as one netlink transaction. The golden tests below need no root.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::batch::{Batch, Command, Element, Proto, Verb};
use crate::error::{write_endpoint, FirewallError};
pub use crate::table::{fixed_rule_count, rule, TABLE};

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

    /// The error for a rule whose key is already published.
    pub(crate) fn in_use(&self) -> FirewallError {
        FirewallError::PortInUse {
            proto: self.proto,
            host_ip: self.bound_ip(),
            host_port: self.host_port,
        }
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
            return Err(p.in_use());
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
