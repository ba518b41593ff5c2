//! `--userns`: a container's user namespace. `host` (the default) keeps the host's IDs; `auto[:size=N]`
//! gives the container a user namespace of its own that maps its IDs `0..N` (65536 unless given) onto a
//! range of subordinate IDs no other container holds, taken from the `containers` user's entries in
//! `/etc/subuid` and `/etc/subgid` (podman's convention). Root in such a container is an unprivileged,
//! otherwise unused ID on the host.
//!
//! The range is part of the container's record ([`crate::container::HostConfig::userns`]), chosen inside the
//! same write transaction that inserts the record: two concurrent `create`s cannot get overlapping ranges,
//! and `rm`, deleting the record, frees it.

use std::path::Path;

use minotaur_state::ReadTx;

use crate::paths::SubidFiles;
use crate::store;

pub use crate::error::userns::UsernsError;

/// The user whose subordinate ranges containers get, as podman has it.
pub const SUBID_USER: &str = "containers";

/// The size of a range when `--userns=auto` names none.
pub const DEFAULT_SIZE: u32 = 65536;

/// What `--userns` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Host,
    Auto { size: u32 },
}

/// Parses `host`, `auto` or `auto:size=N` (N from 1 to 2^32-1).
pub fn parse_mode(s: &str) -> Result<Mode, UsernsError> {
    let bad = || UsernsError::Mode(s.to_owned());
    match s {
        "" | "host" => Ok(Mode::Host),
        "auto" => Ok(Mode::Auto { size: DEFAULT_SIZE }),
        _ => {
            let size = s
                .strip_prefix("auto:size=")
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(bad)?;
            Ok(Mode::Auto { size })
        }
    }
}

/// The mapping a container's user namespace has (it is part of the container's configuration).
pub use crate::container::IdMap;

/// One `user:start:count` line of a subordinate ID file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubRange {
    pub start: u64,
    pub count: u64,
}

/// The ranges `user` owns in the text of `/etc/subuid` or `/etc/subgid` (subuid(5)). Comments, blank lines
/// and malformed lines are skipped, as shadow's own readers do.
pub fn parse_subid(text: &str, user: &str) -> Vec<SubRange> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.trim().split(':');
            let (name, start, count) = (f.next()?, f.next()?, f.next()?);
            if name != user || f.next().is_some() {
                return None;
            }
            let start = start.parse().ok()?;
            let count: u64 = count.parse().ok()?;
            (count > 0).then_some(SubRange { start, count })
        })
        .collect()
}

/// The lowest `size` IDs within `ranges` that overlap none of `taken` (each `(start, size)`).
pub fn first_free(ranges: &[SubRange], taken: &[(u64, u64)], size: u32) -> Option<u32> {
    let size = u64::from(size);
    let mut starts: Vec<u64> = ranges.iter().map(|r| r.start).collect();
    starts.extend(taken.iter().map(|(s, n)| s + n));
    starts.sort_unstable();
    starts.into_iter().find_map(|start| {
        let end = start.checked_add(size)?;
        let fits = ranges
            .iter()
            .any(|r| r.start <= start && end <= r.start.saturating_add(r.count));
        let free = taken.iter().all(|(s, n)| end <= *s || s + n <= start);
        // The host's own IDs end at 2^32-1 (not mappable), so the last ID of the range must be below it.
        (fits && free && end <= u64::from(u32::MAX))
            .then(|| u32::try_from(start).ok())
            .flatten()
    })
}

fn ranges_in(path: &Path) -> Result<Vec<SubRange>, UsernsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(UsernsError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    let ranges = parse_subid(&text, SUBID_USER);
    if ranges.is_empty() {
        return Err(UsernsError::NoEntry {
            path: path.to_owned(),
            user: SUBID_USER,
        });
    }
    Ok(ranges)
}

/// Checks that both files have ranges for [`SUBID_USER`], before anything of a container is made.
pub fn check(files: &SubidFiles) -> Result<(), UsernsError> {
    ranges_in(&files.subuid)?;
    ranges_in(&files.subgid).map(drop)
}

