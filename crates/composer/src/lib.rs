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
