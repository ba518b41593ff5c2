//! The runtime spec's hooks: programs run at points of a container's life with its state as JSON on stdin.
//!
//! `prestart` and `createRuntime` run in the runtime's namespaces once the init has made the container's
//! mounts and before it enters its root (`CreateOptions::before_pivot`); `poststart` after `start` has let
//! the process exec; `poststop` at `delete`. A hook that fails or outlives its `timeout` fails the operation
//! (except `poststart` and `poststop`, whose failures the spec makes warnings: [`run_all`] runs them all).
//! `createContainer` (before pivot_root) and `startContainer` (after `start`, before the process) run in the
//! container's namespaces, run by the init (see the init module) through [`run`].

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;
use oci_spec::runtime::Hook;

use crate::state::State;

/// Errors of running a hook.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{kind} hook {path}: cannot run it")]
    Spawn {
        kind: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{kind} hook {path}: exited with {status}")]
    Failed {
        kind: &'static str,
        path: String,
        status: std::process::ExitStatus,
    },
    #[error("{kind} hook {path}: still running after {seconds} s, killed")]
    Timeout {
        kind: &'static str,
        path: String,
        seconds: i64,
    },
}

/// Runs `hooks` one after another, stopping at the first that fails. `kind` names them in errors.
pub fn run(kind: &'static str, hooks: &[Hook], state: &State) -> Result<(), HookError> {
    let json = serde_json::to_vec(state).unwrap_or_default();
    for hook in hooks {
        run_one(kind, hook, &json)?;
    }
    Ok(())
}

/// Runs every one of `hooks`, whatever the ones before did, and returns the failures: poststart and
/// poststop hooks, whose failures the runtime spec makes warnings after which "the remaining hooks and
/// lifecycle continue as if the hook had succeeded".
pub fn run_all(kind: &'static str, hooks: &[Hook], state: &State) -> Vec<HookError> {
    let json = serde_json::to_vec(state).unwrap_or_default();
    hooks
        .iter()
        .filter_map(|hook| run_one(kind, hook, &json).err())
        .collect()
}

fn run_one(kind: &'static str, hook: &Hook, state: &[u8]) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn {
        kind,
        path: path.clone(),
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is not an error.
        let _ = stdin.write_all(state);
    }
    if let Some(seconds) = hook.timeout().filter(|s| *s > 0) {
        let pid = Pid::from_raw(child.id() as i32);
        if let Ok(pidfd) = minotaur_sys::pidfd_open(pid) {
            let ms = Duration::from_secs(seconds as u64).as_millis();
            let timeout =
                PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(
                std::os::fd::AsFd::as_fd(&pidfd),
                PollFlags::POLLIN,
            )];
            if matches!(poll(&mut fds, timeout), Ok(0)) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HookError::Timeout {
                    kind,
                    path,
                    seconds,
                });
            }
        }
    }
    let status = child.wait().map_err(|source| HookError::Spawn {
        kind,
        path: path.clone(),
        source,
    })?;
    if !status.success() {
        return Err(HookError::Failed { kind, path, status });
    }
    Ok(())
}
