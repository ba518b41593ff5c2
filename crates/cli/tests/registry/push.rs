//! Pushes: what minotaur pushes runs, pulls back with the same digests (skopeo, podman), big blobs in chunks.

use super::*;

#[test]
fn push_pull_run_and_what_skopeo_sees() {
    let Some(h) = host() else { return };
    start_registry(&h, "reg", REG, "");
    import_busybox(&h, "bb:1", "");
    let image = format!("{REG}/bb:1");
    ok(&h, &["tag", "bb:1", &image]);
    let out = ok(&h, &["push", &image]);
    assert!(
        out.starts_with(&format!("The push refers to repository [{REG}/bb]")),
        "{out}"
    );
    let digest = pushed_digest(&out);
    // The push is recorded as the image's RepoDigest.
    let repo_digests = ok(
        &h,
        &["image", "inspect", "-f", "{{json .RepoDigests}}", &image],
    );
    assert!(
        repo_digests.contains(&format!("{REG}/bb@{digest}")),
        "{repo_digests}"
    );

    // skopeo reads what minotaur pushed, with the same digests.
    let inspect = h.sh_ok(&format!(
        "skopeo inspect --tls-verify=false docker://{image}"
    ));
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Digest"], digest.as_str(), "{inspect}");
    let local = ok(
        &h,
        &["image", "inspect", "-f", "{{json .RootFS.Layers}}", &image],
    );
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1, "{inspect}");
    let raw = h.sh_ok(&format!(
        "skopeo inspect --raw --tls-verify=false docker://{image}"
    ));
    let config = h.sh_ok(&format!(
        "skopeo inspect --config --raw --tls-verify=false docker://{image}"
    ));
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(
        serde_json::to_string(&config["rootfs"]["diff_ids"]).unwrap(),
        local,
        "{raw}"
    );
    // A second push sends nothing again.
    let again = ok(&h, &["push", &image]);
    assert!(again.contains(": Layer already exists"), "{again}");
    assert_eq!(pushed_digest(&again), digest);
    // What a push stores is an image's: nothing for `system check` to find.
    assert_eq!(ok(&h, &["system", "check"]), "");

    // Pulled into an empty store it has the digest it was pushed as, and runs.
    ok(&h, &["rmi", &image, "bb:1"]);
    assert_eq!(store_layers(&h), Vec::<String>::new());
    let out = ok(&h, &["pull", &image]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1: Pulling from bb", "{out}");
    assert!(lines[1].ends_with(": Pull complete"), "{out}");
    assert_eq!(
        &lines[2..],
        [
            format!("Digest: {digest}").as_str(),
            &format!("Status: Downloaded newer image for {image}"),
            &image
        ],
        "{out}"
    );
    assert_eq!(
        ok(
            &h,
            &["image", "inspect", "-f", "{{json .RootFS.Layers}}", &image]
        ),
        local
    );
    assert_eq!(
        ok(
            &h,
            &["run", "--rm", "--network", "none", &image, "echo", "pulled"]
        ),
        "pulled"
    );

    // A re-pull asks one HEAD, and nothing else.
    let before = requests(&h, "reg", 0).len();
    let out = ok(&h, &["pull", &image]);
    assert!(
        out.contains(&format!("Status: Image is up to date for {image}")),
        "{out}"
    );
    assert_eq!(
        requests(&h, "reg", before),
        ["HEAD /v2/bb/manifests/1"],
        "a re-pull of an image that is up to date"
    );
    assert_eq!(ok(&h, &["pull", "-q", &image]), image);

    // `run` of a missing image pulls it first, saying so on stderr; --pull=never does not.
    ok(&h, &["rmi", &image]);
    fails(
        &h,
        &[
            "run",
            "--rm",
            "--pull=never",
            "--network",
            "none",
            &image,
            "true",
        ],
        125,
        &format!("no such image: {image}"),
    );
    let out = mino(
        &h,
        &["run", "--rm", "--network", "none", &image, "echo", "hi"],
    );
    assert!(out.status.success(), "{}", show(&[], &out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("Unable to find image '{image}' locally\n")),
        "{err}"
    );
    assert!(
        err.contains(&format!("Status: Downloaded newer image for {image}")),
        "{err}"
    );

    // -a pulls every tag.
    ok(&h, &["tag", &image, &format!("{REG}/bb:2")]);
    ok(&h, &["push", &format!("{REG}/bb:2")]);
    ok(&h, &["rmi", &image, &format!("{REG}/bb:2")]);
    let out = ok(&h, &["pull", "-a", "-q", &format!("{REG}/bb")]);
    let mut pulled: Vec<&str> = out.lines().collect();
    pulled.sort();
    assert_eq!(pulled, [format!("{REG}/bb:1"), format!("{REG}/bb:2")]);
    assert_eq!(ok(&h, &["system", "check"]), "");

    // history and image prune.
    let history = ok(&h, &["history", &image]);
    assert!(history.starts_with("IMAGE "), "{history}");
    assert!(history.contains("Imported from"), "{history}");
    ok(&h, &["rmi", &image, &format!("{REG}/bb:2")]);
    let pruned = ok(&h, &["image", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
}

/// With a small chunk size, a push sends each blob bigger than it as one `PATCH` per chunk (counted in the
/// registry's log), and what it pushed pulls back with the same digests. Faults in the middle of a chunked
/// upload are tested against the registry client, through its fault proxy (crates/registry/tests/chunked.rs).
#[test]
fn big_blobs_are_pushed_in_chunks_and_pull_back_the_same() {
    let Some(h) = host() else { return };
    start_registry(&h, "reg", REG, "");
    import_busybox(&h, "bb:1", "");
    let image = format!("{REG}/chunked:1");
    ok(&h, &["tag", "bb:1", &image]);
    let local = ok(
        &h,
        &["image", "inspect", "-f", "{{json .RootFS.Layers}}", &image],
    );
    let chunk: u64 = 64 << 10;
    let out = h
        .minotaur()
        .env("DOCKER_CONFIG", "/tmp/docker")
        .env("MINOTAUR_REGISTRIES_CONF", "/tmp/registries.conf")
        .env("MINOTAUR_CERTS_D", "/tmp/certs.d")
        .env("MINOTAUR_PUSH_CHUNK_SIZE", chunk.to_string())
        .args(["push", &image])
        .output()
        .expect("running minotaur");
    assert!(out.status.success(), "{}", show(&["push"], &out));
    let digest = pushed_digest(String::from_utf8_lossy(&out.stdout).trim_end());

    let raw = h.sh_ok(&format!(
        "skopeo inspect --raw --tls-verify=false docker://{image}"
    ));
    let manifest: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let sizes: Vec<u64> = std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().unwrap())
        .map(|d| d["size"].as_u64().unwrap())
        .collect();
    let chunked = sizes.iter().filter(|&&s| s > chunk).count();
    let expected: u64 = sizes
        .iter()
        .filter(|&&s| s > chunk)
        .map(|s| s.div_ceil(chunk))
        .sum();
    assert!(
        expected >= 2,
        "busybox's layer is to need several chunks: {raw}"
    );
    let requests = requests(&h, "reg", 0);
    let count = |prefix: &str| requests.iter().filter(|r| r.starts_with(prefix)).count();
    assert_eq!(
        count("PATCH /v2/chunked/blobs/uploads/") as u64,
        expected,
        "{requests:#?}"
    );
    // Each blob is started once and closed once, whether it went in chunks or whole.
    assert_eq!(
        count("POST /v2/chunked/blobs/uploads/"),
        sizes.len(),
        "{requests:#?}"
    );
    assert_eq!(
        count("PUT /v2/chunked/blobs/uploads/"),
        sizes.len(),
        "{requests:#?}"
    );
    assert!(chunked >= 1);

    // Pulled into an empty store it has the digests it was pushed with.
    ok(&h, &["rmi", &image, "bb:1"]);
    let out = ok(&h, &["pull", &image]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(
        ok(
            &h,
            &["image", "inspect", "-f", "{{json .RootFS.Layers}}", &image]
        ),
        local
    );
    assert_eq!(ok(&h, &["system", "check"]), "");
}

/// podman in the box, with its storage, configuration and temporary files under `/tmp/podman` (the box's
/// own `/tmp`): nothing of the real host's podman is read or written.
const PODMAN: &str = "CONTAINERS_CONF=/tmp/podman/containers.conf \
    CONTAINERS_STORAGE_CONF=/tmp/podman/storage.conf CONTAINERS_REGISTRIES_CONF=/tmp/podman/registries.conf \
    DOCKER_CONFIG=/tmp/podman podman --tmpdir /tmp/podman/tmp";

#[test]
fn podman_pulls_what_minotaur_pushed_with_the_same_digests() {
    if !std::path::Path::new("/usr/bin/podman").exists() {
        println!("skipped: /usr/bin/podman is not installed (see .ci/run for the packages)");
        return;
    }
    let Some(h) = host() else { return };
    start_registry(&h, "reg", REG, "");
    import_busybox(&h, "bb:1", "echo two > $r/etc/layer");
    let image = format!("{REG}/podman/bb:1");
    ok(&h, &["tag", "bb:1", &image]);
    let digest = pushed_digest(&ok(&h, &["push", &image]));
    let diff_ids = ok(
        &h,
        &["image", "inspect", "-f", "{{json .RootFS.Layers}}", &image],
    );

    // No systemd in the box: cgroupfs and a file for events; vfs storage needs no mounts. As root, podman
    // keeps a blob cache in /var/lib/containers whatever its storage says: the box's /var/lib becomes an
    // overlay whose writes land in its /tmp.
    h.sh_ok(
        "mkdir -p /tmp/podman/tmp /tmp/varlib-upper /tmp/varlib-work
         mount -t overlay overlay -o lowerdir=/var/lib,upperdir=/tmp/varlib-upper,workdir=/tmp/varlib-work /var/lib
         cd /tmp/podman && echo '{}' > config.json
         printf '[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n' > containers.conf
         printf '[storage]\ndriver = \"vfs\"\ngraphroot = \"/tmp/podman/root\"\nrunroot = \"/tmp/podman/run\"\n' > storage.conf
         : > registries.conf",
    );
    let pulled = h.sh(&format!("{PODMAN} pull -q --tls-verify=false {image}"));
    assert!(
        pulled.status.success(),
        "podman pull: {}",
        common::show(&pulled)
    );
    let seen = h.sh_ok(&format!(
        "{PODMAN} image inspect --format '{{{{.Digest}}}} {{{{json .RootFS.Layers}}}}' {image}"
    ));
    assert_eq!(seen.trim_end(), format!("{digest} {diff_ids}"));
    // podman verified every blob on the way; its copy of the layer holds what was imported.
    let layer = h.sh_ok("cat /tmp/podman/root/vfs/dir/*/etc/layer");
    assert_eq!(layer.trim_end(), "two");
}
