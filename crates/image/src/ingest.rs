//! Layers from a registry, the store's side: a blob stream is stored, verified and extracted in one pass,
//! resumed after a crash, and fetched once however many processes want it at the same time.
//!
//! [`Store::ingest_layer`] reads the compressed stream once. On the way it appends the bytes to
//! `tmp/partial/<hex>`, hashes them, decompresses them (as the media type says, by magic bytes when it says
//! nothing known or something else), hashes the tar, and extracts it into a work directory under `tmp/`.
//! Only when the blob's digest and the tar's diff ID both match the descriptor are the partial file renamed to
//! `blobs/sha256/<hex>` and the tree to `layers/<diff-id-hex>`. The disk holds the compressed blob and the
//! extracted tree, nothing more. The blob is synced before it is renamed; its writeback is started behind
//! the stream, so that sync finds little left to write.
//!
//! A pull that dies leaves its partial file. The next ingest of that digest reads the partial's bytes through
//! the hashers and the extractor first, then asks the source for the rest from that offset. A partial whose
//! content turns out wrong (a digest or diff ID mismatch, a stream that does not decompress or extract) is
//! deleted; one that stopped because the source failed is kept for the next attempt.
//!
//! The fetch of a digest is serialised by a lock (see `lock.rs`): a second process waits, reporting the
//! partial file's growth as [`Progress::Waiting`], and then finds the layer in place. What an ingest returns
//! stays pinned against `rmi` and `prune` until the [`IngestedLayer`] is dropped, so the engine keeps the
//! layers of an image until [`Store::commit_pulled`](crate::Store::commit_pulled) has registered it.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::error::{io_err, StoreError};
use crate::extract;
use crate::layer::{renamed_onto_a_directory, stream_layer_threaded, tree_size, Compression};
use crate::lock::Pin;
use crate::reference::Digest;
use crate::store::Store;

/// How long a waiter sleeps between looks at the lock and the other process's partial file.
const WAIT_POLL: Duration = Duration::from_millis(50);

/// Bytes of the partial file written between two starts of its writeback (see [`Resume::start_writeback`]).
const WRITEBACK_STEP: u64 = 8 << 20;

/// Why a layer could not be ingested.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read blob {digest} from its source")]
    Source {
        digest: Digest,
        #[source]
        source: io::Error,
    },
    #[error("blob {expected} does not match its digest: its content hashes to {actual}")]
    Digest { expected: Digest, actual: Digest },
    #[error("layer {digest} has diff ID {actual}, but the image config says {expected}")]
    DiffId {
        digest: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error("cannot ingest layer {digest}")]
    Store {
        digest: Digest,
        #[source]
        source: StoreError,
    },
}

/// A layer as an image manifest and config describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDesc {
    /// Digest of the blob as the registry serves it (usually compressed).
    pub digest: Digest,
    /// Bytes of the blob.
    pub size: u64,
    /// The manifest's media type for the layer (OCI's or Docker's).
    pub media_type: String,
    /// Digest of the uncompressed tar, from the image config's `rootfs.diff_ids`.
    pub diff_id: Digest,
}

/// How far an ingest has come, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Someone else is fetching this blob; its partial file holds this many bytes.
    Waiting(u64),
    /// This many bytes of the blob have been read, those resumed from a partial file included.
    Reading(u64),
}

/// What an ingest had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The blob and the layer were already in the store (possibly fetched meanwhile by someone else); the
    /// source was not called.
    Present,
    /// The blob was read, from this offset of the source (0 unless a partial file was resumed).
    Fetched { resumed_from: u64 },
    /// The blob was in the store but not its layer, which was extracted from it; the source was not called.
    Extracted,
}

/// A layer in the store, pinned against removal until this is dropped.
#[derive(Debug)]
pub struct IngestedLayer {
    pub desc: LayerDesc,
    /// Bytes of file content in the extracted layer.
    pub unpacked_size: u64,
    pub outcome: Outcome,
    _pin: Pin,
}

/// The compressed stream: the partial file's bytes first, then the source's from where they end, appended to
/// the partial file as they pass.
struct Resume<'a, F, R> {
    partial: &'a File,
    /// Bytes of the partial file still to read.
    prefix_left: u64,
    /// Bytes passed on so far.
    done: u64,
    /// Where the partial file's bytes begin whose writeback was not started yet.
    unsynced: u64,
    size: u64,
    source: Option<F>,
    tail: Option<R>,
    /// The source's own error, kept whole: what the decompressor or extractor reports wraps only a marker.
    failure: &'a Mutex<Option<io::Error>>,
    progress: &'a (dyn Fn(Progress) + Sync),
}

