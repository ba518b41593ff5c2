//! minotaur's state store (to be written: see issue 2).
#![forbid(unsafe_code)]
