//! The OCI runtime command line (`minotaur-runc`, runc's verbs) in the throwaway host: a bundle made here (a
//! busybox root plus `minotaur runtime spec`), taken through create, start, state, exec, kill and delete, its
//! hooks, `run`'s exit status and the console socket protocol.

mod common;

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
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = h.dir().join(format!("runc-{n}.out"));
    let err = h.dir().join(format!("runc-{n}.err"));
    let status = runc_cmd(h, args)
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

fn runc_cmd(h: &TestHost, args: &[&str]) -> std::process::Command {
    let link = h.dir().join("minotaur-runc");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_minotaur"), &link).unwrap();
    }
    let root = h.dir().join("runc-state");
    let mut c = h.command(&link);
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

/// A hostname with a UTS namespace given by path was refused ("needs a new uts namespace"); runc sets it
/// in the joined namespace, and the spec forbids it only with the caller's own.
#[test]
fn a_hostname_is_set_in_a_uts_namespace_joined_by_path() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b-uts-owner", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    ok(&h, &["run", "--detach", "--bundle", s(&b), "uts-owner"]);
    let pid = state(&h, "uts-owner")["pid"].as_i64().unwrap();
    let b = bundle(&h, "b-uts-joiner", |spec| {
        spec["hostname"] = Value::String("joined".into());
        let namespaces = spec["linux"]["namespaces"].as_array_mut().unwrap();
        for ns in namespaces.iter_mut() {
            if ns["type"] == "uts" {
                ns["path"] = Value::String(format!("/proc/{pid}/ns/uts"));
            }
        }
        spec["process"]["args"] = serde_json::json!(["cat", "/proc/sys/kernel/hostname"]);
    });
    let out = runc(&h, &["run", "--bundle", s(&b), "uts-joiner"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "joined\n");
    // The owner sees the name set in its namespace.
    assert_eq!(
        h.sh_ok(&format!(
            "nsenter -t {pid} -u cat /proc/sys/kernel/hostname"
        )),
        "joined\n"
    );
    ok(&h, &["delete", "--force", "uts-owner"]);
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

/// startContainer hooks were not run. They run in the container's namespaces (its root, its hostname),
/// after start and before the process, with the state on stdin.
#[test]
fn start_container_hooks_run_inside_the_container_before_its_process() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b-start-hook", |spec| {
        spec["hostname"] = Value::String("inside".into());
        spec["process"]["args"] = serde_json::json!(["echo", "process"]);
        spec["hooks"] = serde_json::json!({
            "startContainer": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", "cat; echo; cat /proc/sys/kernel/hostname"],
            }],
        });
    });
    let out = runc(&h, &["run", "--bundle", s(&b), "sh1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let st: Value = serde_json::from_str(lines.next().unwrap_or_default()).unwrap();
    assert_eq!(st["id"], "sh1", "{text}");
    assert_eq!(st["status"], "created", "{text}");
    assert_eq!(lines.next(), Some("inside"), "{text}");
    assert_eq!(lines.next(), Some("process"), "{text}");

    // A failing one fails the start: the process never runs.
    let b = bundle(&h, "b-start-hook-fail", |spec| {
        spec["process"]["args"] = serde_json::json!(["echo", "process"]);
        spec["hooks"] = serde_json::json!({"startContainer": [{"path": "/bin/false"}]});
    });
    let out = runc(&h, &["run", "--bundle", s(&b), "sh2"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("process"));
}

#[test]
fn hooks_get_the_state_on_stdin() {
    let Some(h) = host() else { return };
    let out = h.dir().join("hooks");
    std::fs::create_dir(&out).unwrap();
    let hook = |name: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}/{name}.json", out.display())],
        })
    };
    let b = bundle(&h, "b3", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        spec["hooks"] = serde_json::json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    let read = |name: &str| -> Value {
        let path = out.join(format!("{name}.json"));
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}")))
            .unwrap()
    };
    ok(&h, &["create", "--bundle", s(&b), "h1"]);
    for name in ["prestart", "createRuntime"] {
        let st = read(name);
        assert_eq!(st["id"], "h1", "{name}: {st}");
        assert_eq!(st["status"], "created", "{name}: {st}");
        assert!(st["pid"].as_i64().unwrap() > 0, "{name}: {st}");
        assert_eq!(st["bundle"], s(&b), "{name}: {st}");
    }
    assert!(
        !out.join("poststart.json").exists(),
        "poststart ran at create"
    );
    ok(&h, &["start", "h1"]);
    assert_eq!(read("poststart")["status"], "running");
    ok(&h, &["delete", "--force", "h1"]);
    let st = read("poststop");
    assert_eq!(st["id"], "h1");
    assert_eq!(st["status"], "stopped");

    // A process that exits at once: poststart is still told it was started, running, with its PID (it was
    // told "stopped" and PID 0).
    let b = bundle(&h, "b3-quick", |spec| {
        spec["process"]["args"] = serde_json::json!(["true"]);
        spec["hooks"] = serde_json::json!({
            "poststart": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", format!("cat > {}/quick.json", out.display())],
            }],
        });
    });
    ok(&h, &["create", "--bundle", s(&b), "h3"]);
    let pid = state(&h, "h3")["pid"].as_i64().unwrap();
    ok(&h, &["start", "h3"]);
    let st = read("quick");
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"].as_i64(), Some(pid), "{st}");
    ok(&h, &["delete", "h3"]);

    // A failing createRuntime hook fails the create and leaves nothing.
    let b = bundle(&h, "b4", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        spec["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/false"}]});
    });
    let res = runc(&h, &["create", "--bundle", s(&b), "h2"]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("createRuntime hook /bin/false"), "{err}");
    assert!(
        !runc(&h, &["state", "h2"]).status.success(),
        "a failed create left h2"
    );
}

