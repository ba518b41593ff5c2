//! Fixtures shared by the registry client's integration tests.

#![allow(dead_code)]

pub mod image;
pub mod registry;
