//! Mount options of an OCI spec, as mount(2) flags and data.
//!
//! The spec writes mount options the way mount(8) does (`ro`, `nosuid`, `rbind`, `rprivate`, `size=64m`);
//! this module splits them into the flags of the mount call, the propagation changes that need mount calls
//! of their own, and the filesystem-specific data string. It is pure and needs no privileges.

use nix::mount::MsFlags;

/// What a list of mount options means to mount(2).
#[derive(Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount call (for a bind mount: for the read-only/nosuid/... remount after it).
    pub flags: MsFlags,
    /// `bind` or `rbind`.
    pub bind: bool,
    /// `rbind`: bind the whole tree below the source.
    pub rec: bool,
    /// Propagation changes, each its own mount call, in order.
    pub propagation: Vec<MsFlags>,
    /// Everything else, comma-separated, passed as the filesystem's data (`mode=755`, `size=65536k`).
    pub data: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            bind: false,
            rec: false,
            propagation: Vec::new(),
            data: String::new(),
        }
    }
}

/// The flags for a propagation option (`private`, `rslave`, …), or `None` when it is not one.
pub fn propagation(opt: &str) -> Option<MsFlags> {
    Some(match opt {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Splits mount options into flags, propagation changes and data.
pub fn parse_options(options: &[String]) -> MountOptions {
    let mut out = MountOptions::default();
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "bind" => {
                out.bind = true;
                continue;
            }
            "rbind" => {
                out.bind = true;
                out.rec = true;
                continue;
            }
            "defaults" => continue,
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            other => {
                if let Some(p) = propagation(other) {
                    out.propagation.push(p);
                } else {
                    data.push(other);
                }
                continue;
            }
        };
        out.flags.insert(set);
        out.flags.remove(clear);
    }
    out.data = data.join(",");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> MountOptions {
        parse_options(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn tmpfs_options_split_into_flags_and_data() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
    }

    #[test]
    fn read_only_rbind_with_propagation() {
        let o = opts(&["rbind", "ro", "rprivate"]);
        assert!(o.bind && o.rec);
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data, "");
    }

    #[test]
    fn later_options_win() {
        assert_eq!(opts(&["ro", "rw"]).flags, MsFlags::empty());
        assert_eq!(opts(&["rw", "ro"]).flags, MsFlags::MS_RDONLY);
    }
}
