//! `walrus-node`: run a storage node, or make its keys.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use walrus_core::crypto::ProtocolKeyPair;
use walrus_node::NodeConfig;

/// A Walrus storage node.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the node with a configuration file (see the `config` module docs for the format);
    /// stops gracefully on SIGTERM or Ctrl-C.
    Run {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Override the REST listen address of the file.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Override the storage directory of the file.
        #[arg(long)]
        storage_path: Option<PathBuf>,
    },
    /// Print a fresh BLS protocol key pair (private key in hex, public key in base64) as JSON.
    Keygen,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    walrus_service::init_tracing();
    match Cli::parse().command {
        Command::Run {
            config,
            listen,
            storage_path,
        } => {
            let mut config = NodeConfig::load(&config)?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if let Some(path) = storage_path {
                config.storage_path = path;
            }
            walrus_node::run(config, walrus_service::shutdown_signal(), |address| {
                println!("listening on {address}");
            })
            .await
            .context("the node failed")
        }
        Command::Keygen => {
            let keys = ProtocolKeyPair::generate_with_rng(&mut rand::thread_rng());
            let public =
                walrus_node_client::api::ServiceHealthInfo::encode_public_key(keys.public());
            println!(
                "{}",
                serde_json::json!({
                    "bls_private_key": hex::encode(keys.private_key_bytes()),
                    "public_key": public,
                })
            );
            Ok(())
        }
    }
}
