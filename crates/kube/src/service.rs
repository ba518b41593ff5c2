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
//! - `type: NodePort` adds a port on every address of the host (its `nodePort`, or one chosen at
//!   [`assign`] from 30000–32767) leading to the same pods; `type: LoadBalancer` is a NodePort whose
//!   `port` is also published on the host's addresses, as single-node distributions' built-in load
//!   balancers do. `sessionAffinity: ClientIP` sends one client's connections to one pod.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use k8s_openapi::api::core::v1::{PodSpec, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use minotaur_engine::container::{ServicePort, ServiceType};
use minotaur_engine::context::Context;
use minotaur_firewall::Proto;

use crate::error::KubeError;
use crate::play::{Plan, PodPlan};

/// What a Service's address is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterIp {
    /// `clusterIP: None`: the names resolve to the ready pods themselves.
    Headless,
    /// One cluster IP per family, chosen at apply ([`assign`]) unless the manifest names it.
    Virtual(Wanted),
}

/// The cluster IPs a Service asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    /// `clusterIPs` (or `clusterIP`), as the manifest names them.
    pub fixed: Vec<IpAddr>,
    /// `ipFamilies`, `true` for IPv4, in order; empty when not given.
    pub families: Vec<bool>,
    pub policy: FamilyPolicy,
}

/// `ipFamilyPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FamilyPolicy {
    /// One cluster IP, of the first of `ipFamilies`, or of the pods' network's first family.
    #[default]
    SingleStack,
    /// One per family the pods' network has.
    PreferDualStack,
    /// One per family; refused on a network without both.
    RequireDualStack,
}

/// A Service as `play` reads it.
#[derive(Clone, Debug)]
pub struct ServiceDef {
    pub name: String,
    pub selector: BTreeMap<String, String>,
    pub cluster_ip: ClusterIp,
    pub service_type: ServiceType,
    /// `sessionAffinity: ClientIP`.
    pub client_affinity: bool,
    pub ports: Vec<PortDef>,
    /// The Service as the manifest gave it (its name, labels and spec), for `kube generate`.
    pub manifest: Service,
}

