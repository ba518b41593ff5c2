//! Durations and statuses the way Docker prints them in `ps` and `images`.

use std::time::{Duration, SystemTime};

use crate::container::{State, Status};

/// Docker's `units.HumanDuration`: "Less than a second", "5 seconds", "About a minute", "3 hours", …
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    let m = s / 60;
    // Docker rounds hours to the nearest one.
    let h = (s as f64 / 3600.0 + 0.5) as u64;
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        _ if m == 1 => "About a minute".into(),
        _ if m < 60 => format!("{m} minutes"),
        _ if h == 1 => "About an hour".into(),
        _ if h < 48 => format!("{h} hours"),
        _ if h < 24 * 7 * 2 => format!("{} days", h / 24),
        _ if h < 24 * 30 * 2 => format!("{} weeks", h / 24 / 7),
        _ if h < 24 * 365 * 2 => format!("{} months", h / 24 / 30),
        // Go truncates the years of the exact hours, not of the rounded ones.
        _ => format!("{} years", s / 3600 / 24 / 365),
    }
}

/// How long ago `rfc3339` was, relative to `now`.
pub fn since(rfc3339: &str, now: SystemTime) -> Option<Duration> {
    let t = humantime::parse_rfc3339_weak(rfc3339).ok()?;
    Some(now.duration_since(t).unwrap_or_default())
}

/// The STATUS column of `docker ps`: "Up 5 minutes", "Up 3 seconds (healthy)", "Exited (0) 2 seconds
/// ago", "Restarting (1) Less than a second ago", "Created".
pub fn status(state: &State, now: SystemTime) -> String {
    let ago = |t: &Option<String>| t.as_deref().and_then(|t| since(t, now)).map(duration);
    match state.status {
        Status::Running => match &state.health {
            Some(h) => format!(
                "Up {} ({})",
                ago(&state.started_at).unwrap_or_default(),
                h.status.ps_word()
            ),
            None => format!("Up {}", ago(&state.started_at).unwrap_or_default()),
        },
        Status::Paused => format!("Up {} (Paused)", ago(&state.started_at).unwrap_or_default()),
        Status::Exited => match ago(&state.finished_at) {
            Some(a) => format!("Exited ({}) {a} ago", state.exit_code),
            None => format!("Exited ({})", state.exit_code),
        },
        Status::Created => "Created".into(),
        Status::Restarting => match ago(&state.finished_at) {
            Some(a) => format!("Restarting ({}) {a} ago", state.exit_code),
            None => format!("Restarting ({})", state.exit_code),
        },
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_dockers() {
        let d = |s| duration(Duration::from_secs(s));
        assert_eq!(d(0), "Less than a second");
        assert_eq!(d(5), "5 seconds");
        assert_eq!(d(61), "About a minute");
        assert_eq!(d(600), "10 minutes");
        assert_eq!(d(3700), "About an hour");
        assert_eq!(d(5 * 3600), "5 hours");
        assert_eq!(d(3 * 86400), "3 days");
        assert_eq!(d(20 * 86400), "2 weeks");
        assert_eq!(d(100 * 86400), "3 months");
        assert_eq!(d(800 * 86400), "2 years");
        // 730 days less half an hour: 17,520 hours when rounded, still 1 year to Go.
        assert_eq!(d(730 * 86400 - 1800), "1 years");
    }

    #[test]
    fn statuses() {
        let now = humantime::parse_rfc3339("2026-11-29T18:10:00Z").unwrap();
        let mut s = State {
            status: Status::Running,
            started_at: Some("2026-11-29T18:05:00Z".into()),
            ..Default::default()
        };
        assert_eq!(status(&s, now), "Up 5 minutes");
        s.status = Status::Exited;
        s.exit_code = 3;
        s.finished_at = Some("2026-11-29T18:09:58Z".into());
        assert_eq!(status(&s, now), "Exited (3) 2 seconds ago");
        assert_eq!(status(&State::default(), now), "Created");
        s.status = Status::Restarting;
        assert_eq!(status(&s, now), "Restarting (3) 2 seconds ago");
        s.status = Status::Running;
        s.health = Some(crate::healthcheck::Health::default());
        assert_eq!(status(&s, now), "Up 5 minutes (health: starting)");
        s.health.as_mut().unwrap().status = crate::healthcheck::HealthStatus::Healthy;
        assert_eq!(status(&s, now), "Up 5 minutes (healthy)");
    }
}
