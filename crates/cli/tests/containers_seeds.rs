//! The tutorials' non-network container steps, with `docker` replaced by `minotaur` and compared with the
//! standard tools: PID from inspect, util-linux `nsenter`, `lsns` and `pgrep --ns`, the SandboxKey with
//! `nsenter --net=` and `ip netns`, a veth moved into a running container by hand, and containers sharing
//! another's network or PID namespace.

mod common;

use common::{assert_clean, host, inspect, ok, wait_status};
use minotaur_testhost::TestHost;

/// The inode of a namespace file, as the box sees it.
fn ns_inode(h: &TestHost, path: &str) -> String {
    h.sh_ok(&format!("stat -L -c %i {path}")).trim().to_owned()
}

#[test]
fn pid_from_inspect_works_with_nsenter_lsns_and_pgrep() {
    let Some(h) = host() else { return };
    let id = ok(
        &h,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "php",
            "-h",
            "phpbox",
            "host",
            "sh",
            "-c",
            "sleep 1000 & exec sleep 1001",
        ],
    );
    // The seed's spelling of the template, spaces and all.
    let pid = inspect(&h, "php", "{{ .State.Pid }}");
    common::wait_until_ok(&h, &format!("pgrep -P {pid} -x sleep"));

    // nsenter -n keeps the box's hostname; -u gives the container's.
    assert_eq!(
        h.sh_ok(&format!("nsenter -n -t {pid} hostname")).trim(),
        "minotaur-box"
    );
    assert_eq!(
        h.sh_ok(&format!("nsenter -n -u -t {pid} hostname")).trim(),
        "phpbox"
    );
    assert_eq!(ok(&h, &["nsenter", "-t", &pid, "-u", "hostname"]), "phpbox");
    // Its network namespace has only a loopback, the same through util-linux and minotaur.
    let theirs = h.sh_ok(&format!("nsenter -n -t {pid} ip -o link"));
    assert_eq!(theirs.lines().count(), 1, "{theirs}");
    assert!(theirs.contains(": lo:"), "{theirs}");
    assert_eq!(
        ok(&h, &["nsenter", "-t", &pid, "-n", "ip", "-o", "link"]),
        theirs.trim_end()
    );
    assert_eq!(
        ok(&h, &["nsenter", "-t", &pid, "-n", "ip", "addr"]),
        h.sh_ok(&format!("nsenter -n -t {pid} ip addr")).trim_end()
    );

    // lsns -p PID names the container's own namespaces.
    let lsns = h.sh_ok(&format!("lsns -n -p {pid} -o NS,TYPE"));
    for kind in ["net", "uts", "ipc", "pid", "mnt", "cgroup"] {
        let inode = ns_inode(&h, &format!("/proc/{pid}/ns/{kind}"));
        assert!(
            lsns.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [inode.as_str(), kind]),
            "{kind} {inode} in\n{lsns}"
        );
        assert_ne!(
            inode,
            ns_inode(&h, &format!("/proc/self/ns/{kind}")),
            "{kind}"
        );
    }
    // pgrep --ns finds the container's processes and nothing else.
    let mut found: Vec<String> = h
        .sh_ok(&format!("pgrep --ns {pid}"))
        .lines()
        .map(str::to_owned)
        .collect();
    found.sort();
    let child = h
        .sh_ok(&format!("pgrep -P {pid} -x sleep"))
        .trim()
        .to_owned();
    let mut want = vec![pid.clone(), child];
    want.sort();
    assert_eq!(found, want);
    assert_eq!(
        h.sh_ok(&format!("cat /proc/{pid}/cmdline | tr '\\0' ' '")),
        "sleep 1001 "
    );

    ok(&h, &["rm", "-f", "php"]);
    assert_clean(&h, &[id]);
}

