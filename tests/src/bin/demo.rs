//! The demo: the DR cycle against a local AWS emulator, start to finish.
//!
//! Starts moto, seeds a small fleet, runs the release function binaries
//! through a local Lambda Runtime API with the sample events (snapshot,
//! copy, prune, restore), asks `lifeboat status`, takes the source region
//! down and restores with `lifeboat restore --wait` from the DR region
//! alone, and prints what it did: outcomes, snapshots, catalog records,
//! events, and what the run cost (init, handler time, peak memory, binary
//! size).

use std::time::Duration;

use lifeboat_tests::proxy::Proxy;
use lifeboat_tests::runtime::{run_function, Run};
use lifeboat_tests::{binaries, moto, sample_event, seed, World};
use serde_json::Value;

const REGION: &str = "us-east-1";
const DR_REGIONS: [&str; 2] = ["us-west-2", "eu-west-1"];

#[tokio::main]
async fn main() {
    if std::env::var(moto::ENDPOINT_VAR).is_err() {
        println!("Starting moto (the local AWS emulator) on 127.0.0.1 ...");
    }
    println!("Emulator: {}", moto::endpoint());

    let world = World::new(REGION).await;
    seed_fleet(&world).await;
    println!("\nSeeded {REGION} with a small fleet:");
    println!("  orders     DB instance, postgres       tagged lifeboat:backup=true");
    println!("  inventory  DB instance, mysql          tagged lifeboat:backup=true");
    println!("  analytics  DB instance, mysql          not tagged");
    println!("  ledger     Aurora cluster, 2 members   tagged lifeboat:backup=true");
    println!("DR regions: {}", DR_REGIONS.join(", "));

    println!("\nBuilding the release binaries (the first build takes several minutes) ...");
    let functions = ["snapshot", "copy", "prune", "restore"];
    // LIFEBOAT_DEMO_DEBUG=1 runs the debug builds instead (quicker to build).
    let release = std::env::var("LIFEBOAT_DEMO_DEBUG").is_err();
    let binaries: Vec<_> = functions
        .iter()
        .map(|f| binaries::function(f, release))
        .collect();
    let env = world.settings(&[
        ("LIFEBOAT_DR_REGIONS", &DR_REGIONS.join(",")),
        ("LIFEBOAT_RETENTION", "last=2,daily=7"),
    ]);
    let mut costs = Vec::new();

    println!("\n#### 1. Snapshots");
    let snapshot_steps = [
        (
            "snapshot-scheduled.json",
            "the nightly EventBridge schedule fires",
        ),
        (
            "snapshot-scheduled.json",
            "... and EventBridge delivers it a second time",
        ),
        (
            "snapshot-alarm.json",
            "a CloudWatch alarm on orders goes into ALARM",
        ),
        ("snapshot-alarm-ok.json", "the alarm goes back to OK"),
        (
            "snapshot-alarm-action.json",
            "an alarm action on the ledger cluster invokes Lambda directly",
        ),
        (
            "snapshot-manual.json",
            "an operator asks for snapshots before a migration",
        ),
    ];
    let run = run_steps(&binaries[0], &env, &world, &snapshot_steps).await;
    costs.push(("lifeboat-snapshot", run));
    print_snapshots(&world, REGION).await;

    println!("\n#### 2. Copies to the DR regions");
    let copy_steps = [
        (
            "copy-db-snapshot-created.json",
            "RDS announces the new snapshot of orders",
        ),
        (
            "copy-db-cluster-snapshot-created.json",
            "RDS announces the new snapshot of ledger",
        ),
        (
            "copy-scheduled.json",
            "the hourly reconcile copies whatever the events missed",
        ),
    ];
    let run = run_steps(&binaries[1], &env, &world, &copy_steps).await;
    costs.push(("lifeboat-copy", run));
    for region in DR_REGIONS {
        print_snapshots(&world, region).await;
    }

    println!("\n#### 3. Retention (dry run)");
    let prune_steps = [(
        "{\"dry_run\": true}",
        "what last=2,daily=7 would delete today, deleting nothing",
    )];
    let run = run_steps(&binaries[2], &env, &world, &prune_steps).await;
    costs.push(("lifeboat-prune", run));

    println!(
        "\n#### 4. Restore orders in {} from the latest copy",
        DR_REGIONS[0]
    );
    seed::subnet_group(
        &world.clients.rds_in(DR_REGIONS[0]),
        &world.account,
        DR_REGIONS[0],
        "dr-subnets",
    )
    .await;
    let restore_steps = [
        (
            "restore-dry-run.json",
            "dry run: the exact plan, nothing created",
        ),
        (
            "restore-latest.json",
            "the restore, with the DR region's subnet group and security group",
        ),
        (
            "restore-status.json",
            "status: is it back, and how long did it take?",
        ),
    ];
    let run = run_steps(&binaries[3], &env, &world, &restore_steps).await;
    costs.push(("lifeboat-restore", run));

    println!("\n#### 5. On call: `lifeboat status`, the operator's command line");
    let lifeboat = binaries::cli(release);
    println!("   every protected DB in every region, against the objective:");
    run_lifeboat(&lifeboat, &env, &["status"]);

    let recovery = DR_REGIONS[0];
    println!(
        "\n#### 6. {REGION} goes dark: the operator restores ledger in {recovery} with `lifeboat`"
    );
    // Every request signed for the source region is refused from here on.
    let proxy = Proxy::start(moto::endpoint(), Duration::ZERO, Duration::ZERO)
        .unwrap_or_else(|e| panic!("start the proxy: {e}"));
    proxy.take_down(REGION);
    let mut dark = env.clone();
    for (name, value) in &mut dark {
        if name == "AWS_ENDPOINT_URL" {
            *value = proxy.url();
        }
    }
    println!(
        "   working in {recovery} as its recovery stack: its own catalog s3://{}/, no call to {REGION}",
        world.catalog_bucket(recovery)
    );
    run_lifeboat(&lifeboat, &dark, &["status", "--region", recovery]);
    run_lifeboat(
        &lifeboat,
        &dark,
        &[
            "restore",
            "ledger",
            "--region",
            recovery,
            "--target",
            "ledger-recovered",
            "--yes",
            "--wait",
            "--poll-seconds",
            "2",
        ],
    );
    let tally = proxy.take();
    println!(
        "\n   requests for {REGION}: {} (refused: {}); for {recovery}: {}",
        tally.in_region(REGION),
        tally.refused.values().sum::<u64>(),
        tally.in_region(recovery)
    );

    println!(
        "\n#### 7. Proof of recovery: a drill of orders in {recovery}, then the monitor's table"
    );
    println!(
        "   restored from the newest copy through the restore's own code, checked, deleted, recorded ({REGION} still dark):"
    );
    run_lifeboat(
        &lifeboat,
        &dark,
        &[
            "drill",
            "orders",
            "--region",
            recovery,
            "--subnet-group",
            "dr-subnets",
            "--wait",
            "--poll-seconds",
            "2",
        ],
    );
    run_lifeboat(&lifeboat, &dark, &["drills", "--region", recovery]);
    run_lifeboat(
        &lifeboat,
        &dark,
        &[
            "status",
            "--region",
            recovery,
            "--drill-max-age-seconds",
            "1209600",
        ],
    );
    proxy.bring_up(REGION);

    print_records(&world).await;
    print_events(&world);
    print_costs(&costs, &binaries);
}

