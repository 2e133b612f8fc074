//! [`ChainConnection`]: where the chain is and where the Walrus objects live on it, as written
//! in configuration files (TOML `[chain]` section of the node and client configurations).

use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

use super::{ChainConfig, ClientError};

/// The `[chain]` section of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConnection {
    /// Sui gRPC URL.
    pub rpc_url: String,
    /// The `wal` package ID.
    pub wal_package: String,
    /// The `walrus` package ID.
    pub walrus_package: String,
    /// The shared `System` object ID.
    pub system_object: String,
    /// The shared `Staking` object ID.
    pub staking_object: String,
    /// Their initial shared version.
    pub initial_shared_version: u64,
}

fn address(field: &str, text: &str) -> Result<Address, ClientError> {
    text.parse()
        .map_err(|error| ClientError::Build(format!("{field} is not a Sui address: {error:?}")))
}

impl ChainConnection {
    /// The chain client configuration (IDs parsed and checked).
    pub fn chain_config(&self) -> Result<ChainConfig, ClientError> {
        Ok(ChainConfig::new(
            address("chain.wal_package", &self.wal_package)?,
            address("chain.walrus_package", &self.walrus_package)?,
            address("chain.system_object", &self.system_object)?,
            address("chain.staking_object", &self.staking_object)?,
            self.initial_shared_version,
        ))
    }
}
