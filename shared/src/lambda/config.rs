//! Settings, read once from the environment at cold start and validated.
//!
//! A missing or malformed setting stops start-up with an error naming it, so a
//! misconfigured deployment fails on its first invocation, loudly, instead of
//! doing the wrong thing quietly.

use std::collections::BTreeMap;

use crate::domain::copy_plan::RDS_MAX_DB_SNAPSHOT_COPIES;
use crate::domain::retention::Policy;
use crate::domain::tags::TagFilter;
use crate::error::Error;

pub const CATALOG_BUCKET: &str = "LIFEBOAT_CATALOG_BUCKET";
pub const CATALOG_PREFIX: &str = "LIFEBOAT_CATALOG_PREFIX";
pub const EVENT_BUS: &str = "LIFEBOAT_EVENT_BUS";
pub const SELECT_TAG: &str = "LIFEBOAT_SELECT_TAG";
pub const CONCURRENCY: &str = "LIFEBOAT_CONCURRENCY";
pub const DR_REGIONS: &str = "LIFEBOAT_DR_REGIONS";
pub const DR_KMS_KEYS: &str = "LIFEBOAT_DR_KMS_KEYS";
pub const MAX_INFLIGHT_COPIES: &str = "LIFEBOAT_MAX_INFLIGHT_COPIES";
pub const DR_OPTION_GROUPS: &str = "LIFEBOAT_DR_OPTION_GROUPS";
pub const RETENTION: &str = "LIFEBOAT_RETENTION";
pub const DR_RETENTION: &str = "LIFEBOAT_DR_RETENTION";
pub const DRY_RUN: &str = "LIFEBOAT_DRY_RUN";
pub const DR_CATALOG_BUCKETS: &str = "LIFEBOAT_DR_CATALOG_BUCKETS";
pub const RDS_CALLS_PER_SECOND: &str = "LIFEBOAT_RDS_CALLS_PER_SECOND";
pub const RDS_BURST: &str = "LIFEBOAT_RDS_BURST";
pub const STACK_ROLE: &str = "LIFEBOAT_STACK_ROLE";
pub const RPO_SECONDS: &str = "LIFEBOAT_RPO_SECONDS";
pub const DR_RPO_SECONDS: &str = "LIFEBOAT_DR_RPO_SECONDS";
pub const DRILL_MAX_AGE_SECONDS: &str = "LIFEBOAT_DRILL_MAX_AGE_SECONDS";
pub const DRILL_DATABASES: &str = "LIFEBOAT_DRILL_DATABASES";
pub const DRILL_SUBNET_GROUP: &str = "LIFEBOAT_DRILL_SUBNET_GROUP";
pub const DRILL_SECURITY_GROUPS: &str = "LIFEBOAT_DRILL_SECURITY_GROUPS";
pub const DRILL_INSTANCE_CLASS: &str = "LIFEBOAT_DRILL_INSTANCE_CLASS";
pub const DRILL_VALIDATOR: &str = "LIFEBOAT_DRILL_VALIDATOR";
pub const DRILL_TIMEOUT_MINUTES: &str = "LIFEBOAT_DRILL_TIMEOUT_MINUTES";
pub const RUN_STATE_MACHINE: &str = "LIFEBOAT_RUN_STATE_MACHINE";
pub const REGION: &str = "AWS_REGION";

/// Every Lifeboat setting, for checks that a deployment sets only real ones.
pub const ALL: &[&str] = &[
    CATALOG_BUCKET,
    CATALOG_PREFIX,
    EVENT_BUS,
    SELECT_TAG,
    CONCURRENCY,
    DR_REGIONS,
    DR_KMS_KEYS,
    MAX_INFLIGHT_COPIES,
    DR_OPTION_GROUPS,
    RETENTION,
    DR_RETENTION,
    DRY_RUN,
    DR_CATALOG_BUCKETS,
    RDS_CALLS_PER_SECOND,
    RDS_BURST,
    STACK_ROLE,
    RPO_SECONDS,
    DR_RPO_SECONDS,
    DRILL_MAX_AGE_SECONDS,
    DRILL_DATABASES,
    DRILL_SUBNET_GROUP,
    DRILL_SECURITY_GROUPS,
    DRILL_INSTANCE_CLASS,
    DRILL_VALIDATOR,
    DRILL_TIMEOUT_MINUTES,
    RUN_STATE_MACHINE,
];

