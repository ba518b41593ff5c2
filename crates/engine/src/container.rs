//! A container's configuration (fixed at `create`) and state (changed by its lifecycle), as stored in the
//! state store's `containers.config` and `containers.state` JSON columns, and the Docker-compatible
//! `inspect` document built from them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::healthcheck::{Health, Healthcheck};
use crate::ids::{ContainerId, ContainerName};
use crate::parse::{Bind, NsMode, PortMapping, VolumeMount};
use crate::restart::RestartPolicy;

/// Everything `create` resolved from flags, image defaults and engine defaults.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Config {
    pub hostname: String,
    pub user: String,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub working_dir: String,
    /// The image as the user named it.
    pub image: String,
    /// The image's ID (`sha256:…`), or `host` for the built-in host image.
    pub image_id: String,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stop_signal: String,
    pub stop_timeout: Option<u32>,
    /// The healthcheck (flags over the image's); `None`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// The readiness check (Kubernetes' readinessProbe): whether the container is ready for traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Healthcheck>,
    /// The startup check (Kubernetes' startupProbe): the others wait until it has succeeded once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Healthcheck>,
    pub host: HostConfig,
}

/// Seccomp choice from `--security-opt seccomp=…`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum Seccomp {
    #[default]
    Default,
    Unconfined,
    /// A profile in Docker's JSON format, as read at create time.
    Profile(String),
}

/// One port of a Service with a cluster IP, as one of its endpoints backs it: connections to
/// `cluster_ip:port` lead to this container's address and `target_port` while it is ready.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServicePort {
    /// The Service's name (and the names it resolves by: see `network::services::names`).
    pub service: String,
    /// IPv4 or IPv6: a dual-stack Service's port is two of these, one per cluster IP.
    pub cluster_ip: std::net::IpAddr,
    pub proto: minotaur_firewall::Proto,
    pub port: u16,
    pub target_port: u16,
    /// The Service's `type`.
    #[serde(default, skip_serializing_if = "ServiceType::is_cluster_ip")]
    pub service_type: ServiceType,
    /// The port on every address of the host that leads where `port` does (`NodePort` and
    /// `LoadBalancer`; a `LoadBalancer`'s `port` is published on the host too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<u16>,
    /// `sessionAffinity: ClientIP`: one client's connections all reach the same endpoint.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_affinity: bool,
}

impl ServicePort {
    /// The ports on the host's addresses that lead where this one does: its node port, and its port too
    /// for a `LoadBalancer` (on one machine, the host is the load balancer). Those of a dual-stack
    /// Service are its IPv4 cluster IP's: node ports lead to IPv4 endpoints only.
    pub fn host_ports(&self) -> Vec<u16> {
        if self.cluster_ip.is_ipv6() {
            return Vec::new();
        }
        let mut out: Vec<u16> = self.node_port.into_iter().collect();
        if self.service_type == ServiceType::LoadBalancer {
            out.push(self.port);
        }
        out
    }
}