#[test]
fn console_socket_receives_the_terminal_master() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b5", |spec| {
        spec["process"]["terminal"] = Value::Bool(true);
        spec["process"]["args"] = serde_json::json!(["sh", "-c", "echo hello-from-tty; tty"]);
    });
    let sock = h.dir().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    // Without a socket, a terminal spec is refused.
    assert!(!runc(&h, &["create", "--bundle", s(&b), "t0"])
        .status
        .success());

    let mut create = runc_cmd(
        &h,
        &[
            "create",
            "--bundle",
            s(&b),
            "--console-socket",
            s(&sock),
            "t1",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(&conn),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut master = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            master = fds.first().map(|fd| take_received(*fd));
        }
    }
    let master = master.expect("no descriptor on the console socket");
    let status = create.wait().unwrap();
    assert!(status.success(), "create: {status}");
    ok(&h, &["start", "t1"]);
    let mut out = Vec::new();
    let mut f = std::fs::File::from(master);
    // The master reads until the slave's last holder exits (EIO).
    let mut chunk = [0u8; 256];
    while let Ok(n) = f.read(&mut chunk) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("hello-from-tty"), "{text:?}");
    assert!(
        text.contains("/dev/"),
        "tty should name a terminal: {text:?}"
    );
    wait_status(&h, "t1", "stopped");
    ok(&h, &["delete", "t1"]);
}

/// Takes a descriptor received over SCM_RIGHTS as an owned one: a copy made with pidfd_getfd(2) on this
/// process, the received number closed.
fn take_received(fd: std::os::fd::RawFd) -> OwnedFd {
    let me = minotaur_sys::pidfd_open(nix::unistd::getpid()).expect("pidfd_open self");
    let owned = minotaur_sys::pidfd_getfd(&me, fd).expect("pidfd_getfd of the terminal master");
    let _ = nix::unistd::close(fd);
    owned
}

