//! The catalog's records: one immutable JSON object per thing that happened,
//! its fields (the contract users read) and where it lives.
//!
//! Key layout (under `LIFEBOAT_CATALOG_PREFIX`):
//!
//! ```text
//! snapshots/<source-region>/<database>/<inverted-time>-<snapshot-id>.json
//! copies/<region>/<database>/<inverted-time>-<snapshot-id>.json
//! deletions/<region>/<database>/<inverted-time>-<snapshot-id>.json
//! restores/<region>/<target>/<inverted-time>-started.json
//! restores/<region>/<target>/<inverted-time>-available.json
//! ```
//!
//! `<inverted-time>` is `9999999999 - <recovery point, Unix seconds>`, ten
//! digits, so S3's ascending listing returns the newest snapshot of a DB
//! first: "the latest snapshot of orders" is one `ListObjectsV2` call with
//! `max-keys=1`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::model::{DatabaseConfig, DatabaseKind};
use crate::domain::trigger::Trigger;

pub const SCHEMA: &str = "lifeboat/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Snapshot,
    Copy,
    Deletion,
    Restore,
    /// A restored DB became available: the recovery time achieved.
    #[serde(rename = "restore_available")]
    RestoreAvailable,
}

/// The envelope every record shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record<T> {
    pub schema: String,
    pub kind: RecordKind,
    pub recorded_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: T,
}

impl<T> Record<T> {
    pub fn new(kind: RecordKind, recorded_at: DateTime<Utc>, body: T) -> Self {
        Record {
            schema: SCHEMA.to_string(),
            kind,
            recorded_at,
            body,
        }
    }
}

/// `kind: "snapshot"`: a snapshot Lifeboat took, and what a restore needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub snapshot_id: String,
    pub snapshot_arn: String,
    pub source_region: String,
    pub database: String,
    pub database_kind: DatabaseKind,
    pub engine: String,
    pub engine_version: String,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub recovery_point_time: DateTime<Utc>,
    pub trigger: Trigger,
    pub config: DatabaseConfig,
}

/// `kind: "copy"`: a snapshot copied into a DR region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyRecord {
    pub snapshot_id: String,
    pub source_arn: String,
    pub source_region: String,
    pub region: String,
    pub copy_arn: String,
    pub kms_key_id: Option<String>,
    pub database: String,
    pub database_kind: DatabaseKind,
    pub recovery_point_time: Option<DateTime<Utc>>,
}

/// `kind: "deletion"`: a snapshot the retention policy removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletionRecord {
    pub snapshot_id: String,
    pub snapshot_arn: String,
    pub region: String,
    pub database: String,
    pub database_kind: DatabaseKind,
    pub recovery_point_time: Option<DateTime<Utc>>,
    pub reason: String,
}

/// Where a deletion record lives.
pub fn deletion_key(
    prefix: &str,
    region: &str,
    database: &str,
    recovery_point: Option<DateTime<Utc>>,
    snapshot_id: &str,
) -> String {
    format!(
        "{prefix}deletions/{region}/{database}/{}-{snapshot_id}.json",
        newest_first(recovery_point)
    )
}

/// `kind: "restore"`: a restore was started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreRecord {
    pub database: String,
    pub database_kind: DatabaseKind,
    pub snapshot_id: String,
    pub snapshot_arn: String,
    pub recovery_point_time: Option<DateTime<Utc>>,
    pub region: String,
    pub target: String,
    /// The exact API parameters used.
    pub plan: serde_json::Value,
    pub requested_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
}

/// `kind: "restore_available"`: the restored DB is available.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreAvailableRecord {
    pub database: String,
    pub region: String,
    pub target: String,
    pub snapshot_id: String,
    pub requested_at: DateTime<Utc>,
    pub available_at: DateTime<Utc>,
    /// From the request to the DB being available: the recovery time
    /// actually achieved.
    pub recovery_time_seconds: i64,
}

/// The prefix under which one target's restore records sort newest first.
pub fn restore_prefix(prefix: &str, region: &str, target: &str) -> String {
    format!("{prefix}restores/{region}/{target}/")
}

/// Where a restore's records live: `<stage>` is `started` or `available`.
pub fn restore_key(
    prefix: &str,
    region: &str,
    target: &str,
    requested_at: DateTime<Utc>,
    stage: &str,
) -> String {
    format!(
        "{}{}-{stage}.json",
        restore_prefix(prefix, region, target),
        newest_first(Some(requested_at))
    )
}

