//! CloudWatch metrics in the embedded metric format (EMF): one JSON
//! document per log line on stdout, which Lambda sends to CloudWatch Logs
//! and CloudWatch turns into metrics. No API call, no client, no cost at
//! cold start.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "Lifeboat";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    Seconds,
    Count,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "Seconds",
            Unit::Count => "Count",
        }
    }
}

/// One EMF document: `metrics` (name, value, unit) under `dimensions`
/// (name, value; none is a metric of its own, which one alarm can watch,
/// as CloudWatch cannot alarm across dimension values).
pub fn document(
    at: DateTime<Utc>,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, f64, Unit)],
) -> Value {
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let sets = vec![json!(names)];
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": definitions,
            }],
        }),
    );
    for (name, value) in dimensions {
        doc.insert((*name).into(), json!(value));
    }
    for (name, value, _) in metrics {
        doc.insert((*name).into(), json!(value));
    }
    Value::Object(doc)
}

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns metrics off for the whole process: a command line that runs a
/// function's handler prints its own output on stdout, where no one turns
/// EMF lines into metrics.
pub fn disable() {
    ENABLED.store(false, Ordering::Relaxed);
}

/// Writes `document` as one line on stdout, where Lambda picks it up.
pub fn emit(document: &Value) {
    if ENABLED.load(Ordering::Relaxed) {
        println!("{document}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_document_names_its_metrics_dimensions_and_values() {
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 4, 0, 0).unwrap();
        let doc = document(
            at,
            &[("Database", "orders"), ("Region", "us-west-2")],
            &[("RecoveryPointAgeSeconds", 3600.0, Unit::Seconds)],
        );
        let spec = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], at.timestamp_millis());
        assert_eq!(spec["Namespace"], "Lifeboat");
        assert_eq!(spec["Dimensions"], json!([["Database", "Region"]]));
        assert_eq!(spec["Metrics"][0]["Name"], "RecoveryPointAgeSeconds");
        assert_eq!(spec["Metrics"][0]["Unit"], "Seconds");
        assert_eq!(doc["Database"], "orders");
        assert_eq!(doc["RecoveryPointAgeSeconds"], 3600.0);
        let total = document(at, &[], &[("RecoveryPointsBreached", 0.0, Unit::Count)]);
        assert_eq!(
            total["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
    }
}
