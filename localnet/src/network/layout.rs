//! The files of a network directory: `network.toml` (what a restart needs), `genesis.toml`,
//! the node, client and publisher configurations, `localnet.json`, logs and pid files; and
//! [`NetworkDir`], the operator's handle on the nodes of a running network (by pid files, so
//! it works from another shell).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sui_crypto::ed25519::Ed25519PrivateKey;
use walrus_chain::client::ChainConnection;
use walrus_localchain::launcher::{AccountEntry, GenesisFile, NodeEntry, ONE_COIN};
use walrus_node::{
    tls::{NetworkKeyPair, NETWORK_KEY_FILE},
    NodeConfig,
};
use walrus_node_client::{NetworkPublicKey, NodeClient};

use super::process::{self, arg};

/// What a restart needs, in `DIR/network.toml`.
pub const NETWORK_FILE: &str = "network.toml";
/// The genesis file of the chain, in `DIR/genesis.toml`.
pub const GENESIS_FILE: &str = "genesis.toml";
/// The description of the running network, in `DIR/localnet.json` ([`LocalnetInfo`]).
pub const INFO_FILE: &str = "localnet.json";
/// The client configuration (`walrus --config DIR/client.toml`).
pub const CLIENT_CONFIG: &str = "client.toml";
/// The publisher's client configuration.
pub const PUBLISHER_CONFIG: &str = "publisher.toml";
/// The file a stopped, killed or wiped node gets, so the supervisor does not take its exit
/// for a crash (removed when the node starts).
const STOPPED_MARKER: &str = "stopped-by-operator";
/// **Test only.** A node whose directory holds this file is started as the byzantine test
/// node (`walrus-byzantine-node run --config node.toml --faults faults.toml`), which lies in
/// what it serves as the file says; never put it in a real node's directory.
pub const FAULTS_FILE: &str = "faults.toml";
/// **Test only.** The byzantine node binary (crate `walrus-byzantine-node`).
pub const BYZANTINE_NODE_BIN: &str = "walrus-byzantine-node";

/// SUI (MIST) of each node's account at genesis (and from the faucet for an added node).
pub(crate) const NODE_SUI: u64 = 1_000 * ONE_COIN;
/// The recovery retry delay of the network's nodes (ms).
const RECOVERY_RETRY_DELAY_MS: u64 = 1_000;
/// SUI and WAL of the client wallet at genesis.
const CLIENT_SUI: u64 = 10_000 * ONE_COIN;
const CLIENT_WAL: u64 = 1_000_000 * ONE_COIN;
/// What the faucet gives the publisher wallet at creation (the faucet's per-request maximum).
pub(crate) const PUBLISHER_SUI: u64 = 10_000 * ONE_COIN;
pub(crate) const PUBLISHER_WAL: u64 = 10_000 * ONE_COIN;

/// One node of `network.toml`: a genesis node (with its BLS seed) or a node added to the
/// running network (`walrus-localnet node add`: no seed, its keys are in its own `node.toml`,
/// written by `walrus_node::operator::setup`; its node ID is recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeKeys {
    /// REST address (also its on-chain network address).
    pub listen: SocketAddr,
    /// BLS seed (32 bytes, hex) of a genesis node; `None` for an added node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bls_seed: Option<String>,
    /// Ed25519 key of its Sui account (32 bytes, hex).
    pub sui_private_key: String,
    /// Stake at genesis, or staked when it was added (FROST).
    pub stake: u64,
    /// The node ID (staking pool) of an added node, from its registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// The network key (P-256, PKCS#8 PEM) of a genesis node, written to its
    /// `network-key.pem`; its public key is registered at genesis. `None` for an added node
    /// (its key is in its own directory) and in networks created before TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_key: Option<String>,
}

impl NodeKeys {
    /// Whether the node was added to the running network (not registered at genesis).
    pub fn is_added(&self) -> bool {
        self.bls_seed.is_none()
    }
}

