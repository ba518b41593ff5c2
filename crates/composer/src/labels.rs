//! Names and labels: what makes a container, network or volume part of a compose project, in the
//! `com.docker.compose.*` vocabulary docker compose writes, so tools that read Docker's labels see the same
//! project.

use std::collections::BTreeMap;

use minotaur_compose::model::Dependency;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const IMAGE: &str = "com.docker.compose.image";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";
pub const VERSION: &str = "com.docker.compose.version";
/// The service's normalised configuration, canonical JSON: what `up --dry-run --explain` compares the
/// file with to name the keys that changed. minotaur's own, since the hash alone cannot say.
pub const CONFIG: &str = "io.minotaur.compose.config";

/// The version written in [`VERSION`]: the compose specification level minotaur follows.
pub const COMPOSE_VERSION: &str = "2.0.0";

/// `PROJECT-SERVICE-N`, docker compose v2's container name.
pub fn container_name(project: &str, service: &str, number: u32) -> String {
    format!("{project}-{service}-{number}")
}

/// `PROJECT-SERVICE-run-ID`, a one-off container's name (`compose run`).
pub fn oneoff_name(project: &str, service: &str, id: &str) -> String {
    format!("{project}-{service}-run-{id}")
}

/// The `depends_on` label: `SERVICE:CONDITION:RESTART` joined by commas, as docker compose writes it.
pub fn depends_on(deps: &BTreeMap<String, Dependency>) -> String {
    deps.iter()
        .map(|(name, d)| format!("{name}:{}:{}", d.condition, d.restart))
        .collect::<Vec<_>>()
        .join(",")
}

/// The labels of a project's network or volume.
pub fn resource(project: &str, kind: &'static str, key: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (PROJECT.to_owned(), project.to_owned()),
        (kind.to_owned(), key.to_owned()),
        (VERSION.to_owned(), COMPOSE_VERSION.to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_dependency_labels_read_like_docker_composes() {
        assert_eq!(container_name("app", "web", 1), "app-web-1");
        assert_eq!(oneoff_name("app", "web", "0a1b"), "app-web-run-0a1b");
        let deps = BTreeMap::from([
            (
                "db".to_owned(),
                Dependency {
                    condition: "service_healthy".into(),
                    restart: true,
                    required: true,
                },
            ),
            (
                "init".to_owned(),
                Dependency {
                    condition: "service_completed_successfully".into(),
                    restart: false,
                    required: true,
                },
            ),
        ]);
        assert_eq!(
            depends_on(&deps),
            "db:service_healthy:true,init:service_completed_successfully:false"
        );
    }
}
