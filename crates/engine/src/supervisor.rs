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
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, Pid};
use oci_spec::runtime::Spec;

use crate::container::{Container, State, Status};
use crate::error::{sys_err, EngineError};
use crate::lifecycle::Engine;
use crate::logs::{LogWriter, Stream};
use crate::process::{read_all, start_time};

/// How the caller takes part in the container's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// Start it and return: a separate supervisor process stays with it.
    Detached,
    /// Supervise it here, relaying its output; `stdin` gives it this process's standard input.
    Foreground { stdin: bool },
}

/// What `start` prepared: the spec, the bundle directory, an overlay mount to undo at exit, the mount
/// template, and the lock that serializes starts of the container, released once it is recorded running. (A
/// forked supervisor shares the lock with the CLI that forked it: `flock(2)` locks belong to the open file.)
pub struct Prepared {
    pub spec: Spec,
    pub bundle: PathBuf,
    pub overlay: Option<PathBuf>,
    /// The mount namespace to copy the container's from (see `Engine::mount_template`).
    pub mount_template: Option<PathBuf>,
    pub lock: Option<Flock<File>>,
}

/// Log files are bounded: 10 MiB, three files.
const LOG_MAX_SIZE: u64 = 10 << 20;
const LOG_MAX_FILES: u32 = 3;

/// Signals an attached supervisor forwards to the container, as `docker run`'s signal proxy does.
const FORWARDED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

