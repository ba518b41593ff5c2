//! Property tests of what the image store parses: hostile layer tarballs (absolute names, `..`, a symlink and
//! then a file through it, hard links out of the layer, whiteouts, PAX records, huge and sparse sizes,
//! corrupted and truncated headers), image references, `images --filter`, and the documents `load` reads first (`manifest.json`
//! of `docker save`, `index.json` of an OCI layout). No input may panic, hang, or write outside the
//! layer root; each is extracted or refused with a one-line error. Tarballs are built from entries near what
//! real layers hold, then bytes of them are changed (header checksums kept valid) and the stream may be cut
//! short. Failures found are kept in `fuzz.proptest-regressions`.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use common::Tar;
use minotaur_fuzzkit::{assert_one_line, config, near, seed_files, seed_lines, within};
use minotaur_image::extract::{extract, Options};
use minotaur_image::{Digest, ExtractOptions, ImageFilter, Reference, Store};
use proptest::prelude::*;
use proptest::sample::Index;
use tar::EntryType;

/// Names an entry may have. `@S` is the sentinel's absolute path: the only absolute place an escape could
/// reach, so that a broken extractor damages the sentinel, never the host.
const NAMES: &[&str] = &[
    "a",
    "a/b",
    "./a",
    "dir",
    "dir/f",
    "evil",
    "evil/f",
    "evil/sub/f",
    "../sentinel/pwned",
    "a/../../sentinel/pwned",
    "@S/pwned",
    "../sentinel/secret",
    ".wh.a",
    "dir/.wh..wh..opq",
    ".wh.dir",
    "",
    ".",
    "..",
    "a//b/",
    "link",
    "link/f",
];

/// Symlink and hard link targets, aimed at the sentinel or inside the layer.
const TARGETS: &[&str] = &[
    "../sentinel",
    "@S",
    "@S/secret",
    "../sentinel/secret",
    "..",
    ".",
    "a",
    "dir",
    "dir/f",
    "evil/f",
    "dir/../../sentinel",
    "missing",
];

#[derive(Debug, Clone)]
enum Entry {
    File {
        name: Index,
        len: u8,
        mode: u16,
    },
    Dir {
        name: Index,
        mode: u16,
    },
    Symlink {
        name: Index,
        target: Index,
    },
    Hardlink {
        name: Index,
        target: Index,
    },
    Fifo {
        name: Index,
    },
    Pax {
        key: u8,
        value: Index,
    },
    /// A file whose header claims far more than the stream holds.
    Huge {
        name: Index,
    },
    /// A GNU sparse file: a few bytes of data at the start of a file that claims `real` bytes in all.
    Sparse {
        name: Index,
        real_shift: u8,
    },
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        4 => (any::<Index>(), any::<u8>(), any::<u16>()).prop_map(|(name, len, mode)| Entry::File { name, len, mode }),
        2 => (any::<Index>(), any::<u16>()).prop_map(|(name, mode)| Entry::Dir { name, mode }),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(name, target)| Entry::Symlink { name, target }),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(name, target)| Entry::Hardlink { name, target }),
        1 => any::<Index>().prop_map(|name| Entry::Fifo { name }),
        2 => (0u8..6, any::<Index>()).prop_map(|(key, value)| Entry::Pax { key, value }),
        1 => any::<Index>().prop_map(|name| Entry::Huge { name }),
        1 => (any::<Index>(), 10u8..63).prop_map(|(name, real_shift)| Entry::Sparse { name, real_shift }),
    ]
}

/// Changes of the built stream: bytes replaced (a header's checksum is then made valid again, so the change
/// reaches the parser behind it), and where to cut it short.
#[derive(Debug, Clone)]
struct Damage {
    bytes: Vec<(Index, u8)>,
    cut: Option<Index>,
}

fn damage() -> impl Strategy<Value = Damage> {
    (
        proptest::collection::vec((any::<Index>(), any::<u8>()), 0..4),
        proptest::option::weighted(0.2, any::<Index>()),
    )
        .prop_map(|(bytes, cut)| Damage { bytes, cut })
}

fn pick(list: &[&str], i: &Index, sentinel: &str) -> String {
    list[i.index(list.len())].replace("@S", sentinel)
}

