//! Just enough SQS to see Lifeboat's EventBridge events: a rule on the bus
//! sends them to a queue, and the test reads the queue. SQS's JSON protocol
//! is spoken directly, so the test suite needs no SQS SDK crate.

use serde_json::{json, Value};

use crate::account::Account;
use crate::moto;

fn call(account: &Account, region: &str, target: &str, body: Value) -> Value {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/20260101/{region}/sqs/aws4_request, SignedHeaders=host, Signature=0",
        account.access_key
    );
    let (status, text) = moto::http(
        "POST",
        &account.endpoint,
        "/",
        &[
            ("x-moto-account-id", &account.id),
            ("Authorization", &auth),
            ("X-Amz-Target", &format!("AmazonSQS.{target}")),
            ("Content-Type", "application/x-amz-json-1.0"),
        ],
        &body.to_string(),
    )
    .unwrap_or_else(|e| panic!("SQS {target}: {e}"));
    assert_eq!(status, 200, "SQS {target}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Creates a queue and returns its URL and ARN.
pub fn create_queue(account: &Account, region: &str, name: &str) -> (String, String) {
    let out = call(account, region, "CreateQueue", json!({ "QueueName": name }));
    let url = out["QueueUrl"].as_str().unwrap_or_default().to_string();
    let arn = format!("arn:aws:sqs:{region}:{}:{name}", account.id);
    (url, arn)
}

/// Every message in the queue, parsed as JSON, deleting them as it goes.
pub fn drain(account: &Account, region: &str, queue_url: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    loop {
        let out = call(
            account,
            region,
            "ReceiveMessage",
            json!({ "QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0 }),
        );
        let batch = out["Messages"].as_array().cloned().unwrap_or_default();
        if batch.is_empty() {
            return messages;
        }
        for m in batch {
            call(
                account,
                region,
                "DeleteMessage",
                json!({ "QueueUrl": queue_url, "ReceiptHandle": m["ReceiptHandle"] }),
            );
            let body = m["Body"].as_str().unwrap_or_default();
            messages.push(serde_json::from_str(body).unwrap_or(Value::String(body.to_string())));
        }
    }
}
