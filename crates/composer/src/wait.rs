//! Waiting for containers: `depends_on` conditions before a start, and `up --wait`. State is polled from
//! the store (every 50 ms): there is no daemon to send events, and the supervisor records starts, exits
//! and health results there.

use std::time::{Duration, Instant};

use minotaur_engine::container::{Container, Status};
use minotaur_engine::context::Context;

use crate::error::{engine, ComposerError};

const POLL: Duration = Duration::from_millis(50);

/// The container's health status (`starting`, `healthy`, `unhealthy`) when it has a healthcheck.
pub fn health(c: &Container) -> Option<String> {
    c.inspect()
        .pointer("/State/Health/Status")
        .and_then(|s| s.as_str())
        .map(str::to_owned)
}

/// What a dependency must reach before its dependent starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Started,
    Healthy,
    CompletedSuccessfully,
    /// `up --wait`: running (and healthy when it has a healthcheck), or exited 0 (a one-shot that is done).
    Ready,
}

impl Condition {
    pub fn parse(s: &str) -> Condition {
        match s {
            "service_healthy" => Condition::Healthy,
            "service_completed_successfully" => Condition::CompletedSuccessfully,
            _ => Condition::Started,
        }
    }
}

/// Waits until container `name` meets `cond`, for service `dependent`'s sake; `timeout` `None` waits as
/// long as it takes.
pub fn until(
    ctx: &Context,
    name: &str,
    service: &str,
    dependent: &str,
    cond: Condition,
    timeout: Option<Duration>,
) -> Result<(), ComposerError> {
    let start = Instant::now();
    loop {
        let c = ctx
            .find_live(name)
            .map_err(engine("inspect container", name))?;
        let running = c.state.status == Status::Running;
        let exited = matches!(c.state.status, Status::Exited | Status::Dead);
        let code = c.state.exit_code;
        let done = match cond {
            Condition::Started => running || exited,
            Condition::CompletedSuccessfully => {
                if exited && code != 0 {
                    return Err(ComposerError::Failed {
                        dependency: service.to_owned(),
                        code,
                    });
                }
                exited
            }
            Condition::Healthy => match health(&c).as_deref() {
                None => {
                    return Err(ComposerError::NoHealthcheck {
                        service: dependent.to_owned(),
                        dependency: service.to_owned(),
                    })
                }
                Some("healthy") => true,
                Some("unhealthy") => {
                    return Err(ComposerError::Unhealthy {
                        container: name.to_owned(),
                    })
                }
                Some(_) if exited => {
                    return Err(ComposerError::Exited {
                        container: name.to_owned(),
                        code,
                    })
                }
                Some(_) => false,
            },
            Condition::Ready => {
                if exited && code != 0 {
                    return Err(ComposerError::Exited {
                        container: name.to_owned(),
                        code,
                    });
                }
                match health(&c).as_deref() {
                    Some("unhealthy") => {
                        return Err(ComposerError::Unhealthy {
                            container: name.to_owned(),
                        })
                    }
                    Some("healthy") => true,
                    Some(_) => exited,
                    None => running || exited,
                }
            }
        };
        if done {
            return Ok(());
        }
        if let Some(t) = timeout {
            if start.elapsed() >= t {
                return Err(ComposerError::Timeout {
                    secs: t.as_secs(),
                    what: format!("container {name}"),
                });
            }
        }
        std::thread::sleep(POLL);
    }
}