/// One of a Service's `ports`.
#[derive(Clone, Debug)]
pub struct PortDef {
    pub proto: Proto,
    pub port: u16,
    pub target: IntOrString,
    /// `nodePort`, when the manifest names it.
    pub node_port: Option<u16>,
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
    let named: Vec<String> = match (&spec.cluster_ips, &spec.cluster_ip) {
        (Some(list), _) if !list.is_empty() => list.clone(),
        (_, Some(ip)) if !ip.is_empty() => vec![ip.clone()],
        _ => Vec::new(),
    };
    let cluster_ip = if named.first().is_some_and(|ip| ip == "None") {
        ClusterIp::Headless
    } else {
        let mut wanted = Wanted::default();
        for ip in &named {
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| bad(format!("clusterIP {ip:?} is not an IP address")))?;
            if !minotaur_firewall::services::in_range(ip) {
                return Err(bad(format!(
                    "clusterIP {ip} is outside the service range {}",
                    minotaur_firewall::services::range(ip.is_ipv4())
                )));
            }
            if wanted.fixed.iter().any(|f| f.is_ipv4() == ip.is_ipv4()) {
                return Err(bad("clusterIPs names two addresses of one family".into()));
            }
            wanted.fixed.push(ip);
        }
        for f in spec.ip_families.iter().flatten() {
            wanted.families.push(match f.as_str() {
                "IPv4" => true,
                "IPv6" => false,
                other => return Err(bad(format!("ipFamilies: {other} is not IPv4 or IPv6"))),
            });
        }
        wanted.policy = match spec.ip_family_policy.as_deref() {
            None | Some("SingleStack") => FamilyPolicy::SingleStack,
            Some("PreferDualStack") => FamilyPolicy::PreferDualStack,
            Some("RequireDualStack") => FamilyPolicy::RequireDualStack,
            Some(other) => return Err(bad(format!("ipFamilyPolicy {other} is not supported"))),
        };
        if wanted.policy == FamilyPolicy::SingleStack
            && (wanted.fixed.len() > 1 || wanted.families.len() > 1)
        {
            return Err(bad(
                "ipFamilyPolicy SingleStack takes one cluster IP family".into(),
            ));
        }
        ClusterIp::Virtual(wanted)
    };
    let service_type = match spec.type_.as_deref() {
        None | Some("ClusterIP") => ServiceType::ClusterIP,
        Some("NodePort") => ServiceType::NodePort,
        Some("LoadBalancer") => ServiceType::LoadBalancer,
        Some(other) => return Err(bad(format!("type {other} is not supported"))),
    };
    if service_type != ServiceType::ClusterIP && cluster_ip == ClusterIp::Headless {
        return Err(bad(format!(
            "type {service_type:?} needs a cluster IP, and clusterIP is None"
        )));
    }
    let client_affinity = match spec.session_affinity.as_deref() {
        None | Some("None") => false,
        Some("ClientIP") => true,
        Some(other) => return Err(bad(format!("sessionAffinity {other} is not supported"))),
    };
    if spec.session_affinity_config.is_some() {
        warnings.push(format!(
            "Service {name}: sessionAffinityConfig is ignored: a client keeps its pod while the ready pods stay the same"
        ));
    }
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
        let node_port = match p.node_port {
            None | Some(0) => None,
            Some(_) if service_type == ServiceType::ClusterIP => {
                return Err(bad(format!(
                    "ports[{i}]: nodePort needs type NodePort or LoadBalancer"
                )))
            }
            Some(n) => Some(
                u16::try_from(n)
                    .ok()
                    .filter(|n| minotaur_firewall::services::NODE_PORTS.contains(n))
                    .ok_or_else(|| {
                        bad(format!(
                            "ports[{i}]: nodePort {n} is outside the node port range 30000-32767"
                        ))
                    })?,
            ),
        };
        ports.push(PortDef {
            proto,
            port,
            target,
            node_port,
        });
    }
    if cluster_ip != ClusterIp::Headless && ports.is_empty() {
        return Err(bad("a Service with a cluster IP needs ports".into()));
    }
    Ok(Some(ServiceDef {
        selector,
        cluster_ip,
        service_type,
        client_affinity,
        ports,
        manifest: Service {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: s.metadata.labels.clone(),
                ..Default::default()
            },
            spec: s.spec.clone(),
            status: None,
        },
        name,
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
        pod.services.push(d.manifest.clone());
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
        for PortDef {
            proto,
            port,
            target,
            node_port,
        } in &d.ports
        {
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
                cluster_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                proto: *proto,
                port: *port,
                target_port,
                service_type: d.service_type,
                node_port: *node_port,
                client_affinity: d.client_affinity,
            });
        }
    }
}

/// What [`assign`] chose for a plan's Services.
#[derive(Debug, Default)]
pub struct Assigned {
    /// Each Service's cluster IP, by name.
    /// Each Service's cluster IPs (one per family), by name.
    pub cluster_ips: BTreeMap<String, Vec<IpAddr>>,
    /// The node port of each (Service, protocol, port) that has one.
    pub node_ports: Vec<((String, Proto, u16), u16)>,
}

