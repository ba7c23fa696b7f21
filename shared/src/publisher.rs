//! Lifeboat's own events on `LIFEBOAT_EVENT_BUS`, for users to route.
//!
//! PutEvents takes up to 10 entries a call, so events are sent in batches of
//! 10, never one call each.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::Value;

use crate::context::Context;
use crate::error::Error;

pub const SOURCE: &str = "lifeboat";
const BATCH: usize = 10;

/// One event: a detail-type such as `Snapshot Started` and its JSON detail.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
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
    pub fn new(ctx: &Context) -> Self {
        Publisher {
            events: ctx.clients.events.clone(),
            bus: ctx.config.event_bus.clone(),
        }
    }

    /// Sends every event, in batches. Returns one error line per batch or
    /// entry that EventBridge refused; the caller reports them (an event
    /// that did not go out is not a reason to stop the rest).
    pub async fn publish(&self, events: &[Event]) -> Vec<String> {
        let mut problems = Vec::new();
        for batch in events.chunks(BATCH) {
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
                Ok(out) => {
                    for (event, result) in batch.iter().zip(out.entries()) {
                        if let Some(code) = result.error_code() {
                            problems.push(format!(
                                "event {:?} not published: {code}: {}",
                                event.detail_type,
                                result.error_message().unwrap_or_default()
                            ));
                        }
                    }
                }
                Err(e) => problems.push(format!(
                    "{} events not published: {}",
                    batch.len(),
                    Error::aws("PutEvents", e)
                )),
            }
        }
        problems
    }
}
