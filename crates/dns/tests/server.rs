//! The DNS server end to end, each test in a network namespace of its own.
//!
//! This test binary has its own `main` (harness = false) because it doubles as the server executable that
//! [`minotaur_dns::notify`] starts: run as `server dns-serve --dir DIR ...` it does exactly what
//! `minotaur dns-serve` does, so the tests exercise the real start-up path (spawn, inherited lock and
//! readiness pipe, detach) without the CLI binary, which this package cannot name.
//!
//! Each test runs on a thread that first unshares its network namespace and brings `lo` up there: the servers
//! it starts (children of that thread) and every socket it opens live in that namespace only, on loopback
//! addresses 127.0.0.x port 53. Needs root; without it each test prints "skipped: needs root", unless
//! MINOTAUR_TEST_REQUIRE_HOST=1. `server measure` prints the figures in the report (not a timed test).

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record as Rr, RecordType};
use minotaur_dns::{
    notify, read_config, write_config, write_records, Config, Entry, Launch, Listener, Record,
};
use minotaur_testhost::wait_until;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

type Test = (&'static str, fn());

const TESTS: &[Test] = &[
    (
        "answers_names_aliases_and_ptr_per_network",
        answers_names_aliases_and_ptr_per_network,
    ),
    ("dig_agrees_over_udp_and_tcp", dig_agrees_over_udp_and_tcp),
    (
        "sighup_reload_adds_records_and_listeners",
        sighup_reload_adds_records_and_listeners,
    ),
    (
        "record_files_apply_without_a_signal",
        record_files_apply_without_a_signal,
    ),
    (
        "forwards_unknown_names_but_not_on_internal_networks",
        forwards_unknown_names_but_not_on_internal_networks,
    ),
    (
        "servfail_when_no_upstream_answers",
        servfail_when_no_upstream_answers,
    ),
    (
        "exits_when_the_config_becomes_empty",
        exits_when_the_config_becomes_empty,
    ),
    (
        "concurrent_notify_starts_one_server",
        concurrent_notify_starts_one_server,
    ),
    (
        "exit_race_does_not_lose_a_concurrent_notify",
        exit_race_does_not_lose_a_concurrent_notify,
    ),
    (
        "listener_that_cannot_bind_is_skipped",
        listener_that_cannot_bind_is_skipped,
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("dns-serve") => std::process::exit(serve_main(&args[2..])),
        Some("notify") => {
            let r = notify(Path::new(&args[2]), Launch::Exec(&exe()));
            std::process::exit(i32::from(r.is_err()));
        }
        Some("measure") => return in_netns(measure).expect("measure"),
        _ => {}
    }
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
    let chosen: Vec<&Test> = TESTS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in chosen {
            println!("{name}: test");
        }
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        if std::env::var_os("MINOTAUR_TEST_REQUIRE_HOST").is_some_and(|v| v == "1") {
            panic!("MINOTAUR_TEST_REQUIRE_HOST=1 but the tests need root");
        }
        println!("skipped: needs root");
        return;
    }
    println!("running {} tests", chosen.len());
    let runs: Vec<_> = chosen
        .iter()
        .map(|&&(name, f)| (name, thread::spawn(move || in_netns(f))))
        .collect();
    let mut failed = Vec::new();
    for (name, run) in runs {
        let ok = run.join().is_ok_and(|r| r.is_ok());
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed.push(name);
        }
    }
    if failed.is_empty() {
        println!("\ntest result: ok. {} passed", chosen.len());
    } else {
        println!("\ntest result: FAILED. failures: {failed:?}");
        std::process::exit(101);
    }
}

