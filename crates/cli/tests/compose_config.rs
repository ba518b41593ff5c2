//! `minotaur compose config`: the loader through the command line. Needs no root and touches nothing
//! outside a temporary directory.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_minotaur");

fn compose(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("compose")
        .args(args)
        .current_dir(dir)
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_PROFILES")
        .env("MINOTAUR_ROOT", "/nonexistent/minotaur-compose-test")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const FILE: &str = "\
networks:
  default:
    internal: true
  public:
services:
  php:
    image: php:${PHP_TAG:-8}
  browser:
    image: firefox
    network_mode: service:php
  proxy:
    image: socat
    ports: ['3000:3000']
    networks: [default, public]
  tools:
    image: busybox
    profiles: [debug]
";

#[test]
fn config_prints_the_normalised_project() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("Tutorial");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("compose.yaml"), FILE).unwrap();
    std::fs::write(project.join(".env"), "PHP_TAG=8.3\n").unwrap();

    let out = compose(&project, &["config", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["name"], "tutorial");
    assert_eq!(json["services"]["php"]["image"], "php:8.3");
    assert_eq!(json["networks"]["default"]["internal"], true);
    assert_eq!(
        json["services"]["browser"]["depends_on"]["php"]["restart"],
        true
    );
    assert!(json["services"].get("tools").is_none());

    // The YAML output reads back as the same project.
    let yaml = compose(&project, &["config"]);
    assert!(yaml.status.success());
    std::fs::write(dir.path().join("again.yaml"), &yaml.stdout).unwrap();
    let again = compose(
        dir.path(),
        &["-f", "again.yaml", "config", "--format", "json"],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&again.stdout).unwrap(),
        json
    );

    let services = compose(&project, &["--profile", "debug", "config", "--services"]);
    assert_eq!(text(&services.stdout), "browser\nphp\nproxy\ntools\n");
    let named = compose(&project, &["-p", "other", "config", "--services", "tools"]);
    assert!(text(&named.stdout).contains("tools"));

    let hash = compose(&project, &["config", "--hash", "php,proxy"]);
    let lines: Vec<String> = text(&hash.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("php ") && lines[0].len() == 4 + 64,
        "{lines:?}"
    );
    let other = compose(
        &project,
        &["--env-file", "/dev/null", "config", "--hash", "php"],
    );
    assert_ne!(
        text(&other.stdout).trim(),
        lines[0],
        "the hash follows the image"
    );
}

#[test]
fn bad_files_fail_with_one_line_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for (body, place, what) in [
        (
            "services:\n  web:\n    image: x\n    depends_on: [db]\n",
            "compose.yaml:4:",
            "undefined service \"db\"",
        ),
        (
            "services:\n  web:\n    image: x\n   oops: [\n",
            "compose.yaml:",
            "malformed YAML",
        ),
        (
            "services:\n  web:\n    image: ${NEED:?please set NEED}\n",
            "compose.yaml:3:",
            "please set NEED",
        ),
        (
            "services:\n  web:\n    image: x\n    read_only: 7\n",
            "compose.yaml:4:",
            "services.web.read_only",
        ),
    ] {
        std::fs::write(dir.path().join("compose.yaml"), body).unwrap();
        let out = compose(dir.path(), &["config"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(out.stdout.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("minotaur: ") && err.contains(place) && err.contains(what),
            "{err}"
        );
    }
}

#[test]
fn unsupported_keys_warn_or_fail_under_strict() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  web:\n    image: x\n    deploy:\n      placement:\n        constraints: [a]\n",
    )
    .unwrap();
    let out = compose(dir.path(), &["config", "-q"]);
    assert!(out.status.success());
    assert!(text(&out.stderr)
        .contains("compose.yaml:5: services.web.deploy.placement is not supported"));
    let out = compose(dir.path(), &["config", "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("services.web.deploy.placement is not supported"));
}

#[test]
fn no_compose_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = compose(dir.path(), &["config"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no compose file"),
        "{}",
        text(&out.stderr)
    );
}
