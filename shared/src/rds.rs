//! The RDS adapter: describes the fleet and takes snapshots, translating
//! between the SDK's types and the domain's. SDK errors are mapped here, once.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_rds::types::{DbCluster, DbClusterSnapshot, DbInstance, DbSnapshot, Tag};
use aws_sdk_rds::Client;

use crate::error::Error;
use crate::model::{
    ClusterConfig, ClusterMember, Database, DatabaseConfig, DatabaseKind, Fleet, InstanceConfig,
    ServerlessV2Scaling, Snapshot,
};

/// Describes every DB instance and DB cluster in the client's region. Two
/// paginated calls whatever the fleet's size: `TagList` comes with each page,
/// so there is no per-DB tag lookup.
pub async fn describe_fleet(rds: &Client) -> Result<Fleet, Error> {
    let (instances, clusters) = tokio::try_join!(
        async {
            rds.describe_db_instances()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws("DescribeDBInstances", e))
        },
        async {
            rds.describe_db_clusters()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws("DescribeDBClusters", e))
        },
    )?;
    Ok(fleet_from(&instances, &clusters))
}

/// Pure translation of the describe results, joined so that each cluster
/// knows its members' classes.
pub fn fleet_from(instances: &[DbInstance], clusters: &[DbCluster]) -> Fleet {
    let by_id: HashMap<&str, &DbInstance> = instances
        .iter()
        .filter_map(|i| Some((i.db_instance_identifier()?, i)))
        .collect();
    let mut databases: Vec<Database> = clusters.iter().map(|c| cluster(c, &by_id)).collect();
    databases.extend(instances.iter().map(instance));
    Fleet { databases }
}

fn tags(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_string)
}

fn instance(i: &DbInstance) -> Database {
    let tags = tags(i.tag_list());
    let port = i
        .endpoint()
        .and_then(|e| e.port())
        .or(i.db_instance_port().filter(|p| *p != 0));
    let config = InstanceConfig {
        instance_class: i.db_instance_class().unwrap_or_default().to_string(),
        storage_type: owned(i.storage_type()),
        allocated_storage_gib: i.allocated_storage().filter(|s| *s > 0),
        max_allocated_storage_gib: i.max_allocated_storage(),
        iops: i.iops(),
        storage_throughput: i.storage_throughput(),
        port,
        multi_az: i.multi_az().unwrap_or(false),
        availability_zone: owned(i.availability_zone()),
        parameter_group: i
            .db_parameter_groups()
            .first()
            .and_then(|g| owned(g.db_parameter_group_name())),
        option_group: i
            .option_group_memberships()
            .first()
            .and_then(|g| owned(g.option_group_name())),
        subnet_group: i
            .db_subnet_group()
            .and_then(|g| owned(g.db_subnet_group_name())),
        vpc_security_group_ids: i
            .vpc_security_groups()
            .iter()
            .filter_map(|g| owned(g.vpc_security_group_id()))
            .collect(),
        iam_database_authentication: i.iam_database_authentication_enabled().unwrap_or(false),
        deletion_protection: i.deletion_protection().unwrap_or(false),
        publicly_accessible: i.publicly_accessible().unwrap_or(false),
        copy_tags_to_snapshot: i.copy_tags_to_snapshot().unwrap_or(false),
        license_model: owned(i.license_model()),
        ca_certificate_identifier: owned(i.ca_certificate_identifier()),
        tags: tags.clone(),
    };
    Database {
        identifier: i.db_instance_identifier().unwrap_or_default().to_string(),
        kind: DatabaseKind::Instance,
        arn: i.db_instance_arn().unwrap_or_default().to_string(),
        engine: i.engine().unwrap_or_default().to_string(),
        engine_version: i.engine_version().unwrap_or_default().to_string(),
        status: i.db_instance_status().unwrap_or_default().to_string(),
        encrypted: i.storage_encrypted().unwrap_or(false),
        kms_key_id: owned(i.kms_key_id()),
        tags,
        member_of: owned(i.db_cluster_identifier()),
        config: DatabaseConfig::Instance(config),
    }
}

