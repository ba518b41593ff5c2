//! Property tests of what this crate parses from users and registries: image references, `--platform`,
//! `registries.conf`, Docker's `config.json`, manifests and indexes (with the platform choice), and
//! `WWW-Authenticate` challenges. No input may panic or hang; each is accepted or refused with a one-line
//! error. Inputs are the seeds in `tests/seeds/<parser>/` with small edits made of the grammar's own tokens
//! (see `minotaur-fuzzkit`); failures found are kept in `fuzz.proptest-regressions`.

use std::path::Path;
use std::str::FromStr;

use minotaur_fuzzkit::{assert_one_line, config, near, seed_files, seed_lines, within};
use minotaur_registry::auth::Challenge;
use minotaur_registry::{DockerConfig, Platform, Reference, RegistriesConf};
use oci_spec::image::{ImageIndex, ImageManifest};
use proptest::prelude::*;

fn dir(parser: &str) -> String {
    format!("{}/tests/seeds/{parser}", env!("CARGO_MANIFEST_DIR"))
}

fn check<T, E: std::error::Error + 'static>(r: Result<T, E>) -> Option<T> {
    match r {
        Ok(t) => Some(t),
        Err(e) => {
            assert_one_line(&e);
            None
        }
    }
}

const REFERENCE_TOKENS: &[&str] = &[
    "/",
    ":",
    "@",
    "sha256:",
    "sha512:",
    ".",
    "-",
    "_",
    "__",
    "localhost",
    "docker.io",
    "library/",
    ":5000",
    "[::1]",
    "0123456789abcdef",
    "latest",
    "A",
    " ",
    "\n",
    "\0",
    "é",
];

fn check_reference(s: String) {
    within(&format!("reference {s:?}"), move || {
        if let Some(r) = check(s.parse::<Reference>()) {
            // What was accepted prints and parses back to itself.
            let again = r
                .to_string()
                .parse::<Reference>()
                .unwrap_or_else(|e| panic!("{s:?} became {r}, which does not parse: {e}"));
            assert_eq!(again, r, "{s:?} does not round-trip");
            let _ = (r.familiar(), r.manifest_key(), r.repository().familiar());
        }
        check(Platform::from_str(&s));
        check(Challenge::parse(&s));
    });
}

const TOML_TOKENS: &[&str] = &[
    "[[registry]]",
    "[[registry.mirror]]",
    "[registry]",
    "prefix",
    "location",
    "insecure",
    "blocked",
    " = ",
    "\"",
    "'",
    "\"\"\"",
    "true",
    "false",
    "1",
    "*.",
    "/",
    ":5000",
    "#",
    "\n",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "\\",
    "\\u00e9",
    "\\n",
];

fn check_registries(s: String) {
    within("a registries.conf", move || {
        check(RegistriesConf::parse(
            &s,
            Path::new("/etc/containers/registries.conf"),
        ));
    });
}

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\"auths\"",
    "\"auth\"",
    "\"username\"",
    "\"password\"",
    "\"credsStore\"",
    "\"credHelpers\"",
    "\"identitytoken\"",
    "\"manifests\"",
    "\"layers\"",
    "\"config\"",
    "\"platform\"",
    "\"os\"",
    "\"architecture\"",
    "\"variant\"",
    "\"digest\"",
    "\"size\"",
    "\"mediaType\"",
    "\"sha256:\"",
    "null",
    "true",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "\"\\n\"",
    "\"\\u0000\"",
    "\"linux\"",
    "\"amd64\"",
    "\"arm\"",
    "\"v7\"",
    "=",
    "\\",
];

fn check_config_json(s: String) {
    within("a config.json", move || {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config.json");
        std::fs::write(&path, &s).unwrap();
        let helpers = tmp.path().join("no-helpers");
        std::fs::create_dir(&helpers).unwrap();
        if let Some(c) = check(DockerConfig::load(&path)) {
            let c = c.with_helper_dir(&helpers);
            for registry in [
                "docker.io",
                "registry.internal:5000",
                "localhost:5000",
                "a.example",
                "gcr.io",
            ] {
                check(c.get(registry));
            }
        }
    });
}

fn check_manifest(s: String) {
    within("a manifest", move || {
        if let Ok(index) = serde_json::from_str::<ImageIndex>(&s) {
            for p in [
                "linux/amd64",
                "linux/arm/v7",
                "linux/arm64",
                "windows/amd64",
            ] {
                check(Platform::from_str(p).unwrap().select(&index));
            }
        }
        if let Ok(m) = serde_json::from_str::<ImageManifest>(&s) {
            let _ = (m.config().digest().to_string(), m.layers().len());
        }
    });
}

#[test]
fn seeds_parse_or_fail_in_one_line() {
    for p in ["references", "platforms", "challenges"] {
        seed_lines(dir(p)).into_iter().for_each(check_reference);
    }
    seed_files(dir("registries_conf"))
        .into_iter()
        .for_each(check_registries);
    seed_files(dir("config_json"))
        .into_iter()
        .for_each(check_config_json);
    seed_files(dir("manifests"))
        .into_iter()
        .for_each(check_manifest);
}

proptest! {
    #![proptest_config(config(4000))]
    #[test]
    fn references_platforms_and_challenges(
        s in near(
            [seed_lines(dir("references")), seed_lines(dir("platforms")), seed_lines(dir("challenges"))].concat(),
            REFERENCE_TOKENS,
        )
    ) {
        check_reference(s);
    }
}

proptest! {
    #![proptest_config(config(1500))]
    #[test]
    fn registries_conf(s in near(seed_files(dir("registries_conf")), TOML_TOKENS)) {
        check_registries(s);
    }
}

proptest! {
    #![proptest_config(config(800))]
    #[test]
    fn docker_config_json(s in near(seed_files(dir("config_json")), JSON_TOKENS)) {
        check_config_json(s);
    }
}

proptest! {
    #![proptest_config(config(1500))]
    #[test]
    fn manifests_and_indexes(s in near(seed_files(dir("manifests")), JSON_TOKENS)) {
        check_manifest(s);
    }
}
