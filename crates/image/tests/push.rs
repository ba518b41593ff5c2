//! What a push sends: digests that verify, plain layers compressed once, pulled images sent as they came.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;

use common::{image, ingest_all, layer, sha, Tar};
use minotaur_image::{ImportOptions, Pulled, PushArtifacts, PushBlob, Store};

fn read(b: &PushBlob) -> Vec<u8> {
    let mut v = Vec::new();
    b.open().unwrap().read_to_end(&mut v).unwrap();
    v
}

/// Checks every digest and size a push would send, and that each layer unpacks to its diff ID.
fn verify(a: &PushArtifacts) {
    assert_eq!(sha(&a.manifest), a.manifest_digest);
    let manifest: serde_json::Value = serde_json::from_slice(&a.manifest).unwrap();
    let config = read(&a.config);
    assert_eq!(sha(&config), a.config.digest);
    assert_eq!(config.len() as u64, a.config.size);
    assert_eq!(a.config.digest, a.id);
    assert_eq!(manifest["config"]["digest"], a.config.digest.to_string());
    assert_eq!(manifest["config"]["size"], a.config.size);
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(a.layers.len(), diff_ids.len());
    for (i, l) in a.layers.iter().enumerate() {
        let blob = read(l);
        assert_eq!(sha(&blob), l.digest);
        assert_eq!(blob.len() as u64, l.size);
        assert_eq!(manifest["layers"][i]["digest"], l.digest.to_string());
        assert_eq!(manifest["layers"][i]["size"], l.size);
        assert_eq!(manifest["layers"][i]["mediaType"], l.media_type.as_str());
        let tar = if l.media_type.ends_with("zstd") {
            zstd::decode_all(&blob[..]).unwrap()
        } else {
            let mut t = Vec::new();
            flate2::read::MultiGzDecoder::new(&blob[..])
                .read_to_end(&mut t)
                .unwrap();
            t
        };
        assert_eq!(sha(&tar).to_string(), diff_ids[i].as_str().unwrap());
    }
}

#[test]
fn push_artefacts_of_an_imported_image_verify_and_are_made_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let tar = Tar::default()
        .dir("etc", 0o755)
        .file("etc/os-release", b"ID=minotaur\n")
        .build();
    let id = store
        .import(
            &tar[..],
            Some(&"local/app:1".parse().unwrap()),
            &ImportOptions::default(),
        )
        .unwrap();
    let plain_blob = store.dir().join("blobs/sha256").join(sha(&tar).hex());
    assert!(plain_blob.exists());

    let first = store.push_artifacts("local/app:1").unwrap();
    assert_eq!(first.id, id);
    assert_eq!(first.layers.len(), 1);
    assert_eq!(
        first.layers[0].media_type,
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        first.manifest_media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );
    verify(&first);
    let gz = store
        .dir()
        .join("blobs/sha256")
        .join(first.layers[0].digest.hex());
    let inode = fs::metadata(&gz).unwrap().ino();
    let manifest = first.manifest.clone();
    drop(first);
    // The plain blob gave way to the compressed one.
    assert!(!plain_blob.exists());

    // A second push sends the same bytes, without compressing again.
    let second = store.push_artifacts(&id.to_string()).unwrap();
    assert_eq!(second.manifest, manifest);
    assert_eq!(fs::metadata(&gz).unwrap().ino(), inode);
    verify(&second);
    // The image still runs and saves as before.
    assert_eq!(store.lower_dirs(&id).unwrap().len(), 1);
    let mut out = Vec::new();
    store.save(&["local/app:1"], &mut out).unwrap();

    // After the registry took it, the digest is the image's.
    store
        .record_push(&id, "registry.example/team/app", &second.manifest_digest)
        .unwrap();
    assert_eq!(
        store.inspect("local/app:1").unwrap().repo_digests,
        [format!(
            "registry.example/team/app@{}",
            second.manifest_digest
        )]
    );
}

#[test]
fn a_pulled_image_is_pushed_as_it_came() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let img = image(
        vec![layer("base", "gzip"), layer("app", "zstd")],
        "amd64",
        None,
    );
    let layers = ingest_all(&store, &img);
    store
        .commit_pulled(&Pulled {
            repository: "app",
            tag: Some("1"),
            manifest: &img.manifest,
            index: Some(&img.index),
            config: &img.config,
            layers: &layers,
        })
        .unwrap();
    let a = store.push_artifacts("app:1").unwrap();
    assert_eq!(a.manifest, img.manifest);
    assert_eq!(
        a.manifest_media_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        a.config.media_type,
        "application/vnd.docker.container.image.v1+json"
    );
    let sent: HashMap<_, _> = a
        .layers
        .iter()
        .map(|l| (l.digest.clone(), read(l)))
        .collect();
    for l in &img.layers {
        assert_eq!(sent[&l.desc.digest], l.blob);
    }
    verify(&a);
}
