//! Container networks in a throwaway host with a simulated outside world: the default bridge, user-defined
//! and internal networks, NAT, isolation, published ports (from the host's localhost, from outside, hairpin),
//! names and aliases, `container:X`, `ip netns` on containers, IPv6, concurrency and clean removal. Every
//! check uses the standard tools (iproute2, curl, getent, nft) inside the box; traffic goes only to the box,
//! its containers and the world namespace behind its uplink.

mod common;

use common::{fails, host, inspect, ok, wait_until_ok};
use minotaur_testhost::{TestHost, BOX_UPLINK, WORLD_HTTP, WORLD_NAME, WORLD_PAGE};

/// A web server container serving `page` on port 80 (busybox httpd from the host image).
fn web(h: &TestHost, name: &str, page: &str, extra: &[&str]) -> String {
    let dir = format!("/tmp/www-{name}");
    h.sh_ok(&format!(
        "mkdir -p {dir} && echo '{page}' > {dir}/index.html"
    ));
    let vol = format!("{dir}:/srv:ro");
    let mut args = vec!["run", "-d", "--name", name, "-v", &vol];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["host", "busybox", "httpd", "-f", "-p", "80", "-h", "/srv"]);
    let id = ok(h, &args);
    let ip = inspect(
        h,
        name,
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    if !ip.is_empty() {
        wait_until_ok(h, &format!("curl -sf -m 2 http://{ip}/"));
    }
    id
}

fn curl(h: &TestHost, url: &str) -> String {
    h.sh_ok(&format!("curl -sS -m 5 {url}")).trim().to_owned()
}

/// The minotaur command line `how` (say `["run", "--rm", "host"]`, or `["exec", "web"]`) running
/// `curl -sS -m SECONDS URL`.
fn curl_args<'a>(how: &[&'a str], seconds: &'a str, url: &'a str) -> Vec<&'a str> {
    let mut args = how.to_vec();
    args.extend_from_slice(&["curl", "-sS", "-m", seconds, url]);
    args
}

/// What `curl URL` prints, run by minotaur as `how` says; it must succeed.
fn curl_in(h: &TestHost, how: &[&str], url: &str) -> String {
    ok(h, &curl_args(how, "5", url))
}

/// Whether `curl URL`, run by minotaur as `how` says, fails within 2 s.
fn curl_fails_in(h: &TestHost, how: &[&str], url: &str) -> bool {
    !h.mino(&curl_args(how, "2", url)).status.success()
}

/// Whether a script (a connection attempt) in the box fails.
fn unreachable(h: &TestHost, script: &str) -> bool {
    !h.sh(script).status.success()
}

/// No network object of the containers is left: veths, /run/netns and /etc/netns entries (and their aliases), published-port
/// elements, the resolver's record files; and the resolver has exited.
fn assert_network_clean(h: &TestHost) {
    // The kernel reaps a deleted namespace's veth asynchronously.
    wait_until_ok(h, "! ip -o link show type veth | grep -v uplink0");
    assert_eq!(
        h.sh_ok("ls -A /run/netns 2>/dev/null || true"),
        "",
        "/run/netns left"
    );
    assert_eq!(
        h.sh_ok("ls -A /etc/netns 2>/dev/null || true"),
        "",
        "/etc/netns left"
    );
    assert_eq!(
        h.sh_ok("ls -A /run/minotaur/ipnetns 2>/dev/null || true"),
        "",
        "the /etc/netns entries' aliases left"
    );
    let ports = h.sh_ok(
        "for m in ports4 ports4_host ports6 ports6_host; do nft list map inet minotaur $m 2>/dev/null; done",
    );
    assert!(
        !ports.contains("elements"),
        "published-port elements left: {ports}"
    );
    wait_until_ok(h, "! pgrep -f 'dns-serv[e]'");
    assert_eq!(
        h.sh_ok("ls -A /run/minotaur/dns/records 2>/dev/null || true"),
        "",
        "resolver records left"
    );
}

