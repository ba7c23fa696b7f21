//! The requests `lifeboat-restore` accepts: a restore, or the status of one.
//! Both are typed by hand at the worst moment, so unknown fields and invalid
//! identifiers are refused by name.

use std::collections::BTreeMap;

use lifeboat::domain::identifier;
use lifeboat::domain::identifier::parse_snapshot_arn;
use lifeboat::domain::model::DatabaseKind;
use lifeboat::domain::restore_plan::Overrides;
use lifeboat::lambda::config::is_region_name;
use lifeboat::lambda::payload::Payload;
use lifeboat::Error;
use serde::Deserialize;
use serde_json::Value;

/// Which snapshot to restore from.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotChoice {
    /// The newest available Lifeboat snapshot of the DB in the region.
    Latest,
    Named {
        id: String,
        kind: Option<DatabaseKind>,
        /// The region an ARN named.
        region: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RestoreRequest {
    pub database: String,
    /// Which DB of that name, when snapshots of more than one are in the
    /// region (two stacks' same-named DBs copied into each other's
    /// regions, an instance and a cluster sharing a name): the region it
    /// lived in and its kind.
    pub source_region: Option<String>,
    pub database_kind: Option<DatabaseKind>,
    pub snapshot: SnapshotChoice,
    pub region: Option<String>,
    pub target: String,
    pub dry_run: bool,
    pub overrides: Overrides,
    /// Tags every DB the restore creates carries besides the source DB's
    /// own: a drill's `lifeboat:drill=true`. No request event sets them.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Restore(Box<RestoreRequest>),
    Status {
        region: Option<String>,
        target: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreJson {
    #[serde(default)]
    action: Option<String>,
    database: String,
    #[serde(default)]
    source_region: Option<String>,
    #[serde(default)]
    database_kind: Option<DatabaseKind>,
    #[serde(default)]
    snapshot: Option<String>,
    #[serde(default)]
    region: Option<String>,
    target: String,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    overrides: Overrides,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusJson {
    #[allow(dead_code)]
    action: String,
    #[serde(default)]
    region: Option<String>,
    target: String,
}

const ACCEPTED: &str =
    "{\"database\": \"orders\", \"snapshot\": \"latest\", \"region\": \"us-west-2\", \
    \"target\": \"orders-restored\", \"dry_run\": true, \"overrides\": {...}} or \
    {\"action\": \"status\", \"region\": \"us-west-2\", \"target\": \"orders-restored\"}";

pub fn parse(payload: &Value) -> Result<Request, Error> {
    let invalid = |m: String| Error::InvalidEvent(m);
    let object = Payload::new(payload, ACCEPTED)?.object;
    match object.get("action").map(|a| a.as_str()) {
        None | Some(Some("restore")) => {
            let r = RestoreJson::deserialize(payload).map_err(|e| {
                invalid(format!(
                    "malformed restore request: {e}; accepted: {ACCEPTED}"
                ))
            })?;
            let _ = r.action;
            Ok(Request::Restore(Box::new(RestoreRequest {
                database: identifier::validate("database", &r.database)?,
                source_region: region(r.source_region)?,
                database_kind: r.database_kind,
                snapshot: snapshot_choice(r.snapshot.as_deref())?,
                region: region(r.region)?,
                target: identifier::validate("target", &r.target)?,
                dry_run: r.dry_run,
                overrides: r.overrides,
                tags: BTreeMap::new(),
            })))
        }
        Some(Some("status")) => {
            let s = StatusJson::deserialize(payload).map_err(|e| {
                invalid(format!(
                    "malformed status request: {e}; accepted: {ACCEPTED}"
                ))
            })?;
            Ok(Request::Status {
                region: region(s.region)?,
                target: identifier::validate("target", &s.target)?,
            })
        }
        Some(other) => Err(invalid(format!(
            "unknown action {}: expected \"restore\" or \"status\"",
            other.map_or_else(|| object["action"].to_string(), |a| format!("{a:?}"))
        ))),
    }
}

fn region(region: Option<String>) -> Result<Option<String>, Error> {
    match region {
        Some(r) if !is_region_name(&r) => Err(Error::InvalidEvent(format!(
            "region {r:?} is not a region name"
        ))),
        other => Ok(other),
    }
}

fn snapshot_choice(snapshot: Option<&str>) -> Result<SnapshotChoice, Error> {
    match snapshot {
        None | Some("latest") => Ok(SnapshotChoice::Latest),
        Some(arn) if arn.starts_with("arn:") => match parse_snapshot_arn(arn) {
            Some((region, kind, id)) => Ok(SnapshotChoice::Named {
                id: id.to_string(),
                kind: Some(kind),
                region: Some(region.to_string()),
            }),
            None => Err(Error::InvalidEvent(format!(
                "snapshot {arn:?} is not an RDS snapshot ARN"
            ))),
        },
        Some(id) => Ok(SnapshotChoice::Named {
            id: identifier::validate("snapshot", id)?,
            kind: None,
            region: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_request_parses() {
        let Request::Restore(r) = parse(&json!({
            "database": "orders", "snapshot": "latest", "region": "us-west-2",
            "target": "orders-restored", "dry_run": true,
            "overrides": {"instance_class": "db.r6g.large", "subnet_group": "dr-subnets",
                          "security_group_ids": ["sg-0abc"], "multi_az": false}
        }))
        .unwrap() else {
            panic!()
        };
        assert_eq!(r.database, "orders");
        assert_eq!(r.snapshot, SnapshotChoice::Latest);
        assert_eq!(r.region.as_deref(), Some("us-west-2"));
        assert!(r.dry_run);
        assert_eq!(r.overrides.instance_class.as_deref(), Some("db.r6g.large"));
        assert_eq!(r.overrides.multi_az, Some(false));
    }

    #[test]
    fn snapshots_by_id_or_arn() {
        let parsed =
            |s: &str| match parse(&json!({"database": "orders", "target": "t", "snapshot": s}))
                .unwrap()
            {
                Request::Restore(r) => r.snapshot,
                _ => panic!(),
            };
        assert_eq!(
            parsed("lifeboat-orders-20261124-0400"),
            SnapshotChoice::Named {
                id: "lifeboat-orders-20261124-0400".into(),
                kind: None,
                region: None
            }
        );
        assert_eq!(
            parsed(
                "arn:aws:rds:us-west-2:123456789012:cluster-snapshot:lifeboat-ledger-20261124-0400"
            ),
            SnapshotChoice::Named {
                id: "lifeboat-ledger-20261124-0400".into(),
                kind: Some(DatabaseKind::Cluster),
                region: Some("us-west-2".into())
            }
        );
    }

    #[test]
    fn a_status_request_parses() {
        assert_eq!(
            parse(&json!({"action": "status", "region": "us-west-2", "target": "orders-restored"}))
                .unwrap(),
            Request::Status {
                region: Some("us-west-2".into()),
                target: "orders-restored".into()
            }
        );
    }

    #[test]
    fn typos_and_bad_identifiers_are_refused_by_name() {
        for (payload, expected) in [
            (
                json!({"database": "orders", "target": "t", "dryrun": true}),
                "unknown field `dryrun`",
            ),
            (
                json!({"database": "orders", "target": "t", "overrides": {"instance_type": "x"}}),
                "unknown field `instance_type`",
            ),
            (json!({"database": "orders"}), "missing field `target`"),
            (
                json!({"database": "orders_1", "target": "t"}),
                "invalid database identifier",
            ),
            (
                json!({"database": "orders", "target": "t--2"}),
                "invalid target identifier",
            ),
            (
                json!({"database": "orders", "target": "t", "region": "west"}),
                "not a region name",
            ),
            (
                json!({"database": "orders", "target": "t", "snapshot": "arn:aws:rds:us-west-2:1:db:x"}),
                "not an RDS snapshot ARN",
            ),
            (
                json!({"action": "stop", "target": "t"}),
                "unknown action \"stop\"",
            ),
            (
                json!({"action": "status", "target": "t", "database": "x"}),
                "unknown field `database`",
            ),
            (json!("orders"), "expected a JSON object"),
        ] {
            let err = parse(&payload).unwrap_err().to_string();
            assert!(err.contains(expected), "{payload}: {err}");
        }
    }
}
