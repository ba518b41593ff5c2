//! End-to-end tests of `exec`, each inside a throwaway test host: a container is started by the test runner
//! `minotaur-runtime-run` in the background, and more processes are exec'd into it by the same runner's
//! `--exec PID` mode (a separate process, as `minotaur exec` is), checked from inside by shell scripts that
//! compare what they see with what the container's PID 1 sees.

use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use minotaur_testhost::TestHost;
use serde_json::{json, Value};

const RUN: &str = env!("CARGO_BIN_EXE_minotaur-runtime-run");

fn host() -> Option<TestHost> {
    TestHost::new(RUN)
}

/// A unique cgroup parent for one test (cgroups live in the real host's cgroupfs).
fn cgroup_parent() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "minotaur-test-exec.{}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A container whose PID 1 writes a marker into its private /tmp and sleeps, with a link `probe0` that a
/// hook added to its network namespace between create and start (where the engine sets up the network).
struct Container {
    runner: Child,
    bundle: PathBuf,
    pid: String,
    parent: String,
    /// The box's init, to kill PID 1 from inside the box if a test fails before [`Container::stop`].
    box_pid: i32,
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.runner.try_wait().is_ok_and(|s| s.is_none()) {
            let _ = std::process::Command::new("nsenter")
                .args([
                    "-t",
                    &self.box_pid.to_string(),
                    "-p",
                    "-m",
                    "kill",
                    "-KILL",
                    &self.pid,
                ])
                .status();
            let _ = self.runner.wait();
        }
    }
}

impl Container {
    fn start(h: &TestHost, name: &str) -> Container {
        Container::start_with(h, name, json!({"pids": {"limit": 100}}))
    }

