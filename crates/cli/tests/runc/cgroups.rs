//! cgroups: `pause`, `resume`, `update` and `events` on the container's cgroup, and `--systemd-cgroup` where systemd does not run.

use super::*;

/// A file of the container's cgroup: `v1` under its controller's hierarchy, or `v2` on a unified host.
fn cgroup_file(cgroup: &str, controller: &str, v1: &str, v2: &str) -> PathBuf {
    let unified = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    let rel = cgroup.trim_start_matches('/');
    if unified {
        Path::new("/sys/fs/cgroup").join(rel).join(v2)
    } else {
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(rel)
            .join(v1)
    }
}

fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_owned()
}

/// Where systemd does not run (the box's PID 1 is not systemd), `--systemd-cgroup` cannot make a scope: the
/// create fails naming why, and leaves no container.
#[test]
fn systemd_cgroup_without_systemd_is_refused_naming_why() {
    let Some(h) = host() else { return };
    if h.sh("test -d /run/systemd/system").status.success() {
        eprintln!("skipped: the box has /run/systemd/system");
        return;
    }
    let b = bundle(&h, "b-nosd", |_| {});
    let out = runc(
        &h,
        &["--systemd-cgroup", "create", "--bundle", s(&b), "nosd"],
    );
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("--systemd-cgroup: systemd is not running here (PID 1 is "),
        "{e}"
    );
    assert!(!runc(&h, &["state", "nosd"]).status.success());
}

