//! Go's `fmt` for template values: what `{{ .X }}` prints and what `printf` makes, byte for byte as Docker's
//! Go templates print them.
//!
//! gtmpl prints a list or a map in Rust's debug form and its `printf` knows few verbs (`%q` of a string gives
//! the escaped text without quotes), so both are ours. A value knows whether it stands for a Go struct or a
//! Go map from [`STRUCT_FIELDS`], a key a template cannot name that the `docker_types` module puts in the maps it
//! makes from struct types, listing the fields in their Go order: `%v` of a struct is `{v1 v2}` in that
//! order, of a map `map[k1:v1 k2:v2]` sorted by key.

use std::fmt::Write as _;

use gtmpl::Value;

/// The key, in a map that stands for a Go struct, whose value lists the struct's fields in order. A template
/// cannot name it (`.X` takes identifiers only), and [`is_hidden`] keys are left out of `json` and `%v`.
pub const STRUCT_FIELDS: &str = "\0fields";

/// True for keys that are ours, not the document's.
pub fn is_hidden(key: &str) -> bool {
    key.starts_with('\0')
}

/// Go's `%v` of a value, as `{{ .X }}` prints it.
pub fn print(v: &Value) -> String {
    let mut s = String::new();
    value(&mut s, v, 'v', &Flags::default(), 0);
    s
}

/// Flags and sizes of one verb (`%-10.3s`).
#[derive(Default, Clone)]
struct Flags {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Go's `fmt.Sprintf(format, args...)`, for the template function `printf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut f = Flags::default();
        while let Some(&c) = chars.peek() {
            match c {
                '-' => f.minus = true,
                '+' => f.plus = true,
                '#' => f.sharp = true,
                ' ' => f.space = true,
                '0' => f.zero = true,
                _ => break,
            }
            chars.next();
        }
        f.width = number(&mut chars, args, &mut next, &mut out, "%!(BADWIDTH)");
        if chars.peek() == Some(&'.') {
            chars.next();
            f.precision =
                Some(number(&mut chars, args, &mut next, &mut out, "%!(BADPREC)").unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            None => {
                let _ = write!(out, "%!{verb}(MISSING)");
            }
            Some(arg) => {
                next += 1;
                value(&mut out, arg, verb, &f, 0);
            }
        }
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", type_name(a), print(a)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

/// The largest width or precision Go's fmt takes (its `tooLarge`).
pub const MAX_WIDTH: usize = 1_000_000;

/// A width or precision: digits, or `*` taking the next argument. As in Go, a number of digits above
/// [`MAX_WIDTH`] swallows the rest of the format (which then has no verb), and a `*` argument above it is
/// `bad` (printed `%!(BADWIDTH)` or `%!(BADPREC)`) and ignored.
fn number(
    chars: &mut std::iter::Peekable<std::str::Chars>,
    args: &[Value],
    next: &mut usize,
    out: &mut String,
    bad: &str,
) -> Option<usize> {
    if chars.peek() == Some(&'*') {
        chars.next();
        let n = args.get(*next).and_then(as_i64);
        *next += 1;
        return match n {
            Some(n) if n.unsigned_abs() <= MAX_WIDTH as u64 => Some(n.max(0) as usize),
            _ => {
                out.push_str(bad);
                None
            }
        };
    }
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        if n.unwrap_or(0) > MAX_WIDTH {
            chars.by_ref().for_each(drop);
            return None;
        }
        n = Some(n.unwrap_or(0) * 10 + d as usize);
        chars.next();
    }
    n
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The Go type a value stands for, in `%!d(string=x)`.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::String(_) => "string",
        Value::Number(n) if n.as_f64().is_some() => "float64",
        Value::Number(_) => "int",
        Value::Array(_) => "[]interface {}",
        Value::Map(m) | Value::Object(m) if m.contains_key(STRUCT_FIELDS) => "struct",
        Value::Map(_) | Value::Object(_) => "map[string]interface {}",
        Value::Nil | Value::NoValue | Value::Function(_) => "<nil>",
    }
}

