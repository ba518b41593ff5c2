//! `kube play`: Pods and Deployments as minotaur containers. A pod is an infra container that holds the
//! network, UTS and IPC namespaces and publishes the pod's host ports; its init containers run to
//! completion in order, then its containers start joined to the infra container's namespaces.
//!
//! [`plan`] is pure: manifests to creation requests, volumes and files. [`crate::apply`] makes them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{
    ConfigMap, Container as KContainer, ContainerPort, PodSpec, Secret,
};
use minotaur_engine::container::{HostConfig, NetworkRequest};
use minotaur_engine::create::{CreateRequest, HOST_IMAGE};
use minotaur_engine::parse::{Bind, NsMode, PortMapping, Proto, VolumeMount};
use minotaur_engine::restart::RestartPolicy;

use crate::env::{env_value, EnvValue};
pub use crate::env::{PodAddresses, PodField};
use crate::error::KubeError;
use crate::labels;
use crate::manifest::Object;
use crate::probe;
use crate::quantity;
use crate::service::ClusterIp;

/// A pod to make.
#[derive(Debug)]
pub struct PodPlan {
    pub name: String,
    pub infra: CreateRequest,
    /// Run to completion, in order, before `containers` start.
    pub init: Vec<CreateRequest>,
    pub containers: Vec<CreateRequest>,
    /// Volumes the pod owns (emptyDir, configMap and secret contents): removed with it.
    pub volumes: Vec<String>,
    /// Volumes of PersistentVolumeClaims: made when missing, kept by `--down`.
    pub claims: Vec<String>,
    /// Files to write into the pod's volumes: (volume, path inside it, content, mode).
    pub files: Vec<(String, String, Vec<u8>, u32)>,
    /// Environment variables known only once the infra container has its address: (container, index
    /// in its `env`, field). Their entries hold `NAME=` until [`PodPlan::fill`].
    pub late_env: Vec<(String, usize, PodField)>,
    /// The Services whose selector matches the pod, as the manifest gave them (see
    /// [`crate::service::fill`]).
    pub services: Vec<k8s_openapi::api::core::v1::Service>,
}

impl PodPlan {
    /// `req` (one of this pod's init containers or containers) with its late environment filled in.
    pub fn fill(&self, req: &CreateRequest, addrs: &PodAddresses) -> Result<CreateRequest, String> {
        let mut req = req.clone();
        let name = req
            .name
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        for (_, index, field) in self.late_env.iter().filter(|(c, _, _)| *c == name) {
            let (list, all) = match field {
                PodField::PodIp => (&addrs.pod, false),
                PodField::PodIps => (&addrs.pod, true),
                PodField::HostIp => (&addrs.host, false),
                PodField::HostIps => (&addrs.host, true),
            };
            let value = if all {
                list.join(",")
            } else {
                list.first().cloned().unwrap_or_default()
            };
            if value.is_empty() {
                return Err(format!(
                    "container {name}: the pod has no address for {}",
                    field.path()
                ));
            }
            if let Some(e) = req.env.get_mut(*index) {
                e.push_str(&value);
            }
        }
        Ok(req)
    }
}

