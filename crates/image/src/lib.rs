//! minotaur's image store: content-addressed blobs, safely extracted layers ready to be overlayfs lower
//! directories, and the index of images and their `name:tag` references, all under `<root>/image/`.
//!
//! It owns importing root-filesystem tarballs (`docker import`), loading and saving image archives (`docker
//! load`/`docker save`, OCI layouts), the store's side of registry pulls and pushes (streaming, resumable,
//! verified layer ingest; registering pulled images with their digests; what a push sends), tagging,
//! listing, inspecting, history, pruning and removing images, and extracting untrusted layers without
//! letting them write outside their directory. It does not own containers (their overlayfs upper layers,
//! mounts and the check that no container uses an image are the engine's and the runtime's), the built-in
//! `host` image (the host's own filesystem, handled by the runtime), registries and HTTP (the registry
//! client hands it readers of blobs), or the CLI.
//!
//! # Layout
//!
//! ```text
//! <root>/image/
//!   lock                      flock(2)ed exclusively by every change to what is below
//!   repositories.json         the index: images (config digest → created, manifest, index, layers), tags
//!                             (name:tag → image ID) and digest references (name@sha256:… → image ID);
//!                             replaced whole by an atomic rename, never edited in place
//!   blobs/sha256/<hex>        content-addressed blobs: layer tarballs exactly as given or fetched (plain, gzip
//!                             or zstd), image config JSON (its digest is the image ID), image manifests and
//!                             indexes (as pulled, or made at import/load/push)
//!   layers/<diff-id-hex>/     a layer extracted (whiteouts as overlayfs reads them), keyed by the sha256 of its
//!                             uncompressed tar; these are the overlayfs lowerdirs
//!   tmp/                      work space: imports and ingests extract here, then rename into place
//!   tmp/partial/<hex>         the part of blob sha256:<hex> fetched so far; resumed by the next ingest
//!   tmp/locks/<hex>           flock(2)ed exclusively while a process fetches blob sha256:<hex>
//!   tmp/locks/<hex>.pin       flock(2)ed shared while a pull or push needs blob or layer <hex> to stay
//! ```
//!
//! # Concurrency
//!
//! Many short-lived CLI processes share the store and there is no daemon. Readers never lock: they read
//! `repositories.json`, which always is some complete version because writers replace it with `rename(2)`.
//! Writers take an exclusive `flock` on `lock`, read the index, change it, write `repositories.json.new`,
//! `fsync` it and rename it over the old one. An import does the slow part — hashing, storing the blob,
//! extracting the layer into a temporary directory under `tmp/` — without the lock, and takes it only to
//! rename the layer and blobs into place and register the image; removal of unreferenced layers happens
//! under the same lock, so a layer is never deleted between being published and being registered. A crash
//! leaves at worst a directory in `tmp/` (never a half layer under its final name) or an unreferenced blob.
//!
//! A pull ingests its layers one by one before it registers the image, so between the two its layers are in
//! place but unreferenced. It pins them (a shared lock per digest, see `lock.rs`), and `rmi` and `prune`
//! remove nothing pinned. Two pulls of the same blob take turns on its fetch lock: the second finds the
//! layer in place when the first is done.
//!
//! Why a JSON file and not the SQLite database of `minotaur-state`: the index is small, changes only on
//! import/pull/tag/rmi, and its truth is tied to files (blobs, layer directories) that must be renamed in the
//! same critical section; a lock file and an atomic rename cover that without a schema, and the file is
//! readable with `jq` like Docker's own `repositories.json`.

#![forbid(unsafe_code)]

mod archive;
pub mod change;
mod error;
pub mod extract;
mod filter;
mod housekeeping;
mod import;
mod index;
mod ingest;
mod layer;
mod listing;
mod lock;
mod pull;
mod push;
mod readahead;
mod reference;
mod space;
mod store;
mod time;

pub use archive::{ArchiveError, Loaded};
pub use error::StoreError;
pub use extract::Options as ExtractOptions;
pub use filter::{ImageFilter, ImageFilterError};
pub use housekeeping::{HistoryEntry, Pruned, Unused};
pub use import::ImportOptions;
pub use ingest::{IngestError, IngestedLayer, LayerDesc, Outcome, Progress};
pub use listing::ImageSummary;
pub use lock::Pin;
pub use pull::{PullError, Pulled};
pub use push::{PushArtifacts, PushBlob, PushError};
pub use reference::{Digest, ImageId, Reference, ReferenceError};
pub use space::{human_size, SpaceError, EXPANSION};
pub use store::{ImageInspect, Reclaimed, Removed, RootFs, Store};