/// The fields of a struct value in order, or `None` for a map.
fn struct_fields(m: &std::collections::HashMap<String, Value>) -> Option<Vec<&str>> {
    match m.get(STRUCT_FIELDS) {
        Some(Value::Array(names)) => Some(
            names
                .iter()
                .filter_map(|n| match n {
                    Value::String(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Prints one value with one verb, as Go's `fmt` does (`printValue`); composite values apply the verb to
/// their elements.
fn value(out: &mut String, v: &Value, verb: char, f: &Flags, depth: usize) {
    match v {
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                value(out, e, verb, f, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) | Value::Object(m) => match struct_fields(m) {
            Some(fields) => {
                out.push('{');
                for (i, name) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    if f.plus || f.sharp {
                        let _ = write!(out, "{name}:");
                    }
                    value(out, m.get(*name).unwrap_or(&Value::Nil), verb, f, depth + 1);
                }
                out.push('}');
            }
            None => {
                let mut keys: Vec<&String> = m.keys().filter(|k| !is_hidden(k)).collect();
                keys.sort();
                out.push_str("map[");
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    scalar(out, &Value::String((*k).clone()), verb, f);
                    out.push(':');
                    value(out, &m[*k], verb, f, depth + 1);
                }
                out.push(']');
            }
        },
        Value::Nil if depth == 0 && verb != 'v' => {
            let _ = write!(out, "%!{verb}(<nil>)");
        }
        Value::Nil => pad(out, "<nil>", f),
        Value::NoValue => pad(out, "<no value>", f),
        other => scalar(out, other, verb, f),
    }
}

/// A string, number or bool with a verb, flags, width and precision.
fn scalar(out: &mut String, v: &Value, verb: char, f: &Flags) {
    let text = match (v, verb) {
        (Value::Bool(b), 'v' | 't') => b.to_string(),
        (Value::String(s), 'v' | 's') => match f.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        (Value::String(s), 'q') => {
            let s = match f.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            if f.sharp && !s.contains('`') && !s.chars().any(|c| c.is_control() && c != '\t') {
                format!("`{s}`")
            } else {
                quote(&s, f.plus)
            }
        }
        (Value::String(s), 'x' | 'X') => hex_bytes(s.as_bytes(), verb == 'X', f),
        (Value::Number(n), _) if n.as_f64().is_some() => {
            let x = n.as_f64().unwrap_or_default();
            match verb {
                'v' | 'g' | 'G' => match f.precision {
                    Some(p) => format_g(x, p.max(1)),
                    None => shortest(x),
                },
                'f' | 'F' => format!("{x:.*}", f.precision.unwrap_or(6)),
                'e' | 'E' => {
                    let s = format_e(x, f.precision.unwrap_or(6));
                    if verb == 'E' {
                        s.to_uppercase()
                    } else {
                        s
                    }
                }
                _ => return bad_verb(out, v, verb),
            }
        }
        (Value::Number(n), _) => {
            let i = n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
            let i = i.unwrap_or_default();
            let sign = if i < 0 {
                "-"
            } else if f.plus {
                "+"
            } else if f.space {
                " "
            } else {
                ""
            };
            let u = i.unsigned_abs();
            let digits = match verb {
                'v' | 'd' => u.to_string(),
                'x' => format!("{}{u:x}", if f.sharp { "0x" } else { "" }),
                'X' => format!("{}{u:X}", if f.sharp { "0X" } else { "" }),
                'o' => format!("{}{u:o}", if f.sharp { "0" } else { "" }),
                'b' => format!("{u:b}"),
                'c' => return pad(out, &char_of(i).to_string(), f),
                'q' => return pad(out, &quote_char(char_of(i)), f),
                'U' => format!("U+{u:04X}"),
                'e' | 'E' | 'f' | 'F' | 'g' | 'G' => return bad_verb(out, v, verb),
                _ => return bad_verb(out, v, verb),
            };
            if f.zero && !f.minus {
                if let Some(w) = f.width {
                    let fill = w.saturating_sub(sign.len() + digits.len());
                    out.push_str(sign);
                    out.extend(std::iter::repeat_n('0', fill));
                    out.push_str(&digits);
                    return;
                }
            }
            format!("{sign}{digits}")
        }
        _ => return bad_verb(out, v, verb),
    };
    pad(out, &text, f)
}

fn char_of(i: i128) -> char {
    u32::try_from(i)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// `%!d(string=abc)`: Go's answer to a verb that does not fit the value.
fn bad_verb(out: &mut String, v: &Value, verb: char) {
    let _ = write!(out, "%!{verb}({}={})", type_name(v), print(v));
}

/// Pads to the width with spaces, on the left or (with `-`) on the right; the width counts characters.
fn pad(out: &mut String, text: &str, f: &Flags) {
    let fill = f.width.unwrap_or(0).saturating_sub(text.chars().count());
    if f.minus {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', fill));
    } else {
        out.extend(std::iter::repeat_n(if f.zero { '0' } else { ' ' }, fill));
        out.push_str(text);
    }
}

fn hex_bytes(b: &[u8], upper: bool, f: &Flags) -> String {
    let mut s = String::new();
    for (i, byte) in b.iter().enumerate() {
        if f.space && i > 0 {
            s.push(' ');
        }
        if f.sharp && (f.space || i == 0) {
            s.push_str(if upper { "0X" } else { "0x" });
        }
        if upper {
            let _ = write!(s, "{byte:02X}");
        } else {
            let _ = write!(s, "{byte:02x}");
        }
    }
    s
}

/// Go's `strconv.Quote` (or `QuoteToASCII` with `ascii`).
pub fn quote(s: &str, ascii: bool) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        escape_into(&mut q, c, '"', ascii);
    }
    q.push('"');
    q
}

fn quote_char(c: char) -> String {
    let mut q = String::from("'");
    escape_into(&mut q, c, '\'', false);
    q.push('\'');
    q
}

fn escape_into(q: &mut String, c: char, quote: char, ascii: bool) {
    match c {
        '\x07' => q.push_str("\\a"),
        '\x08' => q.push_str("\\b"),
        '\x0c' => q.push_str("\\f"),
        '\n' => q.push_str("\\n"),
        '\r' => q.push_str("\\r"),
        '\t' => q.push_str("\\t"),
        '\x0b' => q.push_str("\\v"),
        '\\' => q.push_str("\\\\"),
        c if c == quote => {
            q.push('\\');
            q.push(c);
        }
        c if (c as u32) < 0x80 && (c.is_ascii_control()) => {
            let _ = write!(q, "\\x{:02x}", c as u32);
        }
        c if !c.is_control() && (!ascii || c.is_ascii()) && !is_unprintable(c) => q.push(c),
        c if (c as u32) < 0x10000 => {
            let _ = write!(q, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(q, "\\U{:08x}", c as u32);
        }
    }
}

/// Runes Go's `unicode.IsPrint` rejects that Rust's `is_control` lets through: format characters and
/// separators other than the ASCII space.
fn is_unprintable(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
        || (c.is_whitespace() && c != ' ')
}

/// Go's `%v` of a float64: the shortest representation, with an exponent below 1e-4 and from 1e21.
fn shortest(x: f64) -> String {
    if x == 0.0 || (x.abs() >= 1e-4 && x.abs() < 1e21) {
        return format!("{x}");
    }
    go_exponent(&format!("{x:e}"))
}

/// Go's `%.Pg`: P significant digits, an exponent when it is below -4 or at least P.
pub fn format_g(x: f64, p: usize) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let e = format!("{x:.*e}", p - 1);
    let exp: i32 = e
        .split('e')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let (m, _) = e.split_once('e').unwrap_or((&e, ""));
        let m = trim_fraction(m);
        return go_exponent(&format!("{m}e{exp}"));
    }
    let decimals = (p as i32 - 1 - exp).max(0) as usize;
    trim_fraction(&format!("{x:.decimals$}")).to_owned()
}

fn format_e(x: f64, p: usize) -> String {
    go_exponent(&format!("{x:.p$e}"))
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Rust's `1.5e3` as Go writes it: `1.5e+03`.
fn go_exponent(s: &str) -> String {
    let Some((m, e)) = s.split_once('e') else {
        return s.to_owned();
    };
    let (sign, digits) = match e.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', e),
    };
    format!("{m}e{sign}{digits:0>2}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn s(x: &str) -> Value {
        Value::String(x.into())
    }

    fn strukt(fields: &[(&str, Value)]) -> Value {
        let mut m: HashMap<String, Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        m.insert(
            STRUCT_FIELDS.into(),
            Value::Array(fields.iter().map(|(k, _)| s(k)).collect()),
        );
        Value::Map(m)
    }

    #[test]
    fn verbs_print_like_go() {
        assert_eq!(sprintf("%q", &[s("/web")]), "\"/web\"");
        assert_eq!(
            sprintf("%q", &[s("a\"b\\\n\x01é")]),
            "\"a\\\"b\\\\\\n\\x01é\""
        );
        assert_eq!(sprintf("%+q", &[s("é")]), "\"\\u00e9\"");
        assert_eq!(sprintf("%#q", &[s("a\"b")]), "`a\"b`");
        assert_eq!(sprintf("%q", &[Value::from(65)]), "'A'");
        assert_eq!(sprintf("%s-%v", &[s("a"), Value::from(true)]), "a-true");
        assert_eq!(
            sprintf(
                "%5d|%-5d|%05d",
                &[Value::from(42), Value::from(42), Value::from(-42)]
            ),
            "   42|42   |-0042"
        );
        assert_eq!(
            sprintf(
                "%x %X %o %b %#x",
                &[
                    Value::from(255),
                    Value::from(255),
                    Value::from(8),
                    Value::from(5),
                    Value::from(255)
                ]
            ),
            "ff FF 10 101 0xff"
        );
        assert_eq!(sprintf("%x", &[s("hi")]), "6869");
        assert_eq!(
            sprintf(
                "%.2f %v %e",
                &[Value::from(1.005), Value::from(0.5), Value::from(1234.5)]
            ),
            "1.00 0.5 1.234500e+03"
        );
        assert_eq!(
            sprintf("%10s|%-4s|%.2s", &[s("abc"), s("x"), s("xyz")]),
            "       abc|x   |xy"
        );
        assert_eq!(sprintf("100%%", &[]), "100%");
    }

    #[test]
    fn wrong_and_missing_arguments_read_like_go() {
        assert_eq!(sprintf("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(sprintf("%s", &[Value::from(5)]), "%!s(int=5)");
        assert_eq!(sprintf("%s %s", &[s("a")]), "a %!s(MISSING)");
        assert_eq!(sprintf("%s", &[s("a"), Value::from(1)]), "a%!(EXTRA int=1)");
    }

    #[test]
    fn a_huge_width_is_refused_as_go_does_not_an_overflow_or_a_gigabyte() {
        assert_eq!(
            sprintf("%99999999999999999999999d|", &[Value::from(1)]),
            "%!(NOVERB)%!(EXTRA int=1)"
        );
        assert_eq!(
            sprintf("%*d", &[Value::from(2_000_000), Value::from(7)]),
            "%!(BADWIDTH)7"
        );
        assert_eq!(
            sprintf("%.*f", &[Value::from(-2_000_000), Value::from(1.5)]),
            "%!(BADPREC)2"
        );
        assert_eq!(sprintf("%3d", &[Value::from(7)]), "  7");
    }

    #[test]
    fn composites_apply_the_verb_to_their_elements() {
        let list = Value::Array(vec![s("a"), s("b c")]);
        assert_eq!(print(&list), "[a b c]");
        assert_eq!(sprintf("%q", &[list]), "[\"a\" \"b c\"]");
        let map = Value::Map(HashMap::from([
            ("b".into(), Value::from(2)),
            ("a".into(), Value::from(1)),
        ]));
        assert_eq!(print(&map), "map[a:1 b:2]");
        assert_eq!(
            sprintf("%q", &[Value::Map(HashMap::from([("k".into(), s("v"))]))]),
            "map[\"k\":\"v\"]"
        );
    }

    #[test]
    fn structs_print_their_fields_in_order_without_names() {
        let binding = strukt(&[("HostIp", s("")), ("HostPort", s("8080"))]);
        let ports = Value::Map(HashMap::from([(
            "80/tcp".into(),
            Value::Array(vec![binding.clone()]),
        )]));
        assert_eq!(print(&ports), "map[80/tcp:[{ 8080}]]");
        assert_eq!(sprintf("%+v", &[binding]), "{HostIp: HostPort:8080}");
        assert_eq!(
            print(&strukt(&[("Health", Value::Nil), ("Pid", Value::from(7))])),
            "{<nil> 7}"
        );
    }
}
