//! Runs a command on a throwaway systemd host: a [`TestHost`] box with a systemd booted in it as PID 1 of its
//! own namespaces (see `minotaur_testhost::systemd`), the command run in all of systemd's namespaces, and
//! everything torn down when it exits. The benchmarks use it (`bench/systemd.sh`); the tests boot the same
//! systemd through the library.
//!
//! ```text
//! minotaur-systemd-box [--unified] [--read-only DIR]... [--read-write DIR]... MINOTAUR -- COMMAND [ARG]...
//! ```
//!
//! `MINOTAUR` is the binary the box is made for (its directory is bound read-only into systemd's root);
//! `--read-only DIR` and `--read-write DIR` bind more directories at their own paths; `--unified` makes `/sys/fs/cgroup` the
//! unified hierarchy alone (a cgroup v2 host) instead of this machine's layout. The command runs with the
//! engine's default directories, which are systemd's: state in its `/var/lib/minotaur`, runtime files in its
//! `/run/minotaur`, containers' cgroups under `minotaur` in its cgroup namespace; `MINOTAUR_SYSTEMD_PID` and
//! `MINOTAUR_BOX_PID` name systemd and the box's init by their PIDs on the machine (for `nsenter` and `perf`
//! from outside). Exits with the command's status (1 when the box or systemd cannot be made).

use std::path::PathBuf;
use std::process::ExitCode;

use minotaur_testhost::systemd::Options;
use minotaur_testhost::TestHost;

const USAGE: &str =
    "usage: minotaur-systemd-box [--unified] [--read-only DIR]... [--read-write DIR]... MINOTAUR -- COMMAND [ARG]...";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let mut options = Options::default();
    let mut bin = None;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--unified") => options.unified = true,
            Some("--read-only") => match args.next() {
                Some(dir) => options.read_only.push(PathBuf::from(dir)),
                None => return usage("--read-only needs a directory"),
            },
            Some("--read-write") => match args.next() {
                Some(dir) => options.read_write.push(PathBuf::from(dir)),
                None => return usage("--read-write needs a directory"),
            },
            Some("--") => break,
            _ if bin.is_none() => bin = Some(PathBuf::from(arg)),
            _ => return usage("one binary, then --"),
        }
    }
    let Some(bin) = bin else {
        return usage("no binary");
    };
    // Every path is bound into systemd's root at its own place: relative ones name nothing there.
    let bin = match absolute(bin) {
        Ok(p) => p,
        Err(e) => return usage(&e),
    };
    for dir in options.read_only.iter_mut().chain(&mut options.read_write) {
        match absolute(std::mem::take(dir)) {
            Ok(p) => *dir = p,
            Err(e) => return usage(&e),
        }
    }
    let command: Vec<_> = args.collect();
    let Some((program, rest)) = command.split_first() else {
        return usage("no command");
    };
    let Some(host) = TestHost::new(&bin) else {
        return ExitCode::FAILURE;
    };
    let systemd = match host.try_boot_systemd_with(&options) {
        Ok(Some(systemd)) => systemd,
        Ok(None) => return ExitCode::FAILURE,
        Err(e) => {
            eprintln!("minotaur-systemd-box: booting systemd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = systemd
        .command(program)
        .args(rest)
        .env_remove("MINOTAUR_ROOT")
        .env_remove("MINOTAUR_RUNROOT")
        .env("MINOTAUR_SYSTEMD_PID", systemd.pid().to_string())
        .env("MINOTAUR_BOX_PID", host.pid().to_string())
        .status();
    // The command's status, after systemd and the box are gone (their drops).
    let code = match status {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            eprintln!(
                "minotaur-systemd-box: cannot run {}: {e}",
                program.to_string_lossy()
            );
            1
        }
    };
    drop(systemd);
    drop(host);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn usage(why: &str) -> ExitCode {
    eprintln!("minotaur-systemd-box: {why}\n{USAGE}");
    ExitCode::from(2)
}

/// `path` made absolute and free of symbolic links, or why not.
fn absolute(path: PathBuf) -> Result<PathBuf, String> {
    std::fs::canonicalize(&path).map_err(|e| format!("{}: {e}", path.display()))
}
