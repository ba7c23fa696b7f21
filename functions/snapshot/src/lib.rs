//! `lifeboat-snapshot`: snapshots the selected DB instances and Aurora
//! clusters, records each snapshot in the catalog and announces it.
//!
//! Fired by an EventBridge schedule, a CloudWatch alarm, or by hand. One
//! outcome per DB; a failing DB never stops the others, and the invocation
//! ends in an error listing the failures once the rest are done.

pub mod event;

use std::collections::BTreeSet;

use chrono::{DateTime, SubsecRound, Utc};
use lambda_runtime::LambdaEvent;
use lifeboat::aws::catalog::{Catalog, Ownership};
use lifeboat::aws::publisher::Announcement;
use lifeboat::aws::rds;
use lifeboat::domain::model::{Database, Snapshot};
use lifeboat::domain::outcome::{Entry, Outcome, Summary};
use lifeboat::domain::record::{self, Record, RecordKind, SnapshotRecord};
use lifeboat::domain::restore_plan;
use lifeboat::domain::selection::Scope;
use lifeboat::domain::trigger::{Trigger, TriggerKind};
use lifeboat::domain::{naming, repair, selection, tags};
use lifeboat::lambda::invocation;
use lifeboat::lambda::run::{About, Batch};
use lifeboat::{Context, Error};
use serde_json::{json, Value};

use crate::event::{Carried, Request};

pub const FUNCTION: &str = "snapshot";

/// The settings this function reads; a deployment must set each.
pub const SETTINGS: &[&str] = &[
    lifeboat::lambda::config::CATALOG_BUCKET,
    lifeboat::lambda::config::CATALOG_PREFIX,
    lifeboat::lambda::config::EVENT_BUS,
    lifeboat::lambda::config::RDS_CALLS_PER_SECOND,
    lifeboat::lambda::config::RDS_BURST,
    lifeboat::lambda::config::RUN_STATE_MACHINE,
    lifeboat::lambda::config::SELECT_TAG,
];

/// Checks at cold start what this function cannot run without. It needs
/// nothing beyond what `Config` validates for every function (the catalog bucket and the selection tag).
pub fn check(_ctx: &Context) -> Result<(), Error> {
    Ok(())
}

/// The Lambda handler: parse, act, summarise.
pub async fn handle(ctx: &Context, event: LambdaEvent<Value>) -> Result<Summary, Error> {
    let request_id = event.context.request_id.clone();
    let deadline = restore_plan::lambda_deadline(event.context.deadline);
    invocation::handle(
        event,
        |payload| event::parse(payload, Utc::now().trunc_subsecs(0)),
        // Boxed: the whole run's future is too deep a type for the
        // compiler's default limit.
        |request| Box::pin(run(ctx, request, &request_id, deadline)),
    )
    .await
}

