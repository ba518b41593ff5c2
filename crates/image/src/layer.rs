//! One pass over a layer stream: the compressed bytes are hashed (the blob digest), decompressed (gzip, zstd
//! or none), hashed again (the diff ID) and extracted, without ever holding more than a buffer in memory.
//! `import` and registry pulls (`ingest`) both read layers through here; a pull spreads the pass over three
//! threads.

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use oci_spec::image::MediaType;
use sha2::Digest as _;

use crate::error::StoreError;
use crate::extract;
use crate::readahead::{ReadAhead, CHUNK};
use crate::reference::Digest;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// What a layer media type (OCI's or Docker's) says, or `None` when it says nothing we know.
    pub(crate) fn from_media_type(media_type: &str) -> Option<Compression> {
        let m = media_type;
        if m.ends_with("+gzip") || m.ends_with(".tar.gzip") {
            Some(Compression::Gzip)
        } else if m.ends_with("+zstd") || m.ends_with(".tar.zstd") {
            Some(Compression::Zstd)
        } else if m.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// Recognises a compressed stream by its magic bytes; anything else is taken as a plain tar.
    fn sniff(magic: &[u8]) -> Result<Compression, StoreError> {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Ok(Compression::Gzip)
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Ok(Compression::Zstd)
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Err(StoreError::Compression("xz"))
        } else if magic.starts_with(b"BZh") {
            Err(StoreError::Compression("bzip2"))
        } else {
            Ok(Compression::None)
        }
    }

    /// The OCI layer media type of a blob compressed this way.
    pub(crate) fn media_type(self) -> MediaType {
        match self {
            Compression::None => MediaType::ImageLayer,
            Compression::Gzip => MediaType::ImageLayerGzip,
            Compression::Zstd => MediaType::ImageLayerZstd,
        }
    }

    fn decoder<B: BufRead>(self, buf: B) -> Result<Decoder<B>, StoreError> {
        Ok(match self {
            Compression::None => Decoder::None(buf),
            Compression::Gzip => Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(buf))),
            Compression::Zstd => Decoder::Zstd(
                zstd::stream::read::Decoder::with_buffer(buf).map_err(StoreError::Read)?,
            ),
        })
    }
}

/// A layer's decompressor over its compressed stream, which it gives back at the end.
pub(crate) enum Decoder<B: BufRead> {
    None(B),
    Gzip(Box<flate2::bufread::MultiGzDecoder<B>>),
    Zstd(zstd::stream::read::Decoder<'static, B>),
}

impl<B: BufRead> Decoder<B> {
    fn into_inner(self) -> B {
        match self {
            Decoder::None(b) => b,
            Decoder::Gzip(d) => (*d).into_inner(),
            Decoder::Zstd(d) => d.finish(),
        }
    }
}

impl<B: BufRead> Read for Decoder<B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::None(b) => b.read(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
        }
    }
}

/// What one pass over a layer stream found.
#[derive(Debug, Clone)]
pub(crate) struct Streamed {
    /// sha256 and length of the bytes as read (compressed).
    pub(crate) blob: Digest,
    pub(crate) blob_size: u64,
    /// sha256 of the uncompressed tar.
    pub(crate) diff_id: Digest,
    pub(crate) compression: Compression,
    /// Bytes of file content extracted (0 when not extracting).
    pub(crate) size: u64,
}

/// Reads `raw` to its end once: decompressed as `declared` says (by its magic bytes when `declared` is `None`
/// or disagrees with them: registries do mislabel layers), hashed before and after decompression, and
/// extracted into `dir` when one is given (otherwise only hashed). One thread does it all; see
/// [`stream_layer_threaded`] for a source that can be read from another thread.
pub(crate) fn stream_layer(
    raw: impl Read,
    declared: Option<Compression>,
    dir: Option<&Path>,
    opts: &extract::Options,
) -> Result<Streamed, StoreError> {
    let mut buf = BufReader::with_capacity(CHUNK, Hashing::new(raw));
    let compression = compression(&mut buf, declared)?;
    let mut tar = Hashing::new(compression.decoder(&mut buf)?);
    let size = extract_all(&mut tar, dir, opts)?;
    let (diff_id, tar_len, _) = tar.into_parts();
    io::copy(&mut buf, &mut io::sink()).map_err(StoreError::Read)?;
    let (blob, blob_size) = buf.into_inner().finish();
    streamed(blob, blob_size, diff_id, tar_len, compression, size)
}

