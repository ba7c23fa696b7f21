//! The domain's view of RDS: databases and the configuration a restore needs.
//!
//! These are plain data, filled in by the `rds` adapter and read by the pure
//! decision modules and the catalog.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What kind of thing a Lifeboat "database" is in RDS's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    /// A DB instance that is not a member of a DB cluster.
    Instance,
    /// A DB cluster (Aurora, or a Multi-AZ DB cluster).
    Cluster,
}

impl DatabaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseKind::Instance => "instance",
            DatabaseKind::Cluster => "cluster",
        }
    }
}

/// A DB instance or DB cluster as described by RDS.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    pub identifier: String,
    pub kind: DatabaseKind,
    pub arn: String,
    pub engine: String,
    pub engine_version: String,
    pub status: String,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// For a DB instance that belongs to a DB cluster: the cluster's
    /// identifier. Such an instance is covered by its cluster's snapshot.
    pub member_of: Option<String>,
    pub config: DatabaseConfig,
}

/// What a restore needs to rebuild the DB as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DatabaseConfig {
    Cluster(ClusterConfig),
    Instance(InstanceConfig),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceConfig {
    pub instance_class: String,
    pub storage_type: Option<String>,
    pub allocated_storage_gib: Option<i32>,
    pub max_allocated_storage_gib: Option<i32>,
    pub iops: Option<i32>,
    pub storage_throughput: Option<i32>,
    pub port: Option<i32>,
    pub multi_az: bool,
    pub availability_zone: Option<String>,
    pub parameter_group: Option<String>,
    pub option_group: Option<String>,
    pub subnet_group: Option<String>,
    pub vpc_security_group_ids: Vec<String>,
    pub iam_database_authentication: bool,
    pub deletion_protection: bool,
    pub publicly_accessible: bool,
    pub copy_tags_to_snapshot: bool,
    pub license_model: Option<String>,
    pub ca_certificate_identifier: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterConfig {
    pub engine_mode: Option<String>,
    /// Set for Multi-AZ DB clusters, which have a cluster-level class.
    pub cluster_instance_class: Option<String>,
    pub storage_type: Option<String>,
    pub allocated_storage_gib: Option<i32>,
    pub iops: Option<i32>,
    pub port: Option<i32>,
    pub parameter_group: Option<String>,
    pub subnet_group: Option<String>,
    pub vpc_security_group_ids: Vec<String>,
    pub iam_database_authentication: bool,
    pub deletion_protection: bool,
    pub serverless_v2_scaling: Option<ServerlessV2Scaling>,
    pub tags: BTreeMap<String, String>,
    pub members: Vec<ClusterMember>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerlessV2Scaling {
    pub min_capacity: Option<f64>,
    pub max_capacity: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterMember {
    pub instance_identifier: String,
    /// None when the member instance was not in the same describe (it was
    /// being deleted, say); a restore then needs an override.
    pub instance_class: Option<String>,
    pub is_writer: bool,
    pub promotion_tier: Option<i32>,
    pub parameter_group: Option<String>,
    pub availability_zone: Option<String>,
}

/// Default parameter and option groups (`default.postgres16`,
/// `default:postgres-16`) exist in every region under the same name, and RDS
/// picks the right one for the engine when none is named; only custom groups
/// are regional things a restore or copy must find a counterpart for.
pub fn is_default_group(name: &str) -> bool {
    name.starts_with("default.") || name.starts_with("default:")
}

/// Every DB instance and DB cluster in one region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fleet {
    pub databases: Vec<Database>,
}

impl Fleet {
    pub fn find(&self, kind: DatabaseKind, identifier: &str) -> Option<&Database> {
        self.databases
            .iter()
            .find(|db| db.kind == kind && db.identifier.eq_ignore_ascii_case(identifier))
    }
}

/// A manual DB snapshot or DB cluster snapshot as described by RDS.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: String,
    pub arn: String,
    pub kind: DatabaseKind,
    /// The DB instance or DB cluster it was taken of.
    pub database: String,
    pub status: String,
    pub engine: String,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    /// DB snapshots only: the option group it needs when restored.
    pub option_group: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// When RDS created it (for a copy: when the copy was made).
    pub created_at: Option<DateTime<Utc>>,
    /// Set on a copy: where it was copied from (a region or a snapshot ARN).
    pub copied_from: Option<String>,
    /// What the snapshot itself says about the DB it was taken of.
    pub carried: Carried,
}

/// One DB's snapshots: the group retention decides over and copies match
/// within.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Series {
    pub source_region: String,
    pub kind: DatabaseKind,
    pub database: String,
}

impl Series {
    /// `orders (a DB instance of us-east-1)`, for a person choosing.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            DatabaseKind::Instance => "DB instance",
            DatabaseKind::Cluster => "DB cluster",
        };
        format!("{} (a {kind} of {})", self.database, self.source_region)
    }
}

