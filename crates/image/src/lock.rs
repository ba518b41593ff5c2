//! Locks per digest under `tmp/locks/`, so that processes pulling at the same time share their work.
//!
//! - `tmp/locks/<hex>` is held exclusively while one process fetches the blob `sha256:<hex>`; another that
//!   needs the same blob waits for it, then finds the blob and its layer in place.
//! - `tmp/locks/<hex>.pin` is held shared by whoever needs the blob or layer `<hex>` to stay until it is
//!   registered in the index (an ingested layer waiting for its image to be committed, a push reading blobs).
//!   `rmi` and `prune` remove an unreferenced blob or layer only if they can take that lock exclusively
//!   without waiting, and leave it for a later prune otherwise.
//!
//! Lock files are removed by whoever holds them exclusively when the thing they guard is done with (the
//! fetcher after a fetch, a prune after removing). A process that opened the file before it was removed would
//! then hold a lock on a file nobody else can open, so every lock is checked after it is taken to still be the
//! file at its path, and taken again when it is not.

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{io_err, StoreError};
use crate::store::Store;

/// A held `flock(2)` on a file under `tmp/locks/`, released when dropped.
#[derive(Debug)]
pub(crate) struct FileLock {
    path: PathBuf,
    _lock: Flock<File>,
}

impl FileLock {
    /// Takes the lock on `path` (creating the file), waiting for it unless `arg` is a non-blocking kind;
    /// `None` when it is held elsewhere and `arg` says not to wait.
    pub(crate) fn take(path: &Path, arg: FlockArg) -> Result<Option<FileLock>, StoreError> {
        loop {
            let f = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .map_err(io_err("open", path))?;
            let lock = match Flock::lock(f, arg) {
                Ok(l) => l,
                Err((_, Errno::EWOULDBLOCK)) => return Ok(None),
                Err((_, e)) => {
                    return Err(StoreError::LockFile {
                        path: path.to_path_buf(),
                        source: e,
                    })
                }
            };
            let held = lock.metadata().map_err(io_err("stat", path))?;
            match fs::metadata(path) {
                Ok(m) if m.ino() == held.ino() && m.dev() == held.dev() => {
                    return Ok(Some(FileLock {
                        path: path.to_path_buf(),
                        _lock: lock,
                    }))
                }
                // Removed or replaced while we waited: try again on what is there now.
                _ => continue,
            }
        }
    }

    /// Removes the lock file, then releases it. Only for an exclusive lock.
    pub(crate) fn remove(self) {
        if let Err(e) = fs::remove_file(&self.path) {
            log::debug!("cannot remove {}: {e}", self.path.display());
        }
    }
}

/// Shared pins on blobs and layers: while one is held, `rmi` and `prune` leave what it names in place.
#[derive(Debug)]
pub struct Pin {
    _locks: Vec<FileLock>,
}

impl Store {
    fn lock_path(&self, hex: &str, suffix: &str) -> PathBuf {
        self.dir().join("tmp/locks").join(format!("{hex}{suffix}"))
    }

    /// Waits for the right to fetch the blob `<hex>`.
    pub(crate) fn fetch_lock(&self, hex: &str, wait: bool) -> Result<Option<FileLock>, StoreError> {
        let arg = if wait {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockExclusiveNonblock
        };
        FileLock::take(&self.lock_path(hex, ""), arg)
    }

    /// Pins the blobs or layers named by these hex digests.
    pub(crate) fn pin<'a>(
        &self,
        hexes: impl IntoIterator<Item = &'a str>,
    ) -> Result<Pin, StoreError> {
        let mut locks = Vec::new();
        for hex in hexes {
            let l = FileLock::take(&self.lock_path(hex, ".pin"), FlockArg::LockShared)?
                .expect("a blocking lock is always taken");
            locks.push(l);
        }
        Ok(Pin { _locks: locks })
    }

    /// Lets go of a pin and removes its lock files that guard nothing (what it pinned never reached the
    /// store) and that nobody else holds.
    pub(crate) fn unpin(&self, pin: Pin) {
        let paths: Vec<PathBuf> = pin._locks.iter().map(|l| l.path.clone()).collect();
        drop(pin);
        for path in paths {
            if let Err(e) = self.remove_stale_lock(&path) {
                log::debug!("cannot remove {}: {e}", path.display());
            }
        }
    }

    /// The right to remove the blob or layer `<hex>`: `None` while anything pins it.
    pub(crate) fn claim(&self, hex: &str) -> Result<Option<FileLock>, StoreError> {
        FileLock::take(
            &self.lock_path(hex, ".pin"),
            FlockArg::LockExclusiveNonblock,
        )
    }

    /// Lock files under `tmp/locks/` that nobody holds and that guard nothing any more: a fetch lock (the
    /// fetcher removes it when done, so one left behind is a fetch that died) or the pin of a blob or layer
    /// that is gone. Pins of what is still stored are kept: the next pin takes the same file.
    pub fn stale_locks(&self) -> Result<Vec<PathBuf>, StoreError> {
        let dir = self.dir().join("tmp/locks");
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("list", &dir)(e)),
        };
        let mut out = Vec::new();
        for name in rd.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            let path = dir.join(&name);
            if self.is_stale(&name) && free(&path) {
                out.push(path);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes a lock file [`Store::stale_locks`] named, if it is still stale: taken exclusively first, so
    /// nobody holds it, and a process that opened it meanwhile finds it gone and takes a new one.
    pub fn remove_stale_lock(&self, path: &Path) -> Result<(), StoreError> {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Ok(());
        };
        if !path.exists() || !self.is_stale(name) {
            return Ok(());
        }
        if let Some(lock) = FileLock::take(path, FlockArg::LockExclusiveNonblock)? {
            lock.remove();
        }
        Ok(())
    }

    /// Whether the lock file `name` guards nothing: a fetch lock always (held or not, see the caller), a
    /// pin when neither the blob nor the layer it names is stored.
    fn is_stale(&self, name: &str) -> bool {
        match name.strip_suffix(".pin") {
            Some(hex) => {
                let digest = format!("sha256:{hex}");
                !self.blob_path(&digest).exists() && !self.layer_path(&digest).exists()
            }
            None => !name.starts_with('.'),
        }
    }
}

/// Whether nobody holds the lock file at `path` (tried without waiting, and without making the file).
fn free(path: &Path) -> bool {
    match File::open(path) {
        Ok(f) => Flock::lock(f, FlockArg::LockExclusiveNonblock).is_ok(),
        Err(_) => false,
    }
}
