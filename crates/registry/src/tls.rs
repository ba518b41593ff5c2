//! TLS settings per registry host, from `certs.d` directories as Docker and podman lay them out:
//!
//! ```text
//! <certs dir>/<host[:port]>/
//!   *.crt                 CA certificates (PEM) trusted for this host, besides the system's roots
//!   <name>.cert           a client certificate chain (PEM) ...
//!   <name>.key            ... and its private key, presented when the registry asks for one
//! ```
//!
//! The certificate directories are `/etc/containers/certs.d` and `/etc/docker/certs.d` unless the caller
//! gives others (tests do).
//!
//! The system's roots (some 150 files under `/etc/ssl/certs`, each read and parsed) are loaded only when a
//! server's certificate is first verified, and then once per process: [`client_config`] hands rustls a
//! verifier that builds rustls' own WebPKI verifier on first use. Most pulls from a loopback or insecure
//! registry never see a certificate (the HTTPS attempt meets a plain-HTTP server and falls back), and an
//! up-to-date re-pull spent most of its time reading roots it never used.
//!
//! The HTTP client (ureq 3) takes TLS settings of its own kind, which can neither carry such a verifier nor
//! a client certificate chosen per host; so TLS is a [`Connector`] of ours in its connector chain: it wraps
//! the TCP transport of an `https://` connection in rustls with the host's [`ClientConfig`], and leaves a
//! plain `http://` one alone.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
    StreamOwned,
};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Either, LazyBuffers, NextTimeout, Transport, TransportAdapter,
};

/// The certificate directories Docker and podman read.
pub const DEFAULT_CERTS_DIRS: [&str; 2] = ["/etc/containers/certs.d", "/etc/docker/certs.d"];

/// Why a host's TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificate directory {path}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("bad PEM file {path}")]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("client certificate {0} has no matching .key file")]
    MissingKey(PathBuf),
    #[error("bad client certificate {path}")]
    ClientCert {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("cannot set up TLS")]
    Setup(#[source] rustls::Error),
}

/// The TLS client configuration for `host` (`registry.example.com:5000`).
pub(crate) fn client_config(
    certs_dirs: &[PathBuf],
    host: &str,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut extra_roots = Vec::new();
    let mut client: Option<(
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
        PathBuf,
    )> = None;
    for dir in certs_dirs.iter().map(|d| d.join(host)) {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(TlsError::ReadDir { path: dir, source }),
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            match path.extension().and_then(|e| e.to_str()) {
                Some("crt") => extra_roots.push((read_certs(&path)?, path)),
                Some("cert") if client.is_none() => {
                    let key_path = path.with_extension("key");
                    if !key_path.exists() {
                        return Err(TlsError::MissingKey(path));
                    }
                    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|source| {
                        TlsError::Pem {
                            path: key_path,
                            source,
                        }
                    })?;
                    client = Some((read_certs(&path)?, key, path));
                }
                _ => {}
            }
        }
    }
    // ring, as the HTTP client's own TLS uses, named explicitly: rustls' process-wide default would panic
    // if another crate in the program enabled a second provider. rustls deprecates it for lacking
    // post-quantum key exchange, which registries do not need.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = LazyVerifier {
        extra_roots,
        provider: provider.clone(),
        webpki: OnceLock::new(),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let config = match client {
        Some((chain, key, path)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|source| TlsError::ClientCert { path, source })?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |source| TlsError::Pem {
        path: path.to_path_buf(),
        source,
    };
    CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<_, _>>()
        .map_err(pem_error)
}

/// rustls' WebPKI verifier over the system's roots and a host's `certs.d` CAs, built when a certificate is
/// first verified. Until then nothing is read: a TLS attempt that meets a plain-HTTP server, or a
/// connection that is never made, costs no roots. Handshake signatures need no roots and are checked with
/// the provider's algorithms, as the WebPKI verifier itself does.
#[derive(Debug)]
struct LazyVerifier {
    /// The host's CA certificates from `certs.d`, with the file each came from.
    extra_roots: Vec<(Vec<CertificateDer<'static>>, PathBuf)>,
    provider: Arc<CryptoProvider>,
    webpki: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
}

impl LazyVerifier {
    fn webpki(&self) -> Result<&Arc<WebPkiServerVerifier>, rustls::Error> {
        self.webpki
            .get_or_init(|| {
                let mut roots = system_roots().clone();
                for (certs, path) in &self.extra_roots {
                    for cert in certs {
                        if let Err(e) = roots.add(cert.clone()) {
                            log::warn!("ignoring CA certificate in {}: {e}", path.display());
                        }
                    }
                }
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                    .build()
                    .map_err(|e| format!("cannot verify server certificates: {e}"))
            })
            .as_ref()
            .map_err(|e| rustls::Error::General(e.clone()))
    }
}

impl ServerCertVerifier for LazyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.webpki()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The system's trusted roots, read once.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            log::warn!("reading the system's CA certificates: {e}");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        log::debug!("{added} system CA certificates ({ignored} unusable)");
        roots
    })
}

/// Wraps an `https://` connection's transport in rustls with one host's [`ClientConfig`] (see the module
/// documentation); a plain-HTTP one passes through.
pub(crate) struct Connector {
    config: Arc<ClientConfig>,
}

impl Connector {
    pub(crate) fn new(config: Arc<ClientConfig>) -> Self {
        Connector { config }
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tls::Connector")
    }
}

/// What rustls says, as the I/O error the HTTP client reports and the transport's fallback to plain HTTP
/// looks for.
fn tls_error(e: rustls::Error) -> ureq::Error {
    ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, e))
}

impl<In: Transport> ureq::unversioned::transport::Connector<In> for Connector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Err(ureq::Error::ConnectionFailed);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or_else(|| ureq::Error::BadUri(details.uri.to_string()))?;
        // An IPv6 literal comes bracketed in a URI; rustls wants the bare address.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| ureq::Error::BadUri(details.uri.to_string()))?;
        let mut conn = ClientConnection::new(self.config.clone(), name).map_err(tls_error)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let config = details.config;
        Ok(Some(Either::B(TlsTransport {
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// An HTTP/1.1 transport over rustls.
pub(crate) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let n = self.stream.read(input)?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
