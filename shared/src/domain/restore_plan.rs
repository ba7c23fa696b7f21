//! What a restore needs: the exact API parameters that rebuild a DB as it
//! was, from the configuration captured in its snapshot record. Pure.
//!
//! The plan never guesses. Subnet groups, security groups and custom
//! parameter and option groups are regional: in a DR region, the captured
//! ones that don't exist there are listed as `missing`, each with the
//! override that supplies it, and a restore with anything missing is refused
//! (a dry run reports it). Default parameter and option groups exist in every
//! region under the same name, so they are left to RDS, as is the `default`
//! DB subnet group. A restored DB is never publicly accessible.
//!
//! Without a catalog record (lost, or never written), the plan starts from
//! what the snapshot itself carries (`config_from_snapshot`); the class and
//! the network are then unknown, and listed as missing until given.
//!
//! A restore has an identity (`restore_id`), recorded before anything is
//! created and tagged on every DB it creates: whose a DB is (`Existing`),
//! whether a start is a retry of an earlier one (`resumes`) and whether
//! there is time left for another create call (`time_for_a_call`) are
//! decided here too.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::model::{
    is_default_group, ClusterConfig, ClusterMember, DatabaseConfig, DatabaseKind, InstanceConfig,
    Snapshot,
};
use crate::domain::tags;

/// What the person restoring may change. Anything not given is as captured.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// The class of the DB instance, or of every cluster member.
    pub instance_class: Option<String>,
    pub subnet_group: Option<String>,
    pub security_group_ids: Option<Vec<String>>,
    pub multi_az: Option<bool>,
    /// DB parameter group (instances and cluster members).
    pub parameter_group: Option<String>,
    pub cluster_parameter_group: Option<String>,
    pub option_group: Option<String>,
    pub port: Option<i32>,
    pub availability_zone: Option<String>,
    pub storage_type: Option<String>,
    pub iops: Option<i32>,
    pub deletion_protection: Option<bool>,
    pub iam_database_authentication: Option<bool>,
    /// True: the restored DB keeps the selection tag (`LIFEBOAT_SELECT_TAG`)
    /// it had, so scheduled snapshots protect it at once. By default it is
    /// dropped: a restored copy is not production until someone says so,
    /// and after a drill or a test restore it would otherwise be snapshotted
    /// (and copied, and kept) forever.
    pub keep_selection_tag: Option<bool>,
    /// Accepted only to be refused by name: Lifeboat never makes a restored
    /// DB publicly accessible.
    pub publicly_accessible: Option<bool>,
}

/// What exists in the target region, for the names the plan would use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionFacts {
    pub subnet_groups: BTreeSet<String>,
    pub parameter_groups: BTreeSet<String>,
    pub cluster_parameter_groups: BTreeSet<String>,
    pub option_groups: BTreeSet<String>,
}

/// The snapshot being restored, as found in the target region.
#[derive(Debug, Clone, PartialEq)]
pub struct Source<'a> {
    pub kind: DatabaseKind,
    /// Identifier of the snapshot in the target region.
    pub snapshot_id: &'a str,
    pub engine: &'a str,
    pub engine_version: &'a str,
    pub config: &'a DatabaseConfig,
    /// True when the target region is where the DB lived: its regional
    /// names (security groups, AZ) are valid there.
    pub same_region: bool,
    /// False when `config` was rebuilt from the snapshot alone: its class
    /// and network are unknown.
    pub from_record: bool,
    /// The selection tag (`key`, `value`), dropped from the restored DB's
    /// tags unless `Overrides::keep_selection_tag`.
    pub selection_tag: Option<(&'a str, &'a str)>,
}

/// The `default` DB subnet group: the default VPC's, in every region that
/// has one, under that name.
pub const DEFAULT_SUBNET_GROUP: &str = "default";

/// The configuration a snapshot itself carries about its DB, for a restore
/// whose catalog record is lost: engine settings, storage, port, option
/// group, IAM authentication and the DB's tags. The class, the subnet and
/// security groups and custom parameter groups are not in a snapshot; they
/// are left empty, for the plan to list as missing. A cluster gets one
/// member, its writer.
pub fn config_from_snapshot(snapshot: &Snapshot) -> DatabaseConfig {
    let c = &snapshot.carried;
    let tags = tags::database_tags(&snapshot.tags);
    match snapshot.kind {
        DatabaseKind::Instance => DatabaseConfig::Instance(InstanceConfig {
            instance_class: String::new(),
            storage_type: c.storage_type.clone(),
            allocated_storage_gib: c.allocated_storage_gib,
            iops: c.iops,
            storage_throughput: c.storage_throughput,
            port: c.port,
            option_group: snapshot.option_group.clone(),
            iam_database_authentication: c.iam_database_authentication,
            license_model: c.license_model.clone(),
            tags,
            ..InstanceConfig::default()
        }),
        DatabaseKind::Cluster => DatabaseConfig::Cluster(ClusterConfig {
            engine_mode: c.engine_mode.clone(),
            port: c.port,
            iam_database_authentication: c.iam_database_authentication,
            tags,
            members: vec![ClusterMember {
                instance_identifier: "writer".to_string(),
                instance_class: None,
                is_writer: true,
                ..ClusterMember::default()
            }],
            ..ClusterConfig::default()
        }),
    }
}

/// A name the target region lacks, and the override that supplies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub what: String,
    pub name: String,
    pub override_field: &'static str,
}

/// `RestoreDBInstanceFromDBSnapshot` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RestoreDbInstance {
    #[serde(rename = "DBInstanceIdentifier")]
    pub db_instance_identifier: String,
    #[serde(rename = "DBSnapshotIdentifier")]
    pub db_snapshot_identifier: String,
    #[serde(rename = "DBInstanceClass")]
    pub db_instance_class: String,
    #[serde(rename = "MultiAZ")]
    pub multi_az: bool,
    #[serde(rename = "PubliclyAccessible")]
    pub publicly_accessible: bool,
    #[serde(rename = "Port", skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(rename = "AvailabilityZone", skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(rename = "DBSubnetGroupName", skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    #[serde(rename = "VpcSecurityGroupIds", skip_serializing_if = "Vec::is_empty")]
    pub vpc_security_group_ids: Vec<String>,
    #[serde(
        rename = "DBParameterGroupName",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_parameter_group_name: Option<String>,
    #[serde(rename = "OptionGroupName", skip_serializing_if = "Option::is_none")]
    pub option_group_name: Option<String>,
    #[serde(rename = "StorageType", skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    #[serde(rename = "Iops", skip_serializing_if = "Option::is_none")]
    pub iops: Option<i32>,
    #[serde(rename = "StorageThroughput", skip_serializing_if = "Option::is_none")]
    pub storage_throughput: Option<i32>,
    #[serde(rename = "LicenseModel", skip_serializing_if = "Option::is_none")]
    pub license_model: Option<String>,
    #[serde(rename = "EnableIAMDatabaseAuthentication")]
    pub enable_iam_database_authentication: bool,
    #[serde(rename = "DeletionProtection")]
    pub deletion_protection: bool,
    #[serde(rename = "CopyTagsToSnapshot")]
    pub copy_tags_to_snapshot: bool,
    #[serde(rename = "Tags")]
    pub tags: BTreeMap<String, String>,
}

