//! The resolver's records: what a container's names and addresses are on each of its networks, written for
//! the embedded resolver (`minotaur-dns`), which is started, told, or let go as networks gain and lose
//! containers.

use crate::container::Container;
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::network::record::{Endpoint, Network};
use crate::network::services;
use minotaur_state::{EndpointRow, StateError};

/// Where the resolver keeps its configuration and lock.
fn dir(ctx: &Context) -> std::path::PathBuf {
    ctx.paths.runroot.join("dns")
}

/// Updates the resolver for a change to container `id` (created, removed, renamed, connected or
/// disconnected) and tells it. A resolver that cannot be told (say, port 53 of a gateway is taken) costs
/// name resolution, not the container: it is a warning.
///
/// A container that backs cluster IPs has their firewall rules brought up to date too (see
/// [`services::update`]): whatever made its records change may have changed its readiness.
pub(crate) fn update(ctx: &Context, id: &ContainerId) -> Result<(), EngineError> {
    match try_update(ctx, id) {
        Ok(Some(backs)) => services::update(ctx, &backs),
        Ok(None) => {}
        Err(e) => log::warn!(
            "container names will not resolve: {}",
            crate::error_chain(&e)
        ),
    }
    Ok(())
}

/// Rewrites container `id`'s record file (gone when it is on no network) and, when the networks that have
/// running containers changed, the listeners; then tells the resolver (starting it when a network has a
/// running container, letting it go when none has: the supervisor calls this when its container starts
/// and when it exits). Only the one container's endpoints are read: the work is
/// the same at the first container and at the thousandth. Gives back the container when it backs
/// cluster IPs.
fn try_update(ctx: &Context, id: &ContainerId) -> Result<Option<Container>, EngineError> {
    let found = update_records(ctx, id, false)?;
    Ok(found.filter(|c| !c.config.host.service_ports.is_empty()))
}

/// The resolver's listeners taken for a container before it runs ([`start_early`]), with the networks the
/// start read, for the check once the container is recorded running ([`started`]).
#[derive(Debug)]
pub(crate) struct Early {
    networks: Vec<Network>,
    /// The configuration as the early start left it (written, or found so).
    config: Option<minotaur_dns::Config>,
}

/// Takes the resolver's lock for container `id` before it runs, with the container's networks counted as
/// having a running container already, when nobody answers names yet: the listeners are bound by this
/// process, which starts the server only once a query or another network's container wants it (see
/// `minotaur_dns::Dormant`, held in the context until [`hand_over`]). A lone container that never asks a
/// name (a `run --rm` of a short command) costs no server process at all. Gives back what [`started`]
/// checks once the container is recorded running. Should the container not come to run, [`update`]
/// lets the listeners go again.
pub(crate) fn start_early(ctx: &Context, id: &ContainerId) -> Option<Early> {
    // With a server running or listeners held (a container of some network runs) there is nothing to
    // take, and nothing is read or written twice.
    if minotaur_dns::answered(&dir(ctx)) {
        return None;
    }
    match read(ctx, id).and_then(|seen| {
        let (held, config) = write_and_tell(ctx, id, &seen, true)?;
        Ok(held.then_some(Early {
            networks: seen.networks,
            config,
        }))
    }) {
        Ok(early) => early,
        Err(e) => {
            // The update after the start tries again and warns.
            log::debug!("dns: early start: {}", crate::error_chain(&e));
            None
        }
    }
}

/// After [`start_early`], once container `c` is recorded running: makes sure the listeners are still
/// those of the networks with running containers (a writer that came between the early start and the
/// record, say the last container of another network exiting, did not count this one yet). The record
/// file the early start wrote stands: a `network connect` meanwhile writes its own. A container whose
/// records depend on more than its endpoints (ready names, cluster IPs) gets the whole [`update`]. Warns
/// as [`update`] does.
pub(crate) fn started(ctx: &Context, c: &Container, early: Early) {
    let h = &c.config.host;
    if !h.ready_names.is_empty() || !h.service_ports.is_empty() {
        let _ = update(ctx, &c.id);
        return;
    }
    // The configuration is still the one the early start left: no writer came between (one that did
    // not count this container would have written other listeners), so the store need not be read again.
    if early.config.is_some() && minotaur_dns::read_config(&dir(ctx)).ok() == early.config {
        return;
    }
    let checked = ctx
        .store()
        .and_then(|mut st| Ok(st.read(in_use)?))
        .and_then(|in_use| sync_listeners(ctx, &early.networks, &in_use, &[]));
    if let Err(e) = checked {
        log::warn!(
            "container names will not resolve: {}",
            crate::error_chain(&e)
        );
    }
}

