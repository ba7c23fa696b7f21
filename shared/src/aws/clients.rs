//! AWS clients, built once per cold start from the standard SDK config.
//!
//! `AWS_ENDPOINT_URL` (the SDK's own override) points every client at a local
//! emulator; when it is set, S3 switches to path-style addressing so that
//! `http://localhost:5000/bucket/key` works (virtual-hosted style would need
//! `bucket.localhost` to resolve).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_rds::config::retry::{RetryPartition, TokenBucket};
use aws_sdk_rds::config::SharedHttpClient;
use aws_smithy_runtime_api::client::http::{http_client_fn, HttpClient};

use crate::aws::pacing::{paced_http_client, Pacer};

/// How every AWS call is timed and retried. The SDK's defaults (3
/// attempts, no attempt timeout) turn a throttling storm into failed DBs
/// and a lost answer into a call that waits forever; these are chosen for
/// the worst night instead.
///
/// Retry mode: *standard* (exponential backoff with full jitter, from 1 s
/// doubling up to `max_backoff`), not adaptive: adaptive mode only slows
/// down after it has been throttled, and RDS's throttle is a bucket shared
/// with every other tool in the account, so pacing belongs to the caller,
/// and the retry's job is to outlast what pacing cannot prevent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallPolicy {
    /// Attempts per call, first included. 20 attempts wait about 150 s in
    /// all on average (at least 30 s with near certainty: the chance that
    /// 19 jittered waits add up to less is below 1e-8), so throttling that
    /// lasts half a minute never fails a DB.
    pub max_attempts: u32,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// One attempt, sending to answer. A call whose answer does not come
    /// (lost on the way, a hung connection) is abandoned and retried; the
    /// retry meets the work done ("already exists", 412), which the
    /// adapters treat as success. RDS, S3 and EventBridge answer these
    /// calls in well under a second.
    pub attempt_timeout: Duration,
    /// TCP and TLS connection set-up.
    pub connect_timeout: Duration,
    /// One call, every attempt and wait included: the bound on how long a
    /// broken endpoint can hold one DB's work.
    pub operation_timeout: Duration,
    /// Retry tokens of each client: RDS and S3 per region, EventBridge
    /// (the SDK's retry quota: a retry takes 5 tokens after throttling, 14
    /// after a timeout or a 5xx, and gives them back when the call
    /// succeeds). The SDK's 500 would let only ~35 calls retry at once;
    /// Lifeboat runs up to 64 DBs at once, each with a few calls. Each
    /// client has its own quota, never the SDK's process-wide one for its
    /// service, so that a storm on one region or service cannot starve
    /// another of retries.
    pub retry_tokens: usize,
    /// The pace of RDS calls per region (`aws::pacing`):
    /// `LIFEBOAT_RDS_CALLS_PER_SECOND` and `LIFEBOAT_RDS_BURST`.
    pub rds_calls_per_second: f64,
    pub rds_burst: u32,
}

impl CallPolicy {
    pub const PRODUCTION: CallPolicy = CallPolicy {
        max_attempts: 20,
        max_backoff: Duration::from_secs(20),
        attempt_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        operation_timeout: Duration::from_secs(240),
        retry_tokens: 64 * 3 * 14,
        rds_calls_per_second: crate::lambda::config::DEFAULT_RDS_CALLS_PER_SECOND,
        rds_burst: crate::lambda::config::DEFAULT_RDS_BURST,
    };

    /// The production policy, paced as `config` says.
    pub fn for_config(config: &crate::lambda::config::Config) -> Self {
        CallPolicy {
            rds_calls_per_second: config.rds_calls_per_second,
            rds_burst: config.rds_burst,
            ..Self::PRODUCTION
        }
    }

    fn retry(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_max_backoff(self.max_backoff)
    }

    fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }
}

#[derive(Debug, Clone)]
pub struct Clients {
    sdk: SdkConfig,
    policy: CallPolicy,
    pub region: String,
    /// The function's own region's clients, each built on its first use
    /// (clones share them): building an SDK client resolves its whole
    /// configuration, a fifth of a millisecond each, which a cold start
    /// need not wait for before its first poll.
    own: Arc<Regional>,
    /// RDS and S3 clients for the DR regions, each built on its first use
    /// and kept from then on (clones share them): each RDS client carries
    /// its region's pace, and building one per call would start a new
    /// pace each time. Built lazily because most invocations call a DR
    /// region through one client or none, and a cold start should not pay
    /// for the others.
    regional: Arc<BTreeMap<String, Regional>>,
}

/// One region's clients, each built on its first use.
#[derive(Debug, Default)]
struct Regional {
    rds: OnceLock<aws_sdk_rds::Client>,
    s3: OnceLock<aws_sdk_s3::Client>,
    /// Only the function's own region's: events go to its own bus.
    events: OnceLock<aws_sdk_eventbridge::Client>,
}

