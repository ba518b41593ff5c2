//! What the `events` verb's arguments fail on (see the `events` module).

/// Errors of the `events` verb's arguments.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("invalid filter {0:?}: expected KEY=VALUE")]
    BadFilter(String),
    #[error(
        "invalid filter {0:?}: the key must be one of container, event, image, label, network, type"
    )]
    UnknownFilter(String),
    #[error(
        "invalid time {0:?}: expected a timestamp (2006-01-02T15:04:05Z), Unix seconds, or a duration (10m)"
    )]
    BadTime(String),
}
