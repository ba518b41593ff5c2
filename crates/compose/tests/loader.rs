//! The loader end to end, on files in temporary directories and on compose-go's corpus. No root needed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use minotaur_compose::{load, LoadError, Loaded, Options};
use serde_json::json;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p
}

fn opts(dir: &Path, files: &[&str]) -> Options {
    Options {
        files: files.iter().map(PathBuf::from).collect(),
        working_dir: dir.to_path_buf(),
        environment: BTreeMap::from([("HOME".to_owned(), "/home/u".to_owned())]),
        ..Options::default()
    }
}

fn load_text(text: &str) -> Result<Loaded, LoadError> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", text);
    load(&opts(dir.path(), &[]))
}

fn err_text(text: &str) -> String {
    load_text(text).map(|_| ()).unwrap_err().to_string()
}

/// compose-go's test data, copied into `tests/corpus` (Apache-2.0, see its README).
fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/compose-go");
    p.is_dir().then_some(p)
}

const TUTORIAL: &str = "\
networks:
  default:
    internal: true
  public:

services:
  php:
    image: itsziget/phar-examples:1.0

  firefox:
    network_mode: service:php
    environment:
      PUID: 1000
      PGID: 1000
      TZ: Europe/London
    shm_size: \"1gb\"
    image: lscr.io/linuxserver/firefox:101.0.1

  proxy:
    image: alpine/socat:1.7.4.4-r0
    command: \"TCP-LISTEN:3000,fork,reuseaddr TCP:php:3000\"
    ports:
      - 3000:3000
    networks:
      - default
      - public
";

#[test]
fn tutorial_compose_file_loads_and_normalises() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("netns");
    write(&project, "compose.yml", TUTORIAL);
    let loaded = load(&opts(&project, &[])).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let want = json!({
        "name": "netns",
        "networks": {
            "default": {"name": "netns_default", "internal": true, "ipam": {}},
            "public": {"name": "netns_public", "ipam": {}}
        },
        "services": {
            "firefox": {
                "image": "lscr.io/linuxserver/firefox:101.0.1",
                "network_mode": "service:php",
                "environment": {"PGID": "1000", "PUID": "1000", "TZ": "Europe/London"},
                "shm_size": "1073741824",
                "depends_on": {"php": {"condition": "service_started", "restart": true, "required": true}}
            },
            "php": {
                "image": "itsziget/phar-examples:1.0",
                "networks": {"default": null}
            },
            "proxy": {
                "image": "alpine/socat:1.7.4.4-r0",
                "command": ["TCP-LISTEN:3000,fork,reuseaddr", "TCP:php:3000"],
                "ports": [{"mode": "ingress", "target": 3000, "published": "3000", "protocol": "tcp"}],
                "networks": {"default": null, "public": null}
            }
        }
    });
    assert_eq!(loaded.config, want);
    let p = &loaded.project;
    assert!(p.networks["default"].internal);
    assert_eq!(p.services["firefox"].shm_size, Some(1 << 30));
    assert_eq!(
        p.services["firefox"].network_mode.as_deref(),
        Some("service:php")
    );
    assert!(p.services["firefox"].depends_on["php"].restart);
    assert_eq!(p.services["proxy"].ports[0].target, 3000);
    assert_eq!(p.services["proxy"].networks.len(), 2);
}

#[test]
fn default_file_is_found_upwards_and_names_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("My_App.v2");
    write(&root, "docker-compose.yml", "services: {a: {image: x}}\n");
    write(&root, "compose.yaml", "services: {b: {image: x}}\n");
    let deep = root.join("src/deep");
    fs::create_dir_all(&deep).unwrap();
    let loaded = load(&opts(&deep, &[])).unwrap();
    assert_eq!(loaded.files, [root.join("compose.yaml")]);
    assert_eq!(loaded.project.name, "my_appv2");
    assert!(loaded.project.services.contains_key("b"));
}

