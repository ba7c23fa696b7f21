//! Why an invocation ran: the kind of trigger and what identifies it.

use serde::{Deserialize, Serialize};

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
