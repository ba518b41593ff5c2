//! `system boot`: what a daemon would do when the machine starts, done once by a unit the init system
//! runs. A reboot leaves the records (under `--root`) and nothing of the run root (a tmpfs): no namespace
//! files, veths, bridges, firewall table, resolver, mount template or supervisors. Boot
//!
//! 1. makes every container's network namespace again from its records (see
//!    [`crate::network::restore`]), for all containers, not only those it starts: a namespace lives from
//!    `create` to `rm`, so `ip netns`, `network inspect`, published ports and `--network container:X`
//!    find what they found before the reboot;
//! 2. puts minotaur's firewall table back from the store, once (`network reload`), and tells the
//!    resolver each container's names (it starts on demand);
//! 3. starts the containers whose restart policy says so (`always`; `unless-stopped` unless the user
//!    stopped it), dependencies first: the container whose network, PID, IPC or UTS namespace one joins,
//!    and the services named by compose's `com.docker.compose.depends_on` label within the same
//!    `com.docker.compose.project`. A `service_healthy` dependency is waited for until its healthcheck
//!    says healthy, a `service_completed_successfully` one until it exited 0.
//!
//! The mount template, the bpffs of the connect4 redirect and the resolver are made on first use, as on
//! any start. A container that cannot be started is reported and the others go on; its dependents are
//! not started.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::container::{Container, Status};
use crate::context::Context;
use crate::error::EngineError;
use crate::healthcheck::HealthStatus;
use crate::network::{dns, ports, restore};
use crate::parse::NsMode;
use crate::process::alive;
use crate::start;
use crate::supervisor::Attach;

/// Compose's labels.
const PROJECT: &str = "com.docker.compose.project";
const SERVICE: &str = "com.docker.compose.service";
const DEPENDS_ON: &str = "com.docker.compose.depends_on";

/// What `system boot` did with one container.
#[derive(Debug)]
pub enum Outcome {
    /// Its network namespace was made again (it is not started by its policy).
    Restored,
    /// Started.
    Started,
    /// Not started, with why.
    Failed(String),
}

/// A dependency's condition, as compose names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Condition {
    Started,
    Healthy,
    CompletedSuccessfully,
}

/// Brings the machine's containers back after a boot (see the module's documentation). Returns what
/// happened to each container it touched, by name, in the order it did it. `wait` bounds each wait for a
/// dependency's health or completion.
pub fn boot(ctx: &Context, wait: Duration) -> Result<Vec<(String, Outcome)>, EngineError> {
    let all = ctx.list()?;
    let mut out = Vec::new();
    let mut restored = Vec::new();
    for c in &all {
        match restore::sandbox(ctx, c) {
            Ok(true) => restored.push(c),
            Ok(false) => {}
            Err(e) => out.push((
                c.name.to_string(),
                Outcome::Failed(format!(
                    "cannot make its network again: {}",
                    crate::error_chain(&e)
                )),
            )),
        }
    }
    crate::crash::after("boot:sandboxes");
    if !restored.is_empty() {
        ports::reload(ctx)?;
        for c in &restored {
            dns::update(ctx, &c.id)?;
        }
    }
    let to_start: Vec<&Container> = all
        .iter()
        .filter(|c| {
            c.config
                .host
                .restart_policy
                .starts_at_boot(c.state.stopped_by_user)
                && !running(c)
        })
        .collect();
    let names: BTreeSet<&str> = to_start.iter().map(|c| c.id.as_str()).collect();
    let deps: BTreeMap<&str, Vec<(String, Condition)>> = to_start
        .iter()
        .map(|c| (c.id.as_str(), dependencies(c, &all)))
        .collect();
    let (order, cycle) = order(&to_start, &deps, &names);
    for c in &restored {
        if !names.contains(c.id.as_str()) {
            out.push((c.name.to_string(), Outcome::Restored));
        }
    }
    for c in cycle {
        out.push((
            c.name.to_string(),
            Outcome::Failed("its dependencies form a cycle, or depend on one".into()),
        ));
    }
    let mut failed: BTreeSet<String> = out
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .map(|(n, _)| n.clone())
        .collect();
    for c in order {
        let outcome = match wait_for(ctx, &deps[c.id.as_str()], &failed, wait) {
            Err(why) => Outcome::Failed(why),
            Ok(()) => match start::start(ctx, c.id.as_str(), Attach::Detached) {
                Ok(_) => Outcome::Started,
                Err(e) => Outcome::Failed(crate::error_chain(&e)),
            },
        };
        if matches!(outcome, Outcome::Failed(_)) {
            failed.insert(c.id.to_string());
            failed.insert(c.name.to_string());
        }
        out.push((c.name.to_string(), outcome));
    }
    Ok(out)
}

