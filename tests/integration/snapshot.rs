//! `lifeboat-snapshot`'s handler against moto: what it snapshots, records and
//! announces, and what it refuses.

use lambda_runtime::LambdaEvent;
use lifeboat::Error;
use lifeboat_tests::{sample_event, seed, World};
use serde_json::{json, Value};

const REGION: &str = "us-east-1";
const TAGGED: &[(&str, &str)] = &[seed::SELECT, ("team", "payments")];

/// orders (tagged instance), analytics (untagged instance), ledger (tagged
/// Aurora cluster with two members) and reports (untagged cluster).
async fn fleet_world() -> World {
    let world = World::new(REGION).await;
    let rds = world.clients.rds();
    seed::instance(rds, "orders", "postgres", TAGGED).await;
    seed::instance(rds, "analytics", "mysql", &[("team", "data")]).await;
    seed::cluster(
        rds,
        "ledger",
        "aurora-postgresql",
        &[("ledger-1", "db.r6g.large"), ("ledger-2", "db.r6g.xlarge")],
        TAGGED,
    )
    .await;
    seed::cluster(
        rds,
        "reports",
        "aurora-mysql",
        &[("reports-1", "db.r6g.large")],
        &[],
    )
    .await;
    world
}

async fn invoke(world: &World, payload: Value) -> Result<Value, Error> {
    let ctx = world.context(&[]);
    let event = LambdaEvent::new(payload, lambda_runtime::Context::default());
    lifeboat_snapshot::handle(&ctx, event)
        .await
        .map(|summary| serde_json::to_value(summary).unwrap_or_default())
}

fn outcome<'a>(summary: &'a Value, database: &str) -> &'a Value {
    summary["outcomes"]
        .as_array()
        .and_then(|list| list.iter().find(|o| o["database"] == database))
        .unwrap_or_else(|| panic!("no outcome for {database} in {summary:#}"))
}

