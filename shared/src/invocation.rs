//! The shape every handler shares: one span per invocation with the request
//! id, parse (refusing a bad event before anything is done), act, log one
//! line per outcome, and end in an error if anything failed.

use std::future::Future;

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::Instrument;

use crate::error::Error;
use crate::outcome::Summary;

pub async fn handle<R, Fut>(
    event: LambdaEvent<Value>,
    parse: impl FnOnce(&Value) -> Result<R, Error>,
    run: impl FnOnce(R) -> Fut,
) -> Result<Summary, Error>
where
    Fut: Future<Output = Result<Summary, Error>>,
{
    let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
    async move {
        let request = parse(&event.payload).inspect_err(|e| {
            tracing::error!(error = %e, error_type = e.kind(), "refused the event; nothing was done");
        })?;
        let summary = run(request).await.inspect_err(|e| {
            tracing::error!(error = %e, error_type = e.kind(), "failed before any outcome");
        })?;
        summary.log();
        summary.into_result()
    }
    .instrument(span)
    .await
}