#[test]
fn default_bridge_reaches_the_host_and_the_outside_through_nat() {
    let Some(h) = host() else { return };
    let id = web(&h, "web", "hello from web", &[]);
    // Docker's shape: an address on the default network, its gateway on the bridge.
    let ip = inspect(&h, "web", "{{.NetworkSettings.IPAddress}}");
    let gw = inspect(&h, "web", "{{.NetworkSettings.Gateway}}");
    assert_eq!(
        inspect(&h, "web", "{{.NetworkSettings.Networks.bridge.IPAddress}}"),
        ip
    );
    assert!(ip.starts_with("172.17."), "{ip}");
    assert_eq!(gw, "172.17.0.1");
    let mac = inspect(&h, "web", "{{.NetworkSettings.MacAddress}}");
    assert!(mac.starts_with("02:42:ac:11:"), "{mac}");
    assert!(h
        .sh_ok("ip -o addr show minotaur0")
        .contains("172.17.0.1/16"));
    // The container side, seen with iproute2 through the SandboxKey.
    let key = inspect(&h, "web", "{{.NetworkSettings.SandboxKey}}");
    let inside = h.sh_ok(&format!("nsenter --net={key} ip -o addr show eth0"));
    assert!(inside.contains(&format!("{ip}/16")), "{inside}");
    let routes = h.sh_ok(&format!("nsenter --net={key} ip route"));
    assert!(routes.contains(&format!("default via {gw}")), "{routes}");
    // The veth's host end sits on the bridge.
    let on_bridge = h.sh_ok("ip -o link show master minotaur0");
    assert!(
        on_bridge.contains(&format!("mt{}0", &id[..10])),
        "{on_bridge}"
    );
    // No IPv6 on an IPv4 network: neither end has an address to announce, so a start floods nothing to the
    // other containers on the bridge.
    let host_end = format!("mt{}0", &id[..10]);
    assert_eq!(h.sh_ok(&format!("ip -6 -o addr show dev {host_end}")), "");
    assert_eq!(
        h.sh_ok(&format!(
            "cat /proc/sys/net/ipv6/conf/{host_end}/disable_ipv6"
        ))
        .trim(),
        "1"
    );
    assert_eq!(
        h.sh_ok(&format!("nsenter --net={key} ip -6 -o addr show dev eth0")),
        ""
    );

    // Host -> container by address.
    assert_eq!(curl(&h, &format!("http://{ip}/")), "hello from web");
    // Container -> outside, through masquerade (the world has no route back to 172.17.0.0/16).
    assert_eq!(
        curl_in(
            &h,
            &["run", "--rm", "host"],
            &format!("http://{WORLD_HTTP}/")
        ),
        WORLD_PAGE
    );
    // Names outside resolve through the network's resolver, forwarded past the box's 127.0.0.53 stub.
    let resolved = ok(&h, &["run", "--rm", "host", "getent", "hosts", WORLD_NAME]);
    assert!(resolved.starts_with(WORLD_HTTP), "{resolved}");
    let resolv = ok(&h, &["exec", "web", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains(&format!("nameserver {gw}")), "{resolv}");
    // /etc/hosts names the container.
    let hosts = ok(&h, &["exec", "web", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{ip}\t{}", &id[..12])), "{hosts}");

    ok(&h, &["rm", "-f", "web"]);
    assert_network_clean(&h);
    common::assert_clean(&h, &[id]);
}

#[test]
fn an_internal_network_keeps_its_containers_off_the_outside_while_the_host_reaches_them() {
    let Some(h) = host() else { return };
    ok(&h, &["network", "create", "--internal", "backend"]);
    web(&h, "app", "internal app", &["--network", "backend"]);
    let ip = inspect(&h, "app", "{{.NetworkSettings.Networks.backend.IPAddress}}");
    // The host reaches it.
    assert_eq!(curl(&h, &format!("http://{ip}/")), "internal app");
    // It has no default route and reaches nothing outside.
    let routes = ok(&h, &["exec", "app", "ip", "route"]);
    assert!(!routes.contains("default"), "{routes}");
    assert!(
        curl_fails_in(&h, &["exec", "app"], &format!("http://{WORLD_HTTP}/")),
        "an internal container reached the outside"
    );
    // Even with a route added by hand, the firewall forwards nothing out of an internal network.
    let key = inspect(&h, "app", "{{.NetworkSettings.SandboxKey}}");
    let gw = inspect(&h, "app", "{{.NetworkSettings.Networks.backend.Gateway}}");
    h.sh_ok(&format!(
        "nsenter --net={key} ip route add default via {gw}"
    ));
    assert!(unreachable(
        &h,
        &format!("nsenter --net={key} curl -sS -m 2 http://{WORLD_HTTP}/")
    ));
    // Its resolver answers container names but forwards nothing.
    let name = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "backend",
            "host",
            "getent",
            "hosts",
            "app",
        ],
    );
    assert!(name.starts_with(&ip), "{name}");
    let out = h.mino(&[
        "run",
        "--rm",
        "--network",
        "backend",
        "host",
        "getent",
        "hosts",
        WORLD_NAME,
    ]);
    assert!(
        !out.status.success(),
        "an internal network resolved an outside name"
    );
    // Publishing from a container that is only on internal networks is refused, and leaves nothing.
    let err = fails(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "pub",
            "--network",
            "backend",
            "-p",
            "8080:80",
            "host",
            "true",
        ],
        125,
    );
    assert!(err.contains("only on internal networks"), "{err}");
    assert!(h.mino(&["inspect", "pub"]).status.code() != Some(0));
    // A network in use is not removed.
    let err = fails(&h, &["network", "rm", "backend"], 1);
    assert!(err.contains("in use by container(s) app"), "{err}");
    ok(&h, &["rm", "-f", "app"]);
    ok(&h, &["network", "rm", "backend"]);
    assert_network_clean(&h);
    assert!(!h.sh_ok("ip -o link").contains("mt-"), "bridge left");
}

