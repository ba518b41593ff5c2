//! Compose projects on the engine: `up`, `down` and the other verbs of `minotaur compose`, turning a loaded
//! [`minotaur_compose::Project`] into engine calls in dependency order.
//!
//! This crate owns what a project is on the host (its containers, networks and volumes, found by docker
//! compose's `com.docker.compose.*` labels), the mapping of a service to a container request ([`plan`]),
//! dependency order and `depends_on` conditions, which images to pull ([`pull`]), idempotent `up` by
//! configuration hash, and `down`. It does not read compose files (`minotaur-compose` does, and depends on
//! no engine, so the loader stays testable alone) and it does not print: verbs report [`Event`]s and
//! the CLI words them.
#![forbid(unsafe_code)]

pub mod control;
pub mod down;
pub mod error;
pub mod event;
pub mod labels;
pub mod order;
pub mod plan;
pub mod project;
pub mod pull;
pub mod up;
pub mod wait;

pub use error::ComposerError;
pub use event::Event;
pub use up::{up, UpOptions};

use minotaur_engine::container::{Container, Status};
use minotaur_engine::context::Context;

use crate::error::engine;

/// Stops a container gracefully (its stop signal and grace period) and removes it, with its anonymous
/// volumes when `volumes`.
pub(crate) fn remove_container(
    ctx: &Context,
    c: &Container,
    volumes: bool,
) -> Result<(), ComposerError> {
    let name = c.name.to_string();
    if c.state.status == Status::Running {
        minotaur_engine::stop::stop(ctx, c.id.as_str(), None)
            .map_err(engine("stop container", &name))?;
    }
    minotaur_engine::remove::remove(ctx, c.id.as_str(), true, volumes)
        .map_err(engine("remove container", &name))?;
    Ok(())
}
