//! Paths resolved by the kernel inside a directory, as if it were the root: openat2(2) with
//! `RESOLVE_IN_ROOT` (an absolute symlink starts again at the directory, `..` stops there) and
//! `RESOLVE_NO_MAGICLINKS` (no `/proc/PID/fd` or `/proc/PID/root` jumps out of it).

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};

/// How often a walk refused with `EAGAIN` is tried again before the error is returned.
const EAGAIN_TRIES: usize = 8;

/// Opens `path` inside `root` with `flags` (`O_CLOEXEC` is always added). A leading `/` and an empty path
/// mean `root` itself.
///
/// The kernel answers `EAGAIN` when a rename or a mount anywhere on the system happened during the walk, so
/// that it cannot vouch that `..` stayed inside `root`; openat2(2) asks the caller to try again, and this does,
/// a few times.
pub fn open_in_root(root: impl AsFd, path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let mut tries = 1;
    loop {
        match openat2(root.as_fd(), rel, how) {
            Err(Errno::EAGAIN) if tries < EAGAIN_TRIES => tries += 1,
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_root_and_never_above_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/hosts"), "inside").unwrap();
        std::fs::write(dir.path().join("outside"), "outside").unwrap();
        std::os::unix::fs::symlink("/etc/hosts", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../outside", root.join("up")).unwrap();
        let r = std::fs::File::open(&root).unwrap();
        let read = |p: &str| {
            let fd = open_in_root(&r, Path::new(p), OFlag::O_RDONLY)?;
            Ok::<_, Errno>(std::io::read_to_string(std::fs::File::from(fd)).unwrap())
        };
        assert_eq!(read("abs").unwrap(), "inside");
        assert_eq!(read("/abs").unwrap(), "inside");
        assert_eq!(read("up").unwrap_err(), Errno::ENOENT);
        assert_eq!(read("../outside").unwrap_err(), Errno::ENOENT);
        assert!(open_in_root(&r, Path::new(""), OFlag::O_PATH).is_ok());
    }
}
