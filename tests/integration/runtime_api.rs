//! The built binaries, run as Lambda runs them: through a Runtime API, with
//! every sample event in `events/` that belongs to each.

use lambda_runtime::LambdaEvent;
use lifeboat_tests::invoke::ValidatorStandIn;
use lifeboat_tests::runtime::run_debug;
use lifeboat_tests::{sample_event, samples_for, seed, World};
use serde_json::{json, Value};

fn lambda(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// An instance and an Aurora cluster of one member, both selected; the
/// instance encrypted with `key` when one is given.
async fn seed_fleet(world: &World, key: Option<&str>) {
    let rds = world.clients.rds();
    seed::encrypted_instance(rds, "orders", "postgres", &[seed::SELECT], key).await;
    seed::cluster(
        rds,
        "ledger",
        "aurora-postgresql",
        &[("ledger-1", "db.r6g.large")],
        &[seed::SELECT],
    )
    .await;
}

#[tokio::test]
async fn every_snapshot_sample_event_runs_through_the_runtime_api() {
    let world = World::new("us-east-1").await;
    seed_fleet(&world, None).await;

    let (names, events) = samples_for("snapshot");
    assert!(
        names.len() >= 6,
        "expected the snapshot samples in events/, found {names:?}"
    );
    let run = run_debug("snapshot", world.settings(&[]), events).await;
    for (name, response) in names.iter().zip(run.responses(&names)) {
        assert_eq!(response["function"], "snapshot", "{name}");
    }
    assert!(run.init_time.is_some());
    // Logs are JSON lines, one per outcome among them.
    assert!(
        run.logs.lines().any(|l| l.contains("\"outcome\"")),
        "{}",
        run.logs
    );
    assert!(
        run.logs
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.starts_with('{')),
        "{}",
        run.logs
    );
    // Every line an invocation logs carries its request id.
    assert!(
        run.logs
            .lines()
            .filter(|l| l.contains("\"outcome\""))
            .all(|l| l.contains("\"request_id\"")),
        "{}",
        run.logs
    );
}

#[tokio::test]
async fn every_copy_sample_event_runs_through_the_runtime_api() {
    let world = World::new("us-east-1").await;
    let key = world.account.kms_key("us-east-1");
    seed_fleet(&world, Some(&key)).await;
    lifeboat_snapshot::handle(
        &world.context(&[]),
        lambda(sample_event("snapshot-scheduled.json")),
    )
    .await
    .unwrap();

    let (names, events) = samples_for("copy");
    assert!(
        names.len() >= 4,
        "expected the copy samples in events/, found {names:?}"
    );
    // The RDS events name snapshots by ARN, in this test's account.
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            serde_json::from_str(&e.to_string().replace("123456789012", &world.account.id)).unwrap()
        })
        .collect();
    let keys = format!(
        "us-west-2={},eu-west-1={}",
        world.account.kms_key("us-west-2"),
        world.account.kms_key("eu-west-1")
    );
    let env = world.settings(&[
        ("LIFEBOAT_DR_REGIONS", "us-west-2,eu-west-1"),
        ("LIFEBOAT_DR_KMS_KEYS", &keys),
    ]);
    let run = run_debug("copy", env, events).await;
    for (name, response) in names.iter().zip(run.responses(&names)) {
        assert_eq!(response["function"], "copy", "{name}");
    }
    let copies = world
        .clients
        .rds_in("eu-west-1")
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    assert_eq!(copies.db_snapshots().len(), 1, "orders reached eu-west-1");
}

#[tokio::test]
async fn every_prune_sample_event_runs_through_the_runtime_api() {
    let world = World::new("us-east-1").await;
    seed::instance(world.clients.rds(), "orders", "postgres", &[seed::SELECT]).await;
    let ctx = world.context(&[]);
    for time in [
        "2026-11-20T04:00:00Z",
        "2026-11-21T04:00:00Z",
        "2026-11-24T04:00:00Z",
    ] {
        let mut event = sample_event("snapshot-scheduled.json");
        event["time"] = json!(time);
        lifeboat_snapshot::handle(&ctx, lambda(event))
            .await
            .unwrap();
    }
    // Sorted: the dry run comes first, then the scheduled run.
    let (names, events) = samples_for("prune");
    assert!(
        names.len() >= 2,
        "expected the prune samples in events/, found {names:?}"
    );
    let run = run_debug(
        "prune",
        world.settings(&[("LIFEBOAT_RETENTION", "last=1")]),
        events,
    )
    .await;
    let responses = run.responses(&names);
    assert_eq!(
        responses[0]["counts"]["would_delete"], 2,
        "{:#}",
        responses[0]
    );
    assert_eq!(responses[1]["counts"]["deleted"], 2, "{:#}", responses[1]);
    assert_eq!(responses[1]["counts"]["kept"], 1);
}

