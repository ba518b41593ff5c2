//! `whois IP | IFACE | :PORT | PID | NS-INODE`: who owns an address, an interface, a host port, a process
//! or a namespace. Each answer is one or more [`Finding`]s (an interface name such as `eth0` is in every
//! container).
//!
//! How each is found:
//! - an address: on a link of the host, else on an endpoint the store records (confirmed in the
//!   container's namespace), else on a link of any namespace;
//! - an interface: in the host's namespace, else in any; a veth's peer is the link its `IFLA_LINK` names in
//!   the namespace its `IFLA_LINK_NETNSID` names;
//! - a host port: the port maps of minotaur's firewall table (DNATed ports are not sockets, so `ss` on
//!   the host does not show them), then the listening sockets of the host and of every namespace;
//! - a PID: its cgroup and namespaces against the containers' (an `exec`ed process is in the container's
//!   namespaces and cgroup but is not PID 1's descendant);
//! - a namespace inode: every namespace of any kind that a process or an nsfs mount holds, else the
//!   descriptors of every process.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use minotaur_firewall::PortRule;
use minotaur_net::sockets::{self, Listener, Protos};
use minotaur_net::Link;
use minotaur_ns::{NsId, NsKind};
use serde::Serialize;

use crate::context::Context;
use crate::parse::Proto;
use crate::topology::model::{ContainerView, NetNs, Topology, PROC};
use crate::topology::owner::{self, Owner};
use crate::topology::TopologyError;

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

