//! `repositories.json`: the records of images and their layers, tags, and resolving what users type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::reference::{ImageId, Reference};
use crate::store::StoreError;

/// `repositories.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Index {
    /// Keyed by image ID (`sha256:<hex>`).
    #[serde(default)]
    pub(crate) images: BTreeMap<String, ImageRecord>,
    /// `name:tag` → image ID.
    #[serde(default)]
    pub(crate) repositories: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImageRecord {
    pub(crate) created: String,
    /// Digest of the OCI manifest blob.
    pub(crate) manifest: String,
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
}

impl Index {
    pub(crate) fn tags_of(&self, id: &str) -> Vec<String> {
        self.repositories
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

pub(crate) fn resolve_in(index: &Index, s: &str) -> Result<ImageId, StoreError> {
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
