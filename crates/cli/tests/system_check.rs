//! `system check` in a box: the pieces a crash leaves (made here by hand, or by killing a container's
//! supervisor and PID 1) are each reported with their owner, `--repair` fixes them so that a second check
//! finds nothing, and what is not minotaur's (an `ip netns` name made by iproute2, another engine's bridge)
//! is neither reported nor touched.

mod common;

use common::{host, inspect, ok, status};
use minotaur_testhost::wait_until;

const GHOST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// `system check --repair` succeeds, and a `system check` after it finds nothing.
fn repair(h: &minotaur_testhost::TestHost) {
    let repaired = h.mino(&["system", "check", "--repair"]);
    assert_eq!(
        repaired.status.code(),
        Some(0),
        "{}",
        common::show(&repaired)
    );
    assert_eq!(ok(h, &["system", "check"]), "");
}

#[test]
fn system_check_finds_what_a_crash_leaves_and_repair_fixes_it() {
    let Some(h) = host() else { return };
    let state = h.dir().join("state");
    let state = state.display();
    // The unified hierarchy, or the first v1 hierarchy the runtime uses.
    let hierarchy = h.sh_ok(
        "if [ \"$(stat -f -c %T /sys/fs/cgroup)\" = cgroup2fs ]; then echo /sys/fs/cgroup; else echo /sys/fs/cgroup/memory; fi",
    );
    let cgroups = format!("{}/{}", hierarchy.trim(), h.cgroup_parent());

    // A clean engine with containers has nothing to report.
    ok(&h, &["run", "-d", "--name", "web", "host", "sleep", "1000"]);
    ok(
        &h,
        &["run", "-d", "--name", "doomed", "host", "sleep", "1000"],
    );
    assert_eq!(ok(&h, &["system", "check"]), "");

    // Not minotaur's: an iproute2 name and another engine's bridge.
    h.sh_ok("ip netns add theirs && ip link add br-0123456789ab type bridge");

    // What a crash leaves.
    h.sh_ok(&format!(
        "set -e
         ip link add mt{short}0 type veth peer name xpeer0
         ip link add mt-{short12} type bridge
         touch /run/minotaur/netns/{GHOST}
         mount --bind /proc/self/ns/net /run/minotaur/netns/{GHOST}
         ln -s /run/minotaur/netns/{GHOST} /run/netns/ghost
         mkdir -p /run/minotaur/ipnetns && ln -s /run/minotaur/containers/{GHOST}/netns-etc /run/minotaur/ipnetns/ghost
         mkdir -p /run/minotaur/dns/records {state}/containers/{GHOST} /run/minotaur/containers/{GHOST}
         mkdir -p /run/minotaur/containers/{GHOST}/rootfs
         mount -t tmpfs ghost /run/minotaur/containers/{GHOST}/rootfs
         echo '[]' > /run/minotaur/dns/records/{GHOST}.json
         mkdir -p {cgroups}/{GHOST}
         mkdir -p {state}/image/tmp/partial && echo half > {state}/image/tmp/partial/{GHOST}
         mkdir -p {state}/image/tmp/locks && touch {state}/image/tmp/locks/{GHOST} {state}/image/tmp/locks/{GHOST}.pin
         rm /run/netns/web
         cp /run/minotaur/exec/web /run/minotaur/exec/renamed
         echo garbage > /run/minotaur/exec/broken",
        short = &GHOST[..10],
        short12 = &GHOST[..12],
    ));
    let pid = inspect(&h, "doomed", "{{.State.Pid}}");
    let supervisor = h.sh_ok(&format!("ps -o ppid= -p {pid}")).trim().to_owned();
    h.sh_ok(&format!("kill -9 {supervisor} {pid}"));
    let gone = wait_until("the killed container to be gone", || {
        Ok(!h.sh(&format!("kill -0 {pid} 2>/dev/null")).status.success())
    });
    assert!(gone.is_ok());

    let out = h.mino(&["system", "check"]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{report}");
    let ghost = format!("container {}", &GHOST[..12]);
    for expected in [
        format!("{}: orphan veth mt{}0", &ghost[..20], &GHOST[..10]),
        format!("network (no record): orphan bridge mt-{}", &GHOST[..12]),
        format!("{ghost}: orphan network namespace file /run/minotaur/netns/{GHOST}"),
        format!("{ghost}: orphan ip netns name /run/netns/ghost"),
        "container ghost: orphan ip netns alias /run/minotaur/ipnetns/ghost".to_owned(),
        format!("{ghost}: orphan resolver records /run/minotaur/dns/records/{GHOST}.json"),
        format!("{ghost}: orphan cgroup {cgroups}/{GHOST}"),
        format!("{ghost}: orphan directory {state}/containers/{GHOST}"),
        format!("{ghost}: orphan directory /run/minotaur/containers/{GHOST}"),
        format!("{ghost}: orphan mount /run/minotaur/containers/{GHOST}/rootfs (tmpfs)"),
        format!("image store: orphan partial blob sha256:{GHOST}"),
        format!("image store: stale lock file {state}/image/tmp/locks/{GHOST} "),
        format!("image store: stale lock file {state}/image/tmp/locks/{GHOST}.pin "),
        "container web: missing ip netns name /run/netns/web".to_owned(),
        "container doomed: stale state \"running\"".to_owned(),
        "container web: stale exec record /run/minotaur/exec/renamed".to_owned(),
        "exec record (unreadable): stale exec record /run/minotaur/exec/broken".to_owned(),
        "container doomed: stale exec record /run/minotaur/exec/doomed".to_owned(),
    ] {
        assert!(
            report.lines().any(|l| l.starts_with(&expected)),
            "{expected:?} not in:\n{report}"
        );
    }
    for foreign in ["theirs", "br-0123456789ab", "xpeer0"] {
        assert!(!report.contains(foreign), "{foreign} reported:\n{report}");
    }
    assert_eq!(report.lines().count(), 18, "{report}");

    // JSON says the same.
    let json = h.mino(&["system", "check", "--format", "json"]);
    let findings: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON findings");
    assert_eq!(findings.as_array().map(Vec::len), Some(18), "{findings}");

    repair(&h);

    // What was repaired is gone or back; what is not ours is still there.
    h.sh_ok(&format!(
        "set -e
         ! ip link show mt-{short12} 2>/dev/null
         ! ip link show mt{short}0 2>/dev/null
         ! test -e /run/minotaur/netns/{GHOST}
         ! test -e /run/netns/ghost
         ! test -e /run/minotaur/ipnetns/ghost
         ! grep -q ' /run/minotaur/containers/{GHOST}/' /proc/self/mountinfo
         ! test -e {cgroups}/{GHOST}
         ! test -e {state}/image/tmp/partial/{GHOST}
         ! test -e {state}/image/tmp/locks/{GHOST}
         ! test -e {state}/image/tmp/locks/{GHOST}.pin
         ! test -e /run/minotaur/exec/renamed
         ! test -e /run/minotaur/exec/broken
         ! test -e /run/minotaur/exec/doomed
         test -f /run/minotaur/exec/web
         test -L /run/netns/web
         test -L /run/minotaur/ipnetns/web && test -f /etc/netns/web/hosts
         ip netns list | grep -q theirs
         ip link show br-0123456789ab >/dev/null",
        short = &GHOST[..10],
        short12 = &GHOST[..12],
    ));
    assert_eq!(inspect(&h, "doomed", "{{.State.Status}}"), "exited");
    // The ordinary commands work on what was repaired.
    ok(&h, &["rm", "doomed"]);
    ok(&h, &["run", "--rm", "--name", "doomed", "host", "true"]);
    assert_eq!(status(&h, &["system", "check", "--format", "yaml"]), 2);
    h.sh_ok("ip netns delete theirs; ip link del br-0123456789ab");
}

/// minotaur's own table against the store: a bridge element and a published port element that no record
/// owns are orphans, a recorded port the table lacks is missing, and the repair makes the table hold the
/// store's ports again. Another table, even one with the same set names, is neither reported nor touched.
#[test]
fn system_check_compares_minotaurs_table_and_leaves_other_tables_alone() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &[
            "run", "-d", "--name", "web", "-p", "8085:80", "host", "sleep", "1000",
        ],
    );
    assert_eq!(ok(&h, &["system", "check"]), "");
    let address = inspect(
        &h,
        "web",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    h.sh_ok(
        "set -e
         nft add table inet theirs
         nft add set inet theirs bridges '{ type ifname; }'
         nft add element inet theirs bridges '{ \"mt-0123456789ab\" }'
         nft add element inet minotaur bridges '{ \"mt-0123456789ab\" }'
         nft add element inet minotaur ports4 '{ tcp . 9999 : 10.99.0.9 . 80 }'
         nft delete element inet minotaur ports4 '{ tcp . 8085 }'",
    );
    let out = h.mino(&["system", "check"]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{report}");
    let mut lines: Vec<&str> = report.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "container (no record): orphan published port element tcp *:9999 -> 10.99.0.9:80"
                .to_owned(),
            format!("container web: missing published port element tcp *:8085 -> {address}:80"),
            "network (no record): orphan firewall elements of bridge mt-0123456789ab".to_owned(),
        ]
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    repair(&h);
    let ports = h.sh_ok("nft list map inet minotaur ports4");
    assert!(
        ports.contains(&format!("tcp . 8085 : {address} . 80")),
        "{ports}"
    );
    assert!(!ports.contains("9999"), "{ports}");
    assert!(!h
        .sh_ok("nft list set inet minotaur bridges")
        .contains("mt-0123456789ab"));
    assert!(h
        .sh_ok("nft list table inet theirs")
        .contains("mt-0123456789ab"));
    h.sh_ok("nft delete table inet theirs");
    ok(&h, &["rm", "-f", "web"]);
}

