//! `lifeboat snapshots DB`: every Lifeboat snapshot of a DB in each region,
//! with its copies and what retention keeps it for. The snapshots are
//! listed with the functions' own RDS adapter; what the retention policy
//! decides is the prune function's dry run, so the reasons are the ones
//! prune itself would act on.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use comfy_table::Cell;
use futures_util::future::join_all;
use lifeboat::aws::rds;
use lifeboat::domain::model::{DatabaseKind, Snapshot};
use lifeboat::domain::outcome::{Outcome, Summary};
use lifeboat::domain::retention::Policy;
use serde::Serialize;
use serde_json::json;

use crate::args::SnapshotsArgs;
use crate::failure::Failure;
use crate::invoke;
use crate::settings::Stacks;
use crate::show::{self, Out};
use crate::Finished;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub region: String,
    pub snapshot_id: String,
    pub snapshot_arn: String,
    pub database: String,
    pub database_kind: DatabaseKind,
    /// The region the DB lived in, where the original was taken.
    pub source_region: Option<String>,
    pub recovery_point_time: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
    pub status: String,
    /// For an original: its copies in the other regions listed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<CopyIn>,
    /// For a copy: the region it was copied from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<String>,
    /// What the retention policy decides for it (prune's dry run), when
    /// known.
    pub retention: Option<Outcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyIn {
    pub region: String,
    pub snapshot_id: String,
    pub status: String,
}

pub async fn run(
    out: &Out,
    stacks: &Stacks,
    regions: &[String],
    args: &SnapshotsArgs,
) -> Result<Finished, Failure> {
    let regions = stacks.regions(regions)?;
    // Listing goes through the stack's clients, each call to its region.
    let ctx = stacks.home_in(&regions)?;
    let listings = join_all(regions.iter().map(|region| {
        let rds = ctx.clients.rds_in(region);
        async move { rds::describe_manual_snapshots(&rds).await }
    }))
    .await;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (region, listed) in regions.iter().zip(listings) {
        match listed {
            Ok(snapshots) => found.push((region.clone(), snapshots)),
            Err(e) => errors.push(format!("{region}: the snapshots could not be listed: {e}")),
        }
    }
    // Prune decides from the stack's region; without it, retention is not
    // asked, so that nothing but the regions named is called.
    let (retention, retention_error) = if regions.contains(&stacks.home) {
        match lifeboat_prune::handle(&ctx, invoke::event(json!({"dry_run": true}))).await {
            Ok(summary) => (decisions(&summary), None),
            Err(e) => (
                BTreeMap::new(),
                Some(Failure::from(e).message().to_string()),
            ),
        }
    } else {
        (
            BTreeMap::new(),
            Some(format!(
                "prune decides from the stack's region, {}: name it with --region too",
                stacks.home
            )),
        )
    };
    let policy = ctx.config.retention.map(policy_text);
    let dr_policy = ctx.config.dr_retention.map(policy_text);
    let rows = rows(&args.database, &found, &retention, Utc::now());

    let doc = json!({
        "database": args.database,
        "regions": regions,
        "snapshots": rows,
        "retention_policy": policy,
        "dr_retention_policy": dr_policy,
        "retention_error": retention_error,
        "errors": errors,
    });
    if !out.is_json() {
        print(out, &args.database, &regions, &rows);
        match (&retention_error, &policy) {
            (Some(error), _) => out.line(format!("Retention not known: {error}")),
            (None, Some(policy)) => out.line(format!(
                "Retention: what prune decides now under {policy}{}; nothing was deleted.",
                dr_policy
                    .as_ref()
                    .map(|p| format!(" ({p} in the DR regions)"))
                    .unwrap_or_default()
            )),
            (None, None) => {}
        }
    }
    Ok(out.finish(doc, &errors, "not every region could be listed"))
}

/// A policy as it is written: its rules that keep something.
fn policy_text(policy: Policy) -> String {
    policy
        .to_string()
        .split(',')
        .filter(|rule| !rule.ends_with("=0"))
        .collect::<Vec<_>>()
        .join(",")
}

