//! The image verbs (`import`, `images`, `tag`, `rmi`) against a store in a temporary `--root`.
//!
//! They touch only the store directory, so they run on the host without a throwaway box.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn mino(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_minotaur"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

fn ok(root: &Path, args: &[&str]) -> String {
    let out = mino(root, args);
    assert!(
        out.status.success(),
        "minotaur {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Fails with exit status 1 and one line on stderr containing `needle`.
fn fails(root: &Path, args: &[&str], needle: &str) {
    let out = mino(root, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "minotaur {args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("minotaur: ") && err.contains(needle),
        "{err}"
    );
}

/// A gzip'd root filesystem made with GNU tar, as a user would.
fn rootfs(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/os-release"), "ID=test\n").unwrap();
    let tarball = dir.join("rootfs.tar.gz");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&src)
        .arg("-czf")
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    tarball
}

#[test]
fn import_list_tag_and_remove() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let tarball = rootfs(tmp.path());

    let id = ok(&root, &["import", tarball.to_str().unwrap(), "app:1"]);
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

    // From standard input, untagged.
    let out = Command::new(env!("CARGO_BIN_EXE_minotaur"))
        .arg("--root")
        .arg(&root)
        .args(["import", "-"])
        .stdin(Stdio::from(std::fs::File::open(&tarball).unwrap()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let id2 = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_ne!(id, id2);

    let table = ok(&root, &["images"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"],
        "{table}"
    );
    let app = lines.iter().find(|l| l.starts_with("app ")).expect(&table);
    let cols: Vec<&str> = app.split_whitespace().collect();
    assert_eq!(&cols[..3], ["app", "1", &id[7..19]]);
    assert_eq!(&cols[cols.len() - 2..], ["ago", "8B"], "{app}");
    let none = lines
        .iter()
        .find(|l| l.starts_with("<none> "))
        .expect(&table);
    assert_eq!(none.split_whitespace().nth(2), Some(&id2[7..19]), "{table}");

    let mut q: Vec<String> = ok(&root, &["images", "-q", "--no-trunc"])
        .lines()
        .map(String::from)
        .collect();
    q.sort();
    let mut want = vec![id.to_string(), id2.clone()];
    want.sort();
    assert_eq!(q, want);
    assert_eq!(ok(&root, &["images", "-q", "app"]).trim(), &id[7..19]);

    ok(&root, &["tag", "app:1", "other/app:2"]);
    assert_eq!(
        ok(&root, &["images", "-q", "other/app:2"]).trim(),
        &id[7..19]
    );
    // Docker's conflict: by ID with two tags needs -f.
    fails(&root, &["rmi", &id[7..19]], "must be forced");
    assert_eq!(ok(&root, &["rmi", "app:1"]), "Untagged: app:1\n");
    assert_eq!(
        ok(&root, &["rmi", "other/app:2", &id2[7..]]),
        format!("Untagged: other/app:2\nDeleted: {id}\nDeleted: {id2}\n")
    );
    assert_eq!(ok(&root, &["images", "-q"]), "");
    let layers = std::fs::read_dir(root.join("image/layers"))
        .unwrap()
        .count();
    assert_eq!(layers, 0, "layers left after the last image went");
}

#[test]
fn bad_input_gives_one_line_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let tarball = rootfs(tmp.path());
    let t = tarball.to_str().unwrap();

    fails(&root, &["import", t, "App"], "must be lowercase");
    fails(&root, &["import", t, "app:"], "invalid tag format");
    fails(
        &root,
        &["import", "/nonexistent.tar", "app"],
        "cannot open /nonexistent.tar",
    );
    let garbage = tmp.path().join("garbage.tar.xz");
    std::fs::write(&garbage, b"\xfd7zXZ\x00 not really").unwrap();
    fails(&root, &["import", garbage.to_str().unwrap()], "xz");
    assert_eq!(ok(&root, &["images", "-q"]), "");

    ok(&root, &["import", t, "app"]);
    fails(&root, &["rmi", "nope"], "no such image: nope");
    fails(&root, &["tag", "nope", "x"], "no such image: nope");
    fails(&root, &["tag", "app", "X"], "must be lowercase");
    assert_eq!(ok(&root, &["images", "-q"]).lines().count(), 1);
    assert!(ok(&root, &["images"]).contains("app "));
}
