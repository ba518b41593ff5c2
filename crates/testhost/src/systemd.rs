//! A systemd booted inside a [`TestHost`], for tests of what talks to systemd (the runtime's systemd cgroup
//! driver): PID 1 of its own PID, mount, cgroup, UTS and IPC namespaces below the box (whose network
//! namespace it shares, so it has no network but the box's), with a system bus.
//!
//! What it sees, made by a script before `exec systemd` (the host's files are never writable to it):
//!
//! ```text
//! /              a tmpfs                      /usr    the host's, read-only (bin, sbin, lib, lib64 link there)
//! /etc           an overlay on the box's /etc, writes land in the box's directory
//! /var /run /tmp tmpfs (/var/run → /run)     /proc   its own, with /proc/sys read-only
//! /sys           a read-only sysfs            /dev    a tmpfs with null, zero, full, random, urandom, tty
//!                                                     bound in, its own devpts and /dev/shm
//! /sys/fs/cgroup a read-only tmpfs with each of the host's hierarchies mounted from a new cgroup namespace
//!                rooted at `<box's cgroup parent>/systemd`, so systemd's cgroups are all under it
//! the box's directory and the directory of the binary under test, at their own paths (the latter
//! read-only), so a test can hand it bundles and programs; [`Options`] adds more
//! ```
//!
//! With [`Options::unified`] `/sys/fs/cgroup` is instead the unified hierarchy alone (rooted the same way), as
//! on a host booted with cgroup v2 only. Its root mount is shared (`mount --make-rshared /` before
//! `exec systemd`), as a systemd booted by the kernel leaves a host's: one that knows it runs in a container
//! leaves propagation as it finds it.
//!
//! It starts nothing of the host's: its default target is a unit of its own that wants only the D-Bus
//! daemon (`dbus.socket` and `dbus.service`, without their default dependencies), so sysinit, local-fs
//! (`/etc/fstab` is emptied) and the host's services never run. systemd knows it runs in a container
//! (`container=minotaur-test`), so it mounts nothing of its own over what it is given. Dropping the
//! [`Systemd`] SIGKILLs its PID 1 by the host PID this harness found (which ends its PID namespace and every
//! process in it) and removes its cgroups, deepest first.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{remove_cgroup_tree, TestHost};

/// How long systemd may take to boot (a few hundred milliseconds on an idle machine).
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// The script that makes systemd's root and becomes it. Arguments: the directory for its files, the cgroup
/// (relative to each hierarchy's root) to root it at, the box's directory, `unified` or `hybrid` (the
/// layout of `/sys/fs/cgroup`), then pairs `ro DIR` or `rw DIR` of directories to bind (the binary's first).
const BOOT: &str = r#"
set -e
D=$1; CG=$2; BOX=$3; LAYOUT=$4
shift 4
# Its own cgroup in every hierarchy, joined before the cgroup namespace is made so that the namespace is
# rooted there. A new cpuset cgroup gets its parent's CPUs and memory nodes, or nothing could join it.
for h in /sys/fs/cgroup/*; do
  [ -d "$h" ] || continue
  mkdir -p "$h/$CG"
  if [ "${h##*/}" = cpuset ]; then
    p=$h
    for c in $(echo "$CG" | tr / ' '); do
      p=$p/$c
      for f in cpus mems; do
        [ -n "$(cat "$p/cpuset.$f")" ] || cat "${p%/*}/cpuset.$f" > "$p/cpuset.$f"
      done
    done
  fi
  echo $$ > "$h/$CG/cgroup.procs"
done
mkdir -p "$D/root" "$D/etc-upper" "$D/etc-work"
exec unshare --cgroup --pid --mount --uts --ipc --fork --kill-child --propagation private -- sh -ec '
D=$1; BOX=$2; LAYOUT=$3; R=$D/root
shift 3
mount -t tmpfs -o mode=755 root "$R"
mkdir -p "$R/usr" "$R/etc" "$R/var" "$R/run" "$R/tmp" "$R/proc" "$R/sys" "$R/dev" "$R/root"
mount --bind /usr "$R/usr"
mount -o remount,bind,ro "$R/usr"
for l in bin sbin lib lib64; do ln -s "usr/$l" "$R/$l"; done
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$D/etc-upper,workdir=$D/etc-work" "$R/etc"
: > "$R/etc/fstab"
hostname minotaur-systemd
echo minotaur-systemd > "$R/etc/hostname"
S=$R/etc/systemd/system
mkdir -p "$S/dbus.service.d" "$S/dbus.socket.d"
printf "[Unit]\nDescription=minotaur test systemd\nDefaultDependencies=no\nRequires=dbus.socket dbus.service\nAfter=dbus.socket dbus.service\n" > "$S/minotaur-test.target"
printf "[Unit]\nDefaultDependencies=no\n" > "$S/dbus.service.d/minotaur-test.conf"
printf "[Unit]\nDefaultDependencies=no\n" > "$S/dbus.socket.d/minotaur-test.conf"
mount -t tmpfs -o mode=755 var "$R/var"
ln -s ../run "$R/var/run"
ln -s ../run/lock "$R/var/lock"
mount -t tmpfs -o mode=755 run "$R/run"
mount -t tmpfs -o mode=1777 tmp "$R/tmp"
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro sysfs "$R/sys"
if [ "$LAYOUT" = unified ]; then
  mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
