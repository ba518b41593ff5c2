//! Loading a project: finding its files, its environment and its name, then reading each file (YAML,
//! interpolation, `include`, `extends`), merging them, validating the result against the schema,
//! normalising it, checking that it holds together (dependencies, networks, volumes, secrets, cycles) and
//! choosing the services that the active profiles enable.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::dotenv::{self};
pub use crate::error::{LoadError, Warning};
pub use crate::files::DEFAULT_FILES;
use crate::files::{absolute, dir_of};
use crate::merge::strip_resets;
use crate::model::{self, Project};
use crate::normalize::{cast, normalize, Context};
use crate::reader::Loader;
use crate::select::{check_consistency, check_cycles, resolve_env_files, select_services};
use crate::yaml::{Map, Node};

/// What to load, as the command line says it (`-f`, `-p`, `--profile`, `--env-file`,
/// `--project-directory`), plus the environment and the directory it runs in, given explicitly so that
/// loading is a pure function of its inputs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-f` files; none means `COMPOSE_FILE`, or the default file found upwards from `working_dir`.
    pub files: Vec<PathBuf>,
    pub project_name: Option<String>,
    /// `--profile`; none means `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// `--env-file`; none means `.env` in the project directory, if there is one.
    pub env_files: Vec<PathBuf>,
    pub project_directory: Option<PathBuf>,
    /// The directory relative paths on the command line are relative to.
    pub working_dir: PathBuf,
    /// The process environment.
    pub environment: BTreeMap<String, String>,
    /// Services named on the command line: enabled whatever their profiles, with their dependencies.
    pub services: Vec<String>,
    /// Report keys minotaur does not implement as errors rather than warnings.
    pub strict: bool,
}

/// A loaded project.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub project: Project,
    /// The normalised model of the enabled services (what `config` prints), compose-go's JSON shape.
    pub config: serde_json::Value,
    /// The compose files, absolute, in merge order.
    pub files: Vec<PathBuf>,
    pub project_directory: PathBuf,
    /// The variables interpolation used (the process environment over the `.env` files).
    pub environment: BTreeMap<String, String>,
    pub warnings: Vec<Warning>,
}

impl Loaded {
    /// The configuration hash of an enabled service (see [`model::config_hash`]).
    pub fn service_hash(&self, service: &str) -> Option<String> {
        self.config
            .get("services")
            .and_then(|s| s.get(service))
            .map(model::config_hash)
    }
}

/// The default compose file, searched in `dir` and then upwards.
pub fn find_default_file(dir: &Path) -> Result<PathBuf, LoadError> {
    let mut here = Some(dir);
    while let Some(d) = here {
        for name in DEFAULT_FILES {
            let candidate = d.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        here = d.parent();
    }
    Err(LoadError::NotFound {
        dir: dir.to_path_buf(),
    })
}

/// A project name as compose normalises one: lowercase, only `[a-z0-9_-]`, not starting with `_` or `-`.
pub fn normalize_project_name(name: &str) -> String {
    let kept: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_owned()
}

/// The variables of the env files: `--env-file`s, otherwise `dir`'s `.env` when there is one. Their own
/// references are resolved from the process environment.
fn read_env_files(opts: &Options, dir: &Path) -> Result<BTreeMap<String, String>, LoadError> {
    let wd = &opts.working_dir;
    let (env_files, explicit) = if opts.env_files.is_empty() {
        let dot = dir.join(".env");
        (if dot.is_file() { vec![dot] } else { vec![] }, false)
    } else {
        (
            opts.env_files.iter().map(|f| absolute(wd, f)).collect(),
            true,
        )
    };
    let mut env = BTreeMap::new();
    for f in &env_files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(LoadError::Read {
                    path: f.clone(),
                    source,
                })
            }
        };
        let lookup = |n: &str| opts.environment.get(n).cloned();
        let vars = dotenv::parse(&text, &lookup).map_err(|source| LoadError::Dotenv {
            path: f.clone(),
            source,
        })?;
        env.extend(vars);
    }
    Ok(env)
}

