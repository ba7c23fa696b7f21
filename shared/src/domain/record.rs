//! The catalog's records: one immutable JSON object per thing that happened,
//! its fields (the contract users read) and where it lives.
//!
//! Key layout (under `LIFEBOAT_CATALOG_PREFIX`):
//!
//! ```text
//! snapshots/<source-region>/<kind>/<database>/<inverted-time>-<snapshot-id>.json
//! copies/<region>/<kind>/<database>/<inverted-time>-<snapshot-id>.json
//! deletions/<region>/<kind>/<database>/<inverted-time>-<snapshot-id>.json
//! restores/<region>/<target>/<inverted-time>-started.json
//! restores/<region>/<target>/<inverted-time>-available.json
//! restores/<region>/<target>/<inverted-time>-failed.json
//! drills/<region>/<kind>/<database>/<inverted-time>-<target>.json
//! runs/<function>/<inverted-run-time>-<run-id>/run.json
//! runs/<function>/<inverted-run-time>-<run-id>/batch-<NNNN>.json
//! ```
//!
//! A run (`domain::run`) that took more than one invocation has a `run_batch`
//! record per invocation, and its last writes the `run` record of them all;
//! a run of one invocation has its `run` record alone. The time of a run's
//! keys is the run's own (its recovery point, or its "now"), the same for
//! every delivery of its event: a redelivered run finds its record there.
//!
//! `<kind>` is `instance` or `cluster`: an instance and a cluster may share
//! an identifier.
//!
//! A restore's records share its `<inverted-time>` (of its request): its
//! `started` record is written before it creates anything, and
//! `available` or `failed` after.
//!
//! `<inverted-time>` is `9999999999 - <recovery point, Unix seconds>`, ten
//! digits, so S3's ascending listing returns the newest snapshot of a DB
//! first: "the latest snapshot of orders" is one `ListObjectsV2` call with
//! `max-keys=1`.

use std::collections::BTreeMap;

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
    /// A restore failed, and what its rollback deleted.
    #[serde(rename = "restore_failed")]
    RestoreFailed,
    /// A drill: a copy restored, verified and deleted; the RTO and RPO
    /// it proved.
    Drill,
    /// A run of snapshot, copy's reconcile or prune, all its invocations.
    Run,
    /// One invocation of a run that took more than one.
    #[serde(rename = "run_batch")]
    RunBatch,
}

/// The envelope every record shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record<T> {
    pub schema: String,
    pub kind: RecordKind,
    pub recorded_at: DateTime<Utc>,
    /// The Lambda request that wrote it: a retry of that request (the same
    /// id) that finds the record knows the work is its own, and finishes
    /// it (announces it) rather than taking it for someone else's.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub body: T,
}

impl<T> Record<T> {
    pub fn new(kind: RecordKind, recorded_at: DateTime<Utc>, body: T) -> Self {
        Record {
            schema: SCHEMA.to_string(),
            kind,
            recorded_at,
            request_id: None,
            body,
        }
    }

    /// Stamps the record with the Lambda request writing it (none when
    /// empty).
    pub fn by_request(mut self, request_id: &str) -> Self {
        self.request_id = (!request_id.is_empty()).then(|| request_id.to_string());
        self
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
    db: (DatabaseKind, &str),
    recovery_point: Option<DateTime<Utc>>,
    snapshot_id: &str,
) -> String {
    format!(
        "{prefix}deletions/{region}/{}/{}-{snapshot_id}.json",
        db_path(db),
        newest_first(recovery_point)
    )
}

/// `<kind>/<database>`: an instance and a cluster may share an identifier,
/// and their records never mix.
fn db_path((kind, database): (DatabaseKind, &str)) -> String {
    format!("{}/{database}", kind.as_str())
}

/// `kind: "restore"`: a restore was started. Written before its first
/// create call, so that whatever it leaves behind is accounted for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreRecord {
    pub database: String,
    pub database_kind: DatabaseKind,
    pub snapshot_id: String,
    pub snapshot_arn: String,
    pub recovery_point_time: Option<DateTime<Utc>>,
    pub region: String,
    pub target: String,
    /// The restore's identity (`restore_plan::restore_id`), tagged
    /// `lifeboat:restore-id` on every DB it creates. Absent in records
    /// written before restores had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_id: Option<String>,
    /// The exact API parameters used.
    pub plan: serde_json::Value,
    pub requested_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
}

