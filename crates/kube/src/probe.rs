//! Kubernetes probes as the engine's checks, and back.
//!
//! A probe becomes a [`Healthcheck`] with every field set (Kubernetes' defaults filled in: a period of
//! 10 s, a timeout of 1 s, 3 failures, 1 success, no initial delay), so it behaves the same whatever
//! the engine's defaults are: `exec` is `["CMD", ...]`; `httpGet` is the engine's `["HTTP-GET", URL,
//! headers...]` (an `https` URL for `scheme: HTTPS`: TLS without verifying the certificate, as the
//! kubelet), `tcpSocket` its `["TCP", ADDR:PORT]` and `grpc` its `["GRPC", ADDR:PORT, SERVICE]`, all
//! made by the supervisor from inside the pod's network namespace, so the image needs no `curl`. Liveness and startup probes kill the container
//! when they fail (`KillUnhealthy`), and the pod's restart policy decides what follows, as the kubelet
//! does. A probe's host defaults to `127.0.0.1` in the pod's network namespace (Kubernetes' default is
//! the pod's IP; both reach a server listening on every address).
//!
//! Back from a check, a field is written only when it differs from Kubernetes' default, and always from
//! what the engine will do (a Docker healthcheck's defaults are 30 s, not 10 s), so generate → play →
//! generate is a fixpoint.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    Container as KContainer, ExecAction, GRPCAction, HTTPGetAction, HTTPHeader, Probe,
    TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use minotaur_engine::healthcheck::{Action, Healthcheck};

const SECOND: i64 = 1_000_000_000;
const PERIOD: i32 = 10;
const TIMEOUT: i32 = 1;
const FAILURES: i32 = 3;
const SUCCESSES: i32 = 1;
const LOOPBACK: &str = "127.0.0.1";

/// `c`'s probe `field` (`livenessProbe`, …) as a check; `kill`: a failure kills the container.
pub fn check(field: &str, p: &Probe, c: &KContainer, kill: bool) -> Result<Healthcheck, String> {
    let port = |port: &IntOrString| -> Result<u16, String> {
        let n = match port {
            IntOrString::Int(n) => *n,
            IntOrString::String(name) => c
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name))
                .map(|p| p.container_port)
                .ok_or_else(|| format!("{field}: no container port is named {name:?}"))?,
        };
        u16::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{field}: port {n} is out of range"))
    };
    let host = |h: &Option<String>| -> Result<IpAddr, String> {
        let h = h.as_deref().unwrap_or(LOOPBACK);
        h.parse()
            .map_err(|_| format!("{field}: host {h:?} is not an IP address"))
    };
    let test = if let Some(e) = &p.exec {
        let command = e.command.clone().unwrap_or_default();
        if command.is_empty() {
            return Err(format!("{field}: exec has no command"));
        }
        std::iter::once("CMD".to_owned()).chain(command).collect()
    } else if let Some(h) = &p.http_get {
        let scheme = match h.scheme.as_deref() {
            None | Some("HTTP") => "http",
            Some("HTTPS") => "https",
            Some(s) => return Err(format!("{field}: httpGet scheme {s} is not supported")),
        };
        let addr = std::net::SocketAddr::new(host(&h.host)?, port(&h.port)?);
        let path = h.path.as_deref().unwrap_or("/");
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        let mut test = vec!["HTTP-GET".to_owned(), format!("{scheme}://{addr}{path}")];
        for hd in h.http_headers.iter().flatten() {
            test.push(format!("{}: {}", hd.name, hd.value));
        }
        let action = minotaur_engine::healthcheck::http_action(&test[1], &test[2..])
            .map_err(|e| format!("{field}: {e}"))?;
        debug_assert!(matches!(action, Action::HttpGet { .. }));
        test
    } else if let Some(t) = &p.tcp_socket {
        let addr = std::net::SocketAddr::new(host(&t.host)?, port(&t.port)?);
        vec!["TCP".to_owned(), addr.to_string()]
    } else if let Some(g) = &p.grpc {
        let addr = std::net::SocketAddr::new(host(&None)?, port(&IntOrString::Int(g.port))?);
        let mut test = vec!["GRPC".to_owned(), addr.to_string()];
        test.extend(g.service.clone().filter(|s| !s.is_empty()));
        test
    } else {
        return Err(format!("{field}: no exec, httpGet, tcpSocket or grpc"));
    };
    let secs = |v: Option<i32>, default: i32| i64::from(v.unwrap_or(default).max(0)) * SECOND;
    Ok(Healthcheck {
        test,
        interval: secs(p.period_seconds, PERIOD).max(SECOND),
        timeout: secs(p.timeout_seconds, TIMEOUT).max(SECOND),
        start_period: 0,
        start_interval: 0,
        retries: i64::from(p.failure_threshold.unwrap_or(FAILURES).max(1)),
        initial_delay: Some(secs(p.initial_delay_seconds, 0)),
        success_threshold: i64::from(p.success_threshold.unwrap_or(SUCCESSES).max(1)),
        kill_unhealthy: kill,
    })
}

