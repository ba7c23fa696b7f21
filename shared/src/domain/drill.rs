//! Drills: which snapshot of each DB a drill restores, what a drill DB
//! must look like to pass, which drill DBs are leftovers to delete, and
//! the figures a drill proves (the recovery time and the recovery point).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::model::{DatabaseConfig, DatabaseKind, Series, Snapshot};
use crate::domain::record::{Check, SnapshotRecord, Verdict};
use crate::domain::restore_plan::requested_at_of;
use crate::domain::tags;

/// What a drill restores for one DB: the newest available copy of it in
/// the region.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub series: Series,
    pub snapshot: Snapshot,
}

/// The DBs a drill in `region` covers, and the newest available copy of
/// each: every DB with a Lifeboat copy here (taken in another region), or
/// only those in `only`. Also, per DB asked for that cannot be drilled,
/// why.
pub fn candidates(
    snapshots: &[Snapshot],
    region: &str,
    only: Option<&[String]>,
) -> (Vec<Candidate>, Vec<(String, String)>) {
    let mut newest: BTreeMap<Series, &Snapshot> = BTreeMap::new();
    let mut pending: BTreeSet<Series> = BTreeSet::new();
    for snapshot in snapshots.iter().filter(|s| s.is_managed()) {
        let series = snapshot.series();
        if series.source_region.is_empty() || series.source_region == region {
            continue;
        }
        if only.is_some_and(|only| !only.contains(&series.database)) {
            continue;
        }
        if !snapshot.is_available() {
            pending.insert(series);
            continue;
        }
        let newer = newest.get(&series).is_none_or(|best| {
            (snapshot.recovery_point(), &snapshot.id) > (best.recovery_point(), &best.id)
        });
        if newer {
            newest.insert(series, snapshot);
        }
    }
    let mut skipped = Vec::new();
    // Two DBs of one name (an instance and a cluster, two source regions)
    // would share a drill target: drilled neither, and said why.
    let mut by_name: BTreeMap<&str, Vec<&Series>> = BTreeMap::new();
    for series in newest.keys() {
        by_name.entry(&series.database).or_default().push(series);
    }
    let ambiguous: BTreeSet<&str> = by_name
        .iter()
        .filter(|(_, all)| all.len() > 1)
        .map(|(name, _)| *name)
        .collect();
    for name in &ambiguous {
        let all: Vec<String> = by_name[name].iter().map(|s| s.describe()).collect();
        skipped.push((
            name.to_string(),
            format!(
                "copies of {} DBs named {name} are in {region} ({}); a drill target would be theirs to share: restore each by hand with \"source_region\" and \"database_kind\"",
                all.len(),
                all.join(", ")
            ),
        ));
    }
    let chosen: Vec<Candidate> = newest
        .iter()
        .filter(|(series, _)| !ambiguous.contains(series.database.as_str()))
        .map(|(series, snapshot)| Candidate {
            series: series.clone(),
            snapshot: (*snapshot).clone(),
        })
        .collect();
    for name in only.unwrap_or_default() {
        let covered =
            chosen.iter().any(|c| &c.series.database == name) || ambiguous.contains(name.as_str());
        if !covered {
            let why = if pending.iter().any(|s| &s.database == name) {
                format!("its copies in {region} are still being made")
            } else {
                format!("no Lifeboat copy of {name} in {region}")
            };
            skipped.push((name.clone(), why));
        }
    }
    (chosen, skipped)
}

/// A drill DB as RDS describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub allocated_storage_gib: Option<i32>,
    /// The DB parameter group (an instance), or the DB cluster parameter
    /// group (a cluster).
    pub parameter_group: Option<String>,
    pub endpoint: Option<String>,
    pub port: Option<i32>,
    pub tags: BTreeMap<String, String>,
    pub deletion_protection: bool,
    /// A cluster's members, with their statuses.
    pub members: Vec<(String, String)>,
}

impl Observed {
    /// The DB and every member are available.
    pub fn is_available(&self) -> bool {
        self.status == "available" && self.members.iter().all(|(_, s)| s == "available")
    }
}

fn check(name: &str, passed: bool, detail: String) -> Check {
    Check {
        name: name.to_string(),
        passed,
        detail,
    }
}

/// A check that the restored DB has what the record says; values read as
/// a person reads them ("none" where there is none).
fn compare<T: PartialEq + std::fmt::Display>(
    name: &str,
    recorded: Option<T>,
    observed: Option<T>,
) -> Check {
    let shown = |v: &Option<T>| v.as_ref().map_or_else(|| "none".to_string(), T::to_string);
    let passed = recorded == observed;
    let detail = if passed {
        format!("{}, as recorded", shown(&observed))
    } else {
        format!(
            "recorded {}, restored {}",
            shown(&recorded),
            shown(&observed)
        )
    };
    check(name, passed, detail)
}

