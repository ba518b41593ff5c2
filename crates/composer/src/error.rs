//! What running a project can fail on: the engine's errors with the resource they were about, a
//! dependency that did not come up, a timeout.

use std::path::PathBuf;

use minotaur_engine::error::EngineError;

use crate::plan::PlanError;

#[derive(Debug, thiserror::Error)]
pub enum ComposerError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("cannot {what} {name}")]
    Engine {
        what: &'static str,
        name: String,
        #[source]
        source: Box<EngineError>,
    },
    #[error("cannot {what} volume {name}")]
    Volume {
        what: &'static str,
        name: String,
        #[source]
        source: Box<minotaur_engine::error::volume::VolumeError>,
    },
    #[error("cannot {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("external {kind} {name} not found: create it first")]
    External { kind: &'static str, name: String },
    #[error("{kind} {name} was not made by project {project}: rename one of them")]
    Foreign {
        kind: &'static str,
        name: String,
        project: String,
    },
    #[error("{what} {name} has no value: the environment does not set {variable}")]
    NoSecretValue {
        what: &'static str,
        name: String,
        variable: String,
    },
    #[error("service {service}: image {image} not found: import or pull it first")]
    NoImage { service: String, image: String },
    #[error("service {service}: cannot pull image {image}")]
    Pull {
        service: String,
        image: String,
        #[source]
        source: Box<minotaur_engine::image::pull::PullError>,
    },
    #[error("service {service}: pull_policy {policy:?} is not supported: use always, missing, if_not_present, never or build")]
    PullPolicy { service: String, policy: String },
    #[error("service {service}: image {image} is to be built (pull policy build), and building images is not supported yet")]
    MustBuild { service: String, image: String },
    #[error("dependency cycle between services {0}")]
    Cycle(String),
    #[error("no such service: {0}")]
    NoService(String),
    #[error("service {service} depends on {dependency} being healthy, but {dependency} has no healthcheck")]
    NoHealthcheck { service: String, dependency: String },
    #[error("dependency failed to start: container {container} is unhealthy")]
    Unhealthy { container: String },
    #[error("service {dependency} didn't complete successfully: exit {code}")]
    Failed { dependency: String, code: i32 },
    #[error("container {container} exited ({code})")]
    Exited { container: String, code: i32 },
    #[error("timed out after {secs}s waiting for {what}")]
    Timeout { secs: u64, what: String },
    #[error("service {0} has no container: run `compose up` first")]
    NotCreated(String),
}

/// Wraps an engine error with what was being done to which object.
pub(crate) fn engine(
    what: &'static str,
    name: impl Into<String>,
) -> impl FnOnce(EngineError) -> ComposerError {
    let name = name.into();
    move |source| ComposerError::Engine {
        what,
        name,
        source: Box::new(source),
    }
}