/// A Kubernetes Service's `type` (`ExternalName` is not played).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    fn is_cluster_ip(&self) -> bool {
        *self == ServiceType::ClusterIP
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct HostConfig {
    pub binds: Vec<Bind>,
    /// Named and anonymous volumes (`-v NAME:/path`, `-v /path`, `--mount type=volume`).
    #[serde(default)]
    pub volumes: Vec<VolumeMount>,
    pub tmpfs: BTreeMap<PathBuf, String>,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub seccomp: Seccomp,
    pub no_new_privileges: bool,
    pub memory: Option<u64>,
    /// -1: unlimited swap.
    pub memory_swap: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub pids_limit: Option<i64>,
    pub pid_mode: Option<NsMode>,
    pub ipc_mode: Option<NsMode>,
    pub uts_mode: Option<NsMode>,
    /// `none`, `host`, `bridge`, `container:X` or a network name.
    pub network_mode: String,
    pub port_bindings: Vec<PortMapping>,
    pub auto_remove: bool,
    pub init: bool,
    /// The networks joined at create, with their addresses and aliases (empty: just `network_mode`).
    #[serde(default)]
    pub networks: Vec<NetworkRequest>,
    /// Names its endpoints answer to in the resolver only while it is ready (see
    /// `Container::ready`): a Kubernetes Service's name on the pods its selector matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ready_names: Vec<String>,
    /// Ports of Kubernetes Services with a cluster IP that lead to this container's network namespace
    /// while it is ready (see `network::services`); their names resolve to the cluster IP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_ports: Vec<ServicePort>,
    /// `--dns`, `--dns-search`, `--dns-option`.
    #[serde(default)]
    pub dns: Vec<std::net::IpAddr>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--add-host NAME:IP`.
    #[serde(default)]
    pub extra_hosts: Vec<(String, std::net::IpAddr)>,
    /// `--expose` and the ports `-P` publishes.
    #[serde(default)]
    pub exposed: Vec<(u16, crate::parse::Proto)>,
    #[serde(default)]
    pub publish_all: bool,
    /// `--restart`.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// `--log-opt` of the json-file driver (`max-size`, `max-file`), checked by [`crate::parse::log_opt`].
    #[serde(default)]
    pub log_opts: BTreeMap<String, String>,
    /// `--userns` as given (`auto`, `auto:size=N`; empty: the host's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub userns_mode: String,
    /// The ID range `--userns=auto` reserved for the container (see [`crate::userns`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns: Option<IdMap>,
    /// `--ulimit`: resource limits of its processes (unset ones are the caller's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<crate::parse::Ulimit>,
}

/// How a container asked to join a network (`--network NAME --ip --network-alias --mac-address`, or
/// `network connect`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct NetworkRequest {
    pub network: String,
    #[serde(default)]
    pub ipv4: Option<std::net::Ipv4Addr>,
    #[serde(default)]
    pub ipv6: Option<std::net::Ipv6Addr>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub mac: Option<String>,
}

/// Where a container is in its lifecycle (Docker's status words).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

/// What changes while a container lives.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct State {
    pub status: Status,
    /// Host PID of the container's PID 1 while it runs, else 0.
    pub pid: i32,
    /// When `pid` started (clock ticks since boot, /proc/PID/stat): `pid` and this name one process for good.
    #[serde(default)]
    pub pid_start_time: u64,
    /// The inode of `pid`'s pidfd on pidfs (Linux 6.9 and later; 0 where pidfds are not on pidfs or it
    /// was not recorded): it too names one process for good, and is cheaper to check (see
    /// `process::alive_all`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pid_inode: u64,
    /// Host PID of the supervisor while it runs, else 0.
    pub supervisor_pid: i32,
    #[serde(default)]
    pub supervisor_start_time: u64,
    pub exit_code: i32,
    pub error: String,
    pub oom_killed: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The bind-mounted network namespace file (Docker's SandboxKey), when the container has its own.
    pub sandbox_key: Option<PathBuf>,
    /// The healthcheck's results, when it has one and has been started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// The readiness check's results, when it has one and has been started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Health>,
    /// The startup check's results, when it has one and has been started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Health>,
    /// Restarts the restart policy made since the user last started it.
    #[serde(default)]
    pub restart_count: u32,
    /// The user stopped it (`stop`, or `kill` with SIGKILL or its stop signal): its restart policy does
    /// not start it again (Docker's HasBeenManuallyStopped). Cleared by `start`.
    #[serde(default)]
    pub stopped_by_user: bool,
    /// `rm -f` is removing it and SIGKILLed its PID 1: an exit by that signal is then recorded by the `rm`
    /// (the `die` event, in the transaction that deletes the record), not by the supervisor, so that the
    /// supervisors of a thousand containers removed at once do not each queue for the write lock. An exit
    /// of any other kind is still the supervisor's to record: only it knows the status. The `rm` also
    /// removes the cgroup of an exit it records, for the same reason (the kernel's cgroup lock). Cleared
    /// by `start`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub removing: bool,
}

/// A container as stored: identity, configuration, state. A list that reads little of each container's
/// configuration decodes it as a smaller type (see [`ListedConfig`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Container<C = Config> {
    pub id: ContainerId,
    pub name: ContainerName,
    pub created: String,
    pub config: C,
    pub state: State,
}

/// What `ps` shows and filters on of a container's [`Config`], decoded from the same record: the rest of
/// it is skipped unread, which at a thousand containers is most of what listing them cost. Its fields
/// are [`Config`]'s, with the same names and meaning.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ListedConfig {
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub image: String,
    pub image_id: String,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
    pub host: ListedHostConfig,
}

/// What `ps` reads of a container's [`HostConfig`] (see [`ListedConfig`]).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ListedHostConfig {
    pub binds: Vec<Bind>,
    pub network_mode: String,
}

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Container {
    /// Whether the container's ready names answer now: it runs, and every running or stopped container that
    /// joins its network namespace (`--network container:C`) and has a readiness check is running and ready.
    /// With none that has a check, running is ready, as a Kubernetes pod with no readiness probe is.
    pub fn ready(&self, all: &[Container]) -> bool {
        let c = self;
        let joins = |x: &Container| {
            x.config
                .host
                .network_mode
                .strip_prefix("container:")
                .is_some_and(|r| {
                    r == c.name.as_str() || (!r.is_empty() && c.id.as_str().starts_with(r))
                })
        };
        c.state.status == Status::Running
            && all
                .iter()
                .filter(|x| joins(x) && x.config.readiness.as_ref().is_some_and(|r| r.runs()))
                .all(|x| {
                    x.state.status == Status::Running
                        && x.state
                            .readiness
                            .as_ref()
                            .is_some_and(|h| h.status == crate::healthcheck::HealthStatus::Healthy)
                })
    }

    /// The document `inspect` prints, with Docker's field names, so Docker's templates work on it.
    pub fn inspect(&self) -> serde_json::Value {
        let c = &self.config;
        let h = &c.host;
        let s = &self.state;
        let mounts: Vec<_> = h
            .binds
            .iter()
            .map(|b| {
                json!({"Type": "bind", "Source": b.source, "Destination": b.destination, "Mode": if b.read_only {"ro"} else {""},
                   "RW": !b.read_only, "Propagation": "rprivate"})
            })
            .chain(h.volumes.iter().map(|v| {
                json!({"Type": "volume", "Name": v.name, "Source": v.source, "Destination": v.destination,
                   "Driver": "local", "Mode": if v.read_only {"ro"} else {""}, "RW": !v.read_only, "Propagation": ""})
            }))
            .chain(h.tmpfs.keys().map(|p| {
                json!({"Type": "tmpfs", "Source": "", "Destination": p, "Mode": "", "RW": true, "Propagation": ""})
            }))
            .collect();
        let mode = |m: &Option<NsMode>| match m {
            None | Some(NsMode::Private) => String::new(),
            Some(NsMode::Host) => "host".to_owned(),
            Some(NsMode::Container(x)) => format!("container:{x}"),
        };
        let port_bindings = port_map(&h.port_bindings);
        let mut doc = json!({
            "Id": self.id,
            "Created": self.created,
            "Path": c.entrypoint.iter().chain(&c.cmd).next().cloned().unwrap_or_default(),
            "Args": c.entrypoint.iter().chain(&c.cmd).skip(1).collect::<Vec<_>>(),
            "State": {
                "Status": s.status.as_str(),
                "Running": s.status == Status::Running,
                "Paused": s.status == Status::Paused,
                "Restarting": s.status == Status::Restarting,
                "OOMKilled": s.oom_killed,
                "Dead": s.status == Status::Dead,
                "Pid": s.pid,
                "ExitCode": s.exit_code,
                "Error": s.error,
                "StartedAt": s.started_at.as_deref().unwrap_or(ZERO_TIME),
                "FinishedAt": s.finished_at.as_deref().unwrap_or(ZERO_TIME),
                "Health": s.health.as_ref().filter(|_| c.healthcheck.as_ref().is_some_and(|h| h.runs())),
            },
            "RestartCount": s.restart_count,
            "Image": c.image_id,
            "Name": format!("/{}", self.name),
            "Driver": if c.image_id == "host" { "host" } else { "overlay" },
            "Platform": "linux",
            "HostConfig": {
                "Binds": h.binds.iter().map(|b| format!("{}:{}{}", b.source.display(), b.destination.display(),
                    if b.read_only { ":ro" } else { "" }))
                    .chain(h.volumes.iter().map(|v| format!("{}:{}{}", v.name, v.destination.display(),
                    if v.read_only { ":ro" } else { "" }))).collect::<Vec<_>>(),
                "NetworkMode": h.network_mode,
                "PortBindings": port_bindings,
                "AutoRemove": h.auto_remove,
                "RestartPolicy": {"Name": h.restart_policy.name(), "MaximumRetryCount": h.restart_policy.max_retries()},
                "CapAdd": h.cap_add,
                "CapDrop": h.cap_drop,
                "Privileged": h.privileged,
                "ReadonlyRootfs": h.read_only,
                "SecurityOpt": security_opt(h),
                "LogConfig": {"Type": "json-file", "Config": h.log_opts},
                "Tmpfs": h.tmpfs,
                "PidMode": mode(&h.pid_mode),
                "IpcMode": mode(&h.ipc_mode),
                "UTSMode": mode(&h.uts_mode),
                "UsernsMode": h.userns_mode,
                "Memory": h.memory.unwrap_or(0),
                "MemorySwap": h.memory_swap.unwrap_or(0),
                "NanoCpus": h.nano_cpus.unwrap_or(0),
                "CpuShares": h.cpu_shares.unwrap_or(0),
                "PidsLimit": h.pids_limit,
                "Ulimits": h.ulimits.iter().map(|u| serde_json::json!({
                    "Name": u.name,
                    "Soft": docker_limit(u.soft),
                    "Hard": docker_limit(u.hard),
                })).collect::<Vec<_>>(),
                "Init": h.init,
            },
            "Mounts": mounts,
            "Config": {
                "Hostname": c.hostname,
                "User": c.user,
                "Tty": c.tty,
                "OpenStdin": c.open_stdin,
                "Env": c.env,
                "Cmd": c.cmd,
                "Entrypoint": if c.entrypoint.is_empty() { serde_json::Value::Null } else { json!(c.entrypoint) },
                "Image": c.image,
                "WorkingDir": c.working_dir,
                "Labels": c.labels,
                "StopSignal": c.stop_signal,
                "StopTimeout": c.stop_timeout,
                "Healthcheck": c.healthcheck,
            },
            "NetworkSettings": {
                "SandboxKey": s.sandbox_key.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                "Ports": port_bindings,
                "IPAddress": "",
                "Gateway": "",
                "MacAddress": "",
                "Networks": {},
            },
        });
        // Kubernetes' readiness and startup checks (minotaur's own fields), only when the container has them.
        for (key, check, health) in [
            ("Readiness", &c.readiness, &s.readiness),
            ("Startup", &c.startup, &s.startup),
        ] {
            if let (Some(h), true) = (health, check.as_ref().is_some_and(|c| c.runs())) {
                doc["State"][key] = json!(h);
            }
        }
        doc
    }
}

fn security_opt(h: &HostConfig) -> Vec<String> {
    let mut v = Vec::new();
    match h.seccomp {
        Seccomp::Default => {}
        Seccomp::Unconfined => v.push("seccomp=unconfined".to_owned()),
        Seccomp::Profile(_) => v.push("seccomp=<profile>".to_owned()),
    }
    if h.no_new_privileges {
        v.push("no-new-privileges".to_owned());
    }
    v
}

/// Docker's `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` shape.
fn port_map(ports: &[PortMapping]) -> serde_json::Value {
    let mut m: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for p in ports {
        let key = format!(
            "{}/{}",
            p.container_port,
            if p.proto == crate::parse::Proto::Udp {
                "udp"
            } else {
                "tcp"
            }
        );
        m.entry(key).or_default().push(json!({
            "HostIp": p.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            "HostPort": p.host_port.map(|p| p.to_string()).unwrap_or_default(),
        }));
    }
    json!(m)
}

/// A limit as Docker's inspect shows it: -1 for none.
fn docker_limit(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(-1)
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A container's ID mapping: its IDs `0..size` are the host's `uid..uid+size` and `gid..gid+size`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdMap {
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
}

impl IdMap {
    /// The `uid_map` and `gid_map` texts of the container's user namespace.
    pub fn maps(&self) -> (String, String) {
        (
            format!("0 {} {}\n", self.uid, self.size),
            format!("0 {} {}\n", self.gid, self.size),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::template::Format;

    /// A running container, for tests.
    pub(crate) fn sample() -> Container {
        Container {
            id: ContainerId::random(),
            name: "mynginx".parse().unwrap(),
            created: "2026-11-29T18:00:00.000000000Z".into(),
            config: Config {
                hostname: "web".into(),
                user: String::new(),
                env: vec!["PATH=/usr/bin".into()],
                cmd: vec!["sleep".into(), "100".into()],
                entrypoint: vec![],
                working_dir: "/".into(),
                image: "host".into(),
                image_id: "host".into(),
                labels: BTreeMap::from([("app".into(), "web".into())]),
                tty: false,
                open_stdin: false,
                stop_signal: "SIGTERM".into(),
                stop_timeout: None,
                healthcheck: None,
                readiness: None,
                startup: None,
                host: HostConfig {
                    network_mode: "none".into(),
                    ..Default::default()
                },
            },
            state: State {
                status: Status::Running,
                pid: 4242,
                sandbox_key: Some("/run/minotaur/netns/x".into()),
                ..Default::default()
            },
        }
    }

    /// `ps` decodes the stored configuration as a `ListedConfig`: its fields must be `Config`'s, as
    /// `Config` writes them.
    #[test]
    fn a_listed_config_reads_what_a_config_wrote() {
        let mut c = sample().config;
        c.entrypoint = vec!["/init".into()];
        c.image_id = "sha256:abc".into();
        c.healthcheck = Some(Healthcheck {
            test: vec!["CMD".into(), "true".into()],
            ..Default::default()
        });
        c.host.binds = vec![Bind {
            source: "/srv".into(),
            destination: "/data".into(),
            read_only: true,
        }];
        c.host.network_mode = "container:db".into();
        let stored = serde_json::to_string(&c).unwrap();
        let l: ListedConfig = serde_json::from_str(&stored).unwrap();
        assert_eq!(l.cmd, c.cmd);
        assert_eq!(l.entrypoint, c.entrypoint);
        assert_eq!(l.image, c.image);
        assert_eq!(l.image_id, c.image_id);
        assert_eq!(l.labels, c.labels);
        assert_eq!(l.healthcheck, c.healthcheck);
        assert_eq!(l.host.binds, c.host.binds);
        assert_eq!(l.host.network_mode, c.host.network_mode);
    }

    #[test]
    fn the_seeds_templates_work_on_inspect() {
        let doc = sample().inspect();
        let r = |t: &str| Format::parse(t).unwrap().render(&doc).unwrap();
        assert_eq!(r("{{.State.Pid}}"), "4242");
        assert_eq!(
            r("{{.NetworkSettings.SandboxKey}}"),
            "/run/minotaur/netns/x"
        );
        assert_eq!(
            r("{{.Name}} {{.State.Status}} {{.State.Running}}"),
            "/mynginx running true"
        );
        assert_eq!(
            r("{{.Config.Cmd}} {{.Path}} {{.Args}}"),
            "[sleep 100] sleep [100]"
        );
        assert_eq!(r("{{.Config.Labels.app}}"), "web");
    }

    #[test]
    fn config_and_state_round_trip_through_json() {
        let c = sample();
        let cfg: Config = serde_json::from_str(&serde_json::to_string(&c.config).unwrap()).unwrap();
        let st: State = serde_json::from_str(&serde_json::to_string(&c.state).unwrap()).unwrap();
        assert_eq!(cfg, c.config);
        assert_eq!(st, c.state);
    }
}
