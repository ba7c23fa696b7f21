//! `lifeboat-copy`: copies Lifeboat's snapshots into every DR region.
//!
//! Fired by RDS's own "manual snapshot created" events for an immediate copy,
//! and by a schedule that reconciles: every available managed snapshot that
//! lacks a copy in a DR region gets one. RDS events are best-effort (and
//! Aurora sends none when a copy finishes), so the reconcile is what makes
//! "every snapshot reaches every DR region" true.

pub mod event;
pub mod records;

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use lambda_runtime::LambdaEvent;
use lifeboat::aws::publisher::Announcement;
use lifeboat::aws::rds::{self, CopyResult};
use lifeboat::domain::copy_plan::{
    self, CopyAction, CopyLimits, CopySettings, PlannedCopy, RegionState,
};
use lifeboat::domain::model::Snapshot;
use lifeboat::domain::outcome::{Entry, Outcome, Summary};
use lifeboat::domain::restore_plan;
use lifeboat::domain::tags;
use lifeboat::domain::trigger::Trigger;
use lifeboat::lambda::invocation;
use lifeboat::lambda::run::{About, Batch};
use lifeboat::{Context, Error};
use serde_json::{json, Value};

use crate::event::{Carried, Request};
use crate::records::{Catalogs, Copy};

pub const FUNCTION: &str = "copy";

/// The settings this function reads; a deployment must set each.
pub const SETTINGS: &[&str] = &[
    lifeboat::lambda::config::CATALOG_BUCKET,
    lifeboat::lambda::config::CATALOG_PREFIX,
    lifeboat::lambda::config::EVENT_BUS,
    lifeboat::lambda::config::RDS_CALLS_PER_SECOND,
    lifeboat::lambda::config::RDS_BURST,
    lifeboat::lambda::config::RUN_STATE_MACHINE,
    lifeboat::lambda::config::DR_REGIONS,
    lifeboat::lambda::config::DR_KMS_KEYS,
    lifeboat::lambda::config::MAX_INFLIGHT_COPIES,
    lifeboat::lambda::config::DR_OPTION_GROUPS,
    lifeboat::lambda::config::DR_CATALOG_BUCKETS,
    lifeboat::lambda::config::RETENTION,
    lifeboat::lambda::config::DR_RETENTION,
];

/// Checks at cold start what this function cannot run without: DR regions,
/// and a catalog in each for the records of what is copied there.
pub fn check(ctx: &Context) -> Result<(), Error> {
    ctx.config.require_dr_regions()?;
    ctx.config.require_dr_catalog_buckets()
}

pub async fn handle(ctx: &Context, event: LambdaEvent<Value>) -> Result<Summary, Error> {
    let request_id = event.context.request_id.clone();
    let deadline = restore_plan::lambda_deadline(event.context.deadline);
    invocation::handle(
        event,
        |payload| event::parse(payload, Utc::now()),
        |request| Box::pin(run(ctx, request, &request_id, deadline)),
    )
    .await
}

