//! The node's configuration file (TOML). Example:
//!
//! ```toml
//! storage_path = "/var/lib/walrus-node"
//! listen = "127.0.0.1:9101"
//! bls_private_key = "…64 hex digits…"   # or bls_seed = "…64 hex digits…"
//! sui_private_key = "…64 hex digits…"   # Ed25519; pays for invalid-blob certificates
//! network_key_pair = "/var/lib/walrus-node/network-key.pem"   # optional: P-256, PKCS#8 PEM
//! public_host = "node1.example.com"   # optional: in the generated TLS certificate
//!
//! [chain]
//! rpc_url = "http://127.0.0.1:9000"
//! wal_package = "0xa11"
//! walrus_package = "0xa12"
//! system_object = "0x…"
//! staking_object = "0x…"
//! initial_shared_version = 1
//!
//! [recovery]                  # optional
//! max_concurrent_blobs = 16
//! max_concurrent_requests = 64
//! max_in_flight_bytes = 268435456    # symbols and rebuilt slivers held at once (256 MiB)
//!
//! [limits]                    # optional: load shedding (429 + Retry-After beyond)
//! max_concurrent_symbol_requests = 4   # default: twice the cores
//! max_queued_symbol_requests = 64
//! max_registration_waits = 1024        # uploads/confirmations waiting for registration
//! body_timeout_ms = 60000              # a slower request body gets 408
//!
//! [tls]                       # optional; TLS is on when a network key is configured
//! disable_tls = false                  # plain HTTP even with a network key
//! certificate_path = "/etc/walrus/cert.pem"  # else a self-signed certificate is generated
//! ```
//!
//! With `network_key_pair` and TLS not disabled the REST API serves HTTPS ([`crate::tls`]), and
//! the node announces `https://HOST:PORT` as its network address (`walrus-node register`,
//! `set-network-address`): clients pin the certificate to the network public key the chain
//! has for the node. Without a network key (configurations from before TLS) or with
//! `disable_tls` it serves plain HTTP and announces `HOST:PORT`.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sui_crypto::ed25519::Ed25519PrivateKey;
use walrus_chain::client::{ChainConfig, ChainConnection};
use walrus_core::crypto::ProtocolKeyPair;

use crate::{
    pending::PendingLimits,
    recovery::RecoveryLimits,
    tls::{CertificateSource, NetworkKeyPair},
};

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Directory of the node's database.
    pub storage_path: PathBuf,
    /// Address the REST API listens on.
    pub listen: SocketAddr,
    /// The BLS protocol key: the 32-byte private key in hex ...
    #[serde(default)]
    pub bls_private_key: Option<String>,
    /// ... or a 32-byte seed in hex (`ProtocolKeyPair::from_seed`; for test networks).
    #[serde(default)]
    pub bls_seed: Option<String>,
    /// The Ed25519 key (32 bytes, hex) of the Sui account that pays for the node's
    /// transactions (invalid-blob certificates).
    pub sui_private_key: String,
    /// How long an upload for a blob the node has not yet seen registered waits for the
    /// registration event, in milliseconds.
    #[serde(default = "default_registration_wait_ms")]
    pub registration_wait_ms: u64,
    /// Largest request body accepted (a sliver of the largest blob plus headroom), in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// The node's network key: a PKCS#8 PEM file of its P-256 key pair (`walrus-node setup`
    /// writes `DIR/network-key.pem`). Its public key is the node's on-chain
    /// `network_public_key`; with it (and TLS not disabled) the REST API serves HTTPS. `None`:
    /// plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_key_pair: Option<PathBuf>,
    /// The host (DNS name or IP) clients reach the node at: a subject alternative name of the
    /// generated TLS certificate. Default: the listen IP, unless it is unspecified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_host: Option<String>,
    /// The chain.
    pub chain: ChainConnection,
    /// Recovery limits.
    #[serde(default)]
    pub recovery: RecoverySection,
    /// Limits on expensive requests (load shedding).
    #[serde(default)]
    pub limits: RequestLimits,
    /// TLS of the REST API.
    #[serde(default, skip_serializing_if = "TlsConfig::is_default")]
    pub tls: TlsConfig,
}

