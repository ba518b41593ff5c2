//! Merging compose trees: several `-f` files, and a service over the one it `extends`, by the compose spec's
//! rules ("Merge and override"): mappings merge key by key, sequences append, scalars are replaced, with
//! exceptions per attribute (`command` replaces, `environment` and `labels` merge by variable name,
//! `depends_on` and a service's `networks` merge as mappings whatever syntax each side uses, `ports` and
//! `volumes` are unique by their target…), and the `!reset` / `!override` tags.

use indexmap::IndexMap;

use crate::canonical::volume_target;
use crate::yaml::{Map, Mark, Node, Tag, Value};

/// Why two trees could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{mark}: {path}: cannot merge a {over} over a {base}")]
    Mismatch {
        mark: Mark,
        path: String,
        base: &'static str,
        over: &'static str,
    },
    #[error("{mark}: {path}: {message}")]
    Invalid {
        mark: Mark,
        path: String,
        message: String,
    },
}

/// Whether a path (`["services", "web", "command"]`) matches a pattern (`services.*.command`).
pub(crate) fn matches(path: &[String], pattern: &str) -> bool {
    let mut n = 0;
    for (i, seg) in pattern.split('.').enumerate() {
        match path.get(i) {
            Some(p) if seg == "*" || seg == p => n += 1,
            _ => return false,
        }
    }
    n == path.len()
}

fn any_of(path: &[String], patterns: &[&str]) -> bool {
    patterns.iter().any(|p| matches(path, p))
}

const REPLACED: &[&str] = &[
    "services.*.command",
    "services.*.entrypoint",
    "services.*.healthcheck.test",
    "services.*.ulimits.*",
];

const KEY_VALUE_MAPS: &[&str] = &[
    "services.*.environment",
    "services.*.labels",
    "services.*.annotations",
    "services.*.sysctls",
    "services.*.build.args",
    "services.*.build.labels",
    "services.*.deploy.labels",
    "services.*.volumes.*.volume.labels",
    "networks.*.labels",
    "volumes.*.labels",
    "secrets.*.labels",
    "configs.*.labels",
];

const APPENDED_LISTS: &[&str] = &[
    "services.*.dns",
    "services.*.dns_opt",
    "services.*.dns_search",
    "services.*.env_file",
    "services.*.tmpfs",
];

/// Merges `over` onto `base` at `path`.
pub fn merge(base: Node, over: Node, path: &mut Vec<String>) -> Result<Node, MergeError> {
    if over.tag == Tag::Override || any_of(path, REPLACED) {
        return Ok(over);
    }
    if any_of(path, KEY_VALUE_MAPS) {
        let mut merged = key_value_map(&base)?;
        let mark = over.mark.clone();
        for (k, v) in key_value_map(&over)? {
            merged.insert(k, v);
        }
        return Ok(Node::new(Value::Map(merged), mark).with_key(over.key_mark));
    }
    if any_of(path, APPENDED_LISTS) {
        let mut items = to_list(base);
        let key_mark = over.key_mark.clone();
        let mark = over.mark.clone();
        items.extend(to_list(over));
        return Ok(Node::new(Value::Seq(items), mark).with_key(key_mark));
    }
    if matches(path, "services.*.extra_hosts") {
        let mut items = hosts_list(base);
        let key_mark = over.key_mark.clone();
        let mark = over.mark.clone();
        for item in hosts_list(over) {
            if !items.iter().any(|i| i.scalar_text() == item.scalar_text()) {
                items.push(item);
            }
        }
        return Ok(Node::new(Value::Seq(items), mark).with_key(key_mark));
    }
    if matches(path, "services.*.depends_on") {
        let base = list_to_map(base, Some(default_dependency));
        let over = list_to_map(over, Some(default_dependency));
        return merge_maps(base, over, path);
    }
    if any_of(path, &["services.*.networks", "services.*.models"]) {
        let base = list_to_map(base, None);
        let over = list_to_map(over, None);
        return merge_maps(base, over, path);
    }
    if matches(path, "services.*.build") {
        return merge_maps(build_map(base), build_map(over), path);
    }
    if matches(path, "services.*.logging") {
        let driver = |n: &Node| {
            n.as_map()
                .and_then(|m| m.get("driver"))
                .and_then(Node::scalar_text)
        };
        let (b, o) = (driver(&base), driver(&over));
        if b.is_some() && o.is_some() && b != o {
            return Ok(over);
        }
    }
    if matches(path, "networks.*.ipam.config") {
        return merge_ipam(base, over);
    }
    match (base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => {
            let b = Node::new(Value::Map(b), base.mark).with_key(base.key_mark);
            let o = Node::new(Value::Map(o), over.mark).with_key(over.key_mark);
            merge_maps(b, o, path)
        }
        (Value::Seq(mut b), Value::Seq(o)) => {
            b.extend(o);
            Ok(Node::new(Value::Seq(b), over.mark).with_key(over.key_mark))
        }
        (Value::Map(_), o) if !matches!(o, Value::Null) => Err(MergeError::Mismatch {
            mark: over.key_mark.unwrap_or(over.mark),
            path: path.join("."),
            base: "mapping",
            over: kind(&o),
        }),
        (b, Value::Null) if over.tag == Tag::None && path.len() <= 2 => {
            // `services: {web:}` in an override file adds nothing to web.
            Ok(Node {
                value: b,
                mark: base.mark,
                key_mark: base.key_mark,
                tag: base.tag,
            })
        }
        (_, o) => Ok(Node {
            value: o,
            mark: over.mark,
            key_mark: over.key_mark,
            tag: over.tag,
        }),
    }
}

