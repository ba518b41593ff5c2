//! A full disk: the state directory (the database, container files, volumes) and the image store on a small
//! tmpfs mounted inside the box, filled to a few KiB of free room. Every command that runs out of room fails
//! with one line saying so and a non-zero status; once room is back `system check` finds nothing wrong, and
//! the next ordinary command works. A user can still remove a container while the disk is full.

mod common;

use std::process::Output;

use common::{host, ok, show, Host};

/// Mounts a tmpfs of `size` over the box's state directory (inside the box's mount namespace only) and
/// returns the directory.
fn small_state(h: &Host, size: &str) -> String {
    let state = h.dir().join("state").display().to_string();
    h.sh_ok(&format!(
        "mount -t tmpfs -o size={size},mode=700 tmpfs {state}"
    ));
    state
}

/// Fills the state directory's file system up to `free` KiB of room.
fn fill(h: &Host, state: &str, free: u32) {
    h.sh_ok(&format!(
        "dd if=/dev/zero of={state}/fill bs=4k 2>/dev/null || true
         [ {free} = 0 ] || truncate -s -{free}k {state}/fill"
    ));
}

fn unfill(h: &Host, state: &str) {
    h.sh_ok(&format!("rm -f {state}/fill"));
}

/// Whether `out` succeeded; if it did not, asserts a non-zero status and exactly one error line (warnings
/// aside, such as an event that could not be recorded) saying that the disk is full.
fn succeeded_or_full(what: &str, out: &Output) -> bool {
    if out.status.success() {
        return true;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("minotaur: warn:"))
        .collect();
    assert_eq!(errors.len(), 1, "{what}: {}", show(out));
    assert!(
        errors[0].to_lowercase().contains("no space left"),
        "{what}: {}",
        show(out)
    );
    false
}

/// `system check` exits 0 and reports nothing.
fn check_clean(h: &Host, when: &str) {
    let out = h.mino(&["system", "check"]);
    assert_eq!(out.status.code(), Some(0), "{when}: {}", show(&out));
}

#[test]
fn a_full_state_directory_fails_in_one_line_and_leaves_a_consistent_state() {
    let Some(h) = host() else { return };
    let state = small_state(&h, "2m");
    ok(&h, &["network", "create", "n1"]);
    ok(&h, &["run", "--rm", "--network", "n1", "host", "true"]);
    // Each amount of room runs out at a different step: the record, the addresses, the container's files.
    for free in [0, 16, 32, 48] {
        ok(&h, &["create", "--name", "old", "host", "true"]);
        fill(&h, &state, free);
        let outs = [
            (
                "run",
                h.mino(&[
                    "run",
                    "-d",
                    "--name",
                    "c1",
                    "--network",
                    "n1",
                    "-p",
                    "8080:80",
                    "-v",
                    "/data",
                    "host",
                    "sleep",
                    "1000",
                ]),
            ),
            (
                "create",
                h.mino(&["create", "--name", "c2", "host", "true"]),
            ),
            ("volume create", h.mino(&["volume", "create", "v1"])),
            ("network create", h.mino(&["network", "create", "n2"])),
        ];
        let mut worked = Vec::new();
        for (what, out) in &outs {
            if succeeded_or_full(&format!("{what} with {free} KiB free"), out) {
                worked.push(*what);
            }
        }
        // With no room at all no container can be made (its files need room): the test cannot pass
        // without errors to look at. A command that only writes the store may still work: the WAL file
        // keeps its blocks when it starts over, and a commit that fits in them needs no new room.
        assert!(
            free > 0 || !worked.iter().any(|w| ["run", "create"].contains(w)),
            "{worked:?} worked on a full disk"
        );
        // A user makes room by removing things, on the full disk.
        ok(&h, &["rm", "-f", "old"]);
        unfill(&h, &state);
        check_clean(&h, &format!("after {free} KiB free"));
        for args in [
            &["rm", "-f", "c1", "c2"][..],
            &["volume", "rm", "v1"],
            &["network", "rm", "n2"],
        ] {
            let _ = h.mino(args);
        }
        // Whatever was left of them or not, the names are free and everything works again.
        ok(
            &h,
            &[
                "run",
                "-d",
                "--name",
                "c1",
                "--network",
                "n1",
                "-p",
                "8080:80",
                "host",
                "sleep",
                "1000",
            ],
        );
        ok(&h, &["volume", "create", "v1"]);
        ok(&h, &["network", "create", "n2"]);
        ok(&h, &["rm", "-f", "c1"]);
        ok(&h, &["volume", "rm", "v1"]);
        ok(&h, &["network", "rm", "n2"]);
        let prune = h.mino(&["volume", "prune", "-f"]);
        assert!(prune.status.success(), "{}", show(&prune));
        check_clean(&h, &format!("after {free} KiB free, cleaned"));
    }
    ok(&h, &["network", "rm", "n1"]);
    assert_eq!(
        h.sh_ok(&format!(
            "find {state}/volumes {state}/containers -mindepth 1"
        )),
        "",
        "directories left"
    );
}

#[test]
fn a_full_image_store_fails_in_one_line_and_keeps_nothing_half_made() {
    let Some(h) = host() else { return };
    let state = small_state(&h, "8m");
    // busybox alone, about 2 MB: the archive, its blob and its extracted layer need three times that.
    common::import_busybox(&h, "bb", "");
    ok(&h, &["save", "-o", "/tmp/bb-saved.tar", "bb"]);
    ok(&h, &["rmi", "bb"]);
    let empty = |when: &str| {
        assert_eq!(
            h.sh_ok(&format!(
                "find {state}/image/blobs/sha256 {state}/image/layers {state}/image/tmp/partial \
                 -mindepth 1"
            )),
            "",
            "{when}: left in the image store"
        );
    };
    empty("after rmi");
    for free in [0, 1024, 3072] {
        fill(&h, &state, free);
        let import = h.mino(&["import", "/tmp/root-bb.tar", "bb"]);
        let imported = succeeded_or_full(&format!("import with {free} KiB free"), &import);
        let load = h.mino(&["load", "-i", "/tmp/bb-saved.tar"]);
        let loaded = succeeded_or_full(&format!("load with {free} KiB free"), &load);
        assert!(
            free > 0 || !(imported || loaded),
            "an image fit on a full disk"
        );
        unfill(&h, &state);
        check_clean(&h, &format!("after {free} KiB free"));
        let _ = h.mino(&["rmi", "-f", "bb"]);
        let prune = h.mino(&["image", "prune", "-a", "-f"]);
        assert!(prune.status.success(), "{}", show(&prune));
        empty(&format!("after {free} KiB free"));
    }
    ok(&h, &["load", "-i", "/tmp/bb-saved.tar"]);
    assert_eq!(ok(&h, &["run", "--rm", "bb", "echo", "works"]), "works");
    check_clean(&h, "at the end");
}
