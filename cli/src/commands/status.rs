//! `lifeboat status`: the monitor function, asked in each region named,
//! each as the stack in that region asks it: the stack's region for its
//! own DBs (and the DR regions named with it), a DR region as its recovery
//! stack, from that region alone. So it answers with the source region
//! down when only DR regions are named.

use std::collections::BTreeSet;

use comfy_table::Cell;
use futures_util::future::join_all;
use lifeboat::domain::outcome::{Entry, Outcome, RecoveryPointStatus};
use lifeboat::domain::record::Verdict;
use serde::Serialize;
use serde_json::json;

use crate::failure::Failure;
use crate::invoke;
use crate::settings::Stacks;
use crate::show::{self, Out};
use crate::Finished;

/// One DB in one region, as the monitor asked in `answered_in` found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub entry: Entry,
    pub answered_in: String,
}

pub async fn run(out: &Out, stacks: &Stacks, named: &[String]) -> Result<Finished, Failure> {
    let regions = stacks.regions(named)?;
    let mut contexts = Vec::new();
    for region in &regions {
        let ctx = if *region == stacks.home {
            stacks.home_in(&regions)?
        } else {
            stacks.context(region)?
        };
        contexts.push((region.clone(), ctx));
    }
    let answers = join_all(contexts.iter().map(|(region, ctx)| async move {
        let answer = lifeboat_monitor::handle(ctx, invoke::event(json!({}))).await;
        (region.clone(), answer)
    }))
    .await;

    let mut messages = Vec::new();
    let mut errors = Vec::new();
    let mut answered = Vec::new();
    for (region, answer) in answers {
        match answer {
            Ok(summary) => {
                if let Some(message) = &summary.message {
                    messages.push((region.clone(), message.clone()));
                }
                answered.push((region, summary.outcomes));
            }
            Err(e) => errors.push(format!(
                "{region}: the monitor could not answer: {}",
                Failure::from(e).message()
            )),
        }
    }
    let rows = rows(&regions, &stacks.home, answered);
    let breached = rows
        .iter()
        .filter(|r| matches!(r.entry.outcome, Outcome::Breached { .. }))
        .count();

    let doc = json!({
        "regions": regions,
        "databases": rows,
        "counts": {"ok": rows.len() - breached, "breached": breached},
        "messages": messages
            .iter()
            .map(|(region, message)| (region.clone(), json!(message)))
            .collect::<serde_json::Map<_, _>>(),
        "errors": errors,
    });
    if !out.is_json() {
        print(out, &rows);
        for (region, message) in &messages {
            out.line(format!("{region}: {message}"));
        }
    }
    Ok(out.finish(doc, &errors, "not every region answered"))
}

/// One row per DB and region: the answer of the monitor asked in that
/// region; the stack's region's answer for a DR region that did not
/// answer for that DB (never copied there, or the region did not answer).
pub fn rows(regions: &[String], home: &str, answered: Vec<(String, Vec<Entry>)>) -> Vec<Row> {
    let key = |e: &Entry| (e.database.clone(), e.database_kind, e.region.clone());
    let mut rows = Vec::new();
    let mut from_home = Vec::new();
    for (region, entries) in answered {
        for entry in entries {
            if entry.region.as_deref() == Some(region.as_str()) {
                rows.push(Row {
                    entry,
                    answered_in: region.clone(),
                });
            } else if region == home {
                from_home.push(entry);
            }
        }
    }
    let covered: BTreeSet<_> = rows.iter().map(|r| key(&r.entry)).collect();
    rows.extend(
        from_home
            .into_iter()
            .filter(|e| !covered.contains(&key(e)))
            .map(|entry| Row {
                entry,
                answered_in: home.to_string(),
            }),
    );
    let order = |r: &Row| {
        regions
            .iter()
            .position(|x| Some(x.as_str()) == r.entry.region.as_deref())
            .unwrap_or(usize::MAX)
    };
    rows.sort_by(|a, b| {
        (&a.entry.database, a.entry.database_kind, order(a)).cmp(&(
            &b.entry.database,
            b.entry.database_kind,
            order(b),
        ))
    });
    rows
}

