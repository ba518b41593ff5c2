//! `graph`: the topology as nodes and edges, for the CLI's renderers (text, DOT, SVG, Mermaid, JSON).
//!
//! Nodes are the outside world (behind the host's default route), network namespaces (the host's,
//! containers', and with `--all` foreign ones), their interfaces, minotaur's networks, containers and
//! published ports. Edges say how they hang together:
//!
//! | edge | from → to |
//! |---|---|
//! | `has` | a namespace → an interface in it |
//! | `in` | a container → the namespace it uses (`container:X` joiners and `--network host` ones too) |
//! | `veth` | an interface → its veth peer, from `IFLA_LINK`/`IFLA_LINK_NETNSID` (once per pair) |
//! | `port-of` | a bridge port → its bridge |
//! | `bridge` | a network → its bridge |
//! | `route` | the host's uplink → the outside (its default route) |
//! | `publishes` | a published port → the container it is DNATed to |

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::context::Context;
use crate::topology::model::{NetNs, Topology};
use crate::topology::TopologyError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    Outside,
    Netns,
    Interface,
    Network,
    Container,
    Port,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Unique and stable within one graph: `ns:INODE`, `if:INODE:IFINDEX`, `net:NAME`, `c:ID`,
    /// `port:PROTO:ADDR:PORT`, `outside`.
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    pub details: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    Has,
    In,
    Veth,
    PortOf,
    Bridge,
    Route,
    Publishes,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    pub label: Option<String>,
}

/// A picture of the topology.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Node ID → position in `nodes`, and the edges out of and into each node, so that walking a graph of
    /// thousands of nodes costs what it has edges, not nodes times edges.
    #[serde(skip)]
    by_id: HashMap<String, usize>,
    #[serde(skip)]
    outs: HashMap<String, Vec<usize>>,
    #[serde(skip)]
    ins: HashMap<String, Vec<usize>>,
}

impl Graph {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.get(*self.by_id.get(id)?)
    }

    /// The targets of `from`'s edges of kind `kind`, in order.
    pub fn out(&self, from: &str, kind: EdgeKind) -> impl Iterator<Item = (&Edge, &Node)> + '_ {
        self.outs
            .get(from)
            .into_iter()
            .flatten()
            .map(|&i| &self.edges[i])
            .filter(move |e| e.kind == kind)
            .filter_map(|e| Some((e, self.node(&e.to)?)))
    }

    /// The sources of edges of kind `kind` into `to`, in order.
    pub fn into(&self, to: &str, kind: EdgeKind) -> impl Iterator<Item = (&Edge, &Node)> + '_ {
        self.ins
            .get(to)
            .into_iter()
            .flatten()
            .map(|&i| &self.edges[i])
            .filter(move |e| e.kind == kind)
            .filter_map(|e| Some((e, self.node(&e.from)?)))
    }

    /// The other end of a veth.
    pub fn veth_peer(&self, id: &str) -> Option<&Node> {
        self.out(id, EdgeKind::Veth)
            .map(|(_, n)| n)
            .chain(self.into(id, EdgeKind::Veth).map(|(_, n)| n))
            .next()
    }

    fn add(&mut self, id: String, kind: NodeKind, label: String, details: Vec<String>) {
        if !self.by_id.contains_key(&id) {
            self.by_id.insert(id.clone(), self.nodes.len());
            self.nodes.push(Node {
                id,
                kind,
                label,
                details,
            });
        }
    }

    fn link(&mut self, from: &str, to: &str, kind: EdgeKind, label: Option<String>) {
        let i = self.edges.len();
        self.outs.entry(from.to_owned()).or_default().push(i);
        self.ins.entry(to.to_owned()).or_default().push(i);
        self.edges.push(Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            kind,
            label,
        });
    }
}

/// What to draw.
#[derive(Clone, Debug, Default)]
pub struct GraphOptions {
    /// Only this network, its containers and their ports.
    pub network: Option<String>,
    /// Foreign namespaces too (`ip netns` names, other engines', processes').
    pub all: bool,
}

pub fn ns_id(ino: u64) -> String {
    format!("ns:{ino}")
}

fn if_id(ino: u64, index: u32) -> String {
    format!("if:{ino}:{index}")
}