/// Snapshots what `request` asks for and returns one outcome per DB.
/// `request_id` is the Lambda request's: a retry of a request that has no
/// time of its own (`{}`, a manual request) carries the same id, and finds
/// the recovery point (so the snapshots) its first attempt chose.
///
/// The DBs are taken in a fixed order; no new one is started once the
/// Lambda `deadline` is near, and the rest is handed on to the next
/// invocation of the run (`lambda::run`), with the same recovery point.
pub async fn run(
    ctx: &Context,
    mut request: Request,
    request_id: &str,
    deadline: Option<DateTime<Utc>>,
) -> Result<Summary, Error> {
    let Some(carried) = request.carried() else {
        let note = request.note.clone().unwrap_or_default();
        return Ok(Summary::new(FUNCTION, Some(request.trigger), Vec::new()).with_message(note));
    };
    let scope = &carried.scope;
    let retry_key = (request.from_clock && !request_id.is_empty()).then_some(request_id);
    if let Some(id) = retry_key {
        if let Some(earlier) = earlier_recovery_point(ctx, id).await? {
            tracing::info!(recovery_point = %earlier, "a retry of request {id}: its first attempt's recovery point");
            request.recovery_point = earlier;
        }
    }
    let batch = Batch::begin(
        FUNCTION,
        &request.trigger,
        request.recovery_point,
        request_id,
        request.run.clone(),
        deadline,
    );

    // A scheduled run of every selected DB also records what earlier runs
    // took but could not record (the catalog was unreachable).
    let repairing = *scope == Scope::Selected;
    let (fleet, taken) = tokio::try_join!(rds::describe_fleet(ctx.clients.rds()), async {
        match repairing {
            true => rds::describe_manual_snapshots(ctx.clients.rds()).await,
            false => Ok(Vec::new()),
        }
    })?;
    let selection = selection::select(&fleet, scope, &ctx.config.select_tag);
    let catalog = ctx.catalog();

    // Each DB: the snapshots earlier runs could not record, then its
    // snapshot of this run.
    let left = batch.run.left(selection.targets, |db| run_key(db));
    let worked = batch
        .work(left, ctx.config.concurrency, |db| {
            let (catalog, taken, request) = (&catalog, &taken, &request);
            async move {
                let mut done = match repairing {
                    true => record_unrecorded(ctx, catalog, taken, db, request, request_id).await,
                    false => Vec::new(),
                };
                done.push(snapshot_one(ctx, catalog, request, retry_key, request_id, db).await);
                done
            }
        })
        .await;

    // What the selection decided without a call is the first invocation's
    // to say.
    let mut outcomes = match batch.is_carried_on() {
        false => selection.outcomes,
        true => Vec::new(),
    };
    let mut events = Vec::new();
    for done in worked.results.iter().flatten() {
        events.extend(done.announce.clone());
        outcomes.push(done.entry.clone());
    }

    let mut summary = Summary::new(FUNCTION, Some(request.trigger.clone()), outcomes);
    summary.errors = ctx.publisher().publish(&events).await;
    let about = About {
        trigger: &request.trigger,
        time: request.recovery_point,
        request: &Carried {
            recovery_point: request.recovery_point,
            ..carried.clone()
        },
    };
    batch
        .end(ctx, &mut summary, &worked, about, request_id)
        .await;
    Ok(summary)
}

/// A DB's place in a run: by kind, then identifier.
fn run_key(db: &Database) -> String {
    format!("{}/{}", db.kind.as_str(), db.identifier)
}

/// One DB's (or one repaired snapshot's) outcome, and the event to
/// announce it, if this request is the one to announce it.
#[derive(Clone)]
struct Done {
    entry: Entry,
    announce: Option<Announcement>,
}

/// The recovery point an earlier attempt of request `request_id` chose:
/// the one its snapshots carry.
async fn earlier_recovery_point(
    ctx: &Context,
    request_id: &str,
) -> Result<Option<chrono::DateTime<Utc>>, Error> {
    let snapshots = rds::describe_manual_snapshots(ctx.clients.rds()).await?;
    Ok(snapshots
        .iter()
        .filter(|s| s.is_managed())
        .filter(|s| s.tags.get(tags::REQUEST_ID).map(String::as_str) == Some(request_id))
        .find_map(Snapshot::recovery_point))
}

