//! `port-forward`: reaching a port of a container that is not published, or that listens only on the
//! container's localhost, with no sidecar and no rule: the relay's sockets on the container's side are opened
//! inside its network namespace (by a short-lived thread that joins it: see `minotaur_net::netns::in_netns`;
//! a socket keeps the namespace it was made in), and this process copies bytes between the two sides.
//!
//! - `-L [HOSTADDR:]PORT:[ADDR:]PORT`: listens on the host (`127.0.0.1` by default); each connection is
//!   relayed to `ADDR:PORT` (`127.0.0.1` by default) as seen from inside the container.
//! - `-R PORT:HOSTADDR:PORT`: listens on the container's `127.0.0.1:PORT`; each connection is relayed to
//!   `HOSTADDR:PORT` as seen from the host.
//!
//! One thread per direction of each connection; a side that reaches end-of-file shuts down the other's
//! writing half, as a TCP proxy does, so half-closed protocols work. It runs until the process is ended
//! (Ctrl-C).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;

use crate::context::Context;
use crate::error::EngineError;
use crate::store;

pub use crate::error::forward::ForwardError;

/// Which way a forward goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Host to container (`-L`).
    Local,
    /// Container to host (`-R`).
    Remote,
}

/// One `-L` or `-R`: where to listen and where to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    pub direction: Direction,
    /// On the host for `-L`, in the container for `-R`.
    pub listen: SocketAddr,
    /// In the container for `-L`, on the host for `-R`.
    pub connect: SocketAddr,
}

/// Splits on `:` outside `[...]` and drops the brackets.
fn fields(spec: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut bracket = false;
    for ch in spec.chars() {
        match ch {
            '[' => bracket = true,
            ']' => bracket = false,
            ':' if !bracket => out.push(String::new()),
            c => out.last_mut().expect("one field").push(c),
        }
    }
    out
}