else
  mount -t tmpfs -o mode=755 cgroup "$R/sys/fs/cgroup"
  for h in /sys/fs/cgroup/*; do
    [ -d "$h" ] || continue
    n=${h##*/}
    mkdir "$R/sys/fs/cgroup/$n"
    if [ "$(stat -f -c %T "$h")" = cgroup2fs ]; then
      mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup/$n"
    elif [ "$n" = systemd ]; then
      mount -t cgroup -o none,name=systemd cgroup "$R/sys/fs/cgroup/$n"
    else
      mount -t cgroup -o "$n" cgroup "$R/sys/fs/cgroup/$n"
    fi
  done
  mount -o remount,ro "$R/sys/fs/cgroup"
fi
mount -t tmpfs -o mode=755,nosuid dev "$R/dev"
for n in null zero full random urandom tty; do
  touch "$R/dev/$n"
  mount --bind "/dev/$n" "$R/dev/$n"
done
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777 shm "$R/dev/shm"
mkdir -p "$R$BOX"
mount --bind "$BOX" "$R$BOX"
while [ $# -ge 2 ]; do
  mkdir -p "$R$2"
  mount --bind "$2" "$R$2"
  [ "$1" = rw ] || mount -o remount,bind,ro "$R$2"
  shift 2
done
cd "$R"
mkdir .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
mount --make-rshared /
exec env -i container=minotaur-test /lib/systemd/systemd --unit=minotaur-test.target
' sh "$D" "$BOX" "$LAYOUT" "$@"
"#;

/// How the host systemd boots on looks, beyond what every one has (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `/sys/fs/cgroup` is the unified hierarchy alone, as on a cgroup v2 host, instead of the host's
    /// hierarchies (on a hybrid host: the v1 controllers, `systemd` and `unified`).
    pub unified: bool,
    /// More directories of the host, bound read-only at their own paths.
    pub read_only: Vec<PathBuf>,
    /// Directories of the host bound writable at their own paths (where a benchmark leaves its figures).
    pub read_write: Vec<PathBuf>,
}

/// A systemd booted in a [`TestHost`]; see the module documentation.
pub struct Systemd<'a> {
    host: &'a TestHost,
    /// The `nsenter` that runs the boot script in the box.
    holder: Child,
    /// systemd's host PID.
    pid: i32,
    /// Its cgroup, relative to each hierarchy's root.
    cgroup: String,
}

impl TestHost {
    /// Boots a systemd in the box, or returns `None` (after printing why) when this machine has none.
    pub fn boot_systemd(&self) -> Option<Systemd<'_>> {
        self.boot_systemd_with(&Options::default())
    }

    /// [`TestHost::boot_systemd`] on a host that looks as `options` say.
    pub fn boot_systemd_with(&self, options: &Options) -> Option<Systemd<'_>> {
        self.try_boot_systemd_with(options)
            .expect("booting systemd in the test host")
    }

    /// [`TestHost::boot_systemd_with`], with a failed boot returned rather than panicked on: for a
    /// caller built to abort on panic, which would leave the box's processes behind.
    pub fn try_boot_systemd_with(&self, options: &Options) -> Result<Option<Systemd<'_>>, String> {
        let missing = ["/lib/systemd/systemd", "/usr/bin/dbus-daemon"]
            .into_iter()
            .find(|p| !Path::new(p).exists());
        if let Some(p) = missing {
            let why = format!("needs {p} (the systemd and dbus packages)");
            if std::env::var_os("MINOTAUR_TEST_REQUIRE_HOST").is_some_and(|v| v == "1") {
                panic!("MINOTAUR_TEST_REQUIRE_HOST=1 but systemd cannot boot: {why}");
            }
            eprintln!("skipped: {why}");
            return Ok(None);
        }
        Systemd::boot(self, options).map(Some)
    }
}

