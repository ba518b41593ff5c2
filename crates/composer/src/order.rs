//! Dependency order: which services a command touches, and in which order. Pure functions over the
//! project, so they are tested without an engine.
//!
//! A service's dependencies are its `depends_on` (the loader already added the implicit ones:
//! `network_mode: service:X`, `volumes_from`). Services start dependencies first and stop dependents first.

use std::collections::{BTreeMap, BTreeSet};

use minotaur_compose::Project;

/// The enabled services named, with what they depend on (transitively). `no_deps` keeps just the named.
/// Empty `names`: every enabled service.
pub fn select(project: &Project, names: &[String], no_deps: bool) -> BTreeSet<String> {
    if names.is_empty() {
        return project.services.keys().cloned().collect();
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(n) = todo.pop() {
        if !out.insert(n.clone()) || no_deps {
            continue;
        }
        if let Some(s) = project.services.get(&n) {
            todo.extend(
                s.depends_on
                    .keys()
                    .filter(|d| project.services.contains_key(*d))
                    .cloned(),
            );
        }
    }
    out
}

/// `services` with each one after those it depends on, alphabetically among equals (Kahn's algorithm over
/// the dependencies inside the set). The loader refuses cycles; one found here is named anyway.
pub fn order(project: &Project, services: &BTreeSet<String>) -> Result<Vec<String>, String> {
    let deps: BTreeMap<&str, BTreeSet<&str>> = services
        .iter()
        .map(|s| {
            let d = project
                .services
                .get(s)
                .map(|svc| {
                    svc.depends_on
                        .keys()
                        .map(String::as_str)
                        .filter(|d| services.contains(*d))
                        .collect()
                })
                .unwrap_or_default();
            (s.as_str(), d)
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    while out.len() < deps.len() {
        let ready: Vec<&str> = deps
            .iter()
            .filter(|(s, d)| !done.contains(*s) && d.iter().all(|x| done.contains(x)))
            .map(|(s, _)| *s)
            .collect();
        if ready.is_empty() {
            let left: Vec<&str> = deps
                .keys()
                .filter(|s| !done.contains(*s))
                .copied()
                .collect();
            return Err(left.join(", "));
        }
        for s in ready {
            done.insert(s);
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

/// The service whose network namespace `service` shares (`network_mode: service:X`).
pub fn network_parent(project: &Project, service: &str) -> Option<String> {
    project
        .services
        .get(service)?
        .network_mode
        .as_deref()?
        .strip_prefix("service:")
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minotaur_compose::model::{Dependency, Service};

    fn project(edges: &[(&str, &[&str])]) -> Project {
        let mut p = Project::default();
        for (name, deps) in edges {
            let mut s = Service::default();
            for d in *deps {
                s.depends_on.insert(
                    (*d).to_owned(),
                    Dependency {
                        condition: "service_started".into(),
                        restart: false,
                        required: true,
                    },
                );
            }
            p.services.insert((*name).to_owned(), s);
        }
        p
    }

    #[test]
    fn dependencies_come_first() {
        let p = project(&[
            ("web", &["db", "cache"]),
            ("db", &[]),
            ("cache", &["db"]),
            ("x", &[]),
        ]);
        let all = select(&p, &[], false);
        assert_eq!(order(&p, &all).unwrap(), ["db", "x", "cache", "web"]);
        let some = select(&p, &["web".into()], false);
        assert_eq!(some.len(), 3);
        assert_eq!(order(&p, &some).unwrap(), ["db", "cache", "web"]);
        let alone = select(&p, &["web".into()], true);
        assert_eq!(order(&p, &alone).unwrap(), ["web"]);
    }

    #[test]
    fn a_cycle_is_named() {
        let p = project(&[("a", &["b"]), ("b", &["a"]), ("c", &[])]);
        assert_eq!(order(&p, &select(&p, &[], false)).unwrap_err(), "a, b");
    }
}
