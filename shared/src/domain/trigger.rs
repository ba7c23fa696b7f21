//! Why an invocation ran: the kind of trigger and what identifies it.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerKind {
    Schedule,
    Alarm,
    Manual,
    /// An event from RDS itself (a snapshot was created).
    #[serde(rename = "rds-event")]
    RdsEvent,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Schedule => "schedule",
            TriggerKind::Alarm => "alarm",
            TriggerKind::Manual => "manual",
            TriggerKind::RdsEvent => "rds-event",
        }
    }
}

/// Why an invocation ran, as recorded in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    #[serde(rename = "type")]
    pub kind: TriggerKind,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alarm_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

impl Trigger {
    pub fn new(kind: TriggerKind) -> Self {
        Trigger {
            kind,
            event_id: None,
            alarm_name: None,
            reason: None,
        }
    }
}

/// How far ahead of the clock an event's `time` may be: EventBridge stamps
/// events when they happen, so anything more is a clock gone wrong or a
/// hand-made event.
pub const MAX_EVENT_TIME_AHEAD_SECONDS: i64 = 5 * 60;

/// An event's `time`, checked against the clock. A time in the future
/// would name snapshots for a recovery point that has not happened and make
/// prune count its calendar from a day that has not come, so a time more
/// than five minutes ahead is refused. A time within that is returned as it
/// is: it names the recovery point, and every delivery of the event must
/// name the same one (prune takes the earlier of it and the clock).
pub fn event_time(time: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
    if time > now + Duration::seconds(MAX_EVENT_TIME_AHEAD_SECONDS) {
        return Err(Error::InvalidEvent(format!(
            "the event's time {} is more than {} minutes ahead of the clock ({}); refused: \
             an event cannot come from the future",
            time.to_rfc3339_opts(SecondsFormat::Secs, true),
            MAX_EVENT_TIME_AHEAD_SECONDS / 60,
            now.to_rfc3339_opts(SecondsFormat::Secs, true),
        )));
    }
    Ok(time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_event_time_up_to_five_minutes_ahead_is_taken_as_it_is() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap();
        let past = now - Duration::days(3);
        assert_eq!(event_time(past, now).unwrap(), past);
        assert_eq!(event_time(now, now).unwrap(), now);
        let slightly_ahead = now + Duration::seconds(MAX_EVENT_TIME_AHEAD_SECONDS);
        assert_eq!(event_time(slightly_ahead, now).unwrap(), slightly_ahead);
    }

    #[test]
    fn an_event_time_in_the_future_is_refused_by_name() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap();
        let err = event_time(now + Duration::seconds(301), now).unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
        let text = err.to_string();
        assert!(text.contains("2026-11-24T04:05:01Z"), "{text}");
        assert!(text.contains("ahead of the clock"), "{text}");
    }
}
