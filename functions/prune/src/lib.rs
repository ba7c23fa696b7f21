//! `lifeboat-prune`: applies the retention policy to Lifeboat's snapshots in
//! the source region and in every DR region, and records each deletion in
//! the catalog of the region it was made in.
//!
//! Only snapshots tagged `lifeboat:managed=true` are considered. Per DB and
//! per region, the policy in `lifeboat::domain::retention` decides; it never deletes
//! the newest available snapshot or one still being created or copied.

pub mod event;

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use futures_util::{stream, StreamExt};
use lambda_runtime::LambdaEvent;
use lifeboat::aws::catalog::Catalog;
use lifeboat::aws::publisher::Announcement;
use lifeboat::aws::rds;
use lifeboat::domain::model::{Fleet, Series, Snapshot};
use lifeboat::domain::outcome::{Entry, Outcome, Summary};
use lifeboat::domain::record::{self, DeletionRecord, Record, RecordKind};
use lifeboat::domain::restore_plan;
use lifeboat::domain::retention::{self, Policy};
use lifeboat::domain::tags;
use lifeboat::domain::trigger::Trigger;
use lifeboat::lambda::invocation;
use lifeboat::lambda::run::{About, Batch};
use lifeboat::{Context, Error};
use serde_json::{json, Value};

use crate::event::Request;

pub const FUNCTION: &str = "prune";

/// The settings this function reads; a deployment must set each.
pub const SETTINGS: &[&str] = &[
    lifeboat::lambda::config::CATALOG_BUCKET,
    lifeboat::lambda::config::CATALOG_PREFIX,
    lifeboat::lambda::config::EVENT_BUS,
    lifeboat::lambda::config::RDS_CALLS_PER_SECOND,
    lifeboat::lambda::config::RDS_BURST,
    lifeboat::lambda::config::RUN_STATE_MACHINE,
    lifeboat::lambda::config::DR_REGIONS,
    lifeboat::lambda::config::RETENTION,
    lifeboat::lambda::config::DR_RETENTION,
    lifeboat::lambda::config::DRY_RUN,
    lifeboat::lambda::config::DR_CATALOG_BUCKETS,
];

/// Checks at cold start what this function cannot run without: a policy,
/// and a catalog in every DR region for the deletion records there.
pub fn check(ctx: &Context) -> Result<(), Error> {
    ctx.config.require_retention()?;
    ctx.config.require_dr_catalog_buckets()
}

pub async fn handle(ctx: &Context, event: LambdaEvent<Value>) -> Result<Summary, Error> {
    let request_id = event.context.request_id.clone();
    let deadline = restore_plan::lambda_deadline(event.context.deadline);
    invocation::handle(
        event,
        |payload| event::parse(payload, Utc::now().trunc_subsecs(0)),
        |request| Box::pin(run(ctx, request, &request_id, deadline)),
    )
    .await
}

/// A snapshot and what the policy decided for it.
struct Decision {
    snapshot: Snapshot,
    region: String,
    policy: Policy,
    keep: Option<String>,
}