/// Loads a project (see the module's documentation).
pub fn load(opts: &Options) -> Result<Loaded, LoadError> {
    let wd = &opts.working_dir;
    // COMPOSE_FILE comes from the environment, otherwise from the env files of the directory the project
    // will be in (`--project-directory`, otherwise the working directory), as docker compose reads them.
    let compose_file = match opts.environment.get("COMPOSE_FILE") {
        Some(v) => Some(v.clone()),
        None if opts.files.is_empty() => {
            let dir = opts
                .project_directory
                .as_ref()
                .map_or_else(|| wd.clone(), |d| absolute(wd, d));
            read_env_files(opts, &dir)?.remove("COMPOSE_FILE")
        }
        None => None,
    };
    let files: Vec<PathBuf> = if !opts.files.is_empty() {
        opts.files.iter().map(|f| absolute(wd, f)).collect()
    } else if let Some(list) = compose_file.filter(|l| !l.is_empty()) {
        list.split(':')
            .map(|f| absolute(wd, Path::new(f)))
            .collect()
    } else {
        vec![find_default_file(wd)?]
    };
    let project_dir = match &opts.project_directory {
        Some(d) => absolute(wd, d),
        None => dir_of(&files[0]),
    };

    // Interpolation's variables: the process environment over the env files.
    let os_env = opts.environment.clone();
    let mut env = read_env_files(opts, &project_dir)?;
    env.extend(os_env.clone());

    let mut loader = Loader {
        env,
        home: os_env.get("HOME").cloned(),
        warnings: Vec::new(),
        unset_reported: BTreeSet::new(),
        include_stack: Vec::new(),
        extends_stack: Vec::new(),
    };
    let mut dict = loader.load_model(&files, &project_dir)?;
    strip_resets(&mut dict);
    if let Some(v) = dict.as_map().and_then(|m| m.get("version")) {
        loader.warnings.push(Warning {
            mark: Some(v.where_().clone()),
            message: "the attribute `version` is obsolete and ignored".into(),
        });
    }

    let name = project_name(opts, &dict, &loader.env, &project_dir)?;
    loader
        .env
        .insert("COMPOSE_PROJECT_NAME".into(), name.clone());
    cast(&mut dict, &mut Vec::new())?;
    let env = loader.env.clone();
    let lookup = |n: &str| env.get(n).cloned();
    let ctx = Context {
        project_name: &name,
        project_dir: &project_dir,
        home: loader.home.as_deref(),
        lookup: &lookup,
    };
    normalize(&mut dict, &ctx)?;

    let profiles: BTreeSet<String> = if opts.profiles.is_empty() {
        env.get("COMPOSE_PROFILES")
            .map(|p| {
                p.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        opts.profiles.iter().cloned().collect()
    };
    let (enabled, disabled_names) = select_services(&dict, &profiles, &opts.services)?;
    check_consistency(&dict, &enabled)?;
    check_cycles(&dict, &enabled)?;
    resolve_env_files(&mut dict, &lookup)?;

    // Split the enabled services from the others.
    let mut disabled = Map::new();
    if let Some(services) = dict
        .as_map_mut()
        .and_then(|m| m.get_mut("services"))
        .and_then(Node::as_map_mut)
    {
        for n in &disabled_names {
            if let Some(s) = services.shift_remove(n) {
                disabled.insert(n.clone(), s);
            }
        }
        services.sort_keys();
    }
    let config = config_json(&dict);
    let mut unsupported = Vec::new();
    let mut project =
        model::from_json(&config, |p| unsupported.push(p)).map_err(LoadError::Model)?;
    for path in unsupported {
        let segs: Vec<String> = path.split('.').map(String::from).collect();
        let mark = dict.mark_for(&segs);
        if opts.strict {
            return Err(LoadError::Unsupported { mark, path });
        }
        loader.warnings.push(Warning {
            mark: Some(mark),
            message: format!("{path} is not supported"),
        });
    }
    for (n, s) in disabled {
        if let Ok(service) = serde_json::from_value(s.to_json()) {
            project.disabled.insert(n, service);
        }
    }
    Ok(Loaded {
        project,
        config,
        files,
        project_directory: project_dir,
        environment: loader.env,
        warnings: loader.warnings,
    })
}

/// The JSON `config` prints: extensions (`x-…`) only at the top level, as compose-go's JSON does, and a bind
/// mount's `create_host_path` only when false (Go omits its zero value, which for this opt-out is `true`).
fn config_json(dict: &Node) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value, depth: usize, path: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if depth > 0
                    && !(path.len() == 1
                        && ["services", "networks", "volumes", "secrets", "configs"]
                            .contains(&path[0].as_str()))
                {
                    m.retain(|k, _| !k.starts_with("x-"));
                }
                if path.len() >= 4
                    && path[0] == "services"
                    && path[2] == "volumes"
                    && path.last().is_some_and(|l| l == "bind")
                    && m.get("create_host_path") == Some(&serde_json::Value::Bool(true))
                {
                    m.remove("create_host_path");
                }
                for (k, val) in m.iter_mut() {
                    path.push(k.clone());
                    strip(val, depth + 1, path);
                    path.pop();
                }
            }
            serde_json::Value::Array(items) => {
                for (i, val) in items.iter_mut().enumerate() {
                    path.push(i.to_string());
                    strip(val, depth + 1, path);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut json = dict.to_json();
    strip(&mut json, 0, &mut Vec::new());
    json
}

fn project_name(
    opts: &Options,
    dict: &Node,
    env: &BTreeMap<String, String>,
    project_dir: &Path,
) -> Result<String, LoadError> {
    if let Some(p) = &opts.project_name {
        if normalize_project_name(p) != *p || p.is_empty() {
            return Err(LoadError::ProjectName { name: p.clone() });
        }
        return Ok(p.clone());
    }
    let from_file = dict
        .as_map()
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .map(String::from);
    // The order: the file's `name:` is what the project calls itself, so it wins over an
    // environment variable that may have been set for another project.
    let candidates = [
        from_file,
        env.get("COMPOSE_PROJECT_NAME").cloned(),
        project_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
    ];
    for c in candidates.into_iter().flatten() {
        let n = normalize_project_name(&c);
        if !n.is_empty() {
            return Ok(n);
        }
    }
    Err(LoadError::ProjectName {
        name: project_dir.display().to_string(),
    })
}
