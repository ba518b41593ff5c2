//! `load` and `save`: docker-save archives and OCI layouts, round trips and hostile archives.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::Tar;
use minotaur_image::{ArchiveError, ExtractOptions, ImportOptions, Loaded, Reference, Store};
use serde_json::json;
use sha2::Digest as _;

fn sha(b: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(b))
}

fn r(s: &str) -> Reference {
    s.parse().unwrap()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn layer(content: &str) -> Vec<u8> {
    Tar::default()
        .dir("etc", 0o755)
        .file("etc/content", content.as_bytes())
        .build()
}

fn config(diff_ids: &[&[u8]]) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(|l| sha(l)).collect();
    serde_json::to_vec(&json!({
        "created": "2024-05-06T07:08:09Z",
        "architecture": oci_spec::image::Arch::default().to_string(),
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": ids},
    }))
    .unwrap()
}

/// A tar of (name, bytes) regular files plus (name, target) symlinks.
fn archive(files: &[(&str, &[u8])], symlinks: &[(&str, &str)]) -> Vec<u8> {
    let mut t = Tar::default();
    for (name, data) in files {
        t = t.file(name, data);
    }
    for (name, target) in symlinks {
        t = t.symlink(name, target);
    }
    t.build()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn store() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Store::open(tmp.path()).unwrap();
    (tmp, s)
}

#[test]
fn save_then_load_keeps_ids_tags_and_content() {
    let (_a, src) = store();
    let one = src
        .import(
            &layer("one")[..],
            Some(&r("one:v1")),
            &ImportOptions::default(),
        )
        .unwrap();
    let gz = gzip(&layer("two"));
    let two = src
        .import(&gz[..], Some(&r("two")), &ImportOptions::default())
        .unwrap();
    src.tag("one:v1", &r("one:v2")).unwrap();

    let mut out = Vec::new();
    src.save(&["one:v1", "one:v2", &two.to_string()], &mut out)
        .unwrap();

    // The archive is the classic docker-save layout, layers uncompressed.
    let mut ar = tar::Archive::new(&out[..]);
    let mut names = Vec::new();
    let mut manifest = None;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if name == "manifest.json" {
            manifest = Some(serde_json::from_reader::<_, serde_json::Value>(&mut e).unwrap());
        }
        names.push(name);
    }
    let manifest = manifest.expect("manifest.json");
    assert_eq!(manifest[0]["RepoTags"], json!(["one:v1", "one:v2"]));
    assert_eq!(manifest[0]["Config"], format!("{}.json", one.hex()));
    assert_eq!(
        manifest[1]["RepoTags"],
        serde_json::Value::Null,
        "saved by ID: no tags, as Docker"
    );
    let two_layer = format!("{}/layer.tar", &sha(&layer("two"))[7..]);
    assert!(names.contains(&two_layer), "{names:?}");
    assert!(names.contains(&"repositories".to_string()));

    let (_b, dst) = store();
    let loaded = dst.load(&out[..], &ExtractOptions::default()).unwrap();
    assert_eq!(
        loaded,
        [
            Loaded {
                id: one.clone(),
                tags: vec![r("one:v1"), r("one:v2")]
            },
            Loaded {
                id: two.clone(),
                tags: vec![]
            },
        ]
    );
    assert_eq!(dst.resolve("one:v2").unwrap(), one);
    let lower = dst.lower_dirs(&two).unwrap();
    assert_eq!(fs::read(lower[0].join("etc/content")).unwrap(), b"two");
    assert_eq!(
        dst.inspect(&one.to_string()).unwrap().root_fs.layers,
        [sha(&layer("one"))]
    );
    assert!(common::work_dirs(dst.dir()).is_empty());
}

#[test]
fn load_classic_docker_archive_with_shared_symlinked_layer() {
    let base = layer("base");
    let top = Tar::default()
        .file("etc/.wh.content", b"")
        .file("top", b"top")
        .build();
    let c1 = config(&[&base]);
    let c2 = config(&[&base, &top]);
    let manifest = serde_json::to_vec(&json!([
        {"Config": "c1.json", "RepoTags": ["docker.io/library/base:1"], "Layers": ["aaa/layer.tar"]},
        {"Config": "c2.json", "RepoTags": ["stack:latest", "NOT VALID"], "Layers": ["bbb/layer.tar", "ccc/layer.tar"]},
    ]))
    .unwrap();
    let ar = archive(
        &[
            ("aaa/layer.tar", &base),
            ("ccc/layer.tar", &top),
            ("c1.json", &c1),
            ("c2.json", &c2),
            ("manifest.json", &manifest),
        ],
        // Old docker save writes a repeated layer as a symlink to the first copy.
        &[("bbb/layer.tar", "../aaa/layer.tar")],
    );
    let (_t, s) = store();
    if !common::is_root() {
        eprintln!("skipped: the archive has a whiteout, which needs root");
        return;
    }
    let loaded = s.load(&gzip(&ar)[..], &ExtractOptions::default()).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[0].id.to_string(), sha(&c1));
    assert_eq!(loaded[0].tags, [r("base:1")]);
    assert_eq!(loaded[1].tags, [r("stack")], "the invalid tag is ignored");
    let lower = s.lower_dirs(&loaded[1].id).unwrap();
    assert_eq!(lower.len(), 2);
    assert_eq!(
        lower[1],
        s.lower_dirs(&loaded[0].id).unwrap()[0],
        "the shared layer is stored once"
    );
    assert_eq!(fs::read(lower[0].join("top")).unwrap(), b"top");
    assert_eq!(entries(&s.dir().join("layers")).len(), 2);
    assert_eq!(s.inspect("base:1").unwrap().created, "2024-05-06T07:08:09Z");
}

