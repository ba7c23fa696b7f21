//! The recovery point objective: which DBs must have a recovery point in
//! which region, how old the newest one is, and when that is a breach. A
//! protected DB with no recovery point at all is a breach, never a gap.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::model::{Database, Fleet, Series, Snapshot};
use crate::domain::record::Verdict;
use crate::domain::tags::{self, TagFilter};

/// The DBs of a region the selection protects, and those it does not (so
/// that a new DB nobody tagged is seen). Cluster members are covered by
/// their cluster, and the DBs drills make are neither.
pub fn coverage<'a>(
    fleet: &'a Fleet,
    select: &TagFilter,
) -> (Vec<&'a Database>, Vec<&'a Database>) {
    fleet
        .databases
        .iter()
        .filter(|db| db.member_of.is_none())
        .filter(|db| db.tags.get(tags::DRILL).map(String::as_str) != Some(tags::DRILL_VALUE))
        .partition(|db| select.matches(&db.tags))
}

/// The newest available Lifeboat snapshot of each series among
/// `snapshots` (one region's).
pub fn newest_by_series(snapshots: &[Snapshot]) -> BTreeMap<Series, &Snapshot> {
    let mut newest: BTreeMap<Series, &Snapshot> = BTreeMap::new();
    for snapshot in snapshots
        .iter()
        .filter(|s| s.is_managed() && s.is_available() && s.recovery_point().is_some())
    {
        let series = snapshot.series();
        let newer = newest
            .get(&series)
            .is_none_or(|best| snapshot.recovery_point() > best.recovery_point());
        if newer {
            newest.insert(series, snapshot);
        }
    }
    newest
}

/// The series a recovery region answers for: every DB taken elsewhere with
/// a Lifeboat snapshot here, or a record in this region's catalog (a DB
/// whose copies are all gone still needs one).
pub fn recovered_here(
    snapshots: &[Snapshot],
    recorded: &[Series],
    region: &str,
) -> BTreeSet<Series> {
    snapshots
        .iter()
        .filter(|s| s.is_managed())
        .map(Snapshot::series)
        .chain(recorded.iter().cloned())
        .filter(|s| !s.source_region.is_empty() && s.source_region != region)
        .collect()
}

/// One DB's recovery point in one region, against the objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub snapshot_id: Option<String>,
    pub recovery_point_time: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
    pub objective_seconds: i64,
    /// Why the objective is breached; `None` when it is met.
    pub breach: Option<String>,
}

/// The newest recovery point `newest` of a DB in `region`, against
/// `objective` at `now`.
pub fn assess(
    region: &str,
    newest: Option<&Snapshot>,
    objective: TimeDelta,
    now: DateTime<Utc>,
) -> Assessment {
    let objective_seconds = objective.num_seconds();
    let point = newest.and_then(|s| Some((s, s.recovery_point()?)));
    let Some((snapshot, time)) = point else {
        return Assessment {
            snapshot_id: None,
            recovery_point_time: None,
            age_seconds: None,
            objective_seconds,
            breach: Some(format!(
                "no available Lifeboat snapshot in {region}: no recovery point there"
            )),
        };
    };
    let age = (now - time).num_seconds().max(0);
    Assessment {
        snapshot_id: Some(snapshot.id.clone()),
        recovery_point_time: Some(time),
        age_seconds: Some(age),
        objective_seconds,
        breach: (age > objective_seconds).then(|| {
            format!(
                "the newest recovery point in {region} ({}) is {} old; the objective is {}",
                snapshot.id,
                human(age),
                human(objective_seconds)
            )
        }),
    }
}

/// The last drill of a DB, against the longest a region may go without a
/// passing one: a failed drill, or none for that long, is a breach too.
pub fn drill_breach(
    last: Option<(Verdict, DateTime<Utc>)>,
    max_age: TimeDelta,
    now: DateTime<Utc>,
) -> Option<String> {
    match last {
        None => Some(format!(
            "no drill recorded; one is due at least every {}",
            human(max_age.num_seconds())
        )),
        Some((Verdict::Failed, at)) => Some(format!(
            "the last drill ({}) failed",
            at.format("%Y-%m-%d %H:%M UTC")
        )),
        Some((Verdict::Passed, at)) if now - at > max_age => Some(format!(
            "the last drill passed {} ago; one is due at least every {}",
            human((now - at).num_seconds()),
            human(max_age.num_seconds())
        )),
        Some((Verdict::Passed, _)) => None,
    }
}

