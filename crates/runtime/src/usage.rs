//! What a container's cgroup says it has used: CPU time, memory and its limit, block I/O, PIDs, OOM kills.
//!
//! The files differ between cgroup v1 and v2, and so does where they are (one directory per v1 controller,
//! one directory on v2); [`Usage::read`] takes the container's directories ([`crate::Cgroup::dirs`]) and
//! reads whichever of each pair exists, so it runs against a fixture directory in tests.
//!
//! | figure | v2 | v1 |
//! |---|---|---|
//! | CPU time | `cpu.stat` `usage_usec` | `cpuacct.usage` where `cpu` is mounted with `cpuacct`, else the processes' `/proc/PID/stat` times |
//! | memory | `memory.current` − `memory.stat` `inactive_file` | `memory.usage_in_bytes` − `total_inactive_file` |
//! | limit | `memory.max` | `memory.limit_in_bytes` (a page-rounded `i64::MAX` for none) |
//! | PIDs | `pids.current` | `pids.current` |
//! | block I/O | `io.stat` `rbytes`/`wbytes` | the processes' `/proc/PID/io` `read_bytes`/`write_bytes` |
//! | OOM kills | `memory.events` `oom_kill` | `memory.oom_control` `oom_kill` |
//!
//! Memory less the inactive file cache is what Docker's CLI shows. On v1 a container has no blkio cgroup
//! of its own (the engine makes memory, cpu and pids ones), so its block I/O is what its live processes
//! did: a process that exited takes its share with it. Where `cpu` and `cpuacct` are separate hierarchies
//! the container has no `cpuacct` cgroup either, and its CPU time is its processes' user and system time
//! with that of the children they reaped (`/proc/PID/stat`, in clock ticks).

use std::fs;
use std::path::{Path, PathBuf};

/// A v1 memory limit at or above this is no limit (the kernel shows `PAGE_COUNTER_MAX` pages).
const V1_UNLIMITED: u64 = 1 << 62;

/// The figures of one cgroup at one moment. `None`: the cgroup does not have that controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time used, in nanoseconds.
    pub cpu_nanos: Option<u64>,
    /// Memory in use, less the inactive file cache.
    pub memory: Option<u64>,
    /// The memory limit; `None` when there is none.
    pub memory_limit: Option<u64>,
    pub pids: Option<u64>,
    pub block_read: u64,
    pub block_write: u64,
    pub oom_kills: u64,
}

/// The clock ticks of `/proc/PID/stat` (`USER_HZ`, 100 on every Linux architecture minotaur runs on).
const TICKS_PER_SECOND: u64 = 100;

/// utime + stime + cutime + cstime of a `/proc/PID/stat` line (fields 14 to 17, after the command name).
fn stat_ticks(stat: &str) -> u64 {
    let Some(close) = stat.rfind(')') else {
        return 0;
    };
    stat[close + 1..]
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum()
}

fn read(dir: &Path, file: &str) -> Option<String> {
    fs::read_to_string(dir.join(file)).ok()
}

