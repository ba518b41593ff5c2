//! The systemd cgroup driver (runc's `--systemd-cgroup`): the container's cgroup is a transient scope unit
//! that systemd makes and owns, asked for over D-Bus, instead of directories the runtime makes itself.
//!
//! A `linux.cgroupsPath` in systemd's form is `SLICE:PREFIX:NAME` (runc's): the scope `PREFIX-NAME.scope` in
//! the slice `SLICE` (`system.slice` when empty). Its cgroup is the slice's path, each dash of a slice's name
//! a level deeper (`a-b.slice` is `/a.slice/a-b.slice`, systemd.slice(5)), then the scope:
//! `system.slice:minotaur:ID` is `/system.slice/minotaur-ID.scope` in every hierarchy systemd manages.
//!
//! The scope is started with `StartTransientUnit` on `org.freedesktop.systemd1.Manager` with the container's
//! init in `PIDs`, `Delegate=yes` (the container may make cgroups of its own below it), no default
//! dependencies (it must not wait for, or be stopped with, anything else), accounting on, and the limits of
//! `linux.resources` that systemd has properties for ([`properties`]). systemd moves the init into the scope;
//! the caller then writes every limit into the cgroup files as well ([`super::Cgroup`]) and makes the
//! directories of the hierarchies systemd does not manage (the freezer, cpuset on v1), as runc does: a
//! property survives a `daemon-reload` (which rewrites the files from the unit), a file-only limit would not.
//! `update` is `SetUnitProperties` (runtime, not persisted) and the files; `delete` is `StopUnit`, after which
//! systemd removes the scope's cgroups.
//!
//! systemd answers a start or stop with a job and runs it later; rather than subscribe to its `JobRemoved`
//! signals, the driver polls the unit's `ActiveState` (a few milliseconds for a scope).
//!
//! The D-Bus client is zbus (pure Rust). zbus 6 is async only; its `block_on` runs one call to completion
//! on this thread. Nothing of it runs unless the driver is asked for: a container without `--systemd-cgroup`
//! never opens a bus connection.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use zbus::{Connection, OwnedObjectPath, OwnedVariant as OwnedValue, Variant as Value};

/// How long a start or a stop of the scope may take.
const JOB_TIMEOUT: Duration = Duration::from_secs(10);

const DESTINATION: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// Errors of the systemd cgroup driver.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error("cgroupsPath {0:?} is not systemd's form slice:prefix:name")]
    BadPath(String),
    #[error("{0:?} is not a valid slice name (NAME.slice, dashes only between words)")]
    BadSlice(String),
    #[error("cannot connect to systemd on the system bus")]
    Connect(#[source] zbus::Error),
    #[error("systemd refused {method} of {unit}")]
    Call {
        method: &'static str,
        unit: String,
        #[source]
        source: zbus::Error,
    },
    #[error("systemd unit {unit} did not become {want} within {JOB_TIMEOUT:?} (it is {now})")]
    Timeout {
        unit: String,
        want: &'static str,
        now: String,
    },
    #[error("systemd unit {unit} failed to start")]
    Failed { unit: String },
}

/// A container's scope: its unit name and where its cgroup is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `PREFIX-NAME.scope`.
    pub unit: String,
    /// The slice it is in (`system.slice`).
    pub slice: String,
    /// Its cgroup, relative to a hierarchy's root: the expanded slice, then the unit.
    pub cgroup: PathBuf,
}

