//! Decisions: pure functions over plain data. Nothing here calls AWS or
//! reads the clock; `now` is an argument.

/// Which snapshots to copy into which DR region, within RDS's copy limits.
pub mod copy_plan;
/// Drills: what a drill restores, what it must find, what it may delete.
pub mod drill;
/// RDS identifier rules, for checking what a person typed.
pub mod identifier;
/// DB instances, DB clusters and snapshots as the domain sees them, and the
/// configuration a restore needs.
pub mod model;
/// Snapshot identifiers (`lifeboat-<db>-<YYYYMMDD>-<HHMM>`) and drill
/// targets (`lifeboat-drill-<db>-<YYYYMMDD>`).
pub mod naming;
/// What an invocation did: one outcome per DB or snapshot, and the summary.
pub mod outcome;
/// The catalog's records: their fields and their keys in the bucket.
pub mod record;
/// The recovery point objective: how old each DB's newest recovery point
/// is in each region, and when that is a breach.
pub mod recovery_point;
/// Snapshots without their catalog record, for a later run to record.
pub mod repair;
/// The exact RDS calls that rebuild a DB from a snapshot, or why not.
pub mod restore_plan;
/// Grandfather-father-son retention: which snapshots a policy keeps.
pub mod retention;
/// Runs that outlast an invocation: their identity, their order, where the
/// next invocation starts, when to stop starting work.
pub mod run;
/// Which DBs a snapshot run takes, and why it skips the others.
pub mod selection;
/// Lifeboat's tags: the selection tag it reads, the tags it writes, and the
/// rules about tags RDS reserves.
pub mod tags;
/// Why an invocation ran (schedule, alarm, manual, RDS event).
pub mod trigger;
