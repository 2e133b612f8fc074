//! The network launcher ([`walrus_localnet::network`]) with real processes: a 4-node,
//! 10-shard network without the publisher and aggregator, node operations, a chain restart,
//! a graceful shutdown and a resume on the same directory.
//!
//! Needs the `walrus-node` and `walrus-localnet` binaries next to the test binary's `deps`
//! directory: `cargo build --release -p walrus-node -p walrus-localnet` before
//! `cargo test --release -p walrus-localnet --test network` (`cargo test --workspace
//! --release` builds them, as the node package has integration tests).

use std::time::Duration;

use serde::Deserialize;
use walrus_chain::client::ChainConnection;
use walrus_localnet::network::{
    default_bin_dir, LocalnetInfo, Network, NetworkFile, NetworkOptions, Process, NETWORK_FILE,
};

/// `client.toml` as the SDK reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    wallet_private_key: String,
    chain: ChainConnection,
}

fn options(dir: &std::path::Path) -> NetworkOptions {
    let mut options = NetworkOptions::new(dir, 4, 10);
    options.services = false;
    options.epoch_duration_ms = 3_600_000;
    options.registration_wait_ms = 500;
    options.startup_timeout = Duration::from_secs(30);
    assert_eq!(options.bin_dir, default_bin_dir());
    options
}

/// Panics with the error and the tail of every log.
fn fail(network: &Network, error: anyhow::Error) -> ! {
    panic!("{error:#}\n{}", network.all_logs_tail(40));
}

async fn all_healthy(network: &Network) -> anyhow::Result<Vec<u16>> {
    let mut shards = Vec::new();
    for i in 0..network.n_nodes() {
        let health = network.node_health(i).await?;
        anyhow::ensure!(
            health.node_id == network.info().nodes[i].node_id,
            "node {i} reports another node ID"
        );
        shards.extend(health.shards);
    }
    shards.sort_unstable();
    Ok(shards)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_starts_operates_and_resumes() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("net");
    let started = std::time::Instant::now();

    let mut network = match Network::start(options(&dir)).await {
        Ok(network) => network,
        Err(error) => panic!(
            "{error:#}\nchain log:\n{}",
            std::fs::read_to_string(dir.join("chain.log")).unwrap_or_default()
        ),
    };
    let network_file = std::fs::read_to_string(dir.join(NETWORK_FILE)).unwrap();
    let first_info = network.info().clone();
    if let Err(error) = first_run(&mut network).await {
        fail(&network, error);
    }
    network.shutdown().await.unwrap();
    assert!(!dir.join("chain.pid").exists());

    // Resume: same keys and ports, the nodes come back healthy with their data.
    let network = Network::start(options(&dir)).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join(NETWORK_FILE)).unwrap(),
        network_file
    );
    if let Err(error) = resumed(&network, &first_info).await {
        fail(&network, error);
    }
    network.shutdown().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

