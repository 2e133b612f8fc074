//! Chain throughput of the localnet: N concurrent `reserve_space` + `register_blob`
//! transactions, then N `certify_blob` transactions with real BLS certificates, through
//! `walrus_chain::client::WalrusClient::execute` (Sui's `ExecuteTransaction` and a wait for
//! the transaction's checkpoint: `execute_transaction_and_wait_for_checkpoint`).
//!
//! Setup (not timed): a genesis with `BENCH_CLIENTS` funded client accounts (each with its
//! own gas and WAL coins, since owned objects serialize per sender) plus 5 committee users;
//! 4 storage nodes register, stake 1, 2, 3, 4 thousand WAL, and the epoch changes to 1.
//!
//! Each client sends `BENCH_BLOBS_PER_CLIENT` transactions one after the other (its gas coin
//! changes with every transaction); the clients run concurrently, so at most `BENCH_CLIENTS`
//! transactions are in flight. The register transaction is the programmable transaction of
//! `WalrusClient::reserve_and_register_blob` (reserve_space + register_blob + transfer), the
//! certify transaction the one of `WalrusClient::certify_blob`; the benchmark builds them
//! itself with the object references taken from the previous effects, so that the timed
//! call is exactly one execute-and-wait-for-checkpoint (no reads in between). The
//! certificates (nodes 2 and 3, 7 of 10 shards) are signed before the certify phase is
//! timed: BLS signing is excluded, BLS verification by the chain is included.
//!
//! Latency: from the submission of the signed transaction to the answer that it is in a
//! checkpoint (Ed25519 signing of the transaction included, a few µs).
//!
//! Environment: `BENCH_CLIENTS` (default 50), `BENCH_BLOBS_PER_CLIENT` (default 20),
//! `BENCH_STORES` (`memory,durable` by default), `BENCH_CHECKPOINT_MS` (default 100).

#[path = "../tests/integration/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{
    blob_ids, call, chain_config, committee_certificate, next_epoch_through, node_registration,
    reserve_space, tx_paid_with, user, ClientNode, Net, User, N_SHARDS, STAKES, WAL,
};
use fastcrypto::traits::ToFromBytes;
use sui_sdk_types::{Address, ObjectOut, StructTag, TransactionEffects};
use sui_transaction_builder::{ObjectInput, TransactionBuilder};
use walrus_chain::{
    client::{ChainConfig, ExecutedTransaction, WalrusClient},
    contract::{blob::Blob, redstuff, sui::U256},
};
use walrus_core::{
    crypto::signers_to_bitmap,
    messages::{BlobPersistenceType, Confirmation},
    BlobId,
};
use walrus_localchain::{service::ChainState, Executor, LocalServer, ServiceConfig};

/// Committee users are 1..=4 (user 0 changes the epoch); the clients follow.
const FIRST_CLIENT: usize = 5;
/// Nodes (indices into the committee setup) that sign the confirmations: 7 of 10 shards.
const SIGNERS: [usize; 2] = [2, 3];
const EPOCHS_AHEAD: u32 = 3;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// One benchmark client: its chain client and the current references of its coins.
struct BenchClient {
    client: WalrusClient,
    gas_id: Address,
    gas: ObjectInput,
    wal_id: Address,
    wal: ObjectInput,
}

/// Per-phase results.
struct Phase {
    name: &'static str,
    count: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    checkpoints: u64,
}

impl Phase {
    fn row(&self, store: &str) -> String {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        // Nearest rank (rounded down) of `percent`.
        let percentile =
            |percent: usize| sorted[(sorted.len() - 1) * percent / 100].as_secs_f64() * 1e3;
        let mean = sorted.iter().map(Duration::as_secs_f64).sum::<f64>() / sorted.len() as f64;
        format!(
            "| {store} | {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            self.name,
            self.count,
            self.wall.as_secs_f64(),
            self.count as f64 / self.wall.as_secs_f64(),
            percentile(50),
            percentile(95),
            sorted[sorted.len() - 1].as_secs_f64() * 1e3,
            mean * 1e3,
            self.checkpoints,
        )
    }
}

