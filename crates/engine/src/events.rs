//! Events: what happened to containers, networks and images, as Docker's `events` shows it, without a
//! daemon. The process that causes an event records it in the state store's `events` table ([`record`],
//! [`container`]); `events` reads the table and follows it ([`follow`]).
//!
//! Following watches the store's directory with inotify: every commit writes the database's WAL (or, after a
//! checkpoint, the database), so a write wakes the follower, which reads the rows after the last it saw. No
//! busy loop: between commits the follower sleeps in poll(2), waking at most every [`RECHECK`] in case a
//! change was missed (a WAL truncated and rewritten between two reads).
//!
//! Recording never fails what caused the event: a store that cannot take it is logged and ignored.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use minotaur_state::{EventRow, NewEvent, StateError, WriteTx};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use serde_json::json;

use crate::container::Container;
use crate::context::Context;
use crate::error::{sys_err, EngineError};

/// How often a follower reads the table when inotify said nothing.
const RECHECK: Duration = Duration::from_secs(2);

/// How often a follower reads the table when it could not watch the store (no inotify left).
const RECHECK_UNWATCHED: Duration = Duration::from_millis(250);

/// Rows read from the store at a time.
const BATCH: i64 = 256;

pub use crate::error::events::EventsError;

/// One event, with Docker's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its order in the store.
    pub seq: i64,
    /// Nanoseconds since the Unix epoch.
    pub time_nano: i64,
    /// `container`, `network`, `image`, `volume`.
    pub kind: String,
    pub action: String,
    pub actor_id: String,
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    fn from_row(row: EventRow) -> Event {
        Event {
            seq: row.seq,
            time_nano: row.time_nano,
            attributes: serde_json::from_str(&row.attributes).unwrap_or_default(),
            kind: row.kind,
            action: row.action,
            actor_id: row.actor_id,
        }
    }

    /// The event as Docker prints it: `2024-01-01T00:00:00.000000000Z container start ID (k=v, k=v)`.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} {} {} {}",
            rfc3339_nanos(self.time_nano),
            self.kind,
            self.action,
            self.actor_id
        );
        if !self.attributes.is_empty() {
            let attrs: Vec<String> = self
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            s.push_str(&format!(" ({})", attrs.join(", ")));
        }
        s
    }

    /// Docker's event message as JSON, what `--format` templates see: `Type`, `Action`, `Actor.ID`,
    /// `Actor.Attributes`, `scope`, `time`, `timeNano`, and for containers the old `status`, `id`, `from`.
    pub fn document(&self) -> serde_json::Value {
        let mut doc = json!({
            "Type": self.kind,
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": self.attributes},
            "scope": "local",
            "time": self.time_nano.div_euclid(1_000_000_000),
            "timeNano": self.time_nano,
        });
        if self.kind == "container" || self.kind == "image" {
            doc["status"] = json!(self.action);
            doc["id"] = json!(self.actor_id);
            if let Some(image) = self.attributes.get("image") {
                doc["from"] = json!(image);
            }
        }
        doc
    }
}

/// `2024-01-01T00:00:00.000000000Z`: a time in UTC with nine digits of fraction, as Docker prints events.
pub fn rfc3339_nanos(time_nano: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_nanos(time_nano.max(0) as u64);
    humantime::format_rfc3339_nanos(t).to_string()
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Records an event: `kind` (`container`, `network`, `image`, `volume`), `action` (Docker's word: `create`,
/// `start`, `die`, `kill`, `destroy`, `connect`, `pull`...), the ID of what it happened to, and its
/// attributes. Never fails: what the store refuses is logged.
pub fn record(ctx: &Context, kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) {
    let written = ctx
        .store()
        .and_then(|mut st| Ok(st.write(|tx| record_in(tx, kind, action, id, attrs))?));
    if let Err(e) = written {
        log::warn!(
            "cannot record event {kind} {action} {id}: {}",
            crate::error_chain(&e)
        );
    }
}

/// Records an event inside the caller's write transaction (one of many, as `rm` of many containers
/// records them, or beside the change it reports); [`record`] for one.
pub(crate) fn record_in(
    tx: &WriteTx<'_>,
    kind: &str,
    action: &str,
    id: &str,
    attrs: &[(&str, &str)],
) -> Result<(), StateError> {
    let attributes: BTreeMap<&str, &str> = attrs.iter().copied().collect();
    let attributes = serde_json::to_string(&attributes).expect("strings always serialize");
    tx.insert_event(&NewEvent {
        time_nano: now_nanos(),
        kind,
        action,
        actor_id: id,
        attributes: &attributes,
    })?;
    Ok(())
}

/// [`container`]'s event inside the caller's write transaction.
pub(crate) fn container_in(
    tx: &WriteTx<'_>,
    action: &str,
    c: &Container,
    extra: &[(&str, &str)],
) -> Result<(), StateError> {
    let attrs = container_attributes(c, extra);
    record_in(tx, "container", action, c.id.as_str(), &attrs)
}

/// Docker's attributes of a container's event: its labels, image and name, then `extra`.
fn container_attributes<'a>(
    c: &'a Container,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut attrs: Vec<(&str, &str)> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    attrs.push(("image", &c.config.image));
    attrs.push(("name", c.name.as_str()));
    attrs.extend_from_slice(extra);
    attrs
}

/// Records a container's event with Docker's attributes (its image, name and labels) and `extra` ones
/// (`exitCode` for `die`, `signal` for `kill`).
pub fn container(ctx: &Context, action: &str, c: &Container, extra: &[(&str, &str)]) {
    let attrs = container_attributes(c, extra);
    record(ctx, "container", action, c.id.as_str(), &attrs);
}

/// Docker's `--filter` for events: values of one key are alternatives, different keys must all match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    by_key: BTreeMap<String, Vec<String>>,
}