    /// [`Container::start`] with the spec's `linux.resources`.
    fn start_with(h: &TestHost, name: &str, resources: Value) -> Container {
        let args: Vec<String> = ["sh", "-c", "echo from pid 1 > /tmp/marker; exec sleep 1000"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut spec = minotaur_runtime::defaults::default_spec(&args);
        minotaur_runtime::defaults::use_host_root(&mut spec);
        let mut spec: Value = serde_json::to_value(spec).unwrap();
        spec["hostname"] = json!("execbox");
        let parent = cgroup_parent();
        spec["linux"]["cgroupsPath"] = json!(format!("/{parent}/{name}"));
        spec["linux"]["resources"] = resources;
        let bundle = h.dir().join(name);
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
        let pidfile = bundle.join("pid");
        let hook = format!(
            "nsenter -t $CONTAINER_PID -n ip link add probe0 type veth peer name probe1; echo $CONTAINER_PID > {}",
            pidfile.display()
        );
        let mut runner = h
            .command(RUN)
            .args(["--hook", &hook])
            .arg(&bundle)
            .stdout(Stdio::null())
            .spawn()
            .expect("starting minotaur-runtime-run");
        let mut pid = String::new();
        minotaur_testhost::wait_until("the container's PID 1 and its marker", || {
            if let Some(status) = runner.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("the runner exited: {status}"));
            }
            pid = std::fs::read_to_string(&pidfile)
                .unwrap_or_default()
                .trim()
                .to_string();
            Ok(!pid.is_empty()
                && h.sh(&format!("test -s /proc/{pid}/root/tmp/marker"))
                    .status
                    .success())
        })
        .unwrap();
        Container {
            runner,
            bundle,
            pid,
            parent,
            box_pid: h.pid(),
        }
    }

    /// Runs `cmd` in the container with the runner's `--exec` and the extra flags.
    fn exec(&self, h: &TestHost, flags: &[&str], cmd: &[&str]) -> Output {
        h.command(RUN)
            .args(["--exec", &self.pid])
            .args(flags)
            .arg(&self.bundle)
            .args(cmd)
            .output()
            .expect("running minotaur-runtime-run --exec")
    }

    /// Kills PID 1 (by its PID, which this test started) and waits for the runner to clean up.
    fn stop(mut self, h: &TestHost) {
        h.sh_ok(&format!("kill -KILL {}", self.pid));
        let status = self.runner.wait().unwrap();
        assert_eq!(status.code(), Some(137), "runner: {status}");
        for sub in ["memory/", "pids/", "cpu/", ""] {
            let p = format!("/sys/fs/cgroup/{sub}{}", self.parent);
            assert!(!std::path::Path::new(&p).exists(), "{p} left behind");
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Run by the exec'd shell: everything it sees must be what the container's PID 1 sees.
const CHECKER: &str = r#"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(cat /proc/sys/kernel/hostname)" = execbox ] || fail "hostname $(cat /proc/sys/kernel/hostname)"
[ "$(tr '\0' ' ' < /proc/1/cmdline)" = "sleep 1000 " ] || fail "pid 1 is $(tr '\0' ' ' < /proc/1/cmdline)"
[ "$$" -gt 1 ] && [ "$$" -lt 100 ] || fail "pid $$ is not in the container's PID namespace"
[ "$(cat /tmp/marker)" = "from pid 1" ] || fail "no marker of pid 1 in /tmp"
[ "$(cat /proc/1/mountinfo)" = "$(cat /proc/$$/mountinfo)" ] || fail "mounts differ from pid 1's"
grep -q "probe0:" /proc/$$/net/dev || fail "no probe0 in $(cat /proc/$$/net/dev)"
for f in CapEff CapPrm CapBnd CapInh CapAmb Seccomp Seccomp_filters NoNewPrivs; do
    [ "$(grep "^$f:" /proc/1/status)" = "$(grep "^$f:" /proc/$$/status)" ] ||
        fail "$(grep "^$f:" /proc/$$/status), pid 1 has $(grep "^$f:" /proc/1/status)"
done
grep -q "^CapEff:[[:space:]]*00000000a80425fb$" /proc/$$/status || fail "$(grep CapEff /proc/$$/status)"
grep -q "^Seccomp:[[:space:]]*2$" /proc/$$/status || fail "$(grep Seccomp: /proc/$$/status)"
[ "$(cat /proc/1/cgroup)" = "$(cat /proc/$$/cgroup)" ] || fail "cgroups $(cat /proc/$$/cgroup), pid 1 has $(cat /proc/1/cgroup)"
grep -q "^SigIgn:[[:space:]]*0*$" /proc/$$/status || fail "$(grep SigIgn /proc/$$/status)"
[ "$(pwd)" = / ] || fail "cwd $(pwd)"
[ "$(id -u)" = 0 ] || fail "uid $(id -u)"
# Listed by a child shell, so that this shell holds no descriptor for the redirection.
sh -c "ls /proc/$$/fd > /tmp/fds.$$"
[ "$(tr '\n' ' ' < /tmp/fds.$$)" = "0 1 2 " ] || fail "open descriptors: $(ls -l /proc/$$/fd)"
echo checked
"#;

#[test]
fn exec_joins_the_containers_namespaces_cgroup_and_confinement() {
    let Some(h) = host() else { return };
    let c = Container::start(&h, "joined");
    // --leak-fd: the exec caller holds a descriptor without close-on-exec; the checker must not see it.
    // --block-signals: the caller blocks SIGUSR1 (and ignores SIGPIPE, as Rust programs do).
    let out = c.exec(
        &h,
        &["--leak-fd", "--block-signals"],
        &["sh", "-c", CHECKER],
    );
    assert!(
        out.status.success(),
        "checker failed ({}):\n{}",
        out.status,
        stderr(&out)
    );
    assert!(stdout(&out).contains("checked"));
    // The shell clears its signal mask itself, so the mask is checked by a program that does not.
    let out = c.exec(
        &h,
        &["--block-signals"],
        &["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"],
    );
    assert_eq!(
        stdout(&out),
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
        "{}",
        stderr(&out)
    );
    // The same namespaces as util-linux's nsenter joins for the container's PID 1.
    let ns = "for n in cgroup ipc mnt net pid uts; do readlink /proc/self/ns/$n; done";
    let ours = c.exec(&h, &[], &["sh", "-c", ns]);
    let theirs = h.sh_ok(&format!("nsenter -t {} -a sh -c '{ns}'", c.pid));
    assert_eq!(stdout(&ours), theirs, "{}", stderr(&ours));
    assert_ne!(
        theirs,
        h.sh_ok(ns),
        "the container shares the box's namespaces"
    );
    // The marker is in the container's own /tmp, not the box's.
    assert!(!h.sh("test -e /tmp/marker").status.success());
    c.stop(&h);
}

/// On a cgroup v2 host the exec'd process is born in the container's cgroup (clone3 into its directory)
/// instead of moving there: the checker finds it in PID 1's cgroup, namespaces and confinement all the same.
/// The box's `/sys/fs/cgroup` becomes the unified hierarchy (on a hybrid host without controllers, so the
/// container asks for no limits).
#[test]
fn on_cgroup_v2_exec_is_born_in_the_containers_cgroup() {
    let Some(h) = host() else { return };
    if !h.as_cgroup2_host() {
        return;
    }
    let c = Container::start_with(&h, "joined-v2", json!({}));
    let parent = c.parent.clone();
    let out = c.exec(&h, &[], &["sh", "-c", CHECKER]);
    let pid1 = h.sh_ok(&format!("cat /proc/{}/cgroup", c.pid));
    c.stop(&h);
    let left = h
        .sh(&format!("test -e /sys/fs/cgroup/{parent}"))
        .status
        .success();
    let _ = h.sh(&format!(
        "rmdir /sys/fs/cgroup/{parent}/joined-v2 /sys/fs/cgroup/{parent}"
    ));
    assert!(
        out.status.success(),
        "checker failed ({}):\n{}",
        out.status,
        stderr(&out)
    );
    assert!(stdout(&out).contains("checked"));
    assert!(
        pid1.lines().any(|l| l == format!("0::/{parent}/joined-v2")),
        "PID 1 is not in its v2 cgroup: {pid1}"
    );
    assert!(!left, "the v2 cgroup {parent} was left behind");
}

#[test]
fn exec_exit_codes_errors_workdir_user_and_terminal() {
    let Some(h) = host() else { return };
    let c = Container::start(&h, "options");

    let out = c.exec(&h, &[], &["sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));

    let out = c.exec(&h, &[], &["no-such-program-on-path"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("exec no-such-program-on-path") && stderr(&out).contains("ENOENT"),
        "{}",
        stderr(&out)
    );

    // A file that exists and is not executable (the box's directory is under the host root the container sees).
    let file = h.dir().join("not-executable");
    std::fs::write(&file, "#!/bin/sh\n").unwrap();
    let out = c.exec(&h, &[], &[file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(stderr(&out).contains("EACCES"), "{}", stderr(&out));

    // A working directory that does not exist in the container is an engine error, named.
    let out = c.exec(&h, &["--cwd", "/no/such/dir"], &["true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("chdir /no/such/dir"),
        "{}",
        stderr(&out)
    );

    // -w: relative to the container's root, which is not the caller's (/tmp here is the container's tmpfs).
    let out = c.exec(&h, &["--cwd", "/tmp"], &["sh", "-c", "pwd; cat marker"]);
    assert_eq!(stdout(&out), "/tmp\nfrom pid 1\n", "{}", stderr(&out));

    // -u: the user and its group, still in the container.
    let out = c.exec(
        &h,
        &["--user", "65534:65534"],
        &[
            "sh",
            "-c",
            "echo $(id -u):$(id -g) $(grep -c . /tmp/marker)",
        ],
    );
    assert_eq!(stdout(&out), "65534:65534 1\n", "{}", stderr(&out));

    // -t: a pty of the container's devpts is the process's controlling terminal.
    let out = c.exec(
        &h,
        &["--tty"],
        &["sh", "-c", "tty; [ -t 0 ] && echo interactive"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("/dev/pts/") && text.contains("interactive"),
        "{text}"
    );
    c.stop(&h);
}
