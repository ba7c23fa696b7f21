//! `lifeboat-restore`: brings a DB back from a Lifeboat snapshot, as it was.
//!
//! A restore request is resolved (which snapshot, which region), planned
//! from the configuration captured in the snapshot's catalog record (or,
//! when the record is lost, from what the snapshot itself carries), checked
//! (never an existing DB, never public, nothing regional guessed),
//! recorded, and only then started; the call returns once RDS has accepted
//! it. Every DB it creates carries the restore's identity
//! (`lifeboat:restore-id`): a retried start continues only DBs carrying its
//! own, a failed one rolls back only those, and one that runs short of the
//! Lambda deadline stops between calls, recorded and resumable by the same
//! request, rather than be cut off in the middle. Restoring into a
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
use lifeboat::aws::rds::restore::{Deadline, Execution, Rollback};
use lifeboat::aws::rds::{self, restore};
use lifeboat::domain::model::{self, is_default_group, DatabaseConfig, DatabaseKind, Snapshot};
use lifeboat::domain::record::{
    self, Record, RecordKind, RestoreAvailableRecord, RestoreFailedRecord, RestoreRecord,
    RestoreStage, SnapshotRecord,
};
use lifeboat::domain::restore_plan::{self, Earlier, Existing, Plan, Refusal, Source};
use lifeboat::domain::tags;
use lifeboat::lambda::invocation;
use lifeboat::{Context, Error};
use serde_json::{json, Value};

use crate::event::{Request, RestoreRequest, SnapshotChoice};
use crate::report::{Report, RestoreReport, RestoreStatus, StatusReport};

pub const FUNCTION: &str = "restore";

