//! `lifeboat`, the operator's command line, run as the built binary against
//! moto, as an operator runs it: the stack's settings and credentials in
//! its environment, nothing else of this process's. Its answers are the
//! functions' own (it calls their handlers); these tests are about what a
//! person and a script get from it: the tables and lines, one JSON
//! document with `--output json`, the exit codes, the flag an error names.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lambda_runtime::LambdaEvent;
use lifeboat_tests::proxy::Proxy;
use lifeboat_tests::{binaries, moto, seed, World};
use serde_json::{json, Value};

const SOURCE: &str = "us-east-1";
const DR: &str = "us-west-2";
const ORDERS: &str = "lifeboat-orders-20261124-0400";
const DR_REGIONS: [(&str, &str); 1] = [("LIFEBOAT_DR_REGIONS", DR)];

fn lambda(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

fn scheduled(time: &str) -> Value {
    json!({
        "version": "0", "id": format!("schedule-{time}"), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": time, "region": SOURCE,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/lifeboat"], "detail": {}
    })
}

/// What one run of `lifeboat` printed and how it ended.
struct Run {
    args: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(args: &[&str], output: Output) -> Self {
        Run {
            args: args.join(" "),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code; returns the run for more.
    fn exits(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "lifeboat {}:\n{self}", self.args);
        self
    }

    /// Standard output as one JSON document (nothing before or after it).
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "lifeboat {}: standard output is not one JSON document ({e}):\n{self}",
                self.args
            )
        })
    }

    /// The lines of standard output that mention `text`.
    fn lines_with(&self, text: &str) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.contains(text)).collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The built `lifeboat`, with the environment an operator of `world`'s
/// stack has: its credentials, its region, its settings plus `settings`,
/// and no AWS configuration files or instance metadata to find.
fn command(world: &World, settings: &[(&str, &str)]) -> Command {
    command_with(world.settings(settings))
}

fn command_with(env: Vec<(String, String)>) -> Command {
    let mut command = Command::new(cli());
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_CONFIG_FILE", "/nonexistent/aws/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env)
        .stdin(Stdio::null());
    command
}

/// `lifeboat` with `env`, every call through `proxy`.
fn through(proxy: &Proxy, mut env: Vec<(String, String)>) -> Command {
    for (name, value) in &mut env {
        if name == "AWS_ENDPOINT_URL" {
            *value = proxy.url();
        }
    }
    command_with(env)
}

fn cli() -> PathBuf {
    binaries::cli(false)
}

/// Runs `lifeboat args` to the end.
fn lifeboat(world: &World, settings: &[(&str, &str)], args: &[&str]) -> Run {
    run(command(world, settings), args)
}

fn run(mut command: Command, args: &[&str]) -> Run {
    let output = command
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run lifeboat {}: {e}", args.join(" ")));
    Run::from(args, output)
}

/// DB instance and DB cluster identifiers in `region`.
async fn dbs_in(world: &World, region: &str) -> Vec<String> {
    let rds = world.clients.rds_in(region);
    let instances = rds.describe_db_instances().send().await.unwrap();
    let clusters = rds.describe_db_clusters().send().await.unwrap();
    let mut ids: Vec<String> = instances
        .db_instances()
        .iter()
        .filter_map(|i| i.db_instance_identifier().map(str::to_string))
        .chain(
            clusters
                .db_clusters()
                .iter()
                .filter_map(|c| c.db_cluster_identifier().map(|id| format!("cluster:{id}"))),
        )
        .collect();
    ids.sort();
    ids
}

async fn records_of(world: &World, region: &str, kind: &str) -> Vec<(String, Value)> {
    world
        .records_in(region)
        .await
        .into_iter()
        .filter(|(_, r)| r["kind"] == kind)
        .collect()
}

/// orders (a DB instance) and ledger (an Aurora cluster) snapshotted at
/// 2026-11-24 04:00 and copied into the DR region.
async fn copied() -> World {
    crate::restore::copied_to(DR).await
}

