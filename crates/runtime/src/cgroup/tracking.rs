//! Where systemd tracks processes, and how a container and its supervisor leave the unit that started them.
//!
//! systemd knows a unit's processes by their cgroup: on a v2 host the unified hierarchy, on a hybrid host
//! the cgroup2 mount at `unified` (and the named `systemd` v1 hierarchy beside it), on a v1 host the named
//! hierarchy. When a unit stops (a CI job, a service, a login session with `KillUserProcesses=yes`) every
//! process still in its cgroup there is killed. A container started from it, and the supervisor that must
//! outlive the CLI, would go with it: Docker's are a daemon's children, podman moves its conmon to a cgroup
//! of its own; here the container's init gets a cgroup of its own in those hierarchies too
//! ([`Cgroup::create`](super::Cgroup::create) on v1 adds them; on v2 it has one already), and the supervisor
//! is forked into `<parent>/supervisors` ([`Supervisors`]). Only where systemd runs: elsewhere nothing
//! tracks processes this way, and nothing is made.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::is_cgroup2;

/// The hierarchies systemd tracks processes by on a v1 or hybrid host: the named `systemd` hierarchy, and
/// on a hybrid host the cgroup2 mount at `unified`; and `devices`, where systemd puts every service (its
/// device policy): a container left there would keep the unit's cgroup from being removed. No limit is set
/// in them (a container's own device rules, when it has some, go to the same `devices` cgroup).
const V1_TRACKING: &[&str] = &["systemd", "unified", "devices"];

/// Whether systemd manages this host, as sd_booted(3) tells: `/run/systemd/system` is a directory.
pub fn systemd_booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The tracking hierarchies mounted under the v1 `root`, when systemd runs.
pub(super) fn v1(root: &Path) -> impl Iterator<Item = &'static str> + '_ {
    let booted = systemd_booted();
    V1_TRACKING.iter().copied().filter(move |h| {
        booted
            && match *h {
                "unified" => is_cgroup2(&root.join(h)),
                _ => root.join(h).is_dir(),
            }
    })
}

/// The cgroup supervisors live in on a systemd host, `<parent>/supervisors` in each tracking hierarchy
/// (under `root`), out of the unit of whoever started them. Made when first needed; kept, as Docker's and
/// podman's parents are (only the engine's `system reset` removes it).
pub struct Supervisors {
    /// The cgroup2 directory (the v2 hierarchy, or a hybrid host's `unified`), opened for the supervisor to
    /// be born in (`CLONE_INTO_CGROUP`): moving a process there afterwards waits for an RCU grace period.
    pub born_in: Option<(OwnedFd, PathBuf)>,
    /// Files the supervisor writes `0` to, first thing, to move itself: `tasks` in each v1 hierarchy where
    /// its caller was in a unit's cgroup, and `cgroup.procs` of the cgroup2 directory when the kernel
    /// refused to clone into it.
    pub join: Vec<PathBuf>,
}

impl Supervisors {
    /// `None` where systemd does not run, or when a directory cannot be made (the supervisor then stays
    /// where it was forked, as it always did).
    pub fn prepare(root: &Path, parent: &Path) -> Option<Supervisors> {
        if !systemd_booted() {
            return None;
        }
        // The parent is checked as a container's cgroup path is: it cannot lead out of the hierarchies.
        let rel = super::relative(parent).ok()?.join("supervisors");
        let open = |dir: &Path| {
            nix::fcntl::open(
                dir,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .ok()
        };
        if is_cgroup2(root) {
            let dir = root.join(&rel);
            fs::create_dir_all(&dir).ok()?;
            return Some(Supervisors {
                born_in: Some((open(&dir)?, dir)),
                join: Vec::new(),
            });
        }
        let mut s = Supervisors {
            born_in: None,
            join: Vec::new(),
        };
        if v1(root).any(|h| h == "unified") {
            let dir = root.join("unified").join(&rel);
            fs::create_dir_all(&dir).ok()?;
            s.born_in = Some((open(&dir)?, dir));
        }
        // Every v1 hierarchy the caller is in a cgroup of its unit's in (systemd puts a service in
        // `name=systemd`, `devices`, `pids`, `memory`, … as its settings ask): a supervisor left in one would
        // keep the unit's cgroup there. Not `cpuset`, where a new cgroup has no CPUs until given some, and
        // which systemd does not use on v1.
        let listed = fs::read_to_string("/proc/self/cgroup").ok()?;
        for line in listed.lines() {
            let mut f = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if id == "0" || path == "/" || controllers.split(',').any(|c| c == "cpuset") {
                continue;
            }
            // A hierarchy's directory is named after its controllers (`cpu,cpuacct`), a named one after
            // its name (`name=systemd` at `systemd`).
            let base = root.join(controllers.strip_prefix("name=").unwrap_or(controllers));
            if !base.is_dir() {
                continue;
            }
            let dir = base.join(&rel);
            fs::create_dir_all(&dir).ok()?;
            s.join.push(dir.join("tasks"));
        }
        Some(s)
    }

    /// For a kernel that refused to clone into [`Supervisors::born_in`] (before 5.7): the supervisor then
    /// moves itself there through `cgroup.procs`, and waits for the grace period.
    pub fn without_born_in(mut self) -> Supervisors {
        if let Some((_, dir)) = self.born_in.take() {
            self.join.push(dir.join("cgroup.procs"));
        }
        self
    }

    /// Moves the calling (single-threaded) process into the cgroups of [`Supervisors::join`].
    pub fn join(&self) {
        for file in &self.join {
            let _ = fs::write(file, "0");
        }
    }
}
