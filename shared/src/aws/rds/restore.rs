//! The RDS adapter for restores: what exists in a region, carrying out a
//! plan (rolling back what it created if it fails half-way), and progress.

use aws_sdk_rds::types::ServerlessV2ScalingConfiguration;
use aws_sdk_rds::Client;
use serde::Serialize;

use super::{sdk_tags, tags, unless};
use crate::domain::model::DatabaseKind;
use crate::domain::restore_plan::{
    Calls, CreateClusterInstance, Plan, RegionFacts, RestoreDbCluster, RestoreDbInstance,
};
use crate::domain::tags::RESTORED_FROM;
use crate::error::Error;

/// A DB that has an identifier a restore would create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// No DB has it.
    Free,
    /// A DB restored from this snapshot: an earlier attempt of the same
    /// restore (a lost answer, a retried start).
    Restored(String),
    /// Any other DB.
    Other,
}

/// What, if anything, has identifier `id`, and the snapshot it says it was
/// restored from.
pub async fn existing(
    rds: &Client,
    kind: DatabaseKind,
    id: &str,
) -> Result<Option<Option<String>>, Error> {
    Ok(match kind {
        DatabaseKind::Instance => unless(
            "DescribeDBInstances",
            rds.describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await,
            |e| e.is_db_instance_not_found_fault(),
        )?
        .and_then(|out| {
            out.db_instances()
                .first()
                .map(|i| tags(i.tag_list()).remove(RESTORED_FROM))
        }),
        DatabaseKind::Cluster => unless(
            "DescribeDBClusters",
            rds.describe_db_clusters()
                .db_cluster_identifier(id)
                .send()
                .await,
            |e| e.is_db_cluster_not_found_fault(),
        )?
        .and_then(|out| {
            out.db_clusters()
                .first()
                .map(|c| tags(c.tag_list()).remove(RESTORED_FROM))
        }),
    })
}

/// Whether `id` is free, this restore's own (restored from `snapshot_id`),
/// or another DB's.
pub async fn classify(
    rds: &Client,
    kind: DatabaseKind,
    id: &str,
    snapshot_id: &str,
) -> Result<Existing, Error> {
    Ok(match existing(rds, kind, id).await? {
        None => Existing::Free,
        Some(Some(from)) if from == snapshot_id => Existing::Restored(from),
        Some(_) => Existing::Other,
    })
}

/// Which of the named groups exist in the region: one describe per name.
pub async fn region_facts(
    rds: &Client,
    subnet_groups: &[String],
    parameter_groups: &[String],
    cluster_parameter_groups: &[String],
    option_groups: &[String],
) -> Result<RegionFacts, Error> {
    let mut facts = RegionFacts::default();
    for name in subnet_groups {
        let sent = rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await;
        if unless("DescribeDBSubnetGroups", sent, |e| {
            e.is_db_subnet_group_not_found_fault()
        })?
        .is_some()
        {
            facts.subnet_groups.insert(name.clone());
        }
    }
    for name in parameter_groups {
        let sent = rds
            .describe_db_parameter_groups()
            .db_parameter_group_name(name)
            .send()
            .await;
        if unless("DescribeDBParameterGroups", sent, |e| {
            e.is_db_parameter_group_not_found_fault()
        })?
        .is_some()
        {
            facts.parameter_groups.insert(name.clone());
        }
    }
    for name in cluster_parameter_groups {
        let sent = rds
            .describe_db_cluster_parameter_groups()
            .db_cluster_parameter_group_name(name)
            .send()
            .await;
        if unless("DescribeDBClusterParameterGroups", sent, |e| {
            e.is_db_parameter_group_not_found_fault()
        })?
        .is_some()
        {
            facts.cluster_parameter_groups.insert(name.clone());
        }
    }
    for name in option_groups {
        let sent = rds
            .describe_option_groups()
            .option_group_name(name)
            .send()
            .await;
        if unless("DescribeOptionGroups", sent, |e| {
            e.is_option_group_not_found_fault()
        })?
        .is_some()
        {
            facts.option_groups.insert(name.clone());
        }
    }
    Ok(facts)
}

/// Carries out `plan`. For a cluster: restores the cluster, then creates its
/// instances; if one fails, deletes what this call created, newest first,
/// and returns the error (with the rollback's own failures, if any).
pub async fn execute(rds: &Client, plan: &Plan) -> Result<(), Error> {
    execute_missing(rds, plan, &[]).await
}

