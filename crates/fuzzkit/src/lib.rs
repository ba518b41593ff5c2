//! Dev-only helpers for the property tests of minotaur's parsers (each crate's `tests/fuzz*.rs`).
//!
//! It owns what every parser's test does the same way: reading the seed corpus a crate keeps in
//! `tests/seeds/<parser>/`, turning seeds into inputs near the grammar by small edits (insert a token of the
//! grammar or any character, delete, duplicate or replace a span, splice two seeds, cut short), mixed with
//! some wholly random strings; checking that an error reads as one line (each message of its `source()`
//! chain, as the CLI prints it joined by `: `); and failing a case that takes too long instead of hanging
//! the suite. It owns no parser and knows no grammar: the tokens come from each test.
//!
//! Case counts are set per parser so that the whole set runs in CI in about a minute on two cores;
//! `PROPTEST_CASES` in the environment overrides them all for a longer local run. Failures found are kept by
//! proptest in the crate's `proptest-regressions/` and replayed first on every later run.
#![forbid(unsafe_code)]

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Once};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence};

/// How long one input may take before it counts as a hang. Generous: the suite runs beside other builds.
pub const HANG: Duration = Duration::from_secs(10);

/// The runner configuration for one parser: `cases` cases (or `PROPTEST_CASES`), failures kept in the
/// crate's `proptest-regressions/` directory.
pub fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        // Parsers reject most mutated inputs; a rejection is a result, never a filtered-out case.
        max_global_rejects: cases.saturating_mul(4),
        ..Config::default()
    }
}

/// The files of a seed directory, sorted by name. Panics when it is missing or empty: a corpus that silently
/// vanished would make the tests pass on nothing.
fn seed_paths(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut paths: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read seed directory {}: {e}", dir.display()))
        .map(|e| e.expect("a seed directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no seeds in {}", dir.display());
    paths
}

/// Seeds kept one per line (flag values, references): every non-empty line of every file in `dir`. A line
/// may spell control characters as `\n`, `\t`, `\r` and `\0`, and a backslash as `\\`.
pub fn seed_lines(dir: impl AsRef<Path>) -> Vec<String> {
    let mut seeds = Vec::new();
    for p in seed_paths(dir.as_ref()) {
        let text = fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("cannot read seed file {}: {e}", p.display()));
        seeds.extend(text.lines().filter(|l| !l.is_empty()).map(unescape));
    }
    seeds
}

/// Seeds kept one per file (documents: compose files, JSON, TOML), as text.
pub fn seed_files(dir: impl AsRef<Path>) -> Vec<String> {
    seed_paths(dir.as_ref())
        .into_iter()
        .map(|p| {
            fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read seed file {}: {e}", p.display()))
        })
        .collect()
}

fn unescape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// One edit of a seed; positions are chosen relative to the length of the text at that point.
#[derive(Debug, Clone)]
struct Edit {
    kind: u8,
    at: Index,
    len: u8,
    token: Index,
    ch: char,
    other_at: Index,
}

fn edit() -> impl Strategy<Value = Edit> {
    (
        0u8..8,
        any::<Index>(),
        1u8..8,
        any::<Index>(),
        prop_oneof![
            3 => proptest::char::range(' ', '~'),
            1 => any::<char>(),
            1 => proptest::sample::select(vec!['\n', '\r', '\t', '\0', '\u{7f}', '\u{feff}', 'é', '\u{202e}']),
        ],
        any::<Index>(),
    )
        .prop_map(|(kind, at, len, token, ch, other_at)| Edit {
            kind,
            at,
            len,
            token,
            ch,
            other_at,
        })
}

fn apply(seed: &str, edits: &[Edit], other: &str, tokens: &[&str]) -> String {
    let mut s: Vec<char> = seed.chars().collect();
    let other: Vec<char> = other.chars().collect();
    for e in edits {
        let at = e.at.index(s.len() + 1);
        let end = (at + e.len as usize).min(s.len());
        let token: Vec<char> = if tokens.is_empty() {
            vec![e.ch]
        } else {
            tokens[e.token.index(tokens.len())].chars().collect()
        };
        match e.kind {
            0 | 1 => {
                s.splice(at..at, token);
            }
            2 => {
                s.insert(at, e.ch);
            }
            3 => {
                s.drain(at..end);
            }
            4 => {
                let span: Vec<char> = s[at..end].to_vec();
                s.splice(at..at, span);
            }
            5 => {
                s.splice(at..end, token);
            }
            6 => {
                let from = e.other_at.index(other.len() + 1);
                s.truncate(at);
                s.extend_from_slice(&other[from..]);
            }
            _ => s.truncate(at),
        }
    }
    s.into_iter().collect()
}

