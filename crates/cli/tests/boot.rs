//! `system boot` after a simulated reboot in a box: every supervisor and container killed by PID, the
//! run root unmounted and wiped, minotaur's firewall table and bridges gone; then `system boot` brings
//! back the containers whose policy says so, in dependency order (a compose `service_healthy`
//! dependency waited for), with their networks, names and published ports.

mod common;

use common::{host, inspect, ok};
use minotaur_testhost::{wait_until, TestHost};

/// What a reboot does to the box's minotaur: no process left, an empty `/run`, no firewall table, no
/// bridges or veths.
fn reboot(h: &TestHost) {
    // Every process but the box's own (its init, its resolver stub, and the shell that lists them),
    // until none is left.
    let list = "ps -e -o pid=,comm= | awk -v me=$$ '$1 != 1 && $1 != me && $2 != \"dnsmasq\" && $2 != \"ps\" && $2 != \"awk\" {print $1}'";
    let mut left = String::new();
    let killed = wait_until("every supervisor and container to be killed", || {
        left = h.sh_ok(list);
        for pid in left.split_whitespace() {
            let _ = h.sh(&format!("kill -9 {pid}"));
        }
        Ok(left.trim().is_empty())
    });
    assert!(killed.is_ok(), "left: {}", h.sh_ok("ps -ef"));
    h.sh_ok(
        "for m in $(awk '$5 ~ \"^/run/minotaur\" {print $5}' /proc/self/mountinfo | sort -r); do umount -l \"$m\"; done
         rm -rf /run/minotaur /run/netns
         nft delete table inet minotaur
         for b in $(ip -o link show type bridge | awk -F': ' '{print $2}'); do ip link del \"$b\"; done",
    );
    // The namespaces go once nothing holds them, their veths with them (the kernel does it in the
    // background).
    let gone = wait_until("the containers' veths to go", || {
        Ok(h.sh_ok("ip -o link show type veth | grep ': mt' || true")
            .trim()
            .is_empty())
    });
    assert!(
        gone.is_ok(),
        "{}",
        h.sh_ok("ip -o link show type veth; lsns -t net; grep -e minotaur -e netns -e nsfs /proc/self/mountinfo; ls -la /proc/*/ns/net 2>/dev/null | head -50")
    );
}

