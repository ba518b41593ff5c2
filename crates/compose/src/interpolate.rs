//! Variable interpolation, as the compose spec defines it: `$VAR`, `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alternative}`, `${VAR+alternative}`, with
//! defaults that are themselves interpolated (`${A:-${B:-x}}`), and `$$` for a literal `$`.
//!
//! The forms without a colon test whether the variable is set; those with one also treat an empty value as
//! unset, as in POSIX shells.

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    /// The file's message is printed with its control characters escaped: a newline in it would split
    /// the error over lines.
    #[error("required variable {name} is missing a value{}", if message.is_empty() { String::new() } else { format!(": {}", one_line(message)) })]
    Required { name: String, message: String },
    #[error("invalid interpolation format in {text:?}: {why}")]
    Invalid { text: String, why: &'static str },
}

/// `s` with its control characters escaped (`\n`), other characters as they are.
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

/// Interpolates one string. `lookup` gives a variable's value; the names of variables that were used without
/// a value and without a default are added to `unset` (compose warns about them and substitutes "").
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    let invalid = |why| InterpolationError::Invalid {
        text: text.to_owned(),
        why,
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut literal_start = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        out.push_str(&text[literal_start..i]);
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let end = closing_brace(bytes, i + 2).ok_or_else(|| invalid("no closing brace"))?;
                out.push_str(&braced(&text[i + 2..end], text, lookup, unset)?);
                i = end + 1;
            }
            Some(&c) if c == b'_' || c.is_ascii_alphabetic() => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end] == b'_' || bytes[end].is_ascii_alphanumeric())
                {
                    end += 1;
                }
                let name = &text[start..end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => unset.push(name.to_owned()),
                }
                i = end;
            }
            _ => return Err(invalid("a $ must start a variable or be written $$")),
        }
        literal_start = i;
    }
    out.push_str(&text[literal_start..]);
    Ok(out)
}

/// The index of the `}` closing a `${` whose content starts at `from`, counting nested `${…}`.
fn closing_brace(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 1;
    let mut j = from;
    while j < bytes.len() {
        if bytes[j] == b'$' && bytes.get(j + 1) == Some(&b'{') {
            depth += 1;
            j += 2;
            continue;
        }
        if bytes[j] == b'$' && bytes.get(j + 1) == Some(&b'$') {
            j += 2;
            continue;
        }
        if bytes[j] == b'}' {
            depth -= 1;
            if depth == 0 {
                return Some(j);
            }
        }
        j += 1;
    }
    None
}

fn braced(
    inner: &str,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    let invalid = |why| InterpolationError::Invalid {
        text: whole.to_owned(),
        why,
    };
    let name_len = inner
        .bytes()
        .take_while(|&b| b == b'_' || b.is_ascii_alphanumeric())
        .count();
    let name = &inner[..name_len];
    if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
        return Err(invalid("a variable name starts with a letter or _"));
    }
    let rest = &inner[name_len..];
    let value = lookup(name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let (op, arg) = if rest.is_empty() {
        ("", "")
    } else if let Some(op) = [":-", ":?", ":+", "-", "?", "+"]
        .into_iter()
        .find(|op| rest.starts_with(op))
    {
        (op, &rest[op.len()..])
    } else {
        return Err(invalid("unknown operator after the variable name"));
    };
    let mut arg = || substitute(arg, lookup, unset);
    Ok(match op {
        "" => match value {
            Some(v) => v,
            None => {
                unset.push(name.to_owned());
                String::new()
            }
        },
        ":-" if non_empty => value.unwrap_or_default(),
        ":-" => arg()?,
        "-" if set => value.unwrap_or_default(),
        "-" => arg()?,
        ":?" | "?" if (op == ":?" && non_empty) || (op == "?" && set) => value.unwrap_or_default(),
        ":?" | "?" => {
            return Err(InterpolationError::Required {
                name: name.to_owned(),
                message: arg()?,
            })
        }
        ":+" if non_empty => arg()?,
        "+" if set => arg()?,
        _ => String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(text: &str) -> Result<String, InterpolationError> {
        let env: HashMap<&str, &str> = [("SET", "value"), ("EMPTY", ""), ("ALT", "other")].into();
        let lookup = |n: &str| env.get(n).map(|v| v.to_string());
        substitute(text, &lookup, &mut Vec::new())
    }

    #[test]
    fn every_form() {
        let cases = [
            ("$SET", "value"),
            ("${SET}", "value"),
            ("x${SET}y", "xvaluey"),
            ("${UNSET}", ""),
            ("$UNSET-", "-"),
            ("${UNSET:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${SET:-def}", "value"),
            ("${UNSET-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${SET:+alt}", "alt"),
            ("${EMPTY:+alt}", ""),
            ("${UNSET:+alt}", ""),
            ("${EMPTY+alt}", "alt"),
            ("${UNSET+alt}", ""),
            ("${SET:?boom}", "value"),
            ("${EMPTY?boom}", ""),
            ("$$SET", "$SET"),
            ("$${SET}", "${SET}"),
            ("${UNSET:-${ALT}}", "other"),
            ("${UNSET:-${NOPE:-deep}}", "deep"),
            ("${UNSET:-a ${SET} b}", "a value b"),
            ("${UNSET:-$$}", "$"),
            ("${UNSET:-}", ""),
            ("${SET:-${NOPE:?never evaluated}}", "value"),
            ("${UNSET:-http://x:1/}", "http://x:1/"),
        ];
        for (input, want) in cases {
            assert_eq!(run(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn a_required_variables_message_with_a_newline_stays_on_one_line() {
        let e = substitute("${UNSET:?must\nbe set é}", &|_| None, &mut Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "required variable UNSET is missing a value: must\\nbe set é"
        );
    }

    #[test]
    fn required_variables_fail_with_their_message() {
        assert_eq!(
            run("${UNSET:?the database needs it}"),
            Err(InterpolationError::Required {
                name: "UNSET".into(),
                message: "the database needs it".into()
            })
        );
        assert!(matches!(
            run("${EMPTY:?x}"),
            Err(InterpolationError::Required { .. })
        ));
        assert!(matches!(
            run("${UNSET?}"),
            Err(InterpolationError::Required { .. })
        ));
        assert!(matches!(
            run("${UNSET:?${SET} missing}"),
            Err(InterpolationError::Required { message, .. }) if message == "value missing"
        ));
    }

    #[test]
    fn invalid_forms() {
        for input in [
            "${", "${SET", "${}", "${1A}", "${SET:x}", "$", "a $ b", "${SET!}",
        ] {
            assert!(
                matches!(run(input), Err(InterpolationError::Invalid { .. })),
                "{input}"
            );
        }
    }

    #[test]
    fn unset_variables_are_reported() {
        let mut unset = Vec::new();
        substitute("${A} $B ${C:-x}", &|_| None, &mut unset).unwrap();
        assert_eq!(unset, ["A", "B"]);
    }
}
