//! What a function's entry point wires: settings, clients, the invocation
//! shape and logging.

/// Every setting, read from the environment once and validated.
pub mod config;
/// The settings and clients a handler gets, built once per cold start.
pub mod context;
/// The shape every handler shares: a span with the request id, parse, act,
/// one log line per outcome, an error if anything failed.
pub mod invocation;
/// CloudWatch metrics as embedded-metric-format log lines.
pub mod metrics;
/// The skeleton every event parser shares.
pub mod payload;
/// One invocation's part of a run: within the deadline, the rest handed
/// on to Step Functions, the run recorded.
pub mod run;
/// JSON logs for CloudWatch, each line carrying its invocation's request id.
pub mod telemetry;
