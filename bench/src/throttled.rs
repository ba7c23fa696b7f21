//! `lifeboat-snapshot` at RDS's real API throttle. RDS gives each account a
//! bucket of API calls in each region, 300 in a burst and then 12 a second,
//! shared by every tool in the account; moto has none, so the proxy
//! enforces it (`Proxy::throttle_rds`) and answers `Throttling` when it is
//! empty.
//!
//! Each run is a freshly seeded fleet (seeded straight to moto, past the
//! proxy and its throttle) and a full bucket, as after a quiet hour before
//! the nightly schedule, with the function at its own pace
//! (`LIFEBOAT_RDS_CALLS_PER_SECOND`, `LIFEBOAT_RDS_BURST`). It is held to
//! the throttle floor, `(RDS calls - burst) / rate`: the least any caller
//! of RDS could take for the calls the fleet needs.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use lifeboat::lambda::config::{DEFAULT_RDS_BURST, DEFAULT_RDS_CALLS_PER_SECOND};
use lifeboat_tests::proxy::{Proxy, Tally};
use serde::Serialize;

use crate::floor::{self, Fleet};
use crate::rate::Serving;
use crate::{fleet, function_env, invoke_run, scheduled_event, Options};
use lifeboat_tests::runs::RunStateMachine;

/// The longest a throttled run may need before it is left out: the bench
/// has to end.
const RUN_LIMIT_S: f64 = 3600.0;
/// Lambda's own limit for one invocation: what each invocation gets here,
/// as a deployed function has it (`Timeout: 900`).
pub const LAMBDA_LIMIT_S: f64 = 900.0;

/// RDS's bucket per account and region, as the proxy enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Throttle {
    pub burst: u32,
    /// Calls a second added back to the bucket.
    pub rate: f64,
}

impl Throttle {
    /// RDS's default: 300 calls in a burst, 12 a second sustained.
    pub const RDS: Throttle = Throttle {
        burst: 300,
        rate: 12.0,
    };
}

impl FromStr for Throttle {
    type Err = String;

    /// `BURST,RATE`, e.g. `300,12`.
    fn from_str(text: &str) -> Result<Self, String> {
        let problem = || format!("{text:?}: expected BURST,RATE (RDS's: 300,12)");
        let (burst, rate) = text.split_once(',').ok_or_else(problem)?;
        let burst: u32 = burst.trim().parse().map_err(|_| problem())?;
        let rate: f64 = rate.trim().parse().map_err(|_| problem())?;
        if burst == 0 || !rate.is_finite() || rate <= 0.0 {
            return Err(problem());
        }
        Ok(Throttle { burst, rate })
    }
}

/// A function's own pace: `LIFEBOAT_RDS_CALLS_PER_SECOND` and
/// `LIFEBOAT_RDS_BURST`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pace {
    pub calls_per_second: f64,
    pub burst: u32,
}

impl Pace {
    /// The settings' defaults: headroom below RDS's bucket for the rest of
    /// the account.
    pub const PRODUCTION: Pace = Pace {
        calls_per_second: DEFAULT_RDS_CALLS_PER_SECOND,
        burst: DEFAULT_RDS_BURST,
    };
    /// Just below RDS's bucket, all of it: as fast as the throttle allows
    /// with nothing else in the account, to show the floor.
    pub const FLOOR: Pace = Pace {
        calls_per_second: 11.5,
        burst: 300,
    };
}

/// `RATE/BURST,...`, e.g. `8/150,11.5/300`.
pub fn paces(text: &str) -> Result<Vec<Pace>, String> {
    text.split(',')
        .map(|p| {
            let problem = || format!("{p:?}: expected RATE/BURST, e.g. 8/150");
            let (rate, burst) = p.trim().split_once('/').ok_or_else(problem)?;
            let calls_per_second: f64 = rate.trim().parse().map_err(|_| problem())?;
            let burst: u32 = burst.trim().parse().map_err(|_| problem())?;
            Ok(Pace {
                calls_per_second,
                burst,
            })
        })
        .collect()
}

