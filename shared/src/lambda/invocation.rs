//! The shape every handler shares: one span per invocation with the request
//! id, parse (refusing a bad event before anything is done), act, log what
//! was done, and end in an error if anything failed.

use std::future::Future;

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::domain::outcome::Summary;
use crate::error::Error;

/// What a handler returns: logged once it is complete, and turned into an
/// error if it says something failed, so that Lambda's retries and
/// on-failure destination see it.
pub trait Report: Serialize + Sized {
    fn log(&self);
    fn into_result(self) -> Result<Self, Error>;
}

impl Report for Summary {
    fn log(&self) {
        Summary::log(self);
    }

    fn into_result(self) -> Result<Self, Error> {
        Summary::into_result(self)
    }
}

pub async fn handle<Req, R, Fut>(
    event: LambdaEvent<Value>,
    parse: impl FnOnce(&Value) -> Result<Req, Error>,
    run: impl FnOnce(Req) -> Fut,
) -> Result<R, Error>
where
    R: Report,
    Fut: Future<Output = Result<R, Error>>,
{
    let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
    async move {
        let request = parse(&event.payload).inspect_err(|e| {
            tracing::error!(error = %e, error_type = e.kind(), "refused the event; nothing was done");
        })?;
        let report = run(request).await.inspect_err(|e| {
            tracing::error!(error = %e, error_type = e.kind(), "refused or failed before any outcome");
        })?;
        report.log();
        report.into_result()
    }
    .instrument(span)
    .await
}
