//! The client and pulling manifests: resolving a reference (through an index, for one platform) to an image
//! manifest and its configuration, checking whether a tag moved, listing tags, validating a login.
//!
//! Manifests are asked for with an `Accept` of Docker's schema 2 (manifest and manifest list) and OCI's
//! (manifest and index) types, read whole (they are small; at most 4 MiB is accepted), and verified: against
//! the reference's digest when it has one, otherwise against the `Docker-Content-Digest` the registry sent.
//! For pulls, a repository's mirrors (registries.conf) are tried first, in order; any failure at a mirror
//! moves on to the next, and the origin's answer is final.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use oci_spec::image::{Descriptor, Digest, ImageIndex, ImageManifest};
use sha2::{Digest as _, Sha256};

use crate::auth::{repository_scope, Anonymous, CredentialSource, Credentials};
use crate::blob::{BlobError, BlobReader};
use crate::platform::{Platform, PlatformError};
use crate::reference::{Reference, Repository};
use crate::registries::{Endpoint, RegistriesConf, RegistriesError};
use crate::tls::DEFAULT_CERTS_DIRS;
use crate::transport::{
    Body, Request, Response, RetryPolicy, Settings, Target, Transport, TransportError,
};

/// Docker's schema 2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's schema 2 manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI's image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI's image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Largest manifest accepted.
const MANIFEST_MAX: u64 = 4 << 20;
/// Largest image configuration accepted.
const CONFIG_MAX: u64 = 16 << 20;

/// Why a pull (or a tag listing, or a login check) failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("manifest unknown: {0}")]
    ManifestUnknown(String),
    #[error("repository unknown: {0}")]
    RepositoryUnknown(String),
    #[error("digest mismatch for {what}: expected {expected}, got {got}")]
    DigestMismatch {
        what: String,
        expected: String,
        got: String,
    },
    #[error("{reference}: {source}")]
    Platform {
        reference: String,
        #[source]
        source: PlatformError,
    },
    #[error("{what} is larger than the {limit} bytes allowed")]
    TooLarge { what: String, limit: u64 },
    #[error("bad manifest {reference}: {why}")]
    BadManifest { reference: String, why: String },
    #[error("unsupported manifest type {media_type:?} for {reference}")]
    UnsupportedManifest {
        reference: String,
        media_type: String,
    },
    #[error("reading {what}")]
    Read {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("fetching the configuration of {reference}")]
    Config {
        reference: String,
        #[source]
        source: Box<BlobError>,
    },
    #[error(transparent)]
    Registries(#[from] RegistriesError),
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// A reference resolved to one image manifest.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The image manifest's digest.
    pub digest: Digest,
    /// Its media type (Docker schema 2 or OCI).
    pub media_type: String,
    /// Its bytes exactly as the registry sent them (verified against `digest`).
    pub manifest_bytes: Vec<u8>,
    pub manifest: ImageManifest,
    /// The image configuration's bytes (verified against the manifest's config descriptor).
    pub config: Vec<u8>,
    /// The index's digest, when the reference pointed at an index (manifest list) rather than a manifest:
    /// this is what [`Client::head_manifest`] returns for the same reference.
    pub index_digest: Option<Digest>,
    /// The index's bytes exactly as the registry sent them (verified against `index_digest`), so that the
    /// image store can keep the index the image was chosen from.
    pub index: Option<Vec<u8>>,
}

/// Builds a [`Client`]; every setting has a default.
pub struct ClientBuilder {
    registries: RegistriesConf,
    credentials: Arc<dyn CredentialSource>,
    settings: Settings,
}

impl ClientBuilder {
    /// registries.conf to follow (default: none, so no mirrors, rewrites or blocks).
    pub fn registries(mut self, registries: RegistriesConf) -> Self {
        self.registries = registries;
        self
    }

    /// Where credentials come from (default: none, anonymous access).
    pub fn credentials(mut self, source: impl CredentialSource + 'static) -> Self {
        self.credentials = Arc::new(source);
        self
    }