/// TLS of the REST API (Walrus's `TlsConfig`). TLS is on when the node has a network key
/// ([`NodeConfig::network_key_pair`]) and `disable_tls` is false.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Do not use TLS on the REST API: plain HTTP (a local network, or TLS offloaded to another
    /// service in front of the node).
    pub disable_tls: bool,
    /// A PEM certificate (and its chain) to serve instead of the generated self-signed one;
    /// its key must be the network key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_path: Option<PathBuf>,
}

impl TlsConfig {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

fn default_registration_wait_ms() -> u64 {
    10_000
}

fn default_max_body_bytes() -> usize {
    256 << 20
}

/// Limits of the recovery worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoverySection {
    /// Blobs recovered at the same time.
    #[serde(default = "default_blobs")]
    pub max_concurrent_blobs: usize,
    /// Requests to peers in flight at the same time (each asks one peer for the symbols of
    /// every missing sliver of one axis of a blob it can help with).
    #[serde(default = "default_requests")]
    pub max_concurrent_requests: usize,
    /// Bytes of symbols and rebuilt slivers held at the same time, estimated from each blob's
    /// layout (a larger blob is rebuilt a few slivers at a time): bounds the worker's memory
    /// however many blobs wait.
    #[serde(default = "default_in_flight_bytes")]
    pub max_in_flight_bytes: usize,
    /// Wait before retrying a failed recovery, in milliseconds.
    #[serde(default = "default_retry_ms")]
    pub retry_delay_ms: u64,
}

fn default_blobs() -> usize {
    RecoveryLimits::default().max_concurrent_blobs
}
fn default_requests() -> usize {
    RecoveryLimits::default().max_concurrent_requests
}
fn default_in_flight_bytes() -> usize {
    RecoveryLimits::default().max_in_flight_bytes
}
fn default_retry_ms() -> u64 {
    2_000
}

impl Default for RecoverySection {
    fn default() -> Self {
        Self {
            max_concurrent_blobs: default_blobs(),
            max_concurrent_requests: default_requests(),
            max_in_flight_bytes: default_in_flight_bytes(),
            retry_delay_ms: default_retry_ms(),
        }
    }
}

/// Limits on the requests that cost a node CPU, memory or a waiting task; beyond them the
/// node answers 429 RATE_LIMITED with `Retry-After` instead of queueing without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLimits {
    /// `recoverySymbols` requests computed at the same time (each expands and hashes a
    /// sliver).
    #[serde(default = "default_symbol_requests")]
    pub max_concurrent_symbol_requests: usize,
    /// `recoverySymbols` requests waiting for a slot; more are refused.
    #[serde(default = "default_queued_symbol_requests")]
    pub max_queued_symbol_requests: usize,
    /// Requests waiting for a blob's registration event at the same time (uploads and
    /// confirmation long-polls); more are refused.
    #[serde(default = "default_registration_waits")]
    pub max_registration_waits: usize,
    /// Shard-sync requests (`POST /v1/migrate/sync_shard`) served at the same time; more are
    /// refused with 429 (the new owner retries).
    #[serde(default = "default_sync_shard_requests")]
    pub max_concurrent_sync_shard_requests: usize,
    /// Deadline for receiving a request body, in milliseconds (a client that sends its body
    /// too slowly gets 408 and its connection back).
    #[serde(default = "default_body_timeout_ms")]
    pub body_timeout_ms: u64,
    /// Blobs whose uploads (`?pending=true`) may be buffered before their registration is
    /// seen; each holds its metadata.
    #[serde(default = "default_pending_blobs")]
    pub max_pending_blobs: usize,
    /// Slivers buffered before their blob's registration, in all.
    #[serde(default = "default_pending_slivers")]
    pub max_pending_slivers: usize,
    /// Bytes of slivers buffered before their blob's registration, in all.
    #[serde(default = "default_pending_bytes")]
    pub max_pending_bytes: usize,
    /// Largest sliver that may be buffered before its blob's registration.
    #[serde(default = "default_pending_sliver_bytes")]
    pub max_pending_sliver_bytes: usize,
    /// Seconds after its last upload that a blob's buffered uploads are dropped if its
    /// registration has not come (0 disables buffering).
    #[serde(default = "default_pending_ttl_secs")]
    pub pending_ttl_secs: u64,
    /// Longest wait of a confirmation request with `wait_for_registration=true`, in
    /// milliseconds (0: no such waits).
    #[serde(default = "default_confirmation_wait_ms")]
    pub max_confirmation_wait_ms: u64,
}

