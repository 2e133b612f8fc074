//! Durability: a chain opened from a data directory ([`ChainState::open`], one redb file)
//! survives being dropped and reopened: objects, balances, executed transactions, checkpoints
//! and the chain ID are identical, transactions executed but not yet in a checkpoint are sealed
//! into the next one at start, new transactions continue with the right versions, and a
//! checkpoint subscriber resumes after a restart without gaps or duplicates. A torn or garbage
//! file is a clear error.

use crate::common;

use std::{path::Path, time::Duration};

use common::*;
use sui_rpc::{
    field::{FieldMask, FieldMaskUtil},
    proto::sui::rpc::v2::{
        self as pb, GetCheckpointRequest, GetTransactionRequest, SubscribeCheckpointsRequest,
    },
    Client,
};
use sui_sdk_types::{Digest, Transaction, UserSignature};
use sui_transaction_builder::{ObjectInput, TransactionBuilder};
use tokio_stream::StreamExt;
use walrus_localchain::{
    db::DB_FILE_NAME, service::ChainState, types::ObjectType, ChainDbError, Effects,
    ExecutionError, Genesis, LocalServer, LocalnetService, ServiceConfig,
};

const N_USERS: u8 = 2;

/// A transaction from `user` paying with its gas coin at the chain's current version.
fn tx(state: &ChainState, net: &Net, user: usize) -> TransactionBuilder {
    let gas = state.executor.store().get(&net.gas(user)).unwrap();
    tx_paid_with(net.users[user].address, ObjectInput::from(gas))
}

/// Splits `amount` off `from`'s gas coin and sends it to `to`.
fn split(state: &ChainState, net: &Net, from: usize, to: usize, amount: u64) -> TransactionBuilder {
    let mut tx = tx(state, net, from);
    send_from_gas(&mut tx, amount, net.users[to].address);
    tx
}

/// Reads the Walrus epoch from `System` (a read-only shared input) and sends `user`'s WAL coin
/// to itself (an owned non-gas input).
fn read_system(state: &ChainState, net: &Net, user: usize) -> TransactionBuilder {
    let wal = state.executor.store().get(&net.wal(user)).unwrap();
    let mut tx = tx(state, net, user);
    let system = tx.object(net.system(false));
    call(&mut tx, "system", "epoch", vec![system]);
    let wal = tx.object(ObjectInput::from(wal));
    net.keep(&mut tx, user, vec![wal]);
    tx
}

/// Signs, executes and records a transaction (what the service does).
fn run(
    state: &mut ChainState,
    net: &Net,
    user: usize,
    tx: TransactionBuilder,
) -> (Transaction, UserSignature, Effects) {
    let transaction = tx.try_build().unwrap();
    let signature = net.sign(user, &transaction);
    let effects = state
        .executor
        .execute(&transaction, std::slice::from_ref(&signature))
        .unwrap();
    state
        .ledger
        .record(&transaction, std::slice::from_ref(&signature), &effects);
    (transaction, signature, effects)
}

fn open(dir: &Path) -> ChainState {
    ChainState::open(dir, &Net::config(N_USERS)).unwrap().0
}

/// The transaction digests of a checkpoint.
fn digests(checkpoint: &pb::Checkpoint) -> Vec<String> {
    checkpoint
        .transactions
        .iter()
        .map(|tx| tx.digest().to_owned())
        .collect()
}

