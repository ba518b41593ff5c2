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

/// The minimum cell width of Docker's list tables (`ps`, `images`, `network ls`, `volume ls`): its
/// formatter writes through `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
pub const DOCKER_MIN_WIDTH: usize = 10;

/// Writes lines whose cells are separated by tabs the way Go's `text/tabwriter` does with Docker's settings
/// (`tabwriter.NewWriter(out, min_width, 1, 3, ' ', 0)`): every cell but the last of a line padded with spaces
/// to its column's width, which is its widest cell plus 3, and at least `min_width`; a column spans the
/// consecutive lines that have a cell in it. The `tabwriter` crate is a port of Go's; it adds its padding to
/// the width instead of counting it in, hence the minimum less 3.
pub fn tabwriter(out: &mut impl Write, text: &str, min_width: usize) -> io::Result<()> {
    const PADDING: usize = 3;
    let mut tw = tabwriter::TabWriter::new(Vec::new())
        .minwidth(min_width.saturating_sub(PADDING))
        .padding(PADDING);
    tw.write_all(text.as_bytes())?;
    let bytes = tw
        .into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?;
    out.write_all(&bytes)
}

/// A list command's `--format`: `json` is `{{json .}}` (Docker 23 and later), and `{{json .}}` marshals the
/// row as Docker does (see [`go_json`]); anything else is a template (see [`templated`]).
pub fn list(
    out: &mut impl Write,
    format: &str,
    rows: &[serde_json::Value],
    headers: &[(&str, &str)],
) -> anyhow::Result<()> {
    if matches!(format.trim(), "json" | "{{json .}}" | "{{ json . }}") {
        for r in rows {
            writeln!(out, "{}", go_json(r))?;
        }
        return Ok(());
    }
    templated(out, format, rows, headers)
}

/// JSON as Go's `json.Marshal` writes it, which Docker's list rows go through: keys sorted, no spaces, and
/// `<`, `>`, `&`, U+2028 and U+2029 escaped (they never occur outside strings in JSON, so the serialized
/// text can be rewritten).
pub fn go_json(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return s;
    }
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Docker's `--format` for list commands, as its CLI's formatter does it: `\t` and `\n` in the format are a tab
/// and a newline, and each row is the template's output and a newline. With a `table` prefix, the rows are
/// aligned (see [`tabwriter`]) under a header row rendered from `headers` (field → column title); without,
/// they are written as they are.
pub fn templated(
    out: &mut impl Write,
    format: &str,
    rows: &[serde_json::Value],
    headers: &[(&str, &str)],
) -> anyhow::Result<()> {
    use minotaur_engine::template::Format;
    let (table, body) = match format.strip_prefix("table") {
        Some(body) => (true, body),
        None => (false, format),
    };
    let body = body
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    let fmt = Format::parse(&body)?;
    let simple = Simple::parse(&body);
    let render = |row: &serde_json::Value| -> anyhow::Result<String> {
        match simple.as_ref().and_then(|s| s.render(row)) {
            Some(text) => Ok(text),
            None => Ok(fmt.render(row)?),
        }
    };
    let mut text = String::new();
    if table {
        let header: serde_json::Value = headers
            .iter()
            .map(|(k, h)| (k.to_string(), serde_json::json!(h)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        text.push_str(&render(&header)?);
        text.push('\n');
    }
    for r in rows {
        text.push_str(&render(r)?);
        text.push('\n');
    }
    if table {
        tabwriter(out, &text, DOCKER_MIN_WIDTH)?;
    } else {
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

/// A format made of text and `{{.Field}}` actions only, as Docker's default tables and most formats people
/// write are. Each row is rendered by substitution: a thousand `ps` rows through the template engine cost
/// several times what the rest of `ps` does. Anything else (functions, pipelines, conditions, trim
/// markers) goes through the template.
#[derive(Debug, PartialEq)]
struct Simple<'a>(Vec<Piece<'a>>);

#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

impl<'a> Simple<'a> {
    fn parse(body: &'a str) -> Option<Simple<'a>> {
        let mut pieces = Vec::new();
        let mut rest = body;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(&rest[..open]));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}")?;
            let name = after[..close].trim_matches(' ').strip_prefix('.')?;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            pieces.push(Piece::Field(name));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest));
        }
        Some(Simple(pieces))
    }

    /// The fields the format shows.
    fn fields(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.0.iter().filter_map(|p| match p {
            Piece::Field(f) => Some(*f),
            Piece::Text(_) => None,
        })
    }

    /// The row rendered, when every field it shows is a string (as the template prints one: as it is);
    /// `None` sends the row to the template, which knows how Go prints everything else.
    fn render(&self, row: &serde_json::Value) -> Option<String> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(f) => out.push_str(row.get(*f)?.as_str()?),
            }
        }
        Some(out)
    }
}

