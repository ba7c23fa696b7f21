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
    /// RDS and S3 clients for the DR regions, built once: each keeps its
    /// own connection pool, so building one per call would redo TLS each
    /// time.
    regional: BTreeMap<String, Regional>,
}

#[derive(Debug, Clone)]
struct Regional {
    rds: aws_sdk_rds::Client,
    s3: aws_sdk_s3::Client,
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
        Clients {
            s3: build_s3(&sdk, None),
            region,
            rds: aws_sdk_rds::Client::new(&sdk),
            events: aws_sdk_eventbridge::Client::new(&sdk),
            regional: BTreeMap::new(),
            sdk,
        }
    }

    /// Builds the RDS and S3 clients for `regions` now, once per cold
    /// start.
    pub fn with_regions(mut self, regions: &[String]) -> Self {
        for region in regions {
            let clients = Regional {
                rds: self.build_rds(region),
                s3: build_s3(&self.sdk, Some(region)),
            };
            self.regional.insert(region.clone(), clients);
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
            Some(clients) => clients.rds.clone(),
            None => self.build_rds(region),
        }
    }

    /// An S3 client for `region`, for the catalog bucket there: a bucket is
    /// reached through its own region's endpoint, so a region that is down
    /// takes only its own bucket with it.
    pub fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        if region == self.region {
            return self.s3.clone();
        }
        match self.regional.get(region) {
            Some(clients) => clients.s3.clone(),
            None => build_s3(&self.sdk, Some(region)),
        }
    }

    fn build_rds(&self, region: &str) -> aws_sdk_rds::Client {
        let config = aws_sdk_rds::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_string()))
            .build();
        aws_sdk_rds::Client::from_conf(config)
    }
}

/// An S3 client in `region` (else the config's own region), path-style
/// when an endpoint override is set (see the module docs).
fn build_s3(sdk: &SdkConfig, region: Option<&str>) -> aws_sdk_s3::Client {
    let mut config =
        aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some());
    if let Some(region) = region {
        config = config.region(Region::new(region.to_string()));
    }
    aws_sdk_s3::Client::from_conf(config.build())
}