#[tokio::test]
async fn every_monitor_sample_event_runs_through_the_runtime_api() {
    let world = World::new("us-east-1").await;
    seed::instance(world.clients.rds(), "orders", "postgres", &[seed::SELECT]).await;
    seed::instance(world.clients.rds(), "ledger", "postgres", &[seed::SELECT]).await;
    let ctx = world.context(&[]);
    lifeboat_snapshot::handle(&ctx, lambda(json!({"databases": ["orders"]})))
        .await
        .unwrap();
    let (names, events) = samples_for("monitor");
    assert!(!names.is_empty(), "expected the monitor samples in events/");
    let run = run_debug("monitor", world.settings(&[]), events).await;
    for response in run.responses(&names) {
        // The sample's time is earlier than orders' snapshot: its age is
        // measured as of the event, never below zero.
        assert_eq!(response["counts"]["ok"], 1, "{response:#}");
        assert_eq!(response["counts"]["breached"], 1, "{response:#}");
    }
}

/// The drill's samples, through the built binary as a recovery stack in
/// the DR region runs it, the validator's Invoke aimed at the stand-in
/// with the SDK's own `AWS_ENDPOINT_URL_LAMBDA`: the step for a drill DB
/// that is not there finds it gone; a manual and a scheduled start each
/// start a drill of what they name.
#[tokio::test]
async fn every_drill_sample_event_runs_through_the_runtime_api() {
    const DR: &str = "us-west-2";
    let world = crate::restore::copied_to(DR).await;
    let validator = ValidatorStandIn::start(json!({"status": "passed"}), false);
    let (names, events) = samples_for("drill");
    assert_eq!(
        names,
        [
            "drill-check.json",
            "drill-manual.json",
            "drill-scheduled.json"
        ]
    );
    let env = world.settings_in(
        DR,
        &[
            ("LIFEBOAT_STACK_ROLE", "recovery"),
            ("LIFEBOAT_DRILL_SUBNET_GROUP", "dr-subnets"),
            ("LIFEBOAT_DRILL_VALIDATOR", "check-orders"),
            ("AWS_ENDPOINT_URL_LAMBDA", validator.url()),
        ],
    );
    let run = run_debug("drill", env, events).await;
    let responses = run.responses(&names);
    assert_eq!(responses[0]["state"], "gone", "{:#}", responses[0]);
    let drills = |r: &Value| -> Vec<String> {
        let mut targets: Vec<String> = r["drills"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["target"].as_str().unwrap().to_string())
            .collect();
        targets.sort();
        targets
    };
    let today = lifeboat::domain::naming::drill_identifier("orders", chrono::Utc::now());
    assert_eq!(drills(responses[1]), [today], "{:#}", responses[1]);
    // The schedule's time names its drills; both DBs have copies here.
    assert_eq!(
        drills(responses[2]),
        [
            "lifeboat-drill-ledger-20261129",
            "lifeboat-drill-orders-20261129"
        ],
        "{:#}",
        responses[2]
    );
}

/// Start-up refuses a missing or malformed setting, naming it, before any
/// event is taken.
async fn refuses_to_start(function: &str, env: Vec<(String, String)>, setting: &str) {
    let run = run_debug(function, env, vec![json!({})]).await;
    assert!(
        run.init_error.is_some(),
        "lifeboat-{function} should not start"
    );
    assert!(run.invocations.is_empty());
    assert!(run.logs.contains(setting), "{}", run.logs);
}