pub const DEFAULT_SELECT_TAG: &str = "lifeboat:backup=true";
pub const DEFAULT_EVENT_BUS: &str = "default";
/// DBs worked on at once. RDS's API rate limits, not the Lambda, are the
/// bound; the SDK's retry absorbs the throttling that remains.
pub const DEFAULT_CONCURRENCY: usize = 16;
const MAX_CONCURRENCY: usize = 64;
/// RDS refills each account's bucket at 12 calls a second in each region,
/// for every tool in the account; Lifeboat takes 8 of them, leaving a third
/// for the rest.
pub const DEFAULT_RDS_CALLS_PER_SECOND: f64 = 8.0;
/// RDS's bucket holds 300 calls; Lifeboat spends at most half of them at
/// once.
pub const DEFAULT_RDS_BURST: u32 = 150;
const RDS_ACCOUNT_RATE: f64 = 12.0;
/// More than RDS grants only makes sense against an emulator (which has no
/// throttle) or an endpoint with its own.
const MAX_RDS_CALLS_PER_SECOND: f64 = 1000.0;
const RDS_ACCOUNT_BURST: u32 = 300;

/// 26 hours: a daily schedule's recovery point, with two hours for a run
/// and its copies to land.
pub const DEFAULT_RPO_SECONDS: i64 = 26 * 3600;
/// A drill DB not available after this long fails the drill and is deleted.
pub const DEFAULT_DRILL_TIMEOUT_MINUTES: i64 = 120;

/// Which stack a function runs in (`StackRole` in the template).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackRole {
    /// In the region of the DBs.
    Primary,
    /// In a DR region: its catalog, restores and drills of the copies there.
    Recovery,
}

/// How drills are done (the drill function) and watched (the monitor).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrillSettings {
    /// Only these DBs; all with a copy in the region when empty.
    pub databases: Vec<String>,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub instance_class: Option<String>,
    /// The name or ARN of the user's function that checks a drill DB's data.
    pub validator: Option<String>,
    pub timeout: chrono::TimeDelta,
    /// The longest the monitor lets a DB go without a passing drill; none:
    /// drills are not watched (a primary stack, or drills off).
    pub max_age: Option<chrono::TimeDelta>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The source region: where the protected DBs live.
    pub region: String,
    pub catalog_bucket: String,
    /// Key prefix inside the bucket; empty or ending in `/`.
    pub catalog_prefix: String,
    pub event_bus: String,
    pub select_tag: TagFilter,
    pub concurrency: usize,
    /// DR regions, in the order given; the first is restore's default.
    pub dr_regions: Vec<String>,
    /// DR region -> KMS key (id, ARN or alias) that re-encrypts copies there.
    pub dr_kms_keys: BTreeMap<String, String>,
    /// Lowers RDS's limit on copies in progress per destination region.
    pub max_inflight_copies: Option<u32>,
    /// (DR region, source option group) -> option group to use there.
    pub dr_option_groups: BTreeMap<(String, String), String>,
    /// The retention policy (prune); also the DR regions' unless
    /// `dr_retention` is set.
    pub retention: Option<Policy>,
    pub dr_retention: Option<Policy>,
    /// Report what would happen, change nothing (prune, restore).
    pub dry_run: bool,
    /// DR region -> the catalog bucket there (its recovery stack's).
    pub dr_catalog_buckets: BTreeMap<String, String>,
    /// The pace of RDS calls per region: calls a second, and how many may
    /// go at once after a quiet spell.
    pub rds_calls_per_second: f64,
    pub rds_burst: u32,
    pub stack_role: StackRole,
    /// The recovery point objective in the function's own region, and in
    /// the DR regions.
    pub rpo: chrono::TimeDelta,
    pub dr_rpo: chrono::TimeDelta,
    pub drill: DrillSettings,
    /// The state machine that carries on a run that outlasts its
    /// invocation (`domain::run`); none: a run stops at its deadline and
    /// fails, saying what is left.
    pub run_state_machine: Option<String>,
}

