//! The runc and crun CVE history as tests: each test is named after the attack it pins, plays it from a
//! hostile image (a rootfs made here and loaded with `minotaur import`) or from inside a container, and
//! checks that it fails. Races run a bounded number of attempts.

mod common;

use common::{host, import_busybox, inspect, ok, wait_status, wait_until_ok};
use minotaur_testhost::TestHost;

/// A busybox image with the applets these tests use.
fn hostile(h: &TestHost, name: &str, extra: &str) {
    let applets = "for c in grep readlink stat tail test touch; do ln -s busybox $r/bin/$c; done";
    import_busybox(h, name, &format!("{applets}\n{extra}"));
}

/// The capability sets of a process as `/proc/PID/status` shows them, one `Name:\tHEX` per line.
fn cap_sets(h: &TestHost, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["grep", "^Cap[IPEA][nrfm][hmfb]:", "/proc/self/status"]);
    ok(h, &all)
}

const NO_CAPS: &str = "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapAmb:\t0000000000000000";

/// CVE-2022-24769: a process started as a user other than root must hold no capability, in any set, also
/// before its execve and in an init that stays as PID 1.
#[test]
fn cve_2022_24769_a_non_root_user_holds_no_capabilities() {
    let Some(h) = host() else { return };
    hostile(&h, "caps", "");
    assert_eq!(
        cap_sets(&h, &["run", "--rm", "-u", "1000", "caps"]),
        NO_CAPS
    );
    ok(
        &h,
        &[
            "run", "-d", "--name", "c", "-u", "1000", "caps", "sleep", "1000",
        ],
    );
    assert_eq!(cap_sets(&h, &["exec", "c"]), NO_CAPS);
    // PID 1 (the runtime's init, which stays to reap) runs as the user too, without capabilities.
    assert_eq!(
        ok(&h, &["exec", "c", "grep", "^CapPrm:", "/proc/1/status"]),
        "CapPrm:\t0000000000000000"
    );
    ok(&h, &["run", "-d", "--name", "r", "caps", "sleep", "1000"]);
    assert_eq!(cap_sets(&h, &["exec", "-u", "1000", "r"]), NO_CAPS);
    assert_eq!(cap_sets(&h, &["exec", "-u", "1000:1000", "r"]), NO_CAPS);
}

/// CVE-2022-29162: `exec` must not hand the container's capabilities down as inheritable (or ambient) ones,
/// so that a file with inheritable file capabilities gains nothing it would not have had from root.
#[test]
fn cve_2022_29162_exec_has_no_inheritable_capabilities() {
    let Some(h) = host() else { return };
    hostile(&h, "inh", "");
    ok(&h, &["run", "-d", "--name", "c", "inh", "sleep", "1000"]);
    let sets = cap_sets(&h, &["exec", "c"]);
    assert!(
        sets.contains("CapInh:\t0000000000000000\n") && sets.contains("CapAmb:\t0000000000000000"),
        "{sets}"
    );
    assert!(sets.contains("CapEff:\t00000000a80425fb"), "{sets}");
    let sets = cap_sets(&h, &["run", "--rm", "--cap-add", "ALL", "inh"]);
    assert!(
        sets.contains("CapInh:\t0000000000000000\n") && sets.contains("CapAmb:\t0000000000000000"),
        "{sets}"
    );
}

