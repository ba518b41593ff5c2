//! `login` and `logout`: credentials in Docker's `config.json` (or its credential helpers), checked against
//! the registry before they are saved.

use minotaur_registry::config::ConfigError;
use minotaur_registry::{ClientError, Credentials, DockerConfig};

use super::{RegistryOptions, SetupError};

/// Docker Hub, the registry `login` and `logout` mean when none is named.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// Why a login or logout failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("invalid registry {0:?}")]
    BadRegistry(String),
    #[error("a username and a password are needed to log in to {0}")]
    Missing(String),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Registry(#[from] ClientError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The registry as references name it: `docker.io` for Docker Hub under any of its names, otherwise the host
/// and port of a server address (`https://registry:5000/` is `registry:5000`).
pub fn registry_name(server: Option<&str>) -> Result<String, LoginError> {
    let Some(server) = server else {
        return Ok(DEFAULT_REGISTRY.to_owned());
    };
    let bare = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = bare.split('/').next().unwrap_or_default();
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        return Err(LoginError::BadRegistry(server.to_owned()));
    }
    Ok(match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DEFAULT_REGISTRY.to_owned()
        }
        h => h.to_ascii_lowercase(),
    })
}

/// Checks `credentials` against `registry` and saves them in Docker's configuration. Returns where they
/// were saved (the configuration file; a credential helper when one is configured for the registry).
pub fn login(
    registry: &RegistryOptions,
    server: &str,
    credentials: &Credentials,
) -> Result<String, LoginError> {
    if credentials.username.is_empty() || credentials.password.is_empty() {
        return Err(LoginError::Missing(server.to_owned()));
    }
    let client = registry.client()?;
    client.check_login(server, credentials)?;
    let mut config = DockerConfig::load_default()?;
    config.store(server, credentials)?;
    Ok(config.path().display().to_string())
}

/// Forgets the credentials for `server`. Returns whether there were any.
pub fn logout(server: &str) -> Result<bool, LoginError> {
    let mut config = DockerConfig::load_default()?;
    Ok(config.erase(server)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_named_as_references_name_them() {
        assert_eq!(registry_name(None).unwrap(), "docker.io");
        for hub in [
            "https://index.docker.io/v1/",
            "index.docker.io",
            "registry-1.docker.io",
        ] {
            assert_eq!(registry_name(Some(hub)).unwrap(), "docker.io", "{hub}");
        }
        assert_eq!(
            registry_name(Some("https://Registry.internal:5000/")).unwrap(),
            "registry.internal:5000"
        );
        assert_eq!(
            registry_name(Some("127.0.0.1:5000")).unwrap(),
            "127.0.0.1:5000"
        );
        assert!(registry_name(Some("")).is_err());
        assert!(registry_name(Some("bad host")).is_err());
    }
}
