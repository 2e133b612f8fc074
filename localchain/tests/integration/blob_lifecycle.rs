//! The blob life cycle through signed Sui transactions: nodes register and stake, the epoch
//! changes to a committee, a client reserves, registers, certifies (real BLS certificate),
//! extends and deletes a blob; and a blob ID is invalidated.

use crate::common;

use common::*;
use sui_sdk_types::{Address, Owner, UnchangedConsensusKind};
use sui_transaction_builder::TransactionBuilder;
use walrus_chain::contract::{
    events::{BlobCertified, BlobDeleted, BlobRegistered, InvalidBlobId},
    redstuff,
};
use walrus_core::{
    messages::{BlobPersistenceType, Confirmation, InvalidBlobIdMsg, ProtocolMessageKind},
    BlobId,
};
use walrus_localchain::{
    effects::OBJECT_DIGEST_DELETED, types::ObjectType, Effects, ExecutionError,
    BASE_COMPUTATION_UNITS, COMPUTATION_UNITS_PER_COMMAND, REFERENCE_GAS_PRICE,
};

const DATA: &[u8] = b"hello walrus, from a localnet transaction";

fn gas_cost(commands: u64) -> u64 {
    (BASE_COMPUTATION_UNITS + commands * COMPUTATION_UNITS_PER_COMMAND) * REFERENCE_GAS_PRICE
}

/// A network in epoch 1 with a four-node committee of 10 shards (1, 2, 3, 4).
fn network() -> Net {
    let mut net = Net::new(5);
    net.register_nodes();
    let effects = net.next_epoch();
    assert_eq!(effects.events_named("EpochChangeStart").len(), 1);
    let system = net.system_value();
    assert_eq!(system.epoch(), 1);
    assert_eq!(system.n_shards(), N_SHARDS);
    let weights: Vec<u16> = system.committee.members.iter().map(|m| m.weight).collect();
    assert_eq!(weights, [1, 2, 3, 4]);
    assert_eq!(
        (
            system.storage_price_per_unit_size,
            system.write_price_per_unit_size
        ),
        (STORAGE_PRICE, WRITE_PRICE)
    );
    net
}

fn encoded_size() -> u64 {
    redstuff::encoded_blob_length(DATA.len() as u64, 1, N_SHARDS).unwrap()
}

/// Reserves and registers `DATA` (deletable or not) for `epochs` in one transaction.
fn register(net: &mut Net, deletable: bool, epochs: u32) -> Effects {
    net.execute(0, net.reserve_and_register_tx(DATA, epochs, deletable))
        .unwrap()
}

/// `system::FUNCTION(system, blob?, signature, bitmap, message)` from user 0, with a
/// certificate over `message` by the committee members `signers` (the system only read).
fn certified_call_tx<T: ProtocolMessageKind>(
    net: &Net,
    function: &str,
    blob: Option<Address>,
    message: &T,
    signers: &[u16],
) -> TransactionBuilder {
    let (signature, bitmap, message) = net.certificate(message, signers);
    let mut tx = net.tx(0);
    let mut arguments = vec![tx.object(net.system(false))];
    arguments.extend(blob.map(|blob| tx.object(net.input(blob))));
    arguments.extend([tx.pure(&signature), tx.pure(&bitmap), tx.pure(&message)]);
    call(&mut tx, "system", function, arguments);
    tx
}

/// Deletes `blob` (user 0's); the storage goes back to user 0.
fn delete_tx(net: &Net, blob: Address) -> TransactionBuilder {
    let mut tx = net.tx(0);
    let system = tx.object(net.system(false));
    let blob = tx.object(net.input(blob));
    let storage = call(&mut tx, "system", "delete_blob", vec![system, blob]);
    net.keep(&mut tx, 0, vec![storage]);
    tx
}

fn certify_tx(net: &Net, blob: Address, signers: &[u16]) -> TransactionBuilder {
    let value = net.blob(blob);
    let persistence = if value.deletable {
        BlobPersistenceType::Deletable {
            object_id: value.id,
        }
    } else {
        BlobPersistenceType::Permanent
    };
    let epoch = net.system_value().epoch();
    let message = Confirmation::for_blob(epoch, BlobId::from(value.blob_id), persistence);
    certified_call_tx(net, "certify_blob", Some(blob), &message, signers)
}

