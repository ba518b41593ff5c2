//! "With no container running, nothing of minotaur runs": the resolver (`minotaur dns-serve`) exits when
//! the last running container of any network stops, though stopped containers remain on their networks,
//! and the next start brings it back once a name is asked. Until then the first container's supervisor
//! holds its listeners (see `minotaur_dns::Dormant`): a container that asks no name costs no resolver.

mod common;

use common::{host, ok, status};
use minotaur_testhost::{wait_until, TestHost};

/// The PIDs of the box's live resolvers (zombies excluded: the box's init reaps nobody).
fn resolvers(h: &TestHost) -> String {
    h.sh_ok(
        "for p in $(pgrep -f 'minotaur dns-serv[e]'); do
           grep -q '^State:.*Z' /proc/$p/status 2>/dev/null || echo $p
         done",
    )
    .trim()
    .to_owned()
}

/// `run -d --name NAME --network NETWORK host sleep 1000`.
fn run_on(h: &TestHost, name: &str, network: &str) {
    ok(
        h,
        &[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            network,
            "host",
            "sleep",
            "1000",
        ],
    );
}

fn wait_resolver(h: &TestHost, running: bool) {
    let what = if running {
        "the resolver to run"
    } else {
        "the resolver to exit"
    };
    wait_until(what, || Ok(resolvers(h).is_empty() != running))
        .unwrap_or_else(|e| panic!("{e}: {}", h.sh_ok("ps -ef")));
}

#[test]
fn resolver_exits_when_no_container_runs_and_comes_back_with_the_next_start() {
    let Some(h) = host() else { return };
    ok(&h, &["network", "create", "n1"]);
    ok(&h, &["network", "create", "n2"]);
    // Created, never started: nothing runs.
    ok(
        &h,
        &[
            "create",
            "--name",
            "idle",
            "--network",
            "n1",
            "host",
            "sleep",
            "1000",
        ],
    );
    assert_eq!(resolvers(&h), "", "a resolver runs for a created container");
    // A start that fails lets go of the resolver it started while the container was being made (`start`,
    // not `run`, which removes the container and so tells the resolver anyway).
    ok(
        &h,
        &[
            "create",
            "--name",
            "bad",
            "--network",
            "n1",
            "host",
            "no-such-command",
        ],
    );
    assert_ne!(status(&h, &["start", "bad"]), 0, "bad started");
    wait_resolver(&h, false);

    run_on(&h, "a", "n1");
    run_on(&h, "c", "n1");
    run_on(&h, "b", "n2");
    wait_resolver(&h, true);
    // Names resolve while they run.
    ok(&h, &["exec", "a", "getent", "hosts", "c"]);

    // One network still has a running container: the resolver stays.
    ok(&h, &["stop", "-t", "1", "a", "c"]);
    assert_ne!(resolvers(&h), "", "the resolver went while b runs");

    // The last one stops (by a signal: the supervisor records the exit) and the resolver goes, though
    // four containers remain on the networks.
    ok(&h, &["kill", "b"]);
    wait_resolver(&h, false);

    // The next start brings it back once a name is asked, and names resolve again.
    ok(&h, &["start", "a", "c"]);
    ok(&h, &["exec", "a", "getent", "hosts", "c"]);
    assert_ne!(resolvers(&h), "", "no resolver answered");
    ok(&h, &["rm", "-f", "a", "b", "c", "idle", "bad"]);
    wait_resolver(&h, false);
}

