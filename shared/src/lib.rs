//! Lifeboat's shared library: what every function needs.
//!
//! The folders show the boundary. `domain` decides (plain data in,
//! decisions out, no AWS call, `now` passed in); `aws` talks to RDS, S3 and
//! EventBridge and translates to and from the domain's types; `lambda` is
//! what a function's entry point wires together once per cold start.

/// Decisions and the data they are made on: what to snapshot, what a
/// snapshot is called, what to keep, what a copy or a restore needs.
pub mod domain;

/// Adapters over the AWS SDK: the RDS calls, the S3 catalog, the EventBridge
/// publisher and the clients they use. SDK errors are mapped here, once.
pub mod aws;

/// The Lambda side: settings from the environment, the context built at cold
/// start, the shape every handler shares, and logging.
pub mod lambda;

/// Errors a person can act on, each naming what is wrong.
pub mod error;

pub use error::{Error, Result};
pub use lambda::context::Context;
