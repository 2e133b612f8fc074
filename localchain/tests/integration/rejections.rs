//! Every way a transaction is rejected, each leaving the store untouched (`Net::reject`
//! checks that).

use crate::common;

use common::*;
use sui_sdk_types::{Address, Identifier, Input, TransactionKind};
use sui_transaction_builder::{Function, ObjectInput, TransactionBuilder};
use walrus_localchain::{types::ObjectType, ExecutionError, REFERENCE_GAS_PRICE, WAL_PACKAGE_ID};

/// Splits 1 SUI off the gas coin and sends it to the sender.
fn pay_self(net: &Net, user: usize) -> TransactionBuilder {
    let mut tx = net.tx(user);
    send_from_gas(&mut tx, SUI, net.users[user].address);
    tx
}

/// `reserve_space` of 1 MiB for `epochs` paid with `payment`, the storage kept.
fn reserve(net: &Net, epochs: u32, payment: ObjectInput) -> TransactionBuilder {
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    let size = tx.pure(&(1u64 << 20));
    let epochs = tx.pure(&epochs);
    let wal = tx.object(payment);
    let storage = reserve_space(&mut tx, system, size, epochs, wal);
    net.keep(&mut tx, 0, vec![storage]);
    tx
}

/// A network whose committee is set (capacity and prices), so reservations can succeed.
fn network() -> Net {
    let mut net = Net::new(5);
    net.register_nodes();
    net.next_epoch();
    net
}

#[test]
fn bad_signatures() {
    let mut net = Net::new(2);
    let transaction = pay_self(&net, 0).try_build().unwrap();
    // Signed by another key.
    let other = net.sign(1, &transaction);
    let error = net.reject_signed(&transaction, &[other]);
    assert!(
        matches!(error, ExecutionError::SignerMismatch { sender, signer } if sender == net.users[0].address && signer == net.users[1].address),
        "{error}"
    );
    // A valid signature of the sender over another transaction.
    let mut other_tx = transaction.clone();
    other_tx.gas_payment.budget += 1;
    let wrong = net.sign(0, &other_tx);
    let error = net.reject_signed(&transaction, &[wrong]);
    assert!(
        matches!(error, ExecutionError::InvalidSignature(_)),
        "{error}"
    );
    // No signature, or two.
    let right = net.sign(0, &transaction);
    assert_eq!(
        net.reject_signed(&transaction, &[]),
        ExecutionError::SignatureCount(0)
    );
    assert_eq!(
        net.reject_signed(&transaction, &[right.clone(), right.clone()]),
        ExecutionError::SignatureCount(2)
    );
    net.executor.execute(&transaction, &[right]).unwrap();
}

#[test]
fn stale_references_and_replays() {
    let mut net = Net::new(1);
    let old_gas = net.input(net.gas(0));
    let old_wal = net.input(net.wal(0));
    let transaction = pay_self(&net, 0).try_build().unwrap();
    let signature = net.sign(0, &transaction);
    let effects = net
        .executor
        .execute(&transaction, std::slice::from_ref(&signature))
        .unwrap();
    assert_eq!(effects.created_of_type(ObjectType::SuiCoin).len(), 1);
    // The same transaction again.
    let error = net.reject_signed(&transaction, &[signature]);
    assert_eq!(error, ExecutionError::AlreadyExecuted(transaction.digest()));

    // A new transaction naming the gas coin's old version.
    let tx = tx_paid_with(net.users[0].address, old_gas);
    let error = net.reject(0, tx);
    assert!(
        matches!(error, ExecutionError::StaleObjectReference { object, version: 1, current_version: 2, .. } if object == net.gas(0)),
        "{error}"
    );

    // An input with the right version but a wrong digest.
    let wal = net.wal(0);
    let reference = net.executor.store().object_ref(&wal).unwrap();
    let mut tx = net.tx(0);
    let coin = tx.object(ObjectInput::owned(
        wal,
        reference.version(),
        sui_sdk_types::Digest::ZERO,
    ));
    net.keep(&mut tx, 0, vec![coin]);
    let error = net.reject(0, tx);
    assert!(
        matches!(error, ExecutionError::StaleObjectReference { .. }),
        "{error}"
    );

    // The WAL coin's genesis reference is still current (it was not an input).
    let mut tx = net.tx(0);
    let coin = tx.object(old_wal);
    net.keep(&mut tx, 0, vec![coin]);
    net.execute(0, tx).unwrap();
}

