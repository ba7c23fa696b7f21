//! `lifeboat-drill`'s entry point: logging, settings and clients (the
//! validator's Lambda client too) once per cold start, then the handler in
//! `lib.rs` for every event.

use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::lambda::telemetry::init();
    let ctx = lifeboat::Context::start(lifeboat_drill::check).await?;
    let validator = lifeboat_drill::validator::Validator::from_context(&ctx);
    lambda_runtime::run(service_fn(|event| {
        lifeboat_drill::handle(&ctx, &validator, event)
    }))
    .await
}
