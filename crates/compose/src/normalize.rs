//! The normalised model: every short syntax in its long form, every default filled in, every relative path
//! made absolute, values given their types (`"true"` from an interpolation is a boolean where the spec says
//! so), resources named after the project, and the implicit dependencies (`network_mode: service:X`) made
//! explicit. The result is what `config` prints; its shape follows compose-go's, so that the JSON of both
//! is the same for the same file.

use std::path::Path;

use crate::canonical::{
    clean_path, format_duration, parse_bytes, parse_duration, parse_ports, parse_volume,
    SyntaxError,
};
use crate::merge::{key_value_map, list_to_map, matches, MergeError};
use crate::yaml::{Map, Mark, Node, Value};

/// Why the model could not be normalised.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("{mark}: {path}: {source}")]
    Syntax {
        mark: Mark,
        path: String,
        #[source]
        source: SyntaxError,
    },
    #[error("{mark}: {path}: {message}")]
    Invalid {
        mark: Mark,
        path: String,
        message: String,
    },
    #[error(transparent)]
    Merge(#[from] MergeError),
}

fn s(text: impl Into<String>, mark: &Mark) -> Node {
    Node::new(Value::Str(text.into()), mark.clone())
}

fn map_node(m: Map, like: &Node) -> Node {
    let mut n = Node::new(Value::Map(m), like.mark.clone());
    n.key_mark = like.key_mark.clone();
    n
}

fn seq_node(items: Vec<Node>, like: &Node) -> Node {
    let mut n = Node::new(Value::Seq(items), like.mark.clone());
    n.key_mark = like.key_mark.clone();
    n
}

