//! A container's [`Config`] turned into the OCI runtime spec the runtime executes: Docker's defaults, then the
//! user's flags. Pure: the caller supplies everything it looked up (the identity, the paths of namespaces to
//! join), so the mapping is tested without a kernel.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use minotaur_runtime::defaults;
use oci_spec::runtime::{
    Capability, LinuxCpuBuilder, LinuxIdMappingBuilder, LinuxMemoryBuilder, LinuxNamespaceBuilder,
    LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder, LinuxSeccomp, Mount, MountBuilder,
    PosixRlimitBuilder, PosixRlimitType, RootBuilder, Spec, UserBuilder,
};

use crate::container::{Config, Seccomp};
use crate::user::Identity;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("unknown capability {0:?}")]
    Capability(String),
    #[error("invalid seccomp profile")]
    Seccomp(#[source] serde_json::Error),
    #[error("unknown ulimit {0:?}")]
    Ulimit(String),
}

/// Where the container's root filesystem comes from.
#[derive(Clone, Debug)]
pub enum Root {
    /// The built-in `host` image: the host's `/`, read-only, with private tmpfs `/tmp` and `/run`.
    Host,
    /// A directory (an overlayfs mount of the image's layers and the container's upper layer).
    Dir(PathBuf),
}

/// What the container joins instead of making its own namespace, by namespace file path.
#[derive(Clone, Debug, Default)]
pub struct Joins {
    /// The network namespace (the SandboxKey); `None` with `host_net` means the host's.
    pub net: Option<PathBuf>,
    pub host_net: bool,
    pub pid: Option<PathBuf>,
    pub ipc: Option<PathBuf>,
    pub uts: Option<PathBuf>,
    pub host_pid: bool,
    pub host_ipc: bool,
    pub host_uts: bool,
}

/// Files bound over the container's `/etc` (generated per container).
#[derive(Clone, Debug)]
pub struct EtcFiles {
    pub hostname: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
}

impl EtcFiles {
    /// The files as they lie in a container's directory.
    pub fn in_dir(dir: &Path) -> EtcFiles {
        EtcFiles {
            hostname: dir.join("hostname"),
            hosts: dir.join("hosts"),
            resolv_conf: dir.join("resolv.conf"),
        }
    }
}

/// The capability set of a container: Docker's default, then `--cap-add`/`--cap-drop` (`ALL` allowed), or
/// every capability with `--privileged`. Names are accepted with or without `CAP_`, in any case.
pub fn capabilities(config: &Config) -> Result<HashSet<Capability>, SpecError> {
    // "Every capability" is every one this process may pass on: its bounding set. The kernel knows more
    // than a host may allow (a root without CAP_SYS_RESOURCE, say), and asking for one outside the bounding
    // set makes the container's init fail with EPERM.
    let all = || -> HashSet<Capability> {
        caps::read(None, caps::CapSet::Bounding)
            .unwrap_or_else(|_| caps::all())
            .iter()
            .filter_map(|c| c.to_string().trim_start_matches("CAP_").parse().ok())
            .collect()
    };
    if config.host.privileged {
        return Ok(all());
    }
    let parse = |name: &str| -> Result<Capability, SpecError> {
        let n = name.to_ascii_uppercase();
        n.trim_start_matches("CAP_")
            .parse()
            .map_err(|_| SpecError::Capability(name.to_owned()))
    };
    let mut set: HashSet<Capability> = defaults::DOCKER_CAPABILITIES.iter().copied().collect();
    for d in &config.host.cap_drop {
        if d.eq_ignore_ascii_case("ALL") {
            set.clear();
        } else {
            set.remove(&parse(d)?);
        }
    }
    for a in &config.host.cap_add {
        if a.eq_ignore_ascii_case("ALL") {
            set = all();
        } else {
            set.insert(parse(a)?);
        }
    }
    Ok(set)
}

/// Orders the spec's mounts so that none comes before a mount on one of its parents, as Docker sorts a
/// container's mounts by the depth of their destination (stable: mounts of one depth keep their order). A
/// `--tmpfs /data/x` given with a volume on `/data` is then mounted on the volume, not under it where the
/// volume would hide it, and a mount point in a volume is made in the volume itself (through descriptors:
/// other containers may share it).
pub(crate) fn order_mounts(spec: &mut Spec) {
    let depth = |m: &Mount| {
        m.destination()
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .count()
    };
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.sort_by_key(depth);
    spec.set_mounts(Some(mounts));
}

