//! `walrus-localnet`: runs a durable local chain (`walrus-localnet chain --dir DIR --listen
//! ADDR`), served over Sui's gRPC API, with an epoch clock and an optional HTTP faucet; or a
//! whole local network (`walrus-localnet start --dir DIR`: chain, storage nodes, publisher,
//! aggregator), whose nodes can be stopped, killed, started and wiped from another shell
//! (`walrus-localnet node stop|kill|start|wipe I --dir DIR`), and to which nodes can be added
//! as operators add them (`walrus-localnet node add --dir DIR [--stake WAL]`).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use walrus_localchain::launcher::{run_chain, ChainOptions, FaucetConfig, ONE_COIN};
use walrus_localnet::network::{
    default_bin_dir, LocalnetInfo, Network, NetworkDir, NetworkOptions,
};

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
    /// Starts (or resumes) a whole local network in a directory: the chain with its faucet,
    /// the storage nodes, the publisher and the aggregator; stops it on Ctrl-C or SIGTERM.
    Start(StartArgs),
    /// Acts on one storage node of a running network (from another shell), or adds one.
    Node(NodeArgs),
    /// Stops a network from another shell: SIGTERM to its `start` supervisor, or, if that is
    /// gone, to every process of the network through its pid files.
    Stop(StopArgs),
}

#[derive(Debug, clap::Args)]
struct StopArgs {
    /// The network directory.
    #[arg(long)]
    dir: PathBuf,
}

#[derive(Debug, clap::Args)]
struct StartArgs {
    /// The network directory (created if needed; an existing network in it is resumed with
    /// its own keys, ports, node and shard counts).
    #[arg(long)]
    dir: PathBuf,
    /// Number of storage nodes (equal stakes).
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    /// Number of shards.
    #[arg(long, default_value_t = 100)]
    shards: u16,
    /// Epoch duration in ms (only when the network is created). Committee changes (such as
    /// an added node joining) happen at epoch changes: tests use short epochs (a few
    /// seconds) to see them.
    #[arg(long, default_value_t = 600_000)]
    epoch_duration_ms: u64,
    /// Directory of the binaries (default: this executable's directory).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Do not start the publisher and the aggregator.
    #[arg(long)]
    no_services: bool,
    /// How long a node waits for a blob's registration event (ms).
    #[arg(long, default_value_t = 10_000)]
    registration_wait_ms: u64,
    /// Deadline for each process to become healthy (s).
    #[arg(long, default_value_t = 60)]
    startup_timeout_secs: u64,
    /// The nodes serve HTTPS, as Walrus nodes do (only when the network is created): each
    /// registers its network key and `https://127.0.0.1:PORT`, and clients pin the nodes'
    /// certificates to those keys. Default: plain HTTP.
    #[arg(long)]
    tls: bool,
}

#[derive(Debug, clap::Args)]
struct NodeArgs {
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// SIGTERM the node and wait for its exit.
    Stop(IndexArgs),
    /// SIGKILL the node.
    Kill(IndexArgs),
    /// Start the node again (log appended) and wait until it is healthy.
    Start(IndexArgs),
    /// Stop the node if it runs and delete its database (it stays stopped).
    Wipe(IndexArgs),
    /// Add a node to the running network: a new node directory with fresh keys and
    /// configuration (as `walrus-node setup`), gas and WAL from the faucet, registration with
    /// its own wallet (as `walrus-node register`), with --stake that much WAL staked with it
    /// from the client wallet; then start it. It joins the committee at the first committee
    /// selection after it has stake.
    Add(AddArgs),
}

