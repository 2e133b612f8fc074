//! The one harness of every test that starts processes: a network of real processes
//! ([`TestNetwork`], built on `walrus_localnet::network::Network`: the chain, storage nodes
//! and, optionally, the publisher and the aggregator), the `walrus` CLI run as a process
//! ([`Cli`]), a protocol-level client that registers, uploads, collects confirmations and
//! certifies by hand ([`ProtocolClient`], [`StuckUpload`]) and the network of the
//! storage-node tests ([`StorageCluster`]), deterministic test data and encodings
//! ([`test_data`], [`encode`], [`inconsistent_encoding`]), polling with deadlines ([`poll`],
//! [`within`]), which node holds which sliver pair ([`ShardMap`]), Prometheus metrics
//! ([`TestNetwork::node_metric`]) and byzantine nodes: the test-only
//! `walrus-byzantine-node` binary, which the localnet launcher starts for a node whose
//! directory holds a `faults.toml` ([`TestNetwork::set_faults`]).
//!
//! The binaries come from the cargo target directory next to the test executable
//! (`target/<profile>/`). `cargo test --workspace` builds them (every binary's package has
//! integration tests); to run only this crate's tests, build them first with
//! `cargo build --release --bins` (that includes `walrus-byzantine-node`).
//!
//! The tests of one binary run one at a time ([`run`]), each on its own network; every
//! process is killed when the [`TestNetwork`] is dropped, and on a failed test the tails of
//! all logs are printed.
//!
//! [`bench`]: what the benches share (numbers from the environment, their `main`).

pub mod bench;
mod cli;
mod data;
mod network;
mod protocol;

use std::{
    future::Future,
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::bail;

pub use cli::Cli;
pub use data::{encode, flip_byte, inconsistent_encoding, test_data, write_file};
pub use network::{ShardMap, TestNetwork};
pub use protocol::{ProtocolClient, StorageCluster, StuckUpload};
pub use walrus_byzantine_node::{
    Faults, MetadataFault, SliverFault, StatusFault, SymbolsFault, Timing,
};

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs one test: one at a time per test binary (each starts a whole network; CI machines
/// may have 2 CPUs), on a fresh multi-threaded runtime; prints how long it took (also when it
/// fails).
pub fn run<F: Future<Output = ()>>(test: impl FnOnce() -> F) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // libtest runs each test on a thread named after it.
    let _watch = Stopwatch::start(std::thread::current().name().unwrap_or("a test"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(test());
    runtime.shutdown_timeout(Duration::from_secs(2));
}

/// Polls `check` every 50 ms until it returns `Ok`; fails with the last `Err` after
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
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
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
struct Stopwatch {
    name: String,
    started: Instant,
}

impl Stopwatch {
    /// Starts timing the test `name`.
    fn start(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            started: Instant::now(),
        }
    }
}

impl Drop for Stopwatch {
    fn drop(&mut self) {
        println!("test {} took {:.1?}", self.name, self.started.elapsed());
    }
}