/// `DIR/network.toml`: ports, keys and sizes of the network, fixed at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    /// Number of shards.
    pub n_shards: u16,
    /// Epoch duration (ms).
    pub epoch_duration_ms: u64,
    /// How long a node waits for a registration event (ms).
    pub registration_wait_ms: u64,
    /// The chain's gRPC address.
    pub chain_listen: SocketAddr,
    /// The faucet's address.
    pub faucet_listen: SocketAddr,
    /// The publisher's address.
    pub publisher_listen: SocketAddr,
    /// The aggregator's address.
    pub aggregator_listen: SocketAddr,
    /// The client wallet (Ed25519, 32 bytes hex; funded at genesis).
    pub client_private_key: String,
    /// The publisher wallet (Ed25519, 32 bytes hex; funded by the faucet).
    pub publisher_private_key: String,
    /// Whether the faucet has funded the publisher wallet.
    #[serde(default)]
    pub publisher_funded: bool,
    /// Whether the nodes serve HTTPS (fixed at creation; default plain HTTP).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
    /// The storage nodes, in genesis order.
    pub nodes: Vec<NodeKeys>,
}

pub(crate) fn key_from_hex(what: &str, text: &str) -> anyhow::Result<Ed25519PrivateKey> {
    let bytes: [u8; 32] = hex::decode(text.trim_start_matches("0x"))
        .with_context(|| format!("{what} is not hex"))?
        .try_into()
        .map_err(|_| anyhow::anyhow!("{what} must be 32 bytes"))?;
    Ok(Ed25519PrivateKey::new(bytes))
}

/// The Sui address of a hex Ed25519 private key.
pub fn sui_address(private_key_hex: &str) -> anyhow::Result<String> {
    Ok(key_from_hex("a private key", private_key_hex)?
        .public_key()
        .derive_address()
        .to_string())
}

impl NetworkFile {
    /// A new network: fresh keys and free ports.
    pub fn generate(
        stakes: &[u64],
        n_shards: u16,
        epoch_duration_ms: u64,
        registration_wait_ms: u64,
    ) -> anyhow::Result<Self> {
        let addresses = process::free_addresses(4 + stakes.len())?;
        let nodes = stakes
            .iter()
            .zip(&addresses[4..])
            .map(|(stake, listen)| {
                Ok(NodeKeys {
                    listen: *listen,
                    bls_seed: Some(hex::encode(process::random_bytes()?)),
                    sui_private_key: hex::encode(process::random_bytes()?),
                    stake: *stake,
                    node_id: None,
                    network_key: Some(NetworkKeyPair::generate()?.to_pem()),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            n_shards,
            epoch_duration_ms,
            registration_wait_ms,
            chain_listen: addresses[0],
            faucet_listen: addresses[1],
            publisher_listen: addresses[2],
            aggregator_listen: addresses[3],
            client_private_key: hex::encode(process::random_bytes()?),
            publisher_private_key: hex::encode(process::random_bytes()?),
            publisher_funded: false,
            tls: false,
            nodes,
        })
    }

    /// The network address node `node` has on chain: `https://127.0.0.1:PORT` in a TLS
    /// network, `127.0.0.1:PORT` (plain HTTP) otherwise.
    pub fn network_address(&self, node: &NodeKeys) -> String {
        if self.tls {
            format!("https://{}", node.listen)
        } else {
            node.listen.to_string()
        }
    }

    /// The base URL of node `node`'s REST API.
    pub fn node_url(&self, node: &NodeKeys) -> String {
        walrus_chain::client::committee::node_url(&self.network_address(node))
    }

    /// Checks the keys.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.nodes.is_empty() {
            bail!("the network has no nodes");
        }
        key_from_hex("client_private_key", &self.client_private_key)?;
        key_from_hex("publisher_private_key", &self.publisher_private_key)?;
        for (i, node) in self.nodes.iter().enumerate() {
            key_from_hex(
                &format!("nodes[{i}].sui_private_key"),
                &node.sui_private_key,
            )?;
            match (&node.bls_seed, &node.node_id) {
                (Some(seed), None) => {
                    let seed = hex::decode(seed)
                        .with_context(|| format!("nodes[{i}].bls_seed is not hex"))?;
                    if seed.len() != 32 {
                        bail!("nodes[{i}].bls_seed must be 32 bytes");
                    }
                }
                (None, Some(_)) => {}
                _ => bail!(
                    "nodes[{i}] needs a bls_seed (a genesis node) or a node_id (an added node)"
                ),
            }
            match &node.network_key {
                Some(pem) => {
                    NetworkKeyPair::from_pem(pem)
                        .with_context(|| format!("nodes[{i}].network_key"))?;
                }
                None if self.tls && !node.is_added() => {
                    bail!("nodes[{i}] has no network_key, which a TLS network needs")
                }
                None => {}
            }
        }
        if self.nodes.iter().all(NodeKeys::is_added) {
            bail!("the network has no genesis node");
        }
        Ok(())
    }

