//! `lifeboat-monitor`: the recovery point objective, watched. For every
//! protected DB and every region it should have a recovery point in, the
//! age of the newest available Lifeboat snapshot there, `ok` or
//! `breached` against the objective, an EMF metric per DB and region, and
//! an event per breach.
//!
//! In the primary stack the protected DBs are those the selection tag
//! picks, checked in the source region and every DR region. In a recovery
//! stack they are every DB taken elsewhere with a Lifeboat snapshot or a
//! catalog record in this region, and, where drills run, the newest drill
//! of each must have passed within `LIFEBOAT_DRILL_MAX_AGE_SECONDS`. A
//! protected DB with no recovery point in a region is a breach, never a
//! gap; so is a region that cannot be asked.

pub mod event;

use chrono::{DateTime, SubsecRound, Utc};
use futures_util::{stream, StreamExt};
use lambda_runtime::LambdaEvent;
use lifeboat::aws::catalog::Catalog;
use lifeboat::aws::publisher::Announcement;
use lifeboat::aws::rds;
use lifeboat::domain::model::{DatabaseKind, Series, Snapshot};
use lifeboat::domain::outcome::{Entry, LastDrill, Outcome, RecoveryPointStatus, Summary};
use lifeboat::domain::record::{self, DrillRecord, Record};
use lifeboat::domain::recovery_point::{self, Assessment};
use lifeboat::lambda::config::StackRole;
use lifeboat::lambda::invocation;
use lifeboat::lambda::metrics::{self, Unit};
use lifeboat::{Context, Error};
use serde_json::{json, Value};

use crate::event::Request;

pub const FUNCTION: &str = "monitor";

/// The settings this function reads; a deployment must set each.
pub const SETTINGS: &[&str] = &[
    lifeboat::lambda::config::CATALOG_BUCKET,
    lifeboat::lambda::config::CATALOG_PREFIX,
    lifeboat::lambda::config::EVENT_BUS,
    lifeboat::lambda::config::RDS_CALLS_PER_SECOND,
    lifeboat::lambda::config::RDS_BURST,
    lifeboat::lambda::config::STACK_ROLE,
    lifeboat::lambda::config::SELECT_TAG,
    lifeboat::lambda::config::DR_REGIONS,
    lifeboat::lambda::config::RPO_SECONDS,
    lifeboat::lambda::config::DR_RPO_SECONDS,
    lifeboat::lambda::config::DRILL_MAX_AGE_SECONDS,
];

pub const BREACHED: &str = "Recovery Point Objective Breached";

/// Nothing beyond the common settings: a primary stack reads the DR
/// regions' snapshots through RDS, a recovery stack its own catalog.
pub fn check(_ctx: &Context) -> Result<(), Error> {
    Ok(())
}

pub async fn handle(ctx: &Context, event: LambdaEvent<Value>) -> Result<Summary, Error> {
    // Boxed: inline, the run's future is deeper than rustc's layout query
    // allows.
    invocation::handle(
        event,
        |payload| event::parse(payload, Utc::now().trunc_subsecs(0)),
        |request| Box::pin(run(ctx, request)),
    )
    .await
}

/// One DB in one region, assessed.
struct Finding {
    series: Series,
    region: String,
    assessment: Assessment,
    last_drill: Option<LastDrill>,
    /// Why the objective is breached (the recovery point's, or the drill's).
    breach: Option<String>,
}