fn build(entries: &[Entry], sentinel: &str) -> Vec<u8> {
    let name = |i: &Index| pick(NAMES, i, sentinel);
    let target = |i: &Index| pick(TARGETS, i, sentinel);
    let mut t = Tar::default();
    let mut tail = Vec::new();
    for e in entries {
        t = match e {
            Entry::File { name: n, len, mode } => t.file_full(
                &name(n),
                &vec![b'x'; *len as usize],
                u32::from(*mode) & 0o7777,
                u64::from(*len),
                0,
                1_000_000,
            ),
            Entry::Dir { name: n, mode } => t.dir(&name(n), u32::from(*mode) & 0o7777),
            Entry::Symlink { name: n, target: x } => t.symlink(&name(n), &target(x)),
            Entry::Hardlink { name: n, target: x } => t.hardlink(&name(n), &target(x)),
            Entry::Fifo { name: n } => t.node(EntryType::Fifo, &name(n), 0, 0),
            Entry::Pax { key, value } => {
                let v = target(value);
                let records: &[(&str, &[u8])] = match key {
                    0 => &[("path", v.as_bytes())],
                    1 => &[("linkpath", v.as_bytes())],
                    2 => &[("size", b"99999999999999999999")],
                    3 => &[("SCHILY.xattr.trusted.overlay.opaque", b"y")],
                    4 => &[("mtime", b"-1.999999999999")],
                    _ => &[("SCHILY.xattr.user.x", v.as_bytes())],
                };
                t.pax(records)
            }
            Entry::Huge { name: n } => {
                // Its header is the last thing in the stream: nothing follows to read as its data.
                tail = raw_header(EntryType::Regular, &name(n), 1 << 40, None);
                break;
            }
            Entry::Sparse {
                name: n,
                real_shift,
            } => {
                tail = raw_header(
                    EntryType::GNUSparse,
                    &name(n),
                    512,
                    Some(1u64 << real_shift),
                );
                tail.extend_from_slice(&[b's'; 512]);
                break;
            }
        };
    }
    let mut out = t.build();
    // The builder's two zero blocks end the archive; what comes after them goes before them.
    if !tail.is_empty() {
        out.truncate(out.len() - 1024);
        out.extend_from_slice(&tail);
        out.extend_from_slice(&[0; 1024]);
    }
    out
}

/// A header block of `size` bytes of data; a GNU sparse one maps its data to offset 0 of a file of `real`.
fn raw_header(kind: EntryType, name: &str, size: u64, real: Option<u64>) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    let raw = &mut h.as_old_mut().name;
    let n = name.len().min(raw.len() - 1);
    raw[..n].copy_from_slice(&name.as_bytes()[..n]);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(size);
    h.set_mtime(1_000_000);
    if let Some(real) = real {
        let gnu = h.as_gnu_mut().unwrap();
        // One data chunk, at the very end of the file: everything before it is a hole.
        number(&mut gnu.sparse[0].offset, real.saturating_sub(size));
        number(&mut gnu.sparse[0].numbytes, size);
        number(&mut gnu.realsize, real.max(size));
    }
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// A numeric header field: 11 octal digits, or past 8 GiB GNU's base-256 form.
fn number(field: &mut [u8; 12], v: u64) {
    if v < 1 << 33 {
        let s = format!("{v:011o}");
        field[..11].copy_from_slice(s.as_bytes());
        field[11] = 0;
    } else {
        *field = [0; 12];
        field[0] = 0x80;
        field[4..].copy_from_slice(&v.to_be_bytes());
    }
}

fn apply(mut tar: Vec<u8>, d: &Damage) -> Vec<u8> {
    for (at, byte) in &d.bytes {
        let at = at.index(tar.len());
        tar[at] = *byte;
        let block = at / 512 * 512;
        if tar.len() >= block + 512 && &tar[block + 257..block + 262] == b"ustar" {
            let mut h = tar::Header::new_old();
            h.as_mut_bytes().copy_from_slice(&tar[block..block + 512]);
            h.set_cksum();
            tar[block..block + 512].copy_from_slice(h.as_bytes());
        }
    }
    if let Some(cut) = &d.cut {
        tar.truncate(cut.index(tar.len() + 1));
    }
    tar
}

/// Every name under `dir`, without following symlinks.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        out.push(e.path());
        if e.file_type().unwrap().is_dir() {
            out.extend(listing(&e.path()));
        }
    }
    out
}

