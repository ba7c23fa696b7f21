//! What an invocation did: one outcome per DB or snapshot, and the summary
//! every function returns.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::model::DatabaseKind;
use crate::domain::record::Verdict;
use crate::domain::trigger::Trigger;
use crate::error::Error;

/// What happened to one DB or snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Exists,
    /// A snapshot taken earlier whose catalog record was missing (the
    /// catalog was unreachable when it was taken): recorded now.
    Recorded {
        reason: String,
    },
    Copied,
    Deferred {
        reason: String,
    },
    Deleted,
    /// A dry run's "deleted".
    WouldDelete,
    Kept {
        reason: String,
    },
    Skipped {
        reason: String,
    },
    Failed {
        error: String,
    },
    /// The monitor: the DB's newest recovery point in the region meets the
    /// objective.
    #[serde(rename = "ok")]
    ObjectiveMet {
        #[serde(flatten)]
        point: Box<RecoveryPointStatus>,
    },
    /// The monitor: it does not, or there is none, or drills say recovery
    /// is unproven.
    Breached {
        reason: String,
        #[serde(flatten)]
        point: Box<RecoveryPointStatus>,
    },
}

/// A DB's recovery point in one region, as the monitor found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryPointStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_point_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<i64>,
    pub objective_seconds: i64,
    /// The newest drill of the DB in the region, where drills run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<LastDrill>,
}

/// What the newest drill record says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastDrill {
    pub verdict: Verdict,
    pub started_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_point_age_seconds: Option<i64>,
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Exists => "exists",
            Outcome::Recorded { .. } => "recorded",
            Outcome::Copied => "copied",
            Outcome::Deferred { .. } => "deferred",
            Outcome::Deleted => "deleted",
            Outcome::WouldDelete => "would_delete",
            Outcome::Kept { .. } => "kept",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Failed { .. } => "failed",
            Outcome::ObjectiveMet { .. } => "ok",
            Outcome::Breached { .. } => "breached",
        }
    }

    pub fn failed(err: &Error) -> Self {
        Outcome::Failed {
            error: err.to_string(),
        }
    }
}

/// One line of a summary: the subject (a DB or snapshot) and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub database: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_kind: Option<DatabaseKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Entry {
    pub fn new(database: impl Into<String>, outcome: Outcome) -> Self {
        Entry {
            database: database.into(),
            database_kind: None,
            region: None,
            snapshot_id: None,
            outcome,
        }
    }

    pub fn kind(mut self, kind: DatabaseKind) -> Self {
        self.database_kind = Some(kind);
        self
    }

    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    pub fn snapshot(mut self, snapshot_id: impl Into<String>) -> Self {
        self.snapshot_id = Some(snapshot_id.into());
        self
    }
}

/// The JSON every invocation returns (and logs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub function: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub counts: BTreeMap<&'static str, usize>,
    pub outcomes: Vec<Entry>,
    /// Problems that are not one DB's, such as events that could not be
    /// published. They fail the invocation like a failed DB does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The run this invocation is part of (snapshot, copy's reconcile,
    /// prune: `domain::run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunReport>,
    /// For an invocation by the runs state machine: the event of the run's
    /// next invocation, or null when the run is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation: Option<serde_json::Value>,
}

/// A run's part in one invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub id: String,
    /// This invocation's place in the run, from 1.
    pub batch: u32,
    /// The catalog record it wrote: the run's (on its last invocation), or
    /// this batch's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Where the next invocation starts: after this item. None: the run is
    /// done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_after: Option<String>,
    /// The Step Functions execution the rest was handed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
}

