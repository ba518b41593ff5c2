//! Pulls: every format skopeo pushes, indexes, concurrent pulls fetching each blob once, bad pulls.

use super::*;

#[test]
fn bad_pulls_say_what_failed_and_leave_nothing() {
    let Some(h) = host() else { return };
    start_registry(&h, "reg", REG, "");
    import_busybox(&h, "bb:1", "");
    let image = format!("{REG}/bb:1");
    ok(&h, &["tag", "bb:1", &image]);
    ok(&h, &["push", &image]);
    ok(&h, &["rmi", "bb:1", &image]);
    let nothing_left = |what: &str| {
        assert_eq!(store_layers(&h), Vec::<String>::new(), "{what}");
        assert_eq!(ok(&h, &["images", "-q"]), "", "{what}");
    };

    fails(
        &h,
        &["pull", &format!("{REG}/bb:nosuch")],
        1,
        &format!("manifest unknown: {REG}/bb:nosuch"),
    );
    fails(
        &h,
        &["pull", &format!("{REG}/nosuch")],
        1,
        "manifest unknown",
    );
    fails(&h, &["pull", "Bad//Name"], 1, "invalid reference format");
    fails(&h, &["pull", "bb:bad:tag!"], 1, "invalid reference format");
    fails(
        &h,
        &["pull", "127.0.0.1:1/bb:1"],
        1,
        "cannot reach registry 127.0.0.1:1",
    );
    fails(&h, &["push", &image], 1, "no such image");
    nothing_left("after bad references");

    // A registry that serves a corrupted layer.
    let blob = h.sh_ok(&format!(
        "skopeo inspect --raw --tls-verify=false docker://{image}"
    ));
    let manifest: serde_json::Value = serde_json::from_str(&blob).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let hex = &layer["sha256:".len()..];
    let data = format!(
        "/tmp/reg/data/docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    );
    h.sh_ok(&format!(
        "cp {data} /tmp/good && printf 'X' | dd of={data} bs=1 seek=100 conv=notrunc 2>/dev/null"
    ));
    fails(
        &h,
        &["pull", &image],
        1,
        &format!("blob {layer} does not match its digest"),
    );
    nothing_left("after a digest mismatch");
    let partial = h.dir().join(format!("state/image/tmp/partial/{hex}"));
    assert!(!partial.exists(), "a corrupt partial blob is not kept");
    h.sh_ok(&format!("cp /tmp/good {data}"));

    // A store whose filesystem is too small fails before it downloads anything.
    h.sh_ok("mkdir -p /tmp/small && mount -t tmpfs -o size=1m tmpfs /tmp/small");
    let out = h
        .minotaur()
        .env("DOCKER_CONFIG", "/tmp/docker")
        .env("MINOTAUR_ROOT", "/tmp/small")
        .args(["pull", &image])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not enough free space for the image in /tmp/small/image: need "),
        "{err}"
    );
    assert_eq!(
        h.sh_ok("ls -A /tmp/small/image/layers /tmp/small/image/blobs/sha256"),
        "/tmp/small/image/blobs/sha256:\n\n/tmp/small/image/layers:\n"
    );

    // The same pull then works, and an index without the platform asked for names those it has.
    ok(&h, &["pull", "-q", &image]);
    let manifest_digest = h
        .sh_ok(&format!(
            "skopeo inspect --tls-verify=false docker://{image} | grep -m1 '\"Digest\"'"
        ))
        .split('"')
        .nth(3)
        .unwrap()
        .to_owned();
    push_index(&h, "bb", &blob, &manifest_digest, "idx");
    fails(
        &h,
        &[
            "pull",
            "--platform",
            "linux/s390x",
            &format!("{REG}/bb:idx"),
        ],
        1,
        "linux/amd64",
    );

    // registries.conf (MINOTAUR_REGISTRIES_CONF): a registry nobody serves, pulled through its mirror.
    h.sh_ok(&format!(
        "cat > /tmp/registries.conf <<'EOF'\n\
         [[registry]]\nprefix = \"127.0.0.1:5009\"\n\
         [[registry.mirror]]\nlocation = \"{REG}\"\nEOF"
    ));
    assert_eq!(
        ok(&h, &["pull", "-q", "127.0.0.1:5009/bb:1"]),
        "127.0.0.1:5009/bb:1"
    );
    h.sh_ok("printf '[[registry]]\\nprefix = \"127.0.0.1:5009\"\\nblocked = true\\n' > /tmp/registries.conf");
    fails(&h, &["pull", "127.0.0.1:5009/bb:2"], 1, "blocked");
}

