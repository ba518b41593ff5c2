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
    // Both images, and the built-in one.
    assert_eq!(lines.len(), 4, "{table}");
    let host: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("host "))
        .expect(&table)
        .split_whitespace()
        .collect();
    assert_eq!(host, ["host", "latest", "host", "N/A", "0B"], "{table}");
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
    // An imported image was never pulled or pushed: no digest.
    let table = ok(&root, &["images", "--digests", "app"]);
    let cols: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        cols[0][..4],
        ["REPOSITORY", "TAG", "DIGEST", "IMAGE"],
        "{table}"
    );
    assert_eq!(cols[1][..4], ["app", "1", "<none>", &id[7..19]], "{table}");

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
        &["import", "-c", "RUN true", t, "app"],
        "unsupported change instruction",
    );
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

/// The store of a box (`MINOTAUR_ROOT` inside it).
fn box_store(h: &minotaur_testhost::TestHost) -> std::path::PathBuf {
    h.dir().join("state/image")
}

#[test]
fn import_extracts_like_gnu_tar() {
    // Same tarball, extracted by `tar -xp --xattrs` and by `minotaur import`: the trees must list the same
    // types, modes, owners, sizes, mtimes and link targets.
    let Some(h) = minotaur_testhost::TestHost::new(env!("CARGO_BIN_EXE_minotaur")) else {
        return;
    };
    h.sh_ok(
        "set -e; mkdir -p /tmp/src/d/sub /tmp/ref
         cp -a /etc /tmp/src/etc
         echo x > /tmp/src/d/sub/f; chown 1234:5678 /tmp/src/d/sub/f; chmod 4711 /tmp/src/d/sub/f
         ln /tmp/src/d/sub/f /tmp/src/d/hard; ln -s ../etc/passwd /tmp/src/d/sym
         chmod 0555 /tmp/src/d/sub; touch -d 2001-02-03 /tmp/src/d/sub /tmp/src/d/sym -h
         mkfifo /tmp/src/d/fifo
         tar --xattrs -C /tmp/src -cf /tmp/rootfs.tar .
         tar --xattrs -C /tmp/ref -xpf /tmp/rootfs.tar",
    );
    let out = h.mino(&["import", "/tmp/rootfs.tar", "fromtar"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff_id = h.sh_ok("sha256sum /tmp/rootfs.tar | cut -d' ' -f1");
    let layer = box_store(&h).join("layers").join(diff_id.trim());
    let list = |dir: &str| {
        h.sh_ok(&format!(
            "cd {dir} && find . -printf '%p %y %m %U %G %s %T@ %l %n\\n' | grep -v '^\\. ' | sort"
        ))
    };
    let want = list("/tmp/ref");
    let got = list(layer.to_str().unwrap());
    assert!(want.lines().count() > 20, "{want}");
    assert!(want.contains("./d/sub/f f 4711 1234 5678 2 "), "{want}");
    let differ: Vec<_> = got
        .lines()
        .zip(want.lines())
        .filter(|(g, w)| g != w)
        .take(5)
        .collect();
    assert!(differ.is_empty(), "minotaur vs GNU tar: {differ:#?}");
    assert_eq!(got.lines().count(), want.lines().count());
}

#[test]
fn whiteouts_hide_lower_files_in_overlayfs() {
    let Some(h) = minotaur_testhost::TestHost::new(env!("CARGO_BIN_EXE_minotaur")) else {
        return;
    };
    // A layer that deletes etc/a and makes dir/ opaque, imported, then mounted over a base by the kernel.
    h.sh_ok(
        "set -e; mkdir -p /tmp/top/etc /tmp/top/dir /tmp/base/etc /tmp/base/dir /tmp/merged
         touch /tmp/top/etc/.wh.a /tmp/top/dir/.wh..wh..opq /tmp/top/dir/y
         touch /tmp/base/etc/a /tmp/base/etc/b /tmp/base/dir/x
         tar -C /tmp/top -czf /tmp/top.tar.gz .",
    );
    let out = h.mino(&["import", "/tmp/top.tar.gz", "top"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff_id = h.sh_ok("gzip -dc /tmp/top.tar.gz | sha256sum | cut -d' ' -f1");
    let layer = box_store(&h).join("layers").join(diff_id.trim());
    let merged = h.sh_ok(&format!(
        "set -e; mount -t overlay overlay -o lowerdir={}:/tmp/base /tmp/merged
         (cd /tmp/merged && find . | sort); umount /tmp/merged",
        layer.display()
    ));
    assert_eq!(merged, ".\n./dir\n./dir/y\n./etc\n./etc/b\n");
}

#[test]
fn images_filter_by_dangling_reference_label_and_creation_time() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let tarball = rootfs(tmp.path());
    let t = tarball.to_str().unwrap();
    let tagged = ok(&root, &["import", t, "team/app:1"]);
    ok(&root, &["tag", "team/app:1", "other:2"]);
    // An untagged one.
    ok(&root, &["import", "-c", "ENV X=1", t]);
    let names = |filters: &[&str]| {
        let mut args = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let mut v: Vec<String> = ok(&root, &args).lines().map(str::to_owned).collect();
        v.sort();
        v
    };
    assert_eq!(names(&["dangling=true"]), ["<none>:<none>"]);
    assert_eq!(
        names(&["dangling=false"]),
        ["host:latest", "other:2", "team/app:1"]
    );
    assert_eq!(names(&["reference=team/*"]), ["team/app:1"]);
    assert_eq!(names(&["reference=*"]), ["host:latest", "other:2"]);
    assert_eq!(names(&["reference=*:2", "dangling=false"]), ["other:2"]);
    let q = ok(
        &root,
        &["images", "-q", "--no-trunc", "-f", "reference=other"],
    );
    assert_eq!(q.trim(), tagged.trim());
    fails(
        &root,
        &["images", "-f", "dangling=maybe"],
        "dangling=\"maybe\"",
    );
    fails(&root, &["images", "-f", "reference=["], "reference=\"[\"");
    fails(
        &root,
        &["images", "-f", "colour=red"],
        "expected dangling, reference, label, before or since",
    );

    // label, before and since: by the config's labels and creation times (to the nanosecond, as Docker).
    ok(&root, &["import", "-c", "LABEL tier=web", t, "web:1"]);
    assert_eq!(names(&["label=tier"]), ["web:1"]);
    assert_eq!(names(&["label=tier=web"]), ["web:1"]);
    assert!(names(&["label=tier=db"]).is_empty());
    assert_eq!(
        names(&["before=web:1"]),
        ["<none>:<none>", "other:2", "team/app:1"]
    );
    assert_eq!(names(&["since=team/app:1"]), ["<none>:<none>", "web:1"]);
    assert_eq!(names(&["since=team/app:1", "dangling=false"]), ["web:1"]);
    assert!(names(&["since=web:1"]).is_empty());
    fails(
        &root,
        &["images", "-f", "before=nosuch:1"],
        "no such image: nosuch:1",
    );
    fails(
        &root,
        &["images", "-f", "since="],
        "invalid filter since=: expected an image",
    );
}
