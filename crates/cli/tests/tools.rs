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

/// `rm -f` of running containers records their exits itself (their supervisors leave an exit by its
/// SIGKILL to it): still one `die` each, with 137, between the `kill` and the `destroy`; a container that
/// had exited by itself keeps the status its supervisor recorded.
#[test]
fn rm_force_of_many_records_one_die_each() {
    let Some(h) = host() else { return };
    let since = unix_now();
    for name in ["rf1", "rf2", "rf3"] {
        ok(&h, &["run", "-d", "--name", name, "host", "sleep", "100"]);
    }
    let out = h.mino(&["run", "--name", "rf4", "host", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", common::show(&out));
    ok(&h, &["rm", "-f", "rf1", "rf2", "rf3", "rf4"]);
    assert_eq!(ok(&h, &["ps", "-aq"]), "");
    let events = |filter: &str| {
        let out = ok(
            &h,
            &[
                "events",
                "--since",
                &since,
                "--until",
                "0s",
                "--filter",
                filter,
                "--format",
                "{{.Actor.Attributes.name}} {{.Action}} {{.Actor.Attributes.exitCode}}",
            ],
        );
        let mut lines: Vec<String> = out.lines().map(|l| l.trim_end().to_owned()).collect();
        lines.sort();
        lines
    };
    assert_eq!(
        events("event=die"),
        ["rf1 die 137", "rf2 die 137", "rf3 die 137", "rf4 die 3"]
    );
    let order: Vec<String> = ok(
        &h,
        &[
            "events",
            "--since",
            &since,
            "--until",
            "0s",
            "--filter",
            "container=rf2",
            "--format",
            "{{.Action}}",
        ],
    )
    .lines()
    .map(str::to_owned)
    .collect();
    assert_eq!(order, ["create", "start", "kill", "die", "destroy"]);
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

/// Bytes from Docker's binary size (`1.953MiB`).
fn binary_bytes(s: &str) -> f64 {
    let i = s.find(|c: char| c.is_ascii_alphabetic()).unwrap();
    let (n, unit) = s.split_at(i);
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => panic!("unit of {s}"),
    };
    n.parse::<f64>().unwrap() * scale
}

/// Bytes from Docker's decimal size (`1.23kB`).
fn decimal_bytes(s: &str) -> f64 {
    let i = s.find(|c: char| c.is_ascii_alphabetic()).unwrap();
    let (n, unit) = s.split_at(i);
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => panic!("unit of {s}"),
    };
    n.parse::<f64>().unwrap() * scale
}

#[test]
fn stats_figures_move_when_the_container_works() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &[
            "run", "-d", "--name", "idle", "--memory", "64m", "host", "sleep", "1000",
        ],
    );
    let figures = |c: &str| {
        let line = ok(
            &h,
            &[
                "stats",
                "--no-stream",
                "--format",
                "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.NetIO}}|{{.PIDs}}",
                c,
            ],
        );
        let f: Vec<String> = line.split('|').map(str::to_owned).collect();
        assert_eq!(f.len(), 5, "{line}");
        assert_eq!(f[0], c);
        f
    };
    let before = figures("idle");
    let (mem0, limit) = before[2].split_once(" / ").unwrap();
    assert_eq!(limit, "64MiB");
    assert_eq!(before[4], "1");
    // Memory: 20 MiB written to its private /tmp (a tmpfs, charged to the container).
    ok(
        &h,
        &[
            "exec",
            "idle",
            "dd",
            "if=/dev/zero",
            "of=/tmp/fill",
            "bs=1M",
            "count=20",
        ],
    );
    let after = figures("idle");
    let mem1 = after[2].split_once(" / ").unwrap().0;
    assert!(
        binary_bytes(mem1) >= binary_bytes(mem0) + 15.0 * 1024.0 * 1024.0,
        "memory {mem0} -> {mem1}"
    );
    // Network: pings to its gateway (the box's bridge).
    let gw = common::inspect(&h, "idle", "{{.NetworkSettings.Gateway}}");
    let rx0 = decimal_bytes(before[3].split_once(" / ").unwrap().0);
    ok(
        &h,
        &["exec", "idle", "busybox", "ping", "-c", "3", "-W", "2", &gw],
    );
    let net = figures("idle");
    let (rx1, tx1) = net[3].split_once(" / ").unwrap();
    assert!(
        decimal_bytes(rx1) >= rx0 + 3.0 * 84.0 && decimal_bytes(tx1) >= 3.0 * 84.0,
        "net {} -> {}",
        before[3],
        net[3]
    );
    // CPU and PIDs: a busy loop and a child.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "busy",
            "host",
            "sh",
            "-c",
            "sleep 1000 & while :; do :; done",
        ],
    );
    let busy = figures("busy");
    let cpu: f64 = busy[1].trim_end_matches('%').parse().unwrap();
    assert!(cpu > 20.0, "a busy loop used {cpu}% CPU");
    assert_eq!(busy[4], "2");
    assert!(
        figures("idle")[1]
            .trim_end_matches('%')
            .parse::<f64>()
            .unwrap()
            < 20.0,
        "sleep used CPU"
    );
    // The table, and -a for stopped containers.
    ok(&h, &["create", "--name", "off", "host", "true"]);
    let table = ok(&h, &["stats", "--no-stream"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("  ")
        .filter(|s| !s.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
    );
    assert_eq!(lines.count(), 2, "{table}");
    let all = ok(
        &h,
        &[
            "stats",
            "--no-stream",
            "-a",
            "--format",
            "{{.Name}} {{.MemUsage}} {{.PIDs}}",
        ],
    );
    assert!(all.lines().any(|l| l == "off 0B / 0B 0"), "{all}");
    let err = fails(&h, &["stats", "--no-stream", "nosuch"], 1);
    assert_eq!(err, "minotaur: no such container: nosuch\n");
    let err = fails(
        &h,
        &["stats", "--no-stream", "--format", "{{.CPUPerc", "idle"],
        1,
    );
    assert!(err.contains("template"), "{err}");
}

/// The PID of the only child of process `pid` (minotaur under the box's `nsenter`).
fn only_child(pid: u32) -> i32 {
    let mut found = None;
    minotaur_testhost::wait_until("nsenter's child", || {
        let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .map_err(|e| e.to_string())?;
        found = text.split_whitespace().next().and_then(|s| s.parse().ok());
        Ok(found.is_some())
    })
    .unwrap();
    found.unwrap()
}

#[test]
fn port_forward_reaches_a_localhost_only_server_and_back() {
    let Some(h) = host() else { return };
    // A server the host cannot reach: bound to the container's 127.0.0.1.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "host",
            "sh",
            "-c",
            "mkdir /tmp/www && echo inside > /tmp/www/index.html \
             && exec busybox httpd -f -p 127.0.0.1:8000 -h /tmp/www",
        ],
    );
    let ip = common::inspect(&h, "web", "{{.NetworkSettings.IPAddress}}");
    common::wait_until_ok(
        &h,
        "nsenter --net=/run/netns/web curl -sf http://127.0.0.1:8000/ >/dev/null",
    );
    assert!(
        !h.sh(&format!("curl -sf --max-time 2 http://{ip}:8000/"))
            .status
            .success(),
        "the server should listen on the container's localhost only"
    );
    // A server on the box's loopback for -R.
    h.sh_ok("mkdir -p /tmp/hostwww && echo outside > /tmp/hostwww/index.html");
    let mut box_httpd = h
        .command("busybox")
        .args(["httpd", "-f", "-p", "127.0.0.1:18080", "-h", "/tmp/hostwww"])
        .spawn()
        .unwrap();
    let mut pf = h
        .minotaur()
        .args([
            "port-forward",
            "web",
            "-L",
            "0:8000",
            "-R",
            "9000:127.0.0.1:18080",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(pf.stdout.take().unwrap());
    let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let port = first
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|s| s.strip_suffix(" -> 127.0.0.1:8000"))
        .unwrap_or_else(|| panic!("{first}"));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(20)).unwrap(),
        "Forwarding from 127.0.0.1:9000 in the container -> 127.0.0.1:18080"
    );
    for _ in 0..3 {
        assert_eq!(
            h.sh_ok(&format!("curl -sS --max-time 5 http://127.0.0.1:{port}/")),
            "inside\n"
        );
    }
    assert_eq!(
        ok(
            &h,
            &[
                "exec",
                "web",
                "curl",
                "-sS",
                "--max-time",
                "5",
                "http://127.0.0.1:9000/"
            ]
        ),
        "outside"
    );
    // Ctrl-C ends it.
    let minotaur = only_child(pf.id());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(minotaur),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = pf.wait().unwrap();
    assert!(!status.success(), "ended by SIGINT: {status}");
    assert!(
        !h.sh(&format!("curl -sf --max-time 2 http://127.0.0.1:{port}/"))
            .status
            .success(),
        "the forward outlived the command"
    );
    box_httpd.kill().unwrap();
    box_httpd.wait().unwrap();
}

