//! Adapters over the AWS SDK. Each translates between the SDK's types and
//! the domain's, and maps SDK errors once ("already exists" and "not found"
//! become outcomes here, not in the callers).

/// The S3 catalog: immutable JSON records, never rewritten.
pub mod catalog;
/// The SDK clients, built once per cold start.
pub mod clients;
/// RDS's API throttle, respected: one adaptive token bucket per region.
pub mod pacing;
/// Lifeboat's own events on EventBridge, sent in batches.
pub mod publisher;
/// RDS: the fleet, snapshots and their copies, and restores.
pub mod rds;
/// Step Functions: a run that outlasts its invocation, handed on.
pub mod runs;
