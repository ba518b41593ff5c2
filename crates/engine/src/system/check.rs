//! `system check [--repair]`: what the store and the kernel or the filesystem disagree on, as a crash (a
//! `kill -9` of a CLI or a supervisor, an OOM kill, a power cut) can leave them, and the repair.
//!
//! Each finding names its owner (a container, a network, the image store, or an orphan's former owner as far
//! as it can be told) and carries its own repair, so `--repair` fixes exactly what was reported. Only what
//! is minotaur's is looked at: namespace files in the run root, `/run/netns` names that are links into it
//! (names iproute2 made are bind mounts, and a name linking elsewhere is someone else's), veths named
//! `mt<id>` and bridges named `mt-<id>` or `minotaur0`, the containers' cgroup parent, the resolver's
//! directory, the image store's `tmp/partial`, its blobs and layers no image references and nothing pins,
//! and its lock files that nobody holds and guard nothing.
//!
//! A container record whose files are missing (a `create` or an `rm` that died half-way) is removed whole,
//! as `rm -f` would. Endpoints are compared both ways (addresses without an endpoint, endpoints without
//! their veth), and so is each container's resolver record file with what its endpoints say. Of minotaur's
//! own nftables table, the `bridges` set and the port maps are compared with the store; what differs is
//! repaired by the `network reload` every repair ends with, which also makes the connect4 map hold exactly
//! the store's ports; that map, when one is pinned, is compared with the store element by element too. Mounts below the run root are compared
//! with the records too. Not checked yet: image store work directories.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use minotaur_ns::netns::{NetnsError, NetnsName};
use minotaur_state::{Allocation, EndpointRow};
use serde::Serialize;

use crate::cni::attachment::is_cni_veth;
use crate::cni::bandwidth::veth_of_ifb;
use crate::container::{Container, Status};
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::network::record::CniRecord;
use crate::network::{attach, dns, netns, networks, ports, restore, DEFAULT_BRIDGE};
use crate::process::alive;
use crate::store;

mod firewall;

/// What is wrong with a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Problem {
    /// It exists, and nothing in the store owns it.
    Orphan,
    /// The store says it exists, and it does not.
    Missing,
    /// The store says something that is no longer true.
    Stale,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::Orphan => "orphan",
            Problem::Missing => "missing",
            Problem::Stale => "stale",
        })
    }
}

/// One disagreement between the store and the machine.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// Who the piece is (or was) of: `container NAME`, `network NAME`, `image store`, or `container ID` for
    /// an orphan whose record is gone.
    pub owner: String,
    pub problem: Problem,
    /// The piece: `network namespace file PATH`, `veth NAME`, ...
    pub object: String,
    #[serde(skip)]
    fix: Fix,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.owner, self.problem, self.object)
    }
}

/// How a finding is repaired.
#[derive(Clone, Debug)]
enum Fix {
    /// Remove a container and all it owns (`rm -f`).
    RemoveContainer(ContainerId),
    /// Record the container as exited: its PID 1 and its supervisor are gone.
    MarkExited(ContainerId),
    /// Unmount and remove a namespace file of the run root.
    DeleteNetns(String),
    /// Make a container's namespace and endpoints again from the records.
    RestoreSandbox(ContainerId),
    /// Remove a `/run/netns` link and its `/etc/netns` directory.
    Unregister { link: PathBuf, etc: PathBuf },
    /// Give a container its `ip netns` name.
    Register(ContainerId),
    /// Delete a network interface.
    DeleteLink(String),
    /// Remove a cgroup (relative to the cgroup root).
    RemoveCgroup(PathBuf),
    /// Write a container's resolver records again (removed when it has none).
    Records(ContainerId),
    /// Remove a file or a directory tree.
    Remove(PathBuf),
    /// Remove a partial blob, if no pull holds its fetch lock.
    Partial { partial: PathBuf, lock: PathBuf },
    /// Give back the addresses a container holds on a network where it has no endpoint.
    ReleaseAddresses { network: String, container: String },
    /// Make a recorded endpoint's veth again, with its recorded addresses.
    Endpoint {
        container: ContainerId,
        network: String,
    },
    /// Remove a blob or layer of the image store, if it is still unreferenced and unpinned.
    Unused(minotaur_image::Unused),
    /// Unmount what is mounted at a path below the run root (every mount stacked there).
    Unmount(PathBuf),
    /// Remove a lock file of the image store that is still stale.
    StaleLock(PathBuf),
    /// Delete a CNI attachment's record and addresses (its ports go with the reload every repair ends with).
    CniRecord {
        network: String,
        container: String,
        ifname: String,
    },
    /// Make minotaur's table hold what the store says: the `network reload` every repair ends with.
    Firewall,
}

