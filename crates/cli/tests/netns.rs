//! `minotaur netns` against iproute2's `ip netns`, in a throwaway box: each tool sees, enters and deletes what
//! the other made; `exec` binds /etc/netns files and escapes the 127.0.0.53 stub trap; bad input changes
//! nothing.

use std::process::Output;

use minotaur_testhost::{wait_until, TestHost, WORLD_DNS, WORLD_HTTP, WORLD_NAME, WORLD_PAGE};

const MINO: &str = env!("CARGO_BIN_EXE_minotaur");

fn host() -> Option<TestHost> {
    TestHost::new(MINO)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "minotaur failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

/// Asserts a failure with exit status `code` and one line of stderr that mentions each of `needles`.
fn fails(out: Output, code: i32, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "expected one line, got: {err}");
    assert!(err.starts_with("minotaur: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{err:?} does not mention {n:?}");
    }
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
    v.sort();
    v
}

/// Starts `cmd` in the background inside the box and returns its PID there (it dies with the box).
/// Starts `cmd` (a wrapper such as `ip netns exec` or `unshare -n` around a long-lived program) in the
/// background and returns its PID once the process is in another network namespace than the box's: reading
/// its namespace any earlier raced with the wrapper.
fn background(h: &TestHost, cmd: &str) -> String {
    let pid = h
        .sh_ok(&format!("{cmd} >/dev/null 2>&1 & echo $!"))
        .trim()
        .to_owned();
    let moved =
        format!("[ \"$(readlink /proc/{pid}/ns/net)\" != \"$(readlink /proc/self/ns/net)\" ]");
    wait_until("the background command to enter its namespace", || {
        Ok(h.sh(&moved).status.success())
    })
    .unwrap();
    pid
}

#[test]
fn add_and_list_interoperate_with_ip_netns() {
    let Some(h) = host() else { return };
    ok(h.mino(&["netns", "add", "a"]));
    assert_eq!(h.sh_ok("ip netns list"), "a\n");
    // A fresh namespace: only a loopback device, down.
    let links = h.sh_ok("ip netns exec a ip -o link");
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains(": lo:"), "{links}");
    // Made the way ip makes it: /run/netns a shared mount point, the name an nsfs bind.
    assert_eq!(
        h.sh_ok("findmnt -no PROPAGATION /run/netns").trim(),
        "shared"
    );
    assert_eq!(h.sh_ok("findmnt -no FSTYPE /run/netns/a").trim(), "nsfs");
    assert_eq!(h.sh_ok("stat -c %a /run/netns"), "755\n");
    // And the CLI's own namespace did not change: a is not the box's.
    let box_ns = h.sh_ok("readlink /proc/self/ns/net");
    let a_ns = h.sh_ok("ip netns exec a readlink /proc/self/ns/net");
    assert_ne!(box_ns, a_ns);

    h.sh_ok("ip netns add b");
    let mine = ok(h.mino(&["netns", "list"]));
    assert_eq!(mine, h.sh_ok("ip netns list"));
    assert_eq!(sorted_lines(&mine), ["a", "b"]);
    // No subcommand lists, like `ip netns`.
    assert_eq!(ok(h.mino(&["netns"])), mine);
    // Both tools enter the same namespace for the same name.
    for name in ["a", "b"] {
        assert_eq!(
            ok(h.mino(&["netns", "exec", name, "readlink", "/proc/self/ns/net"])),
            h.sh_ok(&format!("ip netns exec {name} readlink /proc/self/ns/net"))
        );
    }
    let links = ok(h.mino(&["netns", "exec", "b", "ip", "-o", "link"]));
    assert_eq!(links.lines().count(), 1, "{links}");
}

#[test]
fn list_prints_nsids_like_ip() {
    let Some(h) = host() else { return };
    ok(h.mino(&["netns", "add", "peer"]));
    ok(h.mino(&["netns", "add", "lonely"]));
    // A veth peer in "peer" makes the kernel assign it an nsid as the box sees it.
    h.sh_ok("ip link add v0 type veth peer name v1 netns peer");
    let mine = ok(h.mino(&["netns", "list"]));
    assert_eq!(mine, h.sh_ok("ip netns list"));
    assert!(mine.contains("peer (id: "), "{mine}");
    assert!(mine.lines().any(|l| l == "lonely"), "{mine}");
}

