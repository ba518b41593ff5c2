//! The image store: import, tags, listing, inspect, removal and its on-disk effects.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::Tar;
use minotaur_image::{Digest, ImportOptions, Reference, Removed, Store, StoreError};
use sha2::Digest as _;

fn rootfs() -> Vec<u8> {
    Tar::default()
        .dir("etc", 0o755)
        .file("etc/os-release", b"ID=minotaur\n")
        .dir("bin", 0o755)
        .file_full("bin/sh", b"#!fake\n", 0o755, 0, 0, 1_000_000)
        .symlink("usr/bin", "../bin")
        .build()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 1).unwrap()
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(b))
}

fn r(s: &str) -> Reference {
    s.parse().unwrap()
}

fn opts() -> ImportOptions {
    ImportOptions {
        source: "rootfs.tar".into(),
        ..ImportOptions::default()
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn import_plain_gzip_and_zstd_share_one_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let tar = rootfs();
    let diff_id = sha(&tar);

    let plain = store.import(&tar[..], Some(&r("plain")), &opts()).unwrap();
    let gz_bytes = gzip(&tar);
    let gz = store
        .import(&gz_bytes[..], Some(&r("gz:1")), &opts())
        .unwrap();
    let zst_bytes = zstd(&tar);
    let zst = store.import(&zst_bytes[..], None, &opts()).unwrap();
    assert_ne!(plain, gz);
    assert_ne!(gz, zst);

    for (id, blob) in [(&plain, &tar), (&gz, &gz_bytes), (&zst, &zst_bytes)] {
        let inspect = store.inspect(&id.to_string()).unwrap();
        assert_eq!(inspect.root_fs.typ, "layers");
        assert_eq!(inspect.root_fs.layers, std::slice::from_ref(&diff_id));
        // The image ID is the digest of the stored config, and the layer tarball is stored as given.
        let config = fs::read(store.dir().join("blobs/sha256").join(id.hex())).unwrap();
        assert_eq!(sha(&config), id.to_string());
        let stored = fs::read(store.dir().join("blobs/sha256").join(&sha(blob)[7..])).unwrap();
        assert_eq!(&stored, blob);
    }
    // One extracted layer for the three images.
    assert_eq!(entries(&store.dir().join("layers")), [&diff_id[7..]]);
    assert!(
        common::work_dirs(store.dir()).is_empty(),
        "import left work files behind"
    );

    let lower = store.lower_dirs(&gz).unwrap();
    assert_eq!(lower, [store.dir().join("layers").join(&diff_id[7..])]);
    assert_eq!(
        fs::read(lower[0].join("etc/os-release")).unwrap(),
        b"ID=minotaur\n"
    );
    assert_eq!(
        fs::read_link(lower[0].join("usr/bin")).unwrap(),
        Path::new("../bin")
    );
}

#[test]
fn images_lists_tags_untagged_and_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let a = store
        .import(&rootfs()[..], Some(&r("docker.io/library/alpha")), &opts())
        .unwrap();
    let none = store.import(&rootfs()[..], None, &opts()).unwrap();
    store.tag("alpha", &r("beta:v2")).unwrap();

    let list = store.images().unwrap();
    let rows: Vec<(String, String, Digest)> = list
        .iter()
        .map(|i| (i.repository.clone(), i.tag.clone(), i.id.clone()))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.contains(&("alpha".into(), "latest".into(), a.clone())));
    assert!(rows.contains(&("beta".into(), "v2".into(), a.clone())));
    assert!(rows.contains(&("<none>".into(), "<none>".into(), none.clone())));
    // Newest first.
    assert_eq!(list[0].id, none);
    // etc/os-release (12) + bin/sh (7).
    assert!(list.iter().all(|i| i.size == 19), "{list:?}");
    assert!(list.iter().all(|i| i.created_unix > 1_700_000_000));
}

