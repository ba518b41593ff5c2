//! Figures, not a timed test: `cargo test -p minotaur-firewall --test bench -- --ignored --nocapture`.
//! Publishing and unpublishing one container's ports must cost the same with 0 or 1,000 other containers'
//! ports in the maps.

mod common;

use std::time::{Duration, Instant};

use common::{can_run, Ns};
use minotaur_firewall::{Firewall, NetworkRules, PortRule, Proto};

fn median(mut v: Vec<Duration>) -> u128 {
    v.sort();
    v[v.len() / 2].as_micros()
}

fn container_ports(i: u32) -> Vec<PortRule> {
    let ip = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(10, 88, 0, 2)) + i);
    [(Proto::Tcp, 80), (Proto::Udp, 53)]
        .into_iter()
        .map(|(proto, port)| PortRule {
            proto,
            host_ip: None,
            host_port: 10_000 + i as u16,
            container_ip: ip.into(),
            container_port: port,
        })
        .collect()
}

fn publish_cycle(fw: &mut Firewall, rounds: usize) -> u128 {
    let mine = container_ports(5_000);
    let times = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            fw.add_ports(&mine).unwrap();
            fw.remove_ports(&mine).unwrap();
            t.elapsed()
        })
        .collect();
    median(times)
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn publish_cost_is_flat_in_the_number_of_containers() {
    if !can_run() {
        return;
    }
    Ns::new().run(|| {
        let open = median(
            (0..50)
                .map(|_| {
                    let t = Instant::now();
                    drop(Firewall::open().unwrap());
                    t.elapsed()
                })
                .collect(),
        );
        let mut fw = Firewall::open().unwrap();
        fw.add_network(&NetworkRules {
            bridge: "mino0".into(),
            subnets: vec!["10.88.0.0/16".parse().unwrap()],
            internal: false,
        })
        .unwrap();
        let empty = publish_cycle(&mut fw, 100);
        for i in 0..1_000 {
            fw.add_ports(&container_ports(i)).unwrap();
        }
        let full = publish_cycle(&mut fw, 100);
        println!("Firewall::open: median {open} µs");
        println!("add_ports+remove_ports (2 ports), 0 others: median {empty} µs");
        println!("add_ports+remove_ports (2 ports), 1000 others (2000 elements): median {full} µs");
    });
}