impl<F: FnOnce(u64) -> io::Result<R>, R: Read> Resume<'_, F, R> {
    fn fail(&self, e: io::Error) -> io::Error {
        let marker = io::Error::new(e.kind(), "the layer source failed");
        *self.failure.lock().expect("no panics while held") = Some(e);
        marker
    }

    /// Starts the writeback of the partial file's bytes up to `end` once [`WRITEBACK_STEP`] of them wait
    /// for it. The blob is synced before it is committed; left to that `fsync`, half a gigabyte would be
    /// written to the disk while nothing else happens, after the last byte came in. Started behind the
    /// stream, the disk writes while the network is read, and the `fsync` finds only the last step left.
    /// Only a speed-up: an error (a filesystem without the call) is logged and the `fsync` does the work.
    fn start_writeback(&mut self, end: u64) {
        if end - self.unsynced < WRITEBACK_STEP {
            return;
        }
        if let Err(e) =
            minotaur_sys::start_writeback(self.partial, self.unsynced, end - self.unsynced)
        {
            log::debug!("cannot start the partial blob's writeback: {e}");
        }
        self.unsynced = end;
    }

    fn read_tail(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done >= self.size {
            return Ok(0);
        }
        if self.tail.is_none() {
            let source = self.source.take().expect("the source is opened once");
            self.tail = Some(source(self.done).map_err(|e| self.fail(e))?);
        }
        let want = buf.len().min((self.size - self.done) as usize);
        let tail = self.tail.as_mut().expect("opened above");
        // The source's reads may be small (an HTTP body comes as one `recv` gave it): fill the caller's
        // buffer and write it to the partial file at once. Bytes read before a failure are kept there for
        // the next attempt.
        let mut filled = 0;
        let mut failed = None;
        while filled < want {
            match tail.read(&mut buf[filled..want]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if filled > 0 {
            self.partial.write_all(&buf[..filled])?;
            self.start_writeback(self.done + filled as u64);
        }
        if let Some(e) = failed {
            return Err(self.fail(e));
        }
        if filled == 0 {
            let e = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the blob ended after {} of its {} bytes",
                    self.done, self.size
                ),
            );
            return Err(self.fail(e));
        }
        Ok(filled)
    }
}

impl<F: FnOnce(u64) -> io::Result<R>, R: Read> Read for Resume<'_, F, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = if self.prefix_left > 0 {
            let want = buf.len().min(self.prefix_left as usize);
            let n = self.partial.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the partial file shrank while being read",
                ));
            }
            self.prefix_left -= n as u64;
            n
        } else {
            self.read_tail(buf)?
        };
        if n > 0 {
            self.done += n as u64;
            (self.progress)(Progress::Reading(self.done));
        }
        Ok(n)
    }
}

impl Store {
    /// Where a fetch of the blob `digest` keeps what it has read so far.
    pub fn partial_path(&self, digest: &Digest) -> PathBuf {
        self.dir().join("tmp/partial").join(digest.hex())
    }

    /// How many bytes of the blob `digest` a fetch (this process's or another's) has so far; `None` when no
    /// fetch has left anything. Polling this shows another process's progress.
    pub fn partial_size(&self, digest: &Digest) -> Option<u64> {
        fs::metadata(self.partial_path(digest))
            .ok()
            .map(|m| m.len())
    }