/// Runs the operator's command line, `lifeboat`, as an operator would, with
/// `env` (the stack's settings and credentials) and nothing else of this
/// process's; its output goes straight to the terminal (colours and the
/// progress display included, when there is one).
fn run_lifeboat(binary: &std::path::Path, env: &[(String, String)], args: &[&str]) {
    println!("\n   $ lifeboat {}", args.join(" "));
    let status = std::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_CONFIG_FILE", "/nonexistent/aws/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().cloned())
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("run lifeboat: {e}"));
    if !status.success() {
        println!("   (lifeboat exited with {status})");
    }
}

/// Runs one function binary through the runtime API with the steps' events
/// (sample files, or inline JSON) and prints what each returned.
async fn run_steps(
    binary: &std::path::Path,
    env: &[(String, String)],
    world: &World,
    steps: &[(&str, &str)],
) -> Run {
    let events: Vec<Value> = steps
        .iter()
        .map(|(source, _)| {
            let event = if source.starts_with('{') {
                serde_json::from_str(source).unwrap_or_default()
            } else {
                sample_event(source)
            };
            // The sample RDS events carry the documentation account's ARNs.
            serde_json::from_str(&event.to_string().replace("123456789012", &world.account.id))
                .unwrap_or(event)
        })
        .collect();
    let (binary, env) = (binary.to_path_buf(), env.to_vec());
    let run = tokio::task::spawn_blocking(move || run_function(&binary, &env, &events))
        .await
        .unwrap_or_else(|e| panic!("runtime API: {e}"));
    if let Some(err) = &run.init_error {
        eprintln!("the function failed to start: {err}\n{}", run.logs);
        std::process::exit(1);
    }
    for ((source, what), invocation) in steps.iter().zip(&run.invocations) {
        let shown = if source.starts_with('{') {
            source.to_string()
        } else {
            format!("events/{source}")
        };
        println!(
            "\n== {what}\n   event: {shown}   handler: {}",
            ms(invocation.handler_time)
        );
        match &invocation.result {
            Ok(result) => print_result(result),
            Err(_) => println!("   ERROR {}", invocation.error_message()),
        }
    }
    run
}

