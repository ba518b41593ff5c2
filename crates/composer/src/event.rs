//! What the verbs report as they go (an [`Event`] per step), for the caller to print as docker compose does.

/// What `up` reports as it goes, in docker compose's words: `Network NAME Created`,
/// `Container NAME Recreated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Network {
        name: String,
        action: &'static str,
    },
    Volume {
        name: String,
        action: &'static str,
    },
    Container {
        name: String,
        action: &'static str,
    },
    Image {
        name: String,
        action: &'static str,
    },
    /// A service's image being pulled, or why it is not (`Pulling`, `Pulled`, `Skipped - …`).
    Pull {
        service: String,
        status: String,
    },
    /// A container to be recreated, and why (`--dry-run --explain`).
    Recreate {
        name: String,
        reasons: Vec<String>,
    },
    Warning(String),
}