impl Summary {
    pub fn new(function: &'static str, trigger: Option<Trigger>, mut outcomes: Vec<Entry>) -> Self {
        outcomes.sort_by(|a, b| {
            (&a.database, &a.region, &a.snapshot_id).cmp(&(&b.database, &b.region, &b.snapshot_id))
        });
        let mut counts = BTreeMap::new();
        for entry in &outcomes {
            *counts.entry(entry.outcome.name()).or_insert(0) += 1;
        }
        Summary {
            function,
            trigger,
            message: None,
            counts,
            outcomes,
            errors: Vec::new(),
            run: None,
            continuation: None,
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// One log line per outcome, then the whole summary as JSON.
    pub fn log(&self) {
        for e in &self.outcomes {
            let detail = match &e.outcome {
                Outcome::Deferred { reason }
                | Outcome::Recorded { reason }
                | Outcome::Kept { reason }
                | Outcome::Skipped { reason }
                | Outcome::Breached { reason, .. } => reason.as_str(),
                Outcome::Failed { error } => error.as_str(),
                _ => "",
            };
            tracing::info!(
                database = %e.database,
                snapshot_id = e.snapshot_id.as_deref().unwrap_or(""),
                region = e.region.as_deref().unwrap_or(""),
                outcome = e.outcome.name(),
                detail,
                "outcome"
            );
        }
        if let Some(message) = &self.message {
            tracing::info!("{message}");
        }
        for error in &self.errors {
            tracing::error!(error = %error, "invocation-wide error");
        }
        tracing::info!(summary = %serde_json::to_string(self).unwrap_or_default(), "done");
    }

    pub fn failures(&self) -> impl Iterator<Item = &Entry> {
        self.outcomes
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::Failed { .. }))
    }

    /// The summary, or, if anything failed, an error listing every failure.
    /// Called after all the work is done, so one failure never stops the rest.
    pub fn into_result(self) -> Result<Self, Error> {
        let mut details: Vec<String> = self
            .failures()
            .map(|e| {
                let what = match (&e.snapshot_id, &e.region) {
                    (Some(id), Some(region)) => format!("{} ({id} in {region})", e.database),
                    (Some(id), None) => format!("{} ({id})", e.database),
                    _ => e.database.clone(),
                };
                match &e.outcome {
                    Outcome::Failed { error } => format!("{what}: {error}"),
                    _ => what,
                }
            })
            .collect();
        details.extend(self.errors.iter().cloned());
        if details.is_empty() {
            Ok(self)
        } else {
            Err(Error::PartialFailure {
                failed: details.len(),
                total: self.outcomes.len() + self.errors.len(),
                details: details.join("; "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_and_serialises_flat() {
        let summary = Summary::new(
            "snapshot",
            None,
            vec![
                Entry::new("orders", Outcome::Created)
                    .kind(DatabaseKind::Instance)
                    .snapshot("lifeboat-orders-20261124-0400"),
                Entry::new(
                    "analytics",
                    Outcome::Skipped {
                        reason: "not selected".into(),
                    },
                ),
            ],
        );
        assert_eq!(summary.counts["created"], 1);
        assert_eq!(summary.counts["skipped"], 1);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["outcomes"][0]["database"], "analytics");
        assert_eq!(json["outcomes"][1]["outcome"], "created");
        assert_eq!(json["outcomes"][1]["database_kind"], "instance");
        assert!(summary.into_result().is_ok());
    }

    #[test]
    fn the_monitors_outcomes_serialise_flat_and_never_fail_the_invocation() {
        let point = RecoveryPointStatus {
            recovery_point_time: None,
            age_seconds: None,
            objective_seconds: 93_600,
            last_drill: None,
        };
        let summary = Summary::new(
            "monitor",
            None,
            vec![Entry::new(
                "orders",
                Outcome::Breached {
                    reason: "no recovery point".into(),
                    point: Box::new(point),
                },
            )
            .region("us-west-2")],
        );
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["outcomes"][0]["outcome"], "breached");
        assert_eq!(json["outcomes"][0]["objective_seconds"], 93_600);
        assert_eq!(json["counts"]["breached"], 1);
        assert!(summary.into_result().is_ok());
    }

    #[test]
    fn any_failure_makes_the_invocation_an_error_naming_it() {
        let summary = Summary::new(
            "snapshot",
            None,
            vec![
                Entry::new("orders", Outcome::Created),
                Entry::new(
                    "ledger",
                    Outcome::Failed {
                        error: "boom".into(),
                    },
                ),
            ],
        );
        let err = summary.into_result().unwrap_err();
        assert_eq!(err.kind(), "PartialFailure");
        let text = err.to_string();
        assert!(text.contains("1 of 2 failed"), "{text}");
        assert!(text.contains("ledger: boom"), "{text}");
    }

    #[test]
    fn an_invocation_wide_error_fails_it_too() {
        let mut summary = Summary::new(
            "snapshot",
            None,
            vec![Entry::new("orders", Outcome::Created)],
        );
        summary.errors.push("events: PutEvents failed".into());
        assert!(summary
            .into_result()
            .unwrap_err()
            .to_string()
            .contains("PutEvents"));
    }
}