impl PodPlan {
    /// Every image the pod's containers need.
    pub fn images(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .init
            .iter()
            .chain(&self.containers)
            .map(|r| r.image.as_str())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// What `plan` makes of a stream: its pods, and the claims (`PersistentVolumeClaim`) it declares.
#[derive(Debug, Default)]
pub struct Plan {
    pub pods: Vec<PodPlan>,
    pub claims: Vec<String>,
    /// Services with a cluster IP: their names and the addresses and families they ask for (chosen at
    /// apply: see [`crate::service::assign`]).
    pub services: Vec<(String, crate::service::Wanted)>,
    /// The network the pods join (`kube play --network`, `bridge` by default).
    pub network: String,
    pub warnings: Vec<String>,
}

/// What the plan reads besides the pods: the stream's ConfigMaps and Secrets, by name.
pub(crate) struct Sources {
    pub(crate) config_maps: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    pub(crate) secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    pub(crate) node: String,
    pub(crate) network: String,
}

/// The pods of `objects`, with `node` as `spec.nodeName` (the host's name), on the network `network`
/// (unless they use the host's).
pub fn plan(objects: &[Object], node: &str, network: &str) -> Result<Plan, KubeError> {
    let mut sources = Sources {
        config_maps: BTreeMap::new(),
        secrets: BTreeMap::new(),
        node: node.to_owned(),
        network: network.to_owned(),
    };
    let mut out = Plan {
        network: network.to_owned(),
        ..Plan::default()
    };
    let mut services = Vec::new();
    for o in objects {
        match o {
            Object::ConfigMap(cm) => {
                sources
                    .config_maps
                    .insert(name_of(&cm.metadata.name)?, config_map_data(cm));
            }
            Object::Secret(s) => {
                sources
                    .secrets
                    .insert(name_of(&s.metadata.name)?, secret_data(s));
            }
            Object::PersistentVolumeClaim(c) => out.claims.push(name_of(&c.metadata.name)?),
            Object::Service(s) => {
                let name = name_of(&s.metadata.name)?;
                if let Some(def) = crate::service::read(name, s, &mut out.warnings)? {
                    if let ClusterIp::Virtual(wanted) = &def.cluster_ip {
                        out.services.push((def.name.clone(), wanted.clone()));
                    }
                    services.push(def);
                }
            }
            _ => {}
        }
    }
    for o in objects {
        match o {
            Object::Pod(p) => {
                let name = name_of(&p.metadata.name)?;
                let spec = p.spec.as_ref().ok_or_else(|| KubeError::Pod {
                    pod: name.clone(),
                    what: "no spec".into(),
                })?;
                let pod_labels = p.metadata.labels.clone().unwrap_or_default();
                let mut planned = pod(&name, None, &pod_labels, spec, &sources, &mut out.warnings)?;
                crate::service::bind(&services, &mut planned, spec, &mut out.warnings);
                out.pods.push(planned);
            }
            Object::Deployment(d) => {
                let name = name_of(&d.metadata.name)?;
                let spec = d.spec.as_ref().ok_or_else(|| KubeError::Pod {
                    pod: name.clone(),
                    what: "Deployment has no spec".into(),
                })?;
                let template = spec.template.spec.as_ref().ok_or_else(|| KubeError::Pod {
                    pod: name.clone(),
                    what: "Deployment has no template spec".into(),
                })?;
                let pod_labels = spec
                    .template
                    .metadata
                    .as_ref()
                    .and_then(|m| m.labels.clone())
                    .unwrap_or_default();
                for i in 0..spec.replicas.unwrap_or(1).max(0) {
                    let mut planned = pod(
                        &format!("{name}-pod-{i}"),
                        Some(&name),
                        &pod_labels,
                        template,
                        &sources,
                        &mut out.warnings,
                    )?;
                    crate::service::bind(&services, &mut planned, template, &mut out.warnings);
                    out.pods.push(planned);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn name_of(name: &Option<String>) -> Result<String, KubeError> {
    match name.as_deref() {
        Some(n) if crate::names::is_label(n) => Ok(n.to_owned()),
        Some(n) => Err(KubeError::Unsupported(format!(
            "metadata.name {n:?} is not an RFC 1123 name"
        ))),
        None => Err(KubeError::Unsupported(
            "an object has no metadata.name".into(),
        )),
    }
}

fn config_map_data(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    out.extend(
        cm.binary_data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone())),
    );
    out
}

fn secret_data(s: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = s
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    out.extend(
        s.string_data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes())),
    );
    out
}

/// One pod: the infra container, then the init containers and the containers.
fn pod(
    name: &str,
    deployment: Option<&str>,
    pod_labels: &BTreeMap<String, String>,
    spec: &PodSpec,
    sources: &Sources,
    warnings: &mut Vec<String>,
) -> Result<PodPlan, KubeError> {
    let fail = |what: String| KubeError::Pod {
        pod: name.to_owned(),
        what,
    };
    let infra_name = format!("{name}-infra");
    let mut plan = PodPlan {
        name: name.to_owned(),
        infra: CreateRequest::default(),
        init: Vec::new(),
        containers: Vec::new(),
        volumes: Vec::new(),
        claims: Vec::new(),
        files: Vec::new(),
        late_env: Vec::new(),
        services: Vec::new(),
    };
    for (field, set) in [
        ("nodeSelector", spec.node_selector.is_some()),
        ("affinity", spec.affinity.is_some()),
        ("tolerations", spec.tolerations.is_some()),
        ("serviceAccountName", spec.service_account_name.is_some()),
    ] {
        if set {
            warnings.push(format!("pod {name}: spec.{field} is not supported"));
        }
    }

    // The pod's volumes, as what each becomes on a container.
    let mut pod_volumes: BTreeMap<String, Mounted> = BTreeMap::new();
    for v in spec.volumes.iter().flatten() {
        let owned = format!("{name}-{}", v.name);
        let mounted = if let Some(h) = &v.host_path {
            Mounted::Bind(PathBuf::from(&h.path))
        } else if let Some(e) = &v.empty_dir {
            if e.medium.as_deref() == Some("Memory") {
                Mounted::Tmpfs
            } else {
                plan.volumes.push(owned.clone());
                Mounted::Volume(owned)
            }
        } else if let Some(c) = &v.persistent_volume_claim {
            plan.claims.push(c.claim_name.clone());
            Mounted::Volume(c.claim_name.clone())
        } else if let Some(c) = &v.config_map {
            let data = match (sources.config_maps.get(&c.name), c.optional) {
                (Some(d), _) => d.clone(),
                (None, Some(true)) => BTreeMap::new(),
                (None, _) => return Err(fail(format!("configMap {} not found", c.name))),
            };
            let mode = c.default_mode.unwrap_or(0o644) as u32;
            plan.volumes.push(owned.clone());
            files(&mut plan, &owned, &data, c.items.as_deref(), mode, &fail)?;
            Mounted::ReadOnly(owned)
        } else if let Some(s) = &v.secret {
            let secret = s.secret_name.clone().unwrap_or_default();
            let data = match (sources.secrets.get(&secret), s.optional) {
                (Some(d), _) => d.clone(),
                (None, Some(true)) => BTreeMap::new(),
                (None, _) => return Err(fail(format!("secret {secret} not found"))),
            };
            let mode = s.default_mode.unwrap_or(0o644) as u32;
            plan.volumes.push(owned.clone());
            files(&mut plan, &owned, &data, s.items.as_deref(), mode, &fail)?;
            Mounted::ReadOnly(owned)
        } else {
            return Err(fail(format!(
                "volume {}: only hostPath, emptyDir, configMap, secret and persistentVolumeClaim are supported",
                v.name
            )));
        };
        pod_volumes.insert(v.name.clone(), mounted);
    }

    let restart = match spec.restart_policy.as_deref() {
        None | Some("Always") => RestartPolicy::Always,
        Some("OnFailure") => RestartPolicy::OnFailure(0),
        Some("Never") => RestartPolicy::No,
        Some(other) => return Err(fail(format!("restartPolicy {other:?} is not known"))),
    };
    let host_network = spec.host_network == Some(true);
    // `hostUsers: false`: each container gets a user namespace of its own (`--userns=auto`) and with it
    // an IPC namespace of its own; the infra container, which holds the pod's network and UTS namespaces,
    // keeps the host's IDs. Kubernetes refuses it with the host's namespaces, and so does this.
    let own_users = spec.host_users == Some(false);
    if own_users && (host_network || spec.host_pid == Some(true) || spec.host_ipc == Some(true)) {
        return Err(fail(
            "hostUsers: false cannot be combined with hostNetwork, hostPID or hostIPC".into(),
        ));
    }

    // The infra container: the pod's namespaces, hostname and host ports.
    let mut infra_labels = pod_labels.clone();
    infra_labels.insert(labels::POD.into(), name.into());
    infra_labels.insert(labels::INFRA.into(), "true".into());
    if let Some(d) = deployment {
        infra_labels.insert(labels::DEPLOYMENT.into(), d.into());
    }
    if let Some(h) = &spec.hostname {
        infra_labels.insert(labels::HOSTNAME.into(), h.clone());
    }
    if let Some(v) = &spec.volumes {
        infra_labels.insert(
            labels::VOLUMES.into(),
            serde_json::to_string(v).expect("volumes serialize"),
        );
    }
    let mut port_bindings = Vec::new();
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            if let Some(hp) = p.host_port {
                port_bindings.push(port_mapping(p, hp).map_err(&fail)?);
            }
        }
    }
    plan.infra = CreateRequest {
        name: Some(parse_name(&infra_name, &fail)?),
        image: HOST_IMAGE.into(),
        cmd: vec!["sleep".into(), "infinity".into()],
        hostname: (!host_network).then(|| spec.hostname.clone().unwrap_or(name.to_owned())),
        labels: infra_labels,
        host: HostConfig {
            network_mode: if host_network {
                "host".into()
            } else {
                sources.network.clone()
            },
            networks: if host_network {
                vec![]
            } else {
                vec![NetworkRequest {
                    network: sources.network.clone(),
                    ..Default::default()
                }]
            },
            port_bindings,
            ..Default::default()
        },
        ..Default::default()
    };

    let inits = spec.init_containers.iter().flatten().map(|c| (c, true));
    let all = inits.chain(spec.containers.iter().map(|c| (c, false)));
    for (index, (c, init)) in all.enumerate() {
        let mut late = Vec::new();
        let mut req = container(
            name,
            &infra_name,
            deployment,
            index,
            init,
            c,
            if init { RestartPolicy::No } else { restart },
            &pod_volumes,
            sources,
            pod_labels,
            warnings,
            &mut late,
        )
        .map_err(|what| fail(format!("container {}: {what}", c.name)))?;
        if own_users {
            req.host.userns_mode = "auto".into();
            // Its own IPC namespace: the infra container's belongs to the host's user namespace, where
            // the container's root may not mount its message queues.
            req.host.ipc_mode = None;
        }
        if host_network && !late.is_empty() {
            return Err(fail(format!(
                "container {}: a fieldRef of status is not supported with hostNetwork",
                c.name
            )));
        }
        let req_name = req
            .name
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        plan.late_env
            .extend(late.into_iter().map(|(i, f)| (req_name.clone(), i, f)));
        if init {
            plan.init.push(req);
        } else {
            plan.containers.push(req);
        }
    }
    Ok(plan)
}

/// What a pod volume is on a container.
enum Mounted {
    Bind(PathBuf),
    Volume(String),
    ReadOnly(String),
    Tmpfs,
}

/// The files of a configMap or secret volume: every key, or the `items` chosen, at their paths.
fn files(
    plan: &mut PodPlan,
    volume: &str,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
    mode: u32,
    fail: &dyn Fn(String) -> KubeError,
) -> Result<(), KubeError> {
    let chosen: Vec<(String, String, u32)> = match items {
        Some(items) => items
            .iter()
            .map(|i| {
                (
                    i.key.clone(),
                    i.path.clone(),
                    i.mode.map_or(mode, |m| m as u32),
                )
            })
            .collect(),
        None => data.keys().map(|k| (k.clone(), k.clone(), mode)).collect(),
    };
    for (key, path, mode) in chosen {
        let content = data
            .get(&key)
            .ok_or_else(|| fail(format!("volume {volume}: key {key} not found")))?;
        if path.starts_with('/') || path.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(fail(format!(
                "volume {volume}: path {path:?} leaves the volume"
            )));
        }
        plan.files
            .push((volume.to_owned(), path, content.clone(), mode));
    }
    Ok(())
}

