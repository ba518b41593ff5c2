//! The v1 limits beyond Docker's flags: the rest of the runtime spec's `linux.resources` on a v1 (or hybrid)
//! host, each written into its controller's file as the kernel's cgroup-v1 documentation names it.
//!
//! - memory: `reservation` (`memory.soft_limit_in_bytes`), `kernel` and `kernelTCP` (`memory.kmem.*`, only
//!   where the kernel still has the files), `swappiness`, `disableOOMKiller` (`memory.oom_control`);
//! - cpu: the realtime budget (`cpu.rt_period_us`, then `cpu.rt_runtime_us`); cpuset: `cpus`, `mems`;
//! - blkio: weights and throttles (`MAJOR:MINOR VALUE` lines); hugetlb: one limit per page size;
//!   net_cls: `classID`; net_prio: one `IFACE PRIO` line per interface;
//! - devices: the rules in order, each to `devices.allow` or `devices.deny` (`TYPE MAJOR:MINOR ACCESS`,
//!   `*` for a missing number, `a` for a missing type).
//!
//! The controllers past memory, cpu, pids and freezer get a directory only when a limit of theirs is set
//! ([`wanted`]); a limit whose controller is not mounted is an error naming it, as runc makes it.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, LinuxThrottleDevice,
};

use super::{write, CgroupError};

/// The on-demand controllers whose limits `res` sets.
pub(super) fn wanted(res: &LinuxResources) -> Vec<&'static str> {
    let mut out = Vec::new();
    if res
        .cpu()
        .as_ref()
        .is_some_and(|c| nonempty(c.cpus()).is_some() || nonempty(c.mems()).is_some())
    {
        out.push("cpuset");
    }
    if res.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        out.push("devices");
    }
    if res.block_io().is_some() {
        out.push("blkio");
    }
    if res
        .hugepage_limits()
        .as_ref()
        .is_some_and(|h| !h.is_empty())
    {
        out.push("hugetlb");
    }
    if let Some(net) = res.network() {
        if net.class_id().is_some() {
            out.push("net_cls");
        }
        if net.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            out.push("net_prio");
        }
    }
    out
}

/// Gives a cpuset cgroup just made its parent's CPUs and memory nodes where it has none.
pub(super) fn inherit_cpuset(dir: &Path) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = fs::read_to_string(dir.join(file)).unwrap_or_default();
        if !own.trim().is_empty() {
            continue;
        }
        let path = parent.join(file);
        let from = fs::read_to_string(&path).map_err(|source| CgroupError::Read {
            path: path.clone(),
            source,
        })?;
        write(&dir.join(file), from.trim())?;
    }
    Ok(())
}

