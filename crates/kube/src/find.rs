//! What `kube generate` is about: containers named on the command line, a played pod or Deployment, or a
//! compose project, gathered into pod-sized groups.

use std::collections::BTreeMap;

use minotaur_engine::container::Container;
use minotaur_engine::context::Context;
use minotaur_engine::error::EngineError;
use minotaur_engine::store::StoreError;

use crate::error::{engine, KubeError};
use crate::generate::Group;
use crate::labels;

/// The compose label that names a container's project, and the one that names its service.
const COMPOSE_PROJECT: &str = "com.docker.compose.project";
const COMPOSE_SERVICE: &str = "com.docker.compose.service";
const COMPOSE_ONEOFF: &str = "com.docker.compose.oneoff";

/// Every container, read once.
pub fn all(ctx: &Context) -> Result<Vec<Container>, KubeError> {
    ctx.list().map_err(engine("list", "containers"))
}

/// The groups for `targets`: a target that names a played pod or Deployment is that pod (a
/// Deployment's first pod, with its replica count); the other targets are containers, put together into
/// one pod named after the first (`NAME-pod`, as podman names it).
pub fn groups<'a>(
    ctx: &Context,
    all: &'a [Container],
    targets: &[String],
) -> Result<Vec<Group<'a>>, KubeError> {
    let mut groups = Vec::new();
    let mut loose: Vec<&Container> = Vec::new();
    for t in targets {
        if let Some(g) = played(all, t) {
            groups.push(g);
            continue;
        }
        // A name, an ID or a unique ID prefix, as every other verb takes them.
        let id = match ctx.find(t) {
            Ok(c) => c.id,
            Err(EngineError::Store(StoreError::NoSuchContainer(_))) => {
                return Err(KubeError::NotFound(t.clone()))
            }
            Err(e) => return Err(engine("find container", t)(e)),
        };
        let c = all
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| KubeError::NotFound(t.clone()))?;
        loose.push(c);
    }
    if let Some(first) = loose.first() {
        groups.insert(
            0,
            Group {
                name: format!("{}-pod", first.name.as_str()),
                labels: BTreeMap::new(),
                containers: loose,
                infra: None,
                replicas: 1,
            },
        );
    }
    Ok(groups)
}

/// The pod (or the first pod of the Deployment) named `name`, made by `kube play`.
fn played<'a>(all: &'a [Container], name: &str) -> Option<Group<'a>> {
    let by = |key: &str| {
        all.iter()
            .filter(|c| c.config.labels.get(key).map(String::as_str) == Some(name))
            .collect::<Vec<_>>()
    };
    let (pod, replicas, group_name) = {
        let pods = by(labels::POD);
        if !pods.is_empty() {
            (name.to_owned(), 1, name.to_owned())
        } else {
            let deployment = by(labels::DEPLOYMENT);
            let mut pods: Vec<&String> = deployment
                .iter()
                .filter_map(|c| c.config.labels.get(labels::POD))
                .collect();
            pods.sort();
            pods.dedup();
            let first = (*pods.first()?).clone();
            (first, pods.len() as i32, name.to_owned())
        }
    };
    let mut members = by_pod(all, &pod);
    let infra = members
        .iter()
        .position(|c| c.config.labels.contains_key(labels::INFRA))?;
    let infra = members.remove(infra);
    let pod_labels = infra
        .config
        .labels
        .iter()
        .filter(|(k, _)| !k.starts_with(labels::PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some(Group {
        name: group_name,
        labels: pod_labels,
        containers: members,
        infra: Some(infra),
        replicas,
    })
}

/// A pod's containers other than its infra container come after it; all of them in their pod order.
fn by_pod<'a>(all: &'a [Container], pod: &str) -> Vec<&'a Container> {
    let mut members: Vec<&Container> = all
        .iter()
        .filter(|c| c.config.labels.get(labels::POD).map(String::as_str) == Some(pod))
        .collect();
    members.sort_by_key(|c| {
        let infra = !c.config.labels.contains_key(labels::INFRA);
        let index: u32 = c
            .config
            .labels
            .get(labels::INDEX)
            .and_then(|i| i.parse().ok())
            .unwrap_or(u32::MAX);
        (infra, index)
    });
    members
}

/// One group per service of a compose project (its first container, with the service's replica count),
/// named after the service, so that the Services resolve as compose's service names do.
pub fn project<'a>(all: &'a [Container], project: &str) -> Result<Vec<Group<'a>>, KubeError> {
    let mut services: BTreeMap<&str, Vec<&Container>> = BTreeMap::new();
    for c in all {
        let l = &c.config.labels;
        if l.get(COMPOSE_PROJECT).map(String::as_str) != Some(project)
            || l.get(COMPOSE_ONEOFF).map(String::as_str) == Some("True")
        {
            continue;
        }
        if let Some(s) = l.get(COMPOSE_SERVICE) {
            services.entry(s).or_default().push(c);
        }
    }
    if services.is_empty() {
        return Err(KubeError::EmptyProject(project.to_owned()));
    }
    Ok(services
        .into_iter()
        .map(|(service, cs)| Group {
            name: service.to_owned(),
            labels: BTreeMap::new(),
            replicas: cs.len() as i32,
            containers: vec![cs[0]],
            infra: None,
        })
        .collect())
}
