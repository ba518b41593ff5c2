//! Hooks: every kind in the runtime-spec's order, with the state on stdin, and failures that stop or do not stop
//! the ones after them.

use super::*;

/// startContainer hooks were not run. They run in the container's namespaces (its root, its hostname),
/// after start and before the process, with the state on stdin.
#[test]
fn start_container_hooks_run_inside_the_container_before_its_process() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b-start-hook", |spec| {
        spec["hostname"] = Value::String("inside".into());
        spec["process"]["args"] = serde_json::json!(["echo", "process"]);
        spec["hooks"] = serde_json::json!({
            "startContainer": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", "cat; echo; cat /proc/sys/kernel/hostname"],
            }],
        });
    });
    let out = runc(&h, &["run", "--bundle", s(&b), "sh1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let st: Value = serde_json::from_str(lines.next().unwrap_or_default()).unwrap();
    assert_eq!(st["id"], "sh1", "{text}");
    assert_eq!(st["status"], "created", "{text}");
    assert_eq!(lines.next(), Some("inside"), "{text}");
    assert_eq!(lines.next(), Some("process"), "{text}");

    // A failing one fails the start: the process never runs.
    let b = bundle(&h, "b-start-hook-fail", |spec| {
        spec["process"]["args"] = serde_json::json!(["echo", "process"]);
        spec["hooks"] = serde_json::json!({"startContainer": [{"path": "/bin/false"}]});
    });
    let out = runc(&h, &["run", "--bundle", s(&b), "sh2"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("process"));
}

#[test]
fn hooks_get_the_state_on_stdin() {
    let Some(h) = host() else { return };
    let out = h.dir().join("hooks");
    std::fs::create_dir(&out).unwrap();
    let hook = |name: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}/{name}.json", out.display())],
        })
    };
    let b = bundle(&h, "b3", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        spec["hooks"] = serde_json::json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    let read = |name: &str| -> Value {
        let path = out.join(format!("{name}.json"));
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}")))
            .unwrap()
    };
    ok(&h, &["create", "--bundle", s(&b), "h1"]);
    for name in ["prestart", "createRuntime"] {
        let st = read(name);
        assert_eq!(st["id"], "h1", "{name}: {st}");
        assert_eq!(st["status"], "created", "{name}: {st}");
        assert!(st["pid"].as_i64().unwrap() > 0, "{name}: {st}");
        assert_eq!(st["bundle"], s(&b), "{name}: {st}");
    }
    assert!(
        !out.join("poststart.json").exists(),
        "poststart ran at create"
    );
    ok(&h, &["start", "h1"]);
    assert_eq!(read("poststart")["status"], "running");
    ok(&h, &["delete", "--force", "h1"]);
    let st = read("poststop");
    assert_eq!(st["id"], "h1");
    assert_eq!(st["status"], "stopped");

    // A process that exits at once: poststart is still told it was started, running, with its PID (it was
    // told "stopped" and PID 0).
    let b = bundle(&h, "b3-quick", |spec| {
        spec["process"]["args"] = serde_json::json!(["true"]);
        spec["hooks"] = serde_json::json!({
            "poststart": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", format!("cat > {}/quick.json", out.display())],
            }],
        });
    });
    ok(&h, &["create", "--bundle", s(&b), "h3"]);
    let pid = state(&h, "h3")["pid"].as_i64().unwrap();
    ok(&h, &["start", "h3"]);
    let st = read("quick");
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"].as_i64(), Some(pid), "{st}");
    ok(&h, &["delete", "h3"]);

    // A failing createRuntime hook fails the create and leaves nothing.
    let b = bundle(&h, "b4", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        spec["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/false"}]});
    });
    let res = runc(&h, &["create", "--bundle", s(&b), "h2"]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("createRuntime hook /bin/false"), "{err}");
    assert!(
        !runc(&h, &["state", "h2"]).status.success(),
        "a failed create left h2"
    );
}

