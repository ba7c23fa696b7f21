//! Lifeboat on a bad night: every call through the fault-injecting proxy
//! (`lifeboat_tests::proxy`), with throttling, server errors, connections
//! reset, answers too slow or lost after the work was done, S3 gone for a
//! whole run, EventBridge refusing entries, and the same event handed to
//! two invocations at once. What must hold each time: every DB is done,
//! once; every snapshot and copy has exactly one record; nothing is
//! deleted twice or without its record; and every announcement goes out.
//!
//! The functions run with the production `CallPolicy`, but for a 5 s
//! attempt timeout (production: 10 s) so that answers held 8 s cost the
//! tests seconds (not less: on a loaded machine moto's own answers can
//! take a few seconds, and an attempt abandoned after the work was done is
//! a lost answer the test did not inject), and, where S3 is down for a whole run, 2 attempts, so
//! the SDK gives up in seconds rather than minutes: how long it keeps
//! trying is the policy's business, what happens after is these tests'.

use std::collections::BTreeMap;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use lifeboat::aws::clients::CallPolicy;
use lifeboat::domain::outcome::Summary;
use lifeboat::{Context, Error};
use lifeboat_tests::proxy::{Fault, Proxy, Rule, Tally};
use lifeboat_tests::{moto, sample_event, seed, World};
use serde_json::{json, Value};

const SOURCE: &str = "us-east-1";
const WEST: &str = "us-west-2";

fn policy() -> CallPolicy {
    CallPolicy {
        attempt_timeout: Duration::from_secs(5),
        ..CallPolicy::PRODUCTION
    }
}

/// Held longer than `policy()`'s attempt timeout.
const SLOW: Duration = Duration::from_secs(8);

/// `n` tagged DB instances, `db-00` ...
async fn fleet(n: usize) -> World {
    let world = World::new(SOURCE).await;
    for i in 0..n {
        let id = format!("db-{i:02}");
        seed::instance(world.clients.rds(), &id, "postgres", &[seed::SELECT]).await;
    }
    world
}

fn proxy() -> Proxy {
    Proxy::start(moto::endpoint(), Duration::ZERO, Duration::ZERO).unwrap()
}

/// A function's context in `region`, every call through `proxy`.
fn context(
    world: &World,
    proxy: &Proxy,
    policy: CallPolicy,
    region: &str,
    extra: &[(&str, &str)],
) -> Context {
    world.context_in(region, world.clients_through(proxy, region, policy), extra)
}

fn lambda(payload: Value, request_id: &str) -> LambdaEvent<Value> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_string();
    LambdaEvent::new(payload, context)
}

/// A scheduled event at `time`, as EventBridge Scheduler sends it.
fn scheduled(time: &str) -> Value {
    let mut event = sample_event("snapshot-scheduled.json");
    event["time"] = json!(time);
    event["id"] = json!(format!("schedule-{time}"));
    event
}

const COPY_SETTINGS: &[(&str, &str)] = &[("LIFEBOAT_DR_REGIONS", WEST)];

async fn snapshot(ctx: &Context, payload: Value, request_id: &str) -> Result<Summary, Error> {
    lifeboat_snapshot::handle(ctx, lambda(payload, request_id)).await
}

async fn copy(ctx: &Context, payload: Value, request_id: &str) -> Result<Summary, Error> {
    lifeboat_copy::handle(ctx, lambda(payload, request_id)).await
}

async fn prune(ctx: &Context, payload: Value, request_id: &str) -> Result<Summary, Error> {
    lifeboat_prune::handle(ctx, lambda(payload, request_id)).await
}

/// Lifeboat's snapshots in `region`, by identifier: how many of each.
async fn snapshots_in(world: &World, region: &str) -> BTreeMap<String, usize> {
    let rds = world.clients.rds_in(region);
    let mut ids = BTreeMap::new();
    for s in lifeboat::aws::rds::describe_manual_snapshots(&rds)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.is_managed())
    {
        *ids.entry(s.id).or_insert(0) += 1;
    }
    ids
}