/// `RestoreDBClusterFromSnapshot` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RestoreDbCluster {
    #[serde(rename = "DBClusterIdentifier")]
    pub db_cluster_identifier: String,
    #[serde(rename = "SnapshotIdentifier")]
    pub snapshot_identifier: String,
    #[serde(rename = "Engine")]
    pub engine: String,
    #[serde(rename = "EngineVersion", skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    #[serde(rename = "EngineMode", skip_serializing_if = "Option::is_none")]
    pub engine_mode: Option<String>,
    #[serde(rename = "Port", skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(rename = "DBSubnetGroupName", skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    #[serde(rename = "VpcSecurityGroupIds", skip_serializing_if = "Vec::is_empty")]
    pub vpc_security_group_ids: Vec<String>,
    #[serde(
        rename = "DBClusterParameterGroupName",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_cluster_parameter_group_name: Option<String>,
    /// Multi-AZ DB clusters only.
    #[serde(
        rename = "DBClusterInstanceClass",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_cluster_instance_class: Option<String>,
    #[serde(rename = "StorageType", skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    #[serde(rename = "Iops", skip_serializing_if = "Option::is_none")]
    pub iops: Option<i32>,
    #[serde(rename = "PubliclyAccessible", skip_serializing_if = "Option::is_none")]
    pub publicly_accessible: Option<bool>,
    #[serde(
        rename = "ServerlessV2ScalingConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub serverless_v2_scaling: Option<ServerlessV2Scaling>,
    #[serde(rename = "EnableIAMDatabaseAuthentication")]
    pub enable_iam_database_authentication: bool,
    #[serde(rename = "DeletionProtection")]
    pub deletion_protection: bool,
    #[serde(rename = "Tags")]
    pub tags: BTreeMap<String, String>,
}

/// `ServerlessV2ScalingConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerlessV2Scaling {
    #[serde(rename = "MinCapacity", skip_serializing_if = "Option::is_none")]
    pub min_capacity: Option<f64>,
    #[serde(rename = "MaxCapacity", skip_serializing_if = "Option::is_none")]
    pub max_capacity: Option<f64>,
}

/// `CreateDBInstance` parameters for one cluster member.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreateClusterInstance {
    #[serde(rename = "DBInstanceIdentifier")]
    pub db_instance_identifier: String,
    #[serde(rename = "DBClusterIdentifier")]
    pub db_cluster_identifier: String,
    #[serde(rename = "Engine")]
    pub engine: String,
    #[serde(rename = "DBInstanceClass")]
    pub db_instance_class: String,
    #[serde(rename = "PubliclyAccessible")]
    pub publicly_accessible: bool,
    #[serde(
        rename = "DBParameterGroupName",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_parameter_group_name: Option<String>,
    #[serde(rename = "PromotionTier", skip_serializing_if = "Option::is_none")]
    pub promotion_tier: Option<i32>,
    #[serde(rename = "AvailabilityZone", skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(rename = "Tags")]
    pub tags: BTreeMap<String, String>,
}

/// The calls a restore makes, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Calls {
    #[serde(rename = "RestoreDBInstanceFromDBSnapshot")]
    Instance(RestoreDbInstance),
    #[serde(rename = "RestoreDBClusterFromSnapshot")]
    Cluster {
        cluster: RestoreDbCluster,
        /// `CreateDBInstance`, writer first.
        instances: Vec<CreateClusterInstance>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub calls: Calls,
    /// Regional names that don't exist in the target region, and what the
    /// catalog record would have said; the restore is refused until each is
    /// given.
    pub missing: Vec<Missing>,
    /// What the plan decided that a person should know (a default left to
    /// RDS, a configuration rebuilt from the snapshot alone).
    pub notes: Vec<String>,
}

impl Plan {
    /// Every identifier the restore would create, cluster first.
    pub fn identifiers(&self) -> Vec<(DatabaseKind, &str)> {
        match &self.calls {
            Calls::Instance(i) => vec![(DatabaseKind::Instance, i.db_instance_identifier.as_str())],
            Calls::Cluster { cluster, instances } => {
                let mut ids = vec![(
                    DatabaseKind::Cluster,
                    cluster.db_cluster_identifier.as_str(),
                )];
                ids.extend(
                    instances
                        .iter()
                        .map(|i| (DatabaseKind::Instance, i.db_instance_identifier.as_str())),
                );
                ids
            }
        }
    }

    /// Tags every DB the plan creates (the instance, or the cluster and
    /// each member) with the identity of the restore creating it, replacing
    /// one the source DB's own tags may carry from a restore of its own.
    pub fn tag_with_restore_id(&mut self, restore_id: &str) {
        self.tag(tags::RESTORE_ID, restore_id);
    }

    /// Tags every DB the plan creates with `key=value`.
    pub fn tag(&mut self, key: &str, value: &str) {
        let tag = |tags: &mut BTreeMap<String, String>| {
            tags.insert(key.to_string(), value.to_string());
        };
        match &mut self.calls {
            Calls::Instance(i) => tag(&mut i.tags),
            Calls::Cluster { cluster, instances } => {
                tag(&mut cluster.tags);
                instances.iter_mut().for_each(|i| tag(&mut i.tags));
            }
        }
    }
}

/// A restore's identity: `<target>@<YYYYMMDDTHHMMSSZ>`, the target and the
/// time the restore was first requested, which is also what its catalog
/// records are keyed by (one restore of a target per second). It is minted
/// once, by the start that records the restore; a retried start (a lost
/// answer, a Lambda or Step Functions retry, the same request sent again)
/// takes it from that `restore` record instead of minting its own, so every
/// attempt of one restore tags its DBs alike. Valid as an RDS tag value.
pub fn restore_id(target: &str, requested_at: DateTime<Utc>) -> String {
    format!("{target}@{}", requested_at.format(RESTORE_ID_TIME))
}

const RESTORE_ID_TIME: &str = "%Y%m%dT%H%M%SZ";