pub async fn run(ctx: &Context, request: Request) -> Result<Summary, Error> {
    let now = request.now;
    let own = ctx.config.region.clone();
    let mut message = Vec::new();
    let mut findings = match ctx.config.stack_role {
        StackRole::Primary => {
            let fleet = rds::describe_fleet(ctx.clients.rds()).await?;
            let (protected, unprotected) = recovery_point::coverage(&fleet, &ctx.config.select_tag);
            let names: Vec<&str> = unprotected
                .iter()
                .map(|db| db.identifier.as_str())
                .collect();
            metrics::emit(&metrics::document(
                now,
                &[("Region", &own)],
                &[("UnprotectedDatabases", names.len() as f64, Unit::Count)],
            ));
            message.push(format!(
                "{} DBs protected in {own}; {} not protected (no tag {}){}{}",
                protected.len(),
                names.len(),
                ctx.config.select_tag,
                if names.is_empty() { "" } else { ": " },
                names.join(", ")
            ));
            let series: Vec<Series> = protected
                .iter()
                .map(|db| Series {
                    source_region: own.clone(),
                    kind: db.kind,
                    database: db.identifier.clone(),
                })
                .collect();
            let mut regions = vec![own.clone()];
            regions.extend(ctx.config.dr_regions.iter().cloned());
            let listed: Vec<(String, Result<Vec<Snapshot>, Error>)> = stream::iter(regions)
                .map(|region| async move {
                    let snapshots =
                        rds::describe_manual_snapshots(&ctx.clients.rds_in(&region)).await;
                    (region, snapshots)
                })
                .buffer_unordered(4)
                .collect()
                .await;
            let mut findings = Vec::new();
            for (region, snapshots) in &listed {
                findings.extend(assess_region(ctx, region, &series, snapshots.as_ref(), now));
            }
            findings
        }
        StackRole::Recovery => {
            let snapshots = rds::describe_manual_snapshots(ctx.clients.rds()).await?;
            let catalog = ctx.catalog();
            let recorded = recorded_series(&catalog, &own).await?;
            let series: Vec<Series> = recovery_point::recovered_here(&snapshots, &recorded, &own)
                .into_iter()
                .collect();
            message.push(format!(
                "{} DBs of other regions recoverable in {own}",
                series.len()
            ));
            let mut findings = assess_region(ctx, &own, &series, Ok(&snapshots), now);
            if let Some(max_age) = ctx.config.drill.max_age {
                for finding in &mut findings {
                    let db = (finding.series.kind, finding.series.database.as_str());
                    match newest_drill(&catalog, &own, db).await {
                        Ok(last) => {
                            let last_verdict = last.as_ref().map(|d| (d.verdict, d.started_at));
                            let drill = recovery_point::drill_breach(last_verdict, max_age, now);
                            finding.last_drill = last;
                            if let Some(why) = drill {
                                finding.breach = Some(match finding.breach.take() {
                                    Some(point) => format!("{point}; {why}"),
                                    None => why,
                                });
                            }
                        }
                        Err(e) => {
                            finding.breach = Some(format!(
                                "the drill records in {} could not be read: {e}",
                                catalog.bucket()
                            ))
                        }
                    }
                }
            }
            findings
        }
    };
    findings.sort_by(|a, b| (&a.series, &a.region).cmp(&(&b.series, &b.region)));

    let mut outcomes = Vec::new();
    let mut events = Vec::new();
    for f in &findings {
        emit_metrics(f, now);
        let point = Box::new(RecoveryPointStatus {
            recovery_point_time: f.assessment.recovery_point_time,
            age_seconds: f.assessment.age_seconds,
            objective_seconds: f.assessment.objective_seconds,
            last_drill: f.last_drill.clone(),
        });
        let outcome = match &f.breach {
            None => Outcome::ObjectiveMet { point },
            Some(reason) => {
                events.push(breach_event(f, reason));
                Outcome::Breached {
                    reason: reason.clone(),
                    point,
                }
            }
        };
        let mut entry = Entry::new(&f.series.database, outcome)
            .kind(f.series.kind)
            .region(&f.region);
        entry.snapshot_id = f.assessment.snapshot_id.clone();
        outcomes.push(entry);
    }
    let breaches = findings.iter().filter(|f| f.breach.is_some()).count();
    // One document a run, whatever the fleet: the alarm on it fires on a
    // breach anywhere, and on its absence (a monitor that stopped).
    metrics::emit(&metrics::document(
        now,
        &[],
        &[
            ("RecoveryPointsBreached", breaches as f64, Unit::Count),
            ("RecoveryPointsWatched", findings.len() as f64, Unit::Count),
        ],
    ));
    let mut summary =
        Summary::new(FUNCTION, Some(request.trigger), outcomes).with_message(message.join("; "));
    summary.errors = ctx.publisher().publish(&events).await;
    Ok(summary)
}