/// The new reference of the owned object `id` written by `executed`.
fn written_ref(executed: &ExecutedTransaction, id: Address) -> ObjectInput {
    let TransactionEffects::V2(effects) = &executed.effects else {
        panic!("the localnet answers V2 effects");
    };
    let change = effects
        .changed_objects
        .iter()
        .find(|change| change.object_id == id)
        .expect("the transaction wrote the object");
    let ObjectOut::ObjectWrite { digest, .. } = change.output_state else {
        panic!("{id} was not written");
    };
    ObjectInput::owned(id, effects.lamport_version, digest)
}

impl BenchClient {
    async fn new(client: WalrusClient, config: &ChainConfig) -> Self {
        let gas = client
            .owned_objects(client.address(), &StructTag::gas_coin())
            .await
            .unwrap()
            .remove(0);
        let wal = client
            .owned_objects(client.address(), &config.wal_coin_type())
            .await
            .unwrap()
            .remove(0);
        Self {
            client,
            gas_id: gas.id,
            gas: gas.owned_input(),
            wal_id: wal.id,
            wal: wal.owned_input(),
        }
    }

    fn transaction(&self) -> TransactionBuilder {
        let mut tx = tx_paid_with(self.client.address(), self.gas.clone());
        tx.set_gas_budget(self.client.config().gas_budget);
        tx
    }

    /// Executes `tx` and waits for its checkpoint; the latency.
    async fn execute(&mut self, tx: TransactionBuilder, wal_changes: bool) -> Duration {
        let start = Instant::now();
        let executed = self.client.execute(tx).await.unwrap();
        let latency = start.elapsed();
        assert!(executed.checkpoint.is_some());
        self.gas = written_ref(&executed, self.gas_id);
        if wal_changes {
            self.wal = written_ref(&executed, self.wal_id);
        }
        latency
    }

    /// `reserve_space` + `register_blob` (deletable) + transfer, as
    /// `WalrusClient::reserve_and_register_blob` builds it.
    async fn register(&mut self, blob_id: U256, root_hash: U256, size: u64) -> Duration {
        let encoded = redstuff::encoded_blob_length(size, redstuff::RS2, N_SHARDS).unwrap();
        let config = self.client.config();
        let mut tx = self.transaction();
        let system = tx.object(ObjectInput::shared(
            config.system_object,
            config.system_initial_shared_version,
            true,
        ));
        let wal = tx.object(self.wal.clone());
        let encoded = tx.pure(&encoded);
        let epochs = tx.pure(&EPOCHS_AHEAD);
        let storage = reserve_space(&mut tx, system, encoded, epochs, wal);
        let blob_id = tx.pure(&blob_id);
        let root = tx.pure(&root_hash);
        let size = tx.pure(&size);
        let encoding = tx.pure(&redstuff::RS2);
        let deletable = tx.pure(&true);
        let blob = call(
            &mut tx,
            "system",
            "register_blob",
            vec![
                system, storage, blob_id, root, size, encoding, deletable, wal,
            ],
        );
        let me = tx.pure(&self.client.address());
        tx.transfer_objects(vec![blob], me);
        self.execute(tx, true).await
    }

    /// `certify_blob`, as `WalrusClient::certify_blob` builds it.
    async fn certify(&mut self, blob: ObjectInput, certificate: &Certificate) -> Duration {
        let config = self.client.config();
        let mut tx = self.transaction();
        let system = tx.object(ObjectInput::shared(
            config.system_object,
            config.system_initial_shared_version,
            false,
        ));
        let blob = tx.object(blob);
        let signature = tx.pure(&certificate.signature);
        let bitmap = tx.pure(&certificate.bitmap);
        let message = tx.pure(&certificate.message);
        call(
            &mut tx,
            "system",
            "certify_blob",
            vec![system, blob, signature, bitmap, message],
        );
        self.execute(tx, false).await
    }
}

