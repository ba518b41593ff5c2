//! Writing a container's limits: [`Cgroup::update`] on v1 (a file per limit in each controller's
//! hierarchy, the `cpuset` and `blkio` cgroups made on demand) and on v2 (one directory, controllers
//! enabled in the ancestors when a limit needs them).

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::{max_or, shares_to_weight, v1, write, Cgroup, CgroupError};

impl Cgroup {
    /// Applies the limits of `res` (those it sets; the others stay as they are), as at creation: the OCI
    /// command line's `update`.
    pub fn update(&mut self, res: &LinuxResources) -> Result<(), CgroupError> {
        if self.controllers.is_empty() {
            match self.dirs.first() {
                Some(dir) => update_v2(&self.root, dir, res),
                None => Ok(()),
            }
        } else {
            self.update_v1(res)
        }
    }

    /// The container's directory in v1 hierarchy `controller`, made now (with its processes moved into
    /// it) when it has none: the [`super::V1_ON_DEMAND`] controllers.
    fn on_demand(&mut self, controller: &'static str) -> Result<PathBuf, CgroupError> {
        if let Some(i) = self.controllers.iter().position(|c| *c == controller) {
            return Ok(self.dirs[i].clone());
        }
        let base = self.root.join(controller);
        let (Some(first), true) = (self.dirs.first().cloned(), base.is_dir()) else {
            return Err(CgroupError::MissingController {
                controller: controller.into(),
                root: self.root.clone(),
            });
        };
        let rel = first
            .strip_prefix(self.root.join(self.controllers[0]))
            .map_err(|_| CgroupError::BadPath(first.clone()))?
            .to_owned();
        let made_before = self.made.len();
        let dir = self.mkdir(&base, &rel)?;
        if controller == "cpuset" {
            // A new cpuset cgroup has no CPUs and no memory nodes, and nothing can join it until it has:
            // each directory just made takes its parent's, top down.
            let made: Vec<PathBuf> = self.made[made_before..].to_vec();
            for d in &made {
                v1::inherit_cpuset(d)?;
            }
        }
        let procs = first.join("cgroup.procs");
        let pids = fs::read_to_string(&procs).map_err(|source| CgroupError::Read {
            path: procs.clone(),
            source,
        })?;
        for pid in pids.split_whitespace() {
            match write(&dir.join("cgroup.procs"), pid) {
                // A process that exited since the list was read.
                Err(CgroupError::Write { source, .. })
                    if source.raw_os_error() == Some(nix::libc::ESRCH) => {}
                other => other?,
            }
        }
        self.dirs.push(dir.clone());
        self.controllers.push(controller);
        Ok(dir)
    }

    fn update_v1(&mut self, res: &LinuxResources) -> Result<(), CgroupError> {
        for controller in v1::wanted(res) {
            self.on_demand(controller)?;
        }
        let need = |c: &str| {
            self.controllers
                .iter()
                .position(|k| *k == c)
                .map(|i| self.dirs[i].clone())
                .ok_or_else(|| CgroupError::MissingController {
                    controller: c.into(),
                    root: self.root.clone(),
                })
        };
        if let Some(mem) = res.memory() {
            // memory+swap; the file exists only with swap accounting on. Docker ignores the flag then too.
            let memsw = match mem.swap() {
                Some(swap) => {
                    let f = need("memory")?.join("memory.memsw.limit_in_bytes");
                    f.exists().then_some((f, swap))
                }
                None => None,
            };
            // The kernel keeps memory <= memory+swap at every step: raising both, memory+swap goes first.
            let raising = |f: &Path, to: i64| {
                fs::read_to_string(f)
                    .ok()
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .is_some_and(|now| to < 0 || to > now)
            };
            let memsw_first = match (&memsw, mem.limit()) {
                (Some((f, swap)), Some(_)) => raising(f, *swap),
                _ => false,
            };
            if memsw_first {
                if let Some((f, swap)) = &memsw {
                    write(f, swap)?;
                }
            }
            if let Some(limit) = mem.limit() {
                write(&need("memory")?.join("memory.limit_in_bytes"), limit)?;
            }
            if !memsw_first {
                if let Some((f, swap)) = &memsw {
                    write(f, swap)?;
                }
            }
        }
        if let Some(cpu) = res.cpu() {
            if let Some(shares) = cpu.shares() {
                write(&need("cpu")?.join("cpu.shares"), shares)?;
            }
            if let Some(period) = cpu.period() {
                write(&need("cpu")?.join("cpu.cfs_period_us"), period)?;
            }
            if let Some(quota) = cpu.quota() {
                write(&need("cpu")?.join("cpu.cfs_quota_us"), quota)?;
            }
        }
        if let Some(pids) = res.pids() {
            let v = if pids.limit() > 0 {
                pids.limit().to_string()
            } else {
                "max".into()
            };
            write(&need("pids")?.join("pids.max"), v)?;
        }
        v1::update(&need, res)
    }
}

