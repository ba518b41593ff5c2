//! Throwaway hosts for privileged integration tests.
//!
//! A [`TestHost`] is a "box": a process tree in its own PID, network, mount, UTS and IPC namespaces, with a
//! private `/run` (a tmpfs, with the host's mounts below `/run` detached first, so that what an engine run on
//! the real host left there, such as its run root, is not hidden underneath and copied into containers), a
//! private `/tmp` (the directory of the binary under test stays visible there), an `/etc` that is an overlay
//! whose writes land in a temporary directory, and its own state directory for minotaur. Behind its uplink sits a simulated outside world, a second set of namespaces
//! that serves HTTP and DNS on documentation addresses. The box's resolver is set up like the tutorials' Ubuntu
//! host: `/etc/resolv.conf` names a systemd-resolved style stub on 127.0.0.53, which forwards to the real
//! upstream listed in `/run/systemd/resolve/resolv.conf`.
//!
//! ```text
//!  box (pid+net+mnt+uts+ipc)                     world (pid+net+mnt)
//!  lo 127.0.0.1, stub DNS 127.0.0.53 ─┐          lo 203.0.113.53 (DNS), 203.0.113.80 (HTTP)
//!  uplink0 198.18.0.2/30 ─────────────┴── veth ── wan0 198.18.0.1/30
//!  default via 198.18.0.1, forwarding on          198.18.0.0/15 via 198.18.0.2
//! ```
//!
//! Everything lives inside those namespaces: dropping the [`TestHost`] kills the two PID-namespace inits (by the
//! PIDs this harness started), which ends every process in them and lets the kernel reap the namespaces, the
//! veth pair and the mounts. Nothing touches the real host's network, and boxes in parallel tests never see each
//! other. When the harness cannot run (not root, a tool missing) [`TestHost::new`] prints "skipped: …" and
//! returns `None`, unless `MINOTAUR_TEST_REQUIRE_HOST=1` is set (as CI does), where it panics instead.
//!
//! [`TestHost::boot_systemd`] boots a systemd inside a box, with a system bus, for what talks to systemd.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub mod systemd;

/// The world's DNS server address.
pub const WORLD_DNS: &str = "203.0.113.53";
/// The world's HTTP server address (port 80).
pub const WORLD_HTTP: &str = "203.0.113.80";
/// A name the world's DNS server answers with [`WORLD_HTTP`].
pub const WORLD_NAME: &str = "www.outside.test";
/// What the world's HTTP server answers on `/`.
pub const WORLD_PAGE: &str = "hello from the outside world";
/// The box's side of the uplink.
pub const BOX_UPLINK: &str = "198.18.0.2";
/// The world's side of the uplink; the box's default gateway.
pub const WORLD_UPLINK: &str = "198.18.0.1";

const TOOLS: &[&str] = &["unshare", "nsenter", "ip", "dnsmasq", "busybox", "perl"];

/// The box's init: it reaps every child, including orphans reparented to it, as a real init does (perl-base
/// is part of every Debian system).
const REAPER: &str = "perl -e 'while (1) { sleep 1 if wait() == -1 }'";

/// One throwaway host with its outside world. See the crate documentation.
pub struct TestHost {
    dir: tempfile::TempDir,
    bin: PathBuf,
    boxed: Holder,
    world: Holder,
    /// The box's own cgroup v2 directory for the engine's connect4 program (`MINOTAUR_CONNECT_CGROUP`), so
    /// that it is never attached where the real host's processes are; `None` without cgroup v2.
    connect_cgroup: Option<PathBuf>,
}

/// An `unshare --fork --kill-child` process and the PID-namespace init below it.
struct Holder {
    unshare: Child,
    init: i32,
}

