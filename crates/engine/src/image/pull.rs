//! `pull`: bringing an image from its registry into the store, and the pull a `run` or `create` makes first
//! (`--pull=missing|always|never`).
//!
//! A pull of a tag already in the store asks the registry for the tag's digest with one `HEAD` and stops
//! there when the store knows the image by that digest: no manifest, config or blob is fetched. Otherwise it
//! resolves the reference for the platform (choosing from an index), checks that the layers it lacks fit on
//! the store's filesystem, and ingests the layers, up to [`RegistryOptions::max_concurrent_downloads`] at a
//! time: each streams from the registry (resuming a partial file left by an earlier pull) into
//! [`Store::ingest_layer`], which verifies and extracts it in one pass and shares the fetch with any other
//! process pulling the same blob. The image is registered by [`Store::commit_pulled`] while the ingested
//! layers are still pinned. A pull that fails at any point registers nothing and gives back the layers it
//! brought in; only partial blobs stay, for the next pull to resume.

use std::io;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use minotaur_image::{
    ExtractOptions, ImageId, IngestError, IngestedLayer, LayerDesc, Outcome, SpaceError, Store,
    StoreError,
};
use minotaur_registry::{Client, ClientError, Platform, Reference, ReferenceError, Resolved};
use oci_spec::image::{Descriptor, ImageConfiguration};

use super::progress::{LayerEntry, LayerStatus, Progress, PullEvent};
use super::{RegistryOptions, SetupError};
use crate::context::Context;
use crate::create::HOST_IMAGE;

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("tag can't be used with --all-tags/-a: {0}")]
    TagWithAllTags(String),
    #[error("no such image: {0}")]
    NoSuchImage(String),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Registry(#[from] ClientError),
    #[error("the configuration of {reference} is not a valid image configuration")]
    Config {
        reference: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the manifest of {reference} lists {layers} layers, but its configuration {diff_ids} diff IDs")]
    LayerCount {
        reference: String,
        layers: usize,
        diff_ids: usize,
    },
    #[error("layer {digest} of {reference} has an unsupported digest (only sha256 is supported)")]
    Digest { reference: String, digest: String },
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Commit(#[from] minotaur_image::PullError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `pull` is asked for, beyond the reference.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The platform to choose from an index; `None`: the host's.
    pub platform: Option<Platform>,
    /// Every tag of the repository (`-a`).
    pub all_tags: bool,
    /// How layers are extracted.
    pub extract: ExtractOptions,
}

/// One image a pull brought in (or found up to date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// `busybox:latest` (`name@sha256:…` for a pull by digest).
    pub reference: String,
    pub id: ImageId,
    /// The digest the registry knows it by: the index's when it came through one.
    pub digest: String,
    pub up_to_date: bool,
}

/// `--pull` of `run` and `create`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull when the store does not have the image.
    #[default]
    Missing,
    /// Pull every time (a no-op when the registry's digest is the stored one).
    Always,
    /// Never pull: a missing image is an error.
    Never,
}

impl FromStr for PullPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "missing" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            _ => Err(format!(
                "invalid pull policy {s:?}: expected missing, always or never"
            )),
        }
    }
}

