//! `lifeboat-monitor`'s entry point: logging, settings and clients once per
//! cold start, then the handler in `lib.rs` for every event.

use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::lambda::telemetry::init();
    let ctx = lifeboat::Context::start(lifeboat_monitor::check).await?;
    lambda_runtime::run(service_fn(|event| lifeboat_monitor::handle(&ctx, event))).await
}
