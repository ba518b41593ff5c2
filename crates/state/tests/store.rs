//! The store within one process: opening, migrations, transactions, rows, errors.

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;

use minotaur_state::{NewContainer, NewNetwork, StateError, Store, DB_FILE, SCHEMA_VERSION};

fn id(n: u64) -> String {
    format!("{n:064x}")
}

fn container<'a>(id: &'a str, name: &'a str) -> NewContainer<'a> {
    NewContainer {
        id,
        name,
        image: "docker.io/library/busybox:latest",
        config: r#"{"cmd":["sh"]}"#,
        state: r#"{"status":"created"}"#,
    }
}

fn user_version(db: &std::path::Path) -> u32 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

fn names(store: &mut Store) -> Vec<String> {
    store
        .read(|tx| tx.containers())
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect()
}

#[test]
fn open_creates_private_root_and_wal_database() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a/b/root");
    let store = Store::open(&root).unwrap();
    assert_eq!(store.path(), root.join(DB_FILE));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&root.join(DB_FILE)), 0o600);
    let conn = rusqlite::Connection::open(root.join(DB_FILE)).unwrap();
    let journal: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    assert_eq!(user_version(&root.join(DB_FILE)), SCHEMA_VERSION);
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    assert_eq!(
        tables,
        [
            "cni_addresses",
            "cni_attachments",
            "containers",
            "endpoints",
            "events",
            "ip_allocations",
            "networks",
            "ports",
            "volume_mounts",
            "volumes"
        ]
    );
}

#[test]
fn reopen_keeps_rows_and_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Store::open(dir.path()).unwrap();
    first
        .write(|tx| tx.insert_container(&container(&id(1), "web")))
        .unwrap();
    // A second process-like opener while the first is still open, then a reopen after both are gone.
    let mut second = Store::open(dir.path()).unwrap();
    assert_eq!(names(&mut second), ["web"]);
    drop((first, second));
    let mut again = Store::open(dir.path()).unwrap();
    assert_eq!(names(&mut again), ["web"]);
    assert_eq!(user_version(again.path()), SCHEMA_VERSION);
}

/// Schema 6 adds the index `ps` walks; a database made by schema 5 (the same tables, no index) gets it
/// on open and keeps its rows, listed oldest first.
#[test]
fn a_schema_5_database_gains_the_creation_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            for (n, name) in ["c", "a", "b"].iter().enumerate() {
                tx.insert_container(&container(&id(n as u64 + 1), name))?;
            }
            Ok::<(), StateError>(())
        })
        .unwrap();
    let path = store.path().to_owned();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    // Creation times out of insertion order, so that the listing's order is the index's, not the rowid's.
    conn.execute_batch(
        "UPDATE containers SET created_at = '2026-01-0' || (CASE name WHEN 'a' THEN 1 WHEN 'b' THEN 2 ELSE 3 END) || 'T00:00:00.000Z';
         DROP INDEX containers_created;
         PRAGMA user_version = 5;",
    )
    .unwrap();
    drop(conn);
    assert_eq!(user_version(&path), 5);

    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 6);
    assert_eq!(names(&mut store), ["a", "b", "c"]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let plan: Vec<String> = conn
        .prepare("EXPLAIN QUERY PLAN SELECT id, name FROM containers ORDER BY created_at, rowid")
        .unwrap()
        .query_map([], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter()
            .any(|p| p.contains("USING INDEX containers_created"))
            && !plan.iter().any(|p| p.contains("TEMP B-TREE")),
        "{plan:?}"
    );
}

#[test]
fn database_newer_than_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = Store::open(dir.path()).unwrap().path().to_owned();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = Store::open(dir.path()).err().expect("open must fail");
    assert!(
        matches!(err, StateError::TooNew { found, known, .. } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(
        user_version(&path),
        SCHEMA_VERSION + 1,
        "refusing must not change it"
    );
}

#[test]
fn failed_write_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| tx.insert_container(&container(&id(1), "web")))
        .unwrap();
    // Two inserts in one transaction, the second fails: the first must not be there either.
    let err = store
        .write(|tx| {
            tx.insert_container(&container(&id(2), "db"))?;
            tx.insert_container(&container(&id(3), "web"))
        })
        .unwrap_err();
    assert!(matches!(&err, StateError::NameInUse { kind: "container", name } if name == "web"));
    assert_eq!(err.to_string(), r#"container name "web" is already in use"#);
    // A caller's own error rolls back too.
    let custom: Result<(), Custom> = store.write(|tx| {
        tx.insert_container(&container(&id(4), "cache"))?;
        Err(Custom::Mine)
    });
    assert!(matches!(custom, Err(Custom::Mine)));
    assert_eq!(names(&mut store), ["web"]);
    // The store is still usable after rollbacks.
    store
        .write(|tx| tx.insert_container(&container(&id(2), "db")))
        .unwrap();
    assert_eq!(names(&mut store), ["web", "db"]);
}

