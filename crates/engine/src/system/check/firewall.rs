//! The findings of `system check` in minotaur's own nftables table: its `bridges` set and port maps
//! against the store, the cluster IPs' and node ports' maps against the pods that back them, and the
//! pinned connect4 map against the published ports.

use std::collections::{HashMap, HashSet};

use minotaur_firewall::PortRule;
use minotaur_state::Allocation;

use super::{owner_of, Finding, Fix, Problem};
use crate::container::Container;
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::network::ports;

/// The elements of minotaur's own table against the store: the `bridges` set (a network's elements) and
/// the port maps (published ports). What no record owns is an orphan, what a record owns and the table lacks
/// is missing; both are repaired by the `network reload` every repair ends with. Nothing but the `inet
/// minotaur` table is read.
pub(super) fn firewall(
    ctx: &Context,
    nets: &[crate::network::Network],
    links: &HashSet<String>,
    allocations: &[(&crate::network::Network, Allocation)],
    by_id: &HashMap<&str, &Container>,
    half: &HashSet<&str>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let mut fw = match minotaur_firewall::Firewall::open() {
        Ok(fw) => fw,
        // No networks, no table to compare: a host without nftables can still check the rest.
        Err(_) if nets.is_empty() => return Ok(()),
        Err(e) => return Err(NetworkError::from(e).into()),
    };
    if nets.is_empty() && !fw.table_exists().map_err(NetworkError::from)? {
        return Ok(());
    }
    let elements: HashSet<String> = fw
        .bridges()
        .map_err(NetworkError::from)?
        .into_iter()
        .collect();
    for e in &elements {
        if !nets.iter().any(|n| &n.bridge == e) {
            found.push(Finding {
                owner: "network (no record)".into(),
                problem: Problem::Orphan,
                object: format!("firewall elements of bridge {e}"),
                fix: Fix::Firewall,
            });
        }
    }
    // A network's elements are added when its bridge is made (at `network create`, or by its first
    // container for the default network).
    for n in nets {
        if links.contains(&n.bridge) && !elements.contains(&n.bridge) {
            found.push(Finding {
                owner: format!("network {}", n.name),
                problem: Problem::Missing,
                object: format!("firewall elements of bridge {}", n.bridge),
                fix: Fix::Firewall,
            });
        }
    }
    let key = |r: &PortRule| {
        (
            r.proto,
            r.bound_ip(),
            r.host_port,
            r.container_ip,
            r.container_port,
        )
    };
    // A container half made or removed goes whole, its ports with it.
    let wanted: Vec<(String, PortRule)> = ports::wanted(ctx)?
        .into_iter()
        .filter(|(id, _)| !half.contains(id.as_str()))
        .collect();
    let live = fw.published().map_err(NetworkError::from)?;
    let holder: HashMap<String, &str> = allocations
        .iter()
        .map(|(_, a)| (a.address.clone(), a.container_id.as_str()))
        .collect();
    let of_half = |r: &PortRule| {
        holder
            .get(&r.container_ip.to_string())
            .is_some_and(|id| half.contains(id))
    };
    let live_keys: Vec<_> = live.iter().filter(|r| !of_half(r)).map(key).collect();
    let wanted_keys: Vec<_> = wanted.iter().map(|(_, r)| key(r)).collect();
    let describe = |k: &_| {
        // The container that publishes it, else the one that holds its address.
        let owner = match wanted.iter().find(|(_, r)| key(r) == *k) {
            Some((id, _)) => owner_of(by_id, id),
            None => holder
                .get(&k.3.to_string())
                .map_or_else(|| "container (no record)".into(), |id| owner_of(by_id, id)),
        };
        let rule = wanted
            .iter()
            .map(|(_, r)| r)
            .chain(&live)
            .find(|r| key(r) == *k)
            .map(ToString::to_string)
            .unwrap_or_default();
        (owner, format!("published port element {rule}"))
    };
    compare(&wanted_keys, &live_keys, describe, Fix::Firewall, found);
    cluster_ips(ctx, &mut fw, half, found)?;
    redirect(ctx, &wanted, &holder, by_id, half, found)
}

