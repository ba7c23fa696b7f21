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

use std::collections::BTreeSet;

use chrono::{DateTime, SubsecRound, Utc};
use lambda_runtime::LambdaEvent;
use lifeboat::catalog::{
    self, Catalog, Record, RecordKind, RestoreAvailableRecord, RestoreRecord, SnapshotRecord,
    Written,
};
use lifeboat::model::{DatabaseConfig, DatabaseKind, Snapshot};
use lifeboat::publisher::{Event, Publisher};
use lifeboat::restore_plan::{self, Plan, Refusal, Source};
use lifeboat::{rds, restore, Context, Error};
use serde_json::{json, Value};
use tracing::Instrument;

use crate::event::{Request, RestoreRequest, SnapshotChoice};

pub const FUNCTION: &str = "restore";

/// The settings this function reads; a deployment must set each.
pub const SETTINGS: &[&str] = &[
    lifeboat::config::CATALOG_BUCKET,
    lifeboat::config::CATALOG_PREFIX,
    lifeboat::config::EVENT_BUS,
    lifeboat::config::DR_REGIONS,
    lifeboat::config::DRY_RUN,
];

pub async fn handle(ctx: &Context, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
    async {
        let now = Utc::now().trunc_subsecs(0);
        let result = match event::parse(&event.payload)? {
            Request::Restore(request) => start(ctx, &request, now).await,
            Request::Status { region, target } => {
                status(ctx, region.as_deref(), &target, now).await
            }
        };
        match &result {
            Ok(report) => tracing::info!(report = %report, "done"),
            Err(e) => tracing::error!(error = %e, error_type = e.kind(), "refused or failed"),
        }
        result
    }
    .instrument(span)
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

fn rds_for(ctx: &Context, region: &str) -> aws_sdk_rds::Client {
    ctx.clients.rds_in(region)
}

/// The catalog's snapshot records of `database` taken in `source_region`:
/// snapshot identifier -> record key. One listing (a page per 1,000).
async fn record_keys(
    catalog: &Catalog,
    source_region: &str,
    database: &str,
) -> Result<std::collections::HashMap<String, String>, Error> {
    let prefix = catalog::snapshot_prefix(catalog.prefix(), source_region, database);
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
            let mut keys: std::collections::HashMap<
                String,
                std::collections::HashMap<String, String>,
            > = std::collections::HashMap::new();
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
                    lifeboat::tags::SOURCE_DB,
                    snapshot
                        .tags
                        .get(lifeboat::tags::SOURCE_DB)
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
    let non_default = |n: &Option<String>| {
        n.clone()
            .filter(|n| !n.starts_with("default.") && !n.starts_with("default:"))
    };
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

fn age(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> (Option<i64>, String) {
    let Some(then) = then else {
        return (None, "unknown".to_string());
    };
    let seconds = (now - then).num_seconds().max(0);
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    let text = if d > 0 {
        format!("{d}d {h}h {m}m")
    } else {
        format!("{h}h {m}m")
    };
    (Some(seconds), text)
}

/// Plans the restore and, unless it is a dry run, starts it.
pub async fn start(
    ctx: &Context,
    request: &RestoreRequest,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let dry_run = request.dry_run || ctx.config.dry_run;
    let region = region(ctx, request.region.as_deref())?;
    let rds = rds_for(ctx, region);
    let catalog = Catalog::new(ctx);
    let (snapshot, record) = resolve(&catalog, &rds, request, region).await?;
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

    let [subnets, pgs, cpgs, ogs] = names_to_check(&captured.config, request);
    let facts = restore::region_facts(&rds, &subnets, &pgs, &cpgs, &ogs).await?;
    let source = Source {
        kind: snapshot.kind,
        snapshot_id: &snapshot.id,
        engine: &captured.engine,
        engine_version: &captured.engine_version,
        config: &captured.config,
        same_region: region == captured.source_region,
    };
    let plan = restore_plan::plan(&source, &request.target, &request.overrides, &facts).map_err(|r| match r {
        Refusal::PublicAccess => refused("overrides.publicly_accessible: Lifeboat never makes a restored DB publicly accessible"),
        Refusal::KindMismatch => refused("the snapshot record's configuration does not match its kind"),
    })?;

    // Never touch an existing DB: every identifier the restore would create
    // must be free.
    let mut taken = Vec::new();
    for (kind, id) in plan.identifiers() {
        if restore::db_exists(&rds, kind, id).await? {
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

    let (age_seconds, age_text) = age(now, snapshot.recovery_point());
    let mut report = json!({
        "function": FUNCTION,
        "action": "restore",
        "dry_run": dry_run,
        "database": request.database,
        "database_kind": snapshot.kind,
        "region": region,
        "target": request.target,
        "snapshot": {
            "id": snapshot.id,
            "arn": snapshot.arn,
            "recovery_point_time": snapshot.recovery_point(),
            "age_seconds": age_seconds,
            "age": age_text,
        },
        "plan": plan.calls,
        "missing": plan.missing,
        "target_taken": taken,
        "requested_at": now,
    });
    tracing::info!(
        snapshot_id = %snapshot.id,
        age = %age_text,
        "chose snapshot {} (recovery point {} ago)",
        snapshot.id,
        age_text
    );
    if dry_run {
        report["status"] = json!("dry run: nothing created");
        return Ok(report);
    }
    if !taken.is_empty() {
        return Err(refused(format!(
            "{} already exist(s) in {region}; Lifeboat never touches an existing DB: choose another target",
            taken.join(", ")
        )));
    }
    if !plan.missing.is_empty() {
        return Err(refused(missing_message(region, &plan)));
    }

    let publisher = Publisher::new(ctx);
    if let Err(e) = restore::execute(&rds, &plan).await {
        let problems = publisher
            .publish(&[Event {
                detail_type: "Restore Failed",
                resources: vec![snapshot.arn.clone()],
                detail: json!({"database": request.database, "region": region, "target": request.target,
                               "snapshot_id": snapshot.id, "error": e.to_string()}),
            }])
            .await;
        for p in problems {
            tracing::error!(error = %p, "event not published");
        }
        return Err(e);
    }

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
            requested_at: now,
            started_at,
        },
    );
    let key = catalog::restore_key(catalog.prefix(), region, &request.target, now, "started");
    let mut errors = Vec::new();
    if let Err(e) = catalog.put_new(&key, &restore_record).await {
        errors.push(format!(
            "the restore started but its catalog record was not written: {e}"
        ));
    }
    errors.extend(
        publisher
            .publish(&[Event {
                detail_type: "Restore Started",
                resources: vec![snapshot.arn.clone()],
                detail: json!({"database": request.database, "database_kind": snapshot.kind, "region": region,
                               "target": request.target, "snapshot_id": snapshot.id,
                               "recovery_point_time": snapshot.recovery_point(), "catalog_key": key}),
            }])
            .await,
    );
    report["status"] = json!("started");
    report["started_at"] = json!(started_at);
    report["catalog_key"] = json!(key);
    if !errors.is_empty() {
        report["errors"] = json!(errors);
    }
    Ok(report)
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
) -> Result<Value, Error> {
    let region = self::region(ctx, region)?;
    let rds = rds_for(ctx, region);
    let progress = restore::progress(&rds, target)
        .await?
        .ok_or_else(|| refused(format!("no DB instance or DB cluster {target} in {region}")))?;
    let catalog = Catalog::new(ctx);
    let prefix = catalog::restore_prefix(catalog.prefix(), region, target);
    let started_key = catalog
        .list(&prefix, 2)
        .await?
        .into_iter()
        .find(|k| k.ends_with("-started.json"));

    let mut report = json!({
        "function": FUNCTION,
        "action": "status",
        "region": region,
        "target": target,
        "database_kind": progress.database_kind,
        "status": progress.status,
        "instances": progress.instances,
        "available": progress.available,
    });
    let Some(started_key) = started_key else {
        report["note"] = json!("no Lifeboat restore record for this target: progress only");
        return Ok(report);
    };
    let started: Record<RestoreRecord> = catalog.get(&started_key).await?;
    let started = started.body;
    report["database"] = json!(started.database);
    report["snapshot_id"] = json!(started.snapshot_id);
    report["requested_at"] = json!(started.requested_at);
    if !progress.available {
        report["elapsed_seconds"] = json!((now - started.requested_at).num_seconds());
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
    let key = catalog::restore_key(
        catalog.prefix(),
        region,
        target,
        started.requested_at,
        "available",
    );
    let recorded = match catalog.put_new(&key, &available).await? {
        Written::New => {
            let problems = Publisher::new(ctx)
                .publish(&[Event {
                    detail_type: "Restore Completed",
                    resources: vec![],
                    detail: json!({"database": started.database, "region": region, "target": target,
                                   "snapshot_id": started.snapshot_id,
                                   "recovery_time_seconds": available.body.recovery_time_seconds}),
                }])
                .await;
            if !problems.is_empty() {
                report["errors"] = json!(problems);
            }
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
    report["available_at"] = json!(recorded.available_at);
    report["recovery_time_seconds"] = json!(recorded.recovery_time_seconds);
    Ok(report)
}
