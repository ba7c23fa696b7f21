//! The catalog records of a copy, in both regions it concerns.
//!
//! The source region's catalog gets the `copy` record. The DR region's
//! catalog gets the same `copy` record and the source snapshot's own
//! `snapshot` record (with the configuration a restore needs), under the
//! same keys as in the source catalog, so that a restore in the DR region
//! needs nothing from the source region.
//!
//! Records are never rewritten. A reconcile lists what each catalog holds
//! first and writes only what is missing, so a DR catalog that was lost,
//! emptied or skipped is refilled and a steady state costs listings only. An
//! event-driven copy writes without listing: `If-None-Match` makes a
//! repeated write a no-op.

use std::collections::{BTreeMap, HashSet};

use chrono::Utc;
use futures_util::future;
use lifeboat::aws::catalog::{Catalog, Ownership};
use lifeboat::domain::model::Snapshot;
use lifeboat::domain::record::{self, CopyRecord, Record, RecordKind};
use lifeboat::{Context, Error};
use serde::Serialize;
use serde_json::Value;

/// A catalog and the keys it is known to hold.
struct Known {
    catalog: Catalog,
    keys: HashSet<String>,
}

impl Known {
    async fn put<T: Serialize>(&self, key: &str, record: &T) -> Result<(), Error> {
        if !self.keys.contains(key) {
            self.catalog.put_new(key, record).await?;
        }
        Ok(())
    }

    /// Writes `record` unless it is known to be there; whose it is.
    async fn put_own<T: Serialize>(
        &self,
        key: &str,
        record: &Record<T>,
    ) -> Result<Ownership, Error> {
        if self.keys.contains(key) {
            return Ok(Ownership::Others);
        }
        self.catalog.put_own(key, record).await
    }
}

/// The source catalog and each DR region's.
pub struct Catalogs {
    source_region: String,
    source: Known,
    dr: BTreeMap<String, Known>,
}

/// One copy, started or found, to record.
pub struct Copy<'a> {
    pub snapshot: &'a Snapshot,
    pub region: &'a str,
    pub copy_arn: &'a str,
    pub kms_key_id: Option<&'a str>,
}

impl Catalogs {
    /// The catalogs of the source region and of `regions`. With `list`
    /// (a reconcile), what each holds is listed first, concurrently; a
    /// catalog that cannot be listed is written to blind, so its failure
    /// shows on each copy's outcome rather than stopping the run.
    pub async fn open(ctx: &Context, regions: &[String], list: bool) -> Result<Self, Error> {
        let source_region = ctx.config.region.clone();
        let prefix = &ctx.config.catalog_prefix;
        let source = ctx.catalog();
        let mut dr = Vec::new();
        for region in regions {
            dr.push((region.clone(), ctx.catalog_in(region)?));
        }
        let listing = |catalog: Catalog, prefixes: Vec<String>| async move {
            let mut keys = HashSet::new();
            if list {
                for prefix in &prefixes {
                    match catalog.list(prefix, usize::MAX).await {
                        Ok(found) => keys.extend(found),
                        Err(e) => tracing::warn!(
                            bucket = catalog.bucket(),
                            prefix = %prefix,
                            error = %e,
                            "catalog not listed; every record will be written"
                        ),
                    }
                }
            }
            Known { catalog, keys }
        };
        let source = listing(source, vec![format!("{prefix}copies/")]);
        let dr = future::join_all(dr.into_iter().map(|(region, catalog)| {
            let prefixes = vec![
                record::snapshots_prefix(prefix, &source_region),
                record::copies_prefix(prefix, &region),
            ];
            let known = listing(catalog, prefixes);
            async move { (region, known.await) }
        }));
        let (source, dr) = tokio::join!(source, dr);
        Ok(Catalogs {
            source_region,
            source,
            dr: dr.into_iter().collect(),
        })
    }