/// When the restore `restore_id` names was requested.
pub fn requested_at_of(restore_id: &str) -> Option<DateTime<Utc>> {
    let (_, time) = restore_id.rsplit_once('@')?;
    chrono::NaiveDateTime::parse_from_str(time, RESTORE_ID_TIME)
        .ok()
        .map(|t| t.and_utc())
}

/// What has an identifier a restore would create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    Free,
    /// A DB, with the tags that say which restore made it, if any did.
    Db {
        restored_from: Option<String>,
        restore_id: Option<String>,
    },
}

impl Existing {
    /// A DB with these tags.
    pub fn db(tags: &BTreeMap<String, String>) -> Self {
        Existing::Db {
            restored_from: tags.get(tags::RESTORED_FROM).cloned(),
            restore_id: tags.get(tags::RESTORE_ID).cloned(),
        }
    }

    /// True for a DB the restore `restore_id` made (in this attempt or an
    /// earlier one). Being restored from the same snapshot is not enough.
    pub fn is_made_by(&self, restore_id: &str) -> bool {
        matches!(self, Existing::Db { restore_id: Some(id), .. } if id == restore_id)
    }

    /// Whose a DB is, for a refusal: `""` when no restore made it.
    pub fn whose(&self) -> String {
        match self {
            Existing::Db {
                restore_id: Some(id),
                ..
            } => format!(" (made by another restore, {id})"),
            Existing::Db {
                restored_from: Some(snapshot),
                ..
            } => format!(" (restored from {snapshot}, not by this restore)"),
            _ => String::new(),
        }
    }
}

/// How long after it was requested an unfinished restore is resumed by the
/// same request sent again. Lambda retries an asynchronous invocation for
/// at most 6 hours, Step Functions retries within minutes, and an operator
/// resending a request that stopped short does so the same day. Later, the
/// DBs it left have likely been put to use: a start that created members
/// in them, and rolled them back if one failed, would be touching a DB in
/// service. So a request older than this is a new restore, refused while
/// the old one's DBs are there.
pub const RESUME_WITHIN: TimeDelta = TimeDelta::hours(24);

/// The latest restore recorded for the same target, as its records say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Earlier {
    pub requested_at: DateTime<Utc>,
    /// The plan recorded is the one this start would carry out, with the
    /// earlier restore's identity: the same snapshot, target and settings.
    pub same_plan: bool,
    /// A `restore_available` record says it finished.
    pub available: bool,
}

/// Whether a start is a retry of the `earlier` restore, and continues it
/// under its identity, given that `made` of the `planned` identifiers are
/// DBs that restore made. (A restore that failed was rolled back and is
/// over; it is never the earlier one.)
///
/// - A different plan is a different request: never.
/// - Everything there and made by it: yes, whenever (nothing is created,
///   nothing can be rolled back; the retry is told it has started).
/// - Finished, and some of it deleted since: no; it is a new restore.
/// - Unfinished: within `RESUME_WITHIN` of its request, yes (the retry
///   creates what is missing, all of it if the attempt before stopped
///   between recording and creating).
pub fn resumes(earlier: &Earlier, made: usize, planned: usize, now: DateTime<Utc>) -> bool {
    if !earlier.same_plan {
        return false;
    }
    if made == planned {
        return true;
    }
    !earlier.available && now - earlier.requested_at < RESUME_WITHIN
}

/// What must be left of the invocation to start another create call:
/// the call itself (RDS answers in seconds, but the paced client and the
/// SDK's backoff on throttling can stretch one call to ten or more) and,
/// should it fail, the rollback (a describe and a delete per DB created,
/// the cluster's deletion protection lifted) and the failure's record and
/// event. With less, the restore stops before the call, resumable, rather
/// than be cut off by Lambda in the middle of one.
pub const DEADLINE_MARGIN: TimeDelta = TimeDelta::seconds(30);

/// The invocation's deadline from Lambda's `Lambda-Runtime-Deadline-Ms`
/// (milliseconds since the epoch). The runtime always sets it; `0` is a
/// handler called outside Lambda (the tests, a local run), with none.
pub fn lambda_deadline(deadline_ms: u64) -> Option<DateTime<Utc>> {
    if deadline_ms == 0 {
        return None;
    }
    i64::try_from(deadline_ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
}

/// Whether there is time left at `now` to start another create call.
pub fn time_for_a_call(deadline: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    deadline.is_none_or(|deadline| deadline - now >= DEADLINE_MARGIN)
}

/// The cluster members a recorded plan (a `restore` record's `plan`)
/// creates, in order; none for an instance.
pub fn recorded_members(plan: &serde_json::Value) -> Vec<String> {
    plan["RestoreDBClusterFromSnapshot"]["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["DBInstanceIdentifier"].as_str().map(str::to_string))
        .collect()
}

/// Why a plan cannot be made at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    PublicAccess,
    KindMismatch,
}

/// The tags the restored DB carries: the DB's own (never `aws:` ones), plus
/// where it came from.
fn restored_tags(
    captured: &BTreeMap<String, String>,
    source: &Source,
    overrides: &Overrides,
) -> BTreeMap<String, String> {
    let snapshot_id = source.snapshot_id;
    let mut tags = tags::passable(captured);
    if let (Some((key, value)), false) = (
        source.selection_tag,
        overrides.keep_selection_tag.unwrap_or(false),
    ) {
        if tags.get(key).map(String::as_str) == Some(value) {
            tags.remove(key);
        }
    }
    tags.insert(tags::RESTORED_FROM.to_string(), snapshot_id.to_string());
    tags
}

struct Checker<'a> {
    facts: &'a RegionFacts,
    missing: Vec<Missing>,
    notes: Vec<String>,
    /// The configuration came from the catalog record (else: from the
    /// snapshot alone, and the network is unknown).
    from_record: bool,
}

/// Why a value is missing when there is no record to say it.
const NO_RECORD: &str = "unknown: the snapshot has no catalog record";

