use std::path::PathBuf;

use anyhow::Context;
use minotaur_runtime::cgroup::systemd::Systemd;
use minotaur_runtime::state::{Root, Status};
use oci_spec::runtime::{LinuxBlockIo, LinuxPidsBuilder, LinuxResources};

/// Change a container's cgroup limits
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JSON file of the runtime spec's `linux.resources` ("-": standard input); the flags below override it
    #[arg(short, long)]
    resources: Option<PathBuf>,

    /// Memory limit in bytes, or with a unit (k, m, g, t); -1 for none
    #[arg(long, allow_hyphen_values = true)]
    memory: Option<String>,

    /// Memory plus swap limit, as --memory; -1 for none
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,

    /// CPU shares (relative weight)
    #[arg(long)]
    cpu_shares: Option<u64>,

    /// CPU CFS period in microseconds
    #[arg(long)]
    cpu_period: Option<u64>,

    /// CPU CFS quota in microseconds per period; -1 for none
    #[arg(long, allow_hyphen_values = true)]
    cpu_quota: Option<i64>,

    /// The most processes the container may have; -1 or 0 for no limit
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,

    /// Realtime CPU period in microseconds (cgroup v1)
    #[arg(long)]
    cpu_rt_period: Option<u64>,

    /// Realtime CPU time in microseconds per period (cgroup v1)
    #[arg(long, allow_hyphen_values = true)]
    cpu_rt_runtime: Option<i64>,

    /// The CPUs the container may run on (0-3, 0,1)
    #[arg(long)]
    cpuset_cpus: Option<String>,

    /// The memory nodes the container may allocate on (0-3, 0,1)
    #[arg(long)]
    cpuset_mems: Option<String>,

    /// Memory soft limit in bytes, or with a unit (k, m, g, t); -1 for none
    #[arg(long, allow_hyphen_values = true)]
    memory_reservation: Option<String>,

    /// Block I/O weight, 10 to 1000
    #[arg(long)]
    blkio_weight: Option<u16>,

    /// Refused: kernel memory limits are not supported (runc refuses them too)
    #[arg(long, allow_hyphen_values = true)]
    kernel_memory: Option<String>,

    /// Refused: kernel TCP memory limits are not supported
    #[arg(long, allow_hyphen_values = true)]
    kernel_memory_tcp: Option<String>,

    /// Refused: Intel RDT (resctrl) is not supported
    #[arg(long)]
    l3_cache_schema: Option<String>,

    /// Refused: Intel RDT (resctrl) is not supported
    #[arg(long)]
    mem_bw_schema: Option<String>,

    /// The container's ID
    id: String,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    // Refused before anything is looked at, so nothing changes.
    if let Some(flag) = [
        ("--kernel-memory", args.kernel_memory.is_some()),
        ("--kernel-memory-tcp", args.kernel_memory_tcp.is_some()),
    ]
    .into_iter()
    .find_map(|(f, set)| set.then_some(f))
    {
        anyhow::bail!(
            "{flag}: kernel memory limits are not supported (the kernel deprecated them in 5.4 and runc \
             no longer sets them)"
        );
    }
    if let Some(flag) = [
        ("--l3-cache-schema", args.l3_cache_schema.is_some()),
        ("--mem-bw-schema", args.mem_bw_schema.is_some()),
    ]
    .into_iter()
    .find_map(|(f, set)| set.then_some(f))
    {
        anyhow::bail!("{flag}: Intel RDT (resctrl) is not supported");
    }
    if let Some(w) = args.blkio_weight.filter(|w| !(10..=1000).contains(w)) {
        anyhow::bail!("--blkio-weight {w}: the weight must be from 10 to 1000");
    }
    let c = root.load(&args.id)?;
    let _lock = super::lock(&c)?;
    if c.status() == Status::Stopped {
        anyhow::bail!("container {} is not running", c.record.id);
    }
    let resources = resources(&args)?;
    let mut cg = c.cgroup().ok_or_else(|| {
        anyhow::anyhow!(
            "container {} has no cgroup (its spec has no linux.cgroupsPath) to update",
            c.record.id
        )
    })?;
    // With the systemd driver, systemd's properties first, so that it keeps the limits (a daemon-reload
    // rewrites the files from them), then the files, which also hold what systemd has no property for.
    if let Some(unit) = &c.record.systemd_unit {
        let v2 = minotaur_runtime::cgroup::is_cgroup2(std::path::Path::new(
            minotaur_runtime::cgroup::DEFAULT_ROOT,
        ));
        Systemd::connect()?.set_properties(unit, &resources, v2)?;
    }
    cg.update(&resources)?;
    Ok(0)
}

