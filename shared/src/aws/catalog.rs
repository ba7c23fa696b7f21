//! The S3 catalog: reads and writes the records of `domain::record`.
//!
//! Records are written with `If-None-Match: *`, so a record is never
//! rewritten: a redelivered event finds its record already there and moves
//! on, and the bucket can run with versioning and Object Lock.

use aws_sdk_s3::primitives::ByteStream;
use serde::Serialize;

use crate::domain::record::Record;
use crate::error::Error;

/// Whether a write made a new record or found one already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    New,
    AlreadyRecorded,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    s3: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl Catalog {
    pub fn new(
        s3: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Catalog {
            s3,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The keys under `prefix`, in S3's (ascending) order: for the layouts
    /// above, newest first. At most `limit` keys.
    pub async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("ListObjectsV2", e))?;
            for object in page.contents() {
                if keys.len() >= limit {
                    return Ok(keys);
                }
                keys.extend(object.key().map(str::to_string));
            }
        }
        Ok(keys)
    }

    /// The names one level below `prefix` (S3's common prefixes for the
    /// delimiter `/`): the regions under `snapshots/`, the DBs under
    /// `snapshots/<region>/<kind>/`, without listing every record.
    pub async fn children(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("ListObjectsV2", e))?;
            names.extend(page.common_prefixes().iter().filter_map(|p| {
                let name = p.prefix()?.strip_prefix(prefix)?.strip_suffix('/')?;
                (!name.is_empty()).then(|| name.to_string())
            }));
        }
        Ok(names)
    }

    /// Reads the record at `key`, which must be there.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, Error> {
        self.find(key)
            .await?
            .ok_or_else(|| record_error(key, format!("it is not in bucket {}", self.bucket)))
    }

    /// Reads the record at `key`, or `None` when there is none.
    pub async fn find<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, Error> {
        let out = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(Error::aws("GetObject", e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| record_error(key, format!("reading it failed: {e}")))?;
        serde_json::from_slice(&bytes.into_bytes())
            .map(Some)
            .map_err(|e| record_error(key, format!("it is not a valid record: {e}")))
    }

    /// Writes `record` at `key` unless something is there already.
    pub async fn put_new<T: Serialize>(&self, key: &str, record: &T) -> Result<Written, Error> {
        let body = serde_json::to_vec_pretty(record)
            .map_err(|e| record_error(key, format!("it could not be serialised: {e}")))?;
        let sent = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .if_none_match("*")
            .body(ByteStream::from(body))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Written::New),
            // 412: an object is there already. 409: a concurrent write of the
            // same key won the race; either way the record exists.
            Err(e)
                if matches!(
                    e.raw_response().map(|r| r.status().as_u16()),
                    Some(412 | 409)
                ) =>
            {
                Ok(Written::AlreadyRecorded)
            }
            Err(e) => Err(Error::aws("PutObject", e)),
        }
    }

    /// Whether the record at `key` was written by Lambda request
    /// `request_id`: for a write that found a record there, whether it was
    /// an earlier attempt of the same request (whose work may be
    /// unfinished) or someone else. Never for an empty id.
    pub async fn is_written_by(&self, key: &str, request_id: &str) -> Result<bool, Error> {
        #[derive(serde::Deserialize)]
        struct Stamp {
            #[serde(default)]
            request_id: Option<String>,
        }
        if request_id.is_empty() {
            return Ok(false);
        }
        let stamp: Option<Stamp> = self.find(key).await?;
        Ok(stamp.and_then(|s| s.request_id).as_deref() == Some(request_id))
    }

    /// Writes `record` unless one is there, and says whose the record at
    /// `key` is now: `New` (written now) or `Retried` (an earlier attempt
    /// of the same request wrote it) are this request's to announce;
    /// `AlreadyRecorded` is someone else's.
    pub async fn put_own<T: Serialize>(
        &self,
        key: &str,
        record: &Record<T>,
    ) -> Result<Ownership, Error> {
        match self.put_new(key, record).await? {
            Written::New => Ok(Ownership::New),
            Written::AlreadyRecorded => {
                let retried = match &record.request_id {
                    Some(id) => self.is_written_by(key, id).await?,
                    None => false,
                };
                Ok(if retried {
                    Ownership::Retried
                } else {
                    Ownership::Others
                })
            }
        }
    }
}

/// Whose a record is, after `Catalog::put_own`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Written now.
    New,
    /// Written by an earlier attempt of this Lambda request.
    Retried,
    /// Written by another request (a redelivered event, a concurrent
    /// invocation): its work, its announcement.
    Others,
}

impl Ownership {
    /// This request's to announce.
    pub fn is_ours(self) -> bool {
        self != Ownership::Others
    }
}

fn record_error(key: &str, problem: String) -> Error {
    Error::CatalogRecord {
        key: key.to_string(),
        problem,
    }
}
