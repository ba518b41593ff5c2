//! Free space: checking that a pull fits before it starts, so that it fails at once and not half way.
//!
//! The engine should ask for [`Store::space_needed`] of an image's layers: for each layer whose blob is not
//! in the store yet, its compressed size (less what a partial file already holds) plus, when its extracted
//! layer is missing too, an estimate of the tree: [`EXPANSION`] times the compressed size for gzip and zstd
//! layers (container layers typically unpack to 2–3 times their gzip size), the size itself for plain tar.
//! The estimate errs on the large side; a layer that turns out bigger still fails cleanly with `ENOSPC`.

use std::path::PathBuf;

use nix::errno::Errno;

use crate::ingest::LayerDesc;
use crate::layer::Compression;
use crate::store::Store;

/// How many times its compressed size a compressed layer is assumed to take once extracted.
pub const EXPANSION: u64 = 3;

/// Why a pull would not fit.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    #[error("cannot read the free space of {0}")]
    Statvfs(PathBuf, #[source] Errno),
    #[error(
        "not enough free space for the image in {}: need {}, have {}",
        path.display(), human_size(*need), human_size(*have)
    )]
    NotEnough { path: PathBuf, need: u64, have: u64 },
}

impl Store {
    /// Bytes the store would grow by to hold these layers (see the module documentation).
    pub fn space_needed(&self, layers: &[LayerDesc]) -> u64 {
        layers
            .iter()
            .map(|l| {
                let blob = if self.has_blob(&l.digest) {
                    0
                } else {
                    l.size
                        .saturating_sub(self.partial_size(&l.digest).unwrap_or(0))
                };
                let tree = if self.layer_path(l.diff_id.hex()).is_dir() {
                    0
                } else {
                    match Compression::from_media_type(&l.media_type) {
                        Some(Compression::None) => l.size,
                        _ => l.size.saturating_mul(EXPANSION),
                    }
                };
                blob.saturating_add(tree)
            })
            .fold(0u64, u64::saturating_add)
    }

    /// Bytes free for an unprivileged writer on the store's filesystem.
    pub fn space_available(&self) -> Result<u64, SpaceError> {
        let st = nix::sys::statvfs::statvfs(self.dir())
            .map_err(|e| SpaceError::Statvfs(self.dir().to_path_buf(), e))?;
        Ok((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
    }

    /// Fails at once, saying how much is needed and how much there is, when `need` bytes do not fit.
    pub fn check_space(&self, need: u64) -> Result<(), SpaceError> {
        let have = self.space_available()?;
        if need > have {
            return Err(SpaceError::NotEnough {
                path: self.dir().to_path_buf(),
                need,
                have,
            });
        }
        Ok(())
    }
}

/// A size as Docker prints it (go-units `HumanSize`): decimal units, four significant digits.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    let decimals = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1_000), "1kB");
        assert_eq!(human_size(4_261_000), "4.261MB");
        assert_eq!(human_size(77_800_000), "77.8MB");
        assert_eq!(human_size(1_500_000_000), "1.5GB");
    }
}
