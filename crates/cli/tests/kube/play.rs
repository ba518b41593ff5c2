//! `kube play` of ConfigMaps, Secrets, init containers and Deployments, and what it refuses.

use super::*;

#[test]
fn play_runs_config_maps_secrets_init_containers_and_deployments() {
    let Some(h) = host() else { return };
    import_busybox(&h, "bb", "");
    let file = write(
        &h,
        "app.yaml",
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
  app.conf: |
    level=3
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: s3cret
---
apiVersion: v1
kind: Pod
metadata:
  name: app
  labels:
    tier: back
spec:
  restartPolicy: Never
  volumes:
  - name: work
    emptyDir: {}
  - name: conf
    configMap:
      name: settings
  initContainers:
  - name: prepare
    image: bb
    command: ["sh", "-c", "echo prepared > /work/state"]
    volumeMounts:
    - name: work
      mountPath: /work
  containers:
  - name: main
    image: bb
    command: ["sleep", "1000"]
    env:
    - name: MODE
      valueFrom:
        configMapKeyRef: {name: settings, key: mode}
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {name: creds, key: password}
    - name: POD
      valueFrom:
        fieldRef: {fieldPath: metadata.name}
    - name: TIER
      valueFrom:
        fieldRef: {fieldPath: "metadata.labels['tier']"}
    - name: POD_IP
      valueFrom:
        fieldRef: {fieldPath: status.podIP}
    - name: HOST_IP
      valueFrom:
        fieldRef: {fieldPath: status.hostIP}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: settings}
    volumeMounts:
    - name: work
      mountPath: /work
    - name: conf
      mountPath: /etc/app
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: workers
spec:
  replicas: 2
  selector:
    matchLabels: {app: workers}
  template:
    metadata:
      labels: {app: workers}
    spec:
      containers:
      - name: w
        image: bb
        command: ["sleep", "1000"]
"#,
    );

    ok(&h, &["kube", "play", &file]);
    let main = "app-main";
    let env = ok(
        &h,
        &[
            "exec",
            main,
            "sh",
            "-c",
            "echo $MODE $PASSWORD $POD $TIER $CFG_mode",
        ],
    );
    assert_eq!(env, "fast s3cret app back fast");
    let ips = ok(&h, &["exec", main, "sh", "-c", "echo $POD_IP $HOST_IP"]);
    let infra = inspect(
        &h,
        "app-infra",
        "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}}",
    );
    assert_eq!(ips, infra, "status.podIP and status.hostIP");
    assert!(!ips.starts_with(' ') && ips.contains(' '), "{ips}");
    assert_eq!(
        ok(&h, &["exec", main, "cat", "/work/state"]),
        "prepared",
        "the init container ran first"
    );
    assert_eq!(
        ok(&h, &["exec", main, "cat", "/etc/app/app.conf"]),
        "level=3"
    );
    assert_eq!(
        ok(
            &h,
            &[
                "inspect",
                "--format",
                "{{.State.ExitCode}} {{.State.Status}}",
                "app-prepare"
            ]
        ),
        "0 exited"
    );
    let all = names(&h);
    for pod in ["workers-pod-0", "workers-pod-1"] {
        assert!(all.contains(&format!("{pod}-w")), "{all:?}");
    }
    let deployment = ok(&h, &["kube", "generate", "--type", "deployment", "workers"]);
    assert!(deployment.contains("kind: Deployment"), "{deployment}");
    assert!(deployment.contains("replicas: 2"), "{deployment}");
    validate(Path::new(&write(
        &h,
        "workers.yaml",
        &format!("{deployment}\n"),
    )));
    let pod = ok(&h, &["kube", "generate", "app"]);
    assert!(pod.contains("initContainers:"), "{pod}");
    assert!(pod.contains("tier: back"), "{pod}");
    validate(Path::new(&write(&h, "app-again.yaml", &format!("{pod}\n"))));

    ok(&h, &["kube", "play", "--down", &file]);
    assert!(names(&h).is_empty(), "--down leaves no container");
    assert_eq!(
        ok(&h, &["volume", "ls", "-q"]),
        "",
        "the pod's own volumes are removed"
    );
}

#[test]
fn kube_bad_input() {
    let Some(h) = host() else { return };
    import_busybox(&h, "bb", "");
    let e = fails(&h, &["kube", "generate", "nosuch"], 1);
    assert!(e.contains("nosuch"), "{e}");

    let unknown = write(
        &h,
        "unknown.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: bb\n    command: [sleep, '100']\n    bogus: 1\n",
    );
    let e = fails(&h, &["kube", "play", "--strict", &unknown], 1);
    assert!(
        e.contains("Pod.spec.containers[0].bogus: unknown field"),
        "{e}"
    );
    assert!(names(&h).is_empty(), "nothing made under --strict");
    let out = h.mino(&["kube", "play", &unknown]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: Pod.spec.containers[0].bogus"));
    ok(&h, &["kube", "play", "--down", &unknown]);

    let missing = write(
        &h,
        "missing.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: q\nspec:\n  containers:\n  - name: a\n    image: bb\n    env:\n    - name: X\n      valueFrom:\n        configMapKeyRef: {name: nope, key: k}\n",
    );
    let e = fails(&h, &["kube", "play", &missing], 1);
    assert!(e.contains("configMap nope has no key k"), "{e}");

    let bad_name = write(
        &h,
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n  containers:\n  - name: a\n    image: bb\n",
    );
    let e = fails(&h, &["kube", "play", &bad_name], 1);
    assert!(e.contains("Bad_Name"), "{e}");

    let init_fails = write(
        &h,
        "init.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: r\nspec:\n  initContainers:\n  - name: i\n    image: bb\n    command: [sh, -c, 'exit 3']\n  containers:\n  - name: a\n    image: bb\n    command: [sleep, '100']\n",
    );
    let e = fails(&h, &["kube", "play", &init_fails], 1);
    assert!(e.contains("init container r-i exited with 3"), "{e}");
    assert!(
        names(&h).is_empty(),
        "a failed pod leaves nothing: {:?}",
        names(&h)
    );

    // A cluster IP outside the service range, or one another Service holds, is refused before anything
    // is made.
    let service = |name: &str, ip: &str, pod: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  clusterIP: {ip}\n  selector: {{app: {pod}}}\n  ports: [{{port: 80}}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\n  labels: {{app: {pod}}}\nspec:\n  containers:\n  - name: a\n    image: bb\n    command: [sleep, '100']\n"
        )
    };
    let outside = write(&h, "outside.yaml", &service("s", "172.17.0.9", "s1"));
    let e = fails(&h, &["kube", "play", &outside], 1);
    assert!(
        e.contains("Service s: clusterIP 172.17.0.9 is outside the service range 10.96.0.0/12"),
        "{e}"
    );
    assert!(names(&h).is_empty(), "nothing made: {:?}", names(&h));
    let first = write(&h, "first.yaml", &service("one", "10.96.7.7", "p1"));
    ok(&h, &["kube", "play", &first]);
    let taken = write(&h, "taken.yaml", &service("two", "10.96.7.7", "p2"));
    let e = fails(&h, &["kube", "play", &taken], 1);
    assert!(
        e.contains("Service two: clusterIP 10.96.7.7 is Service one's"),
        "{e}"
    );
    assert_eq!(names(&h), ["p1-a", "p1-infra"], "nothing more made");
    ok(&h, &["kube", "play", "--down", &first]);
}