/// Where the network is and how to start a node.
#[derive(Debug, clap::Args)]
struct NodeDirArgs {
    /// The network directory.
    #[arg(long)]
    dir: PathBuf,
    /// Directory of the binaries (default: this executable's directory).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Deadline for a started node to be healthy (s).
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

#[derive(Debug, clap::Args)]
struct IndexArgs {
    /// The node's index (0-based: genesis order, then added nodes).
    index: usize,
    #[command(flatten)]
    net: NodeDirArgs,
}

#[derive(Debug, clap::Args)]
struct AddArgs {
    /// WAL to stake with the new node from the network's client wallet.
    #[arg(long)]
    stake: Option<u64>,
    #[command(flatten)]
    net: NodeDirArgs,
}

/// The human summary printed once the network runs.
fn summary(info: &LocalnetInfo) -> String {
    let mut text = format!(
        "\nWalrus local network running in {}\n\
         \n  chain (gRPC)  {}\n  faucet        {}   (POST /v1/gas {{\"recipient\":\"0x…\"}})\n",
        info.dir.display(),
        info.rpc_url,
        info.faucet_url
    );
    for node in &info.nodes {
        text.push_str(&format!(
            "  node {:<3}      {}   shards {:?}\n",
            node.index, node.url, node.shards
        ));
    }
    if let Some(url) = &info.publisher_url {
        text.push_str(&format!("  publisher     {url}\n"));
    }
    if let Some(url) = &info.aggregator_url {
        text.push_str(&format!("  aggregator    {url}\n"));
    }
    text.push_str(&format!(
        "\n  client config {}\n  details       {}\n\nTry:\n  walrus --config {} store FILE --epochs 2\n",
        info.client_config.display(),
        info.dir.join(walrus_localnet::network::INFO_FILE).display(),
        info.client_config.display(),
    ));
    if let (Some(publisher), Some(aggregator)) = (&info.publisher_url, &info.aggregator_url) {
        text.push_str(&format!(
            "  curl -X PUT --upload-file FILE {publisher}/v1/blobs\n  curl {aggregator}/v1/blobs/BLOB_ID\n"
        ));
    }
    let dir = info.dir.display();
    text.push_str(&format!(
        "  walrus-localnet node stop|kill|start|wipe I --dir {dir}\n  walrus-localnet node add \
         --dir {dir} --stake 1000\n\nCtrl-C stops the network; starting again on the same \
         directory resumes it.\n"
    ));
    text
}

async fn start(args: StartArgs) -> anyhow::Result<()> {
    if let Ok(dir) = NetworkDir::open(&args.dir) {
        if let Some(pid) = dir.supervisor_pid() {
            anyhow::bail!(
                "the network in {} is already running (supervisor pid {pid}); stop it with \
                 Ctrl-C in its terminal or `walrus-localnet stop --dir {}`",
                dir.path().display(),
                dir.path().display()
            );
        }
    }
    let mut options = NetworkOptions::new(args.dir, args.nodes, args.shards);
    options.epoch_duration_ms = args.epoch_duration_ms;
    options.services = !args.no_services;
    options.bin_dir = args.bin_dir.unwrap_or_else(default_bin_dir);
    options.registration_wait_ms = args.registration_wait_ms;
    options.startup_timeout = Duration::from_secs(args.startup_timeout_secs);
    options.tls = args.tls;
    let signal = walrus_service::shutdown_signal();
    tokio::pin!(signal);
    // A signal during the start drops the half-started network, which kills its processes.
    let mut network = tokio::select! {
        network = Network::start(options) => network?,
        () = &mut signal => {
            tracing::info!("interrupted while starting");
            return Ok(());
        }
    };
    network.dir().write_supervisor_pid()?;
    println!("{}", summary(network.info()));
    let mut interval = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            () = &mut signal => break,
            _ = interval.tick() => {
                network.check_processes();
            }
        }
    }
    tracing::info!("stopping the network");
    let pid_file = network.dir().supervisor_pid_file();
    let result = network.shutdown().await;
    let _ = std::fs::remove_file(pid_file);
    result?;
    tracing::info!("the network stopped");
    Ok(())
}

/// Prints a command's error (with its causes, without a backtrace) and exits with status 1.
fn exit_on_error(result: anyhow::Result<()>) -> anyhow::Result<()> {
    if let Err(error) = result {
        eprintln!("Error: {error:#}");
        std::process::exit(1);
    }
    Ok(())
}

async fn stop(args: StopArgs) -> anyhow::Result<()> {
    let dir = NetworkDir::open(&args.dir)?;
    if dir.stop_supervisor(Duration::from_secs(60)).await? {
        println!("the network's supervisor stopped it");
        return Ok(());
    }
    let stopped = dir.stop_all().await?;
    if stopped.is_empty() {
        println!("nothing of {} was running", dir.path().display());
    } else {
        println!("stopped: {}", stopped.join(", "));
    }
    Ok(())
}