/// What prune's dry run decided, by region and snapshot.
fn decisions(summary: &Summary) -> BTreeMap<(String, String), Outcome> {
    summary
        .outcomes
        .iter()
        .filter_map(|e| {
            Some((
                (e.region.clone()?, e.snapshot_id.clone()?),
                e.outcome.clone(),
            ))
        })
        .collect()
}

/// One row per snapshot of `database`, newest recovery point first, each
/// original with its copies, each with its retention decision.
pub fn rows(
    database: &str,
    found: &[(String, Vec<Snapshot>)],
    retention: &BTreeMap<(String, String), Outcome>,
    now: DateTime<Utc>,
) -> Vec<Row> {
    let ours: Vec<(usize, &str, &Snapshot)> = found
        .iter()
        .enumerate()
        .flat_map(|(order, (region, snapshots))| {
            snapshots
                .iter()
                .filter(|s| s.is_managed() && s.source_db().eq_ignore_ascii_case(database))
                .map(move |s| (order, region.as_str(), s))
        })
        .collect();
    let mut rows: Vec<(usize, Row)> = ours
        .iter()
        .map(|(order, region, s)| {
            let original = s.source_region() == Some(*region);
            let copies = ours
                .iter()
                .filter(|(_, r, c)| {
                    original
                        && r != region
                        && c.series() == s.series()
                        && c.recovery_point() == s.recovery_point()
                })
                .map(|(_, r, c)| CopyIn {
                    region: r.to_string(),
                    snapshot_id: c.id.clone(),
                    status: c.status.clone(),
                })
                .collect();
            let recovery_point_time = s.recovery_point();
            let row = Row {
                region: region.to_string(),
                snapshot_id: s.id.clone(),
                snapshot_arn: s.arn.clone(),
                database: s.source_db().to_string(),
                database_kind: s.kind,
                source_region: s.source_region().map(str::to_string),
                recovery_point_time,
                age_seconds: recovery_point_time.map(|t| (now - t).num_seconds()),
                status: s.status.clone(),
                copies,
                copy_of: (!original)
                    .then(|| s.source_region().map(str::to_string))
                    .flatten(),
                retention: retention.get(&(region.to_string(), s.id.clone())).cloned(),
            };
            (*order, row)
        })
        .collect();
    rows.sort_by(|(a_order, a), (b_order, b)| {
        b.recovery_point_time
            .cmp(&a.recovery_point_time)
            .then(a_order.cmp(b_order))
            .then(a.snapshot_id.cmp(&b.snapshot_id))
    });
    rows.into_iter().map(|(_, row)| row).collect()
}

/// What retention decides, as a person reads it, and whether it keeps it.
pub fn retention_text(outcome: Option<&Outcome>) -> (String, bool) {
    match outcome {
        Some(Outcome::Kept { reason }) => (format!("kept: {reason}"), true),
        Some(Outcome::WouldDelete) => ("would be deleted".to_string(), false),
        Some(Outcome::Failed { error }) => (format!("failed: {error}"), false),
        Some(other) => (other.name().to_string(), true),
        None => ("-".to_string(), true),
    }
}

