//! Everything a handler needs, validated and built once per cold start.

use crate::clients::Clients;
use crate::config::Config;
use crate::error::Error;

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
        let clients = Clients::load(&config.region)
            .await
            .with_regions(&config.dr_regions);
        Ok(Context { config, clients })
    }

    pub fn new(config: Config, clients: Clients) -> Self {
        let clients = clients.with_regions(&config.dr_regions);
        Context { config, clients }
    }
}