fn number(dir: &Path, file: &str) -> Option<u64> {
    read(dir, file)?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed file (`key value` lines: `memory.stat`, `cpu.stat`).
fn keyed(dir: &Path, file: &str, key: &str) -> Option<u64> {
    read(dir, file)?.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

impl Usage {
    /// Reads the figures of the cgroup whose directories are `dirs`; `proc` is the proc filesystem (for
    /// v1's block I/O).
    pub fn read(dirs: &[PathBuf], proc: &Path) -> Usage {
        let mut u = Usage::default();
        let mut procs: Vec<i32> = Vec::new();
        let mut has_io = false;
        for d in dirs {
            if let Some(n) = keyed(d, "cpu.stat", "usage_usec") {
                u.cpu_nanos = Some(n * 1000);
            } else if let Some(n) = number(d, "cpuacct.usage") {
                u.cpu_nanos = Some(n);
            }
            if let Some(n) = number(d, "memory.current") {
                let inactive = keyed(d, "memory.stat", "inactive_file").unwrap_or(0);
                u.memory = Some(n.saturating_sub(inactive));
                u.memory_limit = number(d, "memory.max");
                u.oom_kills = keyed(d, "memory.events", "oom_kill").unwrap_or(0);
            } else if let Some(n) = number(d, "memory.usage_in_bytes") {
                let inactive = keyed(d, "memory.stat", "total_inactive_file").unwrap_or(0);
                u.memory = Some(n.saturating_sub(inactive));
                u.memory_limit = number(d, "memory.limit_in_bytes").filter(|&l| l < V1_UNLIMITED);
                u.oom_kills = keyed(d, "memory.oom_control", "oom_kill").unwrap_or(0);
            }
            if let Some(n) = number(d, "pids.current") {
                u.pids = Some(n);
            }
            if let Some(stat) = read(d, "io.stat") {
                has_io = true;
                for field in stat.split_whitespace() {
                    if let Some(v) = field.strip_prefix("rbytes=") {
                        u.block_read += v.parse::<u64>().unwrap_or(0);
                    } else if let Some(v) = field.strip_prefix("wbytes=") {
                        u.block_write += v.parse::<u64>().unwrap_or(0);
                    }
                }
            }
            if procs.is_empty() {
                if let Some(list) = read(d, "cgroup.procs") {
                    procs = list.lines().filter_map(|l| l.trim().parse().ok()).collect();
                }
            }
        }
        if u.cpu_nanos.is_none() && !procs.is_empty() {
            let ticks: u64 = procs
                .iter()
                .filter_map(|pid| read(&proc.join(pid.to_string()), "stat"))
                .map(|stat| stat_ticks(&stat))
                .sum();
            u.cpu_nanos = Some(ticks * (1_000_000_000 / TICKS_PER_SECOND));
        }
        if !has_io {
            for pid in procs {
                let dir = proc.join(pid.to_string());
                u.block_read += keyed(&dir, "io", "read_bytes:").unwrap_or(0);
                u.block_write += keyed(&dir, "io", "write_bytes:").unwrap_or(0);
            }
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        fs::create_dir_all(dir).unwrap();
        for (name, text) in files {
            fs::write(dir.join(name), text).unwrap();
        }
    }

    #[test]
    fn v2_figures() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("minotaur/abc");
        write(
            &d,
            &[
                ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"),
                ("memory.current", "10485760\n"),
                ("memory.stat", "anon 1\nfile 4096\ninactive_file 4096\n"),
                ("memory.max", "max\n"),
                ("memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n"),
                ("pids.current", "3\n"),
                (
                    "io.stat",
                    "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2 rios=1 wios=1\n",
                ),
            ],
        );
        let u = Usage::read(&[d], t.path());
        assert_eq!(
            u,
            Usage {
                cpu_nanos: Some(1_500_000),
                memory: Some(10485760 - 4096),
                memory_limit: None,
                pids: Some(3),
                block_read: 101,
                block_write: 202,
                oom_kills: 1,
            }
        );
    }

    #[test]
    fn v1_figures_with_block_io_from_the_processes() {
        let t = tempfile::tempdir().unwrap();
        let mem = t.path().join("memory/minotaur/abc");
        let cpu = t.path().join("cpu/minotaur/abc");
        let pids = t.path().join("pids/minotaur/abc");
        let proc = t.path().join("proc");
        write(
            &mem,
            &[
                ("memory.usage_in_bytes", "8192\n"),
                ("memory.stat", "cache 0\ntotal_inactive_file 4096\n"),
                ("memory.limit_in_bytes", "67108864\n"),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
                ),
                ("cgroup.procs", "7\n8\n"),
            ],
        );
        write(&cpu, &[("cpuacct.usage", "123456789\n")]);
        write(&pids, &[("pids.current", "2\n")]);
        write(
            &proc.join("7"),
            &[(
                "io",
                "rchar: 9\nwchar: 9\nread_bytes: 4096\nwrite_bytes: 8192\n",
            )],
        );
        write(
            &proc.join("8"),
            &[("io", "read_bytes: 1\nwrite_bytes: 2\n")],
        );
        let u = Usage::read(&[mem.clone(), cpu.clone(), pids.clone()], &proc);
        assert_eq!(u.cpu_nanos, Some(123456789));
        // No cpuacct: the processes' times, in ticks.
        fs::remove_file(cpu.join("cpuacct.usage")).unwrap();
        write(
            &proc.join("7"),
            &[(
                "stat",
                "7 (sh (x)) S 1 7 7 0 -1 4194560 1 2 3 4 10 20 30 40 20 0 1 0",
            )],
        );
        let u = Usage::read(&[mem.clone(), cpu, pids], &proc);
        assert_eq!(u.cpu_nanos, Some(100 * 10_000_000));
        assert_eq!(u.memory, Some(4096));
        assert_eq!(u.memory_limit, Some(64 << 20));
        assert_eq!(u.pids, Some(2));
        assert_eq!((u.block_read, u.block_write), (4097, 8194));
        // No limit: the page-rounded maximum.
        write(&mem, &[("memory.limit_in_bytes", "9223372036854771712\n")]);
        assert_eq!(Usage::read(&[mem], &proc).memory_limit, None);
    }
}
