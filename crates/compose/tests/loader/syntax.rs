//! Errors that name the file and line, unsupported keys, long and short syntaxes, the config hash,
//! `userns_mode`.

use super::*;

#[test]
fn errors_name_the_file_and_line() {
    let cases = [
        ("services:\n  web:\n    image: x\n   bad: [\n", "compose.yaml:", "malformed YAML"),
        ("services:\n  web:\n    image: x\n    depends_on:\n      - db\n", "compose.yaml:5:", "undefined service \"db\""),
        (
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
            "compose.yaml:",
            "dependency cycle: a -> b -> a",
        ),
        ("services:\n  a:\n    image: x\n    depends_on: [a]\n", "compose.yaml:4:", "dependency cycle: a -> a"),
        ("services:\n  web:\n    image: x\n    privileged: 3\n", "compose.yaml:4:", "services.web.privileged"),
        ("services:\n  web:\n    image: x\n    ports:\n      - {target: [1]}\n", "compose.yaml:5:", "services.web.ports.0"),
        ("services:\n  web:\n    image: x\n    unknown_key: 1\n", "compose.yaml:2:", "unknown_key"),
        ("services:\n  web:\n    image: x\n    ports: ['99999:80']\n", "compose.yaml:4:", "invalid port"),
        ("services:\n  web:\n    image: x\n    networks: [nope]\n", "compose.yaml:4:", "undefined network \"nope\""),
        ("services:\n  web:\n    image: x\n    volumes: ['data:/d']\n", "compose.yaml:4:", "undefined volume \"data\""),
        ("services:\n  web:\n    image: x\n    network_mode: service:db\n", "compose.yaml:4:", "undefined service"),
        ("services:\n  web:\n    image: x\n    privileged: \"maybe\"\n", "compose.yaml:4:", "not a boolean"),
        ("services:\n  web:\n    image: x\n    healthcheck:\n      interval: soon\n", "compose.yaml:5:", "invalid duration"),
        ("- a\n- b\n", "compose.yaml", "must be a mapping"),
        ("# nothing\n", "compose.yaml", "empty compose file"),
    ];
    for (text, place, what) in cases {
        let e = err_text(text);
        assert!(e.contains(place) && e.contains(what), "{text:?} gave {e:?}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn unsupported_keys_warn_and_fail_under_strict() {
    let text = "services:\n  web:\n    image: x\n    deploy:\n      placement:\n        constraints: [a]\n    \
                blkio_config: {weight: 10}\n";
    let l = load_text(text).unwrap();
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.iter()
            .any(|w| w.ends_with("compose.yaml:5: services.web.deploy.placement is not supported")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.ends_with("compose.yaml:7: services.web.blkio_config is not supported")),
        "{w:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", text);
    let mut o = opts(dir.path(), &[]);
    o.strict = true;
    let e = load(&o).unwrap_err().to_string();
    assert!(e.contains("is not supported"), "{e}");
    // Extensions are not features: no warning.
    let l = load_text("x-common: &c {image: x}\nservices:\n  web:\n    <<: *c\n    x-note: hi\n")
        .unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.config["services"]["web"]["image"], "x");
    assert!(l.config["x-common"].is_object());
}