fn address(s: &str) -> Option<IpAddr> {
    if s == "localhost" {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    s.parse().ok()
}

fn is_port(s: &str) -> bool {
    s.parse::<u16>().is_ok()
}

impl Forward {
    /// Parses `-L [HOSTADDR:]PORT:[ADDR:]PORT`. The host port may be 0 (any free port).
    pub fn local(spec: &str) -> Result<Forward, ForwardError> {
        let bad = |why| ForwardError::Invalid {
            spec: spec.to_owned(),
            why,
        };
        let f = fields(spec);
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let (host, port, addr, target) = match f.as_slice() {
            [p, t] => (lo, p, lo, t),
            [a, b, c] if is_port(a) && !is_port(b) => {
                (lo, a, address(b).ok_or_else(|| bad("not an address"))?, c)
            }
            [h, p, t] => (address(h).ok_or_else(|| bad("not an address"))?, p, lo, t),
            [h, p, a, t] => (
                address(h).ok_or_else(|| bad("not an address"))?,
                p,
                address(a).ok_or_else(|| bad("not an address"))?,
                t,
            ),
            _ => return Err(bad("expected [HOSTADDR:]PORT:[ADDR:]PORT")),
        };
        let port: u16 = port.parse().map_err(|_| bad("not a port"))?;
        let target: u16 = target.parse().map_err(|_| bad("not a port"))?;
        if target == 0 {
            return Err(bad("the container's port cannot be 0"));
        }
        Ok(Forward {
            direction: Direction::Local,
            listen: SocketAddr::new(host, port),
            connect: SocketAddr::new(addr, target),
        })
    }

    /// Parses `-R PORT:HOSTADDR:PORT`: the container's `127.0.0.1:PORT` leads to the host's `HOSTADDR:PORT`.
    pub fn remote(spec: &str) -> Result<Forward, ForwardError> {
        let bad = |why| ForwardError::Invalid {
            spec: spec.to_owned(),
            why,
        };
        let f = fields(spec);
        let [port, host, target] = f.as_slice() else {
            return Err(bad("expected PORT:HOSTADDR:PORT"));
        };
        let port: u16 = port.parse().map_err(|_| bad("not a port"))?;
        let host = address(host).ok_or_else(|| bad("not an address"))?;
        let target: u16 = target.parse().map_err(|_| bad("not a port"))?;
        if port == 0 || target == 0 {
            return Err(bad("a port cannot be 0"));
        }
        Ok(Forward {
            direction: Direction::Remote,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            connect: SocketAddr::new(host, target),
        })
    }
}

/// A forward that listens: its listener, and where connections go.
pub struct Listening {
    pub forward: Forward,
    /// The address it listens on (with the port the kernel chose for port 0).
    pub local: SocketAddr,
    listener: TcpListener,
}

/// The network namespace file a container's connections are made in.
fn netns_of(ctx: &Context, reference: &str) -> Result<(String, PathBuf), EngineError> {
    let mut st = ctx.store()?;
    let c = st.read(|tx| store::find(tx, reference))?;
    let mut net = c.clone();
    // `--network container:X` shares X's namespace (a chain, bounded, as `start` follows it).
    for _ in 0..16 {
        match net.config.host.network_mode.strip_prefix("container:") {
            Some(x) if net.state.sandbox_key.is_none() => {
                net = st.read(|tx| store::find(tx, x))?;
            }
            _ => break,
        }
    }
    drop(st);
    if net.config.host.network_mode == "host" {
        return Err(ForwardError::HostNetwork(c.name.to_string()).into());
    }
    let path = net
        .state
        .sandbox_key
        .ok_or_else(|| ForwardError::NoNetns(c.name.to_string()))?;
    Ok((c.name.to_string(), path))
}

/// Opens the listeners of `forwards` for container `reference`: on the host for `-L`, in the container's
/// network namespace for `-R`. Nothing is relayed until [`serve`].
pub fn listen(
    ctx: &Context,
    reference: &str,
    forwards: &[Forward],
) -> Result<(PathBuf, Vec<Listening>), EngineError> {
    if forwards.is_empty() {
        return Err(ForwardError::Nothing.into());
    }
    let (name, netns) = netns_of(ctx, reference)?;
    let mut out = Vec::new();
    for f in forwards {
        let listener = match f.direction {
            Direction::Local => {
                TcpListener::bind(f.listen).map_err(|source| ForwardError::Listen {
                    addr: f.listen,
                    place: String::new(),
                    source,
                })?
            }
            Direction::Remote => {
                minotaur_net::netns::in_netns(&netns, || -> Result<TcpListener, EngineError> {
                    TcpListener::bind(f.listen).map_err(|source| {
                        ForwardError::Listen {
                            addr: f.listen,
                            place: format!(" in container {name}"),
                            source,
                        }
                        .into()
                    })
                })?
            }
        };
        let local = listener
            .local_addr()
            .map_err(crate::error::io_err("read a listener's address"))?;
        out.push(Listening {
            forward: f.clone(),
            local,
            listener,
        });
    }
    Ok((netns, out))
}

/// Relays the connections of every listener until the process ends. A connection that cannot be made on
/// the other side is closed and reported through `report` (one line), and the forward goes on.
pub fn serve(netns: PathBuf, listening: Vec<Listening>, report: fn(&str)) -> ! {
    let mut threads = Vec::new();
    for l in listening {
        let netns = netns.clone();
        threads.push(thread::spawn(move || accept_loop(&netns, l, report)));
    }
    for t in threads {
        let _ = t.join();
    }
    // Every accept loop ended (they only end on a listener error): nothing is left to do.
    std::process::exit(1)
}

fn accept_loop(netns: &Path, l: Listening, report: fn(&str)) {
    for conn in l.listener.incoming() {
        let Ok(conn) = conn else { continue };
        let forward = l.forward.clone();
        let netns = netns.to_owned();
        thread::spawn(move || {
            let connect = || -> Result<TcpStream, EngineError> {
                TcpStream::connect(forward.connect).map_err(|source| EngineError::Io {
                    what: format!("connect to {}", forward.connect),
                    source,
                })
            };
            let other = match forward.direction {
                Direction::Local => minotaur_net::netns::in_netns(&netns, connect),
                Direction::Remote => connect(),
            };
            match other {
                Ok(other) => relay(conn, other),
                Err(e) => {
                    let place = match forward.direction {
                        Direction::Local => "in the container",
                        Direction::Remote => "on the host",
                    };
                    report(&format!("{place}: {}", crate::error_chain(&e)));
                }
            }
        });
    }
}

/// Copies both ways between `a` and `b` until both directions have ended.
fn relay(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let one = thread::spawn(move || pipe(a2, b2));
    pipe(b, a);
    let _ = one.join();
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn local_specs() {
        let l = |s| Forward::local(s).unwrap();
        assert_eq!(l("8080:80").listen, sa("127.0.0.1:8080"));
        assert_eq!(l("8080:80").connect, sa("127.0.0.1:80"));
        assert_eq!(l("0.0.0.0:8080:80").listen, sa("0.0.0.0:8080"));
        assert_eq!(l("8080:10.0.0.5:80").connect, sa("10.0.0.5:80"));
        assert_eq!(l("8080:localhost:80").connect, sa("127.0.0.1:80"));
        let v6 = l("[::1]:8080:[::1]:80");
        assert_eq!((v6.listen, v6.connect), (sa("[::1]:8080"), sa("[::1]:80")));
        for bad in [
            "80",
            "a:b",
            "8080:0",
            "x:8080:80",
            "1:2:3:4:5",
            "70000:80",
            "",
        ] {
            assert!(Forward::local(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn remote_specs() {
        let r = Forward::remote("9000:127.0.0.1:5432").unwrap();
        assert_eq!(r.direction, Direction::Remote);
        assert_eq!(
            (r.listen, r.connect),
            (sa("127.0.0.1:9000"), sa("127.0.0.1:5432"))
        );
        for bad in [
            "9000:5432",
            "9000:nohost:1",
            "0:127.0.0.1:1",
            "a:127.0.0.1:1",
        ] {
            assert!(Forward::remote(bad).is_err(), "{bad}");
        }
    }
}
