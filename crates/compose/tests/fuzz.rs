//! Property tests of the compose loader: whole compose files (YAML with anchors, merge keys and tags,
//! interpolation, extends, profiles, the schema and the model), interpolation on its own, and `.env` files.
//! No input may panic or hang; each loads or is refused with a one-line error. Inputs are the seeds in
//! `tests/seeds/<parser>/` with small edits made of the grammar's own tokens (see `minotaur-fuzzkit`);
//! failures found are kept in `fuzz.proptest-regressions`. No root needed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use minotaur_compose::{dotenv, interpolate, load, Options};
use minotaur_fuzzkit::{assert_one_line, config, near, seed_files, seed_lines, within};
use proptest::prelude::*;

fn dir(parser: &str) -> String {
    format!("{}/tests/seeds/{parser}", env!("CARGO_MANIFEST_DIR"))
}

fn environment() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("HOME".to_owned(), "/home/u".to_owned()),
        ("A".to_owned(), "a".to_owned()),
        ("B".to_owned(), "two\nlines".to_owned()),
        ("EMPTY".to_owned(), String::new()),
    ])
}

const YAML_TOKENS: &[&str] = &[
    "\n",
    "\n  ",
    "\n    ",
    ": ",
    "- ",
    "&a ",
    "*a",
    "<<: ",
    "!reset ",
    "!override ",
    "!!str ",
    "!!binary ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "\"",
    "'",
    "|",
    ">",
    "#",
    "---",
    "...",
    "services:",
    "image: ",
    "extends: ",
    "networks:",
    "volumes:",
    "secrets:",
    "configs:",
    "profiles:",
    "depends_on:",
    "ports:",
    "include:",
    "network_mode: ",
    "service:",
    "condition: ",
    "service_healthy",
    "${A}",
    "${B}",
    "${X:-d}",
    "${X:?m}",
    "$$",
    "$",
    "~",
    "null",
    "true",
    "1e400",
    "0x1F",
    "\t",
    "%YAML 1.2\n",
    "? ",
    "8080:80",
];

fn check_compose(text: String) {
    within("loading a compose file", move || {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("compose.yaml"), &text).unwrap();
        let opts = Options {
            files: vec![PathBuf::from("compose.yaml")],
            working_dir: tmp.path().to_path_buf(),
            environment: environment(),
            ..Options::default()
        };
        if let Err(e) = load(&opts) {
            assert_one_line(&e);
        }
    });
}

const INTERPOLATION_TOKENS: &[&str] = &[
    "$", "$$", "{", "}", "${", ":-", "-", ":?", "?", ":+", "+", "A", "B", "UNSET", "EMPTY", "_",
    "1", " ", "\n", "é",
];

fn check_interpolation(text: String) {
    within(&format!("interpolating {text:?}"), move || {
        let env = environment();
        let lookup = move |k: &str| env.get(k).cloned();
        let mut unset = Vec::new();
        if let Err(e) = interpolate::substitute(&text, &lookup, &mut unset) {
            assert_one_line(&e);
        }
    });
}

const DOTENV_TOKENS: &[&str] = &[
    "\n", "=", ":", "#", " ", "\t", "\"", "'", "`", "\\", "\\n", "export ", "${A}", "${B:-x}",
    "${C:?m}", "$$", "$", "A", "KEY", "\u{feff}", "\r\n",
];

fn check_dotenv(text: String) {
    within("parsing a .env file", move || {
        let env = environment();
        let lookup = move |k: &str| env.get(k).cloned();
        if let Err(e) = dotenv::parse(&text, &lookup) {
            assert_one_line(&e);
        }
    });
}

#[test]
fn seeds_load_or_fail_in_one_line() {
    seed_files(dir("compose"))
        .into_iter()
        .for_each(check_compose);
    seed_lines(dir("interpolation"))
        .into_iter()
        .for_each(check_interpolation);
    seed_files(dir("dotenv")).into_iter().for_each(check_dotenv);
}

proptest! {
    #![proptest_config(config(400))]
    #[test]
    fn compose_files(text in near(seed_files(dir("compose")), YAML_TOKENS)) {
        check_compose(text);
    }
}

proptest! {
    #![proptest_config(config(4000))]
    #[test]
    fn interpolation(text in near(seed_lines(dir("interpolation")), INTERPOLATION_TOKENS)) {
        check_interpolation(text);
    }
}

proptest! {
    #![proptest_config(config(3000))]
    #[test]
    fn dotenv_files(text in near(seed_files(dir("dotenv")), DOTENV_TOKENS)) {
        check_dotenv(text);
    }
}
