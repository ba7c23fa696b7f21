//! `lifeboat-restore`: brings a DB back from a Lifeboat snapshot, as it was.
//!
//! A restore request is resolved (which snapshot, which region), planned
//! from the configuration captured in the snapshot's catalog record, checked
//! (never an existing DB, never public, nothing regional guessed) and
//! started; the call returns once RDS has accepted it. `{"action":
//! "status"}` reports progress and, once the DB is available, the recovery
//! time actually achieved. A Step Functions state machine polls it so a
//! restore runs to completion without anyone watching.

pub mod event;
pub mod report;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, SubsecRound, Utc};
use lambda_runtime::LambdaEvent;
use lifeboat::aws::catalog::{Catalog, Written};
use lifeboat::aws::publisher::Announcement;
use lifeboat::aws::rds::{self, restore};
use lifeboat::domain::model::{is_default_group, DatabaseConfig, DatabaseKind, Snapshot};
use lifeboat::domain::record::{
    self, Record, RecordKind, RestoreAvailableRecord, RestoreRecord, SnapshotRecord,
};
use lifeboat::domain::restore_plan::{self, Plan, Refusal, Source};
use lifeboat::domain::tags;
use lifeboat::lambda::invocation;
use lifeboat::{Context, Error};
use serde_json::{json, Value};

use crate::event::{Request, RestoreRequest, SnapshotChoice};
use crate::report::{Report, RestoreReport, StatusReport};

pub const FUNCTION: &str = "restore";

/// The settings this function reads; a deployment must set each.
pub const SETTINGS: &[&str] = &[
    lifeboat::lambda::config::CATALOG_BUCKET,
    lifeboat::lambda::config::CATALOG_PREFIX,
    lifeboat::lambda::config::EVENT_BUS,
    lifeboat::lambda::config::DR_REGIONS,
    lifeboat::lambda::config::DRY_RUN,
];

/// Checks at cold start what this function cannot run without. It needs
/// nothing beyond what `Config` validates for every function (the catalog
/// bucket; the region to restore in comes with each request).
pub fn check(_ctx: &Context) -> Result<(), Error> {
    Ok(())
}

/// The Lambda handler: parse, then start a restore or report on one.
pub async fn handle(ctx: &Context, event: LambdaEvent<Value>) -> Result<Report, Error> {
    let now = Utc::now().trunc_subsecs(0);
    // The restore's future is boxed: it is deep (resolve, plan, execute,
    // record), and inline it overflows rustc's layout query depth.
    invocation::handle(event, event::parse, |request| async move {
        Ok(match request {
            Request::Restore(request) => {
                Report::Restore(Box::new(Box::pin(start(ctx, &request, now)).await?))
            }
            Request::Status { region, target } => Report::Status(Box::new(
                status(ctx, region.as_deref(), &target, now).await?,
            )),
        })
    })
    .await
}

fn refused(message: impl Into<String>) -> Error {
    Error::RestoreRefused(message.into())
}

/// The region asked for, else the first DR region.
fn region<'a>(ctx: &'a Context, asked: Option<&'a str>) -> Result<&'a str, Error> {
    asked
        .or(ctx.config.dr_regions.first().map(String::as_str))
        .ok_or_else(|| {
            refused(
                "no region given and LIFEBOAT_DR_REGIONS is empty: say which region to restore in",
            )
        })
}

/// The catalog's snapshot records of `database` taken in `source_region`:
/// snapshot identifier -> record key. One listing (a page per 1,000).
async fn record_keys(
    catalog: &Catalog,
    source_region: &str,
    database: &str,
) -> Result<HashMap<String, String>, Error> {
    let prefix = record::snapshot_prefix(catalog.prefix(), source_region, database);
    Ok(catalog
        .list(&prefix, usize::MAX)
        .await?
        .into_iter()
        .filter_map(|key| {
            // <inverted-time>-<snapshot-id>.json
            let id = key
                .strip_prefix(&prefix)?
                .strip_suffix(".json")?
                .split_once('-')?
                .1
                .to_string();
            Some((id, key))
        })
        .collect())
}

/// The catalog key of `snapshot`'s record, if the catalog has one.
async fn record_key(
    catalog: &Catalog,
    database: &str,
    snapshot: &Snapshot,
) -> Result<Option<String>, Error> {
    let Some(source_region) = snapshot.source_region() else {
        return Ok(None);
    };
    Ok(record_keys(catalog, source_region, database)
        .await?
        .remove(&snapshot.id))
}

