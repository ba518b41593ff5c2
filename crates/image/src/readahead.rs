//! A reader whose source runs on a thread of its own, a few buffers ahead of whoever reads it, and whose
//! bytes can be hashed on a third thread.
//!
//! A layer passes through kinds of work that wait on different things: the network and the partial blob
//! file, the decompressor, the two SHA-256s, and the extraction's file writes (which the kernel's dirty page
//! throttling slows down). Done in one thread, each waits for the others; split by a [`ReadAhead`] at each
//! seam, they overlap, and a pull's wall time becomes that of its slowest stage. On a machine whose cores
//! are shared with other work, that stage is the thread with the most to do, so the hashing is not left on
//! the threads that already read or decompress: [`ReadAhead::spawn_hashed`] hands every buffer to a hasher
//! thread as well as to the reader. Memory stays bounded: [`DEPTH`] buffers of [`CHUNK`] bytes per seam
//! (and as many queued for the hasher), shared rather than copied, handed back to the source's thread by
//! whichever of the reader and the hasher is done with a buffer last.
//!
//! The source's thread fills a whole buffer before handing it over, so the reader sees large reads however
//! small the source's are (an HTTP body arrives as one `recv` gave it). An error is handed over after the
//! bytes read before it. The threads belong to a [`std::thread::Scope`], so the source may borrow from the
//! caller; [`ReadAhead::into_inner`] stops the source's thread and gives the source back, and
//! [`Hasher::finish`] gives the digest of every byte the source's thread read.

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};

use sha2::Digest as _;

use crate::reference::Digest;

/// Bytes of one buffer.
pub(crate) const CHUNK: usize = 256 * 1024;
/// Buffers filled ahead of the reader.
pub(crate) const DEPTH: usize = 4;

/// A filled buffer, shared by the reader and the hasher. Whoever drops it last hands the buffer back to the
/// source's thread for its next fill (unless that thread is gone or has enough spares: then it is freed).
struct Chunk {
    data: Arc<Vec<u8>>,
    spare: SyncSender<Vec<u8>>,
}

impl Chunk {
    fn share(&self) -> Chunk {
        Chunk {
            data: Arc::clone(&self.data),
            spare: self.spare.clone(),
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        let data = std::mem::take(&mut self.data);
        if let Some(buf) = Arc::into_inner(data) {
            if buf.capacity() > 0 {
                let _ = self.spare.try_send(buf);
            }
        }
    }
}

/// What the source's thread hands over: a filled buffer, the end, or an error.
enum Message {
    Data(Chunk),
    End,
    Error(io::Error),
}

/// See the module documentation.
pub(crate) struct ReadAhead<'scope, R> {
    /// `None` once the source's thread was told to stop.
    full: Option<Receiver<Message>>,
    current: Option<Chunk>,
    pos: usize,
    ended: bool,
    thread: Option<ScopedJoinHandle<'scope, R>>,
}

/// The SHA-256 and length of every byte a [`ReadAhead::spawn_hashed`] source gave, computed on a thread of
/// its own.
pub(crate) struct Hasher<'scope> {
    thread: ScopedJoinHandle<'scope, (Digest, u64)>,
}