/// Copies what `request` asks for; `request_id` (the Lambda request's)
/// stamps the copy records, so a retry knows its own work. A reconcile is
/// a run (`lambda::run`): its copies are made in a fixed order, none is
/// started once the Lambda `deadline` is near, and the rest is handed on.
pub async fn run(
    ctx: &Context,
    request: Request,
    request_id: &str,
    deadline: Option<DateTime<Utc>>,
) -> Result<Summary, Error> {
    check(ctx)?;
    let dr_regions = ctx.config.require_dr_regions()?;
    let request = match request {
        Request::Nothing { trigger, note } => {
            return Ok(Summary::new(FUNCTION, Some(trigger), Vec::new()).with_message(note));
        }
        other => other,
    };
    let reconcile = matches!(request, Request::Reconcile { .. });
    let now = match &request {
        Request::Reconcile { now, .. } | Request::Snapshots { now, .. } => *now,
        Request::Nothing { .. } => Utc::now(),
    };
    let batch = match &request {
        Request::Reconcile { trigger, now, run } => Some(Batch::begin(
            FUNCTION,
            trigger,
            *now,
            request_id,
            run.clone(),
            deadline,
        )),
        _ => None,
    };
    let sources = async {
        match request {
            // Answered above; nothing to list.
            Request::Nothing { trigger, .. } => Ok((trigger, Vec::new(), Vec::new())),
            Request::Reconcile { trigger, .. } => rds::describe_manual_snapshots(ctx.clients.rds())
                .await
                .map(|all| {
                    let sources = all.into_iter().filter(|s| is_original(ctx, s)).collect();
                    (trigger, sources, Vec::new())
                }),
            Request::Snapshots {
                trigger, snapshots, ..
            } => resolve(ctx, &snapshots)
                .await
                .map(|(sources, outcomes)| (trigger, sources, outcomes)),
        }
    };
    // What each DR region holds: one paginated describe per region and kind,
    // listed while the source region is.
    let states = stream::iter(dr_regions.iter().cloned())
        .map(|region| async move {
            let rds = ctx.clients.rds_in(&region);
            let state = rds::describe_manual_snapshots(&rds)
                .await
                .map(|snapshots| RegionState::from_snapshots(&snapshots));
            (region, state)
        })
        .buffer_unordered(dr_regions.len().max(1))
        .collect::<Vec<(String, Result<RegionState, Error>)>>();
    // What each catalog holds, listed alongside (a reconcile only).
    let catalogs = Catalogs::open(ctx, dr_regions, reconcile);
    let (sources, states, catalogs) = tokio::join!(sources, states, catalogs);
    let catalogs = catalogs?;
    let (trigger, sources, mut outcomes) = sources?;

    let mut reachable = Vec::new();
    for (region, state) in states {
        match state {
            Ok(state) => reachable.push((region, state)),
            Err(e) => {
                for s in &sources {
                    outcomes.push(entry(s, &region, Outcome::failed(&e)));
                }
            }
        }
    }
    reachable.sort_by(|a, b| a.0.cmp(&b.0));

    let settings = CopySettings {
        kms_keys: Some(&ctx.config.dr_kms_keys),
        option_groups: Some(&ctx.config.dr_option_groups),
        limits: Some(CopyLimits::new(ctx.config.max_inflight_copies)),
        // What prune keeps in the DR regions (one policy for all of them):
        // a copy it would delete is not made.
        retention: dr_regions
            .first()
            .and_then(|r| ctx.config.retention_for(r))
            .map(|policy| (policy, now)),
    };
    let plan = copy_plan::plan(&sources, &reachable, &settings);
    let carry = |planned| carry_out(ctx, &catalogs, &trigger, planned, now, request_id);
    let (results, worked) = match &batch {
        Some(batch) => {
            let left = batch
                .run
                .left(plan, |p| format!("{}/{}", p.region, p.snapshot.id));
            let worked = batch.work(left, ctx.config.concurrency, carry).await;
            let results = worked.results.clone();
            (results, Some(worked))
        }
        None => {
            let results: Vec<(Entry, Option<Announcement>)> = stream::iter(plan)
                .map(carry)
                .buffer_unordered(ctx.config.concurrency)
                .collect()
                .await;
            (results, None)
        }
    };

    let mut events = Vec::new();
    for (entry, event) in results {
        events.extend(event);
        outcomes.push(entry);
    }
    let mut summary = Summary::new(FUNCTION, Some(trigger.clone()), outcomes);
    if sources.is_empty() && summary.outcomes.is_empty() {
        summary = summary.with_message("no available Lifeboat snapshot to copy");
    }
    summary.errors = ctx.publisher().publish(&events).await;
    if let (Some(batch), Some(worked)) = (batch, worked) {
        let about = About {
            trigger: &trigger,
            time: now,
            request: &Carried {
                trigger: trigger.clone(),
                now,
            },
        };
        batch
            .end(ctx, &mut summary, &worked, about, request_id)
            .await;
    }
    Ok(summary)
}

/// An original Lifeboat snapshot of this region, ready to copy. Copies that
/// arrived here from another region are never copied on.
fn is_original(ctx: &Context, s: &Snapshot) -> bool {
    s.is_managed() && s.is_available() && s.source_region() == Some(ctx.config.region.as_str())
}