    /// Whether the blob `digest` is in the store.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest.hex()).is_file()
    }

    /// Brings the layer `desc` into the store: returns at once when its blob and extracted layer are there;
    /// otherwise waits for whoever else is fetching it, or fetches it: `source(offset)` must return the blob's
    /// bytes from `offset` on (a non-zero offset resumes an earlier, interrupted fetch). The blob and its
    /// layer appear under their final names only once both digests check.
    pub fn ingest_layer<F, R>(
        &self,
        desc: &LayerDesc,
        opts: &extract::Options,
        source: F,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<IngestedLayer, IngestError>
    where
        F: FnOnce(u64) -> io::Result<R> + Send,
        R: Read + Send,
    {
        let store_err = |source| IngestError::Store {
            digest: desc.digest.clone(),
            source,
        };
        let pin = self
            .pin([desc.digest.hex(), desc.diff_id.hex()])
            .map_err(store_err)?;
        match self.ingest_pinned(desc, opts, source, progress) {
            Ok((outcome, unpacked_size)) => Ok(IngestedLayer {
                desc: desc.clone(),
                unpacked_size,
                outcome,
                _pin: pin,
            }),
            Err(e) => {
                // A fetch that failed (the disk full, the registry gone) leaves no pin files behind
                // for `system check` to find: they guard nothing it stored.
                self.unpin(pin);
                Err(e)
            }
        }
    }

    /// [`Store::ingest_layer`] once the layer is pinned.
    fn ingest_pinned<F, R>(
        &self,
        desc: &LayerDesc,
        opts: &extract::Options,
        source: F,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<(Outcome, u64), IngestError>
    where
        F: FnOnce(u64) -> io::Result<R> + Send,
        R: Read + Send,
    {
        let store_err = |source| IngestError::Store {
            digest: desc.digest.clone(),
            source,
        };
        if let Some(size) = self.present(desc).map_err(store_err)? {
            return Ok((Outcome::Present, size));
        }
        let fetch = match self
            .fetch_lock(desc.digest.hex(), false)
            .map_err(store_err)?
        {
            Some(l) => l,
            None => self.wait_for_fetch(desc, progress).map_err(store_err)?,
        };
        // Whoever held the lock may have brought it in.
        if let Some(size) = self.present(desc).map_err(store_err)? {
            return Ok((Outcome::Present, size));
        }
        let r = self.fetch(desc, opts, source, progress);
        fetch.remove();
        r
    }

    /// Bytes of file content of the layer when both it and its blob are in the store.
    fn present(&self, desc: &LayerDesc) -> Result<Option<u64>, StoreError> {
        let layer = self.layer_path(desc.diff_id.hex());
        if !self.has_blob(&desc.digest) || !layer.is_dir() {
            return Ok(None);
        }
        self.unpacked_size(&desc.diff_id).map(Some)
    }

    /// Bytes of file content of a stored layer: as the index records it, or counted.
    fn unpacked_size(&self, diff_id: &Digest) -> Result<u64, StoreError> {
        let key = diff_id.to_string();
        let recorded = self
            .read_index()?
            .images
            .values()
            .find_map(|rec| rec.layers.iter().find(|l| l.diff_id == key).map(|l| l.size));
        match recorded {
            Some(s) => Ok(s),
            None => {
                let path = self.layer_path(diff_id.hex());
                tree_size(&path).map_err(io_err("measure", &path))
            }
        }
    }

    fn wait_for_fetch(
        &self,
        desc: &LayerDesc,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<crate::lock::FileLock, StoreError> {
        let mut last = None;
        loop {
            let size = self.partial_size(&desc.digest).unwrap_or(0);
            if last != Some(size) {
                progress(Progress::Waiting(size));
                last = Some(size);
            }
            if let Some(l) = self.fetch_lock(desc.digest.hex(), false)? {
                return Ok(l);
            }
            std::thread::sleep(WAIT_POLL);
        }
    }

    /// Reads the blob (from the store when only its layer is missing, else from the partial file and the
    /// source), verifies it and puts the blob and layer in place. The caller holds the fetch lock.
    fn fetch<F, R>(
        &self,
        desc: &LayerDesc,
        opts: &extract::Options,
        source: F,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<(Outcome, u64), IngestError>
    where
        F: FnOnce(u64) -> io::Result<R> + Send,
        R: Read + Send,
    {
        let store_err = |source| IngestError::Store {
            digest: desc.digest.clone(),
            source,
        };
        let work = self.work_dir("ingest-").map_err(store_err)?;
        let layer_dir = self.layer_path(desc.diff_id.hex());
        let staged = if layer_dir.is_dir() {
            None
        } else {
            let d = work.path().join("layer");
            fs::create_dir(&d)
                .map_err(io_err("create", &d))
                .map_err(store_err)?;
            fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .map_err(io_err("chmod", &d))
                .map_err(store_err)?;
            Some(d)
        };
        let declared = Compression::from_media_type(&desc.media_type);
        let blob_path = self.blob_path(desc.digest.hex());

        let (outcome, partial, streamed) = if blob_path.is_file() {
            // Its layer went missing: extract the stored blob again (still verified).
            let f = File::open(&blob_path)
                .map_err(io_err("open", &blob_path))
                .map_err(store_err)?;
            let s = stream_layer_threaded(f, declared, staged.as_deref(), opts).map_err(store_err);
            (Outcome::Extracted, None, s)
        } else {
            let path = self.partial_path(&desc.digest);
            let file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_err("open", &path))
                .map_err(store_err)?;
            let mut offset = file
                .metadata()
                .map_err(io_err("stat", &path))
                .map_err(store_err)?
                .len();
            if offset > desc.size {
                log::warn!("{} is longer than its blob; starting over", path.display());
                file.set_len(0)
                    .map_err(io_err("truncate", &path))
                    .map_err(store_err)?;
                offset = 0;
            }
            let failure = Mutex::new(None);
            let mut reader = Resume {
                partial: &file,
                prefix_left: offset,
                done: 0,
                unsynced: offset,
                size: desc.size,
                source: Some(source),
                tail: None,
                failure: &failure,
                progress,
            };
            let s = stream_layer_threaded(&mut reader, declared, staged.as_deref(), opts);
            let s = match (s, failure.lock().expect("no panics while held").take()) {
                (Ok(s), _) => Ok(s),
                // Keep what was read for the next attempt.
                (Err(_), Some(e)) => {
                    return Err(IngestError::Source {
                        digest: desc.digest.clone(),
                        source: e,
                    })
                }
                (Err(e), None) => Err(corrupt_or(desc, &mut reader, &path, store_err(e))),
            };
            if s.is_ok() {
                file.sync_all()
                    .map_err(io_err("sync", &path))
                    .map_err(store_err)?;
            }
            (
                Outcome::Fetched {
                    resumed_from: offset,
                },
                Some(path),
                s,
            )
        };

        // From here on, anything wrong is in the content: the partial file is of no use.
        let discard = |e: IngestError| {
            if let Some(p) = &partial {
                if let Err(e) = fs::remove_file(p) {
                    log::warn!("cannot remove {}: {e}", p.display());
                }
            }
            e
        };
        let s = streamed.map_err(discard)?;
        if s.blob != desc.digest {
            return Err(discard(IngestError::Digest {
                expected: desc.digest.clone(),
                actual: s.blob,
            }));
        }
        if s.diff_id != desc.diff_id {
            return Err(discard(IngestError::DiffId {
                digest: desc.digest.clone(),
                expected: desc.diff_id.clone(),
                actual: s.diff_id,
            }));
        }
        let unpacked = match &staged {
            Some(d) => match fs::rename(d, &layer_dir) {
                Ok(()) => s.size,
                // Another ingest (of a blob with the same content, compressed otherwise) was first.
                Err(e) if e.raw_os_error().is_some_and(renamed_onto_a_directory) => {
                    self.unpacked_size(&desc.diff_id).map_err(store_err)?
                }
                Err(e) => return Err(store_err(io_err("store layer", &layer_dir)(e))),
            },
            None => self.unpacked_size(&desc.diff_id).map_err(store_err)?,
        };
        if let Some(p) = &partial {
            fs::rename(p, &blob_path)
                .map_err(io_err("store blob", &blob_path))
                .map_err(store_err)?;
        }
        Ok((outcome, unpacked))
    }
}

/// What to say about a blob whose content could not be read as a layer: that it does not match its digest,
/// when it does not (a corrupted download says so rather than how the corruption upset the decompressor),
/// otherwise `error`. The rest of the blob is read into the partial file to tell.
fn corrupt_or<F, R>(
    desc: &LayerDesc,
    reader: &mut Resume<'_, F, R>,
    partial: &std::path::Path,
    error: IngestError,
) -> IngestError
where
    F: FnOnce(u64) -> io::Result<R>,
    R: Read,
{
    if io::copy(reader, &mut io::sink()).is_err() {
        return error;
    }
    let mut hashing = crate::layer::Hashing::new(match File::open(partial) {
        Ok(f) => f,
        Err(_) => return error,
    });
    if io::copy(&mut hashing, &mut io::sink()).is_err() {
        return error;
    }
    let (actual, _) = hashing.finish();
    if actual == desc.digest {
        error
    } else {
        IngestError::Digest {
            expected: desc.digest.clone(),
            actual,
        }
    }
}