fn running(c: &Container) -> bool {
    c.state.status == Status::Running && alive(c.state.pid, c.state.pid_start_time)
}

/// The containers `c` needs before it starts, by ID, with what it needs of each: those whose namespaces
/// it joins, and its compose project's services its `depends_on` label names.
fn dependencies(c: &Container, all: &[Container]) -> Vec<(String, Condition)> {
    let h = &c.config.host;
    let find = |r: &str| {
        all.iter()
            .find(|o| o.name.as_str() == r || o.id.as_str() == r)
            .or_else(|| {
                let mut p = all.iter().filter(|o| o.id.as_str().starts_with(r));
                p.next().filter(|_| p.next().is_none())
            })
    };
    let mut out = Vec::new();
    let joined = [&h.pid_mode, &h.ipc_mode, &h.uts_mode]
        .into_iter()
        .flatten()
        .filter_map(|m| match m {
            NsMode::Container(x) => Some(x.as_str()),
            _ => None,
        })
        .chain(h.network_mode.strip_prefix("container:"));
    for x in joined {
        if let Some(o) = find(x) {
            out.push((o.id.to_string(), Condition::Started));
        }
    }
    let labels = &c.config.labels;
    if let (Some(project), Some(spec)) = (labels.get(PROJECT), labels.get(DEPENDS_ON)) {
        for (service, condition) in parse_depends_on(spec) {
            let of_service = all.iter().filter(|o| {
                o.config.labels.get(PROJECT) == Some(project)
                    && o.config.labels.get(SERVICE).map(String::as_str) == Some(service)
            });
            for o in of_service {
                out.push((o.id.to_string(), condition));
            }
        }
    }
    out
}

/// Compose's `com.docker.compose.depends_on` label: `SERVICE:CONDITION:RESTART` entries, comma separated.
fn parse_depends_on(spec: &str) -> Vec<(&str, Condition)> {
    spec.split(',')
        .filter(|e| !e.is_empty())
        .map(|e| {
            let mut f = e.split(':');
            let service = f.next().unwrap_or_default();
            let condition = match f.next() {
                Some("service_healthy") => Condition::Healthy,
                Some("service_completed_successfully") => Condition::CompletedSuccessfully,
                _ => Condition::Started,
            };
            (service, condition)
        })
        .collect()
}

/// The containers to start in an order where each comes after those it depends on (creation order
/// otherwise), and those caught in a dependency cycle.
fn order<'a>(
    to_start: &[&'a Container],
    deps: &BTreeMap<&str, Vec<(String, Condition)>>,
    starting: &BTreeSet<&str>,
) -> (Vec<&'a Container>, Vec<&'a Container>) {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut left: Vec<&Container> = to_start.to_vec();
    let mut order = Vec::new();
    loop {
        let ready = left.iter().position(|c| {
            deps[c.id.as_str()].iter().all(|(d, _)| {
                d == c.id.as_str() || !starting.contains(d.as_str()) || done.contains(d.as_str())
            })
        });
        let Some(i) = ready else { break };
        let c = left.remove(i);
        done.insert(c.id.as_str());
        order.push(c);
    }
    (order, left)
}