#[derive(Debug)]
enum Custom {
    Mine,
    #[allow(dead_code)]
    State(StateError),
}

impl From<StateError> for Custom {
    fn from(e: StateError) -> Custom {
        Custom::State(e)
    }
}

#[test]
fn container_rows_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let web = id(0xabc);
    store
        .write(|tx| tx.insert_container(&container(&web, "web")))
        .unwrap();
    store
        .write(|tx| tx.insert_container(&container(&id(2), "db")))
        .unwrap();

    let row = store.read(|tx| tx.container("web")).unwrap().unwrap();
    assert_eq!(row.id, web);
    assert_eq!(row.image, "docker.io/library/busybox:latest");
    assert_eq!(row.config, r#"{"cmd":["sh"]}"#);
    assert_eq!(row.state, r#"{"status":"created"}"#);
    // RFC 3339 in UTC with milliseconds: 2026-11-29T18:55:00.123Z
    let t = row.created_at.as_bytes();
    assert_eq!(t.len(), 24, "{}", row.created_at);
    assert_eq!(
        (t[4], t[10], t[19], t[23]),
        (b'-', b'T', b'.', b'Z'),
        "{}",
        row.created_at
    );
    assert_eq!(store.read(|tx| tx.container(&web)).unwrap(), Some(row));
    assert_eq!(store.read(|tx| tx.container("nope")).unwrap(), None);

    assert!(store.write(|tx| tx.delete_container(&web)).unwrap());
    assert!(!store.write(|tx| tx.delete_container(&web)).unwrap());
    assert_eq!(names(&mut store), ["db"]);
}

#[test]
fn an_id_that_is_a_name_finds_the_container_with_that_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let a = id(1);
    // Container "b" is named like container "a"'s ID; looking up that string must find "a".
    store
        .write(|tx| tx.insert_container(&container(&id(2), &a)))
        .unwrap();
    store
        .write(|tx| tx.insert_container(&container(&a, "a")))
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.container(&a)).unwrap().unwrap().name,
        "a"
    );
}

#[test]
fn bad_rows_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| tx.insert_container(&container(&id(1), "web")))
        .unwrap();
    let err = store
        .write(|tx| tx.insert_container(&container(&id(1), "other")))
        .unwrap_err();
    assert!(
        matches!(&err, StateError::IdInUse { kind: "container", id: i } if *i == id(1)),
        "{err:?}"
    );

    let short = "abc".to_owned();
    let upper = id(1).to_uppercase().replace('0', "A");
    for bad_id in [&short, &upper] {
        let err = store
            .write(|tx| tx.insert_container(&container(bad_id, "x")))
            .unwrap_err();
        assert!(matches!(err, StateError::Query { .. }), "{bad_id}: {err:?}");
    }
    let err = store
        .write(|tx| {
            tx.insert_container(&NewContainer {
                config: "{not json",
                ..container(&id(5), "x")
            })
        })
        .unwrap_err();
    assert!(err.to_string().starts_with("state database "), "{err}");
    assert!(
        err.to_string().ends_with("cannot insert container x"),
        "{err}"
    );
    assert_eq!(names(&mut store), ["web"]);
}

fn network<'a>(id: &'a str, name: &'a str) -> NewNetwork<'a> {
    NewNetwork {
        id,
        name,
        driver: "bridge",
        subnet: "10.88.0.0/29",
        gateway: Some("10.88.0.1"),
        internal: false,
        config: "{}",
    }
}

/// The host addresses of 10.88.0.0/29 without the gateway: .2 to .6.
fn candidates() -> impl Iterator<Item = IpAddr> {
    (2..=6).map(|n| IpAddr::V4(Ipv4Addr::new(10, 88, 0, n)))
}