impl Clients {
    /// Loads the standard SDK configuration with `region` as the source
    /// region and the credentials Lambda hands the function.
    ///
    /// Lambda puts the execution role's credentials in the function's
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`), so the SDK's default chain would always stop
    /// at its first link; the rest of it (profile files, web identity,
    /// container and instance metadata) cannot apply there, and building
    /// it is most of what loading the configuration costs at a cold start.
    pub async fn load(region: &str, policy: CallPolicy) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .credentials_provider(EnvironmentVariableCredentialsProvider::new())
            .http_client(https_client())
            .load()
            .await;
        Self::with_policy(sdk, policy)
    }

    /// Builds the clients from a given SDK config, with the production
    /// `CallPolicy`; the tests use this to aim them at the emulator with
    /// their own credentials.
    pub fn from_sdk_config(sdk: SdkConfig) -> Self {
        Self::with_policy(sdk, CallPolicy::PRODUCTION)
    }

    /// Builds the clients with `policy` in place of the SDK config's own
    /// retry and timeout settings. Every client shares one HTTPS client
    /// (the config's own, else `https_client`), so one connection pool.
    pub fn with_policy(sdk: SdkConfig, policy: CallPolicy) -> Self {
        let http = sdk.http_client().unwrap_or_else(https_client);
        let sdk = sdk
            .into_builder()
            .http_client(http)
            .retry_config(policy.retry())
            .timeout_config(policy.timeouts())
            .build();
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        Clients {
            own: Arc::default(),
            regional: Arc::default(),
            region,
            policy,
            sdk,
        }
    }

    /// RDS in the function's own region, paced (`aws::pacing`).
    pub fn rds(&self) -> &aws_sdk_rds::Client {
        self.own
            .rds
            .get_or_init(|| build_rds(&self.sdk, self.policy, &self.region))
    }

    /// S3 in the function's own region.
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        self.own
            .s3
            .get_or_init(|| build_s3(&self.sdk, self.policy, None))
    }

    /// EventBridge in the function's own region.
    pub fn events(&self) -> &aws_sdk_eventbridge::Client {
        self.own
            .events
            .get_or_init(|| build_events(&self.sdk, self.policy, &self.region))
    }

    pub fn policy(&self) -> CallPolicy {
        self.policy
    }

    /// The SDK config every client here is built from (the call policy
    /// applied), for a client of a service only one function needs.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// Names `regions` as the DR regions: their RDS and S3 clients are
    /// built on first use, once per cold start, and shared from then on.
    pub fn with_regions(mut self, regions: &[String]) -> Self {
        self.regional = Arc::new(
            regions
                .iter()
                .filter(|r| **r != self.region)
                .map(|r| (r.clone(), Regional::default()))
                .collect(),
        );
        self
    }

    /// An RDS client for `region` (the source region or a DR region),
    /// sharing credentials, endpoint override and retry settings.
    pub fn rds_in(&self, region: &str) -> aws_sdk_rds::Client {
        if region == self.region {
            return self.rds().clone();
        }
        let build = || build_rds(&self.sdk, self.policy, region);
        match self.regional.get(region) {
            Some(clients) => clients.rds.get_or_init(build).clone(),
            None => build(),
        }
    }

    /// An S3 client for `region`, for the catalog bucket there: a bucket is
    /// reached through its own region's endpoint, so a region that is down
    /// takes only its own bucket with it.
    pub fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        if region == self.region {
            return self.s3().clone();
        }
        let build = || build_s3(&self.sdk, self.policy, Some(region));
        match self.regional.get(region) {
            Some(clients) => clients.s3.get_or_init(build).clone(),
            None => build(),
        }
    }
}

/// An RDS client for `region` with its own retry quota and its own pace:
/// RDS throttles each region separately. Build it once per region, so that
/// every call there shares the pace.
fn build_rds(sdk: &SdkConfig, policy: CallPolicy, region: &str) -> aws_sdk_rds::Client {
    let http = sdk.http_client().unwrap_or_else(https_client);
    let pacer = Pacer::new(policy.rds_calls_per_second, policy.rds_burst);
    let config = aws_sdk_rds::config::Builder::from(sdk)
        .region(Region::new(region.to_string()))
        .http_client(paced_http_client(http, pacer))
        .retry_partition(retry_quota(policy, "rds", region))
        .build();
    aws_sdk_rds::Client::from_conf(config)
}

/// The HTTPS client every Lifeboat client uses (hyper with rustls on
/// ring), for one `Clients` and the credential providers, and for anything
/// else that builds SDK clients (the SDK crates are built without their
/// default client). TLS is set up (the system's root certificates read and
/// parsed) on the first request, once, and not when a client is built:
/// the SDK's own client does that for each client built from it, which at
/// a cold start is before the first poll.
pub fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    // `http_client_fn` leaves out the build-time check that makes the
    // SDK's client set up TLS eagerly; `https` makes the connector on first
    // use and keeps it.
    http_client_fn(move |settings, components| https.http_connector(settings, components))
}

/// An S3 client in `region` (else the config's own region), path-style
/// when an endpoint override is set (see the module docs).
fn build_s3(sdk: &SdkConfig, policy: CallPolicy, region: Option<&str>) -> aws_sdk_s3::Client {
    let named = region
        .map(str::to_string)
        .or_else(|| sdk.region().map(|r| r.to_string()));
    let mut config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .retry_partition(retry_quota(
            policy,
            "s3",
            named.as_deref().unwrap_or_default(),
        ));
    if let Some(region) = region {
        config = config.region(Region::new(region.to_string()));
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

fn build_events(sdk: &SdkConfig, policy: CallPolicy, region: &str) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::config::Builder::from(sdk)
        .retry_partition(retry_quota(policy, "events", region))
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

/// A retry quota of `policy.retry_tokens` for one client alone.
fn retry_quota(policy: CallPolicy, service: &str, region: &str) -> RetryPartition {
    RetryPartition::custom(format!("lifeboat-{service}-{region}"))
        .token_bucket(TokenBucket::builder().capacity(policy.retry_tokens).build())
        .build()
}
