//! The verbs that act on a project's existing containers, service by service: `start` (dependencies first,
//! with their conditions), `stop` and `kill` (dependents first), `restart`, `rm`.

use std::time::Duration;

use minotaur_compose::Loaded;
use minotaur_engine::container::{Container, Status};
use minotaur_engine::context::Context;
use minotaur_engine::error::EngineError;
use nix::sys::signal::Signal;

use crate::error::{engine, ComposerError};
use crate::event::Event;
use crate::order;
use crate::project;
use crate::up::start_one;

/// The containers of the named services (all when empty), in dependency order; `reverse`: dependents
/// first.
pub fn selected(
    ctx: &Context,
    loaded: &Loaded,
    services: &[String],
    reverse: bool,
) -> Result<Vec<(String, Container)>, ComposerError> {
    let project = &loaded.project;
    for s in services {
        if !project.services.contains_key(s) {
            return Err(ComposerError::NoService(s.clone()));
        }
    }
    let names = order::select(project, services, true);
    let mut order = order::order(project, &names).map_err(ComposerError::Cycle)?;
    if reverse {
        order.reverse();
    }
    let existing = project::containers(ctx, &project.name, Some(project))?;
    let mut out = Vec::new();
    for svc in order {
        for c in existing.services.get(&svc).into_iter().flatten() {
            out.push((svc.clone(), c.clone()));
        }
    }
    Ok(out)
}

/// `start`: starts the services' stopped containers, dependencies first.
pub fn start(
    ctx: &Context,
    loaded: &Loaded,
    services: &[String],
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    for (svc, c) in selected(ctx, loaded, services, false)? {
        start_one(ctx, loaded, &svc, c.name.as_str(), events)?;
    }
    Ok(())
}

/// Whether a container is running now (its record, checked against its process).
fn running(ctx: &Context, c: &Container) -> Result<bool, ComposerError> {
    let live = ctx
        .find_live(c.id.as_str())
        .map_err(engine("inspect container", c.name.as_str()))?;
    Ok(live.state.status == Status::Running)
}

/// Does `act` to each of the services' running containers, dependents first, telling `done` for each;
/// `what` names the act in an error (`stop container`).
fn each_running(
    ctx: &Context,
    loaded: &Loaded,
    services: &[String],
    what: &'static str,
    done: &'static str,
    mut act: impl FnMut(&Container) -> Result<Container, EngineError>,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    for (_, c) in selected(ctx, loaded, services, true)? {
        if !running(ctx, &c)? {
            continue;
        }
        act(&c).map_err(engine(what, c.name.as_str()))?;
        events(Event::Container {
            name: c.name.to_string(),
            action: done,
        });
    }
    Ok(())
}

/// `stop`: stops the services' running containers, dependents first.
pub fn stop(
    ctx: &Context,
    loaded: &Loaded,
    services: &[String],
    timeout: Option<Duration>,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    each_running(
        ctx,
        loaded,
        services,
        "stop container",
        "Stopped",
        |c| minotaur_engine::stop::stop(ctx, c.id.as_str(), timeout),
        events,
    )
}

/// `restart`: stops, then starts, the services' containers (stopped ones too, as docker compose does).
pub fn restart(
    ctx: &Context,
    loaded: &Loaded,
    services: &[String],
    timeout: Option<Duration>,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    stop(ctx, loaded, services, timeout, &mut |_| {})?;
    for (svc, c) in selected(ctx, loaded, services, false)? {
        start_one(ctx, loaded, &svc, c.name.as_str(), &mut |_| {})?;
        events(Event::Container {
            name: c.name.to_string(),
            action: "Restarted",
        });
    }
    Ok(())
}

/// `kill`: sends a signal to the services' running containers.
pub fn kill(
    ctx: &Context,
    loaded: &Loaded,
    services: &[String],
    signal: Signal,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    each_running(
        ctx,
        loaded,
        services,
        "kill container",
        "Killed",
        |c| minotaur_engine::stop::kill(ctx, c.id.as_str(), signal),
        events,
    )
}

