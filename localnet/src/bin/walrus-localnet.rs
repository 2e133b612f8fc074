//! `walrus-localnet`: runs a durable local chain (`walrus-localnet chain --dir DIR --listen
//! ADDR`), served over Sui's gRPC API, with an epoch clock and an optional HTTP faucet.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use walrus_localnet::launcher::{run_chain, ChainOptions, FaucetConfig};

/// A Sui-compatible local chain for Walrus.
#[derive(Debug, Parser)]
#[command(name = "walrus-localnet", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the chain: gRPC (`sui.rpc.v2`), checkpoints, the epoch clock and the faucet.
    Chain(ChainArgs),
}

#[derive(Debug, clap::Args)]
struct ChainArgs {
    /// Data directory (created if needed; an existing chain in it is resumed).
    #[arg(long)]
    dir: PathBuf,
    /// gRPC listen address.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// HTTP faucet listen address (no faucet if absent).
    #[arg(long)]
    faucet_listen: Option<SocketAddr>,
    /// Genesis file (TOML); used only when the data directory holds no chain.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Epoch duration in ms (overrides the genesis file; only when the chain is created).
    #[arg(long)]
    epoch_duration_ms: Option<u64>,
    /// How often executed transactions are sealed into a checkpoint (ms).
    #[arg(long, default_value_t = 100)]
    checkpoint_interval_ms: u64,
    /// Faucet requests granted per recipient in any 60 s window (0: no limit); more are
    /// answered 429 `rate_limited`.
    #[arg(long, default_value_t = 60)]
    faucet_max_requests_per_minute: u32,
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Chain(args) => {
            let options = ChainOptions {
                dir: args.dir,
                listen: args.listen,
                faucet_listen: args.faucet_listen,
                genesis: args.genesis,
                epoch_duration_ms: args.epoch_duration_ms,
                checkpoint_interval: Duration::from_millis(args.checkpoint_interval_ms.max(1)),
                faucet: FaucetConfig {
                    max_requests_per_minute: args.faucet_max_requests_per_minute,
                    ..FaucetConfig::default()
                },
            };
            if let Err(error) = run_chain(options, shutdown_signal()).await {
                tracing::error!(error = format!("{error:#}"), "walrus-localnet failed");
                return Err(error);
            }
            Ok(())
        }
    }
}