/// Takes one DB's snapshot and writes its record: the outcome, and the
/// event to announce it. The record is the point of commitment: whoever
/// writes it (or a retry of the same request, which may not have
/// announced it yet) announces it; a redelivered or concurrent event that
/// finds it is told the snapshot `exists`.
async fn snapshot_one(
    ctx: &Context,
    catalog: &Catalog,
    request: &Request,
    retry_key: Option<&str>,
    request_id: &str,
    db: &Database,
) -> Done {
    let region = &ctx.config.region;
    let snapshot_id = naming::snapshot_identifier(&db.identifier, request.recovery_point);
    let entry = |outcome| {
        Entry::new(&db.identifier, outcome)
            .kind(db.kind)
            .snapshot(&snapshot_id)
    };

    let mut tags = tags::snapshot_tags(
        &db.identifier,
        region,
        request.trigger.kind,
        request.recovery_point,
    );
    tags.extend(retry_key.map(|id| (tags::REQUEST_ID.to_string(), id.to_string())));
    let snapshot = match rds::create_snapshot(ctx.clients.rds(), db, &snapshot_id, &tags).await {
        Ok(snapshot) => snapshot,
        Err(e) => return failed(region, request, db, &snapshot_id, &e),
    };
    let written = SnapshotRecord {
        snapshot_id: snapshot_id.clone(),
        snapshot_arn: snapshot.arn.clone(),
        source_region: region.clone(),
        database: db.identifier.clone(),
        database_kind: db.kind,
        engine: db.engine.clone(),
        engine_version: db.engine_version.clone(),
        encrypted: db.encrypted,
        kms_key_id: db.encrypted.then(|| db.kms_key_id.clone()).flatten(),
        recovery_point_time: request.recovery_point,
        trigger: request.trigger.clone(),
        config: db.config.clone(),
    };
    let (key, ours) = match record(catalog, written, request_id).await {
        Ok(recorded) => recorded,
        Err(e) => {
            // The snapshot exists but is not in the catalog; a retry of this
            // event, or the next scheduled run, writes the missing record.
            let e = Error::Aws {
                operation: "PutObject",
                code: e.aws_code().unwrap_or("CatalogWrite").to_string(),
                message: format!("snapshot {snapshot_id} was started but its catalog record was not written: {e}"),
            };
            return failed(region, request, db, &snapshot_id, &e);
        }
    };
    if !ours.is_ours() {
        return Done {
            entry: entry(Outcome::Exists),
            announce: None,
        };
    }
    Done {
        entry: entry(Outcome::Created),
        announce: Some(started(
            region,
            db,
            &snapshot_id,
            &snapshot.arn,
            &snapshot.status,
            request.recovery_point,
            &request.trigger,
            &key,
        )),
    }
}

/// Writes a snapshot's record, stamped with `request_id`; its key and whose
/// it is.
async fn record(
    catalog: &Catalog,
    body: SnapshotRecord,
    request_id: &str,
) -> Result<(String, Ownership), Error> {
    let key = record::snapshot_key(
        catalog.prefix(),
        &body.source_region,
        (body.database_kind, &body.database),
        body.recovery_point_time,
        &body.snapshot_id,
    );
    let record = Record::new(RecordKind::Snapshot, Utc::now(), body).by_request(request_id);
    let ours = catalog.put_own(&key, &record).await?;
    Ok((key, ours))
}

/// Records the snapshots of `db` that earlier runs took but could not
/// record, from the snapshot and the DB as it is now; one outcome each.
/// This run's own recovery point is left to this run (a concurrent
/// delivery of the same event may be between its snapshot and its record).
async fn record_unrecorded(
    ctx: &Context,
    catalog: &Catalog,
    taken: &[Snapshot],
    db: &Database,
    request: &Request,
    request_id: &str,
) -> Vec<Done> {
    let region = &ctx.config.region;
    let this_run = naming::snapshot_identifier(&db.identifier, request.recovery_point);
    let taken: Vec<Snapshot> = taken
        .iter()
        .filter(|s| s.id != this_run && repair::is_taken_of(s, db, region))
        .cloned()
        .collect();
    if taken.is_empty() {
        return Vec::new();
    }
    let prefix = record::snapshot_prefix(catalog.prefix(), region, (db.kind, &db.identifier));
    let recorded: BTreeSet<String> = match catalog.list(&prefix, usize::MAX).await {
        Ok(keys) => keys
            .iter()
            .filter_map(|k| record::snapshot_id_of_key(&prefix, k).map(str::to_string))
            .collect(),
        Err(e) => {
            let e = Error::Aws {
                operation: "ListObjectsV2",
                code: e.aws_code().unwrap_or("CatalogRead").to_string(),
                message: format!(
                    "the catalog could not be read to find unrecorded snapshots of {}: {e}",
                    db.identifier
                ),
            };
            return vec![Done {
                entry: Entry::new(&db.identifier, Outcome::failed(&e)).kind(db.kind),
                announce: None,
            }];
        }
    };
    let mut done = Vec::new();
    for snapshot in repair::unrecorded(&taken, db, region, &recorded) {
        done.push(record_late(region, catalog, snapshot, db, request_id).await);
    }
    done
}

