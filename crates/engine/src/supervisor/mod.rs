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
//! in one `poll(2)` loop, so a supervisor is a single thread that sleeps until something happens. The
//! container's healthcheck runs from the same loop (see [`crate::health`]).
//!
//! When PID 1 exits, the supervisor records the exit and asks the restart policy ([`crate::restart`])
//! whether to start it again, in one write transaction that also reads whether the user stopped it. To
//! restart, it records the container as `restarting`, waits out the back-off (woken early by a SIGTERM
//! from `stop`, which marks the record first) and makes the container again with the same network
//! namespace, which lives from `create` to `rm`. Attachers, the foreground client among them, get the exit
//! status of the run they were attached to once it is recorded, and are let go: a foreground `run` returns
//! the first exit status while the supervisor carries on restarting, as Docker's CLI does.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use minotaur_runtime::CreateOptions;
use nix::fcntl::{Flock, OFlag};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::pipe2;
use oci_spec::runtime::Spec;

mod fork;
mod resolver;

use fork::Client;
pub use fork::Started;
pub(crate) use fork::{start, Source};

use crate::attach::serve::{self, Input, Streams, Ticker};
use crate::attach::AttachOptions;
use crate::container::{Container, State, Status};
use crate::context::Context;
use crate::error::{sys_err, EngineError};
use crate::events;
use crate::health::monitor::Monitor;
use crate::healthcheck::Health;
use crate::logs::LogWriter;
use crate::network::dns;
use crate::process::{pidfd_inode, start_time};
use crate::remove;
use crate::restart::{Backoff, RestartPolicy};
use crate::store::{self, StoreError};

/// How the caller takes part in the container's life.
#[derive(Clone, Debug)]
pub enum Attach {
    /// Start it and return: a separate supervisor process stays with it.
    Detached,
    /// Start it and attach this process to it until it exits (or the client detaches or dies).
    Foreground(AttachOptions),
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
    /// The container's record, when `run` left it to be written while the runtime sets the container up.
    pub(crate) pending: Option<crate::create::PendingRecord>,
    /// Its `ip netns` name is still to be given (a container `run` made).
    pub(crate) name_late: bool,
    /// Its cgroup, being made by the CLI (a container `run` made).
    pub(crate) cgroup_ahead: Option<fork::CgroupAhead>,
}

/// Prepares a container's start again, for a restart: `start`'s own preparation, under the container's
/// start lock (handed in, so that this module does not import `start`, which imports it).
pub(crate) type Prepare = fn(&Context, &Container) -> Result<Prepared, EngineError>;

/// Log files are bounded: 10 MiB, three files, unless `--log-opt max-size/max-file` say otherwise.
const LOG_MAX_SIZE: u64 = 10 << 20;
const LOG_MAX_FILES: u32 = 3;

/// The size and number of a container's log files: its `--log-opt`s (checked at create) or the defaults.
fn log_limits(opts: &std::collections::BTreeMap<String, String>) -> (u64, u32) {
    let size = opts
        .get("max-size")
        .and_then(|s| crate::parse::size(s).ok())
        .filter(|n| *n > 0)
        .unwrap_or(LOG_MAX_SIZE);
    let files = opts
        .get("max-file")
        .and_then(|s| s.parse().ok())
        .unwrap_or(LOG_MAX_FILES);
    (size, files)
}

