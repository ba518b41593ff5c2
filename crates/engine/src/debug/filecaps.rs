//! Naming the capability a command lacks. A program with file capabilities and the effective bit set
//! (`setcap cap_net_raw+ep`, as Debian ships ping) is refused by execve with a bare EPERM when the process's
//! bounding set cannot give it every capability the file asks for (capabilities(7), "Safety checking for
//! capability-dumb binaries"). The session's set is known before the exec, so the missing ones are named
//! here instead.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;

use crate::error::debug::DebugError;
use crate::error::EngineError;

/// `VFS_CAP_FLAGS_EFFECTIVE` in `security.capability`'s first word.
const EFFECTIVE: u32 = 0x1;
const REVISION_MASK: u32 = 0xff00_0000;
const REVISION_1: u32 = 0x0100_0000;

/// Fails when the command (looked up in `root` on the process's `PATH`) asks, through its file
/// capabilities, for one the process's bounding set lacks.
pub(super) fn check(root: &Path, process: &Process) -> Result<(), EngineError> {
    let Some(command) = process.args().as_ref().and_then(|a| a.first()) else {
        return Ok(());
    };
    let Some(file) = find(root, command, process) else {
        return Ok(());
    };
    let Some((effective, wanted)) = file_capabilities(&file) else {
        return Ok(());
    };
    if !effective {
        return Ok(());
    }
    let have: Vec<String> = process
        .capabilities()
        .as_ref()
        .and_then(|c| c.bounding().clone())
        .unwrap_or_default()
        .iter()
        .map(|c| format!("CAP_{}", c.to_string().trim_start_matches("CAP_")))
        .collect();
    let mut missing: Vec<String> = caps::all()
        .into_iter()
        .filter(|c| wanted & c.bitmask() != 0)
        .map(|c| c.to_string())
        .filter(|name| !have.contains(name))
        .collect();
    missing.sort();
    if missing.is_empty() {
        return Ok(());
    }
    Err(DebugError::MissingCapability {
        command: command.clone(),
        missing,
    }
    .into())
}

/// The file `command` names inside `root`: a path as it is, a bare name searched on `PATH`. Links are
/// resolved inside the root.
fn find(root: &Path, command: &str, process: &Process) -> Option<PathBuf> {
    let inside = |p: &Path| minotaur_runtime::mounts::secure_join(root, p).ok();
    if command.contains('/') {
        return inside(Path::new(command));
    }
    let path = process
        .env()
        .as_ref()?
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))?
        .to_owned();
    path.split(':')
        .filter(|d| !d.is_empty())
        .filter_map(|d| inside(&Path::new(d).join(command)))
        .find(|p| p.is_file())
}

/// The effective bit and the permitted set of a file's `security.capability`, if it has one.
fn file_capabilities(file: &Path) -> Option<(bool, u64)> {
    let mut buf = [0u8; 24];
    let n = rustix::fs::getxattr(file, "security.capability", &mut buf[..]).ok()?;
    parse(&buf[..n])
}

/// Parses `struct vfs_cap_data` (revision 1: one 32-bit set; 2 and 3: two, 3 adding the root UID).
fn parse(data: &[u8]) -> Option<(bool, u64)> {
    let word = |i: usize| -> Option<u32> {
        data.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")))
    };
    let magic = word(0)?;
    let low = u64::from(word(1)?);
    let high = if magic & REVISION_MASK == REVISION_1 {
        0
    } else {
        u64::from(word(3)?)
    };
    Some((magic & EFFECTIVE != 0, low | high << 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setcap_net_raw_ep_is_parsed() {
        // `setcap cap_net_raw+ep` (revision 2): magic 0x02000001, permitted bit 13, no inheritable.
        let mut data = Vec::new();
        for w in [0x0200_0001u32, 1 << 13, 0, 0, 0] {
            data.extend(w.to_le_bytes());
        }
        assert_eq!(parse(&data), Some((true, 1 << 13)));
    }

    #[test]
    fn a_high_capability_and_no_effective_bit() {
        // cap_bpf (39) is in the second word; without +e the program raises it itself.
        let mut data = Vec::new();
        for w in [0x0300_0000u32, 0, 0, 1 << 7, 0, 0] {
            data.extend(w.to_le_bytes());
        }
        assert_eq!(parse(&data), Some((false, 1 << 39)));
        assert_eq!(parse(&data[..6]), None);
    }
}