/// What `minotaur dns-serve` does (crates/cli/src/cmd/dns_serve.rs).
fn serve_main(args: &[String]) -> i32 {
    let mut dir = None;
    let mut port = 53;
    let (mut ready, mut lock, mut detach) = (None, None, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dir" => dir = it.next().map(PathBuf::from),
            "--port" => port = it.next().unwrap().parse().unwrap(),
            "--ready-fd" => ready = Some(it.next().unwrap().parse::<i32>().unwrap()),
            "--lock-fd" => lock = Some(it.next().unwrap().parse::<i32>().unwrap()),
            "--detach" => detach = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let ready = ready.map(|fd| minotaur_dns::adopt_fd(fd).unwrap());
    let lock = lock.map(|fd| minotaur_dns::adopt_fd(fd).unwrap());
    if detach {
        minotaur_dns::detach().unwrap();
    }
    match minotaur_dns::serve_locked(&dir.expect("--dir"), port, ready, lock) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// The server executable: this binary, or MINOTAUR_DNS_EXE (the minotaur binary: `measure`, or every test
/// against the real CLI).
fn exe() -> PathBuf {
    std::env::var_os("MINOTAUR_DNS_EXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_exe().unwrap())
}

/// Runs `f` on a thread in a new network namespace with `lo` up.
fn in_netns(f: fn()) -> thread::Result<()> {
    thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        minotaur_sys::interface_up("lo").expect("lo up");
        f()
    })
    .join()
}

/// A resolver directory; dropping it kills every server started for it (found by its command line).
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::Builder::new()
            .prefix("minotaur-dns-test.")
            .tempdir()
            .unwrap())
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    fn set(&self, config: &Config) {
        write_config(self.path(), config).unwrap();
        notify(self.path(), Launch::Exec(&exe())).unwrap();
    }
    /// The live servers for this directory (zombies excluded).
    fn servers(&self) -> Vec<i32> {
        let dir = self.path().as_os_str().as_encoded_bytes().to_vec();
        let mut out = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if args.contains(&&b"dns-serve"[..]) && args.contains(&dir.as_slice()) && alive(pid) {
                out.push(pid);
            }
        }
        out
    }
    fn lock_pid(&self) -> Option<i32> {
        fs::read_to_string(self.path().join("lock"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        for pid in self.servers() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = wait_until("the servers to die", || Ok(self.servers().is_empty()));
    }
}

fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(") ")
            .next()
            .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn at(s: &str) -> SocketAddr {
    SocketAddr::new(ip(s), 53)
}

fn record(names: &[&str], addrs: &[&str]) -> Record {
    Record {
        names: names.iter().map(|s| s.to_string()).collect(),
        addresses: addrs.iter().map(|a| ip(a)).collect(),
        container: names[0].to_owned(),
    }
}

fn listener(address: &str, network: &str, internal: bool, records: Vec<Record>) -> Listener {
    Listener {
        address: ip(address),
        network: network.into(),
        internal,
        records,
    }
}

/// One query over UDP; `Err` when no answer came within two seconds (or the port is closed).
fn query(server: SocketAddr, name: &str, rtype: RecordType) -> Result<Message, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket.connect(server).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let id = rand_id();
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    socket
        .send(&m.to_vec().unwrap())
        .map_err(|e| e.to_string())?;
    let mut buf = [0; 4096];
    let n = socket.recv(&mut buf).map_err(|e| e.to_string())?;
    let answer = Message::from_vec(&buf[..n]).map_err(|e| e.to_string())?;
    assert_eq!(answer.metadata.id, id, "the answer carries the query's ID");
    Ok(answer)
}

fn rand_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish() as u16
}