#[tokio::test]
async fn snapshots_lists_every_recovery_point_with_its_copies_and_what_retention_keeps_it_for() {
    let world = copied().await;
    // An older recovery point, in the source region only.
    let ctx = world.context(&DR_REGIONS);
    lifeboat_snapshot::handle(&ctx, lambda(scheduled("2026-11-20T04:00:00Z")))
        .await
        .unwrap();
    let older = "lifeboat-orders-20261120-0400";
    let with_policy = [DR_REGIONS[0], ("LIFEBOAT_RETENTION", "last=1")];

    let text = lifeboat(&world, &with_policy, &["snapshots", "orders"]);
    text.exits(0);
    let newest = text.lines_with(ORDERS);
    assert_eq!(newest.len(), 2, "{text}");
    assert!(
        newest[0].starts_with(SOURCE)
            && newest[0].contains("2026-11-24 04:00:00Z")
            && newest[0].contains("available")
            && newest[0].contains(DR)
            && newest[0].contains("kept: last 1"),
        "the original, its copy and why it is kept:\n{text}"
    );
    assert!(
        newest[1].starts_with(DR) && newest[1].contains("copy of us-east-1"),
        "{text}"
    );
    let old = text.lines_with(older);
    assert_eq!(old.len(), 1, "{text}");
    assert!(old[0].contains("would be deleted"), "{text}");
    assert!(text.lines_with("ledger").is_empty(), "only orders: {text}");
    assert!(
        text.stdout
            .contains("Retention: what prune decides now under last=1; nothing was deleted."),
        "{text}"
    );

    let json = lifeboat(
        &world,
        &with_policy,
        &["snapshots", "orders", "--output", "json"],
    );
    let doc = json.exits(0).json();
    assert_eq!(doc["database"], "orders");
    assert_eq!(doc["regions"], json!([SOURCE, DR]));
    let rows = doc["snapshots"].as_array().unwrap();
    let ids: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap(),
                r["snapshot_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(ids, [(SOURCE, ORDERS), (DR, ORDERS), (SOURCE, older)]);
    assert_eq!(rows[0]["copies"][0]["region"], DR);
    assert_eq!(rows[0]["recovery_point_time"], "2026-11-24T04:00:00Z");
    assert_eq!(rows[0]["status"], "available");
    assert_eq!(rows[0]["retention"]["outcome"], "kept");
    assert!(
        rows[0]["retention"]["reason"]
            .as_str()
            .unwrap()
            .contains("last 1"),
        "{doc:#}"
    );
    assert_eq!(rows[1]["copy_of"], SOURCE);
    assert_eq!(rows[2]["retention"]["outcome"], "would_delete");
    assert_eq!(doc["retention_policy"], "last=1");
    assert!(doc["retention_error"].is_null());

    // Retention is prune's dry run: nothing was deleted.
    let left = world
        .clients
        .rds()
        .describe_db_snapshots()
        .db_snapshot_identifier(older)
        .send()
        .await
        .unwrap();
    assert_eq!(left.db_snapshots().len(), 1);
    assert!(records_of(&world, SOURCE, "deletion").await.is_empty());

    // Without a policy, the snapshots are listed and retention says what
    // it lacks.
    let unknown = lifeboat(&world, &DR_REGIONS, &["snapshots", "orders"]);
    unknown.exits(0);
    assert_eq!(unknown.lines_with("lifeboat-orders-").len(), 3, "{unknown}");
    assert!(
        unknown
            .stdout
            .contains("Retention not known: setting LIFEBOAT_RETENTION")
            && unknown.stdout.contains("give --retention"),
        "{unknown}"
    );
    // From a DR region alone, nothing else is asked: prune decides from
    // the stack's region.
    let proxy = Proxy::start(moto::endpoint(), Duration::ZERO, Duration::ZERO).unwrap();
    proxy.take_down(SOURCE);
    let west = run(
        through(&proxy, world.settings(&with_policy)),
        &["snapshots", "orders", "--region", DR],
    );
    west.exits(0);
    assert_eq!(proxy.take().in_region(SOURCE), 0, "{west}");
    assert_eq!(west.lines_with(ORDERS).len(), 1, "{west}");
    assert!(
        west.stdout
            .contains("prune decides from the stack's region, us-east-1"),
        "{west}"
    );
}

#[tokio::test]
async fn snapshot_takes_the_named_dbs_now_and_shows_each_outcome() {
    let world = World::new(SOURCE).await;
    seed::instance(world.clients.rds(), "orders", "postgres", &[seed::SELECT]).await;
    seed::instance(world.clients.rds(), "analytics", "mysql", &[]).await;

    let text = lifeboat(
        &world,
        &[],
        &[
            "snapshot",
            "orders",
            "analytics",
            "--reason",
            "before the migration",
        ],
    );
    text.exits(0);
    for db in ["orders", "analytics"] {
        let line = text.lines_with(&format!("lifeboat-{db}-"));
        assert!(
            line.len() == 1 && line[0].contains("created"),
            "manual snapshots take any DB named:\n{text}"
        );
    }
    let records = records_of(&world, SOURCE, "snapshot").await;
    assert_eq!(records.len(), 2);
    assert!(records
        .iter()
        .all(|(_, r)| r["trigger"]["type"] == "manual"));

    let json = lifeboat(
        &world,
        &[],
        &[
            "snapshot", "orders", "nope", "--reason", "drill", "--output", "json",
        ],
    );
    let doc = json.exits(1).json();
    assert_eq!(doc["error"]["type"], "PartialFailure", "{doc:#}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("unknown database \"nope\""), "{message}");
    assert!(json.stderr.contains("unknown database"), "{json}");
}

