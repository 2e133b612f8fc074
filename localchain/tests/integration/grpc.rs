//! The localnet's gRPC service, driven through the real `sui_rpc::Client`: service info,
//! objects, owned objects and balances, execution (success and rejection), checkpoints and
//! their subscription, the stock `execute_transaction_and_wait_for_checkpoint`, and
//! `UNIMPLEMENTED` for what is not served.

use crate::common;

use std::time::Duration;

use common::*;
use sui_rpc::{
    field::{FieldMask, FieldMaskUtil},
    proto::sui::rpc::v2::{
        self as pb, get_object_result, ExecuteTransactionRequest, GetCheckpointRequest,
        GetObjectRequest, GetTransactionRequest, ListBalancesRequest, ListOwnedObjectsRequest,
        SubscribeCheckpointsRequest,
    },
    Client,
};
use sui_sdk_types::{Address, Object, Transaction};
use sui_transaction_builder::ObjectInput;
use tokio_stream::StreamExt;
use walrus_chain::contract::system::System;
use walrus_localchain::{
    types::{ObjectType, ObjectValue},
    LocalServer, ServiceConfig,
};

const SUI_TYPE: &str =
    "0x0000000000000000000000000000000000000000000000000000000000000002::sui::SUI";

async fn start(net: &Net) -> (LocalServer, Client) {
    let server = LocalServer::start(net.executor.clone(), ServiceConfig::default())
        .await
        .unwrap();
    let client = Client::new(server.url()).unwrap();
    (server, client)
}

/// Splits 1 SUI off the gas coin of user 0 (at the server's version) and sends it to user 1.
async fn split_tx(net: &Net, client: &mut Client) -> Transaction {
    send_sui_tx(net, client).await.0
}