/// `kind: "restore_failed"`: a restore failed (a create call was refused)
/// and was rolled back: what it deleted, and what it could not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreFailedRecord {
    pub database: String,
    pub region: String,
    pub target: String,
    pub snapshot_id: String,
    pub restore_id: String,
    pub requested_at: DateTime<Utc>,
    pub failed_at: DateTime<Utc>,
    pub error: String,
    /// The DBs carrying `restore_id` the rollback deleted, newest first.
    pub deleted: Vec<String>,
    /// What the rollback could not delete, and why: to delete by hand.
    pub not_deleted: Vec<String>,
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

/// One verification of a drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
        }
    }
}

/// `kind: "drill"`: a snapshot restored for a drill, verified and deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillRecord {
    pub database: String,
    pub database_kind: DatabaseKind,
    pub source_region: String,
    pub region: String,
    pub target: String,
    pub snapshot_id: String,
    pub recovery_point_time: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    /// None when the drill DB never became available.
    pub available_at: Option<DateTime<Utc>>,
    /// From the start of the restore to the DB (and every cluster member)
    /// being available: the recovery time a real restore would achieve.
    pub recovery_time_seconds: Option<i64>,
    /// The data's age when the drill started: the recovery point a real
    /// restore at that moment would have had.
    pub recovery_point_age_seconds: Option<i64>,
    pub checks: Vec<Check>,
    pub verdict: Verdict,
    /// Every DB the drill made is deleted (or being deleted).
    pub cleaned_up: bool,
}

/// Where a drill's record lives: newest first per DB.
pub fn drill_key(
    prefix: &str,
    region: &str,
    db: (DatabaseKind, &str),
    started_at: DateTime<Utc>,
    target: &str,
) -> String {
    format!(
        "{}{}-{target}.json",
        drills_prefix(prefix, region, db),
        newest_first(Some(started_at))
    )
}

/// The prefix under which one DB's drill records in `region` sort newest
/// first.
pub fn drills_prefix(prefix: &str, region: &str, db: (DatabaseKind, &str)) -> String {
    format!("{}{}/", region_drills_prefix(prefix, region), db_path(db))
}

/// The prefix of every drill record in `region`: by DB, each DB's newest
/// first.
pub fn region_drills_prefix(prefix: &str, region: &str) -> String {
    format!("{prefix}drills/{region}/")
}

/// `kind: "run"`: a run of a fleet-wide function, from its first
/// invocation to its last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub function: String,
    pub run_id: String,
    pub trigger: Trigger,
    /// The run's time: the recovery point (snapshot), "now" (copy, prune).
    pub run_time: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub invocations: u32,
    /// Outcomes by name, over every invocation.
    pub counts: BTreeMap<String, usize>,
    /// Every failed outcome, from whichever invocation.
    pub failures: Vec<serde_json::Value>,
    /// Problems that were no one item's (events not published, a record
    /// not written).
    pub errors: Vec<String>,
    /// The `run_batch` records, for a run of more than one invocation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<String>,
}

/// `kind: "run_batch"`: what one invocation of a longer run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunBatchRecord {
    pub function: String,
    pub run_id: String,
    pub batch: u32,
    /// Where it started: after this item's key.
    #[serde(default)]
    pub after: Option<String>,
    /// Where the next invocation starts; `None` for the last.
    #[serde(default)]
    pub left_after: Option<String>,
    pub counts: BTreeMap<String, usize>,
    pub outcomes: Vec<serde_json::Value>,
    pub errors: Vec<String>,
}

