//! minotaur's registry client: a synchronous, streaming client of the OCI distribution API (registry v2).
//!
//! It owns image references and their normalisation, talking to registries (manifests, indexes and
//! platform selection, blobs streamed with resumption and digest verification, pushes), authentication
//! (Basic and Bearer tokens, Docker's `config.json` and credential helpers), and where a registry is and how
//! to reach it (`registries.conf` mirrors and blocks, `certs.d` certificates, plain HTTP for insecure and
//! loopback registries). It does not own storing what it fetches: the image store (`minotaur-image`) keeps
//! blobs and layers and the engine connects the two, so this crate never writes a blob to disk, never
//! decompresses a layer, and never depends on the image store.
#![forbid(unsafe_code)]

pub mod reference;

pub use reference::{Reference, ReferenceError, Repository};
