//! How a supervisor comes to be: the CLI forks it (out of the caller's systemd unit where there is one)
//! and waits for its report, then exits (detached) or attaches to it (foreground). What the supervisor
//! starts is either a container the CLI prepared (`start`), or one the supervisor creates itself (`run`):
//! see [`Source`]. For a `run`, the CLI makes the container's cgroup while it waits: see [`CgroupAhead`].

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use minotaur_runtime::cgroup::tracking::Supervisors;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::pipe2;

use super::{restarts, supervise, Attach, Prepare, Prepared};
use crate::attach::{client, Ended};
use crate::container::Container;
use crate::context::Context;
use crate::error::{io_err, sys_err, EngineError};
use crate::process::read_ok_report;
use crate::remove;

/// The foreground client, as the forked supervisor gets it: its end of the socket pair and its
/// terminal's size, which the container's terminal has from the start.
pub(super) struct Client {
    pub(super) sock: UnixStream,
    pub(super) winsize: Option<nix::pty::Winsize>,
}

/// Makes a container and prepares its start, in the supervisor (see [`Source::Create`]).
type Make = Box<dyn FnOnce(&Context) -> Result<(Container, Prepared), EngineError>>;

/// What the forked supervisor starts.
pub(crate) enum Source {
    /// A container the caller found and prepared (`start`).
    Prepared(Box<(Container, Prepared)>),
    /// A container the supervisor makes first (`run`): the CLI forks it before it opens the store at
    /// all. So one process opens the store, parses its schema and records the container, where the CLI
    /// did that and the supervisor again; the fork copies a process that has allocated little, and the
    /// supervisor's later writes land in pages of its own rather than copies of the CLI's. `tty`: the
    /// request's, which the client needs before the container exists. A container the supervisor made
    /// and could not start is removed before it reports, as the CLI removed it when it made it.
    /// `cgroup`: the container's cgroup path, which the CLI makes meanwhile (see [`CgroupAhead`]).
    Create {
        tty: bool,
        make: Make,
        cgroup: PathBuf,
    },
}

/// A `run`'s cgroup, made by the CLI once it has forked the supervisor, while the supervisor makes the
/// rest of the container; the supervisor waits for it only before the runtime's `Cgroup::create`, which
/// then finds the directories (a `mkdir` answering `EEXIST`) and sets the limits. On cgroup v1 a cgroup's
/// `mkdir`s are the costliest kernel work of a start, the memory controller's above all: bringing a
/// memory cgroup online allocates its shrinker state in blocks of 64 for every shrinker the kernel has
/// ever registered (each file system mounted registers one, and a container mounts a dozen), a number
/// that only grows, so that on a host that has run a thousand containers the one `mkdir` takes 1.5–2.5
/// ms. The CLI has nothing else to do until the supervisor reports. This is the read end of a pipe the
/// CLI closes once its `mkdir`s have returned (or it is gone): nothing removes the cgroup while the CLI
/// may still be making it. The CLI removes what it made when the supervisor reports a failure.
pub(crate) struct CgroupAhead(File);

