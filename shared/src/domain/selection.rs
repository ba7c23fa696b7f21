//! Which DBs a snapshot run covers: pure, over a described fleet.
//!
//! An Aurora member instance is never a target on its own: its cluster's
//! snapshot covers it (RDS refuses a DB snapshot of a member instance), so a
//! request naming one is turned into a request for its cluster.

use crate::domain::model::{Database, DatabaseKind, Fleet};
use crate::domain::outcome::{Entry, Outcome};
use crate::domain::tags::TagFilter;

/// What the triggering event asked for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every DB carrying the selection tag.
    Selected,
    /// These DBs, tagged or not: somebody (a manual request or an alarm's
    /// dimensions) named them.
    Named(Vec<DbRef>),
}

/// A DB named in an event; `kind` is known when an alarm dimension said
/// which (`DBInstanceIdentifier` or `DBClusterIdentifier`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbRef {
    pub identifier: String,
    pub kind: Option<DatabaseKind>,
}

#[derive(Debug, Default)]
pub struct Selection<'a> {
    /// The DBs to snapshot, each once.
    pub targets: Vec<&'a Database>,
    /// Outcomes decided without calling AWS: skipped or unknown DBs.
    pub outcomes: Vec<Entry>,
}

pub fn select<'a>(fleet: &'a Fleet, scope: &Scope, filter: &TagFilter) -> Selection<'a> {
    let mut selection = Selection::default();
    match scope {
        Scope::Selected => {
            for db in &fleet.databases {
                let skip = |reason: String| {
                    Entry::new(&db.identifier, Outcome::Skipped { reason }).kind(db.kind)
                };
                if let Some(cluster) = &db.member_of {
                    let covered = fleet
                        .find(DatabaseKind::Cluster, cluster)
                        .is_some_and(|c| filter.matches(&c.tags));
                    let reason = if covered {
                        format!("member of DB cluster {cluster}: covered by the cluster's snapshot")
                    } else {
                        format!("member of DB cluster {cluster}, which does not carry {filter}")
                    };
                    selection.outcomes.push(skip(reason));
                } else if !filter.matches(&db.tags) {
                    selection
                        .outcomes
                        .push(skip(format!("not selected: no tag {filter}")));
                } else {
                    selection.add(db);
                }
            }
        }
        Scope::Named(refs) => {
            for r in refs {
                let found = resolve(fleet, r);
                if found.is_empty() {
                    let mut entry = Entry::new(
                        &r.identifier,
                        Outcome::failed(&crate::Error::UnknownDatabase(r.identifier.clone())),
                    );
                    entry.database_kind = r.kind;
                    selection.outcomes.push(entry);
                }
                for db in found {
                    selection.add(db);
                }
            }
        }
    }
    selection
}

impl<'a> Selection<'a> {
    fn add(&mut self, db: &'a Database) {
        let seen = self
            .targets
            .iter()
            .any(|t| t.kind == db.kind && t.identifier == db.identifier)
            || self
                .outcomes
                .iter()
                .any(|e| e.database == db.identifier && e.database_kind == Some(db.kind));
        if seen {
            return;
        }
        match snapshot_blocked_by(&db.status) {
            Some(reason) => self
                .outcomes
                .push(Entry::new(&db.identifier, Outcome::Skipped { reason }).kind(db.kind)),
            None => self.targets.push(db),
        }
    }
}

/// The DBs a name refers to: an instance or a cluster (both, in the rare case
/// an instance and a cluster share an identifier and the event didn't say),
/// with member instances replaced by their cluster.
fn resolve<'a>(fleet: &'a Fleet, r: &DbRef) -> Vec<&'a Database> {
    let kinds: &[DatabaseKind] = match r.kind {
        Some(DatabaseKind::Instance) => &[DatabaseKind::Instance],
        Some(DatabaseKind::Cluster) => &[DatabaseKind::Cluster],
        None => &[DatabaseKind::Instance, DatabaseKind::Cluster],
    };
    kinds
        .iter()
        .filter_map(|kind| fleet.find(*kind, &r.identifier))
        .filter_map(|db| match &db.member_of {
            Some(cluster) => fleet.find(DatabaseKind::Cluster, cluster),
            None => Some(db),
        })
        .collect()
}