#[test]
fn port_forward_bad_input() {
    let Some(h) = host() else { return };
    let err = fails(&h, &["port-forward", "nosuch", "-L", "8080:80"], 1);
    assert_eq!(err, "minotaur: no such container: nosuch\n");
    ok(&h, &["create", "--name", "pf", "host", "true"]);
    ok(
        &h,
        &[
            "create",
            "--name",
            "pfhost",
            "--network",
            "host",
            "host",
            "true",
        ],
    );
    let err = fails(&h, &["port-forward", "pf", "-L", "8080"], 1);
    assert!(err.contains("invalid forward \"8080\""), "{err}");
    let err = fails(&h, &["port-forward", "pf", "-R", "9000:nowhere:80"], 1);
    assert!(
        err.contains("invalid forward \"9000:nowhere:80\": not an address"),
        "{err}"
    );
    let err = fails(&h, &["port-forward", "pf"], 1);
    assert!(err.contains("nothing to forward"), "{err}");
    let err = fails(&h, &["port-forward", "pfhost", "-L", "8080:80"], 1);
    assert!(err.contains("uses the host's network"), "{err}");
    // A host port that is taken.
    let mut holder = h
        .command("busybox")
        .args(["httpd", "-f", "-p", "127.0.0.1:18081", "-h", "/tmp"])
        .spawn()
        .unwrap();
    common::wait_until_ok(&h, "ss -ltn | grep -q 127.0.0.1:18081");
    let err = fails(&h, &["port-forward", "pf", "-L", "18081:80"], 1);
    assert!(err.contains("cannot listen on 127.0.0.1:18081"), "{err}");
    holder.kill().unwrap();
    holder.wait().unwrap();
}

