//! The supervisor's side of checks: their timers, the checks they run, and recording the results.
//!
//! A container has up to three checks (see [`Role`]), each on its own timer. While a startup check has
//! not yet succeeded the others do not run; once it has, it stops and they begin, each after its first
//! delay. A check is an exec'd command (its pidfd and output pipe polled) or a socket (see
//! [`super::netprobe`]).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::PollFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, Pid};

use super::netprobe::NetProbe;
use super::step::Step;
use crate::attach::serve::Ticker;
use crate::container::{Container, State};
use crate::context::Context;
use crate::error::EngineError;
use crate::exec::{self, ExecRequest};
use crate::healthcheck::{
    go_format, rfc3339, Action, Health, HealthResult, HealthStatus, Healthcheck, Role,
};
use crate::ids::ContainerId;
use crate::store;

/// Bytes of a check's output kept.
const MAX_OUTPUT: usize = 4096;

/// An exec'd check that is running: its process and its output so far.
struct ExecProbe {
    pid: Pid,
    pidfd: OwnedFd,
    out: Option<File>,
    output: Vec<u8>,
}

enum Running {
    Exec(ExecProbe),
    Net(NetProbe),
}

/// A check under way.
struct Probe {
    running: Running,
    start: SystemTime,
    begun: Instant,
}

/// One of the container's checks and where it stands.
struct Check {
    role: Role,
    check: Healthcheck,
    action: Action,
    status: HealthStatus,
    next: Instant,
    probe: Option<Probe>,
}

/// The container the monitor checks, for what its checks need.
struct Target<'a> {
    ctx: &'a Context,
    id: ContainerId,
    name: String,
    /// PID 1 of the container, which checks are exec'd beside, and which a check that turns unhealthy
    /// with `KillUnhealthy` kills.
    init: BorrowedFd<'a>,
    /// Its network namespace, where socket checks are made.
    netns: PathBuf,
    started: Instant,
}

/// The supervisor's check timers and the checks they run, driven by the supervisor's poll loop.
pub(crate) struct Monitor<'a> {
    target: Target<'a>,
    checks: Vec<Check>,
}

impl<'a> Monitor<'a> {
    /// A monitor for a container that has just started (its state recorded with each check's status
    /// `starting`), or `None` when it has no check.
    pub(crate) fn new(
        ctx: &'a Context,
        c: &Container,
        pid: Pid,
        init: BorrowedFd<'a>,
    ) -> Option<Self> {
        let started = Instant::now();
        let cfg = &c.config;
        let checks: Vec<Check> = [
            (Role::Startup, &cfg.startup),
            (Role::Health, &cfg.healthcheck),
            (Role::Readiness, &cfg.readiness),
        ]
        .into_iter()
        .filter_map(|(role, check)| {
            let check = check.clone()?;
            let action = check.action()?;
            Some(Check {
                role,
                next: started + check.first(),
                check,
                action,
                status: HealthStatus::Starting,
                probe: None,
            })
        })
        .collect();
        if checks.is_empty() {
            return None;
        }
        Some(Monitor {
            target: Target {
                ctx,
                id: c.id.clone(),
                name: c.name.to_string(),
                init,
                netns: PathBuf::from(format!("/proc/{pid}/ns/net")),
                started,
            },
            checks,
        })
    }

    /// Whether the startup check (if any) still holds the others back.
    fn held(&self) -> bool {
        self.checks
            .iter()
            .any(|c| c.role == Role::Startup && c.status != HealthStatus::Healthy)
    }

    /// The checks that run now: the startup check until it succeeds, then the others.
    fn active(&self) -> impl Iterator<Item = &Check> {
        let held = self.held();
        self.checks
            .iter()
            .filter(move |c| (c.role == Role::Startup) == held)
    }

    /// Ends every running check (the container is gone: an exec'd one dies with the PID namespace) and
    /// reaps it.
    pub(crate) fn stop(&mut self) {
        for c in &mut self.checks {
            if let Some(Probe {
                running: Running::Exec(p),
                ..
            }) = c.probe.take()
            {
                let _ = minotaur_sys::pidfd_send_signal(&p.pidfd, Signal::SIGKILL);
                let _ = waitpid(p.pid, None);
            }
        }
    }
}