    /// The `certs.d` directories (default: `/etc/containers/certs.d`, `/etc/docker/certs.d`).
    pub fn certs_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.settings.certs_dirs = dirs;
        self
    }

    /// How long a connection may deliver nothing before it is dropped and resumed (default 30 s).
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.settings.stall_timeout = timeout;
        self
    }

    /// How failed requests are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.settings.retry = retry;
        self
    }

    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.settings.user_agent = user_agent.into();
        self
    }

    pub fn build(self) -> Client {
        Client {
            transport: Arc::new(Transport::new(self.settings, self.credentials)),
            registries: Arc::new(self.registries),
        }
    }
}

/// A registry client. Cloning is cheap; clones share connections and tokens.
#[derive(Clone)]
pub struct Client {
    pub(crate) transport: Arc<Transport>,
    pub(crate) registries: Arc<RegistriesConf>,
}

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            registries: RegistriesConf::default(),
            credentials: Arc::new(Anonymous),
            settings: Settings {
                certs_dirs: DEFAULT_CERTS_DIRS.iter().map(PathBuf::from).collect(),
                stall_timeout: Duration::from_secs(30),
                connect_timeout: Duration::from_secs(15),
                retry: RetryPolicy::default(),
                user_agent: concat!("minotaur/", env!("CARGO_PKG_VERSION")).to_string(),
            },
        }
    }

    /// Resolves `reference` to an image manifest and its configuration, choosing `platform` from an index.
    pub fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<Resolved, ClientError> {
        self.on_mirrors(reference, |endpoint| {
            self.resolve_at(endpoint, reference, platform)
        })
    }

    /// The digest `reference` points at now (an index's, if it is one), with one `HEAD`: compare it with
    /// [`Resolved::index_digest`] (or [`Resolved::digest`]) to tell whether a pulled image is up to date.
    pub fn head_manifest(&self, reference: &Reference) -> Result<Digest, ClientError> {
        self.on_mirrors(reference, |endpoint| {
            let response = self.transport.send(
                &manifest_request("HEAD", endpoint, reference, &reference.manifest_key()),
                Body::Empty,
            )?;
            match response.status() {
                200 => {}
                404 => return Err(ClientError::ManifestUnknown(reference.familiar())),
                _ => {
                    return Err(TransportError::status(
                        &endpoint.host,
                        format!("manifest {}", reference.familiar()),
                        response,
                    )
                    .into())
                }
            }
            if let Some(digest) = response
                .header("docker-content-digest")
                .and_then(|d| Digest::from_str(d).ok())
            {
                if let Some(wanted) = reference.digest() {
                    if &digest != wanted {
                        return Err(ClientError::DigestMismatch {
                            what: format!("manifest {}", reference.familiar()),
                            expected: wanted.to_string(),
                            got: digest.to_string(),
                        });
                    }
                }
                return Ok(digest);
            }
            // No digest header (some registries omit it on HEAD): fetch the manifest and hash it.
            let (_, _, digest) = self.fetch_manifest(
                endpoint,
                reference,
                &reference.manifest_key(),
                reference.digest(),
            )?;
            Ok(digest)
        })
    }

    /// The tags of a repository, in the registry's order.
    pub fn tags(&self, repository: &Repository) -> Result<Vec<String>, ClientError> {
        #[derive(serde::Deserialize)]
        struct List {
            tags: Option<Vec<String>>,
        }
        let endpoint = self.registries.push_endpoint(repository)?;
        let mut tags = Vec::new();
        let mut target = Target::Path(format!("/v2/{}/tags/list", endpoint.path));
        loop {
            let what = format!("the tags of {}", repository.familiar());
            let req = Request::new("GET", &endpoint, target, what.clone())
                .scope(repository_scope(&endpoint.path, false));
            let response = self.transport.send(&req, Body::Empty)?;
            match response.status() {
                200 => {}
                404 => return Err(ClientError::RepositoryUnknown(repository.familiar())),
                _ => return Err(TransportError::status(&endpoint.host, what, response).into()),
            }
            let next = response
                .header("link")
                .and_then(next_link)
                .map(str::to_string);
            let body = read_limited(response, MANIFEST_MAX, &what)?;
            let list: List = serde_json::from_slice(&body).map_err(|e| ClientError::Read {
                what: what.clone(),
                source: e.into(),
            })?;
            tags.extend(list.tags.unwrap_or_default());
            match next {
                Some(next) if next.starts_with('/') => target = Target::Path(next),
                Some(next) => target = Target::Url(next),
                None => return Ok(tags),
            }
        }
    }

    /// Checks that `registry` (`docker.io`, `localhost:5000`) accepts `credentials`, as `login` does.
    pub fn check_login(
        &self,
        registry: &str,
        credentials: &Credentials,
    ) -> Result<(), ClientError> {
        let endpoint = self.registries.registry_endpoint(registry)?;
        let mut only = HashMap::new();
        only.insert(endpoint.registry.clone(), credentials.clone());
        let transport = Transport::new(self.transport.settings().clone(), Arc::new(only));
        let req = Request::new(
            "GET",
            &endpoint,
            Target::Path("/v2/".into()),
            "the API version check",
        );
        let response = transport.send(&req, Body::Empty)?;
        if response.status() == 200 {
            Ok(())
        } else {
            Err(TransportError::status(&endpoint.host, "the API version check", response).into())
        }
    }

    /// Runs `f` on each pull endpoint of the reference's repository until one succeeds.
    fn on_mirrors<T>(
        &self,
        reference: &Reference,
        mut f: impl FnMut(&Endpoint) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let endpoints = self.registries.pull_endpoints(reference.repository())?;
        let (origin, mirrors) = endpoints
            .split_last()
            .expect("the origin is always an endpoint");
        for mirror in mirrors {
            match f(mirror) {
                Ok(t) => return Ok(t),
                Err(e) => log::warn!(
                    "mirror {} failed for {}: {e}; trying the next",
                    mirror.host,
                    reference.familiar()
                ),
            }
        }
        f(origin)
    }

    fn resolve_at(
        &self,
        endpoint: &Endpoint,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<Resolved, ClientError> {
        let (bytes, media_type, digest) = self.fetch_manifest(
            endpoint,
            reference,
            &reference.manifest_key(),
            reference.digest(),
        )?;
        let (manifest_bytes, media_type, digest, index) = if is_index(&media_type) {
            let parsed: ImageIndex =
                serde_json::from_slice(&bytes).map_err(|e| ClientError::BadManifest {
                    reference: reference.familiar(),
                    why: e.to_string(),
                })?;
            let chosen = platform
                .select(&parsed)
                .map_err(|source| ClientError::Platform {
                    reference: reference.familiar(),
                    source,
                })?;
            let wanted = chosen.digest().clone();
            let (manifest, media_type, got) =
                self.fetch_manifest(endpoint, reference, wanted.as_ref(), Some(&wanted))?;
            if is_index(&media_type) {
                return Err(ClientError::UnsupportedManifest {
                    reference: format!("{} (an index inside an index)", reference.familiar()),
                    media_type,
                });
            }
            (manifest, media_type, got, Some((bytes, digest)))
        } else {
            (bytes, media_type, digest, None)
        };
        let (index, index_digest) = match index {
            Some((bytes, digest)) => (Some(bytes), Some(digest)),
            None => (None, None),
        };
        let manifest: ImageManifest =
            serde_json::from_slice(&manifest_bytes).map_err(|e| ClientError::BadManifest {
                reference: reference.familiar(),
                why: e.to_string(),
            })?;
        let config_descriptor = manifest.config();
        if config_descriptor.size() > CONFIG_MAX {
            return Err(ClientError::TooLarge {
                what: format!("the configuration of {}", reference.familiar()),
                limit: CONFIG_MAX,
            });
        }
        let config_error = |source: BlobError| ClientError::Config {
            reference: reference.familiar(),
            source: Box::new(source),
        };
        let mut reader = crate::blob::BlobReader::open(
            self.transport.clone(),
            vec![endpoint.clone()],
            config_descriptor,
            0,
            Some(Sha256::new()),
        )
        .map_err(config_error)?;
        let mut config = Vec::with_capacity(config_descriptor.size() as usize);
        reader
            .read_to_end(&mut config)
            .map_err(|e| config_error(BlobError::from_io(e)))?;
        Ok(Resolved {
            digest,
            media_type,
            manifest_bytes,
            manifest,
            config,
            index_digest,
            index,
        })
    }

    /// GETs a manifest by tag or digest and verifies it; returns its bytes, media type and digest.
    pub(crate) fn fetch_manifest(
        &self,
        endpoint: &Endpoint,
        reference: &Reference,
        key: &str,
        expected: Option<&Digest>,
    ) -> Result<(Vec<u8>, String, Digest), ClientError> {
        let what = format!("manifest {}", reference.familiar());
        let response = self.transport.send(
            &manifest_request("GET", endpoint, reference, key),
            Body::Empty,
        )?;
        match response.status() {
            200 => {}
            404 => return Err(ClientError::ManifestUnknown(reference.familiar())),
            _ => return Err(TransportError::status(&endpoint.host, what, response).into()),
        }
        let header_digest = response.header("docker-content-digest").map(str::to_string);
        let content_type = response.content_type().to_string();
        let bytes = read_limited(response, MANIFEST_MAX, &what)?;
        let got = sha256_digest(&bytes);
        let expected = match expected {
            Some(d) => Some(d.to_string()),
            None => header_digest.filter(|d| d.starts_with("sha256:")),
        };
        if let Some(expected) = expected {
            if expected != got.as_ref() {
                return Err(ClientError::DigestMismatch {
                    what,
                    expected,
                    got: got.to_string(),
                });
            }
        }
        let media_type = media_type_of(&content_type, &bytes);
        match media_type.as_str() {
            DOCKER_MANIFEST | DOCKER_MANIFEST_LIST | OCI_MANIFEST | OCI_INDEX => {
                Ok((bytes, media_type, got))
            }
            _ => Err(ClientError::UnsupportedManifest {
                reference: reference.familiar(),
                media_type,
            }),
        }
    }
}

