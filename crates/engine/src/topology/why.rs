//! `why SOURCE DEST[:PORT][/udp]`: whether SOURCE can reach DEST, and if not, why.
//!
//! The answer comes in two steps. First minotaur's own network model says what should happen: which
//! networks the two share (one bridge: always allowed), whether one is internal (nothing is forwarded into
//! or out of its bridge), isolation between networks, published ports (the only way in from outside), the
//! host's default route, and whether the embedded resolver gives SOURCE DEST's name. Each step that
//! decides names the rule of minotaur's nftables table it rests on. Then one real connection attempt from
//! SOURCE's network namespace ([`probe`]) confirms it: a TCP connect, a UDP datagram, or an ICMP echo
//! without a port. What the probe found wins: a model that says "reachable" where nothing listens, or where
//! a firewall outside minotaur's table drops the packet, is corrected by it.
//!
//! `outside` as a source has no namespace of ours to probe from: its attempt is made from the host to the
//! host's own address on the uplink, which takes the same published-port maps (in `output` rather than
//! `prerouting`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use minotaur_firewall::rules::rule;
use serde::Serialize;

use crate::context::Context;
use crate::topology::model::{ContainerView, Topology};
use crate::topology::probe::{self, Outcome, Transport};
use crate::topology::TopologyError;

/// How long a probe waits.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// One side of the question, as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Party {
    Container(String),
    Host,
    Outside,
    Address(IpAddr),
}

/// `DEST[:PORT][/udp]` parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dest {
    pub party: Party,
    pub port: Option<u16>,
    pub udp: bool,
}

impl Party {
    fn parse(s: &str) -> Party {
        match s {
            "host" => Party::Host,
            "outside" => Party::Outside,
            _ => match s.trim_start_matches('[').trim_end_matches(']').parse() {
                Ok(ip) => Party::Address(ip),
                Err(_) => Party::Container(s.to_owned()),
            },
        }
    }
}

/// Parses `web`, `web:80`, `10.0.0.2:53/udp`, `[fd00::2]:80`, `fd00::2`, `host:8080`, `outside`.
pub fn parse_dest(s: &str) -> Result<Dest, TopologyError> {
    let bad = |why: &str| TopologyError::BadEndpoint {
        what: "destination",
        value: s.to_owned(),
        why: why.to_owned(),
    };
    let (rest, udp) = match s.rsplit_once('/') {
        Some((r, "udp")) => (r, true),
        Some((r, "tcp")) => (r, false),
        Some(_) => return Err(bad("the protocol must be tcp or udp")),
        None => (s, false),
    };
    // A bare IPv6 address has colons but no port.
    if rest.parse::<IpAddr>().is_ok() {
        if udp {
            return Err(bad("a protocol needs a port"));
        }
        return Ok(Dest {
            party: Party::parse(rest),
            port: None,
            udp,
        });
    }
    let (party, port) = match rest.rsplit_once(':') {
        Some((p, port)) => {
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?;
            (p, Some(port))
        }
        None => (rest, None),
    };
    if party.is_empty() {
        return Err(bad("it names no container, host, outside or address"));
    }
    if udp && port.is_none() {
        return Err(bad("a protocol needs a port"));
    }
    Ok(Dest {
        party: Party::parse(party),
        port,
        udp,
    })
}

/// The source, as typed.
pub fn parse_source(s: &str) -> Result<Party, TopologyError> {
    if s.is_empty() || s.contains('/') {
        return Err(TopologyError::BadEndpoint {
            what: "source",
            value: s.to_owned(),
            why: "it names no container, host, outside or address".into(),
        });
    }
    Ok(Party::parse(s))
}

/// The probe that was made.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeReport {
    /// The namespace it was made from.
    pub from: String,
    pub to: String,
    pub transport: Transport,
    pub outcome: Outcome,
}

/// The answer.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub reachable: bool,
    pub source: String,
    pub dest: String,
    /// What the model says, step by step.
    pub path: Vec<String>,
    /// The one-line conclusion.
    pub reason: String,
    /// The nftables rule the conclusion rests on, where there is one.
    pub rule: Option<String>,
    pub probe: Option<ProbeReport>,
}

