//! Registering pulled images: blobs kept as fetched, tags and RepoDigests, checks before anything is recorded.

mod common;

use std::fs;

use common::{image, ingest_all, layer, sha};
use minotaur_image::{PullError, Pulled, Removed, Store};

#[test]
fn committing_a_pulled_image_records_its_repo_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let img = image(
        vec![layer("base", "gzip"), layer("app", "zstd")],
        "arm64",
        Some("v8"),
    );
    let layers = ingest_all(&store, &img);
    let id = store
        .commit_pulled(&Pulled {
            repository: "registry.example:5000/team/app",
            tag: Some("1.0"),
            manifest: &img.manifest,
            index: Some(&img.index),
            config: &img.config,
            layers: &layers,
        })
        .unwrap();
    drop(layers);
    assert_eq!(id, sha(&img.config));

    let by_index = format!("registry.example:5000/team/app@{}", sha(&img.index));
    let inspect = store.inspect("registry.example:5000/team/app:1.0").unwrap();
    assert_eq!(inspect.repo_tags, ["registry.example:5000/team/app:1.0"]);
    assert_eq!(inspect.repo_digests, std::slice::from_ref(&by_index));
    assert_eq!(inspect.architecture, "arm64");
    assert_eq!(inspect.variant.as_deref(), Some("v8"));
    assert_eq!(inspect.os, "linux");
    assert_eq!(
        inspect.root_fs.layers,
        img.layers
            .iter()
            .map(|l| l.desc.diff_id.to_string())
            .collect::<Vec<_>>()
    );
    let json = serde_json::to_value(&inspect).unwrap();
    assert_eq!(json["RepoDigests"][0], by_index.as_str());
    assert_eq!(json["Variant"], "v8");
    assert_eq!(json["RootFS"]["Type"], "layers");
    assert_eq!(json["Config"]["Cmd"][0], "/bin/sh");
    // The store finds it by the digest it was pulled by.
    assert_eq!(store.resolve(&by_index).unwrap(), id);

    // Every blob is kept exactly as fetched.
    let blob = |d: &minotaur_image::Digest| {
        fs::read(store.dir().join("blobs/sha256").join(d.hex())).unwrap()
    };
    assert_eq!(blob(&sha(&img.manifest)), img.manifest);
    assert_eq!(blob(&sha(&img.index)), img.index);
    assert_eq!(blob(&id), img.config);
    for l in &img.layers {
        assert_eq!(blob(&l.desc.digest), l.blob);
    }
    assert_eq!(store.lower_dirs(&id).unwrap().len(), 2);

    let images = store.images().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].repository, "registry.example:5000/team/app");
    assert_eq!(images[0].tag, "1.0");
    assert_eq!(images[0].digest, Some(sha(&img.index)));

    // rmi says what Docker says, and takes the blobs with it.
    let removed = store
        .rmi("registry.example:5000/team/app:1.0", false)
        .unwrap();
    assert_eq!(
        removed,
        [
            Removed::Untagged("registry.example:5000/team/app:1.0".parse().unwrap()),
            Removed::UntaggedDigest(by_index),
            Removed::Deleted(id),
        ]
    );
    assert_eq!(
        common::names(&store.dir().join("blobs/sha256")),
        Vec::<String>::new()
    );
    assert_eq!(
        common::names(&store.dir().join("layers")),
        Vec::<String>::new()
    );
}

#[test]
fn an_image_pulled_by_digest_has_no_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let img = image(vec![layer("base", "gzip")], "amd64", None);
    let layers = ingest_all(&store, &img);
    let id = store
        .commit_pulled(&Pulled {
            repository: "docker.io/library/busybox",
            tag: None,
            manifest: &img.manifest,
            index: None,
            config: &img.config,
            layers: &layers,
        })
        .unwrap();
    let inspect = store.inspect(&id.to_string()).unwrap();
    assert!(inspect.repo_tags.is_empty());
    assert_eq!(
        inspect.repo_digests,
        [format!("busybox@{}", sha(&img.manifest))]
    );
    assert!(serde_json::to_value(&inspect)
        .unwrap()
        .get("Variant")
        .is_none());
    let images = store.images().unwrap();
    assert_eq!(
        (images[0].repository.as_str(), images[0].tag.as_str()),
        ("busybox", "<none>")
    );
    assert_eq!(images[0].digest, Some(sha(&img.manifest)));
}

