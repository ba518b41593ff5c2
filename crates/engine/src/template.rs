//! `--format` templates, rendered the way Go's text/template renders them for Docker.
//!
//! Parsing and execution are gtmpl's. Three things are ours: the data is the same JSON document `inspect` prints,
//! converted to template values with the Go types Docker's documents have ([`crate::docker_types`]); printing
//! follows Go's `fmt` rules ([`crate::gofmt`]: `[a b]` for a list, `map[k:v]` for a map, `{v1 v2}` for a struct,
//! `<nil>`), which gtmpl does not do for composite values; and `printf` is Go's, verbs and flags. We print
//! the Go way by rewriting each printing action `{{ PIPELINE }}` into `{{ PIPELINE | _gofmt }}` before parsing;
//! control actions (`if`, `range`, …), comments and variable declarations print nothing and are left alone.
//! Docker's extra functions are added: `json`, `join`, `upper`, `lower`, `split`, `title`, `println` (gtmpl's
//! own), `truncate`, `pad`.

use gtmpl::{Context, FuncError, Template, Value};

use crate::docker_types::{self, Ty};
use crate::gofmt;

/// A template that could not be parsed or executed.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template parsing error: {0}")]
    Parse(String),
    #[error("template: {0}")]
    Execute(String),
}

/// A parsed `--format` template, reusable for many documents (one per row of `ps`).
pub struct Format {
    tmpl: Template,
}

impl Format {
    /// Parses `text` as a Go template with Docker's functions.
    pub fn parse(text: &str) -> Result<Format, TemplateError> {
        let mut tmpl = Template::default();
        tmpl.add_funcs(&[
            ("_gofmt", go_print as gtmpl::Func),
            ("printf", printf),
            ("json", json),
            ("join", join),
            ("upper", upper),
            ("lower", lower),
            ("split", split),
            ("title", title),
            ("truncate", truncate),
            ("pad", pad),
        ]);
        tmpl.parse(rewrite_prints(text)?)
            .map_err(|e| TemplateError::Parse(one_line(&e.to_string())))?;
        Ok(Format { tmpl })
    }

    /// Renders the template over a JSON document whose objects are all maps (`ps` rows).
    pub fn render(&self, data: &serde_json::Value) -> Result<String, TemplateError> {
        self.render_as(data, &Ty::Any)
    }

    /// Renders the template over a JSON document standing for the Go type `ty` (see [`crate::docker_types`]),
    /// so that structs, nil lists and nil maps print as Docker prints them.
    pub fn render_as(&self, data: &serde_json::Value, ty: &Ty) -> Result<String, TemplateError> {
        self.tmpl
            .render(&Context::from(docker_types::to_value(data, ty)))
            .map_err(|e| TemplateError::Execute(one_line(&e.to_string())))
    }
}

