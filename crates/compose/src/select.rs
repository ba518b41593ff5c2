//! What holds a loaded project together: the services the active profiles enable (with what they need),
//! the references between them, dependency cycles, and their env files.

use std::collections::{BTreeMap, BTreeSet};

use crate::dotenv::{self};
use crate::error::{invalid, LoadError};
use crate::yaml::{Map, Mark, Node, Value};

pub(crate) fn services_of(dict: &Node) -> Option<&Map> {
    dict.as_map()
        .and_then(|m| m.get("services"))
        .and_then(Node::as_map)
}

pub(crate) fn deps_of(service: &Node) -> Vec<(String, &Node)> {
    service
        .as_map()
        .and_then(|m| m.get("depends_on"))
        .and_then(Node::as_map)
        .map(|d| d.iter().map(|(k, v)| (k.clone(), v)).collect())
        .unwrap_or_default()
}

pub(crate) fn is_required(dep: &Node) -> bool {
    !matches!(
        dep.as_map()
            .and_then(|m| m.get("required"))
            .map(|r| &r.value),
        Some(Value::Bool(false))
    )
}

/// The enabled services: those without profiles, those of an active profile (`*` is all), those named on the
/// command line and what they depend on.
pub(crate) fn select_services(
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
pub(crate) fn check_consistency(dict: &Node, enabled: &BTreeSet<String>) -> Result<(), LoadError> {
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
pub(crate) fn check_cycles(dict: &Node, enabled: &BTreeSet<String>) -> Result<(), LoadError> {
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
pub(crate) fn resolve_env_files(
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
