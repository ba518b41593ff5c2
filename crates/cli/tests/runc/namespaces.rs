//! Namespaces given by path or not made: a joined UTS namespace, a user namespace's mappings, and a mount
//! namespace shared with the caller or joined by path.

use super::*;

/// A hostname with a UTS namespace given by path was refused ("needs a new uts namespace"); runc sets it
/// in the joined namespace, and the spec forbids it only with the caller's own.
#[test]
fn a_hostname_is_set_in_a_uts_namespace_joined_by_path() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b-uts-owner", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    ok(&h, &["run", "--detach", "--bundle", s(&b), "uts-owner"]);
    let pid = state(&h, "uts-owner")["pid"].as_i64().unwrap();
    let b = bundle(&h, "b-uts-joiner", |spec| {
        spec["hostname"] = Value::String("joined".into());
        let namespaces = spec["linux"]["namespaces"].as_array_mut().unwrap();
        for ns in namespaces.iter_mut() {
            if ns["type"] == "uts" {
                ns["path"] = Value::String(format!("/proc/{pid}/ns/uts"));
            }
        }
        spec["process"]["args"] = serde_json::json!(["cat", "/proc/sys/kernel/hostname"]);
    });
    let out = runc(&h, &["run", "--bundle", s(&b), "uts-joiner"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "joined\n");
    // The owner sees the name set in its namespace.
    assert_eq!(
        h.sh_ok(&format!(
            "nsenter -t {pid} -u cat /proc/sys/kernel/hostname"
        )),
        "joined\n"
    );
    ok(&h, &["delete", "--force", "uts-owner"]);
}

#[test]
fn a_user_namespace_maps_the_containers_root_to_the_spec_s_host_ids() {
    let Some(h) = host() else { return };
    let shared = h.dir().join("userns-out");
    std::fs::create_dir(&shared).unwrap();
    let b = bundle(&h, "b9", |spec| {
        spec["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map > /out/maps; echo made > /out/file; sleep 1000"
        ]);
        spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        spec["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        spec["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "destination": "/out", "type": "bind", "source": s(&shared), "options": ["rbind"],
            }));
    });
    // The root and the shared directory belong to the namespace's root, as an image unpacked for it would.
    h.sh_ok(&format!(
        "mkdir -p {r}/proc {r}/dev {r}/sys {r}/tmp {r}/out && chown -R 200000:300000 {r} {o}",
        r = b.join("rootfs").display(),
        o = shared.display()
    ));
    ok(&h, &["create", "--bundle", s(&b), "u1"]);
    ok(&h, &["start", "u1"]);
    wait_until("the container's file", || Ok(shared.join("file").exists())).unwrap();
    let maps = std::fs::read_to_string(shared.join("maps")).unwrap();
    let fields: Vec<&str> = maps.split_whitespace().collect();
    assert_eq!(
        fields,
        ["0", "200000", "65536", "0", "300000", "65536"],
        "{maps}"
    );
    // Written by the container's root: owned on the host by the IDs 0 maps to.
    let meta =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(shared.join("file")).unwrap());
    let gid = std::os::unix::fs::MetadataExt::gid(&std::fs::metadata(shared.join("file")).unwrap());
    assert_eq!((meta, gid), (200000, 300000));
    // exec joins the user namespace too.
    assert_eq!(
        ok(&h, &["exec", "u1", "cat", "/proc/self/uid_map"])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "200000", "65536"]
    );
    let st = state(&h, "u1");
    let pid = st["pid"].as_i64().unwrap();
    let host_uid = h.sh_ok(&format!("awk '/^Uid:/ {{print $2}}' /proc/{pid}/status"));
    assert_eq!(host_uid.trim(), "200000");
    ok(&h, &["delete", "--force", "u1"]);

    // A user namespace without mappings is refused before anything is made.
    let b = bundle(&h, "b10", |spec| {
        spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
    });
    let out = runc(&h, &["create", "--bundle", s(&b), "u2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uidMappings"), "{err}");
    assert!(!runc(&h, &["state", "u2"]).status.success());
}

/// The mount points below `dir` in the mount table `table` (a `/proc/PID/mountinfo`).
fn mounts_below(h: &TestHost, table: &str, dir: &Path) -> Vec<String> {
    h.sh_ok(&format!("cut -d' ' -f5 {table}"))
        .lines()
        .filter(|m| Path::new(m).starts_with(dir))
        .map(str::to_owned)
        .collect()
}

/// Takes the mount namespace out of a spec (and the masked and read-only paths, which need one).
fn without_mount_ns(spec: &mut Value) {
    spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != "mount");
    spec["linux"]["maskedPaths"] = serde_json::json!([]);
    spec["linux"]["readonlyPaths"] = serde_json::json!([]);
}

