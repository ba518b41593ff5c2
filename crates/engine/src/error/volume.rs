//! What volumes (the `volume` module) fail on: unknown and in-use volumes, bad names, filters and mount points,
//! and the store and file errors below.

use std::io;
use std::path::PathBuf;

use minotaur_state::StateError;

use crate::parse::ParseError;

/// Errors of volumes.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("no such volume: {0}")]
    NotFound(String),
    #[error("volume {name} is in use by container {}", containers.join(", "))]
    InUse {
        name: String,
        containers: Vec<String>,
    },
    #[error("duplicate mount point {0}")]
    DuplicateMountPoint(PathBuf),
    #[error(
        "invalid filter {0:?}: expected dangling=true|false, name=, driver= or label=KEY[=VALUE]"
    )]
    Filter(String),
    #[error("volume driver {0:?} is not supported (only local)")]
    Driver(String),
    #[error(transparent)]
    Name(#[from] ParseError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot {what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

pub(crate) fn io_err(what: String) -> impl FnOnce(io::Error) -> VolumeError {
    move |source| VolumeError::Io { what, source }
}
