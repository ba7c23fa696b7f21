//! A function's handler, called in this process as Lambda calls it: the
//! same request, the same code, a fresh request id and a deadline.

use std::hash::{BuildHasher, RandomState};

use chrono::{TimeDelta, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// The deadline each call gets: Lambda's longest timeout, so that a
/// restore behaves as it does in a function configured for the most time
/// Lambda gives (it stops between create calls with less than half a
/// minute left, recorded and resumable).
pub const DEADLINE: TimeDelta = TimeDelta::minutes(15);

/// The event a handler gets for `payload`.
pub fn event(payload: Value) -> LambdaEvent<Value> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id();
    context.deadline = u64::try_from((Utc::now() + DEADLINE).timestamp_millis()).unwrap_or(0);
    LambdaEvent::new(payload, context)
}

/// A request id shaped like Lambda's (8-4-4-4-12 hex digits), new for
/// every call: the functions tell a retry of a request by its id.
fn request_id() -> String {
    let state = RandomState::new();
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let a = state.hash_one((nanos, std::process::id()));
    let b = state.hash_one((a, nanos));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_has_its_own_request_id_and_a_deadline() {
        let one = event(serde_json::json!({}));
        let two = event(serde_json::json!({}));
        assert_ne!(one.context.request_id, two.context.request_id);
        let parts: Vec<usize> = one.context.request_id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        let left = one.context.deadline as i64 - Utc::now().timestamp_millis();
        assert!(
            (14 * 60_000..=15 * 60_000).contains(&left),
            "{left} ms left"
        );
    }
}
