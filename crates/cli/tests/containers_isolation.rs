//! Isolation end to end: the checker in `checker/isolation.sh` runs as the command of containers on the
//! built-in `host` image and exits non-zero on any mismatch with Docker's defaults or the flags given.

mod common;

use common::{assert_clean, host, import_busybox, ok};
use minotaur_testhost::TestHost;

const CHECKER: &str = include_str!("checker/isolation.sh");

/// Runs the checker in a fresh `--rm` container with `flags`; `want` are the checker's WANT_* variables.
/// Returns the exit status and stderr.
fn check(h: &TestHost, flags: &[&str], want: &[(&str, &str)]) -> (i32, String) {
    let mut args: Vec<String> = vec!["run".into(), "--rm".into()];
    args.extend(flags.iter().map(|s| s.to_string()));
    for (k, v) in want {
        args.push("-e".into());
        args.push(format!("WANT_{k}={v}"));
    }
    args.extend(["host", "sh", "-c", CHECKER].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = h.mino(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_ok(h: &TestHost, flags: &[&str], want: &[(&str, &str)]) {
    let (code, err) = check(h, flags, want);
    assert_eq!(code, 0, "checker with {flags:?} {want:?}:\n{err}");
}

#[test]
fn checker_catches_a_mismatch() {
    let Some(h) = host() else { return };
    let (code, err) = check(
        &h,
        &["-h", "web"],
        &[
            ("HOSTNAME", "web"),
            ("CAPEFF", "0000000000000000"),
            ("UID", "7"),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("checker: CapEff: want '0000000000000000'"),
        "{err}"
    );
    assert!(err.contains("checker: uid: want '7', got '0'"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    // A descriptor PID 1 did not get from minotaur is caught.
    let script = format!("exec 5</dev/null\n{CHECKER}");
    let out = h.mino(&[
        "run",
        "--rm",
        "-h",
        "x",
        "-e",
        "WANT_HOSTNAME=x",
        "host",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "checker: descriptors of PID 1: want '0 1 2', got '0 1 2 5'\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn default_container_has_dockers_isolation() {
    let Some(h) = host() else { return };
    // The default hostname is the ID's first 12 characters: read the ID from a detached twin.
    let id = ok(
        &h,
        &[
            "run",
            "-d",
            "-e",
            "WANT_HOSTNAME=x",
            "host",
            "sh",
            "-c",
            CHECKER,
        ],
    );
    minotaur_testhost::wait_until("the checker to end", || {
        Ok(ok(&h, &["inspect", "-f", "{{.State.Status}}", &id]) == "exited")
    })
    .unwrap();
    let logs = h.mino(&["logs", &id]);
    let err = String::from_utf8_lossy(&logs.stderr);
    let short = &id[..12];
    // Only the two hostname checks fail: they name the real hostname, the short ID.
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            format!("checker: hostname: want 'x', got '{short}'"),
            format!("checker: /etc/hostname: want 'x', got '{short}'"),
        ],
        "{err}"
    );
    assert_eq!(ok(&h, &["wait", &id]), "1");
    assert_eq!(
        ok(&h, &["inspect", "-f", "{{.Config.Hostname}}", &id]),
        short
    );
    ok(&h, &["rm", &id]);
    assert_clean(&h, &[id]);
}

/// Regression: the network namespace of a `--network none` container had its loopback interface down, where
/// Docker's has 127.0.0.1 up.
#[test]
fn loopback_is_up_with_network_none() {
    let Some(h) = host() else { return };
    let out = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "host",
            "ip",
            "-o",
            "link",
            "show",
            "lo",
        ],
    );
    assert!(out.contains("<LOOPBACK,UP,LOWER_UP>"), "{out}");
    // Something listening on 127.0.0.1 in the container is reachable there. (A busybox nc pair raced here:
    // the listener sometimes ended without what the client sent.) One process listens, then connects to
    // itself through loopback and reads back what it sent.
    let out = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "host",
            "python3",
            "-c",
            "import socket\n\
             s = socket.socket(); s.bind(('127.0.0.1', 7777)); s.listen()\n\
             c = socket.create_connection(('127.0.0.1', 7777), timeout=10); c.sendall(b'hi'); c.close()\n\
             a, _ = s.accept(); print(a.recv(10).decode())",
        ],
    );
    assert_eq!(out, "hi");
}

#[test]
fn hostname_user_workdir_and_environment_flags() {
    let Some(h) = host() else { return };
    h.sh_ok("mkdir -p /tmp/cfg && printf '# comment\\nB=from file\\n' > /tmp/cfg/env.list");
    check_ok(
        &h,
        &[
            "-h",
            "web1",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "-e",
            "A=1",
            "--env-file",
            "/tmp/cfg/env.list",
        ],
        &[
            ("HOSTNAME", "web1"),
            ("UID", "65534"),
            ("PWD", "/tmp"),
            ("A", "1"),
            ("B", "from file"),
            // Capabilities of a non-root user are cleared at exec, as with Docker.
            ("CAPEFF", "0000000000000000"),
        ],
    );
    assert_clean(&h, &[]);
}

#[test]
fn capability_flags_change_the_effective_set() {
    let Some(h) = host() else { return };
    check_ok(
        &h,
        &["-h", "c", "--cap-add", "NET_ADMIN"],
        &[("HOSTNAME", "c"), ("CAPEFF", "00000000a80435fb")],
    );
    check_ok(
        &h,
        &["-h", "c", "--cap-drop", "ALL"],
        &[("HOSTNAME", "c"), ("CAPEFF", "0000000000000000")],
    );
    // The seccomp filter follows the capabilities, as Docker's does: CAP_SYS_ADMIN allows unshare(2).
    check_ok(
        &h,
        &["-h", "c", "--cap-add", "SYS_ADMIN"],
        &[
            ("HOSTNAME", "c"),
            ("CAPEFF", "00000000a82425fb"),
            ("UNSHARE", "allowed"),
        ],
    );
    check_ok(
        &h,
        &[
            "-h",
            "c",
            "--cap-drop",
            "net_raw",
            "--cap-drop",
            "CAP_CHOWN",
        ],
        &[("HOSTNAME", "c"), ("CAPEFF", "00000000a80405fa")],
    );
}

#[test]
fn seccomp_and_no_new_privileges_options() {
    let Some(h) = host() else { return };
    check_ok(
        &h,
        &["-h", "s", "--security-opt", "seccomp=unconfined"],
        &[("HOSTNAME", "s"), ("SECCOMP", "0"), ("UNSHARE", "allowed")],
    );
    check_ok(
        &h,
        &["-h", "s", "--security-opt", "no-new-privileges"],
        &[("HOSTNAME", "s"), ("NNP", "1")],
    );
}

/// Regression: `--privileged` asked for every capability the kernel knows, also those outside this
/// host's bounding set (root here lacks CAP_SYS_RESOURCE), and the container's init failed with EPERM.
#[test]
fn privileged_gets_the_bounding_set_not_every_known_capability() {
    let Some(h) = host() else { return };
    let bounding = h.sh_ok("awk '/^CapBnd:/ {print $2}' /proc/self/status");
    check_ok(
        &h,
        &["-h", "p", "--privileged"],
        &[
            ("HOSTNAME", "p"),
            ("CAPEFF", bounding.trim()),
            ("SECCOMP", "0"),
            ("MASKED", "0"),
            ("PRIVILEGED", "1"),
            ("UNSHARE", "allowed"),
        ],
    );
    // /proc/sys is writable in a privileged container.
    ok(
        &h,
        &[
            "run",
            "--rm",
            "--privileged",
            "host",
            "sh",
            "-c",
            "echo x > /proc/sys/kernel/domainname",
        ],
    );
}

#[test]
fn cgroup_limits_are_seen_inside() {
    let Some(h) = host() else { return };
    check_ok(
        &h,
        &[
            "-h",
            "l",
            "--memory",
            "64m",
            "--pids-limit",
            "20",
            "--cpus",
            "0.5",
        ],
        &[
            ("HOSTNAME", "l"),
            ("MEMORY", "67108864"),
            ("PIDS", "20"),
            ("CFS_QUOTA", "50000"),
        ],
    );
    check_ok(
        &h,
        &[
            "-h",
            "l",
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--cpu-shares",
            "512",
        ],
        &[
            ("HOSTNAME", "l"),
            ("MEMORY", "67108864"),
            ("MEMSW", "134217728"),
            ("CPU_SHARES", "512"),
        ],
    );
    // The limit holds: with --pids-limit 5 the shell cannot fork a fifth sleep; with 20 it can.
    let spawn = "for i in 1 2 3 4 5 6; do sleep 5 & done; echo spawned";
    let out = h.mino(&[
        "run",
        "--rm",
        "--pids-limit",
        "5",
        "host",
        "sh",
        "-c",
        spawn,
    ]);
    assert!(!out.status.success(), "six sleeps under --pids-limit 5");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("spawned"));
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "--pids-limit",
                "20",
                "host",
                "sh",
                "-c",
                spawn
            ]
        ),
        "spawned"
    );
}

