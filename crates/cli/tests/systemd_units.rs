//! On a systemd host, a container started from a unit outlives it: `run -d` in a transient service (a CI
//! job, a service that is stopped later), the service ends when the CLI does, and systemd kills what is
//! left in its cgroup. The container and its supervisor are in no unit's cgroup, so the container runs on
//! and its supervisor records how it ends. On the hybrid layout of this kind of machine and on a unified
//! (v2) one, with a systemd booted in the test host (testhost's `boot_systemd`), the engine's default
//! directories its own.

mod common;

use std::process::Output;

use common::host;
use minotaur_testhost::systemd::{Options, Systemd};

/// `minotaur ARGS` in systemd's namespaces, outside any unit, with the state `Systemd::command` gives it.
fn mino(sd: &Systemd, args: &[&str]) -> Output {
    sd.command(env!("CARGO_BIN_EXE_minotaur"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(sd: &Systemd, args: &[&str]) -> String {
    let out = mino(sd, args);
    assert!(
        out.status.success(),
        "minotaur {args:?}: {}",
        common::show(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn outlives_its_unit(unified: bool) {
    let Some(h) = host() else { return };
    let options = Options {
        unified,
        ..Options::default()
    };
    let Some(sd) = h.boot_systemd_with(&options) else {
        return;
    };
    // The service's main process is the CLI: when `run -d` returns, the unit stops and systemd kills
    // whatever is still in its cgroup (KillMode=control-group, the default).
    let out = sd
        .command("systemd-run")
        .args(["--wait", "--pipe", "--quiet", "--collect", "--unit=job"])
        .arg(format!(
            "--setenv=MINOTAUR_ROOT={}",
            h.dir().join("state").display()
        ))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_minotaur"))
        .args([
            "run",
            "-d",
            "--name",
            "c",
            "--network",
            "none",
            "host",
            "sleep",
            "1000",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::show(&out));
    assert_eq!(sd.show("job.service", "ActiveState"), "inactive");
    let pid = ok(&sd, &["inspect", "-f", "{{.State.Pid}}", "c"]);
    // The container's PID 1 and its parent, the supervisor, both still run, in no unit.
    let ppid = sd.sh_ok(&format!("awk '/^PPid:/ {{print $2}}' /proc/{pid}/status"));
    for p in [pid.as_str(), ppid.trim()] {
        let cgroups = sd.sh_ok(&format!("cat /proc/{p}/cgroup"));
        assert!(
            !cgroups.contains("job.service"),
            "{p} is in the unit: {cgroups}"
        );
    }
    assert_eq!(
        sd.sh_ok(&format!("cat /proc/{}/comm", ppid.trim())).trim(),
        "minotaur"
    );
    assert_eq!(
        ok(&sd, &["inspect", "-f", "{{.State.Status}}", "c"]),
        "running"
    );
    // The supervisor records the end: SIGKILL after the timeout (sleep, as PID 1, ignores SIGTERM).
    ok(&sd, &["stop", "-t", "1", "c"]);
    assert_eq!(
        ok(&sd, &["inspect", "-f", "{{.State.ExitCode}}", "c"]),
        "137"
    );
    ok(&sd, &["rm", "c"]);
}

#[test]
fn a_container_run_from_a_unit_outlives_it_on_a_hybrid_host() {
    outlives_its_unit(false);
}

#[test]
fn a_container_run_from_a_unit_outlives_it_on_a_unified_host() {
    outlives_its_unit(true);
}