#[test]
fn system_check_compares_the_connect4_map_element_by_element() {
    let Some(h) = host() else { return };
    if h.connect_cgroup().is_none() {
        println!("skipped: no cgroup v2 to attach the connect4 program to");
        return;
    }
    let run = |name: &str, port: &str, cgroup: Option<&str>| {
        let mut cmd = h.minotaur();
        if let Some(c) = cgroup {
            cmd.env("MINOTAUR_CONNECT_CGROUP", c);
        }
        let out = cmd
            .args([
                "run", "-d", "--name", name, "-p", port, "host", "sleep", "1000",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::show(&out));
    };
    run("web", "8086:80", None);
    if !h.sh_ok("ls /run/minotaur/bpf").contains("connect4-ports") {
        println!("skipped: this kernel runs no connect4 program");
        ok(&h, &["rm", "-f", "web"]);
        return;
    }
    // Published with the redirect off: the pinned map lacks its element.
    run("quiet", "8087:80", Some("none"));
    let address = |c| {
        inspect(
            &h,
            c,
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        )
    };
    let (web, quiet) = (address("web"), address("quiet"));
    // The store forgets web's port: its table and map elements are orphans.
    let db = h.dir().join("state/minotaur.db");
    h.sh_ok(&format!(
        "python3 -c 'import sqlite3; c = sqlite3.connect(\"{}\"); \
         c.execute(\"DELETE FROM ports WHERE host_port = 8086\"); c.commit()'",
        db.display()
    ));
    let out = h.mino(&["system", "check"]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{report}");
    let mut lines: Vec<&str> = report.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            format!("container quiet: missing connect4 map element tcp 0.0.0.0:8087 -> {quiet}:80"),
            format!("container web: orphan connect4 map element tcp 0.0.0.0:8086 -> {web}:80"),
            format!("container web: orphan published port element tcp *:8086 -> {web}:80"),
        ]
    );
    repair(&h);
    ok(&h, &["rm", "-f", "web", "quiet"]);
    assert_eq!(ok(&h, &["system", "check"]), "");
}

