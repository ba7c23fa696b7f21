//! `lifeboat snapshot`: the snapshot function's manual request, now.

use lifeboat::domain::outcome::{Entry, Outcome, Summary};
use serde_json::json;

use crate::args::SnapshotArgs;
use crate::failure::Failure;
use crate::invoke;
use crate::settings::{one_region, Stacks};
use crate::show::Out;

pub async fn run(
    out: &Out,
    stacks: &Stacks,
    regions: &[String],
    args: &SnapshotArgs,
) -> Result<(), Failure> {
    let region = one_region(stacks, regions, "snapshot")?;
    let ctx = stacks.context(&region)?;
    let request = json!({"databases": args.databases, "reason": args.reason});
    let summary = lifeboat_snapshot::handle(&ctx, invoke::event(request)).await?;
    if out.is_json() {
        out.json(&json!({"region": region, "summary": summary}));
        return Ok(());
    }
    out.line(format!("Snapshots in {region} ({}):", args.reason));
    print_outcomes(out, &summary);
    Ok(())
}

/// One row per DB: its outcome and the snapshot.
pub fn print_outcomes(out: &Out, summary: &Summary) {
    let mut table = out.table(&["DB", "KIND", "OUTCOME", "SNAPSHOT", "DETAIL"]);
    for entry in &summary.outcomes {
        table.add_row(row(out, entry));
    }
    out.print_table(&table);
    if let Some(message) = &summary.message {
        out.line(message);
    }
}

fn row(out: &Out, entry: &Entry) -> Vec<comfy_table::Cell> {
    let (good, detail) = match &entry.outcome {
        Outcome::Failed { error } => (false, error.as_str()),
        Outcome::Deferred { reason }
        | Outcome::Recorded { reason }
        | Outcome::Kept { reason }
        | Outcome::Skipped { reason } => (true, reason.as_str()),
        _ => (true, ""),
    };
    vec![
        comfy_table::Cell::new(&entry.database),
        comfy_table::Cell::new(entry.database_kind.map(|k| k.as_str()).unwrap_or("")),
        out.verdict_cell(entry.outcome.name(), good),
        comfy_table::Cell::new(entry.snapshot_id.as_deref().unwrap_or("")),
        comfy_table::Cell::new(detail),
    ]
}
