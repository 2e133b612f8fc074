//! Helpers of the end-to-end tests: a network of real processes ([`TestNetwork`], built on
//! `walrus_localnet::network::Network`), the `walrus` CLI run as a process ([`Cli`]), plain
//! HTTP, deterministic test data and polling with deadlines, and the pieces of the fault
//! tests: node clients and metrics, which node holds which sliver pair, byte-exact sliver
//! checks against a recomputed encoding, a faulty writer's [`inconsistent_encoding`] and
//! byzantine nodes: the test-only `walrus-byzantine-node` binary, which the localnet launcher
//! starts for a node whose directory holds a `faults.toml` ([`TestNetwork::set_faults`],
//! [`TestNetwork::make_byzantine`]).
//!
//! The binaries come from the cargo target directory next to the test executable
//! (`target/<profile>/`). `cargo test --workspace` builds them (every binary's package has
//! integration tests); to run only this crate's tests, build them first with
//! `cargo build --release --bins` (that includes `walrus-byzantine-node`).

use std::{
    future::Future,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
pub use walrus_byzantine_node::{
    Faults, MetadataFault, SliverFault, StatusFault, SymbolsFault, Timing,
};
use walrus_core::{
    encoding::{encode_blob, EncodedBlob, EncodingConfig, Primary, Secondary, SliverData},
    metadata::{BlobMetadata, BlobMetadataV1, BlobMetadataWithId},
    BlobId, ShardIndex, SliverPairIndex,
};
use walrus_localnet::network::{default_bin_dir, Network, NetworkOptions};
use walrus_node_client::NodeClient;
use walrus_sdk::{client::SdkConfig, client::WalrusSdk, config::ClientConfig};

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs one test: one at a time per test binary (each starts a whole network; CI machines
/// may have 2 CPUs), on a fresh multi-threaded runtime.
pub fn run<F: Future<Output = ()>>(test: impl FnOnce() -> F) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(test());
    runtime.shutdown_timeout(Duration::from_secs(2));
}

/// Deterministic pseudo-random bytes (xorshift).
pub fn test_data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let take = (len - data.len()).min(8);
        data.extend_from_slice(&state.to_le_bytes()[..take]);
    }
    data
}

