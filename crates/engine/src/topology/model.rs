//! The topology: every network namespace on the machine with what owns it, the host's links and default
//! routes, minotaur's containers, networks, endpoints and ports from the store, and the ports the firewall
//! table really publishes. The links of other namespaces are read on demand ([`Topology::read_links`]):
//! that means entering each, which a question about one address need not pay for a thousand containers.
//!
//! Three ways to build one: [`Topology::scan`] finds every namespace (`/proc` and nsfs mounts) and the host's
//! links; [`Topology::of_containers`] knows the containers' namespaces from the store and skips `/proc`
//! (what `graph` draws without `--all`); [`Topology::from_store`] starts from the store alone, and a
//! question adds the one container, namespace or host link it needs (`whois`).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use minotaur_firewall::{Firewall, PortRule};
use minotaur_net::{DefaultRoute, Link, Netlink};
use minotaur_ns::{NsId, NsKind};
use minotaur_state::DB_FILE;
use serde::Serialize;

use crate::container::Status;
use crate::context::Context;
use crate::network::{self, Attachment, Network, Published};
use crate::topology::owner::{self, Owner};
use crate::topology::TopologyError;

/// Where procfs is.
pub(crate) const PROC: &str = "/proc";

/// A minotaur container as the debugging verbs see it.
#[derive(Clone, Debug, Serialize)]
pub struct ContainerView {
    pub id: String,
    pub name: String,
    pub status: String,
    /// PID 1, when it runs.
    pub pid: Option<i32>,
    /// Its supervisor's PID and start time, as recorded (check with `process::alive`).
    pub supervisor: Option<(i32, u64)>,
    /// `bridge`, `none`, `host`, `container:X` or a network name.
    pub network_mode: String,
    /// The inode of its network namespace, when it has one now.
    pub netns: Option<u64>,
    /// Its network namespace file (SandboxKey).
    pub sandbox: Option<PathBuf>,
}

/// A network namespace and what is known of it.
#[derive(Clone, Debug, Serialize)]
pub struct NetNs {
    pub inode: u64,
    /// A path that opens it.
    pub path: PathBuf,
    pub pids: Vec<i32>,
    /// Its nsfs bind mounts.
    pub mounts: Vec<PathBuf>,
    pub owner: Owner,
    /// The minotaur containers in it (`container:X` joiners and `--network host` ones included).
    pub containers: Vec<String>,
    /// The ID the host's namespace gives it (`link-netnsid` of a host veth whose peer is in it), once
    /// asked ([`Topology::read_nsids`]).
    pub nsid: Option<i32>,
    /// Its links, once read.
    pub links: Option<Vec<Link>>,
}

/// Live state and the store, joined. See the module documentation.
#[derive(Debug, Serialize)]
pub struct Topology {
    /// The inode of the namespace minotaur runs in.
    pub host: u64,
    /// Every network namespace, the host's first.
    pub netns: Vec<NetNs>,
    pub containers: Vec<ContainerView>,
    pub networks: Vec<Network>,
    #[serde(skip)]
    pub attachments: Vec<Attachment>,
    /// The ports the store records, by container ID.
    #[serde(skip)]
    pub recorded: BTreeMap<String, Vec<Published>>,
    /// The ports minotaur's firewall table publishes now, once read ([`Topology::read_published`]).
    pub published: Vec<PortRule>,
    /// The host's default routes.
    pub routes: Vec<DefaultRoute>,
    /// Every namespace was scanned (see [`Topology::from_store`]).
    #[serde(skip)]
    complete: bool,
    /// The store's records, for containers not yet settled ([`Topology::settle`]).
    #[serde(skip)]
    records: Vec<crate::container::Container>,
    #[serde(skip)]
    settled: Vec<bool>,
    /// Lookups that would otherwise walk the lists once per item (a thousand containers, a thousand
    /// namespaces): see [`Topology::reindex`].
    #[serde(skip)]
    index: Index,
}

#[derive(Debug, Default)]
struct Index {
    /// Namespace inode → position in `netns`.
    ns: HashMap<u64, usize>,
    /// The host's ID of a namespace → position in `netns`.
    nsid: HashMap<i32, usize>,
    /// (the host's ID of the peer's namespace, the peer's ifindex) → position in the host's links.
    host_peer: HashMap<(i32, u32), usize>,
    /// Container ID → positions in `attachments`.
    endpoints: HashMap<String, Vec<usize>>,
}

