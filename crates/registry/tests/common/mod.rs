//! Fixtures shared by the registry client's integration tests.

#![allow(dead_code)]

pub mod fault_proxy;
pub mod image;
pub mod pki;
pub mod registry;
pub mod token_server;
