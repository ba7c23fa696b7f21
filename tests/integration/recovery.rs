//! Recovery with the source region gone: snapshot -> copy into two DR
//! regions, then the source region taken down (a proxy in front of moto
//! refuses every request signed for it), and the restore function deployed
//! as a recovery stack in a DR region restores from that region alone.

use lambda_runtime::LambdaEvent;
use lifeboat::aws::clients::Clients;
use lifeboat::Error;
use lifeboat_tests::proxy::Proxy;
use lifeboat_tests::{moto, World};
use serde_json::{json, Value};

const SOURCE: &str = "us-east-1";
const WEST: &str = "us-west-2";
const EU: &str = "eu-west-1";
const ORDERS: &str = "lifeboat-orders-20261124-0400";
const LEDGER: &str = "lifeboat-ledger-20261124-0400";

fn lambda(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// orders and ledger, snapshotted and copied into both DR regions; a DB
/// subnet group `dr-subnets` in the west.
async fn copied() -> World {
    crate::restore::copied_to("us-west-2,eu-west-1").await
}

/// The records of `kind` in `region`'s catalog, by key.
async fn records(world: &World, region: &str, kind: &str) -> Vec<(String, Value)> {
    world
        .records_in(region)
        .await
        .into_iter()
        .filter(|(_, r)| r["kind"] == kind)
        .collect()
}

/// The source region goes down, and the restore function runs as the
/// recovery stack in `WEST` runs it (`AWS_REGION` the DR region, its own
/// catalog bucket, no DR regions), its every call through the proxy that
/// refuses the source region.
fn source_down_recovery_stack(world: &World) -> (Proxy, lifeboat::Context) {
    let proxy = Proxy::start(moto::endpoint(), Default::default(), Default::default()).unwrap();
    proxy.take_down(SOURCE);
    let mut account = world.account.clone();
    account.endpoint = proxy.url();
    let clients = Clients::from_sdk_config(account.sdk_config(WEST));
    let ctx = world.context_in(WEST, clients, &[]);
    (proxy, ctx)
}

async fn restore(ctx: &lifeboat::Context, payload: Value) -> Result<Value, Error> {
    lifeboat_restore::handle(ctx, lambda(payload))
        .await
        .map(|report| serde_json::to_value(report).unwrap())
}

#[tokio::test]
async fn every_dr_catalog_holds_the_snapshot_and_copy_records() {
    let world = copied().await;
    let source_snapshots = records(&world, SOURCE, "snapshot").await;
    assert_eq!(source_snapshots.len(), 2);
    for region in [WEST, EU] {
        // The source's snapshot records, unchanged, under the same keys.
        assert_eq!(
            records(&world, region, "snapshot").await,
            source_snapshots,
            "{region}"
        );
        let copies = records(&world, region, "copy").await;
        let ids: Vec<&str> = copies
            .iter()
            .map(|(_, r)| r["snapshot_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [LEDGER, ORDERS], "{region}");
        assert!(copies
            .iter()
            .all(|(k, r)| k.starts_with(&format!("copies/{region}/"))
                && r["region"] == region
                && r["source_region"] == SOURCE));
    }
    // The source catalog has every copy record too.
    assert_eq!(records(&world, SOURCE, "copy").await.len(), 4);
}

#[tokio::test]
async fn with_the_source_region_down_the_recovery_stack_restores_from_latest() {
    let world = copied().await;
    let (proxy, ctx) = source_down_recovery_stack(&world);

    // No region given: a recovery stack restores where it runs.
    let plan = restore(
        &ctx,
        json!({"database": "orders", "target": "orders-dr", "dry_run": true}),
    )
    .await
    .unwrap();
    assert_eq!(plan["region"], WEST);
    assert_eq!(plan["snapshot"]["id"], ORDERS);
    assert!(plan.get("record").is_none(), "{plan:#}");
    let call = &plan["plan"]["RestoreDBInstanceFromDBSnapshot"];
    assert_eq!(call["DBInstanceClass"], "db.t4g.medium", "{plan:#}");

    let orders = restore(
        &ctx,
        json!({"database": "orders", "target": "orders-dr",
               "overrides": {"security_group_ids": ["sg-0dr"]}}),
    )
    .await
    .unwrap();
    assert_eq!(orders["status"], "started", "{orders:#}");
    let ledger = restore(&ctx, json!({"database": "ledger", "target": "ledger-dr"}))
        .await
        .unwrap();
    assert_eq!(ledger["status"], "started", "{ledger:#}");
    assert!(
        ledger["notes"][0]
            .as_str()
            .unwrap()
            .contains("default DB subnet group"),
        "{ledger:#}"
    );

    for target in ["orders-dr", "ledger-dr"] {
        let status = restore(&ctx, json!({"action": "status", "target": target}))
            .await
            .unwrap();
        assert_eq!(status["available"], true, "{status:#}");
        assert!(status["recovery_time_seconds"].as_i64().unwrap() >= 0);
        assert!(status.get("errors").is_none(), "{status:#}");
    }
    let ledger_members = world
        .clients
        .rds_in(WEST)
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .iter()
        .filter(|i| i.db_cluster_identifier() == Some("ledger-dr"))
        .count();
    assert_eq!(ledger_members, 2);

    // The restore records are in the DR region's own catalog, each with
    // the identity its DBs carry.
    let started = records(&world, WEST, "restore").await;
    assert_eq!(started.len(), 2);
    let out = world
        .clients
        .rds_in(WEST)
        .describe_db_instances()
        .db_instance_identifier("orders-dr")
        .send()
        .await
        .unwrap();
    let tagged = out.db_instances()[0]
        .tag_list()
        .iter()
        .find(|t| t.key() == Some("lifeboat:restore-id"))
        .and_then(|t| t.value())
        .map(str::to_string);
    let (_, orders_record) = started
        .iter()
        .find(|(k, _)| k.contains("/orders-dr/"))
        .expect("the restore record of orders-dr");
    assert_eq!(tagged.as_deref(), orders_record["restore_id"].as_str());
    assert_eq!(orders["restore_id"], orders_record["restore_id"]);
    assert_eq!(records(&world, WEST, "restore_available").await.len(), 2);

    let tally = proxy.take();
    assert_eq!(
        tally.in_region(SOURCE),
        0,
        "no request for the source region at all: {:?}",
        tally.refused
    );
    assert_eq!(tally.succeeded_in(SOURCE), 0);
    assert!(
        tally.in_region(WEST) > 0,
        "the proxy saw the restore's calls"
    );
    assert_eq!(tally.in_region(EU), 0);
}

#[tokio::test]
async fn a_snapshot_without_a_record_is_restored_from_what_it_carries() {
    let world = copied().await;
    // The record of orders' snapshot is lost in the west's catalog.
    let s3 = world.clients.s3_in(WEST);
    let bucket = world.catalog_bucket(WEST);
    for (key, _) in records(&world, WEST, "snapshot").await {
        if key.contains("/orders/") {
            s3.delete_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .unwrap();
        }
    }
    let (proxy, ctx) = source_down_recovery_stack(&world);

    let plan = restore(
        &ctx,
        json!({"database": "orders", "target": "orders-dr", "dry_run": true}),
    )
    .await
    .unwrap();
    assert_eq!(plan["snapshot"]["id"], ORDERS, "the newest is still chosen");
    assert!(
        plan["record"]
            .as_str()
            .unwrap()
            .contains("has no record of snapshot"),
        "{plan:#}"
    );
    let fields: Vec<&str> = plan["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["override_field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["instance_class", "subnet_group", "security_group_ids"]
    );
    let call = &plan["plan"]["RestoreDBInstanceFromDBSnapshot"];
    // The snapshot's own tags are Lifeboat's, which are not the DB's.
    assert!(call["Tags"].get("lifeboat:managed").is_none(), "{plan:#}");
    assert_eq!(call["Tags"]["lifeboat:restored-from"], ORDERS, "{plan:#}");

    let network = json!({"subnet_group": "dr-subnets", "security_group_ids": ["sg-0dr"]});
    let err = restore(
        &ctx,
        json!({"database": "orders", "target": "orders-dr", "overrides": network}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "RestoreRefused");
    assert!(
        err.to_string().contains("overrides.instance_class"),
        "{err}"
    );

    let mut overrides = network.clone();
    overrides["instance_class"] = json!("db.t4g.large");
    let started = restore(
        &ctx,
        json!({"database": "orders", "target": "orders-dr", "overrides": overrides}),
    )
    .await
    .unwrap();
    assert_eq!(started["status"], "started", "{started:#}");
    let out = world
        .clients
        .rds_in(WEST)
        .describe_db_instances()
        .db_instance_identifier("orders-dr")
        .send()
        .await
        .unwrap();
    let db = &out.db_instances()[0];
    assert_eq!(db.db_instance_class(), Some("db.t4g.large"));
    assert_eq!(
        db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some("dr-subnets")
    );
    assert_eq!(proxy.take().in_region(SOURCE), 0);
}
