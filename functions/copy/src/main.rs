//! `lifeboat-copy`'s entry point: logging, settings and clients once per
//! cold start, then the handler in `lib.rs` for every event.

// The handler's future (regions x copies, streamed and buffered) is deeper
// than rustc's default layout query depth.
#![recursion_limit = "256"]

use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::lambda::telemetry::init();
    let ctx = lifeboat::Context::start(lifeboat_copy::check).await?;
    lambda_runtime::run(service_fn(|event| lifeboat_copy::handle(&ctx, event))).await
}