#[test]
fn networks_are_isolated_from_each_other() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &["network", "create", "--subnet", "10.31.0.0/24", "red"],
    );
    ok(
        &h,
        &["network", "create", "--subnet", "10.32.0.0/24", "blue"],
    );
    web(&h, "r", "red", &["--network", "red"]);
    web(&h, "b", "blue", &["--network", "blue"]);
    let r = inspect(&h, "r", "{{.NetworkSettings.Networks.red.IPAddress}}");
    let b = inspect(&h, "b", "{{.NetworkSettings.Networks.blue.IPAddress}}");
    assert_eq!(r, "10.31.0.2");
    assert_eq!(b, "10.32.0.2");
    // Same network: reachable, by name too. Other network: not.
    assert_eq!(
        curl_in(
            &h,
            &["run", "--rm", "--network", "red", "host"],
            "http://r/"
        ),
        "red"
    );
    assert!(
        curl_fails_in(
            &h,
            &["run", "--rm", "--network", "red", "host"],
            &format!("http://{b}/")
        ),
        "red reached blue"
    );
    let out = h.mino(&[
        "run",
        "--rm",
        "--network",
        "red",
        "host",
        "getent",
        "hosts",
        "b",
    ]);
    assert!(
        !out.status.success(),
        "red resolved a blue container's name"
    );
    // Not even by asking blue's resolver, which the host's routing lets it reach.
    let blue_gw = inspect(&h, "b", "{{.NetworkSettings.Networks.blue.Gateway}}");
    let at = format!("@{blue_gw}");
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "--network",
                "red",
                "host",
                "dig",
                "+short",
                &at,
                "b"
            ]
        ),
        ""
    );
    assert_eq!(
        h.sh_ok(&format!("dig +short {at} b")).trim(),
        b,
        "the host asks blue's resolver"
    );
    // A container on both reaches both.
    ok(
        &h,
        &[
            "create",
            "--name",
            "both",
            "--network",
            "red",
            "host",
            "sleep",
            "1000",
        ],
    );
    ok(&h, &["network", "connect", "blue", "both"]);
    ok(&h, &["start", "both"]);
    assert_eq!(curl_in(&h, &["exec", "both"], "http://b/"), "blue");
    assert_eq!(curl_in(&h, &["exec", "both"], "http://r/"), "red");
    ok(&h, &["network", "disconnect", "blue", "both"]);
    let links = ok(&h, &["exec", "both", "ip", "-o", "link"]);
    assert!(!links.contains("eth1"), "{links}");
    ok(&h, &["rm", "-f", "r", "b", "both"]);
    ok(&h, &["network", "rm", "red", "blue"]);
    assert_network_clean(&h);
}

