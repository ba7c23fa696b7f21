//! Snapshots: taking, listing, finding, copying and deleting DB snapshots
//! and DB cluster snapshots. RDS has a twin operation for each kind; every
//! function here takes the domain's `DatabaseKind` and picks the twin, so
//! callers never do.

use aws_sdk_rds::types::{DbClusterSnapshot, DbSnapshot, Tag};
use aws_sdk_rds::Client;

use super::{owned, sdk_tags, tags, time, unless};
use crate::domain::copy_plan::is_copy_limit_message;
use crate::domain::model::{Carried, Database, DatabaseKind, Snapshot};
use crate::error::Error;

/// A snapshot as RDS reported it back.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRef {
    pub snapshot_id: String,
    pub arn: String,
    pub status: String,
    /// False when the snapshot already existed: the same event was delivered
    /// before, which is success, not an error.
    pub is_new: bool,
}

impl SnapshotRef {
    fn of(snapshot_id: &str, found: Option<Snapshot>, is_new: bool) -> Self {
        let (arn, status) = found.map(|s| (s.arn, s.status)).unwrap_or_default();
        SnapshotRef {
            snapshot_id: snapshot_id.to_string(),
            arn,
            status,
            is_new,
        }
    }
}

/// Starts a snapshot of `db` named `snapshot_id` with `tags`: a DB snapshot
/// for an instance, a DB cluster snapshot for a cluster. If one of that name
/// exists already, it is described and returned with `is_new: false`.
pub async fn create_snapshot(
    rds: &Client,
    db: &Database,
    snapshot_id: &str,
    tags: &[(String, String)],
) -> Result<SnapshotRef, Error> {
    let tags = sdk_tags(tags.iter().map(|(k, v)| (k, v)));
    let created = match db.kind {
        DatabaseKind::Instance => unless(
            "CreateDBSnapshot",
            rds.create_db_snapshot()
                .db_instance_identifier(&db.identifier)
                .db_snapshot_identifier(snapshot_id)
                .set_tags(Some(tags))
                .send()
                .await,
            |e| e.is_db_snapshot_already_exists_fault(),
        )?
        .map(|out| out.db_snapshot().map(snapshot)),
        DatabaseKind::Cluster => unless(
            "CreateDBClusterSnapshot",
            rds.create_db_cluster_snapshot()
                .db_cluster_identifier(&db.identifier)
                .db_cluster_snapshot_identifier(snapshot_id)
                .set_tags(Some(tags))
                .send()
                .await,
            |e| e.is_db_cluster_snapshot_already_exists_fault(),
        )?
        .map(|out| out.db_cluster_snapshot().map(snapshot)),
    };
    match created {
        Some(snapshot) => Ok(SnapshotRef::of(snapshot_id, snapshot, true)),
        None => {
            let found = find_snapshot(rds, snapshot_id, Some(db.kind)).await?;
            Ok(SnapshotRef::of(snapshot_id, found, false))
        }
    }
}

/// What Lifeboat reads off RDS's two snapshot types, which carry the same
/// facts under different names; `snapshot` translates either.
trait SdkSnapshot {
    const KIND: DatabaseKind;
    fn parts(&self) -> Parts<'_>;
}

/// One snapshot's fields, by Lifeboat's names.
struct Parts<'a> {
    id: Option<&'a str>,
    arn: Option<&'a str>,
    database: Option<&'a str>,
    status: Option<&'a str>,
    engine: Option<&'a str>,
    encrypted: Option<bool>,
    kms_key_id: Option<&'a str>,
    option_group: Option<&'a str>,
    tags: &'a [Tag],
    created_at: Option<&'a aws_sdk_rds::primitives::DateTime>,
    copied_from: Option<&'a str>,
    carried: Carried,
}

