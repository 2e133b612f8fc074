//! The chain of the binary (`launcher::run_chain`, in process): the epoch clock's
//! `voting_end`s and epoch changes and the faucet's grants are signed transactions in
//! checkpoints, so an `EventStream` from the start sees every `EpochChangeStart` in order,
//! interleaved with the users' events; the faucet's rate limit answers 429.

use crate::common;

use std::{
    net::{SocketAddr, TcpListener},
    path::Path,
    time::{Duration, Instant},
};

use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_rpc::{
    field::{FieldMask, FieldMaskUtil},
    proto::sui::rpc::v2::{GetCheckpointRequest, GetTransactionRequest},
};
use sui_sdk_types::{Address, TransactionEvents};
use tokio::{sync::oneshot, task::JoinHandle};
use walrus_chain::{
    client::{BlobRegistration, EventCursor, WalrusClient},
    contract::{events::Event, redstuff, staking::EPOCH_CHANGE_SYNC},
};
use walrus_localchain::{
    launcher::{run_chain, ChainOptions, FaucetConfig},
    operators::Operator,
};

/// The seeds of the Ed25519 keys of the genesis nodes' owners (`Chain::client(seed)`).
const NODE_OWNER_SEEDS: [u8; 2] = [0xb1, 0xb2];

/// Two storage nodes whose owners are the keys of `NODE_OWNER_SEEDS`.
fn genesis_toml() -> String {
    let owner = |seed: u8| {
        Ed25519PrivateKey::new([seed; 32])
            .public_key()
            .derive_address()
    };
    format!(
        r#"
n_shards = 10
max_epochs_ahead = 20

[[nodes]]
owner = "{}"
network_address = "127.0.0.1:9101"
bls_seed = "0101010101010101010101010101010101010101010101010101010101010101"
stake = 1000000000000

[[nodes]]
owner = "{}"
network_address = "127.0.0.1:9102"
bls_seed = "0202020202020202020202020202020202020202020202020202020202020202"
stake = 2000000000000
"#,
        owner(NODE_OWNER_SEEDS[0]),
        owner(NODE_OWNER_SEEDS[1])
    )
}