/// The fields of a list row that `format` can show: those it names when it is made of `{{.Field}}`
/// actions only, else all of them (`None`), since a function or `json .` may read any. A list command
/// builds only these: some cost a time zone conversion or a join per row.
pub fn fields_shown(format: &str) -> Option<Vec<String>> {
    let body = format.strip_prefix("table").unwrap_or(format);
    if matches!(body.trim(), "json" | "{{json .}}" | "{{ json . }}") {
        return None;
    }
    let body = body.replace("\\t", "\t").replace("\\n", "\n");
    let simple = Simple::parse(&body)?;
    Some(simple.fields().map(str::to_owned).collect())
}

/// A time as Go's `time.Time.String()` prints it in the local time zone, as Docker's list commands show
/// `CreatedAt`: `2006-01-02 15:04:05.999999999 -0700 MST`, with the fraction (`nanos`) or without it (`ps`,
/// whose times are whole seconds). What cannot be parsed is shown as it is.
pub fn go_time(rfc3339: &str, nanos: bool) -> String {
    let fmt = if nanos {
        "%Y-%m-%d %H:%M:%S%.f %z %Z"
    } else {
        "%Y-%m-%d %H:%M:%S %z %Z"
    };
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(t) => t.to_zoned(local_zone().clone()).strftime(fmt).to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

/// The local time zone, as Go finds it: `TZ` if set, else `/etc/localtime`. The file is read here, once:
/// jiff's `TimeZone::system()` also looks for the zone's name, and to find it walks every directory of
/// `/usr/share/zoneinfo` (some 40 on Debian, at every `ps`), while Go's format needs only the file's
/// rules and abbreviations.
fn local_zone() -> &'static jiff::tz::TimeZone {
    static ZONE: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();
    ZONE.get_or_init(|| {
        if std::env::var_os("TZ").is_some() {
            return jiff::tz::TimeZone::system();
        }
        std::fs::read("/etc/localtime")
            .ok()
            .and_then(|data| jiff::tz::TimeZone::tzif("Local", &data).ok())
            .unwrap_or_else(jiff::tz::TimeZone::system)
    })
}

