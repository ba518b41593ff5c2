//! The files of a project: the default names looked for, and paths as the loader resolves them.

use std::path::{Path, PathBuf};

/// The files looked for, in this order, in the current directory and then in each parent.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

pub(crate) fn absolute(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    PathBuf::from(crate::canonical::clean_path(&joined.to_string_lossy()))
}

/// Whether a path names a remote resource (`https://…`, `git@…`, `oci://…`, any `scheme:…`), which
/// minotaur does not fetch.
pub(crate) fn is_remote(p: &str) -> bool {
    if p.contains("://") || p.starts_with("git@") {
        return true;
    }
    match p.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        }
        None => false,
    }
}

pub(crate) fn dir_of(file: &Path) -> PathBuf {
    file.parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}
