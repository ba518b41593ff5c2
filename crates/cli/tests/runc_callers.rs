//! Real callers of the OCI runtime command line, in the throwaway host: podman (`--runtime`, through
//! conmon; run, exec, top, pause, unpause, stop, rm) and containerd's runc v2 shim (`ctr run
//! --runc-binary`; run, task exec, ps, pause, resume, kill, rm) drive `minotaur-runc` through their usual
//! verbs, with an image each imports from a tar made here (a busybox root), their storage, state and sockets
//! in the box's own directories and their containers' cgroups under the box's cgroup parent. Neither needs
//! a registry or a network: the containers run without one.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::containerd::Containerd;
use common::{have, host, show};
use minotaur_testhost::{wait_until, TestHost};
use sha2::{Digest, Sha256};

/// `minotaur-runc`: the binary under that name, in the box's directory.
fn runc_link(h: &TestHost) -> PathBuf {
    let link = h.dir().join("minotaur-runc");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_minotaur"), &link).unwrap();
    }
    link
}

/// A layer tar of a busybox root: `/bin/busybox` and the applets the tests use as links to it.
fn busybox_layer(h: &TestHost) -> Vec<u8> {
    let busybox = h.sh_ok("command -v busybox");
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    for d in ["bin", "tmp", "proc", "sys", "dev", "etc"] {
        b.append_data(&mut dir.clone(), d, std::io::empty())
            .unwrap();
    }
    b.append_path_with_name(busybox.trim(), "bin/busybox")
        .unwrap();
    for applet in ["sh", "cat", "echo", "sleep", "true", "ls", "pwd"] {
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_mode(0o777);
        link.set_size(0);
        b.append_link(&mut link, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    b.into_inner().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An OCI image layout archive (what `ctr image import` takes) of one image named `name`: the layer, its
/// config and manifest as blobs, and an index naming the manifest.
fn oci_archive(layer: &[u8], name: &str) -> Vec<u8> {
    let layer_digest = sha256(layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
        "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{}", sha256(&config)),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": format!("sha256:{layer_digest}"),
            "size": layer.len(),
        }],
    }))
    .unwrap();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256(&manifest)),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": name},
        }],
    }))
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: String, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    };
    add("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json".into(), &index);
    for blob in [&config[..], &manifest[..], layer] {
        add(format!("blobs/sha256/{}", sha256(blob)), blob);
    }
    b.into_inner().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// The IDs `minotaur-runc --root ROOT list -q` shows in the box.
fn runc_ids(h: &TestHost, root: &str) -> Vec<String> {
    let out = h
        .command(runc_link(h))
        .args(["--root", root, "list", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "list: {}", show(&out));
    text(&out).lines().map(str::to_owned).collect()
}

#[test]
fn podman_runs_execs_stops_and_removes_containers_through_minotaur_runc() {
    if !have("podman") || !have("conmon") {
        return;
    }
    let Some(h) = host() else { return };
    let runc = runc_link(&h);
    let storage = h.dir().join("podman-storage");
    let tar = h.dir().join("busybox.tar");
    std::fs::write(&tar, busybox_layer(&h)).unwrap();
    let cgroup_parent = format!("/{}", h.cgroup_parent());
    let podman = |args: &[&str]| -> Output {
        podman_in_box(h.command("podman"), &storage, "cgroupfs", &runc)
            .args(args)
            .output()
            .expect("running podman")
    };
    let ok = |args: &[&str]| -> String {
        let out = podman(args);
        assert!(out.status.success(), "podman {args:?}: {}", show(&out));
        text(&out)
    };
    ok(&["import", tar.to_str().unwrap(), "localhost/bb:latest"]);
    let run = [
        "run",
        "--network",
        "none",
        "--cgroup-parent",
        &cgroup_parent,
    ];

    // Foreground runs: the output, and the exit status passed through.
    assert_eq!(
        ok(&[&run[..], &["--rm", "localhost/bb", "echo", "hello"]].concat()),
        "hello"
    );
    let out = podman(&[&run[..], &["--rm", "localhost/bb", "sh", "-c", "exit 3"]].concat());
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));

    // A detached container that exits 0 on SIGTERM, so `stop` is seen to deliver it.
    let id = ok(&[
        &run[..],
        &[
            "-d",
            "--name",
            "c1",
            "localhost/bb",
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 0.1; done",
        ],
    ]
    .concat());
    // The container is minotaur's: its state is under minotaur-runc's default root (podman passes none).
    assert!(
        runc_ids(&h, "/run/minotaur-runc").contains(&id),
        "{id} not in minotaur-runc's list"
    );
    assert_eq!(ok(&["inspect", "-f", "{{.State.Status}}", "c1"]), "running");
    assert_eq!(
        ok(&["exec", "c1", "cat", "/proc/1/cmdline"]),
        "sh\0-c\0trap 'exit 0' TERM; while :; do sleep 0.1; done\0"
    );
    let out = podman(&["exec", "c1", "sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    assert_eq!(
        ok(&[
            "exec",
            "-e",
            "GREETING=hi",
            "-w",
            "/bin",
            "c1",
            "sh",
            "-c",
            "echo $GREETING $PWD"
        ]),
        "hi /bin"
    );
    let top = ok(&["top", "c1", "pid", "args"]);
    assert!(top.contains("trap"), "{top}");
    ok(&["pause", "c1"]);
    assert_eq!(ok(&["inspect", "-f", "{{.State.Status}}", "c1"]), "paused");
    ok(&["unpause", "c1"]);
    assert_eq!(ok(&["inspect", "-f", "{{.State.Status}}", "c1"]), "running");

    ok(&["stop", "-t", "10", "c1"]);
    assert_eq!(ok(&["inspect", "-f", "{{.State.Status}}", "c1"]), "exited");
    assert_eq!(ok(&["inspect", "-f", "{{.State.ExitCode}}", "c1"]), "0");
    ok(&["rm", "c1"]);
    assert_eq!(ok(&["ps", "-a", "-q"]), "");
    assert!(
        runc_ids(&h, "/run/minotaur-runc").is_empty(),
        "podman rm left minotaur-runc state"
    );
}