/// Compares the store with the kernel and the filesystem.
pub fn check(ctx: &Context) -> Result<Vec<Finding>, EngineError> {
    let containers = {
        let mut st = ctx.store()?;
        st.read(store::list)?
    };
    let by_id: HashMap<&str, &Container> = containers.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut found = Vec::new();
    // A container without its files was being made or removed when the process died: it is removed (all
    // of it, as `rm -f` does), and its other pieces are not reported one by one.
    let (half, containers): (Vec<&Container>, Vec<&Container>) = containers
        .iter()
        .partition(|c| !ctx.paths.container_dir(&c.id).join("hosts").exists());
    for c in &half {
        found.push(Finding {
            owner: owner(c),
            problem: Problem::Stale,
            object: "record of a container half made or half removed (its files are missing)"
                .into(),
            fix: Fix::RemoveContainer(c.id.clone()),
        });
    }
    let half: HashSet<&str> = half.iter().map(|c| c.id.as_str()).collect();
    let containers: Vec<Container> = containers.into_iter().cloned().collect();
    let nets = networks::list(ctx)?;
    let (rows, allocations) = {
        let mut st = ctx.store()?;
        st.read(|tx| -> Result<_, EngineError> {
            let mut allocations = Vec::new();
            for n in &nets {
                for a in tx.allocations(&n.id)? {
                    allocations.push((n, a));
                }
            }
            Ok((tx.endpoints(None, None)?, allocations))
        })?
    };
    supervisors(&containers, &mut found);
    namespaces(ctx, &containers, &by_id, &mut found)?;
    ip_netns(ctx, &containers, &by_id, &mut found)?;
    let links = links(ctx, &containers, &nets, &mut found)?;
    cni(ctx, &nets, &links, &mut found)?;
    addresses(&rows, &allocations, &by_id, &half, &mut found);
    firewall::firewall(ctx, &nets, &links, &allocations, &by_id, &half, &mut found)?;
    cgroups(ctx, &by_id, &mut found)?;
    records(ctx, &containers, &by_id, &nets, &rows, &mut found)?;
    // Before the directories: a directory is removed only once nothing is mounted below it.
    mounts(ctx, &by_id, &mut found)?;
    directories(ctx, &by_id, &mut found)?;
    volumes(ctx, &mut found)?;
    partials(ctx, &mut found)?;
    unused_layers(ctx, &mut found)?;
    Ok(found)
}

/// Repairs what [`check`] found, going on past errors: each finding with the error its repair met, if any.
pub fn repair(ctx: &Context, found: &[Finding]) -> Vec<(Finding, Option<EngineError>)> {
    let mut out: Vec<(Finding, Option<EngineError>)> = found
        .iter()
        .map(|f| (f.clone(), fix(ctx, &f.fix).err()))
        .collect();
    // The firewall table and the connect4 map, made to hold exactly what the store says (see the module's
    // documentation), when there is anything of networks to hold.
    let networked = networks::list(ctx).is_ok_and(|n| !n.is_empty())
        || found.iter().any(|f| matches!(f.fix, Fix::Firewall));
    if !found.is_empty() && networked {
        if let Err(e) = ports::reload(ctx) {
            if let Some(last) = out.last_mut() {
                last.1.get_or_insert(e);
            }
        }
    }
    out
}

