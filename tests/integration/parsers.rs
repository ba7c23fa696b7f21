//! Every function's event parser against arbitrary JSON and against the
//! sample events mutated: it never panics, and what it refuses it refuses
//! with an `InvalidEvent` (or `InvalidIdentifier`) error that says what is
//! wrong. Parsing is pure, so a refusal has done nothing. No emulator.

use chrono::{DateTime, Utc};
use lifeboat::Error;
use lifeboat_tests::sample_events_for;
use proptest::prelude::*;
use serde_json::{Map, Value};

const FUNCTIONS: [&str; 6] = ["snapshot", "copy", "prune", "restore", "monitor", "drill"];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
        .unwrap()
        .to_utc()
}

/// Runs `function`'s parser; the error, if it refused.
fn parse(function: &str, payload: &Value) -> Option<Error> {
    match function {
        "snapshot" => lifeboat_snapshot::event::parse(payload, now()).err(),
        "copy" => lifeboat_copy::event::parse(payload, now()).err(),
        "prune" => lifeboat_prune::event::parse(payload, now()).err(),
        "restore" => lifeboat_restore::event::parse(payload).err(),
        "monitor" => lifeboat_monitor::event::parse(payload, now()).err(),
        "drill" => lifeboat_drill::event::parse(payload, now()).err(),
        other => panic!("no parser for {other}"),
    }
}

/// A refusal names its problem, as a bad-input error.
fn assert_clear(function: &str, payload: &Value, err: &Error) {
    assert!(
        matches!(err.kind(), "InvalidEvent" | "InvalidIdentifier"),
        "lifeboat-{function} refused {payload} with a {} error: {err}",
        err.kind()
    );
    assert!(
        err.to_string().len() > "invalid event: ".len() + 10,
        "lifeboat-{function}: an error that says too little: {err}"
    );
}

/// Any JSON value, with the keys the parsers look at among the random ones,
/// so that arbitrary documents reach past the first check.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("detail-type".to_string()),
        Just("detail".to_string()),
        Just("time".to_string()),
        Just("id".to_string()),
        Just("databases".to_string()),
        Just("snapshots".to_string()),
        Just("database".to_string()),
        Just("target".to_string()),
        Just("action".to_string()),
        Just("drill".to_string()),
        Just("dry_run".to_string()),
        Just("overrides".to_string()),
        Just("alarmData".to_string()),
        "[a-zA-Z_-]{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("Scheduled Event".to_string()),
            Just("CloudWatch Alarm State Change".to_string()),
            Just("RDS DB Snapshot Event".to_string()),
            Just("2026-11-26T12:00:00Z".to_string()),
            Just("latest".to_string()),
            Just("status".to_string()),
            ".{0,24}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Where a sample event is changed: a path of keys and array indexes.
fn paths(value: &Value, here: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let mut next = here.clone();
                next.push(k.clone());
                paths(v, next, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut next = here.clone();
                next.push(i.to_string());
                paths(v, next, out);
            }
        }
        _ => {}
    }
}

fn at<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match v {
        Value::Object(map) => map.get_mut(step),
        Value::Array(items) => items.get_mut(step.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Every sample event, with every place in it replaced by each of a few
/// wrong values, and with each key removed.
fn mutations() -> Vec<(String, Value)> {
    let replacements = [
        Value::Null,
        Value::Bool(true),
        Value::from(-1),
        Value::from("no such thing"),
        Value::from(""),
        Value::Array(vec![]),
        Value::Object(Map::new()),
        Value::from("2026-11-26T12:06:00Z"),
        Value::from("Bad_Identifier!"),
    ];
    let mut out = Vec::new();
    for function in FUNCTIONS {
        for (name, event) in sample_events_for(function) {
            let mut places = Vec::new();
            paths(&event, Vec::new(), &mut places);
            for path in places.iter().filter(|p| !p.is_empty()) {
                for replacement in &replacements {
                    let mut changed = event.clone();
                    if let Some(slot) = at(&mut changed, path) {
                        *slot = replacement.clone();
                        out.push((format!("{function}: {name} {path:?}"), changed));
                    }
                }
                let mut removed = event.clone();
                let (last, parent) = path.split_last().unwrap();
                if let Some(Value::Object(map)) = at(&mut removed, parent) {
                    map.remove(last);
                    out.push((format!("{function}: {name} without {path:?}"), removed));
                }
            }
        }
    }
    out
}

#[test]
fn mutated_sample_events_are_parsed_or_refused_clearly() {
    let cases = mutations();
    assert!(cases.len() > 500, "{} mutations", cases.len());
    let mut refused = 0;
    for (what, payload) in &cases {
        let function = what.split(':').next().unwrap();
        if let Some(err) = parse(function, payload) {
            assert_clear(function, payload, &err);
            refused += 1;
        }
    }
    // Many wrong values are refused; others land where any value will do
    // (an event's account, its resources, a message text). About half
    // today: a sanity check that the mutations reach the parsers.
    assert!(
        refused * 3 > cases.len(),
        "{refused} of {} refused",
        cases.len()
    );
}

#[test]
fn a_document_nested_deeper_than_the_runtime_allows_is_refused() {
    // The runtime's JSON reader stops at 128 levels (serde_json's limit);
    // a parser handed anything deeper refuses it.
    let mut deep = Value::from("bottom");
    for _ in 0..200 {
        deep = Value::Array(vec![deep]);
    }
    for function in FUNCTIONS {
        for payload in [
            deep.clone(),
            serde_json::json!({"detail-type": "Scheduled Event", "detail": deep.clone()}),
            serde_json::json!({"databases": [deep.clone()]}),
        ] {
            let err = parse(function, &payload)
                .unwrap_or_else(|| panic!("lifeboat-{function} accepted a 200-deep document"));
            assert_clear(function, &Value::from("<deep>"), &err);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_is_parsed_or_refused_clearly(payload in any_json()) {
        for function in FUNCTIONS {
            if let Some(err) = parse(function, &payload) {
                assert_clear(function, &payload, &err);
            }
        }
    }
}
