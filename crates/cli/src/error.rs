//! The error a subcommand ends with: what went wrong and the exit status that says so.

use std::fmt;

/// A failed subcommand: the error chain to print once, and the process exit status.
pub struct CliError {
    pub code: u8,
    pub error: anyhow::Error,
}

/// What subcommands return: the exit status on success (a command run inside namespaces passes its own on).
pub type CliResult = Result<u8, CliError>;

impl CliError {
    /// An error with a specific exit status (util-linux uses 1 for its own errors, 126 and 127 when the
    /// program cannot be executed or found).
    pub fn with_code(code: u8, error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            code,
            error: error.into(),
        }
    }

    /// True when the error is only that the reader of stdout went away: not an error for a CLI.
    pub fn is_broken_pipe(&self) -> bool {
        self.error.chain().any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        })
    }
}

impl<E: Into<anyhow::Error>> From<E> for CliError {
    fn from(error: E) -> Self {
        CliError {
            code: 1,
            error: error.into(),
        }
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#} (exit {})", self.error, self.code)
    }
}