    /// Writes whatever of the copy's records is missing, stamped with
    /// `request_id`: the copy record's key in the source catalog and whose
    /// that record is (this request's to announce, or another's), or what
    /// was not written.
    pub async fn record(
        &self,
        copy: &Copy<'_>,
        request_id: &str,
    ) -> Result<(String, Ownership), String> {
        let Copy {
            snapshot,
            region,
            copy_arn,
            kms_key_id,
        } = copy;
        let dr = self.dr.get(*region).ok_or_else(|| {
            format!("{region} has no catalog bucket in LIFEBOAT_DR_CATALOG_BUCKETS")
        })?;
        let recovery_point = snapshot.recovery_point();
        let prefix = self.source.catalog.prefix();
        let key = record::copy_key(
            prefix,
            region,
            (snapshot.kind, snapshot.source_db()),
            recovery_point,
            &snapshot.id,
        );
        let body = Record::new(
            RecordKind::Copy,
            Utc::now(),
            CopyRecord {
                snapshot_id: snapshot.id.clone(),
                source_arn: snapshot.arn.clone(),
                source_region: self.source_region.clone(),
                region: region.to_string(),
                copy_arn: copy_arn.to_string(),
                kms_key_id: kms_key_id.map(str::to_string),
                database: snapshot.source_db().to_string(),
                database_kind: snapshot.kind,
                recovery_point_time: recovery_point,
            },
        )
        .by_request(request_id);
        let problem = |what: String, e: Error| {
            format!("copy {copy_arn} is under way, but {what} was not written: {e}")
        };
        let ours = self.source.put_own(&key, &body).await.map_err(|e| {
            problem(
                format!("its record {key} in {}", self.source.catalog.bucket()),
                e,
            )
        })?;
        dr.put(&key, &body).await.map_err(|e| {
            problem(
                format!(
                    "its record {key} in {region}'s catalog {}",
                    dr.catalog.bucket()
                ),
                e,
            )
        })?;
        self.copy_snapshot_record(snapshot, region, dr)
            .await
            .map_err(|e| {
                format!(
                    "copy {copy_arn} is under way, but {region}'s catalog {} lacks the snapshot record: {e}",
                    dr.catalog.bucket()
                )
            })?;
        Ok((key, ours))
    }

    /// Puts the source catalog's record of `snapshot` into the DR catalog,
    /// unchanged, under the same key.
    async fn copy_snapshot_record(
        &self,
        snapshot: &Snapshot,
        region: &str,
        dr: &Known,
    ) -> Result<(), Error> {
        let prefix = self.source.catalog.prefix();
        // The key the snapshot function wrote it under: the recovery point
        // is in the snapshot's tags.
        let expected = snapshot.recovery_point().map(|time| {
            record::snapshot_key(
                prefix,
                &self.source_region,
                (snapshot.kind, snapshot.source_db()),
                time,
                &snapshot.id,
            )
        });
        if expected.as_ref().is_some_and(|k| dr.keys.contains(k)) {
            return Ok(());
        }
        let mut found = match &expected {
            Some(key) => self
                .source
                .catalog
                .find::<Value>(key)
                .await?
                .map(|r| (key.clone(), r)),
            None => None,
        };
        if found.is_none() {
            // Not where the tags say: look through the DB's records.
            let db_prefix = record::snapshot_prefix(
                prefix,
                &self.source_region,
                (snapshot.kind, snapshot.source_db()),
            );
            let keys = self.source.catalog.list(&db_prefix, usize::MAX).await?;
            if let Some(key) = keys
                .into_iter()
                .find(|k| record::snapshot_id_of_key(&db_prefix, k) == Some(snapshot.id.as_str()))
            {
                if dr.keys.contains(&key) {
                    return Ok(());
                }
                let record = self.source.catalog.get::<Value>(&key).await?;
                found = Some((key, record));
            }
        }
        let Some((key, record)) = found else {
            return Err(Error::CatalogRecord {
                key: expected.unwrap_or_else(|| {
                    record::snapshot_prefix(prefix, &self.source_region, (snapshot.kind, snapshot.source_db()))
                }),
                problem: format!(
                    "the source catalog {} has no record of snapshot {}; a restore from its copy in {region} rebuilds from the snapshot alone",
                    self.source.catalog.bucket(),
                    snapshot.id
                ),
            });
        };
        dr.put(&key, &record).await
    }
}
