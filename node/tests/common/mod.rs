//! A real test network for the storage node: the chain service (`walrus-localnet`) in process
//! on free ports, `N_NODES` `walrus-node` processes with their own configuration files,
//! databases and logs in a temporary directory, and a small test client that encodes,
//! registers, uploads, collects confirmations and certifies.
//!
//! Everything is synchronized by polling with deadlines. The tests of a binary run one at a
//! time ([`run`]), each with its own network; every process is killed when the [`Cluster`] is
//! dropped (also on panic, when the node logs are printed).

#![allow(dead_code)]

use std::{
    future::Future,
    io::{BufRead, BufReader},
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

use fastcrypto::traits::ToFromBytes;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::Address;
use tokio::sync::oneshot;
use walrus_chain::{
    client::{BlobRegistration, ChainConfig, WalrusClient},
    contract::{blob::Blob, redstuff, sui::U256},
};
use walrus_core::{
    crypto::{ProtocolKeyPair, PublicKey, Threshold},
    encoding::{encode_blob, BlobLayout, EncodingConfig, SliverPair},
    merkle::Node as MerkleNode,
    messages::{ConfirmationCertificate, SignedStorageConfirmation},
    metadata::BlobMetadata,
    BlobId, ObjectId, ShardIndex, SliverPairIndex,
};
use walrus_localnet::launcher::{
    run_chain, AccountEntry, ChainOptions, FaucetConfig, GenesisFile, NodeEntry, ONE_COIN,
};
use walrus_node_client::{api::BlobStatus, NodeClient, NodeClientError};

/// Storage nodes of the network.
pub const N_NODES: usize = 4;
/// Shards: with stakes 1:2:3:4 the nodes hold 1, 2, 3 and 4 shards.
pub const N_SHARDS: u16 = 10;
/// Stake of node `i` (FROST).
pub const STAKES: [u64; N_NODES] = [
    1_000 * ONE_COIN,
    2_000 * ONE_COIN,
    3_000 * ONE_COIN,
    4_000 * ONE_COIN,
];
/// How long a node waits for a registration event before answering NOT_REGISTERED.
pub const REGISTRATION_WAIT_MS: u64 = 500;
/// Default deadline of a poll.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(20);

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs one test: one at a time per test binary (each test starts 4 node processes and a
/// chain; the machines running this may have 2 CPUs), on a fresh multi-threaded runtime.
pub fn run<F: Future<Output = ()>>(test: impl FnOnce() -> F) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(test());
    runtime.shutdown_timeout(Duration::from_secs(2));
}

/// Polls `check` every 50 ms until it returns `Ok`; panics with the last `Err` after
/// `timeout`.
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "timed out after {timeout:?} waiting for {what}; last state: {last}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deterministic pseudo-random bytes.
pub fn test_data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// A free port on 127.0.0.1 for each entry (all bound at once, so they differ).
fn free_addresses(count: usize) -> Vec<SocketAddr> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("a bound address"))
        .collect()
}

/// One `walrus-node` process (or its configuration while it is stopped).
pub struct NodeProcess {
    /// Position in the genesis file.
    pub index: usize,
    /// REST address.
    pub address: SocketAddr,
    /// The TOML configuration file.
    pub config_path: PathBuf,
    /// The database directory.
    pub storage_path: PathBuf,
    /// stdout and stderr of every run.
    pub log_path: PathBuf,
    /// The BLS key.
    pub keys: ProtocolKeyPair,
    /// A client of its REST API.
    pub client: NodeClient,
    /// Its shards (from the chain).
    pub shards: Vec<ShardIndex>,
    child: Option<Child>,
}