/// Picks the snapshot to restore and its catalog record.
async fn resolve(
    catalog: &Catalog,
    rds: &aws_sdk_rds::Client,
    request: &RestoreRequest,
    region: &str,
) -> Result<(Snapshot, Record<SnapshotRecord>), Error> {
    let database = &request.database;
    match &request.snapshot {
        SnapshotChoice::Latest => {
            let mut candidates: Vec<Snapshot> = rds::describe_manual_snapshots(rds)
                .await?
                .into_iter()
                .filter(|s| s.is_managed() && s.source_db() == database.as_str())
                .collect();
            let unavailable = candidates.iter().filter(|s| !s.is_available()).count();
            candidates.retain(Snapshot::is_available);
            candidates.sort_by(|a, b| {
                b.recovery_point()
                    .cmp(&a.recovery_point())
                    .then(b.id.cmp(&a.id))
            });
            // RDS says what exists; the catalog says what it was. One
            // listing per source region the candidates came from.
            let mut keys: std::collections::HashMap<String, HashMap<String, String>> =
                std::collections::HashMap::new();
            for snapshot in candidates {
                let Some(source_region) = snapshot.source_region() else {
                    continue;
                };
                if !keys.contains_key(source_region) {
                    let found = record_keys(catalog, source_region, database).await?;
                    keys.insert(source_region.to_string(), found);
                }
                if let Some(key) = keys.get(source_region).and_then(|k| k.get(&snapshot.id)) {
                    let record = catalog.get(key).await?;
                    return Ok((snapshot, record));
                }
                tracing::warn!(snapshot_id = %snapshot.id, "no catalog record; trying an older snapshot");
            }
            Err(refused(format!(
                "no available Lifeboat snapshot of {database} with a catalog record in {region}{}",
                if unavailable > 0 {
                    format!(" ({unavailable} still being created or copied)")
                } else {
                    String::new()
                }
            )))
        }
        SnapshotChoice::Named {
            id,
            kind,
            region: arn_region,
        } => {
            if let Some(arn_region) = arn_region {
                if arn_region != region {
                    return Err(refused(format!(
                        "snapshot {id} is in {arn_region}, but the restore is in {region}: name the copy in {region} or set \"region\""
                    )));
                }
            }
            let snapshot = rds::find_snapshot(rds, id, *kind).await?.ok_or_else(|| {
                refused(format!(
                    "no DB snapshot or DB cluster snapshot {id} in {region}"
                ))
            })?;
            if !snapshot.is_available() {
                return Err(refused(format!(
                    "snapshot {id} is {}, not available",
                    snapshot.status
                )));
            }
            if !snapshot.is_managed() || snapshot.source_db() != database.as_str() {
                return Err(refused(format!(
                    "snapshot {id} is not a Lifeboat snapshot of {database} (its tags say {}={})",
                    tags::SOURCE_DB,
                    snapshot
                        .tags
                        .get(tags::SOURCE_DB)
                        .map_or("nothing", String::as_str)
                )));
            }
            let key = record_key(catalog, database, &snapshot)
                .await?
                .ok_or_else(|| refused(format!("snapshot {id} has no catalog record: the configuration to rebuild is unknown")))?;
            Ok((snapshot, catalog.get(&key).await?))
        }
    }
}

/// The regional names a plan may use, to check which exist.
fn names_to_check(config: &DatabaseConfig, request: &RestoreRequest) -> [Vec<String>; 4] {
    let o = &request.overrides;
    let non_default = |n: &Option<String>| n.clone().filter(|n| !is_default_group(n));
    let mut parameter_groups = BTreeSet::new();
    let (subnet, cluster_pg, option_group) = match config {
        DatabaseConfig::Instance(c) => {
            parameter_groups.extend(non_default(&c.parameter_group));
            (c.subnet_group.clone(), None, non_default(&c.option_group))
        }
        DatabaseConfig::Cluster(c) => {
            parameter_groups.extend(
                c.members
                    .iter()
                    .filter_map(|m| non_default(&m.parameter_group)),
            );
            (
                c.subnet_group.clone(),
                non_default(&c.parameter_group),
                None,
            )
        }
    };
    parameter_groups.extend(non_default(&o.parameter_group));
    [
        o.subnet_group.clone().or(subnet).into_iter().collect(),
        parameter_groups.into_iter().collect(),
        non_default(&o.cluster_parameter_group)
            .or(cluster_pg)
            .into_iter()
            .collect(),
        non_default(&o.option_group)
            .or(option_group)
            .into_iter()
            .collect(),
    ]
}