/// Prints `inspect` documents as Docker does: a pretty JSON array, or each through a Go template over the
/// document's Go type.
pub fn documents(
    out: &mut impl Write,
    format: Option<&minotaur_engine::template::Format>,
    docs: &[(serde_json::Value, &minotaur_engine::docker_types::Ty)],
) -> anyhow::Result<()> {
    match format {
        Some(f) => {
            for (d, ty) in docs {
                writeln!(out, "{}", f.render_as(d, ty)?)?;
            }
        }
        None => {
            let docs: Vec<&serde_json::Value> = docs.iter().map(|(d, _)| d).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&docs)?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_formats_render_as_the_template_does() {
        let rows = [
            serde_json::json!({"Names": "web", "Image": "busybox", "Size": "0B"}),
            serde_json::json!({"Names": "a {{b}} c", "Image": "x\ty", "Size": "<b>"}),
        ];
        for format in [
            "{{.Names}}\t{{.Image}}",
            " {{ .Names }}: {{.Size}} ",
            "table {{.Names}}\t{{.Image}}\t{{.Size}}",
            "{{.Names}} - {{.Missing}}",
            "{{.Names}}{{.Image}}",
        ] {
            let body = format.strip_prefix("table").unwrap_or(format);
            let body = body.trim_matches(' ').replace("\\t", "\t");
            let simple = Simple::parse(&body).unwrap();
            let fmt = minotaur_engine::template::Format::parse(&body).unwrap();
            for r in &rows {
                // Where the substitution answers, it answers what the template prints.
                if let Some(text) = simple.render(r) {
                    assert_eq!(text, fmt.render(r).unwrap(), "{format}");
                }
            }
        }
        // A missing field is the template's to print ("<no value>").
        assert_eq!(
            Simple::parse("{{.Missing}}").unwrap().render(&rows[0]),
            None
        );
        // Anything but `{{.Field}}` is the template's.
        for format in [
            "{{json .}}",
            "{{.Names | upper}}",
            "{{- .Names}}",
            "{{if .Names}}x{{end}}",
            "{{.Labels.x}}",
            "{{.Names",
        ] {
            assert_eq!(Simple::parse(format), None, "{format}");
        }
        assert_eq!(
            fields_shown("table {{.ID}}\\t{{.Names}}"),
            Some(vec!["ID".to_owned(), "Names".to_owned()])
        );
        assert_eq!(fields_shown("json"), None);
        assert_eq!(fields_shown("{{json .}}"), None);
        assert_eq!(fields_shown("{{.Names | upper}}"), None);
    }

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
    fn docker_tables_pad_like_gos_tabwriter() {
        let rows = vec![
            serde_json::json!({"ID": "0123456789ab", "Image": "busybox", "Ports": "", "Names": "web"}),
            serde_json::json!({"ID": "ba9876543210", "Image": "host", "Ports": "0.0.0.0:8080->80/tcp", "Names": "x"}),
        ];
        let headers = [
            ("ID", "CONTAINER ID"),
            ("Image", "IMAGE"),
            ("Ports", "PORTS"),
            ("Names", "NAMES"),
        ];
        let mut out = Vec::new();
        templated(
            &mut out,
            "table {{.ID}}\\t{{.Image}}\\t{{.Ports}}\\t{{.Names}}",
            &rows,
            &headers,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "CONTAINER ID   IMAGE     PORTS                  NAMES\n\
             0123456789ab   busybox                          web\n\
             ba9876543210   host      0.0.0.0:8080->80/tcp   x\n"
        );
        // Without `table`: no header, tabs stay tabs, the format's spaces at both ends go.
        let mut out = Vec::new();
        templated(&mut out, " {{.Names}}\\t{{.Image}} ", &rows, &headers).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "web\tbusybox\nx\thost\n");
        // A header alone, when nothing matches.
        let mut out = Vec::new();
        templated(&mut out, "table {{.Names}}", &[], &headers).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "NAMES\n");
    }

    #[test]
    fn times_print_like_gos_time_string() {
        // Tests run with the machine's zone; pin it to UTC for exact bytes where it is not.
        if jiff::tz::TimeZone::system().to_offset(jiff::Timestamp::UNIX_EPOCH)
            != jiff::tz::Offset::UTC
        {
            println!("skipped: the local time zone is not UTC");
            return;
        }
        assert_eq!(
            go_time("2024-05-01T12:00:03.120000000Z", false),
            "2024-05-01 12:00:03 +0000 UTC"
        );
        assert_eq!(
            go_time("2024-05-01T12:00:03.120000000Z", true),
            "2024-05-01 12:00:03.12 +0000 UTC"
        );
        assert_eq!(
            go_time("2024-05-01T12:00:03Z", true),
            "2024-05-01 12:00:03 +0000 UTC"
        );
        assert_eq!(go_time("yesterday", true), "yesterday");
    }

    #[test]
    fn list_rows_marshal_like_go() {
        let rows = vec![serde_json::json!({"Ports": "0.0.0.0:80->80/tcp", "ID": "ab"})];
        let mut out = Vec::new();
        list(&mut out, "json", &rows, &[]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"ID\":\"ab\",\"Ports\":\"0.0.0.0:80-\\u003e80/tcp\"}\n"
        );
    }

    #[test]
    fn tabwriter_columns_span_consecutive_lines_only() {
        let mut out = Vec::new();
        tabwriter(&mut out, "UID\tPID\tCMD\nroot\t1\tsleep 100\n", 20).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "UID                 PID                 CMD\nroot                1                   sleep 100\n"
        );
        let mut out = Vec::new();
        tabwriter(&mut out, "a\tb\nsingle\nlongvalue12\tc\n", 10).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a         b\nsingle\nlongvalue12   c\n"
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
