//! The functions' context, built from the operator's flags, environment
//! and AWS credentials: the settings are validated by the same `Config`
//! the functions use, and the clients are the same, with the call policy
//! the functions run with.
//!
//! The settings given are the stack's in its region (`AWS_REGION`, else the
//! profile's region). A command in one of its DR regions acts as that
//! region's recovery stack does: that region is its own region, the DR
//! region's catalog bucket is its catalog, and it has no DR regions of its
//! own, so it calls nothing outside that region.

use std::cell::RefCell;
use std::collections::BTreeMap;

use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use lifeboat::aws::clients::{https_client, CallPolicy, Clients};
use lifeboat::lambda::config::{self, Config};
use lifeboat::Context;

use crate::args::Global;
use crate::failure::Failure;

/// Settings given for one call, in place of the stack's.
pub type Changed = BTreeMap<&'static str, String>;

/// Everything needed to build a function's context in any region.
pub struct Stacks {
    /// The stack's region: the one its settings are for.
    pub home: String,
    given: BTreeMap<&'static str, String>,
    sdk: SdkConfig,
}

/// The settings that name DR regions: a recovery stack has none.
pub const DR_SETTINGS: &[&str] = &[
    config::DR_REGIONS,
    config::DR_CATALOG_BUCKETS,
    config::DR_KMS_KEYS,
    config::DR_OPTION_GROUPS,
];

impl Stacks {
    /// Reads the flags and the AWS configuration (profile, region,
    /// credentials chain, `AWS_ENDPOINT_URL`). Makes no AWS call: the
    /// credentials are resolved by the first call that needs them.
    pub async fn load(global: &Global) -> Result<Self, Failure> {
        let profile = global.profile.clone();
        let mut profile_region = ProfileFileRegionProvider::builder();
        if let Some(name) = &profile {
            profile_region = profile_region.profile_name(name);
        }
        let home = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
            .or_else(profile_region.build())
            .region()
            .await
            .map(|r| r.to_string())
            .or_else(|| global.region.first().cloned())
            .ok_or_else(|| {
                Failure::usage(
                    "no region: give --region (or set AWS_REGION, or a region in the profile)",
                )
            })?;
        // The SDK crates are built without their own HTTPS client: the
        // credential providers (SSO, say) and every client use Lifeboat's.
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(home.clone()))
            .http_client(https_client());
        if let Some(name) = &profile {
            loader = loader.profile_name(name);
        }
        let sdk = loader.load().await;
        let given = global
            .settings
            .given()
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?.to_string())))
            .collect();
        Ok(Stacks { home, given, sdk })
    }

    /// The settings as the stack in `region` has them, with `changed`.
    fn lookup(
        &self,
        region: &str,
        changed: &Changed,
        name: &str,
    ) -> Result<Option<String>, Failure> {
        if name == config::REGION {
            return Ok(Some(region.to_string()));
        }
        if let Some(value) = changed.get(name) {
            return Ok(Some(value.clone()));
        }
        if region != self.home {
            if DR_SETTINGS.contains(&name) {
                return Ok(None);
            }
            if name == config::STACK_ROLE {
                return Ok(Some("recovery".to_string()));
            }
            if name == config::CATALOG_BUCKET {
                let home = self.config(&self.home)?;
                return home
                    .catalog_bucket_in(region)
                    .map(|bucket| Some(bucket.to_string()))
                    .map_err(|_| no_catalog_in(region, &self.home));
            }
        }
        Ok(self
            .given
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok()))
    }

    /// The settings of the stack in `region`, validated as the functions
    /// validate them.
    pub fn config(&self, region: &str) -> Result<Config, Failure> {
        self.config_with(region, &Changed::new())
    }

    /// The settings of the stack in `region`, with `changed` in place of
    /// what the stack has.
    pub fn config_with(&self, region: &str, changed: &Changed) -> Result<Config, Failure> {
        // The first setting that cannot be looked up is the error to give,
        // rather than the "missing" it would then look like.
        let failure = RefCell::new(None);
        let config = Config::from_lookup(|name| match self.lookup(region, changed, name) {
            Ok(value) => value,
            Err(e) => {
                failure.borrow_mut().get_or_insert(e);
                None
            }
        });
        if let Some(failure) = failure.into_inner() {
            return Err(failure);
        }
        Ok(config?)
    }

    /// The context a function of the stack in `region` runs with: its
    /// settings, and clients for that region (and for its DR regions, in
    /// the stack's own region).
    pub fn context(&self, region: &str) -> Result<Context, Failure> {
        self.context_with(region, &Changed::new())
    }

    /// The context of the stack in `region`, with `changed` settings.
    pub fn context_with(&self, region: &str, changed: &Changed) -> Result<Context, Failure> {
        let config = self.config_with(region, changed)?;
        let sdk = self
            .sdk
            .clone()
            .into_builder()
            .region(Region::new(region.to_string()))
            .build();
        let clients = Clients::with_policy(sdk, CallPolicy::for_config(&config));
        Ok(Context::new(config, clients))
    }

    /// The stack's own context, reaching only the DR regions among
    /// `regions`: a command answers from the regions it names alone.
    pub fn home_in(&self, regions: &[String]) -> Result<Context, Failure> {
        let changed = only_named(&self.config(&self.home)?, regions);
        self.context_with(&self.home, &changed)
    }

    /// The regions a command works in: those named, else the stack's
    /// region and its DR regions.
    pub fn regions(&self, named: &[String]) -> Result<Vec<String>, Failure> {
        if !named.is_empty() {
            let mut regions: Vec<String> = Vec::new();
            for region in named {
                if !regions.contains(region) {
                    regions.push(region.clone());
                }
            }
            return Ok(regions);
        }
        let config = self.config(&self.home)?;
        let mut regions = vec![config.region.clone()];
        regions.extend(config.dr_regions);
        Ok(regions)
    }
}

