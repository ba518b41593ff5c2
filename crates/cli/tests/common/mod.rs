//! Helpers shared by the container end-to-end tests: running minotaur in a box, asserting outcomes, and
//! checking that nothing of a container is left behind.

#![allow(dead_code)]

pub mod containerd;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use minotaur_testhost::{wait_until, TestHost};

/// A test host that removes every container left in it when dropped, also when a test fails half-way: the
/// cgroup file system is the real host's, and a container killed with the box would leave its cgroups there.
pub struct Host(TestHost);

impl std::ops::Deref for Host {
    type Target = TestHost;
    fn deref(&self) -> &TestHost {
        &self.0
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let ids = self.0.mino(&["ps", "-a", "-q", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.0.mino(&["rm", "-f", id]);
        }
    }
}

pub fn host() -> Option<Host> {
    TestHost::new(env!("CARGO_BIN_EXE_minotaur")).map(Host)
}

pub fn show(out: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs minotaur in the box, asserts it succeeded, returns its stdout without the trailing newline.
pub fn ok(h: &TestHost, args: &[&str]) -> String {
    let out = h.mino(args);
    assert!(out.status.success(), "minotaur {args:?}: {}", show(&out));
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// Runs minotaur in the box, asserts it exited with `code` and said exactly one line on stderr, which it
/// returns.
pub fn fails(h: &TestHost, args: &[&str], code: i32) -> String {
    let out = h.mino(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "minotaur {args:?}: {}",
        show(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        err.lines().count(),
        1,
        "minotaur {args:?} should say one line on stderr: {err:?}"
    );
    err
}

/// Runs minotaur in the box and returns its exit status.
pub fn status(h: &TestHost, args: &[&str]) -> i32 {
    h.mino(args).status.code().unwrap_or(-1)
}

/// `minotaur inspect -f TEMPLATE C`.
pub fn inspect(h: &TestHost, c: &str, template: &str) -> String {
    ok(h, &["inspect", "-f", template, c])
}

/// Waits until `inspect` shows `status` for the container.
pub fn wait_status(h: &TestHost, c: &str, status: &str) {
    wait_until(&format!("{c} to be {status}"), || {
        Ok(h.mino(&["inspect", "-f", "{{.State.Status}}", c]).stdout
            == format!("{status}\n").as_bytes())
    })
    .unwrap();
}

/// The cgroup directories a container of the box may have on this (v1 or v2) host.
pub fn cgroup_dirs(h: &TestHost, id: &str) -> Vec<String> {
    let parent = h.cgroup_parent();
    ["memory", "cpu", "pids", ""]
        .iter()
        .map(|c| {
            if c.is_empty() {
                format!("/sys/fs/cgroup/{parent}/{id}")
            } else {
                format!("/sys/fs/cgroup/{c}/{parent}/{id}")
            }
        })
        .collect()
}

/// The box's container cgroups that exist now (memory hierarchy on v1, the unified one on v2).
pub fn minotaur_cgroups(h: &TestHost) -> BTreeSet<String> {
    let parent = h.cgroup_parent();
    let mut all = BTreeSet::new();
    for dir in [
        format!("/sys/fs/cgroup/memory/{parent}"),
        format!("/sys/fs/cgroup/{parent}"),
    ] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    all.insert(e.path().display().to_string());
                }
            }
        }
    }
    all
}

/// The engine's mounts under /run/minotaur that outlive its containers.
const LASTING: &[&str] = &[
    "/run/minotaur/bpf",
    "/run/minotaur/netns",
    "/run/minotaur/mnt",
    "/run/minotaur/mnt/template",
];

/// Asserts that no container exists in the box and nothing of the containers `ids` is left: record,
/// directories, network namespace files and `ip netns` names' aliases, mounts, cgroups.
pub fn assert_clean(h: &TestHost, ids: &[String]) {
    assert_eq!(ok(h, &["ps", "-a", "-q"]), "", "container records left");
    let containers = h.dir().join("state/containers");
    let left: Vec<_> = std::fs::read_dir(&containers)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "left in {}: {left:?}",
        containers.display()
    );
    assert_eq!(
        h.sh_ok(
            "ls -A /run/minotaur/netns /run/minotaur/containers /run/minotaur/ipnetns 2>/dev/null | grep -v -e '^/' -e '^$' || true"
        ),
        "",
        "runtime files left under /run/minotaur"
    );
    // The netns directory itself is a shared mount point, as /run/netns is; nothing may be mounted below it.
    // The mount template and its private directory stay until reboot.
    let mounts: Vec<String> = h
        .sh_ok("cat /proc/self/mountinfo")
        .lines()
        .filter(|l| {
            let mp = l.split(' ').nth(4).unwrap_or_default();
            mp.starts_with("/run/minotaur/") && !LASTING.contains(&mp)
        })
        .map(str::to_owned)
        .collect();
    assert!(mounts.is_empty(), "mounts left: {mounts:#?}");
    for id in ids {
        assert_eq!(id.len(), 64, "a full ID: {id}");
        for d in cgroup_dirs(h, id) {
            assert!(!Path::new(&d).exists(), "cgroup left: {d}");
        }
    }
}

/// The live processes of the box other than its init, its DNS stub and the `ps` that lists them. Zombies are
/// left out: the box's init is a `sleep` that reaps nobody, where a real host's init would.
pub fn box_processes(h: &TestHost) -> Vec<String> {
    let mut v: Vec<String> = h
        .sh_ok("ps -e -o stat=,pid=,args=")
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let stat = f.next()?;
            let pid = f.next()?;
            let args = f.collect::<Vec<_>>().join(" ");
            // PID 1 is the box's init (whatever program the harness runs as it).
            let ours = pid == "1"
                || args == "sleep infinity"
                || args.starts_with("dnsmasq")
                || args.starts_with("ps -e")
                || args.starts_with("sh -c ps -e");
            (!stat.starts_with('Z') && !ours).then(|| format!("{pid} {args}"))
        })
        .collect();
    v.sort();
    v
}

/// True when `tool` is on the PATH; otherwise says the test is skipped.
pub fn have(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(tool).is_file()));
    if !found {
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

/// Waits until a shell script in the box succeeds.
pub fn wait_until_ok(h: &TestHost, script: &str) {
    wait_until(script, || Ok(h.sh(script).status.success())).unwrap();
}

/// Imports a one-binary image (a static busybox, a passwd file) as `name`; `extra` runs in its root
/// directory (`$r`) before it is packed, to add hostile entries.
pub fn import_busybox(h: &TestHost, name: &str, extra: &str) {
    let dir = format!("/tmp/root-{}", name.replace([':', '/'], "-"));
    h.sh_ok(&format!(
        "set -e; r={dir}; mkdir -p $r/bin $r/etc $r/tmp
         cp \"$(command -v busybox)\" $r/bin/busybox
         for c in sh cat echo ls sleep true; do ln -s busybox $r/bin/$c; done
         echo 'root:x:0:0:root:/root:/bin/sh' > $r/etc/passwd
         {extra}
         tar -C $r -cf $r.tar ."
    ));
    ok(h, &["import", &format!("{dir}.tar"), name]);
}