impl Scope {
    /// The scope that a `SLICE:PREFIX:NAME` cgroups path names.
    pub fn parse(cgroups_path: &str) -> Result<Scope, SystemdError> {
        let bad = || SystemdError::BadPath(cgroups_path.to_owned());
        let mut parts = cgroups_path.split(':');
        let (Some(slice), Some(prefix), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if name.is_empty() || name.contains('/') || prefix.contains('/') {
            return Err(bad());
        }
        // runc: a name that is a slice makes the container's cgroup that slice; only scopes are made here.
        if name.ends_with(".slice") {
            return Err(bad());
        }
        let slice = if slice.is_empty() {
            "system.slice"
        } else {
            slice
        };
        let unit = if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        let cgroup = expand_slice(slice)?.join(&unit);
        Ok(Scope {
            unit,
            slice: slice.to_owned(),
            cgroup,
        })
    }
}

/// Whether a cgroups path is in systemd's `SLICE:PREFIX:NAME` form rather than a directory path.
pub fn is_systemd_path(cgroups_path: &str) -> bool {
    !cgroups_path.starts_with('/') && cgroups_path.split(':').count() == 3
}

/// The cgroup of a slice, relative to a hierarchy's root: `a-b.slice` is `/a.slice/a-b.slice`, and the root
/// slice `-.slice` is `/` (systemd.slice(5)).
pub fn expand_slice(slice: &str) -> Result<PathBuf, SystemdError> {
    let bad = || SystemdError::BadSlice(slice.to_owned());
    let stem = slice.strip_suffix(".slice").ok_or_else(bad)?;
    if stem == "-" {
        return Ok(PathBuf::from("/"));
    }
    if stem.is_empty()
        || stem.contains('/')
        || stem.starts_with('-')
        || stem.ends_with('-')
        || stem.contains("--")
    {
        return Err(bad());
    }
    let mut path = PathBuf::from("/");
    let mut prefix = String::new();
    for word in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(word);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

/// One unit property's value, as the D-Bus signature it is sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prop {
    /// `b`
    Bool(bool),
    /// `t`
    U64(u64),
    /// `s`
    Str(String),
    /// `au`
    U32s(Vec<u32>),
    /// `ay`, a bit mask (AllowedCPUs, AllowedMemoryNodes)
    Bytes(Vec<u8>),
    /// `a(ss)`, (device, access) pairs (DeviceAllow)
    Devices(Vec<(String, String)>),
}

impl Prop {
    fn to_value(&self) -> Value<'static> {
        match self {
            Prop::Bool(b) => Value::from(*b),
            Prop::U64(n) => Value::from(*n),
            Prop::Str(s) => Value::from(s.clone()),
            Prop::U32s(v) => Value::from(v.clone()),
            Prop::Bytes(v) => Value::from(v.clone()),
            Prop::Devices(v) => Value::from(v.clone()),
        }
    }
}

/// systemd's "no limit" for a `t` property.
const INFINITY: u64 = u64::MAX;

/// The unit properties for `res` that systemd has (on cgroup v2 when `v2`), in runc's conversions. What
/// systemd has no property for (swappiness, the realtime budget, blkio throttles, hugetlb, the network
/// classes; on v1 swap, the soft limit and cpusets) is left to the cgroup files.
pub fn properties(res: &LinuxResources, v2: bool) -> Vec<(&'static str, Prop)> {
    let mut props = Vec::new();
    if let Some(mem) = res.memory() {
        if let Some(limit) = mem.limit().filter(|l| *l != 0) {
            props.push(("MemoryMax", Prop::U64(limit_or_infinity(limit))));
        }
        if v2 {
            if let Some(r) = mem.reservation().filter(|r| *r != 0) {
                props.push(("MemoryLow", Prop::U64(limit_or_infinity(r))));
            }
            if let Some(swap) = mem.swap().filter(|s| *s != 0) {
                // OCI's swap is memory+swap; systemd's MemorySwapMax is swap alone.
                let v = match mem.limit() {
                    _ if swap < 0 => INFINITY,
                    Some(l) if l > 0 => (swap - l).max(0) as u64,
                    _ => swap as u64,
                };
                props.push(("MemorySwapMax", Prop::U64(v)));
            }
        }
    }
    if let Some(cpu) = res.cpu() {
        if let Some(shares) = cpu.shares().filter(|s| *s != 0) {
            if v2 {
                props.push(("CPUWeight", Prop::U64(super::shares_to_weight(shares))));
            } else {
                props.push(("CPUShares", Prop::U64(shares)));
            }
        }
        let period = cpu.period().filter(|p| *p != 0);
        if let Some(p) = period {
            props.push(("CPUQuotaPeriodUSec", Prop::U64(p)));
        }
        match cpu.quota() {
            Some(q) if q > 0 => {
                // systemd's quota is CPU time per second, which it keeps in 10 ms steps: rounded up, as
                // runc does, so that a quota never shrinks.
                let per_sec = (q as u64) * 1_000_000 / period.unwrap_or(100_000);
                let per_sec = per_sec.div_ceil(10_000) * 10_000;
                props.push(("CPUQuotaPerSecUSec", Prop::U64(per_sec)));
            }
            Some(q) if q < 0 => props.push(("CPUQuotaPerSecUSec", Prop::U64(INFINITY))),
            _ => {}
        }
        if v2 {
            if let Some(bits) = cpu.cpus().as_deref().and_then(range_bits) {
                props.push(("AllowedCPUs", Prop::Bytes(bits)));
            }
            if let Some(bits) = cpu.mems().as_deref().and_then(range_bits) {
                props.push(("AllowedMemoryNodes", Prop::Bytes(bits)));
            }
        }
    }
    if let Some(pids) = res.pids() {
        props.push(("TasksMax", Prop::U64(limit_or_infinity(pids.limit()))));
    }
    if let Some(w) = res
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
    {
        if v2 {
            let w = 1 + (u64::from(w).saturating_sub(10)) * 9999 / 990;
            props.push(("IOWeight", Prop::U64(w)));
        } else {
            props.push(("BlockIOWeight", Prop::U64(u64::from(w))));
        }
    }
    if let Some(rules) = res.devices().as_ref().filter(|r| !r.is_empty()) {
        let devices = std::fs::read_to_string("/proc/devices").unwrap_or_default();
        props.extend(device_properties(rules, &devices));
    }
    props
}