const NEWEST_FIRST_BASE: i64 = 9_999_999_999;

fn newest_first(time: Option<DateTime<Utc>>) -> String {
    let seconds = time.map_or(0, |t| t.timestamp());
    format!(
        "{:010}",
        (NEWEST_FIRST_BASE - seconds).clamp(0, NEWEST_FIRST_BASE)
    )
}

/// Where a copy record lives.
pub fn copy_key(
    prefix: &str,
    region: &str,
    database: &str,
    recovery_point: Option<DateTime<Utc>>,
    snapshot_id: &str,
) -> String {
    format!(
        "{}{database}/{}-{snapshot_id}.json",
        copies_prefix(prefix, region),
        newest_first(recovery_point)
    )
}

/// The prefix of every copy record of copies into `region`.
pub fn copies_prefix(prefix: &str, region: &str) -> String {
    format!("{prefix}copies/{region}/")
}

/// The prefix of every snapshot record of snapshots taken in
/// `source_region`.
pub fn snapshots_prefix(prefix: &str, source_region: &str) -> String {
    format!("{prefix}snapshots/{source_region}/")
}

/// The snapshot identifier a snapshot record's key names, if `key` is one
/// under `prefix` (a `snapshot_prefix`).
pub fn snapshot_id_of_key<'a>(prefix: &str, key: &'a str) -> Option<&'a str> {
    // <inverted-time>-<snapshot-id>.json
    let name = key.strip_prefix(prefix)?.strip_suffix(".json")?;
    let (time, id) = name.split_once('-')?;
    (time.len() == 10 && time.bytes().all(|b| b.is_ascii_digit()) && !id.contains('/'))
        .then_some(id)
}

/// Where a snapshot record lives; see the module docs for the layout.
pub fn snapshot_key(
    prefix: &str,
    source_region: &str,
    database: &str,
    recovery_point: DateTime<Utc>,
    snapshot_id: &str,
) -> String {
    let inverted = (NEWEST_FIRST_BASE - recovery_point.timestamp()).clamp(0, NEWEST_FIRST_BASE);
    format!(
        "{}{inverted:010}-{snapshot_id}.json",
        snapshot_prefix(prefix, source_region, database)
    )
}

/// The key prefix under which all snapshot records of one DB sort newest
/// first.
pub fn snapshot_prefix(prefix: &str, source_region: &str, database: &str) -> String {
    format!("{}{database}/", snapshots_prefix(prefix, source_region))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn newer_snapshots_sort_first() {
        let key = |h| {
            snapshot_key(
                "prod/",
                "us-east-1",
                "orders",
                Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0).unwrap(),
                "lifeboat-orders-x",
            )
        };
        let (early, late) = (key(3), key(4));
        assert!(late < early, "{late} should sort before {early}");
        assert!(early.starts_with("prod/snapshots/us-east-1/orders/"));
        assert!(early.ends_with("-lifeboat-orders-x.json"));
    }

    #[test]
    fn a_snapshot_record_key_names_its_snapshot() {
        let when = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap();
        let key = snapshot_key(
            "p/",
            "us-east-1",
            "orders",
            when,
            "lifeboat-orders-20261124-0400",
        );
        let prefix = snapshot_prefix("p/", "us-east-1", "orders");
        assert_eq!(
            snapshot_id_of_key(&prefix, &key),
            Some("lifeboat-orders-20261124-0400")
        );
        assert_eq!(
            snapshot_id_of_key(&prefix, "p/snapshots/us-east-1/orders/x.json"),
            None
        );
        assert_eq!(
            snapshot_id_of_key("p/snapshots/us-east-1/", &key),
            None,
            "a DB's folder is not a snapshot"
        );
        assert!(key.starts_with(&snapshots_prefix("p/", "us-east-1")));
        assert!(copy_key("p/", "us-west-2", "orders", Some(when), "s")
            .starts_with(&copies_prefix("p/", "us-west-2")));
    }

    #[test]
    fn the_envelope_is_flat_json() {
        #[derive(Serialize)]
        struct Body {
            snapshot_id: &'static str,
        }
        let when = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap();
        let json = serde_json::to_value(Record::new(
            RecordKind::Snapshot,
            when,
            Body { snapshot_id: "s" },
        ))
        .unwrap();
        assert_eq!(json["schema"], "lifeboat/v1");
        assert_eq!(json["kind"], "snapshot");
        assert_eq!(json["recorded_at"], "2026-11-24T04:00:00Z");
        assert_eq!(json["snapshot_id"], "s");
    }
}
