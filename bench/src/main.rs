//! `lifeboat-bench`: measures the release `lifeboat-snapshot` and
//! `lifeboat-copy` against moto, as Lambda runs them, for fleets of 10, 100
//! and 1,000 DB instances, with and without network latency, and holds each
//! run to the floor its fleet allows; then `lifeboat-snapshot` at RDS's real
//! API throttle for fleets of 600 and 2,000 (`throttled`); and the cold
//! starts of every function against a bare `lambda_runtime` function
//! (`init`).
//!
//! Writes `bench/results/latest.md` and `latest.json` and prints the
//! tables. Timings are reported, never asserted. `scripts/bench` runs it.

// A benchmark harness: a failed set-up step should stop it with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fleet;
mod floor;
mod init;
mod rate;
mod report;
mod throttled;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use lifeboat_tests::proxy::{self, Proxy};
use lifeboat_tests::runtime::{run_chained, run_function, Run};
use lifeboat_tests::{binaries, moto, Account};
use serde_json::{json, Value};

use crate::floor::Fleet;
use crate::rate::Serving;
use crate::report::{Binary, Machine, Report, RunReport};
use crate::throttled::{Pace, Throttle};

const REGION: &str = "us-east-1";
const USAGE: &str = "usage: lifeboat-bench [--latency-ms 40] [--connect-latency-ms <latency>] \
    [--sizes 10,100,1000|none] [--concurrency 16] [--dr-region us-west-2] [--rate-calls 400] [--repeat 3] \
    [--throttled-sizes 600,2000,10000|none] [--rds-throttle 300,12] [--paces 8/150,11.5/300] \
    [--throttled-repeat 1] [--init-rounds 30] \
    [--out bench/results] [--bin-dir <dir with prebuilt lifeboat-* binaries>] \
    [--label <what was measured, instead of the commit>]
  --rds-throttle BURST,RATE   RDS's bucket the proxy enforces per region in throttled runs
                              (env LIFEBOAT_BENCH_RDS_THROTTLE; RDS: 300 calls, refilled at 12 a second)
  --paces RATE/BURST,...      the functions' own pace in throttled runs (LIFEBOAT_RDS_CALLS_PER_SECOND /
                              LIFEBOAT_RDS_BURST; env LIFEBOAT_BENCH_PACES)
  --throttled-sizes           fleets run behind the throttle (env LIFEBOAT_BENCH_THROTTLED_SIZES)";

struct Options {
    latency_ms: u64,
    connect_latency_ms: Option<u64>,
    sizes: Vec<u64>,
    concurrency: usize,
    dr_region: String,
    rate_calls: usize,
    /// Cold starts per fleet size and latency; the median is reported.
    repeat: usize,
    out: PathBuf,
    /// Prebuilt binaries to measure instead of building this tree's.
    bin_dir: Option<PathBuf>,
    /// What the measured code is, instead of this tree's commit.
    label: Option<String>,
    /// Fleets run behind RDS's throttle.
    throttled_sizes: Vec<u64>,
    /// The bucket the proxy enforces in those runs.
    throttle: Throttle,
    /// The functions' own pace in those runs, one run per pace.
    paces: Vec<Pace>,
    throttled_repeat: usize,
    /// Cold starts of each binary for the init table.
    init_rounds: usize,
}