#[test]
fn inspect_has_dockers_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let id = store
        .import(&rootfs()[..], Some(&r("app:1")), &opts())
        .unwrap();
    store.tag(id.short(), &r("app:2")).unwrap();
    let v = serde_json::to_value(store.inspect("app:2").unwrap()).unwrap();
    assert_eq!(v["Id"], id.to_string());
    assert_eq!(v["RepoTags"], serde_json::json!(["app:1", "app:2"]));
    assert_eq!(v["RootFS"]["Type"], "layers");
    assert_eq!(v["RootFS"]["Layers"], serde_json::json!([sha(&rootfs())]));
    assert_eq!(v["Size"], 19);
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Comment"], "Imported from rootfs.tar");
    assert!(v["Created"].as_str().unwrap().ends_with('Z'));
    assert!(v["Architecture"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(v.get("Config").is_some());
}

#[test]
fn resolve_by_name_id_and_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let id = store.import(&rootfs()[..], Some(&r("x")), &opts()).unwrap();
    for s in [
        "x",
        "x:latest",
        &id.to_string(),
        id.hex(),
        id.short(),
        &format!("sha256:{}", &id.hex()[..5]),
    ] {
        assert_eq!(store.resolve(s).unwrap(), id, "{s}");
    }
    for s in ["y", "x:other", "Zz", "sha256:", ""] {
        assert!(
            matches!(store.resolve(s), Err(StoreError::NotFound(_))),
            "{s}"
        );
    }
    assert!(matches!(
        store.tag("nope", &r("z")),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn rmi_untags_then_deletes_and_collects_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let tar = rootfs();
    let layer = store.dir().join("layers").join(&sha(&tar)[7..]);
    let a = store.import(&tar[..], Some(&r("a")), &opts()).unwrap();
    let b = store
        .import(&gzip(&tar)[..], Some(&r("b")), &opts())
        .unwrap();
    store.tag("a", &r("a:two")).unwrap();

    // By ID with two tags: refused unless forced.
    assert!(matches!(
        store.rmi(a.short(), false),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store.rmi("a", false).unwrap(),
        [Removed::Untagged(r("a:latest"))]
    );
    assert_eq!(
        store.rmi("a:two", false).unwrap(),
        [Removed::Untagged(r("a:two")), Removed::Deleted(a.clone())]
    );
    // `b` still uses the layer; `a`'s config blob is gone, the shared layer blob (plain) was a's alone.
    assert!(layer.is_dir());
    assert!(!store.dir().join("blobs/sha256").join(a.hex()).exists());
    assert!(!store
        .dir()
        .join("blobs/sha256")
        .join(&sha(&tar)[7..])
        .exists());
    assert!(matches!(
        store.resolve(&a.to_string()),
        Err(StoreError::NotFound(_))
    ));

    store.tag("b", &r("b:two")).unwrap();
    assert_eq!(
        store.rmi(&b.to_string(), true).unwrap(),
        [
            Removed::Untagged(r("b:latest")),
            Removed::Untagged(r("b:two")),
            Removed::Deleted(b)
        ]
    );
    assert!(!layer.exists());
    assert!(entries(&store.dir().join("blobs/sha256")).is_empty());
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn retagging_moves_the_tag_and_leaves_a_dangling_image() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let old = store
        .import(&rootfs()[..], Some(&r("app")), &opts())
        .unwrap();
    let new = store
        .import(&rootfs()[..], Some(&r("app")), &opts())
        .unwrap();
    assert_eq!(store.resolve("app").unwrap(), new);
    let untagged: Vec<_> = store
        .images()
        .unwrap()
        .into_iter()
        .filter(|i| i.tag == "<none>")
        .collect();
    assert_eq!(untagged.len(), 1);
    assert_eq!(untagged[0].id, old);
    // Removing the dangling image by ID deletes it without touching the tagged one's layer.
    assert_eq!(
        store.rmi(old.short(), false).unwrap(),
        [Removed::Deleted(old)]
    );
    assert!(!store.lower_dirs(&new).unwrap().is_empty());
}

#[test]
fn a_failed_import_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let before = store
        .import(&rootfs()[..], Some(&r("keep")), &opts())
        .unwrap();
    let index = fs::read(store.dir().join("repositories.json")).unwrap();
    let blobs = entries(&store.dir().join("blobs/sha256"));

    let hostile = Tar::default()
        .file("ok", b"x")
        .hardlink("pw", "/etc/passwd")
        .build();
    let mut truncated = gzip(&rootfs());
    truncated.truncate(truncated.len() / 2);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("hostile", hostile),
        ("truncated gzip", truncated),
        ("empty", Vec::new()),
        ("xz", b"\xfd7zXZ\x00rest".to_vec()),
        ("bzip2", b"BZh91AY&SY".to_vec()),
        ("not a tar", vec![b'x'; 600]),
    ];
    for (what, bytes) in cases {
        let err = store
            .import(&bytes[..], Some(&r("broken")), &opts())
            .unwrap_err();
        eprintln!("{what}: {err}");
        match what {
            "empty" => assert!(matches!(err, StoreError::Empty)),
            "xz" | "bzip2" => assert!(matches!(err, StoreError::Compression(_))),
            "hostile" => assert!(matches!(err, StoreError::Extract(_))),
            _ => {}
        }
        assert_eq!(
            fs::read(store.dir().join("repositories.json")).unwrap(),
            index,
            "{what}"
        );
        assert_eq!(entries(&store.dir().join("blobs/sha256")), blobs, "{what}");
        assert_eq!(entries(&store.dir().join("layers")).len(), 1, "{what}");
        assert!(common::work_dirs(store.dir()).is_empty(), "{what}");
    }
    assert_eq!(store.resolve("keep").unwrap(), before);
    assert!(matches!(
        store.resolve("broken"),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn concurrent_imports_and_tags_lose_no_update() {
    // Every writer reads, changes and renames the index under the lock; without it some tags would be lost.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let root = root.clone();
            std::thread::spawn(move || {
                let store = Store::open(&root).unwrap();
                let tar = Tar::default().file("id", format!("{i}").as_bytes()).build();
                for j in 0..3 {
                    let id = store
                        .import(&tar[..], Some(&r(&format!("img{i}:{j}"))), &opts())
                        .unwrap();
                    store
                        .tag(&id.to_string(), &r(&format!("alias{i}:{j}")))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = Store::open(&root).unwrap();
    let images = store.images().unwrap();
    assert_eq!(images.len(), 48, "lost updates: {}", images.len());
    assert_eq!(entries(&store.dir().join("layers")).len(), 8);
    for i in 0..8 {
        let lower = store
            .lower_dirs(&store.resolve(&format!("alias{i}:2")).unwrap())
            .unwrap();
        assert_eq!(
            fs::read_to_string(lower[0].join("id")).unwrap(),
            i.to_string()
        );
    }
}

#[test]
fn a_corrupt_index_is_reported_not_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    fs::write(store.dir().join("repositories.json"), b"{not json").unwrap();
    assert!(matches!(store.images(), Err(StoreError::Index(..))));
    assert!(store.import(&rootfs()[..], None, &opts()).is_err());
    assert_eq!(
        fs::read(store.dir().join("repositories.json")).unwrap(),
        b"{not json"
    );
}

#[test]
fn import_changes_and_message_set_config_and_comment() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let o = ImportOptions {
        changes: vec![
            r#"CMD ["/bin/sh"]"#.into(),
            "ENV PATH=/usr/bin:/bin".into(),
            "WORKDIR /srv".into(),
        ],
        message: Some("base system".into()),
        ..opts()
    };
    store.import(&rootfs()[..], Some(&r("conf")), &o).unwrap();
    let v = serde_json::to_value(store.inspect("conf").unwrap()).unwrap();
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(
        v["Config"]["Env"],
        serde_json::json!(["PATH=/usr/bin:/bin"])
    );
    assert_eq!(v["Config"]["WorkingDir"], "/srv");
    assert_eq!(v["Comment"], "base system");

    let bad = ImportOptions {
        changes: vec!["RUN rm -rf /".into()],
        ..opts()
    };
    let err = store
        .import(&rootfs()[..], Some(&r("bad")), &bad)
        .unwrap_err();
    assert!(matches!(err, StoreError::Change(_)), "{err}");
    assert!(matches!(store.resolve("bad"), Err(StoreError::NotFound(_))));
}
