//! Tools for storage-node operators, behind the `walrus-node` subcommands `setup`, `register`,
//! `set-*` and `collect-commission` (and reused by `walrus-localnet node add`):
//!
//! - [`setup`]: a node directory with a fresh BLS protocol key and a fresh Ed25519 Sui key
//!   (both in its `node.toml`, written readable by its owner only, as the configuration holds
//!   the keys), a fresh P-256 network key (`DIR/network-key.pem`, owner-only; TLS of the REST
//!   API unless disabled) and defaults: storage in `DIR/db`, the listen address, the chain.
//! - [`Operator`]: the node's own wallet (the configuration's Sui key) on the chain:
//!   [`Operator::register`] as a candidate with a proof of possession of the BLS key, then
//!   the updates through the `StorageNodeCap` the wallet owns (commission, votes, name,
//!   network address, next BLS key, collecting the commission). A node serving TLS announces
//!   `https://HOST:PORT` as its network address, one without `HOST:PORT` (plain HTTP); the
//!   operator gives `HOST:PORT` and the scheme follows the configuration
//!   ([`Operator::announced_address`]).
//!
//! Errors are [`OperatorError`]s worded for an operator: what is wrong and what to do.

use std::{
    io::Write,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
};

use fastcrypto::traits::ToFromBytes;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{Address, StructTag};
use walrus_chain::{
    client::{ChainConnection, ClientError, NodeRegistration, WalrusClient},
    contract::{
        staking::{
            StakingPool, StorageNodeCap, E_DUPLICATE_NODE, E_INVALID_PROOF_OF_POSSESSION,
            MAX_COMMISSION_RATE,
        },
        sui::Coin,
        Abort,
    },
};
use walrus_core::{
    crypto::{ProtocolKeyPair, PublicKey},
    ObjectId,
};
use walrus_node_client::{api::ServiceHealthInfo, NetworkPublicKey};

use crate::{
    config::NodeConfig,
    tls::{NetworkKeyPair, NETWORK_KEY_FILE},
};

/// The node's configuration file in a node directory.
pub const CONFIG_FILE: &str = "node.toml";
/// What `setup` records for `register` besides the configuration (the public address), in
/// the node directory ([`OperatorFile`]).
pub const OPERATOR_FILE: &str = "operator.toml";
/// Where `set-next-public-key --generate` writes the next BLS private key, in the directory of
/// the configuration.
pub const NEXT_KEY_FILE: &str = "next-bls.key";
/// The node's database directory in a node directory.
pub const DB_DIR: &str = "db";
/// The REST listen address when none is given.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 9185);
/// The storage price vote of a registration when none is given (FROST per unit and epoch; the
/// localnet genesis default).
pub const DEFAULT_STORAGE_PRICE: u64 = 100;
/// The write price vote of a registration when none is given (FROST per unit).
pub const DEFAULT_WRITE_PRICE: u64 = 10;
/// The capacity vote of a registration when none is given (1 TiB).
pub const DEFAULT_CAPACITY: u64 = 1 << 40;
/// The network public key registered for a node configured without a network key (a
/// configuration from before TLS; it serves plain HTTP): 32 zero bytes, not a valid key.
const NO_NETWORK_PUBLIC_KEY: [u8; 32] = [0; 32];
/// Longest node name accepted.
const MAX_NAME_LEN: usize = 256;

/// What an operator command can fail with, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// A file that holds keys or configuration exists already.
    #[error("{} already exists; pass --force to overwrite it (its keys would be lost for good)", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// A file or directory could not be read or written.
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        /// What was being done (`write`, `read`, ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// The configuration (or another input file) is invalid.
    #[error("{0}")]
    Config(String),
    /// An argument is invalid.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A commission rate above 100%.
    #[error("the commission rate {0} bp is above {MAX_COMMISSION_RATE} bp (100%); give at most {MAX_COMMISSION_RATE}")]
    CommissionTooHigh(u64),
    /// The wallet cannot pay for gas.
    #[error("fund {address} with SUI first: {detail}")]
    NoGas {
        /// The node's Sui address.
        address: Address,
        /// Balance and budget.
        detail: String,
    },
    /// The BLS key is registered, by another wallet.
    #[error(
        "this node's BLS key is already registered (node ID {node_id}), but {address} does not \
         own that node's StorageNodeCap: use the wallet that registered it, or make a new node \
         directory with `walrus-node setup`"
    )]
    KeyRegisteredElsewhere {
        /// The registered node.
        node_id: ObjectId,
        /// This node's Sui address.
        address: Address,
    },
    /// The BLS key is already a node's key or next key (the chain refused it).
    #[error("this BLS key is already a node's key or next key: {0}")]
    DuplicateKey(&'static str),
    /// The wallet owns no capability of a registered node.
    #[error(
        "{address} owns no StorageNodeCap: register the node first (`walrus-node register \
         --config ... --name NAME`)"
    )]
    NotRegistered {
        /// This node's Sui address.
        address: Address,
    },
    /// The wallet owns several capabilities and none is for this node's key.
    #[error(
        "{address} owns the StorageNodeCaps of several nodes ({nodes}) and none has this \
         node's BLS key; use a wallet with one node"
    )]
    AmbiguousCap {
        /// This node's Sui address.
        address: Address,
        /// The node IDs.
        nodes: String,
    },
    /// The chain refused or could not be reached.
    #[error(transparent)]
    Chain(#[from] ClientError),
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OperatorError {
    let path = path.to_path_buf();
    move |error| OperatorError::Io {
        action,
        path,
        error,
    }
}

fn config_error(error: anyhow::Error) -> OperatorError {
    OperatorError::Config(format!("{error:#}"))
}

/// `DIR/operator.toml`: what `setup` records for `register` besides the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorFile {
    /// The `host:port` clients and other nodes reach the REST API at (the default network
    /// address of `register`).
    #[serde(default)]
    pub public_address: Option<String>,
}

