//! Images from registries: `compose pull`, and the pulls `up` and `run` make before anything is created.
//!
//! What happens to a service's image is decided by a policy: the command line's (`up --pull`, `pull
//! --policy`), otherwise the service's `pull_policy`, otherwise the verb's default, as docker compose does:
//! `pull` fetches every image, `up` only the missing ones. The decisions are made for every service first
//! ([`pull_plan`], [`up_plan`]: pure functions over the project and what the store has), so a refusal
//! (`--pull never` and a missing image, an image that would have to be built) comes before any download.
//! Each distinct image is pulled once, by the first service that names it; an image the store has is
//! re-checked by the engine's pull with one request and not downloaded again.

use std::collections::BTreeMap;
use std::str::FromStr;

use minotaur_compose::{Loaded, Project};
use minotaur_engine::context::Context;
use minotaur_engine::create::HOST_IMAGE;
use minotaur_engine::image::progress::Silent;
use minotaur_engine::image::pull::{self as engine_pull, PullOptions as EnginePullOptions};
use minotaur_engine::image::RegistryOptions;

use crate::error::{engine, ComposerError};
use crate::event::Event;
use crate::order;

/// A pull policy: `pull_policy:` of a service, `up --pull`, `pull --policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Pull every time (one request when the image is up to date).
    Always,
    /// Pull when the store does not have the image (`missing`, `if_not_present`).
    Missing,
    /// Never pull: a missing image is an error.
    Never,
    /// Build the image: not supported yet, so a service with `build:` is refused; one without is `never`.
    Build,
}

impl FromStr for Policy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "always" => Ok(Policy::Always),
            "missing" | "if_not_present" => Ok(Policy::Missing),
            "never" => Ok(Policy::Never),
            "build" => Ok(Policy::Build),
            _ => Err(format!(
                "pull policy {s:?} is not supported: use always, missing, if_not_present, never or build"
            )),
        }
    }
}

/// What is done with one service's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Pull the image (this service is the first to name it).
    Pull { image: String },
    /// Left alone, with docker compose's words for why (`Skipped - Image is already present locally`).
    Skip(String),
}

/// What `compose pull` is asked for.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Services named on the command line (empty: all enabled ones).
    pub services: Vec<String>,
    /// Also pull the named services' dependencies.
    pub include_deps: bool,
    /// A failed pull is a warning, not an error.
    pub ignore_failures: bool,
    /// Leave out services that have `build:`.
    pub ignore_buildable: bool,
    /// `--policy`, in place of each service's `pull_policy`.
    pub policy: Option<Policy>,
    pub registry: RegistryOptions,
}

/// The service's own `pull_policy`, checked.
fn service_policy(project: &Project, service: &str) -> Result<Option<Policy>, ComposerError> {
    let Some(p) = project
        .services
        .get(service)
        .and_then(|s| s.pull_policy.as_deref())
    else {
        return Ok(None);
    };
    p.parse().map(Some).map_err(|_| ComposerError::PullPolicy {
        service: service.to_owned(),
        policy: p.to_owned(),
    })
}

/// `compose pull`'s decision for each service of `services` (in that order): by default every image is
/// pulled; `never` and `build` skip, `missing` skips an image `present` says the store has.
pub fn pull_plan(
    project: &Project,
    services: &[String],
    policy: Option<Policy>,
    ignore_buildable: bool,
    present: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, Step)>, ComposerError> {
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for svc in services {
        let s = &project.services[svc];
        // The service's own policy is checked even when the command line's replaces it.
        let policy = policy.or(service_policy(project, svc)?);
        let skip = |why: &str| Step::Skip(why.to_owned());
        let step = match s.image.as_deref() {
            None => skip("Skipped - No image to be pulled"),
            Some(HOST_IMAGE) => skip("Skipped - Image is built in"),
            Some(_) if matches!(policy, Some(Policy::Never | Policy::Build)) => skip("Skipped"),
            Some(i) if policy == Some(Policy::Missing) && present(i) => {
                skip("Skipped - Image is already present locally")
            }
            Some(_) if ignore_buildable && s.build.is_some() => {
                skip("Skipped - Image can be built")
            }
            Some(i) => match first.get(i) {
                Some(by) => Step::Skip(format!("Skipped - Image is already being pulled by {by}")),
                None => {
                    first.insert(i, svc);
                    Step::Pull {
                        image: i.to_owned(),
                    }
                }
            },
        };
        out.push((svc.clone(), step));
    }
    Ok(out)
}

