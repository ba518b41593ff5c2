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
    #[command(flatten)]
    global: Global,

    #[command(subcommand)]
    verb: Verb,
}

/// runc's own options, given before or after the verb.
#[derive(Debug, clap::Args)]
struct Global {
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
}

/// runc's options that take no value: the others are followed by theirs.
const FLAGS: [&str; 2] = ["--debug", "--systemd-cgroup"];

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
/// runc's top-level settings, as `Args`'s derive gives them (a test keeps the two the same).
fn top() -> clap::Command {
    clap::Command::new("minotaur-runc")
        .group(clap::ArgGroup::new("Args").multiple(true))
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
}

/// The parser of the verb `name` alone, as `Verb`'s derive builds it among the others; `None` for a word
/// that is no verb.
fn parser_of(name: &str) -> Option<clap::Command> {
    use clap::Args as _;
    Some(match name {
        "create" => create::Args::augment_args(clap::Command::new("create")),
        "start" => start::Args::augment_args(clap::Command::new("start")),
        "state" => state::Args::augment_args(clap::Command::new("state")),
        "kill" => kill::Args::augment_args(clap::Command::new("kill")),
        "delete" => delete::Args::augment_args(clap::Command::new("delete")),
        "run" => run::Args::augment_args(clap::Command::new("run")),
        "list" => list::Args::augment_args(clap::Command::new("list")),
        "ps" => ps::Args::augment_args(clap::Command::new("ps")),
        "exec" => exec::Args::augment_args(clap::Command::new("exec")),
        "features" => features::Args::augment_args(clap::Command::new("features")),
        "spec" => spec::Args::augment_args(clap::Command::new("spec")),
        "pause" => pause::Args::augment_args(clap::Command::new("pause")),
        "resume" => resume::Args::augment_args(clap::Command::new("resume")),
        "update" => update::Args::augment_args(clap::Command::new("update")),
        "events" => events::Args::augment_args(clap::Command::new("events")),
        _ => return None,
    })
}

/// Parses runc's command line as `minotaur`'s is parsed (`cli::parse`): first with only the parser of the
/// verb it names built, and by the full parser when that is not a clean parse, so that help, version and
/// errors are printed as before.
pub fn parse() -> Result<Args, clap::Error> {
    parse_from(std::env::args_os().collect())
}

fn parse_from(args: Vec<std::ffi::OsString>) -> Result<Args, clap::Error> {
    match parse_one(&args) {
        Some(parsed) => Ok(parsed),
        None => <Args as clap::Parser>::try_parse_from(args),
    }
}

fn parse_one(args: &[std::ffi::OsString]) -> Option<Args> {
    use clap::{Args as _, FromArgMatches as _};
    let verb = parser_of(crate::words::subcommand_name(args, &FLAGS)?)?;
    let parser = Global::augment_args(top()).subcommand(verb);
    Args::from_arg_matches(&parser.try_get_matches_from(args).ok()?).ok()
}

pub fn run(args: Args) -> CliResult {
    let root = Root::new(&args.global.root);
    let systemd = args.global.systemd_cgroup;
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
    if let (Err(err), Some(log)) = (&result, &args.global.log) {
        log_error(log, &args.global.log_format, &format!("{err:#}"));
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

#[cfg(test)]
mod parse_tests {
    use clap::{Args as _, CommandFactory as _};

    use super::*;
    use crate::cli::tests::{args, assert_same, help_of};

    #[test]
    fn every_verb_parser_alone_is_the_derives() {
        let full = Args::command();
        let mut rebuilt = Global::augment_args(top());
        for verb in full.get_subcommands() {
            let name = verb.get_name();
            let alone = parser_of(name).unwrap_or_else(|| panic!("no parser_of({name:?})"));
            rebuilt = rebuilt.subcommand(help_of(alone, verb).hide(verb.is_hide_set()));
        }
        assert_same(&help_of(rebuilt, &full), &full);
        assert!(parser_of("nosuch").is_none());
    }

    #[test]
    fn a_command_line_parsed_alone_is_what_the_full_parser_makes() {
        for line in [
            "minotaur-runc state c",
            "minotaur-runc --root /r --log /l --log-format json --systemd-cgroup create --bundle /b c",
            "minotaur-runc --debug --root=/r start c",
            "minotaur-runc create --root /r --bundle /b --pid-file /p --console-socket /s c",
            "minotaur-runc delete --force c",
            "minotaur-runc kill c KILL",
            "minotaur-runc exec --process /p.json --detach c",
            "minotaur-runc features",
            "minotaur-runc --debug list",
        ] {
            let alone = parse_one(&args(line)).expect(line);
            let full = <Args as clap::Parser>::try_parse_from(args(line)).expect(line);
            assert_eq!(format!("{alone:?}"), format!("{full:?}"), "{line}");
        }
    }

    #[test]
    fn anything_but_a_clean_parse_is_left_to_the_full_parser() {
        for line in [
            "minotaur-runc",
            "minotaur-runc --version",
            "minotaur-runc --help",
            "minotaur-runc help state",
            "minotaur-runc state --help",
            "minotaur-runc state",
            "minotaur-runc stat c",
            "minotaur-runc --root state c",
            "minotaur-runc -x state c",
        ] {
            assert!(parse_one(&args(line)).is_none(), "{line}");
            let from = parse_from(args(line)).map(|a| format!("{a:?}"));
            let full = <Args as clap::Parser>::try_parse_from(args(line)).map(|a| format!("{a:?}"));
            match (from, full) {
                (Err(a), Err(b)) => assert_eq!(a.render().to_string(), b.render().to_string()),
                (a, b) => assert_eq!(a.ok(), b.ok(), "{line}"),
            }
        }
    }
}
