//! Test runner for the runtime: `minotaur-runtime-run [--leak-fd] [--hook CMD] BUNDLE` creates and starts the container of
//! `BUNDLE/config.json`, waits for it, removes its cgroup and exits with its exit code (125/126/127 and one
//! line on stderr when the runtime fails). `--leak-fd` first opens a descriptor without close-on-exec, so a
//! test can check that it does not reach the container. `--hook CMD` runs `sh -c CMD` between create and start
//! with `CONTAINER_PID` set, where the engine will set up the network. `--default-spec CMD...` prints Docker's
//! default spec for CMD. Not part of the product.
#![forbid(unsafe_code)]

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};

fn main() -> ExitCode {
    let mut leak = None;
    let mut bundle = None;
    let mut hook = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--hook" => hook = args.next(),
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
            _ => bundle = Some(PathBuf::from(arg)),
        }
    }
    let Some(bundle) = bundle else {
        eprintln!("usage: minotaur-runtime-run [--leak-fd] [--hook CMD] BUNDLE");
        return ExitCode::from(2);
    };
    let spec = match oci_spec::runtime::Spec::load(bundle.join("config.json")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("minotaur-runtime-run: {e}");
            return ExitCode::from(125);
        }
    };
    let opts = minotaur_runtime::CreateOptions::default();
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
            let mut msg = e.to_string();
            let mut src = e.source();
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            eprintln!("minotaur-runtime-run: {msg}");
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
    let code = match waitpid(started.pid, None) {
        Ok(WaitStatus::Exited(_, c)) => c,
        Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
        _ => 125,
    };
    if let Some(cg) = started.cgroup {
        if let Err(e) = cg.remove() {
            eprintln!("minotaur-runtime-run: {e}");
        }
    }
    ExitCode::from(code as u8)
}
