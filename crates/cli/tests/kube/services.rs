//! Services: a headless Service's name and a ClusterIP lead to the ready pods only.

use super::*;

#[test]
fn a_headless_services_name_resolves_to_its_ready_pods() {
    let Some(h) = host() else { return };
    import_busybox(
        &h,
        "bb",
        "for c in httpd mkdir rm; do ln -s busybox $r/bin/$c; done",
    );
    let file = write(
        &h,
        "service.yaml",
        r#"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector: {app: web}
  ports:
  - port: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: httpd
        image: bb
        command: [sh, -c, "mkdir -p /www && exec httpd -f -p 8080 -h /www"]
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: other
  labels: {app: other}
spec:
  containers:
  - name: c
    image: bb
    command: [sleep, "1000"]
"#,
    );
    let played = h.mino(&["kube", "play", &file]);
    assert!(played.status.success(), "{}", common::show(&played));
    assert!(
        !String::from_utf8_lossy(&played.stderr).contains("Service"),
        "a Service with a selector is applied: {}",
        common::show(&played)
    );
    let ip = |pod: &str| {
        inspect(
            &h,
            &format!("{pod}-infra"),
            "{{.NetworkSettings.IPAddress}}",
        )
    };
    let (a, b) = (ip("web-pod-0"), ip("web-pod-1"));
    let gateway = inspect(&h, "web-pod-0-infra", "{{.NetworkSettings.Gateway}}");
    assert!(!gateway.is_empty() && !a.is_empty() && !b.is_empty());
    // None when the query itself failed (a timeout on a loaded machine): asked again.
    let dig = |name: &str| {
        let out = h.sh(&format!("dig +time=2 +tries=2 +short @{gateway} {name}"));
        out.status.success().then(|| {
            let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            v.sort();
            v
        })
    };
    let wait_answer = |name: &str, want: &[&String]| {
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        wait_until(&format!("{name} to resolve to {want:?}"), || {
            Ok(dig(name).as_ref() == Some(&want))
        })
        .unwrap_or_else(|e| panic!("{e}: {:?}", dig(name)));
    };
    // The pods run but are not ready (no /ready yet): the name answers nothing; the pods' own do.
    for pod in ["web-pod-0", "web-pod-1"] {
        wait_for(
            &h,
            &format!("{pod}-httpd"),
            "{{.State.Readiness.Status}}",
            "unhealthy",
        );
    }
    wait_answer("web", &[]);
    wait_answer("web-pod-0-infra", &[&a]);

    ok(
        &h,
        &[
            "exec",
            "web-pod-0-httpd",
            "sh",
            "-c",
            "echo ok > /www/ready",
        ],
    );
    wait_answer("web", &[&a]);
    ok(
        &h,
        &[
            "exec",
            "web-pod-1-httpd",
            "sh",
            "-c",
            "echo ok > /www/ready",
        ],
    );
    wait_answer("web", &[&a, &b]);
    wait_answer("web.default.svc.cluster.local", &[&a, &b]);
    // A pod that turns unready leaves the name; the other pod (no selector match) never had it.
    ok(&h, &["exec", "web-pod-0-httpd", "rm", "/www/ready"]);
    wait_answer("web", &[&b]);
    // A stopped pod is not ready either.
    ok(&h, &["stop", "web-pod-1-httpd"]);
    wait_answer("web", &[]);

    ok(&h, &["kube", "play", "--down", &file]);
    assert!(names(&h).is_empty(), "--down leaves no container");
}

