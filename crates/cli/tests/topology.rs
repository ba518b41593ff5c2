//! `whois`, `graph` and `why` in a throwaway host, checked against the standard tools: `ip`, `ss` and
//! `lsns` must agree with `whois`, Graphviz must render `graph --format dot`, and `why` must explain the
//! internal network, isolation between networks, a published port and a port nothing listens on, confirmed
//! by real connections. Traffic goes only to the box, its containers and the world behind its uplink.

mod common;

use common::{fails, host, inspect, ok, wait_until_ok};
use minotaur_testhost::{TestHost, BOX_UPLINK};
use serde_json::Value;

/// A web server container (busybox httpd from the host image) on port 80.
fn web(h: &TestHost, name: &str, extra: &[&str]) {
    h.sh_ok(&format!(
        "mkdir -p /tmp/www-{name} && echo {name} > /tmp/www-{name}/index.html"
    ));
    let vol = format!("/tmp/www-{name}:/srv:ro");
    let mut args = vec!["run", "-d", "--name", name, "-v", &vol];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["host", "busybox", "httpd", "-f", "-p", "80", "-h", "/srv"]);
    ok(h, &args);
    let ip = addr(h, name);
    if !ip.is_empty() {
        wait_until_ok(h, &format!("curl -sf -m 2 http://{ip}/"));
    }
}

fn addr(h: &TestHost, name: &str) -> String {
    inspect(
        h,
        name,
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    )
}

