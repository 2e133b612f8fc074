//! A Walrus storage node: holds the sliver pairs of the shards assigned to it, accepts
//! uploads only for registered blobs and only if they verify, signs storage confirmations
//! once everything of its shards is durable, follows the chain, recovers missing slivers
//! from peers after certification and proves inconsistent encodings.
//!
//! Modules: [`store`] (redb), [`node`] (the operations, HTTP-free), [`server`] (REST API),
//! [`follower`] (chain events), [`recovery`] (self-healing and invalid-blob certificates),
//! [`committee`], [`config`], [`metrics`], [`tls`] (the network key and HTTPS). Byzantine
//! behaviour for tests lives outside this
//! crate, in the test-only `walrus-byzantine-node` binary, which wraps [`run_with`]'s router.

pub mod committee;
pub mod config;
pub mod follower;
pub mod metrics;
pub mod node;
pub mod operator;
pub mod pending;
pub mod recovery;
mod segments;
pub mod server;
mod shard_sync;
pub mod store;
pub mod tls;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use walrus_chain::client::WalrusClient;
use walrus_core::{
    crypto::{Committee, CommitteeError, CommitteeMember, ProtocolKeyPair},
    Epoch, ObjectId, ShardIndex,
};

pub use crate::{config::NodeConfig, node::StorageNode};

/// The view of a node that is the only member of a committee of `n_shards` shards in `epoch`
/// and holds them all (no chain needed): for tests and fuzzing of a node on its own.
pub fn solo_committee_view(
    keys: &ProtocolKeyPair,
    epoch: Epoch,
    n_shards: u16,
) -> Result<committee::CommitteeView, CommitteeError> {
    let public_key = keys.public().clone();
    let shards: Vec<ShardIndex> = (0..n_shards).map(ShardIndex).collect();
    let member = CommitteeMember {
        public_key: public_key.clone(),
        weight: n_shards,
    };
    Ok(committee::CommitteeView {
        epoch,
        n_shards,
        committee: Committee::new(epoch, n_shards, vec![member])?,
        members: vec![committee::MemberInfo {
            node_id: ObjectId([0; 32]),
            public_key,
            url: String::new(),
            network_public_key: Vec::new(),
            shards: shards.clone(),
        }],
        own_index: Some(0),
        own_shards: shards.into_iter().collect(),
        previous: None,
        in_transition: false,
    })
}

/// Runs a node until `shutdown` resolves: opens the store, reads the committee, serves the
/// REST API on `config.listen`, follows the chain and recovers. On shutdown the server stops
/// accepting, in-flight requests finish, the background tasks stop and the store is closed.
/// `on_listening` is called with the bound address once the API accepts connections.
pub async fn run(
    config: NodeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    run_with(config, shutdown, on_listening, |router| router).await
}

/// [`run`], with the REST router passed through `wrap` before it serves (test harnesses add
/// layers with it; the `walrus-node` binary passes it through unchanged).
pub async fn run_with(
    config: NodeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr),
    wrap: impl FnOnce(axum::Router) -> axum::Router,
) -> anyhow::Result<()> {
    let keys = config.protocol_keys()?;
    let tls = config.tls_server_config()?;
    let store = Arc::new(
        store::NodeStore::open(&config.storage_path).with_context(|| {
            format!("cannot open the store in {}", config.storage_path.display())
        })?,
    );
    let chain = Arc::new(
        WalrusClient::new(
            &config.chain.rpc_url,
            config.sui_key()?,
            config.chain_config()?,
        )
        .context("invalid chain RPC URL")?,
    );
    let metrics = metrics::Metrics::new();
    // The committee is needed before serving: retry while the chain comes up.
    let view = {
        let mut attempts = 0;
        loop {
            match chain.committee_view(Some(keys.public())).await {
                Ok(view) => break view,
                Err(error) if attempts < 50 => {
                    attempts += 1;
                    tracing::warn!(%error, "chain not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => {
                    return Err(error).context("cannot read the committee from the chain")
                }
            }
        }
    };
    tracing::info!(
        epoch = view.epoch,
        member = ?view.own_index,
        shards = ?view.own_shards,
        "committee read"
    );
    let epoch = view.epoch;
    let node = Arc::new(StorageNode::new(
        store,
        keys,
        view,
        metrics,
        Duration::from_millis(config.registration_wait_ms),
        config.limits,
        config.max_body_bytes,
    )?);
    follower::collect_expired(&node, epoch).await?;

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let (recover_tx, recover_rx) = mpsc::unbounded_channel();
    let http =
        walrus_node_client::NodeConnector::new(Duration::from_secs(5), Duration::from_secs(60));
    let worker = recovery::Worker::new(
        node.clone(),
        chain.clone(),
        http.clone(),
        config.recovery_limits(),
    );
    let tasks = [
        tokio::spawn(follower::run_follower(
            node.clone(),
            chain.clone(),
            recover_tx.clone(),
            stopped.clone(),
        )),
        tokio::spawn(follower::run_epoch_watcher(
            node.clone(),
            chain.clone(),
            stopped.clone(),
        )),
        tokio::spawn(shard_sync::run_shard_sync(
            node.clone(),
            chain.clone(),
            worker.clone(),
            http,
            recover_tx.clone(),
            stopped.clone(),
        )),
        tokio::spawn(node::run_pending_flusher(node.clone(), stopped.clone())),
        tokio::spawn(recovery::run_recovery(
            worker,
            recover_tx,
            recover_rx,
            stopped.clone(),
        )),
    ];
    let app = wrap(server::router(node.clone()));
    let mut stop_signal = stopped.clone();
    let stop_serving = async move {
        let _ = stop_signal.changed().await;
    };
    let stopper = tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    match tls {
        Some(tls) => {
            let listener = tls::TlsListener::new(listener, tls)?;
            tracing::info!(%address, "REST API listening (HTTPS)");
            on_listening(address);
            axum::serve(listener, app)
                .with_graceful_shutdown(stop_serving)
                .await
        }
        None => {
            tracing::info!(%address, "REST API listening (plain HTTP)");
            on_listening(address);
            axum::serve(listener, app)
                .with_graceful_shutdown(stop_serving)
                .await
        }
    }
    .context("REST server failed")?;
    stopper.abort();
    for task in tasks {
        let _ = task.await;
    }
    tracing::info!("node stopped");
    Ok(())
}