/// Writes the limits of `res` that this module owns; `need` gives a controller's directory, or the error
/// that it has none.
pub(super) fn update(
    need: &dyn Fn(&str) -> Result<PathBuf, CgroupError>,
    res: &LinuxResources,
) -> Result<(), CgroupError> {
    if let Some(mem) = res.memory() {
        // Zero, like an empty list below, is unset, as runc takes it.
        if let Some(v) = mem.reservation().filter(|v| *v != 0) {
            write(&need("memory")?.join("memory.soft_limit_in_bytes"), v)?;
        }
        // Kernel memory limits are gone from recent kernels (and deprecated before); where the file is
        // missing the limit is not applied, as runc and crun do.
        for (value, file) in [
            (mem.kernel(), "memory.kmem.limit_in_bytes"),
            (mem.kernel_tcp(), "memory.kmem.tcp.limit_in_bytes"),
        ] {
            if let Some(v) = value {
                let path = need("memory")?.join(file);
                if path.exists() {
                    write(&path, v)?;
                }
            }
        }
        if let Some(v) = mem.swappiness() {
            write(&need("memory")?.join("memory.swappiness"), v)?;
        }
        if let Some(disable) = mem.disable_oom_killer() {
            write(
                &need("memory")?.join("memory.oom_control"),
                u8::from(disable),
            )?;
        }
    }
    if let Some(cpu) = res.cpu() {
        // The period first: the runtime must fit in it.
        if let Some(v) = cpu.realtime_period().filter(|v| *v != 0) {
            write(&need("cpu")?.join("cpu.rt_period_us"), v)?;
        }
        if let Some(v) = cpu.realtime_runtime().filter(|v| *v != 0) {
            write(&need("cpu")?.join("cpu.rt_runtime_us"), v)?;
        }
        if let Some(v) = nonempty(cpu.cpus()) {
            write(&need("cpuset")?.join("cpuset.cpus"), v)?;
        }
        if let Some(v) = nonempty(cpu.mems()) {
            write(&need("cpuset")?.join("cpuset.mems"), v)?;
        }
    }
    if let Some(io) = res.block_io() {
        let dir = need("blkio")?;
        if let Some(w) = io.weight().filter(|w| *w != 0) {
            // Without CFQ the weight is BFQ's; with neither there is none to set.
            let file = ["blkio.weight", "blkio.bfq.weight"]
                .into_iter()
                .map(|f| dir.join(f))
                .find(|f| f.exists())
                .ok_or_else(|| CgroupError::Unsupported {
                    what: "the block I/O weight",
                    why: format!(
                        "{} has neither blkio.weight nor blkio.bfq.weight (no I/O scheduler with weights)",
                        dir.display()
                    ),
                })?;
            write(&file, w)?;
        }
        if let Some(v) = io.leaf_weight() {
            write(&dir.join("blkio.leaf_weight"), v)?;
        }
        for d in io.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                write(
                    &dir.join("blkio.weight_device"),
                    format!("{}:{} {w}", d.major(), d.minor()),
                )?;
            }
            if let Some(w) = d.leaf_weight() {
                write(
                    &dir.join("blkio.leaf_weight_device"),
                    format!("{}:{} {w}", d.major(), d.minor()),
                )?;
            }
        }
        let throttles: [(&Option<Vec<LinuxThrottleDevice>>, &str); 4] = [
            (
                io.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
            ),
            (
                io.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
            ),
            (
                io.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
            ),
            (
                io.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
            ),
        ];
        for (devices, file) in throttles {
            for d in devices.iter().flatten() {
                write(
                    &dir.join(file),
                    format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                )?;
            }
        }
    }
    for limit in res.hugepage_limits().iter().flatten() {
        let file = format!("hugetlb.{}.limit_in_bytes", limit.page_size());
        write(&need("hugetlb")?.join(file), limit.limit())?;
    }
    if let Some(net) = res.network() {
        if let Some(id) = net.class_id() {
            write(&need("net_cls")?.join("net_cls.classid"), id)?;
        }
        for p in net.priorities().iter().flatten() {
            write(
                &need("net_prio")?.join("net_prio.ifpriomap"),
                format!("{} {}", p.name(), p.priority()),
            )?;
        }
    }
    if let Some(rules) = res.devices().as_ref().filter(|r| !r.is_empty()) {
        let dir = need("devices")?;
        for rule in rules {
            let file = if rule.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(&dir.join(file), device_rule(rule))?;
        }
    }
    Ok(())
}

/// The devices every container may use whatever its rules say, as runc allows them after the spec's rules:
/// making any node (`m`), the default devices of `/dev`, the terminal ones, and the spec's own
/// `linux.devices`. Without them a spec that starts with "deny all" could not get its `/dev` made.
/// `res` is returned unchanged when it has no device rules: then no devices cgroup is made at all.
pub(crate) fn with_default_device_rules(
    res: &LinuxResources,
    spec_devices: &[LinuxDevice],
) -> LinuxResources {
    let Some(rules) = res.devices().as_ref().filter(|r| !r.is_empty()) else {
        return res.clone();
    };
    let rule = |typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true)
            .set_typ(Some(typ))
            .set_major(major)
            .set_minor(minor)
            .set_access(Some(access.to_owned()));
        r
    };
    use LinuxDeviceType::{B, C};
    let mut all = rules.clone();
    all.push(rule(C, None, None, "m"));
    all.push(rule(B, None, None, "m"));
    // null, zero, full, random, urandom, tty, console, ptmx, and the pts devices.
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        all.push(rule(C, Some(major), Some(minor), "rwm"));
    }
    all.push(rule(C, Some(136), None, "rwm"));
    for d in spec_devices {
        let typ = match d.typ() {
            LinuxDeviceType::B => B,
            _ => C,
        };
        all.push(rule(typ, Some(d.major()), Some(d.minor()), "rwm"));
    }
    let mut out = res.clone();
    out.set_devices(Some(all));
    out
}

/// A device rule as the devices controller reads it: `c 1:3 rwm`, `a *:* rwm`.
pub(super) fn device_rule(rule: &LinuxDeviceCgroup) -> String {
    let typ = rule
        .typ()
        .map_or_else(|| "a".to_owned(), |t| t.as_str().to_owned());
    let num = |n: Option<i64>| n.map_or("*".to_owned(), |n| n.to_string());
    let access = rule.access().as_deref().unwrap_or("rwm");
    format!("{typ} {}:{} {access}", num(rule.major()), num(rule.minor()))
}