#[test]
fn preserve_fds_and_listen_fds_reach_the_container() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b6", |spec| {
        spec["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "echo \"fds=$LISTEN_FDS pid=$LISTEN_PID\"; cat <&3"
        ]);
    });
    let file = h.dir().join("passed.txt");
    std::fs::write(&file, "passed-along\n").unwrap();
    let link = h.dir().join("minotaur-runc");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_minotaur"), &link).unwrap();
    }
    let root = h.dir().join("runc-state");
    let run = |env: &str, flags: &str, id: &str| {
        h.sh_ok(&format!(
            "exec 3<{f}; {env} {l} --root {r} run --bundle {b} {flags} {id}",
            f = file.display(),
            l = link.display(),
            r = root.display(),
            b = b.display()
        ))
    };
    assert_eq!(
        run("", "--preserve-fds 1", "p1"),
        "fds= pid=\npassed-along\n"
    );
    assert_eq!(run("LISTEN_FDS=1", "", "p2"), "fds=1 pid=1\npassed-along\n");
    // Without either, descriptor 3 is closed in the container.
    let out = h.sh(&format!(
        "exec 3<{f}; {l} --root {r} run --bundle {b} p3",
        f = file.display(),
        l = link.display(),
        r = root.display(),
        b = b.display()
    ));
    assert!(!out.status.success(), "fd 3 leaked into the container");
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

/// A file of the container's cgroup: `v1` under its controller's hierarchy, or `v2` on a unified host.
fn cgroup_file(cgroup: &str, controller: &str, v1: &str, v2: &str) -> PathBuf {
    let unified = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    let rel = cgroup.trim_start_matches('/');
    if unified {
        Path::new("/sys/fs/cgroup").join(rel).join(v2)
    } else {
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(rel)
            .join(v1)
    }
}

fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_owned()
}