/// How to set up a node directory.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// The node directory (created if needed).
    pub dir: PathBuf,
    /// The REST listen address.
    pub listen: SocketAddr,
    /// The `host:port` others reach the node at (recorded in [`OPERATOR_FILE`] for
    /// `register`).
    pub public_address: Option<String>,
    /// The chain.
    pub chain: ChainConnection,
    /// Overwrite an existing configuration (and its keys).
    pub force: bool,
    /// Serve plain HTTP (`[tls] disable_tls = true`); the network key is generated anyway.
    pub disable_tls: bool,
}

impl SetupOptions {
    /// A setup of `dir` on `chain`, listening on [`DEFAULT_LISTEN`] (or on all interfaces at
    /// the port of `public_address`, if given), without overwriting.
    pub fn new(
        dir: impl Into<PathBuf>,
        chain: ChainConnection,
        public_address: Option<String>,
    ) -> Result<Self, OperatorError> {
        let listen = match &public_address {
            Some(address) => SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                check_network_address(address)?.1,
            ),
            None => DEFAULT_LISTEN,
        };
        Ok(Self {
            dir: dir.into(),
            listen,
            public_address,
            chain,
            force: false,
            disable_tls: false,
        })
    }
}

/// A set-up node directory.
#[derive(Debug, Clone)]
pub struct NodeSetup {
    /// The node directory (absolute).
    pub dir: PathBuf,
    /// Its `node.toml`.
    pub config_path: PathBuf,
    /// The configuration written.
    pub config: NodeConfig,
    /// The node's Sui address (fund it with SUI for gas).
    pub sui_address: Address,
    /// The node's BLS public key.
    pub public_key: PublicKey,
    /// The node's network public key (P-256; its TLS certificate carries it).
    pub network_public_key: NetworkPublicKey,
    /// The public address recorded for `register`, if any.
    pub public_address: Option<String>,
}

impl NodeSetup {
    /// What was created and what to do next, for the operator.
    pub fn summary(&self) -> String {
        let config = self.config_path.display();
        let address_flag = if self.public_address.is_some() {
            String::new()
        } else if self.config.listen.ip().is_unspecified() {
            " --network-address HOST:PORT".to_owned()
        } else {
            String::new()
        };
        let tls = if self.config.serves_tls() {
            "HTTPS (certificate pinned to the network public key)"
        } else {
            "disabled: plain HTTP"
        };
        format!(
            "Created {config}\n  storage         {}\n  listen          {}\n  Sui address     {}\n  \
             BLS public key  {}\n  network key     {}\n  TLS             {tls}\n\nNext:\n  1. Fund {} with SUI for gas (on a localnet: \
             POST {{\"recipient\":\"{}\"}} to its faucet's /v1/gas).\n  2. walrus-node register \
             --config {config} --name NAME{address_flag}\n  3. walrus-node run --config \
             {config}\n  The node joins the committee at the first committee selection after it \
             has stake (stakers stake with the node ID that `register` prints).\n  {config} \
             holds the node's private keys: keep it safe and back it up.",
            self.config.storage_path.display(),
            self.config.listen,
            self.sui_address,
            ServiceHealthInfo::encode_public_key(&self.public_key),
            self.network_public_key,
            self.sui_address,
            self.sui_address,
        )
    }
}

/// Writes `contents` to `path` atomically (temporary file and rename), readable and writable
/// by the owner only (it holds private keys).
pub fn write_private(path: &Path, contents: &str) -> Result<(), OperatorError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io_error("write", &tmp))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io_error("write", path))
}

/// Writes a node configuration to `path` (atomically, owner-only: it holds the keys).
pub fn write_config(path: &Path, config: &NodeConfig) -> Result<(), OperatorError> {
    let text = toml::to_string(config).map_err(|error| {
        OperatorError::Config(format!("cannot encode the configuration: {error}"))
    })?;
    write_private(path, &text)
}

fn to_toml_value(value: impl Serialize, what: &str) -> Result<toml::Value, OperatorError> {
    toml::Value::try_from(value)
        .map_err(|error| OperatorError::Config(format!("cannot encode {what}: {error}")))
}