#[test]
fn published_ports_reach_the_container_from_localhost_outside_and_other_containers() {
    let Some(h) = host() else { return };
    web(
        &h,
        "pub",
        "published",
        &["-p", "8080:80", "-p", "127.0.0.1:8081:80", "-p", "90/udp"],
    );
    let ports = ok(&h, &["port", "pub"]);
    assert!(ports.contains("80/tcp -> 0.0.0.0:8080"), "{ports}");
    assert!(ports.contains("80/tcp -> 127.0.0.1:8081"), "{ports}");
    assert!(ports.contains("90/udp -> 0.0.0.0:32768"), "{ports}");
    assert_eq!(
        ok(&h, &["port", "pub", "80/tcp"]),
        "0.0.0.0:8080\n127.0.0.1:8081"
    );
    let ps = ok(&h, &["ps", "--format", "{{.Ports}}"]);
    assert!(ps.contains("0.0.0.0:8080->80/tcp"), "{ps}");
    assert_eq!(
        inspect(
            &h,
            "pub",
            "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}"
        ),
        "8080"
    );
    // From the host's own localhost and its uplink address.
    assert_eq!(curl(&h, "http://127.0.0.1:8080/"), "published");
    assert_eq!(curl(&h, "http://127.0.0.1:8081/"), "published");
    assert_eq!(curl(&h, &format!("http://{BOX_UPLINK}:8080/")), "published");
    // From the outside world.
    assert_eq!(
        h.world_sh_ok(&format!("curl -sS -m 5 http://{BOX_UPLINK}:8080/"))
            .trim(),
        "published"
    );
    // A port tied to 127.0.0.1 is not reachable from outside.
    assert!(h
        .world_sh_ok(&format!(
            "curl -sS -m 2 http://{BOX_UPLINK}:8081/ || echo refused"
        ))
        .contains("refused"));
    // Hairpin: another container, and the container itself, through the host's address.
    let hairpin = format!("http://{BOX_UPLINK}:8080/");
    assert_eq!(curl_in(&h, &["run", "--rm", "host"], &hairpin), "published");
    assert_eq!(curl_in(&h, &["exec", "pub"], &hairpin), "published");
    // A second container cannot take the same host port.
    let err = fails(
        &h,
        &[
            "run", "-d", "--name", "dup", "-p", "8080:80", "host", "true",
        ],
        125,
    );
    assert!(
        err.contains("8080") && err.contains("already published"),
        "{err}"
    );
    assert!(
        h.mino(&["inspect", "dup"]).status.code() != Some(0),
        "dup left a record"
    );
    // -P publishes what --expose (or the image) exposes, on the lowest free ephemeral port.
    web(&h, "all", "all", &["-P", "--expose", "80"]);
    assert_eq!(ok(&h, &["port", "all"]), "80/tcp -> 0.0.0.0:32768");
    assert_eq!(curl(&h, "http://127.0.0.1:32768/"), "all");
    ok(&h, &["rm", "-f", "all"]);
    // Kernel DNAT, no proxy process: nothing in the box listens on 8080.
    assert!(!h.sh_ok("ss -Htln").contains(":8080"), "a proxy listens");

    // After someone flushes the ruleset, `network reload` restores the rules.
    h.sh_ok("nft flush ruleset");
    assert!(unreachable(&h, "curl -sS -m 2 http://127.0.0.1:8080/"));
    ok(&h, &["network", "reload"]);
    assert_eq!(curl(&h, "http://127.0.0.1:8080/"), "published");

    // A flush before the next publishing run is repaired by that run.
    h.sh_ok("nft flush ruleset");
    web(&h, "next", "next", &["-p", "8082:80"]);
    assert_eq!(curl(&h, "http://127.0.0.1:8082/"), "next");
    assert_eq!(curl(&h, "http://127.0.0.1:8080/"), "published");
    ok(&h, &["rm", "-f", "next"]);

    ok(&h, &["rm", "-f", "pub"]);
    assert!(unreachable(&h, "curl -sS -m 2 http://127.0.0.1:8080/"));
    assert_network_clean(&h);
}

