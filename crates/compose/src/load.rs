//! Loading a project: finding its files, its environment and its name, then reading each file (YAML,
//! interpolation, `include`, `extends`), merging them, validating the result against the schema,
//! normalising it, checking that it holds together (dependencies, networks, volumes, secrets, cycles) and
//! choosing the services that the active profiles enable.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::dotenv::{self, DotenvError};
use crate::interpolate::{substitute, InterpolationError};
use crate::merge::{enforce_unicity, merge, strip_resets, MergeError};
use crate::model::{self, Project};
use crate::normalize::{cast, normalize, resolve_service_paths, Context, NormalizeError};
use crate::schema::{self, SchemaError};
use crate::yaml::{self, Map, Mark, Node, Value, YamlError};

/// The files looked for, in this order, in the current directory and then in each parent.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

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

/// Something the user should know that does not stop the load.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub mark: Option<Mark>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.mark {
            Some(m) => write!(f, "{m}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why a project could not be loaded. Each error is one line that starts with the file and line at fault.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no compose file ({}) in {} or a parent directory", DEFAULT_FILES.join(", "), dir.display())]
    NotFound { dir: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("{}: {source}", path.display())]
    Dotenv {
        path: PathBuf,
        #[source]
        source: DotenvError,
    },
    #[error("{mark}: {path}: {source}")]
    Interpolation {
        mark: Mark,
        path: String,
        #[source]
        source: InterpolationError,
    },
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Normalize(#[from] NormalizeError),
    #[error("{mark}: {message}")]
    Invalid { mark: Mark, message: String },
    #[error("{}: the top level of a compose file must be a mapping", file.display())]
    NotAMapping { file: PathBuf },
    #[error("{}: empty compose file", file.display())]
    Empty { file: PathBuf },
    #[error("invalid project name {name:?}: only lowercase letters, digits, dashes and underscores, starting with a letter or digit")]
    ProjectName { name: String },
    #[error("{mark}: {path} is not supported")]
    Unsupported { mark: Mark, path: String },
    #[error("the normalised model does not fit minotaur's types: {0}")]
    Model(#[source] serde_json::Error),
    #[error("no such service: {0}")]
    NoSuchService(String),
}

fn invalid(mark: &Mark, message: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        mark: mark.clone(),
        message: message.into(),
    }
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    PathBuf::from(crate::canonical::clean_path(&joined.to_string_lossy()))
}

/// Whether a path names a remote resource (`https://…`, `git@…`, `oci://…`, any `scheme:…`), which
/// minotaur does not fetch.
fn is_remote(p: &str) -> bool {
    if p.contains("://") || p.starts_with("git@") {
        return true;
    }
    match p.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        }
        None => false,
    }
}