#[test]
fn full_blob_life_cycle() {
    let mut net = network();
    let wal_before = net.balance(net.wal(0));
    let gas_before = net.balance(net.gas(0));

    // Reserve + register in one transaction: the storage is created and wrapped at once.
    let effects = register(&mut net, true, 3);
    assert_eq!(
        wal_before - net.balance(net.wal(0)),
        3 * STORAGE_PRICE + WRITE_PRICE
    );
    assert_eq!(gas_before - net.balance(net.gas(0)), gas_cost(3));
    assert_eq!(effects.gas_used.computation_cost, gas_cost(3));
    assert_eq!(effects.created.len(), 1);
    let blob_id = effects.created_of_type(ObjectType::Blob)[0].id();
    assert_eq!(
        effects.created[0].owner,
        Owner::Address(net.users[0].address)
    );
    let mutated: Vec<_> = effects.mutated.iter().map(|change| change.id()).collect();
    assert!(mutated.contains(&net.genesis.system));
    assert!(mutated.contains(&net.wal(0)));
    assert!(mutated.contains(&net.gas(0)));
    for change in effects.created.iter().chain(&effects.mutated) {
        assert_eq!(change.reference.version(), effects.lamport_version);
        assert_eq!(
            net.executor.store().object_ref(&change.id()),
            Some(change.reference.clone())
        );
    }
    assert!(effects.deleted.is_empty() && effects.wrapped.is_empty());
    assert_eq!(effects.digest(), effects.effects.digest());
    assert_eq!(
        net.executor.effects(&effects.transaction_digest),
        Some(&effects)
    );

    let blob = net.blob(blob_id);
    let (expected_id, _) = blob_ids(DATA);
    assert_eq!(blob.blob_id, expected_id);
    assert_eq!((blob.storage.start_epoch, blob.storage.end_epoch), (1, 4));
    let registered = effects.events_named("BlobRegistered");
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].module.as_str(), "system");
    assert_eq!(registered[0].sender, net.users[0].address);
    let event: BlobRegistered = bcs::from_bytes(&registered[0].contents).unwrap();
    assert_eq!(
        (
            event.blob_id,
            event.end_epoch,
            event.deletable,
            event.object_id
        ),
        (expected_id, 4, true, blob.id)
    );

    // Certify with nodes 2 and 3 (7 of 10 shards): the system is only read.
    let system_version = net.object(net.genesis.system).version();
    let effects = net.execute(0, certify_tx(&net, blob_id, &[2, 3])).unwrap();
    assert_eq!(net.blob(blob_id).certified_epoch, Some(1));
    assert_eq!(net.object(net.genesis.system).version(), system_version);
    let sui_effects = match &effects.effects {
        sui_sdk_types::TransactionEffects::V2(effects) => effects,
        _ => panic!("V2 effects"),
    };
    assert!(sui_effects.unchanged_consensus_objects.iter().any(|object| {
        object.object_id == net.genesis.system
            && matches!(object.kind, UnchangedConsensusKind::ReadOnlyRoot { version, .. } if version == system_version)
    }));
    let certified: BlobCertified =
        bcs::from_bytes(&effects.events_named("BlobCertified")[0].contents).unwrap();
    assert!(!certified.is_extension);
    assert_eq!(certified.object_id, blob.id);

    // Certifying again aborts: system::EAlreadyCertified.
    let error = net.reject(0, certify_tx(&net, blob_id, &[2, 3]));
    let abort = error.move_abort().unwrap();
    assert_eq!((abort.module, abort.code), ("system", 6));

    // Extend by 2 epochs.
    let wal_before = net.balance(net.wal(0));
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    let blob_arg = tx.object(net.input(blob_id));
    let epochs = tx.pure(&2u32);
    let wal = tx.object(net.input(net.wal(0)));
    call(
        &mut tx,
        "system",
        "extend_blob",
        vec![system, blob_arg, epochs, wal],
    );
    let effects = net.execute(0, tx).unwrap();
    assert_eq!(net.blob(blob_id).end_epoch(), 6);
    assert_eq!(wal_before - net.balance(net.wal(0)), 2 * STORAGE_PRICE);
    let extension: BlobCertified =
        bcs::from_bytes(&effects.events_named("BlobCertified")[0].contents).unwrap();
    assert!(extension.is_extension);
    assert_eq!(extension.end_epoch, 6);

    // Delete: the blob is deleted, its storage unwrapped and kept by the owner.
    let storage_id = walrus_localchain::types::address(net.blob(blob_id).storage.id);
    let effects = net.execute(0, delete_tx(&net, blob_id)).unwrap();
    assert_eq!(effects.deleted.len(), 1);
    assert_eq!(*effects.deleted[0].object_id(), blob_id);
    assert_eq!(*effects.deleted[0].digest(), OBJECT_DIGEST_DELETED);
    assert_eq!(effects.unwrapped.len(), 1);
    assert_eq!(effects.unwrapped[0].id(), storage_id);
    assert!(net.executor.store().get(&blob_id).is_none());
    let storage = net.storage(storage_id);
    assert_eq!(
        (storage.start_epoch, storage.end_epoch, storage.storage_size),
        (1, 6, encoded_size())
    );
    let deleted: BlobDeleted =
        bcs::from_bytes(&effects.events_named("BlobDeleted")[0].contents).unwrap();
    assert!(deleted.was_certified);
    assert_eq!(net.owned(0, ObjectType::Storage), vec![storage_id]);

    // The freed storage registers the same blob again (the storage is wrapped now).
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    let storage = tx.object(net.input(storage_id));
    let deletable = tx.pure(&false);
    let wal = tx.object(net.input(net.wal(0)));
    let blob = register_blob(&mut tx, system, storage, DATA, deletable, wal);
    net.keep(&mut tx, 0, vec![blob]);
    let effects = net.execute(0, tx).unwrap();
    assert_eq!(effects.wrapped.len(), 1);
    assert_eq!(*effects.wrapped[0].object_id(), storage_id);
    assert!(net.executor.store().get(&storage_id).is_none());

    // A permanent blob cannot be deleted: system::EBlobNotDeletable.
    let permanent = effects.created_of_type(ObjectType::Blob)[0].id();
    let abort = net
        .reject(0, delete_tx(&net, permanent))
        .move_abort()
        .unwrap();
    assert_eq!(
        (abort.module, abort.code, abort.name),
        ("system", 8, "EBlobNotDeletable")
    );
}

