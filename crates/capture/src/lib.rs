//! Packet capture inside network namespaces, with no tool in them.
//!
//! This crate owns opening packet sockets in other network namespaces, filtering them with tcpdump's
//! expression language, reading them together, and writing what they capture: pcapng (one interface
//! description per namespace and interface, so names survive when several go into one file) or one summary
//! line per packet, as tcpdump prints them, with tcpdump's closing counters. It does not own what a target
//! is: callers (the engine) hand it open namespace files with the label to show for each.
//!
//! Choices:
//! - libpcap does the socket work: its `AF_PACKET` socket with a `TPACKET_V3` ring (what tcpdump reads, so
//!   the rates compare), its filter compiler (classic BPF, attached in the kernel with `SO_ATTACH_FILTER`),
//!   its drop counters. No expression parser or ring of our own. It is not linked but loaded at run time,
//!   the first time a capture opens, through `minotaur_sys::pcap` (as libnftables is): building needs no
//!   `libpcap-dev`, and minotaur runs where libpcap is absent; only capturing then fails, saying to install
//!   `libpcap0.8`.
//! - A socket belongs to the network namespace it was made in, whatever the thread does later: each
//!   namespace's sockets are opened on a short-lived thread that joins it, so this process never leaves its
//!   own (no "setns in, work, setns out").
//! - One socket per interface rather than libpcap's `any` pseudo-device, whose cooked headers would lose
//!   the link layer, and whose packets could not be told apart by interface in the file.
//! - pcapng through `pcap-file`; timestamps are written in nanoseconds (the block says so: `if_tsresol`).
#![forbid(unsafe_code)]

mod summary;

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use minotaur_sys::pcap::{LiveOptions, Pcap, PcapError};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

/// tcpdump's default snapshot length.
pub const DEFAULT_SNAPLEN: u32 = 262_144;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// libpcap is not installed: one line saying which package to install.
    #[error(transparent)]
    Library(PcapError),
    #[error("invalid filter {filter:?}: {message}")]
    Filter { filter: String, message: String },
    #[error("no interface {iface} in {label}'s network namespace")]
    NoInterface { iface: String, label: String },
    #[error("cannot enter {label}'s network namespace")]
    Enter {
        label: String,
        #[source]
        source: nix::Error,
    },
    #[error("cannot list the interfaces of {label}'s network namespace")]
    List {
        label: String,
        #[source]
        source: nix::Error,
    },
    /// libpcap's own message (for a socket it could not make, it names what the kernel refused).
    #[error("cannot capture on {iface} in {label}'s network namespace: {message}")]
    Open {
        iface: String,
        label: String,
        message: String,
    },
    #[error(
        "cannot open a packet socket in {label}'s network namespace: capturing needs CAP_NET_RAW"
    )]
    NeedsNetRaw { label: String },
    #[error("cannot read packets from {iface}: {message}")]
    Read { iface: String, message: String },
    #[error("cannot write the capture")]
    Write(#[source] io::Error),
    #[error("cannot wait for packets")]
    Poll(#[source] nix::Error),
}

/// Which interfaces of a namespace to capture on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interfaces {
    /// Every interface but `lo` (no `-i`).
    Default,
    /// Every interface, `lo` included (`-i any`).
    All,
    /// These, by name.
    Named(Vec<String>),
}

/// One network namespace to capture in.
#[derive(Debug)]
pub struct Source {
    /// How the namespace is shown (a container's name, an `ip netns` name, a PID).
    pub label: String,
    /// The namespace file; `None` is this process's own network namespace.
    pub netns: Option<File>,
    pub interfaces: Interfaces,
}

/// How to capture.
#[derive(Clone, Debug)]
pub struct Options {
    /// tcpdump's expression; empty captures everything.
    pub filter: String,
    /// Stop after this many packets.
    pub count: Option<u64>,
    pub snaplen: u32,
    /// Hand each packet over as it arrives instead of a ring block at a time: for live output.
    pub immediate: bool,
}

/// Where packets go.
pub enum Output {
    /// pcapng, to a file or a pipe.
    Pcapng(Box<dyn Write>),
    /// One line per packet, as tcpdump prints without `-w`.
    Summary(Box<dyn Write>),
}

/// tcpdump's closing counters, summed over every interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets written out.
    pub captured: u64,
    /// Packets the filters accepted.
    pub received: u64,
    /// Packets the kernel dropped because the ring was full.
    pub dropped: u64,
}

impl Stats {
    /// tcpdump's three lines.
    pub fn report(&self) -> String {
        let s = |n: u64| if n == 1 { "" } else { "s" };
        format!(
            "{} packet{} captured\n{} packet{} received by filter\n{} packet{} dropped by kernel",
            self.captured,
            s(self.captured),
            self.received,
            s(self.received),
            self.dropped,
            s(self.dropped)
        )
    }
}

