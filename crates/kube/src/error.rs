//! What `kube generate` and `kube play` fail on; each message names the object or the field.

use minotaur_engine::error::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("no such container, pod, deployment or compose project: {0}")]
    NotFound(String),
    #[error("no containers in compose project {0}")]
    EmptyProject(String),
    #[error("cannot {what} {name}")]
    Engine {
        what: &'static str,
        name: String,
        #[source]
        source: Box<EngineError>,
    },
    #[error("cannot {what} volume {name}")]
    Volume {
        what: &'static str,
        name: String,
        #[source]
        source: Box<minotaur_engine::error::volume::VolumeError>,
    },
    #[error("{file}: {source}")]
    Yaml {
        file: String,
        #[source]
        source: minotaur_compose::yaml::YamlError,
    },
    #[error("{file}: document {doc}: {what}")]
    Manifest {
        file: String,
        doc: usize,
        what: String,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("pod {pod}: {what}")]
    Pod { pod: String, what: String },
    #[error("cannot {what} {}", path.display())]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Wraps an engine error with what was being done and to what.
pub(crate) fn engine(what: &'static str, name: &str) -> impl FnOnce(EngineError) -> KubeError {
    let name = name.to_owned();
    move |source| KubeError::Engine {
        what,
        name,
        source: Box::new(source),
    }
}
