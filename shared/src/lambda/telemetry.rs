//! Logging: JSON lines, no colours, no timestamps (CloudWatch adds them).
//! Each line logged during an invocation carries the invocation's span, so
//! its `request_id` (set by `invocation`), whichever module logged it.

use tracing::Level;

/// Installs the global subscriber. The level comes from Lambda's own
/// `AWS_LAMBDA_LOG_LEVEL` (set by the function's logging configuration); it
/// is read here rather than in `Config` because logging must be up before the
/// settings are checked, so that a bad setting is logged.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .and_then(|v| v.parse::<Level>().ok())
        .unwrap_or(Level::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_current_span(true)
        .with_span_list(false)
        .with_max_level(level)
        .init();
}