impl<'a> Systemd<'a> {
    fn boot(host: &'a TestHost, options: &Options) -> Result<Systemd<'a>, String> {
        let dir = host.dir().join("systemd");
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let log = fs::File::create(dir.join("boot.log")).map_err(|e| e.to_string())?;
        let cgroup = format!("{}/systemd", host.cgroup_parent());
        let bindir = host.bin.parent().unwrap_or(Path::new("/")).to_owned();
        let mut boot = host.command("sh");
        boot.arg("-c")
            .arg(BOOT)
            .arg("sh")
            .arg(&dir)
            .arg(&cgroup)
            .arg(host.dir())
            .arg(if options.unified { "unified" } else { "hybrid" })
            .arg("ro")
            .arg(&bindir);
        for dir in &options.read_only {
            boot.arg("ro").arg(dir);
        }
        for dir in &options.read_write {
            boot.arg("rw").arg(dir);
        }
        let holder = boot
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("nsenter: {e}"))?;
        let mut sd = Systemd {
            host,
            pid: 0,
            holder,
            cgroup,
        };
        // nsenter → the script, which becomes the outer unshare → its child, which becomes systemd.
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = sd.holder.try_wait() {
                let log = fs::read_to_string(dir.join("boot.log")).unwrap_or_default();
                return Err(format!("the boot script failed ({status}): {log}"));
            }
            if sd.pid == 0 {
                sd.pid = child_of(sd.holder.id() as i32)
                    .and_then(child_of)
                    .filter(|p| {
                        fs::read_to_string(format!("/proc/{p}/comm"))
                            .is_ok_and(|c| c.trim() == "systemd")
                    })
                    .unwrap_or(0);
            }
            if sd.pid != 0 && sd.is_running() {
                return Ok(sd);
            }
            if start.elapsed() > BOOT_TIMEOUT {
                let log = fs::read_to_string(dir.join("boot.log")).unwrap_or_default();
                return Err(format!(
                    "systemd did not boot within {BOOT_TIMEOUT:?}: {log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether systemd has reached its target with the bus up.
    fn is_running(&self) -> bool {
        let root = PathBuf::from(format!("/proc/{}/root", self.pid));
        root.join("run/dbus/system_bus_socket").exists()
            && self
                .command("systemctl")
                .args(["is-system-running"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "running")
    }

    /// systemd's PID on the host.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Its cgroup, relative to each of the host's hierarchies: the root of its cgroup namespace.
    pub fn cgroup(&self) -> &str {
        &self.cgroup
    }

    /// A command that runs `program` in all of systemd's namespaces (its root, its cgroups, its bus), with
    /// minotaur's state in the box's directory.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-a", "--"])
            .arg(program)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin")
            .env("MINOTAUR_ROOT", self.host.dir().join("state"))
            .env("MINOTAUR_RUNROOT", "/run/minotaur")
            .env("TMPDIR", "/tmp")
            .stdin(Stdio::null());
        c
    }

    /// `systemctl ARGS` in systemd's namespaces.
    pub fn systemctl(&self, args: &[&str]) -> Output {
        self.command("systemctl")
            .args(args)
            .output()
            .expect("running systemctl")
    }

    /// `systemctl show UNIT -p PROPERTY`'s value, empty when it has none.
    pub fn show(&self, unit: &str, property: &str) -> String {
        let out = self.systemctl(&["show", unit, "-p", property, "--value"]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Runs a shell script in systemd's namespaces; panics with its stderr when it fails. Returns its stdout.
    pub fn sh_ok(&self, script: &str) -> String {
        let out = self
            .command("sh")
            .args(["-c", script])
            .output()
            .expect("running sh");
        assert!(
            out.status.success(),
            "script failed ({}): {script}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Systemd<'_> {
    fn drop(&mut self) {
        if self.pid > 0 {
            // From the host, an ancestor namespace: PID 1 of the namespace takes it, and every process of the
            // namespace dies with it.
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        if let Ok(controllers) = fs::read_dir("/sys/fs/cgroup") {
            for c in controllers.flatten() {
                let dir = c.path().join(&self.cgroup);
                if dir.is_dir() {
                    remove_cgroup_tree(&dir);
                }
            }
        }
    }
}

/// The first child of `pid`, if it has one.
fn child_of(pid: i32) -> Option<i32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
