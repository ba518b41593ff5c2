//! The engine on this machine as a whole: `system check` (what the store and the kernel disagree on, and
//! the repair), `system info`, `system df`, `system prune`, `system reset`.
//!
//! | module | owns |
//! |---|---|
//! | [`info`] | what this host offers the engine: kernel, cgroups, storage and sizes, networks, the resolver, security modules, the mount template, what is missing |
//! | [`df`] | the space images, containers and volumes take, and what is reclaimable |
//! | [`prune`] | stopped containers, unused networks, images and volumes |
//! | [`reset`] | everything of minotaur's, gone |
//! | [`check`] | finding orphan and missing pieces (namespace files, `ip netns` names, veths, bridges, cgroups, resolver records, run directories, dead supervisors, half-pulled blobs) and repairing them |

pub mod check;
pub mod df;
pub mod info;
pub mod prune;
pub mod reset;

use std::path::Path;

/// The total size of the files below `path` (apparent sizes; symbolic links not followed), 0 when missing.
pub(crate) fn du(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries.flatten().map(|e| du(&e.path())).sum()
}