async fn add_node(args: AddArgs) -> anyhow::Result<()> {
    let stake = args
        .stake
        .map(|wal| {
            wal.checked_mul(ONE_COIN)
                .filter(|frost| *frost > 0)
                .context("--stake must be a positive number of WAL")
        })
        .transpose()?;
    let mut dir = NetworkDir::open(&args.net.dir)?;
    let bin_dir = args.net.bin_dir.unwrap_or_else(default_bin_dir);
    let node = dir
        .add_node(&bin_dir, stake, Duration::from_secs(args.net.timeout_secs))
        .await?;
    let stake = args.stake.map_or(
        "none (stake with it to have it join the committee)".to_owned(),
        |wal| {
            format!("{wal} WAL from the client wallet (counted from the next committee selection)")
        },
    );
    println!(
        "node {} added and running: {}\n  node ID  {}\n  config   {}\n  log      {}\n  stake    {stake}",
        node.index,
        node.url,
        node.node_id,
        node.config.display(),
        node.log.display(),
    );
    Ok(())
}

/// The network of `args` and the checked node index.
fn indexed(args: &IndexArgs) -> anyhow::Result<(NetworkDir, usize)> {
    let dir = NetworkDir::open(&args.net.dir)?;
    dir.check_index(args.index)?;
    Ok((dir, args.index))
}

async fn node(args: NodeArgs) -> anyhow::Result<()> {
    match args.command {
        NodeCommand::Add(args) => add_node(args).await?,
        NodeCommand::Stop(args) => {
            let (dir, i) = indexed(&args)?;
            if dir.stop_node(i).await? {
                println!("node {i} stopped");
            } else {
                println!("node {i} was not running");
            }
        }
        NodeCommand::Kill(args) => {
            let (dir, i) = indexed(&args)?;
            if dir.kill_node(i)? {
                println!("node {i} killed");
            } else {
                println!("node {i} was not running");
            }
        }
        NodeCommand::Start(args) => {
            let (dir, i) = indexed(&args)?;
            let bin_dir = args.net.bin_dir.unwrap_or_else(default_bin_dir);
            dir.start_node(i, &bin_dir, Duration::from_secs(args.net.timeout_secs))
                .await?;
            println!(
                "node {i} started (pid {}); log {}",
                dir.node_pid(i)
                    .map_or("?".to_owned(), |pid| pid.to_string()),
                dir.node_log(i).display()
            );
        }
        NodeCommand::Wipe(args) => {
            let (dir, i) = indexed(&args)?;
            dir.wipe_node(i).await?;
            println!(
                "node {i} stopped and its database {} deleted; `walrus-localnet node start {i} --dir {}` brings it back empty",
                dir.node_db(i).display(),
                dir.path().display()
            );
        }
    }
    Ok(())
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
    #[arg(long, default_value_t = walrus_localchain::service::DEFAULT_CHECKPOINT_INTERVAL_MS)]
    checkpoint_interval_ms: u64,
    /// Faucet requests granted per recipient in any 60 s window (0: no limit); more are
    /// answered 429 `rate_limited`.
    #[arg(long, default_value_t = 60)]
    faucet_max_requests_per_minute: u32,
    /// Faucet requests granted per minute across all recipients (bursts of at most this many,
    /// refilled evenly; 0: no limit), so that fresh addresses cannot drain the faucet; more
    /// are answered 429 `global_rate_limited` with `Retry-After`.
    #[arg(long, default_value_t = FaucetConfig::default().max_grants_per_minute)]
    faucet_max_grants_per_minute: u32,
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
                    max_grants_per_minute: args.faucet_max_grants_per_minute,
                    ..FaucetConfig::default()
                },
            };
            if let Err(error) = run_chain(options, walrus_service::shutdown_signal()).await {
                tracing::error!(error = format!("{error:#}"), "walrus-localnet failed");
                return Err(error);
            }
            Ok(())
        }
        Command::Start(args) => exit_on_error(start(args).await),
        Command::Node(args) => exit_on_error(node(args).await),
        Command::Stop(args) => exit_on_error(stop(args).await),
    }
}
