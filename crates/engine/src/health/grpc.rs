//! gRPC checks (Kubernetes' `grpc` probes): one unary call of `grpc.health.v1.Health/Check` over HTTP/2
//! without TLS, as the kubelet makes it, from inside the container's network namespace.
//!
//! HTTP/2 is the `h2` crate's. It is written for async code, but needs no runtime: its futures are
//! polled here, by the supervisor's poll loop, with a waker that does nothing. The socket stays
//! non-blocking; [`Io`] turns `EWOULDBLOCK` into `Pending` and remembers whether a write was the one
//! that would have blocked, so the loop knows to wait for the socket to take more (`POLLOUT`) rather
//! than for the server to answer (`POLLIN`). Each step polls the connection and then the call, again
//! until neither moves, so nothing that a wake-up would have signalled is missed.
//!
//! The messages are protobuf with one field each (`HealthCheckRequest.service`, a string, and
//! `HealthCheckResponse.status`, an enum), written and read here in a few lines rather than through a
//! protobuf code generator. As the kubelet: `SERVING` passes; another status, a `grpc-status` other
//! than 0 (an unknown service is `NOT_FOUND`) or a broken call fails, naming what it got.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use h2::client::{Connection, ResponseFuture, SendRequest};
use h2::RecvStream;
use socket2::Socket;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::step::Step;

