//! The events `lifeboat-snapshot` accepts, parsed into one `Request`.
//!
//! Each shape is recognised by what it must carry, then parsed strictly, so a
//! mistyped manual request is an error that says what is wrong, never a
//! fallback to "snapshot everything".

use aws_lambda_events::cloudwatch_alarms::{
    CloudWatchAlarm, CloudWatchAlarmData, CloudWatchAlarmStateValue,
};
use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use chrono::{DateTime, Utc};
use lifeboat::domain::identifier;
use lifeboat::domain::model::DatabaseKind;
use lifeboat::domain::run::Run;
use lifeboat::domain::selection::{DbRef, Scope};
use lifeboat::domain::trigger::{self, Trigger, TriggerKind};
use lifeboat::lambda::payload::Payload;
use lifeboat::lambda::run;
use lifeboat::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const SCHEDULED_EVENT: &str = "Scheduled Event";
pub const ALARM_STATE_CHANGE: &str = "CloudWatch Alarm State Change";

const ACCEPTED: &str = "a \"Scheduled Event\", {} from EventBridge Scheduler, a \
    \"CloudWatch Alarm State Change\" event, a CloudWatch alarm action payload \
    (alarmArn, alarmData), or {\"databases\": [...], \"reason\": \"...\"}";

/// What an event asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub trigger: Trigger,
    /// The recovery point time: the event's `time`, or now.
    pub recovery_point: DateTime<Utc>,
    /// True when the recovery point is the clock's (`{}`, a manual
    /// request): a retry of the request must find the recovery point its
    /// first attempt chose, by request id.
    pub from_clock: bool,
    /// `None`: nothing to do (an alarm that is not in ALARM), with `note`
    /// saying why.
    pub scope: Option<Scope>,
    pub note: Option<String>,
    /// A later invocation of a run (`{"continue": ...}` from the runs
    /// state machine): where it carries on.
    pub run: Option<Run>,
}

/// What a run's later invocations get back of the request its first one
/// parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Carried {
    pub trigger: Trigger,
    pub recovery_point: DateTime<Utc>,
    pub scope: Scope,
}

impl Request {
    /// The request as a run's next invocation gets it back; `None` for a
    /// request with nothing to do.
    pub fn carried(&self) -> Option<Carried> {
        Some(Carried {
            trigger: self.trigger.clone(),
            recovery_point: self.recovery_point,
            scope: self.scope.clone()?,
        })
    }
}

/// `{"databases": [...], "reason": "..."}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualRequest {
    databases: Vec<String>,
    #[serde(default)]
    reason: Option<String>,
}

type AlarmDetail = CloudWatchAlarmData<Value, Value>;

pub fn parse(payload: &Value, now: DateTime<Utc>) -> Result<Request, Error> {
    if let Some(next) = run::continuation::<Carried>(crate::FUNCTION, payload)? {
        return Ok(Request {
            trigger: next.request.trigger,
            recovery_point: next.request.recovery_point,
            from_clock: false,
            scope: Some(next.request.scope),
            note: None,
            run: Some(next.run),
        });
    }
    let payload = Payload::new(payload, ACCEPTED)?;
    if payload.is_empty() {
        return Ok(Request {
            from_clock: true,
            ..scheduled(None, now)
        });
    }
    if let Some(detail_type) = payload.detail_type() {
        return match detail_type.as_str() {
            Some(SCHEDULED_EVENT) => {
                let event: CloudWatchEvent<Value> = payload.typed(SCHEDULED_EVENT)?;
                Ok(scheduled(event.id, trigger::event_time(event.time, now)?))
            }
            Some(ALARM_STATE_CHANGE) => {
                let event: CloudWatchEvent<AlarmDetail> = payload.typed(ALARM_STATE_CHANGE)?;
                let detail = event
                    .detail
                    .ok_or_else(|| invalid(format!("{ALARM_STATE_CHANGE} event has no detail")))?;
                alarm(event.id, trigger::event_time(event.time, now)?, &detail)
            }
            _ => Err(payload.unsupported_detail_type(detail_type)),
        };
    }
    if payload.has("alarmData") {
        let alarm_event: CloudWatchAlarm<Value, Value> =
            payload.typed("CloudWatch alarm action")?;
        let time = trigger::event_time(alarm_event.time, now)?;
        return alarm(None, time, &alarm_event.alarm_data);
    }
    if payload.has("databases") {
        let manual: ManualRequest = payload.typed("manual request")?;
        return manual_request(manual, now);
    }
    Err(payload.unrecognised())
}