impl Holder {
    /// Ends the holder and with it its PID namespace. Idempotent.
    fn kill(&mut self) {
        // --kill-child makes the init die with unshare; the init's death ends its whole PID namespace.
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
        if self.init > 0 {
            let _ = kill(Pid::from_raw(self.init), Signal::SIGKILL);
            // Wait until it is dead (gone, or a zombie its new parent has yet to reap), so that the
            // namespace's processes are being torn down.
            let _ = wait_until("the namespace's init to die", || {
                let stat =
                    fs::read_to_string(format!("/proc/{}/stat", self.init)).unwrap_or_default();
                Ok(stat
                    .rsplit(") ")
                    .next()
                    .is_none_or(|rest| rest.starts_with('Z') || rest.starts_with('X')))
            });
            self.init = 0;
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        self.boxed.kill();
        self.world.kill();
        if let Some(cg) = &self.connect_cgroup {
            remove_cgroup_tree(cg);
        }
        // Whatever cgroups the box's containers left (a test that failed half-way), deepest first. Their
        // processes died with the box's PID namespace; the kernel may take a moment to let go of them.
        let parent = self.cgroup_parent();
        let Ok(controllers) = fs::read_dir("/sys/fs/cgroup") else {
            return;
        };
        for c in controllers.flatten() {
            let base = c.path().join(&parent);
            if base.is_dir() {
                remove_cgroup_tree(&base);
            }
            let _ = fs::remove_dir(c.path().join("minotaur-test"));
        }
    }
}

/// The root of the cgroup v2 hierarchy (unified or hybrid host), if there is one.
fn v2_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| {
            nix::sys::statfs::statfs(p)
                .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        })
}

