//! The container verbs end to end in a box: exit codes, detached containers and their state, stop, kill,
//! restart, rename, start again, logs, `--rm`, rm, ps, inspect, top; and nothing left behind.

mod common;

use common::{assert_clean, fails, host, inspect, ok, status, wait_status};
use minotaur_testhost::wait_until;

/// The full ID of a container by name.
fn id_of(h: &minotaur_testhost::TestHost, name: &str) -> String {
    inspect(h, name, "{{.Id}}")
}

#[test]
fn run_exits_with_the_commands_status() {
    let Some(h) = host() else { return };
    assert_eq!(status(&h, &["run", "--rm", "host", "true"]), 0);
    assert_eq!(
        status(&h, &["run", "--rm", "host", "sh", "-c", "exit 3"]),
        3
    );
    let err = fails(&h, &["run", "--rm", "host", "no-such-command"], 127);
    assert!(err.contains("no-such-command"), "{err}");
    let err = fails(&h, &["run", "--rm", "host", "/etc/passwd"], 126);
    assert!(err.contains("/etc/passwd"), "{err}");
    let err = fails(&h, &["run", "--rm", "--no-such-flag", "host", "true"], 125);
    assert!(err.contains("--no-such-flag"), "{err}");
    // Regression: a command whose first argument looks like a flag (`-c`, minotaur's --cpu-shares) was
    // parsed as minotaur's: everything after the image is the command's, as with Docker.
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "--entrypoint",
                "sh",
                "host",
                "-c",
                "echo $0 -l"
            ]
        ),
        "sh -l"
    );
    assert_eq!(
        ok(
            &h,
            &["run", "--rm", "--entrypoint", "echo", "host", "--rm", "-d"]
        ),
        "--rm -d"
    );
    // Output reaches the caller, stdout and stderr apart.
    let out = h.mino(&["run", "--rm", "host", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_clean(&h, &[]);
}

#[test]
fn detached_container_runs_in_its_own_namespaces_and_stops() {
    let Some(h) = host() else { return };
    let id = ok(
        &h,
        &[
            "run", "-d", "--name", "sleeper", "-l", "app=web", "host", "sleep", "1000",
        ],
    );
    assert_eq!(id.len(), 64, "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{id}"
    );
    assert_eq!(
        ok(&h, &["ps", "--format", "{{.Names}} {{.State}}"]),
        "sleeper running"
    );
    assert_eq!(
        inspect(&h, "sleeper", "{{.State.Status}} {{.State.Running}}"),
        "running true"
    );
    assert_eq!(ok(&h, &["ps", "-q"]), &id[..12]);
    assert_eq!(ok(&h, &["ps", "-q", "--no-trunc"]), id);

    // {{.State.Pid}} is a live process of the box (PID as the box sees it; the test reads it through the
    // box's /proc) in namespaces of its own.
    let pid = inspect(&h, "sleeper", "{{.State.Pid}}");
    assert_eq!(h.sh_ok(&format!("cat /proc/{pid}/comm")).trim(), "sleep");
    for ns in ["pid", "mnt", "uts", "ipc", "net", "cgroup"] {
        let theirs = h.sh_ok(&format!("readlink /proc/{pid}/ns/{ns}"));
        let ours = h.sh_ok(&format!("readlink /proc/self/ns/{ns}"));
        assert_ne!(theirs, ours, "{ns} namespace shared with the box");
    }
    let top = ok(&h, &["top", "sleeper"]);
    let lines: Vec<&str> = top.lines().collect();
    assert!(
        lines[0].starts_with("UID") && lines[0].contains("CMD"),
        "{top}"
    );
    assert_eq!(lines.len(), 2, "{top}");
    assert!(
        lines[1].contains(&format!(" {pid} ")) && lines[1].ends_with("sleep 1000"),
        "{top}"
    );

    // sleep as PID 1 ignores SIGTERM: stop kills it after the timeout.
    assert_eq!(ok(&h, &["stop", "-t", "1", "sleeper"]), "sleeper");
    assert_eq!(ok(&h, &["wait", "sleeper"]), "137");
    assert_eq!(
        inspect(
            &h,
            "sleeper",
            "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Pid}}"
        ),
        "exited false 137 0"
    );
    assert_eq!(
        h.sh(&format!("test -e /proc/{pid}")).status.code(),
        Some(1),
        "PID 1 still there"
    );
    assert_eq!(ok(&h, &["ps", "-q"]), "");
    assert_eq!(ok(&h, &["ps", "-a", "-q"]), &id[..12]);
    assert_eq!(
        fails(&h, &["top", "sleeper"], 1),
        "minotaur: container sleeper is not running\n"
    );
    ok(&h, &["rm", "sleeper"]);
    assert_clean(&h, &[id]);
}

#[test]
fn kill_delivers_the_signal_and_the_trap_sets_the_status() {
    let Some(h) = host() else { return };
    let id = ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "trapper",
            "host",
            "sh",
            "-c",
            "trap 'exit 5' TERM; echo ready; while :; do sleep 0.1; done",
        ],
    );
    wait_until("the trap to be set", || {
        Ok(ok(&h, &["logs", "trapper"]) == "ready")
    })
    .unwrap();
    ok(&h, &["kill", "-s", "TERM", "trapper"]);
    assert_eq!(ok(&h, &["wait", "trapper"]), "5");
    assert_eq!(inspect(&h, "trapper", "{{.State.ExitCode}}"), "5");
    let err = fails(&h, &["kill", "trapper"], 1);
    assert!(
        err.contains("trapper") && err.contains("not running"),
        "{err}"
    );
    ok(&h, &["rm", "trapper"]);
    // stop sends --stop-signal.
    let st = ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "st",
            "--stop-signal",
            "USR1",
            "host",
            "sh",
            "-c",
            "trap 'exit 7' USR1; echo ready; while :; do sleep 0.1; done",
        ],
    );
    wait_until("the trap to be set", || {
        Ok(ok(&h, &["logs", "st"]) == "ready")
    })
    .unwrap();
    assert_eq!(inspect(&h, "st", "{{.Config.StopSignal}}"), "USR1");
    ok(&h, &["stop", "st"]);
    assert_eq!(inspect(&h, "st", "{{.State.ExitCode}}"), "7");
    ok(&h, &["rm", "st"]);
    assert_clean(&h, &[id, st]);
}

