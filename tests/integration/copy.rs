//! `lifeboat-copy`'s handler against moto: every snapshot reaches every DR
//! region, re-encrypted with that region's key, once.

use lambda_runtime::LambdaEvent;
use lifeboat::Error;
use lifeboat_tests::{sample_event, seed, World};
use serde_json::{json, Value};

const SOURCE: &str = "us-east-1";
const WEST: &str = "us-west-2";
const EU: &str = "eu-west-1";

struct Setup {
    world: World,
    keys: Vec<(String, String)>,
}

/// An encrypted instance (orders), an encrypted Aurora cluster (ledger) and an
/// unencrypted instance (inventory), all tagged and snapshotted once by
/// `lifeboat-snapshot`; KMS keys in both DR regions.
async fn snapshotted() -> Setup {
    let world = World::new(SOURCE).await;
    let source_key = world.account.kms_key(SOURCE);
    let rds = world.clients.rds();
    seed::encrypted_instance(
        rds,
        "orders",
        "postgres",
        &[seed::SELECT],
        Some(&source_key),
    )
    .await;
    seed::instance(rds, "inventory", "mysql", &[seed::SELECT]).await;
    seed::encrypted_cluster(
        rds,
        "ledger",
        "aurora-postgresql",
        &[("ledger-1", "db.r6g.large")],
        &[seed::SELECT],
        Some(&source_key),
    )
    .await;
    let ctx = world.context(&[]);
    let event = LambdaEvent::new(
        sample_event("snapshot-scheduled.json"),
        lambda_runtime::Context::default(),
    );
    lifeboat_snapshot::handle(&ctx, event).await.unwrap();
    let keys = vec![
        (WEST.to_string(), world.account.kms_key(WEST)),
        (EU.to_string(), world.account.kms_key(EU)),
    ];
    world.published();
    Setup { world, keys }
}

impl Setup {
    fn settings(&self, keys: &[(String, String)]) -> Vec<(String, String)> {
        let keys = keys
            .iter()
            .map(|(r, k)| format!("{r}={k}"))
            .collect::<Vec<_>>()
            .join(",");
        vec![
            ("LIFEBOAT_DR_REGIONS".to_string(), format!("{WEST},{EU}")),
            ("LIFEBOAT_DR_KMS_KEYS".to_string(), keys),
        ]
    }

    async fn invoke_with(&self, keys: &[(String, String)], payload: Value) -> Result<Value, Error> {
        let settings = self.settings(keys);
        let extra: Vec<(&str, &str)> = settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let ctx = self.world.context(&extra);
        let event = LambdaEvent::new(payload, lambda_runtime::Context::default());
        lifeboat_copy::handle(&ctx, event)
            .await
            .map(|summary| serde_json::to_value(summary).unwrap_or_default())
    }

    async fn invoke(&self, payload: Value) -> Result<Value, Error> {
        self.invoke_with(&self.keys, payload).await
    }

    /// A sample RDS event, with ARNs in this test's account.
    fn rds_event(&self, name: &str) -> Value {
        let text = sample_event(name)
            .to_string()
            .replace("123456789012", &self.world.account.id);
        serde_json::from_str(&text).unwrap()
    }

    fn key(&self, region: &str) -> &str {
        &self.keys.iter().find(|(r, _)| r == region).unwrap().1
    }

    /// (identifier, KMS key, tags) of every manual snapshot in `region`.
    async fn snapshots_in(
        &self,
        region: &str,
    ) -> Vec<(String, Option<String>, Vec<(String, String)>)> {
        let rds = self.world.clients.rds_in(region);
        let all = lifeboat::aws::rds::describe_manual_snapshots(&rds)
            .await
            .unwrap();
        let mut all: Vec<_> = all
            .into_iter()
            .map(|s| (s.id, s.kms_key_id, s.tags.into_iter().collect()))
            .collect();
        all.sort();
        all
    }

    async fn copy_records(&self) -> Vec<Value> {
        self.world
            .records()
            .await
            .into_iter()
            .filter(|(_, r)| r["kind"] == "copy")
            .map(|(_, r)| r)
            .collect()
    }
}

