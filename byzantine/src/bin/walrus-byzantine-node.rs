//! `walrus-byzantine-node`: **TEST ONLY, never deploy.** A storage node that lies in what it
//! serves, for the end-to-end tests (see the crate docs for the behaviours).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use walrus_node::config::RunArgs;

/// A byzantine Walrus storage node (TEST ONLY).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the node with its configuration file and a faults file; stops gracefully on
    /// SIGTERM or Ctrl-C.
    Run {
        #[command(flatten)]
        node: RunArgs,
        /// The TOML faults file (read again on every request, so it can be rewritten while
        /// the node runs).
        #[arg(long)]
        faults: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    walrus_service::init_tracing();
    let Command::Run { node, faults } = Cli::parse().command;
    let config = node.load()?;
    let initial = walrus_byzantine_node::read_faults(&faults)?;
    tracing::warn!(
        faults = ?initial,
        file = %faults.display(),
        "!!! {}: this node serves WRONG data on purpose; it is a test tool, never run it \
         in production !!!",
        walrus_byzantine_node::WARNING
    );
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        walrus_service::shutdown_signal().await;
        let _ = stop.send(true);
    };
    walrus_node::run_with(
        config,
        shutdown,
        |address| println!("listening on {address}"),
        |router| walrus_byzantine_node::wrap(router, faults, initial, stopping),
    )
    .await
    .context("the byzantine node failed")
}
