//! `lifeboat-restore` against moto: snapshot -> copy -> restore in a DR
//! region, for an instance and an Aurora cluster, and every refusal.

use lambda_runtime::LambdaEvent;
use lifeboat::domain::restore_plan::{Calls, CreateClusterInstance, Plan};
use lifeboat::Error;
use lifeboat_tests::runtime::run_debug;
use lifeboat_tests::{sample_event, samples_for, seed, World};
use serde_json::{json, Value};

const SOURCE: &str = "us-east-1";
const DR: &str = "us-west-2";

fn lambda(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// orders (Multi-AZ postgres instance) and ledger (Aurora cluster with a
/// db.r6g.large writer and a db.r6g.xlarge reader), snapshotted and copied
/// to the DR region, where a DB subnet group `dr-subnets` exists.
async fn copied() -> World {
    copied_to(DR).await
}

/// The same, copied into `dr_regions` (comma-separated, `DR` first).
pub(crate) async fn copied_to(dr_regions: &str) -> World {
    let world = World::new(SOURCE).await;
    let rds = &world.clients.rds;
    seed::instance(
        rds,
        "orders",
        "postgres",
        &[seed::SELECT, ("team", "payments")],
    )
    .await;
    seed::cluster(
        rds,
        "ledger",
        "aurora-postgresql",
        &[("ledger-1", "db.r6g.large"), ("ledger-2", "db.r6g.xlarge")],
        &[seed::SELECT],
    )
    .await;
    let ctx = world.context(&[("LIFEBOAT_DR_REGIONS", dr_regions)]);
    lifeboat_snapshot::handle(&ctx, lambda(sample_event("snapshot-scheduled.json")))
        .await
        .unwrap();
    lifeboat_copy::handle(&ctx, lambda(json!({})))
        .await
        .unwrap();
    seed::subnet_group(&world.clients.rds_in(DR), &world.account, DR, "dr-subnets").await;
    world.published();
    world
}

async fn invoke(world: &World, payload: Value) -> Result<Value, Error> {
    let ctx = world.context(&[("LIFEBOAT_DR_REGIONS", DR)]);
    lifeboat_restore::handle(&ctx, lambda(payload))
        .await
        .map(|report| serde_json::to_value(report).unwrap())
}

/// Invokes the function, which must succeed.
async fn succeed(world: &World, payload: Value) -> Value {
    invoke(world, payload).await.unwrap()
}

/// DB instance and DB cluster identifiers in the DR region.
async fn dbs_in_dr(world: &World) -> Vec<String> {
    let rds = world.clients.rds_in(DR);
    let instances = rds.describe_db_instances().send().await.unwrap();
    let clusters = rds.describe_db_clusters().send().await.unwrap();
    let mut ids: Vec<String> = instances
        .db_instances()
        .iter()
        .filter_map(|i| i.db_instance_identifier().map(str::to_string))
        .chain(
            clusters
                .db_clusters()
                .iter()
                .filter_map(|c| c.db_cluster_identifier().map(|id| format!("cluster:{id}"))),
        )
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn an_instance_is_restored_in_the_dr_region_from_the_latest_copy_as_it_was() {
    let world = copied().await;

    let plan = succeed(
        &world,
        json!({"database": "orders", "target": "orders-restored", "dry_run": true}),
    )
    .await;
    assert_eq!(plan["region"], DR, "the first DR region is the default");
    assert_eq!(plan["snapshot"]["id"], "lifeboat-orders-20261124-0400");
    assert!(plan["snapshot"]["age"].as_str().unwrap().contains('d'));
    let call = &plan["plan"]["RestoreDBInstanceFromDBSnapshot"];
    assert_eq!(call["DBInstanceClass"], "db.t4g.medium");
    assert_eq!(call["MultiAZ"], true);
    assert_eq!(call["PubliclyAccessible"], false);
    assert_eq!(call["Tags"]["team"], "payments");
    assert!(
        call["Tags"].get("lifeboat:backup").is_none(),
        "a restored DB is not selected for snapshots unless asked: {plan:#}"
    );
    let kept = succeed(
        &world,
        json!({"database": "orders", "target": "orders-restored", "dry_run": true,
               "overrides": {"keep_selection_tag": true}}),
    )
    .await;
    assert_eq!(
        kept["plan"]["RestoreDBInstanceFromDBSnapshot"]["Tags"]["lifeboat:backup"],
        "true"
    );
    assert!(
        dbs_in_dr(&world).await.is_empty(),
        "a dry run creates nothing"
    );
    // Security group IDs are regional: the captured ones can't be used here.
    assert_eq!(
        plan["missing"][0]["override_field"], "security_group_ids",
        "{plan:#}"
    );

    let started = succeed(&world, json!({"database": "orders", "snapshot": "latest", "region": DR, "target": "orders-restored",
               "overrides": {"security_group_ids": ["sg-0dr"]}})).await;
    assert_eq!(started["status"], "started");
    let rds = world.clients.rds_in(DR);
    let out = rds
        .describe_db_instances()
        .db_instance_identifier("orders-restored")
        .send()
        .await
        .unwrap();
    let db = &out.db_instances()[0];
    assert_eq!(db.db_instance_class(), Some("db.t4g.medium"));
    assert_eq!(db.multi_az(), Some(true));
    // moto drops false-valued restore parameters, so it reports the source's
    // unset value; the plan above shows what was asked (false).
    assert_ne!(db.publicly_accessible(), Some(true));
    assert!(db
        .tag_list()
        .iter()
        .any(|t| t.key() == Some("lifeboat:restored-from")));

    // Restore records go into the catalog of the region restored into.
    let records = world.records_in(DR).await;
    let (key, record) = records
        .iter()
        .find(|(_, r)| r["kind"] == "restore")
        .expect("a restore record");
    assert!(
        key.starts_with("restores/us-west-2/orders-restored/"),
        "{key}"
    );
    assert_eq!(record["database"], "orders");
    assert_eq!(record["snapshot_id"], "lifeboat-orders-20261124-0400");
    assert!(record["plan"]["RestoreDBInstanceFromDBSnapshot"].is_object());
    assert!(record["started_at"].is_string());
    let events = world.published();
    assert!(
        events.iter().any(|e| e["detail-type"] == "Restore Started"),
        "{events:#?}"
    );

    let status = invoke(&world, sample_event("restore-status.json"))
        .await
        .unwrap();
    assert_eq!(status["available"], true, "{status:#}");
    assert_eq!(status["status"], "available");
    let rto = status["recovery_time_seconds"].as_i64().unwrap();
    assert!(rto >= 0);
    let again = invoke(&world, sample_event("restore-status.json"))
        .await
        .unwrap();
    assert_eq!(
        again["recovery_time_seconds"], rto,
        "the first measurement stands"
    );
    let completed: Vec<_> = world
        .records_in(DR)
        .await
        .into_iter()
        .filter(|(_, r)| r["kind"] == "restore_available")
        .collect();
    assert_eq!(completed.len(), 1);
    let events = world.published();
    assert_eq!(
        events
            .iter()
            .filter(|e| e["detail-type"] == "Restore Completed")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_cluster_is_restored_with_its_members_classes() {
    let world = copied().await;
    // The cluster lived in its VPC's "default" DB subnet group: the restore
    // goes into the DR region's default (left to RDS), and the plan says
    // so; an override chooses another.
    let plan = succeed(
        &world,
        json!({"database": "ledger", "target": "ledger-dr", "dry_run": true}),
    )
    .await;
    assert_eq!(plan["missing"], json!([]), "{plan:#}");
    let call = &plan["plan"]["RestoreDBClusterFromSnapshot"]["cluster"];
    assert!(call.get("DBSubnetGroupName").is_none(), "{plan:#}");
    assert!(
        plan["notes"][0]
            .as_str()
            .unwrap()
            .contains("default DB subnet group"),
        "{plan:#}"
    );
    let started = succeed(&world, json!({"database": "ledger", "target": "ledger-dr", "overrides": {"subnet_group": "dr-subnets"}})).await;
    assert_eq!(started["database_kind"], "cluster");
    assert_eq!(
        dbs_in_dr(&world).await,
        ["cluster:ledger-dr", "ledger-dr-1", "ledger-dr-2"]
    );
    let rds = world.clients.rds_in(DR);
    let class = |id: &'static str| {
        let rds = rds.clone();
        async move {
            let out = rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .unwrap();
            let i = &out.db_instances()[0];
            (
                i.db_instance_class().unwrap_or_default().to_string(),
                i.publicly_accessible(),
            )
        }
    };
    assert_eq!(
        class("ledger-dr-1").await,
        ("db.r6g.large".to_string(), Some(false))
    );
    assert_eq!(
        class("ledger-dr-2").await,
        ("db.r6g.xlarge".to_string(), Some(false))
    );
    let cluster = rds
        .describe_db_clusters()
        .db_cluster_identifier("ledger-dr")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cluster.db_clusters()[0].db_subnet_group(),
        Some("dr-subnets")
    );

    let status = succeed(&world, json!({"action": "status", "target": "ledger-dr"})).await;
    assert_eq!(
        status["instances"].as_array().unwrap().len(),
        2,
        "{status:#}"
    );
    assert_eq!(status["available"], true);
}

#[tokio::test]
async fn overrides_are_applied() {
    let world = copied().await;
    let started = invoke(&world, sample_event("restore-latest.json"))
        .await
        .unwrap();
    assert_eq!(
        started["plan"]["RestoreDBInstanceFromDBSnapshot"]["MultiAZ"],
        false
    );
    let out = world
        .clients
        .rds_in(DR)
        .describe_db_instances()
        .db_instance_identifier("orders-restored")
        .send()
        .await
        .unwrap();
    let db = &out.db_instances()[0];
    assert_eq!(db.db_instance_class(), Some("db.r6g.large"));
    assert_eq!(
        db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some("dr-subnets")
    );
    let groups: Vec<&str> = db
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(groups, ["sg-0abc"]);
}

#[tokio::test]
async fn bad_requests_are_refused_and_create_nothing() {
    let world = copied().await;
    let sg = json!({"security_group_ids": ["sg-0dr"]});
    // A DB Lifeboat did not restore, in the DR region.
    seed::instance(&world.clients.rds_in(DR), "billing", "postgres", &[]).await;
    let before = dbs_in_dr(&world).await;
    for (payload, kind, expected) in [
        (
            json!({"database": "orders", "target": "billing", "overrides": sg}),
            "RestoreRefused",
            "already exist",
        ),
        (
            json!({"database": "orders", "target": "orders-2", "overrides": {"publicly_accessible": true}}),
            "RestoreRefused",
            "never makes a restored DB publicly accessible",
        ),
        (
            json!({"database": "orders", "target": "orders-2", "overides": {}}),
            "InvalidEvent",
            "unknown field `overides`",
        ),
        (
            json!({"database": "ghost", "target": "ghost-2"}),
            "RestoreRefused",
            "no available Lifeboat snapshot of ghost",
        ),
        (
            json!({"database": "orders", "target": "orders-2", "snapshot": "lifeboat-orders-20250101-0000"}),
            "RestoreRefused",
            "no DB snapshot or DB cluster snapshot lifeboat-orders-20250101-0000 in us-west-2",
        ),
        (
            json!({"database": "orders", "target": "orders-2", "snapshot": "lifeboat-ledger-20261124-0400"}),
            "RestoreRefused",
            "not a Lifeboat snapshot of orders",
        ),
        (
            json!({"action": "status", "target": "nothing-here"}),
            "RestoreRefused",
            "no DB instance or DB cluster nothing-here",
        ),
    ] {
        let err = invoke(&world, payload.clone()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{payload}: {err}");
        assert!(err.to_string().contains(expected), "{payload}: {err}");
    }
    assert_eq!(dbs_in_dr(&world).await, before, "nothing was created");
}

#[tokio::test]
async fn a_failing_cluster_instance_rolls_back_the_cluster() {
    let world = copied().await;
    let dry = succeed(&world, json!({"database": "ledger", "target": "ledger-rb", "dry_run": true, "overrides": {"subnet_group": "dr-subnets"}})).await;
    assert_eq!(
        dry["plan"]["RestoreDBClusterFromSnapshot"]["instances"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The plan as the planner makes it, but with a second member RDS will
    // refuse (an identifier it rejects): the failure happens half-way, after
    // the cluster and its first instance exist.
    let writer: CreateClusterInstance = CreateClusterInstance {
        db_instance_identifier: "ledger-rb-1".into(),
        db_cluster_identifier: "ledger-rb".into(),
        engine: "aurora-postgresql".into(),
        db_instance_class: "db.r6g.large".into(),
        ..CreateClusterInstance::default()
    };
    let broken = CreateClusterInstance {
        db_instance_identifier: "ledger--rb-2".into(),
        ..writer.clone()
    };
    let plan = Plan {
        calls: Calls::Cluster {
            cluster: lifeboat::domain::restore_plan::RestoreDbCluster {
                db_cluster_identifier: "ledger-rb".into(),
                snapshot_identifier: "lifeboat-ledger-20261124-0400".into(),
                engine: "aurora-postgresql".into(),
                db_subnet_group_name: Some("dr-subnets".into()),
                deletion_protection: true,
                ..Default::default()
            },
            instances: vec![writer, broken],
        },
        missing: Vec::new(),
        notes: Vec::new(),
    };
    let err = lifeboat::aws::rds::restore::execute(&world.clients.rds_in(DR), &plan)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.kind(), "RestoreFailed");
    assert!(
        text.contains("ledger--rb-2") && text.contains("rolled back"),
        "{text}"
    );
    assert!(
        dbs_in_dr(&world).await.is_empty(),
        "the cluster and its first instance were deleted"
    );
}

#[tokio::test]
async fn every_restore_sample_event_runs_through_the_runtime_api() {
    let world = copied().await;
    let (names, events) = samples_for("restore");
    assert!(
        names.len() >= 3,
        "expected the restore samples in events/, found {names:?}"
    );
    let run = run_debug(
        "restore",
        world.settings(&[("LIFEBOAT_DR_REGIONS", DR)]),
        events,
    )
    .await;
    let responses = run.responses(&names);
    let status = responses.last().unwrap();
    assert_eq!(status["available"], true, "{status:#}");
    assert!(status["recovery_time_seconds"].as_i64().is_some());
}

/// A start retried after its answer was lost (Step Functions retries the
/// task, Lambda retries an invocation) recognises its own restore: it is
/// not refused as "target exists", records and announces nothing twice, and
/// a cluster left half made is finished, not abandoned.
#[tokio::test]
async fn a_retried_start_recognises_its_own_restore_and_finishes_it() {
    let world = copied().await;
    let request = json!({"database": "ledger", "target": "ledger-dr",
                         "overrides": {"subnet_group": "dr-subnets"}});
    let first = succeed(&world, request.clone()).await;
    assert_eq!(first["status"], "started");
    world.published();

    // The same request again: already under way, nothing new.
    let again = succeed(&world, request.clone()).await;
    assert_eq!(again["status"], "started", "{again:#}");
    assert_eq!(again["catalog_key"], first["catalog_key"], "{again:#}");
    assert!(
        again["notes"].to_string().contains("earlier attempt"),
        "{again:#}"
    );
    assert_eq!(restore_records(&world).await, 1);
    assert!(world.published().is_empty(), "announced twice");

    // The first attempt stopped between the cluster and its second member.
    let rds = world.clients.rds_in(DR);
    rds.delete_db_instance()
        .db_instance_identifier("ledger-dr-2")
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        dbs_in_dr(&world).await,
        ["cluster:ledger-dr", "ledger-dr-1"]
    );
    let resumed = succeed(&world, request).await;
    assert_eq!(resumed["status"], "started", "{resumed:#}");
    assert_eq!(
        dbs_in_dr(&world).await,
        ["cluster:ledger-dr", "ledger-dr-1", "ledger-dr-2"]
    );
    assert_eq!(restore_records(&world).await, 1);

    // A DB of that name that this restore did not make is still refused.
    let err = invoke(
        &world,
        json!({"database": "orders", "target": "ledger-dr-1",
               "overrides": {"security_group_ids": ["sg-0dr"]}}),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("already exist"), "{err}");
}

/// The `restore` records in the DR region's catalog.
async fn restore_records(world: &World) -> usize {
    world
        .records_in(DR)
        .await
        .into_iter()
        .filter(|(_, r)| r["kind"] == "restore")
        .count()
}
