//! Two stacks whose DR regions overlap, in one account, sharing catalog
//! buckets: stack A protects an `orders` in us-east-1 and copies it to
//! us-west-2; stack B protects another `orders` in us-west-2 and copies it
//! to us-east-1; both on the same schedule, so their snapshots have the
//! same names. Their data never mixes: copies are named apart, prune
//! touches only its own stack's snapshots, and a restore refuses to choose
//! between two DBs' data.

use lambda_runtime::LambdaEvent;
use lifeboat::aws::clients::Clients;
use lifeboat::domain::outcome::Summary;
use lifeboat::Context;
use lifeboat_tests::{sample_event, seed, World};
use serde_json::{json, Value};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
const SNAPSHOT: &str = "lifeboat-orders-20261124-0400";

fn lambda(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

fn scheduled(time: &str) -> Value {
    let mut event = sample_event("snapshot-scheduled.json");
    event["time"] = json!(time);
    event
}

/// Stack A's (`EAST`, DR `WEST`) or stack B's (`WEST`, DR `EAST`) context.
fn stack(world: &World, region: &str, extra: &[(&str, &str)]) -> Context {
    let dr = if region == EAST { WEST } else { EAST };
    let mut settings = vec![
        ("LIFEBOAT_DR_REGIONS", dr),
        ("LIFEBOAT_RETENTION", "last=1"),
        ("LIFEBOAT_DR_RETENTION", "last=1"),
    ];
    settings.extend_from_slice(extra);
    world.context_in(region, clients_in(world, region), &settings)
}

/// Clients as a function deployed in `region` has them.
fn clients_in(world: &World, region: &str) -> Clients {
    Clients::from_sdk_config(world.account.sdk_config(region))
}

async fn snapshot(ctx: &Context, time: &str) -> Summary {
    lifeboat_snapshot::handle(ctx, lambda(scheduled(time)))
        .await
        .unwrap()
}

async fn copy(ctx: &Context) -> Summary {
    lifeboat_copy::handle(ctx, lambda(sample_event("copy-scheduled.json")))
        .await
        .unwrap()
}

/// Lifeboat's snapshots in `region`: (identifier, source region tag).
async fn snapshots_in(world: &World, region: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> =
        lifeboat::aws::rds::describe_manual_snapshots(&world.clients.rds_in(region))
            .await
            .unwrap()
            .into_iter()
            .filter(|s| s.is_managed())
            .map(|s| {
                let from = s.source_region().unwrap_or_default().to_string();
                (s.id, from)
            })
            .collect();
    found.sort();
    found
}

/// Both stacks' orders (A's postgres, B's mysql), snapshotted on the same
/// schedule and copied into each other's regions.
async fn two_stacks() -> World {
    let world = World::new(EAST).await;
    seed::instance(world.clients.rds(), "orders", "postgres", &[seed::SELECT]).await;
    seed::instance(
        &world.clients.rds_in(WEST),
        "orders",
        "mysql",
        &[seed::SELECT],
    )
    .await;
    for region in [EAST, WEST] {
        let s = snapshot(&stack(&world, region, &[]), "2026-11-24T04:00:00Z").await;
        assert_eq!(s.counts.get("created"), Some(&1), "{region}: {s:?}");
    }
    for region in [EAST, WEST] {
        let c = copy(&stack(&world, region, &[])).await;
        assert_eq!(c.counts.get("copied"), Some(&1), "{region}: {c:?}");
    }
    world
}

#[tokio::test]
async fn copies_are_named_apart_from_the_other_stacks_snapshot_of_the_same_name() {
    let world = two_stacks().await;
    assert_eq!(
        snapshots_in(&world, WEST).await,
        [
            (SNAPSHOT.to_string(), WEST.to_string()),
            (format!("{SNAPSHOT}-{EAST}"), EAST.to_string()),
        ]
    );
    assert_eq!(
        snapshots_in(&world, EAST).await,
        [
            (SNAPSHOT.to_string(), EAST.to_string()),
            (format!("{SNAPSHOT}-{WEST}"), WEST.to_string()),
        ]
    );
    // A reconcile recognises each copy by what it is a copy of.
    for region in [EAST, WEST] {
        let again = copy(&stack(&world, region, &[])).await;
        assert_eq!(again.counts.get("exists"), Some(&1), "{region}: {again:?}");
    }
    // A's copy record in the west names its own copy, not B's snapshot.
    let copies: Vec<Value> = world
        .records_in(WEST)
        .await
        .into_iter()
        .filter(|(_, r)| r["kind"] == "copy" && r["source_region"] == EAST)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(copies.len(), 1);
    assert!(copies[0]["copy_arn"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":{SNAPSHOT}-{EAST}")));
}