/// What the model concluded before the probe.
struct Model {
    reachable: bool,
    path: Vec<String>,
    reason: String,
    rule: Option<String>,
    /// Where to probe from and to (none: nothing to try).
    probe_from: Option<(String, PathBuf)>,
    probe_to: Option<(IpAddr, u16)>,
}

/// A side resolved against the topology.
enum Side<'a> {
    Container(&'a ContainerView),
    Host(Option<IpAddr>),
    Outside(Option<IpAddr>),
}

fn resolve<'a>(
    topo: &'a Topology,
    p: &Party,
    what: &'static str,
) -> Result<Side<'a>, TopologyError> {
    match p {
        Party::Host => Ok(Side::Host(None)),
        Party::Outside => Ok(Side::Outside(None)),
        Party::Container(name) => topo.container(name).map(Side::Container).ok_or_else(|| {
            TopologyError::NotFound(format!("no such container: {name} (the {what})"))
        }),
        Party::Address(ip) => {
            if let Some(a) = topo
                .attachments
                .iter()
                .find(|a| a.endpoint.addresses().any(|x| x == *ip))
            {
                let c = topo
                    .containers
                    .iter()
                    .find(|c| c.id == a.container_id)
                    .expect("an endpoint's container is in the store");
                return Ok(Side::Container(c));
            }
            if ip.is_loopback()
                || topo
                    .host_links()
                    .iter()
                    .any(|l| l.addrs.iter().any(|a| a.addr() == *ip))
            {
                return Ok(Side::Host(Some(*ip)));
            }
            if let Some(n) = topo
                .networks
                .iter()
                .find(|n| n.subnets.iter().any(|s| s.subnet.contains(ip)))
            {
                return Err(TopologyError::NotFound(format!(
                    "no container has address {ip} (the {what}; it is in network {}'s subnet)",
                    n.name
                )));
            }
            if what == "source" {
                return Err(TopologyError::NotFound(format!(
                    "address {ip} is not a container's or the host's: a source must be one of them, or outside"
                )));
            }
            Ok(Side::Outside(Some(*ip)))
        }
    }
}

/// The network namespace file of a container, if it has one now.
fn netns_of(topo: &Topology, c: &ContainerView) -> Option<PathBuf> {
    let ino = c.netns?;
    if ino == topo.host {
        return Some(PathBuf::from("/proc/self/ns/net"));
    }
    topo.ns(ino).map(|n| n.path.clone())
}

/// The container whose endpoints a container uses (itself, or X for `container:X`).
fn endpoint_owner<'a>(topo: &'a Topology, c: &'a ContainerView) -> &'a ContainerView {
    c.network_mode
        .strip_prefix("container:")
        .and_then(|x| topo.container(x))
        .unwrap_or(c)
}

