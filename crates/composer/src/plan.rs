//! A service in the engine's terms: the [`CreateRequest`] of one of its containers, built from the typed
//! service. Pure (no engine state is read), so every mapping is tested without root: names of networks and
//! volumes come from the project, the containers of other services by their compose names.
//!
//! What the engine cannot do yet (sysctls, a domain name) is returned as a warning naming the
//! key, never dropped silently.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use minotaur_compose::model::{FileReference, Service, Ulimit};
use minotaur_compose::Project;
use minotaur_engine::container::{HostConfig, NetworkRequest, Seccomp};
use minotaur_engine::create::CreateRequest;
use minotaur_engine::healthcheck::Healthcheck;
use minotaur_engine::parse::{self, Bind, ParseError, VolumeMount};
use minotaur_engine::restart::RestartPolicy;

use crate::labels;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("service {service:?} has `build:` and no image: building images is not supported yet; give it an `image:` that can be pulled")]
    BuildOnly { service: String },
    #[error("service {service:?} has no image")]
    NoImage { service: String },
    #[error("service {service:?}: invalid {what} {value:?}")]
    Invalid {
        service: String,
        what: &'static str,
        value: String,
        #[source]
        source: Option<ParseError>,
    },
    #[error("service {service:?} refers to undefined {what} {name:?}")]
    Undefined {
        service: String,
        what: &'static str,
        name: String,
    },
}

/// Where a service's container comes from, besides the service itself.
pub struct Target<'a> {
    pub project: &'a Project,
    pub service: &'a str,
    /// The container's name (`PROJECT-SERVICE-N`, or the service's `container_name`).
    pub name: String,
    pub number: u32,
    /// Labels every container of the project carries (working directory, files).
    pub project_labels: &'a BTreeMap<String, String>,
    /// The service's configuration hash and normalised configuration (canonical JSON).
    pub hash: &'a str,
    pub config_json: &'a str,
    /// The host files of the project's secrets and configs, by kind (`secrets`, `configs`) and key.
    pub files: &'a BTreeMap<(&'static str, String), PathBuf>,
    pub oneoff: bool,
}

