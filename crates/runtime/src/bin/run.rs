//! Test runner for the runtime: `minotaur-runtime-run [--leak-fd] [--hook CMD] BUNDLE` creates and starts the container of
//! `BUNDLE/config.json`, waits for it, removes its cgroup and exits with its exit code (125/126/127 and one
//! line on stderr when the runtime fails). `--leak-fd` first opens a descriptor without close-on-exec, so a
//! test can check that it does not reach the container. `--hook CMD` runs `sh -c CMD` between create and start
//! with `CONTAINER_PID` set, where the engine will set up the network. `--hide PATH` (repeatable) is
//! [`minotaur_runtime::CreateOptions::hide`], `--mount-template FILE` is
//! [`minotaur_runtime::CreateOptions::mount_template`], `--overlay LOWER[:LOWER...] UPPER WORK` is
//! [`minotaur_runtime::CreateOptions::overlay`]. `--default-spec CMD...` prints Docker's default spec for CMD.
//! `--make-mount-template FILE [DIR...]` makes a template at FILE leaving out DIR... and exits
//! ([`minotaur_runtime::mount_template::make`]).
//!
//! `minotaur-runtime-run --exec PID [--cwd DIR] [--user UID:GID] [--tty] [--leak-fd] [--block-signals] BUNDLE CMD...` runs CMD in
//! the running container of `BUNDLE/config.json` whose init process is PID (its process as in the spec, with
//! these args, cwd and user), waits for it and exits with its exit code, like `docker exec`. Not part of the
//! product.
#![forbid(unsafe_code)]

use std::error::Error;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};

fn main() -> ExitCode {
    let mut leak = None;
    let mut bundle = None;
    let mut hook = None;
    let mut hide = Vec::new();
    let mut mount_template = None;
    let mut overlay = None;
    let mut exec = ExecArgs::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--hook" => hook = args.next(),
            "--hide" => hide.extend(args.next().map(PathBuf::from)),
            "--mount-template" => mount_template = args.next().map(PathBuf::from),
            "--overlay" => {
                let (Some(lower), Some(upper), Some(work)) =
                    (args.next(), args.next(), args.next())
                else {
                    eprintln!("usage: minotaur-runtime-run --overlay LOWER[:LOWER...] UPPER WORK");
                    return ExitCode::from(2);
                };
                overlay = Some(minotaur_runtime::Overlay {
                    lower: lower.split(':').map(PathBuf::from).collect(),
                    upper: upper.into(),
                    work: work.into(),
                });
            }
            "--make-mount-template" => {
                let Some(file) = args.next() else {
                    eprintln!("usage: minotaur-runtime-run --make-mount-template FILE [DIR...]");
                    return ExitCode::from(2);
                };
                let leave_out: Vec<PathBuf> = args.map(PathBuf::from).collect();
                return match minotaur_runtime::mount_template::make(file.as_ref(), &leave_out, None)
                {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("minotaur-runtime-run: {}", chain(&e));
                        ExitCode::from(1)
                    }
                };
            }
            "--exec" => exec.pid = args.next().and_then(|p| p.parse().ok()),
            "--cwd" => exec.cwd = args.next(),
            "--user" => exec.user = args.next(),
            "--tty" => exec.tty = true,
            // The caller's blocked signals (and SIGPIPE, which the Rust runtime ignores) must not reach the
            // exec'd process.
            "--block-signals" => {
                use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
                let mut set = SigSet::empty();
                set.add(Signal::SIGUSR1);
                sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).expect("block SIGUSR1");
            }
            "--default-spec" => {
                // Prints Docker's default spec for the rest of the arguments (for benchmarks and debugging).
                let rest: Vec<String> = args.collect();
                let spec = minotaur_runtime::defaults::default_spec(&rest);
                println!(
                    "{}",
                    serde_json::to_string_pretty(&spec).expect("spec serializes")
                );
                return ExitCode::SUCCESS;
            }
            "--leak-fd" => {
                leak =
                    Some(open("/dev/null", OFlag::O_RDONLY, Mode::empty()).expect("open /dev/null"))
            }
            _ if exec.pid.is_some() => {
                bundle = Some(PathBuf::from(arg));
                exec.command = args.collect();
                break;
            }
            _ => bundle = Some(PathBuf::from(arg)),
        }
    }
    let Some(bundle) = bundle else {
        eprintln!("usage: minotaur-runtime-run [--leak-fd] [--hook CMD] BUNDLE | --exec PID [--cwd DIR] [--user UID:GID] [--tty] BUNDLE CMD...");
        return ExitCode::from(2);
    };
    let spec = match oci_spec::runtime::Spec::load(bundle.join("config.json")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("minotaur-runtime-run: {e}");
            return ExitCode::from(125);
        }
    };
    if let Some(pid) = exec.pid {
        return run_exec(&spec, pid, &exec);
    }
    let opts = minotaur_runtime::CreateOptions {
        hide,
        mount_template,
        overlay,
        ..Default::default()
    };
    let mut console = None;
    let result = minotaur_runtime::create(&spec, &bundle, &opts).and_then(|mut c| {
        console = c.take_console();
        if let Some(hook) = &hook {
            let ok = std::process::Command::new("sh")
                .args(["-ec", hook])
                .env("CONTAINER_PID", c.pid().to_string())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("minotaur-runtime-run: hook failed");
                let _ = c.abort();
                std::process::exit(125);
            }
        }
        c.start()
    });
    drop(leak);
    let started = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("minotaur-runtime-run: {}", chain(&e));
            // An exec failure leaves a child that exits on its own; reap whatever is there.
            let _ = waitpid(None, None);
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    // With a terminal, copy what the container writes to it to our stdout until it hangs up (EIO).
    if let Some(master) = console {
        let mut master = std::fs::File::from(master);
        let _ = std::io::copy(&mut master, &mut std::io::stdout());
    }
    let code = wait(started.pid);
    if let Some(cg) = started.cgroup {
        if let Err(e) = cg.remove() {
            eprintln!("minotaur-runtime-run: {e}");
        }
    }
    ExitCode::from(code as u8)
}

