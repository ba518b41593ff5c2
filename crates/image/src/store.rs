//! The store under `<root>/image/` (layout and locking are described in the crate documentation).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::ImageConfiguration;
use serde::Serialize;

use crate::error::{io_err, StoreError};
use crate::filter::ImageFilter;
use crate::index::{resolve_in, Index};
use crate::listing::ImageSummary;
use crate::reference::{Digest, ImageId, Reference};
use crate::time::{parse_rfc3339, parse_rfc3339_nanos};

const INDEX: &str = "repositories.json";

/// What `rmi` did, in order, as Docker prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Untagged(Reference),
    /// A `name@sha256:<hex>` reference went with its image.
    UntaggedDigest(String),
    Deleted(ImageId),
}

/// `image inspect` output, with Docker's field names.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub author: String,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    pub size: u64,
    pub config: Option<oci_spec::image::Config>,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
}

/// The `RootFS` of `image inspect`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(rename = "Type")]
    pub typ: String,
    pub layers: Vec<String>,
}

/// Blobs and layers (by digest, diff ID) to remove.
#[derive(Debug, Default)]
pub(crate) struct Garbage {
    pub(crate) blobs: Vec<String>,
    pub(crate) layers: Vec<String>,
}

/// What a removal freed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Digests of the blobs removed.
    pub blobs: Vec<String>,
    /// Diff IDs of the layers removed.
    pub layers: Vec<String>,
    /// Bytes of blobs and of file content in layers.
    pub bytes: u64,
}

/// The image store of one minotaur root.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// Holds the store's exclusive lock until dropped.
pub(crate) struct Locked {
    _lock: Flock<File>,
}