/// Regression: `wait` (and `stop`, `rm`) right after `kill` found PID 1 gone but the record still saying
/// running, did not wait for the supervisor to record the exit, and printed a stale 0.
#[test]
fn wait_right_after_kill_reports_the_exit_not_a_stale_zero() {
    let Some(h) = host() else { return };
    let mut ids = Vec::new();
    for _ in 0..5 {
        let id = ok(&h, &["run", "-d", "--name", "k", "host", "sleep", "1000"]);
        let pid = inspect(&h, "k", "{{.State.Pid}}");
        // start of a running container changes nothing.
        assert_eq!(ok(&h, &["start", "k"]), "k");
        assert_eq!(inspect(&h, "k", "{{.State.Pid}}"), pid);
        // kill's default signal is SIGKILL.
        // One shell, so that wait starts while the supervisor is still recording the exit.
        let m = env!("CARGO_BIN_EXE_minotaur");
        assert_eq!(
            h.sh_ok(&format!("{m} kill k >/dev/null && {m} wait k")),
            "137\n"
        );
        assert_eq!(
            inspect(&h, "k", "{{.State.Status}} {{.State.ExitCode}}"),
            "exited 137"
        );
        ok(&h, &["rm", "k"]);
        ids.push(id);
    }
    assert_clean(&h, &ids);
}

