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