/// `3d 4h`, `26h`, `12m`: a duration as an operator reads it.
pub fn human(seconds: i64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    match (d, h, m) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{Carried, DatabaseConfig, DatabaseKind, InstanceConfig};
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap()
    }

    fn snapshot(db: &str, source_region: &str, point: DateTime<Utc>, status: &str) -> Snapshot {
        Snapshot {
            id: format!("lifeboat-{db}-{}", point.format("%Y%m%d-%H%M")),
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
                (tags::CREATED_AT.to_string(), point.to_rfc3339()),
            ]),
            created_at: None,
            copied_from: None,
            carried: Carried::default(),
        }
    }

    #[test]
    fn the_newest_available_snapshot_counts() {
        let snapshots = vec![
            snapshot("orders", "us-east-1", at(1, 4), "available"),
            snapshot("orders", "us-east-1", at(2, 4), "available"),
            snapshot("orders", "us-east-1", at(3, 4), "creating"),
        ];
        let newest = newest_by_series(&snapshots);
        assert_eq!(newest.len(), 1);
        let best = newest.values().next().unwrap();
        assert_eq!(best.id, "lifeboat-orders-20261202-0400");
    }

    #[test]
    fn a_fresh_point_is_ok_and_a_stale_or_missing_one_breaches() {
        let rpo = TimeDelta::hours(26);
        let fresh = snapshot("orders", "us-east-1", at(3, 4), "available");
        let ok = assess("us-east-1", Some(&fresh), rpo, at(3, 12));
        assert_eq!(ok.age_seconds, Some(8 * 3600));
        assert_eq!(ok.breach, None);
        let stale = snapshot("orders", "us-east-1", at(1, 4), "available");
        let breached = assess("us-west-2", Some(&stale), rpo, at(4, 4));
        assert_eq!(breached.age_seconds, Some(3 * 86_400));
        let why = breached.breach.unwrap();
        assert!(why.contains("3d old") && why.contains("1d 2h"), "{why}");
        let none = assess("us-west-2", None, rpo, at(4, 4));
        assert!(none.breach.unwrap().contains("no recovery point"));
        assert_eq!(none.age_seconds, None);
    }

    #[test]
    fn a_recovery_region_answers_for_copies_and_records_from_elsewhere() {
        let snapshots = vec![
            snapshot("orders", "us-east-1", at(1, 4), "available"),
            snapshot("local", "us-west-2", at(1, 4), "available"),
        ];
        let recorded = vec![Series {
            source_region: "us-east-1".into(),
            kind: DatabaseKind::Cluster,
            database: "gone".into(),
        }];
        let here = recovered_here(&snapshots, &recorded, "us-west-2");
        let names: Vec<&str> = here.iter().map(|s| s.database.as_str()).collect();
        assert_eq!(names, ["orders", "gone"]);
    }

    #[test]
    fn a_failed_or_overdue_drill_breaches() {
        let max = TimeDelta::days(14);
        let now = at(20, 0);
        assert!(drill_breach(None, max, now).is_some());
        assert!(drill_breach(Some((Verdict::Failed, at(19, 0))), max, now).is_some());
        assert!(drill_breach(Some((Verdict::Passed, at(1, 0))), max, now).is_some());
        assert_eq!(
            drill_breach(Some((Verdict::Passed, at(15, 0))), max, now),
            None
        );
    }

    #[test]
    fn coverage_names_untagged_dbs_and_leaves_out_members_and_drills() {
        let db = |id: &str, tags: &[(&str, &str)], member_of: Option<&str>| Database {
            identifier: id.into(),
            kind: DatabaseKind::Instance,
            arn: String::new(),
            engine: "postgres".into(),
            engine_version: "16".into(),
            status: "available".into(),
            encrypted: false,
            kms_key_id: None,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            member_of: member_of.map(str::to_string),
            config: DatabaseConfig::Instance(InstanceConfig::default()),
        };
        let fleet = Fleet {
            databases: vec![
                db("orders", &[("lifeboat:backup", "true")], None),
                db("new-one", &[], None),
                db("member", &[], Some("c")),
                db("lifeboat-drill-x-20261203", &[(tags::DRILL, "true")], None),
            ],
        };
        let select = TagFilter::parse("lifeboat:backup=true").unwrap();
        let (protected, unprotected) = coverage(&fleet, &select);
        assert_eq!(protected.len(), 1);
        assert_eq!(unprotected.len(), 1);
        assert_eq!(unprotected[0].identifier, "new-one");
    }

    #[test]
    fn durations_read_as_an_operator_says_them() {
        assert_eq!(human(93_600), "1d 2h");
        assert_eq!(human(7_200), "2h");
        assert_eq!(human(750), "12m");
        assert_eq!(human(3 * 86_400), "3d");
    }
}
