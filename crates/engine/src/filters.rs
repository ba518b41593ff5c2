//! The `--filter KEY=VALUE` expressions of `ps` and `network ls`, parsed once into types (as
//! `volume::Filter` and `system::prune::Filter` are): a bad one is refused before anything is listed, with
//! or without anything to filter, and the parsers can be tested alone.

use std::str::FromStr;

use crate::container::{Container, ListedConfig, Status};
use crate::network::{Network, BUILTIN};

/// Why a `--filter` expression was refused.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter {0:?}: expected KEY=VALUE")]
    NotKeyValue(String),
    #[error("invalid filter health={0:?}: expected starting, healthy, unhealthy or none")]
    Health(String),
    #[error("invalid filter type={0:?}: expected custom or builtin")]
    NetworkType(String),
    #[error("invalid filter {key:?}: expected {expected}")]
    Key { key: String, expected: &'static str },
}

fn key_value(s: &str) -> Result<(&str, &str), FilterError> {
    s.split_once('=')
        .ok_or_else(|| FilterError::NotKeyValue(s.to_owned()))
}

/// `label=KEY` or `label=KEY=VALUE`.
fn label(v: &str) -> (String, Option<String>) {
    match v.split_once('=') {
        Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
        None => (v.to_owned(), None),
    }
}

fn has_label(
    labels: &std::collections::BTreeMap<String, String>,
    key: &str,
    value: Option<&str>,
) -> bool {
    match value {
        Some(v) => labels.get(key).is_some_and(|x| x == v),
        None => labels.contains_key(key),
    }
}

/// One `ps --filter`: Docker's `id` (a prefix), `name` (a part), `status`, `label`, `ancestor` and
/// `health`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerFilter {
    Id(String),
    Name(String),
    Status(String),
    Label(String, Option<String>),
    Ancestor(String),
    /// `starting`, `healthy`, `unhealthy` or `none` (no healthcheck).
    Health(String),
}

impl FromStr for ContainerFilter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<ContainerFilter, FilterError> {
        let (k, v) = key_value(s)?;
        Ok(match k {
            "id" => ContainerFilter::Id(v.to_owned()),
            "name" => ContainerFilter::Name(v.to_owned()),
            "status" => ContainerFilter::Status(v.to_owned()),
            "ancestor" => ContainerFilter::Ancestor(v.to_owned()),
            "label" => {
                let (k, v) = label(v);
                ContainerFilter::Label(k, v)
            }
            "health" if ["starting", "healthy", "unhealthy", "none"].contains(&v) => {
                ContainerFilter::Health(v.to_owned())
            }
            "health" => return Err(FilterError::Health(v.to_owned())),
            _ => {
                return Err(FilterError::Key {
                    key: k.to_owned(),
                    expected: "id, name, status, label, ancestor or health",
                })
            }
        })
    }
}

impl ContainerFilter {
    /// Whether the container passes, `live` being its status as `ps` shows it.
    pub fn matches(&self, c: &Container<ListedConfig>, live: Status) -> bool {
        match self {
            ContainerFilter::Id(v) => c.id.as_str().starts_with(v.as_str()),
            ContainerFilter::Name(v) => c.name.as_str().contains(v.as_str()),
            ContainerFilter::Status(v) => live.as_str() == v,
            ContainerFilter::Ancestor(v) => {
                c.config.image == *v || c.config.image_id.contains(v.as_str())
            }
            ContainerFilter::Label(k, v) => has_label(&c.config.labels, k, v.as_deref()),
            ContainerFilter::Health(v) => {
                let checked = c.config.healthcheck.as_ref().is_some_and(|h| h.runs());
                let health = match &c.state.health {
                    Some(h) if checked => h.status.as_str(),
                    _ => "none",
                };
                health == v
            }
        }
    }
}

/// One `network ls --filter`: Docker's `name` (a part), `id` (a prefix), `driver`, `label` and `type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkFilter {
    Name(String),
    Id(String),
    Driver(String),
    Label(String, Option<String>),
    /// `builtin` (true: the networks every engine has) or `custom`.
    Builtin(bool),
}

impl FromStr for NetworkFilter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<NetworkFilter, FilterError> {
        let (k, v) = key_value(s)?;
        Ok(match k {
            "name" => NetworkFilter::Name(v.to_owned()),
            "id" => NetworkFilter::Id(v.to_owned()),
            "driver" => NetworkFilter::Driver(v.to_owned()),
            "label" => {
                let (k, v) = label(v);
                NetworkFilter::Label(k, v)
            }
            "type" => match v {
                "builtin" => NetworkFilter::Builtin(true),
                "custom" => NetworkFilter::Builtin(false),
                _ => return Err(FilterError::NetworkType(v.to_owned())),
            },
            _ => {
                return Err(FilterError::Key {
                    key: k.to_owned(),
                    expected: "name, id, driver, label or type",
                })
            }
        })
    }
}

impl NetworkFilter {
    pub fn matches(&self, n: &Network) -> bool {
        match self {
            NetworkFilter::Name(v) => n.name.contains(v.as_str()),
            NetworkFilter::Id(v) => n.id.starts_with(v.as_str()),
            NetworkFilter::Driver(v) => n.driver == *v,
            NetworkFilter::Label(k, v) => has_label(&n.labels, k, v.as_deref()),
            NetworkFilter::Builtin(b) => {
                *b == (BUILTIN.contains(&n.name.as_str()) || n.name == "bridge")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_docker_spells_them() {
        assert_eq!(
            "label=a=b=c".parse::<ContainerFilter>().unwrap(),
            ContainerFilter::Label("a".into(), Some("b=c".into()))
        );
        assert_eq!(
            "name=".parse::<NetworkFilter>().unwrap(),
            NetworkFilter::Name(String::new())
        );
        assert_eq!(
            "health=great"
                .parse::<ContainerFilter>()
                .unwrap_err()
                .to_string(),
            "invalid filter health=\"great\": expected starting, healthy, unhealthy or none"
        );
        assert_eq!(
            "type=x".parse::<NetworkFilter>().unwrap_err().to_string(),
            "invalid filter type=\"x\": expected custom or builtin"
        );
        for bad in ["nokey", "", "colour=red", "=x"] {
            assert!(bad.parse::<ContainerFilter>().is_err(), "{bad:?}");
            assert!(bad.parse::<NetworkFilter>().is_err(), "{bad:?}");
        }
    }
}