fn manifest_request<'a>(
    method: &'static str,
    endpoint: &'a Endpoint,
    reference: &Reference,
    key: &str,
) -> Request<'a> {
    Request::new(
        method,
        endpoint,
        Target::Path(format!("/v2/{}/manifests/{key}", endpoint.path)),
        format!("manifest {}", reference.familiar()),
    )
    .header(
        "Accept",
        [
            OCI_INDEX,
            DOCKER_MANIFEST_LIST,
            OCI_MANIFEST,
            DOCKER_MANIFEST,
        ]
        .join(", "),
    )
    .scope(repository_scope(&endpoint.path, false))
}

fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// The manifest's type from `Content-Type`, or, when that is generic, from the document itself.
fn media_type_of(content_type: &str, bytes: &[u8]) -> String {
    let content_type = content_type.split(';').next().unwrap_or("").trim();
    if !content_type.is_empty()
        && content_type != "application/json"
        && content_type != "text/plain"
    {
        return content_type.to_string();
    }
    #[derive(serde::Deserialize)]
    struct Sniff {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Sniff>(bytes) {
        Ok(Sniff {
            media_type: Some(t),
            ..
        }) => t,
        Ok(Sniff {
            manifests: Some(_), ..
        }) => OCI_INDEX.to_string(),
        Ok(_) => OCI_MANIFEST.to_string(),
        Err(_) => content_type.to_string(),
    }
}

pub(crate) fn sha256_digest(bytes: &[u8]) -> Digest {
    let hex = format!("sha256:{:x}", Sha256::digest(bytes));
    Digest::from_str(&hex).expect("a sha256 digest is valid")
}

fn read_limited(response: Response, limit: u64, what: &str) -> Result<Vec<u8>, ClientError> {
    let mut bytes = Vec::new();
    response
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ClientError::Read {
            what: what.to_string(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(ClientError::TooLarge {
            what: what.to_string(),
            limit,
        });
    }
    Ok(bytes)
}

/// The target of `Link: <url>; rel="next"`.
fn next_link(link: &str) -> Option<&str> {
    link.split(',')
        .find(|l| l.contains("rel=\"next\"") || l.contains("rel=next"))
        .and_then(|l| {
            let start = l.find('<')? + 1;
            let end = l.find('>')?;
            Some(&l[start..end])
        })
}

/// Blobs, streamed by a [`BlobReader`] (see the blob module).
impl Client {
    /// Streams the blob `descriptor` of `repository` from its start.
    pub fn blob(
        &self,
        repository: &Repository,
        descriptor: &Descriptor,
    ) -> Result<BlobReader, BlobError> {
        let endpoints = self.registries.pull_endpoints(repository)?;
        BlobReader::open(
            self.transport.clone(),
            endpoints,
            descriptor,
            0,
            Some(Sha256::new()),
        )
    }

    /// Streams the rest of a blob whose first part the caller already has: `prefix` is read to its end and
    /// hashed, and the download starts where it ends.
    pub fn blob_resume(
        &self,
        repository: &Repository,
        descriptor: &Descriptor,
        prefix: &mut dyn Read,
    ) -> Result<BlobReader, BlobError> {
        let digest = descriptor.digest().to_string();
        let mut hasher = Sha256::new();
        let len = io::copy(prefix, &mut hasher).map_err(|source| BlobError::Prefix {
            digest: digest.clone(),
            source,
        })?;
        if len > descriptor.size() {
            return Err(BlobError::PrefixTooLong {
                digest,
                len,
                size: descriptor.size(),
            });
        }
        let endpoints = self.registries.pull_endpoints(repository)?;
        BlobReader::open(
            self.transport.clone(),
            endpoints,
            descriptor,
            len,
            Some(hasher),
        )
    }

    /// Streams the blob `descriptor` of `repository` from byte `offset` on, **without checking its digest**:
    /// for a caller that hashes the whole blob itself and refuses it on a mismatch. Its size is still
    /// enforced: a blob that ends early is resumed, one that runs long is an error.
    pub fn unverified_blob_from(
        &self,
        repository: &Repository,
        descriptor: &Descriptor,
        offset: u64,
    ) -> Result<BlobReader, BlobError> {
        if offset > descriptor.size() {
            return Err(BlobError::PrefixTooLong {
                digest: descriptor.digest().to_string(),
                len: offset,
                size: descriptor.size(),
            });
        }
        let endpoints = self.registries.pull_endpoints(repository)?;
        BlobReader::open(self.transport.clone(), endpoints, descriptor, offset, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_the_header_or_the_document() {
        assert_eq!(
            media_type_of(
                "application/vnd.oci.image.index.v1+json; charset=utf-8",
                b"{}"
            ),
            OCI_INDEX
        );
        assert_eq!(
            media_type_of(
                "application/json",
                br#"{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#
            ),
            DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of("", br#"{"schemaVersion":2,"manifests":[]}"#),
            OCI_INDEX
        );
        assert_eq!(
            media_type_of("text/plain", br#"{"schemaVersion":2,"config":{}}"#),
            OCI_MANIFEST
        );
    }

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(next_link(r#"<https://x/1>; rel="prev""#), None);
    }

    #[test]
    fn sha256_digests() {
        assert_eq!(
            sha256_digest(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
