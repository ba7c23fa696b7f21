//! Snapshots without their record: a snapshot taken while the catalog was
//! unreachable exists in RDS but not in the catalog. A later scheduled run
//! finds it here and records it, so it is repaired, not orphaned.

use std::collections::BTreeSet;

use crate::domain::model::{Database, Snapshot};

/// The snapshots of `db` that Lifeboat's snapshot function took in
/// `region` (not copies made into it, not foreign snapshots) whose
/// identifiers are not among `recorded`, oldest first.
pub fn unrecorded<'a>(
    snapshots: &'a [Snapshot],
    db: &Database,
    region: &str,
    recorded: &BTreeSet<String>,
) -> Vec<&'a Snapshot> {
    let mut missing: Vec<&Snapshot> = snapshots
        .iter()
        .filter(|s| is_taken_of(s, db, region) && !recorded.contains(&s.id))
        .collect();
    missing.sort_by_key(|s| (s.recovery_point(), s.id.clone()));
    missing
}

/// Whether the snapshot function took `snapshot` of `db` in `region`.
pub fn is_taken_of(snapshot: &Snapshot, db: &Database, region: &str) -> bool {
    let series = snapshot.series();
    snapshot.is_managed()
        && snapshot.copied_from.is_none()
        && series.source_region == region
        && series.kind == db.kind
        && series.database.eq_ignore_ascii_case(&db.identifier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{DatabaseConfig, DatabaseKind, InstanceConfig};
    use std::collections::BTreeMap;

    fn db(kind: DatabaseKind, id: &str) -> Database {
        Database {
            identifier: id.to_string(),
            kind,
            arn: format!("arn:aws:rds:us-east-1:123456789012:db:{id}"),
            engine: "postgres".to_string(),
            engine_version: "16.4".to_string(),
            status: "available".to_string(),
            encrypted: false,
            kms_key_id: None,
            tags: BTreeMap::new(),
            member_of: None,
            config: DatabaseConfig::Instance(InstanceConfig::default()),
        }
    }

    fn snapshot(id: &str, kind: DatabaseKind, db: &str, region: &str, at: &str) -> Snapshot {
        let tags: BTreeMap<String, String> = [
            ("lifeboat:managed", "true"),
            ("lifeboat:source-db", db),
            ("lifeboat:source-region", region),
            ("lifeboat:created-at", at),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Snapshot {
            id: id.to_string(),
            arn: format!("arn:aws:rds:{region}:123456789012:snapshot:{id}"),
            kind,
            database: db.to_string(),
            status: "available".to_string(),
            engine: "postgres".to_string(),
            encrypted: false,
            kms_key_id: None,
            option_group: None,
            tags,
            created_at: None,
            copied_from: None,
            carried: Default::default(),
        }
    }

    #[test]
    fn only_this_regions_own_snapshots_of_the_db_without_a_record() {
        let orders = db(DatabaseKind::Instance, "orders");
        let mut copy = snapshot(
            "lifeboat-orders-20261124-0400",
            DatabaseKind::Instance,
            "orders",
            "us-east-1",
            "2026-11-24T04:00:00Z",
        );
        copy.copied_from = Some("us-west-2".to_string());
        let snapshots = vec![
            snapshot(
                "lifeboat-orders-20261125-0400",
                DatabaseKind::Instance,
                "orders",
                "us-east-1",
                "2026-11-25T04:00:00Z",
            ),
            snapshot(
                "lifeboat-orders-20261123-0400",
                DatabaseKind::Instance,
                "orders",
                "us-east-1",
                "2026-11-23T04:00:00Z",
            ),
            snapshot(
                "lifeboat-orders-20261122-0400",
                DatabaseKind::Instance,
                "orders",
                "us-east-1",
                "2026-11-22T04:00:00Z",
            ),
            // Another stack's orders, copied here; a cluster named orders;
            // a foreign snapshot wearing the tags.
            snapshot(
                "lifeboat-orders-20261121-0400",
                DatabaseKind::Instance,
                "orders",
                "eu-west-1",
                "2026-11-21T04:00:00Z",
            ),
            snapshot(
                "lifeboat-orders-20261120-0400",
                DatabaseKind::Cluster,
                "orders",
                "us-east-1",
                "2026-11-20T04:00:00Z",
            ),
            snapshot(
                "manual-orders",
                DatabaseKind::Instance,
                "orders",
                "us-east-1",
                "2026-11-19T04:00:00Z",
            ),
            copy,
        ];
        let recorded = BTreeSet::from(["lifeboat-orders-20261122-0400".to_string()]);
        let ids: Vec<&str> = unrecorded(&snapshots, &orders, "us-east-1", &recorded)
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "lifeboat-orders-20261123-0400",
                "lifeboat-orders-20261125-0400"
            ]
        );
    }
}