/// podman with `--cgroup-manager systemd` under a systemd booted in the box: podman asks for
/// `--systemd-cgroup` and a `machine.slice:libpod:ID` cgroups path, so each container is a transient scope
/// `libpod-ID.scope` that minotaur-runc has systemd make, and that is gone once podman removes it.
#[test]
fn podman_with_systemds_cgroup_manager_runs_containers_in_scopes_through_minotaur_runc() {
    if !have("podman") || !have("conmon") {
        return;
    }
    let Some(h) = host() else { return };
    let Some(sd) = h.boot_systemd() else { return };
    let runc = runc_link(&h);
    let storage = h.dir().join("podman-storage");
    let tar = h.dir().join("busybox.tar");
    std::fs::write(&tar, busybox_layer(&h)).unwrap();
    let podman = |args: &[&str]| -> Output {
        podman_in_box(sd.command("podman"), &storage, "systemd", &runc)
            .args(args)
            .output()
            .expect("running podman")
    };
    let ok = |args: &[&str]| -> String {
        let out = podman(args);
        assert!(out.status.success(), "podman {args:?}: {}", show(&out));
        text(&out)
    };
    ok(&["import", tar.to_str().unwrap(), "localhost/bb:latest"]);
    let out = ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cgroupns",
        "host",
        "localhost/bb",
        "cat",
        "/proc/self/cgroup",
    ]);
    assert!(
        out.lines()
            .any(|l| l.contains(":name=systemd:/machine.slice/libpod-") && l.ends_with(".scope"))
            || out
                .lines()
                .any(|l| l.starts_with("0::/machine.slice/libpod-") && l.ends_with(".scope")),
        "{out}"
    );
    let id = ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "c1",
        "localhost/bb",
        "sleep",
        "1000",
    ]);
    let unit = format!("libpod-{id}.scope");
    assert_eq!(sd.show(&unit, "ActiveState"), "active");
    assert_eq!(
        sd.show(&unit, "ControlGroup"),
        format!("/machine.slice/{unit}")
    );
    assert_eq!(
        ok(&["exec", "c1", "cat", "/proc/1/cmdline"]),
        "sleep\u{0}1000\u{0}"
    );
    ok(&["rm", "-f", "c1"]);
    wait_until("c1's scope gone", || {
        Ok(sd.show(&unit, "LoadState") == "not-found")
    })
    .unwrap();
}