/// Enables `controller` in every ancestor of `dir` below `root` (and the root), so `dir` gets its files.
fn enable_v2(root: &Path, dir: &Path, controller: &str) -> Result<(), CgroupError> {
    let available = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    if !available.split_whitespace().any(|c| c == controller) {
        return Err(CgroupError::MissingController {
            controller: controller.into(),
            root: root.to_owned(),
        });
    }
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let mut at = root.to_owned();
    for c in rel.components() {
        let control = at.join("cgroup.subtree_control");
        let on = fs::read_to_string(&control).unwrap_or_default();
        if !on.split_whitespace().any(|c| c == controller) {
            write(&control, format!("+{controller}"))?;
        }
        at.push(c);
    }
    Ok(())
}

/// The v2 limits of `res`, written into `dir` (under `root`).
fn update_v2(root: &Path, dir: &Path, res: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(cpu) = res.cpu() {
        // Zero is unset, as runc takes it.
        if cpu.realtime_period().is_some_and(|v| v != 0)
            || cpu.realtime_runtime().is_some_and(|v| v != 0)
        {
            return Err(CgroupError::Unsupported {
                what: "realtime CPU time",
                why: "cgroup v2 has no cpu.rt_period_us or cpu.rt_runtime_us".into(),
            });
        }
        let (cpus, mems) = (v1::nonempty(cpu.cpus()), v1::nonempty(cpu.mems()));
        if cpus.is_some() || mems.is_some() {
            enable_v2(root, dir, "cpuset")?;
            if let Some(mems) = mems {
                write(&dir.join("cpuset.mems"), mems)?;
            }
            if let Some(cpus) = cpus {
                write(&dir.join("cpuset.cpus"), cpus)?;
            }
        }
    }
    if let Some(r) = res
        .memory()
        .as_ref()
        .and_then(|m| m.reservation())
        .filter(|r| *r != 0)
    {
        write(&dir.join("memory.low"), max_or(r))?;
    }
    if let Some(w) = res
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
    {
        enable_v2(root, dir, "io")?;
        // v1's 10..1000 on v2's 1..10000, as runc converts it; BFQ's file takes v1's scale.
        let (file, value) = if dir.join("io.bfq.weight").exists() {
            ("io.bfq.weight", u64::from(w))
        } else {
            (
                "io.weight",
                1 + (u64::from(w).saturating_sub(10)) * 9999 / 990,
            )
        };
        write(&dir.join(file), value)?;
    }
    if let Some(mem) = res.memory() {
        if let Some(limit) = mem.limit() {
            write(&dir.join("memory.max"), max_or(limit))?;
        }
        if let Some(swap) = mem.swap() {
            // OCI's swap is memory+swap (Docker's --memory-swap); v2 limits swap alone.
            let v = match (swap, mem.limit()) {
                (s, _) if s < 0 => "max".to_string(),
                (s, Some(l)) if l > 0 => (s - l).max(0).to_string(),
                (s, _) => s.to_string(),
            };
            write(&dir.join("memory.swap.max"), v)?;
        }
    }
    if let Some(cpu) = res.cpu() {
        if let Some(shares) = cpu.shares() {
            write(&dir.join("cpu.weight"), shares_to_weight(shares))?;
        }
        if cpu.quota().is_some() || cpu.period().is_some() {
            // What is not given stays as it is (an update of the period alone keeps the quota).
            let now = fs::read_to_string(dir.join("cpu.max")).unwrap_or_default();
            let mut now = now.split_whitespace();
            let (now_quota, now_period) = (now.next(), now.next());
            let quota = cpu
                .quota()
                .map(max_or)
                .or_else(|| now_quota.map(str::to_owned))
                .unwrap_or_else(|| "max".into());
            let period = cpu
                .period()
                .or_else(|| now_period.and_then(|p| p.parse().ok()))
                .unwrap_or(100_000);
            write(&dir.join("cpu.max"), format!("{quota} {period}"))?;
        }
    }
    if let Some(pids) = res.pids() {
        write(&dir.join("pids.max"), max_or(pids.limit()))?;
    }
    Ok(())
}