/// Picks a free range of `size` IDs for a new container, among the ranges the containers recorded in `tx`
/// hold. Call it in the write transaction that inserts the container, so that no other `create` can pick
/// the same range meanwhile.
pub fn allocate(tx: &ReadTx<'_>, files: &SubidFiles, size: u32) -> Result<IdMap, UsernsError> {
    let uids = ranges_in(&files.subuid)?;
    let gids = ranges_in(&files.subgid)?;
    let held: Vec<IdMap> = store::list(tx)?
        .into_iter()
        .filter_map(|c| c.config.host.userns)
        .collect();
    let exhausted = |path: &Path| UsernsError::Exhausted {
        path: path.to_owned(),
        user: SUBID_USER,
        size,
    };
    let taken: Vec<(u64, u64)> = held
        .iter()
        .map(|m| (u64::from(m.uid), u64::from(m.size)))
        .collect();
    let uid = first_free(&uids, &taken, size).ok_or_else(|| exhausted(&files.subuid))?;
    let taken: Vec<(u64, u64)> = held
        .iter()
        .map(|m| (u64::from(m.gid), u64::from(m.size)))
        .collect();
    let gid = first_free(&gids, &taken, size).ok_or_else(|| exhausted(&files.subgid))?;
    Ok(IdMap { uid, gid, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("host").unwrap(), Mode::Host);
        assert_eq!(parse_mode("auto").unwrap(), Mode::Auto { size: 65536 });
        assert_eq!(
            parse_mode("auto:size=1024").unwrap(),
            Mode::Auto { size: 1024 }
        );
        for bad in [
            "auto:size=0",
            "auto:size=",
            "auto:size=-1",
            "keep-id",
            "auto:uidmapping=0:1:1",
        ] {
            assert!(parse_mode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subid_lines() {
        let text = "# comment\n\nalice:100000:65536\ncontainers:200000:1000000\n\
                    containers:bad:5\ncontainers:1:2:3\ncontainers:5000000:0\n containers:9000000:10 \n";
        assert_eq!(
            parse_subid(text, "containers"),
            [
                SubRange {
                    start: 200000,
                    count: 1000000
                },
                SubRange {
                    start: 9000000,
                    count: 10
                }
            ]
        );
        assert!(parse_subid(text, "bob").is_empty());
    }

    #[test]
    fn free_ranges_never_overlap_held_ones() {
        let r = [SubRange {
            start: 100000,
            count: 200000,
        }];
        assert_eq!(first_free(&r, &[], 65536), Some(100000));
        assert_eq!(first_free(&r, &[(100000, 65536)], 65536), Some(165536));
        // A hole too small for the size is skipped.
        assert_eq!(
            first_free(&r, &[(100000, 10), (100020, 65536)], 65536),
            Some(165556)
        );
        // A hole big enough is reused.
        assert_eq!(first_free(&r, &[(165536, 65536)], 65536), Some(100000));
        assert_eq!(first_free(&r, &[(100000, 200000)], 1), None);
        assert_eq!(first_free(&r, &[], 200001), None);
        // Several ranges: the second is used when the first is full.
        let two = [
            SubRange {
                start: 10,
                count: 5,
            },
            SubRange {
                start: 1000,
                count: 100,
            },
        ];
        assert_eq!(first_free(&two, &[(10, 5)], 5), Some(1000));
        assert_eq!(first_free(&two, &[], 6), Some(1000));
        // Numbers a hostile file could hold: no overflow, and nothing beyond the host's IDs.
        let huge = [SubRange {
            start: u64::MAX - 1,
            count: u64::MAX,
        }];
        assert_eq!(first_free(&huge, &[], 1), None);
        let top = [SubRange {
            start: u64::from(u32::MAX) - 10,
            count: 100,
        }];
        assert_eq!(first_free(&top, &[], 10), Some(u32::MAX - 10));
        assert_eq!(first_free(&top, &[], 11), None);
    }
}