/// gtmpl's message with its control characters escaped: it quotes the template and its keys, and an error
/// is one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Converts template values back into JSON (for the `json` function), without the keys that are ours.
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into()
            } else if let Some(u) = n.as_u64() {
                u.into()
            } else {
                serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0))
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null)
            }
        }
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Value::Object(m) | Value::Map(m) => serde_json::Value::Object(
            m.iter()
                .filter(|(k, _)| !gofmt::is_hidden(k))
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// Splits `text` into literal text and `{{ … }}` actions, and appends `| _gofmt` to each printing action.
///
/// It also refuses, before gtmpl sees them, the two kinds of action gtmpl's lexer cannot take: one left open
/// at the end of the text, and one with a non-ASCII character outside its quoted strings. Its lexer steps
/// back one byte after every character it peeks at, whatever that character's width (Go's steps back the
/// width): past the end of the text that re-reads the last character for ever (`{{-` never returned), and
/// after a multi-byte character it slices inside it and panics on its own thread.
fn rewrite_prints(text: &str) -> Result<String, TemplateError> {
    const CONTROL: &[&str] = &[
        "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    ];
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let len = action_len(after).map_err(|why| TemplateError::Parse(why.to_owned()))?;
        let inner = &after[..len];
        rest = &after[len + 2..];
        let (lead, body) = match inner.strip_prefix('-') {
            Some(b) if b.starts_with(char::is_whitespace) => ("-", b),
            _ => ("", inner),
        };
        let (body, trail) = match body.strip_suffix('-') {
            Some(b) if b.ends_with(char::is_whitespace) => (b, "-"),
            _ => (body, ""),
        };
        let word = body
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or("");
        let is_decl = word.starts_with('$') && {
            let after_var = body.trim_start()[word.len()..].trim_start();
            after_var.starts_with(":=")
                || (after_var.starts_with('=') && !after_var.starts_with("=="))
        };
        let prints = !body.trim().is_empty()
            && !CONTROL.contains(&word)
            && !body.trim_start().starts_with("/*")
            && !is_decl;
        // `{{- ` trims the text before the action. We trim it here and hand gtmpl no marker: its lexer
        // takes the last non-space character before the marker to be one byte wide, and slices inside a
        // multi-byte one (`é{{- .X}}` panicked on its thread).
        if lead == "-" {
            out.truncate(out.trim_end().len());
        }
        out.push_str("{{");
        if prints {
            out.push_str(&format!(" ({}) | _gofmt ", body.trim()));
        } else {
            out.push_str(body);
        }
        out.push_str(trail);
        out.push_str("}}");
    }
    out.push_str(rest);
    Ok(out)
}

/// The length of an action's inside, up to its closing `}}`, skipping what gtmpl's lexer skips: quoted
/// strings, raw strings, character constants, and a comment that opens the action. Refuses what that lexer
/// cannot take (see [`rewrite_prints`]), with Go's words where Go has them.
fn action_len(s: &str) -> Result<usize, &'static str> {
    let b = s.as_bytes();
    let body = s.strip_prefix("- ").map_or(0, |_| 2);
    if s[body..].starts_with("/*") {
        // Read as text up to `*/`, with no stepping back: safe whatever it holds.
        let end = s[body + 2..].find("*/").ok_or("unclosed comment")? + body + 2 + 2;
        return match &s[end..] {
            r if r.starts_with("}}") => Ok(end),
            r if r.starts_with(" -}}") => Ok(end + 2),
            _ => Err("comment ends before closing delimiter"),
        };
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    match b[i] {
                        b'\n' => break,
                        b'\\' => i += 2,
                        _ => i += 1,
                    }
                }
                if i >= b.len() || b[i] != q {
                    return Err(if q == b'"' {
                        "unterminated quoted string"
                    } else {
                        "unterminated character constant"
                    });
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
                if i >= b.len() {
                    return Err("unterminated raw quoted string");
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Ok(i),
            c if !c.is_ascii() => {
                return Err("a non-ASCII character outside quotes in an action is not supported")
            }
            _ => {}
        }
        i += 1;
    }
    Err("unclosed action")
}

fn arg_str(name: &str, args: &[Value], i: usize) -> Result<String, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(gofmt::print(other)),
        None => Err(FuncError::AtLeastXArgs(name.into(), i + 1)),
    }
}

fn go_print(args: &[Value]) -> Result<Value, FuncError> {
    let v = args
        .first()
        .ok_or_else(|| FuncError::ExactlyXArgs("_gofmt".into(), 1))?;
    Ok(match v {
        Value::String(_) => v.clone(),
        other => Value::String(gofmt::print(other)),
    })
}

/// Go's `printf` (gtmpl's knows few verbs: `%q` of a string gives no quotes).
fn printf(args: &[Value]) -> Result<Value, FuncError> {
    match args.first() {
        Some(Value::String(f)) => Ok(Value::String(gofmt::sprintf(f, &args[1..]))),
        Some(_) => Err(FuncError::Generic(
            "printf: the format must be a string".into(),
        )),
        None => Err(FuncError::AtLeastXArgs("printf".into(), 1)),
    }
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    let v = args
        .first()
        .ok_or_else(|| FuncError::ExactlyXArgs("json".into(), 1))?;
    Ok(Value::String(to_json(v).to_string()))
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = arg_str("join", args, 1)?;
    match args.first() {
        Some(Value::Array(a)) => Ok(Value::String(
            a.iter().map(gofmt::print).collect::<Vec<_>>().join(&sep),
        )),
        Some(Value::Nil) | Some(Value::NoValue) => Ok(Value::String(String::new())),
        _ => Err(FuncError::Generic(
            "join: first argument must be a list".into(),
        )),
    }
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(arg_str("upper", args, 0)?.to_uppercase()))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(arg_str("lower", args, 0)?.to_lowercase()))
}

