//! `walrus-node`: run a storage node, or make its keys.

use anyhow::Context;
use clap::{Parser, Subcommand};
use walrus_core::crypto::ProtocolKeyPair;
use walrus_node::config::RunArgs;

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
        #[command(flatten)]
        args: RunArgs,
    },
    /// Print a fresh BLS protocol key pair (private key in hex, public key in base64) as JSON.
    Keygen,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    walrus_service::init_tracing();
    match Cli::parse().command {
        Command::Run { args } => {
            let config = args.load()?;
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