impl Filter {
    /// Parses `KEY=VALUE` filters (keys: `container`, `event`, `image`, `label`, `network`, `type`).
    pub fn parse<S: AsRef<str>>(filters: &[S]) -> Result<Filter, EventsError> {
        let mut f = Filter::default();
        for raw in filters {
            let raw = raw.as_ref();
            let (k, v) = raw
                .split_once('=')
                .ok_or_else(|| EventsError::BadFilter(raw.to_owned()))?;
            if !matches!(
                k,
                "container" | "event" | "image" | "label" | "network" | "type"
            ) {
                return Err(EventsError::UnknownFilter(raw.to_owned()));
            }
            f.by_key.entry(k.to_owned()).or_default().push(v.to_owned());
        }
        Ok(f)
    }

    /// True when `e` passes every key.
    pub fn matches(&self, e: &Event) -> bool {
        self.by_key.iter().all(|(k, values)| {
            values.iter().any(|v| match k.as_str() {
                "type" => e.kind == *v,
                "event" => e.action == *v,
                "container" => {
                    let id = if e.kind == "container" {
                        Some(e.actor_id.as_str())
                    } else {
                        e.attributes.get("container").map(String::as_str)
                    };
                    (e.kind == "container" && e.attributes.get("name") == Some(v))
                        || id.is_some_and(|id| !v.is_empty() && id.starts_with(v.as_str()))
                }
                "image" => {
                    e.attributes.get("image") == Some(v) || (e.kind == "image" && e.actor_id == *v)
                }
                "network" => {
                    e.kind == "network"
                        && (e.actor_id.starts_with(v.as_str())
                            || e.attributes.get("name") == Some(v))
                }
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => e.attributes.get(lk).is_some_and(|x| x == lv),
                    None => e.attributes.contains_key(v),
                },
                _ => false,
            })
        })
    }
}

/// Parses a `--since`/`--until` time as Docker does: RFC 3339 (date only, or with a time and an optional
/// zone), Unix seconds with an optional fraction, or a duration before `now` (`10m`, `1h30m`).
/// Nanoseconds since the Unix epoch.
pub fn parse_time(s: &str, now: SystemTime) -> Result<i64, EventsError> {
    let bad = || EventsError::BadTime(s.to_owned());
    let to_nanos = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .map_err(|_| bad())
    };
    if let Some((secs, frac)) = s.split_once('.').or(Some((s, ""))) {
        if !secs.is_empty()
            && secs.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
            && frac.len() <= 9
        {
            let secs: i64 = secs.parse().map_err(|_| bad())?;
            let nanos: i64 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
            return secs
                .checked_mul(1_000_000_000)
                .and_then(|n| n.checked_add(nanos))
                .ok_or_else(bad);
        }
    }
    if let Ok(d) = humantime::parse_duration(s) {
        return to_nanos(now.checked_sub(d).ok_or_else(bad)?);
    }
    let candidates = [
        s.to_owned(),
        format!("{s}T00:00:00Z"),
        format!("{s}Z"),
        s.replace(' ', "T"),
    ];
    for c in &candidates {
        if let Ok(t) = humantime::parse_rfc3339_weak(c) {
            return to_nanos(t);
        }
        if let Ok(t) = humantime::parse_rfc3339(c) {
            return to_nanos(t);
        }
    }
    Err(bad())
}

/// What `events` asks for.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Nanoseconds since the epoch; events before are left out. `None`: only new events.
    pub since: Option<i64>,
    /// Nanoseconds since the epoch; stop there. `None`: follow until the callback says stop.
    pub until: Option<i64>,
    pub filter: Filter,
}

