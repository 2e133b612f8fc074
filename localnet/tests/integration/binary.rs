//! The `walrus-localnet` binary as a real process: genesis with a committee from a genesis
//! file, gRPC through `sui_rpc::Client`, the HTTP faucet, the epoch clock, graceful (SIGTERM)
//! and hard (SIGKILL) restarts on the same data directory; an event consumer that resumes
//! from its durably recorded cursor across a SIGKILL of the chain.

use std::{
    io::Write,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fastcrypto::traits::ToFromBytes;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_rpc::{
    field::{FieldMask, FieldMaskUtil},
    proto::sui::rpc::v2::{GetBalanceRequest, GetObjectRequest, GetServiceInfoRequest},
    Client,
};
use sui_sdk_types::Address;
use walrus_chain::{
    client::{BlobRegistration, ChainConfig, ChainEvent, ClientError, EventCursor, WalrusClient},
    contract::{redstuff, sui::U256, system::System},
};
use walrus_core::{
    crypto::ProtocolKeyPair,
    encoding::{compute_metadata, EncodingConfig},
    merkle::Node as MerkleNode,
};
use walrus_localchain::{WALRUS_PACKAGE_ID, WAL_PACKAGE_ID};

const EPOCH_MS: u64 = 1_500;
const COIN: u64 = 1_000_000_000;

const GENESIS: &str = r#"
n_shards = 6
epoch_duration_ms = 60000 # overridden on the command line
max_epochs_ahead = 10

[[accounts]]
address = "0xa1"
sui = 1000000000000
wal = 500000000000

[[nodes]]
owner = "OWNER_B1"
name = "alice"
network_address = "127.0.0.1:9101"
bls_seed = "0101010101010101010101010101010101010101010101010101010101010101"
stake = 1000000000000
storage_price = 100
write_price = 10
capacity = 1099511627776

[[nodes]]
owner = "OWNER_B2"
network_address = "127.0.0.1:9102"
bls_seed = "0202020202020202020202020202020202020202020202020202020202020202"
stake = 2000000000000
"#;

/// The address of the wallet with the key of `seed` (see [`walrus_client`]).
fn wallet_address(seed: u8) -> Address {
    Ed25519PrivateKey::new([seed; 32])
        .public_key()
        .derive_address()
}

/// A temporary directory holding `GENESIS` (the nodes owned by the wallets of seeds `0xb1` and
/// `0xb2`): (the directory, the chain's data directory in it, the genesis file).
fn chain_dir() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let genesis = temp.path().join("genesis.toml");
    let text = GENESIS
        .replace("OWNER_B1", &wallet_address(0xb1).to_string())
        .replace("OWNER_B2", &wallet_address(0xb2).to_string());
    std::fs::write(&genesis, text).unwrap();
    let dir = temp.path().join("chain");
    (temp, dir, genesis)
}

/// Two free ports (both bound at once, so they differ).
fn free_ports() -> (SocketAddr, SocketAddr) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (a.local_addr().unwrap(), b.local_addr().unwrap())
}

