//! The events `lifeboat-prune` accepts, parsed into one `Request`.

use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use chrono::{DateTime, Utc};
use lifeboat::domain::run::Run;
use lifeboat::domain::trigger::{self, Trigger, TriggerKind};
use lifeboat::lambda::payload::Payload;
use lifeboat::lambda::run;
use lifeboat::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const SCHEDULED_EVENT: &str = "Scheduled Event";

const ACCEPTED: &str =
    "a \"Scheduled Event\", {} from EventBridge Scheduler, or {\"dry_run\": true}";

/// What an event asks for; as a run's first invocation parsed it, also
/// what its later invocations get back (`{"continue": {"request": ...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub trigger: Trigger,
    /// "Now" for the retention policy: the event's `time`, so a run can be
    /// reproduced exactly.
    pub now: DateTime<Utc>,
    pub dry_run: bool,
    /// A later invocation of a run: where it carries on.
    #[serde(skip)]
    pub run: Option<Run>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualRequest {
    dry_run: bool,
}

pub fn parse(payload: &Value, now: DateTime<Utc>) -> Result<Request, Error> {
    if let Some(next) = run::continuation::<Request>(crate::FUNCTION, payload)? {
        return Ok(Request {
            run: Some(next.run),
            ..next.request
        });
    }
    let payload = Payload::new(payload, ACCEPTED)?;
    let schedule = |event_id, now| Request {
        trigger: Trigger {
            event_id,
            ..Trigger::new(TriggerKind::Schedule)
        },
        now,
        dry_run: false,
        run: None,
    };
    if payload.is_empty() {
        return Ok(schedule(None, now));
    }
    if let Some(detail_type) = payload.detail_type() {
        if detail_type.as_str() != Some(SCHEDULED_EVENT) {
            return Err(payload.unsupported_detail_type(detail_type));
        }
        let event: CloudWatchEvent<Value> = payload.typed(SCHEDULED_EVENT)?;
        // Prune's "now" is never later than the clock: a schedule that fires
        // early must not count tomorrow as a day that has begun.
        let time = trigger::event_time(event.time, now)?.min(now);
        return Ok(schedule(event.id, time));
    }
    if payload.has("dry_run") {
        let manual: ManualRequest = payload.typed("manual request")?;
        return Ok(Request {
            trigger: Trigger::new(TriggerKind::Manual),
            now,
            dry_run: manual.dry_run,
            run: None,
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
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    #[test]
    fn prune_never_counts_from_a_time_after_the_clock() {
        let mut event = lifeboat::lambda::payload::sample_event("prune-scheduled.json");
        let clock = Utc.with_ymd_and_hms(2026, 11, 24, 5, 28, 0).unwrap();
        // Two minutes early by the clock: "now" is the clock.
        assert_eq!(parse(&event, clock).unwrap().now, clock);
        event["time"] = json!("2026-11-24T05:34:00Z");
        let err = parse(&event, clock).unwrap_err().to_string();
        assert!(err.contains("ahead of the clock"), "{err}");
    }

    #[test]
    fn a_scheduled_event_prunes_as_of_its_time() {
        let event = json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-15T12:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {}
        });
        let request = parse(&event, now()).unwrap();
        assert_eq!(
            request.now,
            Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).unwrap()
        );
        assert!(!request.dry_run);
        assert_eq!(request.trigger.event_id.as_deref(), Some("x"));
    }

    #[test]
    fn manual_forms() {
        assert!(parse(&json!({"dry_run": true}), now()).unwrap().dry_run);
        assert!(!parse(&json!({}), now()).unwrap().dry_run);
        for (payload, expected) in [
            (json!({"dry_run": "yes"}), "malformed manual request"),
            (
                json!({"dry_run": true, "force": true}),
                "unknown field `force`",
            ),
            (json!({"dryrun": true}), "unrecognised event"),
            (
                json!({"detail-type": "RDS DB Snapshot Event"}),
                "unsupported detail-type",
            ),
        ] {
            let err = parse(&payload, now()).unwrap_err().to_string();
            assert!(err.contains(expected), "{payload}: {err}");
        }
    }
}