/// RDS refuses a snapshot in these states; saying so beats a failed call.
/// Anything else (available, stopped, backing-up, modifying, ...) is tried,
/// and RDS has the last word.
fn snapshot_blocked_by(status: &str) -> Option<String> {
    let blocked = matches!(
        status,
        "creating" | "deleting" | "failed" | "restore-error" | "incompatible-restore"
    ) || status.starts_with("inaccessible-encryption-credentials")
        || status.starts_with("incompatible-");
    blocked.then(|| format!("DB status is {status}: RDS takes no snapshot in that state"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{ClusterConfig, DatabaseConfig, InstanceConfig};
    use std::collections::BTreeMap;

    fn db(id: &str, kind: DatabaseKind, tagged: bool, member_of: Option<&str>) -> Database {
        let mut tags = BTreeMap::new();
        if tagged {
            tags.insert("lifeboat:backup".to_string(), "true".to_string());
        }
        Database {
            identifier: id.to_string(),
            kind,
            arn: format!(
                "arn:aws:rds:us-east-1:123456789012:{}:{id}",
                if kind == DatabaseKind::Cluster {
                    "cluster"
                } else {
                    "db"
                }
            ),
            engine: "postgres".to_string(),
            engine_version: "16.4".to_string(),
            status: "available".to_string(),
            encrypted: false,
            kms_key_id: None,
            tags,
            member_of: member_of.map(str::to_string),
            config: match kind {
                DatabaseKind::Instance => DatabaseConfig::Instance(InstanceConfig::default()),
                DatabaseKind::Cluster => DatabaseConfig::Cluster(ClusterConfig::default()),
            },
        }
    }

    fn fleet() -> Fleet {
        Fleet {
            databases: vec![
                db("orders", DatabaseKind::Instance, true, None),
                db("analytics", DatabaseKind::Instance, false, None),
                db("ledger", DatabaseKind::Cluster, true, None),
                db("ledger-1", DatabaseKind::Instance, true, Some("ledger")),
                db("ledger-2", DatabaseKind::Instance, false, Some("ledger")),
                db("reports", DatabaseKind::Cluster, false, None),
                db("reports-1", DatabaseKind::Instance, true, Some("reports")),
            ],
        }
    }

    fn filter() -> TagFilter {
        TagFilter::parse("lifeboat:backup=true").unwrap()
    }

    fn ids(selection: &Selection) -> Vec<String> {
        selection
            .targets
            .iter()
            .map(|d| format!("{}:{}", d.kind.as_str(), d.identifier))
            .collect()
    }

    fn outcome_of<'s>(selection: &'s Selection, id: &str) -> &'s Outcome {
        &selection
            .outcomes
            .iter()
            .find(|e| e.database == id)
            .unwrap()
            .outcome
    }

    #[test]
    fn selected_scope_takes_tagged_instances_and_clusters_never_members() {
        let fleet = fleet();
        let s = select(&fleet, &Scope::Selected, &filter());
        assert_eq!(ids(&s), ["instance:orders", "cluster:ledger"]);
        // One outcome for every DB in the fleet.
        assert_eq!(s.targets.len() + s.outcomes.len(), fleet.databases.len());
        let Outcome::Skipped { reason } = outcome_of(&s, "ledger-1") else {
            panic!()
        };
        assert!(
            reason.contains("covered by the cluster's snapshot"),
            "{reason}"
        );
        let Outcome::Skipped { reason } = outcome_of(&s, "reports-1") else {
            panic!()
        };
        assert!(reason.contains("reports, which does not carry"), "{reason}");
        let Outcome::Skipped { reason } = outcome_of(&s, "analytics") else {
            panic!()
        };
        assert!(reason.contains("no tag lifeboat:backup=true"), "{reason}");
    }

    #[test]
    fn named_scope_takes_untagged_dbs_and_maps_members_to_their_cluster() {
        let fleet = fleet();
        let named = |names: &[&str]| {
            Scope::Named(
                names
                    .iter()
                    .map(|n| DbRef {
                        identifier: n.to_string(),
                        kind: None,
                    })
                    .collect(),
            )
        };
        let s = select(
            &fleet,
            &named(&["analytics", "ledger-2", "ledger", "ORDERS"]),
            &filter(),
        );
        assert_eq!(
            ids(&s),
            ["instance:analytics", "cluster:ledger", "instance:orders"]
        );
        assert!(s.outcomes.is_empty());
    }

    #[test]
    fn an_unknown_name_fails_alone() {
        let fleet = fleet();
        let scope = Scope::Named(vec![
            DbRef {
                identifier: "nope".into(),
                kind: None,
            },
            DbRef {
                identifier: "orders".into(),
                kind: Some(DatabaseKind::Instance),
            },
        ]);
        let s = select(&fleet, &scope, &filter());
        assert_eq!(ids(&s), ["instance:orders"]);
        let Outcome::Failed { error } = outcome_of(&s, "nope") else {
            panic!()
        };
        assert!(error.contains("unknown database \"nope\""), "{error}");
    }

    #[test]
    fn the_kind_from_an_alarm_dimension_is_respected() {
        let fleet = fleet();
        let scope = Scope::Named(vec![DbRef {
            identifier: "orders".into(),
            kind: Some(DatabaseKind::Cluster),
        }]);
        let s = select(&fleet, &scope, &filter());
        assert!(s.targets.is_empty());
        assert!(matches!(outcome_of(&s, "orders"), Outcome::Failed { .. }));
    }

    #[test]
    fn dbs_in_a_state_rds_refuses_are_skipped_with_the_state() {
        let mut fleet = fleet();
        fleet.databases[0].status = "creating".to_string();
        let s = select(&fleet, &Scope::Selected, &filter());
        assert_eq!(ids(&s), ["cluster:ledger"]);
        let Outcome::Skipped { reason } = outcome_of(&s, "orders") else {
            panic!()
        };
        assert!(reason.contains("creating"));
        for ok in ["available", "stopped", "backing-up", "modifying"] {
            assert!(snapshot_blocked_by(ok).is_none(), "{ok}");
        }
    }
}
