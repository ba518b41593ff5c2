//! `whois IP | IFACE | :PORT | PID | NS-INODE`: who owns an address, an interface, a host port, a process
//! or a namespace. Each answer is one or more [`Finding`]s (an interface name such as `eth0` is in every
//! container).
//!
//! How each is found:
//! - an address: on a link of the host (one address dump), else on an endpoint the store records
//!   (confirmed in that container's namespace alone), else on a link of any namespace (a scan);
//! - an interface: on the host (one link by name), else in any namespace (a scan); a veth's peer is the
//!   link its `IFLA_LINK` names in the namespace its `IFLA_LINK_NETNSID` names (for a minotaur veth, the
//!   namespace the store names, confirmed by the ID the kernel gives it; else every namespace's ID);
//! - a host port: the port maps of minotaur's firewall table (DNATed ports are not sockets, so `ss` on
//!   the host does not show them) with the sockets of the container it is published to, and the host's
//!   sockets; when no container publishes it, the sockets of every namespace;
//! - a PID: its cgroup and namespaces against the containers' (an `exec`ed process is in the container's
//!   namespaces and cgroup but is not PID 1's descendant);
//! - a namespace inode: a process or an nsfs mount that holds it (of this mount namespace first, then of
//!   every other), else the descriptors of every process.
//!
//! At a thousand containers a scan of every namespace costs ~0.1 s of CPU, most of it the kernel's, so
//! each question starts from the store ([`Topology::from_store`]) and reads only what it needs; what that
//! cannot answer is asked again of a full [`Topology::scan`].

use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use minotaur_firewall::PortRule;
use minotaur_net::sockets::{self, Listener, Protos};
use minotaur_net::{Link, Netlink};
use serde::Serialize;

use crate::context::Context;
use crate::parse::Proto;
use crate::topology::model::{ContainerView, NetNs, Topology, PROC};
use crate::topology::owner::{self, Owner};
use crate::topology::TopologyError;

mod process;

use process::{namespace, process};

/// The lowest inode the kernel gives a namespace (`PROC_DYNAMIC_FIRST` is above it; the initial
/// namespaces sit just below at 0xEFFFFFFB..): no PID comes near it (`pid_max` is at most 2^22).
const NS_INODE_MIN: u64 = 0xEFFF_FFF0;

/// What `whois` was asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    Address(IpAddr),
    Interface(String),
    Port { port: u16, proto: Option<Proto> },
    Pid(i32),
    Namespace(u64),
}

impl Query {
    /// `10.0.0.2`, `eth0`, `:8080`, `:53/udp`, `1234`, `4026532301` or `net:[4026532301]`.
    pub fn parse(s: &str) -> Result<Query, TopologyError> {
        let bad = || TopologyError::BadQuery(s.to_owned());
        if let Some(rest) = s.strip_prefix(':') {
            let (port, proto) = match rest.split_once('/') {
                Some((p, "tcp")) => (p, Some(Proto::Tcp)),
                Some((p, "udp")) => (p, Some(Proto::Udp)),
                Some(_) => return Err(bad()),
                None => (rest, None),
            };
            let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?;
            return Ok(Query::Port { port, proto });
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Query::Address(ip));
        }
        if let Some(inner) = s.split_once(":[").and_then(|(_, r)| r.strip_suffix(']')) {
            return inner.parse().map(Query::Namespace).map_err(|_| bad());
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let n: u64 = s.parse().map_err(|_| bad())?;
            return Ok(if n >= NS_INODE_MIN {
                Query::Namespace(n)
            } else {
                Query::Pid(i32::try_from(n).map_err(|_| bad())?)
            });
        }
        let valid_ifname = s.len() <= 15
            && !s.is_empty()
            && !s.contains(['/', ':'])
            && !s.chars().any(char::is_whitespace);
        if valid_ifname {
            Ok(Query::Interface(s.to_owned()))
        } else {
            Err(bad())
        }
    }
}

/// A container as an answer names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerRef {
    pub id: String,
    pub name: String,
    pub status: String,
}

/// A network namespace as an answer names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NsRef {
    pub inode: u64,
    pub path: PathBuf,
    pub owner: Owner,
}

/// An interface as an answer names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IfaceRef {
    pub name: String,
    pub index: u32,
    pub kind: String,
    pub mac: Option<String>,
    pub addrs: Vec<String>,
    /// The bridge it is a port of.
    pub bridge: Option<String>,
    /// The namespace it is in.
    pub netns: u64,
    pub owner: Owner,
}

