//! Signals to a running container and waiting for its end: `kill`, `stop` (its stop signal, then SIGKILL),
//! `wait`. A container's PID 1 is reached by pidfd, verified against the start time its record holds.
//!
//! `stop` (and `kill` with SIGKILL or the stop signal) first records that the user stopped the container,
//! so that its supervisor does not restart it (see [`crate::restart`]). A supervisor waiting out a
//! restart's back-off is woken with SIGTERM; one that was already making the container again is
//! caught by looking at the record until the supervisor is gone.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::container::{Container, Status};
use crate::context::Context;
use crate::error::EngineError;
use crate::events;
use crate::process::{pidfd_if_alive, wait_fd};
use crate::store;

/// How long a SIGKILLed container may take to be gone.
const KILL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a supervisor may take to record an exit.
const SUPERVISOR_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `signal` to a running container's PID 1. SIGKILL and the container's stop signal count as the
/// user stopping it: its restart policy does not start it again.
pub fn kill(ctx: &Context, reference: &str, signal: Signal) -> Result<Container, EngineError> {
    let c = ctx.find(reference)?;
    let fd = pidfd(&c)?.ok_or_else(|| EngineError::NotRunning(c.name.to_string()))?;
    if signal == Signal::SIGKILL || parse_signal(&c.config.stop_signal).ok() == Some(signal) {
        mark_stopped(ctx, &c)?;
    }
    // Recorded before the signal is sent: the supervisor records the `die` it causes, and a follower
    // must see them in that order, as Docker's do.
    events::container(ctx, "kill", &c, &[("signal", &(signal as i32).to_string())]);
    minotaur_sys::pidfd_send_signal(&fd, signal).map_err(|source| EngineError::Sys {
        what: format!("signal container {}", c.name),
        source,
    })?;
    Ok(c)
}

/// Stops a container: its stop signal, then SIGKILL after `timeout`; returns once its exit is recorded.
pub fn stop(
    ctx: &Context,
    reference: &str,
    timeout: Option<Duration>,
) -> Result<Container, EngineError> {
    let c = ctx.find(reference)?;
    let timeout = timeout
        .or(c.config.stop_timeout.map(|s| Duration::from_secs(s.into())))
        .unwrap_or(Duration::from_secs(10));
    let sig = parse_signal(&c.config.stop_signal)?;
    halt(ctx, &c, sig, timeout)?;
    events::container(ctx, "stop", &c, &[]);
    Ok(c)
}

/// Records that the user stopped the container, so that its supervisor does not restart it.
fn mark_stopped(ctx: &Context, c: &Container) -> Result<(), EngineError> {
    let mut st = ctx.store()?;
    st.write(|tx| store::update_state(tx, &c.id, |s| s.stopped_by_user = true))?;
    Ok(())
}

/// Ends a container for the user: marks it stopped, sends `sig` to its PID 1 (SIGKILL after `timeout`),
/// wakes a supervisor waiting to restart it, and returns once its supervisor is gone. A supervisor that
/// was making the container again as it was marked records it running, and then it is stopped too.
pub(crate) fn halt(
    ctx: &Context,
    c: &Container,
    sig: Signal,
    timeout: Duration,
) -> Result<(), EngineError> {
    if c.state.status == Status::Created {
        return Ok(());
    }
    mark_stopped(ctx, c)?;
    crate::crash::after("stop:marked");
    wait_halted(ctx, c, sig, timeout, 0)
}

/// Signals a container marked stopped (unless its PID 1 `signalled` already was), and waits until its
/// supervisor is gone; see [`halt`].
pub(crate) fn wait_halted(
    ctx: &Context,
    c: &Container,
    sig: Signal,
    timeout: Duration,
    mut signalled: i32,
) -> Result<(), EngineError> {
    let give_up = Instant::now() + timeout + KILL_TIMEOUT + SUPERVISOR_TIMEOUT;
    loop {
        let c = match ctx.find(c.id.as_str()) {
            Ok(c) => c,
            // Removed meanwhile: the supervisor of a `--rm` container removes it once it exited.
            Err(EngineError::Store(crate::store::StoreError::NoSuchContainer(_))) => return Ok(()),
            Err(e) => return Err(e),
        };
        if let Some(fd) = pidfd(&c)? {
            if c.state.pid != signalled {
                signalled = c.state.pid;
                events::container(ctx, "kill", &c, &[("signal", &(sig as i32).to_string())]);
                let _ = minotaur_sys::pidfd_send_signal(&fd, sig);
                crate::crash::after("stop:signalled");
                if sig == Signal::SIGKILL {
                    // Nothing stronger to send: one event, and a bounded wait.
                    kill_and_wait(&c, &fd)?;
                } else if !wait_fd(&fd, Some(timeout)) {
                    events::container(ctx, "kill", &c, &[("signal", "9")]);
                    kill_and_wait(&c, &fd)?;
                }
            }
        }
        let Some(sup) = pidfd_if_alive(c.state.supervisor_pid, c.state.supervisor_start_time)
        else {
            return Ok(());
        };
        if c.state.status == Status::Restarting {
            let _ = minotaur_sys::pidfd_send_signal(&sup, Signal::SIGTERM);
        }
        if wait_fd(&sup, Some(Duration::from_millis(100))) || Instant::now() > give_up {
            return Ok(());
        }
    }
}

/// Waits until the container is not running; returns its exit code.
pub fn wait(ctx: &Context, reference: &str) -> Result<i32, EngineError> {
    let c = ctx.find(reference)?;
    if let Some(fd) = pidfd(&c)? {
        wait_fd(&fd, None);
    }
    settle(ctx, &c);
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

/// For a container recorded as running: waits until its supervisor has recorded how it ended (it may go
/// on to restart it). PID 1 may already be gone (killed a moment ago) while the record still says
/// running, with no exit code.
pub(crate) fn settle(ctx: &Context, c: &Container) {
    let give_up = Instant::now() + SUPERVISOR_TIMEOUT;
    let mut c = c.clone();
    while c.state.status == Status::Running && Instant::now() < give_up {
        let Some(sup) = pidfd_if_alive(c.state.supervisor_pid, c.state.supervisor_start_time)
        else {
            return;
        };
        if wait_fd(&sup, Some(Duration::from_millis(20))) {
            return;
        }
        match ctx.find(c.id.as_str()) {
            Ok(now) if now.state.pid == c.state.pid || now.state.status != Status::Running => {
                c = now
            }
            // Running again, a new PID 1: that run's end is not what was waited for.
            _ => return,
        }
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
