//! `repositories.json`: the records of images and their layers, tags, digest references, and resolving what
//! users type. Every field added since the first version has a serde default, so older files still read.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::reference::{Digest, ImageId, Reference};

/// `repositories.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Index {
    /// Keyed by image ID (`sha256:<hex>`).
    #[serde(default)]
    pub(crate) images: BTreeMap<String, ImageRecord>,
    /// `name:tag` → image ID.
    #[serde(default)]
    pub(crate) repositories: BTreeMap<String, String>,
    /// `name@sha256:<hex>` → image ID: the digest an image was pulled by or pushed as, per repository
    /// (Docker's `RepoDigests`).
    #[serde(default)]
    pub(crate) digests: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImageRecord {
    pub(crate) created: String,
    /// Digest of the image manifest blob: the one pulled, or the one made at import, load or push.
    pub(crate) manifest: String,
    /// Digest of the image index (manifest list) blob the image was pulled through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) index: Option<String>,
    /// Bottom layer first, as in the config's `rootfs.diff_ids`.
    pub(crate) layers: Vec<LayerRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerRecord {
    /// `sha256:<hex>` of the uncompressed tar; names the directory under `layers/`.
    pub(crate) diff_id: String,
    /// `sha256:<hex>` of the tarball as stored under `blobs/`.
    pub(crate) blob: String,
    pub(crate) media_type: String,
    /// Bytes of file content.
    pub(crate) size: u64,
    /// Bytes of the stored blob (0 in records written before it was kept).
    #[serde(default)]
    pub(crate) blob_size: u64,
}

impl ImageRecord {
    /// Every blob the image needs: config (`id`), manifest, index, layer blobs.
    pub(crate) fn blobs<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a str> {
        [id, self.manifest.as_str()]
            .into_iter()
            .chain(self.index.as_deref())
            .chain(self.layers.iter().map(|l| l.blob.as_str()))
    }
}

/// `name@sha256:<hex>` for the repository of `name` (normalised as a [`Reference`] normalises it).
pub(crate) fn digest_reference(name: &str, digest: &Digest) -> Result<String, StoreError> {
    let r: Reference = name.parse()?;
    Ok(format!("{}@{digest}", r.name()))
}

impl Index {
    pub(crate) fn tags_of(&self, id: &str) -> Vec<String> {
        self.repositories
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The image's `name@sha256:<hex>` references.
    pub(crate) fn digests_of(&self, id: &str) -> Vec<String> {
        self.digests
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Removes the image and its digest references (its tags are the caller's to remove first).
    pub(crate) fn remove_image(&mut self, id: &str) -> Option<ImageRecord> {
        self.digests.retain(|_, v| v != id);
        self.images.remove(id)
    }

    /// Every blob digest and every diff ID some image references.
    pub(crate) fn referenced(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        for (id, rec) in &self.images {
            blobs.extend(rec.blobs(id).map(str::to_string));
            layers.extend(rec.layers.iter().map(|l| l.diff_id.clone()));
        }
        (blobs, layers)
    }
}

/// Finds an image by `name[:tag]`, `name@sha256:<hex>` (a digest it was pulled by or pushed as), full ID or
/// unique ID prefix.
pub(crate) fn resolve_in(index: &Index, s: &str) -> Result<ImageId, StoreError> {
    if let Some((name, digest)) = s.split_once('@') {
        if let (Ok(d), Ok(r)) = (digest.parse::<Digest>(), name.parse::<Reference>()) {
            if let Some(id) = index.digests.get(&format!("{}@{d}", r.name())) {
                return Ok(id.parse()?);
            }
        }
        return Err(StoreError::NotFound(s.to_string()));
    }
    if let Ok(r) = s.parse::<Reference>() {
        if let Some(id) = index.repositories.get(&r.to_string()) {
            return Ok(id.parse()?);
        }
    }
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        let hex = hex.to_ascii_lowercase();
        let mut hits = index
            .images
            .keys()
            .filter(|k| k["sha256:".len()..].starts_with(&hex));
        match (hits.next(), hits.next()) {
            (Some(id), None) => return Ok(id.parse()?),
            (Some(_), Some(_)) => return Err(StoreError::Ambiguous(s.to_string())),
            _ => {}
        }
    }
    Err(StoreError::NotFound(s.to_string()))
}
