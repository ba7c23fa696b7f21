//! The user's validator: a Lambda function that checks a drill DB's data
//! (row counts, a checksum, a smoke query) and answers
//! `{"status": "passed"|"failed", "details": ...}`.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use lifeboat::Context;
use serde_json::Value;

/// How long a validator may take: it reads a freshly restored DB, which
/// can be slow, and the drill's Lambda allows it.
const VALIDATOR_TIMEOUT: Duration = Duration::from_secs(600);

/// The Lambda client a drill invokes the validator with, built on its
/// first use: most drills have no validator, and a cold start need not
/// wait for a client it may never use.
#[derive(Debug, Clone)]
pub struct Validator {
    clients: lifeboat::aws::clients::Clients,
    endpoint: Option<String>,
    lambda: std::sync::Arc<std::sync::OnceLock<aws_sdk_lambda::Client>>,
}

impl Validator {
    /// Built from the same SDK config as every other client (the
    /// credentials, the region, `AWS_ENDPOINT_URL` and the SDK's own
    /// `AWS_ENDPOINT_URL_LAMBDA`), with a timeout for a validator's work.
    pub fn from_context(ctx: &Context) -> Self {
        Self::with_endpoint(ctx, None)
    }

    /// As `from_context`, with the Lambda endpoint given.
    pub fn with_endpoint(ctx: &Context, endpoint: Option<&str>) -> Self {
        Validator {
            clients: ctx.clients.clone(),
            endpoint: endpoint.map(str::to_string),
            lambda: Default::default(),
        }
    }

    fn lambda(&self) -> &aws_sdk_lambda::Client {
        self.lambda.get_or_init(|| {
            let timeouts = aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                .connect_timeout(self.clients.policy().connect_timeout)
                .operation_attempt_timeout(VALIDATOR_TIMEOUT)
                .operation_timeout(VALIDATOR_TIMEOUT)
                .build();
            let mut config = aws_sdk_lambda::config::Builder::from(self.clients.sdk_config())
                .timeout_config(timeouts)
                // An invocation is not safe to repeat blindly: one attempt.
                .retry_config(
                    aws_sdk_lambda::config::retry::RetryConfig::standard().with_max_attempts(1),
                );
            if let Some(endpoint) = &self.endpoint {
                config = config.endpoint_url(endpoint);
            }
            aws_sdk_lambda::Client::from_conf(config.build())
        })
    }

    /// Invokes `function` with `payload` and returns its answer, or what
    /// went wrong: an error the function raised, an answer that is not
    /// JSON, a call that failed.
    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Value, String> {
        let out = self
            .lambda()
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| lifeboat::Error::aws("Invoke", e).to_string())?;
        let body = out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        if let Some(error) = out.function_error() {
            return Err(format!("the validator raised an error ({error}): {text}"));
        }
        serde_json::from_slice(&body)
            .map_err(|e| format!("the validator's answer is not JSON ({e}): {text}"))
    }
}