/// A process of the connect cgroup that connects to a published port on 127.0.0.0/8 is connected to the
/// container itself (its peer is the container's address); other processes go through the DNAT. The map
/// follows `rm` and `network reload`.
#[test]
fn loopback_connections_from_the_connect_cgroup_go_straight_to_the_container() {
    let Some(h) = host() else { return };
    let Some(cg) = h.connect_cgroup() else {
        eprintln!("skipped: no cgroup v2");
        return;
    };
    web(
        &h,
        "direct",
        "direct",
        &["-p", "8090:80", "-p", "127.0.0.2:8091:80"],
    );
    let ip = inspect(&h, "direct", "{{.NetworkSettings.IPAddress}}");
    let peer = |joined: bool, url: &str| {
        let join = if joined {
            format!("echo $$ > {}/cgroup.procs && ", cg.display())
        } else {
            String::new()
        };
        h.sh(&format!(
            "{join}exec curl -sS -m 5 -o /dev/null -w '%{{remote_ip}} %{{http_code}}' {url}"
        ))
    };
    let out = |o: std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        out(peer(true, "http://127.0.0.1:8090/")),
        format!("{ip} 200")
    );
    assert_eq!(
        out(peer(true, "http://127.0.0.2:8091/")),
        format!("{ip} 200")
    );
    // From a socket bound to 127.0.0.1 too (masqueraded on the way out, or the answer could not come back).
    assert_eq!(
        out(peer(true, "--interface 127.0.0.1 http://127.0.0.1:8090/")),
        format!("{ip} 200")
    );
    // Outside the cgroup, the DNAT: the peer is the address connected to.
    assert_eq!(out(peer(false, "http://127.0.0.1:8090/")), "127.0.0.1 200");
    // A port nobody published is not redirected.
    assert!(!peer(true, "http://127.0.0.1:8093/").status.success());
    // The rules and the map come back with `network reload` after a flush.
    h.sh_ok("nft flush ruleset");
    ok(&h, &["network", "reload"]);
    assert_eq!(
        out(peer(true, "http://127.0.0.1:8090/")),
        format!("{ip} 200")
    );
    assert_eq!(out(peer(false, "http://127.0.0.1:8090/")), "127.0.0.1 200");
    ok(&h, &["rm", "-f", "direct"]);
    assert!(!peer(true, "http://127.0.0.1:8090/").status.success());
    // Removed with the redirect turned off, a container's entries still go: the next container given its
    // address must not receive connections to the port it no longer publishes.
    web(&h, "gone", "gone", &["-p", "8094:80"]);
    let gone_ip = inspect(&h, "gone", "{{.NetworkSettings.IPAddress}}");
    let rm = h
        .minotaur()
        .env("MINOTAUR_CONNECT_CGROUP", "none")
        .args(["rm", "-f", "gone"])
        .output()
        .unwrap();
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    web(&h, "heir", "heir", &[]);
    assert_eq!(
        inspect(&h, "heir", "{{.NetworkSettings.IPAddress}}"),
        gone_ip
    );
    assert!(!peer(true, "http://127.0.0.1:8094/").status.success());
    ok(&h, &["rm", "-f", "heir"]);
    assert_network_clean(&h);
}

#[test]
fn names_and_aliases_resolve_between_containers_with_ptr_records() {
    let Some(h) = host() else { return };
    ok(&h, &["network", "create", "app"]);
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "db",
            "--network",
            "app",
            "--network-alias",
            "database",
            "host",
            "sleep",
            "1000",
        ],
    );
    let ip = inspect(&h, "db", "{{.NetworkSettings.Networks.app.IPAddress}}");
    assert_eq!(
        inspect(&h, "db", "{{json .NetworkSettings.Networks.app.Aliases}}"),
        "[\"database\"]"
    );
    for name in ["db", "database", "DB"] {
        let got = ok(
            &h,
            &[
                "run",
                "--rm",
                "--network",
                "app",
                "host",
                "getent",
                "hosts",
                name,
            ],
        );
        assert!(got.starts_with(&format!("{ip} ")), "{name}: {got}");
    }
    // Reverse lookup names the container.
    let gw = inspect(&h, "db", "{{.NetworkSettings.Networks.app.Gateway}}");
    let ptr = h.sh_ok(&format!("dig +short @{gw} -x {ip}"));
    assert_eq!(ptr.trim(), "db.");
    // dig straight at the resolver, as a user debugging would.
    assert_eq!(h.sh_ok(&format!("dig +short @{gw} database")).trim(), ip);
    // Renaming moves the name.
    ok(&h, &["rename", "db", "store"]);
    assert_eq!(h.sh_ok(&format!("dig +short @{gw} store")).trim(), ip);
    assert_eq!(h.sh_ok(&format!("dig +short @{gw} db")).trim(), "");
    ok(&h, &["rm", "-f", "store"]);
    ok(&h, &["network", "rm", "app"]);
    assert_network_clean(&h);
}