/// The resolver a `run` starts is its supervisor forked, not an exec (see `minotaur_dns::Launch`): it must
/// show the resolver's command line (what `pgrep -f`, `ps` and the engine's PID check read) and keep
/// nothing of the supervisor's descriptors (the report pipe a `run` waits on, the store, the container's
/// pidfd), only its standard streams on /dev/null, its lock, its sockets, signalfd and inotify.
#[test]
fn a_forked_resolver_shows_its_command_line_and_keeps_none_of_its_starters_descriptors() {
    let Some(h) = host() else { return };
    ok(&h, &["run", "-d", "--name", "a", "host", "sleep", "1000"]);
    // Started by the first query.
    ok(&h, &["exec", "a", "getent", "hosts", "a"]);
    wait_resolver(&h, true);
    let pid = resolvers(&h);
    let cmdline = h.sh_ok(&format!("tr '\\0' ' ' < /proc/{pid}/cmdline"));
    assert!(
        cmdline.contains(" dns-serve --dir /"),
        "command line: {cmdline:?}"
    );
    // Forked: the exec'd fallback is given its descriptors' numbers on its command line.
    assert!(!cmdline.contains("--ready-fd"), "exec'd: {cmdline:?}");
    let fds = h.sh_ok(&format!(
        "for f in /proc/{pid}/fd/*; do echo \"${{f##*/}} $(readlink $f)\"; done"
    ));
    for line in fds.lines() {
        let (fd, target) = line.split_once(' ').unwrap_or((line, ""));
        let allowed = match fd {
            "0" | "1" | "2" => target == "/dev/null",
            _ => {
                target.starts_with("socket:")
                    || target == "anon_inode:[signalfd]"
                    || target == "anon_inode:inotify"
                    || target.ends_with("/dns/lock")
            }
        };
        assert!(
            allowed,
            "descriptor {fd} -> {target} in the resolver:\n{fds}"
        );
    }
    // Its names resolve (the fork serves), and it goes with the last container.
    ok(&h, &["run", "--rm", "host", "getent", "hosts", "a"]);
    assert_eq!(resolvers(&h), pid, "another resolver");
    ok(&h, &["rm", "-f", "a"]);
    wait_resolver(&h, false);
}

/// A container that asks no name starts no resolver: its supervisor binds the listeners and holds the
/// lock (the lock file says `PID dormant`). The first query, sent at once by a container whose command is
/// the lookup, waits in the listener for the server that query starts, and is answered. A holder whose
/// container goes while another container of the network runs hands the listeners to a server; one that
/// sees another network get a container (the listeners change) starts the server for it.
#[test]
fn a_resolver_starts_when_a_name_is_first_asked() {
    let Some(h) = host() else { return };
    ok(&h, &["run", "--rm", "host", "true"]);
    assert_eq!(
        resolvers(&h),
        "",
        "a resolver for a container that asked nothing"
    );
    ok(&h, &["run", "-d", "--name", "a", "host", "sleep", "1000"]);
    assert_eq!(resolvers(&h), "", "a resolver before any query");
    let lock = h.sh_ok("cat /run/minotaur/dns/lock");
    assert!(lock.trim().ends_with(" dormant"), "lock file: {lock:?}");
    ok(&h, &["run", "--rm", "host", "getent", "hosts", "a"]);
    wait_resolver(&h, true);
    ok(&h, &["rm", "-f", "a"]);
    wait_resolver(&h, false);

    // Held by a's supervisor, handed over when a goes: b still asks.
    ok(&h, &["run", "-d", "--name", "a", "host", "sleep", "1000"]);
    ok(&h, &["run", "-d", "--name", "b", "host", "sleep", "1000"]);
    assert_eq!(resolvers(&h), "", "a resolver before any query");
    ok(&h, &["rm", "-f", "a"]);
    wait_resolver(&h, true);
    ok(&h, &["exec", "b", "getent", "hosts", "b"]);
    ok(&h, &["rm", "-f", "b"]);
    wait_resolver(&h, false);

    // Held by a's supervisor; another network's container changes the listeners.
    ok(&h, &["network", "create", "other"]);
    ok(&h, &["run", "-d", "--name", "a", "host", "sleep", "1000"]);
    run_on(&h, "c", "other");
    wait_resolver(&h, true);
    ok(&h, &["exec", "c", "getent", "hosts", "c"]);
    ok(&h, &["rm", "-f", "a", "c"]);
    wait_resolver(&h, false);
}

/// A holder whose container exits to be restarted hands the listeners to a server before it waits out
/// the back-off: nothing polls them meanwhile, and another container of the network may ask a name then.
#[test]
fn a_holder_waiting_to_restart_hands_the_listeners_over() {
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
            "sh",
            "-c",
            "sleep 1; exit 1",
        ],
    );
    run_on(&h, "b", "bridge");
    assert_eq!(resolvers(&h), "", "a resolver before any query");
    // a exits, and waits to restart: a server serves b.
    wait_resolver(&h, true);
    ok(&h, &["exec", "b", "getent", "hosts", "b"]);
    ok(&h, &["rm", "-f", "a", "b"]);
    wait_resolver(&h, false);
}