#[test]
fn objects_of_someone_else() {
    let mut net = network();
    // User 1's WAL coin as user 0's payment.
    let error = net.reject(0, reserve(&net, 1, net.input(net.wal(1))));
    assert!(
        matches!(&error, ExecutionError::NotOwnedBySender { object, owner } if *object == net.wal(1) && *owner == net.users[1].address.to_string()),
        "{error}"
    );
    // User 1's gas coin.
    let tx = tx_paid_with(net.users[0].address, net.input(net.gas(1)));
    let error = net.reject(0, tx);
    assert!(
        matches!(error, ExecutionError::NotOwnedBySender { .. }),
        "{error}"
    );
    // User 1's storage node capability.
    let tx = net.epoch_sync_done_tx(0, net.nodes[0].cap, 1);
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::NotOwnedBySender { .. }
    ));
}

#[test]
fn coin_used_twice() {
    let mut net = network();
    // The gas coin also as an input.
    let error = net.reject(0, reserve(&net, 1, net.input(net.gas(0))));
    assert_eq!(error, ExecutionError::DuplicateObject(net.gas(0)));

    // The same input object twice in the input list.
    let transaction = reserve(&net, 1, net.input(net.wal(0))).try_build().unwrap();
    let mut duplicated = transaction.clone();
    let TransactionKind::ProgrammableTransaction(ptb) = &mut duplicated.kind else {
        panic!("a programmable transaction");
    };
    let wal_input = ptb
        .inputs
        .iter()
        .find(|input| matches!(input, Input::ImmutableOrOwned(reference) if *reference.object_id() == net.wal(0)))
        .cloned()
        .unwrap();
    ptb.inputs.push(wal_input);
    let signature = net.sign(0, &duplicated);
    let error = net.reject_signed(&duplicated, &[signature]);
    assert_eq!(error, ExecutionError::DuplicateObject(net.wal(0)));

    // Merging a coin into itself.
    let mut tx = net.tx(0);
    let wal = tx.object(net.input(net.wal(0)));
    tx.merge_coins(wal, vec![wal]);
    let error = net.reject(0, tx);
    assert_eq!(
        error,
        ExecutionError::ValueUnavailable {
            command: 0,
            argument: 1
        }
    );

    // A split coin moved twice.
    let mut tx = net.tx(0);
    let wal = tx.object(net.input(net.wal(0)));
    let amount = tx.pure(&WAL);
    let part = tx.split_coins(wal, vec![amount]);
    let node = tx.pure(&net.nodes[0].node_id);
    let staking = tx.object(net.staking(true));
    let staked = call(
        &mut tx,
        "staking",
        "stake_with_pool",
        vec![staking, part[0], node],
    );
    net.keep(&mut tx, 0, vec![staked, part[0]]);
    let error = net.reject(0, tx);
    assert_eq!(
        error,
        ExecutionError::ValueUnavailable {
            command: 2,
            argument: 1
        }
    );
}

#[test]
fn unknown_functions_and_arity() {
    let mut net = network();
    let mut tx = net.tx(0);
    let system = tx.object(net.system(false));
    call(&mut tx, "system", "no_such_function", vec![system]);
    let error = net.reject(0, tx);
    assert!(
        matches!(&error, ExecutionError::FunctionNotFound { command: 0, module, function, .. } if module == "system" && function == "no_such_function"),
        "{error}"
    );
    // Package-internal functions cannot be called.
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    call(&mut tx, "system", "advance_epoch", vec![system]);
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::FunctionNotFound { .. }
    ));
    // Another package.
    let mut tx = net.tx(0);
    let gas = tx.gas();
    tx.move_call(
        Function::new(
            Address::TWO,
            Identifier::new("coin").unwrap(),
            Identifier::new("value").unwrap(),
        ),
        vec![gas],
    );
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::FunctionNotFound { .. }
    ));
    // `wal::frost_per_wal` exists; with an argument it is an arity error.
    let mut tx = net.tx(0);
    let one = tx.pure(&1u8);
    tx.move_call(
        Function::new(
            WAL_PACKAGE_ID,
            Identifier::new("wal").unwrap(),
            Identifier::new("frost_per_wal").unwrap(),
        ),
        vec![one],
    );
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::ArityMismatch {
            expected: 0,
            found: 1,
            ..
        }
    ));
    // Three arguments for `reserve_space`.
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    let size = tx.pure(&1u64);
    let epochs = tx.pure(&1u32);
    call(
        &mut tx,
        "system",
        "reserve_space",
        vec![system, size, epochs],
    );
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::ArityMismatch {
            expected: 4,
            found: 3,
            ..
        }
    ));
}

