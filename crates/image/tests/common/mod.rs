//! Hand-built tarballs, including ones no well-behaved tar tool would write.
#![allow(dead_code)]

use tar::{EntryType, Header};

/// Builds a tar stream entry by entry, writing names and link targets raw (the `tar` crate's path setters
/// refuse `..`, which is exactly what these tests need to write).
pub struct Tar {
    b: tar::Builder<Vec<u8>>,
}

impl Default for Tar {
    fn default() -> Self {
        Tar {
            b: tar::Builder::new(Vec::new()),
        }
    }
}

fn header(kind: EntryType, name: &str, mode: u32, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    let raw = &mut h.as_old_mut().name;
    assert!(
        name.len() < raw.len(),
        "name too long for a plain header: {name}"
    );
    raw[..name.len()].copy_from_slice(name.as_bytes());
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn set_link(h: &mut Header, target: &str) {
    let raw = &mut h.as_old_mut().linkname;
    assert!(target.len() < raw.len());
    raw[..target.len()].copy_from_slice(target.as_bytes());
}

impl Tar {
    pub fn dir(mut self, name: &str, mode: u32) -> Self {
        let mut h = header(EntryType::Directory, name, mode, 0);
        h.set_cksum();
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.file_full(name, data, 0o644, 0, 0, 1_000_000)
    }

    pub fn file_full(
        mut self,
        name: &str,
        data: &[u8],
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
    ) -> Self {
        let mut h = header(EntryType::Regular, name, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(mtime);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        let mut h = header(EntryType::Symlink, name, 0o777, 0);
        set_link(&mut h, target);
        h.set_cksum();
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Self {
        let mut h = header(EntryType::Link, name, 0o644, 0);
        set_link(&mut h, target);
        h.set_cksum();
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    pub fn node(mut self, kind: EntryType, name: &str, major: u32, minor: u32) -> Self {
        let mut h = header(kind, name, 0o666, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_cksum();
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    /// A PAX extended header that applies to the next entry.
    pub fn pax(mut self, records: &[(&str, &[u8])]) -> Self {
        let mut data = Vec::new();
        for (k, v) in records {
            // "<len> <key>=<value>\n", where <len> counts itself.
            let rest = k.len() + v.len() + 3;
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let mut h = header(EntryType::XHeader, "PaxHeader", 0o644, data.len() as u64);
        h.set_cksum();
        self.b.append(&h, &data[..]).unwrap();
        self
    }

    pub fn build(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
