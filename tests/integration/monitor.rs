//! `lifeboat-monitor` against moto: a fleet with a fresh DB, one whose
//! newest DR copy is three days old, and a tagged DB with no snapshot at
//! all; as the primary stack (every region, the built binary, its EMF
//! documents counted) and as a recovery stack (its own region, drills
//! watched).

use chrono::{Duration, SecondsFormat, Utc};
use lambda_runtime::LambdaEvent;
use lifeboat::aws::clients::Clients;
use lifeboat_tests::runtime::run_debug;
use lifeboat_tests::{sample_event, seed, World, UNPACED};
use serde_json::{json, Value};

const SOURCE: &str = "us-east-1";
const DR: &str = "us-west-2";

fn lambda(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// `fresh` and `stale` snapshotted three days ago and copied; both
/// snapshotted again now, only `fresh` copied again; `missing` tagged
/// since, never snapshotted; `untagged` never protected.
async fn fleet() -> World {
    let world = World::new(SOURCE).await;
    let rds = world.clients.rds();
    for db in ["fresh", "stale"] {
        seed::instance(rds, db, "postgres", &[seed::SELECT]).await;
    }
    seed::instance(rds, "untagged", "postgres", &[]).await;
    let ctx = world.context(&[("LIFEBOAT_DR_REGIONS", DR)]);
    let mut old = sample_event("snapshot-scheduled.json");
    old["time"] =
        json!((Utc::now() - Duration::days(3)).to_rfc3339_opts(SecondsFormat::Secs, true));
    lifeboat_snapshot::handle(&ctx, lambda(old)).await.unwrap();
    lifeboat_copy::handle(&ctx, lambda(json!({})))
        .await
        .unwrap();
    let now = lifeboat_snapshot::handle(&ctx, lambda(json!({})))
        .await
        .unwrap();
    let fresh = now
        .outcomes
        .iter()
        .find(|e| e.database == "fresh")
        .and_then(|e| e.snapshot_id.clone())
        .unwrap();
    lifeboat_copy::handle(&ctx, lambda(json!({"snapshots": [fresh]})))
        .await
        .unwrap();
    seed::instance(rds, "missing", "postgres", &[seed::SELECT]).await;
    world.published();
    world
}

/// `(database, region) -> outcome` of a monitor summary.
fn outcomes(summary: &Value) -> Vec<(String, String, String)> {
    summary["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["database"].as_str().unwrap().to_string(),
                o["region"].as_str().unwrap().to_string(),
                o["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row(db: &str, region: &str, outcome: &str) -> (String, String, String) {
    (db.into(), region.into(), outcome.into())
}

#[tokio::test]
async fn the_primary_monitor_finds_one_stale_copy_and_one_db_with_no_recovery_point_and_says_so_in_metrics(
) {
    let world = fleet().await;
    let env = world.settings(&[("LIFEBOAT_DR_REGIONS", DR)]);
    let mut event = sample_event("monitor-scheduled.json");
    event["time"] = json!(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));
    let run = run_debug("monitor", env, vec![event]).await;
    let summary = run.responses(&["monitor-scheduled.json".into()])[0].clone();
    assert_eq!(
        outcomes(&summary),
        [
            row("fresh", SOURCE, "ok"),
            row("fresh", DR, "ok"),
            row("missing", SOURCE, "breached"),
            row("missing", DR, "breached"),
            row("stale", SOURCE, "ok"),
            row("stale", DR, "breached"),
        ],
        "{summary:#}"
    );
    let stale = &summary["outcomes"][5];
    let age = stale["age_seconds"].as_i64().unwrap();
    assert!(age >= 3 * 86_400 - 120, "{stale}");
    assert_eq!(stale["objective_seconds"], 26 * 3600);
    assert!(stale["reason"].as_str().unwrap().contains("3d"), "{stale}");
    let missing = &summary["outcomes"][2];
    assert!(missing.get("age_seconds").is_none(), "{missing}");
    assert!(
        missing["reason"]
            .as_str()
            .unwrap()
            .contains("no recovery point"),
        "{missing}"
    );
    assert!(
        summary["message"].as_str().unwrap().contains("untagged"),
        "{summary:#}"
    );

    // One EMF document per DB and region, and one for the run.
    let documents: Vec<Value> = run
        .logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|d| d.get("_aws").is_some())
        .collect();
    let per_db: Vec<&Value> = documents
        .iter()
        .filter(|d| d.get("Database").is_some())
        .collect();
    assert_eq!(per_db.len(), 6, "{documents:#?}");
    for d in &per_db {
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Lifeboat");
        let breached = d["RecoveryPointObjectiveBreached"].as_f64().unwrap();
        let is_breach = summary["outcomes"].as_array().unwrap().iter().any(|o| {
            o["database"] == d["Database"]
                && o["region"] == d["Region"]
                && o["outcome"] == "breached"
        });
        assert_eq!(breached, if is_breach { 1.0 } else { 0.0 }, "{d}");
        assert_eq!(
            d.get("RecoveryPointAgeSeconds").is_some(),
            d["Database"] != "missing",
            "{d}"
        );
    }
    let total = documents
        .iter()
        .find(|d| d.get("RecoveryPointsBreached").is_some())
        .unwrap();
    assert_eq!(total["RecoveryPointsBreached"], 3.0);
    let unprotected = documents
        .iter()
        .find(|d| d.get("UnprotectedDatabases").is_some())
        .unwrap();
    assert_eq!(unprotected["UnprotectedDatabases"], 1.0);

    let breaches: Vec<Value> = world
        .published()
        .into_iter()
        .filter(|e| e["detail-type"] == "Recovery Point Objective Breached")
        .collect();
    assert_eq!(breaches.len(), 3, "{breaches:#?}");
}

#[tokio::test]
async fn a_recovery_stack_monitor_answers_from_its_own_region_and_watches_drills() {
    let world = fleet().await;
    let clients = Clients::with_policy(world.account.sdk_config(DR), UNPACED);
    let ctx = world.context_in(
        DR,
        clients,
        &[
            ("LIFEBOAT_STACK_ROLE", "recovery"),
            ("LIFEBOAT_DRILL_MAX_AGE_SECONDS", "1209600"),
        ],
    );
    let summary = lifeboat_monitor::handle(&ctx, lambda(json!({})))
        .await
        .unwrap();
    let summary = serde_json::to_value(summary).unwrap();
    // `missing` was never copied here: the primary stack's monitor names it.
    assert_eq!(
        outcomes(&summary),
        [row("fresh", DR, "breached"), row("stale", DR, "breached")],
        "{summary:#}"
    );
    let fresh = &summary["outcomes"][0];
    let reason = fresh["reason"].as_str().unwrap();
    assert!(reason.contains("no drill recorded"), "{reason}");
    assert!(!reason.contains("old;"), "{reason}");
    let stale = summary["outcomes"][1]["reason"].as_str().unwrap();
    assert!(
        stale.contains("3d") && stale.contains("no drill"),
        "{stale}"
    );

    // Without drills watched, the fresh copy meets the objective.
    let clients = Clients::with_policy(world.account.sdk_config(DR), UNPACED);
    let ctx = world.context_in(DR, clients, &[("LIFEBOAT_STACK_ROLE", "recovery")]);
    let summary = lifeboat_monitor::handle(&ctx, lambda(json!({})))
        .await
        .unwrap();
    assert_eq!(summary.counts.get("ok"), Some(&1), "{summary:?}");
    assert_eq!(summary.counts.get("breached"), Some(&1), "{summary:?}");
}
