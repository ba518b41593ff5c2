//! Links the minotaur binary as a position-dependent executable.
//!
//! minotaur is started for every namespace and container command, so its start-up is on every measured
//! path. A PIE executable of this size carries ~10,000 relative relocations that the dynamic loader applies
//! at each start, dirtying the pages they touch; a non-PIE executable has them resolved at link time. (The
//! kernel still randomises the stack, heap and libraries.)
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