/// `rm`: removes the services' stopped containers (`stop` first: running ones too), with their anonymous
/// volumes when `volumes`.
pub fn rm(
    ctx: &Context,
    loaded: &Loaded,
    services: &[String],
    stop_first: bool,
    volumes: bool,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    for (_, c) in selected(ctx, loaded, services, true)? {
        if running(ctx, &c)? {
            if !stop_first {
                continue;
            }
            minotaur_engine::stop::stop(ctx, c.id.as_str(), None)
                .map_err(engine("stop container", c.name.as_str()))?;
            events(Event::Container {
                name: c.name.to_string(),
                action: "Stopped",
            });
        }
        minotaur_engine::remove::remove(ctx, c.id.as_str(), false, volumes)
            .map_err(engine("remove container", c.name.as_str()))?;
        events(Event::Container {
            name: c.name.to_string(),
            action: "Removed",
        });
    }
    Ok(())
}

/// What `compose run` is asked for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub service: String,
    /// The command (empty: the service's).
    pub command: Vec<String>,
    /// `KEY=VALUE` added to the service's environment.
    pub env: Vec<String>,
    /// Leave the dependencies alone (otherwise they are brought up first).
    pub no_deps: bool,
    /// Publish the service's ports (off by default, as in docker compose: they would clash).
    pub service_ports: bool,
    pub tty: bool,
    pub stdin: bool,
    pub remove: bool,
    /// `--pull`, in place of the services' `pull_policy`.
    pub pull: Option<crate::pull::Policy>,
    /// Where images are pulled from.
    pub registry: minotaur_engine::image::RegistryOptions,
}

/// `run`: a one-off container of a service (`PROJECT-SERVICE-run-ID`, labelled `oneoff`), created after
/// its dependencies are up, not started: the CLI starts it attached.
pub fn run_oneoff(
    ctx: &Context,
    loaded: &Loaded,
    opts: &RunOptions,
    events: &mut dyn FnMut(Event),
) -> Result<Container, ComposerError> {
    let project = &loaded.project;
    let s = project
        .services
        .get(&opts.service)
        .ok_or_else(|| ComposerError::NoService(opts.service.clone()))?;
    if !opts.no_deps {
        let deps: Vec<String> = s
            .depends_on
            .keys()
            .filter(|d| project.services.contains_key(*d))
            .cloned()
            .collect();
        if !deps.is_empty() {
            crate::up::up(
                ctx,
                loaded,
                &crate::up::UpOptions {
                    services: deps,
                    pull: opts.pull,
                    registry: opts.registry.clone(),
                    ..Default::default()
                },
                events,
            )?;
        }
    }
    crate::pull::for_up(
        ctx,
        &opts.registry,
        loaded,
        std::slice::from_ref(&opts.service),
        opts.pull,
        false,
        events,
    )?;
    let files = project::materialise(ctx, project, &loaded.environment)?;
    let config = crate::up::service_json(loaded, &opts.service);
    let hash = loaded.service_hash(&opts.service).unwrap_or_default();
    let id = minotaur_engine::ids::random_hex();
    let name = crate::labels::oneoff_name(&project.name, &opts.service, &id[..12]);
    let labels = std::collections::BTreeMap::new();
    let (mut req, warnings) = crate::plan::request(&crate::plan::Target {
        project,
        service: &opts.service,
        name: name.clone(),
        number: 1,
        project_labels: &labels,
        hash: &hash,
        config_json: &config,
        files: &files,
        oneoff: true,
    })?;
    for w in warnings {
        events(Event::Warning(w));
    }
    if !opts.command.is_empty() {
        req.cmd = opts.command.clone();
    }
    req.env.extend(opts.env.iter().cloned());
    if !opts.service_ports {
        req.host.port_bindings.clear();
    }
    req.tty = opts.tty;
    req.open_stdin = opts.stdin;
    req.host.auto_remove = opts.remove;
    crate::up::make_bind_sources(s)?;
    minotaur_engine::create::create(ctx, req).map_err(engine("create container", &name))
}