#[test]
fn sandbox_key_works_with_nsenter_and_ip_netns_and_a_veth_moved_in() {
    let Some(h) = host() else { return };
    let id = ok(
        &h,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "php",
            "host",
            "sleep",
            "1000",
        ],
    );
    let pid = inspect(&h, "php", "{{.State.Pid}}");
    let key = inspect(&h, "php", "{{ .NetworkSettings.SandboxKey }}");
    assert_eq!(
        ns_inode(&h, &key),
        ns_inode(&h, &format!("/proc/{pid}/ns/net"))
    );
    let links = h.sh_ok(&format!("nsenter --net={key} ip -o link"));
    assert_eq!(links.lines().count(), 1, "{links}");

    // The seed's symbolic link under /run/netns makes it an `ip netns` name.
    let name = key.rsplit('/').next().unwrap().to_owned();
    h.sh_ok(&format!(
        "mkdir -p /run/netns && ln -s {key} /run/netns/{name}"
    ));
    assert!(h.sh_ok("ip netns list").contains(&name));
    assert_eq!(h.sh_ok(&format!("ip netns exec {name} ip -o link")), links);
    h.sh_ok(&format!("rm /run/netns/{name}"));

    // A veth moved into the running container by hand is seen from inside, and gone from the box.
    h.sh_ok(&format!(
        "ip link add v0 type veth peer name v1 && ip link set v1 netns {pid}"
    ));
    let inside = ok(&h, &["nsenter", "-t", &pid, "-n", "ip", "-o", "link"]);
    assert!(inside.lines().any(|l| l.contains(" v1@")), "{inside}");
    assert_eq!(
        h.sh_ok(&format!("nsenter --net={key} ip -o link show v1"))
            .lines()
            .count(),
        1
    );
    assert_eq!(
        h.sh("ip link show v1").status.code(),
        Some(1),
        "v1 still in the box"
    );
    // A container sharing the network sees it too.
    let out = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "container:php",
            "host",
            "ip",
            "-o",
            "link",
        ],
    );
    assert!(out.lines().any(|l| l.contains(" v1@")), "{out}");
    // "Debugging the Minotaur": the body of one container (its mount namespace), the head of another (its
    // network), joined with util-linux nsenter alone.
    let debug = ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "debug",
            "host",
            "sh",
            "-c",
            "touch /tmp/debugger-tools; exec sleep 1000",
        ],
    );
    let debug_pid = inspect(&h, "debug", "{{ .State.Pid }}");
    common::wait_until_ok(
        &h,
        &format!("nsenter -t {debug_pid} -m test -e /tmp/debugger-tools"),
    );
    let seen = h.sh_ok(&format!(
        "nsenter --net={key} --mount=/proc/{debug_pid}/ns/mnt sh -c 'ls /tmp; ip -o link show v1'"
    ));
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("debugger-tools"), "{seen}");
    assert!(lines.next().is_some_and(|l| l.contains(" v1@")), "{seen}");
    ok(&h, &["rm", "-f", "debug"]);
    h.sh_ok("ip link del v0");

    ok(&h, &["rm", "-f", "php"]);
    assert_clean(&h, &[id, debug]);
}

#[test]
fn network_container_shares_the_namespace_and_keeps_it_across_restarts() {
    let Some(h) = host() else { return };
    let a = ok(&h, &["run", "-d", "--name", "a", "host", "sleep", "1000"]);
    let b = ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "b",
            "--network",
            "container:a",
            "host",
            "sleep",
            "1000",
        ],
    );
    let pa = inspect(&h, "a", "{{.State.Pid}}");
    let pb = inspect(&h, "b", "{{.State.Pid}}");
    let net = ns_inode(&h, &format!("/proc/{pa}/ns/net"));
    assert_eq!(ns_inode(&h, &format!("/proc/{pb}/ns/net")), net);
    // Only the network is shared.
    assert_ne!(
        ns_inode(&h, &format!("/proc/{pb}/ns/uts")),
        ns_inode(&h, &format!("/proc/{pa}/ns/uts"))
    );
    assert_eq!(
        inspect(&h, "b", "{{.HostConfig.NetworkMode}}"),
        "container:a"
    );
    let seen = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "container:a",
            "host",
            "stat",
            "-L",
            "-c",
            "%i",
            "/proc/self/ns/net",
        ],
    );
    assert_eq!(seen, net);

    ok(&h, &["restart", "-t", "0", "a"]);
    wait_status(&h, "a", "running");
    let pa2 = inspect(&h, "a", "{{.State.Pid}}");
    assert_ne!(pa, pa2);
    assert_eq!(
        ns_inode(&h, &format!("/proc/{pa2}/ns/net")),
        net,
        "a's network changed at restart"
    );
    assert_eq!(ns_inode(&h, &format!("/proc/{pb}/ns/net")), net);
    ok(&h, &["restart", "-t", "0", "b"]);
    wait_status(&h, "b", "running");
    let pb2 = inspect(&h, "b", "{{.State.Pid}}");
    assert_eq!(ns_inode(&h, &format!("/proc/{pb2}/ns/net")), net);

    // Regression: joining b, which joined a, failed with "container b (it has no network namespace of its
    // own) is not running"; as with Docker, it is a's network.
    let seen = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "container:b",
            "host",
            "stat",
            "-L",
            "-c",
            "%i",
            "/proc/self/ns/net",
        ],
    );
    assert_eq!(seen, net);

    // --network host is the box's own.
    let host_net = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "host",
            "host",
            "stat",
            "-L",
            "-c",
            "%i",
            "/proc/self/ns/net",
        ],
    );
    assert_eq!(host_net, ns_inode(&h, "/proc/self/ns/net"));
    // So is the network of a container that joins a --network host container.
    let c = ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "c",
            "--network",
            "host",
            "host",
            "sleep",
            "1000",
        ],
    );
    let joined = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "container:c",
            "host",
            "stat",
            "-L",
            "-c",
            "%i",
            "/proc/self/ns/net",
        ],
    );
    assert_eq!(joined, host_net);
    ok(&h, &["rm", "-f", "c"]);

    ok(&h, &["rm", "-f", "b", "a"]);
    assert_clean(&h, &[a, b, c]);
}

