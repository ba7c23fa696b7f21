//! `lifeboat restore` and `lifeboat restore-status`: the restore function's
//! requests. A restore is planned first (the function's dry run), shown as
//! a person reads it, confirmed, then started from the very snapshot the
//! plan showed; `--wait` then asks the function for the restore's status
//! until the DB is available, as the state machine does.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use lifeboat::domain::model::DatabaseKind;
use lifeboat::domain::restore_plan::{Calls, Missing, Overrides};
use lifeboat::Context;
use lifeboat_restore::report::{Report, RestoreReport, StatusReport};
use serde_json::{json, Value};

use crate::args::{OverrideArgs, RestoreArgs, RestoreStatusArgs, OVERRIDE_FLAGS};
use crate::failure::{in_flags, Failure};
use crate::invoke;
use crate::settings::Stacks;
use crate::show::{self, Out};
use crate::Finished;

pub async fn restore(
    out: &Out,
    stacks: &Stacks,
    regions: &[String],
    profile: Option<&str>,
    args: &RestoreArgs,
) -> Result<Finished, Failure> {
    let region = restore_region(regions)?;
    let ctx = stacks.context(&region)?;
    let planned = start(&ctx, &request(args, &region, &args.snapshot, true)).await?;
    let mut doc = json!({"plan": planned});
    if !out.is_json() {
        print_plan(out, &planned);
    }
    let refusal = refusal(&planned);
    if args.dry_run {
        out.line("Dry run: nothing was created.");
        if let Some(refusal) = &refusal {
            out.line(format!(
                "Without a change it would be refused: {}",
                refusal.message()
            ));
            doc["refusal"] = json!(refusal.message());
        }
        if out.is_json() {
            out.json(&doc);
        }
        return Ok(Finished::Done);
    }
    if let Some(refusal) = refusal {
        out.failure(&refusal, Some(doc));
        return Ok(Finished::Refused);
    }
    if ctx.config.dry_run {
        let failure = Failure::failed(
            "DryRunSetting",
            format!("{} is true in this environment, so every restore is a dry run: nothing was created; unset it to restore", lifeboat::lambda::config::DRY_RUN),
        );
        out.failure(&failure, Some(doc));
        return Ok(Finished::Refused);
    }
    if !args.yes && !confirmed(&planned)? {
        let failure = Failure::failed("NotConfirmed", "not confirmed: nothing was created");
        out.failure(&failure, Some(doc));
        return Ok(Finished::Refused);
    }

    // From here on Ctrl-C only stops the watching: a start under way
    // finishes its calls (it records itself before the first).
    catch_ctrl_c();
    let resume = resume_command(args, &region, &planned.snapshot.id, profile);
    let started = match start(&ctx, &request(args, &region, &planned.snapshot.id, false)).await {
        Ok(started) => started,
        Err(failure) => {
            let failure = match failure {
                Failure::Failed { kind, message } if kind == "RestoreIncomplete" => {
                    Failure::Failed {
                        message: format!("{message}; to resume: {resume}"),
                        kind,
                    }
                }
                other => other,
            };
            out.failure(&failure, Some(doc));
            return Ok(Finished::Refused);
        }
    };
    doc["restore"] = json!(started);
    if !out.is_json() {
        print_started(out, &started);
    }
    if !args.wait {
        out.line(format!(
            "Watch it: {}",
            watch_command(&region, &started.target, profile)
        ));
        if out.is_json() {
            out.json(&doc);
        }
        return Ok(Finished::Done);
    }
    watch_and_finish(
        out,
        &ctx,
        &region,
        &started.target,
        args.poll_seconds,
        profile,
        doc,
    )
    .await
}

pub async fn status(
    out: &Out,
    stacks: &Stacks,
    regions: &[String],
    profile: Option<&str>,
    args: &RestoreStatusArgs,
) -> Result<Finished, Failure> {
    let region = restore_region(regions)?;
    let ctx = stacks.context(&region)?;
    if args.wait {
        catch_ctrl_c();
        return watch_and_finish(
            out,
            &ctx,
            &region,
            &args.target,
            args.poll_seconds,
            profile,
            json!({}),
        )
        .await;
    }
    let report = look(&ctx, &region, &args.target).await?;
    if out.is_json() {
        out.json(&json!({"status": report}));
    } else {
        print_status(out, &report);
    }
    Ok(Finished::Done)
}