/// Waits until each dependency meets its condition; the reason when one cannot.
fn wait_for(
    ctx: &Context,
    deps: &[(String, Condition)],
    failed: &BTreeSet<String>,
    wait: Duration,
) -> Result<(), String> {
    for (id, condition) in deps {
        let Ok(d) = ctx.find_live(id) else { continue };
        if failed.contains(id) {
            return Err(format!("its dependency {} did not start", d.name));
        }
        let give_up = Instant::now() + wait;
        loop {
            let d = ctx.find_live(id).map_err(|e| crate::error_chain(&e))?;
            let met = match condition {
                Condition::Started => true,
                Condition::Healthy => match d.state.health.as_ref().map(|h| h.status) {
                    _ if d.state.status != Status::Running => {
                        return Err(format!("its dependency {} is not running", d.name))
                    }
                    Some(HealthStatus::Healthy) => true,
                    Some(HealthStatus::Unhealthy) => {
                        return Err(format!("its dependency {} is unhealthy", d.name))
                    }
                    Some(HealthStatus::Starting) => false,
                    None => {
                        return Err(format!(
                            "its dependency {} has no healthcheck to wait for",
                            d.name
                        ))
                    }
                },
                Condition::CompletedSuccessfully => match d.state.status {
                    Status::Exited if d.state.exit_code == 0 => true,
                    Status::Exited | Status::Created | Status::Dead => {
                        return Err(format!(
                            "its dependency {} did not complete successfully",
                            d.name
                        ))
                    }
                    _ => false,
                },
            };
            if met {
                break;
            }
            if Instant::now() > give_up {
                return Err(format!(
                    "its dependency {} did not become {} within {} s",
                    d.name,
                    match condition {
                        Condition::Healthy => "healthy",
                        _ => "done",
                    },
                    wait.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{Config, HostConfig, State};
    use crate::ids::ContainerId;

    fn container(name: &str, network: &str, labels: &[(&str, &str)]) -> Container {
        Container {
            id: ContainerId::random(),
            name: name.parse().unwrap(),
            created: String::new(),
            config: Config {
                hostname: String::new(),
                user: String::new(),
                env: vec![],
                cmd: vec!["true".into()],
                entrypoint: vec![],
                working_dir: String::new(),
                image: "host".into(),
                image_id: "host".into(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                tty: false,
                open_stdin: false,
                stop_signal: "SIGTERM".into(),
                stop_timeout: None,
                healthcheck: None,
                readiness: None,
                startup: None,
                host: HostConfig {
                    network_mode: network.into(),
                    ..Default::default()
                },
            },
            state: State::default(),
        }
    }

    #[test]
    fn dependencies_come_first_and_cycles_are_named() {
        let web = container(
            "web",
            "bridge",
            &[
                (PROJECT, "p"),
                (SERVICE, "web"),
                (DEPENDS_ON, "db:service_healthy:false"),
            ],
        );
        let side = container("side", "container:web", &[]);
        let db = container("db", "bridge", &[(PROJECT, "p"), (SERVICE, "db")]);
        // Another project's db is not web's.
        let other = container("db2", "bridge", &[(PROJECT, "q"), (SERVICE, "db")]);
        let a = container("a", "container:b", &[]);
        let b = container("b", "container:a", &[]);
        let all = vec![
            side.clone(),
            web.clone(),
            other.clone(),
            db.clone(),
            a.clone(),
            b.clone(),
        ];
        let refs: Vec<&Container> = all.iter().collect();
        let deps: BTreeMap<&str, Vec<(String, Condition)>> = all
            .iter()
            .map(|c| (c.id.as_str(), dependencies(c, &all)))
            .collect();
        assert_eq!(
            deps[web.id.as_str()],
            vec![(db.id.to_string(), Condition::Healthy)]
        );
        let starting: BTreeSet<&str> = all.iter().map(|c| c.id.as_str()).collect();
        let (order, cycle) = order(&refs, &deps, &starting);
        let names: Vec<&str> = order.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["db2", "db", "web", "side"]);
        let stuck: Vec<&str> = cycle.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(stuck, ["a", "b"]);
    }

    #[test]
    fn compose_depends_on_labels() {
        assert_eq!(
            parse_depends_on("db:service_healthy:false,cache:service_started:true,init:service_completed_successfully:false"),
            vec![
                ("db", Condition::Healthy),
                ("cache", Condition::Started),
                ("init", Condition::CompletedSuccessfully)
            ]
        );
        assert_eq!(parse_depends_on("web"), vec![("web", Condition::Started)]);
        assert!(parse_depends_on("").is_empty());
    }
}