#[test]
fn a_pulled_image_that_does_not_add_up_is_not_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let img = image(
        vec![layer("base", "gzip"), layer("app", "gzip")],
        "amd64",
        None,
    );
    let layers = ingest_all(&store, &img);
    let ok = Pulled {
        repository: "app",
        tag: Some("latest"),
        manifest: &img.manifest,
        index: Some(&img.index),
        config: &img.config,
        layers: &layers,
    };
    let other = image(vec![layer("other", "gzip")], "amd64", None);
    type Check = fn(&PullError) -> bool;
    let cases: Vec<(Pulled, Check)> = vec![
        (
            Pulled {
                config: &other.config,
                ..ok
            },
            |e| matches!(e, PullError::ConfigDigest { .. }),
        ),
        (
            Pulled {
                index: Some(&other.index),
                ..ok
            },
            |e| matches!(e, PullError::NotInIndex { .. }),
        ),
        (
            Pulled {
                layers: &layers[..1],
                ..ok
            },
            |e| matches!(e, PullError::LayerCount { .. }),
        ),
        (
            Pulled {
                manifest: b"{\"schemaVersion\": 2",
                ..ok
            },
            |e| matches!(e, PullError::Manifest(..)),
        ),
    ];
    for (pulled, expected) in cases {
        let e = store.commit_pulled(&pulled).unwrap_err();
        assert!(expected(&e), "{e:?}");
    }
    let mut reversed = ingest_all(&store, &img);
    reversed.reverse();
    let e = store
        .commit_pulled(&Pulled {
            layers: &reversed,
            ..ok
        })
        .unwrap_err();
    assert!(
        matches!(e, PullError::LayerDigest { index: 0, .. }),
        "{e:?}"
    );
    assert!(store.images().unwrap().is_empty());
    assert!(!store
        .dir()
        .join("blobs/sha256")
        .join(sha(&img.config).hex())
        .exists());
}

#[test]
fn an_index_from_before_digests_still_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let tar = common::Tar::default().file("hello", b"hi\n").build();
    let id = store
        .import(
            &tar[..],
            Some(&"old:1".parse().unwrap()),
            &Default::default(),
        )
        .unwrap();
    // Rewrite the index as the first version wrote it: no digests, no index, no blob sizes.
    let path = store.dir().join("repositories.json");
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("digests");
    for rec in v["images"].as_object_mut().unwrap().values_mut() {
        rec.as_object_mut().unwrap().remove("index");
        for l in rec["layers"].as_array_mut().unwrap() {
            l.as_object_mut().unwrap().remove("blob_size");
        }
    }
    fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(store.resolve("old:1").unwrap(), id);
    assert!(store.inspect("old:1").unwrap().repo_digests.is_empty());
    assert_eq!(store.images().unwrap()[0].digest, None);
    store.tag("old:1", &"old:2".parse().unwrap()).unwrap();
}

#[test]
fn a_failed_pull_gives_back_only_the_layers_it_brought_in() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let first = image(vec![layer("shared", "gzip")], "amd64", None);
    let layers = ingest_all(&store, &first);
    store
        .commit_pulled(&Pulled {
            repository: "first",
            tag: None,
            manifest: &first.manifest,
            index: None,
            config: &first.config,
            layers: &layers,
        })
        .unwrap();
    drop(layers);

    // A second image shares a layer with the first and brings one of its own; its pull then fails.
    let second = image(
        vec![layer("shared", "gzip"), layer("own", "zstd")],
        "amd64",
        None,
    );
    let layers = ingest_all(&store, &second);
    let blob = |d: &minotaur_image::Digest| store.dir().join("blobs/sha256").join(d.hex());
    let tree = |d: &minotaur_image::Digest| store.dir().join("layers").join(d.hex());
    let own = second.layers[1].desc.clone();
    assert!(blob(&own.digest).is_file() && tree(&own.diff_id).is_dir());
    let reclaimed = store.discard_ingested(layers).unwrap();
    assert_eq!(reclaimed.blobs, [own.digest.to_string()]);
    assert_eq!(reclaimed.layers, [own.diff_id.to_string()]);
    assert!(!blob(&own.digest).exists() && !tree(&own.diff_id).exists());
    // The first image's layer stays.
    let kept = &second.layers[0].desc;
    assert!(blob(&kept.digest).is_file() && tree(&kept.diff_id).is_dir());

    // A layer another pull still holds is left to it.
    let third = image(vec![layer("held", "gzip")], "amd64", None);
    let held = ingest_all(&store, &third);
    let again = ingest_all(&store, &third);
    let reclaimed = store.discard_ingested(held).unwrap();
    assert!(reclaimed.blobs.is_empty() && reclaimed.layers.is_empty());
    assert!(tree(&third.layers[0].desc.diff_id).is_dir());
    drop(again);
}