/// `up`'s (and `run`'s) decision for each service of `order`: by default only a missing image is pulled.
/// Fails, before anything is pulled, on a missing image that may not be pulled (`never`, or `build` for a
/// service without `build:`) and on a service whose image is to be built (`build` for a service with
/// `build:`, which cannot be done yet).
pub fn up_plan(
    project: &Project,
    order: &[String],
    policy: Option<Policy>,
    present: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, Step)>, ComposerError> {
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for svc in order {
        let s = &project.services[svc];
        let policy = policy
            .or(service_policy(project, svc)?)
            .unwrap_or(Policy::Missing);
        // A service without an image is refused when its request is built (`build:` is not supported).
        let Some(image) = s.image.as_deref() else {
            continue;
        };
        let missing = || ComposerError::NoImage {
            service: svc.clone(),
            image: image.to_owned(),
        };
        let pull = match policy {
            _ if image == HOST_IMAGE => false,
            Policy::Build if s.build.is_some() => {
                return Err(ComposerError::MustBuild {
                    service: svc.clone(),
                    image: image.to_owned(),
                })
            }
            Policy::Never | Policy::Build if !present(image) => return Err(missing()),
            Policy::Never | Policy::Build => false,
            Policy::Missing => !present(image),
            Policy::Always => true,
        };
        let step = match (pull, first.get(image)) {
            (false, _) => Step::Skip("Skipped".to_owned()),
            (true, Some(by)) => {
                Step::Skip(format!("Skipped - Image is already being pulled by {by}"))
            }
            (true, None) => {
                first.insert(image, svc);
                Step::Pull {
                    image: image.to_owned(),
                }
            }
        };
        out.push((svc.clone(), step));
    }
    Ok(out)
}

/// Whether the store has `image` (the built-in host image always is).
fn presence(ctx: &Context) -> Result<impl Fn(&str) -> bool, ComposerError> {
    let store = minotaur_image::Store::open(&ctx.paths.root)
        .map_err(|e| engine("open", "the image store")(e.into()))?;
    Ok(move |image: &str| image == HOST_IMAGE || store.resolve(image).is_ok())
}

/// Pulls one image for a service, telling `Pulling` and `Pulled`.
fn pull_one(
    ctx: &Context,
    registry: &RegistryOptions,
    service: &str,
    image: &str,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    events(Event::Pull {
        service: service.to_owned(),
        status: "Pulling".to_owned(),
    });
    engine_pull::pull(ctx, registry, image, &EnginePullOptions::default(), &Silent).map_err(
        |source| ComposerError::Pull {
            service: service.to_owned(),
            image: image.to_owned(),
            source: Box::new(source),
        },
    )?;
    events(Event::Pull {
        service: service.to_owned(),
        status: "Pulled".to_owned(),
    });
    Ok(())
}

