//! `walrus_chain::client::WalrusClient` against a `LocalServer`: nodes register and stake
//! through the client, the epoch changes, a blob goes through its life cycle (reserve +
//! register, certify with a real BLS certificate, extend, delete), Move aborts surface as
//! `ClientError::MoveAbort`, staking operations, and the resumable event stream.

use crate::common;

use std::time::Duration;

use common::*;
use fastcrypto::traits::ToFromBytes;
use walrus_chain::{
    client::{BlobRegistration, ChainEvent, ClientError, EventCursor, WalrusClient},
    contract::{
        events::Event,
        redstuff,
        staking::{EPOCH_CHANGE_DONE, EPOCH_CHANGE_SYNC},
    },
};
use walrus_core::{
    messages::{
        BlobPersistenceType, Confirmation, InvalidBlobIdMsg, ProtocolMessageCertificate,
        ProtocolMessageKind,
    },
    BlobId, ObjectId,
};
use walrus_localchain::{LocalServer, ServiceConfig, WALRUS_PACKAGE_ID};

const DATA: &[u8] = b"hello walrus, through the chain client";
const TIMEOUT: Duration = Duration::from_secs(20);

/// A localnet with five users (clients 0..=4); users 1..=4 run nodes 0..=3 (stakes 1, 2, 3, 4
/// thousand WAL) and the chain is in epoch 1 with their committee.
struct Setup {
    net: Net,
    server: LocalServer,
    clients: Vec<WalrusClient>,
    nodes: Vec<ClientNode>,
}

impl Setup {
    async fn new() -> Self {
        let net = Net::new(5);
        let server = LocalServer::start(net.executor.clone(), ServiceConfig::default())
            .await
            .unwrap();
        let config = chain_config(&net.genesis);
        let clients: Vec<WalrusClient> = net
            .users
            .iter()
            .map(|user| WalrusClient::new(&server.url(), user.key.clone(), config.clone()).unwrap())
            .collect();
        for (client, user) in clients.iter().zip(&net.users) {
            assert_eq!(client.address(), user.address);
        }
        let mut setup = Self {
            net,
            server,
            clients,
            nodes: Vec::new(),
        };
        setup.register_nodes().await;
        setup.next_epoch().await;
        setup
    }

    async fn register_nodes(&mut self) {
        for (i, stake) in STAKES.iter().enumerate() {
            let client = &self.clients[i + 1];
            let (bls, registration) = node_registration(i, client.address());
            let cap = client.register_candidate(&registration).await.unwrap();
            assert_eq!(client.owned_node_caps().await.unwrap(), vec![cap.clone()]);
            let staked = client
                .stake_with_pool(cap.node_id, stake * WAL)
                .await
                .unwrap();
            assert_eq!(
                (staked.node_id, staked.principal, staked.activation_epoch),
                (cap.node_id, stake * WAL, 1)
            );
            self.nodes.push(ClientNode { bls, cap });
        }
    }

    /// Moves the chain's clock past the epoch and changes the epoch through client 0.
    async fn next_epoch(&self) {
        next_epoch_through(&self.server, &self.clients[0]).await;
    }

    /// A certificate over `message` by `nodes` (indices into `self.nodes`), with the signers
    /// as committee member indices.
    async fn certificate<T: ProtocolMessageKind>(
        &self,
        message: &T,
        nodes: &[usize],
    ) -> ProtocolMessageCertificate<T> {
        let committee = self.clients[0].committee().await.unwrap();
        let nodes: Vec<&ClientNode> = nodes.iter().map(|node| &self.nodes[*node]).collect();
        committee_certificate(&committee, &nodes, message).0
    }

