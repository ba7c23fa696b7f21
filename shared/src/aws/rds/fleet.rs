//! The fleet: every DB instance and DB cluster in a region, with what a
//! restore needs to rebuild each.

use std::collections::HashMap;

use aws_sdk_rds::types::{DbCluster, DbInstance};
use aws_sdk_rds::Client;

use super::{owned, tags};
use crate::domain::model::{
    ClusterConfig, ClusterMember, Database, DatabaseConfig, DatabaseKind, Fleet, InstanceConfig,
    ServerlessV2Scaling,
};
use crate::error::Error;

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
