//! `exec`: another process in a running container, as `docker exec`. Attached, its output goes straight to
//! this process's stdout and stderr (with `-t`, through a terminal this process relays) and its status is
//! returned. Detached, a small waiter process in a new session becomes its parent, so that it is reaped
//! when it exits: an unreaped process in the container's PID namespace would keep the container's PID 1
//! from ever finishing its exit.
//!
//! A container named by its name is looked up in its exec record (see [`record`]) before the store.

pub(crate) mod record;

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::pipe2;
use oci_spec::runtime::Spec;

use crate::container::Container;
use crate::context::Context;
use crate::error::{sys_err, EngineError};
use crate::process::read_report;
use crate::relay::{block_forwarded, pump, Pump, RawMode};
use crate::spec::{self, Joins, Root};
use crate::stop;
use crate::user;

/// What `exec` is asked for.
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
    pub stdin: bool,
    pub detach: bool,
}

/// Runs another process in a running container, as `docker exec`: the container's namespaces, cgroup,
/// seccomp filter and capabilities; its environment plus `env`; its working directory and user unless
/// given. Returns the process's exit status, or `None` when `detach` (it then runs on unwaited).
pub fn exec(ctx: &Context, reference: &str, req: &ExecRequest) -> Result<Option<i32>, EngineError> {
    let (c, init) = match record::running(&ctx.paths, reference) {
        Some(found) => {
            log::debug!("exec in {}: found in its exec record", found.0.name);
            found
        }
        None => {
            let c = ctx.find(reference)?;
            log::debug!("exec in {}: found", c.name);
            let init =
                stop::pidfd(&c)?.ok_or_else(|| EngineError::NotRunning(c.name.to_string()))?;
            (c, init)
        }
    };
    let (spec, process) = describe(ctx, &c, req)?;
    log::debug!("exec in {}: spec built", c.name);
    run(ctx, &spec, &init, &process, req)
}

/// The spec and process of a command run in running container `c` (for `exec`, and the supervisor's
/// healthchecks): the container's configuration with the request's command, environment, working
/// directory and user over it, its root as its init sees it.
pub(crate) fn describe(
    ctx: &Context,
    c: &Container,
    req: &ExecRequest,
) -> Result<(Spec, oci_spec::runtime::Process), EngineError> {
    // The container's root as its init sees it (an image's overlay is mounted only in its namespace).
    let root_dir = PathBuf::from(format!("/proc/{}/root", c.state.pid));
    let identity = user::resolve(req.user.as_deref().unwrap_or(&c.config.user), &root_dir)?;
    let mut config = c.config.clone();
    config.cmd = req.cmd.clone();
    config.entrypoint = Vec::new();
    config.tty = req.tty;
    config.host.init = false;
    for e in &req.env {
        let key = e.split('=').next().unwrap_or_default();
        config.env.retain(|x| x.split('=').next() != Some(key));
        config.env.push(e.clone());
    }
    if let Some(w) = &req.working_dir {
        config.working_dir = w.clone();
    }
    let etc = crate::spec::EtcFiles::in_dir(&crate::etc::dir(&ctx.paths, &c.id));
    let spec = spec::build(
        &config,
        &identity,
        &Root::Dir(root_dir),
        &Joins::default(),
        &etc,
        &ctx.paths.cgroup(&c.id),
    )?;
    let process = spec.process().clone().expect("a built spec has a process");
    Ok((spec, process))
}

/// Runs an extra process in a running container (see [`exec`]). Attached, its output goes straight
/// to this process's stdout and stderr (with `-t`, through a terminal this process relays) and its status
/// is returned. Detached, a small waiter process in a new session becomes its parent, so that it is reaped
/// when it exits: an unreaped process in the container's PID namespace would keep the container's PID 1
/// from ever finishing its exit.
fn run(
    ctx: &Context,
    spec: &Spec,
    init: &OwnedFd,
    process: &oci_spec::runtime::Process,
    req: &ExecRequest,
) -> Result<Option<i32>, EngineError> {
    if !req.detach {
        return run_attached(ctx, spec, init, process, req).map(Some);
    }
    ctx.release_store();
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
                        cgroup_root: ctx.cgroup_root.clone(),
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
            let r = read_report(report_r, "the exec waiter died before running the command");
            if r.is_ok() {
                crate::crash::after("exec:started");
            }
            r
        }
    }
}

pub(crate) fn run_attached(
    ctx: &Context,
    spec: &Spec,
    init: &OwnedFd,
    process: &oci_spec::runtime::Process,
    req: &ExecRequest,
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
        cgroup_root: ctx.cgroup_root.clone(),
        stdio: Some(stdio),
    };
    let ex = minotaur_runtime::exec(spec, init.as_fd(), process, &opts)?;
    log::debug!("exec: running (pid {})", ex.pid);
    crate::crash::after("exec:started");
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
