//! `lifeboat-restore`: brings a DB back from a Lifeboat snapshot, as it was.
//!
//! A restore request is resolved (which snapshot, which region), planned
//! from the configuration captured in the snapshot's catalog record (or,
//! when the record is lost, from what the snapshot itself carries), checked
//! (never an existing DB, never public, nothing regional guessed) and
//! started; the call returns once RDS has accepted it. Restoring into a
//! region calls only that region: its RDS and its catalog bucket, so a
//! restore in a DR region works with the source region gone. `{"action":
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
    lifeboat::lambda::config::DR_CATALOG_BUCKETS,
    lifeboat::lambda::config::SELECT_TAG,
];

/// Checks at cold start what this function cannot run without: with DR
/// regions, the catalog bucket of each (a restore there reads only that).
pub fn check(ctx: &Context) -> Result<(), Error> {
    ctx.config.require_dr_catalog_buckets()
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

/// The region asked for, else the first DR region, else the function's own
/// (a recovery stack restores where it runs).
fn region<'a>(ctx: &'a Context, asked: Option<&'a str>) -> &'a str {
    asked
        .or(ctx.config.dr_regions.first().map(String::as_str))
        .unwrap_or(&ctx.config.region)
}

/// The catalog of the region restored into, the only one a restore reads.
fn catalog(ctx: &Context, region: &str) -> Result<Catalog, Error> {
    ctx.catalog_in(region).map_err(|e| {
        refused(format!(
            "{region} is neither this function's region ({}) nor a DR region with a catalog bucket: {e}",
            ctx.config.region
        ))
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
        .filter_map(|key| Some((record::snapshot_id_of_key(&prefix, &key)?.to_string(), key)))
        .collect())
}

/// The snapshot chosen, and what is known of the DB it was taken of.
struct Chosen {
    snapshot: Snapshot,
    /// The catalog record, or why there is none.
    record: Result<Record<SnapshotRecord>, String>,
    /// For `latest` without a record: the newest snapshot that has one.
    newest_recorded: Option<String>,
}

/// The catalog's record of `snapshot`, or why there is none: a catalog that
/// cannot be read is reported, never a reason not to restore.
async fn find_record(
    catalog: &Catalog,
    database: &str,
    snapshot: &Snapshot,
    listed: &mut HashMap<String, HashMap<String, String>>,
) -> Result<Record<SnapshotRecord>, String> {
    let Some(source_region) = snapshot.source_region() else {
        return Err(format!(
            "snapshot {} has no {} tag to find its record by",
            snapshot.id,
            tags::SOURCE_REGION
        ));
    };
    let unreadable = |e: Error| format!("the catalog {} could not be read: {e}", catalog.bucket());
    if !listed.contains_key(source_region) {
        let keys = record_keys(catalog, source_region, database)
            .await
            .map_err(unreadable)?;
        listed.insert(source_region.to_string(), keys);
    }
    let Some(key) = listed.get(source_region).and_then(|k| k.get(&snapshot.id)) else {
        return Err(format!(
            "the catalog {} has no record of snapshot {}",
            catalog.bucket(),
            snapshot.id
        ));
    };
    catalog.get(key).await.map_err(unreadable)
}

/// Picks the snapshot to restore and finds its catalog record.
async fn resolve(
    catalog: &Catalog,
    rds: &aws_sdk_rds::Client,
    request: &RestoreRequest,
    region: &str,
) -> Result<Chosen, Error> {
    let database = &request.database;
    let mut listed = HashMap::new();
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
            // The newest data wins; a lost record costs overrides, not data.
            let Some(snapshot) = candidates.first().cloned() else {
                return Err(refused(format!(
                    "no available Lifeboat snapshot of {database} in {region}{}",
                    if unavailable > 0 {
                        format!(" ({unavailable} still being created or copied)")
                    } else {
                        String::new()
                    }
                )));
            };
            let record = find_record(catalog, database, &snapshot, &mut listed).await;
            let newest_recorded = if record.is_err() {
                // Named in the refusal, as the other way to restore.
                candidates.iter().skip(1).find_map(|s| {
                    let region = s.source_region()?;
                    listed
                        .get(region)?
                        .contains_key(&s.id)
                        .then(|| s.id.clone())
                })
            } else {
                None
            };
            Ok(Chosen {
                snapshot,
                record,
                newest_recorded,
            })
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
            let record = find_record(catalog, database, &snapshot, &mut listed).await;
            Ok(Chosen {
                snapshot,
                record,
                newest_recorded: None,
            })
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
    let region = region(ctx, request.region.as_deref());
    let rds = ctx.clients.rds_in(region);
    let catalog = catalog(ctx, region)?;

    let chosen = resolve(&catalog, &rds, request, region).await?;
    let snapshot = &chosen.snapshot;
    let select = &ctx.config.select_tag;
    let selection_tag = (select.key.as_str(), select.value.as_str());
    let plan = plan(
        &rds,
        request,
        region,
        snapshot,
        chosen.record.as_ref(),
        selection_tag,
    )
    .await?;
    let (taken, ours) = taken(&rds, &plan, &snapshot.id).await?;
    let mut report = RestoreReport::planned(request, region, dry_run, snapshot, &plan, taken, now);
    if !ours.is_empty() {
        report.notes.push(format!(
            "already there, restored from {} by an earlier attempt of this restore: {}; {}",
            snapshot.id,
            ours.join(", "),
            if ours.len() == plan.identifiers().len() {
                "nothing left to create"
            } else {
                "the rest is created now"
            }
        ));
    }
    match &chosen.record {
        Ok(_) => {}
        Err(why) => {
            tracing::warn!(snapshot_id = %snapshot.id, "{why}; rebuilding from the snapshot alone");
            report.record = Some(why.clone());
        }
    }
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
    guard(
        region,
        &report.target_taken,
        &plan,
        chosen.newest_recorded.as_deref(),
    )?;
    let done: Vec<&str> = ours.iter().map(String::as_str).collect();
    execute(ctx, &rds, &plan, &done, request, region, snapshot).await?;
    if !ours.is_empty() && earlier_start(&catalog, region, request, snapshot, &mut report).await {
        return Ok(report);
    }
    record_started(
        ctx,
        &catalog,
        &plan,
        request,
        region,
        snapshot,
        now,
        &mut report,
    )
    .await;
    Ok(report)
}

/// The exact calls, from the configuration the snapshot's record captured
/// (else what the snapshot carries) and what exists in the region.
async fn plan(
    rds: &aws_sdk_rds::Client,
    request: &RestoreRequest,
    region: &str,
    snapshot: &Snapshot,
    record: Result<&Record<SnapshotRecord>, &String>,
    selection_tag: (&str, &str),
) -> Result<Plan, Error> {
    let Ok(record) = record else {
        let config = restore_plan::config_from_snapshot(snapshot);
        let engine_version = snapshot.carried.engine_version.clone().unwrap_or_default();
        let source = Source {
            kind: snapshot.kind,
            snapshot_id: &snapshot.id,
            engine: &snapshot.engine,
            engine_version: &engine_version,
            config: &config,
            same_region: snapshot.source_region() == Some(region),
            from_record: false,
            selection_tag: Some(selection_tag),
        };
        return plan_in(rds, request, &source).await;
    };
    let captured = &record.body;
    if captured.database_kind != snapshot.kind {
        return Err(refused(format!(
            "the catalog says {} is a {}, but snapshot {} is a {} snapshot",
            request.database,
            captured.database_kind.as_str(),
            snapshot.id,
            snapshot.kind.as_str()
        )));
    }
    let source = Source {
        kind: snapshot.kind,
        snapshot_id: &snapshot.id,
        engine: &captured.engine,
        engine_version: &captured.engine_version,
        config: &captured.config,
        same_region: region == captured.source_region,
        from_record: true,
        selection_tag: Some(selection_tag),
    };
    plan_in(rds, request, &source).await
}

/// Plans `source` against what exists in the region `rds` calls.
async fn plan_in(
    rds: &aws_sdk_rds::Client,
    request: &RestoreRequest,
    source: &Source<'_>,
) -> Result<Plan, Error> {
    let [subnets, pgs, cpgs, ogs] = names_to_check(source.config, request);
    let facts = restore::region_facts(rds, &subnets, &pgs, &cpgs, &ogs).await?;
    restore_plan::plan(source, &request.target, &request.overrides, &facts).map_err(|r| match r {
        Refusal::PublicAccess => refused(
            "overrides.publicly_accessible: Lifeboat never makes a restored DB publicly accessible",
        ),
        Refusal::KindMismatch => {
            refused("the snapshot record's configuration does not match its kind")
        }
    })
}

/// The identifiers the restore would create that a DB already has: other
/// DBs (named for the refusal), and this restore's own, restored from
/// `snapshot_id` by an earlier attempt (a lost answer, a retried start).
async fn taken(
    rds: &aws_sdk_rds::Client,
    plan: &Plan,
    snapshot_id: &str,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let (mut others, mut ours) = (Vec::new(), Vec::new());
    for (kind, id) in plan.identifiers() {
        match restore::classify(rds, kind, id, snapshot_id).await? {
            restore::Existing::Free => {}
            restore::Existing::Restored(_) => ours.push(id.to_string()),
            restore::Existing::Other => others.push(format!(
                "DB {} {id}",
                if kind == DatabaseKind::Cluster {
                    "cluster"
                } else {
                    "instance"
                }
            )),
        }
    }
    Ok((others, ours))
}

/// The key of the newest `restore` (started) record of `target` in
/// `region`'s catalog: one listing, newest first.
async fn started_key(
    catalog: &Catalog,
    region: &str,
    target: &str,
) -> Result<Option<String>, Error> {
    let prefix = record::restore_prefix(catalog.prefix(), region, target);
    Ok(catalog
        .list(&prefix, 2)
        .await?
        .into_iter()
        .find(|k| k.ends_with("-started.json")))
}

/// For a retried start: the `restore` record an earlier attempt wrote, if
/// it got that far, which then stands (no second record, no second event).
async fn earlier_start(
    catalog: &Catalog,
    region: &str,
    request: &RestoreRequest,
    snapshot: &Snapshot,
    report: &mut RestoreReport,
) -> bool {
    let key = match started_key(catalog, region, &request.target).await {
        Ok(key) => key,
        Err(e) => {
            report
                .errors
                .push(format!("the catalog could not be read: {e}"));
            None
        }
    };
    let Some(key) = key else { return false };
    match catalog.get::<Record<RestoreRecord>>(&key).await {
        Ok(earlier) if earlier.body.snapshot_id == snapshot.id => {
            report.status = "started";
            report.started_at = Some(earlier.body.started_at);
            report.requested_at = earlier.body.requested_at;
            report.catalog_key = Some(key);
            true
        }
        Ok(_) => false,
        Err(e) => {
            report.errors.push(e.to_string());
            false
        }
    }
}

/// Never touch an existing DB; never guess what the region lacks.
fn guard(
    region: &str,
    taken: &[String],
    plan: &Plan,
    newest_recorded: Option<&str>,
) -> Result<(), Error> {
    if !taken.is_empty() {
        return Err(refused(format!(
            "{} already exist(s) in {region}; Lifeboat never touches an existing DB: choose another target",
            taken.join(", ")
        )));
    }
    if !plan.missing.is_empty() {
        let mut message = missing_message(region, plan);
        if let Some(id) = newest_recorded {
            message.push_str(&format!(
                "; or restore the older snapshot {id}, which has a catalog record (\"snapshot\": \"{id}\")"
            ));
        }
        return Err(refused(message));
    }
    Ok(())
}

/// Carries the plan out; a failure is announced and returned.
async fn execute(
    ctx: &Context,
    rds: &aws_sdk_rds::Client,
    plan: &Plan,
    done: &[&str],
    request: &RestoreRequest,
    region: &str,
    snapshot: &Snapshot,
) -> Result<(), Error> {
    let Err(e) = restore::execute_missing(rds, plan, done).await else {
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
    let region = self::region(ctx, region);
    let rds = ctx.clients.rds_in(region);
    let catalog = catalog(ctx, region)?;
    let progress = restore::progress(&rds, target)
        .await?
        .ok_or_else(|| refused(format!("no DB instance or DB cluster {target} in {region}")))?;
    let mut report = StatusReport::of(region, target, progress);
    // Progress comes from RDS; a catalog that cannot be read costs only the
    // recovery time.
    let started_key = match started_key(&catalog, region, target).await {
        Ok(key) => key,
        Err(e) => {
            report.errors.push(format!(
                "the catalog {} could not be read: {e}",
                catalog.bucket()
            ));
            return Ok(report);
        }
    };
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