/// The addresses of the plan's Services with a cluster IP, by name, and their node ports (see [`fill`]).
/// A Service keeps the address and node ports it has on pods outside the plan; a new one gets a free
/// address chosen from its name (so the same name gets the same address while it is free), and a free
/// node port chosen the same way from its name and port. An address that another Service holds, or that a
/// network's subnet covers, is refused for a `clusterIP` the manifest names and skipped when choosing; so
/// is a port on the host's addresses (a `nodePort`, a `LoadBalancer`'s `port`) that another Service or a
/// container's published port (`-p`) holds.
pub fn assign(ctx: &Context, plan: &Plan) -> Result<Assigned, KubeError> {
    use crate::error::engine;
    if plan.services.is_empty() {
        return Ok(Assigned::default());
    }
    let replaced: Vec<&str> = plan.pods.iter().map(|p| p.name.as_str()).collect();
    let mut held: BTreeMap<IpAddr, String> = BTreeMap::new();
    // (protocol, port on the host) → (Service, its port), or a container's published port.
    let mut held_ports: Vec<((Proto, u16), HostPortHolder)> = Vec::new();
    for c in crate::find::all(ctx)? {
        let pod = c.config.labels.get(crate::labels::POD).map(String::as_str);
        if pod.is_some_and(|p| replaced.contains(&p)) {
            continue;
        }
        for p in &c.config.host.service_ports {
            held.insert(p.cluster_ip, p.service.clone());
            for n in p.host_ports() {
                let holder =
                    HostPortHolder::Service(p.service.clone(), p.port, p.node_port == Some(n));
                held_ports.push(((p.proto, n), holder));
            }
        }
    }
    let wanted: Vec<&ServicePort> = plan
        .pods
        .iter()
        .flat_map(|p| &p.infra.host.service_ports)
        .filter(|p| p.service_type != ServiceType::ClusterIP)
        .collect();
    if !wanted.is_empty() {
        let published = minotaur_engine::network::ports::wanted(ctx)
            .map_err(engine("list", "published ports"))?;
        for (_, r) in published.iter().filter(|(_, r)| r.container_ip.is_ipv4()) {
            held_ports.push(((r.proto, r.host_port), HostPortHolder::Published));
        }
    }
    let networks =
        minotaur_engine::network::networks::list(ctx).map_err(engine("list", "networks"))?;
    let subnets: Vec<ipnet::IpNet> = networks
        .iter()
        .flat_map(|n| n.subnets.iter().map(|s| s.subnet))
        .collect();
    let in_subnet = |ip: IpAddr| subnets.iter().any(|s| s.contains(&ip));
    // The families of the pods' network (made IPv4-only when it does not exist yet).
    let pod_network: Vec<bool> = match networks.iter().find(|n| n.name == plan.network) {
        Some(n) => {
            let mut f: Vec<bool> = n
                .subnets
                .iter()
                .map(|s| s.subnet.addr().is_ipv4())
                .collect();
            f.sort_by_key(|v4| !v4);
            f.dedup();
            f
        }
        None => vec![true],
    };
    let mut chosen: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    for (name, wanted) in &plan.services {
        let bad = |what: String| KubeError::Unsupported(format!("Service {name}: {what}"));
        let holder = |ip: &IpAddr| held.get(ip).filter(|s| *s != name);
        let mut ips: Vec<IpAddr> = Vec::new();
        for v4 in families(wanted, &plan.network, &pod_network).map_err(bad)? {
            let ip = match wanted.fixed.iter().find(|f| f.is_ipv4() == v4) {
                Some(ip) => {
                    if let Some(other) = holder(ip) {
                        return Err(bad(format!("clusterIP {ip} is Service {other}'s")));
                    }
                    if in_subnet(*ip) {
                        return Err(bad(format!("clusterIP {ip} is inside a network's subnet")));
                    }
                    *ip
                }
                None => match held.iter().find(|(ip, s)| *s == name && ip.is_ipv4() == v4) {
                    Some((ip, _)) => *ip,
                    None => free(name, v4, |ip| {
                        holder(&ip).is_none()
                            && !in_subnet(ip)
                            && !chosen.values().flatten().any(|c| *c == ip)
                    })
                    .ok_or_else(|| bad("no free address in the service range".into()))?,
                },
            };
            ips.push(ip);
        }
        for ip in &ips {
            held.insert(*ip, name.clone());
        }
        chosen.insert(name.clone(), ips);
    }
    let mut node_ports: Vec<((String, Proto, u16), u16)> = Vec::new();
    for p in wanted {
        let key = (p.service.clone(), p.proto, p.port);
        if node_ports.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let taken = |n: u16, held_ports: &[((Proto, u16), HostPortHolder)]| {
            held_ports
                .iter()
                .find(|((proto, port), h)| {
                    (*proto, *port) == (p.proto, n)
                        && !matches!(h, HostPortHolder::Service(s, port, _) if *s == p.service && *port == p.port)
                })
                .map(|(_, h)| h.clone())
        };
        let bad = |n: u16, h: HostPortHolder| {
            let holder = match h {
                HostPortHolder::Service(s, _, _) => format!("Service {s}'s"),
                HostPortHolder::Published => "published by a container".to_owned(),
            };
            KubeError::Unsupported(format!(
                "Service {}: {} port {n} on the host is {holder}",
                p.service, p.proto
            ))
        };
        if p.service_type == ServiceType::LoadBalancer {
            if let Some(h) = taken(p.port, &held_ports) {
                return Err(bad(p.port, h));
            }
        }
        let n = match p.node_port {
            Some(n) => {
                if let Some(h) = taken(n, &held_ports) {
                    return Err(bad(n, h));
                }
                n
            }
            None => {
                let kept = held_ports.iter().find_map(|(k, h)| match h {
                    HostPortHolder::Service(s, port, true)
                        if *s == p.service && *port == p.port && k.0 == p.proto =>
                    {
                        Some(k.1)
                    }
                    _ => None,
                });
                match kept {
                    Some(n) => n,
                    None => free_port(&format!("{}/{}/{}", p.service, p.proto, p.port), |n| {
                        taken(n, &held_ports).is_none()
                            && !(p.service_type == ServiceType::LoadBalancer && n == p.port)
                    })
                    .ok_or_else(|| {
                        KubeError::Unsupported(format!(
                            "Service {}: no free node port in 30000-32767",
                            p.service
                        ))
                    })?,
                }
            }
        };
        let me = |port| HostPortHolder::Service(p.service.clone(), p.port, port == n);
        held_ports.push(((p.proto, n), me(n)));
        if p.service_type == ServiceType::LoadBalancer {
            held_ports.push(((p.proto, p.port), me(p.port)));
        }
        node_ports.push((key, n));
    }
    Ok(Assigned {
        cluster_ips: chosen,
        node_ports,
    })
}