fn cluster(c: &DbCluster, instances: &HashMap<&str, &DbInstance>) -> Database {
    let tags = tags(c.tag_list());
    let members = c
        .db_cluster_members()
        .iter()
        .map(|m| {
            let id = m.db_instance_identifier().unwrap_or_default();
            let member = instances.get(id);
            ClusterMember {
                instance_identifier: id.to_string(),
                instance_class: member.and_then(|i| owned(i.db_instance_class())),
                is_writer: m.is_cluster_writer().unwrap_or(false),
                promotion_tier: m.promotion_tier(),
                parameter_group: member.and_then(|i| {
                    i.db_parameter_groups()
                        .first()
                        .and_then(|g| owned(g.db_parameter_group_name()))
                }),
                availability_zone: member.and_then(|i| owned(i.availability_zone())),
            }
        })
        .collect();
    let config = ClusterConfig {
        engine_mode: owned(c.engine_mode()),
        cluster_instance_class: owned(c.db_cluster_instance_class()),
        storage_type: owned(c.storage_type()),
        allocated_storage_gib: c.allocated_storage().filter(|s| *s > 1),
        iops: c.iops(),
        port: c.port(),
        parameter_group: owned(c.db_cluster_parameter_group()),
        subnet_group: owned(c.db_subnet_group()),
        vpc_security_group_ids: c
            .vpc_security_groups()
            .iter()
            .filter_map(|g| owned(g.vpc_security_group_id()))
            .collect(),
        iam_database_authentication: c.iam_database_authentication_enabled().unwrap_or(false),
        deletion_protection: c.deletion_protection().unwrap_or(false),
        serverless_v2_scaling: c.serverless_v2_scaling_configuration().map(|s| {
            ServerlessV2Scaling {
                min_capacity: s.min_capacity(),
                max_capacity: s.max_capacity(),
            }
        }),
        tags: tags.clone(),
        members,
    };
    Database {
        identifier: c.db_cluster_identifier().unwrap_or_default().to_string(),
        kind: DatabaseKind::Cluster,
        arn: c.db_cluster_arn().unwrap_or_default().to_string(),
        engine: c.engine().unwrap_or_default().to_string(),
        engine_version: c.engine_version().unwrap_or_default().to_string(),
        status: c.status().unwrap_or_default().to_string(),
        encrypted: c.storage_encrypted().unwrap_or(false),
        kms_key_id: owned(c.kms_key_id()),
        tags,
        member_of: None,
        config: DatabaseConfig::Cluster(config),
    }
}

/// A snapshot as RDS reported it back.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRef {
    pub snapshot_id: String,
    pub arn: String,
    pub status: String,
    /// False when the snapshot already existed: the same event was delivered
    /// before, which is success, not an error.
    pub created: bool,
}

fn sdk_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Starts a snapshot of `db` named `snapshot_id` with `tags`: a DB snapshot
/// for an instance, a DB cluster snapshot for a cluster. If one of that name
/// exists already, it is described and returned with `created: false`.
pub async fn create_snapshot(
    rds: &Client,
    db: &Database,
    snapshot_id: &str,
    tags: &[(String, String)],
) -> Result<SnapshotRef, Error> {
    match db.kind {
        DatabaseKind::Instance => {
            let sent = rds
                .create_db_snapshot()
                .db_instance_identifier(&db.identifier)
                .db_snapshot_identifier(snapshot_id)
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await;
            match sent {
                Ok(out) => {
                    let s = out.db_snapshot();
                    Ok(SnapshotRef {
                        snapshot_id: snapshot_id.to_string(),
                        arn: s
                            .and_then(|s| s.db_snapshot_arn())
                            .unwrap_or_default()
                            .to_string(),
                        status: s.and_then(|s| s.status()).unwrap_or_default().to_string(),
                        created: true,
                    })
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_db_snapshot_already_exists_fault()) =>
                {
                    describe_db_snapshot(rds, snapshot_id).await
                }
                Err(e) => Err(Error::aws("CreateDBSnapshot", e)),
            }
        }
        DatabaseKind::Cluster => {
            let sent = rds
                .create_db_cluster_snapshot()
                .db_cluster_identifier(&db.identifier)
                .db_cluster_snapshot_identifier(snapshot_id)
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await;
            match sent {
                Ok(out) => {
                    let s = out.db_cluster_snapshot();
                    Ok(SnapshotRef {
                        snapshot_id: snapshot_id.to_string(),
                        arn: s
                            .and_then(|s| s.db_cluster_snapshot_arn())
                            .unwrap_or_default()
                            .to_string(),
                        status: s.and_then(|s| s.status()).unwrap_or_default().to_string(),
                        created: true,
                    })
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_db_cluster_snapshot_already_exists_fault()) =>
                {
                    describe_db_cluster_snapshot(rds, snapshot_id).await
                }
                Err(e) => Err(Error::aws("CreateDBClusterSnapshot", e)),
            }
        }
    }
}

