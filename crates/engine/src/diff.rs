//! `diff`: what changed in a container's writable layer, as Docker lists it (`A` added, `C` changed, `D`
//! deleted, sorted by path).
//!
//! An image container's changes are its overlay upper directory, read offline (the overlay itself is
//! mounted only inside the container): a character device 0:0 is a whiteout (`D`), an entry that the image's
//! layers also have is `C`, any other `A`; a directory marked opaque (`trusted.overlay.opaque=y`) replaced
//! the image's directory, whose entries it hides are listed as deleted. A `host` image container has no
//! layer: what it writes goes to its private `/tmp` and `/run` tmpfs mounts, read through its root while it
//! runs (everything there is added), and gone when it stops.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::container::Container;
use crate::context::Context;
use crate::error::{io_err, EngineError};
use crate::process::alive;

/// The host image's writable places (private tmpfs mounts; see the spec module).
const HOST_WRITABLE: &[&str] = &["/tmp", "/run"];

/// How an entry changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Changed,
    Added,
    Deleted,
}

impl Kind {
    /// Docker's letter for it.
    pub fn letter(self) -> char {
        match self {
            Kind::Changed => 'C',
            Kind::Added => 'A',
            Kind::Deleted => 'D',
        }
    }

    /// Docker's number for it (`inspect`-style JSON: 0 changed, 1 added, 2 deleted).
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// The changes of a container's writable layer, sorted by path.
pub fn diff(ctx: &Context, reference: &str) -> Result<Vec<(PathBuf, Kind)>, EngineError> {
    let c = ctx.find(reference)?;
    let mut changes = BTreeMap::new();
    if c.config.image_id == "host" {
        host_changes(&c, &mut changes)?;
    } else {
        let images = minotaur_image::Store::open(&ctx.paths.root)?;
        let id = images.resolve(&c.config.image_id)?;
        let lower = images.lower_dirs(&id)?;
        let upper = ctx.paths.container_dir(&c.id).join("upper");
        if upper.is_dir() {
            upper_changes(&upper, &lower, Path::new("/"), &mut changes)?;
        }
    }
    Ok(changes.into_iter().collect())
}

/// Whether `rel` (relative to the root) exists in the image whose layers are `lower` (top first), as the
/// overlay would show it: the first layer that has it, or a whiteout of it or of a parent, decides.
fn in_image(lower: &[PathBuf], rel: &Path) -> bool {
    for layer in lower {
        let mut dir = layer.clone();
        let mut parts = rel.components().peekable();
        while let Some(part) = parts.next() {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Err(_) => break,
                Ok(m) if is_whiteout(&m) => return false,
                Ok(_) if parts.peek().is_none() => return true,
                Ok(m) if !m.is_dir() => break,
                Ok(_) if is_opaque(&dir) => {
                    // The layers below do not show through this directory.
                    let rest: PathBuf = parts.collect();
                    return fs::symlink_metadata(dir.join(rest)).is_ok_and(|m| !is_whiteout(&m));
                }
                Ok(_) => {}
            }
        }
    }
    false
}

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| xattr_get(dir, name).as_deref().is_some_and(|v| v == b"y"))
}

