//! Bad input to the container verbs: each gives one line on stderr naming the problem, Docker's exit status
//! (125 from run and create, 1 from the other verbs), and leaves nothing behind: no record, directory,
//! network namespace, mount, cgroup or process.

mod common;

use std::collections::BTreeSet;

use common::{assert_clean, box_processes, fails, host, minotaur_cgroups, ok};
use minotaur_testhost::{wait_until, TestHost};

/// Runs a bad command and checks its outcome; the box must hold no container before and after.
fn bad(h: &TestHost, args: &[&str], code: i32, names: &[&str]) {
    let procs = box_processes(h);
    let cgroups = minotaur_cgroups(h);
    let err = fails(h, args, code);
    assert!(err.starts_with("minotaur: "), "{args:?}: {err}");
    for n in names {
        assert!(
            err.contains(n),
            "{args:?}: the error should name {n:?}: {err}"
        );
    }
    assert_clean(h, &[]);
    // The resolver started for the container is told to go when it goes, and exits by itself: soon, not at
    // once (closing its inotify descriptor waits for the kernel).
    let mut left = Vec::new();
    let gone = wait_until("the processes started to go", || {
        left = box_processes(h);
        Ok(left == procs)
    });
    assert!(gone.is_ok(), "{args:?} left a process: {left:?}");
    no_new_cgroup(h, &cgroups, args);
}

/// Each box has its own cgroup parent, but a cgroup may still be on its way out: an empty one that stays is
/// a leak.
fn no_new_cgroup(h: &TestHost, before: &BTreeSet<String>, args: &[&str]) {
    let mut left = Vec::new();
    let gone = wait_until("new empty cgroups to go", || {
        left = minotaur_cgroups(h)
            .difference(before)
            .filter(|d| {
                std::fs::read_to_string(format!("{d}/cgroup.procs"))
                    .is_ok_and(|p| p.trim().is_empty())
            })
            .cloned()
            .collect();
        Ok(left.is_empty())
    });
    assert!(gone.is_ok(), "{args:?} left cgroups: {left:?}");
}

#[test]
fn unknown_image_and_missing_command() {
    let Some(h) = host() else { return };
    // Without --pull=never a missing image would be pulled (the registry tests cover that).
    bad(
        &h,
        &["run", "--pull=never", "nosuch", "true"],
        125,
        &["no such image: nosuch:latest"],
    );
    bad(
        &h,
        &["create", "--pull", "never", "nosuch", "true"],
        125,
        &["no such image: nosuch:latest"],
    );
    bad(
        &h,
        &["run", "--pull=never", "-d", "nosuch:1.0", "true"],
        125,
        &["no such image: nosuch:1.0"],
    );
    bad(
        &h,
        &["run", "--pull=sometimes", "nosuch", "true"],
        125,
        &["invalid pull policy"],
    );
    bad(&h, &["run", "host"], 125, &["command"]);
    bad(&h, &["run", "-d", "host"], 125, &["command"]);
    bad(&h, &["create", "host"], 125, &["command"]);
    bad(&h, &["run"], 125, &["IMAGE"]);
}

#[test]
fn unknown_container() {
    let Some(h) = host() else { return };
    for verb in [
        &["stop", "nosuch"][..],
        &["rm", "nosuch"],
        &["rm", "-f", "nosuch"],
        &["kill", "nosuch"],
        &["start", "nosuch"],
        &["restart", "nosuch"],
        &["wait", "nosuch"],
        &["logs", "nosuch"],
        &["top", "nosuch"],
        &["rename", "nosuch", "other"],
        &["inspect", "-f", "{{.Id}}", "nosuch"],
    ] {
        bad(&h, verb, 1, &["nosuch"]);
    }
    // Containers named by namespace flags must exist.
    bad(
        &h,
        &["run", "--network", "container:nosuch", "host", "true"],
        125,
        &["nosuch"],
    );
    bad(
        &h,
        &["run", "--pid", "container:nosuch", "host", "true"],
        125,
        &["nosuch"],
    );
}

