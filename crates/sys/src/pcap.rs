//! libpcap, loaded at run time: the few functions packet capture calls, behind an owned handle.
//!
//! libpcap is opened with dlopen the first time a capture needs it, as libnftables is ([`crate::Nftables`]),
//! not linked: building minotaur needs no libpcap headers (`libpcap-dev`), and the binary starts on a machine
//! without libpcap, where only capturing fails, with one line saying which package to install. Debian ships
//! the library as `libpcap.so.0.8` (package `libpcap0.8`); other distributions as `libpcap.so.1`, and a
//! development install also has the unversioned `libpcap.so`.
//!
//! The declarations below follow `<pcap/pcap.h>` and `<pcap/bpf.h>` of libpcap 1.5 and later (the first with
//! `pcap_set_immediate_mode`); their layout has not changed since.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::os::fd::{AsFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// What libpcap can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// No libpcap could be loaded, or it lacks a function we call (`detail` is dlerror's text).
    #[error("capture needs libpcap (Debian: apt-get install libpcap0.8)")]
    Missing { detail: String },
    /// libpcap's own message.
    #[error("{message}")]
    Failed { message: String },
}

fn failed(message: impl Into<String>) -> PcapError {
    PcapError::Failed {
        message: message.into(),
    }
}

/// `pcap_t`: opaque.
#[repr(C)]
struct RawPcap {
    _private: [u8; 0],
}

/// `struct bpf_program`.
#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *mut c_void,
}

/// `struct pcap_pkthdr`.
#[repr(C)]
struct PktHdr {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

/// `struct pcap_stat` (Linux: the three counters, no Windows extension).
#[repr(C)]
#[derive(Default)]
struct RawStat {
    ps_recv: c_uint,
    ps_drop: c_uint,
    ps_ifdrop: c_uint,
}

/// `PCAP_ERRBUF_SIZE`.
const ERRBUF_SIZE: usize = 256;
/// `PCAP_NETMASK_UNKNOWN`: what tcpdump passes when an interface has no IPv4 netmask; only `ip broadcast`
/// needs one, and fails with libpcap's message without it.
const NETMASK_UNKNOWN: u32 = 0xffff_ffff;

/// The libpcap functions minotaur calls, resolved once per process.
struct PcapApi {
    create: unsafe extern "C" fn(*const c_char, *mut c_char) -> *mut RawPcap,
    set_snaplen: unsafe extern "C" fn(*mut RawPcap, c_int) -> c_int,
    set_promisc: unsafe extern "C" fn(*mut RawPcap, c_int) -> c_int,
    set_immediate_mode: unsafe extern "C" fn(*mut RawPcap, c_int) -> c_int,
    set_timeout: unsafe extern "C" fn(*mut RawPcap, c_int) -> c_int,
    set_buffer_size: unsafe extern "C" fn(*mut RawPcap, c_int) -> c_int,
    activate: unsafe extern "C" fn(*mut RawPcap) -> c_int,
    setnonblock: unsafe extern "C" fn(*mut RawPcap, c_int, *mut c_char) -> c_int,
    get_selectable_fd: unsafe extern "C" fn(*mut RawPcap) -> c_int,
    next_ex: unsafe extern "C" fn(*mut RawPcap, *mut *mut PktHdr, *mut *const u8) -> c_int,
    compile:
        unsafe extern "C" fn(*mut RawPcap, *mut BpfProgram, *const c_char, c_int, u32) -> c_int,
    setfilter: unsafe extern "C" fn(*mut RawPcap, *mut BpfProgram) -> c_int,
    freecode: unsafe extern "C" fn(*mut BpfProgram),
    stats: unsafe extern "C" fn(*mut RawPcap, *mut RawStat) -> c_int,
    geterr: unsafe extern "C" fn(*mut RawPcap) -> *const c_char,
    close: unsafe extern "C" fn(*mut RawPcap),
    open_dead: unsafe extern "C" fn(c_int, c_int) -> *mut RawPcap,
    datalink: unsafe extern "C" fn(*mut RawPcap) -> c_int,
    /// Kept loaded for the life of the process: the function pointers above point into it.
    _lib: libloading::Library,
}

/// The names libpcap goes by, most specific first: Debian's soname, everyone else's, a development link.
const LIBRARY_NAMES: [&str; 3] = ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"];

impl PcapApi {
    fn load() -> Result<PcapApi, String> {
        let mut errors = Vec::new();
        let lib = LIBRARY_NAMES.iter().find_map(|name| {
            // SAFETY: loading libpcap runs its ELF constructors, which only initialise its own globals; it
            // depends on libc alone (and libdbus/libibverbs in some builds, ordinary C libraries as well).
            match unsafe { libloading::Library::new(*name) } {
                Ok(lib) => Some(lib),
                Err(e) => {
                    errors.push(e.to_string());
                    None
                }
            }
        });
        let lib = lib.ok_or_else(|| errors.join("; "))?;
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the declared type is the function's prototype in <pcap/pcap.h> (stable since
                // libpcap 1.5); the pointer is copied out and used only while `lib` lives, which is the whole
                // process (it is never unloaded).
                *unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(|e| e.to_string())?
            };
        }
        Ok(PcapApi {
            create: sym!("pcap_create"),
            set_snaplen: sym!("pcap_set_snaplen"),
            set_promisc: sym!("pcap_set_promisc"),
            set_immediate_mode: sym!("pcap_set_immediate_mode"),
            set_timeout: sym!("pcap_set_timeout"),
            set_buffer_size: sym!("pcap_set_buffer_size"),
            activate: sym!("pcap_activate"),
            setnonblock: sym!("pcap_setnonblock"),
            get_selectable_fd: sym!("pcap_get_selectable_fd"),
            next_ex: sym!("pcap_next_ex"),
            compile: sym!("pcap_compile"),
            setfilter: sym!("pcap_setfilter"),
            freecode: sym!("pcap_freecode"),
            stats: sym!("pcap_stats"),
            geterr: sym!("pcap_geterr"),
            close: sym!("pcap_close"),
            open_dead: sym!("pcap_open_dead"),
            datalink: sym!("pcap_datalink"),
            _lib: lib,
        })
    }

    fn get() -> Result<&'static PcapApi, PcapError> {
        static API: OnceLock<Result<PcapApi, String>> = OnceLock::new();
        API.get_or_init(PcapApi::load)
            .as_ref()
            .map_err(|detail| PcapError::Missing {
                detail: detail.clone(),
            })
    }
}

