//! The compose file loader: from `-f` files (or the default one), `.env` files and the environment to a
//! normalised compose project, as the compose specification defines it: YAML with anchors and merge keys,
//! interpolation, `extends`, `include`, profiles, the merging of several files, validation against the
//! specification's JSON schema, and errors that name the file and the line.
//!
//! This crate owns reading and understanding compose files; it does not run anything. It depends on no
//! other minotaur crate, so it is pure and testable; `up` and the other verbs build on [`Project`] in the
//! engine's terms. Keys the specification has but minotaur does not implement are reported by path (a
//! warning, or an error under [`Options::strict`]), never ignored silently.
#![forbid(unsafe_code)]

pub mod canonical;
pub mod dotenv;
mod error;
mod files;
pub mod interpolate;
mod load;
pub mod merge;
pub mod model;
pub mod normalize;
pub mod output;
mod reader;
pub mod schema;
mod select;
pub mod yaml;

pub use load::{
    find_default_file, load, normalize_project_name, LoadError, Loaded, Options, Warning,
    DEFAULT_FILES,
};
pub use model::{config_hash, Project, Service};
