//! Discovering every namespace on the machine, as lsns(8) does, plus the ones no process is in.
//!
//! A namespace lives as long as something refers to it: a process (`/proc/PID/ns/KIND`), an nsfs bind mount
//! (`ip netns add`, `unshare --net=FILE`, a container engine's sandbox key), an open descriptor, or a child
//! namespace. [`discover`] finds the first two kinds of holder:
//!
//! - it stats `/proc/[0-9]*/ns/KIND` for every process and groups processes by the identity of the file
//!   (its device and inode, [`NsId`]); the links are only stat(2)ed, never opened, which is what makes a scan
//!   cheap (util-linux 2.38 opens each one and issues two ioctls);
//! - it reads the nsfs mounts of its own mount namespace (`/proc/self/mountinfo`) and of one process in every
//!   other mount namespace it saw, so a namespace bind-mounted inside a container's mount namespace is found
//!   as well. util-linux 2.38 lists neither kind of bind-mount-only namespace; 2.40 lists those in its own
//!   mount namespace.
//!
//! Open descriptors and parent namespaces are not searched: finding them means reading every process's file
//! table, and lsns does not do it either.
//!
//! What a namespace is *called* beyond its mounts (a container's name) is not this module's business: it
//! reports the mounts, and the crates above add names.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::linux::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::kind::{NsId, NsKind};
use crate::mountinfo::{self, MountInfo};

/// Where iproute2 keeps named network namespaces (ip-netns(8)).
const NETNS_RUN_DIR: &str = "/run/netns";

/// One namespace and what holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    pub id: NsId,
    pub kind: NsKind,
    /// The processes in it, lowest PID first (PIDs as the scanned `/proc` numbers them).
    pub pids: Vec<i32>,
    /// The nsfs bind mounts that hold it, those of the scanner's own mount namespace first.
    pub mounts: Vec<NsfsMount>,
    /// A path that opens it from here: `/proc/PID/ns/KIND` of its lowest PID, else its first mount's.
    pub path: PathBuf,
}

/// An nsfs bind mount: a file that keeps a namespace alive with no process in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsfsMount {
    /// The mount point, as its mount namespace sees it.
    pub mount_point: PathBuf,
    /// `None` when the mount is in the scanner's own mount namespace; otherwise the process through which
    /// the other mount namespace was read.
    pub via_pid: Option<i32>,
    /// A path that opens the namespace from here: the mount point itself, or `/proc/PID/root/MOUNT_POINT`.
    pub path: PathBuf,
}

impl NsfsMount {
    /// The `ip netns` name when this is `/run/netns/NAME` in the scanner's own mount namespace.
    pub fn netns_name(&self) -> Option<&str> {
        if self.via_pid.is_some() || self.mount_point.parent() != Some(Path::new(NETNS_RUN_DIR)) {
            return None;
        }
        self.mount_point.file_name()?.to_str()
    }
}

impl Namespace {
    /// The lowest PID in the namespace, which lsns reports as its PID.
    pub fn lowest_pid(&self) -> Option<i32> {
        self.pids.first().copied()
    }

    /// True when `pid` is one of its processes.
    pub fn has_pid(&self, pid: i32) -> bool {
        self.pids.binary_search(&pid).is_ok()
    }
}