/// A socket bound to a port, with the processes that hold it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListenerRef {
    pub proto: String,
    pub addr: String,
    pub port: u16,
    pub netns: u64,
    pub owner: Owner,
    /// `PID (COMMAND)` of each holder.
    pub processes: Vec<String>,
}

/// A process as an answer names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessRef {
    pub pid: i32,
    pub command: String,
    /// `PID 1`, `a child of PID 1`, `exec'd`, `supervisor`, or empty for a process of no container.
    pub role: String,
}

/// One thing `whois` found, with everything that owns it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What was found: `address 10.0.0.2`, `interface eth0`, `port tcp 8080`, `process 42`,
    /// `namespace net:[4026532301]`.
    pub what: String,
    pub owner: Option<Owner>,
    pub container: Option<ContainerRef>,
    pub networks: Vec<String>,
    pub netns: Option<NsRef>,
    pub interface: Option<IfaceRef>,
    pub peer: Option<IfaceRef>,
    /// Published ports, as `tcp *:8080 -> 10.0.0.2:80`.
    pub published: Vec<String>,
    pub listeners: Vec<ListenerRef>,
    pub process: Option<ProcessRef>,
    /// For a namespace: its processes and bind mounts.
    pub pids: Vec<i32>,
    pub mounts: Vec<PathBuf>,
    pub notes: Vec<String>,
}

/// Answers a query. The store and a few targeted reads answer most questions (see [`Topology::from_store`]):
/// the namespace of the container the store gives an address, port or veth, one link by name or index,
/// one namespace's processes. Only what that does not find (an address or interface of a namespace
/// minotaur did not make, a port nobody publishes, a process in such a namespace) scans every namespace.
pub fn whois(ctx: &Context, query: &Query) -> Result<Vec<Finding>, TopologyError> {
    let mut topo = Topology::from_store(ctx)?;
    let mut found = answer(&mut topo, query)?;
    if found.is_none() {
        topo = Topology::scan(ctx)?;
        found = answer(&mut topo, query)?;
    }
    let found = found.unwrap_or_default();
    if found.is_empty() {
        return Err(not_found(&topo, query));
    }
    Ok(found)
}

/// The findings, or `None` when a topology that was not scanned cannot tell.
fn answer(topo: &mut Topology, query: &Query) -> Result<Option<Vec<Finding>>, TopologyError> {
    Ok(match query {
        Query::Address(ip) => address(topo, *ip)?,
        Query::Interface(name) => interface(topo, name)?,
        Query::Port { port, proto } => {
            if topo.published.is_empty() {
                topo.read_published();
            }
            port_owner(topo, *port, *proto)?
        }
        Query::Pid(pid) => process(topo, *pid)?.map(|f| vec![f]),
        Query::Namespace(ino) => Some(vec![namespace(topo, *ino)?]),
    })
}

/// Reads the links of namespace `ino` through a socket opened in it, and the host's ends of its veths,
/// each confirmed from the host's side: the host link at the veth's `IFLA_LINK` must name this namespace
/// (by the ID the host gives it) and this veth as its peer.
fn read_ns(topo: &mut Topology, ino: u64, host: &mut Netlink) {
    let Some(path) = topo.ns(ino).map(|n| n.path.clone()) else {
        return;
    };
    let links = match Netlink::open_in(&path).and_then(|mut nl| nl.links()) {
        Ok(l) => l,
        Err(e) => {
            log::debug!(
                "cannot read the links of {}: {}",
                path.display(),
                crate::error_chain(&e)
            );
            Vec::new()
        }
    };
    let nsid = File::open(&path)
        .ok()
        .and_then(|f| host.nsid_of(&f).ok().flatten());
    let mut ends = Vec::new();
    for l in &links {
        let (Some(peer), Some(_), Some(id)) = (l.link, l.link_netnsid, nsid) else {
            continue;
        };
        if let Ok(Some(h)) = host.link(peer) {
            if h.link_netnsid == Some(id) && h.link == Some(l.index) {
                ends.extend(h.master.and_then(|m| host.link(m).ok().flatten()));
                ends.push(h);
            }
        }
    }
    topo.set_ns_links(ino, links, nsid);
    topo.add_host_links(ends);
}

