//! Containers as `ip netns` names: a link in `/run/netns` to each container's namespace file, with its
//! `/etc/netns/NAME` entries (links to the container's `/etc` files), so that iproute2 sees and resolves as the
//! container does.

use std::fs;
use std::path::Path;

use crate::error::EngineError;

/// Registers a container's network namespace under its name in /run/netns, with /etc/netns/NAME files, so
/// `ip netns exec NAME` sees and resolves as the container does. A name someone else holds is left alone.
///
/// The name is a symbolic link to the SandboxKey, not another bind mount: iproute2 follows it like any path,
/// and every mount in the host's namespace is copied into each new container's mount namespace, so a second
/// mount per container would make every container start slower the more there are.
pub(crate) fn register(name: &str, sandbox: &Path, etc_dir: &Path) -> Result<bool, EngineError> {
    let registry = minotaur_ns::netns::Registry::system();
    let Ok(n) = minotaur_ns::netns::NetnsName::new(name) else {
        return Ok(false);
    };
    let path = registry.path(&n);
    let io = |what: String| move |source| EngineError::Io { what, source };
    let dir = Path::new(minotaur_ns::netns::RUN_DIR);
    fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
    match std::os::unix::fs::symlink(sandbox, &path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
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
    // connect` rewrites them), and each costs a link where a copy read one file and wrote another.
    let etc = Path::new(minotaur_ns::netns::ETC_DIR).join(name);
    let link = || -> std::io::Result<()> {
        fs::create_dir_all(&etc)?;
        for f in ["resolv.conf", "hosts"] {
            let (target, entry) = (etc_dir.join(f), etc.join(f));
            match std::os::unix::fs::symlink(&target, &entry) {
                // Left by an earlier holder of the name: replaced, as a copy would have been.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    fs::remove_file(&entry)?;
                    std::os::unix::fs::symlink(&target, &entry)?;
                }
                r => r?,
            }
        }
        Ok(())
    };
    link().map_err(io(format!("write {}", etc.display())))?;
    Ok(true)
}

/// Undoes [`register`], if the name is our link to `sandbox`.
pub(crate) fn unregister(name: &str, sandbox: &Path) {
    let registry = minotaur_ns::netns::Registry::system();
    let Ok(n) = minotaur_ns::netns::NetnsName::new(name) else {
        return;
    };
    let path = registry.path(&n);
    if fs::read_link(&path).ok().as_deref() != Some(sandbox) {
        return;
    }
    let _ = fs::remove_file(&path);
    let _ = crate::tree::remove(&Path::new(minotaur_ns::netns::ETC_DIR).join(name));
}