impl Topology {
    /// Scans the machine. Reads the host's links, not yet other namespaces'.
    pub fn scan(ctx: &Context) -> Result<Topology, TopologyError> {
        Topology::scan_with(ctx, false)
    }

    /// Like [`Topology::scan`]; with `other_mount_namespaces`, nsfs mounts made inside other mount
    /// namespaces are found too (one mount table read per mount namespace: see `discover_with`).
    pub fn scan_with(
        ctx: &Context,
        other_mount_namespaces: bool,
    ) -> Result<Topology, TopologyError> {
        let proc = Path::new(PROC);
        let (containers, networks, attachments, recorded) = if ctx.paths.root.join(DB_FILE).exists()
        {
            (
                ctx.list()?,
                network::list(ctx)?,
                network::attachments(ctx, None, None)?,
                network::all_published(ctx)?,
            )
        } else {
            Default::default()
        };
        let host = NsId::of_path(proc.join("self/ns/net"))
            .map_err(|source| TopologyError::Read {
                path: proc.join("self/ns/net"),
                source,
            })?
            .ino;

        let mut views: Vec<ContainerView> = containers.iter().map(view).collect();
        // `container:X` joiners without a process of their own share X's namespace.
        let by_name: HashMap<String, Option<u64>> = views
            .iter()
            .flat_map(|v| [(v.name.clone(), v.netns), (v.id.clone(), v.netns)])
            .collect();
        for v in &mut views {
            if v.netns.is_none() {
                if let Some(x) = v.network_mode.strip_prefix("container:") {
                    v.netns = by_name.get(x).copied().flatten();
                }
            }
        }
        let settled = vec![true; views.len()];

        // `/run/netns` names that are symbolic links, by the inode of the namespace they lead to.
        let mut symlinks: HashMap<u64, Vec<(String, PathBuf)>> = HashMap::new();
        // (Most lead to a container's SandboxKey, whose namespace is known already.)
        let known: HashMap<&Path, u64> = views
            .iter()
            .filter_map(|v| Some((v.sandbox.as_deref()?, v.netns?)))
            .collect();
        for (name, target) in netns_symlinks() {
            let ino = known
                .get(target.as_path())
                .copied()
                .or_else(|| NsId::of_path(&target).ok().map(|id| id.ino));
            if let Some(ino) = ino {
                symlinks.entry(ino).or_default().push((name, target));
            }
        }
        // The containers in each namespace.
        let mut by_ns: HashMap<u64, Vec<&ContainerView>> = HashMap::new();
        for v in &views {
            if let Some(ino) = v.netns {
                by_ns.entry(ino).or_default().push(v);
            }
        }
        let found = minotaur_ns::discover_with(proc, &[NsKind::Net], other_mount_namespaces)?;
        let mut nl = Netlink::open()?;
        let mut netns: Vec<NetNs> = Vec::with_capacity(found.len());
        for ns in found {
            let ino = ns.id.ino;
            let in_it: &[&ContainerView] = by_ns.get(&ino).map_or(&[], Vec::as_slice);
            let links_to: &[(String, PathBuf)] = symlinks.get(&ino).map_or(&[], Vec::as_slice);
            let owner = if ino == host {
                Owner::Host
            } else if let Some(first) = in_it.iter().find(|v| v.sandbox.is_some()).or(in_it.first())
            {
                Owner::Container {
                    id: first.id.clone(),
                    name: first.name.clone(),
                }
            } else {
                owner::foreign(proc, &ns.mounts, &ns.pids, links_to).unwrap_or(Owner::Mount {
                    path: ns.path.clone(),
                })
            };
            // A bind mount (a SandboxKey, an `ip netns` name) outlives the processes: it names it best.
            let path = ns
                .mounts
                .iter()
                .find(|m| m.via_pid.is_none())
                .map_or_else(|| ns.path.clone(), |m| m.path.clone());
            netns.push(NetNs {
                inode: ino,
                path,
                pids: ns.pids.clone(),
                mounts: ns.mounts.iter().map(|m| m.path.clone()).collect(),
                owner,
                containers: in_it.iter().map(|v| v.name.clone()).collect(),
                nsid: None,
                links: None,
            });
        }
        netns.sort_by_key(|n| (n.inode != host, n.inode));
        if let Some(h) = netns.first_mut().filter(|n| n.inode == host) {
            h.links = Some(nl.links()?);
            h.containers = views
                .iter()
                .filter(|v| v.network_mode == "host")
                .map(|v| v.name.clone())
                .collect();
        }
        let routes = nl.default_routes()?;
        let mut topo = Topology {
            host,
            netns,
            containers: views,
            networks,
            attachments,
            recorded,
            published: Vec::new(),
            routes,
            complete: true,
            records: Vec::new(),
            settled,
            index: Index::default(),
        };
        topo.reindex();
        Ok(topo)
    }