#[test]
fn project_name_precedence() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "name: From-File\nservices: {a: {image: x}}\n",
    );
    let mut o = opts(dir.path(), &[]);
    assert_eq!(load(&o).unwrap().project.name, "from-file");
    // `name:` comes before COMPOSE_PROJECT_NAME, which names a project only when the file does not.
    o.environment
        .insert("COMPOSE_PROJECT_NAME".into(), "fromenv".into());
    assert_eq!(load(&o).unwrap().project.name, "from-file");
    write(dir.path(), "compose.yaml", "services: {a: {image: x}}\n");
    assert_eq!(load(&o).unwrap().project.name, "fromenv");
    write(
        dir.path(),
        "compose.yaml",
        "name: From-File\nservices: {a: {image: x}}\n",
    );
    o.project_name = Some("flag".into());
    assert_eq!(load(&o).unwrap().project.name, "flag");
    o.project_name = Some("Bad Name".into());
    assert!(matches!(load(&o), Err(LoadError::ProjectName { .. })));
    // `name:` is interpolated, and the networks take the project's name.
    let l = load_text("name: app-${X:-one}\nservices: {a: {image: x}}\n").unwrap();
    assert_eq!(l.project.name, "app-one");
    assert_eq!(l.project.networks["default"].name, "app-one_default");
}

#[test]
fn every_interpolation_form() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  s:\n    image: \"${IMG}\"\n    labels:\n      a: \"${UNSET:-d1}\"\n      b: \"${EMPTY:-d2}\"\n      \
         c: \"${EMPTY-d3}\"\n      d: \"${UNSET-d4}\"\n      e: \"${SET:+alt}\"\n      f: \"${EMPTY+alt2}\"\n      \
         g: \"${UNSET:+never}\"\n      h: \"$$SET and $${SET}\"\n      i: \"${UNSET:-${ALSO_UNSET:-${SET}}}\"\n      \
         j: \"${SET:?unused}\"\n      k: \"$SET/${SET}\"\n    privileged: \"${PRIV:-true}\"\n    cpus: \"${CPUS}\"\n",
    );
    let mut o = opts(dir.path(), &[]);
    o.environment.extend([
        ("IMG".to_owned(), "nginx".to_owned()),
        ("SET".to_owned(), "v".to_owned()),
        ("EMPTY".to_owned(), String::new()),
        ("CPUS".to_owned(), "0.5".to_owned()),
    ]);
    let l = load(&o).unwrap();
    let s = &l.config["services"]["s"];
    assert_eq!(s["image"], "nginx");
    let want = json!({"a": "d1", "b": "d2", "c": "", "d": "d4", "e": "alt", "f": "alt2", "g": "",
        "h": "$SET and ${SET}", "i": "v", "j": "v", "k": "v/v"});
    assert_eq!(s["labels"], want);
    assert_eq!(s["privileged"], true);
    assert_eq!(s["cpus"], 0.5);
    assert!(l.project.services["s"].privileged);
}

#[test]
fn undefined_required_variable_names_file_and_line() {
    let e = err_text(
        "services:\n  s:\n    image: x\n    environment:\n      DB: ${DB_URL:?set DB_URL first}\n",
    );
    assert!(e.contains("compose.yaml:5:"), "{e}");
    assert!(
        e.contains("required variable DB_URL is missing a value: set DB_URL first"),
        "{e}"
    );
    let e = err_text("services:\n  s:\n    image: ${BROKEN\n");
    assert!(
        e.contains("compose.yaml:3:") && e.contains("invalid interpolation"),
        "{e}"
    );
}

#[test]
fn unset_variable_warns() {
    let l = load_text("services:\n  s:\n    image: \"x${NOPE}\"\n").unwrap();
    assert_eq!(l.warnings.len(), 1);
    assert!(l.warnings[0]
        .to_string()
        .contains("compose.yaml:3: the \"NOPE\" variable is not set"));
}

#[test]
fn env_precedence_dotenv_env_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".env",
        "A=dotenv\nB=dotenv\nC=dotenv\nREF=${C}-ref\n",
    );
    write(dir.path(), "other.env", "A=other\n");
    write(
        dir.path(),
        "svc.env",
        "FROM_FILE=1\nOVERRIDDEN=file\nINTERP=${B}\n",
    );
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  s:\n    image: \"$A-$B-$C-$REF\"\n    env_file: svc.env\n    \
         environment:\n      - OVERRIDDEN=env\n      - B\n      - NOT_ANYWHERE\n",
    );
    let mut o = opts(dir.path(), &[]);
    o.environment.insert("B".into(), "os".into());
    let l = load(&o).unwrap();
    let s = &l.config["services"]["s"];
    // The OS environment wins over .env; .env values refer to each other.
    assert_eq!(s["image"], "dotenv-os-dotenv-dotenv-ref");
    assert_eq!(
        s["environment"],
        json!({"B": "os", "FROM_FILE": "1", "INTERP": "os", "NOT_ANYWHERE": null, "OVERRIDDEN": "env"})
    );
    assert!(s.get("env_file").is_none());
    // --env-file replaces .env; env_file values do not reach interpolation.
    o.env_files = vec!["other.env".into()];
    let l = load(&o).unwrap();
    assert_eq!(l.config["services"]["s"]["image"], "other-os--");
    // A required env_file that is missing is an error with its line.
    let e = err_text("services:\n  s:\n    image: x\n    env_file:\n      - missing.env\n");
    assert!(
        e.contains("compose.yaml:5:") && e.contains("missing.env"),
        "{e}"
    );
    let l = load_text("services:\n  s:\n    image: x\n    env_file:\n      - path: missing.env\n        required: false\n").unwrap();
    assert!(l.config["services"]["s"]
        .get("environment")
        .is_none_or(|e| e == &json!({})));
}