fn print(out: &Out, database: &str, regions: &[String], rows: &[Row]) {
    if rows.is_empty() {
        out.line(format!(
            "No Lifeboat snapshot of {database} in {}.",
            regions.join(", ")
        ));
        return;
    }
    let series: BTreeSet<(Option<&str>, DatabaseKind)> = rows
        .iter()
        .map(|r| (r.source_region.as_deref(), r.database_kind))
        .collect();
    let mut header = vec![
        "REGION",
        "SNAPSHOT",
        "RECOVERY POINT",
        "AGE",
        "STATE",
        "COPIES",
        "RETENTION",
    ];
    if series.len() > 1 {
        header.insert(2, "DB");
    }
    let mut table = out.table(&header);
    for row in rows {
        let copies = match &row.copy_of {
            Some(from) => format!("copy of {from}"),
            None => row
                .copies
                .iter()
                .map(|c| match c.status.as_str() {
                    "available" => c.region.clone(),
                    status => format!("{} ({status})", c.region),
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        let (retention, kept) = retention_text(row.retention.as_ref());
        let mut cells = vec![
            Cell::new(&row.region),
            Cell::new(&row.snapshot_id),
            Cell::new(row.recovery_point_time.map(show::time).unwrap_or_default()),
            Cell::new(row.age_seconds.map(show::age).unwrap_or_default()),
            out.verdict_cell(&row.status, row.status == "available"),
            Cell::new(copies),
            out.verdict_cell(&retention, kept),
        ];
        if series.len() > 1 {
            let of = format!(
                "{} of {}",
                row.database_kind.as_str(),
                row.source_region.as_deref().unwrap_or("?")
            );
            cells.insert(2, Cell::new(of));
        }
        table.add_row(cells);
    }
    out.line(format!(
        "Snapshots of {database} in {}:",
        regions.join(", ")
    ));
    out.print_table(&table);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;
    use lifeboat::domain::model::Carried;

    fn snapshot(id: &str, db: &str, source: &str, at: &str, status: &str) -> Snapshot {
        let tags = [
            ("lifeboat:managed", "true"),
            ("lifeboat:source-db", db),
            ("lifeboat:source-region", source),
            ("lifeboat:created-at", at),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Snapshot {
            id: id.to_string(),
            arn: format!("arn:aws:rds:x:1:snapshot:{id}"),
            kind: DatabaseKind::Instance,
            database: db.to_string(),
            status: status.to_string(),
            engine: "postgres".to_string(),
            encrypted: false,
            kms_key_id: None,
            option_group: None,
            tags,
            created_at: None,
            copied_from: None,
            carried: Carried::default(),
        }
    }

    #[test]
    fn a_policy_reads_as_written() {
        let policy = Policy::parse("daily=7,last=3").unwrap();
        assert_eq!(policy_text(policy), "last=3,daily=7");
    }

    #[test]
    fn originals_carry_their_copies_and_retention() {
        let old = "lifeboat-orders-20261123-0400";
        let new = "lifeboat-orders-20261124-0400";
        let found = vec![
            (
                "us-east-1".to_string(),
                vec![
                    snapshot(
                        old,
                        "orders",
                        "us-east-1",
                        "2026-11-23T04:00:00Z",
                        "available",
                    ),
                    snapshot(
                        new,
                        "orders",
                        "us-east-1",
                        "2026-11-24T04:00:00Z",
                        "available",
                    ),
                    snapshot(
                        "lifeboat-ledger-20261124-0400",
                        "ledger",
                        "us-east-1",
                        "2026-11-24T04:00:00Z",
                        "available",
                    ),
                ],
            ),
            (
                "us-west-2".to_string(),
                vec![snapshot(
                    new,
                    "orders",
                    "us-east-1",
                    "2026-11-24T04:00:00Z",
                    "copying",
                )],
            ),
        ];
        let retention = BTreeMap::from([
            (
                ("us-east-1".to_string(), new.to_string()),
                Outcome::Kept {
                    reason: "daily 2026-11-24, last 1".into(),
                },
            ),
            (
                ("us-east-1".to_string(), old.to_string()),
                Outcome::WouldDelete,
            ),
        ]);
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap();
        let rows = rows("orders", &found, &retention, now);
        let ids: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.region.as_str(), r.snapshot_id.as_str()))
            .collect();
        assert_eq!(
            ids,
            [("us-east-1", new), ("us-west-2", new), ("us-east-1", old)],
            "newest first, the stack's region first"
        );
        assert_eq!(rows[0].copies.len(), 1);
        assert_eq!(rows[0].copies[0].region, "us-west-2");
        assert_eq!(rows[0].copies[0].status, "copying");
        assert_eq!(rows[0].age_seconds, Some(7_200));
        assert_eq!(rows[1].copy_of.as_deref(), Some("us-east-1"));
        assert!(rows[1].copies.is_empty());
        assert_eq!(
            retention_text(rows[0].retention.as_ref()),
            ("kept: daily 2026-11-24, last 1".to_string(), true)
        );
        assert_eq!(
            retention_text(rows[2].retention.as_ref()),
            ("would be deleted".to_string(), false)
        );
        assert_eq!(retention_text(rows[1].retention.as_ref()).0, "-");
        let json = serde_json::to_value(&rows[2]).unwrap();
        assert_eq!(json["retention"]["outcome"], "would_delete");
    }
}