impl NodeProcess {
    /// Starts the process (appending to its log).
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "node {} already runs", self.index);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("the node log");
        let child = Command::new(env!("CARGO_BIN_EXE_walrus-node"))
            .arg("run")
            .arg("--config")
            .arg(&self.config_path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log handle"))
            .stderr(log)
            .spawn()
            .expect("the walrus-node binary starts");
        self.child = Some(child);
    }

    /// Waits until the node printed `listening on` and answers `GET /v1/health`.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + POLL_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "node {} exited with {status} while starting:\n{}",
                        self.index,
                        self.log_tail(80)
                    );
                }
            }
            let listening = self
                .log_text()
                .contains(&format!("listening on {}", self.address));
            if listening && self.client.health().await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not become ready:\n{}",
                self.index,
                self.log_tail(80)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process ID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Appends `text` (TOML) to the configuration file (restart to apply).
    pub fn append_config(&self, text: &str) {
        let mut config = std::fs::read_to_string(&self.config_path).expect("the node config");
        config.push_str(text);
        std::fs::write(&self.config_path, config).expect("write the node config");
    }

    /// Whether the process runs.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGTERM, then waits for the exit (graceful stop); SIGKILL if it takes over 10 s.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(
                    status.success(),
                    "node {} stopped with {status}:\n{}",
                    self.index,
                    self.log_tail(40)
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "node {} ignored SIGTERM:\n{}",
                    self.index,
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The whole log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let Ok(file) = std::fs::File::open(&self.log_path) else {
            return String::from("(no log)");
        };
        let all: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The value of an unlabelled metric from `GET /metrics`.
    pub async fn metric(&self, name: &str) -> f64 {
        let url = self.client.url(&walrus_node_client::api::metrics_path());
        let text = self
            .client
            .http_client()
            .get(url)
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(' ')?;
                (key == name).then(|| value.trim().parse().ok()).flatten()
            })
            .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A committee member, in on-chain order (its position is its signer index).
#[derive(Debug, Clone)]
pub struct Member {
    /// The node (index into [`Cluster::nodes`]).
    pub node: usize,
    /// Shards held.
    pub weight: u16,
    /// BLS key.
    pub public_key: PublicKey,
}

/// A blob encoded by the test client (possibly with doctored metadata).
#[derive(Debug, Clone)]
pub struct TestBlob {
    /// The blob's bytes.
    pub data: Vec<u8>,
    /// Its blob ID.
    pub blob_id: BlobId,
    /// Its metadata.
    pub metadata: BlobMetadata,
    /// The sliver pairs, by pair index.
    pub pairs: Vec<SliverPair>,
    /// Symbol size and sliver lengths.
    pub layout: BlobLayout,
}

impl TestBlob {
    /// The registration of this blob (permanent, 5 epochs).
    pub fn registration(&self) -> BlobRegistration {
        let MerkleNode::Digest(root) = self.metadata.root_hash() else {
            panic!("a blob has a root");
        };
        BlobRegistration {
            blob_id: U256::from(self.blob_id),
            root_hash: U256(root),
            size: self.data.len() as u64,
            encoding_type: redstuff::RS2,
            deletable: false,
            epochs_ahead: 5,
        }
    }

    /// The pair with index `pair`.
    pub fn pair(&self, pair: SliverPairIndex) -> &SliverPair {
        &self.pairs[usize::from(pair.0)]
    }
}

/// The network: chain, nodes and a funded test client.
pub struct Cluster {
    /// The nodes, in genesis order.
    pub nodes: Vec<NodeProcess>,
    /// The committee, in on-chain order.
    pub members: Vec<Member>,
    /// The epoch.
    pub epoch: u32,
    /// The chain client of the test (funded).
    pub walrus: WalrusClient,
    /// The chain's gRPC URL.
    pub rpc_url: String,
    /// The Walrus objects.
    pub chain_config: ChainConfig,
    chain_stop: Option<oneshot::Sender<()>>,
    dir: tempfile::TempDir,
}

fn hex_seed(seed: u8) -> String {
    hex::encode([seed; 32])
}

fn sui_key(seed: u8) -> Ed25519PrivateKey {
    Ed25519PrivateKey::new([seed; 32])
}

fn sui_address(seed: u8) -> Address {
    sui_key(seed).public_key().derive_address()
}

const CLIENT_KEY_SEED: u8 = 200;
const NODE_SUI_SEED: u8 = 100;
const NODE_BLS_SEED: u8 = 1;

impl Cluster {
    /// Starts the chain and the nodes and waits until all are ready.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let addresses = free_addresses(2 + N_NODES);
        let (grpc, faucet) = (addresses[0], addresses[1]);
        let node_addresses = &addresses[2..];