/// Who holds a port on the host's addresses.
#[derive(Clone, Debug)]
enum HostPortHolder {
    /// A Service's port (the Service, its `port`, and whether this is its node port rather than a
    /// `LoadBalancer`'s `port`).
    Service(String, u16, bool),
    /// A container's published port.
    Published,
}

/// `pod`'s infra container request with the cluster IPs and node ports [`assign`] chose in its service
/// ports, and the Services that select it in a label ([`crate::labels::SERVICES`]), their node ports
/// filled in, so that `kube generate` writes back what was played. (A cluster IP the manifest left out
/// stays out: the same name gets the same address again while it is free.)
pub fn fill(pod: &PodPlan, chosen: &Assigned) -> minotaur_engine::create::CreateRequest {
    let mut infra = pod.infra.clone();
    // One service port per cluster IP: a dual-stack Service's ports come twice.
    let mut ports = Vec::new();
    for sp in &infra.host.service_ports {
        let key = (sp.service.clone(), sp.proto, sp.port);
        let node_port = chosen
            .node_ports
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, n)| *n);
        for ip in chosen.cluster_ips.get(&sp.service).into_iter().flatten() {
            ports.push(ServicePort {
                cluster_ip: *ip,
                node_port: node_port.or(sp.node_port),
                ..sp.clone()
            });
        }
    }
    infra.host.service_ports = ports;
    let mut services = pod.services.clone();
    for s in &mut services {
        let name = s.metadata.name.clone().unwrap_or_default();
        for p in s.spec.iter_mut().flat_map(|s| s.ports.iter_mut().flatten()) {
            let proto = match p.protocol.as_deref() {
                Some("UDP") => Proto::Udp,
                _ => Proto::Tcp,
            };
            let key = (name.clone(), proto, u16::try_from(p.port).unwrap_or(0));
            if let Some((_, n)) = chosen.node_ports.iter().find(|(k, _)| *k == key) {
                p.node_port = Some(i32::from(*n));
            }
        }
    }
    if !services.is_empty() {
        infra.labels.insert(
            crate::labels::SERVICES.into(),
            serde_json::to_string(&services).expect("Services serialize"),
        );
    }
    infra
}

/// The first node port from the one `seed` hashes to, onwards through 30000–32767, that `ok` takes.
fn free_port(seed: &str, ok: impl Fn(u16) -> bool) -> Option<u16> {
    let range = minotaur_firewall::services::NODE_PORTS;
    let (start, size) = (*range.start(), range.end() - range.start() + 1);
    let hash = fnv(seed);
    (0..u32::from(size))
        .map(|i| start + u16::try_from(hash.wrapping_add(i) % u32::from(size)).unwrap_or(0))
        .find(|n| ok(*n))
}

/// FNV-1a: stable across runs and builds, unlike the standard library's hasher.
fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The first address from the one `name` hashes to, onwards through the service range of IPv4 (`v4`)
/// or IPv6, that `ok` takes; the range's first and last addresses are never given.
fn free(name: &str, v4: bool, ok: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
    let range = minotaur_firewall::services::range(v4);
    let base = match range.network() {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    let bits = u32::from(range.max_prefix_len() - range.prefix_len());
    let usable = u32::try_from((1u64 << bits) - 2).ok()?;
    let hash = fnv(name);
    (0..usable)
        .map(|i| {
            let n = base + 1 + u128::from(hash.wrapping_add(i) % usable);
            match v4 {
                true => IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(0))),
                false => IpAddr::V6(std::net::Ipv6Addr::from(n)),
            }
        })
        .find(|ip| ok(*ip))
}