    /// The genesis file: the nodes with their stakes, their accounts and the client wallet
    /// funded (the publisher wallet is funded by the faucet after start).
    pub fn genesis(&self) -> anyhow::Result<GenesisFile> {
        let mut accounts = vec![AccountEntry {
            address: sui_address(&self.client_private_key)?,
            sui: CLIENT_SUI,
            wal: CLIENT_WAL,
        }];
        let mut nodes = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            // Added nodes registered themselves on the running chain.
            let Some(bls_seed) = &node.bls_seed else {
                continue;
            };
            let owner = sui_address(&node.sui_private_key)?;
            accounts.push(AccountEntry {
                address: owner.clone(),
                sui: NODE_SUI,
                wal: 0,
            });
            let network_public_key = node
                .network_key
                .as_deref()
                .map(|pem| {
                    NetworkKeyPair::from_pem(pem)
                        .map(|keys| hex::encode(keys.public().as_bytes()))
                        .with_context(|| format!("nodes[{i}].network_key"))
                })
                .transpose()?;
            nodes.push(NodeEntry {
                owner,
                name: Some(format!("node-{i}")),
                network_address: self.network_address(node),
                bls_seed: Some(bls_seed.clone()),
                bls_private_key: None,
                network_public_key,
                stake: node.stake,
                commission_rate: 0,
                storage_price: 100,
                write_price: 10,
                capacity: 1 << 40,
            });
        }
        Ok(GenesisFile {
            n_shards: self.n_shards,
            epoch_duration_ms: self.epoch_duration_ms,
            accounts,
            nodes,
            ..GenesisFile::default()
        })
    }
}

/// A storage node of [`LocalnetInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Position in the genesis file (the `I` of `walrus-localnet node ... I`).
    pub index: usize,
    /// Base URL of its REST API.
    pub url: String,
    /// Its node ID (staking pool), as its health reports it.
    pub node_id: String,
    /// The shards it held when the network started.
    pub shards: Vec<u16>,
    /// Its Sui address.
    pub sui_address: String,
    /// Its configuration file.
    pub config: PathBuf,
    /// Its log.
    pub log: PathBuf,
}

/// What `DIR/localnet.json` holds: where everything of a running network is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalnetInfo {
    /// The network directory.
    pub dir: PathBuf,
    /// The chain's gRPC URL.
    pub rpc_url: String,
    /// The faucet's URL (`POST /v1/gas`, `GET /health`).
    pub faucet_url: String,
    /// The chain ID.
    pub chain_id: String,
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
    /// Number of shards.
    pub n_shards: u16,
    /// Epoch duration (ms).
    pub epoch_duration_ms: u64,
    /// The storage nodes, in genesis order.
    pub nodes: Vec<NodeInfo>,
    /// The publisher's URL (none when started without services).
    pub publisher_url: Option<String>,
    /// The aggregator's URL (none when started without services).
    pub aggregator_url: Option<String>,
    /// The client configuration (`walrus --config ...`).
    pub client_config: PathBuf,
    /// The client wallet's address.
    pub client_address: String,
    /// The publisher's configuration.
    pub publisher_config: PathBuf,
    /// The publisher wallet's address.
    pub publisher_address: String,
}

impl LocalnetInfo {
    /// The `[chain]` section of the configuration files.
    pub fn chain_connection(&self) -> ChainConnection {
        ChainConnection {
            rpc_url: self.rpc_url.clone(),
            wal_package: self.wal_package.clone(),
            walrus_package: self.walrus_package.clone(),
            system_object: self.system_object.clone(),
            staking_object: self.staking_object.clone(),
            initial_shared_version: self.initial_shared_version,
        }
    }

    /// Reads `DIR/localnet.json`.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(INFO_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("invalid {}", path.display()))
    }

    /// Writes `DIR/localnet.json` (atomically).
    pub(crate) fn write(&self, dir: &Path) -> anyhow::Result<()> {
        write_atomic(&dir.join(INFO_FILE), &serde_json::to_string_pretty(self)?)
    }
}

