//! `lifeboat-restore`'s entry point: logging, settings and clients once per
//! cold start, then the handler in `lib.rs` for every event.

use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::telemetry::init();
    let ctx = lifeboat::Context::from_env().await.inspect_err(|e| {
        tracing::error!(error = %e, error_type = e.kind(), "start-up failed");
    })?;
    lambda_runtime::run(service_fn(|event| lifeboat_restore::handle(&ctx, event))).await
}
