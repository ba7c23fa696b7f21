//! `lifeboat-restore` against moto: snapshot -> copy -> restore in a DR
//! region, for an instance and an Aurora cluster, and every refusal; and
//! under faults: a member that fails (rolled back, only what the restore
//! made), the Lambda deadline between the cluster and its members
//! (recorded, resumed), a catalog that cannot take the record (nothing
//! created), retried starts.

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
    let rds = world.clients.rds();
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

/// The cluster snapshot copied into the DR region.
const LEDGER_SNAPSHOT: &str = "lifeboat-ledger-20261124-0400";

/// `ledger-prod` in the DR region: restored from the very snapshot a
/// restore of ledger uses, long ago, and production since a failover. It
/// is tagged `lifeboat:restored-from` that snapshot, and carries no
/// restore's identity (or another's).
async fn production_cluster(world: &World) {
    seed::restored_cluster(
        &world.clients.rds_in(DR),
        "ledger-prod",
        LEDGER_SNAPSHOT,
        "aurora-postgresql",
        &[("ledger-prod-1", "db.r6g.large")],
        &[
            ("lifeboat:restored-from", LEDGER_SNAPSHOT),
            ("team", "ledger"),
        ],
    )
    .await;
}

/// The tag `key` of the DB instance or cluster `id` in the DR region.
async fn tag_in_dr(world: &World, id: &str, key: &str) -> Option<String> {
    let rds = world.clients.rds_in(DR);
    let tags = match rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(out) => out.db_clusters()[0].tag_list().to_vec(),
        Err(_) => rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .unwrap()
            .db_instances()[0]
            .tag_list()
            .to_vec(),
    };
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value().map(str::to_string))
}

/// Deletes the automated snapshots moto keeps of a deleted cluster: they
/// are named by the minute (`rds:<cluster>-<YYYY-MM-DD-HH-MM>`), so moto
/// refuses to restore a cluster of the same name again in the same minute.
/// RDS deletes a cluster's automated snapshots with it.
async fn forget_automated_snapshots(world: &World, cluster: &str) {
    let rds = world.clients.rds_in(DR);
    let out = rds
        .describe_db_cluster_snapshots()
        .db_cluster_identifier(cluster)
        .snapshot_type("automated")
        .send()
        .await
        .unwrap();
    for snapshot in out.db_cluster_snapshots() {
        rds.delete_db_cluster_snapshot()
            .db_cluster_snapshot_identifier(snapshot.db_cluster_snapshot_identifier().unwrap())
            .send()
            .await
            .unwrap();
    }
}

/// Waits into the next second: restores of one target are recorded by the
/// second they are requested in, one per second.
async fn next_second() {
    let millis = chrono::Utc::now().timestamp_subsec_millis();
    tokio::time::sleep(std::time::Duration::from_millis(1_050 - u64::from(millis))).await;
}