/// Compiles a filter once with libpcap, for Ethernet, to report a malformed one before anything is opened.
pub fn check_filter(filter: &str) -> Result<(), CaptureError> {
    let filter_err = |e| {
        pcap_error(e, |message| CaptureError::Filter {
            filter: filter.to_owned(),
            message,
        })
    };
    let mut dead = Pcap::dead(LINKTYPE_ETHERNET, 65535).map_err(filter_err)?;
    dead.check_filter(filter).map_err(filter_err)
}

/// `LINKTYPE_ETHERNET` (`DLT_EN10MB`).
const LINKTYPE_ETHERNET: i32 = 1;

/// libpcap's message made into `make`'s error; a missing libpcap stays the one line that says so.
fn pcap_error(e: PcapError, make: impl FnOnce(String) -> CaptureError) -> CaptureError {
    match e {
        PcapError::Failed { message } => make(message),
        missing @ PcapError::Missing { .. } => CaptureError::Library(missing),
    }
}

/// An open capture: one packet socket per (namespace, interface), filtered, ready to read.
pub struct Session {
    handles: Vec<Handle>,
}

struct Handle {
    /// `label/iface`, as the file and the summary lines name it.
    name: String,
    iface: String,
    cap: Pcap,
}

/// Opens every source's interfaces, each socket in its source's namespace, with the filter attached.
pub fn open(sources: Vec<Source>, opts: &Options) -> Result<Session, CaptureError> {
    check_filter(&opts.filter)?;
    let mut handles = Vec::new();
    for src in sources {
        let label = src.label.clone();
        let opened = std::thread::scope(|s| {
            s.spawn(|| open_in(&src, opts))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })?;
        handles.extend(opened.into_iter().map(|(iface, cap)| Handle {
            name: format!("{label}/{iface}"),
            iface,
            cap,
        }));
    }
    Ok(Session { handles })
}

/// On a thread of its own: joins the source's namespace, lists its interfaces and opens the sockets.
fn open_in(src: &Source, opts: &Options) -> Result<Vec<(String, Pcap)>, CaptureError> {
    if let Some(ns) = &src.netns {
        setns(ns, CloneFlags::CLONE_NEWNET).map_err(|source| CaptureError::Enter {
            label: src.label.clone(),
            source,
        })?;
    }
    // glibc lists interfaces over netlink, in this thread's namespace (not /sys, which is the mounter's).
    let present: Vec<String> = nix::net::if_::if_nameindex()
        .map_err(|source| CaptureError::List {
            label: src.label.clone(),
            source,
        })?
        .iter()
        .map(|i| i.name().to_string_lossy().into_owned())
        .collect();
    let wanted = match &src.interfaces {
        Interfaces::All => present.clone(),
        Interfaces::Default => present.iter().filter(|n| *n != "lo").cloned().collect(),
        Interfaces::Named(names) => {
            if let Some(missing) = names.iter().find(|n| !present.contains(n)) {
                return Err(CaptureError::NoInterface {
                    iface: missing.clone(),
                    label: src.label.clone(),
                });
            }
            names.clone()
        }
    };
    let open_err = |iface: &str, e: PcapError| {
        pcap_error(e, |message| {
            if message.contains("Operation not permitted") || message.contains("permission") {
                CaptureError::NeedsNetRaw {
                    label: src.label.clone(),
                }
            } else {
                CaptureError::Open {
                    iface: iface.to_owned(),
                    label: src.label.clone(),
                    message,
                }
            }
        })
    };
    let live = LiveOptions {
        snaplen: opts.snaplen,
        promisc: true,
        immediate: opts.immediate,
        timeout_ms: 100,
        buffer_size: 4 << 20,
    };
    let mut out = Vec::new();
    for iface in wanted {
        let mut cap = Pcap::open_live(&iface, &live).map_err(|e| open_err(&iface, e))?;
        cap.set_filter(&opts.filter).map_err(|e| {
            pcap_error(e, |message| CaptureError::Filter {
                filter: opts.filter.clone(),
                message,
            })
        })?;
        cap.set_nonblock().map_err(|e| open_err(&iface, e))?;
        out.push((iface, cap));
    }
    Ok(out)
}

impl Session {
    /// The names packets are shown under (`label/iface`), in interface-description order.
    pub fn names(&self) -> Vec<String> {
        self.handles.iter().map(|h| h.name.clone()).collect()
    }

