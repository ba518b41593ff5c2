//! Docker's default capability set: what a container gets unless `--cap-add`/`--cap-drop` say otherwise.
//! Its own module, below both [`crate::defaults`] (the spec's process capabilities) and [`crate::seccomp`]
//! (Docker's profile allows some system calls by capability, and its tests compile the profile for this set).

use oci_spec::runtime::Capability;

/// Docker's default capability set.
pub const DOCKER_CAPABILITIES: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];