#[test]
fn a_container_x_joiner_keeps_its_network_when_x_restarts() {
    let Some(h) = host() else { return };
    ok(&h, &["run", "-d", "--name", "x", "host", "sleep", "1000"]);
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "side",
            "--network",
            "container:x",
            "host",
            "sleep",
            "1000",
        ],
    );
    let theirs = ok(&h, &["exec", "x", "ip", "-o", "addr", "show", "eth0"]);
    assert_eq!(
        ok(&h, &["exec", "side", "ip", "-o", "addr", "show", "eth0"]),
        theirs
    );
    ok(&h, &["restart", "-t", "0", "x"]);
    // The namespace lives on its own: same interfaces and address after X's process was replaced.
    assert_eq!(
        ok(&h, &["exec", "side", "ip", "-o", "addr", "show", "eth0"]),
        theirs
    );
    assert_eq!(
        ok(&h, &["exec", "x", "ip", "-o", "addr", "show", "eth0"]),
        theirs
    );
    ok(&h, &["rm", "-f", "side", "x"]);
    assert_network_clean(&h);
}

#[test]
fn ip_netns_works_on_containers_by_name() {
    let Some(h) = host() else { return };
    web(&h, "shop", "shop", &[]);
    let ip = inspect(&h, "shop", "{{.NetworkSettings.IPAddress}}");
    assert!(h.sh_ok("ip netns list").contains("shop"));
    let addr = h.sh_ok("ip netns exec shop ip -o -4 addr show eth0");
    assert!(addr.contains(&format!("{ip}/")), "{addr}");
    // Name resolution inside `ip netns exec` works as in the container, behind the box's 127.0.0.53 stub.
    let got = h.sh_ok(&format!("ip netns exec shop getent hosts {WORLD_NAME}"));
    assert!(got.starts_with(WORLD_HTTP), "{got}");
    assert_eq!(
        h.sh_ok("cat /etc/netns/shop/resolv.conf"),
        ok(&h, &["exec", "shop", "cat", "/etc/resolv.conf"]) + "\n"
    );
    // The SandboxKey with util-linux nsenter.
    let key = inspect(&h, "shop", "{{.NetworkSettings.SandboxKey}}");
    assert_eq!(
        h.sh_ok(&format!("nsenter --net={key} ip -o -4 addr show eth0")),
        addr
    );
    // The namespace files of the box's containers are not copied into a host-image container's mounts (their
    // number would make every container start slower and weigh more).
    ok(
        &h,
        &["run", "-d", "--name", "other", "host", "sleep", "1000"],
    );
    assert_eq!(
        ok(
            &h,
            &[
                "exec",
                "shop",
                "sh",
                "-c",
                "grep minotaur/netns /proc/self/mountinfo || true"
            ]
        ),
        ""
    );
    ok(&h, &["rm", "-f", "other"]);
    // minotaur's own netns tool sees it too.
    assert!(ok(&h, &["netns", "list"]).contains("shop"));
    ok(&h, &["rm", "-f", "shop"]);
    assert!(!h.sh_ok("ip netns list").contains("shop"));
    assert_network_clean(&h);
}

#[test]
fn ipv6_dual_stack_on_request() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &[
            "network",
            "create",
            "--ipv6",
            "--subnet",
            "fd00:10::/64",
            "dual",
        ],
    );
    web(&h, "six", "over six", &["--network", "dual"]);
    let v6 = inspect(
        &h,
        "six",
        "{{.NetworkSettings.Networks.dual.GlobalIPv6Address}}",
    );
    let v4 = inspect(&h, "six", "{{.NetworkSettings.Networks.dual.IPAddress}}");
    assert_eq!(v6, "fd00:10::2");
    assert!(!v4.is_empty());
    assert_eq!(curl(&h, &format!("http://[{v6}]/")), "over six");
    assert_eq!(
        curl_in(
            &h,
            &["run", "--rm", "--network", "dual", "host"],
            &format!("http://[{v6}]/")
        ),
        "over six"
    );
    let aaaa = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "dual",
            "host",
            "getent",
            "ahostsv6",
            "six",
        ],
    );
    assert!(aaaa.contains(&v6), "{aaaa}");
    ok(&h, &["rm", "-f", "six"]);
    ok(&h, &["network", "rm", "dual"]);
    assert_network_clean(&h);
}

