//! Namespace kinds and identities.

use std::fmt;
use std::os::fd::AsFd;
use std::os::linux::fs::MetadataExt;
use std::path::Path;
use std::str::FromStr;

use nix::sched::CloneFlags;

/// The eight kinds of Linux namespace, in the order a joiner must enter them: the user namespace first
/// (it grants the capabilities the other joins need), the mount namespace last (joining it changes the root
/// and working directory that opening the other targets' paths relies on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NsKind {
    User,
    Cgroup,
    Ipc,
    Uts,
    Net,
    Pid,
    Time,
    Mnt,
}

impl NsKind {
    /// Every kind, in join order.
    pub const ALL: [NsKind; 8] = [
        NsKind::User,
        NsKind::Cgroup,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Net,
        NsKind::Pid,
        NsKind::Time,
        NsKind::Mnt,
    ];

    /// The name used by lsns(8) and in `/proc/PID/ns/` (`mnt`, `net`, …).
    pub fn name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Cgroup => "cgroup",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Net => "net",
            NsKind::Pid => "pid",
            NsKind::Time => "time",
            NsKind::Mnt => "mnt",
        }
    }

    /// The `CLONE_NEW*` flag for this kind.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            NsKind::User => CloneFlags::CLONE_NEWUSER,
            NsKind::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            NsKind::Ipc => CloneFlags::CLONE_NEWIPC,
            NsKind::Uts => CloneFlags::CLONE_NEWUTS,
            NsKind::Net => CloneFlags::CLONE_NEWNET,
            NsKind::Pid => CloneFlags::CLONE_NEWPID,
            // nix has no constant for CLONE_NEWTIME (0x80, shared with CSIGNAL's bits).
            NsKind::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
            NsKind::Mnt => CloneFlags::CLONE_NEWNS,
        }
    }

    /// The kind whose `CLONE_NEW*` flag is `flag`, as `NS_GET_NSTYPE` returns it.
    pub fn from_clone_flag(flag: libc::c_int) -> Option<NsKind> {
        NsKind::ALL
            .into_iter()
            .find(|k| k.clone_flag().bits() == flag)
    }

    /// The path of a process's namespace of this kind: `/proc/PID/ns/NAME`.
    pub fn proc_path(self, pid: i32) -> String {
        format!("/proc/{pid}/ns/{}", self.name())
    }

    /// The kind of the namespace an open nsfs file refers to (`NS_GET_NSTYPE`); `None` if it is not one.
    pub fn of_fd(fd: impl AsFd) -> Option<NsKind> {
        minotaur_sys::ns_get_nstype(fd)
            .ok()
            .and_then(NsKind::from_clone_flag)
    }
}

impl fmt::Display for NsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A namespace kind that is not one of the eight.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown namespace type {0:?} (expected one of mnt, net, pid, uts, ipc, user, cgroup, time)"
)]
pub struct ParseKindError(pub String);

impl FromStr for NsKind {
    type Err = ParseKindError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NsKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| ParseKindError(s.to_owned()))
    }
}

/// The identity of a namespace: the device and inode of its nsfs file. Two paths name the same namespace
/// exactly when their `NsId`s are equal. lsns prints the inode alone; the device keeps the identity unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NsId {
    pub dev: u64,
    pub ino: u64,
}

impl NsId {
    /// The identity of the namespace file at `path` (following symlinks, as `/proc/PID/ns/*` are).
    pub fn of_path(path: impl AsRef<Path>) -> std::io::Result<NsId> {
        let m = std::fs::metadata(path)?;
        Ok(NsId {
            dev: m.st_dev(),
            ino: m.st_ino(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names_and_flags() {
        for k in NsKind::ALL {
            assert_eq!(k.name().parse::<NsKind>().unwrap(), k);
            assert_eq!(NsKind::from_clone_flag(k.clone_flag().bits()), Some(k));
        }
        assert!("network".parse::<NsKind>().is_err());
    }

    #[test]
    fn join_order_puts_user_first_and_mount_last() {
        assert_eq!(NsKind::ALL.first(), Some(&NsKind::User));
        assert_eq!(NsKind::ALL.last(), Some(&NsKind::Mnt));
    }
}
