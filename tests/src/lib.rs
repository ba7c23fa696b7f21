//! Test support shared by the integration tests, the demo and the
//! benchmark: the moto emulator, an isolated account per test, fleets to
//! seed, and a local Lambda Runtime API to run the real binaries through.

// Test support: failing loudly with a message is the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod account;
pub mod binaries;
pub mod eventlog;
pub mod invoke;
pub mod moto;
pub mod proxy;
pub mod runs;
pub mod runtime;
pub mod seed;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use lifeboat::aws::clients::{CallPolicy, Clients};
use lifeboat::lambda::config::Config;
use lifeboat::Context;
use serde_json::Value;

pub use account::Account;

/// The production call policy without the RDS pace: moto has no API
/// throttle, so seeding and the tests that are not about pacing go at
/// moto's speed. `tests/integration/pacing.rs` and `faults.rs` run with the
/// production pace.
pub const UNPACED: CallPolicy = CallPolicy {
    rds_calls_per_second: 1000.0,
    rds_burst: 300,
    ..CallPolicy::PRODUCTION
};

/// The regions tests use as source and DR regions: each world has a
/// catalog bucket in each (its own region's is `bucket`).
pub const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

/// One test's world: a fresh account, a catalog bucket in each of
/// `REGIONS`, an event tap.
pub struct World {
    pub account: Account,
    pub region: String,
    pub bucket: String,
    /// Region -> its catalog bucket, the world's own region included.
    pub buckets: BTreeMap<String, String>,
    pub clients: Clients,
    /// Events already returned by `published`.
    seen: Mutex<HashSet<String>>,
}

impl World {
    pub async fn new(region: &str) -> Self {
        let account = Account::new();
        let clients = Clients::with_policy(account.sdk_config(region), UNPACED);
        let bucket = format!("lifeboat-catalog-{}", account.id);
        seed::bucket_in(clients.s3(), &bucket, region).await;
        let mut buckets = BTreeMap::from([(region.to_string(), bucket.clone())]);
        for other in REGIONS.iter().filter(|r| **r != region) {
            let name = format!("lifeboat-catalog-{}-{other}", account.id);
            seed::bucket_in(&clients.s3_in(other), &name, other).await;
            buckets.insert(other.to_string(), name);
        }
        seed::event_tap(clients.events(), &account, region).await;
        World {
            account,
            region: region.to_string(),
            bucket,
            buckets,
            clients,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// The settings a deployed function would have, plus `extra`. With
    /// `LIFEBOAT_DR_REGIONS` in `extra`, the DR regions' catalog buckets are
    /// set too, unless `extra` sets them.
    pub fn settings(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        self.settings_in(&self.region, extra)
    }

    /// The settings of a function deployed in `region` (a recovery stack's,
    /// say): that region's catalog bucket, plus `extra`.
    pub fn settings_in(&self, region: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.account.env(region);
        env.push((
            "LIFEBOAT_CATALOG_BUCKET".to_string(),
            self.catalog_bucket(region).to_string(),
        ));
        let given = |name: &str| extra.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        if let (Some(regions), None) = (
            given("LIFEBOAT_DR_REGIONS"),
            given("LIFEBOAT_DR_CATALOG_BUCKETS"),
        ) {
            let buckets: Vec<String> = regions
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(|r| format!("{r}={}", self.catalog_bucket(r)))
                .collect();
            env.push(("LIFEBOAT_DR_CATALOG_BUCKETS".to_string(), buckets.join(",")));
        }
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    /// The catalog bucket of `region`, one of `REGIONS`.
    pub fn catalog_bucket(&self, region: &str) -> &str {
        self.buckets.get(region).unwrap_or_else(|| {
            panic!("the test world has no catalog bucket in {region}: add it to REGIONS")
        })
    }

    /// A handler context built exactly as a cold start builds it, from
    /// `settings(extra)`, with the clients aimed at this world.
    pub fn context(&self, extra: &[(&str, &str)]) -> Context {
        self.context_in(&self.region, self.clients.clone(), extra)
    }

    /// A handler context as a function deployed in `region` builds it
    /// (`settings_in`), with `clients` (aimed through a proxy, say).
    pub fn context_in(&self, region: &str, clients: Clients, extra: &[(&str, &str)]) -> Context {
        let env = self.settings_in(region, extra);
        let config =
            Config::from_lookup(|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
                .unwrap_or_else(|e| panic!("test settings: {e}"));
        Context::new(config, clients)
    }

    /// Clients acting in this world as a function deployed in `region`,
    /// every call through `proxy`, timed and retried by `policy`.
    pub fn clients_through(
        &self,
        proxy: &proxy::Proxy,
        region: &str,
        policy: CallPolicy,
    ) -> Clients {
        let mut account = self.account.clone();
        account.endpoint = proxy.url();
        Clients::with_policy(account.sdk_config(region), policy)
    }

    /// Every catalog record, as (key, JSON), in key order.
    pub async fn records(&self) -> Vec<(String, Value)> {
        self.records_in(&self.region).await
    }

    /// Every record in `region`'s catalog, as (key, JSON), in key order.
    pub async fn records_in(&self, region: &str) -> Vec<(String, Value)> {
        let s3 = self.clients.s3_in(region);
        let bucket = self.catalog_bucket(region);
        let pages: Vec<_> = s3
            .list_objects_v2()
            .bucket(bucket)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("list catalog: {e:?}"));
        let listed: Vec<_> = pages.iter().flat_map(|p| p.contents().to_vec()).collect();
        let mut records = Vec::new();
        for object in listed {
            let key = object.key().unwrap_or_default().to_string();
            let body = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("get {key}: {e:?}"))
                .body
                .collect()
                .await
                .unwrap_or_else(|e| panic!("read {key}: {e:?}"))
                .into_bytes();
            let json: Value =
                serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{key} is not JSON: {e}"));
            records.push((key, json));
        }
        records
    }

    /// The `lifeboat` events published since the last call.
    pub fn published(&self) -> Vec<Value> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        eventlog::read_all(&self.account, &self.region)
            .into_iter()
            .filter(|(id, _)| seen.insert(id.clone()))
            .map(|(_, event)| event)
            .collect()
    }
}

/// A sample event from `events/`.
pub fn sample_event(name: &str) -> Value {
    let path = events_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The sample events for one function, names and events apart.
pub fn samples_for(function: &str) -> (Vec<String>, Vec<Value>) {
    sample_events_for(function).into_iter().unzip()
}

/// The sample events for one function: `events/<function>-*.json`, sorted.
pub fn sample_events_for(function: &str) -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap_or_else(|e| panic!("read events/: {e}"))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(&format!("{function}-")) && name.ends_with(".json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| (name.clone(), sample_event(&name)))
        .collect()
}

pub fn events_dir() -> PathBuf {
    moto::repo_root().join("events")
}
