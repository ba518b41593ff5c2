//! The supervisor's side of healthchecks: the timer, the check it runs, and recording the results.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, Pid};

use super::{go_format, rfc3339, Health, HealthResult, HealthStatus, Healthcheck};
use crate::attach::serve::Ticker;
use crate::container::{Container, State};
use crate::context::Context;
use crate::error::EngineError;
use crate::exec::{self, ExecRequest};
use crate::ids::ContainerId;
use crate::store;

/// Bytes of a check's output kept.
const MAX_OUTPUT: usize = 4096;

/// A check that is running: its process, its output so far, when it must be done by.
struct Probe {
    pid: Pid,
    pidfd: OwnedFd,
    out: Option<File>,
    output: Vec<u8>,
    start: SystemTime,
    begun: Instant,
}

/// The supervisor's healthcheck timer and the check it runs, driven by the supervisor's poll loop.
pub(crate) struct Monitor<'a> {
    ctx: &'a Context,
    id: ContainerId,
    name: String,
    check: Healthcheck,
    command: Vec<String>,
    /// PID 1 of the container, which checks are exec'd beside.
    init: BorrowedFd<'a>,
    started: Instant,
    status: HealthStatus,
    next: Instant,
    probe: Option<Probe>,
}

impl<'a> Monitor<'a> {
    /// A monitor for a container that has just started (its state recorded with health `starting`), or
    /// `None` when it has no check.
    pub(crate) fn new(ctx: &'a Context, c: &Container, init: BorrowedFd<'a>) -> Option<Self> {
        let check = c.config.healthcheck.clone()?;
        let command = check.command()?;
        let started = Instant::now();
        let mut m = Monitor {
            ctx,
            id: c.id.clone(),
            name: c.name.to_string(),
            check,
            command,
            init,
            started,
            status: HealthStatus::Starting,
            next: started,
            probe: None,
        };
        m.next = started + m.interval();
        Some(m)
    }

    /// Docker's choice of the time to the next check: the start interval while `starting` within the
    /// start period, else the interval.
    fn interval(&self) -> Duration {
        if self.started.elapsed() < self.check.start_period()
            && self.status == HealthStatus::Starting
        {
            self.check.start_interval()
        } else {
            self.check.interval()
        }
    }

    /// Runs a check: exec'd like `exec`, output into a pipe this end reads without blocking.
    fn launch(&mut self) {
        let start = SystemTime::now();
        let begun = Instant::now();
        let launched = (|| -> Result<Probe, EngineError> {
            let c = self.ctx.find(self.id.as_str())?;
            let req = ExecRequest {
                cmd: self.command.clone(),
                ..Default::default()
            };
            let (spec, process) = exec::describe(self.ctx, &c, &req)?;
            self.ctx.release_store();
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
                cgroup_root: self.ctx.cgroup_root.clone(),
                stdio: Some([null.as_fd(), w.as_fd(), w.as_fd()]),
            };
            let ex = minotaur_runtime::exec(&spec, self.init, &process, &opts)?;
            Ok(Probe {
                pid: ex.pid,
                pidfd: ex.pidfd,
                out: Some(File::from(r)),
                output: Vec::new(),
                start,
                begun,
            })
        })();
        match launched {
            Ok(p) => self.probe = Some(p),
            Err(e) => self.finish(HealthResult {
                start: rfc3339(start),
                end: rfc3339(SystemTime::now()),
                exit_code: -1,
                output: crate::error_chain(&e),
            }),
        }
    }

    /// Reads what the running check wrote; true once its output is closed.
    fn drain(p: &mut Probe) {
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

    /// Looks at the running check: done, timed out, or still running.
    fn poll_probe(&mut self) {
        let Some(p) = self.probe.as_mut() else { return };
        Self::drain(p);
        let timeout = self.check.timeout();
        let code = match waitpid(p.pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => Some((code, None)),
            Ok(WaitStatus::Signaled(_, sig, _)) => Some((128 + sig as i32, None)),
            Ok(_) if p.begun.elapsed() >= timeout => {
                let _ = minotaur_sys::pidfd_send_signal(&p.pidfd, Signal::SIGKILL);
                let _ = waitpid(p.pid, None);
                Some((
                    -1,
                    Some(format!(
                        "Health check exceeded timeout ({})",
                        go_format(timeout)
                    )),
                ))
            }
            Ok(_) => None,
            Err(_) => Some((-1, Some("the health check process was lost".into()))),
        };
        let Some((code, message)) = code else { return };
        let p = self.probe.take().expect("checked above");
        let output = message.unwrap_or_else(|| String::from_utf8_lossy(&p.output).into_owned());
        self.finish(HealthResult {
            start: rfc3339(p.start),
            end: rfc3339(SystemTime::now()),
            exit_code: code,
            output,
        });
    }

    /// Records a result in the container's state and sets the next check's time.
    fn finish(&mut self, result: HealthResult) {
        let in_start_period = self.started.elapsed() < self.check.start_period();
        let retries = self.check.retries();
        let mut changed = None;
        let recorded = self
            .ctx
            .store()
            .map_err(|e| crate::error_chain(&e))
            .and_then(|mut st| {
                st.write(|tx| {
                    store::update_state(tx, &self.id, |s: &mut State| {
                        let h = s.health.get_or_insert_with(Health::default);
                        let before = h.status;
                        h.record(result.clone(), retries, in_start_period);
                        if h.status != before {
                            changed = Some(h.status);
                        }
                        self.status = h.status;
                    })
                })
                .map_err(|e| crate::error_chain(&e))
            });
        self.ctx.release_store();
        if let Err(e) = recorded {
            log::warn!("container {}: cannot record a health check: {e}", self.name);
        }
        if let Some(status) = changed {
            event(&self.name, status);
        }
        self.next = Instant::now() + self.interval();
    }

    /// Ends a running check (the container is gone: it dies with the PID namespace) and reaps it.
    pub(crate) fn stop(&mut self) {
        if let Some(p) = self.probe.take() {
            let _ = minotaur_sys::pidfd_send_signal(&p.pidfd, Signal::SIGKILL);
            let _ = waitpid(p.pid, None);
        }
    }
}

impl Ticker for Monitor<'_> {
    fn due(&self) -> Instant {
        match &self.probe {
            Some(p) => p.begun + self.check.timeout(),
            None => self.next,
        }
    }

    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        match &self.probe {
            Some(p) => std::iter::once(p.pidfd.as_fd())
                .chain(p.out.as_ref().map(|f| f.as_fd()))
                .collect(),
            None => Vec::new(),
        }
    }

    fn tick(&mut self) {
        if self.probe.is_some() {
            self.poll_probe();
        } else if Instant::now() >= self.next {
            self.launch();
        }
    }
}

/// A change of health. The engine has no events log yet: when one exists, this is where a
/// `health_status: STATUS` event is recorded, as Docker records it.
fn event(container: &str, status: HealthStatus) {
    log::info!("container {container}: health_status: {}", status.as_str());
}