/// Carries out the calls of `plan` that create what `done` does not name:
/// resuming a restore an earlier attempt started (its cluster made, some
/// members not). A call whose answer was lost, and whose retry finds the DB
/// there restored from the same snapshot, counts as done.
pub async fn execute_missing(rds: &Client, plan: &Plan, done: &[&str]) -> Result<(), Error> {
    let is_done = |id: &str| done.contains(&id);
    match &plan.calls {
        Calls::Instance(p) if is_done(&p.db_instance_identifier) => Ok(()),
        Calls::Instance(p) => restore_instance(rds, p).await,
        Calls::Cluster { cluster, instances } => {
            if !is_done(&cluster.db_cluster_identifier) {
                restore_cluster(rds, cluster).await?;
            }
            let mut created: Vec<&str> = instances
                .iter()
                .map(|i| i.db_instance_identifier.as_str())
                .filter(|id| is_done(id))
                .collect();
            for instance in instances
                .iter()
                .filter(|i| !is_done(&i.db_instance_identifier))
            {
                if let Err(e) = create_member(rds, instance, &cluster.snapshot_identifier).await {
                    let rollback = roll_back(rds, cluster, &created).await;
                    let message = match rollback {
                        Ok(()) => format!(
                            "creating cluster member {} failed: {e}; rolled back: deleted {} and DB cluster {}",
                            instance.db_instance_identifier,
                            if created.is_empty() { "no instance".to_string() } else { created.join(", ") },
                            cluster.db_cluster_identifier
                        ),
                        Err(rollback) => format!(
                            "creating cluster member {} failed: {e}; ROLLBACK INCOMPLETE, delete by hand: {rollback}",
                            instance.db_instance_identifier
                        ),
                    };
                    return Err(Error::RestoreFailed(message));
                }
                created.push(&instance.db_instance_identifier);
            }
            Ok(())
        }
    }
}

/// A create call's outcome: made now (`created`), or answered "already
/// exists", when the DB is this restore's if it was restored from
/// `snapshot_id` (an answer lost on the way back, the SDK's retry meeting
/// the work done), and refused otherwise.
async fn created_or_ours(
    rds: &Client,
    created: bool,
    kind: DatabaseKind,
    id: &str,
    snapshot_id: &str,
    operation: &str,
) -> Result<(), Error> {
    if created {
        return Ok(());
    }
    match classify(rds, kind, id, snapshot_id).await? {
        Existing::Restored(_) => Ok(()),
        _ => Err(Error::RestoreFailed(format!(
            "{operation}: {id} already exists and was not restored from {snapshot_id}"
        ))),
    }
}

async fn restore_instance(rds: &Client, p: &RestoreDbInstance) -> Result<(), Error> {
    let sent = rds
        .restore_db_instance_from_db_snapshot()
        .db_instance_identifier(&p.db_instance_identifier)
        .db_snapshot_identifier(&p.db_snapshot_identifier)
        .db_instance_class(&p.db_instance_class)
        .multi_az(p.multi_az)
        .publicly_accessible(p.publicly_accessible)
        .set_port(p.port)
        .set_availability_zone(p.availability_zone.clone())
        .set_db_subnet_group_name(p.db_subnet_group_name.clone())
        .set_vpc_security_group_ids(
            (!p.vpc_security_group_ids.is_empty()).then(|| p.vpc_security_group_ids.clone()),
        )
        .set_db_parameter_group_name(p.db_parameter_group_name.clone())
        .set_option_group_name(p.option_group_name.clone())
        .set_storage_type(p.storage_type.clone())
        .set_iops(p.iops)
        .set_storage_throughput(p.storage_throughput)
        .set_license_model(p.license_model.clone())
        .enable_iam_database_authentication(p.enable_iam_database_authentication)
        .deletion_protection(p.deletion_protection)
        .copy_tags_to_snapshot(p.copy_tags_to_snapshot)
        .set_tags(Some(sdk_tags(&p.tags)))
        .send()
        .await;
    let created = unless("RestoreDBInstanceFromDBSnapshot", sent, |e| {
        e.is_db_instance_already_exists_fault()
    })?
    .is_some();
    created_or_ours(
        rds,
        created,
        DatabaseKind::Instance,
        &p.db_instance_identifier,
        &p.db_snapshot_identifier,
        "RestoreDBInstanceFromDBSnapshot",
    )
    .await
}

async fn restore_cluster(rds: &Client, p: &RestoreDbCluster) -> Result<(), Error> {
    let sent = rds
        .restore_db_cluster_from_snapshot()
        .db_cluster_identifier(&p.db_cluster_identifier)
        .snapshot_identifier(&p.snapshot_identifier)
        .engine(&p.engine)
        .set_engine_version(p.engine_version.clone())
        .set_engine_mode(p.engine_mode.clone())
        .set_port(p.port)
        .set_db_subnet_group_name(p.db_subnet_group_name.clone())
        .set_vpc_security_group_ids(
            (!p.vpc_security_group_ids.is_empty()).then(|| p.vpc_security_group_ids.clone()),
        )
        .set_db_cluster_parameter_group_name(p.db_cluster_parameter_group_name.clone())
        .set_db_cluster_instance_class(p.db_cluster_instance_class.clone())
        .set_storage_type(p.storage_type.clone())
        .set_iops(p.iops)
        .set_publicly_accessible(p.publicly_accessible)
        .set_serverless_v2_scaling_configuration(p.serverless_v2_scaling.as_ref().map(|s| {
            ServerlessV2ScalingConfiguration::builder()
                .set_min_capacity(s.min_capacity)
                .set_max_capacity(s.max_capacity)
                .build()
        }))
        .enable_iam_database_authentication(p.enable_iam_database_authentication)
        .deletion_protection(p.deletion_protection)
        .set_tags(Some(sdk_tags(&p.tags)))
        .send()
        .await;
    let created = unless("RestoreDBClusterFromSnapshot", sent, |e| {
        e.is_db_cluster_already_exists_fault()
    })?
    .is_some();
    created_or_ours(
        rds,
        created,
        DatabaseKind::Cluster,
        &p.db_cluster_identifier,
        &p.snapshot_identifier,
        "RestoreDBClusterFromSnapshot",
    )
    .await
}

