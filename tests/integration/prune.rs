//! `lifeboat-prune` against moto: a year of daily snapshots, made by
//! `lifeboat-snapshot` and copied by `lifeboat-copy`, pruned to exactly what
//! the policy keeps, in the source and in a DR region.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use futures_util::{stream, StreamExt};
use lambda_runtime::LambdaEvent;
use lifeboat::domain::model::DatabaseKind;
use lifeboat_tests::{seed, World};
use serde_json::{json, Value};

const SOURCE: &str = "us-east-1";
const DR: &str = "us-west-2";
const POLICY: &str = "last=3,daily=7,weekly=4,monthly=12,yearly=2";
const DR_POLICY: &str = "last=2,monthly=3";
/// Prune's "now": a Thursday.
const NOW: &str = "2026-11-19T12:00:00Z";

fn scheduled(time: &str) -> Value {
    json!({
        "version": "0", "id": format!("schedule-{time}"), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": time, "region": SOURCE,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/lifeboat"], "detail": {}
    })
}

fn lambda(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// Daily snapshots of orders at 04:00 from 2025-11-20 to 2026-11-19, copied
/// to the DR region, and one hand-made snapshot Lifeboat does not manage.
async fn a_year_of_snapshots() -> World {
    let world = World::new(SOURCE).await;
    seed::instance(world.clients.rds(), "orders", "postgres", &[seed::SELECT]).await;
    let ctx = world.context(&[]);
    let first = Utc.with_ymd_and_hms(2025, 11, 20, 4, 0, 0).unwrap();
    let days: Vec<String> = (0..365)
        .map(|d| (first + Duration::days(d)).to_rfc3339())
        .collect();
    let results: Vec<_> = stream::iter(&days)
        .map(|time| lifeboat_snapshot::handle(&ctx, lambda(scheduled(time))))
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok));
    // 20 copies may be in progress at once, so the reconcile takes several
    // runs to copy a year; each run starts what the limit allows.
    let copy = world.context(&[("LIFEBOAT_DR_REGIONS", DR)]);
    for _ in 0..30 {
        let summary = lifeboat_copy::handle(&copy, lambda(json!({})))
            .await
            .unwrap();
        if !summary.counts.contains_key("deferred") {
            break;
        }
    }
    world
        .clients
        .rds()
        .create_db_snapshot()
        .db_instance_identifier("orders")
        .db_snapshot_identifier("hand-made")
        .send()
        .await
        .unwrap();
    // And one wearing Lifeboat's tags but not its name: a hand-made copy of
    // a Lifeboat snapshot, which the policy would delete were it Lifeboat's.
    seed::foreign_snapshot(
        world.clients.rds(),
        "orders",
        "copied-by-hand",
        SOURCE,
        "2026-10-15T04:00:00Z",
    )
    .await;
    world.published();
    world
}

fn prune_context(world: &World, dry_run: bool) -> lifeboat::Context {
    world.context(&[
        ("LIFEBOAT_DR_REGIONS", DR),
        ("LIFEBOAT_RETENTION", POLICY),
        ("LIFEBOAT_DR_RETENTION", DR_POLICY),
        ("LIFEBOAT_DRY_RUN", if dry_run { "true" } else { "false" }),
    ])
}

async fn snapshot_ids(world: &World, region: &str) -> Vec<String> {
    let all = lifeboat::aws::rds::describe_manual_snapshots(&world.clients.rds_in(region))
        .await
        .unwrap();
    let mut ids: Vec<String> = all
        .into_iter()
        .filter(|s| s.kind == DatabaseKind::Instance)
        .map(|s| s.id)
        .collect();
    ids.sort();
    ids
}

fn ids(days: &[(i32, u32, u32)]) -> Vec<String> {
    let mut ids: Vec<String> = days
        .iter()
        .map(|(y, m, d)| {
            let day = NaiveDate::from_ymd_opt(*y, *m, *d).unwrap();
            format!("lifeboat-orders-{}-0400", day.format("%Y%m%d"))
        })
        .collect();
    ids.sort();
    ids
}

/// What `last=3,daily=7,weekly=4,monthly=12,yearly=2` keeps on 2026-11-19,
/// worked out by hand: the 7 days Nov 13-19 (which hold the last 3); the
/// ISO weeks of Nov 8 and Nov 1 (the other two weeks' newest are daily
/// keeps); the last day of each month Dec 2025 - Oct 2026; the yearly keeps
/// (Nov 19, Dec 31 2025) are already in.
fn expected_in_source() -> Vec<String> {
    let mut days = vec![
        (2026, 11, 13),
        (2026, 11, 14),
        (2026, 11, 15),
        (2026, 11, 16),
        (2026, 11, 17),
        (2026, 11, 18),
        (2026, 11, 19),
    ];
    days.extend([(2026, 11, 8), (2026, 11, 1)]);
    days.extend([
        (2025, 12, 31),
        (2026, 1, 31),
        (2026, 2, 28),
        (2026, 3, 31),
        (2026, 4, 30),
        (2026, 5, 31),
        (2026, 6, 30),
        (2026, 7, 31),
        (2026, 8, 31),
        (2026, 9, 30),
        (2026, 10, 31),
    ]);
    let mut ids = ids(&days);
    ids.push("hand-made".to_string());
    ids.push("copied-by-hand".to_string());
    ids.sort();
    ids
}

/// `last=2,monthly=3`: Nov 19 and 18, and the newest of October and September.
fn expected_in_dr() -> Vec<String> {
    ids(&[
        (2026, 11, 19),
        (2026, 11, 18),
        (2026, 10, 31),
        (2026, 9, 30),
    ])
}