impl SdkSnapshot for DbSnapshot {
    const KIND: DatabaseKind = DatabaseKind::Instance;
    fn parts(&self) -> Parts<'_> {
        Parts {
            id: self.db_snapshot_identifier(),
            arn: self.db_snapshot_arn(),
            database: self.db_instance_identifier(),
            status: self.status(),
            engine: self.engine(),
            encrypted: self.encrypted(),
            kms_key_id: self.kms_key_id(),
            option_group: self.option_group_name(),
            tags: self.tag_list(),
            created_at: self.snapshot_create_time(),
            // A copy names the region it came from.
            copied_from: self.source_region(),
            carried: Carried {
                engine_version: owned(self.engine_version()),
                engine_mode: None,
                port: self.port(),
                storage_type: owned(self.storage_type()),
                allocated_storage_gib: self.allocated_storage(),
                iops: self.iops(),
                storage_throughput: self.storage_throughput(),
                iam_database_authentication: self
                    .iam_database_authentication_enabled()
                    .unwrap_or(false),
                license_model: owned(self.license_model()),
            },
        }
    }
}

impl SdkSnapshot for DbClusterSnapshot {
    const KIND: DatabaseKind = DatabaseKind::Cluster;
    fn parts(&self) -> Parts<'_> {
        Parts {
            id: self.db_cluster_snapshot_identifier(),
            arn: self.db_cluster_snapshot_arn(),
            database: self.db_cluster_identifier(),
            status: self.status(),
            engine: self.engine(),
            encrypted: self.storage_encrypted(),
            kms_key_id: self.kms_key_id(),
            // Option groups belong to DB instances, not clusters.
            option_group: None,
            tags: self.tag_list(),
            created_at: self.snapshot_create_time(),
            // A copy names the snapshot it came from.
            copied_from: self.source_db_cluster_snapshot_arn(),
            carried: Carried {
                engine_version: owned(self.engine_version()),
                engine_mode: owned(self.engine_mode()),
                port: self.port(),
                storage_type: owned(self.storage_type()),
                allocated_storage_gib: self.allocated_storage(),
                iops: None,
                storage_throughput: self.storage_throughput(),
                iam_database_authentication: self
                    .iam_database_authentication_enabled()
                    .unwrap_or(false),
                license_model: owned(self.license_model()),
            },
        }
    }
}