#[test]
fn pid_container_and_pid_host() {
    let Some(h) = host() else { return };
    let a = ok(&h, &["run", "-d", "--name", "a", "host", "sleep", "1000"]);
    // Sharing a's PID namespace: a's sleep is PID 1 there.
    let out = ok(
        &h,
        &[
            "run",
            "--rm",
            "--pid",
            "container:a",
            "host",
            "ps",
            "-e",
            "-o",
            "pid=,args=",
        ],
    );
    let procs: Vec<(String, String)> = out
        .lines()
        .map(|l| {
            let (p, a) = l.trim().split_once(' ').unwrap();
            (p.to_owned(), a.trim().to_owned())
        })
        .collect();
    assert_eq!(procs[0], ("1".to_owned(), "sleep 1000".to_owned()), "{out}");
    assert_eq!(procs.len(), 2, "{out}");
    // --pid host sees the box's processes (its init, its DNS stub).
    let out = ok(
        &h,
        &[
            "run",
            "--rm",
            "--pid",
            "host",
            "host",
            "ps",
            "-e",
            "-o",
            "pid=,args=",
        ],
    );
    // PID 1 is the box's own init.
    let box_init = h.sh_ok("tr '\\0' ' ' < /proc/1/cmdline");
    assert!(
        out.lines()
            .any(|l| l.trim() == format!("1 {}", box_init.trim())),
        "{out}"
    );
    assert!(out.contains("dnsmasq"), "{out}");
    assert!(out.contains("sleep 1000"), "{out}");
    ok(&h, &["rm", "-f", "a"]);
    assert_clean(&h, &[a]);
}

#[test]
fn host_network_uses_the_box_resolver_and_reaches_the_world() {
    let Some(h) = host() else { return };
    // With the box's network, the box's stub on 127.0.0.53 is reachable: resolv.conf is the box's.
    let conf = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "host",
            "host",
            "cat",
            "/etc/resolv.conf",
        ],
    );
    assert_eq!(conf.lines().next(), Some("nameserver 127.0.0.53"), "{conf}");
    let name = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "host",
            "host",
            "getent",
            "hosts",
            minotaur_testhost::WORLD_NAME,
        ],
    );
    assert!(name.starts_with(minotaur_testhost::WORLD_HTTP), "{name}");
    let page = ok(
        &h,
        &[
            "run",
            "--rm",
            "--network",
            "host",
            "host",
            "curl",
            "-sS",
            "--max-time",
            "5",
            &format!("http://{}/", minotaur_testhost::WORLD_NAME),
        ],
    );
    assert_eq!(page, minotaur_testhost::WORLD_PAGE);
    // With none, nothing is reachable.
    let out = h.mino(&[
        "run",
        "--rm",
        "--network",
        "none",
        "host",
        "curl",
        "-sS",
        "--max-time",
        "2",
        &format!("http://{}/", minotaur_testhost::WORLD_HTTP),
    ]);
    assert!(!out.status.success());
    assert_clean(&h, &[]);
}