/// Plans the restore and, unless it is a dry run, starts it: resolve the
/// snapshot, plan from its record, guard against anything unsafe, execute,
/// record.
pub async fn start(
    ctx: &Context,
    request: &RestoreRequest,
    now: DateTime<Utc>,
) -> Result<RestoreReport, Error> {
    let dry_run = request.dry_run || ctx.config.dry_run;
    let region = region(ctx, request.region.as_deref())?;
    let rds = ctx.clients.rds_in(region);
    let catalog = ctx.catalog();

    let (snapshot, record) = resolve(&catalog, &rds, request, region).await?;
    let plan = plan(&rds, request, region, &snapshot, &record.body).await?;
    let taken = taken(&rds, &plan).await?;
    let mut report = RestoreReport::planned(request, region, dry_run, &snapshot, &plan, taken, now);
    tracing::info!(
        snapshot_id = %snapshot.id,
        age = %report.snapshot.age,
        "chose snapshot {} (recovery point {} ago)",
        snapshot.id,
        report.snapshot.age
    );
    if dry_run {
        return Ok(report);
    }
    guard(region, &report.target_taken, &plan)?;
    execute(ctx, &rds, &plan, request, region, &snapshot).await?;
    record_started(
        ctx,
        &catalog,
        &plan,
        request,
        region,
        &snapshot,
        now,
        &mut report,
    )
    .await;
    Ok(report)
}

/// The exact calls, from the configuration the snapshot's record captured
/// and what exists in the region.
async fn plan(
    rds: &aws_sdk_rds::Client,
    request: &RestoreRequest,
    region: &str,
    snapshot: &Snapshot,
    captured: &SnapshotRecord,
) -> Result<Plan, Error> {
    if captured.database_kind != snapshot.kind {
        return Err(refused(format!(
            "the catalog says {} is a {}, but snapshot {} is a {} snapshot",
            request.database,
            captured.database_kind.as_str(),
            snapshot.id,
            snapshot.kind.as_str()
        )));
    }
    let [subnets, pgs, cpgs, ogs] = names_to_check(&captured.config, request);
    let facts = restore::region_facts(rds, &subnets, &pgs, &cpgs, &ogs).await?;
    let source = Source {
        kind: snapshot.kind,
        snapshot_id: &snapshot.id,
        engine: &captured.engine,
        engine_version: &captured.engine_version,
        config: &captured.config,
        same_region: region == captured.source_region,
    };
    restore_plan::plan(&source, &request.target, &request.overrides, &facts).map_err(|r| match r {
        Refusal::PublicAccess => refused(
            "overrides.publicly_accessible: Lifeboat never makes a restored DB publicly accessible",
        ),
        Refusal::KindMismatch => {
            refused("the snapshot record's configuration does not match its kind")
        }
    })
}

/// Every identifier the restore would create that a DB already has.
async fn taken(rds: &aws_sdk_rds::Client, plan: &Plan) -> Result<Vec<String>, Error> {
    let mut taken = Vec::new();
    for (kind, id) in plan.identifiers() {
        if restore::db_exists(rds, kind, id).await? {
            taken.push(format!(
                "DB {} {id}",
                if kind == DatabaseKind::Cluster {
                    "cluster"
                } else {
                    "instance"
                }
            ));
        }
    }
    Ok(taken)
}

/// Never touch an existing DB; never guess what the region lacks.
fn guard(region: &str, taken: &[String], plan: &Plan) -> Result<(), Error> {
    if !taken.is_empty() {
        return Err(refused(format!(
            "{} already exist(s) in {region}; Lifeboat never touches an existing DB: choose another target",
            taken.join(", ")
        )));
    }
    if !plan.missing.is_empty() {
        return Err(refused(missing_message(region, plan)));
    }
    Ok(())
}

/// Carries the plan out; a failure is announced and returned.
async fn execute(
    ctx: &Context,
    rds: &aws_sdk_rds::Client,
    plan: &Plan,
    request: &RestoreRequest,
    region: &str,
    snapshot: &Snapshot,
) -> Result<(), Error> {
    let Err(e) = restore::execute(rds, plan).await else {
        return Ok(());
    };
    let problems = ctx
        .publisher()
        .publish(&[Announcement {
            detail_type: "Restore Failed",
            resources: vec![snapshot.arn.clone()],
            detail: json!({"database": request.database, "region": region, "target": request.target,
                           "snapshot_id": snapshot.id, "error": e.to_string()}),
        }])
        .await;
    for p in problems {
        tracing::error!(error = %p, "event not published");
    }
    Err(e)
}