/// Ends this process's holding of the resolver's listeners, if it holds them (see [`start_early`]): the
/// server is started with them when containers still run on a network, else they are let go. The
/// supervisor's last step; a warning when it fails, as [`update`].
pub(crate) fn hand_over(ctx: &Context) {
    let Some(held) = ctx.resolver.0.borrow_mut().take() else {
        return;
    };
    if let Err(e) = hand_over_held(held) {
        log::warn!(
            "container names will not resolve: {}",
            crate::error_chain(&e)
        );
    }
}

/// [`hand_over`] of listeners taken out of the context (the supervisor's waiting loop holds them).
pub(crate) fn hand_over_held(held: minotaur_dns::Dormant) -> Result<(), EngineError> {
    let exe = exe()?;
    held.hand_over(minotaur_dns::Launch::Fork(&exe))
        .map_err(NetworkError::from)?;
    log::debug!("dns: listeners handed over");
    Ok(())
}

fn exe() -> Result<std::path::PathBuf, EngineError> {
    std::env::current_exe().map_err(|source| EngineError::Io {
        what: "find the minotaur executable".into(),
        source,
    })
}

/// What an update of container `id` reads of the store, in one read transaction.
struct Seen {
    networks: Vec<Network>,
    /// The container, unless it is gone (removed).
    found: Option<Container>,
    /// Its endpoint rows.
    own: Vec<EndpointRow>,
    /// Its ready names, when it has them and is ready.
    ready_names: Vec<String>,
    /// The IDs of the networks with running containers or CNI attachments.
    in_use: Vec<String>,
}

fn read(ctx: &Context, id: &ContainerId) -> Result<Seen, EngineError> {
    let mut st = ctx.store()?;
    let (rows, found, own, ready_names, in_use) = st.read(|tx| -> Result<_, EngineError> {
        let found = crate::store::find(tx, id.as_str()).ok();
        // Only a container with ready names needs the others read (a removed one has none).
        let ready_names = match &found {
            Some(c) if !c.config.host.ready_names.is_empty() => {
                ready_names(c, &crate::store::list(tx)?)
            }
            _ => Vec::new(),
        };
        Ok((
            tx.networks()?,
            found,
            tx.endpoints(Some(id.as_str()), None)?,
            ready_names,
            in_use(tx)?,
        ))
    })?;
    drop(st);
    let networks = rows
        .into_iter()
        .map(Network::from_row)
        .collect::<Result<_, _>>()
        .map_err(EngineError::from)?;
    Ok(Seen {
        networks,
        found,
        own,
        ready_names,
        in_use,
    })
}

/// The IDs of the networks that keep the resolver: those with running containers, and those with CNI
/// attachments (whose namespaces live as long as their runtime keeps them). With none, nothing of
/// minotaur runs.
fn in_use(tx: &minotaur_state::ReadTx<'_>) -> Result<Vec<String>, StateError> {
    let mut ids = tx.networks_with_containers_in(&["running", "restarting"])?;
    ids.extend(tx.cni_attachments(None)?.into_iter().map(|a| a.network_id));
    Ok(ids)
}

/// [`try_update`]'s work: container `id`'s record file, the listeners, the resolver told.
fn update_records(
    ctx: &Context,
    id: &ContainerId,
    early: bool,
) -> Result<Option<Container>, EngineError> {
    let seen = read(ctx, id)?;
    write_and_tell(ctx, id, &seen, early)?;
    Ok(seen.found)
}

/// Writes container `id`'s record file from what was `seen`, and the listeners; then tells the
/// resolver. With `early`, the container's own networks count as in use and the listeners are held
/// rather than served (see [`start_early`]). Gives back whether they were taken, and the configuration as
/// it left it.
fn write_and_tell(
    ctx: &Context,
    id: &ContainerId,
    seen: &Seen,
    early: bool,
) -> Result<Told, EngineError> {
    let cluster = seen
        .found
        .as_ref()
        .map(services::cluster_names)
        .unwrap_or_default();
    let entries = entries(&seen.networks, &seen.own, &seen.ready_names, &cluster)?;
    log::debug!("dns: {} entries of {}", entries.len(), id.short());
    let about_to_run: Vec<&str> = if early {
        seen.own.iter().map(|r| r.network_id.as_str()).collect()
    } else {
        Vec::new()
    };
    sync(
        ctx,
        &seen.networks,
        &seen.in_use,
        id.as_str(),
        &entries,
        &about_to_run,
    )
}

