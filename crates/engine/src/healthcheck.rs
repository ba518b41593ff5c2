//! A container's checks as configured and as they turned out: its healthcheck (`--health-*` flags over the
//! image's `HEALTHCHECK`), Kubernetes' readiness and startup probes, and the health their results add up to
//! (`.State.Health` in `inspect`). What runs them is the supervisor's monitor (the `health` module).
//!
//! Docker's rules, which this follows: the first check runs one interval after the start (the start
//! interval while the container is `starting` within its start period); a check exiting 0 makes it
//! `healthy` and resets the failing streak; any other result (a non-zero exit, a timeout, a check that
//! could not run) adds to the streak, except while still `starting` within the start period, and `retries`
//! failures in a row make it `unhealthy`; the last five results are kept. Durations are stored as
//! nanoseconds, as Docker stores them in `Config.Healthcheck`.
//!
//! Kubernetes' probes (from `kube play`) are checks too, with four additions Docker's has not, each a
//! field left out of the JSON when unset, so a Docker healthcheck reads and prints as before:
//! - two kinds of `Test` that run no command in the container, which may have no `curl`:
//!   `["HTTP-GET", URL, "Header: value"...]`, `["TCP", "ADDR:PORT"]` and `["GRPC", "ADDR:PORT",
//!   SERVICE]` (the service is optional), done by the supervisor from inside the container's network
//!   namespace (the `health` module's `netprobe` and `grpc`);
//! - `InitialDelay`: the first check runs after it (Kubernetes' `initialDelaySeconds`), not after one
//!   interval, and failures count from the start;
//! - `SuccessThreshold`: successes in a row that make an unhealthy (or starting) check healthy again;
//! - `KillUnhealthy`: PID 1 is killed when the check turns unhealthy, and the restart policy decides what
//!   follows, as the kubelet does for a failing liveness or startup probe.
//!
//! A container has up to three checks ([`Role`]): its healthcheck (`State.Health`, Kubernetes'
//! liveness), a readiness check (`State.Readiness`: whether a Service's name answers with its address)
//! and a startup check, which holds the other two back until it has succeeded once.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// What a `--health-*` flag failed on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HealthError {
    #[error("invalid --{flag} {value:?}: expected a duration such as 30s, 1m30s or 500ms")]
    Duration { flag: &'static str, value: String },
    #[error("invalid --{flag} {value:?}: it cannot be negative")]
    Negative { flag: &'static str, value: String },
    #[error("invalid --{flag} {value:?}: it cannot be less than 1ms (0 takes the default)")]
    TooShort { flag: &'static str, value: String },
    #[error("--no-healthcheck conflicts with --{0}")]
    Conflict(&'static str),
    #[error("invalid --health-cmd: the command is empty")]
    EmptyCommand,
}

/// Docker's defaults.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 3;
/// Results kept in `.State.Health.Log`.
const LOG_ENTRIES: usize = 5;

/// A container's healthcheck, Docker's `Config.Healthcheck`: `Test` is `["CMD", args…]`,
/// `["CMD-SHELL", command]` or `["NONE"]` (checks off); an empty `Test` inherits the image's. Zero
/// durations and retries take the image's value, then Docker's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    #[serde(default)]
    pub test: Vec<String>,
    #[serde(default)]
    pub interval: i64,
    #[serde(default)]
    pub timeout: i64,
    #[serde(default)]
    pub start_period: i64,
    #[serde(default)]
    pub start_interval: i64,
    #[serde(default)]
    pub retries: i64,
    /// Kubernetes' `initialDelaySeconds`, in nanoseconds: when set, the first check runs after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<i64>,
    /// Kubernetes' `successThreshold` (0: 1).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub success_threshold: i64,
    /// Kill PID 1 when the check turns unhealthy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kill_unhealthy: bool,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// What a check does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A command exec'd in the container.
    Exec(Vec<String>),
    /// An HTTP GET from inside the container's network namespace: healthy on a status from 200 to 399.
    HttpGet {
        /// `https`: the request goes over TLS, the server's certificate unverified (as the kubelet's).
        tls: bool,
        addr: std::net::SocketAddr,
        /// The request target (`/healthz?x=1`).
        path: String,
        /// `Host` as the URL named it.
        host: String,
        headers: Vec<(String, String)>,
    },
    /// A TCP connection from inside the container's network namespace: healthy once it is accepted.
    Tcp(std::net::SocketAddr),
    /// A `grpc.health.v1.Health/Check` call from inside the container's network namespace (see
    /// [`grpc`]): healthy when the service (the server's when empty) is `SERVING`.
    Grpc {
        addr: std::net::SocketAddr,
        service: String,
    },
}

/// Which of a container's checks a check is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The healthcheck (Kubernetes' liveness probe): `State.Health`.
    Health,
    /// `State.Readiness`.
    Readiness,
    /// Holds the others back until it succeeds once.
    Startup,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Health => "health",
            Role::Readiness => "readiness",
            Role::Startup => "startup",
        }
    }
}

