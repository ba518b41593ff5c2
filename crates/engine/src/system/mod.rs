//! The engine on this machine as a whole: `system check` (what the store and the kernel disagree on, and
//! the repair).
//!
//! | module | owns |
//! |---|---|
//! | [`check`] | finding orphan and missing pieces (namespace files, `ip netns` names, veths, bridges, cgroups, resolver records, run directories, dead supervisors, half-pulled blobs) and repairing them |

pub mod check;
