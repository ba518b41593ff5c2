//! `system info`, `df`, `prune` and `reset` in a box.

mod common;

use common::{host, ok, status};
use minotaur_testhost::wait_until;

#[test]
fn system_info_describes_the_host_and_the_engine() {
    let Some(h) = host() else { return };
    ok(&h, &["network", "create", "infonet"]);
    let info: serde_json::Value =
        serde_json::from_str(&ok(&h, &["system", "info", "--format", "json"])).expect("JSON");
    let kernel = h.sh_ok("uname -r");
    assert_eq!(info["kernel"], kernel.trim(), "{info}");
    assert!(
        matches!(info["cgroup_version"].as_u64(), Some(1 | 2)),
        "{info}"
    );
    assert_eq!(info["runroot"], "/run/minotaur");
    assert!(
        info["networks"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n == "infonet")),
        "{info}"
    );
    assert_eq!(info["resolver_pid"], serde_json::Value::Null, "{info}");
    let text = ok(&h, &["system", "info"]);
    for line in [
        "Kernel: ",
        "Cgroup version: ",
        "Storage:",
        "Resolver: not running",
        "Seccomp: ",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    assert_eq!(status(&h, &["system", "info", "--format", "yaml"]), 2);
}

#[test]
fn system_df_counts_containers_and_volumes() {
    let Some(h) = host() else { return };
    ok(&h, &["volume", "create", "data"]);
    ok(&h, &["volume", "create", "spare"]);
    ok(
        &h,
        &[
            "run",
            "--name",
            "writer",
            "-v",
            "data:/data",
            "host",
            "sh",
            "-c",
            "head -c 100000 /dev/zero > /data/f",
        ],
    );
    let df: serde_json::Value =
        serde_json::from_str(&ok(&h, &["system", "df", "--format", "json"])).expect("JSON");
    let usage = |kind: &str| {
        df["usage"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["kind"] == kind))
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} in {df}"))
    };
    let containers = usage("Containers");
    assert_eq!(containers["total"], 1, "{df}");
    assert_eq!(containers["active"], 0, "{df}");
    let volumes = usage("Local Volumes");
    assert_eq!(volumes["total"], 2, "{df}");
    assert_eq!(volumes["active"], 1, "{df}");
    assert!(
        volumes["size"].as_u64().is_some_and(|s| s >= 100_000),
        "{df}"
    );
    let verbose = ok(&h, &["system", "df", "-v"]);
    assert!(
        verbose
            .lines()
            .any(|l| l.starts_with("volume") && l.contains("spare")),
        "{verbose}"
    );
}

#[test]
fn system_prune_removes_what_is_unused_and_keeps_what_runs() {
    let Some(h) = host() else { return };
    ok(&h, &["network", "create", "unused"]);
    ok(&h, &["network", "create", "used"]);
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "alive",
            "--network",
            "used",
            "host",
            "sleep",
            "1000",
        ],
    );
    ok(
        &h,
        &[
            "create", "--name", "kept", "--label", "keep=yes", "host", "true",
        ],
    );
    ok(&h, &["create", "--name", "gone", "host", "true"]);
    ok(&h, &["volume", "create", "loose"]);
    let err = h.mino(&["system", "prune", "-f", "--filter", "colour=red"]);
    assert_eq!(err.status.code(), Some(1));
    ok(
        &h,
        &[
            "system",
            "prune",
            "-f",
            "--volumes",
            "-a",
            "--filter",
            "label!=keep",
        ],
    );
    let left = ok(&h, &["ps", "-a", "--format", "{{.Names}}"]);
    let mut left: Vec<&str> = left.lines().collect();
    left.sort();
    assert_eq!(left, ["alive", "kept"]);
    let nets = ok(&h, &["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        nets.lines().any(|n| n == "used") && !nets.lines().any(|n| n == "unused"),
        "{nets}"
    );
    assert_eq!(ok(&h, &["volume", "ls", "-q"]), "");
    assert_eq!(ok(&h, &["system", "check"]), "");
}

#[test]
fn prune_leaves_a_container_alone_while_it_is_being_made_or_started() {
    // `create` takes its container directory's lock before the record exists, and `run` holds it until
    // the container runs; a concurrent prune once removed such containers half-made (found by the soak).
    let Some(h) = host() else { return };
    let id = ok(&h, &["create", "--name", "busy", "host", "true"]);
    h.sh_ok(&format!(
        "flock -x \"$MINOTAUR_ROOT/containers/{}\" {} system prune -f",
        id.trim(),
        env!("CARGO_BIN_EXE_minotaur")
    ));
    assert_eq!(
        ok(&h, &["ps", "-a", "--format", "{{.Names}}"]).trim(),
        "busy"
    );
    ok(&h, &["system", "prune", "-f"]);
    assert_eq!(ok(&h, &["ps", "-a", "-q"]), "");
}

#[test]
fn system_reset_removes_everything_of_minotaur() {
    let Some(h) = host() else { return };
    // Not minotaur's, and left alone.
    h.sh_ok("ip netns add theirs && ip link add br-0123456789ab type bridge");
    ok(&h, &["network", "create", "n1"]);
    ok(&h, &["volume", "create", "v1"]);
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "a",
            "--network",
            "n1",
            "-p",
            "8080:80",
            "host",
            "sleep",
            "1000",
        ],
    );
    ok(
        &h,
        &[
            "run", "-d", "--name", "b", "-v", "v1:/v", "host", "sleep", "1000",
        ],
    );
    ok(&h, &["create", "--name", "c", "host", "true"]);
    // A `--rm` run's supervisor leaves the parent for the next container; only the reset takes it away.
    ok(&h, &["run", "--rm", "--network", "none", "host", "true"]);
    ok(&h, &["system", "reset", "-f"]);
    h.sh_ok(&format!(
        "set -e
         ! nft list table inet minotaur 2>/dev/null
         test -z \"$(ip -o link show | grep -e ': mt' -e minotaur0 || true)\"
         test -z \"$(ls -A /run/minotaur)\"
         test -z \"$(grep ' /run/minotaur' /proc/self/mountinfo || true)\"
         test \"$(ls /run/netns)\" = theirs
         ip link show br-0123456789ab >/dev/null
         test -z \"$(pgrep -f 'minotaur dns-serv[e]' | while read p; do grep -q '^State:.*Z' /proc/$p/status || echo $p; done)\"
         ! test -e /sys/fs/cgroup/{parent}
         ! test -e /sys/fs/cgroup/memory/{parent}
         ! test -e /sys/fs/cgroup/pids/{parent}",
        parent = h.cgroup_parent()
    ));
    assert_eq!(ok(&h, &["ps", "-a", "-q"]), "");
    assert_eq!(ok(&h, &["volume", "ls", "-q"]), "");
    // The engine starts over from nothing.
    ok(&h, &["run", "--rm", "--name", "a", "host", "true"]);
    // The kernel reaps the veth of the removed namespace in the background.
    wait_until("the removed container's veth to go", || {
        Ok(!h.sh_ok("ip -o link show type veth").contains(": mt"))
    })
    .expect("veth reaped");
    assert_eq!(ok(&h, &["system", "check"]), "");
    h.sh_ok("ip netns delete theirs; ip link del br-0123456789ab");
}