#[test]
fn allocation_takes_lowest_free_and_removal_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let net = id(0xee);
    store
        .write(|tx| tx.insert_network(&network(&net, "mynet")))
        .unwrap();
    let err = store
        .write(|tx| tx.insert_network(&network(&id(0xef), "mynet")))
        .unwrap_err();
    assert_eq!(err.to_string(), r#"network name "mynet" is already in use"#);

    let mut got = Vec::new();
    for n in 1..=5 {
        let c = id(n);
        let addr = store
            .write(|tx| {
                tx.insert_container(&container(&c, &format!("c{n}")))?;
                tx.allocate_address(&net, &c, candidates())
            })
            .unwrap();
        got.push(addr.to_string());
    }
    assert_eq!(
        got,
        [
            "10.88.0.2",
            "10.88.0.3",
            "10.88.0.4",
            "10.88.0.5",
            "10.88.0.6"
        ]
    );

    // Full: the failed allocation rolls back its container too.
    let err = store
        .write(|tx| {
            tx.insert_container(&container(&id(6), "c6"))?;
            tx.allocate_address(&net, &id(6), candidates())
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("network {net} has no free address")
    );
    assert_eq!(store.read(|tx| tx.container("c6")).unwrap(), None);

    // Removing a container frees its address (ON DELETE CASCADE: foreign keys are on); the next allocation
    // takes the lowest free one again.
    assert!(store.write(|tx| tx.delete_container(&id(2))).unwrap());
    let left = store.read(|tx| tx.allocations(&net)).unwrap();
    assert_eq!(left.len(), 4);
    assert!(left
        .iter()
        .all(|a| a.address != "10.88.0.3" && a.container_id != id(2)));
    let again = store
        .write(|tx| {
            tx.insert_container(&container(&id(7), "c7"))?;
            tx.allocate_address(&net, &id(7), candidates())
        })
        .unwrap();
    assert_eq!(again.to_string(), "10.88.0.3");
}

#[test]
fn allocation_needs_existing_network_and_container() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| tx.insert_network(&network(&id(0xee), "mynet")))
        .unwrap();
    store
        .write(|tx| tx.insert_container(&container(&id(1), "c1")))
        .unwrap();
    let no_network = store.write(|tx| tx.allocate_address(&id(0xef), &id(1), candidates()));
    assert!(
        matches!(no_network, Err(StateError::Query { .. })),
        "{no_network:?}"
    );
    let no_container = store.write(|tx| tx.allocate_address(&id(0xee), &id(2), candidates()));
    assert!(
        matches!(no_container, Err(StateError::Query { .. })),
        "{no_container:?}"
    );
    assert!(store
        .read(|tx| tx.allocations(&id(0xee)))
        .unwrap()
        .is_empty());
}

#[test]
fn state_updates_renames_and_id_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let a = "ab".repeat(32);
    let b = "ac".repeat(32);
    store
        .write(|tx| {
            for (id, name) in [(&a, "one"), (&b, "two")] {
                tx.insert_container(&NewContainer {
                    id,
                    name,
                    image: "host",
                    config: "{}",
                    state: "{}",
                })?;
            }
            Ok::<_, StateError>(())
        })
        .unwrap();
    store
        .write(|tx| {
            assert!(tx.set_container_state(&a, r#"{"status":"running"}"#)?);
            assert!(tx.rename_container(&a, "uno")?);
            assert!(matches!(
                tx.rename_container(&a, "two"),
                Err(StateError::NameInUse { .. })
            ));
            assert!(!tx.set_container_state(&"0".repeat(64), "{}")?);
            Ok::<_, StateError>(())
        })
        .unwrap();
    store
        .read(|tx| {
            let row = tx.container("uno")?.unwrap();
            assert_eq!(row.state, r#"{"status":"running"}"#);
            assert_eq!(tx.containers_by_id_prefix("a", 5)?.len(), 2);
            assert_eq!(tx.containers_by_id_prefix("abab", 5)?[0].id, a);
            assert!(tx.containers_by_id_prefix("a*", 5)?.is_empty());
            assert!(tx.containers_by_id_prefix("", 5)?.is_empty());
            Ok::<_, StateError>(())
        })
        .unwrap();
}

/// Regression: every process that opened the database alone rebuilt the WAL index from the whole WAL and
/// forgot what was checkpointed, so the WAL never started over and grew with every write; commands got
/// slower with every container ever made.
#[test]
fn the_wal_stays_short_across_many_processes_worth_of_writes() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    for n in 0..800 {
        // A store per write, as a CLI process per command.
        let mut store = Store::open(dir.path()).unwrap();
        let (i, name) = (id(n), format!("c{n}"));
        store
            .write(|tx| tx.insert_container(&container(&i, &name)))
            .unwrap();
    }
    let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(len <= 512 << 10, "the WAL grew to {len} bytes");
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(names(&mut store).len(), 800);
}

/// The WAL is checkpointed before a write and started over in place, not truncated: truncating it freed
/// its blocks, and on a file system mounted with `discard` that waits for the disk. Its frames stay few:
/// a connection that opens the database alone (its recovery reads the frames still valid) finds no more
/// than the limit and one write's.
#[test]
fn the_wal_starts_over_in_place_without_being_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let mut largest = 0;
    for n in 0..300 {
        let mut store = Store::open(dir.path()).unwrap();
        let (i, name) = (id(n), format!("c{n}"));
        store
            .write(|tx| tx.insert_container(&container(&i, &name)))
            .unwrap();
        let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert!(
            len >= largest,
            "write {n} truncated the WAL: {largest} -> {len} bytes"
        );
        largest = len;
    }
    assert!(largest <= 512 << 10, "the WAL grew to {largest} bytes");
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let frames: i64 = conn
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
        .unwrap();
    assert!(frames <= 80, "{frames} frames in the WAL");
}

