//! The events `lifeboat-monitor` accepts: its schedule, or `{}`.

use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use chrono::{DateTime, Utc};
use lifeboat::domain::trigger::{self, Trigger, TriggerKind};
use lifeboat::lambda::payload::Payload;
use lifeboat::Error;
use serde_json::Value;

pub const SCHEDULED_EVENT: &str = "Scheduled Event";

const ACCEPTED: &str = "a \"Scheduled Event\", or {} from EventBridge Scheduler or by hand";

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub trigger: Trigger,
    /// The moment ages are measured at: the earlier of the event's `time`
    /// and the clock (a recovery point is never younger than it is).
    pub now: DateTime<Utc>,
}

pub fn parse(payload: &Value, now: DateTime<Utc>) -> Result<Request, Error> {
    let payload = Payload::new(payload, ACCEPTED)?;
    if payload.is_empty() {
        return Ok(Request {
            trigger: Trigger::new(TriggerKind::Schedule),
            now,
        });
    }
    if let Some(detail_type) = payload.detail_type() {
        if detail_type.as_str() != Some(SCHEDULED_EVENT) {
            return Err(payload.unsupported_detail_type(detail_type));
        }
        let event: CloudWatchEvent<Value> = payload.typed(SCHEDULED_EVENT)?;
        return Ok(Request {
            trigger: Trigger {
                event_id: event.id,
                ..Trigger::new(TriggerKind::Schedule)
            },
            now: trigger::event_time(event.time, now)?.min(now),
        });
    }
    Err(payload.unrecognised())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 4, 16, 0).unwrap()
    }

    #[test]
    fn the_schedule_and_an_empty_object_are_accepted() {
        let event = lifeboat::lambda::payload::sample_event("monitor-scheduled.json");
        let request = parse(&event, now()).unwrap();
        assert_eq!(request.trigger.kind, TriggerKind::Schedule);
        assert!(request.trigger.event_id.is_some());
        assert!(request.now <= now());
        assert_eq!(parse(&json!({}), now()).unwrap().now, now());
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        let err = parse(&json!({"databases": ["orders"]}), now()).unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
        let err = parse(&json!({"detail-type": "RDS DB Snapshot Event"}), now()).unwrap_err();
        assert!(err.to_string().contains("RDS DB Snapshot Event"), "{err}");
    }
}
