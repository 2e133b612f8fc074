//! The client configuration file (TOML), by default `$XDG_CONFIG_HOME/walrus/client.toml`
//! (or `~/.config/walrus/client.toml`). Example:
//!
//! ```toml
//! wallet_private_key = "…64 hex digits…"   # Ed25519; pays for storage and transactions
//!
//! [chain]
//! rpc_url = "http://127.0.0.1:9000"
//! wal_package = "0xa11"
//! walrus_package = "0xa12"
//! system_object = "0x…"
//! staking_object = "0x…"
//! initial_shared_version = 1
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sui_crypto::ed25519::Ed25519PrivateKey;
use walrus_chain::client::{ChainConnection, WalrusClient};

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("invalid configuration {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No file was given and no default location exists.
    #[error("no configuration file: pass --config FILE or set WALRUS_CONFIG")]
    NoDefault,
}

/// The client configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The wallet's Ed25519 private key (32 bytes, hex).
    pub wallet_private_key: String,
    /// The chain.
    pub chain: ChainConnection,
}

/// The default configuration path: `$WALRUS_CONFIG`, else `$XDG_CONFIG_HOME/walrus/client.toml`,
/// else `$HOME/.config/walrus/client.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WALRUS_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("walrus").join("client.toml"))
}

impl ClientConfig {
    /// Reads `path`, or the default location.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let path = match path {
            Some(path) => path.to_owned(),
            None => default_config_path().ok_or(ConfigError::NoDefault)?,
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let config: Self = toml::from_str(&text).map_err(|error| ConfigError::Invalid {
            path: path.clone(),
            message: error.to_string(),
        })?;
        config
            .wallet_key()
            .map_err(|message| ConfigError::Invalid {
                path: path.clone(),
                message,
            })?;
        config
            .chain
            .chain_config()
            .map_err(|error| ConfigError::Invalid {
                path,
                message: error.to_string(),
            })?;
        Ok(config)
    }

    /// The wallet key.
    pub fn wallet_key(&self) -> Result<Ed25519PrivateKey, String> {
        let bytes = hex::decode(self.wallet_private_key.trim_start_matches("0x"))
            .map_err(|error| format!("wallet_private_key is not hex: {error}"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "wallet_private_key must be 32 bytes (64 hex digits)".to_owned())?;
        Ok(Ed25519PrivateKey::new(bytes))
    }

    /// A chain client with this wallet.
    pub fn chain_client(&self) -> Result<WalrusClient, String> {
        let config = self.chain.chain_config().map_err(|e| e.to_string())?;
        WalrusClient::new(&self.chain.rpc_url, self.wallet_key()?, config)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loads_a_file_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.toml");
        let good = r#"
wallet_private_key = "0707070707070707070707070707070707070707070707070707070707070707"
[chain]
rpc_url = "http://127.0.0.1:9000"
wal_package = "0xa11"
walrus_package = "0xa12"
system_object = "0x5"
staking_object = "0x7"
initial_shared_version = 1
"#;
        std::fs::write(&path, good).unwrap();
        let config = ClientConfig::load(Some(&path)).unwrap();
        assert!(config.chain_client().is_ok());
        std::fs::write(
            &path,
            good.replace(
                "0707070707070707070707070707070707070707070707070707070707070707",
                "07",
            ),
        )
        .unwrap();
        assert!(matches!(
            ClientConfig::load(Some(&path)),
            Err(ConfigError::Invalid { .. })
        ));
        std::fs::write(&path, good.replace("0x5", "five")).unwrap();
        assert!(matches!(
            ClientConfig::load(Some(&path)),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            ClientConfig::load(Some(&dir.path().join("missing.toml"))),
            Err(ConfigError::Read { .. })
        ));
    }

    fn example() -> ClientConfig {
        ClientConfig {
            wallet_private_key: "0x".to_owned() + &"07".repeat(32),
            chain: ChainConnection {
                rpc_url: "http://127.0.0.1:9000".into(),
                wal_package: "0xa11".into(),
                walrus_package: "0xa12".into(),
                system_object: "0x5".into(),
                staking_object: "0x7".into(),
                initial_shared_version: 3,
            },
        }
    }

    #[test]
    fn a_written_configuration_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.toml");
        let config = example();
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
        assert_eq!(ClientConfig::load(Some(&path)).unwrap(), config);
        // The key's `0x` prefix is optional.
        let bare = ClientConfig {
            wallet_private_key: "07".repeat(32),
            ..config.clone()
        };
        assert_eq!(
            bare.wallet_key().unwrap().public_key(),
            config.wallet_key().unwrap().public_key()
        );
    }

    #[test]
    fn typos_missing_fields_and_bad_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.toml");
        let good = toml::to_string(&example()).unwrap();
        let invalid = |text: String| {
            std::fs::write(&path, text).unwrap();
            match ClientConfig::load(Some(&path)) {
                Err(ConfigError::Invalid { message, .. }) => message,
                other => panic!("expected an invalid configuration, got {other:?}"),
            }
        };
        let typo = invalid(good.replace("rpc_url", "rpc_ur1"));
        assert!(typo.contains("rpc_ur1"), "{typo}");
        let missing = invalid(good.replace("initial_shared_version = 3\n", ""));
        assert!(missing.contains("initial_shared_version"), "{missing}");
        let short = invalid(good.replace(&"07".repeat(32), &"07".repeat(31)));
        assert!(short.contains("32 bytes"), "{short}");
        let not_hex = invalid(good.replace(&"07".repeat(32), &"zz".repeat(32)));
        assert!(not_hex.contains("not hex"), "{not_hex}");
    }
}
