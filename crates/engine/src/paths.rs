//! Where a container's files live.
//!
//! ```text
//! <root>/containers/<id>/            persistent, removed with the container
//!     container.log                    json-file log (and .1, .2 when rotated)
//!     hostname, hosts, resolv.conf     bound into the container over /etc/*
//!     upper/, work/                    overlayfs upper and work directories (image containers)
//! <root>/volumes/<name>/_data         a volume's data (see the volume module)
//! <runroot>/containers/<id>/          runtime, gone at reboot
//!     bundle/                          the OCI bundle directory the root is assembled on
//!     attach.sock                      the supervisor's attach channel (see the attach module)
//! <runroot>/exec/<name>               a running container's exec record (see `exec::record`)
//! <runroot>/netns/<id>                the network namespace, a bind-mounted nsfs file (SandboxKey)
//! <runroot>/mnt/template              the mount template containers' mount namespaces are copied from
//! <runroot>/bpf/                      a bpffs: the connect4 program and its map of published ports
//! ```

use std::path::PathBuf;

use crate::ids::ContainerId;

/// The engine's two directory trees (`--root` and `--runroot`), and the cgroup its containers' cgroups go
/// under (`--cgroup-parent`, relative to the cgroup root).
#[derive(Clone, Debug)]
pub struct Paths {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub cgroup_parent: PathBuf,
    /// The cgroup v2 directory whose processes' connections to published loopback ports go straight to the
    /// container (`--connect-cgroup`; see `minotaur_firewall::connect`). `None`: DNAT alone.
    pub connect_cgroup: Option<PathBuf>,
    /// The subordinate ID files `--userns=auto` takes its ranges from.
    pub subid: SubidFiles,
}

/// The subordinate ID files, `/etc/subuid` and `/etc/subgid` unless configured otherwise.
#[derive(Clone, Debug)]
pub struct SubidFiles {
    pub subuid: PathBuf,
    pub subgid: PathBuf,
}

impl Default for SubidFiles {
    fn default() -> Self {
        SubidFiles {
            subuid: PathBuf::from("/etc/subuid"),
            subgid: PathBuf::from("/etc/subgid"),
        }
    }
}

/// The default cgroup parent of containers.
pub const CGROUP_PARENT: &str = "minotaur";

impl Paths {
    pub fn new(root: impl Into<PathBuf>, runroot: impl Into<PathBuf>) -> Paths {
        Paths {
            root: root.into(),
            runroot: runroot.into(),
            cgroup_parent: PathBuf::from(CGROUP_PARENT),
            connect_cgroup: None,
            subid: SubidFiles::default(),
        }
    }

    pub fn container_dir(&self, id: &ContainerId) -> PathBuf {
        self.root.join("containers").join(id.as_str())
    }

    pub fn log(&self, id: &ContainerId) -> PathBuf {
        self.container_dir(id).join("container.log")
    }

    /// A volume's directory (its data is in `_data` below it).
    pub fn volume_dir(&self, name: &str) -> PathBuf {
        self.root.join("volumes").join(name)
    }

    pub fn run_dir(&self, id: &ContainerId) -> PathBuf {
        self.runroot.join("containers").join(id.as_str())
    }

    /// The directory of links to the container's `/etc` files that `ip netns exec` lists (through
    /// [`Paths::netns_alias`]).
    pub fn netns_etc(&self, id: &ContainerId) -> PathBuf {
        self.run_dir(id).join("netns-etc")
    }

    /// What `/etc/netns/NAME` links to: a link named after the container, on the run root's tmpfs, to its
    /// [`Paths::netns_etc`]. Its path is short, so that the link on the root file system is one ext4 keeps
    /// in its inode (a target under 60 bytes): a longer target takes a block, and freeing the block at the
    /// removal cost 60–150 µs on a disk mounted `discard` where an `unlink` otherwise takes 3.
    pub fn netns_alias(&self, name: &str) -> PathBuf {
        self.netns_aliases().join(name)
    }

    /// The directory of [`Paths::netns_alias`]es.
    pub fn netns_aliases(&self) -> PathBuf {
        self.runroot.join("ipnetns")
    }

    pub fn bundle(&self, id: &ContainerId) -> PathBuf {
        self.run_dir(id).join("bundle")
    }

    /// The socket a running container's supervisor serves its streams on.
    pub fn attach_socket(&self, id: &ContainerId) -> PathBuf {
        self.run_dir(id).join("attach.sock")
    }

    /// The directory of container network namespace files.
    pub fn netns_dir(&self) -> PathBuf {
        self.runroot.join("netns")
    }

    pub fn sandbox_key(&self, id: &ContainerId) -> PathBuf {
        self.netns_dir().join(id.as_str())
    }

    /// The cgroup of a container, relative to the cgroup root.
    pub fn cgroup(&self, id: &ContainerId) -> PathBuf {
        self.cgroup_parent.join(id.as_str())
    }
}