fn split(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str("split", args, 0)?;
    let sep = arg_str("split", args, 1)?;
    Ok(Value::Array(
        s.split(sep.as_str())
            .map(|p| Value::String(p.into()))
            .collect(),
    ))
}

fn title(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str("title", args, 0)?;
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !c.is_alphanumeric();
    }
    Ok(Value::String(out))
}

fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str("truncate", args, 0)?;
    let n = match args.get(1) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as usize,
        _ => return Err(FuncError::ExactlyXArgs("truncate".into(), 2)),
    };
    Ok(Value::String(s.chars().take(n).collect()))
}

fn pad(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str("pad", args, 0)?;
    let num = |i: usize| match args.get(i) {
        Some(Value::Number(n)) => match n.as_u64().unwrap_or(0) {
            // Go's fmt takes no width above a million either; more would only fill the memory.
            n if n > gofmt::MAX_WIDTH as u64 => Err(FuncError::Generic(format!(
                "pad: {n} spaces is more than {}",
                gofmt::MAX_WIDTH
            ))),
            n => Ok(n as usize),
        },
        _ => Err(FuncError::ExactlyXArgs("pad".into(), 3)),
    };
    Ok(Value::String(format!(
        "{}{s}{}",
        " ".repeat(num(1)?),
        " ".repeat(num(2)?)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, data: serde_json::Value) -> String {
        Format::parse(t).unwrap().render(&data).unwrap()
    }

    #[test]
    fn fields_print_like_go() {
        let d = json!({"State": {"Pid": 4242, "Running": true},
                       "NetworkSettings": {"SandboxKey": "/run/minotaur/netns/abc"},
                       "Config": {"Cmd": ["sleep", "100"], "Labels": {"b": "2", "a": "1"}, "Env": null}});
        assert_eq!(render("{{.State.Pid}}", d.clone()), "4242");
        assert_eq!(render("{{ .State.Running }}", d.clone()), "true");
        assert_eq!(
            render("{{.NetworkSettings.SandboxKey}}", d.clone()),
            "/run/minotaur/netns/abc"
        );
        assert_eq!(render("{{.Config.Cmd}}", d.clone()), "[sleep 100]");
        assert_eq!(render("{{.Config.Labels}}", d.clone()), "map[a:1 b:2]");
        assert_eq!(render("{{.Config.Env}}", d.clone()), "<nil>");
        assert_eq!(render("pid={{.State.Pid}}!", d), "pid=4242!");
    }

    #[test]
    fn dockers_functions() {
        let d = json!({"Name": "/web", "Cmd": ["a", "b"], "Labels": {"x": "y"}});
        assert_eq!(render("{{json .Labels}}", d.clone()), r#"{"x":"y"}"#);
        assert_eq!(render("{{join .Cmd \",\"}}", d.clone()), "a,b");
        assert_eq!(
            render("{{upper .Name}}{{lower \"ABC\"}}", d.clone()),
            "/WEBabc"
        );
        assert_eq!(render("{{index (split \"a:b\" \":\") 1}}", d.clone()), "b");
        assert_eq!(
            render("{{title \"hello world\"}}", d.clone()),
            "Hello World"
        );
        assert_eq!(render("{{println .Name}}", d.clone()), "/web\n");
        assert_eq!(render("{{truncate .Name 2}}", d), "/w");
    }

    #[test]
    fn control_actions_and_variables_are_not_rewritten() {
        let d = json!({"Ports": [{"P": 80}, {"P": 443}], "On": false});
        assert_eq!(
            render("{{range .Ports}}{{.P}} {{end}}", d.clone()),
            "80 443 "
        );
        assert_eq!(render("{{if .On}}on{{else}}off{{end}}", d.clone()), "off");
        assert_eq!(render("{{$x := .On}}{{$x}}", d.clone()), "false");
        assert_eq!(render("{{/* c */}}a {{- \" b\" -}} c", d.clone()), "a bc");
        assert_eq!(render("{{\"}}\"}}", d), "}}");
    }

    #[test]
    fn printf_quotes_like_go() {
        let d = json!({"Name": "/web", "Pid": 7});
        assert_eq!(render("{{.Name | printf \"%q\"}}", d.clone()), "\"/web\"");
        assert_eq!(render("{{printf \"%s:%05d\" .Name .Pid}}", d), "/web:00007");
    }

    #[test]
    fn inspect_documents_print_dockers_structs() {
        let d = json!({"HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                                      "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}},
                       "Config": {"Env": null}});
        let r = |t: &str| {
            Format::parse(t)
                .unwrap()
                .render_as(&d, &docker_types::CONTAINER)
                .unwrap()
        };
        assert_eq!(r("{{.HostConfig.PortBindings}}"), "map[80/tcp:[{ 8080}]]");
        assert_eq!(r("{{.HostConfig.RestartPolicy}}"), "{no 0}");
        assert_eq!(r("{{.Config.Env}}"), "[]");
        assert_eq!(
            r("{{json .HostConfig.RestartPolicy}}"),
            r#"{"MaximumRetryCount":0,"Name":"no"}"#
        );
        assert_eq!(r("{{range $p, $b := .HostConfig.PortBindings}}{{$p}}={{(index $b 0).HostPort}}{{end}}"), "80/tcp=8080");
    }

    #[test]
    fn an_action_left_open_is_an_error_not_a_lexer_that_never_returns() {
        for t in [
            "{{-",
            "{{ 1",
            "a {{.Id",
            "{{\"}}",
            "{{'}}'-",
            "{{`x",
            "{{/* x",
            "{{/* x */ y}}",
        ] {
            let e = Format::parse(t)
                .err()
                .unwrap_or_else(|| panic!("{t:?} parsed"));
            assert!(
                e.to_string().starts_with("template parsing error: "),
                "{t:?}: {e}"
            );
        }
    }

    #[test]
    fn a_non_ascii_character_in_an_action_is_an_error_not_a_panic_in_the_lexer() {
        assert!(Format::parse("{{.Name€}}").is_err());
        assert!(Format::parse("{{é}}").is_err());
        let d = json!({"Labels": {"café": "é"}});
        assert_eq!(
            render("é {{index .Labels \"café\"}} {{/* ü */}}", d),
            "é é "
        );
    }

    #[test]
    fn a_left_trim_after_a_multi_byte_character_trims_and_does_not_panic() {
        let d = json!({"X": 1});
        assert_eq!(render("é  \n{{- .X}}", d.clone()), "é1");
        assert_eq!(render("{\u{feff}{{- .X -}}  ü", d.clone()), "{\u{feff}1ü");
        assert_eq!(render("a {{.X}} {{- .X}}", d), "a 11");
    }

    #[test]
    fn an_error_quoting_a_control_character_is_one_line() {
        let f = Format::parse("{{index .Labels \"\ra\"}}").unwrap();
        let e = f.render(&json!(null)).unwrap_err().to_string();
        assert!(!e.contains(['\r', '\n']), "{e}");
    }

    #[test]
    fn a_huge_pad_is_an_error_not_an_allocation() {
        let f = Format::parse("{{pad .Name 99999999999 0}}").unwrap();
        assert!(f.render(&json!({"Name": "x"})).is_err());
        assert_eq!(render("{{pad .Name 1 2}}", json!({"Name": "x"})), " x  ");
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(Format::parse("{{.State.Pid").is_err());
        assert!(Format::parse("{{nosuchfunc .X}}").is_err());
        assert!(Format::parse("{{.X}}").unwrap().render(&json!(1)).is_err());
    }
}