fn restore_region(regions: &[String]) -> Result<String, Failure> {
    match regions {
        [one] => Ok(one.clone()),
        [] => Err(Failure::usage(
            "which region? give --region: the region to restore into (e.g. --region us-west-2)",
        )),
        _ => Err(Failure::usage(
            "a restore is in one region: give --region once",
        )),
    }
}

/// The restore request the function takes.
pub fn request(args: &RestoreArgs, region: &str, snapshot: &str, dry_run: bool) -> Value {
    json!({
        "database": args.database,
        "target": args.target,
        "region": region,
        "snapshot": snapshot,
        "source_region": args.source_region,
        "database_kind": args.database_kind.map(DatabaseKind::from),
        "dry_run": dry_run,
        "overrides": overrides(&args.overrides),
    })
}

fn overrides(o: &OverrideArgs) -> Overrides {
    Overrides {
        instance_class: o.instance_class.clone(),
        subnet_group: o.subnet_group.clone(),
        security_group_ids: (!o.security_group.is_empty()).then(|| o.security_group.clone()),
        multi_az: o.multi_az,
        parameter_group: o.parameter_group.clone(),
        cluster_parameter_group: o.cluster_parameter_group.clone(),
        option_group: o.option_group.clone(),
        port: o.port,
        availability_zone: o.availability_zone.clone(),
        storage_type: o.storage_type.clone(),
        iops: o.iops,
        deletion_protection: o.deletion_protection,
        iam_database_authentication: o.iam_database_authentication,
        keep_selection_tag: o.keep_selection_tag.then_some(true),
        publicly_accessible: None,
    }
}

async fn start(ctx: &Context, request: &Value) -> Result<RestoreReport, Failure> {
    match lifeboat_restore::handle(ctx, invoke::event(request.clone())).await? {
        Report::Restore(report) => Ok(*report),
        Report::Status(_) => Err(Failure::failed(
            "UnexpectedReport",
            "the restore function answered a restore with a status",
        )),
    }
}

async fn look(ctx: &Context, region: &str, target: &str) -> Result<StatusReport, Failure> {
    let request = json!({"action": "status", "region": region, "target": target});
    match lifeboat_restore::handle(ctx, invoke::event(request)).await? {
        Report::Status(report) => Ok(*report),
        Report::Restore(_) => Err(Failure::failed(
            "UnexpectedReport",
            "the restore function answered a status request with a restore",
        )),
    }
}

/// Why the plan cannot be started, as the function would refuse it: what
/// the region lacks (with the flag that gives each), or DBs that exist.
pub fn refusal(plan: &RestoreReport) -> Option<Failure> {
    let mut problems = Vec::new();
    if !plan.missing.is_empty() {
        let list: Vec<String> = plan.missing.iter().map(missing_text).collect();
        problems.push(format!(
            "in {} these do not exist and must be given: {}",
            plan.region,
            list.join("; ")
        ));
    }
    if !plan.target_taken.is_empty() {
        problems.push(format!(
            "{} already exist(s) in {}; Lifeboat never touches an existing DB: choose another --target",
            plan.target_taken.join(", "),
            plan.region
        ));
    }
    (!problems.is_empty()).then(|| {
        Failure::failed(
            "RestoreRefused",
            format!("restore refused, nothing created: {}", problems.join("; ")),
        )
    })
}

fn flag_of(field: &str) -> String {
    OVERRIDE_FLAGS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or_else(
            || format!("overrides.{field}"),
            |(_, flag)| flag.to_string(),
        )
}

/// `DB subnet group prod-subnets (give --subnet-group)`.
fn missing_text(m: &Missing) -> String {
    let flag = flag_of(m.override_field);
    if m.name.is_empty() {
        format!("{} (give {flag})", m.what)
    } else {
        format!("{} {} (give {flag})", m.what, m.name)
    }
}

fn kind_name(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::Instance => "DB instance",
        DatabaseKind::Cluster => "DB cluster",
    }
}

