//! The few bpf(2) commands minotaur uses: a hash map, a program loaded from instructions, attaching it to a
//! cgroup, pinning both in a bpffs directory, and map updates. `union bpf_attr` is written field by field at
//! the offsets of linux/bpf.h into a zeroed buffer (the kernel requires every byte it does not know to be 0).

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;

pub const BPF_MAP_TYPE_HASH: u32 = 1;
pub const BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
pub const BPF_CGROUP_INET4_CONNECT: u32 = 10;
/// Other programs may be attached to the same cgroup and hook too.
pub const BPF_F_ALLOW_MULTI: u32 = 2;

/// A zeroed `union bpf_attr`, large enough for every command used here.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }
    fn u32(mut self, offset: usize, v: u32) -> Attr {
        self.0[offset..offset + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(mut self, offset: usize, v: u64) -> Attr {
        self.0[offset..offset + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn ptr<T: ?Sized>(self, offset: usize, p: *const T) -> Attr {
        self.u64(offset, p as *const u8 as usize as u64)
    }
}

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> Result<libc::c_long, Errno> {
    // SAFETY: `attr` is a valid, writable buffer of the size passed; every pointer stored in it points to
    // memory the caller keeps alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            attr.0.len() as libc::c_uint,
        )
    };
    Errno::result(r)
}

fn fd_of(r: libc::c_long) -> OwnedFd {
    // SAFETY: the commands that return a descriptor return a new one, owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(r as i32) }
}

/// Creates a hash map (`BPF_MAP_CREATE`).
pub fn map_create_hash(key_size: u32, value_size: u32, max_entries: u32) -> Result<OwnedFd, Errno> {
    let mut attr = Attr::new()
        .u32(0, BPF_MAP_TYPE_HASH)
        .u32(4, key_size)
        .u32(8, value_size)
        .u32(12, max_entries);
    bpf(BPF_MAP_CREATE, &mut attr).map(fd_of)
}

/// Loads a program (`BPF_PROG_LOAD`) of `prog_type` for `attach_type` from raw 8-byte instructions. On
/// failure, also the verifier's log (its last lines say why).
pub fn prog_load(
    prog_type: u32,
    attach_type: u32,
    insns: &[u64],
    license: &CStr,
    name: &str,
) -> Result<OwnedFd, (Errno, String)> {
    let mut log = vec![0u8; 64 * 1024];
    let mut prog_name = [0u8; 16];
    let n = name.len().min(15);
    prog_name[..n].copy_from_slice(&name.as_bytes()[..n]);
    let mut attr = Attr::new()
        .u32(0, prog_type)
        .u32(4, insns.len() as u32)
        .ptr(8, insns.as_ptr())
        .ptr(16, license.as_ptr())
        .u32(24, 1)
        .u32(28, log.len() as u32)
        .ptr(32, log.as_mut_ptr())
        .u32(68, attach_type);
    attr.0[48..64].copy_from_slice(&prog_name);
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(r) => Ok(fd_of(r)),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            Err((e, String::from_utf8_lossy(&log[..end]).into_owned()))
        }
    }
}

/// Attaches `prog` to the cgroup open at `cgroup` (`BPF_PROG_ATTACH`).
pub fn prog_attach(
    cgroup: impl AsFd,
    prog: impl AsFd,
    attach_type: u32,
    flags: u32,
) -> Result<(), Errno> {
    let mut attr = Attr::new()
        .u32(0, cgroup.as_fd().as_raw_fd() as u32)
        .u32(4, prog.as_fd().as_raw_fd() as u32)
        .u32(8, attach_type)
        .u32(12, flags);
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// Detaches `prog` from the cgroup open at `cgroup` (`BPF_PROG_DETACH`).
pub fn prog_detach(cgroup: impl AsFd, prog: impl AsFd, attach_type: u32) -> Result<(), Errno> {
    let mut attr = Attr::new()
        .u32(0, cgroup.as_fd().as_raw_fd() as u32)
        .u32(4, prog.as_fd().as_raw_fd() as u32)
        .u32(8, attach_type);
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// Pins a map or program at `path` in a bpffs (`BPF_OBJ_PIN`).
pub fn obj_pin(fd: impl AsFd, path: &CStr) -> Result<(), Errno> {
    let mut attr = Attr::new()
        .ptr(0, path.as_ptr())
        .u32(8, fd.as_fd().as_raw_fd() as u32);
    bpf(BPF_OBJ_PIN, &mut attr).map(drop)
}

/// Opens what is pinned at `path` (`BPF_OBJ_GET`).
pub fn obj_get(path: &CStr) -> Result<OwnedFd, Errno> {
    let mut attr = Attr::new().ptr(0, path.as_ptr());
    bpf(BPF_OBJ_GET, &mut attr).map(fd_of)
}

/// Adds or replaces an element (`BPF_MAP_UPDATE_ELEM`, `BPF_ANY`). `key` and `value` must have the map's
/// sizes.
pub fn map_update(map: impl AsFd, key: &[u8], value: &[u8]) -> Result<(), Errno> {
    let mut attr = Attr::new()
        .u32(0, map.as_fd().as_raw_fd() as u32)
        .ptr(8, key.as_ptr())
        .ptr(16, value.as_ptr());
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
}

/// The value of `key` (`BPF_MAP_LOOKUP_ELEM`), `value_size` bytes; `ENOENT` when there is none.
pub fn map_lookup(map: impl AsFd, key: &[u8], value_size: usize) -> Result<Vec<u8>, Errno> {
    let mut value = vec![0u8; value_size];
    let mut attr = Attr::new()
        .u32(0, map.as_fd().as_raw_fd() as u32)
        .ptr(8, key.as_ptr())
        .ptr(16, value.as_mut_ptr());
    bpf(BPF_MAP_LOOKUP_ELEM, &mut attr).map(|_| value)
}

/// Removes an element (`BPF_MAP_DELETE_ELEM`); `ENOENT` when there is none.
pub fn map_delete(map: impl AsFd, key: &[u8]) -> Result<(), Errno> {
    let mut attr = Attr::new()
        .u32(0, map.as_fd().as_raw_fd() as u32)
        .ptr(8, key.as_ptr());
    bpf(BPF_MAP_DELETE_ELEM, &mut attr).map(drop)
}

/// Every key of a map (`BPF_MAP_GET_NEXT_KEY` from none), each `key_size` bytes.
pub fn map_keys(map: impl AsFd, key_size: usize) -> Result<Vec<Vec<u8>>, Errno> {
    let fd = map.as_fd().as_raw_fd() as u32;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut next = vec![0u8; key_size];
        let mut attr = Attr::new().u32(0, fd).ptr(16, next.as_mut_ptr());
        if let Some(last) = keys.last() {
            attr = attr.ptr(8, last.as_ptr());
        }
        match bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) {
            Ok(_) => keys.push(next),
            Err(Errno::ENOENT) => return Ok(keys),
            Err(e) => return Err(e),
        }
    }
}

/// The cookie of the caller's network namespace (`SO_NETNS_COOKIE`), as a program sees it through
/// `bpf_get_netns_cookie`.
pub fn netns_cookie() -> Result<u64, Errno> {
    // SAFETY: socket(2) with constant arguments; the descriptor it returns is owned here.
    let sock = Errno::result(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
    })
    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })?;
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: `cookie` and `len` are valid for writes of the sizes given.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NETNS_COOKIE,
            &mut cookie as *mut u64 as *mut libc::c_void,
            &mut len,
        )
    };
    Errno::result(r).map(|_| cookie)
}
