//! Seeds a fleet in a fresh emulator account, straight to moto (not through
//! the proxy): the instances many at a time, then the Aurora clusters.

use futures_util::{stream, StreamExt};
use lifeboat::aws::clients::Clients;
use lifeboat_tests::{seed, Account};

use crate::floor::Fleet;

/// Calls to moto in flight while seeding.
const SEED_CONCURRENCY: usize = 16;

/// A seeded account: its fleet, its catalog bucket and the DR region's.
pub struct Seeded {
    pub account: Account,
    pub bucket: String,
    pub dr_bucket: String,
}

pub fn instance_id(i: u64) -> String {
    format!("bench-db-{i:04}")
}

pub fn cluster_id(c: u64) -> String {
    format!("bench-aurora-{c:03}")
}

/// A new account holding `fleet` and empty catalog buckets in `region`
/// and `dr_region`.
pub async fn seed(fleet: &Fleet, region: &str, dr_region: &str) -> Seeded {
    let account = Account::new();
    let clients = Clients::with_policy(account.sdk_config(region), lifeboat_tests::UNPACED);
    let bucket = format!("lifeboat-catalog-{}", account.id);
    seed::bucket_in(clients.s3(), &bucket, region).await;
    let dr_bucket = format!("{bucket}-{dr_region}");
    seed::bucket_in(&clients.s3_in(dr_region), &dr_bucket, dr_region).await;

    let rds = clients.rds();
    let fleet = *fleet;
    stream::iter(0..fleet.instances)
        .map(|i| instance(rds, fleet, i))
        .buffer_unordered(SEED_CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    // One at a time, with nothing else in flight: moto is not thread-safe,
    // and describing a cluster's members while another request adds an
    // instance fails there ("OrderedDict mutated during iteration"); the
    // SDK's retry then finds the cluster half made.
    for c in 0..fleet.clusters {
        cluster(rds, fleet, c).await;
    }
    Seeded {
        account,
        bucket,
        dr_bucket,
    }
}

const TEAM: (&str, &str) = ("team", "bench");

async fn instance(rds: &aws_sdk_rds::Client, fleet: Fleet, i: u64) {
    let engine = ["postgres", "mysql"][(i % 2) as usize];
    let id = instance_id(i);
    if fleet.is_tagged(i) {
        seed::instance(rds, &id, engine, &[seed::SELECT, TEAM]).await;
    } else {
        seed::instance(rds, &id, engine, &[TEAM]).await;
    }
}

async fn cluster(rds: &aws_sdk_rds::Client, fleet: Fleet, c: u64) {
    let engine = ["aurora-postgresql", "aurora-mysql"][(c % 2) as usize];
    let id = cluster_id(c);
    let members: Vec<String> = (1..=fleet.members_per_cluster)
        .map(|m| format!("{id}-{m}"))
        .collect();
    let members: Vec<(&str, &str)> = members
        .iter()
        .map(|m| (m.as_str(), "db.r6g.large"))
        .collect();
    seed::cluster(rds, &id, engine, &members, &[seed::SELECT, TEAM]).await;
}
