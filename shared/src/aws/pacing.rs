//! Pacing RDS's API. RDS throttles each account in each region to a
//! bucket of 300 calls refilled at 12 a second, shared by every tool in the
//! account. Lifeboat keeps its own bucket per region, below that, which
//! every RDS call of a function waits on, retries included: the functions
//! ask for what RDS grants instead of being refused and backing off.
//!
//! The bucket is adaptive: a `Throttling` answer (other tools are using the
//! account's share) halves the rate and empties what was saved up; each
//! call that gets through adds back a little, up to the configured rate.
//!
//! It sits in the RDS clients' HTTP connector (`paced_http_client`), so it
//! sees every attempt the SDK makes, and needs nothing from call sites.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;

/// The slowest the bucket goes after throttling: one call in two seconds.
const MIN_RATE: f64 = 0.5;
/// What each call that gets through adds back to a lowered rate, in calls
/// a second: after a halving from 8/s, about 80 good calls restore it.
const RECOVERY_PER_CALL: f64 = 0.05;
/// Throttling answers within this long of a cut are one event, not many:
/// the calls in flight when the account's bucket ran dry all come back
/// throttled, and one halving is the answer to all of them.
const ONE_CUT_PER: Duration = Duration::from_secs(1);

/// A token bucket: `rate` calls a second, up to `burst` saved up. Pure
/// arithmetic over the instants it is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    configured: f64,
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
    last_cut: Option<Instant>,
}

impl Bucket {
    /// Full, as at a cold start.
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let rate = rate.max(MIN_RATE);
        Bucket {
            configured: rate,
            rate,
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            at: now,
            last_cut: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = self.at.max(now);
    }

    /// Takes a token for a call at `now`, or says how long until one is
    /// there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
    }

    /// RDS refused a call for its rate: half the rate (once per
    /// `ONE_CUT_PER`), nothing saved up.
    pub fn throttled(&mut self, now: Instant) {
        self.refill(now);
        self.tokens = self.tokens.min(0.0);
        if self
            .last_cut
            .is_some_and(|cut| now.saturating_duration_since(cut) < ONE_CUT_PER)
        {
            return;
        }
        self.last_cut = Some(now);
        self.rate = (self.rate / 2.0).max(MIN_RATE);
    }

    /// A call got through: back towards the configured rate.
    pub fn succeeded(&mut self) {
        self.rate = (self.rate + RECOVERY_PER_CALL).min(self.configured);
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }
}

/// A `Bucket` shared by the tasks of an invocation.
#[derive(Debug)]
pub struct Pacer {
    bucket: Mutex<Bucket>,
}

impl Pacer {
    pub fn new(rate: f64, burst: u32) -> Arc<Self> {
        Arc::new(Pacer {
            bucket: Mutex::new(Bucket::new(rate, burst, Instant::now())),
        })
    }

    fn bucket(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a call may be sent.
    pub async fn acquire(&self) {
        loop {
            let wait = match self.bucket().take(Instant::now()) {
                Ok(()) => return,
                Err(wait) => wait,
            };
            tokio::time::sleep(wait).await;
        }
    }

    pub fn throttled(&self) {
        let mut bucket = self.bucket();
        bucket.throttled(Instant::now());
        tracing::warn!(rate = bucket.rate(), "RDS throttled a call: pacing down");
    }

    pub fn succeeded(&self) {
        self.bucket().succeeded();
    }
}

/// `inner`, with every request waiting on `pacer` first, and the answers
/// watched for throttling.
pub fn paced_http_client(inner: SharedHttpClient, pacer: Arc<Pacer>) -> SharedHttpClient {
    http_client_fn(move |settings, components| {
        SharedHttpConnector::new(PacedConnector {
            inner: inner.http_connector(settings, components),
            pacer: pacer.clone(),
        })
    })
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pacer: Arc<Pacer>,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, pacer) = (self.inner.clone(), self.pacer.clone());
        HttpConnectorFuture::new(async move {
            pacer.acquire().await;
            let mut response = inner.call(request).await?;
            let status = response.status().as_u16();
            if status == 400 {
                // RDS's throttling is a 400 like any other refusal; only the
                // (small) error body tells.
                let body = ByteStream::new(response.take_body())
                    .collect()
                    .await
                    .map_err(|e| ConnectorError::io(e.into()))?
                    .into_bytes();
                if is_throttling(&body) {
                    pacer.throttled();
                }
                *response.body_mut() = SdkBody::from(body);
            } else if (200..300).contains(&status) {
                pacer.succeeded();
            }
            Ok(response)
        })
    }
}

/// Whether an RDS error body is a throttling answer.
pub fn is_throttling(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    [
        "<Code>Throttling</Code>",
        "<Code>RequestLimitExceeded</Code>",
        "<Code>ThrottlingException</Code>",
    ]
    .iter()
    .any(|code| text.contains(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lends_its_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(10.0, 3, start);
        for _ in 0..3 {
            bucket.take(start).unwrap();
        }
        let wait = bucket.take(start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        bucket.take(start + wait).unwrap();
        // Saved up no further than the burst.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            bucket.take(later).unwrap();
        }
        assert!(bucket.take(later).is_err());
    }

    #[test]
    fn throttling_halves_the_rate_and_good_calls_bring_it_back() {
        let start = Instant::now();
        let mut bucket = Bucket::new(8.0, 100, start);
        bucket.throttled(start);
        assert_eq!(bucket.rate(), 4.0);
        assert!(
            bucket.take(start).is_err(),
            "nothing saved up after a throttle"
        );
        // The other calls in flight, throttled at the same moment: one cut.
        bucket.throttled(start + Duration::from_millis(300));
        assert_eq!(bucket.rate(), 4.0);
        for s in 1..=10 {
            bucket.throttled(start + Duration::from_secs(2 * s));
        }
        assert_eq!(bucket.rate(), MIN_RATE);
        for _ in 0..1_000 {
            bucket.succeeded();
        }
        assert_eq!(bucket.rate(), 8.0, "never above the configured rate");
    }

    #[test]
    fn throttling_is_told_from_other_refusals() {
        let throttled = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert!(is_throttling(throttled));
        let refused =
            b"<ErrorResponse><Error><Code>DBSnapshotAlreadyExists</Code></Error></ErrorResponse>";
        assert!(!is_throttling(refused));
    }
}
