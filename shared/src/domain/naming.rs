//! Snapshot identifiers: `lifeboat-<db>-<YYYYMMDD>-<HHMM>`.
//!
//! The identifier is a pure function of the DB and the recovery point time, so
//! a redelivered event names the same snapshot and RDS answers "already
//! exists" instead of a second snapshot being taken.

use chrono::{DateTime, Utc};

use crate::domain::identifier::MAX_LEN;

pub const PREFIX: &str = "lifeboat-";
/// `-YYYYMMDD-HHMM`
const TIME_SUFFIX_LEN: usize = 14;
/// Room left for the DB identifier inside a 63-character snapshot identifier
/// (cluster snapshot identifiers are capped at 63, so both kinds use that).
const MAX_DB_PART: usize = MAX_LEN - PREFIX.len() - TIME_SUFFIX_LEN;
/// A truncated DB identifier ends in `-` and this many hex digits of a hash of
/// the whole identifier, so two long names that share a prefix stay apart.
const HASH_LEN: usize = 6;

/// The snapshot identifier for `database` at `recovery_point` (UTC, to the
/// minute). `database` must already be a valid RDS identifier.
pub fn snapshot_identifier(database: &str, recovery_point: DateTime<Utc>) -> String {
    format!(
        "{PREFIX}{}-{}",
        db_part(database, MAX_DB_PART),
        recovery_point.format("%Y%m%d-%H%M")
    )
}

pub const DRILL_PREFIX: &str = "lifeboat-drill-";
/// `-YYYYMMDD`
const DATE_SUFFIX_LEN: usize = 9;
/// Room for the DB identifier in a drill target, leaving room for the
/// `-<n>` of a cluster member (`restore_plan::member_identifier`).
const MAX_DRILL_DB_PART: usize = MAX_LEN - DRILL_PREFIX.len() - DATE_SUFFIX_LEN - 3;

/// The DB a drill of `database` on `day` restores into:
/// `lifeboat-drill-<db>-<YYYYMMDD>`, shortened like a snapshot identifier
/// for a long name. `database` must already be a valid RDS identifier.
pub fn drill_identifier(database: &str, day: DateTime<Utc>) -> String {
    format!(
        "{DRILL_PREFIX}{}-{}",
        db_part(database, MAX_DRILL_DB_PART),
        day.format("%Y%m%d")
    )
}

/// `database`, lower case, cut to `max` characters with a hash of the
/// whole name when it is longer.
fn db_part(database: &str, max: usize) -> String {
    let database = database.to_ascii_lowercase();
    if database.len() <= max {
        return database;
    }
    let keep = max - HASH_LEN - 1;
    let head = database[..keep].trim_end_matches('-');
    format!(
        "{head}-{:0width$x}",
        fnv1a(&database) & 0xff_ffff,
        width = HASH_LEN
    )
}

/// The identifier of a copy of snapshot `source_id` (taken in
/// `source_region`) when a DR region already has another snapshot of that
/// name: `<source_id>-<source_region>`, shortened with a hash like a long
/// DB name to stay within 63 characters.
pub fn copy_identifier(source_id: &str, source_region: &str) -> String {
    let suffix = format!("-{}", source_region.to_ascii_lowercase());
    if source_id.len() + suffix.len() <= MAX_LEN {
        return format!("{source_id}{suffix}");
    }
    let keep = MAX_LEN - suffix.len() - HASH_LEN - 1;
    let head = source_id[..keep].trim_end_matches('-');
    format!(
        "{head}-{:0width$x}{suffix}",
        fnv1a(source_id) & 0xff_ffff,
        width = HASH_LEN
    )
}

/// 32-bit FNV-1a: stable across releases and platforms, which a std hasher is
/// not, and identifiers must never change meaning between versions.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identifier::validate;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn a_drill_target_is_valid_for_any_db_name_and_leaves_room_for_members() {
        let day = at(2026, 12, 3, 2, 0, 0);
        assert_eq!(
            drill_identifier("Orders", day),
            "lifeboat-drill-orders-20261203"
        );
        let long = "a".repeat(63);
        let target = drill_identifier(&long, day);
        assert!(target.len() <= MAX_LEN - 3, "{target}");
        validate("drill target", &target).unwrap();
        let member = crate::domain::restore_plan::member_identifier(&target, 2);
        assert_eq!(member, format!("{target}-2"));
        assert_ne!(target, drill_identifier(&format!("{long}b"), day));
    }

    #[test]
    fn a_copy_named_apart_carries_its_source_region_and_stays_valid() {
        let id = snapshot_identifier("orders", at(2026, 11, 24, 4, 0, 0));
        assert_eq!(
            copy_identifier(&id, "us-east-1"),
            "lifeboat-orders-20261124-0400-us-east-1"
        );
        let long = snapshot_identifier(&"a".repeat(63), at(2026, 11, 24, 4, 0, 0));
        let copy = copy_identifier(&long, "ap-southeast-3");
        assert!(copy.len() <= MAX_LEN, "{copy}");
        assert!(copy.starts_with(PREFIX) && copy.ends_with("-ap-southeast-3"));
        validate("a copy", &copy).unwrap();
        assert_ne!(
            copy,
            copy_identifier(&long.replace('a', "b"), "ap-southeast-3")
        );
    }

    #[test]
    fn names_a_snapshot_by_db_and_minute() {
        assert_eq!(
            snapshot_identifier("orders", at(2026, 11, 24, 4, 0, 59)),
            "lifeboat-orders-20261124-0400"
        );
        assert_eq!(
            snapshot_identifier("Orders", at(2026, 1, 2, 23, 5, 0)),
            "lifeboat-orders-20260102-2305"
        );
    }

    #[test]
    fn the_same_minute_gives_the_same_identifier() {
        let a = snapshot_identifier("ledger", at(2026, 11, 24, 4, 0, 1));
        let b = snapshot_identifier("ledger", at(2026, 11, 24, 4, 0, 58));
        assert_eq!(a, b);
    }

    #[test]
    fn long_names_are_truncated_valid_and_distinct() {
        let when = at(2026, 11, 24, 4, 0, 0);
        let long_a = format!("{}a", "x".repeat(62));
        let long_b = format!("{}b", "x".repeat(62));
        let a = snapshot_identifier(&long_a, when);
        let b = snapshot_identifier(&long_b, when);
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 63, "{id}");
            validate("snapshot", id).unwrap();
        }
    }

    #[test]
    fn truncation_never_leaves_a_double_hyphen() {
        // The cut falls right after a hyphen in the DB identifier.
        let name = format!("{}-{}", "a".repeat(32), "b".repeat(30));
        let id = snapshot_identifier(&name, at(2026, 11, 24, 4, 0, 0));
        validate("snapshot", &id).unwrap();
    }

    #[test]
    fn a_name_that_fits_exactly_is_kept_whole() {
        let name = "d".repeat(MAX_DB_PART);
        let id = snapshot_identifier(&name, at(2026, 11, 24, 4, 0, 0));
        assert!(id.contains(&name));
        assert_eq!(id.len(), 63);
    }
}
