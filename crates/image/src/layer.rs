//! Reading a layer stream once: stored as given, hashed, decompressed, hashed again and extracted.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use oci_spec::image::MediaType;
use sha2::Digest as _;

use crate::extract;
use crate::reference::Digest;
use crate::store::StoreError;

/// A layer read from a tarball: stored blob, extracted tree, digests.
pub(crate) struct Layer {
    pub(crate) blob: Digest,
    pub(crate) blob_size: u64,
    pub(crate) diff_id: Digest,
    pub(crate) media_type: MediaType,
    pub(crate) size: u64,
}

/// Streams `reader` once: into `blob` as given, through the decompressor it starts with, into the tar
/// extractor; hashing both the stored bytes (blob digest) and the uncompressed tar (diff ID) on the way.
pub(crate) fn read_layer(
    reader: impl Read,
    blob: File,
    dir: &Path,
    opts: &extract::Options,
) -> Result<Layer, StoreError> {
    let raw = Hashing::new(Tee {
        inner: reader,
        out: blob,
    });
    let mut buf = BufReader::with_capacity(128 * 1024, raw);
    let (media_type, decoder) = decompress(&mut buf)?;
    let mut tar = Hashing::new(decoder);
    let summary = extract::extract(&mut tar, dir, opts).map_err(StoreError::Extract)?;
    // The tar reader stops at the end-of-archive marker; the digests cover every byte, as Docker's do.
    io::copy(&mut tar, &mut io::sink()).map_err(StoreError::Read)?;
    let (diff_id, tar_len) = tar.finish();
    io::copy(&mut buf, &mut io::sink()).map_err(StoreError::Read)?;
    let raw = buf.into_inner();
    let blob_file = &raw.inner.out;
    blob_file.sync_all().map_err(StoreError::Read)?;
    let (blob, blob_size) = raw.finish();
    if tar_len == 0 {
        return Err(StoreError::Empty);
    }
    Ok(Layer {
        blob,
        blob_size,
        diff_id,
        media_type,
        size: summary.size,
    })
}

/// Sniffs the compression of a stream by its magic bytes: gzip, zstd, or else plain.
pub(crate) fn decompress<'a, B: BufRead + 'a>(
    mut buf: B,
) -> Result<(MediaType, Box<dyn Read + 'a>), StoreError> {
    let magic = buf.fill_buf().map_err(StoreError::Read)?;
    if magic.is_empty() {
        return Err(StoreError::Empty);
    }
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        (
            MediaType::ImageLayerGzip,
            Box::new(flate2::bufread::MultiGzDecoder::new(buf)),
        )
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = zstd::stream::read::Decoder::with_buffer(buf).map_err(StoreError::Read)?;
        (MediaType::ImageLayerZstd, Box::new(d))
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err(StoreError::Compression("xz"));
    } else if magic.starts_with(b"BZh") {
        return Err(StoreError::Compression("bzip2"));
    } else {
        (MediaType::ImageLayer, Box::new(buf))
    })
}

/// Passes reads through, hashing them.
struct Hashing<R> {
    inner: R,
    hasher: sha2::Sha256,
    len: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: sha2::Sha256::new(),
            len: 0,
        }
    }

    fn finish(self) -> (Digest, u64) {
        (Digest::from_sha256(self.hasher.finalize().into()), self.len)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Passes reads through, copying them to `out`.
struct Tee<R> {
    inner: R,
    out: File,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}