    async fn confirmation(
        &self,
        blob: ObjectId,
        nodes: &[usize],
    ) -> ProtocolMessageCertificate<Confirmation> {
        let value = self.clients[0].get_blob(blob).await.unwrap();
        let persistence = if value.deletable {
            BlobPersistenceType::Deletable {
                object_id: value.id,
            }
        } else {
            BlobPersistenceType::Permanent
        };
        let epoch = self.clients[0].system().await.unwrap().epoch();
        let message = Confirmation::for_blob(epoch, BlobId::from(value.blob_id), persistence);
        self.certificate(&message, nodes).await
    }
}

fn registration(deletable: bool, epochs_ahead: u32) -> BlobRegistration {
    let (blob_id, root_hash) = blob_ids(DATA);
    BlobRegistration {
        blob_id,
        root_hash,
        size: DATA.len() as u64,
        encoding_type: redstuff::RS2,
        deletable,
        epochs_ahead,
        attributes: Vec::new(),
    }
}

fn encoded_size() -> u64 {
    redstuff::encoded_blob_length(DATA.len() as u64, 1, N_SHARDS).unwrap()
}

fn assert_abort(error: ClientError, module: &str, code: u64, name: &str) {
    match error {
        ClientError::MoveAbort {
            module: m,
            code: c,
            name: n,
            command,
        } => {
            assert_eq!((m.as_str(), c, n.as_str()), (module, code, name));
            assert!(command.is_some());
        }
        other => panic!("expected a Move abort, got {other:?}"),
    }
}

#[tokio::test]
async fn reads_decode_system_staking_and_committee() {
    let setup = Setup::new().await;
    let client = &setup.clients[0];
    let system = client.system().await.unwrap();
    assert_eq!(system.epoch(), 1);
    assert_eq!(system.n_shards(), N_SHARDS);
    assert_eq!(
        (
            system.storage_price_per_unit_size,
            system.write_price_per_unit_size
        ),
        (STORAGE_PRICE, WRITE_PRICE)
    );
    // The same as the server's state.
    {
        let state = setup.server.service.state().lock().await;
        let stored = state
            .executor
            .store()
            .value(&setup.net.genesis.system)
            .unwrap();
        assert_eq!(
            stored,
            walrus_localchain::types::ObjectValue::System(Box::new(system.clone()))
        );
    }
    let committee = client.committee().await.unwrap();
    let weights: Vec<u16> = committee.members.iter().map(|m| m.weight).collect();
    assert_eq!(weights, [1, 2, 3, 4]);
    let staking = client.staking().await.unwrap();
    // The first committee has nothing to sync.
    assert_eq!((staking.epoch, staking.epoch_state), (1, EPOCH_CHANGE_DONE));
    assert!(staking.previous_shard_assignment.is_empty());
    assert_eq!(staking.pools.len(), 4);
    assert_eq!(client.wal_balance().await.unwrap(), 100_000 * WAL);
    assert_eq!(client.wal_coins().await.unwrap().len(), 1);
    assert!(client.owned_blobs().await.unwrap().is_empty());
    // A missing object and an object of another type are `NotFound`.
    let missing = client.get_blob(ObjectId([9; 32])).await.unwrap_err();
    assert!(matches!(missing, ClientError::NotFound(_)), "{missing:?}");
    let system_id = walrus_chain::client::object_id(setup.net.genesis.system);
    let wrong = client.get_blob(system_id).await.unwrap_err();
    assert!(matches!(wrong, ClientError::NotFound(_)), "{wrong:?}");
}

