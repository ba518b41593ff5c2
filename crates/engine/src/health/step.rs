//! Where a network check stands each time the supervisor's loop polls it: the TCP, HTTP(S) and gRPC
//! probes all answer the same way, so the loop drives them alike.

/// Where a check stands after [`NetProbe::step`](super::netprobe::NetProbe::step).
pub(crate) enum Step {
    Pending,
    /// Its exit code (0: healthy) and output.
    Done(i32, String),
}
