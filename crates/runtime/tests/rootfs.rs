//! The container's root beyond a plain bind, each test inside a throwaway test host: mount points that a
//! read-only root lacks, made for the container alone, and an image-style overlay root mounted in the
//! container's own mount namespace.

use std::path::{Path, PathBuf};
use std::process::Output;

use minotaur_testhost::TestHost;
use serde_json::{json, Value};

const RUN: &str = env!("CARGO_BIN_EXE_minotaur-runtime-run");

fn host() -> Option<TestHost> {
    TestHost::new(RUN)
}

/// Docker's default spec running `sh -c script` on the `host` image (the host's `/`, read-only).
fn host_spec(script: &str) -> Value {
    let args = ["sh".to_string(), "-c".into(), script.into()];
    let mut spec = minotaur_runtime::defaults::default_spec(&args);
    minotaur_runtime::defaults::use_host_root(&mut spec);
    serde_json::to_value(spec).unwrap()
}

fn run(h: &TestHost, name: &str, spec: &Value, extra: &[&str]) -> Output {
    let bundle: PathBuf = h.dir().join(name);
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
    h.command(RUN)
        .args(extra)
        .arg(&bundle)
        .output()
        .expect("running minotaur-runtime-run")
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn bind(source: &str, dest: &str, ro: bool) -> Value {
    let mut options = vec!["rbind", "rprivate"];
    if ro {
        options.push("ro");
    }
    json!({"destination": dest, "type": "bind", "source": source, "options": options})
}

fn tmpfs(dest: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options})
}

/// Regression: on the read-only `host` image, a mount whose target the host lacks (`-v /some/dir:/www` with
/// no `/www` on the host) failed with EROFS. It is now made for the container alone: the host gets no
/// `/www`, and nothing of the host becomes writable.
#[test]
fn host_image_bind_to_a_missing_path_fails_with_erofs() {
    let Some(h) = host() else { return };
    h.sh_ok("mkdir -p /tmp/site && echo page > /tmp/site/index.html && ! test -e /www");
    let mut s = host_spec(
        r#"fail() { echo "FAIL: $*" >&2; exit 1; }
           [ "$(cat /www/index.html)" = page ] || fail "/www is not the bind"
           echo more > /www/more || fail "/www is not writable"
           [ -d /usr/bin ] && [ -e /etc/passwd ] || fail "the root lost its entries"
           [ -L /bin ] || [ -d /bin ] || fail "/bin is gone"
           [ "$(cat /proc/1/comm)" = sh ] || fail "/proc is not the container's"
           [ -c /dev/null ] || fail "/dev is not the container's"
           [ "$(cat /etc/hostname)" = from-the-spec ] || fail "/etc/hostname is not the bind"
           echo x > /tmp/x || fail "/tmp is not writable"
           [ "$(cat /data/deep/er/f)" = deep ] || fail "/data/deep/er is not the tmpfs"
           [ "$(stat -c %a /data/deep/er)" = 700 ] || fail "tmpfs mode is $(stat -c %a /data/deep/er)"
           ! mkdir /new 2>/dev/null || fail "the root is writable"
           ! touch /etc/new 2>/dev/null || fail "the host's /etc is writable"
           ! touch /usr/new 2>/dev/null || fail "the host's /usr is writable"
           ! rm /www 2>/dev/null || fail "the mount point could be removed"
           [ "$(cat /srv/ro/index.html)" = page ] || fail "/srv/ro is not the bind"
           ! touch /srv/ro/new 2>/dev/null || fail "a read-only bind is writable"
           [ -d /srv/ro/sub/inner ] || fail "no mount point in the read-only bind"
           ! touch /srv/ro/sub/new 2>/dev/null || fail "the read-only bind's shim is writable""#,
    );
    let hostname_file = h.dir().join("hostname");
    std::fs::write(&hostname_file, "from-the-spec\n").unwrap();
    let m = s["mounts"].as_array_mut().unwrap();
    m.push(bind("/tmp/site", "/www", false));
    m.push(bind(
        hostname_file.to_str().unwrap(),
        "/etc/hostname",
        false,
    ));
    // Two missing levels, the tmpfs options applied; and a second missing entry of the root, which reuses
    // the root's shim.
    m.push(tmpfs("/data/deep/er", &["nosuid", "nodev", "mode=700"]));
    m.push(bind("/tmp/site", "/srv/ro", true));
    // A mount point missing in a read-only bind of a host directory: never made in that directory.
    m.push(tmpfs("/srv/ro/sub/inner", &[]));
    // The tmpfs must hold a file for the check above: a bind of a file into it.
    h.sh_ok("mkdir -p /tmp/deep && echo deep > /tmp/deep/f");
    m.push(bind("/tmp/deep/f", "/data/deep/er/f", false));
    let out = run(&h, "www", &s, &[]);
    assert_ok(&out);
    h.sh_ok(
        "! test -e /www && ! test -e /data && ! test -e /srv/ro && ! test -e /tmp/site/sub \
         && test \"$(cat /tmp/site/more)\" = more",
    );
}