/// Writes `contents` to `path` atomically (temporary file + rename).
pub(crate) fn write_atomic(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn chain_table(chain: &ChainConnection) -> anyhow::Result<toml::Table> {
    Ok(toml::Table::try_from(chain)?)
}

/// A client configuration file (the SDK's format: `wallet_private_key` + `[chain]`).
pub(crate) fn client_config_toml(
    private_key: &str,
    chain: &ChainConnection,
) -> anyhow::Result<String> {
    let mut table = toml::Table::new();
    table.insert("wallet_private_key".into(), private_key.into());
    table.insert("chain".into(), chain_table(chain)?.into());
    Ok(toml::to_string(&table)?)
}

/// The network directory of a created network: paths, and the operator commands on its nodes
/// through pid files (usable from another process than the supervisor).
#[derive(Debug, Clone)]
pub struct NetworkDir {
    dir: PathBuf,
    file: NetworkFile,
}

/// How long a graceful stop may take before SIGKILL.
pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(15);

impl NetworkDir {
    /// Opens the network of `dir` (it must hold `network.toml`).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(NETWORK_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (is {} a network directory? create one with `walrus-localnet start`)",
                path.display(),
                dir.display()
            )
        })?;
        let file: NetworkFile =
            toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
        file.validate()
            .with_context(|| format!("invalid {}", path.display()))?;
        Ok(Self {
            dir: absolute(dir)?,
            file,
        })
    }

    /// Reads `network.toml` again (nodes may have been added by another process).
    pub(crate) fn reload(&mut self) -> anyhow::Result<()> {
        *self = Self::open(&self.dir)?;
        Ok(())
    }

    /// Creates the directory's `network.toml` and `genesis.toml`.
    pub(crate) fn create(dir: &Path, file: NetworkFile) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let this = Self {
            dir: absolute(dir)?,
            file,
        };
        write_atomic(
            &this.dir.join(GENESIS_FILE),
            &this.file.genesis()?.to_toml()?,
        )?;
        this.save()?;
        Ok(this)
    }

    /// Rewrites `network.toml`.
    pub(crate) fn save(&self) -> anyhow::Result<()> {
        write_atomic(
            &self.dir.join(NETWORK_FILE),
            &toml::to_string(&self.file).context("network.toml")?,
        )
    }

    /// The directory (absolute).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The contents of `network.toml`.
    pub fn file(&self) -> &NetworkFile {
        &self.file
    }

    pub(crate) fn file_mut(&mut self) -> &mut NetworkFile {
        &mut self.file
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.file.nodes.len()
    }

    /// Checks a node index.
    pub fn check_index(&self, i: usize) -> anyhow::Result<()> {
        if i >= self.n_nodes() {
            bail!(
                "no node {i}: the network has nodes 0..={}",
                self.n_nodes() - 1
            );
        }
        Ok(())
    }

    /// `DIR/nodes/I`.
    pub fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.join("nodes").join(i.to_string())
    }
    /// `DIR/nodes/I/node.toml`.
    pub fn node_config(&self, i: usize) -> PathBuf {
        self.node_dir(i).join("node.toml")
    }
    /// `DIR/nodes/I/db`: the node's database.
    pub fn node_db(&self, i: usize) -> PathBuf {
        self.node_dir(i).join("db")
    }
    /// `DIR/nodes/I/faults.toml` (**test only**, [`FAULTS_FILE`]): if it exists when the node
    /// starts, the node runs as the byzantine test node.
    pub fn node_faults(&self, i: usize) -> PathBuf {
        self.node_dir(i).join(FAULTS_FILE)
    }
    /// `DIR/nodes/I/node.log`.
    pub fn node_log(&self, i: usize) -> PathBuf {
        self.node_dir(i).join("node.log")
    }
    /// `DIR/nodes/I/pid`.
    pub fn node_pid_file(&self, i: usize) -> PathBuf {
        self.node_dir(i).join("pid")
    }
    /// `DIR/chain`: the chain's data directory.
    pub fn chain_dir(&self) -> PathBuf {
        self.dir.join("chain")
    }
    /// `DIR/chain.log`.
    pub fn chain_log(&self) -> PathBuf {
        self.dir.join("chain.log")
    }
    /// `DIR/chain.pid`.
    pub fn chain_pid_file(&self) -> PathBuf {
        self.dir.join("chain.pid")
    }
    /// `DIR/NAME.log` of a service (`publisher`, `aggregator`).
    pub fn service_log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }
    /// `DIR/NAME.pid` of a service.
    pub fn service_pid_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pid"))
    }
    /// `DIR/supervisor.pid`: the pid of the `walrus-localnet start` process running the
    /// network (written by the CLI).
    pub fn supervisor_pid_file(&self) -> PathBuf {
        self.dir.join("supervisor.pid")
    }
    /// The pid of the `walrus-localnet start` process running the network, if any.
    pub fn supervisor_pid(&self) -> Option<u32> {
        process::live_pid(&self.supervisor_pid_file(), "walrus-localnet")
            .filter(|pid| *pid != std::process::id())
    }
    /// Records this process as the network's supervisor.
    pub fn write_supervisor_pid(&self) -> anyhow::Result<()> {
        process::write_pid(&self.supervisor_pid_file(), std::process::id())
    }
    /// SIGTERM to the supervisor, then waits up to `timeout` for its exit (it stops the
    /// network first). Returns false if there is no supervisor.
    pub async fn stop_supervisor(&self, timeout: Duration) -> anyhow::Result<bool> {
        let Some(pid) = self.supervisor_pid() else {
            return Ok(false);
        };
        process::send_signal(pid, "TERM")?;
        if !process::wait_exit(None, pid, timeout).await {
            bail!("the supervisor (pid {pid}) did not exit within {timeout:?}");
        }
        Ok(true)
    }
    /// `DIR/client.toml`.
    pub fn client_config(&self) -> PathBuf {
        self.dir.join(CLIENT_CONFIG)
    }
    /// `DIR/publisher.toml`.
    pub fn publisher_config(&self) -> PathBuf {
        self.dir.join(PUBLISHER_CONFIG)
    }
    /// `DIR/genesis.toml`.
    pub fn genesis_file(&self) -> PathBuf {
        self.dir.join(GENESIS_FILE)
    }
    fn stopped_marker(&self, i: usize) -> PathBuf {
        self.node_dir(i).join(STOPPED_MARKER)
    }

    /// Whether node `i` was stopped by an operator command (and not started since).
    pub fn stopped_by_operator(&self, i: usize) -> bool {
        self.stopped_marker(i).exists()
    }

    pub(crate) fn mark_stopped(&self, i: usize) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.node_dir(i))?;
        std::fs::write(self.stopped_marker(i), b"")
            .with_context(|| format!("cannot write {}", self.stopped_marker(i).display()))
    }

    /// The pid of node `i` if it runs (per its pid file).
    pub fn node_pid(&self, i: usize) -> Option<u32> {
        process::live_pid(
            &self.node_pid_file(i),
            &self.node_config(i).to_string_lossy(),
        )
    }

    /// The pid of the chain if it runs (per its pid file).
    pub fn chain_pid(&self) -> Option<u32> {
        process::live_pid(&self.chain_pid_file(), &self.chain_dir().to_string_lossy())
    }

    /// The pid of a service if it runs (per its pid file).
    pub fn service_pid(&self, name: &str) -> Option<u32> {
        process::live_pid(&self.service_pid_file(name), &format!("walrus-{name}"))
    }

    /// Writes node `i`'s configuration: a genesis node's from `network.toml`; an added node's
    /// own configuration (its keys) is kept, with the chain connection and the network's
    /// settings ([`NetworkDir::localnet_settings`]) brought up to date.
    pub(crate) fn write_node_config(
        &self,
        i: usize,
        chain: &ChainConnection,
    ) -> anyhow::Result<()> {
        let node = &self.file.nodes[i];
        let Some(bls_seed) = &node.bls_seed else {
            let path = self.node_config(i);
            let mut config = NodeConfig::load(&path)
                .with_context(|| format!("the configuration of added node {i}"))?;
            config.chain = chain.clone();
            self.localnet_settings(&mut config);
            return Ok(walrus_node::operator::write_config(&path, &config)?);
        };
        std::fs::create_dir_all(self.node_dir(i))
            .with_context(|| format!("cannot create {}", self.node_dir(i).display()))?;
        let storage_path = self.node_db(i);
        let storage_path = storage_path
            .to_str()
            .with_context(|| format!("{} is not UTF-8", storage_path.display()))?;
        let mut table = toml::Table::new();
        table.insert("storage_path".into(), storage_path.into());
        table.insert("listen".into(), node.listen.to_string().into());
        table.insert("bls_seed".into(), bls_seed.clone().into());
        table.insert(
            "sui_private_key".into(),
            node.sui_private_key.clone().into(),
        );
        if let Some(pem) = &node.network_key {
            let path = self.node_dir(i).join(NETWORK_KEY_FILE);
            walrus_node::operator::write_private(&path, pem)?;
            let path = path
                .to_str()
                .with_context(|| format!("{} is not UTF-8", path.display()))?;
            table.insert("network_key_pair".into(), path.into());
        }
        table.insert(
            "registration_wait_ms".into(),
            i64::try_from(self.file.registration_wait_ms)
                .unwrap_or(i64::MAX)
                .into(),
        );
        table.insert("chain".into(), chain_table(chain)?.into());
        let mut recovery = toml::Table::new();
        recovery.insert(
            "retry_delay_ms".into(),
            i64::try_from(RECOVERY_RETRY_DELAY_MS)
                .unwrap_or(i64::MAX)
                .into(),
        );
        table.insert("recovery".into(), recovery.into());
        let mut tls = toml::Table::new();
        tls.insert("disable_tls".into(), (!self.file.tls).into());
        table.insert("tls".into(), tls.into());
        write_atomic(&self.node_config(i), &toml::to_string(&table)?)
    }

    /// The settings every node of this network has (as the genesis nodes' configurations):
    /// the registration wait, a short recovery retry delay, TLS as the network has it.
    pub(crate) fn localnet_settings(&self, config: &mut NodeConfig) {
        config.registration_wait_ms = self.file.registration_wait_ms;
        config.recovery.retry_delay_ms = RECOVERY_RETRY_DELAY_MS;
        config.tls.disable_tls = !self.file.tls;
    }

    /// A client of node `i`'s REST API: pinned to the network key of its configuration if it
    /// serves HTTPS, plain HTTP otherwise (short timeouts, for health checks).
    pub fn node_client(&self, i: usize) -> anyhow::Result<NodeClient> {
        self.check_index(i)?;
        let config = NodeConfig::load(&self.node_config(i))
            .with_context(|| format!("the configuration of node {i}"))?;
        let scheme = if config.serves_tls() { "https" } else { "http" };
        let url = format!("{scheme}://{}", self.file.nodes[i].listen);
        let client = match config.network_keys()? {
            Some(keys) if config.serves_tls() => NodeClient::pinned(
                &url,
                keys.public(),
                Duration::from_secs(2),
                Duration::from_secs(10),
            )?,
            _ => NodeClient::with_http(&url, http_client())?,
        };
        Ok(client)
    }

    /// Node `i`'s network public key, if its configuration has a network key.
    pub fn node_network_key(&self, i: usize) -> anyhow::Result<Option<NetworkPublicKey>> {
        self.check_index(i)?;
        let config = NodeConfig::load(&self.node_config(i))
            .with_context(|| format!("the configuration of node {i}"))?;
        Ok(config.network_keys()?.map(|keys| *keys.public()))
    }

    /// Spawns node `i` (log appended, pid file rewritten, operator mark removed). Fails if it
    /// already runs. With a [`FAULTS_FILE`] in its directory (**test only**), the byzantine
    /// test node ([`BYZANTINE_NODE_BIN`]) runs instead of `walrus-node`.
    pub(crate) fn spawn_node(&self, i: usize, bin_dir: &Path) -> anyhow::Result<Child> {
        self.check_index(i)?;
        if let Some(pid) = self.node_pid(i) {
            bail!("node {i} already runs (pid {pid})");
        }
        if !self.node_config(i).is_file() {
            bail!(
                "{} does not exist: start the network first",
                self.node_config(i).display()
            );
        }
        let mut args = vec![arg("run"), arg("--config"), arg(self.node_config(i))];
        let faults = self.node_faults(i);
        let program = if faults.is_file() {
            tracing::warn!(
                node = i,
                "TEST ONLY: {} exists, starting the byzantine node",
                faults.display()
            );
            args.extend([arg("--faults"), arg(faults)]);
            bin_dir.join(BYZANTINE_NODE_BIN)
        } else {
            bin_dir.join("walrus-node")
        };
        let child =
            process::spawn_logged(&program, &args, &self.node_log(i), &self.node_pid_file(i))?;
        let _ = std::fs::remove_file(self.stopped_marker(i));
        Ok(child)
    }

    /// Waits until node `i` answers its health route (fails early if `child` exits).
    pub(crate) async fn wait_node_healthy(
        &self,
        i: usize,
        mut child: Option<&mut Child>,
        timeout: Duration,
    ) -> anyhow::Result<walrus_node_client::api::ServiceHealthInfo> {
        let url = self.file.node_url(&self.file.nodes[i]);
        let client = self
            .node_client(i)
            .with_context(|| format!("node {i} ({url})"))?;
        let deadline = Instant::now() + timeout;
        let log = self.node_log(i);
        loop {
            if let Some(child) = child.as_deref_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    bail!(
                        "node {i} exited with {status} while starting; see {}:\n{}",
                        log.display(),
                        process::tail(&log, 30)
                    );
                }
            }
            let last = match client.health().await {
                Ok(health) => return Ok(health),
                Err(error) => error.to_string(),
            };
            if Instant::now() >= deadline {
                bail!(
                    "node {i} did not become healthy within {timeout:?} ({last}); see {}:\n{}",
                    log.display(),
                    process::tail(&log, 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Operator `stop`: SIGTERM node `i` and wait for its exit (SIGKILL after a deadline).
    /// Returns false if it was not running.
    pub async fn stop_node(&self, i: usize) -> anyhow::Result<bool> {
        self.check_index(i)?;
        self.mark_stopped(i)?;
        let Some(pid) = self.node_pid(i) else {
            return Ok(false);
        };
        if !process::terminate(None, pid, STOP_TIMEOUT).await {
            tracing::warn!(node = i, "node ignored SIGTERM and was killed");
        }
        Ok(true)
    }

    /// Operator `kill`: SIGKILL node `i`. Returns false if it was not running.
    pub fn kill_node(&self, i: usize) -> anyhow::Result<bool> {
        self.check_index(i)?;
        self.mark_stopped(i)?;
        let Some(pid) = self.node_pid(i) else {
            return Ok(false);
        };
        process::kill_now(None, pid);
        Ok(true)
    }

    /// Operator `start`: spawns node `i` detached (it outlives this process) and waits until it
    /// is healthy.
    pub async fn start_node(
        &self,
        i: usize,
        bin_dir: &Path,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let mut child = self.spawn_node(i, bin_dir)?;
        self.wait_node_healthy(i, Some(&mut child), timeout).await?;
        // Dropping a `Child` neither kills nor waits: the node runs on.
        drop(child);
        Ok(())
    }

    /// Stops every process of the network through the pid files (services, nodes, then the
    /// chain; SIGKILL after 15 s each): for a network whose supervisor is gone. Returns what
    /// was stopped.
    pub async fn stop_all(&self) -> anyhow::Result<Vec<String>> {
        let mut stopped = Vec::new();
        let mut groups: Vec<Vec<(String, u32)>> = Vec::new();
        groups.push(
            ["publisher", "aggregator"]
                .into_iter()
                .filter_map(|name| self.service_pid(name).map(|pid| (name.to_owned(), pid)))
                .collect(),
        );
        groups.push(
            (0..self.n_nodes())
                .filter_map(|i| self.node_pid(i).map(|pid| (format!("node {i}"), pid)))
                .collect(),
        );
        groups.push(
            self.chain_pid()
                .map(|pid| ("chain".to_owned(), pid))
                .into_iter()
                .collect(),
        );
        for group in groups {
            for (_, pid) in &group {
                let _ = process::send_signal(*pid, "TERM");
            }
            let deadline = Instant::now() + STOP_TIMEOUT;
            for (name, pid) in group {
                let left = deadline.saturating_duration_since(Instant::now());
                if !process::wait_exit(None, pid, left).await {
                    tracing::warn!(process = %name, "ignored SIGTERM; sending SIGKILL");
                    process::kill_now(None, pid);
                }
                stopped.push(name);
            }
        }
        Ok(stopped)
    }

    /// Operator `wipe`: stops node `i` if it runs and deletes its database; the node stays
    /// stopped (`start` brings it back empty, and it recovers from its peers).
    pub async fn wipe_node(&self, i: usize) -> anyhow::Result<()> {
        self.stop_node(i).await?;
        remove_db(&self.node_db(i))
    }
}

pub(crate) fn remove_db(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("cannot delete {}", path.display())),
    }
}

/// An HTTP client for health checks and the faucet (plain HTTP, no proxy, short timeouts).
pub(crate) fn http_client() -> reqwest::Client {
    walrus_node_client::default_http_client(Duration::from_secs(2), Duration::from_secs(10))
}

fn absolute(dir: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(dir).with_context(|| format!("invalid directory {}", dir.display()))
}