#[test]
fn fifty_concurrent_runs_on_one_network_get_distinct_addresses() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &["network", "create", "--subnet", "10.40.0.0/24", "busy"],
    );
    let mut pids = Vec::new();
    for i in 1..=50 {
        let child = h
            .minotaur()
            .args([
                "run",
                "-d",
                "--name",
                &format!("c{i}"),
                "--network",
                "busy",
                "host",
                "sleep",
                "1000",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        pids.push(child);
    }
    for child in pids {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ips = h.sh_ok(
        "for i in $(seq 1 50); do ip netns exec c$i ip -o -4 addr show eth0 | awk '{print $4}'; done | sort -u",
    );
    assert_eq!(ips.lines().count(), 50, "{ips}");
    let names: Vec<String> = (1..=50).map(|i| format!("c{i}")).collect();
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    ok(&h, &args);
    ok(&h, &["network", "rm", "busy"]);
    assert_network_clean(&h);
}

#[test]
fn bad_network_input_is_refused_with_one_line_and_nothing_left() {
    let Some(h) = host() else { return };
    let one_line = |s: &str| assert_eq!(s.trim().lines().count(), 1, "{s}");
    let err = fails(
        &h,
        &["run", "--rm", "--network", "nope", "host", "true"],
        125,
    );
    assert!(err.contains("network nope not found"), "{err}");
    one_line(&err);
    let err = fails(
        &h,
        &["network", "create", "--subnet", "10.50.0.1/24", "x"],
        1,
    );
    assert!(err.contains("host bits"), "{err}");
    let err = fails(
        &h,
        &["network", "create", "--subnet", "10.50.0.0/33", "x"],
        1,
    );
    assert!(err.contains("invalid subnet"), "{err}");
    ok(&h, &["network", "create", "--subnet", "10.50.0.0/24", "x"]);
    let err = fails(
        &h,
        &["network", "create", "--subnet", "10.50.0.0/16", "y"],
        1,
    );
    assert!(
        err.contains("overlaps subnet 10.50.0.0/24 of network x"),
        "{err}"
    );
    let err = fails(&h, &["network", "create", "x"], 1);
    assert!(err.contains("already in use"), "{err}");
    let err = fails(&h, &["network", "create", "-d", "overlay", "z"], 1);
    assert!(err.contains("not supported"), "{err}");
    let err = fails(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "x",
            "--ip",
            "10.60.0.5",
            "host",
            "true",
        ],
        125,
    );
    assert!(
        err.contains("10.60.0.5 is not in a subnet of network x"),
        "{err}"
    );
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "fixed",
            "--network",
            "x",
            "--ip",
            "10.50.0.9",
            "host",
            "sleep",
            "100",
        ],
    );
    let err = fails(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "x",
            "--ip",
            "10.50.0.9",
            "host",
            "true",
        ],
        125,
    );
    assert!(err.contains("10.50.0.9 is already in use"), "{err}");
    let err = fails(&h, &["run", "--rm", "-p", "99999:80", "host", "true"], 125);
    assert!(err.contains("invalid port"), "{err}");
    let err = fails(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-p",
            "80",
            "host",
            "true",
        ],
        125,
    );
    assert!(err.contains("needs a bridge network"), "{err}");
    for predefined in ["none", "host", "bridge"] {
        let err = fails(&h, &["network", "rm", predefined], 1);
        assert!(err.contains("pre-defined"), "{err}");
    }
    let err = fails(&h, &["network", "disconnect", "x", "nobody"], 1);
    assert!(err.contains("no such container"), "{err}");
    ok(&h, &["rm", "-f", "fixed"]);
    ok(&h, &["network", "rm", "x"]);
    // Only the default network is left once used; `ls` shows it with host and none.
    let ls = ok(&h, &["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert_eq!(ls, "bridge bridge\nhost host\nnone null");
    assert_network_clean(&h);
}

#[test]
fn the_default_subnet_skips_ranges_the_host_already_uses() {
    let Some(h) = host() else { return };
    // 172.17.0.0/16 overlaps an address of the box, 172.18.0.0/16 a route: the default network takes the next.
    h.sh_ok(
        "ip link add d0 type veth peer name d1 && ip link set d0 up && ip link set d1 up && ip addr add 172.17.5.1/24 dev d0 \
         && ip route add 172.18.64.0/18 dev d0",
    );
    ok(&h, &["run", "-d", "--name", "a", "host", "sleep", "1000"]);
    assert_eq!(
        inspect(&h, "a", "{{.NetworkSettings.Gateway}}"),
        "172.19.0.1"
    );
    let subnet = ok(
        &h,
        &[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
            "bridge",
        ],
    );
    assert_eq!(subnet, "172.19.0.0/16");
    ok(&h, &["rm", "-f", "a"]);
    h.sh_ok("ip link del d0");
    assert_network_clean(&h);
}