/// Removes a cgroup and its descendants (rmdir only: a cgroup directory has no files to delete).
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let start = Instant::now();
    while fs::remove_dir(dir).is_err_and(|e| e.raw_os_error() == Some(nix::libc::EBUSY))
        && start.elapsed() < Duration::from_secs(2)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl TestHost {
    /// Makes a box and its world, or returns `None` (after printing why) when this machine cannot.
    /// `bin` is the minotaur binary under test (`env!("CARGO_BIN_EXE_minotaur")`).
    pub fn new(bin: impl AsRef<Path>) -> Option<TestHost> {
        if let Some(why) = cannot_run() {
            if std::env::var_os("MINOTAUR_TEST_REQUIRE_HOST").is_some_and(|v| v == "1") {
                panic!("MINOTAUR_TEST_REQUIRE_HOST=1 but the test host cannot run: {why}");
            }
            eprintln!("skipped: {why}");
            return None;
        }
        Some(TestHost::build(bin.as_ref()).expect("building the test host"))
    }

    fn build(bin: &Path) -> Result<TestHost, String> {
        let dir = tempfile::Builder::new()
            .prefix("minotaur-box.")
            .tempdir_in("/var/tmp")
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        for sub in ["etc-upper", "etc-work", "state", "www", "tmp"] {
            fs::create_dir(d.join(sub)).map_err(|e| e.to_string())?;
        }
        fs::write(d.join("www/index.html"), WORLD_PAGE).map_err(|e| e.to_string())?;

        let world = spawn_holder(
            d,
            "world",
            &["--net", "--mount", "--pid", "--mount-proc"],
            "",
            "sleep infinity",
        )?;
        let boxed = spawn_holder(
            d,
            "box",
            &[
                "--net",
                "--mount",
                "--uts",
                "--ipc",
                "--pid",
                "--mount-proc",
            ],
            &format!(
                r#"
for m in $(awk '$5 ~ "^/run/" {{print $5}}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null; done
mountpoint -q /run && umount -l /run
mount --make-rshared /
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/systemd/resolve
echo 'nameserver {WORLD_DNS}' > /run/systemd/resolve/resolv.conf
mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/etc-upper,workdir={d}/etc-work /etc
rm -f /etc/resolv.conf
printf 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n' > /etc/resolv.conf
mkdir -p {d}/bindir
mount --bind {bindir} {d}/bindir
mount --bind {d}/tmp /tmp
mkdir -p {bindir}
mount --bind {d}/bindir {bindir}
hostname minotaur-box
ip link set lo up
"#,
                d = d.display(),
                bindir = bin.parent().unwrap_or(Path::new("/")).display(),
            ),
            // The box's init reaps orphans, as a real host's init does.
            REAPER,
        )?;
        let mut host = TestHost {
            dir,
            bin: bin.to_owned(),
            boxed,
            world,
            connect_cgroup: None,
        };
        host.connect_cgroup = match v2_root() {
            Some(root) => {
                let cg = root.join(host.cgroup_parent()).join("connect");
                fs::create_dir_all(&cg).map_err(|e| format!("create {}: {e}", cg.display()))?;
                Some(cg)
            }
            None => None,
        };
        host.wire()?;
        Ok(host)
    }

    fn wire(&self) -> Result<(), String> {
        let w = self.world.init;
        // Only the box's network namespace is joined here, so `ip` still sees the host's /proc and can name
        // the world by its host PID; the link is made inside the box, never on the host.
        run_checked(
            Command::new("nsenter")
                .args(["-t", &self.boxed.init.to_string(), "-n", "--"])
                .args([
                    "ip",
                    "link",
                    "add",
                    "uplink0",
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "wan0",
                    "netns",
                    &w.to_string(),
                ]),
        )?;
        self.sh_checked(&format!(
            "ip addr add {BOX_UPLINK}/30 dev uplink0
             ip link set uplink0 up
             ip route add default via {WORLD_UPLINK}
             echo 1 > /proc/sys/net/ipv4/ip_forward"
        ))?;
        let d = self.dir.path().display();
        run_checked(world_cmd(w).args([
            "sh",
            "-ec",
            &format!(
                "ip link set lo up
             ip addr add {WORLD_DNS}/32 dev lo
             ip addr add {WORLD_HTTP}/32 dev lo
             ip addr add {WORLD_UPLINK}/30 dev wan0
             ip link set wan0 up
             ip route add 198.18.0.0/15 via {BOX_UPLINK}"
            ),
        ]))?;
        // Servers run in the world's PID namespace and die with it.
        spawn_bg(world_cmd(w).args([
            "dnsmasq",
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--pid-file",
            "--user=root",
            &format!("--listen-address={WORLD_DNS}"),
            &format!("--host-record={WORLD_NAME},{WORLD_HTTP}"),
        ]))?;
        spawn_bg(world_cmd(w).args([
            "busybox",
            "httpd",
            "-f",
            "-p",
            &format!("{WORLD_HTTP}:80"),
            "-h",
            &format!("{d}/www"),
        ]))?;
        // The box's systemd-resolved stand-in: a stub on 127.0.0.53 that forwards upstream.
        spawn_bg(self.command("dnsmasq").args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--pid-file",
            "--user=root",
            "--listen-address=127.0.0.53",
            &format!("--server={WORLD_DNS}"),
        ]))?;
        wait_listening(w, WORLD_DNS, 53, "udp")?;
        wait_listening(w, WORLD_HTTP, 80, "tcp")?;
        wait_listening(self.boxed.init, "127.0.0.53", 53, "udp")?;
        Ok(())
    }

    /// The cgroup (relative to the cgroup root) under which this box's containers get theirs. The cgroup
    /// filesystem is the real host's: a per-box parent lets the box remove whatever its containers left.
    pub fn cgroup_parent(&self) -> String {
        let name = self
            .dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("minotaur-test/{name}")
    }

    /// The temporary directory that holds this box's files (state, overlay upper layer, scratch).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The host PID of the box's PID-namespace init; `/proc/<pid>/ns/*` are the box's namespaces.
    pub fn pid(&self) -> i32 {
        self.boxed.init
    }

    /// The host PID of the world's PID-namespace init.
    pub fn world_pid(&self) -> i32 {
        self.world.init
    }

    /// The box's cgroup v2 directory for the engine's connect4 program: a process of the box that joins it
    /// (`echo $$ > DIR/cgroup.procs`) connects straight to containers' published loopback ports; other
    /// processes go through the DNAT. `None` on a host without cgroup v2.
    pub fn connect_cgroup(&self) -> Option<&Path> {
        self.connect_cgroup.as_deref()
    }

    /// A command that runs `program` inside the box, with minotaur's state in the box's own directories.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.args([
            "-t",
            &self.boxed.init.to_string(),
            "-n",
            "-m",
            "-u",
            "-i",
            "-p",
            "--",
        ])
        .arg(program)
        .env("MINOTAUR_ROOT", self.dir.path().join("state"))
        .env("MINOTAUR_RUNROOT", "/run/minotaur")
        .env("MINOTAUR_CGROUP_PARENT", self.cgroup_parent())
        .env(
            "MINOTAUR_CONNECT_CGROUP",
            self.connect_cgroup.as_deref().unwrap_or(Path::new("none")),
        )
        .env("TMPDIR", "/tmp")
        .stdin(Stdio::null());
        c
    }

    /// A command that runs the minotaur binary under test inside the box.
    pub fn minotaur(&self) -> Command {
        self.command(&self.bin)
    }

    /// Runs minotaur with `args` in the box and returns what it did.
    pub fn mino(&self, args: &[&str]) -> Output {
        self.minotaur()
            .args(args)
            .output()
            .expect("running minotaur")
    }

    /// Runs a shell script in the box and returns what it did.
    pub fn sh(&self, script: &str) -> Output {
        self.command("sh")
            .args(["-c", script])
            .output()
            .expect("running sh")
    }

    /// Runs a shell script in the box; panics with its stderr when it fails. Returns its stdout.
    pub fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "script failed ({}): {script}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Makes the box a cgroup v2 host: the unified hierarchy mounted over its `/sys/fs/cgroup` (on a hybrid
    /// host the one its `unified` mount has, without controllers). False, having printed "skipped: why",
    /// when the kernel has no cgroup2 to mount.
    pub fn as_cgroup2_host(&self) -> bool {
        let mounted = self
            .sh("grep -qw cgroup2 /proc/filesystems && mount -t cgroup2 cgroup2 /sys/fs/cgroup")
            .status
            .success();
        if !mounted {
            eprintln!("skipped: no cgroup v2 hierarchy to mount");
        }
        mounted
    }

    fn sh_checked(&self, script: &str) -> Result<(), String> {
        run_checked(self.command("sh").args(["-ec", script]))
    }

    /// Runs a shell script in the world's namespaces; panics when it fails. Returns its stdout.
    pub fn world_sh_ok(&self, script: &str) -> String {
        let out = world_cmd(self.world.init)
            .args(["sh", "-c", script])
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "world script failed: {script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Why this machine cannot run a test host, if it cannot.
fn cannot_run() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root".into());
    }
    for tool in TOOLS {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        if !found {
            return Some(format!("needs {tool} (see .ci/run for the packages)"));
        }
    }
    None
}