#[tokio::test]
async fn full_blob_life_cycle() {
    let setup = Setup::new().await;
    let client = &setup.clients[0];
    let wal_before = client.wal_balance().await.unwrap();

    // Reserve + register (with an attribute set on the new object) in one transaction.
    let blob = client
        .reserve_and_register_blob(&BlobRegistration {
            attributes: vec![("_walrusBlobType".into(), "quilt".into())],
            ..registration(true, 3)
        })
        .await
        .unwrap();
    let (blob_id, _) = blob_ids(DATA);
    assert_eq!(blob.blob_id, blob_id);
    assert_eq!(
        blob.attributes.get(&"_walrusBlobType".to_string()),
        Some(&"quilt".to_string())
    );
    assert_eq!((blob.storage.start_epoch, blob.storage.end_epoch), (1, 4));
    assert_eq!(blob.storage.storage_size, encoded_size());
    assert!(blob.deletable && blob.certified_epoch.is_none());
    assert_eq!(
        wal_before - client.wal_balance().await.unwrap(),
        3 * STORAGE_PRICE + WRITE_PRICE
    );
    assert_eq!(client.get_blob(blob.id).await.unwrap(), blob);
    assert_eq!(client.owned_blobs().await.unwrap(), vec![blob.clone()]);

    // Certify with nodes 2 and 3 (7 of 10 shards): a real BLS certificate.
    let certificate = setup.confirmation(blob.id, &[2, 3]).await;
    let certified = client.certify_blob(blob.id, &certificate).await.unwrap();
    assert_eq!(certified.certified_epoch, Some(1));

    // Certifying again is a Move abort: system::EAlreadyCertified.
    let error = client
        .certify_blob(blob.id, &certificate)
        .await
        .unwrap_err();
    assert_eq!(error.move_abort(), Some(("system", 6, "EAlreadyCertified")));
    assert_abort(error, "system", 6, "EAlreadyCertified");

    // Extend by 2 epochs.
    let wal_before = client.wal_balance().await.unwrap();
    let extended = client.extend_blob(blob.id, 2).await.unwrap();
    assert_eq!(extended.end_epoch(), 6);
    assert_eq!(
        wal_before - client.wal_balance().await.unwrap(),
        2 * STORAGE_PRICE
    );

    // Delete: the storage comes back to the owner.
    let storage = client.delete_blob(blob.id).await.unwrap();
    assert_eq!(
        (storage.start_epoch, storage.end_epoch, storage.storage_size),
        (1, 6, encoded_size())
    );
    assert_eq!(client.owned_storage().await.unwrap(), vec![storage]);
    assert!(matches!(
        client.get_blob(blob.id).await,
        Err(ClientError::NotFound(_))
    ));
    assert!(client.owned_blobs().await.unwrap().is_empty());

    // A permanent blob: not enough signers, then certified, then not deletable.
    let permanent = client
        .reserve_and_register_blob(&registration(false, 2))
        .await
        .unwrap();
    let weak = setup.confirmation(permanent.id, &[0, 3]).await;
    assert_abort(
        client.certify_blob(permanent.id, &weak).await.unwrap_err(),
        "bls_aggregate",
        1,
        "ENotEnoughStake",
    );
    let certificate = setup.confirmation(permanent.id, &[1, 2, 3]).await;
    client
        .certify_blob(permanent.id, &certificate)
        .await
        .unwrap();
    assert_abort(
        client.delete_blob(permanent.id).await.unwrap_err(),
        "system",
        8,
        "EBlobNotDeletable",
    );
    // The failed transactions changed nothing.
    assert_eq!(
        client.get_blob(permanent.id).await.unwrap().certified_epoch,
        Some(1)
    );
}