#[tokio::test]
async fn a_restore_dry_run_shows_the_plan_and_what_the_region_lacks_with_its_flag() {
    let world = copied().await;
    let text = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "restore",
            "orders",
            "--region",
            DR,
            "--target",
            "orders-dr",
            "--dry-run",
        ],
    );
    text.exits(0);
    for expected in [
        "Restore orders (DB instance) into us-west-2 as orders-dr",
        "from snapshot   lifeboat-orders-20261124-0400 (recovery point 2026-11-24 04:00:00Z, data ",
        "creates         DB instance orders-dr: db.t4g.medium, Multi-AZ",
        "missing in us-west-2",
        "(give --security-group)",
        "Dry run: nothing was created.",
        "Without a change it would be refused",
    ] {
        assert!(text.stdout.contains(expected), "{expected:?}:\n{text}");
    }
    assert!(
        !text.stdout.contains("overrides."),
        "flags, not fields: {text}"
    );

    let cluster = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "restore",
            "ledger",
            "--region",
            DR,
            "--target",
            "ledger-dr",
            "--dry-run",
            "--output",
            "json",
        ],
    );
    let doc = cluster.exits(0).json();
    assert_eq!(doc["plan"]["status"], "dry run: nothing created");
    assert_eq!(
        doc["plan"]["snapshot"]["id"],
        "lifeboat-ledger-20261124-0400"
    );
    let members = doc["plan"]["plan"]["RestoreDBClusterFromSnapshot"]["instances"]
        .as_array()
        .unwrap();
    assert_eq!(members.len(), 2, "{doc:#}");
    assert!(doc.get("refusal").is_none(), "{doc:#}");
    assert!(
        dbs_in(&world, DR).await.is_empty(),
        "a dry run creates nothing"
    );
}

#[tokio::test]
async fn a_restore_the_region_cannot_take_is_refused_naming_the_flag() {
    let world = copied().await;
    let refused = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "restore",
            "orders",
            "--region",
            DR,
            "--target",
            "orders-dr",
            "--yes",
        ],
    );
    refused.exits(1);
    assert!(
        refused
            .stderr
            .contains("error: restore refused, nothing created")
            && refused.stderr.contains("(give --security-group)"),
        "{refused}"
    );
    assert!(dbs_in(&world, DR).await.is_empty());
    assert!(records_of(&world, DR, "restore").await.is_empty());

    // A target that exists is refused too, by name.
    let taken = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "restore", "orders", "--region", SOURCE, "--target", "ledger-1", "--yes", "--output",
            "json",
        ],
    );
    let doc = taken.exits(1).json();
    assert_eq!(doc["error"]["type"], "RestoreRefused");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("choose another --target"),
        "{doc:#}"
    );
    assert!(
        doc["plan"]["target_taken"][0]
            .as_str()
            .unwrap()
            .starts_with("DB instance ledger-1"),
        "{doc:#}"
    );

    // Off a terminal, nothing is created without --yes.
    let unasked = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "restore",
            "orders",
            "--region",
            DR,
            "--target",
            "orders-dr",
            "--security-group",
            "sg-0dr",
        ],
    );
    unasked.exits(1);
    assert!(unasked.stderr.contains("give --yes"), "{unasked}");
    assert!(dbs_in(&world, DR).await.is_empty());
}