/// A request to the faucet at `faucet` with `body` as its JSON: (status, JSON answer).
async fn http(
    faucet: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> reqwest::Result<(u16, serde_json::Value)> {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .request(method.parse().unwrap(), format!("http://{faucet}{path}"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_owned())
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

struct Node {
    child: Child,
    grpc: SocketAddr,
    faucet: SocketAddr,
}

impl Node {
    fn start(dir: &Path, genesis: &Path) -> Self {
        let (grpc, faucet) = free_ports();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.parent().unwrap().join("localnet.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_walrus-localnet"))
            .args(["chain", "--dir"])
            .arg(dir)
            .args(["--listen", &grpc.to_string()])
            .args(["--faucet-listen", &faucet.to_string()])
            .arg("--genesis")
            .arg(genesis)
            .args(["--epoch-duration-ms", &EPOCH_MS.to_string()])
            .args(["--checkpoint-interval-ms", "50"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Self {
            child,
            grpc,
            faucet,
        }
    }

    /// Waits until gRPC and the faucet answer.
    async fn client(&self) -> Client {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut client = Client::new(format!("http://{}", self.grpc)).unwrap();
            let grpc_ok = client
                .ledger_client()
                .get_service_info(GetServiceInfoRequest::default())
                .await
                .is_ok();
            if grpc_ok && http(self.faucet, "GET", "/health", "").await.is_ok() {
                return client;
            }
            assert!(Instant::now() < deadline, "the localnet did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn chain_id(client: &mut Client) -> String {
    client
        .ledger_client()
        .get_service_info(GetServiceInfoRequest::default())
        .await
        .unwrap()
        .into_inner()
        .chain_id()
        .to_owned()
}

async fn system(client: &mut Client, id: &str) -> System {
    let response = client
        .ledger_client()
        .get_object(
            GetObjectRequest::default()
                .with_object_id(id.to_owned())
                .with_read_mask(FieldMask::from_str("contents")),
        )
        .await
        .unwrap()
        .into_inner();
    bcs::from_bytes(response.object().contents().value()).unwrap()
}

async fn balance(client: &mut Client, owner: Address, coin_type: &str) -> u64 {
    client
        .state_client()
        .get_balance(
            GetBalanceRequest::default()
                .with_owner(owner.to_string())
                .with_coin_type(coin_type),
        )
        .await
        .unwrap()
        .get_ref()
        .balance()
        .balance()
}

/// Polls until the system's epoch is above `epoch`.
async fn wait_epoch_above(client: &mut Client, system_id: &str, epoch: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_millis(4 * EPOCH_MS);
    loop {
        let now = system(client, system_id).await.committee.epoch;
        if now > epoch {
            return now;
        }
        assert!(Instant::now() < deadline, "the epoch stayed at {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A chain client of `node` with the key of `seed`, configured from the faucet's `GET /health`
/// answer.
fn walrus_client(node: &Node, health: &serde_json::Value, seed: u8) -> WalrusClient {
    let config = ChainConfig::new(
        WAL_PACKAGE_ID,
        WALRUS_PACKAGE_ID,
        health["system_object"].as_str().unwrap().parse().unwrap(),
        health["staking_object"].as_str().unwrap().parse().unwrap(),
        health["initial_shared_version"].as_u64().unwrap(),
    );
    WalrusClient::new(
        &format!("http://{}", node.grpc),
        Ed25519PrivateKey::new([seed; 32]),
        config,
    )
    .unwrap()
}

#[tokio::test]
async fn binary_genesis_faucet_epochs_and_restarts() {
    let (_temp, dir, genesis) = chain_dir();
    let wal_type = format!("{WAL_PACKAGE_ID}::wal::WAL");

    let mut node = Node::start(&dir, &genesis);
    let mut client = node.client().await;
    let chain = chain_id(&mut client).await;
    let (status, health) = http(node.faucet, "GET", "/health", "").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(health["chain_id"], chain.as_str());
    let system_id = health["system_object"].as_str().unwrap().to_owned();

    // Genesis: epoch 1 has the committee of the file's nodes, shards by stake (2 + 4 of 6).
    let state = system(&mut client, &system_id).await;
    assert!(state.committee.epoch >= 1);
    let keys: Vec<Vec<u8>> = [1u8, 2]
        .map(|seed| {
            ProtocolKeyPair::from_seed([seed; 32])
                .public()
                .as_bytes()
                .to_vec()
        })
        .to_vec();
    let members: Vec<(Vec<u8>, u16)> = state
        .committee
        .members
        .iter()
        .map(|member| (member.public_key.clone(), member.weight))
        .collect();
    assert_eq!(members, vec![(keys[0].clone(), 2), (keys[1].clone(), 4)]);
    assert_eq!(
        balance(&mut client, Address::from_static("0xa1"), "0x2::sui::SUI").await,
        1_000 * COIN
    );

    // The faucet funds a fresh address.
    let fresh = Address::from_static("0xf00d");
    let body = format!(
        r#"{{"recipient": "{fresh}", "sui": {}, "wal": {}}}"#,
        7 * COIN,
        3 * COIN
    );
    let (status, funded) = http(node.faucet, "POST", "/v1/gas", &body).await.unwrap();
    assert_eq!(status, 200, "{funded}");
    assert_eq!(funded["coins"].as_array().unwrap().len(), 2);
    // Defaults when no amount is given.
    let body = format!(r#"{{"recipient": "{fresh}"}}"#);
    let (status, _) = http(node.faucet, "POST", "/v1/gas", &body).await.unwrap();
    assert_eq!(status, 200);
    let sui = balance(&mut client, fresh, "0x2::sui::SUI").await;
    let wal = balance(&mut client, fresh, &wal_type).await;
    assert_eq!((sui, wal), (107 * COIN, 103 * COIN));
    // Errors: JSON with a code.
    for (body, code) in [
        (r#"{"recipient": "nope"}"#.to_owned(), "invalid_recipient"),
        (
            format!(r#"{{"recipient": "{fresh}", "sui": {}}}"#, u64::MAX),
            "amount_too_large",
        ),
        ("not json".to_owned(), "invalid_request"),
        (
            format!(r#"{{"recipient": "{fresh}", "sui": 0, "wal": 0}}"#),
            "nothing_requested",
        ),
    ] {
        let (status, error) = http(node.faucet, "POST", "/v1/gas", &body).await.unwrap();
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["code"], code, "{error}");
        assert!(error["error"]["message"].is_string());
    }
    let (status, error) = http(node.faucet, "GET", "/nope", "").await.unwrap();
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    // The Walrus chain client, configured from /health and funded by the faucet, reads the
    // committee and stakes (a signed transaction paid with the faucet's gas).
    let walrus = walrus_client(&node, &health, 77);
    let body = format!(r#"{{"recipient": "{}"}}"#, walrus.address());
    let (status, _) = http(node.faucet, "POST", "/v1/gas", &body).await.unwrap();
    assert_eq!(status, 200);
    let committee = walrus.committee().await.unwrap();
    assert_eq!(committee.members.len(), 2);
    let staked = walrus
        .stake_with_pool(committee.members[0].node_id, 5 * COIN)
        .await
        .unwrap();
    assert_eq!(staked.principal, 5 * COIN);
    assert_eq!(walrus.wal_balance().await.unwrap(), 95 * COIN);

    // The epoch clock advances the epoch.
    let epoch = wait_epoch_above(&mut client, &system_id, state.committee.epoch).await;

    // Graceful stop (SIGTERM), then restart on the same directory: same chain, balances kept.
    assert!(node.signal("-TERM").success());
    drop(node);
    let mut node = Node::start(&dir, &genesis);
    let mut client = node.client().await;
    assert_eq!(chain_id(&mut client).await, chain);
    assert_eq!(
        balance(&mut client, fresh, "0x2::sui::SUI").await,
        107 * COIN
    );
    assert_eq!(balance(&mut client, fresh, &wal_type).await, 103 * COIN);
    let resumed = system(&mut client, &system_id).await;
    assert!(resumed.committee.epoch >= epoch);
    assert_eq!(resumed.committee.members.len(), 2);
    let walrus = walrus_client(&node, &health, 77);
    assert_eq!(walrus.owned_staked_wal().await.unwrap(), vec![staked]);

    // Hard kill (SIGKILL) after another faucet request: everything answered survives.
    let body = format!(r#"{{"recipient": "{fresh}", "sui": {}, "wal": 0}}"#, COIN);
    let (status, _) = http(node.faucet, "POST", "/v1/gas", &body).await.unwrap();
    assert_eq!(status, 200);
    node.signal("-KILL");
    drop(node);
    let node = Node::start(&dir, &genesis);
    let mut client = node.client().await;
    assert_eq!(chain_id(&mut client).await, chain);
    assert_eq!(
        balance(&mut client, fresh, "0x2::sui::SUI").await,
        108 * COIN
    );
    assert_eq!(balance(&mut client, fresh, &wal_type).await, 103 * COIN);
    // The epoch clock goes on after the restart, once the nodes (their wallets, funded by
    // the faucet) report their shards synced: an epoch change is done only then.
    let epoch = system(&mut client, &system_id).await.committee.epoch;
    for seed in [0xb1, 0xb2] {
        let wallet = walrus_client(&node, &health, seed);
        let body = format!(r#"{{"recipient": "{}"}}"#, wallet.address());
        let (status, _) = http(node.faucet, "POST", "/v1/gas", &body).await.unwrap();
        assert_eq!(status, 200);
        let cap = wallet.owned_node_caps().await.unwrap().remove(0);
        wallet.epoch_sync_done(cap.id, epoch).await.unwrap();
    }
    wait_epoch_above(&mut client, &system_id, epoch).await;
}

/// A registration of distinct data (blob ID and root hash for the genesis's 6 shards).
fn registration(seed: u32) -> BlobRegistration {
    let data = format!("restart blob {seed}").into_bytes();
    let metadata = compute_metadata(&EncodingConfig::new(6).unwrap(), &data).unwrap();
    let MerkleNode::Digest(root) = metadata.root_hash() else {
        panic!("a blob has a root");
    };
    BlobRegistration {
        blob_id: U256::from(*metadata.blob_id()),
        root_hash: U256(root),
        size: data.len() as u64,
        encoding_type: redstuff::RS2,
        deletable: false,
        epochs_ahead: 5,
        attributes: Vec::new(),
    }
}

/// One recorded event: `checkpoint event_index tx_digest event_seq {event:?}`.
fn record_line(event: &ChainEvent) -> String {
    format!(
        "{} {} {} {} {:?}",
        event.cursor.checkpoint,
        event.cursor.event_index,
        event.tx_digest,
        event.event_seq,
        event.event
    )
}

/// The recorded events of the consumer's file.
fn recorded(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => panic!("{error}"),
    }
}

/// The cursor of a recorded line.
fn line_cursor(line: &str) -> EventCursor {
    let mut parts = line.splitn(3, ' ');
    EventCursor {
        checkpoint: parts.next().unwrap().parse().unwrap(),
        event_index: parts.next().unwrap().parse().unwrap(),
    }
}

/// A consumer: follows an `EventStream` from the file's last cursor and appends each event to
/// the file, durably (fsync), until the stream fails or `until` holds for the file's lines.
async fn consume(
    walrus: WalrusClient,
    path: PathBuf,
    until: impl Fn(&[String]) -> bool,
) -> Result<(), ClientError> {
    let mut lines = recorded(&path);
    let after = lines.last().map(|line| line_cursor(line));
    let mut stream = walrus.event_stream(after);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    while !until(&lines) {
        let line = record_line(&stream.next().await?);
        writeln!(file, "{line}").unwrap();
        file.sync_data().unwrap();
        lines.push(line);
    }
    Ok(())
}

/// Whether the recorded lines hold the registration of `blob_id`.
fn registered_in(lines: &[String], blob_id: U256) -> usize {
    let needle = format!("{:?}", blob_id);
    lines
        .iter()
        .filter(|line| line.contains("BlobRegistered") && line.contains(&needle))
        .count()
}

#[tokio::test]
async fn sigkill_during_registrations_loses_no_acknowledged_event() {
    let (temp, dir, genesis) = chain_dir();
    let events_file = temp.path().join("events.log");

    let mut node = Node::start(&dir, &genesis);
    node.client().await;
    let (_, health) = http(node.faucet, "GET", "/health", "").await.unwrap();
    let walrus = walrus_client(&node, &health, 41);
    let body = format!(r#"{{"recipient": "{}"}}"#, walrus.address());
    assert_eq!(
        http(node.faucet, "POST", "/v1/gas", &body).await.unwrap().0,
        200
    );

    // A writer registers blobs one after the other; a consumer records every event.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let walrus = walrus.clone();
        let acknowledged = acknowledged.clone();
        tokio::spawn(async move {
            for seed in 0.. {
                let registration = registration(seed);
                match walrus.reserve_and_register_blob(&registration).await {
                    Ok(blob) => acknowledged.lock().unwrap().push(blob.blob_id),
                    Err(_) => return seed,
                }
            }
            unreachable!()
        })
    };
    let consumer = tokio::spawn(consume(walrus.clone(), events_file.clone(), |_| false));

    // SIGKILL in the middle of the stream of registrations.
    let deadline = Instant::now() + Duration::from_secs(15);
    while acknowledged.lock().unwrap().len() < 6 {
        assert!(Instant::now() < deadline, "the registrations are stuck");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    node.signal("-KILL");
    drop(node);
    let next_seed = tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .expect("the writer did not notice the kill")
        .unwrap();
    let stream_error = tokio::time::timeout(Duration::from_secs(10), consumer)
        .await
        .expect("the consumer did not notice the kill")
        .unwrap();
    assert!(stream_error.is_err());

    // Restart on the same directory; more registrations; the consumer resumes from its file.
    let node = Node::start(&dir, &genesis);
    node.client().await;
    let (_, health) = http(node.faucet, "GET", "/health", "").await.unwrap();
    let walrus = walrus_client(&node, &health, 41);
    for seed in next_seed + 1..next_seed + 5 {
        let blob = walrus
            .reserve_and_register_blob(&registration(seed))
            .await
            .unwrap();
        acknowledged.lock().unwrap().push(blob.blob_id);
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let wanted = acknowledged.clone();
    tokio::time::timeout(
        Duration::from_secs(10),
        consume(walrus.clone(), events_file.clone(), move |lines| {
            wanted.iter().all(|blob| registered_in(lines, *blob) > 0)
        }),
    )
    .await
    .expect("the resumed consumer did not catch up")
    .unwrap();

    // Every acknowledged registration exactly once, and the file is exactly the chain's
    // event sequence from the start: no gap, no duplicate.
    let lines = recorded(&events_file);
    for blob in &acknowledged {
        assert_eq!(registered_in(&lines, *blob), 1, "{blob:?}");
    }
    let mut fresh = walrus.event_stream(None);
    for line in &lines {
        assert_eq!(&record_line(&fresh.next().await.unwrap()), line);
    }
}