fn xattr_get(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = [0u8; 8];
    let n = rustix::fs::lgetxattr(path, name, &mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// The mount points the container's init makes in its upper layer when the image lacks them (Docker keeps
/// them in an "init" layer of its own, which `diff` does not show).
const INIT_PATHS: &[&str] = &[
    "/dev",
    "/dev/mqueue",
    "/dev/pts",
    "/dev/shm",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/mtab",
    "/etc/resolv.conf",
    "/proc",
    "/sys",
    "/sys/fs/cgroup",
];

/// What a walk of an upper directory listed: something (`kept`), and init mount points it left out.
#[derive(Default)]
struct Walk {
    kept: bool,
    dropped: bool,
}

/// Walks an upper directory `dir`, standing for `at` in the container's root.
fn upper_changes(
    dir: &Path,
    lower: &[PathBuf],
    at: &Path,
    out: &mut BTreeMap<PathBuf, Kind>,
) -> Result<Walk, EngineError> {
    let mut walk = Walk::default();
    let entries = fs::read_dir(dir).map_err(io_err(format!("read {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(io_err(format!("read {}", dir.display())))?;
        let path = entry.path();
        let m = fs::symlink_metadata(&path).map_err(io_err(format!("stat {}", path.display())))?;
        let shown = at.join(entry.file_name());
        let rel = shown.strip_prefix("/").expect("below the root");
        if is_whiteout(&m) {
            if in_image(lower, rel) {
                out.insert(shown, Kind::Deleted);
                walk.kept = true;
            }
            continue;
        }
        let existed = in_image(lower, rel);
        let init = !existed && INIT_PATHS.iter().any(|p| Path::new(p) == shown);
        let drop = if m.is_dir() {
            let mut sub = upper_changes(&path, lower, &shown, out)?;
            if existed && is_opaque(&path) {
                sub.kept |= hidden_by_opaque(lower, rel, &path, out);
            }
            // A directory copied up or made only to hold init mount points is not a change either.
            !sub.kept && (init || sub.dropped)
        } else {
            init
        };
        if drop {
            walk.dropped = true;
        } else {
            out.insert(shown, if existed { Kind::Changed } else { Kind::Added });
            walk.kept = true;
        }
    }
    Ok(walk)
}

/// The image's entries of directory `rel` that the opaque upper directory `upper` does not have: deleted.
fn hidden_by_opaque(
    lower: &[PathBuf],
    rel: &Path,
    upper: &Path,
    out: &mut BTreeMap<PathBuf, Kind>,
) -> bool {
    let mut any = false;
    let mut names = std::collections::BTreeSet::new();
    for layer in lower {
        if let Ok(entries) = fs::read_dir(layer.join(rel)) {
            names.extend(entries.flatten().map(|e| e.file_name()));
        }
    }
    for name in names {
        let r = rel.join(&name);
        if fs::symlink_metadata(upper.join(&name)).is_err() && in_image(lower, &r) {
            out.insert(Path::new("/").join(r), Kind::Deleted);
            any = true;
        }
    }
    any
}

/// A running `host` container's private tmpfs mounts, through its root: everything there was added.
fn host_changes(c: &Container, out: &mut BTreeMap<PathBuf, Kind>) -> Result<(), EngineError> {
    if !alive(c.state.pid, c.state.pid_start_time) {
        return Ok(());
    }
    let root = PathBuf::from(format!("/proc/{}/root", c.state.pid));
    for place in HOST_WRITABLE {
        let dir = root.join(place.trim_start_matches('/'));
        let before = out.len();
        added(&dir, Path::new(place), out)?;
        if out.len() > before {
            out.insert(PathBuf::from(place), Kind::Changed);
        }
    }
    Ok(())
}

fn added(dir: &Path, at: &Path, out: &mut BTreeMap<PathBuf, Kind>) -> Result<(), EngineError> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let shown = at.join(entry.file_name());
        out.insert(shown.clone(), Kind::Added);
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            added(&entry.path(), &shown, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_entries_are_added_or_changed_by_what_the_image_has() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        fs::create_dir_all(lower.join("etc")).unwrap();
        fs::write(lower.join("etc/passwd"), "x").unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::write(upper.join("etc/passwd"), "y").unwrap();
        fs::write(upper.join("etc/new"), "n").unwrap();
        fs::create_dir_all(upper.join("data/sub")).unwrap();
        // Init mount points, and a directory made only for them, are left out.
        fs::create_dir_all(upper.join("proc")).unwrap();
        fs::create_dir_all(upper.join("sys/fs/cgroup")).unwrap();
        fs::write(upper.join("etc/hostname"), "").unwrap();
        let mut out = BTreeMap::new();
        upper_changes(&upper, &[lower], Path::new("/"), &mut out).unwrap();
        let got: Vec<String> = out
            .iter()
            .map(|(p, k)| format!("{} {}", k.letter(), p.display()))
            .collect();
        assert_eq!(
            got,
            [
                "A /data",
                "A /data/sub",
                "C /etc",
                "A /etc/new",
                "C /etc/passwd"
            ]
        );
    }
}