fn kind(v: &Value) -> &'static str {
    Node::new(v.clone(), Mark::new(std::path::Path::new(""), 0, 0)).kind()
}

fn merge_maps(base: Node, over: Node, path: &mut Vec<String>) -> Result<Node, MergeError> {
    let (Value::Map(mut b), Value::Map(o)) = (base.value, over.value) else {
        unreachable!("merge_maps is called with two mappings")
    };
    for (k, v) in o {
        if v.tag == Tag::Reset {
            b.shift_remove(&k);
            continue;
        }
        let merged = match b.shift_remove_full(&k) {
            Some((idx, _, existing)) => {
                path.push(k.clone());
                let m = merge(existing, v, path);
                path.pop();
                b.shift_insert(idx, k, m?);
                continue;
            }
            None => v,
        };
        b.insert(k, merged);
    }
    Ok(Node::new(Value::Map(b), base.mark).with_key(base.key_mark))
}

impl Node {
    fn with_key(mut self, key: Option<Mark>) -> Node {
        self.key_mark = key;
        self
    }
}

fn default_dependency(mark: &Mark) -> Node {
    let mut m = Map::new();
    m.insert(
        "condition".into(),
        Node::new(Value::Str("service_started".into()), mark.clone()),
    );
    m.insert(
        "required".into(),
        Node::new(Value::Bool(true), mark.clone()),
    );
    Node::new(Value::Map(m), mark.clone())
}

/// A list of names as a mapping (`[a, b]` → `{a: DEFAULT, b: DEFAULT}`); a mapping is kept.
pub(crate) fn list_to_map(node: Node, default: Option<fn(&Mark) -> Node>) -> Node {
    match node.value {
        Value::Seq(items) => {
            let mut m = Map::new();
            for item in items {
                let name = item.scalar_text().unwrap_or_default();
                let mut value = match default {
                    Some(f) => f(&item.mark),
                    None => Node::new(Value::Null, item.mark.clone()),
                };
                value.key_mark = Some(item.mark.clone());
                m.insert(name, value);
            }
            Node::new(Value::Map(m), node.mark).with_key(node.key_mark)
        }
        Value::Null => Node::new(Value::Map(Map::new()), node.mark).with_key(node.key_mark),
        _ => node,
    }
}

/// `KEY=VALUE` lists and mappings as one mapping (`KEY` alone maps to null: taken from the environment).
pub(crate) fn key_value_map(node: &Node) -> Result<Map, MergeError> {
    match &node.value {
        Value::Map(m) => Ok(m.clone()),
        Value::Null => Ok(Map::new()),
        Value::Seq(items) => {
            let mut m = Map::new();
            for item in items {
                let text = item.scalar_text().ok_or_else(|| MergeError::Invalid {
                    mark: item.mark.clone(),
                    path: String::new(),
                    message: format!("expected KEY=VALUE, found a {}", item.kind()),
                })?;
                let mut value = match text.split_once('=') {
                    Some((k, v)) => (
                        k.to_owned(),
                        Node::new(Value::Str(v.to_owned()), item.mark.clone()),
                    ),
                    None => (text, Node::new(Value::Null, item.mark.clone())),
                };
                value.1.key_mark = Some(item.mark.clone());
                m.insert(value.0, value.1);
            }
            Ok(m)
        }
        _ => Err(MergeError::Invalid {
            mark: node.where_().clone(),
            path: String::new(),
            message: format!(
                "expected a mapping or a list of KEY=VALUE, found a {}",
                node.kind()
            ),
        }),
    }
}

fn to_list(node: Node) -> Vec<Node> {
    match node.value {
        Value::Seq(items) => items,
        Value::Null => Vec::new(),
        _ => vec![node],
    }
}

