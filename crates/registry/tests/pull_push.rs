//! Pushing generated images to a real registry and pulling them back: plain HTTP and Basic authentication.

mod common;

use std::collections::HashMap;
use std::io::Read;

use common::image::{self, OCI_INDEX};
use common::registry::{self, Options, Registry};
use minotaur_registry::{
    BlobError, Client, ClientError, Credentials, Platform, PushError, Reference, TransportError,
};

fn reference(registry: &Registry, name: &str) -> Reference {
    format!("{}/{name}", registry.host).parse().unwrap()
}

fn read_all(mut r: impl Read) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    Ok(v)
}

/// Pushes an image, pulls it back and checks every byte and digest.
fn round_trip(client: &Client, registry: &Registry) {
    let img = image::image(1, "amd64", 64 << 10);
    let r = reference(registry, "team/app:1");
    let pushed = img.push(client, &r);
    assert_eq!(pushed, img.digest());

    let resolved = client.resolve(&r, &"linux/amd64".parse().unwrap()).unwrap();
    assert_eq!(resolved.digest, img.digest());
    assert_eq!(resolved.manifest_bytes, img.manifest);
    assert_eq!(resolved.media_type, image::OCI_MANIFEST);
    assert_eq!(resolved.config, img.config.bytes);
    assert_eq!(resolved.index_digest, None);
    assert_eq!(resolved.index, None);
    for (layer, want) in resolved.manifest.layers().iter().zip(&img.layers) {
        let got = read_all(client.blob(r.repository(), layer).unwrap()).unwrap();
        assert!(got == want.bytes, "layer {} differs", layer.digest());
    }
    assert_eq!(client.head_manifest(&r).unwrap(), img.digest());
    assert_eq!(client.tags(r.repository()).unwrap(), ["1"]);

    // By digest, the tag being ignored.
    let by_digest: Reference = format!("{}/team/app:nope@{}", registry.host, img.digest())
        .parse()
        .unwrap();
    assert_eq!(
        client
            .resolve(&by_digest, &Platform::host())
            .unwrap()
            .digest,
        img.digest()
    );
}

#[test]
fn push_then_pull_over_plain_http() {
    if !registry::available() {
        return;
    }
    let registry = Registry::start(Options::default());
    round_trip(&Client::builder().build(), &registry);
}

#[test]
fn an_unknown_manifest_is_named() {
    if !registry::available() {
        return;
    }
    let registry = Registry::start(Options::default());
    let client = Client::builder().build();
    let r = reference(&registry, "nothing:here");
    let err = client.resolve(&r, &Platform::host()).unwrap_err();
    assert!(matches!(err, ClientError::ManifestUnknown(_)), "{err}");
    assert_eq!(
        err.to_string(),
        format!("manifest unknown: {}/nothing:here", registry.host)
    );
    assert!(matches!(
        client.head_manifest(&r),
        Err(ClientError::ManifestUnknown(_))
    ));
}

