//! Everything a handler needs, validated and built once per cold start.

use crate::aws::catalog::Catalog;
use crate::aws::clients::{CallPolicy, Clients};
use crate::aws::publisher::Publisher;
use crate::error::Error;
use crate::lambda::config::Config;

#[derive(Debug, Clone)]
pub struct Context {
    pub config: Config,
    pub clients: Clients,
}

impl Context {
    /// Reads and validates the settings, then builds the clients. A missing
    /// or malformed setting is an error here, before the first invocation.
    pub async fn from_env() -> Result<Self, Error> {
        let config = Config::from_env()?;
        let clients = Clients::load(&config.region, CallPolicy::for_config(&config))
            .await
            .with_regions(&config.dr_regions);
        Ok(Context { config, clients })
    }

    /// What a function's `main` calls at cold start: the context, checked
    /// against what the function itself needs (`check`). A failure is
    /// logged, so that it is in the function's log, and returned, so that
    /// the runtime reports it as an init error.
    pub async fn start(check: fn(&Context) -> Result<(), Error>) -> Result<Self, Error> {
        Self::from_env()
            .await
            .and_then(|ctx| check(&ctx).map(|()| ctx))
            .inspect_err(|e| {
                tracing::error!(error = %e, error_type = e.kind(), "start-up failed");
            })
    }

    pub fn new(config: Config, clients: Clients) -> Self {
        let clients = clients.with_regions(&config.dr_regions);
        Context { config, clients }
    }

    /// The catalog in this function's own region's bucket.
    pub fn catalog(&self) -> Catalog {
        Catalog::new(
            self.clients.s3().clone(),
            &self.config.catalog_bucket,
            &self.config.catalog_prefix,
        )
    }

    /// The catalog of `region`: the function's own bucket in its own
    /// region, the DR region's bucket (`LIFEBOAT_DR_CATALOG_BUCKETS`) in a DR
    /// region, each reached through its own region's endpoint.
    pub fn catalog_in(&self, region: &str) -> Result<Catalog, Error> {
        let bucket = self.config.catalog_bucket_in(region)?;
        Ok(Catalog::new(
            self.clients.s3_in(region),
            bucket,
            &self.config.catalog_prefix,
        ))
    }

    /// The publisher for Lifeboat's events on the configured bus.
    pub fn publisher(&self) -> Publisher {
        Publisher::new(self.clients.events().clone(), &self.config.event_bus)
    }
}
