//! Validation against the compose specification's JSON schema (`schema/compose-spec.json`, embedded), with
//! the `jsonschema` crate. An error names the file and line of the value the schema rejects.

use std::sync::OnceLock;

use jsonschema::Validator;

use crate::yaml::{Mark, Node};

const SCHEMA: &str = include_str!("../schema/compose-spec.json");

/// Why a model does not follow the schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{mark}: {path}: {message}")]
    Invalid {
        mark: Mark,
        path: String,
        message: String,
    },
}

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(SCHEMA).expect("the embedded compose schema is JSON");
        jsonschema::draft202012::new(&schema).expect("the embedded compose schema compiles")
    })
}

/// Validates a (merged, not yet normalised) model. Of several errors, the one deepest in the tree is
/// reported: it is the most precise (`services.web.ports.0` rather than `services.web`).
pub fn validate(model: &Node) -> Result<(), SchemaError> {
    let json = model.to_json();
    let best = validator()
        .iter_errors(&json)
        .map(|e| {
            let segs: Vec<String> = e
                .instance_path()
                .as_str()
                .split('/')
                .skip(1)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect();
            (segs, e.to_string())
        })
        .max_by_key(|(segs, _)| segs.len());
    match best {
        None => Ok(()),
        Some((segs, message)) => {
            let path = if segs.is_empty() {
                "(top level)".to_owned()
            } else {
                segs.join(".")
            };
            Err(SchemaError::Invalid {
                mark: model.mark_for(&segs),
                path,
                message,
            })
        }
    }
}
