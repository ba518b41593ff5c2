//! Output for people (aligned tables) and for scripts (JSON), written through fallible writers so that a
//! closed pipe ends the command quietly instead of panicking.

use std::io::{self, Write};

/// Writes rows as columns separated by a space, each padded to its widest cell except the last,
/// the way util-linux and Docker print their tables. `right` marks columns aligned to the right.
pub fn table(
    out: &mut impl Write,
    header: Option<&[&str]>,
    rows: &[Vec<String>],
    right: &[bool],
) -> io::Result<()> {
    write_table(out, header, true, rows, right)
}

/// Like [`table`] without printing the header, but with the columns as wide as if it were printed, as
/// util-linux sizes them under `--noheadings`.
pub fn table_sized_by_header(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
    right: &[bool],
) -> io::Result<()> {
    write_table(out, Some(header), false, rows, right)
}

fn write_table(
    out: &mut impl Write,
    header: Option<&[&str]>,
    print_header: bool,
    rows: &[Vec<String>],
    right: &[bool],
) -> io::Result<()> {
    let ncols = header
        .map(|h| h.len())
        .or_else(|| rows.first().map(Vec::len))
        .unwrap_or(0);
    let mut widths = vec![0usize; ncols];
    let header_row: Option<Vec<String>> = header.map(|h| h.iter().map(|s| s.to_string()).collect());
    for row in header_row.iter().chain(rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let printed = header_row.iter().filter(|_| print_header);
    for row in printed.chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let last = i + 1 == row.len();
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                line.push(' ');
            }
            if right.get(i).copied().unwrap_or(false) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if !last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Writes rows the way util-linux's `--raw` does: cells separated by one space, no padding, and every blank,
/// backslash and non-printable byte of a cell written as `\xHH` so that a cell never splits in two.
pub fn raw(out: &mut impl Write, header: Option<&[&str]>, rows: &[Vec<String>]) -> io::Result<()> {
    let header_row: Option<Vec<String>> = header.map(|h| h.iter().map(|s| s.to_string()).collect());
    for row in header_row.iter().chain(rows) {
        let cells: Vec<String> = row.iter().map(|c| escape_raw(c)).collect();
        writeln!(out, "{}", cells.join(" "))?;
    }
    Ok(())
}

fn escape_raw(cell: &str) -> String {
    let mut s = String::with_capacity(cell.len());
    for b in cell.bytes() {
        if b.is_ascii_graphic() && b != b'\\' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// Replaces control characters in a cell for people's tables with `\xHH`, as libsmartcols does, so that
/// a command line with a newline or an escape sequence cannot break or repaint the table.
pub fn printable(cell: &str) -> String {
    if !cell.chars().any(char::is_control) {
        return cell.to_owned();
    }
    let mut s = String::with_capacity(cell.len() + 8);
    for c in cell.chars() {
        if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                s.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            s.push(c);
        }
    }
    s
}

/// Writes `{"NAME": [ {KEY: VALUE, ...}, ... ]}`, the shape of util-linux's `--json` output, with each
/// record's keys in column order. Pass `serde_json::Value::Null` for an empty cell, as util-linux prints it.
pub fn json_records(
    out: &mut impl Write,
    name: &str,
    keys: &[String],
    rows: &[Vec<serde_json::Value>],
) -> io::Result<()> {
    struct Record<'a>(&'a [String], &'a [serde_json::Value]);
    impl serde::Serialize for Record<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in self.0.iter().zip(self.1) {
                map.serialize_entry(k, v)?;
            }
            map.end()
        }
    }
    let records: Vec<Record> = rows.iter().map(|r| Record(keys, r)).collect();
    let doc = std::collections::BTreeMap::from([(name, records)]);
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, fmt);
    serde::Serialize::serialize(&doc, &mut ser).map_err(io::Error::from)?;
    writeln!(out)
}

/// Docker's `--format` for list commands: a Go template per row; with a `table` prefix, aligned columns under
/// a header row rendered from `headers` (field → column title).
pub fn templated(
    out: &mut impl Write,
    format: &str,
    rows: &[serde_json::Value],
    headers: &[(&str, &str)],
) -> anyhow::Result<()> {
    use minotaur_engine::template::Format;
    let Some(body) = format.trim_start().strip_prefix("table") else {
        let fmt = Format::parse(&format.replace("\\t", "\t"))?;
        for r in rows {
            writeln!(out, "{}", fmt.render(r)?)?;
        }
        return Ok(());
    };
    let fmt = Format::parse(&body.trim_start().replace("\\t", "\t"))?;
    let header: serde_json::Value = headers
        .iter()
        .map(|(k, h)| (k.to_string(), serde_json::json!(h)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let mut lines = vec![fmt.render(&header)?];
    for r in rows {
        lines.push(fmt.render(r)?);
    }
    let cells: Vec<Vec<String>> = lines
        .iter()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    let (head, rest) = cells.split_first().expect("a header line");
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    table(out, Some(&head), rest, &[])?;
    Ok(())
}

/// Prints `inspect` documents as Docker does: a pretty JSON array, or each through a Go template.
pub fn documents(
    out: &mut impl Write,
    format: Option<&minotaur_engine::template::Format>,
    docs: &[serde_json::Value],
) -> anyhow::Result<()> {
    match format {
        Some(f) => {
            for d in docs {
                writeln!(out, "{}", f.render(d)?)?;
            }
        }
        None => writeln!(out, "{}", serde_json::to_string_pretty(docs)?)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_escapes_blanks_and_backslashes() {
        let mut out = Vec::new();
        let rows = vec![vec!["1".into(), "".into(), "sleep 10\\n".into()]];
        raw(&mut out, Some(&["PID", "NSFS", "COMMAND"]), &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PID NSFS COMMAND\n1  sleep\\x2010\\x5cn\n"
        );
    }

    #[test]
    fn printable_escapes_control_characters_only() {
        assert_eq!(printable("a b\u{1b}[2Jé"), "a b\\x1b[2Jé");
    }

    #[test]
    fn json_records_keep_column_order_and_types() {
        let mut out = Vec::new();
        let keys = vec!["ns".to_string(), "type".to_string(), "nsfs".to_string()];
        let rows = vec![vec![
            serde_json::json!(4026531840u64),
            serde_json::json!("net"),
            serde_json::Value::Null,
        ]];
        json_records(&mut out, "namespaces", &keys, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.find("\"ns\"").unwrap() < text.find("\"type\"").unwrap());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"namespaces": [{"ns": 4026531840u64, "type": "net", "nsfs": null}]})
        );
    }

    #[test]
    fn table_pads_all_but_the_last_column() {
        let mut out = Vec::new();
        let rows = vec![vec![
            "4026531840".into(),
            "net".into(),
            "1".into(),
            "/sbin/init".into(),
        ]];
        table(
            &mut out,
            Some(&["NS", "TYPE", "NPROCS", "COMMAND"]),
            &rows,
            &[true, false, true, false],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "        NS TYPE NPROCS COMMAND\n4026531840 net       1 /sbin/init\n"
        );
    }
}