#[test]
fn cp_never_leaves_the_container_through_symlinks() {
    let Some(h) = host() else { return };
    import_busybox(
        &h,
        "bb:cp",
        "ln -s / $r/escape; ln -s ../../../../.. $r/up; ln -s /tmp/box-only $r/abs",
    );
    h.sh_ok(
        "mkdir -p /tmp/src/sub /tmp/box-only && echo secret > /tmp/box-only/secret \
             && echo payload > /tmp/src/evil.txt && echo deep > /tmp/src/sub/f",
    );
    // Stopped (never started) container.
    ok(&h, &["create", "--name", "c", "bb:cp", "sleep", "1000"]);
    let err = fails(&h, &["cp", "c:/abs/secret", "/tmp/got"], 1);
    assert_eq!(
        err,
        "minotaur: Could not find the file /abs/secret in container c\n"
    );
    let err = fails(&h, &["cp", "c:/up/tmp/box-only/secret", "/tmp/got"], 1);
    assert!(err.contains("Could not find the file"), "{err}");
    ok(&h, &["cp", "/tmp/src/evil.txt", "c:/escape/tmp/"]);
    ok(&h, &["cp", "/tmp/src/evil.txt", "c:/abs"]);
    h.sh_ok("! test -e /tmp/evil.txt && ! test -e /tmp/box-only/evil.txt && test \"$(ls /tmp/box-only)\" = secret");
    ok(&h, &["cp", "c:/up/etc/passwd", "/tmp/pw"]);
    assert_eq!(h.sh_ok("cat /tmp/pw"), "root:x:0:0:root:/root:/bin/sh\n");
    // A symbolic link is copied as a link, not followed, unless -L.
    ok(&h, &["cp", "c:/escape", "/tmp/link"]);
    assert_eq!(h.sh_ok("readlink /tmp/link"), "/\n");
    // What was written went to the container's layer.
    let diff = ok(&h, &["diff", "c"]);
    assert!(
        diff.contains("A /tmp/evil.txt") && diff.contains("C /abs"),
        "{diff}"
    );
    ok(&h, &["start", "c"]);
    assert_eq!(
        ok(&h, &["exec", "c", "cat", "/tmp/evil.txt", "/abs"]),
        "payload\npayload"
    );
    // The running container: hostile links still resolve inside it.
    let err = fails(&h, &["cp", "c:/abs/secret", "/tmp/got"], 1);
    assert!(err.contains("Could not find the file"), "{err}");
    ok(&h, &["cp", "/tmp/src", "c:/escape/srv"]);
    assert_eq!(ok(&h, &["exec", "c", "cat", "/srv/sub/f"]), "deep");
    h.sh_ok("! test -e /srv/sub");
    ok(&h, &["rm", "-f", "c"]);
}

