//! RDS identifier rules, checked before anything is sent to AWS.
//!
//! DB instance and cluster identifiers are 1-63 letters, digits and hyphens,
//! start with a letter, never end with a hyphen or hold two in a row. RDS
//! stores them lower-case and compares them case-insensitively.

use crate::domain::model::DatabaseKind;
use crate::error::Error;

/// The longest DB instance, DB cluster or DB cluster snapshot identifier.
pub const MAX_LEN: usize = 63;

/// Checks `value` against RDS's identifier rules and returns it lower-cased.
/// `what` names the field in the error ("database", "snapshot", ...).
pub fn validate(what: &str, value: &str) -> Result<String, Error> {
    let problem = if value.is_empty() {
        Some("is empty")
    } else if value.len() > MAX_LEN {
        Some("is longer than 63 characters")
    } else if !value.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must start with a letter")
    } else if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("may hold only letters, digits and hyphens")
    } else if value.ends_with('-') {
        Some("must not end with a hyphen")
    } else if value.contains("--") {
        Some("must not contain two hyphens in a row")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::InvalidIdentifier {
            what: what.to_string(),
            value: value.to_string(),
            problem,
        }),
        None => Ok(value.to_ascii_lowercase()),
    }
}

/// The parts of a snapshot ARN: (region, kind, identifier), or `None` if
/// `arn` is not an RDS snapshot ARN.
pub fn parse_snapshot_arn(arn: &str) -> Option<(&str, DatabaseKind, &str)> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _, "rds", region, _, "snapshot", id] => Some((region, DatabaseKind::Instance, id)),
        ["arn", _, "rds", region, _, "cluster-snapshot", id] => {
            Some((region, DatabaseKind::Cluster, id))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_lowercases_valid_identifiers() {
        assert_eq!(validate("database", "Orders-1").unwrap(), "orders-1");
        assert_eq!(validate("database", &"a".repeat(63)).unwrap().len(), 63);
    }

    #[test]
    fn refuses_each_rule_by_name() {
        for (value, problem) in [
            ("", "is empty"),
            ("1orders", "must start with a letter"),
            ("orders_db", "may hold only letters, digits and hyphens"),
            ("orders-", "must not end with a hyphen"),
            ("ord--ers", "must not contain two hyphens in a row"),
        ] {
            let err = validate("database", value).unwrap_err().to_string();
            assert!(err.contains(problem), "{value:?}: {err}");
            assert!(err.contains("database"), "{err}");
        }
        assert!(validate("database", &"a".repeat(64)).is_err());
    }

    #[test]
    fn snapshot_arns_are_taken_apart() {
        assert_eq!(
            parse_snapshot_arn(
                "arn:aws:rds:us-east-1:123456789012:snapshot:lifeboat-orders-20261124-0400"
            ),
            Some((
                "us-east-1",
                DatabaseKind::Instance,
                "lifeboat-orders-20261124-0400"
            ))
        );
        assert_eq!(
            parse_snapshot_arn("arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster-snapshot:x"),
            Some(("us-gov-west-1", DatabaseKind::Cluster, "x"))
        );
        assert_eq!(
            parse_snapshot_arn("arn:aws:rds:us-east-1:123456789012:db:orders"),
            None
        );
        assert_eq!(parse_snapshot_arn("lifeboat-orders"), None);
    }
}