/// The settings this function reads; a deployment must set each.
pub const SETTINGS: &[&str] = &[
    lifeboat::lambda::config::CATALOG_BUCKET,
    lifeboat::lambda::config::CATALOG_PREFIX,
    lifeboat::lambda::config::EVENT_BUS,
    lifeboat::lambda::config::RDS_CALLS_PER_SECOND,
    lifeboat::lambda::config::RDS_BURST,
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
    let deadline = Deadline::at(restore_plan::lambda_deadline(event.context.deadline));
    // The restore's future is boxed: it is deep (resolve, plan, execute,
    // record), and inline it overflows rustc's layout query depth.
    invocation::handle(event, event::parse, |request| async move {
        Ok(match request {
            Request::Restore(request) => Report::Restore(Box::new(
                Box::pin(start(ctx, &request, now, &deadline)).await?,
            )),
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

/// The catalog's snapshot records of `db` taken in `source_region`:
/// snapshot identifier -> record key. One listing (a page per 1,000).
async fn record_keys(
    catalog: &Catalog,
    source_region: &str,
    db: (DatabaseKind, &str),
) -> Result<HashMap<String, String>, Error> {
    let prefix = record::snapshot_prefix(catalog.prefix(), source_region, db);
    Ok(catalog
        .list(&prefix, usize::MAX)
        .await?
        .into_iter()
        .filter_map(|key| Some((record::snapshot_id_of_key(&prefix, &key)?.to_string(), key)))
        .collect())
}

/// The record keys listed so far, by source region and kind.
type Listed = HashMap<(String, DatabaseKind), HashMap<String, String>>;

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
    listed: &mut Listed,
) -> Result<Record<SnapshotRecord>, String> {
    let Some(source_region) = snapshot.source_region() else {
        return Err(format!(
            "snapshot {} has no {} tag to find its record by",
            snapshot.id,
            tags::SOURCE_REGION
        ));
    };
    let unreadable = |e: Error| format!("the catalog {} could not be read: {e}", catalog.bucket());
    let db = (snapshot.kind, database);
    let series = (source_region.to_string(), snapshot.kind);
    if !listed.contains_key(&series) {
        let keys = record_keys(catalog, source_region, db)
            .await
            .map_err(unreadable)?;
        listed.insert(series.clone(), keys);
    }
    // A copy named apart from its source (`naming::copy_identifier`) is
    // found by its recovery point: one record per series and minute.
    let keys = listed.get(&series);
    let by_time = snapshot
        .recovery_point()
        .map(|time| record::snapshot_key_prefix_at(catalog.prefix(), source_region, db, time));
    let found = keys.and_then(|k| k.get(&snapshot.id)).or_else(|| {
        let at = by_time.as_deref()?;
        keys?.values().find(|key| key.starts_with(at))
    });
    let Some(key) = found else {
        return Err(format!(
            "the catalog {} has no record of snapshot {}",
            catalog.bucket(),
            snapshot.id
        ));
    };
    catalog.get(key).await.map_err(unreadable)
}

/// The catalog record of `snapshot` (of `database`), or why there is none:
/// what a restore plans from, for a drill to verify against.
pub async fn snapshot_record(
    catalog: &Catalog,
    database: &str,
    snapshot: &Snapshot,
) -> Result<Record<SnapshotRecord>, String> {
    find_record(catalog, database, snapshot, &mut HashMap::new()).await
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
            // Two DBs of this name may have snapshots here (two stacks whose
            // DR regions overlap; an instance and a cluster): never pick
            // between their data by age.
            let series = model::only_series(
                &candidates,
                request.source_region.as_deref(),
                request.database_kind,
            )
            .map_err(|all| {
                let list: Vec<String> = all.iter().map(|s| s.describe()).collect();
                refused(format!(
                    "{region} has snapshots of {} DBs named {database}: {}; say which with \"source_region\" and, if need be, \"database_kind\" (instance or cluster)",
                    all.len(),
                    list.join(", ")
                ))
            })?;
            candidates.retain(|s| series.as_ref() == Some(&s.series()));
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
                        .get(&(region.to_string(), s.kind))?
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
/// snapshot, plan from its record, tell a retry of an earlier start from a
/// new restore, guard against anything unsafe, record, execute (stopping
/// short of `deadline`, rolling back what it made if a call fails).
///
/// The record comes first: a restore that cannot be recorded creates
/// nothing, so whatever a restore leaves behind (a cluster without its
/// members, when the invocation ran out of time between the two) is named
/// by a `restore` record and carries its identity.
pub async fn start(
    ctx: &Context,
    request: &RestoreRequest,
    now: DateTime<Utc>,
    deadline: &Deadline,
) -> Result<RestoreReport, Error> {
    let dry_run = request.dry_run || ctx.config.dry_run;
    let region = region(ctx, request.region.as_deref());
    let rds = ctx.clients.rds_in(region);
    let catalog = catalog(ctx, region)?;

    let chosen = resolve(&catalog, &rds, request, region).await?;
    let snapshot = &chosen.snapshot;
    let select = &ctx.config.select_tag;
    let selection_tag = (select.key.as_str(), select.value.as_str());
    let mut plan = plan(
        &rds,
        request,
        region,
        snapshot,
        chosen.record.as_ref(),
        selection_tag,
    )
    .await?;
    let found = found(&rds, &plan).await?;
    let mut errors = Vec::new();
    // Unreadable, the start is taken as a new restore: safe, as the DBs of
    // an earlier attempt then count as another's and are refused.
    let Restores {
        latest,
        in_that_second,
    } = restores(&catalog, region, &request.target, now)
        .await
        .unwrap_or_else(|e| {
            errors.push(format!(
                "the catalog {} could not be read for an earlier attempt of this restore: {e}",
                catalog.bucket()
            ));
            Restores {
                latest: None,
                in_that_second: None,
            }
        });
    let (earlier, not_continued) = match latest {
        Some(latest) if continues(&latest, &plan, &found, now) => (Some(latest), None),
        other => (None, other),
    };
    // A new restore's identity and keys are those of its second: another
    // restore of the target recorded in that same second (finished, or
    // failed) would share them, and its DBs would pass for this one's.
    if let (None, Some(key)) = (&earlier, &in_that_second) {
        return Err(refused(format!(
            "another restore of {} was recorded in this same second ({key}); send the request again",
            request.target
        )));
    }
    let restore_id = earlier
        .as_ref()
        .and_then(|e| e.record.body.restore_id.clone())
        .unwrap_or_else(|| restore_plan::restore_id(&request.target, now));
    plan.tag_with_restore_id(&restore_id);
    for (key, value) in &request.tags {
        plan.tag(key, value);
    }
    let ours: Vec<&str> = found
        .iter()
        .filter(|(_, _, e)| e.is_made_by(&restore_id))
        .map(|(_, id, _)| id.as_str())
        .collect();
    let others: Vec<String> = found
        .iter()
        .filter(|(_, _, e)| *e != Existing::Free && !e.is_made_by(&restore_id))
        .map(|(kind, id, e)| format!("DB {} {id}{}", kind_name(*kind), e.whose()))
        .collect();
    // DBs of an earlier restore of the target that this start does not
    // continue: say whose they are, so that a person knows what to do.
    let whose = not_continued.and_then(|latest| {
        let id = latest.record.body.restore_id.as_deref()?;
        found.iter().any(|(_, _, e)| e.is_made_by(id)).then(|| {
            format!(
                "; they are what the restore {id} (from snapshot {}, recorded at {}) made, and this start does not continue it: a start continues a restore only as the same request, within {} hours of it and before it finished",
                latest.record.body.snapshot_id,
                latest.key,
                restore_plan::RESUME_WITHIN.num_hours()
            )
        })
    });
    let mut report =
        RestoreReport::planned(request, region, dry_run, snapshot, &plan, &restore_id, now);
    report.target_taken = others;
    report.errors = errors;
    if !ours.is_empty() {
        report.notes.push(format!(
            "already there, made by an earlier attempt of this restore ({restore_id}): {}; {}",
            ours.join(", "),
            if ours.len() == found.len() {
                "nothing left to create"
            } else {
                "the rest is created now"
            }
        ));
    }
    if let Err(why) = &chosen.record {
        tracing::warn!(snapshot_id = %snapshot.id, "{why}; rebuilding from the snapshot alone");
        report.record = Some(why.clone());
    }
    tracing::info!(
        snapshot_id = %snapshot.id,
        age = %report.snapshot.age,
        restore_id = %restore_id,
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
        whose.as_deref(),
        &plan,
        chosen.newest_recorded.as_deref(),
    )?;
    let started = Started {
        request,
        region,
        snapshot,
        restore_id: &restore_id,
        requested_at: earlier.as_ref().map_or(now, |e| e.record.body.requested_at),
    };
    match &earlier {
        Some(earlier) => report.started(&earlier.key, &earlier.record.body),
        None => record_started(ctx, &catalog, &plan, &started, &mut report).await?,
    }
    match restore::execute_missing(&rds, &plan, &ours, &restore_id, deadline).await {
        Execution::Complete => Ok(report),
        Execution::Incomplete { left } => {
            report.made = plan
                .identifiers()
                .into_iter()
                .map(|(_, id)| id.to_string())
                .filter(|id| !left.contains(id))
                .collect();
            report.left = left;
            report.status = RestoreStatus::Incomplete;
            tracing::warn!(restore_id = %restore_id, "{}", report.incomplete_message());
            Ok(report)
        }
        Execution::Failed {
            failed,
            error,
            rollback,
        } => Err(record_failed(ctx, &catalog, &started, &failed, &error, &rollback).await),
    }
}

fn kind_name(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::Cluster => "cluster",
        DatabaseKind::Instance => "instance",
    }
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

/// What has each identifier the restore would create, in plan order.
async fn found(
    rds: &aws_sdk_rds::Client,
    plan: &Plan,
) -> Result<Vec<(DatabaseKind, String, Existing)>, Error> {
    let mut found = Vec::new();
    for (kind, id) in plan.identifiers() {
        found.push((
            kind,
            id.to_string(),
            restore::existing(rds, kind, id).await?,
        ));
    }
    Ok(found)
}

/// How many keys of one target's restore records are read: the newest
/// (a restore has two or three), one page.
const RESTORE_KEYS_LISTED: usize = 100;

/// A restore of a target, as the catalog records it.
struct Recorded {
    /// Its `restore` (started) record.
    key: String,
    record: Record<RestoreRecord>,
    /// A `restore_available` record says it finished.
    available: bool,
}

/// What the catalog records of one target's restores.
struct Restores {
    /// The newest restore that did not fail (a failed restore was rolled
    /// back, and is over).
    latest: Option<Recorded>,
    /// A key recorded for the second `second_of` was asked about: that
    /// second's restore of the target, whose keys a new one cannot have.
    in_that_second: Option<String>,
}

/// The restores of `target` in `region`'s catalog: one listing, newest
/// first, then the `restore` record of the latest.
async fn restores(
    catalog: &Catalog,
    region: &str,
    target: &str,
    second_of: DateTime<Utc>,
) -> Result<Restores, Error> {
    let prefix = record::restore_prefix(catalog.prefix(), region, target);
    let keys = catalog.list(&prefix, RESTORE_KEYS_LISTED).await?;
    let stages: Vec<(&str, RestoreStage, &String)> = keys
        .iter()
        .filter_map(|key| {
            let (time, stage) = record::restore_stage_of_key(&prefix, key)?;
            Some((time, stage, key))
        })
        .collect();
    let that_second = record::restore_key(
        catalog.prefix(),
        region,
        target,
        second_of,
        RestoreStage::Started,
    );
    let that_second = record::restore_stage_of_key(&prefix, &that_second).map(|(t, _)| t);
    let in_that_second = stages
        .iter()
        .find(|(t, _, _)| Some(*t) == that_second)
        .map(|(_, _, key)| key.to_string());
    let has =
        |time: &str, stage: RestoreStage| stages.iter().any(|(t, s, _)| *t == time && *s == stage);
    for (time, stage, key) in &stages {
        if *stage != RestoreStage::Started || has(time, RestoreStage::Failed) {
            continue;
        }
        let record = catalog.get::<Record<RestoreRecord>>(key).await?;
        return Ok(Restores {
            latest: Some(Recorded {
                key: key.to_string(),
                record,
                available: has(time, RestoreStage::Available),
            }),
            in_that_second,
        });
    }
    Ok(Restores {
        latest: None,
        in_that_second,
    })
}

/// Whether this start continues `latest`, the newest restore of the same
/// target: the same plan under its identity, and `restore_plan::resumes`.
/// A record from before restores had identities never is: nothing it made
/// carries one.
fn continues(
    latest: &Recorded,
    plan: &Plan,
    found: &[(DatabaseKind, String, Existing)],
    now: DateTime<Utc>,
) -> bool {
    let Some(id) = latest.record.body.restore_id.as_deref() else {
        return false;
    };
    let mut same = plan.clone();
    same.tag_with_restore_id(id);
    let same_plan = serde_json::to_value(&same.calls).is_ok_and(|p| p == latest.record.body.plan);
    let made = found.iter().filter(|(_, _, e)| e.is_made_by(id)).count();
    restore_plan::resumes(
        &Earlier {
            requested_at: latest.record.body.requested_at,
            same_plan,
            available: latest.available,
        },
        made,
        found.len(),
        now,
    )
}

/// Never touch an existing DB; never guess what the region lacks.
fn guard(
    region: &str,
    taken: &[String],
    whose: Option<&str>,
    plan: &Plan,
    newest_recorded: Option<&str>,
) -> Result<(), Error> {
    if !taken.is_empty() {
        return Err(refused(format!(
            "{} already exist(s) in {region}; Lifeboat never touches an existing DB: choose another target{}",
            taken.join(", "),
            whose.unwrap_or_default()
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

/// Which restore a record or an event is about.
struct Started<'a> {
    request: &'a RestoreRequest,
    region: &'a str,
    snapshot: &'a Snapshot,
    restore_id: &'a str,
    requested_at: DateTime<Utc>,
}

/// Writes the `restore` record, before anything is created, and announces
/// the start. If the record cannot be written, the restore is not started:
/// an error, and nothing created. A start of the same request at the same
/// second found its record there is the same restore (the second goes on
/// under it, without a second event); anything else there is refused.
async fn record_started(
    ctx: &Context,
    catalog: &Catalog,
    plan: &Plan,
    started: &Started<'_>,
    report: &mut RestoreReport,
) -> Result<(), Error> {
    let Started {
        request,
        region,
        snapshot,
        restore_id,
        requested_at,
    } = *started;
    let not_started = |why: String| {
        Error::RestoreFailed(format!(
            "not started, nothing created: {why}; a restore is recorded before it creates anything, so that nothing it makes is left untracked"
        ))
    };
    let recorded_plan = serde_json::to_value(&plan.calls)
        .map_err(|e| not_started(format!("its plan could not be serialised: {e}")))?;
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
            restore_id: Some(restore_id.to_string()),
            plan: recorded_plan,
            requested_at,
            started_at,
        },
    );
    let key = record::restore_key(
        catalog.prefix(),
        region,
        &request.target,
        requested_at,
        RestoreStage::Started,
    );
    let written = catalog.put_new(&key, &restore_record).await.map_err(|e| {
        not_started(format!(
            "its record could not be written to the catalog {} ({e})",
            catalog.bucket()
        ))
    })?;
    if written == Written::AlreadyRecorded {
        let there = catalog.get::<Record<RestoreRecord>>(&key).await?.body;
        if there.restore_id.as_deref() != Some(restore_id) || there.plan != restore_record.body.plan
        {
            return Err(refused(format!(
                "another restore of {} was requested in the same second ({key}); send the request again",
                request.target
            )));
        }
        report.started(&key, &there);
        return Ok(());
    }
    report.errors.extend(
        ctx.publisher()
            .publish(&[Announcement {
                detail_type: "Restore Started",
                resources: vec![snapshot.arn.clone()],
                detail: json!({"database": request.database, "database_kind": snapshot.kind, "region": region,
                               "target": request.target, "snapshot_id": snapshot.id,
                               "recovery_point_time": snapshot.recovery_point(),
                               "restore_id": restore_id, "catalog_key": key}),
            }])
            .await,
    );
    report.started(&key, &restore_record.body);
    Ok(())
}

/// What a failed restore's error says: what failed and what the rollback
/// did.
fn failure_message(failed: &str, error: &Error, rollback: &Rollback, restore_id: &str) -> String {
    // A restore's own errors say "restore failed" once, not twice.
    let cause = match error {
        Error::RestoreFailed(message) => message.clone(),
        other => other.to_string(),
    };
    let undone = match (rollback.deleted.is_empty(), rollback.problems.is_empty()) {
        (true, true) => "nothing of it had been created, nothing to roll back".to_string(),
        (false, true) => format!("rolled back: deleted {}", rollback.deleted.join(", ")),
        (_, false) => format!(
            "ROLLBACK INCOMPLETE, delete by hand what carries {}={restore_id}: {}{}",
            tags::RESTORE_ID,
            rollback.problems.join("; "),
            if rollback.deleted.is_empty() {
                String::new()
            } else {
                format!(" (deleted: {})", rollback.deleted.join(", "))
            }
        ),
    };
    format!("creating {failed} failed: {cause}; {undone}")
}

/// Records and announces a failed restore; the error to return.
async fn record_failed(
    ctx: &Context,
    catalog: &Catalog,
    started: &Started<'_>,
    failed: &str,
    error: &Error,
    rollback: &Rollback,
) -> Error {
    let Started {
        request,
        region,
        snapshot,
        restore_id,
        requested_at,
    } = *started;
    let mut message = failure_message(failed, error, rollback, restore_id);
    let failed_at = Utc::now().trunc_subsecs(0);
    let key = record::restore_key(
        catalog.prefix(),
        region,
        &request.target,
        requested_at,
        RestoreStage::Failed,
    );
    let failed_record = Record::new(
        RecordKind::RestoreFailed,
        failed_at,
        RestoreFailedRecord {
            database: request.database.clone(),
            region: region.to_string(),
            target: request.target.clone(),
            snapshot_id: snapshot.id.clone(),
            restore_id: restore_id.to_string(),
            requested_at,
            failed_at,
            error: message.clone(),
            deleted: rollback.deleted.clone(),
            not_deleted: rollback.problems.clone(),
        },
    );
    if let Err(e) = catalog.put_new(&key, &failed_record).await {
        message.push_str(&format!("; the failure's record was not written: {e}"));
    }
    let problems = ctx
        .publisher()
        .publish(&[Announcement {
            detail_type: "Restore Failed",
            resources: vec![snapshot.arn.clone()],
            detail: json!({"database": request.database, "region": region, "target": request.target,
                           "snapshot_id": snapshot.id, "restore_id": restore_id,
                           "error": message, "deleted": rollback.deleted}),
        }])
        .await;
    for p in problems {
        tracing::error!(error = %p, "event not published");
    }
    Error::RestoreFailed(message)
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
    let latest = match restores(&catalog, region, target, now).await {
        Ok(restores) => restores.latest,
        Err(e) => {
            report.errors.push(format!(
                "the catalog {} could not be read: {e}",
                catalog.bucket()
            ));
            return Ok(report);
        }
    };
    let Some(latest) = latest else {
        report.note = Some("no Lifeboat restore record for this target: progress only");
        return Ok(report);
    };
    let started = latest.record.body;
    report.database = Some(started.database.clone());
    report.snapshot_id = Some(started.snapshot_id.clone());
    report.restore_id = started.restore_id.clone();
    report.requested_at = Some(started.requested_at);
    // A cluster whose start stopped short of the deadline is available
    // without the members it lacks: not the DB the plan makes, not yet.
    report.not_created = restore_plan::recorded_members(&started.plan)
        .into_iter()
        .filter(|m| !report.instances.iter().any(|i| &i.instance == m))
        .collect();
    if !report.not_created.is_empty() {
        report.available = false;
        report.note = Some(
            "incomplete: the start stopped before creating every member; send the same restore request again to resume it",
        );
    }
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
        RestoreStage::Available,
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
