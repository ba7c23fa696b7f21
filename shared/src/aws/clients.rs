//! AWS clients, built once per cold start from the standard SDK config.
//!
//! `AWS_ENDPOINT_URL` (the SDK's own override) points every client at a local
//! emulator; when it is set, S3 switches to path-style addressing so that
//! `http://localhost:5000/bucket/key` works (virtual-hosted style would need
//! `bucket.localhost` to resolve).

use std::collections::BTreeMap;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Attempts per API call, first included. RDS throttles a fleet-wide run
/// (`Throttling`, `RequestLimitExceeded`); the SDK's standard retry backs off
/// and tries again, so throttling never becomes a failed DB.
const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone)]
pub struct Clients {
    sdk: SdkConfig,
    pub region: String,
    pub rds: aws_sdk_rds::Client,
    pub s3: aws_sdk_s3::Client,
    pub events: aws_sdk_eventbridge::Client,
    /// RDS clients for the DR regions, built once: each keeps its own
    /// connection pool, so building one per call would redo TLS each time.
    regional: BTreeMap<String, aws_sdk_rds::Client>,
}

impl Clients {
    /// Loads the standard SDK configuration (environment, profile, container
    /// or instance credentials) with `region` as the source region.
    pub async fn load(region: &str) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .load()
            .await;
        Self::from_sdk_config(sdk)
    }

    /// Builds the clients from a given SDK config; the tests use this to aim
    /// them at the emulator with their own credentials.
    pub fn from_sdk_config(sdk: SdkConfig) -> Self {
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Clients {
            region,
            rds: aws_sdk_rds::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            events: aws_sdk_eventbridge::Client::new(&sdk),
            regional: BTreeMap::new(),
            sdk,
        }
    }

    /// Builds the RDS clients for `regions` now, once per cold start.
    pub fn with_regions(mut self, regions: &[String]) -> Self {
        for region in regions {
            let client = self.build_rds(region);
            self.regional.insert(region.clone(), client);
        }
        self
    }

    /// An RDS client for `region` (the source region or a DR region),
    /// sharing credentials, endpoint override and retry settings.
    pub fn rds_in(&self, region: &str) -> aws_sdk_rds::Client {
        if region == self.region {
            return self.rds.clone();
        }
        match self.regional.get(region) {
            Some(client) => client.clone(),
            None => self.build_rds(region),
        }
    }

    fn build_rds(&self, region: &str) -> aws_sdk_rds::Client {
        let config = aws_sdk_rds::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_string()))
            .build();
        aws_sdk_rds::Client::from_conf(config)
    }
}
