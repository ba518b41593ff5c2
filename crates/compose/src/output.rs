//! `config`'s YAML output, written from the normalised JSON: block style, keys in the model's order, a
//! string quoted (as JSON, which YAML reads the same) whenever it could be read back as something else.

use serde_json::Value;

/// The YAML text of a value.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => block_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => block_seq(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(n: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn block_map(m: &serde_json::Map<String, Value>, level: usize, out: &mut String) {
    for (k, v) in m {
        indent(level, out);
        out.push_str(&string(k));
        out.push(':');
        child(v, level, out);
    }
}

fn block_seq(a: &[Value], level: usize, out: &mut String) {
    for v in a {
        indent(level, out);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // The first key on the dash's line, the others under it.
                let mut first = true;
                for (k, v) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent(level + 2, out);
                    }
                    out.push_str(&string(k));
                    out.push(':');
                    child(v, level + 2, out);
                }
            }
            _ => child(v, level, out),
        }
    }
}

fn child(v: &Value, level: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            block_map(m, level + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            block_seq(a, level + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

fn string(s: &str) -> String {
    let plain_safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || "_./-@+=,()".contains(c) || c == ' ')
        && !s.starts_with([' ', '-', '.', '@', ',', '('])
        && !s.ends_with(' ')
        && !looks_typed(s);
    if plain_safe {
        s.to_owned()
    } else {
        Value::String(s.to_owned()).to_string()
    }
}

/// Whether a plain scalar would be read back as something other than a string.
fn looks_typed(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) || s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_look_typed_are_quoted() {
        let v = serde_json::json!({"a": "8080", "b": "true", "c": "x y", "d": [ {"e": 1, "f": "g:h"} ], "i": {}, "j": null});
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "a: \"8080\"\nb: \"true\"\nc: x y\nd:\n  - e: 1\n    f: \"g:h\"\ni: {}\nj: null\n"
        );
        let docs = crate::yaml::parse(&y, std::path::Path::new("x")).unwrap();
        assert_eq!(docs[0].to_json(), v);
    }
}