fn whois(h: &TestHost, target: &str) -> Vec<Value> {
    let out = ok(h, &["whois", "--format", "json", target]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn json(h: &TestHost, script: &str) -> Value {
    serde_json::from_str(&h.sh_ok(script)).unwrap()
}

#[test]
fn whois_agrees_with_ip_ss_and_lsns() {
    let Some(h) = host() else { return };
    web(&h, "web", &["-p", "8080:80"]);
    let ip = addr(&h, "web");
    let pid = inspect(&h, "web", "{{.State.Pid}}");

    // An address: the container, its namespace, its eth0 and the host end of the veth.
    let f = &whois(&h, &ip)[0];
    assert_eq!(f["container"]["name"], "web", "{f:#}");
    assert_eq!(f["owner"]["type"], "container");
    assert_eq!(f["networks"][0], "bridge");
    assert_eq!(f["interface"]["name"], "eth0");
    let ns = f["netns"]["inode"].as_u64().unwrap();
    // lsns names the same namespace for PID 1.
    let lsns = h.sh_ok(&format!("lsns -n -t net -o NS -p {pid}"));
    assert_eq!(lsns.trim(), ns.to_string(), "lsns -p {pid}");
    // ip agrees on the interface and the veth: the container is an `ip netns` name.
    let inside = json(&h, "ip -n web -j -d link show eth0")[0].clone();
    assert_eq!(f["interface"]["index"], inside["ifindex"], "{inside}");
    let veth = f["peer"]["name"].as_str().unwrap().to_owned();
    let outside = json(&h, &format!("ip -j -d link show {veth}"))[0].clone();
    assert_eq!(f["peer"]["index"], outside["ifindex"]);
    assert_eq!(inside["link_index"], outside["ifindex"], "eth0's peer");
    assert_eq!(
        outside["link_index"], inside["ifindex"],
        "the host end's peer"
    );
    assert_eq!(f["peer"]["bridge"], outside["master"]);
    let addrs = json(&h, "ip -n web -j addr show eth0");
    let local = addrs[0]["addr_info"][0]["local"].as_str().unwrap();
    assert_eq!(local, ip);

    // A container that joins web's namespace shares it: named, and the namespace stays web's.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "side",
            "--network",
            "container:web",
            "host",
            "sleep",
            "1000",
        ],
    );
    let f = &whois(&h, &ip)[0];
    assert_eq!(f["container"]["name"], "web", "{f:#}");
    assert_eq!(f["notes"][0], "shared with: side", "{f:#}");
    let side = inspect(&h, "side", "{{.State.Pid}}");
    let f = &whois(&h, &side)[0];
    assert_eq!(f["container"]["name"], "side", "{f:#}");
    assert_eq!(f["netns"]["owner"]["name"], "web", "{f:#}");

    // The host end of the veth: the same container, seen from the other side.
    let f = &whois(&h, &veth)[0];
    assert_eq!(f["container"]["name"], "web");
    assert_eq!(f["peer"]["name"], "eth0");
    assert_eq!(f["netns"]["inode"].as_u64(), Some(ns));

    // A published port: not a socket on the host (ss does not see it), but the container's.
    let ss_host = h.sh_ok("ss -Hltn 'sport = :8080'");
    assert_eq!(ss_host.trim(), "", "nothing listens on the host's 8080");
    let f = &whois(&h, ":8080")[0];
    assert_eq!(f["container"]["name"], "web", "{f:#}");
    assert_eq!(f["published"][0], format!("tcp *:8080 -> {ip}:80"));
    let ss_web = h.sh_ok("ss -N web -Hltnp 'sport = :80'");
    assert!(ss_web.contains(&format!("pid={pid},")), "{ss_web}");
    assert_eq!(f["listeners"][0]["port"], 80);
    assert!(
        f["listeners"][0]["processes"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!("{pid} ")),
        "{f:#}"
    );

    // PID 1, an exec'd process, and a host process.
    let f = &whois(&h, &pid)[0];
    assert_eq!(
        (
            f["container"]["name"].as_str(),
            f["process"]["role"].as_str()
        ),
        (Some("web"), Some("PID 1"))
    );
    let bin = env!("CARGO_BIN_EXE_minotaur");
    h.sh_ok(&format!("{bin} exec web sleep 777 >/dev/null 2>&1 &"));
    wait_until_ok(&h, "pgrep -fx 'sleep 777'");
    let exec_pid = h.sh_ok("pgrep -fx 'sleep 777'").trim().to_owned();
    let f = &whois(&h, &exec_pid)[0];
    assert_eq!(f["container"]["name"], "web", "{f:#}");
    assert_eq!(f["process"]["role"], "exec'd");
    let lsns = h.sh_ok(&format!("lsns -n -t net -o NS -p {exec_pid}"));
    assert_eq!(lsns.trim(), ns.to_string());
    let f = &whois(&h, "1")[0];
    assert_eq!(f["owner"]["type"], "host", "{f:#}");
    assert!(f["container"].is_null());

    // Namespaces minotaur did not make: an `ip netns` name with a veth to the host, and one held only by a
    // descriptor.
    h.sh_ok(
        "ip netns add blue
         ip link add vb0 type veth peer name vb1 netns blue
         ip -n blue addr add 10.9.0.2/24 dev vb1",
    );
    let blue = h.sh_ok("stat -L -c %i /run/netns/blue").trim().to_owned();
    let f = &whois(&h, &blue)[0];
    assert_eq!(
        f["owner"],
        serde_json::json!({"type": "ip-netns", "name": "blue"})
    );
    // (util-linux 2.38's lsns lists no namespace that only a bind mount holds; ip does.)
    let ids = h.sh_ok("ip netns exec blue stat -L -c %i /proc/self/ns/net");
    assert_eq!(ids.trim(), blue);
    let f = &whois(&h, "vb0")[0];
    assert_eq!(f["peer"]["name"], "vb1", "{f:#}");
    assert_eq!(f["peer"]["netns"].as_str().map(str::to_owned), None);
    assert_eq!(
        f["peer"]["netns"].as_u64().map(|n| n.to_string()),
        Some(blue.clone())
    );
    let f = &whois(&h, "10.9.0.2")[0];
    assert_eq!(f["owner"]["name"], "blue");
    h.sh_ok(
        "ip netns add held
         stat -L -c %i /run/netns/held > /tmp/held.ino
         sh -c 'exec 7</run/netns/held; exec sleep 778' >/dev/null 2>&1 &",
    );
    // Only once the descriptor is open is the name deleted (then the descriptor alone holds it).
    wait_until_ok(&h, "pgrep -fx 'sleep 778'");
    h.sh_ok("ip netns delete held");
    let held = h.sh_ok("cat /tmp/held.ino").trim().to_owned();
    let holder = h.sh_ok("pgrep -fx 'sleep 778'").trim().to_owned();
    let f = &whois(&h, &held)[0];
    assert_eq!(f["owner"]["type"], "descriptor", "{f:#}");
    assert_eq!(f["owner"]["pid"].to_string(), holder);
    assert_eq!(f["owner"]["fd"], 7);
}