#[test]
fn systemd_cgroup_is_refused_naming_why() {
    let Some(h) = host() else { return };
    let booted = h.sh("test -d /run/systemd/system").status.success();
    let out = runc(&h, &["--systemd-cgroup", "state", "nosuch"]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    let why = if booted {
        "--systemd-cgroup: the systemd cgroup driver is not implemented"
    } else {
        "--systemd-cgroup: systemd is not running here (PID 1 is "
    };
    assert!(e.contains(why), "{e}");
}

#[test]
fn pause_resume_update_and_events_act_on_the_containers_cgroup() {
    let Some(h) = host() else { return };
    let cgroup = format!("/{}/pr1", h.cgroup_parent());
    let out = h.dir().join("ticks");
    std::fs::create_dir(&out).unwrap();
    let b = bundle(&h, "b8", |spec| {
        spec["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "while :; do echo x >> /out/ticks; sleep 0.02; done"
        ]);
        spec["linux"]["cgroupsPath"] = Value::String(cgroup.clone());
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "destination": "/out", "type": "bind", "source": s(&out), "options": ["rbind"],
            }));
    });
    let ticks = || std::fs::metadata(out.join("ticks")).map_or(0, |m| m.len());
    ok(&h, &["create", "--bundle", s(&b), "pr1"]);
    assert!(
        !runc(&h, &["pause", "pr1"]).status.success(),
        "pause of a created container"
    );
    ok(&h, &["start", "pr1"]);
    wait_until("ticks", || Ok(ticks() > 0)).unwrap();

    ok(&h, &["pause", "pr1"]);
    assert_eq!(state(&h, "pr1")["status"], "paused");
    let frozen = cgroup_file(&cgroup, "freezer", "freezer.state", "cgroup.events");
    let text = read_trim(&frozen);
    assert!(
        text == "FROZEN" || text.lines().any(|l| l == "frozen 1"),
        "{}: {text}",
        frozen.display()
    );
    assert!(
        !runc(&h, &["pause", "pr1"]).status.success(),
        "pause of a paused container"
    );
    assert!(
        !runc(&h, &["exec", "pr1", "true"]).status.success(),
        "exec into a paused container"
    );
    ok(&h, &["resume", "pr1"]);
    assert_eq!(state(&h, "pr1")["status"], "running");
    let before = ticks();
    wait_until("ticks after resume", || Ok(ticks() > before)).unwrap();
    assert!(
        !runc(&h, &["resume", "pr1"]).status.success(),
        "resume of a running container"
    );

    // update: runc's flags, then a resources file over them.
    ok(
        &h,
        &[
            "update",
            "--memory",
            "64m",
            "--cpu-period",
            "100000",
            "--cpu-quota",
            "50000",
            "--pids-limit",
            "20",
            "pr1",
        ],
    );
    let mem = cgroup_file(&cgroup, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(read_trim(&mem), (64u64 << 20).to_string());
    let pids = cgroup_file(&cgroup, "pids", "pids.max", "pids.max");
    assert_eq!(read_trim(&pids), "20");
    let cpu = read_trim(&cgroup_file(&cgroup, "cpu", "cpu.cfs_quota_us", "cpu.max"));
    assert!(cpu == "50000" || cpu == "50000 100000", "{cpu}");
    let res = h.dir().join("resources.json");
    std::fs::write(&res, r#"{"pids":{"limit":30}}"#).unwrap();
    ok(&h, &["update", "--resources", s(&res), "pr1"]);
    assert_eq!(read_trim(&pids), "30");
    assert_eq!(read_trim(&mem), (64u64 << 20).to_string(), "memory kept");
    let bad = runc(&h, &["update", "--memory", "lots", "pr1"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--memory lots"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // runc's other flags: a cpuset (its cgroup made when first asked for, the container's processes moved
    // into it), the memory reservation, realtime CPU time (v1 only).
    ok(
        &h,
        &[
            "update",
            "--cpuset-cpus",
            "0",
            "--cpuset-mems",
            "0",
            "--memory-reservation",
            "32m",
            "pr1",
        ],
    );
    let cpus = cgroup_file(&cgroup, "cpuset", "cpuset.cpus", "cpuset.cpus");
    assert_eq!(read_trim(&cpus), "0");
    // The container's init, as its own /proc/PID/cgroup names its cpuset cgroup (v1; v2 has one line).
    let pid = state(&h, "pr1")["pid"].to_string();
    let cgroups = h.sh_ok(&format!("cat /proc/{pid}/cgroup"));
    assert!(
        cgroups
            .lines()
            .any(|l| (l.contains(":cpuset:") || l.starts_with("0::")) && l.ends_with(&cgroup)),
        "{cgroup} in {cgroups}"
    );
    let soft = cgroup_file(
        &cgroup,
        "memory",
        "memory.soft_limit_in_bytes",
        "memory.low",
    );
    assert_eq!(read_trim(&soft), (32u64 << 20).to_string());
    let rt = runc(&h, &["update", "--cpu-rt-period", "500000", "pr1"]);
    let rt_period = cgroup_file(&cgroup, "cpu", "cpu.rt_period_us", "cpu.max");
    if rt_period.ends_with("cpu.rt_period_us") {
        assert!(
            rt.status.success(),
            "{}",
            String::from_utf8_lossy(&rt.stderr)
        );
        assert_eq!(read_trim(&rt_period), "500000");
    } else {
        assert!(String::from_utf8_lossy(&rt.stderr).contains("cgroup v2 has no cpu.rt_period_us"));
    }
    // The block I/O weight, where the kernel has a scheduler that takes one.
    let w = runc(&h, &["update", "--blkio-weight", "500", "pr1"]);
    let weight = cgroup_file(&cgroup, "blkio", "blkio.weight", "io.weight");
    if weight.exists() {
        assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stderr));
    } else {
        let e = String::from_utf8_lossy(&w.stderr);
        assert!(e.contains("the block I/O weight cannot be set: "), "{e}");
    }
    // Refused as runc refuses them, changing nothing.
    for (args, why) in [
        (
            &["--kernel-memory", "1m"][..],
            "kernel memory limits are not supported",
        ),
        (
            &["--l3-cache-schema", "L3:0=f"][..],
            "Intel RDT (resctrl) is not supported",
        ),
        (
            &["--blkio-weight", "5"][..],
            "the weight must be from 10 to 1000",
        ),
    ] {
        let out = runc(
            &h,
            &[&["update"][..], args, &["--memory", "32m", "pr1"][..]].concat(),
        );
        assert!(!out.status.success(), "{args:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(why), "{args:?}: {e}");
    }
    assert_eq!(read_trim(&mem), (64u64 << 20).to_string(), "memory kept");

    // events --stats: one event in runc's shape, with the limits just set.
    let ev: Value = serde_json::from_str(&ok(&h, &["events", "--stats", "pr1"])).unwrap();
    assert_eq!(ev["type"], "stats", "{ev}");
    assert_eq!(ev["id"], "pr1", "{ev}");
    let data = &ev["data"];
    assert!(data["pids"]["current"].as_u64().unwrap() >= 1, "{ev}");
    assert_eq!(data["pids"]["limit"], 30, "{ev}");
    assert_eq!(data["memory"]["usage"]["limit"], 64u64 << 20, "{ev}");
    assert!(
        data["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{ev}"
    );

    // A paused container is deleted with --force (thawed after the SIGKILL, or it would never die).
    ok(&h, &["pause", "pr1"]);
    ok(&h, &["delete", "--force", "pr1"]);
    assert!(!runc(&h, &["state", "pr1"]).status.success());
    assert!(!mem.parent().unwrap().exists(), "cgroup left behind");
}

#[test]
fn a_user_namespace_maps_the_containers_root_to_the_spec_s_host_ids() {
    let Some(h) = host() else { return };
    let shared = h.dir().join("userns-out");
    std::fs::create_dir(&shared).unwrap();
    let b = bundle(&h, "b9", |spec| {
        spec["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map > /out/maps; echo made > /out/file; sleep 1000"
        ]);
        spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        spec["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        spec["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "destination": "/out", "type": "bind", "source": s(&shared), "options": ["rbind"],
            }));
    });
    // The root and the shared directory belong to the namespace's root, as an image unpacked for it would.
    h.sh_ok(&format!(
        "mkdir -p {r}/proc {r}/dev {r}/sys {r}/tmp {r}/out && chown -R 200000:300000 {r} {o}",
        r = b.join("rootfs").display(),
        o = shared.display()
    ));
    ok(&h, &["create", "--bundle", s(&b), "u1"]);
    ok(&h, &["start", "u1"]);
    wait_until("the container's file", || Ok(shared.join("file").exists())).unwrap();
    let maps = std::fs::read_to_string(shared.join("maps")).unwrap();
    let fields: Vec<&str> = maps.split_whitespace().collect();
    assert_eq!(
        fields,
        ["0", "200000", "65536", "0", "300000", "65536"],
        "{maps}"
    );
    // Written by the container's root: owned on the host by the IDs 0 maps to.
    let meta =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(shared.join("file")).unwrap());
    let gid = std::os::unix::fs::MetadataExt::gid(&std::fs::metadata(shared.join("file")).unwrap());
    assert_eq!((meta, gid), (200000, 300000));
    // exec joins the user namespace too.
    assert_eq!(
        ok(&h, &["exec", "u1", "cat", "/proc/self/uid_map"])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "200000", "65536"]
    );
    let st = state(&h, "u1");
    let pid = st["pid"].as_i64().unwrap();
    let host_uid = h.sh_ok(&format!("awk '/^Uid:/ {{print $2}}' /proc/{pid}/status"));
    assert_eq!(host_uid.trim(), "200000");
    ok(&h, &["delete", "--force", "u1"]);

    // A user namespace without mappings is refused before anything is made.
    let b = bundle(&h, "b10", |spec| {
        spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
    });
    let out = runc(&h, &["create", "--bundle", s(&b), "u2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uidMappings"), "{err}");
    assert!(!runc(&h, &["state", "u2"]).status.success());
}

