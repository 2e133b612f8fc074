//! Adding a storage node to a running network the way an operator adds one to a real network
//! (`walrus-localnet node add`, [`super::Network::add_node`]): a node directory with fresh
//! keys and its `node.toml` (`walrus_node::operator::setup`), gas and WAL from the faucet,
//! registration as a candidate with the node's own wallet (`walrus_node::operator`), and
//! optionally stake from the network's client wallet. The node is recorded in `network.toml`
//! (so that the node commands and a resumed network know it); starting it is the caller's.
//! It joins the committee at the first committee selection after it has stake.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use walrus_chain::client::WalrusClient;
use walrus_core::ObjectId;
use walrus_localchain::launcher::ONE_COIN;
use walrus_node::{
    operator::{self, Operator, Registration, SetupOptions},
    NodeConfig,
};

use super::{
    layout::{
        self, http_client, key_from_hex, sui_address, LocalnetInfo, NetworkDir, NodeInfo, NodeKeys,
    },
    process,
};

/// WAL (FROST) the faucet gives an added node's wallet (for the operator's own stake).
const NODE_WAL: u64 = 100 * ONE_COIN;
/// How long faucet grants are retried while the faucet is rate limited, and how long the
/// node's gas may take to show.
const FUNDING_TIMEOUT: Duration = Duration::from_secs(30);
/// The lock file of an `add` in progress, in the network directory.
const ADD_LOCK: &str = "add-node.lock";

/// Asks the faucet at `faucet_url` for `sui` MIST and `wal` FROST for `recipient`; retries
/// while it answers 429 (as its `Retry-After` says), up to [`FUNDING_TIMEOUT`].
pub(crate) async fn faucet_grant(
    faucet_url: &str,
    recipient: &str,
    sui: u64,
    wal: u64,
) -> anyhow::Result<()> {
    let url = format!("{faucet_url}/v1/gas");
    let body = serde_json::json!({ "recipient": recipient, "sui": sui, "wal": wal });
    let http = http_client();
    let deadline = Instant::now() + FUNDING_TIMEOUT;
    loop {
        let response = http
            .post(&url)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
            .map_or(Duration::from_secs(1), |seconds| {
                Duration::from_secs(seconds.clamp(1, 10))
            });
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok(());
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS
            && Instant::now() + retry_after < deadline
        {
            tracing::info!(%recipient, ?retry_after, "the faucet is rate limited; waiting");
            tokio::time::sleep(retry_after).await;
            continue;
        }
        bail!("the faucet did not fund {recipient}: HTTP {status}: {text}");
    }
}

/// Holds [`ADD_LOCK`] while a node is being added (one `add` at a time per network).
struct AddLock(PathBuf);

impl AddLock {
    fn take(dir: &NetworkDir) -> anyhow::Result<Self> {
        let path = dir.path().join(ADD_LOCK);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => Ok(Self(path)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => bail!(
                "another node is being added to this network ({} exists; delete it if no \
                 `walrus-localnet node add` runs)",
                path.display()
            ),
            Err(error) => Err(error).with_context(|| format!("cannot create {}", path.display())),
        }
    }
}

