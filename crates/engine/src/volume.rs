//! Volumes: directories that outlive containers, mounted into them by name (`-v NAME:/path`,
//! `--mount type=volume`) or made for one container (`-v /path`, an anonymous volume).
//!
//! A volume is a record in the state store (`volumes`; which containers mount it is `volume_mounts`, written
//! in the same transaction as the container's record) and a directory:
//!
//! ```text
//! <root>/volumes/<name>/_data     what the container sees at its mount point (Docker's Mountpoint)
//! ```
//!
//! A named volume is made on first use; an anonymous one gets a random 64-hex name at `create` and is
//! removed with its container by `run --rm` and `rm -v`. A volume in use (recorded as mounted by a
//! container, running or not) is never removed: the store refuses the delete, in the same transaction.
//! A new, empty volume takes what the image has at the mount point: the container's init copies it before
//! the bind (the runtime's `copy-up` option), since an image's root exists only in that container's mount
//! namespace.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use minotaur_state::{NewVolume, StateError, VolumeRow, WriteTx};
use oci_spec::runtime::{MountBuilder, Spec};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::container::{Container, HostConfig};
use crate::context::Context;
use crate::error::volume::io_err;
pub use crate::error::volume::VolumeError;
use crate::ids::ContainerId;
use crate::parse;

/// The only driver: a directory under the engine's root.
pub const DRIVER: &str = "local";

/// The part of a volume's record the store keeps as JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Config {
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// A volume as `volume ls` and `volume inspect` show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    /// Its data on the host.
    pub mountpoint: PathBuf,
    pub created_at: String,
    pub labels: BTreeMap<String, String>,
    pub anonymous: bool,
    /// Names of the containers that mount it.
    pub containers: Vec<String>,
}

impl Volume {
    /// Docker's `volume inspect` document.
    pub fn inspect(&self) -> serde_json::Value {
        json!({
            "CreatedAt": self.created_at,
            "Driver": self.driver,
            "Labels": self.labels,
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": {},
            "Scope": "local",
        })
    }

    /// Whether it passes `filter`.
    pub fn matches(&self, filter: &Filter) -> bool {
        match filter {
            Filter::Dangling(d) => self.containers.is_empty() == *d,
            Filter::Name(n) => self.name.contains(n.as_str()),
            Filter::Driver(d) => self.driver == *d,
            Filter::Label(k, None) => self.labels.contains_key(k),
            Filter::Label(k, Some(v)) => self.labels.get(k) == Some(v),
        }
    }
}

/// One `--filter KEY=VALUE` of `volume ls`: Docker's `dangling`, `name`, `driver` and `label`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    Dangling(bool),
    Name(String),
    Driver(String),
    Label(String, Option<String>),
}

impl std::str::FromStr for Filter {
    type Err = VolumeError;

    fn from_str(s: &str) -> Result<Filter, VolumeError> {
        let bad = || VolumeError::Filter(s.to_owned());
        let (k, v) = s.split_once('=').ok_or_else(bad)?;
        Ok(match k {
            "dangling" => match v {
                "true" | "1" => Filter::Dangling(true),
                "false" | "0" => Filter::Dangling(false),
                _ => return Err(bad()),
            },
            "name" => Filter::Name(v.to_owned()),
            "driver" => Filter::Driver(v.to_owned()),
            "label" => match v.split_once('=') {
                Some((lk, lv)) => Filter::Label(lk.to_owned(), Some(lv.to_owned())),
                None => Filter::Label(v.to_owned(), None),
            },
            _ => return Err(bad()),
        })
    }
}

fn data_dir(ctx: &Context, name: &str) -> PathBuf {
    ctx.paths.volume_dir(name).join("_data")
}

fn from_row(ctx: &Context, row: VolumeRow, names: &dyn Fn(&str) -> String) -> Volume {
    let config: Config = serde_json::from_str(&row.config).unwrap_or_default();
    Volume {
        mountpoint: data_dir(ctx, &row.name),
        containers: row.containers.iter().map(|id| names(id)).collect(),
        name: row.name,
        driver: row.driver,
        created_at: row.created_at,
        labels: config.labels,
        anonymous: row.anonymous,
    }
}