/// A check as a probe; `None` when checks are off (`NONE`) or the test is not understood.
pub fn probe(hc: &Healthcheck) -> Option<Probe> {
    let mut p = Probe::default();
    match hc.action()? {
        Action::Exec(command) => {
            p.exec = Some(ExecAction {
                command: Some(command),
            })
        }
        Action::HttpGet {
            tls,
            addr,
            path,
            headers,
            ..
        } => {
            p.http_get = Some(HTTPGetAction {
                host: host(addr.ip()),
                port: IntOrString::Int(addr.port().into()),
                path: Some(path),
                http_headers: (!headers.is_empty()).then(|| {
                    headers
                        .into_iter()
                        .map(|(name, value)| HTTPHeader { name, value })
                        .collect()
                }),
                scheme: tls.then(|| "HTTPS".to_owned()),
            })
        }
        Action::Tcp(addr) => {
            p.tcp_socket = Some(TCPSocketAction {
                host: host(addr.ip()),
                port: IntOrString::Int(addr.port().into()),
            })
        }
        Action::Grpc { addr, service } => {
            p.grpc = Some(GRPCAction {
                port: addr.port().into(),
                service: (!service.is_empty()).then_some(service),
            })
        }
    }
    // Whole seconds, at least one: Kubernetes has no finer unit.
    let secs = |d: std::time::Duration| (d.as_secs().max(1)).min(i32::MAX as u64) as i32;
    let unless = |v: i32, default: i32| (v != default).then_some(v);
    p.period_seconds = unless(secs(hc.interval()), PERIOD);
    p.timeout_seconds = unless(secs(hc.timeout()), TIMEOUT);
    p.failure_threshold = unless(hc.retries().min(i32::MAX as u32) as i32, FAILURES);
    p.success_threshold = unless(
        hc.success_threshold().min(i32::MAX as u32) as i32,
        SUCCESSES,
    );
    let delay = hc.initial_delay.unwrap_or(hc.start_period).max(0);
    p.initial_delay_seconds = (delay > 0).then(|| (delay / SECOND).max(1) as i32);
    Some(p)
}