impl Hasher<'_> {
    /// The digest and length; waits until the source's thread has stopped (see [`ReadAhead::into_inner`])
    /// and the hasher has caught up.
    pub(crate) fn finish(self) -> (Digest, u64) {
        match self.thread.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<'scope, R: Read + Send + 'scope> ReadAhead<'scope, R> {
    /// Starts reading `source` on a thread of `scope`.
    #[cfg(test)]
    pub(crate) fn spawn<'env>(scope: &'scope Scope<'scope, 'env>, source: R) -> Self {
        Self::start(scope, source, None)
    }

    /// Starts reading `source` on a thread of `scope`, and hashing what it reads on another.
    pub(crate) fn spawn_hashed<'env>(
        scope: &'scope Scope<'scope, 'env>,
        source: R,
    ) -> (Self, Hasher<'scope>) {
        let (tx, rx) = sync_channel::<Chunk>(DEPTH);
        let thread = scope.spawn(move || {
            let mut hasher = sha2::Sha256::new();
            let mut len = 0u64;
            for chunk in rx {
                hasher.update(&chunk.data[..]);
                len += chunk.data.len() as u64;
            }
            (Digest::from_sha256(hasher.finalize().into()), len)
        });
        (Self::start(scope, source, Some(tx)), Hasher { thread })
    }

    fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        mut source: R,
        hasher: Option<SyncSender<Chunk>>,
    ) -> Self {
        let (full_tx, full) = sync_channel(DEPTH);
        // Room for every buffer there can be (those queued for the reader and the hasher, the reader's
        // current one, the one being filled): handing a buffer back never blocks.
        let (spare, spare_rx) = sync_channel::<Vec<u8>>(2 * DEPTH + 4);
        let thread = scope.spawn(move || {
            loop {
                let mut buf = match spare_rx.try_recv() {
                    Ok(b) => b,
                    Err(TryRecvError::Empty) => Vec::with_capacity(CHUNK),
                    Err(TryRecvError::Disconnected) => break,
                };
                buf.resize(CHUNK, 0);
                let (filled, outcome) = fill(&mut source, &mut buf);
                buf.truncate(filled);
                if filled > 0 {
                    let chunk = Chunk {
                        data: Arc::new(buf),
                        spare: spare.clone(),
                    };
                    if let Some(h) = &hasher {
                        // The hasher lives as long as this thread: it stops when its channel closes.
                        let _ = h.send(chunk.share());
                    }
                    if full_tx.send(Message::Data(chunk)).is_err() {
                        break;
                    }
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
            current: None,
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
        let drained = self
            .current
            .as_ref()
            .is_none_or(|c| self.pos == c.data.len());
        if drained && !self.ended {
            let full = self.full.as_ref().expect("not stopped while read");
            let message = full
                .recv()
                .unwrap_or_else(|_| Message::Error(io::Error::other("the reading thread stopped")));
            match message {
                Message::Data(chunk) => {
                    // The one read before goes back to the source's thread, once the hasher is done with it.
                    self.current = Some(chunk);
                    self.pos = 0;
                }
                Message::End => {
                    self.current = None;
                    self.ended = true;
                }
                Message::Error(e) => {
                    self.current = None;
                    self.ended = true;
                    return Err(e);
                }
            }
        }
        Ok(match &self.current {
            Some(c) => &c.data[self.pos..],
            None => &[],
        })
    }

    fn consume(&mut self, amt: usize) {
        let len = self.current.as_ref().map_or(0, |c| c.data.len());
        self.pos = (self.pos + amt).min(len);
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
    fn the_hasher_sees_every_byte_in_order_while_the_reader_reads_them() {
        let want = data(7 * CHUNK + 999);
        std::thread::scope(|s| {
            let source = Trickle {
                data: want.clone(),
                pos: 0,
                step: 8192,
                fail_at_end: false,
            };
            let (mut r, hasher) = ReadAhead::spawn_hashed(s, source);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert!(got == want);
            drop(r.into_inner());
            let (digest, len) = hasher.finish();
            assert_eq!(len, want.len() as u64);
            assert_eq!(digest, Digest::of(&want));
        });
    }

    #[test]
    fn the_hasher_covers_what_was_read_before_an_error() {
        let want = data(2 * CHUNK + 5);
        std::thread::scope(|s| {
            let source = Trickle {
                data: want.clone(),
                pos: 0,
                step: 4096,
                fail_at_end: true,
            };
            let (mut r, hasher) = ReadAhead::spawn_hashed(s, source);
            let e = r.read_to_end(&mut Vec::new()).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
            drop(r.into_inner());
            assert_eq!(hasher.finish(), (Digest::of(&want), want.len() as u64));
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