#[test]
fn wrong_argument_types() {
    let mut net = network();
    // Coin<SUI> where Coin<WAL> is expected.
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    let size = tx.pure(&1u64);
    let epochs = tx.pure(&1u32);
    let gas = tx.gas();
    let storage = reserve_space(&mut tx, system, size, epochs, gas);
    net.keep(&mut tx, 0, vec![storage]);
    let error = net.reject(0, tx);
    assert!(
        matches!(&error, ExecutionError::TypeMismatch { command: 0, argument: 3, expected, found } if expected.contains("wal::WAL") && found.contains("sui::SUI")),
        "{error}"
    );
    // Staking where System is expected.
    let mut tx = net.tx(0);
    let staking = tx.object(net.staking(true));
    let size = tx.pure(&1u64);
    let epochs = tx.pure(&1u32);
    let wal = tx.object(net.input(net.wal(0)));
    reserve_space(&mut tx, staking, size, epochs, wal);
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::TypeMismatch { argument: 0, .. }
    ));
    // A pure value where an object is expected, and an object where a pure value is.
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    let size = tx.pure(&1u64);
    let epochs = tx.object(net.input(net.wal(0)));
    reserve_space(&mut tx, system, size, epochs, size);
    let error = net.reject(0, tx);
    assert!(
        matches!(error, ExecutionError::TypeMismatch { argument: 2, .. }),
        "{error}"
    );
    // A u256 returned by a call used as a u64.
    let mut tx = net.tx(0);
    let root = tx.pure(&[7u8; 32]);
    let encoding = tx.pure(&1u8);
    let size = tx.pure(&5u64);
    let blob_id = call(
        &mut tx,
        "blob",
        "derive_blob_id",
        vec![root, encoding, size],
    );
    call(&mut tx, "system", "storage_units", vec![blob_id]);
    let error = net.reject(0, tx);
    assert!(
        matches!(&error, ExecutionError::TypeMismatch { command: 1, expected, found, .. } if expected == "u64" && found == "u256"),
        "{error}"
    );
    // A read-only shared object used mutably.
    let mut tx = net.tx(0);
    let system = tx.object(net.system(false));
    let size = tx.pure(&1u64);
    let epochs = tx.pure(&1u32);
    let wal = tx.object(net.input(net.wal(0)));
    let storage = reserve_space(&mut tx, system, size, epochs, wal);
    net.keep(&mut tx, 0, vec![storage]);
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::InvalidObjectUse { argument: 0, .. }
    ));
    // A shared object cannot be transferred.
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    net.keep(&mut tx, 0, vec![system]);
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::InvalidObjectUse { .. }
    ));
}

#[test]
fn malformed_pure_bytes() {
    let mut net = network();
    let cases: [(Vec<u8>, usize); 3] = [
        (vec![1, 2, 3], 1),                   // 3 bytes for a u64
        (vec![1, 0, 0, 0, 0, 0, 0, 0, 9], 1), // trailing byte
        (vec![5, 0, 0, 0, 0], 2),             // 5 bytes for a u32
    ];
    for (bytes, argument) in cases {
        let mut tx = net.tx(0);
        let system = tx.object(net.system(true));
        let good_size = tx.pure(&1u64);
        let good_epochs = tx.pure(&1u32);
        let bad = tx.pure_bytes(bytes);
        let (size, epochs) = if argument == 1 {
            (bad, good_epochs)
        } else {
            (good_size, bad)
        };
        let wal = tx.object(net.input(net.wal(0)));
        let storage = reserve_space(&mut tx, system, size, epochs, wal);
        net.keep(&mut tx, 0, vec![storage]);
        let error = net.reject(0, tx);
        assert!(
            matches!(&error, ExecutionError::InvalidPureBytes { command: 0, argument: a, .. } if *a == argument),
            "{error}"
        );
    }
    // A bool that is 2.
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    let size = tx.pure(&(1u64 << 20));
    let epochs = tx.pure(&1u32);
    let wal = tx.object(net.input(net.wal(0)));
    let storage = reserve_space(&mut tx, system, size, epochs, wal);
    let deletable = tx.pure_bytes(vec![2]);
    let blob = register_blob(&mut tx, system, storage, b"x", deletable, wal);
    net.keep(&mut tx, 0, vec![blob]);
    let error = net.reject(0, tx);
    assert!(
        matches!(&error, ExecutionError::InvalidPureBytes { command: 1, argument: 6, expected, .. } if expected == "bool"),
        "{error}"
    );
    // A string that is not UTF-8.
    let bls = walrus_core::crypto::ProtocolKeyPair::from_seed([3; 32]);
    let tx = net.register_candidate_tx(0, &bls, vec![0; 96]);
    // Replace the name argument's bytes (input 1) by invalid UTF-8.
    let mut transaction = tx.try_build().unwrap();
    let TransactionKind::ProgrammableTransaction(ptb) = &mut transaction.kind else {
        panic!("a programmable transaction");
    };
    ptb.inputs[1] = Input::Pure(vec![2, 0xff, 0xfe]);
    let signature = net.sign(0, &transaction);
    let error = net.reject_signed(&transaction, &[signature]);
    assert!(
        matches!(&error, ExecutionError::InvalidPureBytes { expected, .. } if expected.contains("String")),
        "{error}"
    );
}

