//! Extraction of hostile and unusual layers: nothing may land outside the layer root.
//!
//! Each test extracts into `<tmp>/layer` next to `<tmp>/sentinel`, a directory holding one file `secret`; the
//! escapes aim at the sentinel (by `..`, absolute paths and symlinks), so a broken extractor would change it
//! instead of writing into the real host's `/`. After every extraction the sentinel must be exactly as it was.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{is_root, Tar};
use minotaur_image::extract::{extract, ExtractError, IdRange, Options};

struct Fixture {
    _tmp: tempfile::TempDir,
    layer: PathBuf,
    sentinel: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let layer = tmp.path().join("layer");
        let sentinel = tmp.path().join("sentinel");
        fs::create_dir(&layer).unwrap();
        fs::create_dir(&sentinel).unwrap();
        fs::write(sentinel.join("secret"), "secret").unwrap();
        Fixture {
            _tmp: tmp,
            layer,
            sentinel,
        }
    }

    fn extract(
        &self,
        tar: Vec<u8>,
        opts: &Options,
    ) -> Result<minotaur_image::extract::Summary, ExtractError> {
        extract(&tar[..], &self.layer, opts)
    }

    /// The sentinel still holds only `secret`, unchanged, with one link; nothing was created beside the layer.
    fn assert_untouched(&self) {
        let names: Vec<_> = fs::read_dir(&self.sentinel)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["secret"],
            "something was written into the sentinel directory"
        );
        let secret = self.sentinel.join("secret");
        assert_eq!(fs::read_to_string(&secret).unwrap(), "secret");
        assert_eq!(
            fs::metadata(&secret).unwrap().nlink(),
            1,
            "the secret got a hard link"
        );
        let mut beside: Vec<_> = fs::read_dir(self.layer.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        beside.sort();
        assert_eq!(
            beside,
            ["layer", "sentinel"],
            "something was written beside the layer"
        );
    }

    fn abs_sentinel(&self) -> String {
        self.sentinel.to_str().unwrap().to_string()
    }
}

fn in_layer(f: &Fixture, p: &str) -> PathBuf {
    f.layer.join(p)
}

#[test]
fn dotdot_entries_are_clamped_inside_the_root() {
    let f = Fixture::new();
    let tar = Tar::default()
        .file("../sentinel/pwned", b"x")
        .file("a/../../../sentinel/pwned2", b"x")
        .file("./../sentinel/secret", b"overwritten")
        .build();
    f.extract(tar, &Options::default()).unwrap();
    f.assert_untouched();
    assert_eq!(fs::read(in_layer(&f, "sentinel/pwned")).unwrap(), b"x");
    assert_eq!(fs::read(in_layer(&f, "sentinel/pwned2")).unwrap(), b"x");
    assert_eq!(
        fs::read(in_layer(&f, "sentinel/secret")).unwrap(),
        b"overwritten"
    );
}

#[test]
fn absolute_entries_land_under_the_root() {
    let f = Fixture::new();
    let abs = format!("{}/pwned", f.abs_sentinel());
    let tar = Tar::default().file(&abs, b"x").build();
    f.extract(tar, &Options::default()).unwrap();
    f.assert_untouched();
    assert_eq!(
        fs::read(f.layer.join(abs.trim_start_matches('/'))).unwrap(),
        b"x"
    );
}

#[test]
fn a_symlink_to_slash_is_followed_inside_the_root_only() {
    // `evil -> /` then `evil/<absolute path of the sentinel>/pwned`: followed on the host this would write
    // into the sentinel; resolved in the root it is `<layer>/<sentinel path>/pwned`.
    let f = Fixture::new();
    let through = format!("evil{}/pwned", f.abs_sentinel());
    let tar = Tar::default()
        .symlink("evil", "/")
        .file(&through, b"x")
        .build();
    f.extract(tar, &Options::default()).unwrap();
    f.assert_untouched();
    assert_eq!(fs::read_link(in_layer(&f, "evil")).unwrap(), Path::new("/"));
    assert_eq!(
        fs::read(
            f.layer
                .join(f.abs_sentinel().trim_start_matches('/'))
                .join("pwned")
        )
        .unwrap(),
        b"x"
    );
}

