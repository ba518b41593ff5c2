//! Resolving `--user` against the image's `/etc/passwd` and `/etc/group`, as Docker does: `name`, `uid`,
//! `name:group`, `uid:gid`; the user's supplementary groups are the groups that list it.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("invalid user specification {0:?}: expected USER[:GROUP] or UID[:GID]")]
    Bad(String),
}

/// The identity a container's process runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// One `/etc/passwd` entry, borrowed from the file's text: nothing is allocated for the entries that are
/// not the one looked for (an `exec` resolves its user at every call).
struct Passwd<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

/// One `/etc/group` entry, borrowed from the file's text; `members` is the comma-separated list as written.
struct Group<'a> {
    name: &'a str,
    gid: u32,
    members: &'a str,
}

impl Group<'_> {
    fn lists(&self, user: &str) -> bool {
        self.members.split(',').any(|m| !m.is_empty() && m == user)
    }
}

/// The well-formed entries of a passwd file, in order: `name:password:uid:gid:gecos:home:shell`, the home
/// `/` when missing.
fn passwd(text: &str) -> impl Iterator<Item = Passwd<'_>> {
    text.lines().filter_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _password = f.next();
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        let home = f.nth(1).unwrap_or("/");
        Some(Passwd {
            name,
            uid,
            gid,
            home,
        })
    })
}

/// The well-formed entries of a group file, in order: `name:password:gid:member,member...`.
fn groups(text: &str) -> impl Iterator<Item = Group<'_>> {
    text.lines().filter_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _password = f.next();
        let gid = f.next()?.parse().ok()?;
        let members = f.next().unwrap_or("");
        Some(Group { name, gid, members })
    })
}