#[test]
fn a_read_only_bind_is_read_only_below_its_top_mount() {
    let Some(h) = host() else { return };
    h.sh_ok(
        "mkdir -p /tmp/data/sub && mount -t tmpfs tmpfs /tmp/data/sub && echo hi > /tmp/data/sub/f",
    );
    let mut s = host_spec(
        r#"[ "$(cat /mnt/sub/f)" = hi ] || exit 3
           if echo x > /mnt/sub/g 2>/dev/null; then exit 4; fi"#,
    );
    s["mounts"]
        .as_array_mut()
        .unwrap()
        .push(bind("/tmp/data", "/mnt", true));
    assert_ok(&run(&h, "rbind-ro", &s, &[]));
    h.sh_ok("! test -e /tmp/data/sub/g");
}

/// A small image: busybox and its `sh`, in one layer directory.
fn layer(h: &TestHost, dir: &Path) {
    h.sh_ok(&format!(
        "mkdir -p {d}/bin {d}/etc && cp /bin/busybox {d}/bin/ && ln -s busybox {d}/bin/sh \
         && echo image > {d}/etc/os",
        d = dir.display()
    ));
}

fn image_spec(script: &str, read_only: bool) -> Value {
    let mut s = host_spec(script);
    s["root"] = json!({"path": "rootfs", "readonly": read_only});
    // Docker's /tmp and /run are the host image's; an image has its own.
    let m = s["mounts"].as_array_mut().unwrap();
    m.retain(|m| m["destination"] != "/tmp" && m["destination"] != "/run");
    s
}

#[test]
fn an_overlay_root_is_mounted_in_the_containers_namespace_alone() {
    let Some(h) = host() else { return };
    let d = h.dir().to_owned();
    let (lower, upper, work) = (d.join("lower"), d.join("upper"), d.join("work"));
    layer(&h, &lower);
    h.sh_ok(&format!(
        "mkdir -p {} {} /tmp/vol /tmp/etc-vol",
        upper.display(),
        work.display()
    ));
    let mut s = image_spec(
        r#"fail() { echo "FAIL: $*" >&2; exit 1; }
           [ "$(cat /etc/os)" = image ] || fail "not the image's root"
           echo written > /written || fail "the root is not writable"
           [ -d /vol ] && echo v > /vol/v || fail "/vol is not the bind"
           awk '$5 == "/" { print $9 }' /proc/1/mountinfo | grep -qx overlay || fail "/ is not an overlay"
           awk '$5 == "/etc" { f = 1 } END { exit !f }' /proc/1/mountinfo || fail "/etc is not the volume"
           exit 0"#,
        false,
    );
    let m = s["mounts"].as_array_mut().unwrap();
    m.push(bind("/tmp/vol", "/vol", false));
    // An empty volume takes the image's content at its mount point.
    let mut etc = bind("/tmp/etc-vol", "/etc", false);
    etc["options"]
        .as_array_mut()
        .unwrap()
        .push(json!("copy-up"));
    m.push(etc.clone());
    let bundle = d.join("img");
    let hook = format!(
        // While the container waits to start: the box's mount table has no overlay of it.
        "! grep -q ' {} ' /proc/self/mountinfo",
        bundle.display()
    );
    let out = run(
        &h,
        "img",
        &s,
        &[
            "--overlay",
            lower.to_str().unwrap(),
            upper.to_str().unwrap(),
            work.to_str().unwrap(),
            "--hook",
            &hook,
        ],
    );
    assert_ok(&out);
    // The container's changes and its mount point are in its upper layer; the image is untouched.
    h.sh_ok(&format!(
        "test \"$(cat {u}/written)\" = written && test -d {u}/vol && ! test -e {l}/written \
         && ! test -e {l}/vol && test \"$(cat /tmp/vol/v)\" = v && test \"$(cat /tmp/etc-vol/os)\" = image \
         && echo changed > /tmp/etc-vol/os",
        u = upper.display(),
        l = lower.display()
    ));

    // Read-only: the mount points are still made in the upper layer, then the root alone is read-only.
    let mut s = image_spec(
        r#"! echo x > /x 2>/dev/null || { echo "the root is writable" >&2; exit 1; }
           echo y > /scratch/y || { echo "the tmpfs is not writable" >&2; exit 1; }
           [ "$(cat /etc/os)" = changed ] || { echo "a volume with content was filled again" >&2; exit 1; }"#,
        true,
    );
    let m = s["mounts"].as_array_mut().unwrap();
    m.push(tmpfs("/scratch", &["size=1m"]));
    m.push(etc);
    let out = run(
        &h,
        "img-ro",
        &s,
        &[
            "--overlay",
            lower.to_str().unwrap(),
            upper.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    assert_ok(&out);
    h.sh_ok(&format!(
        "test -d {u}/scratch && ! test -e {u}/x",
        u = upper.display()
    ));
}
