use std::path::Path;
use std::time::Duration;

use minotaur_runtime::state::{Container, Root, Status};
use minotaur_runtime::usage::Usage;
use serde_json::{json, Value};

/// Print a container's resource usage as runc's JSON events, every interval or once with --stats
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one stats event and exit
    #[arg(long)]
    stats: bool,

    /// How often to print stats (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    interval: Duration,

    /// The container's ID
    id: String,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    let c = root.load(&args.id)?;
    if c.status() == Status::Stopped {
        anyhow::bail!("container {} is not running", c.record.id);
    }
    let cg = c.cgroup().ok_or_else(|| {
        anyhow::anyhow!(
            "container {} has no cgroup (its spec has no linux.cgroupsPath) to read",
            c.record.id
        )
    })?;
    loop {
        let event = stats_event(&c, cg.dirs());
        println!("{event}");
        if args.stats {
            return Ok(0);
        }
        // The container's end ends the stream: poll its pidfd for up to one interval.
        if c.wait_exit(args.interval) {
            return Ok(0);
        }
    }
}

/// One `{"type":"stats","id":…,"data":…}` event, with the fields of runc's stats that minotaur reads (see
/// the runtime's `usage` module): CPU time, memory usage and limit, PIDs and their limit, block I/O bytes.
fn stats_event(c: &Container, dirs: &[std::path::PathBuf]) -> Value {
    let u = Usage::read(dirs, Path::new("/proc"));
    let pids_limit = dirs
        .iter()
        .find_map(|d| std::fs::read_to_string(d.join("pids.max")).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let io = |op: &str, value: u64| json!({"major": 0, "minor": 0, "op": op, "value": value});
    json!({
        "type": "stats",
        "id": c.record.id,
        "data": {
            "cpu": {"usage": {"total": u.cpu_nanos.unwrap_or(0)}, "throttling": {}},
            "memory": {
                "usage": {"usage": u.memory.unwrap_or(0), "limit": u.memory_limit.unwrap_or(0)},
                "oom_kill": u.oom_kills,
            },
            "pids": {"current": u.pids.unwrap_or(0), "limit": pids_limit},
            "blkio": {
                "ioServiceBytesRecursive": [io("Read", u.block_read), io("Write", u.block_write)],
            },
            "hugetlb": {},
        },
    })
}

/// A duration as Go writes one: a number with ms, s, m or h.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("not a duration: {s:?} (ms, s, m or h)")),
    };
    if d.is_zero() {
        return Err("the interval must be more than zero".into());
    }
    Ok(d)
}