async fn seed_fleet(world: &World) {
    let rds = world.clients.rds();
    let tagged = [seed::SELECT, ("team", "payments")];
    seed::instance(rds, "orders", "postgres", &tagged).await;
    seed::instance(rds, "inventory", "mysql", &tagged).await;
    seed::instance(rds, "analytics", "mysql", &[("team", "data")]).await;
    seed::cluster(
        rds,
        "ledger",
        "aurora-postgresql",
        &[("ledger-1", "db.r6g.large"), ("ledger-2", "db.r6g.large")],
        &tagged,
    )
    .await;
}

fn print_result(result: &Value) {
    if let Some(message) = result["message"].as_str() {
        println!("   {message}");
    }
    if result["function"] == "restore" {
        print_restore(result);
        return;
    }
    for o in result["outcomes"].as_array().into_iter().flatten() {
        let detail = o["reason"]
            .as_str()
            .or(o["error"].as_str())
            .unwrap_or_default();
        println!(
            "   {:<10} {:<8} {:<10} {:<12} {:<34} {detail}",
            o["database"].as_str().unwrap_or_default(),
            o["database_kind"].as_str().unwrap_or_default(),
            o["region"].as_str().unwrap_or_default(),
            o["outcome"].as_str().unwrap_or_default(),
            o["snapshot_id"].as_str().unwrap_or_default(),
        );
    }
}

fn print_restore(result: &Value) {
    if result["action"] == "status" {
        println!(
            "   {} in {}: {} (available: {})",
            result["target"].as_str().unwrap_or_default(),
            result["region"].as_str().unwrap_or_default(),
            result["status"].as_str().unwrap_or_default(),
            result["available"]
        );
        if let Some(seconds) = result["recovery_time_seconds"].as_i64() {
            println!("   recovery time achieved: {seconds} s from request to available");
        }
        return;
    }
    println!(
        "   {}: {} {} from {} (recovery point {}, {} old)",
        result["status"].as_str().unwrap_or_default(),
        result["database_kind"].as_str().unwrap_or_default(),
        result["database"].as_str().unwrap_or_default(),
        result["snapshot"]["id"].as_str().unwrap_or_default(),
        result["snapshot"]["recovery_point_time"]
            .as_str()
            .unwrap_or_default(),
        result["snapshot"]["age"].as_str().unwrap_or_default(),
    );
    for m in result["missing"].as_array().into_iter().flatten() {
        println!(
            "   missing in {}: {} {} -> give overrides.{}",
            result["region"].as_str().unwrap_or_default(),
            m["what"].as_str().unwrap_or_default(),
            m["name"].as_str().unwrap_or_default(),
            m["override_field"].as_str().unwrap_or_default()
        );
    }
    if result["dry_run"] == true {
        for line in serde_json::to_string_pretty(&result["plan"])
            .unwrap_or_default()
            .lines()
        {
            println!("   {line}");
        }
    }
}

