//! Why a project could not be loaded, and what the user should know that does not stop the load.

use std::fmt;
use std::path::PathBuf;

use crate::dotenv::DotenvError;
use crate::files::DEFAULT_FILES;
use crate::interpolate::InterpolationError;
use crate::merge::MergeError;
use crate::normalize::NormalizeError;
use crate::schema::SchemaError;
use crate::yaml::{Mark, YamlError};

/// Something the user should know that does not stop the load.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub mark: Option<Mark>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.mark {
            Some(m) => write!(f, "{m}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why a project could not be loaded. Each error is one line that starts with the file and line at fault.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no compose file ({}) in {} or a parent directory", DEFAULT_FILES.join(", "), dir.display())]
    NotFound { dir: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("{}: {source}", path.display())]
    Dotenv {
        path: PathBuf,
        #[source]
        source: DotenvError,
    },
    #[error("{mark}: {path}: {source}")]
    Interpolation {
        mark: Mark,
        path: String,
        #[source]
        source: InterpolationError,
    },
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Normalize(#[from] NormalizeError),
    #[error("{mark}: {message}")]
    Invalid { mark: Mark, message: String },
    #[error("{}: the top level of a compose file must be a mapping", file.display())]
    NotAMapping { file: PathBuf },
    #[error("{}: empty compose file", file.display())]
    Empty { file: PathBuf },
    #[error("invalid project name {name:?}: only lowercase letters, digits, dashes and underscores, starting with a letter or digit")]
    ProjectName { name: String },
    #[error("{mark}: {path} is not supported")]
    Unsupported { mark: Mark, path: String },
    #[error("the normalised model does not fit minotaur's types: {0}")]
    Model(#[source] serde_json::Error),
    #[error("no such service: {0}")]
    NoSuchService(String),
}

pub(crate) fn invalid(mark: &Mark, message: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        mark: mark.clone(),
        message: message.into(),
    }
}
