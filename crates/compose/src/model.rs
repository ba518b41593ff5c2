//! The project as Rust types: what `up` consumes. It is read from the normalised model (see
//! [`crate::normalize`]), so every field has one form: ports and volumes in their long syntax, durations
//! and sizes parsed, relative paths absolute, the implicit dependencies explicit.
//!
//! A key the compose spec has but these types do not is a feature minotaur does not implement: the loader
//! reports it with its path (see [`unsupported`]), as a warning or, under `--strict`, an error.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical::{parse_bytes, parse_duration};

/// A compose project, with only its enabled services (those of inactive profiles are in `disabled`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Project {
    pub name: String,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default)]
    pub networks: BTreeMap<String, Network>,
    #[serde(default)]
    pub volumes: BTreeMap<String, Volume>,
    #[serde(default)]
    pub secrets: BTreeMap<String, FileObject>,
    #[serde(default)]
    pub configs: BTreeMap<String, FileObject>,
    /// Services whose profiles are not enabled.
    #[serde(skip)]
    pub disabled: BTreeMap<String, Service>,
}

/// One service, normalised.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Service {
    pub image: Option<String>,
    /// Kept so that `up` can say that building is not supported yet, never ignored silently.
    pub build: Option<serde_json::Value>,
    pub container_name: Option<String>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// The container's environment: `env_file` contents overridden by `environment`; `None` is a variable
    /// named without a value that the environment did not have either.
    pub environment: BTreeMap<String, Option<String>>,
    pub volumes: Vec<ServiceVolume>,
    pub tmpfs: Vec<String>,
    pub ports: Vec<Port>,
    pub expose: Vec<String>,
    /// Networks by their key in the file's `networks`; `None` is attached with no options.
    pub networks: BTreeMap<String, Option<ServiceNetwork>>,
    pub network_mode: Option<String>,
    pub depends_on: BTreeMap<String, Dependency>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: Option<String>,
    pub deploy: Option<Deploy>,
    pub scale: Option<u32>,
    pub secrets: Vec<FileReference>,
    pub configs: Vec<FileReference>,
    pub labels: BTreeMap<String, String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opt: Vec<String>,
    pub init: Option<bool>,
    pub stop_signal: Option<String>,
    #[serde(deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub stop_grace_period: Option<Duration>,
    /// `HOST=IP` entries.
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub sysctls: BTreeMap<String, String>,
    pub ulimits: BTreeMap<String, Ulimit>,
    pub pid: Option<String>,
    pub ipc: Option<String>,
    /// `host`, `auto` or `auto:size=N` (checked when the file is loaded).
    pub userns_mode: Option<String>,
    #[serde(deserialize_with = "opt_bytes")]
    pub shm_size: Option<u64>,
    pub stdin_open: bool,
    pub tty: bool,
    #[serde(deserialize_with = "opt_bytes")]
    pub mem_limit: Option<u64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub profiles: Vec<String>,
    pub pull_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ServiceVolume {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "type")]
    pub kind: String,
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub bind: Option<BindOptions>,
    pub volume: Option<VolumeOptions>,
    pub tmpfs: Option<TmpfsOptions>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct BindOptions {
    pub propagation: Option<String>,
    pub create_host_path: bool,
    pub selinux: Option<String>,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            propagation: None,
            create_host_path: true,
            selinux: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct VolumeOptions {
    pub nocopy: bool,
    pub subpath: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TmpfsOptions {
    #[serde(deserialize_with = "opt_bytes")]
    pub size: Option<u64>,
    pub mode: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Port {
    pub name: Option<String>,
    /// `ingress` or `host` (the same for a single machine).
    pub mode: String,
    pub host_ip: Option<String>,
    pub target: u16,
    /// A port or a range (`8000-8010`); `None` lets the engine choose.
    pub published: Option<String>,
    pub protocol: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Dependency {
    /// `service_started`, `service_healthy` or `service_completed_successfully`.
    pub condition: String,
    /// Restart this service when the dependency is restarted or recreated.
    #[serde(default)]
    pub restart: bool,
    /// When false, a dependency that is missing or fails does not stop this service.
    pub required: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Healthcheck {
    pub test: Vec<String>,
    #[serde(deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub interval: Option<Duration>,
    #[serde(deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub timeout: Option<Duration>,
    pub retries: Option<u64>,
    #[serde(deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub start_period: Option<Duration>,
    #[serde(deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub start_interval: Option<Duration>,
    pub disable: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Deploy {
    pub replicas: Option<u32>,
    pub resources: Resources,
    pub restart_policy: Option<RestartPolicy>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Resources {
    pub limits: Option<Resource>,
    pub reservations: Option<Resource>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Resource {
    pub cpus: Option<f64>,
    #[serde(deserialize_with = "opt_bytes")]
    pub memory: Option<u64>,
    pub pids: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RestartPolicy {
    /// `none`, `on-failure` or `any`.
    pub condition: Option<String>,
    #[serde(deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub delay: Option<Duration>,
    pub max_attempts: Option<u64>,
    #[serde(deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub window: Option<Duration>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct FileReference {
    pub source: String,
    /// For secrets, `/run/secrets/SOURCE` unless given; for configs, `/SOURCE` applies when `None`.
    pub target: Option<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    pub mode: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Ulimit {
    Single(i64),
    Pair { soft: i64, hard: i64 },
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Network {
    /// The network's name on the host (`PROJECT_KEY` unless given).
    pub name: String,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub internal: bool,
    pub external: bool,
    pub enable_ipv6: Option<bool>,
    pub ipam: Ipam,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Ipam {
    pub driver: Option<String>,
    pub config: Vec<IpamPool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct IpamPool {
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Volume {
    pub name: String,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub external: bool,
    pub labels: BTreeMap<String, String>,
}

/// A top-level secret or config: its content comes from a file, an environment variable or the file itself.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct FileObject {
    pub name: String,
    pub file: Option<String>,
    pub environment: Option<String>,
    pub content: Option<String>,
    pub external: bool,
    pub labels: BTreeMap<String, String>,
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|t| parse_duration(&t).map_err(serde::de::Error::custom))
        .transpose()
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&crate::canonical::format_duration(*d)),
        None => s.serialize_none(),
    }
}

fn opt_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        N(u64),
        S(String),
    }
    match Option::<Size>::deserialize(d)? {
        None => Ok(None),
        Some(Size::N(n)) => Ok(Some(n)),
        Some(Size::S(s)) => parse_bytes(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Reads the model from normalised JSON, calling `unsupported` with the path of each key it does not know.
pub fn from_json(
    json: &serde_json::Value,
    mut unsupported: impl FnMut(String),
) -> Result<Project, serde_json::Error> {
    let mut pruned = json.clone();
    prune_known_empties(&mut pruned);
    serde_ignored::deserialize(pruned, |path| {
        // serde_ignored names an `Option` level `?`: not a key of the file.
        let segs: Vec<String> = path
            .to_string()
            .split('.')
            .filter(|s| *s != "?")
            .map(String::from)
            .collect();
        let text = segs.join(".");
        if !segs.iter().any(|seg| seg.starts_with("x-")) {
            unsupported(text);
        }
    })
}

/// Keys compose-go's output always has, whose empty value asks nothing of minotaur.
fn prune_known_empties(json: &mut serde_json::Value) {
    let Some(services) = json.get_mut("services").and_then(|s| s.as_object_mut()) else {
        return;
    };
    for service in services.values_mut() {
        if let Some(deploy) = service.get_mut("deploy").and_then(|d| d.as_object_mut()) {
            if deploy
                .get("placement")
                .is_some_and(|p| p.as_object().is_some_and(|o| o.is_empty()))
            {
                deploy.remove("placement");
            }
        }
    }
}

/// A service's configuration hash, as compose's `config --hash`: a SHA-256 of its normalised configuration
/// with the keys that do not change the container left out (build, pull policy, scale and replicas,
/// dependencies, profiles), serialised canonically (sorted keys, no spaces). `up` compares it with the label
/// on the running container to decide whether to recreate it.
pub fn config_hash(service: &serde_json::Value) -> String {
    let mut v = service.clone();
    if let Some(m) = v.as_object_mut() {
        for key in ["build", "pull_policy", "scale", "depends_on", "profiles"] {
            m.remove(key);
        }
        if let Some(deploy) = m.get_mut("deploy").and_then(|d| d.as_object_mut()) {
            deploy.remove("replicas");
        }
    }
    let mut text = String::new();
    canonical_json(&v, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn canonical_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value as J;
    match v {
        J::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&J::String((*k).clone()).to_string());
                out.push(':');
                canonical_json(&m[*k], out);
            }
            out.push('}');
        }
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
