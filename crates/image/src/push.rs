//! What a push sends, the store's side: the manifest bytes and digest, the config, and each layer's blob.
//!
//! A pulled image is pushed as it came: its stored manifest, bit for bit, and its layer blobs as fetched. An
//! image whose layers are stored uncompressed (imported or loaded from plain tarballs) gets them
//! gzip-compressed on the way, each into a work file hashed while written; the compressed blobs then replace
//! the plain ones in the image's record, with a manifest naming them, so a second push sends the same bytes
//! without compressing again. After the registry accepted the manifest, [`Store::record_push`] records the
//! `name@sha256:<hex>` reference, as Docker does.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};

use crate::error::{io_err, StoreError};
use crate::index::{digest_reference, resolve_in, LayerRecord};
use crate::layer::{Compression, Hashing};
use crate::lock::Pin;
use crate::reference::{Digest, ImageId};
use crate::store::{oci_digest, Garbage, Store};

/// Why an image cannot be pushed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("the stored manifest {0} is not a valid image manifest")]
    Manifest(String, #[source] oci_spec::OciSpecError),
    #[error("cannot build the manifest to push")]
    Build(#[source] oci_spec::OciSpecError),
    #[error("cannot compress layer {diff_id} for the push")]
    Compress {
        diff_id: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A blob to send: its descriptor, and where to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushBlob {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    path: PathBuf,
}

impl PushBlob {
    /// Opens the stored blob for reading.
    pub fn open(&self) -> Result<File, StoreError> {
        File::open(&self.path).map_err(io_err("open", &self.path))
    }
}

/// Everything a push of one image sends; its blobs stay pinned against `rmi` and `prune` while this lives.
#[derive(Debug)]
pub struct PushArtifacts {
    pub id: ImageId,
    /// The manifest exactly as it is to be sent.
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    /// The manifest's own media type, for the upload's `Content-Type`.
    pub manifest_media_type: String,
    pub config: PushBlob,
    /// Bottom layer first, as the manifest lists them.
    pub layers: Vec<PushBlob>,
    _pin: Pin,
}

impl Store {
    /// What pushing the image `s` (a reference or ID) sends. Compresses plain layers first (once; see the
    /// module documentation).
    pub fn push_artifacts(&self, s: &str) -> Result<PushArtifacts, PushError> {
        let id = self.resolve(s)?;
        let key = id.to_string();
        let rec = self
            .read_index()?
            .images
            .get(&key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(s.to_string()))?;
        let plain: Vec<usize> = (0..rec.layers.len())
            .filter(|&i| {
                Compression::from_media_type(&rec.layers[i].media_type) == Some(Compression::None)
            })
            .collect();
        if !plain.is_empty() {
            self.compress_layers(&id, &rec.layers, &plain)?;
        }

        // Read the record again: this push or a concurrent one may have replaced layers and manifest.
        let index = self.read_index()?;
        let rec = index
            .images
            .get(&key)
            .ok_or_else(|| StoreError::NotFound(s.to_string()))?;
        let pin = self.pin(
            std::iter::once(id.hex())
                .chain(std::iter::once(hex(&rec.manifest)))
                .chain(rec.layers.iter().map(|l| hex(&l.blob))),
        )?;
        let manifest_path = self.blob_path(&rec.manifest);
        let manifest = fs::read(&manifest_path).map_err(io_err("read", &manifest_path))?;
        let parsed = ImageManifest::from_reader(&manifest[..])
            .map_err(|e| PushError::Manifest(rec.manifest.clone(), e))?;
        let manifest_media_type = parsed
            .media_type()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_else(|| MediaType::ImageManifest.to_string());
        let blob = |digest: &str, media_type: String| -> Result<PushBlob, StoreError> {
            let path = self.blob_path(digest);
            let size = fs::metadata(&path).map_err(io_err("stat", &path))?.len();
            Ok(PushBlob {
                digest: format!("sha256:{}", hex(digest)).parse()?,
                size,
                media_type,
                path,
            })
        };
        let config = blob(&key, parsed.config().media_type().to_string())?;
        let layers = parsed
            .layers()
            .iter()
            .map(|d| blob(d.digest().as_ref(), d.media_type().to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PushArtifacts {
            id: id.clone(),
            manifest_digest: Digest::of(&manifest),
            manifest,
            manifest_media_type,
            config,
            layers,
            _pin: pin,
        })
    }

    /// Gzips the plain layers `which` of image `id` into blobs, and points the image's record (layers and
    /// manifest) at them.
    fn compress_layers(
        &self,
        id: &ImageId,
        layers: &[LayerRecord],
        which: &[usize],
    ) -> Result<(), PushError> {
        let work = self.work_dir("push-")?;
        let mut done = Vec::new();
        for &i in which {
            let l = &layers[i];
            let err = |source| PushError::Compress {
                diff_id: l.diff_id.clone(),
                source,
            };
            let src = self.blob_path(&l.blob);
            let mut input = File::open(&src).map_err(err)?;
            let tmp = work.path().join(format!("layer-{i}"));
            let out = File::create(&tmp).map_err(err)?;
            let mut gz = flate2::write::GzEncoder::new(
                Hashing::new(BufWriter::with_capacity(128 * 1024, out)),
                flate2::Compression::default(),
            );
            io::copy(&mut input, &mut gz).map_err(err)?;
            let hashing = gz.finish().map_err(err)?;
            let (digest, size) = hashing.finish_write().map_err(err)?;
            File::open(&tmp).and_then(|f| f.sync_all()).map_err(err)?;
            done.push((i, tmp, digest, size));
        }

        let lock = self.lock()?;
        let mut index = self.read_index()?;
        let Some(rec) = index.images.get_mut(&id.to_string()) else {
            return Err(StoreError::NotFound(id.to_string()).into());
        };
        let mut garbage = Garbage::default();
        for (i, tmp, digest, size) in done {
            // Unless a concurrent push got there first.
            if rec.layers[i].blob != layers[i].blob {
                continue;
            }
            let to = self.blob_path(digest.hex());
            fs::rename(&tmp, &to).map_err(io_err("store blob", &to))?;
            let l = &mut rec.layers[i];
            garbage
                .blobs
                .push(std::mem::replace(&mut l.blob, digest.to_string()));
            l.media_type = MediaType::ImageLayerGzip.to_string();
            l.blob_size = size;
        }
        let old_manifest = self.blob_path(&rec.manifest);
        let old = ImageManifest::from_reader(
            File::open(&old_manifest).map_err(io_err("read", &old_manifest))?,
        )
        .map_err(|e| PushError::Manifest(rec.manifest.clone(), e))?;
        let mut descriptors = Vec::new();
        for l in &rec.layers {
            let size = if l.blob_size > 0 {
                l.blob_size
            } else {
                let p = self.blob_path(&l.blob);
                fs::metadata(&p).map_err(io_err("stat", &p))?.len()
            };
            let digest: Digest = l.blob.parse().map_err(StoreError::from)?;
            descriptors.push(Descriptor::new(
                MediaType::from(l.media_type.as_str()),
                size,
                oci_digest(&digest),
            ));
        }
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(old.config().clone())
            .layers(descriptors)
            .build()
            .map_err(PushError::Build)?;
        let manifest = serde_json::to_vec(&manifest).expect("a manifest serialises");
        let manifest_digest = Digest::of(&manifest);
        let path = self.blob_path(manifest_digest.hex());
        let tmp = work.path().join("manifest");
        fs::write(&tmp, &manifest).map_err(io_err("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("store blob", &path))?;
        garbage.blobs.push(std::mem::replace(
            &mut rec.manifest,
            manifest_digest.to_string(),
        ));
        let (referenced, _) = index.referenced();
        garbage.blobs.retain(|b| !referenced.contains(b));
        self.write_index(&lock, &index)?;
        self.remove_garbage(&lock, garbage);
        Ok(())
    }

    /// Records that image `id` was pushed to `repository` as the manifest `digest` (Docker's RepoDigests).
    pub fn record_push(
        &self,
        id: &ImageId,
        repository: &str,
        digest: &Digest,
    ) -> Result<(), StoreError> {
        let reference = digest_reference(repository, digest)?;
        let lock = self.lock()?;
        let mut index = self.read_index()?;
        let id = resolve_in(&index, &id.to_string())?;
        index.digests.insert(reference, id.to_string());
        self.write_index(&lock, &index)
    }
}

fn hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

impl<W: Write> Hashing<BufWriter<W>> {
    /// Flushes the buffered writer and returns the digest and length of what was written.
    fn finish_write(mut self) -> io::Result<(Digest, u64)> {
        self.flush()?;
        Ok(self.finish())
    }
}
