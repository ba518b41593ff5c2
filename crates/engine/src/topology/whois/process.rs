//! `whois PID` and `whois NS-INODE`: a process's container and role, and a namespace of any kind with
//! what holds it. The store's containers are checked against their processes only when one looks like
//! the answer, and a namespace is looked up by itself ([`minotaur_ns::discover::find_one`]), so neither
//! question pays for a scan of every namespace unless the process's network namespace is one minotaur
//! did not make.

use std::fs;
use std::path::Path;

use minotaur_ns::{NsId, NsKind};

use super::{container_ref, ns_ref, owned_by, Finding, ProcessRef};
use crate::topology::model::{ContainerView, NetNs, Topology, PROC};
use crate::topology::owner::{self, Owner};
use crate::topology::TopologyError;

/// The PPID of a process.
fn ppid(proc: &Path, pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(proc.join(format!("{pid}/stat"))).ok()?;
    stat.get(stat.rfind(')')? + 2..)?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

/// What container process `pid` belongs to, and how (see [`ProcessRef::role`]).
fn role_in(
    c: &ContainerView,
    pid: i32,
    cgroup: &str,
    own_pidns: Option<NsId>,
    host_pidns: Option<NsId>,
) -> Option<String> {
    let proc = Path::new(PROC);
    let ns_of = |p: i32, kind: NsKind| NsId::of_path(kind.proc_path(p)).ok();
    if c.pid == Some(pid) {
        return Some("PID 1".to_owned());
    }
    if c.supervisor
        .is_some_and(|(p, start)| p == pid && crate::process::alive(p, start))
    {
        return Some("supervisor".to_owned());
    }
    let in_cgroup = cgroup.contains(&format!("/{}", c.id));
    let same_pidns = !in_cgroup
        && own_pidns.is_some()
        && own_pidns != host_pidns
        && c.pid.is_some_and(|p1| ns_of(p1, NsKind::Pid) == own_pidns);
    if !(in_cgroup || same_pidns) {
        return None;
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
    Some(if child { "a child of PID 1" } else { "exec'd" }.to_owned())
}

/// `None` when the process's network namespace is neither the host's nor a container's and the topology
/// was not scanned.
pub(super) fn process(topo: &mut Topology, pid: i32) -> Result<Option<Finding>, TopologyError> {
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
    // A container as recorded is checked against its processes (settled) only once it looks like the one.
    let mut container = None;
    for i in 0..topo.containers.len() {
        if role_in(&topo.containers[i], pid, &cgroup, own_pidns, host_pidns).is_none() {
            continue;
        }
        topo.settle(i);
        if let Some(role) = role_in(&topo.containers[i], pid, &cgroup, own_pidns, host_pidns) {
            container = Some((i, role));
            break;
        }
    }
    f.process = Some(ProcessRef {
        pid,
        command: owner::command(proc, pid),
        role: container
            .as_ref()
            .map(|(_, r)| r.clone())
            .unwrap_or_default(),
    });
    let net = ns_of(pid, NsKind::Net).map(|id| id.ino);
    if let (Some((i, _)), Some(ino)) = (&container, net) {
        if topo.ns(ino).is_none() && topo.containers[*i].netns == Some(ino) {
            topo.container_ns(*i);
        }
    }
    match net.and_then(|ino| topo.ns(ino)) {
        Some(ns) => {
            let ns = ns.clone();
            owned_by(topo, &ns, &mut f);
        }
        None if !topo.complete() && net.is_some() => return Ok(None),
        None => {}
    }
    if let Some((i, _)) = container {
        let c = &topo.containers[i];
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
    Ok(Some(f))
}

pub(super) fn namespace(topo: &mut Topology, ino: u64) -> Result<Finding, TopologyError> {
    let proc = Path::new(PROC);
    // Its own mount table and the processes first; the tables of every other mount namespace only if
    // that did not find it.
    let found = match minotaur_ns::discover::find_one(proc, ino)? {
        Some(ns) => Some(ns),
        None => minotaur_ns::discover(proc, &[])?
            .into_iter()
            .find(|n| n.id.ino == ino),
    };
    let mut f = Finding::default();
    if let Some(ns) = found {
        f.what = format!("namespace {}:[{ino}]", ns.kind.name());
        f.pids = ns.pids.clone();
        f.mounts = ns.mounts.iter().map(|m| m.path.clone()).collect();
        let host_same = NsId::of_path(proc.join(format!("self/ns/{}", ns.kind.name())))
            .is_ok_and(|id| id == ns.id);
        // A container's network namespace is its SandboxKey, a mount found above: that container is tried
        // first, then every container's PID 1.
        let held = |c: &ContainerView| {
            let by_pid = c
                .pid
                .is_some_and(|p| NsId::of_path(ns.kind.proc_path(p)).is_ok_and(|id| id == ns.id));
            let by_net = ns.kind == NsKind::Net && c.netns == Some(ino);
            by_pid || by_net
        };
        let mut order: Vec<usize> = (0..topo.containers.len())
            .filter(|_| !host_same)
            .filter(|&i| {
                topo.containers[i]
                    .sandbox
                    .as_ref()
                    .is_some_and(|s| ns.mounts.iter().any(|m| &m.path == s))
            })
            .collect();
        if !host_same {
            order.extend(0..topo.containers.len());
        }
        let mut container = None;
        for i in order {
            topo.settle(i);
            if held(&topo.containers[i]) {
                container = Some(i);
                break;
            }
        }
        f.owner = Some(if host_same {
            Owner::Host
        } else if let Some(i) = container {
            let c = &topo.containers[i];
            Owner::Container {
                id: c.id.clone(),
                name: c.name.clone(),
            }
        } else {
            owner::foreign(proc, &ns.mounts, &ns.pids, &[]).unwrap_or(Owner::Mount {
                path: ns.path.clone(),
            })
        });
        if let Some(i) = container.filter(|_| !host_same) {
            let c = &topo.containers[i];
            f.container = Some(container_ref(c));
            f.networks = topo
                .endpoints_of(&c.id)
                .map(|a| a.network.clone())
                .collect();
            if ns.kind == NsKind::Net {
                topo.container_ns(i);
            }
        }
        if ns.kind == NsKind::Net {
            topo.add_ns(NetNs {
                inode: ino,
                path: ns.path.clone(),
                pids: ns.pids.clone(),
                mounts: f.mounts.clone(),
                owner: f.owner.clone().expect("set above"),
                containers: Vec::new(),
                nsid: None,
                links: None,
            });
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
        if h.kind == NsKind::Net {
            // Not found by the scan: add it so its links are read like any other.
            topo.add_ns(NetNs {
                inode: ino,
                path: h.path.clone(),
                pids: Vec::new(),
                mounts: Vec::new(),
                owner: f.owner.clone().expect("set above"),
                containers: Vec::new(),
                nsid: None,
                links: None,
            });
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