/// Restarts the container as long as its policy says so; returns the last exit status.
fn restarts(
    ctx: &Context,
    mut c: Container,
    mut run: Run,
    again: Prepare,
    wake: Option<&SignalFd>,
) -> i32 {
    let mut backoff = Backoff::default();
    while run.restart {
        // Nothing polls the resolver's listeners while this waits: held here, they go to a server, which
        // other containers of the network may need meanwhile.
        dns::hand_over(ctx);
        let delay = backoff.next(run.ran);
        match wait_to_restart(ctx, &mut c, delay, wake) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                log::warn!("container {}: {}", c.name, crate::error_chain(&e));
                break;
            }
        }
        log::debug!("supervise {}: restarting after {delay:?}", c.name);
        let next = again(ctx, &c).and_then(|p| supervise(ctx, &mut c, p, None, &mut None, false));
        match next {
            Ok(next) => run = next,
            Err(e) => {
                // It cannot be made again (its image or a bind source is gone): it stays exited, with
                // the reason, as Docker leaves a container whose restart failed.
                let error = crate::error_chain(&e);
                log::warn!("container {}: cannot restart it: {error}", c.name);
                let _ = record(ctx, &c, |s| {
                    s.status = Status::Exited;
                    s.error = error;
                    s.supervisor_pid = 0;
                    s.supervisor_start_time = 0;
                });
                tell_resolver(ctx, &c);
                return e.exit_code();
            }
        }
    }
    // Stopped while waiting to restart: no longer running, as far as the resolver is concerned.
    if run.restart {
        tell_resolver(ctx, &c);
    }
    run.code
}

