//! What reading and writing containers in the state store fails on (see the `store` module).

use minotaur_state::StateError;

/// Errors of the container records.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error("container reference {0:?} is ambiguous: it is the prefix of several container IDs")]
    Ambiguous(String),
    #[error("container {id} has a corrupt {what} record")]
    Corrupt {
        id: String,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}