impl Store {
    /// Opens (creating if needed) the store under `<root>/image/`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let dir = root.join("image");
        for sub in ["blobs/sha256", "layers", "tmp/partial", "tmp/locks"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err("create", &p))?;
        }
        Ok(Store { dir })
    }

    /// `<root>/image`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join("blobs/sha256").join(hex)
    }

    pub(crate) fn layer_path(&self, diff_id: &str) -> PathBuf {
        let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
        self.dir.join("layers").join(hex)
    }

    pub(crate) fn lock(&self) -> Result<Locked, StoreError> {
        let path = self.dir.join("lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let lock =
            Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| StoreError::Lock(path, e))?;
        Ok(Locked { _lock: lock })
    }

    /// Reads the index; no lock needed (it is only ever replaced whole).
    pub(crate) fn read_index(&self) -> Result<Index, StoreError> {
        let path = self.dir.join(INDEX);
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Index(path, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    /// Replaces the index; the caller holds the lock.
    pub(crate) fn write_index(&self, _lock: &Locked, index: &Index) -> Result<(), StoreError> {
        let path = self.dir.join(INDEX);
        let tmp = self.dir.join(format!("{INDEX}.new"));
        let bytes = serde_json::to_vec_pretty(index).expect("the index serialises");
        let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(&bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("sync", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("replace", &path))?;
        // Make the rename itself durable.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync", &self.dir))
    }

    /// Imports a root-filesystem tarball (plain, gzip or zstd) as a one-layer image, like `docker import`,
    /// Finds an image by `name[:tag]`, full ID (`sha256:<hex>` or `<hex>`) or unique ID prefix.
    pub fn resolve(&self, s: &str) -> Result<ImageId, StoreError> {
        resolve_in(&self.read_index()?, s)
    }

    /// Every image and tag, newest first; an untagged image appears once as `<none>:<none>`.
    pub fn images(&self) -> Result<Vec<ImageSummary>, StoreError> {
        images_in(&self.read_index()?)
    }

    /// [`Self::images`] that pass every filter (`images --filter`). The images `before` and `since` name
    /// are looked up first, so a missing one fails the listing; labels are read only if a filter asks.
    pub fn images_filtered(
        &self,
        filters: &[ImageFilter],
    ) -> Result<Vec<ImageSummary>, StoreError> {
        let index = self.read_index()?;
        let mut created = std::collections::HashMap::new();
        for f in filters {
            if let ImageFilter::Before(r) | ImageFilter::Since(r) = f {
                let id = resolve_in(&index, r)?;
                let time = index
                    .images
                    .get(&id.to_string())
                    .and_then(|rec| parse_rfc3339_nanos(&rec.created))
                    .unwrap_or(0);
                created.insert(r.as_str(), time);
            }
        }
        let mut images = images_in(&index)?;
        let mut labels = std::collections::HashMap::new();
        let mut keep = Vec::with_capacity(images.len());
        for i in images.drain(..) {
            let mut pass = true;
            for f in filters {
                let labels_of = || {
                    labels
                        .entry(i.id.clone())
                        .or_insert_with(|| {
                            self.config(&i.id)
                                .ok()
                                .and_then(|c| c.config().as_ref()?.labels().clone())
                                .unwrap_or_default()
                        })
                        .clone()
                };
                if !f.matches(&i, |r| created.get(r).copied(), labels_of) {
                    pass = false;
                    break;
                }
            }
            if pass {
                keep.push(i);
            }
        }
        Ok(keep)
    }

    /// Tags the image `src` (a reference or ID) as `new`, moving `new` off any image that had it.
    pub fn tag(&self, src: &str, new: &Reference) -> Result<ImageId, StoreError> {
        let lock = self.lock()?;
        let mut index = self.read_index()?;
        let id = resolve_in(&index, src)?;
        index.repositories.insert(new.to_string(), id.to_string());
        self.write_index(&lock, &index)?;
        Ok(id)
    }

    /// Removes a tag, and the image with its unreferenced blobs and layers when no tag is left (Docker's
    /// `rmi`). By ID, an image with several tags is removed only with `force`.
    pub fn rmi(&self, s: &str, force: bool) -> Result<Vec<Removed>, StoreError> {
        let lock = self.lock()?;
        let mut index = self.read_index()?;
        let mut done = Vec::new();
        let by_tag = s
            .parse::<Reference>()
            .ok()
            .filter(|r| index.repositories.contains_key(&r.to_string()));
        let id = match by_tag {
            Some(r) => {
                let id = index.repositories.remove(&r.to_string()).expect("present");
                done.push(Removed::Untagged(r));
                id
            }
            None => {
                let id = resolve_in(&index, s)?.to_string();
                let tags = index.tags_of(&id);
                if tags.len() > 1 && !force {
                    return Err(StoreError::Conflict { id: s.to_string() });
                }
                for t in tags {
                    index.repositories.remove(&t);
                    done.push(Removed::Untagged(t.parse()?));
                }
                id
            }
        };
        let mut garbage = Garbage::default();
        if index.tags_of(&id).is_empty() {
            for d in index.digests_of(&id) {
                done.push(Removed::UntaggedDigest(d));
            }
            if let Some(rec) = index.remove_image(&id) {
                let (blobs, layers) = index.referenced();
                garbage.blobs = rec
                    .blobs(&id)
                    .filter(|b| !blobs.contains(*b))
                    .map(str::to_string)
                    .collect();
                garbage.layers = rec
                    .layers
                    .iter()
                    .filter(|l| !layers.contains(&l.diff_id))
                    .map(|l| l.diff_id.clone())
                    .collect();
                done.push(Removed::Deleted(id.parse()?));
            }
        }
        self.write_index(&lock, &index)?;
        self.remove_garbage(&lock, garbage);
        Ok(done)
    }

    /// Removes blobs and layers the index no longer names, still under the lock so that an import cannot
    /// publish the same layer in between, and leaving whatever a pull or push has pinned. A failure leaves
    /// only unreachable files behind, and is logged. Returns the bytes freed.
    pub(crate) fn remove_garbage(&self, _lock: &Locked, mut garbage: Garbage) -> Reclaimed {
        garbage.blobs.sort();
        garbage.blobs.dedup();
        garbage.layers.sort();
        garbage.layers.dedup();
        let mut done = Reclaimed::default();
        let items = garbage
            .blobs
            .iter()
            .map(|b| (b, self.blob_path(b), false))
            .chain(garbage.layers.iter().map(|l| (l, self.layer_path(l), true)));
        for (digest, path, is_layer) in items {
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            let claim = match self.claim(hex) {
                Ok(Some(c)) => c,
                Ok(None) => {
                    log::debug!("{} is pinned by a pull or push; left", path.display());
                    continue;
                }
                Err(e) => {
                    log::warn!("{e}");
                    continue;
                }
            };
            let size = if is_layer {
                crate::layer::tree_size(&path)
            } else {
                fs::symlink_metadata(&path).map(|m| m.len())
            };
            let r = if is_layer {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match r {
                Ok(()) => {
                    done.bytes += size.unwrap_or(0);
                    if is_layer {
                        done.layers.push(digest.clone());
                    } else {
                        done.blobs.push(digest.clone());
                    }
                    claim.remove();
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => claim.remove(),
                Err(e) => log::warn!("cannot remove {}: {e}", path.display()),
            }
        }
        done
    }

    /// The image's OCI config.
    pub fn config(&self, id: &ImageId) -> Result<ImageConfiguration, StoreError> {
        let path = self.blob_path(id.hex());
        let bytes = fs::read(&path).map_err(io_err("read", &path))?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Config(id.clone(), e))
    }

    /// The image's config document as stored, for the fields Docker keeps there beyond the OCI image spec
    /// (`config.Healthcheck`); `None` when it is not a JSON object.
    pub fn config_document(&self, id: &ImageId) -> Result<Option<serde_json::Value>, StoreError> {
        let path = self.blob_path(id.hex());
        let bytes = fs::read(&path).map_err(io_err("read", &path))?;
        Ok(serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .filter(|v| v.is_object()))
    }

    /// `image inspect`: Docker's fields for the image `s` (a reference or ID).
    pub fn inspect(&self, s: &str) -> Result<ImageInspect, StoreError> {
        let index = self.read_index()?;
        let id = resolve_in(&index, s)?;
        let rec = &index.images[&id.to_string()];
        let config = self.config(&id)?;
        let comment = config
            .history()
            .as_ref()
            .and_then(|h| h.last())
            .and_then(|h| h.comment().clone())
            .unwrap_or_default();
        Ok(ImageInspect {
            id: id.to_string(),
            repo_tags: index.tags_of(&id.to_string()),
            repo_digests: index.digests_of(&id.to_string()),
            parent: String::new(),
            comment,
            created: config
                .created()
                .clone()
                .unwrap_or_else(|| rec.created.clone()),
            author: config.author().clone().unwrap_or_default(),
            architecture: config.architecture().to_string(),
            variant: config.variant().clone(),
            os: config.os().to_string(),
            os_version: config.os_version().clone(),
            size: rec.layers.iter().map(|l| l.size).sum(),
            config: config.config().clone(),
            root_fs: RootFs {
                typ: config.rootfs().typ().clone(),
                layers: config.rootfs().diff_ids().clone(),
            },
        })
    }

    /// The image's extracted layers, top layer first: overlayfs' `lowerdir=` order.
    pub fn lower_dirs(&self, id: &ImageId) -> Result<Vec<PathBuf>, StoreError> {
        let index = self.read_index()?;
        let rec = index
            .images
            .get(&id.to_string())
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        rec.layers
            .iter()
            .rev()
            .map(|l| {
                let p = self.layer_path(&l.diff_id);
                if p.is_dir() {
                    Ok(p)
                } else {
                    Err(StoreError::MissingLayer(p))
                }
            })
            .collect()
    }
}

pub(crate) fn oci_digest(d: &Digest) -> oci_spec::image::Digest {
    d.to_string()
        .parse()
        .expect("a sha256 digest is a valid OCI digest")
}

/// Every image and tag in `index`, newest first: [`Store::images`].
fn images_in(index: &Index) -> Result<Vec<ImageSummary>, StoreError> {
    let mut out = Vec::new();
    for (id, rec) in &index.images {
        let size = rec.layers.iter().map(|l| l.size).sum();
        let id_d: ImageId = id.parse()?;
        let tags = index.tags_of(id);
        let digests = index.digests_of(id);
        let mut push = |repository: String, tag: String, digest: Option<&str>| {
            out.push(ImageSummary {
                repository,
                tag,
                digest: digest.and_then(|d| d.parse().ok()),
                id: id_d.clone(),
                created: rec.created.clone(),
                created_unix: parse_rfc3339(&rec.created).unwrap_or(0),
                size,
            })
        };
        // As Docker: an untagged image pulled by digest shows its repository with tag `<none>`.
        if tags.is_empty() && digests.is_empty() {
            push("<none>".into(), "<none>".into(), None);
        }
        if tags.is_empty() {
            for d in &digests {
                let (name, digest) = d.split_once('@').expect("name@digest");
                push(name.into(), "<none>".into(), Some(digest));
            }
        }
        for t in tags {
            let r: Reference = t.parse()?;
            let digest = digests.iter().find_map(|d| {
                d.split_once('@')
                    .filter(|(name, _)| *name == r.name())
                    .map(|(_, digest)| digest)
            });
            push(r.name().into(), r.tag().into(), digest);
        }
    }
    out.sort_by(|a, b| {
        b.created_unix
            .cmp(&a.created_unix)
            .then_with(|| a.repository.cmp(&b.repository))
            .then_with(|| a.tag.cmp(&b.tag))
    });
    Ok(out)
}
