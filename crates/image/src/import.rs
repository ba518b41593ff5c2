//! `import`, and publishing staged layers and images into the store (shared with `load`).

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, HistoryBuilder, ImageConfigurationBuilder,
    ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};

use crate::change;
use crate::error::{io_err, StoreError};
use crate::extract;
use crate::index::{ImageRecord, LayerRecord};
use crate::layer::{read_layer, renamed_onto_a_directory};
use crate::reference::{Digest, ImageId, Reference};
use crate::store::{oci_digest, Store};
use crate::time::rfc3339;

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

impl Store {
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
        let tmp_root = self.dir().join("tmp");
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
            media_type: layer.compression.media_type(),
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
                index: None,
                layers: layers
                    .iter()
                    .map(|l| LayerRecord {
                        diff_id: l.diff_id.to_string(),
                        blob: l.blob.to_string(),
                        media_type: l.media_type.to_string(),
                        size: l.size,
                        blob_size: l.blob_size,
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
            // A pull may put the same layer in place at any time (it does not take the store lock for that).
            match fs::rename(&l.dir, &to) {
                Ok(()) => {}
                Err(e) if e.raw_os_error().is_some_and(renamed_onto_a_directory) => {}
                Err(e) => return Err(io_err("store layer", &to)(e)),
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
}

/// A layer read into a work directory, waiting for [`Store::publish`].
pub(crate) struct Staged {
    pub(crate) blob_tmp: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) blob: Digest,
    pub(crate) blob_size: u64,
    pub(crate) diff_id: Digest,
    pub(crate) media_type: MediaType,
    pub(crate) size: u64,
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