/// Creates a volume (`volume create`): named, or with a random name. Creating one that exists is not an
/// error, as with Docker; its labels stay as they were.
pub fn create(
    ctx: &Context,
    name: Option<&str>,
    driver: Option<&str>,
    labels: BTreeMap<String, String>,
) -> Result<Volume, VolumeError> {
    if let Some(d) = driver.filter(|d| *d != DRIVER) {
        return Err(VolumeError::Driver(d.to_owned()));
    }
    let name = match name {
        Some(n) => parse::volume_name(n)?,
        None => ContainerId::random().as_str().to_owned(),
    };
    let config = serde_json::to_string(&Config { labels }).expect("serializable");
    let mut st = ctx.store().map_err(store_error)?;
    let mut made = Made::default();
    let recorded = st.write(|tx| -> Result<(), VolumeError> {
        insert(ctx, tx, &name, false, &config, &mut made)?;
        Ok(())
    });
    if let Err(e) = recorded {
        made.forget();
        return Err(e);
    }
    drop(st);
    crate::crash::after("volume-create:record");
    inspect(ctx, &name)
}

/// The directories of volumes whose records a write transaction inserted. They are made inside the
/// transaction, so that a failure to make one leaves no record; when the transaction then fails (the
/// commit too can fail: a full disk), [`Made::forget`] removes them, or they would outlive it as
/// directories no record owns.
#[derive(Default)]
pub(crate) struct Made(Vec<PathBuf>);