/// CVE-2019-5736: a container process opens the runtime's binary through `/proc/PID/exe` of a runtime
/// process that has joined its PID namespace (the init that stays as PID 1, an `exec` before its execve),
/// to overwrite it on the host. No container process can open it for writing (while any process runs the
/// binary, the kernel refuses with ETXTBSY, and the container's supervisor runs it as long as the container
/// lives); the binary stays as it was.
#[test]
fn cve_2019_5736_proc_self_exe_is_not_writable() {
    let Some(h) = host() else { return };
    let bin = env!("CARGO_BIN_EXE_minotaur");
    let before = std::fs::read(bin).expect("read the binary");
    hostile(&h, "exe", "");
    // The attacker: every PID it sees, again and again, until told to stop. Opening for append writes nothing
    // (and changes nothing) if it succeeds.
    let attacker = r#"
        while [ ! -e /tmp/stop ]; do
            for p in /proc/[0-9]*; do
                t=$(readlink $p/exe 2>/dev/null)
                if (exec 3>>$p/exe) 2>/dev/null; then echo "writable $p $t" >> /tmp/seen; fi
            done
            echo pass > /tmp/alive
        done
        exec sleep 1000"#;
    ok(
        &h,
        &["run", "-d", "--name", "c", "exe", "sh", "-c", attacker],
    );
    wait_status(&h, "c", "running");
    for _ in 0..30 {
        ok(&h, &["exec", "c", "true"]);
        ok(&h, &["exec", "-d", "c", "sleep", "0"]);
    }
    ok(&h, &["exec", "c", "test", "-e", "/tmp/alive"]);
    ok(&h, &["exec", "c", "touch", "/tmp/stop"]);
    let seen = ok(
        &h,
        &["exec", "c", "sh", "-c", "cat /tmp/seen 2>/dev/null; true"],
    );
    assert_eq!(
        seen, "",
        "a container process could write the runtime's binary"
    );
    // With --init, PID 1 is the runtime's own binary for the container's whole life: it cannot be opened
    // for writing either.
    ok(
        &h,
        &["run", "-d", "--init", "--name", "i", "exe", "sleep", "1000"],
    );
    let out = h.mino(&["exec", "i", "sh", "-c", "exec 3>>/proc/1/exe"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        std::fs::read(bin).expect("read the binary") == before,
        "the binary changed"
    );
}

/// CVE-2024-21626: a descriptor of the runtime left open while it sets the working directory
/// (`-w /proc/self/fd/N`) would put the process in a directory outside the container's root, from which
/// `..` reaches the host's. Each N either fails or leaves the process inside its root.
#[test]
fn cve_2024_21626_working_directory_cannot_be_a_leaked_descriptor() {
    let Some(h) = host() else { return };
    hostile(&h, "cwd", "");
    let secret = format!("secret-{}", std::process::id());
    let marker = h.dir().join("cve-2024-21626");
    std::fs::write(&marker, &secret).unwrap();
    let up = "../".repeat(40);
    let probe = format!("cat {up}{} 2>/dev/null; pwd", marker.display());
    ok(&h, &["run", "-d", "--name", "c", "cwd", "sleep", "1000"]);
    for n in 3..=20 {
        let dir = format!("/proc/self/fd/{n}");
        for args in [
            vec!["run", "--rm", "-w", &dir, "cwd", "sh", "-c", &probe],
            vec!["exec", "-w", &dir, "c", "sh", "-c", &probe],
        ] {
            let out = h.mino(&args);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                !stdout.contains(&secret),
                "{args:?} read a host file: {out:?}"
            );
        }
    }
}

/// CVE-2025-31133, CVE-2025-52565: a hostile image ships `/dev/null` and `/dev/console` as symbolic links to
/// `/proc/sys/kernel/core_pattern` and `/proc/sysrq-trigger`, hoping that the masks (a bind of /dev/null)
/// and the console's bind follow them and leave those files writable. The container's `/dev` is a tmpfs of
/// the runtime's own, the masks bind the real null device, and the host's files stay read-only.
#[test]
fn cve_2025_31133_masked_paths_and_console_ignore_hostile_dev_symlinks() {
    let Some(h) = host() else { return };
    hostile(
        &h,
        "devlinks",
        "mkdir -p $r/dev/pts $r/proc
         ln -s /proc/sys/kernel/core_pattern $r/dev/null
         ln -s /proc/sysrq-trigger $r/dev/console
         ln -s /proc/sys/kernel/core_pattern $r/dev/ptmx
         ln -s /proc/sys/kernel/core_pattern $r/dev/pts/ptmx",
    );
    let core_pattern = std::fs::read("/proc/sys/kernel/core_pattern").unwrap();
    ok(
        &h,
        &[
            "run", "-d", "-t", "--name", "c", "devlinks", "sleep", "1000",
        ],
    );
    wait_status(&h, "c", "running");
    // /dev/null is the null device (1:3), the console a pseudo-terminal (major 136), masked files the null
    // device too.
    assert_eq!(
        ok(&h, &["exec", "c", "stat", "-c", "%F %t:%T", "/dev/null"]),
        "character special file 1:3"
    );
    assert_eq!(
        ok(
            &h,
            &["exec", "c", "stat", "-L", "-c", "%F %t", "/dev/console"]
        ),
        "character special file 88"
    );
    for masked in ["/proc/timer_list", "/proc/keys"] {
        let out = ok(
            &h,
            &[
                "exec",
                "c",
                "sh",
                "-c",
                &format!("[ ! -e {masked} ] || stat -c '%t:%T' {masked}"),
            ],
        );
        assert!(out.is_empty() || out == "1:3", "{masked}: {out}");
    }
    // Opening for append writes nothing even where it succeeds: the host's files are safe either way.
    for target in ["/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger"] {
        let out = h.mino(&["exec", "c", "sh", "-c", &format!("exec 3>>{target}")]);
        assert!(!out.status.success(), "{target} opens for writing");
    }
    assert_eq!(
        std::fs::read("/proc/sys/kernel/core_pattern").unwrap(),
        core_pattern
    );
}

/// `--memory`: a process that outgrows it is killed by the kernel's OOM killer, and `inspect` says so.
#[test]
fn memory_limit_oom_is_recorded_as_oomkilled() {
    let Some(h) = host() else { return };
    hostile(&h, "oom", "");
    // `tail` of /dev/zero keeps the whole endless "line" in memory.
    let out = h.mino(&[
        "run",
        "--name",
        "big",
        "--memory",
        "32m",
        "--memory-swap",
        "32m",
        "oom",
        "tail",
        "/dev/zero",
    ]);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    assert_eq!(inspect(&h, "big", "{{.State.OOMKilled}}"), "true");
    ok(
        &h,
        &["run", "--name", "small", "--memory", "32m", "oom", "true"],
    );
    assert_eq!(inspect(&h, "small", "{{.State.OOMKilled}}"), "false");
}

