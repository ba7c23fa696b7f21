//! The events `lifeboat-copy` accepts, parsed into one `Request`.

use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use chrono::{DateTime, Utc};
use lifeboat::domain::identifier;
use lifeboat::domain::run::Run;
use lifeboat::domain::trigger::{self, Trigger, TriggerKind};
use lifeboat::lambda::payload::Payload;
use lifeboat::lambda::run;
use lifeboat::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const SCHEDULED_EVENT: &str = "Scheduled Event";
pub const DB_SNAPSHOT_EVENT: &str = "RDS DB Snapshot Event";
pub const DB_CLUSTER_SNAPSHOT_EVENT: &str = "RDS DB Cluster Snapshot Event";
/// "Manual snapshot created".
pub const MANUAL_SNAPSHOT_CREATED: &str = "RDS-EVENT-0042";
/// "Manual cluster snapshot created".
pub const MANUAL_CLUSTER_SNAPSHOT_CREATED: &str = "RDS-EVENT-0075";

const ACCEPTED: &str = "an \"RDS DB Snapshot Event\" (RDS-EVENT-0042), an \"RDS DB Cluster \
    Snapshot Event\" (RDS-EVENT-0075), a \"Scheduled Event\" or {} (reconcile), or \
    {\"snapshots\": [\"<identifier or ARN>\", ...]}";

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Copy these snapshots (identifiers or ARNs in the source region).
    /// `now` (the event's time, or the clock if earlier) is the time the
    /// DR retention policy is applied at, as prune applies it.
    Snapshots {
        trigger: Trigger,
        snapshots: Vec<String>,
        now: DateTime<Utc>,
    },
    /// Copy every available managed snapshot that lacks a copy somewhere.
    /// `run`: a later invocation of a reconcile run, where it carries on.
    Reconcile {
        trigger: Trigger,
        now: DateTime<Utc>,
        run: Option<Run>,
    },
    /// An RDS event that is not about a new manual snapshot.
    Nothing { trigger: Trigger, note: String },
}

/// What a reconcile run's later invocations get back of its request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Carried {
    pub trigger: Trigger,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualRequest {
    snapshots: Vec<String>,
}

/// The `detail` of an RDS event.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RdsEventDetail {
    #[serde(rename = "EventID")]
    event_id: String,
    source_identifier: String,
    #[serde(default)]
    source_arn: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// `now` is the clock: an event from more than five minutes ahead of it is