#[test]
fn volumes_tmpfs_and_read_only_root() {
    let Some(h) = host() else { return };
    // The bind source must exist in the host's (read-only) root, which is also the container's.
    let src = ["/srv", "/mnt", "/media", "/opt"]
        .into_iter()
        .find(|d| std::path::Path::new(d).is_dir())
        .expect("a directory to bind");
    let vol = format!("{src}:/mnt:ro");
    check_ok(
        &h,
        &["-h", "v", "-v", &vol],
        &[("HOSTNAME", "v"), ("MNT", "ro")],
    );
    check_ok(
        &h,
        &["-h", "v", "--tmpfs", "/mnt"],
        &[("HOSTNAME", "v"), ("MNT", "tmpfs")],
    );
    check_ok(&h, &["-h", "v", "--read-only"], &[("HOSTNAME", "v")]);
    // tmpfs options reach the mount.
    let df = ok(
        &h,
        &[
            "run",
            "--rm",
            "--tmpfs",
            "/mnt:size=1m",
            "host",
            "df",
            "-k",
            "--output=size",
            "/mnt",
        ],
    );
    assert_eq!(df.lines().last().map(str::trim), Some("1024"), "{df}");
    // A writable bind is writable, and writes land in the box's directory.
    h.sh_ok("mkdir -p /tmp/vol");
    let tmp = h.dir().join("tmp/vol");
    // The host image's root is read-only: a mount point must exist in it.
    let tmpvol = format!("{}:/mnt", tmp.display());
    ok(
        &h,
        &[
            "run",
            "--rm",
            "-v",
            &tmpvol,
            "host",
            "sh",
            "-c",
            "echo hi > /mnt/f",
        ],
    );
    assert_eq!(std::fs::read_to_string(tmp.join("f")).unwrap(), "hi\n");
    assert_clean(&h, &[]);
}

