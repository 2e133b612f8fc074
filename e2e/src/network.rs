//! [`TestNetwork`]: a network of real processes in a temporary directory, with what the tests
//! ask of it (node clients, metrics, statuses, byte-exact sliver checks, per-node
//! configuration, byzantine nodes), and [`ShardMap`]: which node holds which sliver pair.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use reqwest::{header::HeaderName, StatusCode};
use walrus_chain::{
    client::{committee::CommitteeView, WalrusClient},
    contract::staking::{Staking, EPOCH_CHANGE_DONE},
};
use walrus_core::{
    encoding::{EncodedBlob, Primary, Secondary},
    BlobId, ShardIndex, SliverPairIndex,
};
use walrus_localchain::launcher::ONE_COIN;
use walrus_localnet::network::{sui_address, Network, NetworkOptions, Process};
use walrus_node_client::{
    api::{BlobStatus, ErrorReason},
    NodeClient,
};
use walrus_sdk::{
    client::{NoProgress, SdkConfig, SdkError, StoreOptions, WalrusSdk},
    config::ClientConfig,
};

use crate::{
    inconsistent_encoding, poll, test_data, within, write_file, Cli, Faults, MetadataFault,
    SliverFault, SymbolsFault,
};

/// Lines of each log printed when a test fails.
const FAILURE_LOG_LINES: usize = 60;
/// What a node logs at the end of a graceful stop.
const NODE_STOPPED: &str = "node stopped";
/// What the supervisor writes to a log before each start of its process.
const PROCESS_STARTING: &str = "===== walrus-localnet: starting";

/// Which shards each node held when the network started, and so which node holds which
/// sliver pair of a blob (walrus-core's rotation of pairs onto shards by the blob ID).
#[derive(Debug, Clone)]
pub struct ShardMap {
    n_shards: u16,
    shards: Vec<Vec<ShardIndex>>,
}

impl ShardMap {
    /// The shards of each node of `network` in the committee `view` (none for a node that is
    /// not a member), nodes matched to members by URL.
    pub fn from_view(network: &Network, view: &CommitteeView) -> anyhow::Result<Self> {
        let shards = (0..network.n_nodes())
            .map(|i| {
                let url = network.node_url(i)?;
                Ok(view
                    .members
                    .iter()
                    .find(|member| member.url == url)
                    .map(|member| member.shards.clone())
                    .unwrap_or_default())
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            n_shards: view.n_shards,
            shards,
        })
    }

    /// The shards each node of `network` reported at start.
    pub fn of(network: &Network) -> anyhow::Result<Self> {
        let shards = (0..network.n_nodes())
            .map(|i| {
                let shards = network.node_shards(i)?;
                Ok(shards.iter().copied().map(ShardIndex).collect())
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            n_shards: network.info().n_shards,
            shards,
        })
    }

    /// The number of shards of the network.
    pub fn n_shards(&self) -> u16 {
        self.n_shards
    }

    /// The shards of node `i`.
    pub fn shards(&self, i: usize) -> &[ShardIndex] {
        &self.shards[i]
    }

    /// The number of shards the nodes `nodes` hold together.
    pub fn weight(&self, nodes: &[usize]) -> usize {
        nodes.iter().map(|&i| self.shards[i].len()).sum()
    }

    /// The sliver pairs of `blob_id` that node `i` holds (its shards, rotated by the blob ID).
    pub fn pairs_of(&self, i: usize, blob_id: &BlobId) -> Vec<SliverPairIndex> {
        self.shards[i]
            .iter()
            .map(|shard| shard.to_pair_index(self.n_shards, blob_id))
            .collect()
    }

    /// The node that holds sliver pair `pair` of `blob_id`.
    pub fn holder(&self, blob_id: &BlobId, pair: SliverPairIndex) -> usize {
        let shard = pair.to_shard_index(self.n_shards, blob_id);
        self.shards
            .iter()
            .position(|shards| shards.contains(&shard))
            .expect("every shard has a node")
    }
}