/// The checks a drill DB must pass: available (with every cluster member),
/// and engine, version, storage and parameter group as the snapshot's
/// catalog record says. A snapshot without its record fails: a real
/// restore of it would need everything given by hand.
pub fn verify(
    kind: DatabaseKind,
    record: Result<&SnapshotRecord, &str>,
    observed: &Observed,
) -> Vec<Check> {
    let mut checks = vec![check(
        "available",
        observed.is_available(),
        if observed.members.is_empty() {
            observed.status.clone()
        } else {
            let members: Vec<String> = observed
                .members
                .iter()
                .map(|(id, status)| format!("{id} {status}"))
                .collect();
            format!("{}; members: {}", observed.status, members.join(", "))
        },
    )];
    let record = match record {
        Ok(record) => record,
        Err(why) => {
            checks.push(check("catalog record", false, why.to_string()));
            return checks;
        }
    };
    checks.push(compare(
        "engine",
        Some(&record.engine),
        Some(&observed.engine),
    ));
    checks.push(compare(
        "engine version",
        Some(&record.engine_version),
        Some(&observed.engine_version),
    ));
    match (&record.config, kind) {
        (DatabaseConfig::Instance(config), DatabaseKind::Instance) => {
            checks.push(compare(
                "allocated storage (GiB)",
                config.allocated_storage_gib,
                observed.allocated_storage_gib,
            ));
            checks.push(compare(
                "parameter group",
                config.parameter_group.as_deref(),
                observed.parameter_group.as_deref(),
            ));
        }
        (DatabaseConfig::Cluster(config), DatabaseKind::Cluster) => {
            checks.push(compare(
                "cluster parameter group",
                config.parameter_group.as_deref(),
                observed.parameter_group.as_deref(),
            ));
            checks.push(compare(
                "cluster members",
                Some(config.members.len()),
                Some(observed.members.len()),
            ));
        }
        _ => checks.push(check(
            "kind",
            false,
            format!(
                "the record describes a {}, the drill restored a {}",
                record.database_kind.as_str(),
                kind.as_str()
            ),
        )),
    }
    checks
}

/// Passed when every check passed.
pub fn verdict(checks: &[Check]) -> Verdict {
    if !checks.is_empty() && checks.iter().all(|c| c.passed) {
        Verdict::Passed
    } else {
        Verdict::Failed
    }
}

