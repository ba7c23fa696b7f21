//! Which snapshots to copy into which DR region, now: pure.
//!
//! RDS allows at most 20 DB snapshot copies and 5 DB cluster snapshot copies
//! in progress into one destination region; what is already in flight there
//! counts. Within those limits the newest recovery points go first (they
//! matter most if the source region is lost); the rest are `Deferred` for
//! the next reconcile. A copy that is already there, in any state, is done.
//! With the DR regions' retention policy, a snapshot that policy would not
//! keep there is not copied: copy and prune never undo each other's work.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::domain::model::{is_default_group, DatabaseKind, Series, Snapshot};
use crate::domain::naming;
use crate::domain::retention::{self, Policy, RecoveryPoint};

pub const RDS_MAX_DB_SNAPSHOT_COPIES: u32 = 20;
pub const RDS_MAX_DB_CLUSTER_SNAPSHOT_COPIES: u32 = 5;

/// Copies allowed in progress per destination region, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyLimits {
    pub instance: u32,
    pub cluster: u32,
}

impl CopyLimits {
    /// RDS's limits, lowered to `configured` where that is smaller.
    pub fn new(configured: Option<u32>) -> Self {
        let lower = |rds: u32| configured.map_or(rds, |c| c.min(rds));
        CopyLimits {
            instance: lower(RDS_MAX_DB_SNAPSHOT_COPIES),
            cluster: lower(RDS_MAX_DB_CLUSTER_SNAPSHOT_COPIES),
        }
    }

    fn of(&self, kind: DatabaseKind) -> u32 {
        match kind {
            DatabaseKind::Instance => self.instance,
            DatabaseKind::Cluster => self.cluster,
        }
    }
}

/// What a DR region holds already.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionState {
    /// Identifiers of the manual snapshots there, in any state, whoever's.
    pub existing: BTreeMap<String, String>,
    /// Lifeboat's snapshots there by series and recovery point (a copy of a
    /// source is the snapshot of the same series and recovery point, by
    /// whatever identifier), with their identifier and ARN.
    pub copies: BTreeMap<(Series, DateTime<Utc>), (String, String)>,
    /// Copies in progress into the region, by kind.
    pub in_flight: BTreeMap<DatabaseKind, u32>,
    /// The recovery points of Lifeboat's snapshots there, by series: what
    /// the region's retention policy decides over.
    pub points: BTreeMap<Series, Vec<RecoveryPoint>>,
}

impl RegionState {
    pub fn from_snapshots(snapshots: &[Snapshot]) -> Self {
        let mut state = RegionState::default();
        for s in snapshots {
            state.existing.insert(s.id.clone(), s.arn.clone());
            if s.is_copy_in_progress() {
                *state.in_flight.entry(s.kind).or_insert(0) += 1;
            }
            if let (true, Some(time)) = (s.is_managed(), s.recovery_point()) {
                state
                    .copies
                    .insert((s.series(), time), (s.id.clone(), s.arn.clone()));
                state
                    .points
                    .entry(s.series())
                    .or_default()
                    .push(RecoveryPoint {
                        id: s.id.clone(),
                        time,
                        available: s.is_available(),
                    });
            }
        }
        state
    }
}

impl RegionState {
    /// The copy of `source` here, if there is one: identifier and ARN.
    pub fn copy_of(&self, source: &Snapshot) -> Option<&(String, String)> {
        let time = source.recovery_point()?;
        self.copies.get(&(source.series(), time))
    }

    /// The identifier a new copy of `source` gets here: the source's own,
    /// or, when a snapshot that is not its copy has that name (two stacks
    /// whose DR regions overlap may both protect an `orders`),
    /// `naming::copy_identifier`; `None` when both names are taken.
    fn target_id(&self, source: &Snapshot) -> Option<String> {
        if !self.existing.contains_key(&source.id) {
            return Some(source.id.clone());
        }
        let other = naming::copy_identifier(&source.id, source.source_region().unwrap_or_default());
        (!self.existing.contains_key(&other)).then_some(other)
    }
}