fn host(ip: IpAddr) -> Option<String> {
    (ip.to_string() != LOOPBACK).then(|| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(yaml: &str) -> KContainer {
        let docs = minotaur_compose::yaml::parse(yaml, std::path::Path::new("c.yaml")).unwrap();
        serde_json::from_value(docs[0].to_json()).unwrap()
    }

    #[test]
    fn probes_become_checks_with_kubernetes_defaults_and_come_back() {
        let c = container(
            "name: a\nimage: x\nports:\n- {name: web, containerPort: 8080}\nreadinessProbe:\n  httpGet: {path: /ready, port: web, httpHeaders: [{name: X-A, value: b}]}\n  successThreshold: 2\nlivenessProbe:\n  tcpSocket: {port: 8080}\n  periodSeconds: 2\n  failureThreshold: 1\nstartupProbe:\n  exec: {command: [cat, /tmp/up]}\n  initialDelaySeconds: 3\n",
        );
        let r = check(
            "readinessProbe",
            c.readiness_probe.as_ref().unwrap(),
            &c,
            false,
        )
        .unwrap();
        assert_eq!(
            r.test,
            ["HTTP-GET", "http://127.0.0.1:8080/ready", "X-A: b"]
        );
        assert_eq!((r.interval, r.timeout, r.retries), (10 * SECOND, SECOND, 3));
        assert_eq!((r.success_threshold, r.initial_delay), (2, Some(0)));
        assert!(!r.kill_unhealthy);
        let l = check(
            "livenessProbe",
            c.liveness_probe.as_ref().unwrap(),
            &c,
            true,
        )
        .unwrap();
        assert_eq!(l.test, ["TCP", "127.0.0.1:8080"]);
        assert_eq!(
            (l.interval, l.retries, l.kill_unhealthy),
            (2 * SECOND, 1, true)
        );
        let s = check("startupProbe", c.startup_probe.as_ref().unwrap(), &c, true).unwrap();
        assert_eq!(s.test, ["CMD", "cat", "/tmp/up"]);
        assert_eq!(s.initial_delay, Some(3 * SECOND));

        // Back: only what differs from Kubernetes' defaults; the named port as its number.
        let back = probe(&r).unwrap();
        let h = back.http_get.as_ref().unwrap();
        assert_eq!(
            (h.host.as_deref(), &h.port, h.path.as_deref()),
            (None, &IntOrString::Int(8080), Some("/ready"))
        );
        assert_eq!(back.success_threshold, Some(2));
        assert_eq!(back.period_seconds, None);
        assert_eq!(back.timeout_seconds, None);
        let l = probe(&l).unwrap();
        assert_eq!((l.period_seconds, l.failure_threshold), (Some(2), Some(1)));
        assert_eq!(probe(&s).unwrap().initial_delay_seconds, Some(3));
        // And again: a fixpoint.
        let again = check("readinessProbe", &back, &c, false).unwrap();
        assert_eq!(probe(&again).unwrap(), back);
    }

    #[test]
    fn an_https_probe_keeps_its_scheme_host_and_headers() {
        let c = container(
            "name: a\nimage: x\nreadinessProbe:\n  httpGet: {port: 8443, scheme: HTTPS, host: 10.0.0.2, httpHeaders: [{name: Host, value: web.example}]}\n",
        );
        let p = c.readiness_probe.as_ref().unwrap();
        let r = check("readinessProbe", p, &c, false).unwrap();
        assert_eq!(
            r.test,
            ["HTTP-GET", "https://10.0.0.2:8443/", "Host: web.example"]
        );
        let Some(Action::HttpGet { tls, .. }) = r.action() else {
            panic!("{:?}", r.action())
        };
        assert!(tls);
        let back = probe(&r).unwrap();
        let h = back.http_get.as_ref().unwrap();
        assert_eq!(
            (h.scheme.as_deref(), h.host.as_deref()),
            (Some("HTTPS"), Some("10.0.0.2"))
        );
        assert_eq!(check("readinessProbe", &back, &c, false).unwrap(), r);
    }

    #[test]
    fn a_grpc_probe_asks_the_health_service_and_comes_back() {
        let c = container(
            "name: a\nimage: x\nlivenessProbe:\n  grpc: {port: 9090, service: db}\nreadinessProbe:\n  grpc: {port: 9091}\n",
        );
        let l = check(
            "livenessProbe",
            c.liveness_probe.as_ref().unwrap(),
            &c,
            true,
        )
        .unwrap();
        assert_eq!(l.test, ["GRPC", "127.0.0.1:9090", "db"]);
        let r = check(
            "readinessProbe",
            c.readiness_probe.as_ref().unwrap(),
            &c,
            false,
        )
        .unwrap();
        assert_eq!(r.test, ["GRPC", "127.0.0.1:9091"]);
        assert_eq!(probe(&l).unwrap(), *c.liveness_probe.as_ref().unwrap());
        assert_eq!(probe(&r).unwrap(), *c.readiness_probe.as_ref().unwrap());
    }

    #[test]
    fn a_docker_healthcheck_keeps_its_own_defaults() {
        let hc = Healthcheck {
            test: vec!["CMD-SHELL".into(), "true".into()],
            ..Default::default()
        };
        let p = probe(&hc).unwrap();
        assert_eq!(p.period_seconds, Some(30), "Docker's default interval");
        assert_eq!(p.timeout_seconds, Some(30));
        assert_eq!(p.failure_threshold, None);
    }

    #[test]
    fn what_cannot_be_checked_is_refused_by_name() {
        let c = container(
            "name: a\nimage: x\nreadinessProbe:\n  httpGet: {port: 80, scheme: FTP}\nlivenessProbe:\n  tcpSocket: {port: 80, host: db.example}\nstartupProbe:\n  httpGet: {port: http}\n",
        );
        let e = |p: &Option<Probe>| check("p", p.as_ref().unwrap(), &c, false).unwrap_err();
        assert_eq!(
            e(&c.readiness_probe),
            "p: httpGet scheme FTP is not supported"
        );
        assert_eq!(
            e(&c.liveness_probe),
            "p: host \"db.example\" is not an IP address"
        );
        assert_eq!(
            e(&c.startup_probe),
            "p: no container port is named \"http\""
        );
    }
}
