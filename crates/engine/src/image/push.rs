//! `push`: sending an image of the store to a registry.
//!
//! The store says what to send ([`Store::push_artifacts`]: the manifest bit for bit, the config and the layer
//! blobs as stored, plain layers gzipped once), so that a pulled image goes out with the digests it came
//! with. Each blob is skipped when the registry has it already (one `HEAD`), mounted from another repository
//! of the same registry when the image was pulled from or pushed to one (its RepoDigests), and uploaded
//! otherwise: in one request, or in resumable chunks when it is bigger than
//! [`RegistryOptions::push_chunk_size`]; then the manifest is put under the tag, and the digest it was accepted as is recorded.

use minotaur_image::{PushBlob, Store, StoreError};
use minotaur_registry::{
    Client, PushError as ClientPushError, Reference, ReferenceError, Repository,
};
use oci_spec::image::{Descriptor, MediaType};

use super::progress::{BlobStatus, Progress, PushEvent};
use super::{RegistryOptions, SetupError};
use crate::context::Context;

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("cannot push {0}: push a tag, not a digest")]
    ByDigest(String),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Artifacts(#[from] minotaur_image::PushError),
    #[error("cannot read blob {digest} of the store")]
    Blob {
        digest: String,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Registry(#[from] ClientPushError),
    #[error("{reference}: the registry accepted the manifest as {got}, not as {expected}")]
    ManifestDigest {
        reference: String,
        expected: String,
        got: String,
    },
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `registry:5000/app:1`.
    pub reference: String,
    /// The manifest's digest.
    pub digest: String,
    pub size: u64,
}

/// Pushes the image `name` (`NAME[:TAG]`, `latest` when no tag is given) to its registry.
pub fn push(
    ctx: &Context,
    registry: &RegistryOptions,
    name: &str,
    progress: &dyn Progress,
) -> Result<Pushed, PushError> {
    let reference: Reference = name.parse()?;
    let Some(tag) = reference.tag().filter(|_| reference.digest().is_none()) else {
        return Err(PushError::ByDigest(reference.familiar()));
    };
    let local = reference.familiar();
    let store = Store::open(&ctx.paths.root)?;
    // Before any request: an image that is not there is the first thing to say.
    store.resolve(&local)?;
    let client = registry.client()?;
    let artifacts = store.push_artifacts(&local)?;
    let repository = reference.repository();
    progress.push(&PushEvent::Pushing {
        repository: repository.to_string(),
    });
    // Repositories of the same registry that have this image's blobs: where it was pulled from or pushed to.
    let sources: Vec<Repository> = store
        .inspect(&artifacts.id.to_string())?
        .repo_digests
        .iter()
        .filter_map(|d| Repository::parse(d.split_once('@')?.0).ok())
        .filter(|r| r.domain() == repository.domain() && r != repository)
        .collect();
    let chunk_size = registry.push_chunk_size.max(1);
    for blob in &artifacts.layers {
        push_blob(&client, repository, &sources, blob, chunk_size, progress)?;
    }
    // The configuration goes last and, as with Docker, unannounced.
    push_blob(
        &client,
        repository,
        &sources,
        &artifacts.config,
        chunk_size,
        &super::progress::Silent,
    )?;
    let digest = client.push_manifest(
        &reference,
        &artifacts.manifest_media_type,
        &artifacts.manifest,
    )?;
    if digest.to_string() != artifacts.manifest_digest.to_string() {
        return Err(PushError::ManifestDigest {
            reference: reference.familiar(),
            expected: artifacts.manifest_digest.to_string(),
            got: digest.to_string(),
        });
    }
    store.record_push(
        &artifacts.id,
        &repository.familiar(),
        &artifacts.manifest_digest,
    )?;
    let size = artifacts.manifest.len() as u64;
    progress.push(&PushEvent::Pushed {
        tag: tag.to_owned(),
        digest: digest.to_string(),
        size,
    });
    Ok(Pushed {
        reference: reference.familiar(),
        digest: digest.to_string(),
        size,
    })
}

fn push_blob(
    client: &Client,
    repository: &Repository,
    sources: &[Repository],
    blob: &PushBlob,
    chunk_size: u64,
    progress: &dyn Progress,
) -> Result<(), PushError> {
    let digest: oci_spec::image::Digest = blob
        .digest
        .to_string()
        .parse()
        .expect("a store digest is a valid OCI digest");
    let report = |status, from: Option<&Repository>| {
        progress.push(&PushEvent::Blob {
            digest: blob.digest.to_string(),
            status,
            size: blob.size,
            from: from.map(Repository::familiar),
        })
    };
    if client.blob_exists(repository, &digest)? {
        report(BlobStatus::Exists, None);
        return Ok(());
    }
    for from in sources {
        if client.mount_blob(repository, &digest, from)? {
            report(BlobStatus::Mounted, Some(from));
            return Ok(());
        }
    }
    report(BlobStatus::Pushing, None);
    let descriptor = Descriptor::new(MediaType::from(blob.media_type.as_str()), blob.size, digest);
    let mut content = blob.open().map_err(|source| PushError::Blob {
        digest: blob.digest.to_string(),
        source,
    })?;
    if blob.size > chunk_size {
        client.push_blob_in_chunks(repository, &descriptor, &mut content, chunk_size)?;
    } else {
        client.push_blob(repository, &descriptor, &mut content)?;
    }
    report(BlobStatus::Pushed, None);
    Ok(())
}