struct Chain {
    grpc: SocketAddr,
    faucet: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Chain {
    async fn start(dir: &Path, epoch_ms: u64, faucet: FaucetConfig) -> Self {
        let genesis = dir.join("genesis-input.toml");
        std::fs::write(&genesis, genesis_toml()).unwrap();
        let (grpc, faucet_address) = {
            let a = TcpListener::bind("127.0.0.1:0").unwrap();
            let b = TcpListener::bind("127.0.0.1:0").unwrap();
            (a.local_addr().unwrap(), b.local_addr().unwrap())
        };
        let options = ChainOptions {
            dir: dir.join("chain"),
            listen: grpc,
            faucet_listen: Some(faucet_address),
            genesis: Some(genesis),
            epoch_duration_ms: Some(epoch_ms),
            checkpoint_interval: Duration::from_millis(30),
            faucet,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run_chain(options, async move {
            let _ = stopped.await;
        }));
        let chain = Self {
            grpc,
            faucet: faucet_address,
            stop: Some(stop),
            task: Some(task),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while common::http(chain.faucet, "GET", "/health", "")
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the chain did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        chain
    }

    async fn health(&self) -> serde_json::Value {
        common::http(self.faucet, "GET", "/health", "")
            .await
            .unwrap()
            .1
    }

    async fn client(&self, seed: u8) -> WalrusClient {
        let health = self.health().await;
        let config = common::chain_config_from_health(&health);
        WalrusClient::new(
            &format!("http://{}", self.grpc),
            Ed25519PrivateKey::new([seed; 32]),
            config,
        )
        .unwrap()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn registration(seed: u32) -> BlobRegistration {
    let data = format!("blob number {seed}").into_bytes();
    let (blob_id, root_hash) = common::blob_ids(&data);
    BlobRegistration {
        blob_id,
        root_hash,
        size: data.len() as u64,
        encoding_type: redstuff::RS2,
        deletable: false,
        epochs_ahead: 5,
        attributes: Vec::new(),
    }
}

async fn fund(chain: &Chain, recipient: Address) -> String {
    let body = format!(r#"{{"recipient": "{recipient}"}}"#);
    let (status, funded) = common::http(chain.faucet, "POST", "/v1/gas", &body)
        .await
        .unwrap();
    assert_eq!(status, 200, "{funded}");
    funded["transaction_digest"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn epoch_changes_and_faucet_grants_are_checkpointed_events() {
    let temp = tempfile::tempdir().unwrap();
    let chain = Chain::start(temp.path(), 500, FaucetConfig::default()).await;
    let health = chain.health().await;
    assert_eq!(
        health["faucet_address"],
        Operator::faucet().address().to_string()
    );
    let client = chain.client(9).await;
    let mut rpc = client.rpc().clone();

    // The faucet's grant is a transaction from the faucet account, sealed in a checkpoint.
    let digest = fund(&chain, client.address()).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let executed = loop {
        let executed = rpc
            .ledger_client()
            .get_transaction(
                GetTransactionRequest::default()
                    .with_digest(digest.clone())
                    .with_read_mask(FieldMask::from_str("transaction.sender,checkpoint")),
            )
            .await
            .unwrap()
            .into_inner()
            .transaction()
            .clone();
        if executed.checkpoint.is_some() {
            break executed;
        }
        assert!(Instant::now() < deadline, "the grant was not checkpointed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        executed.transaction().sender(),
        Operator::faucet().address().to_string()
    );

    // The nodes' owners report their shards synced whenever a committee syncs (as storage
    // nodes do): from the second committee on, the epoch clock waits for a quorum of them.
    let mut nodes = Vec::new();
    for seed in NODE_OWNER_SEEDS {
        let node = chain.client(seed).await;
        fund(&chain, node.address()).await;
        nodes.push(node);
    }

    // A user's registrations while the epoch clock runs.
    let start_epoch = client.system().await.unwrap().epoch();
    let mut registered = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seed = 0;
    while client.system().await.unwrap().epoch() < start_epoch + 2 {
        assert!(Instant::now() < deadline, "the epoch clock is stuck");
        let blob = client
            .reserve_and_register_blob(&registration(seed))
            .await
            .unwrap();
        registered.push(blob.blob_id);
        seed += 1;
        let staking = client.staking().await.unwrap();
        if staking.epoch_state == EPOCH_CHANGE_SYNC {
            for node in &nodes {
                let cap = node.owned_node_caps().await.unwrap().remove(0);
                if cap.last_epoch_sync_done < staking.epoch {
                    node.epoch_sync_done(cap.id, staking.epoch).await.unwrap();
                }
            }
        }
    }
    let last = client
        .reserve_and_register_blob(&registration(seed))
        .await
        .unwrap();
    registered.push(last.blob_id);

    // The stream from the start: an EpochChangeStart for each new epoch, in order, and each
    // registration between the start of its epoch and the next one.
    let mut stream = client.event_stream(None);
    let mut epoch = start_epoch;
    let mut seen_blobs = Vec::new();
    let mut previous: Option<EventCursor> = None;
    let mut epoch_change_cursors = Vec::new();
    while seen_blobs.len() < registered.len() {
        let streamed = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("the stream stalled")
            .unwrap();
        let cursor = streamed.cursor;
        assert!(previous < Some(cursor), "{previous:?} then {cursor:?}");
        previous = Some(cursor);
        match streamed.event {
            Event::EpochChangeStart(start) => {
                assert_eq!(start.epoch, epoch + 1, "epoch changes out of order");
                epoch = start.epoch;
                epoch_change_cursors.push((cursor, streamed.tx_digest, streamed.event_seq));
            }
            Event::BlobRegistered(blob) => {
                assert_eq!(blob.epoch, epoch, "a registration outside its epoch");
                seen_blobs.push(blob.blob_id);
            }
            Event::ShardsReceived(_)
            | Event::EpochParametersSelected(_)
            | Event::EpochChangeDone(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen_blobs, registered);
    assert!(epoch >= start_epoch + 2);

    // Each epoch change is a transaction from the keeper in its checkpoint, and the stream
    // named that transaction and the event's index in it.
    for (cursor, tx_digest, event_seq) in epoch_change_cursors {
        let checkpoint = rpc
            .ledger_client()
            .get_checkpoint(
                GetCheckpointRequest::by_sequence_number(cursor.checkpoint)
                    .with_read_mask(FieldMask::from_str(
                    "transactions.digest,transactions.transaction.sender,transactions.events.bcs",
                )),
            )
            .await
            .unwrap()
            .into_inner()
            .checkpoint()
            .clone();
        let mut index = 0;
        let mut sender = None;
        for transaction in &checkpoint.transactions {
            let events: TransactionEvents =
                bcs::from_bytes(transaction.events().bcs().value()).unwrap();
            let n = events.0.len() as u64;
            if (index..index + n).contains(&cursor.event_index) {
                sender = Some(transaction.transaction().sender().to_owned());
                assert_eq!(transaction.digest(), tx_digest.to_string());
                assert_eq!(cursor.event_index - index, event_seq);
            }
            index += n;
        }
        assert_eq!(sender, Some(Operator::keeper().address().to_string()));
    }
    chain.stop().await;
}

#[tokio::test]
async fn faucet_rate_limit_answers_429() {
    let temp = tempfile::tempdir().unwrap();
    let config = FaucetConfig {
        max_requests_per_minute: 2,
        ..FaucetConfig::default()
    };
    let chain = Chain::start(temp.path(), 60_000, config).await;
    let (a, b) = (Address::from_static("0xaa"), Address::from_static("0xbb"));
    fund(&chain, a).await;
    fund(&chain, a).await;
    let body = format!(r#"{{"recipient": "{a}"}}"#);
    let (status, error) = common::http(chain.faucet, "POST", "/v1/gas", &body)
        .await
        .unwrap();
    assert_eq!(status, 429, "{error}");
    assert_eq!(error["error"]["code"], "rate_limited");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 requests per minute"));
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("http://{}/v1/gas", chain.faucet))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Invalid requests are answered before the limit and do not count.
    let (status, _) = common::http(chain.faucet, "POST", "/v1/gas", "{}")
        .await
        .unwrap();
    assert_eq!(status, 400);
    // The limit is per recipient.
    fund(&chain, b).await;
    chain.stop().await;
}

#[tokio::test]
async fn faucet_global_rate_limit_refuses_fresh_addresses_with_429() {
    let temp = tempfile::tempdir().unwrap();
    let config = FaucetConfig {
        max_requests_per_minute: 60,
        max_grants_per_minute: 3,
        ..FaucetConfig::default()
    };
    let chain = Chain::start(temp.path(), 60_000, config).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{}/v1/gas", chain.faucet);
    // Every request names a fresh address: the per-recipient limit never applies.
    let mut granted = 0;
    for n in 0..6u8 {
        let recipient = Address::new([0x40 + n; 32]);
        let response = http
            .post(&url)
            .json(&serde_json::json!({ "recipient": recipient.to_string() }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap().parse::<u64>().unwrap());
        let body: serde_json::Value = response.json().await.unwrap();
        if n < 3 {
            assert_eq!(status, 200, "{body}");
            assert!(body["transaction_digest"].is_string(), "{body}");
            granted += 1;
        } else {
            assert_eq!(status, 429, "{body}");
            assert_eq!(body["error"]["code"], "global_rate_limited");
            assert!(body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("3 requests per minute in all"));
            // One grant every 20 s.
            let retry_after = retry_after.expect("a Retry-After header");
            assert!((1..=20).contains(&retry_after), "{retry_after}");
        }
    }
    assert_eq!(granted, 3);
    chain.stop().await;
}