async fn first_run(network: &mut Network) -> anyhow::Result<()> {
    // Every node is healthy and the shards are split among them (equal stakes).
    let shards = all_healthy(network).await?;
    anyhow::ensure!(shards == (0..10).collect::<Vec<u16>>(), "shards {shards:?}");
    for i in 0..4 {
        let n = network.node_shards(i)?.len();
        anyhow::ensure!((2..=3).contains(&n), "node {i} holds {n} shards");
    }
    // The files exist and parse.
    let info = LocalnetInfo::read(network.dir().path())?;
    anyhow::ensure!(&info == network.info(), "localnet.json differs from info()");
    anyhow::ensure!(info.publisher_url.is_none() && info.aggregator_url.is_none());
    let client: ClientFile =
        toml::from_str(&std::fs::read_to_string(network.client_config_path())?)?;
    anyhow::ensure!(client.chain == info.chain_connection());
    client.chain.chain_config()?;
    anyhow::ensure!(
        walrus_localnet::network::sui_address(&client.wallet_private_key)? == info.client_address
    );
    let publisher: ClientFile =
        toml::from_str(&std::fs::read_to_string(network.publisher_config_path())?)?;
    anyhow::ensure!(publisher.wallet_private_key != client.wallet_private_key);
    let file: NetworkFile = toml::from_str(&std::fs::read_to_string(
        network.dir().path().join(NETWORK_FILE),
    )?)?;
    anyhow::ensure!(file.publisher_funded, "the publisher was funded");

    // Stop and start node 1.
    network.stop_node(1).await?;
    anyhow::ensure!(!network.node_is_running(1));
    anyhow::ensure!(
        network.node_health(1).await.is_err(),
        "node 1 still answers"
    );
    network.start_node(1).await?;
    network.node_health(1).await?;

    // Wipe node 2 and start it empty.
    network.wipe_node(2).await?;
    anyhow::ensure!(
        !network.dir().node_db(2).exists(),
        "node 2's database remains"
    );
    anyhow::ensure!(
        network.node_health(2).await.is_err(),
        "node 2 still answers"
    );
    network.start_node(2).await?;
    anyhow::ensure!(network.dir().node_db(2).exists());

    // Kill -9 node 3 and bring it back.
    network.kill_node(3)?;
    network.start_node(3).await?;

    // Bad indices are errors, not panics.
    anyhow::ensure!(network.stop_node(9).await.is_err());
    anyhow::ensure!(network.node_shards(9).is_err());

    // Restart the chain: the nodes keep running.
    network.restart_chain().await?;
    all_healthy(network).await?;
    let exits = network.check_processes();
    anyhow::ensure!(
        exits
            .iter()
            .all(|message| !message.contains("unexpectedly")),
        "unexpected exits: {exits:?}"
    );
    Ok(())
}

async fn resumed(network: &Network, first_info: &LocalnetInfo) -> anyhow::Result<()> {
    let info = network.info();
    anyhow::ensure!(info.rpc_url == first_info.rpc_url);
    anyhow::ensure!(info.system_object == first_info.system_object);
    anyhow::ensure!(info.nodes == first_info.nodes, "nodes differ after resume");
    all_healthy(network).await?;
    anyhow::ensure!(network
        .log_tail(Process::Node(0), 5)
        .contains("listening on"));
    Ok(())
}

#[tokio::test]
async fn bad_options_and_missing_binaries_are_errors() {
    let temp = tempfile::tempdir().unwrap();
    let mut options = options(&temp.path().join("net"));
    options.bin_dir = temp.path().join("no-binaries");
    let error = Network::start(options.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("walrus-localnet") && error.contains("cargo build --release --bins"),
        "{error}"
    );

    let mut zero = options.clone();
    zero.bin_dir = default_bin_dir();
    zero.nodes = 0;
    assert!(Network::start(zero).await.is_err());
    let mut stakes = options;
    stakes.bin_dir = default_bin_dir();
    stakes.stakes = Some(vec![1, 2]);
    let error = Network::start(stakes).await.unwrap_err().to_string();
    assert!(error.contains("stakes"), "{error}");
}

/// The services' code path: a publisher that exits at once is reported by name with its
/// log, and everything started before is stopped.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_service_is_named_with_its_log() {
    use std::os::unix::fs::PermissionsExt;
    let temp = tempfile::tempdir().unwrap();
    let bin_dir = temp.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    for name in ["walrus-localnet", "walrus-node"] {
        std::os::unix::fs::symlink(default_bin_dir().join(name), bin_dir.join(name)).unwrap();
    }
    for name in ["walrus-publisher", "walrus-aggregator"] {
        let path = bin_dir.join(name);
        std::fs::write(&path, "#!/bin/sh\necho \"fake service: $*\"\nexit 3\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dir = temp.path().join("net");
    let mut options = options(&dir);
    options.nodes = 1;
    options.shards = 2;
    options.services = true;
    options.bin_dir = bin_dir;
    let error = format!("{:#}", Network::start(options).await.unwrap_err());
    assert!(error.contains("publisher exited"), "{error}");
    assert!(error.contains("publisher.log"), "{error}");
    assert!(error.contains("fake service: --config"), "{error}");
    assert!(
        error.contains("publisher.toml --listen 127.0.0.1:"),
        "{error}"
    );
    // The dropped network killed the chain and the node.
    let net = walrus_localnet::network::NetworkDir::open(&dir).unwrap();
    assert!(net.chain_pid().is_none() && net.node_pid(0).is_none());
}