/// libpcap before 1.8 compiled filters with a global (non-reentrant) parser; one compile at a time keeps any
/// version safe, at no cost worth measuring.
static COMPILE_LOCK: Mutex<()> = Mutex::new(());

/// How to open a live capture (`pcap_create`, the `pcap_set_*` calls, `pcap_activate`).
#[derive(Clone, Copy, Debug)]
pub struct LiveOptions {
    /// Bytes kept of each packet.
    pub snaplen: u32,
    pub promisc: bool,
    /// Hand each packet over as it arrives, not a ring block at a time.
    pub immediate: bool,
    /// How long a ring block may wait for more packets before it is handed over, in milliseconds.
    pub timeout_ms: u32,
    /// The ring's size in bytes.
    pub buffer_size: u32,
}

/// A packet as libpcap hands it over; `data` is valid until the next read on its handle.
pub struct Packet<'a> {
    /// Since the Unix epoch.
    pub timestamp: Duration,
    /// The packet's length on the wire (`data` may be shorter: the snapshot length).
    pub len: u32,
    pub data: &'a [u8],
}

/// libpcap's counters (`pcap_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets the filter accepted.
    pub received: u32,
    /// Packets dropped because the ring was full.
    pub dropped: u32,
    /// Packets the interface dropped.
    pub if_dropped: u32,
}

/// An open libpcap handle (`pcap_t`), live or dead; closed when dropped.
pub struct Pcap {
    api: &'static PcapApi,
    p: NonNull<RawPcap>,
}

// SAFETY: a pcap_t is not tied to the thread that made it: libpcap keeps no thread-local state for it, and
// may use it from any thread as long as one thread at a time does (`Pcap` is not `Sync`, and every call that
// reads or changes it takes `&mut self` or happens through one owner). Its socket stays in the network
// namespace it was made in, which is the point of moving it.
unsafe impl Send for Pcap {}