/// `compose pull`: the images of the named services (all when empty), each once.
pub fn pull(
    ctx: &Context,
    loaded: &Loaded,
    opts: &PullOptions,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    let project = &loaded.project;
    for s in &opts.services {
        if !project.services.contains_key(s) {
            return Err(ComposerError::NoService(s.clone()));
        }
    }
    let selected = order::select(project, &opts.services, !opts.include_deps);
    let services: Vec<String> = selected.into_iter().collect();
    let present = presence(ctx)?;
    let plan = pull_plan(
        project,
        &services,
        opts.policy,
        opts.ignore_buildable,
        &present,
    )?;
    let mut must_build = Vec::new();
    for (svc, step) in plan {
        let image = match step {
            Step::Skip(why) => {
                events(Event::Pull {
                    service: svc,
                    status: why,
                });
                continue;
            }
            Step::Pull { image } => image,
        };
        match pull_one(ctx, &opts.registry, &svc, &image, events) {
            Ok(()) => {}
            // An image that can be built is not a failure (docker compose builds it instead).
            Err(e) if project.services[&svc].build.is_some() => {
                events(Event::Warning(chain(&e)));
                must_build.push(svc);
            }
            Err(e) if opts.ignore_failures => {
                events(Event::Warning(chain(&e)));
            }
            Err(e) => return Err(e),
        }
    }
    if !must_build.is_empty() {
        events(Event::Warning(format!(
            "some service images must be built from source, which is not supported yet: {}",
            must_build.join(" ")
        )));
    }
    Ok(())
}

/// The pulls `up` makes first, for the services of `order`: decided for all, then each distinct image
/// pulled once. `dry_run` says what would be pulled and pulls nothing.
pub(crate) fn for_up(
    ctx: &Context,
    registry: &RegistryOptions,
    loaded: &Loaded,
    order: &[String],
    policy: Option<Policy>,
    dry_run: bool,
    events: &mut dyn FnMut(Event),
) -> Result<(), ComposerError> {
    let present = presence(ctx)?;
    for (svc, step) in up_plan(&loaded.project, order, policy, &present)? {
        let Step::Pull { image } = step else {
            continue;
        };
        if dry_run {
            for status in ["Pulling", "Pulled"] {
                events(Event::Pull {
                    service: svc.clone(),
                    status: status.to_owned(),
                });
            }
            continue;
        }
        pull_one(ctx, registry, &svc, &image, events)?;
    }
    Ok(())
}

