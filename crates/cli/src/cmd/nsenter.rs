use std::ffi::OsString;

use anyhow::anyhow;
use minotaur_engine::names::ContainerNames;
use minotaur_ns::enter::{self, DirSource, JoinPlan, JoinSpec};
use minotaur_ns::run::{self, Forked};
use minotaur_ns::target::{NsSource, Target};
use nix::unistd::Pid;

use crate::global::context;
use crate::global::Global;
use minotaur_ns::NsKind;
use nix::unistd::{Gid, Uid};

use crate::error::{CliError, CliResult};

/// Run a program inside the namespaces of other processes, named network namespaces or namespace files
///
/// Like nsenter(1), with one addition: each namespace may come from a different target. A TARGET is a PID,
/// a path to a namespace file (`/proc/PID/ns/net`, a bind mount such as `/run/netns/NAME`), or the name of
/// a network namespace in /run/netns. A namespace flag without `=TARGET` takes that namespace from
/// `--target`. For example, to run the tools of one process's filesystem inside another's network:
///
/// `minotaur nsenter --mount=$TOOLBOX_PID --net=web -- tcpdump -i eth0`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The default target for namespace flags given without `=TARGET`, and for --root/--wd
    #[arg(short = 't', long, value_name = "TARGET")]
    target: Option<String>,

    /// Enter every namespace of the target (except a user namespace we are already in)
    #[arg(short = 'a', long)]
    all: bool,

    /// Enter a mount namespace
    #[arg(short = 'm', long = "mount", value_name = "TARGET", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    mnt: Option<String>,

    /// Enter a UTS namespace (hostname and domain name)
    #[arg(short = 'u', long, value_name = "TARGET", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    uts: Option<String>,

    /// Enter an IPC namespace
    #[arg(short = 'i', long, value_name = "TARGET", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    ipc: Option<String>,

    /// Enter a network namespace
    #[arg(short = 'n', long, value_name = "TARGET", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    net: Option<String>,

    /// Enter a PID namespace (the program runs in a child, unless --no-fork)
    #[arg(short = 'p', long, value_name = "TARGET", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pid: Option<String>,

    /// Enter a user namespace (and become root in it, unless --preserve-credentials)
    #[arg(short = 'U', long, value_name = "TARGET", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    user: Option<String>,

    /// Enter a cgroup namespace
    #[arg(short = 'C', long, value_name = "TARGET", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    cgroup: Option<String>,

    /// Enter a time namespace
    #[arg(short = 'T', long, value_name = "TARGET", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    time: Option<String>,

    /// Set the root directory: the target process's, or DIR (resolved before entering)
    #[arg(short = 'r', long = "root", value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    root_dir: Option<String>,

    /// Set the working directory: the target process's, or DIR (resolved before entering)
    #[arg(short = 'w', long, value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    wd: Option<String>,

    /// Run as this user ID ("follow": the owner of the target process)
    #[arg(short = 'S', long, value_name = "UID")]
    setuid: Option<String>,

    /// Run as this group ID ("follow": the group of the target process)
    #[arg(short = 'G', long, value_name = "GID")]
    setgid: Option<String>,

    /// Keep our user and groups when entering a user namespace
    #[arg(long)]
    preserve_credentials: bool,

    /// Do not fork before running the program, even when entering a PID namespace
    #[arg(short = 'F', long)]
    no_fork: bool,

    /// The program and its arguments (default: $SHELL, or /bin/sh)
    #[arg(trailing_var_arg = true, value_name = "PROGRAM")]
    command: Vec<OsString>,
}

