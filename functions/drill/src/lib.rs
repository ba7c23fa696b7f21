//! `lifeboat-drill`: proof of recovery, in the DR region it tests. A drill
//! restores the newest copy of a DB in this region through the same
//! planner and executor as `lifeboat-restore` (a drill that took another
//! path would prove nothing), into `lifeboat-drill-<db>-<YYYYMMDD>`, tagged
//! `lifeboat:drill=true`, never public, Multi-AZ off, in the drill network;
//! waits until it is available; verifies it against the snapshot's catalog
//! record and, if one is set, with the user's validator; deletes it; and
//! records the recovery time and recovery point it proved.
//!
//! A Step Functions state machine carries each drill (start, then `check`
//! every minute until available or timed out, then `finish`), so that every
//! invocation is short. Only DBs tagged `lifeboat:drill=true` are ever
//! deleted; a start first deletes the leftovers of drills that crashed
//! (older than the timeout).

pub mod event;
pub mod validator;

use chrono::{DateTime, SubsecRound, Utc};
use lambda_runtime::LambdaEvent;
use lifeboat::aws::publisher::Announcement;
use lifeboat::aws::rds;
use lifeboat::aws::rds::restore::Deadline;
use lifeboat::domain::drill::{self, Candidate};
use lifeboat::domain::model::DatabaseKind;
use lifeboat::domain::naming;
use lifeboat::domain::outcome::{Entry, Outcome, Summary};
use lifeboat::domain::record::{self, Check, DrillRecord, Record, RecordKind, Verdict};
use lifeboat::domain::restore_plan::{self, Overrides};
use lifeboat::domain::tags;
use lifeboat::domain::trigger::Trigger;
use lifeboat::lambda::invocation;
use lifeboat::lambda::metrics::{self, Unit};
use lifeboat::{Context, Error};
use lifeboat_restore::event::{RestoreRequest, SnapshotChoice};
use serde::Serialize;
use serde_json::{json, Value};

use crate::event::{Drill, Request};
use crate::validator::Validator;

pub const FUNCTION: &str = "drill";

/// The settings this function reads; a deployment must set each.
pub const SETTINGS: &[&str] = &[
    lifeboat::lambda::config::CATALOG_BUCKET,
    lifeboat::lambda::config::CATALOG_PREFIX,
    lifeboat::lambda::config::EVENT_BUS,
    lifeboat::lambda::config::RDS_CALLS_PER_SECOND,
    lifeboat::lambda::config::RDS_BURST,
    lifeboat::lambda::config::SELECT_TAG,
    lifeboat::lambda::config::DRILL_DATABASES,
    lifeboat::lambda::config::DRILL_SUBNET_GROUP,
    lifeboat::lambda::config::DRILL_SECURITY_GROUPS,
    lifeboat::lambda::config::DRILL_INSTANCE_CLASS,
    lifeboat::lambda::config::DRILL_VALIDATOR,
    lifeboat::lambda::config::DRILL_TIMEOUT_MINUTES,
];

pub const PASSED: &str = "Drill Passed";
pub const FAILED: &str = "Drill Failed";

/// A drill restores and deletes in its own region only: a stack with DR
/// regions is a primary stack, where drills do not run.
pub fn check(ctx: &Context) -> Result<(), Error> {
    if ctx.config.dr_regions.is_empty() {
        Ok(())
    } else {
        Err(Error::MalformedSetting {
            name: lifeboat::lambda::config::DR_REGIONS,
            value: ctx.config.dr_regions.join(","),
            problem: "a drill runs in the DR region it tests (a recovery stack), which has no DR regions of its own".into(),
        })
    }
}

/// What a step returns: the drills started (for the state machine to map
/// over), one drill's progress, or one drill's result.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Report {
    Started {
        #[serde(flatten)]
        summary: Summary,
        drills: Vec<Drill>,
        /// DBs whose drill could not be started (failed, or refused by the
        /// restore planner: a failed drill, recorded), and problems that
        /// are no one DB's: the state machine fails on them once the drills
        /// that did start are done.
        failed_to_start: usize,
    },
    Checked {
        drill: Drill,
        /// `creating` (wait and check again), `available` or `timed_out`
        /// (finish), `gone` (finish: the drill DB disappeared).
        state: &'static str,
    },
    Finished(Box<DrillResult>),
}