impl Drop for AddLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A free address on 127.0.0.1 that no process of the network is configured with (stopped
/// nodes' ports are free but taken).
fn free_listen(dir: &NetworkDir) -> anyhow::Result<std::net::SocketAddr> {
    let file = dir.file();
    let mut taken = vec![
        file.chain_listen,
        file.faucet_listen,
        file.publisher_listen,
        file.aggregator_listen,
    ];
    taken.extend(file.nodes.iter().map(|node| node.listen));
    for _ in 0..20 {
        let address = process::free_addresses(1)?[0];
        if !taken.contains(&address) {
            return Ok(address);
        }
    }
    bail!("no free port on 127.0.0.1")
}

/// Waits until `operator`'s wallet can pay for gas (the faucet's coins are visible).
async fn wait_for_gas(operator: &Operator) -> anyhow::Result<()> {
    let needed = operator.client().config().gas_budget;
    let deadline = Instant::now() + FUNDING_TIMEOUT;
    loop {
        let balance = operator.sui_balance().await?;
        if balance >= needed {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "{} holds {balance} MIST after the faucet's grant, {needed} needed for gas",
                operator.address()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stakes `amount` FROST with `node_id` from the network's client wallet.
async fn stake_from_client(
    dir: &NetworkDir,
    info: &LocalnetInfo,
    node_id: ObjectId,
    amount: u64,
) -> anyhow::Result<()> {
    let chain = info.chain_connection();
    let client = WalrusClient::new(
        &chain.rpc_url,
        key_from_hex("client_private_key", &dir.file().client_private_key)?,
        chain.chain_config()?,
    )?;
    client
        .stake_with_pool(node_id, amount)
        .await
        .with_context(|| {
            format!("cannot stake {amount} FROST with {node_id} from the client wallet")
        })?;
    Ok(())
}

/// Adds node `dir.n_nodes()` to the running network described by `info`: keys and
/// configuration (a directory left by an `add` that failed before recording its node is
/// resumed with its keys), gas and WAL from the faucet, registration with the node's own
/// wallet (name `node-I`, its listen address as network address), the node recorded in
/// `network.toml`, then `stake` FROST (if any) from the client wallet. Does not start it.
pub(crate) async fn prepare_node(
    dir: &mut NetworkDir,
    info: &LocalnetInfo,
    stake: Option<u64>,
) -> anyhow::Result<NodeInfo> {
    if stake == Some(0) {
        bail!("the stake must be positive");
    }
    let _lock = AddLock::take(dir)?;
    let index = dir.n_nodes();
    let config_path = dir.node_config(index);
    let chain = info.chain_connection();
    let mut config = if config_path.is_file() {
        tracing::info!(node = index, "resuming an unfinished add with its keys");
        NodeConfig::load(&config_path)?
    } else {
        let mut options = SetupOptions::new(dir.node_dir(index), chain.clone(), None)?;
        options.listen = free_listen(dir)?;
        operator::setup(&options)?.config
    };
    config.chain = chain;
    dir.localnet_settings(&mut config);
    operator::write_config(&config_path, &config)?;

    let operator = Operator::load(&config_path)?;
    let address = operator.address().to_string();
    faucet_grant(&info.faucet_url, &address, layout::NODE_SUI, NODE_WAL).await?;
    wait_for_gas(&operator).await?;
    let mut registration = Registration::new(format!("node-{index}"));
    registration.network_address = Some(config.listen.to_string());
    // As the operator registers it: `https://` if the node serves TLS.
    let network_address = operator.announced_address(&config.listen.to_string())?;
    let outcome = operator.register(&registration).await?;
    let node_id = outcome.node_id();
    tracing::info!(node = index, %node_id, cap = %outcome.cap_id(), "registered");

    dir.file_mut().nodes.push(NodeKeys {
        listen: config.listen,
        bls_seed: None,
        sui_private_key: config.sui_private_key.clone(),
        stake: 0,
        node_id: Some(node_id.to_string()),
        network_key: None,
    });
    dir.save()?;
    if let Some(amount) = stake {
        stake_from_client(dir, info, node_id, amount).await?;
        dir.file_mut().nodes[index].stake = amount;
        dir.save()?;
    }
    Ok(NodeInfo {
        index,
        url: walrus_chain::client::committee::node_url(&network_address),
        node_id: node_id.to_string(),
        shards: Vec::new(),
        sui_address: sui_address(&config.sui_private_key)?,
        config: config_path,
        log: dir.node_log(index),
    })
}

impl NetworkDir {
    /// Operator `add` (from another shell than the supervisor's): adds a node to the running
    /// network ([`super::Network::add_node`] describes what that does), starts it detached and
    /// waits until it is healthy, and records it in `localnet.json`. The supervisor adopts it
    /// (it stops it with the network). `stake` is in FROST.
    pub async fn add_node(
        &mut self,
        bin_dir: &std::path::Path,
        stake: Option<u64>,
        timeout: Duration,
    ) -> anyhow::Result<NodeInfo> {
        if self.chain_pid().is_none() {
            bail!(
                "the network in {} is not running: start it first (`walrus-localnet start --dir {}`)",
                self.path().display(),
                self.path().display()
            );
        }
        self.reload()?;
        let mut info = LocalnetInfo::read(self.path())?;
        let node = prepare_node(self, &info, stake).await?;
        self.start_node(node.index, bin_dir, timeout).await?;
        info.nodes.retain(|known| known.index != node.index);
        info.nodes.push(node.clone());
        info.nodes.sort_by_key(|known| known.index);
        info.write(self.path())?;
        Ok(node)
    }
}