fn fix(ctx: &Context, fix: &Fix) -> Result<(), EngineError> {
    let io = |what: String| move |source| EngineError::Io { what, source };
    match fix {
        Fix::MarkExited(id) => {
            let mut st = ctx.store()?;
            st.write(|tx| {
                store::update_state(tx, id, |s| {
                    if matches!(s.status, Status::Running | Status::Restarting)
                        && !alive(s.pid, s.pid_start_time)
                        && !alive(s.supervisor_pid, s.supervisor_start_time)
                    {
                        s.status = Status::Exited;
                        s.pid = 0;
                        s.supervisor_pid = 0;
                        // The exit status died with the supervisor: it is not invented.
                        s.exit_code = -1;
                        s.error = "the supervisor died before it recorded the exit".into();
                    }
                })
                .map(|_| ())
            })?;
            drop(st);
            dns::update(ctx, id)
        }
        Fix::RemoveContainer(id) => {
            crate::remove::remove(ctx, id.as_str(), true, false)?;
            Ok(())
        }
        Fix::DeleteNetns(name) => {
            let name = NetnsName::new(name)?;
            match ctx.netns().delete(&name) {
                Ok(()) | Err(NetnsError::NotFound(..)) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Fix::RestoreSandbox(id) => {
            let c = ctx.find(id.as_str())?;
            restore::sandbox(ctx, &c)?;
            dns::update(ctx, id)
        }
        Fix::Unregister { link, etc } => {
            remove_path(link).map_err(io(format!("remove {}", link.display())))?;
            remove_path(etc).map_err(io(format!("remove {}", etc.display())))
        }
        Fix::Register(id) => {
            let c = ctx.find(id.as_str())?;
            if let Some(key) = &c.state.sandbox_key {
                netns::register(c.name.as_str(), key, &ctx.paths.container_dir(id))?;
            }
            Ok(())
        }
        Fix::DeleteLink(name) => {
            let mut nl = minotaur_net::Netlink::open().map_err(NetworkError::from)?;
            nl.delete_link(name).map_err(NetworkError::from)?;
            Ok(())
        }
        Fix::RemoveCgroup(path) => Ok(minotaur_runtime::Cgroup::existing(&ctx.cgroup_root, path)
            .remove()
            .map_err(minotaur_runtime::RuntimeError::from)?),
        Fix::Records(id) => dns::update(ctx, id),
        Fix::ReleaseAddresses { network, container } => {
            let mut st = ctx.store()?;
            st.write(|tx| tx.release_addresses(network, container))?;
            Ok(())
        }
        Fix::Endpoint { container, network } => {
            let c = ctx.find(container.as_str())?;
            let Some(key) = &c.state.sandbox_key else {
                return Ok(());
            };
            let nets = networks::list(ctx)?;
            let attached = attach::attachments(ctx, Some(container.as_str()), None)?;
            match attached.iter().find(|a| &a.endpoint.network_id == network) {
                Some(a) => restore::endpoint(&c, key, &nets, &a.endpoint),
                None => Ok(()),
            }
        }
        Fix::Unused(unused) => {
            minotaur_image::Store::open(&ctx.paths.root)?.remove_unused(unused)?;
            Ok(())
        }
        Fix::Unmount(path) => {
            // Detached: a process that still has a file open below it keeps it, nobody else sees it.
            for _ in 0..16 {
                match nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH) {
                    Ok(()) => {}
                    Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => return Ok(()),
                    Err(source) => {
                        return Err(EngineError::Sys {
                            what: format!("unmount {}", path.display()),
                            source,
                        })
                    }
                }
            }
            Ok(())
        }
        Fix::StaleLock(path) => {
            minotaur_image::Store::open(&ctx.paths.root)?.remove_stale_lock(path)?;
            Ok(())
        }
        // The reload that ends the repair (see `repair`).
        Fix::CniRecord {
            network,
            container,
            ifname,
        } => crate::cni::attachment::forget(ctx, network, container, ifname),
        Fix::Firewall => Ok(()),
        Fix::Remove(path) => remove_path(path).map_err(io(format!("remove {}", path.display()))),
        Fix::Partial { partial, lock } => {
            // Held while removing, so a pull starting now waits, then finds nothing to resume.
            let held = match fs::File::open(lock) {
                Ok(f) => {
                    match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
                        Ok(l) => Some(l),
                        Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(()),
                        Err((_, e)) => {
                            return Err(EngineError::Sys {
                                what: format!("lock {}", lock.display()),
                                source: e,
                            })
                        }
                    }
                }
                Err(_) => None,
            };
            let r = remove_path(partial).map_err(io(format!("remove {}", partial.display())));
            drop(held);
            r
        }
    }
}

