//! Adding a storage node to a running network as an operator would, with real processes: a
//! 4-node network, [`Network::add_node`] with stake (own keys and `node.toml` from
//! `walrus_node::operator::setup`, faucet funds, registration with its own wallet), the node
//! healthy outside the committee, its pool on chain with the stake pending; the operator
//! commands of `walrus-node` on its configuration (`register` again, `set-commission`,
//! `collect-commission`; `setup` and `register` of an unfunded node); node operations on the
//! added node; a node added by `walrus-localnet node add` from another process, adopted by the
//! supervisor; a graceful shutdown and a resume that brings the added nodes back.
//!
//! Needs the `walrus-node` and `walrus-localnet` binaries next to the test binary's `deps`
//! directory: `cargo build --release -p walrus-node -p walrus-localnet` before
//! `cargo test --release -p walrus-localnet --test node_add`.

use std::{path::Path, process::Output, time::Duration};

use serde::Deserialize;
use walrus_chain::client::{ChainConnection, WalrusClient};
use walrus_localchain::launcher::ONE_COIN;
use walrus_localnet::network::{default_bin_dir, Network, NetworkOptions, INFO_FILE};
use walrus_node::NodeConfig;
use walrus_node_client::api::NODE_STATUS_STANDBY;

/// `client.toml` as the SDK reads it.
#[derive(Debug, Deserialize)]
struct ClientFile {
    wallet_private_key: String,
    chain: ChainConnection,
}

const STAKE: u64 = 500 * ONE_COIN;

fn options(dir: &Path) -> NetworkOptions {
    let mut options = NetworkOptions::new(dir, 4, 10);
    options.services = false;
    options.epoch_duration_ms = 3_600_000;
    options.registration_wait_ms = 500;
    options.startup_timeout = Duration::from_secs(30);
    options
}

