//! Pushing: asking whether a blob is there, mounting it from another repository of the same registry,
//! uploading it in one streamed `PUT` or in chunks, and putting a manifest.
//!
//! Pushes always go to a repository's location (registries.conf), never to a mirror, with a token scope of
//! `repository:<path>:pull,push`. An upload is `POST /v2/<name>/blobs/uploads/` (which also authenticates,
//! so the body is never sent twice) and then one `PUT <location>?digest=<digest>` whose body streams from the
//! caller's reader with the descriptor's size as its `Content-Length`; the registry verifies the digest.
//! A streamed body cannot be replayed, so a failed upload is not retried here: the caller may try again.
//!
//! A big blob goes in chunks instead ([`Client::push_blob_in_chunks`], the distribution spec's chunked
//! upload): after the `POST`, each chunk is a `PATCH` to the latest `Location` with `Content-Range:
//! START-END` (inclusive), and the upload is closed by an empty `PUT <location>?digest=<digest>`. Each
//! answer's `Range` (`0-END`) says how much the registry holds. A chunk that fails (a broken connection, an
//! error status, a `416` for an offset the registry did not expect) is not a failed upload: the client asks
//! the last location where the upload stands (`GET`, answered with its `Range`; a `416` that carries a
//! `Range` answers that itself) and goes on from there,
//! seeking the content back or forward, so nothing the registry already has is sent again. Only after as
//! many failures in a row as the retry policy has attempts does the upload fail.
//!
//! distribution ties each location to the offset it was handed out at, and cancels the upload when asked
//! about it after the upload grew past that offset: so when a chunk's answer is lost after the registry
//! took the chunk, the status is a `404` and the upload starts again with a new `POST`, the one case in
//! which bytes are sent twice.