fn invalid(node: &Node, path: &str, message: impl Into<String>) -> NormalizeError {
    NormalizeError::Invalid {
        mark: node.where_().clone(),
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Values the spec lets an interpolation write as strings, with the type they take.
#[derive(Clone, Copy)]
enum Cast {
    Bool,
    Int,
    Float,
}

const CASTS: &[(&str, Cast)] = &[
    ("services.*.cpu_count", Cast::Int),
    ("services.*.cpu_percent", Cast::Float),
    ("services.*.cpu_period", Cast::Int),
    ("services.*.cpu_quota", Cast::Int),
    ("services.*.cpu_rt_period", Cast::Int),
    ("services.*.cpu_rt_runtime", Cast::Int),
    ("services.*.cpus", Cast::Float),
    ("services.*.cpu_shares", Cast::Int),
    ("services.*.init", Cast::Bool),
    ("services.*.depends_on.*.required", Cast::Bool),
    ("services.*.depends_on.*.restart", Cast::Bool),
    ("services.*.deploy.replicas", Cast::Int),
    ("services.*.deploy.restart_policy.max_attempts", Cast::Int),
    ("services.*.deploy.resources.limits.cpus", Cast::Float),
    ("services.*.deploy.resources.reservations.cpus", Cast::Float),
    ("services.*.deploy.resources.limits.pids", Cast::Int),
    ("services.*.healthcheck.retries", Cast::Int),
    ("services.*.healthcheck.disable", Cast::Bool),
    ("services.*.oom_kill_disable", Cast::Bool),
    ("services.*.oom_score_adj", Cast::Int),
    ("services.*.pids_limit", Cast::Int),
    ("services.*.ports.*.target", Cast::Int),
    ("services.*.privileged", Cast::Bool),
    ("services.*.read_only", Cast::Bool),
    ("services.*.scale", Cast::Int),
    ("services.*.stdin_open", Cast::Bool),
    ("services.*.tty", Cast::Bool),
    ("services.*.ulimits.*", Cast::Int),
    ("services.*.ulimits.*.hard", Cast::Int),
    ("services.*.ulimits.*.soft", Cast::Int),
    ("services.*.volumes.*.read_only", Cast::Bool),
    ("services.*.volumes.*.volume.nocopy", Cast::Bool),
    ("services.*.volumes.*.bind.create_host_path", Cast::Bool),
    ("services.*.mem_swappiness", Cast::Int),
    ("networks.*.external", Cast::Bool),
    ("networks.*.internal", Cast::Bool),
    ("networks.*.attachable", Cast::Bool),
    ("networks.*.enable_ipv4", Cast::Bool),
    ("networks.*.enable_ipv6", Cast::Bool),
    ("volumes.*.external", Cast::Bool),
    ("secrets.*.external", Cast::Bool),
    ("configs.*.external", Cast::Bool),
];

/// Gives strings the types the spec's schema allows them to stand for.
pub fn cast(node: &mut Node, path: &mut Vec<String>) -> Result<(), NormalizeError> {
    match &mut node.value {
        Value::Map(m) => {
            for (k, v) in m.iter_mut() {
                path.push(k.clone());
                cast(v, path)?;
                path.pop();
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                cast(v, path)?;
                path.pop();
            }
        }
        Value::Str(text) => {
            let Some((_, kind)) = CASTS.iter().find(|(p, _)| matches(path, p)) else {
                return Ok(());
            };
            let t = text.trim().to_owned();
            let bad = |what: &str| NormalizeError::Invalid {
                mark: node.where_().clone(),
                path: path.join("."),
                message: format!("{t:?} is not {what}"),
            };
            node.value = match kind {
                Cast::Bool => match t.to_ascii_lowercase().as_str() {
                    "true" | "y" | "yes" | "on" => Value::Bool(true),
                    "false" | "n" | "no" | "off" => Value::Bool(false),
                    _ => return Err(bad("a boolean")),
                },
                Cast::Int => match t.parse() {
                    Ok(i) => Value::Int(i),
                    Err(_) => return Err(bad("an integer")),
                },
                Cast::Float => match t.parse() {
                    Ok(f) => Value::Float(f),
                    Err(_) => return Err(bad("a number")),
                },
            };
        }
        _ => {}
    }
    Ok(())
}

/// Everything the loader knows about the project while it normalises it.
pub struct Context<'a> {
    pub project_name: &'a str,
    pub project_dir: &'a Path,
    pub home: Option<&'a str>,
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// Makes the relative paths of one service absolute, against `dir` (the project directory, or the directory
/// of the file a service was extended from).
pub fn resolve_service_paths(
    service: &mut Node,
    dir: &Path,
    home: Option<&str>,
    path: &str,
) -> Result<(), NormalizeError> {
    let Some(m) = service.as_map_mut() else {
        return Ok(());
    };
    let abs = |p: &str| -> String {
        if let (Some(rest), Some(home)) = (p.strip_prefix('~'), home) {
            if rest.is_empty() || rest.starts_with('/') {
                return clean_path(&format!("{home}{rest}"));
            }
        }
        if p.starts_with('/') {
            clean_path(p)
        } else {
            clean_path(&format!("{}/{p}", dir.display()))
        }
    };
    if let Some(build) = m.get_mut("build") {
        canonical_build(build);
        // No context is `.`, the directory of the file (or included project) that declares the build.
        let bmark = build.mark.clone();
        if let Some(b) = build.as_map_mut() {
            b.entry("context".to_owned())
                .or_insert_with(|| s(".", &bmark));
        }
        if let Some(ctx) = build.as_map_mut().and_then(|b| b.get_mut("context")) {
            if let Some(c) = ctx.as_str() {
                if !c.contains("://") && !c.starts_with("git@") {
                    ctx.value = Value::Str(abs(c));
                }
            }
        }
    }
    if let Some(env_file) = m.get_mut("env_file") {
        canonical_env_file(env_file);
        if let Value::Seq(items) = &mut env_file.value {
            for item in items {
                if let Some(p) = item.as_map_mut().and_then(|e| e.get_mut("path")) {
                    if let Some(t) = p.as_str() {
                        p.value = Value::Str(abs(t));
                    }
                }
            }
        }
    }
    if let Some(volumes) = m.get_mut("volumes") {
        canonical_volumes(volumes, path)?;
        if let Value::Seq(items) = &mut volumes.value {
            for item in items {
                let Some(v) = item.as_map_mut() else { continue };
                if v.get("type").and_then(Node::as_str) != Some("bind") {
                    continue;
                }
                if let Some(src) = v.get_mut("source") {
                    if let Some(t) = src.as_str() {
                        src.value = Value::Str(abs(t));
                    }
                }
            }
        }
    }
    Ok(())
}

fn canonical_build(build: &mut Node) {
    if let Value::Str(c) = &build.value {
        let mut m = Map::new();
        m.insert("context".into(), s(c.clone(), &build.mark));
        *build = map_node(m, build);
    }
}

fn canonical_env_file(node: &mut Node) {
    let items = match &node.value {
        Value::Str(_) => vec![node.clone()],
        Value::Seq(items) => items.clone(),
        _ => return,
    };
    let items = items
        .into_iter()
        .map(|item| match item.value {
            Value::Str(p) => {
                let mut m = Map::new();
                m.insert("path".into(), s(p, &item.mark));
                m.insert(
                    "required".into(),
                    Node::new(Value::Bool(true), item.mark.clone()),
                );
                Node::new(Value::Map(m), item.mark)
            }
            Value::Map(mut m) => {
                if !m.contains_key("required") {
                    m.insert(
                        "required".into(),
                        Node::new(Value::Bool(true), item.mark.clone()),
                    );
                }
                Node::new(Value::Map(m), item.mark)
            }
            _ => item,
        })
        .collect();
    *node = seq_node(items, node);
}

fn canonical_volumes(node: &mut Node, path: &str) -> Result<(), NormalizeError> {
    let Value::Seq(items) = &mut node.value else {
        return Ok(());
    };
    for item in items.iter_mut() {
        if let Value::Str(spec) = &item.value {
            let v = parse_volume(spec).map_err(|source| NormalizeError::Syntax {
                mark: item.mark.clone(),
                path: format!("{path}.volumes"),
                source,
            })?;
            let mark = item.mark.clone();
            let mut m = Map::new();
            m.insert("type".into(), s(v.kind, &mark));
            if let Some(src) = v.source {
                m.insert("source".into(), s(src, &mark));
            }
            m.insert("target".into(), s(v.target, &mark));
            if v.read_only {
                m.insert(
                    "read_only".into(),
                    Node::new(Value::Bool(true), mark.clone()),
                );
            }
            if v.kind == "bind" {
                let mut b = Map::new();
                if let Some(p) = v.propagation {
                    b.insert("propagation".into(), s(p, &mark));
                }
                if let Some(z) = v.selinux {
                    b.insert("selinux".into(), s(z, &mark));
                }
                b.insert(
                    "create_host_path".into(),
                    Node::new(Value::Bool(true), mark.clone()),
                );
                m.insert("bind".into(), Node::new(Value::Map(b), mark.clone()));
            } else {
                let mut vol = Map::new();
                if v.nocopy {
                    vol.insert("nocopy".into(), Node::new(Value::Bool(true), mark.clone()));
                }
                m.insert("volume".into(), Node::new(Value::Map(vol), mark.clone()));
            }
            *item = Node::new(Value::Map(m), mark);
        }
        if let Some(m) = item.as_map_mut() {
            if let Some(t) = m.get_mut("target") {
                if let Some(text) = t.as_str() {
                    t.value = Value::Str(clean_path(text));
                }
            }
            if m.get("type").and_then(Node::as_str) == Some("bind") {
                let mark = item.mark.clone();
                let Some(m) = item.as_map_mut() else { continue };
                let bind = m
                    .entry("bind".to_owned())
                    .or_insert_with(|| Node::new(Value::Map(Map::new()), mark.clone()));
                if let Some(b) = bind.as_map_mut() {
                    b.entry("create_host_path".to_owned())
                        .or_insert_with(|| Node::new(Value::Bool(true), mark));
                }
            }
        }
    }
    Ok(())
}

/// Brings the whole project into its normal form (see the module's documentation).
pub fn normalize(dict: &mut Node, ctx: &Context) -> Result<(), NormalizeError> {
    let mark = dict.mark.clone();
    let Some(top) = dict.as_map_mut() else {
        return Ok(());
    };
    top.shift_remove("version");
    top.shift_remove("include");
    let mut uses_default = false;
    if let Some(services) = top.get_mut("services").and_then(Node::as_map_mut) {
        let names: Vec<String> = services.keys().cloned().collect();
        for name in names {
            let Some(service) = services.get_mut(&name) else {
                continue;
            };
            if service.is_null() {
                *service = map_node(Map::new(), service);
            }
            uses_default |= normalize_service(service, &name, ctx)?;
        }
    }
    for kind in ["networks", "volumes", "secrets", "configs"] {
        let needs_default = kind == "networks" && uses_default;
        let entry = top.get_mut(kind);
        let resources = match entry {
            Some(n) => {
                if n.is_null() {
                    *n = map_node(Map::new(), n);
                }
                n
            }
            None if needs_default => {
                top.insert(
                    kind.to_owned(),
                    Node::new(Value::Map(Map::new()), mark.clone()),
                );
                top.get_mut(kind).expect("just inserted")
            }
            None => continue,
        };
        let Some(resources) = resources.as_map_mut() else {
            continue;
        };
        if needs_default && !resources.contains_key("default") {
            resources.insert("default".into(), Node::new(Value::Null, mark.clone()));
        }
        for (key, r) in resources.iter_mut() {
            if r.is_null() {
                *r = map_node(Map::new(), r);
            }
            let rmark = r.mark.clone();
            let Some(m) = r.as_map_mut() else { continue };
            // `external: {name: x}` is the old spelling of `name: x, external: true`.
            if let Some(ext) = m.get("external").and_then(Node::as_map).cloned() {
                if let Some(n) = ext.get("name") {
                    m.entry("name".to_owned()).or_insert_with(|| n.clone());
                }
                m.insert(
                    "external".into(),
                    Node::new(Value::Bool(true), rmark.clone()),
                );
            }
            let external = matches!(m.get("external").map(|e| &e.value), Some(Value::Bool(true)));
            if m.get("name").is_none_or(Node::is_null) {
                let name = if external {
                    key.clone()
                } else {
                    format!("{}_{key}", ctx.project_name)
                };
                m.insert("name".into(), s(name, &rmark));
            }
            if kind == "networks" && !m.contains_key("ipam") {
                m.insert(
                    "ipam".into(),
                    Node::new(Value::Map(Map::new()), rmark.clone()),
                );
            }
            for labels in ["labels"] {
                if let Some(l) = m.get_mut(labels) {
                    *l = map_node(string_values(key_value_map(l)?), l);
                }
            }
        }
    }
    top.insert("name".into(), s(ctx.project_name, &mark));
    Ok(())
}

fn string_values(m: Map) -> Map {
    m.into_iter()
        .map(|(k, mut v)| {
            if !v.is_null() {
                if let Some(t) = v.scalar_text() {
                    v.value = Value::Str(t);
                }
            }
            (k, v)
        })
        .collect()
}

fn dependency(mark: &Mark, restart: bool) -> Node {
    let mut m = Map::new();
    m.insert("condition".into(), s("service_started", mark));
    if restart {
        m.insert("restart".into(), Node::new(Value::Bool(true), mark.clone()));
    }
    m.insert(
        "required".into(),
        Node::new(Value::Bool(true), mark.clone()),
    );
    Node::new(Value::Map(m), mark.clone())
}

/// Normalises one service; says whether it is on the default network.
fn normalize_service(
    service: &mut Node,
    name: &str,
    ctx: &Context,
) -> Result<bool, NormalizeError> {
    let path = format!("services.{name}");
    resolve_service_paths(service, ctx.project_dir, ctx.home, &path)?;
    let smark = service.mark.clone();
    let Some(m) = service.as_map_mut() else {
        return Err(invalid(service, &path, "a service is a mapping"));
    };
    m.shift_remove("extends");
    let p = |k: &str| format!("{path}.{k}");
    if let Some(build) = m.get_mut("build").and_then(Node::as_map_mut) {
        if !build.contains_key("dockerfile") && !build.contains_key("dockerfile_inline") {
            build.insert("dockerfile".into(), s("Dockerfile", &smark));
        }
    }
    for key in ["command", "entrypoint"] {
        if let Some(n) = m.get_mut(key) {
            if let Value::Str(text) = &n.value {
                let words = shell_words::split(text).map_err(|e| {
                    invalid(n, &p(key), format!("cannot split {text:?} into words: {e}"))
                })?;
                *n = seq_node(words.into_iter().map(|w| s(w, &n.mark)).collect(), n);
            }
        }
    }
    if let Some(hc) = m.get_mut("healthcheck").and_then(Node::as_map_mut) {
        if let Some(test) = hc.get_mut("test") {
            if let Value::Str(text) = &test.value {
                let items = vec![s("CMD-SHELL", &test.mark), s(text.clone(), &test.mark)];
                *test = seq_node(items, test);
            }
        }
        for key in ["interval", "timeout", "start_period", "start_interval"] {
            duration(hc, key, &p("healthcheck"))?;
        }
    }
    if let Some(n) = m.get("userns_mode") {
        let mode = n.scalar_text().unwrap_or_default();
        let size_ok = |n: &str| n.parse::<u32>().is_ok_and(|n| n > 0);
        let known = mode == "host"
            || mode == "auto"
            || mode.strip_prefix("auto:size=").is_some_and(size_ok);
        if !known {
            return Err(invalid(
                n,
                &p("userns_mode"),
                format!("{mode:?} is not a user namespace mode minotaur has (host, auto or auto:size=N)"),
            ));
        }
    }
    duration(m, "stop_grace_period", &path)?;
    for key in ["mem_limit", "mem_reservation", "memswap_limit", "shm_size"] {
        bytes(m, key, &path)?;
    }
    if let Some(deploy) = m.get_mut("deploy").and_then(Node::as_map_mut) {
        if let Some(res) = deploy.get_mut("resources").and_then(Node::as_map_mut) {
            for kind in ["limits", "reservations"] {
                if let Some(r) = res.get_mut(kind).and_then(Node::as_map_mut) {
                    bytes(r, "memory", &format!("{path}.deploy.resources.{kind}"))?;
                }
            }
        }
        if let Some(rp) = deploy.get_mut("restart_policy").and_then(Node::as_map_mut) {
            duration(rp, "delay", &p("deploy.restart_policy"))?;
            duration(rp, "window", &p("deploy.restart_policy"))?;
        }
        for key in ["resources", "placement"] {
            deploy
                .entry(key.to_owned())
                .or_insert_with(|| Node::new(Value::Map(Map::new()), smark.clone()));
        }
    }
    for key in ["environment", "labels", "sysctls", "annotations"] {
        if let Some(n) = m.get_mut(key) {
            let mut map = string_values(key_value_map(n)?);
            if key == "environment" {
                for (k, v) in map.iter_mut() {
                    if v.is_null() {
                        if let Some(val) = (ctx.lookup)(k) {
                            v.value = Value::Str(val);
                        }
                    }
                }
            }
            *n = map_node(map, n);
        }
    }
    for key in [
        "dns",
        "dns_search",
        "dns_opt",
        "tmpfs",
        "cap_add",
        "cap_drop",
        "profiles",
        "security_opt",
    ] {
        if let Some(n) = m.get_mut(key) {
            if let Value::Str(_) = n.value {
                *n = seq_node(vec![n.clone()], n);
            }
        }
    }
    if let Some(n) = m.get_mut("expose") {
        if let Value::Seq(items) = &mut n.value {
            for i in items {
                if let Some(t) = i.scalar_text() {
                    i.value = Value::Str(t);
                }
            }
        }
    }
    if let Some(n) = m.get_mut("extra_hosts") {
        *n = extra_hosts(n);
    }
    if let Some(n) = m.get_mut("ports") {
        *n = ports(n, &p("ports"))?;
    }
    for key in ["secrets", "configs"] {
        if let Some(Value::Seq(items)) = m.get_mut(key).map(|n| &mut n.value) {
            for item in items.iter_mut() {
                if let Value::Str(src) = &item.value {
                    let mut mm = Map::new();
                    mm.insert("source".into(), s(src.clone(), &item.mark));
                    *item = Node::new(Value::Map(mm), item.mark.clone());
                }
                let imark = item.mark.clone();
                if key == "secrets" {
                    if let Some(mm) = item.as_map_mut() {
                        if !mm.contains_key("target") {
                            let src = mm
                                .get("source")
                                .and_then(Node::scalar_text)
                                .unwrap_or_default();
                            mm.insert("target".into(), s(format!("/run/secrets/{src}"), &imark));
                        }
                    }
                }
            }
        }
    }
    // Dependencies: both syntaxes as one mapping, plus those a shared namespace implies.
    if let Some(n) = m.shift_remove("depends_on") {
        let mut deps = list_to_map(n, Some(|mk: &Mark| dependency(mk, false)));
        if let Some(dm) = deps.as_map_mut() {
            for (_, d) in dm.iter_mut() {
                let dmark = d.mark.clone();
                if let Some(dd) = d.as_map_mut() {
                    dd.entry("condition".to_owned())
                        .or_insert_with(|| s("service_started", &dmark));
                    dd.entry("required".to_owned())
                        .or_insert_with(|| Node::new(Value::Bool(true), dmark));
                }
            }
        }
        m.insert("depends_on".into(), deps);
    }
    // In compose-go's order: `links: [X[:ALIAS]]`, a namespace shared with `service:X` (both restarted with
    // X), then `volumes_from: [X[:MODE]]` (not `container:X`).
    let mut implied: Vec<(String, Mark, bool)> = Vec::new();
    let refs = |key: &str| -> Vec<(String, Mark)> {
        m.get(key)
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
            .filter_map(|n| {
                let text = n.as_str()?;
                (!text.starts_with("container:")).then(|| {
                    (
                        text.split(':').next().unwrap_or(text).to_owned(),
                        n.where_().clone(),
                    )
                })
            })
            .collect()
    };
    implied.extend(refs("links").into_iter().map(|(o, mk)| (o, mk, true)));
    for key in ["network_mode", "ipc", "pid", "uts", "cgroup"] {
        let Some(node) = m.get(key) else { continue };
        if let Some(other) = node.as_str().and_then(|v| v.strip_prefix("service:")) {
            implied.push((other.to_owned(), node.where_().clone(), true));
        }
    }
    implied.extend(
        refs("volumes_from")
            .into_iter()
            .map(|(o, mk)| (o, mk, false)),
    );
    for (other, nmark, restart) in implied {
        let deps = m
            .entry("depends_on".to_owned())
            .or_insert_with(|| Node::new(Value::Map(Map::new()), nmark.clone()));
        if let Some(dm) = deps.as_map_mut() {
            dm.entry(other).or_insert_with(|| {
                let mut d = dependency(&nmark, restart);
                d.key_mark = Some(nmark.clone());
                d
            });
        }
    }
    if let Some(n) = m.shift_remove("networks") {
        m.insert("networks".into(), list_to_map(n, None));
    }
    let mut on_default = false;
    if !m.contains_key("network_mode") && !m.contains_key("provider") {
        let nets = m
            .entry("networks".to_owned())
            .or_insert_with(|| Node::new(Value::Map(Map::new()), smark.clone()));
        if let Some(nm) = nets.as_map_mut() {
            if nm.is_empty() {
                nm.insert("default".into(), Node::new(Value::Null, smark.clone()));
            }
            on_default = nm.contains_key("default");
        }
    }
    Ok(on_default)
}

fn duration(m: &mut Map, key: &str, path: &str) -> Result<(), NormalizeError> {
    if let Some(n) = m.get_mut(key) {
        let text = n.scalar_text().unwrap_or_default();
        let d = parse_duration(&text).map_err(|source| NormalizeError::Syntax {
            mark: n.where_().clone(),
            path: format!("{path}.{key}"),
            source,
        })?;
        n.value = Value::Str(format_duration(d));
    }
    Ok(())
}

fn bytes(m: &mut Map, key: &str, path: &str) -> Result<(), NormalizeError> {
    if let Some(n) = m.get_mut(key) {
        let text = n.scalar_text().unwrap_or_default();
        let b = parse_bytes(&text).map_err(|source| NormalizeError::Syntax {
            mark: n.where_().clone(),
            path: format!("{path}.{key}"),
            source,
        })?;
        n.value = Value::Str(b.to_string());
    }
    Ok(())
}

fn extra_hosts(n: &Node) -> Node {
    let mut entries: Vec<String> = Vec::new();
    match &n.value {
        Value::Map(m) => {
            for (host, ips) in m {
                match &ips.value {
                    Value::Seq(list) => {
                        for ip in list {
                            entries
                                .push(format!("{host}={}", ip.scalar_text().unwrap_or_default()));
                        }
                    }
                    _ => entries.push(format!("{host}={}", ips.scalar_text().unwrap_or_default())),
                }
            }
        }
        Value::Seq(list) => {
            for e in list {
                let t = e.scalar_text().unwrap_or_default();
                let entry = match t.split_once('=') {
                    Some(_) => t,
                    None => match t.split_once(':') {
                        Some((h, ip)) => format!("{h}={ip}"),
                        None => t,
                    },
                };
                entries.push(entry);
            }
        }
        _ => return n.clone(),
    }
    entries.sort();
    entries.dedup();
    seq_node(entries.into_iter().map(|e| s(e, &n.mark)).collect(), n)
}

fn ports(n: &Node, path: &str) -> Result<Node, NormalizeError> {
    let Value::Seq(items) = &n.value else {
        return Ok(n.clone());
    };
    let mut out = Vec::new();
    for item in items {
        let mark = item.mark.clone();
        match &item.value {
            Value::Map(m) => {
                let mut m = m.clone();
                if let Some(p) = m.get_mut("published") {
                    if let Some(t) = p.scalar_text() {
                        p.value = Value::Str(t);
                    }
                }
                m.entry("protocol".to_owned())
                    .or_insert_with(|| s("tcp", &mark));
                m.entry("mode".to_owned())
                    .or_insert_with(|| s("ingress", &mark));
                out.push(Node::new(Value::Map(m), mark));
            }
            _ => {
                let spec = item.scalar_text().unwrap_or_default();
                let parsed = parse_ports(&spec).map_err(|source| NormalizeError::Syntax {
                    mark: mark.clone(),
                    path: path.to_owned(),
                    source,
                })?;
                for p in parsed {
                    let mut m = Map::new();
                    m.insert("mode".into(), s("ingress", &mark));
                    if let Some(ip) = p.host_ip {
                        m.insert("host_ip".into(), s(ip, &mark));
                    }
                    m.insert(
                        "target".into(),
                        Node::new(Value::Int(i64::from(p.target)), mark.clone()),
                    );
                    if let Some(pb) = p.published {
                        m.insert("published".into(), s(pb, &mark));
                    }
                    m.insert("protocol".into(), s(p.protocol, &mark));
                    out.push(Node::new(Value::Map(m), mark.clone()));
                }
            }
        }
    }
    Ok(seq_node(out, n))
}