/// A confirmation certificate as the `certify_blob` arguments.
struct Certificate {
    signature: Vec<u8>,
    bitmap: Vec<u8>,
    message: Vec<u8>,
}

/// Runs `per_client` operations on every client concurrently; the wall time and latencies.
async fn run_phase<F, Fut>(clients: Vec<BenchClient>, op: F) -> (Vec<BenchClient>, Phase)
where
    F: Fn(BenchClient, usize) -> Fut,
    Fut: std::future::Future<Output = (BenchClient, Vec<Duration>)> + Send + 'static,
{
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(index, client)| tokio::spawn(op(client, index)))
        .collect();
    let mut clients = Vec::new();
    let mut latencies = Vec::new();
    for task in tasks {
        let (client, times) = task.await.unwrap();
        clients.push(client);
        latencies.extend(times);
    }
    let wall = start.elapsed();
    let phase = Phase {
        name: "",
        count: latencies.len(),
        wall,
        latencies,
        checkpoints: 0,
    };
    (clients, phase)
}

async fn latest_checkpoint(server: &LocalServer) -> u64 {
    server
        .service
        .state()
        .lock()
        .await
        .ledger
        .latest_sequence_number()
}

/// Registers the 4 nodes, stakes and changes the epoch; the nodes.
async fn setup_committee(server: &LocalServer, clients: &[WalrusClient]) -> Vec<ClientNode> {
    let mut nodes = Vec::new();
    for (i, stake) in STAKES.iter().enumerate() {
        let client = &clients[i + 1];
        let (bls, registration) = node_registration(i, client.address());
        let cap = client.register_candidate(&registration).await.unwrap();
        client
            .stake_with_pool(cap.node_id, stake * WAL)
            .await
            .unwrap();
        nodes.push(ClientNode { bls, cap });
    }
    next_epoch_through(server, &clients[0]).await;
    nodes
}