/// What the plan creates, one line per DB, in the order it is created.
pub fn creates(calls: &Calls) -> Vec<String> {
    let groups = |subnet: &Option<String>, sgs: &[String]| {
        let mut parts = Vec::new();
        if let Some(subnet) = subnet {
            parts.push(format!("subnet group {subnet}"));
        }
        if !sgs.is_empty() {
            parts.push(format!("security groups {}", sgs.join(", ")));
        }
        parts
    };
    match calls {
        Calls::Instance(i) => {
            let mut parts = vec![i.db_instance_class.clone()];
            if i.multi_az {
                parts.push("Multi-AZ".to_string());
            }
            parts.extend(groups(&i.db_subnet_group_name, &i.vpc_security_group_ids));
            parts.extend(
                i.db_parameter_group_name
                    .as_ref()
                    .map(|g| format!("parameter group {g}")),
            );
            parts.extend(
                i.option_group_name
                    .as_ref()
                    .map(|g| format!("option group {g}")),
            );
            parts.extend(i.port.map(|p| format!("port {p}")));
            vec![format!(
                "DB instance {}: {}",
                i.db_instance_identifier,
                parts.join(", ")
            )]
        }
        Calls::Cluster { cluster, instances } => {
            let mut parts = vec![match &cluster.engine_version {
                Some(version) => format!("{} {version}", cluster.engine),
                None => cluster.engine.clone(),
            }];
            parts.extend(cluster.db_cluster_instance_class.clone());
            parts.extend(groups(
                &cluster.db_subnet_group_name,
                &cluster.vpc_security_group_ids,
            ));
            parts.extend(
                cluster
                    .db_cluster_parameter_group_name
                    .as_ref()
                    .map(|g| format!("cluster parameter group {g}")),
            );
            let mut lines = vec![format!(
                "DB cluster {}: {}",
                cluster.db_cluster_identifier,
                parts.join(", ")
            )];
            for (n, member) in instances.iter().enumerate() {
                let role = if n == 0 { ", the writer" } else { "" };
                lines.push(format!(
                    "DB instance {}: {}{role}",
                    member.db_instance_identifier, member.db_instance_class
                ));
            }
            lines
        }
    }
}

fn print_plan(out: &Out, plan: &RestoreReport) {
    let s = &plan.snapshot;
    out.line(format!(
        "Restore {} ({}) into {} as {}",
        out.bold(&plan.database),
        kind_name(plan.database_kind),
        plan.region,
        out.bold(&plan.target)
    ));
    let point = s
        .recovery_point_time
        .map(show::time)
        .unwrap_or_else(|| "unknown".into());
    let age = s
        .age_seconds
        .map(show::age)
        .unwrap_or_else(|| s.age.clone());
    out.line(format!(
        "  from snapshot   {} (recovery point {point}, data {age} old)",
        s.id
    ));
    for (n, line) in creates(&plan.plan).into_iter().enumerate() {
        let label = if n == 0 {
            "  creates         "
        } else {
            "                  "
        };
        out.line(format!("{label}{line}"));
    }
    if let Some(why) = &plan.record {
        out.line(format!(
            "  {}  {why}: rebuilt from what the snapshot carries",
            out.bad("no record     ")
        ));
    }
    for note in &plan.notes {
        out.line(format!("  note            {}", in_flags(note)));
    }
    for m in &plan.missing {
        out.line(format!(
            "  {}  {}",
            out.bad(&format!("missing in {}", plan.region)),
            missing_text(m)
        ));
    }
    for taken in &plan.target_taken {
        out.line(format!("  {}     {taken}", out.bad("already exists")));
    }
    for error in &plan.errors {
        out.line(format!("  warning         {error}"));
    }
}

fn print_started(out: &Out, started: &RestoreReport) {
    out.line(format!(
        "{} restore {} from {}",
        out.good("Started"),
        started.restore_id,
        started.snapshot.id
    ));
    if let Some(key) = &started.catalog_key {
        out.line(format!("  recorded at     {key}"));
    }
    for note in started
        .notes
        .iter()
        .filter(|n| n.starts_with("already there"))
    {
        out.line(format!("  note            {note}"));
    }
    for error in &started.errors {
        out.line(format!("  warning         {error}"));
    }
}