fn check_layer(entries: Vec<Entry>, d: Damage) {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layer");
    let sentinel = tmp.path().join("sentinel");
    fs::create_dir(&layer).unwrap();
    fs::create_dir(&sentinel).unwrap();
    fs::write(sentinel.join("secret"), "secret").unwrap();
    let tar = apply(build(&entries, sentinel.to_str().unwrap()), &d);
    let root = layer.clone();
    let r = within("extracting a layer", move || {
        extract(&tar[..], &root, &Options::default())
    });
    if let Err(e) = r {
        assert_one_line(&e);
    }
    let names: Vec<_> = fs::read_dir(&sentinel)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["secret"], "something was written into the sentinel");
    assert_eq!(
        fs::read_to_string(sentinel.join("secret")).unwrap(),
        "secret"
    );
    assert_eq!(
        fs::metadata(sentinel.join("secret")).unwrap().nlink(),
        1,
        "the secret got a hard link"
    );
    let mut beside: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    beside.sort();
    assert_eq!(
        beside,
        ["layer", "sentinel"],
        "something was written beside the layer"
    );
    // No file in the layer takes more room on disk than the stream could have carried.
    for p in listing(&layer) {
        let m = fs::symlink_metadata(&p).unwrap();
        assert!(
            m.blocks() * 512 <= 1 << 20,
            "{} takes {} bytes on disk",
            p.display(),
            m.blocks() * 512
        );
    }
    // Read-only directories the layer made must not stop the temporary directory's removal.
    for p in listing(&layer) {
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            let _ = fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755));
        }
    }
}

const REFERENCE_TOKENS: &[&str] = &[
    "/",
    ":",
    "@",
    "sha256:",
    ".",
    "-",
    "_",
    "__",
    "localhost",
    ":5000",
    "0123456789abcdef",
    "A",
    " ",
    "\n",
    "é",
];

fn check_reference(s: String) {
    within(&format!("reference {s:?}"), move || {
        match Reference::from_str(&s) {
            Ok(r) => {
                let again: Reference = r
                    .to_string()
                    .parse()
                    .unwrap_or_else(|e| panic!("{s:?} became {r}, which does not parse: {e}"));
                assert_eq!(again, r, "{s:?} does not round-trip");
            }
            Err(e) => assert_one_line(&e),
        }
        if let Err(e) = Digest::from_str(&s) {
            assert_one_line(&e);
        }
    });
}

#[test]
fn seeds_parse_or_fail_in_one_line() {
    seed_lines(format!(
        "{}/tests/seeds/references",
        env!("CARGO_MANIFEST_DIR")
    ))
    .into_iter()
    .for_each(check_reference);
}

proptest! {
    #![proptest_config(config(400))]
    #[test]
    fn hostile_layers_stay_inside_their_root(
        entries in proptest::collection::vec(entry(), 1..10),
        d in damage(),
    ) {
        check_layer(entries, d);
    }
}

proptest! {
    #![proptest_config(config(3000))]
    #[test]
    fn image_references(
        s in near(seed_lines(format!("{}/tests/seeds/references", env!("CARGO_MANIFEST_DIR"))), REFERENCE_TOKENS)
    ) {
        check_reference(s);
    }
}

/// The members of the archives `load` is given around a fuzzed `manifest.json` or `index.json`: one layer, its
/// image config, an OCI manifest of them and an index (a platform list) of that manifest, at the names both
/// layouts use. Seeds name them by placeholders (`@CONFIG@`, `@LAYER@`, `@MANIFEST@`, `@LIST@` and their
/// `_SIZE@`s), replaced after the edits.
struct Members {
    files: Vec<(String, Vec<u8>)>,
    placeholders: Vec<(String, String)>,
}

fn members() -> Members {
    let hex = |b: &[u8]| Digest::of(b).hex().to_owned();
    let layer = Tar::default()
        .dir("etc", 0o755)
        .file("etc/os-release", b"ID=fuzz\n")
        .build();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": oci_spec::image::Arch::default().to_string(),
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", hex(&layer))]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{}", hex(&config)), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": format!("sha256:{}", hex(&layer)), "size": layer.len()}],
    }))
    .unwrap();
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": format!("sha256:{}", hex(&manifest)), "size": manifest.len(),
                       "platform": {"architecture": oci_spec::image::Arch::default().to_string(), "os": "linux"}}],
    }))
    .unwrap();
    let mut placeholders = Vec::new();
    let mut files = vec![
        (
            "oci-layout".to_owned(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("config.json".to_owned(), config.clone()),
        ("layer.tar".to_owned(), layer.clone()),
    ];
    for (name, bytes) in [
        ("CONFIG", config),
        ("LAYER", layer),
        ("MANIFEST", manifest),
        ("LIST", list),
    ] {
        placeholders.push((format!("@{name}_SIZE@"), bytes.len().to_string()));
        placeholders.push((format!("@{name}@"), hex(&bytes)));
        files.push((format!("blobs/sha256/{}", hex(&bytes)), bytes));
    }
    Members {
        files,
        placeholders,
    }
}

/// Loads an archive of the members and `doc` as `name` into a store of its own, which it returns.
fn load(
    m: &Members,
    name: &str,
    doc: &str,
) -> (
    tempfile::TempDir,
    Store,
    Result<Vec<minotaur_image::Loaded>, minotaur_image::ArchiveError>,
) {
    let doc = m
        .placeholders
        .iter()
        .fold(doc.to_owned(), |d, (from, to)| d.replace(from, to));
    // On a tmpfs when there is one: a load syncs what it writes, which a disk makes slow.
    let tmp = match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm"),
        false => tempfile::tempdir(),
    }
    .unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let mut t = Tar::default();
    for (n, b) in &m.files {
        t = t.file(n, b);
    }
    let archive = t.file(name, doc.as_bytes()).build();
    let opts = ExtractOptions {
        allow_devices: false,
        same_owner: false,
        id_map: None,
    };
    let result = store.load(&archive[..], &opts);
    (tmp, store, result)
}

