//! The RDS adapter, split by job: the fleet, snapshots and their copies,
//! restores. The helpers below are the few things all three share: tags
//! both ways, times, and the one place where an RDS error that is really an
//! outcome ("already exists", "not found") is told from a failure.

pub mod drill;
pub mod fleet;
pub mod restore;
pub mod snapshots;

use std::collections::BTreeMap;

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::types::Tag;
use chrono::{DateTime, Utc};

use crate::error::Error;

pub use fleet::describe_fleet;
pub use snapshots::{
    copy_snapshot, create_snapshot, delete_snapshot, describe_manual_snapshots, find_snapshot,
    CopyResult, SnapshotRef,
};

/// `Ok(None)` when RDS answered with the error `expected` recognises (the
/// snapshot is already there, the DB is not found): for the caller that is
/// an outcome, not a failure. Any other error is mapped, with its code.
fn unless<T, E, R>(
    operation: &'static str,
    sent: Result<T, SdkError<E, R>>,
    expected: impl FnOnce(&E) -> bool,
) -> Result<Option<T>, Error>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match sent {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(expected) => Ok(None),
        Err(e) => Err(Error::aws(operation, e)),
    }
}

/// RDS's tag list as a map.
fn tags(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// Tags as RDS takes them.
fn sdk_tags<'a>(tags: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_string)
}

fn time(t: Option<&aws_sdk_rds::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}
