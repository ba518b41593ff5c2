//! The resolver's records: what a container's names and addresses are on each of its networks, written for
//! the embedded resolver (`minotaur-dns`), which is started, told, or let go as networks gain and lose
//! containers.

use std::fs;

use minotaur_state::StateError;

use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::network::networks;
use crate::network::record::{Endpoint, Network};
use minotaur_state::EndpointRow;

/// Where the resolver keeps its configuration and lock.
fn dir(ctx: &Context) -> std::path::PathBuf {
    ctx.paths.runroot.join("dns")
}

/// Updates the resolver for a change to container `id` (created, removed, renamed, connected or
/// disconnected) and tells it. A resolver that cannot be told (say, port 53 of a gateway is taken) costs
/// name resolution, not the container: it is a warning.
pub(crate) fn update(ctx: &Context, id: &ContainerId) -> Result<(), EngineError> {
    if let Err(e) = try_update(ctx, id) {
        log::warn!(
            "container names will not resolve: {}",
            crate::error_chain(&e)
        );
    }
    Ok(())
}

/// Rewrites container `id`'s record file (gone when it is on no network) and, when the networks that have
/// running containers changed, the listeners; then tells the resolver (starting it when a network has a
/// running container, letting it go when none has: the supervisor calls this when its container starts
/// and when it exits). Only the one container's endpoints are read: the work is
/// the same at the first container and at the thousandth.
fn try_update(ctx: &Context, id: &ContainerId) -> Result<(), EngineError> {
    let networks = networks::list(ctx)?;
    let mut st = ctx.store()?;
    let own = st.read(|tx| tx.endpoints(Some(id.as_str()), None))?;
    drop(st);
    let entries = entries(&networks, &own)?;
    log::debug!("dns: {} entries of {}", entries.len(), id.short());
    sync(ctx, &networks, id.as_str(), &entries)
}

/// Updates the resolver for a CNI attachment made or taken away (`entries` empty): its record file is
/// `key`'s. As for containers, a resolver that cannot be told is a warning.
pub(crate) fn update_cni(ctx: &Context, key: &str, entries: &[minotaur_dns::Entry]) {
    let done = networks::list(ctx).and_then(|networks| sync(ctx, &networks, key, entries));
    if let Err(e) = done {
        log::warn!(
            "attachment names will not resolve: {}",
            crate::error_chain(&e)
        );
    }
}

/// Writes record file `key` and, when the networks that have running containers or CNI attachments
/// changed, the listeners; then tells the resolver.
fn sync(
    ctx: &Context,
    networks: &[Network],
    key: &str,
    entries: &[minotaur_dns::Entry],
) -> Result<(), EngineError> {
    let mut st = ctx.store()?;
    let (in_use, cni) = st.read(|tx| -> Result<_, StateError> {
        Ok((
            // Only running containers (and attachments, whose namespaces live as long as their runtime
            // keeps them) keep the resolver: with none, nothing of minotaur runs.
            tx.networks_with_containers_in(&["running", "restarting"])?,
            tx.cni_attachments(None)?,
        ))
    })?;
    drop(st);
    let mut listeners = Vec::new();
    for n in networks
        .iter()
        .filter(|n| in_use.contains(&n.id) || cni.iter().any(|a| a.network_id == n.id))
    {
        for s in &n.subnets {
            listeners.push(minotaur_dns::Listener {
                address: s.gateway,
                network: n.name.clone(),
                internal: n.internal,
                records: Vec::new(),
            });
        }
    }
    let dir = dir(ctx);
    if listeners.is_empty() && !dir.exists() {
        return Ok(());
    }
    fs::create_dir_all(&dir).map_err(|source| EngineError::Io {
        what: format!("create {}", dir.display()),
        source,
    })?;
    minotaur_dns::write_records(&dir, key, entries).map_err(NetworkError::from)?;
    let config = minotaur_dns::Config {
        listeners,
        upstreams: minotaur_dns::host_upstreams(),
    };
    // A configuration that cannot be read is replaced.
    let changed = minotaur_dns::read_config(&dir).ok().as_ref() != Some(&config);
    if changed {
        minotaur_dns::write_config(&dir, &config).map_err(NetworkError::from)?;
        log::debug!("dns: listeners written");
    }
    let exe = std::env::current_exe().map_err(|source| EngineError::Io {
        what: "find the minotaur executable".into(),
        source,
    })?;
    if changed {
        minotaur_dns::notify(&dir, &exe)
    } else {
        minotaur_dns::ensure_running(&dir, &exe)
    }
    .map_err(NetworkError::from)?;
    log::debug!("dns: resolver told");
    Ok(())
}

/// The path of container `id`'s record file.
pub(crate) fn records_file(ctx: &Context, id: &str) -> std::path::PathBuf {
    dir(ctx)
        .join(minotaur_dns::RECORDS_DIR)
        .join(format!("{id}.json"))
}

/// What a container's record file holds, given all `networks` and its endpoint rows `own`: one entry per
/// endpoint, the container's name, aliases and short ID with its addresses.
pub(crate) fn entries(
    networks: &[Network],
    own: &[EndpointRow],
) -> Result<Vec<minotaur_dns::Entry>, EngineError> {
    let mut entries = Vec::new();
    for row in own {
        let endpoint: Endpoint =
            serde_json::from_str(&row.data).map_err(|source| NetworkError::Corrupt {
                id: format!("(endpoint of container {})", row.container_id),
                source,
            })?;
        let Some(net) = networks.iter().find(|n| n.id == row.network_id) else {
            continue;
        };
        let mut names = vec![row.container_name.clone()];
        names.extend(endpoint.aliases.iter().cloned());
        names.push(row.container_id[..12].to_owned());
        entries.push(minotaur_dns::Entry {
            network: net.name.clone(),
            record: minotaur_dns::Record {
                names,
                addresses: endpoint.addresses().collect(),
                container: row.container_id.clone(),
            },
        });
    }
    Ok(entries)
}