/// A list of fleet sizes, or `none`.
fn sizes(value: &str, flag: &str) -> Result<Vec<u64>, String> {
    if value.trim() == "none" || value.trim().is_empty() {
        return Ok(Vec::new());
    }
    let sizes: Vec<u64> = value
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("{flag}: {s:?} is not a whole number"))
        })
        .collect::<Result<_, _>>()?;
    if sizes.contains(&0) {
        return Err(format!("{flag}: give fleet sizes above zero, or none"));
    }
    Ok(sizes)
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        latency_ms: 40,
        connect_latency_ms: None,
        sizes: vec![10, 100, 1000],
        concurrency: 16,
        dr_region: "us-west-2".to_string(),
        rate_calls: 400,
        repeat: 3,
        out: moto::repo_root().join("bench/results"),
        bin_dir: None,
        label: None,
        throttled_sizes: vec![600, 2000, 10_000],
        throttle: Throttle::RDS,
        paces: vec![Pace::PRODUCTION, Pace::FLOOR],
        throttled_repeat: 1,
        init_rounds: 30,
    };
    let from_env = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
    if let Some(v) = from_env("LIFEBOAT_BENCH_THROTTLED_SIZES") {
        o.throttled_sizes = sizes(&v, "LIFEBOAT_BENCH_THROTTLED_SIZES")?;
    }
    if let Some(v) = from_env("LIFEBOAT_BENCH_RDS_THROTTLE") {
        o.throttle = v.parse()?;
    }
    if let Some(v) = from_env("LIFEBOAT_BENCH_PACES") {
        o.paces = throttled::paces(&v)?;
    }
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: {v:?} is not a whole number"))
        };
        match flag.as_str() {
            "--latency-ms" => o.latency_ms = number(&value)?,
            "--connect-latency-ms" => o.connect_latency_ms = Some(number(&value)?),
            "--sizes" => o.sizes = sizes(&value, &flag)?,
            "--throttled-sizes" => o.throttled_sizes = sizes(&value, &flag)?,
            "--rds-throttle" => o.throttle = value.parse()?,
            "--paces" => o.paces = throttled::paces(&value)?,
            "--throttled-repeat" => o.throttled_repeat = number(&value)?.max(1) as usize,
            "--init-rounds" => o.init_rounds = number(&value)? as usize,
            "--concurrency" => o.concurrency = number(&value)? as usize,
            "--dr-region" => o.dr_region = value,
            "--rate-calls" => o.rate_calls = number(&value)? as usize,
            "--repeat" => o.repeat = number(&value)?.max(1) as usize,
            "--out" => o.out = PathBuf::from(value),
            "--bin-dir" => o.bin_dir = Some(PathBuf::from(value)),
            "--label" => o.label = Some(value),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if o.paces.is_empty() && !o.throttled_sizes.is_empty() {
        return Err("--paces: give at least one pace for the throttled runs".to_string());
    }
    if !(1..=64).contains(&o.concurrency) {
        return Err("--concurrency: 1 to 64, as LIFEBOAT_CONCURRENCY allows".to_string());
    }
    Ok(o)
}

/// The fastest pace the setting allows: far above what moto serves, for
/// the runs without RDS's throttle.
const UNPACED: Pace = Pace {
    calls_per_second: 1000.0,
    burst: lifeboat::lambda::config::DEFAULT_RDS_BURST,
};

