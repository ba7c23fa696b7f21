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
        seed::instance(&world.clients.rds, &id, "postgres", &[seed::SELECT]).await;
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
    // The function would go at 15 a second; the account grants it 5.
    let run = snapshot_behind_throttle(100, 20, 5.0, (15.0, 30)).await;
    assert_eq!(run.summary.counts.get("created"), Some(&100));
    let unpaced = snapshot_behind_throttle(100, 20, 5.0, (1_000.0, 1_000)).await;
    assert_eq!(unpaced.summary.counts.get("created"), Some(&100));
    eprintln!(
        "pacing/adaptive: {} RDS calls, {} throttled, {:.1} s; unpaced: {} calls, {} throttled, {:.1} s",
        run.rds_calls(),
        run.throttled(),
        run.seconds,
        unpaced.rds_calls(),
        unpaced.throttled(),
        unpaced.seconds
    );
    // The function's burst (30) is above the account's (20): the first
    // ten calls are throttled whatever the pacing does; what pacing must
    // do is stop there, where the unpaced function is throttled half the
    // time.
    assert!(
        run.throttled() * 4 < unpaced.throttled() && run.throttled() * 5 < run.rds_calls(),
        "paced: {} of {} throttled; unpaced: {}",
        run.throttled(),
        run.rds_calls(),
        unpaced.throttled()
    );
}
