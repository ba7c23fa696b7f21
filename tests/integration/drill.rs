//! `lifeboat-drill` against moto, as a recovery stack in the DR region runs
//! it: the state machine's steps (start, check, finish) in turn, for an
//! instance and an Aurora cluster; failing verifications; and the DBs a
//! drill must never touch. The user's validator is played by a local
//! Invoke endpoint (`invoke::ValidatorStandIn`).

use lambda_runtime::LambdaEvent;
use lifeboat::aws::clients::Clients;
use lifeboat_drill::event::Drill;
use lifeboat_drill::validator::Validator;
use lifeboat_drill::Report;
use lifeboat_tests::invoke::ValidatorStandIn;
use lifeboat_tests::{eventlog, seed, World, UNPACED};
use serde_json::{json, Value};

const DR: &str = "us-west-2";
const VALIDATOR: &str = "check-orders-data";

fn lambda(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// The recovery stack's drill in `DR`, with the drill network and
/// `extra` settings, and the validator's Lambda client aimed at `validator`.
fn drill_stack(
    world: &World,
    validator: &ValidatorStandIn,
    extra: &[(&str, &str)],
) -> (lifeboat::Context, Validator) {
    let clients = Clients::with_policy(world.account.sdk_config(DR), UNPACED);
    let mut settings = vec![
        ("LIFEBOAT_STACK_ROLE", "recovery"),
        ("LIFEBOAT_DRILL_SUBNET_GROUP", "dr-subnets"),
        ("LIFEBOAT_DRILL_SECURITY_GROUPS", "sg-0dr"),
        ("LIFEBOAT_DRILL_VALIDATOR", VALIDATOR),
    ];
    settings.extend_from_slice(extra);
    let ctx = world.context_in(DR, clients, &settings);
    let validator = Validator::with_endpoint(&ctx, Some(validator.url()));
    (ctx, validator)
}

async fn step(ctx: &lifeboat::Context, validator: &Validator, payload: Value) -> Value {
    let report: Report = lifeboat_drill::handle(ctx, validator, lambda(payload))
        .await
        .unwrap_or_else(|e| panic!("drill step failed: {e}"));
    serde_json::to_value(report).unwrap()
}

/// Runs what the state machine runs: start, then check each drill until
/// it is not `creating`, then finish it. Returns the start's report and
/// each finish's.
async fn drill_all(
    ctx: &lifeboat::Context,
    validator: &Validator,
    start: Value,
) -> (Value, Vec<Value>) {
    let started = step(ctx, validator, start).await;
    let drills: Vec<Drill> = serde_json::from_value(started["drills"].clone()).unwrap();
    let mut finished = Vec::new();
    for drill in drills {
        let mut checked = step(ctx, validator, json!({"action": "check", "drill": drill})).await;
        for _ in 0..20 {
            if checked["state"] != "creating" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            checked = step(
                ctx,
                validator,
                json!({"action": "check", "drill": checked["drill"]}),
            )
            .await;
        }
        finished.push(
            step(
                ctx,
                validator,
                json!({"action": "finish", "drill": checked["drill"]}),
            )
            .await,
        );
    }
    (started, finished)
}

/// Every DB instance and DB cluster identifier in `DR`.
async fn dbs_in_dr(world: &World) -> Vec<String> {
    let rds = world.clients.rds_in(DR);
    let instances = rds.describe_db_instances().send().await.unwrap();
    let clusters = rds.describe_db_clusters().send().await.unwrap();
    let mut ids: Vec<String> = instances
        .db_instances()
        .iter()
        .filter(|i| i.db_instance_status() != Some("deleting"))
        .filter_map(|i| i.db_instance_identifier().map(str::to_string))
        .chain(
            clusters
                .db_clusters()
                .iter()
                .filter(|c| c.status() != Some("deleting"))
                .filter_map(|c| c.db_cluster_identifier().map(str::to_string)),
        )
        .collect();
    ids.sort();
    ids
}

async fn drill_records(world: &World) -> Vec<Value> {
    world
        .records_in(DR)
        .await
        .into_iter()
        .filter(|(_, r)| r["kind"] == "drill")
        .map(|(_, r)| r)
        .collect()
}

/// The drill events on the DR region's bus.
fn drill_events(world: &World) -> Vec<Value> {
    eventlog::read_all(&world.account, DR)
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| {
            e["detail-type"]
                .as_str()
                .is_some_and(|t| t.starts_with("Drill "))
        })
        .collect()
}

async fn copied() -> World {
    let world = crate::restore::copied_to(DR).await;
    let dr = Clients::with_policy(world.account.sdk_config(DR), UNPACED);
    seed::event_tap(dr.events(), &world.account, DR).await;
    world
}