/// Waits out the back-off before a restart, as the supervisor recorded in the container's state; false
/// when the container is not to be restarted after all (the user stopped or removed it meanwhile).
fn wait_to_restart(
    ctx: &Context,
    c: &mut Container,
    delay: Duration,
    wake: Option<&SignalFd>,
) -> Result<bool, EngineError> {
    let me = std::process::id() as i32;
    // A wake-up from before now is stale: what it meant is in the record, read after.
    if let Some(w) = wake {
        while let Ok(Some(_)) = w.read_signal() {}
    }
    let go_on = |ctx: &Context, c: &mut Container| -> Result<bool, EngineError> {
        let state = record(ctx, c, |s| {
            if s.stopped_by_user {
                s.status = Status::Exited;
                s.supervisor_pid = 0;
                s.supervisor_start_time = 0;
            } else {
                s.supervisor_pid = me;
                s.supervisor_start_time = start_time(me).unwrap_or(0);
            }
        });
        match state {
            Ok(s) => {
                let go = s.status == Status::Restarting;
                c.state = s;
                Ok(go)
            }
            Err(EngineError::Store(StoreError::NoSuchContainer(_))) => Ok(false),
            Err(e) => Err(e),
        }
    };
    if !go_on(ctx, c)? {
        return Ok(false);
    }
    ctx.release_store();
    match wake {
        Some(w) => {
            let mut fds = [nix::poll::PollFd::new(
                w.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let ms = delay.as_millis().min(i32::MAX as u128) as i32;
            let _ = nix::poll::poll(
                &mut fds,
                nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
            );
        }
        None => std::thread::sleep(delay),
    }
    go_on(ctx, c)
}

/// Changes the container's state record in one write transaction (see [`store::update_state`]).
fn record(
    ctx: &Context,
    c: &Container,
    change: impl FnOnce(&mut State),
) -> Result<State, EngineError> {
    let mut st = ctx.store()?;
    Ok(st.write(|tx| store::update_state(tx, &c.id, change))?)
}

/// [`record`] of the start, which also writes the container's exec record under the name the store has
/// in that transaction, and the `start` event: one commit where there were two.
fn record_running(
    ctx: &Context,
    c: &Container,
    change: impl FnOnce(&mut State),
) -> Result<State, EngineError> {
    let mut st = ctx.store()?;
    Ok(st.write(|tx| {
        let now = store::update(tx, &c.id, change)?;
        crate::exec::record::write(&ctx.paths, &now);
        events::container_in(tx, "start", c, &[])?;
        Ok::<_, StoreError>(now.state)
    })?)
}

/// [`record`] of PID 1's exit with its `die` event (and `oom` before it where the OOM killer struck), in
/// one commit. A container removed while it ran (`rm -f`) has no record left to change: its events are
/// still recorded, and the answer is `None`.
fn record_exit(
    ctx: &Context,
    c: &Container,
    code: i32,
    oom_killed: bool,
    change: impl FnOnce(&mut State),
) -> Result<Option<State>, EngineError> {
    let mut st = ctx.store()?;
    Ok(st.write(|tx| {
        if oom_killed {
            events::container_in(tx, "oom", c, &[])?;
        }
        events::container_in(tx, "die", c, &[("exitCode", &code.to_string())])?;
        match store::update_state(tx, &c.id, change) {
            Ok(s) => Ok(Some(s)),
            Err(StoreError::NoSuchContainer(_)) => Ok(None),
            Err(e) => Err(e),
        }
    })?)
}

fn now() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}

/// How one run of the container ended.
#[derive(Clone, Copy, Debug)]
struct Run {
    code: i32,
    /// How long PID 1 ran.
    ran: Duration,
    /// The restart policy starts it again (it is recorded as restarting).
    restart: bool,
}

/// Makes and runs the container, and stays with it until it exits; records the exit, and whether its
/// restart policy starts it again. `client`: the foreground client, attached from the start. `report`
/// gets "ok" once the command runs (the first run only). `by_user`: a start the user asked for, which
/// clears an earlier stop and the restart count, as Docker's does.
fn supervise(
    ctx: &Context,
    c: &mut Container,
    p: Prepared,
    client: Option<Client>,
    report: &mut Option<File>,
    by_user: bool,
) -> Result<Run, EngineError> {
    let Prepared {
        spec,
        bundle,
        overlay,
        mount_template,
        lock,
        pending,
        name_late,
        cgroup_ahead,
    } = p;
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let foreground = client.is_some();
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
    let overlay_root = overlay.is_some();
    let opts = CreateOptions {
        cgroup_root: ctx.cgroup_root.clone(),
        stdio: Some([stdin_fd, out_w.as_fd(), err_w.as_fd()]),
        init: c.config.host.init,
        hide: vec![ctx.paths.runroot.clone()],
        mount_template: mount_template.clone(),
        overlay,
        idmap_root: c.config.host.userns.is_some(),
        ..CreateOptions::default()
    };
    // The resolver's listeners are bound before the container's command runs, so that a query it sends
    // at once waits for the server rather than being refused.
    let early = early_resolver(ctx, c);
    // A record `run` left to write is written while the init sets itself up, on the other core; and the
    // log is opened (a new file: 0.2 ms on a slow root file system) then, not after the command starts.
    let mut pending = pending;
    let mut unrecorded = None;
    let (max_size, max_files) = log_limits(&c.config.host.log_opts);
    let mut log = None;
    let made = {
        let mut record = || {
            if let Some(Err(e)) = pending.take().map(|p| p.write(ctx, c)) {
                unrecorded = Some(e);
                return false;
            }
            log = open_log(ctx, c, max_size, max_files);
            true
        };
        if let Some(ahead) = cgroup_ahead {
            ahead.wait();
        }
        minotaur_runtime::create_then(&spec, &bundle, &opts, Some(&mut record))
    };
    let created = match made {
        Ok(created) => created,
        Err(e) => {
            let_resolver_go(ctx, c, early);
            // Never recorded (the record failed, or the runtime before it): what the create made goes
            // here, where a removal would find no container.
            if unrecorded.is_some() || pending.is_some() {
                let _ = remove::cleanup(ctx, c);
            }
            return Err(unrecorded.unwrap_or_else(|| e.into()));
        }
    };
    // The spec (with its seccomp profile, a few hundred syscall names) is not needed again: a restart
    // prepares a new one. Freed here, its pages can be given back before the supervisor sleeps.
    drop((spec, opts));
    drop((out_w, err_w, stdin_r));
    log::debug!(
        "supervise {}: created (pid {}), mounts copied from {}",
        c.name,
        created.pid(),
        mount_template
            .as_deref()
            .map_or("the engine's namespace".into(), |t| t.display().to_string())
    );
    let mut created = created;
    let console = created.take_console();
    if let (Some(master), Some(ws)) = (&console, client.as_ref().and_then(|c| c.winsize)) {
        let _ = minotaur_sys::set_winsize(master, &ws);
    }
    let pid = created.pid();
    // The container's mount namespace, held until its attachers have the exit status: see `hold_mounts`.
    let held_mounts = hold_mounts(pid, overlay_root);
    let started = match created.start() {
        Ok(s) => s,
        Err(e) => {
            // The init process exits by itself after a failed exec; reap it and record the failure.
            let _ = waitpid(pid, None);
            let error = crate::error_chain(&e);
            if let Ok(s) = record(ctx, c, |s| {
                s.status = Status::Exited;
                s.pid = 0;
                s.pid_start_time = 0;
                s.pid_inode = 0;
                s.supervisor_pid = 0;
                s.supervisor_start_time = 0;
                s.exit_code = e.exit_code();
                s.error = error;
                s.finished_at = Some(now());
            }) {
                c.state = s;
            }
            let_resolver_go(ctx, c, early);
            return Err(e.into());
        }
    };
    log::debug!("supervise {}: started", c.name);
    let me = std::process::id() as i32;
    let begun = Instant::now();
    let runs = |h: &Option<crate::healthcheck::Healthcheck>| h.as_ref().is_some_and(|h| h.runs());
    let has_check = runs(&c.config.healthcheck);
    let has_readiness = runs(&c.config.readiness);
    let has_startup = runs(&c.config.startup);
    // The exec record is written in the same transaction (see `exec::record`).
    let running = record_running(ctx, c, |s| {
        *s = State {
            status: Status::Running,
            pid: pid.as_raw(),
            pid_start_time: start_time(pid.as_raw()).unwrap_or(0),
            pid_inode: pidfd_inode(&started.pidfd),
            supervisor_pid: me,
            supervisor_start_time: start_time(me).unwrap_or(0),
            started_at: Some(now()),
            sandbox_key: s.sandbox_key.take(),
            health: has_check.then(|| Health::restart(s.health.take())),
            readiness: has_readiness.then(|| Health::restart(s.readiness.take())),
            startup: has_startup.then(|| Health::restart(s.startup.take())),
            restart_count: if by_user { 0 } else { s.restart_count },
            stopped_by_user: !by_user && s.stopped_by_user,
            ..Default::default()
        };
    });
    match running {
        Ok(s) => c.state = s,
        Err(e) => {
            let _ = minotaur_sys::pidfd_send_signal(&started.pidfd, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            let_resolver_go(ctx, c, early);
            return Err(e);
        }
    }
    crate::crash::after("start:running");
    // A container `run` made is named for `ip netns` once its command runs (see
    // `create::register_netns`).
    if name_late {
        crate::create::register_netns(ctx, c);
    }
    // The resolver listens while a container of its networks runs, from before the CLI is released, so
    // names resolve when `run -d` returns (see `network::dns`). Listeners taken early are checked again
    // (see `dns::started`).
    match early {
        Some(early) => dns::started(ctx, c, early),
        None => tell_resolver(ctx, c),
    }
    // Recorded running: another start may look now (and will find it running), and attach.
    let listener = match serve::listen(&ctx.paths.attach_socket(&c.id)) {
        Ok(l) => Some(l),
        Err(e) => {
            log::warn!("container {} cannot be attached to: {e}", c.name);
            None
        }
    };
    drop(lock);
    // Closing the report pipe is what releases the waiting CLI.
    if let Some(mut r) = report.take() {
        // The ID too: a `run` learns it here (its supervisor made the container).
        let _ = write!(r, "ok {}", c.id);
        // With debug logging a foreground client keeps getting the supervisor's steps (the exit, the
        // records, the removal), which is where a `run --rm` spends the end of its time.
        let keep = foreground && log::log_enabled!(log::Level::Debug);
        if let (false, Ok(null)) = (
            keep,
            nix::fcntl::open(
                "/dev/null",
                OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            ),
        ) {
            let _ = nix::unistd::dup2_stderr(&null);
        }
    }
    // This process now only waits. Once the container has run a moment, the serving loop closes its
    // database connection (reopened when it records something) and gives back what it inherited from the
    // CLI; a container that exits sooner (a `run --rm` of a short command) leaves its end to a supervisor
    // that still has both, rather than one that opens the store again (reading and parsing its schema).

    let mut log = log.or_else(|| LogWriter::open(ctx.paths.log(&c.id), max_size, max_files).ok());
    let input = match (tty, stdin_w) {
        (false, Some(w)) => Input::Pipe(w),
        (true, _) if c.config.open_stdin => Input::Console,
        _ => Input::None,
    };
    let mut monitor = Monitor::new(ctx, c, pid, started.pidfd.as_fd());
    // Listeners this process holds start the server when a query comes while the container runs.
    let mut resolver = resolver::Held::take(ctx);
    let mut tickers: Vec<&mut dyn Ticker> = Vec::new();
    tickers.extend(monitor.as_mut().map(|m| m as &mut dyn Ticker));
    tickers.extend(resolver.as_mut().map(|r| r as &mut dyn Ticker));
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
        tickers,
        before_shed: Some(Box::new(|| ctx.release_store())),
    });
    if let Some(m) = monitor.as_mut() {
        m.stop();
    }
    drop(monitor);
    drop(resolver);
    let _ = std::fs::remove_file(ctx.paths.attach_socket(&c.id));
    if let Some(l) = log.as_mut() {
        let _ = l.flush();
    }
    log::debug!("supervise {}: exited", c.name);
    crate::exec::record::forget(&ctx.paths, &c.name, &c.id);

    let code = match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 255,
    };
    // Whether the kernel's OOM killer struck is in the cgroup's counters, which go with it.
    let oom_killed = started
        .cgroup
        .as_ref()
        .is_some_and(|cg| cg.oom_kills().is_some_and(|n| n > 0));
    let left = !oom_killed && left_to_rm(ctx, c, &status);
    // An `rm -f` that killed it removes the cgroup too, once this process is gone: the supervisors of an
    // `rm -f` of many would otherwise all remove theirs at the same moment, each `rmdir` queued on the
    // kernel's one cgroup lock and on their parent directory's (and the `rm`'s lookups behind them).
    let mut cgroup_gone = true;
    if let Some(cg) = started.cgroup.filter(|_| !left) {
        // The parent stays for the next container (see `Cgroup::remove_keeping_parents`).
        cgroup_gone = cg.remove_keeping_parents().is_ok();
        log::debug!("supervise {}: cgroup removed", c.name);
    }
    if left {
        // `rm -f` killed it and records the exit with the removal: nothing left to record or tell.
        attachers.exited(code);
        log::debug!("supervise {}: exit left to rm", c.name);
        return Ok(Run {
            code,
            ran: begun.elapsed(),
            restart: false,
        });
    }
    let ran = begun.elapsed();
    let policy = c.config.host.restart_policy;
    if c.config.host.auto_remove && policy == RestartPolicy::No {
        // Never restarted: its exit is recorded with its removal, in one commit.
        let (removed, untold) = remove::remove_exited(ctx, c, code, oom_killed, cgroup_gone);
        attachers.exited(code);
        drop(held_mounts);
        // After the status: the container is gone from the store, and the resolver's rereading of its
        // networks' records (about a millisecond) no longer delays a bridged `run --rm`.
        if let Err(e) = untold.tell(ctx, c) {
            log::warn!("container {}: {}", c.name, crate::error_chain(&e));
        }
        removed?;
        log::debug!("supervise {}: exit recorded and removed", c.name);
        return Ok(Run {
            code,
            ran,
            restart: false,
        });
    }
    let exited = record_exit(ctx, c, code, oom_killed, |s| {
        let restart = policy.restarts(code, s.restart_count, s.stopped_by_user);
        s.status = if restart {
            Status::Restarting
        } else {
            Status::Exited
        };
        if restart {
            s.restart_count += 1;
        } else {
            s.supervisor_pid = 0;
            s.supervisor_start_time = 0;
        }
        s.pid = 0;
        s.pid_start_time = 0;
        s.pid_inode = 0;
        s.exit_code = code;
        s.oom_killed = oom_killed;
        s.finished_at = Some(now());
    });
    log::debug!("supervise {}: exit and die recorded", c.name);
    let recorded = match exited {
        Ok(Some(s)) => {
            c.state = s;
            let restart = c.state.status == Status::Restarting;
            let removed = if !restart && c.config.host.auto_remove {
                remove::remove_stopped(ctx, c)
            } else {
                if !restart {
                    // The last running container of its networks lets the resolver go.
                    tell_resolver(ctx, c);
                } else if c.config.readiness.as_ref().is_some_and(|r| r.runs()) {
                    // Not ready while it waits to restart.
                    dns::readiness_changed(ctx, c);
                }
                Ok(())
            };
            removed.map(|()| restart)
        }
        // Removed while it ran (`rm -f`): nothing left to record.
        Ok(None) => Ok(false),
        Err(e) => Err(e),
    };
    // Attachers learn the status once it is recorded (and a `--rm` container is gone), as `docker run`
    // returns only then; a container that is to restart carries on without them.
    attachers.exited(code);
    drop(held_mounts);
    let restart = recorded?;
    log::debug!("supervise {}: recorded and cleaned up", c.name);
    Ok(Run { code, ran, restart })
}

