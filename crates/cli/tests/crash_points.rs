//! Crash points (`MINOTAUR_CRASH_AFTER`, the engine's test hook): a command aborted right after each named
//! step of `create`, `start`, `stop`, `exec`, `rm`, `network create`/`rm`/`connect`/`disconnect`, `volume
//! create`/`rm`, `compose up`/`down` and `system boot` leaves nothing that the ordinary commands trip over
//! or that `system check --repair` cannot fix: a first check exits 1 and names what the repair then fixes
//! (or exits 0), a second one exits 0, and once the containers are removed nothing is left (no namespace
//! file or name, veth, resolver record, firewall element, mount or process). One box serves every case.

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
/// background): every one of minotaur's veths (`mt` + 10 hex digits of a container ID + an index) belongs
/// to a namespace file that is still there.
fn settle(h: &TestHost, step: &str) {
    wait_until("the veths of removed namespaces to go", || {
        Ok(h
            .sh("for v in $(ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^mt'); do \
                   ls /run/minotaur/netns/$(echo $v | cut -c3-12)* >/dev/null 2>&1 || exit 1; done")
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
    // The repair fixed exactly what the first check found, each piece named once.
    let found: Vec<String> = String::from_utf8_lossy(&first.stdout)
        .lines()
        .map(|l| format!("{l}: repaired"))
        .collect();
    let fixed: Vec<String> = String::from_utf8_lossy(&repair.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(fixed, found, "{step}");
    assert_eq!(
        first.status.code(),
        Some(if found.is_empty() { 0 } else { 1 }),
        "{step}"
    );
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

/// Nothing of containers is left in the box's kernel: no veth, namespace file or `ip netns` name, resolver
/// record, published port element, mount under the run root's namespace directory, or process (the box's
/// own init and resolver stub aside); and `system check` finds nothing.
fn nothing_left(h: &TestHost, step: &str) {
    settle(h, step);
    let left = h.sh_ok(
        "ip -o link show type veth | grep ': mt'; for d in /run/minotaur/netns /run/netns; do ls -A $d 2>/dev/null; done; \
         ls -A /run/minotaur/dns/records 2>/dev/null; grep ' /run/minotaur/netns/' /proc/self/mountinfo; \
         for m in ports4 ports4_host; do nft list map inet minotaur $m 2>/dev/null | grep elements; done; true",
    );
    assert_eq!(left.trim(), "", "{step}: left over");
    let procs = "ps -e -o pid=,comm= | awk -v me=$$ '$1 != 1 && $1 != me && $2 != \"dnsmasq\" && $2 != \"ps\" && $2 != \"awk\"'";
    let mut running = String::new();
    let gone = wait_until(
        "every process of minotaur and its containers to end",
        || {
            running = h.sh_ok(procs);
            Ok(running.trim().is_empty())
        },
    );
    assert!(gone.is_ok(), "{step}: still running: {running}");
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
    let clock = std::time::Instant::now();
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
        report.push(format!(
            "{step} ({:.1?}): {}",
            clock.elapsed(),
            found.trim()
        ));
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
        report.push(format!(
            "{step} ({:.1?}): {}",
            clock.elapsed(),
            found.trim()
        ));
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
        report.push(format!(
            "{step} ({:.1?}): {}",
            clock.elapsed(),
            found.trim()
        ));
        let _ = h.mino(&["volume", "rm", "v2"]);
        ok(&h, &["volume", "create", "v2"]);
        ok(&h, &["volume", "rm", "v2"]);
        nothing_left(&h, step);
    }
    // stop and exec of a running container.
    // SIGKILL as the stop signal: `sleep` as PID 1 ignores SIGTERM, and a stop would wait out its timeout.
    let run_c1 = [
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "n1",
        "-p",
        "8081:80",
        "--stop-signal",
        "KILL",
        "host",
        "sleep",
        "1000",
    ];
    for (step, args) in [
        ("stop:marked", &["stop", "-t", "1", "c1"][..]),
        ("stop:signalled", &["stop", "-t", "1", "c1"][..]),
        (
            "exec:started",
            &["exec", "c1", "sh", "-c", "exec sleep 1000 >/dev/null 2>&1"][..],
        ),
    ] {
        ok(&h, &run_c1);
        let out = crash(&h, step, args);
        assert_eq!(out.status.signal(), Some(6), "{step}: {}", text(&out));
        ok(&h, &["ps", "-a"]);
        let found = check_and_repair(&h, step);
        repaired += usize::from(!found.is_empty());
        report.push(format!(
            "{step} ({:.1?}): {}",
            clock.elapsed(),
            found.trim()
        ));
        ok(&h, &["stop", "-t", "1", "c1"]);
        ok(&h, &["start", "c1"]);
        ok(&h, &["rm", "-f", "c1"]);
        ok(&h, &run_c1);
        ok(&h, &["rm", "-f", "c1"]);
        nothing_left(&h, step);
    }

    // network connect and disconnect of a running container.
    ok(&h, &["network", "create", "n2"]);
    for step in [
        "attach:addresses",
        "attach:veth",
        "network-connect:endpoint",
        "network-disconnect:link",
        "network-disconnect:record",
    ] {
        ok(&h, &run_c1);
        let out = if step.starts_with("network-disconnect") {
            ok(&h, &["network", "connect", "n2", "c1"]);
            crash(&h, step, &["network", "disconnect", "n2", "c1"])
        } else {
            crash(&h, step, &["network", "connect", "n2", "c1"])
        };
        assert_eq!(out.status.signal(), Some(6), "{step}: {}", text(&out));
        ok(&h, &["ps", "-a"]);
        let found = check_and_repair(&h, step);
        repaired += usize::from(!found.is_empty());
        report.push(format!(
            "{step} ({:.1?}): {}",
            clock.elapsed(),
            found.trim()
        ));
        // Whichever side of the crash the store is on, disconnect and connect work from there.
        let _ = h.mino(&["network", "disconnect", "n2", "c1"]);
        ok(&h, &["network", "connect", "n2", "c1"]);
        ok(&h, &["exec", "c1", "ip", "-o", "addr", "show", "eth1"]);
        ok(&h, &["network", "disconnect", "n2", "c1"]);
        ok(&h, &["rm", "-f", "c1"]);
        nothing_left(&h, step);
    }
    ok(&h, &["network", "rm", "n2"]);

    // network rm after the firewall elements went, before the bridge.
    {
        let step = "network-rm:firewall";
        ok(&h, &["network", "create", "n2"]);
        let out = crash(&h, step, &["network", "rm", "n2"]);
        assert_eq!(out.status.signal(), Some(6), "{step}: {}", text(&out));
        let found = check_and_repair(&h, step);
        repaired += usize::from(!found.is_empty());
        report.push(format!(
            "{step} ({:.1?}): {}",
            clock.elapsed(),
            found.trim()
        ));
        ok(&h, &["network", "create", "n2"]);
        ok(&h, &["network", "rm", "n2"]);
        nothing_left(&h, step);
    }

    // volume rm.
    {
        let step = "volume-rm:record";
        ok(&h, &["volume", "create", "v2"]);
        let out = crash(&h, step, &["volume", "rm", "v2"]);
        assert_eq!(out.status.signal(), Some(6), "{step}: {}", text(&out));
        let found = check_and_repair(&h, step);
        repaired += usize::from(!found.is_empty());
        report.push(format!(
            "{step} ({:.1?}): {}",
            clock.elapsed(),
            found.trim()
        ));
        ok(&h, &["volume", "create", "v2"]);
        ok(&h, &["volume", "rm", "v2"]);
        nothing_left(&h, step);
    }

    // compose up and down of a one-service project with its own network and a published port.
    h.sh_ok(
        "mkdir -p /tmp/p && cat > /tmp/p/compose.yaml <<'EOF'
name: p
services:
  web:
    image: host
    command: [sleep, '1000']
    stop_signal: SIGKILL
    ports: ['8082:80']
EOF",
    );
    let compose = |args: &[&str]| {
        let mut a = vec!["compose", "-f", "/tmp/p/compose.yaml"];
        a.extend_from_slice(args);
        a.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let strs = |v: &[String]| v.to_vec();
    for step in [
        "compose-up:networks",
        "compose-up:created",
        "compose-down:containers",
    ] {
        let up = strs(&compose(&["up", "-d"]));
        let down = strs(&compose(&["down"]));
        let up: Vec<&str> = up.iter().map(String::as_str).collect();
        let down: Vec<&str> = down.iter().map(String::as_str).collect();
        let out = if step.starts_with("compose-down") {
            ok(&h, &up);
            crash(&h, step, &down)
        } else {
            crash(&h, step, &up)
        };
        assert_eq!(out.status.signal(), Some(6), "{step}: {}", text(&out));
        ok(&h, &["ps", "-a"]);
        let found = check_and_repair(&h, step);
        repaired += usize::from(!found.is_empty());
        report.push(format!(
            "{step} ({:.1?}): {}",
            clock.elapsed(),
            found.trim()
        ));
        ok(&h, &up);
        assert_eq!(
            ok(&h, &["inspect", "-f", "{{.State.Status}}", "p-web-1"]),
            "running",
            "{step}"
        );
        ok(&h, &down);
        assert_eq!(
            ok(&h, &["network", "ls", "-q", "-f", "name=p_"]),
            "",
            "{step}"
        );
        nothing_left(&h, step);
    }

    // system boot, after what a reboot takes from a stopped container: its namespace file and name, its
    // network's bridge, minotaur's firewall table.
    {
        let step = "boot:sandboxes";
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
                "--restart",
                "always",
                "--stop-signal",
                "KILL",
                "host",
                "sleep",
                "1000",
            ],
        );
        ok(&h, &["stop", "-t", "1", "c1"]);
        h.sh_ok(
            "set -e
             for f in /run/minotaur/netns/*; do umount \"$f\"; rm \"$f\"; done
             rm -f /run/netns/c1
             nft delete table inet minotaur
             for b in $(ip -o link show type bridge | awk -F': ' '{print $2}' | grep '^mt-'); do ip link del \"$b\"; done",
        );
        let out = crash(&h, step, &["system", "boot"]);
        assert_eq!(out.status.signal(), Some(6), "{step}: {}", text(&out));
        ok(&h, &["ps", "-a"]);
        let found = check_and_repair(&h, step);
        repaired += usize::from(!found.is_empty());
        report.push(format!(
            "{step} ({:.1?}): {}",
            clock.elapsed(),
            found.trim()
        ));
        ok(&h, &["start", "c1"]);
        ok(&h, &["rm", "-f", "c1"]);
        nothing_left(&h, step);
    }

    ok(&h, &["network", "rm", "n1"]);
    nothing_left(&h, "the end");
    println!(
        "{repaired} of {} crash points needed a repair:\n{}",
        report.len(),
        report.join("\n")
    );
}