    /// The store's side of the topology and the host's namespace, with no scan: no other namespace, none
    /// of the host's links, and containers as recorded (not yet checked against their processes). A
    /// question about one address, interface, port or process adds what it needs
    /// ([`Topology::container_ns`], [`Topology::add_host_links`]) for a few system calls, where a scan
    /// costs several per process and per container; what it cannot answer this way it asks of
    /// [`Topology::scan`] ([`Topology::complete`] says which one this is).
    pub fn from_store(ctx: &Context) -> Result<Topology, TopologyError> {
        let proc = Path::new(PROC);
        let (records, networks, attachments, recorded) = if ctx.paths.root.join(DB_FILE).exists() {
            // (The store's borrow ends with its statement: the network reads take it again.)
            let records = ctx
                .store()?
                .read(crate::store::list)
                .map_err(crate::error::EngineError::from)?;
            (
                records,
                network::list(ctx)?,
                network::attachments(ctx, None, None)?,
                network::all_published(ctx)?,
            )
        } else {
            Default::default()
        };
        let host_id =
            NsId::of_path(proc.join("self/ns/net")).map_err(|source| TopologyError::Read {
                path: proc.join("self/ns/net"),
                source,
            })?;
        let views: Vec<ContainerView> = records
            .iter()
            .map(|c| ContainerView {
                id: c.id.to_string(),
                name: c.name.to_string(),
                status: c.state.status.as_str().to_owned(),
                pid: (c.state.status == Status::Running).then_some(c.state.pid),
                supervisor: (c.state.supervisor_pid > 0)
                    .then_some((c.state.supervisor_pid, c.state.supervisor_start_time)),
                network_mode: c.config.host.network_mode.clone(),
                netns: None,
                sandbox: c.state.sandbox_key.clone(),
            })
            .collect();
        // PID 1's namespace names the host best when it is ours (as a scan finds it: its lowest PID).
        let init = proc.join("1/ns/net");
        let path = if NsId::of_path(&init).is_ok_and(|id| id == host_id) {
            init
        } else {
            proc.join("self/ns/net")
        };
        let host = NetNs {
            inode: host_id.ino,
            path,
            pids: Vec::new(),
            mounts: Vec::new(),
            owner: Owner::Host,
            containers: views
                .iter()
                .filter(|v| v.network_mode == "host")
                .map(|v| v.name.clone())
                .collect(),
            nsid: None,
            links: Some(Vec::new()),
        };
        let mut topo = Topology {
            host: host_id.ino,
            netns: vec![host],
            settled: vec![false; views.len()],
            containers: views,
            networks,
            attachments,
            recorded,
            published: Vec::new(),
            routes: Vec::new(),
            complete: false,
            records,
            index: Index::default(),
        };
        topo.reindex();
        Ok(topo)
    }