/// The settings a plan needs.
#[derive(Debug, Clone, Default)]
pub struct CopySettings<'a> {
    pub kms_keys: Option<&'a BTreeMap<String, String>>,
    pub option_groups: Option<&'a BTreeMap<(String, String), String>>,
    pub limits: Option<CopyLimits>,
    /// The DR regions' retention policy, and now.
    pub retention: Option<(&'a Policy, DateTime<Utc>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CopyAction {
    /// The copy is there already (or in progress): nothing to do.
    Exists {
        arn: String,
    },
    Start {
        /// The copy's identifier: the source's, unless another snapshot in
        /// the region has it (another stack's same-named DB, say), and then
        /// `naming::copy_identifier`.
        target_id: String,
        kms_key_id: Option<String>,
        option_group: Option<String>,
    },
    Deferred {
        reason: String,
    },
    /// Not copied, by design (the DR policy would not keep the copy).
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCopy<'a> {
    pub snapshot: &'a Snapshot,
    pub region: String,
    pub action: CopyAction,
}

/// Plans a copy of every snapshot in `sources` into every region in
/// `regions`, given what each region holds.
pub fn plan<'a>(
    sources: &'a [Snapshot],
    regions: &[(String, RegionState)],
    settings: &CopySettings,
) -> Vec<PlannedCopy<'a>> {
    let limits = settings.limits.unwrap_or(CopyLimits::new(None));
    let mut order: Vec<&Snapshot> = sources.iter().collect();
    // Newest first; ties broken by identifier so a plan is reproducible.
    order.sort_by(|a, b| {
        b.recovery_point()
            .cmp(&a.recovery_point())
            .then(a.id.cmp(&b.id))
    });

    let mut planned = Vec::new();
    for (region, state) in regions {
        let unwanted = settings
            .retention
            .map(|(policy, now)| unwanted(&order, state, policy, now))
            .unwrap_or_default();
        let mut seen = BTreeSet::new();
        let mut slots: BTreeMap<DatabaseKind, u32> =
            [DatabaseKind::Instance, DatabaseKind::Cluster]
                .into_iter()
                .map(|kind| {
                    let used = state.in_flight.get(&kind).copied().unwrap_or(0);
                    (kind, limits.of(kind).saturating_sub(used))
                })
                .collect();
        for snapshot in &order {
            if !seen.insert((snapshot.kind, snapshot.id.as_str())) {
                continue;
            }
            let action = if let Some((_, arn)) = state.copy_of(snapshot) {
                CopyAction::Exists { arn: arn.clone() }
            } else if let (true, Some((policy, _))) =
                (unwanted.contains(snapshot.id.as_str()), settings.retention)
            {
                CopyAction::Skipped {
                    reason: format!(
                        "the DR retention policy {policy} would not keep a copy in {region} (prune would delete it)"
                    ),
                }
            } else {
                match requirements(snapshot, region, settings) {
                    Err(reason) => CopyAction::Failed { reason },
                    Ok(_) if state.target_id(snapshot).is_none() => CopyAction::Failed {
                        reason: format!(
                            "{region} has snapshots named {} and {} that are not copies of it: rename or delete one",
                            snapshot.id,
                            naming::copy_identifier(&snapshot.id, snapshot.source_region().unwrap_or_default())
                        ),
                    },
                    Ok((kms_key_id, option_group)) => {
                        let free = slots.entry(snapshot.kind).or_insert(0);
                        if *free == 0 {
                            CopyAction::Deferred {
                                reason: format!(
                                    "{} {} copies in progress into {region} is the limit; the next reconcile copies it",
                                    limits.of(snapshot.kind),
                                    kind_name(snapshot.kind),
                                ),
                            }
                        } else {
                            *free -= 1;
                            CopyAction::Start {
                                target_id: state.target_id(snapshot).unwrap_or_default(),
                                kms_key_id,
                                option_group,
                            }
                        }
                    }
                }
            };
            planned.push(PlannedCopy {
                snapshot,
                region: region.clone(),
                action,
            });
        }
    }
    planned
}

