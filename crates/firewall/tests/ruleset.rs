//! The table as `nft` lists it after each operation, in a throwaway network namespace per test.

mod common;

use std::collections::BTreeMap;

use common::{can_run, sh, Ns};
use minotaur_firewall::rules::fixed_rule_count;
use minotaur_firewall::{Firewall, FirewallError, NetworkRules, PortRule, Proto};
use serde_json::Value;

fn net(bridge: &str, subnets: &[&str], internal: bool) -> NetworkRules {
    NetworkRules {
        bridge: bridge.into(),
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        internal,
    }
}

fn port(proto: Proto, host: Option<&str>, hp: u16, ip: &str, cp: u16) -> PortRule {
    PortRule {
        proto,
        host_ip: host.map(|h| h.parse().unwrap()),
        host_port: hp,
        container_ip: ip.parse().unwrap(),
        container_port: cp,
    }
}

/// What `nft -j list table inet minotaur` shows: the rules (without handles) and each set's elements.
#[derive(Debug, PartialEq)]
struct Listing {
    rules: Vec<String>,
    elements: BTreeMap<String, Vec<String>>,
}

fn listing() -> Listing {
    let out = sh("nft -j list table inet minotaur");
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut rules = Vec::new();
    let mut elements = BTreeMap::new();
    for item in v["nftables"].as_array().unwrap() {
        if let Some(r) = item.get("rule") {
            rules.push(format!("{} {}", r["chain"], r["expr"]));
        }
        for kind in ["set", "map"] {
            if let Some(s) = item.get(kind) {
                let elems = s["elem"]
                    .as_array()
                    .map(|a| a.iter().map(Value::to_string).collect())
                    .unwrap_or_default();
                elements.insert(s["name"].as_str().unwrap().to_owned(), elems);
            }
        }
    }
    Listing { rules, elements }
}

fn elems(l: &Listing, set: &str) -> usize {
    l.elements[set].len()
}

