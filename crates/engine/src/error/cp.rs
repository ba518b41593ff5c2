//! What `cp` fails on (see the `cp` module).

use std::io;
use std::path::PathBuf;

use minotaur_image::extract::ExtractError;
use nix::errno::Errno;

/// What `cp` fails on, in Docker's words where Docker has them.
#[derive(Debug, thiserror::Error)]
pub enum CpError {
    #[error("must specify at least one container source")]
    NoContainer,
    #[error("copying between containers is not supported")]
    BetweenContainers,
    #[error("Could not find the file {path} in container {container}")]
    NotFound { path: String, container: String },
    #[error("lstat {0}: no such file or directory")]
    NoLocal(PathBuf),
    #[error("invalid output path: directory {0} does not exist")]
    NoLocalDir(PathBuf),
    #[error("cannot copy a directory to a file: {0}")]
    DirToFile(String),
    #[error("destination \"{0}\" must be a directory")]
    NotADirectory(String),
    #[error("container rootfs is marked read-only")]
    ReadOnly,
    #[error("cannot {what} {path} in container {container}")]
    Container {
        what: &'static str,
        path: String,
        container: String,
        #[source]
        source: Errno,
    },
    #[error("cannot {what} {}", path.display())]
    Local {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write into container {container}")]
    Extract {
        container: String,
        #[source]
        source: ExtractError,
    },
    #[error(transparent)]
    Detached(#[from] minotaur_runtime::detached::DetachedError),
}