fn oci_layout(layer_blob: &[u8], diff_of: &[u8]) -> (Vec<u8>, String) {
    let cfg = config(&[diff_of]);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&cfg), "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(layer_blob), "size": layer_blob.len()}],
    }))
    .unwrap();
    let other = serde_json::to_vec(&json!({"not": "used"})).unwrap();
    let list = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&other), "size": other.len(),
             "platform": {"architecture": "s390x", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&manifest), "size": manifest.len(),
             "platform": {"architecture": oci_spec::image::Arch::default().to_string(), "os": "linux"}},
        ],
    }))
    .unwrap();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(&list), "size": list.len(),
            "annotations": {"io.containerd.image.name": "docker.io/library/oci:3", "org.opencontainers.image.ref.name": "3"}}],
    }))
    .unwrap();
    let blob = |b: &[u8]| format!("blobs/sha256/{}", &sha(b)[7..]);
    let files: Vec<(String, Vec<u8>)> = vec![
        (
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".into(), index),
        (blob(&list), list.clone()),
        (blob(&manifest), manifest.clone()),
        (blob(&other), other.clone()),
        (blob(&cfg), cfg.clone()),
        (blob(layer_blob), layer_blob.to_vec()),
    ];
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    (archive(&refs, &[]), sha(&cfg))
}

#[test]
fn load_oci_layout_picks_this_platform() {
    let l = layer("oci");
    let (ar, id) = oci_layout(&gzip(&l), &l);
    let (_t, s) = store();
    let loaded = s.load(&ar[..], &ExtractOptions::default()).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].id.to_string(), id);
    assert_eq!(loaded[0].tags, [r("oci:3")]);
    let lower = s.lower_dirs(&loaded[0].id).unwrap();
    assert_eq!(fs::read(lower[0].join("etc/content")).unwrap(), b"oci");
    let inspect = serde_json::to_value(s.inspect("oci:3").unwrap()).unwrap();
    assert_eq!(inspect["Config"]["Cmd"], json!(["/bin/sh"]));
}

#[test]
fn a_layer_that_does_not_match_its_diff_id_is_refused() {
    let (_t, s) = store();
    // docker-save: the config promises a different layer.
    let c = config(&[&layer("promised")]);
    let manifest = serde_json::to_vec(
        &json!([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["l/layer.tar"]}]),
    )
    .unwrap();
    let ar = archive(
        &[
            ("l/layer.tar", &layer("delivered")),
            ("c.json", &c),
            ("manifest.json", &manifest),
        ],
        &[],
    );
    assert!(matches!(
        s.load(&ar[..], &ExtractOptions::default()),
        Err(ArchiveError::DiffId { .. })
    ));
    // OCI: the blob does not match its descriptor.
    let l = layer("oci");
    let (ar, _) = oci_layout(&gzip(&l), &layer("other"));
    let err = s.load(&ar[..], &ExtractOptions::default()).unwrap_err();
    assert!(matches!(err, ArchiveError::DiffId { .. }), "{err}");
    assert!(s.images().unwrap().is_empty());
    assert!(entries(&s.dir().join("layers")).is_empty());
    assert!(entries(&s.dir().join("blobs/sha256")).is_empty());
    assert!(common::work_dirs(s.dir()).is_empty());
}

#[test]
fn archive_members_outside_the_archive_are_not_found() {
    let (t, s) = store();
    let outside = t.path().join("outside.tar");
    fs::write(&outside, layer("outside")).unwrap();
    let c = config(&[&layer("outside")]);
    for path in [
        "../../../../outside.tar".to_string(),
        outside.to_string_lossy().into_owned(),
        "link".into(),
    ] {
        let manifest = serde_json::to_vec(
            &json!([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": [path]}]),
        )
        .unwrap();
        let target = outside.to_string_lossy().into_owned();
        let ar = archive(
            &[("c.json", &c), ("manifest.json", &manifest)],
            &[("link", &target)],
        );
        let err = s.load(&ar[..], &ExtractOptions::default()).unwrap_err();
        assert!(matches!(err, ArchiveError::Member(..)), "{path}: {err}");
    }
    assert!(s.images().unwrap().is_empty());
}

#[test]
fn not_an_image_archive() {
    let (_t, s) = store();
    let ar = archive(&[("hello", b"world")], &[]);
    assert!(matches!(
        s.load(&ar[..], &ExtractOptions::default()),
        Err(ArchiveError::Format)
    ));
    assert!(s.save(&["missing"], Vec::new()).is_err());
}
