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

    async fn publish_batch(&self, batch: &[Announcement]) -> Vec<String> {
        let entries: Vec<PutEventsRequestEntry> = batch
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .source(SOURCE)
                    .detail_type(e.detail_type)
                    .detail(e.detail.to_string())
                    .set_resources(Some(e.resources.clone()))
                    .event_bus_name(&self.bus)
                    .build()
            })
            .collect();
        match self
            .events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => batch
                .iter()
                .zip(out.entries())
                .filter_map(|(event, result)| {
                    result.error_code().map(|code| {
                        format!(
                            "event {:?} not published: {code}: {}",
                            event.detail_type,
                            result.error_message().unwrap_or_default()
                        )
                    })
                })
                .collect(),
            Err(e) => vec![format!(
                "{} events not published: {}",
                batch.len(),
                Error::aws("PutEvents", e)
            )],
        }
    }
}
