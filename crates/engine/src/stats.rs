//! `stats`: what containers use, from their cgroups (CPU time, memory, block I/O, PIDs: see the runtime's
//! `usage` module, v1 and v2) and their network namespaces (the interfaces' byte counters in
//! `/proc/PID/net/dev`, which shows the namespace of that process, so nothing has to join it).
//!
//! A figure that is a rate (CPU %) needs two samples: [`sample`] takes one, [`between`] makes the row from
//! two, CPU % being the CPU time used over the wall time between them (Docker's "CPU time over system CPU
//! time, times the number of CPUs", without the detour through `/proc/stat`).

use std::fs;
use std::path::Path;
use std::time::Instant;

use minotaur_runtime::usage::Usage;
use minotaur_runtime::Cgroup;
use serde_json::json;

use crate::container::{Container, Status};
use crate::context::Context;
use crate::process::alive;

/// One look at a container.
#[derive(Clone, Debug)]
pub struct Sample {
    pub at: Instant,
    pub running: bool,
    pub usage: Usage,
    pub net_rx: u64,
    pub net_tx: u64,
}

/// A container's figures, as `stats` shows them.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub cpu_percent: f64,
    pub memory: u64,
    pub memory_limit: u64,
    pub memory_percent: f64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
}

/// Samples container `c` now.
pub fn sample(ctx: &Context, c: &Container) -> Sample {
    let at = Instant::now();
    let running = c.state.status == Status::Running && alive(c.state.pid, c.state.pid_start_time);
    if !running {
        return Sample {
            at,
            running,
            usage: Usage::default(),
            net_rx: 0,
            net_tx: 0,
        };
    }
    let cg = Cgroup::existing(&ctx.cgroup_root, &ctx.paths.cgroup(&c.id));
    let usage = Usage::read(cg.dirs(), Path::new("/proc"));
    let (net_rx, net_tx) = if c.config.host.network_mode == "host" {
        (0, 0)
    } else {
        fs::read_to_string(format!("/proc/{}/net/dev", c.state.pid))
            .map(|t| net_dev(&t))
            .unwrap_or((0, 0))
    };
    Sample {
        at,
        running,
        usage,
        net_rx,
        net_tx,
    }
}

/// The bytes received and sent by every interface but loopback, from the text of `/proc/net/dev`.
pub fn net_dev(text: &str) -> (u64, u64) {
    let mut rx = 0;
    let mut tx = 0;
    for line in text.lines().skip(2) {
        let Some((name, fields)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = fields
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        rx += f.first().copied().unwrap_or(0);
        tx += f.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}

/// The host's memory, the limit of a container that has none.
pub fn host_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// The figures from two samples of one container (`prev` taken first); `host_memory` stands for no limit.
pub fn between(prev: &Sample, cur: &Sample, host_memory: u64) -> Stats {
    if !cur.running {
        return Stats {
            cpu_percent: 0.0,
            memory: 0,
            memory_limit: 0,
            memory_percent: 0.0,
            net_rx: 0,
            net_tx: 0,
            block_read: 0,
            block_write: 0,
            pids: 0,
        };
    }
    let wall = cur.at.saturating_duration_since(prev.at).as_nanos() as f64;
    let cpu = match (prev.usage.cpu_nanos, cur.usage.cpu_nanos) {
        (Some(a), Some(b)) if wall > 0.0 && prev.running => {
            b.saturating_sub(a) as f64 / wall * 100.0
        }
        _ => 0.0,
    };
    let memory = cur.usage.memory.unwrap_or(0);
    let memory_limit = cur.usage.memory_limit.unwrap_or(host_memory);
    Stats {
        cpu_percent: cpu,
        memory,
        memory_limit,
        memory_percent: if memory_limit > 0 {
            memory as f64 / memory_limit as f64 * 100.0
        } else {
            0.0
        },
        net_rx: cur.net_rx,
        net_tx: cur.net_tx,
        block_read: cur.usage.block_read,
        block_write: cur.usage.block_write,
        pids: cur.usage.pids.unwrap_or(0),
    }
}

/// Go's `%.Ng`: `n` significant digits, trailing zeros dropped (for the magnitudes sizes have here).
fn sig(x: f64, n: usize) -> String {
    if x == 0.0 {
        return "0".to_owned();
    }
    let digits = x.abs().log10().floor() as i64 + 1;
    let decimals = (n as i64 - digits).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn scaled(size: f64, base: f64, units: &[&str], digits: usize) -> String {
    let mut size = size;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    format!("{}{}", sig(size, digits), units[i])
}

/// A size in binary units with four significant digits, as Docker shows memory: `1.953MiB`.
pub fn binary_size(n: u64) -> String {
    scaled(
        n as f64,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB"],
        4,
    )
}

/// A size in decimal units with three significant digits, as Docker shows I/O: `1.23kB`.
pub fn decimal_size(n: u64) -> String {
    scaled(n as f64, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"], 3)
}

/// The row `stats --format` templates see, with Docker's fields.
pub fn document(c: &Container, s: &Stats) -> serde_json::Value {
    json!({
        "Container": c.id.short(),
        "ID": c.id.short(),
        "Name": c.name.as_str(),
        "CPUPerc": format!("{:.2}%", s.cpu_percent),
        "MemUsage": format!("{} / {}", binary_size(s.memory), binary_size(s.memory_limit)),
        "MemPerc": format!("{:.2}%", s.memory_percent),
        "NetIO": format!("{} / {}", decimal_size(s.net_rx), decimal_size(s.net_tx)),
        "BlockIO": format!("{} / {}", decimal_size(s.block_read), decimal_size(s.block_write)),
        "PIDs": s.pids.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_dockers() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(2 << 20), "2MiB");
        assert_eq!(binary_size(2_048_000), "1.953MiB");
        assert_eq!(binary_size(16_663_535_616), "15.52GiB");
        assert_eq!(decimal_size(648), "648B");
        assert_eq!(decimal_size(1234), "1.23kB");
        assert_eq!(decimal_size(10_500_000), "10.5MB");
    }

    #[test]
    fn net_dev_sums_all_but_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    1000      10    0    0    0     0          0         0      648       6    0    0    0     0       0          0
  eth1:      24       1    0    0    0     0          0         0        2       1    0    0    0     0       0          0
";
        assert_eq!(net_dev(text), (1024, 650));
    }

    #[test]
    fn cpu_is_time_used_over_time_passed() {
        let at = Instant::now();
        let s = |at, cpu| Sample {
            at,
            running: true,
            usage: Usage {
                cpu_nanos: Some(cpu),
                memory: Some(50),
                memory_limit: None,
                ..Default::default()
            },
            net_rx: 0,
            net_tx: 0,
        };
        let st = between(
            &s(at, 0),
            &s(at + std::time::Duration::from_secs(1), 500_000_000),
            200,
        );
        assert!((st.cpu_percent - 50.0).abs() < 1e-9, "{st:?}");
        assert_eq!((st.memory, st.memory_limit), (50, 200));
        assert!((st.memory_percent - 25.0).abs() < 1e-9);
    }
}
