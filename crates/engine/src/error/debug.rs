//! What `debug` fails on before or around the command it runs.

use std::path::PathBuf;

use minotaur_ns::NsKind;

#[derive(Debug, thiserror::Error)]
pub enum DebugError {
    /// `--ns` was not `TYPE=SOURCE`.
    #[error("invalid --ns {0:?}: expected TYPE=SOURCE (for example net=web, mnt=image:toolbox, pid=host)")]
    BadNs(String),
    /// `--ns` named a kind debug does not choose.
    #[error("--ns {kind}=…: debug chooses the mnt, net, pid, uts, ipc and cgroup namespaces only")]
    UnsupportedKind { kind: NsKind },
    /// `image:NAME` for a namespace an image cannot give.
    #[error("--ns {kind}={from}: an image gives only a mount namespace (the tools' filesystem)")]
    ImageForKind { kind: NsKind, from: String },
    /// The tools were chosen twice.
    #[error("--image and --ns mnt=… both choose the tools' filesystem")]
    ToolsTwice,
    /// A namespace source that does not exist, or that is not a namespace of the kind asked for.
    #[error("--ns {kind}={from}: {why}")]
    Source {
        kind: NsKind,
        from: String,
        why: String,
    },
    /// A namespace file could not be opened.
    #[error("cannot open {} namespace {}", kind, path.display())]
    Open {
        kind: NsKind,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The target's process went away while its namespaces were being opened.
    #[error("container {0} stopped while the debug session was being set up")]
    TargetGone(String),
    /// The process that holds the session's namespaces failed to set them up (its message, with the errno).
    #[error("cannot set up the debug session: {0}")]
    Setup(String),
    /// The command's file capabilities ask for capabilities the session does not have, so execve would fail
    /// with EPERM.
    #[error("{command} needs {}, which this debug session does not have (add {} or --privileged)", missing.join(", "), missing.iter().map(|c| format!("--cap-add {}", c.trim_start_matches("CAP_"))).collect::<Vec<_>>().join(" "))]
    MissingCapability {
        command: String,
        missing: Vec<String>,
    },
}