/// Puts an OCI index under `tag` of `repo` that lists `manifest` (already in the repository) for this host's
/// platform and for linux/arm64.
fn push_index(h: &TestHost, repo: &str, manifest_json: &str, manifest_digest: &str, tag: &str) {
    let media_type = serde_json::from_str::<serde_json::Value>(manifest_json).unwrap()["mediaType"]
        .as_str()
        .unwrap_or("application/vnd.oci.image.manifest.v1+json")
        .to_owned();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let entry = |arch: &str| {
        serde_json::json!({
            "mediaType": media_type,
            "digest": manifest_digest,
            "size": manifest_json.len(),
            "platform": {"os": "linux", "architecture": arch}
        })
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry(arch), entry(if arch == "arm64" { "riscv64" } else { "arm64" })]
    });
    h.sh_ok(&format!(
        "cat > /tmp/index.json <<'EOF'\n{index}\nEOF\n\
         curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
         --data-binary @/tmp/index.json http://{REG}/v2/{repo}/manifests/{tag}"
    ));
}

#[test]
fn pulls_what_skopeo_pushed_in_every_format() {
    let Some(h) = host() else { return };
    start_registry(&h, "reg", REG, "");
    // An OCI image built by umoci from a busybox root filesystem.
    h.sh_ok(
        "set -e; cd /tmp
         umoci init --layout oci
         umoci new --image oci:base
         umoci unpack --rootless --image oci:base bundle >/dev/null
         mkdir -p bundle/rootfs/bin
         cp \"$(command -v busybox)\" bundle/rootfs/bin/busybox
         for c in sh echo cat; do ln -s busybox bundle/rootfs/bin/$c; done
         umoci repack --image oci:base bundle
         umoci config --image oci:base --config.cmd /bin/sh --os linux",
    );
    let formats: [(&str, &str); 3] = [
        ("oci", "--format oci"),
        ("v2s2", "--format v2s2"),
        ("zstd", "--format oci --dest-compress-format zstd"),
    ];
    for (tag, flags) in formats {
        h.sh_ok(&format!(
            "skopeo copy -q --dest-tls-verify=false {flags} oci:/tmp/oci:base docker://{REG}/app:{tag}"
        ));
    }
    let raw = h.sh_ok(&format!(
        "skopeo inspect --raw --tls-verify=false docker://{REG}/app:oci"
    ));
    let digest = h
        .sh_ok(&format!(
            "skopeo inspect --tls-verify=false docker://{REG}/app:oci"
        ))
        .split("\"Digest\": \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    push_index(&h, "app", &raw, &digest, "index");

    for tag in ["oci", "v2s2", "zstd", "index"] {
        let image = format!("{REG}/app:{tag}");
        let out = ok(&h, &["pull", "--progress", "plain", &image]);
        assert!(out.ends_with(&image), "{out}");
        let remote = h
            .sh_ok(&format!(
                "skopeo inspect --raw --tls-verify=false docker://{image} | sha256sum"
            ))
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        let repo_digests = ok(
            &h,
            &["image", "inspect", "-f", "{{json .RepoDigests}}", &image],
        );
        assert!(
            repo_digests.contains(&format!("{REG}/app@sha256:{remote}")),
            "{tag}: {repo_digests}"
        );
        assert_eq!(
            ok(
                &h,
                &["run", "--rm", "--network", "none", &image, "echo", tag]
            ),
            tag
        );
    }
    // JSON progress: one event per line, the last saying what was pulled.
    ok(&h, &["rmi", &format!("{REG}/app:oci")]);
    let out = ok(
        &h,
        &["pull", "--progress", "json", &format!("{REG}/app:oci")],
    );
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.last().unwrap()["event"], "pulled", "{out}");
    assert_eq!(events.last().unwrap()["up_to_date"], false, "{out}");
}

#[test]
fn concurrent_pulls_fetch_each_blob_once() {
    let Some(h) = host() else { return };
    start_registry(&h, "reg", REG, "");
    // A layer big enough for the two pulls to overlap.
    import_busybox(&h, "big:1", "head -c 8000000 /dev/urandom > $r/noise");
    let image = format!("{REG}/big:1");
    ok(&h, &["tag", "big:1", &image]);
    ok(&h, &["push", "-q", &image]);
    ok(&h, &["rmi", "big:1", &image]);
    let before = requests(&h, "reg", 0).len();
    let children: Vec<_> = (0..2)
        .map(|_| {
            h.minotaur()
                .env("DOCKER_CONFIG", "/tmp/docker")
                .env("MINOTAUR_REGISTRIES_CONF", "/tmp/registries.conf")
                .args(["pull", "--progress", "plain", &image])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", show(&["pull"], &out));
    }
    // Each pull reads the small configuration blob when it resolves the image; the layers are fetched once.
    let config = ok(&h, &["image", "inspect", "-f", "{{.Id}}", &image]);
    let blobs: Vec<String> = requests(&h, "reg", before)
        .into_iter()
        .filter(|r| r.starts_with("GET /v2/big/blobs/") && !r.ends_with(&config))
        .collect();
    assert!(!blobs.is_empty(), "no layer was fetched");
    let mut unique = blobs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(blobs.len(), unique.len(), "each blob once: {blobs:#?}");
    assert_eq!(
        ok(&h, &["run", "--rm", "--network", "none", &image, "true"]),
        ""
    );
}