fn hosts_list(node: Node) -> Vec<Node> {
    match node.value {
        Value::Map(m) => m
            .into_iter()
            .flat_map(|(k, v)| match v.value {
                Value::Seq(ips) => ips
                    .into_iter()
                    .map(|ip| {
                        let t = format!("{k}={}", ip.scalar_text().unwrap_or_default());
                        Node::new(Value::Str(t), ip.mark)
                    })
                    .collect::<Vec<_>>(),
                _ => {
                    let t = format!("{k}={}", v.scalar_text().unwrap_or_default());
                    vec![Node::new(Value::Str(t), v.mark)]
                }
            })
            .collect(),
        _ => to_list(node),
    }
}

fn build_map(node: Node) -> Node {
    match node.value {
        Value::Str(_) => {
            let mut m = Map::new();
            let mark = node.mark.clone();
            let key_mark = node.key_mark.clone();
            m.insert("context".into(), node);
            Node::new(Value::Map(m), mark).with_key(key_mark)
        }
        _ => node,
    }
}

fn merge_ipam(base: Node, over: Node) -> Result<Node, MergeError> {
    let subnet = |n: &Node| {
        n.as_map()
            .and_then(|m| m.get("subnet"))
            .and_then(Node::scalar_text)
    };
    let mark = over.mark.clone();
    let key_mark = over.key_mark.clone();
    let mut items = to_list(base);
    for o in to_list(over) {
        match items.iter().position(|b| subnet(b) == subnet(&o)) {
            Some(i) => {
                let b = items.remove(i);
                let mut path = vec![];
                items.insert(i, merge_maps_or_replace(b, o, &mut path)?);
            }
            None => items.push(o),
        }
    }
    Ok(Node::new(Value::Seq(items), mark).with_key(key_mark))
}

fn merge_maps_or_replace(b: Node, o: Node, path: &mut Vec<String>) -> Result<Node, MergeError> {
    if b.as_map().is_some() && o.as_map().is_some() {
        merge_maps(b, o, path)
    } else {
        Ok(o)
    }
}

/// Removes what `!reset` left behind in a tree that was not merged over anything.
pub fn strip_resets(node: &mut Node) {
    match &mut node.value {
        Value::Map(m) => {
            m.retain(|_, v| v.tag != Tag::Reset);
            m.values_mut().for_each(strip_resets);
        }
        Value::Seq(items) => {
            items.retain(|v| v.tag != Tag::Reset);
            items.iter_mut().for_each(strip_resets);
        }
        _ => {}
    }
}

type Indexer = fn(&Node) -> Option<String>;

/// Sequences whose entries are unique by a key: a later entry with the key of an earlier one replaces it
/// in place (an override file's `8080:80` replaces the base's `8080:80`).
const UNIQUE: &[(&str, Indexer)] = &[
    ("services.*.cap_add", key_of_key_value),
    ("services.*.cap_drop", key_of_key_value),
    ("services.*.dns", key_of_key_value),
    ("services.*.dns_opt", key_of_key_value),
    ("services.*.dns_search", key_of_key_value),
    ("services.*.profiles", key_of_key_value),
    ("services.*.tmpfs", key_of_key_value),
    ("services.*.links", key_of_key_value),
    ("services.*.expose", Node::scalar_text),
    ("services.*.networks.*.aliases", key_of_key_value),
    ("services.*.networks.*.link_local_ips", key_of_key_value),
    ("services.*.build.tags", key_of_key_value),
    ("services.*.ports", key_of_port),
    ("services.*.volumes", key_of_volume),
    ("services.*.devices", key_of_device),
    ("services.*.secrets", key_of_secret),
    ("services.*.configs", key_of_config),
    ("services.*.env_file", key_of_env_file),
];

fn key_of_key_value(n: &Node) -> Option<String> {
    let t = n.scalar_text()?;
    Some(t.split_once('=').map_or(t.clone(), |(k, _)| k.to_owned()))
}

fn key_of_port(n: &Node) -> Option<String> {
    match &n.value {
        Value::Map(m) => {
            let get = |k: &str, d: &str| {
                m.get(k)
                    .and_then(Node::scalar_text)
                    .unwrap_or_else(|| d.to_owned())
            };
            Some(format!(
                "{}:{}:{}/{}",
                get("host_ip", "0.0.0.0"),
                get("published", ""),
                get("target", ""),
                get("protocol", "tcp")
            ))
        }
        _ => n.scalar_text(),
    }
}

fn key_of_volume(n: &Node) -> Option<String> {
    match &n.value {
        Value::Map(m) => m.get("target").and_then(Node::scalar_text),
        Value::Str(s) => volume_target(s),
        _ => None,
    }
}

