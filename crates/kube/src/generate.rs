//! `kube generate`: containers as a Pod (or a Deployment), with a Service for their ports and a
//! PersistentVolumeClaim for each named volume. Pure: it reads container records and writes manifests.
//!
//! What maps to what:
//! - the entrypoint and command → `command` and `args`; env, working directory, ports (published ones
//!   with their `hostPort`), `--memory`/`--cpus` → `resources.limits`;
//! - binds → `hostPath` volumes, named volumes → PersistentVolumeClaims, anonymous volumes → `emptyDir`,
//!   `--tmpfs` → `emptyDir` in memory;
//! - `--privileged`, `--cap-add`/`--cap-drop`, `--read-only`, `--user UID[:GID]` and
//!   `no-new-privileges` → `securityContext`; the healthcheck → `livenessProbe`, the readiness and
//!   startup checks (of a played pod) → `readinessProbe` and `startupProbe` (see [`crate::probe`]);
//! - the restart policy → the pod's `restartPolicy`; `--network host` → `hostNetwork`; `--userns=auto`
//!   on every container → `hostUsers: false`;
//! - the Services that selected a played pod → those Services, as played (with the node ports `play`
//!   chose); `--service` makes one for the containers' ports only when there are none.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container as KContainer, ContainerPort, EmptyDirVolumeSource, EnvVar,
    HostPathVolumeSource, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, Pod, PodSpec, PodTemplateSpec, ResourceRequirements,
    SecurityContext, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use minotaur_engine::container::Container;
use minotaur_engine::parse::Proto;
use minotaur_engine::restart::RestartPolicy;

use crate::labels;
use crate::names::label;
use crate::probe;

/// What `kube generate` makes of a group of containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    Pod,
    Deployment,
}

/// One pod's worth of containers: its name, its labels and its containers in order. The init containers
/// of a played pod come first, marked by their label.
pub struct Group<'a> {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub containers: Vec<&'a Container>,
    /// The infra container of a played pod: its namespaces, hostname and volumes are the pod's.
    pub infra: Option<&'a Container>,
    /// How many pods a Deployment of this group runs.
    pub replicas: i32,
}

/// The manifests of one group, as JSON documents in the order they go into the YAML stream: the Pod or
/// Deployment, then the PersistentVolumeClaims, then the Service when `service` is set.
pub fn generate(group: &Group<'_>, kind: Kind, service: bool) -> Vec<serde_json::Value> {
    let name = label(&group.name);
    let mut pod_labels = group.labels.clone();
    pod_labels
        .entry("app".into())
        .or_insert_with(|| name.clone());
    let mut volumes = Volumes::default();
    if let Some(list) = group
        .infra
        .and_then(|i| i.config.labels.get(labels::VOLUMES))
        .and_then(|v| serde_json::from_str::<Vec<Volume>>(v).ok())
    {
        for v in list {
            if let Some(c) = &v.persistent_volume_claim {
                volumes.claims.push(c.claim_name.clone());
            }
            volumes.add(v);
        }
    }
    let mut containers = Vec::new();
    let mut init = Vec::new();
    for c in &group.containers {
        let k = container(c, &mut volumes);
        if c.config
            .labels
            .get(labels::INIT)
            .is_some_and(|v| v == "true")
        {
            init.push(k);
        } else {
            containers.push(k);
        }
    }
    let first = group
        .containers
        .iter()
        .find(|c| !c.config.labels.contains_key(labels::INIT));
    let holder = group.infra.or(first.copied());
    let spec = PodSpec {
        containers,
        init_containers: (!init.is_empty()).then_some(init),
        restart_policy: first.map(|c| restart_policy(&c.config.host.restart_policy).into()),
        host_network: holder
            .filter(|c| c.config.host.network_mode == "host")
            .map(|_| true),
        // A pod whose containers all have user namespaces of their own (`--userns=auto`).
        host_users: (!group.containers.is_empty()
            && group
                .containers
                .iter()
                .all(|c| c.config.host.userns.is_some()))
        .then_some(false),
        hostname: holder
            .and_then(|c| c.config.labels.get(labels::HOSTNAME))
            .cloned(),
        volumes: (!volumes.list.is_empty()).then(|| volumes.list.clone()),
        ..Default::default()
    };
    let meta = ObjectMeta {
        name: Some(name.clone()),
        labels: Some(pod_labels.clone()),
        ..Default::default()
    };
    let mut docs = Vec::new();
    match kind {
        Kind::Pod => docs.push(to_json(&Pod {
            metadata: meta,
            spec: Some(spec.clone()),
            status: None,
        })),
        Kind::Deployment => {
            // A Deployment's pods restart always: that is the only policy its template allows.
            let spec = PodSpec {
                restart_policy: Some("Always".into()),
                ..spec.clone()
            };
            docs.push(to_json(&Deployment {
                metadata: meta,
                spec: Some(DeploymentSpec {
                    replicas: Some(group.replicas),
                    selector: LabelSelector {
                        match_labels: Some(BTreeMap::from([("app".into(), name.clone())])),
                        ..Default::default()
                    },
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta {
                            labels: Some(pod_labels.clone()),
                            ..Default::default()
                        }),
                        spec: Some(spec),
                    },
                    ..Default::default()
                }),
                status: None,
            }))
        }
    }
    for claim in &volumes.claims {
        docs.push(to_json(&PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(claim.clone()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".into(), Quantity("1Gi".into()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: None,
        }));
    }
    // The Services a played pod was selected by, written back as played; else, with `service`, one for
    // the containers' ports.
    let played: Vec<Service> = group
        .infra
        .and_then(|i| i.config.labels.get(labels::SERVICES))
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    let written_back = !played.is_empty();
    docs.extend(played.iter().map(to_json));
    if service && !written_back {
        let ports = service_ports(&group.containers);
        if !ports.is_empty() {
            docs.push(to_json(&Service {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                spec: Some(ServiceSpec {
                    selector: Some(BTreeMap::from([("app".into(), name)])),
                    ports: Some(ports),
                    ..Default::default()
                }),
                status: None,
            }));
        }
    }
    docs
}