fn scheduled(event_id: Option<String>, time: DateTime<Utc>) -> Request {
    Request {
        trigger: Trigger {
            kind: TriggerKind::Schedule,
            event_id,
            alarm_name: None,
            reason: None,
        },
        recovery_point: time,
        from_clock: false,
        scope: Some(Scope::Selected),
        note: None,
        run: None,
    }
}

fn alarm(
    event_id: Option<String>,
    time: DateTime<Utc>,
    data: &AlarmDetail,
) -> Result<Request, Error> {
    let trigger = Trigger {
        kind: TriggerKind::Alarm,
        event_id,
        alarm_name: Some(data.alarm_name.clone()),
        reason: None,
    };
    let state = data.state.as_ref().map(|s| s.value.clone());
    if state != Some(CloudWatchAlarmStateValue::Alarm) {
        let state = match state {
            Some(CloudWatchAlarmStateValue::Ok) => "OK",
            Some(CloudWatchAlarmStateValue::InsufficientData) => "INSUFFICIENT_DATA",
            _ => "unknown",
        };
        return Ok(Request {
            trigger,
            recovery_point: time,
            from_clock: false,
            scope: None,
            note: Some(format!(
                "alarm {} is in state {state}, not ALARM: nothing to snapshot",
                data.alarm_name
            )),
            run: None,
        });
    }
    let refs = alarm_databases(&data.configuration)?;
    Ok(Request {
        trigger,
        recovery_point: time,
        from_clock: false,
        scope: Some(if refs.is_empty() {
            Scope::Selected
        } else {
            Scope::Named(refs)
        }),
        note: None,
        run: None,
    })
}

/// The DBs an alarm's metrics name through their `DBInstanceIdentifier` or
/// `DBClusterIdentifier` dimensions. Metric-math alarms can name several.
fn alarm_databases(configuration: &Value) -> Result<Vec<DbRef>, Error> {
    let mut refs: Vec<DbRef> = Vec::new();
    let metrics = configuration
        .get("metrics")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for metric in metrics {
        let dimensions = metric.pointer("/metricStat/metric/dimensions");
        for (dimension, kind) in [
            ("DBInstanceIdentifier", DatabaseKind::Instance),
            ("DBClusterIdentifier", DatabaseKind::Cluster),
        ] {
            if let Some(name) = dimensions
                .and_then(|d| d.get(dimension))
                .and_then(Value::as_str)
            {
                let identifier = identifier::validate(dimension, name)?;
                let r = DbRef {
                    identifier,
                    kind: Some(kind),
                };
                if !refs.contains(&r) {
                    refs.push(r);
                }
            }
        }
    }
    Ok(refs)
}

fn manual_request(manual: ManualRequest, now: DateTime<Utc>) -> Result<Request, Error> {
    if manual.databases.is_empty() {
        return Err(invalid(
            "\"databases\" is empty: name at least one DB instance or DB cluster".to_string(),
        ));
    }
    let mut refs: Vec<DbRef> = Vec::new();
    for name in &manual.databases {
        let r = DbRef {
            identifier: identifier::validate("database", name)?,
            kind: None,
        };
        if !refs.contains(&r) {
            refs.push(r);
        }
    }
    Ok(Request {
        trigger: Trigger {
            kind: TriggerKind::Manual,
            event_id: None,
            alarm_name: None,
            reason: manual.reason,
        },
        recovery_point: now,
        from_clock: true,
        scope: Some(Scope::Named(refs)),
        note: None,
        run: None,
    })
}

