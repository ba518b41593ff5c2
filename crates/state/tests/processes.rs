//! Many processes sharing one database at once, as concurrent CLI invocations do.
//!
//! Each test spawns this test binary again as its worker processes (`processes <role> <root> <n>`): that is
//! why this file has its own `main` instead of libtest's (`harness = false` in Cargo.toml). The workers open the
//! store, wait on stdin until the parent closes it so that they all start together, do their part and exit 0,
//! or print the error and exit 1.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use std::{env, process};

use minotaur_state::{NewContainer, NewNetwork, StateError, Store, SCHEMA_VERSION};

const PROCESSES: u64 = 8;
const WRITES: u64 = 200;
const ALLOCATIONS: u64 = 25;
const OPEN_ROUNDS: u64 = 50;

type Test = fn();

const TESTS: &[(&str, Test)] = &[
    (
        "eight_processes_writing_at_once_lose_nothing",
        eight_processes_writing_at_once_lose_nothing,
    ),
    (
        "eight_processes_allocating_at_once_get_distinct_lowest_addresses",
        eight_processes_allocating_at_once_get_distinct_lowest_addresses,
    ),
    (
        "processes_creating_the_database_at_once_all_succeed",
        processes_creating_the_database_at_once_all_succeed,
    ),
];

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    if let [role, root, n] = &args[..] {
        if let Some(worker) = worker(role) {
            let n = n.parse().expect("worker number");
            if let Err(e) = worker(Path::new(root), n) {
                eprintln!("worker {role} {n}: {}", chain(&e));
                process::exit(1);
            }
            return;
        }
    }
    // Run as a test: the non-flag arguments are name filters, like libtest's.
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<_> = TESTS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", selected.len());
    for (name, test) in &selected {
        println!("test {name} ...");
        test();
        println!("test {name} ... ok");
    }
    println!("\ntest result: ok. {} passed", selected.len());
}

type Worker = fn(&Path, u64) -> Result<(), StateError>;

fn worker(role: &str) -> Option<Worker> {
    match role {
        "write" => Some(write_worker),
        "allocate" => Some(allocate_worker),
        "create" => Some(create_worker),
        _ => None,
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s += &format!(": {cause}");
        source = cause.source();
    }
    s
}

fn wait_for_start() {
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest).expect("read stdin");
}

/// A container ID that says which worker made it.
fn id(worker: u64, seq: u64) -> String {
    format!("{:064x}", worker << 32 | seq)
}

fn container<'a>(id: &'a str, name: &'a str, config: &'a str) -> NewContainer<'a> {
    NewContainer {
        id,
        name,
        image: "busybox",
        config,
        state: "{}",
    }
}