#[test]
fn pause_resume_update_and_events_act_on_the_containers_cgroup() {
    let Some(h) = host() else { return };
    let cgroup = format!("/{}/pr1", h.cgroup_parent());
    let out = h.dir().join("ticks");
    std::fs::create_dir(&out).unwrap();
    let b = bundle(&h, "b8", |spec| {
        spec["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "while :; do echo x >> /out/ticks; sleep 0.02; done"
        ]);
        spec["linux"]["cgroupsPath"] = Value::String(cgroup.clone());
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "destination": "/out", "type": "bind", "source": s(&out), "options": ["rbind"],
            }));
    });
    let ticks = || std::fs::metadata(out.join("ticks")).map_or(0, |m| m.len());
    ok(&h, &["create", "--bundle", s(&b), "pr1"]);
    assert!(
        !runc(&h, &["pause", "pr1"]).status.success(),
        "pause of a created container"
    );
    ok(&h, &["start", "pr1"]);
    wait_until("ticks", || Ok(ticks() > 0)).unwrap();

    ok(&h, &["pause", "pr1"]);
    assert_eq!(state(&h, "pr1")["status"], "paused");
    let frozen = cgroup_file(&cgroup, "freezer", "freezer.state", "cgroup.events");
    let text = read_trim(&frozen);
    assert!(
        text == "FROZEN" || text.lines().any(|l| l == "frozen 1"),
        "{}: {text}",
        frozen.display()
    );
    assert!(
        !runc(&h, &["pause", "pr1"]).status.success(),
        "pause of a paused container"
    );
    assert!(
        !runc(&h, &["exec", "pr1", "true"]).status.success(),
        "exec into a paused container"
    );
    ok(&h, &["resume", "pr1"]);
    assert_eq!(state(&h, "pr1")["status"], "running");
    let before = ticks();
    wait_until("ticks after resume", || Ok(ticks() > before)).unwrap();
    assert!(
        !runc(&h, &["resume", "pr1"]).status.success(),
        "resume of a running container"
    );

    // update: runc's flags, then a resources file over them.
    ok(
        &h,
        &[
            "update",
            "--memory",
            "64m",
            "--cpu-period",
            "100000",
            "--cpu-quota",
            "50000",
            "--pids-limit",
            "20",
            "pr1",
        ],
    );
    let mem = cgroup_file(&cgroup, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(read_trim(&mem), (64u64 << 20).to_string());
    let pids = cgroup_file(&cgroup, "pids", "pids.max", "pids.max");
    assert_eq!(read_trim(&pids), "20");
    let cpu = read_trim(&cgroup_file(&cgroup, "cpu", "cpu.cfs_quota_us", "cpu.max"));
    assert!(cpu == "50000" || cpu == "50000 100000", "{cpu}");
    let res = h.dir().join("resources.json");
    std::fs::write(&res, r#"{"pids":{"limit":30}}"#).unwrap();
    ok(&h, &["update", "--resources", s(&res), "pr1"]);
    assert_eq!(read_trim(&pids), "30");
    assert_eq!(read_trim(&mem), (64u64 << 20).to_string(), "memory kept");
    let bad = runc(&h, &["update", "--memory", "lots", "pr1"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--memory lots"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // runc's other flags: a cpuset (its cgroup made when first asked for, the container's processes moved
    // into it), the memory reservation, realtime CPU time (v1 only).
    ok(
        &h,
        &[
            "update",
            "--cpuset-cpus",
            "0",
            "--cpuset-mems",
            "0",
            "--memory-reservation",
            "32m",
            "pr1",
        ],
    );
    let cpus = cgroup_file(&cgroup, "cpuset", "cpuset.cpus", "cpuset.cpus");
    assert_eq!(read_trim(&cpus), "0");
    // The container's init, as its own /proc/PID/cgroup names its cpuset cgroup (v1; v2 has one line).
    let pid = state(&h, "pr1")["pid"].to_string();
    let cgroups = h.sh_ok(&format!("cat /proc/{pid}/cgroup"));
    assert!(
        cgroups
            .lines()
            .any(|l| (l.contains(":cpuset:") || l.starts_with("0::")) && l.ends_with(&cgroup)),
        "{cgroup} in {cgroups}"
    );
    let soft = cgroup_file(
        &cgroup,
        "memory",
        "memory.soft_limit_in_bytes",
        "memory.low",
    );
    assert_eq!(read_trim(&soft), (32u64 << 20).to_string());
    let rt = runc(&h, &["update", "--cpu-rt-period", "500000", "pr1"]);
    let rt_period = cgroup_file(&cgroup, "cpu", "cpu.rt_period_us", "cpu.max");
    if rt_period.ends_with("cpu.rt_period_us") {
        assert!(
            rt.status.success(),
            "{}",
            String::from_utf8_lossy(&rt.stderr)
        );
        assert_eq!(read_trim(&rt_period), "500000");
    } else {
        assert!(String::from_utf8_lossy(&rt.stderr).contains("cgroup v2 has no cpu.rt_period_us"));
    }
    // The block I/O weight, where the kernel has a scheduler that takes one.
    let w = runc(&h, &["update", "--blkio-weight", "500", "pr1"]);
    let weight = cgroup_file(&cgroup, "blkio", "blkio.weight", "io.weight");
    if weight.exists() {
        assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stderr));
    } else {
        let e = String::from_utf8_lossy(&w.stderr);
        assert!(e.contains("the block I/O weight cannot be set: "), "{e}");
    }
    // Refused as runc refuses them, changing nothing.
    for (args, why) in [
        (
            &["--kernel-memory", "1m"][..],
            "kernel memory limits are not supported",
        ),
        (
            &["--l3-cache-schema", "L3:0=f"][..],
            "Intel RDT (resctrl) is not supported",
        ),
        (
            &["--blkio-weight", "5"][..],
            "the weight must be from 10 to 1000",
        ),
    ] {
        let out = runc(
            &h,
            &[&["update"][..], args, &["--memory", "32m", "pr1"][..]].concat(),
        );
        assert!(!out.status.success(), "{args:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(why), "{args:?}: {e}");
    }
    assert_eq!(read_trim(&mem), (64u64 << 20).to_string(), "memory kept");

    // events --stats: one event in runc's shape, with the limits just set.
    let ev: Value = serde_json::from_str(&ok(&h, &["events", "--stats", "pr1"])).unwrap();
    assert_eq!(ev["type"], "stats", "{ev}");
    assert_eq!(ev["id"], "pr1", "{ev}");
    let data = &ev["data"];
    assert!(data["pids"]["current"].as_u64().unwrap() >= 1, "{ev}");
    assert_eq!(data["pids"]["limit"], 30, "{ev}");
    assert_eq!(data["memory"]["usage"]["limit"], 64u64 << 20, "{ev}");
    assert!(
        data["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{ev}"
    );

    // A paused container is deleted with --force (thawed after the SIGKILL, or it would never die).
    ok(&h, &["pause", "pr1"]);
    ok(&h, &["delete", "--force", "pr1"]);
    assert!(!runc(&h, &["state", "pr1"]).status.success());
    assert!(!mem.parent().unwrap().exists(), "cgroup left behind");
}
