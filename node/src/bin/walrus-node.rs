//! `walrus-node`: run a storage node, make its keys, and the operator's commands: set up a
//! node directory, register the node on the chain, update its registration (the logic is in
//! `walrus_node::operator`).

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use walrus_chain::client::ChainConnection;
use walrus_core::crypto::ProtocolKeyPair;
use walrus_node::{
    config::RunArgs,
    operator::{self, Operator, RegisterOutcome, Registration, SetupOptions},
};

/// mimalloc: a node serves many concurrent requests, each allocating and freeing sliver
/// buffers (glibc's malloc was 16% of a node's CPU during many small uploads).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process (Linux; the flag covers all its threads).
/// With THP `always` (a common default), every fresh 2 MiB of heap that mimalloc touches is
/// zeroed whole by the kernel: on a 10-node localnet the first 100 MiB store after the start
/// cost the nodes 12.3 CPU-s, 58% of the machine's CPU in `clear_page`, against 3.7 CPU-s
/// with THP off (later stores: 2.3-2.6 CPU-s either way). Best effort: on failure the
/// kernel's setting stays, which is only slower.
fn without_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(%error, "transparent huge pages stay as the kernel sets them");
    }
}

/// Raises this process's soft limit on open files to its hard limit (Linux): a node keeps
/// each segment file of its store open, twice where reads bypass the page cache, and the
/// usual soft limit (1024) would refuse files from about 32 GiB of stored slivers on. Best
/// effort: on failure the limit stays, and opening a segment past it is an I/O error.
fn with_the_open_file_hard_limit() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            let raised = Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if let Err(error) = setrlimit(Resource::Nofile, raised) {
                tracing::warn!(%error, "the open-file limit stays at its soft limit");
            }
        }
    }
}

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
    #[command(flatten)]
    Operator(OperatorCommand),
}

/// The operator's commands (errors printed on one line, exit status 1).
#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Create a node directory: a fresh BLS protocol key and Sui key, and `node.toml` (storage
    /// in DIR/db); prints the node's Sui address, BLS public key and what to do next.
    Setup(SetupArgs),
    /// Register the node on the chain as a candidate, with its own wallet (the configuration's
    /// Sui key) and a proof of possession of its BLS key; prints the node ID and the
    /// StorageNodeCap ID. Says so, and succeeds, if the wallet already registered this key.
    Register(RegisterArgs),
    /// Set the storage price, write price and capacity votes (effective at the next committee
    /// selection); a vote not given keeps its value.
    SetVotes {
        #[command(flatten)]
        config: ConfigArg,
        /// Storage price vote (FROST per unit and epoch).
        #[arg(long)]
        storage_price: Option<u64>,
        /// Write price vote (FROST per unit).
        #[arg(long)]
        write_price: Option<u64>,
        /// Capacity vote (bytes).
        #[arg(long)]
        capacity: Option<u64>,
    },
    /// Set the commission on the stakers' rewards (effective from the next epoch change).
    SetCommission {
        #[command(flatten)]
        config: ConfigArg,
        /// The rate in basis points (at most 10000 = 100%).
        #[arg(long)]
        rate: u64,
    },
    /// Set the node's name.
    SetName {
        #[command(flatten)]
        config: ConfigArg,
        /// The new name.
        #[arg(long)]
        name: String,
    },
    /// Set the HOST:PORT other nodes and clients reach the node's REST API at (announced as
    /// `https://HOST:PORT` when the node serves TLS).
    SetNetworkAddress {
        #[command(flatten)]
        config: ConfigArg,
        /// The new address.
        #[arg(long)]
        network_address: String,
    },
    /// Register the node's next BLS key (with a proof of possession); it replaces the current
    /// key at the next committee selection. Once the epoch of the committee selected with it
    /// has begun, restart the node with it: put the key file's contents as
    /// `bls_private_key` in node.toml and restart.
    SetNextPublicKey {
        #[command(flatten)]
        config: ConfigArg,
        /// A BLS private key file (32 bytes in hex, e.g. `keygen`'s `bls_private_key`).
        #[arg(
            long,
            required_unless_present = "generate",
            conflicts_with = "generate"
        )]
        key_file: Option<PathBuf>,
        /// Generate a fresh key into `next-bls.key` next to the configuration.
        #[arg(long)]
        generate: bool,
        /// With --generate: overwrite an existing `next-bls.key`.
        #[arg(long, requires = "generate")]
        force: bool,
    },
    /// Collect the node's commission into its wallet; prints the amount.
    CollectCommission {
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// FROST as WAL with 9 decimals.
fn wal(frost: u64) -> String {
    format!("{}.{:09}", frost / ONE_WAL, frost % ONE_WAL)
}

/// FROST per WAL.
const ONE_WAL: u64 = 1_000_000_000;

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The node's configuration file (`node.toml`).
    #[arg(long, short)]
    config: PathBuf,
}

