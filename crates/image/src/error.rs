//! Why a store operation failed: one error for the store and the modules beside it (layers, the index,
//! imports, pulls and pushes), which all read and write under the same root.

use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::change::ChangeError;
use crate::extract::ExtractError;
use crate::reference::{ImageId, ReferenceError};

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
    #[error("cannot lock {path}")]
    LockFile {
        path: PathBuf,
        #[source]
        source: Errno,
    },
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

pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { op, path, source }
}
