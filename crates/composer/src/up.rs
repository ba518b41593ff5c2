//! `up`: the project's networks, volumes and containers made to match the file, in dependency order, and
//! started once each one's dependencies meet their `depends_on` conditions.
//!
//! `up` is idempotent: each container carries its service's configuration hash (the
//! `com.docker.compose.config-hash` label, compose's `config --hash`), and a container whose hash matches is
//! left alone. A container is recreated when its service changed, when `--force-recreate` says so, or when
//! the service whose network namespace it shares (`network_mode: service:X`) was recreated: that namespace
//! went with the old container. `--dry-run` computes the same plan and changes nothing; every recreation
//! names its reason, the configuration keys that changed among them (`--explain`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use minotaur_compose::Loaded;
use minotaur_engine::container::{Container, Status};
use minotaur_engine::context::Context;
use minotaur_engine::image::RegistryOptions;
use minotaur_engine::network::{self, NetworkCreate};
use minotaur_engine::supervisor::Attach;
use minotaur_engine::{create, start, volume};

use crate::error::{engine, ComposerError};
use crate::event::Event;
use crate::labels;
use crate::order;
use crate::plan::{self, Target};
use crate::project::{self, remove_container, Containers};
use crate::pull::{self, Policy};
use crate::wait::{self, Condition};

/// What `up` is asked for.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Services named on the command line (empty: all enabled ones).
    pub services: Vec<String>,
    /// Leave out the named services' dependencies.
    pub no_deps: bool,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub remove_orphans: bool,
    /// Create, do not start.
    pub no_start: bool,
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// Wait until every service is running and healthy, or exited 0 (one-shots).
    pub wait: bool,
    pub wait_timeout: Option<Duration>,
    /// `--pull`, in place of each service's `pull_policy` (`None`: the service's, by default `missing`).
    pub pull: Option<Policy>,
    /// Where images are pulled from.
    pub registry: RegistryOptions,
}

/// One container `up` handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub service: String,
    pub name: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Kept,
    Created,
    Recreated { reasons: Vec<String> },
}

impl Action {
    /// What `up` says of the container (`Running` for one left as it was).
    fn word(&self) -> &'static str {
        match self {
            Action::Kept => "Running",
            Action::Created => "Created",
            Action::Recreated { .. } => "Recreated",
        }
    }
}