impl Config {
    /// Reads the process environment. Nothing else in Lifeboat does.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &'static str| lookup(name).map(|v| v.trim().to_string());
        let required = |name: &'static str| match get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Error::MissingSetting(name)),
        };

        let region = required(REGION)?;
        let catalog_bucket = required(CATALOG_BUCKET)?;
        validate_bucket_name(CATALOG_BUCKET, &catalog_bucket)?;

        let catalog_prefix = match get(CATALOG_PREFIX).unwrap_or_default() {
            p if p.is_empty() || p.ends_with('/') => p,
            p => format!("{p}/"),
        };
        if catalog_prefix.starts_with('/') {
            return Err(malformed(
                CATALOG_PREFIX,
                &catalog_prefix,
                "must not start with '/'",
            ));
        }

        let event_bus = get(EVENT_BUS)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_EVENT_BUS.to_string());

        let select_tag = match get(SELECT_TAG).filter(|v| !v.is_empty()) {
            Some(text) => TagFilter::parse(&text).map_err(|p| malformed(SELECT_TAG, &text, &p))?,
            None => TagFilter::parse(DEFAULT_SELECT_TAG)
                .map_err(|p| malformed(SELECT_TAG, DEFAULT_SELECT_TAG, &p))?,
        };

        let concurrency = match get(CONCURRENCY).filter(|v| !v.is_empty()) {
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => n,
                _ => {
                    return Err(malformed(
                        CONCURRENCY,
                        &text,
                        &format!("expected a whole number from 1 to {MAX_CONCURRENCY}"),
                    ))
                }
            },
            None => DEFAULT_CONCURRENCY,
        };

        let dr_regions = match get(DR_REGIONS).filter(|v| !v.is_empty()) {
            Some(text) => parse_dr_regions(&text, &region)?,
            None => Vec::new(),
        };
        let dr_kms_keys = match get(DR_KMS_KEYS).filter(|v| !v.is_empty()) {
            Some(text) => parse_kms_keys(&text, &dr_regions)?,
            None => BTreeMap::new(),
        };
        let max_inflight_copies = match get(MAX_INFLIGHT_COPIES).filter(|v| !v.is_empty()) {
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=RDS_MAX_DB_SNAPSHOT_COPIES).contains(&n) => Some(n),
                _ => {
                    return Err(malformed(
                        MAX_INFLIGHT_COPIES,
                        &text,
                        &format!("expected a whole number from 1 to {RDS_MAX_DB_SNAPSHOT_COPIES} (RDS allows at most {RDS_MAX_DB_SNAPSHOT_COPIES})"),
                    ))
                }
            },
            None => None,
        };
        let dr_option_groups = match get(DR_OPTION_GROUPS).filter(|v| !v.is_empty()) {
            Some(text) => parse_option_groups(&text, &dr_regions)?,
            None => BTreeMap::new(),
        };

        let dr_catalog_buckets = match get(DR_CATALOG_BUCKETS).filter(|v| !v.is_empty()) {
            Some(text) => parse_catalog_buckets(&text, &dr_regions)?,
            None => BTreeMap::new(),
        };

        let policy = |name: &'static str| -> Result<Option<Policy>, Error> {
            match get(name).filter(|v| !v.is_empty()) {
                Some(text) => Policy::parse(&text)
                    .map(Some)
                    .map_err(|e| malformed(name, &text, &e.to_string())),
                None => Ok(None),
            }
        };
        let retention = policy(RETENTION)?;
        let dr_retention = policy(DR_RETENTION)?;
        let dry_run = match get(DRY_RUN)
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "" | "false" => false,
            "true" => true,
            other => return Err(malformed(DRY_RUN, other, "expected true or false")),
        };

        let rds_calls_per_second = match get(RDS_CALLS_PER_SECOND).filter(|v| !v.is_empty()) {
            Some(text) => match text.parse::<f64>() {
                Ok(r) if (0.5..=MAX_RDS_CALLS_PER_SECOND).contains(&r) => r,
                _ => {
                    return Err(malformed(
                        RDS_CALLS_PER_SECOND,
                        &text,
                        &format!("expected calls a second from 0.5 to {MAX_RDS_CALLS_PER_SECOND} (RDS grants an account {RDS_ACCOUNT_RATE} a second per region, for every tool in it)"),
                    ))
                }
            },
            None => DEFAULT_RDS_CALLS_PER_SECOND,
        };
        let rds_burst = match get(RDS_BURST).filter(|v| !v.is_empty()) {
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=RDS_ACCOUNT_BURST).contains(&n) => n,
                _ => {
                    return Err(malformed(
                        RDS_BURST,
                        &text,
                        &format!("expected a whole number of calls from 1 to {RDS_ACCOUNT_BURST} (RDS's own burst)"),
                    ))
                }
            },
            None => DEFAULT_RDS_BURST,
        };

        let stack_role = match get(STACK_ROLE).unwrap_or_default().as_str() {
            "" | "primary" => StackRole::Primary,
            "recovery" => StackRole::Recovery,
            other => return Err(malformed(STACK_ROLE, other, "expected primary or recovery")),
        };
        let seconds = |name: &'static str, min: i64, max: i64| -> Result<Option<i64>, Error> {
            match get(name).filter(|v| !v.is_empty()) {
                Some(text) => match text.parse::<i64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(malformed(
                        name,
                        &text,
                        &format!("expected a whole number from {min} to {max}"),
                    )),
                },
                None => Ok(None),
            }
        };
        const YEAR: i64 = 366 * 86_400;
        let rpo = seconds(RPO_SECONDS, 60, YEAR)?.unwrap_or(DEFAULT_RPO_SECONDS);
        let dr_rpo = seconds(DR_RPO_SECONDS, 60, YEAR)?.unwrap_or(rpo);
        let list = |name: &'static str| -> Vec<String> {
            get(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect()
        };
        let databases = list(DRILL_DATABASES);
        if let Some(bad) = databases
            .iter()
            .find(|db| crate::domain::identifier::validate("DB identifier", db).is_err())
        {
            return Err(malformed(
                DRILL_DATABASES,
                &databases.join(","),
                &format!("{bad:?} is not a DB identifier"),
            ));
        }
        let security_group_ids = list(DRILL_SECURITY_GROUPS);
        if let Some(bad) = security_group_ids.iter().find(|sg| !sg.starts_with("sg-")) {
            return Err(malformed(
                DRILL_SECURITY_GROUPS,
                &security_group_ids.join(","),
                &format!("{bad:?} is not a VPC security group id (sg-...)"),
            ));
        }
        let optional = |name: &'static str| get(name).filter(|v| !v.is_empty());
        let drill = DrillSettings {
            databases,
            subnet_group: optional(DRILL_SUBNET_GROUP),
            security_group_ids,
            instance_class: optional(DRILL_INSTANCE_CLASS),
            validator: optional(DRILL_VALIDATOR),
            timeout: chrono::TimeDelta::minutes(
                seconds(DRILL_TIMEOUT_MINUTES, 10, 24 * 60)?
                    .unwrap_or(DEFAULT_DRILL_TIMEOUT_MINUTES),
            ),
            max_age: seconds(DRILL_MAX_AGE_SECONDS, 3600, YEAR)?.map(chrono::TimeDelta::seconds),
        };

        let run_state_machine = optional(RUN_STATE_MACHINE);
        if let Some(arn) = &run_state_machine {
            if !(arn.starts_with("arn:")
                && arn.contains(":states:")
                && arn.contains(":stateMachine:"))
            {
                return Err(malformed(
                    RUN_STATE_MACHINE,
                    arn,
                    "expected a Step Functions state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)",
                ));
            }
        }

        Ok(Config {
            region,
            catalog_bucket,
            catalog_prefix,
            event_bus,
            select_tag,
            concurrency,
            dr_regions,
            dr_kms_keys,
            max_inflight_copies,
            dr_option_groups,
            retention,
            dr_retention,
            dry_run,
            dr_catalog_buckets,
            rds_calls_per_second,
            rds_burst,
            stack_role,
            rpo: chrono::TimeDelta::seconds(rpo),
            dr_rpo: chrono::TimeDelta::seconds(dr_rpo),
            drill,
            run_state_machine,
        })
    }

    /// The recovery point objective for `region`.
    pub fn rpo_for(&self, region: &str) -> chrono::TimeDelta {
        if region == self.region && self.stack_role == StackRole::Primary {
            self.rpo
        } else {
            self.dr_rpo
        }
    }

    /// The retention policy, for the function that cannot work without one.
    pub fn require_retention(&self) -> Result<&Policy, Error> {
        self.retention
            .as_ref()
            .ok_or(Error::MissingSetting(RETENTION))
    }

    /// The policy for `region`: the DR policy in a DR region if one is set.
    pub fn retention_for(&self, region: &str) -> Option<&Policy> {
        if region != self.region {
            self.dr_retention.as_ref().or(self.retention.as_ref())
        } else {
            self.retention.as_ref()
        }
    }

    /// Every DR region has a catalog bucket: what copy and prune check at
    /// start, so that no copy is made that its region's catalog would not
    /// know about.
    pub fn require_dr_catalog_buckets(&self) -> Result<(), Error> {
        if self.dr_regions.is_empty() {
            return Ok(());
        }
        if self.dr_catalog_buckets.is_empty() {
            return Err(Error::MissingSetting(DR_CATALOG_BUCKETS));
        }
        match self
            .dr_regions
            .iter()
            .find(|r| !self.dr_catalog_buckets.contains_key(*r))
        {
            Some(region) => Err(malformed(
                DR_CATALOG_BUCKETS,
                &format_map(&self.dr_catalog_buckets),
                &format!("DR region {region} has no catalog bucket: add {region}=<its recovery stack's CatalogBucketName>"),
            )),
            None => Ok(()),
        }
    }

    /// The catalog bucket of `region`: this function's own bucket in its own
    /// region, the configured DR bucket in a DR region.
    pub fn catalog_bucket_in(&self, region: &str) -> Result<&str, Error> {
        if region == self.region {
            return Ok(&self.catalog_bucket);
        }
        self.dr_catalog_buckets
            .get(region)
            .map(String::as_str)
            .ok_or_else(|| {
                malformed(
                    DR_CATALOG_BUCKETS,
                    &format_map(&self.dr_catalog_buckets),
                    &format!(
                        "no catalog bucket for {region}, and it is not this function's region ({})",
                        self.region
                    ),
                )
            })
    }

    /// The DR regions, for the functions that cannot work without one.
    pub fn require_dr_regions(&self) -> Result<&[String], Error> {
        if self.dr_regions.is_empty() {
            Err(Error::MissingSetting(DR_REGIONS))
        } else {
            Ok(&self.dr_regions)
        }
    }
}