fn rdata(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

fn two_networks() -> Config {
    Config {
        listeners: vec![
            listener(
                "127.0.0.1",
                "front",
                false,
                vec![
                    record(&["web", "www"], &["10.89.0.2", "fd89::2"]),
                    record(&["cache"], &["10.89.0.3"]),
                ],
            ),
            listener(
                "127.0.0.2",
                "back",
                true,
                vec![record(&["db"], &["10.90.0.2"])],
            ),
        ],
        upstreams: vec![],
    }
}

fn answers_names_aliases_and_ptr_per_network() {
    let dir = Dir::new();
    dir.set(&two_networks());
    let front = at("127.0.0.1");
    let back = at("127.0.0.2");
    for name in ["web", "WWW.", "wEb."] {
        let m = query(front, name, RecordType::A).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert_eq!(rdata(&m), ["10.89.0.2"], "{name}");
        assert_eq!(m.answers[0].ttl, minotaur_dns::TTL);
    }
    assert_eq!(
        rdata(&query(front, "www", RecordType::AAAA).unwrap()),
        ["fd89::2"]
    );
    let m = query(front, "cache", RecordType::AAAA).unwrap();
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );
    assert_eq!(
        rdata(&query(front, "3.0.89.10.in-addr.arpa.", RecordType::PTR).unwrap()),
        ["cache."]
    );
    let v6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.8.d.f.ip6.arpa.";
    assert_eq!(rdata(&query(front, v6, RecordType::PTR).unwrap()), ["web."]);
    // Each network sees only its own containers: `back` is internal, so others' names do not exist there.
    assert_eq!(
        rdata(&query(back, "db", RecordType::A).unwrap()),
        ["10.90.0.2"]
    );
    let m = query(back, "web", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    // `front` forwards names it does not know; with no upstream that is SERVFAIL, not `back`'s answer.
    let m = query(front, "db", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(dir.servers().len(), 1);
    let pid = dir.lock_pid().expect("the server's PID in the lock file");
    assert_eq!(dir.servers(), [pid]);
    // Detached: its own session, standard streams on /dev/null, and nothing inherited but the lock (the
    // readiness pipe is closed once used): the rest are its own signalfd, inotify and sockets.
    assert_eq!(
        nix::unistd::getsid(Some(Pid::from_raw(pid)))
            .unwrap()
            .as_raw(),
        pid
    );
    let lock = dir.path().join("lock");
    for fd in fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        let target = fs::read_link(fd.path()).unwrap();
        let n: i32 = fd.file_name().to_string_lossy().parse().unwrap();
        let t = target.to_string_lossy();
        let ok = if n <= 2 {
            t == "/dev/null"
        } else {
            target == lock
                || t == "anon_inode:[signalfd]"
                || t == "anon_inode:inotify"
                || t.starts_with("socket:")
        };
        assert!(ok, "server descriptor {n} is {t}");
    }
}

fn dig(args: &[&str]) -> String {
    let out = std::process::Command::new("dig")
        .args(["+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dig_agrees_over_udp_and_tcp() {
    let dir = Dir::new();
    dir.set(&two_networks());
    for transport in ["+notcp", "+tcp"] {
        let a = dig(&["@127.0.0.1", "-p", "53", transport, "+short", "web", "A"]);
        assert_eq!(a.trim(), "10.89.0.2", "{transport}");
        let ptr = dig(&["@127.0.0.1", transport, "+short", "-x", "10.89.0.3"]);
        assert_eq!(ptr.trim(), "cache.", "{transport}");
        let nx = dig(&["@127.0.0.2", transport, "nothing.example", "A"]);
        assert!(nx.contains("status: NXDOMAIN"), "{transport}: {nx}");
        assert!(nx.contains(" aa"), "authoritative: {nx}");
    }
}

fn sighup_reload_adds_records_and_listeners() {
    let dir = Dir::new();
    let mut config = two_networks();
    dir.set(&config);
    let server = dir.servers();
    assert_eq!(
        query(at("127.0.0.2"), "late", RecordType::A)
            .unwrap()
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    assert!(query(at("127.0.0.4"), "x", RecordType::A).is_err());
    config.listeners[1]
        .records
        .push(record(&["late"], &["10.90.0.9"]));
    config.listeners.push(listener(
        "127.0.0.4",
        "third",
        true,
        vec![record(&["x"], &["10.91.0.2"])],
    ));
    config.listeners.remove(0);
    dir.set(&config);
    wait_until("the reload", || {
        Ok(query(at("127.0.0.2"), "late", RecordType::A).is_ok_and(|m| !m.answers.is_empty()))
    })
    .unwrap();
    assert_eq!(
        rdata(&query(at("127.0.0.2"), "late", RecordType::A).unwrap()),
        ["10.90.0.9"]
    );
    assert_eq!(
        rdata(&query(at("127.0.0.4"), "x", RecordType::A).unwrap()),
        ["10.91.0.2"]
    );
    // The removed listener is closed (ICMP port unreachable: an error at once).
    assert!(query(at("127.0.0.1"), "web", RecordType::A).is_err());
    assert_eq!(dir.servers(), server, "the same server reloaded");
}

/// A container's record file is picked up by the running server on its own (inotify): written, replaced,
/// removed; its entries land in the zone of the network they name and nowhere else.
fn record_files_apply_without_a_signal() {
    let dir = Dir::new();
    dir.set(&two_networks());
    let server = dir.servers();
    let entry = |network: &str, names: &[&str], addr: &str| Entry {
        network: network.into(),
        record: Record {
            container: "c0ffee".into(),
            ..record(names, &[addr])
        },
    };
    let a = |listener: &str, name: &str| {
        query(at(listener), name, RecordType::A)
            .map(|m| rdata(&m))
            .unwrap_or_default()
    };
    write_records(
        dir.path(),
        "c0ffee",
        &[entry("back", &["late"], "10.90.0.9")],
    )
    .unwrap();
    wait_until("the record file", || {
        Ok(a("127.0.0.2", "late") == ["10.90.0.9"])
    })
    .unwrap();
    assert!(a("127.0.0.1", "late").is_empty(), "only its own network");
    // A file with the same name replaces the container's entries; no file, no entries.
    write_records(
        dir.path(),
        "c0ffee",
        &[entry("back", &["later"], "10.90.0.10")],
    )
    .unwrap();
    wait_until("the new record file", || {
        Ok(a("127.0.0.2", "later") == ["10.90.0.10"])
    })
    .unwrap();
    assert!(a("127.0.0.2", "late").is_empty());
    write_records(dir.path(), "c0ffee", &[]).unwrap();
    wait_until("the removal", || Ok(a("127.0.0.2", "later").is_empty())).unwrap();
    // The configuration's own records are still there, and it was never reloaded by a signal.
    assert_eq!(a("127.0.0.1", "web"), ["10.89.0.2"]);
    assert_eq!(dir.servers(), server);
    // A new server reads the files that are there when it starts.
    write_records(
        dir.path(),
        "c0ffee",
        &[entry("front", &["early"], "10.89.0.7")],
    )
    .unwrap();
    kill(Pid::from_raw(server[0]), Signal::SIGTERM).unwrap();
    wait_until("the server to exit", || Ok(!alive(server[0]))).unwrap();
    notify(dir.path(), Launch::Exec(&exe())).unwrap();
    assert_eq!(a("127.0.0.1", "early"), ["10.89.0.7"]);
    let e = write_records(dir.path(), "../x", &[]).unwrap_err();
    assert!(e.to_string().starts_with("cannot write"), "{e}");
}

/// A tiny upstream on `addr` port 53 that answers every A query with 192.0.2.99, counting queries.
struct Upstream {
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Upstream {
    fn start(addr: &str) -> Upstream {
        let socket = UdpSocket::bind(at(addr)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let tcp = std::net::TcpListener::bind(at(addr)).unwrap();
        tcp.set_nonblocking(true).unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (q, s) = (Arc::clone(&queries), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            let mut buf = [0; 4096];
            while !s.load(Ordering::Relaxed) {
                if let Ok((mut stream, _)) = tcp.accept() {
                    use std::io::{Read, Write};
                    stream.set_nonblocking(false).unwrap();
                    let mut len = [0; 2];
                    stream.read_exact(&mut len).unwrap();
                    let mut query = vec![0; u16::from_be_bytes(len) as usize];
                    stream.read_exact(&mut query).unwrap();
                    q.fetch_add(1, Ordering::SeqCst);
                    let answer = upstream_answer(&query);
                    let mut out = (answer.len() as u16).to_be_bytes().to_vec();
                    out.extend(answer);
                    stream.write_all(&out).unwrap();
                }
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                q.fetch_add(1, Ordering::SeqCst);
                socket.send_to(&upstream_answer(&buf[..n]), from).unwrap();
            }
        });
        Upstream {
            queries,
            stop,
            thread: Some(thread),
        }
    }
    fn count(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

fn upstream_answer(query: &[u8]) -> Vec<u8> {
    let request = Message::from_vec(query).unwrap();
    let mut m = Message::response(request.metadata.id, OpCode::Query);
    m.metadata.recursion_available = true;
    let question = request.queries[0].clone();
    m.add_answer(Rr::from_rdata(
        question.name().clone(),
        300,
        RData::A(A("192.0.2.99".parse().unwrap())),
    ));
    m.add_query(question);
    m.to_vec().unwrap()
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn forwards_unknown_names_but_not_on_internal_networks() {
    let upstream = Upstream::start("127.0.0.3");
    let dir = Dir::new();
    let mut config = two_networks();
    config.upstreams = vec![at("127.0.0.3")];
    dir.set(&config);
    let m = query(at("127.0.0.1"), "www.outside.test", RecordType::A).unwrap();
    assert_eq!(rdata(&m), ["192.0.2.99"]);
    assert!(!m.metadata.authoritative, "relayed as the upstream sent it");
    assert_eq!(upstream.count(), 1);
    // Over TCP, forwarded over TCP.
    let tcp = dig(&["@127.0.0.1", "+tcp", "+short", "tcp.outside.test", "A"]);
    assert_eq!(tcp.trim(), "192.0.2.99");
    assert_eq!(upstream.count(), 2);
    // A known name is never forwarded, whatever the type.
    query(at("127.0.0.1"), "web", RecordType::MX).unwrap();
    assert_eq!(upstream.count(), 2);
    // Nor is anything asked on the internal network.
    for name in ["www.outside.test", "web"] {
        let m = query(at("127.0.0.2"), name, RecordType::A).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{name}");
    }
    let tcp = dig(&["@127.0.0.2", "+tcp", "tcp.outside.test", "A"]);
    assert!(tcp.contains("status: NXDOMAIN"), "{tcp}");
    assert_eq!(upstream.count(), 2);
}

fn servfail_when_no_upstream_answers() {
    // 127.0.0.5 has no listener (refused at once), 127.0.0.6 swallows queries (a timeout).
    let _silent = UdpSocket::bind(at("127.0.0.6")).unwrap();
    let upstream = Upstream::start("127.0.0.3");
    let dir = Dir::new();
    let mut config = two_networks();
    config.upstreams = vec![at("127.0.0.5"), at("127.0.0.6")];
    dir.set(&config);
    let start = Instant::now();
    let m = query(at("127.0.0.1"), "a.test", RecordType::A);
    // The client's two-second timeout may expire before the server's own one (2 s per upstream).
    if let Ok(m) = m {
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    }
    // Others are answered meanwhile (the forward runs on its own thread).
    let m = query(at("127.0.0.1"), "web", RecordType::A).unwrap();
    assert_eq!(rdata(&m), ["10.89.0.2"]);
    assert!(start.elapsed() < Duration::from_secs(5));
    // The next upstream is tried after the first fails.
    config.upstreams = vec![at("127.0.0.5"), at("127.0.0.3")];
    dir.set(&config);
    wait_until("forwarding to the second upstream", || {
        Ok(query(at("127.0.0.1"), "b.test", RecordType::A)
            .is_ok_and(|m| rdata(&m) == ["192.0.2.99"]))
    })
    .unwrap();
    assert!(upstream.count() >= 1);
}

fn exits_when_the_config_becomes_empty() {
    let dir = Dir::new();
    dir.set(&two_networks());
    let pid = dir.lock_pid().expect("a PID in the lock file");
    assert_eq!(dir.servers(), [pid]);
    dir.set(&Config::default());
    wait_until("the server to exit", || Ok(!alive(pid))).unwrap();
    assert_eq!(dir.lock_pid(), None, "the lock file is emptied");
    assert!(query(at("127.0.0.1"), "web", RecordType::A).is_err());
    // And the next notify starts a new one.
    dir.set(&two_networks());
    assert_eq!(
        rdata(&query(at("127.0.0.1"), "web", RecordType::A).unwrap()),
        ["10.89.0.2"]
    );
    assert_eq!(dir.servers().len(), 1);
}

fn concurrent_notify_starts_one_server() {
    let dir = Dir::new();
    write_config(dir.path(), &two_networks()).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let path = dir.path().to_owned();
    // Four threads and four processes call notify at the same moment.
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let path = path.clone();
            thread::spawn(move || {
                barrier.wait();
                if i % 2 == 0 {
                    notify(&path, Launch::Exec(&exe())).map_err(|e| e.to_string())
                } else {
                    let status = std::process::Command::new(std::env::current_exe().unwrap())
                        .arg("notify")
                        .arg(&path)
                        .status()
                        .unwrap();
                    if status.success() {
                        Ok(())
                    } else {
                        Err(format!("notify process: {status}"))
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap().unwrap();
    }
    let servers = dir.servers();
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(dir.lock_pid(), Some(servers[0]));
    assert_eq!(
        rdata(&query(at("127.0.0.1"), "web", RecordType::A).unwrap()),
        ["10.89.0.2"]
    );
}

/// A server that reloads an empty configuration and decides to exit must not lose the configuration a
/// concurrent writer wrote while it did: the writer saw the lock held and only signalled.
fn exit_race_does_not_lose_a_concurrent_notify() {
    let dir = Dir::new();
    dir.set(&two_networks());
    let mut seen = HashSet::new();
    for round in 0..40u32 {
        let mut late = two_networks();
        let name = format!("late{round}");
        late.listeners[1]
            .records
            .push(record(&[&name], &["10.90.0.77"]));
        let emptier = {
            let path = dir.path().to_owned();
            thread::spawn(move || {
                write_config(&path, &Config::default()).unwrap();
                notify(&path, Launch::Exec(&exe())).unwrap();
            })
        };
        // Land anywhere in the server's exit: before, during, after.
        thread::sleep(Duration::from_micros(u64::from(round % 10) * 150));
        write_config(dir.path(), &late).unwrap();
        notify(dir.path(), Launch::Exec(&exe())).unwrap();
        emptier.join().unwrap();
        if read_config(dir.path()).unwrap().listeners.is_empty() {
            // The emptier's write came last: no server is due; make it start again.
            dir.set(&late);
        }
        wait_until("the late configuration to be served", || {
            Ok(query(at("127.0.0.2"), &name, RecordType::A).is_ok_and(|m| !m.answers.is_empty()))
        })
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        // A server that called its exit off may still be ending (closing its inotify descriptor waits for
        // the kernel's deferred work), but only one may remain.
        wait_until("one server to remain", || Ok(dir.servers().len() <= 1))
            .unwrap_or_else(|e| panic!("round {round}: {e}: {:?}", dir.servers()));
        let servers = dir.servers();
        seen.extend(servers);
    }
    println!("exit race: {} distinct servers over 40 rounds", seen.len());
}

fn listener_that_cannot_bind_is_skipped() {
    let _taken = UdpSocket::bind(at("127.0.0.7")).unwrap();
    let dir = Dir::new();
    let mut config = two_networks();
    config
        .listeners
        .push(listener("127.0.0.7", "taken", false, vec![]));
    dir.set(&config);
    assert_eq!(
        rdata(&query(at("127.0.0.1"), "web", RecordType::A).unwrap()),
        ["10.89.0.2"]
    );
    // When no listener at all can be bound, notify says why and no server stays.
    let only = Config {
        listeners: vec![listener("127.0.0.7", "taken", false, vec![])],
        upstreams: vec![],
    };
    let other = Dir::new();
    write_config(other.path(), &only).unwrap();
    let e = notify(other.path(), Launch::Exec(&exe()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("127.0.0.7:53"), "{e}");
    wait_until("the failed server to exit", || {
        Ok(other.servers().is_empty())
    })
    .unwrap();
    assert_eq!(other.lock_pid(), None);
}

/// The figures for the report: median microseconds per answered local and forwarded query, and the
/// server's PSS with about 100 records.
fn measure() {
    let upstream = Upstream::start("127.0.0.3");
    let dir = Dir::new();
    let mut config = two_networks();
    config.upstreams = vec![at("127.0.0.3")];
    for i in 0..100 {
        config.listeners[0].records.push(record(
            &[&format!("c{i}"), &format!("alias{i}")],
            &[&format!("10.89.1.{i}")],
        ));
    }
    dir.set(&config);
    let pss = |pid: i32| -> u64 {
        fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    // Let the server finish starting (it sheds memory right after reporting ready).
    thread::sleep(Duration::from_millis(300));
    let idle = pss(dir.lock_pid().unwrap());
    let median = |name: &str| {
        let mut times: Vec<u128> = (0..200)
            .map(|_| {
                let t = Instant::now();
                query(at("127.0.0.1"), name, RecordType::A).unwrap();
                t.elapsed().as_micros()
            })
            .collect();
        times.sort_unstable();
        times[times.len() / 2]
    };
    let local = median("c42");
    let forwarded = median("www.outside.test");
    let pid = dir.lock_pid().unwrap();
    let pss = pss(pid);
    // Where the PSS is, largest mappings first.
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut current = String::new();
    let mut by_mapping: Vec<(u64, String)> = Vec::new();
    for line in smaps.lines() {
        if let Some(v) = line.strip_prefix("Pss:") {
            let kb = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
            by_mapping.push((kb, current.clone()));
        } else if !line.contains(':')
            || line
                .split_whitespace()
                .next()
                .is_some_and(|f| f.contains('-'))
        {
            current = line.to_owned();
        }
    }
    by_mapping.sort_by_key(|m| std::cmp::Reverse(m.0));
    for (kb, mapping) in by_mapping.iter().take(6) {
        println!("  {kb:>6} KiB  {mapping}");
    }
    println!(
        "local query: {local} us median; forwarded: {forwarded} us median; server PSS: {idle} KiB at start, {pss} KiB after; upstream saw {}",
        upstream.count()
    );
}
