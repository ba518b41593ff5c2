//! `debug`: a command with one set of namespaces' tools and another's view, written into nothing. By default
//! the host's tools (or a toolbox image's, `--image`) run in the target container's network, PID, UTS, IPC
//! and cgroup namespaces, with the target's root filesystem at `/target`; `--ns TYPE=SOURCE` chooses any
//! other mix.
//!
//! How a session is made, and why:
//! - A small *anchor* process holds the session's namespaces. It is forked into the chosen PID namespace,
//!   joins the chosen network, UTS, IPC and cgroup namespaces, and builds a mount namespace of its own (see
//!   [`root`]); then it waits. The command is started by the engine's `exec` path against the anchor, as
//!   `exec` starts one against a container's PID 1: the same join of every namespace that differs in one
//!   `setns`, the target's cgroup, seccomp profile and capabilities, the same terminal and signal relay. When
//!   the command ends the anchor is told to exit, and its mount namespace, with every mount of the session,
//!   goes with it: nothing is left to clean up, also after a `kill -9` of the CLI (the anchor reads
//!   end-of-file and exits).
//! - The target's root is a clone of its mount tree (`open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)` in its
//!   mount namespace, then `move_mount` to `/target`), never a path into the target: nothing is created in
//!   the target's root or its mount namespace. A stopped container's root is its layers (its upper layer
//!   first) mounted as a read-only overlay without an upper layer, which writes nothing either.
//! - The tools' root is a fresh tmpfs: binds of the host's top-level directories (read-only, as the `host`
//!   image), or an overlay of the toolbox image's layers with its upper layer on that tmpfs, so `/target`,
//!   `/proc`, `/dev` and the rest can be made in it without writing to the host or the image.