impl Made {
    /// Removes the directories, after the transaction that would have recorded them failed.
    pub(crate) fn forget(self) {
        for dir in self.0 {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// Inserts a volume's record unless it exists, and makes its directory: inside a write transaction, so
/// a failure to make the directory leaves no record. A new volume's directory is added to `made`.
fn insert(
    ctx: &Context,
    tx: &WriteTx<'_>,
    name: &str,
    anonymous: bool,
    config: &str,
    made: &mut Made,
) -> Result<bool, VolumeError> {
    let new = tx.insert_volume(&NewVolume {
        name,
        driver: DRIVER,
        anonymous,
        config,
    })?;
    if new {
        made.0.push(ctx.paths.volume_dir(name));
    }
    let data = data_dir(ctx, name);
    fs::create_dir_all(&data).map_err(io_err(format!("create {}", data.display())))?;
    crate::crash::after("volume-create:dir");
    Ok(new)
}

/// Every volume, by name.
pub fn list(ctx: &Context) -> Result<Vec<Volume>, VolumeError> {
    let mut st = ctx.store().map_err(store_error)?;
    let (rows, names) = st.read(|tx| -> Result<_, StateError> {
        let rows = tx.volumes()?;
        let names: BTreeMap<String, String> = tx
            .containers()?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        Ok((rows, names))
    })?;
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    Ok(rows
        .into_iter()
        .map(|r| from_row(ctx, r, &name_of))
        .collect())
}

/// The volume named `name`.
pub fn inspect(ctx: &Context, name: &str) -> Result<Volume, VolumeError> {
    let mut st = ctx.store().map_err(store_error)?;
    let (row, names) = st.read(|tx| -> Result<_, StateError> {
        let Some(row) = tx.volume(name)? else {
            return Ok((None, BTreeMap::new()));
        };
        let mut names = BTreeMap::new();
        for id in &row.containers {
            if let Some(c) = tx.container(id)? {
                names.insert(c.id, c.name);
            }
        }
        Ok((Some(row), names))
    })?;
    let row = row.ok_or_else(|| VolumeError::NotFound(name.to_owned()))?;
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    Ok(from_row(ctx, row, &name_of))
}

/// Removes a volume and its data. Fails while a container mounts it, naming the container. With
/// `force`, a volume that does not exist is not an error.
pub fn remove(ctx: &Context, name: &str, force: bool) -> Result<(), VolumeError> {
    let mut st = ctx.store().map_err(store_error)?;
    let deleted = st.write(|tx| -> Result<bool, VolumeError> {
        if let Some(row) = tx.volume(name)? {
            if !row.containers.is_empty() {
                let mut containers = Vec::new();
                for id in &row.containers {
                    containers.push(tx.container(id)?.map_or_else(|| id.clone(), |c| c.name));
                }
                return Err(VolumeError::InUse {
                    name: name.to_owned(),
                    containers,
                });
            }
        }
        Ok(tx.delete_volume(name)?)
    })?;
    drop(st);
    if deleted {
        crate::crash::after("volume-rm:record");
    }
    if !deleted {
        return if force {
            Ok(())
        } else {
            Err(VolumeError::NotFound(name.to_owned()))
        };
    }
    remove_dir(ctx, name)
}

fn remove_dir(ctx: &Context, name: &str) -> Result<(), VolumeError> {
    let dir = ctx.paths.volume_dir(name);
    match fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(io_err(format!("remove {}", dir.display()))(e))
        }
        _ => Ok(()),
    }
}

/// Removes the volumes no container mounts (`volume prune`): anonymous ones, or all with `all`, as
/// Docker does since 23.0. Returns their names.
pub fn prune(ctx: &Context, all: bool) -> Result<Vec<String>, VolumeError> {
    let mut gone = Vec::new();
    for v in list(ctx)? {
        if v.containers.is_empty() && (all || v.anonymous) {
            match remove(ctx, &v.name, true) {
                Ok(()) => gone.push(v.name),
                // Mounted by a container made since the listing: not unused any more.
                Err(VolumeError::InUse { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(gone)
}

/// At `create`, before anything is recorded: names the anonymous volumes and sets each mount's source
/// to its volume's data directory.
pub(crate) fn name(ctx: &Context, host: &mut HostConfig) {
    for v in &mut host.volumes {
        if v.name.is_empty() {
            v.name = ContainerId::random().as_str().to_owned();
        }
        v.source = data_dir(ctx, &v.name);
    }
}

/// At `create`, in the transaction that records container `id` (after its record): makes the volumes
/// it mounts that do not exist yet, and records that it mounts them.
pub(crate) fn attach(
    ctx: &Context,
    tx: &WriteTx<'_>,
    id: &ContainerId,
    host: &HostConfig,
    made: &mut Made,
) -> Result<(), VolumeError> {
    for v in &host.volumes {
        let new = insert(ctx, tx, &v.name, v.anonymous, "{}", made)?;
        // A volume made for a container with a user namespace of its own is its root's, as podman and
        // Docker's userns-remap make it: the host's root is nobody in there, and the container could
        // neither fill it from its image nor write to it.
        if let (true, Some(m)) = (new, &host.userns) {
            let data = data_dir(ctx, &v.name);
            std::os::unix::fs::chown(&data, Some(m.uid), Some(m.gid))
                .map_err(io_err(format!("chown {}", data.display())))?;
        }
        tx.mount_volume(&v.name, id.as_str())?;
    }
    Ok(())
}

/// The spec's mounts of a container's volumes: binds of their data, filled from the image on first
/// use (unless `nocopy`).
pub(crate) fn add_mounts(ctx: &Context, c: &Container, spec: &mut Spec) -> Result<(), VolumeError> {
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for v in &c.config.host.volumes {
        let data = data_dir(ctx, &v.name);
        // Made again if someone removed it behind the engine's back: an empty volume, not a failure.
        fs::create_dir_all(&data).map_err(io_err(format!("create {}", data.display())))?;
        let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
        if v.read_only {
            options.push("ro".into());
        }
        if !v.no_copy {
            options.push("copy-up".into());
        }
        mounts.push(
            MountBuilder::default()
                .destination(&v.destination)
                .typ("bind")
                .source(data)
                .options(options)
                .build()
                .expect("complete mount"),
        );
    }
    spec.set_mounts(Some(mounts));
    Ok(())
}

/// After a container's record is gone: removes the anonymous volumes among `volumes` (its own, read
/// before with [`Volumes::of`]). Volumes another container still mounts stay.
pub(crate) fn remove_anonymous(
    ctx: &Context,
    volumes: &[(String, bool)],
) -> Result<(), VolumeError> {
    let mut first = None;
    for (name, anonymous) in volumes {
        if *anonymous {
            match remove(ctx, name, true) {
                Ok(()) | Err(VolumeError::InUse { .. }) => {}
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// [`of`] for a container about to be removed: nothing to look up when its configuration mounts no volume,
/// as [`attach`] records a container's volumes only from it. A `run --rm` of a container without volumes
/// (most) is removed without that read transaction.
pub(crate) fn of_container(
    ctx: &Context,
    c: &Container,
) -> Result<Vec<(String, bool)>, VolumeError> {
    if c.config.host.volumes.is_empty() {
        return Ok(Vec::new());
    }
    of(ctx, &c.id)
}

/// The volumes container `id` mounts, with whether each is anonymous.
fn of(ctx: &Context, id: &ContainerId) -> Result<Vec<(String, bool)>, VolumeError> {
    let mut st = ctx.store().map_err(store_error)?;
    Ok(st.read(|tx| tx.volumes_of(id.as_str()))?)
}

/// Two mounts on one path: Docker refuses them (`Duplicate mount point`), and so does `create`, before it
/// makes anything.
pub fn check_mount_points(host: &HostConfig) -> Result<(), VolumeError> {
    let mut seen = std::collections::HashSet::new();
    let clean = |p: &Path| PathBuf::from(p.to_string_lossy().trim_end_matches('/'));
    let all = host
        .binds
        .iter()
        .map(|b| clean(&b.destination))
        .chain(host.volumes.iter().map(|v| clean(&v.destination)))
        .chain(host.tmpfs.keys().map(|p| clean(p)));
    for p in all {
        if !seen.insert(p.clone()) {
            return Err(VolumeError::DuplicateMountPoint(p));
        }
    }
    Ok(())
}

/// The context's store errors, as a volume error (the store cell gives an `EngineError`).
fn store_error(e: crate::error::EngineError) -> VolumeError {
    match e {
        crate::error::EngineError::State(s) => VolumeError::State(s),
        other => VolumeError::Io {
            what: "open the state store".into(),
            source: io::Error::other(crate::error_chain(&other)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Bind, VolumeMount};

    fn volume(labels: &[(&str, &str)], containers: &[&str]) -> Volume {
        Volume {
            name: "web-data".into(),
            driver: DRIVER.into(),
            mountpoint: "/var/lib/minotaur/volumes/web-data/_data".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            anonymous: false,
            containers: containers.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn filters_follow_docker() {
        let v = volume(&[("env", "prod")], &["web"]);
        let m = |f: &str| v.matches(&f.parse().unwrap());
        assert!(m("dangling=false"));
        assert!(!m("dangling=true"));
        assert!(volume(&[], &[]).matches(&"dangling=1".parse().unwrap()));
        assert!(m("name=data"));
        assert!(!m("name=db"));
        assert!(m("label=env"));
        assert!(m("label=env=prod"));
        assert!(!m("label=env=dev"));
        assert!(m("driver=local"));
        for bad in ["dangling=maybe", "colour=red", "name"] {
            assert!(bad.parse::<Filter>().is_err(), "{bad}");
        }
    }

    #[test]
    fn inspect_has_dockers_fields() {
        let doc = volume(&[("a", "b")], &[]).inspect();
        assert_eq!(doc["Name"], "web-data");
        assert_eq!(doc["Driver"], "local");
        assert_eq!(doc["Scope"], "local");
        assert_eq!(doc["Labels"]["a"], "b");
        assert_eq!(
            doc["Mountpoint"],
            "/var/lib/minotaur/volumes/web-data/_data"
        );
    }

    #[test]
    fn two_mounts_on_one_path_are_refused() {
        let mut host = HostConfig::default();
        host.binds.push(Bind {
            source: "/srv".into(),
            destination: "/data".into(),
            read_only: false,
        });
        host.volumes.push(VolumeMount {
            name: "x".into(),
            destination: "/data/".into(),
            read_only: false,
            no_copy: false,
            anonymous: false,
            source: PathBuf::new(),
        });
        assert!(matches!(
            check_mount_points(&host),
            Err(VolumeError::DuplicateMountPoint(p)) if p == Path::new("/data")
        ));
        host.volumes[0].destination = "/other".into();
        assert!(check_mount_points(&host).is_ok());
    }
}