#[test]
fn merging_several_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: web:1\n    command: serve --port 80\n    ports: ['8080:80']\n    \
         environment: {A: '1', B: '2'}\n    volumes: ['./data:/data']\n    labels: [keep=1, drop=1]\n  \
         db:\n    image: db\n",
    );
    write(
        dir.path(),
        "override.yaml",
        "services:\n  web:\n    image: web:2\n    command: [serve]\n    ports: ['9090:90']\n    \
         environment: [B=3]\n    volumes: [{type: bind, source: ./other, target: /data}]\n    labels:\n      drop: !reset\n    \
         depends_on: [db]\n",
    );
    let l = load(&opts(dir.path(), &["compose.yaml", "override.yaml"])).unwrap();
    let web = &l.config["services"]["web"];
    assert_eq!(web["image"], "web:2");
    assert_eq!(web["command"], json!(["serve"]));
    assert_eq!(web["ports"].as_array().unwrap().len(), 2);
    assert_eq!(web["environment"], json!({"A": "1", "B": "3"}));
    let vols = web["volumes"].as_array().unwrap();
    assert_eq!(vols.len(), 1);
    assert_eq!(
        vols[0]["source"],
        dir.path().join("other").to_str().unwrap()
    );
    assert_eq!(web["labels"], json!({"keep": "1"}));
    assert_eq!(web["depends_on"]["db"]["condition"], "service_started");
}

#[test]
fn extends_in_the_same_file_and_from_another() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "base/common.yaml",
        "services:\n  app:\n    image: app\n    env_file: app.env\n    volumes: ['./conf:/conf']\n    \
         environment: {LEVEL: base, KEEP: 'yes'}\n",
    );
    write(dir.path(), "base/app.env", "FROM_BASE_DIR=1\n");
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    extends: {file: base/common.yaml, service: app}\n    environment: {LEVEL: web}\n  \
         worker:\n    extends: web\n    command: work\n  plain:\n    image: alpine\n    command: sleep 1\n  \
         reset:\n    extends: plain\n    command: !reset\n",
    );
    let l = load(&opts(dir.path(), &[])).unwrap();
    let web = &l.config["services"]["web"];
    assert_eq!(web["image"], "app");
    assert_eq!(
        web["environment"],
        json!({"FROM_BASE_DIR": "1", "KEEP": "yes", "LEVEL": "web"})
    );
    // Relative paths of the base are relative to the base's file.
    let base = dir.path().join("base");
    assert_eq!(
        web["volumes"][0]["source"],
        base.join("conf").to_str().unwrap()
    );
    assert!(web.get("extends").is_none());
    let worker = &l.config["services"]["worker"];
    assert_eq!(worker["image"], "app");
    assert_eq!(worker["command"], json!(["work"]));
    assert_eq!(worker["environment"]["LEVEL"], "web");
    assert!(l.config["services"]["reset"].get("command").is_none());
    assert_eq!(l.config["services"]["reset"]["image"], "alpine");
}

#[test]
fn extends_errors() {
    let e = err_text("services:\n  a:\n    extends: b\n  b:\n    extends: a\n");
    assert!(e.contains("extends cycle"), "{e}");
    let e = err_text("services:\n  a:\n    image: x\n    extends: nope\n");
    assert!(
        e.contains("compose.yaml:4:") && e.contains("\"nope\" not found"),
        "{e}"
    );
}

