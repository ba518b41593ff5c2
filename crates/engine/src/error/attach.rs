//! What attaching to a container fails on (see the `attach` module).

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("you cannot attach to a stopped container {0}, start it first")]
    Stopped(String),
    #[error("cannot attach to container {name}: no attach socket at {path} (its supervisor predates attach)")]
    NoChannel {
        name: String,
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the supervisor of container {0} went away without reporting an exit status")]
    Lost(String),
    #[error("invalid detach keys {keys:?}: {why}")]
    DetachKeys { keys: String, why: String },
    #[error("cannot relay the container's streams")]
    Io(#[source] io::Error),
}