/// The device rules as `DevicePolicy` and `DeviceAllow`. The rules are applied in order; systemd has an
/// allow list only, so a rule set that starts over from "deny all" becomes `DevicePolicy=strict` with the
/// devices allowed after the last such rule (`/dev/char/MAJOR:MINOR`, or `char-*` for a whole type), and
/// one that never denies everything leaves the policy alone. A whole major is named as `/proc/devices`
/// (`devices`) lists it (`char-pts`), as systemd takes it. The rules themselves are also written to
/// `devices.allow` and `devices.deny` on v1 (narrower denials are only there), so this list matters when
/// systemd rewrites the files, as on `daemon-reload`: without it systemd would allow every device.
fn device_properties(rules: &[LinuxDeviceCgroup], devices: &str) -> Vec<(&'static str, Prop)> {
    let is_all = |r: &LinuxDeviceCgroup| {
        matches!(r.typ(), None | Some(LinuxDeviceType::A))
            && r.major().is_none()
            && r.minor().is_none()
    };
    let Some(last_deny_all) = rules.iter().rposition(|r| !r.allow() && is_all(r)) else {
        return Vec::new();
    };
    let mut allow = Vec::new();
    for r in &rules[last_deny_all + 1..] {
        if !r.allow() {
            continue;
        }
        let access = r.access().clone().unwrap_or_else(|| "rwm".into());
        let kinds: &[&str] = match r.typ() {
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => &["char"],
            Some(LinuxDeviceType::B) => &["block"],
            Some(LinuxDeviceType::A) | None => &["char", "block"],
            Some(LinuxDeviceType::P) => continue,
        };
        for kind in kinds {
            let device = match (r.major(), r.minor()) {
                (Some(maj), Some(min)) if maj >= 0 && min >= 0 => {
                    format!("/dev/{kind}/{maj}:{min}")
                }
                // A major with no name in /proc/devices stays in the files only: allowing the whole
                // type would be wider than the rule.
                (Some(maj), _) if maj >= 0 => match major_name(devices, kind, maj) {
                    Some(name) => format!("{kind}-{name}"),
                    None => continue,
                },
                _ => format!("{kind}-*"),
            };
            allow.push((device, access.clone()));
        }
    }
    vec![
        ("DevicePolicy", Prop::Str("strict".into())),
        ("DeviceAllow", Prop::Devices(allow)),
    ]
}

/// The driver name of a major number in `/proc/devices` text, in its "Character devices:" (`char`) or
/// "Block devices:" (`block`) section.
fn major_name(devices: &str, kind: &str, major: i64) -> Option<String> {
    let header = if kind == "char" {
        "Character devices:"
    } else {
        "Block devices:"
    };
    devices
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (n, name) = l.trim().split_once(' ')?;
            (n.parse::<i64>().ok()? == major).then(|| name.trim().to_owned())
        })
}

fn limit_or_infinity(v: i64) -> u64 {
    if v <= 0 {
        INFINITY
    } else {
        v as u64
    }
}

/// A cpuset list (`0-2,4`) as systemd's bit mask: bit N of byte N/8 for CPU (or node) N. `None` when empty
/// or malformed (the cgroup file write then says what is wrong).
fn range_bits(list: &str) -> Option<Vec<u8>> {
    let mut bits: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>().ok()?, b.trim().parse().ok()?),
            None => {
                let n = part.parse().ok()?;
                (n, n)
            }
        };
        if hi < lo || hi > 1 << 16 {
            return None;
        }
        for n in lo..=hi {
            if bits.len() <= n / 8 {
                bits.resize(n / 8 + 1, 0);
            }
            bits[n / 8] |= 1 << (n % 8);
        }
    }
    (!bits.is_empty()).then_some(bits)
}

