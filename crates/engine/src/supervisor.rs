//! The supervisor: the one process a running container costs.
//!
//! It is the parent (and a child subreaper) of the container's PID 1. It makes the container through the
//! runtime, records it as running, then copies the container's output into its json-file log until PID 1
//! exits, records the exit status and time, unmounts the root, removes the cgroup, and with `--rm` removes the
//! container. It holds the container's streams and serves them to attachers (see the `attach` module). The
//! CLI forks it in a new session and waits until it reports the container running (or why not); detached,
//! the CLI then exits; in the foreground (`run` without `-d`, `start -a`), the CLI attaches to it through a
//! socket pair made before the fork and exits with the container's status, so that the container outlives
//! a client that is killed or detaches, as with Docker.
//!
//! Waiting for PID 1 uses its pidfd, readable once it exits; output, input and attachers are polled with it
//! in one `poll(2)` loop, so a supervisor is a single thread that sleeps until something happens.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::SystemTime;

use minotaur_runtime::CreateOptions;
use nix::fcntl::{Flock, OFlag};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::pipe2;
use oci_spec::runtime::Spec;

use crate::attach::serve::{self, Input, Streams};
use crate::attach::{client, AttachOptions, Ended};
use crate::container::{Container, State, Status};
use crate::context::Context;
use crate::error::{io_err, sys_err, EngineError};
use crate::logs::LogWriter;
use crate::process::{read_report, start_time};
use crate::remove;

/// How the caller takes part in the container's life.
#[derive(Clone, Debug)]
pub enum Attach {
    /// Start it and return: a separate supervisor process stays with it.
    Detached,
    /// Start it and attach this process to it until it exits (or the client detaches or dies).
    Foreground(AttachOptions),
}

/// The foreground client, as the forked supervisor gets it: its end of the socket pair and its
/// terminal's size, which the container's terminal has from the start.
struct Client {
    sock: UnixStream,
    winsize: Option<nix::pty::Winsize>,
}

/// What `start` prepared: the spec, the bundle directory, the overlay root (mounted by the runtime), the mount
/// template, and the lock that serializes starts of the container, released once it is recorded running. (A
/// forked supervisor shares the lock with the CLI that forked it: `flock(2)` locks belong to the open file.)
pub struct Prepared {
    pub spec: Spec,
    pub bundle: PathBuf,
    pub overlay: Option<minotaur_runtime::Overlay>,
    /// The mount namespace to copy the container's from (see `runroot::mount_template`).
    pub mount_template: Option<PathBuf>,
    pub lock: Option<Flock<File>>,
}

/// Log files are bounded: 10 MiB, three files.
const LOG_MAX_SIZE: u64 = 10 << 20;
const LOG_MAX_FILES: u32 = 3;

pub(crate) fn start(
    ctx: &Context,
    c: Container,
    p: Prepared,
    attach: Attach,
) -> Result<Option<Ended>, EngineError> {
    let opts = match attach {
        Attach::Detached => return fork_supervisor(ctx, c, p, None).map(|_| None),
        Attach::Foreground(opts) => opts,
    };
    let tty = c.config.tty;
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
    let mine = fork_supervisor(ctx, c, p, Some((client, mine)))?.expect("the client's end");
    client::relay(mine, tty, &opts)
        .map(Some)
        .map_err(EngineError::from)
}

/// Forks the supervisor and waits for its report. `client`: the foreground client as the supervisor gets
/// it, and the CLI's own end of the pair, returned once the container runs.
fn fork_supervisor(
    ctx: &Context,
    c: Container,
    p: Prepared,
    client: Option<(Client, UnixStream)>,
) -> Result<Option<UnixStream>, EngineError> {
    ctx.release_store();
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
    match minotaur_sys::fork().map_err(sys_err("fork the supervisor"))? {
        minotaur_sys::ForkResult::Child => {
            drop(report_r);
            let client = client.map(|(theirs, mine)| {
                drop(mine);
                theirs
            });
            let code = detach_and_supervise(ctx, c, p, client, report_w);
            minotaur_sys::exit_now(code);
        }
        minotaur_sys::ForkResult::Parent { .. } => {
            // The supervisor owns the container (and its root mount) from here.
            drop(report_w);
            let mine = client.map(|(theirs, mine)| {
                drop(theirs);
                mine
            });
            read_report(
                report_r,
                "the supervisor died before starting the container",
            )?;
            Ok(mine)
        }
    }
}

/// The supervisor's life: a new session, stdio on /dev/null, subreaper, then [`supervise`]. A foreground
/// client's stderr is kept until the container runs, so that what the start logs reaches it; after that
/// the supervisor holds none of the client's streams, whose readers must see them end with the client.
fn detach_and_supervise(
    ctx: &Context,
    c: Container,
    p: Prepared,
    client: Option<Client>,
    report: OwnedFd,
) -> i32 {
    let _ = nix::unistd::setsid();
    if let Ok(null) = nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        if client.is_none() {
            let _ = nix::unistd::dup2_stderr(&null);
        }
    }
    let mut report = Some(File::from(report));
    match supervise(ctx, c, p, client, &mut report) {
        Ok(code) => code,
        Err(e) => {
            if let Some(mut r) = report {
                let _ = write!(r, "{} {}", e.exit_code(), crate::error_chain(&e));
            }
            e.exit_code()
        }
    }
}

fn now() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}