/// The sum of the samples of Prometheus `text` whose series name is `name` and whose labels
/// contain every one of `labels` (e.g. `status="2xx"`); 0 if there are none.
fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((series_name, rest)) => (series_name, rest),
                None => (series, ""),
            };
            (series_name == name && labels.iter().all(|label| series_labels.contains(label)))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// Merges `overrides` into `base`: tables key by key, any other value replaced.
fn merge_toml(base: &mut toml::Table, overrides: toml::Table) {
    for (key, value) in overrides {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(value)) => merge_toml(base, value),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// A network of real processes in a temporary directory, stopped (and its directory
/// removed) when dropped. On a failed test, the logs' tails are printed.
pub struct TestNetwork {
    /// The network.
    pub network: Network,
    /// The CLI, configured with the network's client wallet.
    pub cli: Cli,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    /// Which node holds which shards (from the nodes' health at start).
    pub shards: ShardMap,
    dir: tempfile::TempDir,
}

impl TestNetwork {
    /// Starts `nodes` nodes holding `shards` shards (equal stakes), with the publisher and
    /// aggregator.
    pub async fn start(nodes: usize, shards: u16) -> anyhow::Result<Self> {
        Self::start_with(nodes, shards, |_| {}).await
    }

    /// Like [`Self::start`], with the options adjusted by `adjust`.
    pub async fn start_with(
        nodes: usize,
        shards: u16,
        adjust: impl FnOnce(&mut NetworkOptions),
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("a temporary directory")?;
        let mut options = NetworkOptions::new(dir.path().join("net"), nodes, shards);
        options.registration_wait_ms = 2_000;
        adjust(&mut options);
        let network = Network::start(options).await?;
        let cli = Cli::new(network.client_config_path());
        let shards = ShardMap::of(&network)?;
        Ok(Self {
            network,
            cli,
            http: reqwest::Client::new(),
            shards,
            dir,
        })
    }

    /// The publisher's base URL.
    pub fn publisher(&self) -> String {
        self.network
            .info()
            .publisher_url
            .clone()
            .unwrap_or_default()
    }

    /// The aggregator's base URL.
    pub fn aggregator(&self) -> String {
        self.network
            .info()
            .aggregator_url
            .clone()
            .unwrap_or_default()
    }

    /// `PUT /v1/blobs?QUERY` to the publisher with `data`: the status and the JSON answer.
    pub async fn publish(&self, query: &str, data: Vec<u8>) -> (StatusCode, serde_json::Value) {
        let response = self
            .http
            .put(format!("{}/v1/blobs?{query}", self.publisher()))
            .body(data)
            .send()
            .await
            .expect("the publisher answers");
        let status = response.status();
        let body = response.json().await.expect("JSON");
        (status, body)
    }

    /// `GET PATH` (e.g. `/v1/blobs/ID`) from the aggregator, with `headers`.
    pub async fn aggregate(&self, path: &str, headers: &[(HeaderName, &str)]) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.aggregator()));
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        request.send().await.expect("the aggregator answers")
    }

    /// Asserts that `blob_id` reads as invalid everywhere, each read within `limit`: the
    /// aggregator answers 410 `BLOB_INVALID`, the CLI fails naming it invalid and `sdk`
    /// fails with [`SdkError::BlobInvalid`].
    pub async fn assert_reads_invalid(&self, sdk: &WalrusSdk, blob_id: &BlobId, limit: Duration) {
        let path = format!("/v1/blobs/{blob_id}");
        let response = within("an aggregator read", limit, self.aggregate(&path, &[])).await;
        assert_eq!(response.status(), StatusCode::GONE);
        let answer: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(answer["error"]["reason"], "BLOB_INVALID", "{answer}");
        let output = within(
            "a CLI read",
            limit,
            self.cli.run(&["read", &blob_id.to_string()]),
        )
        .await
        .expect("the CLI runs");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("invalid"), "{stderr}");
        let error = within("an SDK read", limit, sdk.read(blob_id, &NoProgress))
            .await
            .expect_err("an invalid blob");
        assert!(matches!(error, SdkError::BlobInvalid(_)), "{error}");
    }

    /// A chain client with the network's client wallet.
    pub fn chain_client(&self) -> anyhow::Result<WalrusClient> {
        let config = ClientConfig::load(Some(&self.network.client_config_path()))?;
        config.chain_client().map_err(anyhow::Error::msg)
    }

    /// A chain client signing with node `i`'s wallet (it owns the node's `StorageNodeCap`
    /// and its genesis stake).
    pub fn node_wallet(&self, i: usize) -> anyhow::Result<WalrusClient> {
        let config = walrus_node::NodeConfig::load(&self.network.dir().node_config(i))?;
        Ok(WalrusClient::new(
            &config.chain.rpc_url,
            config.sui_key()?,
            config.chain_config()?,
        )?)
    }

    /// The committee the chain has now.
    pub async fn committee(&self) -> anyhow::Result<CommitteeView> {
        Ok(self.chain_client()?.committee_view(None).await?)
    }

    /// Re-reads which node holds which shard from the chain's current committee (after an
    /// epoch change).
    pub async fn refresh_shards(&mut self) -> anyhow::Result<()> {
        let view = self.committee().await?;
        self.shards = ShardMap::from_view(&self.network, &view)?;
        Ok(())
    }

    /// Waits until the chain's `Staking` object satisfies `done`; returns it.
    pub async fn wait_staking(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Staking) -> bool,
    ) -> anyhow::Result<Staking> {
        let chain = self.chain_client()?;
        poll(what, timeout, || async {
            let staking = chain.staking().await.map_err(|e| e.to_string())?;
            if done(&staking) {
                Ok(staking)
            } else {
                Err(format!(
                    "epoch {} in state {}",
                    staking.epoch, staking.epoch_state
                ))
            }
        })
        .await
        .map_err(|error| anyhow::anyhow!("{error}\n{}", self.network.all_logs_tail(20)))
    }

    /// Waits until epoch `epoch` (or a later one) has begun and its epoch change is done.
    pub async fn wait_epoch_change_done(
        &self,
        epoch: u32,
        timeout: Duration,
    ) -> anyhow::Result<Staking> {
        self.wait_staking(
            &format!("the epoch change to epoch {epoch} to be done"),
            timeout,
            |staking| {
                staking.epoch > epoch
                    || (staking.epoch == epoch && staking.epoch_state == EPOCH_CHANGE_DONE)
            },
        )
        .await
    }

    /// An SDK client with a new wallet (key derived from `seed`) funded by the faucet with
    /// 10 000 SUI and 10 000 WAL: concurrent clients with their own wallets do not contend
    /// for gas coins.
    pub async fn funded_sdk(&self, seed: u64) -> anyhow::Result<WalrusSdk> {
        let key: String = test_data(32, seed)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let address = sui_address(&key)?;
        let body = serde_json::json!({
            "recipient": address,
            "sui": 10_000 * ONE_COIN,
            "wal": 10_000 * ONE_COIN,
        });
        let request = self
            .http
            .post(format!("{}/v1/gas", self.network.info().faucet_url))
            .json(&body)
            .send();
        let response = tokio::time::timeout(Duration::from_secs(60), request)
            .await
            .context("the faucet answers in time")??;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("the faucet refused: {status} {text}");
        }
        // The client configuration with this wallet.
        let template = std::fs::read_to_string(self.network.client_config_path())?;
        let config: String = template
            .lines()
            .map(|line| {
                if line.starts_with("wallet_private_key") {
                    format!("wallet_private_key = \"{key}\"\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        let path = write_file(
            &self.scratch(),
            &format!("client-{seed}.toml"),
            config.as_bytes(),
        )?;
        let chain = ClientConfig::load(Some(&path))?
            .chain_client()
            .map_err(anyhow::Error::msg)?;
        if chain.address().to_string() != address {
            bail!("the wallet's address is {}, not {address}", chain.address());
        }
        Ok(WalrusSdk::new(chain, SdkConfig::default()))
    }

    /// An in-process SDK client with the network's client wallet.
    pub fn sdk(&self) -> anyhow::Result<WalrusSdk> {
        Ok(WalrusSdk::new(self.chain_client()?, SdkConfig::default()))
    }

    /// A scratch directory for test files.
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// A REST client of node `i` (pinned to its network key if it serves HTTPS).
    pub fn node_client(&self, i: usize) -> NodeClient {
        let url = self.network.node_url(i).expect("a node index");
        if !url.starts_with("https://") {
            return NodeClient::new(url).expect("a node URL");
        }
        let key = self
            .network
            .dir()
            .node_network_key(i)
            .expect("node i's configuration")
            .expect("an HTTPS node has a network key");
        NodeClient::pinned(
            url,
            &key,
            walrus_node_client::client::DEFAULT_CONNECT_TIMEOUT,
            walrus_node_client::client::DEFAULT_REQUEST_TIMEOUT,
        )
        .expect("a node URL")
    }

    /// The address node `i` listens on.
    pub fn node_address(&self, i: usize) -> SocketAddr {
        self.network.dir().file().nodes[i].listen
    }

    /// The process ID of node `i` while it runs.
    pub fn node_pid(&self, i: usize) -> Option<u32> {
        self.network.dir().node_pid(i)
    }

    /// The last `lines` lines of node `i`'s log.
    pub fn node_log_tail(&self, i: usize, lines: usize) -> String {
        self.network.log_tail(Process::Node(i), lines)
    }

    /// Node `i`'s Prometheus metrics (`GET /metrics`).
    pub async fn node_metrics(&self, i: usize) -> anyhow::Result<String> {
        let url = format!("{}/metrics", self.network.node_url(i)?);
        let response = self.http.get(&url).send().await?.error_for_status()?;
        Ok(response.text().await?)
    }

    /// Node `i`'s metric `name`, summed over the series whose labels contain `labels`.
    pub async fn node_metric(&self, i: usize, name: &str, labels: &[&str]) -> anyhow::Result<f64> {
        Ok(metric_sum(&self.node_metrics(i).await?, name, labels))
    }

    /// Slivers the nodes buffered before they saw their blob's registration
    /// (`?pending=true`), summed over every node.
    pub async fn slivers_buffered(&self) -> f64 {
        let mut buffered = 0.0;
        for node in 0..self.network.n_nodes() {
            buffered += self
                .node_metric(node, "walrus_node_slivers_buffered_total", &[])
                .await
                .expect("the node's metrics");
        }
        buffered
    }

    /// Node `i`'s recoveries that ended with `result` (`ok`, `inconsistent`, ...).
    pub async fn node_recoveries(&self, i: usize, result: &str) -> f64 {
        let label = format!("result=\"{result}\"");
        self.node_metric(i, "walrus_node_recoveries_total", &[&label])
            .await
            .expect("the node's metrics")
    }

    /// A faulty writer's store: `data` encoded with a doctored primary sliver of pair 0
    /// ([`inconsistent_encoding`]) and stored (permanent, 2 epochs) with `sdk` while the
    /// holder of pair 0 is stopped. That node is the one that must find the inconsistency
    /// (by recovering the sliver from the honest secondary slivers); no single node may
    /// hold more than `f` shards, so that the others certify without it. Returns the blob ID
    /// and that node, still stopped.
    pub async fn store_inconsistent_blob(
        &mut self,
        sdk: &WalrusSdk,
        data: Vec<u8>,
    ) -> (BlobId, usize) {
        let pair = SliverPairIndex(0);
        let doctored = inconsistent_encoding(data, self.shards.n_shards(), pair);
        let blob_id = *doctored.metadata.blob_id();
        let skipped = self.shards.holder(&blob_id, pair);
        println!("doctored primary sliver 0 is held by node {skipped}");
        self.network.stop_node(skipped).await.expect("stopped");
        within(
            "the faulty writer's store",
            Duration::from_secs(60),
            sdk.store_encoded(doctored, StoreOptions::permanent(2), &NoProgress),
        )
        .await
        .expect("the nodes accept slivers that match the metadata");
        (blob_id, skipped)
    }

    /// SIGTERM node `i`, waits for its exit and checks that it stopped gracefully (its log
    /// ends its last run with `node stopped`).
    pub async fn stop_node(&mut self, i: usize) -> anyhow::Result<()> {
        self.network.stop_node(i).await?;
        let log = std::fs::read_to_string(self.network.dir().node_log(i)).unwrap_or_default();
        let last_run = log.rsplit(PROCESS_STARTING).next().unwrap_or_default();
        if !last_run.contains(NODE_STOPPED) {
            bail!(
                "node {i} did not stop gracefully:\n{}",
                self.node_log_tail(i, 40)
            );
        }
        Ok(())
    }

    /// Stops node `i` gracefully, merges `overrides` (TOML, e.g. a `[limits]` section) into
    /// its configuration file and starts it again.
    pub async fn reconfigure_node(&mut self, i: usize, overrides: &str) -> anyhow::Result<()> {
        self.stop_node(i).await?;
        let path = self.network.dir().node_config(i);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut config: toml::Table = toml::from_str(&text)?;
        merge_toml(&mut config, toml::from_str(overrides)?);
        std::fs::write(&path, toml::to_string(&config)?)
            .with_context(|| format!("writing {}", path.display()))?;
        self.network.start_node(i).await
    }

    /// Polls node `i`'s status of `blob_id` until `wanted` holds for it (deadline `timeout`).
    pub async fn wait_status(
        &self,
        i: usize,
        blob_id: &BlobId,
        timeout: Duration,
        wanted: impl Fn(&BlobStatus) -> bool,
    ) -> anyhow::Result<BlobStatus> {
        let client = self.node_client(i);
        poll(
            &format!("node {i}'s status of {blob_id}"),
            timeout,
            || async {
                match client.get_blob_status(blob_id).await {
                    Ok(status) if wanted(&status) => Ok(status),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await
    }

    /// Waits until node `i` reports `blob_id` as a certified permanent blob.
    pub async fn wait_certified(
        &self,
        i: usize,
        blob_id: &BlobId,
        timeout: Duration,
    ) -> BlobStatus {
        self.wait_status(i, blob_id, timeout, |status| {
            matches!(
                status,
                BlobStatus::Permanent {
                    is_certified: true,
                    ..
                }
            )
        })
        .await
        .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Waits until node `i` reports `blob_id` invalid, then checks that it serves no
    /// metadata of it (`BLOB_INVALID`).
    pub async fn wait_invalid(
        &self,
        i: usize,
        blob_id: &BlobId,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        self.wait_status(i, blob_id, timeout, |status| {
            matches!(status, BlobStatus::Invalid { .. })
        })
        .await?;
        match self.node_client(i).get_metadata(blob_id).await {
            Err(error) if error.reason() == Some(ErrorReason::BlobInvalid) => Ok(()),
            other => bail!("node {i} answers {other:?} for the metadata of invalid {blob_id}"),
        }
    }

    /// Checks that node `i` serves the metadata and every sliver of its shards for `encoded`,
    /// byte-exact; `Err` describes the first missing or different one.
    pub async fn check_node_slivers(&self, i: usize, encoded: &EncodedBlob) -> Result<(), String> {
        let client = self.node_client(i);
        let blob_id = *encoded.metadata.blob_id();
        for pair in self.shards.pairs_of(i, &blob_id) {
            let expected = &encoded.sliver_pairs[usize::from(pair.0)];
            match client.get_sliver::<Primary>(&blob_id, pair).await {
                Ok(sliver) if sliver == expected.primary => {}
                Ok(_) => return Err(format!("node {i}: primary sliver of pair {pair:?} differs")),
                Err(error) => return Err(format!("node {i}: primary of pair {pair:?}: {error}")),
            }
            match client.get_sliver::<Secondary>(&blob_id, pair).await {
                Ok(sliver) if sliver == expected.secondary => {}
                Ok(_) => {
                    return Err(format!(
                        "node {i}: secondary sliver of pair {pair:?} differs"
                    ))
                }
                Err(error) => return Err(format!("node {i}: secondary of pair {pair:?}: {error}")),
            }
        }
        match client.get_metadata(&blob_id).await {
            Ok(metadata) if metadata == encoded.metadata.clone().into_unverified() => Ok(()),
            Ok(_) => Err(format!("node {i}: metadata differ")),
            Err(error) => Err(format!("node {i}: metadata: {error}")),
        }
    }

    /// Waits until node `i` serves every sliver of its shards of every blob of `blobs`,
    /// byte-exact; the error names what was missing last and ends with the node's log.
    pub async fn wait_node_slivers(
        &self,
        i: usize,
        blobs: &[EncodedBlob],
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let outcome = poll(
            &format!("node {i} to hold all its slivers"),
            timeout,
            || async {
                for encoded in blobs {
                    self.check_node_slivers(i, encoded).await?;
                }
                Ok(())
            },
        )
        .await;
        outcome.map_err(|error| {
            anyhow::anyhow!("{error}\nlog of node {i}:\n{}", self.node_log_tail(i, 40))
        })
    }

    /// Restarts node `i` as a byzantine node that serves slivers with a flipped byte,
    /// metadata with a changed hash and, if `corrupt_recovery_symbols`, recovery symbols with
    /// flipped bytes (stored data stay honest).
    pub async fn make_byzantine(
        &mut self,
        i: usize,
        corrupt_recovery_symbols: bool,
    ) -> anyhow::Result<()> {
        let faults = Faults {
            metadata: Some(MetadataFault::Corrupt),
            slivers: Some(SliverFault::FlipByte),
            recovery_symbols: corrupt_recovery_symbols.then_some(SymbolsFault::FlipByte),
            ..Faults::default()
        };
        self.network.stop_node(i).await?;
        self.write_faults(i, &faults)?;
        self.network.start_node(i).await
    }

    /// Makes node `i` behave as `faults` says. A node already running as the byzantine node
    /// switches at once (it reads its faults file on every request); any other node is
    /// (re)started as the byzantine node. `Faults::default()` keeps the byzantine binary
    /// but lies no more; [`Self::make_honest`] brings back `walrus-node`.
    pub async fn set_faults(&mut self, i: usize, faults: &Faults) -> anyhow::Result<()> {
        let path = self.network.dir().node_faults(i);
        let byzantine_running = path.is_file() && self.network.node_is_running(i);
        if byzantine_running {
            return self.write_faults(i, faults);
        }
        self.network.stop_node(i).await?;
        self.write_faults(i, faults)?;
        self.network.start_node(i).await
    }

    /// Restarts node `i` as an honest `walrus-node` (its faults file removed).
    pub async fn make_honest(&mut self, i: usize) -> anyhow::Result<()> {
        self.network.stop_node(i).await?;
        let path = self.network.dir().node_faults(i);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("removing {}", path.display()))
            }
        }
        self.network.start_node(i).await
    }

    fn write_faults(&self, i: usize, faults: &Faults) -> anyhow::Result<()> {
        walrus_byzantine_node::write_faults(&self.network.dir().node_faults(i), faults)
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- logs ---\n{}",
                self.network.all_logs_tail(FAILURE_LOG_LINES)
            );
        }
    }
}
