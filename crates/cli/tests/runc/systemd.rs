//! `--systemd-cgroup` under a real systemd: one booted in the box (the test host's `boot_systemd`), with the
//! runtime run in its namespaces so that the system bus is systemd's. Each container's cgroup is a transient
//! scope, checked through `systemctl show` and the cgroup files as systemd's namespaces see them.

use super::*;
use minotaur_testhost::systemd::Systemd;

/// Runs `minotaur-runc --systemd-cgroup ARGS` in systemd's namespaces, its state under the box's dir.
fn sd_runc(h: &TestHost, sd: &Systemd, args: &[&str]) -> Output {
    let mut c = sd.command(runc_link(h));
    c.arg("--root")
        .arg(h.dir().join("sd-runc-state"))
        .arg("--systemd-cgroup")
        .args(args);
    run_to_files(h, c)
}

fn sd_ok(h: &TestHost, sd: &Systemd, args: &[&str]) -> String {
    let out = sd_runc(h, sd, args);
    assert!(
        out.status.success(),
        "minotaur-runc --systemd-cgroup {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sd_state(h: &TestHost, sd: &Systemd, id: &str) -> Value {
    serde_json::from_str(&sd_ok(h, sd, &["state", id])).unwrap()
}

/// A file of `scope`'s cgroup in v1 hierarchy `controller` (or the v2 file on a unified host), as systemd's
/// namespaces see it; `None` when it cannot be read.
fn scope_file(sd: &Systemd, scope: &str, controller: &str, v1: &str, v2: &str) -> Option<String> {
    let out = sd
        .command("sh")
        .args([
            "-c",
            &format!(
                "if [ \"$(stat -f -c %T /sys/fs/cgroup)\" = cgroup2fs ]; then cat /sys/fs/cgroup{scope}/{v2}; \
                 else cat /sys/fs/cgroup/{controller}{scope}/{v1}; fi"
            ),
        ])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Whether any of systemd's hierarchies still has a directory for `scope`.
fn scope_dirs(sd: &Systemd, scope: &str) -> String {
    sd.sh_ok(&format!(
        "ls -d /sys/fs/cgroup/*{scope} /sys/fs/cgroup{scope} 2>/dev/null; true"
    ))
}

#[test]
fn systemd_cgroup_makes_updates_and_stops_a_transient_scope() {
    let Some(h) = host() else { return };
    let Some(sd) = h.boot_systemd() else { return };
    let b = bundle(&h, "b-sd", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        spec["linux"]["cgroupsPath"] = Value::String("system.slice:minotaur:sd1".into());
        spec["linux"]["resources"] = serde_json::json!({
            "memory": {"limit": 64u64 << 20},
            "pids": {"limit": 20},
            "cpu": {"quota": 50000, "period": 100000}
        });
    });
    let unit = "minotaur-sd1.scope";
    let scope = "/system.slice/minotaur-sd1.scope";
    sd_ok(&h, &sd, &["create", "--bundle", s(&b), "sd1"]);
    let pid = sd_state(&h, &sd, "sd1")["pid"].as_i64().unwrap();

    // The scope: active, in its slice, delegated, with the init in its cgroup and the spec's limits.
    assert_eq!(sd.show(unit, "ActiveState"), "active");
    assert_eq!(sd.show(unit, "ControlGroup"), scope);
    assert_eq!(sd.show(unit, "Slice"), "system.slice");
    assert_eq!(sd.show(unit, "Delegate"), "yes");
    assert_eq!(sd.show(unit, "MemoryMax"), (64u64 << 20).to_string());
    assert_eq!(sd.show(unit, "TasksMax"), "20");
    assert_eq!(sd.show(unit, "CPUQuotaPerSecUSec"), "500ms");
    let procs = scope_file(&sd, scope, "systemd", "cgroup.procs", "cgroup.procs").unwrap();
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "init {pid} not in the scope: {procs:?}"
    );
    let cgroups = sd.sh_ok(&format!("cat /proc/{pid}/cgroup"));
    for c in [":memory:", ":pids:", ":name=systemd:"] {
        assert!(
            cgroups.lines().any(|l| l.contains(c) && l.ends_with(scope)),
            "{c} of {pid} is not {scope}: {cgroups}"
        );
    }
    assert_eq!(
        scope_file(&sd, scope, "memory", "memory.limit_in_bytes", "memory.max").unwrap(),
        (64u64 << 20).to_string()
    );
    assert_eq!(
        scope_file(&sd, scope, "pids", "pids.max", "pids.max").unwrap(),
        "20"
    );

    sd_ok(&h, &sd, &["start", "sd1"]);
    wait_until("sd1 running", || {
        Ok(sd_state(&h, &sd, "sd1")["status"] == "running")
    })
    .unwrap();
    // exec joins the scope's cgroup (it looked for the cgroupsPath as a directory, podman's exec failed).
    assert_eq!(sd_ok(&h, &sd, &["exec", "sd1", "echo", "in"]), "in\n");
    // The freezer, which systemd does not manage on v1, is the runtime's, at the scope's path.
    sd_ok(&h, &sd, &["pause", "sd1"]);
    assert_eq!(sd_state(&h, &sd, "sd1")["status"], "paused");
    sd_ok(&h, &sd, &["resume", "sd1"]);
    assert_eq!(sd_state(&h, &sd, "sd1")["status"], "running");

    // update: systemd's properties and the files.
    sd_ok(
        &h,
        &sd,
        &["update", "--memory", "32m", "--pids-limit", "30", "sd1"],
    );
    assert_eq!(sd.show(unit, "MemoryMax"), (32u64 << 20).to_string());
    assert_eq!(sd.show(unit, "TasksMax"), "30");
    assert_eq!(
        scope_file(&sd, scope, "memory", "memory.limit_in_bytes", "memory.max").unwrap(),
        (32u64 << 20).to_string()
    );
    assert_eq!(
        scope_file(&sd, scope, "pids", "pids.max", "pids.max").unwrap(),
        "30"
    );

    // kill, then delete: the scope is gone, and no cgroup of it is left in any hierarchy.
    sd_ok(&h, &sd, &["kill", "sd1", "KILL"]);
    wait_until("sd1 stopped", || {
        Ok(sd_state(&h, &sd, "sd1")["status"] == "stopped")
    })
    .unwrap();
    sd_ok(&h, &sd, &["delete", "sd1"]);
    assert!(!sd_runc(&h, &sd, &["state", "sd1"]).status.success());
    assert_eq!(sd.show(unit, "LoadState"), "not-found");
    assert_eq!(scope_dirs(&sd, scope), "");

    // delete --force of a running container stops its scope, which takes its processes with it.
    let b2 = bundle(&h, "b-sd2", |spec| {
        spec["process"]["args"] = serde_json::json!(["sh", "-c", "sleep 1000 & sleep 1000"]);
        spec["linux"]["cgroupsPath"] = Value::String("machine.slice:minotaur:sd2".into());
    });
    sd_ok(&h, &sd, &["run", "--detach", "--bundle", s(&b2), "sd2"]);
    let unit2 = "minotaur-sd2.scope";
    assert_eq!(sd.show(unit2, "ActiveState"), "active");
    assert_eq!(
        sd.show(unit2, "ControlGroup"),
        "/machine.slice/minotaur-sd2.scope"
    );
    // Its two sleeps (the shell may exec the second) are in the scope.
    wait_until("sd2's processes in its scope", || {
        Ok(sd.show(unit2, "TasksCurrent").parse::<u32>().unwrap_or(0) >= 2)
    })
    .unwrap();
    sd_ok(&h, &sd, &["delete", "--force", "sd2"]);
    assert_eq!(sd.show(unit2, "LoadState"), "not-found");
    assert_eq!(scope_dirs(&sd, "/machine.slice/minotaur-sd2.scope"), "");
}

