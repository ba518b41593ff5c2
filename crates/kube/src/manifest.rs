//! Reading a YAML stream of Kubernetes objects: each document typed by its `kind`, and every field the
//! types do not know reported by its path (a warning, or an error under `--strict`).

use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::KubeError;

/// One object of the stream.
#[derive(Debug)]
pub enum Object {
    Pod(Box<Pod>),
    Deployment(Box<Deployment>),
    ConfigMap(ConfigMap),
    Secret(Secret),
    PersistentVolumeClaim(Box<PersistentVolumeClaim>),
    Service(Box<Service>),
}

/// The objects of `text` (from `file`), and the warnings about what they hold that is not applied.
pub fn read(text: &str, file: &Path) -> Result<(Vec<Object>, Vec<String>), KubeError> {
    let label = file.display().to_string();
    let docs = minotaur_compose::yaml::parse(text, file).map_err(|source| KubeError::Yaml {
        file: label.clone(),
        source,
    })?;
    let mut objects = Vec::new();
    let mut warnings = Vec::new();
    for (i, node) in docs.iter().enumerate() {
        let doc = i + 1;
        let value = node.to_json();
        if value.is_null() {
            continue;
        }
        let bad = |what: String| KubeError::Manifest {
            file: label.clone(),
            doc,
            what,
        };
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no kind".into()))?
            .to_owned();
        let api = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let object = match (kind.as_str(), api.as_str()) {
            ("Pod", "v1") => Object::Pod(Box::new(typed(&value, &kind, &mut warnings, bad)?)),
            ("Deployment", "apps/v1") => {
                Object::Deployment(Box::new(typed(&value, &kind, &mut warnings, bad)?))
            }
            ("ConfigMap", "v1") => Object::ConfigMap(typed(&value, &kind, &mut warnings, bad)?),
            ("Secret", "v1") => Object::Secret(typed(&value, &kind, &mut warnings, bad)?),
            ("PersistentVolumeClaim", "v1") => {
                Object::PersistentVolumeClaim(Box::new(typed(&value, &kind, &mut warnings, bad)?))
            }
            ("Service", "v1") => {
                Object::Service(Box::new(typed(&value, &kind, &mut warnings, bad)?))
            }
            _ => {
                warnings.push(format!(
                    "{label}: document {doc}: kind {kind} ({api}) is not supported"
                ));
                continue;
            }
        };
        objects.push(object);
    }
    Ok((objects, warnings))
}

/// `value` as a `T`; fields that do not survive the round trip through `T` are unknown to it.
fn typed<T: DeserializeOwned + Serialize>(
    value: &Value,
    kind: &str,
    warnings: &mut Vec<String>,
    bad: impl Fn(String) -> KubeError,
) -> Result<T, KubeError> {
    let t: T = serde_json::from_value(value.clone()).map_err(|e| bad(format!("{kind}: {e}")))?;
    let back = serde_json::to_value(&t).map_err(|e| bad(format!("{kind}: {e}")))?;
    let mut unknown = Vec::new();
    lost(value, &back, kind, &mut unknown);
    warnings.extend(unknown.into_iter().map(|p| format!("{p}: unknown field")));
    Ok(t)
}

/// The paths of `input` that `kept` lacks.
fn lost(input: &Value, kept: &Value, path: &str, out: &mut Vec<String>) {
    match (input, kept) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(w) => lost(v, w, &p, out),
                    // A null is what an absent optional field reads as: nothing was lost.
                    None if v.is_null() => {}
                    None => out.push(p),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                lost(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_kinds_are_named_by_path() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: busybox\n    bogus: 1\n  frobnicate: true\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n";
        let (objects, warnings) = read(yaml, Path::new("pod.yaml")).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(
            warnings,
            [
                "Pod.spec.containers[0].bogus: unknown field",
                "Pod.spec.frobnicate: unknown field",
                "pod.yaml: document 2: kind Job (batch/v1) is not supported",
            ]
        );
    }

    #[test]
    fn a_wrong_type_names_the_document() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: 3\n";
        let e = read(yaml, Path::new("pod.yaml")).unwrap_err().to_string();
        assert!(e.starts_with("pod.yaml: document 1: Pod: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