/// Makes and runs the container, and stays with it until it exits. Returns its exit status.
/// `client`: the foreground client, attached from the start. `report` gets "ok" once the command runs.
fn supervise(
    ctx: &Context,
    mut c: Container,
    mut p: Prepared,
    client: Option<Client>,
    report: &mut Option<File>,
) -> Result<i32, EngineError> {
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let tty = c.config.tty;
    let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
    let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
    let null = nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(sys_err("open /dev/null"))?;
    // `-i` without `-t`: the container reads a pipe whose write end this process holds for as long as it
    // runs, so that its stdin stays open with nobody attached (with `-t` the terminal is its stdin).
    let (stdin_r, stdin_w) = if c.config.open_stdin && !tty {
        let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    let stdin_fd = stdin_r.as_ref().map_or(null.as_fd(), |r| r.as_fd());
    let opts = CreateOptions {
        cgroup_root: ctx.cgroup_root.clone(),
        stdio: Some([stdin_fd, out_w.as_fd(), err_w.as_fd()]),
        init: c.config.host.init,
        hide: vec![ctx.paths.runroot.clone()],
        mount_template: p.mount_template.clone(),
        overlay: p.overlay.clone(),
    };
    let created = match minotaur_runtime::create(&p.spec, &p.bundle, &opts) {
        Ok(created) => created,
        Err(e) => {
            return Err(e.into());
        }
    };
    drop((out_w, err_w, stdin_r));
    log::debug!(
        "supervise {}: created (pid {}), mounts copied from {}",
        c.name,
        created.pid(),
        p.mount_template
            .as_deref()
            .map_or("the engine's namespace".into(), |t| t.display().to_string())
    );
    let mut created = created;
    let console = created.take_console();
    if let (Some(master), Some(ws)) = (&console, client.as_ref().and_then(|c| c.winsize)) {
        let _ = minotaur_sys::set_winsize(master, &ws);
    }
    let pid = created.pid();
    let started = match created.start() {
        Ok(s) => s,
        Err(e) => {
            // The init process exits by itself after a failed exec; reap it and record the failure.
            let _ = waitpid(pid, None);
            c.state = State {
                status: Status::Exited,
                exit_code: e.exit_code(),
                error: crate::error_chain(&e),
                finished_at: Some(now()),
                sandbox_key: c.state.sandbox_key.clone(),
                ..Default::default()
            };
            let _ = ctx.set_state(&c.id, &c.state);
            return Err(e.into());
        }
    };
    log::debug!("supervise {}: started", c.name);
    let me = std::process::id() as i32;
    c.state = State {
        status: Status::Running,
        pid: pid.as_raw(),
        pid_start_time: start_time(pid.as_raw()).unwrap_or(0),
        supervisor_pid: me,
        supervisor_start_time: start_time(me).unwrap_or(0),
        exit_code: 0,
        error: String::new(),
        oom_killed: false,
        started_at: Some(now()),
        finished_at: None,
        sandbox_key: c.state.sandbox_key.clone(),
    };
    if let Err(e) = ctx.set_state(&c.id, &c.state) {
        let _ = minotaur_sys::pidfd_send_signal(&started.pidfd, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        return Err(e);
    }
    // Recorded running: another start may look now (and will find it running), and attach.
    let listener = match serve::listen(&ctx.paths.attach_socket(&c.id)) {
        Ok(l) => Some(l),
        Err(e) => {
            log::warn!("container {} cannot be attached to: {e}", c.name);
            None
        }
    };
    drop(p.lock.take());
    // Closing the report pipe is what releases the waiting CLI.
    if let Some(mut r) = report.take() {
        let _ = r.write_all(b"ok");
        if let Ok(null) = nix::fcntl::open(
            "/dev/null",
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            let _ = nix::unistd::dup2_stderr(&null);
        }
        // Detached, this process now only waits: it keeps no database connection (reopened at exit) and
        // gives back what it inherited from the CLI.
        ctx.release_store();
        minotaur_sys::shed_memory();
    }

    let mut log = LogWriter::open(ctx.paths.log(&c.id), LOG_MAX_SIZE, LOG_MAX_FILES).ok();
    let input = match (tty, stdin_w) {
        (false, Some(w)) => Input::Pipe(w),
        (true, _) if c.config.open_stdin => Input::Console,
        _ => Input::None,
    };
    let (status, attachers) = serve::serve(Streams {
        pid,
        pidfd: &started.pidfd,
        out: if tty { None } else { Some(out_r) },
        err: if tty { None } else { Some(err_r) },
        console,
        input,
        listener,
        first: client.map(|c| c.sock),
        log: log.as_mut(),
    });
    let _ = std::fs::remove_file(ctx.paths.attach_socket(&c.id));
    if let Some(l) = log.as_mut() {
        let _ = l.flush();
    }
    log::debug!("supervise {}: exited", c.name);

    let code = match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 255,
    };
    if let Some(cg) = started.cgroup {
        let _ = cg.remove();
    }
    c.state = State {
        status: Status::Exited,
        exit_code: code,
        finished_at: Some(now()),
        started_at: c.state.started_at.clone(),
        sandbox_key: c.state.sandbox_key.clone(),
        ..Default::default()
    };
    let recorded = if c.config.host.auto_remove {
        remove::remove_stopped(ctx, &c)
    } else {
        ctx.set_state(&c.id, &c.state)
    };
    // Attachers learn the status once it is recorded (and a `--rm` container is gone), as `docker run`
    // returns only then.
    attachers.exited(code);
    recorded?;
    log::debug!("supervise {}: recorded and cleaned up", c.name);
    Ok(code)
}
