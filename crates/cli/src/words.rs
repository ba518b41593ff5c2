//! The words of a command line read before clap sees them.

use std::ffi::OsString;

/// The first word after the program's own options, all long (`--root DIR`, `--root=DIR`, or one of
/// `flags`, which take no value), or `None` at anything else (a short option, `--`, a word that is not
/// UTF-8).
pub fn subcommand_name<'a>(args: &'a [OsString], flags: &[&str]) -> Option<&'a str> {
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        if word == "--" || (word.starts_with('-') && !word.starts_with("--")) {
            return None;
        }
        if !word.starts_with("--") {
            return Some(word);
        }
        if !word.contains('=') && !flags.contains(&word) {
            words.next();
        }
    }
    None
}