#[tokio::test]
async fn each_stack_prunes_only_its_own_snapshots() {
    let world = two_stacks().await;
    // A second day for A only: A's policy (last=1) now deletes A's first
    // day in both regions, and nothing of B's.
    let a = stack(&world, EAST, &[]);
    snapshot(&a, "2026-11-25T04:00:00Z").await;
    copy(&a).await;
    let mut event = sample_event("prune-scheduled.json");
    event["time"] = json!("2026-11-25T05:00:00Z");
    let pruned = lifeboat_prune::handle(&a, lambda(event)).await.unwrap();
    assert_eq!(pruned.counts.get("deleted"), Some(&2), "{pruned:?}");
    assert!(pruned.outcomes.iter().all(|e| e
        .snapshot_id
        .as_deref()
        .unwrap_or_default()
        .contains("orders")));
    let west = snapshots_in(&world, WEST).await;
    assert!(
        west.contains(&(SNAPSHOT.to_string(), WEST.to_string())),
        "B's snapshot is B's: {west:?}"
    );
    let east = snapshots_in(&world, EAST).await;
    assert!(
        east.contains(&(format!("{SNAPSHOT}-{WEST}"), WEST.to_string())),
        "B's copy is B's: {east:?}"
    );
    assert!(!east.contains(&(SNAPSHOT.to_string(), EAST.to_string())));
}

#[tokio::test]
async fn a_restore_never_chooses_between_two_dbs_data() {
    let world = two_stacks().await;
    let restore = |payload: Value| {
        let ctx = world.context_in(WEST, clients_in(&world, WEST), &[]);
        async move {
            lifeboat_restore::handle(&ctx, lambda(payload))
                .await
                .map(|r| serde_json::to_value(r).unwrap())
        }
    };
    let request =
        json!({"database": "orders", "target": "orders-dr", "region": WEST, "dry_run": true});
    let e = restore(request.clone()).await.unwrap_err().to_string();
    assert!(e.contains("2 DBs named orders"), "{e}");
    assert!(e.contains("source_region"), "{e}");
    assert!(
        lifeboat::aws::rds::find_snapshot(&world.clients.rds_in(WEST), "orders-dr", None)
            .await
            .unwrap()
            .is_none()
    );

    let mut east = request.clone();
    east["source_region"] = json!(EAST);
    let plan = restore(east).await.unwrap();
    assert_eq!(
        plan["snapshot"]["id"],
        format!("{SNAPSHOT}-{EAST}"),
        "{plan:#}"
    );
    // Its record is found by recovery point, though the copy is named apart.
    assert!(plan.get("record").is_none_or(Value::is_null), "{plan:#}");
    let port = |plan: &Value| plan["plan"]["RestoreDBInstanceFromDBSnapshot"]["Port"].clone();
    assert_eq!(port(&plan), 5432, "A's postgres: {plan:#}");

    let mut west = request;
    west["source_region"] = json!(WEST);
    let plan = restore(west).await.unwrap();
    assert_eq!(plan["snapshot"]["id"], SNAPSHOT, "{plan:#}");
    assert_eq!(port(&plan), 3306, "B's mysql: {plan:#}");
}
