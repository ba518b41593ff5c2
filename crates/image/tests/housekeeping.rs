//! `history` and `image prune`.

mod common;

use std::collections::HashSet;

use common::{image, ingest_all, layer, names, Tar};
use minotaur_image::{ImportOptions, Pulled, Removed, Store};

fn import(store: &Store, name: &str, tag: Option<&str>) -> minotaur_image::ImageId {
    let tar = Tar::default()
        .file(&format!("{name}.txt"), name.as_bytes())
        .build();
    let reference = tag.map(|t| t.parse().unwrap());
    store
        .import(&tar[..], reference.as_ref(), &ImportOptions::default())
        .unwrap()
}

#[test]
fn prune_keeps_what_is_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let used = import(&store, "used", Some("used:1"));
    let tagged = import(&store, "tagged", Some("tagged:1"));
    let dangling = import(&store, "dangling", None);
    let used_dangling = import(&store, "used-dangling", None);
    let in_use: HashSet<_> = [used.clone(), used_dangling.clone()].into();

    // A pull in progress: its layer is ingested, not yet committed.
    let pending = layer("pending", "gzip");
    let ingested = store
        .ingest_layer(
            &pending.desc,
            &Default::default(),
            |o| Ok(&pending.blob[o as usize..]),
            &|_| {},
        )
        .unwrap();

    // Dangling only.
    let p = store.prune(false, &in_use).unwrap();
    assert_eq!(p.images, [Removed::Deleted(dangling.clone())]);
    assert_eq!(p.reclaimed.layers.len(), 1);
    assert!(p.reclaimed.bytes >= "dangling".len() as u64);
    assert!(store.resolve(&dangling.to_string()).is_err());
    for id in [&used, &tagged, &used_dangling] {
        assert_eq!(store.lower_dirs(id).unwrap().len(), 1);
    }

    // Everything unused.
    let p = store.prune(true, &in_use).unwrap();
    assert_eq!(
        p.images,
        [
            Removed::Untagged("tagged:1".parse().unwrap()),
            Removed::Deleted(tagged.clone())
        ]
    );
    assert!(store.resolve("tagged:1").is_err());
    for id in [&used, &used_dangling] {
        let dirs = store.lower_dirs(id).unwrap();
        assert!(dirs[0].is_dir());
        store.push_artifacts(&id.to_string()).unwrap();
    }
    // The pinned layer and blob stayed; once the pull lets go, they are garbage like any other.
    let layer_dir = store.dir().join("layers").join(pending.desc.diff_id.hex());
    assert!(layer_dir.is_dir());
    assert!(store.has_blob(&pending.desc.digest));
    drop(ingested);
    let p = store.prune(false, &in_use).unwrap();
    assert!(p.images.is_empty());
    assert!(p.reclaimed.blobs.contains(&pending.desc.digest.to_string()));
    assert_eq!(p.reclaimed.layers, [pending.desc.diff_id.to_string()]);
    assert!(!layer_dir.exists());
    assert!(!store.has_blob(&pending.desc.digest));
    // What is left is exactly what the two images use.
    assert_eq!(names(&store.dir().join("layers")).len(), 2);
    assert_eq!(store.prune(true, &in_use).unwrap(), Default::default());
}

#[test]
fn rmi_leaves_a_layer_a_pull_has_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let img = image(vec![layer("base", "gzip")], "amd64", None);
    let commit = |layers: &[minotaur_image::IngestedLayer]| {
        store
            .commit_pulled(&Pulled {
                repository: "app",
                tag: Some("1"),
                manifest: &img.manifest,
                index: None,
                config: &img.config,
                layers,
            })
            .unwrap()
    };
    let first = ingest_all(&store, &img);
    commit(&first);
    drop(first);
    // A second pull of the same image finds the layer, pins it, and has not committed yet when rmi runs.
    let again = ingest_all(&store, &img);
    store.rmi("app:1", false).unwrap();
    let id = commit(&again);
    assert!(store.lower_dirs(&id).unwrap()[0].is_dir());
}

#[test]
fn history_lists_the_config_steps_newest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let img = image(
        vec![layer("base", "gzip"), layer("app", "zstd")],
        "amd64",
        None,
    );
    let layers = ingest_all(&store, &img);
    let sizes: Vec<u64> = layers.iter().map(|l| l.unpacked_size).collect();
    let id = store
        .commit_pulled(&Pulled {
            repository: "app",
            tag: Some("1"),
            manifest: &img.manifest,
            index: None,
            config: &img.config,
            layers: &layers,
        })
        .unwrap();
    let h = store.history("app:1").unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[0].id.as_ref(), Some(&id));
    assert!(h[1..].iter().all(|e| e.id.is_none()));
    assert_eq!(h[0].created_by, "/bin/sh -c make layer 1");
    assert_eq!(h[0].comment, "layer 1");
    assert_eq!(h[0].size, sizes[1]);
    assert_eq!(h[1].size, sizes[0]);
    assert_eq!(h[1].created, "2024-01-02T03:04:06Z");
    assert_eq!(h[2].created_by, "/bin/sh -c #(nop) ENV PATH=/bin");
    assert!(h[2].empty_layer);
    assert_eq!(h[2].size, 0);
    assert_eq!(h[2].created_unix, 1_704_164_645);

    // An imported image has one step.
    let imported = import(&store, "x", Some("x:1"));
    let h = store.history("x:1").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].id.as_ref(), Some(&imported));
    assert_eq!(h[0].created_by, "minotaur import");
    assert_eq!(h[0].size, 1);
}