/// Looks up the snapshots an event or request names, deciding for each
/// whether it is one to copy.
async fn resolve(ctx: &Context, names: &[String]) -> Result<(Vec<Snapshot>, Vec<Entry>), Error> {
    let mut sources = Vec::new();
    let mut outcomes = Vec::new();
    for name in names {
        let skipped = |reason: String| {
            Entry::new(name.as_str(), Outcome::Skipped { reason }).snapshot(name.as_str())
        };
        let (id, kind) = if name.starts_with("arn:") {
            match lifeboat::domain::identifier::parse_snapshot_arn(name) {
                Some((region, _, _)) if region != ctx.config.region => {
                    outcomes.push(skipped(format!(
                        "the snapshot is in {region}, not in this function's source region {}",
                        ctx.config.region
                    )));
                    continue;
                }
                Some((_, kind, id)) => (id, Some(kind)),
                None => {
                    outcomes.push(
                        Entry::new(
                            name.as_str(),
                            Outcome::Failed {
                                error: format!("{name} is not an RDS snapshot ARN"),
                            },
                        )
                        .snapshot(name.as_str()),
                    );
                    continue;
                }
            }
        } else {
            (name.as_str(), None)
        };
        let Some(snapshot) = rds::find_snapshot(ctx.clients.rds(), id, kind).await? else {
            outcomes.push(
                Entry::new(
                    id,
                    Outcome::Failed {
                        error: format!(
                            "no DB snapshot or DB cluster snapshot {id} in {}",
                            ctx.config.region
                        ),
                    },
                )
                .snapshot(id),
            );
            continue;
        };
        if !snapshot.is_managed() {
            outcomes.push(skipped(format!(
                "not a Lifeboat snapshot (Lifeboat's are named {}* and tagged {}=true)",
                lifeboat::domain::naming::PREFIX,
                tags::MANAGED
            )));
        } else if snapshot.source_region() != Some(ctx.config.region.as_str()) {
            outcomes.push(skipped(format!(
                "a copy from {}, not an original of {}",
                snapshot.source_region().unwrap_or("another region"),
                ctx.config.region
            )));
        } else if !snapshot.is_available() {
            outcomes.push(skipped(format!(
                "status is {}; the reconcile copies it once it is available",
                snapshot.status
            )));
        } else {
            sources.push(snapshot);
        }
    }
    Ok((sources, outcomes))
}

fn entry(snapshot: &Snapshot, region: &str, outcome: Outcome) -> Entry {
    Entry::new(snapshot.source_db(), outcome)
        .kind(snapshot.kind)
        .region(region)
        .snapshot(&snapshot.id)
}

/// The ARN the copy has (or will have) in `region`: the source ARN with the
/// region replaced, since the copy keeps the identifier.
fn arn_in(source_arn: &str, region: &str, id: &str) -> String {
    let mut parts: Vec<String> = source_arn.splitn(7, ':').map(str::to_string).collect();
    if parts.len() == 7 {
        parts[3] = region.to_string();
        parts[6] = id.to_string();
    }
    parts.join(":")
}

