//! The OCI runtime command line (`minotaur-runc`, runc's verbs) in the throwaway host: a bundle made here (a
//! busybox root plus `minotaur runtime spec`), taken through create, start, state, exec, kill and delete, its
//! hooks, `run`'s exit status and the console socket protocol.

#[path = "../common/mod.rs"]
mod common;

mod cgroups;
mod hooks;
mod namespaces;
mod stdio;
mod systemd;

use std::io::{IoSliceMut, Read};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::host;
use minotaur_testhost::{wait_until, TestHost};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use serde_json::Value;

/// Runs `minotaur-runc ARGS` (the binary under that name) in the box, with its state under the box's dir.
/// Its output goes to files, not pipes: a created container keeps `create`'s stdio open (as runc's does), so
/// a pipe would not reach its end when `create` exits.
fn runc(h: &TestHost, args: &[&str]) -> Output {
    run_to_files(h, runc_cmd(h, args))
}

/// Runs `cmd` to its end with its output in files of the box's dir (see [`runc`] for why not pipes).
fn run_to_files(h: &TestHost, mut cmd: std::process::Command) -> Output {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = h.dir().join(format!("runc-{n}.out"));
    let err = h.dir().join(format!("runc-{n}.err"));
    let status = cmd
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .expect("running minotaur-runc");
    Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

/// The binary under the name `minotaur-runc`, a link in the box's dir.
fn runc_link(h: &TestHost) -> std::path::PathBuf {
    let link = h.dir().join("minotaur-runc");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_minotaur"), &link).unwrap();
    }
    link
}

fn runc_cmd(h: &TestHost, args: &[&str]) -> std::process::Command {
    let root = h.dir().join("runc-state");
    let mut c = h.command(runc_link(h));
    c.arg("--root").arg(root).args(args);
    c
}