/// The `kind` records in `region`'s catalog: snapshot id -> how many.
async fn records_of(world: &World, region: &str, kind: &str) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for (_, r) in world.records_in(region).await {
        if r["kind"] == kind {
            *ids.entry(r["snapshot_id"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    ids
}

/// The events of `detail_type` published since the last look: snapshot
/// id -> how many times.
fn announced(world: &World, detail_type: &str) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for e in world.published() {
        if e["detail-type"] == detail_type {
            *ids.entry(e["detail"]["snapshot_id"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    ids
}

/// RDS's 20 copies in progress into WEST, each once, recorded once in both
/// catalogs and announced (once, unless `may_repeat`); the copies.
async fn copied_once(world: &World, may_repeat: bool) -> BTreeMap<String, usize> {
    let copies = snapshots_in(world, WEST).await;
    assert_eq!(copies.len(), 20);
    assert!(once_each(&copies));
    for region in [SOURCE, WEST] {
        let recorded = records_of(world, region, "copy").await;
        assert_eq!(
            recorded.keys().collect::<Vec<_>>(),
            copies.keys().collect::<Vec<_>>()
        );
        assert!(once_each(&recorded), "{region}");
    }
    let started = announced(world, "Snapshot Copy Started");
    assert_eq!(
        started.keys().collect::<Vec<_>>(),
        copies.keys().collect::<Vec<_>>()
    );
    assert!(may_repeat || once_each(&started), "{started:?}");
    copies
}

fn once_each(ids: &BTreeMap<String, usize>) -> bool {
    ids.values().all(|n| *n == 1)
}

fn faults(tally: &Tally) -> u64 {
    tally.faults.values().sum()
}

/// A fleet of 50, snapshotted and copied with a fifth of all calls (RDS,
/// S3, EventBridge) meeting `fault`: no DB fails, every snapshot and copy
/// exists once with one record, and each is announced (exactly once
/// unless the fault can lose a `PutEvents` answer after EventBridge took
/// the events: an EventBridge retry then announces twice, which is what
/// "at least once" means).
async fn a_fleet_of_50_survives(fault: Fault) {
    const N: usize = 50;
    let world = fleet(N).await;
    let proxy = proxy();
    proxy.inject(Rule::new(fault).share(0.2));

    let ctx = context(&world, &proxy, policy(), SOURCE, &[]);
    let summary = snapshot(&ctx, scheduled("2026-11-24T04:00:00Z"), "run-1")
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", fault.name()));
    let tally = proxy.take();
    assert_eq!(summary.counts.get("created"), Some(&N), "{summary:?}");
    let taken = snapshots_in(&world, SOURCE).await;
    assert_eq!(taken.len(), N);
    assert!(once_each(&taken));
    let recorded = records_of(&world, SOURCE, "snapshot").await;
    assert_eq!(
        recorded.keys().collect::<Vec<_>>(),
        taken.keys().collect::<Vec<_>>()
    );
    assert!(once_each(&recorded));
    let started = announced(&world, "Snapshot Started");
    assert_eq!(
        started.keys().collect::<Vec<_>>(),
        taken.keys().collect::<Vec<_>>()
    );
    let may_repeat = matches!(fault, Fault::LostAnswer | Fault::Slow(_));
    assert!(may_repeat || once_each(&started), "{started:?}");
    eprintln!(
        "faults/{}: snapshot: {} requests, {} faults injected, {} repeated announcements",
        fault.name(),
        tally.requests,
        faults(&tally),
        started.values().map(|n| n - 1).sum::<usize>()
    );

    // RDS allows 20 DB snapshot copies in progress into a region (moto's
    // copies stay in progress): 20 are copied, the rest deferred.
    let ctx = context(&world, &proxy, policy(), SOURCE, COPY_SETTINGS);
    let summary = copy(&ctx, sample_event("copy-scheduled.json"), "copy-1")
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", fault.name()));
    let tally = proxy.take();
    assert_eq!(summary.counts.get("copied"), Some(&20), "{summary:?}");
    assert_eq!(
        summary.counts.get("deferred"),
        Some(&(N - 20)),
        "{summary:?}"
    );
    copied_once(&world, may_repeat).await;
    eprintln!(
        "faults/{}: copy: {} requests, {} faults injected",
        fault.name(),
        tally.requests,
        faults(&tally)
    );
}

#[tokio::test]
async fn a_fleet_of_50_survives_a_fifth_of_calls_throttled() {
    a_fleet_of_50_survives(Fault::Throttle).await;
}

#[tokio::test]
async fn a_fleet_of_50_survives_a_fifth_of_calls_answered_500() {
    a_fleet_of_50_survives(Fault::ServerError).await;
}

#[tokio::test]
async fn a_fleet_of_50_survives_a_fifth_of_connections_reset() {
    a_fleet_of_50_survives(Fault::Reset).await;
}

#[tokio::test]
async fn a_fleet_of_50_survives_a_fifth_of_answers_too_slow() {
    a_fleet_of_50_survives(Fault::Slow(SLOW)).await;
}

#[tokio::test]
async fn a_fleet_of_50_survives_a_fifth_of_answers_lost_after_the_work() {
    a_fleet_of_50_survives(Fault::LostAnswer).await;
}

/// S3 down for a whole snapshot run: every snapshot is still taken, the
/// invocation fails naming each missing record, and then both a retry of
/// the same request and a later scheduled run write what is missing, and
/// announce it.
#[tokio::test]
async fn snapshots_taken_while_s3_is_down_are_recorded_by_the_retry_or_the_next_run() {
    const N: usize = 5;
    let world = fleet(N).await;
    let proxy = proxy();
    let brief = CallPolicy {
        max_attempts: 2,
        ..policy()
    };
    let ctx = context(&world, &proxy, brief, SOURCE, &[]);

    // A run, its retry (the same request id).
    proxy.inject(Rule::new(Fault::ServerError).service("s3"));
    let first = scheduled("2026-11-24T04:00:00Z");
    let e = snapshot(&ctx, first.clone(), "run-1").await.unwrap_err();
    let message = e.to_string();
    assert_eq!(snapshots_in(&world, SOURCE).await.len(), N, "{message}");
    for i in 0..N {
        let id = format!("lifeboat-db-{i:02}-20261124-0400");
        assert!(
            message.contains(&format!(
                "snapshot {id} was started but its catalog record was not written"
            )),
            "{message}"
        );
    }
    assert!(records_of(&world, SOURCE, "snapshot").await.is_empty());
    // A failed record announces a failure, never a start.
    assert!(announced(&world, "Snapshot Started").is_empty());

    proxy.heal();
    let retry = snapshot(&ctx, first, "run-1").await.unwrap();
    assert_eq!(retry.counts.get("created"), Some(&N), "{retry:?}");
    let recorded = records_of(&world, SOURCE, "snapshot").await;
    assert_eq!(recorded.len(), N);
    assert_eq!(announced(&world, "Snapshot Started").len(), N);

    // A run whose every retry failed too; the next day's run repairs it.
    proxy.inject(Rule::new(Fault::ServerError).service("s3"));
    snapshot(&ctx, scheduled("2026-11-25T04:00:00Z"), "run-2")
        .await
        .unwrap_err();
    proxy.heal();
    let next = snapshot(&ctx, scheduled("2026-11-26T04:00:00Z"), "run-3")
        .await
        .unwrap();
    assert_eq!(next.counts.get("created"), Some(&N), "{next:?}");
    assert_eq!(next.counts.get("recorded"), Some(&N), "{next:?}");
    let recorded = records_of(&world, SOURCE, "snapshot").await;
    assert_eq!(recorded.len(), 3 * N);
    assert!(once_each(&recorded));
    let started = announced(&world, "Snapshot Started");
    assert_eq!(
        started.len(),
        2 * N,
        "the repaired and today's: {started:?}"
    );
    assert!(started.keys().any(|id| id.ends_with("-20261125-0400")));
    let late = world
        .records()
        .await
        .into_iter()
        .find(|(k, _)| k.contains("lifeboat-db-00-20261125-0400"))
        .unwrap()
        .1;
    assert_eq!(late["recovery_point_time"], "2026-11-25T04:00:00Z");
    assert!(late["trigger"]["reason"]
        .as_str()
        .unwrap()
        .contains("recorded by a later scheduled run"));

    // A run with nothing missing repairs nothing.
    let quiet = snapshot(&ctx, scheduled("2026-11-27T04:00:00Z"), "run-4")
        .await
        .unwrap();
    assert_eq!(quiet.counts.get("recorded"), None, "{quiet:?}");
}

/// The same for copies: made while S3 is down, recorded by the next
/// reconcile.
#[tokio::test]
async fn copies_made_while_s3_is_down_are_recorded_by_the_next_reconcile() {
    const N: usize = 3;
    let world = fleet(N).await;
    let proxy = proxy();
    let brief = CallPolicy {
        max_attempts: 2,
        ..policy()
    };
    snapshot(
        &world.context(&[]),
        scheduled("2026-11-24T04:00:00Z"),
        "run-1",
    )
    .await
    .unwrap();
    world.published();
    let ctx = context(&world, &proxy, brief, SOURCE, COPY_SETTINGS);

    proxy.inject(Rule::new(Fault::ServerError).service("s3"));
    let e = copy(&ctx, sample_event("copy-scheduled.json"), "copy-1")
        .await
        .unwrap_err();
    assert_eq!(snapshots_in(&world, WEST).await.len(), N, "{e}");
    assert!(
        e.to_string().contains("is under way, but its record"),
        "{e}"
    );
    assert!(records_of(&world, SOURCE, "copy").await.is_empty());

    proxy.heal();
    let next = copy(&ctx, sample_event("copy-scheduled.json"), "copy-2")
        .await
        .unwrap();
    assert_eq!(next.counts.get("recorded"), Some(&N), "{next:?}");
    for region in [SOURCE, WEST] {
        let recorded = records_of(&world, region, "copy").await;
        assert_eq!(recorded.len(), N, "{region}");
        assert!(once_each(&recorded));
    }
    assert_eq!(records_of(&world, WEST, "snapshot").await.len(), N);
    assert_eq!(announced(&world, "Snapshot Copy Started").len(), N);
}

/// Prune with S3 down deletes nothing (a deletion always has its record);
/// the next run deletes and records.
#[tokio::test]
async fn prune_deletes_nothing_while_it_cannot_record_the_deletions() {
    const N: usize = 2;
    let world = fleet(N).await;
    let plain = world.context(&[]);
    for day in 20..24 {
        snapshot(
            &plain,
            scheduled(&format!("2026-11-{day}T04:00:00Z")),
            "seed",
        )
        .await
        .unwrap();
    }
    world.published();
    let proxy = proxy();
    let brief = CallPolicy {
        max_attempts: 2,
        ..policy()
    };
    let settings = [("LIFEBOAT_RETENTION", "last=1")];
    let ctx = context(&world, &proxy, brief, SOURCE, &settings);
    let mut event = sample_event("prune-scheduled.json");
    event["time"] = json!("2026-11-24T05:00:00Z");

    proxy.inject(Rule::new(Fault::ServerError).service("s3"));
    let e = prune(&ctx, event.clone(), "prune-1").await.unwrap_err();
    assert!(
        e.to_string()
            .contains("was not deleted: its deletion record"),
        "{e}"
    );
    assert_eq!(snapshots_in(&world, SOURCE).await.len(), 4 * N);

    proxy.heal();
    let next = prune(&ctx, event, "prune-2").await.unwrap();
    assert_eq!(next.counts.get("deleted"), Some(&(3 * N)), "{next:?}");
    assert_eq!(snapshots_in(&world, SOURCE).await.len(), N);
    let deleted = records_of(&world, SOURCE, "deletion").await;
    assert_eq!(deleted.len(), 3 * N);
    assert_eq!(announced(&world, "Snapshot Deleted").len(), 3 * N);
}

/// The same scheduled event handed to two invocations at the same moment:
/// one snapshot, copy and deletion per DB, one record each, one
/// announcement each, and neither invocation fails.
#[tokio::test]
async fn the_same_event_twice_at_once_does_everything_once() {
    const N: usize = 10;
    let world = fleet(N).await;
    let proxy = proxy();
    let a = context(&world, &proxy, policy(), SOURCE, COPY_SETTINGS);
    let b = context(&world, &proxy, policy(), SOURCE, COPY_SETTINGS);

    for day in 20..24 {
        let event = scheduled(&format!("2026-11-{day}T04:00:00Z"));
        let (id_a, id_b) = (format!("a-{day}"), format!("b-{day}"));
        let (x, y) = tokio::join!(
            snapshot(&a, event.clone(), &id_a),
            snapshot(&b, event, &id_b)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(
            x.counts.get("created").unwrap_or(&0) + y.counts.get("created").unwrap_or(&0),
            N,
            "{x:?} {y:?}"
        );
    }
    let taken = snapshots_in(&world, SOURCE).await;
    assert_eq!(taken.len(), 4 * N);
    let recorded = records_of(&world, SOURCE, "snapshot").await;
    assert_eq!(recorded.len(), 4 * N);
    assert!(once_each(&recorded));
    let started = announced(&world, "Snapshot Started");
    assert_eq!(started.len(), 4 * N);
    assert!(once_each(&started), "{started:?}");

    let event = sample_event("copy-scheduled.json");
    let (x, y) = tokio::join!(copy(&a, event.clone(), "ca"), copy(&b, event, "cb"));
    let (x, y) = (x.unwrap(), y.unwrap());
    // RDS's limit on copies in progress caps the run at 20.
    assert!(x.errors.is_empty() && y.errors.is_empty(), "{x:?} {y:?}");
    let copies = copied_once(&world, false).await;

    let settings = [
        ("LIFEBOAT_RETENTION", "last=1"),
        ("LIFEBOAT_DR_RETENTION", "last=1"),
        ("LIFEBOAT_DR_REGIONS", WEST),
    ];
    let a = context(&world, &proxy, policy(), SOURCE, &settings);
    let b = context(&world, &proxy, policy(), SOURCE, &settings);
    let mut event = sample_event("prune-scheduled.json");
    event["time"] = json!("2026-11-24T05:00:00Z");
    let (x, y) = tokio::join!(prune(&a, event.clone(), "pa"), prune(&b, event, "pb"));
    let (x, y) = (x.unwrap(), y.unwrap());
    // What was deleted (copies in progress and their sources are held)
    // was deleted once, recorded once and announced once.
    let mut deletions = 0;
    for (region, before) in [(SOURCE, &taken), (WEST, &copies)] {
        let after = snapshots_in(&world, region).await;
        let deleted = records_of(&world, region, "deletion").await;
        assert!(once_each(&deleted), "{region}");
        let gone: Vec<&String> = before
            .keys()
            .filter(|id| !after.contains_key(*id))
            .collect();
        assert_eq!(
            deleted.keys().collect::<Vec<_>>(),
            gone,
            "{region}: {x:?} {y:?}"
        );
        deletions += deleted.len();
    }
    assert!(deletions > 0);
    let announced = announced(&world, "Snapshot Deleted");
    assert_eq!(
        announced.values().sum::<usize>(),
        deletions,
        "one announcement per deletion"
    );
}

/// Every RDS call throttled for 30 s, then healthy: no DB fails; the
/// retry policy (20 attempts, backoff to 20 s) outlasts it.
#[tokio::test]
async fn thirty_seconds_of_every_rds_call_throttled_fails_no_db() {
    const N: usize = 20;
    let world = fleet(N).await;
    let proxy = proxy();
    proxy.inject(Rule::new(Fault::Throttle).service("rds"));
    let ctx = context(&world, &proxy, policy(), SOURCE, &[]);
    let healing = async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        proxy.heal();
    };
    let (summary, ()) = tokio::join!(
        snapshot(&ctx, scheduled("2026-11-24T04:00:00Z"), "run-1"),
        healing
    );
    let summary = summary.unwrap();
    let tally = proxy.take();
    assert_eq!(summary.counts.get("created"), Some(&N), "{summary:?}");
    assert_eq!(records_of(&world, SOURCE, "snapshot").await.len(), N);
    eprintln!(
        "faults/throttled-30s: {} requests, {} throttled",
        tally.requests,
        faults(&tally)
    );
}

/// EventBridge refusing entries (`FailedEntryCount` > 0): the publisher
/// sends them again; when every send is refused, the invocation fails and
/// its retry, finding its own records, announces them.
#[tokio::test]
async fn refused_announcements_are_sent_again_and_never_lost() {
    const N: usize = 3;
    let world = fleet(N).await;
    let proxy = proxy();
    let ctx = context(&world, &proxy, policy(), SOURCE, &[]);

    proxy.inject(
        Rule::new(Fault::EntriesRefused)
            .operation("PutEvents")
            .nth(1),
    );
    snapshot(&ctx, scheduled("2026-11-24T04:00:00Z"), "run-1")
        .await
        .unwrap();
    let tally = proxy.take();
    assert_eq!(tally.count("PutEvents"), 2, "{tally:?}");
    let started = announced(&world, "Snapshot Started");
    assert_eq!(started.len(), N);
    assert!(once_each(&started));

    proxy.heal();
    proxy.inject(Rule::new(Fault::EntriesRefused).operation("PutEvents"));
    let event = scheduled("2026-11-25T04:00:00Z");
    let e = snapshot(&ctx, event.clone(), "run-2").await.unwrap_err();
    assert!(e.to_string().contains("not published"), "{e}");
    assert!(announced(&world, "Snapshot Started").is_empty());
    proxy.heal();
    let retry = snapshot(&ctx, event.clone(), "run-2").await.unwrap();
    assert_eq!(retry.counts.get("created"), Some(&N), "{retry:?}");
    assert_eq!(announced(&world, "Snapshot Started").len(), N);
    // A redelivery (another request) finds the records someone else's.
    let again = snapshot(&ctx, event, "run-3").await.unwrap();
    assert_eq!(again.counts.get("exists"), Some(&N), "{again:?}");
    assert!(announced(&world, "Snapshot Started").is_empty());
}