#[test]
fn whois_bad_input_is_one_line() {
    let Some(h) = host() else { return };
    let e = fails(&h, &["whois", "no-such-if0"], 1);
    assert!(
        e.contains("no network namespace has an interface named no-such-if0"),
        "{e}"
    );
    let e = fails(&h, &["whois", ":9999"], 1);
    assert!(e.contains("nothing listens on port 9999"), "{e}");
    let e = fails(&h, &["whois", "203.0.113.99"], 1);
    assert!(
        e.contains("no interface of any network namespace has address 203.0.113.99"),
        "{e}"
    );
    let e = fails(&h, &["whois", "a b"], 1);
    assert!(
        e.contains("is not an address, an interface, :PORT, a PID or a namespace inode"),
        "{e}"
    );
    let e = fails(&h, &["whois", "4026599999"], 1);
    assert!(e.contains("no namespace with inode 4026599999"), "{e}");
}

#[test]
fn graph_draws_what_exists_in_every_format() {
    let Some(h) = host() else { return };
    ok(&h, &["network", "create", "front"]);
    web(&h, "web", &["--network", "front", "-p", "8080:80"]);
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "side",
            "--network",
            "container:web",
            "host",
            "sleep",
            "1000",
        ],
    );
    ok(
        &h,
        &["run", "-d", "--name", "lone", "host", "sleep", "1000"],
    );

    let text = ok(&h, &["graph"]);
    for want in [
        "network front",
        "web [running",
        "published tcp *:8080 -> 80",
        "side",
        "lone",
        "outside",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    // Graphviz reads the DOT and draws it.
    let dot = ok(&h, &["graph", "--format", "dot"]);
    std::fs::write(h.dir().join("g.dot"), &dot).unwrap();
    let svg = h.sh_ok(&format!("dot -Tsvg {}", h.dir().join("g.dot").display()));
    assert!(svg.contains("<svg") && svg.contains("web"), "{svg}");
    // The in-process SVG, Mermaid and JSON.
    let svg = ok(&h, &["graph", "--format", "svg"]);
    assert!(svg.contains("<svg") && svg.contains(">web<"), "{svg}");
    let mermaid = ok(&h, &["graph", "--format", "mermaid"]);
    assert!(
        mermaid.starts_with("flowchart LR") && mermaid.contains("\"web"),
        "{mermaid}"
    );
    let g: Value = serde_json::from_str(&ok(&h, &["graph", "--format", "json"])).unwrap();
    let nodes = g["nodes"].as_array().unwrap();
    let label_of = |id: &str| {
        nodes
            .iter()
            .find(|n| n["id"] == id)
            .map(|n| n["label"].as_str().unwrap().to_owned())
    };
    let edges = g["edges"].as_array().unwrap();
    // The veth edge joins the host end ip shows on the bridge to web's eth0.
    let web_ns = inspect(&h, "web", "{{.NetworkSettings.SandboxKey}}");
    let web_ino = h
        .sh_ok(&format!("stat -L -c %i {web_ns}"))
        .trim()
        .to_owned();
    let veth = edges
        .iter()
        .find(|e| {
            e["kind"] == "veth"
                && e["to"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("if:{web_ino}:"))
        })
        .expect("a veth into web's namespace");
    let host_end = label_of(veth["from"].as_str().unwrap()).unwrap();
    let bridge = ok(
        &h,
        &[
            "network",
            "inspect",
            "-f",
            "{{index .Options \"com.docker.network.bridge.name\"}}",
            "front",
        ],
    );
    let on_bridge = h.sh_ok(&format!("ip -o link show master {bridge}"));
    assert!(
        on_bridge.contains(&host_end),
        "{host_end} not on {bridge}: {on_bridge}"
    );
    // `side` shares web's namespace.
    let side = edges
        .iter()
        .find(|e| e["kind"] == "in" && e["label"] == "container:web")
        .expect("side's edge");
    assert_eq!(side["to"], format!("ns:{web_ino}"));

    // Only one network: lone (on the default bridge) is left out.
    let text = ok(&h, &["graph", "--network", "front"]);
    assert!(text.contains("web") && !text.contains("lone"), "{text}");
    let e = fails(&h, &["graph", "--network", "nope"], 1);
    assert!(e.contains("network nope not found"), "{e}");
}