fn not_found(topo: &Topology, query: &Query) -> TopologyError {
    match query {
        Query::Address(ip) => {
            match topo
                .networks
                .iter()
                .find(|n| n.subnets.iter().any(|s| s.subnet.contains(ip)))
            {
                Some(n) => TopologyError::NotFound(format!(
                    "no container or interface has address {ip} (it is in network {}'s subnet)",
                    n.name
                )),
                None => TopologyError::NotFound(format!(
                    "no interface of any network namespace has address {ip}"
                )),
            }
        }
        Query::Interface(name) => TopologyError::NotFound(format!(
            "no network namespace has an interface named {name}"
        )),
        Query::Port { port, proto } => TopologyError::NothingListens(match proto {
            Some(p) => format!("{port}/{}", p.as_str()),
            None => port.to_string(),
        }),
        Query::Pid(pid) => TopologyError::NotFound(format!("no process with PID {pid}")),
        Query::Namespace(ino) => TopologyError::NotFound(format!("no namespace with inode {ino}")),
    }
}

fn container_ref(c: &ContainerView) -> ContainerRef {
    ContainerRef {
        id: c.id.clone(),
        name: c.name.clone(),
        status: c.status.clone(),
    }
}

fn ns_ref(ns: &NetNs) -> NsRef {
    NsRef {
        inode: ns.inode,
        path: ns.path.clone(),
        owner: ns.owner.clone(),
    }
}

fn iface_ref(ns: &NetNs, l: &Link) -> IfaceRef {
    let bridge = l.master.and_then(|m| {
        ns.links
            .as_ref()?
            .iter()
            .find(|x| x.index == m)
            .map(|x| x.name.clone())
    });
    IfaceRef {
        name: l.name.clone(),
        index: l.index,
        kind: l.kind.clone(),
        mac: l.mac.clone(),
        addrs: l.addrs.iter().map(|a| a.to_string()).collect(),
        bridge,
        netns: ns.inode,
        owner: ns.owner.clone(),
    }
}