/// The restore's state in one line: the DB and each cluster member.
pub fn status_line(report: &StatusReport) -> String {
    let mut parts = vec![format!(
        "{} ({}): {}",
        report.target,
        report.database_kind.as_str(),
        report.status
    )];
    if report.database_kind == DatabaseKind::Cluster {
        for instance in &report.instances {
            parts.push(format!("{} {}", instance.instance, instance.status));
        }
        for member in &report.not_created {
            parts.push(format!("{member} not created yet"));
        }
    }
    parts.join(" · ")
}

fn print_status(out: &Out, report: &StatusReport) {
    let state = if report.available {
        out.good("available")
    } else {
        out.bad("not available yet")
    };
    out.line(format!("{} in {}: {state}", report.target, report.region));
    out.line(format!("  {}", status_line(report)));
    if let Some(seconds) = report.recovery_time_seconds {
        out.line(format!(
            "  recovery time   {} from request to available{}",
            show::duration(seconds),
            match (report.requested_at, report.available_at) {
                (Some(from), Some(to)) => format!(" ({} to {})", show::time(from), show::time(to)),
                _ => String::new(),
            }
        ));
    } else if let Some(seconds) = report.elapsed_seconds {
        out.line(format!(
            "  elapsed         {} since the request",
            show::duration(seconds)
        ));
    }
    if let Some(note) = report.note {
        out.line(format!("  note            {}", in_flags(note)));
    }
    for error in &report.errors {
        out.line(format!("  warning         {error}"));
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C from here on only asks the watching to stop.
pub(crate) fn catch_ctrl_c() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Without a handler, Ctrl-C ends the process as usual.
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    });
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// How to watch a restore again.
pub fn watch_command(region: &str, target: &str, profile: Option<&str>) -> String {
    let profile = profile
        .map(|p| format!(" --profile {p}"))
        .unwrap_or_default();
    format!("lifeboat restore-status{profile} --region {region} --target {target} --wait")
}

/// How to run the same restore again, from the same snapshot: it resumes a
/// start that stopped short.
fn resume_command(
    args: &RestoreArgs,
    region: &str,
    snapshot: &str,
    profile: Option<&str>,
) -> String {
    let mut words = vec![
        "lifeboat".to_string(),
        "restore".to_string(),
        args.database.clone(),
    ];
    if let Some(p) = profile {
        words.extend(["--profile".to_string(), p.to_string()]);
    }
    words.extend([
        "--region".into(),
        region.into(),
        "--target".into(),
        args.target.clone(),
    ]);
    words.extend(["--snapshot".into(), snapshot.into()]);
    words.extend(override_words(&args.overrides));
    words.push("--yes".into());
    words.push("--wait".into());
    words.join(" ")
}

/// The flags that give `o`, in the order `--help` lists them.
fn override_words(o: &OverrideArgs) -> Vec<String> {
    let mut words = Vec::new();
    let mut give = |flag: &str, value: Option<String>| {
        if let Some(value) = value {
            words.extend([flag.to_string(), value]);
        }
    };
    give("--instance-class", o.instance_class.clone());
    give("--subnet-group", o.subnet_group.clone());
    for sg in &o.security_group {
        give("--security-group", Some(sg.clone()));
    }
    give("--multi-az", o.multi_az.map(|b| b.to_string()));
    give("--parameter-group", o.parameter_group.clone());
    give(
        "--cluster-parameter-group",
        o.cluster_parameter_group.clone(),
    );
    give("--option-group", o.option_group.clone());
    give("--port", o.port.map(|p| p.to_string()));
    give("--availability-zone", o.availability_zone.clone());
    give("--storage-type", o.storage_type.clone());
    give("--iops", o.iops.map(|i| i.to_string()));
    give(
        "--deletion-protection",
        o.deletion_protection.map(|b| b.to_string()),
    );
    give(
        "--iam-database-authentication",
        o.iam_database_authentication.map(|b| b.to_string()),
    );
    if o.keep_selection_tag {
        words.push("--keep-selection-tag".to_string());
    }
    words
}