async fn describe_db_snapshot(rds: &Client, snapshot_id: &str) -> Result<SnapshotRef, Error> {
    let out = rds
        .describe_db_snapshots()
        .db_snapshot_identifier(snapshot_id)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeDBSnapshots", e))?;
    let s = out.db_snapshots().first();
    Ok(SnapshotRef {
        snapshot_id: snapshot_id.to_string(),
        arn: s
            .and_then(|s| s.db_snapshot_arn())
            .unwrap_or_default()
            .to_string(),
        status: s.and_then(|s| s.status()).unwrap_or_default().to_string(),
        created: false,
    })
}

async fn describe_db_cluster_snapshot(
    rds: &Client,
    snapshot_id: &str,
) -> Result<SnapshotRef, Error> {
    let out = rds
        .describe_db_cluster_snapshots()
        .db_cluster_snapshot_identifier(snapshot_id)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeDBClusterSnapshots", e))?;
    let s = out.db_cluster_snapshots().first();
    Ok(SnapshotRef {
        snapshot_id: snapshot_id.to_string(),
        arn: s
            .and_then(|s| s.db_cluster_snapshot_arn())
            .unwrap_or_default()
            .to_string(),
        status: s.and_then(|s| s.status()).unwrap_or_default().to_string(),
        created: false,
    })
}

fn time(t: Option<&aws_sdk_rds::primitives::DateTime>) -> Option<chrono::DateTime<chrono::Utc>> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

pub fn db_snapshot(s: &DbSnapshot) -> Snapshot {
    Snapshot {
        id: s.db_snapshot_identifier().unwrap_or_default().to_string(),
        arn: s.db_snapshot_arn().unwrap_or_default().to_string(),
        kind: DatabaseKind::Instance,
        database: s.db_instance_identifier().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        engine: s.engine().unwrap_or_default().to_string(),
        encrypted: s.encrypted().unwrap_or(false),
        kms_key_id: owned(s.kms_key_id()),
        option_group: owned(s.option_group_name()),
        tags: tags(s.tag_list()),
        created: time(s.snapshot_create_time()),
        copied_from: owned(s.source_region()),
    }
}

pub fn db_cluster_snapshot(s: &DbClusterSnapshot) -> Snapshot {
    Snapshot {
        id: s
            .db_cluster_snapshot_identifier()
            .unwrap_or_default()
            .to_string(),
        arn: s.db_cluster_snapshot_arn().unwrap_or_default().to_string(),
        kind: DatabaseKind::Cluster,
        database: s.db_cluster_identifier().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        engine: s.engine().unwrap_or_default().to_string(),
        encrypted: s.storage_encrypted().unwrap_or(false),
        kms_key_id: owned(s.kms_key_id()),
        option_group: None,
        tags: tags(s.tag_list()),
        created: time(s.snapshot_create_time()),
        copied_from: owned(s.source_db_cluster_snapshot_arn()),
    }
}

/// Every manual DB snapshot and DB cluster snapshot in the client's region:
/// two paginated calls, tags included (no per-snapshot tag lookup).
pub async fn describe_manual_snapshots(rds: &Client) -> Result<Vec<Snapshot>, Error> {
    let (instances, clusters) = tokio::try_join!(
        async {
            rds.describe_db_snapshots()
                .snapshot_type("manual")
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws("DescribeDBSnapshots", e))
        },
        async {
            rds.describe_db_cluster_snapshots()
                .snapshot_type("manual")
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws("DescribeDBClusterSnapshots", e))
        },
    )?;
    let mut snapshots: Vec<Snapshot> = instances.iter().map(db_snapshot).collect();
    snapshots.extend(clusters.iter().map(db_cluster_snapshot));
    Ok(snapshots)
}