#[test]
fn a_mounted_volume_is_not_deleted_until_its_containers_are() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let vol = |name, anonymous| minotaur_state::NewVolume {
        name,
        driver: "local",
        anonymous,
        config: "{}",
    };
    let (a, b) = (id(1), id(2));
    store
        .write(|tx| {
            assert!(tx.insert_volume(&vol("data", false))?);
            assert!(
                !tx.insert_volume(&vol("data", true))?,
                "a second insert is a no-op"
            );
            tx.insert_volume(&vol("anon", true))?;
            tx.insert_container(&container(&a, "web"))?;
            tx.insert_container(&container(&b, "db"))?;
            tx.mount_volume("data", &a)?;
            tx.mount_volume("data", &b)?;
            tx.mount_volume("anon", &a)?;
            Ok::<_, StateError>(())
        })
        .unwrap();
    let data = store.read(|tx| tx.volume("data")).unwrap().unwrap();
    assert!(!data.anonymous);
    let mut users = data.containers.clone();
    users.sort();
    assert_eq!(users, [a.clone(), b.clone()]);
    assert_eq!(
        store.read(|tx| tx.volumes_of(&a)).unwrap(),
        [("anon".to_string(), true), ("data".to_string(), false)]
    );
    let err = store.write(|tx| tx.delete_volume("data")).unwrap_err();
    assert!(
        matches!(&err, StateError::VolumeInUse { name, .. } if name == "data"),
        "{err}"
    );
    store.write(|tx| tx.delete_container(&a)).unwrap();
    store.write(|tx| tx.delete_container(&b)).unwrap();
    assert!(store.write(|tx| tx.delete_volume("data")).unwrap());
    assert!(!store.write(|tx| tx.delete_volume("data")).unwrap());
    assert_eq!(
        store
            .read(|tx| tx.volumes())
            .unwrap()
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>(),
        ["anon"]
    );
}

#[test]
fn events_come_back_in_order_and_only_the_last_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let event = |n: i64| minotaur_state::NewEvent {
        time_nano: 1_700_000_000_000_000_000 + n,
        kind: "container",
        action: if n % 2 == 0 { "start" } else { "die" },
        actor_id: "abc",
        attributes: r#"{"name":"web"}"#,
    };
    let first = store.write(|tx| tx.insert_event(&event(0))).unwrap();
    let second = store.write(|tx| tx.insert_event(&event(1))).unwrap();
    assert!(second > first);
    let rows = store.read(|tx| tx.events_after(first, 10)).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].seq, rows[0].action.as_str()), (second, "die"));
    assert_eq!(store.read(|tx| tx.last_event()).unwrap(), second);
    // Not JSON: refused.
    let bad = minotaur_state::NewEvent {
        attributes: "{",
        ..event(2)
    };
    assert!(store.write(|tx| tx.insert_event(&bad)).is_err());
    store
        .write(|tx| -> Result<(), StateError> {
            for n in 2..minotaur_state::EVENTS_KEPT + 10 {
                tx.insert_event(&event(n))?;
            }
            Ok(())
        })
        .unwrap();
    let all = store.read(|tx| tx.events_after(0, i64::MAX)).unwrap();
    assert_eq!(all.len() as i64, minotaur_state::EVENTS_KEPT);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        all.last().unwrap().time_nano,
        1_700_000_000_000_000_000 + minotaur_state::EVENTS_KEPT + 9
    );
}

