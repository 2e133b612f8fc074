//! Helpers of the end-to-end tests: a network of real processes ([`TestNetwork`], built on
//! `walrus_localnet::network::Network`), the `walrus` CLI run as a process ([`Cli`]), plain
//! HTTP, deterministic test data and polling with deadlines.
//!
//! The binaries come from the cargo target directory next to the test executable
//! (`target/<profile>/`). `cargo test --workspace` builds them (every binary's package has
//! integration tests); to run only this crate's tests, build them first with
//! `cargo build --release --bins`.

use std::{
    future::Future,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use walrus_localnet::network::{default_bin_dir, Network, NetworkOptions};
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