/// The record a snapshot should have had, written now.
async fn record_late(
    region: &str,
    catalog: &Catalog,
    snapshot: &Snapshot,
    db: &Database,
    request_id: &str,
) -> Done {
    let entry = |outcome| {
        Entry::new(&db.identifier, outcome)
            .kind(db.kind)
            .snapshot(&snapshot.id)
    };
    let Some(recovery_point) = snapshot.recovery_point() else {
        return Done {
            entry: entry(Outcome::Skipped {
                reason: "no recovery point: neither the created-at tag nor a creation time".into(),
            }),
            announce: None,
        };
    };
    let kind = snapshot
        .tags
        .get(tags::TRIGGER)
        .and_then(|t| serde_json::from_value(Value::String(t.clone())).ok())
        .unwrap_or(TriggerKind::Schedule);
    let trigger = Trigger {
        reason: Some(RECORDED_LATE.to_string()),
        ..Trigger::new(kind)
    };
    let body = SnapshotRecord {
        snapshot_id: snapshot.id.clone(),
        snapshot_arn: snapshot.arn.clone(),
        source_region: region.to_string(),
        database: db.identifier.clone(),
        database_kind: db.kind,
        engine: db.engine.clone(),
        engine_version: snapshot
            .carried
            .engine_version
            .clone()
            .unwrap_or_else(|| db.engine_version.clone()),
        encrypted: snapshot.encrypted,
        kms_key_id: snapshot
            .encrypted
            .then(|| snapshot.kms_key_id.clone())
            .flatten(),
        recovery_point_time: recovery_point,
        trigger: trigger.clone(),
        config: db.config.clone(),
    };
    match record(catalog, body, request_id).await {
        Ok((key, ours)) if ours.is_ours() => Done {
            entry: entry(Outcome::Recorded {
                reason: RECORDED_LATE.to_string(),
            }),
            announce: Some(started(
                region,
                db,
                &snapshot.id,
                &snapshot.arn,
                &snapshot.status,
                recovery_point,
                &trigger,
                &key,
            )),
        },
        // Recorded meanwhile by the run that took it, or another repair.
        Ok(_) => Done {
            entry: entry(Outcome::Exists),
            announce: None,
        },
        Err(e) => Done {
            entry: entry(Outcome::Failed {
                error: format!(
                    "snapshot {} has no catalog record, and writing it failed again: {e}",
                    snapshot.id
                ),
            }),
            announce: None,
        },
    }
}

/// Why a record was written after its snapshot was taken.
const RECORDED_LATE: &str = "recorded by a later scheduled run: the catalog could not be written when the snapshot was taken; config is the DB's as of that run";

/// `Snapshot Started`: a snapshot is taken and recorded.
#[allow(clippy::too_many_arguments)]
fn started(
    region: &str,
    db: &Database,
    snapshot_id: &str,
    snapshot_arn: &str,
    status: &str,
    recovery_point: chrono::DateTime<Utc>,
    trigger: &Trigger,
    key: &str,
) -> Announcement {
    Announcement {
        detail_type: "Snapshot Started",
        resources: vec![db.arn.clone(), snapshot_arn.to_string()],
        detail: json!({
            "database": db.identifier,
            "database_kind": db.kind,
            "snapshot_id": snapshot_id,
            "snapshot_arn": snapshot_arn,
            "status": status,
            "region": region,
            "recovery_point_time": recovery_point,
            "trigger": trigger,
            "catalog_key": key,
        }),
    }
}

/// A failed DB and its `Snapshot Failed` event.
fn failed(
    region: &str,
    request: &Request,
    db: &Database,
    snapshot_id: &str,
    error: &Error,
) -> Done {
    Done {
        entry: Entry::new(&db.identifier, Outcome::failed(error))
            .kind(db.kind)
            .snapshot(snapshot_id),
        announce: Some(Announcement {
            detail_type: "Snapshot Failed",
            resources: vec![db.arn.clone()],
            detail: json!({
                "database": db.identifier,
                "database_kind": db.kind,
                "snapshot_id": snapshot_id,
                "region": region,
                "trigger": request.trigger,
                "error": error.to_string(),
            }),
        }),
    }
}