/// Runs a binary of the target directory.
fn run(binary: &str, args: &[&str]) -> anyhow::Result<Output> {
    Ok(std::process::Command::new(default_bin_dir().join(binary))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()?)
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A read client of the chain (the network's client wallet).
fn chain_client(network: &Network) -> anyhow::Result<WalrusClient> {
    let client: ClientFile =
        toml::from_str(&std::fs::read_to_string(network.client_config_path())?)?;
    let key: [u8; 32] = hex::decode(&client.wallet_private_key)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("a 32-byte key"))?;
    Ok(WalrusClient::new(
        &client.chain.rpc_url,
        sui_crypto::ed25519::Ed25519PrivateKey::new(key),
        client.chain.chain_config()?,
    )?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_node_registers_runs_and_resumes() {
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
    let added = match first_run(&mut network, temp.path()).await {
        Ok(added) => added,
        Err(error) => panic!("{error:#}\n{}", network.all_logs_tail(40)),
    };
    network.shutdown().await.unwrap();

    // Resume: the added nodes come back with the others, with their node IDs.
    let network = Network::start(options(&dir)).await.unwrap();
    let resumed = async {
        anyhow::ensure!(network.n_nodes() == 6, "{} nodes", network.n_nodes());
        for (i, node_id) in &added {
            let health = network.node_health(*i).await?;
            anyhow::ensure!(
                health.node_status == NODE_STATUS_STANDBY,
                "node {i}: {health:?}"
            );
            anyhow::ensure!(
                &network.info().nodes[*i].node_id == node_id,
                "node {i}'s ID"
            );
        }
        Ok(())
    };
    if let Err(error) = resumed.await {
        panic!("{error:#}\n{}", network.all_logs_tail(40));
    }
    network.shutdown().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// Returns the added nodes' indices and node IDs.
async fn first_run(network: &mut Network, temp: &Path) -> anyhow::Result<Vec<(usize, String)>> {
    let chain = chain_client(network)?;

    // Added with stake: the next index, healthy, outside the committee.
    let i = network.add_node(Some(STAKE)).await?;
    anyhow::ensure!(i == 4 && network.n_nodes() == 5, "index {i}");
    let info = network.info().nodes[i].clone();
    let health = network.node_health(i).await?;
    anyhow::ensure!(
        health.node_status == NODE_STATUS_STANDBY && health.shards.is_empty(),
        "{health:?}"
    );
    let config = NodeConfig::load(&info.config)?;
    anyhow::ensure!(
        health.decode_public_key().map_err(anyhow::Error::msg)?
            == *config.protocol_keys()?.public()
    );
    anyhow::ensure!(config.bls_private_key.is_some(), "a fresh key, not a seed");
    anyhow::ensure!(config.storage_path == network.dir().node_db(i));

    // Registered with its name and address; the stake is pending.
    let staking = chain.staking().await?;
    let pool = staking
        .pools
        .iter()
        .find(|pool| pool.node_id.to_string() == info.node_id)
        .ok_or_else(|| anyhow::anyhow!("no pool {}", info.node_id))?;
    anyhow::ensure!(pool.info.name == "node-4", "name {:?}", pool.info.name);
    anyhow::ensure!(
        pool.info.network_address == config.listen.to_string(),
        "address {}",
        pool.info.network_address
    );
    let pending: u64 = pool.pending_stake.contents.iter().map(|e| e.value).sum();
    anyhow::ensure!(
        pending == STAKE && pool.active_stake == 0,
        "pending {pending}, active {}",
        pool.active_stake
    );
    anyhow::ensure!(
        !staking.shard_assignment.contains(&pool.node_id),
        "not in the committee before an epoch change"
    );
    let localnet: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        network.dir().path().join(INFO_FILE),
    )?)?;
    anyhow::ensure!(localnet["nodes"][4]["node_id"] == info.node_id.as_str());

    // The operator commands on its configuration.
    let config_arg = info.config.to_str().unwrap_or_default();
    let again = run(
        "walrus-node",
        &["register", "--config", config_arg, "--name", "node-4"],
    )?;
    anyhow::ensure!(
        again.status.success()
            && String::from_utf8_lossy(&again.stdout).contains("already registered")
            && String::from_utf8_lossy(&again.stdout).contains(&info.node_id),
        "register again: {}",
        text(&again)
    );
    let too_high = run(
        "walrus-node",
        &["set-commission", "--config", config_arg, "--rate", "20000"],
    )?;
    anyhow::ensure!(
        !too_high.status.success()
            && String::from_utf8_lossy(&too_high.stderr)
                .contains("commission rate 20000 bp is above 10000 bp"),
        "set-commission 20000: {}",
        text(&too_high)
    );
    let commission = run(
        "walrus-node",
        &["set-commission", "--config", config_arg, "--rate", "500"],
    )?;
    anyhow::ensure!(commission.status.success(), "{}", text(&commission));
    let pool = chain
        .staking()
        .await?
        .pools
        .into_iter()
        .find(|pool| pool.node_id.to_string() == info.node_id)
        .ok_or_else(|| anyhow::anyhow!("the pool went away"))?;
    anyhow::ensure!(pool.next_commission_rate == 500, "{pool:?}");
    let collected = run(
        "walrus-node",
        &["collect-commission", "--config", config_arg],
    )?;
    anyhow::ensure!(
        collected.status.success()
            && String::from_utf8_lossy(&collected.stdout).contains("collected 0 FROST"),
        "{}",
        text(&collected)
    );

    // `setup` from the network's client configuration, then `register` without funds.
    let operator_dir = temp.join("operator-node");
    let operator_dir_arg = operator_dir.to_str().unwrap_or_default();
    let client_config = network.client_config_path();
    let setup_args = [
        "setup",
        "--dir",
        operator_dir_arg,
        "--chain-config",
        client_config.to_str().unwrap_or_default(),
        "--public-address",
        "127.0.0.1:1",
    ];
    let setup = run("walrus-node", &setup_args)?;
    anyhow::ensure!(
        setup.status.success() && String::from_utf8_lossy(&setup.stdout).contains("Sui address"),
        "{}",
        text(&setup)
    );
    let refused = run("walrus-node", &setup_args)?;
    anyhow::ensure!(
        !refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--force"),
        "{}",
        text(&refused)
    );
    let operator_config = operator_dir.join("node.toml");
    let unfunded = run(
        "walrus-node",
        &[
            "register",
            "--config",
            operator_config.to_str().unwrap_or_default(),
            "--name",
            "unfunded",
        ],
    )?;
    let address = walrus_localnet::network::sui_address(
        &NodeConfig::load(&operator_config)?.sui_private_key,
    )?;
    anyhow::ensure!(
        !unfunded.status.success()
            && String::from_utf8_lossy(&unfunded.stderr)
                .contains(&format!("fund {address} with SUI first")),
        "{}",
        text(&unfunded)
    );

    // Node operations work on the added node.
    network.stop_node(i).await?;
    anyhow::ensure!(!network.node_is_running(i));
    network.start_node(i).await?;
    network.kill_node(i)?;
    network.start_node(i).await?;
    network.node_health(i).await?;

    // A node added from another shell: the supervisor adopts it. Its directory is left as by
    // an `add` that failed after `setup`: the add resumes with those keys.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let node_5_setup = run(
        "walrus-node",
        &[
            "setup",
            "--dir",
            network.dir().node_dir(5).to_str().unwrap_or_default(),
            "--chain-config",
            client_config.to_str().unwrap_or_default(),
            "--listen",
            &listen.to_string(),
        ],
    )?;
    anyhow::ensure!(node_5_setup.status.success(), "{}", text(&node_5_setup));
    let node_5_key = String::from_utf8_lossy(&node_5_setup.stdout)
        .lines()
        .find_map(|line| line.trim().strip_prefix("BLS public key"))
        .map(|key| key.trim().to_owned())
        .ok_or_else(|| anyhow::anyhow!("no key in {}", text(&node_5_setup)))?;
    let dir_arg = network.dir().path().to_str().unwrap_or_default().to_owned();
    let cli = run("walrus-localnet", &["node", "add", "--dir", &dir_arg])?;
    anyhow::ensure!(
        cli.status.success() && String::from_utf8_lossy(&cli.stdout).contains("node 5 added"),
        "{}",
        text(&cli)
    );
    let messages = network.check_processes();
    anyhow::ensure!(
        messages
            .iter()
            .any(|message| message.contains("node 5 was added")),
        "{messages:?}"
    );
    anyhow::ensure!(network.n_nodes() == 6 && network.node_is_running(5));
    let node_5 = network.info().nodes[5].node_id.clone();
    let health = network.node_health(5).await?;
    anyhow::ensure!(
        health.node_status == NODE_STATUS_STANDBY && health.public_key == node_5_key,
        "{health:?}, set up with {node_5_key}"
    );
    anyhow::ensure!(network.node_url(5)? == format!("http://{listen}"));
    anyhow::ensure!(
        chain
            .staking()
            .await?
            .pools
            .iter()
            .any(|pool| pool.node_id.to_string() == node_5 && pool.info.name == "node-5"),
        "node 5's pool"
    );
    Ok(vec![(4, info.node_id), (5, node_5)])
}