    /// Reads until `count` packets were written, SIGINT or SIGTERM arrives, or the reader of the output
    /// goes away; returns the counters.
    pub fn run(mut self, output: Output, opts: &Options) -> Result<Stats, CaptureError> {
        let mut signals = SigSet::empty();
        signals.add(Signal::SIGINT);
        signals.add(Signal::SIGTERM);
        signals.thread_block().map_err(CaptureError::Poll)?;
        let sfd = SignalFd::with_flags(&signals, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(CaptureError::Poll)?;
        let mut sink = Sink::new(output, &self.handles, opts.snaplen)?;
        let mut stats = Stats::default();
        'reading: loop {
            let mut fds: Vec<PollFd> = self
                .handles
                .iter()
                .map(|h| PollFd::new(h.cap.as_fd(), PollFlags::POLLIN))
                .collect();
            fds.push(PollFd::new(sfd.as_fd(), PollFlags::POLLIN));
            match poll(&mut fds, PollTimeout::from(100u8)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(CaptureError::Poll(e)),
            }
            let stop = fds
                .last()
                .and_then(|f| f.revents())
                .is_some_and(|r| r.contains(PollFlags::POLLIN));
            drop(fds);
            // Every ring is drained on each wake-up: libpcap's non-blocking read returns what the ring
            // holds, and a timed-out TPACKET_V3 block is only handed over on a read.
            for (i, h) in self.handles.iter_mut().enumerate() {
                loop {
                    match h.cap.next_packet() {
                        Ok(Some(p)) => {
                            match sink.write(i, &h.name, p.timestamp, p.len, p.data) {
                                Ok(()) => {}
                                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break 'reading,
                                Err(e) => return Err(CaptureError::Write(e)),
                            }
                            stats.captured += 1;
                            if opts.count.is_some_and(|c| stats.captured >= c) {
                                break 'reading;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            return Err(pcap_error(e, |message| CaptureError::Read {
                                iface: h.iface.clone(),
                                message,
                            }))
                        }
                    }
                }
            }
            match sink.flush() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break,
                Err(e) => return Err(CaptureError::Write(e)),
            }
            if stop {
                break;
            }
        }
        let _ = sink.flush();
        for h in &mut self.handles {
            if let Ok(s) = h.cap.stats() {
                stats.received += u64::from(s.received);
                stats.dropped += u64::from(s.dropped);
            }
        }
        Ok(stats)
    }
}

/// The output, open.
enum Sink {
    Pcapng(PcapNgWriter<Box<dyn Write>>),
    Summary(Box<dyn Write>),
}

impl Sink {
    fn new(output: Output, handles: &[Handle], snaplen: u32) -> Result<Sink, CaptureError> {
        let write_err = |e: pcap_file::PcapError| CaptureError::Write(pcap_io(e));
        Ok(match output {
            Output::Summary(w) => Sink::Summary(w),
            Output::Pcapng(w) => {
                let mut writer = PcapNgWriter::new(w).map_err(write_err)?;
                for h in handles {
                    let idb = InterfaceDescriptionBlock {
                        linktype: DataLink::from(h.cap.datalink() as u32),
                        snaplen,
                        options: vec![
                            InterfaceDescriptionOption::IfName(h.name.clone().into()),
                            InterfaceDescriptionOption::IfTsResol(9),
                        ],
                    };
                    writer.write_pcapng_block(idb).map_err(write_err)?;
                }
                writer.get_mut().flush().map_err(CaptureError::Write)?;
                Sink::Pcapng(writer)
            }
        })
    }

    fn write(
        &mut self,
        interface: usize,
        name: &str,
        ts: Duration,
        original_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        match self {
            Sink::Pcapng(w) => w
                .write_pcapng_block(EnhancedPacketBlock {
                    interface_id: interface as u32,
                    timestamp: ts,
                    original_len,
                    data: data.into(),
                    options: Vec::new(),
                })
                .map(drop)
                .map_err(pcap_io),
            Sink::Summary(w) => writeln!(w, "{}", summary::line(ts, name, original_len, data)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Pcapng(w) => w.get_mut().flush(),
            Sink::Summary(w) => w.flush(),
        }
    }
}

fn pcap_io(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_filter_gets_libpcaps_message() {
        let err = check_filter("tcp port eighty").unwrap_err().to_string();
        assert!(
            err.starts_with("invalid filter \"tcp port eighty\": "),
            "{err}"
        );
        assert!(err.contains("eighty"), "{err}");
        check_filter("tcp port 80 and host 10.0.0.1").unwrap();
        check_filter("").unwrap();
    }

    #[test]
    fn stats_read_as_tcpdumps() {
        let s = Stats {
            captured: 1,
            received: 2,
            dropped: 0,
        };
        assert_eq!(
            s.report(),
            "1 packet captured\n2 packets received by filter\n0 packets dropped by kernel"
        );
    }
}
