//! Images from and to registries: `pull` (and the pull a `run` or `create` makes first), `push`, `login` and
//! `logout`. They connect the registry client (`minotaur-registry`: references, manifests, blobs, credentials,
//! registries.conf, certs.d) with the image store (`minotaur-image`: ingesting layers, committing pulled images,
//! what a push sends), neither of which knows the other.
//!
//! Where the registry configuration comes from is [`RegistryOptions`]: registries.conf and the `certs.d`
//! directories at their system paths unless the CLI names others, and Docker's `config.json` for credentials
//! (`$DOCKER_CONFIG/config.json`, otherwise `~/.docker/config.json`). What happens as it goes is told to a
//! [`progress::Progress`], which the CLI implements (bars, plain lines, JSON).

pub mod login;
pub mod progress;
pub mod pull;
pub mod push;

use std::path::PathBuf;

use minotaur_registry::config::ConfigError;
use minotaur_registry::{Client, DockerConfig, RegistriesConf, RegistriesError};

/// How many layers a pull downloads at once unless told otherwise (Docker's default).
pub const MAX_CONCURRENT_DOWNLOADS: usize = 3;

/// The size of a push's upload chunks unless told otherwise: a blob bigger than this goes in chunks of it,
/// each resumable on its own; a smaller one in a single request.
pub const PUSH_CHUNK_SIZE: u64 = 32 << 20;

/// Why the registry configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Registries(#[from] RegistriesError),
    #[error(transparent)]
    DockerConfig(#[from] ConfigError),
}

/// Where the registry configuration is read from; the defaults are the system's.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// The registries.conf to read; `None`: `/etc/minotaur/registries.conf`, otherwise
    /// `/etc/containers/registries.conf`.
    pub registries_conf: Option<PathBuf>,
    /// The `certs.d` directories (`HOST:PORT/ca.crt`, `client.cert`, `client.key`); empty:
    /// `/etc/containers/certs.d` and `/etc/docker/certs.d`.
    pub certs_dirs: Vec<PathBuf>,
    /// How many layers a pull downloads at once (at least 1).
    pub max_concurrent_downloads: usize,
    /// A push uploads a blob bigger than this in chunks of this size (at least 1), a smaller one whole.
    pub push_chunk_size: u64,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            registries_conf: None,
            certs_dirs: Vec::new(),
            max_concurrent_downloads: MAX_CONCURRENT_DOWNLOADS,
            push_chunk_size: PUSH_CHUNK_SIZE,
        }
    }
}

impl RegistryOptions {
    /// A registry client with this configuration and the credentials of Docker's `config.json` (none when
    /// neither `DOCKER_CONFIG` nor `HOME` says where it is).
    pub fn client(&self) -> Result<Client, SetupError> {
        let registries = match &self.registries_conf {
            Some(path) => RegistriesConf::load_first(std::slice::from_ref(path))?,
            None => RegistriesConf::load_default()?,
        };
        let mut builder = Client::builder().registries(registries);
        if !self.certs_dirs.is_empty() {
            builder = builder.certs_dirs(self.certs_dirs.clone());
        }
        match DockerConfig::load_default() {
            Ok(config) => builder = builder.credentials(config),
            Err(ConfigError::NoHome) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(builder.build())
    }
}
