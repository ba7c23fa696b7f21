//! The RDS adapter for restores: what exists in a region, carrying out a
//! plan (stopping short of the Lambda deadline, rolling back what the
//! restore made if a call fails) and progress.

use std::fmt;
use std::sync::Arc;

use aws_sdk_rds::types::ServerlessV2ScalingConfiguration;
use aws_sdk_rds::Client;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{sdk_tags, tags, unless};
use crate::domain::model::DatabaseKind;
use crate::domain::restore_plan::{
    self, Calls, CreateClusterInstance, Existing, Plan, RegionFacts, RestoreDbCluster,
    RestoreDbInstance,
};
use crate::error::Error;

/// What has identifier `id`, and the tags that say which restore made it.
pub async fn existing(rds: &Client, kind: DatabaseKind, id: &str) -> Result<Existing, Error> {
    let found = match kind {
        DatabaseKind::Instance => unless(
            "DescribeDBInstances",
            rds.describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await,
            |e| e.is_db_instance_not_found_fault(),
        )?
        .and_then(|out| out.db_instances().first().map(|i| tags(i.tag_list()))),
        DatabaseKind::Cluster => unless(
            "DescribeDBClusters",
            rds.describe_db_clusters()
                .db_cluster_identifier(id)
                .send()
                .await,
            |e| e.is_db_cluster_not_found_fault(),
        )?
        .and_then(|out| out.db_clusters().first().map(|c| tags(c.tag_list()))),
    };
    Ok(found.map_or(Existing::Free, |tags| Existing::db(&tags)))
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

/// When the invocation ends, and the clock read against it before each
/// create call (a test's clock can make each call take a minute).
#[derive(Clone)]
pub struct Deadline {
    at: Option<DateTime<Utc>>,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl Deadline {
    /// `at`, or none, against the system clock.
    pub fn at(at: Option<DateTime<Utc>>) -> Self {
        Self::with_clock(at, Utc::now)
    }

    /// No deadline: every call is made.
    pub fn none() -> Self {
        Self::at(None)
    }

    pub fn with_clock(
        at: Option<DateTime<Utc>>,
        clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static,
    ) -> Self {
        Deadline {
            at,
            clock: Arc::new(clock),
        }
    }

    /// Whether there is time for another create call and its rollback.
    pub fn allows_a_call(&self) -> bool {
        restore_plan::time_for_a_call(self.at, (self.clock)())
    }
}

impl fmt::Debug for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline").field("at", &self.at).finish()
    }
}

/// How carrying out a plan went.
#[derive(Debug)]
pub enum Execution {
    /// Every DB of the plan is there: made now, or by an earlier attempt.
    Complete,
    /// Stopped before a create call, for lack of time: `left` (plan order)
    /// is not created yet. The same restore started again creates it.
    Incomplete { left: Vec<String> },
    /// The call creating `failed` failed with `error`; what the restore
    /// had made was rolled back.
    Failed {
        failed: String,
        error: Error,
        rollback: Rollback,
    },
}

/// What a rollback did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollback {
    /// Deleted, newest first (each carried the restore's identity).
    pub deleted: Vec<String>,
    /// What could not be deleted, and why.
    pub problems: Vec<String>,
}

/// Carries out `plan` for the restore `restore_id`: for a cluster, restores
/// the cluster, then creates its members, writer first.
pub async fn execute(
    rds: &Client,
    plan: &Plan,
    restore_id: &str,
    deadline: &Deadline,
) -> Execution {
    execute_missing(rds, plan, &[], restore_id, deadline).await
}

/// Carries out the calls of `plan` that create what `done` does not name:
/// resuming a restore an earlier attempt started (its cluster made, some
/// members not). Every DB created carries `restore_id` (the plan is tagged
/// with it here too, should the caller not have). Before each call, stops
/// if the deadline is too close. A call whose answer was lost, and whose
/// retry finds the DB there carrying `restore_id`, counts as done. If a
/// call fails, everything the plan names that carries `restore_id` is
/// deleted, newest first, and nothing else.
pub async fn execute_missing(
    rds: &Client,
    plan: &Plan,
    done: &[&str],
    restore_id: &str,
    deadline: &Deadline,
) -> Execution {
    let mut plan = plan.clone();
    plan.tag_with_restore_id(restore_id);
    let plan = &plan;
    let planned: Vec<&str> = plan.identifiers().into_iter().map(|(_, id)| id).collect();
    let to_make: Vec<&str> = planned
        .iter()
        .copied()
        .filter(|id| !done.contains(id))
        .collect();
    for (n, id) in to_make.iter().enumerate() {
        if !deadline.allows_a_call() {
            return Execution::Incomplete {
                left: to_make[n..].iter().map(|id| id.to_string()).collect(),
            };
        }
        let made = match &plan.calls {
            Calls::Instance(p) => restore_instance(rds, p, restore_id).await,
            Calls::Cluster { cluster, .. } if cluster.db_cluster_identifier == *id => {
                restore_cluster(rds, cluster, restore_id).await
            }
            Calls::Cluster { instances, .. } => {
                match instances.iter().find(|i| i.db_instance_identifier == *id) {
                    Some(instance) => create_member(rds, instance, restore_id).await,
                    None => Ok(()),
                }
            }
        };
        if let Err(error) = made {
            return Execution::Failed {
                failed: id.to_string(),
                error,
                rollback: roll_back(rds, plan, restore_id).await,
            };
        }
    }
    Execution::Complete
}

