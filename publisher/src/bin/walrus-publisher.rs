//! `walrus-publisher`: the Walrus publisher HTTP service (`PUT /v1/blobs`).

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use walrus_publisher::{Publisher, PublisherConfig, DEFAULT_LISTEN};
use walrus_sdk::{client::SdkConfig, wallet_pool::WalletPoolConfig};
use walrus_service::cli::{default_listen, ServiceArgs};

/// The Walrus publisher: stores the bodies of `PUT /v1/blobs` requests as blobs, paid by the
/// wallet of the client configuration, and answers Walrus's `BlobStoreResult` JSON.
///
/// Example: `curl -X PUT "http://127.0.0.1:31415/v1/blobs?epochs=5" --upload-file FILE`.
/// Other routes: `GET /health`, `GET /v1/api` (OpenAPI), `GET /metrics` (Prometheus).
/// Stops gracefully on Ctrl-C or SIGTERM (running stores finish, within the grace period).
///
/// An upload's body is read once it holds a store slot and must keep arriving
/// (`--body-read-timeout-secs`, `--body-min-bytes-per-sec`); a client that sends it too slowly
/// gets 408 and its slot goes to the next upload.
///
/// Stores run on `--n-clients` sub-wallets (default: `--max-concurrent-uploads`), one store at
/// a time each, so that concurrent stores never compete for one wallet's coins. Their keys are
/// derived from the configured wallet's key and their index (a restart finds the same
/// sub-wallets, with their funds and `Blob` objects); the configured wallet funds them: a
/// sub-wallet holding less than `--sub-wallets-min-balance` SUI or WAL (or less than a store
/// needs) gets what it lacks plus `--gas-refill-amount` SUI or `--wal-refill-amount` WAL,
/// checked at start, after each of its stores and before a store that needs more; one
/// transaction tops up every idle sub-wallet that is low. `--n-clients 1` stores with
/// the configured wallet itself, one store at a time. Unlike Walrus's publisher, there is no
/// `--sub-wallets-dir` (no keys are stored) nor `--refill-interval` (refills follow the
/// stores rather than a timer), and a `Blob` object stays with the sub-wallet that stored it
/// unless `send_object_to` names a recipient.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    long_about,
    mut_arg("listen", default_listen(DEFAULT_LISTEN))
)]
struct Cli {
    #[command(flatten)]
    service: ServiceArgs,
    /// Largest accepted blob in bytes (larger requests get 413).
    #[arg(long, default_value_t = PublisherConfig::default().max_body_bytes)]
    max_body_bytes: u64,
    /// Stores running at once (each holds its blob and its encoding in memory).
    #[arg(long, default_value_t = PublisherConfig::default().max_concurrent_uploads,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_concurrent_uploads: usize,
    /// Uploads that may wait for a free store slot; beyond that requests get 429.
    #[arg(long, default_value_t = PublisherConfig::default().max_queued)]
    max_queued: usize,
    /// Require `Authorization: Bearer TOKEN` on `PUT /v1/blobs`.
    #[arg(long, env = "WALRUS_PUBLISHER_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Seconds running stores may take to finish after a shutdown signal.
    #[arg(long, default_value_t = PublisherConfig::default().shutdown_grace.as_secs())]
    shutdown_grace_secs: u64,
    /// Seconds an upload holding a store slot may go without body data, and the base of the
    /// whole body's allowance; slower bodies get 408 and free the slot.
    #[arg(long, default_value_t = PublisherConfig::default().body_read_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    body_read_timeout_secs: u64,
    /// Each this many body bytes received add one second to the body's allowance, so bodies
    /// arriving at least this fast never time out (0: the whole body within the timeout).
    #[arg(long, default_value_t = PublisherConfig::default().body_min_bytes_per_sec)]
    body_min_bytes_per_sec: u64,
    /// Sub-wallets that run stores, one at a time each (default: `--max-concurrent-uploads`);
    /// 1: the configured wallet stores itself.
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    n_clients: Option<usize>,
    /// MIST a sub-wallet's top-up sends beyond what it lacks.
    #[arg(long, default_value_t = WalletPoolConfig::default().gas_refill_amount)]
    gas_refill_amount: u64,
    /// FROST a sub-wallet's top-up sends beyond what it lacks.
    #[arg(long, default_value_t = WalletPoolConfig::default().wal_refill_amount)]
    wal_refill_amount: u64,
    /// A sub-wallet holding less SUI (MIST) or less WAL (FROST) than this is refilled.
    #[arg(long, default_value_t = WalletPoolConfig::default().min_sui_balance)]
    sub_wallets_min_balance: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    walrus_service::init_tracing();
    let cli = Cli::parse();
    let sdk = cli.service.sdk()?;
    let wallet = sdk.chain().address();
    let config = PublisherConfig {
        max_body_bytes: cli.max_body_bytes,
        max_concurrent_uploads: cli.max_concurrent_uploads,
        max_queued: cli.max_queued,
        auth_token: cli.auth_token.filter(|token| !token.is_empty()),
        shutdown_grace: Duration::from_secs(cli.shutdown_grace_secs),
        body_read_timeout: Duration::from_secs(cli.body_read_timeout_secs),
        body_min_bytes_per_sec: cli.body_min_bytes_per_sec,
    };
    let pool_config = WalletPoolConfig {
        n_clients: cli.n_clients.unwrap_or(cli.max_concurrent_uploads),
        gas_refill_amount: cli.gas_refill_amount,
        wal_refill_amount: cli.wal_refill_amount,
        min_sui_balance: cli.sub_wallets_min_balance,
        min_wal_balance: cli.sub_wallets_min_balance,
    };
    let (listener, address) = cli.service.bind().await?;
    let publisher =
        Publisher::with_sub_wallets(sdk, SdkConfig::default(), pool_config, config).await;
    tracing::info!(
        %address,
        %wallet,
        n_clients = pool_config.n_clients,
        auth = publisher.config().auth_token.is_some(),
        "walrus-publisher listening"
    );
    println!(
        "listening on {address}, wallet {wallet}, {} store wallet(s)",
        publisher.pool().addresses().len()
    );
    publisher
        .serve(listener, walrus_service::shutdown_signal())
        .await
        .context("the publisher failed")
}