        let genesis = GenesisFile {
            n_shards: N_SHARDS,
            // No epoch change during a test.
            epoch_duration_ms: 3_600_000,
            max_epochs_ahead: 10,
            start_timestamp_ms: 0,
            accounts: std::iter::once(AccountEntry {
                address: sui_address(CLIENT_KEY_SEED).to_string(),
                sui: 1_000 * ONE_COIN,
                wal: 100_000 * ONE_COIN,
            })
            .chain((0..N_NODES).map(|i| AccountEntry {
                address: sui_address(NODE_SUI_SEED + seed_offset(i)).to_string(),
                sui: 100 * ONE_COIN,
                wal: 0,
            }))
            .collect(),
            nodes: (0..N_NODES)
                .map(|i| NodeEntry {
                    owner: sui_address(NODE_SUI_SEED + seed_offset(i)).to_string(),
                    name: Some(format!("node-{i}")),
                    network_address: node_addresses[i].to_string(),
                    bls_seed: Some(hex_seed(NODE_BLS_SEED + seed_offset(i))),
                    bls_private_key: None,
                    network_public_key: None,
                    stake: STAKES[i],
                    commission_rate: 0,
                    storage_price: 100,
                    write_price: 10,
                    capacity: 1 << 40,
                })
                .collect(),
        };
        let genesis_path = dir.path().join("genesis.toml");
        std::fs::write(&genesis_path, genesis.to_toml().expect("genesis TOML"))
            .expect("write the genesis");

        let (chain_stop, stopped) = oneshot::channel::<()>();
        let options = ChainOptions {
            dir: dir.path().join("chain"),
            listen: grpc,
            faucet_listen: Some(faucet),
            genesis: Some(genesis_path),
            epoch_duration_ms: None,
            checkpoint_interval: Duration::from_millis(50),
            faucet: FaucetConfig::default(),
        };
        tokio::spawn(async move {
            if let Err(error) = run_chain(options, async move {
                let _ = stopped.await;
            })
            .await
            {
                eprintln!("the chain failed: {error:#}");
            }
        });