/// [`stream_layer`] in five threads: one reads `raw`, one decompresses, and the caller's extracts the tar,
/// each a few buffers ahead of the next, while two more hash what the first two read (see `readahead`). The
/// work is the same; a layer takes the time of its slowest stage rather than of all of them.
pub(crate) fn stream_layer_threaded(
    raw: impl Read + Send,
    declared: Option<Compression>,
    dir: Option<&Path>,
    opts: &extract::Options,
) -> Result<Streamed, StoreError> {
    std::thread::scope(|s| {
        let (mut compressed, blob_hasher) = ReadAhead::spawn_hashed(s, raw);
        let compression = compression(&mut compressed, declared)?;
        let (mut tar, tar_hasher) = ReadAhead::spawn_hashed(s, compression.decoder(compressed)?);
        let size = extract_all(&mut tar, dir, opts)?;
        let mut compressed = tar.into_inner().into_inner();
        io::copy(&mut compressed, &mut io::sink()).map_err(StoreError::Read)?;
        drop(compressed.into_inner());
        let (diff_id, tar_len) = tar_hasher.finish();
        let (blob, blob_size) = blob_hasher.finish();
        streamed(blob, blob_size, diff_id, tar_len, compression, size)
    })
}

/// The compression of the stream `buf` starts, by its magic bytes, warning when `declared` says otherwise.
fn compression(
    buf: &mut impl BufRead,
    declared: Option<Compression>,
) -> Result<Compression, StoreError> {
    let magic = buf.fill_buf().map_err(StoreError::Read)?;
    if magic.is_empty() {
        return Err(StoreError::Empty);
    }
    let sniffed = Compression::sniff(magic)?;
    Ok(match declared {
        Some(d) if d == sniffed => d,
        Some(d) => {
            log::warn!("a layer labelled {d:?} looks {sniffed:?}; reading it as {sniffed:?}");
            sniffed
        }
        None => sniffed,
    })
}

/// Extracts the tar stream into `dir` (when given) and reads it to its end: the tar reader stops at the
/// end-of-archive marker, and the digests cover every byte, as Docker's do. Returns the bytes of file
/// content extracted.
fn extract_all(
    tar: &mut impl Read,
    dir: Option<&Path>,
    opts: &extract::Options,
) -> Result<u64, StoreError> {
    let size = match dir {
        Some(dir) => {
            extract::extract(&mut *tar, dir, opts)
                .map_err(StoreError::Extract)?
                .size
        }
        None => 0,
    };
    io::copy(tar, &mut io::sink()).map_err(StoreError::Read)?;
    Ok(size)
}

fn streamed(
    blob: Digest,
    blob_size: u64,
    diff_id: Digest,
    tar_len: u64,
    compression: Compression,
    size: u64,
) -> Result<Streamed, StoreError> {
    if tar_len == 0 {
        return Err(StoreError::Empty);
    }
    Ok(Streamed {
        blob,
        blob_size,
        diff_id,
        compression,
        size,
    })
}

/// Streams `reader` once: into `blob` as given, and through [`stream_layer`] into `dir`. `blob` is synced.
pub(crate) fn read_layer(
    reader: impl Read,
    blob: fs::File,
    dir: &Path,
    opts: &extract::Options,
) -> Result<Streamed, StoreError> {
    let layer = stream_layer(
        Tee {
            inner: reader,
            out: &blob,
        },
        None,
        Some(dir),
        opts,
    )?;
    blob.sync_all().map_err(StoreError::Read)?;
    Ok(layer)
}

/// Sniffs the compression of a stream by its magic bytes: gzip, zstd, or else plain.
pub(crate) fn decompress<'a, B: BufRead + 'a>(
    mut buf: B,
) -> Result<(MediaType, Box<dyn Read + 'a>), StoreError> {
    let magic = buf.fill_buf().map_err(StoreError::Read)?;
    if magic.is_empty() {
        return Err(StoreError::Empty);
    }
    let c = Compression::sniff(magic)?;
    Ok((c.media_type(), Box::new(c.decoder(buf)?)))
}

/// Bytes of regular file content under `dir` (hard links counted once), not following symbolic links: the
/// size of an extracted layer, as [`extract::Summary::size`] counts it.
pub(crate) fn tree_size(dir: &Path) -> io::Result<u64> {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() && (meta.nlink() == 1 || seen.insert((meta.dev(), meta.ino())))
            {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

/// Whether `rename(2)` failed with this errno because the target is a directory that exists and is not
/// empty (`ENOTEMPTY`, or `EEXIST` on some filesystems): someone else put the same layer in place first.
pub(crate) fn renamed_onto_a_directory(errno: i32) -> bool {
    errno == nix::errno::Errno::ENOTEMPTY as i32 || errno == nix::errno::Errno::EEXIST as i32
}

/// Passes reads through, hashing them.
pub(crate) struct Hashing<R> {
    inner: R,
    hasher: sha2::Sha256,
    len: u64,
}

impl<R> Hashing<R> {
    pub(crate) fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: sha2::Sha256::new(),
            len: 0,
        }
    }

    pub(crate) fn finish(self) -> (Digest, u64) {
        let (digest, len, _) = self.into_parts();
        (digest, len)
    }

    /// The digest and length of what passed, and the inner reader or writer.
    pub(crate) fn into_parts(self) -> (Digest, u64, R) {
        (
            Digest::from_sha256(self.hasher.finalize().into()),
            self.len,
            self.inner,
        )
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

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Passes reads through, copying them to `out`.
pub(crate) struct Tee<R, W> {
    pub(crate) inner: R,
    pub(crate) out: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}