/// The `restore` record and the `Restore Started` event. The restore is
/// under way whatever happens here, so problems go into the report.
#[allow(clippy::too_many_arguments)]
async fn record_started(
    ctx: &Context,
    catalog: &Catalog,
    plan: &Plan,
    request: &RestoreRequest,
    region: &str,
    snapshot: &Snapshot,
    requested_at: DateTime<Utc>,
    report: &mut RestoreReport,
) {
    let started_at = Utc::now().trunc_subsecs(0);
    let restore_record = Record::new(
        RecordKind::Restore,
        started_at,
        RestoreRecord {
            database: request.database.clone(),
            database_kind: snapshot.kind,
            snapshot_id: snapshot.id.clone(),
            snapshot_arn: snapshot.arn.clone(),
            recovery_point_time: snapshot.recovery_point(),
            region: region.to_string(),
            target: request.target.clone(),
            plan: serde_json::to_value(&plan.calls).unwrap_or_default(),
            requested_at,
            started_at,
        },
    );
    let key = record::restore_key(
        catalog.prefix(),
        region,
        &request.target,
        requested_at,
        "started",
    );
    if let Err(e) = catalog.put_new(&key, &restore_record).await {
        report.errors.push(format!(
            "the restore started but its catalog record was not written: {e}"
        ));
    }
    report.errors.extend(
        ctx.publisher()
            .publish(&[Announcement {
                detail_type: "Restore Started",
                resources: vec![snapshot.arn.clone()],
                detail: json!({"database": request.database, "database_kind": snapshot.kind, "region": region,
                               "target": request.target, "snapshot_id": snapshot.id,
                               "recovery_point_time": snapshot.recovery_point(), "catalog_key": key}),
            }])
            .await,
    );
    report.status = "started";
    report.started_at = Some(started_at);
    report.catalog_key = Some(key);
}

fn missing_message(region: &str, plan: &Plan) -> String {
    let list: Vec<String> = plan
        .missing
        .iter()
        .map(|m| {
            if m.name.is_empty() {
                format!("{} (give overrides.{})", m.what, m.override_field)
            } else {
                format!(
                    "{} {} (give overrides.{})",
                    m.what, m.name, m.override_field
                )
            }
        })
        .collect();
    format!(
        "in {region} these do not exist and must be given in \"overrides\": {}; a dry run shows the whole plan",
        list.join("; ")
    )
}

/// Reports a restore's progress; once the DB is available, records the
/// recovery time achieved (once) and announces it.
pub async fn status(
    ctx: &Context,
    region: Option<&str>,
    target: &str,
    now: DateTime<Utc>,
) -> Result<StatusReport, Error> {
    let region = self::region(ctx, region)?;
    let rds = ctx.clients.rds_in(region);
    let progress = restore::progress(&rds, target)
        .await?
        .ok_or_else(|| refused(format!("no DB instance or DB cluster {target} in {region}")))?;
    let catalog = ctx.catalog();
    let prefix = record::restore_prefix(catalog.prefix(), region, target);
    let started_key = catalog
        .list(&prefix, 2)
        .await?
        .into_iter()
        .find(|k| k.ends_with("-started.json"));

    let mut report = StatusReport::of(region, target, progress);
    let Some(started_key) = started_key else {
        report.note = Some("no Lifeboat restore record for this target: progress only");
        return Ok(report);
    };
    let started = catalog
        .get::<Record<RestoreRecord>>(&started_key)
        .await?
        .body;
    report.database = Some(started.database.clone());
    report.snapshot_id = Some(started.snapshot_id.clone());
    report.requested_at = Some(started.requested_at);
    if !report.available {
        report.elapsed_seconds = Some((now - started.requested_at).num_seconds());
        return Ok(report);
    }

    let available = Record::new(
        RecordKind::RestoreAvailable,
        now,
        RestoreAvailableRecord {
            database: started.database.clone(),
            region: region.to_string(),
            target: target.to_string(),
            snapshot_id: started.snapshot_id.clone(),
            requested_at: started.requested_at,
            available_at: now,
            recovery_time_seconds: (now - started.requested_at).num_seconds(),
        },
    );
    let key = record::restore_key(
        catalog.prefix(),
        region,
        target,
        started.requested_at,
        "available",
    );
    let recorded = match catalog.put_new(&key, &available).await? {
        Written::New => {
            report.errors = ctx
                .publisher()
                .publish(&[Announcement {
                    detail_type: "Restore Completed",
                    resources: vec![],
                    detail: json!({"database": started.database, "region": region, "target": target,
                                   "snapshot_id": started.snapshot_id,
                                   "recovery_time_seconds": available.body.recovery_time_seconds}),
                }])
                .await;
            available.body
        }
        // Reported before: the first measurement stands.
        Written::AlreadyRecorded => {
            catalog
                .get::<Record<RestoreAvailableRecord>>(&key)
                .await?
                .body
        }
    };
    report.available_at = Some(recorded.available_at);
    report.recovery_time_seconds = Some(recorded.recovery_time_seconds);
    Ok(report)
}
