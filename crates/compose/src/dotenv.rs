//! `.env` files as compose reads them (`.env`, `--env-file`, a service's `env_file`).
//!
//! Compose's dialect is not the one the `dotenv` crates implement: values are interpolated with the same
//! syntax as the compose file (`${A:-default}`, `${A:?error}`), a line with only a name inherits that
//! variable from the environment, `KEY:VALUE` is accepted, single quotes keep backslashes, double quotes
//! expand `\n`-style escapes, and an unquoted value ends at ` #`. So it is parsed here, with the
//! interpolation of [`crate::interpolate`].

use indexmap::IndexMap;

use crate::interpolate::{substitute, InterpolationError};

/// Why a `.env` file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DotenvError {
    #[error("line {line}: unexpected character {ch:?} in variable name {text:?}")]
    BadName { line: usize, ch: char, text: String },
    #[error("line {line}: key cannot contain a space")]
    SpaceInKey { line: usize },
    #[error("line {line}: unterminated quoted value {text:?}")]
    Unterminated { line: usize, text: String },
    #[error("line {line}: {source}")]
    Interpolation {
        line: usize,
        #[source]
        source: InterpolationError,
    },
}

/// Parses a dotenv text. `lookup` is the environment outside the file: it wins over earlier lines of the
/// file when a value refers to a variable, and gives the value of a line that is only a name.
pub fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, String>, DotenvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: IndexMap<String, String> = IndexMap::new();
    let mut line = 1;
    let mut rest = text;
    loop {
        // Skip blank space and comment lines, counting lines.
        loop {
            let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace());
            line += rest[..rest.len() - trimmed.len()].matches('\n').count();
            rest = trimmed;
            if rest.starts_with('#') {
                rest = rest.find('\n').map_or("", |i| &rest[i..]);
                continue;
            }
            break;
        }
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix("export") {
            if after.starts_with([' ', '\t']) {
                rest = after.trim_start_matches([' ', '\t']);
            }
        }
        // The name runs to `=`, `:` or the end of the line.
        let mut end = rest.len();
        let mut inherited = true;
        for (i, ch) in rest.char_indices() {
            match ch {
                '=' | ':' => {
                    end = i;
                    inherited = false;
                    break;
                }
                '\n' => {
                    end = i;
                    break;
                }
                ' ' | '\t' | '\r' | '_' | '.' | '-' | '[' | ']' => {}
                c if c.is_alphanumeric() => {}
                c => {
                    return Err(DotenvError::BadName {
                        line,
                        ch: c,
                        text: rest.lines().next().unwrap_or_default().to_owned(),
                    })
                }
            }
        }
        let key = rest[..end].trim_end().to_owned();
        if key.contains([' ', '\t']) {
            return Err(DotenvError::SpaceInKey { line });
        }
        if inherited {
            if let Some(v) = lookup(&key) {
                out.insert(key, v);
            }
            rest = &rest[end..];
            continue;
        }
        rest = rest[end + 1..].trim_start_matches([' ', '\t', '\r']);
        let (value, after) = value(rest, &mut line, &out, lookup)?;
        out.insert(key, value);
        rest = after;
    }
    Ok(out)
}

fn value<'a>(
    src: &'a str,
    line: &mut usize,
    parsed: &IndexMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, &'a str), DotenvError> {
    let at = *line;
    let expand = |v: &str| {
        let inner = |name: &str| lookup(name).or_else(|| parsed.get(name).cloned());
        substitute(v, &inner, &mut Vec::new())
            .map_err(|source| DotenvError::Interpolation { line: at, source })
    };
    let quote = match src.chars().next() {
        Some(q @ ('"' | '\'')) => q,
        _ => {
            let (raw, rest) = src.split_once('\n').unwrap_or((src, ""));
            *line += 1;
            let raw = raw.split_once(" #").map_or(raw, |(v, _)| v).trim_end();
            return Ok((expand(raw)?, rest));
        }
    };
    let mut chars = String::new();
    let mut escaped = false;
    for (i, ch) in src.char_indices().skip(1) {
        if ch == '\n' {
            *line += 1;
        }
        if ch != quote {
            if !escaped && ch == '\\' {
                escaped = true;
                continue;
            }
            if escaped {
                escaped = false;
                chars.push('\\');
            }
            chars.push(ch);
            continue;
        }
        if escaped {
            escaped = false;
            chars.push(ch);
            continue;
        }
        let value = if quote == '"' {
            expand(&unescape(&chars))?
        } else {
            chars
        };
        return Ok((value, &src[i + ch.len_utf8()..]));
    }
    Err(DotenvError::Unterminated {
        line: *line,
        text: src.lines().next().unwrap_or_default().to_owned(),
    })
}

/// The escapes of a double-quoted value; `\$` stays a literal dollar through interpolation.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.peek().copied() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('$') => out.push_str("$$"),
            _ => {
                out.push('\\');
                continue;
            }
        }
        it.next();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unterminated_value_with_a_carriage_return_is_a_one_line_error() {
        let e = parse("A=1\nB=\"two\rthree", &|_| None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: unterminated quoted value \"\\\"two\\rthree\""
        );
    }

    #[test]
    fn escapes_and_comments() {
        let env = parse(
            "A=\"a\\tb\"\nB='c\\td'\nC=e # note\nD=\"x\\$Y\"\n# comment\nexport E=1\nF:2\n",
            &|_| None,
        )
        .unwrap();
        assert_eq!(env["A"], "a\tb");
        assert_eq!(env["B"], "c\\td");
        assert_eq!(env["C"], "e");
        assert_eq!(env["D"], "x$Y");
        assert_eq!(env["E"], "1");
        assert_eq!(env["F"], "2");
    }

    #[test]
    fn environment_wins_in_references() {
        let env = parse("A=file\nB=${A}\n", &|n| (n == "A").then(|| "os".to_owned())).unwrap();
        assert_eq!(env["B"], "os");
    }
}