#[test]
fn containerd_runs_execs_kills_and_deletes_tasks_through_minotaur_runc() {
    if !have("containerd") || !have("ctr") || !have("containerd-shim-runc-v2") {
        return;
    }
    let Some(h) = host() else { return };
    let runc = runc_link(&h);
    let archive = h.dir().join("bb-oci.tar");
    std::fs::write(
        &archive,
        oci_archive(&busybox_layer(&h), "localhost/bb:latest"),
    )
    .unwrap();
    // The CRI plugin, which would want CNI, off.
    let d = Containerd::start(
        &h,
        "containerd-test",
        "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n",
    );
    d.ok(&["image", "import", archive.to_str().unwrap()]);
    let images = d.ok(&["image", "ls", "-q"]);
    assert!(images.contains("localhost/bb:latest"), "{images}");

    let cgroup = |name: &str| format!("/{}/{name}", h.cgroup_parent());
    let run = |name: &str, extra: &[&str], cmd: &[&str]| -> Output {
        let cg = cgroup(name);
        let args = [
            &["run", "--runtime", "io.containerd.runc.v2", "--runc-binary"][..],
            &[runc.to_str().unwrap(), "--cgroup", &cg],
            extra,
            &["localhost/bb:latest", name],
            cmd,
        ]
        .concat();
        d.ctr(&args)
    };

    let out = run("r1", &["--rm"], &["echo", "hello"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(text(&out), "hello");
    let out = run("r2", &["--rm"], &["sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));

    // A detached task: the shim keeps minotaur-runc's state under its root for the namespace.
    let out = run(
        "c1",
        &["-d"],
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 0.1; done",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let runc_root = "/run/containerd/runc/default";
    assert_eq!(runc_ids(&h, runc_root), vec!["c1".to_owned()]);
    let running = |want: &str| {
        let tasks = d.ok(&["task", "ls"]);
        tasks
            .lines()
            .any(|l| l.starts_with("c1 ") && l.split_whitespace().nth(2) == Some(want))
    };
    wait_until("c1 running", || Ok(running("RUNNING"))).unwrap();
    assert_eq!(
        d.ok(&[
            "task",
            "exec",
            "--exec-id",
            "e1",
            "c1",
            "cat",
            "/proc/1/cmdline"
        ]),
        "sh\0-c\0trap 'exit 0' TERM; while :; do sleep 0.1; done\0"
    );
    let out = d.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e2",
        "c1",
        "sh",
        "-c",
        "exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    // `task ps` is minotaur-runc's `ps --format json`: the init is one of the container's processes.
    let tasks = d.ok(&["task", "ls"]);
    let pid = tasks
        .lines()
        .find(|l| l.starts_with("c1 "))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no c1 in {tasks}"))
        .to_owned();
    let ps = d.ok(&["task", "ps", "c1"]);
    assert!(
        ps.lines()
            .skip(1)
            .any(|l| l.split_whitespace().next() == Some(pid.as_str())),
        "{pid} not in {ps}"
    );

    // pause and resume go through minotaur-runc's own verbs.
    d.ok(&["task", "pause", "c1"]);
    assert!(running("PAUSED"), "{}", d.ok(&["task", "ls"]));
    d.ok(&["task", "resume", "c1"]);
    assert!(running("RUNNING"), "{}", d.ok(&["task", "ls"]));

    d.ok(&["task", "kill", "c1"]);
    wait_until("c1 stopped", || Ok(running("STOPPED"))).unwrap();
    d.ok(&["task", "rm", "c1"]);
    d.ok(&["container", "rm", "c1"]);
    assert!(
        runc_ids(&h, runc_root).is_empty(),
        "containerd left minotaur-runc state"
    );
    let containers = d.ok(&["container", "ls", "-q"]);
    assert_eq!(containers, "");
    let cg = Path::new("/sys/fs/cgroup/pids").join(cgroup("c1").trim_start_matches('/'));
    assert!(!cg.exists(), "{} left behind", cg.display());
}

/// podman as these tests run it: its storage (vfs), run root and temporary directory in the box, events in a
/// file, `cgroup_manager`, and minotaur-runc as its runtime.
fn podman_in_box(
    mut cmd: std::process::Command,
    storage: &std::path::Path,
    cgroup_manager: &str,
    runc: &std::path::Path,
) -> std::process::Command {
    cmd.arg("--root")
        .arg(storage)
        .args([
            "--runroot",
            "/run/podman-run",
            "--tmpdir",
            "/run/podman-tmp",
        ])
        .args([
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            cgroup_manager,
        ])
        .args(["--events-backend", "file", "--runtime"])
        .arg(runc);
    cmd
}