#[tokio::test]
async fn a_failing_cluster_instance_rolls_back_only_what_carries_the_restores_identity() {
    use lifeboat::aws::rds::restore::{self, Deadline, Execution};
    let world = copied().await;
    production_cluster(&world).await;
    let rds = world.clients.rds_in(DR);

    // The plan as the planner makes it, but with a second member RDS will
    // refuse (an identifier it rejects): the failure happens half-way, after
    // the cluster and its first instance exist.
    let broken_plan = |target: &str| {
        let writer = CreateClusterInstance {
            db_instance_identifier: format!("{target}-1"),
            db_cluster_identifier: target.into(),
            engine: "aurora-postgresql".into(),
            db_instance_class: "db.r6g.large".into(),
            ..CreateClusterInstance::default()
        };
        let broken = CreateClusterInstance {
            db_instance_identifier: target.replacen('-', "--", 1) + "-2",
            ..writer.clone()
        };
        let mut plan = Plan {
            calls: Calls::Cluster {
                cluster: lifeboat::domain::restore_plan::RestoreDbCluster {
                    db_cluster_identifier: target.into(),
                    snapshot_identifier: LEDGER_SNAPSHOT.into(),
                    engine: "aurora-postgresql".into(),
                    db_subnet_group_name: Some("dr-subnets".into()),
                    deletion_protection: true,
                    tags: [(
                        "lifeboat:restored-from".to_string(),
                        LEDGER_SNAPSHOT.to_string(),
                    )]
                    .into(),
                    ..Default::default()
                },
                instances: vec![writer, broken],
            },
            missing: Vec::new(),
            notes: Vec::new(),
        };
        plan.tag_with_restore_id(&format!("{target}@20261201T000000Z"));
        plan
    };

    let plan = broken_plan("ledger-rb");
    let Execution::Failed {
        failed,
        error,
        rollback,
    } = restore::execute(&rds, &plan, "ledger-rb@20261201T000000Z", &Deadline::none()).await
    else {
        panic!("expected the second member to fail")
    };
    assert_eq!(failed, "ledger--rb-2", "{error}");
    assert_eq!(
        rollback.deleted,
        ["ledger-rb-1", "ledger-rb"],
        "newest first: {rollback:?}"
    );
    assert!(rollback.problems.is_empty(), "{rollback:?}");
    assert_eq!(
        dbs_in_dr(&world).await,
        ["cluster:ledger-prod", "ledger-prod-1"],
        "the cluster and its first instance were deleted, nothing else"
    );

    // What the rollback used to do: a start that took ledger-prod for its
    // own (it was restored from the same snapshot) and created a member in
    // it. When that member fails, the rollback looks at each DB first and
    // deletes none that does not carry this restore's identity.
    let plan = broken_plan("ledger-prod");
    let Execution::Failed { rollback, .. } = restore::execute_missing(
        &rds,
        &plan,
        &["ledger-prod", "ledger-prod-1"],
        "ledger-prod@20261201T000000Z",
        &Deadline::none(),
    )
    .await
    else {
        panic!("expected the second member to fail")
    };
    assert!(rollback.deleted.is_empty(), "{rollback:?}");
    assert_eq!(
        dbs_in_dr(&world).await,
        ["cluster:ledger-prod", "ledger-prod-1"],
        "production is never rolled back"
    );
}

/// A DB parameter group of another engine family: RDS (and moto) refuse
/// it for an Aurora PostgreSQL member, after the cluster is restored. A
/// default group is left to RDS, so the planner does not look it up.
const REFUSED_MEMBERS: &str = "default.mysql8.0";

