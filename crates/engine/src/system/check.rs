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

use minotaur_ns::netns::{NetnsError, NetnsName};
use serde::Serialize;

use crate::container::{Container, Status};
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::network::{attach, dns, netns, networks, ports, restore};
use crate::process::alive;
use crate::store;

mod files;
mod firewall;
mod kernel;

use files::{
    cgroups, directories, exec_records, mounts, partials, records, unused_layers, volumes,
};
pub(crate) use kernel::is_our_veth;
use kernel::{addresses, cni, ip_netns, links, namespaces};

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
    /// Remove a `/run/netns` link, its `/etc/netns` entry and the alias that entry links to.
    Unregister {
        link: PathBuf,
        etc: PathBuf,
        alias: PathBuf,
    },
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
        .partition(|c| !crate::etc::dir(&ctx.paths, &c.id).join("hosts").exists());
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
    exec_records(ctx, &by_id, &mut found);
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
            let mut marked = false;
            st.write(|tx| {
                store::update_state(tx, id, |s| {
                    if matches!(s.status, Status::Running | Status::Restarting)
                        && !alive(s.pid, s.pid_start_time)
                        && !alive(s.supervisor_pid, s.supervisor_start_time)
                    {
                        marked = true;
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
            if marked {
                // Its processes are gone; an `rm -f` that died after killing it had its cgroup to remove.
                minotaur_runtime::Cgroup::existing(&ctx.cgroup_root, &ctx.paths.cgroup(id))
                    .remove()
                    .map_err(|e| EngineError::Runtime(e.into()))?;
            }
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
        Fix::Unregister { link, etc, alias } => {
            for path in [link, etc, alias] {
                remove_path(path).map_err(io(format!("remove {}", path.display())))?;
            }
            Ok(())
        }
        Fix::Register(id) => {
            let c = ctx.find(id.as_str())?;
            if let Some(key) = &c.state.sandbox_key {
                netns::register(&ctx.paths, id, c.name.as_str(), key)?;
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

pub(super) fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The names in a directory, sorted; none when it does not exist.
pub(super) fn entries(dir: &Path) -> Result<Vec<String>, EngineError> {
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