fn bind(src: &Path, dst: &Path, ro: bool) -> Mount {
    let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
    if ro {
        options.push("ro".into());
    }
    MountBuilder::default()
        .destination(dst)
        .typ("bind")
        .source(src)
        .options(options)
        .build()
        .expect("complete mount")
}

/// Builds the spec of a container.
pub fn build(
    config: &Config,
    id: &Identity,
    root: &Root,
    joins: &Joins,
    etc: &EtcFiles,
    cgroup: &Path,
) -> Result<Spec, SpecError> {
    let args: Vec<String> = config
        .entrypoint
        .iter()
        .chain(&config.cmd)
        .cloned()
        .collect();
    let mut spec = defaults::default_spec(&args);

    // Root filesystem.
    match root {
        Root::Host => defaults::use_host_root(&mut spec),
        Root::Dir(dir) => {
            spec.set_root(Some(
                RootBuilder::default()
                    .path(dir)
                    .readonly(config.host.read_only)
                    .build()
                    .expect("complete root"),
            ));
        }
    }

    // Process: environment, directory, user, terminal, capabilities.
    let caps = capabilities(config)?;
    let mut process = spec.process().clone().expect("default spec has a process");
    // Docker's order: PATH, HOSTNAME (and TERM with a terminal) first, then the configuration's variables,
    // each replacing a default of the same name in place or appended, then HOME if still missing.
    let mut env = vec![
        format!("PATH={}", defaults::DEFAULT_PATH),
        format!("HOSTNAME={}", config.hostname),
    ];
    if config.tty {
        env.push("TERM=xterm".into());
    }
    let key = |e: &str| e.split('=').next().unwrap_or_default().to_owned();
    for e in &config.env {
        match env.iter_mut().find(|d| key(d) == key(e)) {
            Some(d) => d.clone_from(e),
            None => env.push(e.clone()),
        }
    }
    let has = |env: &[String], k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
    if !has(&env, "HOME") {
        env.push(format!("HOME={}", id.home));
    }
    process.set_env(Some(env));
    process.set_cwd(PathBuf::from(if config.working_dir.is_empty() {
        "/"
    } else {
        &config.working_dir
    }));
    process.set_terminal(Some(config.tty));
    process.set_user(
        UserBuilder::default()
            .uid(id.uid)
            .gid(id.gid)
            .additional_gids(id.additional_gids.clone())
            .build()
            .expect("complete user"),
    );
    process.set_no_new_privileges(Some(config.host.no_new_privileges));
    let mut pcaps = process
        .capabilities()
        .clone()
        .expect("default spec has capabilities");
    pcaps.set_bounding(Some(caps.clone()));
    // A user other than root starts with no capability at all (the bounding set still limits what a file's
    // capabilities may give), as the kernel has it for a non-root execve: nothing inheritable or ambient
    // (CVE-2022-24769, CVE-2022-29162), and nothing permitted either, so that no step between setuid and
    // execve, nor an init that stays as PID 1, holds capabilities under the user's uid.
    let held = if id.uid == 0 {
        caps.clone()
    } else {
        HashSet::new()
    };
    pcaps.set_effective(Some(held.clone()));
    pcaps.set_permitted(Some(held));
    pcaps.set_inheritable(Some(HashSet::new()));
    pcaps.set_ambient(Some(HashSet::new()));
    process.set_capabilities(Some(pcaps));
    // `--ulimit`: set by the init before it drops privileges; limits not named are the caller's.
    let rlimits = config
        .host
        .ulimits
        .iter()
        .map(|u| {
            let typ: PosixRlimitType = format!("RLIMIT_{}", u.name.to_ascii_uppercase())
                .parse()
                .map_err(|_| SpecError::Ulimit(u.name.clone()))?;
            Ok(PosixRlimitBuilder::default()
                .typ(typ)
                .soft(u.soft)
                .hard(u.hard)
                .build()
                .expect("complete rlimit"))
        })
        .collect::<Result<Vec<_>, SpecError>>()?;
    process.set_rlimits((!rlimits.is_empty()).then_some(rlimits));
    spec.set_process(Some(process));
    spec.set_hostname(if joins.host_uts || joins.uts.is_some() {
        None
    } else {
        Some(config.hostname.clone())
    });

    // Mounts: Docker's defaults, the generated /etc files, then the user's binds and tmpfs mounts.
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    if config.host.privileged {
        // A privileged container's /sys is writable, as with Docker.
        for m in mounts
            .iter_mut()
            .filter(|m| m.destination() == Path::new("/sys"))
        {
            m.set_options(Some(vec![
                "nosuid".into(),
                "noexec".into(),
                "nodev".into(),
                "rw".into(),
            ]));
        }
    }
    mounts.push(bind(&etc.hostname, Path::new("/etc/hostname"), false));
    mounts.push(bind(&etc.hosts, Path::new("/etc/hosts"), false));
    mounts.push(bind(&etc.resolv_conf, Path::new("/etc/resolv.conf"), false));
    for b in &config.host.binds {
        mounts.push(bind(&b.source, &b.destination, b.read_only));
    }
    for (path, opts) in &config.host.tmpfs {
        let mut m = defaults::tmpfs_mount(&path.to_string_lossy());
        if !opts.is_empty() {
            let mut o: Vec<String> = vec!["nosuid".into(), "nodev".into()];
            o.extend(opts.split(',').map(String::from));
            m.set_options(Some(o));
        }
        mounts.push(m);
    }
    spec.set_mounts(Some(mounts));

    // Linux: namespaces, cgroup and limits, security.
    let mut linux = spec
        .linux()
        .clone()
        .expect("default spec has a linux section");
    let ns = |t, path: &Option<PathBuf>| {
        let mut b = LinuxNamespaceBuilder::default().typ(t);
        if let Some(p) = path {
            b = b.path(p.clone());
        }
        b.build().expect("complete namespace")
    };
    let mut namespaces = vec![
        ns(LinuxNamespaceType::Mount, &None),
        ns(LinuxNamespaceType::Cgroup, &None),
    ];
    if !joins.host_pid {
        namespaces.push(ns(LinuxNamespaceType::Pid, &joins.pid));
    }
    if !joins.host_ipc {
        namespaces.push(ns(LinuxNamespaceType::Ipc, &joins.ipc));
    }
    if !joins.host_uts {
        namespaces.push(ns(LinuxNamespaceType::Uts, &joins.uts));
    }
    if !joins.host_net {
        namespaces.push(ns(LinuxNamespaceType::Network, &joins.net));
    }
    // `--userns=auto`: a user namespace of its own, mapping the container's IDs 0..size onto its range.
    if let Some(m) = &config.host.userns {
        namespaces.push(ns(LinuxNamespaceType::User, &None));
        let map = |host: u32| {
            vec![LinuxIdMappingBuilder::default()
                .container_id(0u32)
                .host_id(host)
                .size(m.size)
                .build()
                .expect("complete id mapping")]
        };
        linux.set_uid_mappings(Some(map(m.uid)));
        linux.set_gid_mappings(Some(map(m.gid)));
    }
    linux.set_namespaces(Some(namespaces));
    linux.set_cgroups_path(Some(cgroup.to_owned()));

    let h = &config.host;
    let mut res = LinuxResourcesBuilder::default();
    if h.memory.is_some() || h.memory_swap.is_some() {
        let mut m = LinuxMemoryBuilder::default();
        if let Some(limit) = h.memory {
            m = m.limit(limit as i64);
            // Docker: without --memory-swap, swap is as much again as memory.
            m = m.swap(h.memory_swap.unwrap_or(2 * limit as i64));
        } else if let Some(swap) = h.memory_swap {
            m = m.swap(swap);
        }
        res = res.memory(m.build().expect("complete memory"));
    }
    if h.nano_cpus.is_some() || h.cpu_shares.is_some() {
        let mut c = LinuxCpuBuilder::default();
        if let Some(n) = h.nano_cpus {
            c = c.period(100_000u64).quota(n / 10_000);
        }
        if let Some(s) = h.cpu_shares {
            c = c.shares(s);
        }
        res = res.cpu(c.build().expect("complete cpu"));
    }
    if let Some(p) = h.pids_limit {
        res = res.pids(
            LinuxPidsBuilder::default()
                .limit(p)
                .build()
                .expect("complete pids"),
        );
    }
    linux.set_resources(Some(res.build().expect("complete resources")));

    if h.privileged {
        linux.set_masked_paths(Some(Vec::new()));
        linux.set_readonly_paths(Some(Vec::new()));
        linux.set_seccomp(None);
    } else {
        let names: Vec<String> = caps.iter().map(|c| format!("CAP_{c}")).collect();
        linux.set_seccomp(match &h.seccomp {
            Seccomp::Default => Some(minotaur_runtime::seccomp::docker_default_for(&names)),
            Seccomp::Unconfined => None,
            Seccomp::Profile(json) => {
                Some(serde_json::from_str::<LinuxSeccomp>(json).map_err(SpecError::Seccomp)?)
            }
        });
    }
    spec.set_linux(Some(linux));
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::HostConfig;

    #[test]
    fn mounts_are_ordered_parents_first_keeping_the_order_of_one_depth() {
        let mut spec = Spec::default();
        spec.set_mounts(Some(vec![
            bind(Path::new("/v"), Path::new("/data/x/sub"), false),
            bind(Path::new("/a"), Path::new("/b"), false),
            bind(Path::new("/v"), Path::new("/data"), false),
            bind(Path::new("/a"), Path::new("/a"), false),
        ]));
        order_mounts(&mut spec);
        let order: Vec<_> = spec
            .mounts()
            .iter()
            .flatten()
            .map(|m| m.destination().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(order, ["/b", "/data", "/a", "/data/x/sub"]);
    }

    fn config() -> Config {
        Config {
            hostname: "abc".into(),
            user: String::new(),
            env: vec!["A=1".into()],
            cmd: vec!["sleep".into(), "1".into()],
            entrypoint: vec![],
            working_dir: String::new(),
            image: "host".into(),
            image_id: "host".into(),
            labels: Default::default(),
            tty: false,
            open_stdin: false,
            stop_signal: "SIGTERM".into(),
            stop_timeout: None,
            healthcheck: None,
            readiness: None,
            startup: None,
            host: HostConfig {
                network_mode: "none".into(),
                ..Default::default()
            },
        }
    }

    fn etc() -> EtcFiles {
        EtcFiles {
            hostname: "/c/hostname".into(),
            hosts: "/c/hosts".into(),
            resolv_conf: "/c/resolv.conf".into(),
        }
    }

    fn root_id() -> Identity {
        Identity {
            uid: 0,
            gid: 0,
            additional_gids: vec![0],
            home: "/root".into(),
        }
    }

    #[test]
    fn ulimits_become_the_process_rlimits() {
        let mut c = config();
        let build_it = |c: &Config| {
            build(
                c,
                &root_id(),
                &Root::Host,
                &Joins::default(),
                &etc(),
                Path::new("m/x"),
            )
            .unwrap()
        };
        // None named: none set, so the caller's stay.
        assert_eq!(build_it(&c).process().as_ref().unwrap().rlimits(), &None);
        c.host.ulimits = vec![
            crate::parse::ulimit("nofile=4096:8192").unwrap(),
            crate::parse::ulimit("as=-1").unwrap(),
        ];
        let spec = build_it(&c);
        let got: Vec<_> = spec
            .process()
            .as_ref()
            .unwrap()
            .rlimits()
            .iter()
            .flatten()
            .map(|r| (r.typ(), r.soft(), r.hard()))
            .collect();
        assert_eq!(
            got,
            [
                (PosixRlimitType::RlimitNofile, 4096, 8192),
                (PosixRlimitType::RlimitAs, u64::MAX, u64::MAX)
            ]
        );
        c.host.ulimits[0].name = "files".into();
        assert!(matches!(
            build(
                &c,
                &root_id(),
                &Root::Host,
                &Joins::default(),
                &etc(),
                Path::new("m/x")
            ),
            Err(SpecError::Ulimit(n)) if n == "files"
        ));
    }

    #[test]
    fn caps_add_and_drop_like_docker() {
        let mut c = config();
        c.host.cap_add = vec!["net_admin".into(), "CAP_SYS_PTRACE".into()];
        c.host.cap_drop = vec!["NET_RAW".into()];
        let caps = capabilities(&c).unwrap();
        assert!(caps.contains(&Capability::NetAdmin) && caps.contains(&Capability::SysPtrace));
        assert!(!caps.contains(&Capability::NetRaw) && caps.contains(&Capability::Chown));
        c.host.cap_drop = vec!["ALL".into()];
        c.host.cap_add = vec!["CHOWN".into()];
        assert_eq!(
            capabilities(&c).unwrap(),
            HashSet::from([Capability::Chown])
        );
        c.host.cap_add = vec!["FLY".into()];
        assert!(capabilities(&c).is_err());
    }

    #[test]
    fn userns_range_becomes_a_user_namespace_and_its_maps() {
        let mut c = config();
        let plain = build(
            &c,
            &root_id(),
            &Root::Host,
            &Joins::default(),
            &etc(),
            Path::new("m/x"),
        );
        let linux = plain.unwrap().linux().clone().unwrap();
        assert!(!linux
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::User));
        assert!(linux.uid_mappings().is_none());
        c.host.userns = Some(crate::container::IdMap {
            uid: 100000,
            gid: 200000,
            size: 1000,
        });
        let spec = build(
            &c,
            &root_id(),
            &Root::Dir("/r".into()),
            &Joins::default(),
            &etc(),
            Path::new("m/x"),
        );
        let linux = spec.unwrap().linux().clone().unwrap();
        let ns = linux.namespaces().as_ref().unwrap();
        assert!(ns
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none()));
        let uid = &linux.uid_mappings().as_ref().unwrap()[0];
        let gid = &linux.gid_mappings().as_ref().unwrap()[0];
        assert_eq!(
            (uid.container_id(), uid.host_id(), uid.size()),
            (0, 100000, 1000)
        );
        assert_eq!(
            (gid.container_id(), gid.host_id(), gid.size()),
            (0, 200000, 1000)
        );
    }

    #[test]
    fn limits_and_namespaces_reach_the_spec() {
        let mut c = config();
        c.host.memory = Some(64 << 20);
        c.host.nano_cpus = Some(1_500_000_000);
        c.host.pids_limit = Some(50);
        let joins = Joins {
            net: Some("/run/minotaur/netns/x".into()),
            host_pid: true,
            ..Default::default()
        };
        let spec = build(
            &c,
            &root_id(),
            &Root::Host,
            &joins,
            &etc(),
            Path::new("minotaur/x"),
        )
        .unwrap();
        let linux = spec.linux().as_ref().unwrap();
        let res = linux.resources().as_ref().unwrap();
        assert_eq!(res.memory().as_ref().unwrap().limit(), Some(64 << 20));
        assert_eq!(res.memory().as_ref().unwrap().swap(), Some(128 << 20));
        assert_eq!(res.cpu().as_ref().unwrap().quota(), Some(150_000));
        assert_eq!(res.pids().as_ref().unwrap().limit(), 50);
        let ns = linux.namespaces().as_ref().unwrap();
        assert!(!ns.iter().any(|n| n.typ() == LinuxNamespaceType::Pid));
        let net = ns
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .unwrap();
        assert_eq!(
            net.path().as_deref(),
            Some(Path::new("/run/minotaur/netns/x"))
        );
        assert_eq!(spec.hostname().as_deref(), Some("abc"));
        assert!(spec.root().as_ref().unwrap().readonly().unwrap());
        let env = spec.process().as_ref().unwrap().env().clone().unwrap();
        assert!(env.contains(&"A=1".to_string()) && env.contains(&"HOSTNAME=abc".to_string()));
        assert!(env.iter().any(|e| e.starts_with("PATH=")));
    }

    #[test]
    fn privileged_drops_seccomp_and_masks() {
        let mut c = config();
        c.host.privileged = true;
        let spec = build(
            &c,
            &root_id(),
            &Root::Host,
            &Joins::default(),
            &etc(),
            Path::new("m/x"),
        )
        .unwrap();
        let linux = spec.linux().as_ref().unwrap();
        assert!(linux.seccomp().is_none());
        assert!(linux.masked_paths().as_ref().unwrap().is_empty());
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        assert!(caps
            .bounding()
            .as_ref()
            .unwrap()
            .contains(&Capability::SysAdmin));
    }

    #[test]
    fn binds_and_user_reach_the_spec() {
        let mut c = config();
        let crate::parse::MountRequest::Bind(b) = crate::parse::volume("/srv:/data:ro").unwrap()
        else {
            panic!("a host path is a bind")
        };
        c.host.binds = vec![b];
        let id = Identity {
            uid: 33,
            gid: 33,
            additional_gids: vec![33, 4],
            home: "/var/www".into(),
        };
        let spec = build(
            &c,
            &id,
            &Root::Dir("/r".into()),
            &Joins::default(),
            &etc(),
            Path::new("m/x"),
        )
        .unwrap();
        let m = spec.mounts().as_ref().unwrap();
        let data = m
            .iter()
            .find(|m| m.destination() == Path::new("/data"))
            .unwrap();
        assert!(data.options().as_ref().unwrap().contains(&"ro".to_string()));
        let user = spec.process().as_ref().unwrap().user();
        assert_eq!((user.uid(), user.gid()), (33, 33));
        // A non-root user holds no capability; the bounding set still limits file capabilities.
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        for set in [
            caps.effective(),
            caps.permitted(),
            caps.inheritable(),
            caps.ambient(),
        ] {
            assert_eq!(set.as_ref().map(HashSet::len), Some(0));
        }
        assert!(caps
            .bounding()
            .as_ref()
            .unwrap()
            .contains(&Capability::Chown));
        assert!(!spec.root().as_ref().unwrap().readonly().unwrap());
    }
}