/// A connection to systemd on the system bus (`DBUS_SYSTEM_BUS_ADDRESS`, or its well-known socket).
pub struct Systemd {
    conn: Connection,
}

impl Systemd {
    /// Connects to the system bus.
    pub fn connect() -> Result<Systemd, SystemdError> {
        let conn = zbus::block_on(Connection::system()).map_err(SystemdError::Connect)?;
        Ok(Systemd { conn })
    }

    /// Starts `scope` with `pid` in it and waits until it is active: systemd has moved `pid` into the
    /// scope's cgroups by then. `res` gives the limits systemd has properties for; `v2` whether the host's
    /// cgroups are v2. A failed scope of the same name left from before is reset and the start retried.
    pub fn start_scope(
        &self,
        scope: &Scope,
        pid: u32,
        res: Option<&LinuxResources>,
        v2: bool,
    ) -> Result<(), SystemdError> {
        let mut props: Vec<(&'static str, Prop)> = vec![
            (
                "Description",
                Prop::Str(format!("minotaur container {}", scope.unit)),
            ),
            ("Slice", Prop::Str(scope.slice.clone())),
            ("PIDs", Prop::U32s(vec![pid])),
            ("Delegate", Prop::Bool(true)),
            ("DefaultDependencies", Prop::Bool(false)),
            ("MemoryAccounting", Prop::Bool(true)),
            ("CPUAccounting", Prop::Bool(true)),
            ("TasksAccounting", Prop::Bool(true)),
            (
                if v2 {
                    "IOAccounting"
                } else {
                    "BlockIOAccounting"
                },
                Prop::Bool(true),
            ),
        ];
        if let Some(res) = res {
            props.extend(properties(res, v2));
        }
        let values = values(&props);
        let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
        let start = || {
            self.call::<OwnedObjectPath>(
                "StartTransientUnit",
                &scope.unit,
                &(scope.unit.as_str(), "replace", &values, &aux),
            )
        };
        if let Err(first) = start() {
            // A scope of this name that failed before stays loaded until reset.
            if self.active_state(&scope.unit)?.as_deref() != Some("failed") {
                return Err(first);
            }
            self.reset_failed(&scope.unit)?;
            start()?;
        }
        self.wait(&scope.unit, "active", |s| match s {
            Some("active") => Ok(true),
            Some("failed") => Err(SystemdError::Failed {
                unit: scope.unit.clone(),
            }),
            _ => Ok(false),
        })
    }

    /// Sets the properties of `res` on a running scope (`update`), for its runtime only.
    pub fn set_properties(
        &self,
        unit: &str,
        res: &LinuxResources,
        v2: bool,
    ) -> Result<(), SystemdError> {
        let props = properties(res, v2);
        if props.is_empty() {
            return Ok(());
        }
        let values = values(&props);
        self.call::<()>("SetUnitProperties", unit, &(unit, true, &values))
    }

    /// Stops the scope (killing what is left in it) and waits until systemd has let go of it, its cgroups
    /// removed. A scope that is already gone is fine.
    pub fn stop(&self, unit: &str) -> Result<(), SystemdError> {
        match self.active_state(unit)?.as_deref() {
            None => return Ok(()),
            Some("failed") => return self.reset_failed(unit),
            Some(_) => {}
        }
        if let Err(e) = self.call::<OwnedObjectPath>("StopUnit", unit, &(unit, "replace")) {
            // Gone between the look and the stop.
            if self.active_state(unit)?.is_none() {
                return Ok(());
            }
            return Err(e);
        }
        self.wait(unit, "stopped", |s| {
            Ok(matches!(s, None | Some("inactive") | Some("failed")))
        })?;
        if self.active_state(unit)?.as_deref() == Some("failed") {
            self.reset_failed(unit)?;
        }
        Ok(())
    }

    /// The unit's `ActiveState`; `None` when systemd has no such unit loaded.
    pub fn active_state(&self, unit: &str) -> Result<Option<String>, SystemdError> {
        let path = match self.call::<OwnedObjectPath>("GetUnit", unit, &(unit,)) {
            Ok(p) => p,
            Err(SystemdError::Call {
                source: zbus::Error::MethodError(name, _, _),
                ..
            }) if name.as_str() == "org.freedesktop.systemd1.NoSuchUnit" => return Ok(None),
            Err(e) => return Err(e),
        };
        let call = self.conn.call_method(
            Some(DESTINATION),
            path.as_str(),
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &("org.freedesktop.systemd1.Unit", "ActiveState"),
        );
        let reply = zbus::block_on(call);
        let value: OwnedValue = reply
            .and_then(|m| m.body().deserialize())
            .map_err(|source| SystemdError::Call {
                method: "Get ActiveState",
                unit: unit.to_owned(),
                source,
            })?;
        let state = String::try_from(&*value).map_err(|source| SystemdError::Call {
            method: "Get ActiveState",
            unit: unit.to_owned(),
            source,
        })?;
        Ok(Some(state))
    }