#[tokio::test]
async fn a_drill_of_an_instance_and_a_cluster_passes_records_both_figures_and_deletes_every_drill_db(
) {
    let world = copied().await;
    let before = dbs_in_dr(&world).await;
    let validator =
        ValidatorStandIn::start(json!({"status": "passed", "details": {"rows": 42}}), false);
    let (ctx, client) = drill_stack(&world, &validator, &[]);

    let (started, finished) = drill_all(&ctx, &client, json!({})).await;
    assert_eq!(started["counts"]["created"], 2, "{started}");
    let targets: Vec<&str> = finished
        .iter()
        .map(|f| f["drill"]["target"].as_str().unwrap())
        .collect();
    assert!(
        targets.iter().all(|t| t.starts_with("lifeboat-drill-")),
        "{targets:?}"
    );
    for f in &finished {
        assert_eq!(f["verdict"], "passed", "{f:#}");
        assert_eq!(f["record"]["cleaned_up"], true, "{f:#}");
    }

    // Every drill DB (the instance, the cluster and its two members) is gone.
    assert_eq!(dbs_in_dr(&world).await, before);

    let records = drill_records(&world).await;
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r["schema"], "lifeboat/v1");
        assert_eq!(r["verdict"], "passed");
        assert_eq!(r["region"], DR);
        assert!(r["recovery_time_seconds"].as_i64().unwrap() >= 0, "{r:#}");
        assert!(
            r["recovery_point_age_seconds"].as_i64().unwrap() > 0,
            "{r:#}"
        );
        let names: Vec<&str> = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"engine version"), "{names:?}");
        assert!(
            names.contains(&format!("validator {VALIDATOR}").as_str()),
            "{names:?}"
        );
    }
    let cluster = records.iter().find(|r| r["database"] == "ledger").unwrap();
    assert!(cluster["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "cluster members" && c["passed"] == true));

    // The validator got what it needs to reach the DB.
    let received = validator.received();
    assert_eq!(received.len(), 2);
    for (function, payload) in &received {
        assert_eq!(function, VALIDATOR);
        for field in [
            "database",
            "target",
            "endpoint",
            "port",
            "engine",
            "snapshot_id",
            "recovery_point_time",
        ] {
            assert!(
                payload.get(field).is_some(),
                "{field} missing from {payload}"
            );
        }
    }

    let events = drill_events(&world);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(events.iter().all(|e| e["detail-type"] == "Drill Passed"));
}

#[tokio::test]
async fn a_drill_that_fails_verification_records_it_announces_it_and_still_cleans_up() {
    let world = copied().await;
    let before = dbs_in_dr(&world).await;
    // The record says another engine version than the snapshot restores.
    let s3 = world.clients.s3_in(DR);
    let bucket = world.catalog_bucket(DR).to_string();
    for (key, mut record) in world.records_in(DR).await {
        if record["kind"] == "snapshot" && record["database"] == "orders" {
            record["engine_version"] = json!("9.6.1");
            s3.put_object()
                .bucket(&bucket)
                .key(&key)
                .body(record.to_string().into_bytes().into())
                .send()
                .await
                .unwrap();
        }
    }
    let validator = ValidatorStandIn::start(
        json!({"status": "failed", "details": "0 rows in orders"}),
        false,
    );
    let (ctx, client) = drill_stack(&world, &validator, &[]);

    let (_, finished) = drill_all(&ctx, &client, json!({"databases": ["orders"]})).await;
    assert_eq!(finished.len(), 1);
    let f = &finished[0];
    assert_eq!(f["verdict"], "failed", "{f:#}");
    let failed: Vec<&str> = f["record"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        ["engine version", &format!("validator {VALIDATOR}")]
    );
    assert_eq!(f["record"]["cleaned_up"], true);
    assert_eq!(dbs_in_dr(&world).await, before);
    let records = drill_records(&world).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["verdict"], "failed");
    let events = drill_events(&world);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["detail-type"], "Drill Failed");

    // A validator that raises fails its check too, saying so.
    let raising = ValidatorStandIn::start(json!({"errorMessage": "boom"}), true);
    let (ctx, client) = drill_stack(&world, &raising, &[]);
    let (_, finished) = drill_all(&ctx, &client, json!({"databases": ["ledger"]})).await;
    let check = finished[0]["record"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == format!("validator {VALIDATOR}"))
        .cloned()
        .unwrap();
    assert_eq!(check["passed"], false);
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("raised an error"),
        "{check}"
    );
    assert_eq!(dbs_in_dr(&world).await, before);
}

#[tokio::test]
async fn a_drill_never_touches_a_db_it_did_not_make_and_deletes_its_own_leftovers() {
    let world = copied().await;
    let rds = world.clients.rds_in(DR);
    let today = chrono::Utc::now();
    // A DB of the user's, named like today's drill target of orders.
    let taken = lifeboat::domain::naming::drill_identifier("orders", today);
    seed::instance(&rds, &taken, "postgres", &[]).await;
    // A drill DB left by a drill that crashed two days ago.
    let leftover = "lifeboat-drill-ledger-20261201";
    seed::instance(
        &rds,
        leftover,
        "postgres",
        &[
            ("lifeboat:drill", "true"),
            (
                "lifeboat:restore-id",
                "lifeboat-drill-ledger-20261201@20261201T030000Z",
            ),
        ],
    )
    .await;
    let validator = ValidatorStandIn::start(json!({"status": "passed"}), false);
    let (ctx, client) = drill_stack(&world, &validator, &[]);

    let started = step(&ctx, &client, json!({})).await;
    let outcome = |db: &str| {
        started["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["database"] == db)
            .cloned()
            .unwrap_or_else(|| panic!("no outcome for {db}: {started:#}"))
    };
    assert_eq!(outcome(leftover)["outcome"], "deleted");
    let orders = outcome("orders");
    assert_eq!(orders["outcome"], "skipped", "{orders}");
    assert!(
        orders["reason"]
            .as_str()
            .unwrap()
            .contains("not a drill DB"),
        "{orders}"
    );
    assert_eq!(outcome("ledger")["outcome"], "created");

    // A finish forged for the user's DB deletes nothing.
    let mut forged: Drill = serde_json::from_value(started["drills"][0].clone()).unwrap();
    forged.target = taken.clone();
    forged.database = "orders".into();
    forged.database_kind = lifeboat::domain::model::DatabaseKind::Instance;
    let result = lifeboat_drill::handle(
        &ctx,
        &client,
        lambda(json!({"action": "finish", "drill": forged})),
    )
    .await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("deletes only the DBs it made"), "{err}");
    let left = dbs_in_dr(&world).await;
    assert!(left.contains(&taken), "{left:?}");
    assert!(!left.contains(&leftover.to_string()), "{left:?}");
}
