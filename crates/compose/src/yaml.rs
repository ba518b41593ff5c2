//! The YAML tree the loader works on: every value carries where it came from (file, line, column), so that
//! an error found late (an unknown service in `depends_on`, after merging three files) still names the file
//! and the line the user wrote.
//!
//! The tree is built from `saphyr-parser`'s events rather than through a serde deserializer because compose
//! needs more than serde sees: anchors and aliases, merge keys (`<<: *base`, which YAML 1.2 dropped but compose
//! files use everywhere), and the spec's `!reset` / `!override` tags.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Where a value was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub file: Arc<PathBuf>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl Mark {
    pub fn new(file: &Path, line: usize, col: usize) -> Mark {
        Mark {
            file: Arc::new(file.to_path_buf()),
            line,
            col,
        }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// The compose spec's merge tags (`!reset` drops the inherited value, `!override` replaces it whole).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tag {
    #[default]
    None,
    Reset,
    Override,
}

/// A value and where it was written.
#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    /// Where the value starts.
    pub mark: Mark,
    /// Where its key is, when the node is the value of a mapping entry (the line errors point at).
    pub key_mark: Option<Mark>,
    pub tag: Tag,
}

pub type Map = IndexMap<String, Node>;

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Map),
}

/// Why a YAML document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error("{mark}: malformed YAML: {message}")]
    Syntax { mark: Mark, message: String },
    #[error("{mark}: a mapping key must be a string, not a {what}")]
    KeyNotScalar { mark: Mark, what: &'static str },
    #[error("{mark}: an alias refers to an unknown anchor")]
    UnknownAnchor { mark: Mark },
    #[error("{mark}: a merge key (<<) takes a mapping or a list of mappings")]
    BadMerge { mark: Mark },
    #[error("{mark}: duplicate key {key:?}")]
    DuplicateKey { mark: Mark, key: String },
}

impl Node {
    pub fn new(value: Value, mark: Mark) -> Node {
        Node {
            value,
            mark,
            key_mark: None,
            tag: Tag::None,
        }
    }

