//! The data path against the real kernel, compared with iproute2.
//!
//! Everything happens in throwaway network namespaces: each is a thread of this test process that
//! unshare()d its network namespace and parks, reachable as /proc/PID/task/TID/ns/net. A "host" namespace
//! holds the bridge and the veth's host end, a "container" namespace the peer. Ending a thread (and closing
//! every descriptor and socket of its namespace) lets the kernel reap the namespace and what is in it. The
//! test process's own network namespace is never touched.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;
use std::os::linux::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use minotaur_net::pool::{format_mac, mac_for};
use minotaur_net::{configure_peer, sysctl, Netlink, NetlinkError, VethSpec};
use nix::sched::{unshare, CloneFlags};
use serde_json::Value;

type Job = Box<dyn FnOnce() + Send>;

/// A network namespace of our own, held by a parked thread that runs jobs in it.
struct Ns {
    path: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Ns {
    fn new() -> Ns {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, tid) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            ready.send(nix::unistd::gettid().as_raw()).unwrap();
            for job in inbox {
                job();
            }
        });
        let tid = tid.recv().expect("namespace thread died");
        let path = PathBuf::from(format!("/proc/{}/task/{tid}/ns/net", std::process::id()));
        let ns = Ns {
            path,
            jobs: Some(jobs),
            thread: Some(thread),
        };
        assert_ne!(
            inode(&ns.path),
            inode(Path::new("/proc/self/ns/net")),
            "the throwaway namespace is the test's own"
        );
        ns
    }

    /// Runs `f` on the namespace's thread.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .as_ref()
            .unwrap()
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .unwrap();
        rx.recv().expect("job panicked in the namespace thread")
    }

    /// Runs a command inside the namespace with nsenter(1).
    fn cmd(&self, args: &[&str]) -> Output {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", self.path.display()))
            .args(args)
            .output()
            .expect("nsenter");
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["ip", "-j"];
        full.extend_from_slice(args);
        serde_json::from_str(&self.ok(&full)).unwrap()
    }

    /// Ends the thread: the namespace goes once nothing else refers to it.
    fn end(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn inode(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().st_ino()
}

fn root_or_skip() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("MINOTAUR_TEST_REQUIRE_HOST").as_deref() != Ok("1"),
        "needs root (MINOTAUR_TEST_REQUIRE_HOST=1)"
    );
    println!("skipped: needs root");
    false
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `(local, prefixlen, tentative)` of every address but the link-local ones that `ip -j addr show dev DEV`
/// lists.
fn addrs(ns: &Ns, dev: &str) -> Vec<(String, u64, bool)> {
    let v = ns.json(&["addr", "show", "dev", dev]);
    v[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["scope"] != "link")
        .map(|a| {
            (
                a["local"].as_str().unwrap().to_owned(),
                a["prefixlen"].as_u64().unwrap(),
                a["tentative"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn link(ns: &Ns, dev: &str) -> Value {
    ns.json(&["-d", "link", "show", "dev", dev])[0].clone()
}

fn has_flag(link: &Value, flag: &str) -> bool {
    link["flags"].as_array().unwrap().iter().any(|f| f == flag)
}

/// `ping` from iputils when installed, else busybox's.
fn ping(ns: &Ns, addr: &str) -> Output {
    let have_ping = Command::new("sh")
        .args(["-c", "command -v ping"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut args = if have_ping {
        vec!["ping"]
    } else {
        vec!["busybox", "ping"]
    };
    args.extend_from_slice(&["-c1", "-W1", addr]);
    ns.cmd(&args)
}

fn sysctl_in(ns: &Ns, key: &str) -> String {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    ns.ok(&["cat", &path]).trim().to_owned()
}

const GW4: &str = "10.77.0.1/24";
const GW6: &str = "fd6d:696e:6f74:77::1/64";

#[test]
fn bridge_veth_and_peer_in_throwaway_namespaces() {
    if !root_or_skip() {
        return;
    }
    let host = Ns::new();
    let mut ctr = Ns::new();
    let mut nl = Netlink::open_in(&host.path).unwrap();

    // The bridge: made once, then found again with nothing added twice.
    let br = nl
        .ensure_bridge("mt-test0", &[net(GW4), net(GW6)], Some(1400))
        .unwrap();
    assert_eq!(
        nl.ensure_bridge("mt-test0", &[net(GW4), net(GW6)], Some(1400))
            .unwrap(),
        br
    );
    assert_eq!(nl.link_index("mt-test0").unwrap(), Some(br));
    assert_eq!(nl.link_index("mt-nothing").unwrap(), None);
    let l = link(&host, "mt-test0");
    assert_eq!(l["ifindex"], br);
    assert_eq!(l["mtu"], 1400);
    assert_eq!(l["linkinfo"]["info_kind"], "bridge", "{l}");
    assert!(has_flag(&l, "UP"), "{l}");
    let mut a = addrs(&host, "mt-test0");
    a.sort();
    assert_eq!(
        a,
        [
            ("10.77.0.1".to_owned(), 24, false),
            ("fd6d:696e:6f74:77::1".to_owned(), 64, false)
        ],
        "NODAD: the v6 gateway must not be tentative"
    );
    let v = host.json(&["-d", "addr", "show", "dev", "mt-test0"]);
    assert_eq!(v[0]["addr_info"][0]["broadcast"], "10.77.0.255", "{v}");

    let bridge_mac = nl.mac(br).unwrap();
    assert_eq!(l["address"], format_mac(&bridge_mac));

    // The veth: the peer is born in the container namespace with its MAC and MTU.
    let ctr_ns = File::open(&ctr.path).unwrap();
    let mac = mac_for(Ipv4Addr::new(10, 77, 0, 2));
    let spec = VethSpec {
        host_name: "vethmt0",
        master: br,
        peer_name: "eth0",
        peer_netns: ctr_ns.as_fd(),
        peer_mac: Some(mac),
        mtu: Some(1400),
    };
    nl.add_veth(&spec).unwrap();
    assert!(
        !has_flag(&link(&host, "vethmt0"), "UP"),
        "the host end comes up only with port_up"
    );
    nl.port_up("vethmt0").unwrap();
    let addrs_ctr = [net("10.77.0.2/24"), net("fd6d:696e:6f74:77::2/64")];
    let gws = [ip("10.77.0.1"), ip("fd6d:696e:6f74:77::1")];
    configure_peer(&ctr.path, "eth0", &addrs_ctr, &gws).unwrap();

    assert_eq!(nl.mac(br).unwrap(), bridge_mac, "the bridge's MAC changed");
    let h = link(&host, "vethmt0");
    assert_eq!(h["master"], "mt-test0", "{h}");
    assert_eq!(h["mtu"], 1400);
    // One queue each way on both ends, asked for when they were made: no count to cut down afterwards,
    // which waits for an RCU grace period under the RTNL lock (see `add_veth`).
    for (ns, dev) in [(&host, "vethmt0"), (&ctr, "eth0")] {
        let l = link(ns, dev);
        assert_eq!(
            (&l["num_tx_queues"], &l["num_rx_queues"]),
            (&1.into(), &1.into()),
            "{l}"
        );
    }
    assert!(has_flag(&h, "UP"), "{h}");
    assert!(
        !host
            .cmd(&["ip", "link", "show", "dev", "eth0"])
            .status
            .success(),
        "the peer must not appear in the host namespace"
    );
    assert!(
        !ctr.cmd(&["ip", "link", "show", "dev", "vethmt0"])
            .status
            .success(),
        "the host end must not appear in the container namespace"
    );
    let c = link(&ctr, "eth0");
    assert_eq!(c["address"], format_mac(&mac), "{c}");
    assert_eq!(c["mtu"], 1400);
    assert!(has_flag(&c, "UP"), "{c}");
    wait_until("eth0 to get a carrier", || {
        has_flag(&link(&ctr, "eth0"), "LOWER_UP")
    });
    let mut a = addrs(&ctr, "eth0");
    a.sort();
    assert_eq!(
        a,
        [
            ("10.77.0.2".to_owned(), 24, false),
            ("fd6d:696e:6f74:77::2".to_owned(), 64, false)
        ]
    );
    for (family, gw) in [("-4", "10.77.0.1"), ("-6", "fd6d:696e:6f74:77::1")] {
        let routes = ctr.json(&[family, "route", "show", "default"]);
        let routes = routes.as_array().unwrap();
        assert_eq!(routes.len(), 1, "{routes:?}");
        assert_eq!(routes[0]["gateway"], gw, "{routes:?}");
        assert_eq!(routes[0]["dev"], "eth0", "{routes:?}");
    }
    for gw in ["10.77.0.1", "fd6d:696e:6f74:77::1"] {
        let out = ping(&ctr, gw);
        assert!(
            out.status.success(),
            "ping {gw}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Reading back over a socket in the container namespace.
    let mut nl_ctr = Netlink::open_in(&ctr.path).unwrap();
    let eth0 = nl_ctr.link_index("eth0").unwrap().unwrap();
    assert_eq!(nl_ctr.mac(eth0).unwrap(), mac);
    assert_eq!(nl_ctr.link_index("vethmt0").unwrap(), None);
    // Configuring again changes nothing and fails on nothing.
    configure_peer(&ctr.path, "eth0", &addrs_ctr, &gws).unwrap();
    assert_eq!(addrs(&ctr, "eth0").len(), 2);

    // used_networks: addresses as networks, main-table routes, never the default route.
    nl.add_route(Some(net("10.99.0.0/16")), None, br).unwrap();
    let used = nl.used_networks().unwrap();
    for want in ["10.77.0.0/24", "fd6d:696e:6f74:77::/64", "10.99.0.0/16"] {
        assert!(used.contains(&net(want)), "{want} not in {used:?}");
    }
    let used = nl_ctr.used_networks().unwrap();
    assert!(used.contains(&net("10.77.0.0/24")), "{used:?}");
    assert!(!used.iter().any(|n| n.prefix_len() == 0), "{used:?}");
    assert!(!used.contains(&net("10.99.0.0/16")), "{used:?}");

    // Errors name the operation and the object, and keep the errno.
    let e = nl.add_veth(&spec).unwrap_err();
    assert!(matches!(&e, NetlinkError::CreateVeth { .. }), "{e:?}");
    assert_eq!(e.to_string(), "cannot create veth vethmt0 with peer eth0");
    let source = std::error::Error::source(&e).unwrap().to_string();
    assert!(source.contains("os error 17"), "{source}");
    let e = nl.ensure_bridge("vethmt0", &[net(GW4)], None).unwrap_err();
    assert_eq!(
        format!("{e}: {}", std::error::Error::source(&e).unwrap()),
        "cannot create bridge vethmt0: a link of kind veth has that name"
    );
    let e = configure_peer(&ctr.path, "nope0", &addrs_ctr, &gws).unwrap_err();
    assert_eq!(e.to_string(), "cannot look up link nope0");
    let e = nl.add_route(None, Some(ip("10.55.0.1")), br).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("cannot add route default via 10.55.0.1 dev #{br}")
    );

    // sysctl::set_in changes the container namespace only.
    let key = "net.ipv4.ip_unprivileged_port_start";
    let outside = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    assert_eq!(sysctl_in(&ctr, key), "1024");
    sysctl::set_in(&ctr.path, key, "0").unwrap();
    assert_eq!(sysctl_in(&ctr, key), "0");
    assert_eq!(sysctl_in(&host, key), "1024");
    // sysctl::set works in the calling thread's namespace.
    host.run(move || sysctl::set(key, "80").unwrap());
    assert_eq!(sysctl_in(&host, key), "80");
    assert_eq!(sysctl_in(&ctr, key), "0");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap(),
        outside
    );
    // Netlink::open works in the calling thread's namespace.
    assert_eq!(
        host.run(|| Netlink::open().unwrap().link_index("mt-test0").unwrap()),
        Some(br)
    );

    // delete_link: a veth takes its peer with it; a missing link is Ok(false).
    nl.add_veth(&VethSpec {
        host_name: "vethmt1",
        peer_name: "eth1",
        peer_mac: None,
        mtu: None,
        ..spec
    })
    .unwrap();
    // An IPv4-only peer gets no IPv6 at all: no link-local address to flood the bridge with probes.
    nl.port_up("vethmt1").unwrap();
    configure_peer(&ctr.path, "eth1", &[net("10.77.0.3/24")], &[]).unwrap();
    wait_until("eth1 to get a carrier", || {
        has_flag(&link(&ctr, "eth1"), "LOWER_UP")
    });
    assert_eq!(link(&ctr, "eth1")["inet6_addr_gen_mode"], "none");
    assert_ne!(link(&ctr, "eth0")["inet6_addr_gen_mode"], "none");
    assert_eq!(ctr.ok(&["ip", "-6", "addr", "show", "dev", "eth1"]), "");
    assert!(nl.delete_link("vethmt1").unwrap());
    assert!(!nl.delete_link("vethmt1").unwrap());
    assert!(!ctr
        .cmd(&["ip", "link", "show", "dev", "eth1"])
        .status
        .success());
    nl.ensure_bridge("mt-test1", &[], None).unwrap();
    assert!(nl.delete_link("mt-test1").unwrap());
    assert_eq!(nl.link_index("mt-test1").unwrap(), None);

    // The container namespace goes when nothing holds it: its veth's host end goes with it.
    drop(nl_ctr);
    drop(ctr_ns);
    ctr.end();
    wait_until("the veth to be reaped with its namespace", || {
        nl.link_index("vethmt0").unwrap().is_none()
    });
    assert_eq!(nl.link_index("mt-test0").unwrap(), Some(br));
}

/// A bridge whose MAC the kernel chose takes the lowest MAC of its ports when one joins, so containers'
/// ARP entries for the gateway went stale whenever the first container came or went.
#[test]
fn bridge_mac_changed_when_a_port_joined() {
    if !root_or_skip() {
        return;
    }
    let host = Ns::new();
    let ctr = Ns::new();
    let ctr_ns = File::open(&ctr.path).unwrap();
    let mut nl = Netlink::open_in(&host.path).unwrap();
    let br = nl.ensure_bridge("mt-mac", &[], None).unwrap();
    let before = nl.mac(br).unwrap();
    for i in 0..2 {
        nl.add_veth(&VethSpec {
            host_name: &format!("vethmac{i}"),
            master: br,
            peer_name: &format!("eth{i}"),
            peer_netns: ctr_ns.as_fd(),
            peer_mac: None,
            mtu: None,
        })
        .unwrap();
        assert_eq!(nl.mac(br).unwrap(), before, "after port {i} joined");
    }
    assert!(nl.delete_link("vethmac0").unwrap());
    assert_eq!(nl.mac(br).unwrap(), before, "after a port left");
    let l = link(&host, "mt-mac");
    assert_eq!(l["address"], format_mac(&before), "{l}");
}

/// What `links`, `nsid_of` and `default_routes` read back agrees with `ip -d -j link`, `ip -j addr` and
/// `ip route`: each veth names its peer's ifindex and namespace, on both sides, whatever order the
/// ifindexes were handed out in (a veth pair made inside the container first moves every later number; its
/// ends name each other with no namespace ID).
#[test]
fn links_name_their_veth_peers_as_ip_does() {
    if !root_or_skip() {
        return;
    }
    let host = Ns::new();
    let ctr = Ns::new();
    let ctr_ns = File::open(&ctr.path).unwrap();
    let host_ns = File::open(&host.path).unwrap();
    let mut nl = Netlink::open_in(&host.path).unwrap();
    let br = nl.ensure_bridge("mt-peer", &[net(GW4)], None).unwrap();
    ctr.ok(&[
        "ip", "link", "add", "pad0", "type", "veth", "peer", "name", "pad1",
    ]);
    for i in 0..2 {
        nl.add_veth(&VethSpec {
            host_name: &format!("vethpeer{i}"),
            master: br,
            peer_name: &format!("eth{i}"),
            peer_netns: ctr_ns.as_fd(),
            peer_mac: None,
            mtu: None,
        })
        .unwrap();
        nl.port_up(&format!("vethpeer{i}")).unwrap();
    }
    configure_peer(
        &ctr.path,
        "eth1",
        &[net("10.77.0.9/24")],
        &[ip("10.77.0.1")],
    )
    .unwrap();

    let ctr_id = nl
        .nsid_of(&ctr_ns)
        .unwrap()
        .expect("an ID for the peer's namespace");
    let host_links = nl.links().unwrap();
    let mut cnl = Netlink::open_in(&ctr.path).unwrap();
    let ctr_links = cnl.links().unwrap();
    let host_id = cnl
        .nsid_of(&host_ns)
        .unwrap()
        .expect("an ID for the host's namespace");
    for i in 0..2 {
        let h = host_links
            .iter()
            .find(|l| l.name == format!("vethpeer{i}"))
            .unwrap();
        let c = ctr_links
            .iter()
            .find(|l| l.name == format!("eth{i}"))
            .unwrap();
        let ipj = link(&host, &h.name);
        assert_eq!(h.kind, "veth");
        assert_eq!(h.master, Some(br));
        assert_eq!(
            Some(u64::from(h.link.unwrap())),
            ipj["link_index"].as_u64(),
            "{ipj}"
        );
        assert_eq!(
            Some(i64::from(h.link_netnsid.unwrap())),
            ipj["link_netnsid"].as_i64(),
            "{ipj}"
        );
        assert_eq!((h.link, h.link_netnsid), (Some(c.index), Some(ctr_id)));
        assert_eq!((c.link, c.link_netnsid), (Some(h.index), Some(host_id)));
        assert_eq!(c.mac.as_deref(), link(&ctr, &c.name)["address"].as_str());
    }
    let bridge = host_links.iter().find(|l| l.index == br).unwrap();
    assert_eq!((bridge.kind.as_str(), bridge.link), ("bridge", None));
    assert!(bridge.addrs.contains(&net(GW4)), "{:?}", bridge.addrs);
    let eth1 = ctr_links.iter().find(|l| l.name == "eth1").unwrap();
    assert_eq!(eth1.addrs, vec![net("10.77.0.9/24")]);
    let pad0 = ctr_links.iter().find(|l| l.name == "pad0").unwrap();
    let pad1 = ctr_links.iter().find(|l| l.name == "pad1").unwrap();
    assert_eq!((pad0.link, pad0.link_netnsid), (Some(pad1.index), None));
    let lo = ctr_links.iter().find(|l| l.name == "lo").unwrap();
    assert_eq!((lo.link, lo.link_netnsid), (None, None));
    let routes = cnl.default_routes().unwrap();
    assert_eq!(
        routes,
        vec![minotaur_net::DefaultRoute {
            gateway: Some(ip("10.77.0.1")),
            oif: Some(eth1.index)
        }]
    );
    assert!(ctr
        .ok(&["ip", "route", "show", "default"])
        .contains("via 10.77.0.1 dev eth1"));
    assert_eq!(nl.default_routes().unwrap(), vec![]);

    // Reading several namespaces from threads that move between them gives what a socket each gives.
    let paths = [host.path.as_path(), ctr.path.as_path(), host.path.as_path()];
    let each = minotaur_net::in_each_netns(&paths, 2, |_| Netlink::open()?.links());
    // (Names, indexes and peers: IPv6 link-local addresses come and go with DAD meanwhile.)
    let shape = |links: &[minotaur_net::Link]| -> Vec<(u32, String, Option<u32>, Option<i32>)> {
        links
            .iter()
            .map(|l| (l.index, l.name.clone(), l.link, l.link_netnsid))
            .collect()
    };
    let each: Vec<_> = each.into_iter().map(|r| shape(&r.unwrap())).collect();
    assert_eq!(
        each,
        [shape(&host_links), shape(&ctr_links), shape(&host_links)]
    );
}

/// Not a test: the figures of the data path. `cargo test -p minotaur-net --test link -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn timings() {
    if !root_or_skip() {
        return;
    }
    let host = Ns::new();
    let ctr = Ns::new();
    let mut nl = Netlink::open_in(&host.path).unwrap();
    let ctr_ns = File::open(&ctr.path).unwrap();
    let br = nl
        .ensure_bridge("mt-bench", &[net(GW4), net(GW6)], None)
        .unwrap();
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_micros()
    };
    let n = 200;
    // ensure_bridge alone, and then in a loop that also makes and deletes a veth (where it may wait for the
    // RTNL lock that the kernel's deferred work on those veths takes).
    let mut alone = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        nl.ensure_bridge("mt-bench", &[net(GW4), net(GW6)], None)
            .unwrap();
        alone.push(t.elapsed());
    }
    let mut oi = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        drop(Netlink::open_in(&ctr.path).unwrap());
        oi.push(t.elapsed());
    }
    let mut bridge = Vec::new();
    let mut veth = Vec::new();
    let mut peer = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        nl.ensure_bridge("mt-bench", &[net(GW4), net(GW6)], None)
            .unwrap();
        bridge.push(t.elapsed());
        let t = Instant::now();
        nl.add_veth(&VethSpec {
            host_name: "vethbench",
            master: br,
            peer_name: "eth0",
            peer_netns: ctr_ns.as_fd(),
            peer_mac: Some(mac_for(Ipv4Addr::new(10, 77, 0, 2))),
            mtu: None,
        })
        .unwrap();
        nl.port_up("vethbench").unwrap();
        let t2 = Instant::now();
        configure_peer(
            &ctr.path,
            "eth0",
            &[net("10.77.0.2/24"), net("fd6d:696e:6f74:77::2/64")],
            &[ip("10.77.0.1"), ip("fd6d:696e:6f74:77::1")],
        )
        .unwrap();
        peer.push(t2.elapsed());
        veth.push(t.elapsed());
        assert!(nl.delete_link("vethbench").unwrap(), "iteration {i}");
    }
    println!(
        "median of {n}: ensure_bridge (existing) {} µs alone, {} µs between veths; \
         add_veth+configure_peer {} µs (configure_peer alone {} µs); open_in {} µs",
        median(alone),
        median(bridge),
        median(veth),
        median(peer),
        median(oi)
    );
}
