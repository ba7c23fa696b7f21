//! The floor: the least a run could take for a fleet, given the calls it
//! must make and how fast the emulator (through the proxy) serves them.
//!
//! `floor = max(minimum calls / serving rate,
//!              critical path × one call + one connection set-up)`
//!
//! - *minimum calls*: what no implementation can do without (below).
//! - *serving rate*: calls a second that the emulator answers through the
//!   proxy with the function's concurrency, measured (`rate::measure`). At
//!   latency L, concurrency C and emulator time s per call it is about
//!   `min(emulator's own rate, C / (L + s))`.
//! - *critical path*: calls that must happen one after another (pages of a
//!   paginated describe, then create, then its record, then the event
//!   batch), each taking at least one call's round trip on a warm
//!   connection; a cold start opens at least its first connection on that
//!   path (the others can be opened meanwhile).

use serde::Serialize;

/// RDS's page size limit for the `Describe*` calls (`MaxRecords` ≤ 100).
pub const PAGE: u64 = 100;
/// PutEvents takes up to 10 entries a call.
pub const EVENTS_PER_CALL: u64 = 10;
/// RDS allows 20 DB snapshot copies and 5 DB cluster snapshot copies in
/// progress per destination region.
pub const INSTANCE_COPIES_IN_FLIGHT: u64 =
    lifeboat::domain::copy_plan::RDS_MAX_DB_SNAPSHOT_COPIES as u64;
pub const CLUSTER_COPIES_IN_FLIGHT: u64 =
    lifeboat::domain::copy_plan::RDS_MAX_DB_CLUSTER_SNAPSHOT_COPIES as u64;

/// The fleet a run acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fleet {
    /// Standalone DB instances.
    pub instances: u64,
    /// Of those, the ones without the selection tag.
    pub untagged: u64,
    /// Aurora clusters, all tagged.
    pub clusters: u64,
    pub members_per_cluster: u64,
}

/// moto answers a DescribeDBClusters page in time that grows with clusters
/// times instances: with 500 clusters among 11,000 instances a page took
/// longer than the functions' 10 s attempt timeout, every attempt timed
/// out, and the run failed on moto, not on anything RDS does.
pub const MAX_CLUSTERS: u64 = 50;

impl Fleet {
    /// `n` standalone instances, one in ten untagged; `n / 20` Aurora
    /// clusters (at least one) with two members each.
    /// `n` instances, one in ten untagged, and `n`/20 Aurora clusters of
    /// two members, at least one and at most `MAX_CLUSTERS`.
    pub fn of_size(n: u64) -> Self {
        Fleet {
            instances: n,
            untagged: n / 10,
            clusters: (n / 20).clamp(1, MAX_CLUSTERS),
            members_per_cluster: 2,
        }
    }

    /// Whether standalone instance `i` (0-based) carries the selection tag.
    pub fn is_tagged(&self, i: u64) -> bool {
        // Spread evenly: every tenth instance is untagged.
        !(self.untagged > 0 && i % 10 == 9 && i / 10 < self.untagged)
    }

    /// Every DB instance RDS lists, cluster members included.
    pub fn all_instances(&self) -> u64 {
        self.instances + self.clusters * self.members_per_cluster
    }

    pub fn selected_instances(&self) -> u64 {
        self.instances - self.untagged
    }

    pub fn selected(&self) -> u64 {
        self.selected_instances() + self.clusters
    }
}

fn pages(items: u64) -> u64 {
    items.max(1).div_ceil(PAGE)
}

/// The calls a run cannot do without, by operation, and how many of them
/// must happen one after another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Minimum {
    pub calls: Vec<(&'static str, u64)>,
    pub critical_path: u64,
}

/// The operations in a `Minimum` that are not RDS's: the catalog's and
/// the events'.
const NOT_RDS: [&str; 4] = ["PutObject", "GetObject", "ListObjectsV2", "PutEvents"];

impl Minimum {
    pub fn total(&self) -> u64 {
        self.calls.iter().map(|(_, n)| n).sum()
    }

    /// The calls RDS's API throttle counts.
    pub fn rds_calls(&self) -> u64 {
        self.calls
            .iter()
            .filter(|(op, _)| !NOT_RDS.contains(op))
            .map(|(_, n)| n)
            .sum()
    }

    #[cfg(test)]
    pub fn of(&self, operation: &str) -> u64 {
        self.calls
            .iter()
            .filter(|(op, _)| *op == operation)
            .map(|(_, n)| n)
            .sum()
    }
}

/// `lifeboat-snapshot` on a schedule over `fleet` in a fresh account:
/// list the fleet (tags come with each page) and the manual snapshots
/// already taken (one empty page each: a snapshot without its record is
/// repaired, so they must be looked at), one create and one catalog record
/// per selected DB, the events in batches, and the run's record.
pub fn snapshot(fleet: &Fleet) -> Minimum {
    let instance_pages = pages(fleet.all_instances());
    let cluster_pages = pages(fleet.clusters);
    let selected = fleet.selected();
    Minimum {
        calls: vec![
            ("DescribeDBInstances", instance_pages),
            ("DescribeDBClusters", cluster_pages),
            ("DescribeDBSnapshots", 1),
            ("DescribeDBClusterSnapshots", 1),
            ("CreateDBSnapshot", fleet.selected_instances()),
            ("CreateDBClusterSnapshot", fleet.clusters),
            ("PutObject", selected + 1),
            ("PutEvents", selected.div_ceil(EVENTS_PER_CALL)),
        ],
        // The listings run side by side; then create, record, announce,
        // and the run's record.
        critical_path: instance_pages.max(cluster_pages) + 4,
    }
}

