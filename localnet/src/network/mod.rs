//! A whole local Walrus network in one directory, as child processes: the chain
//! (`walrus-localnet chain`, with its faucet), `n` storage nodes (`walrus-node run`) and,
//! optionally, the publisher and the aggregator. Used by `walrus-localnet start` and by
//! integration tests ([`Network`]).
//!
//! The directory holds everything needed to resume: `network.toml` ([`NetworkFile`]: ports
//! and keys), `genesis.toml`, `chain/` (the chain's data), `nodes/I/` (`node.toml`, `db/`,
//! `node.log`, `pid`), `client.toml`, `publisher.toml`, the services' logs and pid files, and
//! `localnet.json` ([`LocalnetInfo`]) once everything is healthy. Starting again on the same
//! directory resumes the network with the same keys, ports and data.
//!
//! **Test only:** a node whose directory holds a `faults.toml` ([`FAULTS_FILE`]) is started as
//! the byzantine test node ([`BYZANTINE_NODE_BIN`], crate `walrus-byzantine-node`), which lies
//! in what it serves; the end-to-end tests write that file to play byzantine nodes.
//!
//! Nodes can be stopped, killed, started and wiped from another process through their pid
//! files ([`NetworkDir`]); the supervisor ([`Network::check_processes`]) logs exits without
//! restarting anything, and its shutdown also stops nodes started that way.
//!
//! Nodes can be added to the running network as an operator adds one to a real network
//! ([`Network::add_node`], [`NetworkDir::add_node`], `walrus-localnet node add`): own keys and
//! configuration (`walrus_node::operator::setup`), funds from the faucet, registration with
//! its own wallet, stake from the client wallet; they are recorded in `network.toml` (indices
//! after the genesis nodes) and resumed with the network.

mod add;
mod layout;
mod process;

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use walrus_chain::client::ChainConnection;
use walrus_localchain::launcher::ONE_COIN;

use layout::{client_config_toml, http_client, write_atomic, STOP_TIMEOUT};
pub use layout::{
    sui_address, LocalnetInfo, NetworkDir, NetworkFile, NodeInfo, NodeKeys, BYZANTINE_NODE_BIN,
    CLIENT_CONFIG, FAULTS_FILE, GENESIS_FILE, INFO_FILE, NETWORK_FILE, PUBLISHER_CONFIG,
};
use process::arg;

/// The stake of each node when [`NetworkOptions::stakes`] is `None` (FROST).
pub const DEFAULT_STAKE: u64 = 1_000 * ONE_COIN;

/// The directory of the running executable, or its parent if that is named `deps` (a cargo
/// test binary lives in `target/<profile>/deps`, the binaries in `target/<profile>`).
pub fn default_bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// How to start a network.
#[derive(Debug, Clone)]
pub struct NetworkOptions {
    /// The network directory (created if needed; an existing network in it is resumed, and
    /// then `nodes`, `shards`, `stakes`, `epoch_duration_ms` and `registration_wait_ms` are
    /// taken from its `network.toml`).
    pub dir: PathBuf,
    /// Number of storage nodes.
    pub nodes: usize,
    /// Number of shards.
    pub shards: u16,
    /// Stake of each node in FROST (1 WAL = 10^9 FROST), one per node; `None`: equal stakes
    /// ([`DEFAULT_STAKE`]).
    pub stakes: Option<Vec<u64>>,
    /// Epoch duration (ms).
    pub epoch_duration_ms: u64,
    /// Whether to start the publisher and the aggregator.
    pub services: bool,
    /// Where the binaries are (`walrus-localnet`, `walrus-node`, `walrus-publisher`,
    /// `walrus-aggregator`).
    pub bin_dir: PathBuf,
    /// How long a node waits for a blob's registration event before answering
    /// `NOT_REGISTERED` (ms).
    pub registration_wait_ms: u64,
    /// Deadline for each process to become healthy.
    pub startup_timeout: Duration,
    /// Whether the nodes serve HTTPS (a new network only; a resumed one keeps its setting):
    /// each node's certificate carries its network key, registered on chain with the network
    /// address `https://127.0.0.1:PORT`. Default: plain HTTP (`127.0.0.1:PORT`).
    pub tls: bool,
}