/// A create call's outcome: made now (`created`), or answered "already
/// exists", when the DB is this restore's if it carries `restore_id` (an
/// answer lost on the way back, the SDK's retry meeting the work done), and
/// refused otherwise.
async fn created_or_ours(
    rds: &Client,
    created: bool,
    kind: DatabaseKind,
    id: &str,
    restore_id: &str,
    operation: &str,
) -> Result<(), Error> {
    if created {
        return Ok(());
    }
    let found = existing(rds, kind, id).await?;
    if found.is_made_by(restore_id) {
        return Ok(());
    }
    Err(Error::RestoreFailed(format!(
        "{operation}: {id} already exists and is not this restore's ({restore_id}){}",
        found.whose()
    )))
}

async fn restore_instance(
    rds: &Client,
    p: &RestoreDbInstance,
    restore_id: &str,
) -> Result<(), Error> {
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
        restore_id,
        "RestoreDBInstanceFromDBSnapshot",
    )
    .await
}

async fn restore_cluster(
    rds: &Client,
    p: &RestoreDbCluster,
    restore_id: &str,
) -> Result<(), Error> {
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
        restore_id,
        "RestoreDBClusterFromSnapshot",
    )
    .await
}

async fn create_member(
    rds: &Client,
    p: &CreateClusterInstance,
    restore_id: &str,
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
        restore_id,
        "CreateDBInstance",
    )
    .await
}

/// Deletes every DB `plan` names that carries `restore_id`, newest first
/// (the members in reverse, then the cluster), without final snapshots:
/// they hold nothing the source snapshot doesn't. Each is looked up first,
/// so a DB with the same identifier that this restore did not make (a DB
/// restored from the same snapshot long ago, a name taken meanwhile) is
/// never touched, whatever the attempts before believed.
async fn roll_back(rds: &Client, plan: &Plan, restore_id: &str) -> Rollback {
    let mut rollback = Rollback::default();
    let mut planned = plan.identifiers();
    planned.reverse();
    for (kind, id) in planned {
        match existing(rds, kind, id).await {
            Ok(found) if found.is_made_by(restore_id) => {}
            Ok(_) => continue,
            Err(e) => {
                rollback.problems.push(format!(
                    "{id}: could not tell whether it is this restore's: {e}"
                ));
                continue;
            }
        }
        match delete(rds, plan, kind, id).await {
            Ok(()) => rollback.deleted.push(id.to_string()),
            Err(problems) => rollback
                .problems
                .extend(problems.into_iter().map(|p| format!("{id}: {p}"))),
        }
    }
    rollback
}

/// Deletes one DB of the plan, lifting the deletion protection the plan
/// gave it first (RDS refuses to delete a protected DB).
async fn delete(
    rds: &Client,
    plan: &Plan,
    kind: DatabaseKind,
    id: &str,
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    match (kind, &plan.calls) {
        (DatabaseKind::Cluster, Calls::Cluster { cluster, .. }) => {
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
        }
        _ => {
            if let Calls::Instance(p) = &plan.calls {
                if p.deletion_protection {
                    if let Err(e) = rds
                        .modify_db_instance()
                        .db_instance_identifier(id)
                        .deletion_protection(false)
                        .apply_immediately(true)
                        .send()
                        .await
                    {
                        problems.push(Error::aws("ModifyDBInstance", e).to_string());
                    }
                }
            }
            if let Err(e) = rds
                .delete_db_instance()
                .db_instance_identifier(id)
                .skip_final_snapshot(true)
                .send()
                .await
            {
                problems.push(Error::aws("DeleteDBInstance", e).to_string());
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
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
