//! The supervisor: the one process a running container costs.
//!
//! It is the parent (and a child subreaper) of the container's PID 1. It makes the container through the
//! runtime, records it as running, then copies the container's output into its json-file log until PID 1
//! exits, records the exit status and time, unmounts the root, removes the cgroup, and with `--rm` removes the
//! container. Attached (`run` without `-d`), the CLI process itself is the supervisor and also relays the
//! output (and, with `-t`, the terminal) and forwards the signals it gets. Detached, the CLI forks a
//! supervisor in a new session, waits until it reports the container running (or why not), and exits.
//!
//! Waiting for PID 1 uses its pidfd, readable once it exits; output and signals are polled with it in one
//! `poll(2)` loop (signals through a signalfd), so a supervisor is a single thread that sleeps until
//! something happens.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::SystemTime;

use minotaur_runtime::CreateOptions;
use nix::fcntl::{Flock, OFlag};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::pipe2;
use oci_spec::runtime::Spec;

use crate::container::{Container, State, Status};
use crate::context::Context;
use crate::error::{sys_err, EngineError};
use crate::events;
use crate::logs::LogWriter;
use crate::process::{read_report, start_time};
use crate::relay::{block_forwarded, pump, Pump, RawMode};
use crate::remove;

/// How the caller takes part in the container's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// Start it and return: a separate supervisor process stays with it.
    Detached,
    /// Supervise it here, relaying its output; `stdin` gives it this process's standard input.
    Foreground { stdin: bool },
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
) -> Result<Option<i32>, EngineError> {
    match attach {
        Attach::Foreground { stdin } => supervise(ctx, c, p, Some(stdin), &mut None).map(Some),
        Attach::Detached => {
            ctx.release_store();
            let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
            match minotaur_sys::fork().map_err(sys_err("fork the supervisor"))? {
                minotaur_sys::ForkResult::Child => {
                    drop(report_r);
                    let code = detach_and_supervise(ctx, c, p, report_w);
                    minotaur_sys::exit_now(code);
                }
                minotaur_sys::ForkResult::Parent { .. } => {
                    // The supervisor owns the container (and its root mount) from here.
                    drop(report_w);
                    read_report(
                        report_r,
                        "the supervisor died before starting the container",
                    )
                }
            }
        }
    }
}

/// The detached supervisor's life: a new session, stdio on /dev/null, subreaper, then [`supervise`].
fn detach_and_supervise(ctx: &Context, c: Container, p: Prepared, report: OwnedFd) -> i32 {
    let _ = nix::unistd::setsid();
    if let Ok(null) = nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    let mut report = Some(File::from(report));
    match supervise(ctx, c, p, None, &mut report) {
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
/// `stdin`: attached (with or without this process's stdin); `None`: detached. `report` gets "ok" once the
/// command runs (detached only).
fn supervise(
    ctx: &Context,
    mut c: Container,
    mut p: Prepared,
    stdin: Option<bool>,
    report: &mut Option<File>,
) -> Result<i32, EngineError> {
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let attached = stdin.is_some();
    let tty = c.config.tty;
    let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
    let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
    let null = nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(sys_err("open /dev/null"))?;
    let own_stdin = io::stdin();
    let stdin_fd: BorrowedFd<'_> = if stdin == Some(true) {
        own_stdin.as_fd()
    } else {
        null.as_fd()
    };
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
    drop((out_w, err_w));
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
    // Recorded running: another start may look now (and will find it running).
    drop(p.lock.take());
    events::container(ctx, "start", &c, &[]);
    // Closing the report pipe is what releases the waiting CLI.
    if let Some(mut r) = report.take() {
        let _ = r.write_all(b"ok");
        // Detached, this process now only waits: it keeps no database connection (reopened at exit) and
        // gives back what it inherited from the CLI.
        ctx.release_store();
        minotaur_sys::shed_memory();
    }

    let mut log = LogWriter::open(ctx.paths.log(&c.id), LOG_MAX_SIZE, LOG_MAX_FILES).ok();
    let signals = if attached { block_forwarded() } else { None };
    let raw = if attached && tty {
        RawMode::enter()
    } else {
        None
    };
    if let (Some(master), true) = (&console, attached) {
        if let Ok(ws) = minotaur_sys::get_winsize(io::stdin()) {
            let _ = minotaur_sys::set_winsize(master, &ws);
        }
    }
    let status = pump(Pump {
        pid,
        pidfd: &started.pidfd,
        out: if tty { None } else { Some(out_r) },
        err: if tty { None } else { Some(err_r) },
        console,
        relay: attached,
        relay_stdin: tty && stdin == Some(true),
        signals: signals.as_ref(),
        log: log.as_mut(),
    });
    drop(raw);
    if let Some(l) = log.as_mut() {
        let _ = l.flush();
    }
    log::debug!("supervise {}: exited", c.name);

    let code = match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 255,
    };
    let mut oom_killed = false;
    if let Some(cg) = started.cgroup {
        oom_killed = cg.oom_kills() > 0;
        let _ = cg.remove();
    }
    if oom_killed {
        events::container(ctx, "oom", &c, &[]);
    }
    events::container(ctx, "die", &c, &[("exitCode", &code.to_string())]);
    c.state = State {
        status: Status::Exited,
        exit_code: code,
        oom_killed,
        finished_at: Some(now()),
        started_at: c.state.started_at.clone(),
        sandbox_key: c.state.sandbox_key.clone(),
        ..Default::default()
    };
    if c.config.host.auto_remove {
        remove::remove_stopped(ctx, &c)?;
    } else {
        ctx.set_state(&c.id, &c.state)?;
    }
    log::debug!("supervise {}: recorded and cleaned up", c.name);
    Ok(code)
}