    fn reset_failed(&self, unit: &str) -> Result<(), SystemdError> {
        match self.call::<()>("ResetFailedUnit", unit, &(unit,)) {
            Err(SystemdError::Call {
                source: zbus::Error::MethodError(name, _, _),
                ..
            }) if name.as_str() == "org.freedesktop.systemd1.NoSuchUnit" => Ok(()),
            other => other,
        }
    }

    /// Polls the unit's state until `done` says so.
    fn wait(
        &self,
        unit: &str,
        want: &'static str,
        mut done: impl FnMut(Option<&str>) -> Result<bool, SystemdError>,
    ) -> Result<(), SystemdError> {
        let start = Instant::now();
        loop {
            let now = self.active_state(unit)?;
            if done(now.as_deref())? {
                return Ok(());
            }
            if start.elapsed() > JOB_TIMEOUT {
                return Err(SystemdError::Timeout {
                    unit: unit.to_owned(),
                    want,
                    now: now.unwrap_or_else(|| "not loaded".into()),
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Calls a method of systemd's manager and decodes its reply.
    fn call<R>(
        &self,
        method: &'static str,
        unit: &str,
        body: &(impl serde::Serialize + zbus::DynamicType),
    ) -> Result<R, SystemdError>
    where
        R: for<'de> serde::Deserialize<'de> + zbus::Type,
    {
        let err = |source| SystemdError::Call {
            method,
            unit: unit.to_owned(),
            source,
        };
        let reply = zbus::block_on(self.conn.call_method(
            Some(DESTINATION),
            MANAGER_PATH,
            Some(MANAGER),
            method,
            body,
        ))
        .map_err(err)?;
        reply.body().deserialize().map_err(err)
    }
}

fn values(props: &[(&'static str, Prop)]) -> Vec<(&'static str, Value<'static>)> {
    props.iter().map(|(k, v)| (*k, v.to_value())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxMemoryBuilder, LinuxPidsBuilder,
        LinuxResourcesBuilder,
    };

    #[test]
    fn a_slice_prefix_name_path_is_a_scope_in_the_expanded_slice() {
        let s = Scope::parse("system.slice:minotaur:abc").unwrap();
        assert_eq!(s.unit, "minotaur-abc.scope");
        assert_eq!(s.slice, "system.slice");
        assert_eq!(s.cgroup, PathBuf::from("/system.slice/minotaur-abc.scope"));
        let s = Scope::parse("machine-pods-x.slice::abc").unwrap();
        assert_eq!(s.unit, "abc.scope");
        assert_eq!(
            s.cgroup,
            PathBuf::from("/machine.slice/machine-pods.slice/machine-pods-x.slice/abc.scope")
        );
        assert_eq!(
            Scope::parse(":crio:x").unwrap().cgroup,
            PathBuf::from("/system.slice/crio-x.scope")
        );
        assert_eq!(
            Scope::parse("-.slice:p:x").unwrap().cgroup,
            PathBuf::from("/p-x.scope")
        );
    }

    #[test]
    fn malformed_systemd_paths_are_refused_naming_them() {
        for bad in [
            "a:b",
            "a:b:c:d",
            "system.slice:p:",
            "system.slice:p:x.slice",
        ] {
            let e = Scope::parse(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
        for bad in ["system", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice"] {
            assert!(
                matches!(expand_slice(bad), Err(SystemdError::BadSlice(_))),
                "{bad}"
            );
        }
        assert!(is_systemd_path("system.slice:minotaur:x"));
        assert!(!is_systemd_path("/minotaur/x"));
        assert!(!is_systemd_path("minotaur/x"));
    }

    fn prop<'a>(props: &'a [(&'static str, Prop)], name: &str) -> Option<&'a Prop> {
        props.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    #[test]
    fn resources_become_systemds_properties_as_runc_converts_them() {
        let res = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 << 20)
                    .swap(96 << 20)
                    .reservation(32 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(33_333i64)
                    .period(100_000u64)
                    .cpus("0-2,9")
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(20).build().unwrap())
            .build()
            .unwrap();
        let v1 = properties(&res, false);
        assert_eq!(prop(&v1, "MemoryMax"), Some(&Prop::U64(64 << 20)));
        assert_eq!(prop(&v1, "TasksMax"), Some(&Prop::U64(20)));
        assert_eq!(prop(&v1, "CPUShares"), Some(&Prop::U64(512)));
        // 33.333 ms per 100 ms is 333.33 ms per second, rounded up to systemd's 10 ms steps.
        assert_eq!(prop(&v1, "CPUQuotaPerSecUSec"), Some(&Prop::U64(340_000)));
        assert_eq!(prop(&v1, "CPUQuotaPeriodUSec"), Some(&Prop::U64(100_000)));
        for v2_only in ["MemorySwapMax", "MemoryLow", "AllowedCPUs", "CPUWeight"] {
            assert_eq!(prop(&v1, v2_only), None, "{v2_only} on v1");
        }
        let v2 = properties(&res, true);
        assert_eq!(prop(&v2, "MemorySwapMax"), Some(&Prop::U64(32 << 20)));
        assert_eq!(prop(&v2, "MemoryLow"), Some(&Prop::U64(32 << 20)));
        assert_eq!(prop(&v2, "CPUWeight"), Some(&Prop::U64(20)));
        assert_eq!(
            prop(&v2, "AllowedCPUs"),
            Some(&Prop::Bytes(vec![0b0000_0111, 0b0000_0010]))
        );
        assert_eq!(prop(&v2, "CPUShares"), None);

        let unlimited = LinuxResourcesBuilder::default()
            .memory(LinuxMemoryBuilder::default().limit(-1).build().unwrap())
            .pids(LinuxPidsBuilder::default().limit(-1).build().unwrap())
            .cpu(LinuxCpuBuilder::default().quota(-1i64).build().unwrap())
            .build()
            .unwrap();
        let p = properties(&unlimited, false);
        for name in ["MemoryMax", "TasksMax", "CPUQuotaPerSecUSec"] {
            assert_eq!(prop(&p, name), Some(&Prop::U64(u64::MAX)), "{name}");
        }
    }

    #[test]
    fn device_rules_after_a_deny_all_become_a_strict_allow_list() {
        let rule =
            |allow: bool, typ: Option<LinuxDeviceType>, maj: Option<i64>, min: Option<i64>| {
                let mut b = LinuxDeviceCgroupBuilder::default()
                    .allow(allow)
                    .access("rwm");
                if let Some(t) = typ {
                    b = b.typ(t);
                }
                if let Some(m) = maj {
                    b = b.major(m);
                }
                if let Some(m) = min {
                    b = b.minor(m);
                }
                b.build().unwrap()
            };
        let res = LinuxResourcesBuilder::default()
            .devices(vec![
                rule(true, None, None, None),
                rule(false, None, None, None),
                rule(true, Some(LinuxDeviceType::C), Some(1), Some(3)),
                rule(true, Some(LinuxDeviceType::C), Some(136), None),
                rule(true, Some(LinuxDeviceType::B), None, None),
                rule(false, Some(LinuxDeviceType::C), Some(1), Some(5)),
            ])
            .build()
            .unwrap();
        let proc_devices = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  7 loop\n";
        let p = device_properties(res.devices().as_ref().unwrap(), proc_devices);
        assert_eq!(prop(&p, "DevicePolicy"), Some(&Prop::Str("strict".into())));
        assert_eq!(
            prop(&p, "DeviceAllow"),
            Some(&Prop::Devices(vec![
                ("/dev/char/1:3".into(), "rwm".into()),
                ("char-pts".into(), "rwm".into()),
                ("block-*".into(), "rwm".into()),
            ]))
        );
        let open = LinuxResourcesBuilder::default()
            .devices(vec![rule(true, None, None, None)])
            .build()
            .unwrap();
        assert_eq!(prop(&properties(&open, false), "DevicePolicy"), None);
        assert_eq!(
            major_name(proc_devices, "block", 7).as_deref(),
            Some("loop")
        );
        assert_eq!(major_name(proc_devices, "block", 136), None);
    }

    #[test]
    fn cpu_lists_become_bit_masks() {
        assert_eq!(range_bits("0"), Some(vec![1]));
        assert_eq!(range_bits("8-9"), Some(vec![0, 3]));
        assert_eq!(range_bits(""), None);
        assert_eq!(range_bits("3-1"), None);
        assert_eq!(range_bits("x"), None);
    }
}