#[test]
fn system_boot_brings_containers_back_after_a_reboot() {
    let Some(h) = host() else { return };
    h.sh_ok("mkdir -p /tmp/www && echo 'served after boot' > /tmp/www/index.html");
    ok(&h, &["network", "create", "appnet"]);
    let compose = |service: &str| {
        vec![
            "--label".to_owned(),
            "com.docker.compose.project=p".to_owned(),
            "--label".to_owned(),
            format!("com.docker.compose.service={service}"),
        ]
    };
    let run = |name: &str, extra: &[String], rest: &[&str]| {
        let mut args: Vec<String> = ["run", "-d", "--name", name]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend_from_slice(extra);
        args.extend(rest.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&h, &args);
    };
    // web needs db healthy (compose's label); db is healthy a moment after it starts.
    let mut web = compose("web");
    web.extend(
        [
            "--label",
            "com.docker.compose.depends_on=db:service_healthy:false",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    run(
        "web",
        &web,
        &[
            "--network",
            "appnet",
            "-p",
            "8080:80",
            "--restart",
            "unless-stopped",
            "-v",
            "/tmp/www:/www",
            "host",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ],
    );
    run(
        "db",
        &compose("db"),
        &[
            "--network",
            "appnet",
            "--restart",
            "always",
            "--health-cmd",
            "test -e /tmp/ready",
            "--health-interval",
            "100ms",
            "--health-retries",
            "1000",
            "host",
            "sh",
            "-c",
            "sleep 1; touch /tmp/ready; exec sleep infinity",
        ],
    );
    // side joins web's network: it starts after web.
    run(
        "side",
        &[],
        &[
            "--network",
            "container:web",
            "--restart",
            "always",
            "host",
            "sleep",
            "infinity",
        ],
    );
    run(
        "kept",
        &[],
        &["--restart", "always", "host", "sleep", "infinity"],
    );
    run(
        "stopped",
        &[],
        &["--restart", "unless-stopped", "host", "sleep", "infinity"],
    );
    run(
        "plain",
        &[],
        &["--network", "appnet", "host", "sleep", "infinity"],
    );
    ok(&h, &["stop", "-t", "1", "kept", "stopped"]);
    let page = |h: &TestHost| h.sh("curl -sS --max-time 5 http://127.0.0.1:8080/");
    wait_until("web to serve", || Ok(page(&h).status.success())).unwrap();
    let ips: Vec<String> = ["web", "db", "plain"]
        .iter()
        .map(|c| inspect(&h, c, "{{.NetworkSettings.Networks.appnet.IPAddress}}"))
        .collect();

    reboot(&h);
    assert!(!page(&h).status.success(), "nothing serves before the boot");

    let started = ok(&h, &["system", "boot"]);
    let order: Vec<&str> = started.lines().collect();
    let at = |n: &str| {
        order
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n} not started: {order:?}"))
    };
    assert!(at("db") < at("web") && at("web") < at("side"), "{order:?}");
    assert!(
        order.contains(&"kept"),
        "always starts even after a stop: {order:?}"
    );
    assert!(
        !order.contains(&"stopped") && !order.contains(&"plain"),
        "{order:?}"
    );

    for c in ["db", "web", "side", "kept"] {
        assert_eq!(inspect(&h, c, "{{.State.Status}}"), "running", "{c}");
    }
    for c in ["stopped", "plain"] {
        assert_eq!(inspect(&h, c, "{{.State.Status}}"), "exited", "{c}");
    }
    // web was started once db was healthy.
    let db: serde_json::Value =
        serde_json::from_str(&inspect(&h, "db", "{{json .State.Health}}")).unwrap();
    let healthy_at = db["Log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ExitCode"] == 0)
        .and_then(|r| r["End"].as_str())
        .unwrap()
        .to_owned();
    assert!(inspect(&h, "web", "{{.State.StartedAt}}") > healthy_at);

    // The same addresses, the published port, names, and `ip netns` names, for the stopped ones too.
    let now: Vec<String> = ["web", "db", "plain"]
        .iter()
        .map(|c| inspect(&h, c, "{{.NetworkSettings.Networks.appnet.IPAddress}}"))
        .collect();
    assert_eq!(now, ips);
    assert_eq!(
        String::from_utf8_lossy(&page(&h).stdout),
        "served after boot\n"
    );
    assert_eq!(
        ok(&h, &["exec", "web", "getent", "hosts", "db"])
            .split_whitespace()
            .next(),
        Some(ips[1].as_str())
    );
    assert!(ok(&h, &["exec", "side", "cat", "/proc/net/dev"]).contains("eth0"));
    let netns = h.sh_ok("ip netns list");
    for c in ["web", "db", "plain", "stopped"] {
        assert!(
            netns.lines().any(|l| l.split(' ').next() == Some(c)),
            "{c} in {netns}"
        );
    }
    // A stopped container's namespace is back too: the host's tools reach web from it.
    assert_eq!(
        h.sh_ok(&format!(
            "ip netns exec plain curl -sS --max-time 5 http://{}/",
            ips[0]
        )),
        "served after boot\n"
    );

    // A second boot changes nothing.
    assert_eq!(ok(&h, &["system", "boot"]), "");
    for c in ["db", "web", "side", "kept", "stopped", "plain"] {
        ok(&h, &["rm", "-f", c]);
    }
    ok(&h, &["network", "rm", "appnet"]);
    assert_eq!(ok(&h, &["ps", "-a", "-q"]), "");
    assert_eq!(
        h.sh_ok("ls -A /run/minotaur/netns /run/netns"),
        "/run/minotaur/netns:\n\n/run/netns:\n"
    );
}

#[test]
fn a_start_after_a_reboot_makes_the_network_again_without_system_boot() {
    let Some(h) = host() else { return };
    h.sh_ok("mkdir -p /tmp/www && echo 'started by hand' > /tmp/www/index.html");
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            "8081:80",
            "-v",
            "/tmp/www:/www",
            "host",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ],
    );
    let ip = inspect(&h, "web", "{{.NetworkSettings.IPAddress}}");
    reboot(&h);
    assert_eq!(inspect(&h, "web", "{{.State.Status}}"), "exited");
    ok(&h, &["start", "web"]);
    assert_eq!(inspect(&h, "web", "{{.NetworkSettings.IPAddress}}"), ip);
    let page = || h.sh("curl -sS --max-time 5 http://127.0.0.1:8081/");
    wait_until("web to serve", || Ok(page().status.success())).unwrap();
    assert_eq!(String::from_utf8_lossy(&page().stdout), "started by hand\n");
    ok(&h, &["rm", "-f", "web"]);
}