#[test]
fn move_abort_changes_nothing() {
    let mut net = network();
    // Zero epochs: system::EInvalidEpochsAhead, in command 0.
    let error = net.reject(0, reserve(&net, 0, net.input(net.wal(0))));
    assert_eq!(
        error.to_string(),
        "command 0: MoveAbort(walrus::system, 0): EInvalidEpochsAhead"
    );
    assert!(
        matches!(error, ExecutionError::MoveAbort { command: 0, abort } if abort.module == "system" && abort.code == 0)
    );
    // A payment coin too small, split off in command 0: the abort is in command 1 and the
    // split is undone too.
    let mut tx = net.tx(0);
    let wal = tx.object(net.input(net.wal(0)));
    let one = tx.pure(&1u64);
    let small = tx.split_coins(wal, vec![one]);
    let system = tx.object(net.system(true));
    let size = tx.pure(&(1u64 << 20));
    let epochs = tx.pure(&2u32);
    let storage = reserve_space(&mut tx, system, size, epochs, small[0]);
    net.keep(&mut tx, 0, vec![storage, small[0]]);
    let error = net.reject(0, tx);
    let ExecutionError::MoveAbort { command, abort } = error else {
        panic!("expected an abort, got {error}");
    };
    assert_eq!(
        (command, abort.module, abort.code, abort.name),
        (1, "system", 2, "EInsufficientPayment")
    );
}

#[test]
fn unused_values_and_unsupported_things() {
    let mut net = network();
    // The storage returned by reserve_space is neither used nor transferred.
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    let size = tx.pure(&1u64);
    let epochs = tx.pure(&1u32);
    let wal = tx.object(net.input(net.wal(0)));
    reserve_space(&mut tx, system, size, epochs, wal);
    assert_eq!(
        net.reject(0, tx),
        ExecutionError::UnusedValueWithoutDrop {
            command: 0,
            result: 0
        }
    );
    // Splitting more than the coin holds.
    let mut tx = net.tx(0);
    let wal = tx.object(net.input(net.wal(0)));
    let amount = tx.pure(&u64::MAX);
    let coins = tx.split_coins(wal, vec![amount]);
    net.keep(&mut tx, 0, coins);
    assert_eq!(
        net.reject(0, tx),
        ExecutionError::InsufficientCoinBalance { command: 0 }
    );
    // MakeMoveVec is not supported.
    let mut tx = net.tx(0);
    let one = tx.pure(&1u64);
    tx.make_move_vec(None, vec![one]);
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::UnsupportedCommand { .. }
    ));
    // The clock passed mutably; a wrong initial shared version; a shared object as owned.
    for input in [
        ObjectInput::shared(walrus_localchain::CLOCK_OBJECT_ID, 1, true),
        ObjectInput::shared(net.genesis.system, 2, true),
        ObjectInput::owned(
            net.genesis.system,
            net.object(net.genesis.system).version(),
            net.object(net.genesis.system).digest(),
        ),
    ] {
        let mut tx = net.tx(0);
        let object = tx.object(input);
        call(&mut tx, "system", "epoch", vec![object]);
        let error = net.reject(0, tx);
        assert!(
            matches!(error, ExecutionError::InvalidSharedInput { .. }),
            "{error}"
        );
    }
}

