//! Attaching to a running container: its output, its standard input and its terminal, from any process.
//!
//! The container's supervisor holds its streams for as long as it runs: the output pipes (or the pty
//! master with `-t`) and, with `-i`, the write end of its stdin pipe (or the master again), so that stdin
//! stays open with nobody attached, as Docker keeps it (`run -d -i` followed by `attach`). It serves them on
//! a unix stream socket, `<runroot>/containers/<id>/attach.sock` (mode 0600), in the same `poll(2)` loop
//! that writes the log ([`serve`]). Every connection is an attacher: it gets the output from the moment it
//! connects, and what it sends as input goes to the container. A foreground `run` or `start -a` is an
//! attacher too, connected before the container starts through a socket pair made before the supervisor is
//! forked, so that no output is missed and the supervisor outlives a client killed by a signal.
//!
//! The channel carries frames: a kind byte, a big-endian `u32` length, then that many bytes.
//!
//! | kind | direction | payload |
//! |---|---|---|
//! | `STDIN` 1 | to the supervisor | bytes for the container's stdin (ignored without `-i`) |
//! | `CLOSE_STDIN` 2 | to the supervisor | none: close the container's stdin (`run -i` at the end of its input) |
//! | `RESIZE` 3 | to the supervisor | rows and columns, `u16` each: the terminal's new size (`-t`) |
//! | `SIGNAL` 4 | to the supervisor | a signal number (`i32`) to send PID 1 (the signal proxy) |
//! | `STDOUT` 17 | to the attacher | output bytes (everything, with `-t`) |
//! | `STDERR` 18 | to the attacher | error output bytes |
//! | `EXIT` 19 | to the attacher | PID 1's exit status (`i32`), sent once the supervisor has recorded it |
//!
//! The client side ([`client`]) puts the terminal in raw mode with `-t`, watches the input for the detach
//! keys, forwards window size changes, and proxies or obeys the signals it gets: see [`attach`].

pub(crate) mod client;
pub(crate) mod serve;

use crate::context::Context;
use crate::error::EngineError;
use crate::process::alive;

pub use client::die_of;

/// Frame kinds; see the module documentation.
pub(crate) mod kind {
    pub const STDIN: u8 = 1;
    pub const CLOSE_STDIN: u8 = 2;
    pub const RESIZE: u8 = 3;
    pub const SIGNAL: u8 = 4;
    pub const STDOUT: u8 = 17;
    pub const STDERR: u8 = 18;
    pub const EXIT: u8 = 19;
}

/// The largest payload a frame may carry; a peer announcing more is broken and is dropped.
const MAX_FRAME: usize = 1 << 20;

/// Docker's default detach keys: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

pub use crate::error::attach::AttachError;

/// What an attacher does.
#[derive(Clone, Debug)]
pub struct AttachOptions {
    /// Relay this process's standard input to the container's.
    pub stdin: bool,
    /// At the end of this process's input, close the container's (`run -i`, Docker's `StdinOnce`).
    pub close_stdin: bool,
    /// Forward the signals this process gets to PID 1 (Docker's `--sig-proxy`; never with `-t`).
    pub sig_proxy: bool,
    /// The key sequence that detaches (`-t` only); empty: none.
    pub detach_keys: Vec<u8>,
}

impl Default for AttachOptions {
    fn default() -> AttachOptions {
        AttachOptions {
            stdin: false,
            close_stdin: false,
            sig_proxy: true,
            detach_keys: detach_keys(DEFAULT_DETACH_KEYS).expect("the default keys parse"),
        }
    }
}

/// How an attachment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The container exited with this status.
    Exited(i32),
    /// The detach keys were typed: the container runs on.
    Detached,
    /// This process got a signal it does not proxy: the caller should die of it ([`die_of`]) once
    /// everything is put back; the container runs on.
    Signal(nix::sys::signal::Signal),
}

/// Attaches this process to a running container until it exits, the detach keys are typed, or a signal
/// that is not proxied arrives. Standard input is attached only if the container keeps one open (`-i`).
pub fn attach(ctx: &Context, reference: &str, opts: &AttachOptions) -> Result<Ended, EngineError> {
    let c = ctx.find(reference)?;
    if !alive(c.state.pid, c.state.pid_start_time) {
        return Err(AttachError::Stopped(c.name.to_string()).into());
    }
    let path = ctx.paths.attach_socket(&c.id);
    let sock = std::os::unix::net::UnixStream::connect(&path).map_err(|source| {
        AttachError::NoChannel {
            name: c.name.to_string(),
            path: path.clone(),
            source,
        }
    })?;
    ctx.release_store();
    let mut opts = opts.clone();
    opts.stdin &= c.config.open_stdin;
    opts.close_stdin = false;
    let tty = c.config.tty;
    client::relay(sock, tty, &opts).map_err(|e| match e {
        AttachError::Lost(_) => AttachError::Lost(c.name.to_string()).into(),
        e => e.into(),
    })
}