#[test]
fn cp_both_ways_with_tar_streams_and_directories() {
    let Some(h) = host() else { return };
    import_busybox(
        &h,
        "bb:cp2",
        "mkdir -p $r/data/in && echo one > $r/data/in/a && ln -s a $r/data/in/l",
    );
    ok(&h, &["run", "-d", "--name", "r", "bb:cp2", "sleep", "1000"]);
    // Out: a directory into an existing directory, its contents with /., and to a new name.
    h.sh_ok("mkdir -p /tmp/out1 /tmp/out2");
    ok(&h, &["cp", "r:/data", "/tmp/out1"]);
    assert_eq!(
        h.sh_ok("cat /tmp/out1/data/in/a; readlink /tmp/out1/data/in/l"),
        "one\na\n"
    );
    ok(&h, &["cp", "r:/data/in/.", "/tmp/out2"]);
    assert_eq!(h.sh_ok("cat /tmp/out2/a"), "one\n");
    ok(&h, &["cp", "r:/data/in/a", "/tmp/renamed"]);
    assert_eq!(h.sh_ok("cat /tmp/renamed"), "one\n");
    // Out as a tar stream.
    let bin = env!("CARGO_BIN_EXE_minotaur");
    let listing = h.sh_ok(&format!("{bin} cp r:/data - | tar -tf - | sort"));
    assert_eq!(listing, "data/\ndata/in/\ndata/in/a\ndata/in/l\n");
    // In from a tar stream, into a directory; the destination must be one.
    h.sh_ok("mkdir -p /tmp/t && echo streamed > /tmp/t/s.txt");
    h.sh_ok(&format!("tar -C /tmp/t -cf - . | {bin} cp - r:/data"));
    assert_eq!(ok(&h, &["exec", "r", "cat", "/data/s.txt"]), "streamed");
    let out = h.sh(&format!("tar -C /tmp/t -cf - . | {bin} cp - r:/data/in/a"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "minotaur: destination \"/data/in/a\" must be a directory\n"
    );
    // A file onto a file replaces it; a directory onto a file is refused.
    ok(&h, &["cp", "/tmp/t/s.txt", "r:/data/in/a"]);
    assert_eq!(ok(&h, &["exec", "r", "cat", "/data/in/a"]), "streamed");
    let err = fails(&h, &["cp", "/tmp/t", "r:/data/in/a"], 1);
    assert!(err.contains("cannot copy a directory to a file"), "{err}");
    ok(&h, &["rm", "-f", "r"]);
}

#[test]
fn cp_on_the_host_image_and_read_only_roots() {
    let Some(h) = host() else { return };
    h.sh_ok("echo note > /tmp/note");
    ok(
        &h,
        &[
            "run", "-d", "--name", "hc", "-v", "hv:/data", "host", "sleep", "1000",
        ],
    );
    // Its private /tmp is writable; the host's files are not.
    ok(&h, &["cp", "/tmp/note", "hc:/tmp/copied"]);
    assert_eq!(ok(&h, &["exec", "hc", "cat", "/tmp/copied"]), "note");
    h.sh_ok("! test -e /tmp/copied");
    let err = fails(&h, &["cp", "/tmp/note", "hc:/etc/"], 1);
    assert_eq!(err, "minotaur: container rootfs is marked read-only\n");
    ok(&h, &["cp", "hc:/etc/os-release", "/tmp/os"]);
    assert_eq!(
        h.sh_ok("cmp /tmp/os /etc/os-release && echo same"),
        "same\n"
    );
    // Stopped: its volume still takes writes; its root does not.
    ok(&h, &["stop", "-t", "0", "hc"]);
    ok(&h, &["cp", "/tmp/note", "hc:/data/n"]);
    ok(&h, &["cp", "hc:/data/n", "/tmp/back"]);
    assert_eq!(h.sh_ok("cat /tmp/back"), "note\n");
    let err = fails(&h, &["cp", "/tmp/note", "hc:/tmp/"], 1);
    assert_eq!(err, "minotaur: container rootfs is marked read-only\n");
    // An image container with --read-only, stopped and running.
    import_busybox(&h, "bb:ro", "");
    ok(
        &h,
        &[
            "create",
            "--name",
            "ro",
            "--read-only",
            "bb:ro",
            "sleep",
            "1000",
        ],
    );
    let err = fails(&h, &["cp", "/tmp/note", "ro:/"], 1);
    assert_eq!(err, "minotaur: container rootfs is marked read-only\n");
    ok(&h, &["start", "ro"]);
    let err = fails(&h, &["cp", "/tmp/note", "ro:/"], 1);
    assert_eq!(err, "minotaur: container rootfs is marked read-only\n");
    ok(&h, &["cp", "ro:/etc/passwd", "/tmp/ro-passwd"]);
    assert_eq!(ok(&h, &["diff", "ro"]), "");
    ok(&h, &["rm", "-f", "hc", "ro"]);
}

#[test]
fn cp_bad_input() {
    let Some(h) = host() else { return };
    ok(&h, &["create", "--name", "b", "host", "true"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["cp", "nosuch:/etc", "/tmp/x"],
            "no such container: nosuch",
        ),
        (
            &["cp", "/tmp", "/var"],
            "must specify at least one container source",
        ),
        (
            &["cp", "b:/etc", "b:/tmp"],
            "copying between containers is not supported",
        ),
        (
            &["cp", "b:/nope", "/tmp/x"],
            "Could not find the file /nope in container b",
        ),
        (
            &["cp", "/nope", "b:/tmp"],
            "lstat /nope: no such file or directory",
        ),
        (
            &["cp", "b:/etc/hostname", "/nodir/x"],
            "invalid output path: directory /nodir does not exist",
        ),
        (
            &["cp", "b:/etc", "/etc/hostname"],
            "cannot copy a directory to a file: /etc/hostname",
        ),
    ];
    for (args, want) in cases {
        let err = fails(&h, args, 1);
        assert_eq!(err, format!("minotaur: {want}\n"), "{args:?}");
    }
}
