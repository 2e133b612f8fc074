//! Publisher throughput with one wallet and with a pool of sub-wallets: blobs per second of
//! `BENCH_CLIENTS` concurrent HTTP clients, each `PUT`ting `BENCH_BLOBS_PER_CLIENT` blobs of
//! `BENCH_BLOB_KB` KB one after the other, to a `walrus-publisher` process with
//! `--n-clients 1` (the main wallet alone, one store at a time) and with
//! `--n-clients BENCH_POOL` sub-wallets, each on its own freshly funded main wallet, on one
//! local network of real processes (`BENCH_NODES` nodes, `BENCH_SHARDS` shards). Every blob
//! is distinct and deletable (no `alreadyCertified` shortcut); every answer must be 200.
//!
//! Run with `scripts/bench-publisher.sh` (it builds the binaries first). Environment:
//! `BENCH_CLIENTS` (8), `BENCH_BLOBS_PER_CLIENT` (10), `BENCH_BLOB_KB` (10), `BENCH_POOL` (8),
//! `BENCH_NODES` (4), `BENCH_SHARDS` (10).

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use walrus_e2e::{bench::bench_main, bench::env_number, test_data, TestNetwork};

/// A `walrus-publisher` process, killed on drop.
struct PublisherProcess {
    url: String,
    child: Child,
}

impl PublisherProcess {
    async fn start(net: &TestNetwork, config: &Path, n_clients: usize) -> Result<Self> {
        let address = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let binary = walrus_localnet::network::default_bin_dir().join("walrus-publisher");
        let log = std::fs::File::create(net.scratch().join(format!("publisher-{n_clients}.log")))?;
        let child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .arg("--listen")
            .arg(address.to_string())
            .args(["--n-clients", &n_clients.to_string()])
            .args(["--max-concurrent-uploads", "64", "--max-queued", "256"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting walrus-publisher")?;
        let process = Self {
            url: format!("http://{address}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = net.http.get(format!("{}/health", process.url)).send().await;
            if health.is_ok_and(|response| response.status().is_success()) {
                return Ok(process);
            }
            if Instant::now() >= deadline {
                bail!("the publisher did not start");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PublisherProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Blobs per second of `clients` clients each storing `per_client` blobs of `size` bytes
/// (data seeded from `seed`) through a publisher with `n_clients` wallets.
async fn measure(
    net: &TestNetwork,
    n_clients: usize,
    clients: u64,
    per_client: u64,
    size: usize,
    seed: u64,
) -> Result<f64> {
    // A fresh main wallet per run; the faucet writes its client configuration.
    net.funded_sdk(seed).await?;
    let config = net.scratch().join(format!("client-{seed}.toml"));
    let publisher = PublisherProcess::start(net, &config, n_clients).await?;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let (http, url) = (net.http.clone(), publisher.url.clone());
        tasks.spawn(async move {
            for i in 0..per_client {
                let data = test_data(size, (seed << 32) + client * per_client + i);
                let response = http
                    .put(format!("{url}/v1/blobs?epochs=1"))
                    .body(data)
                    .send()
                    .await?;
                let status = response.status();
                if !status.is_success() {
                    bail!("PUT answered {status}: {}", response.text().await?);
                }
            }
            Ok(())
        });
    }
    for result in tasks.join_all().await {
        result?;
    }
    let elapsed = start.elapsed();
    Ok((clients * per_client) as f64 / elapsed.as_secs_f64())
}

async fn bench() -> Result<()> {
    let clients: u64 = env_number("BENCH_CLIENTS", "8")?;
    let per_client: u64 = env_number("BENCH_BLOBS_PER_CLIENT", "10")?;
    let kb: usize = env_number("BENCH_BLOB_KB", "10")?;
    let pool: usize = env_number("BENCH_POOL", "8")?;
    let nodes: usize = env_number("BENCH_NODES", "4")?;
    let shards: u16 = env_number("BENCH_SHARDS", "10")?;

    let net = TestNetwork::start_with(nodes, shards, |options| options.services = false).await?;
    eprintln!("pool size 1 ...");
    let single = measure(&net, 1, clients, per_client, kb * 1000, 1).await?;
    eprintln!("pool size {pool} ...");
    let pooled = measure(&net, pool, clients, per_client, kb * 1000, 2).await?;
    println!(
        "\n{clients} concurrent clients x {per_client} PUTs of {kb} KB, {nodes} nodes, {shards} shards"
    );
    println!("| publisher wallets | blobs/s |");
    println!("|---|---|");
    println!("| 1 (main wallet alone) | {single:.2} |");
    println!("| {pool} sub-wallets | {pooled:.2} |");
    println!("pool {pool} / pool 1: {:.2}x", pooled / single);
    Ok(())
}

fn main() -> Result<()> {
    bench_main(bench)
}