/// A spec without a mount namespace was refused (runtime-tools' `linux_ns_itype`). The container shares the
/// caller's: its root and mounts are made there, it is chrooted into them, and `delete` takes them away.
#[test]
fn a_container_without_a_mount_namespace_of_its_own_shares_the_callers() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b-itype", |spec| {
        without_mount_ns(spec);
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    let rootfs = b.join("rootfs");
    ok(&h, &["create", "--bundle", s(&b), "itype"]);
    let pid = state(&h, "itype")["pid"].as_i64().unwrap();
    assert_eq!(
        h.sh_ok(&format!("readlink /proc/{pid}/ns/mnt")),
        h.sh_ok("readlink /proc/self/ns/mnt"),
        "the container has a mount namespace of its own"
    );
    assert_eq!(
        h.sh_ok(&format!("readlink /proc/{pid}/root")).trim(),
        s(&rootfs)
    );
    let mounts = mounts_below(&h, "/proc/self/mountinfo", &rootfs);
    assert!(
        mounts.iter().any(|m| Path::new(m) == rootfs.join("proc")),
        "the container's /proc is not in the caller's namespace: {mounts:?}"
    );
    ok(&h, &["start", "itype"]);
    wait_status(&h, "itype", "running");
    // exec runs in the container's root too, not in the namespace's (the caller's) root.
    let ls = ok(&h, &["exec", "itype", "ls", "/"]);
    assert!(
        ls.lines().any(|l| l == "bin") && !ls.lines().any(|l| l == "usr"),
        "exec did not run in the container's root: {ls}"
    );
    ok(&h, &["delete", "--force", "itype"]);
    let left = mounts_below(&h, "/proc/self/mountinfo", &rootfs);
    assert!(left.is_empty(), "delete left mounts: {left:?}");

    // Masked and read-only paths would restrict the namespace's other users: refused, as runc does.
    let b = bundle(&h, "b-itype-masked", |spec| {
        without_mount_ns(spec);
        spec["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore"]);
    });
    let out = runc(&h, &["create", "--bundle", s(&b), "itype-masked"]);
    assert!(
        !out.status.success(),
        "masked paths without a mount namespace"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("masked"), "{err}");
    assert!(mounts_below(&h, "/proc/self/mountinfo", &b).is_empty());

    // A create that fails half-way leaves nothing in the caller's namespace either: before the root is
    // entered (a hook), or in it (a working directory that is not there).
    let b = bundle(&h, "b-itype-fail", |spec| {
        without_mount_ns(spec);
        spec["hooks"] = serde_json::json!({"createContainer": [{"path": "/bin/false"}]});
    });
    let b2 = bundle(&h, "b-itype-cwd", |spec| {
        without_mount_ns(spec);
        spec["process"]["cwd"] = Value::String("/not-there".into());
    });
    for (b, id) in [(b, "itype-fail"), (b2, "itype-cwd")] {
        assert!(!runc(&h, &["create", "--bundle", s(&b), id])
            .status
            .success());
        let left = mounts_below(&h, "/proc/self/mountinfo", &b);
        assert!(left.is_empty(), "a failed create left mounts: {left:?}");
    }
}

/// Joining a mount namespace by path was refused (runtime-tools' `linux_ns_path` "mnt"). The container's
/// mounts are made in the joined namespace and it is chrooted, so the root of the namespace's other
/// processes stays where it was (pivot_root would have moved it); `delete` takes the mounts away.
#[test]
fn a_mount_namespace_joined_by_path_keeps_its_other_processes_root() {
    let Some(h) = host() else { return };
    // A process of the box's in a mount namespace of its own; its PID as the box sees it.
    let mut other = h
        .command("sh")
        .args([
            "-c",
            "unshare --mount --propagation private sleep 1000 >/dev/null & echo $!",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pid = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(other.stdout.take().unwrap()),
        &mut pid,
    )
    .unwrap();
    let pid = pid.trim().to_owned();
    let _ = other.wait();
    let mine = h.sh_ok("readlink /proc/self/ns/mnt");
    wait_until("the other process in its mount namespace", || {
        Ok(h.sh_ok(&format!("readlink /proc/{pid}/ns/mnt")) != mine)
    })
    .unwrap();
    let ns = format!("/proc/{pid}/ns/mnt");
    let b = bundle(&h, "b-mntpath", |spec| {
        for n in spec["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "mount" {
                n["path"] = Value::String(ns.clone());
            }
        }
        spec["linux"]["maskedPaths"] = serde_json::json!([]);
        spec["linux"]["readonlyPaths"] = serde_json::json!([]);
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    let rootfs = b.join("rootfs");
    ok(&h, &["create", "--bundle", s(&b), "mntpath"]);
    let cpid = state(&h, "mntpath")["pid"].as_i64().unwrap();
    assert_eq!(
        h.sh_ok(&format!("readlink /proc/{cpid}/ns/mnt")),
        h.sh_ok(&format!("readlink {ns}"))
    );
    assert_eq!(h.sh_ok(&format!("readlink /proc/{pid}/root")).trim(), "/");
    let table = format!("/proc/{pid}/mountinfo");
    assert!(!mounts_below(&h, &table, &rootfs).is_empty());
    assert!(
        mounts_below(&h, "/proc/self/mountinfo", &rootfs).is_empty(),
        "the container's mounts reached the caller's namespace"
    );
    ok(&h, &["start", "mntpath"]);
    wait_status(&h, "mntpath", "running");
    let ls = ok(&h, &["exec", "mntpath", "ls", "/"]);
    assert!(
        ls.lines().any(|l| l == "bin") && !ls.lines().any(|l| l == "usr"),
        "exec did not run in the container's root: {ls}"
    );
    ok(&h, &["delete", "--force", "mntpath"]);
    let left = mounts_below(&h, &table, &rootfs);
    assert!(left.is_empty(), "delete left mounts: {left:?}");
    h.sh_ok(&format!("kill {pid}"));
}
