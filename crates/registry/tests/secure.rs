//! TLS (a CA in a test certs.d, client certificates), Bearer tokens from a token server of the test's own,
//! registries.conf mirrors (a pull-through cache of a second local registry) and blocks.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use common::image;
use common::pki::{self, Pki};
use common::registry::{self, Options, Registry, TokenAuth};
use common::token_server::{self, TokenServer};
use minotaur_registry::{
    Client, ClientError, Credentials, Platform, Reference, RegistriesConf, TransportError,
};

fn reference(host: &str, name: &str) -> Reference {
    format!("{host}/{name}").parse().unwrap()
}

/// Puts `files` into `<certs>/<host>/`.
fn certs_d(certs: &Path, host: &str, files: &[(&Path, &str)]) -> PathBuf {
    let dir = certs.join(host);
    std::fs::create_dir_all(&dir).unwrap();
    for (from, name) in files {
        std::fs::copy(from, dir.join(name)).unwrap();
    }
    certs.to_path_buf()
}

fn round_trip(client: &Client, host: &str, seed: u64) {
    let img = image::image(seed, "amd64", 16 << 10);
    let r = reference(host, "secure/app:1");
    assert_eq!(img.push(client, &r), img.digest());
    let resolved = client.resolve(&r, &Platform::host()).unwrap();
    assert_eq!(resolved.digest, img.digest());
    assert_eq!(resolved.config, img.config.bytes);
    let mut layer = Vec::new();
    std::io::copy(
        &mut client
            .blob(r.repository(), &resolved.manifest.layers()[0])
            .unwrap(),
        &mut layer,
    )
    .unwrap();
    assert!(layer == img.layers[0].bytes);
}

#[test]
fn tls_with_a_ca_from_certs_d() {
    if !registry::available() || !pki::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let server = pki.issue("server", true);
    let registry = Registry::start(Options {
        tls: Some(server),
        ..Default::default()
    });

    // Without the CA the registry's certificate is not trusted (and plain HTTP is refused by it).
    let empty = dir.path().join("no-certs");
    let client = Client::builder().certs_dirs(vec![empty]).build();
    let err = client
        .resolve(&reference(&registry.host, "x:1"), &Platform::host())
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err}");

    let certs = certs_d(
        &dir.path().join("certs.d"),
        &registry.host,
        &[(&pki.ca(), "ca.crt")],
    );
    round_trip(
        &Client::builder()
            .certs_dirs(vec![dir.path().join("other"), certs])
            .build(),
        &registry.host,
        20,
    );
}

#[test]
fn tls_client_certificates_from_certs_d() {
    if !registry::available() || !pki::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let server = pki.issue("server", true);
    let (client_crt, client_key) = pki.issue("client", false);
    let registry = Registry::start(Options {
        tls: Some(server),
        client_cas: Some(pki.ca()),
        ..Default::default()
    });

    let without = certs_d(
        &dir.path().join("without"),
        &registry.host,
        &[(&pki.ca(), "ca.crt")],
    );
    let client = Client::builder().certs_dirs(vec![without]).build();
    assert!(client
        .resolve(&reference(&registry.host, "x:1"), &Platform::host())
        .is_err());

    let with = certs_d(
        &dir.path().join("with"),
        &registry.host,
        &[
            (&pki.ca(), "ca.crt"),
            (&client_crt, "client.cert"),
            (&client_key, "client.key"),
        ],
    );
    round_trip(
        &Client::builder().certs_dirs(vec![with]).build(),
        &registry.host,
        21,
    );
}

fn token_registry(dir: &Path, user: Option<(&str, &str)>) -> (Registry, TokenServer) {
    let (cert, key) = pki::token_signer(dir);
    let tokens = TokenServer::start(&cert, &key, user);
    let registry = Registry::start(Options {
        token: Some(TokenAuth {
            realm: tokens.realm(),
            service: token_server::SERVICE.into(),
            issuer: token_server::ISSUER.into(),
            root_cert_bundle: cert,
        }),
        ..Default::default()
    });
    (registry, tokens)
}

#[test]
fn bearer_tokens_anonymous_and_cached_per_scope() {
    if !registry::available() || !pki::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (registry, tokens) = token_registry(dir.path(), None);
    let client = Client::builder().build();
    round_trip(&client, &registry.host, 30);
    let scopes = tokens.scopes.lock().unwrap().clone();
    assert!(
        scopes.contains(&vec!["repository:secure/app:pull,push".to_string()]),
        "{scopes:?}"
    );
    assert!(
        scopes.contains(&vec!["repository:secure/app:pull".to_string()]),
        "{scopes:?}"
    );
    // One token per scope for the client's lifetime.
    let served = tokens.requests.load(Ordering::SeqCst);
    assert_eq!(served, 2, "{scopes:?}");
    client
        .head_manifest(&reference(&registry.host, "secure/app:1"))
        .unwrap();
    assert_eq!(tokens.requests.load(Ordering::SeqCst), served);
}