/// Containers' mount namespaces are copied from the engine's mount template, made by the first start: the
/// host's mounts made or removed later reach host-image roots and volumes, and image roots (mounted at each
/// start) reach the runtime.
#[test]
fn the_mount_template_follows_the_hosts_mounts() {
    let Some(h) = host() else { return };
    import_busybox(&h, "tpl", "");
    let first = ok(&h, &["run", "-d", "host", "sleep", "600"]);
    let template = "/run/minotaur/mnt/template";
    let mnt = h.sh_ok(&format!("findmnt -n -o FSTYPE,SOURCE {template}"));
    assert!(mnt.starts_with("nsfs") && mnt.contains("mnt:["), "{mnt}");
    // (Not below /tmp: the host image gets a tmpfs there.)
    let late = h.dir().join("late").display().to_string();
    h.sh_ok(&format!(
        "mkdir -p {late} && mount -t tmpfs tmpfs {late} && echo late > {late}/file"
    ));
    let seen = ok(&h, &["run", "--rm", "host", "cat", &format!("{late}/file")]);
    assert_eq!(seen, "late");
    let seen = ok(
        &h,
        &[
            "run",
            "--rm",
            "-v",
            &format!("{late}:/mnt:ro"),
            "host",
            "cat",
            "/mnt/file",
        ],
    );
    assert_eq!(seen, "late");
    assert_eq!(
        ok(&h, &["run", "--rm", "tpl", "cat", "/etc/passwd"]),
        "root:x:0:0:root:/root:/bin/sh"
    );
    // The runtime is given the template.
    let o = h
        .minotaur()
        .env("MINOTAUR_LOG_LEVEL", "debug")
        .args(["run", "--rm", "host", "true"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(
        log.contains(&format!("mounts copied from {template}")),
        "{log}"
    );
    let in_new = |script: &str| ok(&h, &["run", "--rm", "host", "sh", "-c", script]);
    h.sh_ok(&format!("umount {late}"));
    let gone = in_new(&format!("test -e {late}/file && echo there || echo gone"));
    assert_eq!(gone, "gone");
    ok(&h, &["rm", "-f", first.trim()]);
    ok(&h, &["rmi", "tpl"]);
    assert_clean(&h, &[first.trim().to_owned()]);
}

/// On a host whose root mount is private no template is made: containers copy the engine's namespace.
#[test]
fn without_a_shared_root_there_is_no_mount_template() {
    let Some(h) = host() else { return };
    h.sh_ok("mount --make-rprivate /");
    let o = h
        .minotaur()
        .env("MINOTAUR_LOG_LEVEL", "debug")
        .args(["run", "--rm", "host", "echo", "ran"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n");
    assert!(
        log.contains("mounts copied from the engine's namespace"),
        "{log}"
    );
    h.sh_ok("! mountpoint -q /run/minotaur/mnt/template");
    assert_clean(&h, &[]);
}

/// A host whose `/proc` has a second proc mounted over the first (as `unshare --mount-proc` leaves one):
/// a container's own `/proc` used to replace only the top one, and a container allowed to unmount it found
/// the host's processes in the one below. Checked without a mount template (private root), then with the
/// template's ready root (shared root), whose `/proc`, `/dev`, `/sys` and `/run` are left empty.
#[test]
fn stacked_host_procs_are_not_found_under_a_containers_proc() {
    let Some(h) = host() else { return };
    h.sh_ok("mount -t proc proc /proc && mount --make-rprivate /");
    assert!(
        h.sh_ok("grep -c ' /proc proc ' /proc/self/mounts")
            .trim()
            .parse::<u32>()
            .unwrap()
            >= 2
    );
    let below =
        |h: &TestHost| {
            let o = h
            .minotaur()
            .env("MINOTAUR_LOG_LEVEL", "debug")
            .args([
                "run", "--rm", "--privileged", "--network", "none", "host", "sh", "-c",
                "for d in /run /dev /sys /proc; do umount -l $d; done; ls -A /proc /sys | wc -l",
            ])
            .output()
            .unwrap();
            let log = String::from_utf8_lossy(&o.stderr).into_owned();
            assert!(o.status.success(), "{log}");
            (String::from_utf8_lossy(&o.stdout).trim().to_owned(), log)
        };
    let (entries, log) = below(&h);
    assert!(
        log.contains("mounts copied from the engine's namespace"),
        "{log}"
    );
    // `ls` of two empty directories prints their two headers and a blank line between them.
    assert_eq!(entries, "3", "what is under the container's /proc and /sys");
    h.sh_ok("mount --make-rshared /");
    let (entries, log) = below(&h);
    assert!(
        log.contains("mounts copied from /run/minotaur/mnt/template"),
        "{log}"
    );
    assert_eq!(entries, "3", "what is under the container's /proc and /sys");
    assert_clean(&h, &[]);
}

#[test]
fn mount_points_through_an_images_symlinks_stay_in_its_root() {
    let Some(h) = host() else { return };
    // /mnt in the image is an absolute symlink to a directory of the box: resolved on the host, the mount
    // points below it would be made there.
    let outside = h.dir().join("outside");
    std::fs::create_dir(&outside).unwrap();
    common::import_busybox(&h, "evil:1", &format!("ln -s {} $r/mnt", outside.display()));
    h.sh_ok("mkdir -p /tmp/src && echo from-the-bind > /tmp/src/file");
    let src = h.dir().join("tmp/src");
    let vol = format!("{}:/mnt/evil", src.display());
    // Inside, the symlink resolves in the container's root, where the mounts are.
    assert_eq!(
        ok(
            &h,
            &["run", "--rm", "-v", &vol, "evil:1", "cat", "/mnt/evil/file"]
        ),
        "from-the-bind"
    );
    ok(
        &h,
        &["run", "--rm", "--tmpfs", "/mnt/evil2", "evil:1", "true"],
    );
    let made: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        made.is_empty(),
        "mount points made outside the root: {made:?}"
    );
    assert_clean(&h, &[]);
}
