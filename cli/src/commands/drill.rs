//! `lifeboat drill` and `lifeboat drills`: the drill function's steps, run
//! here as its state machine runs them (or handed to that state machine),
//! and the drill records of each region.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use lifeboat::aws::rds::restore::Deadline;
use lifeboat::domain::record::{self, DrillRecord, Record, Verdict};
use lifeboat::domain::trigger::{Trigger, TriggerKind};
use lifeboat::lambda::config;
use lifeboat::Context;
use lifeboat_drill::event::Drill;
use lifeboat_drill::validator::Validator;
use lifeboat_drill::{DrillResult, Report};
use serde_json::{json, Value};

use crate::args::{DrillArgs, DrillsArgs};
use crate::commands::restore::{catch_ctrl_c, pause, Progress};
use crate::failure::Failure;
use crate::invoke;
use crate::settings::{one_region, Changed, Stacks};
use crate::show::{self, Out};
use crate::Finished;

pub async fn drill(
    out: &Out,
    stacks: &Stacks,
    regions: &[String],
    args: &DrillArgs,
) -> Result<Finished, Failure> {
    let region = one_region(stacks, regions, "drill")?;
    let ctx = stacks.context_with(&region, &drill_settings(args))?;
    lifeboat_drill::check(&ctx).map_err(|_| {
        Failure::usage(format!(
            "a drill runs in a DR region, as its recovery stack: give --region with one of the stack's DR regions ({region} is the stack's own region)"
        ))
    })?;
    if !args.wait {
        return hand_over(out, &ctx, &region, args).await;
    }

    catch_ctrl_c();
    let now = Utc::now().trunc_subsecs(0);
    let deadline = Deadline::at(Some(now + invoke::DEADLINE));
    let trigger = Trigger {
        reason: Some("lifeboat drill".to_string()),
        ..Trigger::new(TriggerKind::Manual)
    };
    let started = lifeboat_drill::start(
        &ctx,
        trigger,
        Some(args.databases.clone()),
        now,
        &deadline,
        &invoke_id(),
    )
    .await?;
    let Report::Started {
        summary,
        drills,
        failed_to_start,
    } = started
    else {
        return Err(Failure::failed("DrillFailed", "the drill did not start"));
    };
    let mut doc = json!({"region": region, "started": summary});
    if !out.is_json() {
        out.line(format!("Drill in {region}:"));
        crate::commands::snapshot::print_outcomes(out, &summary);
    }

    let validator = Validator::from_context(&ctx);
    let mut results = Vec::new();
    let mut stopped = false;
    for drill in drills {
        let (result, interrupted) =
            watch_and_finish(out, &ctx, &validator, drill, args.poll_seconds).await?;
        stopped |= interrupted;
        if !out.is_json() {
            print_result(out, &result);
        }
        results.push(result);
    }
    let passed = failed_to_start == 0
        && !results.is_empty()
        && results.iter().all(|r| r.verdict == Verdict::Passed);
    doc["drills"] = json!(results);
    doc["verdict"] = json!(if passed { "passed" } else { "failed" });
    if out.is_json() {
        out.json(&doc);
    } else if failed_to_start > 0 {
        out.line(format!(
            "\n{}  {failed_to_start} drill(s) could not be started: the table above says why",
            out.bad("FAILED")
        ));
    }
    Ok(if stopped {
        Finished::StoppedWatching
    } else if passed {
        Finished::Done
    } else {
        Finished::Refused
    })
}

/// The drill settings the flags change.
fn drill_settings(args: &DrillArgs) -> Changed {
    let mut changed = Changed::new();
    if let Some(group) = &args.subnet_group {
        changed.insert(config::DRILL_SUBNET_GROUP, group.clone());
    }
    if !args.security_group.is_empty() {
        changed.insert(config::DRILL_SECURITY_GROUPS, args.security_group.join(","));
    }
    if let Some(class) = &args.instance_class {
        changed.insert(config::DRILL_INSTANCE_CLASS, class.clone());
    }
    if let Some(function) = &args.validator {
        changed.insert(config::DRILL_VALIDATOR, function.clone());
    }
    changed
}