/// Applies the retention policies; `request_id` (the Lambda request's)
/// stamps the deletion records, so a retry knows its own. Deletions are
/// made in a fixed order; none is started once the Lambda `deadline` is
/// near, and the rest is handed on to the run's next invocation
/// (`lambda::run`), which decides again as of the same "now".
pub async fn run(
    ctx: &Context,
    request: Request,
    request_id: &str,
    deadline: Option<DateTime<Utc>>,
) -> Result<Summary, Error> {
    check(ctx)?;
    let batch = Batch::begin(
        FUNCTION,
        &request.trigger,
        request.now,
        request_id,
        request.run.clone(),
        deadline,
    );
    // A dry run set in the configuration is a safety catch an event cannot
    // release.
    let dry_run = ctx.config.dry_run || request.dry_run;
    let mut regions = vec![ctx.config.region.clone()];
    regions.extend(ctx.config.dr_regions.iter().cloned());

    type Found = Result<(Vec<Decision>, BTreeMap<String, String>), Error>;
    let listed: Vec<(String, Found)> = stream::iter(regions)
        .map(|region| async move {
            let decisions = decide_region(ctx, &region, request.now).await;
            // A region whose restores cannot be listed deletes nothing.
            let decisions = match (decisions, restoring_from(ctx, &region).await) {
                (Ok(d), Ok(restoring)) => Ok((d, restoring)),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
            (region, decisions)
        })
        .buffer_unordered(4)
        .collect()
        .await;

    let mut restoring = BTreeMap::new();
    let mut listed: Vec<(String, Result<Vec<Decision>, Error>)> = listed
        .into_iter()
        .map(|(region, found)| {
            let decisions = found.map(|(decisions, from)| {
                restoring.insert(region.clone(), from);
                decisions
            });
            (region, decisions)
        })
        .collect();
    hold_sources_of_copies(&mut listed, &ctx.config.region);
    hold_sources_of_restores(&mut listed, &restoring);

    // What is kept (or would be deleted) is the first invocation's to say;
    // the deletions are the run's items.
    let first = !batch.is_carried_on();
    let mut outcomes = Vec::new();
    let mut errors = Vec::new();
    let mut doomed = Vec::new();
    for (region, decisions) in listed {
        match decisions {
            Err(e) => errors.push(format!("{region}: {e}")),
            Ok(decisions) => {
                for d in decisions {
                    match &d.keep {
                        Some(reason) if first => outcomes.push(entry(
                            &d,
                            Outcome::Kept {
                                reason: reason.clone(),
                            },
                        )),
                        None if dry_run && first => outcomes.push(entry(&d, Outcome::WouldDelete)),
                        None if !dry_run => doomed.push(d),
                        _ => {}
                    }
                }
            }
        }
    }
    let doomed = batch
        .run
        .left(doomed, |d| format!("{}/{}", d.region, d.snapshot.id));

    // Each deletion is recorded in the catalog of the region it was made in.
    let mut catalogs: BTreeMap<String, Catalog> = BTreeMap::new();
    for (_, d) in &doomed {
        if !catalogs.contains_key(&d.region) {
            catalogs.insert(d.region.clone(), ctx.catalog_in(&d.region)?);
        }
    }
    let worked = batch
        .work(doomed, ctx.config.concurrency, |d| {
            let (catalogs, trigger) = (&catalogs, &request.trigger);
            async move { delete(ctx, &catalogs[&d.region], trigger, &d, request_id).await }
        })
        .await;
    let mut events = Vec::new();
    for (entry, event) in &worked.results {
        events.extend(event.clone());
        outcomes.push(entry.clone());
    }

    let mut summary = Summary::new(FUNCTION, Some(request.trigger.clone()), outcomes);
    if dry_run {
        summary = summary.with_message(format!(
            "dry run as of {}: nothing was deleted",
            request.now.to_rfc3339()
        ));
    }
    summary.errors = errors;
    summary
        .errors
        .extend(ctx.publisher().publish(&events).await);
    let about = About {
        trigger: &request.trigger,
        time: request.now,
        request: &request,
    };
    batch
        .end(ctx, &mut summary, &worked, about, request_id)
        .await;
    Ok(summary)
}

/// Lists the managed snapshots in `region` and applies its policy per DB.
async fn decide_region(
    ctx: &Context,
    region: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Decision>, Error> {
    let policy = *ctx
        .config
        .retention_for(region)
        .ok_or(Error::MissingSetting(lifeboat::lambda::config::RETENTION))?;
    let rds = ctx.clients.rds_in(region);
    let snapshots = rds::describe_manual_snapshots(&rds).await?;
    // One series per source region, kind and DB: two stacks whose DR
    // regions overlap may both have an "orders". Only this stack's series
    // (taken in its own region) are its to prune; another stack's
    // snapshots, and its copies here, are that stack's.
    let own = &ctx.config.region;
    let mut groups: BTreeMap<Series, Vec<Snapshot>> = BTreeMap::new();
    for s in snapshots
        .into_iter()
        .filter(|s| s.is_managed() && s.source_region() == Some(own.as_str()))
    {
        groups.entry(s.series()).or_default().push(s);
    }

    let mut decisions = Vec::new();
    for (_, group) in groups {
        let (timed, untimed): (Vec<Snapshot>, Vec<Snapshot>) = group
            .into_iter()
            .partition(|s| s.recovery_point().is_some());
        // Without a time there is no age: such a snapshot is kept.
        decisions.extend(untimed.into_iter().map(|snapshot| Decision {
            snapshot,
            region: region.to_string(),
            policy,
            keep: Some("no recovery point or creation time to age it by".to_string()),
        }));
        let candidates: Vec<retention::RecoveryPoint> = timed
            .iter()
            .filter_map(|s| {
                Some(retention::RecoveryPoint {
                    id: s.id.clone(),
                    time: s.recovery_point()?,
                    available: s.is_available(),
                })
            })
            .collect();
        let verdicts = retention::decide(&policy, &candidates, now);
        for (snapshot, verdict) in timed.into_iter().zip(verdicts) {
            let keep = verdict.is_kept().then(|| {
                verdict
                    .keep
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            decisions.push(Decision {
                snapshot,
                region: region.to_string(),
                policy,
                keep,
            });
        }
    }
    Ok(decisions)
}

/// A source snapshot whose copy into a DR region is still in progress is
/// kept, whatever the policy says: RDS would fail the copy, and the DR
/// region would lose that recovery point. A copy is its source's series and
/// recovery point (its identifier may differ: `naming::copy_identifier`).
fn hold_sources_of_copies(
    listed: &mut [(String, Result<Vec<Decision>, Error>)],
    source_region: &str,
) {
    // Without a recovery point, the identifier is all there is to go by.
    let point = |s: &Snapshot| (s.series(), s.recovery_point().ok_or_else(|| s.id.clone()));
    let mut copying: BTreeMap<(Series, Result<DateTime<Utc>, String>), String> = BTreeMap::new();
    for (region, decisions) in listed.iter() {
        if region == source_region {
            continue;
        }
        for d in decisions.iter().flatten() {
            if d.snapshot.is_copy_in_progress() {
                copying.insert(point(&d.snapshot), region.clone());
            }
        }
    }
    for (region, decisions) in listed.iter_mut() {
        if region != source_region {
            continue;
        }
        for d in decisions.iter_mut().flatten() {
            if let Some(into) = copying.get(&point(&d.snapshot)) {
                hold(d, format!("its copy into {into} is still in progress"));
            }
        }
    }
}

/// A snapshot that a DB being restored (or drilled) is made from is kept
/// until that DB is created: `restoring` names, by region, the snapshots
/// DBs in state `creating` carry in `lifeboat:restored-from`.
fn hold_sources_of_restores(
    listed: &mut [(String, Result<Vec<Decision>, Error>)],
    restoring: &BTreeMap<String, BTreeMap<String, String>>,
) {
    for (region, decisions) in listed.iter_mut() {
        let Some(restoring) = restoring.get(region.as_str()) else {
            continue;
        };
        for d in decisions.iter_mut().flatten() {
            if let Some(target) = restoring.get(&d.snapshot.id) {
                hold(d, format!("{target} is being restored from it"));
            }
        }
    }
}

/// Keeps `d` for `reason`, besides whatever kept it already.
fn hold(d: &mut Decision, reason: String) {
    d.keep = Some(match d.keep.take() {
        Some(reasons) => format!("{reasons}, {reason}"),
        None => reason,
    });
}

/// The snapshots DBs in `region` are being restored from: snapshot
/// identifier -> the DB being made from it.
async fn restoring_from(ctx: &Context, region: &str) -> Result<BTreeMap<String, String>, Error> {
    let fleet = rds::describe_fleet(&ctx.clients.rds_in(region)).await?;
    Ok(being_restored(&fleet))
}

/// Which snapshots DBs still `creating` are restored from (their
/// `lifeboat:restored-from`): snapshot identifier -> DB.
fn being_restored(fleet: &Fleet) -> BTreeMap<String, String> {
    fleet
        .databases
        .iter()
        .filter(|db| db.status == "creating")
        .filter_map(|db| {
            let from = db.tags.get(tags::RESTORED_FROM)?;
            Some((from.clone(), db.identifier.clone()))
        })
        .collect()
}

fn entry(d: &Decision, outcome: Outcome) -> Entry {
    Entry::new(d.snapshot.source_db(), outcome)
        .kind(d.snapshot.kind)
        .region(&d.region)
        .snapshot(&d.snapshot.id)
}

/// Records the deletion, then deletes: a snapshot is never gone without
/// its record (a catalog that cannot be written stops the deletion, and
/// the next run does it). Two runs deleting the same snapshot at once (a
/// schedule delivered twice) both find it gone or delete it; the one that
/// wrote the record announces it.
async fn delete(
    ctx: &Context,
    catalog: &Catalog,
    trigger: &Trigger,
    d: &Decision,
    request_id: &str,
) -> (Entry, Option<Announcement>) {
    let s = &d.snapshot;
    let reason = format!("kept by no rule of the retention policy {}", d.policy);
    let detail = |error: Option<String>| {
        json!({
            "database": s.source_db(),
            "database_kind": s.kind,
            "snapshot_id": s.id,
            "snapshot_arn": s.arn,
            "region": d.region,
            "recovery_point_time": s.recovery_point(),
            "reason": reason,
            "trigger": trigger,
            "error": error,
        })
    };
    let failed = |error: String| {
        let event = Announcement {
            detail_type: "Snapshot Deletion Failed",
            resources: vec![s.arn.clone()],
            detail: detail(Some(error.clone())),
        };
        (entry(d, Outcome::Failed { error }), Some(event))
    };
    let record = Record::new(
        RecordKind::Deletion,
        Utc::now(),
        DeletionRecord {
            snapshot_id: s.id.clone(),
            snapshot_arn: s.arn.clone(),
            region: d.region.clone(),
            database: s.source_db().to_string(),
            database_kind: s.kind,
            recovery_point_time: s.recovery_point(),
            reason: reason.clone(),
        },
    )
    .by_request(request_id);
    let key = record::deletion_key(
        catalog.prefix(),
        &d.region,
        (s.kind, s.source_db()),
        s.recovery_point(),
        &s.id,
    );
    let ours = match catalog.put_own(&key, &record).await {
        Ok(ours) => ours,
        Err(e) => {
            return failed(format!(
                "snapshot {} was not deleted: its deletion record {key} could not be written ({e}); the next run deletes it",
                s.id
            ))
        }
    };
    let rds = ctx.clients.rds_in(&d.region);
    if let Err(e) = rds::delete_snapshot(&rds, s).await {
        return failed(format!(
            "{e} (its deletion record {key} is written; the next run deletes it)"
        ));
    }
    if !ours.is_ours() {
        let reason = "deleted by another run of the same schedule, which recorded it".to_string();
        return (entry(d, Outcome::Skipped { reason }), None);
    }
    let event = Announcement {
        detail_type: "Snapshot Deleted",
        resources: vec![s.arn.clone()],
        detail: detail(None),
    };
    (entry(d, Outcome::Deleted), Some(event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat::domain::model::DatabaseKind;
    use lifeboat::domain::tags;

    fn decision(id: &str, status: &str, copied_from: Option<&str>, keep: Option<&str>) -> Decision {
        Decision {
            snapshot: Snapshot {
                id: id.to_string(),
                arn: String::new(),
                kind: DatabaseKind::Instance,
                database: "orders".to_string(),
                status: status.to_string(),
                engine: "postgres".to_string(),
                encrypted: false,
                kms_key_id: None,
                option_group: None,
                tags: [
                    (tags::MANAGED, "true"),
                    (tags::SOURCE_DB, "orders"),
                    (tags::SOURCE_REGION, "us-east-1"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                created_at: None,
                copied_from: copied_from.map(str::to_string),
                carried: Default::default(),
            },
            region: String::new(),
            policy: "last=1".parse().unwrap(),
            keep: keep.map(str::to_string),
        }
    }

    #[test]
    fn a_source_being_copied_is_held() {
        let mut listed = vec![
            (
                "us-east-1".to_string(),
                Ok(vec![
                    decision("lifeboat-orders-a", "available", None, None),
                    decision("lifeboat-orders-b", "available", None, None),
                ]),
            ),
            (
                "us-west-2".to_string(),
                Ok(vec![
                    decision(
                        "lifeboat-orders-a",
                        "copying",
                        Some("us-east-1"),
                        Some("still being created or copied"),
                    ),
                    decision("lifeboat-orders-b", "available", Some("us-east-1"), None),
                ]),
            ),
        ];
        hold_sources_of_copies(&mut listed, "us-east-1");
        let source = listed[0].1.as_ref().unwrap();
        assert_eq!(
            source[0].keep.as_deref(),
            Some("its copy into us-west-2 is still in progress")
        );
        assert_eq!(source[1].keep, None, "a finished copy holds nothing");
    }

    #[test]
    fn a_snapshot_a_db_is_being_restored_from_is_held_until_it_is_created() {
        use lifeboat::domain::model::{Database, DatabaseConfig, InstanceConfig};
        let db = |id: &str, status: &str, from: Option<&str>| Database {
            identifier: id.to_string(),
            kind: DatabaseKind::Instance,
            arn: String::new(),
            engine: "postgres".to_string(),
            engine_version: "16.4".to_string(),
            status: status.to_string(),
            encrypted: false,
            kms_key_id: None,
            tags: from
                .map(|f| (tags::RESTORED_FROM.to_string(), f.to_string()))
                .into_iter()
                .collect(),
            member_of: None,
            config: DatabaseConfig::Instance(InstanceConfig::default()),
        };
        let fleet = Fleet {
            databases: vec![
                db("orders-dr", "creating", Some("lifeboat-orders-a")),
                db("orders-old", "available", Some("lifeboat-orders-b")),
                db("orders", "creating", None),
            ],
        };
        let restoring = BTreeMap::from([("us-west-2".to_string(), being_restored(&fleet))]);
        let mut listed = vec![(
            "us-west-2".to_string(),
            Ok(vec![
                decision("lifeboat-orders-a", "available", Some("us-east-1"), None),
                decision("lifeboat-orders-b", "available", Some("us-east-1"), None),
            ]),
        )];
        hold_sources_of_restores(&mut listed, &restoring);
        let held = listed[0].1.as_ref().unwrap();
        assert_eq!(
            held[0].keep.as_deref(),
            Some("orders-dr is being restored from it")
        );
        assert_eq!(held[1].keep, None, "a finished restore holds nothing");
    }
}
