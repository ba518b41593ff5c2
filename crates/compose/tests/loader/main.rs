//! The loader end to end, on files in temporary directories and on compose-go's corpus. No root needed.

mod corpus;
mod files;
mod project;
mod syntax;
mod variables;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use minotaur_compose::{load, LoadError, Loaded, Options};
use serde_json::json;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p
}

fn opts(dir: &Path, files: &[&str]) -> Options {
    Options {
        files: files.iter().map(PathBuf::from).collect(),
        working_dir: dir.to_path_buf(),
        environment: BTreeMap::from([("HOME".to_owned(), "/home/u".to_owned())]),
        ..Options::default()
    }
}

fn load_text(text: &str) -> Result<Loaded, LoadError> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", text);
    load(&opts(dir.path(), &[]))
}

fn err_text(text: &str) -> String {
    load_text(text).map(|_| ()).unwrap_err().to_string()
}

/// compose-go's test data, copied into `tests/corpus` (Apache-2.0, see its README).
fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/compose-go");
    p.is_dir().then_some(p)
}

const TUTORIAL: &str = "\
networks:
  default:
    internal: true
  public:

services:
  php:
    image: itsziget/phar-examples:1.0

  firefox:
    network_mode: service:php
    environment:
      PUID: 1000
      PGID: 1000
      TZ: Europe/London
    shm_size: \"1gb\"
    image: lscr.io/linuxserver/firefox:101.0.1

  proxy:
    image: alpine/socat:1.7.4.4-r0
    command: \"TCP-LISTEN:3000,fork,reuseaddr TCP:php:3000\"
    ports:
      - 3000:3000
    networks:
      - default
      - public
";