/// Asks the function for the restore's status until the DB is available
/// or Ctrl-C, drawing the progress on standard error; then prints the
/// outcome (or the JSON document, `doc` with the last status).
async fn watch_and_finish(
    out: &Out,
    ctx: &Context,
    region: &str,
    target: &str,
    poll_seconds: u64,
    profile: Option<&str>,
    mut doc: Value,
) -> Result<Finished, Failure> {
    let again = watch_command(region, target, profile);
    let progress = Progress::new(out);
    let mut last: Option<StatusReport> = None;
    let report = loop {
        match look(ctx, region, target).await {
            Ok(report) if report.available => break report,
            Ok(report) => {
                progress.show(&report);
                last = Some(report);
            }
            // An AWS error while waiting (a throttle that outlasted the
            // retries, a network blip) is shown, and the watching goes on.
            Err(Failure::Failed { kind, message }) if kind == "AwsError" => {
                progress.error(&message);
            }
            Err(other) => {
                progress.clear();
                out.failure(&other, Some(doc));
                return Ok(Finished::Refused);
            }
        }
        if pause(Duration::from_secs(poll_seconds)).await {
            progress.clear();
            doc["watching"] = json!("stopped");
            doc["resume"] = json!(again);
            if let Some(report) = &last {
                doc["status"] = json!(report);
            }
            out.note(format!(
                "Stopped watching; the restore goes on. To watch it again:\n  {again}"
            ));
            if out.is_json() {
                out.json(&doc);
            }
            return Ok(Finished::StoppedWatching);
        }
    };
    progress.clear();
    doc["watching"] = json!("available");
    doc["status"] = json!(report);
    if out.is_json() {
        out.json(&doc);
    } else {
        print_status(out, &report);
    }
    Ok(Finished::Done)
}

/// Sleeps `total`, in short steps; true when Ctrl-C asked to stop.
pub(crate) async fn pause(total: Duration) -> bool {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < total {
        if interrupted() {
            return true;
        }
        tokio::time::sleep(step).await;
        slept += step;
    }
    interrupted()
}

/// The progress display: a spinner with the elapsed time on a terminal,
/// else a line on standard error each time the state changes.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    last: std::cell::RefCell<String>,
}

impl Progress {
    pub(crate) fn new(out: &Out) -> Self {
        let bar = out.err_terminal.then(|| {
            let bar = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            last: std::cell::RefCell::new(String::new()),
        }
    }

    fn show(&self, report: &StatusReport) {
        self.show_line(
            status_line(report),
            report.requested_at,
            report.elapsed_seconds.unwrap_or_default(),
        );
    }

    /// Shows `line`, with the time since `since` (on a terminal) or
    /// `seconds` (each line that differs from the last, elsewhere).
    pub(crate) fn show_line(&self, line: String, since: Option<DateTime<Utc>>, seconds: i64) {
        match &self.bar {
            Some(bar) => {
                if let Some(since) = since {
                    let elapsed = (Utc::now() - since).to_std().unwrap_or_default();
                    bar.set_elapsed(elapsed);
                }
                bar.set_message(line);
            }
            None => {
                if *self.last.borrow() != line {
                    eprintln!("[{}] {line}", show::duration(seconds));
                    *self.last.borrow_mut() = line;
                }
            }
        }
    }

    pub(crate) fn error(&self, error: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("(last look failed: {error})")),
            None => eprintln!("last look failed: {error}"),
        }
    }

    pub(crate) fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Asks on the terminal; anything but yes is no.