impl Healthcheck {
    /// The user's check over the image's, field by field, as Docker merges them at create.
    pub fn over(self, image: Option<&Healthcheck>) -> Healthcheck {
        let Some(img) = image else { return self };
        let pick = |a: i64, b: i64| if a != 0 { a } else { b };
        Healthcheck {
            test: if self.test.is_empty() {
                img.test.clone()
            } else {
                self.test
            },
            interval: pick(self.interval, img.interval),
            timeout: pick(self.timeout, img.timeout),
            start_period: pick(self.start_period, img.start_period),
            start_interval: pick(self.start_interval, img.start_interval),
            retries: pick(self.retries, img.retries),
            ..self
        }
    }

    /// The command a check runs, or `None` when checks are off or the check runs no command.
    pub fn command(&self) -> Option<Vec<String>> {
        match self.action() {
            Some(Action::Exec(cmd)) => Some(cmd),
            _ => None,
        }
    }

    /// What a check does, or `None` when checks are off (or the test is not understood).
    pub fn action(&self) -> Option<Action> {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => {
                Some(Action::Exec(rest.to_vec()))
            }
            Some((kind, [cmd])) if kind == "CMD-SHELL" => Some(Action::Exec(vec![
                "/bin/sh".into(),
                "-c".into(),
                cmd.clone(),
            ])),
            Some((kind, [url, headers @ ..])) if kind == "HTTP-GET" => {
                http_action(url, headers).ok()
            }
            Some((kind, [addr])) if kind == "TCP" => addr.parse().ok().map(Action::Tcp),
            Some((kind, [addr, service @ ..])) if kind == "GRPC" && service.len() <= 1 => {
                Some(Action::Grpc {
                    addr: addr.parse().ok()?,
                    service: service.first().cloned().unwrap_or_default(),
                })
            }
            _ => None,
        }
    }

    /// Whether a check runs: it has something to do.
    pub fn runs(&self) -> bool {
        self.action().is_some()
    }

    fn duration(ns: i64, default: Duration) -> Duration {
        if ns > 0 {
            Duration::from_nanos(ns as u64)
        } else {
            default
        }
    }

    pub fn interval(&self) -> Duration {
        Self::duration(self.interval, DEFAULT_INTERVAL)
    }
    pub fn timeout(&self) -> Duration {
        Self::duration(self.timeout, DEFAULT_TIMEOUT)
    }
    pub fn start_period(&self) -> Duration {
        Self::duration(self.start_period, Duration::ZERO)
    }
    pub fn start_interval(&self) -> Duration {
        Self::duration(self.start_interval, DEFAULT_START_INTERVAL)
    }
    pub fn retries(&self) -> u32 {
        if self.retries > 0 {
            self.retries as u32
        } else {
            DEFAULT_RETRIES
        }
    }
    pub fn success_threshold(&self) -> u32 {
        self.success_threshold.clamp(1, i64::from(u32::MAX)) as u32
    }
    /// When the first check runs, counted from the start.
    pub fn first(&self) -> Duration {
        match self.initial_delay {
            Some(ns) => Duration::from_nanos(ns.max(0) as u64),
            None if self.start_period() > Duration::ZERO => self.start_interval(),
            None => self.interval(),
        }
    }
}

/// What the URL or a header of an `HTTP-GET` test fails on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("invalid health check URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("invalid health check header {0:?}: expected NAME: VALUE")]
    Header(String),
}