/// The families (`true` for IPv4) a Service gets cluster IPs of, in order, on the pods' network `net`,
/// which has `network`'s families (IPv4 first).
fn families(wanted: &Wanted, net: &str, network: &[bool]) -> Result<Vec<bool>, String> {
    let name = |v4: bool| if v4 { "IPv4" } else { "IPv6" };
    let mut asked: Vec<bool> = if !wanted.families.is_empty() {
        wanted.families.clone()
    } else if !wanted.fixed.is_empty() {
        wanted.fixed.iter().map(IpAddr::is_ipv4).collect()
    } else {
        network.to_vec()
    };
    if wanted.policy == FamilyPolicy::SingleStack {
        asked.truncate(1);
    } else {
        for v4 in [true, false] {
            if !asked.contains(&v4) {
                asked.push(v4);
            }
        }
    }
    for ip in &wanted.fixed {
        if !asked.contains(&ip.is_ipv4()) {
            return Err(format!("clusterIP {ip} is not of the families asked for"));
        }
    }
    let mut out = Vec::new();
    for v4 in asked {
        if network.contains(&v4) {
            out.push(v4);
        } else if wanted.policy == FamilyPolicy::RequireDualStack
            || wanted.fixed.iter().any(|f| f.is_ipv4() == v4)
            || wanted.families.contains(&v4)
        {
            return Err(format!(
                "the pods' network {net} has no {} subnet",
                name(v4)
            ));
        }
    }
    if out.is_empty() {
        return Err(format!("the pods' network {net} has no subnet"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_hashes_to_the_same_free_address() {
        for v4 in [true, false] {
            let a = free("web", v4, |_| true).unwrap();
            assert_eq!(a.is_ipv4(), v4);
            assert_eq!(free("web", v4, |_| true), Some(a));
            assert!(minotaur_firewall::services::in_range(a), "{a}");
            let next = free("web", v4, |ip| ip != a).unwrap();
            assert_ne!(next, a);
            assert_eq!(free("web", v4, |_| false), None);
        }
    }

    #[test]
    fn a_service_gets_a_cluster_ip_per_family_it_asks_for_and_the_network_has() {
        let v6: IpAddr = "fd00:10:96::7".parse().unwrap();
        let w = |families: &[bool], fixed: &[IpAddr], policy| Wanted {
            fixed: fixed.to_vec(),
            families: families.to_vec(),
            policy,
        };
        use FamilyPolicy::*;
        let dual = [true, false];
        assert_eq!(
            families(&w(&[], &[], SingleStack), "bridge", &[true]),
            Ok(vec![true])
        );
        assert_eq!(
            families(&w(&[], &[], SingleStack), "bridge", &dual),
            Ok(vec![true])
        );
        assert_eq!(
            families(&w(&[], &[], SingleStack), "bridge", &[false]),
            Ok(vec![false]),
            "IPv6-only"
        );
        assert_eq!(
            families(&w(&[false], &[], SingleStack), "bridge", &dual),
            Ok(vec![false])
        );
        assert_eq!(
            families(&w(&[], &[], PreferDualStack), "bridge", &dual),
            Ok(vec![true, false])
        );
        assert_eq!(
            families(&w(&[false, true], &[], PreferDualStack), "bridge", &dual),
            Ok(vec![false, true])
        );
        assert_eq!(
            families(&w(&[], &[], PreferDualStack), "bridge", &[true]),
            Ok(vec![true])
        );
        assert_eq!(
            families(&w(&[], &[v6], SingleStack), "bridge", &dual),
            Ok(vec![false])
        );
        let e = families(&w(&[], &[], RequireDualStack), "bridge", &[true]).unwrap_err();
        assert_eq!(e, "the pods' network bridge has no IPv6 subnet");
        let e = families(&w(&[], &[v6], SingleStack), "bridge", &[true]).unwrap_err();
        assert_eq!(e, "the pods' network bridge has no IPv6 subnet");
    }

    #[test]
    fn a_node_port_is_chosen_in_the_range_from_its_name() {
        let a = free_port("web/tcp/80", |_| true).unwrap();
        assert!(minotaur_firewall::services::NODE_PORTS.contains(&a));
        assert_eq!(free_port("web/tcp/80", |_| true), Some(a));
        let next = free_port("web/tcp/80", |n| n != a).unwrap();
        assert_ne!(next, a);
        assert_eq!(free_port("web/tcp/80", |n| n == 32767), Some(32767));
        assert_eq!(free_port("web/tcp/80", |_| false), None);
    }
}
