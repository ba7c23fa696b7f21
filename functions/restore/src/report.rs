//! What `lifeboat-restore` returns: a restore's plan and start, or a
//! restore's progress. Typed, so each field is said once.

use chrono::{DateTime, Utc};
use lifeboat::aws::rds::restore::{InstanceProgress, Progress};
use lifeboat::domain::model::{DatabaseKind, Snapshot};
use lifeboat::domain::record::RestoreRecord;
use lifeboat::domain::restore_plan::{Calls, Missing, Plan, DEADLINE_MARGIN};
use lifeboat::lambda::invocation;
use lifeboat::Error;
use serde::Serialize;

use crate::event::RestoreRequest;
use crate::FUNCTION;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Report {
    Restore(Box<RestoreReport>),
    Status(Box<StatusReport>),
}

impl invocation::Report for Report {
    fn log(&self) {
        tracing::info!(report = %serde_json::to_string(self).unwrap_or_default(), "done");
    }

    /// A restore that was refused or failed is an error already; problems
    /// after it was recorded (an event that did not go out) are reported in
    /// `errors`, and the restore goes on. A restore that stopped short of
    /// the Lambda deadline is an error too, so that Lambda's retry, the
    /// state machine and the error alarm see it, and says what to do: the
    /// same request again resumes it.
    fn into_result(self) -> Result<Self, Error> {
        match &self {
            Report::Restore(r) if r.status == RestoreStatus::Incomplete => {
                Err(Error::RestoreIncomplete(r.incomplete_message()))
            }
            _ => Ok(self),
        }
    }
}

/// Where a restore request got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RestoreStatus {
    /// Planned, not yet recorded or started.
    #[serde(rename = "planned")]
    Planned,
    #[serde(rename = "dry run: nothing created")]
    DryRun,
    /// Recorded, and every create call accepted by RDS (now or by an
    /// earlier attempt): the DB is on its way.
    #[serde(rename = "started")]
    Started,
    /// Recorded, and stopped before a create call because the invocation
    /// was about to time out: `made` exists, `left` does not yet; the same
    /// request again resumes it.
    #[serde(rename = "incomplete")]
    Incomplete,
}

/// The snapshot a restore starts from, and how old its data is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChosenSnapshot {
    pub id: String,
    pub arn: String,
    pub recovery_point_time: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
    pub age: String,
}

impl ChosenSnapshot {
    pub fn new(snapshot: &Snapshot, now: DateTime<Utc>) -> Self {
        let recovery_point_time = snapshot.recovery_point();
        let (age_seconds, age) = age(now, recovery_point_time);
        ChosenSnapshot {
            id: snapshot.id.clone(),
            arn: snapshot.arn.clone(),
            recovery_point_time,
            age_seconds,
            age,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreReport {
    pub function: &'static str,
    pub action: &'static str,
    pub dry_run: bool,
    pub database: String,
    pub database_kind: DatabaseKind,
    pub region: String,
    pub target: String,
    pub snapshot: ChosenSnapshot,
    /// The exact API parameters.
    pub plan: Calls,
    /// What the region lacks, each with the override that gives it.
    pub missing: Vec<Missing>,
    /// What the plan decided that a person should know.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Set when the snapshot's catalog record could not be used: why, and
    /// so the plan was rebuilt from the snapshot alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// DBs that already have an identifier the restore would create and
    /// are not this restore's.
    pub target_taken: Vec<String>,
    /// The restore's identity, tagged `lifeboat:restore-id` on every DB it
    /// creates; an earlier attempt's when this start resumes it.
    pub restore_id: String,
    pub requested_at: DateTime<Utc>,
    pub status: RestoreStatus,
    /// For an incomplete restore: what exists of it, and what does not yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub made: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_key: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl RestoreReport {
    pub fn planned(
        request: &RestoreRequest,
        region: &str,
        dry_run: bool,
        snapshot: &Snapshot,
        plan: &Plan,
        restore_id: &str,
        requested_at: DateTime<Utc>,
    ) -> Self {
        RestoreReport {
            function: FUNCTION,
            action: "restore",
            dry_run,
            database: request.database.clone(),
            database_kind: snapshot.kind,
            region: region.to_string(),
            target: request.target.clone(),
            snapshot: ChosenSnapshot::new(snapshot, requested_at),
            plan: plan.calls.clone(),
            missing: plan.missing.clone(),
            notes: plan.notes.clone(),
            record: None,
            target_taken: Vec::new(),
            restore_id: restore_id.to_string(),
            requested_at,
            status: if dry_run {
                RestoreStatus::DryRun
            } else {
                RestoreStatus::Planned
            },
            made: Vec::new(),
            left: Vec::new(),
            started_at: None,
            catalog_key: None,
            errors: Vec::new(),
        }
    }

    /// Started: the restore recorded at `catalog_key` (now, or by the
    /// earlier attempt this start continues).
    pub fn started(&mut self, catalog_key: &str, started: &RestoreRecord) {
        self.status = RestoreStatus::Started;
        self.requested_at = started.requested_at;
        self.started_at = Some(started.started_at);
        self.catalog_key = Some(catalog_key.to_string());
    }

    /// What an incomplete restore's error says: what is there, what is
    /// not, and how to finish it.
    pub fn incomplete_message(&self) -> String {
        format!(
            "incomplete: stopped before the Lambda deadline, with less than the {}s a create call and its rollback need left; made: {}; not created yet: {}; send the same request again to resume restore {} (it creates only what is missing)",
            DEADLINE_MARGIN.num_seconds(),
            if self.made.is_empty() {
                "nothing".to_string()
            } else {
                self.made.join(", ")
            },
            self.left.join(", "),
            self.restore_id
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub function: &'static str,
    pub action: &'static str,
    pub region: String,
    pub target: String,
    pub database_kind: DatabaseKind,
    pub status: String,
    pub instances: Vec<InstanceProgress>,
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// Members the recorded plan creates that the cluster does not have:
    /// a start that stopped short (it is not available until they are).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_created: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl StatusReport {
    pub fn of(region: &str, target: &str, progress: Progress) -> Self {
        StatusReport {
            function: FUNCTION,
            action: "status",
            region: region.to_string(),
            target: target.to_string(),
            database_kind: progress.database_kind,
            status: progress.status,
            instances: progress.instances,
            available: progress.available,
            note: None,
            not_created: Vec::new(),
            restore_id: None,
            database: None,
            snapshot_id: None,
            requested_at: None,
            elapsed_seconds: None,
            available_at: None,
            recovery_time_seconds: None,
            errors: Vec::new(),
        }
    }
}

/// How old the data is, in seconds and as a person reads it.
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ages_read_as_days_hours_minutes() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 5, 30, 0).unwrap();
        let then = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap();
        assert_eq!(age(now, Some(then)), (Some(178_200), "2d 1h 30m".into()));
        assert_eq!(
            age(now, Some(now - chrono::Duration::minutes(5))),
            (Some(300), "0h 5m".into())
        );
        assert_eq!(age(now, None), (None, "unknown".into()));
    }
}