#[derive(Default)]
struct ExecArgs {
    pid: Option<i32>,
    cwd: Option<String>,
    user: Option<String>,
    tty: bool,
    command: Vec<String>,
}

/// `--exec`: the container's process with the command and flags of `docker exec`.
fn run_exec(spec: &oci_spec::runtime::Spec, pid: i32, args: &ExecArgs) -> ExitCode {
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(args.command.clone()));
    process.set_terminal(Some(args.tty));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.into());
    }
    if let Some(user) = &args.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, user));
        let (Ok(uid), Ok(gid)) = (uid.parse::<u32>(), gid.parse::<u32>()) else {
            eprintln!("minotaur-runtime-run: bad --user {user}");
            return ExitCode::from(125);
        };
        process.set_user(
            oci_spec::runtime::UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .build()
                .expect("complete user"),
        );
    }
    let init = match minotaur_sys::pidfd_open(nix::unistd::Pid::from_raw(pid)) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("minotaur-runtime-run: no container init {pid}: {e}");
            return ExitCode::from(125);
        }
    };
    let opts = minotaur_runtime::ExecOptions::default();
    match minotaur_runtime::exec(spec, init.as_fd(), &process, &opts) {
        Ok(child) => {
            if let Some(master) = child.console {
                let mut master = std::fs::File::from(master);
                let _ = std::io::copy(&mut master, &mut std::io::stdout());
            }
            ExitCode::from(wait(child.pid) as u8)
        }
        Err(e) => {
            eprintln!("minotaur-runtime-run: {}", chain(&e));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn wait(pid: nix::unistd::Pid) -> i32 {
    match waitpid(pid, None) {
        Ok(WaitStatus::Exited(_, c)) => c,
        Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
        _ => 125,
    }
}

/// An error and its sources, one line.
fn chain(e: &dyn Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}
