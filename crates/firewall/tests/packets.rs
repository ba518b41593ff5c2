//! Real packets through the rules: a host namespace with three bridges, a container namespace on each, and an
//! outside world behind an uplink; every namespace is made by the test and dies with it.
//!
//! ```text
//!  world  wan0 198.18.0.1/30 ── uplink0 198.18.0.2/30   host (the Firewall runs here)
//!                                mino0 10.88.0.1/24 ── c1 10.88.0.2   (published: tcp 8080 -> 80)
//!                                mino1 10.89.0.1/24 ── c2 10.89.0.2
//!                                mino2 10.90.0.1/24 ── c3 10.90.0.2   (internal)
//! ```
//!
//! Each container and the world run a TCP server that answers every connection with the address it came
//! from, so a test sees whether (and how) a connection was NATed.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{can_run, Ns};
use minotaur_firewall::{Firewall, NetworkRules, PortRule, Proto};

/// Serves on `addr` in `ns` until dropped: each connection gets the peer's IP address and is closed.
struct Server {
    addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    fn start(ns: &Ns, addr: &str) -> Server {
        let addr: SocketAddr = addr.parse().unwrap();
        // A socket stays in the namespace it was made in, whichever thread uses it.
        let listener = ns.run(move || TcpListener::bind(addr)).expect("bind");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                if let Ok(mut c) = conn {
                    // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
                    let peer = c
                        .peer_addr()
                        .map(|p| p.ip().to_canonical().to_string())
                        .unwrap_or_default();
                    let _ = std::io::Write::write_all(&mut c, peer.as_bytes());
                }
            }
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the server: sets the flag, then wakes its accept with one last connection from `ns`.
    fn stop(mut self, ns: &Ns) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let addr = self.addr;
        let _ = ns.run(move || TcpStream::connect_timeout(&addr, Duration::from_secs(2)));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Connects from `ns` to `to` and returns what the server answered (the address it saw), or the error.
fn ask(ns: &Ns, to: &str, timeout: Duration) -> Result<String, std::io::Error> {
    let to: SocketAddr = to.parse().unwrap();
    ns.run(move || {
        let mut s = TcpStream::connect_timeout(&to, timeout)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        Ok(answer)
    })
}

/// Asks until a server answers (links and bridge ports take a moment to come up), for at most 10 s.
fn answer(ns: &Ns, to: &str) -> String {
    let start = Instant::now();
    loop {
        match ask(ns, to, Duration::from_secs(1)) {
            Ok(a) => return a,
            Err(e) if start.elapsed() > Duration::from_secs(10) => {
                panic!("connecting to {to}: {e}")
            }
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Expects no answer: the connection is dropped (times out) or refused.
fn no_answer(ns: &Ns, to: &str) {
    if let Ok(a) = ask(ns, to, Duration::from_millis(1500)) {
        panic!("connecting to {to} should fail, but the server answered (it saw {a})");
    }
}

fn network(bridge: &str, subnet: &str, internal: bool) -> NetworkRules {
    NetworkRules {
        bridge: bridge.into(),
        subnets: vec![subnet.parse().unwrap()],
        internal,
    }
}

#[test]
fn published_ports_masquerade_isolation_and_internal_networks_with_real_packets() {
    if !can_run() {
        return;
    }
    let host = Ns::new();
    let world = Ns::new();
    // (bridge, address) of each container; c4 shares c1's network, c5 shares c3's (internal) network.
    let placement = [
        (0, "10.88.0.2"),
        (1, "10.89.0.2"),
        (2, "10.90.0.2"),
        (0, "10.88.0.3"),
        (2, "10.90.0.3"),
    ];
    let containers: Vec<Ns> = placement.iter().map(|_| Ns::new()).collect();
    host.sh(&format!(
        "ip link add uplink0 type veth peer name wan0 netns {world}
         ip addr add 198.18.0.2/30 dev uplink0
         ip link set uplink0 up
         echo 1 > /proc/sys/net/ipv4/ip_forward",
        world = world.tid()
    ));
    world.sh("ip addr add 198.18.0.1/30 dev wan0\nip link set wan0 up");
    for b in 0..3 {
        host.sh(&format!(
            "ip link add mino{b} type bridge
             ip addr add 10.{net}.0.1/24 dev mino{b}
             ip link set mino{b} up
             echo 1 > /proc/sys/net/ipv4/conf/mino{b}/route_localnet",
            net = 88 + b
        ));
    }
    for (i, (c, (b, addr))) in containers.iter().zip(placement).enumerate() {
        // Hairpin mode, as Docker sets it: with br_netfilter loaded, a container's connection to the host's
        // address that is DNATed back to the same bridge port leaves through the port it came in.
        host.sh(&format!(
            "ip link add veth{i} type veth peer name eth0 netns {tid}
             ip link set veth{i} master mino{b} up
             ip link set veth{i} type bridge_slave hairpin on",
            tid = c.tid()
        ));
        c.sh(&format!(
            "ip addr add {addr}/24 dev eth0
             ip link set eth0 up
             ip route add default via 10.{net}.0.1",
            net = 88 + b
        ));
    }
    let [c1, c2, c3, c4, c5] = &containers[..] else {
        unreachable!()
    };
    let networks = [
        network("mino0", "10.88.0.0/24", false),
        network("mino1", "10.89.0.0/24", false),
        network("mino2", "10.90.0.0/24", true),
    ];
    let web = PortRule {
        proto: Proto::Tcp,
        host_ip: None,
        host_port: 8080,
        container_ip: "10.88.0.2".parse().unwrap(),
        container_port: 80,
    };
    let bound = PortRule {
        host_ip: Some("198.18.0.2".parse().unwrap()),
        host_port: 8081,
        ..web.clone()
    };
    let ports = [web.clone(), bound.clone()];
    host.run(move || {
        let mut fw = Firewall::open().unwrap();
        for n in &networks {
            fw.add_network(n).unwrap();
        }
        fw.add_ports(&ports).unwrap();
    });

    let servers = [
        Server::start(c1, "0.0.0.0:80"),
        Server::start(c2, "0.0.0.0:80"),
        Server::start(c3, "0.0.0.0:80"),
        Server::start(&world, "198.18.0.1:7000"),
        Server::start(&host, "10.90.0.1:9000"),
    ];

    // Published port from the host itself: localhost (masqueraded to the bridge's address) and the bridge's
    // own address.
    assert_eq!(answer(&host, "127.0.0.1:8080"), "10.88.0.1");
    assert_eq!(answer(&host, "10.88.0.1:8080"), "10.88.0.1");
    // From outside, to the host's address: DNAT without masquerade.
    assert_eq!(answer(&world, "198.18.0.2:8080"), "198.18.0.1");
    // Hairpin: the container reaches itself through the host's address, and so does one on another network.
    assert_eq!(answer(c1, "10.88.0.1:8080"), "10.88.0.1");
    assert_eq!(answer(c2, "198.18.0.2:8080"), "10.88.0.1");
    // A port bound to one host address: reachable there only.
    assert_eq!(answer(&world, "198.18.0.2:8081"), "198.18.0.1");
    no_answer(&host, "127.0.0.1:8081");

    // Masquerade: the world has no route to the containers, yet a container's connection comes back.
    assert_eq!(answer(c1, "198.18.0.1:7000"), "198.18.0.2");
    // One network talks to itself, internal or not.
    assert_eq!(answer(c4, "10.88.0.2:80"), "10.88.0.3");
    assert_eq!(answer(c5, "10.90.0.2:80"), "10.90.0.3");
    // Isolation: no forwarding between two bridges.
    no_answer(c2, "10.88.0.2:80");
    no_answer(c1, "10.89.0.2:80");
    // Internal network: nothing in or out by forwarding, but host <-> container works.
    no_answer(c3, "198.18.0.1:7000");
    no_answer(c3, "10.88.0.2:80");
    no_answer(c1, "10.90.0.2:80");
    assert_eq!(answer(&host, "10.90.0.2:80"), "10.90.0.1");
    assert_eq!(answer(c3, "10.90.0.1:9000"), "10.90.0.2");

    // Unpublished: the host answers the SYN itself (refused), nothing reaches the container.
    host.run(move || {
        let mut fw = Firewall::open().unwrap();
        fw.remove_ports(&[web]).unwrap();
    });
    no_answer(&host, "127.0.0.1:8080");
    no_answer(&world, "198.18.0.2:8080");
    assert_eq!(answer(&world, "198.18.0.2:8081"), "198.18.0.1");

    let [s1, s2, s3, sw, sh] = servers;
    s1.stop(c1);
    s2.stop(c2);
    s3.stop(c3);
    sw.stop(&world);
    sh.stop(&host);
}

#[test]
fn ipv6_published_port_and_masquerade_with_real_packets() {
    if !can_run() {
        return;
    }
    let host = Ns::new();
    let world = Ns::new();
    let c1 = Ns::new();
    // nodad: the addresses are usable at once, with no duplicate address detection to wait for.
    host.sh(&format!(
        "ip link add uplink0 type veth peer name wan0 netns {world}
         ip addr add fd00:18::2/64 dev uplink0 nodad
         ip link set uplink0 up
         ip link add mino0 type bridge
         ip addr add fd00:88::1/64 dev mino0 nodad
         ip link set mino0 up
         ip link add veth0 type veth peer name eth0 netns {c1}
         ip link set veth0 master mino0 up
         ip link set veth0 type bridge_slave hairpin on
         echo 1 > /proc/sys/net/ipv6/conf/all/forwarding",
        world = world.tid(),
        c1 = c1.tid()
    ));
    world.sh("ip addr add fd00:18::1/64 dev wan0 nodad\nip link set wan0 up");
    c1.sh("ip addr add fd00:88::2/64 dev eth0 nodad
           ip link set eth0 up
           ip route add default via fd00:88::1");
    let web = PortRule {
        proto: Proto::Tcp,
        host_ip: None,
        host_port: 8080,
        container_ip: "fd00:88::2".parse().unwrap(),
        container_port: 80,
    };
    host.run(move || {
        let mut fw = Firewall::open().unwrap();
        fw.add_network(&network("mino0", "fd00:88::/64", false))
            .unwrap();
        fw.add_ports(&[web]).unwrap();
    });
    let servers = [
        Server::start(&c1, "[::]:80"),
        Server::start(&world, "[fd00:18::1]:7000"),
    ];

    // From outside: DNAT, no masquerade. From the host, to its own address on the uplink: DNAT in output;
    // the source stays that address, which the container reaches through its default route.
    assert_eq!(answer(&world, "[fd00:18::2]:8080"), "fd00:18::1");
    assert_eq!(answer(&host, "[fd00:18::2]:8080"), "fd00:18::2");
    // Hairpin.
    assert_eq!(answer(&c1, "[fd00:88::1]:8080"), "fd00:88::1");
    // ::1 is not DNATed (IPv6 never routes it out): refused by the host itself.
    no_answer(&host, "[::1]:8080");
    // Masquerade: the world has no route to fd00:88::/64.
    assert_eq!(answer(&c1, "[fd00:18::1]:7000"), "fd00:18::2");

    let [sc, sw] = servers;
    sc.stop(&c1);
    sw.stop(&world);
}