/// The settings that leave the stack's DR regions outside `regions` out.
fn only_named(home: &Config, regions: &[String]) -> Changed {
    let kept: Vec<&String> = home
        .dr_regions
        .iter()
        .filter(|r| regions.contains(r))
        .collect();
    if kept.len() == home.dr_regions.len() {
        return Changed::new();
    }
    let buckets: Vec<String> = home
        .dr_catalog_buckets
        .iter()
        .filter(|(region, _)| kept.contains(region))
        .map(|(region, bucket)| format!("{region}={bucket}"))
        .collect();
    Changed::from([
        (
            config::DR_REGIONS,
            kept.iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        (config::DR_CATALOG_BUCKETS, buckets.join(",")),
        (config::DR_KMS_KEYS, String::new()),
        (config::DR_OPTION_GROUPS, String::new()),
    ])
}

fn no_catalog_in(region: &str, home: &str) -> Failure {
    Failure::usage(format!(
        "no catalog bucket for {region}: it is not the stack's region ({home}) nor a DR region with a bucket in {}; give --dr-regions and --dr-catalog-buckets {region}=<its recovery stack's CatalogBucketName>, or act as that region's stack with AWS_REGION={region} and --catalog-bucket",
        config::DR_CATALOG_BUCKETS
    ))
}

/// The one region a command acts in: the one named, else the stack's.
pub fn one_region(stacks: &Stacks, named: &[String], what: &str) -> Result<String, Failure> {
    match named {
        [] => Ok(stacks.home.clone()),
        [one] => Ok(one.clone()),
        _ => Err(Failure::usage(format!(
            "{what} works in one region; give --region once"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn home() -> Config {
        let vars = [
            (config::REGION, "us-east-1"),
            (config::CATALOG_BUCKET, "catalog-use1"),
            (config::DR_REGIONS, "us-west-2,eu-west-1"),
            (
                config::DR_CATALOG_BUCKETS,
                "us-west-2=catalog-usw2,eu-west-1=catalog-euw1",
            ),
            (config::DR_KMS_KEYS, "us-west-2=alias/dr,eu-west-1=alias/dr"),
        ];
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    #[test]
    fn the_stack_reaches_only_the_dr_regions_named() {
        let all = ["us-east-1", "us-west-2", "eu-west-1"].map(String::from);
        assert!(only_named(&home(), &all).is_empty(), "all named: as it is");
        let changed = only_named(&home(), &["us-east-1".to_string(), "eu-west-1".to_string()]);
        assert_eq!(changed[config::DR_REGIONS], "eu-west-1");
        assert_eq!(
            changed[config::DR_CATALOG_BUCKETS],
            "eu-west-1=catalog-euw1"
        );
        assert_eq!(changed[config::DR_KMS_KEYS], "");
        let alone = only_named(&home(), &["us-east-1".to_string()]);
        assert_eq!(alone[config::DR_REGIONS], "");
        // What is left is a valid configuration.
        let config = Config::from_lookup(|name| {
            alone.get(name).cloned().or_else(|| match name {
                config::REGION => Some("us-east-1".into()),
                config::CATALOG_BUCKET => Some("catalog-use1".into()),
                _ => None,
            })
        })
        .unwrap();
        assert!(config.dr_regions.is_empty());
    }
}
