//! What pulls and pushes tell as they go: events for a [`Progress`], which the CLI turns into progress bars,
//! Docker's plain lines or one JSON object per line. Events serialise with an `event` field naming their kind.

use serde::Serialize;

/// One step of a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PullEvent {
    /// `run` or `create` found no such image in the store and pulls it first.
    Missing {
        /// As Docker names it: `busybox:latest`.
        reference: String,
    },
    /// A pull starts (Docker: `latest: Pulling from library/busybox`).
    Pulling {
        /// `busybox:latest`.
        reference: String,
        /// The tag, or the digest for a pull by digest.
        tag: String,
        /// The repository's path on its registry: `library/busybox`.
        repository: String,
    },
    /// The image's layers, bottom first, before any is fetched.
    Layers { layers: Vec<LayerEntry> },
    /// How far one layer has come.
    Layer {
        /// The blob's digest.
        digest: String,
        status: LayerStatus,
        /// Bytes so far (for [`LayerStatus::Waiting`]: those the other process has).
        current: u64,
        /// The blob's size.
        total: u64,
    },
    /// The pull is done (Docker: `Digest: …`, `Status: …`).
    Pulled {
        /// `busybox:latest`.
        reference: String,
        /// `docker.io/library/busybox:latest`.
        name: String,
        /// The digest the registry knows it by (the index's when it came through one).
        digest: String,
        /// The image ID.
        id: String,
        /// Nothing needed fetching: the store had this digest already.
        up_to_date: bool,
    },
}

/// A layer of an image being pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerEntry {
    pub digest: String,
    pub size: u64,
}

/// Where one layer of a pull is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerStatus {
    /// Another process is fetching it; this one waits and shows that one's progress.
    Waiting,
    /// Being downloaded, verified and extracted (one pass).
    Downloading,
    /// It was in the store already.
    Exists,
    /// Fetched (or extracted from a stored blob) and verified.
    Complete,
}

/// One step of a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PushEvent {
    /// A push starts (Docker: `The push refers to repository [docker.io/library/busybox]`).
    Pushing {
        /// The fully qualified repository: `docker.io/library/busybox`.
        repository: String,
    },
    /// What happened to one layer blob, bottom first.
    Blob {
        digest: String,
        status: BlobStatus,
        size: u64,
        /// For [`BlobStatus::Mounted`]: the repository it was mounted from.
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// The registry accepted the manifest (Docker: `latest: digest: sha256:… size: 527`).
    Pushed {
        tag: String,
        digest: String,
        /// The manifest's size in bytes.
        size: u64,
    },
}

/// What a push did with one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobStatus {
    /// The registry has it already in that repository.
    Exists,
    /// Mounted from another repository of the same registry that it was pulled from or pushed to.
    Mounted,
    /// Uploading.
    Pushing,
    /// Uploaded.
    Pushed,
}

/// Told what a pull or push does, as it does it; called from the threads that fetch layers.
pub trait Progress: Sync {
    fn pull(&self, event: &PullEvent);

    fn push(&self, event: &PushEvent) {
        let _ = event;
    }
}

/// Tells nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn pull(&self, _: &PullEvent) {}
}