fn outcomes(summary: &Value) -> Vec<(String, String, String)> {
    let mut list: Vec<_> = summary["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["snapshot_id"].as_str().unwrap_or_default().to_string(),
                o["region"].as_str().unwrap_or_default().to_string(),
                o["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    list.sort();
    list
}

const ORDERS: &str = "lifeboat-orders-20261124-0400";
const LEDGER: &str = "lifeboat-ledger-20261124-0400";
const INVENTORY: &str = "lifeboat-inventory-20261124-0400";

#[tokio::test]
async fn rds_events_copy_encrypted_snapshots_to_every_dr_region_with_its_key() {
    let setup = snapshotted().await;
    let instance = setup
        .invoke(setup.rds_event("copy-db-snapshot-created.json"))
        .await
        .unwrap();
    let cluster = setup
        .invoke(setup.rds_event("copy-db-cluster-snapshot-created.json"))
        .await
        .unwrap();
    assert_eq!(
        outcomes(&instance),
        [
            (ORDERS.into(), EU.into(), "copied".into()),
            (ORDERS.into(), WEST.into(), "copied".into())
        ]
    );
    assert_eq!(
        outcomes(&cluster),
        [
            (LEDGER.into(), EU.into(), "copied".into()),
            (LEDGER.into(), WEST.into(), "copied".into())
        ]
    );

    for region in [WEST, EU] {
        let copies = setup.snapshots_in(region).await;
        let ids: Vec<&str> = copies.iter().map(|(id, _, _)| id.as_str()).collect();
        assert_eq!(ids, [LEDGER, ORDERS], "{region}");
        for (id, key, tags) in &copies {
            assert_eq!(
                key.as_deref(),
                Some(setup.key(region)),
                "{id} in {region} has the wrong key"
            );
            let tag = |k: &str| {
                tags.iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(tag("lifeboat:managed"), Some("true"), "{id}: {tags:?}");
            assert_eq!(tag("lifeboat:source-region"), Some(SOURCE));
            assert_eq!(tag("lifeboat:created-at"), Some("2026-11-24T04:00:00Z"));
        }
    }

    let records = setup.copy_records().await;
    assert_eq!(records.len(), 4);
    let record = records
        .iter()
        .find(|r| r["snapshot_id"] == ORDERS && r["region"] == WEST)
        .unwrap();
    assert_eq!(record["schema"], "lifeboat/v1");
    assert_eq!(record["database"], "orders");
    assert_eq!(record["source_region"], SOURCE);
    assert_eq!(record["kms_key_id"], setup.key(WEST));
    assert!(record["source_arn"]
        .as_str()
        .unwrap()
        .contains(":us-east-1:"));
    assert!(record["copy_arn"].as_str().unwrap().contains(":us-west-2:"));

    let events = setup.world.published();
    assert_eq!(
        events
            .iter()
            .filter(|e| e["detail-type"] == "Snapshot Copy Started")
            .count(),
        4,
        "{events:#?}"
    );
}

#[tokio::test]
async fn the_same_rds_event_twice_copies_once() {
    let setup = snapshotted().await;
    let event = setup.rds_event("copy-db-snapshot-created.json");
    setup.invoke(event.clone()).await.unwrap();
    setup.world.published();
    let again = setup.invoke(event).await.unwrap();
    assert_eq!(
        outcomes(&again),
        [
            (ORDERS.into(), EU.into(), "exists".into()),
            (ORDERS.into(), WEST.into(), "exists".into())
        ]
    );
    assert_eq!(setup.snapshots_in(WEST).await.len(), 1);
    assert_eq!(setup.copy_records().await.len(), 2);
    assert!(setup.world.published().is_empty());
}

#[tokio::test]
async fn the_reconcile_copies_what_events_missed_and_nothing_twice() {
    let setup = snapshotted().await;
    // Only orders' event arrived.
    setup
        .invoke(setup.rds_event("copy-db-snapshot-created.json"))
        .await
        .unwrap();
    let summary = setup
        .invoke(sample_event("copy-scheduled.json"))
        .await
        .unwrap();
    let list = outcomes(&summary);
    assert!(
        list.contains(&(ORDERS.into(), WEST.into(), "exists".into())),
        "{list:?}"
    );
    for region in [WEST, EU] {
        assert!(
            list.contains(&(LEDGER.into(), region.into(), "copied".into())),
            "{list:?}"
        );
        assert!(
            list.contains(&(INVENTORY.into(), region.into(), "copied".into())),
            "{list:?}"
        );
        assert_eq!(setup.snapshots_in(region).await.len(), 3);
    }
    // Unencrypted snapshots are copied without a key.
    let inventory = setup
        .snapshots_in(WEST)
        .await
        .into_iter()
        .find(|(id, _, _)| id == INVENTORY)
        .unwrap();
    assert_eq!(inventory.1, None);

    let again = setup.invoke(json!({})).await.unwrap();
    assert!(
        outcomes(&again).iter().all(|(_, _, o)| o == "exists"),
        "{again:#}"
    );
}

#[tokio::test]
async fn a_region_without_a_key_fails_alone() {
    let setup = snapshotted().await;
    let west_only = vec![(WEST.to_string(), setup.key(WEST).to_string())];
    let err = setup
        .invoke_with(&west_only, setup.rds_event("copy-db-snapshot-created.json"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "PartialFailure");
    let text = err.to_string();
    assert!(text.contains("1 of 2 failed"), "{text}");
    assert!(
        text.contains("eu-west-1") && text.contains("LIFEBOAT_DR_KMS_KEYS"),
        "{text}"
    );
    assert_eq!(setup.snapshots_in(WEST).await.len(), 1);
    assert!(setup.snapshots_in(EU).await.is_empty());
    let events = setup.world.published();
    assert!(events
        .iter()
        .any(|e| e["detail-type"] == "Snapshot Copy Failed" && e["detail"]["region"] == EU));
}

#[tokio::test]
async fn snapshots_lifeboat_does_not_manage_are_never_copied() {
    let setup = snapshotted().await;
    setup
        .world
        .clients
        .rds()
        .create_db_snapshot()
        .db_instance_identifier("inventory")
        .db_snapshot_identifier("hand-made")
        .send()
        .await
        .unwrap();
    let summary = setup
        .invoke(json!({"snapshots": ["hand-made"]}))
        .await
        .unwrap();
    assert_eq!(summary["outcomes"][0]["outcome"], "skipped");
    assert!(summary["outcomes"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("not a Lifeboat snapshot"));
    // A foreign snapshot wearing Lifeboat's tags (a hand-made copy of one,
    // say) is not Lifeboat's either: IAM lets Lifeboat act on lifeboat-*.
    seed::foreign_snapshot(
        setup.world.clients.rds(),
        "inventory",
        "copied-by-hand",
        SOURCE,
        "2026-11-25T04:00:00Z",
    )
    .await;
    let summary = setup
        .invoke(json!({"snapshots": ["copied-by-hand"]}))
        .await
        .unwrap();
    assert_eq!(summary["outcomes"][0]["outcome"], "skipped", "{summary:#}");
    setup.invoke(json!({})).await.unwrap();
    assert!(setup
        .snapshots_in(WEST)
        .await
        .iter()
        .all(|(id, _, _)| id != "hand-made" && id != "copied-by-hand"));
}

#[tokio::test]
async fn an_unknown_snapshot_fails_and_a_bad_request_changes_nothing() {
    let setup = snapshotted().await;
    let err = setup
        .invoke(json!({"snapshots": ["lifeboat-ghost-20261124-0400"]}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no DB snapshot or DB cluster snapshot lifeboat-ghost"),
        "{err}"
    );
    for payload in [
        json!({"snapshots": "x"}),
        json!({"snapshots": ["x"], "extra": 1}),
        json!({"detail-type": "Nope"}),
    ] {
        assert_eq!(
            setup.invoke(payload).await.unwrap_err().kind(),
            "InvalidEvent"
        );
    }
    assert!(setup.snapshots_in(WEST).await.is_empty());
    assert!(setup.copy_records().await.is_empty());
}

#[tokio::test]
async fn the_reconcile_refills_a_dr_catalog_emptied_by_hand() {
    let setup = snapshotted().await;
    setup.invoke(json!({})).await.unwrap();
    let world = &setup.world;
    world.published();
    let (west_before, eu_before) = (world.records_in(WEST).await, world.records_in(EU).await);
    // Three snapshots: a snapshot and a copy record of each in each region.
    assert_eq!((west_before.len(), eu_before.len()), (6, 6));

    let s3 = world.clients.s3_in(WEST);
    let bucket = world.catalog_bucket(WEST);
    for (key, _) in &west_before {
        s3.delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    }
    assert!(world.records_in(WEST).await.is_empty());

    let summary = setup
        .invoke(sample_event("copy-scheduled.json"))
        .await
        .unwrap();
    assert!(
        outcomes(&summary).iter().all(|(_, _, o)| o == "exists"),
        "{summary:#}"
    );
    let west_after = world.records_in(WEST).await;
    let keys = |records: &[(String, Value)]| -> Vec<String> {
        records.iter().map(|(k, _)| k.clone()).collect()
    };
    assert_eq!(keys(&west_after), keys(&west_before));
    // The snapshot records are the source's, unchanged.
    let source = world.records_in(SOURCE).await;
    for (key, record) in west_after.iter().filter(|(_, r)| r["kind"] == "snapshot") {
        let original = source.iter().find(|(k, _)| k == key).unwrap();
        assert_eq!(&original.1, record, "{key}");
    }
    // The other region's catalog was complete: nothing rewritten there.
    assert_eq!(world.records_in(EU).await, eu_before);
    assert!(world
        .published()
        .iter()
        .all(|e| e["detail-type"] != "Snapshot Copy Started"));
}