async fn create_member(
    rds: &Client,
    p: &CreateClusterInstance,
    snapshot_id: &str,
) -> Result<(), Error> {
    let sent = rds
        .create_db_instance()
        .db_instance_identifier(&p.db_instance_identifier)
        .db_cluster_identifier(&p.db_cluster_identifier)
        .engine(&p.engine)
        .db_instance_class(&p.db_instance_class)
        .publicly_accessible(p.publicly_accessible)
        .set_db_parameter_group_name(p.db_parameter_group_name.clone())
        .set_promotion_tier(p.promotion_tier)
        .set_availability_zone(p.availability_zone.clone())
        .set_tags(Some(sdk_tags(&p.tags)))
        .send()
        .await;
    let created = unless("CreateDBInstance", sent, |e| {
        e.is_db_instance_already_exists_fault()
    })?
    .is_some();
    created_or_ours(
        rds,
        created,
        DatabaseKind::Instance,
        &p.db_instance_identifier,
        snapshot_id,
        "CreateDBInstance",
    )
    .await
}

/// Deletes the members created so far and the cluster, without final
/// snapshots: they hold nothing the source snapshot doesn't.
async fn roll_back(
    rds: &Client,
    cluster: &RestoreDbCluster,
    created: &[&str],
) -> Result<(), String> {
    let mut problems = Vec::new();
    for id in created.iter().rev() {
        if let Err(e) = rds
            .delete_db_instance()
            .db_instance_identifier(*id)
            .skip_final_snapshot(true)
            .send()
            .await
        {
            problems.push(Error::aws("DeleteDBInstance", e).to_string());
        }
    }
    let id = &cluster.db_cluster_identifier;
    if cluster.deletion_protection {
        if let Err(e) = rds
            .modify_db_cluster()
            .db_cluster_identifier(id)
            .deletion_protection(false)
            .apply_immediately(true)
            .send()
            .await
        {
            problems.push(Error::aws("ModifyDBCluster", e).to_string());
        }
    }
    if let Err(e) = rds
        .delete_db_cluster()
        .db_cluster_identifier(id)
        .skip_final_snapshot(true)
        .send()
        .await
    {
        problems.push(Error::aws("DeleteDBCluster", e).to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Where a restored DB is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub database_kind: DatabaseKind,
    pub status: String,
    /// For a cluster: each instance and its status.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceProgress>,
    /// True once the DB and all its instances are available.
    pub available: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceProgress {
    pub instance: String,
    pub status: String,
}

/// The state of `target` in the region, or `None` if there is no such DB.
pub async fn progress(rds: &Client, target: &str) -> Result<Option<Progress>, Error> {
    let clusters = unless(
        "DescribeDBClusters",
        rds.describe_db_clusters()
            .db_cluster_identifier(target)
            .send()
            .await,
        |e| e.is_db_cluster_not_found_fault(),
    )?;
    if let Some(cluster) = clusters.as_ref().and_then(|out| out.db_clusters().first()) {
        let status = cluster.status().unwrap_or_default().to_string();
        let mut instances = Vec::new();
        for member in cluster.db_cluster_members() {
            let id = member.db_instance_identifier().unwrap_or_default();
            let out = rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .map_err(|e| Error::aws("DescribeDBInstances", e))?;
            instances.push(InstanceProgress {
                instance: id.to_string(),
                status: out
                    .db_instances()
                    .first()
                    .and_then(|i| i.db_instance_status())
                    .unwrap_or("unknown")
                    .to_string(),
            });
        }
        let available = status == "available" && instances.iter().all(|i| i.status == "available");
        return Ok(Some(Progress {
            database_kind: DatabaseKind::Cluster,
            status,
            instances,
            available,
        }));
    }
    let instances = unless(
        "DescribeDBInstances",
        rds.describe_db_instances()
            .db_instance_identifier(target)
            .send()
            .await,
        |e| e.is_db_instance_not_found_fault(),
    )?;
    Ok(instances
        .as_ref()
        .and_then(|out| out.db_instances().first())
        .map(|i| {
            let status = i.db_instance_status().unwrap_or_default().to_string();
            Progress {
                database_kind: DatabaseKind::Instance,
                available: status == "available",
                status,
                instances: Vec::new(),
            }
        }))
}