fn main() {
    let options = options().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    if std::env::var(moto::ENDPOINT_VAR).is_err() {
        // moto counts automated snapshots (one per instance) against its
        // manual snapshot quota of 1,000: a fleet of 1,000 would hit it
        // before its first snapshot. Real accounts that size have the quota
        // raised too. The moto started later inherits this; set here, while
        // this process has one thread.
        if std::env::var("MOTO_RDS_SNAPSHOT_LIMIT").is_err() {
            std::env::set_var("MOTO_RDS_SNAPSHOT_LIMIT", "1000000");
        }
        println!("Starting moto on 127.0.0.1 ...");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(run(options));
}

async fn run(options: Options) {
    let endpoint = moto::endpoint().to_string();
    println!("moto: {endpoint}");

    let functions = workspace_functions();
    let (snapshot_bin, copy_bin, bare_bin, binaries) = match &options.bin_dir {
        Some(dir) => {
            let sizes = functions
                .iter()
                .filter_map(|f| {
                    let name = format!("lifeboat-{f}");
                    let bytes = std::fs::metadata(dir.join(&name)).ok()?.len();
                    Some(Binary { name, bytes })
                })
                .collect();
            let bare = dir.join(init::BARE);
            let bare = if bare.is_file() {
                bare
            } else {
                binaries::function("bench-bare", true)
            };
            (
                dir.join("lifeboat-snapshot"),
                dir.join("lifeboat-copy"),
                bare,
                sizes,
            )
        }
        None => {
            println!("Building the release binaries (several minutes the first time) ...");
            let snapshot_bin = binaries::function("snapshot", true);
            let copy_bin = binaries::function("copy", true);
            let bare_bin = binaries::function("bench-bare", true);
            let release_dir = snapshot_bin
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let sizes = function_sizes(&release_dir, &functions);
            (snapshot_bin, copy_bin, bare_bin, sizes)
        }
    };
    for bin in [&snapshot_bin, &copy_bin, &bare_bin] {
        assert!(bin.is_file(), "{} not found", bin.display());
    }
    let bin_dir = snapshot_bin
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();

    // Measured from here: building is not part of the run.
    let began = Instant::now();

    // Cold starts first, while moto is idle: the function binaries in
    // turns with the bare runtime.
    let mut starters: Vec<(String, PathBuf)> = vec![(init::BARE.to_string(), bare_bin.clone())];
    starters.extend(
        binaries
            .iter()
            .map(|b| (b.name.clone(), bin_dir.join(&b.name))),
    );
    println!(
        "\ncold starts: {} of each of {} binaries ...",
        options.init_rounds,
        starters.len()
    );
    let init_env = init::env(&endpoint, REGION, &options.dr_region);
    let rounds = options.init_rounds;
    let init = tokio::task::spawn_blocking(move || init::measure(&starters, &init_env, rounds))
        .await
        .expect("the cold start thread");
    for t in &init {
        println!(
            "  {:<22} init median {:>6.2} ms (p10 {:.2}, p90 {:.2}){}",
            t.name,
            t.median().unwrap_or(0.0),
            t.p10().unwrap_or(0.0),
            t.p90().unwrap_or(0.0),
            t.failed
                .first()
                .map(|e| format!("  FAILED {}: {e}", t.failed.len()))
                .unwrap_or_default()
        );
    }

    let mut latencies = vec![0];
    if options.latency_ms > 0 {
        latencies.push(options.latency_ms);
    }
    // A new connection costs a TCP and a TLS handshake on real AWS: about
    // one more round trip, by default the request latency.
    let connect = |l: u64| {
        options
            .connect_latency_ms
            .map_or(l, |c| if l == 0 { 0 } else { c })
    };
    let proxies: Vec<Proxy> = latencies
        .iter()
        .map(|&l| {
            Proxy::start(
                &endpoint,
                Duration::from_millis(l),
                Duration::from_millis(connect(l)),
            )
            .expect("start the proxy")
        })
        .collect();

    let mut serving = Vec::new();
    for proxy in &proxies {
        let s = rate::measure(proxy, REGION, options.concurrency, options.rate_calls).await;
        println!(
            "serving rate at {} ms: {:.0} calls/s with {} in flight, one call {:.1} ms",
            s.latency_ms, s.rate_per_s, s.concurrency, s.one_call_ms
        );
        serving.push(s);
    }

    // moto loads each service's code on its first use: one small round,
    // not reported, so that the first measured run does not pay for it.
    println!("\nwarm-up (not reported):");
    snapshot_then_copy(
        &options,
        &Fleet::of_size(10),
        &proxies[0],
        &serving[0],
        &snapshot_bin,
        &copy_bin,
    )
    .await;

    let mut runs = Vec::new();
    for &size in &options.sizes {
        let fleet = Fleet::of_size(size);
        for (proxy, serving) in proxies.iter().zip(&serving) {
            let mut snapshots = Vec::new();
            let mut copies = Vec::new();
            for _ in 0..options.repeat {
                let (snapshot, copy) =
                    snapshot_then_copy(&options, &fleet, proxy, serving, &snapshot_bin, &copy_bin)
                        .await;
                snapshots.push(snapshot);
                copies.push(copy);
            }
            runs.push(RunReport::median(snapshots));
            runs.push(RunReport::median(copies));
        }
    }

    let throttled = if options.throttled_sizes.is_empty() {
        Vec::new()
    } else {
        // Its own proxy, at the larger latency: the throttle's state is
        // the proxy's, and the unthrottled runs are done with theirs.
        let latency = *latencies.last().unwrap_or(&0);
        let proxy = Proxy::start(
            &endpoint,
            Duration::from_millis(latency),
            Duration::from_millis(connect(latency)),
        )
        .expect("start the throttling proxy");
        let serving = rate::measure(&proxy, REGION, options.concurrency, options.rate_calls).await;
        throttled::run_all(&options, &proxy, &serving, &snapshot_bin).await
    };

    let report = Report {
        date: Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        command: command_line(),
        commit: match (&options.label, &options.bin_dir) {
            (Some(label), _) => label.clone(),
            (None, Some(dir)) => format!("binaries from {}, bench at {}", dir.display(), commit()),
            (None, None) => commit(),
        },
        machine: machine(),
        moto_version: moto_version(),
        region: REGION.to_string(),
        dr_region: options.dr_region.clone(),
        concurrency: options.concurrency,
        repeat: options.repeat,
        latencies_ms: latencies.clone(),
        connect_latencies_ms: latencies.iter().map(|&l| connect(l)).collect(),
        profile: release_profile(),
        binaries,
        init,
        init_rounds: options.init_rounds,
        serving,
        runs,
        throttle: options.throttle,
        throttled,
        duration_s: began.elapsed().as_secs_f64(),
    };
    let markdown = report::markdown(&report);
    std::fs::create_dir_all(&options.out)
        .unwrap_or_else(|e| panic!("create {}: {e}", options.out.display()));
    let md_path = options.out.join("latest.md");
    let json_path = options.out.join("latest.json");
    std::fs::write(&md_path, &markdown)
        .unwrap_or_else(|e| panic!("write {}: {e}", md_path.display()));
    let json = serde_json::to_string_pretty(&report).expect("the report serialises");
    std::fs::write(&json_path, json + "\n")
        .unwrap_or_else(|e| panic!("write {}: {e}", json_path.display()));
    println!("\n{markdown}");
    println!("Written: {} and {}", md_path.display(), json_path.display());
}

/// The environment a function needs to act in `seeded`'s account through
/// `proxy`, paced at `pace`.
fn function_env(
    options: &Options,
    seeded: &fleet::Seeded,
    proxy: &Proxy,
    pace: Pace,
) -> Vec<(String, String)> {
    let function_account = Account {
        endpoint: proxy.url(),
        ..seeded.account.clone()
    };
    let mut env = function_account.env(REGION);
    env.push(("LIFEBOAT_CATALOG_BUCKET".into(), seeded.bucket.clone()));
    env.push((
        "LIFEBOAT_CONCURRENCY".into(),
        options.concurrency.to_string(),
    ));
    env.push((
        "LIFEBOAT_RDS_CALLS_PER_SECOND".into(),
        pace.calls_per_second.to_string(),
    ));
    env.push(("LIFEBOAT_RDS_BURST".into(), pace.burst.to_string()));
    env
}

/// The nightly schedule's event for a run tagged `tag` in `account`.
fn scheduled_event(tag: &str, account: &str) -> Value {
    let now = Utc::now().trunc_subsecs(0);
    json!({
        "version": "0",
        "id": format!("bench-{tag}-{}", now.timestamp()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{account}:rule/lifeboat-nightly")],
        "detail": {}
    })
}

/// Seeds `fleet` in a fresh account, then runs a cold `lifeboat-snapshot`
/// on a schedule and a cold `lifeboat-copy` reconcile through `proxy`.
async fn snapshot_then_copy(
    options: &Options,
    fleet: &Fleet,
    proxy: &Proxy,
    serving: &Serving,
    snapshot_bin: &Path,
    copy_bin: &Path,
) -> (RunReport, RunReport) {
    let size = fleet.instances;
    let started = Instant::now();
    let seeded = fleet::seed(fleet, REGION, &options.dr_region).await;
    let seed_s = started.elapsed().as_secs_f64();
    println!(
        "\nfleet {size} ({} instances, {} clusters), {} ms: seeded in {seed_s:.1} s",
        fleet.all_instances(),
        fleet.clusters,
        serving.latency_ms
    );
    // moto has no API throttle: unpaced, the run measures the handler
    // against moto's own floor.
    let env = function_env(options, &seeded, proxy, UNPACED);
    let event = scheduled_event(
        &format!("{size}-{}", serving.latency_ms),
        &seeded.account.id,
    );
    let snapshot = invoke(proxy, snapshot_bin, env.clone(), event).await;
    let snapshot = run_report(
        "snapshot",
        fleet,
        serving,
        seed_s,
        snapshot,
        floor::snapshot(fleet),
    );

    let mut copy_env = env;
    copy_env.push(("LIFEBOAT_DR_REGIONS".into(), options.dr_region.clone()));
    copy_env.push((
        "LIFEBOAT_DR_CATALOG_BUCKETS".into(),
        format!("{}={}", options.dr_region, seeded.dr_bucket),
    ));
    let copy = invoke(proxy, copy_bin, copy_env, json!({})).await;
    let copy = run_report("copy", fleet, serving, seed_s, copy, floor::copy(fleet));
    (snapshot, copy)
}

/// What one cold start showed: the run, the calls it made, and the CPU
/// time the process used (user and system), ms.
type Invoked = (Run, proxy::Tally, Option<f64>);

/// Lambda's longest timeout: what a throttled run's invocations get.
const LAMBDA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(900);

/// One cold start of `binary` with `event`, every AWS call through
/// `proxy`, carried on as the runs state machine carries a run that
/// outlasts an invocation: the first invocation hands the rest to an
/// execution of `machine` (a real `StartExecution` against moto), whose
/// input is the next event, and each answer's `continuation` the one after,
/// in the same process (a warm start, as Lambda would most often give).
async fn invoke_run(
    proxy: &Proxy,
    binary: &std::path::Path,
    env: Vec<(String, String)>,
    event: Value,
    machine: std::sync::Arc<lifeboat_tests::runs::RunStateMachine>,
) -> Invoked {
    proxy.take();
    let binary = binary.to_path_buf();
    let handle = tokio::runtime::Handle::current();
    let (run, cpu_ms) = tokio::task::spawn_blocking(move || {
        let before = children_cpu_ms();
        let next = |done: &lifeboat_tests::runtime::Invocation| -> Option<Value> {
            let answer = done.result.as_ref().ok()?;
            if done.event.get("continue").is_some() {
                return answer
                    .get("continuation")
                    .filter(|next| !next.is_null())
                    .cloned();
            }
            answer["run"]["execution"].as_str()?;
            let run_id = answer["run"]["id"].as_str()?.to_string();
            handle.block_on(machine.input_of(&run_id))
        };
        let run = run_chained(&binary, &env, LAMBDA_TIMEOUT, vec![event], next);
        let cpu_ms = before.zip(children_cpu_ms()).map(|(b, a)| a - b);
        (run, cpu_ms)
    })
    .await
    .expect("the runtime API thread");
    (run, proxy.take(), cpu_ms)
}

/// One cold start of `binary` with one event, every AWS call through
/// `proxy`; what it showed and the calls it made.
async fn invoke(
    proxy: &Proxy,
    binary: &std::path::Path,
    env: Vec<(String, String)>,
    event: Value,
) -> Invoked {
    proxy.take();
    let binary = binary.to_path_buf();
    let (run, cpu_ms) = tokio::task::spawn_blocking(move || {
        let before = children_cpu_ms();
        let run = run_function(&binary, &env, &[event]);
        // The process has been waited for: its CPU time is in this
        // process's count of its children's.
        let cpu_ms = before.zip(children_cpu_ms()).map(|(b, a)| a - b);
        (run, cpu_ms)
    })
    .await
    .expect("the runtime API thread");
    // The process has ended: every call it made has been counted.
    (run, proxy.take(), cpu_ms)
}

/// CPU time (user and system) of this process's children that have ended
/// and been waited for, ms: `cutime` and `cstime` of `/proc/self/stat`.
fn children_cpu_ms() -> Option<f64> {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        output("getconf", &["CLK_TCK"])
            .and_then(|t| t.parse().ok())
            .unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), from the
    // third: cutime and cstime are the 16th and 17th.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let cutime: f64 = fields.get(13)?.parse().ok()?;
    let cstime: f64 = fields.get(14)?.parse().ok()?;
    Some((cutime + cstime) * 1000.0 / ticks)
}

fn run_report(
    function: &str,
    fleet: &Fleet,
    serving: &Serving,
    seed_s: f64,
    (run, tally, cpu_ms): Invoked,
    minimum: floor::Minimum,
) -> RunReport {
    let invocation = run.invocations.first();
    let mut outcomes = BTreeMap::new();
    let mut error = run.init_error.clone();
    if let Some(inv) = invocation {
        match &inv.result {
            Ok(summary) => {
                for (k, v) in summary["counts"].as_object().into_iter().flatten() {
                    outcomes.insert(k.clone(), v.as_u64().unwrap_or(0));
                }
            }
            Err(_) => error = Some(inv.error_message()),
        }
    }
    let handler_ms = invocation.map(|i| i.handler_time.as_secs_f64() * 1000.0);
    let floor_ms = floor::floor_ms(
        &minimum,
        serving.rate_per_s,
        serving.one_call_ms,
        serving.connect_latency_ms as f64,
    );
    let report = RunReport {
        function: function.to_string(),
        size: fleet.instances,
        fleet: *fleet,
        latency_ms: serving.latency_ms,
        seed_s,
        init_ms: run.init_time.map(|t| t.as_secs_f64() * 1000.0),
        handler_ms,
        handler_ms_all: handler_ms.into_iter().collect(),
        cpu_ms,
        peak_rss_kib: run.peak_rss_kib,
        outcomes,
        error,
        one_at_a_time_ms: minimum.total() as f64 * serving.one_call_ms,
        ratio: handler_ms.map(|h| h / floor_ms),
        floor_ms,
        minimum,
        tally,
    };
    println!(
        "  {function:<8} init {:>7.1} ms  handler {:>8.1} ms  cpu {:>7.0} ms  floor {:>8.1} ms  rss {:>6} KiB  calls {:>5} (min {:>5})  conns {:>3}  {:?}{}",
        report.init_ms.unwrap_or(0.0),
        report.handler_ms.unwrap_or(0.0),
        report.cpu_ms.unwrap_or(0.0),
        report.floor_ms,
        report.peak_rss_kib.unwrap_or(0),
        report.tally.requests,
        report.minimum.total(),
        report.tally.connections,
        report.outcomes,
        report
            .error
            .as_deref()
            .map(|e| format!("  ERROR {}", e.chars().take(300).collect::<String>()))
            .unwrap_or_default(),
    );
    if let Some(e) = &report.error {
        if e.contains("SnapshotQuotaExceeded") {
            eprintln!(
                "  moto's manual snapshot quota was hit: start moto with MOTO_RDS_SNAPSHOT_LIMIT \
                 raised (scripts/bench does)"
            );
        }
    }
    report
}

/// The workspace's function crates (`functions/<name>`), by name.
fn workspace_functions() -> Vec<String> {
    let manifest =
        std::fs::read_to_string(moto::repo_root().join("Cargo.toml")).unwrap_or_default();
    let mut functions: Vec<String> = manifest
        .split('"')
        .filter_map(|s| s.strip_prefix("functions/"))
        .filter(|f| !f.is_empty() && !f.contains('/'))
        .map(str::to_string)
        .collect();
    functions.sort();
    functions.dedup();
    functions
}

/// Sizes of the release function binaries: every function of the
/// workspace that builds (one being written may not).
fn function_sizes(release_dir: &Path, functions: &[String]) -> Vec<Binary> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    functions
        .iter()
        .filter_map(|f| {
            let bin = format!("lifeboat-{f}");
            let built = Command::new(&cargo)
                .current_dir(moto::repo_root())
                .args([
                    "build",
                    "--release",
                    "--quiet",
                    "--package",
                    &bin,
                    "--bin",
                    &bin,
                ])
                .status()
                .is_ok_and(|s| s.success());
            if !built {
                eprintln!("{bin} does not build; its size is left out");
                return None;
            }
            let bytes = std::fs::metadata(release_dir.join(&bin)).ok()?.len();
            Some(Binary { name: bin, bytes })
        })
        .collect()
}

