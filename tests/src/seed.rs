//! Seeds the emulator with DBs, a catalog bucket and an event tap: the fleets
//! the tests, the demo and the benchmark act on.

use aws_sdk_rds::types::Tag;

use crate::account::Account;
use crate::eventlog;

pub const SELECT: (&str, &str) = ("lifeboat:backup", "true");

fn tags(list: &[(&str, &str)]) -> Vec<Tag> {
    list.iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect()
}

/// A standalone DB instance.
pub async fn instance(
    rds: &aws_sdk_rds::Client,
    id: &str,
    engine: &str,
    tag_list: &[(&str, &str)],
) {
    encrypted_instance(rds, id, engine, tag_list, None).await;
}

/// A standalone DB instance, its storage encrypted with `kms_key` if given.
pub async fn encrypted_instance(
    rds: &aws_sdk_rds::Client,
    id: &str,
    engine: &str,
    tag_list: &[(&str, &str)],
    kms_key: Option<&str>,
) {
    rds.create_db_instance()
        .storage_encrypted(kms_key.is_some())
        .set_kms_key_id(kms_key.map(str::to_string))
        .db_instance_identifier(id)
        .db_instance_class("db.t4g.medium")
        .engine(engine)
        .allocated_storage(20)
        .storage_type("gp3")
        .master_username("lifeboat")
        .master_user_password("not-a-real-password")
        .multi_az(true)
        .enable_iam_database_authentication(true)
        .deletion_protection(false)
        .set_tags(Some(tags(tag_list)))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create DB instance {id}: {e:?}"));
}

/// An Aurora cluster with member instances of the given classes.
pub async fn cluster(
    rds: &aws_sdk_rds::Client,
    id: &str,
    engine: &str,
    members: &[(&str, &str)],
    tag_list: &[(&str, &str)],
) {
    encrypted_cluster(rds, id, engine, members, tag_list, None).await;
}

/// An Aurora cluster, its storage encrypted with `kms_key` if given.
pub async fn encrypted_cluster(
    rds: &aws_sdk_rds::Client,
    id: &str,
    engine: &str,
    members: &[(&str, &str)],
    tag_list: &[(&str, &str)],
    kms_key: Option<&str>,
) {
    rds.create_db_cluster()
        .storage_encrypted(kms_key.is_some())
        .set_kms_key_id(kms_key.map(str::to_string))
        .db_cluster_identifier(id)
        .engine(engine)
        .master_username("lifeboat")
        .master_user_password("not-a-real-password")
        .deletion_protection(true)
        .set_tags(Some(tags(tag_list)))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create DB cluster {id}: {e:?}"));
    for (member, class) in members {
        rds.create_db_instance()
            .db_instance_identifier(*member)
            .db_cluster_identifier(id)
            .db_instance_class(*class)
            .engine(engine)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create cluster member {member}: {e:?}"));
    }
}

/// A DB subnet group over a new VPC's subnets in the client's region.
pub async fn subnet_group(rds: &aws_sdk_rds::Client, account: &Account, region: &str, name: &str) {
    rds.create_db_subnet_group()
        .db_subnet_group_name(name)
        .db_subnet_group_description("Lifeboat restore tests")
        .set_subnet_ids(Some(account.vpc_subnets(region)))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create DB subnet group {name}: {e:?}"));
}

pub async fn bucket(s3: &aws_sdk_s3::Client, name: &str) {
    s3.create_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {name}: {e:?}"));
}

/// A DB snapshot of `db` that Lifeboat did not take but that wears its
/// tags (a hand-made copy of one, say), with `created_at` as its recovery
/// point.
pub async fn foreign_snapshot(
    rds: &aws_sdk_rds::Client,
    db: &str,
    id: &str,
    source_region: &str,
    created_at: &str,
) {
    let tag = |k: &str, v: &str| aws_sdk_rds::types::Tag::builder().key(k).value(v).build();
    rds.create_db_snapshot()
        .db_instance_identifier(db)
        .db_snapshot_identifier(id)
        .tags(tag("lifeboat:managed", "true"))
        .tags(tag("lifeboat:source-db", db))
        .tags(tag("lifeboat:source-region", source_region))
        .tags(tag("lifeboat:created-at", created_at))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create snapshot {id}: {e:?}"));
}

/// A bucket in `region` (S3 wants the region named outside us-east-1).
pub async fn bucket_in(s3: &aws_sdk_s3::Client, name: &str, region: &str) {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let mut create = s3.create_bucket().bucket(name);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {name} in {region}: {e:?}"));
}

/// Routes every `lifeboat` event on the default bus to a log group, so a
/// test can read what was published.
pub async fn event_tap(events: &aws_sdk_eventbridge::Client, account: &Account, region: &str) {
    let arn = eventlog::create(account, region);
    events
        .put_rule()
        .name("lifeboat-events-tap")
        .event_pattern(r#"{"source": ["lifeboat"]}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put rule: {e:?}"));
    events
        .put_targets()
        .rule("lifeboat-events-tap")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("log-group")
                .arn(arn)
                .build()
                .unwrap_or_else(|e| panic!("target: {e}")),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("put targets: {e:?}"));
}

/// An Aurora cluster restored from `snapshot` outside this restore (by
/// hand, or by a Lifeboat restore long ago: production since a failover),
/// with members of the given classes; the cluster and each member carry
/// `tag_list`.
pub async fn restored_cluster(
    rds: &aws_sdk_rds::Client,
    id: &str,
    snapshot: &str,
    engine: &str,
    members: &[(&str, &str)],
    tag_list: &[(&str, &str)],
) {
    rds.restore_db_cluster_from_snapshot()
        .db_cluster_identifier(id)
        .snapshot_identifier(snapshot)
        .engine(engine)
        .set_tags(Some(tags(tag_list)))
        .send()
        .await
        .unwrap_or_else(|e| panic!("restore DB cluster {id}: {e:?}"));
    for (member, class) in members {
        rds.create_db_instance()
            .db_instance_identifier(*member)
            .db_cluster_identifier(id)
            .db_instance_class(*class)
            .engine(engine)
            .set_tags(Some(tags(tag_list)))
            .send()
            .await
            .unwrap_or_else(|e| panic!("create cluster member {member}: {e:?}"));
    }
}