pub(crate) fn start(
    engine: &Engine,
    c: Container,
    p: Prepared,
    attach: Attach,
) -> Result<Option<i32>, EngineError> {
    match attach {
        Attach::Foreground { stdin } => supervise(engine, c, p, Some(stdin), &mut None).map(Some),
        Attach::Detached => {
            engine.release_store();
            let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
            match minotaur_sys::fork().map_err(sys_err("fork the supervisor"))? {
                minotaur_sys::ForkResult::Child => {
                    drop(report_r);
                    let code = detach_and_supervise(engine, c, p, report_w);
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

/// Reads a forked helper's report: "ok" once it has done its part, or "CODE MESSAGE" when it failed;
/// nothing at all when it died first (`died` says what that means).
fn read_report(report: OwnedFd, died: &str) -> Result<Option<i32>, EngineError> {
    let report = read_all(File::from(report));
    if report.starts_with("ok") {
        return Ok(None);
    }
    let (code, message) = report.split_once(' ').unwrap_or(("125", ""));
    let message = if message.is_empty() {
        died.to_owned()
    } else {
        message.to_owned()
    };
    Err(EngineError::Supervisor {
        message,
        code: code.parse().unwrap_or(125),
    })
}

/// The detached supervisor's life: a new session, stdio on /dev/null, subreaper, then [`supervise`].
fn detach_and_supervise(engine: &Engine, c: Container, p: Prepared, report: OwnedFd) -> i32 {
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
    match supervise(engine, c, p, None, &mut report) {
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
    engine: &Engine,
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
        cgroup_root: engine.cgroup_root.clone(),
        stdio: Some([stdin_fd, out_w.as_fd(), err_w.as_fd()]),
        init: c.config.host.init,
        hide: vec![engine.paths.runroot.clone()],
        mount_template: p.mount_template.clone(),
    };
    let undo_root = |p: &Prepared| {
        if let Some(m) = &p.overlay {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    };
    let created = match minotaur_runtime::create(&p.spec, &p.bundle, &opts) {
        Ok(created) => created,
        Err(e) => {
            undo_root(&p);
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
            undo_root(&p);
            c.state = State {
                status: Status::Exited,
                exit_code: e.exit_code(),
                error: crate::error_chain(&e),
                finished_at: Some(now()),
                sandbox_key: c.state.sandbox_key.clone(),
                ..Default::default()
            };
            let _ = engine.set_state(&c.id, &c.state);
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
    if let Err(e) = engine.set_state(&c.id, &c.state) {
        let _ = minotaur_sys::pidfd_send_signal(&started.pidfd, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        undo_root(&p);
        return Err(e);
    }
    // Recorded running: another start may look now (and will find it running).
    drop(p.lock.take());
    // Closing the report pipe is what releases the waiting CLI.
    if let Some(mut r) = report.take() {
        let _ = r.write_all(b"ok");
        // Detached, this process now only waits: it keeps no database connection (reopened at exit) and
        // gives back what it inherited from the CLI.
        engine.release_store();
        minotaur_sys::shed_memory();
    }

    let mut log = LogWriter::open(engine.paths.log(&c.id), LOG_MAX_SIZE, LOG_MAX_FILES).ok();
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
    undo_root(&p);
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
    if c.config.host.auto_remove {
        engine.remove_stopped(&c)?;
    } else {
        engine.set_state(&c.id, &c.state)?;
    }
    log::debug!("supervise {}: recorded and cleaned up", c.name);
    Ok(code)
}

fn block_forwarded() -> Option<SignalFd> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGWINCH);
    set.thread_block().ok()?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok()
}

/// The user's terminal in raw mode while a `-t` container runs attached; restored on drop.
struct RawMode(termios::Termios);

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin(), termios::SetArg::TCSANOW, &self.0);
    }
}

struct Pump<'a> {
    pid: Pid,
    pidfd: &'a OwnedFd,
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    console: Option<OwnedFd>,
    relay: bool,
    relay_stdin: bool,
    signals: Option<&'a SignalFd>,
    log: Option<&'a mut LogWriter>,
}

/// Copies output until PID 1 has exited and its streams are closed; forwards signals. Returns PID 1's status.
fn pump(mut p: Pump<'_>) -> WaitStatus {
    let mut status: Option<WaitStatus> = None;
    let mut buf = vec![0u8; 64 * 1024];
    let stdin = io::stdin();
    let mut stdin_open = p.relay_stdin;
    loop {
        // Slots: 0 pidfd, 1 stdout, 2 stderr, 3 console, 4 signals, 5 stdin.
        let mut slots: Vec<(usize, BorrowedFd<'_>)> = Vec::new();
        if status.is_none() {
            slots.push((0, p.pidfd.as_fd()));
        }
        if let Some(f) = &p.out {
            slots.push((1, f.as_fd()));
        }
        if let Some(f) = &p.err {
            slots.push((2, f.as_fd()));
        }
        if let Some(f) = &p.console {
            slots.push((3, f.as_fd()));
        }
        if let Some(s) = p.signals {
            slots.push((4, s.as_fd()));
        }
        if stdin_open {
            slots.push((5, stdin.as_fd()));
        }
        let streams_open = p.out.is_some() || p.err.is_some() || p.console.is_some();
        if status.is_some() && !streams_open {
            break;
        }
        let mut fds: Vec<PollFd<'_>> = slots
            .iter()
            .map(|(_, fd)| PollFd::new(*fd, PollFlags::POLLIN))
            .collect();
        // Once PID 1 is gone its namespace is torn down and the streams close; a process outside it that still
        // holds them (with --pid host) must not keep the supervisor: give them a moment, then stop.
        let timeout = if status.is_some() {
            PollTimeout::from(200u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<(usize, PollFlags)> = slots
            .iter()
            .zip(&fds)
            .map(|((slot, _), f)| (*slot, f.revents().unwrap_or(PollFlags::empty())))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        for (slot, _) in ready {
            match slot {
                0 => {
                    if let Ok(s) = waitpid(p.pid, Some(WaitPidFlag::WNOHANG)) {
                        if s != WaitStatus::StillAlive {
                            status = Some(s);
                        }
                    }
                }
                1..=3 => {
                    let (fd, stream) = match slot {
                        1 => (p.out.as_ref(), Stream::Stdout),
                        2 => (p.err.as_ref(), Stream::Stderr),
                        _ => (p.console.as_ref(), Stream::Stdout),
                    };
                    let n = fd
                        .map(|fd| nix::unistd::read(fd, &mut buf).unwrap_or(0))
                        .unwrap_or(0);
                    if n == 0 {
                        match slot {
                            1 => p.out = None,
                            2 => p.err = None,
                            _ => p.console = None,
                        }
                        continue;
                    }
                    if let Some(log) = p.log.as_deref_mut() {
                        let _ = log.write(stream, &buf[..n]);
                    }
                    if p.relay {
                        let _ = match stream {
                            Stream::Stdout => io::stdout()
                                .write_all(&buf[..n])
                                .and_then(|_| io::stdout().flush()),
                            Stream::Stderr => io::stderr().write_all(&buf[..n]),
                        };
                    }
                }
                4 => {
                    if let Some(Ok(Some(info))) = p.signals.map(|s| s.read_signal()) {
                        match Signal::try_from(info.ssi_signo as i32) {
                            Ok(Signal::SIGWINCH) => {
                                if let (Some(c), Ok(ws)) =
                                    (&p.console, minotaur_sys::get_winsize(io::stdin()))
                                {
                                    let _ = minotaur_sys::set_winsize(c, &ws);
                                }
                            }
                            Ok(sig) => {
                                let _ = minotaur_sys::pidfd_send_signal(p.pidfd, sig);
                            }
                            Err(_) => {}
                        }
                    }
                }
                5 => {
                    let n = nix::unistd::read(&stdin, &mut buf).unwrap_or(0);
                    if n == 0 {
                        stdin_open = false;
                    } else if let Some(c) = &p.console {
                        let _ = nix::unistd::write(c, &buf[..n]);
                    }
                }
                _ => {}
            }
        }
    }
    status.unwrap_or_else(|| waitpid(p.pid, None).unwrap_or(WaitStatus::Exited(p.pid, 255)))
}

/// Runs an extra process in a running container (see [`Engine::exec`]). Attached, its output goes straight
/// to this process's stdout and stderr (with `-t`, through a terminal this process relays) and its status
/// is returned. Detached, a small waiter process in a new session becomes its parent, so that it is reaped
/// when it exits: an unreaped process in the container's PID namespace would keep the container's PID 1
/// from ever finishing its exit.
pub(crate) fn exec(
    engine: &Engine,
    spec: &Spec,
    init: &OwnedFd,
    process: &oci_spec::runtime::Process,
    req: &crate::lifecycle::ExecRequest,
) -> Result<Option<i32>, EngineError> {
    if !req.detach {
        return exec_attached(engine, spec, init, process, req).map(Some);
    }
    engine.release_store();
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("make a pipe"))?;
    match minotaur_sys::fork().map_err(sys_err("fork"))? {
        minotaur_sys::ForkResult::Child => {
            drop(report_r);
            let _ = nix::unistd::setsid();
            let mut report = File::from(report_w);
            let null = nix::fcntl::open(
                "/dev/null",
                OFlag::O_RDWR | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            );
            let code = match null {
                Err(e) => {
                    let _ = write!(report, "125 cannot open /dev/null: {e}");
                    125
                }
                Ok(null) => {
                    // The waiter keeps none of the caller's streams open: whoever reads the CLI's output
                    // must see it end when the CLI exits.
                    let _ = nix::unistd::dup2_stdin(&null);
                    let _ = nix::unistd::dup2_stdout(&null);
                    let _ = nix::unistd::dup2_stderr(&null);
                    let opts = minotaur_runtime::ExecOptions {
                        cgroup_root: engine.cgroup_root.clone(),
                        stdio: Some([null.as_fd(), null.as_fd(), null.as_fd()]),
                    };
                    match minotaur_runtime::exec(spec, init.as_fd(), process, &opts) {
                        Ok(ex) => {
                            let _ = report.write_all(b"ok");
                            drop(report);
                            match waitpid(ex.pid, None) {
                                Ok(WaitStatus::Exited(_, c)) => c,
                                _ => 0,
                            }
                        }
                        Err(e) => {
                            let _ = write!(report, "{} {}", e.exit_code(), crate::error_chain(&e));
                            e.exit_code()
                        }
                    }
                }
            };
            minotaur_sys::exit_now(code);
        }
        minotaur_sys::ForkResult::Parent { .. } => {
            drop(report_w);
            read_report(report_r, "the exec waiter died before running the command")
        }
    }
}

fn exec_attached(
    engine: &Engine,
    spec: &Spec,
    init: &OwnedFd,
    process: &oci_spec::runtime::Process,
    req: &crate::lifecycle::ExecRequest,
) -> Result<i32, EngineError> {
    let null = nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(sys_err("open /dev/null"))?;
    let (stdin, stdout, stderr) = (io::stdin(), io::stdout(), io::stderr());
    let stdio = [
        if req.stdin {
            stdin.as_fd()
        } else {
            null.as_fd()
        },
        stdout.as_fd(),
        stderr.as_fd(),
    ];
    let opts = minotaur_runtime::ExecOptions {
        cgroup_root: engine.cgroup_root.clone(),
        stdio: Some(stdio),
    };
    let ex = minotaur_runtime::exec(spec, init.as_fd(), process, &opts)?;
    log::debug!("exec: running (pid {})", ex.pid);
    let signals = block_forwarded();
    let raw = if req.tty { RawMode::enter() } else { None };
    if let Some(master) = &ex.console {
        if let Ok(ws) = minotaur_sys::get_winsize(io::stdin()) {
            let _ = minotaur_sys::set_winsize(master, &ws);
        }
    }
    let status = pump(Pump {
        pid: ex.pid,
        pidfd: &ex.pidfd,
        out: None,
        err: None,
        console: ex.console,
        relay: true,
        relay_stdin: req.tty && req.stdin,
        signals: signals.as_ref(),
        log: None,
    });
    drop(raw);
    Ok(match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 255,
    })
}
