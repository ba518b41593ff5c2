//! What `--userns` fails on (see the `userns` module): the mode, the subordinate ID files and their ranges.

use std::path::PathBuf;

use super::store::StoreError;

/// Errors of `--userns`.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("invalid --userns {0:?} (host, auto or auto:size=N)")]
    Mode(String),
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} has no entry for user {user:?}: --userns=auto needs one")]
    NoEntry { path: PathBuf, user: &'static str },
    #[error(
        "no free range of {size} IDs in {path} for user {user:?}: other containers hold the rest"
    )]
    Exhausted {
        path: PathBuf,
        user: &'static str,
        size: u32,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}