#[tokio::test]
async fn a_restore_with_yes_and_wait_ends_available_with_the_recovery_time() {
    let world = copied().await;
    let text = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "restore",
            "orders",
            "--region",
            DR,
            "--target",
            "orders-dr",
            "--security-group",
            "sg-0dr",
            "--yes",
            "--wait",
            "--poll-seconds",
            "1",
        ],
    );
    text.exits(0);
    for expected in [
        "Started restore orders-dr@2",
        "recorded at     restores/us-west-2/orders-dr/",
        "orders-dr in us-west-2: available",
        "orders-dr (instance): available",
        "recovery time   ",
        " from request to available",
    ] {
        assert!(text.stdout.contains(expected), "{expected:?}:\n{text}");
    }
    assert_eq!(dbs_in(&world, DR).await, ["orders-dr"]);
    // The restore function's own records, in the DR region's catalog.
    assert_eq!(records_of(&world, DR, "restore").await.len(), 1);
    let available = records_of(&world, DR, "restore_available").await;
    assert_eq!(available.len(), 1);

    let json = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "restore",
            "ledger",
            "--region",
            DR,
            "--target",
            "ledger-dr",
            "--yes",
            "--wait",
            "--poll-seconds",
            "1",
            "--output",
            "json",
        ],
    );
    let doc = json.exits(0).json();
    assert_eq!(doc["restore"]["status"], "started", "{doc:#}");
    assert_eq!(doc["watching"], "available");
    assert_eq!(doc["status"]["available"], true);
    assert_eq!(doc["status"]["instances"].as_array().unwrap().len(), 2);
    assert!(doc["status"]["recovery_time_seconds"].as_i64().unwrap() >= 0);
    assert_eq!(doc["status"]["restore_id"], doc["restore"]["restore_id"]);
    assert_eq!(
        dbs_in(&world, DR).await,
        [
            "cluster:ledger-dr",
            "ledger-dr-1",
            "ledger-dr-2",
            "orders-dr"
        ]
    );

    // The first measurement stands.
    let status = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "restore-status",
            "--region",
            DR,
            "--target",
            "orders-dr",
            "--output",
            "json",
        ],
    );
    let doc = status.exits(0).json();
    assert_eq!(
        doc["status"]["recovery_time_seconds"],
        available[0].1["recovery_time_seconds"]
    );
}

/// With the source region down, a restore into the DR region works as the
/// recovery stack's does: not one request for the source region.
#[tokio::test]
async fn with_the_source_region_down_a_restore_into_the_dr_region_calls_only_that_region() {
    let world = copied().await;
    let proxy = Proxy::start(moto::endpoint(), Duration::ZERO, Duration::ZERO).unwrap();
    proxy.take_down(SOURCE);
    let done = run(
        through(&proxy, world.settings(&DR_REGIONS)),
        &[
            "restore",
            "orders",
            "--region",
            DR,
            "--target",
            "orders-dr",
            "--security-group",
            "sg-0dr",
            "--yes",
            "--wait",
            "--poll-seconds",
            "1",
        ],
    );
    done.exits(0);
    assert!(
        done.stdout.contains("orders-dr in us-west-2: available"),
        "{done}"
    );
    let tally = proxy.take();
    assert_eq!(tally.in_region(SOURCE), 0, "{:?}", tally.refused);
    assert!(tally.in_region(DR) > 0);
}

