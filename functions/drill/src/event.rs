//! The events `lifeboat-drill` accepts: its schedule or `{}` (drill every
//! DB with a copy here), `{"databases": [...]}`, and the steps of the state
//! machine that carries a drill: `check` and `finish`, each with the drill
//! the start handed out.

use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use chrono::{DateTime, Utc};
use lifeboat::domain::identifier;
use lifeboat::domain::model::DatabaseKind;
use lifeboat::domain::trigger::{self, Trigger, TriggerKind};
use lifeboat::lambda::payload::Payload;
use lifeboat::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const SCHEDULED_EVENT: &str = "Scheduled Event";

const ACCEPTED: &str = "a \"Scheduled Event\", {}, {\"databases\": [\"orders\"]}, or a state machine step {\"action\": \"check\"|\"finish\", \"drill\": {...}}";

/// One drill in progress: what the start made, handed from step to step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    pub database: String,
    pub database_kind: DatabaseKind,
    pub source_region: String,
    pub region: String,
    pub target: String,
    pub snapshot_id: String,
    pub recovery_point_time: Option<DateTime<Utc>>,
    pub restore_id: String,
    pub started_at: DateTime<Utc>,
    /// Set by the check that found the DB (and every member) available.
    #[serde(default)]
    pub available_at: Option<DateTime<Utc>>,
    /// What the last check saw.
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Start {
        trigger: Trigger,
        /// Only these DBs; `None`: the setting's, else every DB with a copy.
        databases: Option<Vec<String>>,
        now: DateTime<Utc>,
    },
    Check(Box<Drill>),
    Finish(Box<Drill>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manual {
    databases: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    action: String,
    drill: Drill,
}

pub fn parse(payload: &Value, now: DateTime<Utc>) -> Result<Request, Error> {
    let payload = Payload::new(payload, ACCEPTED)?;
    if payload.is_empty() {
        return Ok(Request::Start {
            trigger: Trigger::new(TriggerKind::Schedule),
            databases: None,
            now,
        });
    }
    if let Some(detail_type) = payload.detail_type() {
        if detail_type.as_str() != Some(SCHEDULED_EVENT) {
            return Err(payload.unsupported_detail_type(detail_type));
        }
        let event: CloudWatchEvent<Value> = payload.typed(SCHEDULED_EVENT)?;
        return Ok(Request::Start {
            trigger: Trigger {
                event_id: event.id,
                ..Trigger::new(TriggerKind::Schedule)
            },
            databases: None,
            now: trigger::event_time(event.time, now)?.min(now),
        });
    }
    if payload.has("action") {
        let step: Step = payload.typed("state machine step")?;
        return match step.action.as_str() {
            "check" => Ok(Request::Check(Box::new(step.drill))),
            "finish" => Ok(Request::Finish(Box::new(step.drill))),
            other => Err(Error::InvalidEvent(format!(
                "unknown action {other:?}: expected \"check\" or \"finish\""
            ))),
        };
    }
    if payload.has("databases") {
        let manual: Manual = payload.typed("manual request")?;
        if manual.databases.is_empty() {
            return Err(Error::InvalidEvent(
                "\"databases\" is empty: name at least one DB, or send {} to drill every DB with a copy here".into(),
            ));
        }
        let databases = manual
            .databases
            .iter()
            .map(|db| identifier::validate("databases", db))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Request::Start {
            trigger: Trigger::new(TriggerKind::Manual),
            databases: Some(databases),
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

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 3, 1, 0).unwrap()
    }

    #[test]
    fn every_sample_parses() {
        let scheduled = lifeboat::lambda::payload::sample_event("drill-scheduled.json");
        assert!(matches!(
            parse(&scheduled, now()).unwrap(),
            Request::Start {
                databases: None,
                ..
            }
        ));
        let manual = lifeboat::lambda::payload::sample_event("drill-manual.json");
        match parse(&manual, now()).unwrap() {
            Request::Start {
                databases, trigger, ..
            } => {
                assert_eq!(databases.unwrap(), ["orders"]);
                assert_eq!(trigger.kind, TriggerKind::Manual);
            }
            other => panic!("{other:?}"),
        }
        let check = lifeboat::lambda::payload::sample_event("drill-check.json");
        assert!(matches!(parse(&check, now()).unwrap(), Request::Check(_)));
    }

    #[test]
    fn a_mistyped_request_is_refused_by_name() {
        let err = parse(&json!({"database": ["orders"]}), now()).unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
        let err = parse(&json!({"databases": []}), now()).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let err = parse(&json!({"databases": ["no_underscores"]}), now()).unwrap_err();
        assert_eq!(err.kind(), "InvalidIdentifier");
        let mut check = lifeboat::lambda::payload::sample_event("drill-check.json");
        check["action"] = json!("verify");
        assert!(parse(&check, now())
            .unwrap_err()
            .to_string()
            .contains("verify"));
    }
}