/// A failed scan of `/proc` or of the scanner's own mount table.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("cannot list processes in {path}")]
    ListProcesses {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the mount table {path}")]
    ReadMounts {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Finds the namespaces of the given kinds (every kind when `kinds` is empty) that a process under `proc`
/// is in or that an nsfs mount holds, sorted by inode as lsns sorts them. `proc` is where procfs is mounted
/// (`/proc`); tests pass a directory laid out like it.
///
/// Processes that exit during the scan, and namespace links the caller may not read, are skipped.
pub fn discover(proc: &Path, kinds: &[NsKind]) -> Result<Vec<Namespace>, DiscoverError> {
    discover_with(proc, kinds, true)
}

/// Like [`discover`]; with `other_mount_namespaces` false, only the scanner's own mount table is read for
/// nsfs mounts. Reading one table per other mount namespace is most of a scan's cost where each of a
/// thousand containers has its own, and what it finds (a namespace bind-mounted only inside another mount
/// namespace) is rare.
pub fn discover_with(
    proc: &Path,
    kinds: &[NsKind],
    other_mount_namespaces: bool,
) -> Result<Vec<Namespace>, DiscoverError> {
    let wanted = |k: NsKind| kinds.is_empty() || kinds.contains(&k);
    let mut by_id: HashMap<NsId, Namespace> = HashMap::new();
    let own_mnt = NsId::of_path(proc.join("self/ns/mnt")).ok();
    // One process per mount namespace other than ours, whose mount table is read below.
    let mut other_mnt: HashMap<NsId, i32> = HashMap::new();

    for pid in list_pids(proc)? {
        let ns_dir = proc.join(pid.to_string()).join("ns");
        for kind in NsKind::ALL {
            if !wanted(kind) && (kind != NsKind::Mnt || !other_mount_namespaces) {
                continue;
            }
            let Ok(id) = NsId::of_path(ns_dir.join(kind.name())) else {
                // Gone, or not ours to see (EACCES): lsns skips these too.
                continue;
            };
            if kind == NsKind::Mnt && other_mount_namespaces && Some(id) != own_mnt {
                let via = other_mnt.entry(id).or_insert(pid);
                *via = (*via).min(pid);
            }
            if wanted(kind) {
                by_id
                    .entry(id)
                    .or_insert_with(|| Namespace {
                        id,
                        kind,
                        pids: Vec::new(),
                        mounts: Vec::new(),
                        path: PathBuf::new(),
                    })
                    .pids
                    .push(pid);
            }
        }
    }

    let own_path = proc.join("self/mountinfo");
    let own = mountinfo::read(&own_path).map_err(|source| DiscoverError::ReadMounts {
        path: own_path,
        source,
    })?;
    add_mounts(&mut by_id, &own, None, proc, &wanted);
    let mut others: Vec<i32> = if other_mount_namespaces {
        other_mnt.into_values().collect()
    } else {
        Vec::new()
    };
    others.sort_unstable();
    for pid in others {
        // A process that has exited since has taken its mount namespace's table with it, or the namespace
        // lives on in another process we do not revisit: either way there is nothing more to learn cheaply.
        if let Ok(table) = mountinfo::read(proc.join(format!("{pid}/mountinfo"))) {
            add_mounts(&mut by_id, &table, Some(pid), proc, &wanted);
        }
    }

    let mut list: Vec<Namespace> = by_id.into_values().collect();
    for ns in &mut list {
        ns.pids.sort_unstable();
        ns.path = match (ns.lowest_pid(), ns.mounts.first()) {
            (Some(pid), _) => proc.join(format!("{pid}/ns/{}", ns.kind.name())),
            (None, Some(m)) => m.path.clone(),
            (None, None) => unreachable!("every namespace found has a process or a mount"),
        };
    }
    list.sort_by_key(|ns| (ns.id.ino, ns.id.dev));
    Ok(list)
}

/// The namespace with inode `ino`, found the way a question about one namespace (`whois NS-INODE`) can
/// afford at a thousand containers: its kind from an nsfs mount of the scanner's own mount table when one
/// holds it, else from the first process found in it; then only that kind's link of each process is
/// stat(2)ed (a full [`discover`] of every kind stats eight per process). The same answer as
/// `discover_with(proc, &[], false)` gives for that inode: `None` when neither a process nor a mount of the
/// scanner's own mount namespace holds it.
pub fn find_one(proc: &Path, ino: u64) -> Result<Option<Namespace>, DiscoverError> {
    let own_path = proc.join("self/mountinfo");
    let own = mountinfo::read(&own_path).map_err(|source| DiscoverError::ReadMounts {
        path: own_path,
        source,
    })?;
    let mut by_id: HashMap<NsId, Namespace> = HashMap::new();
    let table: Vec<MountInfo> = own
        .into_iter()
        .filter(|m| m.nsfs_target().is_some_and(|(_, i)| i == ino))
        .collect();
    add_mounts(&mut by_id, &table, None, proc, &|_| true);
    let pids = list_pids(proc)?;
    let found = match by_id.into_values().next() {
        Some(ns) => Some((ns.id, ns.kind, ns.mounts)),
        None => pids.iter().find_map(|pid| {
            let dir = proc.join(format!("{pid}/ns"));
            NsKind::ALL.into_iter().find_map(|kind| {
                let id = NsId::of_path(dir.join(kind.name())).ok()?;
                (id.ino == ino).then_some((id, kind, Vec::new()))
            })
        }),
    };
    let Some((id, kind, mounts)) = found else {
        return Ok(None);
    };
    let in_it = in_namespace(proc, &pids, kind, id);
    let path = match (in_it.first(), mounts.first()) {
        (Some(pid), _) => proc.join(format!("{pid}/ns/{}", kind.name())),
        (None, Some(m)) => m.path.clone(),
        (None, None) => return Ok(None),
    };
    Ok(Some(Namespace {
        id,
        kind,
        pids: in_it,
        mounts,
        path,
    }))
}

/// The processes under `proc` in the namespace `id` of kind `kind`, lowest PID first: one stat(2) of
/// `/proc/PID/ns/KIND` per process, for a question about one namespace's processes.
pub fn pids_in(proc: &Path, kind: NsKind, id: NsId) -> Result<Vec<i32>, DiscoverError> {
    Ok(in_namespace(proc, &list_pids(proc)?, kind, id))
}

fn in_namespace(proc: &Path, pids: &[i32], kind: NsKind, id: NsId) -> Vec<i32> {
    let mut out: Vec<i32> = pids
        .iter()
        .copied()
        .filter(|pid| {
            NsId::of_path(proc.join(format!("{pid}/ns/{}", kind.name()))).is_ok_and(|x| x == id)
        })
        .collect();
    out.sort_unstable();
    out
}

/// The PIDs under `proc`, in the kernel's order.
fn list_pids(proc: &Path) -> Result<Vec<i32>, DiscoverError> {
    let err = |source| DiscoverError::ListProcesses {
        path: proc.to_owned(),
        source,
    };
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(proc).map_err(err)? {
        let entry = entry.map_err(err)?;
        if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// Records the nsfs mounts of one mount table. Mounts of another mount namespace are recorded only for
/// namespaces that no mount table read before (ours first, then the others by PID) has a mount of: a
/// mount propagated into every container's mount namespace (as `/run/netns` usually is) would otherwise
/// be listed once per container.
fn add_mounts(
    by_id: &mut HashMap<NsId, Namespace>,
    table: &[MountInfo],
    via_pid: Option<i32>,
    proc: &Path,
    wanted: &impl Fn(NsKind) -> bool,
) {
    let mut seen_here: Vec<NsId> = Vec::new();
    for m in table {
        let Some((kind, ino)) = m.nsfs_target() else {
            continue;
        };
        let Ok(kind) = kind.parse::<NsKind>() else {
            continue;
        };
        if !wanted(kind) {
            continue;
        }
        let id = NsId {
            dev: nix::sys::stat::makedev(m.major.into(), m.minor.into()),
            ino,
        };
        let path = match via_pid {
            None => m.mount_point.clone(),
            Some(pid) => {
                let inside = m.mount_point.strip_prefix("/").unwrap_or(&m.mount_point);
                proc.join(format!("{pid}/root")).join(inside)
            }
        };
        let ns = by_id.entry(id).or_insert_with(|| Namespace {
            id,
            kind,
            pids: Vec::new(),
            mounts: Vec::new(),
            path: PathBuf::new(),
        });
        if via_pid.is_some()
            && !seen_here.contains(&id)
            && ns.mounts.iter().any(|m| m.via_pid != via_pid)
        {
            continue;
        }
        seen_here.push(id);
        if ns.mounts.iter().any(|x| x.path == path) {
            continue;
        }
        ns.mounts.push(NsfsMount {
            mount_point: m.mount_point.clone(),
            via_pid,
            path,
        });
    }
}

/// An open descriptor of a namespace: what keeps a namespace that no process is in and no mount holds alive
/// (a runtime that keeps the descriptor of a namespace it made, `unshare` before it execs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdHolder {
    pub pid: i32,
    pub fd: i32,
    pub kind: NsKind,
    /// `/proc/PID/fd/FD`: opening it opens the namespace.
    pub path: PathBuf,
}

/// The descriptors of every process under `proc` that refer to the namespace with inode `ino`. Finding them
/// means reading every process's descriptor table (one readlink per descriptor), which [`discover`] does
/// not do: this is for a question about one namespace, as `whois NS-INODE` asks it.
pub fn fd_holders(proc: &Path, ino: u64) -> Result<Vec<FdHolder>, DiscoverError> {
    let suffix = format!(":[{ino}]");
    // The device of nsfs, to tell a namespace from a file that happens to have the same inode number.
    let nsfs_dev = NsId::of_path(proc.join("self/ns/net"))
        .ok()
        .map(|id| id.dev);
    let mut out = Vec::new();
    for pid in list_pids(proc)? {
        let dir = proc.join(format!("{pid}/fd"));
        let Ok(fds) = std::fs::read_dir(&dir) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            // A descriptor opened on a namespace reads as `net:[4026532008]`; one opened through a bind
            // mount reads as the mount's path (or `/` once it is unmounted), so a path is checked with
            // stat(2), which follows the descriptor to the namespace itself.
            let kind = if let Some(k) = target.strip_suffix(suffix.as_str()) {
                k.parse::<NsKind>().ok()
            } else if target.starts_with('/') {
                let same = std::fs::metadata(fd.path())
                    .is_ok_and(|m| m.st_ino() == ino && Some(m.st_dev()) == nsfs_dev);
                if same {
                    File::open(fd.path()).ok().and_then(NsKind::of_fd)
                } else {
                    None
                }
            } else {
                None
            };
            let Some(kind) = kind else { continue };
            if let Some(n) = fd.file_name().to_str().and_then(|n| n.parse().ok()) {
                out.push(FdHolder {
                    pid,
                    fd: n,
                    kind,
                    path: fd.path(),
                });
            }
        }
    }
    Ok(out)
}

/// How a namespace relates to others, from the nsfs ioctls (ioctl_ns(2)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relations {
    /// The inode of the parent namespace (PID and user namespaces only).
    pub parent: Option<u64>,
    /// The inode of the user namespace that owns it.
    pub owner: Option<u64>,
    /// The UID that created the owning user namespace (for a user namespace: that created it).
    pub owner_uid: Option<u32>,
}

/// Reads the [`Relations`] of the namespace at `path`. A relation the kernel will not reveal (`EPERM`: it
/// lies outside the caller's user namespace) or that does not exist is `None`, as lsns prints it as 0.
pub fn relations(path: &Path, kind: NsKind) -> io::Result<Relations> {
    let file = File::open(path)?;
    let ino = |fd: std::os::fd::OwnedFd| File::from(fd).metadata().ok().map(|m| m.st_ino());
    let parent = match kind {
        NsKind::Pid | NsKind::User => minotaur_sys::ns_get_parent(&file).ok().and_then(ino),
        _ => None,
    };
    let owner_fd = minotaur_sys::ns_get_userns(&file).ok();
    let owner_uid = if kind == NsKind::User {
        minotaur_sys::ns_get_owner_uid(&file).ok()
    } else {
        owner_fd
            .as_ref()
            .and_then(|fd| minotaur_sys::ns_get_owner_uid(fd).ok())
    };
    Ok(Relations {
        parent,
        owner: owner_fd.and_then(ino),
        owner_uid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A fake procfs: each namespace is a plain file, so its "identity" is that file's inode; a process's
    /// `ns/KIND` is a symlink to it, which `stat` follows just as it follows the real magic links.
    struct FakeProc {
        dir: tempfile::TempDir,
    }

    impl FakeProc {
        fn new() -> FakeProc {
            let f = FakeProc {
                dir: tempfile::tempdir().unwrap(),
            };
            fs::create_dir_all(f.dir.path().join("nsfiles")).unwrap();
            f
        }
        fn ns(&self, name: &str) -> PathBuf {
            let p = self.dir.path().join("nsfiles").join(name);
            if !p.exists() {
                fs::write(&p, "").unwrap();
            }
            p
        }
        fn ino(&self, name: &str) -> u64 {
            fs::metadata(self.ns(name)).unwrap().st_ino()
        }
        fn process(&self, pid: &str, ns: &[(&str, &str)], mountinfo: &str) {
            let d = self.dir.path().join(pid);
            fs::create_dir_all(d.join("ns")).unwrap();
            for (kind, name) in ns {
                std::os::unix::fs::symlink(self.ns(name), d.join("ns").join(kind)).unwrap();
            }
            fs::write(d.join("mountinfo"), mountinfo).unwrap();
        }
        fn nsfs_line(&self, id: u32, kind: &str, name: &str, at: &str) -> String {
            let dev = fs::metadata(self.ns(name)).unwrap().st_dev();
            let (maj, min) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
            format!(
                "{id} 1 {maj}:{min} {kind}:[{}] {at} rw shared:1 - nsfs nsfs rw\n",
                self.ino(name)
            )
        }
        fn path(&self) -> &Path {
            self.dir.path()
        }
    }

    fn find<'a>(list: &'a [Namespace], f: &FakeProc, name: &str) -> &'a Namespace {
        list.iter()
            .find(|n| n.id.ino == f.ino(name))
            .unwrap_or_else(|| panic!("{name} not found in {list:#?}"))
    }

    #[test]
    fn groups_processes_by_namespace_and_reports_the_lowest_pid() {
        let f = FakeProc::new();
        let host = [("net", "net0"), ("mnt", "mnt0"), ("uts", "uts0")];
        f.process("7", &host, "");
        f.process("3", &host, "");
        f.process(
            "12",
            &[("net", "net1"), ("mnt", "mnt0"), ("uts", "uts0")],
            "",
        );
        f.process("self", &host, "");
        fs::create_dir(f.path().join("not-a-pid")).unwrap();
        let list = discover(f.path(), &[]).unwrap();
        assert_eq!(list.len(), 4, "{list:#?}");
        let net0 = find(&list, &f, "net0");
        assert_eq!((net0.kind, net0.pids.clone()), (NsKind::Net, vec![3, 7]));
        assert_eq!(net0.path, f.path().join("3/ns/net"));
        assert_eq!(find(&list, &f, "uts0").pids, vec![3, 7, 12]);
        assert_eq!(find(&list, &f, "net1").lowest_pid(), Some(12));
        assert!(list.windows(2).all(|w| w[0].id.ino < w[1].id.ino));
    }

    #[test]
    fn kinds_filter_the_listing() {
        let f = FakeProc::new();
        f.process("1", &[("net", "net0"), ("mnt", "mnt0")], "");
        f.process("self", &[("mnt", "mnt0")], "");
        let list = discover(f.path(), &[NsKind::Net]).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].kind, NsKind::Net);
    }

    #[test]
    fn finds_namespaces_held_only_by_bind_mounts_here_and_in_other_mount_namespaces() {
        let f = FakeProc::new();
        let own = format!(
            "{}{}",
            f.nsfs_line(10, "net", "blue", "/run/netns/blue"),
            f.nsfs_line(11, "net", "net0", "/run/held")
        );
        f.process("self", &[("mnt", "mnt0")], &own);
        f.process("1", &[("net", "net0"), ("mnt", "mnt0")], &own);
        // Another mount namespace that sees /run/netns/blue by propagation and has its own bind mount.
        let theirs = format!(
            "{}{}",
            f.nsfs_line(20, "net", "blue", "/run/netns/blue"),
            f.nsfs_line(21, "net", "hidden", "/tmp/x")
        );
        f.process("40", &[("net", "net0"), ("mnt", "mnt1")], &theirs);
        f.process("41", &[("net", "net0"), ("mnt", "mnt1")], &theirs);

        let list = discover(f.path(), &[NsKind::Net]).unwrap();
        let blue = find(&list, &f, "blue");
        assert!(blue.pids.is_empty());
        assert_eq!(blue.mounts.len(), 1, "{blue:#?}");
        assert_eq!(blue.mounts[0].netns_name(), Some("blue"));
        assert_eq!(blue.path, Path::new("/run/netns/blue"));

        let net0 = find(&list, &f, "net0");
        assert_eq!(net0.pids, vec![1, 40, 41]);
        assert_eq!(net0.mounts[0].mount_point, Path::new("/run/held"));
        assert_eq!(net0.mounts[0].netns_name(), None);

        let hidden = find(&list, &f, "hidden");
        assert_eq!(hidden.mounts[0].via_pid, Some(40));
        assert_eq!(hidden.mounts[0].path, f.path().join("40/root/tmp/x"));
        assert_eq!(hidden.mounts[0].netns_name(), None);
        assert_eq!(list.len(), 3);

        // Without the other mount namespaces' tables: the same but the namespace only they hold.
        let here = discover_with(f.path(), &[NsKind::Net], false).unwrap();
        assert_eq!(here.len(), 2, "{here:#?}");
        assert!(here.iter().all(|n| n.id.ino != f.ino("hidden")));
    }

    #[test]
    fn find_one_agrees_with_a_full_scan_of_the_own_mount_table() {
        let f = FakeProc::new();
        let own = format!(
            "{}{}",
            f.nsfs_line(10, "net", "blue", "/run/netns/blue"),
            f.nsfs_line(11, "net", "net0", "/run/held")
        );
        f.process("self", &[("mnt", "mnt0")], &own);
        f.process("1", &[("net", "net0"), ("mnt", "mnt0")], &own);
        f.process("40", &[("net", "net1"), ("mnt", "mnt1")], "");
        f.process("41", &[("net", "net1"), ("mnt", "mnt1")], "");
        let all = discover_with(f.path(), &[], false).unwrap();
        assert_eq!(all.len(), 5, "{all:#?}");
        for ns in &all {
            let one = find_one(f.path(), ns.id.ino).unwrap();
            assert_eq!(one.as_ref(), Some(ns), "{}", ns.id.ino);
            assert_eq!(pids_in(f.path(), ns.kind, ns.id).unwrap(), ns.pids);
        }
        assert_eq!(find_one(f.path(), 1).unwrap(), None);
    }

    #[test]
    fn finds_descriptors_held_on_a_namespace() {
        // Our own network namespace, through a descriptor this test opens.
        let ns = File::open("/proc/self/ns/net").unwrap();
        let ino = NsId::of_path("/proc/self/ns/net").unwrap().ino;
        let me = std::process::id() as i32;
        let found = fd_holders(Path::new("/proc"), ino).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&ns);
        assert!(
            found
                .iter()
                .any(|h| h.pid == me && h.fd == fd && h.kind == NsKind::Net),
            "{found:#?}"
        );
    }

    #[test]
    fn a_missing_proc_is_an_error_naming_it() {
        let err = discover(Path::new("/nonexistent/proc"), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot list processes in /nonexistent/proc"
        );
    }
}