/// Ctrl-C while waiting stops the watching, never the restore, and says
/// how to watch again.
#[tokio::test]
async fn ctrl_c_stops_the_watching_not_the_restore_and_prints_how_to_resume() {
    use lifeboat::aws::rds::restore::Deadline;
    let world = copied().await;
    // A cluster restore that stopped short of its members: not available
    // until the same request finishes it.
    let ctx = world.context(&DR_REGIONS);
    let request = match lifeboat_restore::event::parse(
        &json!({"database": "ledger", "target": "ledger-dl", "region": DR}),
    )
    .unwrap()
    {
        lifeboat_restore::event::Request::Restore(request) => *request,
        other => panic!("{other:?}"),
    };
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0);
    let start = chrono::Utc::now();
    let calls = std::sync::atomic::AtomicI32::new(0);
    let deadline = Deadline::with_clock(Some(now + chrono::TimeDelta::seconds(60)), move || {
        start
            + chrono::TimeDelta::seconds(40)
                * calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    });
    let report = lifeboat_restore::start(&ctx, &request, now, &deadline)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&report).unwrap()["status"],
        "incomplete"
    );

    let args = [
        "restore-status",
        "--region",
        DR,
        "--target",
        "ledger-dl",
        "--wait",
        "--poll-seconds",
        "1",
        "--output",
        "json",
    ];
    let mut child = command(&world, &DR_REGIONS)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Watching: it has looked at least once.
    std::thread::sleep(Duration::from_secs(3));
    let pid = child.id().to_string();
    let signalled = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(signalled.success());
    let waited = Instant::now();
    let output = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "lifeboat did not stop watching on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let stopped = Run::from(&args, output);
    stopped.exits(130);
    assert!(
        stopped
            .stderr
            .contains("Stopped watching; the restore goes on")
            && stopped
                .stderr
                .contains("lifeboat restore-status --region us-west-2 --target ledger-dl --wait"),
        "{stopped}"
    );
    assert!(
        stopped
            .stderr
            .contains("ledger-dl (cluster): available · ledger-dl-1 not created yet"),
        "the progress, a line per change off a terminal: {stopped}"
    );
    let doc = stopped.json();
    assert_eq!(doc["watching"], "stopped");
    assert_eq!(doc["status"]["available"], false);
    assert_eq!(
        doc["status"]["not_created"],
        json!(["ledger-dl-1", "ledger-dl-2"])
    );
    assert_eq!(
        doc["resume"],
        "lifeboat restore-status --region us-west-2 --target ledger-dl --wait"
    );
    // The restore is as it was: the cluster, waiting for its members.
    assert_eq!(dbs_in(&world, DR).await, ["cluster:ledger-dl"]);

    // Running the same restore again finishes it, as the same restore.
    let resumed = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "restore",
            "ledger",
            "--region",
            DR,
            "--target",
            "ledger-dl",
            "--yes",
            "--wait",
            "--poll-seconds",
            "1",
        ],
    );
    resumed.exits(0);
    assert!(resumed.stdout.contains("earlier attempt"), "{resumed}");
    assert_eq!(
        dbs_in(&world, DR).await,
        ["cluster:ledger-dl", "ledger-dl-1", "ledger-dl-2"]
    );
}

#[tokio::test]
async fn usage_errors_exit_2_and_name_the_flag_that_fixes_them() {
    let world = World::new(SOURCE).await;
    for (args, expected) in [
        (vec!["restore", "orders"], "--target <DB>"),
        (
            vec!["restore", "orders", "--target", "orders-dr"],
            "give --region",
        ),
        (vec!["snapshots", "orders_1"], "invalid database identifier"),
        (
            vec!["--region", "west", "snapshots", "orders"],
            "not a region name",
        ),
        (vec!["snapshot", "orders"], "--reason <TEXT>"),
        (vec!["frobnicate"], "unrecognized subcommand"),
        (
            vec![
                "restore",
                "orders",
                "--target",
                "t",
                "--region",
                "eu-central-1",
            ],
            "--dr-catalog-buckets eu-central-1=",
        ),
    ] {
        let run = lifeboat(&world, &[], &args);
        run.exits(2);
        assert!(run.stderr.contains(expected), "{expected:?}: {run}");
        assert!(!run.stderr.contains("panicked"), "{run}");
    }
    // A setting the stack lacks is named with its flag.
    let mut no_bucket = command(&world, &[]);
    no_bucket.env_remove("LIFEBOAT_CATALOG_BUCKET");
    let run = run(no_bucket, &["snapshots", "orders", "--output", "json"]);
    let doc = run.exits(2).json();
    assert_eq!(doc["error"]["type"], "UsageError");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("give --catalog-bucket (or set LIFEBOAT_CATALOG_BUCKET)"),
        "{doc:#}"
    );
    // And JSON was asked for, even on a command line that did not parse.
    let json = lifeboat(&world, &[], &["--output", "json", "restore", "orders"]);
    let doc = json.exits(2).json();
    assert_eq!(doc["error"]["exit_code"], 2);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--target"),
        "{doc:#}"
    );
}