fn invoke_id() -> String {
    invoke::event(Value::Null).context.request_id
}

/// Checks the drill DB until it is not being created any more, as the
/// state machine does, then finishes the drill. Ctrl-C finishes it at
/// once: a drill is no one's production, and its DB costs until deleted.
async fn watch_and_finish(
    out: &Out,
    ctx: &Context,
    validator: &Validator,
    mut drill: Drill,
    poll_seconds: u64,
) -> Result<(DrillResult, bool), Failure> {
    let progress = Progress::new(out);
    let mut interrupted = false;
    loop {
        let now = Utc::now().trunc_subsecs(0);
        match lifeboat_drill::check_progress(ctx, drill.clone(), now).await {
            Ok(Report::Checked { drill: seen, state }) => {
                drill = seen;
                if state != "creating" {
                    break;
                }
                progress.show_line(
                    format!("{} ({}): {state}", drill.target, drill.database),
                    Some(drill.started_at),
                    (now - drill.started_at).num_seconds(),
                );
            }
            Ok(_) => break,
            // A throttle that outlasted the retries, a network blip: shown,
            // and the watching goes on.
            Err(e) => progress.error(&e.to_string()),
        }
        if pause(Duration::from_secs(poll_seconds)).await {
            interrupted = true;
            out.note(format!(
                "Stopped: finishing the drill of {} now (its DB is deleted, the drill recorded as failed).",
                drill.database
            ));
            break;
        }
    }
    progress.clear();
    let now = Utc::now().trunc_subsecs(0);
    let result = lifeboat_drill::finish(ctx, validator, drill, now, &invoke_id()).await;
    Ok((result, interrupted))
}

fn print_result(out: &Out, result: &DrillResult) {
    let r = &result.record;
    let verdict = match r.verdict {
        Verdict::Passed => out.good("PASSED"),
        Verdict::Failed => out.bad("FAILED"),
    };
    out.line(format!(
        "\n{verdict}  {} from {} into {}",
        r.database, r.snapshot_id, r.target
    ));
    if let Some(seconds) = r.recovery_time_seconds {
        out.line(format!(
            "  recovery time   {} (start to available)",
            show::duration(seconds)
        ));
    }
    if let Some(seconds) = r.recovery_point_age_seconds {
        out.line(format!(
            "  recovery point  {} old at the start",
            show::age(seconds)
        ));
    }
    let mut table = out.table(&["CHECK", "RESULT", "DETAIL"]);
    for check in &r.checks {
        table.add_row(vec![
            comfy_table::Cell::new(&check.name),
            out.verdict_cell(if check.passed { "ok" } else { "FAILED" }, check.passed),
            comfy_table::Cell::new(&check.detail),
        ]);
    }
    out.print_table(&table);
    out.line(format!(
        "  clean-up        {}",
        if r.cleaned_up {
            "the drill DB is deleted"
        } else {
            "NOT done: the drill DB is left; the next drill deletes it"
        }
    ));
    for error in &result.errors {
        out.line(format!("  error           {error}"));
    }
}

/// Hands the drill to the region's drill state machine.
async fn hand_over(
    out: &Out,
    ctx: &Context,
    region: &str,
    args: &DrillArgs,
) -> Result<Finished, Failure> {
    let Some(state_machine) = &args.drill_state_machine else {
        return Err(Failure::usage(format!(
            "without --wait the drill is handed to {region}'s drill state machine: give --drill-state-machine (or set LIFEBOAT_DRILL_STATE_MACHINE) with the recovery stack's DrillStateMachineArn output, or give --wait to run the drill here"
        )));
    };
    let sfn = aws_sdk_sfn::Client::new(ctx.clients.sdk_config());
    let input = json!({"databases": args.databases});
    let started = sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| Failure::from(lifeboat::Error::aws("StartExecution", e)))?;
    let execution = started.execution_arn();
    let doc = json!({"region": region, "databases": args.databases, "execution": execution});
    if out.is_json() {
        out.json(&doc);
    } else {
        out.line(format!(
            "Drill of {} handed to the drill state machine in {region}:\n  {execution}\nIts verdict lands in the catalog: lifeboat drills --region {region}",
            args.databases.join(", ")
        ));
    }
    Ok(Finished::Done)
}