/// Compares what should be (`wanted`) with what is (`live`): each piece only `live` holds is an orphan,
/// each only `wanted` holds is missing; `describe` gives a piece's owner and object. (A linear search per
/// piece: thousands of pieces cost milliseconds.)
fn compare<T: PartialEq>(
    wanted: &[T],
    live: &[T],
    describe: impl Fn(&T) -> (String, String),
    fix: Fix,
    found: &mut Vec<Finding>,
) {
    let gone = live.iter().filter(|x| !wanted.contains(x));
    let lacking = wanted.iter().filter(|x| !live.contains(x));
    for (problem, x) in gone
        .map(|x| (Problem::Orphan, x))
        .chain(lacking.map(|x| (Problem::Missing, x)))
    {
        let (owner, object) = describe(x);
        found.push(Finding {
            owner,
            problem,
            object,
            fix: fix.clone(),
        });
    }
}

/// The cluster IPs' and node ports' maps and the cluster IP set against the containers that back them and
/// their readiness: a slot no ready endpoint makes is an orphan (it leads a Service's connections to a pod
/// that is gone or not ready), one the containers make and the map lacks is missing. The `network reload`
/// every repair ends with makes the maps hold exactly what they make.
fn cluster_ips(
    ctx: &Context,
    fw: &mut minotaur_firewall::Firewall,
    half: &HashSet<&str>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    use crate::network::services;
    use minotaur_firewall::services::{Front, Slot};
    let (mut all, addresses) = services::read(ctx)?;
    all.retain(|c| !half.contains(c.id.as_str()));
    let ips = services::cluster_ips(&all);
    let wanted = minotaur_firewall::services::slots(&services::rules(&ips, &all, &addresses));
    let live = fw.service_slots().map_err(NetworkError::from)?;
    let ports = || all.iter().flat_map(|c| &c.config.host.service_ports);
    let service = |p: Option<&crate::container::ServicePort>| {
        p.map_or_else(
            || "Service (no container)".to_owned(),
            |p| format!("Service {}", p.service),
        )
    };
    let service_of = |ip: std::net::IpAddr| service(ports().find(|p| p.cluster_ip == ip));
    let owner = |s: &Slot| match s.front {
        Front::ClusterIp(ip) => service_of(ip),
        Front::Node => service(ports().find(|p| {
            minotaur_firewall::services::ProtoKey::from(p.proto) == s.proto
                && p.host_ports().contains(&s.port)
        })),
    };
    compare(
        &wanted,
        &live,
        |s| (owner(s), format!("{} element {s}", s.map())),
        Fix::Firewall,
        found,
    );
    // The addresses given out, which the rules match.
    let live_ips = fw.cluster_ips().map_err(NetworkError::from)?;
    compare(
        &ips,
        &live_ips,
        |ip| (service_of(*ip), format!("cluster IP {ip}")),
        Fix::Firewall,
        found,
    );
    Ok(())
}

/// The connect4 map (when one is pinned), element by element, against the store's published ports: what
/// no port makes is an orphan (it would send a connection to an address that may be another container's),
/// what a port makes and the map lacks is missing. Both are repaired by the `network reload` every repair
/// ends with, which makes the map hold exactly the store's ports.
fn redirect(
    ctx: &Context,
    wanted: &[(String, PortRule)],
    holder: &HashMap<String, &str>,
    by_id: &HashMap<&str, &Container>,
    half: &HashSet<&str>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let Some(map) = ports::pinned_redirect(ctx) else {
        return Ok(());
    };
    let live: HashSet<_> = map
        .elements()
        .map_err(NetworkError::from)?
        .into_iter()
        .collect();
    let wanted: Vec<_> = wanted
        .iter()
        .flat_map(|(id, r)| {
            map.elements_of(std::slice::from_ref(r))
                .into_iter()
                .map(move |e| (id, e))
        })
        .collect();
    let wanted_set: HashSet<_> = wanted.iter().map(|(_, e)| *e).collect();
    let mut orphans: Vec<_> = live.difference(&wanted_set).collect();
    orphans.sort_by_key(|e| e.to_string());
    for e in orphans {
        let id = holder.get(&e.container_ip.to_string());
        if id.is_some_and(|id| half.contains(id)) {
            continue;
        }
        found.push(Finding {
            owner: id.map_or_else(|| "container (no record)".into(), |id| owner_of(by_id, id)),
            problem: Problem::Orphan,
            object: format!("connect4 map element {e}"),
            fix: Fix::Firewall,
        });
    }
    for (id, e) in wanted.iter().filter(|(_, e)| !live.contains(e)) {
        found.push(Finding {
            owner: owner_of(by_id, id),
            problem: Problem::Missing,
            object: format!("connect4 map element {e}"),
            fix: Fix::Firewall,
        });
    }
    Ok(())
}
