//! Services in `kube play`. A Service's `selector` picks the pods of the same `play` it leads to.
//!
//! - With `clusterIP: None` (headless) its names resolve to the addresses of the pods it selects that are
//!   ready: they are ready names of each pod's infra container.
//! - Otherwise it has a cluster IP, from the service range (`10.96.0.0/12`, Kubernetes' default; see
//!   `minotaur_firewall::services`): the one its `clusterIP` names, or one chosen at `apply` ([`assign`]),
//!   the same for a name each time it is free. Its names resolve to that address, and each of its `ports`
//!   leads by kernel DNAT to the ready pods' `targetPort` (a number, or the name of a container port of
//!   the pod, looked up in each pod). Each selected pod's infra container carries the ports it backs
//!   (`minotaur_engine::container::ServicePort`), and the engine keeps the firewall in step with their
//!   readiness.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{PodSpec, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use minotaur_engine::container::ServicePort;
use minotaur_engine::context::Context;
use minotaur_firewall::Proto;

use crate::error::KubeError;
use crate::play::{Plan, PodPlan};

/// What a Service's address is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterIp {
    /// `clusterIP: None`: the names resolve to the ready pods themselves.
    Headless,
    /// Chosen at apply.
    Auto,
    /// As the manifest names it.
    Fixed(Ipv4Addr),
}

/// A Service as `play` reads it.
#[derive(Clone, Debug)]
pub struct ServiceDef {
    pub name: String,
    pub selector: BTreeMap<String, String>,
    pub cluster_ip: ClusterIp,
    /// (protocol, port, targetPort).
    pub ports: Vec<(Proto, u16, IntOrString)>,
}

/// The Service `name`, or `None` (with a warning) when it has no selector and so leads nowhere.
pub(crate) fn read(
    name: String,
    s: &Service,
    warnings: &mut Vec<String>,
) -> Result<Option<ServiceDef>, KubeError> {
    let bad = |what: String| KubeError::Unsupported(format!("Service {name}: {what}"));
    let spec = s.spec.clone().unwrap_or_default();
    let selector = match spec.selector {
        Some(s) if !s.is_empty() => s,
        _ => {
            warnings.push(format!(
                "Service {name}: it has no selector, so its name resolves to no pod"
            ));
            return Ok(None);
        }
    };
    let cluster_ip = match spec.cluster_ip.as_deref() {
        Some("None") => ClusterIp::Headless,
        None | Some("") => ClusterIp::Auto,
        Some(ip) => {
            let ip: Ipv4Addr = ip
                .parse()
                .map_err(|_| bad(format!("clusterIP {ip:?} is not an IPv4 address")))?;
            if !minotaur_firewall::services::in_range(ip) {
                return Err(bad(format!(
                    "clusterIP {ip} is outside the service range {}",
                    minotaur_firewall::services::SERVICE_RANGE4
                )));
            }
            ClusterIp::Fixed(ip)
        }
    };
    let mut ports = Vec::new();
    for (i, p) in spec.ports.iter().flatten().enumerate() {
        let proto = match p.protocol.as_deref() {
            None | Some("TCP") => Proto::Tcp,
            Some("UDP") => Proto::Udp,
            Some(other) => {
                return Err(bad(format!(
                    "ports[{i}]: protocol {other} is not supported"
                )))
            }
        };
        let port = u16::try_from(p.port)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(format!("ports[{i}]: port {} is out of range", p.port)))?;
        let target = p.target_port.clone().unwrap_or(IntOrString::Int(p.port));
        ports.push((proto, port, target));
    }
    if cluster_ip != ClusterIp::Headless && ports.is_empty() {
        return Err(bad("a Service with a cluster IP needs ports".into()));
    }
    Ok(Some(ServiceDef {
        name,
        selector,
        cluster_ip,
        ports,
    }))
}

/// Joins `pod` (played from `spec`) to the Services whose selector matches its labels: a headless one's
/// names become its ready names; another's ports become its infra container's service ports, their
/// cluster IP left unspecified until [`assign`]. A target port named after no container port of the pod
/// leaves that port out for this pod, with a warning, as a cluster leaves the endpoint out.
pub(crate) fn bind(
    defs: &[ServiceDef],
    pod: &mut PodPlan,
    spec: &PodSpec,
    warnings: &mut Vec<String>,
) {
    for d in defs {
        if !d
            .selector
            .iter()
            .all(|(k, v)| pod.infra.labels.get(k) == Some(v))
        {
            continue;
        }
        if d.cluster_ip == ClusterIp::Headless {
            pod.infra
                .host
                .ready_names
                .extend(minotaur_engine::network::services::names(&d.name));
            continue;
        }
        if spec.host_network == Some(true) {
            warnings.push(format!(
                "Service {}: pod {} uses the host's network, which a cluster IP cannot lead to",
                d.name, pod.name
            ));
            continue;
        }
        for (proto, port, target) in &d.ports {
            let target_port = match target {
                IntOrString::Int(n) => u16::try_from(*n).ok().filter(|n| *n > 0),
                IntOrString::String(name) => spec
                    .containers
                    .iter()
                    .flat_map(|c| c.ports.iter().flatten())
                    .find(|p| p.name.as_deref() == Some(name))
                    .and_then(|p| u16::try_from(p.container_port).ok()),
            };
            let Some(target_port) = target_port else {
                let target = match target {
                    IntOrString::Int(n) => n.to_string(),
                    IntOrString::String(s) => s.clone(),
                };
                warnings.push(format!(
                    "Service {}: pod {} has no port {target}, so its port {port} does not lead to it",
                    d.name, pod.name
                ));
                continue;
            };
            pod.infra.host.service_ports.push(ServicePort {
                service: d.name.clone(),
                cluster_ip: Ipv4Addr::UNSPECIFIED,
                proto: *proto,
                port: *port,
                target_port,
            });
        }
    }
}