/// The store commits with `synchronous=NORMAL`: a crash of a process never loses a commit, a power loss
/// can take the last ones with it, and after a power loss nothing the engine started runs (see
/// docs/speed/run.md, "fifth work"). Simulated by putting back a copy of the store taken earlier,
/// once every process of the containers is dead: a container started after the copy has its directories,
/// cgroup and exec record and no record; one removed after it has a record and no directories; one that
/// was running at the copy is recorded running. `system check` reports them, its repair removes what has
/// no record and the record whose files are gone and records the exit, and the ordinary commands work.
#[test]
fn a_store_that_lost_its_last_commits_is_found_and_repaired() {
    let Some(h) = host() else { return };
    let state = h.dir().join("state");
    let state = state.display();
    ok(
        &h,
        &[
            "create",
            "--network",
            "none",
            "--name",
            "gone",
            "host",
            "true",
        ],
    );
    ok(
        &h,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "live",
            "host",
            "sleep",
            "1000",
        ],
    );
    h.sh_ok(&format!(
        "mkdir {state}.copy && cp -a {state}/minotaur.db* {state}.copy/"
    ));
    ok(&h, &["rm", "gone"]);
    let late = ok(
        &h,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "late",
            "host",
            "sleep",
            "1000",
        ],
    );
    // The power goes: every process of the containers dies, the store is as the copy.
    for name in ["live", "late"] {
        let pid = inspect(&h, name, "{{.State.Pid}}");
        let supervisor = h.sh_ok(&format!("ps -o ppid= -p {pid}")).trim().to_owned();
        h.sh_ok(&format!("kill -9 {supervisor} {pid}"));
        let gone = wait_until("the killed container to be gone", || {
            Ok(!h.sh(&format!("kill -0 {pid} 2>/dev/null")).status.success())
        });
        assert!(gone.is_ok());
    }
    h.sh_ok(&format!(
        "rm -f {state}/minotaur.db* && cp -a {state}.copy/minotaur.db* {state}/ && rm -r {state}.copy"
    ));

    let out = h.mino(&["system", "check"]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{report}");
    for expected in [
        format!(
            "container {}: orphan directory {state}/containers/{late}",
            &late[..12]
        ),
        "container live: stale state \"running\"".to_owned(),
        "container gone: stale record of a container half made or half removed".to_owned(),
    ] {
        assert!(
            report.lines().any(|l| l.starts_with(&expected)),
            "{expected:?} not in:\n{report}"
        );
    }
    repair(&h);
    assert_eq!(inspect(&h, "live", "{{.State.Status}}"), "exited");
    // The record whose files were removed is gone with them; the one recorded running has exited.
    assert_eq!(status(&h, &["inspect", "gone"]), 1);
    ok(&h, &["rm", "live"]);
    for name in ["late", "gone"] {
        ok(
            &h,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--name",
                name,
                "host",
                "true",
            ],
        );
    }
    assert_eq!(ok(&h, &["system", "check"]), "");
    assert_eq!(ok(&h, &["ps", "-aq"]), "");
}