impl Checker<'_> {
    /// The name to use for a regional group: the override, else the
    /// captured one if it exists (or is a default, which is left to RDS).
    fn group(
        &mut self,
        what: &str,
        captured: Option<&String>,
        overridden: Option<&String>,
        exists: fn(&RegionFacts) -> &BTreeSet<String>,
        field: &'static str,
    ) -> Option<String> {
        if let Some(name) = overridden {
            if !exists(self.facts).contains(name) && !is_default_group(name) {
                self.missing.push(Missing {
                    what: format!("{what} (given in overrides)"),
                    name: name.clone(),
                    override_field: field,
                });
            }
            return Some(name.clone());
        }
        match captured {
            Some(name) if is_default_group(name) => None,
            Some(name) => {
                if !exists(self.facts).contains(name) {
                    self.missing.push(Missing {
                        what: what.to_string(),
                        name: name.clone(),
                        override_field: field,
                    });
                }
                Some(name.clone())
            }
            None => None,
        }
    }

    fn subnet_group(
        &mut self,
        captured: Option<&String>,
        overridden: Option<&String>,
    ) -> Option<String> {
        if overridden.is_none() {
            if captured.map(String::as_str) == Some(DEFAULT_SUBNET_GROUP) {
                self.notes.push(
                    "the DB was in its VPC's default DB subnet group: the restore uses the default DB subnet group of the target region (DBSubnetGroupName left to RDS); give overrides.subnet_group to choose another".to_string(),
                );
                return None;
            }
            if captured.is_none() && !self.from_record {
                self.missing.push(Missing {
                    what: format!("DB subnet group ({NO_RECORD})"),
                    name: String::new(),
                    override_field: "subnet_group",
                });
                return None;
            }
        }
        self.group(
            "DB subnet group",
            captured,
            overridden,
            |f| &f.subnet_groups,
            "subnet_group",
        )
    }

    fn parameter_group(
        &mut self,
        captured: Option<&String>,
        overridden: Option<&String>,
    ) -> Option<String> {
        self.group(
            "DB parameter group",
            captured,
            overridden,
            |f| &f.parameter_groups,
            "parameter_group",
        )
    }

    fn security_groups(
        &mut self,
        captured: &[String],
        overridden: Option<&Vec<String>>,
        same_region: bool,
    ) -> Vec<String> {
        if let Some(ids) = overridden {
            return ids.clone();
        }
        if captured.is_empty() && !self.from_record {
            self.missing.push(Missing {
                what: format!("VPC security groups ({NO_RECORD})"),
                name: String::new(),
                override_field: "security_group_ids",
            });
        }
        // Security group IDs are unique to their region: the captured ones
        // can only exist where the DB lived.
        if !same_region && !captured.is_empty() {
            self.missing.push(Missing {
                what: "VPC security groups".to_string(),
                name: captured.join(","),
                override_field: "security_group_ids",
            });
        }
        captured.to_vec()
    }
}

/// Plans the restore of `source` as `target`.
pub fn plan(
    source: &Source,
    target: &str,
    overrides: &Overrides,
    facts: &RegionFacts,
) -> Result<Plan, Refusal> {
    if overrides.publicly_accessible == Some(true) {
        return Err(Refusal::PublicAccess);
    }
    let mut check = Checker {
        facts,
        missing: Vec::new(),
        notes: Vec::new(),
        from_record: source.from_record,
    };
    if !source.from_record {
        check.notes.push(
            "the snapshot has no catalog record: the configuration is rebuilt from what the snapshot carries (engine, version, port, storage, option group, IAM authentication, encryption, tags); the class, the network and custom parameter groups must be given".to_string(),
        );
    }
    let calls = match (source.kind, source.config) {
        (DatabaseKind::Instance, DatabaseConfig::Instance(c)) => {
            Calls::Instance(instance(source, c, target, overrides, &mut check))
        }
        (DatabaseKind::Cluster, DatabaseConfig::Cluster(c)) => {
            cluster(source, c, target, overrides, &mut check)
        }
        _ => return Err(Refusal::KindMismatch),
    };
    Ok(Plan {
        calls,
        missing: check.missing,
        notes: check.notes,
    })
}

fn instance(
    source: &Source,
    c: &InstanceConfig,
    target: &str,
    o: &Overrides,
    check: &mut Checker,
) -> RestoreDbInstance {
    let multi_az = o.multi_az.unwrap_or(c.multi_az);
    // An AZ belongs to its region, and a Multi-AZ DB picks its own.
    let availability_zone = o.availability_zone.clone().or_else(|| {
        (source.same_region && !multi_az)
            .then(|| c.availability_zone.clone())
            .flatten()
    });
    let storage_type = o.storage_type.clone().or_else(|| c.storage_type.clone());
    // Provisioned IOPS and throughput are set only for storage that has them.
    let iops = o
        .iops
        .or(c.iops)
        .filter(|_| matches!(storage_type.as_deref(), Some("io1" | "io2" | "gp3")));
    let storage_throughput = c
        .storage_throughput
        .filter(|_| storage_type.as_deref() == Some("gp3"));
    let db_instance_class = o
        .instance_class
        .clone()
        .unwrap_or_else(|| c.instance_class.clone());
    if db_instance_class.is_empty() {
        check.missing.push(Missing {
            what: format!("DB instance class ({NO_RECORD})"),
            name: String::new(),
            override_field: "instance_class",
        });
    }
    RestoreDbInstance {
        db_instance_identifier: target.to_string(),
        db_snapshot_identifier: source.snapshot_id.to_string(),
        db_instance_class,
        multi_az,
        publicly_accessible: false,
        port: o.port.or(c.port),
        availability_zone,
        db_subnet_group_name: check.subnet_group(c.subnet_group.as_ref(), o.subnet_group.as_ref()),
        vpc_security_group_ids: check.security_groups(
            &c.vpc_security_group_ids,
            o.security_group_ids.as_ref(),
            source.same_region,
        ),
        db_parameter_group_name: check
            .parameter_group(c.parameter_group.as_ref(), o.parameter_group.as_ref()),
        option_group_name: check.group(
            "option group",
            c.option_group.as_ref(),
            o.option_group.as_ref(),
            |f| &f.option_groups,
            "option_group",
        ),
        storage_type,
        iops,
        storage_throughput,
        license_model: c.license_model.clone(),
        enable_iam_database_authentication: o
            .iam_database_authentication
            .unwrap_or(c.iam_database_authentication),
        deletion_protection: o.deletion_protection.unwrap_or(c.deletion_protection),
        copy_tags_to_snapshot: c.copy_tags_to_snapshot,
        tags: restored_tags(&c.tags, source, o),
    }
}

