//! Which snapshots a retention policy keeps: grandfather-father-son, pure.
//!
//! A policy such as `last=3,daily=7,weekly=4,monthly=12,yearly=2` keeps the
//! newest 3 snapshots and the newest snapshot of each of the last 7 days, 4
//! ISO weeks (Monday to Sunday), 12 months and 2 years. Periods are calendar
//! periods in UTC counted back from `now`, the current one included: "the
//! last 7 days" are today and the 6 days before it, whether or not a snapshot
//! was taken on each, so the policy is a promise about time ("a restore point
//! for each of the last 7 days") rather than about a number of snapshots. A
//! snapshot kept by any rule is kept.
//!
//! Whatever the policy, [`decide`] never deletes:
//!
//! - a snapshot that is not `available`: it is still being created or copied,
//!   RDS refuses to delete it, and it may yet fail. It does not count for the
//!   rules either, or an unfinished copy could displace the finished
//!   snapshot of its day, which would then be deleted;
//! - the newest available snapshot, so every DB keeps a restore point in
//!   every region even when the rules select nothing (a long outage of the
//!   snapshot schedule, say);
//! - a snapshot newer than `now`: a delayed or redelivered prune event judges
//!   as of its own time and must not remove what was taken after it.
//!
//! The caller groups snapshots per DB and per region and calls [`decide`] once
//! per group.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// How many snapshots each rule keeps. A rule at 0 keeps nothing by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The newest `last` available snapshots.
    pub last: u32,
    /// The newest snapshot of each of the last `daily` days, today included.
    pub daily: u32,
    /// The newest snapshot of each of the last `weekly` ISO weeks, this week
    /// included.
    pub weekly: u32,
    /// The newest snapshot of each of the last `monthly` months, this month
    /// included.
    pub monthly: u32,
    /// The newest snapshot of each of the last `yearly` years, this year
    /// included.
    pub yearly: u32,
}

/// The rule names, in the order the canonical text lists them.
const RULES: [&str; 5] = ["last", "daily", "weekly", "monthly", "yearly"];

impl Policy {
    /// Parses the text of `LIFEBOAT_RETENTION`: comma-separated `rule=count`
    /// pairs, in any order, spaces around them allowed. Rules left out are 0.
    ///
    /// A policy that keeps nothing is refused: it would delete every snapshot
    /// but the newest, which is never what someone who set a policy meant.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        if text.trim().is_empty() {
            return Err(PolicyError::Empty);
        }
        let mut counts: [Option<u32>; 5] = [None; 5];
        for pair in text.split(',') {
            let pair = pair.trim();
            if pair.is_empty() {
                return Err(PolicyError::EmptyRule);
            }
            let Some((name, value)) = pair.split_once('=') else {
                return Err(PolicyError::NotARule(pair.to_string()));
            };
            let name = name.trim();
            let Some((rule, count)) = RULES
                .into_iter()
                .zip(counts.iter_mut())
                .find(|(rule, _)| *rule == name)
            else {
                return Err(PolicyError::UnknownRule(name.to_string()));
            };
            if count.is_some() {
                return Err(PolicyError::DuplicateRule(rule));
            }
            *count = Some(parse_count(rule, value.trim())?);
        }
        let [last, daily, weekly, monthly, yearly] = counts.map(|count| count.unwrap_or(0));
        let policy = Policy {
            last,
            daily,
            weekly,
            monthly,
            yearly,
        };
        if policy.counts().iter().all(|&(_, count)| count == 0) {
            return Err(PolicyError::KeepsNothing);
        }
        Ok(policy)
    }

    fn counts(&self) -> [(&'static str, u32); 5] {
        let [last, daily, weekly, monthly, yearly] = RULES;
        [
            (last, self.last),
            (daily, self.daily),
            (weekly, self.weekly),
            (monthly, self.monthly),
            (yearly, self.yearly),
        ]
    }
}

fn parse_count(rule: &'static str, value: &str) -> Result<u32, PolicyError> {
    let all_digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if value.is_empty() {
        return Err(PolicyError::MissingCount(rule));
    }
    if value.strip_prefix('-').is_some_and(all_digits) {
        return Err(PolicyError::NegativeCount {
            rule,
            value: value.to_string(),
        });
    }
    // Digits only: `u32::from_str` would also take "+3", which no one writes
    // on purpose.
    if !all_digits(value) {
        return Err(PolicyError::NotANumber {
            rule,
            value: value.to_string(),
        });
    }
    value.parse().map_err(|_| PolicyError::CountTooLarge {
        rule,
        value: value.to_string(),
    })
}

impl FromStr for Policy {
    type Err = PolicyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Policy::parse(text)
    }
}

/// The canonical text: every rule, in a fixed order, so a log line shows
/// exactly what is in force (`last=3,daily=7,weekly=0,monthly=12,yearly=0`).
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (rule, count)) in self.counts().into_iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{rule}={count}")?;
        }
        Ok(())
    }
}