/// The sources that `region`'s policy would not keep were they all copied:
/// the policy decides over each series' copies there and the sources not
/// copied yet, as prune will once they are.
fn unwanted<'a>(
    sources: &[&'a Snapshot],
    state: &RegionState,
    policy: &Policy,
    now: DateTime<Utc>,
) -> BTreeSet<&'a str> {
    let mut series: BTreeMap<Series, (Vec<RecoveryPoint>, Vec<&'a str>)> = BTreeMap::new();
    for s in sources {
        let Some(time) = s.recovery_point() else {
            continue;
        };
        if state.copy_of(s).is_some() {
            continue;
        }
        let (points, new) = series.entry(s.series()).or_default();
        points.push(RecoveryPoint {
            id: s.id.clone(),
            time,
            available: true,
        });
        new.push(s.id.as_str());
    }
    let mut unwanted = BTreeSet::new();
    for (key, (mut points, new)) in series {
        points.extend(state.points.get(&key).into_iter().flatten().cloned());
        let verdicts = retention::decide(policy, &points, now);
        unwanted.extend(
            new.into_iter()
                .filter(|id| verdicts.iter().any(|v| v.id == *id && !v.is_kept())),
        );
    }
    unwanted
}

fn kind_name(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::Instance => "DB snapshot",
        DatabaseKind::Cluster => "DB cluster snapshot",
    }
}

/// The KMS key and option group a copy into `region` needs, or why it can't
/// be made.
fn requirements(
    snapshot: &Snapshot,
    region: &str,
    settings: &CopySettings,
) -> Result<(Option<String>, Option<String>), String> {
    let kms_key_id = if snapshot.encrypted {
        // KMS keys are regional: the copy must be re-encrypted with a key
        // that lives in the DR region.
        let key = settings.kms_keys.and_then(|keys| keys.get(region));
        match key {
            Some(key) => Some(key.clone()),
            None => {
                return Err(format!(
                    "snapshot {} is encrypted and LIFEBOAT_DR_KMS_KEYS has no key for {region}",
                    snapshot.id
                ))
            }
        }
    } else {
        None
    };
    let option_group = match &snapshot.option_group {
        Some(group) if !is_default_group(group) => {
            let target = settings
                .option_groups
                .and_then(|groups| groups.get(&(region.to_string(), group.clone())));
            match target {
                Some(target) => Some(target.clone()),
                None => {
                    return Err(format!(
                        "snapshot {} uses option group {group}, which has no counterpart for {region} \
                         in LIFEBOAT_DR_OPTION_GROUPS (add {region}:{group}=<option group in {region}>)",
                        snapshot.id
                    ))
                }
            }
        }
        _ => None,
    };
    Ok((kms_key_id, option_group))
}

/// How long a snapshot may wait for a copy slot before its deferral is a
/// failure (so the function's error alarm fires): RDS's copy limits clear
/// within minutes unless something is stuck.
pub const MAX_DEFERRAL_SECONDS: i64 = 3600;

/// A deferral that has gone on too long: the snapshot was taken more than
/// `MAX_DEFERRAL_SECONDS` before `now` and still has no copy. The reason to
/// fail with, or `None` while waiting is still fine.
pub fn overdue(snapshot: &Snapshot, now: DateTime<Utc>) -> Option<String> {
    let since = snapshot.created_at.or(snapshot.recovery_point())?;
    let waited = (now - since).num_seconds();
    (waited > MAX_DEFERRAL_SECONDS).then(|| {
        format!(
            "no copy slot for {} min since the snapshot was taken ({}), more than the {} min a deferral may last: copies into this region are stuck or too many",
            waited / 60,
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            MAX_DEFERRAL_SECONDS / 60
        )
    })
}