/// A fork bomb under `--pids-limit` stops at the limit; the container is still removed cleanly.
#[test]
fn fork_bomb_stops_at_the_pids_limit() {
    let Some(h) = host() else { return };
    hostile(&h, "bomb", "");
    let id = ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "bomb",
            "--pids-limit",
            "32",
            "bomb",
            "sh",
            "-c",
            "b() { b | b & }; b; sleep 1000",
        ],
    );
    let events = common::cgroup_dirs(&h, &id)
        .into_iter()
        .map(|d| format!("{d}/pids.events"))
        .find(|f| std::path::Path::new(f).exists())
        .expect("the container's pids cgroup");
    // The kernel counts the forks it refused at the limit.
    wait_until_ok(&h, &format!("grep -q '^max [1-9]' {events}"));
    let current = std::fs::read_to_string(events.replace("pids.events", "pids.current")).unwrap();
    assert!(current.trim().parse::<u32>().unwrap() <= 32, "{current}");
    ok(&h, &["rm", "-f", "bomb"]);
    common::assert_clean(&h, &[id]);
}

/// Log flooding: a container that writes without end costs at most `--log-opt max-size` times `max-file`
/// of disk (plus one record), and a bad option is refused before anything is made.
#[test]
fn log_flooding_is_bounded_by_the_json_file_limits() {
    let Some(h) = host() else { return };
    hostile(
        &h,
        "flood",
        "ln -s busybox $r/bin/yes; ln -s busybox $r/bin/head",
    );
    let id = ok(
        &h,
        &[
            "run",
            "-d",
            "--log-opt",
            "max-size=64k",
            "--log-opt",
            "max-file=2",
            "flood",
            "sh",
            "-c",
            "yes 0123456789abcdef0123456789abcdef | head -n 120000",
        ],
    );
    ok(&h, &["wait", &id]);
    let dir = h.dir().join("state/containers").join(&id);
    let logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("container.log"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert!(logs.len() <= 2, "{} log files", logs.len());
    let total: u64 = logs.iter().sum();
    assert!(total <= 2 * 64 * 1024 + 16 * 1024, "{total} bytes of logs");
    // The latest lines are kept.
    let tail = ok(&h, &["logs", "--tail", "1", &id]);
    assert_eq!(tail, "0123456789abcdef0123456789abcdef");
    assert_eq!(
        inspect(&h, &id, "{{json .HostConfig.LogConfig.Config}}"),
        r#"{"max-file":"2","max-size":"64k"}"#
    );
    for bad in ["max-size=0", "max-file=0", "compress=true"] {
        let err = common::fails(&h, &["create", "--log-opt", bad, "flood", "true"], 125);
        assert!(err.contains("--log-opt"), "{err}");
    }
}

/// CVE-2021-30465: a running container swaps a directory of a volume it shares for a symbolic link while
/// another container starts with a mount point below that directory, hoping that the runtime checks the
/// path and then makes or mounts on it through the link, outside the new container's root. Bounded
/// attempts; nothing may appear outside the root.
#[test]
fn cve_2021_30465_mount_points_in_a_shared_volume_do_not_follow_swapped_links() {
    let Some(h) = host() else { return };
    hostile(
        &h,
        "swap",
        "ln -s busybox $r/bin/mkdir; ln -s busybox $r/bin/rm; ln -s busybox $r/bin/ln",
    );
    let escape = h.dir().join("cve-2021-30465");
    std::fs::create_dir_all(&escape).unwrap();
    let attacker = format!(
        "while [ ! -e /vol/stop ]; do rm -rf /vol/x; mkdir /vol/x; rm -rf /vol/x; ln -s {} /vol/x; done",
        escape.display()
    );
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "a",
            "-v",
            "shared:/vol",
            "swap",
            "sh",
            "-c",
            &attacker,
        ],
    );
    let start = std::time::Instant::now();
    let mut runs = 0;
    while runs < 40 && start.elapsed() < std::time::Duration::from_secs(15) {
        // It may start (x was a directory) or fail (x was a link); it may never reach outside.
        let _ = h.mino(&[
            "run",
            "--rm",
            "-v",
            "shared:/data",
            "--tmpfs",
            "/data/x/sub",
            "swap",
            "true",
        ]);
        runs += 1;
        let left: Vec<_> = std::fs::read_dir(&escape)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            left.is_empty(),
            "made outside the root after {runs} runs: {left:?}"
        );
    }
    ok(&h, &["exec", "a", "touch", "/vol/stop"]);
    wait_status(&h, "a", "exited");
}
