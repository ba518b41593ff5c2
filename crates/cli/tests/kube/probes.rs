//! Probes a played pod runs: httpGet and tcpSocket from inside the pod's network, HTTPS without
//! verifying the certificate, gRPC health checks.

use super::*;

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