/// The container's creation request, and warnings about keys the engine does not implement.
pub fn request(t: &Target<'_>) -> Result<(CreateRequest, Vec<String>), PlanError> {
    let name = t.service.to_owned();
    let s: &Service = &t.project.services[t.service];
    let invalid =
        |what: &'static str, value: &str, source: Option<ParseError>| PlanError::Invalid {
            service: name.clone(),
            what,
            value: value.to_owned(),
            source,
        };
    let image = match (&s.image, &s.build) {
        (Some(i), _) => i.clone(),
        (None, Some(_)) => return Err(PlanError::BuildOnly { service: name }),
        (None, None) => return Err(PlanError::NoImage { service: name }),
    };
    let mut warnings = Vec::new();
    let mut unsupported = |key: &str| {
        warnings.push(format!(
            "services.{}.{key} is not supported by the engine and is not applied",
            t.service
        ))
    };
    if !s.sysctls.is_empty() {
        unsupported("sysctls");
    }
    if s.domainname.is_some() {
        unsupported("domainname");
    }
    if s.deploy
        .as_ref()
        .is_some_and(|d| d.resources.reservations.is_some())
    {
        unsupported("deploy.resources.reservations");
    }

    let mut host = HostConfig {
        read_only: s.read_only,
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        privileged: s.privileged,
        init: s.init.unwrap_or(false),
        pids_limit: s.pids_limit,
        memory: s.mem_limit,
        nano_cpus: s.cpus.map(|c| (c * 1e9).round() as i64),
        userns_mode: s.userns_mode.clone().unwrap_or_default(),
        ..Default::default()
    };
    for (limit, value) in &s.ulimits {
        let (soft, hard) = match value {
            Ulimit::Single(n) => (*n, *n),
            Ulimit::Pair { soft, hard } => (*soft, *hard),
        };
        let text = format!("{limit}={soft}:{hard}");
        host.ulimits
            .push(parse::ulimit(&text).map_err(|e| invalid("ulimits", &text, Some(e)))?);
    }
    if let Some(limits) = s.deploy.as_ref().and_then(|d| d.resources.limits.as_ref()) {
        host.memory = limits.memory.or(host.memory);
        host.nano_cpus = limits
            .cpus
            .map(|c| (c * 1e9).round() as i64)
            .or(host.nano_cpus);
        host.pids_limit = limits.pids.or(host.pids_limit);
    }

    // Namespaces: another service's are its first container's.
    let other = |x: &str| -> Result<String, PlanError> {
        if !t.project.services.contains_key(x) {
            return Err(PlanError::Undefined {
                service: name.clone(),
                what: "service",
                name: x.to_owned(),
            });
        }
        Ok(container_of(t.project, x))
    };
    let ns = |flag: &'static str, v: &Option<String>| -> Result<_, PlanError> {
        match v.as_deref() {
            None => Ok(None),
            Some(v) => match v.strip_prefix("service:") {
                Some(x) => Ok(Some(parse::NsMode::Container(other(x)?))),
                None => parse::ns_mode(flag, v)
                    .map(Some)
                    .map_err(|e| invalid(flag, v, Some(e))),
            },
        }
    };
    host.pid_mode = ns("pid", &s.pid)?;
    host.ipc_mode = ns("ipc", &s.ipc)?;

    host.network_mode = match s.network_mode.as_deref() {
        Some(m) if m.starts_with("service:") => format!("container:{}", other(&m[8..])?),
        Some(m) => m.to_owned(),
        None => String::new(),
    };
    let bridged = s.network_mode.is_none() || s.network_mode.as_deref() == Some("bridge");
    if bridged {
        // Networks that reach outside first: the first network gives the default route.
        let mut nets: Vec<(&String, &Option<_>)> = s.networks.iter().collect();
        nets.sort_by_key(|(k, _)| {
            t.project
                .networks
                .get(*k)
                .map(|n| n.internal)
                .unwrap_or(false)
        });
        for (key, opts) in nets {
            let net = t
                .project
                .networks
                .get(key)
                .ok_or_else(|| PlanError::Undefined {
                    service: name.clone(),
                    what: "network",
                    name: key.clone(),
                })?;
            let mut req = NetworkRequest {
                network: net.name.clone(),
                aliases: vec![t.service.to_owned()],
                ..Default::default()
            };
            if let Some(o) = opts {
                for a in &o.aliases {
                    if !req.aliases.contains(a) {
                        req.aliases.push(a.clone());
                    }
                }
                if let Some(ip) = &o.ipv4_address {
                    req.ipv4 = Some(ip.parse().map_err(|_| invalid("ipv4_address", ip, None))?);
                }
                if let Some(ip) = &o.ipv6_address {
                    req.ipv6 = Some(ip.parse().map_err(|_| invalid("ipv6_address", ip, None))?);
                }
            }
            host.networks.push(req);
        }
        host.network_mode = host
            .networks
            .first()
            .map(|n| n.network.clone())
            .unwrap_or_else(|| "none".into());
    }

    for v in &s.volumes {
        let target = PathBuf::from(&v.target);
        match v.kind.as_str() {
            "bind" => {
                let src = v.source.clone().unwrap_or_default();
                host.binds.push(Bind {
                    source: PathBuf::from(&src),
                    destination: target,
                    read_only: v.read_only,
                });
            }
            "volume" => {
                let (vname, anonymous) = match &v.source {
                    Some(key) => {
                        let vol =
                            t.project
                                .volumes
                                .get(key)
                                .ok_or_else(|| PlanError::Undefined {
                                    service: name.clone(),
                                    what: "volume",
                                    name: key.clone(),
                                })?;
                        (vol.name.clone(), false)
                    }
                    None => (String::new(), true),
                };
                host.volumes.push(VolumeMount {
                    name: vname,
                    destination: target,
                    read_only: v.read_only,
                    no_copy: v.volume.as_ref().is_some_and(|o| o.nocopy),
                    anonymous,
                    source: PathBuf::new(),
                });
            }
            "tmpfs" => {
                let mut opts = Vec::new();
                if let Some(o) = &v.tmpfs {
                    if let Some(size) = o.size {
                        opts.push(format!("size={size}"));
                    }
                    if let Some(mode) = o.mode {
                        opts.push(format!("mode={mode:o}"));
                    }
                }
                host.tmpfs.insert(target, opts.join(","));
            }
            other => return Err(invalid("volume type", other, None)),
        }
    }
    for tm in &s.tmpfs {
        let (p, o) = parse::tmpfs(tm).map_err(|e| invalid("tmpfs", tm, Some(e)))?;
        host.tmpfs.insert(p, o);
    }
    if let Some(size) = s.shm_size {
        host.tmpfs
            .insert(PathBuf::from("/dev/shm"), format!("size={size}"));
    }
    for (kind, refs, default_dir) in [
        ("secrets", &s.secrets, "/run/secrets"),
        ("configs", &s.configs, ""),
    ] {
        for r in refs {
            host.binds.push(file_bind(t, kind, r, default_dir)?);
        }
    }

    for p in &s.ports {
        let mut spec = String::new();
        if let Some(ip) = p.host_ip.as_deref().filter(|i| !i.is_empty()) {
            if ip.contains(':') {
                spec.push_str(&format!("[{ip}]:"));
            } else {
                spec.push_str(&format!("{ip}:"));
            }
        }
        match &p.published {
            Some(pubd) => spec.push_str(&format!("{pubd}:{}", p.target)),
            None if spec.is_empty() => spec.push_str(&p.target.to_string()),
            None => spec.push_str(&format!(":{}", p.target)),
        }
        let proto = if p.protocol.is_empty() {
            "tcp"
        } else {
            &p.protocol
        };
        spec.push_str(&format!("/{proto}"));
        host.port_bindings
            .extend(parse::ports(&spec).map_err(|e| invalid("port", &spec, Some(e)))?);
    }
    for e in &s.expose {
        for p in parse::ports(e).map_err(|err| invalid("expose", e, Some(err)))? {
            host.exposed.push((p.container_port, p.proto));
        }
    }
    for d in &s.dns {
        host.dns
            .push(d.parse::<IpAddr>().map_err(|_| invalid("dns", d, None))?);
    }
    host.dns_search = s.dns_search.clone();
    for h in &s.extra_hosts {
        let (n, ip) = h
            .split_once('=')
            .or_else(|| h.split_once(':'))
            .ok_or_else(|| invalid("extra_hosts entry", h, None))?;
        let ip: IpAddr = ip
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|_| invalid("extra_hosts entry", h, None))?;
        host.extra_hosts.push((n.to_owned(), ip));
    }
    for opt in &s.security_opt {
        match opt.split_once(['=', ':']) {
            Some(("seccomp", "unconfined")) => host.seccomp = Seccomp::Unconfined,
            None if opt == "no-new-privileges" => host.no_new_privileges = true,
            Some(("no-new-privileges", v)) => host.no_new_privileges = v == "true",
            _ => return Err(invalid("security_opt", opt, None)),
        }
    }

    host.restart_policy = restart_policy(s).map_err(|v| invalid("restart policy", &v, None))?;

    let mut labels_map = s.labels.clone();
    labels_map.extend(t.project_labels.clone());
    labels_map.insert(labels::PROJECT.into(), t.project.name.clone());
    labels_map.insert(labels::SERVICE.into(), t.service.to_owned());
    labels_map.insert(labels::NUMBER.into(), t.number.to_string());
    labels_map.insert(
        labels::ONEOFF.into(),
        if t.oneoff { "True" } else { "False" }.into(),
    );
    labels_map.insert(labels::CONFIG_HASH.into(), t.hash.to_owned());
    labels_map.insert(labels::DEPENDS_ON.into(), labels::depends_on(&s.depends_on));
    labels_map.insert(labels::IMAGE.into(), image.clone());
    labels_map.insert(labels::VERSION.into(), labels::COMPOSE_VERSION.into());
    labels_map.insert(labels::CONFIG.into(), t.config_json.to_owned());

    let env = s
        .environment
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    let req = CreateRequest {
        name: Some(
            t.name
                .parse()
                .map_err(|_| invalid("container name", &t.name, None))?,
        ),
        image,
        cmd: s.command.clone().unwrap_or_default(),
        entrypoint: s.entrypoint.clone(),
        env,
        hostname: s.hostname.clone(),
        user: s.user.clone(),
        working_dir: s.working_dir.clone(),
        tty: s.tty,
        open_stdin: s.stdin_open,
        labels: labels_map,
        stop_signal: s.stop_signal.clone(),
        stop_timeout: s.stop_grace_period.map(|d| d.as_secs() as u32),
        healthcheck: s.healthcheck.as_ref().map(healthcheck),
        readiness: None,
        startup: None,
        host,
    };
    Ok((req, warnings))
}