/// The `[profile.release]` settings of the root `Cargo.toml`, on one line.
fn release_profile() -> String {
    let manifest =
        std::fs::read_to_string(moto::repo_root().join("Cargo.toml")).unwrap_or_default();
    manifest
        .lines()
        .skip_while(|l| l.trim() != "[profile.release]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| format!("`{l}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        "scripts/bench".to_string()
    } else {
        let quoted: Vec<String> = args
            .iter()
            .map(|a| {
                if a.chars()
                    .any(|c| c.is_whitespace() || "\"'#$&;<>|*?()".contains(c))
                {
                    format!("'{}'", a.replace('\'', "'\\''"))
                } else {
                    a.clone()
                }
            })
            .collect();
        format!("scripts/bench {}", quoted.join(" "))
    }
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(moto::repo_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn commit() -> String {
    let Some(head) = output("git", &["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_string();
    };
    let dirty = output("git", &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head} (with uncommitted changes)")
    } else {
        head
    }
}

fn moto_version() -> String {
    let python = moto::repo_root().join(".venv/bin/python");
    output(
        &python.to_string_lossy(),
        &["-c", "import moto; print(moto.__version__)"],
    )
    .unwrap_or_else(|| "unknown".to_string())
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".to_string());
    let memory_kib: f64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    Machine {
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu,
        memory_gib: memory_kib / 1024.0 / 1024.0,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}
