//! Runs that outlast their invocation (`domain::run`, `lambda::run`): a
//! fleet too large for a (test-shortened) Lambda deadline is snapshotted,
//! copied and pruned across invocations, the rest handed to the runs state
//! machine (a real `StartExecution` against moto; the execution itself
//! played by `lifeboat_tests::runs`, as moto runs no Lambda), each item
//! done once, the whole run in one `run` record.
//!
//! Every call goes through a proxy adding 100 ms, with 4 DBs at once, so
//! that a fleet of 120 takes several seconds: each invocation gets a
//! deadline of the run's margin plus 2 s of work.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::TimeDelta;
use lifeboat::domain::outcome::Summary;
use lifeboat::Context;
use lifeboat_tests::proxy::Proxy;
use lifeboat_tests::runs::{event_with_budget, RunStateMachine};
use lifeboat_tests::{moto, sample_event, seed, World, UNPACED};
use serde_json::{json, Value};

const REGION: &str = "us-east-1";
const DR: &str = "us-west-2";
const FLEET: usize = 120;
const BUDGET: TimeDelta = TimeDelta::seconds(2);

async fn fleet(n: usize) -> World {
    let world = World::new(REGION).await;
    for i in 0..n {
        seed::instance(
            world.clients.rds(),
            &format!("db-{i:03}"),
            "postgres",
            &[seed::SELECT],
        )
        .await;
    }
    world
}

/// A function's context whose every call is 100 ms slower, 4 DBs at once,
/// with the runs state machine set.
fn slowed(world: &World, machine: &RunStateMachine, extra: &[(&str, &str)]) -> (Proxy, Context) {
    let proxy = Proxy::start(moto::endpoint(), Duration::from_millis(100), Duration::ZERO)
        .unwrap_or_else(|e| panic!("start the proxy: {e}"));
    let mut settings = vec![machine.setting(), ("LIFEBOAT_CONCURRENCY", "4")];
    settings.extend_from_slice(extra);
    let clients = world.clients_through(&proxy, REGION, UNPACED);
    (proxy, world.context_in(REGION, clients, &settings))
}

/// Each invocation as Lambda makes it: its own request id, the deadline.
fn invocation(payload: Value) -> lambda_runtime::LambdaEvent<Value> {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    event_with_budget(payload, BUDGET, &format!("runs-test-{n}"))
}

/// The run's one execution, played to its end: every summary after the
/// first invocation's.
async fn carried_on<F, Fut>(machine: &RunStateMachine, first: &Summary, invoke: F) -> Vec<Summary>
where
    F: FnMut(Value) -> Fut,
    Fut: std::future::Future<Output = Result<Summary, lifeboat::Error>>,
{
    let run = first.run.as_ref().expect("the first invocation's run");
    assert!(run.execution.is_some(), "handed on: {first:?}");
    let executions = machine.executions().await;
    assert_eq!(executions.len(), 1, "one execution per run: {executions:?}");
    assert_eq!(executions[0].0, run.id, "named after the run");
    let (rest, error) = machine.play(executions[0].1.clone(), invoke).await;
    assert!(error.is_none(), "the run failed: {error:?}");
    assert!(!rest.is_empty());
    rest
}

/// The run record the last invocation wrote, checked against the
/// invocations made.
async fn run_record(world: &World, last: &Summary, invocations: usize) -> Value {
    let key = last
        .run
        .as_ref()
        .and_then(|r| r.record.clone())
        .expect("the run's record");
    let record = world
        .records()
        .await
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no record at {key}"));
    assert_eq!(record["kind"], "run", "{record:#}");
    assert_eq!(record["invocations"], invocations, "{record:#}");
    assert_eq!(
        record["batches"].as_array().map(Vec::len),
        Some(invocations),
        "{record:#}"
    );
    assert_eq!(record["failures"], json!([]), "{record:#}");
    record
}

/// Manual snapshots per source DB in `region`.
async fn snapshots_per_db(world: &World, region: &str) -> BTreeMap<String, usize> {
    let snapshots = lifeboat::aws::rds::describe_manual_snapshots(&world.clients.rds_in(region))
        .await
        .unwrap();
    let mut per_db = BTreeMap::new();
    for s in snapshots {
        *per_db.entry(s.source_db().to_string()).or_insert(0) += 1;
    }
    per_db
}