/// An error with its causes, as one line (`service web: cannot pull image x: ...: ...`): a warning is
/// printed whole, since it is not returned to the edge that prints chains.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use minotaur_compose::model::Service;

    /// Services as `(name, image, pull_policy, has build:)`.
    fn project(services: &[(&str, Option<&str>, Option<&str>, bool)]) -> Project {
        let mut p = Project::default();
        for (name, image, policy, build) in services {
            let s = Service {
                image: image.map(str::to_owned),
                pull_policy: policy.map(str::to_owned),
                build: build.then(|| serde_json::json!({"context": "."})),
                ..Service::default()
            };
            p.services.insert((*name).to_owned(), s);
        }
        p
    }

    fn names(p: &Project) -> Vec<String> {
        p.services.keys().cloned().collect()
    }

    fn pull(image: &str) -> Step {
        Step::Pull {
            image: image.to_owned(),
        }
    }

    fn skip(why: &str) -> Step {
        Step::Skip(why.to_owned())
    }

    #[test]
    fn policies_are_compose_specs() {
        assert_eq!("always".parse(), Ok(Policy::Always));
        assert_eq!("missing".parse(), Ok(Policy::Missing));
        assert_eq!("if_not_present".parse(), Ok(Policy::Missing));
        assert_eq!("never".parse(), Ok(Policy::Never));
        assert_eq!("build".parse(), Ok(Policy::Build));
        assert!("daily".parse::<Policy>().is_err());
        assert!("policy".parse::<Policy>().is_err());
    }

    #[test]
    fn compose_pull_fetches_each_image_once_and_honours_pull_policy() {
        let p = project(&[
            ("a", Some("app:1"), None, false),
            ("b", Some("app:1"), None, false),
            ("c", Some("db:1"), Some("missing"), false),
            ("d", Some("cache:1"), Some("never"), false),
            ("e", Some("web:1"), Some("build"), true),
            ("f", None, None, true),
            ("g", Some("host"), None, false),
            ("h", Some("tool:1"), Some("if_not_present"), false),
        ]);
        let present = |i: &str| i == "db:1";
        let plan = pull_plan(&p, &names(&p), None, false, &present).unwrap();
        let steps: Vec<Step> = plan.into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            steps,
            [
                pull("app:1"),
                skip("Skipped - Image is already being pulled by a"),
                skip("Skipped - Image is already present locally"),
                skip("Skipped"),
                skip("Skipped"),
                skip("Skipped - No image to be pulled"),
                skip("Skipped - Image is built in"),
                pull("tool:1"),
            ]
        );
        // `--policy always` overrides every service's policy.
        let plan = pull_plan(&p, &names(&p), Some(Policy::Always), false, &present).unwrap();
        assert_eq!(plan[2].1, pull("db:1"));
        assert_eq!(plan[3].1, pull("cache:1"));
        assert_eq!(plan[4].1, pull("web:1"));
        // `--ignore-buildable`.
        let plan = pull_plan(&p, &names(&p), Some(Policy::Always), true, &present).unwrap();
        assert_eq!(plan[4].1, skip("Skipped - Image can be built"));
    }

    #[test]
    fn up_pulls_only_what_is_missing_unless_told_otherwise() {
        let p = project(&[
            ("a", Some("app:1"), None, false),
            ("b", Some("app:1"), None, false),
            ("c", Some("db:1"), None, false),
            ("d", Some("host"), None, false),
        ]);
        let present = |i: &str| i == "db:1";
        let plan = up_plan(&p, &names(&p), None, &present).unwrap();
        let steps: Vec<&Step> = plan.iter().map(|(_, s)| s).collect();
        assert_eq!(
            steps,
            [
                &pull("app:1"),
                &skip("Skipped - Image is already being pulled by a"),
                &skip("Skipped"),
                &skip("Skipped"),
            ]
        );
        let plan = up_plan(&p, &names(&p), Some(Policy::Always), &present).unwrap();
        assert_eq!(plan[2].1, pull("db:1"));
        assert_eq!(plan[3].1, skip("Skipped"), "the host image is never pulled");
    }

    #[test]
    fn up_refuses_before_pulling_anything() {
        let p = project(&[
            ("a", Some("app:1"), None, false),
            ("z", Some("gone:1"), Some("never"), false),
        ]);
        let e = up_plan(&p, &names(&p), None, &|_| false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "service z: image gone:1 not found: import or pull it first"
        );
        // `--pull never` for all of them: the first missing one is named.
        let e = up_plan(&p, &names(&p), Some(Policy::Never), &|_| false).unwrap_err();
        assert!(e.to_string().starts_with("service a: image app:1"), "{e}");
        // A service whose image is to be built.
        let p = project(&[("w", Some("web:1"), Some("build"), true)]);
        let e = up_plan(&p, &names(&p), None, &|_| true).unwrap_err();
        assert!(matches!(e, ComposerError::MustBuild { .. }), "{e}");
        // `build` for a service without `build:` is `never`.
        let p = project(&[("w", Some("web:1"), None, false)]);
        assert_eq!(
            up_plan(&p, &names(&p), Some(Policy::Build), &|_| true).unwrap()[0].1,
            skip("Skipped")
        );
        assert!(up_plan(&p, &names(&p), Some(Policy::Build), &|_| false).is_err());
        // A policy the engine does not implement.
        let p = project(&[("w", Some("web:1"), Some("daily"), false)]);
        let e = up_plan(&p, &names(&p), None, &|_| true).unwrap_err();
        assert!(matches!(e, ComposerError::PullPolicy { .. }), "{e}");
        // Also when the command line's policy replaces it.
        let e = up_plan(&p, &names(&p), Some(Policy::Always), &|_| true).unwrap_err();
        assert!(matches!(e, ComposerError::PullPolicy { .. }), "{e}");
        let e = pull_plan(&p, &names(&p), Some(Policy::Always), false, &|_| true).unwrap_err();
        assert!(matches!(e, ComposerError::PullPolicy { .. }), "{e}");
    }
}