use std::io::{self, Read, Seek, SeekFrom};

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
    #[error("{host} answered the upload of blob {digest} with a Range it cannot hold: {range:?}")]
    BadRange {
        host: String,
        digest: String,
        range: String,
    },
    #[error(
        "the upload of blob {digest} to {host} failed {attempts} times in a row at byte {offset}"
    )]
    Stuck {
        host: String,
        digest: String,
        offset: u64,
        attempts: u32,
        #[source]
        source: Box<PushError>,
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
        let location = self.start_upload(&endpoint, digest, &what, &scope)?;
        let location = with_digest(&location, digest);
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

    /// Uploads the blob `descriptor` to `repository` in chunks of at most `chunk_size` bytes (see the module
    /// documentation), reading from `content`, which must hold exactly `descriptor.size()` bytes from its
    /// start. A chunk that fails is resumed from where the registry says the upload stands.
    pub fn push_blob_in_chunks(
        &self,
        repository: &Repository,
        descriptor: &Descriptor,
        content: &mut dyn Upload,
        chunk_size: u64,
    ) -> Result<(), PushError> {
        let endpoint = self.registries.push_endpoint(repository)?;
        let digest = descriptor.digest();
        let size = descriptor.size();
        let chunk_size = chunk_size.max(1);
        let what = format!("an upload of blob {digest}");
        let scope = repository_scope(&endpoint.path, true);
        let mut location = self.start_upload(&endpoint, digest, &what, &scope)?;
        let policy = self.transport.settings().retry;
        let mut offset = 0;
        let mut failures = 0;
        loop {
            // A registry that claims more than the blob has is not to be believed, nor closed.
            if offset > size {
                return Err(PushError::BadRange {
                    host: endpoint.host.clone(),
                    digest: digest.to_string(),
                    range: format!("0-{}", offset - 1),
                });
            }
            if offset == size {
                break;
            }
            let len = chunk_size.min(size - offset);
            let (failure, known) =
                match self.patch(&endpoint, digest, &location, content, offset, len) {
                    Ok(Chunk::Taken {
                        location: next,
                        end,
                    }) => {
                        location = next;
                        offset = end;
                        failures = 0;
                        continue;
                    }
                    Ok(Chunk::Refused(e)) => (e, None),
                    Ok(Chunk::Elsewhere {
                        location: next,
                        end,
                        error,
                    }) => (error, Some((next.unwrap_or_else(|| location.clone()), end))),
                    // The content itself could not be read: no registry can help with that.
                    Err(e) => return Err(e),
                };
            failures += 1;
            if failures >= policy.attempts.max(1) {
                return Err(PushError::Stuck {
                    host: endpoint.host.clone(),
                    digest: digest.to_string(),
                    offset,
                    attempts: failures,
                    source: Box::new(failure),
                });
            }
            if let Some(position) = known {
                log::info!(
                    "{} wants the upload of blob {digest} to go on at byte {}, not {offset}",
                    endpoint.host,
                    position.1
                );
                (location, offset) = position;
                continue;
            }
            let wait = policy.backoff(failures - 1);
            log::info!(
                "a chunk of blob {digest} at byte {offset} failed: {failure}; asking {} where the upload stands in {wait:?}",
                endpoint.host
            );
            std::thread::sleep(wait);
            match self.upload_status(&endpoint, digest, &location, offset)? {
                Some(status) => (location, offset) = status,
                None => {
                    log::info!(
                        "{} no longer knows the upload of blob {digest}; starting it again",
                        endpoint.host
                    );
                    location = self.start_upload(&endpoint, digest, &what, &scope)?;
                    offset = 0;
                }
            }
        }
        let put = Request::new(
            "PUT",
            &endpoint,
            target(&with_digest(&location, digest)),
            what.clone(),
        )
        .header("Content-Type", "application/octet-stream")
        .scope(scope);
        let response = self.transport.send(&put, Body::Empty)?;
        if response.status() != 201 {
            return Err(TransportError::status(&endpoint.host, what, response).into());
        }
        Ok(())
    }

    /// Starts an upload (`POST`); returns where to send it.
    fn start_upload(
        &self,
        endpoint: &Endpoint,
        digest: &Digest,
        what: &str,
        scope: &str,
    ) -> Result<String, PushError> {
        let start = Request::new(
            "POST",
            endpoint,
            Target::Path(format!("/v2/{}/blobs/uploads/", endpoint.path)),
            what,
        )
        .scope(scope.to_string());
        let response = self.transport.send(&start, Body::Empty)?;
        if response.status() != 202 {
            return Err(TransportError::status(&endpoint.host, what, response).into());
        }
        response
            .header("location")
            .map(str::to_string)
            .ok_or_else(|| PushError::NoLocation {
                host: endpoint.host.clone(),
                digest: digest.to_string(),
            })
    }

    /// Sends bytes `offset..offset + len` of `content` as one `PATCH` to `location`. `Err` only when the
    /// content cannot be read; what the registry did not take is a [`Chunk::Refused`].
    fn patch(
        &self,
        endpoint: &Endpoint,
        digest: &Digest,
        location: &str,
        content: &mut dyn Upload,
        offset: u64,
        len: u64,
    ) -> Result<Chunk, PushError> {
        let content_error = |source| PushError::Content {
            digest: digest.to_string(),
            source,
        };
        content
            .seek(SeekFrom::Start(offset))
            .map_err(content_error)?;
        let what = format!("a chunk of blob {digest} at byte {offset}");
        let req = Request::new("PATCH", endpoint, target(location), what.clone())
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", format!("{offset}-{}", offset + len - 1))
            .scope(repository_scope(&endpoint.path, true));
        let mut exact = Exact {
            inner: &mut *content,
            remaining: len,
            error: None,
        };
        let result = self.transport.send(&req, Body::Stream(&mut exact, len));
        if let Some(source) = exact.error.take() {
            return Err(content_error(source));
        }
        let response = match result {
            Ok(r) => r,
            Err(e) => return Ok(Chunk::Refused(e.into())),
        };
        if response.status() == 416 {
            // The registry wants another offset; with a Range it says which, without one it is asked.
            let next = response.header("location").map(str::to_string);
            if let Some(end) = response.header("range").and_then(|r| received(r, offset)) {
                return Ok(Chunk::Elsewhere {
                    location: next,
                    end,
                    error: TransportError::status(&endpoint.host, what, response).into(),
                });
            }
        }
        if response.status() != 202 {
            return Ok(Chunk::Refused(
                TransportError::status(&endpoint.host, what, response).into(),
            ));
        }
        let Some(next) = response.header("location").map(str::to_string) else {
            return Ok(Chunk::Refused(PushError::NoLocation {
                host: endpoint.host.clone(),
                digest: digest.to_string(),
            }));
        };
        // The registry's own count wins over ours; without one, it took the chunk.
        let end = match response.header("range") {
            Some(range) => received(range, offset + len).ok_or_else(|| PushError::BadRange {
                host: endpoint.host.clone(),
                digest: digest.to_string(),
                range: range.to_string(),
            })?,
            None => offset + len,
        };
        Ok(Chunk::Taken {
            location: next,
            end,
        })
    }

    /// Where the upload at `location` stands (`GET`): the location to go on with and how many bytes the
    /// registry holds; `None` when the registry no longer knows the upload (`404`). `offset` is where the
    /// client thought it was.
    fn upload_status(
        &self,
        endpoint: &Endpoint,
        digest: &Digest,
        location: &str,
        offset: u64,
    ) -> Result<Option<(String, u64)>, PushError> {
        let what = format!("the status of the upload of blob {digest}");
        let req = Request::new("GET", endpoint, target(location), what.clone())
            .scope(repository_scope(&endpoint.path, true));
        let response = self.transport.send(&req, Body::Empty)?;
        if response.status() == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&response.status()) {
            return Err(TransportError::status(&endpoint.host, what, response).into());
        }
        let next = response
            .header("location")
            .map_or_else(|| location.to_string(), str::to_string);
        let held = match response.header("range") {
            Some(range) => received(range, offset).ok_or_else(|| PushError::BadRange {
                host: endpoint.host.clone(),
                digest: digest.to_string(),
                range: range.to_string(),
            })?,
            None => 0,
        };
        Ok(Some((next, held)))
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

/// What a blob is uploaded from in chunks: content that can be read again from any offset (a file).
pub trait Upload: Read + Seek {}

impl<T: Read + Seek> Upload for T {}

/// How one `PATCH` went.
enum Chunk {
    /// The registry holds the upload up to byte `end` (exclusive) and wants the next chunk at `location`.
    Taken { location: String, end: u64 },
    /// It did not take the chunk (or its answer was lost).
    Refused(PushError),
    /// It did not take the chunk (`416`) and said where the upload stands: `end` bytes, to go on at
    /// `location` (or the same location when it named none).
    Elsewhere {
        location: Option<String>,
        end: u64,
        error: PushError,
    },
}

/// How many bytes a `Range: [bytes=]0-END` header says the registry holds. distribution sends `0-0` for an
/// empty upload as well as for one of one byte; `expected` (what the client believes) settles which.
fn received(range: &str, expected: u64) -> Option<u64> {
    let range = range.trim();
    let range = range.strip_prefix("bytes=").unwrap_or(range);
    let (start, end) = range.split_once('-')?;
    let (start, end): (u64, u64) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    if start != 0 {
        return None;
    }
    if end == 0 && expected != 1 {
        return Some(0);
    }
    end.checked_add(1)
}

/// `location` with the `digest` query parameter that closes an upload.
fn with_digest(location: &str, digest: &Digest) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    format!(
        "{location}{separator}digest={}",
        digest.as_ref().replace(':', "%3A")
    )
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

#[cfg(test)]
mod tests {
    use super::received;

    #[test]
    fn ranges_say_how_much_the_registry_holds() {
        assert_eq!(received("0-1023", 0), Some(1024));
        assert_eq!(received("bytes=0-1023", 0), Some(1024));
        assert_eq!(received("0-0", 0), Some(0));
        assert_eq!(received("0-0", 5), Some(0));
        assert_eq!(received("0-0", 1), Some(1));
        assert_eq!(received("5-9", 10), None);
        assert_eq!(received("0-", 10), None);
        assert_eq!(received("nonsense", 10), None);
        assert_eq!(received(&format!("0-{}", u64::MAX), 10), None);
    }
}