#[tokio::test]
async fn service_info_and_epoch() {
    let net = Net::new(1);
    let (_server, mut client) = start(&net).await;
    let info = service_info(&mut client).await;
    assert_eq!(info.chain(), "localnet");
    assert!(!info.chain_id().is_empty());
    assert_eq!(info.epoch(), 0);
    assert_eq!(info.checkpoint_height(), 0);
    assert_eq!(
        client.get_reference_gas_price().await.unwrap(),
        walrus_localchain::REFERENCE_GAS_PRICE
    );
    // Checkpoint 0 (genesis): its digest is the chain ID.
    let genesis = client
        .ledger_client()
        .get_checkpoint(GetCheckpointRequest::by_sequence_number(0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(genesis.checkpoint().digest(), info.chain_id());
}

#[tokio::test]
async fn objects_are_served_with_their_bcs() {
    let net = Net::new(1);
    let (_server, mut client) = start(&net).await;
    let mask = FieldMask::from_str("object_id,version,digest,owner,object_type,contents,bcs");

    // The shared System object: its contents decode as the twin's `System`.
    let response = client
        .ledger_client()
        .get_object(
            GetObjectRequest::default()
                .with_object_id(net.genesis.system.to_string())
                .with_read_mask(mask.clone()),
        )
        .await
        .unwrap()
        .into_inner();
    let object = response.object();
    assert_eq!(object.version(), 1);
    assert!(object.object_type().ends_with("::system::System"));
    let system: System = bcs::from_bytes(object.contents().value()).unwrap();
    assert_eq!(system, net.system_value());
    // The full BCS is the very object the executor holds (same digest).
    let decoded: Object = bcs::from_bytes(object.bcs().value()).unwrap();
    assert_eq!(&decoded, net.object(net.genesis.system));
    assert_eq!(object.digest(), decoded.digest().to_string());

    // A coin, through batch_get_objects, next to a missing object.
    let missing = Address::from_static("0xdead");
    let batch = client
        .ledger_client()
        .batch_get_objects(
            pb::BatchGetObjectsRequest::default()
                .with_requests(vec![
                    GetObjectRequest::default().with_object_id(net.gas(0).to_string()),
                    GetObjectRequest::default().with_object_id(missing.to_string()),
                ])
                .with_read_mask(mask),
        )
        .await
        .unwrap()
        .into_inner();
    let Some(get_object_result::Result::Object(coin)) = &batch.objects[0].result else {
        panic!("the coin exists");
    };
    let value = ObjectValue::decode(ObjectType::SuiCoin, coin.contents().value()).unwrap();
    assert_eq!(value, net.value(net.gas(0)));
    let Some(get_object_result::Result::Error(error)) = &batch.objects[1].result else {
        panic!("the object does not exist");
    };
    assert_eq!(error.code, tonic::Code::NotFound as i32);

    // An old version is not available.
    let status = client
        .ledger_client()
        .get_object(
            GetObjectRequest::default()
                .with_object_id(net.gas(0).to_string())
                .with_version(7),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn owned_objects_and_balances() {
    let net = Net::new(2);
    let (_server, mut client) = start(&net).await;
    let owner = net.users[0].address.to_string();

    let all = client
        .state_client()
        .list_owned_objects(ListOwnedObjectsRequest::default().with_owner(owner.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.objects.len(), 3);
    assert!(all.next_page_token.is_none());

    // Filter by type, with and without the type argument.
    for (filter, count) in [
        ("0x2::coin::Coin<0x2::sui::SUI>", 2),
        ("0x2::coin::Coin", 3),
        ("0xa11::wal::WAL", 0),
    ] {
        let page = client
            .state_client()
            .list_owned_objects(
                ListOwnedObjectsRequest::default()
                    .with_owner(owner.clone())
                    .with_object_type(filter),
            )
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.objects.len(), count, "{filter}");
    }

    // Pages of one.
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let mut request = ListOwnedObjectsRequest::default()
            .with_owner(owner.clone())
            .with_page_size(1);
        request.page_token = token;
        let page = client
            .state_client()
            .list_owned_objects(request)
            .await
            .unwrap()
            .into_inner();
        ids.extend(
            page.objects
                .iter()
                .map(|object| object.object_id().to_owned()),
        );
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    let expected: Vec<String> = all
        .objects
        .iter()
        .map(|object| object.object_id().to_owned())
        .collect();
    assert_eq!(ids, expected);

    let balances = client
        .state_client()
        .list_balances(ListBalancesRequest::default().with_owner(owner))
        .await
        .unwrap()
        .into_inner();
    let balances: Vec<(String, u64)> = balances
        .balances
        .iter()
        .map(|balance| (balance.coin_type().to_owned(), balance.balance()))
        .collect();
    assert_eq!(balances.len(), 2);
    assert!(balances.contains(&(SUI_TYPE.to_owned(), 20 * SUI)));
    assert!(balances
        .iter()
        .any(|(ty, amount)| ty.ends_with("::wal::WAL") && *amount == 100_000 * WAL));
    assert_eq!(
        sui_balance(&mut client, net.users[0].address).await,
        20 * SUI
    );
}

#[tokio::test]
async fn execute_a_coin_split() {
    let net = Net::new(2);
    let (_server, mut client) = start(&net).await;
    let transaction = split_tx(&net, &mut client).await;
    let response = client
        .execution_client()
        .execute_transaction(
            execute_request(&net, 0, &transaction)
                .with_read_mask(FieldMask::from_str("digest,effects,events")),
        )
        .await
        .unwrap()
        .into_inner();
    let executed = response.transaction();
    assert_eq!(executed.digest(), transaction.digest().to_string());
    let effects = executed.effects();
    assert!(effects.status().success());
    // The gas coin is mutated and a new coin created.
    let created = effects
        .changed_objects
        .iter()
        .filter(|change| change.id_operation() == pb::changed_object::IdOperation::Created)
        .count();
    assert_eq!(created, 1);
    assert_eq!(effects.changed_objects.len(), 2);
    // The effects are Sui's, with the executor's digest.
    let sui_effects = sui_sdk_types::TransactionEffects::try_from(effects).unwrap();
    assert_eq!(effects.digest(), sui_effects.digest().to_string());

    assert_eq!(
        sui_balance(&mut client, net.users[1].address).await,
        21 * SUI
    );
    let cost = 3_000 * walrus_localchain::REFERENCE_GAS_PRICE;
    assert_eq!(
        sui_balance(&mut client, net.users[0].address).await,
        19 * SUI - cost
    );
}

#[tokio::test]
async fn the_clock_can_follow_the_wall_clock() {
    let net = Net::new(2);
    let config = ServiceConfig {
        sync_clock: true,
        ..ServiceConfig::default()
    };
    let server = LocalServer::start(net.executor.clone(), config)
        .await
        .unwrap();
    let mut client = Client::new(server.url()).unwrap();
    let clock_id = walrus_localchain::CLOCK_OBJECT_ID;
    let before = fetch(&mut client, clock_id).await;
    let transaction = split_tx(&net, &mut client).await;
    client
        .execution_client()
        .execute_transaction(execute_request(&net, 0, &transaction))
        .await
        .unwrap();
    let after = fetch(&mut client, clock_id).await;
    assert!(after.version() > before.version());
    let contents = after.as_struct().unwrap().contents();
    let ObjectValue::Clock(clock) = ObjectValue::decode(ObjectType::Clock, contents).unwrap()
    else {
        panic!("the clock is a clock");
    };
    // Set to the wall clock (after 2020), not the genesis time of 1 s.
    assert!(clock.timestamp_ms > 1_577_836_800_000);
}

#[tokio::test]
async fn rejected_transactions_change_nothing() {
    let net = Net::new(2);
    let (_server, mut client) = start(&net).await;
    let gas_before = fetch(&mut client, net.gas(0)).await;
    let transaction = split_tx(&net, &mut client).await;

    // Signed by user 1 instead of the sender.
    let status = client
        .execution_client()
        .execute_transaction(execute_request(&net, 1, &transaction))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("not by the sender"), "{status:?}");

    // Executed once, then resent with the now stale gas reference in a new transaction.
    client
        .execution_client()
        .execute_transaction(execute_request(&net, 0, &transaction))
        .await
        .unwrap();
    let status = client
        .execution_client()
        .execute_transaction(execute_request(&net, 0, &transaction))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::AlreadyExists);
    let gas_after = fetch(&mut client, net.gas(0)).await;
    assert_eq!(gas_after.version(), gas_before.version() + 1);

    let mut stale = tx_paid_with(net.users[0].address, ObjectInput::from(&gas_before));
    stale.set_gas_budget(GAS_BUDGET + 1);
    let stale = stale.try_build().unwrap();
    let status = client
        .execution_client()
        .execute_transaction(execute_request(&net, 0, &stale))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(
        status.message().contains("stale object reference"),
        "{status:?}"
    );
    assert_eq!(fetch(&mut client, net.gas(0)).await, gas_after);

    // A transaction that is not even BCS.
    let mut garbage = ExecuteTransactionRequest::default();
    garbage.transaction = Some(
        pb::Transaction::default().with_bcs(
            pb::Bcs::default()
                .with_name("TransactionData")
                .with_value(vec![1, 2, 3]),
        ),
    );
    let status = client
        .execution_client()
        .execute_transaction(garbage)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn execute_and_wait_for_checkpoint_with_events() {
    // Nodes register and the epoch changes on the executor before it is served.
    let mut net = Net::new(5);
    net.register_nodes();
    net.next_epoch();
    let (_server, mut client) = start(&net).await;

    let mut subscription = client
        .subscription_client()
        .subscribe_checkpoints(SubscribeCheckpointsRequest::default().with_read_mask(
            FieldMask::from_str("sequence_number,transactions.digest,transactions.events"),
        ))
        .await
        .unwrap()
        .into_inner();

    // Reserve space and register a blob: a `BlobRegistered` event.
    let transaction = net
        .reserve_and_register_tx(b"hello walrus, over gRPC", 2, true)
        .try_build()
        .unwrap();
    let digest = transaction.digest().to_string();

    let response = client
        .execute_transaction_and_wait_for_checkpoint(
            execute_request(&net, 0, &transaction)
                .with_read_mask(FieldMask::from_str("digest,effects.status,events")),
            Duration::from_secs(10),
        )
        .await
        .unwrap()
        .into_inner();
    let executed = response.transaction();
    assert_eq!(executed.digest(), digest);
    assert!(executed.effects().status().success());
    let checkpoint = executed.checkpoint();
    assert!(checkpoint >= 1);
    assert!(executed.timestamp.is_some());
    let names: Vec<String> = executed
        .events()
        .events
        .iter()
        .map(|event| event.event_type().to_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|name| name.ends_with("::events::BlobRegistered")),
        "{names:?}"
    );

    // The subscription saw the checkpoint, with the transaction and its events.
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let item = subscription.next().await.unwrap().unwrap();
            let checkpoint = item.checkpoint().clone();
            if checkpoint
                .transactions
                .iter()
                .any(|tx| tx.digest() == digest)
            {
                break checkpoint;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(seen.sequence_number(), checkpoint);
    let in_checkpoint = seen
        .transactions
        .iter()
        .find(|tx| tx.digest() == digest)
        .unwrap();
    assert!(in_checkpoint
        .events()
        .events
        .iter()
        .any(|event| event.event_type().ends_with("::events::BlobRegistered")));

    // The transaction and the checkpoint can be read back.
    let lookup = client
        .ledger_client()
        .get_transaction(
            GetTransactionRequest::default()
                .with_digest(&digest)
                .with_read_mask(FieldMask::from_str("digest,checkpoint,timestamp")),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lookup.transaction().checkpoint(), checkpoint);
    let read = client
        .ledger_client()
        .get_checkpoint(
            GetCheckpointRequest::by_sequence_number(checkpoint).with_read_mask(
                FieldMask::from_str("sequence_number,digest,summary,contents,transactions.digest"),
            ),
        )
        .await
        .unwrap()
        .into_inner();
    let read = read.checkpoint();
    assert_eq!(read.transactions.len(), 1);
    assert_eq!(read.transactions[0].digest(), digest);
    let summary = sui_sdk_types::CheckpointSummary::try_from(read.summary()).unwrap();
    assert_eq!(read.digest(), summary.digest().to_string());
    assert_eq!(summary.sequence_number, checkpoint);
    let latest = client
        .ledger_client()
        .get_checkpoint(GetCheckpointRequest::latest())
        .await
        .unwrap()
        .into_inner();
    assert!(latest.checkpoint().sequence_number() >= checkpoint);

    // An unknown transaction is NOT_FOUND.
    let status = client
        .ledger_client()
        .get_transaction(
            GetTransactionRequest::default().with_digest(sui_sdk_types::Digest::ZERO.to_string()),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn unserved_methods_are_unimplemented() {
    let net = Net::new(1);
    let (_server, mut client) = start(&net).await;
    // A method of a served service.
    let status = client
        .ledger_client()
        .batch_get_transactions(pb::BatchGetTransactionsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    // A service that is not served.
    let status = client
        .package_client()
        .get_package(pb::GetPackageRequest::default().with_package_id("0xa12"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    // A bad read mask.
    let status = client
        .ledger_client()
        .get_object(
            GetObjectRequest::default()
                .with_object_id("0x6")
                .with_read_mask(FieldMask::from_str("no_such_field")),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}
