//! Lifeboat's own events on `LIFEBOAT_EVENT_BUS`, for users to route.
//!
//! PutEvents takes up to 10 entries a call, so events are sent in batches of
//! 10, never one call each.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures_util::{stream, StreamExt};
use serde_json::Value;

use crate::error::Error;

pub const SOURCE: &str = "lifeboat";
const BATCH: usize = 10;
/// Batches in flight at once: at 1,000 DBs there are ~100 batches, which one
/// after another would cost seconds of latency.
const BATCHES_IN_FLIGHT: usize = 8;
/// Sends of an entry EventBridge refused on its own, first included.
const ENTRY_ATTEMPTS: u32 = 4;
/// The pause before the first resend; it doubles each time.
const ENTRY_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// One event Lifeboat puts on the bus: a detail-type such as `Snapshot Started` and its JSON detail.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    pub detail_type: &'static str,
    pub resources: Vec<String>,
    pub detail: Value,
}

#[derive(Debug, Clone)]
pub struct Publisher {
    events: aws_sdk_eventbridge::Client,
    bus: String,
}

impl Publisher {
    pub fn new(events: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Publisher {
            events,
            bus: bus.into(),
        }
    }

    /// Sends every event, in batches. Returns one error line per batch or
    /// entry that EventBridge refused; the caller reports them (an event
    /// that did not go out is not a reason to stop the rest).
    pub async fn publish(&self, events: &[Announcement]) -> Vec<String> {
        stream::iter(events.chunks(BATCH))
            .map(|batch| self.publish_batch(batch))
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .collect::<Vec<Vec<String>>>()
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// Sends one batch; entries EventBridge refuses one by one
    /// (`FailedEntryCount` > 0: throttled, an internal error) are sent
    /// again, alone, after a pause, up to `ENTRY_ATTEMPTS` times in all.
    /// (A failed call as a whole is retried by the SDK.)
    async fn publish_batch(&self, batch: &[Announcement]) -> Vec<String> {
        let mut pending: Vec<&Announcement> = batch.iter().collect();
        let mut refused = Vec::new();
        for attempt in 1..=ENTRY_ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(ENTRY_RETRY_PAUSE * 2u32.pow(attempt - 2)).await;
            }
            let entries: Vec<PutEventsRequestEntry> =
                pending.iter().map(|e| self.entry(e)).collect();
            let out = match self
                .events
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    return vec![format!(
                        "{} events not published: {}",
                        pending.len(),
                        Error::aws("PutEvents", e)
                    )]
                }
            };
            refused.clear();
            let mut again = Vec::new();
            for (event, result) in pending.iter().zip(out.entries()) {
                if let Some(code) = result.error_code() {
                    refused.push(format!(
                        "event {:?} not published after {attempt} attempts: {code}: {}",
                        event.detail_type,
                        result.error_message().unwrap_or_default()
                    ));
                    again.push(*event);
                }
            }
            if again.is_empty() {
                return Vec::new();
            }
            pending = again;
        }
        refused
    }

    fn entry(&self, e: &Announcement) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(e.detail_type)
            .detail(e.detail.to_string())
            .set_resources(Some(e.resources.clone()))
            .event_bus_name(&self.bus)
            .build()
    }
}