/// The resources of `--resources` with the flags applied over them.
fn resources(args: &Args) -> anyhow::Result<LinuxResources> {
    let mut res: LinuxResources = match &args.resources {
        None => LinuxResources::default(),
        Some(p) if p.as_os_str() == "-" => {
            serde_json::from_reader(std::io::stdin().lock()).context("parse resources on stdin")?
        }
        Some(p) => {
            let f = std::fs::File::open(p).with_context(|| format!("open {}", p.display()))?;
            serde_json::from_reader(std::io::BufReader::new(f))
                .with_context(|| format!("parse resources {}", p.display()))?
        }
    };
    if args.memory.is_some() || args.memory_swap.is_some() || args.memory_reservation.is_some() {
        let mut mem = (*res.memory()).unwrap_or_default();
        if let Some(m) = &args.memory_reservation {
            mem.set_reservation(Some(
                bytes(m).with_context(|| format!("--memory-reservation {m}"))?,
            ));
        }
        if let Some(m) = &args.memory {
            mem.set_limit(Some(bytes(m).with_context(|| format!("--memory {m}"))?));
        }
        if let Some(m) = &args.memory_swap {
            mem.set_swap(Some(
                bytes(m).with_context(|| format!("--memory-swap {m}"))?,
            ));
        }
        res.set_memory(Some(mem));
    }
    if args.cpu_shares.is_some()
        || args.cpu_period.is_some()
        || args.cpu_quota.is_some()
        || args.cpu_rt_period.is_some()
        || args.cpu_rt_runtime.is_some()
        || args.cpuset_cpus.is_some()
        || args.cpuset_mems.is_some()
    {
        let mut cpu = res.cpu().clone().unwrap_or_default();
        if let Some(v) = args.cpu_rt_period {
            cpu.set_realtime_period(Some(v));
        }
        if let Some(v) = args.cpu_rt_runtime {
            cpu.set_realtime_runtime(Some(v));
        }
        if let Some(v) = &args.cpuset_cpus {
            cpu.set_cpus(Some(v.clone()));
        }
        if let Some(v) = &args.cpuset_mems {
            cpu.set_mems(Some(v.clone()));
        }
        if let Some(v) = args.cpu_shares {
            cpu.set_shares(Some(v));
        }
        if let Some(v) = args.cpu_period {
            cpu.set_period(Some(v));
        }
        if let Some(v) = args.cpu_quota {
            cpu.set_quota(Some(v));
        }
        res.set_cpu(Some(cpu));
    }
    if let Some(w) = args.blkio_weight {
        let mut b: LinuxBlockIo = res.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        res.set_block_io(Some(b));
    }
    if let Some(limit) = args.pids_limit {
        res.set_pids(Some(
            LinuxPidsBuilder::default()
                .limit(if limit <= 0 { -1 } else { limit })
                .build()?,
        ));
    }
    Ok(res)
}

/// A byte count as runc takes it: a number with an optional binary unit (b, k, m, g, t, with or without a
/// trailing b), or -1 for no limit.
fn bytes(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("not a size: {s:?}"))?;
    if n < 0 {
        anyhow::bail!("a size cannot be negative (except -1): {s:?}");
    }
    n.checked_shl(shift)
        .filter(|v| v >> shift == n)
        .ok_or_else(|| anyhow::anyhow!("size too large: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn sizes_take_binary_units_like_runc() {
        assert_eq!(bytes("1024").unwrap(), 1024);
        assert_eq!(bytes("64m").unwrap(), 64 << 20);
        assert_eq!(bytes("2G").unwrap(), 2 << 30);
        assert_eq!(bytes("512kb").unwrap(), 512 << 10);
        assert_eq!(bytes("-1").unwrap(), -1);
        assert!(bytes("lots").is_err());
        assert!(bytes("-5").is_err());
    }
}
