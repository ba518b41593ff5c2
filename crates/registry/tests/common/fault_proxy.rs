//! An HTTP proxy in front of a test registry that injects faults into chosen responses: a connection cut
//! after N bytes of the body, a stall, an error status with `Retry-After`, a flipped byte, a `Range` header
//! ignored (so the registry answers `200` with the whole blob). Each request gets a connection of its own
//! (`Connection: close`), so a rule applies to exactly one response.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Send the headers and this many bytes of the body, then close.
    CutAfter(usize),
    /// Send the headers and this many bytes of the body, then send nothing until the client hangs up.
    Stall(usize),
    /// Answer this status with `Retry-After: <seconds>` without asking the registry.
    Status(u16, u64),
    /// Flip the body's byte at this offset.
    FlipByte(usize),
    /// Forward the request without its `Range` header.
    IgnoreRange,
    /// Answer this status with this one extra header line (`Range: 0-9`) without asking the registry.
    Answer(u16, &'static str),
    /// Forward the request, then throw the registry's answer away and answer this status instead.
    LoseAnswer(u16),
}

struct Rule {
    path_contains: String,
    /// Matching requests to let through before the fault applies.
    skip: usize,
    fault: Fault,
    times: usize,
}

pub struct FaultProxy {
    pub host: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    /// `METHOD PATH [Range] [Content-Range]` of every request, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_string();
        {
            let (rules, requests, stop) = (rules.clone(), requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (rules, requests, upstream) =
                        (rules.clone(), requests.clone(), upstream.clone());
                    std::thread::spawn(move || {
                        let _ = handle(stream, &upstream, &rules, &requests);
                    });
                }
            });
        }
        FaultProxy {
            host,
            rules,
            requests,
            stop,
        }
    }

    /// Applies `fault` to the next `times` requests whose `METHOD PATH` contains `path_contains`.
    pub fn add(&self, path_contains: &str, fault: Fault, times: usize) {
        self.add_after(path_contains, 0, fault, times);
    }

    /// Like [`FaultProxy::add`], once `skip` matching requests have gone through untouched.
    pub fn add_after(&self, path_contains: &str, skip: usize, fault: Fault, times: usize) {
        self.rules.lock().unwrap().push(Rule {
            path_contains: path_contains.into(),
            skip,
            fault,
            times,
        });
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
    }
}

fn handle(
    client: TcpStream,
    upstream: &str,
    rules: &Mutex<Vec<Rule>>,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    // A TLS handshake (the client trying HTTPS first) is refused at once.
    if reader.fill_buf()?.first() == Some(&0x16) {
        return client.shutdown(Shutdown::Both);
    }
    let mut head = Vec::new();
    let mut content_length = 0usize;
    let mut range = None;
    let mut content_range = None;
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim_end().is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "connection" => continue,
            "content-length" => content_length = value.trim().parse().unwrap_or(0),
            "range" => range = Some(value.trim().to_string()),
            "content-range" => content_range = Some(value.trim().to_string()),
            _ => {}
        }
        head.push(line.trim_end().to_string());
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let method = request_line
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    log.lock().unwrap().push(
        [
            Some(method.as_str()),
            Some(path.as_str()),
            range.as_deref(),
            content_range.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" "),
    );

    let fault = {
        let mut rules = rules.lock().unwrap();
        let found = rules
            .iter_mut()
            .find(|r| r.times > 0 && format!("{method} {path}").contains(&r.path_contains));
        found.and_then(|r| {
            if r.skip > 0 {
                r.skip -= 1;
                return None;
            }
            r.times -= 1;
            Some(r.fault)
        })
    };
    let mut client = client;
    if let Some(Fault::Answer(status, header)) = fault {
        write!(
            client,
            "HTTP/1.1 {status} Injected\r\n{header}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return client.shutdown(Shutdown::Both);
    }
    if let Some(Fault::Status(status, retry_after)) = fault {
        write!(
            client,
            "HTTP/1.1 {status} Injected\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return client.shutdown(Shutdown::Both);
    }
    let mut forwarded = format!("{}\r\n", request_line.trim_end());
    for line in &head {
        if matches!(fault, Some(Fault::IgnoreRange))
            && line.to_ascii_lowercase().starts_with("range:")
        {
            continue;
        }
        forwarded += line;
        forwarded += "\r\n";
    }
    forwarded += "Connection: close\r\n\r\n";
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(forwarded.as_bytes())?;
    up.write_all(&body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |i| i + 4);
    if let Some(Fault::LoseAnswer(status)) = fault {
        write!(
            client,
            "HTTP/1.1 {status} Injected\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return client.shutdown(Shutdown::Both);
    }
    let (response_head, response_body) = response.split_at(split);
    let mut response_head: String = String::from_utf8_lossy(response_head)
        .lines()
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    response_head += "Connection: close\r\n\r\n";
    let mut response_body = response_body.to_vec();
    client.write_all(response_head.as_bytes())?;
    match fault {
        Some(Fault::CutAfter(n)) => {
            client.write_all(&response_body[..n.min(response_body.len())])?;
        }
        Some(Fault::Stall(n)) => {
            client.write_all(&response_body[..n.min(response_body.len())])?;
            client.flush()?;
            // Hold the connection open, silent, until the client gives up on it.
            let mut sink = [0; 256];
            while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
        }
        Some(Fault::FlipByte(i)) => {
            response_body[i] ^= 0xff;
            client.write_all(&response_body)?;
        }
        _ => client.write_all(&response_body)?,
    }
    client.shutdown(Shutdown::Both)
}
