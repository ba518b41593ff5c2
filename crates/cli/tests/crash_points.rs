//! Crash points (`MINOTAUR_CRASH_AFTER`, the engine's test hook): a command aborted right after each named
//! step of `create`, `start`, `rm`, `network create`/`rm` and `volume create` leaves nothing that the
//! ordinary commands trip over or that `system check --repair` cannot fix, and nothing after the repair.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Output;

use common::{host, ok};
use minotaur_testhost::{wait_until, TestHost};

/// Runs minotaur in the box with the crash point set (and no core file).
fn crash(h: &TestHost, step: &str, args: &[&str]) -> Output {
    h.command("sh")
        .args([
            "-c",
            "ulimit -c 0; exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_minotaur"),
        ])
        .args(args)
        .env("MINOTAUR_CRASH_AFTER", step)
        .output()
        .expect("running minotaur")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits until the kernel has reaped the veths of network namespaces that are gone (it does so in the
/// background): one of minotaur's veths per namespace file left, each container here being on one network
/// (the box's own uplink is a veth too).
fn settle(h: &TestHost, step: &str) {
    wait_until("the veths of removed namespaces to go", || {
        Ok(h
            .sh("test $(ip -o link show type veth | grep -c ': mt') -le $(ls -A /run/minotaur/netns 2>/dev/null | wc -l)")
            .status
            .success())
    })
    .unwrap_or_else(|e| panic!("{step}: {e}: {}", h.sh_ok("ip -o link show type veth; ls -A /run/minotaur/netns 2>&1; true")));
}

/// `system check` finds only what `--repair` fixes, and nothing afterwards. Returns the findings.
fn check_and_repair(h: &TestHost, step: &str) -> String {
    settle(h, step);
    let first = h.mino(&["system", "check"]);
    assert!(
        matches!(first.status.code(), Some(0 | 1)),
        "{step}: check failed: {}",
        text(&first)
    );
    let repair = h.mino(&["system", "check", "--repair"]);
    assert_eq!(repair.status.code(), Some(0), "{step}: {}", text(&repair));
    settle(h, step);
    let again = h.mino(&["system", "check"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{step}: found after the repair: {}",
        text(&again)
    );
    assert_eq!(String::from_utf8_lossy(&again.stdout), "");
    String::from_utf8_lossy(&first.stdout).into_owned()
}

/// Nothing of containers is left in the box's kernel.
fn nothing_left(h: &TestHost, step: &str) {
    settle(h, step);
    let left = h.sh_ok(
        "ip -o link show type veth | grep ': mt'; for d in /run/minotaur/netns /run/netns; do ls -A $d 2>/dev/null; done; \
         ls -A /run/minotaur/dns/records 2>/dev/null; true",
    );
    assert_eq!(left.trim(), "", "{step}: left over");
    assert_eq!(ok(h, &["system", "check"]), "", "{step}");
}

#[test]
fn every_crash_point_is_repaired_and_leaves_nothing() {
    let Some(h) = host() else { return };
    ok(&h, &["network", "create", "n1"]);
    let create = [
        "create",
        "--name",
        "c1",
        "--network",
        "n1",
        "-p",
        "8081:80",
        "host",
        "sleep",
        "1000",
    ];
    let mut repaired = 0;
    let mut report = Vec::new();
    for step in [
        "create:record",
        "create:netns",
        "create:endpoints",
        "create:files",
        "start:running",
        "rm:kernel",
        "rm:record",
    ] {
        let out = match step.split(':').next() {
            Some("create") => crash(&h, step, &create),
            Some("start") => {
                ok(&h, &create);
                crash(&h, step, &["start", "c1"])
            }
            _ => {
                ok(&h, &create);
                ok(&h, &["start", "c1"]);
                crash(&h, step, &["rm", "-f", "c1"])
            }
        };
        // The start's supervisor aborts; the CLI that waited for it says so.
        if step != "start:running" {
            assert_eq!(out.status.signal(), Some(6), "{step}: {}", text(&out));
        }
        ok(&h, &["ps", "-a"]);
        let found = check_and_repair(&h, step);
        repaired += usize::from(!found.is_empty());
        report.push(format!("{step}: {}", found.trim()));
        // The ordinary commands work: the name is free again or removable, and a run with it works.
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
        nothing_left(&h, step);
    }
    for step in ["network-create:record", "network-rm:record"] {
        let out = if step == "network-create:record" {
            crash(&h, step, &["network", "create", "n2"])
        } else {
            ok(&h, &["network", "create", "n2"]);
            crash(&h, step, &["network", "rm", "n2"])
        };
        assert_eq!(out.status.signal(), Some(6), "{step}: {}", text(&out));
        let found = check_and_repair(&h, step);
        repaired += usize::from(!found.is_empty());
        report.push(format!("{step}: {}", found.trim()));
        let _ = h.mino(&["network", "rm", "n2"]);
        ok(&h, &["network", "create", "n2"]);
        ok(&h, &["run", "--rm", "--network", "n2", "host", "true"]);
        ok(&h, &["network", "rm", "n2"]);
        assert_eq!(
            h.sh_ok("ip -o link show type bridge | grep -c mt- || true")
                .trim(),
            "1",
            "{step}: only n1's bridge stays"
        );
        nothing_left(&h, step);
    }
    for step in ["volume-create:dir", "volume-create:record"] {
        let out = crash(&h, step, &["volume", "create", "v2"]);
        assert_eq!(out.status.signal(), Some(6), "{step}: {}", text(&out));
        let found = check_and_repair(&h, step);
        repaired += usize::from(!found.is_empty());
        report.push(format!("{step}: {}", found.trim()));
        let _ = h.mino(&["volume", "rm", "v2"]);
        ok(&h, &["volume", "create", "v2"]);
        ok(&h, &["volume", "rm", "v2"]);
        nothing_left(&h, step);
    }
    println!(
        "{repaired} of {} crash points needed a repair:\n{}",
        report.len(),
        report.join("\n")
    );
}