impl Args {
    fn flag(&self, kind: NsKind) -> &Option<String> {
        match kind {
            NsKind::User => &self.user,
            NsKind::Cgroup => &self.cgroup,
            NsKind::Ipc => &self.ipc,
            NsKind::Uts => &self.uts,
            NsKind::Net => &self.net,
            NsKind::Pid => &self.pid,
            NsKind::Time => &self.time,
            NsKind::Mnt => &self.mnt,
        }
    }
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let target = args.target.as_deref().map(Target::parse).transpose()?;
    // Names are containers (by name or ID) first, then /run/netns names.
    let names = ContainerNames::load(&context(global));
    let target_pid = || -> anyhow::Result<Pid> {
        match &target {
            Some(Target::Pid(pid)) => Ok(*pid),
            // A running container's PID 1 stands for it.
            Some(t @ Target::Name(_)) => match t.resolve(NsKind::Pid, &names)? {
                NsSource::Pid(pid) => Ok(pid),
                NsSource::File(_) => Err(anyhow!("the target names no process (use --target PID)")),
            },
            _ => Err(anyhow!("no target PID specified (use --target PID)")),
        }
    };

    let mut spec = JoinSpec::default();
    let all = if args.all {
        enter::available_kinds()
    } else {
        Vec::new()
    };
    for kind in NsKind::ALL {
        let from = match args.flag(kind).as_deref() {
            Some("") => target.clone(),
            Some(t) => Some(Target::parse(t)?),
            None if all.contains(&kind) => target.clone(),
            None => continue,
        };
        let from = from.ok_or_else(|| {
            anyhow!(
                "no target specified for the {kind} namespace (use --target or --{}=TARGET)",
                long_name(kind)
            )
        })?;
        spec.namespaces.insert(kind, from.resolve(kind, &names)?);
    }
    if spec.namespaces.is_empty() {
        return Err(anyhow!(
            "no namespace specified (use --all or a namespace flag such as --net)"
        )
        .into());
    }
    spec.root = match args.root_dir.as_deref() {
        None => None,
        Some("") => Some(DirSource::RootOf(target_pid()?)),
        Some(dir) => Some(DirSource::Path(dir.into())),
    };
    spec.wd = match args.wd.as_deref() {
        None => None,
        Some("") => Some(DirSource::CwdOf(target_pid()?)),
        Some(dir) => Some(DirSource::Path(dir.into())),
    };
    let mut uid = match args.setuid.as_deref() {
        None => None,
        Some("follow") => Some(enter::process_owner(target_pid()?)?.0),
        Some(n) => Some(Uid::from_raw(
            n.parse().map_err(|_| anyhow!("invalid user ID {n:?}"))?,
        )),
    };
    let mut gid = match args.setgid.as_deref() {
        None => None,
        Some("follow") => Some(enter::process_owner(target_pid()?)?.1),
        Some(n) => Some(Gid::from_raw(
            n.parse().map_err(|_| anyhow!("invalid group ID {n:?}"))?,
        )),
    };

    let plan = JoinPlan::open(&spec)?;
    let kinds = plan.kinds();
    // Entering a user namespace makes us root there unless told otherwise, as util-linux does. Groups are
    // dropped before entering too: the user namespace may deny setgroups(2), and then the early drop is
    // the one that counts.
    let mut groups_dropped = false;
    if kinds.contains(&NsKind::User) && !args.preserve_credentials {
        uid.get_or_insert(Uid::from_raw(0));
        gid.get_or_insert(Gid::from_raw(0));
        groups_dropped = enter::drop_groups_early();
    }
    plan.join()?;
    if kinds.contains(&NsKind::Pid) && !args.no_fork {
        if let Forked::Parent(child) = run::fork()? {
            return Ok(run::wait_exit(child)?);
        }
    }
    enter::switch_credentials(uid, gid, groups_dropped)?;
    let argv = if args.command.is_empty() {
        run::default_command()
    } else {
        args.command
    };
    let err = run::exec(&argv);
    Err(CliError::with_code(err.exit_code(), err))
}

/// The long flag that selects `kind`.
fn long_name(kind: NsKind) -> &'static str {
    match kind {
        NsKind::Mnt => "mount",
        k => k.name(),
    }
}