fn default_symbol_requests() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 2
}
fn default_queued_symbol_requests() -> usize {
    64
}
fn default_registration_waits() -> usize {
    1_024
}
fn default_sync_shard_requests() -> usize {
    4
}
fn default_body_timeout_ms() -> u64 {
    60_000
}
fn default_pending_blobs() -> usize {
    1_024
}
fn default_pending_slivers() -> usize {
    8_192
}
fn default_pending_bytes() -> usize {
    256 << 20
}
fn default_pending_sliver_bytes() -> usize {
    4 << 20
}
fn default_pending_ttl_secs() -> u64 {
    60
}
fn default_confirmation_wait_ms() -> u64 {
    5_000
}

impl RequestLimits {
    /// The bounds of the buffer of uploads pending registration.
    pub fn pending_limits(&self) -> PendingLimits {
        PendingLimits {
            max_blobs: self.max_pending_blobs,
            max_slivers: self.max_pending_slivers,
            max_bytes: self.max_pending_bytes,
            max_sliver_bytes: self.max_pending_sliver_bytes,
            ttl: Duration::from_secs(self.pending_ttl_secs),
        }
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_concurrent_symbol_requests: default_symbol_requests(),
            max_queued_symbol_requests: default_queued_symbol_requests(),
            max_registration_waits: default_registration_waits(),
            max_concurrent_sync_shard_requests: default_sync_shard_requests(),
            body_timeout_ms: default_body_timeout_ms(),
            max_pending_blobs: default_pending_blobs(),
            max_pending_slivers: default_pending_slivers(),
            max_pending_bytes: default_pending_bytes(),
            max_pending_sliver_bytes: default_pending_sliver_bytes(),
            pending_ttl_secs: default_pending_ttl_secs(),
            max_confirmation_wait_ms: default_confirmation_wait_ms(),
        }
    }
}

fn hex32(field: &str, text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(text.trim_start_matches("0x"))
        .with_context(|| format!("{field} is not hex"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{field} must be 32 bytes (64 hex digits)"))
}

impl NodeConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration {}", path.display()))?;
        let config: Self = toml::from_str(&text)
            .with_context(|| format!("invalid configuration {}", path.display()))?;
        config.protocol_keys()?;
        config.sui_key()?;
        config.chain_config()?;
        config.network_keys()?;
        Ok(config)
    }

    /// The network key pair, if one is configured.
    pub fn network_keys(&self) -> anyhow::Result<Option<NetworkKeyPair>> {
        self.network_key_pair
            .as_deref()
            .map(|path| NetworkKeyPair::load(path).context("invalid network_key_pair"))
            .transpose()
    }

    /// Whether the REST API serves TLS: a network key is configured and TLS not disabled.
    pub fn serves_tls(&self) -> bool {
        self.network_key_pair.is_some() && !self.tls.disable_tls
    }

    /// The REST API's TLS configuration, if it serves TLS: the certificate of
    /// `[tls] certificate_path`, else one generated from the network key for
    /// [`Self::public_host`] (or the listen IP).
    pub fn tls_server_config(&self) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
        if !self.serves_tls() {
            return Ok(None);
        }
        let Some(keys) = self.network_keys()? else {
            return Ok(None);
        };
        // Without a public host, the generated name alone (it is a SAN anyway).
        let public_host = match &self.public_host {
            Some(host) => host.clone(),
            None if self.listen.ip().is_unspecified() => keys.public().server_name(),
            None => self.listen.ip().to_string(),
        };
        let source = match &self.tls.certificate_path {
            Some(path) => CertificateSource::File(path),
            None => CertificateSource::SelfSigned {
                public_host: &public_host,
            },
        };
        Ok(Some(crate::tls::server_config(&keys, source)?))
    }

    /// The BLS protocol key pair.
    pub fn protocol_keys(&self) -> anyhow::Result<ProtocolKeyPair> {
        match (&self.bls_private_key, &self.bls_seed) {
            (Some(key), None) => {
                ProtocolKeyPair::from_private_key_bytes(&hex32("bls_private_key", key)?)
                    .map_err(|error| anyhow::anyhow!("invalid bls_private_key: {error}"))
            }
            (None, Some(seed)) => Ok(ProtocolKeyPair::from_seed(hex32("bls_seed", seed)?)),
            _ => bail!("the configuration needs exactly one of bls_private_key and bls_seed"),
        }
    }

    /// The Sui signing key.
    pub fn sui_key(&self) -> anyhow::Result<Ed25519PrivateKey> {
        Ok(Ed25519PrivateKey::new(hex32(
            "sui_private_key",
            &self.sui_private_key,
        )?))
    }

    /// The chain client configuration.
    pub fn chain_config(&self) -> anyhow::Result<ChainConfig> {
        Ok(self.chain.chain_config()?)
    }

    /// The recovery limits.
    pub fn recovery_limits(&self) -> RecoveryLimits {
        RecoveryLimits {
            max_concurrent_blobs: self.recovery.max_concurrent_blobs,
            max_concurrent_requests: self.recovery.max_concurrent_requests,
            max_in_flight_bytes: self.recovery.max_in_flight_bytes,
            retry_delay: Duration::from_millis(self.recovery.retry_delay_ms),
        }
    }
}