impl NetworkOptions {
    /// `nodes` nodes with equal stakes, `shards` shards, 10-minute epochs, with the publisher
    /// and aggregator, binaries from [`default_bin_dir`].
    pub fn new(dir: impl Into<PathBuf>, nodes: usize, shards: u16) -> Self {
        Self {
            dir: dir.into(),
            nodes,
            shards,
            stakes: None,
            epoch_duration_ms: 600_000,
            services: true,
            bin_dir: default_bin_dir(),
            registration_wait_ms: 10_000,
            startup_timeout: Duration::from_secs(60),
            tls: false,
        }
    }

    fn checked_stakes(&self) -> anyhow::Result<Vec<u64>> {
        if self.nodes == 0 {
            bail!("a network needs at least one node");
        }
        if self.shards == 0 || usize::from(self.shards) < self.nodes {
            bail!(
                "{} shards for {} nodes: every node needs at least one shard",
                self.shards,
                self.nodes
            );
        }
        if self.epoch_duration_ms == 0 {
            bail!("the epoch duration must be positive");
        }
        match &self.stakes {
            None => Ok(vec![DEFAULT_STAKE; self.nodes]),
            Some(stakes) if stakes.len() != self.nodes => {
                bail!("{} stakes given for {} nodes", stakes.len(), self.nodes)
            }
            Some(stakes) if stakes.contains(&0) => bail!("every stake must be positive"),
            Some(stakes) => Ok(stakes.clone()),
        }
    }
}

/// A process of the network (for [`Network::log_path`] and [`Network::log_tail`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// The chain (and its faucet).
    Chain,
    /// Storage node `i`.
    Node(usize),
    /// The publisher.
    Publisher,
    /// The aggregator.
    Aggregator,
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Process::Chain => write!(f, "chain"),
            Process::Node(i) => write!(f, "node {i}"),
            Process::Publisher => write!(f, "publisher"),
            Process::Aggregator => write!(f, "aggregator"),
        }
    }
}

const SERVICES: [(Process, &str); 2] = [
    (Process::Publisher, "publisher"),
    (Process::Aggregator, "aggregator"),
];

/// A running network. Dropping it kills every process (SIGKILL); [`Network::shutdown`] stops
/// them gracefully.
#[derive(Debug)]
pub struct Network {
    dir: NetworkDir,
    options: NetworkOptions,
    chain: Option<Child>,
    nodes: Vec<Option<Child>>,
    /// Whether each node ran at the last [`Network::check_processes`].
    node_running: Vec<bool>,
    services: Vec<(Process, Child)>,
    info: LocalnetInfo,
}

/// The faucet's `GET /health` fields the network needs.
struct ChainHealth {
    chain_id: String,
    connection: ChainConnection,
}

