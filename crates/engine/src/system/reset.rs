//! `system reset`: removes everything of minotaur's on this machine: containers (killed), networks with
//! their bridges, minotaur's nftables table, volumes, images, the state store, and the run root with its
//! mounts (the mount template, namespace files, the bpffs). Nothing that is not minotaur's is touched.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::network::networks;
use crate::remove;

/// Removes everything, going on past errors; returns them all (empty: everything went).
pub fn reset(ctx: &Context) -> Vec<EngineError> {
    let mut errors = Vec::new();
    let have_db = ctx.paths.root.join(minotaur_state::DB_FILE).exists();
    if have_db {
        match ctx.list() {
            Ok(all) => {
                for c in all {
                    if let Err(e) = remove::remove(ctx, c.id.as_str(), true, true) {
                        errors.push(e);
                    }
                }
            }
            Err(e) => errors.push(e),
        }
        match networks::list(ctx) {
            Ok(nets) => {
                let mut nl = match minotaur_net::Netlink::open() {
                    Ok(nl) => Some(nl),
                    Err(e) => {
                        errors.push(NetworkError::from(e).into());
                        None
                    }
                };
                for n in nets {
                    // The default network is not removable by `network rm`; its bridge goes here.
                    if let Some(nl) = nl.as_mut() {
                        if let Err(e) = nl.delete_link(&n.bridge) {
                            errors.push(NetworkError::from(e).into());
                        }
                    }
                }
                // A removed container's veth goes with its namespace, which the kernel tears down
                // later, on a work queue; what is left of ours is deleted now, so nothing outlives reset.
                if let Some(nl) = nl.as_mut() {
                    if let Err(e) = delete_our_veths(nl) {
                        errors.push(NetworkError::from(e).into());
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    match minotaur_firewall::Firewall::open() {
        Ok(mut fw) => {
            if let Err(e) = fw.remove_table() {
                errors.push(NetworkError::from(e).into());
            }
        }
        Err(e) => errors.push(NetworkError::from(e).into()),
    }
    ctx.release_store();
    wait_for_resolver(ctx);
    if let Err(e) = unmount_below(&ctx.paths.runroot) {
        errors.push(e);
    }
    for dir in [&ctx.paths.runroot, &ctx.paths.root] {
        if let Err(e) = empty(dir) {
            errors.push(e);
        }
    }
    // The engine's cgroup parent, kept from one container to the next (see
    // `Cgroup::remove_keeping_parents`): in the v2 hierarchy, or in each v1 one the runtime uses.
    let parents = minotaur_runtime::Cgroup::existing(&ctx.cgroup_root, &ctx.paths.cgroup_parent);
    for parent in parents.dirs() {
        // Where systemd runs, the supervisors' cgroup is in it (see `cgroup::tracking`); empty by now.
        let _ = fs::remove_dir(parent.join("supervisors"));
        match fs::remove_dir(parent) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => errors.push(EngineError::Io {
                what: format!("remove cgroup {}", parent.display()),
                source: e,
            }),
            _ => {}
        }
    }
    errors
}

/// Deletes the host's veths named after a container or attachment, and attachments' ifb devices; one
/// already gone meanwhile is not an error.
fn delete_our_veths(nl: &mut minotaur_net::Netlink) -> Result<(), minotaur_net::NetlinkError> {
    for link in nl.links()? {
        if (link.kind == "veth"
            && (crate::system::check::is_our_veth(&link.name)
                || crate::cni::attachment::is_cni_veth(&link.name)))
            || (link.kind == "ifb" && crate::cni::bandwidth::veth_of_ifb(&link.name).is_some())
        {
            nl.delete_link(&link.name)?;
        }
    }
    Ok(())
}

/// The resolver exits by itself once no network has a running container (the removals above told it);
/// waits for its lock to be free, at most 5 s, so its directory is not pulled from under it.
fn wait_for_resolver(ctx: &Context) {
    let lock = ctx.paths.runroot.join("dns").join(minotaur_dns::LOCK_FILE);
    let Ok(file) = fs::File::open(&lock) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut file = file;
    loop {
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(_) => return,
            Err((f, _)) if Instant::now() < deadline => {
                file = f;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => {
                log::warn!("the resolver did not exit: removing its directory anyway");
                return;
            }
        }
    }
}

/// Detaches every mount at or below `dir`, deepest first (mountinfo lists parents before children).
fn unmount_below(dir: &Path) -> Result<(), EngineError> {
    let info = fs::read_to_string("/proc/self/mountinfo").map_err(|source| EngineError::Io {
        what: "read /proc/self/mountinfo".into(),
        source,
    })?;
    let mounts: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(unescape)
        .filter(|p| p.starts_with(dir))
        .collect();
    for m in mounts.iter().rev() {
        match nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
            Err(source) => {
                return Err(EngineError::Sys {
                    what: format!("unmount {}", m.display()),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// mountinfo's octal escapes (`\040` for a space) undone.
fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let s = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("0");
            out.push(u8::from_str_radix(s, 8).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(out))
}

/// Removes what is in `dir`, keeping `dir` itself (it may be a mount point, or given by a packager).
fn empty(dir: &Path) -> Result<(), EngineError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(EngineError::Io {
                what: format!("read {}", dir.display()),
                source,
            })
        }
    };
    for e in entries.flatten() {
        let path = e.path();
        let r = match e.file_type() {
            Ok(t) if t.is_dir() => fs::remove_dir_all(&path),
            _ => fs::remove_file(&path),
        };
        if let Err(source) = r {
            return Err(EngineError::Io {
                what: format!("remove {}", path.display()),
                source,
            });
        }
    }
    Ok(())
}