/// The [`Action`] of `["HTTP-GET", url, headers...]`.
pub fn http_action(url: &str, headers: &[String]) -> Result<Action, TargetError> {
    let bad = |reason: &str| TargetError::Url {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let u = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let tls = match u.scheme() {
        "http" => false,
        "https" => true,
        _ => return Err(bad("only http and https are supported")),
    };
    let ip = match u.host() {
        Some(url::Host::Ipv4(a)) => std::net::IpAddr::V4(a),
        Some(url::Host::Ipv6(a)) => std::net::IpAddr::V6(a),
        _ => return Err(bad("the host must be an IP address")),
    };
    let port = u
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let mut path = u.path().to_owned();
    if let Some(q) = u.query() {
        path.push('?');
        path.push_str(q);
    }
    let headers = headers
        .iter()
        .map(|h| {
            let (k, v) = h
                .split_once(':')
                .ok_or_else(|| TargetError::Header(h.clone()))?;
            let k = k.trim();
            let ok = !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_graphic() && b != b':')
                && !v.contains(['\r', '\n']);
            ok.then(|| (k.to_owned(), v.trim().to_owned()))
                .ok_or_else(|| TargetError::Header(h.clone()))
        })
        .collect::<Result<_, _>>()?;
    Ok(Action::HttpGet {
        tls,
        addr: std::net::SocketAddr::new(ip, port),
        path,
        host: match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
            None => u.host_str().unwrap_or_default().to_owned(),
        },
        headers,
    })
}

/// The image's `HEALTHCHECK`, from its config document (`config.Healthcheck`, where Docker keeps it; the
/// OCI image spec has no field for it).
pub fn from_image_config(config: &serde_json::Value) -> Option<Healthcheck> {
    let h = config.get("config")?.get("Healthcheck")?;
    serde_json::from_value(h.clone()).ok()
}

/// The `--health-*` flags as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct HealthFlags {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<i64>,
    pub none: bool,
}

impl HealthFlags {
    /// The check the flags ask for (`None`: no flag given, the image's applies), checked as Docker does.
    pub fn resolve(&self) -> Result<Option<Healthcheck>, HealthError> {
        let given: [(&'static str, bool); 6] = [
            ("health-cmd", self.cmd.is_some()),
            ("health-interval", self.interval.is_some()),
            ("health-timeout", self.timeout.is_some()),
            ("health-start-period", self.start_period.is_some()),
            ("health-start-interval", self.start_interval.is_some()),
            ("health-retries", self.retries.is_some()),
        ];
        if self.none {
            if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
                return Err(HealthError::Conflict(flag));
            }
            return Ok(Some(Healthcheck {
                test: vec!["NONE".into()],
                ..Default::default()
            }));
        }
        if !given.iter().any(|(_, set)| *set) {
            return Ok(None);
        }
        let dur = |flag: &'static str, v: &Option<String>| -> Result<i64, HealthError> {
            let Some(v) = v else { return Ok(0) };
            let ns = go_duration(v).ok_or_else(|| HealthError::Duration {
                flag,
                value: v.clone(),
            })?;
            if ns < 0 {
                return Err(HealthError::Negative {
                    flag,
                    value: v.clone(),
                });
            }
            if ns != 0 && ns < 1_000_000 {
                return Err(HealthError::TooShort {
                    flag,
                    value: v.clone(),
                });
            }
            Ok(ns)
        };
        let retries = self.retries.unwrap_or(0);
        if retries < 0 {
            return Err(HealthError::Negative {
                flag: "health-retries",
                value: retries.to_string(),
            });
        }
        let test = match &self.cmd {
            Some(c) if c.trim().is_empty() => return Err(HealthError::EmptyCommand),
            Some(c) => vec!["CMD-SHELL".to_owned(), c.clone()],
            None => Vec::new(),
        };
        Ok(Some(Healthcheck {
            test,
            interval: dur("health-interval", &self.interval)?,
            timeout: dur("health-timeout", &self.timeout)?,
            start_period: dur("health-start-period", &self.start_period)?,
            start_interval: dur("health-start-interval", &self.start_interval)?,
            retries,
            ..Default::default()
        }))
    }
}

/// Parses a Go duration (`1h2m3.5s`, `300ms`, `-1s`, `0`) into nanoseconds, the syntax Docker's
/// `--health-*` flags take.
pub fn go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return None;
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += num.parse::<f64>().ok()? * scale;
        rest = next;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let ns = total.round() as i64;
    Some(if neg { -ns } else { ns })
}

/// Formats a duration as Go prints one (`30s`, `1m30s`, `500ms`, `1.5s`), for messages Docker words so.
pub fn go_format(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let frac = |v: u128, unit: u128| {
        let whole = v / unit;
        let rem = v % unit;
        if rem == 0 {
            whole.to_string()
        } else {
            let digits = unit.to_string().len() - 1;
            let s = format!("{whole}.{rem:0digits$}");
            s.trim_end_matches('0').to_owned()
        }
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000));
    }
    let h = ns / 3_600_000_000_000;
    let m = (ns / 60_000_000_000) % 60;
    let s = frac(ns % 60_000_000_000, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

/// Docker's health statuses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// How `ps` shows it after "Up …": `(health: starting)`, `(healthy)`, `(unhealthy)`.
    pub fn ps_word(self) -> &'static str {
        match self {
            HealthStatus::Starting => "health: starting",
            h => h.as_str(),
        }
    }
}