fn confirmed(plan: &RestoreReport) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::failed(
            "NotConfirmed",
            "not confirmed, nothing created: the restore asks on a terminal; give --yes to restore without asking",
        ));
    }
    let count = creates(&plan.plan).len();
    eprint!(
        "Create {count} DB{} in {} from {}? [y/N] ",
        if count == 1 { "" } else { "s" },
        plan.region,
        plan.snapshot.id
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::failed("NotConfirmed", format!("no answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;
    use lifeboat::domain::restore_plan::{
        CreateClusterInstance, RestoreDbCluster, RestoreDbInstance,
    };

    fn restore_args(extra: &[&str]) -> RestoreArgs {
        let mut argv = vec!["lifeboat", "restore", "orders", "--target", "orders-dr"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Restore(args) => *args,
            _ => panic!(),
        }
    }

    #[test]
    fn flags_become_the_functions_request() {
        let args = restore_args(&[
            "--instance-class",
            "db.r6g.large",
            "--security-group",
            "sg-1",
            "--multi-az",
            "false",
            "--keep-selection-tag",
            "--database-kind",
            "cluster",
        ]);
        let request = request(&args, "us-west-2", "latest", true);
        assert_eq!(request["database"], "orders");
        assert_eq!(request["region"], "us-west-2");
        assert_eq!(request["dry_run"], true);
        assert_eq!(request["database_kind"], "cluster");
        assert_eq!(request["overrides"]["instance_class"], "db.r6g.large");
        assert_eq!(request["overrides"]["security_group_ids"], json!(["sg-1"]));
        assert_eq!(request["overrides"]["multi_az"], false);
        assert_eq!(request["overrides"]["keep_selection_tag"], true);
        assert!(request["overrides"]["subnet_group"].is_null());
        // The function itself accepts it.
        lifeboat_restore::event::parse(&request).unwrap();
    }

    #[test]
    fn the_resume_command_pins_the_snapshot_and_keeps_the_flags() {
        let args = restore_args(&[
            "--security-group",
            "sg-1",
            "--security-group",
            "sg-2",
            "--port",
            "5433",
        ]);
        assert_eq!(
            resume_command(&args, "us-west-2", "lifeboat-orders-20261124-0400", Some("prod")),
            "lifeboat restore orders --profile prod --region us-west-2 --target orders-dr --snapshot lifeboat-orders-20261124-0400 --security-group sg-1 --security-group sg-2 --port 5433 --yes --wait"
        );
        assert_eq!(
            watch_command("us-west-2", "orders-dr", None),
            "lifeboat restore-status --region us-west-2 --target orders-dr --wait"
        );
    }

    #[test]
    fn a_plan_reads_as_the_dbs_it_creates() {
        let instance = Calls::Instance(RestoreDbInstance {
            db_instance_identifier: "orders-dr".into(),
            db_instance_class: "db.t4g.medium".into(),
            multi_az: true,
            db_subnet_group_name: Some("dr-subnets".into()),
            vpc_security_group_ids: vec!["sg-1".into()],
            ..Default::default()
        });
        assert_eq!(
            creates(&instance),
            ["DB instance orders-dr: db.t4g.medium, Multi-AZ, subnet group dr-subnets, security groups sg-1"]
        );
        let cluster = Calls::Cluster {
            cluster: RestoreDbCluster {
                db_cluster_identifier: "ledger-dr".into(),
                engine: "aurora-postgresql".into(),
                engine_version: Some("16.4".into()),
                ..Default::default()
            },
            instances: vec![
                CreateClusterInstance {
                    db_instance_identifier: "ledger-dr-1".into(),
                    db_instance_class: "db.r6g.large".into(),
                    ..Default::default()
                },
                CreateClusterInstance {
                    db_instance_identifier: "ledger-dr-2".into(),
                    db_instance_class: "db.r6g.xlarge".into(),
                    ..Default::default()
                },
            ],
        };
        assert_eq!(
            creates(&cluster),
            [
                "DB cluster ledger-dr: aurora-postgresql 16.4",
                "DB instance ledger-dr-1: db.r6g.large, the writer",
                "DB instance ledger-dr-2: db.r6g.xlarge",
            ]
        );
    }

    #[test]
    fn what_is_missing_names_its_flag() {
        let m = Missing {
            what: "DB subnet group".into(),
            name: "prod-subnets".into(),
            override_field: "subnet_group",
        };
        assert_eq!(
            missing_text(&m),
            "DB subnet group prod-subnets (give --subnet-group)"
        );
        let sgs = Missing {
            what: "VPC security groups".into(),
            name: String::new(),
            override_field: "security_group_ids",
        };
        assert_eq!(
            missing_text(&sgs),
            "VPC security groups (give --security-group)"
        );
    }

    #[test]
    fn a_cluster_status_reads_member_by_member() {
        let mut report = StatusReport::of(
            "us-west-2",
            "ledger-dr",
            lifeboat::aws::rds::restore::Progress {
                database_kind: DatabaseKind::Cluster,
                status: "available".into(),
                instances: vec![lifeboat::aws::rds::restore::InstanceProgress {
                    instance: "ledger-dr-1".into(),
                    status: "creating".into(),
                }],
                available: false,
            },
        );
        report.not_created = vec!["ledger-dr-2".into()];
        assert_eq!(
            status_line(&report),
            "ledger-dr (cluster): available · ledger-dr-1 creating · ledger-dr-2 not created yet"
        );
    }
}