/// Pulls `name` (`NAME[:TAG|@DIGEST]`), or with `all_tags` every tag of the repository `name`.
pub fn pull(
    ctx: &Context,
    registry: &RegistryOptions,
    name: &str,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Vec<Pulled>, PullError> {
    let references = if opts.all_tags {
        // The tag is after a ':' that follows the last '/' (an earlier one is a registry port).
        let last = &name[name.rfind('/').map_or(0, |i| i + 1)..];
        if name.contains('@') || last.contains(':') {
            return Err(PullError::TagWithAllTags(name.to_owned()));
        }
        let reference: Reference = name.parse()?;
        let client = registry.client()?;
        let tags = client.tags(reference.repository())?;
        let references = tags
            .iter()
            .map(|t| Reference::with_tag(reference.repository().clone(), t))
            .collect::<Result<Vec<_>, _>>()?;
        (client, references)
    } else {
        let reference: Reference = name.parse()?;
        (registry.client()?, vec![reference])
    };
    let (client, references) = references;
    let store = minotaur_image::Store::open(&ctx.paths.root)?;
    references
        .iter()
        .map(|r| {
            let pulled = pull_one(&store, &client, registry, r, opts, progress)?;
            let shown = r.familiar();
            crate::events::record(ctx, "image", "pull", &shown, &[("name", &shown)]);
            Ok(pulled)
        })
        .collect()
}

/// Makes sure the image a `run` or `create` names is in the store, pulling it as `policy` says. The
/// built-in `host` image is always there.
pub fn ensure(
    ctx: &Context,
    registry: &RegistryOptions,
    name: &str,
    policy: PullPolicy,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<(), PullError> {
    if name == HOST_IMAGE {
        return Ok(());
    }
    let store = minotaur_image::Store::open(&ctx.paths.root)?;
    let present = match store.resolve(name) {
        Ok(_) => true,
        Err(StoreError::NotFound(_)) => false,
        Err(e) => return Err(e.into()),
    };
    match policy {
        PullPolicy::Missing if present => return Ok(()),
        PullPolicy::Never if present => return Ok(()),
        PullPolicy::Never => {
            let shown = name
                .parse::<Reference>()
                .map_or(name.to_owned(), |r| r.familiar());
            return Err(PullError::NoSuchImage(shown));
        }
        PullPolicy::Missing => {
            let reference: Reference = name.parse()?;
            progress.pull(&PullEvent::Missing {
                reference: reference.familiar(),
            });
        }
        PullPolicy::Always => {}
    }
    pull(ctx, registry, name, opts, progress).map(drop)
}

fn pull_one(
    store: &Store,
    client: &Client,
    registry: &RegistryOptions,
    reference: &Reference,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Pulled, PullError> {
    let repository = reference.repository().familiar();
    let shown = reference.familiar();
    let pulled = |id: ImageId, digest: String, up_to_date: bool| {
        progress.pull(&PullEvent::Pulled {
            reference: shown.clone(),
            name: reference.to_string(),
            digest: digest.clone(),
            id: id.to_string(),
            up_to_date,
        });
        Pulled {
            reference: shown.clone(),
            id,
            digest,
            up_to_date,
        }
    };
    // A tag is kept only when the pull is not by digest (as with Docker, an image pulled by digest gets none).
    let tag = match reference.digest() {
        Some(_) => None,
        None => reference.tag(),
    };
    if let Some(id) = up_to_date(store, client, reference, &repository, tag, opts)? {
        return Ok(pulled(id.0, id.1, true));
    }

    let platform = opts.platform.clone().unwrap_or_else(Platform::host);
    let resolved = client.resolve(reference, &platform)?;
    progress.pull(&PullEvent::Pulling {
        reference: shown.clone(),
        tag: reference.manifest_key(),
        repository: reference.repository().path().to_owned(),
    });
    let layers = layer_descs(&resolved, &shown)?;
    progress.pull(&PullEvent::Layers {
        layers: layers
            .iter()
            .map(|l| LayerEntry {
                digest: l.digest.to_string(),
                size: l.size,
            })
            .collect(),
    });
    store.check_space(store.space_needed(&layers))?;

    let ingested = ingest_all(
        store,
        client,
        reference,
        &resolved.manifest.layers()[..],
        &layers,
        registry.max_concurrent_downloads.max(1),
        &opts.extract,
        progress,
    )?;
    crate::crash::after("pull:layers");
    let committed = store.commit_pulled(&minotaur_image::Pulled {
        repository: &repository,
        tag,
        manifest: &resolved.manifest_bytes,
        index: resolved.index.as_deref(),
        config: &resolved.config,
        layers: &ingested,
    });
    let id = match committed {
        Ok(id) => id,
        Err(e) => {
            give_back(store, ingested);
            return Err(e.into());
        }
    };
    drop(ingested);
    let digest = resolved
        .index_digest
        .as_ref()
        .unwrap_or(&resolved.digest)
        .to_string();
    Ok(pulled(id, digest, false))
}

/// The stored image and the digest it is known by when the registry's digest for `reference` is one the
/// store knows the same image by: one `HEAD`, or none for a reference by digest.
fn up_to_date(
    store: &Store,
    client: &Client,
    reference: &Reference,
    repository: &str,
    tag: Option<&str>,
    opts: &PullOptions,
) -> Result<Option<(ImageId, String)>, PullError> {
    let local = match (reference.digest(), tag) {
        (Some(d), _) => format!("{repository}@{d}"),
        (None, Some(t)) => format!("{repository}:{t}"),
        (None, None) => return Ok(None),
    };
    let Ok(id) = store.resolve(&local) else {
        return Ok(None);
    };
    if let Some(platform) = &opts.platform {
        // Another platform of the same index is another image.
        let config = store.config(&id)?;
        let same = config.os().to_string() == platform.os()
            && config.architecture().to_string() == platform.architecture()
            && (platform.variant().is_none() || config.variant().as_deref() == platform.variant());
        if !same {
            return Ok(None);
        }
    }
    let digest = match reference.digest() {
        Some(d) => d.clone(),
        None => client.head_manifest(reference)?,
    };
    match store.resolve(&format!("{repository}@{digest}")) {
        Ok(known) if known == id => Ok(Some((id, digest.to_string()))),
        _ => Ok(None),
    }
}

/// The layers as the store ingests them: the manifest's blobs with the configuration's diff IDs.
fn layer_descs(resolved: &Resolved, reference: &str) -> Result<Vec<LayerDesc>, PullError> {
    let config: ImageConfiguration =
        serde_json::from_slice(&resolved.config).map_err(|source| PullError::Config {
            reference: reference.to_owned(),
            source,
        })?;
    let layers = resolved.manifest.layers();
    let diff_ids = config.rootfs().diff_ids();
    if layers.len() != diff_ids.len() {
        return Err(PullError::LayerCount {
            reference: reference.to_owned(),
            layers: layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    let digest = |d: &str| {
        d.parse::<minotaur_image::Digest>()
            .map_err(|_| PullError::Digest {
                reference: reference.to_owned(),
                digest: d.to_owned(),
            })
    };
    layers
        .iter()
        .zip(diff_ids)
        .map(|(l, diff_id)| {
            Ok(LayerDesc {
                digest: digest(l.digest().as_ref())?,
                size: l.size(),
                media_type: l.media_type().to_string(),
                diff_id: digest(diff_id)?,
            })
        })
        .collect()
}

/// Ingests every layer, `workers` at a time. On the first failure no further layer is started, and the
/// layers already ingested are given back.
#[allow(clippy::too_many_arguments)]
fn ingest_all(
    store: &Store,
    client: &Client,
    reference: &Reference,
    descriptors: &[Descriptor],
    layers: &[LayerDesc],
    workers: usize,
    extract: &ExtractOptions,
    progress: &dyn Progress,
) -> Result<Vec<IngestedLayer>, PullError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Vec<Mutex<Option<Result<IngestedLayer, IngestError>>>> =
        layers.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers.min(layers.len()) {
            s.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= layers.len() {
                        break;
                    }
                    let r = ingest_one(
                        store,
                        client,
                        reference,
                        &descriptors[i],
                        &layers[i],
                        extract,
                        progress,
                    );
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *results[i].lock().expect("no panics while held") = Some(r);
                }
            });
        }
    });
    let mut done = Vec::new();
    let mut first_error = None;
    for r in results {
        match r.into_inner().expect("no panics while held") {
            Some(Ok(l)) => done.push(l),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_error {
        None => Ok(done),
        Some(e) => {
            give_back(store, done);
            Err(e.into())
        }
    }
}

fn ingest_one(
    store: &Store,
    client: &Client,
    reference: &Reference,
    descriptor: &Descriptor,
    layer: &LayerDesc,
    extract: &ExtractOptions,
    progress: &dyn Progress,
) -> Result<IngestedLayer, IngestError> {
    let digest = layer.digest.to_string();
    let report = |status, current| {
        progress.pull(&PullEvent::Layer {
            digest: digest.clone(),
            status,
            current,
            total: layer.size,
        })
    };
    // The store hashes every byte it ingests (the part a killed pull left included) and refuses a blob
    // whose digest is wrong, so the client does not hash it a second time; it asks for what the store
    // lacks with a Range.
    let source = |offset: u64| -> io::Result<_> {
        client
            .unverified_blob_from(reference.repository(), descriptor, offset)
            .map_err(io::Error::other)
    };
    let on_progress = |p| match p {
        minotaur_image::Progress::Waiting(n) => report(LayerStatus::Waiting, n),
        minotaur_image::Progress::Reading(n) => report(LayerStatus::Downloading, n),
    };
    let l = store.ingest_layer(layer, extract, source, &on_progress)?;
    match l.outcome {
        Outcome::Present => report(LayerStatus::Exists, layer.size),
        Outcome::Fetched { .. } | Outcome::Extracted => report(LayerStatus::Complete, layer.size),
    }
    Ok(l)
}

/// Removes what a failed pull brought in; a failure to is only logged (a prune finds it later).
fn give_back(store: &Store, layers: Vec<IngestedLayer>) {
    if let Err(e) = store.discard_ingested(layers) {
        log::warn!("cannot remove the layers of a failed pull: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies_are_dockers() {
        assert_eq!("missing".parse(), Ok(PullPolicy::Missing));
        assert_eq!("always".parse(), Ok(PullPolicy::Always));
        assert_eq!("never".parse(), Ok(PullPolicy::Never));
        assert_eq!(PullPolicy::default(), PullPolicy::Missing);
        assert!("sometimes".parse::<PullPolicy>().is_err());
    }

    #[test]
    fn a_tag_is_refused_with_all_tags() {
        let ctx = Context::new(crate::paths::Paths::new("/nonexistent", "/nonexistent"));
        let opts = PullOptions {
            all_tags: true,
            ..PullOptions::default()
        };
        for name in ["busybox:1", "localhost:5000/app:1", "app@sha256:0"] {
            let e = pull(
                &ctx,
                &RegistryOptions::default(),
                name,
                &opts,
                &super::super::progress::Silent,
            )
            .unwrap_err();
            assert!(matches!(e, PullError::TagWithAllTags(_)), "{name}: {e}");
        }
    }
}
