//! The store under `<root>/image/` (layout and locking are described in the crate documentation).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder,
    ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::change::{self, ChangeError};
use crate::extract::{self, ExtractError};
use crate::reference::{Digest, ImageId, Reference, ReferenceError};

const INDEX: &str = "repositories.json";

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot lock the image store at {0}")]
    Lock(PathBuf, #[source] Errno),
    #[error("the image index {0} is corrupt")]
    Index(PathBuf, #[source] serde_json::Error),
    #[error("cannot read the image archive")]
    Read(#[source] io::Error),
    #[error("the image archive is empty")]
    Empty,
    #[error(
        "the archive is compressed with {0}, which is not supported (use plain tar, gzip or zstd)"
    )]
    Compression(&'static str),
    #[error("cannot extract the layer")]
    Extract(#[source] ExtractError),
    #[error("cannot build the image metadata")]
    Oci(#[source] oci_spec::OciSpecError),
    #[error("the config of image {0} is unreadable")]
    Config(ImageId, #[source] serde_json::Error),
    #[error("no such image: {0}")]
    NotFound(String),
    #[error("image ID prefix {0:?} matches more than one image")]
    Ambiguous(String),
    #[error(
        "unable to delete {id} (must be forced): image is referenced in multiple repositories"
    )]
    Conflict { id: String },
    #[error("layer {0} of the image is missing from the store")]
    MissingLayer(PathBuf),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Change(#[from] ChangeError),
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { op, path, source }
}

/// How to import a tarball.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// How to extract the layer.
    pub extract: extract::Options,
    /// Where the tarball came from (a path or `-`), recorded in the image history as `docker import` does.
    pub source: String,
    /// The history comment instead of "Imported from SOURCE" (`docker import -m`).
    pub message: Option<String>,
    /// Dockerfile instructions setting the run configuration (`docker import -c`), see [`crate::change`].
    pub changes: Vec<String>,
}

/// One line of `images`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSummary {
    /// `<none>` for an untagged image.
    pub repository: String,
    /// `<none>` for an untagged image.
    pub tag: String,
    pub id: ImageId,
    /// RFC 3339, as in the image config.
    pub created: String,
    /// Seconds since the epoch of `created` (0 when unparsable), for "2 hours ago".
    pub created_unix: i64,
    /// Bytes of file content in the image's layers.
    pub size: u64,
}

/// What `rmi` did, in order, as Docker prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Untagged(Reference),
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
    pub os: String,
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
    created: String,
    /// Digest of the OCI manifest blob.
    manifest: String,
    /// Bottom layer first, as in the config's `rootfs.diff_ids`.
    pub(crate) layers: Vec<LayerRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerRecord {
    /// `sha256:<hex>` of the uncompressed tar; names the directory under `layers/`.
    pub(crate) diff_id: String,
    /// `sha256:<hex>` of the tarball as stored under `blobs/`.
    pub(crate) blob: String,
    media_type: String,
    /// Bytes of file content.
    size: u64,
}

impl Index {
    fn tags_of(&self, id: &str) -> Vec<String> {
        self.repositories
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// The image store of one minotaur root.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// Holds the store's exclusive lock until dropped.
struct Locked {
    _lock: Flock<File>,
}

impl Store {
    /// Opens (creating if needed) the store under `<root>/image/`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let dir = root.join("image");
        for sub in ["blobs/sha256", "layers", "tmp"] {
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

    fn layer_path(&self, diff_id: &str) -> PathBuf {
        let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
        self.dir.join("layers").join(hex)
    }

    fn lock(&self) -> Result<Locked, StoreError> {
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
    fn write_index(&self, _lock: &Locked, index: &Index) -> Result<(), StoreError> {
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
    /// and tags it `reference` if given. Nothing is left behind when it fails.
    pub fn import(
        &self,
        reader: impl Read,
        reference: Option<&Reference>,
        opts: &ImportOptions,
    ) -> Result<ImageId, StoreError> {
        // Bad changes are refused before anything is read.
        let mut run_config = ConfigBuilder::default().build().map_err(StoreError::Oci)?;
        for c in &opts.changes {
            change::apply(&mut run_config, c)?;
        }
        let work = self.work_dir("import-")?;
        let layer = self.stage_layer(work.path(), "0", reader, &opts.extract)?;
        let created = rfc3339(SystemTime::now());
        let source = if opts.source.is_empty() {
            "-"
        } else {
            &opts.source
        };
        let comment = opts
            .message
            .clone()
            .unwrap_or_else(|| format!("Imported from {source}"));
        let config = ImageConfigurationBuilder::default()
            .created(created.clone())
            .architecture(Arch::default())
            .os(Os::default())
            .config(run_config)
            .rootfs(
                RootFsBuilder::default()
                    .typ("layers")
                    .diff_ids(vec![layer.diff_id.to_string()])
                    .build()
                    .map_err(StoreError::Oci)?,
            )
            .history(vec![HistoryBuilder::default()
                .created(created.clone())
                .created_by("minotaur import")
                .comment(comment)
                .build()
                .map_err(StoreError::Oci)?])
            .build()
            .map_err(StoreError::Oci)?;
        let config = serde_json::to_vec(&config).expect("an image config serialises");
        let pending = Pending {
            config,
            created,
            layers: vec![0],
            tags: reference.into_iter().cloned().collect(),
        };
        let ids = self.publish(work.path(), &[layer], vec![pending])?;
        // `work` (and a duplicate extraction of an already stored layer) is removed here.
        Ok(ids.into_iter().next().expect("one image published"))
    }

    /// A fresh work directory under `tmp/`, removed when dropped.
    pub(crate) fn work_dir(&self, prefix: &str) -> Result<tempfile::TempDir, StoreError> {
        let tmp_root = self.dir.join("tmp");
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&tmp_root)
            .map_err(io_err("create a directory in", &tmp_root))
    }

    /// Reads one layer tarball into `work`: the blob as given in `blob-<name>`, the tree in `layer-<name>/`.
    pub(crate) fn stage_layer(
        &self,
        work: &Path,
        name: &str,
        reader: impl Read,
        opts: &extract::Options,
    ) -> Result<Staged, StoreError> {
        let dir = work.join(format!("layer-{name}"));
        fs::create_dir(&dir).map_err(io_err("create", &dir))?;
        fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io_err("chmod", &dir))?;
        let blob_tmp = work.join(format!("blob-{name}"));
        let blob_file = File::create(&blob_tmp).map_err(io_err("create", &blob_tmp))?;
        let layer = read_layer(reader, blob_file, &dir, opts)?;
        Ok(Staged {
            blob_tmp,
            dir,
            blob: layer.blob,
            blob_size: layer.blob_size,
            diff_id: layer.diff_id,
            media_type: layer.media_type,
            size: layer.size,
        })
    }

    /// Writes each image's config and manifest, then under the lock moves blobs and layers into place and
    /// registers the images and their tags. Returns the image IDs in order.
    pub(crate) fn publish(
        &self,
        work: &Path,
        staged: &[Staged],
        images: Vec<Pending>,
    ) -> Result<Vec<ImageId>, StoreError> {
        let mut blobs: Vec<(PathBuf, Digest)> = staged
            .iter()
            .map(|l| (l.blob_tmp.clone(), l.blob.clone()))
            .collect();
        let mut records = Vec::new();
        for (n, image) in images.into_iter().enumerate() {
            let id = Digest::of(&image.config);
            let layers: Vec<&Staged> = image.layers.iter().map(|&i| &staged[i]).collect();
            let manifest = ImageManifestBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageManifest)
                .config(Descriptor::new(
                    MediaType::ImageConfig,
                    image.config.len() as u64,
                    oci_digest(&id),
                ))
                .layers(
                    layers
                        .iter()
                        .map(|l| {
                            Descriptor::new(l.media_type.clone(), l.blob_size, oci_digest(&l.blob))
                        })
                        .collect::<Vec<_>>(),
                )
                .build()
                .map_err(StoreError::Oci)?;
            let manifest = serde_json::to_vec(&manifest).expect("a manifest serialises");
            let manifest_digest = Digest::of(&manifest);
            for (what, bytes, digest) in [
                ("config", &image.config, &id),
                ("manifest", &manifest, &manifest_digest),
            ] {
                let p = work.join(format!("{what}-{n}"));
                fs::write(&p, bytes).map_err(io_err("write", &p))?;
                blobs.push((p, digest.clone()));
            }
            let record = ImageRecord {
                created: image.created,
                manifest: manifest_digest.to_string(),
                layers: layers
                    .iter()
                    .map(|l| LayerRecord {
                        diff_id: l.diff_id.to_string(),
                        blob: l.blob.to_string(),
                        media_type: l.media_type.to_string(),
                        size: l.size,
                    })
                    .collect(),
            };
            records.push((id, record, image.tags));
        }

        // Under the lock: blobs and layers first, then the index that makes them reachable.
        let lock = self.lock()?;
        let mut index = self.read_index()?;
        for (from, digest) in &blobs {
            let to = self.blob_path(digest.hex());
            fs::rename(from, &to).map_err(io_err("store blob", &to))?;
        }
        for l in staged {
            let to = self.layer_path(l.diff_id.hex());
            if !to.exists() {
                fs::rename(&l.dir, &to).map_err(io_err("store layer", &to))?;
            }
        }
        let mut ids = Vec::new();
        for (id, record, tags) in records {
            index.images.insert(id.to_string(), record);
            for t in tags {
                index.repositories.insert(t.to_string(), id.to_string());
            }
            ids.push(id);
        }
        self.write_index(&lock, &index)?;
        Ok(ids)
    }

    /// Finds an image by `name[:tag]`, full ID (`sha256:<hex>` or `<hex>`) or unique ID prefix.
    pub fn resolve(&self, s: &str) -> Result<ImageId, StoreError> {
        resolve_in(&self.read_index()?, s)
    }

    /// Every image and tag, newest first; an untagged image appears once as `<none>:<none>`.
    pub fn images(&self) -> Result<Vec<ImageSummary>, StoreError> {
        let index = self.read_index()?;
        let mut out = Vec::new();
        for (id, rec) in &index.images {
            let size = rec.layers.iter().map(|l| l.size).sum();
            let id_d: ImageId = id.parse()?;
            let tags = index.tags_of(id);
            let mut push = |repository: String, tag: String| {
                out.push(ImageSummary {
                    repository,
                    tag,
                    id: id_d.clone(),
                    created: rec.created.clone(),
                    created_unix: parse_rfc3339(&rec.created).unwrap_or(0),
                    size,
                })
            };
            if tags.is_empty() {
                push("<none>".into(), "<none>".into());
            }
            for t in tags {
                let r: Reference = t.parse()?;
                push(r.name().into(), r.tag().into());
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
        let mut garbage = Vec::new();
        if index.tags_of(&id).is_empty() {
            if let Some(rec) = index.images.remove(&id) {
                garbage = self.unreferenced(&index, &id, &rec);
                done.push(Removed::Deleted(id.parse()?));
            }
        }
        self.write_index(&lock, &index)?;
        // The index no longer names them: remove the files, still under the lock so that an import cannot
        // publish the same layer in between. A failure here leaves only unreachable files behind.
        for path in garbage {
            let r = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            if let Err(e) = r {
                log::warn!("cannot remove {}: {e}", path.display());
            }
        }
        Ok(done)
    }

    /// Files of the removed image `id` that no image left in `index` uses.
    fn unreferenced(&self, index: &Index, id: &str, rec: &ImageRecord) -> Vec<PathBuf> {
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        for (other_id, other) in &index.images {
            blobs.insert(other_id.as_str());
            blobs.insert(other.manifest.as_str());
            for l in &other.layers {
                blobs.insert(l.blob.as_str());
                layers.insert(l.diff_id.as_str());
            }
        }
        let mut out = Vec::new();
        for b in [id, rec.manifest.as_str()]
            .into_iter()
            .chain(rec.layers.iter().map(|l| l.blob.as_str()))
        {
            if !blobs.contains(b) {
                out.push(self.blob_path(b));
            }
        }
        for l in &rec.layers {
            if !layers.contains(l.diff_id.as_str()) {
                out.push(self.layer_path(&l.diff_id));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The image's OCI config.
    pub fn config(&self, id: &ImageId) -> Result<ImageConfiguration, StoreError> {
        let path = self.blob_path(id.hex());
        let bytes = fs::read(&path).map_err(io_err("read", &path))?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Config(id.clone(), e))
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
            repo_digests: Vec::new(),
            parent: String::new(),
            comment,
            created: config
                .created()
                .clone()
                .unwrap_or_else(|| rec.created.clone()),
            author: config.author().clone().unwrap_or_default(),
            architecture: config.architecture().to_string(),
            os: config.os().to_string(),
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

fn oci_digest(d: &Digest) -> oci_spec::image::Digest {
    d.to_string()
        .parse()
        .expect("a sha256 digest is a valid OCI digest")
}

/// A layer read into a work directory, waiting for [`Store::publish`].
pub(crate) struct Staged {
    blob_tmp: PathBuf,
    dir: PathBuf,
    pub(crate) blob: Digest,
    blob_size: u64,
    pub(crate) diff_id: Digest,
    media_type: MediaType,
    size: u64,
}

/// An image waiting for [`Store::publish`].
pub(crate) struct Pending {
    /// The config JSON exactly as stored (its digest is the image ID).
    pub(crate) config: Vec<u8>,
    pub(crate) created: String,
    /// Indexes into the staged layers, bottom first.
    pub(crate) layers: Vec<usize>,
    pub(crate) tags: Vec<Reference>,
}

/// A layer read from a tarball: stored blob, extracted tree, digests.
struct Layer {
    blob: Digest,
    blob_size: u64,
    diff_id: Digest,
    media_type: MediaType,
    size: u64,
}

/// Streams `reader` once: into `blob` as given, through the decompressor it starts with, into the tar
/// extractor; hashing both the stored bytes (blob digest) and the uncompressed tar (diff ID) on the way.
fn read_layer(
    reader: impl Read,
    blob: File,
    dir: &Path,
    opts: &extract::Options,
) -> Result<Layer, StoreError> {
    let raw = Hashing::new(Tee {
        inner: reader,
        out: blob,
    });
    let mut buf = BufReader::with_capacity(128 * 1024, raw);
    let (media_type, decoder) = decompress(&mut buf)?;
    let mut tar = Hashing::new(decoder);
    let summary = extract::extract(&mut tar, dir, opts).map_err(StoreError::Extract)?;
    // The tar reader stops at the end-of-archive marker; the digests cover every byte, as Docker's do.
    io::copy(&mut tar, &mut io::sink()).map_err(StoreError::Read)?;
    let (diff_id, tar_len) = tar.finish();
    io::copy(&mut buf, &mut io::sink()).map_err(StoreError::Read)?;
    let raw = buf.into_inner();
    let blob_file = &raw.inner.out;
    blob_file.sync_all().map_err(StoreError::Read)?;
    let (blob, blob_size) = raw.finish();
    if tar_len == 0 {
        return Err(StoreError::Empty);
    }
    Ok(Layer {
        blob,
        blob_size,
        diff_id,
        media_type,
        size: summary.size,
    })
}

/// Sniffs the compression of a stream by its magic bytes: gzip, zstd, or else plain.
pub(crate) fn decompress<'a, B: BufRead + 'a>(
    mut buf: B,
) -> Result<(MediaType, Box<dyn Read + 'a>), StoreError> {
    let magic = buf.fill_buf().map_err(StoreError::Read)?;
    if magic.is_empty() {
        return Err(StoreError::Empty);
    }
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        (
            MediaType::ImageLayerGzip,
            Box::new(flate2::bufread::MultiGzDecoder::new(buf)),
        )
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = zstd::stream::read::Decoder::with_buffer(buf).map_err(StoreError::Read)?;
        (MediaType::ImageLayerZstd, Box::new(d))
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err(StoreError::Compression("xz"));
    } else if magic.starts_with(b"BZh") {
        return Err(StoreError::Compression("bzip2"));
    } else {
        (MediaType::ImageLayer, Box::new(buf))
    })
}

/// Passes reads through, hashing them.
struct Hashing<R> {
    inner: R,
    hasher: sha2::Sha256,
    len: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: sha2::Sha256::new(),
            len: 0,
        }
    }

    fn finish(self) -> (Digest, u64) {
        (Digest::from_sha256(self.hasher.finalize().into()), self.len)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Passes reads through, copying them to `out`.
struct Tee<R> {
    inner: R,
    out: File,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, the form Docker writes.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, dd) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Seconds since the epoch of a UTC RFC 3339 time (`…Z`); `None` for other forms.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || !s.ends_with('Z') || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let days = days_from_civil(n(0..4)?, n(5..7)?, n(8..10)?);
    Some(days * 86400 + n(11..13)? * 3600 + n(14..16)? * 60 + n(17..19)?)
}

// Howard Hinnant's days <-> civil date algorithms (proleptic Gregorian, days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_round_trips() {
        for secs in [0i64, 951_782_400, 1_700_000_000, 4_102_444_800] {
            let s = rfc3339(UNIX_EPOCH + Duration::from_secs(secs as u64));
            assert_eq!(parse_rfc3339(&s), Some(secs), "{s}");
        }
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00+01:00"), None);
    }
}
