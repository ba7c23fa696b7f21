//! The tags Lifeboat reads (the selection tag) and writes (on every snapshot).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::trigger::TriggerKind;

pub const MANAGED: &str = "lifeboat:managed";
pub const SOURCE_DB: &str = "lifeboat:source-db";
pub const SOURCE_REGION: &str = "lifeboat:source-region";
pub const TRIGGER: &str = "lifeboat:trigger";
pub const CREATED_AT: &str = "lifeboat:created-at";
/// On a snapshot taken for a request without a time of its own (`{}`, a
/// manual request): the Lambda request id, so a retry of that request
/// finds the snapshots it took instead of taking new ones.
pub const REQUEST_ID: &str = "lifeboat:request-id";
/// On a restored DB: the snapshot it was restored from.
pub const RESTORED_FROM: &str = "lifeboat:restored-from";
/// On a restored DB: the restore that made it (`<target>@<requested at>`,
/// as that restore's `restore` record says). It, not `RESTORED_FROM`, says
/// whose a DB is: a retried start resumes only DBs carrying its own
/// identity, and a rollback deletes only those. A DB restored from the same
/// snapshot by another restore (long ago, and production since a failover)
/// carries the same `RESTORED_FROM` and is still not this restore's.
pub const RESTORE_ID: &str = "lifeboat:restore-id";
/// On a DB a drill restored: `true`. A drill deletes only DBs carrying it
/// (its IAM policy says so too), and never a DB it did not create.
pub const DRILL: &str = "lifeboat:drill";
pub const DRILL_VALUE: &str = "true";

/// `key=value`: the tag a DB must carry to be protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub key: String,
    pub value: String,
}

impl TagFilter {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| "expected key=value".to_string())?;
        let key = key.trim();
        if key.is_empty() {
            return Err("the tag key is empty".to_string());
        }
        Ok(TagFilter {
            key: key.to_string(),
            value: value.trim().to_string(),
        })
    }

    pub fn matches(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(&self.key) == Some(&self.value)
    }
}

impl fmt::Display for TagFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// The tags on every snapshot Lifeboat makes or copies.
pub fn snapshot_tags(
    database: &str,
    source_region: &str,
    trigger: TriggerKind,
    recovery_point: DateTime<Utc>,
) -> Vec<(String, String)> {
    vec![
        (MANAGED.to_string(), "true".to_string()),
        (SOURCE_DB.to_string(), database.to_string()),
        (SOURCE_REGION.to_string(), source_region.to_string()),
        (TRIGGER.to_string(), trigger.as_str().to_string()),
        (
            CREATED_AT.to_string(),
            recovery_point.to_rfc3339_opts(SecondsFormat::Secs, true),
        ),
    ]
}

/// The tags Lifeboat puts on a snapshot, which are not the DB's own.
pub const ON_SNAPSHOTS: [&str; 6] = [
    MANAGED,
    SOURCE_DB,
    SOURCE_REGION,
    TRIGGER,
    CREATED_AT,
    REQUEST_ID,
];

/// The DB's own tags among a snapshot's: what RDS copied from the DB,
/// without Lifeboat's snapshot tags and the reserved ones.
pub fn database_tags(snapshot_tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    passable(snapshot_tags)
        .into_iter()
        .filter(|(k, _)| !ON_SNAPSHOTS.contains(&k.as_str()))
        .collect()
}

/// RDS refuses tags with the reserved `aws:` prefix when they are passed
/// explicitly (they are set by AWS itself), so they are never copied along.
pub fn is_reserved(key: &str) -> bool {
    key.len() >= 4 && key[..4].eq_ignore_ascii_case("aws:")
}

/// `tags` without the reserved ones: what may be passed to RDS explicitly.
pub fn passable(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, _)| !is_reserved(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether a snapshot's tags say Lifeboat manages it.
pub fn is_managed(tags: &BTreeMap<String, String>) -> bool {
    tags.get(MANAGED).map(String::as_str) == Some("true")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn parses_a_tag_filter() {
        let filter = TagFilter::parse("lifeboat:backup=true").unwrap();
        assert_eq!(filter.key, "lifeboat:backup");
        assert_eq!(filter.value, "true");
        assert_eq!(filter.to_string(), "lifeboat:backup=true");
        assert_eq!(TagFilter::parse("team=").unwrap().value, "");
        assert!(TagFilter::parse("no-equals").is_err());
        assert!(TagFilter::parse("=true").is_err());
    }

    #[test]
    fn a_filter_matches_key_and_value_exactly() {
        let filter = TagFilter::parse("backup=true").unwrap();
        let tags = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(filter.matches(&tags("backup", "true")));
        assert!(!filter.matches(&tags("backup", "TRUE")));
        assert!(!filter.matches(&tags("Backup", "true")));
        assert!(!filter.matches(&BTreeMap::new()));
    }

    #[test]
    fn snapshot_tags_carry_the_contract() {
        let when = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap();
        let tags: BTreeMap<_, _> = snapshot_tags("orders", "us-east-1", TriggerKind::Alarm, when)
            .into_iter()
            .collect();
        assert_eq!(tags[MANAGED], "true");
        assert_eq!(tags[SOURCE_DB], "orders");
        assert_eq!(tags[SOURCE_REGION], "us-east-1");
        assert_eq!(tags[TRIGGER], "alarm");
        assert_eq!(tags[CREATED_AT], "2026-11-24T04:00:00Z");
        assert!(is_managed(&tags));
    }

    #[test]
    fn reserved_tags_are_recognised() {
        assert!(is_reserved("aws:cloudformation:stack-name"));
        assert!(is_reserved("AWS:x"));
        assert!(!is_reserved("awsome"));
        assert!(!is_reserved("aw"));
    }
}
