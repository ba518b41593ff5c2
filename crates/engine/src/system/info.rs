//! `system info`: what this host offers the engine, and where the engine keeps its things.

use std::fs;
use std::path::Path;

use serde::Serialize;

use crate::context::Context;
use crate::error::EngineError;
use crate::network::networks;
use crate::system::du;

/// What `system info` shows.
#[derive(Debug, Serialize)]
pub struct Info {
    pub kernel: String,
    pub architecture: String,
    /// 1 or 2.
    pub cgroup_version: u8,
    /// The controllers of the cgroup v2 root (on v1: the mounted hierarchies).
    pub cgroup_controllers: Vec<String>,
    pub root: String,
    pub runroot: String,
    pub storage_driver: &'static str,
    pub images_size: u64,
    pub containers_size: u64,
    pub volumes_size: u64,
    pub containers: usize,
    pub containers_running: usize,
    pub networks: Vec<String>,
    /// The resolver's PID, when one runs.
    pub resolver_pid: Option<i32>,
    /// Whether the kernel filters system calls with seccomp (`Seccomp` in /proc/self/status).
    pub seccomp: bool,
    pub apparmor: bool,
    pub selinux: bool,
    /// Whether containers' mount namespaces are copied from the mount template.
    pub mount_template: bool,
    /// Features this host lacks, each with why it matters.
    pub missing: Vec<String>,
}

/// Gathers [`Info`].
pub fn info(ctx: &Context) -> Result<Info, EngineError> {
    let uts = nix::sys::utsname::uname().map_err(|source| EngineError::Sys {
        what: "read the kernel's name (uname)".into(),
        source,
    })?;
    let cgroup2 = minotaur_runtime::cgroup::is_cgroup2(&ctx.cgroup_root);
    let cgroup_controllers = if cgroup2 {
        read(&ctx.cgroup_root.join("cgroup.controllers"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    } else {
        minotaur_runtime::cgroup::v1_hierarchies(Path::new("/proc/self"))
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    };
    let have_db = ctx.paths.root.join(minotaur_state::DB_FILE).exists();
    let (containers, nets) = if have_db {
        (ctx.list()?, networks::list(ctx)?)
    } else {
        (Vec::new(), Vec::new())
    };
    let running = containers
        .iter()
        .filter(|c| c.state.status == crate::container::Status::Running)
        .count();
    let dns = ctx.paths.runroot.join("dns").join(minotaur_dns::LOCK_FILE);
    let resolver_pid = read(&dns)
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|pid| Path::new(&format!("/proc/{pid}")).exists());
    let seccomp = read(Path::new("/proc/self/status"))
        .lines()
        .any(|l| l.starts_with("Seccomp:"));
    let apparmor = read(Path::new("/sys/module/apparmor/parameters/enabled")).trim() == "Y";
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    let overlay = read(Path::new("/proc/filesystems"))
        .lines()
        .any(|l| l.split_whitespace().last() == Some("overlay"));
    let template = ctx.paths.runroot.join("mnt").join("template");
    let mount_template = read(Path::new("/proc/self/mountinfo"))
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some(&*template.to_string_lossy()));
    let mut missing = Vec::new();
    if !cgroup2 {
        missing.push(
            "cgroup v2: the host's connections to published loopback ports go through the NAT"
                .into(),
        );
    }
    if !overlay {
        missing.push("overlayfs: only the host image can run".into());
    }
    if !seccomp {
        missing.push("seccomp: containers run without a system call filter".into());
    }
    if !minotaur_runtime::mount_template::root_is_shared().unwrap_or(false) {
        missing.push(
            "a shared root mount: no mount template, each start copies the engine's mount namespace"
                .into(),
        );
    }
    if !Path::new("/proc/sys/net/bridge").exists() {
        missing.push(
            "br_netfilter: bridged traffic skips the inet hooks (isolation within a bridge is not filtered)"
                .into(),
        );
    }
    Ok(Info {
        kernel: uts.release().to_string_lossy().into_owned(),
        architecture: uts.machine().to_string_lossy().into_owned(),
        cgroup_version: if cgroup2 { 2 } else { 1 },
        cgroup_controllers,
        root: ctx.paths.root.display().to_string(),
        runroot: ctx.paths.runroot.display().to_string(),
        storage_driver: "overlay",
        images_size: du(&ctx.paths.root.join("image")),
        containers_size: du(&ctx.paths.root.join("containers")),
        volumes_size: du(&ctx.paths.root.join("volumes")),
        containers: containers.len(),
        containers_running: running,
        networks: nets.into_iter().map(|n| n.name).collect(),
        resolver_pid,
        seccomp,
        apparmor,
        selinux,
        mount_template,
        missing,
    })
}

/// A small file's text; empty when it cannot be read.
fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}