/// A table of someone else's, which must come through every test unchanged.
fn other_table() -> String {
    sh("nft add table ip other
        nft add chain ip other input '{ type filter hook input priority 0; policy accept; }'
        nft add rule ip other input tcp dport 22 counter accept");
    sh("nft list table ip other")
}

#[test]
fn add_network_is_idempotent_and_leaves_other_tables_alone() {
    if !can_run() {
        return;
    }
    Ns::new().run(|| {
        let other = other_table();
        let mut fw = Firewall::open().unwrap();
        assert!(!fw.table_exists().unwrap());
        let n = net("mino0", &["10.88.0.0/16", "fd00:88::/64"], false);
        fw.add_network(&n).unwrap();
        assert!(fw.table_exists().unwrap());
        let first = listing();
        assert_eq!(first.rules.len(), fixed_rule_count());
        assert_eq!(first.elements["bridges"], [r#""mino0""#]);
        assert_eq!(elems(&first, "subnets4"), 1);
        assert_eq!(elems(&first, "masquerade6"), 1);

        fw.add_network(&n).unwrap();
        assert_eq!(
            listing(),
            first,
            "adding the same network again changed the table"
        );

        fw.add_network(&net("mino1", &["10.89.0.0/24"], true))
            .unwrap();
        let second = listing();
        assert_eq!(second.rules, first.rules, "a second network added rules");
        assert_eq!(elems(&second, "bridges"), 2);
        assert_eq!(second.elements["internal"], [r#""mino1""#]);
        assert_eq!(elems(&second, "masquerade4"), 1);

        fw.remove_network(&net("mino1", &["10.89.0.0/24"], true))
            .unwrap();
        assert_eq!(listing(), first);
        // Missing elements are not an error, and nothing else changes.
        fw.remove_network(&net("mino1", &["10.89.0.0/24"], true))
            .unwrap();
        assert_eq!(listing(), first);
        fw.remove_network(&n).unwrap();
        let empty = listing();
        assert_eq!(empty.rules, first.rules);
        assert!(empty.elements.values().all(Vec::is_empty), "{empty:?}");

        fw.remove_table().unwrap();
        assert!(!fw.table_exists().unwrap());
        fw.remove_table().unwrap();
        // Without the table, removing a network is not an error either.
        fw.remove_network(&n).unwrap();
        assert_eq!(sh("nft list table ip other"), other);
    });
}

#[test]
fn ports_change_only_map_elements_and_a_taken_port_changes_nothing() {
    if !can_run() {
        return;
    }
    Ns::new().run(|| {
        let other = other_table();
        let mut fw = Firewall::open().unwrap();
        assert_eq!(fw.published().unwrap(), vec![], "no table, no ports");
        fw.add_network(&net("mino0", &["10.88.0.0/16", "fd00:88::/64"], false))
            .unwrap();
        let before = listing();
        let web = [
            port(Proto::Tcp, None, 8080, "10.88.0.2", 80),
            port(Proto::Udp, Some("127.0.0.1"), 5353, "10.88.0.2", 53),
            port(Proto::Tcp, None, 8080, "fd00:88::2", 80),
            port(Proto::Tcp, Some("fd00::1"), 8443, "fd00:88::2", 443),
        ];
        fw.add_ports(&web).unwrap();
        let published = listing();
        assert_eq!(published.rules, before.rules, "publishing added rules");
        // Read back from the live maps: what was published, nothing more.
        let mut live = fw.published().unwrap();
        let mut want = web.to_vec();
        live.sort_by_key(|p| p.to_string());
        want.sort_by_key(|p| p.to_string());
        assert_eq!(live, want);
        assert_eq!(
            published.elements["ports4"],
            [r#"[{"concat":["tcp",8080]},{"concat":["10.88.0.2",80]}]"#]
        );
        for set in ["ports4_host", "ports6", "ports6_host"] {
            assert_eq!(elems(&published, set), 1, "{set}");
        }

        // The same key again, in a batch with a free port: PortInUse, and the free port is not added.
        let clash = [
            port(Proto::Tcp, None, 9090, "10.88.0.3", 80),
            port(Proto::Tcp, Some("0.0.0.0"), 8080, "10.88.0.3", 80),
        ];
        match fw.add_ports(&clash) {
            Err(FirewallError::PortInUse {
                proto: Proto::Tcp,
                host_ip: None,
                host_port: 8080,
            }) => {}
            other => panic!("expected PortInUse for tcp *:8080, got {other:?}"),
        }
        assert_eq!(listing(), published, "a refused batch changed the table");
        let err = fw
            .add_ports(&[port(Proto::Udp, Some("127.0.0.1"), 5353, "10.88.0.9", 53)])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "udp port 127.0.0.1:5353 is already published"
        );

        fw.remove_ports(&web).unwrap();
        assert_eq!(listing(), before);
        fw.remove_ports(&web).unwrap();
        assert_eq!(listing(), before);

        // A key published towards another container is not someone else's to remove.
        fw.add_ports(&web[..1]).unwrap();
        fw.remove_ports(&[
            port(Proto::Tcp, None, 8080, "10.88.0.7", 80),
            web[1].clone(),
        ])
        .unwrap();
        assert_eq!(elems(&listing(), "ports4"), 1);
        assert_eq!(sh("nft list table ip other"), other);
    });
}

#[test]
fn sync_after_the_table_was_deleted_restores_the_same_ruleset() {
    if !can_run() {
        return;
    }
    Ns::new().run(|| {
        let other = other_table();
        let mut fw = Firewall::open().unwrap();
        let networks = [
            net("mino0", &["10.88.0.0/16"], false),
            net("mino1", &["10.89.0.0/24", "fd00:89::/64"], true),
        ];
        let ports = [
            port(Proto::Tcp, None, 8080, "10.88.0.2", 80),
            port(Proto::Udp, Some("192.0.2.1"), 53, "10.88.0.2", 53),
        ];
        for n in &networks {
            fw.add_network(n).unwrap();
        }
        fw.add_ports(&ports).unwrap();
        let text = sh("nft list table inet minotaur");

        sh("nft delete table inet minotaur");
        assert!(!fw.table_exists().unwrap());
        assert!(matches!(
            fw.add_ports(&ports),
            Err(FirewallError::TableMissing)
        ));
        fw.sync(&networks, &ports).unwrap();
        assert_eq!(sh("nft list table inet minotaur"), text);
        // Over an existing table, sync replaces it with exactly the state given.
        fw.add_ports(&[port(Proto::Tcp, None, 1234, "10.88.0.5", 80)])
            .unwrap();
        fw.sync(&networks, &ports).unwrap();
        assert_eq!(sh("nft list table inet minotaur"), text);
        // Two ports with one key: refused before anything changes.
        let dup = [ports[0].clone(), ports[0].clone()];
        assert!(matches!(
            fw.sync(&networks, &dup),
            Err(FirewallError::PortInUse { .. })
        ));
        assert_eq!(sh("nft list table inet minotaur"), text);
        assert_eq!(sh("nft list table ip other"), other);
    });
}

#[test]
fn batches_succeed_while_another_process_changes_the_table() {
    if !can_run() {
        return;
    }
    Ns::new().run(|| {
        let mut fw = Firewall::open().unwrap();
        fw.add_network(&net("mino0", &["10.88.0.0/16"], false))
            .unwrap();
        // Another process (nft, as a second minotaur would through libnftables) publishes and unpublishes its
        // own port in a loop, so our batches are built against a table that keeps changing under them.
        let mut other = std::process::Command::new("sh")
            .args([
                "-c",
                "for i in $(seq 100); do
                   nft add element inet minotaur ports4 '{ tcp . 9999 : 10.88.0.9 . 80 }'
                   nft delete element inet minotaur ports4 '{ tcp . 9999 : 10.88.0.9 . 80 }'
                 done",
            ])
            .spawn()
            .unwrap();
        let mine = [port(Proto::Tcp, None, 8080, "10.88.0.2", 80)];
        let mut rounds = 0;
        while other.try_wait().unwrap().is_none() {
            fw.add_ports(&mine).unwrap();
            fw.remove_ports(&mine).unwrap();
            fw.add_network(&net("mino1", &["10.89.0.0/24"], false))
                .unwrap();
            fw.remove_network(&net("mino1", &["10.89.0.0/24"], false))
                .unwrap();
            rounds += 1;
        }
        assert!(other.wait().unwrap().success());
        assert!(
            rounds > 10,
            "only {rounds} rounds overlapped the other process"
        );
        assert_eq!(listing().rules.len(), fixed_rule_count());
    });
}