    /// The containers' side of the machine, for a picture of minotaur's own containers (`graph` without
    /// `--all`): the store, every container settled with its namespace, the host's links and default
    /// routes; no scan of `/proc` for namespaces minotaur did not make.
    pub fn of_containers(ctx: &Context) -> Result<Topology, TopologyError> {
        let mut topo = Topology::from_store(ctx)?;
        for i in 0..topo.containers.len() {
            topo.settle(i);
        }
        // Owners first (those with a namespace file of their own), then `container:X` joiners, so that each
        // namespace is named after the container whose SandboxKey it is, as a scan names it.
        let mut by_ns: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, c) in topo.containers.iter().enumerate() {
            if let Some(ino) = c.netns.filter(|&n| n != topo.host) {
                by_ns.entry(ino).or_default().push(i);
            }
        }
        let mut found: Vec<(u64, Vec<usize>)> = by_ns.into_iter().collect();
        found.sort_unstable_by_key(|(ino, _)| *ino);
        for (ino, members) in found {
            let owner = members
                .iter()
                .copied()
                .find(|&i| topo.containers[i].sandbox.is_some())
                .unwrap_or(members[0]);
            let c = &topo.containers[owner];
            let path = c
                .sandbox
                .clone()
                .unwrap_or_else(|| NsKind::Net.proc_path(c.pid.unwrap_or(0)).into());
            topo.netns.push(NetNs {
                inode: ino,
                path,
                pids: Vec::new(),
                mounts: c.sandbox.iter().cloned().collect(),
                owner: Owner::Container {
                    id: c.id.clone(),
                    name: c.name.clone(),
                },
                containers: members
                    .iter()
                    .map(|&i| topo.containers[i].name.clone())
                    .collect(),
                nsid: None,
                links: None,
            });
        }
        let mut nl = Netlink::open()?;
        let links = nl.links()?;
        topo.routes = nl.default_routes()?;
        topo.add_host_links(links);
        Ok(topo)
    }

    /// True when every namespace was scanned ([`Topology::scan`]); false for [`Topology::from_store`].
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Checks container `i` against its process and its namespace file, as a scan does for every one (a
    /// PID 1 that died unrecorded shows it exited; the namespace is the SandboxKey's, else PID 1's).
    pub fn settle(&mut self, i: usize) {
        if self.settled.get(i).copied().unwrap_or(true) {
            return;
        }
        self.settled[i] = true;
        let mut c = self.records[i].clone();
        crate::context::correct(&mut c);
        self.containers[i] = view(&c);
        if self.containers[i].netns.is_none() {
            let joined = self.containers[i]
                .network_mode
                .strip_prefix("container:")
                .and_then(|x| self.position(x));
            if let Some(x) = joined.filter(|&x| x != i) {
                self.settle(x);
                self.containers[i].netns = self.containers[x].netns;
            }
        }
    }

    /// The position of a container in `containers`, by name or ID (no prefixes).
    pub fn position(&self, name_or_id: &str) -> Option<usize> {
        self.containers
            .iter()
            .position(|c| c.name == name_or_id || c.id == name_or_id)
    }

    /// The network namespace of container `i` (settled first), added to `netns` if it is not there: owned
    /// by the container whose SandboxKey it is, with the `container:X` joiners of that one.
    pub fn container_ns(&mut self, i: usize) -> Option<u64> {
        self.settle(i);
        let ino = self.containers[i].netns?;
        if self.ns(ino).is_some() {
            return Some(ino);
        }
        // The owner: this one, or the container it joined.
        let owner = match self.containers[i].network_mode.strip_prefix("container:") {
            Some(x) if self.containers[i].sandbox.is_none() => self.position(x).unwrap_or(i),
            _ => i,
        };
        let (id, name) = (
            self.containers[owner].id.clone(),
            self.containers[owner].name.clone(),
        );
        let joiners: Vec<usize> = (0..self.containers.len())
            .filter(|&j| {
                j == owner
                    || self.containers[j]
                        .network_mode
                        .strip_prefix("container:")
                        .is_some_and(|x| x == name || x == id)
            })
            .collect();
        for &j in &joiners {
            self.settle(j);
        }
        let c = &self.containers[owner];
        let path = c
            .sandbox
            .clone()
            .unwrap_or_else(|| NsKind::Net.proc_path(c.pid.unwrap_or(0)).into());
        let ns = NetNs {
            inode: ino,
            path: path.clone(),
            pids: Vec::new(),
            mounts: c.sandbox.iter().cloned().collect(),
            owner: Owner::Container { id, name },
            containers: joiners
                .iter()
                .filter(|&&j| self.containers[j].netns == Some(ino))
                .map(|&j| self.containers[j].name.clone())
                .collect(),
            nsid: None,
            links: None,
        };
        self.netns.push(ns);
        self.reindex();
        Some(ino)
    }

    /// Adds links to the host's namespace (by ifindex, replacing what was there): what a question needs
    /// of the host's links, where [`Topology::scan`] reads them all.
    pub fn add_host_links(&mut self, links: impl IntoIterator<Item = Link>) {
        let host = self.host;
        let Some(h) = self.netns.iter_mut().find(|n| n.inode == host) else {
            return;
        };
        let list = h.links.get_or_insert_with(Vec::new);
        for l in links {
            match list.iter_mut().find(|x| x.index == l.index) {
                Some(x) => *x = l,
                None => list.push(l),
            }
        }
        list.sort_by_key(|l| l.index);
        self.reindex();
    }

    /// The processes in namespace `inode`, read now if the topology was not scanned (one stat per process).
    pub fn pids_of(&mut self, inode: u64) -> Vec<i32> {
        let Some(&i) = self.index.ns.get(&inode) else {
            return Vec::new();
        };
        if self.complete || !self.netns[i].pids.is_empty() {
            return self.netns[i].pids.clone();
        }
        let id = NsId::of_path(&self.netns[i].path).ok();
        let pids = id
            .and_then(|id| minotaur_ns::discover::pids_in(Path::new(PROC), NsKind::Net, id).ok())
            .unwrap_or_default();
        self.netns[i].pids = pids.clone();
        pids
    }

    /// Rebuilds the lookups after `netns` or the host's links changed.
    pub fn reindex(&mut self) {
        let mut ix = Index::default();
        for (i, n) in self.netns.iter().enumerate() {
            ix.ns.insert(n.inode, i);
            if let Some(id) = n.nsid {
                ix.nsid.insert(id, i);
            }
        }
        for (i, l) in self.host_links().iter().enumerate() {
            if let (Some(id), Some(peer)) = (l.link_netnsid, l.link) {
                ix.host_peer.insert((id, peer), i);
            }
        }
        for (i, a) in self.attachments.iter().enumerate() {
            ix.endpoints
                .entry(a.container_id.clone())
                .or_default()
                .push(i);
        }
        self.index = ix;
    }

    /// Reads the ports the firewall table publishes (libnftables lists the four port maps: a few
    /// milliseconds that a question about an address need not pay). Where the table cannot be read there
    /// are none, with a note in the log.
    pub fn read_published(&mut self) {
        self.published = match Firewall::open().and_then(|mut fw| fw.published()) {
            Ok(p) => p,
            Err(e) => {
                log::debug!(
                    "cannot read the published ports: {}",
                    crate::error_chain(&e)
                );
                Vec::new()
            }
        };
    }

    /// The host's namespace.
    pub fn host_ns(&self) -> Option<&NetNs> {
        self.netns.first().filter(|n| n.inode == self.host)
    }

    /// The host's links.
    pub fn host_links(&self) -> &[Link] {
        self.host_ns()
            .and_then(|n| n.links.as_deref())
            .unwrap_or_default()
    }

    pub fn ns(&self, inode: u64) -> Option<&NetNs> {
        self.netns.get(*self.index.ns.get(&inode)?)
    }

    /// Sets what was read of namespace `inode`: its links and the ID the host gives it.
    pub fn set_ns_links(&mut self, inode: u64, links: Vec<Link>, nsid: Option<i32>) {
        if let Some(&i) = self.index.ns.get(&inode) {
            self.netns[i].links = Some(links);
            self.netns[i].nsid = nsid.or(self.netns[i].nsid);
            self.reindex();
        }
    }

    /// Adds a namespace found by a question (not by the scan), to be read like any other.
    pub fn add_ns(&mut self, ns: NetNs) {
        if self.ns(ns.inode).is_none() {
            self.netns.push(ns);
            self.reindex();
        }
    }

    /// The namespace the host knows under `nsid`.
    pub fn ns_by_nsid(&self, nsid: i32) -> Option<&NetNs> {
        self.netns.get(*self.index.nsid.get(&nsid)?)
    }

    pub fn container(&self, name_or_id: &str) -> Option<&ContainerView> {
        let name = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
        self.containers
            .iter()
            .find(|c| c.name == name || c.id == name)
            .or_else(|| {
                let mut m = self
                    .containers
                    .iter()
                    .filter(|c| !name.is_empty() && c.id.starts_with(name));
                match (m.next(), m.next()) {
                    (Some(c), None) => Some(c),
                    _ => None,
                }
            })
    }

    /// The endpoints of a container.
    pub fn endpoints_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Attachment> + 'a {
        self.index
            .endpoints
            .get(id)
            .into_iter()
            .flatten()
            .map(|&i| &self.attachments[i])
    }

    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks
            .iter()
            .find(|n| n.name == name || n.id == name)
    }

    /// Asks the host's namespace for the IDs it gives the namespaces `inodes` (all for `None`): one
    /// `RTM_GETNSID` each, on a descriptor of the namespace. A host veth's `IFLA_LINK_NETNSID` names its
    /// peer's namespace by that ID.
    pub fn read_nsids(&mut self, inodes: Option<&[u64]>) {
        let Ok(mut nl) = Netlink::open() else {
            return;
        };
        let host = self.host;
        for n in self
            .netns
            .iter_mut()
            .filter(|n| n.inode != host && n.nsid.is_none())
            .filter(|n| inodes.is_none_or(|w| w.contains(&n.inode)))
        {
            n.nsid = File::open(&n.path)
                .ok()
                .and_then(|f| nl.nsid_of(&f).ok().flatten());
        }
        self.reindex();
    }

    /// Reads the links of the namespaces `inodes` that are not read yet (all of them for `None`), from two
    /// threads that move between namespaces, and their IDs. A namespace that vanished meanwhile keeps no
    /// links.
    pub fn read_links(&mut self, inodes: Option<&[u64]>) {
        self.read_nsids(inodes);
        let todo: Vec<usize> = self
            .netns
            .iter()
            .enumerate()
            .filter(|(_, n)| n.links.is_none() && inodes.is_none_or(|w| w.contains(&n.inode)))
            .map(|(i, _)| i)
            .collect();
        let paths: Vec<&Path> = todo.iter().map(|&i| self.netns[i].path.as_path()).collect();
        let read = minotaur_net::in_each_netns(&paths, 2, |_| -> Result<_, TopologyError> {
            Ok(Netlink::open()?.links()?)
        });
        for (i, links) in todo.into_iter().zip(read) {
            match links {
                Ok(l) => self.netns[i].links = Some(l),
                Err(e) => {
                    log::debug!(
                        "cannot read the links of {}: {}",
                        self.netns[i].path.display(),
                        crate::error_chain(&e)
                    );
                    self.netns[i].links = Some(Vec::new());
                }
            }
        }
    }

    /// The host's end of a link in namespace `ns` (a veth whose peer is `link`), found from the host's
    /// side: the host veth whose `IFLA_LINK` is `link`'s index and whose `IFLA_LINK_NETNSID` names `ns`.
    pub fn host_peer(&self, ns: &NetNs, link: &Link) -> Option<&Link> {
        let i = *self.index.host_peer.get(&(ns.nsid?, link.index))?;
        self.host_links().get(i)
    }

    /// The peer of a host link: its namespace and link (read the namespace's links first).
    pub fn peer_of_host_link(&self, link: &Link) -> Option<(&NetNs, Option<&Link>)> {
        let ns = self.ns_by_nsid(link.link_netnsid?)?;
        let peer = ns
            .links
            .as_ref()
            .and_then(|ls| ls.iter().find(|l| Some(l.index) == link.link));
        Some((ns, peer))
    }

    /// The minotaur network whose bridge is the host link `index`.
    pub fn network_of_bridge(&self, index: u32) -> Option<&Network> {
        let name = &self.host_links().iter().find(|l| l.index == index)?.name;
        self.networks.iter().find(|n| &n.bridge == name)
    }
}