/// One check's result, as in Docker's `.State.Health.Log`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// A container's health, Docker's `.State.Health`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    pub log: Vec<HealthResult>,
    /// Successes in a row, kept only for a check with a success threshold above 1.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub succeeding_streak: u32,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

impl Health {
    /// At each start: `starting` again with no failures; the log of earlier runs is kept, as Docker
    /// keeps it.
    pub fn restart(previous: Option<Health>) -> Health {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: previous.map(|h| h.log).unwrap_or_default(),
            succeeding_streak: 0,
        }
    }

    /// Adds one result. `in_start_period`: the check started within the start period, where a failure
    /// does not count while the container is still `starting`.
    pub fn record(&mut self, result: HealthResult, retries: u32, in_start_period: bool) {
        self.record_with(result, retries, 1, in_start_period)
    }

    /// [`Health::record`] where `successes` results of 0 in a row are needed to turn healthy (Kubernetes'
    /// `successThreshold`); once healthy, one success keeps it so.
    pub fn record_with(
        &mut self,
        result: HealthResult,
        retries: u32,
        successes: u32,
        in_start_period: bool,
    ) {
        if result.exit_code == 0 {
            self.failing_streak = 0;
            if successes > 1 {
                self.succeeding_streak = self.succeeding_streak.saturating_add(1);
            }
            if successes <= 1 || self.succeeding_streak >= successes {
                self.status = HealthStatus::Healthy;
            }
        } else if !(self.status == HealthStatus::Starting && in_start_period) {
            self.succeeding_streak = 0;
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(result);
        let extra = self.log.len().saturating_sub(LOG_ENTRIES);
        self.log.drain(..extra);
    }
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("30s"), Some(30_000_000_000));
        assert_eq!(go_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(go_duration("500ms"), Some(500_000_000));
        assert_eq!(go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(go_duration("1h"), Some(3_600_000_000_000));
        assert_eq!(go_duration("-1s"), Some(-1_000_000_000));
        assert_eq!(go_duration("0"), Some(0));
        for bad in ["", "5", "abc", "1d", "s", "1.2.3s", "--1s"] {
            assert_eq!(go_duration(bad), None, "{bad}");
        }
        assert_eq!(go_format(Duration::from_secs(30)), "30s");
        assert_eq!(go_format(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_format(Duration::from_millis(100)), "100ms");
        assert_eq!(go_format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_format(Duration::from_secs(3600)), "1h0m0s");
    }

    #[test]
    fn flags_become_a_check_and_bad_ones_are_named() {
        let f = HealthFlags {
            cmd: Some("true".into()),
            interval: Some("2s".into()),
            retries: Some(2),
            ..Default::default()
        };
        let h = f.resolve().unwrap().unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "true"]);
        assert_eq!(h.interval, 2_000_000_000);
        assert_eq!(h.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(h.retries(), 2);
        assert_eq!(HealthFlags::default().resolve(), Ok(None));
        let none = HealthFlags {
            none: true,
            ..Default::default()
        };
        assert_eq!(none.resolve().unwrap().unwrap().command(), None);
        let bad = |f: HealthFlags| f.resolve().unwrap_err().to_string();
        assert!(bad(HealthFlags {
            interval: Some("soon".into()),
            ..Default::default()
        })
        .contains("--health-interval \"soon\""));
        assert!(bad(HealthFlags {
            timeout: Some("-1s".into()),
            ..Default::default()
        })
        .contains("cannot be negative"));
        assert!(bad(HealthFlags {
            start_period: Some("10us".into()),
            ..Default::default()
        })
        .contains("less than 1ms"));
        assert!(bad(HealthFlags {
            retries: Some(-1),
            ..Default::default()
        })
        .contains("--health-retries"));
        assert!(bad(HealthFlags {
            none: true,
            cmd: Some("x".into()),
            ..Default::default()
        })
        .contains("conflicts with --health-cmd"));
        assert!(bad(HealthFlags {
            cmd: Some(" ".into()),
            ..Default::default()
        })
        .contains("empty"));
    }

    #[test]
    fn the_users_check_goes_over_the_images() {
        let img = Healthcheck {
            test: vec!["CMD".into(), "check".into()],
            interval: 5,
            retries: 7,
            ..Default::default()
        };
        let mine = Healthcheck {
            interval: 9,
            ..Default::default()
        };
        let h = mine.over(Some(&img));
        assert_eq!(h.test, ["CMD", "check"]);
        assert_eq!((h.interval, h.retries), (9, 7));
        assert_eq!(h.command().unwrap(), ["check"]);
        let doc = serde_json::json!({"config": {"Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"],
            "Interval": 30000000000_i64, "Retries": 3}}});
        let h = from_image_config(&doc).unwrap();
        assert_eq!(h.command().unwrap(), ["/bin/sh", "-c", "curl -f localhost"]);
        assert_eq!(h.interval(), Duration::from_secs(30));
    }

    #[test]
    fn probe_tests_and_fields_read_back_and_docker_checks_print_as_before() {
        let http = Healthcheck {
            test: vec![
                "HTTP-GET".into(),
                "http://10.0.0.2:8080/ready".into(),
                "X-A: b".into(),
            ],
            initial_delay: Some(0),
            success_threshold: 2,
            kill_unhealthy: true,
            ..Default::default()
        };
        assert!(matches!(http.action(), Some(Action::HttpGet { .. })));
        assert_eq!(http.command(), None, "runs no command");
        assert_eq!(http.first(), Duration::ZERO);
        assert_eq!(http.success_threshold(), 2);
        let tcp = Healthcheck {
            test: vec!["TCP".into(), "127.0.0.1:5432".into()],
            ..Default::default()
        };
        assert_eq!(
            tcp.action(),
            Some(Action::Tcp("127.0.0.1:5432".parse().unwrap()))
        );
        let grpc = Healthcheck {
            test: vec!["GRPC".into(), "127.0.0.1:9090".into(), "db".into()],
            ..Default::default()
        };
        assert_eq!(
            grpc.action(),
            Some(Action::Grpc {
                addr: "127.0.0.1:9090".parse().unwrap(),
                service: "db".into()
            })
        );
        assert_eq!(
            tcp.first(),
            DEFAULT_INTERVAL,
            "Docker's: one interval after the start"
        );
        for bad in [
            &["TCP", "nowhere"][..],
            &["HTTP-GET", "ftp://1.2.3.4/"],
            &["NONE"],
        ] {
            let h = Healthcheck {
                test: bad.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            };
            assert!(!h.runs(), "{bad:?}");
        }
        // The new fields are left out when unset: a Docker check's JSON is Docker's.
        let docker = serde_json::to_value(Healthcheck {
            test: vec!["CMD".into(), "true".into()],
            ..Default::default()
        })
        .unwrap();
        let keys: Vec<_> = docker.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "Interval",
                "Retries",
                "StartInterval",
                "StartPeriod",
                "Test",
                "Timeout"
            ]
        );
        let back: Healthcheck =
            serde_json::from_value(serde_json::to_value(&http).unwrap()).unwrap();
        assert_eq!(back, http);
    }

    #[test]
    fn a_success_threshold_needs_successes_in_a_row() {
        let mut h = Health::restart(None);
        h.record_with(result(0), 1, 2, false);
        assert_eq!(h.status, HealthStatus::Starting, "one success of two");
        h.record_with(result(0), 1, 2, false);
        assert_eq!(h.status, HealthStatus::Healthy);
        h.record_with(result(1), 1, 2, false);
        assert_eq!(h.status, HealthStatus::Unhealthy);
        h.record_with(result(0), 1, 2, false);
        assert_eq!(h.status, HealthStatus::Unhealthy, "the streak starts again");
        h.record_with(result(0), 1, 2, false);
        assert_eq!(h.status, HealthStatus::Healthy);
    }

    fn result(code: i32) -> HealthResult {
        HealthResult {
            exit_code: code,
            ..Default::default()
        }
    }

    #[test]
    fn results_add_up_as_dockers() {
        let mut h = Health::restart(None);
        // Failures within the start period do not count while starting.
        h.record(result(1), 2, true);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        h.record(result(1), 2, false);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 1));
        h.record(result(0), 2, false);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
        h.record(result(1), 2, true);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 1));
        h.record(result(-1), 2, false);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Unhealthy, 2));
        h.record(result(1), 2, false);
        h.record(result(1), 2, false);
        assert_eq!(h.log.len(), LOG_ENTRIES);
        let again = Health::restart(Some(h));
        assert_eq!(again.status, HealthStatus::Starting);
        assert_eq!(again.failing_streak, 0);
        assert_eq!(again.log.len(), LOG_ENTRIES);
    }
}