#[test]
fn delete_removes_names_made_by_either_tool() {
    let Some(h) = host() else { return };
    ok(h.mino(&["netns", "add", "m"]));
    h.sh_ok("ip netns delete m");
    h.sh_ok("ip netns add i");
    ok(h.mino(&["netns", "delete", "i"]));
    assert_eq!(h.sh_ok("ls -A /run/netns"), "");
    assert!(!h.sh_ok("cat /proc/self/mountinfo").contains("/run/netns/"));

    ok(h.mino(&["netns", "add", "x"]));
    h.sh_ok("ip netns add y");
    ok(h.mino(&["netns", "delete", "--all"]));
    assert_eq!(h.sh_ok("ip netns list"), "");
    assert!(!h.sh_ok("cat /proc/self/mountinfo").contains("/run/netns/"));
}

#[test]
fn identify_pids_and_attach_agree_with_ip() {
    let Some(h) = host() else { return };
    ok(h.mino(&["netns", "add", "a"]));
    let pid = background(&h, "ip netns exec a sleep 600");
    assert_eq!(ok(h.mino(&["netns", "identify", &pid])), "a\n");
    assert_eq!(h.sh_ok(&format!("ip netns identify {pid}")), "a\n");
    let pids = ok(h.mino(&["netns", "pids", "a"]));
    assert_eq!(pids, h.sh_ok("ip netns pids a"));
    assert_eq!(pids, format!("{pid}\n"));
    // The caller's own namespace has no name.
    assert_eq!(ok(h.mino(&["netns", "identify"])), "");
    assert_eq!(
        ok(h.mino(&["netns", "exec", "a", MINO, "netns", "identify"])),
        "a\n"
    );

    // attach names a process's namespace; ip sees the name, and the reverse.
    let p = background(&h, "unshare -n sleep 600");
    wait_until("unshare to enter its namespace", || {
        Ok(h.sh_ok(&format!("readlink /proc/{p}/ns/net")) != h.sh_ok("readlink /proc/self/ns/net"))
    })
    .unwrap();
    ok(h.mino(&["netns", "attach", "c", &p]));
    assert_eq!(h.sh_ok(&format!("ip netns identify {p}")), "c\n");
    assert_eq!(
        h.sh_ok("ip netns exec c readlink /proc/self/ns/net"),
        h.sh_ok(&format!("readlink /proc/{p}/ns/net"))
    );
    let q = background(&h, "unshare -n sleep 600");
    wait_until("unshare to enter its namespace", || {
        Ok(h.sh_ok(&format!("readlink /proc/{q}/ns/net")) != h.sh_ok("readlink /proc/self/ns/net"))
    })
    .unwrap();
    h.sh_ok(&format!("ip netns attach d {q}"));
    assert_eq!(ok(h.mino(&["netns", "identify", &q])), "d\n");
    assert_eq!(ok(h.mino(&["netns", "pids", "d"])), format!("{q}\n"));
    h.sh_ok(&format!("kill {pid} {p} {q}"));
}

#[test]
fn exec_binds_etc_netns_files_and_a_fresh_sys() {
    let Some(h) = host() else { return };
    ok(h.mino(&["netns", "add", "a"]));
    h.sh_ok(
        "mkdir -p /etc/netns/a && echo '192.0.2.7 special.test' > /etc/netns/a/hosts \
         && echo a-only > /etc/netns/a/minotaur-marker && touch /etc/minotaur-marker",
    );
    let mine = ok(h.mino(&["netns", "exec", "a", "getent", "hosts", "special.test"]));
    assert_eq!(mine.split_whitespace().next(), Some("192.0.2.7"), "{mine}");
    assert_eq!(mine, h.sh_ok("ip netns exec a getent hosts special.test"));
    assert_eq!(
        ok(h.mino(&["netns", "exec", "a", "cat", "/etc/minotaur-marker"])),
        "a-only\n"
    );
    // Nothing leaks back to the caller's mount namespace.
    assert_eq!(h.sh_ok("cat /etc/minotaur-marker"), "");
    assert!(h.sh("getent hosts special.test").status.code() != Some(0));
    // /sys describes the namespace: only its loopback device.
    assert_eq!(
        ok(h.mino(&["netns", "exec", "a", "ls", "/sys/class/net"])),
        "lo\n"
    );
    assert_eq!(h.sh_ok("ip netns exec a ls /sys/class/net"), "lo\n");
    assert_ne!(h.sh_ok("ls /sys/class/net"), "lo\n");
}