/// How many copies one reconcile can start into an empty DR region.
pub fn copies_started(fleet: &Fleet) -> (u64, u64) {
    (
        fleet.selected_instances().min(INSTANCE_COPIES_IN_FLIGHT),
        fleet.clusters.min(CLUSTER_COPIES_IN_FLIGHT),
    )
}

/// `lifeboat-copy` reconciling into one empty DR region after a snapshot
/// run over `fleet`: list the manual snapshots in the source and the DR
/// region and what the catalogs hold (the source's copy records; the DR
/// catalog's snapshot and copy records), start what RDS's in-flight limits
/// allow, and for each copy its record in both catalogs and the source
/// snapshot's record read and written into the DR catalog; the events in
/// batches and the run's record.
pub fn copy(fleet: &Fleet) -> Minimum {
    let source_pages = pages(fleet.selected_instances());
    let source_cluster_pages = pages(fleet.clusters);
    let (instances, clusters) = copies_started(fleet);
    let copies = instances + clusters;
    Minimum {
        calls: vec![
            // Source and DR region, one listing each.
            ("DescribeDBSnapshots", source_pages + 1),
            ("DescribeDBClusterSnapshots", source_cluster_pages + 1),
            ("ListObjectsV2", 3),
            ("CopyDBSnapshot", instances),
            ("CopyDBClusterSnapshot", clusters),
            ("GetObject", copies),
            ("PutObject", copies * 3 + 1),
            ("PutEvents", copies.div_ceil(EVENTS_PER_CALL)),
        ],
        // All the listings can run side by side; then copy, the records
        // (the snapshot's record is read before it is written), announce,
        // and the run's record.
        critical_path: source_pages.max(source_cluster_pages) + 6,
    }
}

/// The floor in milliseconds: see the module docs.
pub fn floor_ms(minimum: &Minimum, rate_per_s: f64, one_call_ms: f64, connect_ms: f64) -> f64 {
    let throughput_bound = if rate_per_s > 0.0 {
        minimum.total() as f64 * 1000.0 / rate_per_s
    } else {
        0.0
    };
    let latency_bound = minimum.critical_path as f64 * one_call_ms + connect_ms;
    throughput_bound.max(latency_bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_of_ten_has_one_cluster_and_one_untagged_instance() {
        let fleet = Fleet::of_size(10);
        assert_eq!(fleet.clusters, 1);
        assert_eq!(fleet.all_instances(), 12);
        assert_eq!((0..10).filter(|i| !fleet.is_tagged(*i)).count(), 1);
        assert_eq!(fleet.selected(), 10);
    }

    #[test]
    fn the_snapshot_minimum_is_per_page_not_per_db() {
        let m = snapshot(&Fleet::of_size(1000));
        assert_eq!(m.of("DescribeDBInstances"), 11); // 1000 + 50 × 2 members
        assert_eq!(m.of("DescribeDBClusters"), 1);
        assert_eq!(m.of("CreateDBSnapshot"), 900);
        assert_eq!(m.of("CreateDBClusterSnapshot"), 50);
        assert_eq!(m.of("DescribeDBSnapshots"), 1);
        assert_eq!(m.of("PutObject"), 950 + 1); // and the run's record
        assert_eq!(m.of("PutEvents"), 95);
        assert_eq!(m.total(), 11 + 1 + 2 + 900 + 50 + 951 + 95);
        assert_eq!(m.rds_calls(), 11 + 1 + 2 + 900 + 50);
        assert_eq!(m.critical_path, 15);
    }

    #[test]
    fn the_copy_minimum_respects_rds_in_flight_limits() {
        let m = copy(&Fleet::of_size(1000));
        assert_eq!(m.of("CopyDBSnapshot"), 20);
        assert_eq!(m.of("CopyDBClusterSnapshot"), 5);
        assert_eq!(m.of("DescribeDBSnapshots"), 9 + 1);
        assert_eq!(m.of("PutEvents"), 3);
        // Each copy's record in both catalogs, the snapshot's record read
        // and put into the DR catalog; the run's record.
        assert_eq!(m.of("GetObject"), 25);
        assert_eq!(m.of("PutObject"), 25 * 3 + 1);
        assert_eq!(m.rds_calls(), 10 + 2 + 25);
        let small = copy(&Fleet::of_size(10));
        assert_eq!(small.of("CopyDBSnapshot"), 9);
        assert_eq!(small.of("CopyDBClusterSnapshot"), 1);
    }

    #[test]
    fn the_floor_is_the_larger_of_throughput_and_critical_path() {
        let m = Minimum {
            calls: vec![("X", 100)],
            critical_path: 4,
        };
        assert_eq!(floor_ms(&m, 200.0, 1.0, 0.0), 500.0);
        assert_eq!(floor_ms(&m, 10_000.0, 40.0, 40.0), 200.0);
    }
}