async fn bench(store: &str, n_clients: usize, per_client: usize, checkpoint_ms: u64) -> Vec<Phase> {
    let n_users = u8::try_from(FIRST_CLIENT + n_clients).expect("at most 250 clients");
    let genesis_config = Net::config(n_users);
    let service_config = ServiceConfig {
        checkpoint_interval: Duration::from_millis(checkpoint_ms),
        ..ServiceConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, genesis) = if store == "durable" {
        let (state, genesis) = ChainState::open(dir.path(), &genesis_config).unwrap();
        let server = LocalServer::start_with_state(state, service_config)
            .await
            .unwrap();
        (server, genesis)
    } else {
        let (executor, genesis) = Executor::from_genesis(&genesis_config).unwrap();
        (
            LocalServer::start(executor, service_config).await.unwrap(),
            genesis,
        )
    };
    let config = chain_config(&genesis);
    let users: Vec<User> = (1..=n_users).map(user).collect();
    let clients: Vec<WalrusClient> = users
        .iter()
        .map(|user| WalrusClient::new(&server.url(), user.key.clone(), config.clone()).unwrap())
        .collect();
    let nodes = setup_committee(&server, &clients).await;
    let committee = clients[0].committee().await.unwrap();
    let epoch = clients[0].system().await.unwrap().epoch();
    let n_members = committee.members.len();

    let mut bench_clients = Vec::new();
    for client in &clients[FIRST_CLIENT..] {
        bench_clients.push(BenchClient::new(client.clone(), &config).await);
    }
    // Distinct blobs, their IDs computed before timing.
    let blobs: Vec<Vec<(U256, U256, u64)>> = (0..n_clients)
        .map(|c| {
            (0..per_client)
                .map(|b| {
                    let data = format!("benchmark blob {c}/{b}").into_bytes();
                    let (blob_id, root) = blob_ids(&data);
                    (blob_id, root, data.len() as u64)
                })
                .collect()
        })
        .collect();

    // Phase 1: register.
    let before = latest_checkpoint(&server).await;
    let blobs = std::sync::Arc::new(blobs);
    let (bench_clients, mut register) = run_phase(bench_clients, |mut client, index| {
        let blobs = blobs.clone();
        async move {
            let mut times = Vec::new();
            for (blob_id, root, size) in &blobs[index] {
                times.push(client.register(*blob_id, *root, *size).await);
            }
            (client, times)
        }
    })
    .await;
    register.name = "register (reserve_space + register_blob)";
    register.checkpoints = latest_checkpoint(&server).await - before;

    // Certificates (not timed): each client's blobs, confirmation signed by nodes 2 and 3.
    let mut work = Vec::new();
    for client in &bench_clients {
        let blob_type = config.walrus_type("blob", "Blob");
        let mut items = Vec::new();
        for object in client
            .client
            .owned_objects(client.client.address(), &blob_type)
            .await
            .unwrap()
        {
            let blob: Blob = object.decode().unwrap();
            let message = Confirmation::for_blob(
                epoch,
                BlobId::from(blob.blob_id),
                BlobPersistenceType::Deletable { object_id: blob.id },
            );
            let (certificate, signers) =
                committee_certificate(&committee, &SIGNERS.map(|i| &nodes[i]), &message);
            items.push((
                object.owned_input(),
                Certificate {
                    signature: certificate.signature.as_bytes().to_vec(),
                    bitmap: signers_to_bitmap(&signers, n_members).unwrap(),
                    message: certificate.serialized_message,
                },
            ));
        }
        assert_eq!(items.len(), per_client);
        work.push(items);
    }

    // Phase 2: certify.
    let before = latest_checkpoint(&server).await;
    let work = std::sync::Arc::new(std::sync::Mutex::new(work));
    let (bench_clients, mut certify) = run_phase(bench_clients, |mut client, index| {
        let items = std::mem::take(&mut work.lock().unwrap()[index]);
        async move {
            let mut times = Vec::new();
            for (blob, certificate) in items {
                times.push(client.certify(blob, &certificate).await);
            }
            (client, times)
        }
    })
    .await;
    certify.name = "certify (BLS certificate)";
    certify.checkpoints = latest_checkpoint(&server).await - before;

    // Every blob is certified.
    for client in &bench_clients {
        let blobs = client.client.owned_blobs().await.unwrap();
        assert_eq!(blobs.len(), per_client);
        assert!(blobs.iter().all(|blob| blob.certified_epoch == Some(epoch)));
    }
    drop(server);
    vec![register, certify]
}

#[tokio::main]
async fn main() {
    let n_clients: usize = env_or("BENCH_CLIENTS", 50);
    let per_client: usize = env_or("BENCH_BLOBS_PER_CLIENT", 20);
    let checkpoint_ms: u64 = env_or("BENCH_CHECKPOINT_MS", 100);
    let stores: String = env_or("BENCH_STORES", "memory,durable".to_owned());
    // `cargo bench` passes `--bench`; nothing else is accepted.
    println!(
        "{n_clients} clients x {per_client} blobs = {} transactions per phase, checkpoint \
         interval {checkpoint_ms} ms, {} worker threads",
        n_clients * per_client,
        std::thread::available_parallelism().map_or(1, usize::from),
    );
    let mut rows = Vec::new();
    for store in stores.split(',').filter(|store| !store.is_empty()) {
        for phase in bench(store, n_clients, per_client, checkpoint_ms).await {
            rows.push(phase.row(store));
        }
    }
    println!();
    println!(
        "| store | phase | txs | wall s | TPS | p50 ms | p95 ms | max ms | mean ms | checkpoints |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!();
    println!(
        "latency: submit of the signed transaction -> answer that it is in a checkpoint \
         (execute_transaction_and_wait_for_checkpoint); certificates signed before timing"
    );
}