/// A finished drill: its record, and where it was written.
#[derive(Debug, Clone, Serialize)]
pub struct DrillResult {
    pub drill: Drill,
    pub verdict: Verdict,
    pub record: DrillRecord,
    pub catalog_key: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl invocation::Report for Report {
    fn log(&self) {
        match self {
            Report::Started { summary, .. } => summary.log(),
            other => tracing::info!(
                report = %serde_json::to_string(other).unwrap_or_default(),
                "done"
            ),
        }
    }

    /// A failed drill is not a failed invocation: its record and event say
    /// so, and the state machine ends in failure on the verdict. Nor is a
    /// start that failed for some DBs: the drills it did start must still
    /// be checked, verified and deleted, so it hands them on, and the state
    /// machine fails once they are done (on the summary's `failed` count).
    /// What fails the invocation is a finish with work left undone (a
    /// record not written, a drill DB not deleted), which a retry finishes.
    fn into_result(self) -> Result<Self, Error> {
        match self {
            Report::Finished(result) if !result.errors.is_empty() => Err(Error::PartialFailure {
                failed: result.errors.len(),
                total: result.errors.len(),
                details: result.errors.join("; "),
            }),
            other => Ok(other),
        }
    }
}

pub async fn handle(
    ctx: &Context,
    validator: &Validator,
    event: LambdaEvent<Value>,
) -> Result<Report, Error> {
    let request_id = event.context.request_id.clone();
    let deadline = Deadline::at(restore_plan::lambda_deadline(event.context.deadline));
    invocation::handle(
        event,
        |payload| event::parse(payload, Utc::now().trunc_subsecs(0)),
        |request| {
            Box::pin(async move {
                let now = Utc::now().trunc_subsecs(0);
                Ok(match request {
                    Request::Start {
                        trigger,
                        databases,
                        now,
                    } => {
                        Box::pin(start(ctx, trigger, databases, now, &deadline, &request_id))
                            .await?
                    }
                    Request::Check(drill) => check_progress(ctx, *drill, now).await?,
                    Request::Finish(drill) => Report::Finished(Box::new(
                        Box::pin(finish(ctx, validator, *drill, now, &request_id)).await,
                    )),
                })
            })
        },
    )
    .await
}

/// Deletes crashed drills' leftovers, then starts a drill of each DB.
pub async fn start(
    ctx: &Context,
    trigger: Trigger,
    databases: Option<Vec<String>>,
    now: DateTime<Utc>,
    deadline: &Deadline,
    request_id: &str,
) -> Result<Report, Error> {
    let region = ctx.config.region.clone();
    let settings = &ctx.config.drill;
    let mut outcomes = clean_up_leftovers(ctx, now).await?;

    let only =
        databases.or_else(|| (!settings.databases.is_empty()).then(|| settings.databases.clone()));
    let snapshots = rds::describe_manual_snapshots(ctx.clients.rds()).await?;
    let (candidates, skipped) = drill::candidates(&snapshots, &region, only.as_deref());
    outcomes.extend(
        skipped
            .into_iter()
            .map(|(db, reason)| Entry::new(db, Outcome::Skipped { reason }).region(&region)),
    );

    let mut drills = Vec::new();
    let mut events = Vec::new();
    let mut refused = 0;
    for candidate in candidates {
        let entry = |outcome| {
            Entry::new(&candidate.series.database, outcome)
                .kind(candidate.series.kind)
                .region(&region)
                .snapshot(&candidate.snapshot.id)
        };
        let target = naming::drill_identifier(&candidate.series.database, now);
        match Box::pin(begin(ctx, &candidate, &target, now, deadline)).await {
            Ok(Begun::Started(drill)) => {
                outcomes.push(entry(Outcome::Created));
                drills.push(*drill);
            }
            Ok(Begun::Running(why)) => outcomes.push(entry(Outcome::Skipped { reason: why })),
            Ok(Begun::Refused(why)) => {
                // Nothing was made: the drill is over, and failed.
                refused += 1;
                let drill = Drill {
                    database: candidate.series.database.clone(),
                    database_kind: candidate.series.kind,
                    source_region: candidate.series.source_region.clone(),
                    region: region.clone(),
                    target: target.clone(),
                    snapshot_id: candidate.snapshot.id.clone(),
                    recovery_point_time: candidate.snapshot.recovery_point(),
                    restore_id: String::new(),
                    started_at: now,
                    available_at: None,
                    state: Some("refused".into()),
                };
                let checks = vec![Check {
                    name: "restore".into(),
                    passed: false,
                    detail: why.clone(),
                }];
                let result = conclude(ctx, drill, checks, true, now, request_id).await;
                events.extend(result.1);
                outcomes.push(entry(match result.0 {
                    Ok(_) => Outcome::Skipped {
                        reason: format!("drill failed: the restore was refused: {why}"),
                    },
                    Err(e) => Outcome::failed(&e),
                }));
            }
            Err(e) => outcomes.push(entry(Outcome::failed(&e))),
        }
    }
    let mut summary = Summary::new(FUNCTION, Some(trigger), outcomes);
    summary.errors = ctx.publisher().publish(&events).await;
    let failed_to_start = refused + summary.failures().count() + summary.errors.len();
    Ok(Report::Started {
        summary,
        drills,
        failed_to_start,
    })
}

enum Begun {
    Started(Box<Drill>),
    /// A drill of the DB is already under way (a redelivered or concurrent
    /// schedule): left to it.
    Running(String),
    /// The restore planner refused: what a real restore would need.
    Refused(String),
}

/// Starts the restore of one drill, through the restore function's own
/// path, with the drill's network, class and tag.
async fn begin(
    ctx: &Context,
    candidate: &Candidate,
    target: &str,
    now: DateTime<Utc>,
    deadline: &Deadline,
) -> Result<Begun, Error> {
    let settings = &ctx.config.drill;
    let region = &ctx.config.region;
    if let Some(why) = running(ctx, candidate.series.kind, target).await? {
        return Ok(Begun::Running(why));
    }
    let request = RestoreRequest {
        database: candidate.series.database.clone(),
        source_region: Some(candidate.series.source_region.clone()),
        database_kind: Some(candidate.series.kind),
        snapshot: SnapshotChoice::Named {
            id: candidate.snapshot.id.clone(),
            kind: Some(candidate.series.kind),
            region: None,
        },
        region: Some(region.clone()),
        target: target.to_string(),
        dry_run: false,
        overrides: Overrides {
            instance_class: settings.instance_class.clone(),
            subnet_group: settings.subnet_group.clone(),
            // None given: the VPC's default security group (the captured
            // ones are the source region's, and exist nowhere else).
            security_group_ids: Some(settings.security_group_ids.clone()),
            multi_az: Some(false),
            deletion_protection: Some(false),
            keep_selection_tag: Some(false),
            ..Overrides::default()
        },
        tags: [(tags::DRILL.to_string(), tags::DRILL_VALUE.to_string())].into(),
    };
    match Box::pin(lifeboat_restore::start(ctx, &request, now, deadline)).await {
        Ok(report) => Ok(Begun::Started(Box::new(Drill {
            database: candidate.series.database.clone(),
            database_kind: candidate.series.kind,
            source_region: candidate.series.source_region.clone(),
            region: region.clone(),
            target: target.to_string(),
            snapshot_id: candidate.snapshot.id.clone(),
            recovery_point_time: candidate.snapshot.recovery_point(),
            restore_id: report.restore_id.clone(),
            started_at: report.started_at.unwrap_or(now),
            available_at: None,
            state: Some("creating".into()),
        }))),
        Err(Error::RestoreRefused(why)) => {
            // A twin that started the same drill a moment before.
            if let Some(running) = running(ctx, candidate.series.kind, target).await? {
                return Ok(Begun::Running(running));
            }
            Ok(Begun::Refused(why))
        }
        Err(e) => Err(e),
    }
}

/// Why a drill of `target` is already under way, if one is.
async fn running(ctx: &Context, kind: DatabaseKind, target: &str) -> Result<Option<String>, Error> {
    let found = rds::drill::describe(ctx.clients.rds(), kind, target).await?;
    Ok(found.map(|db| {
        if db.tags.get(tags::DRILL).map(String::as_str) == Some(tags::DRILL_VALUE) {
            format!(
                "a drill of it is already under way ({target} is {})",
                db.status
            )
        } else {
            format!(
                "{target} exists and is not a drill DB: it is left alone, and no drill runs today"
            )
        }
    }))
}

/// Deletes every drill DB older than the drill timeout: a drill that
/// crashed between its start and its clean-up.
async fn clean_up_leftovers(ctx: &Context, now: DateTime<Utc>) -> Result<Vec<Entry>, Error> {
    let fleet = rds::describe_fleet(ctx.clients.rds()).await?;
    let mut outcomes = Vec::new();
    for db in fleet
        .databases
        .iter()
        .filter(|db| db.member_of.is_none())
        .filter(|db| drill::is_leftover(&db.tags, now, ctx.config.drill.timeout))
    {
        let outcome = match rds::drill::delete(ctx.clients.rds(), db.kind, &db.identifier).await {
            Ok(_) => Outcome::Deleted,
            Err(e) => Outcome::failed(&e),
        };
        outcomes.push(
            Entry::new(&db.identifier, outcome)
                .kind(db.kind)
                .region(&ctx.config.region),
        );
    }
    Ok(outcomes)
}

/// Where the drill DB is: `available` (with every member), `timed_out`,
/// `gone`, or still `creating`.
pub async fn check_progress(
    ctx: &Context,
    mut drill: Drill,
    now: DateTime<Utc>,
) -> Result<Report, Error> {
    let observed =
        rds::drill::describe(ctx.clients.rds(), drill.database_kind, &drill.target).await?;
    let state = match observed {
        None => "gone",
        Some(db) if db.is_available() => {
            drill.available_at.get_or_insert(now);
            "available"
        }
        Some(_) if now - drill.started_at > ctx.config.drill.timeout => "timed_out",
        Some(_) => "creating",
    };
    drill.state = Some(state.to_string());
    Ok(Report::Checked { drill, state })
}

/// Verifies the drill DB, asks the validator, deletes the drill DB and
/// records the result. A second finish of the same drill (a retried step)
/// finds the record written and deletes nothing it has not.
pub async fn finish(
    ctx: &Context,
    validator: &Validator,
    drill: Drill,
    now: DateTime<Utc>,
    request_id: &str,
) -> DrillResult {
    let rds = ctx.clients.rds();
    let mut checks = Vec::new();
    let observed = rds::drill::describe(rds, drill.database_kind, &drill.target).await;
    match &observed {
        Ok(Some(db)) if drill.available_at.is_some() || db.is_available() => {
            let record = snapshot_record(ctx, &drill).await;
            checks.extend(drill::verify(
                drill.database_kind,
                record.as_ref().map(|r| &r.body).map_err(String::as_str),
                db,
            ));
            if let Some(function) = &ctx.config.drill.validator {
                let payload = json!({
                    "database": drill.database,
                    "target": drill.target,
                    "endpoint": db.endpoint,
                    "port": db.port,
                    "engine": db.engine,
                    "snapshot_id": drill.snapshot_id,
                    "recovery_point_time": drill.recovery_point_time,
                });
                let answer = validator.invoke(function, &payload).await;
                checks.push(drill::validator_check(
                    function,
                    answer.as_ref().map_err(Clone::clone),
                ));
            }
        }
        Ok(Some(db)) => checks.push(Check {
            name: "available".into(),
            passed: false,
            detail: format!(
                "{} after {} minutes (the timeout is {})",
                db.status,
                (now - drill.started_at).num_minutes(),
                ctx.config.drill.timeout.num_minutes()
            ),
        }),
        Ok(None) => checks.push(Check {
            name: "available".into(),
            passed: false,
            detail: format!(
                "{} is gone: deleted by someone else before it was verified",
                drill.target
            ),
        }),
        Err(e) => checks.push(Check {
            name: "available".into(),
            passed: false,
            detail: format!("{} could not be described: {e}", drill.target),
        }),
    }
    let mut errors = Vec::new();
    let cleaned_up = match rds::drill::delete(rds, drill.database_kind, &drill.target).await {
        Ok(_) => true,
        Err(e) => {
            errors.push(format!("{}: not deleted: {e}", drill.target));
            false
        }
    };
    let (written, events) = conclude(ctx, drill.clone(), checks, cleaned_up, now, request_id).await;
    errors.extend(ctx.publisher().publish(&events).await);
    match written {
        Ok((record, catalog_key)) => DrillResult {
            drill,
            verdict: record.verdict,
            record,
            catalog_key,
            errors,
        },
        Err(e) => {
            errors.push(e.to_string());
            let record = drill_record(&drill, Vec::new(), cleaned_up);
            DrillResult {
                drill,
                verdict: Verdict::Failed,
                record,
                catalog_key: String::new(),
                errors,
            }
        }
    }
}

/// The record of a drill.
fn drill_record(drill: &Drill, checks: Vec<Check>, cleaned_up: bool) -> DrillRecord {
    DrillRecord {
        database: drill.database.clone(),
        database_kind: drill.database_kind,
        source_region: drill.source_region.clone(),
        region: drill.region.clone(),
        target: drill.target.clone(),
        snapshot_id: drill.snapshot_id.clone(),
        recovery_point_time: drill.recovery_point_time,
        started_at: drill.started_at,
        available_at: drill.available_at,
        recovery_time_seconds: drill
            .available_at
            .map(|at| drill::seconds_between(drill.started_at, at)),
        recovery_point_age_seconds: drill
            .recovery_point_time
            .map(|point| drill::seconds_between(point, drill.started_at)),
        verdict: drill::verdict(&checks),
        checks,
        cleaned_up,
    }
}

/// Writes the drill's record (once: a retried finish finds its own and
/// announces again, another's stays silent), and returns the event and
/// metrics to send.
async fn conclude(
    ctx: &Context,
    drill: Drill,
    checks: Vec<Check>,
    cleaned_up: bool,
    now: DateTime<Utc>,
    request_id: &str,
) -> (Result<(DrillRecord, String), Error>, Vec<Announcement>) {
    let body = drill_record(&drill, checks, cleaned_up);
    let catalog = ctx.catalog();
    let key = record::drill_key(
        catalog.prefix(),
        &drill.region,
        (drill.database_kind, &drill.database),
        drill.started_at,
        &drill.target,
    );
    let record = Record::new(RecordKind::Drill, now, body.clone()).by_request(request_id);
    let ownership = match catalog.put_own(&key, &record).await {
        Ok(ownership) => ownership,
        Err(e) => return (Err(e), Vec::new()),
    };
    if !ownership.is_ours() {
        return (Ok((body, key)), Vec::new());
    }
    let mut values = vec![(
        "DrillPassed",
        if body.verdict == Verdict::Passed {
            1.0
        } else {
            0.0
        },
        Unit::Count,
    )];
    if let Some(seconds) = body.recovery_time_seconds {
        values.push(("DrillRecoveryTimeSeconds", seconds as f64, Unit::Seconds));
    }
    metrics::emit(&metrics::document(
        now,
        &[("Database", &body.database), ("Region", &body.region)],
        &values,
    ));
    let event = Announcement {
        detail_type: if body.verdict == Verdict::Passed {
            PASSED
        } else {
            FAILED
        },
        resources: Vec::new(),
        detail: json!({
            "database": body.database,
            "region": body.region,
            "target": body.target,
            "snapshot_id": body.snapshot_id,
            "verdict": body.verdict,
            "recovery_time_seconds": body.recovery_time_seconds,
            "recovery_point_age_seconds": body.recovery_point_age_seconds,
            "failed_checks": body.checks.iter().filter(|c| !c.passed).collect::<Vec<_>>(),
            "cleaned_up": body.cleaned_up,
            "catalog_key": key,
        }),
    };
    (Ok((body, key)), vec![event])
}

/// The catalog record of the snapshot a drill restored, or why none.
async fn snapshot_record(
    ctx: &Context,
    drill: &Drill,
) -> Result<Record<record::SnapshotRecord>, String> {
    let snapshot = rds::find_snapshot(
        ctx.clients.rds(),
        &drill.snapshot_id,
        Some(drill.database_kind),
    )
    .await
    .map_err(|e| e.to_string())?
    .ok_or_else(|| {
        format!(
            "snapshot {} is no longer in {}",
            drill.snapshot_id, drill.region
        )
    })?;
    lifeboat_restore::snapshot_record(&ctx.catalog(), &drill.database, &snapshot).await
}
