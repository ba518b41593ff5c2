//! Containers as namespace targets and names: `nsenter --mount=toolbox --net=web` ("debugging the
//! Minotaur"), `nsenter -t web`, and lsns's NAME column naming a container's namespaces.

mod common;

use common::{host, ok};
use minotaur_testhost::wait_until;

#[test]
fn nsenter_takes_the_body_of_one_container_and_the_head_of_another() {
    let Some(h) = host() else { return };
    ok(&h, &["run", "-d", "--name", "web", "host", "sleep", "1000"]);
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "toolbox",
            "--tmpfs",
            "/mnt",
            "host",
            "sh",
            "-c",
            "echo toolbox-fs > /mnt/marker; exec sleep 1000",
        ],
    );
    wait_until("the toolbox's marker", || {
        Ok(
            h.mino(&["nsenter", "--mount=toolbox", "--", "cat", "/mnt/marker"])
                .status
                .success(),
        )
    })
    .unwrap();
    // A link only web's network has, made through its SandboxKey as the tutorials do.
    let web_key = ok(
        &h,
        &["inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "web"],
    );
    h.sh_ok(&format!(
        "nsenter --net={} ip link add webside type veth peer name webpeer",
        web_key.trim()
    ));
    let got = ok(
        &h,
        &[
            "nsenter",
            "--mount=toolbox",
            "--net=web",
            "--",
            "sh",
            "-c",
            "cat /mnt/marker; ip -o link show webside",
        ],
    );
    assert!(
        got.starts_with("toolbox-fs\n") && got.contains("webside@webpeer"),
        "{got}"
    );
    // Each half alone: the box's filesystem has no marker, the toolbox's network no such link.
    assert!(!h
        .mino(&["nsenter", "--net=web", "--", "cat", "/mnt/marker"])
        .status
        .success());
    assert!(!h
        .mino(&[
            "nsenter",
            "--mount=toolbox",
            "--",
            "ip",
            "link",
            "show",
            "webside"
        ])
        .status
        .success());
    // -t NAME stands for the container's PID 1 for every namespace.
    assert_eq!(
        ok(&h, &["nsenter", "-t", "web", "-u", "hostname"])
            .trim()
            .len(),
        12
    );
    let pids = ok(&h, &["nsenter", "-t", "web", "-a", "sh", "-c", "echo $$"]);
    assert_ne!(
        pids.trim(),
        "1",
        "a joined process is not the container's init"
    );
    ok(&h, &["rm", "-f", "web", "toolbox"]);
}

#[test]
fn a_stopped_containers_network_namespace_can_still_be_entered() {
    let Some(h) = host() else { return };
    ok(&h, &["create", "--name", "idle", "host", "true"]);
    let links = ok(&h, &["nsenter", "--net=idle", "ip", "-o", "link"]);
    assert!(links.starts_with("1: lo:"), "{links}");
    let out = h.mino(&["nsenter", "-t", "idle", "-u", "hostname"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("idle is not running"), "{err}");
    ok(&h, &["rm", "idle"]);
}

#[test]
fn lsns_names_the_containers_namespaces_but_not_the_hosts() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &["run", "-d", "--name", "named", "host", "sleep", "1000"],
    );
    let pid = ok(&h, &["inspect", "-f", "{{.State.Pid}}", "named"]);
    let rows = ok(&h, &["lsns", "-n", "-o", "TYPE,PID,NAME"]);
    let of = |kind: &str| {
        rows.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f[0] == kind && f.get(1) == Some(&pid.trim()))
            .map(|f| f.get(2).unwrap_or(&"").to_string())
    };
    for kind in ["mnt", "uts", "ipc", "pid", "cgroup"] {
        assert_eq!(of(kind).as_deref(), Some("named"), "{kind}: {rows}");
    }
    assert!(of("net").is_some_and(|n| n.starts_with("named,")), "{rows}");
    // The user namespace is the box's own: it is not the container's.
    assert!(
        !rows
            .lines()
            .any(|l| l.starts_with("user") && l.contains("named")),
        "{rows}"
    );
    ok(&h, &["rm", "-f", "named"]);
}
