//! Downloading blobs: a [`BlobReader`] streams one blob, resumes it when the connection breaks or stalls,
//! and verifies its size and sha256 digest as it reaches the end.
//!
//! Nothing is held in memory beyond one read buffer. A resumed request asks for `Range: bytes=<offset>-`;
//! a registry (or a proxy) that ignores the range and answers `200` with the whole blob is coped with by
//! discarding the part already delivered. The caller may itself start part-way, from a partial blob on
//! disk: it hands the part it has to [`Client::blob_resume`](crate::Client::blob_resume), which hashes it so the final check covers
//! the whole blob. A mismatch is an error from the last `read`, an [`std::io::Error`] whose inner error is a
//! [`BlobError`], so a caller that streams into a temporary file never renames a bad blob into place.
//!
//! A caller that hashes every byte itself (the image store verifies each layer it ingests) asks for
//! [`Client::unverified_blob_from`](crate::Client::unverified_blob_from) instead: the same stream, resumed from an offset, its length still
//! enforced, without a second SHA-256 of the blob.

use std::io::{self, Read};
use std::sync::Arc;

use oci_spec::image::{Descriptor, Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256};

use crate::auth::repository_scope;
use crate::registries::{Endpoint, RegistriesError};
use crate::transport::{Body, Request, Target, Transport, TransportError};