/// Creates a node directory: fresh keys, `node.toml` (storage `DIR/db`, the listen address,
/// the chain) and, with a public address, [`OPERATOR_FILE`]. Refuses to overwrite an existing
/// `node.toml` unless `options.force`. The written configuration loads with
/// [`NodeConfig::load`].
pub fn setup(options: &SetupOptions) -> Result<NodeSetup, OperatorError> {
    if let Some(address) = &options.public_address {
        check_network_address(address)?;
    }
    options.chain.chain_config()?;
    std::fs::create_dir_all(&options.dir).map_err(io_error("create", &options.dir))?;
    let dir = std::path::absolute(&options.dir).map_err(io_error("resolve", &options.dir))?;
    let config_path = dir.join(CONFIG_FILE);
    if config_path.exists() && !options.force {
        return Err(OperatorError::Exists { path: config_path });
    }

    let keys = ProtocolKeyPair::generate_with_rng(&mut rand::thread_rng());
    let network_keys = NetworkKeyPair::generate().map_err(|error| {
        OperatorError::Config(format!("cannot generate a network key: {error}"))
    })?;
    let mut sui_secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut sui_secret);
    let sui_address = Ed25519PrivateKey::new(sui_secret)
        .public_key()
        .derive_address();
    let storage_path = dir.join(DB_DIR);
    let storage = storage_path
        .to_str()
        .ok_or_else(|| OperatorError::InvalidArgument {
            what: "directory",
            reason: format!("{} is not UTF-8", dir.display()),
        })?;

    let mut table = toml::Table::new();
    table.insert("storage_path".into(), storage.into());
    table.insert("listen".into(), options.listen.to_string().into());
    table.insert(
        "bls_private_key".into(),
        hex::encode(keys.private_key_bytes()).into(),
    );
    table.insert("sui_private_key".into(), hex::encode(sui_secret).into());
    let network_key_path = dir.join(NETWORK_KEY_FILE);
    let network_key = network_key_path
        .to_str()
        .ok_or_else(|| OperatorError::InvalidArgument {
            what: "directory",
            reason: format!("{} is not UTF-8", dir.display()),
        })?;
    table.insert("network_key_pair".into(), network_key.into());
    if let Some(address) = &options.public_address {
        let (host, _) = check_network_address(address)?;
        table.insert(
            "public_host".into(),
            host.trim_start_matches('[').trim_end_matches(']').into(),
        );
    }
    table.insert("chain".into(), to_toml_value(&options.chain, "[chain]")?);
    if options.disable_tls {
        let mut tls = toml::Table::new();
        tls.insert("disable_tls".into(), true.into());
        table.insert("tls".into(), tls.into());
    }
    let body = toml::to_string(&table)
        .map_err(|error| OperatorError::Config(format!("cannot encode node.toml: {error}")))?;
    let text = format!(
        "# Storage node configuration, written by `walrus-node setup` (see the `config` module \
         of walrus-node for every option).\n# It holds the node's PRIVATE keys \
         (bls_private_key: the BLS protocol key; sui_private_key: the node's Sui wallet; \
         network_key_pair: the file of its TLS key).\n\n\
         {body}"
    );
    let config: NodeConfig = toml::from_str(&text)
        .map_err(|error| OperatorError::Config(format!("the written configuration: {error}")))?;
    config.protocol_keys().map_err(config_error)?;

    let operator_path = dir.join(OPERATOR_FILE);
    match &options.public_address {
        Some(address) => {
            let file = OperatorFile {
                public_address: Some(address.clone()),
            };
            let text = toml::to_string(&file).map_err(|error| {
                OperatorError::Config(format!("cannot encode {OPERATOR_FILE}: {error}"))
            })?;
            write_private(&operator_path, &text)?;
        }
        None => match std::fs::remove_file(&operator_path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error("remove", &operator_path)(error)),
        },
    }
    write_private(&network_key_path, &network_keys.to_pem())?;
    write_private(&config_path, &text)?;
    Ok(NodeSetup {
        dir,
        config_path,
        config,
        sui_address,
        public_key: keys.public().clone(),
        network_public_key: *network_keys.public(),
        public_address: options.public_address.clone(),
    })
}

/// The `[chain]` section of a TOML file (a client's or another node's configuration, e.g. a
/// localnet's `client.toml`), or the section's fields at the top level of the file.
pub fn read_chain_connection(path: &Path) -> Result<ChainConnection, OperatorError> {
    let text = std::fs::read_to_string(path).map_err(io_error("read", path))?;
    let invalid = |error: &dyn std::fmt::Display| {
        OperatorError::Config(format!(
            "invalid chain configuration {}: {error}",
            path.display()
        ))
    };
    let mut table: toml::Table = toml::from_str(&text).map_err(|error| invalid(&error))?;
    let section = match table.remove("chain") {
        Some(toml::Value::Table(chain)) => chain,
        Some(_) => return Err(invalid(&"[chain] is not a table")),
        None => table,
    };
    let chain: ChainConnection = section.try_into().map_err(|error| invalid(&error))?;
    chain.chain_config().map_err(|error| invalid(&error))?;
    Ok(chain)
}

/// Reads a BLS private key file (the 32-byte private key in hex, as `keygen` prints it and
/// `set-next-public-key --generate` writes it).
pub fn read_key_file(path: &Path) -> Result<ProtocolKeyPair, OperatorError> {
    let text = std::fs::read_to_string(path).map_err(io_error("read", path))?;
    let invalid = |reason: String| OperatorError::Config(format!("{}: {reason}", path.display()));
    let bytes = hex::decode(text.trim().trim_start_matches("0x"))
        .map_err(|error| invalid(format!("not a hex BLS private key: {error}")))?;
    ProtocolKeyPair::from_private_key_bytes(&bytes)
        .map_err(|error| invalid(format!("invalid BLS private key: {error}")))
}