/// The mount points below `dir` in the mount table `table` (a `/proc/PID/mountinfo`).
fn mounts_below(h: &TestHost, table: &str, dir: &Path) -> Vec<String> {
    h.sh_ok(&format!("cut -d' ' -f5 {table}"))
        .lines()
        .filter(|m| Path::new(m).starts_with(dir))
        .map(str::to_owned)
        .collect()
}

/// Takes the mount namespace out of a spec (and the masked and read-only paths, which need one).
fn without_mount_ns(spec: &mut Value) {
    spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != "mount");
    spec["linux"]["maskedPaths"] = serde_json::json!([]);
    spec["linux"]["readonlyPaths"] = serde_json::json!([]);
}

/// A spec without a mount namespace was refused (runtime-tools' `linux_ns_itype`). The container shares the
/// caller's: its root and mounts are made there, it is chrooted into them, and `delete` takes them away.
#[test]
fn a_container_without_a_mount_namespace_of_its_own_shares_the_callers() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b-itype", |spec| {
        without_mount_ns(spec);
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    let rootfs = b.join("rootfs");
    ok(&h, &["create", "--bundle", s(&b), "itype"]);
    let pid = state(&h, "itype")["pid"].as_i64().unwrap();
    assert_eq!(
        h.sh_ok(&format!("readlink /proc/{pid}/ns/mnt")),
        h.sh_ok("readlink /proc/self/ns/mnt"),
        "the container has a mount namespace of its own"
    );
    assert_eq!(
        h.sh_ok(&format!("readlink /proc/{pid}/root")).trim(),
        s(&rootfs)
    );
    let mounts = mounts_below(&h, "/proc/self/mountinfo", &rootfs);
    assert!(
        mounts.iter().any(|m| Path::new(m) == rootfs.join("proc")),
        "the container's /proc is not in the caller's namespace: {mounts:?}"
    );
    ok(&h, &["start", "itype"]);
    wait_status(&h, "itype", "running");
    // exec runs in the container's root too, not in the namespace's (the caller's) root.
    let ls = ok(&h, &["exec", "itype", "ls", "/"]);
    assert!(
        ls.lines().any(|l| l == "bin") && !ls.lines().any(|l| l == "usr"),
        "exec did not run in the container's root: {ls}"
    );
    ok(&h, &["delete", "--force", "itype"]);
    let left = mounts_below(&h, "/proc/self/mountinfo", &rootfs);
    assert!(left.is_empty(), "delete left mounts: {left:?}");

    // Masked and read-only paths would restrict the namespace's other users: refused, as runc does.
    let b = bundle(&h, "b-itype-masked", |spec| {
        without_mount_ns(spec);
        spec["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore"]);
    });
    let out = runc(&h, &["create", "--bundle", s(&b), "itype-masked"]);
    assert!(
        !out.status.success(),
        "masked paths without a mount namespace"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("masked"), "{err}");
    assert!(mounts_below(&h, "/proc/self/mountinfo", &b).is_empty());

    // A create that fails half-way leaves nothing in the caller's namespace either: before the root is
    // entered (a hook), or in it (a working directory that is not there).
    let b = bundle(&h, "b-itype-fail", |spec| {
        without_mount_ns(spec);
        spec["hooks"] = serde_json::json!({"createContainer": [{"path": "/bin/false"}]});
    });
    let b2 = bundle(&h, "b-itype-cwd", |spec| {
        without_mount_ns(spec);
        spec["process"]["cwd"] = Value::String("/not-there".into());
    });
    for (b, id) in [(b, "itype-fail"), (b2, "itype-cwd")] {
        assert!(!runc(&h, &["create", "--bundle", s(&b), id])
            .status
            .success());
        let left = mounts_below(&h, "/proc/self/mountinfo", &b);
        assert!(left.is_empty(), "a failed create left mounts: {left:?}");
    }
}