impl Pcap {
    /// Opens a live capture on `device` in the calling thread's network namespace, activated. A warning from
    /// `pcap_activate` (promiscuous mode not supported, say) is not an error, as for tcpdump.
    pub fn open_live(device: &str, opts: &LiveOptions) -> Result<Pcap, PcapError> {
        let api = PcapApi::get()?;
        let dev =
            CString::new(device).map_err(|_| failed("the device name contains a NUL byte"))?;
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        // SAFETY: `dev` is a NUL-terminated string and `errbuf` PCAP_ERRBUF_SIZE bytes, as pcap_create asks;
        // both outlive the call, which copies the name.
        let p = unsafe { (api.create)(dev.as_ptr(), errbuf.as_mut_ptr()) };
        let Some(p) = NonNull::new(p) else {
            return Err(failed(errbuf_text(&errbuf)));
        };
        let pcap = Pcap { api, p };
        let int = |n: u32| c_int::try_from(n).unwrap_or(c_int::MAX);
        let settings: [(
            &str,
            unsafe extern "C" fn(*mut RawPcap, c_int) -> c_int,
            c_int,
        ); 5] = [
            ("snapshot length", api.set_snaplen, int(opts.snaplen)),
            ("promiscuous mode", api.set_promisc, opts.promisc.into()),
            (
                "immediate mode",
                api.set_immediate_mode,
                opts.immediate.into(),
            ),
            ("timeout", api.set_timeout, int(opts.timeout_ms)),
            ("buffer size", api.set_buffer_size, int(opts.buffer_size)),
        ];
        for (what, set, value) in settings {
            // SAFETY: the handle is live and not yet activated; each setter stores one integer in it.
            if unsafe { set(pcap.p.as_ptr(), value) } != 0 {
                return Err(failed(format!("cannot set the {what}")));
            }
        }
        // SAFETY: the handle is live and not yet activated. On failure pcap_activate leaves a message in the
        // handle (its status string when it has nothing better), which `error` copies.
        let rc = unsafe { (api.activate)(pcap.p.as_ptr()) };
        if rc < 0 {
            return Err(pcap.error());
        }
        Ok(pcap)
    }

    /// A handle with no device (`pcap_open_dead`), for compiling filters for a link type.
    pub fn dead(linktype: i32, snaplen: u32) -> Result<Pcap, PcapError> {
        let api = PcapApi::get()?;
        let snaplen = c_int::try_from(snaplen).unwrap_or(c_int::MAX);
        // SAFETY: pcap_open_dead takes two integers and returns a new handle, or NULL when out of memory.
        let p = unsafe { (api.open_dead)(linktype, snaplen) };
        let p = NonNull::new(p).ok_or_else(|| failed("cannot allocate a libpcap handle"))?;
        Ok(Pcap { api, p })
    }

    /// libpcap's last message for this handle.
    fn error(&self) -> PcapError {
        // SAFETY: the handle is live; pcap_geterr returns a pointer to its NUL-terminated error buffer, which
        // is copied at once, before anything else can use the handle.
        let msg = unsafe { CStr::from_ptr((self.api.geterr)(self.p.as_ptr())) };
        failed(msg.to_string_lossy().into_owned())
    }

    /// Compiles `filter` (tcpdump's expression language) for this handle's link type; the program is freed
    /// when the returned guard is dropped.
    fn compile(&mut self, filter: &str, optimize: bool) -> Result<Program, PcapError> {
        let expr = CString::new(filter).map_err(|_| failed("the filter contains a NUL byte"))?;
        let mut prog = Program {
            api: self.api,
            raw: BpfProgram {
                bf_len: 0,
                bf_insns: std::ptr::null_mut(),
            },
        };
        let _guard = COMPILE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the handle is live, `prog.raw` a bpf_program for libpcap to fill, `expr` a NUL-terminated
        // string; all outlive the call. On failure the program is left empty (freeing it is a no-op).
        let rc = unsafe {
            (self.api.compile)(
                self.p.as_ptr(),
                &mut prog.raw,
                expr.as_ptr(),
                optimize.into(),
                NETMASK_UNKNOWN,
            )
        };
        if rc < 0 {
            return Err(self.error());
        }
        Ok(prog)
    }

    /// Checks that `filter` compiles for this handle's link type; on failure, libpcap's message.
    pub fn check_filter(&mut self, filter: &str) -> Result<(), PcapError> {
        self.compile(filter, true).map(drop)
    }

    /// Compiles `filter` and attaches it (on Linux, in the kernel: `SO_ATTACH_FILTER`).
    pub fn set_filter(&mut self, filter: &str) -> Result<(), PcapError> {
        let mut prog = self.compile(filter, true)?;
        // SAFETY: the handle is live and `prog.raw` a program pcap_compile made; libpcap copies it.
        if unsafe { (self.api.setfilter)(self.p.as_ptr(), &mut prog.raw) } < 0 {
            return Err(self.error());
        }
        Ok(())
    }

    /// Makes reads return at once when no packet is waiting (`pcap_setnonblock`).
    pub fn set_nonblock(&mut self) -> Result<(), PcapError> {
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        // SAFETY: the handle is live and `errbuf` PCAP_ERRBUF_SIZE bytes, as pcap_setnonblock asks.
        if unsafe { (self.api.setnonblock)(self.p.as_ptr(), 1, errbuf.as_mut_ptr()) } < 0 {
            return Err(failed(errbuf_text(&errbuf)));
        }
        Ok(())
    }

