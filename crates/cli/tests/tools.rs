//! The inspection tools end to end, in a throwaway host: `events`, `diff`, `cp`, `stats`, `port-forward`,
//! and bad input for each.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{fails, host, import_busybox, ok};

/// Unix seconds, with a fraction, as `events --since` takes them.
fn unix_now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// Lines of a child's stdout, read on a thread, so a test can wait for them with a deadline.
fn lines_of(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Receives lines until `want` has been seen (in order), for up to 20 seconds; returns all lines read.
fn expect_lines(rx: &mpsc::Receiver<String>, want: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let mut next = 0;
    while next < want.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if line == want[next] {
                    next += 1;
                }
                seen.push(line);
            }
            Err(_) => panic!("waited for {:?}; saw {seen:#?}", want[next]),
        }
    }
    seen
}

#[test]
fn events_are_seen_by_a_follower_in_another_process() {
    let Some(h) = host() else { return };
    let since = unix_now();
    let mut follower = h
        .minotaur()
        .args([
            "events",
            "--since",
            &since,
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(follower.stdout.take().unwrap());
    ok(&h, &["run", "-d", "--name", "ev1", "host", "sleep", "100"]);
    ok(&h, &["kill", "ev1"]);
    assert_eq!(ok(&h, &["wait", "ev1"]), "137");
    ok(&h, &["network", "create", "evnet"]);
    ok(&h, &["network", "connect", "evnet", "ev1"]);
    ok(&h, &["rm", "ev1"]);
    expect_lines(
        &rx,
        &[
            "container create ev1",
            "container start ev1",
            "container kill ev1",
            "container die ev1",
            "network connect evnet",
            "container destroy ev1",
        ],
    );
    assert!(
        follower.try_wait().unwrap().is_none(),
        "the follower ended by itself"
    );
    // A follower whose reader went away ends at its next event.
    drop(rx);
    ok(&h, &["create", "--name", "ev2", "host", "true"]);
    ok(&h, &["rm", "ev2"]);
    let status = follower.wait().unwrap();
    assert!(status.success(), "follower: {status}");

    // The past, in Docker's format, without following: --until has passed.
    let past = ok(
        &h,
        &[
            "events",
            "--since",
            &since,
            "--until",
            &unix_now(),
            "--filter",
            "container=ev1",
            "--filter",
            "event=create",
        ],
    );
    let id_and_rest = past
        .strip_suffix(" (image=host, name=ev1)")
        .and_then(|s| s.split_once("Z container create "))
        .unwrap_or_else(|| panic!("not Docker's event line: {past:?}"));
    assert_eq!(id_and_rest.0.len(), "2024-01-01T00:00:00.000000000".len());
    assert_eq!(id_and_rest.1.len(), 64, "{past}");
    let die = ok(
        &h,
        &[
            "events",
            "--since",
            &since,
            "--until",
            "0s",
            "--filter",
            "event=die",
            "--format",
            "{{.Actor.Attributes.exitCode}}",
        ],
    );
    assert_eq!(die, "137");
    let json = ok(
        &h,
        &[
            "events",
            "--since",
            &since,
            "--until",
            "0s",
            "-f",
            "network=evnet",
            "--format",
            "json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["Action"], "connect");
    assert_eq!(doc["Actor"]["Attributes"]["name"], "evnet");
    ok(&h, &["network", "rm", "evnet"]);
}

#[test]
fn events_bad_input() {
    let Some(h) = host() else { return };
    let err = fails(&h, &["events", "--filter", "colour=red"], 1);
    assert!(err.contains("invalid filter \"colour=red\""), "{err}");
    let err = fails(&h, &["events", "--filter", "container"], 1);
    assert!(err.contains("expected KEY=VALUE"), "{err}");
    let err = fails(&h, &["events", "--since", "yesterday"], 1);
    assert!(err.contains("invalid time \"yesterday\""), "{err}");
    let err = fails(&h, &["events", "--until", "0s", "--format", "{{.Nope"], 1);
    assert!(err.contains("template"), "{err}");
}

#[test]
fn diff_lists_writes_and_deletes() {
    let Some(h) = host() else { return };
    import_busybox(
        &h,
        "bb:diff",
        "echo k > $r/etc/keep; echo g > $r/etc/gone; mkdir -p $r/srv/www; echo i > $r/srv/www/index",
    );
    ok(
        &h,
        &[
            "run",
            "--name",
            "d1",
            "bb:diff",
            "sh",
            "-c",
            "echo x >> /etc/keep && rm /etc/gone && mkdir /new && echo y > /new/f && rm -r /srv/www",
        ],
    );
    assert_eq!(
        ok(&h, &["diff", "d1"]),
        "C /etc\nD /etc/gone\nC /etc/keep\nA /new\nA /new/f\nC /srv\nD /srv/www"
    );
    // A fresh container has nothing to show.
    ok(&h, &["create", "--name", "d2", "bb:diff", "true"]);
    assert_eq!(ok(&h, &["diff", "d2"]), "");
    // The host image: what it writes to its private /tmp, while it runs.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "d3",
            "host",
            "sh",
            "-c",
            "echo > /tmp/made; sleep 100",
        ],
    );
    minotaur_testhost::wait_until("d3 to write /tmp/made", || {
        Ok(ok(&h, &["diff", "d3"]).contains("A /tmp/made"))
    })
    .unwrap();
    assert_eq!(ok(&h, &["diff", "d3"]), "C /tmp\nA /tmp/made");
    let err = fails(&h, &["diff", "nosuch"], 1);
    assert_eq!(err, "minotaur: no such container: nosuch\n");
}
