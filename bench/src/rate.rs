//! How fast the emulator answers through the proxy: the rate the floor
//! divides by, and the time of one call on its own.

use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use lifeboat_tests::Account;
use serde::Serialize;

use lifeboat_tests::proxy::Proxy;

#[derive(Debug, Clone, Serialize)]
pub struct Serving {
    pub latency_ms: u64,
    /// What the proxy adds to each new connection.
    pub connect_latency_ms: u64,
    pub concurrency: usize,
    /// Calls answered per second with `concurrency` calls in flight.
    pub rate_per_s: f64,
    /// Median time of one call made on its own, on a warm connection.
    pub one_call_ms: f64,
    pub calls: usize,
}

/// Fires cheap calls (`DescribeDBClusters` in an empty account) through
/// `proxy`: `calls` of them with `concurrency` in flight, and a few one at
/// a time.
pub async fn measure(proxy: &Proxy, region: &str, concurrency: usize, calls: usize) -> Serving {
    let account = Account {
        endpoint: proxy.url(),
        ..Account::new()
    };
    let config = aws_sdk_rds::config::Builder::from(&account.sdk_config(region))
        .http_client(lifeboat::aws::clients::https_client())
        .build();
    let rds = aws_sdk_rds::Client::from_conf(config);
    let call = || async {
        rds.describe_db_clusters()
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeDBClusters through the proxy: {e:?}"));
    };

    // Open the connections first: their set-up is not what is measured.
    stream::iter(0..concurrency)
        .for_each_concurrent(concurrency, |_| call())
        .await;

    let mut single: Vec<Duration> = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        call().await;
        single.push(started.elapsed());
    }
    single.sort();

    let started = Instant::now();
    stream::iter(0..calls)
        .for_each_concurrent(concurrency, |_| call())
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    proxy.take();

    Serving {
        latency_ms: proxy.latency().as_millis() as u64,
        connect_latency_ms: proxy.connect_latency().as_millis() as u64,
        concurrency,
        rate_per_s: calls as f64 / elapsed,
        one_call_ms: single[single.len() / 2].as_secs_f64() * 1000.0,
        calls,
    }
}
