//! The systemd a test host boots: it runs, with a system bus, without a way to write the host's files, in
//! the box's network, and leaves no process or cgroup behind.

use std::path::Path;

use minotaur_testhost::systemd::Options;
use minotaur_testhost::TestHost;

#[test]
fn a_booted_systemd_runs_confined_and_leaves_nothing_behind() {
    let exe = std::env::current_exe().unwrap();
    let Some(h) = TestHost::new(&exe) else { return };
    let Some(sd) = h.boot_systemd() else { return };
    let pid = sd.pid();
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "systemd"
    );
    // PID 1 of its namespace, its own cgroup root, its bus up, and nothing started but D-Bus.
    assert_eq!(sd.sh_ok("echo $PPID; cat /proc/1/comm"), "0\nsystemd\n");
    let cgroups = sd.sh_ok("cat /proc/1/cgroup");
    assert!(
        cgroups.lines().any(|l| l.ends_with(":/init.scope")
            && (l.contains(":name=systemd:") || l.starts_with("0::"))),
        "{cgroups}"
    );
    let services = sd.sh_ok(
        "systemctl list-units --type=service --state=active --no-legend --plain | cut -d' ' -f1",
    );
    assert_eq!(services, "dbus.service\n");
    sd.sh_ok("busctl --system status org.freedesktop.systemd1 >/dev/null");
    // The host's files are read-only to it; its /etc, /var and /run are its own.
    for p in ["/usr/minotaur-probe", "/proc/sys/kernel/minotaur-probe"] {
        let out = sd.command("touch").arg(p).output().unwrap();
        assert!(!out.status.success(), "{p} is writable");
    }
    sd.sh_ok("touch /etc/minotaur-probe /var/minotaur-probe /run/minotaur-probe");
    assert!(!Path::new("/etc/minotaur-probe").exists());
    // The box's network: the box's uplink is there, and none of the real host's links.
    let links = sd.sh_ok("ls /sys/class/net");
    assert_eq!(links, "lo\nuplink0\n");

    let cgroup = sd.cgroup().to_owned();
    drop(sd);
    assert!(
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z ")),
        "systemd {pid} still runs"
    );
    for c in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let dir = c.path().join(&cgroup);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

/// A systemd host as the kernel would boot it: the root mount shared, and with `unified` the v2 hierarchy
/// alone at `/sys/fs/cgroup`, PID 1 in its `init.scope`; the extra directories bound as asked.
#[test]
fn a_booted_systemd_has_a_shared_root_and_the_cgroup_layout_asked_for() {
    let exe = std::env::current_exe().unwrap();
    let Some(h) = TestHost::new(&exe) else { return };
    let ro = h.dir().join("ro");
    let rw = h.dir().join("rw");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::create_dir_all(&rw).unwrap();
    let options = Options {
        unified: true,
        read_only: vec![ro.clone()],
        read_write: vec![rw.clone()],
    };
    let Some(sd) = h.boot_systemd_with(&options) else {
        return;
    };
    assert_eq!(sd.sh_ok("findmnt -n -o PROPAGATION /"), "shared\n");
    assert_eq!(sd.sh_ok("stat -f -c %T /sys/fs/cgroup"), "cgroup2fs\n");
    // (/proc/PID/cgroup lists the v1 hierarchies of a hybrid machine too, mounted or not.)
    let cgroups = sd.sh_ok("cat /proc/1/cgroup");
    assert!(cgroups.lines().any(|l| l == "0::/init.scope"), "{cgroups}");
    let touch = |dir: &std::path::Path| {
        sd.command("touch")
            .arg(dir.join("probe"))
            .status()
            .unwrap()
            .success()
    };
    assert!(!touch(&ro), "{} is writable", ro.display());
    assert!(touch(&rw), "{} is not writable", rw.display());
    assert!(rw.join("probe").exists());
}
