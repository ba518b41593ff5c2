//! Services on the host's ports and on IPv6: NodePort, LoadBalancer, client affinity, dual-stack cluster IPs.

use super::*;

/// `type: NodePort` and `LoadBalancer` lead from every address of the host to the ready pods (a node port
/// chosen from 30000–32767 when the manifest names none; a LoadBalancer's `port` too), `sessionAffinity:
/// ClientIP` keeps a client on one pod, `kube generate` writes the Services back (with the chosen node
/// port) so that generate → play → generate stays a fixpoint, and ports on the host another Service or a
/// container holds are refused.
#[test]
fn node_ports_load_balancers_and_client_affinity() {
    let Some(h) = host() else { return };
    if !h.sh("command -v curl").status.success() {
        eprintln!("skipped: the client pod runs the host's curl, and the host has none");
        return;
    }
    import_busybox(
        &h,
        "bb",
        "for c in httpd mkdir hostname; do ln -s busybox $r/bin/$c; done",
    );
    let file = write(
        &h,
        "node-port.yaml",
        r#"apiVersion: v1
kind: Service
metadata:
  name: web-np
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {port: 80, targetPort: http, nodePort: 30080}
---
apiVersion: v1
kind: Service
metadata:
  name: web-auto
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {port: 80, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: web-lb
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {port: 8081, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: sticky
spec:
  sessionAffinity: ClientIP
  selector: {app: web}
  ports:
  - {port: 80, targetPort: http}
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
    let from_host = |url: &str| {
        let o = h.sh(&format!("curl -sS --max-time 3 {url}"));
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let from_client = |url: &str| {
        let o = h.mino(&["exec", "client-c", "curl", "-sS", "--max-time", "3", url]);
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let reaches_both = |what: &str, get: &dyn Fn() -> Option<String>| {
        let mut seen = std::collections::BTreeSet::new();
        wait_until(what, || {
            seen.extend(get());
            Ok(seen.len() == 2)
        })
        .unwrap_or_else(|e| panic!("{e}: {seen:?}"));
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            ["web-pod-0", "web-pod-1"]
        );
    };
    // The node port, on the host's loopback and (from a pod) on the host's address on the bridge.
    reaches_both("node port 30080 on 127.0.0.1 to reach both pods", &|| {
        from_host("http://127.0.0.1:30080/id")
    });
    reaches_both("node port 30080 on the gateway to reach both pods", &|| {
        from_client(&format!("http://{gateway}:30080/id"))
    });
    // A LoadBalancer's port is published on the host.
    reaches_both("the LoadBalancer's port 8081 to reach both pods", &|| {
        from_host("http://127.0.0.1:8081/id")
    });

    // generate writes the Services back, with the node port play chose for web-auto.
    let first = ok(&h, &["kube", "generate", "--type", "deployment", "web"]);
    for s in ["web-np", "web-auto", "web-lb", "sticky"] {
        assert!(first.contains(&format!("name: {s}\n")), "{s}: {first}");
    }
    assert!(first.contains("sessionAffinity: ClientIP"), "{first}");
    assert!(first.contains("type: LoadBalancer"), "{first}");
    let node_ports: Vec<u16> = first
        .lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("nodePort: "))
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(node_ports.len(), 3, "web-np, web-auto and web-lb: {first}");
    assert!(node_ports.contains(&30080), "{node_ports:?}");
    for n in &node_ports {
        assert!((30000..=32767).contains(n), "{n}");
    }
    let chosen: Vec<u16> = node_ports.iter().copied().filter(|n| *n != 30080).collect();
    for n in &chosen {
        reaches_both(&format!("chosen node port {n} to reach both pods"), &|| {
            from_host(&format!("http://127.0.0.1:{n}/id"))
        });
    }
    let generated = write(&h, "generated.yaml", &format!("{first}\n"));
    validate(Path::new(&generated));

    // sessionAffinity: ClientIP: one client, one pod, however many connections.
    let sticky = h
        .sh_ok(&format!("dig +time=2 +tries=2 +short @{gateway} sticky"))
        .trim()
        .to_owned();
    let url = format!("http://{sticky}/id");
    let one = from_client(&url).expect("the sticky Service answers");
    for _ in 0..12 {
        assert_eq!(from_client(&url).as_deref(), Some(one.as_str()), "ClientIP");
    }
    assert_eq!(
        ok(&h, &["system", "check"]),
        "",
        "system check with node ports"
    );

    // Ports on the host that another Service or a container holds are refused, and nothing is made.
    let other = |node_port: u16| {
        format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: other\nspec:\n  type: NodePort\n  selector: {{app: o}}\n  ports: [{{port: 80, nodePort: {node_port}}}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: o\n  labels: {{app: o}}\nspec:\n  containers:\n  - name: a\n    image: bb\n    command: [sleep, '100']\n")
    };
    let taken = write(&h, "taken.yaml", &other(30080));
    let e = fails(&h, &["kube", "play", &taken], 1);
    assert!(
        e.contains("Service other: tcp port 30080 on the host is Service web-np's"),
        "{e}"
    );
    ok(
        &h,
        &[
            "run", "-d", "--name", "pub", "-p", "30999:80", "bb", "sleep", "1000",
        ],
    );
    let published = write(&h, "published.yaml", &other(30999));
    let e = fails(&h, &["kube", "play", &published], 1);
    assert!(
        e.contains("Service other: tcp port 30999 on the host is published by a container"),
        "{e}"
    );
    assert!(!names(&h).contains(&"o-a".to_owned()), "nothing made");
    ok(&h, &["rm", "-f", "pub"]);

    // generate → play → generate, with the Services in it.
    ok(&h, &["kube", "play", "--down", &file]);
    assert!(names(&h).is_empty(), "--down leaves no container");
    for map in ["node_ports4", "node_ports4_client", "services4_client"] {
        let listed = h.sh_ok(&format!("nft list map inet minotaur {map}"));
        assert!(
            !listed.contains("elements"),
            "--down empties {map}: {listed}"
        );
    }
    ok(&h, &["kube", "play", &generated]);
    let second = ok(&h, &["kube", "generate", "--type", "deployment", "web"]);
    assert_eq!(second, first, "generate → play → generate");
    for n in &chosen {
        reaches_both(&format!("node port {n} to reach both pods again"), &|| {
            from_host(&format!("http://127.0.0.1:{n}/id"))
        });
    }
    ok(&h, &["kube", "play", "--down", &generated]);
    assert_eq!(ok(&h, &["system", "check"]), "", "system check is clean");
}

/// On a dual-stack pods' network (`kube play --network`), `ipFamilyPolicy: PreferDualStack` gives a Service an IPv6 cluster IP
/// from `fd00:10:96::/112` besides its IPv4 one: the names resolve to both (AAAA and A), both lead to the
/// ready pods, and with none ready both refuse, the host's own connections included.
#[test]
fn ipv6_cluster_ips_on_a_dual_stack_network() {
    let Some(h) = host() else { return };
    if !h.sh("command -v curl").status.success() {
        eprintln!("skipped: the client pod runs the host's curl, and the host has none");
        return;
    }
    import_busybox(
        &h,
        "bb",
        "for c in httpd mkdir hostname; do ln -s busybox $r/bin/$c; done",
    );
    // The pods' network (`--network`), dual-stack.
    ok(
        &h,
        &[
            "network",
            "create",
            "--ipv6",
            "--subnet",
            "172.30.0.0/16",
            "--subnet",
            "fd6d:696e:6f74:30::/64",
            "dual",
        ],
    );
    let file = write(
        &h,
        "dual.yaml",
        r#"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {app: web}
  ports:
  - {port: 80, targetPort: http}
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
    ok(&h, &["kube", "play", "--network", "dual", &file]);
    let gateway = inspect(&h, "web-pod-0-infra", "{{.NetworkSettings.Gateway}}");
    let dig = |kind: &str| {
        let mut got = String::new();
        wait_until(&format!("web to have an {kind} record"), || {
            let out = h.sh(&format!(
                "dig +time=2 +tries=2 +short @{gateway} web {kind}"
            ));
            got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            Ok(out.status.success() && !got.is_empty())
        })
        .unwrap();
        got
    };
    let v4 = dig("A");
    let v6 = dig("AAAA");
    assert!(v4.starts_with("10.9") || v4.starts_with("10.1"), "{v4}");
    assert!(
        v6.starts_with("fd00:10:96::"),
        "in the IPv6 service range: {v6}"
    );
    let get = |url: &str| {
        let o = h.mino(&["exec", "client-c", "curl", "-gsS", "--max-time", "3", url]);
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let url6 = format!("http://[{v6}]/id");
    let url4 = format!("http://{v4}/id");
    for pod in ["web-pod-0", "web-pod-1"] {
        wait_for(
            &h,
            &format!("{pod}-httpd"),
            "{{.State.Readiness.Status}}",
            "unhealthy",
        );
    }
    assert_eq!(
        get(&url6),
        None,
        "no ready pod: the IPv6 cluster IP refuses"
    );
    // The box has no IPv6 default route; give the service range one, as a host's default route would.
    h.sh_ok(
        "ip -6 route add fd00:10:96::/112 dev $(ip -o -6 route show fd6d:696e:6f74:30::/64 | awk '{print $3}')",
    );
    let from_host = h.sh(&format!("timeout 5 bash -c 'echo > /dev/tcp/{v6}/80'"));
    let err = String::from_utf8_lossy(&from_host.stderr);
    assert!(
        !from_host.status.success() && err.contains("Connection refused"),
        "from the host: {err}"
    );
    for pod in ["web-pod-0", "web-pod-1"] {
        ok(
            &h,
            &[
                "exec",
                &format!("{pod}-httpd"),
                "sh",
                "-c",
                "echo ok > /www/ready",
            ],
        );
    }
    for url in [&url6, &url4] {
        let mut seen = std::collections::BTreeSet::new();
        wait_until(&format!("{url} to reach both ready pods"), || {
            seen.extend(get(url));
            Ok(seen.len() == 2)
        })
        .unwrap_or_else(|e| panic!("{e}: {seen:?}"));
    }
    let o = h.sh(&format!("curl -gsS --max-time 3 {url6}"));
    assert!(o.status.success(), "from the host over IPv6: {}", show(&o));
    assert_eq!(
        ok(&h, &["system", "check"]),
        "",
        "system check with both families"
    );
    ok(&h, &["kube", "play", "--down", &file]);
    for what in [
        "map inet minotaur services6",
        "set inet minotaur cluster_ips6",
    ] {
        let listed = h.sh_ok(&format!("nft list {what}"));
        assert!(
            !listed.contains("elements"),
            "--down removes the rules: {listed}"
        );
    }
    assert_eq!(ok(&h, &["system", "check"]), "", "system check is clean");
}
