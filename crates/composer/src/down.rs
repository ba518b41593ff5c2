//! `down`: the project's containers stopped (dependents first) and removed, then its networks; with `-v`
//! its volumes, named and anonymous; with `--rmi` its images. What belongs to the project is found by label,
//! so what an earlier version of the file made goes too. External networks and volumes are left alone.

use std::time::Duration;

use minotaur_compose::Project;
use minotaur_engine::context::Context;
use minotaur_engine::{network, volume};

use crate::error::{engine, ComposerError};
use crate::event::Event;
use crate::labels;
use crate::order;
use crate::project;

/// What `down` is asked for.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// Remove named volumes declared in the file and anonymous volumes of the containers.
    pub volumes: bool,
    /// Also remove containers of services the file no longer has.
    pub remove_orphans: bool,
    /// Stop timeout (default: each container's own).
    pub timeout: Option<Duration>,
    /// `local` (images without a tag of their own, which minotaur does not make) or `all`.
    pub rmi: Option<String>,
}

/// Takes a project down. `project` is the loaded file (for dependency order and what it declares);
/// everything labelled with its name goes.
pub fn down(
    ctx: &Context,
    project: &Project,
    opts: &DownOptions,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    let existing = project::containers(ctx, &project.name, Some(project))?;
    let all = order::select(project, &[], false);
    let mut order = order::order(project, &all).map_err(ComposerError::Cycle)?;
    order.reverse();
    let mut doomed = Vec::new();
    doomed.extend(existing.oneoffs.iter());
    for svc in &order {
        if let Some(cs) = existing.services.get(svc) {
            doomed.extend(cs.iter());
        }
    }
    // Containers of services disabled by profiles still belong to the project.
    for (svc, cs) in &existing.services {
        if !order.contains(svc) {
            doomed.extend(cs.iter());
        }
    }
    if opts.remove_orphans {
        doomed.extend(existing.orphans.iter());
    } else if !existing.orphans.is_empty() {
        let names: Vec<&str> = existing.orphans.iter().map(|c| c.name.as_str()).collect();
        events(Event::Warning(format!(
            "Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(" ")
        )));
    }
    let mut images = Vec::new();
    let mut first_error = None;
    for c in &doomed {
        let name = c.name.to_string();
        if c.state.status == minotaur_engine::container::Status::Running {
            if let Err(e) = minotaur_engine::stop::stop(ctx, c.id.as_str(), opts.timeout) {
                first_error.get_or_insert(engine("stop container", &name)(e));
            }
            events(Event::Container {
                name: name.clone(),
                action: "Stopped",
            });
        }
        match minotaur_engine::remove::remove(ctx, c.id.as_str(), true, opts.volumes) {
            Ok(_) => events(Event::Container {
                name,
                action: "Removed",
            }),
            Err(e) => {
                first_error.get_or_insert(engine("remove container", &name)(e));
            }
        }
        images.push(c.config.image.clone());
    }
    minotaur_engine::crash::after("compose-down:containers");
    // Networks: those labelled with the project, which covers those the file no longer declares.
    let nets = network::list(ctx).map_err(engine("list", "networks"))?;
    for n in nets
        .iter()
        .filter(|n| n.labels.get(labels::PROJECT) == Some(&project.name))
    {
        match network::remove(ctx, &n.id) {
            Ok(_) => events(Event::Network {
                name: n.name.clone(),
                action: "Removed",
            }),
            Err(e) => {
                first_error.get_or_insert(engine("remove network", &n.name)(e));
            }
        }
    }
    if opts.volumes {
        let vols = volume::list(ctx).map_err(|source| ComposerError::Volume {
            what: "list",
            name: String::new(),
            source: Box::new(source),
        })?;
        for v in vols
            .iter()
            .filter(|v| v.labels.get(labels::PROJECT) == Some(&project.name))
        {
            match volume::remove(ctx, &v.name, false) {
                Ok(()) => events(Event::Volume {
                    name: v.name.clone(),
                    action: "Removed",
                }),
                Err(source) => {
                    first_error.get_or_insert(ComposerError::Volume {
                        what: "remove",
                        name: v.name.clone(),
                        source: Box::new(source),
                    });
                }
            }
        }
    }
    if opts.rmi.as_deref() == Some("all") {
        images.extend(project.services.values().filter_map(|s| s.image.clone()));
        images.sort();
        images.dedup();
        let store = minotaur_image::Store::open(&ctx.paths.root)
            .map_err(|e| engine("open", "the image store")(e.into()))?;
        for img in images
            .iter()
            .filter(|i| *i != minotaur_engine::create::HOST_IMAGE)
        {
            match store.rmi(img, false) {
                Ok(_) => events(Event::Image {
                    name: img.clone(),
                    action: "Removed",
                }),
                Err(e) => log::debug!("rmi {img}: {e}"),
            }
        }
    }
    let dir = project::files_dir(ctx, &project.name);
    if dir.exists() {
        if let Err(source) = std::fs::remove_dir_all(&dir) {
            first_error.get_or_insert(ComposerError::Io {
                what: "remove",
                path: dir,
                source,
            });
        }
    }
    first_error.map_or(Ok(()), Err)
}
