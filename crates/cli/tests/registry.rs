//! `pull`, `push`, `login`, `logout` and `run --pull` against a real registry (Debian's docker-registry)
//! started inside the throwaway host on its own 127.0.0.1, with images made by the tests: a busybox root
//! filesystem imported and pushed by minotaur, and the same content built by umoci and pushed by skopeo in
//! Docker's and OCI's formats, gzip and zstd, and behind an image index. Also `compose pull` and the pulls
//! of `compose up --pull`.

mod common;

use std::process::Output;

use common::{import_busybox, wait_until_ok};
use minotaur_testhost::TestHost;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// The plain registry, on the box's own loopback (no other box or the real host sees it).
const REG: &str = "127.0.0.1:5000";
/// The registry that wants Basic authentication.
const AUTH_REG: &str = "127.0.0.1:5001";

/// A box, or `None` after saying why the test is skipped.
fn host() -> Option<common::Host> {
    for tool in [REGISTRY_BIN, "/usr/bin/skopeo", "/usr/bin/umoci"] {
        if !std::path::Path::new(tool).exists() {
            println!("skipped: {tool} is not installed (see .ci/run for the packages)");
            return None;
        }
    }
    common::host()
}

/// minotaur in the box with the registry configuration of the box's /tmp, never the real host's
/// (`DOCKER_CONFIG`, `MINOTAUR_REGISTRIES_CONF`, `MINOTAUR_CERTS_D`).
fn mino(h: &TestHost, args: &[&str]) -> Output {
    h.minotaur()
        .env("DOCKER_CONFIG", "/tmp/docker")
        .env("MINOTAUR_REGISTRIES_CONF", "/tmp/registries.conf")
        .env("MINOTAUR_CERTS_D", "/tmp/certs.d")
        .args(args)
        .output()
        .expect("running minotaur")
}

