//! Kubernetes Services with a cluster IP (`kube play`): a virtual address from the service range
//! (`minotaur_firewall::services`) whose ports lead to the ready pods behind the Service, at their target
//! ports, by kernel DNAT; and the node ports of `NodePort` and `LoadBalancer` Services, which lead to the
//! same pods from every address of the host.
//!
//! Nothing is stored apart from the containers: each pod's infra container (the holder of its network
//! namespace) carries the [`ServicePort`]s it backs in its configuration. A cluster IP's endpoints are
//! therefore worked out from the containers that name it, and kept in the firewall by [`update`], which
//! runs wherever a container's readiness can change: when it starts or stops, when one of its containers'
//! readiness checks changes its result, and when it is removed (so `kube play --down` takes the rules away
//! with the last pod). The Service's names resolve to the cluster IP (see `dns::entries`) for as long as a
//! container backing it exists, ready or not, as a cluster's do.

use std::collections::BTreeMap;
use std::net::IpAddr;

use minotaur_firewall::{Firewall, ServiceRule};

use crate::container::{Container, ServicePort};
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::network::record::Endpoint;

/// The names a Service answers to: its own, and its fully qualified name in the `default` namespace.
pub fn names(service: &str) -> [String; 2] {
    [
        service.to_owned(),
        format!("{service}.default.svc.cluster.local"),
    ]
}

/// The cluster IPs' names container `c` answers for: (names, cluster IP) per Service it backs.
pub(crate) fn cluster_names(c: &Container) -> Vec<(Vec<String>, IpAddr)> {
    let mut out: Vec<(Vec<String>, IpAddr)> = Vec::new();
    for p in &c.config.host.service_ports {
        let ip = p.cluster_ip;
        if !out.iter().any(|(_, a)| *a == ip) {
            out.push((names(&p.service).to_vec(), ip));
        }
    }
    out
}

/// The firewall's rules for the cluster IPs `ips`, from every container (`all`) and the first IPv4 and
/// IPv6 addresses of each container's endpoints (`addresses`, by container ID): one per (cluster IP,
/// protocol, port), with the addresses (of the cluster IP's family) and target ports of the containers
/// that back it and are ready ([`Container::ready`]).
pub fn rules(ips: &[IpAddr], all: &[Container], addresses: &Addresses) -> Vec<ServiceRule> {
    let mut out: Vec<ServiceRule> = Vec::new();
    for c in all {
        let ready = c.ready(all);
        for p in c
            .config
            .host
            .service_ports
            .iter()
            .filter(|p| ips.contains(&p.cluster_ip))
        {
            let i = match out
                .iter()
                .position(|r| (r.cluster_ip, r.proto, r.port) == (p.cluster_ip, p.proto, p.port))
            {
                Some(i) => i,
                None => {
                    out.push(ServiceRule {
                        cluster_ip: p.cluster_ip,
                        proto: p.proto,
                        port: p.port,
                        node_ports: p.host_ports(),
                        client_affinity: p.client_affinity,
                        endpoints: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let addr = addresses
                .get(c.id.as_str())
                .and_then(|a| a.iter().find(|a| a.is_ipv4() == p.cluster_ip.is_ipv4()));
            if let (true, Some(addr)) = (ready, addr) {
                out[i].endpoints.push((*addr, p.target_port));
            }
        }
    }
    out
}

/// Every cluster IP that some container backs.
pub fn cluster_ips(all: &[Container]) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = all
        .iter()
        .flat_map(|c| c.config.host.service_ports.iter().map(|p| p.cluster_ip))
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// The cluster IPs of `ports`, each once.
fn ips_of(ports: &[ServicePort]) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = ports.iter().map(|p| p.cluster_ip).collect();
    ips.sort();
    ips.dedup();
    ips
}

/// The ports on the host's addresses of `ports` (node ports, and a `LoadBalancer`'s ports), each once.
pub fn node_ports_of<'a>(
    ports: impl IntoIterator<Item = &'a ServicePort>,
) -> Vec<(minotaur_firewall::Proto, u16)> {
    let mut out: Vec<(minotaur_firewall::Proto, u16)> = Vec::new();
    for p in ports {
        for n in p.host_ports() {
            if !out.contains(&(p.proto, n)) {
                out.push((p.proto, n));
            }
        }
    }
    out
}

/// Makes the firewall lead the cluster IPs that container `c` backs (or backed: it may just have been
/// removed) to their ready endpoints now. Nothing for a container that backs none. A firewall that
/// cannot be changed costs the Service, not the container: a warning, as the resolver's is.
pub(crate) fn update(ctx: &Context, c: &Container) {
    let ips = ips_of(&c.config.host.service_ports);
    if ips.is_empty() {
        return;
    }
    if let Err(e) = sync(ctx, &ips, &node_ports_of(&c.config.host.service_ports)) {
        log::warn!(
            "the cluster IPs of {} are not up to date: {}",
            c.name,
            crate::error_chain(&e)
        );
    }
}

/// The rules of `ips` from the store, applied; `node_ports` are the node ports those Services had.
fn sync(
    ctx: &Context,
    ips: &[IpAddr],
    node_ports: &[(minotaur_firewall::Proto, u16)],
) -> Result<(), EngineError> {
    let (all, addresses) = read(ctx)?;
    let rules = rules(ips, &all, &addresses);
    let mut fw = Firewall::open().map_err(NetworkError::from)?;
    fw.set_services(ips, node_ports, &rules)
        .map_err(NetworkError::from)?;
    Ok(())
}

/// Puts every cluster IP's ready endpoints in the firewall `fw` (after the table was made anew).
pub(crate) fn reload(ctx: &Context, fw: &mut Firewall) -> Result<(), EngineError> {
    let (all, addresses) = read(ctx)?;
    let ips = cluster_ips(&all);
    if ips.is_empty() {
        return Ok(());
    }
    let node_ports = node_ports_of(all.iter().flat_map(|c| &c.config.host.service_ports));
    fw.set_services(&ips, &node_ports, &rules(&ips, &all, &addresses))
        .map_err(NetworkError::from)?;
    Ok(())
}

/// The first IPv4 and the first IPv6 address of each container's endpoints, by container ID.
pub type Addresses = BTreeMap<String, Vec<IpAddr>>;

/// Every container, and their [`Addresses`].
pub(crate) fn read(ctx: &Context) -> Result<(Vec<Container>, Addresses), EngineError> {
    let mut st = ctx.store()?;
    let (all, rows) = st.read(|tx| -> Result<_, EngineError> {
        Ok((crate::store::list(tx)?, tx.endpoints(None, None)?))
    })?;
    let mut addresses = BTreeMap::new();
    for row in rows {
        let Ok(e) = serde_json::from_str::<Endpoint>(&row.data) else {
            continue;
        };
        let known: &mut Vec<IpAddr> = addresses.entry(row.container_id.clone()).or_default();
        for a in e.addresses() {
            if !known.iter().any(|k| k.is_ipv4() == a.is_ipv4()) {
                known.push(a);
            }
        }
    }
    Ok((all, addresses))
}
