//! Containers as `ip netns` names: a link in `/run/netns` to each container's namespace file, with its
//! `/etc/netns/NAME` entries (a link, through a short link of the run root, to a directory of links to the
//! container's `/etc` files), so that iproute2 sees and resolves as the container does.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::Path;

use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::paths::Paths;

/// Registers container `id`'s network namespace (`sandbox`) under `name` in /run/netns, with
/// /etc/netns/NAME entries, so `ip netns exec NAME` sees and resolves as the container does. A name someone
/// else holds is left alone.
///
/// The name is a symbolic link to the SandboxKey, not another bind mount: iproute2 follows it like any path,
/// and every mount in the host's namespace is copied into each new container's mount namespace, so a second
/// mount per container would make every container start slower the more there are.
pub(crate) fn register(
    paths: &Paths,
    id: &ContainerId,
    name: &str,
    sandbox: &Path,
) -> Result<bool, EngineError> {
    let registry = minotaur_ns::netns::Registry::system();
    let Ok(n) = minotaur_ns::netns::NetnsName::new(name) else {
        return Ok(false);
    };
    let path = registry.path(&n);
    let io = |what: String| move |source| EngineError::Io { what, source };
    let dir = Path::new(minotaur_ns::netns::RUN_DIR);
    fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
    match symlink(sandbox, &path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            log::warn!(
                "{} exists already: not registering container {name} there",
                path.display()
            );
            return Ok(false);
        }
        Err(e) => return Err(io(format!("create {}", path.display()))(e)),
    }
    // Links to the container's own files, not copies: `ip netns exec` bind-mounts each entry over `/etc`,
    // and a bind follows a link, so it shows the files as the container has them now (a `network
    // connect` rewrites them). They are made in the container's run directory (a tmpfs), and
    // /etc/netns/NAME is one link to that directory (through its short alias, see `Paths::netns_alias`),
    // which `ip netns exec` lists through: one entry on the root file system where a directory and two
    // links were three (this machine's takes 170–200 µs for each), and one to remove.
    let links = paths.netns_etc(id);
    let etc_dir = crate::etc::dir(paths, id);
    let make_links = || -> io::Result<()> {
        fs::create_dir_all(&links)?;
        for f in ["resolv.conf", "hosts"] {
            replace_link(&etc_dir.join(f), &links.join(f))?;
        }
        Ok(())
    };
    make_links().map_err(io(format!("write {}", links.display())))?;
    let alias = paths.netns_alias(name);
    let link_alias = || match replace_link(&links, &alias) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(alias.parent().expect("the aliases' directory"))?;
            replace_link(&links, &alias)
        }
        r => r,
    };
    link_alias().map_err(io(format!("create {}", alias.display())))?;
    let etc = Path::new(minotaur_ns::netns::ETC_DIR).join(name);
    let link_etc = || match symlink(&alias, &etc) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(minotaur_ns::netns::ETC_DIR)?;
            symlink(&alias, &etc)
        }
        // Left by an earlier holder of the name, or a directory an older build made: replaced.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            remove_entry(&etc)?;
            symlink(&alias, &etc)
        }
        r => r,
    };
    link_etc().map_err(io(format!("create {}", etc.display())))?;
    Ok(true)
}

/// A link at `entry` to `target`, replacing whatever was there.
fn replace_link(target: &Path, entry: &Path) -> io::Result<()> {
    match symlink(target, entry) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(entry)?;
            symlink(target, entry)
        }
        r => r,
    }
}

/// Removes `/etc/netns/NAME`: our link, or a directory (an older build's, or someone's the name
/// replaced). One `unlink` for a link.
fn remove_entry(etc: &Path) -> io::Result<()> {
    match fs::remove_file(etc) {
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EISDIR as i32) => {
            crate::tree::remove(etc)
        }
        r => r,
    }
}

/// Undoes [`register`], if the name is our link to `sandbox`. (The links in the container's run
/// directory go with it.)
pub(crate) fn unregister(paths: &Paths, name: &str, sandbox: &Path) {
    let registry = minotaur_ns::netns::Registry::system();
    let Ok(n) = minotaur_ns::netns::NetnsName::new(name) else {
        return;
    };
    let path = registry.path(&n);
    if fs::read_link(&path).ok().as_deref() != Some(sandbox) {
        return;
    }
    // The name itself last: whatever links through it goes first, so that an alias or an `/etc/netns`
    // entry never outlives it (`system check` takes an alias without a name for a leftover).
    let _ = remove_entry(&Path::new(minotaur_ns::netns::ETC_DIR).join(name));
    let _ = fs::remove_file(paths.netns_alias(name));
    let _ = fs::remove_file(&path);
}
