//! Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`) and what the supervisor decides
//! with them when a container's PID 1 exits: whether to start it again, and after how long.
//!
//! Docker's rules, which this follows:
//! - `no` never restarts; `always` and `unless-stopped` always do; `on-failure` does when the exit status is
//!   not 0, and with `:N` at most N times in a row.
//! - A container stopped by the user (`stop`, or `kill` with SIGKILL or its stop signal) is not restarted,
//!   whatever the policy.
//! - The delay before a restart starts at 100 ms and doubles with each restart, up to a minute; a run that
//!   lasted 10 s or more starts the delay over.
//! - `RestartCount` counts the restarts the policy made since the user last started the container.
//!
//! After a reboot there is no supervisor left: `system boot` (see the `boot` module) starts the `always`
//! containers and the `unless-stopped` ones the user did not stop.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What `--restart` failed on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("invalid restart policy {0:?}: expected no, on-failure[:MAX-RETRIES], always or unless-stopped")]
    Unknown(String),
    #[error("invalid restart policy {0:?}: the maximum retry count must be a number of 0 or more")]
    BadCount(String),
    #[error("invalid restart policy {0:?}: only on-failure takes a maximum retry count")]
    CountNotAllowed(String),
}

/// A container's restart policy (Docker's `HostConfig.RestartPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "name", content = "max")]
pub enum RestartPolicy {
    #[default]
    No,
    /// Restart after a non-zero exit; at most this many times in a row when not 0.
    OnFailure(u32),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// Docker's name (`HostConfig.RestartPolicy.Name`; an unset policy is "no").
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure(_) => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    /// `HostConfig.RestartPolicy.MaximumRetryCount`.
    pub fn max_retries(self) -> u32 {
        match self {
            RestartPolicy::OnFailure(n) => n,
            _ => 0,
        }
    }

    /// Whether the supervisor starts the container again after PID 1 exited with `exit_code`, having
    /// restarted it `restarts` times already. `stopped_by_user`: `stop` or `kill` asked for this exit.
    pub fn restarts(self, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => exit_code != 0 && (max == 0 || restarts < max),
        }
    }

    /// Whether `system boot` starts the container: `always` does, `unless-stopped` unless the user
    /// stopped it.
    pub fn starts_at_boot(self, stopped_by_user: bool) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::UnlessStopped => !stopped_by_user,
            RestartPolicy::No | RestartPolicy::OnFailure(_) => false,
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::OnFailure(n) if *n > 0 => write!(f, "on-failure:{n}"),
            p => f.write_str(p.name()),
        }
    }
}

impl FromStr for RestartPolicy {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let policy = match name {
            "no" | "" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure(0),
            _ => return Err(PolicyError::Unknown(s.to_owned())),
        };
        match (policy, count) {
            (_, None) => Ok(policy),
            (RestartPolicy::OnFailure(_), Some(c)) => c
                .parse::<u32>()
                .map(RestartPolicy::OnFailure)
                .map_err(|_| PolicyError::BadCount(s.to_owned())),
            (_, Some(_)) => Err(PolicyError::CountNotAllowed(s.to_owned())),
        }
    }
}

/// The delay before the next restart: Docker's restart manager.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backoff {
    delay: Duration,
}

/// The first delay, and how much each restart multiplies it by.
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long starts the delay over.
const RESET_AFTER: Duration = Duration::from_secs(10);

impl Backoff {
    /// The delay before restarting a container whose last run lasted `ran`.
    pub fn next(&mut self, ran: Duration) -> Duration {
        if ran >= RESET_AFTER || self.delay.is_zero() {
            self.delay = FIRST_DELAY;
        } else {
            self.delay = (self.delay * 2).min(MAX_DELAY);
        }
        self.delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_as_dockers() {
        let p = |s: &str| s.parse::<RestartPolicy>();
        assert_eq!(p("no"), Ok(RestartPolicy::No));
        assert_eq!(p("always"), Ok(RestartPolicy::Always));
        assert_eq!(p("unless-stopped"), Ok(RestartPolicy::UnlessStopped));
        assert_eq!(p("on-failure"), Ok(RestartPolicy::OnFailure(0)));
        assert_eq!(p("on-failure:3"), Ok(RestartPolicy::OnFailure(3)));
        assert!(matches!(p("on-failure:-1"), Err(PolicyError::BadCount(_))));
        assert!(matches!(p("on-failure:x"), Err(PolicyError::BadCount(_))));
        assert!(matches!(
            p("always:2"),
            Err(PolicyError::CountNotAllowed(_))
        ));
        assert!(matches!(p("sometimes"), Err(PolicyError::Unknown(_))));
        assert!(matches!(p("no:1"), Err(PolicyError::CountNotAllowed(_))));
        assert_eq!(RestartPolicy::OnFailure(3).to_string(), "on-failure:3");
        assert_eq!(RestartPolicy::OnFailure(0).to_string(), "on-failure");
    }

    #[test]
    fn on_failure_counts_and_a_user_stop_wins() {
        let p = RestartPolicy::OnFailure(2);
        assert!(p.restarts(1, 0, false));
        assert!(p.restarts(137, 1, false));
        assert!(!p.restarts(1, 2, false));
        assert!(!p.restarts(0, 0, false));
        assert!(RestartPolicy::OnFailure(0).restarts(1, 1000, false));
        assert!(RestartPolicy::Always.restarts(0, 5, false));
        assert!(!RestartPolicy::Always.restarts(0, 5, true));
        assert!(!RestartPolicy::No.restarts(1, 0, false));
    }

    #[test]
    fn boot_starts_always_and_unless_stopped_ones_not_stopped() {
        assert!(RestartPolicy::Always.starts_at_boot(true));
        assert!(RestartPolicy::UnlessStopped.starts_at_boot(false));
        assert!(!RestartPolicy::UnlessStopped.starts_at_boot(true));
        assert!(!RestartPolicy::OnFailure(0).starts_at_boot(false));
        assert!(!RestartPolicy::No.starts_at_boot(false));
    }

    #[test]
    fn the_delay_doubles_and_starts_over_after_ten_seconds() {
        let mut b = Backoff::default();
        let quick = Duration::from_millis(5);
        let ms = |n| Duration::from_millis(n);
        assert_eq!(b.next(quick), ms(100));
        assert_eq!(b.next(quick), ms(200));
        assert_eq!(b.next(quick), ms(400));
        assert_eq!(b.next(Duration::from_secs(10)), ms(100));
        for _ in 0..20 {
            b.next(quick);
        }
        assert_eq!(b.next(quick), Duration::from_secs(60));
    }

    #[test]
    fn the_policy_round_trips_through_json() {
        for p in [
            RestartPolicy::No,
            RestartPolicy::OnFailure(4),
            RestartPolicy::Always,
            RestartPolicy::UnlessStopped,
        ] {
            let j = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<RestartPolicy>(&j).unwrap(), p);
        }
    }
}