#[test]
fn blobs_are_verified_and_resumable_from_a_prefix() {
    if !registry::available() {
        return;
    }
    let registry = Registry::start(Options::default());
    let client = Client::builder().build();
    let img = image::image(2, "amd64", 32 << 10);
    let r = reference(&registry, "app:1");
    img.push(&client, &r);
    let layer = &img.layers[0];

    // The caller has the first part on disk.
    let half = layer.bytes.len() / 2;
    let mut reader = client
        .blob_resume(r.repository(), &layer.descriptor, &mut &layer.bytes[..half])
        .unwrap();
    assert_eq!(reader.offset(), half as u64);
    assert!(read_all(&mut reader).unwrap() == layer.bytes[half..]);

    // A prefix that is not the blob's is caught at the end.
    let mut wrong = layer.bytes[..half].to_vec();
    wrong[0] ^= 1;
    let reader = client
        .blob_resume(r.repository(), &layer.descriptor, &mut &wrong[..])
        .unwrap();
    let err = BlobError::from_io(read_all(reader).unwrap_err());
    assert!(matches!(err, BlobError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().starts_with(&format!(
        "digest mismatch for blob {}: got sha256:",
        layer.descriptor.digest()
    )));

    // A descriptor that claims fewer bytes than the blob has.
    let mut short = layer.descriptor.clone();
    short.set_size(layer.bytes.len() as u64 - 1);
    let err =
        BlobError::from_io(read_all(client.blob(r.repository(), &short).unwrap()).unwrap_err());
    assert!(matches!(err, BlobError::TooLong { .. }), "{err}");

    // A blob the repository does not have.
    let other = image::blob(
        b"absent".to_vec(),
        oci_spec::image::MediaType::ImageLayerGzip,
    );
    let err = client
        .blob(r.repository(), &other.descriptor)
        .err()
        .unwrap();
    assert!(matches!(err, BlobError::Unknown { .. }), "{err}");
}

#[test]
fn unverified_blobs_start_at_an_offset_and_keep_their_length() {
    if !registry::available() {
        return;
    }
    let registry = Registry::start(Options::default());
    let client = Client::builder().build();
    let img = image::image(3, "amd64", 32 << 10);
    let r = reference(&registry, "app:1");
    img.push(&client, &r);
    let layer = &img.layers[0];
    let len = layer.bytes.len() as u64;

    let half = len / 2;
    let mut reader = client
        .unverified_blob_from(r.repository(), &layer.descriptor, half)
        .unwrap();
    assert_eq!(reader.offset(), half);
    assert!(read_all(&mut reader).unwrap() == layer.bytes[half as usize..]);
    let reader = client
        .unverified_blob_from(r.repository(), &layer.descriptor, len)
        .unwrap();
    assert!(read_all(reader).unwrap().is_empty());

    let err = client
        .unverified_blob_from(r.repository(), &layer.descriptor, len + 1)
        .err()
        .unwrap();
    assert!(matches!(err, BlobError::PrefixTooLong { .. }), "{err}");

    // The length is still enforced: a descriptor that claims fewer bytes than the blob has.
    let mut short = layer.descriptor.clone();
    short.set_size(len - 1);
    let reader = client
        .unverified_blob_from(r.repository(), &short, 0)
        .unwrap();
    let err = BlobError::from_io(read_all(reader).unwrap_err());
    assert!(matches!(err, BlobError::TooLong { .. }), "{err}");
}

#[test]
fn manifest_digests_are_verified() {
    if !registry::available() {
        return;
    }
    let registry = Registry::start(Options::default());
    let client = Client::builder().build();
    let img = image::image(3, "amd64", 1024);
    let r = reference(&registry, "app:1");
    img.push(&client, &r);
    // A manifest pushed under a digest that is not its own is refused.
    let wrong: Reference = format!("{}/app@{}", registry.host, img.config.descriptor.digest())
        .parse()
        .unwrap();
    assert!(client
        .push_manifest(&wrong, image::OCI_MANIFEST, &img.manifest)
        .is_err());
}

#[test]
fn an_index_resolves_to_the_platform_asked_for() {
    if !registry::available() {
        return;
    }
    let registry = Registry::start(Options::default());
    let client = Client::builder().build();
    let amd = image::image(10, "amd64", 1024);
    let arm = image::image(11, "arm64", 1024);
    let armv7 = image::image(12, "arm", 1024);
    let repo = reference(&registry, "multi:latest");
    for (img, tag) in [(&amd, "amd"), (&arm, "arm"), (&armv7, "armv7")] {
        img.push(
            &client,
            &minotaur_registry::Reference::with_tag(repo.repository().clone(), tag).unwrap(),
        );
    }
    let index = image::index(&[
        (&amd, "linux/amd64"),
        (&arm, "linux/arm64/v8"),
        (&armv7, "linux/arm/v7"),
    ]);
    let index_digest = client.push_manifest(&repo, OCI_INDEX, &index).unwrap();

    let resolved = client
        .resolve(&repo, &"linux/arm64".parse().unwrap())
        .unwrap();
    assert_eq!(resolved.digest, arm.digest());
    assert_eq!(resolved.config, arm.config.bytes);
    assert_eq!(resolved.index_digest.as_ref(), Some(&index_digest));
    assert_eq!(resolved.index.as_deref(), Some(&index[..]));
    assert_eq!(client.head_manifest(&repo).unwrap(), index_digest);

    let resolved = client
        .resolve(&repo, &"linux/arm/v7".parse().unwrap())
        .unwrap();
    assert_eq!(resolved.digest, armv7.digest());

    let err = client
        .resolve(&repo, &"linux/s390x".parse().unwrap())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}/multi:latest: no image for platform linux/s390x in the index; it has linux/amd64, linux/arm64, linux/arm/v7",
            registry.host
        )
    );
}

