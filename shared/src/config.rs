//! Settings, read once from the environment at cold start and validated.
//!
//! A missing or malformed setting stops start-up with an error naming it, so a
//! misconfigured deployment fails on its first invocation, loudly, instead of
//! doing the wrong thing quietly.

use crate::error::Error;
use crate::tags::TagFilter;

pub const CATALOG_BUCKET: &str = "LIFEBOAT_CATALOG_BUCKET";
pub const CATALOG_PREFIX: &str = "LIFEBOAT_CATALOG_PREFIX";
pub const EVENT_BUS: &str = "LIFEBOAT_EVENT_BUS";
pub const SELECT_TAG: &str = "LIFEBOAT_SELECT_TAG";
pub const CONCURRENCY: &str = "LIFEBOAT_CONCURRENCY";
pub const REGION: &str = "AWS_REGION";

pub const DEFAULT_SELECT_TAG: &str = "lifeboat:backup=true";
pub const DEFAULT_EVENT_BUS: &str = "default";
/// DBs worked on at once. RDS's API rate limits, not the Lambda, are the
/// bound; the SDK's retry absorbs the throttling that remains.
pub const DEFAULT_CONCURRENCY: usize = 16;
const MAX_CONCURRENCY: usize = 64;

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
        validate_bucket_name(&catalog_bucket)?;

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

        Ok(Config {
            region,
            catalog_bucket,
            catalog_prefix,
            event_bus,
            select_tag,
            concurrency,
        })
    }
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
fn validate_bucket_name(name: &str) -> Result<(), Error> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ok_ends = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if (3..=63).contains(&name.len()) && ok_chars && ok_ends {
        Ok(())
    } else {
        Err(malformed(
            CATALOG_BUCKET,
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
