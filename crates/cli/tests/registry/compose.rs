//! `compose pull` and `compose up --pull` against the registry.

use super::*;

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
