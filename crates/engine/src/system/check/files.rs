//! The findings of `system check` on disk and in the cgroup tree: cgroups, container records and their
//! files, mounts below the run root, directories, volumes and the image store's leftovers.

use std::collections::{HashMap, HashSet};
use std::fs;

use minotaur_state::EndpointRow;

use super::{entries, is_id, owner, owner_of, Finding, Fix, Problem};
use crate::container::{Container, Status};
use crate::context::Context;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::network::dns;

/// Cgroups under the containers' parent named like a container ID that no container has: in the unified
/// hierarchy, or in each v1 hierarchy the runtime uses.
pub(super) fn cgroups(
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
pub(super) fn records(
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
pub(super) fn mounts(
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

/// `exec`'s records (see `exec::record`): one that no running container (with its supervisor alive) owns
/// under its name is stale. It would be passed over anyway (its PID 1 is gone, or its name is another's),
/// but it should not stay.
pub(super) fn exec_records(
    ctx: &Context,
    by_id: &HashMap<&str, &Container>,
    found: &mut Vec<Finding>,
) {
    let running = |id: &ContainerId| {
        by_id
            .get(id.as_str())
            .filter(|c| {
                let s = &c.state;
                s.status == Status::Running
                    && crate::process::alive(s.supervisor_pid, s.supervisor_start_time)
            })
            .map(|c| c.name.clone())
    };
    for (path, id) in crate::exec::record::stale(&ctx.paths, &running) {
        found.push(Finding {
            owner: id.map_or_else(
                || "exec record (unreadable)".into(),
                |id| owner_of(by_id, id.as_str()),
            ),
            problem: Problem::Stale,
            object: format!("exec record {}", path.display()),
            fix: Fix::Remove(path),
        });
    }
}

/// Container directories (persistent and runtime) without a record.
pub(super) fn directories(
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
pub(super) fn volumes(ctx: &Context, found: &mut Vec<Finding>) -> Result<(), EngineError> {
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
pub(super) fn partials(ctx: &Context, found: &mut Vec<Finding>) -> Result<(), EngineError> {
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
pub(super) fn unused_layers(ctx: &Context, found: &mut Vec<Finding>) -> Result<(), EngineError> {
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