/// `us-west-2`, `eu-central-1`, `us-gov-west-1`, `ap-southeast-5`: two
/// letters, one or more words, a number.
pub fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
}

fn parse_dr_regions(text: &str, source: &str) -> Result<Vec<String>, Error> {
    let mut regions: Vec<String> = Vec::new();
    for region in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if !is_region_name(region) {
            return Err(malformed(
                DR_REGIONS,
                text,
                &format!("{region:?} is not a region name"),
            ));
        }
        if region == source {
            return Err(malformed(
                DR_REGIONS,
                text,
                &format!("{region} is the source region; a DR region must be another region"),
            ));
        }
        if regions.iter().any(|r| r == region) {
            return Err(malformed(
                DR_REGIONS,
                text,
                &format!("{region} is listed twice"),
            ));
        }
        regions.push(region.to_string());
    }
    Ok(regions)
}

fn unknown_region(name: &'static str, text: &str, region: &str) -> Error {
    malformed(
        name,
        text,
        &format!("{region} is not one of the DR regions in {DR_REGIONS}"),
    )
}

fn parse_kms_keys(text: &str, dr_regions: &[String]) -> Result<BTreeMap<String, String>, Error> {
    let mut keys = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (region, key) = entry
            .split_once('=')
            .map(|(r, k)| (r.trim(), k.trim()))
            .filter(|(r, k)| !r.is_empty() && !k.is_empty())
            .ok_or_else(|| malformed(DR_KMS_KEYS, text, &format!("{entry:?} is not region=key")))?;
        if !dr_regions.iter().any(|r| r == region) {
            return Err(unknown_region(DR_KMS_KEYS, text, region));
        }
        if keys.insert(region.to_string(), key.to_string()).is_some() {
            return Err(malformed(
                DR_KMS_KEYS,
                text,
                &format!("{region} has two keys"),
            ));
        }
    }
    Ok(keys)
}

