//! A container's cgroup, on cgroup v1 (one directory per controller hierarchy, as on hybrid hosts) and v2.
//!
//! Layout: the spec's `linux.cgroupsPath` (the engine uses `minotaur/<id>`) relative to the cgroup root; on
//! v1 under each controller's hierarchy (`<root>/memory/minotaur/<id>`, `<root>/cpu/…`, `<root>/pids/…`), on
//! v2 one directory (`<root>/minotaur/<id>`) with the controllers enabled in every ancestor's
//! `cgroup.subtree_control`. The version is told by the filesystem magic of the root (statfs(2)): a v2 host
//! has cgroup2 there; a v1 or hybrid host has a tmpfs holding the v1 hierarchies (and maybe an unusable
//! `unified` v2 mount, which is ignored). The root is a parameter, so the logic runs against a temporary
//! directory in tests. Limits are Docker's `--memory`, `--memory-swap`, `--cpus`, `--cpu-shares` and
//! `--pids-limit`, read from the spec's `linux.resources`; [`Cgroup::update`] changes them later, and also
//! takes runc's other `update` limits. On v1 the rest of `linux.resources` (cpuset, realtime CPU, memory
//! reservation and OOM switch, blkio, hugetlb, net_cls, net_prio, device rules) is the [`v1`] module's, in
//! controllers made only when used: at creation when the spec sets one of their limits, or when an update
//! first does (a new cpuset cgroup must be given CPUs and memory nodes before anything can join it, which
//! would cost every container a few writes), with the container's processes moved there. On v2 the
//! `cpuset` and `io` controllers are enabled in the ancestors when an update needs them; realtime CPU time
//! is refused (v2 has no `cpu.rt_*`), and device, hugetlb and network limits are not applied yet.
//!
//! Freezing (the OCI command line's `pause` and `resume`): v2 writes `cgroup.freeze` and waits for
//! `frozen 1` in `cgroup.events`; v1 has a `freezer` hierarchy, where the container gets a cgroup too (when it
//! is mounted), and `freezer.state` goes through `FREEZING` to `FROZEN`. Either way the kernel may take a
//! moment (each task stops at its next return to user space), so both poll until the state is reached.

pub mod systemd;
mod v1;

pub(crate) use v1::with_default_device_rules;

use std::ffi::CString;
use std::fs;
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

mod limits;
pub mod tracking;

/// Where the cgroup filesystems are mounted on a normal host.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// The v1 controllers a container gets a cgroup in.
const V1_CONTROLLERS: &[&str] = &["memory", "cpu", "pids", "freezer"];

/// The v1 controllers a container gets a cgroup in only when its `linux.resources` sets a limit of theirs
/// (see [`v1::wanted`]): most containers set none, and each one more is a directory to make and remove.
const V1_ON_DEMAND: &[&str] = &[
    "cpuset", "devices", "blkio", "hugetlb", "net_cls", "net_prio",
];

/// The v1 controllers only [`Cgroup::freeze`] needs: a container made before they were in
/// [`V1_CONTROLLERS`] has no cgroup there, and [`Cgroup::open`] does not ask for one.
const V1_OPTIONAL: &[&str] = &["freezer"];