#[test]
fn blobs_mount_across_repositories() {
    if !registry::available() {
        return;
    }
    let registry = Registry::start(Options::default());
    let client = Client::builder().build();
    let img = image::image(4, "amd64", 1024);
    let a = reference(&registry, "a:1");
    img.push(&client, &a);
    let b = reference(&registry, "b:1");
    let layer = img.layers[0].descriptor.digest();
    assert!(!client.blob_exists(b.repository(), layer).unwrap());
    assert!(client
        .mount_blob(b.repository(), layer, a.repository())
        .unwrap());
    assert!(client.blob_exists(b.repository(), layer).unwrap());
    // A blob the source does not have is not mounted.
    let absent = image::digest_of(b"absent");
    assert!(!client
        .mount_blob(b.repository(), &absent, a.repository())
        .unwrap());
}

#[test]
fn a_short_upload_is_an_error_naming_the_blob() {
    if !registry::available() {
        return;
    }
    let registry = Registry::start(Options::default());
    let client = Client::builder().build();
    let img = image::image(5, "amd64", 4096);
    let r = reference(&registry, "app:1");
    let layer = &img.layers[0];
    let err = client
        .push_blob(r.repository(), &layer.descriptor, &mut &layer.bytes[..100])
        .unwrap_err();
    assert!(matches!(err, PushError::Content { .. }), "{err}");
    assert!(!client
        .blob_exists(r.repository(), layer.descriptor.digest())
        .unwrap());
}

fn basic_registry() -> Option<(Registry, tempfile::TempDir)> {
    if !registry::available() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = registry::htpasswd(dir.path(), "alice", "s3cret")?;
    Some((
        Registry::start(Options {
            htpasswd: Some(htpasswd),
            ..Default::default()
        }),
        dir,
    ))
}

fn with_credentials(registry: &Registry, user: &str, password: &str) -> Client {
    let mut creds = HashMap::new();
    creds.insert(registry.host.clone(), Credentials::new(user, password));
    Client::builder().credentials(creds).build()
}

#[test]
fn push_then_pull_with_basic_auth() {
    let Some((registry, _dir)) = basic_registry() else {
        return;
    };
    round_trip(&with_credentials(&registry, "alice", "s3cret"), &registry);
}

#[test]
fn basic_auth_refusals_are_unauthorized() {
    let Some((registry, _dir)) = basic_registry() else {
        return;
    };
    let r = reference(&registry, "app:1");
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
    let err = with_credentials(&registry, "alice", "wrong")
        .resolve(&r, &Platform::host())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("unauthorized: {} refused the credentials", registry.host)
    );

    let client = Client::builder().build();
    client
        .check_login(&registry.host, &Credentials::new("alice", "s3cret"))
        .unwrap();
    let err = client
        .check_login(&registry.host, &Credentials::new("alice", "nope"))
        .unwrap_err();
    assert!(err.to_string().starts_with("unauthorized:"), "{err}");
}