#[test]
fn bearer_tokens_with_credentials() {
    if !registry::available() || !pki::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (registry, _tokens) = token_registry(dir.path(), Some(("bob", "hunter2")));
    let mut creds = HashMap::new();
    creds.insert(registry.host.clone(), Credentials::new("bob", "hunter2"));
    round_trip(
        &Client::builder().credentials(creds).build(),
        &registry.host,
        31,
    );

    let r = reference(&registry.host, "secure/app:1");
    let err = Client::builder()
        .build()
        .resolve(&r, &Platform::host())
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Transport(TransportError::Unauthorized {
                with_credentials: false,
                ..
            })
        ),
        "{err}"
    );
    let client = Client::builder().build();
    client
        .check_login(&registry.host, &Credentials::new("bob", "hunter2"))
        .unwrap();
    let err = client
        .check_login(&registry.host, &Credentials::new("bob", "wrong"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("unauthorized: {} refused the credentials", registry.host)
    );
}

fn registries_conf(dir: &Path, text: &str) -> RegistriesConf {
    let path = dir.join("registries.conf");
    std::fs::write(&path, text).unwrap();
    RegistriesConf::load_first(&[dir.join("absent.conf"), path]).unwrap()
}

/// Whether a registry's storage holds a blob.
fn stores_blob(registry: &Registry, digest: &oci_spec::image::Digest) -> bool {
    let hex = digest.digest();
    registry
        .dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
        .exists()
}

#[test]
fn a_mirror_is_tried_first_then_the_origin() {
    if !registry::available() {
        return;
    }
    let origin = Registry::start(Options::default());
    let mirror = Registry::start(Options {
        proxy: Some(origin.url()),
        ..Default::default()
    });
    let img = image::image(40, "amd64", 16 << 10);
    // Pushed to the origin; the pull-through mirror has nothing yet.
    img.push(
        &Client::builder().build(),
        &reference(&origin.host, "library/app:1"),
    );
    let layer = img.layers[0].descriptor.digest();
    assert!(!stores_blob(&mirror, layer));

    let dir = tempfile::tempdir().unwrap();
    let conf = registries_conf(
        dir.path(),
        &format!(
            "[[registry]]\nlocation = \"{}\"\n[[registry.mirror]]\nlocation = \"{}\"\n",
            origin.host, mirror.host
        ),
    );
    let client = Client::builder().registries(conf).build();
    let r = reference(&origin.host, "library/app:1");
    let resolved = client.resolve(&r, &Platform::host()).unwrap();
    assert_eq!(resolved.digest, img.digest());
    let mut bytes = Vec::new();
    std::io::copy(
        &mut client
            .blob(r.repository(), &img.layers[0].descriptor)
            .unwrap(),
        &mut bytes,
    )
    .unwrap();
    assert!(bytes == img.layers[0].bytes);
    // The mirror served it, and caches it (its storage is written as the blob is sent, and committed just
    // after).
    let start = std::time::Instant::now();
    while !stores_blob(&mirror, layer) {
        assert!(
            start.elapsed().as_secs() < 10,
            "the mirror never stored {layer}: {}",
            mirror.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    // A mirror that is down is skipped.
    let dead = format!("127.0.0.1:{}", registry::free_port());
    let conf = registries_conf(
        dir.path(),
        &format!(
            "[[registry]]\nlocation = \"{}\"\n[[registry.mirror]]\nlocation = \"{dead}\"\n",
            origin.host
        ),
    );
    let client = Client::builder().registries(conf).build();
    assert_eq!(
        client.resolve(&r, &Platform::host()).unwrap().digest,
        img.digest()
    );
    assert_eq!(client.head_manifest(&r).unwrap(), img.digest());
}

#[test]
fn a_blocked_registry_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let conf = registries_conf(
        dir.path(),
        "[[registry]]\nprefix = \"127.0.0.1:1\"\nblocked = true\n",
    );
    let client = Client::builder().registries(conf).build();
    let err = client
        .resolve(&reference("127.0.0.1:1", "app:1"), &Platform::host())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "registry 127.0.0.1:1 is blocked in registries.conf"
    );
}