/// Resolves `spec` (empty: root) with the image's passwd and group files' contents.
pub fn resolve_with(
    spec: &str,
    passwd_text: &str,
    group_text: &str,
) -> Result<Identity, UserError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if (user.is_empty() && !spec.is_empty()) || group == Some("") {
        return Err(UserError::Bad(spec.to_owned()));
    }
    let user = if user.is_empty() { "0" } else { user };
    let entry = passwd(passwd_text).find(|p| p.name == user).or_else(|| {
        let uid: u32 = user.parse().ok()?;
        passwd(passwd_text).find(|p| p.uid == uid)
    });
    let (uid, mut gid, name, home) = match (entry, user.parse::<u32>()) {
        (Some(p), _) => (p.uid, p.gid, Some(p.name), p.home.to_owned()),
        // A numeric uid need not exist in the image, as with Docker.
        (None, Ok(uid)) => (uid, 0, None, "/".to_owned()),
        (None, Err(_)) => return Err(UserError::NoUser(user.to_owned())),
    };
    if let Some(g) = group {
        gid = match groups(group_text).find(|e| e.name == g) {
            Some(e) => e.gid,
            None => g.parse().map_err(|_| UserError::NoGroup(g.to_owned()))?,
        };
    }
    let mut additional_gids: Vec<u32> = match (name, group) {
        (Some(n), None) => groups(group_text)
            .filter(|g| g.lists(n))
            .map(|g| g.gid)
            .collect(),
        _ => Vec::new(),
    };
    if !additional_gids.contains(&gid) {
        additional_gids.insert(0, gid);
    }
    Ok(Identity {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// Resolves `spec` against the files under `rootfs/etc`; missing files are empty.
pub fn resolve(spec: &str, rootfs: &Path) -> Result<Identity, UserError> {
    let read = |f: &str| std::fs::read_to_string(rootfs.join("etc").join(f)).unwrap_or_default();
    resolve_with(spec, &read("passwd"), &read("group"))
}

/// Resolves `spec` against `etc/passwd` and `etc/group` as an overlayfs of `layers` (top first) would show
/// them, without mounting it: an image container's root is mounted only inside its own mount namespace.
pub fn resolve_in_layers(spec: &str, layers: &[PathBuf]) -> Result<Identity, UserError> {
    let read = |f: &str| {
        layered_file(layers, &Path::new("etc").join(f))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    resolve_with(spec, &read("passwd"), &read("group"))
}

/// The file at `rel` in the overlay of `layers` (top first): the topmost layer's, unless a layer above it
/// hides it with a whiteout (a character device 0:0, of it or of a directory on its way), a non-directory
/// in the way, or an opaque directory on its way (`trusted.overlay.opaque=y`). Symbolic links on the way are
/// not followed.
pub fn layered_file(layers: &[PathBuf], rel: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    use std::os::unix::fs::MetadataExt;
    let whiteout = |m: &std::fs::Metadata| m.file_type().is_char_device() && m.rdev() == 0;
    for layer in layers {
        let mut opaque = false;
        let mut dir = layer.clone();
        for c in rel.parent().into_iter().flat_map(Path::components) {
            dir.push(c);
            match dir.symlink_metadata() {
                Ok(m) if m.is_dir() => {
                    let mut flag = [0u8; 1];
                    opaque |= rustix::fs::lgetxattr(&dir, "trusted.overlay.opaque", &mut flag)
                        .is_ok_and(|n| n == 1 && flag[0] == b'y');
                }
                Ok(_) => return None,
                Err(_) => break,
            }
        }
        match layer.join(rel).symlink_metadata() {
            Ok(m) if whiteout(&m) => return None,
            Ok(_) => return Some(layer.join(rel)),
            Err(_) if opaque => return None,
            Err(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n";
    const GROUP: &str = "root:x:0:\nadm:x:4:www-data\nwww-data:x:33:\nnogroup:x:65534:\n";

    #[test]
    fn names_and_numbers_resolve_like_docker() {
        let id = resolve_with("", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid, id.home.as_str()), (0, 0, "/root"));
        let id = resolve_with("www-data", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (33, 33));
        assert_eq!(id.additional_gids, vec![33, 4]);
        let id = resolve_with("nobody:adm", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (65534, 4));
        let id = resolve_with("1234:5678", PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (1234, 5678));
        assert_eq!(resolve_with("33", PASSWD, GROUP).unwrap().home, "/var/www");
    }

    #[test]
    fn files_resolve_through_layers_like_overlayfs() {
        let d = tempfile::tempdir().unwrap();
        let l = |n: &str| d.path().join(n);
        for (layer, file) in [
            ("base", "etc/passwd"),
            ("base", "etc/group"),
            ("mid", "etc/group"),
        ] {
            std::fs::create_dir_all(l(layer).join("etc")).unwrap();
            std::fs::write(l(layer).join(file), layer).unwrap();
        }
        std::fs::create_dir_all(l("top")).unwrap();
        let layers = [l("top"), l("mid"), l("base")];
        let find = |f: &str| layered_file(&layers, Path::new(f));
        assert_eq!(find("etc/passwd"), Some(l("base").join("etc/passwd")));
        assert_eq!(find("etc/group"), Some(l("mid").join("etc/group")));
        assert_eq!(find("etc/shadow"), None);
        // A non-directory over `etc` hides everything below it.
        std::fs::write(l("top").join("etc"), "").unwrap();
        assert_eq!(find("etc/passwd"), None);
    }

    #[test]
    fn malformed_lines_are_passed_over_and_short_ones_keep_defaults() {
        // A comment, a line without numbers, a short line (no home: `/`), empty members in a group list.
        let passwd = "# comment\nbroken:x:a:b:::\nshort:x:7:8\nroot:x:0:0::/root:/bin/sh\n";
        let group = "bad:x:q:short\nwheel:x:10:,short,,\nshort:x:8:\n";
        let id = resolve_with("short", passwd, group).unwrap();
        assert_eq!((id.uid, id.gid, id.home.as_str()), (7, 8, "/"));
        assert_eq!(id.additional_gids, vec![8, 10]);
        assert_eq!(
            resolve_with("broken", passwd, group),
            Err(UserError::NoUser("broken".into()))
        );
        assert_eq!(resolve_with("7:wheel", passwd, group).unwrap().gid, 10);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(
            resolve_with("ghost", PASSWD, GROUP),
            Err(UserError::NoUser("ghost".into()))
        );
        assert_eq!(
            resolve_with("root:ghosts", PASSWD, GROUP),
            Err(UserError::NoGroup("ghosts".into()))
        );
        assert!(resolve_with(":0", PASSWD, GROUP).is_err());
        assert!(resolve_with("root:", PASSWD, GROUP).is_err());
    }
}
