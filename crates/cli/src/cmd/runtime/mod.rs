//! The OCI runtime command line (runc's): what `minotaur-runc ...` (this binary under that name) and
//! `minotaur runtime ...` answer, so that containerd, CRI-O and podman can use minotaur as their runtime. It
//! drives the runtime crate directly, with its container directories under `--root` (the runtime's `state`
//! module); the engine, its store and its networks are not involved.

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod resume;
mod run;
mod spec;
mod start;
mod state;
mod update;

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use minotaur_runtime::state::{Container, Root};
use oci_spec::runtime::Spec;

use crate::error::CliResult;

/// The OCI runtime command line (runc's)
#[derive(Debug, clap::Parser)]
#[command(name = "minotaur-runc", version)]
pub struct Args {
    /// Where container state is kept
    #[arg(long, global = true, default_value = "/run/minotaur-runc")]
    root: PathBuf,

    /// Write errors and debug messages to this file instead of stderr
    #[arg(long, global = true)]
    log: Option<PathBuf>,

    /// The log's format: text or json
    #[arg(long, global = true, default_value = "text")]
    log_format: String,

    /// Log debug messages
    #[arg(long, global = true)]
    debug: bool,

    /// Let systemd make the container's cgroup, a transient scope (cgroupsPath SLICE:PREFIX:NAME,
    /// system.slice:minotaur:ID by default), asked for over D-Bus
    #[arg(long, global = true)]
    systemd_cgroup: bool,

    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    Create(create::Args),
    Start(start::Args),
    State(state::Args),
    Kill(kill::Args),
    Delete(delete::Args),
    Run(run::Args),
    List(list::Args),
    Ps(ps::Args),
    Exec(exec::Args),
    Features(features::Args),
    Spec(spec::Args),
    Pause(pause::Args),
    Resume(resume::Args),
    Update(update::Args),
    Events(events::Args),
}

/// Runs one verb. Errors go to `--log` as well when it is set (containerd's shim reads them there).
pub fn run(args: Args) -> CliResult {
    let root = Root::new(&args.root);
    let systemd = args.systemd_cgroup;
    let result = match args.verb {
        Verb::Create(a) => create::run(&root, a, systemd),
        Verb::Start(a) => start::run(&root, a),
        Verb::State(a) => state::run(&root, a),
        Verb::Kill(a) => kill::run(&root, a),
        Verb::Delete(a) => delete::run(&root, a),
        Verb::Run(a) => run::run(&root, a, systemd),
        Verb::List(a) => list::run(&root, a),
        Verb::Ps(a) => ps::run(&root, a),
        Verb::Exec(a) => exec::run(&root, a),
        Verb::Features(a) => features::run(a),
        Verb::Spec(a) => spec::run(a),
        Verb::Pause(a) => pause::run(&root, a),
        Verb::Resume(a) => resume::run(&root, a),
        Verb::Update(a) => update::run(&root, a),
        Verb::Events(a) => events::run(&root, a),
    };
    if let (Err(err), Some(log)) = (&result, &args.log) {
        log_error(log, &args.log_format, &format!("{err:#}"));
    }
    Ok(result?)
}

/// Why `--systemd-cgroup` cannot be used on the host whose root is `root`, if it cannot: systemd's cgroup
/// driver asks systemd (over D-Bus) to make a transient scope for the container, and where systemd does
/// not run (as sd_booted(3) tells it: `/run/systemd/system` is a directory) there is nothing to ask. The
/// message names PID 1.
fn systemd_refusal(root: &Path) -> Option<String> {
    if root.join("run/systemd/system").is_dir() {
        return None;
    }
    let pid1 = std::fs::read_to_string(root.join("proc/1/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    Some(format!(
        "--systemd-cgroup: systemd is not running here (PID 1 is {pid1:?} and {} is not a directory), \
         so there is no systemd to manage cgroups; leave the flag out",
        root.join("run/systemd/system").display()
    ))
}

/// Appends one error line to the log file, as text or as runc's JSON (`{"level","msg","time"}`).
fn log_error(path: &Path, format: &str, msg: &str) {
    use std::io::Write;
    let time = jiff::Timestamp::now().to_string();
    let line = if format == "json" {
        serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
    } else {
        format!("time=\"{time}\" level=error msg={msg:?}")
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The bundle's config.json.
fn load_spec(bundle: &Path) -> anyhow::Result<Spec> {
    let path = bundle.join("config.json");
    let file = File::open(&path).with_context(|| format!("open {}", path.display()))?;
    serde_json::from_reader(std::io::BufReader::new(file))
        .with_context(|| format!("parse {}", path.display()))
}

/// A container's spec, from the bundle it was created from.
fn container_spec(c: &Container) -> anyhow::Result<Spec> {
    load_spec(&c.record.bundle)
}

/// Holds an exclusive flock(2) on the container's lock file while alive.
struct Lock(#[allow(dead_code)] nix::fcntl::Flock<File>);

fn lock(c: &Container) -> anyhow::Result<Lock> {
    let path = c.lock_path();
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("open {}", path.display()))?;
    let f = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("lock {}", path.display()))?;
    Ok(Lock(f))
}

/// Writes `pid` to a pid file, atomically (containerd reads it as soon as the command returns).
fn write_pid_file(path: &Path, pid: i32) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp-pid");
    std::fs::write(&tmp, pid.to_string()).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::systemd_refusal;

    #[test]
    fn systemd_cgroup_without_systemd_is_refused_naming_why() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("proc/1")).unwrap();
        std::fs::write(root.path().join("proc/1/comm"), "init\n").unwrap();
        let e = systemd_refusal(root.path()).unwrap();
        assert!(
            e.starts_with("--systemd-cgroup: systemd is not running here (PID 1 is \"init\" and "),
            "{e}"
        );
        std::fs::create_dir_all(root.path().join("run/systemd/system")).unwrap();
        assert_eq!(systemd_refusal(root.path()), None);
    }
}
