//! Parsing `/proc/PID/mountinfo` (proc(5)): the one place that knows its format.

use std::path::{Path, PathBuf};

/// One line of a mountinfo file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    pub mount_id: u32,
    pub parent_id: u32,
    /// `major:minor` of the filesystem's device.
    pub major: u32,
    pub minor: u32,
    /// The path inside the filesystem that is mounted here. For nsfs, `net:[4026532008]`.
    pub root: PathBuf,
    pub mount_point: PathBuf,
    pub options: String,
    /// Optional fields such as `shared:3`, `master:1`, `propagate_from:2`, `unbindable`.
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

/// A mountinfo line that does not have the fields proc(5) describes.
#[derive(Debug, thiserror::Error)]
#[error("malformed mountinfo line: {0:?}")]
pub struct ParseMountInfoError(pub String);

impl MountInfo {
    /// True when this mount is a peer in a shared group (`shared:N`), i.e. propagates mounts to its peers.
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }

    /// For an nsfs mount (a bind-mounted namespace file), the namespace kind name and inode it refers to.
    pub fn nsfs_target(&self) -> Option<(&str, u64)> {
        if self.fstype != "nsfs" {
            return None;
        }
        let root = self.root.to_str()?;
        let root = root.strip_prefix('/').unwrap_or(root);
        let (kind, rest) = root.split_once(":[")?;
        let ino = rest.strip_suffix(']')?.parse().ok()?;
        Some((kind, ino))
    }
}

/// Parses a whole mountinfo file.
pub fn parse(text: &str) -> Result<Vec<MountInfo>, ParseMountInfoError> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect()
}

/// Reads and parses `/proc/self/mountinfo` (or another process's, given its path).
pub fn read(path: impl AsRef<Path>) -> std::io::Result<Vec<MountInfo>> {
    let text = std::fs::read_to_string(path)?;
    parse(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Reads a mountinfo file line by line, handing each mount to `more` until it returns `false`. The kernel
/// formats the file as it is read, so stopping early saves formatting the rest: with thousands of mounts
/// (one per container namespace file) a whole read costs milliseconds.
pub fn scan(
    path: impl AsRef<Path>,
    mut more: impl FnMut(&MountInfo) -> bool,
) -> std::io::Result<()> {
    use std::io::BufRead;
    let file = std::fs::File::open(path)?;
    for line in std::io::BufReader::with_capacity(4096, file).lines() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let m = parse_line(&line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if !more(&m) {
            break;
        }
    }
    Ok(())
}

fn parse_line(line: &str) -> Result<MountInfo, ParseMountInfoError> {
    let bad = || ParseMountInfoError(line.to_owned());
    let mut fields = line.split(' ');
    let mut next = || fields.next().ok_or_else(bad);
    let mount_id = next()?.parse().map_err(|_| bad())?;
    let parent_id = next()?.parse().map_err(|_| bad())?;
    let (major, minor) = next()?.split_once(':').ok_or_else(bad)?;
    let (major, minor) = (
        major.parse().map_err(|_| bad())?,
        minor.parse().map_err(|_| bad())?,
    );
    let root = PathBuf::from(unescape(next()?));
    let mount_point = PathBuf::from(unescape(next()?));
    let options = next()?.to_owned();
    let mut optional = Vec::new();
    loop {
        let f = next()?;
        if f == "-" {
            break;
        }
        optional.push(f.to_owned());
    }
    let fstype = next()?.to_owned();
    let source = unescape(next()?);
    let super_options = next().unwrap_or_default().to_owned();
    Ok(MountInfo {
        mount_id,
        parent_id,
        major,
        minor,
        root,
        mount_point,
        options,
        optional,
        fstype,
        source,
        super_options,
    })
}

/// Undoes the kernel's octal escapes of space, tab, newline and backslash (`\040` …).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
612 29 0:4 net:[4026532287] /run/netns/blue rw shared:302 - nsfs nsfs rw
613 29 0:4 /net:[4026532300] /run/my\\040ns rw - nsfs nsfs rw
";

    #[test]
    fn parses_the_man_page_example_and_nsfs_bind_mounts() {
        let m = parse(SAMPLE).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].mount_point, Path::new("/mnt2"));
        assert_eq!(m[0].optional, vec!["master:1"]);
        assert_eq!(m[0].fstype, "ext3");
        assert_eq!(m[0].nsfs_target(), None);
        assert_eq!(m[1].nsfs_target(), Some(("net", 4026532287)));
        assert!(m[1].is_shared());
        assert_eq!(m[2].mount_point, Path::new("/run/my ns"));
        assert_eq!(m[2].nsfs_target(), Some(("net", 4026532300)));
    }

    #[test]
    fn rejects_a_truncated_line() {
        assert!(parse("36 35 98:0 /mnt1").is_err());
    }
}