/// Generates a BLS key pair into `path` (the private key in hex, owner-only); refuses to
/// overwrite an existing file unless `force`.
pub fn generate_key_file(path: &Path, force: bool) -> Result<ProtocolKeyPair, OperatorError> {
    if path.exists() && !force {
        return Err(OperatorError::Exists {
            path: path.to_path_buf(),
        });
    }
    let keys = ProtocolKeyPair::generate_with_rng(&mut rand::thread_rng());
    write_private(
        path,
        &format!("{}\n", hex::encode(keys.private_key_bytes())),
    )?;
    Ok(keys)
}

/// Checks a commission rate in basis points.
pub fn check_commission(rate: u64) -> Result<u16, OperatorError> {
    u16::try_from(rate)
        .ok()
        .filter(|rate| *rate <= MAX_COMMISSION_RATE)
        .ok_or(OperatorError::CommissionTooHigh(rate))
}

/// Checks a `host:port` network address; returns the host and port.
pub fn check_network_address(address: &str) -> Result<(&str, u16), OperatorError> {
    let invalid = |reason: &str| OperatorError::InvalidArgument {
        what: "network address",
        reason: format!("{address:?}: {reason} (expected HOST:PORT, e.g. node1.example.com:9185)"),
    };
    if address.contains("://") {
        return Err(invalid("no scheme"));
    }
    let (host, port) = address.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| invalid("the port is not a number"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.is_empty()
        || port == 0
        || host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(invalid("empty host, port 0 or bad characters"));
    }
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if ip.is_unspecified() {
            return Err(invalid("an unspecified IP is not reachable"));
        }
    }
    Ok((host, port))
}

fn check_name(name: &str) -> Result<(), OperatorError> {
    if name.trim().is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(OperatorError::InvalidArgument {
            what: "name",
            reason: format!("{name:?}: give 1 to {MAX_NAME_LEN} bytes without control characters"),
        });
    }
    Ok(())
}

/// What to register a node with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The node's name.
    pub name: String,
    /// Its `host:port` (`None`: [`Operator::default_network_address`]).
    pub network_address: Option<String>,
    /// Commission in basis points (at most 10000).
    pub commission_rate: u64,
    /// Storage price vote (FROST per unit and epoch).
    pub storage_price: u64,
    /// Write price vote (FROST per unit).
    pub write_price: u64,
    /// Capacity vote (bytes).
    pub capacity: u64,
}

impl Registration {
    /// A registration named `name`: no commission, the default votes
    /// ([`DEFAULT_STORAGE_PRICE`], [`DEFAULT_WRITE_PRICE`], [`DEFAULT_CAPACITY`]), the default
    /// network address.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            network_address: None,
            commission_rate: 0,
            storage_price: DEFAULT_STORAGE_PRICE,
            write_price: DEFAULT_WRITE_PRICE,
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// What [`Operator::register`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// The node was registered now.
    Registered {
        /// Its node (pool) ID.
        node_id: ObjectId,
        /// Its `StorageNodeCap`, owned by the node's wallet.
        cap_id: ObjectId,
    },
    /// The wallet already owns the capability of a node with this BLS key: nothing was done.
    AlreadyRegistered {
        /// Its node (pool) ID.
        node_id: ObjectId,
        /// Its `StorageNodeCap`.
        cap_id: ObjectId,
    },
}

impl RegisterOutcome {
    /// The node ID.
    pub fn node_id(&self) -> ObjectId {
        match self {
            Self::Registered { node_id, .. } | Self::AlreadyRegistered { node_id, .. } => *node_id,
        }
    }

    /// The `StorageNodeCap` ID.
    pub fn cap_id(&self) -> ObjectId {
        match self {
            Self::Registered { cap_id, .. } | Self::AlreadyRegistered { cap_id, .. } => *cap_id,
        }
    }
}

/// A registered node as the chain has it: the wallet's capability and the node's pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredNode {
    /// The `StorageNodeCap` the wallet owns.
    pub cap: StorageNodeCap,
    /// The node's staking pool.
    pub pool: StakingPool,
}

/// Whether `pool` has `key` as its BLS key or its next one.
fn has_key(pool: &StakingPool, key: &[u8]) -> bool {
    pool.info.public_key == key || pool.info.next_epoch_public_key.as_deref() == Some(key)
}

/// How many times a transaction refused for a stale object reference is sent again.
const STALE_RETRIES: u32 = 5;

/// Whether the chain refused a transaction because an owned input (a gas coin, the
/// capability) moved on since it was read (the localnet's and Sui's wording).
fn is_stale(error: &ClientError) -> bool {
    matches!(error, ClientError::Rejected { message, .. }
        if message.contains("stale object reference")
            || message.contains("not available for consumption"))
}

/// Runs `call` again, up to [`STALE_RETRIES`] times, while the chain refuses it for a stale
/// object reference: the running node uses the same wallet (gas coins) and capability (its
/// epoch-sync reports), so an operator's transaction can race with the node's.
async fn retry_stale<T, F>(mut call: impl FnMut() -> F) -> Result<T, ClientError>
where
    F: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(error) if attempt < STALE_RETRIES && is_stale(&error) => {
                attempt += 1;
                tracing::debug!(%error, attempt, "stale object reference; sending again");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            result => return result,
        }
    }
}

fn is_abort(error: &ClientError, abort: Abort) -> bool {
    error
        .move_abort()
        .is_some_and(|(module, code, _)| module == abort.module && code == abort.code)
}

