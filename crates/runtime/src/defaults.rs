//! Docker's defaults for a container spec: capabilities, namespaces, mounts, masked and read-only paths and
//! the seccomp profile. The engine starts from [`default_spec`] and applies the user's flags to it.

use std::collections::HashSet;

use oci_spec::runtime::{
    Capabilities, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespace, LinuxNamespaceBuilder,
    LinuxNamespaceType, Mount, MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};

/// The `PATH` a container gets when its image sets none (Docker's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub use crate::capabilities::DOCKER_CAPABILITIES;

/// Paths Docker hides from a container: files get `/dev/null` bound over them, directories an empty tmpfs.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only in a container.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Docker's default capability set as an OCI capability set.
pub fn docker_capabilities() -> Capabilities {
    DOCKER_CAPABILITIES.iter().copied().collect()
}

/// New PID, mount, IPC, UTS, network and cgroup namespaces.
pub fn default_namespaces() -> Vec<LinuxNamespace> {
    [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Cgroup,
    ]
    .into_iter()
    .map(|t| {
        LinuxNamespaceBuilder::default()
            .typ(t)
            .build()
            .expect("complete namespace")
    })
    .collect()
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .expect("complete mount")
}

/// Docker's default mounts: a fresh `/proc`, a minimal `/dev` (tmpfs, devpts, shm, mqueue), a read-only
/// `/sys` and the container's own cgroup, read-only, at `/sys/fs/cgroup`.
pub fn default_mounts() -> Vec<Mount> {
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
    ]
}

/// A writable tmpfs at `dest`, as Docker's `--tmpfs` makes it (and the `host` image's `/tmp` and `/run`).
pub fn tmpfs_mount(dest: &str) -> Mount {
    mount(dest, "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=1777"])
}

/// A spec with Docker's defaults that runs `args` as root in `/` of the bundle's `rootfs`: the namespaces of
/// [`default_namespaces`], Docker's capabilities (none inheritable or ambient), [`default_mounts`],
/// [`MASKED_PATHS`], [`READONLY_PATHS`] and the default seccomp profile. No hostname, cgroup or resources:
/// those are the engine's to set.
pub fn default_spec(args: &[String]) -> Spec {
    let caps = docker_capabilities();
    let process = ProcessBuilder::default()
        .args(args.to_vec())
        .env(vec![format!("PATH={DEFAULT_PATH}")])
        .cwd("/")
        // oci-spec's own defaults differ from Docker's here: no no_new_privs, no rlimits.
        .no_new_privileges(false)
        .rlimits(Vec::new())
        .user(
            UserBuilder::default()
                .uid(0u32)
                .gid(0u32)
                .build()
                .expect("complete user"),
        )
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(caps.clone())
                .effective(caps.clone())
                .permitted(caps)
                .inheritable(HashSet::new())
                .ambient(HashSet::new())
                .build()
                .expect("complete capabilities"),
        )
        .build()
        .expect("complete process");
    let linux = LinuxBuilder::default()
        .namespaces(default_namespaces())
        .masked_paths(
            MASKED_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .readonly_paths(
            READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .seccomp(crate::seccomp::docker_default())
        .build()
        .expect("complete linux section");
    SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path("rootfs")
                .readonly(false)
                .build()
                .expect("complete root"),
        )
        .process(process)
        .mounts(default_mounts())
        .linux(linux)
        .build()
        .expect("complete spec")
}

/// Makes `spec` run on the built-in `host` image: the host's `/`, bound recursively and read-only, with
/// writable tmpfs `/tmp` and `/run` (fresh `/proc`, `/dev` and `/sys` come from the default mounts).
pub fn use_host_root(spec: &mut Spec) {
    spec.set_root(Some(
        RootBuilder::default()
            .path("/")
            .readonly(true)
            .build()
            .expect("complete root"),
    ));
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(tmpfs_mount("/tmp"));
    mounts.push(tmpfs_mount("/run"));
    spec.set_mounts(Some(mounts));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_capabilities_are_dockers_capeff() {
        // Docker's default CapEff as /proc/PID/status shows it.
        let mask: u64 = DOCKER_CAPABILITIES
            .iter()
            .map(|c| {
                let name = c.to_string();
                let cap: caps::Capability = format!("CAP_{}", name.trim_start_matches("CAP_"))
                    .parse()
                    .unwrap();
                cap.bitmask()
            })
            .sum();
        assert_eq!(format!("{mask:016x}"), "00000000a80425fb");
    }

    #[test]
    fn default_spec_round_trips_through_json() {
        let spec = default_spec(&["sh".to_string()]);
        let json = serde_json::to_string(&spec).unwrap();
        let back: Spec = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.process().as_ref().unwrap().args().as_ref().unwrap()[0],
            "sh"
        );
        assert_eq!(
            back.linux()
                .as_ref()
                .unwrap()
                .namespaces()
                .as_ref()
                .unwrap()
                .len(),
            6
        );
    }
}