/// Inputs near the grammar: a seed with up to five edits (tokens drawn from `tokens`, the grammar's own
/// separators and keywords), some seeds unchanged, some strings of tokens alone, and some random strings.
pub fn near(seeds: Vec<String>, tokens: &'static [&'static str]) -> BoxedStrategy<String> {
    assert!(!seeds.is_empty(), "near() needs at least one seed");
    let edited = (
        proptest::sample::select(seeds.clone()),
        proptest::collection::vec(edit(), 1..6),
        proptest::sample::select(seeds.clone()),
    )
        .prop_map(move |(seed, edits, other)| apply(&seed, &edits, &other, tokens));
    let tokens_only = proptest::collection::vec(proptest::sample::select(tokens.to_vec()), 0..16)
        .prop_map(|t| t.concat());
    prop_oneof![
        12 => edited,
        2 => proptest::sample::select(seeds),
        2 => tokens_only,
        1 => any::<String>(),
    ]
    .boxed()
}

/// Fails unless every message of `err`'s chain is one non-empty line: what the CLI prints is all of them
/// joined by `: `, and a newline inside one would split the user's error over lines (or forge a second one).
pub fn assert_one_line(err: &(dyn std::error::Error + 'static)) {
    let mut chain = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        chain.push(e.to_string());
        cur = e.source();
    }
    assert!(
        !chain[0].trim().is_empty(),
        "an error with an empty message: {err:?}"
    );
    for m in &chain {
        assert!(
            !m.contains(['\n', '\r']),
            "an error message is not one line: {:?} (whole chain: {:?})",
            m,
            chain
        );
    }
}

/// Runs `f` on its own thread and gives its result; a panic in `f` is passed on (proptest then shrinks the
/// input), and no answer within [`HANG`] fails with `what` named: a parser that hangs fails its test rather
/// than the suite's timeout. The thread of a hung call is left behind; the test process ends soon after. A
/// panic on any unnamed thread while `f` runs (one the parser's library spawned) fails too.
pub fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    within_for(HANG, what, f)
}

/// Panics seen on threads without a name: those a library spawned for itself (a lexer on its own thread).
/// A panic there never reaches the caller as an error, but its message does reach the user's terminal.
static STRAY_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_stray_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name().is_none() {
                STRAY_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

fn within_for<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    count_stray_panics();
    let stray = STRAY_PANICS.load(Ordering::SeqCst);
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("fuzz-case".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("spawn a thread for one case");
    match rx.recv_timeout(limit) {
        Ok(Ok(t)) => {
            assert_eq!(
                STRAY_PANICS.load(Ordering::SeqCst),
                stray,
                "a thread {what} started panicked"
            );
            t
        }
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("no answer within {limit:?}: {what} hangs"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_in_seed_lines_become_characters() {
        assert_eq!(unescape(r"a\nb\\c\0"), "a\nb\\c\0");
    }

    #[test]
    fn a_message_with_a_newline_fails_the_check() {
        let err = std::io::Error::other("two\nlines");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_one_line(&err)));
        assert!(r.is_err());
        assert_one_line(&std::io::Error::other("one line"));
    }

    #[test]
    fn a_hang_is_reported() {
        let r = std::panic::catch_unwind(|| {
            within_for(Duration::from_millis(50), "a sleeper", || {
                std::thread::sleep(Duration::from_secs(1))
            });
        });
        assert!(r.is_err());
    }

    proptest! {
        #[test]
        fn edits_stay_valid_strings(s in near(vec!["a:b".into(), "é/ü".into()], &[":", "/"])) {
            prop_assert!(s.chars().count() < 200);
        }
    }
}
