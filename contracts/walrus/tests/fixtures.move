/// Shared setup of the walrus tests, as `chain/tests/system_lifecycle.rs`'s fixture: the
/// committee of `test_vectors` (4 members, weights 1, 2, 3, 4, epoch 1), 1 GiB of capacity,
/// 100 FROST per MiB per epoch of storage, 7 FROST per MiB written, 10 epochs ahead.
#[test_only]
module walrus::fixtures;

use sui::coin::{Self, Coin};
use wal::wal::WAL;
use walrus::{
    blob::Blob,
    bls_aggregate::{Self, BlsCommittee},
    redstuff,
    system::{Self, System},
    test_vectors
};

const CAPACITY: u64 = 1_073_741_824;
const PRICE: u64 = 100;
const WRITE_PRICE: u64 = 7;
const MAX_EPOCHS_AHEAD: u32 = 10;
const INITIAL_BALANCE: u64 = 1_000_000_000;

public fun capacity(): u64 { CAPACITY }

public fun price(): u64 { PRICE }

public fun write_price(): u64 { WRITE_PRICE }

/// The test committee in `epoch`.
public fun committee(epoch: u32): BlsCommittee {
    let keys = test_vectors::public_keys();
    let weights = test_vectors::weights();
    let node_ids = test_vectors::node_ids();
    let mut members = vector[];
    let mut i = 0;
    while (i < keys.length()) {
        members.push_back(
            bls_aggregate::new_bls_committee_member(
                keys[i],
                weights[i],
                object::id_from_address(node_ids[i]),
            ),
        );
        i = i + 1;
    };
    bls_aggregate::new_bls_committee(epoch, members)
}

/// A fresh system in epoch 1.
public fun system(ctx: &mut TxContext): System {
    system::create(
        committee(test_vectors::committee_epoch()),
        CAPACITY,
        PRICE,
        WRITE_PRICE,
        MAX_EPOCHS_AHEAD,
        ctx,
    )
}

/// 1 WAL.
public fun wal(ctx: &mut TxContext): Coin<WAL> {
    coin::mint_for_testing(INITIAL_BALANCE, ctx)
}

/// Moves `system` to the next epoch with the same committee, capacity and prices; the
/// finished epoch's rewards are burnt.
public fun advance_epoch(system: &mut System) {
    let next = committee(system.epoch() + 1);
    let rewards = system.advance_epoch(next, CAPACITY, PRICE, WRITE_PRICE);
    rewards.destroy_for_testing();
}

/// Reserves exactly the encoded size of an RS2 blob for `epochs` epochs and registers it.
public fun register(
    system: &mut System,
    blob_id: u256,
    root_hash: u256,
    size: u64,
    deletable: bool,
    epochs: u32,
    payment: &mut Coin<WAL>,
    ctx: &mut TxContext,
): Blob {
    let encoded = redstuff::encoded_blob_length(size, 1, system.n_shards());
    let storage = system.reserve_space(encoded, epochs, payment, ctx);
    system.register_blob(storage, blob_id, root_hash, size, 1, deletable, payment, ctx)
}

/// Registers the `certify me` blob (permanent, 2 epochs).
public fun register_certify_me(
    system: &mut System,
    payment: &mut Coin<WAL>,
    ctx: &mut TxContext,
): Blob {
    register(
        system,
        test_vectors::certify_me_blob_id(),
        test_vectors::certify_me_root_hash(),
        test_vectors::certify_me_size(),
        false,
        2,
        payment,
        ctx,
    )
}
