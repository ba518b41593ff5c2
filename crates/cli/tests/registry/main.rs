//! `pull`, `push`, `login`, `logout` and `run --pull` against a real registry (Debian's docker-registry)
//! started inside the throwaway host on its own 127.0.0.1, with images made by the tests: a busybox root
//! filesystem imported and pushed by minotaur, and the same content built by umoci and pushed by skopeo in
//! Docker's and OCI's formats, gzip and zstd, and behind an image index. Also `compose pull` and the pulls
//! of `compose up --pull`.

#[path = "../common/mod.rs"]
mod common;

mod compose;
mod faults;
mod login;
mod pull;
mod push;

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