/// Opens (or creates) the container's log, and its directory under the state root with it: a container
/// `run --rm` made has none until then (see `runroot::lock_container`).
fn open_log(ctx: &Context, c: &Container, max_size: u64, max_files: u32) -> Option<LogWriter> {
    let path = ctx.paths.log(&c.id);
    LogWriter::open(&path, max_size, max_files)
        .or_else(|_| {
            let _ = std::fs::create_dir_all(ctx.paths.container_dir(&c.id));
            LogWriter::open(&path, max_size, max_files)
        })
        .ok()
}

/// A reference to the mount namespace of the container whose PID 1 is `pid` (the caller's child, not yet
/// reaped), so that PID 1's exit does not free it. Freeing a mount namespace unmounts every mount in it and
/// then waits for an RCU grace period (`namespace_unlock`, as `umount2` does); the last process to leave it
/// does that in `do_exit`, before its exit is signalled, so the supervisor would learn of the exit (and the
/// client of the status) only a grace period later: anywhere from 0.1 to 20 ms on a loaded machine. Dropped
/// once attachers have the status, the namespace goes then, in this process. Nothing can enter it meanwhile
/// (no process is in it, and this descriptor is close-on-exec). Not when the root is an overlay: that is
/// unmounted with the namespace, which must come before its directories are removed. `None` when the
/// namespace cannot be opened, as before.
fn hold_mounts(pid: nix::unistd::Pid, overlay_root: bool) -> Option<File> {
    if overlay_root {
        return None;
    }
    File::open(format!("/proc/{pid}/ns/mnt")).ok()
}