async fn carry_out(
    ctx: &Context,
    catalogs: &Catalogs,
    trigger: &Trigger,
    planned: PlannedCopy<'_>,
    now: DateTime<Utc>,
    request_id: &str,
) -> (Entry, Option<Announcement>) {
    let PlannedCopy {
        snapshot,
        region,
        action,
    } = planned;
    let failed = |error: String| {
        let event = Announcement {
            detail_type: "Snapshot Copy Failed",
            resources: vec![snapshot.arn.clone()],
            detail: json!({
                "database": snapshot.source_db(),
                "snapshot_id": snapshot.id,
                "source_arn": snapshot.arn,
                "region": region,
                "trigger": trigger,
                "error": error,
            }),
        };
        (
            entry(snapshot, &region, Outcome::Failed { error }),
            Some(event),
        )
    };
    // Waiting for a copy slot is normal for minutes; for over an hour it is
    // a failure, so that the error alarm fires.
    let deferred = |reason: String| match copy_plan::overdue(snapshot, now) {
        Some(late) => failed(format!("{reason}; {late}")),
        None => (entry(snapshot, &region, Outcome::Deferred { reason }), None),
    };
    let (target_id, kms_key_id, option_group) = match action {
        // There already: its records are written if any is missing.
        CopyAction::Exists { arn } => {
            let kms_key_id = snapshot
                .encrypted
                .then(|| ctx.config.dr_kms_keys.get(&region))
                .flatten();
            let copy = Copy {
                snapshot,
                region: &region,
                copy_arn: &arn,
                kms_key_id: kms_key_id.map(String::as_str),
            };
            // A copy without its record (the catalog was unreachable when
            // it was made) is recorded now and announced then.
            return match catalogs.record(&copy, request_id).await {
                Ok((key, ours)) if ours.is_ours() => {
                    let reason = "the copy was there without its record: recorded now".to_string();
                    let event = copy_started(trigger, &copy, &key);
                    (
                        entry(snapshot, &region, Outcome::Recorded { reason }),
                        Some(event),
                    )
                }
                Ok(_) => (entry(snapshot, &region, Outcome::Exists), None),
                Err(error) => failed(error),
            };
        }
        CopyAction::Deferred { reason } => return deferred(reason),
        CopyAction::Failed { reason } => return failed(reason),
        CopyAction::Skipped { reason } => {
            return (entry(snapshot, &region, Outcome::Skipped { reason }), None)
        }
        CopyAction::Start {
            target_id,
            kms_key_id,
            option_group,
        } => (target_id, kms_key_id, option_group),
    };

    let tags: Vec<(String, String)> = tags::passable(&snapshot.tags).into_iter().collect();
    let rds = ctx.clients.rds_in(&region);
    let result = rds::copy_snapshot(
        &rds,
        snapshot,
        &target_id,
        kms_key_id.as_deref(),
        option_group.as_deref(),
        &tags,
    )
    .await;
    let copy_arn = match result {
        Ok(CopyResult::Started { arn }) => arn,
        Ok(CopyResult::AlreadyExists) => arn_in(&snapshot.arn, &region, &target_id),
        Ok(CopyResult::CopyLimit(message)) => {
            let reason = format!("RDS's limit on copies in progress into {region} was reached ({message}); the next reconcile copies it");
            return deferred(reason);
        }
        Ok(CopyResult::SnapshotQuota(message)) => {
            return failed(format!(
                "the manual snapshot quota in {region} is used up ({message}): delete snapshots there or raise the \
                 \"Manual DB snapshots\" / \"Manual DB cluster snapshots\" quota"
            ))
        }
        Err(e) => return failed(e.to_string()),
    };

    let copy = Copy {
        snapshot,
        region: &region,
        copy_arn: &copy_arn,
        kms_key_id: kms_key_id.as_deref(),
    };
    // Whoever records the copy announces it: a retry that meets its own
    // copy (an answer lost on the way back) records and announces it; a
    // redelivered event that finds another's record stays quiet.
    let (key, ours) = match catalogs.record(&copy, request_id).await {
        Ok(recorded) => recorded,
        Err(error) => return failed(error),
    };
    if !ours.is_ours() {
        return (entry(snapshot, &region, Outcome::Exists), None);
    }
    let event = copy_started(trigger, &copy, &key);
    (entry(snapshot, &region, Outcome::Copied), Some(event))
}

/// `Snapshot Copy Started`, for the copy recorded at `key`.
fn copy_started(trigger: &Trigger, copy: &Copy<'_>, key: &str) -> Announcement {
    let snapshot = copy.snapshot;
    Announcement {
        detail_type: "Snapshot Copy Started",
        resources: vec![snapshot.arn.clone(), copy.copy_arn.to_string()],
        detail: json!({
            "database": snapshot.source_db(),
            "database_kind": snapshot.kind,
            "snapshot_id": snapshot.id,
            "source_arn": snapshot.arn,
            "copy_arn": copy.copy_arn,
            "region": copy.region,
            "kms_key_id": copy.kms_key_id,
            "trigger": trigger,
            "catalog_key": key,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_keeps_the_arn_but_for_the_region_and_its_identifier() {
        let source =
            "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:lifeboat-ledger-20261124-0400";
        assert_eq!(
            arn_in(source, "eu-west-1", "lifeboat-ledger-20261124-0400"),
            "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:lifeboat-ledger-20261124-0400"
        );
        assert_eq!(
            arn_in(source, "eu-west-1", "lifeboat-ledger-20261124-0400-us-east-1"),
            "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:lifeboat-ledger-20261124-0400-us-east-1"
        );
    }
}