fn invalid(message: String) -> Error {
    Error::InvalidEvent(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    use lifeboat::lambda::payload::sample_event as sample;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    fn named(kind: Option<DatabaseKind>, ids: &[&str]) -> Option<Scope> {
        Some(Scope::Named(
            ids.iter()
                .map(|id| DbRef {
                    identifier: id.to_string(),
                    kind,
                })
                .collect(),
        ))
    }

    #[test]
    fn a_scheduled_event_covers_every_selected_db_at_its_time() {
        let request = parse(&sample("snapshot-scheduled.json"), now()).unwrap();
        assert_eq!(request.trigger.kind, TriggerKind::Schedule);
        assert!(request.trigger.event_id.is_some());
        assert_eq!(
            request.recovery_point,
            Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap()
        );
        assert_eq!(request.scope, Some(Scope::Selected));
    }

    #[test]
    fn an_empty_object_is_a_scheduler_run_now() {
        let request = parse(&sample("snapshot-scheduler.json"), now()).unwrap();
        assert_eq!(request.trigger.kind, TriggerKind::Schedule);
        assert_eq!(request.recovery_point, now());
        assert_eq!(request.scope, Some(Scope::Selected));
    }

    #[test]
    fn an_event_from_the_future_is_refused() {
        // A recovery point that has not happened would name a snapshot
        // wrongly; a few minutes of clock skew are tolerated as they are.
        for name in [
            "snapshot-scheduled.json",
            "snapshot-alarm.json",
            "snapshot-alarm-action.json",
        ] {
            let event = sample(name);
            let time: DateTime<Utc> = serde_json::from_value::<
                aws_lambda_events::cloudwatch_events::CloudWatchEvent,
            >(event.clone())
            .map(|e| e.time)
            .unwrap_or_else(|_| Utc.with_ymd_and_hms(2026, 11, 24, 4, 21, 0).unwrap());
            let skewed = parse(&event, time - chrono::Duration::minutes(4)).unwrap();
            assert_eq!(skewed.recovery_point, time, "{name}");
            let err = parse(&event, time - chrono::Duration::minutes(6)).unwrap_err();
            assert!(
                err.to_string().contains("ahead of the clock"),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn an_alarm_names_the_db_in_its_dimensions() {
        // Both shapes AWS delivers: the EventBridge state change and the
        // payload of an alarm action.
        let cases = [
            (
                "snapshot-alarm.json",
                "lifeboat-orders-cpu",
                17,
                DatabaseKind::Instance,
                "orders",
            ),
            (
                "snapshot-alarm-action.json",
                "lifeboat-ledger-freeable-memory",
                21,
                DatabaseKind::Cluster,
                "ledger",
            ),
        ];
        for (sample_name, alarm, minute, kind, db) in cases {
            let request = parse(&sample(sample_name), now()).unwrap();
            assert_eq!(request.trigger.kind, TriggerKind::Alarm, "{sample_name}");
            assert_eq!(request.trigger.alarm_name.as_deref(), Some(alarm));
            assert_eq!(
                request.recovery_point,
                Utc.with_ymd_and_hms(2026, 11, 24, 4, minute, 0).unwrap()
            );
            assert_eq!(request.scope, named(Some(kind), &[db]));
        }
    }

    #[test]
    fn an_alarm_without_db_dimensions_covers_every_selected_db() {
        let mut event = sample("snapshot-alarm.json");
        event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] =
            serde_json::json!({"EngineName": "postgres"});
        let request = parse(&event, now()).unwrap();
        assert_eq!(request.scope, Some(Scope::Selected));
    }

    #[test]
    fn an_alarm_naming_an_invalid_identifier_is_refused() {
        let mut event = sample("snapshot-alarm.json");
        event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] =
            serde_json::json!({"DBInstanceIdentifier": "bad_name"});
        let err = parse(&event, now()).unwrap_err().to_string();
        assert!(
            err.contains("DBInstanceIdentifier") && err.contains("bad_name"),
            "{err}"
        );
    }

    #[test]
    fn an_alarm_that_is_not_in_alarm_does_nothing() {
        let request = parse(&sample("snapshot-alarm-ok.json"), now()).unwrap();
        assert_eq!(request.scope, None);
        assert!(request.note.unwrap().contains("state OK"));
    }

    #[test]
    fn a_manual_request_names_dbs_once_each() {
        let request = parse(
            &serde_json::json!({"databases": ["orders", "Ledger", "orders"], "reason": "pre-migration"}),
            now(),
        )
        .unwrap();
        assert_eq!(request.trigger.kind, TriggerKind::Manual);
        assert_eq!(request.trigger.reason.as_deref(), Some("pre-migration"));
        assert_eq!(request.recovery_point, now());
        assert_eq!(request.scope, named(None, &["orders", "ledger"]));
        assert!(parse(&sample("snapshot-manual.json"), now()).is_ok());
    }

    #[test]
    fn anything_else_is_an_error_that_says_what_is_accepted() {
        for payload in [
            serde_json::json!(null),
            serde_json::json!("orders"),
            serde_json::json!({"database": "orders"}),
            serde_json::json!({"detail-type": "RDS DB Snapshot Event"}),
        ] {
            let err = parse(&payload, now()).unwrap_err();
            assert_eq!(err.kind(), "InvalidEvent");
            assert!(err.to_string().contains("accepted:"), "{err}");
        }
        let err = parse(
            &serde_json::json!({"detail-type": "Scheduled Event"}),
            now(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("malformed Scheduled Event"),
            "{err}"
        );
    }
}