/// Parses Docker's detach key syntax: comma-separated keys, each one character or `ctrl-X` where X is a
/// letter or one of `@ [ \ ] ^ _`.
pub fn detach_keys(keys: &str) -> Result<Vec<u8>, EngineError> {
    let bad = |why: String| AttachError::DetachKeys {
        keys: keys.to_owned(),
        why,
    };
    let mut out = Vec::new();
    for key in keys.split(',') {
        let b = key.as_bytes();
        if b.len() == 1 {
            out.push(b[0]);
            continue;
        }
        let ctrl = key
            .strip_prefix("ctrl-")
            .or_else(|| key.strip_prefix("CTRL-"))
            .ok_or_else(|| bad(format!("unknown key {key:?}")))?;
        match ctrl.as_bytes() {
            [c @ b'a'..=b'z'] | [c @ b'A'..=b'Z'] => out.push(c.to_ascii_lowercase() - b'a' + 1),
            [b'@'] => out.push(0),
            [c @ (b'[' | b'\\' | b']' | b'^' | b'_')] => out.push(c - b'@'),
            _ => return Err(bad(format!("unknown key {key:?}")).into()),
        }
    }
    Ok(out)
}

/// Encodes one frame.
pub(crate) fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(5 + payload.len());
    f.push(kind);
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Reassembles frames from a byte stream read in arbitrary pieces.
#[derive(Default)]
pub(crate) struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Err` if the peer sent an impossible length.
    pub(crate) fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, ()> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(());
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some((kind, payload)))
    }
}

/// Watches typed input for the detach keys, as Docker's escape proxy does: bytes that may begin the
/// sequence are held back; if the sequence completes the attacher detaches, and if it breaks off the held
/// bytes pass on with the rest.
pub(crate) struct DetachWatch {
    keys: Vec<u8>,
    held: usize,
}

impl DetachWatch {
    pub(crate) fn new(keys: Vec<u8>) -> DetachWatch {
        DetachWatch { keys, held: 0 }
    }

    /// Filters `input`: returns the bytes to pass on, and whether the sequence was completed (the bytes
    /// after it are dropped, as the attacher is leaving).
    pub(crate) fn filter(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    self.held = 0;
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            if b == self.keys[0] {
                self.held = 1;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_docker_does() {
        assert_eq!(detach_keys("ctrl-p,ctrl-q").unwrap(), vec![0x10, 0x11]);
        assert_eq!(
            detach_keys("a,ctrl-@,ctrl-\\,ctrl-_").unwrap(),
            vec![b'a', 0, 0x1c, 0x1f]
        );
        assert_eq!(detach_keys("ctrl-A").unwrap(), vec![1]);
        let e = detach_keys("ctrl-1").unwrap_err().to_string();
        assert_eq!(e, "invalid detach keys \"ctrl-1\": unknown key \"ctrl-1\"");
        assert!(detach_keys("meta-x").is_err());
        assert!(detach_keys("").is_err());
    }

    #[test]
    fn the_watch_holds_a_prefix_and_lets_it_go_when_the_sequence_breaks() {
        let mut w = DetachWatch::new(vec![0x10, 0x11]);
        assert_eq!(w.filter(b"ls\x10"), (b"ls".to_vec(), false));
        assert_eq!(w.filter(b"x"), (b"\x10x".to_vec(), false));
        assert_eq!(w.filter(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(w.filter(b"\x11after"), (Vec::new(), true));
        // Split over reads.
        let mut w = DetachWatch::new(vec![0x10, 0x11]);
        assert_eq!(w.filter(b"\x10"), (Vec::new(), false));
        assert_eq!(w.filter(b"\x11"), (Vec::new(), true));
        let mut none = DetachWatch::new(Vec::new());
        assert_eq!(none.filter(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }

    #[test]
    fn frames_are_reassembled_from_any_pieces() {
        let mut bytes = frame(kind::STDOUT, b"hello");
        bytes.extend(frame(kind::EXIT, &3i32.to_be_bytes()));
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for b in &bytes {
            d.push(std::slice::from_ref(b));
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(
            got,
            vec![
                (kind::STDOUT, b"hello".to_vec()),
                (kind::EXIT, 3i32.to_be_bytes().to_vec())
            ]
        );
        let mut d = Decoder::default();
        d.push(&[kind::STDIN, 0xff, 0xff, 0xff, 0xff]);
        assert!(d.next_frame().is_err());
    }
}
