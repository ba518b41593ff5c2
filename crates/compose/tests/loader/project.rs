//! The tutorial's file, the default file found upwards, and the project name's precedence.

use super::*;

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
