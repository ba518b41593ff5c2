//! `exec`: a second process inside a running container sees what its PID 1 sees, including a veth moved
//! into the container by hand (the tutorial's step), and passes its exit status through.

mod common;

use common::{fails, host, ok};

#[test]
fn exec_sees_the_containers_namespaces_and_a_veth_moved_in_by_hand() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &[
            "run", "-d", "--name", "web", "--memory", "64m", "host", "sleep", "1000",
        ],
    );
    let pid = ok(&h, &["inspect", "-f", "{{.State.Pid}}", "web"]);
    h.sh_ok(&format!(
        "ip link add veth-host type veth peer name veth-guest && ip link set veth-guest netns {}",
        pid.trim()
    ));
    let links = ok(&h, &["exec", "web", "ip", "-o", "link"]);
    assert!(links.contains("veth-guest"), "{links}");
    // Same PID namespace (PID 1 is the container's command), same cgroup, same hostname and capabilities.
    assert_eq!(
        ok(&h, &["exec", "web", "cat", "/proc/1/cmdline"]),
        "sleep\u{0}1000\u{0}"
    );
    // Inside the container's cgroup namespace both are at its root; from the box, both are in its cgroup.
    let inside = ok(
        &h,
        &[
            "exec",
            "web",
            "sh",
            "-c",
            "grep memory /proc/1/cgroup; grep memory /proc/self/cgroup",
        ],
    );
    assert_eq!(inside, "4:memory:/\n4:memory:/");
    let id = ok(&h, &["inspect", "-f", "{{.Id}}", "web"]);
    let procs = format!(
        "/sys/fs/cgroup/memory/{}/{}/cgroup.procs",
        h.cgroup_parent(),
        id.trim()
    );
    assert_eq!(
        h.sh_ok(&format!("cat {procs}")).lines().count(),
        1,
        "only PID 1 before an exec"
    );
    ok(&h, &["exec", "-d", "web", "sleep", "1000"]);
    assert_eq!(
        h.sh_ok(&format!("cat {procs}")).lines().count(),
        2,
        "a detached exec joins the cgroup"
    );
    assert_eq!(ok(&h, &["exec", "web", "hostname"]).trim(), &id[..12]);
    let status = ok(
        &h,
        &[
            "exec",
            "web",
            "grep",
            "-E",
            "^(CapEff|Seccomp):",
            "/proc/self/status",
        ],
    );
    assert_eq!(status, "CapEff:\t00000000a80425fb\nSeccomp:\t2");
    ok(&h, &["rm", "-f", "web"]);
}

#[test]
fn exec_passes_exit_codes_and_flags_through() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "app",
            "-e",
            "FROM_RUN=1",
            "host",
            "sleep",
            "1000",
        ],
    );
    let out = h.mino(&[
        "exec",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "X=2",
        "app",
        "sh",
        "-c",
        "id -u; pwd; echo $FROM_RUN$X; exit 9",
    ]);
    assert_eq!(out.status.code(), Some(9));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "65534\n/tmp\n12\n");
    let out = h.mino(&["exec", "app", "no-such-program"]);
    assert_eq!(out.status.code(), Some(126));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    let out = h.mino(&["exec", "no-such-container", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such container: no-such-container"));
    ok(&h, &["stop", "-t", "0", "app"]);
    let out = h.mino(&["exec", "app", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not running"));
    ok(&h, &["rm", "app"]);
}

/// `exec` by name reads the container's exec record (`<runroot>/exec/<name>`) rather than the store. The
/// record must follow the store: a renamed container is not reached by its old name, the old name taken by
/// another container reaches that one, and a damaged record, or a stale one of a stopped container, is
/// passed over for the store's answer.
#[test]
fn exec_by_name_follows_renames_and_stops_past_its_exec_record() {
    let Some(h) = host() else { return };
    let records = "/run/minotaur/exec";
    let cmdline = |name: &str| ok(&h, &["exec", name, "cat", "/proc/1/cmdline"]);
    ok(
        &h,
        &["run", "-d", "--name", "first", "host", "sleep", "1000"],
    );
    h.sh_ok(&format!("test -f {records}/first"));
    assert_eq!(cmdline("first"), "sleep\u{0}1000\u{0}");
    ok(&h, &["rename", "first", "second"]);
    h.sh_ok(&format!("test ! -e {records}/first"));
    let err = fails(&h, &["exec", "first", "true"], 1);
    assert!(err.contains("no such container: first"), "{err}");
    assert_eq!(cmdline("second"), "sleep\u{0}1000\u{0}");

    ok(
        &h,
        &["run", "-d", "--name", "first", "host", "sleep", "2000"],
    );
    assert_eq!(cmdline("first"), "sleep\u{0}2000\u{0}");
    h.sh_ok(&format!(
        "cp {records}/first {records}/.saved && echo garbage > {records}/first"
    ));
    assert_eq!(cmdline("first"), "sleep\u{0}2000\u{0}");
    ok(&h, &["stop", "-t", "0", "first"]);
    h.sh_ok(&format!("mv {records}/.saved {records}/first"));
    let err = fails(&h, &["exec", "first", "true"], 1);
    assert!(err.contains("is not running"), "{err}");
    ok(&h, &["start", "first"]);
    assert_eq!(cmdline("first"), "sleep\u{0}2000\u{0}");
    ok(&h, &["rm", "-f", "first", "second"]);
    h.sh_ok(&format!("test ! -e {records}/first"));
}