/// The pod's volumes, collected from its containers' mounts, and the claims named volumes need.
#[derive(Default)]
struct Volumes {
    list: Vec<Volume>,
    claims: Vec<String>,
}

impl Volumes {
    /// The name of the pod volume for `volume`, adding it unless a volume of that name exists.
    fn add(&mut self, volume: Volume) -> String {
        let name = volume.name.clone();
        if !self.list.iter().any(|v| v.name == name) {
            self.list.push(volume);
        }
        name
    }
}

fn container(c: &Container, volumes: &mut Volumes) -> KContainer {
    let cfg = &c.config;
    let h = &cfg.host;
    let name = cfg
        .labels
        .get(labels::CONTAINER)
        .cloned()
        .unwrap_or_else(|| label(c.name.as_str()));
    let env: Vec<EnvVar> = cfg
        .env
        .iter()
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| EnvVar {
            name: k.into(),
            value: Some(v.into()),
            value_from: None,
        })
        .collect();

    let ports = ports(c);

    let played_mounts = cfg
        .labels
        .get(labels::MOUNTS)
        .and_then(|m| serde_json::from_str::<Vec<VolumeMount>>(m).ok());
    let mut mounts = Vec::new();
    for b in h.binds.iter().filter(|_| played_mounts.is_none()) {
        let v = volumes.add(Volume {
            name: path_volume_name(&b.source),
            host_path: Some(HostPathVolumeSource {
                path: b.source.display().to_string(),
                type_: None,
            }),
            ..Default::default()
        });
        mounts.push(mount(v, &b.destination, b.read_only));
    }
    for v in h.volumes.iter().filter(|_| played_mounts.is_none()) {
        let vol = if v.anonymous {
            Volume {
                name: path_volume_name(&v.destination),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            }
        } else {
            let claim = label(&v.name);
            if !volumes.claims.contains(&claim) {
                volumes.claims.push(claim.clone());
            }
            Volume {
                name: claim.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim,
                    read_only: None,
                }),
                ..Default::default()
            }
        };
        let name = volumes.add(vol);
        mounts.push(mount(name, &v.destination, v.read_only));
    }
    for dest in h.tmpfs.keys().filter(|_| played_mounts.is_none()) {
        let name = volumes.add(Volume {
            name: path_volume_name(dest),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: None,
            }),
            ..Default::default()
        });
        mounts.push(mount(name, dest, false));
    }

    if let Some(m) = played_mounts {
        mounts = m;
    }

    let mut limits = BTreeMap::new();
    if let Some(m) = h.memory {
        limits.insert("memory".to_string(), Quantity(memory(m)));
    }
    if let Some(n) = h.nano_cpus {
        limits.insert("cpu".to_string(), Quantity(cpu(n)));
    }

    KContainer {
        name,
        image: Some(cfg.image.clone()),
        command: (!cfg.entrypoint.is_empty()).then(|| cfg.entrypoint.clone()),
        args: (!cfg.cmd.is_empty()).then(|| cfg.cmd.clone()),
        env: (!env.is_empty()).then_some(env),
        working_dir: (!cfg.working_dir.is_empty() && cfg.working_dir != "/")
            .then(|| cfg.working_dir.clone()),
        ports: (!ports.is_empty()).then_some(ports),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        resources: (!limits.is_empty()).then(|| ResourceRequirements {
            limits: Some(limits),
            ..Default::default()
        }),
        security_context: security_context(c),
        liveness_probe: cfg.healthcheck.as_ref().and_then(probe::probe),
        readiness_probe: cfg.readiness.as_ref().and_then(probe::probe),
        startup_probe: cfg.startup.as_ref().and_then(probe::probe),
        tty: cfg.tty.then_some(true),
        stdin: cfg.open_stdin.then_some(true),
        ..Default::default()
    }
}