fn ok(h: &TestHost, args: &[&str]) -> String {
    let out = runc(h, args);
    assert!(
        out.status.success(),
        "minotaur-runc {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn state(h: &TestHost, id: &str) -> Value {
    serde_json::from_str(&ok(h, &["state", id])).unwrap()
}

fn wait_status(h: &TestHost, id: &str, want: &str) {
    wait_until(&format!("{id} {want}"), || {
        Ok(state(h, id)["status"] == want)
    })
    .unwrap();
}

/// A bundle with a busybox root and `minotaur runtime spec`'s config, `edit`ed.
fn bundle(h: &TestHost, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let dir = h.dir().join(name);
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    let busybox = h.sh_ok("command -v busybox");
    std::fs::copy(busybox.trim(), root.join("bin/busybox")).unwrap();
    for c in ["sh", "cat", "echo", "sleep", "true", "ls"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(c)).unwrap();
    }
    let out = h
        .minotaur()
        .args(["runtime", "spec", "--bundle"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("config.json");
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["process"]["terminal"] = Value::Bool(false);
    edit(&mut spec);
    std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn create_start_state_exec_kill_delete() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b1", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    let pid_file = h.dir().join("c1.pid");
    ok(
        &h,
        &[
            "create",
            "--bundle",
            s(&b),
            "--pid-file",
            s(&pid_file),
            "c1",
        ],
    );
    let st = state(&h, "c1");
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], "c1");
    assert_eq!(st["bundle"], s(&b));
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    // Created: the init waits, it has not exec'd the command yet.
    let cmdline = h.sh_ok(&format!("cat /proc/{pid}/cmdline"));
    assert!(!cmdline.starts_with("sleep"), "{cmdline:?}");
    let out = runc(&h, &["create", "--bundle", s(&b), "c1"]);
    assert!(!out.status.success(), "a second create of c1 succeeded");

    ok(&h, &["start", "c1"]);
    wait_status(&h, "c1", "running");
    wait_until("sleep exec'd", || {
        Ok(h.sh_ok(&format!("cat /proc/{pid}/cmdline"))
            .starts_with("sleep"))
    })
    .unwrap();
    assert!(
        !runc(&h, &["start", "c1"]).status.success(),
        "start of a running container"
    );
    let list = ok(&h, &["list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("c1 ") && l.contains("running")),
        "{list}"
    );
    let ps: Vec<i64> = serde_json::from_str(&ok(&h, &["ps", "--format", "json", "c1"])).unwrap();
    assert_eq!(ps, vec![pid]);

    // exec: the container's PID namespace (its init is PID 1 there) and exit statuses passed through.
    assert_eq!(
        ok(&h, &["exec", "c1", "cat", "/proc/1/cmdline"]),
        "sleep\u{0}1000\u{0}"
    );
    assert_eq!(
        runc(&h, &["exec", "c1", "sh", "-c", "exit 7"])
            .status
            .code(),
        Some(7)
    );
    let proc_file = h.dir().join("process.json");
    std::fs::write(
        &proc_file,
        r#"{"args":["sh","-c","echo $GREETING"],"env":["GREETING=from-process-json"],"cwd":"/","user":{"uid":0,"gid":0}}"#,
    )
    .unwrap();
    assert_eq!(
        ok(&h, &["exec", "--process", s(&proc_file), "c1"]).trim(),
        "from-process-json"
    );

    // A running container is deleted only with --force; kill stops it.
    assert!(!runc(&h, &["delete", "c1"]).status.success());
    ok(&h, &["kill", "c1", "KILL"]);
    wait_status(&h, "c1", "stopped");
    assert_eq!(state(&h, "c1")["pid"], 0);
    assert!(
        !runc(&h, &["kill", "c1"]).status.success(),
        "kill of a stopped container"
    );
    ok(&h, &["delete", "c1"]);
    assert!(!runc(&h, &["state", "c1"]).status.success());
    assert_eq!(ok(&h, &["list", "-q"]), "");

    // delete --force of a running one.
    ok(&h, &["create", "--bundle", s(&b), "c2"]);
    ok(&h, &["start", "c2"]);
    ok(&h, &["delete", "--force", "c2"]);
    assert!(!runc(&h, &["state", "c2"]).status.success());
}

#[test]
fn run_passes_the_exit_status_through_and_removes_the_container() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b2", |spec| {
        spec["process"]["args"] = serde_json::json!(["sh", "-c", "echo out; exit 3"]);
    });
    let out = runc(&h, &["run", "--bundle", s(&b), "r1"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert!(
        !runc(&h, &["state", "r1"]).status.success(),
        "run left r1 behind"
    );
}

/// The runtime-spec conformance suite's default config made every container's init fail after `start`, with
/// nothing said: its seccomp profile predates close_range(2), which the init called after installing the
/// filter; and runc's own `spec` lists ambient capabilities that are not inheritable, which the kernel
/// refuses to raise (runc and crun run such a container without them).
#[test]
fn a_seccomp_profile_without_close_range_and_unraisable_ambient_caps_still_run() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b-seccomp", |spec| {
        spec["process"]["args"] = serde_json::json!(["sh", "-c", "echo out"]);
        spec["process"]["noNewPrivileges"] = Value::Bool(false);
        spec["process"]["capabilities"]["ambient"] = serde_json::json!(["CAP_KILL"]);
        spec["process"]["capabilities"]["inheritable"] = serde_json::json!([]);
        spec["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let out = runc(&h, &["run", "--bundle", s(&b), "sc1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
}

/// A failure of the init after a detached `create` has exited reached nobody: it goes to the container's
/// stderr, which is `create`'s.
#[test]
fn an_init_failure_after_start_is_told_on_the_containers_stderr() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b-fail", |spec| {
        // The program is looked for only at exec, after `start`.
        spec["process"]["args"] = serde_json::json!(["/no/such/program"]);
    });
    let err_file = h.dir().join("fail-create.err");
    let status = runc_cmd(&h, &["create", "--bundle", s(&b), "f1"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    ok(&h, &["start", "f1"]);
    wait_status(&h, "f1", "stopped");
    wait_until("the failure on stderr", || {
        Ok(std::fs::read_to_string(&err_file)
            .unwrap_or_default()
            .contains("/no/such/program"))
    })
    .unwrap();
    ok(&h, &["delete", "f1"]);
}

/// `linux.rootfsPropagation` shared or unbindable made create fail (pivot_root refuses a shared parent
/// mount; an unbindable tree cannot be bound), and the propagation is the container's root's, applied once
/// it is `/`.
#[test]
fn rootfs_propagation_shared_and_unbindable_apply_to_the_containers_root() {
    let Some(h) = host() else { return };
    for (mode, field) in [("shared", "shared:"), ("unbindable", "unbindable")] {
        let b = bundle(&h, &format!("b-prop-{mode}"), |spec| {
            spec["linux"]["rootfsPropagation"] = Value::String(mode.into());
            spec["process"]["args"] = serde_json::json!([
                "sh",
                "-c",
                "while read -r id parent dev root point rest; do \
                 [ \"$point\" = / ] && echo \"$rest\"; done < /proc/self/mountinfo; true"
            ]);
        });
        let out = runc(&h, &["run", "--bundle", s(&b), &format!("prop-{mode}")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let root_line = String::from_utf8_lossy(&out.stdout);
        assert!(root_line.contains(field), "{mode}: / is {root_line:?}");
    }
    // Detaching the container's old root did not unmount the box's own mounts, its peers: the box still
    // sees its own processes in its /proc.
    assert!(
        h.sh_ok("ls /proc").lines().any(|l| l == "1"),
        "the box lost its /proc"
    );
}

/// A spec device's `fileMode` was cut by the umask (0660 became 0640).
#[test]
fn spec_devices_get_their_file_mode_whatever_the_umask() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b-dev", |spec| {
        spec["linux"]["devices"] = serde_json::json!([
            {"path": "/dev/test1", "type": "c", "major": 1, "minor": 3, "fileMode": 0o660, "uid": 0, "gid": 0}
        ]);
        spec["process"]["args"] = serde_json::json!(["ls", "-l", "/dev/test1"]);
    });
    let out = runc(&h, &["run", "--bundle", s(&b), "dev1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("crw-rw---- "), "{text:?}");
}

/// `ociVersion: "invalid"` was run instead of refused.
#[test]
fn an_unsupported_oci_version_is_refused() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b-version", |spec| {
        spec["ociVersion"] = Value::String("invalid".into());
    });
    let out = runc(&h, &["create", "--bundle", s(&b), "v1"]);
    assert!(!out.status.success(), "an invalid ociVersion was created");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ociVersion"), "{err}");
    assert!(!runc(&h, &["state", "v1"]).status.success());
}

/// Regression: the root was bound over the bundle directory, hiding what a caller keeps there; podman's
/// bundle holds the container's `/dev/shm` (a tmpfs mounted at `BUNDLE/shm`), and every podman run failed
/// with "bind source …/shm: ENOENT".
#[test]
fn a_bind_source_inside_the_bundle_is_not_hidden_by_the_root() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b7", |spec| {
        spec["process"]["args"] = serde_json::json!(["cat", "/mnt/shm/note"]);
    });
    let shm = b.join("shm");
    std::fs::create_dir(&shm).unwrap();
    h.sh_ok(&format!(
        "mount -t tmpfs shm {d} && echo kept-in-the-bundle > {d}/note",
        d = shm.display()
    ));
    let path = b.join("config.json");
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "destination": "/mnt/shm",
            "type": "bind",
            "source": s(&shm),
            "options": ["rbind", "nosuid", "nodev"],
        }));
    std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).unwrap();
    let out = runc(&h, &["run", "--bundle", s(&b), "s1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kept-in-the-bundle\n");
}
