//! How a command ends when it does not end well: a usage error (exit 2),
//! or a failure or refusal (exit 1), each saying what is wrong and which
//! flag puts it right.

use lifeboat::Error;

use crate::args::{flag_for, OVERRIDE_FLAGS};

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The command line or the settings: fixed by a flag. Exit 2.
    Usage(String),
    /// Refused, or failed while doing it. Exit 1.
    Failed {
        /// The error's kind, as the functions name it (`RestoreRefused`).
        kind: String,
        message: String,
    },
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    pub fn failed(kind: &str, message: impl Into<String>) -> Self {
        Failure::Failed {
            kind: kind.to_string(),
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Failed { .. } => 1,
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Failure::Usage(_) => "UsageError",
            Failure::Failed { kind, .. } => kind,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(message) | Failure::Failed { message, .. } => message,
        }
    }
}

impl From<Error> for Failure {
    /// A function's error, in the command line's terms: a setting is
    /// named with its flag, a request field with the flag that gives it.
    fn from(error: Error) -> Self {
        match &error {
            Error::MissingSetting(name) => {
                Failure::Usage(format!("{error}: {}", give(name, "the setting's value")))
            }
            Error::MalformedSetting { name, .. } => {
                Failure::Usage(format!("{error}; {}", give(name, "a valid value")))
            }
            Error::InvalidEvent(_) | Error::InvalidIdentifier { .. } => {
                Failure::Usage(in_flags(&error.to_string()))
            }
            other => Failure::failed(other.kind(), in_flags(&other.to_string())),
        }
    }
}

/// `give --catalog-bucket (or set LIFEBOAT_CATALOG_BUCKET)`.
pub fn give(setting: &str, what: &str) -> String {
    match flag_for(setting) {
        Some("--region") => format!("give --region (or set {setting}, or a region in the profile)"),
        Some(flag) => format!("give {flag} (or set {setting}) with {what}"),
        None => format!("set {setting} to {what}"),
    }
}

/// A function's message, with the request's field names replaced by the
/// flags that set them: whoever reads it typed flags, not JSON.
pub fn in_flags(message: &str) -> String {
    let mut text = message.replace("must be given in \"overrides\"", "must be given");
    for (field, flag) in OVERRIDE_FLAGS {
        text = text.replace(&format!("overrides.{field}"), flag);
    }
    for (field, flag) in [
        ("\"source_region\"", "--source-region"),
        ("\"database_kind\"", "--database-kind"),
        ("\"region\"", "--region"),
    ] {
        text = text.replace(field, flag);
    }
    // `("snapshot": "lifeboat-orders-...")` -> `(--snapshot lifeboat-orders-...)`
    while let Some(start) = text.find("\"snapshot\": \"") {
        let value_start = start + "\"snapshot\": \"".len();
        let Some(len) = text[value_start..].find('"') else {
            break;
        };
        let value = text[value_start..value_start + len].to_string();
        text.replace_range(start..value_start + len + 1, &format!("--snapshot {value}"));
    }
    text.replace("send the same request again", "run the same command again")
        .replace("send the request again", "run the command again")
        .replace(
            "a dry run shows the whole plan",
            "--dry-run shows the whole plan",
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_named_with_their_flags() {
        let usage = Failure::from(Error::MissingSetting("LIFEBOAT_CATALOG_BUCKET"));
        assert_eq!(usage.exit_code(), 2);
        assert_eq!(
            usage.message(),
            "setting LIFEBOAT_CATALOG_BUCKET is required but not set: give --catalog-bucket (or set LIFEBOAT_CATALOG_BUCKET) with the setting's value"
        );
        let region = Failure::from(Error::MissingSetting("AWS_REGION"));
        assert!(region.message().contains("give --region"), "{region:?}");
        let other = Failure::from(Error::MissingSetting("LIFEBOAT_DRILL_SUBNET_GROUP"));
        assert!(
            other
                .message()
                .ends_with("set LIFEBOAT_DRILL_SUBNET_GROUP to the setting's value"),
            "{other:?}"
        );
    }

    #[test]
    fn a_refusal_names_flags_not_request_fields() {
        let refused = Failure::from(Error::RestoreRefused(
            "in us-west-2 these do not exist and must be given in \"overrides\": DB subnet group prod-subnets (give overrides.subnet_group); security groups (give overrides.security_group_ids); a dry run shows the whole plan; or restore the older snapshot lifeboat-orders-20261123-0400, which has a catalog record (\"snapshot\": \"lifeboat-orders-20261123-0400\")".into(),
        ));
        assert_eq!(refused.exit_code(), 1);
        assert_eq!(refused.kind(), "RestoreRefused");
        assert_eq!(
            refused.message(),
            "restore refused: in us-west-2 these do not exist and must be given: DB subnet group prod-subnets (give --subnet-group); security groups (give --security-group); --dry-run shows the whole plan; or restore the older snapshot lifeboat-orders-20261123-0400, which has a catalog record (--snapshot lifeboat-orders-20261123-0400)"
        );
        let two = in_flags("say which with \"source_region\" and, if need be, \"database_kind\" (instance or cluster)");
        assert_eq!(
            two,
            "say which with --source-region and, if need be, --database-kind (instance or cluster)"
        );
    }

    #[test]
    fn a_bad_request_is_a_usage_error() {
        let usage = Failure::from(Error::InvalidEvent(
            "region \"west\" is not a region name".into(),
        ));
        assert_eq!(usage.exit_code(), 2);
        assert_eq!(usage.kind(), "UsageError");
    }
}
