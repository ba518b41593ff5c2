//! `kube generate` and `kube play` in a throwaway host: generate → play → generate is a fixpoint, the
//! generated manifests pass Kubernetes' own schemas (kubernetes-validate, when installed), ConfigMaps,
//! Secrets, init containers and Deployments play, probes run (httpGet and tcpSocket from inside the pod's
//! network, with no tool in the image; HTTPS without verifying the certificate; gRPC health checks; a
//! startup probe holds the others; a failing liveness probe restarts), a Service's name resolves to the pods it selects while they are ready, `--down` leaves
//! nothing, and bad input changes nothing.

mod common;

use std::path::Path;

use common::{fails, host, import_busybox, inspect, ok, show};
use minotaur_testhost::{wait_until, TestHost};

/// Validates `file` against Kubernetes' schemas, strictly (unknown fields fail), when the validator is
/// installed; says so when it is not.
fn validate(file: &Path) {
    let o = std::process::Command::new("python3")
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--quiet",
            "-k",
            "1.33.0",
        ])
        .arg(file)
        .output()
        .expect("python3 runs");
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("No module named kubernetes_validate") {
        eprintln!(
            "skipped: kubernetes-validate is not installed (pip install kubernetes-validate)"
        );
        return;
    }
    assert!(
        o.status.success(),
        "kubernetes-validate {}: {}{err}",
        file.display(),
        String::from_utf8_lossy(&o.stdout),
    );
}