/// Updates the resolver for a CNI attachment made or taken away (`entries` empty): its record file is
/// `key`'s. As for containers, a resolver that cannot be told is a warning.
pub(crate) fn update_cni(ctx: &Context, key: &str, entries: &[minotaur_dns::Entry]) {
    let done = ctx
        .store()
        .and_then(|mut st| Ok(st.read(|tx| Ok::<_, StateError>((tx.networks()?, in_use(tx)?)))?))
        .and_then(|(rows, in_use)| {
            let networks = rows
                .into_iter()
                .map(Network::from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(EngineError::from)?;
            sync(ctx, &networks, &in_use, key, entries, &[]).map(drop)
        });
    if let Err(e) = done {
        log::warn!(
            "attachment names will not resolve: {}",
            crate::error_chain(&e)
        );
    }
}

/// Writes record file `key` and, when the networks that have running containers or CNI attachments
/// (`in_use`, IDs) changed, the listeners; then tells the resolver. Networks in `about_to_run` (IDs)
/// count as in use too; when there are any, the listeners are held rather than served (see
/// [`start_early`]).
fn sync(
    ctx: &Context,
    networks: &[Network],
    in_use: &[String],
    key: &str,
    entries: &[minotaur_dns::Entry],
    about_to_run: &[&str],
) -> Result<Told, EngineError> {
    let dir = dir(ctx);
    let listeners = listeners(networks, in_use, about_to_run);
    if listeners.is_empty() && !dir.exists() {
        return Ok((false, None));
    }
    // Both make the directory when it is missing.
    minotaur_dns::write_records(&dir, key, entries).map_err(NetworkError::from)?;
    tell(ctx, listeners, !about_to_run.is_empty())
}

/// [`sync`] without a record file to write: the listeners checked, the resolver told.
fn sync_listeners(
    ctx: &Context,
    networks: &[Network],
    in_use: &[String],
    about_to_run: &[&str],
) -> Result<(), EngineError> {
    let listeners = listeners(networks, in_use, about_to_run);
    if listeners.is_empty() && !dir(ctx).exists() {
        return Ok(());
    }
    tell(ctx, listeners, false).map(drop)
}

/// The resolver's listeners: the gateways the bridges hold of the networks in `in_use` or `about_to_run`.
fn listeners(
    networks: &[Network],
    in_use: &[String],
    about_to_run: &[&str],
) -> Vec<minotaur_dns::Listener> {
    let mut listeners = Vec::new();
    for n in networks
        .iter()
        .filter(|n| in_use.contains(&n.id) || about_to_run.contains(&n.id.as_str()))
    {
        for s in n
            .subnets
            .iter()
            .filter(|s| n.bridge_holds_gateway(s.subnet.addr().is_ipv6()))
        {
            listeners.push(minotaur_dns::Listener {
                address: s.gateway,
                network: n.name.clone(),
                internal: n.internal,
                records: Vec::new(),
            });
        }
    }
    listeners
}

/// Whether the listeners were taken to be held ([`start_early`]), and the configuration as the telling
/// left it (`None`: no resolver directory, nothing told).
type Told = (bool, Option<minotaur_dns::Config>);

/// Writes the configuration when its `listeners` changed, and tells the resolver: signalled to reload
/// it, or started when none runs; with `hold`, its listeners are taken and held instead of a start (see
/// [`start_early`]). Listeners this process holds are handed over when the configuration is no longer
/// theirs.
fn tell(
    ctx: &Context,
    listeners: Vec<minotaur_dns::Listener>,
    hold: bool,
) -> Result<Told, EngineError> {
    let dir = dir(ctx);
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
    // Held here: a writer finds the lock taken and counts on this process, which starts the server once
    // the configuration is no longer the one held.
    let held = ctx.resolver.0.borrow_mut().take();
    if let Some(mut held) = held {
        if held.current(&config) {
            *ctx.resolver.0.borrow_mut() = Some(held);
        } else {
            hand_over_held(held)?;
        }
        return Ok((false, Some(config)));
    }
    let exe = exe()?;
    // A server is this process forked, when it is single-threaded: no exec of the binary again.
    let launch = minotaur_dns::Launch::Fork(&exe);
    let mut taken = false;
    if hold {
        if let Some(held) = minotaur_dns::hold(&dir, changed).map_err(NetworkError::from)? {
            *ctx.resolver.0.borrow_mut() = Some(held);
            taken = true;
        }
    } else if changed {
        minotaur_dns::notify(&dir, launch).map_err(NetworkError::from)?;
    } else {
        minotaur_dns::ensure_running(&dir, launch).map_err(NetworkError::from)?;
    }
    log::debug!("dns: resolver told");
    Ok((taken, Some(config)))
}

/// The path of container `id`'s record file.
pub(crate) fn records_file(ctx: &Context, id: &str) -> std::path::PathBuf {
    dir(ctx)
        .join(minotaur_dns::RECORDS_DIR)
        .join(format!("{id}.json"))
}

/// Container `c`'s ready names when it is ready (see [`Container::ready`]), else none.
pub(crate) fn ready_names(c: &Container, all: &[Container]) -> Vec<String> {
    if c.ready(all) {
        c.config.host.ready_names.clone()
    } else {
        Vec::new()
    }
}

/// Tells the resolver that container `c`'s readiness changed, or that it started or stopped: the records
/// of the container whose network namespace it uses (its own, or `container:X`'s) may gain or lose their
/// ready names. A warning when it cannot, as [`update`].
pub(crate) fn readiness_changed(ctx: &Context, c: &Container) {
    let owner = match c.config.host.network_mode.strip_prefix("container:") {
        Some(x) => match ctx.find(x) {
            Ok(o) => o.id,
            Err(_) => return,
        },
        None => c.id.clone(),
    };
    let _ = update(ctx, &owner);
}

/// What a container's record file holds, given all `networks`, its endpoint rows `own`, the names it
/// answers to while ready (when it is) and the names of the cluster IPs it backs: one entry per
/// endpoint, the container's name, aliases, ready names and short ID with its addresses, and one per
/// endpoint and cluster IP, the Service's names with the cluster IP.
pub(crate) fn entries(
    networks: &[Network],
    own: &[EndpointRow],
    ready_names: &[String],
    cluster: &[(Vec<String>, std::net::IpAddr)],
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
        names.extend(ready_names.iter().cloned());
        names.push(row.container_id[..12].to_owned());
        entries.push(minotaur_dns::Entry {
            network: net.name.clone(),
            record: minotaur_dns::Record {
                names,
                addresses: endpoint.addresses().collect(),
                container: row.container_id.clone(),
            },
        });
        for (names, ip) in cluster {
            entries.push(minotaur_dns::Entry {
                network: net.name.clone(),
                record: minotaur_dns::Record {
                    names: names.clone(),
                    addresses: vec![*ip],
                    container: row.container_id.clone(),
                },
            });
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::tests::sample;
    use crate::container::Status;
    use crate::healthcheck::{Health, HealthStatus, Healthcheck};
    use crate::ids::ContainerId;

    #[test]
    fn ready_names_answer_while_every_joined_readiness_check_passes() {
        let mut infra = sample();
        infra.name = "pod-infra".parse().unwrap();
        infra.config.host.ready_names = vec!["web".into()];
        let joined = |name: &str, status: Option<HealthStatus>| {
            let mut c = sample();
            c.id = ContainerId::random();
            c.name = name.parse().unwrap();
            c.config.host.network_mode = "container:pod-infra".into();
            if let Some(s) = status {
                c.config.readiness = Some(Healthcheck {
                    test: vec!["TCP".into(), "127.0.0.1:80".into()],
                    ..Default::default()
                });
                c.state.readiness = Some(Health {
                    status: s,
                    ..Default::default()
                });
            }
            c
        };
        let a = joined("pod-a", Some(HealthStatus::Healthy));
        let b = joined("pod-b", Some(HealthStatus::Starting));
        let plain = joined("pod-c", None);
        let all = |v: &[&Container]| v.iter().map(|c| (*c).clone()).collect::<Vec<_>>();
        assert_eq!(ready_names(&infra, &all(&[&infra, &a, &plain])), ["web"]);
        assert!(
            ready_names(&infra, &all(&[&infra, &a, &b])).is_empty(),
            "b is not ready"
        );
        let mut stopped = a.clone();
        stopped.state.status = Status::Exited;
        assert!(
            !infra.ready(&all(&[&infra, &stopped])),
            "a stopped container is not ready"
        );
        assert!(
            infra.ready(&all(&[&infra, &plain])),
            "no readiness check: running is ready"
        );
        // Joined by ID prefix, as `container:` may name it.
        let mut by_id = b.clone();
        by_id.config.host.network_mode = format!("container:{}", &infra.id.as_str()[..12]);
        assert!(!infra.ready(&all(&[&infra, &by_id])));
        let mut down = infra.clone();
        down.state.status = Status::Exited;
        assert!(
            !down.ready(&all(&[&down, &a])),
            "the holder itself must run"
        );
    }
}