#[test]
fn name_already_taken() {
    let Some(h) = host() else { return };
    let id = ok(&h, &["run", "-d", "--name", "x", "host", "sleep", "1000"]);
    let pid = ok(&h, &["inspect", "-f", "{{.State.Pid}}", "x"]);
    let procs = box_processes(&h);
    for args in [
        &["run", "--name", "x", "host", "true"][..],
        &["create", "--name", "x", "host", "true"],
        &["run", "-d", "--name", "x", "host", "true"],
    ] {
        let err = fails(&h, args, 125);
        assert!(err.contains("\"x\"") && err.contains("in use"), "{err}");
    }
    let other = ok(&h, &["create", "--name", "y", "host", "true"]);
    let err = fails(&h, &["rename", "y", "x"], 1);
    assert!(err.contains("\"x\"") && err.contains("in use"), "{err}");
    // Still exactly the first container, untouched, running the same process.
    assert_eq!(
        ok(
            &h,
            &["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"]
        ),
        format!("{other} y\n{id} x")
    );
    assert_eq!(ok(&h, &["inspect", "-f", "{{.State.Pid}}", "x"]), pid);
    assert_eq!(box_processes(&h), procs);
    let dirs: Vec<_> = std::fs::read_dir(h.dir().join("state/containers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut want = vec![id.clone(), other.clone()];
    want.sort();
    assert_eq!(dirs, want);
    ok(&h, &["rm", "-f", "x", "y"]);
    assert_clean(&h, &[id, other]);
}

#[test]
fn name_raced_by_two_runs_goes_to_one() {
    let Some(h) = host() else { return };
    name_raced(&h, &[]);
}

/// The same on no network: the container's record is written while its init sets itself up, after its
/// init is cloned; the loser's goes with the rest of it.
#[test]
fn name_raced_by_two_runs_without_a_network_goes_to_one() {
    let Some(h) = host() else { return };
    name_raced(&h, &["--network", "none"]);
}

fn name_raced(h: &TestHost, flags: &[&str]) {
    let spawn = |h: &TestHost| {
        h.minotaur()
            .args(["run", "-d", "--name", "same"])
            .args(flags)
            .args(["host", "sleep", "1000"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (p, q) = (spawn(h), spawn(h));
    let (p, q) = (p.wait_with_output().unwrap(), q.wait_with_output().unwrap());
    let (won, lost) = if p.status.success() { (p, q) } else { (q, p) };
    assert!(won.status.success(), "neither run won");
    assert_eq!(lost.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&lost.stderr),
        "minotaur: container name \"same\" is already in use\n"
    );
    let id = String::from_utf8_lossy(&won.stdout).trim().to_owned();
    assert_eq!(ok(h, &["ps", "-a", "-q", "--no-trunc"]), id);
    assert_eq!(
        std::fs::read_dir(h.dir().join("state/containers"))
            .unwrap()
            .count(),
        1
    );
    assert_eq!(h.sh_ok("ls /run/minotaur/netns").trim(), id);
    assert_eq!(
        h.sh_ok("pgrep -x sleep -a | grep -c 'sleep 1000'").trim(),
        "1"
    );
    // Its cgroup and `ip netns` name too.
    let cgroups: Vec<String> = minotaur_cgroups(h)
        .into_iter()
        .filter(|d| !d.ends_with("/supervisors"))
        .collect();
    assert_eq!(cgroups.len(), 1, "{cgroups:?}");
    assert!(cgroups[0].ends_with(&id), "{cgroups:?}");
    assert_eq!(h.sh_ok("ls -A /run/netns").trim(), "same");
    assert_eq!(h.sh_ok("ls -A /etc/netns").trim(), "same");
    ok(h, &["rm", "-f", "same"]);
    assert_clean(h, &[id]);
}

#[test]
fn malformed_flags() {
    let Some(h) = host() else { return };
    let cases: &[(&[&str], &[&str])] = &[
        (&["-v", "bad"], &["\"bad\""]),
        (&["-v", "/nonexistent-dir:/mnt"], &["/nonexistent-dir"]),
        (&["-v", "/srv:relative"], &["relative"]),
        (&["-v", "/srv:/mnt:rx"], &["rx"]),
        (&["--tmpfs", "relative"], &["relative"]),
        (&["--memory", "12q"], &["12q"]),
        (&["--memory=-5m"], &["-5m"]),
        (&["--memory-swap", "lots"], &["lots"]),
        (&["-p", "abc"], &["abc"]),
        (&["-p", "99999:80"], &["99999"]),
        (&["--cpus", "x"], &["\"x\""]),
        (&["--cpus", "-1"], &["-1"]),
        (&["--network", "foo"], &["foo"]),
        (&["--pid", "sideways"], &["sideways"]),
        (&["--cap-add", "FLY"], &["FLY"]),
        (&["--security-opt", "apparmor=x"], &["apparmor=x"]),
        (
            &["--security-opt", "seccomp=/nonexistent.json"],
            &["/nonexistent.json"],
        ),
        (&["--stop-signal", "SIGFOO"], &["SIGFOO"]),
        (&["--label", "=v"], &["=v"]),
        (&["--env-file", "/nonexistent.env"], &["/nonexistent.env"]),
        (&["--name", "bad/name"], &["bad/name"]),
        (&["-w", "relative/dir"], &["relative/dir"]),
    ];
    for (flags, names) in cases {
        for verb in [&["run"][..], &["run", "-d"], &["create"]] {
            let mut args: Vec<&str> = verb.to_vec();
            args.extend(*flags);
            args.extend(["host", "true"]);
            bad(&h, &args, 125, names);
        }
    }
}

#[test]
fn failed_exec_leaves_nothing() {
    let Some(h) = host() else { return };
    bad(
        &h,
        &["run", "host", "no-such-command"],
        127,
        &["no-such-command"],
    );
    bad(
        &h,
        &["run", "-d", "host", "no-such-command"],
        127,
        &["no-such-command"],
    );
    bad(
        &h,
        &["run", "--rm", "host", "/etc/passwd"],
        126,
        &["/etc/passwd"],
    );
    bad(
        &h,
        &["run", "-d", "--memory", "64m", "host", "/etc/passwd"],
        126,
        &["/etc/passwd"],
    );
    bad(
        &h,
        &["run", "-w", "/no/such/dir", "host", "true"],
        125,
        &["/no/such/dir"],
    );
    // Mount options the kernel refuses, at start.
    bad(
        &h,
        &["run", "--tmpfs", "/mnt:size=bogus", "host", "true"],
        125,
        &["/mnt", "EINVAL"],
    );
    bad(
        &h,
        &["run", "-d", "--tmpfs", "/mnt:size=bogus", "host", "true"],
        125,
        &["/mnt", "EINVAL"],
    );
    // The user is looked up in the image at start, as Docker does: run fails, create does not.
    bad(
        &h,
        &["run", "-u", "nosuchuser", "host", "true"],
        125,
        &["nosuchuser"],
    );
    bad(
        &h,
        &["run", "-d", "-u", "nosuchuser", "host", "true"],
        125,
        &["nosuchuser"],
    );
    let id = ok(
        &h,
        &["create", "--name", "u", "-u", "nosuchuser", "host", "true"],
    );
    let procs = box_processes(&h);
    let err = fails(&h, &["start", "u"], 1);
    assert!(err.contains("nosuchuser"), "{err}");
    assert_eq!(box_processes(&h), procs);
    ok(&h, &["rm", "u"]);
    assert_clean(&h, &[id]);
}

#[test]
fn bad_templates_and_options() {
    let Some(h) = host() else { return };
    let id = ok(&h, &["create", "--name", "t", "host", "true"]);
    for args in [
        &["ps", "-a", "--format", "{{.Names"][..],
        &["ps", "-a", "--format", "{{.Names}"],
        &["ps", "-a", "--format", "{{nosuchfunc .Names}}"],
        &["inspect", "-f", "{{.State.Pid", "t"],
        &["inspect", "-f", "{{end}}", "t"],
    ] {
        let err = fails(&h, args, 1);
        assert!(err.contains("template"), "{args:?}: {err}");
    }
    for args in [
        &["logs", "--tail", "many", "t"][..],
        &["logs", "--since", "yesterday", "t"],
        &["kill", "-s", "SIGFOO", "t"],
        &["ps", "--filter", "nokey"],
    ] {
        let err = fails(&h, args, 1);
        let bad_value = args[2].trim_start_matches("SIG");
        assert!(err.contains(bad_value), "{args:?}: {err}");
    }
    ok(&h, &["rm", "t"]);
    assert_clean(&h, &[id]);
}