/// Looks a snapshot up by identifier: as a DB snapshot, then as a DB cluster
/// snapshot, or only as `kind` when that is known. `None` if it is neither.
pub async fn find_snapshot(
    rds: &Client,
    id: &str,
    kind: Option<DatabaseKind>,
) -> Result<Option<Snapshot>, Error> {
    if kind == Some(DatabaseKind::Cluster) {
        return find_db_cluster_snapshot(rds, id).await;
    }
    match rds
        .describe_db_snapshots()
        .db_snapshot_identifier(id)
        .send()
        .await
    {
        Ok(out) => {
            if let Some(s) = out.db_snapshots().first() {
                return Ok(Some(db_snapshot(s)));
            }
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_db_snapshot_not_found_fault()) => {}
        Err(e) => return Err(Error::aws("DescribeDBSnapshots", e)),
    }
    if kind == Some(DatabaseKind::Instance) {
        return Ok(None);
    }
    find_db_cluster_snapshot(rds, id).await
}

async fn find_db_cluster_snapshot(rds: &Client, id: &str) -> Result<Option<Snapshot>, Error> {
    match rds
        .describe_db_cluster_snapshots()
        .db_cluster_snapshot_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_cluster_snapshots().first().map(db_cluster_snapshot)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_db_cluster_snapshot_not_found_fault()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::aws("DescribeDBClusterSnapshots", e)),
    }
}

/// The parts of a snapshot ARN: (region, kind, identifier), or `None` if
/// `arn` is not an RDS snapshot ARN.
pub fn parse_snapshot_arn(arn: &str) -> Option<(&str, DatabaseKind, &str)> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _, "rds", region, _, "snapshot", id] => Some((region, DatabaseKind::Instance, id)),
        ["arn", _, "rds", region, _, "cluster-snapshot", id] => {
            Some((region, DatabaseKind::Cluster, id))
        }
        _ => None,
    }
}

/// What a copy call came to.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyResult {
    /// RDS accepted the copy; the ARN of the new snapshot.
    Started { arn: String },
    /// A snapshot with the target identifier is already in the region.
    AlreadyExists,
    /// RDS's limit on copies in progress into the region was hit: try later.
    CopyLimit(String),
    /// The region's manual snapshot quota is used up: nothing will copy
    /// until snapshots are deleted or the quota raised.
    SnapshotQuota(String),
}

/// RDS answers both "too many copies in progress" and "too many manual
/// snapshots" with `SnapshotQuotaExceeded`; only the message tells them
/// apart ("Cannot copy more than 5 snapshots across regions" versus "Cannot
/// create more than 100 manual snapshots").
pub fn is_copy_limit_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("copy")
        || m.contains("copies")
        || m.contains("in progress")
        || m.contains("concurrent")
}