/// How long [`Cgroup::freeze`] and [`Cgroup::thaw`] wait for the kernel to reach the state.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of a container's cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot create cgroup {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {value:?} to {path}")]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove cgroup {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the {controller} cgroup controller is not available under {root}")]
    MissingController { controller: String, root: PathBuf },
    #[error("cgroup path {0} leaves the cgroup root")]
    BadPath(PathBuf),
    #[error("cgroup {path} does not exist")]
    Missing {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the container has no freezer cgroup (no freezer hierarchy under {0})")]
    NoFreezer(PathBuf),
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cgroup {path} did not become {want} within {FREEZE_TIMEOUT:?}")]
    FreezeTimeout { path: PathBuf, want: &'static str },
    #[error("{what} cannot be set: {why}")]
    Unsupported { what: &'static str, why: String },
}

/// Whether `root` is a cgroup v2 (unified) mount.
pub fn is_cgroup2(root: &Path) -> bool {
    nix::sys::statfs::statfs(root)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// The root of the cgroup v2 hierarchy: `/sys/fs/cgroup` on a unified host, `/sys/fs/cgroup/unified` on a
/// hybrid one; `None` on a host with v1 hierarchies only.
pub fn v2_root() -> Option<PathBuf> {
    [DEFAULT_ROOT, "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| is_cgroup2(p))
}

/// The v1 hierarchies mounted directly under `/sys/fs/cgroup`: (directory name, the options that select its
/// controllers, e.g. `cpu,cpuacct` or `xattr,name=systemd`). `proc_self` is a `/proc/<pid>` directory: its
/// `cgroup` file lists the hierarchies, and its `mountinfo` is read only as far as the last of their mounts
/// (they are mounted at boot, so near the top), not through the thousands of mounts below them.
pub fn v1_hierarchies(proc_self: &Path) -> std::io::Result<Vec<(String, String)>> {
    // "ID:CONTROLLERS:PATH"; the v2 line has ID 0 and no controllers.
    let listed = fs::read_to_string(proc_self.join("cgroup"))?;
    let mut wanted: Vec<Vec<String>> = listed
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (id, ctrls) = (f.next()?, f.next()?);
            (id != "0" && !ctrls.is_empty()).then(|| ctrls.split(',').map(str::to_owned).collect())
        })
        .collect();
    let mut found = Vec::new();
    minotaur_ns::mountinfo::scan(proc_self.join("mountinfo"), |m| {
        if m.fstype == "cgroup" && m.mount_point.parent() == Some(Path::new(DEFAULT_ROOT)) {
            let opts: Vec<&str> = m
                .super_options
                .split(',')
                .filter(|o| *o != "rw" && *o != "ro")
                .collect();
            wanted.retain(|keys| !keys.iter().all(|k| opts.contains(&k.as_str())));
            if let Some(name) = m.mount_point.file_name().and_then(|n| n.to_str()) {
                found.push((name.to_owned(), opts.join(",")));
            }
        }
        !wanted.is_empty()
    })?;
    Ok(found)
}

/// One container's cgroup: the directories made for it (deepest last) and where the process goes.
#[derive(Debug)]
pub struct Cgroup {
    /// The container's cgroup directories: one per v1 controller, or the one v2 directory.
    dirs: Vec<PathBuf>,
    /// The v1 controller of each of `dirs`; empty on v2.
    controllers: Vec<&'static str>,
    /// The cgroup root it was made or opened under.
    root: PathBuf,
    /// Ancestors that [`Cgroup::create`] made, deepest first, removed with the cgroup when empty (by
    /// [`Cgroup::remove`], not [`Cgroup::remove_keeping_parents`]).
    made: Vec<PathBuf>,
}

impl Cgroup {
    /// Creates the cgroup at `path` (relative to `root`) and applies the limits of `resources`.
    pub fn create(
        root: &Path,
        path: &Path,
        resources: Option<&LinuxResources>,
    ) -> Result<Cgroup, CgroupError> {
        Cgroup::create_as(root, path, resources, is_cgroup2(root))
    }

    /// [`Cgroup::create`] for a given cgroup version (v2 when `v2`), whatever `root` is.
    pub fn create_as(
        root: &Path,
        path: &Path,
        resources: Option<&LinuxResources>,
        v2: bool,
    ) -> Result<Cgroup, CgroupError> {
        let rel = relative(path)?;
        let mut cg = Cgroup {
            dirs: Vec::new(),
            controllers: Vec::new(),
            root: root.to_owned(),
            made: Vec::new(),
        };
        let result = if v2 {
            cg.create_v2(root, rel)
        } else {
            cg.create_v1(root, rel, resources)
        };
        let result = result.and_then(|()| match resources {
            Some(res) => cg.update(res),
            None => Ok(()),
        });
        if let Err(e) = result {
            let _ = cg.remove();
            return Err(e);
        }
        Ok(cg)
    }

    /// The existing cgroup at `path` (relative to `root`) of a running container, to add more processes to
    /// (exec). Nothing is created; every directory [`Cgroup::create`] would make must exist.
    pub fn open(root: &Path, path: &Path) -> Result<Cgroup, CgroupError> {
        let rel = relative(path)?;
        let mut cg = Cgroup {
            dirs: Vec::new(),
            controllers: Vec::new(),
            root: root.to_owned(),
            made: Vec::new(),
        };
        let missing = |path: PathBuf, source| CgroupError::Missing { path, source };
        if is_cgroup2(root) {
            let dir = root.join(rel);
            fs::metadata(&dir).map_err(|source| missing(dir.clone(), source))?;
            cg.dirs.push(dir);
            return Ok(cg);
        }
        // One stat of the container's directory per controller; the hierarchy itself is looked at only
        // when a directory that must exist does not (`exec` opens a cgroup each time, and the stats were
        // most of its cost).
        for c in V1_CONTROLLERS.iter().chain(V1_ON_DEMAND) {
            let optional = V1_OPTIONAL.contains(c) || V1_ON_DEMAND.contains(c);
            let dir = root.join(c).join(rel);
            match fs::metadata(&dir) {
                Ok(m) if m.is_dir() || !optional => {}
                Ok(_) => continue,
                // An optional cgroup not made, or a hierarchy this host does not mount.
                Err(_) if optional || !root.join(c).is_dir() => continue,
                Err(source) => return Err(missing(dir, source)),
            }
            cg.dirs.push(dir);
            cg.controllers.push(c);
        }
        Ok(cg)
    }

    /// Whatever exists of the cgroup at `path` (relative to `root`), to remove one another process made,
    /// even half-removed. Ancestors are never removed through it.
    pub fn existing(root: &Path, path: &Path) -> Cgroup {
        let rel = path.strip_prefix("/").unwrap_or(path);
        let (dirs, controllers): (Vec<PathBuf>, Vec<&'static str>) = if is_cgroup2(root) {
            let dir = root.join(rel);
            (Vec::from_iter(dir.is_dir().then_some(dir)), Vec::new())
        } else {
            V1_CONTROLLERS
                .iter()
                .chain(V1_ON_DEMAND)
                .copied()
                .chain(tracking::v1(root).filter(|t| !V1_ON_DEMAND.contains(t)))
                .map(|c| (root.join(c).join(rel), c))
                .filter(|(d, _)| d.is_dir())
                .unzip()
        };
        // Each directory was looked at once above: one `statx` per hierarchy (`rm` of many containers whose
        // supervisors already removed their cgroups pays them all).
        Cgroup {
            dirs,
            controllers,
            root: root.to_owned(),
            made: Vec::new(),
        }
    }

    /// The container's cgroup directories.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// How many processes of the cgroup the kernel's OOM killer has killed: the `oom_kill` count of
    /// `memory.events` (v2) or `memory.oom_control` (v1, Linux 4.13). `None` when neither is readable, as
    /// without a memory controller. Read before [`Cgroup::remove`], which takes the counters with it.
    pub fn oom_kills(&self) -> Option<u64> {
        self.dirs.iter().find_map(|dir| {
            ["memory.events", "memory.oom_control"]
                .iter()
                .find_map(|f| fs::read_to_string(dir.join(f)).ok())
                .and_then(|text| oom_kill_count(&text))
        })
    }

    /// The cgroup's directory made at once, its parents being there (the engine keeps its parent from one
    /// container to the next): one `mkdir` a hierarchy. `None` when a parent (or the hierarchy) is
    /// missing: [`Cgroup::mkdir`] makes them then.
    fn mkdir_leaf(&mut self, base: &Path, rel: &Path) -> Result<Option<PathBuf>, CgroupError> {
        let dir = base.join(rel);
        match fs::create_dir(&dir) {
            Ok(()) => self.made.push(dir.clone()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CgroupError::Create { path: dir, source }),
        }
        Ok(Some(dir))
    }

    fn mkdir(&mut self, base: &Path, rel: &Path) -> Result<PathBuf, CgroupError> {
        // An ancestor that was there a moment ago may be gone: another container's removal takes the empty
        // ancestors it made with it (two containers of one parent, created and removed at once). Start over
        // from the base then, a few times.
        let mut attempts = 0;
        'again: loop {
            let mut dir = base.to_owned();
            for c in rel.components() {
                dir.push(c);
                match fs::create_dir(&dir) {
                    Ok(()) => self.made.push(dir.clone()),
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                    Err(e) if e.kind() == ErrorKind::NotFound && attempts < 10 => {
                        attempts += 1;
                        continue 'again;
                    }
                    Err(source) => return Err(CgroupError::Create { path: dir, source }),
                }
            }
            return Ok(dir);
        }
    }

    fn create_v1(
        &mut self,
        root: &Path,
        rel: &Path,
        resources: Option<&LinuxResources>,
    ) -> Result<(), CgroupError> {
        let wanted = resources.map(v1::wanted).unwrap_or_default();
        for controller in V1_CONTROLLERS.iter().chain(&wanted) {
            let base = root.join(controller);
            let made_before = self.made.len();
            let dir = match self.mkdir_leaf(&base, rel)? {
                Some(dir) => dir,
                // A limit of a controller that is not mounted fails in `update`, naming it.
                None if !base.is_dir() => continue,
                None => self.mkdir(&base, rel)?,
            };
            if *controller == "cpuset" {
                // A new cpuset cgroup has no CPUs and no memory nodes: no task can join it until it has some.
                // Each directory made here gets its parent's, top down, as runc does.
                let made: Vec<PathBuf> = self.made[made_before..].to_vec();
                for d in &made {
                    v1::inherit_cpuset(d)?;
                }
            }
            self.dirs.push(dir);
            self.controllers.push(controller);
        }
        let tracking: Vec<&'static str> = tracking::v1(root)
            .filter(|t| !self.controllers.contains(t))
            .collect();
        for tracking in tracking {
            let base = root.join(tracking);
            let dir = match self.mkdir_leaf(&base, rel)? {
                Some(dir) => dir,
                None => self.mkdir(&base, rel)?,
            };
            self.dirs.push(dir);
            self.controllers.push(tracking);
        }
        Ok(())
    }

    fn create_v2(&mut self, root: &Path, rel: &Path) -> Result<(), CgroupError> {
        // Enable the controllers in every ancestor so the leaf gets its interface files.
        let mut dir = root.to_owned();
        let available = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let wanted: Vec<&str> = ["memory", "cpu", "pids"]
            .into_iter()
            .filter(|c| available.split_whitespace().any(|a| a == *c))
            .collect();
        let comps: Vec<_> = rel.components().collect();
        for (i, c) in comps.iter().enumerate() {
            for ctl in &wanted {
                // Best effort: a limit whose controller is missing fails below, naming the file.
                let _ = fs::write(dir.join("cgroup.subtree_control"), format!("+{ctl}"));
            }
            dir = self.mkdir(&dir, Path::new(c))?;
            if i + 1 == comps.len() {
                self.dirs.push(dir.clone());
            }
        }
        Ok(())
    }

    /// Freezes every process of the cgroup and waits until the kernel says they are (`pause`).
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.set_frozen(true)
    }

    /// Thaws a frozen cgroup and waits until it runs again (`resume`).
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.set_frozen(false)
    }

    /// Whether the cgroup is frozen (or freezing); false without a freezer.
    pub fn is_frozen(&self) -> bool {
        match self.freezer() {
            Ok((dir, true)) => read_keyed(&dir.join("cgroup.events"), "frozen") == Some("1".into()),
            Ok((dir, false)) => fs::read_to_string(dir.join("freezer.state"))
                .is_ok_and(|s| matches!(s.trim(), "FROZEN" | "FREEZING")),
            Err(_) => false,
        }
    }

    /// The directory that holds the freezer's files, and whether it is v2's.
    fn freezer(&self) -> Result<(PathBuf, bool), CgroupError> {
        if self.controllers.is_empty() {
            return self
                .dirs
                .first()
                .map(|d| (d.clone(), true))
                .ok_or_else(|| CgroupError::NoFreezer(self.root.clone()));
        }
        self.controllers
            .iter()
            .position(|c| *c == "freezer")
            .map(|i| (self.dirs[i].clone(), false))
            .ok_or_else(|| CgroupError::NoFreezer(self.root.clone()))
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let (dir, v2) = self.freezer()?;
        let (file, value, want) = match (v2, frozen) {
            (true, _) => ("cgroup.freeze", if frozen { "1" } else { "0" }, ""),
            (false, true) => ("freezer.state", "FROZEN", "FROZEN"),
            (false, false) => ("freezer.state", "THAWED", "THAWED"),
        };
        let path = dir.join(file);
        let start = Instant::now();
        loop {
            // v1: a write of FROZEN while tasks are still stopping leaves FREEZING; writing it again retries.
            write(&path, value)?;
            let reached = if v2 {
                let events = dir.join("cgroup.events");
                let now = read_keyed(&events, "frozen").ok_or_else(|| CgroupError::Read {
                    path: events.clone(),
                    source: std::io::Error::from(ErrorKind::InvalidData),
                })?;
                now == value
            } else {
                let now = fs::read_to_string(&path).map_err(|source| CgroupError::Read {
                    path: path.clone(),
                    source,
                })?;
                now.trim() == want
            };
            if reached {
                return Ok(());
            }
            if start.elapsed() > FREEZE_TIMEOUT {
                return Err(CgroupError::FreezeTimeout {
                    path,
                    want: if frozen { "frozen" } else { "thawed" },
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The cgroup's directory, opened for a child to be born in (`minotaur_sys::clone3_into`): on cgroup
    /// v2 only, where a process is in one directory. `None` on v1, or when it cannot be opened (the caller
    /// then moves the process as before).
    pub fn v2_directory(&self) -> Option<OwnedFd> {
        match (self.controllers.is_empty(), self.dirs.as_slice()) {
            (true, [dir]) => nix::fcntl::open(
                dir,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .ok(),
            _ => None,
        }
    }

    /// Moves `pid` into the cgroup.
    pub fn add(&self, pid: Pid) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            write(&dir.join("cgroup.procs"), pid.as_raw())?;
        }
        Ok(())
    }

    /// Moves the calling process, which must have a single thread, into the cgroup: writing 0 means "the
    /// writer", so a forked child can join before it changes namespaces, with no round trip to its parent.
    ///
    /// On v1 the 0 goes to `tasks` (the calling thread), not to `cgroup.procs` (its whole thread group).
    /// To move a thread group, or any task named by a PID, the kernel takes `cgroup_threadgroup_rwsem` for
    /// writing, a per-CPU rwsem whose writer waits for an RCU grace period when none was taken recently
    /// (`rcu_sync_enter`): 4 to 11 ms on this project's 2-core machines, most of an `exec`. Moving only the
    /// calling thread needs no such lock (`cgroup_procs_write_start` in kernel/cgroup/cgroup.c; "it won't
    /// exit(2) under our hands or change PID through exec(2)"), and for a process with one thread it is the
    /// same move. v2 has no `tasks` file (`cgroup.threads` only works in threaded subtrees), so there it is
    /// `cgroup.procs`.
    pub fn add_self(&self) -> Result<(), CgroupError> {
        self.self_join().join()
    }

    /// The writes of [`Cgroup::add_self`], prepared for a process that must not allocate on its way in
    /// (an `exec` child that shares its caller's memory).
    pub fn self_join(&self) -> SelfJoin {
        // v2 (and a hybrid host's `unified`) has no `tasks`.
        let file = |i: usize| match self.controllers.get(i) {
            None | Some(&"unified") => "cgroup.procs",
            Some(_) => "tasks",
        };
        SelfJoin {
            files: self
                .dirs
                .iter()
                .enumerate()
                .filter_map(|(i, dir)| {
                    CString::new(dir.join(file(i)).into_os_string().into_vec()).ok()
                })
                .collect(),
        }
    }

    /// The processes in the cgroup (read from the first hierarchy's `cgroup.procs`).
    pub fn procs(&self) -> Result<Vec<i32>, CgroupError> {
        let Some(dir) = self.dirs.first() else {
            return Ok(Vec::new());
        };
        let path = dir.join("cgroup.procs");
        let text = fs::read_to_string(&path).map_err(|source| CgroupError::Missing {
            path: path.clone(),
            source,
        })?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// Removes the cgroup and the ancestors [`Cgroup::create`] made, when no other cgroup uses them. Waits
    /// briefly for the kernel to let go of a cgroup whose last process has just been reaped.
    pub fn remove(self) -> Result<(), CgroupError> {
        self.remove_with(true)
    }

    /// [`Cgroup::remove`] of the cgroup's own directories only: the ancestors [`Cgroup::create`] made stay,
    /// for the next cgroup made under them. The engine keeps its parent (`minotaur`) in each hierarchy
    /// once made, as Docker keeps `docker`: making and removing it again cost every run a `mkdir` and an
    /// `rmdir` per hierarchy, each a cgroup's creation or destruction in the kernel.
    pub fn remove_keeping_parents(self) -> Result<(), CgroupError> {
        self.remove_with(false)
    }

    fn remove_with(self, parents: bool) -> Result<(), CgroupError> {
        let mut first_error = None;
        // The directories made are the cgroup's own and the parents made for it: its own go first.
        let parents = self
            .made
            .iter()
            .rev()
            .filter(|d| parents && !self.dirs.contains(d));
        for dir in self.dirs.iter().chain(parents) {
            let start = Instant::now();
            loop {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == ErrorKind::NotFound => break,
                    // An ancestor still holding another container's cgroup stays.
                    Err(_) if !self.dirs.contains(dir) => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY)
                            && start.elapsed() < Duration::from_secs(2) =>
                    {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(source) => {
                        first_error.get_or_insert(CgroupError::Remove {
                            path: dir.clone(),
                            source,
                        });
                        break;
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The value of `key` in a `key value` file (`cgroup.events`).
fn read_keyed(path: &Path, key: &str) -> Option<String> {
    fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().to_owned())
    })
}

/// The `oom_kill N` line of a `memory.events` or `memory.oom_control` file.
fn oom_kill_count(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

/// `path` relative to the cgroup root, refused when it is empty or has `..` (or `.`) in it.
fn relative(path: &Path) -> Result<&Path, CgroupError> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
        || rel.as_os_str().is_empty()
    {
        return Err(CgroupError::BadPath(path.to_owned()));
    }
    Ok(rel)
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Converts v1 `cpu.shares` (2..262144, default 1024) to v2 `cpu.weight` (1..10000), as runc and crun do.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// The files a process writes 0 to in order to join a cgroup (see [`Cgroup::add_self`]), as open(2)
/// takes their paths, so that [`SelfJoin::join`] allocates nothing unless it fails.
#[derive(Debug)]
pub struct SelfJoin {
    files: Vec<CString>,
}

impl SelfJoin {
    /// Moves the calling process (single-threaded) into the cgroup.
    pub fn join(&self) -> Result<(), CgroupError> {
        for file in &self.files {
            // The flags of `fs::write`, as the other writes here use.
            let written = nix::fcntl::open(
                file.as_c_str(),
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o666),
            )
            .and_then(|fd| nix::unistd::write(&fd, b"0"));
            if let Err(e) = written {
                return Err(CgroupError::Write {
                    path: PathBuf::from(std::ffi::OsStr::from_bytes(file.to_bytes())),
                    value: "0".into(),
                    source: std::io::Error::from_raw_os_error(e as i32),
                });
            }
        }
        Ok(())
    }
}

fn write(path: &Path, value: impl ToString) -> Result<(), CgroupError> {
    let value = value.to_string();
    fs::write(path, &value).map_err(|source| CgroupError::Write {
        path: path.to_owned(),
        value,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    fn resources() -> LinuxResources {
        LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 << 20)
                    .swap(128 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(150_000i64)
                    .period(100_000u64)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(42).build().unwrap())
            .build()
            .unwrap()
    }

    /// A /proc/PID stand-in: its `cgroup` and `mountinfo` files.
    fn proc_dir(cgroup: &str, mountinfo: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("cgroup"), cgroup).unwrap();
        fs::write(d.path().join("mountinfo"), mountinfo).unwrap();
        d
    }

    const CGROUP_MOUNTS: &str = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
31 22 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_hierarchies_stop_reading_at_the_last_one() {
        // The line after the cgroup mounts is not mountinfo at all: reading it would fail.
        let d = proc_dir(
            "3:name=systemd:/a\n2:memory:/a\n1:cpu,cpuacct:/a\n0::/a\n",
            &format!("{CGROUP_MOUNTS}not a mount\n"),
        );
        assert_eq!(
            v1_hierarchies(d.path()).unwrap(),
            [
                ("cpu,cpuacct".to_owned(), "cpu,cpuacct".to_owned()),
                ("memory".to_owned(), "memory".to_owned()),
                ("systemd".to_owned(), "xattr,name=systemd".to_owned()),
            ]
        );
    }

    #[test]
    fn v1_hierarchies_not_under_sys_fs_cgroup_are_left_out() {
        // pids is mounted elsewhere: the whole file is read, and the others are still found.
        let d = proc_dir(
            "4:pids:/\n2:memory:/a\n0::/a\n",
            &format!("{CGROUP_MOUNTS}50 22 0:40 / /mnt/pids rw - cgroup cgroup rw,pids\n"),
        );
        assert_eq!(
            v1_hierarchies(d.path()).unwrap(),
            [
                ("cpu,cpuacct".to_owned(), "cpu,cpuacct".to_owned()),
                ("memory".to_owned(), "memory".to_owned()),
                ("systemd".to_owned(), "xattr,name=systemd".to_owned()),
            ]
        );
        let bad = proc_dir("4:pids:/\n", &format!("{CGROUP_MOUNTS}not a mount\n"));
        assert_eq!(
            v1_hierarchies(bad.path()).unwrap_err().kind(),
            ErrorKind::InvalidData
        );
    }

    #[test]
    fn v1_cpuset_and_blkio_cgroups_are_made_when_first_asked_for() {
        let root = tempfile::tempdir().unwrap();
        for c in ["memory", "cpu", "pids", "cpuset", "blkio"] {
            fs::create_dir(root.path().join(c)).unwrap();
        }
        fs::write(root.path().join("cpuset/cpuset.cpus"), "0-3\n").unwrap();
        fs::write(root.path().join("cpuset/cpuset.mems"), "0\n").unwrap();
        let mut cg = Cgroup::create(root.path(), Path::new("minotaur/u4"), None).unwrap();
        assert!(
            !root.path().join("cpuset/minotaur").exists(),
            "not made at create"
        );
        // What the kernel would list: the container's processes, moved into the new cgroup.
        fs::write(
            root.path().join("memory/minotaur/u4/cgroup.procs"),
            "41\n42\n",
        )
        .unwrap();
        let res: LinuxResources = serde_json::from_str(
            r#"{"cpu": {"cpus": "1", "mems": "0", "realtimePeriod": 1000000, "realtimeRuntime": 0},
                "memory": {"reservation": 33554432}}"#,
        )
        .unwrap();
        cg.update(&res).unwrap();
        let r = |p: &str| fs::read_to_string(root.path().join(p)).unwrap();
        assert_eq!(
            r("cpuset/minotaur/cpuset.cpus"),
            "0-3",
            "the parent's, first"
        );
        assert_eq!(r("cpuset/minotaur/u4/cpuset.cpus"), "1");
        assert_eq!(r("cpuset/minotaur/u4/cpuset.mems"), "0");
        assert_eq!(
            r("cpuset/minotaur/u4/cgroup.procs"),
            "42",
            "the last pid written"
        );
        assert_eq!(r("cpu/minotaur/u4/cpu.rt_period_us"), "1000000");
        assert!(
            !root
                .path()
                .join("cpu/minotaur/u4/cpu.rt_runtime_us")
                .exists(),
            "0 is unset"
        );
        assert_eq!(
            r("memory/minotaur/u4/memory.soft_limit_in_bytes"),
            "33554432"
        );
        let opened = Cgroup::open(root.path(), Path::new("minotaur/u4")).unwrap();
        assert!(opened
            .dirs()
            .contains(&root.path().join("cpuset/minotaur/u4")));
        // No blkio.weight file in the new cgroup: no I/O scheduler with weights.
        let w: LinuxResources = serde_json::from_str(r#"{"blockIO": {"weight": 500}}"#).unwrap();
        let e = cg.update(&w).unwrap_err().to_string();
        assert!(e.starts_with("the block I/O weight cannot be set: "), "{e}");
        assert!(root.path().join("blkio/minotaur/u4").is_dir());
        let existing = Cgroup::existing(root.path(), Path::new("minotaur/u4"));
        assert_eq!(existing.dirs().len(), 5, "{:?}", existing.dirs());
    }

    #[test]
    fn v2_enables_cpuset_and_io_when_asked_and_refuses_realtime() {
        let v2 = tempfile::tempdir().unwrap();
        fs::write(
            v2.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let mut cg = Cgroup::create_as(v2.path(), Path::new("m/u5"), None, true).unwrap();
        let res: LinuxResources = serde_json::from_str(
            r#"{"cpu": {"cpus": "0-1"}, "memory": {"reservation": -1}, "blockIO": {"weight": 1000}}"#,
        )
        .unwrap();
        cg.update(&res).unwrap();
        let r = |p: &str| fs::read_to_string(v2.path().join(p)).unwrap();
        assert_eq!(r("m/u5/cpuset.cpus"), "0-1");
        assert_eq!(r("m/u5/memory.low"), "max");
        assert_eq!(r("m/u5/io.weight"), "10000");
        assert!(r("m/cgroup.subtree_control").ends_with("+io"));
        let rt: LinuxResources =
            serde_json::from_str(r#"{"cpu": {"realtimeRuntime": 950000}}"#).unwrap();
        assert_eq!(
            cg.update(&rt).unwrap_err().to_string(),
            "realtime CPU time cannot be set: cgroup v2 has no cpu.rt_period_us or cpu.rt_runtime_us"
        );
    }

    #[test]
    fn update_changes_only_the_limits_it_names() {
        let root = tempfile::tempdir().unwrap();
        for c in ["memory", "cpu", "pids"] {
            fs::create_dir(root.path().join(c)).unwrap();
        }
        let mut cg =
            Cgroup::create(root.path(), Path::new("/minotaur/u1"), Some(&resources())).unwrap();
        let pids = LinuxResourcesBuilder::default()
            .pids(LinuxPidsBuilder::default().limit(7).build().unwrap())
            .build()
            .unwrap();
        cg.update(&pids).unwrap();
        let r = |p: &str| fs::read_to_string(root.path().join(p)).unwrap();
        assert_eq!(r("pids/minotaur/u1/pids.max"), "7");
        assert_eq!(r("memory/minotaur/u1/memory.limit_in_bytes"), "67108864");
        assert_eq!(r("cpu/minotaur/u1/cpu.shares"), "512");

        let v2 = tempfile::tempdir().unwrap();
        fs::write(v2.path().join("cgroup.controllers"), "memory cpu pids").unwrap();
        let mut cg = Cgroup::create_as(v2.path(), Path::new("m/u2"), None, true).unwrap();
        cg.update(&pids).unwrap();
        assert_eq!(
            fs::read_to_string(v2.path().join("m/u2/pids.max")).unwrap(),
            "7"
        );
        let cpu = |quota: Option<i64>, period: Option<u64>| {
            let mut b = LinuxCpuBuilder::default();
            if let Some(q) = quota {
                b = b.quota(q);
            }
            if let Some(p) = period {
                b = b.period(p);
            }
            LinuxResourcesBuilder::default()
                .cpu(b.build().unwrap())
                .build()
                .unwrap()
        };
        let cpu_max = || fs::read_to_string(v2.path().join("m/u2/cpu.max")).unwrap();
        cg.update(&cpu(Some(50_000), None)).unwrap();
        assert_eq!(cpu_max(), "50000 100000");
        cg.update(&cpu(None, Some(200_000))).unwrap();
        assert_eq!(cpu_max(), "50000 200000");
        assert!(!v2.path().join("m/u2/memory.max").exists());
    }

    #[test]
    fn v1_freezer_state_is_written_and_read_back() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("pids")).unwrap();
        // Made before the freezer was one of the hierarchies: opened all the same, but cannot freeze.
        fs::create_dir_all(root.path().join("pids/minotaur/f0")).unwrap();
        fs::create_dir(root.path().join("freezer")).unwrap();
        let old = Cgroup::open(root.path(), Path::new("minotaur/f0")).unwrap();
        assert!(matches!(old.freeze(), Err(CgroupError::NoFreezer(_))));
        assert!(!old.is_frozen());

        let cg = Cgroup::create(root.path(), Path::new("minotaur/f1"), None).unwrap();
        let state = root.path().join("freezer/minotaur/f1/freezer.state");
        assert!(!cg.is_frozen());
        cg.freeze().unwrap();
        assert_eq!(fs::read_to_string(&state).unwrap(), "FROZEN");
        assert!(cg.is_frozen());
        cg.thaw().unwrap();
        assert_eq!(fs::read_to_string(&state).unwrap(), "THAWED");
        assert!(!cg.is_frozen());
    }

    #[test]
    fn v1_limits_land_in_each_controller() {
        let root = tempfile::tempdir().unwrap();
        for c in ["memory", "cpu", "pids"] {
            fs::create_dir(root.path().join(c)).unwrap();
        }
        // Swap accounting on: the memsw file exists in the parent, so a real kernel would make it; here the
        // test makes the file appear by writing it after creation below.
        let cg =
            Cgroup::create(root.path(), Path::new("/minotaur/c1"), Some(&resources())).unwrap();
        let r = |p: &str| fs::read_to_string(root.path().join(p)).unwrap();
        assert_eq!(r("memory/minotaur/c1/memory.limit_in_bytes"), "67108864");
        assert_eq!(r("cpu/minotaur/c1/cpu.shares"), "512");
        assert_eq!(r("cpu/minotaur/c1/cpu.cfs_quota_us"), "150000");
        assert_eq!(r("cpu/minotaur/c1/cpu.cfs_period_us"), "100000");
        assert_eq!(r("pids/minotaur/c1/pids.max"), "42");
        assert_eq!(cg.dirs().len(), 3);
        cg.add(Pid::from_raw(1234)).unwrap();
        assert_eq!(r("pids/minotaur/c1/cgroup.procs"), "1234");
        // A running container's cgroup, found again for exec: the same directories, nothing made.
        let again = Cgroup::open(root.path(), Path::new("minotaur/c1")).unwrap();
        assert_eq!(again.dirs(), cg.dirs());
        // A process moving itself names only its thread, in `tasks`: no thread-group lock.
        again.add_self().unwrap();
        for c in ["memory", "cpu", "pids"] {
            assert_eq!(r(&format!("{c}/minotaur/c1/tasks")), "0");
        }
        assert_eq!(r("pids/minotaur/c1/cgroup.procs"), "1234");
        assert!(matches!(
            Cgroup::open(root.path(), Path::new("minotaur/c9")),
            Err(CgroupError::Missing { .. })
        ));
        // A real cgroupfs removes its interface files with the directory; a temp dir needs them gone.
        for d in cg.dirs() {
            for f in fs::read_dir(d).unwrap() {
                fs::remove_file(f.unwrap().path()).unwrap();
            }
        }
        cg.remove().unwrap();
        assert!(!root.path().join("memory/minotaur").exists());
        assert!(root.path().join("memory").exists());
    }

    #[test]
    fn removal_keeping_parents_leaves_them_for_the_next_cgroup() {
        let root = tempfile::tempdir().unwrap();
        for c in ["memory", "cpu", "pids"] {
            fs::create_dir(root.path().join(c)).unwrap();
        }
        let cg = Cgroup::create_as(root.path(), Path::new("minotaur/c1"), None, false).unwrap();
        cg.remove_keeping_parents().unwrap();
        for c in ["memory", "cpu", "pids"] {
            assert!(!root.path().join(c).join("minotaur/c1").exists());
            assert!(root.path().join(c).join("minotaur").is_dir());
        }
        // The next one finds its parent made: not its to take away, even by a full removal.
        let cg = Cgroup::create_as(root.path(), Path::new("minotaur/c2"), None, false).unwrap();
        cg.remove().unwrap();
        assert!(root.path().join("memory/minotaur").is_dir());
        assert!(!root.path().join("memory/minotaur/c2").exists());
    }

    #[test]
    fn v1_missing_controller_for_a_limit_is_an_error_and_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("memory")).unwrap();
        let err =
            Cgroup::create(root.path(), Path::new("minotaur/c2"), Some(&resources())).unwrap_err();
        assert!(
            matches!(err, CgroupError::MissingController { ref controller, .. } if controller == "cpu")
        );
        // The memory directory was made and had a file written in it; only the directory itself can go.
        let _ = fs::remove_file(root.path().join("memory/minotaur/c2/memory.limit_in_bytes"));
        let _ = fs::remove_file(
            root.path()
                .join("memory/minotaur/c2/memory.memsw.limit_in_bytes"),
        );
    }

    #[test]
    fn cgroup_paths_cannot_escape_the_root() {
        let root = tempfile::tempdir().unwrap();
        assert!(matches!(
            Cgroup::create(root.path(), Path::new("../x"), None),
            Err(CgroupError::BadPath(_))
        ));
    }

    #[test]
    fn v2_limits_land_in_one_directory_with_controllers_enabled() {
        let root = tempfile::tempdir().unwrap();
        fs::write(
            root.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let cg = Cgroup::create_as(
            root.path(),
            Path::new("minotaur/c3"),
            Some(&resources()),
            true,
        )
        .unwrap();
        let r = |p: &str| fs::read_to_string(root.path().join(p)).unwrap();
        // A temp dir keeps only the last write; the kernel would accumulate "+memory +cpu +pids".
        assert_eq!(r("cgroup.subtree_control"), "+pids");
        assert_eq!(r("minotaur/cgroup.subtree_control"), "+pids");
        assert_eq!(r("minotaur/c3/memory.max"), "67108864");
        assert_eq!(r("minotaur/c3/memory.swap.max"), "67108864");
        assert_eq!(
            r("minotaur/c3/cpu.weight"),
            shares_to_weight(512).to_string()
        );
        assert_eq!(r("minotaur/c3/cpu.max"), "150000 100000");
        assert_eq!(r("minotaur/c3/pids.max"), "42");
        assert_eq!(cg.dirs(), [root.path().join("minotaur/c3")]);
        // v2 has no `tasks` file outside threaded subtrees: a process moves itself through `cgroup.procs`.
        cg.add_self().unwrap();
        assert_eq!(r("minotaur/c3/cgroup.procs"), "0");
        assert!(!root.path().join("minotaur/c3/tasks").exists());
    }

    #[test]
    fn oom_kills_are_read_from_either_version() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        let v2 = "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(oom_kill_count(v1), Some(2));
        assert_eq!(oom_kill_count(v2), Some(1));
        assert_eq!(oom_kill_count("oom 1\n"), None);
    }

    #[test]
    fn shares_convert_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }
}
