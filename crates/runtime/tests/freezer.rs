//! Freezing a real cgroup v2 directory: the unified hierarchy (`/sys/fs/cgroup` on a unified host, its
//! `unified` mount on a hybrid one), with a child process of the test in it. cgroup v1's freezer is covered
//! end to end by the OCI command line's tests on v1 hosts.

use std::path::Path;
use std::process::Command;

use minotaur_runtime::cgroup::{v2_root, Cgroup};
use nix::unistd::Pid;

#[test]
fn a_v2_cgroup_freezes_and_thaws_its_processes() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to make cgroups");
        return;
    }
    let Some(root) = v2_root() else {
        eprintln!("skipped: no cgroup v2 hierarchy on this host");
        return;
    };
    let path = format!("minotaur-test/freezer.{}", std::process::id());
    let cg = Cgroup::create_as(&root, Path::new(&path), None, true).unwrap();
    let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    let pid = Pid::from_raw(child.id() as i32);
    let result = std::panic::catch_unwind(|| {
        cg.add(pid).unwrap();
        assert!(!cg.is_frozen());
        cg.freeze().unwrap();
        assert!(cg.is_frozen());
        let events = std::fs::read_to_string(root.join(&path).join("cgroup.events")).unwrap();
        assert!(events.lines().any(|l| l == "frozen 1"), "{events}");
        cg.thaw().unwrap();
        assert!(!cg.is_frozen());
    });
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    // Thawed even when an assertion failed, so the SIGKILL above could land.
    let _ = cg.thaw();
    cg.remove().unwrap();
    let _ = std::fs::remove_dir(root.join("minotaur-test"));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