/// Whether PID 1 died of the SIGKILL of an `rm -f` that is removing the container (see
/// `State::removing`), which then records the exit itself; one read of the record, which takes no write
/// lock.
fn left_to_rm(ctx: &Context, c: &Container, status: &WaitStatus) -> bool {
    if !matches!(status, WaitStatus::Signaled(_, Signal::SIGKILL, _)) {
        return false;
    }
    let now = ctx
        .store()
        .and_then(|mut st| Ok(st.read(|tx| store::find(tx, c.id.as_str()))?));
    match now {
        Ok(now) => now.state.removing && now.state.pid == c.state.pid,
        Err(_) => false,
    }
}

/// Takes the resolver's listeners for a container on a network that is about to run (see
/// `dns::start_early`).
fn early_resolver(ctx: &Context, c: &Container) -> Option<dns::Early> {
    if crate::network::is_bridge_mode(&c.config.host.network_mode) {
        dns::start_early(ctx, &c.id)
    } else {
        None
    }
}

/// After a start that failed: the resolver's listeners taken early for the container are let go again,
/// unless another container of its networks runs.
fn let_resolver_go(ctx: &Context, c: &Container, early: Option<dns::Early>) {
    if early.is_some() {
        tell_resolver(ctx, c);
    }
}

/// Tells the resolver that the container started or stopped running (it listens only while a container
/// of its networks runs); nothing to tell for a container on no network. A resolver that cannot be told
/// is a warning (see `network::dns::update`).
fn tell_resolver(ctx: &Context, c: &Container) {
    if crate::network::is_bridge_mode(&c.config.host.network_mode) {
        let _ = dns::update(ctx, &c.id);
    } else if c.config.readiness.as_ref().is_some_and(|r| r.runs()) {
        // It joins another's network: that one's ready names may come or go with it.
        dns::readiness_changed(ctx, c);
    }
}