/// A cpuset list, unless it is empty (unset).
pub(super) fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxMemoryBuilder,
        LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
    };

    use crate::cgroup::Cgroup;

    #[test]
    fn device_rules_read_as_the_controller_wants_them() {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        assert_eq!(device_rule(&deny_all), "a *:* rwm");
        let null = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rw")
            .build()
            .unwrap();
        assert_eq!(device_rule(&null), "c 1:3 rw");
    }

    /// The runtime-spec conformance suite's cpu and memory cases were not applied on v1: no cpuset cgroup
    /// was made, and reservation, swappiness and the OOM killer switch were never written.
    #[test]
    fn v1_cpuset_memory_extras_and_devices_land_in_their_controllers() {
        let root = tempfile::tempdir().unwrap();
        for c in ["memory", "cpu", "pids", "cpuset", "devices", "blkio"] {
            fs::create_dir(root.path().join(c)).unwrap();
        }
        // The parent's CPUs and nodes, which a new cpuset cgroup copies before tasks can join it.
        fs::write(root.path().join("cpuset/cpuset.cpus"), "0-1\n").unwrap();
        fs::write(root.path().join("cpuset/cpuset.mems"), "0\n").unwrap();
        let res = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .reservation(1024_i64)
                    .swappiness(10_u64)
                    .disable_oom_killer(true)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .cpus("1")
                    .realtime_period(1_000_000_u64)
                    .realtime_runtime(950_000_i64)
                    .build()
                    .unwrap(),
            )
            .devices(vec![
                LinuxDeviceCgroupBuilder::default()
                    .allow(false)
                    .access("rwm")
                    .build()
                    .unwrap(),
                LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .typ(LinuxDeviceType::C)
                    .major(1)
                    .minor(3)
                    .access("rwm")
                    .build()
                    .unwrap(),
            ])
            .block_io(
                LinuxBlockIoBuilder::default()
                    .throttle_read_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                        .major(8)
                        .minor(0)
                        .rate(1024_u64)
                        .build()
                        .unwrap()])
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let cg = Cgroup::create_as(root.path(), Path::new("/t/c1"), Some(&res), false).unwrap();
        let r = |p: &str| fs::read_to_string(root.path().join(p)).unwrap();
        assert_eq!(r("memory/t/c1/memory.soft_limit_in_bytes"), "1024");
        assert_eq!(r("memory/t/c1/memory.swappiness"), "10");
        assert_eq!(r("memory/t/c1/memory.oom_control"), "1");
        assert_eq!(r("cpu/t/c1/cpu.rt_period_us"), "1000000");
        assert_eq!(r("cpu/t/c1/cpu.rt_runtime_us"), "950000");
        // The ancestor made on the way got the root's CPUs, the container its own.
        assert_eq!(r("cpuset/t/cpuset.cpus"), "0-1");
        assert_eq!(r("cpuset/t/c1/cpuset.cpus"), "1");
        assert_eq!(r("cpuset/t/c1/cpuset.mems"), "0");
        // A temp dir keeps only the last write of each file: the last rule went to each.
        assert_eq!(r("devices/t/c1/devices.deny"), "a *:* rwm");
        assert_eq!(r("devices/t/c1/devices.allow"), "c 1:3 rwm");
        assert_eq!(r("blkio/t/c1/blkio.throttle.read_bps_device"), "8:0 1024");
        // Found again (exec, kill --all): the on-demand controllers come along.
        let again = Cgroup::open(root.path(), Path::new("t/c1")).unwrap();
        assert_eq!(again.dirs(), cg.dirs());
        assert_eq!(cg.dirs().len(), 6);
    }

    #[test]
    fn default_device_rules_come_after_the_spec_s_own() {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .devices(vec![deny_all])
            .build()
            .unwrap();
        let fuse = oci_spec::runtime::LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .build()
            .unwrap();
        let out = with_default_device_rules(&res, &[fuse]);
        let rules: Vec<String> = out.devices().iter().flatten().map(device_rule).collect();
        assert_eq!(rules[0], "a *:* rwm");
        assert!(rules.contains(&"c 1:3 rwm".to_owned()), "{rules:?}");
        assert!(rules.contains(&"c 136:* rwm".to_owned()), "{rules:?}");
        assert_eq!(rules.last().unwrap(), "c 10:229 rwm");
        // No rules: nothing added, so no devices cgroup is made.
        let none = LinuxResourcesBuilder::default().build().unwrap();
        assert!(with_default_device_rules(&none, &[]).devices().is_none());
    }

    #[test]
    fn no_on_demand_controller_without_its_limits() {
        let root = tempfile::tempdir().unwrap();
        for c in ["memory", "cpu", "pids", "cpuset", "devices"] {
            fs::create_dir(root.path().join(c)).unwrap();
        }
        let res = LinuxResourcesBuilder::default().build().unwrap();
        let cg = Cgroup::create_as(root.path(), Path::new("c2"), Some(&res), false).unwrap();
        assert_eq!(cg.dirs().len(), 3);
        assert!(!root.path().join("cpuset/c2").exists());
        assert!(!root.path().join("devices/c2").exists());
    }
}
