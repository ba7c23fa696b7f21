//! The RDS adapter for drills: a drill DB as RDS describes it, and its
//! deletion, which refuses any DB not tagged `lifeboat:drill=true` (the
//! drill function's IAM policy refuses it too).

use aws_sdk_rds::Client;

use super::{tags, unless};
use crate::domain::drill::Observed;
use crate::domain::model::DatabaseKind;
use crate::domain::tags as lifeboat_tags;
use crate::error::Error;

/// `id` as RDS describes it now, or `None` when there is no such DB.
pub async fn describe(
    rds: &Client,
    kind: DatabaseKind,
    id: &str,
) -> Result<Option<Observed>, Error> {
    match kind {
        DatabaseKind::Instance => describe_instance(rds, id).await,
        DatabaseKind::Cluster => describe_cluster(rds, id).await,
    }
}

async fn describe_instance(rds: &Client, id: &str) -> Result<Option<Observed>, Error> {
    let out = unless(
        "DescribeDBInstances",
        rds.describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await,
        |e| e.is_db_instance_not_found_fault(),
    )?;
    Ok(out.and_then(|out| {
        let i = out.db_instances().first()?;
        Some(Observed {
            status: i.db_instance_status().unwrap_or_default().to_string(),
            engine: i.engine().unwrap_or_default().to_string(),
            engine_version: i.engine_version().unwrap_or_default().to_string(),
            allocated_storage_gib: i.allocated_storage(),
            parameter_group: i
                .db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name())
                .map(str::to_string),
            endpoint: i.endpoint().and_then(|e| e.address()).map(str::to_string),
            port: i.endpoint().and_then(|e| e.port()),
            tags: tags(i.tag_list()),
            deletion_protection: i.deletion_protection().unwrap_or(false),
            members: Vec::new(),
        })
    }))
}

async fn describe_cluster(rds: &Client, id: &str) -> Result<Option<Observed>, Error> {
    let out = unless(
        "DescribeDBClusters",
        rds.describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await,
        |e| e.is_db_cluster_not_found_fault(),
    )?;
    let Some(cluster) = out.as_ref().and_then(|out| out.db_clusters().first()) else {
        return Ok(None);
    };
    let mut members = Vec::new();
    for member in cluster.db_cluster_members() {
        let member_id = member.db_instance_identifier().unwrap_or_default();
        let status = describe_instance(rds, member_id)
            .await?
            .map_or_else(|| "not found".to_string(), |m| m.status);
        members.push((member_id.to_string(), status));
    }
    Ok(Some(Observed {
        status: cluster.status().unwrap_or_default().to_string(),
        engine: cluster.engine().unwrap_or_default().to_string(),
        engine_version: cluster.engine_version().unwrap_or_default().to_string(),
        allocated_storage_gib: cluster.allocated_storage(),
        parameter_group: cluster.db_cluster_parameter_group().map(str::to_string),
        endpoint: cluster.endpoint().map(str::to_string),
        port: cluster.port(),
        tags: tags(cluster.tag_list()),
        deletion_protection: cluster.deletion_protection().unwrap_or(false),
        members,
    }))
}

fn is_drill_db(observed: &Observed) -> bool {
    observed.tags.get(lifeboat_tags::DRILL).map(String::as_str) == Some(lifeboat_tags::DRILL_VALUE)
}

/// Deletes the drill DB `id` (a cluster: its members first), without a
/// final snapshot: it holds nothing its snapshot does not. Each DB is
/// described first and left alone unless it carries `lifeboat:drill=true`:
/// a DB a drill did not make is never touched, whatever its name. Returns
/// what was deleted (or was already being deleted); a DB that is not there
/// is done.
pub async fn delete(rds: &Client, kind: DatabaseKind, id: &str) -> Result<Vec<String>, Error> {
    let Some(observed) = describe(rds, kind, id).await? else {
        return Ok(Vec::new());
    };
    if !is_drill_db(&observed) {
        return Err(Error::DrillRefused(format!(
            "{id} is not tagged {}={}: a drill deletes only the DBs it made",
            lifeboat_tags::DRILL,
            lifeboat_tags::DRILL_VALUE
        )));
    }
    let mut deleted = Vec::new();
    for (member, _) in &observed.members {
        let Some(found) = describe(rds, DatabaseKind::Instance, member).await? else {
            continue;
        };
        if !is_drill_db(&found) {
            return Err(Error::DrillRefused(format!(
                "{member}, a member of drill DB cluster {id}, is not tagged {}={}: left alone, and the cluster with it",
                lifeboat_tags::DRILL,
                lifeboat_tags::DRILL_VALUE
            )));
        }
        delete_instance(rds, member, found.deletion_protection).await?;
        deleted.push(member.clone());
    }
    match kind {
        DatabaseKind::Instance => delete_instance(rds, id, observed.deletion_protection).await?,
        DatabaseKind::Cluster => {
            // A drill restores without deletion protection; one that has it
            // anyway (a default, a hand) is lifted: the tag said it is ours.
            if observed.deletion_protection {
                rds.modify_db_cluster()
                    .db_cluster_identifier(id)
                    .deletion_protection(false)
                    .apply_immediately(true)
                    .send()
                    .await
                    .map_err(|e| Error::aws("ModifyDBCluster", e))?;
            }
            unless(
                "DeleteDBCluster",
                rds.delete_db_cluster()
                    .db_cluster_identifier(id)
                    .skip_final_snapshot(true)
                    .send()
                    .await,
                |e| e.is_db_cluster_not_found_fault(),
            )?;
        }
    }
    deleted.push(id.to_string());
    Ok(deleted)
}

async fn delete_instance(rds: &Client, id: &str, protected: bool) -> Result<(), Error> {
    if protected {
        rds.modify_db_instance()
            .db_instance_identifier(id)
            .deletion_protection(false)
            .apply_immediately(true)
            .send()
            .await
            .map_err(|e| Error::aws("ModifyDBInstance", e))?;
    }
    let sent = rds
        .delete_db_instance()
        .db_instance_identifier(id)
        .skip_final_snapshot(true)
        .send()
        .await;
    // Already being deleted (a retried clean-up) is what was asked for.
    if let Err(e) = &sent {
        if e.as_service_error()
            .is_some_and(|e| e.is_invalid_db_instance_state_fault())
        {
            return Ok(());
        }
    }
    unless("DeleteDBInstance", sent, |e| {
        e.is_db_instance_not_found_fault()
    })?;
    Ok(())
}