/// RDS answers both "too many copies in progress" and "too many manual
/// snapshots" with `SnapshotQuotaExceeded`; only the message tells them
/// apart ("Cannot copy more than 5 snapshots across regions" versus "Cannot
/// create more than 100 manual snapshots").
pub fn is_copy_limit_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("copy")
        || m.contains("copies")
        || m.contains("in progress")
        || m.contains("concurrent")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn snapshot(id: &str, kind: DatabaseKind, hour: u32) -> Snapshot {
        Snapshot {
            id: id.to_string(),
            arn: format!("arn:aws:rds:us-east-1:123456789012:snapshot:{id}"),
            kind,
            database: "orders".to_string(),
            status: "available".to_string(),
            engine: "postgres".to_string(),
            encrypted: false,
            kms_key_id: None,
            option_group: None,
            tags: BTreeMap::new(),
            created_at: Some(Utc.with_ymd_and_hms(2026, 11, 24, hour, 0, 0).unwrap()),
            copied_from: None,
            carried: Default::default(),
        }
    }

    fn regions(names: &[&str]) -> Vec<(String, RegionState)> {
        names
            .iter()
            .map(|r| (r.to_string(), RegionState::default()))
            .collect()
    }

    fn actions<'a>(plan: &'a [PlannedCopy], region: &str) -> Vec<(&'a str, &'a CopyAction)> {
        plan.iter()
            .filter(|p| p.region == region)
            .map(|p| (p.snapshot.id.as_str(), &p.action))
            .collect()
    }

    #[test]
    fn every_snapshot_goes_to_every_region() {
        let sources = [
            snapshot("a", DatabaseKind::Instance, 1),
            snapshot("b", DatabaseKind::Cluster, 2),
        ];
        let plan = plan(
            &sources,
            &regions(&["us-west-2", "eu-west-1"]),
            &CopySettings::default(),
        );
        assert_eq!(plan.len(), 4);
        assert!(plan.iter().all(|p| matches!(
            &p.action,
            CopyAction::Start {
                target_id,
                kms_key_id: None,
                option_group: None
            } if *target_id == p.snapshot.id
        )));
    }

    /// A Lifeboat snapshot of orders taken in `source_region` at 01:00.
    fn managed(id: &str, source_region: &str) -> Snapshot {
        let tags = [
            ("lifeboat:managed", "true"),
            ("lifeboat:source-db", "orders"),
            ("lifeboat:source-region", source_region),
            ("lifeboat:created-at", "2026-11-24T01:00:00Z"),
        ];
        Snapshot {
            arn: format!("arn:{source_region}:{id}"),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..snapshot(id, DatabaseKind::Instance, 1)
        }
    }

    #[test]
    fn what_is_there_already_is_not_copied_again() {
        let id = "lifeboat-orders-20261124-0100";
        let sources = [managed(id, "us-east-1")];
        let state = RegionState::from_snapshots(&[managed(id, "us-east-1")]);
        let plan = plan(
            &sources,
            &[("us-west-2".into(), state)],
            &CopySettings::default(),
        );
        assert_eq!(
            plan[0].action,
            CopyAction::Exists {
                arn: format!("arn:us-east-1:{id}")
            }
        );
    }

    #[test]
    fn a_copy_whose_name_another_snapshot_has_is_named_apart() {
        // Another stack protects an orders in us-west-2, on the same
        // schedule: its snapshot there has the name this copy would get.
        let id = "lifeboat-orders-20261124-0100";
        let sources = [managed(id, "us-east-1")];
        let theirs = managed(id, "us-west-2");
        let state = RegionState::from_snapshots(std::slice::from_ref(&theirs));
        let planned = plan(
            &sources,
            &[("us-west-2".into(), state)],
            &CopySettings::default(),
        );
        let CopyAction::Start { target_id, .. } = &planned[0].action else {
            panic!("{:?}", planned[0].action)
        };
        assert_eq!(target_id, "lifeboat-orders-20261124-0100-us-east-1");

        // Once made, that copy is found by series and recovery point.
        let ours = Snapshot {
            id: target_id.clone(),
            ..managed(id, "us-east-1")
        };
        let state = RegionState::from_snapshots(&[theirs.clone(), ours]);
        let planned = plan(
            &sources,
            &[("us-west-2".into(), state)],
            &CopySettings::default(),
        );
        assert!(matches!(planned[0].action, CopyAction::Exists { .. }));

        // Both names taken by others: refused, never mistaken for a copy.
        let squatter = Snapshot {
            id: target_id.clone(),
            ..managed(id, "eu-west-1")
        };
        let state = RegionState::from_snapshots(&[theirs, squatter]);
        let planned = plan(
            &sources,
            &[("us-west-2".into(), state)],
            &CopySettings::default(),
        );
        let CopyAction::Failed { reason } = &planned[0].action else {
            panic!("{:?}", planned[0].action)
        };
        assert!(reason.contains("not copies of it"), "{reason}");
    }

    #[test]
    fn the_limit_counts_copies_in_flight_and_defers_the_oldest() {
        let sources: Vec<Snapshot> = (0..8)
            .map(|h| snapshot(&format!("c{h}"), DatabaseKind::Cluster, h))
            .collect();
        let in_flight = Snapshot {
            status: "copying".into(),
            copied_from: Some("arn:source".into()),
            ..snapshot("other", DatabaseKind::Cluster, 0)
        };
        let state = RegionState::from_snapshots(&[in_flight]);
        assert_eq!(state.in_flight[&DatabaseKind::Cluster], 1);
        let plan = plan(
            &sources,
            &[("us-west-2".into(), state)],
            &CopySettings::default(),
        );
        let started: Vec<&str> = actions(&plan, "us-west-2")
            .into_iter()
            .filter(|(_, a)| matches!(a, CopyAction::Start { .. }))
            .map(|(id, _)| id)
            .collect();
        // 5 allowed, 1 in flight: the 4 newest start.
        assert_eq!(started, ["c7", "c6", "c5", "c4"]);
        let deferred = actions(&plan, "us-west-2")
            .into_iter()
            .filter(|(_, a)| matches!(a, CopyAction::Deferred { .. }))
            .count();
        assert_eq!(deferred, 4);
    }

    #[test]
    fn instance_and_cluster_limits_are_separate_and_can_be_lowered() {
        let mut sources: Vec<Snapshot> = (0..3)
            .map(|h| snapshot(&format!("i{h}"), DatabaseKind::Instance, h))
            .collect();
        sources.extend((0..3).map(|h| snapshot(&format!("c{h}"), DatabaseKind::Cluster, h)));
        let settings = CopySettings {
            limits: Some(CopyLimits::new(Some(2))),
            ..CopySettings::default()
        };
        let plan = plan(&sources, &regions(&["us-west-2"]), &settings);
        let count = |kind: DatabaseKind, started: bool| {
            plan.iter()
                .filter(|p| {
                    p.snapshot.kind == kind
                        && matches!(p.action, CopyAction::Start { .. }) == started
                })
                .count()
        };
        assert_eq!(
            (
                count(DatabaseKind::Instance, true),
                count(DatabaseKind::Instance, false)
            ),
            (2, 1)
        );
        assert_eq!(
            (
                count(DatabaseKind::Cluster, true),
                count(DatabaseKind::Cluster, false)
            ),
            (2, 1)
        );
        assert_eq!(
            CopyLimits::new(Some(50)),
            CopyLimits {
                instance: 20,
                cluster: 5
            }
        );
        assert_eq!(
            CopyLimits::new(Some(10)),
            CopyLimits {
                instance: 10,
                cluster: 5
            }
        );
    }

    #[test]
    fn an_encrypted_snapshot_needs_the_regions_key_and_fails_only_there() {
        let sources = [Snapshot {
            encrypted: true,
            ..snapshot("a", DatabaseKind::Instance, 1)
        }];
        let keys = BTreeMap::from([("us-west-2".to_string(), "alias/dr-west".to_string())]);
        let settings = CopySettings {
            kms_keys: Some(&keys),
            ..CopySettings::default()
        };
        let plan = plan(&sources, &regions(&["us-west-2", "eu-west-1"]), &settings);
        assert_eq!(
            actions(&plan, "us-west-2")[0].1,
            &CopyAction::Start {
                target_id: "a".into(),
                kms_key_id: Some("alias/dr-west".into()),
                option_group: None
            }
        );
        let CopyAction::Failed { reason } = actions(&plan, "eu-west-1")[0].1 else {
            panic!()
        };
        assert!(
            reason.contains("encrypted") && reason.contains("eu-west-1"),
            "{reason}"
        );
    }

    #[test]
    fn a_deferral_longer_than_an_hour_is_overdue() {
        let s = snapshot("lifeboat-orders-x", DatabaseKind::Instance, 4);
        let taken = s.created_at.unwrap();
        assert_eq!(overdue(&s, taken + chrono::Duration::minutes(59)), None);
        let late = overdue(&s, taken + chrono::Duration::minutes(61)).unwrap();
        assert!(late.contains("61 min") && late.contains("60 min"), "{late}");
    }

    #[test]
    fn what_the_dr_policy_would_not_keep_is_not_copied() {
        // A day's snapshot at hours 0-5 of 2026-11-24, and the copy of hour
        // 5 already in the region.
        let managed = |id: &str, hour| {
            let mut s = snapshot(id, DatabaseKind::Instance, hour);
            s.tags
                .insert(crate::domain::tags::MANAGED.into(), "true".into());
            s.tags.insert(
                crate::domain::tags::SOURCE_REGION.into(),
                "us-east-1".into(),
            );
            s
        };
        let sources: Vec<Snapshot> = (0..6)
            .map(|h| managed(&format!("lifeboat-s{h}"), h))
            .collect();
        let state = RegionState::from_snapshots(&[managed("lifeboat-s5", 5)]);
        let policy: Policy = "last=3".parse().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let settings = CopySettings {
            retention: Some((&policy, now)),
            ..CopySettings::default()
        };
        let planned = plan(&sources, &[("us-west-2".into(), state)], &settings);
        let by_id = |id: &str| &planned.iter().find(|p| p.snapshot.id == id).unwrap().action;
        assert!(matches!(by_id("lifeboat-s5"), CopyAction::Exists { .. }));
        assert!(matches!(by_id("lifeboat-s4"), CopyAction::Start { .. }));
        assert!(matches!(by_id("lifeboat-s3"), CopyAction::Start { .. }));
        for id in ["lifeboat-s2", "lifeboat-s1", "lifeboat-s0"] {
            let CopyAction::Skipped { reason } = by_id(id) else {
                panic!("{id}: {:?}", by_id(id))
            };
            assert!(reason.contains("last=3"), "{reason}");
        }
        // Without a policy, everything is copied.
        let all = plan(&sources, &regions(&["us-west-2"]), &CopySettings::default());
        assert!(all
            .iter()
            .all(|p| matches!(p.action, CopyAction::Start { .. })));
    }

    #[test]
    fn a_custom_option_group_needs_a_counterpart() {
        let sources = [
            Snapshot {
                option_group: Some("ora-tde".into()),
                ..snapshot("tde", DatabaseKind::Instance, 1)
            },
            Snapshot {
                option_group: Some("default:postgres-16".into()),
                ..snapshot("plain", DatabaseKind::Instance, 2)
            },
        ];
        let groups = BTreeMap::from([(
            ("us-west-2".to_string(), "ora-tde".to_string()),
            "ora-tde-west".to_string(),
        )]);
        let settings = CopySettings {
            option_groups: Some(&groups),
            ..CopySettings::default()
        };
        let plan = plan(&sources, &regions(&["us-west-2", "eu-west-1"]), &settings);
        let west = actions(&plan, "us-west-2");
        assert!(west.contains(&(
            "tde",
            &CopyAction::Start {
                target_id: "tde".into(),
                kms_key_id: None,
                option_group: Some("ora-tde-west".into())
            }
        )));
        assert!(west.contains(&(
            "plain",
            &CopyAction::Start {
                target_id: "plain".into(),
                kms_key_id: None,
                option_group: None
            }
        )));
        let eu = actions(&plan, "eu-west-1");
        let (_, CopyAction::Failed { reason }) = eu.iter().find(|(id, _)| *id == "tde").unwrap()
        else {
            panic!()
        };
        assert!(reason.contains("eu-west-1:ora-tde="), "{reason}");
    }

    #[test]
    fn failures_use_no_slot() {
        let mut sources: Vec<Snapshot> = (0..5)
            .map(|h| Snapshot {
                encrypted: true,
                ..snapshot(&format!("e{h}"), DatabaseKind::Cluster, h + 10)
            })
            .collect();
        sources.extend((0..5).map(|h| snapshot(&format!("p{h}"), DatabaseKind::Cluster, h)));
        let plan = plan(&sources, &regions(&["us-west-2"]), &CopySettings::default());
        let started = plan
            .iter()
            .filter(|p| matches!(p.action, CopyAction::Start { .. }))
            .count();
        assert_eq!(started, 5);
    }

    #[test]
    fn the_two_snapshot_quota_messages_are_told_apart() {
        assert!(is_copy_limit_message(
            "Cannot copy more than 5 snapshots across regions"
        ));
        assert!(is_copy_limit_message(
            "Too many snapshot copies in progress"
        ));
        assert!(!is_copy_limit_message(
            "Cannot create more than 100 manual snapshots"
        ));
        assert!(!is_copy_limit_message(
            "The request cannot be processed because it would exceed the maximum number of snapshots."
        ));
        // SnapshotQuotaExceededFault as the RDS API reference words it.
        assert!(!is_copy_limit_message(
            "The request would result in the user exceeding the allowed number of DB snapshots."
        ));
    }
}
