//! Just enough CloudWatch Logs to see Lifeboat's EventBridge events: a rule
//! on the bus sends them to a log group, and the test reads the group back.
//! The Logs JSON protocol is spoken directly, so the test suite needs no
//! Logs SDK crate.

use serde_json::{json, Value};

use crate::account::Account;

pub const LOG_GROUP: &str = "/lifeboat/events";

fn call(account: &Account, region: &str, action: &str, body: Value) -> Value {
    account.json_call(
        region,
        "logs",
        &format!("Logs_20140328.{action}"),
        "application/x-amz-json-1.1",
        body,
    )
}

/// Creates the log group and returns its ARN.
pub fn create(account: &Account, region: &str) -> String {
    call(
        account,
        region,
        "CreateLogGroup",
        json!({ "logGroupName": LOG_GROUP }),
    );
    format!("arn:aws:logs:{region}:{}:log-group:{LOG_GROUP}", account.id)
}

/// Every event in the log group, as (event id, the event as JSON).
pub fn read_all(account: &Account, region: &str) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({ "logGroupName": LOG_GROUP, "limit": 10000 });
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let out = call(account, region, "FilterLogEvents", body);
        for e in out["events"].as_array().into_iter().flatten() {
            let message = e["message"].as_str().unwrap_or_default();
            let parsed =
                serde_json::from_str(message).unwrap_or(Value::String(message.to_string()));
            events.push((
                e["eventId"].as_str().unwrap_or_default().to_string(),
                parsed,
            ));
        }
        match out["nextToken"].as_str() {
            Some(t) if Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => return events,
        }
    }
}
