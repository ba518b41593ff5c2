//! A project as it exists on the host: its containers, networks and volumes found by their
//! `com.docker.compose.project` label (so `ls`, `ps` and `down` see what an earlier `up` made even after the
//! file changed), and the files its secrets and configs are mounted from.
//!
//! Secrets and configs whose value is not a file (`environment:`, `content:`) are written to
//! `<root>/compose/PROJECT/{secrets,configs}/KEY` (mode 0400, the directory 0700) and bound read-only.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use minotaur_compose::model::FileObject;
use minotaur_compose::Project;
use minotaur_engine::container::{Container, Status};
use minotaur_engine::context::Context;

use crate::error::{engine, ComposerError};
use crate::labels;

/// A project's containers, by service.
#[derive(Debug, Default)]
pub struct Containers {
    /// Containers of services (not one-offs), by service, by container number.
    pub services: BTreeMap<String, Vec<Container>>,
    /// Containers of services the project no longer has.
    pub orphans: Vec<Container>,
    /// `compose run` containers.
    pub oneoffs: Vec<Container>,
}

/// The containers labelled with project `name`; `project` (when loaded) says which services exist.
pub fn containers(
    ctx: &Context,
    name: &str,
    project: Option<&Project>,
) -> Result<Containers, ComposerError> {
    let all = ctx
        .list()
        .map_err(engine("list the containers of project", name))?;
    let mut out = Containers::default();
    for c in all {
        let l = &c.config.labels;
        if l.get(labels::PROJECT).map(String::as_str) != Some(name) {
            continue;
        }
        let service = l.get(labels::SERVICE).cloned().unwrap_or_default();
        if l.get(labels::ONEOFF).map(String::as_str) == Some("True") {
            out.oneoffs.push(c);
        } else if project.is_some_and(|p| {
            !p.services.contains_key(&service) && !p.disabled.contains_key(&service)
        }) {
            out.orphans.push(c);
        } else {
            out.services.entry(service).or_default().push(c);
        }
    }
    for list in out.services.values_mut() {
        list.sort_by_key(number);
    }
    Ok(out)
}

/// A container's number in its service (`com.docker.compose.container-number`).
pub fn number(c: &Container) -> u32 {
    c.config
        .labels
        .get(labels::NUMBER)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The service a container belongs to.
pub fn service_of(c: &Container) -> &str {
    c.config
        .labels
        .get(labels::SERVICE)
        .map(String::as_str)
        .unwrap_or_default()
}

/// One project `compose ls` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    /// Docker's `running(2), exited(1)`.
    pub status: String,
    pub config_files: String,
}

/// Every project some container is labelled with; `all` includes those with nothing running.
pub fn list(ctx: &Context, all: bool) -> Result<Vec<Listed>, ComposerError> {
    let containers = ctx.list().map_err(engine("list", "containers"))?;
    let mut by: BTreeMap<String, (BTreeMap<&'static str, usize>, String)> = BTreeMap::new();
    for c in &containers {
        let Some(p) = c.config.labels.get(labels::PROJECT) else {
            continue;
        };
        let e = by.entry(p.clone()).or_default();
        *e.0.entry(c.state.status.as_str()).or_default() += 1;
        if let Some(f) = c.config.labels.get(labels::CONFIG_FILES) {
            e.1 = f.clone();
        }
    }
    Ok(by
        .into_iter()
        .filter(|(_, (counts, _))| all || counts.contains_key(Status::Running.as_str()))
        .map(|(name, (counts, files))| Listed {
            name,
            status: counts
                .iter()
                .map(|(s, n)| format!("{s}({n})"))
                .collect::<Vec<_>>()
                .join(", "),
            config_files: files,
        })
        .collect())
}

/// Where a project's written secrets and configs live.
pub fn files_dir(ctx: &Context, project: &str) -> PathBuf {
    ctx.paths.root.join("compose").join(project)
}

/// The host file of each secret and config the project's services use: its `file:`, or the value of its
/// `environment:` or `content:` written under [`files_dir`].
pub fn materialise(
    ctx: &Context,
    project: &Project,
    environment: &BTreeMap<String, String>,
) -> Result<BTreeMap<(&'static str, String), PathBuf>, ComposerError> {
    let mut out = BTreeMap::new();
    for (kind, objects) in [("secrets", &project.secrets), ("configs", &project.configs)] {
        let used = |key: &str| {
            project.services.values().any(|s| {
                let refs = if kind == "secrets" {
                    &s.secrets
                } else {
                    &s.configs
                };
                refs.iter().any(|r| r.source == key)
            })
        };
        for (key, obj) in objects.iter().filter(|(k, _)| used(k)) {
            let path = match value(obj, environment) {
                Value::File(f) => f,
                Value::Text(Some(text)) => {
                    let dir = files_dir(ctx, &project.name).join(kind);
                    write_private(&dir, key, &text)?
                }
                Value::Text(None) => {
                    return Err(ComposerError::NoSecretValue {
                        what: if kind == "secrets" {
                            "secret"
                        } else {
                            "config"
                        },
                        name: key.clone(),
                        variable: obj.environment.clone().unwrap_or_default(),
                    })
                }
            };
            out.insert((kind, key.clone()), path);
        }
    }
    Ok(out)
}

enum Value {
    File(PathBuf),
    Text(Option<String>),
}

fn value(obj: &FileObject, environment: &BTreeMap<String, String>) -> Value {
    if let Some(f) = &obj.file {
        return Value::File(PathBuf::from(f));
    }
    if let Some(var) = &obj.environment {
        return Value::Text(environment.get(var).cloned());
    }
    Value::Text(obj.content.clone())
}

fn write_private(dir: &Path, key: &str, text: &str) -> Result<PathBuf, ComposerError> {
    let io = |what, path: &Path| {
        let path = path.to_owned();
        move |source| ComposerError::Io { what, path, source }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("create", dir))?;
    let path = dir.join(key);
    let tmp = dir.join(format!(".{key}.tmp"));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o400)
        .open(&tmp)
        .map_err(io("write", &tmp))?;
    f.write_all(text.as_bytes()).map_err(io("write", &tmp))?;
    fs::rename(&tmp, &path).map_err(io("write", &path))?;
    Ok(path)
}

/// Stops a container gracefully (its stop signal and grace period) and removes it, with its anonymous
/// volumes when `volumes`.
pub(crate) fn remove_container(
    ctx: &Context,
    c: &Container,
    volumes: bool,
) -> Result<(), ComposerError> {
    let name = c.name.to_string();
    if c.state.status == Status::Running {
        minotaur_engine::stop::stop(ctx, c.id.as_str(), None)
            .map_err(engine("stop container", &name))?;
    }
    minotaur_engine::remove::remove(ctx, c.id.as_str(), true, volumes)
        .map_err(engine("remove container", &name))?;
    Ok(())
}