#[tokio::test]
async fn invalidation_staking_and_epoch_sync() {
    let setup = Setup::new().await;
    let client = &setup.clients[0];

    // Invalidate a blob ID: node 0 alone (1 of 10 shards) is not enough, node 3 (4) is.
    let (blob_id, _) = blob_ids(b"an inconsistently encoded blob");
    let message = InvalidBlobIdMsg::new(1, BlobId::from(blob_id));
    let weak = setup.certificate(&message, &[0]).await;
    assert_abort(
        client.invalidate_blob_id(&weak).await.unwrap_err(),
        "bls_aggregate",
        1,
        "ENotEnoughStake",
    );
    let certificate = setup.certificate(&message, &[3]).await;
    let executed = client.invalidate_blob_id(&certificate).await.unwrap();
    assert!(executed.checkpoint.is_some());
    let events = executed.walrus_events(WALRUS_PACKAGE_ID).unwrap();
    assert!(
        matches!(&events[..], [Event::InvalidBlobId(event)] if event.blob_id == blob_id && event.epoch == 1)
    );

    // The second committee syncs: a quorum of shards (nodes 2 and 3: 7 of 10) ends the epoch
    // change.
    setup.next_epoch().await;
    assert_eq!(
        client.staking().await.unwrap().epoch_state,
        EPOCH_CHANGE_SYNC
    );
    for node in [2, 3] {
        let cap = setup.clients[node + 1]
            .epoch_sync_done(setup.nodes[node].cap.id, 2)
            .await
            .unwrap();
        assert_eq!(cap.last_epoch_sync_done, 2);
    }
    assert_eq!(
        client.staking().await.unwrap().epoch_state,
        EPOCH_CHANGE_DONE
    );
    // Again for the same epoch: staking::EWrongEpoch.
    assert_abort(
        setup.clients[3]
            .epoch_sync_done(setup.nodes[2].cap.id, 2)
            .await
            .unwrap_err(),
        "staking",
        8,
        "EWrongEpoch",
    );

    // Stake, request withdrawal (not active yet: at once), withdraw.
    let wal_before = client.wal_balance().await.unwrap();
    let staked = client
        .stake_with_pool(setup.nodes[0].cap.node_id, 5 * WAL)
        .await
        .unwrap();
    assert_eq!(staked.activation_epoch, 3);
    assert_eq!(
        client.owned_staked_wal().await.unwrap(),
        vec![staked.clone()]
    );
    assert_eq!(wal_before - client.wal_balance().await.unwrap(), 5 * WAL);
    let requested = client.request_withdraw_stake(staked.id).await.unwrap();
    assert_eq!(requested.withdraw_epoch, Some(2));
    assert_abort(
        client.request_withdraw_stake(staked.id).await.unwrap_err(),
        "staking",
        6,
        "EAlreadyWithdrawing",
    );
    let coin = client.withdraw_stake(staked.id).await.unwrap();
    assert_eq!(coin.balance, 5 * WAL);
    assert_eq!(client.wal_balance().await.unwrap(), wal_before);
    assert!(client.owned_staked_wal().await.unwrap().is_empty());
    // Staking zero: staking::EZeroStake (split of 0, then the abort).
    assert_abort(
        client
            .stake_with_pool(setup.nodes[0].cap.node_id, 0)
            .await
            .unwrap_err(),
        "staking",
        2,
        "EZeroStake",
    );
}

#[tokio::test]
async fn node_operators_manage_their_pools_through_the_client() {
    let setup = Setup::new().await;
    let client = &setup.clients[0];
    // Node 0 (1 of the 10 shards), operated by client 1.
    let operator = &setup.clients[1];
    let cap = setup.nodes[0].cap.id;
    operator.set_commission_rate(cap, 10_000).await.unwrap();
    assert_abort(
        operator.set_commission_rate(cap, 10_001).await.unwrap_err(),
        "staking",
        1,
        "ECommissionTooHigh",
    );
    operator.set_name(cap, "renamed").await.unwrap();
    operator
        .set_network_address(cap, "10.0.0.1:9")
        .await
        .unwrap();
    let next = walrus_core::crypto::ProtocolKeyPair::from_seed([77; 32]);
    let next_key = next.public().as_bytes().to_vec();
    let pop = next.proof_of_possession(operator.address().into_inner(), 1);
    operator
        .set_next_public_key(cap, &next_key, pop.as_bytes())
        .await
        .unwrap();
    // Someone else's capability is not the operator's to use (an owned object of another).
    assert!(client.set_name(cap, "stolen").await.is_err());
    let pool = client.staking().await.unwrap().pools[0].clone();
    assert_eq!(pool.info.name, "renamed");
    assert_eq!(pool.info.network_address, "10.0.0.1:9");
    assert_eq!(
        (pool.commission_rate, pool.next_commission_rate),
        (100, 10_000)
    );
    assert_eq!(pool.info.next_epoch_public_key, Some(next_key.clone()));

    // Epoch 2: selected with the next key, at the new commission rate.
    setup.next_epoch().await;
    let committee = client.committee().await.unwrap();
    assert_eq!(committee.members[0].public_key, next_key);
    let pool = client.staking().await.unwrap().pools[0].clone();
    assert_eq!(pool.commission_rate, 10_000);
    // Storage bought for epoch 2 pays its committee at the next epoch change; node 0 keeps
    // all of its share as commission.
    client
        .reserve_and_register_blob(&registration(false, 1))
        .await
        .unwrap();
    for (node, operator) in setup.nodes.iter().zip(&setup.clients[1..]) {
        operator.epoch_sync_done(node.cap.id, 2).await.unwrap();
    }
    setup.next_epoch().await;
    let commission = client.staking().await.unwrap().pools[0].commission;
    assert!(commission > 0);
    let coin = operator.collect_commission(cap).await.unwrap();
    assert_eq!(coin.balance, commission);
    assert_eq!(client.staking().await.unwrap().pools[0].commission, 0);
}