#[test]
fn state_survives_a_restart_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let net = Net::new(N_USERS);
    let (mut state, genesis) = ChainState::open(dir.path(), &Net::config(N_USERS)).unwrap();
    // The genesis is the in-memory one, and so is checkpoint 0 (the chain ID).
    assert_eq!(genesis, net.genesis);
    assert_eq!(state.executor.store(), net.executor.store());
    let in_memory = ChainState::new(net.executor.clone());
    assert_eq!(state.ledger.chain_id(), in_memory.ledger.chain_id());
    assert_eq!(
        state.ledger.latest_checkpoint(),
        in_memory.ledger.latest_checkpoint()
    );
    let chain_id = state.ledger.chain_id();

    let (tx1, sig1, e1) = {
        let tx = split(&state, &net, 0, 1, SUI);
        run(&mut state, &net, 0, tx)
    };
    assert_eq!(state.seal_checkpoint().unwrap(), Some(1));
    // Executed, not sealed: pending when the chain stops.
    let (tx2, _, e2) = {
        let tx = read_system(&state, &net, 1);
        run(&mut state, &net, 1, tx)
    };
    let (tx3, _, e3) = {
        let tx = split(&state, &net, 1, 0, 2 * SUI);
        run(&mut state, &net, 1, tx)
    };
    state.executor.set_timestamp_ms(5_000).unwrap();

    let objects = state.executor.store().clone();
    let checkpoint_1 = state.ledger.checkpoint(1).unwrap().clone();
    let executed_1 = state.ledger.transaction(&tx1.digest()).unwrap().clone();
    let balance = |state: &ChainState, user: usize| -> u64 {
        state
            .executor
            .store()
            .owned_of_type(net.users[user].address, ObjectType::SuiCoin)
            .into_iter()
            .map(|coin| {
                state
                    .executor
                    .store()
                    .coin_balance(&coin.object_id())
                    .unwrap()
            })
            .sum()
    };
    let balances = (balance(&state, 0), balance(&state, 1));
    drop(state);

    // Reopen: same state; the pending transactions are sealed into checkpoint 2 first.
    let mut state = open(dir.path());
    assert_eq!(state.executor.store(), &objects);
    assert_eq!(state.executor.timestamp_ms().unwrap(), 5_000);
    assert_eq!((balance(&state, 0), balance(&state, 1)), balances);
    assert_eq!(state.ledger.chain_id(), chain_id);
    assert_eq!(state.executor.executed_count(), 3);
    assert_eq!(state.executor.effects(&tx1.digest()), Some(&e1));
    assert_eq!(state.executor.effects(&tx2.digest()), Some(&e2));
    assert_eq!(state.executor.effects(&tx3.digest()), Some(&e3));
    assert_eq!(state.ledger.checkpoint(1).unwrap(), &checkpoint_1);
    assert_eq!(
        state.ledger.transaction(&tx1.digest()).unwrap(),
        &executed_1
    );
    assert!(!state.ledger.has_pending());
    assert_eq!(state.ledger.latest_sequence_number(), 2);
    let checkpoint_2 = state.ledger.checkpoint(2).unwrap().clone();
    assert_eq!(
        digests(&checkpoint_2),
        [tx2.digest().to_string(), tx3.digest().to_string()]
    );
    assert_eq!(
        checkpoint_2.summary.as_ref().unwrap().previous_digest,
        checkpoint_1.digest
    );
    assert_eq!(
        state.ledger.transaction(&tx3.digest()).unwrap().checkpoint,
        Some(2)
    );

    // A transaction executed before is still known.
    assert_eq!(
        state.executor.execute(&tx1, &[sig1]),
        Err(ExecutionError::AlreadyExecuted(tx1.digest()))
    );
    // New transactions continue from the stored versions.
    let gas_version = state.executor.store().get(&net.gas(0)).unwrap().version();
    let (tx4, _, e4) = {
        let tx = split(&state, &net, 0, 1, SUI);
        run(&mut state, &net, 0, tx)
    };
    assert_eq!(e4.lamport_version, gas_version + 1);
    assert_eq!(
        state.executor.store().get(&net.gas(0)).unwrap().version(),
        gas_version + 1
    );
    assert_eq!(state.seal_checkpoint().unwrap(), Some(3));
    let objects = state.executor.store().clone();
    let checkpoint_3 = state.ledger.checkpoint(3).unwrap().clone();
    drop(state);

    // Nothing pending at the second restart: nothing new is sealed.
    let state = open(dir.path());
    assert_eq!(state.executor.store(), &objects);
    assert_eq!(state.ledger.latest_sequence_number(), 3);
    assert_eq!(state.ledger.checkpoint(3).unwrap(), &checkpoint_3);
    assert_eq!(digests(&checkpoint_3), [tx4.digest().to_string()]);
    assert!(state.ledger.checkpoint(4).is_none());
}

