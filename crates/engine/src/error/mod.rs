//! The engine's error: one enum for what every engine operation can fail on, with Docker's exit status for
//! each. It sits at the bottom of the crate so that no module imports a capability to report a failure.
//! What the network modules fail on is [`network::NetworkError`], one of its variants.

pub mod attach;
pub mod cp;
pub mod debug;
pub mod events;
pub mod forward;
pub mod network;
pub mod store;
pub mod userns;
pub mod volume;

use std::io;
use std::path::PathBuf;

use minotaur_ns::netns::NetnsError;
use minotaur_state::StateError;

use self::debug::DebugError;
use self::network::NetworkError;
use self::store::StoreError;
use crate::spec::SpecError;
use crate::user::UserError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Image(#[from] minotaur_image::StoreError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Runtime(#[from] minotaur_runtime::RuntimeError),
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Attach(#[from] self::attach::AttachError),
    #[error(transparent)]
    Volume(#[from] self::volume::VolumeError),
    #[error(transparent)]
    Events(#[from] self::events::EventsError),
    #[error(transparent)]
    Cp(#[from] self::cp::CpError),
    #[error(transparent)]
    Forward(#[from] self::forward::ForwardError),
    #[error(transparent)]
    Debug(#[from] DebugError),
    #[error(transparent)]
    Userns(#[from] self::userns::UsernsError),
    #[error(transparent)]
    Capture(#[from] minotaur_capture::CaptureError),
    #[error(transparent)]
    Target(#[from] minotaur_ns::target::TargetError),
    #[error("cannot {what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot {what}")]
    Sys {
        what: String,
        #[source]
        source: nix::Error,
    },
    #[error("no command specified: the {0} image has no default command")]
    NoCommand(String),
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("cannot remove container {0}: it is running (stop it first, or use --force)")]
    Running(String),
    #[error("bind mount source path does not exist: {0}")]
    NoBindSource(PathBuf),
    #[error("container {0} did not exit within {1} s of SIGKILL (a process of its PID namespace is not reaped)")]
    Stuck(String, u64),
    #[error("invalid signal {0:?}")]
    BadSignal(String),
    #[error("{message}")]
    Supervisor { message: String, code: i32 },
}

impl EngineError {
    /// Docker's exit status for this error: 126 or 127 when the command could not be run, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Runtime(e) => e.exit_code(),
            EngineError::Supervisor { code, .. } => *code,
            EngineError::Debug(DebugError::MissingCapability { .. }) => 126,
            _ => 125,
        }
    }
}

impl From<minotaur_net::netns::NetnsError> for EngineError {
    fn from(e: minotaur_net::netns::NetnsError) -> EngineError {
        EngineError::Network(e.into())
    }
}

/// An `io::Error` mapper naming what failed (`what`: "create /path", "open …").
pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> EngineError {
    let what = what.into();
    move |source| EngineError::Io { what, source }
}

/// A `nix::Error` mapper naming what failed.
pub(crate) fn sys_err(what: impl Into<String>) -> impl FnOnce(nix::Error) -> EngineError {
    let what = what.into();
    move |source| EngineError::Sys { what, source }
}
