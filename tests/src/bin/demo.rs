//! The demo: the DR cycle against a local AWS emulator, start to finish.
//!
//! Starts moto, seeds a small fleet, runs the release `lifeboat-snapshot`
//! binary through a local Lambda Runtime API with the sample events, and
//! prints what it did: outcomes, snapshots, catalog records, events, and
//! what the run cost (init, handler time, peak memory, binary size).

use std::time::Duration;

use lifeboat::clients::Clients;
use lifeboat_tests::runtime::{run_function, Run};
use lifeboat_tests::{binaries, moto, sample_event, seed, World};
use serde_json::Value;

const REGION: &str = "us-east-1";

#[tokio::main]
async fn main() {
    if std::env::var(moto::ENDPOINT_VAR).is_err() {
        println!("Starting moto (the local AWS emulator) on 127.0.0.1 ...");
    }
    println!("Emulator: {}", moto::endpoint());

    let world = World::new(REGION).await;
    seed_fleet(&world.clients).await;
    println!("\nSeeded {REGION} with a small fleet:");
    println!("  orders     DB instance, postgres       tagged lifeboat:backup=true");
    println!("  inventory  DB instance, mysql          tagged lifeboat:backup=true");
    println!("  analytics  DB instance, mysql          not tagged");
    println!("  ledger     Aurora cluster, 2 members   tagged lifeboat:backup=true");

    println!(
        "\nBuilding the release lifeboat-snapshot (the first build takes several minutes) ..."
    );
    let binary = binaries::function("snapshot", true);
    let size = std::fs::metadata(&binary)
        .map(|m| m.len())
        .unwrap_or_default();

    let steps = [
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
    let events: Vec<Value> = steps.iter().map(|(file, _)| sample_event(file)).collect();
    let env = world.settings(&[]);
    let run = tokio::task::spawn_blocking(move || run_function(&binary, &env, &events))
        .await
        .unwrap_or_else(|e| panic!("runtime API: {e}"));
    if let Some(err) = &run.init_error {
        eprintln!("lifeboat-snapshot failed to start: {err}\n{}", run.logs);
        std::process::exit(1);
    }

    for ((file, what), invocation) in steps.iter().zip(&run.invocations) {
        println!(
            "\n== {what}\n   event: events/{file}   handler: {}",
            ms(invocation.handler_time)
        );
        match &invocation.result {
            Ok(summary) => print_summary(summary),
            Err(_) => println!("   ERROR {}", invocation.error_message()),
        }
    }

    print_snapshots(&world).await;
    print_records(&world).await;
    print_events(&world);
    print_cost(&run, size);
}

async fn seed_fleet(clients: &Clients) {
    let rds = &clients.rds;
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

fn print_summary(summary: &Value) {
    if let Some(message) = summary["message"].as_str() {
        println!("   {message}");
    }
    for o in summary["outcomes"].as_array().into_iter().flatten() {
        let detail = o["snapshot_id"]
            .as_str()
            .or(o["reason"].as_str())
            .or(o["error"].as_str())
            .unwrap_or_default();
        println!(
            "   {:<10} {:<8} {:<8} {detail}",
            o["database"].as_str().unwrap_or_default(),
            o["database_kind"].as_str().unwrap_or_default(),
            o["outcome"].as_str().unwrap_or_default(),
        );
    }
}

async fn print_snapshots(world: &World) {
    let rds = &world.clients.rds;
    println!("\n== Snapshots in RDS ({REGION})");
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
        "\n== Catalog records in s3://{}/ ({})",
        world.bucket,
        records.len()
    );
    for (key, record) in &records {
        println!("   {key}");
        println!(
            "      kind={} trigger={} recovery_point_time={}",
            record["kind"].as_str().unwrap_or_default(),
            record["trigger"]["type"].as_str().unwrap_or_default(),
            record["recovery_point_time"].as_str().unwrap_or_default()
        );
    }
    if let Some((key, record)) = records
        .iter()
        .find(|(_, r)| r["database_kind"] == "cluster")
    {
        println!("\n   One record in full ({key}):");
        for line in serde_json::to_string_pretty(record)
            .unwrap_or_default()
            .lines()
        {
            println!("   {line}");
        }
    }
}

fn print_events(world: &World) {
    let events = world.published();
    println!("\n== Events on the bus ({})", events.len());
    for e in &events {
        println!(
            "   {:<18} {:<10} {}",
            e["detail-type"].as_str().unwrap_or_default(),
            e["detail"]["database"].as_str().unwrap_or_default(),
            e["detail"]["snapshot_id"].as_str().unwrap_or_default()
        );
    }
}

fn print_cost(run: &Run, size: u64) {
    println!("\n== What it cost (release build, local runtime API, emulator latency ~1 ms)");
    println!("   binary size   {:.1} MiB", size as f64 / 1024.0 / 1024.0);
    if let Some(init) = run.init_time {
        println!("   init          {}", ms(init));
    }
    for (n, invocation) in run.invocations.iter().enumerate() {
        println!("   invocation {}  {}", n + 1, ms(invocation.handler_time));
    }
    if let Some(kib) = run.peak_rss_kib {
        println!("   peak memory   {:.1} MiB", kib as f64 / 1024.0);
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