#[test]
fn cni_attachments_and_containers_share_one_address_pool() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let net = id(0xee);
    store
        .write(|tx| tx.insert_network(&network(&net, "mynet")))
        .unwrap();
    let attachment = |cid: &str, ifname: &str| minotaur_state::CniAttachmentRow {
        network_id: net.clone(),
        container_id: cid.into(),
        ifname: ifname.into(),
        netns: "/run/netns/x".into(),
        created_at: String::new(),
        data: "{}".into(),
    };
    let a = store
        .write(|tx| {
            tx.insert_cni_attachment(&attachment("pod-a", "eth0"))?;
            tx.allocate_cni_address(&net, "pod-a", "eth0", None, candidates())
        })
        .unwrap();
    assert_eq!(a.to_string(), "10.88.0.2");
    // A container skips it, and may not claim it.
    let c = id(1);
    let b = store
        .write(|tx| {
            tx.insert_container(&container(&c, "c1"))?;
            tx.allocate_address(&net, &c, candidates())
        })
        .unwrap();
    assert_eq!(b.to_string(), "10.88.0.3");
    let err = store.write(|tx| tx.claim_address(&net, &c, a)).unwrap_err();
    assert!(matches!(err, StateError::AddressInUse { .. }), "{err}");
    // The same key twice is refused; another interface of the same container is not.
    let err = store
        .write(|tx| tx.insert_cni_attachment(&attachment("pod-a", "eth0")))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "CNI attachment ID pod-a/eth0 is already in use"
    );
    let d = store
        .write(|tx| {
            tx.insert_cni_attachment(&attachment("pod-a", "eth1"))?;
            tx.allocate_cni_address(&net, "pod-a", "eth1", None, candidates())
        })
        .unwrap();
    assert_eq!(d.to_string(), "10.88.0.4");
    // The network cannot go while attachments are on it; deleting one frees its address.
    assert!(store.write(|tx| tx.delete_network(&net)).is_err());
    assert!(store
        .write(|tx| tx.delete_cni_attachment(&net, "pod-a", "eth0"))
        .unwrap());
    assert!(!store
        .write(|tx| tx.delete_cni_attachment(&net, "pod-a", "eth0"))
        .unwrap());
    assert_eq!(
        store
            .read(|tx| tx.cni_attachments(Some(&net)))
            .unwrap()
            .len(),
        1
    );
    let again = store
        .write(|tx| {
            tx.insert_cni_attachment(&attachment("pod-b", "eth0"))?;
            tx.allocate_cni_address(&net, "pod-b", "eth0", None, candidates())
        })
        .unwrap();
    assert_eq!(again.to_string(), "10.88.0.2");
}

#[test]
fn for_each_container_lends_the_rows_of_containers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| {
            tx.insert_container(&container(&id(2), "second"))?;
            tx.insert_container(&container(&id(1), "first"))
        })
        .unwrap();
    let mut seen = Vec::new();
    store
        .read(|tx| {
            tx.for_each_container(|row| -> Result<(), StateError> {
                seen.push((row.id.to_owned(), row.name.to_owned(), row.state.to_owned()));
                Ok(())
            })
        })
        .unwrap();
    // Oldest first, as `containers` lists them, and the same rows.
    let rows = store.read(|tx| tx.containers()).unwrap();
    let want: Vec<_> = rows.into_iter().map(|r| (r.id, r.name, r.state)).collect();
    assert_eq!(seen, want);
    assert_eq!(seen[0].1, "second");
    assert_eq!(seen[1].2, r#"{"status":"created"}"#);
    // The closure's error ends the walk and is returned.
    let mut calls = 0;
    let err = store
        .read(|tx| {
            tx.for_each_container(|_| {
                calls += 1;
                Err(StateError::NameInUse {
                    kind: "container",
                    name: "stop".into(),
                })
            })
        })
        .unwrap_err();
    assert!(matches!(err, StateError::NameInUse { .. }), "{err}");
    assert_eq!(calls, 1);
}

/// Whether the log's index is in use: a write lock on its "dead man switch" byte would conflict. Asked as an
/// open file description lock, which conflicts with this process's own `fcntl` locks too. Closing the probe
/// drops this process's locks on the file: it is asked once.
fn index_in_use(root: &std::path::Path) -> bool {
    let shm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(root.join(format!("{DB_FILE}-shm")))
        .unwrap();
    let mut lock = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 128,
        l_len: 1,
        l_pid: 0,
    };
    nix::fcntl::fcntl(&shm, nix::fcntl::FcntlArg::F_OFD_GETLK(&mut lock)).unwrap();
    lock.l_type != libc::F_UNLCK as libc::c_short
}

#[test]
fn a_closed_store_holding_its_index_leaves_it_in_use_until_the_hold_goes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .write(|tx| tx.insert_container(&container(&id(1), "held")))
        .unwrap();
    let hold = store.close_holding_index().expect("an index to hold");
    assert!(index_in_use(dir.path()), "the hold keeps the index in use");
    drop(hold);
    assert!(!index_in_use(dir.path()), "nothing holds it any more");
    let mut again = Store::open(dir.path()).unwrap();
    assert_eq!(names(&mut again), ["held"]);
}