/// Explains and probes.
pub fn why(ctx: &Context, source: &Party, dest: &Dest) -> Result<Verdict, TopologyError> {
    let mut topo = Topology::scan(ctx)?;
    topo.read_published();
    let src = resolve(&topo, source, "source")?;
    let dst = resolve(&topo, &dest.party, "destination")?;
    let transport = match (dest.port, dest.udp) {
        (None, _) => Transport::Icmp,
        (Some(_), false) => Transport::Tcp,
        (Some(_), true) => Transport::Udp,
    };
    let m = model(&topo, &src, &dst, dest)?;
    let name = |s: &Side| match s {
        Side::Container(c) => format!("container {}", c.name),
        Side::Host(_) => "host".to_owned(),
        Side::Outside(Some(ip)) => format!("outside ({ip})"),
        Side::Outside(None) => "outside".to_owned(),
    };
    let mut v = Verdict {
        reachable: m.reachable,
        source: name(&src),
        dest: match dest.port {
            Some(p) => format!(
                "{} port {p}/{}",
                name(&dst),
                if dest.udp { "udp" } else { "tcp" }
            ),
            None => name(&dst),
        },
        path: m.path,
        reason: m.reason,
        rule: m.rule,
        probe: None,
    };
    if let (Some((from, netns)), Some((ip, port))) = (m.probe_from, m.probe_to) {
        let outcome = probe::attempt(&netns, transport, ip, port, PROBE_TIMEOUT)?;
        let to = match (transport, ip) {
            (Transport::Icmp, ip) => ip.to_string(),
            (_, IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
            (_, ip) => format!("{ip}:{port}"),
        };
        match (&outcome, v.reachable) {
            (Outcome::Reached, true) => {}
            (Outcome::Reached, false) => {
                v.reachable = true;
                v.reason = format!(
                    "the probe got through, though minotaur's model says otherwise ({}): something outside \
                     minotaur's table lets it through",
                    v.reason
                );
                v.rule = None;
            }
            (Outcome::Refused, true) => {
                v.reachable = false;
                v.reason = format!("nothing listens on {to}: the connection was refused");
                v.rule = None;
            }
            (Outcome::NoAnswer, true) if transport == Transport::Udp => {
                v.path.push(format!(
                    "no answer to a datagram to {to}: delivered to something silent, or dropped"
                ));
            }
            (Outcome::NoAnswer | Outcome::Unreachable(_), true) => {
                v.reachable = false;
                v.reason = format!(
                    "the probe to {to} {}: the model allows it, so something outside minotaur's rules \
                     (a host firewall, a route) stops it",
                    outcome.describe()
                );
                v.rule = None;
            }
            (_, false) => {}
        }
        v.probe = Some(ProbeReport {
            from,
            to,
            transport,
            outcome,
        });
    }
    Ok(v)
}

fn model(topo: &Topology, src: &Side, dst: &Side, dest: &Dest) -> Result<Model, TopologyError> {
    let port = dest.port;
    let proto = if dest.udp { "udp" } else { "tcp" };
    let mut m = Model {
        reachable: false,
        path: Vec::new(),
        reason: String::new(),
        rule: None,
        probe_from: None,
        probe_to: None,
    };
    let host_path = PathBuf::from("/proc/self/ns/net");
    let uplink_addr = || -> Option<IpAddr> {
        let oif = topo.routes.iter().find_map(|r| r.oif)?;
        topo.host_links()
            .iter()
            .find(|l| l.index == oif)?
            .addrs
            .iter()
            .map(|a| a.addr())
            .find(|a| a.is_ipv4())
    };
    let gateway = topo.routes.iter().find_map(|r| r.gateway);

    // Where the probe starts.
    match src {
        Side::Container(c) => {
            if c.network_mode == "none" {
                return Ok(Model {
                    reason: format!(
                        "{} has no network (--network none): only its own loopback",
                        c.name
                    ),
                    ..m
                });
            }
            let Some(ns) = netns_of(topo, c) else {
                return Ok(Model {
                    reason: format!(
                        "{} has no network namespace now (it is not running)",
                        c.name
                    ),
                    ..m
                });
            };
            m.probe_from = Some((format!("container {}", c.name), ns));
        }
        Side::Host(_) => m.probe_from = Some(("host".into(), host_path.clone())),
        Side::Outside(_) => {
            m.probe_from = Some((
                "host, towards its uplink address (standing in for outside)".into(),
                host_path.clone(),
            ))
        }
    }

    match (src, dst) {
        (Side::Outside(_), Side::Outside(_)) => {
            return Err(TopologyError::BadEndpoint {
                what: "destination",
                value: "outside".into(),
                why: "both sides are outside minotaur's host".into(),
            })
        }
        (Side::Container(s), Side::Container(d)) => {
            let s_own = endpoint_owner(topo, s);
            let d_own = endpoint_owner(topo, d);
            if s.netns.is_some() && s.netns == d.netns {
                m.path.push(format!(
                    "{} and {} share one network namespace",
                    s.name, d.name
                ));
                m.reachable = true;
                m.reason = "the same namespace: over its loopback".into();
                m.probe_to = Some(("127.0.0.1".parse().expect("literal"), port.unwrap_or(0)));
                return Ok(m);
            }
            if d.network_mode == "host" {
                return host_dest(topo, s, port, proto, m);
            }
            if d.network_mode == "none" {
                m.reason = format!("{} has no network (--network none)", d.name);
                return Ok(m);
            }
            let s_nets: Vec<_> = topo.endpoints_of(&s_own.id).collect();
            let d_nets: Vec<_> = topo.endpoints_of(&d_own.id).collect();
            let shared = d_nets
                .iter()
                .find(|da| s_nets.iter().any(|sa| sa.network == da.network));
            if let Some(da) = shared {
                let ip = da.endpoint.ipv4.or(da.endpoint.ipv6).map(|n| n.addr());
                m.path.push(format!(
                    "{} and {} are both on network {}",
                    s.name, d.name, da.network
                ));
                m.path.push(format!(
                    "{}'s name resolves in {} through the embedded resolver on network {}",
                    d.name, s.name, da.network
                ));
                m.reachable = true;
                m.reason = format!(
                    "one network ({}): its bridge forwards between them",
                    da.network
                );
                m.rule = Some(rule::cite("forward", rule::SAME_BRIDGE));
                m.probe_to = ip.map(|ip| (ip, port.unwrap_or(0)));
                return Ok(m);
            }
            let target = d_nets
                .first()
                .and_then(|a| a.endpoint.ipv4.or(a.endpoint.ipv6))
                .map(|n| n.addr());
            m.probe_to = target.map(|ip| (ip, port.unwrap_or(0)));
            let names = |v: &[&crate::network::Attachment]| {
                v.iter()
                    .map(|a| a.network.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            m.path.push(format!(
                "{} is on {}; {} is on {}: no network in common",
                s.name,
                or_none(&names(&s_nets)),
                d.name,
                or_none(&names(&d_nets))
            ));
            m.path
                .push(format!("{}'s name does not resolve in {}", d.name, s.name));
            let internal = |v: &[&crate::network::Attachment]| {
                v.iter()
                    .filter_map(|a| topo.network(&a.network))
                    .find(|n| n.internal)
                    .map(|n| n.name.clone())
            };
            if let (Some(n), true) = (
                internal(&s_nets),
                s_nets
                    .iter()
                    .all(|a| topo.network(&a.network).is_some_and(|n| n.internal)),
            ) {
                m.reason = format!(
                    "{} is on internal network {n}: nothing is forwarded out of its bridge",
                    s.name
                );
                m.rule = Some(rule::cite("forward", rule::INTERNAL_OUT));
            } else if let Some(n) = internal(&d_nets) {
                m.reason = format!(
                    "{} is on internal network {n}: nothing is forwarded into its bridge",
                    d.name
                );
                m.rule = Some(rule::cite("forward", rule::INTERNAL_IN));
            } else {
                m.reason = "networks are isolated from each other: traffic from one bridge to another is dropped".into();
                m.rule = Some(rule::cite("forward", rule::ISOLATION));
                if let Some(p) = port {
                    if let Some(r) = topo.published.iter().find(|r| {
                        r.container_port == p
                            && r.proto.to_string() == proto
                            && d_nets
                                .iter()
                                .any(|a| a.endpoint.addresses().any(|x| x == r.container_ip))
                    }) {
                        m.path.push(format!(
                            "{} publishes it as {}: connecting to the host's address on port {} crosses networks",
                            d.name, r, r.host_port
                        ));
                    }
                }
            }
        }
        (Side::Container(s), Side::Host(_)) => return host_dest(topo, s, port, proto, m),
        (Side::Container(s), Side::Outside(addr)) => {
            let own = endpoint_owner(topo, s);
            let nets: Vec<_> = topo.endpoints_of(&own.id).collect();
            let target = addr.or(gateway);
            m.probe_to = target.map(|ip| (ip, port.unwrap_or(0)));
            if s.network_mode == "host" {
                m.path.push(format!("{} uses the host's network", s.name));
            } else if !nets.is_empty()
                && nets
                    .iter()
                    .all(|a| topo.network(&a.network).is_some_and(|n| n.internal))
            {
                let n = &nets[0].network;
                m.reason = format!("{} is on internal network {n}: nothing leaves the host from it (no default route, and its bridge forwards nothing out)", s.name);
                m.rule = Some(rule::cite("forward", rule::INTERNAL_OUT));
                return Ok(m);
            } else if let Some(a) = nets
                .iter()
                .find(|a| topo.network(&a.network).is_some_and(|n| !n.internal))
            {
                m.path.push(format!(
                    "{} is on network {}, which is masqueraded on the way out",
                    s.name, a.network
                ));
                m.rule = Some(rule::cite("postrouting", rule::MASQUERADE4));
            }
            match gateway {
                Some(gw) => {
                    m.path.push(format!("the host routes it out via {gw}"));
                    m.reachable = true;
                    m.reason = "out through the host's default route, with NAT".into();
                }
                None => {
                    m.reason = "the host has no default route".into();
                    m.rule = None;
                }
            }
        }
        (Side::Host(_), Side::Container(d)) => {
            if d.network_mode == "none" {
                m.reason = format!("{} has no network (--network none)", d.name);
                return Ok(m);
            }
            if d.network_mode == "host" {
                m.reachable = true;
                m.reason = format!("{} uses the host's network: over the loopback", d.name);
                m.probe_to = Some(("127.0.0.1".parse().expect("literal"), port.unwrap_or(0)));
                return Ok(m);
            }
            let own = endpoint_owner(topo, d);
            let a = topo.endpoints_of(&own.id).next();
            let Some(a) = a else {
                m.reason = format!("{} has no address", d.name);
                return Ok(m);
            };
            let internal = topo.network(&a.network).is_some_and(|n| n.internal);
            m.path.push(format!(
                "{} is on network {}{}; the host sits on its bridge",
                d.name,
                a.network,
                if internal {
                    " (internal: the host still reaches it)"
                } else {
                    ""
                }
            ));
            m.reachable = true;
            m.reason = format!(
                "the host reaches {} directly on bridge {}",
                d.name,
                topo.network(&a.network)
                    .map(|n| n.bridge.clone())
                    .unwrap_or_default()
            );
            m.probe_to = a
                .endpoint
                .ipv4
                .or(a.endpoint.ipv6)
                .map(|n| (n.addr(), port.unwrap_or(0)));
        }
        (Side::Host(_), Side::Host(addr)) => {
            m.reachable = true;
            m.reason = "the host itself".into();
            m.probe_to = Some((
                addr.unwrap_or("127.0.0.1".parse().expect("literal")),
                port.unwrap_or(0),
            ));
        }
        (Side::Host(_), Side::Outside(addr)) => {
            let target = addr.or(gateway);
            m.probe_to = target.map(|ip| (ip, port.unwrap_or(0)));
            match gateway {
                Some(gw) => {
                    m.reachable = true;
                    m.reason = format!("through the host's default route via {gw}");
                }
                None => m.reason = "the host has no default route".into(),
            }
        }
        (Side::Outside(_), Side::Container(d)) => {
            let own = endpoint_owner(topo, d);
            let nets: Vec<_> = topo.endpoints_of(&own.id).collect();
            let Some(p) = port else {
                m.reason = format!(
                    "from outside, only published ports reach a container: name one of {}'s",
                    d.name
                );
                return Ok(m);
            };
            if nets
                .iter()
                .all(|a| topo.network(&a.network).is_some_and(|n| n.internal))
                && !nets.is_empty()
            {
                m.reason = format!(
                    "{} is on internal network {}: nothing can be published from it",
                    d.name, nets[0].network
                );
                m.rule = Some(rule::cite("forward", rule::INTERNAL_IN));
                return Ok(m);
            }
            let found = topo.published.iter().find(|r| {
                r.container_port == p
                    && r.proto.to_string() == proto
                    && nets
                        .iter()
                        .any(|a| a.endpoint.addresses().any(|x| x == r.container_ip))
            });
            match found {
                Some(r) => {
                    m.path
                        .push(format!("{} publishes {proto} port {p} as {r}", d.name));
                    m.reachable = true;
                    m.reason = format!(
                        "published: the host DNATs port {} to {}",
                        r.host_port, d.name
                    );
                    m.rule = Some(rule::cite(
                        "published",
                        if r.bound_ip().is_some() {
                            rule::DNAT4_HOST
                        } else {
                            rule::DNAT4
                        },
                    ));
                    let to = r.bound_ip().or_else(uplink_addr);
                    m.probe_to = to.map(|ip| (ip, r.host_port));
                }
                None => {
                    m.reason = format!("{proto} port {p} of {} is not published: from outside, only published ports reach a container", d.name);
                }
            }
        }
        (Side::Outside(_), Side::Host(_)) => {
            let Some(p) = port else {
                m.reachable = gateway.is_some();
                m.reason = if m.reachable {
                    "the host's uplink address".into()
                } else {
                    "the host has no uplink (no default route)".into()
                };
                m.probe_to = uplink_addr().map(|ip| (ip, 0));
                return Ok(m);
            };
            let to = uplink_addr();
            m.probe_to = to.map(|ip| (ip, p));
            if let Some(r) = topo
                .published
                .iter()
                .find(|r| r.host_port == p && r.proto.to_string() == proto)
            {
                let who = topo
                    .attachments
                    .iter()
                    .find(|a| a.endpoint.addresses().any(|x| x == r.container_ip))
                    .map(|a| a.container_name.clone())
                    .unwrap_or_else(|| r.container_ip.to_string());
                m.path
                    .push(format!("host port {p} is published to {who} ({r})"));
                m.reachable = true;
                m.reason = format!("published: the host DNATs port {p} to {who}");
                m.rule = Some(rule::cite(
                    "published",
                    if r.bound_ip().is_some() {
                        rule::DNAT4_HOST
                    } else {
                        rule::DNAT4
                    },
                ));
            } else {
                m.reachable = true;
                m.reason =
                    format!("port {p} is no published port: whatever listens on the host answers");
            }
        }
    }
    Ok(m)
}

/// A container towards the host (its gateway, or a published port on it).
fn host_dest(
    topo: &Topology,
    s: &ContainerView,
    port: Option<u16>,
    proto: &str,
    mut m: Model,
) -> Result<Model, TopologyError> {
    if s.network_mode == "host" {
        m.reachable = true;
        m.reason = format!("{} uses the host's network: over the loopback", s.name);
        m.probe_to = Some(("127.0.0.1".parse().expect("literal"), port.unwrap_or(0)));
        return Ok(m);
    }
    let own = endpoint_owner(topo, s);
    let Some(a) = topo.endpoints_of(&own.id).next() else {
        m.reason = format!("{} has no address", s.name);
        return Ok(m);
    };
    let gw = a.endpoint.gateway4.or(a.endpoint.gateway6).or_else(|| {
        topo.network(&a.network)
            .and_then(|n| n.subnets.first())
            .map(|s| s.gateway)
    });
    m.path.push(format!(
        "the host is {}'s gateway on network {}",
        s.name, a.network
    ));
    m.reachable = true;
    m.reason =
        "the host's address on the container's bridge (the input path; internal networks too)"
            .into();
    if let Some(p) = port {
        if let Some(r) = topo
            .published
            .iter()
            .find(|r| r.host_port == p && r.proto.to_string() == proto)
        {
            m.path.push(format!(
                "port {p} is published ({r}): the connection is DNATed back through the host"
            ));
            m.rule = Some(rule::cite("forward", rule::DNAT_ACCEPT));
        }
    }
    m.probe_to = gw.map(|ip| (ip, port.unwrap_or(0)));
    Ok(m)
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "no network".into()
    } else {
        format!("network {s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse() {
        let d = |s: &str| parse_dest(s).unwrap();
        assert_eq!(
            d("web"),
            Dest {
                party: Party::Container("web".into()),
                port: None,
                udp: false
            }
        );
        assert_eq!(
            d("web:80"),
            Dest {
                party: Party::Container("web".into()),
                port: Some(80),
                udp: false
            }
        );
        assert_eq!(
            d("10.0.0.2:53/udp"),
            Dest {
                party: Party::Address("10.0.0.2".parse().unwrap()),
                port: Some(53),
                udp: true
            }
        );
        assert_eq!(
            d("fd00::2"),
            Dest {
                party: Party::Address("fd00::2".parse().unwrap()),
                port: None,
                udp: false
            }
        );
        assert_eq!(
            d("[fd00::2]:80"),
            Dest {
                party: Party::Address("fd00::2".parse().unwrap()),
                port: Some(80),
                udp: false
            }
        );
        assert_eq!(
            d("host:8080"),
            Dest {
                party: Party::Host,
                port: Some(8080),
                udp: false
            }
        );
        assert_eq!(
            d("outside"),
            Dest {
                party: Party::Outside,
                port: None,
                udp: false
            }
        );
        for bad in ["web:0", "web:http", "web:80/sctp", "web/udp", ":80"] {
            assert!(parse_dest(bad).is_err(), "{bad}");
        }
        assert!(parse_source("a/b").is_err());
    }
}