#[tokio::test]
async fn every_command_prints_one_json_document_with_output_json() {
    let world = copied().await;
    let policy = [DR_REGIONS[0], ("LIFEBOAT_RETENTION", "last=2")];
    let restore = ["restore", "orders", "--region", DR, "--target", "orders-dr"];
    let runs: Vec<(Vec<&str>, i32)> = vec![
        (vec!["snapshots", "orders"], 0),
        (vec!["snapshot", "orders", "--reason", "json"], 0),
        ([&restore[..], &["--dry-run"]].concat(), 0),
        ([&restore[..], &["--yes"]].concat(), 1),
        (
            [&restore[..], &["--security-group", "sg-0dr", "--yes"]].concat(),
            0,
        ),
        (
            vec!["restore-status", "--region", DR, "--target", "orders-dr"],
            0,
        ),
        (
            vec![
                "restore-status",
                "--region",
                DR,
                "--target",
                "orders-dr",
                "--wait",
            ],
            0,
        ),
        (
            vec!["restore-status", "--region", DR, "--target", "missing-db"],
            1,
        ),
        (vec!["completions", "bash"], 0),
        (vec!["status"], 0),
        (vec!["status", "--region", DR], 0),
        (vec!["drill", "orders", "--region", DR, "--wait"], 0),
        (vec!["drill", "orders", "--region", DR], 2),
        (vec!["drills", "--region", DR], 0),
        (vec!["restore", "--bogus"], 2),
    ];
    for (mut args, code) in runs {
        args.extend(["--output", "json"]);
        let run = lifeboat(&world, &policy, &args);
        let doc = run.exits(code).json();
        assert!(doc.is_object(), "{run}");
        assert_eq!(doc.get("error").is_some(), code != 0, "{run}");
    }
    let completions = lifeboat(&world, &[], &["completions", "fish", "--output", "json"]).json();
    assert!(completions["script"].as_str().unwrap().contains("lifeboat"));
}

#[tokio::test]
async fn completions_and_help_are_there_for_every_shell_and_command() {
    let world = World::new(SOURCE).await;
    for shell in ["bash", "zsh", "fish"] {
        let run = lifeboat(&world, &[], &["completions", shell]);
        run.exits(0);
        assert!(
            run.stdout.contains("restore-status") && run.stdout.contains("security-group"),
            "{shell}"
        );
    }
    for command in [
        "status",
        "snapshots",
        "snapshot",
        "restore",
        "restore-status",
        "drill",
        "drills",
        "completions",
    ] {
        let run = lifeboat(&world, &[], &[command, "--help"]);
        run.exits(0);
        assert!(
            run.stdout.contains("lifeboat "),
            "an example in {command} --help"
        );
    }
    let usage = lifeboat(&world, &[], &[]);
    usage.exits(2);
}