/// A storage node's operator: its configuration and its own wallet on the chain.
pub struct Operator {
    config_path: PathBuf,
    config: NodeConfig,
    keys: ProtocolKeyPair,
    client: WalrusClient,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the configuration: it holds the private keys.
        f.debug_struct("Operator")
            .field("config_path", &self.config_path)
            .field("address", &self.address())
            .field("public_key", self.public_key())
            .finish_non_exhaustive()
    }
}

impl Operator {
    /// The operator of the node configured in `config_path` (no chain access yet; call it
    /// within a Tokio runtime, as the chain client's connection is made lazily in it).
    pub fn load(config_path: &Path) -> Result<Self, OperatorError> {
        let config = NodeConfig::load(config_path).map_err(config_error)?;
        let keys = config.protocol_keys().map_err(config_error)?;
        let client = WalrusClient::new(
            &config.chain.rpc_url,
            config.sui_key().map_err(config_error)?,
            config.chain_config().map_err(config_error)?,
        )?;
        Ok(Self {
            config_path: config_path.to_path_buf(),
            config,
            keys,
            client,
        })
    }

    /// The node's Sui address (its wallet).
    pub fn address(&self) -> Address {
        self.client.address()
    }

    /// The node's BLS public key.
    pub fn public_key(&self) -> &PublicKey {
        self.keys.public()
    }

    /// The configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The chain client of the node's wallet.
    pub fn client(&self) -> &WalrusClient {
        &self.client
    }

    /// Where `set-next-public-key --generate` writes the next key: [`NEXT_KEY_FILE`] next to
    /// the configuration.
    pub fn next_key_path(&self) -> PathBuf {
        self.config_path.with_file_name(NEXT_KEY_FILE)
    }

    /// The network address `register` uses when none is given: the public address recorded
    /// by `setup` ([`OPERATOR_FILE`] next to the configuration), else the listen address if
    /// it names an interface.
    pub fn default_network_address(&self) -> Result<String, OperatorError> {
        let path = self.config_path.with_file_name(OPERATOR_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let file: OperatorFile = toml::from_str(&text).map_err(|error| {
                    OperatorError::Config(format!("invalid {}: {error}", path.display()))
                })?;
                if let Some(address) = file.public_address {
                    return Ok(address);
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error("read", &path)(error)),
        }
        if self.config.listen.ip().is_unspecified() {
            return Err(OperatorError::InvalidArgument {
                what: "network address",
                reason: format!(
                    "the node listens on {} (all interfaces): pass --network-address HOST:PORT, \
                     the address other nodes and clients reach its REST API at",
                    self.config.listen
                ),
            });
        }
        Ok(self.config.listen.to_string())
    }

    /// The network address the node announces for `host_port` (`HOST:PORT`): `https://HOST:PORT`
    /// if its REST API serves TLS ([`NodeConfig::serves_tls`]), else `HOST:PORT` (plain
    /// HTTP).
    pub fn announced_address(&self, host_port: &str) -> Result<String, OperatorError> {
        check_network_address(host_port)?;
        Ok(if self.config.serves_tls() {
            format!("https://{host_port}")
        } else {
            host_port.to_owned()
        })
    }

    /// The network public key the node registers: its network key's public key, or (no
    /// network key configured) 32 zero bytes, which no client can pin.
    pub fn network_public_key(&self) -> Result<Vec<u8>, OperatorError> {
        Ok(match self.config.network_keys().map_err(config_error)? {
            Some(keys) => keys.public().as_bytes().to_vec(),
            None => NO_NETWORK_PUBLIC_KEY.to_vec(),
        })
    }

    /// The wallet's SUI balance (MIST).
    pub async fn sui_balance(&self) -> Result<u64, OperatorError> {
        let coins = self
            .client
            .owned_objects(self.address(), &StructTag::gas_coin())
            .await?;
        coins.iter().try_fold(0u64, |total, object| {
            Ok(total.saturating_add(object.decode::<Coin>()?.balance))
        })
    }

    /// Fails with [`OperatorError::NoGas`] unless the wallet can pay a transaction's gas
    /// budget.
    async fn ensure_gas(&self) -> Result<(), OperatorError> {
        let balance = self.sui_balance().await?;
        let needed = self.client.config().gas_budget;
        if balance < needed {
            return Err(OperatorError::NoGas {
                address: self.address(),
                detail: format!(
                    "it holds {balance} MIST; a transaction's gas budget is {needed} MIST"
                ),
            });
        }
        Ok(())
    }

    /// An error of the chain client, worded for the operator.
    fn chain_error(&self, error: ClientError) -> OperatorError {
        match error {
            ClientError::InsufficientFunds(detail) if detail.contains("::sui::SUI") => {
                OperatorError::NoGas {
                    address: self.address(),
                    detail,
                }
            }
            error => OperatorError::Chain(error),
        }
    }

