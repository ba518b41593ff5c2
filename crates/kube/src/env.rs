//! A container's environment from a manifest's `env` entries: literal values, ConfigMap and Secret keys, and
//! the pod's own fields (`fieldRef`), some of which (`status.podIP`, `status.hostIP`) are known only once
//! the pod's infra container has its address.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::EnvVar;

/// A pod's field known once its infra container is made (`fieldRef`s of `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodField {
    /// `status.podIP`: the pod's first address.
    PodIp,
    /// `status.podIPs`: all its addresses, comma-separated.
    PodIps,
    /// `status.hostIP`: the host's address on the pod's network (its gateway), where the pod reaches it.
    HostIp,
    /// `status.hostIPs`.
    HostIps,
}

impl PodField {
    /// The field's path, as a `fieldRef` names it.
    pub fn path(self) -> &'static str {
        match self {
            PodField::PodIp => "status.podIP",
            PodField::PodIps => "status.podIPs",
            PodField::HostIp => "status.hostIP",
            PodField::HostIps => "status.hostIPs",
        }
    }
}

/// The addresses a made pod's `status` fields read.
#[derive(Clone, Debug, Default)]
pub struct PodAddresses {
    pub pod: Vec<String>,
    pub host: Vec<String>,
}

/// An `env` entry's value, now or once the pod has its address.
pub(crate) enum EnvValue {
    Now(String),
    Late(PodField),
}

/// An `env` entry's value: literal, or from a ConfigMap, a Secret or the pod's own fields.
pub(crate) fn env_value(
    e: &EnvVar,
    pod: &str,
    pod_labels: &BTreeMap<String, String>,
    sources: &Sources,
) -> Result<EnvValue, String> {
    let Some(from) = &e.value_from else {
        return Ok(EnvValue::Now(e.value.clone().unwrap_or_default()));
    };
    let lookup = |kind: &str,
                  map: &BTreeMap<String, BTreeMap<String, Vec<u8>>>,
                  name: &str,
                  key: &str,
                  optional: Option<bool>| {
        match map.get(name).and_then(|d| d.get(key)) {
            Some(v) => Ok(EnvValue::Now(String::from_utf8_lossy(v).into_owned())),
            None if optional == Some(true) => Ok(EnvValue::Now(String::new())),
            None => Err(format!("env {}: {kind} {name} has no key {key}", e.name)),
        }
    };
    if let Some(r) = &from.config_map_key_ref {
        return lookup(
            "configMap",
            &sources.config_maps,
            &r.name,
            &r.key,
            r.optional,
        );
    }
    if let Some(r) = &from.secret_key_ref {
        return lookup("secret", &sources.secrets, &r.name, &r.key, r.optional);
    }
    if let Some(f) = &from.field_ref {
        let path = f.field_path.as_str();
        if let Some(key) = path
            .strip_prefix("metadata.labels['")
            .and_then(|k| k.strip_suffix("']"))
        {
            return Ok(EnvValue::Now(
                pod_labels.get(key).cloned().unwrap_or_default(),
            ));
        }
        return match path {
            "metadata.name" => Ok(EnvValue::Now(pod.to_owned())),
            "metadata.namespace" => Ok(EnvValue::Now("default".into())),
            "spec.nodeName" => Ok(EnvValue::Now(sources.node.clone())),
            "status.podIP" => Ok(EnvValue::Late(PodField::PodIp)),
            "status.podIPs" => Ok(EnvValue::Late(PodField::PodIps)),
            "status.hostIP" => Ok(EnvValue::Late(PodField::HostIp)),
            "status.hostIPs" => Ok(EnvValue::Late(PodField::HostIps)),
            other => Err(format!("env {}: fieldRef {other} is not supported", e.name)),
        };
    }
    Err(format!(
        "env {}: only configMapKeyRef, secretKeyRef and fieldRef are supported",
        e.name
    ))
}

/// What the plan reads besides the pods: the stream's ConfigMaps and Secrets, by name.
pub(crate) struct Sources {
    pub(crate) config_maps: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    pub(crate) secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    pub(crate) node: String,
    pub(crate) network: String,
}