/// Copies `source` into the region of `rds` under the same identifier, with
/// `tags`, re-encrypted with `kms_key_id` when given, and with
/// `option_group` for DB snapshots that need one.
///
/// No `PreSignedUrl` is sent: RDS only uses it between GovCloud regions.
pub async fn copy_snapshot(
    rds: &Client,
    source: &Snapshot,
    kms_key_id: Option<&str>,
    option_group: Option<&str>,
    tags: &[(String, String)],
) -> Result<CopyResult, Error> {
    let quota = |code: Option<&str>, message: Option<&str>| -> Option<CopyResult> {
        (code == Some("SnapshotQuotaExceeded")).then(|| {
            let message = message.unwrap_or_default().to_string();
            if is_copy_limit_message(&message) {
                CopyResult::CopyLimit(message)
            } else {
                CopyResult::SnapshotQuota(message)
            }
        })
    };
    match source.kind {
        DatabaseKind::Instance => {
            let sent = rds
                .copy_db_snapshot()
                .source_db_snapshot_identifier(&source.arn)
                .target_db_snapshot_identifier(&source.id)
                .set_kms_key_id(kms_key_id.map(str::to_string))
                .set_option_group_name(option_group.map(str::to_string))
                .copy_tags(false)
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await;
            match sent {
                Ok(out) => Ok(CopyResult::Started {
                    arn: out
                        .db_snapshot()
                        .and_then(|s| s.db_snapshot_arn())
                        .unwrap_or_default()
                        .to_string(),
                }),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_db_snapshot_already_exists_fault()) =>
                {
                    Ok(CopyResult::AlreadyExists)
                }
                Err(e) => {
                    use aws_sdk_rds::error::ProvideErrorMetadata;
                    match quota(e.code(), e.message()) {
                        Some(result) => Ok(result),
                        None => Err(Error::aws("CopyDBSnapshot", e)),
                    }
                }
            }
        }
        DatabaseKind::Cluster => {
            let sent = rds
                .copy_db_cluster_snapshot()
                .source_db_cluster_snapshot_identifier(&source.arn)
                .target_db_cluster_snapshot_identifier(&source.id)
                .set_kms_key_id(kms_key_id.map(str::to_string))
                .copy_tags(false)
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await;
            match sent {
                Ok(out) => Ok(CopyResult::Started {
                    arn: out
                        .db_cluster_snapshot()
                        .and_then(|s| s.db_cluster_snapshot_arn())
                        .unwrap_or_default()
                        .to_string(),
                }),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_db_cluster_snapshot_already_exists_fault()) =>
                {
                    Ok(CopyResult::AlreadyExists)
                }
                Err(e) => {
                    use aws_sdk_rds::error::ProvideErrorMetadata;
                    match quota(e.code(), e.message()) {
                        Some(result) => Ok(result),
                        None => Err(Error::aws("CopyDBClusterSnapshot", e)),
                    }
                }
            }
        }
    }
}

/// Deletes a manual snapshot. One that is already gone counts as deleted:
/// a redelivered prune event must not fail on its own earlier work.
pub async fn delete_snapshot(rds: &Client, snapshot: &Snapshot) -> Result<(), Error> {
    match snapshot.kind {
        DatabaseKind::Instance => match rds
            .delete_db_snapshot()
            .db_snapshot_identifier(&snapshot.id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_db_snapshot_not_found_fault()) =>
            {
                Ok(())
            }
            Err(e) => Err(Error::aws("DeleteDBSnapshot", e)),
        },
        DatabaseKind::Cluster => match rds
            .delete_db_cluster_snapshot()
            .db_cluster_snapshot_identifier(&snapshot.id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_db_cluster_snapshot_not_found_fault()) =>
            {
                Ok(())
            }
            Err(e) => Err(Error::aws("DeleteDBClusterSnapshot", e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_arns_are_taken_apart() {
        assert_eq!(
            parse_snapshot_arn(
                "arn:aws:rds:us-east-1:123456789012:snapshot:lifeboat-orders-20261124-0400"
            ),
            Some((
                "us-east-1",
                DatabaseKind::Instance,
                "lifeboat-orders-20261124-0400"
            ))
        );
        assert_eq!(
            parse_snapshot_arn("arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster-snapshot:x"),
            Some(("us-gov-west-1", DatabaseKind::Cluster, "x"))
        );
        assert_eq!(
            parse_snapshot_arn("arn:aws:rds:us-east-1:123456789012:db:orders"),
            None
        );
        assert_eq!(parse_snapshot_arn("lifeboat-orders"), None);
    }

    #[test]
    fn the_two_snapshot_quota_messages_are_told_apart() {
        assert!(is_copy_limit_message(
            "Cannot copy more than 5 snapshots across regions"
        ));
        assert!(is_copy_limit_message(
            "Too many snapshot copies in progress"
        ));
        assert!(!is_copy_limit_message(
            "Cannot create more than 100 manual snapshots"
        ));
        assert!(!is_copy_limit_message(
            "The request cannot be processed because it would exceed the maximum number of snapshots."
        ));
    }
}