/// The one series among `snapshots` that matches `source_region` and `kind`
/// where given; `Err` with every matching series when there is more than
/// one (two DBs of the same name: the caller must say which), `Ok(None)`
/// when none matches.
pub fn only_series(
    snapshots: &[Snapshot],
    source_region: Option<&str>,
    kind: Option<DatabaseKind>,
) -> Result<Option<Series>, Vec<Series>> {
    let mut found: Vec<Series> = snapshots
        .iter()
        .map(Snapshot::series)
        .filter(|s| source_region.is_none_or(|r| s.source_region == r))
        .filter(|s| kind.is_none_or(|k| s.kind == k))
        .collect();
    found.sort();
    found.dedup();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(found),
    }
}

/// The facts about its DB that a snapshot carries, whatever the catalog
/// says: enough to rebuild the DB (with a class and a network given) when
/// the snapshot's catalog record is lost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Carried {
    pub engine_version: Option<String>,
    /// DB cluster snapshots only.
    pub engine_mode: Option<String>,
    pub port: Option<i32>,
    pub storage_type: Option<String>,
    pub allocated_storage_gib: Option<i32>,
    /// DB snapshots only.
    pub iops: Option<i32>,
    pub storage_throughput: Option<i32>,
    pub iam_database_authentication: bool,
    pub license_model: Option<String>,
}

impl Snapshot {
    pub fn is_available(&self) -> bool {
        self.status == "available"
    }

    /// A snapshot Lifeboat made or copied: tagged `lifeboat:managed=true`
    /// and named `lifeboat-*`. The name matters as much as the tag: IAM
    /// lets Lifeboat act only on `lifeboat-*` snapshots, so a foreign one
    /// that carries copied Lifeboat tags (a hand-made copy, another tool's)
    /// must never join a DB's series, be copied or block a run.
    pub fn is_managed(&self) -> bool {
        crate::domain::tags::is_managed(&self.tags)
            && self.id.starts_with(crate::domain::naming::PREFIX)
    }

    /// A copy that RDS is still making counts against the limit on copies
    /// in progress into its region.
    pub fn is_copy_in_progress(&self) -> bool {
        self.copied_from.is_some()
            && matches!(self.status.as_str(), "pending" | "creating" | "copying")
    }

    /// The DB it protects: Lifeboat's tag, else what RDS says.
    pub fn source_db(&self) -> &str {
        self.tags
            .get(crate::domain::tags::SOURCE_DB)
            .map(String::as_str)
            .unwrap_or(&self.database)
    }

    /// Which DB's series of recovery points it belongs to: the source
    /// region, the kind and the DB. Two stacks whose DR regions overlap may
    /// have DBs of the same name; their snapshots never mix.
    pub fn series(&self) -> Series {
        Series {
            source_region: self.source_region().unwrap_or_default().to_string(),
            kind: self.kind,
            database: self.source_db().to_string(),
        }
    }

    /// The region the original snapshot was taken in, per Lifeboat's tag.
    pub fn source_region(&self) -> Option<&str> {
        self.tags
            .get(crate::domain::tags::SOURCE_REGION)
            .map(String::as_str)
    }

    /// The recovery point: Lifeboat's `created-at` tag, else the time RDS
    /// created the snapshot.
    pub fn recovery_point(&self) -> Option<DateTime<Utc>> {
        self.tags
            .get(crate::domain::tags::CREATED_AT)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .or(self.created_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(source_region: &str, kind: DatabaseKind) -> Snapshot {
        Snapshot {
            id: format!("lifeboat-orders-{source_region}"),
            arn: String::new(),
            kind,
            database: "orders".to_string(),
            status: "available".to_string(),
            engine: "postgres".to_string(),
            encrypted: false,
            kms_key_id: None,
            option_group: None,
            tags: BTreeMap::from([(
                crate::domain::tags::SOURCE_REGION.to_string(),
                source_region.to_string(),
            )]),
            created_at: None,
            copied_from: None,
            carried: Carried::default(),
        }
    }

    #[test]
    fn two_dbs_of_one_name_are_never_chosen_between_silently() {
        let one = [of("us-east-1", DatabaseKind::Instance)];
        assert_eq!(
            only_series(&one, None, None)
                .unwrap()
                .unwrap()
                .source_region,
            "us-east-1"
        );
        let two = [
            of("us-east-1", DatabaseKind::Instance),
            of("us-west-2", DatabaseKind::Instance),
            of("us-east-1", DatabaseKind::Cluster),
        ];
        assert_eq!(only_series(&two, None, None).unwrap_err().len(), 3);
        assert_eq!(
            only_series(&two, Some("us-east-1"), None)
                .unwrap_err()
                .len(),
            2
        );
        let chosen = only_series(&two, Some("us-east-1"), Some(DatabaseKind::Cluster))
            .unwrap()
            .unwrap();
        assert_eq!(chosen.kind, DatabaseKind::Cluster);
        assert_eq!(only_series(&two, Some("eu-west-1"), None), Ok(None));
        assert_eq!(chosen.describe(), "orders (a DB cluster of us-east-1)");
    }
}