#[test]
fn certificate_without_quorum_aborts() {
    let mut net = network();
    let effects = register(&mut net, false, 2);
    let blob_id = effects.created_of_type(ObjectType::Blob)[0].id();
    // Nodes 0 and 3 hold 5 of 10 shards: no quorum.
    let error = net.reject(0, certify_tx(&net, blob_id, &[0, 3]));
    let ExecutionError::MoveAbort { command, abort } = error else {
        panic!("expected a Move abort, got {error}");
    };
    assert_eq!(command, 0);
    assert_eq!(
        (abort.module, abort.name),
        ("bls_aggregate", "ENotEnoughStake")
    );
    assert_eq!(net.blob(blob_id).certified_epoch, None);
}

#[test]
fn invalidation() {
    let mut net = network();
    let (blob_id, _) = blob_ids(b"an inconsistently encoded blob");
    let message = InvalidBlobIdMsg::new(1, BlobId::from(blob_id));
    // The returned u256 has `drop`: leaving it unused is fine.
    let tx_for = |net: &Net, signers: &[u16]| {
        certified_call_tx(net, "invalidate_blob_id", None, &message, signers)
    };
    // Node 0 alone (1 of 10 shards) is not one correct node for sure.
    let abort = net.reject(0, tx_for(&net, &[0])).move_abort().unwrap();
    assert_eq!(
        (abort.module, abort.name),
        ("bls_aggregate", "ENotEnoughStake")
    );
    // Node 3 (4 of 10 shards) is: 3 * 4 >= 10 + 1.
    let effects = net.execute(0, tx_for(&net, &[3])).unwrap();
    let events = effects.events_named("InvalidBlobID");
    assert_eq!(events.len(), 1);
    let event: InvalidBlobId = bcs::from_bytes(&events[0].contents).unwrap();
    assert_eq!((event.epoch, event.blob_id), (1, blob_id));
    // Only the gas coin changed.
    assert_eq!(effects.mutated.len(), 1);
    assert_eq!(effects.mutated[0].id(), net.gas(0));
}

#[test]
fn separate_reservation_is_wrapped_at_registration() {
    let mut net = network();
    let mut tx = net.tx(0);
    let system = tx.object(net.system(true));
    let wal = tx.object(net.input(net.wal(0)));
    let size = tx.pure(&encoded_size());
    let epochs = tx.pure(&5u32);
    let storage = reserve_space(&mut tx, system, size, epochs, wal);
    // Split the reservation by epoch and keep both halves.
    let split = tx.pure(&3u32);
    let tail = call(
        &mut tx,
        "storage_resource",
        "split_by_epoch",
        vec![storage, split],
    );
    net.keep(&mut tx, 0, vec![storage, tail]);
    let effects = net.execute(0, tx).unwrap();
    let created = effects.created_of_type(ObjectType::Storage);
    assert_eq!(created.len(), 2);
    let periods: Vec<(u32, u32)> = created
        .iter()
        .map(|change| {
            let storage = net.storage(change.id());
            (storage.start_epoch, storage.end_epoch)
        })
        .collect();
    assert!(periods.contains(&(1, 3)) && periods.contains(&(3, 6)));

    // Fuse them back: the second is destroyed (deleted), the first mutated.
    let (first, second) = if periods[0] == (1, 3) {
        (created[0].id(), created[1].id())
    } else {
        (created[1].id(), created[0].id())
    };
    let mut tx = net.tx(0);
    let a = tx.object(net.input(first));
    let b = tx.object(net.input(second));
    call(&mut tx, "storage_resource", "fuse_periods", vec![a, b]);
    let effects = net.execute(0, tx).unwrap();
    assert_eq!(effects.deleted.len(), 1);
    assert_eq!(*effects.deleted[0].object_id(), second);
    assert_eq!(net.storage(first).end_epoch, 6);
}

#[test]
fn execution_is_deterministic() {
    let run = || {
        let mut net = network();
        let effects = register(&mut net, true, 2);
        (effects.digest(), net.executor.store().clone())
    };
    let (digest_a, store_a) = run();
    let (digest_b, store_b) = run();
    assert_eq!(digest_a, digest_b);
    assert_eq!(store_a, store_b);
    assert!(store_a.check_ids());
}