/// Scans the machine and draws it.
pub fn graph(ctx: &Context, opts: &GraphOptions) -> Result<Graph, TopologyError> {
    // Foreign namespaces are drawn only with --all: without it, the containers' namespaces are known from
    // the store, and `/proc` is not scanned.
    let mut topo = if opts.all {
        Topology::scan_with(ctx, true)?
    } else {
        Topology::of_containers(ctx)?
    };
    topo.read_published();
    if let Some(n) = &opts.network {
        if topo.network(n).is_none() {
            return Err(TopologyError::NotFound(format!("network {n} not found")));
        }
    }
    // Which containers, and so which namespaces, are drawn.
    let on_network = |topo: &Topology, id: &str| match &opts.network {
        None => true,
        Some(n) => {
            let net = topo.network(n).map(|x| x.name.clone()).unwrap_or_default();
            topo.endpoints_of(id).any(|a| a.network == net)
        }
    };
    let containers: HashSet<String> = topo
        .containers
        .iter()
        .filter(|c| on_network(&topo, &c.id))
        .map(|c| c.id.clone())
        .collect();
    let mut wanted: BTreeSet<u64> = topo
        .containers
        .iter()
        .filter(|c| containers.contains(&c.id))
        .filter_map(|c| c.netns)
        .collect();
    if opts.all {
        wanted.extend(topo.netns.iter().map(|n| n.inode));
    }
    let list: Vec<u64> = wanted.iter().copied().collect();
    topo.read_links(Some(&list));
    Ok(draw(&topo, opts, &containers, &wanted))
}

fn ns_label(ns: &NetNs) -> (String, Vec<String>) {
    let mut details = vec![format!("net:[{}]", ns.inode)];
    if let Some(id) = ns.nsid {
        details.push(format!("netnsid {id}"));
    }
    (format!("{}", ns.owner), details)
}

