//! Restart policies end to end in a box: what each policy does when the container's main process is
//! killed with SIGKILL from outside, on-failure's count, `stop` and `kill` keeping a container stopped,
//! the network namespace kept across restarts, and an attached `run` handing its restarts over.

mod common;

use common::{host, inspect, ok, wait_status};
use minotaur_testhost::{wait_until, TestHost};

/// Waits until `inspect -f TEMPLATE` shows `want`.
fn wait_inspect(h: &TestHost, c: &str, template: &str, want: &str) {
    wait_until(&format!("{c}: {template} to be {want}"), || {
        Ok(h.mino(&["inspect", "-f", template, c]).stdout == format!("{want}\n").as_bytes())
    })
    .unwrap();
}

/// SIGKILLs the container's main process from the box, as something outside minotaur would, and
/// returns the PID it had.
fn kill_main(h: &TestHost, c: &str) -> String {
    let pid = inspect(h, c, "{{.State.Pid}}");
    assert_ne!(pid, "0", "{c} is running");
    h.sh_ok(&format!("kill -9 {pid}"));
    pid
}

/// Waits until the container runs again with another main process.
fn wait_restarted(h: &TestHost, c: &str, old_pid: &str, count: u32) {
    wait_until(&format!("{c} to run again"), || {
        let out = h.mino(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Pid}} {{.RestartCount}}",
            c,
        ]);
        let s = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let f: Vec<&str> = s.split(' ').collect();
        Ok(f.len() == 3
            && f[0] == "running"
            && f[1] != old_pid
            && f[1] != "0"
            && f[2] == count.to_string())
    })
    .unwrap();
}

#[test]
fn always_restarts_after_a_kill_keeps_its_network_and_stop_keeps_it_stopped() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "a",
            "--restart",
            "always",
            "host",
            "sleep",
            "infinity",
        ],
    );
    assert_eq!(
        inspect(&h, "a", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.RestartCount}}"),
        "always 0 0"
    );
    let netns = |h: &TestHost| {
        h.sh_ok(&format!(
            "readlink /proc/{}/ns/net",
            inspect(h, "a", "{{.State.Pid}}")
        ))
    };
    let before = netns(&h);
    let ip = inspect(&h, "a", "{{.NetworkSettings.IPAddress}}");
    let old = kill_main(&h, "a");
    wait_restarted(&h, "a", &old, 1);
    assert_eq!(netns(&h), before, "a restart keeps the network namespace");
    assert_eq!(inspect(&h, "a", "{{.NetworkSettings.IPAddress}}"), ip);
    assert_eq!(inspect(&h, "a", "{{.State.ExitCode}}"), "0");
    let old = kill_main(&h, "a");
    wait_restarted(&h, "a", &old, 2);
    // A stop is the user's: the supervisor is gone when stop returns, and nothing starts it again.
    ok(&h, &["stop", "-t", "1", "a"]);
    assert_eq!(
        inspect(&h, "a", "{{.State.Status}} {{.State.Pid}}"),
        "exited 0"
    );
    assert!(
        !common::box_processes(&h)
            .iter()
            .any(|p| p.contains("sleep infinity")),
        "{:?}",
        common::box_processes(&h)
    );
    // A start by the user clears the stop and the count.
    ok(&h, &["start", "a"]);
    assert_eq!(
        inspect(&h, "a", "{{.State.Status}} {{.RestartCount}}"),
        "running 0"
    );
    let old = kill_main(&h, "a");
    wait_restarted(&h, "a", &old, 1);
    // `kill` (SIGKILL) is the user's too.
    ok(&h, &["kill", "a"]);
    wait_status(&h, "a", "exited");
    assert_eq!(
        inspect(&h, "a", "{{.State.ExitCode}} {{.RestartCount}}"),
        "137 1"
    );
    ok(&h, &["rm", "a"]);
}

#[test]
fn unless_stopped_restarts_until_stopped() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "u",
            "--restart",
            "unless-stopped",
            "host",
            "sh",
            "-c",
            "sleep 1000; exit 0",
        ],
    );
    let old = kill_main(&h, "u");
    wait_restarted(&h, "u", &old, 1);
    ok(&h, &["stop", "-t", "1", "u"]);
    assert_eq!(inspect(&h, "u", "{{.State.Status}}"), "exited");
    ok(&h, &["rm", "u"]);
}

#[test]
fn on_failure_counts_its_restarts_and_a_clean_exit_ends_them() {
    let Some(h) = host() else { return };
    // A command that always fails: two restarts, then it stays exited.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "f",
            "--restart",
            "on-failure:2",
            "host",
            "sh",
            "-c",
            "exit 3",
        ],
    );
    wait_inspect(
        &h,
        "f",
        "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        "exited 2 3",
    );
    assert_eq!(
        inspect(
            &h,
            "f",
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure 2"
    );
    ok(&h, &["rm", "f"]);

    // SIGKILL is a failure (137); with on-failure:1 the second one is not restarted.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "k",
            "--restart",
            "on-failure:1",
            "host",
            "sleep",
            "infinity",
        ],
    );
    let old = kill_main(&h, "k");
    wait_restarted(&h, "k", &old, 1);
    kill_main(&h, "k");
    wait_inspect(
        &h,
        "k",
        "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        "exited 1 137",
    );
    ok(&h, &["rm", "k"]);

    // A clean exit is not a failure.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "z",
            "--restart",
            "on-failure",
            "host",
            "true",
        ],
    );
    wait_inspect(
        &h,
        "z",
        "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        "exited 0 0",
    );
    ok(&h, &["rm", "z"]);

    // `no` never restarts.
    ok(
        &h,
        &["run", "-d", "--name", "n", "host", "sleep", "infinity"],
    );
    kill_main(&h, "n");
    wait_inspect(
        &h,
        "n",
        "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        "exited 0 137",
    );
    ok(&h, &["rm", "n"]);
}

#[test]
fn an_attached_run_returns_the_status_and_its_restarts_go_on_detached() {
    let Some(h) = host() else { return };
    let out = h.mino(&[
        "run",
        "--name",
        "fg",
        "--restart",
        "on-failure:2",
        "host",
        "sh",
        "-c",
        "echo ran; exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    wait_inspect(
        &h,
        "fg",
        "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        "exited 2 4",
    );
    assert_eq!(ok(&h, &["logs", "fg"]), "ran\nran\nran");
    // rm -f of a container waiting to be restarted ends its supervisor.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "loop",
            "--restart",
            "always",
            "host",
            "sh",
            "-c",
            "exit 1",
        ],
    );
    wait_until("a restart", || {
        Ok(inspect(&h, "loop", "{{.RestartCount}}") != "0")
    })
    .unwrap();
    ok(&h, &["rm", "-f", "loop"]);
    assert!(h.mino(&["inspect", "loop"]).status.code() != Some(0));
    ok(&h, &["rm", "fg"]);
    common::assert_clean(&h, &[]);
}