#[test]
fn one_user_per_directory_and_genesis_must_match() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path());
    let error = ChainState::open(dir.path(), &Net::config(N_USERS))
        .err()
        .unwrap();
    assert!(matches!(error, ChainDbError::AlreadyOpen(_)), "{error}");
    drop(state);
    let error = ChainState::open(dir.path(), &Net::config(N_USERS + 1))
        .err()
        .unwrap();
    assert!(
        matches!(error, ChainDbError::GenesisMismatch { .. }),
        "{error}"
    );
    // The right configuration still opens it.
    open(dir.path());
}

#[test]
fn garbage_and_torn_files_are_errors() {
    // Not a database at all.
    let dir = tempfile::tempdir().unwrap();
    let garbage = b"this is not a redb database. ".repeat(600);
    std::fs::write(dir.path().join(DB_FILE_NAME), &garbage).unwrap();
    let error = ChainState::open(dir.path(), &Net::config(N_USERS))
        .err()
        .unwrap();
    assert!(error.to_string().contains(DB_FILE_NAME), "{error}");
    eprintln!("{error}");

    // A real chain, torn: the file cut short.
    let dir = tempfile::tempdir().unwrap();
    let net = Net::new(N_USERS);
    let mut state = open(dir.path());
    {
        let tx = split(&state, &net, 0, 1, SUI);
        run(&mut state, &net, 0, tx)
    };
    drop(state);
    let path = dir.path().join(DB_FILE_NAME);
    let bytes = std::fs::read(&path).unwrap();
    for length in [bytes.len() / 2, 100, 1] {
        std::fs::write(&path, &bytes[..length]).unwrap();
        let error = ChainState::open(dir.path(), &Net::config(N_USERS))
            .err()
            .unwrap_or_else(|| panic!("a file cut to {length} bytes opened"));
        assert!(error.to_string().contains(DB_FILE_NAME), "{error}");
        eprintln!("{error}");
    }

    // The data directory is a file.
    let file = tempfile::NamedTempFile::new().unwrap();
    let error = ChainState::open(file.path(), &Net::config(N_USERS))
        .err()
        .unwrap();
    assert!(matches!(error, ChainDbError::Io { .. }), "{error}");
}

// ---- Through the gRPC service ----

/// Reopens `dir` once the previous server's connections have let go of the database.
async fn reopen(dir: &Path) -> (ChainState, Genesis) {
    for _ in 0..200 {
        match ChainState::open(dir, &Net::config(N_USERS)) {
            Err(ChainDbError::AlreadyOpen(_)) => {
                tokio::time::sleep(Duration::from_millis(25)).await
            }
            result => return result.unwrap(),
        }
    }
    panic!("the database stayed open");
}

/// Sends 1 SUI from user 0 to user 1 through the service; the transaction's digest.
async fn send(net: &Net, client: &mut Client) -> Digest {
    let (transaction, gas) = send_sui_tx(net, client).await;
    let response = client
        .execution_client()
        .execute_transaction(
            execute_request(net, 0, &transaction).with_read_mask(FieldMask::from_str("effects")),
        )
        .await
        .unwrap()
        .into_inner();
    let version = response.transaction().effects().lamport_version();
    assert_eq!(version, gas.version() + 1);
    transaction.digest()
}

async fn chain_id_and_balance(net: &Net, client: &mut Client) -> (String, u64) {
    let info = service_info(client).await;
    let balance = sui_balance(client, net.users[1].address).await;
    (info.chain_id().to_owned(), balance)
}

const CHECKPOINT_MASK: &str = "sequence_number,digest,summary.previous_digest,transactions.digest";

async fn subscribe(client: &mut Client) -> tonic::Streaming<pb::SubscribeCheckpointsResponse> {
    client
        .subscription_client()
        .subscribe_checkpoints(
            SubscribeCheckpointsRequest::default()
                .with_read_mask(FieldMask::from_str(CHECKPOINT_MASK)),
        )
        .await
        .unwrap()
        .into_inner()
}

async fn next_checkpoint(
    stream: &mut tonic::Streaming<pb::SubscribeCheckpointsResponse>,
) -> pb::Checkpoint {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .checkpoint()
        .clone()
}

