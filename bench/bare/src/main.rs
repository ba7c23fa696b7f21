//! `lifeboat-bench-bare`: the least a Rust Lambda function can be, a
//! `lambda_runtime` loop that echoes its event. The benchmark starts it
//! beside the functions, so that their init time is read against what the
//! runtime alone costs on the same machine in the same run. Never deployed.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