#[test]
fn dangling_symlinks_to_outside_create_their_target_inside() {
    let f = Fixture::new();
    let tar = Tar::default()
        .symlink("abs", &f.abs_sentinel())
        .file("abs/pwned", b"1")
        .symlink("rel", "../../../sentinel")
        .file("rel/pwned", b"2")
        .build();
    f.extract(tar, &Options::default()).unwrap();
    f.assert_untouched();
    assert_eq!(
        fs::read(
            f.layer
                .join(f.abs_sentinel().trim_start_matches('/'))
                .join("pwned")
        )
        .unwrap(),
        b"1"
    );
    assert_eq!(fs::read(in_layer(&f, "sentinel/pwned")).unwrap(), b"2");
}

#[test]
fn a_file_replaces_a_symlink_instead_of_writing_through_it() {
    let f = Fixture::new();
    let tar = Tar::default()
        .symlink("f", &format!("{}/secret", f.abs_sentinel()))
        .file("f", b"mine")
        .symlink("d", &f.abs_sentinel())
        .dir("d", 0o755)
        .build();
    f.extract(tar, &Options::default()).unwrap();
    f.assert_untouched();
    let meta = fs::symlink_metadata(in_layer(&f, "f")).unwrap();
    assert!(meta.is_file());
    assert_eq!(fs::read(in_layer(&f, "f")).unwrap(), b"mine");
    assert!(fs::symlink_metadata(in_layer(&f, "d")).unwrap().is_dir());
}

#[test]
fn symlink_targets_are_stored_verbatim() {
    let f = Fixture::new();
    let tar = Tar::default()
        .symlink("up", "../../../etc/passwd")
        .symlink("abs", "/etc/shadow")
        .build();
    f.extract(tar, &Options::default()).unwrap();
    f.assert_untouched();
    assert_eq!(
        fs::read_link(in_layer(&f, "up")).unwrap(),
        Path::new("../../../etc/passwd")
    );
    assert_eq!(
        fs::read_link(in_layer(&f, "abs")).unwrap(),
        Path::new("/etc/shadow")
    );
}

#[test]
fn hardlinks_to_outside_are_refused() {
    let secret = |f: &Fixture| format!("{}/secret", f.abs_sentinel());
    type Case = Box<dyn Fn(&Fixture) -> Vec<u8>>;
    let cases: Vec<Case> = vec![
        Box::new(|_| Tar::default().hardlink("pw", "/etc/passwd").build()),
        Box::new(|_| Tar::default().hardlink("pw", "../sentinel/secret").build()),
        Box::new(move |f| Tar::default().hardlink("pw", &secret(f)).build()),
        Box::new(|f| {
            Tar::default()
                .symlink("s", &f.abs_sentinel())
                .hardlink("pw", "s/secret")
                .build()
        }),
        Box::new(|_| {
            Tar::default()
                .symlink("s", "../sentinel")
                .hardlink("pw", "s/secret")
                .build()
        }),
    ];
    for (i, case) in cases.iter().enumerate() {
        let f = Fixture::new();
        let err = f.extract(case(&f), &Options::default()).unwrap_err();
        assert!(
            matches!(err, ExtractError::HardlinkTarget { .. }),
            "case {i}: {err}"
        );
        f.assert_untouched();
        assert!(!in_layer(&f, "pw").exists(), "case {i}");
    }
}

