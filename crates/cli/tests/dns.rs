//! `minotaur dns-serve`, the hidden subcommand that runs the containers' DNS server, inside a test box: it
//! answers its records, forwards other names through the box's upstream (the world's DNS server), reloads on
//! SIGHUP and exits when the configuration names no network. The protocol and the answers in detail are
//! tested in crates/dns/tests/server.rs.

use minotaur_testhost::{wait_until, TestHost, WORLD_DNS, WORLD_HTTP, WORLD_NAME};

fn host() -> Option<TestHost> {
    TestHost::new(env!("CARGO_BIN_EXE_minotaur"))
}

fn config(records: &str) -> String {
    format!(
        r#"{{"listeners":[{{"address":"127.0.0.10","network":"front","internal":false,
            "records":[{records}]}}],"upstreams":["{WORLD_DNS}:53"]}}"#
    )
}

#[test]
fn dns_serve_answers_forwards_reloads_and_exits() {
    let Some(h) = host() else { return };
    let web = r#"{"names":["web","www"],"addresses":["10.89.0.2"]}"#;
    h.sh_ok(&format!(
        "mkdir -p /run/dns && printf '%s' '{}' > /run/dns/config.json",
        config(web)
    ));
    let mut server = h
        .minotaur()
        .args(["dns-serve", "--dir", "/run/dns"])
        .spawn()
        .unwrap();
    let dig = |args: &str| {
        let out = h.sh(&format!("dig +time=1 +tries=1 +short @127.0.0.10 {args}"));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    wait_until("the server to answer", || Ok(dig("web") == "10.89.0.2")).unwrap();
    assert_eq!(dig("WWW."), "10.89.0.2");
    assert_eq!(dig("-x 10.89.0.2"), "web.");
    // Not a container's name: forwarded to the box's upstream, the world's DNS server.
    assert_eq!(dig(WORLD_NAME), WORLD_HTTP);

    let db = r#"{"names":["db"],"addresses":["10.89.0.3"]}"#;
    h.sh_ok(&format!(
        "printf '%s' '{}' > /run/dns/config.json && kill -HUP $(cat /run/dns/lock)",
        config(&format!("{web},{db}"))
    ));
    wait_until("the reload", || Ok(dig("db") == "10.89.0.3")).unwrap();

    h.sh_ok(r#"printf '{"listeners":[],"upstreams":[]}' > /run/dns/config.json && kill -HUP $(cat /run/dns/lock)"#);
    // nsenter waits for the server, its child.
    let status = server.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(h.sh_ok("cat /run/dns/lock"), "");
    let gone = dig("web");
    assert!(gone.contains("connection refused"), "{gone}");
}

#[test]
fn dns_serve_is_hidden_and_says_what_it_cannot_read() {
    let Some(h) = host() else { return };
    let help = h.mino(&["--help"]);
    assert!(!String::from_utf8_lossy(&help.stdout).contains("dns-serve"));
    h.sh_ok("mkdir -p /run/bad && printf '{' > /run/bad/config.json");
    let out = h.mino(&["dns-serve", "--dir", "/run/bad"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("minotaur: cannot parse /run/bad/config.json"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn dns_serve_reads_its_records_without_inotify() {
    let Some(h) = host() else { return };
    // A user namespace of its own whose inotify budget is nil (`user.max_inotify_instances` is per user
    // namespace; the real host's is not touched), as for a server whose user a container has drained.
    // Port 5353: a port below 1024 is not this user namespace's to bind in the box's network namespace.
    h.sh_ok(r#"mkdir -p /run/dns2 && printf '{"listeners":[{"address":"127.0.0.11","network":"front","internal":false,"records":[]}],"upstreams":[]}' > /run/dns2/config.json"#);
    let server = h
        .command("unshare")
        .args([
            "-U",
            "-r",
            "sh",
            "-c",
            "echo 0 > /proc/sys/user/max_inotify_instances && exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_minotaur"),
            "dns-serve",
            "--dir",
            "/run/dns2",
            "--port",
            "5353",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting the server");
    let dig = |name: &str| {
        let out = h.sh(&format!(
            "dig +time=1 +tries=1 +short -p 5353 @127.0.0.11 {name}"
        ));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    // A record file written after the start, as the engine writes one (a rename into place), is answered.
    wait_until("the server to start", || {
        Ok(!h.sh_ok("cat /run/dns2/lock 2>/dev/null || true").is_empty())
    })
    .unwrap();
    h.sh_ok(r#"mkdir -p /run/dns2/records && printf '[{"network":"front","names":["late"],"addresses":["10.89.0.9"]}]' > /run/dns2/records/.c1 && mv /run/dns2/records/.c1 /run/dns2/records/c1.json"#);
    wait_until("the record to be answered", || {
        Ok(dig("late") == "10.89.0.9")
    })
    .unwrap();
    h.sh_ok("rm /run/dns2/records/c1.json");
    wait_until("the record to go", || Ok(dig("late").is_empty())).unwrap();
    h.sh_ok(r#"printf '{"listeners":[],"upstreams":[]}' > /run/dns2/config.json && kill -HUP $(cat /run/dns2/lock)"#);
    let out = server.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("no inotify left"), "{err}");
}

/// A server handed its listeners' sockets (`--listen-fds UDP:TCP`, as the engine's holder of the
/// listeners starts one through an exec) answers the query that came before it existed, waiting in the
/// UDP socket, and serves TCP on the handed listener; it binds nothing itself.
#[test]
fn dns_serve_answers_on_handed_sockets_what_came_before_it() {
    let Some(h) = host() else { return };
    let web = r#"{"names":["web"],"addresses":["10.89.0.2"]}"#;
    let config = config(web).replace("127.0.0.10", "127.0.0.12");
    h.sh_ok(&format!(
        "mkdir -p /run/dns3 && printf '%s' '{config}' > /run/dns3/config.json"
    ));
    // Python binds both sockets, sends the first query meanwhile (dig, in the background), then becomes
    // the server with the sockets inherited.
    let script = r#"
import os, socket, subprocess, sys, time
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.12", 53))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM); tcp.bind(("127.0.0.12", 53)); tcp.listen(16)
subprocess.Popen("dig +time=10 +tries=1 +short @127.0.0.12 web > /run/dns3/early.tmp; mv /run/dns3/early.tmp /run/dns3/early", shell=True)
time.sleep(0.5)
fds = (udp.fileno(), tcp.fileno())
for fd in fds: os.set_inheritable(fd, True)
os.execv(sys.argv[1], [sys.argv[1], "dns-serve", "--dir", "/run/dns3", "--listen-fds", "%d:%d" % fds])
"#;
    let mut server = h
        .command("python3")
        .args(["-c", script, env!("CARGO_BIN_EXE_minotaur")])
        .spawn()
        .unwrap();
    wait_until("the early query's answer", || {
        Ok(h.sh_ok("cat /run/dns3/early 2>/dev/null || true").trim() == "10.89.0.2")
    })
    .unwrap();
    let tcp = h.sh_ok("dig +tcp +time=1 +tries=1 +short @127.0.0.12 web");
    assert_eq!(tcp.trim(), "10.89.0.2");
    h.sh_ok(r#"printf '{"listeners":[],"upstreams":[]}' > /run/dns3/config.json && kill -HUP $(cat /run/dns3/lock)"#);
    let status = server.wait().unwrap();
    assert!(status.success(), "{status}");
}
