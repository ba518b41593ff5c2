//! The command line itself: version, completion and man page from the same definitions, one-line errors
//! with the replaced tool's exit status (and no backtrace even with RUST_BACKTRACE set), and a closed
//! stdout pipe that is not an error. Needs no root.

use std::io::Read;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_minotaur");

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("MINOTAUR_ROOT", "/nonexistent/minotaur-cli-test")
        .output()
        .unwrap()
}

#[test]
fn version_completion_and_man_come_from_the_same_definitions() {
    let v = run(&["version"]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout)
        .starts_with(&format!("minotaur {}", env!("CARGO_PKG_VERSION"))));
    let c = run(&["completion", "bash"]);
    let c = String::from_utf8_lossy(&c.stdout);
    assert!(
        c.contains("_minotaur") && c.contains("nsenter") && c.contains("inspect"),
        "{c}"
    );
    let m = run(&["man"]);
    let m = String::from_utf8_lossy(&m.stdout);
    assert!(
        m.starts_with(".ie") || m.contains(".TH minotaur"),
        "{}",
        &m[..200.min(m.len())]
    );
    let dir = tempfile::tempdir().unwrap();
    assert!(run(&["man", "--dir", dir.path().to_str().unwrap()])
        .status
        .success());
    assert!(dir.path().join("minotaur-nsenter.1").exists());
}

#[test]
fn help_lists_every_verb() {
    let h = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    for verb in [
        "nsenter", "unshare", "lsns", "netns", "run", "exec", "ps", "inspect", "logs", "images",
    ] {
        assert!(
            h.lines().any(|l| l.trim_start().starts_with(verb)),
            "{verb} missing from --help:\n{h}"
        );
    }
}

#[test]
fn usage_errors_are_one_line_with_the_replaced_tools_status() {
    for (args, code) in [
        (&["nsenter", "--bogus"][..], 1),
        (&["lsns", "--bogus"][..], 1),
        (&["run", "--bogus", "host", "true"][..], 125),
        (&["frobnicate"][..], 125),
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("minotaur: "), "{err}");
        assert!(!err.contains("backtrace"), "{err}");
    }
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let mut child = Command::new(BIN)
        .args(["completion", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end at once, as `| head -c0` would.
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {err}");
    assert!(err.is_empty(), "{err}");
}

/// Every start of the binary used to load `libgcc_s.so.1` for the standard library's unwinder, and run its
/// `cpuid`-heavy constructor; the unwinder is now linked in from `libgcc_eh.a` (see `build.rs`).
#[test]
fn the_binary_starts_without_loading_libgcc_s() {
    // The dynamic loader lists what it loads, as ldd(1) has it do, and runs nothing of the binary.
    let out = Command::new(BIN)
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("libc.so"), "no list of objects: {listed}");
    assert!(!listed.contains("libgcc_s"), "{listed}");
}