fn show(args: &[&str], out: &Output) -> String {
    format!(
        "minotaur {args:?}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(h: &TestHost, args: &[&str]) -> String {
    let out = mino(h, args);
    assert!(out.status.success(), "{}", show(args, &out));
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// Fails with `code`, one line on stderr that contains `needle`.
fn fails(h: &TestHost, args: &[&str], code: i32, needle: &str) -> String {
    let out = mino(h, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{}", show(args, &out));
    assert_eq!(err.lines().count(), 1, "{}", show(args, &out));
    assert!(
        err.starts_with("minotaur: ") && err.contains(needle),
        "{needle:?} not in {err:?}"
    );
    err
}

/// Starts a docker-registry on `addr` inside the box, with its access log in `/tmp/<name>/log`, and waits
/// until it answers. `auth` is extra YAML (an `auth:` section). It dies with the box.
fn start_registry(h: &TestHost, name: &str, addr: &str, auth: &str) {
    let dir = format!("/tmp/{name}");
    h.sh_ok(&format!(
        "mkdir -p {dir} && cat > {dir}/config.yml <<'EOF'
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {dir}/data
  delete:
    enabled: true
http:
  addr: {addr}
  secret: test-secret
{auth}
EOF
{REGISTRY_BIN} serve {dir}/config.yml > {dir}/log 2>&1 &"
    ));
    wait_until_ok(
        h,
        &format!(
            "curl -s -o /dev/null -w '%{{http_code}}' http://{addr}/v2/ | grep -q -e 200 -e 401"
        ),
    );
}

/// The requests the registry `name` logged after its first `from` lines: `METHOD PATH` each.
fn requests(h: &TestHost, name: &str, from: usize) -> Vec<String> {
    h.sh_ok(&format!("cat /tmp/{name}/log"))
        .lines()
        .filter_map(|l| {
            let quoted = l.split('"').nth(1)?;
            let mut f = quoted.split(' ');
            Some(format!("{} {}", f.next()?, f.next()?))
        })
        .skip(from)
        .collect()
}

/// What the store holds on disk: layer directories and blobs.
fn store_layers(h: &TestHost) -> Vec<String> {
    let dir = h.dir().join("state/image/layers");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The digest minotaur's push printed on its last line (`TAG: digest: sha256:… size: N`).
fn pushed_digest(out: &str) -> String {
    let last = out.lines().last().unwrap_or_default();
    last.split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no digest in {out:?}"))
        .to_owned()
}

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

#[test]
fn login_checks_credentials_before_saving_them() {
    let Some(h) = host() else { return };
    if h.sh("command -v htpasswd").status.code() != Some(0) {
        println!("skipped: htpasswd (apache2-utils) is not installed");
        return;
    }
    h.sh_ok("mkdir -p /tmp/auth && htpasswd -Bbn tester s3cret > /tmp/auth/htpasswd");
    start_registry(
        &h,
        "auth",
        AUTH_REG,
        "auth:\n  htpasswd:\n    realm: test-realm\n    path: /tmp/auth/htpasswd",
    );
    import_busybox(&h, "bb:1", "");
    let image = format!("{AUTH_REG}/bb:1");
    ok(&h, &["tag", "bb:1", &image]);

    fails(&h, &["push", &image], 1, "unauthorized");
    fails(
        &h,
        &["login", "-u", "tester", "-p", "wrong", AUTH_REG],
        1,
        &format!("unauthorized: {AUTH_REG} refused the credentials"),
    );
    assert!(
        !h.sh("test -e /tmp/docker/config.json").status.success(),
        "refused credentials are not saved"
    );
    let out = h
        .minotaur()
        .env("DOCKER_CONFIG", "/tmp/docker")
        .args(["login", "-u", "tester", "--password-stdin", AUTH_REG])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"s3cret\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", show(&["login"], &out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded\n");
    let config = h.sh_ok("cat /tmp/docker/config.json");
    assert!(config.contains(AUTH_REG), "{config}");

    ok(&h, &["push", &image]);
    ok(&h, &["rmi", &image]);
    ok(&h, &["pull", "-q", &image]);

    assert_eq!(
        ok(&h, &["logout", AUTH_REG]),
        format!("Removing login credentials for {AUTH_REG}")
    );
    assert_eq!(
        ok(&h, &["logout", AUTH_REG]),
        format!("Not logged in to {AUTH_REG}")
    );
    ok(&h, &["rmi", &image]);
    fails(&h, &["pull", &image], 1, "unauthorized");
}

/// `compose -f FILE ARGS...` in the box; its output.
fn compose(h: &TestHost, file: &str, args: &[&str]) -> Output {
    let mut all = vec!["compose", "-f", file];
    all.extend_from_slice(args);
    mino(h, &all)
}

#[test]
fn compose_pull_fetches_each_image_once_and_up_pull_checks_with_one_head() {
    let Some(h) = host() else { return };
    start_registry(&h, "reg", REG, "");
    // Two images with different content, pushed and then removed from the store.
    import_busybox(&h, "app:1", "echo app > $r/etc/role");
    import_busybox(&h, "db:1", "echo db > $r/etc/role");
    for name in ["app:1", "db:1"] {
        let remote = format!("{REG}/{name}");
        ok(&h, &["tag", name, &remote]);
        ok(&h, &["push", "-q", &remote]);
        ok(&h, &["rmi", name, &remote]);
    }
    assert_eq!(store_layers(&h), Vec::<String>::new());
    h.sh_ok(&format!(
        "mkdir -p /tmp/pullproj && cat > /tmp/pullproj/compose.yml <<'EOF'
services:
  web:
    image: {REG}/app:1
    command: [sleep, '1000']
  worker:
    image: {REG}/app:1
    command: [sleep, '1000']
  db:
    image: {REG}/db:1
    command: [sleep, '1000']
  local:
    image: host
    command: [sleep, '1000']
EOF"
    ));
    let file = "/tmp/pullproj/compose.yml";

    // `compose pull`: each image once, the second service naming it skipped.
    let before = requests(&h, "reg", 0).len();
    let out = compose(&h, file, &["pull"]);
    assert!(out.status.success(), "{}", show(&["compose pull"], &out));
    let err = String::from_utf8_lossy(&out.stderr);
    for line in [
        " web Pulled",
        " db Pulled",
        " worker Skipped - Image is already being pulled by web",
        " local Skipped - Image is built in",
    ] {
        assert!(err.lines().any(|l| l == line), "{line:?} in {err}");
    }
    let pulled = requests(&h, "reg", before);
    for repo in ["app", "db"] {
        let manifests = pulled
            .iter()
            .filter(|r| r.starts_with("GET ") && r.ends_with(&format!("/v2/{repo}/manifests/1")))
            .count();
        assert_eq!(manifests, 1, "{repo}'s manifest once: {pulled:#?}");
    }
    let mut blobs: Vec<&String> = pulled.iter().filter(|r| r.contains("/blobs/")).collect();
    let all = blobs.len();
    blobs.sort();
    blobs.dedup();
    assert_eq!(all, blobs.len(), "each blob once: {pulled:#?}");
    // Quiet: nothing on either stream.
    let out = compose(&h, file, &["pull", "-q", "db"]);
    assert!(out.status.success(), "{}", show(&["compose pull -q"], &out));
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b""[..], &b""[..])
    );

    // `up --pull always` re-checks every image with one HEAD each, and downloads nothing.
    let before = requests(&h, "reg", 0).len();
    let out = compose(&h, file, &["up", "-d", "--pull", "always"]);
    assert!(out.status.success(), "{}", show(&["compose up"], &out));
    let mut checked = requests(&h, "reg", before);
    checked.sort();
    assert_eq!(
        checked,
        ["HEAD /v2/app/manifests/1", "HEAD /v2/db/manifests/1"],
        "an up-to-date project"
    );
    let out = compose(&h, file, &["down"]);
    assert!(out.status.success(), "{}", show(&["compose down"], &out));

    // `--pull never` with a missing image: one line naming the service and the image, nothing made.
    ok(&h, &["rmi", &format!("{REG}/db:1")]);
    let before = requests(&h, "reg", 0).len();
    let out = compose(&h, file, &["up", "-d", "--pull", "never"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        show(&["compose up"], &out)
    );
    assert_eq!(
        err.trim_end(),
        format!("minotaur: service db: image {REG}/db:1 not found: import or pull it first")
    );
    assert_eq!(requests(&h, "reg", before), Vec::<String>::new());
    assert_eq!(ok(&h, &["ps", "-aq"]), "");
    assert_eq!(
        ok(
            &h,
            &[
                "network",
                "ls",
                "-q",
                "--filter",
                "label=com.docker.compose.project=pullproj"
            ]
        ),
        ""
    );

    // The default (the services' policy, `missing`) pulls just the missing image.
    let before = requests(&h, "reg", 0).len();
    let out = compose(&h, file, &["up", "-d"]);
    assert!(out.status.success(), "{}", show(&["compose up"], &out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().any(|l| l == " db Pulled"), "{err}");
    assert!(!err.contains(" web Pull"), "{err}");
    let fetched = requests(&h, "reg", before);
    assert!(
        fetched
            .iter()
            .all(|r| r.contains("/v2/db/") || r == "GET /v2/"),
        "only db's image: {fetched:#?}"
    );
    let out = compose(&h, file, &["down"]);
    assert!(out.status.success(), "{}", show(&["compose down"], &out));

    // A pull that fails: an error naming the service, unless failures are ignored.
    h.sh_ok(&format!("sed -i 's|{REG}/db:1|{REG}/nothere:1|' {file}"));
    let out = compose(&h, file, &["pull", "db"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        show(&["compose pull"], &out)
    );
    assert!(
        err.lines().any(|l| l.starts_with(&format!(
            "minotaur: service db: cannot pull image {REG}/nothere:1: "
        ))),
        "{err}"
    );
    let out = compose(&h, file, &["pull", "--ignore-pull-failures"]);
    assert!(out.status.success(), "{}", show(&["compose pull"], &out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARN[0000] service db: cannot pull image"),
        "{err}"
    );
    assert!(err.lines().any(|l| l == " web Pulled"), "{err}");
}

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