#[test]
fn a_services_cluster_ip_leads_to_its_ready_pods() {
    let Some(h) = host() else { return };
    if !h.sh("command -v curl").status.success() {
        eprintln!("skipped: the client pod runs the host's curl, and the host has none");
        return;
    }
    import_busybox(
        &h,
        "bb",
        "for c in httpd mkdir rm hostname; do ln -s busybox $r/bin/$c; done",
    );
    let file = write(
        &h,
        "cluster-ip.yaml",
        r#"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: http
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: httpd
        image: bb
        command: [sh, -c, "mkdir -p /www && hostname > /www/id && exec httpd -f -p 8080 -h /www"]
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          httpGet: {path: /ready, port: http}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  containers:
  - name: c
    image: host
    command: [sleep, "1000"]
"#,
    );
    ok(&h, &["kube", "play", &file]);
    let gateway = inspect(&h, "web-pod-0-infra", "{{.NetworkSettings.Gateway}}");
    // The name resolves to the cluster IP, ready pods or not.
    let mut cluster_ip = String::new();
    wait_until("web to resolve to a cluster IP", || {
        let out = h.sh(&format!("dig +time=2 +tries=2 +short @{gateway} web"));
        cluster_ip = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Ok(out.status.success() && !cluster_ip.is_empty())
    })
    .unwrap();
    assert!(
        cluster_ip.starts_with("10.9") || cluster_ip.starts_with("10.1"),
        "in the service range: {cluster_ip}"
    );
    let fqdn = h.sh_ok(&format!(
        "dig +time=2 +tries=2 +short @{gateway} web.default.svc.cluster.local"
    ));
    assert_eq!(fqdn.trim(), cluster_ip);
    // From the client pod: the Service's port 80 leads to a ready pod's port 8080 (named `http`).
    let get = || {
        let o = h.mino(&[
            "exec",
            "client-c",
            "curl",
            "-sS",
            "--max-time",
            "3",
            &format!("http://{cluster_ip}/id"),
        ]);
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    for pod in ["web-pod-0", "web-pod-1"] {
        wait_for(
            &h,
            &format!("{pod}-httpd"),
            "{{.State.Readiness.Status}}",
            "unhealthy",
        );
    }
    assert_eq!(get(), None, "no ready pod: the cluster IP refuses");
    // The host's own connection is refused too, not sent along the host's routes.
    let from_host = h.sh(&format!(
        "timeout 5 bash -c 'echo > /dev/tcp/{cluster_ip}/80'"
    ));
    let err = String::from_utf8_lossy(&from_host.stderr);
    assert!(
        !from_host.status.success() && err.contains("Connection refused"),
        "from the host: {err}"
    );

    ok(
        &h,
        &[
            "exec",
            "web-pod-0-httpd",
            "sh",
            "-c",
            "echo ok > /www/ready",
        ],
    );
    wait_until("the cluster IP to lead to web-pod-0", || {
        Ok(get().as_deref() == Some("web-pod-0"))
    })
    .unwrap();
    for _ in 0..8 {
        assert_eq!(
            get().as_deref(),
            Some("web-pod-0"),
            "web-pod-1 is not ready"
        );
    }
    ok(
        &h,
        &[
            "exec",
            "web-pod-1-httpd",
            "sh",
            "-c",
            "echo ok > /www/ready",
        ],
    );
    let mut seen = std::collections::BTreeSet::new();
    wait_until("connections to reach both ready pods", || {
        seen.extend(get());
        Ok(seen.len() == 2)
    })
    .unwrap_or_else(|e| panic!("{e}: {seen:?}"));
    // A pod that turns unready leaves the endpoints. Its readiness is waited for first: with both pods
    // still in the map, eight connections in a row can reach web-pod-1 by chance (the slot comes from
    // each connection's source port, which the kernel does not always step evenly), and the checks below
    // would then start from a map that still holds web-pod-0.
    ok(&h, &["exec", "web-pod-0-httpd", "rm", "/www/ready"]);
    wait_for(
        &h,
        "web-pod-0-httpd",
        "{{.State.Readiness.Status}}",
        "unhealthy",
    );
    wait_until("the cluster IP to lead to web-pod-1 alone", || {
        Ok((0..8).all(|_| get().as_deref() == Some("web-pod-1")))
    })
    .unwrap();
    // The map agrees with the pods: system check finds nothing. A table made anew (`network reload`,
    // as after a flushed ruleset) gets the endpoints back.
    assert_eq!(ok(&h, &["system", "check"]), "", "system check with pods");
    h.sh_ok("nft delete table inet minotaur");
    ok(&h, &["network", "reload"]);
    assert_eq!(get().as_deref(), Some("web-pod-1"), "after network reload");
    assert_eq!(
        ok(&h, &["system", "check"]),
        "",
        "system check after reload"
    );

    ok(&h, &["kube", "play", "--down", &file]);
    assert!(names(&h).is_empty(), "--down leaves no container");
    for what in [
        "map inet minotaur services4",
        "set inet minotaur cluster_ips4",
    ] {
        let listed = h.sh_ok(&format!("nft list {what}"));
        assert!(
            !listed.contains("elements"),
            "--down removes the rules: {listed}"
        );
    }
    assert_eq!(ok(&h, &["system", "check"]), "", "system check is clean");
}