/// Answers a query.
pub fn whois(ctx: &Context, query: &Query) -> Result<Vec<Finding>, TopologyError> {
    let mut topo = Topology::scan(ctx)?;
    let found = match query {
        Query::Address(ip) => address(&mut topo, *ip)?,
        Query::Interface(name) => interface(&mut topo, name),
        Query::Port { port, proto } => {
            topo.read_published();
            port_owner(&topo, *port, *proto)?
        }
        Query::Pid(pid) => vec![process(&topo, *pid)?],
        Query::Namespace(ino) => vec![namespace(&mut topo, *ino)?],
    };
    if found.is_empty() {
        return Err(not_found(&topo, query));
    }
    Ok(found)
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

fn address(topo: &mut Topology, ip: IpAddr) -> Result<Vec<Finding>, TopologyError> {
    let what = format!("address {ip}");
    // The namespaces to look in first: the host's, and those of containers the store gives the address.
    let mut first: Vec<u64> = vec![topo.host];
    for a in &topo.attachments {
        if a.endpoint.addresses().any(|x| x == ip) {
            if let Some(ino) = topo
                .containers
                .iter()
                .find(|c| c.id == a.container_id)
                .and_then(|c| c.netns)
            {
                first.push(ino);
            }
        }
    }
    topo.read_links(Some(&first));
    let mut found = find_address(topo, ip, &what, Some(&first));
    if found.is_empty() {
        topo.read_links(None);
        found = find_address(topo, ip, &what, None);
    }
    Ok(found)
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

fn interface(topo: &mut Topology, name: &str) -> Vec<Finding> {
    let what = format!("interface {name}");
    let host = topo.host_links().iter().find(|l| l.name == name).cloned();
    if let Some(l) = host {
        // The peer's namespace, to name the peer: the store says which container's a minotaur veth leads
        // to, and the kernel's ID confirms it; failing that, every namespace's ID is asked.
        if let Some(nsid) = l.link_netnsid {
            let guess = topo
                .attachments
                .iter()
                .find(|a| a.endpoint.host_veth == name)
                .and_then(|a| topo.containers.iter().find(|c| c.id == a.container_id))
                .and_then(|c| c.netns);
            if let Some(ino) = guess {
                topo.read_nsids(Some(&[ino]));
            }
            if topo.ns_by_nsid(nsid).is_none() {
                topo.read_nsids(None);
            }
            if let Some(ino) = topo.ns_by_nsid(nsid).map(|n| n.inode) {
                topo.read_links(Some(&[ino]));
            }
        }
        let ns = topo.host_ns().expect("host");
        return vec![link_finding(topo, ns, &l, what)];
    }
    topo.read_links(None);
    let mut out = Vec::new();
    for ns in &topo.netns {
        for l in ns.links.iter().flatten().filter(|l| l.name == name) {
            out.push(link_finding(topo, ns, l, what.clone()));
        }
    }
    out
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

fn listener_ref(ns: &NetNs, l: &Listener) -> ListenerRef {
    let proc = Path::new(PROC);
    ListenerRef {
        proto: l.proto.to_owned(),
        addr: l.addr.to_string(),
        port: l.port,
        netns: ns.inode,
        owner: ns.owner.clone(),
        processes: sockets::holders(proc, &ns.pids, l.inode)
            .into_iter()
            .map(|(pid, _)| format!("{pid} ({})", owner::command(proc, pid)))
            .collect(),
    }
}

fn port_owner(
    topo: &Topology,
    port: u16,
    proto: Option<Proto>,
) -> Result<Vec<Finding>, TopologyError> {
    let proto_ok = |p: &str| proto.is_none_or(|want| want.as_str() == p);
    let protos = Protos {
        tcp: proto_ok("tcp"),
        udp: proto_ok("udp"),
    };
    let mut out = Vec::new();
    let mut seen_ns: Vec<u64> = Vec::new();
    let live: Vec<&PortRule> = topo
        .published
        .iter()
        .filter(|r| r.host_port == port && proto_ok(&r.proto.to_string()))
        .collect();
    for rule in &live {
        let mut f = Finding {
            what: format!("port {} {}", rule.proto, port),
            published: vec![rule.to_string()],
            ..Finding::default()
        };
        let holder = topo
            .attachments
            .iter()
            .find(|a| a.endpoint.addresses().any(|x| x == rule.container_ip));
        let ns = holder
            .and_then(|a| topo.containers.iter().find(|c| c.id == a.container_id))
            .and_then(|c| c.netns)
            .and_then(|ino| topo.ns(ino));
        match ns {
            Some(ns) => {
                owned_by(topo, ns, &mut f);
                let inside: Vec<ListenerRef> = listeners_of(&[ns], protos)
                    .concat()
                    .iter()
                    .filter(|l| {
                        l.port == rule.container_port
                            && l.proto == rule.proto.to_string()
                            && (l.addr.is_unspecified() || l.addr == rule.container_ip)
                    })
                    .map(|l| listener_ref(ns, l))
                    .collect();
                if inside.is_empty() {
                    f.notes.push(format!(
                        "nothing listens on {} port {} inside the container",
                        rule.proto, rule.container_port
                    ));
                }
                f.listeners = inside;
                seen_ns.push(ns.inode);
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
    let others: Vec<&NetNs> = topo
        .netns
        .iter()
        .filter(|n| !seen_ns.contains(&n.inode) && (live.is_empty() || n.inode == topo.host))
        .collect();
    for (ns, listeners) in others.iter().zip(listeners_of(&others, protos)) {
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
            f.listeners = vec![listener_ref(ns, l)];
            out.push(f);
        }
    }
    Ok(out)
}

/// The PPID of a process.
fn ppid(proc: &Path, pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(proc.join(format!("{pid}/stat"))).ok()?;
    stat.get(stat.rfind(')')? + 2..)?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

fn process(topo: &Topology, pid: i32) -> Result<Finding, TopologyError> {
    let proc = Path::new(PROC);
    let dir = proc.join(pid.to_string());
    if pid <= 0 || !dir.join("stat").exists() {
        return Err(TopologyError::NotFound(format!(
            "no process with PID {pid}"
        )));
    }
    let ns_of = |p: i32, kind: NsKind| NsId::of_path(kind.proc_path(p)).ok();
    let own_pidns = ns_of(pid, NsKind::Pid);
    let host_pidns = ns_of(1, NsKind::Pid);
    let cgroup = fs::read_to_string(dir.join("cgroup")).unwrap_or_default();
    let mut f = Finding {
        what: format!("process {pid}"),
        ..Finding::default()
    };
    let mut role = String::new();
    let container = topo.containers.iter().find(|c| {
        if c.pid == Some(pid) {
            role = "PID 1".to_owned();
            return true;
        }
        if c.supervisor
            .is_some_and(|(p, start)| p == pid && crate::process::alive(p, start))
        {
            role = "supervisor".to_owned();
            return true;
        }
        let in_cgroup = cgroup.contains(&format!("/{}", c.id));
        let same_pidns = !in_cgroup
            && own_pidns.is_some()
            && own_pidns != host_pidns
            && c.pid.is_some_and(|p1| ns_of(p1, NsKind::Pid) == own_pidns);
        if !(in_cgroup || same_pidns) {
            return false;
        }
        // PID 1's descendants are its children; anything else there came in by `exec`.
        let mut p = pid;
        let mut child = false;
        for _ in 0..64 {
            match ppid(proc, p) {
                Some(pp) if Some(pp) == c.pid => {
                    child = true;
                    break;
                }
                Some(pp) if pp > 1 => p = pp,
                _ => break,
            }
        }
        role = if child { "a child of PID 1" } else { "exec'd" }.to_owned();
        true
    });
    f.process = Some(ProcessRef {
        pid,
        command: owner::command(proc, pid),
        role,
    });
    let net = ns_of(pid, NsKind::Net).map(|id| id.ino);
    if let Some(ns) = net.and_then(|ino| topo.ns(ino)) {
        owned_by(topo, ns, &mut f);
    }
    if let Some(c) = container {
        f.container = Some(container_ref(c));
        f.owner = Some(Owner::Container {
            id: c.id.clone(),
            name: c.name.clone(),
        });
        if f.networks.is_empty() {
            f.networks = topo
                .endpoints_of(&c.id)
                .map(|a| a.network.clone())
                .collect();
        }
    }
    Ok(f)
}

fn namespace(topo: &mut Topology, ino: u64) -> Result<Finding, TopologyError> {
    let proc = Path::new(PROC);
    // Its own mount table first; the tables of every other mount namespace only if that did not find it.
    let mut all = minotaur_ns::discover_with(proc, &[], false)?;
    if !all.iter().any(|n| n.id.ino == ino) {
        all = minotaur_ns::discover(proc, &[])?;
    }
    let mut f = Finding::default();
    if let Some(ns) = all.iter().find(|n| n.id.ino == ino) {
        f.what = format!("namespace {}:[{ino}]", ns.kind.name());
        f.pids = ns.pids.clone();
        f.mounts = ns.mounts.iter().map(|m| m.path.clone()).collect();
        let host_same = NsId::of_path(proc.join(format!("self/ns/{}", ns.kind.name())))
            .is_ok_and(|id| id == ns.id);
        let container = topo.containers.iter().find(|c| {
            let by_pid = c
                .pid
                .is_some_and(|p| NsId::of_path(ns.kind.proc_path(p)).is_ok_and(|id| id == ns.id));
            let by_net = ns.kind == NsKind::Net && c.netns == Some(ino);
            by_pid || by_net
        });
        f.owner = Some(if host_same {
            Owner::Host
        } else if let Some(c) = container {
            Owner::Container {
                id: c.id.clone(),
                name: c.name.clone(),
            }
        } else {
            owner::foreign(proc, &ns.mounts, &ns.pids, &[]).unwrap_or(Owner::Mount {
                path: ns.path.clone(),
            })
        });
        if let Some(c) = container.filter(|_| !host_same) {
            f.container = Some(container_ref(c));
            f.networks = topo
                .endpoints_of(&c.id)
                .map(|a| a.network.clone())
                .collect();
        }
    } else {
        let holders = minotaur_ns::discover::fd_holders(proc, ino)?;
        let Some(h) = holders.first() else {
            return Err(TopologyError::NotFound(format!(
                "no namespace with inode {ino}"
            )));
        };
        f.what = format!("namespace {}:[{ino}]", h.kind.name());
        f.owner = Some(Owner::Descriptor {
            pid: h.pid,
            fd: h.fd,
            command: owner::command(proc, h.pid),
        });
        if h.kind == NsKind::Net && topo.ns(ino).is_none() {
            // Not found by the scan: add it so its links are read like any other.
            topo.netns.push(NetNs {
                inode: ino,
                path: h.path.clone(),
                pids: Vec::new(),
                mounts: Vec::new(),
                owner: f.owner.clone().expect("set above"),
                containers: Vec::new(),
                nsid: None,
                links: None,
            });
            topo.reindex();
        }
    }
    if let Some(ns) = topo.ns(ino).map(|n| n.inode) {
        topo.read_links(Some(&[ns]));
        let ns = topo.ns(ino).expect("present");
        f.netns = Some(ns_ref(ns));
        let names: Vec<String> = ns
            .links
            .iter()
            .flatten()
            .map(|l| {
                let addrs: Vec<String> = l.addrs.iter().map(|a| a.to_string()).collect();
                if addrs.is_empty() {
                    l.name.clone()
                } else {
                    format!("{} {}", l.name, addrs.join(" "))
                }
            })
            .collect();
        if !names.is_empty() {
            f.notes.push(format!("interfaces: {}", names.join(", ")));
        }
    }
    Ok(f)
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