fn write(h: &TestHost, name: &str, text: &str) -> String {
    let path = h.dir().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn names(h: &TestHost) -> Vec<String> {
    let mut v: Vec<String> = ok(h, &["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

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

/// Waits until `inspect -f TEMPLATE C` prints `want`.
fn wait_for(h: &TestHost, c: &str, template: &str, want: &str) {
    wait_until(&format!("{c}: {template} to be {want}"), || {
        let o = h.mino(&["inspect", "-f", template, c]);
        Ok(String::from_utf8_lossy(&o.stdout).trim() == want)
    })
    .unwrap_or_else(|e| panic!("{e}: {}", inspect(h, c, "{{json .State}}")));
}

#[test]
fn play_runs_probes() {
    let Some(h) = host() else { return };
    import_busybox(
        &h,
        "bb",
        "for c in httpd mkdir rm; do ln -s busybox $r/bin/$c; done",
    );
    let file = write(
        &h,
        "probed.yaml",
        r#"apiVersion: v1
kind: Pod
metadata:
  name: probed
spec:
  containers:
  - name: web
    image: bb
    command: [sh, -c, "mkdir -p /www && echo ok > /www/ready && exec httpd -f -p 8080 -h /www"]
    ports:
    - containerPort: 8080
    readinessProbe:
      httpGet: {path: /ready, port: 8080, httpHeaders: [{name: X-Probe, value: "1"}]}
      periodSeconds: 1
      failureThreshold: 1
  - name: gated
    image: bb
    command: [sleep, "1000"]
    startupProbe:
      exec: {command: [cat, /tmp/up]}
      periodSeconds: 1
      failureThreshold: 1000
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
  - name: dies
    image: bb
    command: [sleep, "1000"]
    livenessProbe:
      tcpSocket: {port: 9999}
      periodSeconds: 1
      failureThreshold: 2
"#,
    );
    ok(&h, &["kube", "play", &file]);

    // httpGet from inside the pod's network: the image has no HTTP client.
    let ready = "{{.State.Readiness.Status}}";
    wait_for(&h, "probed-web", ready, "healthy");
    ok(&h, &["exec", "probed-web", "rm", "/www/ready"]);
    wait_for(&h, "probed-web", ready, "unhealthy");
    let log = inspect(&h, "probed-web", "{{json .State.Readiness.Log}}");
    assert!(log.contains("status code 404"), "{log}");
    ok(
        &h,
        &["exec", "probed-web", "sh", "-c", "echo ok > /www/ready"],
    );
    wait_for(&h, "probed-web", ready, "healthy");

    // The startup probe holds the readiness probe back until it succeeds.
    assert_eq!(
        inspect(
            &h,
            "probed-gated",
            "{{.State.Startup.Status}} {{.State.Readiness.Status}}"
        ),
        "starting starting",
        "readiness waits for startup"
    );
    assert_eq!(
        inspect(&h, "probed-gated", "{{len .State.Readiness.Log}}"),
        "0"
    );
    ok(&h, &["exec", "probed-gated", "sh", "-c", "echo > /tmp/up"]);
    wait_for(&h, "probed-gated", "{{.State.Startup.Status}}", "healthy");
    wait_for(&h, "probed-gated", ready, "healthy");

    // A failing liveness probe kills the container, and the restart policy starts it again.
    wait_until("probed-dies to be restarted", || {
        Ok(inspect(&h, "probed-dies", "{{.RestartCount}}") != "0")
    })
    .unwrap();
    let log = inspect(&h, "probed-dies", "{{json .State.Health.Log}}");
    assert!(log.contains("127.0.0.1:9999"), "{log}");

    // Generated back, the probes are what was played.
    let first = ok(&h, &["kube", "generate", "probed"]);
    for want in [
        "readinessProbe:",
        "startupProbe:",
        "livenessProbe:",
        "path: /ready",
        "name: X-Probe",
        "tcpSocket:",
        "failureThreshold: 1000",
    ] {
        assert!(first.contains(want), "{want}: {first}");
    }
    let again = write(&h, "probed-again.yaml", &format!("{first}\n"));
    validate(Path::new(&again));
    ok(&h, &["kube", "play", "--replace", &again]);
    assert_eq!(ok(&h, &["kube", "generate", "probed"]), first);
    ok(&h, &["kube", "play", "--down", &again]);
    assert!(names(&h).is_empty(), "--down leaves no container");
}

/// A Python HTTPS server for [`https_probes_speak_tls_without_verifying_the_certificate`]: `/ready`
/// answers 200 while /tmp/ready exists and the request's `Host` is `web.example`, else 503 or 400.
const TLS_SERVER: &str = r#"import http.server, os, ssl
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get("Host") != "web.example":
            code = 400
        elif self.path == "/ready" and os.path.exists("/tmp/ready"):
            code = 200
        else:
            code = 503
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
s = http.server.HTTPServer(("", 8443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("/certs/cert.pem", "/certs/key.pem")
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
"#;

#[test]
fn https_probes_speak_tls_without_verifying_the_certificate() {
    let Some(h) = host() else { return };
    let have = |cmd: &str| h.sh(cmd).status.success();
    if !have("command -v openssl") || !have("python3 -c 'import ssl, http.server'") {
        eprintln!("skipped: https probes need openssl and python3 with ssl on the host");
        return;
    }
    let certs = h.dir().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("serve.py"), TLS_SERVER).unwrap();
    // A self-signed certificate for a name that is not the address probed: unverifiable, as pods' are.
    h.sh_ok(&format!(
        "cd {} && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other.example \
         -keyout key.pem -out cert.pem 2>/dev/null",
        certs.display()
    ));
    let file = write(
        &h,
        "tls.yaml",
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: tls
spec:
  volumes:
  - name: certs
    hostPath: {{path: {certs}}}
  containers:
  - name: web
    image: host
    command: [python3, /certs/serve.py]
    volumeMounts: [{{name: certs, mountPath: /certs}}]
    readinessProbe:
      httpGet: {{path: /ready, port: 8443, scheme: HTTPS, httpHeaders: [{{name: Host, value: web.example}}]}}
      periodSeconds: 1
      failureThreshold: 1
  - name: plain
    image: host
    command: [python3, -m, http.server, "8080"]
    readinessProbe:
      httpGet: {{port: 8080, scheme: HTTPS}}
      periodSeconds: 1
      failureThreshold: 1
"#,
            certs = certs.display()
        ),
    );
    ok(&h, &["kube", "play", &file]);
    let ready = "{{.State.Readiness.Status}}";
    // The server answers over TLS with 503 until /tmp/ready exists; the Host header reached it (else 400).
    wait_until("tls-web's probe to get a 503", || {
        Ok(inspect(&h, "tls-web", "{{json .State.Readiness.Log}}").contains("status code 503"))
    })
    .unwrap_or_else(|e| panic!("{e}: {}", inspect(&h, "tls-web", "{{json .State}}")));
    ok(&h, &["exec", "tls-web", "touch", "/tmp/ready"]);
    wait_for(&h, "tls-web", ready, "healthy");
    ok(&h, &["exec", "tls-web", "rm", "/tmp/ready"]);
    wait_for(&h, "tls-web", ready, "unhealthy");
    // A server that speaks no TLS fails the probe at the handshake.
    wait_for(&h, "tls-plain", ready, "unhealthy");
    let log = inspect(&h, "tls-plain", "{{json .State.Readiness.Log}}");
    assert!(log.contains("TLS handshake failed"), "{log}");

    let first = ok(&h, &["kube", "generate", "tls"]);
    assert!(first.contains("scheme: HTTPS"), "{first}");
    assert!(first.contains("value: web.example"), "{first}");
    let again = write(&h, "tls-again.yaml", &format!("{first}\n"));
    validate(Path::new(&again));
    ok(&h, &["kube", "play", "--down", &file]);
    assert!(names(&h).is_empty(), "--down leaves no container");
}

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

/// A gRPC health server for [`grpc_probes_ask_the_health_service`]: service `db` is SERVING while
/// /tmp/serving exists, NOT_SERVING otherwise; no other service is known.
const GRPC_SERVER: &str = r#"import os, time
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
h = health.HealthServicer()
health_pb2_grpc.add_HealthServicer_to_server(h, server)
server.add_insecure_port("0.0.0.0:9090")
server.start()
S = health_pb2.HealthCheckResponse
while True:
    h.set("db", S.SERVING if os.path.exists("/tmp/serving") else S.NOT_SERVING)
    time.sleep(0.2)
"#;

#[test]
fn grpc_probes_ask_the_health_service() {
    let Some(h) = host() else { return };
    let python = h.sh("python3 -c 'import sys, grpc_health.v1.health; print(sys.executable)'");
    if !python.status.success() {
        eprintln!("skipped: grpc probes need python3 with grpcio-health-checking on the host");
        return;
    }
    let python = String::from_utf8_lossy(&python.stdout).trim().to_owned();
    let dir = h.dir().join("grpc");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("serve.py"), GRPC_SERVER).unwrap();
    let file = write(
        &h,
        "grpc.yaml",
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: grpc
spec:
  volumes:
  - name: srv
    hostPath: {{path: {dir}}}
  containers:
  - name: server
    image: host
    command: [{python}, /srv/serve.py]
    volumeMounts: [{{name: srv, mountPath: /srv}}]
    readinessProbe:
      grpc: {{port: 9090, service: db}}
      periodSeconds: 1
      failureThreshold: 1
  - name: other
    image: host
    command: [sleep, "1000"]
    readinessProbe:
      grpc: {{port: 9090, service: nosuch}}
      periodSeconds: 1
"#,
            dir = dir.display()
        ),
    );
    ok(&h, &["kube", "play", &file]);
    let ready = "{{.State.Readiness.Status}}";
    let log = |c: &str| inspect(&h, c, "{{json .State.Readiness.Log}}");
    wait_until("grpc-server's probe to see NOT_SERVING", || {
        Ok(log("grpc-server").contains("NOT_SERVING"))
    })
    .unwrap_or_else(|e| panic!("{e}: {}", log("grpc-server")));
    ok(&h, &["exec", "grpc-server", "touch", "/tmp/serving"]);
    wait_for(&h, "grpc-server", ready, "healthy");
    assert!(log("grpc-server").contains(r#"service \"db\" is SERVING"#));
    ok(&h, &["exec", "grpc-server", "rm", "/tmp/serving"]);
    wait_for(&h, "grpc-server", ready, "unhealthy");
    // An unknown service is the server's NOT_FOUND (grpc-status 5).
    wait_until("grpc-other's probe to fail with NOT_FOUND", || {
        Ok(log("grpc-other").contains("grpc-status 5"))
    })
    .unwrap_or_else(|e| panic!("{e}: {}", log("grpc-other")));

    let first = ok(&h, &["kube", "generate", "grpc"]);
    assert!(first.contains("grpc:"), "{first}");
    assert!(first.contains("service: db"), "{first}");
    let again = write(&h, "grpc-again.yaml", &format!("{first}\n"));
    validate(Path::new(&again));
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
