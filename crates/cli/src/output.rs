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
    for row in header_row.iter().chain(rows) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
