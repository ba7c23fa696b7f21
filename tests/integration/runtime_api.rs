//! The built binary, run as Lambda runs it: through a Runtime API, with every
//! sample event in `events/` that belongs to it.

use lifeboat_tests::runtime::run_function;
use lifeboat_tests::{binaries, sample_events_for, seed, World};

#[tokio::test]
async fn every_sample_event_runs_through_the_runtime_api() {
    let world = World::new("us-east-1").await;
    let rds = &world.clients.rds;
    seed::instance(rds, "orders", "postgres", &[seed::SELECT]).await;
    seed::cluster(
        rds,
        "ledger",
        "aurora-postgresql",
        &[("ledger-1", "db.r6g.large")],
        &[seed::SELECT],
    )
    .await;

    let samples = sample_events_for("snapshot");
    assert!(
        samples.len() >= 6,
        "expected the snapshot samples in events/, found {}",
        samples.len()
    );
    let events: Vec<_> = samples.iter().map(|(_, e)| e.clone()).collect();
    let binary = binaries::function("snapshot", false);
    let run =
        tokio::task::spawn_blocking(move || run_function(&binary, &world.settings(&[]), &events))
            .await
            .unwrap();

    assert!(
        run.init_error.is_none(),
        "init failed: {:?}\n{}",
        run.init_error,
        run.logs
    );
    assert!(run.init_time.is_some());
    assert_eq!(run.invocations.len(), samples.len());
    for ((name, _), invocation) in samples.iter().zip(&run.invocations) {
        assert!(
            invocation.result.is_ok(),
            "{name}: {}\n{}",
            invocation.error_message(),
            run.logs
        );
        assert_eq!(
            invocation.result.as_ref().unwrap()["function"],
            "snapshot",
            "{name}"
        );
    }
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
}

#[tokio::test]
async fn every_copy_sample_event_runs_through_the_runtime_api() {
    let world = World::new("us-east-1").await;
    let key = world.account.kms_key("us-east-1");
    let rds = &world.clients.rds;
    seed::encrypted_instance(rds, "orders", "postgres", &[seed::SELECT], Some(&key)).await;
    seed::cluster(
        rds,
        "ledger",
        "aurora-postgresql",
        &[("ledger-1", "db.r6g.large")],
        &[seed::SELECT],
    )
    .await;
    let ctx = world.context(&[]);
    let scheduled = lambda_runtime::LambdaEvent::new(
        lifeboat_tests::sample_event("snapshot-scheduled.json"),
        lambda_runtime::Context::default(),
    );
    lifeboat_snapshot::handle(&ctx, scheduled).await.unwrap();

    let samples = sample_events_for("copy");
    assert!(
        samples.len() >= 4,
        "expected the copy samples in events/, found {}",
        samples.len()
    );
    // The RDS events name snapshots by ARN, in this test's account.
    let events: Vec<serde_json::Value> = samples
        .iter()
        .map(|(_, e)| {
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
    let binary = binaries::function("copy", false);
    let run = tokio::task::spawn_blocking(move || run_function(&binary, &env, &events))
        .await
        .unwrap();
    assert!(
        run.init_error.is_none(),
        "init failed: {:?}\n{}",
        run.init_error,
        run.logs
    );
    for ((name, _), invocation) in samples.iter().zip(&run.invocations) {
        assert!(
            invocation.result.is_ok(),
            "{name}: {}\n{}",
            invocation.error_message(),
            run.logs
        );
        assert_eq!(
            invocation.result.as_ref().unwrap()["function"],
            "copy",
            "{name}"
        );
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
async fn the_copy_function_will_not_start_without_dr_regions() {
    let world = World::new("us-east-1").await;
    let binary = binaries::function("copy", false);
    let env = world.settings(&[]);
    let run =
        tokio::task::spawn_blocking(move || run_function(&binary, &env, &[serde_json::json!({})]))
            .await
            .unwrap();
    assert!(run.init_error.is_some());
    assert!(run.logs.contains("LIFEBOAT_DR_REGIONS"), "{}", run.logs);
}

#[tokio::test]
async fn a_missing_setting_stops_start_up_naming_it() {
    let world = World::new("us-east-1").await;
    let env: Vec<_> = world
        .settings(&[])
        .into_iter()
        .filter(|(k, _)| k != "LIFEBOAT_CATALOG_BUCKET")
        .collect();
    let binary = binaries::function("snapshot", false);
    let run =
        tokio::task::spawn_blocking(move || run_function(&binary, &env, &[serde_json::json!({})]))
            .await
            .unwrap();
    assert!(run.init_error.is_some(), "start-up should fail");
    assert!(run.invocations.is_empty());
    assert!(run.logs.contains("LIFEBOAT_CATALOG_BUCKET"), "{}", run.logs);
}

#[tokio::test]
async fn a_malformed_setting_stops_start_up_naming_it() {
    let world = World::new("us-east-1").await;
    let binary = binaries::function("snapshot", false);
    let env = world.settings(&[("LIFEBOAT_SELECT_TAG", "no-equals-sign")]);
    let run =
        tokio::task::spawn_blocking(move || run_function(&binary, &env, &[serde_json::json!({})]))
            .await
            .unwrap();
    assert!(run.init_error.is_some());
    assert!(run.logs.contains("LIFEBOAT_SELECT_TAG"), "{}", run.logs);
}