fn cluster(
    source: &Source,
    c: &ClusterConfig,
    target: &str,
    o: &Overrides,
    check: &mut Checker,
) -> Calls {
    let tags = restored_tags(&c.tags, source, o);
    let restore = RestoreDbCluster {
        db_cluster_identifier: target.to_string(),
        snapshot_identifier: source.snapshot_id.to_string(),
        engine: source.engine.to_string(),
        engine_version: Some(source.engine_version.to_string()).filter(|v| !v.is_empty()),
        engine_mode: c.engine_mode.clone().filter(|m| m != "provisioned"),
        port: o.port.or(c.port),
        db_subnet_group_name: check.subnet_group(c.subnet_group.as_ref(), o.subnet_group.as_ref()),
        vpc_security_group_ids: check.security_groups(
            &c.vpc_security_group_ids,
            o.security_group_ids.as_ref(),
            source.same_region,
        ),
        db_cluster_parameter_group_name: check.group(
            "DB cluster parameter group",
            c.parameter_group.as_ref(),
            o.cluster_parameter_group.as_ref(),
            |f| &f.cluster_parameter_groups,
            "cluster_parameter_group",
        ),
        db_cluster_instance_class: c
            .cluster_instance_class
            .as_ref()
            .map(|class| o.instance_class.clone().unwrap_or_else(|| class.clone())),
        storage_type: c
            .cluster_instance_class
            .as_ref()
            .and(o.storage_type.clone().or_else(|| c.storage_type.clone())),
        iops: c.cluster_instance_class.as_ref().and(o.iops.or(c.iops)),
        publicly_accessible: c.cluster_instance_class.as_ref().map(|_| false),
        serverless_v2_scaling: c
            .serverless_v2_scaling
            .as_ref()
            .map(|s| ServerlessV2Scaling {
                min_capacity: s.min_capacity,
                max_capacity: s.max_capacity,
            }),
        enable_iam_database_authentication: o
            .iam_database_authentication
            .unwrap_or(c.iam_database_authentication),
        deletion_protection: o.deletion_protection.unwrap_or(c.deletion_protection),
        tags: tags.clone(),
    };

    // Aurora members, writer first: the first instance created in a restored
    // cluster becomes its writer. Multi-AZ DB clusters create their own.
    let mut members: Vec<_> = if c.cluster_instance_class.is_some() {
        Vec::new()
    } else {
        c.members.iter().collect()
    };
    members.sort_by_key(|m| !m.is_writer);
    let instances = members
        .iter()
        .enumerate()
        .map(|(n, m)| {
            let class = o
                .instance_class
                .clone()
                .or_else(|| m.instance_class.clone());
            if class.is_none() {
                check.missing.push(Missing {
                    what: if check.from_record {
                        format!("instance class of cluster member {}", m.instance_identifier)
                    } else {
                        format!("instance class of the cluster's writer ({NO_RECORD})")
                    },
                    name: String::new(),
                    override_field: "instance_class",
                });
            }
            CreateClusterInstance {
                db_instance_identifier: member_identifier(target, n + 1),
                db_cluster_identifier: target.to_string(),
                engine: source.engine.to_string(),
                db_instance_class: class.unwrap_or_default(),
                publicly_accessible: false,
                db_parameter_group_name: check
                    .parameter_group(m.parameter_group.as_ref(), o.parameter_group.as_ref()),
                promotion_tier: m.promotion_tier,
                availability_zone: o.availability_zone.clone().or_else(|| {
                    source
                        .same_region
                        .then(|| m.availability_zone.clone())
                        .flatten()
                }),
                tags: tags.clone(),
            }
        })
        .collect();
    Calls::Cluster {
        cluster: restore,
        instances,
    }
}