fn world_cmd(init: i32) -> Command {
    let mut c = Command::new("nsenter");
    c.args(["-t", &init.to_string(), "-n", "-m", "-p", "--"])
        .stdin(Stdio::null());
    c
}

/// Starts `unshare --fork --kill-child FLAGS` running `setup` and then `init` (which runs forever), and waits
/// until the setup is done. Returns the unshare process and the host PID of the namespace's init.
fn spawn_holder(
    dir: &Path,
    name: &str,
    flags: &[&str],
    setup: &str,
    init: &str,
) -> Result<Holder, String> {
    let ready = dir.join(format!("{name}.ready"));
    let script = format!("set -e\n{setup}\ntouch {}\nexec {init}\n", ready.display());
    let unshare = Command::new("unshare")
        .args(flags)
        .args([
            "--propagation",
            "private",
            "--fork",
            "--kill-child",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("unshare: {e}"))?;
    let pid = unshare.id();
    let mut holder = Holder { unshare, init: 0 };
    wait_until(&format!("{name} to come up"), || {
        if let Ok(Some(status)) = holder.unshare.try_wait() {
            return Err(format!("{name} setup failed: {status}"));
        }
        Ok(ready.exists())
    })?;
    let children = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map_err(|e| e.to_string())?;
    holder.init = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("{name}: no init under unshare {pid}"))?;
    Ok(holder)
}

fn spawn_bg(cmd: &mut Command) -> Result<(), String> {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("{cmd:?}: {e}"))
}

fn run_checked(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Waits until a socket in `pid`'s network namespace listens on `addr:port` (read from /proc/PID/net).
fn wait_listening(pid: i32, addr: &str, port: u16, proto: &str) -> Result<(), String> {
    let ip: std::net::Ipv4Addr = addr.parse().map_err(|_| format!("bad address {addr}"))?;
    // /proc/net/{tcp,udp} print the address as the host-order u32 of the network-order bytes.
    let want = format!("{:08X}:{:04X}", u32::from_ne_bytes(ip.octets()), port);
    wait_until(&format!("{addr}:{port}/{proto} to listen"), || {
        let table = fs::read_to_string(format!("/proc/{pid}/net/{proto}")).unwrap_or_default();
        Ok(table
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some(want.as_str())))
    })
}

/// Polls `ready` every few milliseconds for up to 10 seconds.
pub fn wait_until(
    what: &str,
    mut ready: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if ready()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(format!("timed out waiting for {what}"))
}