#[tokio::test]
async fn a_missing_or_malformed_setting_stops_start_up_naming_it() {
    let world = World::new("us-east-1").await;
    let without_bucket = world
        .settings(&[])
        .into_iter()
        .filter(|(k, _)| k != "LIFEBOAT_CATALOG_BUCKET")
        .collect();
    refuses_to_start("snapshot", without_bucket, "LIFEBOAT_CATALOG_BUCKET").await;
    refuses_to_start(
        "snapshot",
        world.settings(&[("LIFEBOAT_SELECT_TAG", "no-equals-sign")]),
        "LIFEBOAT_SELECT_TAG",
    )
    .await;
    refuses_to_start("copy", world.settings(&[]), "LIFEBOAT_DR_REGIONS").await;
    // Every DR region needs its catalog: the missing one is named.
    let west_only = format!("us-west-2={}", world.catalog_bucket("us-west-2"));
    for function in ["copy", "prune", "restore"] {
        let run = run_debug(
            function,
            world.settings(&[
                ("LIFEBOAT_DR_REGIONS", "us-west-2,eu-west-1"),
                ("LIFEBOAT_DR_CATALOG_BUCKETS", &west_only),
                (
                    "LIFEBOAT_DR_KMS_KEYS",
                    "us-west-2=alias/dr,eu-west-1=alias/dr",
                ),
                ("LIFEBOAT_RETENTION", "last=3"),
            ]),
            vec![json!({})],
        )
        .await;
        assert!(
            run.init_error.is_some(),
            "lifeboat-{function} should not start"
        );
        assert!(
            run.logs.contains("LIFEBOAT_DR_CATALOG_BUCKETS")
                && run
                    .logs
                    .contains("DR region eu-west-1 has no catalog bucket"),
            "{}",
            run.logs
        );
    }
    refuses_to_start(
        "prune",
        world.settings(&[("LIFEBOAT_RETENTION", "last=0")]),
        "LIFEBOAT_RETENTION",
    )
    .await;
    refuses_to_start(
        "restore",
        world.settings(&[("LIFEBOAT_DRY_RUN", "maybe")]),
        "LIFEBOAT_DRY_RUN",
    )
    .await;
    refuses_to_start(
        "monitor",
        world.settings(&[("LIFEBOAT_STACK_ROLE", "sideways")]),
        "LIFEBOAT_STACK_ROLE",
    )
    .await;
    refuses_to_start(
        "monitor",
        world.settings(&[("LIFEBOAT_RPO_SECONDS", "a day")]),
        "LIFEBOAT_RPO_SECONDS",
    )
    .await;
    // A drill runs in the DR region it tests: a stack with DR regions is
    // not one.
    refuses_to_start(
        "drill",
        world.settings(&[
            ("LIFEBOAT_STACK_ROLE", "recovery"),
            ("LIFEBOAT_DR_REGIONS", "us-west-2"),
        ]),
        "LIFEBOAT_DR_REGIONS",
    )
    .await;
    refuses_to_start(
        "drill",
        world.settings(&[("LIFEBOAT_DRILL_SECURITY_GROUPS", "default")]),
        "LIFEBOAT_DRILL_SECURITY_GROUPS",
    )
    .await;
}

/// A document nested deeper than the runtime's JSON reader allows (128
/// levels) is refused with an error that says so, and nothing is done.
#[tokio::test]
async fn a_document_nested_too_deep_is_refused_by_the_runtime() {
    let world = World::new("us-east-1").await;
    seed_fleet(&world, None).await;
    let mut deep = json!("bottom");
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let event = json!({"databases": ["orders"], "reason": deep});
    let run = run_debug(
        "snapshot",
        world.settings(&[]),
        vec![event, json!({"databases": ["orders"]})],
    )
    .await;
    let refused = run.invocations[0].error_message();
    assert!(refused.contains("recursion limit"), "{refused}");
    // The runtime goes on to the next event.
    assert!(
        run.invocations[1].result.is_ok(),
        "{}",
        run.invocations[1].error_message()
    );
    let snapshots = lifeboat::aws::rds::describe_manual_snapshots(world.clients.rds())
        .await
        .unwrap();
    assert_eq!(snapshots.len(), 1, "only the second event snapshotted");
}
