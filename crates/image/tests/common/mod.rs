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

/// A numeric field of a GNU header: 11 octal digits, or past 8 GiB the base-256 form.
fn gnu_number(field: &mut [u8; 12], v: u64) {
    if v < 1 << 33 {
        field[..11].copy_from_slice(format!("{v:011o}").as_bytes());
        field[11] = 0;
    } else {
        *field = [0; 12];
        field[0] = 0x80;
        field[4..].copy_from_slice(&v.to_be_bytes());
    }
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

    /// A GNU sparse file of `real` bytes whose only data, `data`, is at its end: the rest is one hole.
    pub fn sparse(mut self, name: &str, data: &[u8], real: u64) -> Self {
        let mut h = header(EntryType::GNUSparse, name, 0o644, data.len() as u64);
        let gnu = h.as_gnu_mut().unwrap();
        gnu_number(&mut gnu.sparse[0].offset, real - data.len() as u64);
        gnu_number(&mut gnu.sparse[0].numbytes, data.len() as u64);
        gnu_number(&mut gnu.realsize, real);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
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

pub fn gzip(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

pub fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 1).unwrap()
}

pub fn sha(b: &[u8]) -> minotaur_image::Digest {
    use sha2::Digest as _;
    format!("sha256:{:x}", sha2::Sha256::digest(b))
        .parse()
        .unwrap()
}

/// A layer as a registry would serve it: the tar, its compressed blob and the descriptor.
pub struct Fixture {
    pub tar: Vec<u8>,
    pub blob: Vec<u8>,
    pub desc: minotaur_image::LayerDesc,
}

/// A layer whose files are named after `seed`, with enough content (some of it incompressible) that a
/// compressed blob spans many reads.
pub fn layer(seed: &str, compression: &str) -> Fixture {
    let mut noise = Vec::with_capacity(256 * 1024);
    let mut x: u64 = seed.bytes().fold(0x9e37_79b9_7f4a_7c15, |a, b| {
        a.rotate_left(7) ^ u64::from(b)
    });
    while noise.len() < 256 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    let tar = Tar::default()
        .dir(seed, 0o755)
        .file(
            &format!("{seed}/hello"),
            format!("hello from {seed}\n").as_bytes(),
        )
        .file(&format!("{seed}/noise"), &noise)
        .symlink(&format!("{seed}/link"), "hello")
        .build();
    let (blob, media_type) = match compression {
        "gzip" => (gzip(&tar), "application/vnd.oci.image.layer.v1.tar+gzip"),
        "zstd" => (zstd(&tar), "application/vnd.oci.image.layer.v1.tar+zstd"),
        _ => (tar.clone(), "application/vnd.oci.image.layer.v1.tar"),
    };
    let desc = minotaur_image::LayerDesc {
        digest: sha(&blob),
        size: blob.len() as u64,
        media_type: media_type.into(),
        diff_id: sha(&tar),
    };
    Fixture { tar, blob, desc }
}

/// Every file under `dir` with its content (symbolic links as `-> target`), for comparing trees.
pub fn tree(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let name = p.strip_prefix(dir).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                out.push((name + "/", Vec::new()));
                stack.push(p);
            } else if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.push((name, format!("-> {}", t.display()).into_bytes()));
            } else {
                out.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Names in a directory, sorted (empty when it does not exist).
pub fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// An image as a registry serves it: the config, the manifest (Docker's schema 2 media types, as Docker Hub
/// serves them) and an index listing the manifest for two platforms.
pub struct Image {
    pub layers: Vec<Fixture>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
    pub index: Vec<u8>,
}

pub fn image(layers: Vec<Fixture>, arch: &str, variant: Option<&str>) -> Image {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.desc.diff_id.to_string()).collect();
    let mut history = vec![serde_json::json!({
        "created": "2024-01-02T03:04:05Z",
        "created_by": "/bin/sh -c #(nop) ENV PATH=/bin",
        "empty_layer": true
    })];
    for (i, _) in layers.iter().enumerate() {
        history.push(serde_json::json!({
            "created": format!("2024-01-02T03:04:{:02}Z", 6 + i),
            "created_by": format!("/bin/sh -c make layer {i}"),
            "comment": format!("layer {i}")
        }));
    }
    let mut config = serde_json::json!({
        "created": "2024-01-02T03:05:00Z",
        "architecture": arch,
        "os": "linux",
        "config": { "Env": ["PATH=/bin"], "Cmd": ["/bin/sh"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": history
    });
    if let Some(v) = variant {
        config["variant"] = v.into();
    }
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config.len(),
            "digest": sha(&config).to_string()
        },
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": l.desc.media_type,
            "size": l.desc.size,
            "digest": l.desc.digest.to_string()
        })).collect::<Vec<_>>()
    }))
    .unwrap();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "size": 1234,
                "digest": sha(b"another platform").to_string(),
                "platform": { "architecture": "s390x", "os": "linux" }
            },
            {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "size": manifest.len(),
                "digest": sha(&manifest).to_string(),
                "platform": { "architecture": arch, "os": "linux" }
            }
        ]
    }))
    .unwrap();
    Image {
        layers,
        config,
        manifest,
        index,
    }
}

/// Ingests every layer of `image` from memory.
pub fn ingest_all(
    store: &minotaur_image::Store,
    image: &Image,
) -> Vec<minotaur_image::IngestedLayer> {
    image
        .layers
        .iter()
        .map(|l| {
            store
                .ingest_layer(
                    &l.desc,
                    &minotaur_image::ExtractOptions::default(),
                    |offset| Ok(&l.blob[offset as usize..]),
                    &|_| {},
                )
                .unwrap()
        })
        .collect()
}

/// What is in the store's `tmp/` besides the lock and partial-file directories: work directories left.
pub fn work_dirs(store_dir: &std::path::Path) -> Vec<String> {
    names(&store_dir.join("tmp"))
        .into_iter()
        .filter(|n| n != "locks" && n != "partial")
        .collect()
}
