//! The results: one JSON document with everything measured, and the
//! markdown tables made from it.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::floor::{Fleet, Minimum};
use crate::init::{InitTimes, BARE};
use crate::rate::Serving;
use crate::throttled::{Throttle, ThrottledRun, LAMBDA_LIMIT_S};
use lifeboat_tests::proxy::Tally;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date: String,
    pub command: String,
    pub commit: String,
    pub machine: Machine,
    pub moto_version: String,
    pub region: String,
    pub dr_region: String,
    pub concurrency: usize,
    /// Cold starts per fleet size and latency.
    pub repeat: usize,
    pub latencies_ms: Vec<u64>,
    pub connect_latencies_ms: Vec<u64>,
    /// The release profile the binaries were built with, as the root
    /// `Cargo.toml` states it.
    pub profile: String,
    pub binaries: Vec<Binary>,
    /// Cold starts alone, the bare runtime's first.
    pub init: Vec<InitTimes>,
    pub init_rounds: usize,
    pub serving: Vec<Serving>,
    pub runs: Vec<RunReport>,
    /// The bucket the proxy enforced in the throttled runs.
    pub throttle: Throttle,
    pub throttled: Vec<ThrottledRun>,
    pub duration_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub memory_gib: f64,
    pub kernel: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Binary {
    pub name: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `snapshot` or `copy`.
    pub function: String,
    pub size: u64,
    pub fleet: Fleet,
    pub latency_ms: u64,
    pub seed_s: f64,
    pub init_ms: Option<f64>,
    pub handler_ms: Option<f64>,
    /// Every repetition's handler time, in order of size; `handler_ms` is
    /// their median's.
    pub handler_ms_all: Vec<f64>,
    /// CPU time of the process, user and system, cold start included.
    pub cpu_ms: Option<f64>,
    pub peak_rss_kib: Option<u64>,
    /// The summary's `counts`: outcomes by kind.
    pub outcomes: BTreeMap<String, u64>,
    /// Set when the invocation failed or the process did not start.
    pub error: Option<String>,
    pub tally: Tally,
    pub minimum: Minimum,
    pub floor_ms: f64,
    /// Handler time over floor.
    pub ratio: Option<f64>,
    /// The minimum calls made one after another at this latency.
    pub one_at_a_time_ms: f64,
}

impl RunReport {
    /// The repetition with the median handler time (a failed one counts as
    /// the slowest), with every repetition's handler time.
    pub fn median(mut runs: Vec<RunReport>) -> RunReport {
        let key = |r: &RunReport| r.handler_ms.unwrap_or(f64::INFINITY);
        runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
        let all: Vec<f64> = runs.iter().filter_map(|r| r.handler_ms).collect();
        let middle = runs.len() / 2;
        let mut median = runs.swap_remove(middle);
        median.handler_ms_all = all;
        median
    }

    /// Calls by operation, all regions together, in the minimum's order
    /// and then any others.
    pub fn calls_by_operation(&self) -> Vec<(String, u64, u64)> {
        let mut observed: BTreeMap<String, u64> = BTreeMap::new();
        for (call, n) in &self.tally.calls {
            *observed.entry(call.operation.clone()).or_insert(0) += n;
        }
        let mut rows = Vec::new();
        for (op, min) in &self.minimum.calls {
            rows.push((op.to_string(), observed.remove(*op).unwrap_or(0), *min));
        }
        rows.extend(observed.into_iter().map(|(op, n)| (op, n, 0)));
        rows
    }
}

fn ms(value: Option<f64>) -> String {
    match value {
        None => "–".to_string(),
        Some(v) if v >= 10_000.0 => format!("{:.1} s", v / 1000.0),
        Some(v) if v >= 100.0 => format!("{v:.0} ms"),
        Some(v) => format!("{v:.1} ms"),
    }
}

fn seconds(ms: f64) -> String {
    format!("{:.1} s", ms / 1000.0)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("–".to_string(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    })
}