/// The container and networks of a namespace's owner.
fn owned_by(topo: &Topology, ns: &NetNs, f: &mut Finding) {
    f.owner = Some(ns.owner.clone());
    f.netns = Some(ns_ref(ns));
    if let Owner::Container { id, .. } = &ns.owner {
        if let Some(c) = topo.containers.iter().find(|c| &c.id == id) {
            f.container = Some(container_ref(c));
            f.networks = topo.endpoints_of(id).map(|a| a.network.clone()).collect();
            if ns.containers.len() > 1 {
                f.notes.push(format!(
                    "shared with: {}",
                    ns.containers
                        .iter()
                        .filter(|n| **n != c.name)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
}

/// A finding for link `l` of namespace `ns`, with its veth peer.
fn link_finding(topo: &Topology, ns: &NetNs, l: &Link, what: String) -> Finding {
    let mut f = Finding {
        what,
        interface: Some(iface_ref(ns, l)),
        ..Finding::default()
    };
    owned_by(topo, ns, &mut f);
    if ns.inode == topo.host {
        // A bridge of a minotaur network, or a port of one.
        if let Some(n) = topo
            .networks
            .iter()
            .find(|n| n.bridge == l.name)
            .or_else(|| l.master.and_then(|m| topo.network_of_bridge(m)))
        {
            f.networks = vec![n.name.clone()];
        }
        if let Some((peer_ns, peer)) = topo.peer_of_host_link(l) {
            owned_by(topo, peer_ns, &mut f);
            f.netns = Some(ns_ref(peer_ns));
            if let Some(p) = peer {
                f.peer = Some(iface_ref(peer_ns, p));
            }
        }
    } else if let Some(h) = topo.host_peer(ns, l) {
        f.peer = Some(iface_ref(topo.host_ns().expect("host"), h));
    } else if let (Some(peer), None) = (l.link, l.link_netnsid) {
        if let Some(p) = ns
            .links
            .as_ref()
            .and_then(|ls| ls.iter().find(|x| x.index == peer))
        {
            f.peer = Some(iface_ref(ns, p));
        }
    }
    f
}

fn address(topo: &mut Topology, ip: IpAddr) -> Result<Option<Vec<Finding>>, TopologyError> {
    let what = format!("address {ip}");
    if topo.complete() {
        // Every namespace's links.
        topo.read_links(None);
        return Ok(Some(find_address(topo, ip, &what, None)));
    }
    // The host's links that carry it, and the namespaces of the containers the store gives it.
    let mut nl = Netlink::open()?;
    let on_host = nl.links_with_address(ip)?;
    if on_host.iter().any(|l| l.link_netnsid.is_some()) {
        // A host veth with the address: its peer's namespace is for the scan to find.
        return Ok(None);
    }
    let masters: Vec<Link> = on_host
        .iter()
        .filter_map(|l| l.master)
        .filter_map(|m| nl.link(m).ok().flatten())
        .collect();
    topo.add_host_links(on_host.into_iter().chain(masters));
    let holders: Vec<usize> = topo
        .attachments
        .iter()
        .filter(|a| a.endpoint.addresses().any(|x| x == ip))
        .filter_map(|a| topo.position(&a.container_id))
        .collect();
    let mut first: Vec<u64> = vec![topo.host];
    for i in holders {
        if let Some(ino) = topo.container_ns(i) {
            if !first.contains(&ino) {
                read_ns(topo, ino, &mut nl);
                first.push(ino);
            }
        }
    }
    let found = find_address(topo, ip, &what, Some(&first));
    Ok((!found.is_empty()).then_some(found))
}

fn find_address(topo: &Topology, ip: IpAddr, what: &str, only: Option<&[u64]>) -> Vec<Finding> {
    let mut out = Vec::new();
    for ns in &topo.netns {
        if only.is_some_and(|o| !o.contains(&ns.inode)) {
            continue;
        }
        for l in ns.links.iter().flatten() {
            if l.addrs.iter().any(|a| a.addr() == ip) {
                let mut f = link_finding(topo, ns, l, what.to_owned());
                if let Some(n) = topo.networks.iter().find(|n| n.bridge == l.name) {
                    f.notes
                        .push(format!("the gateway of network {} (its bridge)", n.name));
                }
                out.push(f);
            }
        }
    }
    out
}

fn interface(topo: &mut Topology, name: &str) -> Result<Option<Vec<Finding>>, TopologyError> {
    let what = format!("interface {name}");
    if topo.complete() {
        topo.read_links(None);
        let mut out = Vec::new();
        for ns in &topo.netns {
            for l in ns.links.iter().flatten().filter(|l| l.name == name) {
                out.push(link_finding(topo, ns, l, what.clone()));
            }
        }
        return Ok(Some(out));
    }
    let mut nl = Netlink::open()?;
    let Some(l) = nl.link_named(name)? else {
        // Not the host's: it may be in any namespace.
        return Ok(None);
    };
    let master = l.master.and_then(|m| nl.link(m).ok().flatten());
    if let Some(nsid) = l.link_netnsid {
        // The store says which container's namespace a minotaur veth leads to; the kernel's ID confirms
        // it. Anything else is for the scan, which asks every namespace's ID.
        let guess = topo
            .attachments
            .iter()
            .find(|a| a.endpoint.host_veth == name)
            .and_then(|a| topo.position(&a.container_id));
        let Some(ino) = guess.and_then(|i| topo.container_ns(i)) else {
            return Ok(None);
        };
        read_ns(topo, ino, &mut nl);
        if topo.ns(ino).and_then(|n| n.nsid) != Some(nsid) {
            return Ok(None);
        }
    }
    topo.add_host_links([l.clone()].into_iter().chain(master));
    let ns = topo.host_ns().expect("host");
    Ok(Some(vec![link_finding(topo, ns, &l, what)]))
}

/// The listeners of namespaces (`protos` of them), each read from inside it; a namespace that cannot be
/// read (gone meanwhile) has none.
fn listeners_of(nss: &[&NetNs], protos: Protos) -> Vec<Vec<Listener>> {
    let paths: Vec<&Path> = nss.iter().map(|n| n.path.as_path()).collect();
    minotaur_net::in_each_netns(&paths, 2, |_| sockets::listening(protos))
        .into_iter()
        .zip(nss)
        .map(|(r, ns)| {
            r.unwrap_or_else(|e| {
                log::debug!(
                    "cannot read the sockets of {}: {}",
                    ns.path.display(),
                    crate::error_chain(&e)
                );
                Vec::new()
            })
        })
        .collect()
}

fn listener_ref(topo: &mut Topology, inode: u64, l: &Listener) -> ListenerRef {
    let proc = Path::new(PROC);
    let pids = topo.pids_of(inode);
    let owner = topo.ns(inode).map_or(Owner::Host, |n| n.owner.clone());
    ListenerRef {
        proto: l.proto.to_owned(),
        addr: l.addr.to_string(),
        port: l.port,
        netns: inode,
        owner,
        processes: sockets::holders(proc, &pids, l.inode)
            .into_iter()
            .map(|(pid, _)| format!("{pid} ({})", owner::command(proc, pid)))
            .collect(),
    }
}

fn port_owner(
    topo: &mut Topology,
    port: u16,
    proto: Option<Proto>,
) -> Result<Option<Vec<Finding>>, TopologyError> {
    let proto_ok = |p: &str| proto.is_none_or(|want| want.as_str() == p);
    let protos = Protos {
        tcp: proto_ok("tcp"),
        udp: proto_ok("udp"),
    };
    let mut out = Vec::new();
    let mut seen_ns: Vec<u64> = Vec::new();
    let live: Vec<PortRule> = topo
        .published
        .iter()
        .filter(|r| r.host_port == port && proto_ok(&r.proto.to_string()))
        .cloned()
        .collect();
    if live.is_empty() && !topo.complete() {
        // Nobody publishes it: every namespace's sockets are asked.
        return Ok(None);
    }
    for rule in &live {
        let mut f = Finding {
            what: format!("port {} {}", rule.proto, port),
            published: vec![rule.to_string()],
            ..Finding::default()
        };
        let holder = topo
            .attachments
            .iter()
            .find(|a| a.endpoint.addresses().any(|x| x == rule.container_ip))
            .and_then(|a| topo.position(&a.container_id));
        let ns = holder.and_then(|i| topo.container_ns(i));
        match ns {
            Some(ino) => {
                let ns = topo.ns(ino).expect("added").clone();
                owned_by(topo, &ns, &mut f);
                let inside: Vec<Listener> = listeners_of(&[&ns], protos)
                    .concat()
                    .into_iter()
                    .filter(|l| {
                        l.port == rule.container_port
                            && l.proto == rule.proto.to_string()
                            && (l.addr.is_unspecified() || l.addr == rule.container_ip)
                    })
                    .collect();
                if inside.is_empty() {
                    f.notes.push(format!(
                        "nothing listens on {} port {} inside the container",
                        rule.proto, rule.container_port
                    ));
                }
                f.listeners = inside.iter().map(|l| listener_ref(topo, ino, l)).collect();
                seen_ns.push(ino);
            }
            None => f.notes.push(format!(
                "no container has address {} (a stale rule)",
                rule.container_ip
            )),
        }
        out.push(f);
    }
    // Sockets bound to the port in the host's namespace, and when no container publishes it, in every other
    // one (a process's port in its own namespace is not the host's, but it is what `ss -N` shows there).
    let others: Vec<NetNs> = topo
        .netns
        .iter()
        .filter(|n| !seen_ns.contains(&n.inode) && (live.is_empty() || n.inode == topo.host))
        .cloned()
        .collect();
    let refs: Vec<&NetNs> = others.iter().collect();
    for (ns, listeners) in others.iter().zip(listeners_of(&refs, protos)) {
        for l in listeners
            .iter()
            .filter(|l| l.port == port && proto_ok(l.proto))
        {
            let mut f = Finding {
                what: format!("port {} {}", l.proto, port),
                ..Finding::default()
            };
            owned_by(topo, ns, &mut f);
            if ns.inode != topo.host {
                f.notes.push(format!(
                    "a socket inside {}, not on the host's addresses",
                    ns.owner
                ));
            }
            f.listeners = vec![listener_ref(topo, ns.inode, l)];
            out.push(f);
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_by_their_shape() {
        let q = |s: &str| Query::parse(s).unwrap();
        assert_eq!(q("10.0.0.2"), Query::Address("10.0.0.2".parse().unwrap()));
        assert_eq!(q("fd00::2"), Query::Address("fd00::2".parse().unwrap()));
        assert_eq!(
            q(":8080"),
            Query::Port {
                port: 8080,
                proto: None
            }
        );
        assert_eq!(
            q(":53/udp"),
            Query::Port {
                port: 53,
                proto: Some(Proto::Udp)
            }
        );
        assert_eq!(q("1234"), Query::Pid(1234));
        assert_eq!(q("4026532301"), Query::Namespace(4026532301));
        assert_eq!(q("net:[4026532301]"), Query::Namespace(4026532301));
        assert_eq!(q("mt3f2a1b0"), Query::Interface("mt3f2a1b0".into()));
        for bad in [
            ":0",
            ":x",
            ":80/sctp",
            "",
            "a/b",
            "much-too-long-ifname",
            "two words",
        ] {
            let e = Query::parse(bad).unwrap_err();
            assert!(e.to_string().contains("is not an address"), "{bad}: {e}");
        }
    }
}
