//! Signals to a running container and waiting for its end: `kill`, `stop` (its stop signal, then SIGKILL),
//! `wait`. A container's PID 1 is reached by pidfd, verified against the start time its record holds.

use std::os::fd::OwnedFd;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::container::{Container, Status};
use crate::context::Context;
use crate::error::EngineError;
use crate::events;
use crate::process::{pidfd_if_alive, wait_fd};

/// How long a SIGKILLed container may take to be gone.
const KILL_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `signal` to a running container's PID 1.
pub fn kill(ctx: &Context, reference: &str, signal: Signal) -> Result<Container, EngineError> {
    let c = ctx.find(reference)?;
    let fd = pidfd(&c)?.ok_or_else(|| EngineError::NotRunning(c.name.to_string()))?;
    minotaur_sys::pidfd_send_signal(&fd, signal).map_err(|source| EngineError::Sys {
        what: format!("signal container {}", c.name),
        source,
    })?;
    events::container(ctx, "kill", &c, &[("signal", &(signal as i32).to_string())]);
    Ok(c)
}

/// Stops a container: its stop signal, then SIGKILL after `timeout`; returns once its exit is recorded.
pub fn stop(
    ctx: &Context,
    reference: &str,
    timeout: Option<Duration>,
) -> Result<Container, EngineError> {
    let c = ctx.find(reference)?;
    let Some(fd) = pidfd(&c)? else {
        settle(&c);
        return Ok(c);
    };
    let timeout = timeout
        .or(c.config.stop_timeout.map(|s| Duration::from_secs(s.into())))
        .unwrap_or(Duration::from_secs(10));
    let sig = parse_signal(&c.config.stop_signal)?;
    if minotaur_sys::pidfd_send_signal(&fd, sig).is_ok() {
        events::container(ctx, "kill", &c, &[("signal", &(sig as i32).to_string())]);
    }
    if !wait_fd(&fd, Some(timeout)) {
        events::container(ctx, "kill", &c, &[("signal", "9")]);
        kill_and_wait(&c, &fd)?;
    }
    wait_supervisor(&c);
    events::container(ctx, "stop", &c, &[]);
    Ok(c)
}

/// Waits until the container is not running; returns its exit code.
pub fn wait(ctx: &Context, reference: &str) -> Result<i32, EngineError> {
    let c = ctx.find(reference)?;
    if let Some(fd) = pidfd(&c)? {
        wait_fd(&fd, None);
    }
    settle(&c);
    let c = ctx.find(c.id.as_str())?;
    Ok(c.state.exit_code)
}

/// SIGKILLs PID 1 and waits for it to be gone. Bounded: a PID 1 whose exit waits on a process of its
/// namespace that nobody reaps would otherwise hang the caller.
pub(crate) fn kill_and_wait(c: &Container, fd: &OwnedFd) -> Result<(), EngineError> {
    let _ = minotaur_sys::pidfd_send_signal(fd, Signal::SIGKILL);
    if wait_fd(fd, Some(KILL_TIMEOUT)) {
        Ok(())
    } else {
        Err(EngineError::Stuck(
            c.name.to_string(),
            KILL_TIMEOUT.as_secs(),
        ))
    }
}

/// For a container recorded as running: waits until its supervisor has recorded how it ended. PID 1
/// may already be gone (killed a moment ago) while the record still says running, with no exit code.
pub(crate) fn settle(c: &Container) {
    if c.state.status == Status::Running {
        wait_supervisor(c);
    }
}

/// Waits until the supervisor has recorded the exit (it exits right after).
fn wait_supervisor(c: &Container) {
    if let Some(fd) = pidfd_if_alive(c.state.supervisor_pid, c.state.supervisor_start_time) {
        wait_fd(&fd, Some(Duration::from_secs(30)));
    }
}

/// A pidfd for the container's PID 1 if it is still the process the state names.
pub(crate) fn pidfd(c: &Container) -> Result<Option<OwnedFd>, EngineError> {
    if c.state.status != Status::Running {
        return Ok(None);
    }
    Ok(pidfd_if_alive(c.state.pid, c.state.pid_start_time))
}

/// Parses a signal name (`SIGTERM`, `TERM`, `term`) or number.
pub fn parse_signal(s: &str) -> Result<Signal, EngineError> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| EngineError::BadSignal(s.to_owned()));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse()
        .map_err(|_| EngineError::BadSignal(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("kill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("SIGFOO").is_err());
        assert!(parse_signal("99").is_err());
    }
}
