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
//! gives others (tests do). The system's roots are read once per process.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

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
    let mut roots = system_roots().clone();
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
                Some("crt") => {
                    for cert in read_certs(&path)? {
                        if let Err(e) = roots.add(cert) {
                            log::warn!("ignoring CA certificate in {}: {e}", path.display());
                        }
                    }
                }
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
    let provider = rustls::crypto::ring::default_provider();
    let builder = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_root_certificates(roots);
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
