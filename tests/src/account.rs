//! A fresh, empty AWS account in the emulator for each test.
//!
//! moto keeps separate state per account and picks the account from the
//! access key, once that key has been issued by its IAM in that account. So
//! every test gets its own account and keys: tests run in parallel against
//! one moto without seeing each other's DBs, snapshots or buckets.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_rds::config::Credentials;

use crate::moto;

static NEXT: AtomicU32 = AtomicU32::new(0);
const SECRET: &str = "lifeboat-test-secret";

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub access_key: String,
    pub endpoint: String,
}

impl Account {
    /// A new account with its own access key.
    pub fn new() -> Self {
        let endpoint = moto::endpoint().to_string();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = format!("{:06}{:06}", std::process::id() % 1_000_000, n);
        let auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0";
        let call = |body: &str| {
            let (status, text) = moto::http(
                "POST",
                &endpoint,
                "/",
                &[
                    ("x-moto-account-id", &id),
                    ("Authorization", auth),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                body,
            )
            .unwrap_or_else(|e| panic!("IAM call to moto failed: {e}"));
            assert_eq!(status, 200, "IAM {body}: {text}");
            text
        };
        call("Action=CreateUser&UserName=lifeboat&Version=2010-05-08");
        let key = call("Action=CreateAccessKey&UserName=lifeboat&Version=2010-05-08");
        let access_key = between(&key, "<AccessKeyId>", "</AccessKeyId>")
            .unwrap_or_else(|| panic!("no AccessKeyId in {key}"))
            .to_string();
        Account {
            id,
            access_key,
            endpoint,
        }
    }

    /// SDK config for `region` in this account, aimed at the emulator: what
    /// `aws_config` would load from the environment in `Self::env`.
    pub fn sdk_config(&self, region: &str) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_rds::config::SharedCredentialsProvider::new(
                Credentials::new(&self.access_key, SECRET, None, None, "lifeboat-tests"),
            ))
            .build()
    }

    /// The environment a function binary needs to act in this account.
    pub fn env(&self, region: &str) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", self.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_REGION", region),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

impl Account {
    /// A POST to the emulator in this account as `service` in `region`;
    /// the answer's body. Panics on anything but 200.
    fn post(&self, region: &str, service: &str, headers: &[(&str, &str)], body: &str) -> String {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0",
            self.access_key
        );
        let mut all = vec![
            ("x-moto-account-id", self.id.as_str()),
            ("Authorization", auth.as_str()),
        ];
        all.extend_from_slice(headers);
        let (status, text) = moto::http("POST", &self.endpoint, "/", &all, body)
            .unwrap_or_else(|e| panic!("{service} {body}: {e}"));
        assert_eq!(status, 200, "{service} {body}: {text}");
        text
    }

    /// Calls an AWS JSON-protocol API (SQS, KMS, Logs) in this account
    /// directly, for the few test set-up calls that need no SDK crate.
    pub fn json_call(
        &self,
        region: &str,
        service: &str,
        target: &str,
        content_type: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let text = self.post(
            region,
            service,
            &[("X-Amz-Target", target), ("Content-Type", content_type)],
            &body.to_string(),
        );
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// Calls an AWS query-protocol API (EC2) in this account directly;
    /// returns the XML answer.
    pub fn query_call(&self, region: &str, service: &str, body: &str) -> String {
        self.post(
            region,
            service,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body,
        )
    }

    /// A VPC with two subnets in `region`; their IDs.
    pub fn vpc_subnets(&self, region: &str) -> Vec<String> {
        let vpc = self.query_call(
            region,
            "ec2",
            "Action=CreateVpc&CidrBlock=10.0.0.0%2F16&Version=2016-11-15",
        );
        let vpc_id = between(&vpc, "<vpcId>", "</vpcId>")
            .unwrap_or_else(|| panic!("no vpcId in {vpc}"))
            .to_string();
        ["a", "b"]
            .iter()
            .enumerate()
            .map(|(n, az)| {
                let body = format!(
                    "Action=CreateSubnet&VpcId={vpc_id}&CidrBlock=10.0.{n}.0%2F24&AvailabilityZone={region}{az}&Version=2016-11-15"
                );
                let out = self.query_call(region, "ec2", &body);
                between(&out, "<subnetId>", "</subnetId>")
                    .unwrap_or_else(|| panic!("no subnetId in {out}"))
                    .to_string()
            })
            .collect()
    }

    /// A new KMS key in `region`; its ARN.
    pub fn kms_key(&self, region: &str) -> String {
        let out = self.json_call(
            region,
            "kms",
            "TrentService.CreateKey",
            "application/x-amz-json-1.1",
            serde_json::json!({ "Description": "lifeboat test key" }),
        );
        out["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap_or_else(|| panic!("no key ARN in {out}"))
            .to_string()
    }
}

impl Default for Account {
    fn default() -> Self {
        Self::new()
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = from + text[from..].find(end)?;
    Some(&text[from..to])
}