#[test]
fn restart_rename_and_start_again() {
    let Some(h) = host() else { return };
    let id = ok(&h, &["run", "-d", "--name", "r1", "host", "sleep", "1000"]);
    let pid1 = inspect(&h, "r1", "{{.State.Pid}}");
    let started1 = inspect(&h, "r1", "{{.State.StartedAt}}");
    ok(&h, &["restart", "-t", "0", "r1"]);
    wait_status(&h, "r1", "running");
    let pid2 = inspect(&h, "r1", "{{.State.Pid}}");
    assert_ne!(pid1, pid2);
    assert_ne!(started1, inspect(&h, "r1", "{{.State.StartedAt}}"));
    assert_eq!(h.sh_ok(&format!("cat /proc/{pid2}/comm")).trim(), "sleep");

    ok(&h, &["rename", "r1", "r2"]);
    assert_eq!(inspect(&h, &id, "{{.Name}}"), "/r2");
    assert_eq!(
        fails(&h, &["inspect", "r1"], 1),
        "minotaur: no such object: r1\n"
    );
    ok(&h, &["rm", "-f", "r2"]);

    // An exited container runs its command again on start; logs keep both runs.
    let id2 = ok(
        &h,
        &["create", "--name", "once", "host", "sh", "-c", "echo run"],
    );
    assert_eq!(inspect(&h, "once", "{{.State.Status}}"), "created");
    ok(&h, &["start", "once"]);
    assert_eq!(ok(&h, &["wait", "once"]), "0");
    assert_eq!(ok(&h, &["logs", "once"]), "run");
    let finished1 = inspect(&h, "once", "{{.State.FinishedAt}}");
    ok(&h, &["start", "once"]);
    wait_until("the second run to end", || {
        Ok(inspect(&h, "once", "{{.State.FinishedAt}}") != finished1
            && inspect(&h, "once", "{{.State.Status}}") == "exited")
    })
    .unwrap();
    assert_eq!(ok(&h, &["logs", "once"]), "run\nrun");
    ok(&h, &["rm", "once"]);
    assert_clean(&h, &[id, id2]);
}

