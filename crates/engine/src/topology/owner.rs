//! What a namespace belongs to. minotaur's own containers are known from the store; everything else is
//! labelled by what holds it: an `ip netns` name (a bind mount in `/run/netns`), another engine (docker
//! keeps its sandboxes in `/run/docker/netns`, podman names its `netns-UUID` in `/run/netns`, and their
//! containers' processes sit in `docker`/`libpod` cgroups), a process, a bind mount elsewhere, or only an
//! open descriptor.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Who a namespace (or an interface in it) belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Owner {
    /// The namespace minotaur itself runs in (the host's, or the box's in tests).
    Host,
    /// A minotaur container (the first, when `container:X` joiners share it).
    Container { id: String, name: String },
    /// A name in `/run/netns` that minotaur did not make.
    IpNetns { name: String },
    /// Docker's: a sandbox in `/run/docker/netns`, or a process in a docker cgroup.
    Docker { detail: String },
    /// Podman's: a `netns-UUID` in `/run/netns`, or a process in a libpod cgroup.
    Podman { detail: String },
    /// A process's own namespace (its lowest PID).
    Process { pid: i32, command: String },
    /// Only an nsfs bind mount holds it.
    Mount { path: PathBuf },
    /// Only an open descriptor holds it.
    Descriptor { pid: i32, fd: i32, command: String },
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Host => f.write_str("host"),
            Owner::Container { name, .. } => write!(f, "container {name}"),
            Owner::IpNetns { name } => write!(f, "ip netns {name}"),
            Owner::Docker { detail } => write!(f, "docker ({detail})"),
            Owner::Podman { detail } => write!(f, "podman ({detail})"),
            Owner::Process { pid, command } => write!(f, "process {pid} ({command})"),
            Owner::Mount { path } => write!(f, "bind mount {}", path.display()),
            Owner::Descriptor { pid, fd, command } => {
                write!(f, "descriptor {fd} of process {pid} ({command})")
            }
        }
    }
}

/// A process's command name (`/proc/PID/comm`), `?` when it is gone.
pub fn command(proc: &Path, pid: i32) -> String {
    fs::read_to_string(proc.join(format!("{pid}/comm")))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

/// What another engine calls a process, from its cgroup (`/proc/PID/cgroup`): docker's containers sit in
/// `/docker/ID` or `docker-ID.scope`, podman's in `libpod-ID.scope` or `/libpod_parent/libpod-ID`.
fn engine_of(proc: &Path, pid: i32) -> Option<Owner> {
    let cgroup = fs::read_to_string(proc.join(format!("{pid}/cgroup"))).ok()?;
    for line in cgroup.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or_default();
        for part in path.split('/') {
            let id = |prefix: &str| {
                let rest = part.strip_prefix(prefix)?;
                let id = rest.strip_suffix(".scope").unwrap_or(rest);
                Some(id.chars().take(12).collect::<String>())
            };
            if let Some(id) = id("libpod-").filter(|i| !i.is_empty()) {
                return Some(Owner::Podman {
                    detail: format!("container {id}, process {pid}"),
                });
            }
            if let Some(id) = id("docker-").filter(|i| !i.is_empty()) {
                return Some(Owner::Docker {
                    detail: format!("container {id}, process {pid}"),
                });
            }
        }
        if let Some(rest) = path.strip_prefix("/docker/") {
            let id: String = rest.chars().take(12).collect();
            return Some(Owner::Docker {
                detail: format!("container {id}, process {pid}"),
            });
        }
    }
    None
}

/// The owner of a namespace that is not the host's nor a minotaur container's, from its mounts and
/// processes: a mount says more than a process (an `ip netns` name is what a person typed).
pub fn foreign(
    proc: &Path,
    mounts: &[minotaur_ns::NsfsMount],
    pids: &[i32],
    symlinks: &[(String, PathBuf)],
) -> Option<Owner> {
    for m in mounts {
        let mp = m.mount_point.to_string_lossy();
        if mp.contains("/docker/netns/") {
            return Some(Owner::Docker {
                detail: format!("sandbox {mp}"),
            });
        }
        if let Some(name) = m.netns_name() {
            if name.starts_with("netns-") && name.len() > 20 {
                return Some(Owner::Podman {
                    detail: format!("ip netns {name}"),
                });
            }
            return Some(Owner::IpNetns {
                name: name.to_owned(),
            });
        }
    }
    if let Some((name, _)) = symlinks.first() {
        return Some(Owner::IpNetns { name: name.clone() });
    }
    if let Some(&pid) = pids.first() {
        return Some(engine_of(proc, pid).unwrap_or_else(|| Owner::Process {
            pid,
            command: command(proc, pid),
        }));
    }
    mounts.first().map(|m| Owner::Mount {
        path: m.path.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use minotaur_ns::NsfsMount;

    fn mount(at: &str) -> NsfsMount {
        NsfsMount {
            mount_point: at.into(),
            via_pid: None,
            path: at.into(),
        }
    }

    fn fake_proc(pid: i32, comm: &str, cgroup: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(pid.to_string());
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("comm"), format!("{comm}\n")).unwrap();
        fs::write(p.join("cgroup"), cgroup).unwrap();
        d
    }

    #[test]
    fn mounts_name_ip_netns_docker_and_podman() {
        let proc = Path::new("/nonexistent");
        let own = |m: &str| foreign(proc, &[mount(m)], &[], &[]).unwrap().to_string();
        assert_eq!(own("/run/netns/blue"), "ip netns blue");
        assert_eq!(
            own("/run/netns/netns-0c0ffee0-1234-5678-9abc-def012345678"),
            "podman (ip netns netns-0c0ffee0-1234-5678-9abc-def012345678)"
        );
        assert_eq!(
            own("/run/docker/netns/1a2b3c4d5e6f"),
            "docker (sandbox /run/docker/netns/1a2b3c4d5e6f)"
        );
        assert_eq!(own("/tmp/held"), "bind mount /tmp/held");
    }

    #[test]
    fn processes_are_named_by_their_engine_or_their_command() {
        let d = fake_proc(
            42,
            "nginx",
            "0::/system.slice/docker-0123456789abcdef.scope\n",
        );
        assert_eq!(
            foreign(d.path(), &[], &[42], &[]).unwrap().to_string(),
            "docker (container 0123456789ab, process 42)"
        );
        let d = fake_proc(7, "sh", "12:pids:/machine.slice/libpod-feedbeef.scope\n");
        assert_eq!(
            foreign(d.path(), &[], &[7], &[]).unwrap().to_string(),
            "podman (container feedbeef, process 7)"
        );
        let d = fake_proc(9, "sleep", "0::/user.slice\n");
        assert_eq!(
            foreign(d.path(), &[], &[9], &[]).unwrap().to_string(),
            "process 9 (sleep)"
        );
        assert_eq!(foreign(d.path(), &[], &[], &[]), None);
    }
}