    /// Reads the next packet (`pcap_next_ex`); `None` when none is waiting (non-blocking) or the timeout
    /// expired.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, PcapError> {
        let mut hdr: *mut PktHdr = std::ptr::null_mut();
        let mut data: *const u8 = std::ptr::null();
        // SAFETY: the handle is live; pcap_next_ex writes two pointers into the locals.
        let rc = unsafe { (self.api.next_ex)(self.p.as_ptr(), &mut hdr, &mut data) };
        match rc {
            1 if !hdr.is_null() && !data.is_null() => {
                // SAFETY: on success both pointers point into libpcap's buffer (the ring), valid until the
                // next read on this handle; the returned packet borrows `self` mutably, so there is none
                // while it lives. `data` holds `caplen` bytes.
                let (hdr, data) = unsafe {
                    let hdr = &*hdr;
                    (hdr, std::slice::from_raw_parts(data, hdr.caplen as usize))
                };
                Ok(Some(Packet {
                    timestamp: Duration::new(
                        hdr.ts.tv_sec.max(0) as u64,
                        (hdr.ts.tv_usec.clamp(0, 999_999) as u32) * 1000,
                    ),
                    len: hdr.len,
                    data,
                }))
            }
            // 0: timeout or nothing waiting; -2: end of a savefile (never for a live capture).
            0 | -2 => Ok(None),
            1 => Err(failed("libpcap returned a packet without data")),
            _ => Err(self.error()),
        }
    }

    /// The link type (`pcap_datalink`: a `DLT_*`, which for the common ones is the `LINKTYPE_*`).
    pub fn datalink(&self) -> i32 {
        // SAFETY: the handle is live; pcap_datalink reads one field of it.
        unsafe { (self.api.datalink)(self.p.as_ptr()) }
    }

    /// The counters since the capture was opened (`pcap_stats`).
    pub fn stats(&mut self) -> Result<Stats, PcapError> {
        let mut raw = RawStat::default();
        // SAFETY: the handle is live and `raw` a pcap_stat for libpcap to fill.
        if unsafe { (self.api.stats)(self.p.as_ptr(), &mut raw) } < 0 {
            return Err(self.error());
        }
        Ok(Stats {
            received: raw.ps_recv,
            dropped: raw.ps_drop,
            if_dropped: raw.ps_ifdrop,
        })
    }
}

impl AsFd for Pcap {
    /// The capture's socket, to poll (`pcap_get_selectable_fd`). Panics for a dead handle, which has none.
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the handle is live; pcap_get_selectable_fd reads one field of it.
        let fd = unsafe { (self.api.get_selectable_fd)(self.p.as_ptr()) };
        assert!(fd >= 0, "a libpcap handle without a selectable descriptor");
        // SAFETY: the descriptor belongs to the handle, which closes it only in pcap_close (our Drop); the
        // borrow cannot outlive `self`.
        unsafe { BorrowedFd::borrow_raw(fd) }
    }
}

impl Drop for Pcap {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and live; nothing uses it after this (we are being dropped).
        unsafe { (self.api.close)(self.p.as_ptr()) };
    }
}

/// A compiled filter (`struct bpf_program`), freed on drop.
struct Program {
    api: &'static PcapApi,
    raw: BpfProgram,
}

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: `raw` was zeroed and then filled by pcap_compile, or left empty; pcap_freecode frees its
        // instructions (if any) and empties it.
        unsafe { (self.api.freecode)(&mut self.raw) };
    }
}

/// The NUL-terminated message libpcap wrote into an error buffer.
fn errbuf_text(buf: &[c_char; ERRBUF_SIZE]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Either libpcap is installed and compiles filters, or the error is the one line the user sees.
    #[test]
    fn filters_compile_or_libpcap_is_reported_missing() {
        match Pcap::dead(1, 65535) {
            Ok(mut dead) => {
                dead.check_filter("tcp port 80 and host 10.0.0.1").unwrap();
                dead.check_filter("").unwrap();
                let err = dead.check_filter("tcp port eighty").unwrap_err();
                assert!(matches!(err, PcapError::Failed { .. }), "{err}");
                assert!(err.to_string().contains("eighty"), "{err}");
            }
            Err(e @ PcapError::Missing { .. }) => {
                eprintln!("skipped: no libpcap here ({e:?})");
                assert_eq!(
                    e.to_string(),
                    "capture needs libpcap (Debian: apt-get install libpcap0.8)"
                );
            }
            Err(e) => panic!("{e}"),
        }
    }
}