/// A container as the debugging verbs see it, from its record (corrected for a PID 1 that died unrecorded).
fn view(c: &crate::container::Container) -> ContainerView {
    let running = c.state.status == Status::Running;
    let sandbox_ns = c
        .state
        .sandbox_key
        .as_ref()
        .and_then(|k| NsId::of_path(k).ok());
    let sandbox = c.state.sandbox_key.clone().filter(|_| sandbox_ns.is_some());
    let netns = sandbox_ns
        .or_else(|| {
            running
                .then(|| NsId::of_path(NsKind::Net.proc_path(c.state.pid)).ok())
                .flatten()
        })
        .map(|id| id.ino);
    ContainerView {
        id: c.id.to_string(),
        name: c.name.to_string(),
        // `list` shows a container whose PID 1 died unrecorded as exited already.
        status: c.state.status.as_str().to_owned(),
        pid: running.then_some(c.state.pid),
        supervisor: (c.state.supervisor_pid > 0)
            .then_some((c.state.supervisor_pid, c.state.supervisor_start_time)),
        network_mode: c.config.host.network_mode.clone(),
        netns,
        sandbox,
    }
}

/// The symbolic links in `/run/netns` (minotaur names its containers' namespaces with them), with their
/// targets.
fn netns_symlinks() -> Vec<(String, PathBuf)> {
    let Ok(dir) = std::fs::read_dir(minotaur_ns::netns::RUN_DIR) else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink()))
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            Some((e.file_name().to_str()?.to_owned(), target))
        })
        .collect()
}