async fn print_snapshots(world: &World, region: &str) {
    let rds = &world.clients.rds_in(region);
    println!("\n== Snapshots in RDS ({region})");
    if let Ok(out) = rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
    {
        for s in out.db_snapshots() {
            println!(
                "   DB snapshot          {:<34} of {:<10} {}",
                s.db_snapshot_identifier().unwrap_or_default(),
                s.db_instance_identifier().unwrap_or_default(),
                s.status().unwrap_or_default()
            );
        }
    }
    if let Ok(out) = rds
        .describe_db_cluster_snapshots()
        .snapshot_type("manual")
        .send()
        .await
    {
        for s in out.db_cluster_snapshots() {
            println!(
                "   DB cluster snapshot  {:<34} of {:<10} {}",
                s.db_cluster_snapshot_identifier().unwrap_or_default(),
                s.db_cluster_identifier().unwrap_or_default(),
                s.status().unwrap_or_default()
            );
        }
    }
}

async fn print_records(world: &World) {
    let records = world.records().await;
    println!(
        "\n#### 8. The catalog: s3://{}/ ({} records)",
        world.bucket,
        records.len()
    );
    for (key, record) in &records {
        println!(
            "   {:<17} {key}",
            record["kind"].as_str().unwrap_or_default()
        );
    }
    if let Some((key, record)) = records
        .iter()
        .find(|(_, r)| r["kind"] == "snapshot" && r["database_kind"] == "cluster")
    {
        println!("\n   One snapshot record in full ({key}):");
        for line in serde_json::to_string_pretty(record)
            .unwrap_or_default()
            .lines()
        {
            println!("   {line}");
        }
    }
    for region in DR_REGIONS {
        let records = world.records_in(region).await;
        println!(
            "\n   {region}'s catalog s3://{}/ ({} records):",
            world.catalog_bucket(region),
            records.len()
        );
        for (key, record) in &records {
            println!(
                "   {:<17} {key}",
                record["kind"].as_str().unwrap_or_default()
            );
        }
    }
}

fn print_events(world: &World) {
    let events = world.published();
    println!(
        "\n#### 9. Events on the bus in {} ({})",
        world.region,
        events.len()
    );
    for e in &events {
        let d = &e["detail"];
        println!(
            "   {:<22} {:<10} {:<10} {}",
            e["detail-type"].as_str().unwrap_or_default(),
            d["database"].as_str().unwrap_or_default(),
            d["region"].as_str().unwrap_or_default(),
            d["snapshot_id"]
                .as_str()
                .or(d["target"].as_str())
                .unwrap_or_default()
        );
    }
}

fn print_costs(costs: &[(&str, Run)], binaries: &[std::path::PathBuf]) {
    println!("\n== What it cost (release builds, local runtime API, emulator latency ~1 ms)");
    println!(
        "   {:<18} {:>8} {:>9} {:>11} {:>10}",
        "function", "size", "init", "peak RSS", "handler"
    );
    for ((name, run), binary) in costs.iter().zip(binaries) {
        let size = std::fs::metadata(binary)
            .map(|m| m.len())
            .unwrap_or_default();
        let handlers: Vec<String> = run.invocations.iter().map(|i| ms(i.handler_time)).collect();
        println!(
            "   {:<18} {:>5.1} MiB {:>9} {:>7.1} MiB   {}",
            name,
            size as f64 / 1024.0 / 1024.0,
            run.init_time.map(ms).unwrap_or_default(),
            run.peak_rss_kib.unwrap_or_default() as f64 / 1024.0,
            handlers.join(", ")
        );
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