/// WRITES transactions, each inserting one container.
fn write_worker(root: &Path, n: u64) -> Result<(), StateError> {
    let mut store = Store::open(root)?;
    wait_for_start();
    for seq in 0..WRITES {
        let (id, name) = (id(n, seq), format!("w{n}-{seq}"));
        let config = format!(r#"{{"worker":{n},"seq":{seq}}}"#);
        store.write(|tx| tx.insert_container(&container(&id, &name, &config)))?;
    }
    Ok(())
}

const NETWORK: &str = "00000000000000000000000000000000000000000000000000000000000000ee";

/// 10.89.0.0/24 without the gateway 10.89.0.1, in ascending order.
fn candidates() -> impl Iterator<Item = IpAddr> {
    (2..=254).map(|n| IpAddr::V4(Ipv4Addr::new(10, 89, 0, n)))
}

/// ALLOCATIONS transactions, each creating a container and giving it the lowest free address. Each reads
/// before it writes, as the engine will (is the name free?): only a transaction that holds the write lock from
/// its start can do that while others commit.
fn allocate_worker(root: &Path, n: u64) -> Result<(), StateError> {
    let mut store = Store::open(root)?;
    wait_for_start();
    for seq in 0..ALLOCATIONS {
        let (id, name) = (id(n, seq), format!("a{n}-{seq}"));
        store.write(|tx| {
            assert!(tx.container(&name)?.is_none());
            tx.insert_container(&container(&id, &name, "{}"))?;
            tx.allocate_address(NETWORK, &id, candidates())
        })?;
    }
    Ok(())
}

/// Opens a database nobody has opened yet, at the same time as the others, and inserts one container.
fn create_worker(root: &Path, n: u64) -> Result<(), StateError> {
    wait_for_start();
    let mut store = Store::open(root)?;
    let (id, name) = (id(n, 0), format!("c{n}"));
    store.write(|tx| tx.insert_container(&container(&id, &name, "{}")).map(drop))
}

/// Starts `PROCESSES` workers, lets them go at once, waits for all; fails naming every worker that failed.
fn run_workers(role: &str, root: &Path) -> Duration {
    let exe = env::current_exe().expect("current_exe");
    let mut children: Vec<Child> = (0..PROCESSES)
        .map(|n| {
            Command::new(&exe)
                .args([role, root.to_str().unwrap(), &n.to_string()])
                .stdin(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    let start = Instant::now();
    for child in &mut children {
        drop(child.stdin.take());
    }
    let failures: Vec<String> = children
        .into_iter()
        .enumerate()
        .filter_map(|(n, child)| {
            let out = child.wait_with_output().expect("wait for worker");
            (!out.status.success()).then(|| {
                format!(
                    "worker {n}: {}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
            })
        })
        .collect();
    let took = start.elapsed();
    assert!(
        failures.is_empty(),
        "{role} workers failed:\n{}",
        failures.join("\n")
    );
    took
}

fn eight_processes_writing_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let took = run_workers("write", dir.path());
    let rows = store.read(|tx| tx.containers()).unwrap();
    assert_eq!(rows.len() as u64, PROCESSES * WRITES);
    let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    let mut want: Vec<String> = (0..PROCESSES)
        .flat_map(|n| (0..WRITES).map(move |s| id(n, s)))
        .collect();
    want.sort_unstable();
    assert_eq!(ids, want);
    // How often the writer changed from one row to the next: 7 would mean they ran one after another.
    let switches = rows
        .windows(2)
        .filter(|w| w[0].id[..56] != w[1].id[..56])
        .count();
    println!(
        "    {PROCESSES} processes x {WRITES} writes: {:.2} s, {:.0} writes/s, writer changed {switches} times",
        took.as_secs_f64(),
        (PROCESSES * WRITES) as f64 / took.as_secs_f64()
    );
}

fn eight_processes_allocating_at_once_get_distinct_lowest_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            tx.insert_network(&NewNetwork {
                id: NETWORK,
                name: "net",
                driver: "bridge",
                subnet: "10.89.0.0/24",
                gateway: Some("10.89.0.1"),
                internal: false,
                config: "{}",
            })
        })
        .unwrap();
    let took = run_workers("allocate", dir.path());
    let allocations = store.read(|tx| tx.allocations(NETWORK)).unwrap();
    let mut addresses: Vec<IpAddr> = allocations
        .iter()
        .map(|a| a.address.parse().unwrap())
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    // Distinct, and exactly the lowest ones: no gap means no allocation was lost or rolled back unseen.
    let want: Vec<IpAddr> = candidates()
        .take((PROCESSES * ALLOCATIONS) as usize)
        .collect();
    assert_eq!(addresses, want);
    assert_eq!(allocations.len(), want.len());
    // Each container holds exactly one.
    let mut holders: Vec<&str> = allocations
        .iter()
        .map(|a| a.container_id.as_str())
        .collect();
    holders.sort_unstable();
    holders.dedup();
    assert_eq!(holders.len(), want.len());
    println!(
        "    {PROCESSES} processes x {ALLOCATIONS} allocations: {:.2} s",
        took.as_secs_f64()
    );
}

fn processes_creating_the_database_at_once_all_succeed() {
    for _ in 0..OPEN_ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        run_workers("create", &root);
        let mut store = Store::open(&root).unwrap();
        assert_eq!(
            store.read(|tx| tx.containers()).unwrap().len() as u64,
            PROCESSES
        );
        let version: u32 = rusqlite::Connection::open(store.path())
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