#[tokio::test]
async fn a_restore_whose_member_fails_is_rolled_back_and_production_restored_from_the_same_snapshot_is_never_touched(
) {
    let world = copied().await;
    production_cluster(&world).await;
    let production = ["cluster:ledger-prod", "ledger-prod-1"];
    let failing = json!({"subnet_group": "dr-subnets", "parameter_group": REFUSED_MEMBERS});

    // Aimed at production, the same failing request is refused before
    // anything is created: ledger-prod was restored from this snapshot, but
    // not by this restore. (Taken for "ours", its missing member would be
    // created, fail, and the rollback delete production.)
    let err = invoke(
        &world,
        json!({"database": "ledger", "target": "ledger-prod", "overrides": failing}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "RestoreRefused", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("DB cluster ledger-prod (restored from lifeboat-ledger-20261124-0400, not by this restore)")
            && text.contains("already exist"),
        "{text}"
    );
    assert_eq!(dbs_in_dr(&world).await, production);
    assert_eq!(
        restore_records(&world).await,
        0,
        "a refusal records nothing"
    );
    assert!(world.published().is_empty(), "nor announces anything");

    // Into a free target: recorded, the cluster restored, its first member
    // refused, the cluster (this restore's) deleted; production untouched.
    let err = invoke(
        &world,
        json!({"database": "ledger", "target": "ledger-rb", "overrides": failing}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "RestoreFailed", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("creating ledger-rb-1 failed")
            && text.contains("rolled back: deleted ledger-rb"),
        "{text}"
    );
    assert_eq!(dbs_in_dr(&world).await, production);
    let records = world.records_in(DR).await;
    let started = records
        .iter()
        .find(|(k, r)| r["kind"] == "restore" && k.contains("/ledger-rb/"))
        .map(|(_, r)| r.clone())
        .expect("the restore was recorded before it created anything");
    let restore_id = started["restore_id"].as_str().unwrap().to_string();
    assert!(restore_id.starts_with("ledger-rb@"), "{started:#}");
    let (key, failed) = records
        .iter()
        .find(|(_, r)| r["kind"] == "restore_failed")
        .expect("a record of the failure and the rollback");
    assert!(
        key.starts_with("restores/us-west-2/ledger-rb/") && key.ends_with("-failed.json"),
        "{key}"
    );
    assert_eq!(failed["restore_id"], restore_id.as_str());
    assert_eq!(failed["deleted"], json!(["ledger-rb"]));
    assert_eq!(failed["not_deleted"], json!([]));
    let events = world.published();
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e["detail-type"].as_str())
        .collect();
    assert!(
        types.contains(&"Restore Started") && types.contains(&"Restore Failed"),
        "{events:#?}"
    );
    let announced = events
        .iter()
        .find(|e| e["detail-type"] == "Restore Failed")
        .unwrap();
    assert_eq!(announced["detail"]["deleted"], json!(["ledger-rb"]));

    // A failed restore is over: the request put right is a new restore,
    // with its own identity, record and event.
    forget_automated_snapshots(&world, "ledger-rb").await;
    next_second().await;
    let fixed = succeed(
        &world,
        json!({"database": "ledger", "target": "ledger-rb",
               "overrides": {"subnet_group": "dr-subnets"}}),
    )
    .await;
    assert_eq!(fixed["status"], "started", "{fixed:#}");
    assert_ne!(fixed["restore_id"], restore_id.as_str());
    assert_eq!(
        dbs_in_dr(&world).await,
        [
            "cluster:ledger-prod",
            "cluster:ledger-rb",
            "ledger-prod-1",
            "ledger-rb-1",
            "ledger-rb-2"
        ]
    );
    assert_eq!(restore_records(&world).await, 2);
    assert_eq!(
        tag_in_dr(&world, "ledger-prod", "lifeboat:restore-id").await,
        None
    );
}

/// Each reading of this clock is `step` after the one before, from now:
/// every create call takes `step`.
fn slow_calls(step: chrono::TimeDelta) -> impl Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync {
    let start = chrono::Utc::now();
    let readings = std::sync::atomic::AtomicI32::new(0);
    move || start + step * readings.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

fn restore_request(payload: Value) -> lifeboat_restore::event::RestoreRequest {
    match lifeboat_restore::event::parse(&payload).unwrap() {
        lifeboat_restore::event::Request::Restore(request) => *request,
        other => panic!("not a restore request: {other:?}"),
    }
}

/// The invocation runs short between the cluster and its members: the
/// cluster it leaves is recorded (the record went first) and tagged with
/// the restore's identity, the invocation ends in an error saying what is
/// left, and the same request again finishes it, as the same restore.
#[tokio::test]
async fn a_deadline_between_the_cluster_and_its_members_leaves_a_tracked_cluster_that_the_same_request_finishes(
) {
    use lifeboat::aws::rds::restore::Deadline;
    use lifeboat::lambda::invocation::Report as _;
    let world = copied().await;
    let ctx = world.context(&[("LIFEBOAT_DR_REGIONS", DR)]);
    let payload = json!({"database": "ledger", "target": "ledger-dl",
                         "overrides": {"subnet_group": "dr-subnets"}});
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0);
    // A minute left, and each create call takes 40 s: time for the
    // cluster, then less than the margin before the first member.
    let deadline = Deadline::with_clock(
        Some(now + chrono::TimeDelta::seconds(60)),
        slow_calls(chrono::TimeDelta::seconds(40)),
    );
    let report = lifeboat_restore::start(&ctx, &restore_request(payload.clone()), now, &deadline)
        .await
        .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "incomplete", "{json:#}");
    assert_eq!(json["made"], json!(["ledger-dl"]), "{json:#}");
    assert_eq!(
        json["left"],
        json!(["ledger-dl-1", "ledger-dl-2"]),
        "{json:#}"
    );
    let restore_id = json["restore_id"].as_str().unwrap().to_string();

    // The invocation ends in an error that says what to do.
    let err = lifeboat_restore::report::Report::Restore(Box::new(report))
        .into_result()
        .unwrap_err();
    assert_eq!(err.kind(), "RestoreIncomplete");
    let text = err.to_string();
    assert!(
        text.contains("incomplete")
            && text.contains("ledger-dl-1, ledger-dl-2")
            && text.contains("send the same request again"),
        "{text}"
    );

    // Half made, and tracked: recorded with its whole plan, and tagged.
    assert_eq!(dbs_in_dr(&world).await, ["cluster:ledger-dl"]);
    assert_eq!(
        tag_in_dr(&world, "ledger-dl", "lifeboat:restore-id")
            .await
            .as_deref(),
        Some(restore_id.as_str())
    );
    let records = world.records_in(DR).await;
    let (key, started) = records
        .iter()
        .find(|(_, r)| r["kind"] == "restore")
        .expect("the restore's record");
    assert_eq!(started["restore_id"], restore_id.as_str());
    let members: Vec<&str> = started["plan"]["RestoreDBClusterFromSnapshot"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["DBInstanceIdentifier"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["ledger-dl-1", "ledger-dl-2"]);
    let announced = world.published();
    assert_eq!(
        announced
            .iter()
            .filter(|e| e["detail-type"] == "Restore Started")
            .count(),
        1,
        "{announced:#?}"
    );

    // Status does not take the bare cluster for the restored DB.
    let status = succeed(&world, json!({"action": "status", "target": "ledger-dl"})).await;
    assert_eq!(status["available"], false, "{status:#}");
    assert_eq!(status["not_created"], json!(["ledger-dl-1", "ledger-dl-2"]));
    assert_eq!(status["restore_id"], restore_id.as_str());

    // The same request again, with time: the same restore, finished.
    let resumed = succeed(&world, payload).await;
    assert_eq!(resumed["status"], "started", "{resumed:#}");
    assert_eq!(resumed["restore_id"], restore_id.as_str());
    assert_eq!(resumed["catalog_key"], key.as_str());
    assert!(
        resumed["notes"].to_string().contains("earlier attempt"),
        "{resumed:#}"
    );
    assert_eq!(
        dbs_in_dr(&world).await,
        ["cluster:ledger-dl", "ledger-dl-1", "ledger-dl-2"]
    );
    for member in ["ledger-dl-1", "ledger-dl-2"] {
        assert_eq!(
            tag_in_dr(&world, member, "lifeboat:restore-id")
                .await
                .as_deref(),
            Some(restore_id.as_str()),
            "{member}"
        );
    }
    assert_eq!(restore_records(&world).await, 1, "no second record");
    assert!(world.published().is_empty(), "no second Restore Started");
    let status = succeed(&world, json!({"action": "status", "target": "ledger-dl"})).await;
    assert_eq!(status["available"], true, "{status:#}");
}

/// The deadline the Lambda runtime gives (`Lambda-Runtime-Deadline-Ms`) is
/// the one a restore keeps to: with less than the margin left, it records
/// the restore and creates nothing, and the same request starts it.
#[tokio::test]
async fn with_the_lambda_deadline_too_close_nothing_is_created_and_the_same_request_creates_it() {
    let world = copied().await;
    let ctx = world.context(&[("LIFEBOAT_DR_REGIONS", DR)]);
    let payload = json!({"database": "orders", "target": "orders-dl",
                         "overrides": {"security_group_ids": ["sg-0dr"]}});
    let with_deadline = |seconds: i64| {
        let mut context = lambda_runtime::Context::default();
        context.deadline =
            (chrono::Utc::now() + chrono::TimeDelta::seconds(seconds)).timestamp_millis() as u64;
        LambdaEvent::new(payload.clone(), context)
    };
    let err = lifeboat_restore::handle(&ctx, with_deadline(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "RestoreIncomplete", "{err}");
    assert!(
        err.to_string()
            .contains("made: nothing; not created yet: orders-dl"),
        "{err}"
    );
    assert!(dbs_in_dr(&world).await.is_empty());
    assert_eq!(restore_records(&world).await, 1);

    let started = lifeboat_restore::handle(&ctx, with_deadline(900))
        .await
        .map(|r| serde_json::to_value(r).unwrap())
        .unwrap();
    assert_eq!(started["status"], "started", "{started:#}");
    assert_eq!(dbs_in_dr(&world).await, ["orders-dl"]);
    assert_eq!(restore_records(&world).await, 1, "the same restore");
    assert_eq!(
        tag_in_dr(&world, "orders-dl", "lifeboat:restore-id")
            .await
            .as_deref(),
        started["restore_id"].as_str()
    );
    let events = world.published();
    assert_eq!(
        events
            .iter()
            .filter(|e| e["detail-type"] == "Restore Started")
            .count(),
        1,
        "{events:#?}"
    );
}

/// Record before acting: with a catalog that cannot take the restore's
/// record, nothing is created.
#[tokio::test]
async fn a_restore_that_cannot_be_recorded_creates_nothing() {
    let world = copied().await;
    let ctx = world.context(&[
        ("LIFEBOAT_DR_REGIONS", DR),
        (
            "LIFEBOAT_DR_CATALOG_BUCKETS",
            "us-west-2=lifeboat-no-such-bucket",
        ),
    ]);
    // Without the catalog, the snapshot's record is unreadable too: the
    // plan comes from the snapshot, with what it lacks given.
    let payload = json!({"database": "orders", "target": "orders-unrecorded",
                         "overrides": {"instance_class": "db.t4g.large", "subnet_group": "dr-subnets",
                                       "security_group_ids": ["sg-0dr"]}});
    let err = lifeboat_restore::handle(&ctx, lambda(payload))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "RestoreFailed", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("not started, nothing created")
            && text.contains("record could not be written")
            && text.contains("lifeboat-no-such-bucket"),
        "{text}"
    );
    assert!(dbs_in_dr(&world).await.is_empty());
    assert!(
        !world
            .published()
            .iter()
            .any(|e| e["detail-type"] == "Restore Started"),
        "nothing announced"
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
    for db in ["ledger-dr", "ledger-dr-1", "ledger-dr-2"] {
        assert_eq!(
            tag_in_dr(&world, db, "lifeboat:restore-id")
                .await
                .as_deref(),
            first["restore_id"].as_str(),
            "{db} carries the restore's identity"
        );
    }
    world.published();

    // The same request again: already under way, nothing new.
    let again = succeed(&world, request.clone()).await;
    assert_eq!(again["status"], "started", "{again:#}");
    assert_eq!(again["catalog_key"], first["catalog_key"], "{again:#}");
    assert_eq!(again["restore_id"], first["restore_id"], "{again:#}");
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
    let resumed = succeed(&world, request.clone()).await;
    assert_eq!(resumed["status"], "started", "{resumed:#}");
    assert_eq!(
        dbs_in_dr(&world).await,
        ["cluster:ledger-dr", "ledger-dr-1", "ledger-dr-2"]
    );
    assert_eq!(restore_records(&world).await, 1);

    // Once finished (status saw it available), it is never resumed: after a
    // failover it may be production, and a member created in it, should it
    // fail, would roll production back. With a member gone, the same
    // request is a new restore, refused, and told whose the DBs are.
    let status = succeed(&world, json!({"action": "status", "target": "ledger-dr"})).await;
    assert_eq!(status["available"], true, "{status:#}");
    rds.delete_db_instance()
        .db_instance_identifier("ledger-dr-2")
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
    next_second().await;
    let err = invoke(&world, request.clone()).await.unwrap_err();
    assert_eq!(err.kind(), "RestoreRefused", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("already exist") && text.contains("this start does not continue it"),
        "{text}"
    );
    assert_eq!(
        dbs_in_dr(&world).await,
        ["cluster:ledger-dr", "ledger-dr-1"],
        "nothing touched"
    );

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