impl Check {
    /// Docker's choice of the time to the next check: the start interval while `starting` within the
    /// start period, else the interval.
    fn interval(&self, t: &Target<'_>) -> Duration {
        if t.started.elapsed() < self.check.start_period() && self.status == HealthStatus::Starting
        {
            self.check.start_interval()
        } else {
            self.check.interval()
        }
    }

    fn due(&self) -> Instant {
        match &self.probe {
            Some(p) => p.begun + self.check.timeout(),
            None => self.next,
        }
    }

    /// Starts a check: exec'd like `exec`, output into a pipe read without blocking; or a socket.
    fn launch(&mut self, t: &Target<'_>) {
        let start = SystemTime::now();
        let begun = Instant::now();
        let running = match &self.action {
            Action::Exec(cmd) => launch_exec(t, cmd.clone())
                .map(Running::Exec)
                .map_err(|e| crate::error_chain(&e)),
            net => NetProbe::start(&t.netns, net).map(Running::Net),
        };
        match running {
            Ok(running) => {
                self.probe = Some(Probe {
                    running,
                    start,
                    begun,
                });
                // A socket check may be decided at once (a refused connection on loopback).
                if matches!(
                    self.probe,
                    Some(Probe {
                        running: Running::Net(_),
                        ..
                    })
                ) {
                    self.poll(t);
                }
            }
            Err(output) => self.finish(
                t,
                HealthResult {
                    start: rfc3339(start),
                    end: rfc3339(SystemTime::now()),
                    exit_code: -1,
                    output,
                },
            ),
        }
    }

    /// Looks at the running check: done, timed out, or still running.
    fn poll(&mut self, t: &Target<'_>) {
        let Some(p) = self.probe.as_mut() else { return };
        let timeout = self.check.timeout();
        let timed_out = p.begun.elapsed() >= timeout;
        let over = || {
            format!(
                "Health check exceeded timeout ({})",
                go_format(self.check.timeout())
            )
        };
        let done = match &mut p.running {
            Running::Exec(e) => {
                drain(e);
                match waitpid(e.pid, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(_, code)) => Some((code, None)),
                    Ok(WaitStatus::Signaled(_, sig, _)) => Some((128 + sig as i32, None)),
                    Ok(_) if timed_out => {
                        let _ = minotaur_sys::pidfd_send_signal(&e.pidfd, Signal::SIGKILL);
                        let _ = waitpid(e.pid, None);
                        Some((-1, Some(over())))
                    }
                    Ok(_) => None,
                    Err(_) => Some((-1, Some("the health check process was lost".into()))),
                }
            }
            Running::Net(n) => match n.step() {
                Step::Done(code, output) => Some((code, Some(output))),
                Step::Pending if timed_out => Some((-1, Some(over()))),
                Step::Pending => None,
            },
        };
        let Some((code, message)) = done else { return };
        let p = self.probe.take().expect("checked above");
        let output = message.unwrap_or_else(|| match &p.running {
            Running::Exec(e) => String::from_utf8_lossy(&e.output).into_owned(),
            Running::Net(_) => String::new(),
        });
        self.finish(
            t,
            HealthResult {
                start: rfc3339(p.start),
                end: rfc3339(SystemTime::now()),
                exit_code: code,
                output,
            },
        );
    }

    /// Records a result in the container's state and sets the next check's time; kills PID 1 when the
    /// check turns unhealthy and asks for it.
    fn finish(&mut self, t: &Target<'_>, result: HealthResult) {
        let in_start_period = t.started.elapsed() < self.check.start_period();
        let retries = self.check.retries();
        let successes = self.check.success_threshold();
        let role = self.role;
        let mut changed = None;
        let recorded = t
            .ctx
            .store()
            .map_err(|e| crate::error_chain(&e))
            .and_then(|mut st| {
                st.write(|tx| {
                    store::update_state(tx, &t.id, |s: &mut State| {
                        let h = match role {
                            Role::Health => &mut s.health,
                            Role::Readiness => &mut s.readiness,
                            Role::Startup => &mut s.startup,
                        }
                        .get_or_insert_with(Health::default);
                        let before = h.status;
                        h.record_with(result.clone(), retries, successes, in_start_period);
                        if h.status != before {
                            changed = Some(h.status);
                        }
                        self.status = h.status;
                    })
                })
                .map_err(|e| crate::error_chain(&e))
            });
        t.ctx.release_store();
        if let Err(e) = recorded {
            log::warn!(
                "container {}: cannot record a {} check: {e}",
                t.name,
                role.as_str()
            );
        }
        if let Some(status) = changed {
            event(&t.name, role, status);
            if role == Role::Readiness {
                if let Ok(c) = t.ctx.find(t.id.as_str()) {
                    crate::network::dns::readiness_changed(t.ctx, &c);
                }
                t.ctx.release_store();
            }
            if status == HealthStatus::Unhealthy && self.check.kill_unhealthy {
                log::info!(
                    "container {}: {} check failed {retries} times: killing it",
                    t.name,
                    role.as_str()
                );
                let _ = minotaur_sys::pidfd_send_signal(t.init, Signal::SIGKILL);
            }
        }
        self.next = Instant::now() + self.interval(t);
    }
}