#[tokio::test]
async fn event_stream_resumes_without_gaps_or_duplicates() {
    let setup = Setup::new().await;
    let client = &setup.clients[0];
    let blob = client
        .reserve_and_register_blob(&registration(true, 2))
        .await
        .unwrap();
    let certificate = setup.confirmation(blob.id, &[2, 3]).await;
    client.certify_blob(blob.id, &certificate).await.unwrap();
    client.delete_blob(blob.id).await.unwrap();

    // From the start: 4 pools, the committee selection, the first epoch change (shards to 4
    // nodes; nothing to sync), then the blob's life.
    let mut stream = client.event_stream(None);
    let mut all: Vec<ChainEvent> = Vec::new();
    while !matches!(
        all.last(),
        Some(ChainEvent {
            event: Event::BlobDeleted(_),
            ..
        })
    ) {
        all.push(
            tokio::time::timeout(TIMEOUT, stream.next())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let names: Vec<&str> = all
        .iter()
        .map(|streamed| streamed.event.type_name())
        .collect();
    assert_eq!(
        names,
        [
            "StakingPoolCreated",
            "StakingPoolCreated",
            "StakingPoolCreated",
            "StakingPoolCreated",
            "EpochParametersSelected",
            "ShardsReceived",
            "ShardsReceived",
            "ShardsReceived",
            "ShardsReceived",
            "EpochChangeStart",
            "EpochChangeDone",
            "BlobRegistered",
            "BlobCertified",
            "BlobDeleted"
        ]
    );
    let cursors: Vec<EventCursor> = all.iter().map(|streamed| streamed.cursor).collect();
    assert!(cursors.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(matches!(&all[11].event, Event::BlobRegistered(event) if event.object_id == blob.id));
    // Sui's event IDs: the events of one transaction (the epoch change's) share its digest and
    // count up; the blob's three events come from three transactions.
    assert_eq!(all[5].tx_digest, all[6].tx_digest);
    assert_eq!(all[6].event_seq, all[5].event_seq + 1);
    assert_ne!(all[11].tx_digest, all[12].tx_digest);
    assert_ne!(all[12].tx_digest, all[13].tx_digest);

    // Resumed after the registration (as after a crash): certification next, no duplicate.
    let mut resumed = client.event_stream(Some(cursors[11]));
    let next = tokio::time::timeout(TIMEOUT, resumed.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, all[12]);
    assert!(matches!(next.event, Event::BlobCertified(_)));

    // Resumed inside a checkpoint (the epoch change's events share one transaction).
    assert_eq!(cursors[5].checkpoint, cursors[6].checkpoint);
    let mut resumed = client.event_stream(Some(cursors[5]));
    let next = tokio::time::timeout(TIMEOUT, resumed.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, all[6]);
    assert_eq!(resumed.cursor(), Some(cursors[6]));

    // Caught up: the next event comes from the live subscription.
    let mut live = client.event_stream(Some(cursors[13]));
    let waiting = tokio::spawn(async move {
        tokio::time::timeout(TIMEOUT, live.next())
            .await
            .unwrap()
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = client
        .reserve_and_register_blob(&registration(false, 1))
        .await
        .unwrap();
    let live_next = waiting.await.unwrap();
    assert!(live_next.cursor > cursors[13]);
    assert!(
        matches!(&live_next.event, Event::BlobRegistered(event) if event.object_id == again.id)
    );
    // The original stream continues with the same event.
    let next = tokio::time::timeout(TIMEOUT, stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, live_next);
}

#[tokio::test]
async fn transport_errors_are_not_move_aborts() {
    let net = Net::new(1);
    let config = chain_config(&net.genesis);
    // Nothing listens on this port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = WalrusClient::new(&url, net.users[0].key.clone(), config).unwrap();
    let error = client.system().await.unwrap_err();
    assert!(matches!(error, ClientError::Rpc(_)), "{error:?}");
    assert!(error.move_abort().is_none());
}

#[tokio::test]
async fn blob_attributes_and_burning_through_the_client() {
    let setup = Setup::new().await;
    let client = &setup.clients[0];
    let blob = client
        .reserve_and_register_blob(&registration(true, 1))
        .await
        .unwrap();
    let attribute = |blob: &walrus_chain::contract::blob::Blob, key: &str| {
        blob.attributes.get(&key.to_string()).cloned()
    };

    // Set two pairs in one transaction, then replace one and add another.
    let pair = |key: &str, value: &str| (key.to_owned(), value.to_owned());
    let set = client
        .set_blob_attributes(blob.id, &[pair("a", "1"), pair("b", "2")])
        .await
        .unwrap();
    assert_eq!(
        (attribute(&set, "a"), attribute(&set, "b")),
        (Some("1".into()), Some("2".into()))
    );
    let set = client
        .set_blob_attributes(blob.id, &[pair("a", "one"), pair("c", "3")])
        .await
        .unwrap();
    assert_eq!(set.attributes.contents.len(), 3);
    assert_eq!(attribute(&set, "a"), Some("one".into()));
    assert_eq!(client.get_blob(blob.id).await.unwrap(), set);

    // Remove two; removing one that is not set aborts the whole transaction.
    let removed = client
        .remove_blob_attributes(blob.id, &["a".to_owned(), "c".to_owned()])
        .await
        .unwrap();
    assert_eq!(removed.attributes.contents.len(), 1);
    assert_eq!(attribute(&removed, "b"), Some("2".into()));
    assert_abort(
        client
            .remove_blob_attributes(blob.id, &["b".to_owned(), "missing".to_owned()])
            .await
            .unwrap_err(),
        "blob",
        1,
        "EAttributeNotFound",
    );
    assert_eq!(client.get_blob(blob.id).await.unwrap(), removed);

    // Burning: refused while stored (all or nothing), done once expired.
    let other = client
        .reserve_and_register_blob(&BlobRegistration {
            blob_id: blob_ids(b"another blob").0,
            root_hash: blob_ids(b"another blob").1,
            size: b"another blob".len() as u64,
            ..registration(false, 3)
        })
        .await
        .unwrap();
    assert_abort(
        client.burn_blobs(&[blob.id, other.id]).await.unwrap_err(),
        "blob",
        0,
        "EBlobNotExpired",
    );
    assert_eq!(client.owned_blobs().await.unwrap().len(), 2);
    setup.next_epoch().await;
    client.burn_blobs(&[blob.id]).await.unwrap();
    assert!(matches!(
        client.get_blob(blob.id).await,
        Err(ClientError::NotFound(_))
    ));
    assert_eq!(client.owned_blobs().await.unwrap(), vec![other]);
}