/// What is wrong with a retention policy's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "the policy is empty; expected rules such as last=3,daily=7,weekly=4,monthly=12,yearly=2"
    )]
    Empty,
    #[error("empty rule: a comma with nothing before or after it")]
    EmptyRule,
    #[error("{0:?} is not a rule: expected name=count, such as daily=7")]
    NotARule(String),
    #[error("unknown rule {0:?}: the rules are last, daily, weekly, monthly and yearly")]
    UnknownRule(String),
    #[error("rule {0} is given more than once")]
    DuplicateRule(&'static str),
    #[error("rule {0} has no count: expected {0}=<whole number>")]
    MissingCount(&'static str),
    #[error("rule {rule} has count {value:?}, which is not a whole number")]
    NotANumber { rule: &'static str, value: String },
    #[error("rule {rule} has count {value}, which is negative")]
    NegativeCount { rule: &'static str, value: String },
    #[error("rule {rule} has count {value}, which is larger than {max}", max = u32::MAX)]
    CountTooLarge { rule: &'static str, value: String },
    #[error("every count is 0, so the policy would keep nothing; set at least one of last, daily, weekly, monthly, yearly")]
    KeepsNothing,
}

/// A snapshot as the policy sees it: its recovery point and whether it is
/// available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryPoint {
    pub id: String,
    /// The recovery point time: what a restore brings back, so what the
    /// periods are about (a copy made today of last week's snapshot belongs
    /// to last week).
    pub time: DateTime<Utc>,
    /// RDS status `available`; anything else is still being created or copied.
    pub available: bool,
}

/// Why a snapshot is kept. Ordered as [`Verdict::keep`] lists them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The n-th newest available snapshot, from 1.
    Last(u32),
    /// The newest of this day.
    Daily(NaiveDate),
    /// The newest of this ISO week.
    Weekly { year: i32, week: u32 },
    /// The newest of this month.
    Monthly { year: i32, month: u32 },
    /// The newest of this year.
    Yearly(i32),
    /// The newest available snapshot, kept whatever the policy says.
    NewestAvailable,
    /// Not `available` yet.
    NotAvailable,
    /// Its time is after `now`.
    Future,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Last(rank) => write!(f, "last {rank}"),
            Reason::Daily(date) => write!(f, "daily {date}"),
            Reason::Weekly { year, week } => write!(f, "weekly {year}-W{week:02}"),
            Reason::Monthly { year, month } => write!(f, "monthly {year}-{month:02}"),
            Reason::Yearly(year) => write!(f, "yearly {year}"),
            Reason::NewestAvailable => f.write_str("newest available snapshot"),
            Reason::NotAvailable => f.write_str("still being created or copied"),
            Reason::Future => f.write_str("newer than now"),
        }
    }
}

/// The decision for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub id: String,
    /// Every reason to keep the snapshot, sorted; empty means delete it.
    pub keep: Vec<Reason>,
}

impl Verdict {
    pub fn is_kept(&self) -> bool {
        !self.keep.is_empty()
    }
}

/// The calendar periods of the GFS rules.
#[derive(Debug, Clone, Copy)]
enum Period {
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    /// Numbers the periods so that consecutive ones get consecutive numbers:
    /// "within the last n periods" is then a subtraction, with no calendar
    /// arithmetic that could run off the end of the supported dates.
    fn index(self, date: NaiveDate) -> i64 {
        match self {
            Period::Day => i64::from(date.num_days_from_ce()),
            // Mondays are 7 days apart, so dividing the day number of a
            // week's Monday by 7 numbers the weeks consecutively.
            Period::Week => (i64::from(date.num_days_from_ce())
                - i64::from(date.weekday().num_days_from_monday()))
            .div_euclid(7),
            Period::Month => i64::from(date.year()) * 12 + i64::from(date.month0()),
            Period::Year => i64::from(date.year()),
        }
    }

    fn reason(self, date: NaiveDate) -> Reason {
        match self {
            Period::Day => Reason::Daily(date),
            Period::Week => {
                // The ISO week's year, not the date's: 2027-01-01 is in 2026-W53.
                let week = date.iso_week();
                Reason::Weekly {
                    year: week.year(),
                    week: week.week(),
                }
            }
            Period::Month => Reason::Monthly {
                year: date.year(),
                month: date.month(),
            },
            Period::Year => Reason::Yearly(date.year()),
        }
    }
}