/// Connects netns `name` to the box: box 198.19.N.1/24, netns 198.19.N.2/24, default route via the box.
fn wire(h: &TestHost, name: &str, n: u8) {
    h.sh_ok(&format!(
        "ip link add h{name} type veth peer name eth0 netns {name}
         ip addr add 198.19.{n}.1/24 dev h{name}
         ip link set h{name} up
         ip netns exec {name} sh -ec 'ip link set lo up
           ip addr add 198.19.{n}.2/24 dev eth0
           ip link set eth0 up
           ip route add default via 198.19.{n}.1'"
    ));
    // Reachable by address: only names are the trap.
    let page = h.sh_ok(&format!(
        "ip netns exec {name} curl -sS --max-time 5 http://{WORLD_HTTP}/"
    ));
    assert_eq!(page, WORLD_PAGE);
}

#[test]
fn exec_resolves_names_where_ip_netns_exec_hits_the_stub_trap() {
    let Some(h) = host() else { return };
    ok(h.mino(&["netns", "add", "n"]));
    wire(&h, "n", 1);
    // The trap: /etc/resolv.conf names 127.0.0.53, which is the namespace's own loopback, where nothing
    // listens (the box's stub does listen there, in the box's namespace).
    let trap = h.sh(&format!(
        "RES_OPTIONS='timeout:1 attempts:1' ip netns exec n getent hosts {WORLD_NAME}"
    ));
    assert_eq!(trap.status.code(), Some(2), "ip netns exec resolved it?");

    let out = h
        .minotaur()
        .args([
            "--log-level",
            "info",
            "netns",
            "exec",
            "n",
            "getent",
            "hosts",
            WORLD_NAME,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let got = ok(out.clone());
    assert_eq!(
        got.split_whitespace().collect::<Vec<_>>(),
        [WORLD_HTTP, WORLD_NAME],
        "{got}"
    );
    assert!(
        err.contains("127.0.0.53") && err.contains(WORLD_DNS),
        "no info line about the fix: {err}"
    );
    let page = ok(h.mino(&[
        "netns",
        "exec",
        "n",
        "curl",
        "-sS",
        "--max-time",
        "5",
        &format!("http://{WORLD_NAME}/"),
    ]));
    assert_eq!(page, WORLD_PAGE);
    // The replacement keeps the options and search lines, and exists only for the command.
    let conf = ok(h.mino(&["netns", "exec", "n", "cat", "/etc/resolv.conf"]));
    let body: Vec<&str> = conf.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        body,
        [
            &format!("nameserver {WORLD_DNS}") as &str,
            "options edns0 trust-ad",
            "search ."
        ]
    );
    assert_eq!(
        h.sh_ok("head -1 /etc/resolv.conf"),
        "nameserver 127.0.0.53\n"
    );
    assert!(!h.sh_ok("cat /proc/self/mountinfo").contains("resolv.conf"));
}

#[test]
fn exec_leaves_a_stub_that_is_served_inside_the_namespace_alone() {
    let Some(h) = host() else { return };
    ok(h.mino(&["netns", "add", "s"]));
    h.sh_ok("ip netns exec s ip link set lo up");
    let pid = background(
        &h,
        "ip netns exec s dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
         --pid-file --user=root --listen-address=127.0.0.53 --address=/stub.test/192.0.2.9",
    );
    wait_until("the namespace's own stub", || {
        Ok(h.sh_ok("ip netns exec s cat /proc/net/udp")
            .contains(":0035 00000000:0000 07"))
    })
    .unwrap();
    assert_eq!(
        ok(h.mino(&["netns", "exec", "s", "cat", "/etc/resolv.conf"])),
        h.sh_ok("cat /etc/resolv.conf")
    );
    let got = ok(h.mino(&["netns", "exec", "s", "getent", "hosts", "stub.test"]));
    assert_eq!(got.split_whitespace().next(), Some("192.0.2.9"));
    h.sh_ok(&format!("kill {pid}"));
}

#[test]
fn exec_without_upstream_keeps_the_stub_and_warns() {
    let Some(h) = host() else { return };
    ok(h.mino(&["netns", "add", "w"]));
    h.sh_ok("rm /run/systemd/resolve/resolv.conf");
    let out = h.mino(&["netns", "exec", "w", "cat", "/etc/resolv.conf"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(ok(out), h.sh_ok("cat /etc/resolv.conf"));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("minotaur: warn: ") && err.contains("127.0.0.53"),
        "{err}"
    );
}

#[test]
fn bad_input_names_the_problem_and_changes_nothing() {
    let Some(h) = host() else { return };
    // Missing privilege (no capabilities at all): nothing is made, not even /run/netns.
    fails(
        h.command("setpriv")
            .args([
                "--bounding-set=-all",
                "--inh-caps=-all",
                MINO,
                "netns",
                "add",
                "p",
            ])
            .output()
            .unwrap(),
        1,
        &["/run/netns"],
    );
    assert!(!h.sh("test -e /run/netns").status.success());

    ok(h.mino(&["netns", "add", "a"]));
    let before = h.sh_ok("ls -l /run/netns; cat /proc/self/mountinfo | grep -c netns");
    let ns = h.sh_ok("ip netns exec a readlink /proc/self/ns/net");
    fails(
        h.mino(&["netns", "add", "a"]),
        1,
        &["\"a\"", "already exists"],
    );
    fails(
        h.mino(&["netns", "attach", "a", "1"]),
        1,
        &["\"a\"", "already exists"],
    );
    assert_eq!(h.sh_ok("ip netns exec a readlink /proc/self/ns/net"), ns);

    for args in [
        &["netns", "exec", "nope", "true"][..],
        &["netns", "delete", "nope"],
        &["netns", "pids", "nope"],
    ] {
        fails(h.mino(args), 1, &["\"nope\"", "not found"]);
    }
    fails(h.mino(&["netns", "identify", "999999"]), 1, &["999999"]);
    fails(h.mino(&["netns", "identify", "abc"]), 1, &["\"abc\""]);
    fails(h.mino(&["netns", "attach", "b", "999999"]), 1, &["999999"]);
    fails(h.mino(&["netns", "attach", "b", "-3"]), 1, &["\"-3\""]);
    for bad in ["x/y", "..", ".", ""] {
        fails(
            h.mino(&["netns", "add", bad]),
            1,
            &["invalid network namespace name"],
        );
        fails(
            h.mino(&["netns", "exec", bad, "true"]),
            1,
            &["invalid network namespace name"],
        );
    }
    assert_eq!(
        h.sh_ok("ls -l /run/netns; cat /proc/self/mountinfo | grep -c netns"),
        before
    );

    // A file in /run/netns that is not a namespace.
    h.sh_ok("touch /run/netns/stray");
    for args in [
        &["netns", "exec", "stray", "true"][..],
        &["netns", "pids", "stray"],
    ] {
        fails(
            h.mino(args),
            1,
            &["/run/netns/stray", "not a network namespace"],
        );
    }

    // The command cannot be run: util-linux's 127 (not found) and 126 (not executable).
    fails(
        h.mino(&["netns", "exec", "a", "/nonexistent"]),
        127,
        &["/nonexistent"],
    );
    h.sh_ok("printf 'echo hi\\n' > /tmp/noexec && chmod 644 /tmp/noexec");
    fails(
        h.mino(&["netns", "exec", "a", "/tmp/noexec"]),
        126,
        &["/tmp/noexec"],
    );
    // And a command's own exit status is passed on.
    assert_eq!(
        h.mino(&["netns", "exec", "a", "sh", "-c", "exit 7"])
            .status
            .code(),
        Some(7)
    );
}

/// Debian bug 949235: parallel adds each found /run/netns not a mount point and stacked binds on it.
#[test]
fn debian_949235_parallel_adds_make_one_run_netns_mount() {
    let Some(h) = host() else { return };
    h.sh_ok(&format!(
        "for i in 1 2 3 4 5 6 7 8; do {MINO} netns add p$i & done; ip netns add q & wait"
    ));
    let mounts = h.sh_ok("awk '$5 == \"/run/netns\"' /proc/self/mountinfo");
    assert_eq!(mounts.lines().count(), 1, "{mounts}");
    assert_eq!(sorted_lines(&ok(h.mino(&["netns", "list"]))).len(), 9);
}

#[test]
fn exec_fixes_a_stub_reached_through_a_symlinked_resolv_conf() {
    let Some(h) = host() else { return };
    // Ubuntu's layout: /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf.
    h.sh_ok(
        "cp /etc/resolv.conf /run/systemd/resolve/stub-resolv.conf \
         && ln -sf /run/systemd/resolve/stub-resolv.conf /etc/resolv.conf",
    );
    ok(h.mino(&["netns", "add", "u"]));
    wire(&h, "u", 2);
    let got = ok(h.mino(&["netns", "exec", "u", "getent", "hosts", WORLD_NAME]));
    assert_eq!(got.split_whitespace().next(), Some(WORLD_HTTP), "{got}");
    assert_eq!(
        h.sh_ok("head -1 /run/systemd/resolve/stub-resolv.conf"),
        "nameserver 127.0.0.53\n"
    );
}