/// Manual DB snapshots and DB cluster snapshots in the account, by id.
async fn snapshot_ids(world: &World) -> Vec<String> {
    let all = lifeboat::aws::rds::describe_manual_snapshots(world.clients.rds())
        .await
        .unwrap();
    let mut ids: Vec<String> = all.into_iter().map(|s| s.id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_schedule_snapshots_tagged_instances_and_clusters_never_members() {
    let world = fleet_world().await;
    let summary = invoke(&world, sample_event("snapshot-scheduled.json"))
        .await
        .unwrap();

    assert_eq!(outcome(&summary, "orders")["outcome"], "created");
    assert_eq!(
        outcome(&summary, "orders")["snapshot_id"],
        "lifeboat-orders-20261124-0400"
    );
    assert_eq!(outcome(&summary, "ledger")["outcome"], "created");
    assert_eq!(outcome(&summary, "ledger")["database_kind"], "cluster");
    for skipped in ["analytics", "reports", "ledger-1", "ledger-2", "reports-1"] {
        assert_eq!(
            outcome(&summary, skipped)["outcome"],
            "skipped",
            "{skipped}"
        );
    }
    assert_eq!(summary["counts"], json!({"created": 2, "skipped": 5}));
    assert_eq!(summary["trigger"]["type"], "schedule");

    assert_eq!(
        snapshot_ids(&world).await,
        [
            "lifeboat-ledger-20261124-0400",
            "lifeboat-orders-20261124-0400"
        ]
    );
}

#[tokio::test]
async fn snapshots_carry_lifeboat_tags() {
    let world = fleet_world().await;
    invoke(&world, sample_event("snapshot-scheduled.json"))
        .await
        .unwrap();
    let rds = world.clients.rds();
    let instance = rds
        .describe_db_snapshots()
        .db_snapshot_identifier("lifeboat-orders-20261124-0400")
        .send()
        .await
        .unwrap();
    let cluster = rds
        .describe_db_cluster_snapshots()
        .db_cluster_snapshot_identifier("lifeboat-ledger-20261124-0400")
        .send()
        .await
        .unwrap();
    for (db, tags) in [
        ("orders", instance.db_snapshots()[0].tag_list()),
        ("ledger", cluster.db_cluster_snapshots()[0].tag_list()),
    ] {
        let get = |key: &str| {
            tags.iter()
                .find(|t| t.key() == Some(key))
                .and_then(|t| t.value())
                .unwrap_or_else(|| panic!("{db}: no tag {key} in {tags:?}"))
                .to_string()
        };
        assert_eq!(get("lifeboat:managed"), "true");
        assert_eq!(get("lifeboat:source-db"), db);
        assert_eq!(get("lifeboat:source-region"), REGION);
        assert_eq!(get("lifeboat:trigger"), "schedule");
        assert_eq!(get("lifeboat:created-at"), "2026-11-24T04:00:00Z");
    }
}

#[tokio::test]
async fn each_snapshot_gets_a_catalog_record_and_an_event() {
    let world = fleet_world().await;
    invoke(&world, sample_event("snapshot-scheduled.json"))
        .await
        .unwrap();

    let all = world.records().await;
    // The run's record: one invocation, what it did.
    let runs = of_kind(&all, "run");
    assert_eq!(runs.len(), 1, "{all:#?}");
    assert_eq!(runs[0].1["invocations"], 1);
    assert_eq!(runs[0].1["counts"]["created"], 2);
    assert_eq!(runs[0].1["run_time"], "2026-11-24T04:00:00Z");
    let records = of_kind(&all, "snapshot");
    assert_eq!(records.len(), 2, "{records:#?}");
    let (key, orders) = records
        .iter()
        .find(|(_, r)| r["database"] == "orders")
        .expect("a record for orders");
    assert!(
        key.starts_with("snapshots/us-east-1/instance/orders/"),
        "{key}"
    );
    assert_eq!(orders["schema"], "lifeboat/v1");
    assert_eq!(orders["kind"], "snapshot");
    assert!(orders["recorded_at"].is_string());
    assert_eq!(orders["snapshot_id"], "lifeboat-orders-20261124-0400");
    assert!(orders["snapshot_arn"]
        .as_str()
        .unwrap()
        .contains(":snapshot:lifeboat-orders-20261124-0400"));
    assert_eq!(orders["source_region"], REGION);
    assert_eq!(orders["database_kind"], "instance");
    assert_eq!(orders["engine"], "postgres");
    assert_eq!(orders["recovery_point_time"], "2026-11-24T04:00:00Z");
    assert_eq!(orders["trigger"]["type"], "schedule");
    assert_eq!(
        orders["trigger"]["event_id"],
        sample_event("snapshot-scheduled.json")["id"]
    );
    let config = &orders["config"];
    assert_eq!(config["instance_class"], "db.t4g.medium");
    assert_eq!(config["allocated_storage_gib"], 20);
    assert_eq!(config["multi_az"], true);
    assert_eq!(config["iam_database_authentication"], true);
    assert_eq!(config["tags"]["team"], "payments");

    let (_, ledger) = records
        .iter()
        .find(|(_, r)| r["database"] == "ledger")
        .unwrap();
    assert_eq!(ledger["database_kind"], "cluster");
    assert_eq!(ledger["engine"], "aurora-postgresql");
    assert_eq!(ledger["config"]["deletion_protection"], true);
    let members = ledger["config"]["members"].as_array().unwrap();
    let class_of = |id: &str| {
        members
            .iter()
            .find(|m| m["instance_identifier"] == id)
            .map(|m| m["instance_class"].clone())
            .unwrap_or_else(|| panic!("no member {id} in {members:?}"))
    };
    assert_eq!(class_of("ledger-1"), "db.r6g.large");
    assert_eq!(class_of("ledger-2"), "db.r6g.xlarge");

    let events = world.published();
    let mut started: Vec<&str> = events
        .iter()
        .filter(|e| e["detail-type"] == "Snapshot Started")
        .map(|e| e["detail"]["database"].as_str().unwrap_or_default())
        .collect();
    started.sort();
    assert_eq!(started, ["ledger", "orders"], "{events:#?}");
    assert!(events.iter().all(|e| e["source"] == "lifeboat"));
}

#[tokio::test]
async fn the_same_event_twice_makes_one_snapshot_and_no_error() {
    let world = fleet_world().await;
    let event = sample_event("snapshot-scheduled.json");
    invoke(&world, event.clone()).await.unwrap();
    let first_records = world.records().await;
    assert_eq!(world.published().len(), 2);

    let again = invoke(&world, event).await.unwrap();
    assert_eq!(outcome(&again, "orders")["outcome"], "exists");
    assert_eq!(outcome(&again, "ledger")["outcome"], "exists");
    assert_eq!(snapshot_ids(&world).await.len(), 2);
    // Records are immutable: the second delivery rewrote nothing.
    assert_eq!(world.records().await, first_records);
    assert!(
        world.published().is_empty(),
        "a redelivery announces nothing new"
    );
}

#[tokio::test]
async fn an_alarm_snapshots_the_db_its_dimensions_name() {
    let world = fleet_world().await;
    let summary = invoke(&world, sample_event("snapshot-alarm.json"))
        .await
        .unwrap();
    assert_eq!(outcome(&summary, "orders")["outcome"], "created");
    assert_eq!(
        summary["outcomes"].as_array().unwrap().len(),
        1,
        "{summary:#}"
    );
    assert_eq!(summary["trigger"]["alarm_name"], "lifeboat-orders-cpu");

    // The alarm action's direct payload names the Aurora cluster.
    let summary = invoke(&world, sample_event("snapshot-alarm-action.json"))
        .await
        .unwrap();
    assert_eq!(outcome(&summary, "ledger")["outcome"], "created");
    assert_eq!(
        snapshot_ids(&world).await,
        [
            "lifeboat-ledger-20261124-0421",
            "lifeboat-orders-20261124-0417"
        ]
    );
    let records = world.records().await;
    let orders = &records
        .iter()
        .find(|(_, r)| r["database"] == "orders")
        .unwrap()
        .1;
    assert_eq!(orders["trigger"]["type"], "alarm");
    assert_eq!(orders["trigger"]["alarm_name"], "lifeboat-orders-cpu");
}

#[tokio::test]
async fn an_alarm_going_back_to_ok_does_nothing_and_says_so() {
    let world = fleet_world().await;
    let summary = invoke(&world, sample_event("snapshot-alarm-ok.json"))
        .await
        .unwrap();
    assert!(
        summary["message"]
            .as_str()
            .unwrap()
            .contains("OK, not ALARM"),
        "{summary:#}"
    );
    assert!(summary["outcomes"].as_array().unwrap().is_empty());
    assert!(snapshot_ids(&world).await.is_empty());
    assert!(world.records().await.is_empty());
}

#[tokio::test]
async fn an_alarm_on_a_member_instance_snapshots_its_cluster() {
    let world = fleet_world().await;
    let mut event = sample_event("snapshot-alarm.json");
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] =
        json!({"DBInstanceIdentifier": "reports-1"});
    let summary = invoke(&world, event).await.unwrap();
    assert_eq!(outcome(&summary, "reports")["outcome"], "created");
    assert_eq!(
        snapshot_ids(&world).await,
        ["lifeboat-reports-20261124-0417"]
    );
}

#[tokio::test]
async fn a_manual_request_snapshots_named_dbs_even_untagged() {
    let world = fleet_world().await;
    let summary = invoke(
        &world,
        json!({"databases": ["analytics", "ledger"], "reason": "pre-migration"}),
    )
    .await
    .unwrap();
    assert_eq!(outcome(&summary, "analytics")["outcome"], "created");
    assert_eq!(outcome(&summary, "ledger")["outcome"], "created");
    assert_eq!(summary["trigger"]["reason"], "pre-migration");
    let records = world.records().await;
    assert!(records
        .iter()
        .all(|(_, r)| r["trigger"]["type"] == "manual"));
    assert_eq!(of_kind(&records, "snapshot").len(), 2);
}

/// The records of one kind.
fn of_kind(records: &[(String, Value)], kind: &str) -> Vec<(String, Value)> {
    records
        .iter()
        .filter(|(_, r)| r["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn malformed_manual_requests_are_refused_and_change_nothing() {
    let world = fleet_world().await;
    for (payload, expected) in [
        (json!({"databases": "orders"}), "malformed manual request"),
        (
            json!({"databases": ["orders"], "resaon": "typo"}),
            "unknown field `resaon`",
        ),
        (json!({"databses": ["orders"]}), "unrecognised event"),
        (json!({"databases": []}), "\"databases\" is empty"),
        (
            json!({"databases": ["orders_db"]}),
            "invalid database identifier \"orders_db\"",
        ),
        (
            json!({"detail-type": "Something Else", "time": "2026-11-24T04:00:00Z"}),
            "unsupported detail-type",
        ),
        (json!(["orders"]), "expected a JSON object"),
    ] {
        let err = invoke(&world, payload.clone())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{payload}: {err}");
    }
    assert!(snapshot_ids(&world).await.is_empty());
    assert!(world.records().await.is_empty());
    assert!(world.published().is_empty());
}

#[tokio::test]
async fn an_unknown_db_fails_alone_and_the_invocation_errors_after_the_rest() {
    let world = fleet_world().await;
    let err = invoke(&world, json!({"databases": ["ghost", "orders"]}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "PartialFailure");
    let text = err.to_string();
    assert!(text.contains("1 of 2 failed"), "{text}");
    assert!(text.contains("unknown database \"ghost\""), "{text}");
    // orders was still snapshotted and recorded.
    assert_eq!(snapshot_ids(&world).await.len(), 1);
    assert_eq!(of_kind(&world.records().await, "snapshot").len(), 1);
}

/// `{}` and manual requests have no time of their own: a Lambda retry (the
/// same request id, minutes later) finds the snapshots its first attempt
/// took; another request takes new ones.
#[tokio::test]
async fn a_retry_of_a_request_without_a_time_finds_its_own_snapshots() {
    let world = fleet_world().await;
    let ctx = world.context(&[]);
    // Each form at its own time, so their snapshots never share a name.
    let forms = [
        (json!({}), "2026-11-26T10:00:00Z"),
        (
            json!({"databases": ["orders"], "reason": "before the migration"}),
            "2026-11-26T11:00:00Z",
        ),
    ];
    for (n, (payload, first_try)) in forms.into_iter().enumerate() {
        let first_try = chrono::DateTime::parse_from_rfc3339(first_try)
            .unwrap()
            .to_utc();
        let later = first_try + chrono::Duration::minutes(7);
        // Lambda's request ids are UUIDs.
        let request_id = format!("8f5e2a1c-0000-4000-8000-00000000000{n}");
        let at = |time| lifeboat_snapshot::event::parse(&payload, time).unwrap();
        let first = lifeboat_snapshot::run(&ctx, at(first_try), &request_id, None)
            .await
            .unwrap();
        let before = snapshot_ids(&world).await;
        let retry = lifeboat_snapshot::run(&ctx, at(later), &request_id, None)
            .await
            .unwrap();
        assert_eq!(
            snapshot_ids(&world).await,
            before,
            "{payload}: the retry took new snapshots"
        );
        // The retry finds its own work (its request id on the records) and
        // reports it as its own: created, and announced again in case the
        // first attempt's announcement was what failed.
        assert!(first.counts.contains_key("created"), "{payload}: {first:?}");
        assert_eq!(retry.counts, first.counts, "{payload}: {retry:?}");

        let other = lifeboat_snapshot::run(&ctx, at(later), &format!("another-{n}"), None)
            .await
            .unwrap();
        assert!(other.counts.contains_key("created"), "{payload}: {other:?}");
    }
    let tagged = lifeboat::aws::rds::describe_manual_snapshots(world.clients.rds())
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.tags.contains_key("lifeboat:request-id"))
        .count();
    assert!(tagged > 0);
}