/// The addresses of the plan's Services with a cluster IP, by name (see [`fill`]). A Service keeps the address it has on pods outside the plan; a new one gets a free address
/// chosen from its name (so the same name gets the same address while it is free). An address that
/// another Service holds, or that a network's subnet covers, is refused for a `clusterIP` the manifest
/// names and skipped when choosing.
pub fn assign(ctx: &Context, plan: &Plan) -> Result<BTreeMap<String, Ipv4Addr>, KubeError> {
    use crate::error::engine;
    if plan.services.is_empty() {
        return Ok(BTreeMap::new());
    }
    let replaced: Vec<&str> = plan.pods.iter().map(|p| p.name.as_str()).collect();
    let mut held: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    for c in crate::find::all(ctx)? {
        let pod = c.config.labels.get(crate::labels::POD).map(String::as_str);
        if pod.is_some_and(|p| replaced.contains(&p)) {
            continue;
        }
        for p in &c.config.host.service_ports {
            held.insert(p.cluster_ip, p.service.clone());
        }
    }
    let subnets: Vec<ipnet::IpNet> = minotaur_engine::network::networks::list(ctx)
        .map_err(engine("list", "networks"))?
        .iter()
        .flat_map(|n| n.subnets.iter().map(|s| s.subnet))
        .collect();
    let in_subnet = |ip: Ipv4Addr| {
        subnets
            .iter()
            .any(|s| s.contains(&std::net::IpAddr::V4(ip)))
    };
    let mut chosen: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
    for (name, fixed) in &plan.services {
        let holder = |ip: &Ipv4Addr| held.get(ip).filter(|s| *s != name);
        let ip = match fixed {
            Some(ip) => {
                if let Some(other) = holder(ip) {
                    return Err(KubeError::Unsupported(format!(
                        "Service {name}: clusterIP {ip} is Service {other}'s"
                    )));
                }
                if in_subnet(*ip) {
                    return Err(KubeError::Unsupported(format!(
                        "Service {name}: clusterIP {ip} is inside a network's subnet"
                    )));
                }
                *ip
            }
            None => match held.iter().find(|(_, s)| *s == name) {
                Some((ip, _)) => *ip,
                None => free(name, |ip| {
                    holder(&ip).is_none() && !in_subnet(ip) && !chosen.values().any(|c| *c == ip)
                })
                .ok_or_else(|| {
                    KubeError::Unsupported(format!(
                        "Service {name}: no free address in the service range"
                    ))
                })?,
            },
        };
        held.insert(ip, name.clone());
        chosen.insert(name.clone(), ip);
    }
    Ok(chosen)
}

/// `pod`'s infra container request with the cluster IPs [`assign`] chose in its service ports.
pub fn fill(
    pod: &PodPlan,
    chosen: &BTreeMap<String, Ipv4Addr>,
) -> minotaur_engine::create::CreateRequest {
    let mut infra = pod.infra.clone();
    for sp in &mut infra.host.service_ports {
        if let Some(ip) = chosen.get(&sp.service) {
            sp.cluster_ip = *ip;
        }
    }
    infra
}

/// The first address from the one `name` hashes to, onwards through the service range, that `ok` takes;
/// the range's first and last addresses (network and broadcast) are never given.
fn free(name: &str, ok: impl Fn(Ipv4Addr) -> bool) -> Option<Ipv4Addr> {
    let range: ipnet::Ipv4Net = minotaur_firewall::services::SERVICE_RANGE4.parse().ok()?;
    let base = u32::from(range.network());
    let size = 1u32 << (32 - range.prefix_len());
    // FNV-1a: stable across runs and builds, unlike the standard library's hasher.
    let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let usable = size - 2;
    (0..usable)
        .map(|i| Ipv4Addr::from(base + 1 + (hash.wrapping_add(i) % usable)))
        .find(|ip| ok(*ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_hashes_to_the_same_free_address() {
        let a = free("web", |_| true).unwrap();
        assert_eq!(free("web", |_| true), Some(a));
        assert!(minotaur_firewall::services::in_range(a));
        let next = free("web", |ip| ip != a).unwrap();
        assert_ne!(next, a);
        assert_eq!(free("web", |_| false), None);
    }
}