impl Network {
    /// Creates the network in `options.dir` (or resumes the one there), starts every process
    /// and waits until all are healthy; then writes `localnet.json`.
    pub async fn start(options: NetworkOptions) -> anyhow::Result<Network> {
        let bin = |name: &str| options.bin_dir.join(name);
        let mut binaries = vec![bin("walrus-localnet"), bin("walrus-node")];
        if options.services {
            binaries.extend([bin("walrus-publisher"), bin("walrus-aggregator")]);
        }
        for binary in &binaries {
            process::check_binary(binary)?;
        }
        let dir = if options.dir.join(NETWORK_FILE).exists() {
            let dir = NetworkDir::open(&options.dir)?;
            let file = dir.file();
            if file.nodes.len() != options.nodes || file.n_shards != options.shards {
                tracing::info!(
                    nodes = file.nodes.len(),
                    shards = file.n_shards,
                    "the network of {} keeps its own node and shard counts (the options apply \
                     to a new network only)",
                    options.dir.display()
                );
            }
            tracing::info!(dir = %dir.path().display(), "resuming the network");
            dir
        } else {
            let stakes = options.checked_stakes()?;
            let mut file = NetworkFile::generate(
                &stakes,
                options.shards,
                options.epoch_duration_ms,
                options.registration_wait_ms,
            )?;
            file.tls = options.tls;
            tracing::info!(dir = %options.dir.display(), "creating a new network");
            NetworkDir::create(&options.dir, file)?
        };
        if let Some(pid) = dir.chain_pid() {
            bail!(
                "a chain of this network already runs (pid {pid}); stop that network first \
                 (Ctrl-C in its terminal, or `walrus-localnet stop --dir {}`)",
                dir.path().display()
            );
        }
        for i in 0..dir.n_nodes() {
            if let Some(pid) = dir.node_pid(i) {
                bail!(
                    "node {i} of this network already runs (pid {pid}); stop it first \
                     (`walrus-localnet stop --dir {}`)",
                    dir.path().display()
                );
            }
        }
        for (_, name) in SERVICES {
            if let Some(pid) = dir.service_pid(name) {
                bail!(
                    "the {name} of this network already runs (pid {pid}); stop it first \
                     (`walrus-localnet stop --dir {}`)",
                    dir.path().display()
                );
            }
        }
        let n = dir.n_nodes();
        let file = dir.file().clone();
        let info = LocalnetInfo {
            dir: dir.path().to_path_buf(),
            rpc_url: format!("http://{}", file.chain_listen),
            faucet_url: format!("http://{}", file.faucet_listen),
            chain_id: String::new(),
            wal_package: String::new(),
            walrus_package: String::new(),
            system_object: String::new(),
            staking_object: String::new(),
            initial_shared_version: 0,
            n_shards: file.n_shards,
            epoch_duration_ms: file.epoch_duration_ms,
            nodes: (0..n)
                .map(|i| {
                    Ok(NodeInfo {
                        index: i,
                        url: file.node_url(&file.nodes[i]),
                        node_id: file.nodes[i].node_id.clone().unwrap_or_default(),
                        shards: Vec::new(),
                        sui_address: sui_address(&file.nodes[i].sui_private_key)?,
                        config: dir.node_config(i),
                        log: dir.node_log(i),
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            publisher_url: options
                .services
                .then(|| format!("http://{}", file.publisher_listen)),
            aggregator_url: options
                .services
                .then(|| format!("http://{}", file.aggregator_listen)),
            client_config: dir.client_config(),
            client_address: sui_address(&file.client_private_key)?,
            publisher_config: dir.publisher_config(),
            publisher_address: sui_address(&file.publisher_private_key)?,
        };
        // From here on, a failure drops `network`, which kills what was started.
        let mut network = Network {
            dir,
            options,
            chain: None,
            nodes: (0..n).map(|_| None).collect(),
            node_running: vec![false; n],
            services: Vec::new(),
            info,
        };
        network.launch().await?;
        Ok(network)
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let health = self.start_chain().await?;
        let chain = health.connection;
        self.info.chain_id = health.chain_id;
        self.info.wal_package = chain.wal_package.clone();
        self.info.walrus_package = chain.walrus_package.clone();
        self.info.system_object = chain.system_object.clone();
        self.info.staking_object = chain.staking_object.clone();
        self.info.initial_shared_version = chain.initial_shared_version;

        if !self.dir.file().publisher_funded {
            self.fund_publisher().await?;
            self.dir.file_mut().publisher_funded = true;
            self.dir.save()?;
        }
        let file = self.dir.file().clone();
        write_atomic(
            &self.dir.client_config(),
            &client_config_toml(&file.client_private_key, &chain)?,
        )?;
        write_atomic(
            &self.dir.publisher_config(),
            &client_config_toml(&file.publisher_private_key, &chain)?,
        )?;
        for i in 0..self.dir.n_nodes() {
            self.dir.write_node_config(i, &chain)?;
        }
        for i in 0..self.dir.n_nodes() {
            self.nodes[i] = Some(self.dir.spawn_node(i, &self.options.bin_dir)?);
            self.node_running[i] = true;
        }
        for i in 0..self.dir.n_nodes() {
            self.wait_node(i).await?;
        }
        if self.options.services {
            let file = self.dir.file().clone();
            for (process, name) in SERVICES {
                let (config, listen) = match process {
                    Process::Publisher => (self.dir.publisher_config(), file.publisher_listen),
                    _ => (self.dir.client_config(), file.aggregator_listen),
                };
                let child = process::spawn_logged(
                    &self.options.bin_dir.join(format!("walrus-{name}")),
                    &[
                        arg("--config"),
                        arg(config),
                        arg("--listen"),
                        OsString::from(listen.to_string()),
                    ],
                    &self.dir.service_log(name),
                    &self.dir.service_pid_file(name),
                )?;
                self.services.push((process, child));
            }
            for index in 0..self.services.len() {
                self.wait_service(index).await?;
            }
        }
        self.write_info()?;
        Ok(())
    }

    fn write_info(&self) -> anyhow::Result<()> {
        self.info.write(self.dir.path())
    }

    /// Spawns the chain and waits for its faucet's health.
    async fn start_chain(&mut self) -> anyhow::Result<ChainHealth> {
        let file = self.dir.file().clone();
        let child = process::spawn_logged(
            &self.options.bin_dir.join("walrus-localnet"),
            &[
                arg("chain"),
                arg("--dir"),
                arg(self.dir.chain_dir()),
                arg("--listen"),
                OsString::from(file.chain_listen.to_string()),
                arg("--faucet-listen"),
                OsString::from(file.faucet_listen.to_string()),
                arg("--genesis"),
                arg(self.dir.genesis_file()),
                arg("--epoch-duration-ms"),
                OsString::from(file.epoch_duration_ms.to_string()),
            ],
            &self.dir.chain_log(),
            &self.dir.chain_pid_file(),
        )?;
        self.chain = Some(child);
        self.wait_chain().await
    }

    async fn wait_chain(&mut self) -> anyhow::Result<ChainHealth> {
        let url = format!("http://{}/health", self.dir.file().faucet_listen);
        let http = http_client();
        let timeout = self.options.startup_timeout;
        let deadline = Instant::now() + timeout;
        let log = self.dir.chain_log();
        loop {
            if let Some(child) = self.chain.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.chain = None;
                    bail!(
                        "the chain exited with {status} while starting; see {}:\n{}",
                        log.display(),
                        process::tail(&log, 30)
                    );
                }
            }
            let last = match faucet_health(&http, &url).await {
                Ok(health) => {
                    let field = |name: &str| {
                        health[name]
                            .as_str()
                            .map(str::to_owned)
                            .with_context(|| format!("no {name} in the faucet's health: {health}"))
                    };
                    return Ok(ChainHealth {
                        chain_id: field("chain_id").unwrap_or_default(),
                        connection: ChainConnection {
                            rpc_url: self.info.rpc_url.clone(),
                            wal_package: field("wal_package")?,
                            walrus_package: field("walrus_package")?,
                            system_object: field("system_object")?,
                            staking_object: field("staking_object")?,
                            initial_shared_version: health["initial_shared_version"]
                                .as_u64()
                                .context("no initial_shared_version in the faucet's health")?,
                        },
                    });
                }
                Err(error) => format!("{error:#}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "the chain did not become healthy within {timeout:?} ({last}); see {}:\n{}",
                    log.display(),
                    process::tail(&log, 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fund_publisher(&self) -> anyhow::Result<()> {
        let address = &self.info.publisher_address;
        add::faucet_grant(
            &self.info.faucet_url,
            address,
            layout::PUBLISHER_SUI,
            layout::PUBLISHER_WAL,
        )
        .await
        .context("the publisher wallet")?;
        tracing::info!(%address, "the faucet funded the publisher wallet");
        Ok(())
    }

    async fn wait_node(&mut self, i: usize) -> anyhow::Result<()> {
        let health = self
            .dir
            .wait_node_healthy(i, self.nodes[i].as_mut(), self.options.startup_timeout)
            .await?;
        let node = &mut self.info.nodes[i];
        // A node outside the committee reports no node ID: keep its registration's.
        if !health.node_id.is_empty() {
            node.node_id = health.node_id;
        }
        node.shards = health.shards;
        node.shards.sort_unstable();
        Ok(())
    }

    async fn wait_service(&mut self, index: usize) -> anyhow::Result<()> {
        let (process, _) = &self.services[index];
        let process = *process;
        let url = match process {
            Process::Publisher => self.info.publisher_url.clone(),
            _ => self.info.aggregator_url.clone(),
        }
        .map(|base| format!("{base}/health"))
        .unwrap_or_default();
        let log = self.log_path(process);
        let http = http_client();
        let timeout = self.options.startup_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.services[index].1.try_wait() {
                bail!(
                    "the {process} exited with {status} while starting; see {}:\n{}",
                    log.display(),
                    process::tail(&log, 30)
                );
            }
            let last = match http.get(&url).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => format!("HTTP {}", response.status()),
                Err(error) => error.to_string(),
            };
            if Instant::now() >= deadline {
                bail!(
                    "the {process} did not become healthy within {timeout:?} ({last}); see {}:\n{}",
                    log.display(),
                    process::tail(&log, 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What `localnet.json` holds.
    pub fn info(&self) -> &LocalnetInfo {
        &self.info
    }

    /// The network directory (paths, and the operator commands by pid file).
    pub fn dir(&self) -> &NetworkDir {
        &self.dir
    }

    /// The client configuration (`walrus --config PATH`; a wallet funded at genesis).
    pub fn client_config_path(&self) -> PathBuf {
        self.dir.client_config()
    }

    /// The publisher's configuration (its own wallet, funded by the faucet).
    pub fn publisher_config_path(&self) -> PathBuf {
        self.dir.publisher_config()
    }

    /// The `[chain]` section of the configuration files.
    pub fn chain_connection(&self) -> ChainConnection {
        self.info.chain_connection()
    }

    /// Number of storage nodes.
    pub fn n_nodes(&self) -> usize {
        self.dir.n_nodes()
    }

    /// The shards of node `i` when the network started (from the node's health).
    pub fn node_shards(&self, i: usize) -> anyhow::Result<&[u16]> {
        self.dir.check_index(i)?;
        Ok(&self.info.nodes[i].shards)
    }

    /// The base URL of node `i`'s REST API.
    pub fn node_url(&self, i: usize) -> anyhow::Result<&str> {
        self.dir.check_index(i)?;
        Ok(&self.info.nodes[i].url)
    }

    /// Node `i`'s health (`GET /v1/health`), now.
    pub async fn node_health(
        &self,
        i: usize,
    ) -> anyhow::Result<walrus_node_client::api::ServiceHealthInfo> {
        let url = self.node_url(i)?;
        let client = self.dir.node_client(i)?;
        client
            .health()
            .await
            .with_context(|| format!("node {i} ({url}) is not healthy"))
    }

    /// Whether node `i` runs (started by this network or by an operator command).
    pub fn node_is_running(&mut self, i: usize) -> bool {
        if let Some(child) = self.nodes.get_mut(i).and_then(Option::as_mut) {
            if matches!(child.try_wait(), Ok(None)) {
                return true;
            }
            self.nodes[i] = None;
        }
        i < self.dir.n_nodes() && self.dir.node_pid(i).is_some()
    }

    /// The pid of node `i` if it runs, and its `Child` if this network started it.
    fn node_process(&mut self, i: usize) -> (Option<u32>, Option<&mut Child>) {
        if let Some(child) = self.nodes[i].as_mut() {
            if matches!(child.try_wait(), Ok(None)) {
                let pid = child.id();
                return (Some(pid), self.nodes[i].as_mut());
            }
            self.nodes[i] = None;
        }
        (self.dir.node_pid(i), None)
    }

    /// SIGTERM node `i` and waits for its exit (SIGKILL after 15 s). Not running: nothing.
    pub async fn stop_node(&mut self, i: usize) -> anyhow::Result<()> {
        self.dir.check_index(i)?;
        self.dir.mark_stopped(i)?;
        if let (Some(pid), child) = self.node_process(i) {
            if !process::terminate(child, pid, STOP_TIMEOUT).await {
                tracing::warn!(node = i, "node ignored SIGTERM and was killed");
            }
        }
        self.nodes[i] = None;
        self.node_running[i] = false;
        Ok(())
    }

    /// SIGKILL node `i`. Not running: nothing.
    pub fn kill_node(&mut self, i: usize) -> anyhow::Result<()> {
        self.dir.check_index(i)?;
        self.dir.mark_stopped(i)?;
        if let (Some(pid), child) = self.node_process(i) {
            process::kill_now(child, pid);
        }
        self.nodes[i] = None;
        self.node_running[i] = false;
        Ok(())
    }

    /// Adds a storage node to the running network as an operator would: a node directory
    /// `nodes/I` with fresh keys and `node.toml` (`walrus_node::operator::setup`, a free
    /// port), gas and WAL from the faucet, registration as a candidate with the node's own
    /// wallet (name `node-I`), recorded in `network.toml`; with `stake` (FROST), that much
    /// staked with it from the client wallet. Starts the node and waits until it is healthy
    /// (outside the committee it follows the chain and holds no shards; it joins at the first
    /// committee selection after it has stake). Returns its index, for the node operations;
    /// a resumed network starts it with the others.
    pub async fn add_node(&mut self, stake: Option<u64>) -> anyhow::Result<usize> {
        self.adopt_added_nodes()?;
        let node = add::prepare_node(&mut self.dir, &self.info, stake).await?;
        let i = node.index;
        self.nodes.push(None);
        self.node_running.push(false);
        self.info.nodes.push(node);
        self.nodes[i] = Some(self.dir.spawn_node(i, &self.options.bin_dir)?);
        self.node_running[i] = true;
        self.wait_node(i).await?;
        self.write_info()?;
        Ok(i)
    }

    /// Takes in the nodes another process added (`walrus-localnet node add`) since the
    /// network started or last looked; returns their indices.
    fn adopt_added_nodes(&mut self) -> anyhow::Result<Vec<usize>> {
        self.dir.reload()?;
        let known = self.nodes.len();
        let file = self.dir.file().clone();
        for i in known..self.dir.n_nodes() {
            let keys = &file.nodes[i];
            self.info.nodes.push(NodeInfo {
                index: i,
                url: file.node_url(keys),
                node_id: keys.node_id.clone().unwrap_or_default(),
                shards: Vec::new(),
                sui_address: sui_address(&keys.sui_private_key)?,
                config: self.dir.node_config(i),
                log: self.dir.node_log(i),
            });
            self.nodes.push(None);
            self.node_running.push(self.dir.node_pid(i).is_some());
        }
        Ok((known..self.dir.n_nodes()).collect())
    }

    /// Starts node `i` again (log appended) and waits until it is healthy.
    pub async fn start_node(&mut self, i: usize) -> anyhow::Result<()> {
        self.dir.check_index(i)?;
        let _ = self.node_process(i);
        self.nodes[i] = Some(self.dir.spawn_node(i, &self.options.bin_dir)?);
        self.node_running[i] = true;
        self.wait_node(i).await
    }

    /// Stops node `i` (if it runs) and deletes its database; it stays stopped
    /// ([`Network::start_node`] brings it back empty, and it recovers from its peers).
    pub async fn wipe_node(&mut self, i: usize) -> anyhow::Result<()> {
        self.stop_node(i).await?;
        layout::remove_db(&self.dir.node_db(i))
    }

    /// Kills the chain (SIGKILL) and starts it again on the same data directory; waits for
    /// its faucet.
    pub async fn restart_chain(&mut self) -> anyhow::Result<()> {
        match self.chain.as_mut() {
            Some(child) => {
                let pid = child.id();
                process::kill_now(Some(child), pid);
            }
            None => {
                if let Some(pid) = self.dir.chain_pid() {
                    process::kill_now(None, pid);
                }
            }
        }
        self.chain = None;
        let health = self.start_chain().await?;
        if health.connection.system_object != self.info.system_object {
            bail!("the restarted chain has another System object");
        }
        Ok(())
    }

    /// The log file of `process`.
    pub fn log_path(&self, process: Process) -> PathBuf {
        log_path(&self.dir, process)
    }

    /// The last `lines` lines of `process`'s log.
    pub fn log_tail(&self, process: Process, lines: usize) -> String {
        process::tail(&self.log_path(process), lines)
    }

    /// The last `lines` lines of every log, with headers (for test failure output).
    pub fn all_logs_tail(&self, lines: usize) -> String {
        let mut processes = vec![Process::Chain];
        processes.extend((0..self.dir.n_nodes()).map(Process::Node));
        processes.extend(self.services.iter().map(|(process, _)| *process));
        processes
            .into_iter()
            .map(|process| {
                format!(
                    "===== {process} ({}) =====\n{}\n",
                    self.log_path(process).display(),
                    self.log_tail(process, lines)
                )
            })
            .collect()
    }

    /// Notes processes that exited (or, for nodes, came back) since the last call, logs each
    /// (warning for an unexpected exit) and returns the messages. Nothing is restarted.
    pub fn check_processes(&mut self) -> Vec<String> {
        let mut messages = Vec::new();
        match self.adopt_added_nodes() {
            Ok(added) => {
                for i in added {
                    let message = format!(
                        "node {i} was added (node ID {})",
                        self.info.nodes[i].node_id
                    );
                    tracing::info!("{message}");
                    messages.push(message);
                }
            }
            Err(error) => {
                let message = format!("cannot read the network file: {error:#}");
                tracing::warn!("{message}");
                messages.push(message);
            }
        }
        if let Some(child) = self.chain.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                let message = format!(
                    "the chain exited unexpectedly ({status}); see {}",
                    self.dir.chain_log().display()
                );
                tracing::warn!("{message}");
                messages.push(message);
                self.chain = None;
            }
        }
        let mut exited = Vec::new();
        let dir = &self.dir;
        for (index, (process, child)) in self.services.iter_mut().enumerate() {
            if let Ok(Some(status)) = child.try_wait() {
                let message = format!(
                    "the {process} exited unexpectedly ({status}); see {}",
                    log_path(dir, *process).display()
                );
                tracing::warn!("{message}");
                messages.push(message);
                exited.push(index);
            }
        }
        for index in exited.into_iter().rev() {
            self.services.remove(index);
        }
        for i in 0..self.dir.n_nodes() {
            let mut status = None;
            if let Some(child) = self.nodes[i].as_mut() {
                if let Ok(Some(exit)) = child.try_wait() {
                    status = Some(exit.to_string());
                    self.nodes[i] = None;
                }
            }
            let running = self.node_is_running(i);
            if running == self.node_running[i] {
                continue;
            }
            self.node_running[i] = running;
            let message = if running {
                let message = format!("node {i} runs again");
                tracing::info!("{message}");
                message
            } else if self.dir.stopped_by_operator(i) {
                let message = format!("node {i} was stopped by an operator command");
                tracing::info!("{message}");
                message
            } else {
                let message = format!(
                    "node {i} exited unexpectedly ({}); see {}",
                    status
                        .as_deref()
                        .unwrap_or("not a child of this supervisor"),
                    self.dir.node_log(i).display()
                );
                tracing::warn!("{message}");
                message
            };
            messages.push(message);
        }
        messages
    }

    /// Stops everything gracefully: SIGTERM to the services, then the nodes (also those
    /// started by operator commands), then the chain; SIGKILL to whatever is left after 15 s.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let mut failures = Vec::new();
        let services = std::mem::take(&mut self.services);
        let mut group: Vec<(String, u32, Option<Child>)> = services
            .into_iter()
            .map(|(process, child)| (process.to_string(), child.id(), Some(child)))
            .collect();
        for (process, name) in SERVICES {
            if let Some(pid) = self.dir.service_pid(name) {
                if !group.iter().any(|(_, known, _)| *known == pid) {
                    group.push((process.to_string(), pid, None));
                }
            }
        }
        failures.extend(stop_group(group).await);
        let mut group = Vec::new();
        for i in 0..self.dir.n_nodes() {
            let (pid, _) = self.node_process(i);
            if let Some(pid) = pid {
                group.push((format!("node {i}"), pid, self.nodes[i].take()));
            }
            self.node_running[i] = false;
        }
        failures.extend(stop_group(group).await);
        let mut group = Vec::new();
        if let Some(child) = self.chain.take() {
            group.push(("chain".to_owned(), child.id(), Some(child)));
        } else if let Some(pid) = self.dir.chain_pid() {
            group.push(("chain".to_owned(), pid, None));
        }
        failures.extend(stop_group(group).await);
        self.remove_pid_files();
        if !failures.is_empty() {
            bail!("{} ignored SIGTERM and were killed", failures.join(", "));
        }
        Ok(())
    }

    fn remove_pid_files(&self) {
        let mut files = vec![self.dir.chain_pid_file()];
        files.extend((0..self.dir.n_nodes()).map(|i| self.dir.node_pid_file(i)));
        files.extend(
            SERVICES
                .iter()
                .map(|(_, name)| self.dir.service_pid_file(name)),
        );
        for file in files {
            let _ = std::fs::remove_file(file);
        }
    }
}

fn log_path(dir: &NetworkDir, process: Process) -> PathBuf {
    match process {
        Process::Chain => dir.chain_log(),
        Process::Node(i) => dir.node_log(i),
        Process::Publisher => dir.service_log("publisher"),
        Process::Aggregator => dir.service_log("aggregator"),
    }
}

/// SIGTERM to every process of the group, then waits for all of them; returns the names of
/// those that had to be killed.
async fn stop_group(mut group: Vec<(String, u32, Option<Child>)>) -> Vec<String> {
    for (_, pid, _) in &group {
        let _ = process::send_signal(*pid, "TERM");
    }
    let mut killed = Vec::new();
    let deadline = Instant::now() + STOP_TIMEOUT;
    for (name, pid, child) in &mut group {
        let left = deadline.saturating_duration_since(Instant::now());
        if !process::wait_exit(child.as_mut(), *pid, left).await {
            tracing::warn!(process = %name, "ignored SIGTERM; sending SIGKILL");
            process::kill_now(child.as_mut(), *pid);
            killed.push(name.clone());
        }
    }
    killed
}

async fn faucet_health(http: &reqwest::Client, url: &str) -> anyhow::Result<serde_json::Value> {
    let response = http.get(url).send().await?;
    if !response.status().is_success() {
        bail!("HTTP {}", response.status());
    }
    Ok(response.json().await?)
}

impl Drop for Network {
    fn drop(&mut self) {
        for (_, child) in &mut self.services {
            let pid = child.id();
            process::kill_now(Some(child), pid);
        }
        self.services.clear();
        for i in 0..self.nodes.len() {
            let (pid, child) = self.node_process(i);
            if let Some(pid) = pid {
                process::kill_now(child, pid);
            }
            self.nodes[i] = None;
        }
        if let Some(child) = self.chain.as_mut() {
            let pid = child.id();
            process::kill_now(Some(child), pid);
        }
        self.chain = None;
        self.remove_pid_files();
    }
}
