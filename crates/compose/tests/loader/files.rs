//! Several files merged, `extends`, `include`, profiles and services named on the command line.

use super::*;

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