/// Why a blob could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob unknown: {digest} in {repository}")]
    Unknown { repository: String, digest: String },
    #[error("digest mismatch for blob {expected}: got {got}")]
    DigestMismatch { expected: String, got: String },
    #[error("blob {digest} is longer than the {size} bytes its descriptor says")]
    TooLong { digest: String, size: u64 },
    #[error(
        "the part of blob {digest} already on disk is {len} bytes, more than the blob's {size}"
    )]
    PrefixTooLong { digest: String, len: u64, size: u64 },
    #[error("reading the part of blob {digest} already on disk")]
    Prefix {
        digest: String,
        #[source]
        source: io::Error,
    },
    #[error("unsupported digest algorithm in {0} (only sha256 is verified)")]
    Algorithm(String),
    #[error("{host} answered a range request for blob {digest} with {content_range:?}, not from byte {offset}")]
    BadRange {
        host: String,
        digest: String,
        content_range: String,
        offset: u64,
    },
    #[error(
        "downloading blob {digest} stopped at byte {offset} of {size} after {attempts} attempts"
    )]
    GaveUp {
        digest: String,
        offset: u64,
        size: u64,
        attempts: u32,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Registries(#[from] RegistriesError),
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl BlobError {
    /// The `BlobError` inside an `io::Error` from [`BlobReader::read`], or the `io::Error` itself wrapped.
    pub fn from_io(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<BlobError>()) {
            *e.into_inner()
                .expect("checked")
                .downcast::<BlobError>()
                .expect("checked")
        } else {
            BlobError::GaveUp {
                digest: String::new(),
                offset: 0,
                size: 0,
                attempts: 0,
                source: Box::new(e),
            }
        }
    }
}

/// One blob, streamed and verified; see the module documentation.
pub struct BlobReader {
    transport: Arc<Transport>,
    endpoint: Endpoint,
    digest: Digest,
    size: u64,
    /// Bytes delivered so far, the caller's prefix included.
    offset: u64,
    /// `None` when the caller checks the digest itself.
    hasher: Option<Sha256>,
    body: Option<Box<dyn Read + Send + Sync>>,
    /// Consecutive failures without progress.
    failures: u32,
    done: bool,
}

impl BlobReader {
    /// Opens the blob on the first endpoint that has it (mirrors first).
    pub(crate) fn open(
        transport: Arc<Transport>,
        endpoints: Vec<Endpoint>,
        descriptor: &Descriptor,
        offset: u64,
        hasher: Option<Sha256>,
    ) -> Result<Self, BlobError> {
        let digest = descriptor.digest().clone();
        if *digest.algorithm() != DigestAlgorithm::Sha256 {
            return Err(BlobError::Algorithm(digest.to_string()));
        }
        let mut last_error = None;
        for endpoint in endpoints {
            let mut reader = BlobReader {
                transport: transport.clone(),
                endpoint,
                digest: digest.clone(),
                size: descriptor.size(),
                offset,
                hasher: hasher.clone(),
                body: None,
                failures: 0,
                done: false,
            };
            match reader.connect() {
                Ok(()) => return Ok(reader),
                Err(e) if reader.endpoint.mirror => {
                    log::warn!(
                        "mirror {} failed for blob {digest}: {e}; trying the next",
                        reader.endpoint.host
                    );
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("the origin is always an endpoint"))
    }

    /// The blob's digest.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Bytes delivered so far (the caller's prefix included).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Asks for the blob from `offset` on.
    fn connect(&mut self) -> Result<(), BlobError> {
        let path = format!("/v2/{}/blobs/{}", self.endpoint.path, self.digest);
        let mut req = Request::new(
            "GET",
            &self.endpoint,
            Target::Path(path),
            format!("blob {}", self.digest),
        )
        .scope(repository_scope(&self.endpoint.path, false));
        if self.offset > 0 {
            req = req.header("Range", format!("bytes={}-", self.offset));
        }
        let response = self.transport.send(&req, Body::Empty)?;
        let host = &self.endpoint.host;
        match response.status() {
            200 => {
                let mut body = response.into_reader();
                if self.offset > 0 {
                    // The range was ignored: skip what was delivered already.
                    log::info!(
                        "{host} ignored a range request for {}; skipping {} bytes",
                        self.digest,
                        self.offset
                    );
                    let skipped = io::copy(&mut (&mut body).take(self.offset), &mut io::sink())
                        .map_err(|e| self.gave_up(e))?;
                    if skipped < self.offset {
                        return Err(self.gave_up(io::Error::from(io::ErrorKind::UnexpectedEof)));
                    }
                }
                self.body = Some(body);
            }
            206 => {
                let range = response.header("content-range").unwrap_or("").to_string();
                let start = range
                    .strip_prefix("bytes ")
                    .and_then(|r| r.split('-').next())
                    .and_then(|s| s.trim().parse::<u64>().ok());
                if start != Some(self.offset) {
                    return Err(BlobError::BadRange {
                        host: host.clone(),
                        digest: self.digest.to_string(),
                        content_range: range,
                        offset: self.offset,
                    });
                }
                self.body = Some(response.into_reader());
            }
            416 if self.offset == self.size => self.body = Some(Box::new(io::empty())),
            404 => {
                return Err(BlobError::Unknown {
                    repository: format!("{}/{}", self.endpoint.registry, self.endpoint.path),
                    digest: self.digest.to_string(),
                })
            }
            _ => {
                let what = format!("blob {}", self.digest);
                return Err(TransportError::status(host, what, response).into());
            }
        }
        Ok(())
    }

    fn gave_up(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> BlobError {
        BlobError::GaveUp {
            digest: self.digest.to_string(),
            offset: self.offset,
            size: self.size,
            attempts: self.failures + 1,
            source: e.into(),
        }
    }

    /// At the end: the size is right; check the digest (unless the caller does).
    fn finish(&mut self) -> io::Result<usize> {
        if let Some(hasher) = &self.hasher {
            let got = format!("sha256:{:x}", hasher.clone().finalize());
            if got != self.digest.as_ref() {
                return Err(io::Error::other(BlobError::DigestMismatch {
                    expected: self.digest.to_string(),
                    got,
                }));
            }
        }
        self.done = true;
        Ok(0)
    }

    /// Drops the connection after `error` and connects again from the current offset, with backoff; gives up
    /// after the retry policy's attempts without progress.
    fn reconnect(&mut self, error: Box<dyn std::error::Error + Send + Sync>) -> io::Result<()> {
        self.body = None;
        let policy = self.transport.settings().retry;
        loop {
            self.failures += 1;
            if self.failures >= policy.attempts {
                return Err(io::Error::other(self.gave_up(error)));
            }
            let wait = policy.backoff(self.failures - 1);
            log::info!(
                "blob {} broke at byte {} of {} ({error}); resuming in {wait:?}",
                self.digest,
                self.offset,
                self.size
            );
            std::thread::sleep(wait);
            match self.connect() {
                Ok(()) => return Ok(()),
                Err(e @ (BlobError::BadRange { .. } | BlobError::Unknown { .. })) => {
                    return Err(io::Error::other(e))
                }
                Err(BlobError::Transport(TransportError::Unauthorized {
                    registry,
                    with_credentials,
                })) => {
                    return Err(io::Error::other(TransportError::Unauthorized {
                        registry,
                        with_credentials,
                    }))
                }
                Err(_) => continue,
            }
        }
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(body) = self.body.as_mut() else {
                self.reconnect("no connection".into())?;
                continue;
            };
            match body.read(buf) {
                Ok(0) if self.offset == self.size => return self.finish(),
                Ok(0) => {
                    let error = format!(
                        "the connection ended at byte {} of {}",
                        self.offset, self.size
                    );
                    self.reconnect(error.into())?;
                }
                Ok(n) => {
                    if self.offset + n as u64 > self.size {
                        return Err(io::Error::other(BlobError::TooLong {
                            digest: self.digest.to_string(),
                            size: self.size,
                        }));
                    }
                    if let Some(hasher) = &mut self.hasher {
                        hasher.update(&buf[..n]);
                    }
                    self.offset += n as u64;
                    self.failures = 0;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.reconnect(Box::new(e))?,
            }
        }
    }
}