fn parse_option_groups(
    text: &str,
    dr_regions: &[String],
) -> Result<BTreeMap<(String, String), String>, Error> {
    let mut groups = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let parsed = entry.split_once(':').and_then(|(region, mapping)| {
            let (source, target) = mapping.split_once('=')?;
            let (region, source, target) = (region.trim(), source.trim(), target.trim());
            (!region.is_empty() && !source.is_empty() && !target.is_empty())
                .then_some((region, source, target))
        });
        let (region, source, target) = parsed.ok_or_else(|| {
            malformed(
                DR_OPTION_GROUPS,
                text,
                &format!("{entry:?} is not region:source-group=target-group"),
            )
        })?;
        if !dr_regions.iter().any(|r| r == region) {
            return Err(unknown_region(DR_OPTION_GROUPS, text, region));
        }
        groups.insert((region.to_string(), source.to_string()), target.to_string());
    }
    Ok(groups)
}

fn parse_catalog_buckets(
    text: &str,
    dr_regions: &[String],
) -> Result<BTreeMap<String, String>, Error> {
    let mut buckets = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (region, bucket) = entry
            .split_once('=')
            .map(|(r, b)| (r.trim(), b.trim()))
            .filter(|(r, b)| !r.is_empty() && !b.is_empty())
            .ok_or_else(|| {
                malformed(
                    DR_CATALOG_BUCKETS,
                    text,
                    &format!("{entry:?} is not region=bucket"),
                )
            })?;
        if !dr_regions.iter().any(|r| r == region) {
            return Err(unknown_region(DR_CATALOG_BUCKETS, text, region));
        }
        validate_bucket_name(DR_CATALOG_BUCKETS, bucket)?;
        if buckets
            .insert(region.to_string(), bucket.to_string())
            .is_some()
        {
            return Err(malformed(
                DR_CATALOG_BUCKETS,
                text,
                &format!("{region} has two buckets"),
            ));
        }
    }
    Ok(buckets)
}

