//! Pulls that die or run out of disk halfway leave nothing that `system check` cannot name and remove.

use super::*;

/// A pull that dies after its layers are in and before its image is registered (the crash point
/// `pull:layers`): `ps` and `images` work, `system check` names each layer and blob no image uses, `--repair`
/// removes them, a second check finds nothing, and the pull works again (and its layers are then nobody's
/// orphans).
#[test]
fn a_pull_that_died_before_registering_leaves_what_system_check_removes() {
    let Some(h) = host() else { return };
    start_registry(&h, "reg", REG, "");
    import_busybox(&h, "bb:1", "");
    let image = format!("{REG}/bb:1");
    ok(&h, &["tag", "bb:1", &image]);
    ok(&h, &["push", &image]);
    ok(&h, &["rmi", "bb:1", &image]);
    assert_eq!(store_layers(&h), Vec::<String>::new());
    assert_eq!(ok(&h, &["system", "check"]), "");

    let out = h
        .command("sh")
        .args([
            "-c",
            "ulimit -c 0; exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_minotaur"),
            "pull",
            &image,
        ])
        .env("DOCKER_CONFIG", "/tmp/docker")
        .env("MINOTAUR_REGISTRIES_CONF", "/tmp/registries.conf")
        .env("MINOTAUR_CERTS_D", "/tmp/certs.d")
        .env("MINOTAUR_CRASH_AFTER", "pull:layers")
        .output()
        .expect("running minotaur");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(6), "{}", show(&["pull"], &out));
    ok(&h, &["ps", "-a"]);
    assert_eq!(ok(&h, &["images", "-q"]), "");
    let layers = store_layers(&h);
    assert!(!layers.is_empty());

    let first = mino(&h, &["system", "check"]);
    let found = String::from_utf8_lossy(&first.stdout).into_owned();
    assert_eq!(
        first.status.code(),
        Some(1),
        "{}",
        show(&["system", "check"], &first)
    );
    for l in &layers {
        assert!(
            found.contains(&format!(
                "image store: orphan layer sha256:{l} (no image uses it)"
            )),
            "{l} not in {found}"
        );
    }
    assert!(
        found.lines().all(|l| l.starts_with("image store: orphan ")),
        "{found}"
    );
    assert!(
        found.contains("image store: orphan blob sha256:"),
        "{found}"
    );
    let repair = mino(&h, &["system", "check", "--repair"]);
    assert_eq!(
        repair.status.code(),
        Some(0),
        "{}",
        show(&["repair"], &repair)
    );
    assert_eq!(
        String::from_utf8_lossy(&repair.stdout).lines().count(),
        found.lines().count()
    );
    assert_eq!(ok(&h, &["system", "check"]), "");
    assert_eq!(store_layers(&h), Vec::<String>::new());

    ok(&h, &["pull", &image]);
    assert_eq!(store_layers(&h), layers);
    assert_eq!(ok(&h, &["system", "check"]), "");
    ok(&h, &["run", "--rm", "--network", "none", &image, "true"]);
    ok(&h, &["rmi", &image]);
}

#[test]
fn a_pull_onto_a_full_disk_fails_in_one_line_and_keeps_nothing() {
    let Some(h) = host() else { return };
    // The store on a small tmpfs of the box's own, with room for one of the images at a time.
    let state = h.dir().join("state").display().to_string();
    h.sh_ok(&format!(
        "mount -t tmpfs -o size=16m,mode=700 tmpfs {state}"
    ));
    start_registry(&h, "reg", REG, "");
    import_busybox(&h, "bb:1", "");
    // 3 MiB of zeros: a few KiB once compressed, so the pull's estimate lets it start, and it runs out
    // of room while extracting.
    h.sh_ok(
        "set -e; mkdir /tmp/zeros; dd if=/dev/zero of=/tmp/zeros/zeros bs=1M count=3 2>/dev/null
             tar -C /tmp/zeros -cf /tmp/zeros.tar .",
    );
    let bb = format!("{REG}/bb:1");
    let zeros = format!("{REG}/zeros:1");
    ok(&h, &["tag", "bb:1", &bb]);
    ok(&h, &["push", &bb]);
    ok(&h, &["rmi", "bb:1", &bb]);
    ok(&h, &["import", "/tmp/zeros.tar", &zeros]);
    ok(&h, &["push", &zeros]);
    ok(&h, &["rmi", &zeros]);
    ok(&h, &["image", "prune", "-a", "-f"]);
    let stored = || {
        h.sh_ok(&format!(
            "find {state}/image/blobs/sha256 {state}/image/layers {state}/image/tmp/partial -mindepth 1"
        ))
    };
    assert_eq!(stored(), "");
    // No room at all and less room than the estimate: refused before fetching. Room for the blob, not
    // for its layer: out of room half-way.
    for (image, free) in [(&bb, 0), (&bb, 3072), (&zeros, 1024), (&zeros, 64)] {
        h.sh_ok(&format!(
            "dd if=/dev/zero of={state}/fill bs=4k 2>/dev/null || true
             [ {free} = 0 ] || truncate -s -{free}k {state}/fill"
        ));
        let out = mino(&h, &["pull", "-q", image]);
        h.sh_ok(&format!("rm {state}/fill"));
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        let what = format!("{image} with {free} KiB free: {}", show(&["pull"], &out));
        assert!(!out.status.success(), "{what}");
        assert_eq!(err.lines().count(), 1, "{what}");
        assert!(
            err.contains("no space left") || err.contains("not enough free space"),
            "{what}"
        );
        assert_eq!(ok(&h, &["images", "-q"]), "", "{what}");
        assert_eq!(ok(&h, &["system", "check"]), "", "{what}");
        ok(&h, &["image", "prune", "-a", "-f"]);
        assert_eq!(stored(), "", "{what}");
    }
    ok(&h, &["pull", "-q", &zeros]);
    ok(&h, &["rmi", &zeros]);
    ok(&h, &["pull", "-q", &bb]);
    ok(&h, &["run", "--rm", "--network", "none", &bb, "true"]);
    assert_eq!(ok(&h, &["system", "check"]), "");
}