/// `why`'s verdict, exit status and text.
fn why(h: &TestHost, args: &[&str]) -> (i32, String) {
    let mut full = vec!["why"];
    full.extend_from_slice(args);
    let out = h.mino(&full);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn why_explains_internal_networks_isolation_ports_and_refusals() {
    let Some(h) = host() else { return };
    ok(&h, &["network", "create", "front"]);
    ok(&h, &["network", "create", "other"]);
    ok(&h, &["network", "create", "--internal", "back"]);
    web(&h, "web", &["--network", "front", "-p", "8080:80"]);
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "api",
            "--network",
            "front",
            "host",
            "sleep",
            "1000",
        ],
    );
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "stranger",
            "--network",
            "other",
            "host",
            "sleep",
            "1000",
        ],
    );
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "db",
            "--network",
            "back",
            "host",
            "sleep",
            "1000",
        ],
    );

    // One network: reachable, and a real connection made it.
    let (code, text) = why(&h, &["api", "web:80"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("both on network front"), "{text}");
    assert!(
        text.contains("tcp connect to") && text.contains("from container api: reached"),
        "{text}"
    );

    // Isolation between networks, with the rule that drops it; the probe confirms it.
    let (code, text) = why(&h, &["stranger", "web:80"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("networks are isolated"), "{text}");
    assert!(
        text.contains("chain forward: iifname @bridges oifname @bridges drop"),
        "{text}"
    );
    assert!(!h
        .mino(&[
            "exec",
            "stranger",
            "curl",
            "-sf",
            "-m",
            "2",
            &format!("http://{}/", addr(&h, "web"))
        ])
        .status
        .success());

    // The internal network, both ways.
    let (code, text) = why(&h, &["db", "web:80"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("internal network back"), "{text}");
    assert!(
        text.contains("chain forward: iifname @internal drop"),
        "{text}"
    );
    let (code, text) = why(&h, &["db", "outside"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("internal network back"), "{text}");
    // ... and the host still reaches it.
    let (code, text) = why(&h, &["host", "db"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("ping to") && text.contains("reached"),
        "{text}"
    );

    // A published port from outside; the probe goes to the host's uplink address.
    let (code, text) = why(&h, &["outside", "web:80"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("tcp *:8080"), "{text}");
    assert!(
        text.contains("dnat ip to meta l4proto . th dport map @ports4"),
        "{text}"
    );
    assert!(text.contains(&format!("{BOX_UPLINK}:8080")), "{text}");
    let (code, text) = why(&h, &["outside", "api:80"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("is not published"), "{text}");

    // A port nothing listens on: the model allows it, the probe is refused.
    let (code, text) = why(&h, &["host", "web:81"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("nothing listens on") && text.contains(":81"),
        "{text}"
    );

    // Out through the host's NAT to the world's gateway.
    let (code, text) = why(&h, &["web", "outside"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("masquerade"), "{text}");

    // Bad input: a clear line and exit 2, not "unreachable".
    let e = fails(&h, &["why", "nosuch", "web"], 2);
    assert!(e.contains("no such container: nosuch"), "{e}");
    let e = fails(&h, &["why", "web", "web:0"], 2);
    assert!(
        e.contains("the port must be a number from 1 to 65535"),
        "{e}"
    );
}