fn records_of_kind(records: &[(String, Value)], kind: &str) -> usize {
    records.iter().filter(|(_, r)| r["kind"] == kind).count()
}

#[tokio::test]
async fn a_fleet_larger_than_a_deadline_allows_is_snapshotted_across_invocations_each_db_once() {
    let world = fleet(FLEET).await;
    let machine = RunStateMachine::create(&world).await;
    let (proxy, ctx) = slowed(&world, &machine, &[]);

    let first =
        lifeboat_snapshot::handle(&ctx, invocation(sample_event("snapshot-scheduled.json")))
            .await
            .unwrap();
    let done_first = first.counts.get("created").copied().unwrap_or(0);
    assert!(done_first > 0 && done_first < FLEET, "{:?}", first.counts);
    let rest = carried_on(&machine, &first, |input| {
        lifeboat_snapshot::handle(&ctx, invocation(input))
    })
    .await;
    let invocations = 1 + rest.len();
    eprintln!("runs/snapshot: {FLEET} DBs in {invocations} invocations");
    assert!(invocations >= 3, "{invocations} invocations");

    // Each DB once: one CreateDBSnapshot, one snapshot, one record, one
    // announcement.
    let tally = proxy.take();
    assert_eq!(tally.count("CreateDBSnapshot"), FLEET as u64);
    let per_db = snapshots_per_db(&world, REGION).await;
    assert_eq!(per_db.len(), FLEET);
    assert!(per_db.values().all(|n| *n == 1), "{per_db:?}");
    let records = world.records().await;
    assert_eq!(records_of_kind(&records, "snapshot"), FLEET);
    assert_eq!(records_of_kind(&records, "run_batch"), invocations);
    let started = world
        .published()
        .iter()
        .filter(|e| e["detail-type"] == "Snapshot Started")
        .count();
    assert_eq!(started, FLEET);

    // Later invocations answer the state machine briefly: the failures
    // (none) and where they recorded the rest.
    let last = rest.last().unwrap();
    assert!(last.outcomes.is_empty(), "{last:?}");
    let record = run_record(&world, last, invocations).await;
    assert_eq!(record["counts"]["created"], FLEET, "{record:#}");
    assert_eq!(record["trigger"]["type"], "schedule");
    assert_eq!(record["run_time"], "2026-11-24T04:00:00Z");
}