#[test]
fn gas_checks() {
    let mut net = Net::new(2);
    let mut tx = pay_self(&net, 0);
    tx.set_gas_budget(1_000);
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::InsufficientGasBudget { .. }
    ));
    let mut tx = pay_self(&net, 0);
    tx.set_gas_price(REFERENCE_GAS_PRICE - 1);
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::InvalidGasPayment(_)
    ));
    let mut tx = pay_self(&net, 0);
    tx.set_gas_budget(20 * SUI);
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::InsufficientGasBalance { .. }
    ));
    let mut tx = pay_self(&net, 0);
    tx.set_sponsor(net.users[1].address);
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::InvalidGasPayment(_)
    ));
    // A WAL coin as gas.
    let tx = tx_paid_with(net.users[0].address, net.input(net.wal(0)));
    assert!(matches!(
        net.reject(0, tx),
        ExecutionError::InvalidGasPayment(_)
    ));

    // Two gas coins are merged into the first; the second is deleted.
    let second = net
        .genesis
        .coins_of(net.users[0].address, ObjectType::SuiCoin)[1];
    let mut tx = pay_self(&net, 0);
    tx.add_gas_objects([net.input(second)]);
    let effects = net.execute(0, tx).unwrap();
    assert_eq!(*effects.deleted[0].object_id(), second);
    assert_eq!(
        net.balance(net.gas(0)),
        20 * SUI - SUI - effects.gas_used.computation_cost
    );
}

#[test]
fn a_transferred_owned_object_changes_owner_and_survives() {
    let mut net = Net::new(2);
    let wal = net.wal(0);
    let balance = net.balance(wal);
    let mut tx = net.tx(0);
    let coin = tx.object(net.input(wal));
    let to = tx.pure(&net.users[1].address);
    tx.transfer_objects(vec![coin], to);
    let effects = net.execute(0, tx).unwrap();
    assert!(effects.deleted.is_empty(), "{:?}", effects.deleted);
    let received = net.owned(1, ObjectType::WalCoin);
    assert!(
        received.contains(&wal) && received.len() == 2,
        "{received:?}"
    );
    assert!(!net.owned(0, ObjectType::WalCoin).contains(&wal));
    assert_eq!(net.balance(wal), balance);
}

#[test]
fn the_gas_coin_can_be_transferred_whole() {
    let mut net = Net::new(2);
    let mut tx = net.tx(0);
    let gas = tx.gas();
    let to = tx.pure(&net.users[1].address);
    tx.transfer_objects(vec![gas], to);
    let effects = net.execute(0, tx).unwrap();
    assert_eq!(
        effects.gas_object.owner,
        sui_sdk_types::Owner::Address(net.users[1].address)
    );
    assert_eq!(
        net.balance(net.gas(0)),
        10 * SUI - effects.gas_used.computation_cost
    );
    assert_eq!(net.owned(1, ObjectType::SuiCoin).len(), 3);
    // The gas coin cannot be taken by value by a Move call or merged away.
    let mut tx = net.tx(1);
    let wal = tx.object(net.input(net.wal(1)));
    let gas = tx.gas();
    tx.merge_coins(wal, vec![gas]);
    assert!(matches!(
        net.reject(1, tx),
        ExecutionError::InvalidObjectUse { .. }
    ));
}

#[test]
fn merging_past_u64_max_is_an_arithmetic_error() {
    let owner = user(1);
    let config = walrus_localchain::GenesisConfig::new(N_SHARDS, EPOCH_MS, MAX_EPOCHS_AHEAD)
        .with_account(owner.address, &[10 * SUI], &[u64::MAX, 1]);
    let (executor, genesis) = walrus_localchain::Executor::from_genesis(&config).unwrap();
    let mut net = Net {
        executor,
        genesis,
        users: vec![owner],
        nodes: Vec::new(),
    };
    let coins = net
        .genesis
        .coins_of(net.users[0].address, ObjectType::WalCoin);
    let mut tx = net.tx(0);
    let a = tx.object(net.input(coins[0]));
    let b = tx.object(net.input(coins[1]));
    tx.merge_coins(a, vec![b]);
    let abort = net.reject(0, tx).move_abort().unwrap();
    assert_eq!(abort, walrus_chain::contract::ARITHMETIC_ERROR);
}
