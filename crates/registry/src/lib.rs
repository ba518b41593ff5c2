//! minotaur's registry client: a synchronous, streaming client of the OCI distribution API (registry v2).
//!
//! It owns image references and their normalisation, talking to registries (manifests, indexes and
//! platform selection, blobs streamed with resumption and digest verification, pushes), authentication
//! (Basic and Bearer tokens, Docker's `config.json` and credential helpers), and where a registry is and how to reach it (`registries.conf` mirrors and
//! blocks, `certs.d` certificates, plain HTTP for insecure and loopback registries). It does not own storing
//! what it fetches: the image store (`minotaur-image`) keeps blobs and layers and the engine connects the
//! two, so this crate never writes a blob to disk, never decompresses a layer, and never depends on the
//! image store.
//!
//! ```no_run
//! use minotaur_registry::{Client, Platform, Reference};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder().build();
//! let reference: Reference = "localhost:5000/app:1".parse()?;
//! let resolved = client.resolve(&reference, &Platform::host())?;
//! for layer in resolved.manifest.layers() {
//!     let mut blob = client.blob(reference.repository(), layer)?;
//!     std::io::copy(&mut blob, &mut std::io::sink())?; // verified at the end
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod auth;
pub mod blob;
pub mod client;
pub mod config;
pub mod platform;
pub mod push;
pub mod reference;
pub mod registries;
pub mod tls;
mod transport;

pub use auth::{Anonymous, CredentialSource, Credentials};
pub use blob::{BlobError, BlobReader};
pub use client::{Client, ClientBuilder, ClientError, Resolved};
pub use config::{ConfigError, DockerConfig};
pub use platform::{Platform, PlatformError};
pub use push::{PushError, Upload};
pub use reference::{Reference, ReferenceError, Repository};
pub use registries::{RegistriesConf, RegistriesError};
pub use transport::{RetryPolicy, TransportError};