#[test]
fn interactive_stdin_and_terminal() {
    let Some(h) = host() else { return };
    use std::io::Write;
    let mut child = h
        .minotaur()
        .args(["run", "-i", "--rm", "host", "sh", "-c", "cat; echo done"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\ndone\n");
    // Without -i the container's stdin is empty.
    assert_eq!(
        ok(&h, &["run", "--rm", "host", "sh", "-c", "cat; echo done"]),
        "done"
    );
    // -t gives it a terminal of its own.
    let tty = ok(
        &h,
        &["run", "--rm", "-t", "host", "sh", "-c", "tty; echo $TERM"],
    );
    assert_eq!(tty.replace('\r', ""), "/dev/pts/0\nxterm");
    assert_clean(&h, &[]);
}

#[test]
fn logs_streams_tail_timestamps_and_follow() {
    let Some(h) = host() else { return };
    // Attached, the output goes to the caller and to the log.
    let shown = ok(
        &h,
        &[
            "run",
            "--name",
            "talker",
            "host",
            "sh",
            "-c",
            "echo out1; echo err1 >&2; echo out2",
        ],
    );
    assert_eq!(shown, "out1\nout2");
    let out = h.mino(&["logs", "talker"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out1\nout2\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err1\n");
    let out = h.mino(&["logs", "--tail", "1", "talker"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(all.lines().count(), 1, "{all}");
    let ts = ok(&h, &["logs", "-t", "talker"]);
    for (line, text) in ts.lines().zip(["out1", "out2"]) {
        let (stamp, rest) = line.split_once(' ').unwrap();
        assert_eq!(rest, text);
        assert!(
            stamp.len() > 20 && stamp.ends_with('Z') && stamp.contains('T'),
            "{line}"
        );
    }
    assert_eq!(ok(&h, &["logs", "--since", "1h", "talker"]), "out1\nout2");
    let future = h.mino(&["logs", "--since", "2099-01-01T00:00:00Z", "talker"]);
    assert!(future.status.success() && future.stdout.is_empty() && future.stderr.is_empty());
    let id = id_of(&h, "talker");
    ok(&h, &["rm", "talker"]);

    // logs -f ends when the container exits, with everything it printed.
    let id2 = ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "slow",
            "host",
            "sh",
            "-c",
            "echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo last",
        ],
    );
    let mut follow = h
        .minotaur()
        .args(["logs", "-f", "slow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("first line", || Ok(ok(&h, &["logs", "slow"]) == "first")).unwrap();
    assert!(
        follow.try_wait().unwrap().is_none(),
        "logs -f ended while the container runs"
    );
    let pid = inspect(&h, "slow", "{{.State.Pid}}");
    // The container's /tmp is its own: create the file through its mount namespace.
    h.sh_ok(&format!("nsenter -t {pid} -m touch /tmp/go"));
    let out = follow.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "first\nlast\n");
    ok(&h, &["rm", "slow"]);
    assert_clean(&h, &[id, id2]);
}

#[test]
fn rm_refuses_a_running_container_and_rm_f_removes_it() {
    let Some(h) = host() else { return };
    let id = ok(
        &h,
        &["run", "-d", "--name", "busy", "host", "sleep", "1000"],
    );
    let err = fails(&h, &["rm", "busy"], 1);
    assert!(err.contains("busy") && err.contains("running"), "{err}");
    assert_eq!(inspect(&h, "busy", "{{.State.Status}}"), "running");
    let pid = inspect(&h, "busy", "{{.State.Pid}}");
    assert_eq!(ok(&h, &["rm", "-f", "busy"]), "busy");
    assert_eq!(
        h.sh(&format!("test -e /proc/{pid}")).status.code(),
        Some(1),
        "PID 1 survived rm -f"
    );
    assert_eq!(box_supervisors(&h), "", "supervisor survived rm -f");
    // The resolver, told that no network has containers any more, exits by itself.
    wait_until("the resolver to exit", || {
        Ok(box_minotaur_processes(&h).is_empty())
    })
    .unwrap_or_else(|e| panic!("{e}: {}", box_minotaur_processes(&h)));
    assert_clean(&h, &[id]);
}

/// `rm -f` of several containers signals every running one before it waits for any: each is still
/// removed once, in the order given, and a name given twice or unknown is an error of its own.
#[test]
fn rm_f_of_several_removes_each_once_in_order() {
    let Some(h) = host() else { return };
    let mut ids = Vec::new();
    for name in ["m1", "m2", "m3"] {
        ids.push(ok(
            &h,
            &[
                "run",
                "-d",
                "--name",
                name,
                "--network",
                "none",
                "host",
                "sleep",
                "1000",
            ],
        ));
    }
    ids.push(ok(
        &h,
        &[
            "create",
            "--name",
            "m4",
            "--network",
            "none",
            "host",
            "true",
        ],
    ));
    let pids: Vec<String> = ["m1", "m2", "m3"]
        .iter()
        .map(|n| inspect(&h, n, "{{.State.Pid}}"))
        .collect();
    let out = h.mino(&["rm", "-f", "m3", "m1", "nosuch", "m4", "m2", "m1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "m3\nm1\nm4\nm2\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.lines().all(|l| l.contains("no such container")),
        "{err}"
    );
    for pid in &pids {
        assert_eq!(
            h.sh(&format!("test -e /proc/{pid}")).status.code(),
            Some(1),
            "PID 1 survived rm -f"
        );
    }
    assert_eq!(box_supervisors(&h), "", "a supervisor survived rm -f");
    assert_eq!(ok(&h, &["ps", "-aq"]), "");
    assert_clean(&h, &ids);
}

/// The live minotaur processes of the box (supervisors, the resolver), other than its init (PID 1). Exited
/// ones stay zombies: the box's init reaps nobody, where a real host's init would.
/// Lets a detached `--rm` container whose command waits for `/tmp/go` (PID 1 `pid`) exit, and waits until
/// its supervisor has removed it and is gone.
fn let_go(h: &minotaur_testhost::TestHost, pid: &str) {
    h.sh_ok(&format!("nsenter -t {pid} -m touch /tmp/go"));
    wait_until("the --rm container to go", || {
        Ok(ok(h, &["ps", "-a", "-q"]).is_empty())
    })
    .unwrap();
    wait_until("its supervisor to go", || {
        Ok(box_minotaur_processes(h).is_empty())
    })
    .unwrap();
}

fn box_minotaur_processes(h: &minotaur_testhost::TestHost) -> String {
    h.sh_ok("ps -e -o stat=,pid=,comm= | awk '$3 == \"minotaur\" && $1 !~ /^Z/ && $2 != 1'")
        .trim()
        .to_owned()
}

/// [`box_minotaur_processes`] without the resolver (`minotaur dns-serve`).
fn box_supervisors(h: &minotaur_testhost::TestHost) -> String {
    let resolvers = h.sh_ok("pgrep -f 'minotaur dns-serv[e]' || true");
    box_minotaur_processes(h)
        .lines()
        .filter(|l| {
            let pid = l.split_whitespace().nth(1).unwrap_or_default();
            !resolvers.lines().any(|r| r.trim() == pid)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn run_rm_leaves_nothing() {
    let Some(h) = host() else { return };
    // A detached --rm container: its supervisor removes it when it exits.
    let id = ok(
        &h,
        &[
            "run",
            "-d",
            "--rm",
            "host",
            "sh",
            "-c",
            "while [ ! -e /tmp/go ]; do sleep 0.05; done",
        ],
    );
    let sandbox = inspect(&h, &id, "{{.NetworkSettings.SandboxKey}}");
    assert_eq!(sandbox, format!("/run/minotaur/netns/{id}"));
    h.sh_ok(&format!("test -e {sandbox}"));
    let cg: Vec<String> = common::cgroup_dirs(&h, &id)
        .into_iter()
        .filter(|d| std::path::Path::new(d).exists())
        .collect();
    assert!(!cg.is_empty(), "no cgroup for a running container");
    let pid = inspect(&h, &id, "{{.State.Pid}}");
    let_go(&h, &pid);
    assert_clean(&h, &[id]);
    // Attached --rm.
    ok(&h, &["run", "--rm", "--name", "gone", "host", "true"]);
    // Stopping a detached --rm container removes it.
    let id = ok(&h, &["run", "-d", "--rm", "host", "sleep", "1000"]);
    ok(&h, &["stop", "-t", "0", &id]);
    wait_until("the stopped --rm container to go", || {
        Ok(ok(&h, &["ps", "-a", "-q"]).is_empty())
    })
    .unwrap();
    // rm -f of a running --rm container: its supervisor and rm both remove it, and neither fails.
    let id2 = ok(&h, &["run", "-d", "--rm", "host", "sleep", "1000"]);
    assert_eq!(ok(&h, &["rm", "-f", &id2]), id2);
    assert_clean(&h, &[id, id2]);
}

/// A container `run --rm` made keeps its files and its start lock in its run directory (a tmpfs), and gets
/// its directory under the state root with its log: a `start` while it runs finds it running, `prune`
/// leaves it, `logs` reads it; its `ip netns` name's `/etc` entry is a short link (kept in the inode by
/// ext4) through an alias on the run root, which `ip netns exec` lists through.
#[test]
fn a_run_rm_containers_files_and_lock_are_in_its_run_directory() {
    let Some(h) = host() else { return };
    let id = ok(
        &h,
        &[
            "run",
            "-d",
            "--rm",
            "--name",
            "q",
            "host",
            "sh",
            "-c",
            "echo said; while [ ! -e /tmp/go ]; do sleep 0.05; done",
        ],
    );
    let run = format!("/run/minotaur/containers/{id}");
    h.sh_ok(&format!("test -f {run}/hosts && test -f {run}/hostname"));
    let state = h.dir().join(format!("state/containers/{id}"));
    assert!(
        !state.join("hosts").exists(),
        "/etc files under the state root"
    );
    wait_until("its log", || Ok(ok(&h, &["logs", "q"]) == "said")).unwrap();
    let pid = inspect(&h, "q", "{{.State.Pid}}");
    assert_eq!(ok(&h, &["start", "q"]), "q");
    assert_eq!(inspect(&h, "q", "{{.State.Pid}}"), pid);
    ok(&h, &["system", "prune", "-f"]);
    assert_eq!(ok(&h, &["ps", "-q", "--no-trunc"]), id);
    let link = h.sh_ok("readlink /etc/netns/q");
    assert_eq!(link.trim(), "/run/minotaur/ipnetns/q");
    assert!(link.trim().len() < 60, "a link ext4 keeps in its inode");
    h.sh_ok(&format!(
        "ip netns exec q cat /etc/hosts | cmp - {run}/hosts && ip netns exec q cat /etc/resolv.conf | cmp - {run}/resolv.conf"
    ));
    let_go(&h, &pid);
    assert_eq!(h.sh_ok("ls -A /etc/netns"), "");
    assert_clean(&h, &[id]);
}

#[test]
fn ps_filters_and_formats() {
    let Some(h) = host() else { return };
    let a = ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "web-a",
            "-l",
            "tier=front",
            "host",
            "sleep",
            "1000",
        ],
    );
    let b = ok(
        &h,
        &[
            "create",
            "--name",
            "db-b",
            "-l",
            "tier=back",
            "host",
            "true",
        ],
    );
    let names = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<&str> = vec!["ps", "--format", "{{.Names}}"];
        v.extend(args);
        let mut n: Vec<String> = ok(&h, &v).lines().map(str::to_owned).collect();
        n.sort();
        n
    };
    assert_eq!(names(&[]), ["web-a"]);
    assert_eq!(names(&["-a"]), ["db-b", "web-a"]);
    assert_eq!(names(&["-a", "--filter", "name=db"]), ["db-b"]);
    assert_eq!(names(&["-a", "--filter", "status=created"]), ["db-b"]);
    assert_eq!(names(&["-a", "--filter", "status=running"]), ["web-a"]);
    assert_eq!(names(&["-a", "--filter", "label=tier=back"]), ["db-b"]);
    assert_eq!(names(&["-a", "--filter", "label=tier"]), ["db-b", "web-a"]);
    assert_eq!(
        names(&["-a", "--filter", "label=tier", "--filter", "name=web"]),
        ["web-a"]
    );
    assert!(names(&["-a", "--filter", "name=nothing"]).is_empty());
    assert_eq!(
        names(&["-a", "--filter", &format!("id={}", &b[..6])]),
        ["db-b"]
    );
    assert_eq!(
        names(&["-a", "--filter", "ancestor=host"]),
        ["db-b", "web-a"]
    );
    // -l: the latest created, whatever its state.
    assert_eq!(names(&["-l"]), ["db-b"]);
    let table = ok(&h, &["ps", "-a", "--format", "table {{.ID}}\t{{.Names}}"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["CONTAINER", "ID", "NAMES"], "{table}");
    assert_eq!(rows.len(), 3, "{table}");
    assert!(rows[1..].contains(&vec![&a[..12], "web-a"]), "{table}");
    assert!(rows[1..].contains(&vec![&b[..12], "db-b"]), "{table}");
    // The default table names the columns Docker does.
    let default = ok(&h, &["ps"]);
    let head = default.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(head.contains(col), "{head}");
    }
    assert!(
        default.lines().nth(1).unwrap().contains("\"sleep 1000\""),
        "{default}"
    );
    let err = fails(&h, &["ps", "--filter", "colour=red"], 1);
    assert!(err.contains("colour"), "{err}");
    ok(&h, &["rm", "-f", "web-a", "db-b"]);
    assert_clean(&h, &[a, b]);
}

#[test]
fn inspect_document_and_templates() {
    let Some(h) = host() else { return };
    let id = ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "insp",
            "-h",
            "box1",
            "-e",
            "A=1",
            "-l",
            "app=web",
            "-l",
            "tier=front",
            "--memory",
            "64m",
            "--tmpfs",
            "/mnt",
            "host",
            "sleep",
            "1000",
        ],
    );
    let out = ok(&h, &["inspect", "insp"]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("inspect prints JSON");
    let c = &doc.as_array().expect("an array")[0];
    assert_eq!(c["Id"], id.as_str());
    assert_eq!(c["Name"], "/insp");
    let s = &c["State"];
    assert_eq!(
        (s["Status"].as_str(), s["Running"].as_bool()),
        (Some("running"), Some(true))
    );
    assert!(s["Pid"].as_i64().unwrap() > 1 && s["ExitCode"] == 0);
    assert!(s["StartedAt"].as_str().unwrap().starts_with("20"), "{s}");
    assert_eq!(s["FinishedAt"], "0001-01-01T00:00:00Z");
    let cfg = &c["Config"];
    assert_eq!(cfg["Hostname"], "box1");
    assert!(
        cfg["Env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("A=1")),
        "{cfg}"
    );
    assert_eq!(cfg["Cmd"], serde_json::json!(["sleep", "1000"]));
    assert_eq!(cfg["Image"], "host");
    assert_eq!(
        cfg["Labels"],
        serde_json::json!({"app": "web", "tier": "front"})
    );
    assert_eq!(c["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(c["HostConfig"]["NetworkMode"], "bridge");
    assert_eq!(c["Mounts"][0]["Type"], "tmpfs");
    assert_eq!(c["Mounts"][0]["Destination"], "/mnt");
    assert_eq!(
        c["NetworkSettings"]["SandboxKey"],
        format!("/run/minotaur/netns/{id}")
    );

    assert_eq!(
        inspect(&h, "insp", "{{json .Config.Labels}}"),
        r#"{"app":"web","tier":"front"}"#
    );
    assert_eq!(
        inspect(&h, "insp", r#"{{join .Config.Cmd " "}}"#),
        "sleep 1000"
    );
    assert_eq!(
        inspect(&h, "insp", "{{.Config.Labels.app}} {{upper .Name}}"),
        "web /INSP"
    );
    assert_eq!(inspect(&h, &id[..10], "{{.Name}}"), "/insp");
    // Two objects, one per line.
    let b = ok(&h, &["create", "--name", "other", "host", "true"]);
    assert_eq!(
        ok(&h, &["inspect", "-f", "{{.Name}}", "insp", "other"]),
        "/insp\n/other"
    );
    ok(&h, &["stop", "-t", "0", "insp"]);
    let s: serde_json::Value =
        serde_json::from_str(&inspect(&h, "insp", "{{json .State}}")).unwrap();
    assert_eq!(
        (
            s["Status"].as_str(),
            s["Running"].as_bool(),
            s["Pid"].as_i64()
        ),
        (Some("exited"), Some(false), Some(0))
    );
    assert!(
        s["FinishedAt"].as_str().unwrap() >= s["StartedAt"].as_str().unwrap(),
        "{s}"
    );
    ok(&h, &["rm", "insp", "other"]);
    assert_clean(&h, &[id, b]);
}

#[test]
fn image_container_root_is_an_overlay_in_its_own_mount_namespace() {
    let Some(h) = host() else { return };
    common::import_busybox(&h, "bb:1", "");
    let rootfs_mounts = |h: &minotaur_testhost::TestHost| -> Vec<String> {
        h.sh_ok("awk '$5 ~ /^\\/run\\/minotaur\\/containers\\// {print $5}' /proc/self/mountinfo")
            .lines()
            .map(str::to_owned)
            .collect()
    };
    // The container writes to its own upper layer; the next container starts from the image again.
    assert_eq!(
        ok(
            &h,
            &["run", "--rm", "bb:1", "sh", "-c", "echo hi > /f; cat /f"]
        ),
        "hi"
    );
    assert_eq!(
        ok(&h, &["run", "--rm", "bb:1", "ls", "/"])
            .lines()
            .filter(|l| *l == "f")
            .count(),
        0
    );
    assert!(rootfs_mounts(&h).is_empty());

    // The root is mounted in the container's own mount namespace only, and keeps its upper layer across
    // a restart.
    let id = ok(&h, &["run", "-d", "--name", "img", "bb:1", "sleep", "1000"]);
    assert!(rootfs_mounts(&h).is_empty(), "root mounted on the host");
    ok(&h, &["exec", "img", "sh", "-c", "echo kept > /f"]);
    ok(&h, &["stop", "-t", "0", "img"]);
    ok(&h, &["start", "img"]);
    wait_status(&h, "img", "running");
    assert_eq!(ok(&h, &["exec", "img", "cat", "/f"]), "kept");
    assert!(rootfs_mounts(&h).is_empty(), "root mounted on the host");
    ok(&h, &["rm", "-f", "img"]);
    assert!(rootfs_mounts(&h).is_empty(), "root still mounted after rm");
    // A command that cannot run leaves no mount either.
    assert_eq!(status(&h, &["run", "bb:1", "no-such-command"]), 127);
    assert_clean(&h, &[id]);
}

/// Regression: with its supervisor killed, a container whose PID 1 then died was still `running` (with the
/// dead PID) in `inspect`, while `ps` showed it exited.
#[test]
fn inspect_and_ps_agree_when_the_supervisor_was_killed() {
    let Some(h) = host() else { return };
    let id = ok(
        &h,
        // No network: the resolver would be a second minotaur process.
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "orphan",
            "host",
            "sleep",
            "1000",
        ],
    );
    let pid = inspect(&h, "orphan", "{{.State.Pid}}");
    // Detached, the supervisor is the one minotaur process left in the box.
    let sup = h.sh_ok(
        "ps -e -o stat=,pid=,comm= | awk '$3 == \"minotaur\" && $1 !~ /^Z/ && $2 != 1 {print $2}'",
    );
    assert_eq!(sup.lines().count(), 1, "{sup}");
    h.sh_ok(&format!("kill -9 {}", sup.trim()));
    assert_eq!(
        inspect(&h, "orphan", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );
    h.sh_ok(&format!("kill -9 {pid}"));
    // It stays a zombie in the box, whose init reaps nobody.
    let dead =
        format!("s=$(cut -d' ' -f3 /proc/{pid}/stat 2>/dev/null); [ -z \"$s\" ] || [ \"$s\" = Z ]");
    common::wait_until_ok(&h, &dead);
    // No fixed sleep is needed: nothing is left to record the exit.
    assert_eq!(
        ok(&h, &["ps", "-a", "--format", "{{.Names}} {{.State}}"]),
        "orphan exited"
    );
    assert_eq!(
        inspect(
            &h,
            "orphan",
            "{{.State.Status}} {{.State.Running}} {{.State.Pid}}"
        ),
        "exited false 0"
    );
    ok(&h, &["rm", "orphan"]);
    assert_clean(&h, &[id]);
}

/// `kill -9` of a supervisor: the container keeps running and the record says so; `logs`, `stop` and `rm`
/// still work; the exit code shown is -1 with an error saying why, never an invented 0.
#[test]
fn stop_logs_and_rm_work_when_the_supervisor_was_killed() {
    let Some(h) = host() else { return };
    let id = ok(
        &h,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--stop-signal",
            "KILL",
            "--name",
            "headless",
            "host",
            "sh",
            "-c",
            "echo before; exec sleep 1000",
        ],
    );
    let pid = inspect(&h, "headless", "{{.State.Pid}}");
    // The supervisor has logged the line before it is killed.
    let logged = wait_until("the line to be logged", || {
        Ok(String::from_utf8_lossy(&h.mino(&["logs", "headless"]).stdout).trim() == "before")
    });
    assert!(logged.is_ok());
    let sup = h.sh_ok(&format!("ps -o ppid= -p {pid}")).trim().to_owned();
    h.sh_ok(&format!("kill -9 {sup}"));
    common::wait_until_ok(
        &h,
        &format!("! kill -0 {sup} 2>/dev/null || grep -q '^State:.*Z' /proc/{sup}/status"),
    );
    assert_eq!(
        inspect(&h, "headless", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );
    assert_eq!(ok(&h, &["logs", "headless"]), "before");
    ok(&h, &["stop", "-t", "1", "headless"]);
    assert_eq!(
        inspect(
            &h,
            "headless",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}"
        ),
        "exited -1 the supervisor died before it recorded the exit"
    );
    assert_eq!(ok(&h, &["logs", "headless"]), "before");
    ok(&h, &["rm", "headless"]);
    assert_clean(&h, &[id]);
}

#[test]
fn attached_run_forwards_signals_and_still_cleans_up() {
    let Some(h) = host() else { return };
    let child = h
        .minotaur()
        .args([
            "run",
            "--rm",
            "--name",
            "fg",
            "--network",
            "none",
            "host",
            "sh",
            "-c",
            "trap 'echo got TERM; exit 9' TERM; echo ready; while :; do sleep 0.1; done",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("fg to run", || {
        Ok(h.mino(&["logs", "fg"]).stdout == b"ready\n")
    })
    .unwrap();
    // Signal the attached minotaur (the child of the nsenter that put it in the box) as a shell's job
    // control would; it forwards the signal to PID 1 through the supervisor.
    let nsenter = child.id();
    let client =
        std::fs::read_to_string(format!("/proc/{nsenter}/task/{nsenter}/children")).unwrap();
    let client: i32 = client.split_whitespace().next().unwrap().parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(client),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(9));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ready\ngot TERM\n");
    assert_clean(&h, &[]);
}

/// Regression: three concurrent `start`s of one container ran it three times, each with its own supervisor
/// and PID 1; `rm -f` then killed one and left the others and their cgroup behind.
#[test]
fn concurrent_starts_run_the_container_once() {
    let Some(h) = host() else { return };
    let id = ok(&h, &["create", "--name", "c", "host", "sleep", "1000"]);
    let starts: Vec<_> = (0..3)
        .map(|_| {
            h.minotaur()
                .args(["start", "c"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for s in starts {
        let out = s.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "c\n");
    }
    let pid = inspect(&h, "c", "{{.State.Pid}}");
    assert_eq!(h.sh_ok("pgrep -x -f 'sleep 1000'").trim(), pid);
    // start -a of an exited container runs it attached and exits with its status.
    ok(&h, &["rm", "-f", "c"]);
    assert_eq!(
        h.sh("pgrep -x -f 'sleep 1000'").status.code(),
        Some(1),
        "a second PID 1 survived rm -f"
    );
    let id2 = ok(
        &h,
        &[
            "create",
            "--name",
            "a",
            "host",
            "sh",
            "-c",
            "echo hi; exit 4",
        ],
    );
    let out = h.mino(&["start", "-a", "a"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    ok(&h, &["rm", "a"]);
    assert_clean(&h, &[id, id2]);
}