mod filecaps;
mod root;

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use minotaur_ns::target::{NameResolver, NsSource, Target};
use minotaur_ns::NsKind;
use nix::fcntl::OFlag;
use nix::sched::{setns, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::{pipe2, Pid};

use crate::container::Container;
use crate::context::Context;
use crate::error::debug::DebugError;
use crate::error::{io_err, sys_err, EngineError};
use crate::exec::{run_attached, ExecRequest};
use crate::names::ContainerNames;
use crate::process::{alive, read_report};
use crate::spec::{self, Joins, Root};
use crate::stop;
use crate::user;

/// What `debug` is asked for.
#[derive(Clone, Debug, Default)]
pub struct DebugRequest {
    /// The container to debug.
    pub target: String,
    /// `--image`: the toolbox image whose tools run (the host's by default).
    pub image: Option<String>,
    /// `--ns TYPE=SOURCE`, as written.
    pub namespaces: Vec<String>,
    /// The command; empty starts an interactive shell.
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    /// `-u`: root unless given (resolved in the tools' `/etc/passwd`).
    pub user: Option<String>,
    pub cap_add: Vec<String>,
    pub privileged: bool,
    pub tty: bool,
    pub stdin: bool,
}

/// Where one namespace of the session comes from.
#[derive(Debug)]
pub(crate) enum NsChoice {
    /// The caller's own.
    Host,
    /// A new, empty one (a stopped target's PID, UTS and IPC namespaces).
    New,
    /// This namespace file, already opened and checked to be of the right kind.
    Join(File),
}

/// The filesystem whose tools run.
#[derive(Debug)]
pub(crate) enum Tools {
    /// The host's, read-only.
    Host,
    /// A toolbox image: its layers, top first.
    Image(Vec<PathBuf>),
    /// The root of another mount namespace (a container's, a process's, a file's).
    Namespace(File),
}

/// What appears at `/target`.
#[derive(Debug)]
pub(crate) enum TargetFs {
    /// The root of a running target's mount namespace.
    Namespace(File),
    /// A stopped target's layers, top (its upper layer) first.
    Layers(Vec<PathBuf>),
    /// A stopped container of the `host` image: the host's root.
    HostRoot,
}

/// Everything the anchor needs, looked up before it is forked.
#[derive(Debug)]
pub(crate) struct Session {
    pub tools: Tools,
    pub target_fs: TargetFs,
    pub net: NsChoice,
    pub pid: NsChoice,
    pub uts: NsChoice,
    pub ipc: NsChoice,
    pub cgroup: NsChoice,
    /// The hostname of a new UTS namespace.
    pub hostname: String,
    /// The target's generated `resolv.conf` and `hosts`, bound over the tools' when its network is used.
    pub etc_dir: Option<PathBuf>,
    /// An empty directory in the run root, where the anchor mounts the tmpfs the session's root is made in
    /// (in its own mount namespace only).
    pub base: PathBuf,
}

/// Runs a debug session and returns the command's exit status.
pub fn debug(ctx: &Context, req: &DebugRequest) -> Result<i32, EngineError> {
    let c = ctx.find(&req.target)?;
    let init = stop::pidfd(&c)?;
    let mut session = defaults(ctx, &c, init.is_some())?;
    let mut env = vec![format!("PATH={}", minotaur_runtime::defaults::DEFAULT_PATH)];
    let mut tools_chosen = false;
    if let Some(image) = &req.image {
        (session.tools, env) = toolbox(ctx, image)?;
        tools_chosen = true;
    }
    let names = ContainerNames::load(ctx);
    for spec in &req.namespaces {
        let (kind, source) = parse_ns(spec)?;
        if kind == NsKind::Mnt {
            if tools_chosen {
                return Err(DebugError::ToolsTwice.into());
            }
            tools_chosen = true;
            match source.strip_prefix("image:") {
                Some(image) => (session.tools, env) = toolbox(ctx, image)?,
                None if source == "host" => session.tools = Tools::Host,
                None => session.tools = Tools::Namespace(open_source(kind, source, &names)?),
            }
            continue;
        }
        if source.starts_with("image:") {
            return Err(DebugError::ImageForKind {
                kind,
                from: source.to_owned(),
            }
            .into());
        }
        let choice = if source == "host" {
            NsChoice::Host
        } else {
            NsChoice::Join(open_source(kind, source, &names)?)
        };
        match kind {
            NsKind::Net => session.net = choice,
            NsKind::Pid => session.pid = choice,
            NsKind::Uts => session.uts = choice,
            NsKind::Ipc => session.ipc = choice,
            NsKind::Cgroup => session.cgroup = choice,
            kind => return Err(DebugError::UnsupportedKind { kind }.into()),
        }
    }
    // The target's namespaces were opened by PID: they are its own only if it still runs.
    if init.is_some() && !alive(c.state.pid, c.state.pid_start_time) {
        return Err(DebugError::TargetGone(c.name.to_string()).into());
    }
    std::fs::create_dir_all(&session.base)
        .map_err(io_err(format!("create {}", session.base.display())))?;

    let mut config = c.config.clone();
    let (cmd, stdin, tty) = if req.cmd.is_empty() {
        // No command: an interactive shell, with a terminal when this one has one.
        let tty = req.tty || nix::unistd::isatty(std::io::stdin()).unwrap_or(false);
        (vec!["sh".to_owned()], true, tty)
    } else {
        (req.cmd.clone(), req.stdin, req.tty)
    };
    config.cmd = cmd;
    config.entrypoint = Vec::new();
    config.tty = tty;
    config.host.init = false;
    config.host.cap_add.extend(req.cap_add.iter().cloned());
    config.host.privileged |= req.privileged;
    for e in &req.env {
        let key = e.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    config.env = env;
    config.working_dir = req.working_dir.clone().unwrap_or_else(|| "/".into());

    let anchor = Anchor::start(ctx, &session)?;
    let root_dir = PathBuf::from(format!("/proc/{}/root", anchor.pid));
    let identity = user::resolve(req.user.as_deref().unwrap_or("0"), &root_dir)?;
    let etc = spec::EtcFiles::in_dir(&crate::etc::dir(&ctx.paths, &c.id));
    let mut spec = spec::build(
        &config,
        &identity,
        &Root::Dir(root_dir.clone()),
        &Joins::default(),
        &etc,
        &ctx.paths.cgroup(&c.id),
    )?;
    if init.is_none() {
        // A stopped container has no cgroup to join.
        if let Some(linux) = spec.linux_mut() {
            linux.set_cgroups_path(None);
        }
    }
    let process = spec.process().clone().expect("a built spec has a process");
    filecaps::check(&root_dir, &process)?;
    let exec = ExecRequest {
        tty,
        stdin,
        ..Default::default()
    };
    let code = run_attached(ctx, &spec, &anchor.pidfd, &process, &exec);
    drop(anchor);
    code
}

/// The session `debug TARGET` makes without `--ns`: the host's tools; a running target's network, PID, UTS,
/// IPC and cgroup namespaces and its mount tree; for a stopped one, its network namespace file (it lives
/// from `create` to `rm`, with the container's endpoints), new PID, UTS and IPC namespaces, and its layers.
fn defaults(ctx: &Context, c: &Container, running: bool) -> Result<Session, EngineError> {
    let proc_ns = |kind: NsKind| -> Result<NsChoice, EngineError> {
        let path = PathBuf::from(kind.proc_path(c.state.pid));
        open_kind(kind, &path).map(NsChoice::Join)
    };
    let sandbox = c
        .state
        .sandbox_key
        .as_deref()
        .filter(|k| Path::new(k).exists());
    let net = match sandbox {
        Some(key) => NsChoice::Join(open_kind(NsKind::Net, key)?),
        None if running => proc_ns(NsKind::Net)?,
        None if c.config.host.network_mode == "host" => NsChoice::Host,
        None => NsChoice::New,
    };
    let etc_dir = (!matches!(net, NsChoice::Host)).then(|| crate::etc::dir(&ctx.paths, &c.id));
    let base = ctx.paths.runroot.join("debug");
    if running {
        return Ok(Session {
            tools: Tools::Host,
            target_fs: TargetFs::Namespace(open_kind(
                NsKind::Mnt,
                Path::new(&NsKind::Mnt.proc_path(c.state.pid)),
            )?),
            net,
            pid: proc_ns(NsKind::Pid)?,
            uts: proc_ns(NsKind::Uts)?,
            ipc: proc_ns(NsKind::Ipc)?,
            cgroup: proc_ns(NsKind::Cgroup)?,
            hostname: c.config.hostname.clone(),
            etc_dir,
            base,
        });
    }
    let target_fs = if c.config.image_id == "host" {
        TargetFs::HostRoot
    } else {
        let images = minotaur_image::Store::open(&ctx.paths.root)?;
        let id = images.resolve(&c.config.image_id)?;
        let mut layers = vec![ctx.paths.container_dir(&c.id).join("upper")];
        layers.retain(|p| p.is_dir());
        layers.extend(images.lower_dirs(&id)?);
        TargetFs::Layers(layers)
    };
    Ok(Session {
        tools: Tools::Host,
        target_fs,
        net,
        pid: NsChoice::New,
        uts: NsChoice::New,
        ipc: NsChoice::New,
        cgroup: NsChoice::Host,
        hostname: c.config.hostname.clone(),
        etc_dir,
        base,
    })
}

/// A toolbox image's layers and environment. An image not in the store is "no such image" (pulls are
/// another verb's).
fn toolbox(ctx: &Context, image: &str) -> Result<(Tools, Vec<String>), EngineError> {
    let images = minotaur_image::Store::open(&ctx.paths.root)?;
    let id = images.resolve(image)?;
    let lowers = images.lower_dirs(&id)?;
    let env = images
        .config(&id)?
        .config()
        .as_ref()
        .and_then(|c| c.env().clone())
        .unwrap_or_default();
    Ok((Tools::Image(lowers), env))
}

/// Splits `TYPE=SOURCE`.
fn parse_ns(spec: &str) -> Result<(NsKind, &str), DebugError> {
    let (kind, source) = spec
        .split_once('=')
        .filter(|(_, s)| !s.is_empty())
        .ok_or_else(|| DebugError::BadNs(spec.to_owned()))?;
    let kind: NsKind = kind
        .parse()
        .map_err(|_| DebugError::BadNs(spec.to_owned()))?;
    match kind {
        NsKind::User | NsKind::Time => Err(DebugError::UnsupportedKind { kind }),
        _ => Ok((kind, source)),
    }
}

/// Opens the namespace of `kind` a source names: a container, a PID, an `ip netns` name or an nsfs path.
fn open_source(kind: NsKind, source: &str, names: &ContainerNames) -> Result<File, EngineError> {
    let why = |e: &dyn std::fmt::Display| DebugError::Source {
        kind,
        from: source.to_owned(),
        why: e.to_string(),
    };
    let target = Target::parse(source).map_err(|e| why(&e))?;
    let path = match target.resolve(kind, names as &dyn NameResolver) {
        Ok(NsSource::Pid(pid)) => PathBuf::from(kind.proc_path(pid.as_raw())),
        Ok(NsSource::File(path)) => path,
        Err(e) => return Err(why(&e).into()),
    };
    minotaur_ns::enter::open_ns_file(&path, kind)
        .map_err(|e| why(&minotaur_ns::error_chain(&e)).into())
}

/// Opens a namespace file the engine itself names (a container's), checking its kind.
fn open_kind(kind: NsKind, path: &Path) -> Result<File, EngineError> {
    minotaur_ns::enter::open_ns_file(path, kind).map_err(|e| {
        DebugError::Open {
            kind,
            path: path.to_owned(),
            source: std::io::Error::other(minotaur_ns::error_chain(&e)),
        }
        .into()
    })
}

/// The process that holds a session's namespaces until it is dropped: then it is told to exit (its end of
/// a pipe closes) and is reaped.
struct Anchor {
    pid: Pid,
    pidfd: OwnedFd,
    hold: Option<OwnedFd>,
}

impl Anchor {
    /// Forks the anchor into the session's PID namespace and waits until it has set the session up.
    fn start(ctx: &Context, session: &Session) -> Result<Anchor, EngineError> {
        ctx.release_store();
        let own_mnt = File::open("/proc/self/ns/mnt").map_err(io_err("open /proc/self/ns/mnt"))?;
        let own_pid = File::open("/proc/self/ns/pid_for_children")
            .map_err(io_err("open /proc/self/ns/pid_for_children"))?;
        let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
        let (hold_r, hold_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
        // A PID namespace applies to children only: the anchor is born in the chosen one, this process
        // goes back to its own right after (as the runtime's exec does for its child).
        let mut flags = 0;
        let joined = match &session.pid {
            NsChoice::Join(ns) => {
                setns(ns, CloneFlags::CLONE_NEWPID)
                    .map_err(sys_err("join the PID namespace for the debug session"))?;
                true
            }
            NsChoice::New => {
                flags = CloneFlags::CLONE_NEWPID.bits() as u64;
                false
            }
            NsChoice::Host => false,
        };
        let forked = minotaur_sys::clone3(flags);
        if let Ok(minotaur_sys::Clone3Result::Child) = forked {
            drop(report_r);
            drop(hold_w);
            let mut report = File::from(report_w);
            let code = match root::anchor(session, &own_mnt) {
                Ok(()) => {
                    use std::io::{Read, Write};
                    let _ = report.write_all(b"ok");
                    drop(report);
                    let mut hold = File::from(hold_r);
                    let _ = hold.read(&mut [0u8; 1]);
                    0
                }
                Err(e) => {
                    use std::io::Write;
                    let _ = write!(report, "125 {e}");
                    1
                }
            };
            minotaur_sys::exit_now(code);
        }
        let restored = if joined {
            setns(&own_pid, CloneFlags::CLONE_NEWPID)
                .map_err(sys_err("go back to this process's PID namespace"))
        } else {
            Ok(())
        };
        let (pid, pidfd) = match forked.map_err(sys_err("fork the debug session's anchor"))? {
            minotaur_sys::Clone3Result::Parent { child, pidfd } => (child, pidfd),
            minotaur_sys::Clone3Result::Child => unreachable!("the child never returns"),
        };
        drop(report_w);
        drop(hold_r);
        let anchor = Anchor {
            pid,
            pidfd,
            hold: Some(hold_w),
        };
        restored?;
        match read_report(report_r, "the debug session's anchor died while setting up") {
            Ok(_) => Ok(anchor),
            Err(EngineError::Supervisor { message, .. }) => Err(DebugError::Setup(message).into()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Anchor {
    fn drop(&mut self) {
        drop(self.hold.take());
        let _ = waitpid(self.pid, None);
    }
}