/// The service's healthcheck in the engine's (Docker's) form: durations in nanoseconds, zero for "the
/// image's or the default", `["NONE"]` when disabled.
fn healthcheck(h: &minotaur_compose::model::Healthcheck) -> Healthcheck {
    let ns = |d: Option<std::time::Duration>| d.map_or(0, |d| d.as_nanos() as i64);
    Healthcheck {
        test: if h.disable {
            vec!["NONE".to_owned()]
        } else {
            h.test.clone()
        },
        interval: ns(h.interval),
        timeout: ns(h.timeout),
        start_period: ns(h.start_period),
        start_interval: ns(h.start_interval),
        retries: h.retries.map_or(0, |r| r as i64),
        ..Default::default()
    }
}

/// `restart:` or `deploy.restart_policy` (`none`, `on-failure` with `max_attempts`, `any`); the text that
/// did not parse on error.
fn restart_policy(s: &Service) -> Result<RestartPolicy, String> {
    if let Some(r) = &s.restart {
        return r.parse().map_err(|_| r.clone());
    }
    let Some(p) = s.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) else {
        return Ok(RestartPolicy::No);
    };
    Ok(match p.condition.as_deref() {
        Some("none") => RestartPolicy::No,
        Some("on-failure") => RestartPolicy::OnFailure(p.max_attempts.unwrap_or(0) as u32),
        Some("any") | None => RestartPolicy::Always,
        Some(other) => return Err(other.to_owned()),
    })
}

/// The container that stands for a service when another names it (`service:X`): its first one.
pub fn container_of(project: &Project, service: &str) -> String {
    project
        .services
        .get(service)
        .and_then(|s| s.container_name.clone())
        .unwrap_or_else(|| labels::container_name(&project.name, service, 1))
}

/// A secret or config as a read-only bind of its host file.
fn file_bind(
    t: &Target<'_>,
    kind: &'static str,
    r: &FileReference,
    default_dir: &str,
) -> Result<Bind, PlanError> {
    let source = t
        .files
        .get(&(kind, r.source.clone()))
        .ok_or_else(|| PlanError::Undefined {
            service: t.service.to_owned(),
            what: if kind == "secrets" {
                "secret"
            } else {
                "config"
            },
            name: r.source.clone(),
        })?;
    let target = match &r.target {
        Some(tg) if tg.starts_with('/') => PathBuf::from(tg),
        Some(tg) => PathBuf::from(default_dir).join(tg),
        None => PathBuf::from(format!("{default_dir}/{}", r.source)),
    };
    Ok(Bind {
        source: source.clone(),
        destination: target,
        read_only: true,
    })
}