/// Decides which of one group's snapshots (one DB in one region) to keep:
/// one verdict per snapshot, in the order given.
///
/// Snapshots are ordered by (time, id), so equal recovery point times are
/// broken by id and the result never depends on the order AWS lists them.
/// Deletion is by id, so an id listed twice gets every reason either entry
/// has.
pub fn decide(policy: &Policy, snapshots: &[RecoveryPoint], now: DateTime<Utc>) -> Vec<Verdict> {
    // Indexed like `snapshots`: every index below comes from enumerating it.
    let mut keep: Vec<Vec<Reason>> = vec![Vec::new(); snapshots.len()];

    let mut available: Vec<(usize, &RecoveryPoint)> = snapshots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.available)
        .collect();
    available.sort_by(|(_, a), (_, b)| (b.time, &b.id).cmp(&(a.time, &a.id)));
    if let Some(&(newest, _)) = available.first() {
        keep[newest].push(Reason::NewestAvailable);
    }

    // Newest first, and only what existed at `now`: the rules judge exactly
    // as they would have then.
    let judged: Vec<(usize, NaiveDate)> = available
        .iter()
        .filter(|(_, s)| s.time <= now)
        .map(|&(i, s)| (i, s.time.date_naive()))
        .collect();

    for (rank, &(i, _)) in (1..=policy.last).zip(&judged) {
        keep[i].push(Reason::Last(rank));
    }

    let today = now.date_naive();
    let rules = [
        (Period::Day, policy.daily),
        (Period::Week, policy.weekly),
        (Period::Month, policy.monthly),
        (Period::Year, policy.yearly),
    ];
    for (period, count) in rules {
        let current = period.index(today);
        let mut previous = None;
        for &(i, date) in &judged {
            let index = period.index(date);
            if current - index >= i64::from(count) {
                // Everything after this is older still.
                break;
            }
            // Newest first, so the first snapshot met in a period is its newest.
            if previous != Some(index) {
                keep[i].push(period.reason(date));
                previous = Some(index);
            }
        }
    }

    for (snapshot, reasons) in snapshots.iter().zip(&mut keep) {
        if !snapshot.available {
            reasons.push(Reason::NotAvailable);
        }
        if snapshot.time > now {
            reasons.push(Reason::Future);
        }
    }

    let mut by_id: HashMap<&str, Vec<Reason>> = HashMap::with_capacity(snapshots.len());
    for (snapshot, reasons) in snapshots.iter().zip(keep) {
        by_id.entry(&snapshot.id).or_default().extend(reasons);
    }
    for reasons in by_id.values_mut() {
        reasons.sort();
        reasons.dedup();
    }
    snapshots
        .iter()
        .map(|snapshot| Verdict {
            id: snapshot.id.clone(),
            keep: by_id.get(snapshot.id.as_str()).cloned().unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};
    use proptest::prelude::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn date(y: i32, mo: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap()
    }

    fn snap(id: &str, time: DateTime<Utc>) -> RecoveryPoint {
        RecoveryPoint {
            id: id.to_string(),
            time,
            available: true,
        }
    }

    fn pending(id: &str, time: DateTime<Utc>) -> RecoveryPoint {
        RecoveryPoint {
            available: false,
            ..snap(id, time)
        }
    }

    fn policy(text: &str) -> Policy {
        Policy::parse(text).unwrap()
    }

    fn kept(verdicts: &[Verdict]) -> Vec<&str> {
        verdicts
            .iter()
            .filter(|v| v.is_kept())
            .map(|v| v.id.as_str())
            .collect()
    }

    fn reasons<'a>(verdicts: &'a [Verdict], id: &str) -> &'a [Reason] {
        &verdicts.iter().find(|v| v.id == id).unwrap().keep
    }

    fn parse_error(text: &str) -> String {
        Policy::parse(text).unwrap_err().to_string()
    }

    // --- parsing -----------------------------------------------------------

    #[test]
    fn parses_the_documented_example() {
        assert_eq!(
            policy("last=3,daily=7,weekly=4,monthly=12,yearly=2"),
            Policy {
                last: 3,
                daily: 7,
                weekly: 4,
                monthly: 12,
                yearly: 2
            }
        );
    }

    #[test]
    fn rules_left_out_are_zero_and_order_and_spaces_do_not_matter() {
        assert_eq!(
            policy(" monthly = 12 , daily=7 "),
            Policy {
                last: 0,
                daily: 7,
                weekly: 0,
                monthly: 12,
                yearly: 0
            }
        );
        assert_eq!("yearly=1".parse::<Policy>().unwrap().yearly, 1);
    }

    #[test]
    fn displays_the_canonical_text() {
        assert_eq!(
            policy("yearly=2,last=3").to_string(),
            "last=3,daily=0,weekly=0,monthly=0,yearly=2"
        );
        let full = "last=3,daily=7,weekly=4,monthly=12,yearly=2";
        assert_eq!(policy(full).to_string(), full);
    }

    #[test]
    fn accepts_the_largest_counts() {
        let max = u32::MAX;
        let text = format!("last={max},daily={max},weekly={max},monthly={max},yearly={max}");
        assert_eq!(policy(&text).yearly, u32::MAX);
    }

    #[test]
    fn refuses_empty_text() {
        let message = "the policy is empty; expected rules such as last=3,daily=7,weekly=4,monthly=12,yearly=2";
        assert_eq!(parse_error(""), message);
        assert_eq!(parse_error("  "), message);
    }

    #[test]
    fn refuses_empty_rules() {
        let message = "empty rule: a comma with nothing before or after it";
        assert_eq!(parse_error("last=3,"), message);
        assert_eq!(parse_error(",last=3"), message);
        assert_eq!(parse_error("last=3,,daily=7"), message);
    }

    #[test]
    fn refuses_a_rule_without_equals() {
        assert_eq!(
            parse_error("daily 7"),
            r#""daily 7" is not a rule: expected name=count, such as daily=7"#
        );
    }

    #[test]
    fn refuses_unknown_rules() {
        assert_eq!(
            parse_error("last=3,hourly=24"),
            r#"unknown rule "hourly": the rules are last, daily, weekly, monthly and yearly"#
        );
        // Names are lower case, as documented; anything else is a typo.
        assert_eq!(
            Policy::parse("Daily=7"),
            Err(PolicyError::UnknownRule("Daily".into()))
        );
        assert_eq!(
            Policy::parse("=7"),
            Err(PolicyError::UnknownRule(String::new()))
        );
    }

    #[test]
    fn refuses_duplicate_rules() {
        assert_eq!(
            parse_error("daily=7,last=1,daily=7"),
            "rule daily is given more than once"
        );
    }

    #[test]
    fn refuses_a_missing_count() {
        assert_eq!(
            parse_error("daily="),
            "rule daily has no count: expected daily=<whole number>"
        );
    }

    #[test]
    fn refuses_counts_that_are_not_whole_numbers() {
        assert_eq!(
            parse_error("weekly=four"),
            r#"rule weekly has count "four", which is not a whole number"#
        );
        for bad in ["1.5", "+3", "1e3", "7d", "0x10", "- 1", "--1"] {
            assert!(
                matches!(
                    Policy::parse(&format!("daily={bad}")),
                    Err(PolicyError::NotANumber { rule: "daily", .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_negative_counts() {
        assert_eq!(
            parse_error("monthly=-1"),
            "rule monthly has count -1, which is negative"
        );
    }

    #[test]
    fn refuses_counts_too_large() {
        assert_eq!(
            parse_error("yearly=4294967296"),
            "rule yearly has count 4294967296, which is larger than 4294967295"
        );
    }

    #[test]
    fn refuses_a_policy_that_keeps_nothing() {
        let message = "every count is 0, so the policy would keep nothing; set at least one of last, daily, weekly, monthly, yearly";
        assert_eq!(parse_error("last=0"), message);
        assert_eq!(
            parse_error("last=0,daily=0,weekly=0,monthly=0,yearly=0"),
            message
        );
    }

    // --- reasons -----------------------------------------------------------

    #[test]
    fn displays_reasons() {
        let cases = [
            (Reason::Last(1), "last 1"),
            (Reason::Daily(date(2026, 11, 24)), "daily 2026-11-24"),
            (
                Reason::Weekly {
                    year: 2026,
                    week: 48,
                },
                "weekly 2026-W48",
            ),
            (
                Reason::Weekly {
                    year: 2027,
                    week: 1,
                },
                "weekly 2027-W01",
            ),
            (
                Reason::Monthly {
                    year: 2026,
                    month: 11,
                },
                "monthly 2026-11",
            ),
            (
                Reason::Monthly {
                    year: 2026,
                    month: 3,
                },
                "monthly 2026-03",
            ),
            (Reason::Yearly(2026), "yearly 2026"),
            (Reason::NewestAvailable, "newest available snapshot"),
            (Reason::NotAvailable, "still being created or copied"),
            (Reason::Future, "newer than now"),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    // --- safety rules ------------------------------------------------------

    #[test]
    fn empty_input_gives_no_verdicts() {
        assert!(decide(&policy("last=1"), &[], at(2026, 11, 24, 12, 0, 0)).is_empty());
    }

    #[test]
    fn keeps_every_snapshot_that_is_not_available() {
        let now = at(2026, 11, 24, 12, 0, 0);
        let snapshots = [
            pending("a", at(2020, 1, 1, 0, 0, 0)),
            pending("b", at(2026, 11, 24, 4, 0, 0)),
        ];
        let verdicts = decide(&policy("last=1"), &snapshots, now);
        for verdict in &verdicts {
            assert_eq!(verdict.keep, [Reason::NotAvailable]);
        }
    }

    #[test]
    fn snapshots_not_available_do_not_count_for_the_rules() {
        let now = at(2026, 11, 24, 12, 0, 0);
        let snapshots = [
            snap("old", at(2026, 11, 23, 4, 0, 0)),
            snap("today", at(2026, 11, 24, 4, 0, 0)),
            pending("copying", at(2026, 11, 24, 5, 0, 0)),
        ];
        let verdicts = decide(&policy("last=1,daily=1"), &snapshots, now);
        assert_eq!(
            reasons(&verdicts, "today"),
            [
                Reason::Last(1),
                Reason::Daily(date(2026, 11, 24)),
                Reason::NewestAvailable
            ]
        );
        assert_eq!(reasons(&verdicts, "copying"), [Reason::NotAvailable]);
        assert!(!verdicts[0].is_kept());
    }

    #[test]
    fn keeps_the_newest_available_snapshot_when_no_rule_does() {
        // An outage: nothing in the last 7 days, so the daily rule keeps nothing.
        let now = at(2026, 11, 24, 12, 0, 0);
        let snapshots = [
            snap("older", at(2026, 10, 1, 4, 0, 0)),
            snap("newest", at(2026, 10, 2, 4, 0, 0)),
        ];
        let verdicts = decide(&policy("daily=7"), &snapshots, now);
        assert_eq!(kept(&verdicts), ["newest"]);
        assert_eq!(reasons(&verdicts, "newest"), [Reason::NewestAvailable]);
    }

    #[test]
    fn keeps_snapshots_newer_than_now_without_letting_them_count() {
        let now = at(2026, 11, 24, 12, 0, 0);
        let snapshots = [
            snap("before", at(2026, 11, 24, 4, 0, 0)),
            snap("after", at(2026, 11, 24, 12, 0, 1)),
            snap("at-now", at(2026, 11, 24, 12, 0, 0)),
        ];
        let verdicts = decide(&policy("last=1"), &snapshots, now);
        assert_eq!(
            reasons(&verdicts, "after"),
            [Reason::NewestAvailable, Reason::Future]
        );
        assert_eq!(reasons(&verdicts, "at-now"), [Reason::Last(1)]);
        assert!(!verdicts[0].is_kept());
    }

    #[test]
    fn a_pending_snapshot_newer_than_now_has_both_reasons() {
        let now = at(2026, 11, 24, 12, 0, 0);
        let verdicts = decide(
            &policy("last=1"),
            &[pending("p", at(2026, 11, 25, 0, 0, 0))],
            now,
        );
        assert_eq!(verdicts[0].keep, [Reason::NotAvailable, Reason::Future]);
    }

    #[test]
    fn verdicts_follow_the_input_order() {
        let now = at(2026, 11, 24, 12, 0, 0);
        let snapshots = [
            snap("b", at(2026, 11, 22, 4, 0, 0)),
            snap("c", at(2026, 11, 24, 4, 0, 0)),
            snap("a", at(2026, 11, 23, 4, 0, 0)),
        ];
        let verdicts = decide(&policy("last=2"), &snapshots, now);
        let ids: Vec<&str> = verdicts.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a"]);
        assert_eq!(reasons(&verdicts, "a"), [Reason::Last(2)]);
        assert!(!verdicts[0].is_kept());
    }

    #[test]
    fn equal_times_are_ordered_by_id_whatever_the_input_order() {
        let now = at(2026, 11, 24, 12, 0, 0);
        let time = at(2026, 11, 24, 4, 0, 0);
        let forward = [snap("a", time), snap("b", time)];
        let backward = [snap("b", time), snap("a", time)];
        for snapshots in [&forward, &backward] {
            let verdicts = decide(&policy("last=1,daily=1"), snapshots, now);
            assert_eq!(kept(&verdicts), ["b"]);
            assert_eq!(
                reasons(&verdicts, "b"),
                [
                    Reason::Last(1),
                    Reason::Daily(date(2026, 11, 24)),
                    Reason::NewestAvailable
                ]
            );
        }
    }

    #[test]
    fn an_id_listed_twice_is_kept_if_either_entry_is() {
        let now = at(2026, 11, 24, 12, 0, 0);
        let snapshots = [
            snap("dup", at(2026, 11, 1, 4, 0, 0)),
            snap("new", at(2026, 11, 24, 4, 0, 0)),
            snap("dup", at(2026, 11, 23, 4, 0, 0)),
        ];
        let verdicts = decide(&policy("last=2"), &snapshots, now);
        assert_eq!(verdicts[0].keep, [Reason::Last(2)]);
        assert_eq!(verdicts[0], verdicts[2]);
    }

    #[test]
    fn the_largest_counts_keep_everything_without_overflow() {
        let max = u32::MAX;
        let p = policy(&format!(
            "daily={max},weekly={max},monthly={max},yearly={max}"
        ));
        let now = at(2026, 11, 24, 12, 0, 0);
        let snapshots = [
            snap("ancient", at(1, 1, 1, 0, 0, 0)),
            snap("old", at(1970, 1, 1, 0, 0, 0)),
            snap("new", at(2026, 11, 24, 4, 0, 0)),
        ];
        let verdicts = decide(&p, &snapshots, now);
        assert!(verdicts.iter().all(Verdict::is_kept));
        assert_eq!(
            reasons(&verdicts, "ancient"),
            [
                Reason::Daily(date(1, 1, 1)),
                Reason::Weekly { year: 1, week: 1 },
                Reason::Monthly { year: 1, month: 1 },
                Reason::Yearly(1)
            ]
        );
    }

    // --- calendar boundaries -----------------------------------------------

    #[test]
    fn a_day_ends_at_midnight() {
        let now = at(2026, 11, 24, 12, 0, 0);
        let snapshots = [
            snap("yesterday-first", at(2026, 11, 23, 0, 0, 0)),
            snap("yesterday-last", at(2026, 11, 23, 23, 59, 59)),
            snap("today-first", at(2026, 11, 24, 0, 0, 0)),
            snap("today-second", at(2026, 11, 24, 0, 0, 1)),
        ];
        let one_day = decide(&policy("daily=1"), &snapshots, now);
        assert_eq!(kept(&one_day), ["today-second"]);

        let two_days = decide(&policy("daily=2"), &snapshots, now);
        assert_eq!(kept(&two_days), ["yesterday-last", "today-second"]);
        assert_eq!(
            reasons(&two_days, "yesterday-last"),
            [Reason::Daily(date(2026, 11, 23))]
        );
    }

    #[test]
    fn at_midnight_today_has_begun_and_yesterday_is_out_of_a_one_day_window() {
        let now = at(2026, 11, 24, 0, 0, 0);
        let snapshots = [
            snap("older", at(2026, 11, 23, 12, 0, 0)),
            snap("yesterday", at(2026, 11, 23, 23, 59, 59)),
        ];
        let verdicts = decide(&policy("daily=1"), &snapshots, now);
        // Only the safety rule keeps anything: today has no snapshot yet.
        assert_eq!(kept(&verdicts), ["yesterday"]);
        assert_eq!(reasons(&verdicts, "yesterday"), [Reason::NewestAvailable]);

        let verdicts = decide(&policy("daily=2"), &snapshots, now);
        assert_eq!(
            reasons(&verdicts, "yesterday"),
            [Reason::Daily(date(2026, 11, 23)), Reason::NewestAvailable]
        );
    }

    #[test]
    fn a_week_runs_from_monday_to_sunday() {
        // 2026-11-24 is a Tuesday in 2026-W48; 2026-11-22 is the Sunday before.
        let now = at(2026, 11, 24, 12, 0, 0);
        let snapshots = [
            snap("saturday", at(2026, 11, 21, 23, 0, 0)),
            snap("sunday", at(2026, 11, 22, 23, 59, 59)),
            snap("monday", at(2026, 11, 23, 0, 0, 0)),
        ];
        let this_week = decide(&policy("weekly=1"), &snapshots, now);
        assert_eq!(kept(&this_week), ["monday"]);
        assert_eq!(
            reasons(&this_week, "monday"),
            [
                Reason::Weekly {
                    year: 2026,
                    week: 48
                },
                Reason::NewestAvailable
            ]
        );

        let two_weeks = decide(&policy("weekly=2"), &snapshots, now);
        assert_eq!(kept(&two_weeks), ["sunday", "monday"]);
        assert_eq!(
            reasons(&two_weeks, "sunday"),
            [Reason::Weekly {
                year: 2026,
                week: 47
            }]
        );
    }

    #[test]
    fn on_a_sunday_the_week_began_on_monday() {
        let now = at(2026, 11, 29, 23, 59, 59);
        let snapshots = [
            snap("monday", at(2026, 11, 23, 0, 0, 0)),
            snap("sunday-before", at(2026, 11, 22, 23, 59, 59)),
        ];
        let verdicts = decide(&policy("last=1,weekly=1"), &snapshots, now);
        assert_eq!(kept(&verdicts), ["monday"]);
    }

    #[test]
    fn an_iso_week_can_span_new_year() {
        // 2026 begins on a Thursday, so it has 53 ISO weeks: 2026-W53 runs
        // from Monday 2026-12-28 to Sunday 2027-01-03, and 2027-W01 begins on
        // Monday 2027-01-04. 2025-12-29 (a Monday) is already in 2026-W01.
        assert_eq!(
            Period::Week.reason(date(2025, 12, 28)),
            Reason::Weekly {
                year: 2025,
                week: 52
            }
        );
        assert_eq!(
            Period::Week.reason(date(2025, 12, 29)),
            Reason::Weekly {
                year: 2026,
                week: 1
            }
        );
        for day in [date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 3)] {
            assert_eq!(
                Period::Week.reason(day),
                Reason::Weekly {
                    year: 2026,
                    week: 53
                }
            );
        }
        assert_eq!(
            Period::Week.reason(date(2027, 1, 4)),
            Reason::Weekly {
                year: 2027,
                week: 1
            }
        );

        let now = at(2027, 1, 3, 12, 0, 0);
        let snapshots = [
            snap("sunday-w52", at(2026, 12, 27, 4, 0, 0)),
            snap("thursday", at(2026, 12, 31, 4, 0, 0)),
            snap("friday", at(2027, 1, 1, 4, 0, 0)),
        ];
        // One ISO week keeps one snapshot across the new year...
        let weekly = decide(&policy("weekly=1"), &snapshots, now);
        assert_eq!(kept(&weekly), ["friday"]);
        // ...while the calendar years keep one each.
        let yearly = decide(&policy("yearly=2"), &snapshots, now);
        assert_eq!(kept(&yearly), ["thursday", "friday"]);
        assert_eq!(reasons(&yearly, "thursday"), [Reason::Yearly(2026)]);

        let two_weeks = decide(&policy("weekly=2"), &snapshots, now);
        assert_eq!(
            reasons(&two_weeks, "sunday-w52"),
            [Reason::Weekly {
                year: 2026,
                week: 52
            }]
        );

        // On the Monday after, 2026-W53 is the previous week.
        let monday = at(2027, 1, 4, 0, 0, 0);
        assert_eq!(
            kept(&decide(&policy("weekly=1"), &snapshots, monday)),
            ["friday"]
        );
        assert_eq!(
            reasons(&decide(&policy("weekly=1"), &snapshots, monday), "friday"),
            [Reason::NewestAvailable]
        );
        assert_eq!(
            reasons(&decide(&policy("weekly=2"), &snapshots, monday), "friday"),
            [
                Reason::Weekly {
                    year: 2026,
                    week: 53
                },
                Reason::NewestAvailable
            ]
        );
    }

    #[test]
    fn a_month_ends_on_its_last_day() {
        let now = at(2026, 11, 1, 12, 0, 0);
        let snapshots = [
            snap("oct-30", at(2026, 10, 30, 4, 0, 0)),
            snap("oct-31", at(2026, 10, 31, 23, 59, 59)),
            snap("nov-1", at(2026, 11, 1, 0, 0, 0)),
        ];
        let this_month = decide(&policy("monthly=1"), &snapshots, now);
        assert_eq!(kept(&this_month), ["nov-1"]);

        let two_months = decide(&policy("monthly=2"), &snapshots, now);
        assert_eq!(kept(&two_months), ["oct-31", "nov-1"]);
        assert_eq!(
            reasons(&two_months, "oct-31"),
            [Reason::Monthly {
                year: 2026,
                month: 10
            }]
        );
    }

    #[test]
    fn months_count_back_across_new_year() {
        let now = at(2027, 1, 15, 12, 0, 0);
        let snapshots = [
            snap("nov", at(2026, 11, 30, 4, 0, 0)),
            snap("dec", at(2026, 12, 31, 4, 0, 0)),
            snap("jan", at(2027, 1, 1, 4, 0, 0)),
        ];
        let verdicts = decide(&policy("monthly=2"), &snapshots, now);
        assert_eq!(kept(&verdicts), ["dec", "jan"]);
    }

    #[test]
    fn leap_day_is_the_last_day_of_february_2028() {
        let now = at(2028, 3, 1, 12, 0, 0);
        let snapshots = [
            snap("feb-28", at(2028, 2, 28, 4, 0, 0)),
            snap("feb-29", at(2028, 2, 29, 4, 0, 0)),
            snap("mar-1", at(2028, 3, 1, 4, 0, 0)),
        ];
        let monthly = decide(&policy("monthly=2"), &snapshots, now);
        assert_eq!(kept(&monthly), ["feb-29", "mar-1"]);
        assert_eq!(
            reasons(&monthly, "feb-29"),
            [Reason::Monthly {
                year: 2028,
                month: 2
            }]
        );

        // The day before 1 March is 29 February, not 28.
        let daily = decide(&policy("daily=2"), &snapshots, now);
        assert_eq!(kept(&daily), ["feb-29", "mar-1"]);
        assert_eq!(
            reasons(&daily, "feb-29"),
            [Reason::Daily(date(2028, 2, 29))]
        );
    }

    #[test]
    fn a_year_ends_on_new_years_eve() {
        let now = at(2027, 1, 1, 0, 0, 0);
        let snapshots = [
            snap("eve", at(2026, 12, 31, 23, 59, 59)),
            snap("new-year", at(2027, 1, 1, 0, 0, 0)),
        ];
        let verdicts = decide(&policy("yearly=1"), &snapshots, now);
        assert_eq!(kept(&verdicts), ["new-year"]);
        let verdicts = decide(&policy("yearly=2"), &snapshots, now);
        assert_eq!(reasons(&verdicts, "eve"), [Reason::Yearly(2026)]);
    }

    /// A year of daily snapshots at 04:00, from 2025-12-16 to 2026-12-15,
    /// pruned at noon on Tuesday 2026-12-15 with the documented policy.
    ///
    /// - last 3: 12-15, 12-14, 12-13
    /// - daily 7 (12-09 to 12-15): 12-09 ... 12-15
    /// - weekly 4: 2026-W51 (from Monday 12-14) keeps 12-15, W50 keeps Sunday
    ///   12-13, W49 keeps Sunday 12-06, W48 keeps Sunday 11-29
    /// - monthly 12 (January to December 2026): the last day of each month,
    ///   01-31, 02-28 (2026 is not a leap year), 03-31, 04-30, 05-31, 06-30,
    ///   07-31, 08-31, 09-30, 10-31, 11-30, and 12-15 for December
    /// - yearly 2: 12-15 for 2026 and 2025-12-31 for 2025
    ///
    /// 21 kept, 344 deleted.
    #[test]
    fn a_year_of_daily_snapshots() {
        let now = at(2026, 12, 15, 12, 0, 0);
        let first = at(2025, 12, 16, 4, 0, 0);
        let snapshots: Vec<RecoveryPoint> = (0..365)
            .map(|n| {
                let time = first + TimeDelta::days(n);
                snap(&time.format("%Y-%m-%d").to_string(), time)
            })
            .collect();
        assert_eq!(snapshots.last().unwrap().id, "2026-12-15");

        let verdicts = decide(
            &policy("last=3,daily=7,weekly=4,monthly=12,yearly=2"),
            &snapshots,
            now,
        );
        assert_eq!(
            kept(&verdicts),
            [
                "2025-12-31",
                "2026-01-31",
                "2026-02-28",
                "2026-03-31",
                "2026-04-30",
                "2026-05-31",
                "2026-06-30",
                "2026-07-31",
                "2026-08-31",
                "2026-09-30",
                "2026-10-31",
                "2026-11-29",
                "2026-11-30",
                "2026-12-06",
                "2026-12-09",
                "2026-12-10",
                "2026-12-11",
                "2026-12-12",
                "2026-12-13",
                "2026-12-14",
                "2026-12-15",
            ]
        );
        assert_eq!(verdicts.iter().filter(|v| !v.is_kept()).count(), 344);

        assert_eq!(
            reasons(&verdicts, "2026-12-15"),
            [
                Reason::Last(1),
                Reason::Daily(date(2026, 12, 15)),
                Reason::Weekly {
                    year: 2026,
                    week: 51
                },
                Reason::Monthly {
                    year: 2026,
                    month: 12
                },
                Reason::Yearly(2026),
                Reason::NewestAvailable,
            ]
        );
        assert_eq!(
            reasons(&verdicts, "2026-12-13"),
            [
                Reason::Last(3),
                Reason::Daily(date(2026, 12, 13)),
                Reason::Weekly {
                    year: 2026,
                    week: 50
                },
            ]
        );
        assert_eq!(
            reasons(&verdicts, "2026-11-29"),
            [Reason::Weekly {
                year: 2026,
                week: 48
            }]
        );
        assert_eq!(reasons(&verdicts, "2025-12-31"), [Reason::Yearly(2025)]);
    }

    // --- properties --------------------------------------------------------

    /// The rules written out one snapshot at a time, as directly as the
    /// policy text reads, with none of `decide`'s sorting or period numbers.
    fn reference(
        policy: &Policy,
        snapshots: &[RecoveryPoint],
        now: DateTime<Utc>,
    ) -> Vec<Vec<Reason>> {
        let judged = |s: &RecoveryPoint| s.available && s.time <= now;
        let newer = |a: &RecoveryPoint, b: &RecoveryPoint| (a.time, &a.id) > (b.time, &b.id);
        let monday = |d: NaiveDate| d - TimeDelta::days(d.weekday().num_days_from_monday().into());
        let months = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month());
        let today = now.date_naive();

        snapshots
            .iter()
            .map(|s| {
                let mut reasons = Vec::new();
                if judged(s) {
                    let day = s.time.date_naive();
                    let newer_judged: Vec<&RecoveryPoint> = snapshots
                        .iter()
                        .filter(|o| judged(o) && newer(o, s))
                        .collect();
                    let newest_of = |same: &dyn Fn(NaiveDate) -> bool| {
                        !newer_judged.iter().any(|o| same(o.time.date_naive()))
                    };

                    let rank = newer_judged.len() + 1;
                    if rank <= policy.last as usize {
                        reasons.push(Reason::Last(rank as u32));
                    }
                    if (today - day).num_days() < i64::from(policy.daily)
                        && newest_of(&|d| d == day)
                    {
                        reasons.push(Reason::Daily(day));
                    }
                    let weeks_ago = (monday(today) - monday(day)).num_days() / 7;
                    if weeks_ago < i64::from(policy.weekly)
                        && newest_of(&|d| d.iso_week() == day.iso_week())
                    {
                        reasons.push(Reason::Weekly {
                            year: day.iso_week().year(),
                            week: day.iso_week().week(),
                        });
                    }
                    if months(today) - months(day) < i64::from(policy.monthly)
                        && newest_of(&|d| months(d) == months(day))
                    {
                        reasons.push(Reason::Monthly {
                            year: day.year(),
                            month: day.month(),
                        });
                    }
                    if i64::from(today.year() - day.year()) < i64::from(policy.yearly)
                        && newest_of(&|d| d.year() == day.year())
                    {
                        reasons.push(Reason::Yearly(day.year()));
                    }
                }
                if s.available && !snapshots.iter().any(|o| o.available && newer(o, s)) {
                    reasons.push(Reason::NewestAvailable);
                }
                if !s.available {
                    reasons.push(Reason::NotAvailable);
                }
                if s.time > now {
                    reasons.push(Reason::Future);
                }
                reasons.sort();
                reasons
            })
            .collect()
    }

    fn count() -> impl Strategy<Value = u32> {
        prop_oneof![6 => 0u32..8, 2 => 0u32..40, 1 => Just(u32::MAX)]
    }

    fn any_policy() -> impl Strategy<Value = Policy> {
        (count(), count(), count(), count(), count()).prop_map(
            |(last, daily, weekly, monthly, yearly)| Policy {
                last,
                daily,
                weekly,
                monthly,
                yearly,
            },
        )
    }

    fn any_now() -> impl Strategy<Value = DateTime<Utc>> {
        // 2020-01-01 to 2035-01-01: leap years, 53-week years, all weekdays.
        (1_577_836_800i64..2_051_222_400)
            .prop_map(|secs| DateTime::from_timestamp(secs, 0).unwrap())
    }

    /// Snapshots up to 800 days before `now` and a few days after it, often
    /// on the edges of a day and often sharing a time, with unique ids whose
    /// order is unrelated to the times.
    fn any_group() -> impl Strategy<Value = (DateTime<Utc>, Vec<RecoveryPoint>)> {
        let second_of_day = prop_oneof![4 => 0u32..86_400, 1 => Just(0u32), 1 => Just(86_399u32)];
        let entry = (
            -3i64..800,
            second_of_day,
            any::<bool>(),
            0u8..10,
            any::<u16>(),
        );
        (any_now(), prop::collection::vec(entry, 0..40)).prop_map(|(now, entries)| {
            let midnight = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
            let snapshots = entries
                .into_iter()
                .enumerate()
                .map(
                    |(n, (days_ago, second, pending, available_odds, tag))| RecoveryPoint {
                        id: format!("{tag:05}-{n}"),
                        time: midnight - TimeDelta::days(days_ago)
                            + TimeDelta::seconds(second.into()),
                        // Mostly available, as in real groups.
                        available: !(pending && available_odds < 3),
                    },
                )
                .collect();
            (now, snapshots)
        })
    }

    proptest! {
        #[test]
        fn never_deletes_the_newest_available_snapshot(policy in any_policy(), (now, snapshots) in any_group()) {
            let verdicts = decide(&policy, &snapshots, now);
            let newest = snapshots.iter().filter(|s| s.available).max_by_key(|s| (s.time, &s.id));
            if let Some(newest) = newest {
                let verdict = verdicts.iter().find(|v| v.id == newest.id).unwrap();
                prop_assert!(verdict.keep.contains(&Reason::NewestAvailable));
            }
        }

        #[test]
        fn never_deletes_a_snapshot_that_is_not_available(policy in any_policy(), (now, snapshots) in any_group()) {
            let verdicts = decide(&policy, &snapshots, now);
            for (snapshot, verdict) in snapshots.iter().zip(&verdicts) {
                prop_assert_eq!(&snapshot.id, &verdict.id);
                if !snapshot.available {
                    prop_assert!(verdict.is_kept());
                }
                if snapshot.time > now {
                    prop_assert!(verdict.keep.contains(&Reason::Future));
                }
            }
        }

        #[test]
        fn keeps_exactly_what_each_rule_selects(policy in any_policy(), (now, snapshots) in any_group()) {
            let verdicts = decide(&policy, &snapshots, now);
            let expected = reference(&policy, &snapshots, now);
            for (verdict, expected) in verdicts.iter().zip(&expected) {
                prop_assert_eq!(&verdict.keep, expected, "{}", verdict.id);
            }
        }

        #[test]
        fn deciding_again_on_what_was_kept_keeps_all_of_it(policy in any_policy(), (now, snapshots) in any_group()) {
            let verdicts = decide(&policy, &snapshots, now);
            let survivors: Vec<RecoveryPoint> = snapshots
                .iter()
                .zip(&verdicts)
                .filter(|(_, v)| v.is_kept())
                .map(|(s, _)| s.clone())
                .collect();
            let again = decide(&policy, &survivors, now);
            prop_assert!(again.iter().all(Verdict::is_kept));
        }

        #[test]
        fn does_not_depend_on_the_input_order(
            policy in any_policy(),
            (now, snapshots, shuffled) in any_group().prop_flat_map(|(now, snapshots)| {
                (Just(now), Just(snapshots.clone()), Just(snapshots).prop_shuffle())
            }),
        ) {
            let by_id = |verdicts: Vec<Verdict>| -> HashMap<String, Vec<Reason>> {
                verdicts.into_iter().map(|v| (v.id, v.keep)).collect()
            };
            prop_assert_eq!(
                by_id(decide(&policy, &snapshots, now)),
                by_id(decide(&policy, &shuffled, now))
            );
        }

        #[test]
        fn the_canonical_text_parses_back(policy in any_policy()) {
            let keeps_something = policy.to_string() != "last=0,daily=0,weekly=0,monthly=0,yearly=0";
            match Policy::parse(&policy.to_string()) {
                Ok(parsed) => prop_assert_eq!(parsed, policy),
                Err(err) => {
                    prop_assert!(!keeps_something);
                    prop_assert_eq!(err, PolicyError::KeepsNothing);
                }
            }
        }
    }
}