/// Every series in `series` assessed in `region` from its snapshots there;
/// a region that could not be listed is a breach for each.
fn assess_region(
    ctx: &Context,
    region: &str,
    series: &[Series],
    snapshots: Result<&Vec<Snapshot>, &Error>,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let objective = ctx.config.rpo_for(region);
    let newest = match snapshots {
        Ok(snapshots) => Ok(recovery_point::newest_by_series(snapshots)),
        Err(e) => Err(e),
    };
    series
        .iter()
        .map(|s| {
            let (assessment, breach) = match &newest {
                Ok(newest) => {
                    let a = recovery_point::assess(region, newest.get(s).copied(), objective, now);
                    let breach = a.breach.clone();
                    (a, breach)
                }
                Err(e) => {
                    let mut a = recovery_point::assess(region, None, objective, now);
                    a.breach = Some(format!(
                        "the snapshots in {region} could not be listed: {e}"
                    ));
                    let breach = a.breach.clone();
                    (a, breach)
                }
            };
            Finding {
                series: s.clone(),
                region: region.to_string(),
                assessment,
                last_drill: None,
                breach,
            }
        })
        .collect()
}

/// The DBs of other regions this region's catalog has snapshot records of:
/// `snapshots/<source-region>/<kind>/<db>/`, one listing per level.
async fn recorded_series(catalog: &Catalog, own: &str) -> Result<Vec<Series>, Error> {
    let root = record::snapshots_prefix(catalog.prefix(), "");
    let mut found = Vec::new();
    for source_region in catalog.children(&root).await? {
        if source_region == own {
            continue;
        }
        let region_prefix = record::snapshots_prefix(catalog.prefix(), &source_region);
        for kind in [DatabaseKind::Instance, DatabaseKind::Cluster] {
            let kind_prefix = format!("{region_prefix}{}/", kind.as_str());
            for database in catalog.children(&kind_prefix).await? {
                found.push(Series {
                    source_region: source_region.clone(),
                    kind,
                    database,
                });
            }
        }
    }
    Ok(found)
}

/// The newest drill record of `db` in `region`'s catalog.
async fn newest_drill(
    catalog: &Catalog,
    region: &str,
    db: (DatabaseKind, &str),
) -> Result<Option<LastDrill>, Error> {
    let prefix = record::drills_prefix(catalog.prefix(), region, db);
    let Some(key) = catalog.list(&prefix, 1).await?.into_iter().next() else {
        return Ok(None);
    };
    let drill: Record<DrillRecord> = catalog.get(&key).await?;
    Ok(Some(LastDrill {
        verdict: drill.body.verdict,
        started_at: drill.body.started_at,
        recovery_time_seconds: drill.body.recovery_time_seconds,
        recovery_point_age_seconds: drill.body.recovery_point_age_seconds,
    }))
}

/// `RecoveryPointAgeSeconds` (when there is a recovery point) and
/// `RecoveryPointObjectiveBreached` (1 or 0), per DB and region.
fn emit_metrics(f: &Finding, now: DateTime<Utc>) {
    let breached = if f.breach.is_some() { 1.0 } else { 0.0 };
    let mut values = vec![("RecoveryPointObjectiveBreached", breached, Unit::Count)];
    if let Some(age) = f.assessment.age_seconds {
        values.push(("RecoveryPointAgeSeconds", age as f64, Unit::Seconds));
    }
    metrics::emit(&metrics::document(
        now,
        &[("Database", &f.series.database), ("Region", &f.region)],
        &values,
    ));
}

fn breach_event(f: &Finding, reason: &str) -> Announcement {
    Announcement {
        detail_type: BREACHED,
        resources: Vec::new(),
        detail: json!({
            "database": f.series.database,
            "database_kind": f.series.kind,
            "source_region": f.series.source_region,
            "region": f.region,
            "snapshot_id": f.assessment.snapshot_id,
            "recovery_point_time": f.assessment.recovery_point_time,
            "age_seconds": f.assessment.age_seconds,
            "objective_seconds": f.assessment.objective_seconds,
            "reason": reason,
        }),
    }
}