/// Execs a check's command into the container, its output into a pipe this end reads without blocking.
fn launch_exec(t: &Target<'_>, cmd: Vec<String>) -> Result<ExecProbe, EngineError> {
    let c = t.ctx.find(t.id.as_str())?;
    let req = ExecRequest {
        cmd,
        ..Default::default()
    };
    let (spec, process) = exec::describe(t.ctx, &c, &req)?;
    t.ctx.release_store();
    let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(crate::error::sys_err("make a pipe"))?;
    fcntl(&r, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
        .map_err(crate::error::sys_err("make a pipe non-blocking"))?;
    let null = nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(crate::error::sys_err("open /dev/null"))?;
    let opts = minotaur_runtime::ExecOptions {
        cgroup_root: t.ctx.cgroup_root.clone(),
        stdio: Some([null.as_fd(), w.as_fd(), w.as_fd()]),
    };
    let ex = minotaur_runtime::exec(&spec, t.init, &process, &opts)?;
    Ok(ExecProbe {
        pid: ex.pid,
        pidfd: ex.pidfd,
        out: Some(File::from(r)),
        output: Vec::new(),
    })
}

/// Reads what the running check wrote, until its output would block or is closed.
fn drain(p: &mut ExecProbe) {
    let mut buf = [0u8; 4096];
    while let Some(f) = p.out.as_mut() {
        match f.read(&mut buf) {
            Ok(0) => p.out = None,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(p.output.len());
                p.output.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

impl Ticker for Monitor<'_> {
    fn due(&self) -> Instant {
        self.active()
            .map(Check::due)
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
    }

    fn fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        let mut out = Vec::new();
        for c in self.active() {
            match c.probe.as_ref().map(|p| &p.running) {
                Some(Running::Exec(e)) => {
                    out.push((e.pidfd.as_fd(), PollFlags::POLLIN));
                    out.extend(e.out.as_ref().map(|f| (f.as_fd(), PollFlags::POLLIN)));
                }
                Some(Running::Net(n)) => out.push(n.interest()),
                None => {}
            }
        }
        out
    }

    fn tick(&mut self) {
        let held = self.held();
        let now = Instant::now();
        for c in self
            .checks
            .iter_mut()
            .filter(|c| (c.role == Role::Startup) == held)
        {
            if c.probe.is_some() {
                c.poll(&self.target);
            } else if now >= c.next {
                c.launch(&self.target);
            }
        }
        // The startup check has just succeeded: the others begin now, each after its first delay.
        if held && !self.held() {
            let now = Instant::now();
            for c in self.checks.iter_mut().filter(|c| c.role != Role::Startup) {
                c.next = now + c.check.first();
            }
        }
    }
}

/// A change of a check's status. The engine has no events log yet: when one exists, this is where a
/// `health_status: STATUS` event is recorded for the healthcheck, as Docker records it.
fn event(container: &str, role: Role, status: HealthStatus) {
    match role {
        Role::Health => log::info!("container {container}: health_status: {}", status.as_str()),
        _ => log::info!(
            "container {container}: {}: {}",
            role.as_str(),
            status.as_str()
        ),
    }
}
