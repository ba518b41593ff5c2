//! What `minotaur-cni` fails on, each with the CNI spec's error code.

use crate::error::EngineError;

/// The spec's code for an error it does not name ("try again later" and the rest are 1-99; this is the
/// reference plugins' "internal" code).
pub const INTERNAL: u32 = 999;

#[derive(Debug, thiserror::Error)]
pub enum CniError {
    /// Code 1.
    #[error("CNI version {0} is not supported (supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)")]
    IncompatibleVersion(String),
    /// Code 2.
    #[error("unsupported configuration: {0}")]
    Unsupported(String),
    /// Code 3.
    #[error("{0}")]
    UnknownContainer(String),
    /// Code 4.
    #[error("{0}")]
    InvalidEnv(String),
    /// Code 5.
    #[error("cannot read the network configuration from stdin")]
    Io(#[source] std::io::Error),
    /// Code 6.
    #[error("cannot decode the network configuration")]
    Decode(#[source] serde_json::Error),
    /// Code 7.
    #[error("invalid network configuration: {0}")]
    InvalidConfig(String),
    /// Code 50: STATUS says the plugin cannot take ADDs now.
    #[error("the plugin is not available")]
    NotAvailable(#[source] Box<EngineError>),
    /// CHECK found the attachment differs from what was made.
    #[error("check failed: {0}")]
    Check(String),
    /// GC could not take these attachments away (each with why).
    #[error("cannot remove attachments: {}", .0.join("; "))]
    Gc(Vec<String>),
    /// Boxed: the engine's error is large, and this one is returned by every step.
    #[error(transparent)]
    Engine(Box<EngineError>),
}

impl From<EngineError> for CniError {
    fn from(e: EngineError) -> CniError {
        CniError::Engine(Box::new(e))
    }
}

impl CniError {
    /// The spec's error code.
    pub fn code(&self) -> u32 {
        match self {
            CniError::IncompatibleVersion(_) => 1,
            CniError::Unsupported(_) => 2,
            CniError::UnknownContainer(_) => 3,
            CniError::InvalidEnv(_) => 4,
            CniError::Io(_) => 5,
            CniError::Decode(_) => 6,
            CniError::InvalidConfig(_) => 7,
            CniError::NotAvailable(_) => 50,
            CniError::Check(_) | CniError::Gc(_) | CniError::Engine(_) => INTERNAL,
        }
    }

    /// The spec's error document: the code, the message, and the chain of causes as details.
    pub fn to_json(&self, cni_version: &str) -> serde_json::Value {
        let mut details = Vec::new();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            details.push(s.to_string());
            source = s.source();
        }
        let msg = match self {
            // Transparent: the engine's message is the whole chain's head.
            CniError::Engine(e) => crate::error_chain(e.as_ref()),
            other => other.to_string(),
        };
        let mut doc = serde_json::json!({
            "cniVersion": cni_version,
            "code": self.code(),
            "msg": msg,
        });
        if !details.is_empty() && !matches!(self, CniError::Engine(_)) {
            doc["details"] = serde_json::json!(details.join(": "));
        }
        doc
    }
}

impl From<minotaur_state::StateError> for CniError {
    fn from(e: minotaur_state::StateError) -> CniError {
        EngineError::from(e).into()
    }
}

impl From<crate::error::network::NetworkError> for CniError {
    fn from(e: crate::error::network::NetworkError) -> CniError {
        EngineError::from(e).into()
    }
}