/// refused.
pub fn parse(payload: &Value, now: DateTime<Utc>) -> Result<Request, Error> {
    if let Some(next) = run::continuation::<Carried>(crate::FUNCTION, payload)? {
        return Ok(Request::Reconcile {
            trigger: next.request.trigger,
            now: next.request.now,
            run: Some(next.run),
        });
    }
    let payload = Payload::new(payload, ACCEPTED)?;
    if payload.is_empty() {
        return Ok(Request::Reconcile {
            trigger: Trigger::new(TriggerKind::Schedule),
            now,
            run: None,
        });
    }
    if let Some(detail_type) = payload.detail_type() {
        return match detail_type.as_str() {
            Some(SCHEDULED_EVENT) => {
                let event: CloudWatchEvent<Value> = payload.typed(SCHEDULED_EVENT)?;
                let time = trigger::event_time(event.time, now)?;
                Ok(Request::Reconcile {
                    trigger: Trigger {
                        event_id: event.id,
                        ..Trigger::new(TriggerKind::Schedule)
                    },
                    now: time.min(now),
                    run: None,
                })
            }
            Some(kind @ (DB_SNAPSHOT_EVENT | DB_CLUSTER_SNAPSHOT_EVENT)) => {
                let event: CloudWatchEvent<RdsEventDetail> = payload.typed(kind)?;
                let time = trigger::event_time(event.time, now)?;
                let detail = event
                    .detail
                    .ok_or_else(|| Error::InvalidEvent(format!("{kind} has no detail")))?;
                let trigger = Trigger {
                    event_id: event.id,
                    reason: detail.message.clone(),
                    ..Trigger::new(TriggerKind::RdsEvent)
                };
                if detail.event_id != MANUAL_SNAPSHOT_CREATED
                    && detail.event_id != MANUAL_CLUSTER_SNAPSHOT_CREATED
                {
                    return Ok(Request::Nothing {
                        trigger,
                        note: format!(
                            "{} about {} is not a manual snapshot being created: nothing to copy",
                            detail.event_id, detail.source_identifier
                        ),
                    });
                }
                let snapshot = detail.source_arn.unwrap_or(detail.source_identifier);
                Ok(Request::Snapshots {
                    trigger,
                    snapshots: vec![snapshot],
                    now: time.min(now),
                })
            }
            _ => Err(payload.unsupported_detail_type(detail_type)),
        };
    }
    if payload.has("snapshots") {
        let manual: ManualRequest = payload.typed("manual request")?;
        if manual.snapshots.is_empty() {
            return Err(Error::InvalidEvent(
                "\"snapshots\" is empty: name at least one snapshot".to_string(),
            ));
        }
        let mut snapshots: Vec<String> = Vec::new();
        for s in manual.snapshots {
            let s = if s.starts_with("arn:") {
                s
            } else {
                identifier::validate("snapshot", &s)?
            };
            if !snapshots.contains(&s) {
                snapshots.push(s);
            }
        }
        return Ok(Request::Snapshots {
            trigger: Trigger::new(TriggerKind::Manual),
            snapshots,
            now,
        });
    }
    Err(payload.unrecognised())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    use lifeboat::lambda::payload::sample_event as sample;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    #[test]
    fn an_event_from_the_future_is_refused() {
        let mut event = sample("copy-scheduled.json");
        event["time"] = json!("2026-11-26T12:06:00Z");
        let err = parse(&event, now()).unwrap_err().to_string();
        assert!(err.contains("ahead of the clock"), "{err}");
    }

    #[test]
    fn rds_snapshot_events_name_their_snapshot() {
        let Request::Snapshots {
            trigger, snapshots, ..
        } = parse(&sample("copy-db-snapshot-created.json"), now()).unwrap()
        else {
            panic!()
        };
        assert_eq!(trigger.kind, TriggerKind::RdsEvent);
        assert_eq!(snapshots.len(), 1);
        assert!(
            snapshots[0].contains(":snapshot:lifeboat-orders-"),
            "{snapshots:?}"
        );
        let Request::Snapshots { snapshots, .. } =
            parse(&sample("copy-db-cluster-snapshot-created.json"), now()).unwrap()
        else {
            panic!()
        };
        assert!(
            snapshots[0].contains(":cluster-snapshot:lifeboat-ledger-"),
            "{snapshots:?}"
        );
    }

    #[test]
    fn other_rds_events_do_nothing() {
        let mut event = sample("copy-db-snapshot-created.json");
        event["detail"]["EventID"] = json!("RDS-EVENT-0041");
        assert!(matches!(
            parse(&event, now()).unwrap(),
            Request::Nothing { .. }
        ));
    }

    #[test]
    fn now_is_the_event_time_or_the_clock_if_earlier() {
        let mut event = sample("copy-scheduled.json");
        event["time"] = json!("2026-11-19T12:00:00Z");
        let Request::Reconcile { now: at, .. } = parse(&event, now()).unwrap() else {
            panic!()
        };
        assert_eq!(at, Utc.with_ymd_and_hms(2026, 11, 19, 12, 0, 0).unwrap());
        event["time"] = json!("2026-11-26T12:04:00Z");
        let Request::Reconcile { now: at, .. } = parse(&event, now()).unwrap() else {
            panic!()
        };
        assert_eq!(at, now());
    }

    #[test]
    fn schedules_reconcile() {
        assert!(matches!(
            parse(&json!({}), now()).unwrap(),
            Request::Reconcile { .. }
        ));
        assert!(matches!(
            parse(&sample("copy-scheduled.json"), now()).unwrap(),
            Request::Reconcile { .. }
        ));
    }

    #[test]
    fn manual_requests_are_checked() {
        let Request::Snapshots { snapshots, .. } =
            parse(&sample("copy-manual.json"), now()).unwrap()
        else {
            panic!()
        };
        assert!(!snapshots.is_empty());
        for (payload, expected) in [
            (json!({"snapshots": []}), "is empty"),
            (
                json!({"snapshots": ["bad_id"]}),
                "invalid snapshot identifier",
            ),
            (
                json!({"snapshots": ["x"], "regions": ["us-west-2"]}),
                "unknown field `regions`",
            ),
            (json!({"snapshot": ["x"]}), "unrecognised event"),
        ] {
            let err = parse(&payload, now()).unwrap_err().to_string();
            assert!(err.contains(expected), "{payload}: {err}");
        }
    }
}