#[tokio::test]
async fn a_drill_runs_to_its_verdict_leaves_no_drill_db_and_drills_lists_it() {
    let world = copied().await;
    let before = dbs_in(&world, DR).await;
    let drill = [
        "drill",
        "orders",
        "ledger",
        "--region",
        DR,
        "--wait",
        "--poll-seconds",
        "1",
    ];
    let run = lifeboat(&world, &DR_REGIONS, &drill);
    run.exits(0);
    assert_eq!(run.lines_with("PASSED").len(), 2, "{run}");
    assert_eq!(run.lines_with("recovery time").len(), 2, "{run}");
    assert_eq!(run.lines_with("the drill DB is deleted").len(), 2, "{run}");
    assert_eq!(dbs_in(&world, DR).await, before, "no drill DB is left");
    assert_eq!(records_of(&world, DR, "drill").await.len(), 2);

    let run = lifeboat(&world, &DR_REGIONS, &["drills", "--region", DR]);
    run.exits(0);
    for db in ["orders", "ledger"] {
        let rows: Vec<&str> = run
            .lines_with(db)
            .into_iter()
            .filter(|l| l.contains("passed"))
            .collect();
        assert_eq!(rows.len(), 1, "{db}: {run}");
    }
    let only = lifeboat(
        &world,
        &DR_REGIONS,
        &["drills", "ledger", "--region", DR, "--output", "json"],
    );
    let drills = only.exits(0).json()["drills"].as_array().unwrap().clone();
    assert_eq!(drills.len(), 1, "{only}");
    assert_eq!(drills[0]["database"], "ledger");
    assert_eq!(drills[0]["verdict"], "passed");

    // A failing check fails the command (exit 1) and still cleans up.
    let run = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "drill",
            "orders",
            "--region",
            DR,
            "--wait",
            "--poll-seconds",
            "1",
            "--subnet-group",
            "no-such-group",
        ],
    );
    run.exits(1);
    assert!(
        run.stdout.contains("FAILED") && run.stdout.contains("no-such-group"),
        "{run}"
    );
    assert_eq!(dbs_in(&world, DR).await, before);

    // Without --wait the drill goes to the region's drill state machine.
    let dr = lifeboat::aws::clients::Clients::from_sdk_config(world.account.sdk_config(DR));
    let sfn = aws_sdk_sfn::Client::new(dr.sdk_config());
    let machine = sfn
        .create_state_machine()
        .name("lifeboat-recovery-drill")
        .definition(r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#)
        .role_arn(format!(
            "arn:aws:iam::{}:role/lifeboat-drill",
            world.account.id
        ))
        .send()
        .await
        .unwrap();
    let arn = machine.state_machine_arn().to_string();
    let run = lifeboat(
        &world,
        &DR_REGIONS,
        &[
            "drill",
            "orders",
            "--region",
            DR,
            "--drill-state-machine",
            &arn,
        ],
    );
    run.exits(0);
    let executions = sfn
        .list_executions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(executions.executions().len(), 1, "{run}");
    let started = sfn
        .describe_execution()
        .execution_arn(executions.executions()[0].execution_arn())
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(started.input().unwrap()).unwrap();
    assert_eq!(input, json!({"databases": ["orders"]}));

    // Not in a DR region: refused, naming --region.
    let run = lifeboat(&world, &DR_REGIONS, &["drill", "orders", "--wait"]);
    run.exits(2);
    assert!(run.stderr.contains("--region"), "{run}");
}

/// orders snapshotted just now, ledger only on 2026-11-24 (both copied
/// into the DR region), inventory never; analytics is not protected.
async fn fresh_stale_and_missing() -> World {
    let world = World::new(SOURCE).await;
    let rds = world.clients.rds();
    seed::instance(rds, "orders", "postgres", &[seed::SELECT]).await;
    seed::instance(rds, "analytics", "mysql", &[]).await;
    seed::cluster(
        rds,
        "ledger",
        "aurora-postgresql",
        &[("ledger-1", "db.r6g.large")],
        &[seed::SELECT],
    )
    .await;
    let ctx = world.context(&DR_REGIONS);
    lifeboat_snapshot::handle(&ctx, lambda(scheduled("2026-11-24T04:00:00Z")))
        .await
        .unwrap();
    lifeboat_snapshot::handle(
        &ctx,
        lambda(json!({"databases": ["orders"], "reason": "fresh"})),
    )
    .await
    .unwrap();
    lifeboat_copy::handle(&ctx, lambda(json!({})))
        .await
        .unwrap();
    // Protected since, and never snapshotted.
    seed::instance(rds, "inventory", "mysql", &[seed::SELECT]).await;
    world
}