fn key_of_device(n: &Node) -> Option<String> {
    match &n.value {
        Value::Map(m) => m.get("target").and_then(Node::scalar_text),
        Value::Str(s) => Some(s.split(':').nth(1).unwrap_or(s).to_owned()),
        _ => None,
    }
}

fn file_mount_key(n: &Node, dir: &str) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(format!("{dir}/{s}")),
        Value::Map(m) => m.get("target").and_then(Node::scalar_text).or_else(|| {
            let source = m
                .get("source")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            Some(format!("{dir}/{source}"))
        }),
        _ => None,
    }
}

fn key_of_secret(n: &Node) -> Option<String> {
    file_mount_key(n, "/run/secrets")
}

fn key_of_config(n: &Node) -> Option<String> {
    file_mount_key(n, "")
}

fn key_of_env_file(n: &Node) -> Option<String> {
    match &n.value {
        Value::Map(m) => m.get("path").and_then(Node::scalar_text),
        _ => n.scalar_text(),
    }
}

/// Makes the sequences of [`UNIQUE`] unique by their key.
pub fn enforce_unicity(node: &mut Node, path: &mut Vec<String>) {
    match &mut node.value {
        Value::Map(m) => {
            for (k, v) in m.iter_mut() {
                path.push(k.clone());
                enforce_unicity(v, path);
                path.pop();
            }
        }
        Value::Seq(items) => {
            if let Some((_, indexer)) = UNIQUE.iter().find(|(p, _)| matches(path, p)) {
                let mut seen: IndexMap<String, usize> = IndexMap::new();
                let mut out: Vec<Node> = Vec::new();
                for item in items.drain(..) {
                    match indexer(&item) {
                        Some(key) => match seen.get(&key) {
                            Some(&i) => out[i] = item,
                            None => {
                                seen.insert(key, out.len());
                                out.push(item);
                            }
                        },
                        None => out.push(item),
                    }
                }
                *items = out;
            }
            for (i, item) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                enforce_unicity(item, path);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;
    use std::path::Path;

    fn merged(a: &str, b: &str) -> serde_json::Value {
        let a = parse(a, Path::new("a.yaml")).unwrap().remove(0);
        let b = parse(b, Path::new("b.yaml")).unwrap().remove(0);
        let mut m = merge(a, b, &mut Vec::new()).unwrap();
        enforce_unicity(&mut m, &mut Vec::new());
        strip_resets(&mut m);
        m.to_json()
    }

    #[test]
    fn spec_rules() {
        let j = merged(
            "services:\n  web:\n    image: a\n    command: [x, y]\n    environment: [A=1, B=2]\n    \
             ports: ['8080:80', '9000:90']\n    depends_on: [db]\n    networks: [front]\n    dns: 1.1.1.1\n    \
             labels: {l: 1}\n",
            "services:\n  web:\n    image: b\n    command: [z]\n    environment: {B: 3, C: 4}\n    \
             ports: ['8080:80', '7000:70']\n    depends_on: {cache: {condition: service_healthy}}\n    \
             networks: {back: {aliases: [w]}}\n    dns: [8.8.8.8]\n    labels: !reset {}\n",
        );
        let web = &j["services"]["web"];
        assert_eq!(web["image"], "b");
        assert_eq!(web["command"], serde_json::json!(["z"]));
        assert_eq!(
            web["environment"],
            serde_json::json!({"A": "1", "B": 3, "C": 4})
        );
        assert_eq!(
            web["ports"],
            serde_json::json!(["8080:80", "9000:90", "7000:70"])
        );
        assert_eq!(web["depends_on"]["db"]["condition"], "service_started");
        assert_eq!(web["depends_on"]["cache"]["condition"], "service_healthy");
        assert_eq!(
            web["networks"],
            serde_json::json!({"front": null, "back": {"aliases": ["w"]}})
        );
        assert_eq!(web["dns"], serde_json::json!(["1.1.1.1", "8.8.8.8"]));
        assert!(web.get("labels").is_none());
    }

    #[test]
    fn override_tag_replaces() {
        let j = merged(
            "services:\n  web:\n    ports: ['1:1']\n",
            "services:\n  web:\n    ports: !override ['2:2']\n",
        );
        assert_eq!(j["services"]["web"]["ports"], serde_json::json!(["2:2"]));
    }

    #[test]
    fn volumes_unique_by_target() {
        let j = merged(
            "services:\n  web:\n    volumes: ['./a:/data', 'x:/other']\n",
            "services:\n  web:\n    volumes: [{type: bind, source: ./b, target: /data}]\n",
        );
        let vols = &j["services"]["web"]["volumes"];
        assert_eq!(vols.as_array().unwrap().len(), 2);
        assert_eq!(vols[0]["source"], "./b");
    }
}