#[tokio::test]
async fn a_year_of_snapshots_is_pruned_to_exactly_what_the_policy_keeps() {
    let world = a_year_of_snapshots().await;
    assert_eq!(snapshot_ids(&world, SOURCE).await.len(), 367);
    assert_eq!(snapshot_ids(&world, DR).await.len(), 365);

    // Dry run, from the setting: the full report, nothing deleted.
    let report = lifeboat_prune::handle(&prune_context(&world, true), lambda(scheduled(NOW)))
        .await
        .unwrap();
    assert_eq!(report.counts.get("would_delete"), Some(&(345 + 361)));
    assert_eq!(report.counts.get("kept"), Some(&(20 + 4)));
    assert_eq!(report.counts.get("deleted"), None);
    assert_eq!(snapshot_ids(&world, SOURCE).await.len(), 367);
    assert_eq!(snapshot_ids(&world, DR).await.len(), 365);
    // ... and from the event.
    let report = lifeboat_prune::handle(
        &prune_context(&world, false),
        lambda(json!({"dry_run": true})),
    )
    .await
    .unwrap();
    assert!(report.counts.contains_key("would_delete"));
    assert_eq!(snapshot_ids(&world, DR).await.len(), 365);
    assert!(world
        .records()
        .await
        .iter()
        .all(|(_, r)| r["kind"] != "deletion"));

    let summary = lifeboat_prune::handle(&prune_context(&world, false), lambda(scheduled(NOW)))
        .await
        .unwrap();
    assert_eq!(
        summary.counts.get("deleted"),
        Some(&(345 + 361)),
        "{:?}",
        summary.counts
    );
    assert_eq!(snapshot_ids(&world, SOURCE).await, expected_in_source());
    assert_eq!(snapshot_ids(&world, DR).await, expected_in_dr());

    // Every kept snapshot is listed with the rule that kept it.
    let json = serde_json::to_value(&summary).unwrap();
    let kept_reason = |id: &str, region: &str| {
        json["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["snapshot_id"] == id && o["region"] == region)
            .map(|o| o["reason"].as_str().unwrap_or_default().to_string())
            .unwrap()
    };
    assert_eq!(
        kept_reason("lifeboat-orders-20261031-0400", SOURCE),
        "monthly 2026-10"
    );
    assert_eq!(
        kept_reason("lifeboat-orders-20261108-0400", SOURCE),
        "weekly 2026-W45"
    );
    assert!(kept_reason("lifeboat-orders-20261119-0400", DR).contains("newest available snapshot"));

    // Each deletion is recorded in the catalog of the region it was made in.
    let deletions_in = |region: &'static str| {
        let world = &world;
        async move {
            world
                .records_in(region)
                .await
                .into_iter()
                .filter(|(_, r)| r["kind"] == "deletion")
                .map(|(_, r)| r)
                .collect::<Vec<Value>>()
        }
    };
    let (in_source, in_dr) = (deletions_in(SOURCE).await, deletions_in(DR).await);
    assert_eq!((in_source.len(), in_dr.len()), (345, 361));
    assert!(in_source.iter().all(|r| r["region"] == SOURCE));
    let one = in_dr.iter().find(|r| r["region"] == DR).unwrap();
    assert_eq!(one["database"], "orders");
    let dr_policy = DR_POLICY
        .parse::<lifeboat::domain::retention::Policy>()
        .unwrap()
        .to_string();
    assert!(
        one["reason"].as_str().unwrap().contains(&dr_policy),
        "{one}"
    );
    let deleted_events = world
        .published()
        .into_iter()
        .filter(|e| e["detail-type"] == "Snapshot Deleted")
        .count();
    assert_eq!(deleted_events, 345 + 361);
    // A second run, or the same event again, deletes nothing more.
    let again = lifeboat_prune::handle(&prune_context(&world, false), lambda(scheduled(NOW)))
        .await
        .unwrap();
    assert_eq!(again.counts.get("deleted"), None, "{:?}", again.counts);
    assert_eq!(snapshot_ids(&world, SOURCE).await, expected_in_source());

    // The copy reconcile knows the DR policy: it does not copy back what
    // prune just deleted there.
    let copy = lifeboat_copy::handle(&prune_context(&world, false), lambda(scheduled(NOW)))
        .await
        .unwrap();
    assert_eq!(copy.counts.get("copied"), None, "{:?}", copy.counts);
    // The source keeps 20 of Lifeboat's snapshots: 4 have copies there, and
    // the DR policy wants none of the other 16.
    assert_eq!(copy.counts.get("exists"), Some(&4), "{:?}", copy.counts);
    assert_eq!(copy.counts.get("skipped"), Some(&16), "{:?}", copy.counts);
    let skipped = copy
        .outcomes
        .iter()
        .find(|o| {
            matches!(
                o.outcome,
                lifeboat::domain::outcome::Outcome::Skipped { .. }
            )
        })
        .unwrap();
    assert!(
        serde_json::to_string(skipped)
            .unwrap()
            .contains("DR retention policy"),
        "{skipped:?}"
    );
    assert_eq!(snapshot_ids(&world, DR).await, expected_in_dr());
}

#[tokio::test]
async fn prune_refuses_bad_events_and_needs_a_policy() {
    let world = World::new(SOURCE).await;
    let ctx = world.context(&[("LIFEBOAT_RETENTION", POLICY)]);
    let err = lifeboat_prune::handle(&ctx, lambda(json!({"dry_run": "yes"})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "InvalidEvent");
    let no_policy = world.context(&[]);
    assert!(lifeboat_prune::check(&no_policy)
        .unwrap_err()
        .to_string()
        .contains("LIFEBOAT_RETENTION"));
}