#[test]
fn long_and_short_syntaxes_normalise_alike() {
    let l = load_text(
        "services:\n  s:\n    image: x\n    ports:\n      - 127.0.0.1:8000-8001:80-81/udp\n      - target: 443\n        published: 8443\n    \
         volumes:\n      - /abs:/abs:ro\n      - named:/n\n      - /anon\n      - ~/cache:/cache\n    \
         healthcheck:\n      test: curl -f localhost\n      interval: 90s\n      retries: 3\n    \
         extra_hosts:\n      - b:10.0.0.2\n      - a=10.0.0.1\n    stop_grace_period: 1m\n    \
         deploy:\n      resources:\n        limits: {cpus: '0.5', memory: 512m}\n      restart_policy: {condition: on-failure, delay: 5s}\n    \
         secrets: [token]\n    ulimits: {nofile: {soft: 1, hard: 2}, nproc: 10}\n\
         volumes:\n  named: {}\nsecrets:\n  token: {file: ./token.txt}\n",
    )
    .unwrap();
    let s = &l.config["services"]["s"];
    assert_eq!(
        s["ports"],
        json!([
            {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8000", "protocol": "udp"},
            {"mode": "ingress", "host_ip": "127.0.0.1", "target": 81, "published": "8001", "protocol": "udp"},
            {"mode": "ingress", "target": 443, "published": "8443", "protocol": "tcp"}
        ])
    );
    assert_eq!(
        s["volumes"],
        json!([
            {"type": "bind", "source": "/abs", "target": "/abs", "read_only": true, "bind": {}},
            {"type": "volume", "source": "named", "target": "/n", "volume": {}},
            {"type": "volume", "target": "/anon", "volume": {}},
            {"type": "bind", "source": "/home/u/cache", "target": "/cache", "bind": {}}
        ])
    );
    assert_eq!(
        s["healthcheck"],
        json!({"test": ["CMD-SHELL", "curl -f localhost"], "interval": "1m30s", "retries": 3})
    );
    assert_eq!(s["extra_hosts"], json!(["a=10.0.0.1", "b=10.0.0.2"]));
    assert_eq!(s["stop_grace_period"], "1m0s");
    assert_eq!(
        s["deploy"]["resources"]["limits"],
        json!({"cpus": 0.5, "memory": "536870912"})
    );
    assert_eq!(
        s["secrets"],
        json!([{"source": "token", "target": "/run/secrets/token"}])
    );
    let svc = &l.project.services["s"];
    assert_eq!(
        svc.healthcheck.as_ref().unwrap().interval,
        Some(std::time::Duration::from_secs(90))
    );
    let limits = svc
        .deploy
        .as_ref()
        .unwrap()
        .resources
        .limits
        .as_ref()
        .unwrap();
    assert_eq!((limits.cpus, limits.memory), (Some(0.5), Some(512 << 20)));
    assert!(svc.volumes[0].read_only && svc.volumes[0].bind.as_ref().unwrap().create_host_path);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn config_hash_is_canonical() {
    let a = load_text(
        "services:\n  s:\n    image: x\n    environment: {A: '1', B: '2'}\n    depends_on: []\n",
    )
    .unwrap();
    let b = load_text("services:\n  s:\n    environment: [B=2, A=1]\n    image: x\n    scale: 2\n")
        .unwrap();
    let c =
        load_text("services:\n  s:\n    image: x\n    environment: {A: '1', B: '3'}\n").unwrap();
    let (ha, hb, hc) = (
        a.service_hash("s").unwrap(),
        b.service_hash("s").unwrap(),
        c.service_hash("s").unwrap(),
    );
    assert_eq!(ha.len(), 64);
    assert_eq!(ha, hb);
    assert_ne!(ha, hc);
}

#[test]
fn userns_mode_is_host_or_auto_and_anything_else_is_refused_by_its_path() {
    let l = load_text(
        "services:\n  a:\n    image: x\n    userns_mode: auto\n  b:\n    image: x\n    userns_mode: auto:size=1000\n  c:\n    image: x\n    userns_mode: host\n  d:\n    image: x\n",
    )
    .unwrap();
    let mode = |s: &str| l.project.services[s].userns_mode.clone();
    assert_eq!(mode("a").as_deref(), Some("auto"));
    assert_eq!(mode("b").as_deref(), Some("auto:size=1000"));
    assert_eq!(mode("c").as_deref(), Some("host"));
    assert_eq!(mode("d"), None);
    for bad in ["keep-id", "auto:size=0", "auto:size=x", "private", "''"] {
        let e = err_text(&format!(
            "services:\n  web:\n    image: x\n    userns_mode: {bad}\n"
        ));
        assert!(
            e.contains("compose.yaml:4") && e.contains("services.web.userns_mode"),
            "{bad}: {e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}
