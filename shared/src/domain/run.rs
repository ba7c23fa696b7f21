//! Runs that outlast an invocation. RDS grants an account 12 calls a
//! second per region, so a fleet of thousands needs more RDS time than one
//! 15-minute Lambda invocation has. A run (of snapshot, copy's reconcile,
//! or prune) works through its items in a fixed order, stops starting new
//! ones in time before the Lambda deadline, and hands the rest on: the
//! next invocation carries on after the last item started, with the same
//! recovery point, so every item is done once per run.
//!
//! What is decided here: a run's identity, the order of its items, where
//! the next invocation starts, and when an invocation must stop starting
//! work. The handing on itself (a Step Functions execution) is
//! `lambda::run`'s.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The least time left at which an invocation still starts an item: what
/// the items in flight need to finish, the records and events to be
/// written, and the hand-over, with room to spare.
pub const MIN_MARGIN: TimeDelta = TimeDelta::seconds(30);
/// The most the margin grows to, however slow items have been.
pub const MAX_MARGIN: TimeDelta = TimeDelta::minutes(4);

/// One run, as each of its invocations knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// `snapshot`, `copy` or `prune`.
    pub function: String,
    /// `<function>-<time>-<hash of what triggered it>`: the same for a
    /// redelivered event and for a retry of the same request, so that
    /// they hand on to the same execution.
    pub id: String,
    /// When the run's first invocation began.
    pub started_at: DateTime<Utc>,
    /// This invocation's place in the run, from 1.
    pub batch: u32,
    /// Every item whose key sorts at or before this one is done; `None`:
    /// nothing is yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl Run {
    /// The first invocation of a run of `function` at `time` (its recovery
    /// point, or its "now"), triggered by `cause` (an event id, else the
    /// Lambda request id).
    pub fn first(
        function: &str,
        time: DateTime<Utc>,
        cause: &str,
        started_at: DateTime<Utc>,
    ) -> Run {
        Run {
            function: function.to_string(),
            id: run_id(function, time, cause),
            started_at,
            batch: 1,
            after: None,
        }
    }

    /// The invocation after this one, which starts after `after`.
    pub fn next(&self, after: String) -> Run {
        Run {
            batch: self.batch + 1,
            after: Some(after),
            ..self.clone()
        }
    }

    /// Whether `key` is still to do in this invocation's run.
    pub fn is_left(&self, key: &str) -> bool {
        self.after.as_deref().is_none_or(|after| key > after)
    }

    /// The items still to do, in run order: those after `after`, sorted by
    /// `key`, each with its key.
    pub fn left<T>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> Vec<(String, T)> {
        let mut keyed: Vec<(String, T)> = items
            .into_iter()
            .map(|item| (key(&item), item))
            .filter(|(k, _)| self.is_left(k))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed
    }
}

/// `<function>-<YYYYMMDDTHHMMSSZ>-<8 hex digits>`: a valid Step Functions
/// execution name (at most 80 of `[A-Za-z0-9_-]`).
pub fn run_id(function: &str, time: DateTime<Utc>, cause: &str) -> String {
    let hash = cause.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("{function}-{}-{hash:08x}", time.format("%Y%m%dT%H%M%SZ"))
}

/// Whether the next run of a run named `id` looks like one: a forged or
/// mistyped continuation is refused by name.
pub fn is_run_id(function: &str, id: &str) -> bool {
    let Some(rest) = id.strip_prefix(function).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    let mut parts = rest.split('-');
    let (Some(time), Some(hash), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    time.len() == 16
        && time.ends_with('Z')
        && hash.len() == 8
        && hash.chars().all(|c| c.is_ascii_hexdigit())
}

/// The margin an invocation keeps before its deadline: twice the slowest
/// item so far (the items in flight when it stops must finish), within
/// `MIN_MARGIN` and `MAX_MARGIN`.
pub fn margin(slowest_item: TimeDelta) -> TimeDelta {
    (slowest_item * 2).clamp(MIN_MARGIN, MAX_MARGIN)
}

/// Whether an invocation with `deadline` may start another item at `now`,
/// keeping `margin`. No deadline (a test, the command line's own): always.
pub fn time_for_more(
    deadline: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    margin: TimeDelta,
) -> bool {
    deadline.is_none_or(|deadline| deadline - now > margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, h, m, s).unwrap()
    }

    #[test]
    fn a_run_is_named_by_function_time_and_cause_the_same_for_a_redelivery() {
        let one = run_id("snapshot", at(4, 0, 0), "event-1");
        assert_eq!(one, run_id("snapshot", at(4, 0, 0), "event-1"));
        assert!(one.starts_with("snapshot-20261124T040000Z-"), "{one}");
        assert_ne!(one, run_id("snapshot", at(4, 0, 0), "event-2"));
        assert_ne!(one, run_id("prune", at(4, 0, 0), "event-1"));
        assert!(one.len() <= 80);
        assert!(one
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(is_run_id("snapshot", &one));
        assert!(!is_run_id("prune", &one));
        assert!(!is_run_id("snapshot", "snapshot-yesterday-1"));
    }

    #[test]
    fn the_next_invocation_takes_what_sorts_after_the_last_started() {
        let first = Run::first("snapshot", at(4, 0, 0), "e", at(4, 0, 1));
        let items = vec!["instance/c", "cluster/a", "instance/a", "instance/b"];
        let left = first.left(items.clone(), |s| s.to_string());
        let keys: Vec<&str> = left.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["cluster/a", "instance/a", "instance/b", "instance/c"]
        );

        let second = first.next("instance/a".to_string());
        assert_eq!(second.batch, 2);
        assert_eq!(second.id, first.id);
        assert_eq!(second.started_at, first.started_at);
        let left = second.left(items, |s| s.to_string());
        let keys: Vec<&str> = left.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["instance/b", "instance/c"], "each item once");
    }

    #[test]
    fn an_invocation_stops_starting_items_a_margin_before_its_deadline() {
        let deadline = Some(at(4, 15, 0));
        let margin = margin(TimeDelta::seconds(2));
        assert_eq!(margin, MIN_MARGIN);
        assert!(time_for_more(deadline, at(4, 14, 29), margin));
        assert!(!time_for_more(deadline, at(4, 14, 30), margin));
        assert!(time_for_more(None, at(23, 0, 0), margin));
        // Slow items widen the margin, within bounds.
        assert_eq!(
            super::margin(TimeDelta::seconds(40)),
            TimeDelta::seconds(80)
        );
        assert_eq!(super::margin(TimeDelta::minutes(10)), MAX_MARGIN);
    }

    #[test]
    fn a_continuation_is_read_strictly() {
        let run = Run::first("prune", at(5, 30, 0), "e", at(5, 30, 2)).next("us-east-1/x".into());
        let text = serde_json::to_string(&run).unwrap();
        assert_eq!(serde_json::from_str::<Run>(&text).unwrap(), run);
        let mut bad: serde_json::Value = serde_json::from_str(&text).unwrap();
        bad["afterwards"] = serde_json::json!("x");
        assert!(serde_json::from_value::<Run>(bad).is_err());
    }
}