/// The median handler time, and the range when there were repetitions
/// (in the median's unit).
fn handler(run: &RunReport) -> String {
    let median = ms(run.handler_ms);
    match run.handler_ms_all.as_slice() {
        [first, .., last] => {
            let seconds = run.handler_ms.is_some_and(|m| m >= 10_000.0);
            let bare = |v: f64| {
                if seconds {
                    format!("{:.1}", v / 1000.0)
                } else if v >= 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            };
            format!("{median} ({}–{})", bare(*first), bare(*last))
        }
        _ => median,
    }
}

fn fleet_label(fleet: &Fleet) -> String {
    let clusters = if fleet.clusters == 1 {
        "1 cluster".to_string()
    } else {
        format!("{} clusters", fleet.clusters)
    };
    format!("{} + {clusters}", fleet.instances)
}

fn outcomes(run: &RunReport) -> String {
    outcomes_text(&run.outcomes, run.error.as_deref())
}

fn outcomes_text(outcomes: &BTreeMap<String, u64>, error: Option<&str>) -> String {
    let mut text = outcomes
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(e) = error {
        if !text.is_empty() {
            text.push_str("; ");
        }
        let short: String = e.chars().take(120).collect();
        text.push_str(&format!("**error**: {}", short.replace('|', "\\|")));
    }
    text
}

const FUNCTIONS: [(&str, &str); 2] = [
    (
        "snapshot",
        "`lifeboat-snapshot`, EventBridge `Scheduled Event`",
    ),
    (
        "copy",
        "`lifeboat-copy`, `{}` (reconcile) into the DR region",
    ),
];