pub async fn drills(
    out: &Out,
    stacks: &Stacks,
    regions: &[String],
    args: &DrillsArgs,
) -> Result<Finished, Failure> {
    let mut rows: Vec<Value> = Vec::new();
    let mut errors = Vec::new();
    for region in stacks.regions(regions)? {
        match drills_in(stacks, &region, args).await {
            Ok(found) => rows.extend(found.iter().map(|r| json!(r))),
            Err(e) => errors.push(format!("{region}: {}", e.message())),
        }
    }
    if !out.is_json() {
        let mut table = out.table(&[
            "REGION",
            "DB",
            "STARTED",
            "VERDICT",
            "RTO",
            "RPO",
            "SNAPSHOT",
            "FAILED CHECKS",
        ]);
        for r in &rows {
            let Ok(d) = serde_json::from_value::<DrillRecord>(r.clone()) else {
                continue;
            };
            let failed: Vec<String> = d
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect();
            table.add_row(vec![
                comfy_table::Cell::new(&d.region),
                comfy_table::Cell::new(&d.database),
                comfy_table::Cell::new(show::time(d.started_at)),
                out.verdict_cell(
                    if d.verdict == Verdict::Passed {
                        "passed"
                    } else {
                        "FAILED"
                    },
                    d.verdict == Verdict::Passed,
                ),
                comfy_table::Cell::new(
                    d.recovery_time_seconds
                        .map(show::duration)
                        .unwrap_or_default(),
                ),
                comfy_table::Cell::new(
                    d.recovery_point_age_seconds
                        .map(show::age)
                        .unwrap_or_default(),
                ),
                comfy_table::Cell::new(&d.snapshot_id),
                comfy_table::Cell::new(failed.join("; ")),
            ]);
        }
        if rows.is_empty() {
            out.line("No drills recorded.");
        } else {
            out.print_table(&table);
        }
    }
    Ok(out.finish(json!({"drills": rows}), &errors, "drill records not read"))
}

/// The newest `args.last` drill records of each DB in `region`'s catalog,
/// newest first.
async fn drills_in(
    stacks: &Stacks,
    region: &str,
    args: &DrillsArgs,
) -> Result<Vec<DrillRecord>, Failure> {
    let ctx = stacks.context(region)?;
    let catalog = ctx.catalog_in(region)?;
    let prefix = record::region_drills_prefix(catalog.prefix(), region);
    let keys = catalog.list(&prefix, usize::MAX).await?;
    // Keys are <kind>/<db>/<newest first>-<target>.json: group by DB.
    let mut by_db: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in keys {
        let Some(rest) = key.strip_prefix(&prefix) else {
            continue;
        };
        let mut parts = rest.splitn(3, '/');
        let (Some(kind), Some(db)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !args.databases.is_empty() && !args.databases.iter().any(|d| d == db) {
            continue;
        }
        let held = by_db.entry(format!("{kind}/{db}")).or_default();
        if (held.len() as u64) < args.last {
            held.push(key);
        }
    }
    let mut records = Vec::new();
    for key in by_db.into_values().flatten() {
        let record: Record<DrillRecord> = catalog.get(&key).await?;
        records.push(record.body);
    }
    records.sort_by_key(|r| std::cmp::Reverse(r.started_at));
    Ok(records)
}