    /// The mark an error about this node points at: its key if it has one.
    pub fn where_(&self) -> &Mark {
        self.key_mark.as_ref().unwrap_or(&self.mark)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A short name of the value's type, for messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }

    /// The scalar as text (what `8080` or `true` reads as in a string context), or None for a collection.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Null => Some(String::new()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// The node at a path of keys and list indexes, if there is one.
    pub fn at(&self, path: &[String]) -> Option<&Node> {
        let mut node = self;
        for seg in path {
            node = match &node.value {
                Value::Map(m) => m.get(seg)?,
                Value::Seq(s) => s.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The nearest mark for a path: the deepest node that exists on it.
    pub fn mark_for(&self, path: &[String]) -> Mark {
        let mut node = self;
        for seg in path {
            let next = match &node.value {
                Value::Map(m) => m.get(seg),
                Value::Seq(s) => seg.parse::<usize>().ok().and_then(|i| s.get(i)),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node.where_().clone()
    }

    /// The value as JSON (what the schema validates and `config` prints).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

/// Parses every document of a YAML stream.
pub fn parse(text: &str, file: &Path) -> Result<Vec<Node>, YamlError> {
    let file = Arc::new(file.to_path_buf());
    let mark = |span: &Span| Mark {
        file: file.clone(),
        line: span.start.line(),
        col: span.start.col() + 1,
    };
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut anchors: Vec<Option<Node>> = Vec::new();
    // Open collections: the node being built, its anchor, and for mappings the key waiting for its value.
    let mut stack: Vec<Building> = Vec::new();
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(err)) => {
                let m = err.marker();
                return Err(YamlError::Syntax {
                    mark: Mark {
                        file: file.clone(),
                        line: m.line(),
                        col: m.col() + 1,
                    },
                    message: err.info().to_owned(),
                });
            }
        };
        let here = mark(&span);
        let done: Node = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => continue,
            Event::DocumentStart(_) => {
                anchors.clear();
                continue;
            }
            Event::DocumentEnd => continue,
            Event::Alias(id) => match anchors.get(id).and_then(Clone::clone) {
                Some(mut n) => {
                    n.key_mark = None;
                    n.mark = here;
                    n
                }
                None => return Err(YamlError::UnknownAnchor { mark: here }),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let tag_name = tag.as_ref().map(|t| format!("{}{}", t.handle, t.suffix));
                let (value, ctag) = scalar(&text, style, tag_name.as_deref());
                let mut n = Node::new(value, here);
                n.tag = ctag;
                n.key_mark = None;
                remember(&mut anchors, anchor, &n);
                // A plain `<<` key is a merge key, kept apart from ordinary keys.
                if style == ScalarStyle::Plain && &*text == "<<" {
                    if let Some(Building::Map { pending, .. }) = stack.last_mut() {
                        if pending.is_none() {
                            *pending = Some(Pending::Merge(n.mark.clone()));
                            continue;
                        }
                    }
                }
                n
            }
            Event::SequenceStart(anchor, tag) => {
                stack.push(Building::Seq {
                    node: Node::new(Value::Seq(Vec::new()), here),
                    anchor,
                    tag: tag.map_or(Tag::None, |t| tag_of(&format!("{}{}", t.handle, t.suffix))),
                });
                continue;
            }
            Event::MappingStart(anchor, tag) => {
                stack.push(Building::Map {
                    node: Node::new(Value::Map(Map::new()), here),
                    anchor,
                    tag: tag.map_or(Tag::None, |t| tag_of(&format!("{}{}", t.handle, t.suffix))),
                    pending: None,
                    merges: Vec::new(),
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Building::Seq {
                    mut node,
                    anchor,
                    tag,
                }) => {
                    node.tag = tag;
                    remember(&mut anchors, anchor, &node);
                    node
                }
                _ => unreachable!("the parser balances sequence events"),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Building::Map {
                    mut node,
                    anchor,
                    tag,
                    merges,
                    ..
                }) => {
                    apply_merges(&mut node, merges)?;
                    node.tag = tag;
                    remember(&mut anchors, anchor, &node);
                    node
                }
                _ => unreachable!("the parser balances mapping events"),
            },
        };
        match stack.last_mut() {
            None => docs.push(done),
            Some(Building::Seq { node, .. }) => {
                if let Value::Seq(items) = &mut node.value {
                    items.push(done);
                }
            }
            Some(Building::Map {
                node,
                pending,
                merges,
                ..
            }) => match pending.take() {
                None => {
                    let key = match &done.value {
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(YamlError::KeyNotScalar {
                                what: done.kind(),
                                mark: done.mark,
                            })
                        }
                        _ => done.scalar_text().unwrap_or_default(),
                    };
                    *pending = Some(Pending::Key(key, done.mark));
                }
                Some(Pending::Key(key, key_mark)) => {
                    let mut value = done;
                    value.key_mark = Some(key_mark.clone());
                    if let Value::Map(m) = &mut node.value {
                        if m.contains_key(&key) {
                            return Err(YamlError::DuplicateKey {
                                mark: key_mark,
                                key,
                            });
                        }
                        m.insert(key, value);
                    }
                }
                Some(Pending::Merge(mark)) => merges.push((mark, done)),
            },
        }
    }
    Ok(docs)
}

enum Pending {
    Key(String, Mark),
    Merge(Mark),
}

enum Building {
    Seq {
        node: Node,
        anchor: usize,
        tag: Tag,
    },
    Map {
        node: Node,
        anchor: usize,
        tag: Tag,
        pending: Option<Pending>,
        merges: Vec<(Mark, Node)>,
    },
}

fn remember(anchors: &mut Vec<Option<Node>>, anchor: usize, node: &Node) {
    if anchor == 0 {
        return;
    }
    if anchors.len() <= anchor {
        anchors.resize(anchor + 1, None);
    }
    anchors[anchor] = Some(node.clone());
}

/// Merge keys: the mapping's own keys win, then the merged mappings in the order they are listed.
fn apply_merges(node: &mut Node, merges: Vec<(Mark, Node)>) -> Result<(), YamlError> {
    let Value::Map(map) = &mut node.value else {
        return Ok(());
    };
    for (mark, source) in merges {
        let sources = match source.value {
            Value::Map(m) => vec![m],
            Value::Seq(items) => {
                let mut maps = Vec::new();
                for item in items {
                    match item.value {
                        Value::Map(m) => maps.push(m),
                        _ => return Err(YamlError::BadMerge { mark }),
                    }
                }
                maps
            }
            _ => return Err(YamlError::BadMerge { mark }),
        };
        for source in sources {
            for (k, v) in source {
                if !map.contains_key(&k) {
                    map.insert(k, v);
                }
            }
        }
    }
    Ok(())
}

fn tag_of(name: &str) -> Tag {
    match name {
        "!reset" => Tag::Reset,
        "!override" => Tag::Override,
        _ => Tag::None,
    }
}

/// Resolves a scalar with YAML 1.2's core schema (what compose-go's YAML library does too): `yes` and `on` are
/// strings, `0o17` is octal, `1_000` is a string.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> (Value, Tag) {
    match tag {
        Some("!reset") => return (resolve_plain(text, style), Tag::Reset),
        Some("!override") => return (resolve_plain(text, style), Tag::Override),
        Some("tag:yaml.org,2002:str" | "!!str") => return (Value::Str(text.to_owned()), Tag::None),
        _ => {}
    }
    (resolve_plain(text, style), Tag::None)
}

fn resolve_plain(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::Str(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Value::Int(i);
    }
    if is_float(text) {
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(text.to_owned())
}

fn parse_int(text: &str) -> Option<i64> {
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn is_float(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exp_ok = match exp {
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && digits(e)
        }
        None => frac.is_some(),
    };
    mantissa_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        parse(text, Path::new("t.yaml")).unwrap().remove(0)
    }

    #[test]
    fn scalars_follow_yaml_1_2() {
        let n = one("a: yes\nb: 010\nc: 0o10\nd: 1.5\ne: ~\nf: '1'\ng: 1e3\nh: 8080:80\n");
        let j = n.to_json();
        assert_eq!(j["a"], "yes");
        assert_eq!(j["b"], 10);
        assert_eq!(j["c"], 8);
        assert_eq!(j["d"], 1.5);
        assert!(j["e"].is_null());
        assert_eq!(j["f"], "1");
        assert_eq!(j["g"], 1000.0);
        assert_eq!(j["h"], "8080:80");
    }

    #[test]
    fn anchors_and_merge_keys() {
        let n = one(
            "x: &base\n  image: a\n  environment: {A: 1}\ny: &more {user: me, image: c}\n\
             s:\n  <<: [*base, *more]\n  image: b\n",
        );
        let j = n.to_json();
        assert_eq!(j["s"]["image"], "b");
        assert_eq!(j["s"]["environment"]["A"], 1);
        assert_eq!(j["s"]["user"], "me");
    }

    #[test]
    fn marks_point_at_keys() {
        let n = one("services:\n  web:\n    image: x\n");
        let web = n.at(&["services".into(), "web".into()]).unwrap();
        assert_eq!(web.where_().line, 2);
        let image = n
            .at(&["services".into(), "web".into(), "image".into()])
            .unwrap();
        assert_eq!(image.where_().line, 3);
    }

    #[test]
    fn malformed_yaml_names_the_line() {
        let err = parse("a: b\n c: d\n  - e\n", Path::new("bad.yaml")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.yaml:"), "{text}");
    }

    #[test]
    fn reset_and_override_tags() {
        let n = one("a: !reset null\nb: !override [1]\n");
        let m = n.as_map().unwrap();
        assert_eq!(m["a"].tag, Tag::Reset);
        assert_eq!(m["b"].tag, Tag::Override);
    }
}
