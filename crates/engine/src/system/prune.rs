//! `system prune`: stopped containers, unused networks, dangling (or, with `all`, unused) images, and on
//! request unused volumes, in that order, so that what the containers held becomes unused first.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use crate::container::{Container, Status};
use crate::context::Context;
use crate::error::EngineError;
use crate::network::networks;
use crate::{human, remove, runroot, volume};

/// Which containers `--filter` selects. Docker's keys: `label=KEY[=VALUE]`, `label!=KEY[=VALUE]`,
/// `until=DURATION|RFC3339` (created before then).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    Label {
        key: String,
        value: Option<String>,
        negate: bool,
    },
    /// Created at least this long ago.
    Until(Duration),
}

impl Filter {
    /// Parses one `--filter` value.
    pub fn parse(s: &str, now: SystemTime) -> Result<Filter, PruneError> {
        let bad = |why: &str| PruneError::Filter(s.to_owned(), why.to_owned());
        let (key, value) = s.split_once('=').ok_or_else(|| bad("expected KEY=VALUE"))?;
        let label = |negate: bool| {
            let (k, v) = match value.split_once('=') {
                Some((k, v)) => (k, Some(v.to_owned())),
                None => (value, None),
            };
            if k.is_empty() {
                return Err(bad("the label's name is empty"));
            }
            Ok(Filter::Label {
                key: k.to_owned(),
                value: v,
                negate,
            })
        };
        match key {
            "label" => label(false),
            "label!" => label(true),
            "until" => {
                if let Ok(d) = humantime::parse_duration(value) {
                    return Ok(Filter::Until(d));
                }
                let at = humantime::parse_rfc3339_weak(value).map_err(|_| {
                    bad("expected a duration (24h) or a time (2006-01-02T15:04:05)")
                })?;
                Ok(Filter::Until(now.duration_since(at).unwrap_or_default()))
            }
            _ => Err(bad("expected label, label! or until")),
        }
    }

    fn matches(&self, c: &Container, now: SystemTime) -> bool {
        match self {
            Filter::Label { key, value, negate } => {
                let has = match value {
                    Some(v) => c.config.labels.get(key) == Some(v),
                    None => c.config.labels.contains_key(key),
                };
                has != *negate
            }
            Filter::Until(age) => human::since(&c.created, now).is_some_and(|d| d >= *age),
        }
    }
}

/// Why a prune could not start.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error("invalid filter {0:?}: {1}")]
    Filter(String, String),
}

/// What `system prune` removes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Every image no container uses, not only dangling ones.
    pub all: bool,
    /// Unused volumes too (anonymous ones; with `all`, named ones too).
    pub volumes: bool,
    /// Which stopped containers go (networks, images and volumes are pruned as without filters).
    pub filters: Vec<Filter>,
}

/// What was removed.
#[derive(Debug, Default)]
pub struct Pruned {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub images: Vec<minotaur_image::Removed>,
    pub volumes: Vec<String>,
    /// Bytes of image blobs and layers freed.
    pub reclaimed: u64,
}

/// Prunes, going on past a container that cannot be removed (the first such error is returned with what
/// was done, after everything else was pruned).
pub fn prune(ctx: &Context, opts: &Options) -> Result<(Pruned, Option<EngineError>), EngineError> {
    let now = SystemTime::now();
    let mut done = Pruned::default();
    let mut first = None;
    let have_db = ctx.paths.root.join(minotaur_state::DB_FILE).exists();
    let containers = if have_db { ctx.list()? } else { Vec::new() };
    for c in &containers {
        let stopped = matches!(
            c.state.status,
            Status::Created | Status::Exited | Status::Dead
        );
        if !stopped || !opts.filters.iter().all(|f| f.matches(c, now)) {
            continue;
        }
        // A container being made or started holds its directory's lock: it is not stopped, only not
        // running yet. Under the lock, its record is read again.
        let Some(_lock) = runroot::try_lock_dir(&crate::etc::dir(&ctx.paths, &c.id))? else {
            continue;
        };
        match ctx.find(c.id.as_str()) {
            Ok(now)
                if matches!(
                    now.state.status,
                    Status::Created | Status::Exited | Status::Dead
                ) => {}
            _ => continue,
        }
        match remove::remove(ctx, c.id.as_str(), false, false) {
            Ok(_) => done.containers.push(c.id.as_str().to_owned()),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    if have_db {
        done.networks = networks::prune(ctx)?;
    }
    let in_use: HashSet<minotaur_image::ImageId> = if have_db {
        ctx.list()?
            .iter()
            .filter_map(|c| c.config.image_id.parse().ok())
            .collect()
    } else {
        HashSet::new()
    };
    let images = minotaur_image::Store::open(&ctx.paths.root)?.prune(opts.all, &in_use)?;
    done.images = images.images;
    done.reclaimed = images.reclaimed.bytes;
    if opts.volumes && have_db {
        done.volumes = volume::prune(ctx, opts.all)?;
    }
    Ok((done, first))
}
