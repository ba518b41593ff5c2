//! `run --init`: PID 1 is minotaur's own reaper, on any image (nothing is needed inside it); the command
//! runs as its child, gets the signals PID 1 gets, and its exit status passes through.

mod common;

use common::{host, import_busybox, ok, status};

#[test]
fn init_runs_the_command_as_its_child_on_an_image() {
    let Some(h) = host() else { return };
    import_busybox(&h, "bb:init", "");
    // The command is PID 2, child of PID 1.
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "--init",
                "bb:init",
                "sh",
                "-c",
                "echo $$ $PPID"
            ]
        ),
        "2 1"
    );
    // An orphan is reaped by the init; without it, a PID 1 that never waits (sleep) leaves it a zombie.
    let zombies = |name: &str| {
        let script = "n=0; for s in /proc/[0-9]*/stat; do case $(cat $s) in *') Z '*) n=$((n+1));; esac; done; echo $n";
        ok(&h, &["exec", name, "sh", "-c", script])
    };
    let orphan = ["sh", "-c", "(sleep 0.2 &); exec sleep 1000"];
    ok(
        &h,
        &[
            &["run", "-d", "--name", "with", "--init", "bb:init"][..],
            &orphan,
        ]
        .concat(),
    );
    ok(
        &h,
        &[&["run", "-d", "--name", "without", "bb:init"][..], &orphan].concat(),
    );
    // Started later, the bare container's orphan exits last: once it is a zombie there, the other's has
    // exited too, and the init has reaped it.
    minotaur_testhost::wait_until("the bare container's orphan to be a zombie", || {
        Ok(zombies("without") == "1")
    })
    .unwrap();
    assert_eq!(zombies("with"), "0");
    ok(&h, &["rm", "-f", "with", "without"]);
    assert_eq!(
        status(
            &h,
            &["run", "--rm", "--init", "bb:init", "sh", "-c", "exit 4"]
        ),
        4
    );
    assert_eq!(
        status(&h, &["run", "--rm", "--init", "bb:init", "no-such-command"]),
        127
    );
}

#[test]
fn init_forwards_stop_signals_that_a_bare_pid_1_would_ignore() {
    let Some(h) = host() else { return };
    import_busybox(&h, "bb:sig", "");
    // sleep as PID 1 ignores SIGTERM (no handler); under --init it is PID 2 and SIGTERM ends it at once.
    ok(
        &h,
        &[
            "run", "-d", "--name", "bare", "--init", "bb:sig", "sleep", "1000",
        ],
    );
    let started = std::time::Instant::now();
    ok(&h, &["stop", "-t", "20", "bare"]);
    assert!(
        started.elapsed().as_secs() < 10,
        "stop waited for the timeout"
    );
    assert_eq!(
        ok(&h, &["inspect", "-f", "{{.State.ExitCode}}", "bare"]).trim(),
        "143"
    );
    ok(&h, &["rm", "bare"]);
}
