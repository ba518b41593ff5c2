use std::io::Write;

use anyhow::Context;
use minotaur_runtime::state::{Container, Root, Status};
use std::os::fd::AsFd;

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;

/// Run the process of a created container
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container's ID
    id: String,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    let c = root.load(&args.id)?;
    let _lock = super::lock(&c)?;
    start(&c)?;
    Ok(0)
}

/// Lets the init of a created container exec its process, then runs the poststart hooks (whose failures are
/// warnings, as the spec says).
pub fn start(c: &Container) -> anyhow::Result<()> {
    let status = c.status();
    if status != Status::Created {
        anyhow::bail!("container {} is {status}, not created", c.record.id);
    }
    let fifo = c.fifo();
    // Non-blocking: ENXIO when nobody holds the FIFO for reading, that is when the init is gone.
    let fd = nix::fcntl::open(
        &fifo,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| {
        format!(
            "container {} is not waiting to start ({})",
            c.record.id,
            fifo.display()
        )
    })?;
    std::fs::remove_file(&fifo).with_context(|| format!("remove {}", fifo.display()))?;
    let mut f = std::fs::File::from(fd);
    f.write_all(b"0")
        .with_context(|| format!("start container {}", c.record.id))?;
    // The init holds the FIFO open (close-on-exec) until it has run the startContainer hooks and exec'd the
    // process, or died: then it has no reader left, and the kernel reports POLLERR on this writer. Only
    // then is the process started, and the poststart hooks may run (the spec orders them after it).
    let mut fds = [PollFd::new(f.as_fd(), PollFlags::empty())];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) if fds[0].any().unwrap_or(true) => break,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).with_context(|| format!("wait for container {}", c.record.id)),
        }
    }
    drop(f);
    if let Some(hooks) = super::container_spec(c)?.hooks() {
        // The hooks are told of the container as it was started, running with its PID, as runc tells them,
        // even when its process has already exited by the time they run.
        let mut state = c.state();
        state.status = Status::Running;
        state.pid = c.record.pid;
        for e in minotaur_runtime::hooks::run_all(
            "poststart",
            hooks.poststart().as_deref().unwrap_or_default(),
            &state,
        ) {
            eprintln!("minotaur-runc: warning: {e}");
        }
    }
    Ok(())
}
