//! Links the minotaur binary as a position-dependent executable, with libgcc's unwinder built in.
//!
//! minotaur is started for every namespace and container command, so its start-up is on every measured
//! path.
//! - A PIE executable of this size carries ~10,000 relative relocations that the dynamic loader applies at
//!   each start, dirtying the pages they touch; a non-PIE executable has them resolved at link time. (The
//!   kernel still randomises the stack, heap and libraries.)
//! - The standard library takes its unwinder (`_Unwind_*`, used for backtraces; release builds abort on
//!   panic) from `libgcc_s.so.1`. Loading that library costs every start one more object to map and
//!   relocate, one more scope for each of libc's symbol lookups, and its constructor
//!   (`__cpu_indicator_init`, a dozen `cpuid`s, each a trap to the hypervisor in a VM): about 0.3 ms of CPU
//!   per start on a 2-core VM, as much as a third of what `nsenter -a true` costs in all. The same unwinder
//!   is in `libgcc_eh.a`, GCC's static copy of it (what `-static-libgcc` and Rust's `crt-static` targets
//!   link), so it is linked in whole instead, and `libgcc_s.so.1` is dropped as no longer needed
//!   (rustc links with `--as-needed`). Nothing else changes: libc, libm and the loader are still shared.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() != Ok("gnu") {
        return;
    }
    // The C compiler rustc links with knows where its own libgcc_eh.a is.
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let found = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_absolute() && p.is_file());
    match found.as_deref().and_then(|p| p.parent()) {
        Some(dir) => {
            println!("cargo:rustc-link-search=native={}", dir.display());
            // Whole: the archive comes before the standard library on the linker's command line, so
            // nothing would be taken from it otherwise.
            println!("cargo:rustc-link-lib=static:+whole-archive=gcc_eh");
        }
        None => {
            println!("cargo:warning=libgcc_eh.a not found with {cc}: libgcc_s.so.1 stays linked")
        }
    }
}