/// What the user's validator answered, as a check: `{"status": "passed"}`
/// passes, `{"status": "failed", "details": ...}` fails, anything else
/// fails and says what came back.
pub fn validator_check(function: &str, answer: Result<&serde_json::Value, String>) -> Check {
    let name = format!("validator {function}");
    let answer = match answer {
        Ok(answer) => answer,
        Err(problem) => return check(&name, false, problem),
    };
    let details = match answer.get("details") {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    match answer.get("status").and_then(|s| s.as_str()) {
        Some("passed") => check(&name, true, details),
        Some("failed") => check(&name, false, details),
        _ => check(
            &name,
            false,
            format!(
                "expected {{\"status\": \"passed\"|\"failed\", \"details\": ...}}, got {answer}"
            ),
        ),
    }
}

/// A DB a drill made (tagged `lifeboat:drill=true`) that no running drill
/// can still be using: its restore was requested longer than `timeout` ago
/// (or its identity cannot be read). Anything without the tag is never a
/// leftover, whatever its name.
pub fn is_leftover(
    db_tags: &BTreeMap<String, String>,
    now: DateTime<Utc>,
    timeout: TimeDelta,
) -> bool {
    if db_tags.get(tags::DRILL).map(String::as_str) != Some(tags::DRILL_VALUE) {
        return false;
    }
    match db_tags
        .get(tags::RESTORE_ID)
        .and_then(|id| requested_at_of(id))
    {
        Some(requested) => now - requested > timeout,
        None => true,
    }
}

/// Seconds from `from` to `to`, never negative.
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_seconds().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{Carried, InstanceConfig};
    use crate::domain::trigger::Trigger;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap()
    }

    fn copy(db: &str, source_region: &str, day: u32, status: &str) -> Snapshot {
        Snapshot {
            id: format!("lifeboat-{db}-202612{day:02}-0400"),
            arn: String::new(),
            kind: DatabaseKind::Instance,
            database: db.to_string(),
            status: status.to_string(),
            engine: "postgres".into(),
            encrypted: false,
            kms_key_id: None,
            option_group: None,
            tags: BTreeMap::from([
                (tags::MANAGED.to_string(), "true".to_string()),
                (tags::SOURCE_DB.to_string(), db.to_string()),
                (tags::SOURCE_REGION.to_string(), source_region.to_string()),
                (tags::CREATED_AT.to_string(), at(day, 4).to_rfc3339()),
            ]),
            created_at: None,
            copied_from: Some(source_region.to_string()),
            carried: Carried::default(),
        }
    }

    #[test]
    fn a_drill_takes_the_newest_available_copy_of_each_db() {
        let snapshots = vec![
            copy("orders", "us-east-1", 1, "available"),
            copy("orders", "us-east-1", 2, "available"),
            copy("orders", "us-east-1", 3, "copying"),
            copy("ledger", "us-east-1", 2, "available"),
            // Taken here, not a copy: the primary stack's own, not drilled.
            copy("local", "us-west-2", 2, "available"),
        ];
        let (chosen, skipped) = candidates(&snapshots, "us-west-2", None);
        let ids: Vec<&str> = chosen.iter().map(|c| c.snapshot.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "lifeboat-ledger-20261202-0400",
                "lifeboat-orders-20261202-0400"
            ]
        );
        assert!(skipped.is_empty());
    }

    #[test]
    fn a_db_asked_for_without_a_copy_is_skipped_with_the_reason() {
        let snapshots = vec![
            copy("orders", "us-east-1", 1, "available"),
            copy("ledger", "us-east-1", 2, "copying"),
        ];
        let only = ["ledger".to_string(), "ghost".to_string()];
        let (chosen, skipped) = candidates(&snapshots, "us-west-2", Some(&only));
        assert!(chosen.is_empty());
        assert_eq!(skipped.len(), 2);
        assert!(skipped[0].1.contains("still being made"), "{skipped:?}");
        assert!(
            skipped[1].1.contains("no Lifeboat copy of ghost"),
            "{skipped:?}"
        );
    }

    #[test]
    fn two_dbs_of_one_name_are_never_drilled_into_one_target() {
        let snapshots = vec![
            copy("orders", "us-east-1", 1, "available"),
            copy("orders", "eu-west-1", 1, "available"),
        ];
        let (chosen, skipped) = candidates(&snapshots, "us-west-2", None);
        assert!(chosen.is_empty());
        assert!(skipped[0].1.contains("2 DBs named orders"), "{skipped:?}");
    }

    fn record() -> SnapshotRecord {
        SnapshotRecord {
            snapshot_id: "lifeboat-orders-20261202-0400".into(),
            snapshot_arn: String::new(),
            source_region: "us-east-1".into(),
            database: "orders".into(),
            database_kind: DatabaseKind::Instance,
            engine: "postgres".into(),
            engine_version: "16.3".into(),
            encrypted: false,
            kms_key_id: None,
            recovery_point_time: at(2, 4),
            trigger: Trigger::new(crate::domain::trigger::TriggerKind::Schedule),
            config: DatabaseConfig::Instance(InstanceConfig {
                allocated_storage_gib: Some(100),
                parameter_group: Some("orders-pg".into()),
                ..InstanceConfig::default()
            }),
        }
    }

    fn observed() -> Observed {
        Observed {
            status: "available".into(),
            engine: "postgres".into(),
            engine_version: "16.3".into(),
            allocated_storage_gib: Some(100),
            parameter_group: Some("orders-pg".into()),
            ..Observed::default()
        }
    }

    #[test]
    fn a_drill_db_as_recorded_passes() {
        let checks = verify(DatabaseKind::Instance, Ok(&record()), &observed());
        assert_eq!(verdict(&checks), Verdict::Passed, "{checks:?}");
        assert_eq!(checks.len(), 5);
    }

    #[test]
    fn a_changed_engine_version_fails_and_says_both() {
        let mut record = record();
        record.engine_version = "15.7".into();
        let checks = verify(DatabaseKind::Instance, Ok(&record), &observed());
        assert_eq!(verdict(&checks), Verdict::Failed);
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].name, "engine version");
        assert!(failed[0].detail.contains("15.7") && failed[0].detail.contains("16.3"));
    }

    #[test]
    fn an_unavailable_member_or_a_missing_record_fails() {
        let mut cluster = observed();
        cluster.members = vec![("m-1".into(), "creating".into())];
        assert!(!cluster.is_available());
        let checks = verify(DatabaseKind::Instance, Err("no record"), &observed());
        assert_eq!(verdict(&checks), Verdict::Failed);
        assert_eq!(checks[1].name, "catalog record");
        assert_eq!(verdict(&[]), Verdict::Failed);
    }

    #[test]
    fn the_validator_answer_decides_its_check() {
        let passed = serde_json::json!({"status": "passed", "details": {"rows": 12}});
        let c = validator_check("check-orders", Ok(&passed));
        assert!(c.passed);
        assert_eq!(c.detail, r#"{"rows":12}"#);
        let failed = serde_json::json!({"status": "failed", "details": "0 rows"});
        assert!(!validator_check("v", Ok(&failed)).passed);
        let odd = serde_json::json!({"ok": true});
        assert!(validator_check("v", Ok(&odd)).detail.contains("expected"));
        assert!(!validator_check("v", Err("Unhandled: boom".into())).passed);
    }

    #[test]
    fn only_a_drill_tagged_db_older_than_the_timeout_is_a_leftover() {
        let now = at(3, 12);
        let timeout = TimeDelta::hours(2);
        let drill = |restore_id: &str| {
            BTreeMap::from([
                (tags::DRILL.to_string(), "true".to_string()),
                (tags::RESTORE_ID.to_string(), restore_id.to_string()),
            ])
        };
        assert!(is_leftover(&drill("t@20261203T090000Z"), now, timeout));
        assert!(!is_leftover(&drill("t@20261203T110000Z"), now, timeout));
        assert!(is_leftover(&drill("garbled"), now, timeout));
        let untagged = BTreeMap::from([(
            tags::RESTORE_ID.to_string(),
            "t@20261201T000000Z".to_string(),
        )]);
        assert!(!is_leftover(&untagged, now, timeout));
    }
}
