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
