//! Reading the files of one model: YAML, interpolation, `include` and `extends`, merged and validated.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::dotenv::{self};
use crate::error::{invalid, LoadError, Warning};
use crate::files::{absolute, dir_of, is_remote};
use crate::interpolate::substitute;
use crate::merge::{enforce_unicity, merge};
use crate::normalize::resolve_service_paths;
use crate::schema::{self};
use crate::yaml::{self, Map, Mark, Node, Value};

pub(crate) struct Loader {
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) home: Option<String>,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) unset_reported: BTreeSet<String>,
    pub(crate) include_stack: Vec<PathBuf>,
    pub(crate) extends_stack: Vec<(PathBuf, String)>,
}

impl Loader {
    /// Reads, merges and validates a list of files that form one model.
    pub(crate) fn load_model(
        &mut self,
        files: &[PathBuf],
        project_dir: &Path,
    ) -> Result<Node, LoadError> {
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
    pub(crate) fn read_docs(&mut self, file: &Path) -> Result<Vec<Node>, LoadError> {
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

    pub(crate) fn interpolate(
        &mut self,
        node: &mut Node,
        path: &mut Vec<String>,
    ) -> Result<(), LoadError> {
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
    pub(crate) fn apply_include(
        &mut self,
        doc: &mut Node,
        project_dir: &Path,
    ) -> Result<(), LoadError> {
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

    pub(crate) fn apply_extends(&mut self, doc: &mut Node, file: &Path) -> Result<(), LoadError> {
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
    pub(crate) fn extend(
        &mut self,
        services: &mut Map,
        name: &str,
        file: &Path,
    ) -> Result<(), LoadError> {
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

    pub(crate) fn extends_base(
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