pub fn markdown(report: &Report) -> String {
    let mut md = String::new();
    let m = &report.machine;
    let _ = writeln!(md, "# Lifeboat benchmark\n");
    let _ = writeln!(
        md,
        "{} · code {} · {} CPUs ({}), {:.0} GiB, Linux {} · moto {} · `LIFEBOAT_CONCURRENCY={}` · \
         source {} → DR {} · measuring took {:.0} s\n",
        report.date,
        report.commit,
        m.nproc,
        m.cpu,
        m.memory_gib,
        m.kernel,
        report.moto_version,
        report.concurrency,
        report.region,
        report.dr_region,
        report.duration_s,
    );
    let _ = writeln!(md, "`{}`\n", report.command);
    let _ = writeln!(
        md,
        "Each row is {} cold start(s) of a release binary, run as Lambda runs it (a local \
         Lambda Runtime API), each in a freshly seeded moto account, every AWS call going \
         through a proxy that adds the stated latency per request (and per new connection: {} \
         ms). A fleet \
         of *n* is *n* DB instances (one in ten without the `lifeboat:backup=true` tag) plus \
         *n*/20 Aurora clusters (at least one) of 2 members each. `copy` runs after `snapshot` \
         on the same fleet; RDS lets at most 20 DB snapshot and 5 DB cluster snapshot copies be \
         in progress per region, so it starts that many and defers the rest.\n",
        report.repeat,
        report
            .connect_latencies_ms
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    );
    let _ = writeln!(
        md,
        "**init**: process start to the first poll of the runtime API. **handler**: event \
         handed out to result received; the median of the repetitions (each a fresh account \
         and a cold start), their range in brackets. **floor**: max(minimum calls ÷ serving rate, critical \
         path × one call + one new connection), the least any implementation could take \
         against this emulator at this latency (the critical path: the pages of the longest \
         listing, then create or copy, then its records, then the event batch, then the run's \
         record); **× floor** is \
         handler ÷ floor. **one at a time**: the minimum calls \
         made one after another (minimum calls × one call), what the same work costs without \
         concurrency. **CPU**: the function process's CPU time, user and system, cold start \
         included. **calls**: requests the proxy saw (the minimum in brackets). **conns**: \
         TCP connections the function opened.\n"
    );

    md.push_str(&init_table(report));

    for (function, title) in FUNCTIONS {
        let runs: Vec<&RunReport> = report
            .runs
            .iter()
            .filter(|r| r.function == function)
            .collect();
        if runs.is_empty() {
            continue;
        }
        let _ = writeln!(md, "## {title}\n");
        let _ = writeln!(
            md,
            "| fleet | latency | init | handler | floor | × floor | one at a time | CPU | peak RSS | calls (min) | conns | outcomes |"
        );
        let _ = writeln!(md, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
        for r in &runs {
            let _ = writeln!(
                md,
                "| {} | {} ms | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {} |",
                fleet_label(&r.fleet),
                r.latency_ms,
                ms(r.init_ms),
                handler(r),
                ms(Some(r.floor_ms)),
                r.ratio.map_or("–".to_string(), |x| format!("{x:.2}")),
                ms(Some(r.one_at_a_time_ms)),
                ms(r.cpu_ms),
                mib(r.peak_rss_kib),
                r.tally.requests,
                r.minimum.total(),
                r.tally.connections,
                outcomes(r),
            );
        }
        let _ = writeln!(md);
        md.push_str(&calls_table(&runs));
        md.push_str(&timing_table(&runs));
    }

    md.push_str(&throttled_table(report));

    let _ = writeln!(md, "## Emulator serving rate through the proxy\n");
    let _ = writeln!(
        md,
        "`DescribeDBClusters` in an empty account, {} calls with {} in flight, and one at a time \
         (median). At latency L, concurrency C and emulator time s per call the rate is about \
         min(moto's own rate, C ÷ (L + s)).\n",
        report.serving.first().map_or(0, |s| s.calls),
        report.concurrency
    );
    let _ = writeln!(md, "| latency | calls/s | one call |");
    let _ = writeln!(md, "|--:|--:|--:|");
    for s in &report.serving {
        let _ = writeln!(
            md,
            "| {} ms | {:.0} | {} |",
            s.latency_ms,
            s.rate_per_s,
            ms(Some(s.one_call_ms))
        );
    }
    let _ = writeln!(md);

    let _ = writeln!(md, "## Binaries\n");
    let _ = writeln!(md, "`[profile.release]`: {}\n", report.profile);
    let _ = writeln!(md, "| binary | size |");
    let _ = writeln!(md, "|---|--:|");
    for b in &report.binaries {
        let _ = writeln!(
            md,
            "| `{}` | {:.2} MiB ({} bytes) |",
            b.name,
            b.bytes as f64 / 1024.0 / 1024.0,
            b.bytes
        );
    }
    md
}

/// The cold starts alone: each binary's init against the bare runtime's.
fn init_table(report: &Report) -> String {
    let mut md = String::new();
    if report.init.is_empty() {
        return md;
    }
    let bare = report
        .init
        .iter()
        .find(|t| t.name == BARE)
        .and_then(InitTimes::median);
    let _ = writeln!(md, "## Cold starts\n");
    let _ = writeln!(
        md,
        "Each binary started {} times, in turns with the others (so whatever else the machine \
         was doing fell on all alike), with the settings it needs and no event: process start \
         to the first poll of the runtime API. `{BARE}` is a bare `lambda_runtime` function \
         (tokio and the runtime, echoing its event), the least a Rust function's init can be \
         here; **× bare** is the median over the bare function's median.\n",
        report.init_rounds
    );
    let _ = writeln!(md, "| binary | size | init (median) | p10–p90 | × bare |");
    let _ = writeln!(md, "|---|--:|--:|--:|--:|");
    for t in &report.init {
        let size = report
            .binaries
            .iter()
            .find(|b| b.name == t.name)
            .map_or("–".to_string(), |b| {
                format!("{:.2} MiB", b.bytes as f64 / 1024.0 / 1024.0)
            });
        let range = match (t.p10(), t.p90()) {
            (Some(a), Some(b)) => format!("{a:.2}–{b:.2} ms"),
            _ => "–".to_string(),
        };
        let ratio = match (t.median(), bare) {
            (Some(m), Some(b)) if b > 0.0 => format!("{:.2}", m / b),
            _ => "–".to_string(),
        };
        let failed = if t.failed.is_empty() {
            String::new()
        } else {
            format!(" ({} failed to start)", t.failed.len())
        };
        let _ = writeln!(
            md,
            "| `{}`{failed} | {size} | {} | {range} | {ratio} |",
            t.name,
            t.median().map_or("–".to_string(), |m| format!("{m:.2} ms")),
        );
    }
    let _ = writeln!(md);
    md
}

/// `lifeboat-snapshot` behind RDS's throttle.
fn throttled_table(report: &Report) -> String {
    let mut md = String::new();
    if report.throttled.is_empty() {
        return md;
    }
    let t = report.throttle;
    let _ = writeln!(md, "## `lifeboat-snapshot` at RDS's API throttle\n");
    let _ = writeln!(
        md,
        "RDS throttles each account in each region with a bucket of API calls: {} in a burst, \
         refilled at {} a second, shared by every tool in the account. moto has no throttle, so \
         here the proxy enforces that bucket per region and answers `Throttling` (\"Rate \
         exceeded\") when it is empty. Each row is a freshly seeded fleet (seeded straight to \
         moto, past the proxy: instances 16 at a time, then the clusters) and a full bucket, as \
         after a quiet hour, with {} ms per request; the function runs at its own pace \
         (`LIFEBOAT_RDS_CALLS_PER_SECOND` / `LIFEBOAT_RDS_BURST`): the production default, and \
         just below the throttle with all of its burst, to show the floor. `copy` is not run \
         here: RDS's limits on copies in progress keep it to about 60 calls a run, inside the \
         burst.\n",
        t.burst,
        t.rate,
        report.throttled.first().map_or(0, |r| r.latency_ms),
    );
    let _ = writeln!(
        md,
        "**RDS calls**: the requests RDS would have counted (throttled ones included; the \
         minimum in brackets). **throttle floor**: (minimum RDS calls − {}) ÷ {} a second, the \
         least any caller could take for this fleet; **× floor** is handler ÷ that. **its pace \
         allows**: the same at the function's own pace and burst. **throttled**: answers \
         `Throttling`, and their share of the RDS calls. **recorded**: catalog records written. \
         **failed**: DBs whose snapshot failed.\n",
        t.burst, t.rate
    );
    let _ = writeln!(
        md,
        "| fleet | pace (calls/s, burst) | handler | invocations | throttle floor | × floor | its pace allows | RDS calls (min) | throttled | recorded | failed | CPU | peak RSS | outcomes |"
    );
    let _ = writeln!(
        md,
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
    );
    for r in &report.throttled {
        let pace = format!("{}/s, {}", r.pace.calls_per_second, r.pace.burst);
        if let Some(why) = &r.not_run {
            let _ = writeln!(
                md,
                "| {} | {pace} | not run | – | {} | – | {} | – ({}) | – | – | – | – | – | {why} |",
                fleet_label(&r.fleet),
                seconds(r.floor_ms),
                seconds(r.pace_floor_ms),
                r.rds_minimum,
            );
            continue;
        }
        let share = if r.rds_calls > 0 {
            format!(
                "{} ({:.1}%)",
                r.throttled,
                r.throttled as f64 * 100.0 / r.rds_calls as f64
            )
        } else {
            r.throttled.to_string()
        };
        let _ = writeln!(
            md,
            "| {} | {pace} | {} | {} | {} | {} | {} | {} ({}) | {share} | {} of {} | {} | {} | {} | {} |",
            fleet_label(&r.fleet),
            r.handler_ms.map_or("–".to_string(), seconds),
            r.invocations,
            seconds(r.floor_ms),
            r.ratio().map_or("–".to_string(), |x| format!("{x:.2}")),
            seconds(r.pace_floor_ms),
            r.rds_calls,
            r.rds_minimum,
            r.recorded,
            r.fleet.selected(),
            r.failures(),
            ms(r.cpu_ms),
            mib(r.peak_rss_kib),
            outcomes_text(&r.outcomes, r.error.as_deref()),
        );
    }
    let _ = writeln!(md);
    let longest = report
        .throttled
        .iter()
        .filter(|r| r.not_run.is_none())
        .filter_map(|r| r.handler_ms)
        .fold(0.0, f64::max);
    if longest > 0.0 {
        let _ = writeln!(
            md,
            "- **handler** is the run's handler time over all its **invocations**: each gets \
             Lambda's {:.0} s; a run whose RDS calls need longer stops starting DBs in time and \
             is carried on by the runs state machine (here its execution is played against \
             moto, each invocation in the same process). The longest run took {}.",
            LAMBDA_LIMIT_S,
            seconds(longest),
        );
    }
    let _ = writeln!(md);
    md
}

/// Where the time went in the largest fleet's runs: for each operation,
/// from its first request to its last answer (a span near one call's time
/// means its calls ran side by side; a long one, one after another), and
/// moto's own time answering them.
fn timing_table(runs: &[&RunReport]) -> String {
    let mut md = String::new();
    let Some(size) = runs.iter().map(|r| r.size).max() else {
        return md;
    };
    let largest: Vec<&&RunReport> = runs.iter().filter(|r| r.size == size).collect();
    let _ = writeln!(
        md,
        "Where the time went, fleet {size} (the median run): each operation from its first \
         request to its last answer, in ms after the function's first call, and moto's time \
         answering its calls, summed (with calls in flight together, that includes their \
         waiting for each other inside moto).\n"
    );
    let _ = write!(md, "| operation | calls |");
    for r in &largest {
        let _ = write!(md, " {} ms: first → last | in moto |", r.latency_ms);
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "|---|--:|{}", "--:|--:|".repeat(largest.len()));
    let mut order: Vec<(f64, String, u64)> = largest[0]
        .calls_by_operation()
        .into_iter()
        .filter(|(_, n, _)| *n > 0)
        .map(|(op, n, _)| {
            let first = largest[0].tally.timing.get(&op).map_or(0.0, |t| t.first_ms);
            (first, op, n)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (_, op, n) in order {
        let _ = write!(md, "| {op} | {n} |");
        for r in &largest {
            match r.tally.timing.get(&op) {
                Some(t) => {
                    let _ = write!(
                        md,
                        " {:.0} → {:.0} ({}) | {} |",
                        t.first_ms,
                        t.last_ms,
                        ms(Some(t.span_ms())),
                        ms(Some(t.emulator_ms))
                    );
                }
                None => {
                    let _ = write!(md, " – | – |");
                }
            }
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(md);
    md
}

/// Calls by operation for one function: a column per fleet size, from the
/// runs without added latency; runs with latency that made other calls
/// (retries, say) are listed under it.
fn calls_table(runs: &[&RunReport]) -> String {
    let mut md = String::new();
    let base: Vec<&&RunReport> = runs
        .iter()
        .filter(|r| r.latency_ms == runs[0].latency_ms)
        .collect();
    let mut operations: Vec<String> = Vec::new();
    for r in &base {
        for (op, _, _) in r.calls_by_operation() {
            if !operations.contains(&op) {
                operations.push(op);
            }
        }
    }
    let _ = write!(md, "| calls (minimum) |");
    for r in &base {
        let _ = write!(md, " fleet {} |", r.size);
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "|---|{}", "--:|".repeat(base.len()));
    for op in &operations {
        let _ = write!(md, "| {op} |");
        for r in &base {
            let (n, min) = r
                .calls_by_operation()
                .into_iter()
                .find(|(o, _, _)| o == op)
                .map_or((0, 0), |(_, n, min)| (n, min));
            let mark = if n > min { " ⚠" } else { "" };
            let _ = write!(md, " {n} ({min}){mark} |");
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(md);
    let mut notes = Vec::new();
    let differs = runs.iter().any(|r| {
        base.iter()
            .find(|b| b.size == r.size)
            .is_some_and(|b| b.calls_by_operation() != r.calls_by_operation())
    });
    if !differs {
        notes.push("The runs with added latency made the same calls.".to_string());
    }
    if runs.iter().all(|r| r.tally.failures.is_empty()) {
        notes.push("No call was refused or failed.".to_string());
    }
    for r in runs.iter().filter(|r| r.latency_ms != runs[0].latency_ms) {
        let same = base
            .iter()
            .find(|b| b.size == r.size)
            .is_some_and(|b| b.calls_by_operation() == r.calls_by_operation());
        if !same {
            let calls = r
                .calls_by_operation()
                .into_iter()
                .map(|(op, n, _)| format!("{op} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            notes.push(format!(
                "At {} ms, fleet {}: {calls}.",
                r.latency_ms, r.size
            ));
        }
        for (what, n) in &r.tally.failures {
            notes.push(format!(
                "At {} ms, fleet {}: {n} × {what}.",
                r.latency_ms, r.size
            ));
        }
    }
    for r in &base {
        for (what, n) in &r.tally.failures {
            notes.push(format!(
                "At {} ms, fleet {}: {n} × {what}.",
                r.latency_ms, r.size
            ));
        }
    }
    for r in &base {
        for (op, n, min) in r.calls_by_operation() {
            if n < min && n > 0 {
                notes.push(format!(
                    "Fleet {}: {op} took {n} calls where RDS needs {min}: moto answers it in one \
                     page whatever its length, RDS in pages of at most 100.",
                    r.size
                ));
            }
        }
    }
    for n in notes {
        let _ = writeln!(md, "- {n}");
    }
    let _ = writeln!(md);
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::floor;
    use lifeboat_tests::proxy::Call;

    fn run(latency_ms: u64, describes: u64) -> RunReport {
        let fleet = Fleet::of_size(10);
        let mut tally = Tally::default();
        let call = |operation: &str| Call {
            service: "rds".into(),
            region: "us-east-1".into(),
            operation: operation.into(),
        };
        tally.calls.insert(call("DescribeDBInstances"), describes);
        tally.calls.insert(call("CreateDBSnapshot"), 9);
        tally.requests = describes + 9;
        RunReport {
            function: "snapshot".into(),
            size: 10,
            fleet,
            latency_ms,
            seed_s: 0.1,
            init_ms: Some(6.0),
            handler_ms: Some(150.0),
            handler_ms_all: vec![150.0],
            cpu_ms: Some(40.0),
            peak_rss_kib: Some(12_000),
            outcomes: BTreeMap::from([("created".to_string(), 10)]),
            error: None,
            tally,
            minimum: floor::snapshot(&fleet),
            floor_ms: 75.0,
            ratio: Some(2.0),
            one_at_a_time_ms: 100.0,
        }
    }

    #[test]
    fn calls_above_the_minimum_are_flagged_and_differences_listed() {
        let runs = [run(0, 1), run(40, 12)];
        let refs: Vec<&RunReport> = runs.iter().collect();
        let table = calls_table(&refs);
        assert!(table.contains("| DescribeDBInstances | 1 (1) |"), "{table}");
        assert!(table.contains("| PutObject | 0 (11) |"), "{table}");
        assert!(
            table.contains("At 40 ms, fleet 10: DescribeDBInstances 12,"),
            "{table}"
        );
        let over = calls_table(&[&runs[1]]);
        assert!(
            over.contains("| DescribeDBInstances | 12 (1) ⚠ |"),
            "{over}"
        );
    }
}