fn parse_name(
    name: &str,
    fail: &dyn Fn(String) -> KubeError,
) -> Result<minotaur_engine::ids::ContainerName, KubeError> {
    name.parse()
        .map_err(|e: minotaur_engine::ids::IdError| fail(e.to_string()))
}

fn port_mapping(p: &ContainerPort, host_port: i32) -> Result<PortMapping, String> {
    let port = |n: i32| u16::try_from(n).ok().filter(|n| *n > 0);
    Ok(PortMapping {
        host_ip: match &p.host_ip {
            Some(ip) => Some(
                ip.parse()
                    .map_err(|_| format!("hostIP {ip:?} is not an address"))?,
            ),
            None => None,
        },
        host_port: Some(port(host_port).ok_or(format!("hostPort {host_port} is out of range"))?),
        container_port: port(p.container_port).ok_or(format!(
            "containerPort {} is out of range",
            p.container_port
        ))?,
        proto: proto(p.protocol.as_deref())?,
    })
}

fn proto(p: Option<&str>) -> Result<Proto, String> {
    match p {
        None | Some("TCP") => Ok(Proto::Tcp),
        Some("UDP") => Ok(Proto::Udp),
        Some(other) => Err(format!("protocol {other} is not supported")),
    }
}

/// One container of the pod, joined to the infra container's namespaces.
#[allow(clippy::too_many_arguments)]
fn container(
    pod: &str,
    infra: &str,
    deployment: Option<&str>,
    index: usize,
    init: bool,
    c: &KContainer,
    restart: RestartPolicy,
    volumes: &BTreeMap<String, Mounted>,
    sources: &Sources,
    pod_labels: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
    late: &mut Vec<(usize, PodField)>,
) -> Result<CreateRequest, String> {
    let image = c.image.clone().ok_or("no image")?;
    if c.lifecycle.is_some() {
        warnings.push(format!(
            "pod {pod}: container {}: lifecycle is not supported",
            c.name
        ));
    }
    let mut labels = BTreeMap::from([
        (labels::POD.to_owned(), pod.to_owned()),
        (labels::CONTAINER.to_owned(), c.name.clone()),
        (labels::INDEX.to_owned(), index.to_string()),
    ]);
    if init {
        labels.insert(labels::INIT.into(), "true".into());
    }
    if let Some(d) = deployment {
        labels.insert(labels::DEPLOYMENT.into(), d.into());
    }
    if let Some(ports) = &c.ports {
        labels.insert(
            labels::PORTS.into(),
            serde_json::to_string(ports).expect("ports serialize"),
        );
    }

    let mut host = HostConfig {
        network_mode: format!("container:{infra}"),
        ipc_mode: Some(NsMode::Container(infra.to_owned())),
        uts_mode: Some(NsMode::Container(infra.to_owned())),
        restart_policy: restart,
        ..Default::default()
    };
    if let Some(mounts) = &c.volume_mounts {
        labels.insert(
            labels::MOUNTS.into(),
            serde_json::to_string(mounts).expect("mounts serialize"),
        );
    }
    for m in c.volume_mounts.iter().flatten() {
        let v = volumes
            .get(&m.name)
            .ok_or_else(|| format!("volumeMount {}: no such volume in the pod", m.name))?;
        let ro = m.read_only == Some(true);
        let dest = PathBuf::from(&m.mount_path);
        match v {
            Mounted::Bind(src) => host.binds.push(Bind {
                source: src.clone(),
                destination: dest,
                read_only: ro,
            }),
            Mounted::Volume(name) | Mounted::ReadOnly(name) => host.volumes.push(VolumeMount {
                name: name.clone(),
                destination: dest,
                read_only: ro || matches!(v, Mounted::ReadOnly(_)),
                no_copy: matches!(v, Mounted::ReadOnly(_)),
                anonymous: false,
                source: PathBuf::new(),
            }),
            Mounted::Tmpfs => {
                host.tmpfs.insert(dest, String::new());
            }
        }
    }

    if let Some(limits) = c.resources.as_ref().and_then(|r| r.limits.as_ref()) {
        if let Some(m) = limits.get("memory") {
            host.memory = Some(quantity::bytes(&m.0).ok_or(format!("memory limit {:?}", m.0))?);
        }
        if let Some(n) = limits.get("cpu") {
            host.nano_cpus = Some(quantity::nano_cpus(&n.0).ok_or(format!("cpu limit {:?}", n.0))?);
        }
    }
    let mut user = None;
    if let Some(sc) = &c.security_context {
        host.privileged = sc.privileged == Some(true);
        host.read_only = sc.read_only_root_filesystem == Some(true);
        host.no_new_privileges = sc.allow_privilege_escalation == Some(false);
        if let Some(caps) = &sc.capabilities {
            host.cap_add = caps.add.clone().unwrap_or_default();
            host.cap_drop = caps.drop.clone().unwrap_or_default();
        }
        user = match (sc.run_as_user, sc.run_as_group) {
            (Some(u), Some(g)) => Some(format!("{u}:{g}")),
            (Some(u), None) => Some(u.to_string()),
            (None, Some(g)) => Some(format!("0:{g}")),
            (None, None) => None,
        };
    }

    let mut env = Vec::new();
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let (kind, name, optional, map) = if let Some(r) = &from.config_map_ref {
            ("configMap", &r.name, r.optional, &sources.config_maps)
        } else if let Some(r) = &from.secret_ref {
            ("secret", &r.name, r.optional, &sources.secrets)
        } else {
            continue;
        };
        match map.get(name) {
            Some(data) => {
                for (k, v) in data {
                    env.push(format!("{prefix}{k}={}", String::from_utf8_lossy(v)));
                }
            }
            None if optional == Some(true) => {}
            None => return Err(format!("envFrom: {kind} {name} not found")),
        }
    }
    for e in c.env.iter().flatten() {
        match env_value(e, pod, pod_labels, sources)? {
            EnvValue::Now(v) => env.push(format!("{}={v}", e.name)),
            EnvValue::Late(field) => {
                late.push((env.len(), field));
                env.push(format!("{}=", e.name));
            }
        }
    }

    Ok(CreateRequest {
        name: Some(
            format!("{pod}-{}", c.name)
                .parse()
                .map_err(|e: minotaur_engine::ids::IdError| e.to_string())?,
        ),
        image,
        cmd: c.args.clone().unwrap_or_default(),
        entrypoint: c.command.clone(),
        env,
        user,
        working_dir: c.working_dir.clone(),
        tty: c.tty == Some(true),
        open_stdin: c.stdin == Some(true),
        labels,
        healthcheck: c
            .liveness_probe
            .as_ref()
            .map(|p| probe::check("livenessProbe", p, c, true))
            .transpose()?,
        readiness: c
            .readiness_probe
            .as_ref()
            .map(|p| probe::check("readinessProbe", p, c, false))
            .transpose()?,
        startup: c
            .startup_probe
            .as_ref()
            .map(|p| probe::check("startupProbe", p, c, true))
            .transpose()?,
        host,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn plan_of(yaml: &str) -> Plan {
        let (objects, _) = crate::manifest::read(yaml, Path::new("t.yaml")).unwrap();
        plan(&objects, "node1", "bridge").unwrap()
    }

    #[test]
    fn a_pod_is_an_infra_container_and_its_containers_joined_to_it() {
        let p = plan_of(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: a\n    image: nginx\n    ports:\n    - containerPort: 80\n      hostPort: 8080\n    - containerPort: 53\n      protocol: UDP\n    env:\n    - name: NODE\n      valueFrom:\n        fieldRef: {fieldPath: spec.nodeName}\n    resources:\n      limits: {memory: 128Mi, cpu: 250m}\n",
        );
        let pod = &p.pods[0];
        assert_eq!(pod.infra.name.as_ref().unwrap().as_str(), "web-infra");
        assert_eq!(
            pod.infra.host.port_bindings.len(),
            1,
            "only host ports are published"
        );
        assert_eq!(pod.infra.host.port_bindings[0].host_port, Some(8080));
        let a = &pod.containers[0];
        assert_eq!(a.name.as_ref().unwrap().as_str(), "web-a");
        assert_eq!(a.host.network_mode, "container:web-infra");
        assert_eq!(a.host.ipc_mode, Some(NsMode::Container("web-infra".into())));
        assert_eq!(a.env, ["NODE=node1"]);
        assert_eq!(a.host.memory, Some(128 << 20));
        assert_eq!(a.host.nano_cpus, Some(250_000_000));
        assert_eq!(
            a.host.restart_policy,
            RestartPolicy::Always,
            "Kubernetes' default"
        );
        assert_eq!(pod.images(), ["nginx"]);
    }

    #[test]
    fn a_deployment_makes_one_pod_per_replica() {
        let p = plan_of(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: w}\n  template:\n    metadata:\n      labels: {app: w}\n    spec:\n      containers:\n      - name: c\n        image: busybox\n",
        );
        let names: Vec<_> = p.pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["w-pod-0", "w-pod-1", "w-pod-2"]);
        assert_eq!(p.pods[2].infra.labels[labels::DEPLOYMENT], "w");
    }

    #[test]
    fn a_services_name_goes_to_the_pods_its_selector_matches() {
        let p = plan_of(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP: None\n  selector: {app: w}\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector: {tier: front}\n  ports: [{port: 80, targetPort: http}, {port: 53, protocol: UDP}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: fixed\nspec:\n  clusterIP: 10.96.0.20\n  selector: {app: x}\n  ports: [{port: 81, targetPort: web}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: bare\nspec:\n  ports: [{port: 80}]\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: w}\n  template:\n    metadata:\n      labels: {app: w, tier: front}\n    spec:\n      containers:\n      - {name: c, image: busybox, ports: [{name: http, containerPort: 8080}]}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: other\n  labels: {app: x}\nspec:\n  containers:\n  - {name: c, image: busybox}\n",
        );
        let names: Vec<_> = p
            .pods
            .iter()
            .map(|p| (p.name.as_str(), p.infra.host.ready_names.clone()))
            .collect();
        let web = vec!["web".to_owned(), "web.default.svc.cluster.local".to_owned()];
        assert_eq!(
            names,
            [
                ("w-pod-0", web.clone()),
                ("w-pod-1", web),
                ("other", vec![])
            ],
            "a headless Service's names are the pods' ready names"
        );
        // A Service with a cluster IP: its ports on the infra containers, the named target port
        // looked up in the pod; the address is chosen at apply.
        let ports: Vec<_> = p.pods[0]
            .infra
            .host
            .service_ports
            .iter()
            .map(|s| (s.service.as_str(), s.proto, s.port, s.target_port))
            .collect();
        assert_eq!(
            ports,
            [
                ("api", minotaur_firewall::Proto::Tcp, 80, 8080),
                ("api", minotaur_firewall::Proto::Udp, 53, 53)
            ]
        );
        assert_eq!(p.pods[1].infra.host.service_ports.len(), 2);
        assert!(p.pods[0].infra.host.service_ports.iter().all(|s| {
            s.service_type == minotaur_engine::container::ServiceType::ClusterIP
                && s.node_port.is_none()
                && !s.client_affinity
        }));
        assert!(p.pods[2].infra.host.service_ports.is_empty());
        let fixed: Vec<_> = p
            .services
            .iter()
            .map(|(name, w)| (name.as_str(), w.fixed.clone()))
            .collect();
        assert_eq!(
            fixed,
            [
                ("api", vec![]),
                ("fixed", vec!["10.96.0.20".parse().unwrap()])
            ]
        );
        assert_eq!(
            p.warnings,
            [
                "Service bare: it has no selector, so its name resolves to no pod",
                "Service fixed: pod other has no port web, so its port 81 does not lead to it"
            ]
        );
        for (bad, why) in [
            (
                "clusterIP: 172.17.0.9",
                "outside the service range 10.96.0.0/12",
            ),
            ("clusterIP: nope", "is not an IP address"),
            (
                "clusterIP: fd00:10:97::1\n  ports: [{port: 80}]",
                "clusterIP fd00:10:97::1 is outside the service range fd00:10:96::/112",
            ),
            (
                "clusterIPs: [10.96.0.1, 10.96.0.2]\n  ipFamilyPolicy: PreferDualStack\n  ports: [{port: 80}]",
                "clusterIPs names two addresses of one family",
            ),
            (
                "clusterIPs: [10.96.0.1, 'fd00:10:96::1']\n  ports: [{port: 80}]",
                "ipFamilyPolicy SingleStack takes one cluster IP family",
            ),
            (
                "ports: [{port: 80, protocol: SCTP}]",
                "protocol SCTP is not supported",
            ),
            (
                "type: ExternalName\n  externalName: example.org",
                "type ExternalName is not supported",
            ),
            (
                "ports: [{port: 80, nodePort: 30080}]",
                "ports[0]: nodePort needs type NodePort or LoadBalancer",
            ),
            (
                "type: NodePort\n  ports: [{port: 80, nodePort: 8080}]",
                "ports[0]: nodePort 8080 is outside the node port range 30000-32767",
            ),
            (
                "type: NodePort\n  clusterIP: None\n  ports: [{port: 80}]",
                "type NodePort needs a cluster IP, and clusterIP is None",
            ),
            (
                "sessionAffinity: Sticky\n  ports: [{port: 80}]",
                "sessionAffinity Sticky is not supported",
            ),
        ] {
            let yaml = format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  selector: {{a: b}}\n  {bad}\n"
            );
            let (objects, _) = crate::manifest::read(&yaml, Path::new("s.yaml")).unwrap();
            let e = plan(&objects, "node", "bridge").unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn node_ports_load_balancers_and_client_affinity_reach_the_infra_container() {
        use minotaur_engine::container::ServiceType;
        let p = plan_of(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: np\nspec:\n  type: NodePort\n  sessionAffinity: ClientIP\n  selector: {app: w}\n  ports: [{port: 80, targetPort: 8080, nodePort: 30080}, {port: 53, protocol: UDP}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: lb\nspec:\n  type: LoadBalancer\n  selector: {app: w}\n  ports: [{port: 8443}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: w\n  labels: {app: w}\nspec:\n  containers:\n  - {name: c, image: busybox}\n",
        );
        let ports: Vec<_> = p.pods[0]
            .infra
            .host
            .service_ports
            .iter()
            .map(|s| {
                (
                    s.service.as_str(),
                    s.port,
                    s.service_type,
                    s.node_port,
                    s.client_affinity,
                )
            })
            .collect();
        assert_eq!(
            ports,
            [
                ("np", 80, ServiceType::NodePort, Some(30080), true),
                ("np", 53, ServiceType::NodePort, None, true),
                ("lb", 8443, ServiceType::LoadBalancer, None, false),
            ],
            "a node port the manifest leaves out is chosen at apply"
        );
        let lb = &p.pods[0].infra.host.service_ports[2];
        let with_node_port = minotaur_engine::container::ServicePort {
            node_port: Some(31000),
            ..lb.clone()
        };
        assert_eq!(
            with_node_port.host_ports(),
            [31000, 8443],
            "a LoadBalancer's port is on the host too"
        );
    }

    #[test]
    fn status_fields_are_filled_once_the_pod_has_its_address() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: busybox\n    env:\n    - {name: FIRST, value: x}\n    - name: IP\n      valueFrom:\n        fieldRef: {fieldPath: status.podIP}\n    - name: IPS\n      valueFrom:\n        fieldRef: {fieldPath: status.podIPs}\n    - name: HOST\n      valueFrom:\n        fieldRef: {fieldPath: status.hostIP}\n";
        let p = plan_of(yaml);
        let pod = &p.pods[0];
        assert_eq!(pod.containers[0].env, ["FIRST=x", "IP=", "IPS=", "HOST="]);
        let addrs = PodAddresses {
            pod: vec!["10.88.0.5".into(), "fd00::5".into()],
            host: vec!["10.88.0.1".into()],
        };
        let filled = pod.fill(&pod.containers[0], &addrs).unwrap();
        assert_eq!(
            filled.env,
            [
                "FIRST=x",
                "IP=10.88.0.5",
                "IPS=10.88.0.5,fd00::5",
                "HOST=10.88.0.1"
            ]
        );
        let e = pod
            .fill(&pod.containers[0], &PodAddresses::default())
            .unwrap_err();
        assert_eq!(e, "container p-a: the pod has no address for status.podIP");
        let host = yaml.replace("spec:\n", "spec:\n  hostNetwork: true\n");
        let (objects, _) = crate::manifest::read(&host, Path::new("t.yaml")).unwrap();
        let e = plan(&objects, "n", "bridge").unwrap_err().to_string();
        assert_eq!(
            e,
            "pod p: container a: a fieldRef of status is not supported with hostNetwork"
        );
    }

    #[test]
    fn missing_sources_and_escaping_paths_are_refused() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  volumes:\n  - name: c\n    configMap:\n      name: cm\n      items:\n      - {key: k, path: ../../etc/passwd}\n  containers:\n  - name: a\n    image: busybox\n";
        let (objects, _) = crate::manifest::read(yaml, Path::new("t.yaml")).unwrap();
        let e = plan(&objects, "n", "bridge").unwrap_err().to_string();
        assert!(e.contains("leaves the volume"), "{e}");
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: busybox\n    envFrom:\n    - secretRef: {name: nope}\n";
        let (objects, _) = crate::manifest::read(yaml, Path::new("t.yaml")).unwrap();
        let e = plan(&objects, "n", "bridge").unwrap_err().to_string();
        assert_eq!(e, "pod p: container a: envFrom: secret nope not found");
    }
}