#[test]
fn include_brings_another_project_s_resources() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "db/.env", "DB_IMAGE=postgres:16\n");
    write(
        dir.path(),
        "db/compose.yaml",
        "services:\n  db:\n    image: ${DB_IMAGE}\n    volumes: ['data:/var/lib/postgresql/data', './init:/init']\n\
         volumes:\n  data: {}\n",
    );
    write(
        dir.path(),
        "compose.yaml",
        "include:\n  - db/compose.yaml\nservices:\n  web:\n    image: web\n    depends_on: [db]\n",
    );
    let l = load(&opts(dir.path(), &[])).unwrap();
    let name = l.project.name.clone();
    let db = &l.config["services"]["db"];
    assert_eq!(db["image"], "postgres:16");
    assert_eq!(
        db["volumes"][1]["source"],
        dir.path().join("db/init").to_str().unwrap()
    );
    assert_eq!(l.config["volumes"]["data"]["name"], format!("{name}_data"));
    // A service defined differently on both sides conflicts.
    write(
        dir.path(),
        "compose.yaml",
        "include:\n  - db/compose.yaml\nservices:\n  db:\n    image: other\n",
    );
    let e = load(&opts(dir.path(), &[])).unwrap_err().to_string();
    assert!(e.contains("services.db conflicts"), "{e}");
    // Including oneself is a cycle.
    write(
        dir.path(),
        "compose.yaml",
        "include:\n  - compose.yaml\nservices: {a: {image: x}}\n",
    );
    let e = load(&opts(dir.path(), &[])).unwrap_err().to_string();
    assert!(e.contains("include cycle"), "{e}");
}

#[test]
fn profiles_and_services_named_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  app:\n    image: a\n  debug:\n    image: d\n    profiles: [debug]\n    depends_on: [helper]\n  \
         helper:\n    image: h\n    profiles: [tools]\n  other:\n    image: o\n    profiles: [other]\n",
    );
    let mut o = opts(dir.path(), &[]);
    let l = load(&o).unwrap();
    assert_eq!(l.project.services.keys().collect::<Vec<_>>(), ["app"]);
    assert_eq!(l.project.disabled.len(), 3);
    // Enabling debug alone leaves its required dependency disabled: an error.
    o.profiles = vec!["debug".into()];
    let e = load(&o).unwrap_err().to_string();
    assert!(
        e.contains("compose.yaml:7:") && e.contains("profile is not enabled"),
        "{e}"
    );
    o.profiles = vec!["debug".into(), "tools".into()];
    assert_eq!(load(&o).unwrap().project.services.len(), 3);
    // Naming a service enables it and what it depends on.
    o.profiles = vec![];
    o.services = vec!["debug".into()];
    let l = load(&o).unwrap();
    assert_eq!(
        l.project.services.keys().collect::<Vec<_>>(),
        ["app", "debug", "helper"]
    );
    o.services = vec![];
    o.environment
        .insert("COMPOSE_PROFILES".into(), "other".into());
    assert!(load(&o).unwrap().project.services.contains_key("other"));
    o.profiles = vec!["*".into()];
    assert_eq!(load(&o).unwrap().project.services.len(), 4);
}

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
fn dotenv_fixtures_of_compose_go() {
    let Some(corpus) = corpus() else {
        panic!("the compose-go corpus is missing from tests/corpus");
    };
    let fixtures = corpus.join("dotenv/fixtures");
    let parse = |name: &str| {
        let text = fs::read_to_string(fixtures.join(name)).unwrap();
        minotaur_compose::dotenv::parse(&text, &|n| {
            (n == "VAR_TO_BE_LOADED_FROM_OS_ENV").then(|| "from_os".to_owned())
        })
    };
    let expect = |name: &str, want: &[(&str, &str)]| {
        let got = parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want: BTreeMap<String, String> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got: BTreeMap<String, String> = got.into_iter().collect();
        assert_eq!(got, want, "{name}");
    };
    let plain = [
        ("OPTION_A", "1"),
        ("OPTION_B", "2"),
        ("OPTION_C", "3"),
        ("OPTION_D", "4"),
        ("OPTION_E", "5"),
        ("456", "ABC"),
        ("OPTION_F", ""),
        ("OPTION_G", ""),
        ("OPTION_H", "my string"),
    ];
    expect("plain.env", &plain);
    expect("utf8-bom.env", &plain);
    expect(
        "quoted.env",
        &[
            ("OPTION_A", "1"),
            ("OPTION_B", "2"),
            ("OPTION_C", ""),
            ("OPTION_D", "\\n"),
            ("OPTION_E", "1"),
            ("OPTION_F", "2"),
            ("OPTION_G", ""),
            ("OPTION_H", "\n"),
            ("OPTION_I", "echo 'asd'"),
            ("OPTION_J", "first line\nsecond line\nthird line\nand so on"),
            ("OPTION_K", "Let's go!"),
            ("OPTION_Z", "last value"),
        ],
    );
    expect(
        "unquoted.env",
        &[
            ("OPTION_A", "some quoted phrase"),
            ("OPTION_B", "first one with an unquoted phrase"),
            ("OPTION_C", "then another one with an unquoted phrase"),
            (
                "OPTION_D",
                "then another one with an unquoted phrase special è char",
            ),
            ("OPTION_E", "then another one quoted phrase"),
        ],
    );
    expect("exported.env", &[("OPTION_A", "2"), ("OPTION_B", "\\n")]);
    expect(
        "equals.env",
        &[(
            "OPTION_A",
            "postgres://localhost:5432/database?sslmode=disable",
        )],
    );
    expect(
        "substitutions.env",
        &[
            ("OPTION_A", "1"),
            ("OPTION_B", "1"),
            ("OPTION_C", "1"),
            ("OPTION_D", "1_1"),
            ("OPTION_E", ""),
        ],
    );
    expect(
        "substitutions-default.env",
        &[
            ("OPTION_A", "1"),
            ("OPTION_B", "1"),
            ("OPTION_C", "1"),
            ("OPTION_D", "1_1"),
            ("OPTION_E", ""),
        ],
    );
    expect(
        "special.env",
        &[
            ("VAR.WITH.DOTS", "dots"),
            ("VAR_WITH_UNDERSCORES", "underscores"),
            ("VAR-WITH-DASHES", "dashes"),
        ],
    );
    expect("custom.format", &[("FOO", "BAR"), ("ZOT", "QIX")]);
    expect(
        "inherited-single-var.env",
        &[("VAR_TO_BE_LOADED_FROM_OS_ENV", "from_os")],
    );
    expect(
        "inherited-multi-var.env",
        &[
            ("foo", "bar"),
            ("VAR_TO_BE_LOADED_FROM_OS_ENV", "from_os"),
            ("bar", "baz"),
        ],
    );
    expect("inherited-not-found.env", &[]);
    let e = parse("invalid1.env").unwrap_err().to_string();
    assert!(e.contains("line 7: key cannot contain a space"), "{e}");
}

