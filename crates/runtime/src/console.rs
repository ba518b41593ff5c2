//! The console socket protocol of the OCI runtime command line: with `--console-socket PATH`, the runtime
//! connects to the Unix socket at PATH and sends the master of the container's terminal as one `SCM_RIGHTS`
//! message, then closes the connection; the caller (containerd's shim, conmon) relays it from then on.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

/// Errors of sending a terminal over a console socket.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("connect to console socket {path}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("send the terminal over console socket {path}")]
    Send {
        path: PathBuf,
        #[source]
        source: nix::errno::Errno,
    },
}

/// Sends `master` over the socket at `path`. The message's data is a name for the terminal, as runc sends it.
pub fn send(path: &Path, master: impl AsFd) -> Result<(), ConsoleError> {
    let stream = UnixStream::connect(path).map_err(|source| ConsoleError::Connect {
        path: path.to_owned(),
        source,
    })?;
    let fds = [master.as_fd().as_raw_fd()];
    let data = b"/dev/ptmx";
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(data)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|source| ConsoleError::Send {
        path: path.to_owned(),
        source,
    })?;
    Ok(())
}