/// Without a cgroupsPath the scope is runc's default with minotaur's prefix; a directory path is refused
/// naming the form it must have, leaving nothing behind.
#[test]
fn systemd_cgroup_defaults_the_scope_and_refuses_a_directory_path() {
    let Some(h) = host() else { return };
    let Some(sd) = h.boot_systemd() else { return };
    let b = bundle(&h, "b-sd3", |spec| {
        spec["process"]["args"] = serde_json::json!(["sh", "-c", "cat /proc/self/cgroup; exit 4"]);
        let linux = spec["linux"].as_object_mut().unwrap();
        linux.remove("cgroupsPath");
        // In the caller's cgroup namespace, so that its /proc/self/cgroup names the scope.
        linux["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|ns| ns["type"] != "cgroup");
    });
    let out = sd_runc(&h, &sd, &["run", "--bundle", s(&b), "sd3"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cgroups = String::from_utf8_lossy(&out.stdout);
    assert!(
        cgroups
            .lines()
            .any(|l| l.contains(":name=systemd:") || l.starts_with("0::"))
            && cgroups
                .lines()
                .filter(|l| l.contains(":name=systemd:") || l.starts_with("0::"))
                .all(|l| l.ends_with("/system.slice/minotaur-sd3.scope")),
        "{cgroups}"
    );
    // run removed the container, and systemd the scope (its last process exited).
    wait_until("sd3's scope gone", || {
        Ok(sd.show("minotaur-sd3.scope", "LoadState") == "not-found")
    })
    .unwrap();

    let b4 = bundle(&h, "b-sd4", |spec| {
        spec["linux"]["cgroupsPath"] = Value::String("/minotaur/sd4".into());
    });
    let out = sd_runc(&h, &sd, &["create", "--bundle", s(&b4), "sd4"]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("is not systemd's form slice:prefix:name"), "{e}");
    assert!(!sd_runc(&h, &sd, &["state", "sd4"]).status.success());
}