/// Joining a mount namespace by path was refused (runtime-tools' `linux_ns_path` "mnt"). The container's
/// mounts are made in the joined namespace and it is chrooted, so the root of the namespace's other
/// processes stays where it was (pivot_root would have moved it); `delete` takes the mounts away.
#[test]
fn a_mount_namespace_joined_by_path_keeps_its_other_processes_root() {
    let Some(h) = host() else { return };
    // A process of the box's in a mount namespace of its own; its PID as the box sees it.
    let mut other = h
        .command("sh")
        .args([
            "-c",
            "unshare --mount --propagation private sleep 1000 >/dev/null & echo $!",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pid = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(other.stdout.take().unwrap()),
        &mut pid,
    )
    .unwrap();
    let pid = pid.trim().to_owned();
    let _ = other.wait();
    let mine = h.sh_ok("readlink /proc/self/ns/mnt");
    wait_until("the other process in its mount namespace", || {
        Ok(h.sh_ok(&format!("readlink /proc/{pid}/ns/mnt")) != mine)
    })
    .unwrap();
    let ns = format!("/proc/{pid}/ns/mnt");
    let b = bundle(&h, "b-mntpath", |spec| {
        for n in spec["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "mount" {
                n["path"] = Value::String(ns.clone());
            }
        }
        spec["linux"]["maskedPaths"] = serde_json::json!([]);
        spec["linux"]["readonlyPaths"] = serde_json::json!([]);
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    let rootfs = b.join("rootfs");
    ok(&h, &["create", "--bundle", s(&b), "mntpath"]);
    let cpid = state(&h, "mntpath")["pid"].as_i64().unwrap();
    assert_eq!(
        h.sh_ok(&format!("readlink /proc/{cpid}/ns/mnt")),
        h.sh_ok(&format!("readlink {ns}"))
    );
    assert_eq!(h.sh_ok(&format!("readlink /proc/{pid}/root")).trim(), "/");
    let table = format!("/proc/{pid}/mountinfo");
    assert!(!mounts_below(&h, &table, &rootfs).is_empty());
    assert!(
        mounts_below(&h, "/proc/self/mountinfo", &rootfs).is_empty(),
        "the container's mounts reached the caller's namespace"
    );
    ok(&h, &["start", "mntpath"]);
    wait_status(&h, "mntpath", "running");
    let ls = ok(&h, &["exec", "mntpath", "ls", "/"]);
    assert!(
        ls.lines().any(|l| l == "bin") && !ls.lines().any(|l| l == "usr"),
        "exec did not run in the container's root: {ls}"
    );
    ok(&h, &["delete", "--force", "mntpath"]);
    let left = mounts_below(&h, &table, &rootfs);
    assert!(left.is_empty(), "delete left mounts: {left:?}");
    h.sh_ok(&format!("kill {pid}"));
}

/// createContainer hooks were not run. Every kind runs once, in the runtime spec's order, each told the
/// state it should be: createContainer in the container's mount namespace before pivot_root (the caller's
/// paths resolve), startContainer inside the container, both with the PID as the container sees it.
#[test]
fn every_hook_kind_runs_in_the_spec_s_order_with_its_state() {
    let Some(h) = host() else { return };
    let out = h.dir().join("hook-order");
    std::fs::create_dir(&out).unwrap();
    // A hook appends its name and its mount namespace to `order`, and keeps its stdin as NAME.json. Before
    // pivot_root, the caller's path to `out` works; after it, the container's bind of it at /out.
    let hook = |name: &str, dir: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!(
                "cat > {dir}/{name}.json; echo {name} $(readlink /proc/self/ns/mnt) >> {dir}/order"
            )],
        })
    };
    let host_dir = s(&out).to_owned();
    let b = bundle(&h, "b-hook-order", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "destination": "/out", "type": "bind", "source": host_dir, "options": ["rbind"],
            }));
        spec["annotations"] = serde_json::json!({"org.example": "hooks"});
        spec["hooks"] = serde_json::json!({
            "prestart": [hook("prestart", &host_dir)],
            "createRuntime": [hook("createRuntime", &host_dir)],
            "createContainer": [hook("createContainer", &host_dir)],
            "startContainer": [hook("startContainer", "/out")],
            "poststart": [hook("poststart", &host_dir)],
            "poststop": [hook("poststop", &host_dir)],
        });
    });
    ok(&h, &["create", "--bundle", s(&b), "order"]);
    let pid = state(&h, "order")["pid"].as_i64().unwrap();
    let container_ns = h.sh_ok(&format!("readlink /proc/{pid}/ns/mnt"));
    ok(&h, &["start", "order"]);
    ok(&h, &["delete", "--force", "order"]);
    let runtime_ns = h.sh_ok("readlink /proc/self/ns/mnt");
    let order = std::fs::read_to_string(out.join("order")).unwrap();
    let seen: Vec<(&str, &str)> = order.lines().map(|l| l.split_once(' ').unwrap()).collect();
    let names: Vec<&str> = seen.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ],
        "{order}"
    );
    for (name, ns) in seen {
        let want = match name {
            "createContainer" | "startContainer" => container_ns.trim(),
            _ => runtime_ns.trim(),
        };
        assert_eq!(ns, want, "{name} ran in the wrong mount namespace");
    }
    for (name, status, want_pid) in [
        ("prestart", "created", pid),
        ("createRuntime", "created", pid),
        ("createContainer", "created", 1),
        ("startContainer", "created", 1),
        ("poststart", "running", pid),
        ("poststop", "stopped", -1),
    ] {
        let st: Value =
            serde_json::from_slice(&std::fs::read(out.join(format!("{name}.json"))).unwrap())
                .unwrap();
        assert_eq!(st["id"], "order", "{name}: {st}");
        assert_eq!(st["status"], status, "{name}: {st}");
        assert_eq!(st["bundle"], s(&b), "{name}: {st}");
        assert_eq!(st["annotations"]["org.example"], "hooks", "{name}: {st}");
        assert!(st["ociVersion"].is_string(), "{name}: {st}");
        if want_pid >= 0 {
            assert_eq!(st["pid"].as_i64(), Some(want_pid), "{name}: {st}");
        }
    }

    // A failing createContainer hook fails the create: no container, no process.
    let b = bundle(&h, "b-hook-order-fail", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        spec["hooks"] = serde_json::json!({"createContainer": [{"path": "/bin/false"}]});
    });
    let res = runc(&h, &["create", "--bundle", s(&b), "order-fail"]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("createContainer hook /bin/false"), "{err}");
    assert!(!runc(&h, &["state", "order-fail"]).status.success());
}

