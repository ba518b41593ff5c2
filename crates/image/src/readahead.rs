//! A reader whose source runs on a thread of its own, a few buffers ahead of whoever reads it.
//!
//! A layer passes through three kinds of work that wait on different things: the network and the partial
//! blob file, the decompressor and its SHA-256, and the extraction's file writes (which the kernel's dirty
//! page throttling slows down). Done in one thread, each waits for the others; split by a [`ReadAhead`] at
//! each seam, they overlap on two cores and a pull's wall time becomes that of its slowest stage. Memory
//! stays bounded: [`DEPTH`] buffers of [`CHUNK`] bytes per seam, handed back and forth rather than
//! allocated anew.
//!
//! The source's thread fills a whole buffer before handing it over, so the reader sees large reads however
//! small the source's are (an HTTP body arrives 8 KiB at a time). An error is handed over after the bytes
//! read before it. The thread belongs to a [`std::thread::Scope`], so the source may borrow from the caller;
//! [`ReadAhead::into_inner`] stops it and gives the source back, which is how its hashers are read at the end.

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::thread::{Scope, ScopedJoinHandle};

/// Bytes of one buffer.
pub(crate) const CHUNK: usize = 256 * 1024;
/// Buffers filled ahead of the reader.
pub(crate) const DEPTH: usize = 4;

/// What the source's thread hands over: a filled buffer, the end, or an error.
enum Message {
    Data(Vec<u8>),
    End,
    Error(io::Error),
}

/// See the module documentation.
pub(crate) struct ReadAhead<'scope, R> {
    /// `None` once the source's thread was told to stop.
    full: Option<Receiver<Message>>,
    empty: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    ended: bool,
    thread: Option<ScopedJoinHandle<'scope, R>>,
}

impl<'scope, R: Read + Send + 'scope> ReadAhead<'scope, R> {
    /// Starts reading `source` on a thread of `scope`.
    pub(crate) fn spawn<'env>(scope: &'scope Scope<'scope, 'env>, mut source: R) -> Self {
        let (full_tx, full) = sync_channel(DEPTH);
        // One more slot than buffers in flight: handing a buffer back never blocks.
        let (empty, empty_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
        let thread = scope.spawn(move || {
            loop {
                let mut buf = match empty_rx.try_recv() {
                    Ok(b) => b,
                    Err(TryRecvError::Empty) => Vec::with_capacity(CHUNK),
                    Err(TryRecvError::Disconnected) => break,
                };
                buf.resize(CHUNK, 0);
                let (filled, outcome) = fill(&mut source, &mut buf);
                buf.truncate(filled);
                if filled > 0 && full_tx.send(Message::Data(buf)).is_err() {
                    break;
                }
                let last = match outcome {
                    Ok(true) => Message::End,
                    Ok(false) => continue,
                    Err(e) => Message::Error(e),
                };
                let _ = full_tx.send(last);
                break;
            }
            source
        });
        ReadAhead {
            full: Some(full),
            empty,
            current: Vec::new(),
            pos: 0,
            ended: false,
            thread: Some(thread),
        }
    }

    /// Stops the source's thread (at once if the source was read to its end) and gives the source back.
    pub(crate) fn into_inner(mut self) -> R {
        // Dropping the receiver makes the thread's next hand-over fail, so it stops even when the reader did
        // not read everything.
        self.full = None;
        let thread = self.thread.take().expect("joined once");
        match thread.join() {
            Ok(source) => source,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Reads `source` into `buf` until it is full (`Ok(false)`), the source ends (`Ok(true)`) or fails. Returns
/// how many bytes were read either way.
fn fill(source: &mut impl Read, buf: &mut [u8]) -> (usize, io::Result<bool>) {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => return (filled, Ok(true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Err(e)),
        }
    }
    (filled, Ok(false))
}

impl<R> BufRead for ReadAhead<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.current.len() && !self.ended {
            let full = self.full.as_ref().expect("not stopped while read");
            let message = full
                .recv()
                .unwrap_or_else(|_| Message::Error(io::Error::other("the reading thread stopped")));
            match message {
                Message::Data(buf) => {
                    let used = std::mem::replace(&mut self.current, buf);
                    // The thread may have stopped meanwhile; the buffer is then simply dropped.
                    if used.capacity() > 0 {
                        let _ = self.empty.try_send(used);
                    }
                    self.pos = 0;
                }
                Message::End => self.ended = true,
                Message::Error(e) => {
                    self.ended = true;
                    return Err(e);
                }
            }
        }
        Ok(&self.current[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.current.len());
    }
}

impl<R> Read for ReadAhead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.read(buf)?;
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out at most `step` bytes per read, then fails if told to.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        step: usize,
        fail_at_end: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() && self.fail_at_end {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "cut"));
            }
            let n = buf.len().min(self.step).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn every_byte_arrives_in_order_and_the_source_comes_back() {
        let want = data(3 * CHUNK + 12345);
        std::thread::scope(|s| {
            let source = Trickle {
                data: want.clone(),
                pos: 0,
                step: 8192,
                fail_at_end: false,
            };
            let mut r = ReadAhead::spawn(s, source);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert!(got == want);
            assert_eq!(r.read(&mut [0; 10]).unwrap(), 0);
            assert_eq!(r.into_inner().pos, want.len());
        });
    }

    #[test]
    fn an_error_comes_after_the_bytes_read_before_it() {
        let want = data(CHUNK + 100);
        std::thread::scope(|s| {
            let source = Trickle {
                data: want.clone(),
                pos: 0,
                step: 1000,
                fail_at_end: true,
            };
            let mut r = ReadAhead::spawn(s, source);
            let mut got = vec![0; want.len()];
            r.read_exact(&mut got).unwrap();
            assert!(got == want);
            let e = r.read(&mut [0; 10]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        });
    }

    #[test]
    fn a_reader_that_stops_early_still_gets_its_source_back() {
        std::thread::scope(|s| {
            let source = Trickle {
                data: data(20 * CHUNK),
                pos: 0,
                step: CHUNK,
                fail_at_end: false,
            };
            let mut r = ReadAhead::spawn(s, source);
            r.read_exact(&mut [0; 10]).unwrap();
            let source = r.into_inner();
            assert!(source.pos < 20 * CHUNK, "the thread stopped before the end");
        });
    }
}