#[derive(Debug, clap::Args)]
struct SetupArgs {
    /// The node directory (created if needed).
    #[arg(long)]
    dir: PathBuf,
    /// The REST listen address (default: all interfaces, at the port of --public-address, or
    /// 9185).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The HOST:PORT other nodes and clients reach the node at (`register`'s default network
    /// address).
    #[arg(long)]
    public_address: Option<String>,
    /// A TOML file with the chain connection: a `[chain]` section (e.g. a localnet's
    /// `client.toml`) or its fields at the top level.
    #[arg(long, conflicts_with_all = ["rpc_url", "wal_package", "walrus_package", "system_object", "staking_object", "initial_shared_version"])]
    chain_config: Option<PathBuf>,
    /// The chain's Sui gRPC URL.
    #[arg(long, required_unless_present = "chain_config")]
    rpc_url: Option<String>,
    /// The `wal` package ID.
    #[arg(long, required_unless_present = "chain_config")]
    wal_package: Option<String>,
    /// The `walrus` package ID.
    #[arg(long, required_unless_present = "chain_config")]
    walrus_package: Option<String>,
    /// The shared `System` object ID.
    #[arg(long, required_unless_present = "chain_config")]
    system_object: Option<String>,
    /// The shared `Staking` object ID.
    #[arg(long, required_unless_present = "chain_config")]
    staking_object: Option<String>,
    /// The initial shared version of `System` and `Staking`.
    #[arg(long, required_unless_present = "chain_config")]
    initial_shared_version: Option<u64>,
    /// Overwrite an existing `node.toml` (its keys are lost).
    #[arg(long)]
    force: bool,
    /// Serve the REST API over plain HTTP (`[tls] disable_tls = true`; e.g. behind a proxy
    /// that terminates TLS). By default it serves HTTPS with a certificate carrying the
    /// node's network key, which `register` puts on chain.
    #[arg(long)]
    disable_tls: bool,
}

impl SetupArgs {
    fn chain(&self) -> anyhow::Result<ChainConnection> {
        if let Some(path) = &self.chain_config {
            return Ok(operator::read_chain_connection(path)?);
        }
        let field = |value: &Option<String>, flag: &str| {
            value
                .clone()
                .with_context(|| format!("--{flag} (or --chain-config) is needed"))
        };
        Ok(ChainConnection {
            rpc_url: field(&self.rpc_url, "rpc-url")?,
            wal_package: field(&self.wal_package, "wal-package")?,
            walrus_package: field(&self.walrus_package, "walrus-package")?,
            system_object: field(&self.system_object, "system-object")?,
            staking_object: field(&self.staking_object, "staking-object")?,
            initial_shared_version: self
                .initial_shared_version
                .context("--initial-shared-version (or --chain-config) is needed")?,
        })
    }
}

#[derive(Debug, clap::Args)]
struct RegisterArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The node's name.
    #[arg(long)]
    name: String,
    /// HOST:PORT of the node's REST API as others reach it (default: `setup`'s
    /// --public-address, else the listen address if it names an interface).
    #[arg(long)]
    network_address: Option<String>,
    /// Commission on the stakers' rewards, in basis points (at most 10000).
    #[arg(long, default_value_t = 0)]
    commission_rate: u64,
    /// Storage price vote (FROST per unit and epoch).
    #[arg(long, default_value_t = operator::DEFAULT_STORAGE_PRICE)]
    storage_price: u64,
    /// Write price vote (FROST per unit).
    #[arg(long, default_value_t = operator::DEFAULT_WRITE_PRICE)]
    write_price: u64,
    /// Capacity vote (bytes).
    #[arg(long, default_value_t = operator::DEFAULT_CAPACITY)]
    capacity: u64,
}

fn setup(args: &SetupArgs) -> anyhow::Result<()> {
    let mut options = SetupOptions::new(&args.dir, args.chain()?, args.public_address.clone())?;
    if let Some(listen) = args.listen {
        options.listen = listen;
    }
    options.force = args.force;
    options.disable_tls = args.disable_tls;
    let setup = operator::setup(&options)?;
    println!("{}", setup.summary());
    Ok(())
}