fn point(outcome: &Outcome) -> Option<&RecoveryPointStatus> {
    match outcome {
        Outcome::ObjectiveMet { point } | Outcome::Breached { point, .. } => Some(point),
        _ => None,
    }
}

fn print(out: &Out, rows: &[Row]) {
    if rows.is_empty() {
        out.line("No protected DB found.");
        return;
    }
    let mut table = out.table(&[
        "DB",
        "KIND",
        "REGION",
        "NEWEST SNAPSHOT",
        "AGE",
        "OBJECTIVE",
        "STATUS",
        "LAST DRILL",
        "DRILL RTO",
    ]);
    for row in rows {
        let e = &row.entry;
        let point = point(&e.outcome);
        let status = match &e.outcome {
            Outcome::ObjectiveMet { .. } => out.verdict_cell("ok", true),
            Outcome::Breached { .. } => out.verdict_cell("BREACHED", false),
            other => Cell::new(other.name()),
        };
        let drill = point.and_then(|p| p.last_drill.as_ref());
        let drill_cell = match drill {
            Some(d) => out.verdict_cell(
                &format!("{} {}", d.verdict.as_str(), d.started_at.format("%Y-%m-%d")),
                d.verdict == Verdict::Passed,
            ),
            None => Cell::new("-"),
        };
        table.add_row(vec![
            Cell::new(&e.database),
            Cell::new(e.database_kind.map(|k| k.as_str()).unwrap_or("")),
            Cell::new(e.region.as_deref().unwrap_or("")),
            Cell::new(e.snapshot_id.as_deref().unwrap_or("none")),
            Cell::new(
                point
                    .and_then(|p| p.age_seconds)
                    .map(show::age)
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::new(
                point
                    .map(|p| show::objective(p.objective_seconds))
                    .unwrap_or_default(),
            ),
            status,
            drill_cell,
            Cell::new(
                drill
                    .and_then(|d| d.recovery_time_seconds)
                    .map(show::duration)
                    .unwrap_or_else(|| "-".into()),
            ),
        ]);
    }
    out.print_table(&table);
    for row in rows {
        if let Outcome::Breached { reason, .. } = &row.entry.outcome {
            out.line(format!(
                "{} {} in {}: {reason}",
                out.bad("BREACHED"),
                row.entry.database,
                row.entry.region.as_deref().unwrap_or("")
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use lifeboat::domain::model::DatabaseKind;

    fn entry(db: &str, region: &str, breached: bool) -> Entry {
        let point = Box::new(RecoveryPointStatus {
            recovery_point_time: None,
            age_seconds: None,
            objective_seconds: 93_600,
            last_drill: None,
        });
        let outcome = if breached {
            Outcome::Breached {
                reason: format!("no recovery point in {region}"),
                point,
            }
        } else {
            Outcome::ObjectiveMet { point }
        };
        Entry::new(db, outcome)
            .kind(DatabaseKind::Instance)
            .region(region)
    }

    #[test]
    fn each_region_answers_for_itself_and_the_stack_fills_what_it_lacks() {
        let regions = ["us-east-1".to_string(), "us-west-2".to_string()];
        let home = vec![
            entry("orders", "us-east-1", false),
            entry("orders", "us-west-2", true),
            entry("inventory", "us-east-1", true),
            entry("inventory", "us-west-2", true),
        ];
        let west = vec![entry("orders", "us-west-2", false)];
        let rows = rows(
            &regions,
            "us-east-1",
            vec![
                ("us-west-2".to_string(), west),
                ("us-east-1".to_string(), home),
            ],
        );
        let got: Vec<(&str, &str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.entry.database.as_str(),
                    r.entry.region.as_deref().unwrap(),
                    r.entry.outcome.name(),
                    r.answered_in.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("inventory", "us-east-1", "breached", "us-east-1"),
                ("inventory", "us-west-2", "breached", "us-east-1"),
                ("orders", "us-east-1", "ok", "us-east-1"),
                ("orders", "us-west-2", "ok", "us-west-2"),
            ]
        );
        let json = serde_json::to_value(&rows[3]).unwrap();
        assert_eq!(json["outcome"], "ok");
        assert_eq!(json["objective_seconds"], 93_600);
        assert_eq!(json["answered_in"], "us-west-2");
    }
}