/// The socket as `h2` sees it: non-blocking reads and writes, `Pending` where they would block.
pub(crate) struct Io {
    sock: Socket,
    /// Set when a write would have blocked (the loop waits for `POLLOUT`), cleared by one that did not.
    write_blocked: Arc<AtomicBool>,
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut sock = &self.sock;
        match sock.read(buf.initialize_unfilled()) {
            Ok(n) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut sock = &self.sock;
        match sock.write(data) {
            Ok(n) => {
                self.write_blocked.store(false, Ordering::Relaxed);
                Poll::Ready(Ok(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.write_blocked.store(true, Ordering::Relaxed);
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.sock.shutdown(std::net::Shutdown::Write))
    }
}

type Handshake =
    Pin<Box<dyn Future<Output = Result<(SendRequest<Bytes>, Connection<Io, Bytes>), h2::Error>>>>;

enum State {
    Handshake(Handshake),
    /// The request is sent; waiting for the response's headers.
    Response {
        conn: Connection<Io, Bytes>,
        response: ResponseFuture,
    },
    /// Reading the response's message, then its trailers.
    Body {
        conn: Connection<Io, Bytes>,
        body: RecvStream,
        message: Vec<u8>,
    },
    Done,
}

/// A gRPC health check under way.
pub(crate) struct GrpcCall {
    addr: SocketAddr,
    service: String,
    state: State,
    write_blocked: Arc<AtomicBool>,
}

impl GrpcCall {
    /// Starts the HTTP/2 connection over `sock` (connected, non-blocking).
    pub(crate) fn start(sock: &Socket, addr: SocketAddr, service: &str) -> io::Result<GrpcCall> {
        let write_blocked = Arc::new(AtomicBool::new(false));
        let io = Io {
            sock: sock.try_clone()?,
            write_blocked: write_blocked.clone(),
        };
        Ok(GrpcCall {
            addr,
            service: service.to_owned(),
            state: State::Handshake(Box::pin(h2::client::handshake(io))),
            write_blocked,
        })
    }

    /// Whether the socket must take more before the call can go on (else it waits for the server).
    pub(crate) fn wants_write(&self) -> bool {
        self.write_blocked.load(Ordering::Relaxed)
    }

    /// Goes as far as the socket allows.
    pub(crate) fn step(&mut self) -> Step {
        let mut cx = Context::from_waker(Waker::noop());
        let failed =
            |what: &dyn std::fmt::Display| Step::Done(1, format!("gRPC probe failed: {what}"));
        loop {
            match &mut self.state {
                State::Handshake(h) => match h.as_mut().poll(&mut cx) {
                    Poll::Pending => return Step::Pending,
                    Poll::Ready(Err(e)) => return failed(&e),
                    Poll::Ready(Ok((mut send, conn))) => {
                        let request = http::Request::builder()
                            .method("POST")
                            .uri(format!("http://{}/grpc.health.v1.Health/Check", self.addr))
                            .header("content-type", "application/grpc")
                            .header("te", "trailers")
                            .header("user-agent", "minotaur-probe")
                            .body(())
                            .expect("a well-formed request");
                        let sent =
                            send.send_request(request, false)
                                .and_then(|(response, mut s)| {
                                    s.send_data(request_message(&self.service), true)
                                        .map(|()| response)
                                });
                        match sent {
                            Ok(response) => self.state = State::Response { conn, response },
                            Err(e) => return failed(&e),
                        }
                    }
                },
                State::Response { conn, response } => {
                    if let Some(done) = drive(conn, &mut cx) {
                        return done;
                    }
                    match Pin::new(response).poll(&mut cx) {
                        Poll::Pending => return Step::Pending,
                        Poll::Ready(Err(e)) => return failed(&e),
                        Poll::Ready(Ok(r)) => {
                            if r.status() != http::StatusCode::OK {
                                return failed(&format_args!("HTTP status {}", r.status()));
                            }
                            // A trailers-only response carries the gRPC status in its headers.
                            if let Some(done) = grpc_status(r.headers()) {
                                return done;
                            }
                            let State::Response { conn, .. } =
                                std::mem::replace(&mut self.state, State::Done)
                            else {
                                unreachable!()
                            };
                            self.state = State::Body {
                                conn,
                                body: r.into_body(),
                                message: Vec::new(),
                            };
                        }
                    }
                }
                State::Body {
                    conn,
                    body,
                    message,
                } => {
                    if let Some(done) = drive(conn, &mut cx) {
                        return done;
                    }
                    match body.poll_data(&mut cx) {
                        Poll::Pending => return Step::Pending,
                        Poll::Ready(Some(Err(e))) => return failed(&e),
                        Poll::Ready(Some(Ok(chunk))) => {
                            let _ = body.flow_control().release_capacity(chunk.len());
                            message.extend_from_slice(&chunk);
                            if message.len() > 64 * 1024 {
                                return failed(&"the response is too long");
                            }
                        }
                        Poll::Ready(None) => match body.poll_trailers(&mut cx) {
                            Poll::Pending => return Step::Pending,
                            Poll::Ready(Err(e)) => return failed(&e),
                            Poll::Ready(Ok(trailers)) => {
                                if let Some(done) = trailers.as_ref().and_then(grpc_status) {
                                    return done;
                                }
                                return verdict(&self.service, message);
                            }
                        },
                    }
                }
                State::Done => return failed(&"the call is over"),
            }
        }
    }
}

/// Polls the connection (it reads and writes the frames); a connection that ended or broke ends the
/// check.
fn drive(conn: &mut Connection<Io, Bytes>, cx: &mut Context<'_>) -> Option<Step> {
    match Pin::new(conn).poll(cx) {
        Poll::Pending => None,
        Poll::Ready(Ok(())) => Some(Step::Done(
            1,
            "gRPC probe failed: the connection closed before the response".into(),
        )),
        Poll::Ready(Err(e)) => Some(Step::Done(1, format!("gRPC probe failed: {e}"))),
    }
}

/// The check's outcome from a `grpc-status` other than 0, if the headers have one.
fn grpc_status(headers: &http::HeaderMap) -> Option<Step> {
    let status = headers.get("grpc-status")?.to_str().unwrap_or("?");
    if status == "0" {
        return None;
    }
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .unwrap_or_default();
    Some(Step::Done(
        1,
        format!("gRPC probe failed: grpc-status {status} {message}")
            .trim_end()
            .to_owned(),
    ))
}

/// `HealthCheckRequest { service }` in a gRPC frame: no compression flag, the length, the message.
fn request_message(service: &str) -> Bytes {
    let mut msg = Vec::new();
    if !service.is_empty() {
        msg.push(0x0a); // field 1, length-delimited
        varint(&mut msg, service.len() as u64);
        msg.extend_from_slice(service.as_bytes());
    }
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    frame.extend_from_slice(&msg);
    Bytes::from(frame)
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The check's outcome from the response's frame (`HealthCheckResponse { status }`).
fn verdict(service: &str, frame: &[u8]) -> Step {
    let Some(status) = response_status(frame) else {
        return Step::Done(1, "gRPC probe failed: malformed response".into());
    };
    let name = match status {
        0 => "UNKNOWN",
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "an unknown status",
    };
    let what = if service.is_empty() {
        "the server".to_owned()
    } else {
        format!("service {service:?}")
    };
    Step::Done(
        if status == 1 { 0 } else { 1 },
        format!("gRPC probe: {what} is {name}"),
    )
}

/// Field 1 (a varint) of the one message in `frame`; 0 when the message leaves it out (its default).
fn response_status(frame: &[u8]) -> Option<u64> {
    let (&compressed, rest) = frame.split_first()?;
    if compressed != 0 || rest.len() < 4 {
        return None;
    }
    let len = u32::from_be_bytes(rest[..4].try_into().ok()?) as usize;
    let mut msg = rest.get(4..4 + len)?;
    let mut status = 0;
    while let Some((&key, rest)) = msg.split_first() {
        let (value, used) = read_varint(rest)?;
        match (key >> 3, key & 7) {
            (1, 0) => {
                status = value;
                msg = &rest[used..];
            }
            // Another varint field: skipped.
            (_, 0) => msg = &rest[used..],
            // A length-delimited one: skipped.
            (_, 2) => msg = rest.get(used + value as usize..)?,
            _ => return None,
        }
    }
    Some(status)
}

fn read_varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut n = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((n, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_and_the_response_are_health_v1s() {
        assert_eq!(&request_message("")[..], [0, 0, 0, 0, 0]);
        assert_eq!(
            &request_message("db")[..],
            [0, 0, 0, 0, 4, 0x0a, 2, b'd', b'b']
        );
        let code = |frame: &[u8]| match verdict("db", frame) {
            Step::Done(code, text) => (code, text),
            Step::Pending => unreachable!(),
        };
        assert_eq!(
            code(&[0, 0, 0, 0, 2, 0x08, 1]),
            (0, "gRPC probe: service \"db\" is SERVING".into())
        );
        assert_eq!(code(&[0, 0, 0, 0, 2, 0x08, 2]).0, 1);
        assert_eq!(
            code(&[0, 0, 0, 0, 0]),
            (1, "gRPC probe: service \"db\" is UNKNOWN".into()),
            "an empty message is the default status"
        );
        assert_eq!(
            code(&[1, 0, 0, 0, 0]).1,
            "gRPC probe failed: malformed response"
        );
        assert_eq!(
            code(&[0, 0, 0, 0, 9, 0x08]).1,
            "gRPC probe failed: malformed response"
        );
    }
}