#[test]
fn hardlinks_inside_the_root_work_and_never_follow_a_symlink() {
    let f = Fixture::new();
    let tar = Tar::default()
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        // "/etc/passwd" and "../etc/passwd" name the layer's own file.
        .hardlink("pw1", "/etc/passwd")
        .hardlink("pw2", "../etc/passwd")
        .symlink("s", &format!("{}/secret", f.abs_sentinel()))
        // A hard link to a symlink links the symlink, not what it points at.
        .hardlink("pw3", "s")
        .build();
    f.extract(tar, &Options::default()).unwrap();
    f.assert_untouched();
    let ino = fs::metadata(in_layer(&f, "etc/passwd")).unwrap().ino();
    assert_eq!(fs::metadata(in_layer(&f, "pw1")).unwrap().ino(), ino);
    assert_eq!(fs::metadata(in_layer(&f, "pw2")).unwrap().ino(), ino);
    assert_eq!(fs::metadata(in_layer(&f, "etc/passwd")).unwrap().nlink(), 3);
    assert!(fs::symlink_metadata(in_layer(&f, "pw3"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn hardlinks_to_directories_are_refused() {
    let f = Fixture::new();
    let tar = Tar::default().dir("d", 0o755).hardlink("h", "d").build();
    assert!(matches!(
        f.extract(tar, &Options::default()).unwrap_err(),
        ExtractError::HardlinkTarget { .. }
    ));
}

#[test]
fn devices_are_skipped_unless_allowed() {
    let f = Fixture::new();
    let tar = || {
        Tar::default()
            .node(tar::EntryType::Char, "dev/null", 1, 3)
            .node(tar::EntryType::Block, "dev/sda", 8, 0)
            .node(tar::EntryType::Fifo, "run/fifo", 0, 0)
            .build()
    };
    let s = f.extract(tar(), &Options::default()).unwrap();
    assert_eq!(s.skipped, 2);
    assert!(!in_layer(&f, "dev/null").exists());
    assert!(!in_layer(&f, "dev/sda").exists());
    assert!(fs::symlink_metadata(in_layer(&f, "run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());

    if !is_root() {
        eprintln!("skipped: creating device nodes needs root");
        return;
    }
    let f = Fixture::new();
    let opts = Options {
        allow_devices: true,
        ..Options::default()
    };
    let s = f.extract(tar(), &opts).unwrap();
    assert_eq!(s.skipped, 0);
    let null = fs::symlink_metadata(in_layer(&f, "dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    assert!(fs::symlink_metadata(in_layer(&f, "dev/sda"))
        .unwrap()
        .file_type()
        .is_block_device());
}

#[test]
fn whiteouts_become_overlayfs_whiteouts() {
    if !is_root() {
        eprintln!("skipped: overlayfs whiteouts (mknod 0:0, trusted.* xattrs) need root");
        return;
    }
    let f = Fixture::new();
    let tar = Tar::default()
        .file("etc/.wh.motd", b"")
        .dir("var/cache", 0o755)
        .file("var/cache/.wh..wh..opq", b"")
        .file(".wh..wh.plnk", b"")
        .file("../sentinel/.wh.secret", b"")
        .build();
    f.extract(tar, &Options::default()).unwrap();
    f.assert_untouched();
    let motd = fs::symlink_metadata(in_layer(&f, "etc/motd")).unwrap();
    assert!(motd.file_type().is_char_device());
    assert_eq!(motd.rdev(), 0);
    assert!(!in_layer(&f, "etc/.wh.motd").exists());
    let cache = fs::File::open(in_layer(&f, "var/cache")).unwrap();
    let mut buf = [0u8; 8];
    let n = rustix::fs::fgetxattr(&cache, "trusted.overlay.opaque", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"y");
    assert!(!in_layer(&f, "var/cache/.wh..wh..opq").exists());
    assert!(!in_layer(&f, ".wh..wh.plnk").exists());
    assert!(fs::symlink_metadata(in_layer(&f, "sentinel/secret"))
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn ownership_modes_mtimes_and_xattrs_are_kept() {
    if !is_root() {
        eprintln!("skipped: setting owners needs root");
        return;
    }
    let f = Fixture::new();
    let tar = Tar::default()
        .dir("ro", 0o555)
        .file_full("ro/suid", b"#!/bin/sh\n", 0o4751, 1234, 5678, 1_234_567)
        .pax(&[
            ("SCHILY.xattr.user.minotaur", b"hello"),
            ("SCHILY.xattr.trusted.t", b"\x00\x01"),
        ])
        .file("x", b"x")
        .build();
    f.extract(tar, &Options::default()).unwrap();
    let ro = fs::metadata(in_layer(&f, "ro")).unwrap();
    assert_eq!(ro.permissions().mode() & 0o7777, 0o555);
    assert_eq!(
        ro.mtime(),
        1_000_000,
        "directory mtime was bumped by its children"
    );
    let suid = fs::metadata(in_layer(&f, "ro/suid")).unwrap();
    assert_eq!((suid.uid(), suid.gid()), (1234, 5678));
    assert_eq!(
        suid.permissions().mode() & 0o7777,
        0o4751,
        "chown cleared the setuid bit"
    );
    assert_eq!(suid.mtime(), 1_234_567);
    let x = fs::File::open(in_layer(&f, "x")).unwrap();
    let mut buf = [0u8; 16];
    let n = rustix::fs::fgetxattr(&x, "user.minotaur", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    let n = rustix::fs::fgetxattr(&x, "trusted.t", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"\x00\x01");
}

#[test]
fn without_same_owner_files_belong_to_the_extractor() {
    let f = Fixture::new();
    let tar = Tar::default()
        .file_full("f", b"x", 0o640, 4321, 4321, 5)
        .build();
    let opts = Options {
        same_owner: false,
        ..Options::default()
    };
    f.extract(tar, &opts).unwrap();
    let m = fs::metadata(in_layer(&f, "f")).unwrap();
    assert_eq!(m.uid(), nix::unistd::geteuid().as_raw());
    assert_eq!(m.permissions().mode() & 0o7777, 0o640);
}

#[test]
fn an_id_map_shifts_owners_into_its_range_and_refuses_others() {
    if !is_root() {
        println!("skipped: chown needs root");
        return;
    }
    let range = IdRange {
        uid: 100_000,
        gid: 500_000,
        size: 1000,
    };
    // With the archive's owners: the container's IDs, written as the host's.
    let f = Fixture::new();
    let tar = Tar::default()
        .file_full("f", b"x", 0o640, 7, 999, 5)
        .build();
    let kept = Options {
        same_owner: true,
        id_map: Some(range),
        ..Options::default()
    };
    f.extract(tar, &kept).unwrap();
    let m = fs::metadata(in_layer(&f, "f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (100_007, 500_999));
    // Without them: the range's root.
    let f = Fixture::new();
    let tar = Tar::default()
        .file_full("f", b"x", 0o640, 4321, 4321, 5)
        .build();
    let plain = Options {
        same_owner: false,
        ..kept.clone()
    };
    f.extract(tar, &plain).unwrap();
    let m = fs::metadata(in_layer(&f, "f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (100_000, 500_000));
    // An owner the range has no ID for: refused by name.
    let f = Fixture::new();
    let tar = Tar::default()
        .file_full("f", b"x", 0o640, 5, 1000, 5)
        .build();
    let err = f.extract(tar, &kept).unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"f\" is owned by gid 1000, outside the container's 1000 IDs"
    );
    assert!(!in_layer(&f, "f").exists());
}

#[test]
fn ids_map_back_to_the_containers_or_the_overflow_id() {
    assert_eq!(IdRange::to_inside(100_000, 1000, 100_000), 0);
    assert_eq!(IdRange::to_inside(100_000, 1000, 100_999), 999);
    assert_eq!(IdRange::to_inside(100_000, 1000, 101_000), 65534);
    assert_eq!(IdRange::to_inside(100_000, 1000, 0), 65534);
}

#[test]
fn a_directory_is_replaced_by_a_later_file_and_back() {
    let f = Fixture::new();
    let tar = Tar::default()
        .file("a/b/c", b"deep")
        .file("a", b"now a file")
        .file("x", b"file")
        .dir("x", 0o700)
        .file("x/y", b"y")
        .build();
    f.extract(tar, &Options::default()).unwrap();
    assert_eq!(fs::read(in_layer(&f, "a")).unwrap(), b"now a file");
    assert_eq!(fs::read(in_layer(&f, "x/y")).unwrap(), b"y");
}

#[test]
fn whiteouts_of_dot_and_dotdot_remove_nothing() {
    // `.wh...` would whiteout `..`: removing "the entry named .." in the layer root is removing its parent.
    let f = Fixture::new();
    let tar = Tar::default()
        .file("keep", b"k")
        .file(".wh...", b"")
        .file(".wh..", b"")
        .file(".wh.", b"")
        .file("sub/.wh...", b"")
        .build();
    let _ = f.extract(tar, &Options::default());
    f.assert_untouched();
    assert_eq!(fs::read(in_layer(&f, "keep")).unwrap(), b"k");
    assert!(in_layer(&f, "sub").is_dir());
}

#[test]
fn overlayfs_xattrs_cannot_be_forged() {
    if !is_root() {
        eprintln!("skipped: trusted.* xattrs need root");
        return;
    }
    let f = Fixture::new();
    let tar = Tar::default()
        .pax(&[
            ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
            ("SCHILY.xattr.trusted.overlay.opaque", b"y"),
            ("SCHILY.xattr.user.overlay.metacopy", b""),
            ("SCHILY.xattr.user.ok", b"1"),
        ])
        .dir("d", 0o755)
        .build();
    f.extract(tar, &Options::default()).unwrap();
    let d = fs::File::open(in_layer(&f, "d")).unwrap();
    let mut buf = [0u8; 64];
    let n = rustix::fs::flistxattr(&d, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"user.ok\0");
}

#[test]
fn a_sparse_file_claiming_a_terabyte_is_refused_at_once_not_written_out() {
    // A 2 KiB tarball once made the extractor write a terabyte of zeros.
    let f = Fixture::new();
    let tar = Tar::default().sparse("bomb", &[b's'; 512], 1 << 40).build();
    let start = std::time::Instant::now();
    let err = f.extract(tar, &Options::default()).unwrap_err();
    assert!(matches!(err, ExtractError::SparseHoles { .. }), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    f.assert_untouched();
}

#[test]
fn a_sparse_file_keeps_its_holes() {
    let f = Fixture::new();
    let tar = Tar::default()
        .sparse("sparse", &[b's'; 512], 64 << 20)
        .build();
    let summary = f.extract(tar, &Options::default()).unwrap();
    assert_eq!(summary.size, 64 << 20);
    let path = in_layer(&f, "sparse");
    let m = fs::metadata(&path).unwrap();
    assert_eq!(m.len(), 64 << 20);
    assert!(
        m.blocks() * 512 < 1 << 20,
        "{} bytes on disk",
        m.blocks() * 512
    );
    let data = fs::read(&path).unwrap();
    assert!(data[..(64 << 20) - 512].iter().all(|&b| b == 0));
    assert!(data[(64 << 20) - 512..].iter().all(|&b| b == b's'));
    f.assert_untouched();
}

#[test]
fn a_header_quoting_a_control_character_gives_a_one_line_error() {
    let f = Fixture::new();
    let mut tar = Tar::default().file("a", b"x").build();
    // The gid field (8 bytes at offset 116) with a carriage return in its digits, checksum made valid.
    tar[121] = b'\r';
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&tar[..512]);
    h.set_cksum();
    tar[..512].copy_from_slice(h.as_bytes());
    let opts = Options {
        allow_devices: false,
        same_owner: true,
        id_map: None,
    };
    let err = f.extract(tar, &opts).unwrap_err();
    let mut chain = vec![err.to_string()];
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    assert!(chain.iter().all(|m| !m.contains(['\r', '\n'])), "{chain:?}");
    f.assert_untouched();
}
