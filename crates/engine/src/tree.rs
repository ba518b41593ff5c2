//! Removing a directory tree without freeing its top directory under its parent's lock.
//!
//! `rmdir(2)` holds the parent directory's inode lock while it unlinks the entry, and when nothing else
//! refers to the removed directory the kernel lets its inode go right there (`vfs_rmdir` → `d_delete` →
//! `iput`), still under that lock. Letting an ext4 inode go frees its blocks, and on a filesystem mounted
//! with `discard` (and no journal to defer it to) each freed extent is a synchronous discard sent to the
//! disk: about half a millisecond here, much more when the disk is busy. Every container's directories
//! share a parent (`<root>/containers`, `<runroot>/containers`, `/etc/netns`), so an `rm` of many, whose
//! removals run side by side, queued on that one lock behind each other's discards, and so did every path
//! lookup through the parent meanwhile (a `statx`, the next container's `open`).
//!
//! Holding the directory open across its removal keeps the inode referenced: the `rmdir` then only
//! unlinks the name, and the inode (with its blocks, and their discard) is let go when the descriptor is
//! closed, with no lock held, beside the other removals. `unlink(2)` of a file already does this itself
//! (`do_unlinkat` drops the inode after unlocking the parent), so only the top directory needs it; the
//! directories below it have parents of their own, which nothing else waits on.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::libc;

/// Removes `dir` and everything below it, as [`fs::remove_dir_all`] does (a symbolic link is removed,
/// not followed), letting the top directory's inode go only after its name is gone (see the module's
/// comment).
pub(crate) fn remove(dir: &Path) -> io::Result<()> {
    let held = hold(dir);
    match fs::remove_dir_all(dir) {
        // Short of descriptors (a command cleaning up after `EMFILE`), the one held may be the one the
        // walk needs: it is let go, and the tree removed as `fs::remove_dir_all` alone would.
        Err(e)
            if held.is_some() && matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) =>
        {
            drop(held);
            fs::remove_dir_all(dir)
        }
        removed => removed,
    }
}

/// `dir` opened as a directory, without following a symbolic link; `None` when it cannot be (not
/// there, not a directory, a link): then [`fs::remove_dir_all`] reports or removes it as it would anyway.
fn hold(dir: &Path) -> Option<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_a_tree_and_reports_one_that_is_not_there() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        fs::create_dir_all(dir.join("sub/deeper")).unwrap();
        fs::write(dir.join("hosts"), "127.0.0.1 localhost\n").unwrap();
        fs::write(dir.join("sub/deeper/log"), "x").unwrap();
        remove(&dir).unwrap();
        assert!(fs::symlink_metadata(&dir).is_err());
        assert_eq!(remove(&dir).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn removes_a_link_to_a_directory_not_what_it_points_to() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), "x").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        remove(&link).unwrap();
        assert!(fs::symlink_metadata(&link).is_err());
        assert!(target.join("keep").exists());
    }
}