/// Every file of compose-go's loader testdata: what loads, loads; what compose rejects, fails with the
/// reason the spec implies.
#[test]
fn compose_go_loader_corpus() {
    let Some(corpus) = corpus() else {
        panic!("the compose-go corpus is missing from tests/corpus");
    };
    let data = corpus.join("loader/testdata");
    let run = |file: &str, env: &[(&str, &str)]| {
        let path = data.join(file);
        let mut o = opts(
            path.parent().unwrap(),
            &[path.file_name().unwrap().to_str().unwrap()],
        );
        o.project_name = Some("corpus".into());
        o.environment
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        load(&o)
    };
    let ok = |file: &str| run(file, &[]).unwrap_or_else(|e| panic!("{file}: {e}"));
    let fails = |file: &str, what: &str| {
        let e = run(file, &[]).map(|_| ()).expect_err(file).to_string();
        assert!(e.contains(what), "{file}: {e}");
    };

    let l = ok("compose-test-extends.yaml");
    let imported = &l.config["services"]["importer"];
    assert_eq!(imported["image"], "nginx");
    assert_eq!(imported["container_name"], "imported");
    assert_eq!(imported["environment"], json!({"SOURCE": "extends"}));
    assert_eq!(imported["volumes"][0]["source"], "/opt/data");

    let l = ok("compose-include.yaml");
    assert_eq!(
        l.config["services"]["imported"]["environment"],
        json!({"SOURCE": "extends"})
    );
    assert_eq!(
        l.config["services"]["bar"]["environment"],
        json!({"FOO": "BAR"})
    );

    let l = ok("compose-test-with-version.yaml");
    assert!(l
        .warnings
        .iter()
        .any(|w| w.message.contains("`version` is obsolete")));
    assert!(l
        .warnings
        .iter()
        .any(|w| w.message.contains("volumes_from is not supported")));
    assert_eq!(l.config["services"]["other"]["command"], json!(["top"]));

    fails("compose-depends-on-cycle.yaml", "dependency cycle");
    fails(
        "compose-depends-on-profile-no-cycle.yaml",
        "dependency cycle",
    );
    fails(
        "compose-depends-on-self.yaml",
        "dependency cycle: service1 -> service1",
    );
    fails("compose-include-cycle.yaml", "include cycle");
    fails("empty.yaml", "empty compose file");

    let l = ok("combined/compose.yaml");
    assert_eq!(
        l.config["services"]["service"]["build"]["context"],
        data.join("combined/dir").to_str().unwrap()
    );

    let l = ok("include/compose.yaml");
    assert_eq!(
        l.config["services"]["included"]["volumes"][0]["source"],
        data.join("include").to_str().unwrap()
    );
    let l = ok("include/project-directory.yaml");
    assert_eq!(
        l.config["services"]["service"]["environment"],
        json!({"SOURCE": "extends"})
    );
    // TestIncludeWithProjectDirectory: paths are the included project's directory's.
    assert_eq!(
        l.config["services"]["service"]["build"]["context"],
        data.join("subdir").to_str().unwrap()
    );
    assert_eq!(
        l.config["services"]["service"]["volumes"][0]["source"],
        data.join("subdir/compose-test-extends-imported.yaml")
            .to_str()
            .unwrap()
    );

    // base.yaml is only a base to extend: on its own, its empty service `nil` is not a mapping.
    fails(
        "extends/base.yaml",
        "base.yaml:25: services.nil: null is not of type \"object\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let base = data.join("extends/base.yaml");
    let text = format!(
        "services:\n  test1: {{extends: {{file: {b}, service: base}}, hostname: test1}}\n  \
         test3: {{extends: {{file: {b}, service: another}}, hostname: test3}}\n  \
         ulimits: {{extends: {{file: {b}, service: withUlimits}}}}\n  \
         build: {{extends: {{file: {b}, service: with-build}}}}\n  \
         nil: {{image: test, extends: {{file: {b}, service: nil}}}}\n",
        b = base.display()
    );
    write(dir.path(), "compose.yaml", &text);
    let l = load(&opts(dir.path(), &[])).unwrap();
    let s = &l.config["services"];
    assert_eq!(
        (&s["test1"]["image"], &s["test1"]["hostname"]),
        (&json!("base"), &json!("test1"))
    );
    assert_eq!(
        (&s["test3"]["image"], &s["test3"]["hostname"]),
        (&json!("base"), &json!("test3"))
    );
    assert_eq!(
        s["ulimits"]["ulimits"],
        json!({"nproc": 65535, "nofile": {"soft": 20000, "hard": 40000}})
    );
    assert_eq!(
        s["build"]["build"]["context"],
        data.join("extends").to_str().unwrap()
    );
    assert_eq!(s["nil"]["image"], "test");
    let l = ok("extends/nested.yaml");
    assert_eq!(
        l.config["services"]["with-build"]["build"]["context"],
        data.join("extends").to_str().unwrap()
    );
    let l = ok("extends/withdir/compose.yaml");
    assert_eq!(l.config["services"]["test"]["image"], "hello-world");
    let l = ok("extends/reset.yaml");
    assert!(l.config["services"]["base"].get("command").is_none());
    let l = run("extends/interpolated.yaml", &[("SOURCE", "/src")]).unwrap();
    assert_eq!(l.config["services"]["foo"]["volumes"][0]["source"], "/src");
    let l = ok("extends/interpolated.yaml");
    assert_eq!(
        l.config["services"]["foo"]["volumes"][0]["source"],
        "/dev/null"
    );
    let l = ok("extends/depends_on.yaml");
    assert_eq!(
        l.config["services"]["with_network_mode"]["depends_on"]["zot"]["restart"],
        true
    );
    ok("extends/ports.yaml");
    ok("extends/sibling.yaml");

    let l = ok("compose-test-extends-with-context-url.yaml");
    assert_eq!(
        l.config["services"]["importer-with-https-url"]["build"]["context"],
        "https://github.com/docker/compose.git"
    );
    fails(
        "remote/cycle/compose.yaml",
        "remote files are not supported",
    );
    fails(
        "remote/nested/compose.yaml",
        "remote files are not supported",
    );
    let l = ok("remote/compose.yaml");
    assert_eq!(
        l.config["services"]["foo"]["environment"],
        json!({"FOO": "BAR"})
    );
}

#[test]
fn compose_go_cli_corpus() {
    let Some(corpus) = corpus() else {
        panic!("the compose-go corpus is missing from tests/corpus");
    };
    let dir = corpus.join("cli/testdata");
    // .env in the project directory sets the project name and is used for interpolation.
    let simple = dir.join("simple");
    let l = load(&opts(&simple, &["compose-with-variables.yaml"])).unwrap();
    assert_eq!(
        l.config["services"]["simple"]["ports"][0]["published"],
        "8000"
    );
    assert_eq!(l.project.name, "simple");
    let mut o = opts(&simple, &["compose-name.yaml"]);
    o.environment.insert("TEST".into(), "Value".into());
    assert_eq!(load(&o).unwrap().project.name, "test-value-test");
    let l = load(&opts(
        &simple,
        &["compose.yaml", "compose-with-overrides.yaml"],
    ))
    .unwrap();
    assert_eq!(l.config["services"]["simple"]["image"], "haproxy");
    let l = load(&opts(&simple, &["compose-with-paths.yaml"])).unwrap();
    assert_eq!(
        l.config["services"]["test"]["volumes"][1]["source"],
        simple.join("relative").to_str().unwrap()
    );
    assert_eq!(
        l.config["services"]["test"]["volumes"][2]["source"],
        simple.join("relative2").to_str().unwrap()
    );

    // COMPOSE_FILE and COMPOSE_PROJECT_NAME from .env, env_file for the container, --env-file overrides.
    let envdir = dir.join("env-file");
    let mut o = opts(&envdir, &["compose-with-env-files.yaml"]);
    let l = load(&o).unwrap();
    assert_eq!(l.project.name, "my_project_from_dot_env");
    assert_eq!(
        l.config["services"]["simple"]["ports"][0]["published"],
        "8000"
    );
    assert_eq!(
        l.config["services"]["simple"]["environment"],
        json!({"DEFAULT_PORT": "9090"})
    );
    o.env_files = vec!["override.env".into()];
    let l = load(&o).unwrap();
    assert_eq!(
        l.config["services"]["simple"]["ports"][0]["published"],
        "9000"
    );
    assert_eq!(l.project.name, "env-file");

    let unnormalized = dir.join("UNNORMALIZED PATH");
    assert_eq!(
        load(&opts(&unnormalized, &[])).unwrap().project.name,
        "unnormalizedpath"
    );
}

#[test]
fn config_output_validates_against_the_schema_and_round_trips() {
    let l = load_text(TUTORIAL).unwrap();
    let yaml = minotaur_compose::output::to_yaml(&l.config);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", &yaml);
    let mut o = opts(dir.path(), &[]);
    o.project_name = Some(l.project.name.clone());
    let again = load(&o).unwrap();
    assert_eq!(again.config, l.config);
}

/// The expectations of compose-go's own tests on the corpus files that `compose_go_loader_corpus` and
/// `compose_go_cli_corpus` do not already check (docs/compose-go-corpus.md lists every file and test).
#[test]
fn compose_go_test_expectations() {
    let Some(corpus) = corpus() else {
        panic!("the compose-go corpus is missing from tests/corpus");
    };
    let data = corpus.join("loader/testdata");
    let dir = tempfile::tempdir().unwrap();
    let inline = |text: &str, env: &[(&str, &str)]| {
        write(dir.path(), "compose.yaml", text);
        let mut o = opts(dir.path(), &[]);
        o.environment
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        load(&o)
    };
    let base = data.join("extends/base.yaml");

    // TestExtendsPort: the base's port.
    let l = inline(
        &format!(
            "services:\n  test:\n    image: test\n    extends: {{file: {}, service: with-port}}\n",
            base.display()
        ),
        &[],
    )
    .unwrap();
    assert_eq!(l.config["services"]["test"]["ports"][0]["target"], 8000);

    // TestExtendsPortOverride: extending a service of a file that is also loaded keeps one port.
    let ports = data.join("extends/ports.yaml");
    write(
        dir.path(),
        "override.yaml",
        &format!(
            "services:\n  test:\n    extends: {{file: {}, service: test}}\n",
            ports.display()
        ),
    );
    let mut o = opts(dir.path(), &[ports.to_str().unwrap(), "override.yaml"]);
    o.project_name = Some("corpus".into());
    let l = load(&o).unwrap();
    assert_eq!(
        l.config["services"]["test"]["ports"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{}",
        l.config["services"]["test"]
    );

    // TestExtendsWihtMissingService: `extends` without `service`.
    let e = inline(
        &format!(
            "services:\n  test:\n    image: test\n    extends:\n      file: {}\n",
            base.display()
        ),
        &[],
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(e.contains("service"), "{e}");

    // TestExtendsWithServiceRef: what the extended service refers to must exist in the extending file.
    let refs = data.join("extends/depends_on.yaml");
    for service in [
        "with_depends_on",
        "with_volumes_from",
        "with_ipc",
        "with_network_mode",
    ] {
        let text = format!(
            "services:\n  bar:\n    extends: {{file: {}, service: {service}}}\n",
            refs.display()
        );
        let e = inline(&text, &[]).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("bar") && e.contains("zot"), "{service}: {e}");
        inline(&format!("{text}  zot:\n    image: zot\n"), &[])
            .unwrap_or_else(|e| panic!("{service} with zot: {e}"));
    }

    // TestLoadWithInclude: an include's env_file interpolates the included file; the environment wins.
    let imported = data.join("subdir/compose-test-extends-imported.yaml");
    let extra = data.join("subdir/extra.env");
    let text = format!(
        "name: test-include\ninclude:\n  - path: {}\n    env_file: {}\nservices:\n  foo:\n    image: busybox\n    depends_on: [imported]\n",
        imported.display(),
        extra.display()
    );
    let l = inline(&text, &[]).unwrap();
    let s = &l.config["services"]["imported"];
    assert_eq!(s["container_name"], "extends");
    assert_eq!(s["image"], "nginx");
    assert_eq!(s["environment"], json!({"SOURCE": "extends"}));
    assert_eq!(s["volumes"][0]["source"], "/opt/data");
    assert_eq!(s["volumes"][0]["target"], "/var/lib/mysql");
    assert_eq!(
        l.config["services"]["foo"]["depends_on"]["imported"],
        json!({"condition": "service_started", "required": true})
    );
    let l = inline(&text, &[("SOURCE", "override")]).unwrap();
    assert_eq!(
        l.config["services"]["imported"]["container_name"],
        "override"
    );

    // TestProjectWithDiscardEnvFile (docker compose's `config` discards env_file too): the file's
    // variables are the container's environment.
    let envdir = corpus.join("cli/testdata/env-file");
    let l = load(&opts(&envdir, &["compose-with-env-file.yaml"])).unwrap();
    let s = &l.config["services"]["simple"];
    assert_eq!(s["environment"], json!({"DEFAULT_PORT": "8080"}));
    assert!(s.get("env_file").is_none(), "{s}");
    assert_eq!(s["ports"][0]["published"], "8000");
    // TestProjectName "by .env": no file named, COMPOSE_FILE and COMPOSE_PROJECT_NAME from .env.
    let l = load(&opts(&envdir, &[])).unwrap();
    assert_eq!(l.project.name, "my_project_from_dot_env");
    assert_eq!(l.files, [envdir.join("compose-with-env-file.yaml")]);

    // TestComposeFileWithVersion (compose-go's test skips normalisation; what `config` adds to it is the
    // default network, resource names, the default Dockerfile and the dependency volumes_from implies).
    let path = data.join("compose-test-with-version.yaml");
    let mut o = opts(path.parent().unwrap(), &["compose-test-with-version.yaml"]);
    o.environment
        .insert("QUX".into(), "qux_from_environment".into());
    let l = load(&o).unwrap();
    let web = &l.config["services"]["web"];
    assert_eq!(
        web["build"],
        json!({"context": data.join("Dockerfile").to_str().unwrap(), "dockerfile": "Dockerfile"})
    );
    assert_eq!(web["networks"], json!({"front": null, "default": null}));
    assert_eq!(web["volumes_from"], json!(["other"]));
    assert_eq!(
        web["depends_on"],
        json!({"other": {"condition": "service_started", "required": true}})
    );
    let other = &l.config["services"]["other"];
    assert_eq!(other["image"], "busybox:1.31.0-uclibc");
    assert_eq!(other["command"], json!(["top"]));
    assert_eq!(
        other["volumes"],
        json!([{"type": "volume", "target": "/data", "volume": {}}])
    );
    assert_eq!(
        l.config["volumes"]["data"],
        json!({"driver": "local", "name": "compose-test-with-version_data"})
    );
    assert_eq!(
        l.config["networks"]["front"],
        json!({"ipam": {}, "name": "compose-test-with-version_front"})
    );

    // TestValidateVariables: the schema accepts a file whose values are still variables (the schema is
    // checked on the raw file here, as compose-go's test does; the loader checks it after interpolation).
    let path = corpus.join("schema/using-variables.yaml");
    let raw = fs::read_to_string(&path).unwrap();
    let doc = minotaur_compose::yaml::parse(&raw, &path).unwrap();
    minotaur_compose::schema::validate(&doc[0]).unwrap();
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