fn dir_of(file: &Path) -> PathBuf {
    file.parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
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

struct Loader {
    env: BTreeMap<String, String>,
    home: Option<String>,
    warnings: Vec<Warning>,
    unset_reported: BTreeSet<String>,
    include_stack: Vec<PathBuf>,
    extends_stack: Vec<(PathBuf, String)>,
}

impl Loader {
    /// Reads, merges and validates a list of files that form one model.
    fn load_model(&mut self, files: &[PathBuf], project_dir: &Path) -> Result<Node, LoadError> {
        let mut dict: Option<Node> = None;
        for file in files {
            if self.include_stack.contains(file) {
                let mut chain: Vec<String> = self
                    .include_stack
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                chain.push(file.display().to_string());
                return Err(invalid(
                    &Mark::new(self.include_stack.last().unwrap_or(file), 1, 1),
                    format!("include cycle: {}", chain.join(" includes ")),
                ));
            }
            self.include_stack.push(file.clone());
            let docs = self.read_docs(file)?;
            for mut doc in docs {
                if doc.is_null() {
                    continue;
                }
                if doc.as_map().is_none() {
                    return Err(LoadError::NotAMapping { file: file.clone() });
                }
                self.apply_include(&mut doc, project_dir)?;
                self.apply_extends(&mut doc, file)?;
                let mut merged = match dict.take() {
                    None => doc,
                    Some(base) => merge(base, doc, &mut Vec::new())?,
                };
                enforce_unicity(&mut merged, &mut Vec::new());
                dict = Some(merged);
            }
            self.include_stack.pop();
            if let Some(d) = &dict {
                schema::validate(d)?;
            }
        }
        match dict {
            Some(d) if d.as_map().is_some_and(|m| !m.is_empty()) => Ok(d),
            _ => Err(LoadError::Empty {
                file: files.first().cloned().unwrap_or_default(),
            }),
        }
    }

    /// The documents of a file, interpolated.
    fn read_docs(&mut self, file: &Path) -> Result<Vec<Node>, LoadError> {
        let text = std::fs::read_to_string(file).map_err(|source| LoadError::Read {
            path: file.to_path_buf(),
            source,
        })?;
        let mut docs = yaml::parse(&text, file)?;
        for doc in &mut docs {
            self.interpolate(doc, &mut Vec::new())?;
        }
        Ok(docs)
    }

    fn interpolate(&mut self, node: &mut Node, path: &mut Vec<String>) -> Result<(), LoadError> {
        match &mut node.value {
            Value::Str(text) => {
                let env = &self.env;
                let lookup = |n: &str| env.get(n).cloned();
                let mut unset = Vec::new();
                let out = substitute(text, &lookup, &mut unset).map_err(|source| {
                    LoadError::Interpolation {
                        mark: node.mark.clone(),
                        path: path.join("."),
                        source,
                    }
                })?;
                for name in unset {
                    if self.unset_reported.insert(name.clone()) {
                        self.warnings.push(Warning {
                            mark: Some(node.mark.clone()),
                            message: format!(
                                "the {name:?} variable is not set, defaulting to a blank string"
                            ),
                        });
                    }
                }
                *text = out;
            }
            Value::Map(m) => {
                for (k, v) in m.iter_mut() {
                    path.push(k.clone());
                    self.interpolate(v, path)?;
                    path.pop();
                }
            }
            Value::Seq(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    path.push(i.to_string());
                    self.interpolate(v, path)?;
                    path.pop();
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `include`: each entry is a project of its own (its own directory and `.env`), whose resources are
    /// added to this one; defining the same resource differently in both is an error.
    fn apply_include(&mut self, doc: &mut Node, project_dir: &Path) -> Result<(), LoadError> {
        let Some(include) = doc.as_map_mut().and_then(|m| m.shift_remove("include")) else {
            return Ok(());
        };
        let entries = include.as_seq().cloned().unwrap_or_default();
        for entry in entries {
            let (paths, dir, env_files): (Vec<String>, Option<String>, Vec<String>) =
                match &entry.value {
                    Value::Str(p) => (vec![p.clone()], None, vec![]),
                    Value::Map(m) => {
                        let list = |k: &str| match m.get(k).map(|n| &n.value) {
                            Some(Value::Str(s)) => vec![s.clone()],
                            Some(Value::Seq(items)) => {
                                items.iter().filter_map(Node::scalar_text).collect()
                            }
                            _ => vec![],
                        };
                        (
                            list("path"),
                            m.get("project_directory").and_then(Node::scalar_text),
                            list("env_file"),
                        )
                    }
                    _ => {
                        return Err(invalid(
                            &entry.mark,
                            "an include entry is a path or a mapping",
                        ))
                    }
                };
            if let Some(remote) = paths
                .iter()
                .find(|p| p.contains("://") || p.starts_with("oci:") || p.starts_with("git@"))
            {
                return Err(invalid(
                    &entry.mark,
                    format!("include {remote:?}: remote includes are not supported"),
                ));
            }
            let paths: Vec<PathBuf> = paths
                .iter()
                .map(|p| absolute(project_dir, Path::new(p)))
                .collect();
            let Some(first) = paths.first() else {
                return Err(invalid(&entry.mark, "an include entry needs a path"));
            };
            let inc_dir = match dir {
                Some(d) => absolute(project_dir, Path::new(&d)),
                None => dir_of(first),
            };
            let env_files: Vec<PathBuf> = if env_files.is_empty() {
                let dot = inc_dir.join(".env");
                if dot.is_file() {
                    vec![dot]
                } else {
                    vec![]
                }
            } else {
                env_files
                    .iter()
                    .map(|f| absolute(project_dir, Path::new(f)))
                    .collect()
            };
            let saved = self.env.clone();
            for f in &env_files {
                let text = std::fs::read_to_string(f).map_err(|source| LoadError::Read {
                    path: f.clone(),
                    source,
                })?;
                let env = &self.env;
                let lookup = |n: &str| env.get(n).cloned();
                let vars = dotenv::parse(&text, &lookup).map_err(|source| LoadError::Dotenv {
                    path: f.clone(),
                    source,
                })?;
                for (k, v) in vars {
                    // The including project's variables win over the included one's env file.
                    self.env.entry(k).or_insert(v);
                }
            }
            let result = self.load_model(&paths, &inc_dir);
            self.env = saved;
            let mut model = result?;
            if let Some(services) = model
                .as_map_mut()
                .and_then(|m| m.get_mut("services"))
                .and_then(Node::as_map_mut)
            {
                for (name, s) in services.iter_mut() {
                    resolve_service_paths(
                        s,
                        &inc_dir,
                        self.home.as_deref(),
                        &format!("services.{name}"),
                    )?;
                }
            }
            let Some(imported) = model.as_map() else {
                continue;
            };
            let dmark = doc.mark.clone();
            let Some(target) = doc.as_map_mut() else {
                continue;
            };
            for kind in ["services", "networks", "volumes", "secrets", "configs"] {
                let Some(res) = imported.get(kind).and_then(Node::as_map) else {
                    continue;
                };
                let dest = target
                    .entry(kind.to_owned())
                    .or_insert_with(|| Node::new(Value::Map(Map::new()), dmark.clone()));
                if dest.is_null() {
                    dest.value = Value::Map(Map::new());
                }
                let Some(dest) = dest.as_map_mut() else {
                    continue;
                };
                for (k, v) in res {
                    if let Some(existing) = dest.get(k) {
                        if existing.to_json() != v.to_json() {
                            return Err(invalid(
                                existing.where_(),
                                format!(
                                    "{kind}.{k} conflicts with the one included from {}",
                                    v.mark.file.display()
                                ),
                            ));
                        }
                        continue;
                    }
                    dest.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(())
    }

    fn apply_extends(&mut self, doc: &mut Node, file: &Path) -> Result<(), LoadError> {
        let Some(services) = doc
            .as_map_mut()
            .and_then(|m| m.get_mut("services"))
            .and_then(Node::as_map_mut)
        else {
            return Ok(());
        };
        let names: Vec<String> = services.keys().cloned().collect();
        for name in names {
            self.extend(services, &name, file)?;
        }
        Ok(())
    }

    /// Resolves one service's `extends`: the base (from this file or another) with the service merged over
    /// it, by the same rules as `-f` files.
    fn extend(&mut self, services: &mut Map, name: &str, file: &Path) -> Result<(), LoadError> {
        let Some(service) = services.get(name) else {
            return Ok(());
        };
        let Some(ext) = service.as_map().and_then(|m| m.get("extends")).cloned() else {
            return Ok(());
        };
        let (base_name, base_file) = match &ext.value {
            Value::Str(s) => (s.clone(), None),
            Value::Map(m) => (
                m.get("service")
                    .and_then(Node::as_str)
                    .ok_or_else(|| {
                        invalid(
                            ext.where_(),
                            format!("services.{name}.extends.service is required"),
                        )
                    })?
                    .to_owned(),
                m.get("file").and_then(Node::as_str).map(String::from),
            ),
            _ => {
                return Err(invalid(
                    ext.where_(),
                    format!("services.{name}.extends is a service name or a mapping"),
                ))
            }
        };
        let key = (file.to_path_buf(), name.to_owned());
        if self.extends_stack.contains(&key) {
            let chain: Vec<String> = self.extends_stack.iter().map(|(_, s)| s.clone()).collect();
            return Err(invalid(
                ext.where_(),
                format!("extends cycle: {} extends {name}", chain.join(" extends ")),
            ));
        }
        self.extends_stack.push(key);
        let result =
            self.extends_base(services, name, &base_name, base_file.as_deref(), file, &ext);
        self.extends_stack.pop();
        let base = result?;
        let Some(mut over) = services.get(name).cloned() else {
            return Ok(());
        };
        if let Some(m) = over.as_map_mut() {
            m.shift_remove("extends");
        }
        let key_mark = over.key_mark.clone();
        let mut path = vec!["services".to_owned(), name.to_owned()];
        let mut merged = merge(base, over, &mut path)?;
        merged.key_mark = key_mark;
        services.insert(name.to_owned(), merged);
        Ok(())
    }

    fn extends_base(
        &mut self,
        services: &mut Map,
        name: &str,
        base_name: &str,
        base_file: Option<&str>,
        file: &Path,
        ext: &Node,
    ) -> Result<Node, LoadError> {
        let Some(other) = base_file else {
            if !services.contains_key(base_name) {
                return Err(invalid(
                    ext.where_(),
                    format!("cannot extend service {name:?}: service {base_name:?} not found"),
                ));
            }
            self.extend(services, base_name, file)?;
            let mut base = services[base_name].clone();
            if let Some(m) = base.as_map_mut() {
                m.shift_remove("extends");
            }
            return Ok(base);
        };
        if is_remote(other) {
            return Err(invalid(
                ext.where_(),
                format!("extends file {other:?}: remote files are not supported"),
            ));
        }
        let path = absolute(&dir_of(file), Path::new(other));
        let docs = self.read_docs(&path)?;
        let mut model: Option<Node> = None;
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            model = Some(match model {
                None => doc,
                Some(b) => merge(b, doc, &mut Vec::new())?,
            });
        }
        let mut other_services = model
            .as_mut()
            .and_then(|m| m.as_map_mut())
            .and_then(|m| m.shift_remove("services"))
            .and_then(|s| match s.value {
                Value::Map(m) => Some(m),
                _ => None,
            })
            .unwrap_or_default();
        if !other_services.contains_key(base_name) {
            return Err(invalid(
                ext.where_(),
                format!(
                    "cannot extend service {name:?}: service {base_name:?} not found in {}",
                    path.display()
                ),
            ));
        }
        self.extend(&mut other_services, base_name, &path)?;
        let mut base = other_services[base_name].clone();
        if let Some(m) = base.as_map_mut() {
            m.shift_remove("extends");
        }
        resolve_service_paths(
            &mut base,
            &dir_of(&path),
            self.home.as_deref(),
            &format!("services.{name}"),
        )?;
        Ok(base)
    }
}

fn services_of(dict: &Node) -> Option<&Map> {
    dict.as_map()
        .and_then(|m| m.get("services"))
        .and_then(Node::as_map)
}

fn deps_of(service: &Node) -> Vec<(String, &Node)> {
    service
        .as_map()
        .and_then(|m| m.get("depends_on"))
        .and_then(Node::as_map)
        .map(|d| d.iter().map(|(k, v)| (k.clone(), v)).collect())
        .unwrap_or_default()
}

fn is_required(dep: &Node) -> bool {
    !matches!(
        dep.as_map()
            .and_then(|m| m.get("required"))
            .map(|r| &r.value),
        Some(Value::Bool(false))
    )
}

/// The enabled services: those without profiles, those of an active profile (`*` is all), those named on the
/// command line and what they depend on.
fn select_services(
    dict: &Node,
    profiles: &BTreeSet<String>,
    named: &[String],
) -> Result<(BTreeSet<String>, Vec<String>), LoadError> {
    let Some(services) = services_of(dict) else {
        return Ok((BTreeSet::new(), Vec::new()));
    };
    for n in named {
        if !services.contains_key(n) {
            return Err(LoadError::NoSuchService(n.clone()));
        }
    }
    let mut enabled: BTreeSet<String> = services
        .iter()
        .filter(|(name, s)| {
            let own: Vec<String> = s
                .as_map()
                .and_then(|m| m.get("profiles"))
                .and_then(Node::as_seq)
                .map(|p| p.iter().filter_map(Node::scalar_text).collect())
                .unwrap_or_default();
            own.is_empty()
                || profiles.contains("*")
                || own.iter().any(|p| profiles.contains(p))
                || named.contains(name)
        })
        .map(|(n, _)| n.clone())
        .collect();
    let mut todo: Vec<String> = named.to_vec();
    while let Some(n) = todo.pop() {
        if let Some(s) = services.get(&n) {
            for (dep, _) in deps_of(s) {
                if services.contains_key(&dep) && enabled.insert(dep.clone()) {
                    todo.push(dep);
                }
            }
        }
    }
    let disabled = services
        .keys()
        .filter(|n| !enabled.contains(*n))
        .cloned()
        .collect();
    Ok((enabled, disabled))
}

/// What the schema cannot say: that services, networks, volumes, secrets and configs that are referred to
/// exist.
fn check_consistency(dict: &Node, enabled: &BTreeSet<String>) -> Result<(), LoadError> {
    let Some(services) = services_of(dict) else {
        return Ok(());
    };
    let top = |kind: &str| -> BTreeSet<String> {
        dict.as_map()
            .and_then(|m| m.get(kind))
            .and_then(Node::as_map)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (networks, volumes, secrets, configs) = (
        top("networks"),
        top("volumes"),
        top("secrets"),
        top("configs"),
    );
    for name in enabled {
        let Some(s) = services.get(name) else {
            continue;
        };
        let Some(m) = s.as_map() else { continue };
        for (dep, node) in deps_of(s) {
            let known = services.contains_key(&dep);
            if !known || (!enabled.contains(&dep) && is_required(node)) {
                let why = if known {
                    "a service whose profile is not enabled"
                } else {
                    "an undefined service"
                };
                return Err(invalid(
                    node.where_(),
                    format!("service {name:?} depends on {why} {dep:?}"),
                ));
            }
        }
        if let Some(mode) = m.get("network_mode") {
            if let Some(other) = mode.as_str().and_then(|v| v.strip_prefix("service:")) {
                if !services.contains_key(other) {
                    return Err(invalid(
                        mode.where_(),
                        format!(
                            "service {name:?} shares the network of undefined service {other:?}"
                        ),
                    ));
                }
            }
        }
        if let Some(nets) = m.get("networks").and_then(Node::as_map) {
            for (net, node) in nets {
                if !networks.contains(net) {
                    return Err(invalid(
                        node.where_(),
                        format!("service {name:?} refers to undefined network {net:?}"),
                    ));
                }
            }
        }
        for item in m
            .get("volumes")
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
        {
            let Some(v) = item.as_map() else { continue };
            if v.get("type").and_then(Node::as_str) != Some("volume") {
                continue;
            }
            if let Some(src) = v.get("source").and_then(Node::as_str) {
                if !volumes.contains(src) {
                    return Err(invalid(
                        &item.mark,
                        format!("service {name:?} refers to undefined volume {src:?}"),
                    ));
                }
            }
        }
        for (kind, known) in [("secrets", &secrets), ("configs", &configs)] {
            for item in m.get(kind).and_then(Node::as_seq).into_iter().flatten() {
                if let Some(src) = item
                    .as_map()
                    .and_then(|v| v.get("source"))
                    .and_then(Node::as_str)
                {
                    if !known.contains(src) {
                        let what = &kind[..kind.len() - 1];
                        return Err(invalid(
                            &item.mark,
                            format!("service {name:?} refers to undefined {what} {src:?}"),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// A dependency cycle among the enabled services, named with the dependency that closes it.
fn check_cycles(dict: &Node, enabled: &BTreeSet<String>) -> Result<(), LoadError> {
    let Some(services) = services_of(dict) else {
        return Ok(());
    };
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        services: &Map,
        enabled: &BTreeSet<String>,
        state: &mut BTreeMap<String, State>,
        stack: &mut Vec<String>,
    ) -> Result<(), LoadError> {
        state.insert(name.to_owned(), State::Visiting);
        stack.push(name.to_owned());
        if let Some(s) = services.get(name) {
            for (dep, node) in deps_of(s) {
                if !enabled.contains(&dep) {
                    continue;
                }
                match state.get(&dep) {
                    Some(State::Visiting) => {
                        let start = stack.iter().position(|n| *n == dep).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[start..].to_vec();
                        cycle.push(dep.clone());
                        return Err(invalid(
                            node.where_(),
                            format!("dependency cycle: {}", cycle.join(" -> ")),
                        ));
                    }
                    Some(State::Done) => {}
                    None => visit(&dep, services, enabled, state, stack)?,
                }
            }
        }
        stack.pop();
        state.insert(name.to_owned(), State::Done);
        Ok(())
    }
    let mut state = BTreeMap::new();
    for name in enabled {
        if !state.contains_key(name) {
            visit(name, services, enabled, &mut state, &mut Vec::new())?;
        }
    }
    Ok(())
}

/// `env_file`: the files' variables become the container's environment, under what `environment` sets.
fn resolve_env_files(
    dict: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), LoadError> {
    let Some(services) = dict
        .as_map_mut()
        .and_then(|m| m.get_mut("services"))
        .and_then(Node::as_map_mut)
    else {
        return Ok(());
    };
    for service in services.values_mut() {
        let smark = service.mark.clone();
        let Some(m) = service.as_map_mut() else {
            continue;
        };
        let Some(files) = m.shift_remove("env_file") else {
            continue;
        };
        let mut vars: BTreeMap<String, (String, Mark)> = BTreeMap::new();
        for f in files.as_seq().cloned().unwrap_or_default() {
            let Some(fm) = f.as_map() else { continue };
            let Some(path) = fm.get("path").and_then(Node::as_str) else {
                continue;
            };
            let required = !matches!(
                fm.get("required").map(|r| &r.value),
                Some(Value::Bool(false))
            );
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(invalid(f.where_(), format!("env file {path}: {e}"))),
            };
            let parsed = dotenv::parse(&text, lookup)
                .map_err(|e| invalid(f.where_(), format!("env file {path}: {e}")))?;
            for (k, v) in parsed {
                vars.insert(k, (v, f.mark.clone()));
            }
        }
        let env = m
            .entry("environment".to_owned())
            .or_insert_with(|| Node::new(Value::Map(Map::new()), smark.clone()));
        let Some(em) = env.as_map_mut() else { continue };
        for (k, (v, mark)) in vars {
            match em.get_mut(&k) {
                Some(existing) if existing.is_null() => existing.value = Value::Str(v),
                Some(_) => {}
                None => {
                    em.insert(k, Node::new(Value::Str(v), mark));
                }
            }
        }
        em.sort_keys();
    }
    Ok(())
}