/// One throttled run (the median of its repetitions), or why it was not
/// run.
#[derive(Debug, Clone, Serialize)]
pub struct ThrottledRun {
    pub size: u64,
    pub fleet: Fleet,
    pub pace: Pace,
    pub latency_ms: u64,
    /// RDS calls the fleet needs at the least (all in the source region).
    pub rds_minimum: u64,
    /// `(rds_minimum - burst) / rate`, or moto's own floor if that is
    /// longer.
    pub floor_ms: f64,
    /// The same at the function's own pace: the least it allows itself.
    pub pace_floor_ms: f64,
    /// Set when the run was not started.
    pub not_run: Option<String>,
    pub seed_s: Option<f64>,
    pub init_ms: Option<f64>,
    pub handler_ms: Option<f64>,
    pub handler_ms_all: Vec<f64>,
    /// Invocations the run took (the first, and each one the runs state
    /// machine made to carry it on).
    pub invocations: usize,
    pub cpu_ms: Option<f64>,
    pub peak_rss_kib: Option<u64>,
    /// RDS requests the proxy saw, throttled ones included.
    pub rds_calls: u64,
    /// Of those, answered `Throttling` by the proxy's bucket.
    pub throttled: u64,
    /// Catalog records written (`PutObject` answered 2xx).
    pub recorded: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub error: Option<String>,
    pub tally: Tally,
}

impl ThrottledRun {
    pub fn ratio(&self) -> Option<f64> {
        self.handler_ms.map(|h| h / self.floor_ms)
    }

    /// DBs that failed: their `failed` outcomes, or all of them when the
    /// invocation itself failed.
    pub fn failures(&self) -> u64 {
        let failed = self.outcomes.get("failed").copied().unwrap_or(0);
        if self.error.is_some() && self.outcomes.is_empty() {
            self.fleet.selected()
        } else {
            failed
        }
    }
}

fn floor_s(calls: u64, burst: u32, rate: f64) -> f64 {
    calls.saturating_sub(u64::from(burst)) as f64 / rate
}

/// Every throttled run `options` asks for, through `proxy`.
pub async fn run_all(
    options: &Options,
    proxy: &Proxy,
    serving: &Serving,
    snapshot_bin: &Path,
) -> Vec<ThrottledRun> {
    let throttle = options.throttle;
    let mut runs = Vec::new();
    for &size in &options.throttled_sizes {
        let fleet = Fleet::of_size(size);
        for &pace in &options.paces {
            let minimum = floor::snapshot(&fleet);
            let rds_minimum = minimum.rds_calls();
            let emulator_ms = floor::floor_ms(
                &minimum,
                serving.rate_per_s,
                serving.one_call_ms,
                serving.connect_latency_ms as f64,
            );
            let floor_ms =
                (floor_s(rds_minimum, throttle.burst, throttle.rate) * 1000.0).max(emulator_ms);
            let pace_floor_s = floor_s(rds_minimum, pace.burst, pace.calls_per_second);
            let mut run = ThrottledRun {
                size,
                fleet,
                pace,
                latency_ms: serving.latency_ms,
                rds_minimum,
                floor_ms,
                pace_floor_ms: pace_floor_s * 1000.0,
                not_run: None,
                seed_s: None,
                init_ms: None,
                handler_ms: None,
                handler_ms_all: Vec::new(),
                invocations: 0,
                cpu_ms: None,
                peak_rss_kib: None,
                rds_calls: 0,
                throttled: 0,
                recorded: 0,
                outcomes: BTreeMap::new(),
                error: None,
                tally: Tally::default(),
            };
            let slowest = (floor_ms / 1000.0).max(pace_floor_s);
            if slowest > RUN_LIMIT_S {
                run.not_run = Some(format!(
                    "needs at least {slowest:.0} s of RDS calls: more than the bench gives a run ({RUN_LIMIT_S:.0} s)"
                ));
                println!(
                    "\nthrottled fleet {size} at {}/s: not run, {}",
                    pace.calls_per_second,
                    run.not_run.as_deref().unwrap_or_default()
                );
                runs.push(run);
                continue;
            }
            let mut repetitions = Vec::new();
            for _ in 0..options.throttled_repeat {
                repetitions
                    .push(once(options, proxy, &fleet, pace, run.clone(), snapshot_bin).await);
            }
            repetitions.sort_by(|a, b| {
                let key = |r: &ThrottledRun| r.handler_ms.unwrap_or(f64::INFINITY);
                key(a).total_cmp(&key(b))
            });
            let all: Vec<f64> = repetitions.iter().filter_map(|r| r.handler_ms).collect();
            let middle = repetitions.len() / 2;
            let mut median = repetitions.swap_remove(middle);
            median.handler_ms_all = all;
            runs.push(median);
        }
    }
    runs
}