async fn register(args: RegisterArgs) -> anyhow::Result<()> {
    let operator = Operator::load(&args.config.config)?;
    let registration = Registration {
        name: args.name,
        network_address: args.network_address,
        commission_rate: args.commission_rate,
        storage_price: args.storage_price,
        write_price: args.write_price,
        capacity: args.capacity,
    };
    let outcome = operator.register(&registration).await?;
    match &outcome {
        RegisterOutcome::Registered { .. } => println!(
            "registered the node as a candidate (wallet {})",
            operator.address()
        ),
        RegisterOutcome::AlreadyRegistered { .. } => println!(
            "already registered: wallet {} owns the StorageNodeCap of this node's key; nothing \
             was sent",
            operator.address()
        ),
    }
    println!("  node ID           {}", outcome.node_id());
    println!("  StorageNodeCap    {}", outcome.cap_id());
    if matches!(outcome, RegisterOutcome::Registered { .. }) {
        println!(
            "The node joins the committee at the first committee selection after it has stake: \
             stakers stake with node ID {}. Run it with `walrus-node run --config {}`.",
            outcome.node_id(),
            args.config.config.display()
        );
    }
    Ok(())
}

async fn operate(command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Setup(args) => setup(&args),
        OperatorCommand::Register(args) => register(args).await,
        OperatorCommand::SetVotes {
            config,
            storage_price,
            write_price,
            capacity,
        } => {
            let operator = Operator::load(&config.config)?;
            let pool = operator
                .set_votes(storage_price, write_price, capacity)
                .await?;
            println!(
                "votes of node {}: storage price {}, write price {}, capacity {} bytes \
                 (effective at the next committee selection)",
                pool.node_id, pool.storage_price, pool.write_price, pool.node_capacity
            );
            Ok(())
        }
        OperatorCommand::SetCommission { config, rate } => {
            let pool = Operator::load(&config.config)?.set_commission(rate).await?;
            println!(
                "commission of node {}: {} bp from the next epoch change (now {} bp)",
                pool.node_id, pool.next_commission_rate, pool.commission_rate
            );
            Ok(())
        }
        OperatorCommand::SetName { config, name } => {
            let pool = Operator::load(&config.config)?.set_name(&name).await?;
            println!("node {} is now named {:?}", pool.node_id, pool.info.name);
            Ok(())
        }
        OperatorCommand::SetNetworkAddress {
            config,
            network_address,
        } => {
            let pool = Operator::load(&config.config)?
                .set_network_address(&network_address)
                .await?;
            println!(
                "node {} is now reached at {}",
                pool.node_id, pool.info.network_address
            );
            Ok(())
        }
        OperatorCommand::SetNextPublicKey {
            config,
            key_file,
            generate,
            force,
        } => {
            let operator = Operator::load(&config.config)?;
            let (path, keys) = match key_file {
                Some(path) => {
                    let keys = operator::read_key_file(&path)?;
                    (path, keys)
                }
                None if generate => {
                    let path = operator.next_key_path();
                    let keys = operator::generate_key_file(&path, force)?;
                    (path, keys)
                }
                None => anyhow::bail!("give --key-file FILE or --generate"),
            };
            let pool = operator.set_next_public_key(&keys).await?;
            println!(
                "node {}: next BLS public key {} (private key in {})\n\
                 It replaces the current key at the next committee selection. Once the epoch of \
                 the committee selected with it has begun, set bls_private_key in {} to the \
                 contents of {} and restart the node; until then keep running it with the \
                 current key.",
                pool.node_id,
                walrus_node_client::api::ServiceHealthInfo::encode_public_key(keys.public()),
                path.display(),
                config.config.display(),
                path.display(),
            );
            Ok(())
        }
        OperatorCommand::CollectCommission { config } => {
            let operator = Operator::load(&config.config)?;
            let amount = operator.collect_commission().await?;
            println!(
                "collected {amount} FROST ({} WAL) of commission into {}",
                wal(amount),
                operator.address()
            );
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    walrus_service::init_tracing();
    match Cli::parse().command {
        Command::Run { args } => {
            let config = args.load()?;
            without_transparent_huge_pages();
            with_the_open_file_hard_limit();
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
        Command::Operator(command) => {
            if let Err(error) = operate(command).await {
                eprintln!("Error: {error:#}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_open_file_soft_limit_is_raised_to_the_hard_limit() {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        let Some(hard) = limit.maximum.filter(|hard| *hard > 1) else {
            return; // no finite hard limit to stay below
        };
        // One below the hard limit: lower, and harmless to anything else in this process.
        let lowered = Rlimit {
            current: Some(hard - 1),
            maximum: Some(hard),
        };
        setrlimit(Resource::Nofile, lowered).expect("a soft limit below the hard one");
        assert_eq!(getrlimit(Resource::Nofile).current, Some(hard - 1));
        with_the_open_file_hard_limit();
        assert_eq!(getrlimit(Resource::Nofile).current, Some(hard));
    }
}