fn format_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn malformed(name: &'static str, value: &str, problem: &str) -> Error {
    Error::MalformedSetting {
        name,
        value: value.to_string(),
        problem: problem.to_string(),
    }
}

/// S3's bucket naming rules, enough to catch an ARN or a URL pasted by
/// mistake.
fn validate_bucket_name(setting: &'static str, name: &str) -> Result<(), Error> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ok_ends = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if (3..=63).contains(&name.len()) && ok_chars && ok_ends {
        Ok(())
    } else {
        Err(malformed(
            setting,
            name,
            "expected a bucket name (3-63 lower-case letters, digits, '-' or '.'), not an ARN or URL",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const BASE: [(&str, &str); 2] = [(REGION, "us-east-1"), (CATALOG_BUCKET, "dr-catalog")];

    #[test]
    fn defaults_fill_in_what_is_optional() {
        let c = config(&BASE).unwrap();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.catalog_bucket, "dr-catalog");
        assert_eq!(c.catalog_prefix, "");
        assert_eq!(c.event_bus, "default");
        assert_eq!(c.select_tag.to_string(), "lifeboat:backup=true");
        assert_eq!(c.concurrency, DEFAULT_CONCURRENCY);
    }

    #[test]
    fn every_setting_is_read() {
        let mut vars = BASE.to_vec();
        vars.extend([
            (CATALOG_PREFIX, "prod"),
            (EVENT_BUS, "dr-bus"),
            (SELECT_TAG, "backup=gold"),
            (CONCURRENCY, "4"),
        ]);
        let c = config(&vars).unwrap();
        assert_eq!(c.catalog_prefix, "prod/");
        assert_eq!(c.event_bus, "dr-bus");
        assert_eq!(c.select_tag.key, "backup");
        assert_eq!(c.select_tag.value, "gold");
        assert_eq!(c.concurrency, 4);
    }

    #[test]
    fn a_missing_setting_is_named() {
        let err = config(&[(REGION, "us-east-1")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "setting LIFEBOAT_CATALOG_BUCKET is required but not set"
        );
        let err = config(&[(CATALOG_BUCKET, "dr-catalog")]).unwrap_err();
        assert!(err.to_string().contains("AWS_REGION"));
        let err = config(&[(REGION, "us-east-1"), (CATALOG_BUCKET, "  ")]).unwrap_err();
        assert!(matches!(err, Error::MissingSetting(CATALOG_BUCKET)));
    }

    #[test]
    fn dr_settings_are_read_and_cross_checked() {
        let mut vars = BASE.to_vec();
        vars.extend([
            (DR_REGIONS, "us-west-2, eu-west-1"),
            (
                DR_KMS_KEYS,
                "us-west-2=alias/dr,eu-west-1=arn:aws:kms:eu-west-1:123456789012:key/abc",
            ),
            (MAX_INFLIGHT_COPIES, "3"),
            (DR_OPTION_GROUPS, "us-west-2:ora-tde=ora-tde-dr"),
        ]);
        let c = config(&vars).unwrap();
        assert_eq!(c.dr_regions, ["us-west-2", "eu-west-1"]);
        assert_eq!(c.dr_kms_keys["us-west-2"], "alias/dr");
        assert_eq!(c.max_inflight_copies, Some(3));
        assert_eq!(
            c.dr_option_groups[&("us-west-2".to_string(), "ora-tde".to_string())],
            "ora-tde-dr"
        );
        assert_eq!(c.require_dr_regions().unwrap().len(), 2);
        let none = config(&BASE).unwrap();
        assert_eq!(
            none.require_dr_regions().unwrap_err().to_string(),
            "setting LIFEBOAT_DR_REGIONS is required but not set"
        );
    }

    #[test]
    fn every_dr_region_needs_a_catalog_bucket() {
        let mut vars = BASE.to_vec();
        vars.extend([
            (DR_REGIONS, "us-west-2,eu-west-1"),
            (DR_CATALOG_BUCKETS, "us-west-2=catalog-usw2"),
        ]);
        let c = config(&vars).unwrap();
        let err = c.require_dr_catalog_buckets().unwrap_err().to_string();
        assert!(
            err.contains(DR_CATALOG_BUCKETS) && err.contains("eu-west-1"),
            "{err}"
        );
        assert_eq!(c.catalog_bucket_in("us-west-2").unwrap(), "catalog-usw2");
        assert_eq!(c.catalog_bucket_in("us-east-1").unwrap(), "dr-catalog");
        assert!(c.catalog_bucket_in("eu-west-1").is_err());

        vars[3] = (
            DR_CATALOG_BUCKETS,
            "us-west-2=catalog-usw2, eu-west-1=catalog-euw1",
        );
        let c = config(&vars).unwrap();
        c.require_dr_catalog_buckets().unwrap();
        assert_eq!(c.catalog_bucket_in("eu-west-1").unwrap(), "catalog-euw1");

        let mut vars = BASE.to_vec();
        vars.push((DR_REGIONS, "us-west-2"));
        let err = config(&vars)
            .unwrap()
            .require_dr_catalog_buckets()
            .unwrap_err();
        assert!(matches!(err, Error::MissingSetting(DR_CATALOG_BUCKETS)));
        // No DR regions (a recovery stack): nothing to require.
        config(&BASE).unwrap().require_dr_catalog_buckets().unwrap();
    }

    #[test]
    fn retention_policies_and_dry_run_are_read() {
        let mut vars = BASE.to_vec();
        vars.extend([
            (RETENTION, "last=3,daily=7"),
            (DR_RETENTION, "monthly=3"),
            (DRY_RUN, "TRUE"),
            (DR_REGIONS, "us-west-2"),
        ]);
        let c = config(&vars).unwrap();
        assert_eq!(c.require_retention().unwrap().daily, 7);
        assert_eq!(c.retention_for("us-east-1").unwrap().last, 3);
        assert_eq!(c.retention_for("us-west-2").unwrap().monthly, 3);
        assert!(c.dry_run);
        assert!(!config(&BASE).unwrap().dry_run);
        assert_eq!(
            config(&BASE)
                .unwrap()
                .require_retention()
                .unwrap_err()
                .to_string(),
            "setting LIFEBOAT_RETENTION is required but not set"
        );
        for (name, value) in [
            (RETENTION, "last=0"),
            (RETENTION, "hourly=3"),
            (DRY_RUN, "yes"),
        ] {
            let mut vars = BASE.to_vec();
            vars.push((name, value));
            let err = config(&vars).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn bad_dr_settings_say_what_is_wrong() {
        for (extra, expected) in [
            (vec![(DR_REGIONS, "us-east-1")], "is the source region"),
            (vec![(DR_REGIONS, "us-west-2,us-west-2")], "listed twice"),
            (vec![(DR_REGIONS, "uswest2")], "is not a region name"),
            (
                vec![(DR_REGIONS, "us-west-2"), (DR_KMS_KEYS, "eu-west-1=k")],
                "not one of the DR regions",
            ),
            (
                vec![(DR_REGIONS, "us-west-2"), (DR_KMS_KEYS, "us-west-2")],
                "is not region=key",
            ),
            (
                vec![(DR_REGIONS, "us-west-2"), (DR_OPTION_GROUPS, "us-west-2:a")],
                "region:source-group=target-group",
            ),
            (vec![(MAX_INFLIGHT_COPIES, "21")], "from 1 to 20"),
            (
                vec![
                    (DR_REGIONS, "us-west-2"),
                    (DR_CATALOG_BUCKETS, "eu-west-1=b-eu"),
                ],
                "not one of the DR regions",
            ),
            (
                vec![(DR_REGIONS, "us-west-2"), (DR_CATALOG_BUCKETS, "us-west-2")],
                "is not region=bucket",
            ),
            (
                vec![
                    (DR_REGIONS, "us-west-2"),
                    (DR_CATALOG_BUCKETS, "us-west-2=arn:aws:s3:::b"),
                ],
                "expected a bucket name",
            ),
        ] {
            let mut vars = BASE.to_vec();
            vars.extend(extra);
            let err = config(&vars).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn a_malformed_setting_is_named_with_its_value() {
        for (name, value) in [
            (CATALOG_BUCKET, "arn:aws:s3:::dr-catalog"),
            (SELECT_TAG, "backup"),
            (CONCURRENCY, "0"),
            (CONCURRENCY, "many"),
            (CATALOG_PREFIX, "/abs"),
        ] {
            let mut vars = BASE.to_vec();
            vars.retain(|(k, _)| *k != name);
            vars.push((name, value));
            let err = config(&vars).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(value), "{err}");
        }
    }
}