/// One cold `lifeboat-snapshot` over a freshly seeded `fleet` at `pace`,
/// with RDS's bucket full.
async fn once(
    options: &Options,
    proxy: &Proxy,
    fleet: &Fleet,
    pace: Pace,
    mut run: ThrottledRun,
    snapshot_bin: &Path,
) -> ThrottledRun {
    let started = Instant::now();
    let seeded = fleet::seed(fleet, crate::REGION, &options.dr_region).await;
    let seed_s = started.elapsed().as_secs_f64();
    println!(
        "\nthrottled fleet {} ({} instances, {} clusters), pace {}/s burst {}: seeded in {seed_s:.1} s",
        fleet.instances,
        fleet.all_instances(),
        fleet.clusters,
        pace.calls_per_second,
        pace.burst,
    );
    // The stack's runs state machine, which carries on a run that
    // outlasts an invocation.
    let machine =
        std::sync::Arc::new(RunStateMachine::create_in(&seeded.account, crate::REGION).await);
    // A full bucket in every region, as after a quiet hour.
    proxy.throttle_rds(options.throttle.burst, options.throttle.rate);
    let mut env = function_env(options, &seeded, proxy, pace);
    env.push((
        lifeboat::lambda::config::RUN_STATE_MACHINE.to_string(),
        machine.arn.clone(),
    ));
    let event = scheduled_event(
        &format!("throttled-{}-{}", fleet.instances, pace.calls_per_second),
        &seeded.account.id,
    );
    let (result, tally, cpu_ms) = invoke_run(proxy, snapshot_bin, env, event, machine).await;

    run.error = result.init_error.clone();
    for inv in &result.invocations {
        match &inv.result {
            Ok(summary) => {
                for (k, v) in summary["counts"].as_object().into_iter().flatten() {
                    *run.outcomes.entry(k.clone()).or_insert(0) += v.as_u64().unwrap_or(0);
                }
            }
            Err(_) => run.error = Some(inv.error_message()),
        }
    }
    run.invocations = result.invocations.len();
    run.seed_s = Some(seed_s);
    run.init_ms = result.init_time.map(|t| t.as_secs_f64() * 1000.0);
    run.handler_ms = (!result.invocations.is_empty()).then(|| {
        result
            .invocations
            .iter()
            .map(|i| i.handler_time.as_secs_f64() * 1000.0)
            .sum()
    });
    run.cpu_ms = cpu_ms;
    run.peak_rss_kib = result.peak_rss_kib;
    run.rds_calls = tally
        .calls
        .iter()
        .filter(|(c, _)| c.service == "rds")
        .map(|(_, n)| n)
        .sum();
    run.throttled = tally
        .faults
        .iter()
        .filter(|(k, _)| k.ends_with(" throttle"))
        .map(|(_, n)| n)
        .sum();
    run.recorded = snapshot_records(&seeded).await;
    run.tally = tally;
    println!(
        "  snapshot handler {:>8.1} s in {} invocation(s)  floor {:>6.1} s  pace floor {:>6.1} s  RDS calls {} (min {})  throttled {}  recorded {}  {:?}{}",
        run.handler_ms.unwrap_or(0.0) / 1000.0,
        run.invocations,
        run.floor_ms / 1000.0,
        run.pace_floor_ms / 1000.0,
        run.rds_calls,
        run.rds_minimum,
        run.throttled,
        run.recorded,
        run.outcomes,
        run.error
            .as_deref()
            .map(|e| format!("  ERROR {}", e.chars().take(300).collect::<String>()))
            .unwrap_or_default(),
    );
    run
}

/// The snapshot records in the seeded account's catalog.
async fn snapshot_records(seeded: &crate::fleet::Seeded) -> u64 {
    let clients =
        lifeboat::aws::clients::Clients::from_sdk_config(seeded.account.sdk_config(crate::REGION));
    let catalog = lifeboat::aws::catalog::Catalog::new(clients.s3().clone(), &seeded.bucket, "");
    catalog
        .list("snapshots/", usize::MAX)
        .await
        .map_or(0, |keys| keys.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_and_paces_read_as_rds_states_them() {
        assert_eq!("300,12".parse::<Throttle>(), Ok(Throttle::RDS));
        assert!("300".parse::<Throttle>().is_err());
        assert!("0,12".parse::<Throttle>().is_err());
        assert_eq!(
            paces("8/150, 11.5/300"),
            Ok(vec![Pace::PRODUCTION, Pace::FLOOR])
        );
        assert!(paces("8").is_err());
    }

    #[test]
    fn the_throttle_floor_counts_only_calls_past_the_burst() {
        assert_eq!(floor_s(200, 300, 12.0), 0.0);
        assert_eq!(floor_s(1500, 300, 12.0), 100.0);
    }
}
