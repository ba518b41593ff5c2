//! Exhausted limits: a network with no free address left, a host port already published, and a minotaur
//! process whose descriptor limit (`ulimit -n`) is too low. Each gets a one-line error naming what ran out, and leaves a state that
//! `system check` finds nothing wrong with and that the next ordinary command works on.

mod common;

use common::{fails, host, ok};

#[test]
fn a_full_subnet_is_a_one_line_error_and_changes_nothing() {
    let Some(h) = host() else { return };
    // A /30: the gateway and one container.
    ok(
        &h,
        &["network", "create", "--subnet", "10.123.0.0/30", "tiny"],
    );
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "first",
            "--network",
            "tiny",
            "host",
            "sleep",
            "1000",
        ],
    );
    let err = fails(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "second",
            "--network",
            "tiny",
            "host",
            "sleep",
            "1000",
        ],
        125,
    );
    assert!(err.contains("network tiny has no free address"), "{err}");
    assert_eq!(ok(&h, &["ps", "-a", "--format", "{{.Names}}"]), "first");
    assert_eq!(ok(&h, &["system", "check"]), "");
    ok(&h, &["rm", "-f", "first"]);
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "second",
            "--network",
            "tiny",
            "host",
            "sleep",
            "1000",
        ],
    );
    ok(&h, &["rm", "-f", "second"]);
    ok(&h, &["network", "rm", "tiny"]);
    assert_eq!(ok(&h, &["system", "check"]), "");
}

#[test]
fn a_taken_host_port_is_a_one_line_error_and_changes_nothing() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &[
            "run", "-d", "--name", "first", "-p", "8090:80", "host", "sleep", "1000",
        ],
    );
    let err = fails(
        &h,
        &[
            "run", "-d", "--name", "second", "-p", "8090:80", "host", "sleep", "1000",
        ],
        125,
    );
    assert!(err.contains("8090"), "{err}");
    assert_eq!(ok(&h, &["ps", "-a", "--format", "{{.Names}}"]), "first");
    assert_eq!(ok(&h, &["system", "check"]), "");
    ok(&h, &["rm", "-f", "first"]);
    ok(
        &h,
        &[
            "run", "-d", "--name", "second", "-p", "8090:80", "host", "sleep", "1000",
        ],
    );
    ok(&h, &["rm", "-f", "second"]);
    assert_eq!(ok(&h, &["system", "check"]), "");
}

#[test]
fn too_few_descriptors_is_a_one_line_error_and_leaves_a_consistent_state() {
    let Some(h) = host() else { return };
    ok(&h, &["network", "create", "n1"]);
    // Each limit runs out at a different step of `run`: the namespace, a sysctl, a pipe; or not at all.
    for limit in [8, 12, 16, 24] {
        let out = h
            .command("sh")
            .args([
                "-c",
                &format!("ulimit -n {limit}; exec \"$0\" \"$@\""),
                env!("CARGO_BIN_EXE_minotaur"),
                "run",
                "-d",
                "--name",
                "c1",
                "--network",
                "n1",
                "-p",
                "8081:80",
                "host",
                "sleep",
                "1000",
            ])
            .output()
            .expect("running minotaur");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        // Eight descriptors are too few for any `run`: the test cannot pass without an error to look at.
        assert!(limit > 8 || !out.status.success(), "limit {limit}");
        if !out.status.success() {
            assert_eq!(err.lines().count(), 1, "limit {limit}: {err}");
            assert!(err.contains("Too many open files"), "limit {limit}: {err}");
        }
        let check = h.mino(&["system", "check"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "limit {limit}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        let _ = h.mino(&["rm", "-f", "c1"]);
        ok(
            &h,
            &[
                "run",
                "-d",
                "--name",
                "c1",
                "--network",
                "n1",
                "-p",
                "8081:80",
                "host",
                "sleep",
                "1000",
            ],
        );
        ok(&h, &["rm", "-f", "c1"]);
    }
    ok(&h, &["network", "rm", "n1"]);
}

#[test]
fn no_free_ephemeral_port_is_a_one_line_error_and_changes_nothing() {
    let Some(h) = host() else { return };
    // `-p CONTAINER` picks from the ephemeral range of minotaur's network namespace: the box's own, so
    // narrowing it touches nothing of the real host's.
    h.sh_ok("echo '40000 40001' > /proc/sys/net/ipv4/ip_local_port_range");
    let run = |name| {
        [
            "run", "-d", "--name", name, "-p", "80", "host", "sleep", "1000",
        ]
    };
    for (c, port) in [("a", "40000"), ("b", "40001")] {
        ok(&h, &run(c));
        assert!(ok(&h, &["port", c]).ends_with(&format!(":{port}")), "{c}");
    }
    let err = fails(&h, &run("c"), 125);
    assert!(
        err.contains("no free host port for tcp in 40000-40001"),
        "{err}"
    );
    let mut names = ok(&h, &["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(ok(&h, &["system", "check"]), "");
    // Another protocol has its own ports; a port given back is taken again.
    ok(
        &h,
        &[
            "run", "-d", "--name", "u", "-p", "80/udp", "host", "sleep", "1000",
        ],
    );
    ok(&h, &["rm", "-f", "a"]);
    ok(&h, &run("c"));
    assert!(ok(&h, &["port", "c"]).ends_with(":40000"));
    ok(&h, &["rm", "-f", "b", "c", "u"]);
    assert_eq!(ok(&h, &["system", "check"]), "");
}

#[test]
fn events_follow_without_inotify_left() {
    let Some(h) = host() else { return };
    // A user namespace of its own whose inotify budget is nil (`user.max_inotify_instances` is per user
    // namespace; the real host's is not touched): the follower runs there, as one whose container used up
    // the user's instances would.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (since, until) = (now.to_string(), (now + 4).to_string());
    let follower = h
        .command("unshare")
        .args([
            "-U",
            "-r",
            "sh",
            "-c",
            "echo 0 > /proc/sys/user/max_inotify_instances && exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_minotaur"),
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "event=create",
            "--format",
            "{{.Actor.Attributes.name}}",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting the follower");
    ok(&h, &["create", "--name", "c1", "host", "true"]);
    let out = follower.wait_with_output().expect("the follower");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("no inotify left"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "c1", "{err}");
    ok(&h, &["rm", "c1"]);
}