/// The prefix of a run's records.
pub fn run_prefix(prefix: &str, function: &str, started_at: DateTime<Utc>, run_id: &str) -> String {
    format!(
        "{prefix}runs/{function}/{}-{run_id}/",
        newest_first(Some(started_at))
    )
}

/// Where a run's `run` record lives.
pub fn run_key(prefix: &str, function: &str, started_at: DateTime<Utc>, run_id: &str) -> String {
    format!(
        "{}run.json",
        run_prefix(prefix, function, started_at, run_id)
    )
}

/// Where one invocation's `run_batch` record lives; batches sort in order.
pub fn run_batch_key(
    prefix: &str,
    function: &str,
    run_time: DateTime<Utc>,
    run_id: &str,
    batch: u32,
) -> String {
    format!(
        "{}batch-{batch:04}.json",
        run_prefix(prefix, function, run_time, run_id)
    )
}

/// The prefix under which one target's restore records sort newest first.
pub fn restore_prefix(prefix: &str, region: &str, target: &str) -> String {
    format!("{prefix}restores/{region}/{target}/")
}

/// Which of a restore's records a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreStage {
    /// `kind: "restore"`.
    Started,
    /// `kind: "restore_available"`.
    Available,
    /// `kind: "restore_failed"`.
    Failed,
}