#[tokio::test]
async fn the_same_schedule_twice_at_once_hands_on_to_one_execution_and_snapshots_each_db_once() {
    let world = fleet(FLEET).await;
    let machine = RunStateMachine::create(&world).await;
    let (_proxy, ctx) = slowed(&world, &machine, &[]);

    let event = sample_event("snapshot-scheduled.json");
    let (one, two) = tokio::join!(
        lifeboat_snapshot::handle(&ctx, invocation(event.clone())),
        lifeboat_snapshot::handle(&ctx, invocation(event)),
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(one.run.as_ref().unwrap().id, two.run.as_ref().unwrap().id);
    carried_on(&machine, &one, |input| {
        lifeboat_snapshot::handle(&ctx, invocation(input))
    })
    .await;

    let per_db = snapshots_per_db(&world, REGION).await;
    assert_eq!(per_db.len(), FLEET);
    assert!(per_db.values().all(|n| *n == 1), "{per_db:?}");
    let records = world.records().await;
    assert_eq!(records_of_kind(&records, "snapshot"), FLEET);
    let started = world
        .published()
        .iter()
        .filter(|e| e["detail-type"] == "Snapshot Started")
        .count();
    assert_eq!(started, FLEET, "one announcement per snapshot");
}

/// Three days of snapshots of `world`'s fleet, taken unslowed.
async fn three_days(world: &World) {
    let plain = world.context(&[]);
    for day in [
        "2026-11-22T04:00:00Z",
        "2026-11-23T04:00:00Z",
        "2026-11-24T04:00:00Z",
    ] {
        let mut event = sample_event("snapshot-scheduled.json");
        event["id"] = json!(format!("schedule-{day}"));
        event["time"] = json!(day);
        lifeboat_snapshot::handle(
            &plain,
            lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_reconcile_larger_than_a_deadline_allows_carries_on_each_snapshot_once() {
    let world = fleet(FLEET / 2).await;
    three_days(&world).await;
    let snapshots = 3 * FLEET / 2;
    let machine = RunStateMachine::create(&world).await;
    // One copy at a time, so that even RDS's 20 copies in progress take
    // longer than an invocation here.
    let (proxy, ctx) = slowed(
        &world,
        &machine,
        &[("LIFEBOAT_DR_REGIONS", DR), ("LIFEBOAT_CONCURRENCY", "1")],
    );
    let first = lifeboat_copy::handle(&ctx, invocation(json!({})))
        .await
        .unwrap();
    let rest = carried_on(&machine, &first, |input| {
        lifeboat_copy::handle(&ctx, invocation(input))
    })
    .await;
    let invocations = 1 + rest.len();
    let copies = proxy.take().count("CopyDBSnapshot");
    eprintln!("runs/copy: {snapshots} snapshots, {copies} copied, in {invocations} invocations");
    // Never a snapshot copied twice; each snapshot has one outcome in the
    // run (copied, or deferred within RDS's limit on copies in progress).
    let per_db = snapshots_per_db(&world, DR).await;
    assert_eq!(per_db.values().sum::<usize>() as u64, copies);
    assert!(per_db.values().all(|n| *n <= 3), "{per_db:?}");
    let record = run_record(&world, rest.last().unwrap(), invocations).await;
    assert_eq!(record["counts"]["copied"], copies, "{record:#}");
    let items: u64 = record["counts"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(items, snapshots as u64, "{record:#}");
}

#[tokio::test]
async fn a_prune_larger_than_a_deadline_allows_carries_on_deleting_each_snapshot_once() {
    let world = fleet(FLEET / 2).await;
    three_days(&world).await;
    let machine = RunStateMachine::create(&world).await;
    let (proxy, ctx) = slowed(&world, &machine, &[("LIFEBOAT_RETENTION", "last=1")]);
    let first = lifeboat_prune::handle(&ctx, invocation(sample_event("prune-scheduled.json")))
        .await
        .unwrap();
    assert_eq!(
        first.counts.get("kept"),
        Some(&(FLEET / 2)),
        "{:?}",
        first.counts
    );
    let rest = carried_on(&machine, &first, |input| {
        lifeboat_prune::handle(&ctx, invocation(input))
    })
    .await;
    let invocations = 1 + rest.len();
    let doomed = 2 * FLEET / 2;
    eprintln!("runs/prune: {doomed} deletions in {invocations} invocations");
    assert_eq!(proxy.take().count("DeleteDBSnapshot"), doomed as u64);
    let per_db = snapshots_per_db(&world, REGION).await;
    assert_eq!(per_db.len(), FLEET / 2);
    assert!(per_db.values().all(|n| *n == 1), "{per_db:?}");
    let records = world.records().await;
    assert_eq!(records_of_kind(&records, "deletion"), doomed);
    let record = run_record(&world, rest.last().unwrap(), invocations).await;
    assert_eq!(record["counts"]["deleted"], doomed, "{record:#}");
    assert_eq!(record["counts"]["kept"], FLEET / 2, "{record:#}");
}

#[tokio::test]
async fn a_run_whose_invocation_cannot_hand_on_fails_naming_the_setting_and_what_is_left() {
    let world = fleet(40).await;
    let proxy = Proxy::start(moto::endpoint(), Duration::from_millis(100), Duration::ZERO).unwrap();
    let clients = world.clients_through(&proxy, REGION, UNPACED);
    let ctx = world.context_in(REGION, clients, &[("LIFEBOAT_CONCURRENCY", "2")]);
    let err = lifeboat_snapshot::handle(&ctx, invocation(sample_event("snapshot-scheduled.json")))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("LIFEBOAT_RUN_STATE_MACHINE is not set") && err.contains("after instance/db-"),
        "{err}"
    );
    // What was started is recorded, as the run's first batch.
    let records = world.records().await;
    assert_eq!(records_of_kind(&records, "run_batch"), 1);
    assert!(records_of_kind(&records, "snapshot") > 0);
}