/// Loads `doc` as the `manifest.json` of one archive and the `index.json` of another: each load works or
/// fails with one line, and a failed one registers nothing.
fn check_load(doc: String) {
    within(&format!("load of {doc:?}"), move || {
        let m = members();
        for name in ["manifest.json", "index.json"] {
            let (_tmp, store, result) = load(&m, name, &doc);
            if let Err(e) = result {
                assert_one_line(&e);
                let images = store.images().unwrap();
                assert!(
                    images.iter().all(|i| i.repository == "host"),
                    "a failed load registered {images:?}"
                );
            }
        }
    });
}

const ARCHIVE_TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "null",
    "true",
    "0",
    "-1",
    "1e999",
    "99999999999999999999",
    "\"Config\"",
    "\"Layers\"",
    "\"RepoTags\"",
    "\"manifests\"",
    "\"digest\"",
    "\"size\"",
    "\"mediaType\"",
    "\"platform\"",
    "\"annotations\"",
    "\"config.json\"",
    "\"layer.tar\"",
    "\"blobs/sha256/@LAYER@\"",
    "\"blobs/sha256/@CONFIG@\"",
    "\"sha256:@MANIFEST@\"",
    "\"sha256:@LIST@\"",
    "\"sha256:@CONFIG@\"",
    "\"sha256:\"",
    "\"../../etc/passwd\"",
    "\"/etc/passwd\"",
    "\"application/vnd.oci.image.index.v1+json\"",
    "\"application/vnd.oci.image.manifest.v1+json\"",
    "\"io.containerd.image.name\"",
    "\"UPPER:tag\"",
    "\\u0000",
    "é",
    " ",
    "\n",
];

fn archive_seeds() -> Vec<String> {
    seed_files(format!(
        "{}/tests/seeds/archive_manifests",
        env!("CARGO_MANIFEST_DIR")
    ))
}

#[test]
fn archive_seeds_load_or_fail_in_one_line() {
    let seeds = archive_seeds();
    // The seeds are worth something only if some of them load: the members and placeholders are right.
    let m = members();
    let loads = seeds
        .iter()
        .filter(|doc| {
            ["manifest.json", "index.json"]
                .iter()
                .any(|name| load(&m, name, doc).2.is_ok())
        })
        .count();
    assert!(loads >= 4, "only {loads} seeds load");
    seeds.into_iter().for_each(check_load);
}

proptest! {
    #![proptest_config(config(500))]
    #[test]
    fn load_manifests_and_indexes(s in near(archive_seeds(), ARCHIVE_TOKENS)) {
        check_load(s);
    }
}

const IMAGE_FILTER_TOKENS: &[&str] = &[
    "=",
    "dangling",
    "reference",
    "true",
    "false",
    "*",
    "?",
    "[",
    "]",
    "[!",
    "-",
    "\\",
    ":",
    "/",
    "**",
    "busybox",
    "latest",
    " ",
    "\n",
    "é",
];

fn check_image_filter(s: String) {
    within(&format!("images --filter {s:?}"), move || {
        match s.parse::<ImageFilter>() {
            Ok(f) => {
                // Matching never panics, whatever the pattern.
                let _ = f.matches_name("localhost:5000/team/app", "v1");
                let _ = f.matches_name("<none>", "<none>");
            }
            Err(e) => assert_one_line(&e),
        }
    });
}

fn image_filter_seeds() -> Vec<String> {
    seed_lines(format!(
        "{}/tests/seeds/image_filters",
        env!("CARGO_MANIFEST_DIR")
    ))
}

#[test]
fn image_filter_seeds_parse_or_fail_in_one_line() {
    image_filter_seeds()
        .into_iter()
        .for_each(check_image_filter);
}

proptest! {
    #![proptest_config(config(1500))]
    #[test]
    fn image_filters(s in near(image_filter_seeds(), IMAGE_FILTER_TOKENS)) {
        check_image_filter(s);
    }
}