/// Polls `check` every 100 ms until it returns `Ok`; fails with the last `Err` after
/// `timeout`.
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(last) if Instant::now() >= deadline => {
                bail!("timed out after {timeout:?} waiting for {what}; last state: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Runs `future`, failing with `what` if it takes longer than `limit` (no test hangs).
pub async fn within<T>(what: &str, limit: Duration, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// Prints how long a test took when dropped (also when the test fails).
#[derive(Debug)]
pub struct Stopwatch {
    name: &'static str,
    started: Instant,
}

impl Stopwatch {
    /// Starts timing the test `name`.
    pub fn start(name: &'static str) -> Self {
        Self {
            name,
            started: Instant::now(),
        }
    }
}

impl Drop for Stopwatch {
    fn drop(&mut self) {
        println!("test {} took {:.1?}", self.name, self.started.elapsed());
    }
}

/// Encodes `data` for `n_shards` shards, then flips a byte of source primary sliver 0 and
/// commits to the doctored sliver in the metadata: every sliver matches the metadata, but the
/// slivers are not one encoding (a faulty writer's blob; store it with
/// `WalrusSdk::store_encoded`). Only the holder of pair 0 can tell for certain: recovering
/// primary sliver 0 from the (honest) secondary slivers yields the undoctored sliver, which
/// does not match the metadata.
pub fn inconsistent_encoding(data: Vec<u8>, n_shards: u16) -> EncodedBlob {
    let config = EncodingConfig::new(n_shards).expect("a valid shard count");
    let mut encoded = encode_blob(&config, &data).expect("an encodable blob");
    let layout = *encoded.metadata.layout();
    let pair = &mut encoded.sliver_pairs[0];
    let mut bytes = pair.primary.symbols.data().to_vec();
    bytes[0] ^= 1;
    pair.primary = SliverData::from_data(
        bytes,
        pair.primary.symbols.symbol_size(),
        pair.primary.index,
    )
    .expect("whole symbols");
    let mut hashes = encoded.metadata.metadata().hashes().to_vec();
    hashes[0].primary_hash = pair.primary.root(&layout).expect("a root");
    let metadata = BlobMetadata::V1(BlobMetadataV1 {
        encoding_type: encoded.metadata.metadata().encoding_type(),
        unencoded_length: data.len() as u64,
        hashes,
    });
    encoded.metadata = BlobMetadataWithId {
        blob_id: metadata.compute_blob_id(),
        metadata,
    }
    .verify(&config)
    .expect("metadata that match the doctored slivers");
    encoded
}

/// The honest encoding of `data` for `n_shards` shards (what every node must hold).
pub fn encode(data: &[u8], n_shards: u16) -> EncodedBlob {
    let config = EncodingConfig::new(n_shards).expect("a valid shard count");
    encode_blob(&config, data).expect("an encodable blob")
}

/// The sum of the samples of Prometheus `text` whose series name is `name` and whose labels
/// contain every one of `labels` (e.g. `status="2xx"`); 0 if there are none.
pub fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
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

/// A network of real processes in a temporary directory, stopped (and its directory
/// removed) when dropped. On a failed test, the logs' tails are printed.
pub struct TestNetwork {
    /// The network.
    pub network: Network,
    /// The CLI, configured with the network's client wallet.
    pub cli: Cli,
    /// A plain HTTP client.
    pub http: reqwest::Client,
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
        Ok(Self {
            network,
            cli,
            http: reqwest::Client::new(),
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

    /// An in-process SDK client with the network's client wallet.
    pub fn sdk(&self) -> anyhow::Result<WalrusSdk> {
        let config = ClientConfig::load(Some(&self.network.client_config_path()))?;
        let chain = config.chain_client().map_err(anyhow::Error::msg)?;
        Ok(WalrusSdk::new(chain, SdkConfig::default()))
    }

    /// A scratch directory for test files.
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// A REST client of node `i`.
    pub fn node_client(&self, i: usize) -> NodeClient {
        let url = self.network.node_url(i).expect("a node index");
        NodeClient::new(url).expect("a node URL")
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

    /// The number of shards of the network.
    pub fn n_shards(&self) -> u16 {
        let shards: usize = (0..self.network.n_nodes())
            .map(|i| self.network.node_shards(i).map_or(0, <[u16]>::len))
            .sum();
        u16::try_from(shards).expect("at most u16::MAX shards")
    }

    /// The sliver pairs of `blob_id` that node `i` holds (its shards, rotated by the blob ID).
    pub fn pairs_of(&self, i: usize, blob_id: &BlobId) -> Vec<SliverPairIndex> {
        let n_shards = self.n_shards();
        self.network
            .node_shards(i)
            .expect("a node index")
            .iter()
            .map(|&shard| ShardIndex(shard).to_pair_index(n_shards, blob_id))
            .collect()
    }

    /// The node that holds sliver pair `pair` of `blob_id`.
    pub fn holder(&self, blob_id: &BlobId, pair: SliverPairIndex) -> usize {
        let shard = pair.to_shard_index(self.n_shards(), blob_id);
        (0..self.network.n_nodes())
            .find(|&i| {
                self.network
                    .node_shards(i)
                    .is_ok_and(|shards| shards.contains(&shard.0))
            })
            .expect("every shard has a node")
    }

    /// Checks that node `i` serves every sliver of its shards for `encoded`, byte-exact;
    /// `Err` describes the first missing or different one.
    pub async fn check_node_slivers(&self, i: usize, encoded: &EncodedBlob) -> Result<(), String> {
        let client = self.node_client(i);
        let blob_id = *encoded.metadata.blob_id();
        for pair in self.pairs_of(i, &blob_id) {
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
            eprintln!("--- logs ---\n{}", self.network.all_logs_tail(40));
        }
    }
}

/// The `walrus` CLI as a process.
#[derive(Debug, Clone)]
pub struct Cli {
    binary: PathBuf,
    config: PathBuf,
}

impl Cli {
    /// The CLI from the target directory, with the client configuration `config`.
    pub fn new(config: PathBuf) -> Self {
        Self {
            binary: default_bin_dir().join("walrus"),
            config,
        }
    }

    /// Runs `walrus --config CONFIG ARGS...`.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        if !self.binary.exists() {
            bail!(
                "{} not found: build it with `cargo build --release --bins`",
                self.binary.display()
            );
        }
        Command::new(&self.binary)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .with_context(|| format!("running walrus {args:?}"))
    }

    /// Runs the CLI, which must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self.run(args)?;
        if !output.status.success() {
            bail!(
                "walrus {args:?} failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs the CLI with `--json`, which must succeed; returns the parsed output.
    pub fn json(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let stdout = self.ok(&all)?;
        serde_json::from_str(&stdout).with_context(|| format!("walrus {args:?} printed {stdout}"))
    }
}

/// Writes `data` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