/// Removes a file, a symbolic link or a directory tree; gone already is done.
fn remove_path(path: &Path) -> io::Result<()> {
    let r = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn owner(c: &Container) -> String {
    format!("container {}", c.name)
}

/// The owner of a piece named after a container ID: the container, or the ID of one whose record is gone.
fn owner_of(by_id: &HashMap<&str, &Container>, id: &str) -> String {
    by_id.get(id).map_or_else(
        || format!("container {}", &id[..id.len().min(12)]),
        |c| owner(c),
    )
}

/// Containers recorded as running (or restarting) whose PID 1 and supervisor are both gone: nothing will
/// record their exit. A container whose supervisor alone died still runs, and is not a finding.
fn supervisors(containers: &[Container], found: &mut Vec<Finding>) {
    for c in containers {
        let s = &c.state;
        let dead = match s.status {
            Status::Running => {
                !alive(s.pid, s.pid_start_time) && !alive(s.supervisor_pid, s.supervisor_start_time)
            }
            Status::Restarting => !alive(s.supervisor_pid, s.supervisor_start_time),
            _ => false,
        };
        if dead {
            found.push(Finding {
                owner: owner(c),
                problem: Problem::Stale,
                object: format!(
                    "state \"{}\" (supervisor {} is gone)",
                    s.status.as_str(),
                    s.supervisor_pid
                ),
                fix: Fix::MarkExited(c.id.clone()),
            });
        }
    }
}

/// Namespace files of the run root without a container, and containers whose namespace file is gone.
fn namespaces(
    ctx: &Context,
    containers: &[Container],
    by_id: &HashMap<&str, &Container>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let dir = ctx.paths.netns_dir();
    for name in entries(&dir)? {
        if !by_id.contains_key(name.as_str()) {
            found.push(Finding {
                owner: owner_of(by_id, &name),
                problem: Problem::Orphan,
                object: format!("network namespace file {}", dir.join(&name).display()),
                fix: Fix::DeleteNetns(name),
            });
        }
    }
    for c in containers {
        if let Some(key) = &c.state.sandbox_key {
            if restore::lost(c) {
                found.push(Finding {
                    owner: owner(c),
                    problem: Problem::Missing,
                    object: format!("network namespace file {}", key.display()),
                    fix: Fix::RestoreSandbox(c.id.clone()),
                });
            }
        }
    }
    Ok(())
}

/// `/run/netns` names: links into the run root's namespace directory that no container (of that name)
/// owns, and containers without their name. Names that are not such links (iproute2's bind mounts, links
/// elsewhere) are someone else's and are never looked at again.
fn ip_netns(
    ctx: &Context,
    containers: &[Container],
    by_id: &HashMap<&str, &Container>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let run = Path::new(minotaur_ns::netns::RUN_DIR);
    let etc = Path::new(minotaur_ns::netns::ETC_DIR);
    let ours = ctx.paths.netns_dir();
    let mut named = HashSet::new();
    for name in entries(run)? {
        let link = run.join(&name);
        let Ok(target) = fs::read_link(&link) else {
            continue;
        };
        if target.parent() != Some(ours.as_path()) {
            continue;
        }
        let id = target
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        match by_id.get(id.as_str()) {
            Some(c) if c.name.as_str() == name => {
                named.insert(id);
            }
            _ => found.push(Finding {
                owner: owner_of(by_id, &id),
                problem: Problem::Orphan,
                object: format!("ip netns name {}", link.display()),
                fix: Fix::Unregister {
                    link,
                    etc: etc.join(&name),
                },
            }),
        }
    }
    for c in containers {
        if c.state.sandbox_key.is_none() || named.contains(c.id.as_str()) || restore::lost(c) {
            continue;
        }
        let Ok(n) = NetnsName::new(c.name.as_str()) else {
            continue;
        };
        let path = minotaur_ns::netns::Registry::system().path(&n);
        // A name someone else holds is left to them, as `create` does.
        if fs::symlink_metadata(&path).is_err() {
            found.push(Finding {
                owner: owner(c),
                problem: Problem::Missing,
                object: format!("ip netns name {}", path.display()),
                fix: Fix::Register(c.id.clone()),
            });
        }
    }
    Ok(())
}

/// Veths named after a container (`mt` + 10 hex digits of its ID + an index) that no endpoint records,
/// minotaur's bridges (`mt-` + 12 hex digits, `minotaur0`) that no network records, and recorded endpoints
/// whose veth is gone while the container's namespace is there (a `network disconnect` that died after
/// taking the interface away). Returns the names of the host's links.
fn links(
    ctx: &Context,
    containers: &[Container],
    nets: &[crate::network::Network],
    found: &mut Vec<Finding>,
) -> Result<HashSet<String>, EngineError> {
    let endpoints = attach::attachments(ctx, None, None)?;
    let veths: HashSet<&str> = endpoints
        .iter()
        .map(|a| a.endpoint.host_veth.as_str())
        .collect();
    let bridges: HashMap<&str, &str> = nets
        .iter()
        .map(|n| (n.bridge.as_str(), n.name.as_str()))
        .collect();
    let mut nl = minotaur_net::Netlink::open().map_err(NetworkError::from)?;
    let mut names = HashSet::new();
    // A removed container's veth goes with its namespace, which the kernel tears down after the last
    // reference is gone, on a work queue: for a moment the host end outlives the record.
    let settle = Instant::now() + NAMESPACE_TEARDOWN;
    for link in nl.links().map_err(NetworkError::from)? {
        let name = link.name;
        match Some(link.kind.as_str()).filter(|k| !k.is_empty()) {
            Some("veth") if is_our_veth(&name) && !veths.contains(name.as_str()) => {
                let prefix = &name[2..12];
                let holder = containers
                    .iter()
                    .find(|c| c.id.as_str().starts_with(prefix));
                if holder.is_none() && gone_by(&mut nl, &name, settle) {
                    continue;
                }
                found.push(Finding {
                    owner: holder.map_or_else(|| format!("container {prefix}"), owner),
                    problem: Problem::Orphan,
                    object: format!("veth {name}"),
                    fix: Fix::DeleteLink(name.clone()),
                })
            }
            Some("bridge") if is_our_bridge(&name) && !bridges.contains_key(name.as_str()) => found
                .push(Finding {
                    owner: "network (no record)".into(),
                    problem: Problem::Orphan,
                    object: format!("bridge {name}"),
                    fix: Fix::DeleteLink(name.clone()),
                }),
            _ => {}
        }
        names.insert(name);
    }
    let live: HashMap<&str, &Container> = containers
        .iter()
        .filter(|c| c.state.sandbox_key.is_some() && !restore::lost(c))
        .map(|c| (c.id.as_str(), c))
        .collect();
    for a in &endpoints {
        let Some(c) = live.get(a.container_id.as_str()) else {
            continue;
        };
        if !names.contains(&a.endpoint.host_veth) {
            found.push(Finding {
                owner: owner(c),
                problem: Problem::Missing,
                object: format!(
                    "veth {} (its endpoint on network {})",
                    a.endpoint.host_veth, a.network
                ),
                fix: Fix::Endpoint {
                    container: c.id.clone(),
                    network: a.endpoint.network_id.clone(),
                },
            });
        }
    }
    Ok(names)
}

/// How long the kernel may take to tear down a network namespace whose last reference went.
const NAMESPACE_TEARDOWN: Duration = Duration::from_secs(2);

/// Whether link `name` is gone by `deadline`, polled.
fn gone_by(nl: &mut minotaur_net::Netlink, name: &str, deadline: Instant) -> bool {
    loop {
        match nl.link_index(name) {
            Ok(None) => return true,
            Ok(Some(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => return false,
        }
    }
}

/// Addresses the store gives a container on a network where it has no endpoint: an attach that died
/// between taking them and recording the endpoint. A container half made is removed whole instead.
fn addresses(
    rows: &[EndpointRow],
    allocations: &[(&crate::network::Network, Allocation)],
    by_id: &HashMap<&str, &Container>,
    half: &HashSet<&str>,
    found: &mut Vec<Finding>,
) {
    let attached: HashSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r.container_id.as_str(), r.network_id.as_str()))
        .collect();
    for (net, a) in allocations {
        if half.contains(a.container_id.as_str())
            || attached.contains(&(a.container_id.as_str(), net.id.as_str()))
        {
            continue;
        }
        found.push(Finding {
            owner: owner_of(by_id, &a.container_id),
            problem: Problem::Orphan,
            object: format!(
                "address {} on network {} (no endpoint)",
                a.address, net.name
            ),
            fix: Fix::ReleaseAddresses {
                network: net.id.clone(),
                container: a.container_id.clone(),
            },
        });
    }
}

/// CNI attachments: a host end (`mc…`) that no record names is an orphan, and so is an ifb device (`mb…`)
/// whose host end is gone; a record whose host end is
/// gone (its namespace went away without a DEL, or an ADD died before making it) is stale, and goes with
/// its addresses and ports, as a GC would take it.
fn cni(
    ctx: &Context,
    nets: &[crate::network::Network],
    links: &HashSet<String>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let rows = {
        let mut st = ctx.store()?;
        st.read(|tx| tx.cni_attachments(None))?
    };
    let mut recorded = HashSet::new();
    for row in &rows {
        let net = nets
            .iter()
            .find(|n| n.id == row.network_id)
            .map_or(row.network_id.as_str(), |n| n.name.as_str());
        let veth = serde_json::from_str::<CniRecord>(&row.data)
            .ok()
            .map(|r| r.endpoint.host_veth);
        if let Some(v) = &veth {
            recorded.insert(v.clone());
        }
        if veth.as_ref().is_some_and(|v| links.contains(v)) {
            continue;
        }
        found.push(Finding {
            owner: format!(
                "CNI attachment {}/{} on network {net}",
                row.container_id, row.ifname
            ),
            problem: Problem::Stale,
            object: match veth {
                Some(v) => format!("record (its veth {v} is gone)"),
                None => "record of an attachment half made".into(),
            },
            fix: Fix::CniRecord {
                network: row.network_id.clone(),
                container: row.container_id.clone(),
                ifname: row.ifname.clone(),
            },
        });
    }
    for name in links
        .iter()
        .filter(|l| is_cni_veth(l) && !recorded.contains(*l))
    {
        found.push(Finding {
            owner: "CNI attachment (no record)".into(),
            problem: Problem::Orphan,
            object: format!("veth {name}"),
            fix: Fix::DeleteLink(name.clone()),
        });
    }
    // An ifb device shapes its host end's egress: without that host end it serves nothing.
    for (name, veth) in links
        .iter()
        .filter_map(|l| Some((l, veth_of_ifb(l)?)))
        .filter(|(_, veth)| !links.contains(veth))
    {
        found.push(Finding {
            owner: "CNI attachment (no host end)".into(),
            problem: Problem::Orphan,
            object: format!("ifb {name} (its veth {veth} is gone)"),
            fix: Fix::DeleteLink(name.clone()),
        });
    }
    Ok(())
}

pub(crate) fn is_our_veth(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("mt") else {
        return false;
    };
    rest.len() > 10
        && rest[..10].bytes().all(|b| b.is_ascii_hexdigit())
        && rest[10..].bytes().all(|b| b.is_ascii_digit())
}

fn is_our_bridge(name: &str) -> bool {
    name == DEFAULT_BRIDGE
        || name
            .strip_prefix("mt-")
            .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Cgroups under the containers' parent named like a container ID that no container has: in the unified
/// hierarchy, or in each v1 hierarchy the runtime uses.
fn cgroups(
    ctx: &Context,
    by_id: &HashMap<&str, &Container>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let parent = &ctx.paths.cgroup_parent;
    let mut names = std::collections::BTreeMap::new();
    for dir in minotaur_runtime::Cgroup::existing(&ctx.cgroup_root, parent).dirs() {
        for name in entries(dir)? {
            names.entry(name).or_insert_with(|| dir.clone());
        }
    }
    for (name, parent) in names {
        if is_id(&name) && !by_id.contains_key(name.as_str()) {
            found.push(Finding {
                owner: owner_of(by_id, &name),
                problem: Problem::Orphan,
                object: format!("cgroup {}", parent.join(&name).display()),
                fix: Fix::RemoveCgroup(ctx.paths.cgroup_parent.join(&name)),
            });
        }
    }
    Ok(())
}

/// Resolver record files of containers that are gone, and containers whose file is missing or does not say
/// what their endpoints do (a `network connect` or `disconnect` that died before telling the resolver).
fn records(
    ctx: &Context,
    containers: &[Container],
    by_id: &HashMap<&str, &Container>,
    nets: &[crate::network::Network],
    rows: &[EndpointRow],
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let base = ctx.paths.runroot.join("dns");
    let dir = base.join(minotaur_dns::RECORDS_DIR);
    let files: HashSet<String> = entries(&dir)?.into_iter().collect();
    for f in &files {
        let Some(id) = f.strip_suffix(".json").filter(|id| is_id(id)) else {
            continue;
        };
        if !by_id.contains_key(id) {
            found.push(Finding {
                owner: owner_of(by_id, id),
                problem: Problem::Orphan,
                object: format!("resolver records {}", dir.join(f).display()),
                fix: Fix::Remove(dir.join(f)),
            });
        }
    }
    // Records are written once the resolver's directory exists (the first running container makes it).
    if !base.exists() {
        return Ok(());
    }
    let sorted = |mut v: Vec<minotaur_dns::Entry>| {
        v.sort_by(|a, b| a.network.cmp(&b.network));
        v
    };
    for c in containers {
        let own: Vec<EndpointRow> = rows
            .iter()
            .filter(|r| r.container_id == c.id.as_str())
            .cloned()
            .collect();
        let wanted = sorted(dns::entries(
            nets,
            &own,
            &dns::ready_names(c, containers),
            &crate::network::services::cluster_names(c),
        )?);
        let file = format!("{}.json", c.id.as_str());
        let path = dns::records_file(ctx, c.id.as_str());
        let problem = match minotaur_dns::read_records(&base, &file) {
            Ok(None) if wanted.is_empty() => continue,
            Ok(None) => Problem::Missing,
            Ok(Some(have)) if sorted(have.clone()) == wanted => continue,
            Ok(Some(_)) | Err(_) => Problem::Stale,
        };
        found.push(Finding {
            owner: owner(c),
            problem,
            object: format!("resolver records {}", path.display()),
            fix: Fix::Records(c.id.clone()),
        });
    }
    Ok(())
}

/// Mounts below the run root that are neither the engine's own (the run root bound onto itself, the tmpfs
/// of the namespace files, the mount template, the bpffs of the connect4 redirect) nor a namespace file (compared above), and that belong to
/// no recorded container: what a process that died left mounted there. A path naming a container (by ID)
/// that has a record is that container's, and left alone.
fn mounts(
    ctx: &Context,
    by_id: &HashMap<&str, &Container>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let root = &ctx.paths.runroot;
    let own = [
        root.clone(),
        root.join("mnt"),
        root.join("mnt").join("template"),
        root.join("bpf"),
        ctx.paths.netns_dir(),
    ];
    let netns = ctx.paths.netns_dir();
    let table = "/proc/self/mountinfo";
    let infos = minotaur_ns::mountinfo::read(table).map_err(|source| EngineError::Io {
        what: format!("read {table}"),
        source,
    })?;
    let mut seen = HashSet::new();
    for m in infos {
        let p = &m.mount_point;
        if !p.starts_with(root)
            || own.contains(p)
            || p.parent() == Some(netns.as_path())
            || !seen.insert(p.clone())
        {
            continue;
        }
        let id = p
            .components()
            .filter_map(|c| c.as_os_str().to_str())
            .find(|s| is_id(s));
        if id.is_some_and(|id| by_id.contains_key(id)) {
            continue;
        }
        found.push(Finding {
            owner: id.map_or_else(|| "run root".into(), |id| owner_of(by_id, id)),
            problem: Problem::Orphan,
            object: format!("mount {} ({})", p.display(), m.fstype),
            fix: Fix::Unmount(p.clone()),
        });
    }
    Ok(())
}

/// Container directories (persistent and runtime) without a record.
fn directories(
    ctx: &Context,
    by_id: &HashMap<&str, &Container>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    for base in [
        ctx.paths.root.join("containers"),
        ctx.paths.runroot.join("containers"),
    ] {
        for name in entries(&base)? {
            if is_id(&name) && !by_id.contains_key(name.as_str()) {
                found.push(Finding {
                    owner: owner_of(by_id, &name),
                    problem: Problem::Orphan,
                    object: format!("directory {}", base.join(&name).display()),
                    fix: Fix::Remove(base.join(&name)),
                });
            }
        }
    }
    Ok(())
}

/// Volume directories without a record (a `volume create` that died before its commit).
fn volumes(ctx: &Context, found: &mut Vec<Finding>) -> Result<(), EngineError> {
    let base = ctx.paths.root.join("volumes");
    let names = entries(&base)?;
    if names.is_empty() {
        return Ok(());
    }
    let known: HashSet<String> = crate::volume::list(ctx)?
        .into_iter()
        .map(|v| v.name)
        .collect();
    for name in names {
        if !known.contains(&name) {
            found.push(Finding {
                owner: format!("volume {name}"),
                problem: Problem::Orphan,
                object: format!("directory {}", base.join(&name).display()),
                fix: Fix::Remove(base.join(&name)),
            });
        }
    }
    Ok(())
}

/// Partial blobs of pulls that are no longer running: their fetch lock is free.
fn partials(ctx: &Context, found: &mut Vec<Finding>) -> Result<(), EngineError> {
    let tmp = ctx.paths.root.join("image").join("tmp");
    let dir = tmp.join("partial");
    for hex in entries(&dir)? {
        let lock = tmp.join("locks").join(&hex);
        let busy = fs::File::open(&lock).is_ok_and(|f| {
            nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).is_err()
        });
        if !busy {
            found.push(Finding {
                owner: "image store".into(),
                problem: Problem::Orphan,
                object: format!("partial blob sha256:{hex} ({})", dir.join(&hex).display()),
                fix: Fix::Partial {
                    partial: dir.join(&hex),
                    lock,
                },
            });
        }
    }
    Ok(())
}

/// Blobs and layers of the image store that no image references and no running pull or push has pinned
/// (a pull that died after ingesting its layers and before registering its image), and its lock files
/// that nobody holds and guard nothing (a fetch that died).
fn unused_layers(ctx: &Context, found: &mut Vec<Finding>) -> Result<(), EngineError> {
    if !ctx.paths.root.join("image").exists() {
        return Ok(());
    }
    let store = minotaur_image::Store::open(&ctx.paths.root)?;
    let unused = store.unused()?;
    let each = |blobs: &[String], layers: &[String]| minotaur_image::Unused {
        blobs: blobs.to_vec(),
        layers: layers.to_vec(),
    };
    for l in &unused.layers {
        found.push(Finding {
            owner: "image store".into(),
            problem: Problem::Orphan,
            object: format!("layer {l} (no image uses it)"),
            fix: Fix::Unused(each(&[], std::slice::from_ref(l))),
        });
    }
    for b in &unused.blobs {
        found.push(Finding {
            owner: "image store".into(),
            problem: Problem::Orphan,
            object: format!("blob {b} (no image uses it)"),
            fix: Fix::Unused(each(std::slice::from_ref(b), &[])),
        });
    }
    for path in store.stale_locks()? {
        found.push(Finding {
            owner: "image store".into(),
            problem: Problem::Stale,
            object: format!(
                "lock file {} (nobody holds it, it guards nothing)",
                path.display()
            ),
            fix: Fix::StaleLock(path),
        });
    }
    Ok(())
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The names in a directory, sorted; none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<String>, EngineError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(EngineError::Io {
                what: format!("read {}", dir.display()),
                source,
            })
        }
    };
    let mut names: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_link_names() {
        assert!(is_our_veth("mt01234567890"));
        assert!(is_our_veth("mtabcdef012312"));
        assert!(!is_our_veth("mtabcdef0123x1"));
        assert!(!is_our_veth("veth0123456789"));
        assert!(!is_our_veth("mt0123456789"));
        assert!(is_our_bridge("minotaur0"));
        assert!(is_our_bridge("mt-0123456789ab"));
        assert!(!is_our_bridge("br-0123456789ab"));
        assert!(!is_our_bridge("docker0"));
        assert!(!is_our_bridge("mt-xyz"));
    }
}