/// `<target>-<n>`, cut so it stays a valid 63-character identifier.
pub fn member_identifier(target: &str, n: usize) -> String {
    let suffix = format!("-{n}");
    let keep = crate::domain::identifier::MAX_LEN - suffix.len();
    let head = if target.len() > keep {
        target[..keep].trim_end_matches('-')
    } else {
        target
    };
    format!("{head}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::ClusterMember;

    fn instance_config() -> InstanceConfig {
        InstanceConfig {
            instance_class: "db.r6g.large".into(),
            storage_type: Some("gp3".into()),
            allocated_storage_gib: Some(100),
            iops: Some(3000),
            storage_throughput: Some(125),
            port: Some(5432),
            multi_az: true,
            availability_zone: Some("us-east-1a".into()),
            parameter_group: Some("orders-pg16".into()),
            option_group: Some("default:postgres-16".into()),
            subnet_group: Some("prod-subnets".into()),
            vpc_security_group_ids: vec!["sg-0aaa".into()],
            iam_database_authentication: true,
            deletion_protection: true,
            tags: BTreeMap::from([
                ("team".into(), "payments".into()),
                ("aws:cloudformation:stack-name".into(), "x".into()),
            ]),
            ..InstanceConfig::default()
        }
    }

    fn cluster_config() -> ClusterConfig {
        ClusterConfig {
            engine_mode: Some("provisioned".into()),
            port: Some(5432),
            parameter_group: Some("default.aurora-postgresql16".into()),
            subnet_group: Some("prod-subnets".into()),
            vpc_security_group_ids: vec!["sg-0aaa".into()],
            deletion_protection: true,
            members: vec![
                ClusterMember {
                    instance_identifier: "ledger-2".into(),
                    instance_class: Some("db.r6g.xlarge".into()),
                    is_writer: false,
                    promotion_tier: Some(1),
                    ..ClusterMember::default()
                },
                ClusterMember {
                    instance_identifier: "ledger-1".into(),
                    instance_class: Some("db.r6g.large".into()),
                    is_writer: true,
                    promotion_tier: Some(0),
                    ..ClusterMember::default()
                },
            ],
            ..ClusterConfig::default()
        }
    }

    fn facts(subnets: &[&str], pgs: &[&str]) -> RegionFacts {
        RegionFacts {
            subnet_groups: subnets.iter().map(|s| s.to_string()).collect(),
            parameter_groups: pgs.iter().map(|s| s.to_string()).collect(),
            ..RegionFacts::default()
        }
    }

    fn source<'a>(kind: DatabaseKind, config: &'a DatabaseConfig, same_region: bool) -> Source<'a> {
        Source {
            kind,
            snapshot_id: "lifeboat-orders-20261124-0400",
            engine: "postgres",
            engine_version: "16.4",
            config,
            same_region,
            from_record: true,
            selection_tag: Some(("lifeboat:backup", "true")),
        }
    }

    fn carried_snapshot(kind: DatabaseKind) -> Snapshot {
        Snapshot {
            id: "lifeboat-orders-20261124-0400".into(),
            arn: "arn:aws:rds:us-west-2:123456789012:snapshot:lifeboat-orders-20261124-0400".into(),
            kind,
            database: "orders".into(),
            status: "available".into(),
            engine: "postgres".into(),
            encrypted: true,
            kms_key_id: None,
            option_group: Some("default:postgres-16".into()),
            tags: BTreeMap::from([
                ("team".into(), "payments".into()),
                (tags::MANAGED.into(), "true".into()),
                (tags::SOURCE_DB.into(), "orders".into()),
                (tags::CREATED_AT.into(), "2026-11-24T04:00:00Z".into()),
            ]),
            created_at: None,
            copied_from: Some("us-east-1".into()),
            carried: crate::domain::model::Carried {
                engine_version: Some("16.4".into()),
                port: Some(5432),
                storage_type: Some("gp3".into()),
                allocated_storage_gib: Some(100),
                iops: Some(3000),
                iam_database_authentication: true,
                ..Default::default()
            },
        }
    }

    #[test]
    fn without_a_record_the_snapshot_says_what_it_can_and_the_rest_is_asked_for() {
        let snapshot = carried_snapshot(DatabaseKind::Instance);
        let config = config_from_snapshot(&snapshot);
        let mut from_snapshot = source(DatabaseKind::Instance, &config, false);
        from_snapshot.from_record = false;
        let bare = plan(
            &from_snapshot,
            "orders-dr",
            &Overrides::default(),
            &facts(&[], &[]),
        )
        .unwrap();
        let fields: Vec<&str> = bare.missing.iter().map(|m| m.override_field).collect();
        assert_eq!(
            fields,
            ["instance_class", "subnet_group", "security_group_ids"]
        );
        assert!(
            bare.notes[0].contains("no catalog record"),
            "{:?}",
            bare.notes
        );

        let given = Overrides {
            instance_class: Some("db.t4g.large".into()),
            subnet_group: Some("dr-subnets".into()),
            security_group_ids: Some(vec!["sg-0dr".into()]),
            ..Overrides::default()
        };
        let p = plan(
            &from_snapshot,
            "orders-dr",
            &given,
            &facts(&["dr-subnets"], &[]),
        )
        .unwrap();
        assert!(p.missing.is_empty(), "{:?}", p.missing);
        let Calls::Instance(i) = &p.calls else {
            panic!()
        };
        assert_eq!(i.db_instance_class, "db.t4g.large");
        assert_eq!(i.port, Some(5432));
        assert_eq!(i.storage_type.as_deref(), Some("gp3"));
        assert_eq!(i.iops, Some(3000));
        assert!(i.enable_iam_database_authentication);
        assert_eq!(
            i.option_group_name, None,
            "a default option group is left to RDS"
        );
        // The DB's own tags, not Lifeboat's snapshot tags.
        assert_eq!(i.tags["team"], "payments");
        assert!(!i.tags.contains_key(tags::MANAGED) && !i.tags.contains_key(tags::CREATED_AT));
        assert!(!i.publicly_accessible && !i.multi_az);
    }

    #[test]
    fn a_cluster_without_a_record_gets_one_writer_of_the_given_class() {
        let snapshot = carried_snapshot(DatabaseKind::Cluster);
        let config = config_from_snapshot(&snapshot);
        let mut from_snapshot = source(DatabaseKind::Cluster, &config, false);
        from_snapshot.from_record = false;
        let bare = plan(
            &from_snapshot,
            "ledger-dr",
            &Overrides::default(),
            &facts(&[], &[]),
        )
        .unwrap();
        assert!(bare
            .missing
            .iter()
            .any(|m| m.override_field == "instance_class" && m.what.contains("writer")));
        let given = Overrides {
            instance_class: Some("db.r6g.large".into()),
            subnet_group: Some("dr-subnets".into()),
            security_group_ids: Some(vec!["sg-0dr".into()]),
            ..Overrides::default()
        };
        let p = plan(
            &from_snapshot,
            "ledger-dr",
            &given,
            &facts(&["dr-subnets"], &[]),
        )
        .unwrap();
        assert!(p.missing.is_empty(), "{:?}", p.missing);
        let Calls::Cluster { cluster, instances } = &p.calls else {
            panic!()
        };
        assert_eq!(cluster.engine_version.as_deref(), Some("16.4"));
        assert_eq!(instances.len(), 1);
        assert_eq!(instances[0].db_instance_class, "db.r6g.large");
        assert_eq!(instances[0].db_instance_identifier, "ledger-dr-1");
    }

    #[test]
    fn the_selection_tag_is_dropped_unless_asked_for() {
        let mut captured = instance_config();
        captured
            .tags
            .insert("lifeboat:backup".into(), "true".into());
        let config = DatabaseConfig::Instance(captured);
        let tags_with = |overrides: &Overrides| {
            let p = plan(
                &source(DatabaseKind::Instance, &config, true),
                "orders-restored",
                overrides,
                &facts(&["prod-subnets"], &["orders-pg16"]),
            )
            .unwrap();
            let Calls::Instance(i) = p.calls else {
                panic!()
            };
            i.tags
        };
        let dropped = tags_with(&Overrides::default());
        assert!(!dropped.contains_key("lifeboat:backup"), "{dropped:?}");
        assert_eq!(dropped["team"], "payments");
        let kept = tags_with(&Overrides {
            keep_selection_tag: Some(true),
            ..Overrides::default()
        });
        assert_eq!(kept["lifeboat:backup"], "true");
    }

    #[test]
    fn the_default_subnet_group_is_left_to_rds_and_said_so() {
        let mut captured = instance_config();
        captured.subnet_group = Some(DEFAULT_SUBNET_GROUP.into());
        let config = DatabaseConfig::Instance(captured);
        let p = plan(
            &source(DatabaseKind::Instance, &config, false),
            "orders-dr",
            &Overrides {
                security_group_ids: Some(vec!["sg-0dr".into()]),
                parameter_group: Some("default.postgres16".into()),
                ..Overrides::default()
            },
            &facts(&[], &[]),
        )
        .unwrap();
        assert!(p.missing.is_empty(), "{:?}", p.missing);
        let Calls::Instance(i) = &p.calls else {
            panic!()
        };
        assert_eq!(i.db_subnet_group_name, None);
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("default DB subnet group")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn an_instance_is_rebuilt_as_captured_and_never_public() {
        let config = DatabaseConfig::Instance(instance_config());
        let plan = plan(
            &source(DatabaseKind::Instance, &config, true),
            "orders-restored",
            &Overrides::default(),
            &facts(&["prod-subnets"], &["orders-pg16"]),
        )
        .unwrap();
        assert!(plan.missing.is_empty(), "{:?}", plan.missing);
        let Calls::Instance(p) = &plan.calls else {
            panic!()
        };
        assert_eq!(p.db_instance_identifier, "orders-restored");
        assert_eq!(p.db_instance_class, "db.r6g.large");
        assert!(p.multi_az);
        assert!(!p.publicly_accessible);
        assert_eq!(p.port, Some(5432));
        assert_eq!(p.availability_zone, None, "a Multi-AZ DB picks its own AZ");
        assert_eq!(p.db_subnet_group_name.as_deref(), Some("prod-subnets"));
        assert_eq!(p.vpc_security_group_ids, ["sg-0aaa"]);
        assert_eq!(p.db_parameter_group_name.as_deref(), Some("orders-pg16"));
        assert_eq!(p.option_group_name, None, "default groups are left to RDS");
        assert_eq!((p.iops, p.storage_throughput), (Some(3000), Some(125)));
        assert!(p.enable_iam_database_authentication && p.deletion_protection);
        assert_eq!(p.tags["team"], "payments");
        assert_eq!(p.tags[tags::RESTORED_FROM], "lifeboat-orders-20261124-0400");
        assert!(!p.tags.contains_key("aws:cloudformation:stack-name"));
        let json = serde_json::to_value(&plan.calls).unwrap();
        assert_eq!(
            json["RestoreDBInstanceFromDBSnapshot"]["DBInstanceClass"],
            "db.r6g.large"
        );
        assert_eq!(
            json["RestoreDBInstanceFromDBSnapshot"]["PubliclyAccessible"],
            false
        );
    }

    #[test]
    fn in_a_dr_region_what_does_not_exist_is_reported_never_guessed() {
        let config = DatabaseConfig::Instance(instance_config());
        let plan = plan(
            &source(DatabaseKind::Instance, &config, false),
            "orders",
            &Overrides::default(),
            &RegionFacts::default(),
        )
        .unwrap();
        let fields: Vec<&str> = plan.missing.iter().map(|m| m.override_field).collect();
        assert_eq!(
            fields,
            ["subnet_group", "security_group_ids", "parameter_group"]
        );
        assert!(plan.missing.iter().any(|m| m.name == "sg-0aaa"));
    }

    #[test]
    fn overrides_win_and_are_checked_too() {
        let config = DatabaseConfig::Instance(instance_config());
        let overrides = Overrides {
            instance_class: Some("db.t4g.large".into()),
            subnet_group: Some("dr-subnets".into()),
            security_group_ids: Some(vec!["sg-0dr".into()]),
            multi_az: Some(false),
            parameter_group: Some("dr-missing".into()),
            availability_zone: Some("us-west-2b".into()),
            ..Overrides::default()
        };
        let plan = plan(
            &source(DatabaseKind::Instance, &config, false),
            "orders",
            &overrides,
            &facts(&["dr-subnets"], &[]),
        )
        .unwrap();
        let Calls::Instance(p) = &plan.calls else {
            panic!()
        };
        assert_eq!(p.db_instance_class, "db.t4g.large");
        assert!(!p.multi_az);
        assert_eq!(p.vpc_security_group_ids, ["sg-0dr"]);
        assert_eq!(p.availability_zone.as_deref(), Some("us-west-2b"));
        assert_eq!(plan.missing.len(), 1);
        assert_eq!(plan.missing[0].name, "dr-missing");
    }

    #[test]
    fn a_public_override_is_refused() {
        let config = DatabaseConfig::Instance(instance_config());
        let overrides = Overrides {
            publicly_accessible: Some(true),
            ..Overrides::default()
        };
        assert_eq!(
            plan(
                &source(DatabaseKind::Instance, &config, true),
                "x",
                &overrides,
                &RegionFacts::default()
            ),
            Err(Refusal::PublicAccess)
        );
    }

    #[test]
    fn a_cluster_is_restored_then_its_members_created_writer_first() {
        let config = DatabaseConfig::Cluster(cluster_config());
        let mut src = source(DatabaseKind::Cluster, &config, false);
        src.engine = "aurora-postgresql";
        let overrides = Overrides {
            subnet_group: Some("dr-subnets".into()),
            security_group_ids: Some(vec!["sg-0dr".into()]),
            ..Overrides::default()
        };
        let plan = plan(&src, "ledger-dr", &overrides, &facts(&["dr-subnets"], &[])).unwrap();
        assert!(plan.missing.is_empty(), "{:?}", plan.missing);
        let Calls::Cluster { cluster, instances } = &plan.calls else {
            panic!()
        };
        assert_eq!(cluster.engine, "aurora-postgresql");
        assert_eq!(cluster.db_cluster_parameter_group_name, None);
        assert_eq!(cluster.engine_mode, None);
        assert!(cluster.deletion_protection);
        let members: Vec<(&str, &str)> = instances
            .iter()
            .map(|i| {
                (
                    i.db_instance_identifier.as_str(),
                    i.db_instance_class.as_str(),
                )
            })
            .collect();
        assert_eq!(
            members,
            [
                ("ledger-dr-1", "db.r6g.large"),
                ("ledger-dr-2", "db.r6g.xlarge")
            ]
        );
        assert!(instances
            .iter()
            .all(|i| !i.publicly_accessible && i.availability_zone.is_none()));
        assert_eq!(
            plan.identifiers(),
            [
                (DatabaseKind::Cluster, "ledger-dr"),
                (DatabaseKind::Instance, "ledger-dr-1"),
                (DatabaseKind::Instance, "ledger-dr-2")
            ]
        );
    }

    #[test]
    fn a_member_without_a_known_class_needs_an_override() {
        let mut config = cluster_config();
        config.members[0].instance_class = None;
        let config = DatabaseConfig::Cluster(config);
        let plan = plan(
            &source(DatabaseKind::Cluster, &config, true),
            "ledger-dr",
            &Overrides::default(),
            &facts(&["prod-subnets"], &[]),
        )
        .unwrap();
        assert_eq!(plan.missing.len(), 1);
        assert_eq!(plan.missing[0].override_field, "instance_class");
    }

    #[test]
    fn member_identifiers_stay_valid() {
        assert_eq!(member_identifier("ledger", 1), "ledger-1");
        let long = format!("{}-b", "a".repeat(60));
        let id = member_identifier(&long, 2);
        assert_eq!(id.len(), 62);
        crate::domain::identifier::validate("member", &id).unwrap();
    }

    fn at(h: u32, m: u32, sec: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 11, 24, h, m, sec).unwrap()
    }

    #[test]
    fn a_restore_id_names_the_target_and_the_request_and_is_a_valid_tag_value() {
        let id = restore_id("ledger-dr", at(4, 0, 7));
        assert_eq!(id, "ledger-dr@20261124T040007Z");
        assert_eq!(id, restore_id("ledger-dr", at(4, 0, 7)), "deterministic");
        assert_ne!(id, restore_id("ledger-dr", at(4, 0, 8)));
        assert_ne!(id, restore_id("ledger-qa", at(4, 0, 7)));
        // RDS tag values: letters, digits, spaces and _ . : / = + - @.
        let long = restore_id(&"a".repeat(63), at(4, 0, 7));
        assert!(long.len() <= 256);
        assert!(long
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:/=+-@ ".contains(c)));
    }

    #[test]
    fn every_db_a_plan_creates_carries_the_restore_id() {
        let config = DatabaseConfig::Cluster(cluster_config());
        let mut src = source(DatabaseKind::Cluster, &config, true);
        src.engine = "aurora-postgresql";
        let mut p = plan(&src, "ledger-dr", &Overrides::default(), &facts(&[], &[])).unwrap();
        p.tag_with_restore_id("ledger-dr@20261124T040000Z");
        let Calls::Cluster { cluster, instances } = &p.calls else {
            panic!()
        };
        assert_eq!(cluster.tags[tags::RESTORE_ID], "ledger-dr@20261124T040000Z");
        assert_eq!(instances.len(), 2);
        assert!(instances
            .iter()
            .all(|i| i.tags[tags::RESTORE_ID] == "ledger-dr@20261124T040000Z"));

        // A source DB restored by Lifeboat itself carries an identity of its
        // own in its tags: the new restore's replaces it.
        let mut captured = instance_config();
        captured
            .tags
            .insert(tags::RESTORE_ID.into(), "orders@20250101T000000Z".into());
        let config = DatabaseConfig::Instance(captured);
        let mut p = plan(
            &source(DatabaseKind::Instance, &config, true),
            "orders-restored",
            &Overrides::default(),
            &facts(&["prod-subnets"], &["orders-pg16"]),
        )
        .unwrap();
        p.tag_with_restore_id("orders-restored@20261124T040000Z");
        let Calls::Instance(i) = &p.calls else {
            panic!()
        };
        assert_eq!(i.tags[tags::RESTORE_ID], "orders-restored@20261124T040000Z");
    }

    #[test]
    fn a_db_is_a_restores_own_only_if_it_carries_its_identity() {
        let tagged = |pairs: &[(&str, &str)]| {
            Existing::db(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let snapshot = "lifeboat-ledger-20261124-0400";
        let ours = tagged(&[
            (tags::RESTORED_FROM, snapshot),
            (tags::RESTORE_ID, "ledger-dr@20261124T050000Z"),
        ]);
        assert!(ours.is_made_by("ledger-dr@20261124T050000Z"));
        // Restored from the same snapshot long ago (production since a
        // failover), by another restore or before restores had identities.
        let long_ago = tagged(&[
            (tags::RESTORED_FROM, snapshot),
            (tags::RESTORE_ID, "ledger-dr@20261101T000000Z"),
        ]);
        let untagged = tagged(&[(tags::RESTORED_FROM, snapshot)]);
        for other in [&long_ago, &untagged, &tagged(&[]), &Existing::Free] {
            assert!(!other.is_made_by("ledger-dr@20261124T050000Z"), "{other:?}");
        }
        assert!(long_ago.whose().contains("ledger-dr@20261101T000000Z"));
        assert!(untagged.whose().contains("not by this restore"));
        assert_eq!(tagged(&[("team", "payments")]).whose(), "");
    }

    #[test]
    fn a_start_resumes_only_the_same_unfinished_or_whole_restore() {
        let requested_at = at(4, 0, 0);
        let earlier = Earlier {
            requested_at,
            same_plan: true,
            available: false,
        };
        let soon = at(4, 5, 0);
        // Stopped between recording and creating (nothing made), or
        // between the cluster and its members: the retry carries on.
        assert!(resumes(&earlier, 0, 3, soon));
        assert!(resumes(&earlier, 1, 3, soon));
        // All there: recognised, however late (it creates nothing).
        assert!(resumes(&earlier, 3, 3, soon + TimeDelta::days(30)));
        // Another request: a different snapshot, target setting or class.
        let other = Earlier {
            same_plan: false,
            ..earlier
        };
        assert!(!resumes(&other, 3, 3, soon));
        assert!(!resumes(&other, 0, 3, soon));
        // Finished, then some of it deleted: a new restore.
        let finished = Earlier {
            available: true,
            ..earlier
        };
        assert!(!resumes(&finished, 0, 3, soon));
        assert!(!resumes(&finished, 2, 3, soon));
        assert!(resumes(&finished, 3, 3, soon));
        // Unfinished and old: its DBs may be in service; a new restore.
        assert!(resumes(
            &earlier,
            1,
            3,
            requested_at + RESUME_WITHIN - TimeDelta::seconds(1)
        ));
        assert!(!resumes(&earlier, 1, 3, requested_at + RESUME_WITHIN));
        assert!(!resumes(&earlier, 0, 1, requested_at + TimeDelta::days(30)));
    }

    #[test]
    fn a_create_call_starts_only_with_the_margin_left() {
        let deadline = at(4, 2, 0);
        assert!(time_for_a_call(None, deadline), "no deadline known");
        assert!(time_for_a_call(
            Some(deadline),
            deadline - TimeDelta::minutes(1)
        ));
        assert!(time_for_a_call(Some(deadline), deadline - DEADLINE_MARGIN));
        assert!(!time_for_a_call(
            Some(deadline),
            deadline - DEADLINE_MARGIN + TimeDelta::milliseconds(1)
        ));
        assert!(!time_for_a_call(Some(deadline), deadline));
        assert!(!time_for_a_call(
            Some(deadline),
            deadline + TimeDelta::minutes(1)
        ));
    }

    #[test]
    fn the_lambda_deadline_is_milliseconds_since_the_epoch_and_zero_is_none() {
        assert_eq!(lambda_deadline(0), None);
        let ms = at(4, 2, 0).timestamp_millis() as u64 + 250;
        assert_eq!(
            lambda_deadline(ms),
            Some(at(4, 2, 0) + TimeDelta::milliseconds(250))
        );
        assert_eq!(lambda_deadline(u64::MAX), None);
    }

    #[test]
    fn a_recorded_plan_names_its_members() {
        let config = DatabaseConfig::Cluster(cluster_config());
        let p = plan(
            &source(DatabaseKind::Cluster, &config, true),
            "ledger-dr",
            &Overrides::default(),
            &facts(&[], &[]),
        )
        .unwrap();
        let recorded = serde_json::to_value(&p.calls).unwrap();
        assert_eq!(recorded_members(&recorded), ["ledger-dr-1", "ledger-dr-2"]);
        let config = DatabaseConfig::Instance(instance_config());
        let p = plan(
            &source(DatabaseKind::Instance, &config, true),
            "orders",
            &Overrides::default(),
            &facts(&[], &[]),
        )
        .unwrap();
        assert!(recorded_members(&serde_json::to_value(&p.calls).unwrap()).is_empty());
        assert!(recorded_members(&serde_json::Value::Null).is_empty());
    }
}