/// createContainer hooks were not run. Every kind runs once, in the runtime spec's order, each told the
/// state it should be: createContainer in the container's mount namespace before pivot_root (the caller's
/// paths resolve), startContainer inside the container, both with the PID as the container sees it.
#[test]
fn every_hook_kind_runs_in_the_spec_s_order_with_its_state() {
    let Some(h) = host() else { return };
    let out = h.dir().join("hook-order");
    std::fs::create_dir(&out).unwrap();
    // A hook appends its name and its mount namespace to `order`, and keeps its stdin as NAME.json. Before
    // pivot_root, the caller's path to `out` works; after it, the container's bind of it at /out.
    let hook = |name: &str, dir: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!(
                "cat > {dir}/{name}.json; echo {name} $(readlink /proc/self/ns/mnt) >> {dir}/order"
            )],
        })
    };
    let host_dir = s(&out).to_owned();
    let b = bundle(&h, "b-hook-order", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "destination": "/out", "type": "bind", "source": host_dir, "options": ["rbind"],
            }));
        spec["annotations"] = serde_json::json!({"org.example": "hooks"});
        spec["hooks"] = serde_json::json!({
            "prestart": [hook("prestart", &host_dir)],
            "createRuntime": [hook("createRuntime", &host_dir)],
            "createContainer": [hook("createContainer", &host_dir)],
            "startContainer": [hook("startContainer", "/out")],
            "poststart": [hook("poststart", &host_dir)],
            "poststop": [hook("poststop", &host_dir)],
        });
    });
    ok(&h, &["create", "--bundle", s(&b), "order"]);
    let pid = state(&h, "order")["pid"].as_i64().unwrap();
    let container_ns = h.sh_ok(&format!("readlink /proc/{pid}/ns/mnt"));
    ok(&h, &["start", "order"]);
    ok(&h, &["delete", "--force", "order"]);
    let runtime_ns = h.sh_ok("readlink /proc/self/ns/mnt");
    let order = std::fs::read_to_string(out.join("order")).unwrap();
    let seen: Vec<(&str, &str)> = order.lines().map(|l| l.split_once(' ').unwrap()).collect();
    let names: Vec<&str> = seen.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ],
        "{order}"
    );
    for (name, ns) in seen {
        let want = match name {
            "createContainer" | "startContainer" => container_ns.trim(),
            _ => runtime_ns.trim(),
        };
        assert_eq!(ns, want, "{name} ran in the wrong mount namespace");
    }
    for (name, status, want_pid) in [
        ("prestart", "created", pid),
        ("createRuntime", "created", pid),
        ("createContainer", "created", 1),
        ("startContainer", "created", 1),
        ("poststart", "running", pid),
        ("poststop", "stopped", -1),
    ] {
        let st: Value =
            serde_json::from_slice(&std::fs::read(out.join(format!("{name}.json"))).unwrap())
                .unwrap();
        assert_eq!(st["id"], "order", "{name}: {st}");
        assert_eq!(st["status"], status, "{name}: {st}");
        assert_eq!(st["bundle"], s(&b), "{name}: {st}");
        assert_eq!(st["annotations"]["org.example"], "hooks", "{name}: {st}");
        assert!(st["ociVersion"].is_string(), "{name}: {st}");
        if want_pid >= 0 {
            assert_eq!(st["pid"].as_i64(), Some(want_pid), "{name}: {st}");
        }
    }

    // A failing createContainer hook fails the create: no container, no process.
    let b = bundle(&h, "b-hook-order-fail", |spec| {
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        spec["hooks"] = serde_json::json!({"createContainer": [{"path": "/bin/false"}]});
    });
    let res = runc(&h, &["create", "--bundle", s(&b), "order-fail"]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("createContainer hook /bin/false"), "{err}");
    assert!(!runc(&h, &["state", "order-fail"]).status.success());
}

/// A failing poststart or poststop hook stopped the ones after it (runtime-tools' `poststart_fail` and
/// `poststop_fail`): the spec makes it a warning after which "the remaining hooks and lifecycle continue as
/// if the hook had succeeded".
#[test]
fn a_failing_poststart_or_poststop_hook_does_not_stop_the_ones_after_it() {
    let Some(h) = host() else { return };
    let out = h.dir().join("after-failing-hooks");
    let after = |name: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo {name} >> {}", out.display())],
        })
    };
    let b = bundle(&h, "b-failing-hooks", |spec| {
        spec["process"]["args"] = serde_json::json!(["true"]);
        spec["hooks"] = serde_json::json!({
            "poststart": [{"path": "/bin/false"}, after("poststart")],
            "poststop": [{"path": "/bin/false"}, after("poststop")],
        });
    });
    ok(&h, &["create", "--bundle", s(&b), "failing-hooks"]);
    let start = runc(&h, &["start", "failing-hooks"]);
    assert!(
        start.status.success(),
        "a failing poststart hook failed start"
    );
    let warning = String::from_utf8_lossy(&start.stderr);
    assert!(warning.contains("poststart hook /bin/false"), "{warning}");
    wait_status(&h, "failing-hooks", "stopped");
    let delete = runc(&h, &["delete", "failing-hooks"]);
    assert!(
        delete.status.success(),
        "a failing poststop hook failed delete"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "poststart\npoststop\n"
    );
}