        // The faucet's /health names the Walrus objects.
        let http = walrus_node_client::default_http_client(
            Duration::from_secs(2),
            Duration::from_secs(10),
        );
        let health: serde_json::Value = poll("the chain's faucet", POLL_TIMEOUT, || {
            let request = http.get(format!("http://{faucet}/health"));
            async move {
                let response = request.send().await.map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("HTTP {}", response.status()));
                }
                response.json().await.map_err(|e| e.to_string())
            }
        })
        .await;
        let field = |name: &str| {
            health[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {health}"))
                .to_owned()
        };
        let initial_shared_version = health["initial_shared_version"]
            .as_u64()
            .expect("initial_shared_version");
        let parse = |text: String| -> Address { text.parse().expect("an object ID") };
        let chain_config = ChainConfig::new(
            parse(field("wal_package")),
            parse(field("walrus_package")),
            parse(field("system_object")),
            parse(field("staking_object")),
            initial_shared_version,
        );
        let rpc_url = format!("http://{grpc}");
        let walrus = WalrusClient::new(&rpc_url, sui_key(CLIENT_KEY_SEED), chain_config.clone())
            .expect("a chain client");

        let (system, staking) = poll("the committee on chain", POLL_TIMEOUT, || async {
            let system = walrus.system().await.map_err(|e| e.to_string())?;
            let staking = walrus.staking().await.map_err(|e| e.to_string())?;
            Ok((system, staking))
        })
        .await;
        let keys: Vec<ProtocolKeyPair> = (0..N_NODES)
            .map(|i| ProtocolKeyPair::from_seed([NODE_BLS_SEED + seed_offset(i); 32]))
            .collect();
        let mut members = Vec::new();
        let mut shards_of = vec![Vec::new(); N_NODES];
        for member in &system.committee.members {
            let node = keys
                .iter()
                .position(|key| key.public().as_bytes() == member.public_key.as_slice())
                .expect("a committee member of the genesis");
            for (shard, owner) in staking.shard_assignment.iter().enumerate() {
                if *owner == member.node_id {
                    shards_of[node].push(ShardIndex(u16::try_from(shard).expect("a shard")));
                }
            }
            members.push(Member {
                node,
                weight: member.weight,
                public_key: keys[node].public().clone(),
            });
        }
        let weights: Vec<usize> = shards_of.iter().map(Vec::len).collect();
        assert_eq!(weights, vec![1, 2, 3, 4], "shards by stake");

        let chain_section = table([
            ("rpc_url", rpc_url.clone().into()),
            ("wal_package", field("wal_package").into()),
            ("walrus_package", field("walrus_package").into()),
            ("system_object", field("system_object").into()),
            ("staking_object", field("staking_object").into()),
            (
                "initial_shared_version",
                i64::try_from(initial_shared_version).unwrap().into(),
            ),
        ]);
        let mut nodes = Vec::new();
        for (i, key) in keys.into_iter().enumerate() {
            let node_dir = dir.path().join(format!("node-{i}"));
            std::fs::create_dir_all(&node_dir).expect("a node directory");
            let storage_path = node_dir.join("db");
            // The configuration file (node/src/config.rs), written as TOML.
            let config = table([
                (
                    "storage_path",
                    storage_path.to_str().expect("a UTF-8 path").into(),
                ),
                ("listen", node_addresses[i].to_string().into()),
                ("bls_seed", hex_seed(NODE_BLS_SEED + seed_offset(i)).into()),
                (
                    "sui_private_key",
                    hex_seed(NODE_SUI_SEED + seed_offset(i)).into(),
                ),
                (
                    "registration_wait_ms",
                    i64::try_from(REGISTRATION_WAIT_MS).unwrap().into(),
                ),
                ("max_body_bytes", (64i64 << 20).into()),
                ("chain", chain_section.clone().into()),
                (
                    "recovery",
                    table([
                        ("max_concurrent_blobs", 4.into()),
                        ("max_concurrent_requests", 16.into()),
                        ("retry_delay_ms", 300.into()),
                    ])
                    .into(),
                ),
            ]);
            let config_path = node_dir.join("node.toml");
            std::fs::write(
                &config_path,
                toml::to_string(&config).expect("node config TOML"),
            )
            .expect("write the node config");
            nodes.push(NodeProcess {
                index: i,
                address: node_addresses[i],
                config_path,
                storage_path,
                log_path: node_dir.join("node.log"),
                keys: key,
                client: NodeClient::with_http(
                    &format!("http://{}", node_addresses[i]),
                    http.clone(),
                )
                .expect("a node client"),
                shards: shards_of[i].clone(),
                child: None,
            });
        }
        let mut cluster = Self {
            nodes,
            members,
            epoch: system.committee.epoch,
            walrus,
            rpc_url,
            chain_config,
            chain_stop: Some(chain_stop),
            dir,
        };
        for node in &mut cluster.nodes {
            node.spawn();
        }
        for node in &mut cluster.nodes {
            node.wait_ready().await;
        }
        for node in &cluster.nodes {
            let health = node.client.health().await.expect("health");
            let mut expected: Vec<u16> = node.shards.iter().map(|s| s.0).collect();
            expected.sort_unstable();
            let mut actual = health.shards.clone();
            actual.sort_unstable();
            assert_eq!(actual, expected, "node {} sees other shards", node.index);
            assert_eq!(health.epoch, cluster.epoch);
        }
        cluster
    }

    /// The temporary directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The encoding configuration of the network.
    pub fn encoding_config(&self) -> EncodingConfig {
        EncodingConfig::new(N_SHARDS).expect("an encoding config")
    }

    /// Encodes `data`.
    pub fn encode(&self, data: Vec<u8>) -> TestBlob {
        let encoded = encode_blob(&self.encoding_config(), &data).expect("encode");
        TestBlob {
            blob_id: *encoded.metadata.blob_id(),
            metadata: encoded.metadata.metadata().clone(),
            layout: *encoded.metadata.layout(),
            pairs: encoded.sliver_pairs,
            data,
        }
    }

    /// The node holding pair `pair` of `blob_id`.
    pub fn holder(&self, blob_id: &BlobId, pair: SliverPairIndex) -> usize {
        let shard = pair.to_shard_index(N_SHARDS, blob_id);
        self.nodes
            .iter()
            .position(|node| node.shards.contains(&shard))
            .expect("every shard has an owner")
    }

    /// The pairs of `blob_id` held by node `node`.
    pub fn pairs_of(&self, node: usize, blob_id: &BlobId) -> Vec<SliverPairIndex> {
        self.nodes[node]
            .shards
            .iter()
            .map(|shard| shard.to_pair_index(N_SHARDS, blob_id))
            .collect()
    }

    /// Shards held by node `node`.
    pub fn weight(&self, node: usize) -> u16 {
        u16::try_from(self.nodes[node].shards.len()).expect("a weight")
    }

    /// Registers `blob` on chain (permanent); returns the `Blob` object.
    pub async fn register(&self, blob: &TestBlob) -> Blob {
        self.walrus
            .reserve_and_register_blob(&blob.registration())
            .await
            .expect("register the blob")
    }

    /// Waits until node `node` has seen the registration of `blob_id`.
    pub async fn wait_registered(&self, node: usize, blob_id: &BlobId) {
        let client = &self.nodes[node].client;
        poll("the node to see the registration", POLL_TIMEOUT, || async {
            match client.get_blob_status(blob_id).await {
                Ok(BlobStatus::Nonexistent) => Err("nonexistent".to_owned()),
                Ok(_) => Ok(()),
                Err(error) => Err(error.to_string()),
            }
        })
        .await;
    }

    /// Uploads the metadata and the slivers of each node's pairs to each node of `nodes`.
    pub async fn upload(&self, blob: &TestBlob, nodes: &[usize]) {
        for &node in nodes {
            self.wait_registered(node, &blob.blob_id).await;
            let client = &self.nodes[node].client;
            client
                .put_metadata(&blob.blob_id, &blob.metadata)
                .await
                .unwrap_or_else(|e| panic!("PUT metadata to node {node}: {e}"));
            for pair in self.pairs_of(node, &blob.blob_id) {
                let slivers = blob.pair(pair);
                client
                    .put_sliver(&blob.blob_id, pair, &slivers.primary)
                    .await
                    .unwrap_or_else(|e| panic!("PUT primary {} to node {node}: {e}", pair.0));
                client
                    .put_sliver(&blob.blob_id, pair, &slivers.secondary)
                    .await
                    .unwrap_or_else(|e| panic!("PUT secondary {} to node {node}: {e}", pair.0));
            }
        }
    }

    /// Node `node`'s storage confirmation of `blob_id` (permanent), polled until it signs;
    /// its signature is checked.
    pub async fn confirmation(&self, node: usize, blob_id: &BlobId) -> SignedStorageConfirmation {
        let client = &self.nodes[node].client;
        let signed = poll("a storage confirmation", POLL_TIMEOUT, || async {
            client
                .get_confirmation(blob_id, None)
                .await
                .map_err(|e: NodeClientError| e.to_string())
        })
        .await;
        signed
            .verify_signature(self.nodes[node].keys.public())
            .expect("a valid confirmation signature");
        signed
    }

    /// Confirmations from the members among `nodes` (committee order) until they carry a
    /// quorum of shards; panics if they cannot.
    pub async fn certificate(&self, blob_id: &BlobId, nodes: &[usize]) -> ConfirmationCertificate {
        let mut signed = Vec::new();
        let mut signers = Vec::new();
        let mut weight = 0;
        for (index, member) in self.members.iter().enumerate() {
            if Threshold::Quorum.is_met(weight, N_SHARDS) {
                break;
            }
            if !nodes.contains(&member.node) {
                continue;
            }
            signed.push(self.confirmation(member.node, blob_id).await);
            signers.push(u16::try_from(index).expect("a signer index"));
            weight += member.weight;
        }
        assert!(
            Threshold::Quorum.is_met(weight, N_SHARDS),
            "nodes {nodes:?} carry only {weight} shards"
        );
        ConfirmationCertificate::from_signed_messages_and_indices(&signed, &signers)
            .expect("a confirmation certificate")
    }

    /// Certifies the blob object `object` with `certificate`; returns the certified object.
    pub async fn certify(&self, object: ObjectId, certificate: &ConfirmationCertificate) -> Blob {
        let blob = self
            .walrus
            .certify_blob(object, certificate)
            .await
            .expect("the chain accepts the certificate");
        assert!(
            blob.certified_epoch.is_some(),
            "the Blob object is certified"
        );
        blob
    }

    /// Encodes, registers, uploads to `upload_to`, certifies with confirmations of
    /// `upload_to`; returns the blob and its object.
    pub async fn store(&self, data: Vec<u8>, upload_to: &[usize]) -> (TestBlob, Blob) {
        let blob = self.encode(data);
        let object = self.register(&blob).await;
        self.upload(&blob, upload_to).await;
        let certificate = self.certificate(&blob.blob_id, upload_to).await;
        let certified = self.certify(object.id, &certificate).await;
        (blob, certified)
    }

    /// Waits until node `node` reports `blob_id` as a certified permanent blob.
    pub async fn wait_certified(&self, node: usize, blob_id: &BlobId) -> BlobStatus {
        let client = &self.nodes[node].client;
        poll(
            "the node to see the certification",
            POLL_TIMEOUT,
            || async {
                match client.get_blob_status(blob_id).await {
                    Ok(
                        status @ BlobStatus::Permanent {
                            is_certified: true, ..
                        },
                    ) => Ok(status),
                    Ok(other) => Err(format!("{other:?}")),
                    Err(error) => Err(error.to_string()),
                }
            },
        )
        .await
    }

    /// Waits until node `node` stores every sliver of its pairs of `blob`, then checks each
    /// against the encoder's slivers (and the metadata).
    pub async fn wait_all_slivers(&self, node: usize, blob: &TestBlob, timeout: Duration) {
        let client = &self.nodes[node].client;
        for pair in self.pairs_of(node, &blob.blob_id) {
            for axis in [
                walrus_core::SliverType::Primary,
                walrus_core::SliverType::Secondary,
            ] {
                poll("a recovered sliver", timeout, || async {
                    match client.get_sliver_status(&blob.blob_id, pair, axis).await {
                        Ok(status) if status.is_stored() => Ok(()),
                        Ok(status) => Err(format!("pair {} {axis:?}: {status:?}", pair.0)),
                        Err(error) => Err(error.to_string()),
                    }
                })
                .await;
            }
        }
        self.check_slivers(node, blob).await;
    }

    /// Checks that node `node` serves the metadata and every sliver of its pairs of `blob`
    /// exactly as encoded.
    pub async fn check_slivers(&self, node: usize, blob: &TestBlob) {
        let client = &self.nodes[node].client;
        let metadata = client
            .get_metadata(&blob.blob_id)
            .await
            .unwrap_or_else(|e| panic!("GET metadata from node {node}: {e}"));
        assert_eq!(metadata.metadata, blob.metadata, "metadata of node {node}");
        for pair in self.pairs_of(node, &blob.blob_id) {
            let expected = blob.pair(pair);
            let primary = client
                .get_sliver::<walrus_core::encoding::Primary>(&blob.blob_id, pair)
                .await
                .unwrap_or_else(|e| panic!("GET primary {} from node {node}: {e}", pair.0));
            assert_eq!(
                primary, expected.primary,
                "primary {} on node {node}",
                pair.0
            );
            let secondary = client
                .get_sliver::<walrus_core::encoding::Secondary>(&blob.blob_id, pair)
                .await
                .unwrap_or_else(|e| panic!("GET secondary {} from node {node}: {e}", pair.0));
            assert_eq!(
                secondary, expected.secondary,
                "secondary {} on node {node}",
                pair.0
            );
        }
    }
}

/// A TOML table of `entries`.
fn table<const N: usize>(entries: [(&str, toml::Value); N]) -> toml::Table {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// Seed offset of node `i`.
fn seed_offset(i: usize) -> u8 {
    u8::try_from(i).expect("few nodes")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        if std::thread::panicking() {
            for node in &self.nodes {
                eprintln!(
                    "===== log of node {} ({}) =====\n{}",
                    node.index,
                    node.address,
                    node.log_tail(150)
                );
            }
        }
        if let Some(stop) = self.chain_stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An upload stuck in the middle of its body: `PUT path` to the node at `address` announcing
/// `body.len()` bytes, of which only the first half is sent. The node waits for the rest; the
/// connection is returned open.
pub async fn start_half_sent_put(
    address: SocketAddr,
    path: &str,
    body: &[u8],
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("a connection to the node");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: {}\r\n\
         content-length: {}\r\n\r\n",
        walrus_node_client::BCS_CONTENT_TYPE,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("sent");
    stream
        .write_all(&body[..body.len() / 2])
        .await
        .expect("sent");
    stream.flush().await.expect("flushed");
    stream
}