impl RestoreStage {
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreStage::Started => "started",
            RestoreStage::Available => "available",
            RestoreStage::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Started, Self::Available, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Where a restore's records live.
pub fn restore_key(
    prefix: &str,
    region: &str,
    target: &str,
    requested_at: DateTime<Utc>,
    stage: RestoreStage,
) -> String {
    format!(
        "{}{}-{}.json",
        restore_prefix(prefix, region, target),
        newest_first(Some(requested_at)),
        stage.as_str()
    )
}

/// For a key under `prefix` (a `restore_prefix`): the part its restore's
/// records share (the inverted request time) and which record it is.
pub fn restore_stage_of_key<'a>(prefix: &str, key: &'a str) -> Option<(&'a str, RestoreStage)> {
    let name = key.strip_prefix(prefix)?.strip_suffix(".json")?;
    let (time, stage) = name.split_once('-')?;
    (time.len() == 10 && time.bytes().all(|b| b.is_ascii_digit()))
        .then_some(())
        .and(RestoreStage::parse(stage))
        .map(|stage| (time, stage))
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
    db: (DatabaseKind, &str),
    recovery_point: Option<DateTime<Utc>>,
    snapshot_id: &str,
) -> String {
    format!(
        "{}{}/{}-{snapshot_id}.json",
        copies_prefix(prefix, region),
        db_path(db),
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
    db: (DatabaseKind, &str),
    recovery_point: DateTime<Utc>,
    snapshot_id: &str,
) -> String {
    format!(
        "{}{snapshot_id}.json",
        snapshot_key_prefix_at(prefix, source_region, db, recovery_point)
    )
}

/// The beginning of the key of every snapshot record of `database` at
/// `recovery_point`, whatever its snapshot's identifier.
pub fn snapshot_key_prefix_at(
    prefix: &str,
    source_region: &str,
    db: (DatabaseKind, &str),
    recovery_point: DateTime<Utc>,
) -> String {
    format!(
        "{}{}-",
        snapshot_prefix(prefix, source_region, db),
        newest_first(Some(recovery_point))
    )
}

/// The key prefix under which all snapshot records of one DB sort newest
/// first.
pub fn snapshot_prefix(prefix: &str, source_region: &str, db: (DatabaseKind, &str)) -> String {
    format!(
        "{}{}/",
        snapshots_prefix(prefix, source_region),
        db_path(db)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const ORDERS: (DatabaseKind, &str) = (DatabaseKind::Instance, "orders");

    #[test]
    fn newer_snapshots_sort_first() {
        let key = |h| {
            snapshot_key(
                "prod/",
                "us-east-1",
                ORDERS,
                Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0).unwrap(),
                "lifeboat-orders-x",
            )
        };
        let (early, late) = (key(3), key(4));
        assert!(late < early, "{late} should sort before {early}");
        assert!(early.starts_with("prod/snapshots/us-east-1/instance/orders/"));
        assert!(early.ends_with("-lifeboat-orders-x.json"));
    }

    #[test]
    fn a_snapshot_record_key_names_its_snapshot() {
        let when = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap();
        let key = snapshot_key(
            "p/",
            "us-east-1",
            ORDERS,
            when,
            "lifeboat-orders-20261124-0400",
        );
        let prefix = snapshot_prefix("p/", "us-east-1", ORDERS);
        assert_eq!(
            snapshot_id_of_key(&prefix, &key),
            Some("lifeboat-orders-20261124-0400")
        );
        assert_eq!(
            snapshot_id_of_key(&prefix, "p/snapshots/us-east-1/instance/orders/x.json"),
            None
        );
        assert_eq!(
            snapshot_id_of_key("p/snapshots/us-east-1/", &key),
            None,
            "a DB's folder is not a snapshot"
        );
        assert!(key.starts_with(&snapshots_prefix("p/", "us-east-1")));
        assert!(copy_key("p/", "us-west-2", ORDERS, Some(when), "s")
            .starts_with(&copies_prefix("p/", "us-west-2")));
    }

    #[test]
    fn an_instance_and_a_cluster_of_one_name_keep_their_records_apart() {
        let when = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap();
        let cluster = (DatabaseKind::Cluster, "orders");
        let id = "lifeboat-orders-20261124-0400";
        assert_ne!(
            snapshot_key("", "us-east-1", ORDERS, when, id),
            snapshot_key("", "us-east-1", cluster, when, id)
        );
        let instances = snapshot_prefix("", "us-east-1", ORDERS);
        assert!(!snapshot_key("", "us-east-1", cluster, when, id).starts_with(&instances));
        assert_ne!(
            copy_key("", "us-west-2", ORDERS, Some(when), id),
            copy_key("", "us-west-2", cluster, Some(when), id)
        );
        assert_ne!(
            deletion_key("", "us-west-2", ORDERS, Some(when), id),
            deletion_key("", "us-west-2", cluster, Some(when), id)
        );
        assert!(snapshot_key("", "us-east-1", ORDERS, when, id)
            .starts_with(&snapshot_key_prefix_at("", "us-east-1", ORDERS, when)));
    }

    #[test]
    fn a_restores_records_share_its_time_and_sort_newest_first() {
        let prefix = restore_prefix("p/", "us-west-2", "ledger-dr");
        let first = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap();
        let later = Utc.with_ymd_and_hms(2026, 11, 24, 5, 0, 0).unwrap();
        let key = |when, stage| restore_key("p/", "us-west-2", "ledger-dr", when, stage);
        let started = key(first, RestoreStage::Started);
        assert!(started.starts_with(&prefix) && started.ends_with("-started.json"));
        assert!(key(later, RestoreStage::Started) < started);
        let (time, stage) = restore_stage_of_key(&prefix, &started).unwrap();
        assert_eq!(stage, RestoreStage::Started);
        for other in [RestoreStage::Available, RestoreStage::Failed] {
            let k = key(first, other);
            assert_eq!(restore_stage_of_key(&prefix, &k), Some((time, other)));
        }
        assert_eq!(restore_stage_of_key(&prefix, "p/restores/x.json"), None);
        assert_eq!(
            restore_stage_of_key(&prefix, &format!("{prefix}0123456789-stopped.json")),
            None
        );
    }

    #[test]
    fn an_older_restore_record_without_an_identity_still_reads() {
        let json = serde_json::json!({
            "database": "orders", "database_kind": "instance",
            "snapshot_id": "s", "snapshot_arn": "arn", "recovery_point_time": null,
            "region": "us-west-2", "target": "t", "plan": {},
            "requested_at": "2026-11-24T04:00:00Z", "started_at": "2026-11-24T04:00:01Z"
        });
        let record: RestoreRecord = serde_json::from_value(json).unwrap();
        assert_eq!(record.restore_id, None);
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