/// Calls `f` for each event the query selects, oldest first: the recorded ones from `since`, then (unless
/// `until` has passed) new ones as they are recorded, until `until` or until `f` returns false.
pub fn follow(
    ctx: &Context,
    query: &Query,
    mut f: impl FnMut(&Event) -> Result<bool, EngineError>,
) -> Result<(), EngineError> {
    // Watch first, then read: a commit between the two is seen by one or the other.
    let inotify = watch(ctx)?;
    let recheck = if inotify.is_some() {
        RECHECK
    } else {
        RECHECK_UNWATCHED
    };
    let mut last = match query.since {
        Some(_) => 0,
        None => ctx.store()?.read(|tx| tx.last_event())?,
    };
    loop {
        loop {
            let rows = ctx.store()?.read(|tx| tx.events_after(last, BATCH))?;
            let n = rows.len();
            for row in rows {
                last = row.seq;
                let e = Event::from_row(row);
                if query.since.is_some_and(|s| e.time_nano < s) {
                    continue;
                }
                if query.until.is_some_and(|u| e.time_nano > u) {
                    return Ok(());
                }
                if query.filter.matches(&e) && !f(&e)? {
                    return Ok(());
                }
            }
            if (n as i64) < BATCH {
                break;
            }
        }
        let mut wait = recheck;
        if let Some(u) = query.until {
            let left = u - now_nanos();
            if left <= 0 {
                return Ok(());
            }
            wait = wait.min(Duration::from_nanos(left as u64));
        }
        let ms = u16::try_from(wait.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds: Vec<PollFd<'_>> = inotify
            .iter()
            .map(|i| PollFd::new(i.as_fd(), PollFlags::POLLIN))
            .collect();
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(sys_err("wait for events")(e)),
        }
        // Drain what woke us; the table says what is new.
        while let Some(i) = &inotify {
            if !i.read_events().is_ok_and(|v| !v.is_empty()) {
                break;
            }
        }
    }
}

/// An inotify watch on the store's directory, or `None` when the user's inotify instances or watches are
/// used up (`fs.inotify.max_user_instances` and `max_user_watches`, which every process of the same user
/// shares, a container's root included): the follower then reads the table every
/// [`RECHECK_UNWATCHED`] instead, and says so once.
fn watch(ctx: &Context) -> Result<Option<Inotify>, EngineError> {
    use nix::errno::Errno;
    let exhausted = |e: &Errno| matches!(e, Errno::EMFILE | Errno::ENFILE | Errno::ENOSPC);
    let root = &ctx.paths.root;
    let watched = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
        .map_err(|e| (e, "start watching the state store".to_owned()))
        .and_then(|inotify| {
            inotify
                .add_watch(
                    root,
                    AddWatchFlags::IN_MODIFY
                        | AddWatchFlags::IN_CREATE
                        | AddWatchFlags::IN_MOVED_TO,
                )
                .map(|_| inotify)
                .map_err(|e| (e, format!("watch {}", root.display())))
        });
    match watched {
        Ok(inotify) => Ok(Some(inotify)),
        Err((e, what)) if exhausted(&e) => {
            log::warn!(
                "cannot {what} ({e}): no inotify left for this user, reading events every {} ms",
                RECHECK_UNWATCHED.as_millis()
            );
            Ok(None)
        }
        Err((e, what)) => Err(sys_err(what)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event {
            seq: 1,
            time_nano: 1_704_067_200_000_000_000,
            kind: kind.into(),
            action: action.into(),
            actor_id: id.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn lines_are_dockers() {
        let e = event(
            "container",
            "start",
            "abc",
            &[("name", "web"), ("image", "busybox")],
        );
        assert_eq!(
            e.line(),
            "2024-01-01T00:00:00.000000000Z container start abc (image=busybox, name=web)"
        );
        let d = e.document();
        assert_eq!(d["Actor"]["Attributes"]["name"], "web");
        assert_eq!(d["from"], "busybox");
        assert_eq!(d["time"], 1_704_067_200);
    }

    #[test]
    fn filters_match_as_dockers() {
        let start = event("container", "start", "abcdef", &[("name", "web")]);
        let connect = event(
            "network",
            "connect",
            "n1",
            &[("container", "abcdef"), ("name", "front")],
        );
        let f = |v: &[&str]| Filter::parse(v).unwrap();
        assert!(f(&["container=web"]).matches(&start));
        assert!(f(&["container=abc"]).matches(&start));
        assert!(f(&["container=abc"]).matches(&connect));
        assert!(!f(&["container=other"]).matches(&start));
        assert!(f(&["event=start", "event=die"]).matches(&start));
        assert!(!f(&["event=start", "type=network"]).matches(&start));
        assert!(f(&["network=front"]).matches(&connect));
        assert!(!f(&["network=front"]).matches(&start));
        assert!(matches!(
            Filter::parse(&["bogus=1"]),
            Err(EventsError::UnknownFilter(_))
        ));
        assert!(matches!(
            Filter::parse(&["container"]),
            Err(EventsError::BadFilter(_))
        ));
    }

    #[test]
    fn times_parse_as_dockers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        assert_eq!(
            parse_time("1704067200", now).unwrap(),
            1_704_067_200_000_000_000
        );
        assert_eq!(
            parse_time("1704067200.5", now).unwrap(),
            1_704_067_200_500_000_000
        );
        assert_eq!(
            parse_time("10m", now).unwrap(),
            1_704_067_200_000_000_000 - 600_000_000_000
        );
        assert_eq!(
            parse_time("2024-01-01", now).unwrap(),
            1_704_067_200_000_000_000
        );
        assert_eq!(
            parse_time("2024-01-01T00:00:01Z", now).unwrap(),
            1_704_067_201_000_000_000
        );
        assert!(parse_time("yesterday", now).is_err());
    }
}
