//! Lifeboat's shared library: what every function needs.
//!
//! The domain modules (`naming`, `tags`, `selection`, `outcome`, `model`) are
//! pure: plain data in, decisions out, no AWS calls. The adapters (`rds`,
//! `catalog`, `publisher`) translate between those types and the AWS SDK, and
//! `context` builds the validated configuration and the clients once per cold
//! start.

pub mod catalog;
pub mod clients;
pub mod config;
pub mod context;
pub mod copy_plan;
pub mod error;
pub mod identifier;
pub mod invocation;
pub mod model;
pub mod naming;
pub mod outcome;
pub mod publisher;
pub mod rds;
pub mod restore;
pub mod restore_plan;
pub mod retention;
pub mod selection;
pub mod tags;
pub mod telemetry;

pub use context::Context;
pub use error::{Error, Result};