/// A failing poststart or poststop hook stopped the ones after it (runtime-tools' `poststart_fail` and
/// `poststop_fail`): the spec makes it a warning after which "the remaining hooks and lifecycle continue as
/// if the hook had succeeded".
#[test]
fn a_failing_poststart_or_poststop_hook_does_not_stop_the_ones_after_it() {
    let Some(h) = host() else { return };
    let out = h.dir().join("after-failing-hooks");
    let after = |name: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo {name} >> {}", out.display())],
        })
    };
    let b = bundle(&h, "b-failing-hooks", |spec| {
        spec["process"]["args"] = serde_json::json!(["true"]);
        spec["hooks"] = serde_json::json!({
            "poststart": [{"path": "/bin/false"}, after("poststart")],
            "poststop": [{"path": "/bin/false"}, after("poststop")],
        });
    });
    ok(&h, &["create", "--bundle", s(&b), "failing-hooks"]);
    let start = runc(&h, &["start", "failing-hooks"]);
    assert!(
        start.status.success(),
        "a failing poststart hook failed start"
    );
    let warning = String::from_utf8_lossy(&start.stderr);
    assert!(warning.contains("poststart hook /bin/false"), "{warning}");
    wait_status(&h, "failing-hooks", "stopped");
    let delete = runc(&h, &["delete", "failing-hooks"]);
    assert!(
        delete.status.success(),
        "a failing poststop hook failed delete"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "poststart\npoststop\n"
    );
}