/// The arguments of a node's `run` command (shared by `walrus-node` and the test-only
/// `walrus-byzantine-node`).
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The TOML configuration file (see the `config` module docs for the format).
    #[arg(long, short)]
    pub config: PathBuf,
    /// Override the REST listen address of the file.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Override the storage directory of the file.
    #[arg(long)]
    pub storage_path: Option<PathBuf>,
}

impl RunArgs {
    /// Loads the configuration file with the overrides applied.
    pub fn load(&self) -> anyhow::Result<NodeConfig> {
        let mut config = NodeConfig::load(&self.config)?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(path) = &self.storage_path {
            config.storage_path = path.clone();
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
storage_path = "/tmp/node"
listen = "127.0.0.1:9101"
bls_seed = "0101010101010101010101010101010101010101010101010101010101010101"
sui_private_key = "0202020202020202020202020202020202020202020202020202020202020202"

[chain]
rpc_url = "http://127.0.0.1:9000"
wal_package = "0xa11"
walrus_package = "0xa12"
system_object = "0x5"
staking_object = "0x7"
initial_shared_version = 1
"#;

    #[test]
    fn parses_the_example_with_defaults() {
        let config: NodeConfig = toml::from_str(EXAMPLE).unwrap();
        assert_eq!(config.registration_wait_ms, 10_000);
        assert_eq!(config.recovery, RecoverySection::default());
        assert_eq!(
            config.protocol_keys().unwrap().public(),
            ProtocolKeyPair::from_seed([1; 32]).public()
        );
        assert_eq!(
            config.chain_config().unwrap().walrus_package,
            sui_sdk_types::Address::from_static("0xa12")
        );
    }

    #[test]
    fn rejects_a_faults_section() {
        // Byzantine behaviour exists only in the test-only `walrus-byzantine-node` binary:
        // no configuration turns it on in this node.
        let text = format!("{EXAMPLE}\n[faults]\ncorrupt_slivers = true\n");
        assert!(toml::from_str::<NodeConfig>(&text).is_err());
    }

    #[test]
    fn rejects_bad_keys_and_unknown_fields() {
        let both = EXAMPLE.replace("bls_seed", "bls_private_key = \"00\"\nbls_seed");
        let config: NodeConfig = toml::from_str(&both).unwrap();
        assert!(config.protocol_keys().is_err());
        let short = EXAMPLE.replace(
            "0202020202020202020202020202020202020202020202020202020202020202",
            "02",
        );
        let config: NodeConfig = toml::from_str(&short).unwrap();
        assert!(config.sui_key().is_err());
        assert!(toml::from_str::<NodeConfig>(&format!("{EXAMPLE}\nextra = 1")).is_err());
    }
}
