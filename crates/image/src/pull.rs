//! Registering an image pulled from a registry, once its layers are in the store (see `ingest.rs`).
//!
//! The manifest, the config and the index it was chosen from are stored exactly as fetched, and so are the
//! layer blobs, so that `save` and a later `push` send the same bytes and a re-pull by digest finds it. The
//! image is tagged, and the digest it was pulled by is recorded as `name@sha256:<hex>` (Docker's
//! `RepoDigests`): the index's digest when it came through one, else the manifest's.
//!
//! A pull that fails after some of its layers were ingested gives them back with
//! [`Store::discard_ingested`], so that a failed pull leaves no layer behind.

use std::fs;
use std::time::SystemTime;

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};

use crate::error::{io_err, StoreError};
use crate::index::{digest_reference, ImageRecord, LayerRecord};
use crate::ingest::{IngestedLayer, Outcome};
use crate::reference::{Digest, ImageId, Reference};
use crate::store::{Garbage, Reclaimed, Store};
use crate::time::rfc3339;

/// Why a pulled image could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("the manifest of {0} is not a valid image manifest")]
    Manifest(String, #[source] oci_spec::OciSpecError),
    #[error("the image index of {0} is not valid")]
    Index(String, #[source] oci_spec::OciSpecError),
    #[error("the config of {0} is not a valid image config")]
    Config(String, #[source] serde_json::Error),
    #[error("the image index of {name} does not list manifest {manifest}")]
    NotInIndex { name: String, manifest: Digest },
    #[error("config blob of {name} has digest {actual}, but its manifest says {expected}")]
    ConfigDigest {
        name: String,
        expected: String,
        actual: Digest,
    },
    #[error("the manifest of {name} lists {expected} layers, but {actual} were ingested")]
    LayerCount {
        name: String,
        expected: usize,
        actual: usize,
    },
    #[error("layer {index} of {name} is {actual} in the manifest, but {expected} was ingested")]
    LayerDigest {
        name: String,
        index: usize,
        expected: Digest,
        actual: String,
    },
    #[error("layer {index} of {name} has diff ID {actual}, but its config says {expected}")]
    DiffId {
        name: String,
        index: usize,
        expected: String,
        actual: Digest,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An image fetched from a registry, ready to be registered.
#[derive(Debug, Clone, Copy)]
pub struct Pulled<'a> {
    /// The repository it came from (`busybox`, `registry:5000/team/app`), as a user may type it.
    pub repository: &'a str,
    /// The tag to give it; `None` when it was pulled by digest (as with Docker, it then gets no tag).
    pub tag: Option<&'a str>,
    /// The image manifest, exactly as fetched.
    pub manifest: &'a [u8],
    /// The image index (manifest list) the manifest was chosen from, exactly as fetched, if any.
    pub index: Option<&'a [u8]>,
    /// The image config, exactly as fetched.
    pub config: &'a [u8],
    /// The layers, bottom first, as [`Store::ingest_layer`] returned them (they stay pinned meanwhile).
    pub layers: &'a [IngestedLayer],
}

impl Store {
    /// Registers a pulled image: checks that manifest, index, config and layers agree, stores the manifest,
    /// config and index blobs as given, records the image, tags it and records the digest it was pulled by.
    /// Returns the image ID.
    pub fn commit_pulled(&self, pulled: &Pulled<'_>) -> Result<ImageId, PullError> {
        let name = pulled.repository.to_string();
        let reference = match pulled.tag {
            Some(tag) => Some(
                format!("{}:{tag}", pulled.repository)
                    .parse::<Reference>()
                    .map_err(StoreError::from)?,
            ),
            None => None,
        };
        let manifest = ImageManifest::from_reader(pulled.manifest)
            .map_err(|e| PullError::Manifest(name.clone(), e))?;
        let manifest_digest = Digest::of(pulled.manifest);
        let index_digest = match pulled.index {
            Some(bytes) => {
                let index = ImageIndex::from_reader(bytes)
                    .map_err(|e| PullError::Index(name.clone(), e))?;
                let listed = index
                    .manifests()
                    .iter()
                    .any(|d| d.digest().to_string() == manifest_digest.to_string());
                if !listed {
                    return Err(PullError::NotInIndex {
                        name,
                        manifest: manifest_digest,
                    });
                }
                Some(Digest::of(bytes))
            }
            None => None,
        };
        let id = Digest::of(pulled.config);
        let expected = manifest.config().digest().to_string();
        if expected != id.to_string() {
            return Err(PullError::ConfigDigest {
                name,
                expected,
                actual: id,
            });
        }
        let config: ImageConfiguration = serde_json::from_slice(pulled.config)
            .map_err(|e| PullError::Config(name.clone(), e))?;
        let diff_ids = config.rootfs().diff_ids();
        let layers = manifest.layers();
        for (expected, actual) in [
            (layers.len(), pulled.layers.len()),
            (diff_ids.len(), pulled.layers.len()),
        ] {
            if expected != actual {
                return Err(PullError::LayerCount {
                    name,
                    expected,
                    actual,
                });
            }
        }
        let mut records = Vec::new();
        for (i, ((d, diff_id), l)) in layers.iter().zip(diff_ids).zip(pulled.layers).enumerate() {
            if d.digest().to_string() != l.desc.digest.to_string() {
                return Err(PullError::LayerDigest {
                    name,
                    index: i,
                    expected: l.desc.digest.clone(),
                    actual: d.digest().to_string(),
                });
            }
            if *diff_id != l.desc.diff_id.to_string() {
                return Err(PullError::DiffId {
                    name,
                    index: i,
                    expected: diff_id.clone(),
                    actual: l.desc.diff_id.clone(),
                });
            }
            records.push(LayerRecord {
                diff_id: l.desc.diff_id.to_string(),
                blob: l.desc.digest.to_string(),
                media_type: d.media_type().to_string(),
                size: l.unpacked_size,
                blob_size: d.size(),
            });
        }

        let work = self.work_dir("pull-")?;
        let mut blobs = vec![(pulled.config, &id), (pulled.manifest, &manifest_digest)];
        if let (Some(bytes), Some(d)) = (pulled.index, &index_digest) {
            blobs.push((bytes, d));
        }
        let mut staged = Vec::new();
        for (bytes, digest) in blobs {
            let p = work.path().join(digest.hex());
            fs::write(&p, bytes).map_err(io_err("write", &p))?;
            staged.push((p, digest));
        }
        let pulled_by = digest_reference(
            pulled.repository,
            index_digest.as_ref().unwrap_or(&manifest_digest),
        )?;

        let lock = self.lock()?;
        let mut index = self.read_index()?;
        for (from, digest) in &staged {
            let to = self.blob_path(digest.hex());
            fs::rename(from, &to).map_err(io_err("store blob", &to))?;
        }
        // The ingested layers are pinned, so they are still here; check anyway rather than record a hole.
        for l in pulled.layers {
            for p in [
                self.blob_path(l.desc.digest.hex()),
                self.layer_path(l.desc.diff_id.hex()),
            ] {
                if !p.exists() {
                    return Err(StoreError::MissingLayer(p).into());
                }
            }
        }
        let created = config
            .created()
            .clone()
            .unwrap_or_else(|| rfc3339(SystemTime::now()));
        index.images.insert(
            id.to_string(),
            ImageRecord {
                created,
                manifest: manifest_digest.to_string(),
                index: index_digest.map(|d| d.to_string()),
                layers: records,
            },
        );
        if let Some(r) = reference {
            index.repositories.insert(r.to_string(), id.to_string());
        }
        index.digests.insert(pulled_by, id.to_string());
        self.write_index(&lock, &index)?;
        Ok(id)
    }

    /// Gives back the layers of a pull that failed before [`Store::commit_pulled`]: the blobs and extracted
    /// layers it brought in (not those it found in place) are removed unless an image references them or
    /// another pull or push has pinned them meanwhile. Returns what was removed.
    pub fn discard_ingested(&self, layers: Vec<IngestedLayer>) -> Result<Reclaimed, StoreError> {
        let mut garbage = Garbage::default();
        for l in layers.into_iter().filter(|l| l.outcome != Outcome::Present) {
            garbage.blobs.push(l.desc.digest.to_string());
            garbage.layers.push(l.desc.diff_id.to_string());
            // Dropping it releases this pull's pin, so that only someone else's keeps it.
        }
        let lock = self.lock()?;
        let (blobs, layers) = self.read_index()?.referenced();
        garbage.blobs.retain(|b| !blobs.contains(b));
        garbage.layers.retain(|l| !layers.contains(l));
        Ok(self.remove_garbage(&lock, garbage))
    }
}
