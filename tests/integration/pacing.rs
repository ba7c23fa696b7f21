//! RDS's API throttle, which moto lacks, enforced by the proxy
//! (`Proxy::throttle_rds`: a bucket per region), against the functions'
//! pacing (`aws::pacing`). Paced below the throttle, a fleet is snapshotted
//! without being throttled; when other tools take the account's share, the
//! pace drops and no DB fails. Scaled down (a bucket of 40 at 20 a second
//! rather than RDS's 300 at 12) so that a run takes seconds.

use std::time::{Duration, Instant};

use lambda_runtime::LambdaEvent;
use lifeboat::aws::clients::CallPolicy;
use lifeboat::domain::outcome::Summary;
use lifeboat_tests::proxy::{Proxy, Tally};
use lifeboat_tests::{moto, sample_event, seed, World};

const REGION: &str = "us-east-1";

struct Run {
    summary: Summary,
    tally: Tally,
    seconds: f64,
}

impl Run {
    fn rds_calls(&self) -> u64 {
        self.tally
            .calls
            .iter()
            .filter(|(c, _)| c.service == "rds")
            .map(|(_, n)| n)
            .sum()
    }

    fn throttled(&self) -> u64 {
        self.tally.faults.values().sum()
    }
}

/// A scheduled snapshot of `n` DBs, every call through a proxy enforcing a
/// bucket of `burst` at `rate` a second, the function paced at `pace`.
async fn snapshot_behind_throttle(n: usize, burst: u32, rate: f64, pace: (f64, u32)) -> Run {
    let world = World::new(REGION).await;
    for i in 0..n {
        let id = format!("db-{i:03}");
        seed::instance(world.clients.rds(), &id, "postgres", &[seed::SELECT]).await;
    }
    let proxy = Proxy::start(moto::endpoint(), Duration::ZERO, Duration::ZERO).unwrap();
    proxy.throttle_rds(burst, rate);
    let policy = CallPolicy {
        rds_calls_per_second: pace.0,
        rds_burst: pace.1,
        ..CallPolicy::PRODUCTION
    };
    let ctx = world.context_in(REGION, world.clients_through(&proxy, REGION, policy), &[]);
    let started = Instant::now();
    let summary = lifeboat_snapshot::handle(
        &ctx,
        LambdaEvent::new(
            sample_event("snapshot-scheduled.json"),
            lambda_runtime::Context::default(),
        ),
    )
    .await
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let tally = proxy.take();
    let recorded = world
        .records()
        .await
        .iter()
        .filter(|(_, r)| r["kind"] == "snapshot")
        .count();
    assert_eq!(recorded, n);
    Run {
        summary,
        tally,
        seconds,
    }
}

#[tokio::test]
async fn paced_below_the_throttle_a_fleet_is_hardly_throttled() {
    let run = snapshot_behind_throttle(200, 40, 20.0, (15.0, 30)).await;
    assert_eq!(run.summary.counts.get("created"), Some(&200));
    let (calls, throttled) = (run.rds_calls(), run.throttled());
    eprintln!(
        "pacing/paced: {calls} RDS calls, {throttled} throttled, {:.1} s",
        run.seconds
    );
    assert!(throttled * 20 < calls, "{throttled} of {calls} throttled");
}

#[tokio::test]
async fn when_others_take_the_share_the_pace_drops_and_no_db_fails() {
    // The function would go at 15 a second with a burst of 30; the account
    // grants it 5 a second and a burst of 20.
    let run = snapshot_behind_throttle(100, 20, 5.0, (15.0, 30)).await;
    assert_eq!(run.summary.counts.get("created"), Some(&100));
    let (calls, throttled) = (run.rds_calls(), run.throttled());
    eprintln!(
        "pacing/adaptive: {calls} RDS calls, {throttled} throttled, {:.1} s",
        run.seconds
    );
    // Held at 15 a second against an account that grants 5, two calls in
    // three after the first burst would be throttled (about 50 of the
    // ~105). The first throttle halves the pace, and each one after it
    // halves it again, so it settles below the account's rate after a few:
    // the ten calls its burst has beyond the account's, and a few more
    // while it finds the rate, and one each time it climbs back above it
    // (6 or 7 in all here). What is retried is not counted against any
    // DB: none failed.
    assert!(
        throttled * 100 < calls * 15,
        "{throttled} of {calls} RDS calls throttled: the pace did not drop"
    );
}
