//! Pushing: asking whether a blob is there, mounting it from another repository of the same registry,
//! uploading it in one streamed `PUT`, and putting a manifest.
//!
//! Pushes always go to a repository's location (registries.conf), never to a mirror, with a token scope of
//! `repository:<path>:pull,push`. An upload is `POST /v2/<name>/blobs/uploads/` (which also authenticates,
//! so the body is never sent twice) and then one `PUT <location>?digest=<digest>` whose body streams from the
//! caller's reader with the descriptor's size as its `Content-Length`; the registry verifies the digest.
//! A streamed body cannot be replayed, so a failed upload is not retried here: the caller may try again.

use std::io::{self, Read};

use oci_spec::image::{Descriptor, Digest};

use crate::auth::repository_scope;
use crate::client::{sha256_digest, Client};
use crate::reference::{Reference, Repository};
use crate::registries::{Endpoint, RegistriesError};
use crate::transport::{Body, Request, Target, TransportError};

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{host} started an upload of blob {digest} without saying where to send it")]
    NoLocation { host: String, digest: String },
    #[error("reading the content of blob {digest}")]
    Content {
        digest: String,
        #[source]
        source: io::Error,
    },
    #[error("digest mismatch for manifest {reference}: expected {expected}, got {got}")]
    DigestMismatch {
        reference: String,
        expected: String,
        got: String,
    },
    #[error(transparent)]
    Registries(#[from] RegistriesError),
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl Client {
    /// Whether `repository` already has the blob `digest` (one `HEAD`).
    pub fn blob_exists(&self, repository: &Repository, digest: &Digest) -> Result<bool, PushError> {
        let endpoint = self.registries.push_endpoint(repository)?;
        let what = format!("blob {digest}");
        let req = Request::new(
            "HEAD",
            &endpoint,
            Target::Path(blob_path(&endpoint, digest)),
            what.clone(),
        )
        .scope(repository_scope(&endpoint.path, true));
        let response = self.transport.send(&req, Body::Empty)?;
        match response.status() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(TransportError::status(&endpoint.host, what, response).into()),
        }
    }

    /// Mounts blob `digest` into `repository` from `from`, another repository of the same registry, without
    /// uploading it. `false` when the registry would not (the blob must then be uploaded).
    pub fn mount_blob(
        &self,
        repository: &Repository,
        digest: &Digest,
        from: &Repository,
    ) -> Result<bool, PushError> {
        let endpoint = self.registries.push_endpoint(repository)?;
        let source = self.registries.push_endpoint(from)?;
        if source.host != endpoint.host {
            return Ok(false);
        }
        let what = format!("a mount of blob {digest} from {}", from.familiar());
        let path = format!(
            "/v2/{}/blobs/uploads/?mount={digest}&from={}",
            endpoint.path, source.path
        );
        let req = Request::new("POST", &endpoint, Target::Path(path), what.clone())
            .scope(repository_scope(&endpoint.path, true))
            .scope(repository_scope(&source.path, false));
        let response = self.transport.send(&req, Body::Empty)?;
        match response.status() {
            201 => Ok(true),
            202 => {
                // The registry started an ordinary upload instead; cancel it (it would expire anyway).
                if let Some(location) = response.header("location").map(str::to_string) {
                    let cancel = Request::new(
                        "DELETE",
                        &endpoint,
                        target(&location),
                        "cancelling an upload",
                    )
                    .scope(repository_scope(&endpoint.path, true));
                    if let Err(e) = self.transport.send(&cancel, Body::Empty) {
                        log::debug!("cancelling the upload session at {location}: {e}");
                    }
                }
                Ok(false)
            }
            _ => Err(TransportError::status(&endpoint.host, what, response).into()),
        }
    }

    /// Uploads the blob `descriptor` to `repository`, streaming `content`, which must yield exactly
    /// `descriptor.size()` bytes.
    pub fn push_blob(
        &self,
        repository: &Repository,
        descriptor: &Descriptor,
        content: &mut dyn Read,
    ) -> Result<(), PushError> {
        let endpoint = self.registries.push_endpoint(repository)?;
        let digest = descriptor.digest();
        let what = format!("an upload of blob {digest}");
        let scope = repository_scope(&endpoint.path, true);
        let start = Request::new(
            "POST",
            &endpoint,
            Target::Path(format!("/v2/{}/blobs/uploads/", endpoint.path)),
            what.clone(),
        )
        .scope(scope.clone());
        let response = self.transport.send(&start, Body::Empty)?;
        if response.status() != 202 {
            return Err(TransportError::status(&endpoint.host, what, response).into());
        }
        let Some(location) = response.header("location").map(str::to_string) else {
            return Err(PushError::NoLocation {
                host: endpoint.host.clone(),
                digest: digest.to_string(),
            });
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let location = format!(
            "{location}{separator}digest={}",
            digest.as_ref().replace(':', "%3A")
        );
        let put = Request::new("PUT", &endpoint, target(&location), what.clone())
            .header("Content-Type", "application/octet-stream")
            .scope(scope);
        let mut exact = Exact {
            inner: content,
            remaining: descriptor.size(),
            error: None,
        };
        let result = self
            .transport
            .send(&put, Body::Stream(&mut exact, descriptor.size()));
        if let Some(source) = exact.error.take() {
            return Err(PushError::Content {
                digest: digest.to_string(),
                source,
            });
        }
        let response = result?;
        if response.status() != 201 {
            return Err(TransportError::status(&endpoint.host, what, response).into());
        }
        Ok(())
    }

    /// Puts a manifest (or index) of `media_type` under the reference's tag (or digest); returns its
    /// digest.
    pub fn push_manifest(
        &self,
        reference: &Reference,
        media_type: &str,
        manifest: &[u8],
    ) -> Result<Digest, PushError> {
        let endpoint = self.registries.push_endpoint(reference.repository())?;
        let digest = sha256_digest(manifest);
        let what = format!("manifest {}", reference.familiar());
        let req = Request::new(
            "PUT",
            &endpoint,
            Target::Path(format!(
                "/v2/{}/manifests/{}",
                endpoint.path,
                reference.manifest_key()
            )),
            what.clone(),
        )
        .header("Content-Type", media_type)
        .scope(repository_scope(&endpoint.path, true));
        let response = self.transport.send(&req, Body::Bytes(manifest))?;
        if response.status() != 201 {
            return Err(TransportError::status(&endpoint.host, what, response).into());
        }
        for expected in [
            reference.digest().map(|d| d.to_string()),
            response.header("docker-content-digest").map(str::to_string),
        ]
        .into_iter()
        .flatten()
        {
            if expected != digest.as_ref() {
                return Err(PushError::DigestMismatch {
                    reference: reference.familiar(),
                    expected,
                    got: digest.to_string(),
                });
            }
        }
        Ok(digest)
    }
}

fn blob_path(endpoint: &Endpoint, digest: &Digest) -> String {
    format!("/v2/{}/blobs/{digest}", endpoint.path)
}

/// An upload `Location`: a path on the registry, or an absolute URL.
fn target(location: &str) -> Target {
    if location.starts_with('/') {
        Target::Path(location.to_string())
    } else {
        Target::Url(location.to_string())
    }
}

/// Yields exactly `remaining` bytes of `inner`, failing (and remembering why) if it is shorter.
struct Exact<'a> {
    inner: &'a mut dyn Read,
    remaining: u64,
    error: Option<io::Error>,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let len = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        match self.inner.read(&mut buf[..len]) {
            Ok(0) => {
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "it ended {} bytes short of its descriptor's size",
                        self.remaining
                    ),
                );
                self.error = Some(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
            Ok(n) => {
                self.remaining -= n as u64;
                Ok(n)
            }
            Err(e) => {
                self.error = Some(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
        }
    }
}