impl CgroupAhead {
    /// Waits until the CLI has made the cgroup, or failed to, or died.
    pub(super) fn wait(self) {
        let mut done = self.0;
        let mut byte = [0u8; 1];
        while let Err(e) = done.read(&mut byte) {
            if e.kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
    }
}

impl Source {
    fn tty(&self) -> bool {
        match self {
            Source::Prepared(made) => made.0.config.tty,
            Source::Create { tty, .. } => *tty,
        }
    }
}

/// A container its supervisor reported running: its ID, and in the foreground how the attachment ended.
pub struct Started {
    pub id: String,
    pub ended: Option<Ended>,
}

pub(crate) fn start(
    ctx: &Context,
    source: Source,
    attach: Attach,
    again: Prepare,
) -> Result<Started, EngineError> {
    let opts = match attach {
        Attach::Detached => {
            let (id, _) = fork_supervisor(ctx, source, None, again)?;
            return Ok(Started { id, ended: None });
        }
        Attach::Foreground(opts) => opts,
    };
    let tty = source.tty();
    let (mine, theirs) = UnixStream::pair().map_err(io_err("make a socket pair"))?;
    let winsize = if tty {
        minotaur_sys::get_winsize(io::stdin()).ok()
    } else {
        None
    };
    let client = Client {
        sock: theirs,
        winsize,
    };
    let mask = client::block_handled().map_err(sys_err("block the attacher's signals"))?;
    let (id, mine) = fork_supervisor(ctx, source, Some((client, mine, mask)), again)?;
    let ended = client::relay(mine.expect("the client's end"), tty, &opts)?;
    Ok(Started {
        id,
        ended: Some(ended),
    })
}

/// Forks the supervisor and waits for its report, which names the container. `client`: the foreground
/// client as the supervisor gets it, the CLI's own end of the pair (returned once the container runs), and
/// the signal mask the CLI had before it blocked the attacher's signals (the supervisor's).
fn fork_supervisor(
    ctx: &Context,
    source: Source,
    client: Option<(Client, UnixStream, SigSet)>,
    again: Prepare,
) -> Result<(String, Option<UnixStream>), EngineError> {
    // Held until the supervisor reports: it records the start (opening the store) before it does.
    let index = ctx.release_store_holding_index();
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
    let ahead = match &source {
        Source::Create { cgroup, .. } => Some((
            cgroup.clone(),
            pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?,
        )),
        Source::Prepared(_) => None,
    };
    match fork_out_of_units(ctx).map_err(sys_err("fork the supervisor"))? {
        Forked::Child(escape) => {
            let ahead = ahead.map(|(_, (done_r, done_w))| {
                drop(done_w);
                CgroupAhead(File::from(done_r))
            });
            // Before anything opens the store here: closing it later would drop this process's locks.
            drop(index);
            if let Some(escape) = escape {
                escape.join();
            }
            drop(report_r);
            let client = client.map(|(theirs, mine, mask)| {
                drop(mine);
                let _ = mask.thread_set_mask();
                theirs
            });
            let code = detach_and_supervise(ctx, source, client, report_w, again, ahead);
            minotaur_sys::exit_now(code);
        }
        Forked::Parent => {
            // The supervisor owns the container (and its root mount) from here.
            drop(report_w);
            let mine = client.map(|(theirs, mine, _)| {
                drop(theirs);
                mine
            });
            let made = ahead.and_then(|(path, (done_r, done_w))| {
                drop(done_r);
                let made = minotaur_runtime::Cgroup::create(&ctx.cgroup_root, &path, None).ok();
                drop(done_w);
                made
            });
            let report = read_ok_report(
                report_r,
                "the supervisor died before starting the container",
            );
            if let (Err(_), Some(made)) = (&report, made) {
                // The container is gone (or never was): so goes what was made for it here.
                let _ = made.remove_keeping_parents();
            }
            drop(index);
            // Only now: the start lock in it is the supervisor's too (`flock(2)` locks belong to the open
            // file), and dropping it unlocks it for both.
            drop(source);
            Ok((report?, mine))
        }
    }
}

/// Which side of the supervisor's fork this is; the child has the cgroups it is to join, if any.
enum Forked {
    Child(Option<Supervisors>),
    Parent,
}

/// Forks the supervisor: where systemd runs, into `<parent>/supervisors`, out of the unit of whoever ran
/// the CLI, which would take it down when it stops (see `minotaur_runtime::cgroup::tracking`). Born there
/// in the cgroup2 hierarchy (`CLONE_INTO_CGROUP`; a kernel before 5.7 refuses it, and the child then moves
/// itself); elsewhere a plain fork.
fn fork_out_of_units(ctx: &Context) -> nix::Result<Forked> {
    let Some(escape) = Supervisors::prepare(&ctx.cgroup_root, &ctx.paths.cgroup_parent) else {
        return Ok(match minotaur_sys::fork()? {
            minotaur_sys::ForkResult::Child => Forked::Child(None),
            minotaur_sys::ForkResult::Parent { .. } => Forked::Parent,
        });
    };
    let (escape, forked) = match &escape.born_in {
        Some((dir, _)) => match minotaur_sys::clone3_into(0, dir.as_fd()) {
            Err(Errno::EINVAL | Errno::E2BIG) => {
                (escape.without_born_in(), minotaur_sys::clone3(0))
            }
            r => (escape, r),
        },
        None => {
            let r = minotaur_sys::clone3(0);
            (escape, r)
        }
    };
    Ok(match forked? {
        minotaur_sys::Clone3Result::Child => Forked::Child(Some(escape)),
        minotaur_sys::Clone3Result::Parent { .. } => Forked::Parent,
    })
}

/// The supervisor's life: a new session, stdin and stdout on /dev/null, the container made (for `run`),
/// then [`supervise`] and the restarts its policy asks for. The client's stderr is kept until the
/// container runs (or fails to), so that what the create and the start log reaches it; after that the
/// supervisor holds none of the client's streams, whose readers must see them end with the client.
fn detach_and_supervise(
    ctx: &Context,
    source: Source,
    client: Option<Client>,
    report: OwnedFd,
    again: Prepare,
    ahead: Option<CgroupAhead>,
) -> i32 {
    let _ = nix::unistd::setsid();
    if let Ok(null) = nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
    }
    let wake = wake_signal();
    // Whichever way this returns, listeners of the resolver still held go to a server or are let go.
    let _resolver = HandOver(ctx);
    let mut report = Some(File::from(report));
    let failed = |report: Option<File>, e: EngineError| {
        if let Some(mut r) = report {
            let _ = write!(r, "{} {}", e.exit_code(), crate::error_chain(&e));
        }
        e.exit_code()
    };
    let (mut c, p, made_here) = match source {
        Source::Prepared(made) => {
            let (c, p) = *made;
            (c, p, false)
        }
        Source::Create { make, .. } => match make(ctx) {
            Ok((c, mut p)) => {
                p.cgroup_ahead = ahead;
                (c, p, true)
            }
            Err(e) => return failed(report, e),
        },
    };
    let run = match supervise(ctx, &mut c, p, client, &mut report, true) {
        Ok(run) => run,
        Err(e) => {
            if made_here {
                let _ = remove::remove(ctx, c.id.as_str(), true, true);
            }
            return failed(report, e);
        }
    };
    restarts(ctx, c, run, again, wake.as_ref())
}

/// The supervisor's last step: the resolver's listeners it holds handed over (see
/// `network::dns::hand_over`).
struct HandOver<'a>(&'a Context);

impl Drop for HandOver<'_> {
    fn drop(&mut self) {
        crate::network::dns::hand_over(self.0);
    }
}

/// SIGTERM, blocked and readable from a signalfd: how `stop` wakes a supervisor waiting to restart its
/// container. (The runtime gives the container's processes a clean signal mask.)
fn wake_signal() -> Option<SignalFd> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.thread_block().ok()?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok()
}
