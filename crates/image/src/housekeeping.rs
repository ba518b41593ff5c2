//! `history` and `image prune`.

use std::collections::HashSet;
use std::fs;

use serde::Serialize;

use crate::error::StoreError;
use crate::index::resolve_in;
use crate::reference::ImageId;
use crate::store::{Garbage, Reclaimed, Removed, Store};
use crate::time::parse_rfc3339;

/// One line of `history`, newest first, with Docker's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// The image ID on the top line; `None` (Docker's `<missing>`) below it.
    pub id: Option<ImageId>,
    /// RFC 3339, as in the image config ("" when unknown).
    pub created: String,
    /// Seconds since the epoch of `created` (0 when unparsable).
    pub created_unix: i64,
    /// CREATED BY.
    pub created_by: String,
    /// Bytes of file content the step's layer added (0 for an empty layer).
    pub size: u64,
    pub comment: String,
    /// The step made no layer (`ENV`, `CMD`…).
    pub empty_layer: bool,
}

/// What `image prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Untagged references and deleted images, as `rmi` reports them.
    pub images: Vec<Removed>,
    /// Blobs and layers removed, and the space they took.
    pub reclaimed: Reclaimed,
}

/// Blobs and layers no image references and no pull or push has pinned (see [`Store::unused`]), as
/// `sha256:<hex>` digests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unused {
    pub blobs: Vec<String>,
    pub layers: Vec<String>,
}

impl Store {
    /// What the index `index` does not reference: blob and layer digests.
    fn garbage(&self, index: &crate::index::Index) -> Result<Garbage, StoreError> {
        let (blobs, layers) = index.referenced();
        let mut garbage = Garbage::default();
        let listed = |dir: &std::path::Path| -> Result<Vec<String>, StoreError> {
            let rd = match fs::read_dir(dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(crate::error::io_err("list", dir)(e)),
            };
            Ok(rd
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .map(|hex| format!("sha256:{hex}"))
                .collect())
        };
        garbage.blobs = listed(&self.dir().join("blobs/sha256"))?
            .into_iter()
            .filter(|b| !blobs.contains(b))
            .collect();
        garbage.layers = listed(&self.dir().join("layers"))?
            .into_iter()
            .filter(|l| !layers.contains(l))
            .collect();
        Ok(garbage)
    }

    /// Blobs and layers that no image references and that no pull or push has pinned: what a pull that
    /// died between ingesting its layers and registering the image leaves (`system check`). Read under the
    /// store's lock, so an import or a pull registering its image is never caught half-way.
    pub fn unused(&self) -> Result<Unused, StoreError> {
        let _lock = self.lock()?;
        let garbage = self.garbage(&self.read_index()?)?;
        // Tried without making a pin file where there is none (nobody pins it then).
        let unpinned = |d: &String| {
            let hex = d.strip_prefix("sha256:").unwrap_or(d);
            let pin = self.dir().join("tmp/locks").join(format!("{hex}.pin"));
            !pin.exists() || matches!(self.claim(hex), Ok(Some(_)))
        };
        Ok(Unused {
            blobs: garbage.blobs.into_iter().filter(unpinned).collect(),
            layers: garbage.layers.into_iter().filter(unpinned).collect(),
        })
    }

    /// Removes the blobs and layers of `unused` that are still unreferenced and unpinned.
    pub fn remove_unused(&self, unused: &Unused) -> Result<Reclaimed, StoreError> {
        let lock = self.lock()?;
        let mut garbage = self.garbage(&self.read_index()?)?;
        garbage.blobs.retain(|b| unused.blobs.contains(b));
        garbage.layers.retain(|l| unused.layers.contains(l));
        Ok(self.remove_garbage(&lock, garbage))
    }

    /// `history`: the steps that built the image `s` (a reference or ID), newest first, from its config's
    /// history (one line per layer when it has none).
    pub fn history(&self, s: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let index = self.read_index()?;
        let id = resolve_in(&index, s)?;
        let rec = &index.images[&id.to_string()];
        let config = self.config(&id)?;
        let mut sizes = rec.layers.iter().map(|l| l.size);
        let mut out: Vec<HistoryEntry> = match config.history() {
            Some(h) if !h.is_empty() => h
                .iter()
                .map(|h| {
                    let empty = h.empty_layer().unwrap_or(false);
                    let created = h.created().clone().unwrap_or_default();
                    HistoryEntry {
                        id: None,
                        created_unix: parse_rfc3339(&created).unwrap_or(0),
                        created,
                        created_by: h.created_by().clone().unwrap_or_default(),
                        size: if empty { 0 } else { sizes.next().unwrap_or(0) },
                        comment: h.comment().clone().unwrap_or_default(),
                        empty_layer: empty,
                    }
                })
                .collect(),
            _ => sizes
                .map(|size| HistoryEntry {
                    id: None,
                    created: rec.created.clone(),
                    created_unix: parse_rfc3339(&rec.created).unwrap_or(0),
                    created_by: String::new(),
                    size,
                    comment: String::new(),
                    empty_layer: false,
                })
                .collect(),
        };
        out.reverse();
        if let Some(top) = out.first_mut() {
            top.id = Some(id);
        }
        Ok(out)
    }

    /// `image prune`: removes dangling (untagged) images, or with `all` every image, except those in
    /// `in_use` (the engine's: images containers were created from); then every blob and layer no image
    /// references, except what a pull or push has pinned.
    pub fn prune(&self, all: bool, in_use: &HashSet<ImageId>) -> Result<Pruned, StoreError> {
        let lock = self.lock()?;
        let mut index = self.read_index()?;
        let mut done = Pruned::default();
        let doomed: Vec<String> = index
            .images
            .keys()
            .filter(|id| id.parse().is_ok_and(|i: ImageId| !in_use.contains(&i)))
            .filter(|id| all || index.tags_of(id).is_empty())
            .cloned()
            .collect();
        for id in doomed {
            for t in index.tags_of(&id) {
                index.repositories.remove(&t);
                done.images.push(Removed::Untagged(t.parse()?));
            }
            for d in index.digests_of(&id) {
                done.images.push(Removed::UntaggedDigest(d));
            }
            index.remove_image(&id);
            done.images.push(Removed::Deleted(id.parse()?));
        }
        if !done.images.is_empty() {
            self.write_index(&lock, &index)?;
        }
        let garbage = self.garbage(&index)?;
        done.reclaimed = self.remove_garbage(&lock, garbage);
        Ok(done)
    }
}