async fn get_checkpoint(client: &mut Client, sequence_number: u64) -> pb::Checkpoint {
    client
        .ledger_client()
        .get_checkpoint(
            GetCheckpointRequest::by_sequence_number(sequence_number)
                .with_read_mask(FieldMask::from_str(CHECKPOINT_MASK)),
        )
        .await
        .unwrap()
        .into_inner()
        .checkpoint()
        .clone()
}

#[tokio::test]
async fn restart_in_the_middle_of_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let net = Net::new(N_USERS);
    let mut executed = Vec::new();

    // First run, without the checkpoint task (checkpoints are sealed by hand).
    let (state, _) = ChainState::open(dir.path(), &Net::config(N_USERS)).unwrap();
    let service = LocalnetService::with_state(state, ServiceConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(service.clone().serve(listener));
    let mut client = Client::new(url).unwrap();
    let mut stream = subscribe(&mut client).await;
    for _ in 0..3 {
        executed.push(send(&net, &mut client).await.to_string());
    }
    service.seal_checkpoint().await;
    let first = next_checkpoint(&mut stream).await;
    assert_eq!(first.sequence_number(), 1);
    assert_eq!(digests(&first), executed);
    let last_seen = first.sequence_number();
    // Two more, answered (so durable) but not in a checkpoint when the chain stops.
    for _ in 0..2 {
        executed.push(send(&net, &mut client).await.to_string());
    }
    let before = chain_id_and_balance(&net, &mut client).await;
    serving.abort();
    let _ = serving.await;
    drop((stream, client, service));

    // Second run, with the checkpoint task.
    let (state, _) = reopen(dir.path()).await;
    assert_eq!(state.ledger.latest_sequence_number(), 2);
    let config = ServiceConfig {
        checkpoint_interval: Duration::from_millis(20),
        ..ServiceConfig::default()
    };
    let server = LocalServer::start_with_state(state, config).await.unwrap();
    let mut client = Client::new(server.url()).unwrap();
    assert_eq!(chain_id_and_balance(&net, &mut client).await, before);
    let mut stream = subscribe(&mut client).await;
    let mut after = Vec::new();
    for _ in 0..3 {
        after.push(send(&net, &mut client).await.to_string());
    }
    executed.extend(after.iter().cloned());
    // The subscription delivers checkpoints from the one after the latest at subscription.
    let mut streamed = Vec::new();
    while streamed.iter().flat_map(digests).count() < after.len() {
        streamed.push(next_checkpoint(&mut stream).await);
    }
    let first_streamed = streamed[0].sequence_number();
    assert!(first_streamed > 2);
    for pair in streamed.windows(2) {
        assert_eq!(pair[1].sequence_number(), pair[0].sequence_number() + 1);
    }

    // The subscriber catches up from its cursor with `get_checkpoint`, then the stream: every
    // checkpoint exactly once, chained, with every transaction exactly once, in order.
    let mut all = Vec::new();
    for sequence_number in last_seen + 1..first_streamed {
        all.push(get_checkpoint(&mut client, sequence_number).await);
    }
    all.extend(streamed.iter().cloned());
    let mut previous = first.clone();
    let mut seen = digests(&first);
    for checkpoint in &all {
        assert_eq!(checkpoint.sequence_number(), previous.sequence_number() + 1);
        assert_eq!(checkpoint.summary().previous_digest(), previous.digest());
        assert_eq!(
            &get_checkpoint(&mut client, checkpoint.sequence_number()).await,
            checkpoint
        );
        seen.extend(digests(checkpoint));
        previous = checkpoint.clone();
    }
    assert_eq!(seen, executed);
    // The transactions pending at the restart are in checkpoint 2.
    assert_eq!(digests(&all[0]), executed[3..5]);
    let transaction = client
        .ledger_client()
        .get_transaction(
            GetTransactionRequest::default()
                .with_digest(executed[4].clone())
                .with_read_mask(FieldMask::from_str("digest,checkpoint")),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(transaction.transaction().checkpoint(), 2);
}
