//! `lifeboat-snapshot`: snapshots the selected DB instances and Aurora
//! clusters, records each snapshot in the catalog and announces it.
//!
//! Fired by an EventBridge schedule, a CloudWatch alarm, or by hand. One
//! outcome per DB; a failing DB never stops the others, and the invocation
//! ends in an error listing the failures once the rest are done.

pub mod event;

use chrono::{SubsecRound, Utc};
use futures_util::{stream, StreamExt};
use lambda_runtime::LambdaEvent;
use lifeboat::aws::catalog::Catalog;
use lifeboat::aws::publisher::Announcement;
use lifeboat::aws::rds;
use lifeboat::domain::model::{Database, Snapshot};
use lifeboat::domain::outcome::{Entry, Outcome, Summary};
use lifeboat::domain::record::{self, Record, RecordKind, SnapshotRecord};
use lifeboat::domain::{naming, selection, tags};
use lifeboat::lambda::invocation;
use lifeboat::{Context, Error};
use serde_json::{json, Value};

use crate::event::Request;

pub const FUNCTION: &str = "snapshot";

/// The settings this function reads; a deployment must set each.
pub const SETTINGS: &[&str] = &[
    lifeboat::lambda::config::CATALOG_BUCKET,
    lifeboat::lambda::config::CATALOG_PREFIX,
    lifeboat::lambda::config::EVENT_BUS,
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
    invocation::handle(
        event,
        |payload| event::parse(payload, Utc::now().trunc_subsecs(0)),
        |request| run(ctx, request, &request_id),
    )
    .await
}

/// Snapshots what `request` asks for and returns one outcome per DB.
/// `request_id` is the Lambda request's: a retry of a request that has no
/// time of its own (`{}`, a manual request) carries the same id, and finds
/// the recovery point (so the snapshots) its first attempt chose.
pub async fn run(ctx: &Context, mut request: Request, request_id: &str) -> Result<Summary, Error> {
    let Some(scope) = request.scope.clone() else {
        let note = request.note.clone().unwrap_or_default();
        return Ok(Summary::new(FUNCTION, Some(request.trigger), Vec::new()).with_message(note));
    };
    let scope = &scope;
    let retry_key = (request.from_clock && !request_id.is_empty()).then_some(request_id);
    if let Some(id) = retry_key {
        if let Some(earlier) = earlier_recovery_point(ctx, id).await? {
            tracing::info!(recovery_point = %earlier, "a retry of request {id}: its first attempt's recovery point");
            request.recovery_point = earlier;
        }
    }

    let fleet = rds::describe_fleet(&ctx.clients.rds).await?;
    let selection = selection::select(&fleet, scope, &ctx.config.select_tag);
    let catalog = ctx.catalog();

    let results: Vec<(Entry, Announcement)> = stream::iter(selection.targets)
        .map(|db| snapshot_one(ctx, &catalog, &request, retry_key, db))
        .buffer_unordered(ctx.config.concurrency)
        .collect()
        .await;

    let mut outcomes = selection.outcomes;
    let mut events = Vec::new();
    for (entry, event) in results {
        // A redelivered event finds its snapshot already there: nothing new
        // happened, so nothing new is announced.
        if entry.outcome != Outcome::Exists {
            events.push(event);
        }
        outcomes.push(entry);
    }

    let mut summary = Summary::new(FUNCTION, Some(request.trigger.clone()), outcomes);
    summary.errors = ctx.publisher().publish(&events).await;
    Ok(summary)
}

/// The recovery point an earlier attempt of request `request_id` chose:
/// the one its snapshots carry.
async fn earlier_recovery_point(
    ctx: &Context,
    request_id: &str,
) -> Result<Option<chrono::DateTime<Utc>>, Error> {
    let snapshots = rds::describe_manual_snapshots(&ctx.clients.rds).await?;
    Ok(snapshots
        .iter()
        .filter(|s| s.is_managed())
        .filter(|s| s.tags.get(tags::REQUEST_ID).map(String::as_str) == Some(request_id))
        .find_map(Snapshot::recovery_point))
}

/// Takes one DB's snapshot and writes its record; the outcome and the event
/// to announce it.
async fn snapshot_one(
    ctx: &Context,
    catalog: &Catalog,
    request: &Request,
    retry_key: Option<&str>,
    db: &Database,
) -> (Entry, Announcement) {
    let region = &ctx.config.region;
    let snapshot_id = naming::snapshot_identifier(&db.identifier, request.recovery_point);
    let entry = |outcome| {
        Entry::new(&db.identifier, outcome)
            .kind(db.kind)
            .snapshot(&snapshot_id)
    };
    let failed = |error: &Error| {
        (
            entry(Outcome::failed(error)),
            Announcement {
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
            },
        )
    };

    let mut tags = tags::snapshot_tags(
        &db.identifier,
        region,
        request.trigger.kind,
        request.recovery_point,
    );
    tags.extend(retry_key.map(|id| (tags::REQUEST_ID.to_string(), id.to_string())));
    let snapshot = match rds::create_snapshot(&ctx.clients.rds, db, &snapshot_id, &tags).await {
        Ok(snapshot) => snapshot,
        Err(e) => return failed(&e),
    };

    let record = Record::new(
        RecordKind::Snapshot,
        Utc::now(),
        SnapshotRecord {
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
        },
    );
    let key = record::snapshot_key(
        catalog.prefix(),
        region,
        &db.identifier,
        request.recovery_point,
        &snapshot_id,
    );
    if let Err(e) = catalog.put_new(&key, &record).await {
        // The snapshot exists but is not in the catalog; a retry of this
        // event finds the snapshot and writes the missing record.
        let e = Error::Aws {
            operation: "PutObject",
            code: e.aws_code().unwrap_or("CatalogWrite").to_string(),
            message: format!("snapshot {snapshot_id} was started but its catalog record {key} was not written: {e}"),
        };
        return failed(&e);
    }

    let outcome = if snapshot.is_new {
        Outcome::Created
    } else {
        Outcome::Exists
    };
    (
        entry(outcome),
        Announcement {
            detail_type: "Snapshot Started",
            resources: vec![db.arn.clone(), snapshot.arn.clone()],
            detail: json!({
                "database": db.identifier,
                "database_kind": db.kind,
                "snapshot_id": snapshot_id,
                "snapshot_arn": snapshot.arn,
                "status": snapshot.status,
                "region": region,
                "recovery_point_time": request.recovery_point,
                "trigger": request.trigger,
                "catalog_key": key,
            }),
        },
    )
}