/// Builds the graph from a scanned topology (pure, for tests).
pub fn draw(
    topo: &Topology,
    opts: &GraphOptions,
    containers: &HashSet<String>,
    wanted: &BTreeSet<u64>,
) -> Graph {
    let mut g = Graph::default();
    let Some(host) = topo.host_ns() else {
        return g;
    };
    let host_id = ns_id(host.inode);
    let (label, details) = ns_label(host);
    g.add(host_id.clone(), NodeKind::Netns, label, details);
    let host_links = topo.host_links();

    // The networks and their bridges.
    let networks: Vec<_> = topo
        .networks
        .iter()
        .filter(|n| {
            opts.network
                .as_ref()
                .is_none_or(|w| &n.name == w || &n.id == w)
        })
        .collect();
    let mut host_ifs: BTreeSet<u32> = BTreeSet::new();
    for n in &networks {
        let id = format!("net:{}", n.name);
        let mut details: Vec<String> = n.subnets.iter().map(|s| s.subnet.to_string()).collect();
        if n.internal {
            details.push("internal".into());
        }
        g.add(
            id.clone(),
            NodeKind::Network,
            format!("network {}", n.name),
            details,
        );
        if let Some(br) = host_links.iter().find(|l| l.name == n.bridge) {
            host_ifs.insert(br.index);
            g.link(&id, &if_id(host.inode, br.index), EdgeKind::Bridge, None);
        }
    }
    // The uplink and the outside.
    if opts.network.is_none() {
        for r in &topo.routes {
            let Some(oif) = r.oif else { continue };
            host_ifs.insert(oif);
            g.add(
                "outside".into(),
                NodeKind::Outside,
                "outside".into(),
                vec!["the host's default route".into()],
            );
            let via = r.gateway.map(|gw| format!("default via {gw}"));
            g.link(&if_id(host.inode, oif), "outside", EdgeKind::Route, via);
        }
    }
    // Host links that are peers of the namespaces drawn.
    for l in host_links {
        let peer_drawn = l
            .link_netnsid
            .and_then(|id| topo.ns_by_nsid(id))
            .is_some_and(|n| wanted.contains(&n.inode));
        if peer_drawn || (opts.all && l.name != "lo") {
            host_ifs.insert(l.index);
        }
    }
    for l in host_links.iter().filter(|l| host_ifs.contains(&l.index)) {
        add_iface(&mut g, host, l);
        if let Some(m) = l.master.filter(|m| host_ifs.contains(m)) {
            g.link(
                &if_id(host.inode, l.index),
                &if_id(host.inode, m),
                EdgeKind::PortOf,
                None,
            );
        }
    }

    // The other namespaces: their interfaces, and veth edges to the host's ends.
    for ns in topo
        .netns
        .iter()
        .filter(|n| n.inode != host.inode && wanted.contains(&n.inode))
    {
        let id = ns_id(ns.inode);
        let (label, details) = ns_label(ns);
        g.add(id, NodeKind::Netns, label, details);
        for l in ns.links.iter().flatten().filter(|l| l.name != "lo") {
            add_iface(&mut g, ns, l);
            if let Some(h) = topo.host_peer(ns, l) {
                if host_ifs.contains(&h.index) {
                    g.link(
                        &if_id(host.inode, h.index),
                        &if_id(ns.inode, l.index),
                        EdgeKind::Veth,
                        None,
                    );
                }
            } else if let (Some(peer), None) = (l.link, l.link_netnsid) {
                // A veth with both ends here: drawn once.
                if peer > l.index {
                    g.link(
                        &if_id(ns.inode, l.index),
                        &if_id(ns.inode, peer),
                        EdgeKind::Veth,
                        None,
                    );
                }
            }
        }
    }

    // Containers, and what publishes to them.
    for c in topo
        .containers
        .iter()
        .filter(|c| containers.contains(&c.id))
    {
        let id = format!("c:{}", c.id);
        let mut details = vec![c.status.clone(), format!("--network {}", c.network_mode)];
        details.retain(|d| !d.is_empty());
        g.add(id.clone(), NodeKind::Container, c.name.clone(), details);
        if let Some(ino) = c.netns {
            let label = c
                .network_mode
                .starts_with("container:")
                .then(|| c.network_mode.clone());
            if topo.ns(ino).is_some() && (ino == host.inode || wanted.contains(&ino)) {
                g.link(&id, &ns_id(ino), EdgeKind::In, label);
            }
        }
        for a in topo.endpoints_of(&c.id) {
            if networks.iter().any(|n| n.name == a.network) {
                g.link(
                    &format!("net:{}", a.network),
                    &id,
                    EdgeKind::Has,
                    Some(a.endpoint.ifname.clone()),
                );
            }
        }
    }
    for rule in &topo.published {
        let Some(a) = topo
            .attachments
            .iter()
            .find(|a| a.endpoint.addresses().any(|x| x == rule.container_ip))
        else {
            continue;
        };
        if !containers.contains(&a.container_id) {
            continue;
        }
        let host_addr = match rule.bound_ip() {
            Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
            Some(ip) => ip.to_string(),
            None => "*".into(),
        };
        let id = format!("port:{}:{host_addr}:{}", rule.proto, rule.host_port);
        g.add(
            id.clone(),
            NodeKind::Port,
            format!("{} {host_addr}:{}", rule.proto, rule.host_port),
            vec![format!("DNAT to {}", rule.container_ip)],
        );
        g.link(
            &id,
            &format!("c:{}", a.container_id),
            EdgeKind::Publishes,
            Some(rule.container_port.to_string()),
        );
    }
    // Interfaces of drawn namespaces hang off them.
    let ifaces: Vec<(String, String)> = g
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Interface)
        .filter_map(|n| {
            let ino = n.id.split(':').nth(1)?;
            Some((format!("ns:{ino}"), n.id.clone()))
        })
        .collect();
    for (ns, iface) in ifaces {
        g.link(&ns, &iface, EdgeKind::Has, None);
    }
    g
}

fn add_iface(g: &mut Graph, ns: &NetNs, l: &minotaur_net::Link) {
    let mut details: Vec<String> = l
        .addrs
        .iter()
        .filter(
            |a| !matches!(a, ipnet::IpNet::V6(v6) if v6.addr().segments()[0] & 0xffc0 == 0xfe80),
        )
        .map(|a| a.to_string())
        .collect();
    if !l.kind.is_empty() {
        details.insert(0, l.kind.clone());
    }
    if !l.up {
        details.push("down".into());
    }
    g.add(
        if_id(ns.inode, l.index),
        NodeKind::Interface,
        l.name.clone(),
        details,
    );
}