/// A container's ports: as a played pod's manifest gave them, or its published and exposed ports.
fn ports(c: &Container) -> Vec<ContainerPort> {
    let h = &c.config.host;
    if let Some(p) = c
        .config
        .labels
        .get(labels::PORTS)
        .and_then(|p| serde_json::from_str::<Vec<ContainerPort>>(p).ok())
    {
        return p;
    }
    let mut ports: Vec<ContainerPort> = h
        .port_bindings
        .iter()
        .map(|p| ContainerPort {
            container_port: p.container_port.into(),
            host_port: p.host_port.map(i32::from),
            host_ip: p.host_ip.map(|ip| ip.to_string()),
            protocol: Some(protocol(p.proto).into()),
            name: None,
        })
        .collect();
    for (port, proto) in &h.exposed {
        let (port, proto) = (i32::from(*port), protocol(*proto));
        if !ports
            .iter()
            .any(|p| p.container_port == port && p.protocol.as_deref() == Some(proto))
        {
            ports.push(ContainerPort {
                container_port: port,
                protocol: Some(proto.into()),
                ..Default::default()
            });
        }
    }
    ports
}

fn mount(name: String, dest: &Path, read_only: bool) -> VolumeMount {
    VolumeMount {
        name,
        mount_path: dest.display().to_string(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// A pod volume's name for a host path or a mount point: its path as a label (`/srv/www` → `srv-www`).
fn path_volume_name(p: &Path) -> String {
    label(&p.display().to_string())
}

fn protocol(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "TCP",
        Proto::Udp => "UDP",
    }
}

/// Bytes as a Kubernetes quantity: the largest binary suffix that divides them exactly.
pub fn memory(bytes: u64) -> String {
    for (suffix, unit) in [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// Nano-CPUs as a quantity: whole CPUs, or millicores.
pub fn cpu(nano: i64) -> String {
    if nano % 1_000_000_000 == 0 {
        (nano / 1_000_000_000).to_string()
    } else {
        format!("{}m", nano / 1_000_000)
    }
}

fn restart_policy(p: &RestartPolicy) -> &'static str {
    match p {
        RestartPolicy::No => "Never",
        RestartPolicy::OnFailure(_) => "OnFailure",
        RestartPolicy::Always | RestartPolicy::UnlessStopped => "Always",
    }
}

fn security_context(c: &Container) -> Option<SecurityContext> {
    let h = &c.config.host;
    let mut ids = c.config.user.splitn(2, ':');
    let uid = ids.next().and_then(|u| u.parse::<i64>().ok());
    let gid = ids.next().and_then(|g| g.parse::<i64>().ok());
    let caps = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    let sc = SecurityContext {
        privileged: h.privileged.then_some(true),
        read_only_root_filesystem: h.read_only.then_some(true),
        allow_privilege_escalation: h.no_new_privileges.then_some(false),
        capabilities: (!h.cap_add.is_empty() || !h.cap_drop.is_empty()).then(|| Capabilities {
            add: caps(&h.cap_add),
            drop: caps(&h.cap_drop),
        }),
        run_as_user: uid,
        run_as_group: gid,
        ..Default::default()
    };
    (sc != SecurityContext::default()).then_some(sc)
}

/// The Service's ports: every container port of the group, named `PORT-PROTO` as Services require
/// names once there are several.
fn service_ports(containers: &[&Container]) -> Vec<ServicePort> {
    let mut out: Vec<ServicePort> = Vec::new();
    for p in containers.iter().flat_map(|c| ports(c)) {
        let proto = p.protocol.unwrap_or_else(|| "TCP".into());
        let name = format!("{}-{}", p.container_port, proto.to_ascii_lowercase());
        if out.iter().any(|s| s.name.as_deref() == Some(name.as_str())) {
            continue;
        }
        out.push(ServicePort {
            name: Some(name),
            port: p.container_port,
            target_port: Some(IntOrString::Int(p.container_port)),
            protocol: Some(proto),
            ..Default::default()
        });
    }
    out
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("Kubernetes objects always serialize")
}