/// Brings a project up; returns what it did to each container.
pub fn up(
    ctx: &Context,
    loaded: &Loaded,
    opts: &UpOptions,
    events: &mut dyn FnMut(Event),
) -> Result<Vec<Handled>, ComposerError> {
    let project = &loaded.project;
    for s in &opts.services {
        if !project.services.contains_key(s) {
            return Err(ComposerError::NoService(s.clone()));
        }
    }
    let selected = order::select(project, &opts.services, opts.no_deps);
    let order = order::order(project, &selected).map_err(ComposerError::Cycle)?;
    // Every container's request is built before anything is made: bad input changes nothing.
    let project_labels = BTreeMap::from([
        (
            labels::WORKING_DIR.to_owned(),
            loaded.project_directory.display().to_string(),
        ),
        (
            labels::CONFIG_FILES.to_owned(),
            loaded
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
    ]);
    let no_files = BTreeMap::new();
    for svc in &order {
        let config = service_json(loaded, svc);
        plan::request(&Target {
            project,
            service: svc,
            name: labels::container_name(&project.name, svc, 1),
            number: 1,
            project_labels: &project_labels,
            hash: "",
            config_json: &config,
            files: &dummy_files(loaded, &no_files),
            oneoff: false,
        })?;
    }

    pull::for_up(
        ctx,
        &opts.registry,
        loaded,
        &order,
        opts.pull,
        opts.dry_run,
        events,
    )?;

    let existing = project::containers(ctx, &project.name, Some(project))?;
    orphans(ctx, &project.name, &existing, opts, events)?;
    networks(ctx, loaded, &selected, opts.dry_run, events)?;
    volumes(ctx, loaded, &selected, opts.dry_run, events)?;
    let files = if opts.dry_run {
        dummy_files(loaded, &no_files)
    } else {
        project::materialise(ctx, project, &loaded.environment)?
    };
    if !opts.dry_run {
        minotaur_engine::crash::after("compose-up:networks");
    }

    let mut handled = Vec::new();
    let mut recreated: BTreeSet<String> = BTreeSet::new();
    for svc in &order {
        let s = &project.services[svc];
        let hash = loaded.service_hash(svc).unwrap_or_default();
        let config = service_json(loaded, svc);
        let replicas = s
            .deploy
            .as_ref()
            .and_then(|d| d.replicas)
            .or(s.scale)
            .unwrap_or(1)
            .max(if s.container_name.is_some() { 1 } else { 0 });
        let mine = existing.services.get(svc).cloned().unwrap_or_default();
        // Restarted with their dependency (`depends_on: {X: {restart: true}}`, and `network_mode:
        // service:X`, whose namespace went with X's old container).
        let parent_recreated: Vec<&String> = s
            .depends_on
            .iter()
            .filter(|(d, dep)| dep.restart && recreated.contains(*d))
            .map(|(d, _)| d)
            .collect();
        let shares_recreated_netns =
            order::network_parent(project, svc).is_some_and(|p| recreated.contains(&p));
        for n in 1..=replicas {
            let name = match &s.container_name {
                Some(cn) => cn.clone(),
                None => labels::container_name(&project.name, svc, n),
            };
            let old = mine.iter().find(|c| project::number(c) == n);
            let action = match old {
                None => Action::Created,
                Some(_) if opts.no_recreate => Action::Kept,
                Some(c) => {
                    let mut reasons = Vec::new();
                    if opts.force_recreate {
                        reasons.push("--force-recreate".to_owned());
                    }
                    if c.config.labels.get(labels::CONFIG_HASH) != Some(&hash) {
                        let before = c.config.labels.get(labels::CONFIG).map(String::as_str);
                        reasons.extend(changed_keys(before, &config));
                    }
                    if shares_recreated_netns {
                        reasons.push(format!(
                            "network_mode: the container of service {} whose network it shares was recreated",
                            order::network_parent(project, svc).unwrap_or_default()
                        ));
                    }
                    if reasons.is_empty() {
                        Action::Kept
                    } else {
                        Action::Recreated { reasons }
                    }
                }
            };
            if let Action::Recreated { reasons } = &action {
                events(Event::Recreate {
                    name: name.clone(),
                    reasons: reasons.clone(),
                });
            }
            if !opts.dry_run {
                match (&action, old) {
                    (Action::Kept, Some(c)) => {
                        if !parent_recreated.is_empty() && c.state.status == Status::Running {
                            minotaur_engine::stop::stop(ctx, c.id.as_str(), None)
                                .map_err(engine("stop container", &name))?;
                            events(Event::Container {
                                name: name.clone(),
                                action: "Stopped",
                            });
                        }
                    }
                    (action, old) => {
                        if let (Action::Recreated { .. }, Some(c)) = (action, old) {
                            remove_container(ctx, c, false)?;
                        }
                        make(
                            ctx,
                            loaded,
                            svc,
                            &name,
                            n,
                            &hash,
                            &config,
                            &project_labels,
                            &files,
                            events,
                        )?;
                        events(Event::Container {
                            name: name.clone(),
                            action: action.word(),
                        });
                    }
                }
            } else {
                events(Event::Container {
                    name: name.clone(),
                    action: action.word(),
                });
            }
            if matches!(action, Action::Recreated { .. }) {
                recreated.insert(svc.clone());
            }
            handled.push(Handled {
                service: svc.clone(),
                name,
                action,
            });
        }
        // Containers beyond the scale asked for go.
        for c in mine.iter().filter(|c| project::number(c) > replicas) {
            if !opts.dry_run {
                remove_container(ctx, c, false)?;
            }
            events(Event::Container {
                name: c.name.to_string(),
                action: "Removed",
            });
        }
    }
    if opts.no_start || opts.dry_run {
        return Ok(handled);
    }
    minotaur_engine::crash::after("compose-up:created");
    for h in &handled {
        start_one(ctx, loaded, &h.service, &h.name, events)?;
    }
    if opts.wait {
        for h in &handled {
            wait::until(
                ctx,
                &h.name,
                &h.service,
                &h.service,
                Condition::Ready,
                opts.wait_timeout,
            )?;
            let c = ctx
                .find_live(&h.name)
                .map_err(engine("inspect container", &h.name))?;
            let word = match (c.state.status, wait::health(&c)) {
                (Status::Exited, _) => "Exited",
                (_, Some(_)) => "Healthy",
                _ => "Running",
            };
            events(Event::Container {
                name: h.name.clone(),
                action: word,
            });
        }
    }
    Ok(handled)
}

/// Starts a service's container once its dependencies meet their conditions; a running one is left be.
pub fn start_one(
    ctx: &Context,
    loaded: &Loaded,
    service: &str,
    name: &str,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    let project = &loaded.project;
    let c = ctx
        .find_live(name)
        .map_err(engine("inspect container", name))?;
    if c.state.status == Status::Running {
        return Ok(());
    }
    if let Some(s) = project.services.get(service) {
        for (dep, d) in &s.depends_on {
            let dep_name = plan::container_of(project, dep);
            let exists = ctx.find(&dep_name).is_ok();
            if !exists {
                if d.required {
                    return Err(ComposerError::NotCreated(dep.clone()));
                }
                events(Event::Warning(format!(
                    "optional dependency {dep} of service {service} is not running"
                )));
                continue;
            }
            let cond = Condition::parse(&d.condition);
            if cond != Condition::Started {
                events(Event::Container {
                    name: dep_name.clone(),
                    action: "Waiting",
                });
            }
            match wait::until(ctx, &dep_name, dep, service, cond, None) {
                Ok(()) => {
                    if cond != Condition::Started {
                        events(Event::Container {
                            name: dep_name.clone(),
                            action: if cond == Condition::Healthy {
                                "Healthy"
                            } else {
                                "Exited"
                            },
                        });
                    }
                }
                Err(e) if !d.required => events(Event::Warning(format!(
                    "optional dependency {dep} of service {service}: {e}"
                ))),
                Err(e) => return Err(e),
            }
        }
    }
    start::start(ctx, name, Attach::Detached).map_err(engine("start container", name))?;
    events(Event::Container {
        name: name.to_owned(),
        action: "Started",
    });
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn make(
    ctx: &Context,
    loaded: &Loaded,
    svc: &str,
    name: &str,
    number: u32,
    hash: &str,
    config: &str,
    project_labels: &BTreeMap<String, String>,
    files: &BTreeMap<(&'static str, String), std::path::PathBuf>,
    events: &mut dyn FnMut(Event),
) -> Result<Container, ComposerError> {
    let (req, warnings) = plan::request(&Target {
        project: &loaded.project,
        service: svc,
        name: name.to_owned(),
        number,
        project_labels,
        hash,
        config_json: config,
        files,
        oneoff: false,
    })?;
    for w in warnings {
        events(Event::Warning(w));
    }
    make_bind_sources(&loaded.project.services[svc])?;
    create::create(ctx, req).map_err(engine("create container", name))
}

/// Bind sources compose makes when missing (`create_host_path`, the default of the short syntax).
pub(crate) fn make_bind_sources(s: &minotaur_compose::Service) -> Result<(), ComposerError> {
    for v in s.volumes.iter().filter(|v| v.kind == "bind") {
        let create = v.bind.as_ref().is_none_or(|b| b.create_host_path);
        if let (true, Some(src)) = (create, &v.source) {
            let path = std::path::Path::new(src);
            if !path.exists() {
                std::fs::create_dir_all(path).map_err(|source| ComposerError::Io {
                    what: "create",
                    path: path.to_owned(),
                    source,
                })?;
            }
        }
    }
    Ok(())
}

/// The service's normalised configuration as canonical JSON (what the hash is computed over).
pub(crate) fn service_json(loaded: &Loaded, svc: &str) -> String {
    loaded
        .config
        .get("services")
        .and_then(|s| s.get(svc))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// Placeholders for the secret and config files, for checking requests before anything is written.
fn dummy_files(
    loaded: &Loaded,
    _: &BTreeMap<(&'static str, String), std::path::PathBuf>,
) -> BTreeMap<(&'static str, String), std::path::PathBuf> {
    let p = &loaded.project;
    p.secrets
        .keys()
        .map(|k| {
            (
                ("secrets", k.clone()),
                std::path::PathBuf::from("/dev/null"),
            )
        })
        .chain(p.configs.keys().map(|k| {
            (
                ("configs", k.clone()),
                std::path::PathBuf::from("/dev/null"),
            )
        }))
        .collect()
}

/// The keys that differ between a container's recorded configuration and the file's, as dotted paths
/// (`environment.DEBUG`, `image`); maps are compared key by key, lists and values whole.
pub fn changed_keys(before: Option<&str>, after: &str) -> Vec<String> {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or_default();
    let Some(before) = before else {
        return vec!["the container has no recorded configuration".to_owned()];
    };
    let mut out = Vec::new();
    diff(&parse(before), &parse(after), "", &mut out);
    if out.is_empty() {
        out.push("configuration hash".to_owned());
    }
    out
}

fn diff(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value as J;
    match (a, b) {
        (J::Object(x), J::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff(u, v, &p, out),
                    _ => out.push(p),
                }
            }
        }
        _ if a != b => out.push(path.to_owned()),
        _ => {}
    }
}

fn orphans(
    ctx: &Context,
    project: &str,
    existing: &Containers,
    opts: &UpOptions,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    if existing.orphans.is_empty() {
        return Ok(());
    }
    if !opts.remove_orphans {
        let names: Vec<&str> = existing.orphans.iter().map(|c| c.name.as_str()).collect();
        events(Event::Warning(format!(
            "Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(" ")
        )));
        return Ok(());
    }
    for c in &existing.orphans {
        if !opts.dry_run {
            remove_container(ctx, c, false)?;
        }
        events(Event::Container {
            name: c.name.to_string(),
            action: "Removed",
        });
    }
    let _ = project;
    Ok(())
}

fn networks(
    ctx: &Context,
    loaded: &Loaded,
    selected: &BTreeSet<String>,
    dry_run: bool,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    let project = &loaded.project;
    let used: BTreeSet<&String> = selected
        .iter()
        .filter_map(|s| project.services.get(s))
        .flat_map(|s| s.networks.keys())
        .collect();
    for key in used {
        let Some(n) = project.networks.get(key) else {
            continue;
        };
        match network::find(ctx, &n.name) {
            Ok(found) => {
                if !n.external
                    && found.labels.get(labels::PROJECT).map(String::as_str) != Some(&project.name)
                {
                    events(Event::Warning(format!(
                        "a network with name {} exists but was not created for project {:?}: it is used as it is",
                        n.name, project.name
                    )));
                }
                continue;
            }
            Err(_) if n.external => {
                return Err(ComposerError::External {
                    kind: "network",
                    name: n.name.clone(),
                })
            }
            Err(_) => {}
        }
        if !dry_run {
            let mut labels_map = n.labels.clone();
            labels_map.extend(labels::resource(&project.name, labels::NETWORK, key));
            network::create(
                ctx,
                &NetworkCreate {
                    name: n.name.clone(),
                    driver: n.driver.clone(),
                    subnets: n
                        .ipam
                        .config
                        .iter()
                        .filter_map(|c| c.subnet.clone())
                        .collect(),
                    gateways: n
                        .ipam
                        .config
                        .iter()
                        .filter_map(|c| c.gateway.clone())
                        .collect(),
                    ip_ranges: n
                        .ipam
                        .config
                        .iter()
                        .filter_map(|c| c.ip_range.clone())
                        .collect(),
                    internal: n.internal,
                    ipv6: n.enable_ipv6.unwrap_or(false),
                    labels: labels_map,
                    options: n.driver_opts.clone(),
                },
            )
            .map_err(engine("create network", &n.name))?;
        }
        events(Event::Network {
            name: n.name.clone(),
            action: "Created",
        });
    }
    Ok(())
}

fn volumes(
    ctx: &Context,
    loaded: &Loaded,
    selected: &BTreeSet<String>,
    dry_run: bool,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    let project = &loaded.project;
    let used: BTreeSet<&String> = selected
        .iter()
        .filter_map(|s| project.services.get(s))
        .flat_map(|s| s.volumes.iter())
        .filter(|v| v.kind == "volume")
        .filter_map(|v| v.source.as_ref())
        .collect();
    for key in used {
        let Some(v) = project.volumes.get(key) else {
            continue;
        };
        let exists = volume::inspect(ctx, &v.name).is_ok();
        if v.external {
            if !exists {
                return Err(ComposerError::External {
                    kind: "volume",
                    name: v.name.clone(),
                });
            }
            continue;
        }
        if exists {
            continue;
        }
        if !dry_run {
            let mut labels_map = v.labels.clone();
            labels_map.extend(labels::resource(&project.name, labels::VOLUME, key));
            volume::create(ctx, Some(&v.name), v.driver.as_deref(), labels_map).map_err(
                |source| ComposerError::Volume {
                    what: "create",
                    name: v.name.clone(),
                    source: Box::new(source),
                },
            )?;
        }
        events(Event::Volume {
            name: v.name.clone(),
            action: "Created",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_name_what_the_user_edited() {
        let before = r#"{"image":"a","environment":{"X":"1","Y":"2"},"ports":[{"target":80}]}"#;
        let after =
            r#"{"image":"a","environment":{"X":"1","Y":"3","Z":"4"},"ports":[{"target":81}]}"#;
        assert_eq!(
            changed_keys(Some(before), after),
            ["environment.Y", "environment.Z", "ports"]
        );
        assert_eq!(changed_keys(Some(before), before), ["configuration hash"]);
        assert_eq!(changed_keys(None, after).len(), 1);
    }
}
