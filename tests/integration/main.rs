//! Integration tests: the production code path against moto's server over
//! HTTP, and the built binaries through a local Lambda Runtime API.

// Test support: failing loudly with a message is the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod copy;
mod drill;
mod faults;
mod monitor;
mod overlap;
mod pacing;
mod parsers;
mod permissions;
mod prune;
mod recovery;
mod restore;
mod runs;
mod runtime_api;
mod snapshot;
mod template;
