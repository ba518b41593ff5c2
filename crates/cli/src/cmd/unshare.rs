use std::ffi::OsString;
use std::path::PathBuf;

use minotaur_ns::run;
use minotaur_ns::unshare::{self, Propagation, UnshareSpec, Unshared};
use minotaur_ns::NsKind;

use crate::error::{CliError, CliResult};

/// Run a program in new namespaces
///
/// Like unshare(1). A namespace flag with `=FILE` keeps that namespace alive on FILE (a bind mount, created
/// if missing) after the program ends; enter it later with `minotaur nsenter --net=FILE`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// New mount namespace
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    mnt: Option<OsString>,

    /// New UTS namespace (hostname and domain name)
    #[arg(short = 'u', long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    uts: Option<OsString>,

    /// New IPC namespace
    #[arg(short = 'i', long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    ipc: Option<OsString>,

    /// New network namespace
    #[arg(short = 'n', long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    net: Option<OsString>,

    /// New PID namespace (its first process is the one --fork starts)
    #[arg(short = 'p', long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pid: Option<OsString>,

    /// New user namespace
    #[arg(short = 'U', long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    user: Option<OsString>,

    /// New cgroup namespace
    #[arg(short = 'C', long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    cgroup: Option<OsString>,

    /// New time namespace
    #[arg(short = 'T', long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    time: Option<OsString>,

    /// Run the program as a child, and wait for it (needed for it to be PID 1 of a new PID namespace)
    #[arg(short = 'f', long)]
    fork: bool,

    /// Mount a new proc filesystem on DIR (default /proc) before running the program; implies --mount
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "/proc")]
    mount_proc: Option<PathBuf>,

    /// Map our user and group to root in a new user namespace; implies --user
    #[arg(short = 'r', long)]
    map_root_user: bool,

    /// Mount propagation in the new mount namespace: private, slave, shared or unchanged
    #[arg(long, value_name = "MODE", default_value = "private")]
    propagation: Propagation,

    /// The program and its arguments (default: $SHELL, or /bin/sh)
    #[arg(trailing_var_arg = true, value_name = "PROGRAM")]
    command: Vec<OsString>,
}

pub fn run(args: Args) -> CliResult {
    let mut spec = UnshareSpec {
        fork: args.fork,
        map_root: args.map_root_user,
        propagation: args.propagation,
        mount_proc: args.mount_proc,
        ..Default::default()
    };
    for (kind, flag) in [
        (NsKind::User, args.user),
        (NsKind::Cgroup, args.cgroup),
        (NsKind::Ipc, args.ipc),
        (NsKind::Uts, args.uts),
        (NsKind::Net, args.net),
        (NsKind::Pid, args.pid),
        (NsKind::Time, args.time),
        (NsKind::Mnt, args.mnt),
    ] {
        if let Some(file) = flag {
            spec.kinds.insert(kind);
            if !file.is_empty() {
                spec.persist.insert(kind, PathBuf::from(file));
            }
        }
    }
    if spec.mount_proc.is_some() {
        spec.kinds.insert(NsKind::Mnt);
    }
    if spec.map_root {
        spec.kinds.insert(NsKind::User);
    }
    if let Unshared::Parent(child) = unshare::unshare(&spec)? {
        return Ok(run::wait_exit(child)?);
    }
    let argv = if args.command.is_empty() {
        run::default_command()
    } else {
        args.command
    };
    let err = run::exec(&argv);
    Err(CliError::with_code(err.exit_code(), err))
}