fn snapshot<S: SdkSnapshot>(s: &S) -> Snapshot {
    let p = s.parts();
    let text = |v: Option<&str>| v.unwrap_or_default().to_string();
    Snapshot {
        id: text(p.id),
        arn: text(p.arn),
        kind: S::KIND,
        database: text(p.database),
        status: text(p.status),
        engine: text(p.engine),
        encrypted: p.encrypted.unwrap_or(false),
        kms_key_id: owned(p.kms_key_id),
        option_group: owned(p.option_group),
        tags: tags(p.tags),
        created_at: time(p.created_at),
        copied_from: owned(p.copied_from),
        carried: p.carried,
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
    let mut snapshots: Vec<Snapshot> = instances.iter().map(snapshot).collect();
    snapshots.extend(clusters.iter().map(snapshot));
    Ok(snapshots)
}

/// Looks a snapshot up by identifier: as a DB snapshot, then as a DB cluster
/// snapshot, or only as `kind` when that is known. `None` if it is neither.
pub async fn find_snapshot(
    rds: &Client,
    id: &str,
    kind: Option<DatabaseKind>,
) -> Result<Option<Snapshot>, Error> {
    if kind != Some(DatabaseKind::Cluster) {
        let found = unless(
            "DescribeDBSnapshots",
            rds.describe_db_snapshots()
                .db_snapshot_identifier(id)
                .send()
                .await,
            |e| e.is_db_snapshot_not_found_fault(),
        )?
        .and_then(|out| out.db_snapshots().first().map(snapshot));
        if found.is_some() || kind == Some(DatabaseKind::Instance) {
            return Ok(found);
        }
    }
    Ok(unless(
        "DescribeDBClusterSnapshots",
        rds.describe_db_cluster_snapshots()
            .db_cluster_snapshot_identifier(id)
            .send()
            .await,
        |e| e.is_db_cluster_snapshot_not_found_fault(),
    )?
    .and_then(|out| out.db_cluster_snapshots().first().map(snapshot)))
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

/// Copies `source` into the region of `rds` as `target_id`, with
/// `tags`, re-encrypted with `kms_key_id` when given, and with
/// `option_group` for DB snapshots that need one.
///
/// No `PreSignedUrl` is sent: RDS only uses it between GovCloud regions.
pub async fn copy_snapshot(
    rds: &Client,
    source: &Snapshot,
    target_id: &str,
    kms_key_id: Option<&str>,
    option_group: Option<&str>,
    tags: &[(String, String)],
) -> Result<CopyResult, Error> {
    let tags = sdk_tags(tags.iter().map(|(k, v)| (k, v)));
    let sent = match source.kind {
        DatabaseKind::Instance => rds
            .copy_db_snapshot()
            .source_db_snapshot_identifier(&source.arn)
            .target_db_snapshot_identifier(target_id)
            .set_kms_key_id(kms_key_id.map(str::to_string))
            .set_option_group_name(option_group.map(str::to_string))
            .copy_tags(false)
            .set_tags(Some(tags))
            .send()
            .await
            .map(|out| out.db_snapshot().and_then(|s| owned(s.db_snapshot_arn())))
            .map_err(|e| CopyRefused {
                exists: e
                    .as_service_error()
                    .is_some_and(|e| e.is_db_snapshot_already_exists_fault()),
                error: Error::aws("CopyDBSnapshot", e),
            }),
        DatabaseKind::Cluster => rds
            .copy_db_cluster_snapshot()
            .source_db_cluster_snapshot_identifier(&source.arn)
            .target_db_cluster_snapshot_identifier(target_id)
            .set_kms_key_id(kms_key_id.map(str::to_string))
            .copy_tags(false)
            .set_tags(Some(tags))
            .send()
            .await
            .map(|out| {
                out.db_cluster_snapshot()
                    .and_then(|s| owned(s.db_cluster_snapshot_arn()))
            })
            .map_err(|e| CopyRefused {
                exists: e
                    .as_service_error()
                    .is_some_and(|e| e.is_db_cluster_snapshot_already_exists_fault()),
                error: Error::aws("CopyDBClusterSnapshot", e),
            }),
    };
    match sent {
        Ok(arn) => Ok(CopyResult::Started {
            arn: arn.unwrap_or_default(),
        }),
        Err(CopyRefused { exists: true, .. }) => Ok(CopyResult::AlreadyExists),
        Err(CopyRefused { error, .. }) => match &error {
            // RDS answers both "too many copies in progress" and "too many
            // manual snapshots" with SnapshotQuotaExceeded.
            Error::Aws { code, message, .. } if code == "SnapshotQuotaExceeded" => {
                Ok(if is_copy_limit_message(message) {
                    CopyResult::CopyLimit(message.clone())
                } else {
                    CopyResult::SnapshotQuota(message.clone())
                })
            }
            _ => Err(error),
        },
    }
}

/// A copy RDS refused: whether the target is already there, and the error.
struct CopyRefused {
    exists: bool,
    error: Error,
}

/// Deletes a manual snapshot. One that is already gone counts as deleted:
/// a redelivered prune event must not fail on its own earlier work.
pub async fn delete_snapshot(rds: &Client, snapshot: &Snapshot) -> Result<(), Error> {
    match snapshot.kind {
        DatabaseKind::Instance => unless(
            "DeleteDBSnapshot",
            rds.delete_db_snapshot()
                .db_snapshot_identifier(&snapshot.id)
                .send()
                .await,
            |e| e.is_db_snapshot_not_found_fault(),
        )
        .map(drop),
        DatabaseKind::Cluster => unless(
            "DeleteDBClusterSnapshot",
            rds.delete_db_cluster_snapshot()
                .db_cluster_snapshot_identifier(&snapshot.id)
                .send()
                .await,
            |e| e.is_db_cluster_snapshot_not_found_fault(),
        )
        .map(drop),
    }
}
