//! `kube generate`: generate → play → generate is a fixpoint, and `hostUsers: false` both ways.

use super::*;

#[test]
fn generate_play_generate_is_a_fixpoint() {
    let Some(h) = host() else { return };
    import_busybox(&h, "bb", "");
    std::fs::create_dir_all(h.dir().join("srv")).unwrap();
    let srv = h.dir().join("srv").display().to_string();
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "Web_App.1",
            "-p",
            "8080:80",
            "-e",
            "GREETING=hi",
            "-v",
            "data:/data",
            "-v",
            &format!("{srv}:/srv:ro"),
            "--tmpfs",
            "/scratch",
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--cap-add",
            "NET_ADMIN",
            "--health-cmd",
            "true",
            "--health-interval",
            "30s",
            "--restart",
            "always",
            "bb",
            "sleep",
            "1000",
        ],
    );
    let first = ok(&h, &["kube", "generate", "--service", "Web_App.1"]);
    assert!(first.contains("kind: Pod"), "{first}");
    assert!(first.contains("name: web-app-1-pod"), "{first}");
    assert!(first.contains("      name: web-app-1\n"), "{first}");
    assert!(first.contains("kind: Service"), "{first}");
    assert!(first.contains("kind: PersistentVolumeClaim"), "{first}");
    assert!(first.contains("hostPort: 8080"), "{first}");
    assert!(first.contains("memory: 64Mi"), "{first}");
    assert!(first.contains("cpu: 500m"), "{first}");
    let file = write(&h, "first.yaml", &format!("{first}\n"));
    validate(Path::new(&file));

    ok(&h, &["rm", "-f", "Web_App.1"]);
    let played = ok(&h, &["kube", "play", &file]);
    assert!(played.contains("Pod web-app-1-pod"), "{played}");
    assert_eq!(
        names(&h),
        ["web-app-1-pod-infra", "web-app-1-pod-web-app-1"],
        "the pod's containers"
    );
    let c = "web-app-1-pod-web-app-1";
    assert_eq!(ok(&h, &["exec", c, "sh", "-c", "echo $GREETING"]), "hi");
    assert_eq!(
        ok(&h, &["exec", c, "cat", "/proc/sys/kernel/hostname"]),
        "web-app-1-pod"
    );
    // The pod's namespaces are the infra container's.
    let ns = |name: &str, kind: &str| {
        let pid = ok(&h, &["inspect", "--format", "{{.State.Pid}}", name]);
        h.sh_ok(&format!("readlink /proc/{pid}/ns/{kind}"))
    };
    for kind in ["net", "uts", "ipc"] {
        assert_eq!(ns(c, kind), ns("web-app-1-pod-infra", kind), "{kind}");
    }
    assert!(ok(&h, &["port", "web-app-1-pod-infra"]).contains("80/tcp -> 0.0.0.0:8080"));

    let second = ok(&h, &["kube", "generate", "--service", "web-app-1-pod"]);
    assert_eq!(second, first, "generate → play → generate");

    let again = h.mino(&["kube", "play", &file]);
    assert!(!again.status.success(), "a pod that exists is refused");
    ok(&h, &["kube", "play", "--replace", &file]);
    assert_eq!(names(&h).len(), 2);

    ok(&h, &["kube", "play", "--down", &file]);
    assert!(names(&h).is_empty(), "--down leaves no container");
    assert_eq!(
        ok(&h, &["volume", "ls", "-q"]),
        "data",
        "the claim's volume is kept"
    );
}

/// `hostUsers: false` is `--userns=auto` on each of the pod's containers, both ways: `kube generate`
/// writes it for containers that have user namespaces of their own, `kube play` gives them one, and
/// generate → play → generate stays a fixpoint. With the host's namespaces it is refused, as Kubernetes
/// refuses it.
#[test]
fn host_users_false_is_a_user_namespace_per_container() {
    let Some(h) = host() else { return };
    import_busybox(&h, "bb", "");
    h.sh_ok(
        "printf 'containers:100000:200000\\n' > /tmp/subuid; printf 'containers:500000:200000\\n' > /tmp/subgid",
    );
    fn with_ids<'a>(rest: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["--subuid", "/tmp/subuid", "--subgid", "/tmp/subgid"];
        all.extend_from_slice(rest);
        all
    }
    ok(
        &h,
        &with_ids(&[
            "run",
            "-d",
            "--name",
            "app",
            "--userns=auto",
            "bb",
            "sleep",
            "1000",
        ]),
    );
    let first = ok(&h, &["kube", "generate", "app"]);
    assert!(first.contains("  hostUsers: false\n"), "{first}");
    let file = write(&h, "users.yaml", &format!("{first}\n"));
    validate(Path::new(&file));
    ok(&h, &["rm", "-f", "app"]);

    ok(&h, &with_ids(&["kube", "play", &file]));
    let uid_map = |c: &str| {
        let pid = inspect(&h, c, "{{.State.Pid}}");
        h.sh_ok(&format!("cat /proc/{pid}/uid_map"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(uid_map("app-pod-app"), "0 100000 65536");
    assert_eq!(
        inspect(&h, "app-pod-app", "{{.HostConfig.UsernsMode}}"),
        "auto"
    );
    // The infra container only holds the pod's namespaces: the host's IDs. The container shares its
    // network and UTS namespaces, not its IPC one (owned by the host's user namespace).
    assert_eq!(uid_map("app-pod-infra"), "0 0 4294967295");
    let ns = |name: &str, kind: &str| {
        let pid = inspect(&h, name, "{{.State.Pid}}");
        h.sh_ok(&format!("readlink /proc/{pid}/ns/{kind}"))
    };
    for kind in ["net", "uts"] {
        assert_eq!(ns("app-pod-app", kind), ns("app-pod-infra", kind), "{kind}");
    }
    assert_ne!(ns("app-pod-app", "ipc"), ns("app-pod-infra", "ipc"));
    let second = ok(&h, &["kube", "generate", "app-pod"]);
    assert_eq!(second, first, "generate → play → generate");
    ok(&h, &["kube", "play", "--down", &file]);
    assert!(names(&h).is_empty(), "--down leaves no container");

    // Without hostUsers the pod's containers keep the host's IDs.
    let plain = write(&h, "plain.yaml", &first.replace("  hostUsers: false\n", ""));
    ok(&h, &with_ids(&["kube", "play", &plain]));
    assert_eq!(uid_map("app-pod-app"), "0 0 4294967295");
    ok(&h, &["kube", "play", "--down", &plain]);

    let both = write(
        &h,
        "both.yaml",
        &first.replace(
            "  hostUsers: false\n",
            "  hostUsers: false\n  hostNetwork: true\n",
        ),
    );
    let err = fails(&h, &with_ids(&["kube", "play", &both]), 1);
    assert!(
        err.contains("hostUsers: false cannot be combined with hostNetwork"),
        "{err}"
    );
    assert!(names(&h).is_empty(), "a refused pod makes nothing");
}