/// The status rows, as (DB, region, status), of `lifeboat status` text.
fn status_rows(run: &Run) -> Vec<(String, String, String)> {
    run.stdout
        .lines()
        .skip(1)
        .take_while(|line| !line.trim().is_empty() && !line.contains(':'))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let status = ["BREACHED", "ok"]
                .into_iter()
                .find(|s| words.contains(s))
                .unwrap_or("?");
            (
                words[0].to_string(),
                words[2].to_string(),
                status.to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn status_shows_fresh_stale_and_missing_recovery_points_in_every_region() {
    let world = fresh_stale_and_missing().await;
    let text = lifeboat(&world, &DR_REGIONS, &["status"]);
    text.exits(0);
    let rows = status_rows(&text);
    let expected = [
        ("inventory", SOURCE, "BREACHED"),
        ("inventory", DR, "BREACHED"),
        ("ledger", SOURCE, "BREACHED"),
        ("ledger", DR, "BREACHED"),
        ("orders", SOURCE, "ok"),
        ("orders", DR, "ok"),
    ];
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(got, expected, "{text}");
    let header = text.stdout.lines().next().unwrap();
    for column in [
        "NEWEST SNAPSHOT",
        "AGE",
        "OBJECTIVE",
        "STATUS",
        "LAST DRILL",
        "DRILL RTO",
    ] {
        assert!(header.contains(column), "{text}");
    }
    let ledger: Vec<&str> = text
        .lines_with("lifeboat-ledger-20261124-0400")
        .into_iter()
        .filter(|l| l.starts_with("ledger "))
        .collect();
    // Its age as the command shows it, whatever the day the test runs.
    let taken = chrono::DateTime::parse_from_rfc3339("2026-11-24T04:00:00Z").unwrap();
    let days = format!("{}d", (chrono::Utc::now() - taken.to_utc()).num_days());
    assert!(
        ledger.len() == 2
            && ledger
                .iter()
                .all(|l| l.contains("26h") && l.contains(&days)),
        "stale: {days} old against 26 hours:
{text}"
    );
    assert!(
        text.stdout.contains("BREACHED inventory in us-east-1: "),
        "why, in a line of its own: {text}"
    );
    assert!(
        text.stdout.contains("analytics"),
        "what is not protected is said: {text}"
    );
    assert!(!text.stdout.contains("_aws"), "no metric lines: {text}");

    let json = lifeboat(&world, &DR_REGIONS, &["status", "--output", "json"]);
    let doc = json.exits(0).json();
    assert_eq!(doc["counts"], json!({"ok": 2, "breached": 4}), "{doc:#}");
    let orders_west = doc["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["database"] == "orders" && r["region"] == DR)
        .unwrap();
    assert_eq!(orders_west["outcome"], "ok");
    assert_eq!(
        orders_west["answered_in"], DR,
        "the DR region answers for itself"
    );
    assert!(orders_west["age_seconds"].as_i64().unwrap() < 3_600);
    assert_eq!(orders_west["objective_seconds"], 26 * 3_600);
    let missing = doc["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["database"] == "inventory" && r["region"] == SOURCE)
        .unwrap();
    assert_eq!(missing["outcome"], "breached");
    assert!(missing.get("snapshot_id").is_none(), "{missing:#}");
}

/// With the source region down, status from the DR region answers from
/// that region alone.
#[tokio::test]
async fn status_from_a_dr_region_answers_with_the_source_region_down() {
    let world = fresh_stale_and_missing().await;
    let proxy = Proxy::start(moto::endpoint(), Duration::ZERO, Duration::ZERO).unwrap();
    proxy.take_down(SOURCE);
    let run = run(
        through(&proxy, world.settings(&DR_REGIONS)),
        &["status", "--region", DR, "--output", "json"],
    );
    let doc = run.exits(0).json();
    let rows: Vec<(&str, &str)> = doc["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["database"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("ledger", "breached"), ("orders", "ok")], "{doc:#}");
    assert!(doc["databases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["region"] == DR && r["answered_in"] == DR));
    let tally = proxy.take();
    assert_eq!(tally.in_region(SOURCE), 0, "{:?}", tally.refused);
}