    /// The node this wallet operates: the wallet's `StorageNodeCap` whose pool has this
    /// node's BLS key, or the only one it owns (after a key change); `None` if it owns none.
    pub async fn registered_node(&self) -> Result<Option<RegisteredNode>, OperatorError> {
        let caps = self.client.owned_node_caps().await?;
        if caps.is_empty() {
            return Ok(None);
        }
        let staking = self.client.staking().await?;
        let key = self.keys.public().as_bytes();
        let with_pools: Vec<RegisteredNode> = caps
            .into_iter()
            .filter_map(|cap| {
                let pool = staking
                    .pools
                    .iter()
                    .find(|pool| pool.node_id == cap.node_id)?
                    .clone();
                Some(RegisteredNode { cap, pool })
            })
            .collect();
        if let Some(node) = with_pools.iter().find(|node| has_key(&node.pool, key)) {
            return Ok(Some(node.clone()));
        }
        match with_pools.len() {
            0 => Ok(None),
            1 => Ok(with_pools.into_iter().next()),
            _ => Err(OperatorError::AmbiguousCap {
                address: self.address(),
                nodes: with_pools
                    .iter()
                    .map(|node| node.pool.node_id.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The node this wallet operates, or [`OperatorError::NotRegistered`].
    async fn require_registered(&self) -> Result<RegisteredNode, OperatorError> {
        self.registered_node()
            .await?
            .ok_or(OperatorError::NotRegistered {
                address: self.address(),
            })
    }

    /// Registers the node as a candidate (`register_candidate`) with its wallet, with a proof
    /// of possession of its BLS key for the current epoch. If the wallet already owns the
    /// capability of a node with this key, nothing is sent
    /// ([`RegisterOutcome::AlreadyRegistered`]).
    pub async fn register(
        &self,
        registration: &Registration,
    ) -> Result<RegisterOutcome, OperatorError> {
        let commission_rate = check_commission(registration.commission_rate)?;
        check_name(&registration.name)?;
        let network_address = match &registration.network_address {
            Some(address) => address.clone(),
            None => self.default_network_address()?,
        };
        let network_address = self.announced_address(&network_address)?;
        let network_public_key = self.network_public_key()?;

        let mut staking = self.client.staking().await?;
        let public_key = self.keys.public().as_bytes().to_vec();
        if let Some(pool) = staking.pools.iter().find(|pool| has_key(pool, &public_key)) {
            let caps = self.client.owned_node_caps().await?;
            return match caps.into_iter().find(|cap| cap.node_id == pool.node_id) {
                Some(cap) => Ok(RegisterOutcome::AlreadyRegistered {
                    node_id: pool.node_id,
                    cap_id: cap.id,
                }),
                None => Err(OperatorError::KeyRegisteredElsewhere {
                    node_id: pool.node_id,
                    address: self.address(),
                }),
            };
        }
        self.ensure_gas().await?;
        let mut node = NodeRegistration {
            name: registration.name.clone(),
            network_address,
            public_key,
            network_public_key,
            proof_of_possession: Vec::new(),
            commission_rate,
            storage_price: registration.storage_price,
            write_price: registration.write_price,
            node_capacity: registration.capacity,
        };
        // The proof is for the current epoch: if the epoch changes in between, once more.
        let mut retried = false;
        loop {
            node.proof_of_possession = self
                .keys
                .proof_of_possession(self.address().into_inner(), staking.epoch)
                .as_bytes()
                .to_vec();
            match retry_stale(|| self.client.register_candidate(&node)).await {
                Ok(cap) => {
                    return Ok(RegisterOutcome::Registered {
                        node_id: cap.node_id,
                        cap_id: cap.id,
                    })
                }
                Err(error) if !retried && is_abort(&error, E_INVALID_PROOF_OF_POSSESSION) => {
                    retried = true;
                    staking = self.client.staking().await?;
                }
                Err(error) if is_abort(&error, E_DUPLICATE_NODE) => {
                    return Err(OperatorError::DuplicateKey(
                        "it was registered in the meantime; run `walrus-node register` again to \
                         see whether by this wallet",
                    ))
                }
                Err(error) => return Err(self.chain_error(error)),
            }
        }
    }

    /// `set_votes`: the node's storage price, write price and capacity votes, effective at
    /// the next committee selection; a vote not given keeps its current value. Returns the
    /// pool as updated.
    pub async fn set_votes(
        &self,
        storage_price: Option<u64>,
        write_price: Option<u64>,
        capacity: Option<u64>,
    ) -> Result<StakingPool, OperatorError> {
        let node = self.require_registered().await?;
        self.ensure_gas().await?;
        let pool = &node.pool;
        let votes = (
            storage_price.unwrap_or(pool.storage_price),
            write_price.unwrap_or(pool.write_price),
            capacity.unwrap_or(pool.node_capacity),
        );
        retry_stale(|| {
            self.client
                .set_votes(node.cap.id, votes.0, votes.1, votes.2)
        })
        .await
        .map_err(|error| self.chain_error(error))?;
        self.pool(node.cap.node_id).await
    }

    /// `set_commission_rate`: the node's commission in basis points (at most 10000), from
    /// the next epoch change on. Returns the pool as updated.
    pub async fn set_commission(&self, rate: u64) -> Result<StakingPool, OperatorError> {
        let rate = check_commission(rate)?;
        let node = self.require_registered().await?;
        self.ensure_gas().await?;
        retry_stale(|| self.client.set_commission_rate(node.cap.id, rate))
            .await
            .map_err(|error| self.chain_error(error))?;
        self.pool(node.cap.node_id).await
    }

    /// `set_name`: the node's name, at once. Returns the pool as updated.
    pub async fn set_name(&self, name: &str) -> Result<StakingPool, OperatorError> {
        check_name(name)?;
        let node = self.require_registered().await?;
        self.ensure_gas().await?;
        retry_stale(|| self.client.set_name(node.cap.id, name))
            .await
            .map_err(|error| self.chain_error(error))?;
        self.pool(node.cap.node_id).await
    }

    /// `set_network_address`: the `host:port` others reach the node at, at once (announced as
    /// [`Self::announced_address`] says). Returns the pool as updated.
    pub async fn set_network_address(&self, address: &str) -> Result<StakingPool, OperatorError> {
        let address = self.announced_address(address)?;
        let node = self.require_registered().await?;
        self.ensure_gas().await?;
        retry_stale(|| self.client.set_network_address(node.cap.id, &address))
            .await
            .map_err(|error| self.chain_error(error))?;
        self.pool(node.cap.node_id).await
    }

    /// `set_next_public_key`: `next` becomes the node's BLS key at the next committee
    /// selection (with a proof of possession for the wallet and the current epoch). The node
    /// must be restarted with `next` as its `bls_private_key` once the epoch of the
    /// committee selected with it has begun. Returns the pool as updated.
    pub async fn set_next_public_key(
        &self,
        next: &ProtocolKeyPair,
    ) -> Result<StakingPool, OperatorError> {
        let node = self.require_registered().await?;
        let public_key = next.public().as_bytes().to_vec();
        if node.pool.info.public_key == public_key {
            return Err(OperatorError::InvalidArgument {
                what: "next public key",
                reason: "it is the node's current key".to_owned(),
            });
        }
        self.ensure_gas().await?;
        let mut epoch = self.client.staking().await?.epoch;
        let mut retried = false;
        loop {
            let proof = next
                .proof_of_possession(self.address().into_inner(), epoch)
                .as_bytes()
                .to_vec();
            match retry_stale(|| {
                self.client
                    .set_next_public_key(node.cap.id, &public_key, &proof)
            })
            .await
            {
                Ok(_) => return self.pool(node.cap.node_id).await,
                Err(error) if !retried && is_abort(&error, E_INVALID_PROOF_OF_POSSESSION) => {
                    retried = true;
                    epoch = self.client.staking().await?.epoch;
                }
                Err(error) if is_abort(&error, E_DUPLICATE_NODE) => {
                    return Err(OperatorError::DuplicateKey("generate another one"))
                }
                Err(error) => return Err(self.chain_error(error)),
            }
        }
    }

    /// `collect_commission`: the node's uncollected commission, as a WAL coin to the wallet.
    /// Returns the amount (FROST).
    pub async fn collect_commission(&self) -> Result<u64, OperatorError> {
        let node = self.require_registered().await?;
        self.ensure_gas().await?;
        let coin = retry_stale(|| self.client.collect_commission(node.cap.id))
            .await
            .map_err(|error| self.chain_error(error))?;
        Ok(coin.balance)
    }

    /// The pool of `node_id` now.
    async fn pool(&self, node_id: ObjectId) -> Result<StakingPool, OperatorError> {
        self.client
            .staking()
            .await?
            .pools
            .into_iter()
            .find(|pool| pool.node_id == node_id)
            .ok_or_else(|| {
                OperatorError::Chain(ClientError::NotFound(format!("no pool for {node_id}")))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> ChainConnection {
        ChainConnection {
            rpc_url: "http://127.0.0.1:9000".into(),
            wal_package: "0xa11".into(),
            walrus_package: "0xa12".into(),
            system_object: "0x5".into(),
            staking_object: "0x7".into(),
            initial_shared_version: 1,
        }
    }

    #[tokio::test]
    async fn setup_writes_a_loadable_config_with_fresh_keys() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("node");
        let options =
            SetupOptions::new(&dir, chain(), Some("node.example.com:9400".into())).unwrap();
        assert_eq!(options.listen.to_string(), "0.0.0.0:9400");
        let setup = setup(&options).unwrap();
        assert_eq!(setup.config_path, dir.join(CONFIG_FILE));
        let config = NodeConfig::load(&setup.config_path).unwrap();
        assert_eq!(config, setup.config);
        assert_eq!(config.storage_path, dir.join(DB_DIR));
        assert_eq!(config.listen, options.listen);
        assert_eq!(config.chain, chain());
        assert_eq!(config.protocol_keys().unwrap().public(), &setup.public_key);
        assert_eq!(
            config.sui_key().unwrap().public_key().derive_address(),
            setup.sui_address
        );
        assert!(config.bls_seed.is_none() && config.bls_private_key.is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&setup.config_path)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let summary = setup.summary();
        assert!(
            summary.contains(&setup.sui_address.to_string()),
            "{summary}"
        );
        assert!(summary.contains("walrus-node register"), "{summary}");

        // The public address is what `register` uses by default.
        let operator = Operator::load(&setup.config_path).unwrap();
        assert_eq!(operator.address(), setup.sui_address);
        assert_eq!(
            operator.default_network_address().unwrap(),
            "node.example.com:9400"
        );

        // A second setup gets other keys.
        let other =
            super::setup(&SetupOptions::new(temp.path().join("other"), chain(), None).unwrap())
                .unwrap();
        assert_ne!(other.public_key, setup.public_key);
        assert_ne!(other.sui_address, setup.sui_address);
        assert_eq!(other.config.listen, DEFAULT_LISTEN);
    }

    #[tokio::test]
    async fn setup_refuses_to_overwrite_without_force() {
        let temp = tempfile::tempdir().unwrap();
        let mut options = SetupOptions::new(temp.path(), chain(), None).unwrap();
        options.listen = "127.0.0.1:9401".parse().unwrap();
        let first = setup(&options).unwrap();
        let before = std::fs::read_to_string(&first.config_path).unwrap();
        match setup(&options) {
            Err(error @ OperatorError::Exists { .. }) => {
                assert!(error.to_string().contains("--force"), "{error}")
            }
            other => panic!("overwrote: {other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&first.config_path).unwrap(), before);

        // Without a public address, the listen address is the default network address.
        let operator = Operator::load(&first.config_path).unwrap();
        assert_eq!(
            operator.default_network_address().unwrap(),
            "127.0.0.1:9401"
        );

        options.force = true;
        let second = setup(&options).unwrap();
        assert_ne!(second.public_key, first.public_key);
        assert_eq!(
            NodeConfig::load(&second.config_path).unwrap(),
            second.config
        );
    }

    #[tokio::test]
    async fn setup_rejects_bad_inputs() {
        let temp = tempfile::tempdir().unwrap();
        assert!(SetupOptions::new(temp.path(), chain(), Some("no-port".into())).is_err());
        let mut bad_chain = chain();
        bad_chain.system_object = "not an address".into();
        let options = SetupOptions::new(temp.path(), bad_chain, None).unwrap();
        assert!(setup(&options).is_err());
        assert!(!temp.path().join(CONFIG_FILE).exists());

        // All interfaces and no public address: `register` needs --network-address.
        let setup = setup(&SetupOptions::new(temp.path(), chain(), None).unwrap()).unwrap();
        let operator = Operator::load(&setup.config_path).unwrap();
        let error = operator.default_network_address().unwrap_err().to_string();
        assert!(error.contains("--network-address"), "{error}");
    }

    #[test]
    fn chain_connection_from_a_client_config_or_bare() {
        let temp = tempfile::tempdir().unwrap();
        let section = toml::to_string(&chain()).unwrap();
        let client = temp.path().join("client.toml");
        std::fs::write(
            &client,
            format!("wallet_private_key = \"00\"\n\n[chain]\n{section}"),
        )
        .unwrap();
        assert_eq!(read_chain_connection(&client).unwrap(), chain());
        let bare = temp.path().join("chain.toml");
        std::fs::write(&bare, &section).unwrap();
        assert_eq!(read_chain_connection(&bare).unwrap(), chain());
        std::fs::write(&bare, "rpc_url = 3").unwrap();
        assert!(read_chain_connection(&bare).is_err());
        assert!(read_chain_connection(&temp.path().join("missing.toml")).is_err());
    }

    #[test]
    fn key_files_round_trip_and_refuse_overwrite() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(NEXT_KEY_FILE);
        let keys = generate_key_file(&path, false).unwrap();
        assert_eq!(read_key_file(&path).unwrap().public(), keys.public());
        assert!(matches!(
            generate_key_file(&path, false),
            Err(OperatorError::Exists { .. })
        ));
        let again = generate_key_file(&path, true).unwrap();
        assert_ne!(again.public(), keys.public());
        std::fs::write(&path, "zz").unwrap();
        assert!(read_key_file(&path).is_err());
    }

    #[tokio::test]
    async fn stale_references_are_retried_other_errors_not() {
        let stale = || ClientError::Rejected {
            code: tonic::Code::FailedPrecondition,
            message: "stale object reference: 0x1 is at version 3".into(),
        };
        let mut calls = 0;
        let result = retry_stale(|| {
            calls += 1;
            let outcome = if calls < 3 { Err(stale()) } else { Ok(calls) };
            async move { outcome }
        })
        .await;
        assert_eq!(result.unwrap(), 3);

        let mut calls = 0;
        let result: Result<(), _> = retry_stale(|| {
            calls += 1;
            async { Err(ClientError::InsufficientFunds("none".into())) }
        })
        .await;
        assert!(matches!(result, Err(ClientError::InsufficientFunds(_))));
        assert_eq!(calls, 1);

        let mut calls = 0;
        let result: Result<(), _> = retry_stale(|| {
            calls += 1;
            async { Err(stale()) }
        })
        .await;
        assert!(is_stale(&result.unwrap_err()));
        assert_eq!(calls, STALE_RETRIES + 1);
    }

    #[test]
    fn argument_checks() {
        assert_eq!(check_commission(10_000).unwrap(), 10_000);
        assert_eq!(check_commission(0).unwrap(), 0);
        let error = check_commission(20_000).unwrap_err().to_string();
        assert!(error.contains("20000 bp is above 10000 bp"), "{error}");
        assert!(check_commission(u64::MAX).is_err());

        assert_eq!(
            check_network_address("node.example.com:9185").unwrap(),
            ("node.example.com", 9185)
        );
        assert_eq!(check_network_address("[::1]:80").unwrap().1, 80);
        for bad in [
            "",
            "host",
            "host:",
            ":80",
            "host:0",
            "host:99999",
            "http://host:80",
            "0.0.0.0:80",
            "ho st:80",
            "host/x:80",
        ] {
            assert!(check_network_address(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_name("node-1").is_ok());
        assert!(check_name(" ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(MAX_NAME_LEN + 1)).is_err());
    }
}
