use std::io::Write;

use minotaur_engine::system::info;
use minotaur_image::human_size;

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Show what this host offers minotaur: kernel, cgroups, storage and its sizes, networks, the resolver,
/// seccomp, AppArmor and SELinux, whether the mount template is in use, and what is missing and why
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: `json`
    #[arg(short, long, value_name = "FORMAT")]
    format: Option<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let ctx = context(global);
    let i = info::info(&ctx)?;
    let mut out = std::io::stdout().lock();
    match args.format.as_deref() {
        Some("json") => {
            serde_json::to_writer_pretty(&mut out, &i)?;
            writeln!(out)?;
            return Ok(0);
        }
        None => {}
        Some(other) => {
            return Err(CliError::with_code(
                2,
                anyhow::anyhow!("unknown format {other:?}: json"),
            ))
        }
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    writeln!(out, "Kernel: {} ({})", i.kernel, i.architecture)?;
    writeln!(out, "Cgroup version: {}", i.cgroup_version)?;
    writeln!(
        out,
        "Cgroup controllers: {}",
        i.cgroup_controllers.join(" ")
    )?;
    writeln!(out, "Storage:")?;
    writeln!(out, " Driver: {}", i.storage_driver)?;
    writeln!(out, " Root: {}", i.root)?;
    writeln!(out, " Run root: {}", i.runroot)?;
    writeln!(out, " Images: {}", human_size(i.images_size))?;
    writeln!(out, " Containers: {}", human_size(i.containers_size))?;
    writeln!(out, " Volumes: {}", human_size(i.volumes_size))?;
    writeln!(
        out,
        "Containers: {} ({} running)",
        i.containers, i.containers_running
    )?;
    writeln!(out, "Networks: {}", i.networks.join(" "))?;
    match i.resolver_pid {
        Some(pid) => writeln!(out, "Resolver: running (pid {pid})")?,
        None => writeln!(out, "Resolver: not running")?,
    }
    writeln!(out, "Seccomp: {}", yes(i.seccomp))?;
    writeln!(out, "AppArmor: {}", yes(i.apparmor))?;
    writeln!(out, "SELinux: {}", yes(i.selinux))?;
    writeln!(out, "Mount template: {}", yes(i.mount_template))?;
    if !i.missing.is_empty() {
        writeln!(out, "Missing on this host:")?;
        for m in &i.missing {
            writeln!(out, " {m}")?;
        }
    }
    Ok(0)
}
