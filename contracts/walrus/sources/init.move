// Rust twin: chain/src/contract/init.rs

/// Genesis: publishing the package gives the publisher an `InitCap`, which it spends once to
/// create the shared `System` and `Staking` objects (epoch 0, no committee; the first epoch
/// change selects the first committee from the registered, staked candidates).
module walrus::init;

use sui::clock::Clock;
use walrus::{bls_aggregate, staking, system};

// === Errors (codes = position, as the twin's `Abort::new("init", code, name)`) ===

/// Zero shards, a zero epoch duration or zero epochs ahead.
const EInvalidParameters: u64 = 0;

/// The capability to initialize the system, created when the package is published.
public struct InitCap has key, store {
    id: UID,
}

/// The package initializer: the `InitCap` goes to the publisher. (The twin's `init` returns
/// it; a Move `init` returns nothing and must be private.)
fun init(ctx: &mut TxContext) {
    transfer::transfer(InitCap { id: object::new(ctx) }, ctx.sender());
}

/// Consumes the `InitCap`, creates the `System` (with no committee, capacity or prices until
/// the first epoch change) and the `Staking` object, and shares both. (The twin returns them;
/// the localnet keeps them in its object store.)
public fun initialize_walrus(
    cap: InitCap,
    n_shards: u16,
    epoch_duration_ms: u64,
    max_epochs_ahead: u32,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    assert!(n_shards > 0 && epoch_duration_ms > 0 && max_epochs_ahead > 0, EInvalidParameters);
    let InitCap { id } = cap;
    id.delete();
    // The twin builds the empty committee `BlsCommittee { members: [], n_shards: 0, epoch: 0 }`
    // directly; with no members, `new_bls_committee` checks nothing.
    let committee = bls_aggregate::new_bls_committee(0, vector[]);
    let system = system::create(committee, 0, 0, 0, max_epochs_ahead, ctx);
    let staking = staking::create(n_shards, epoch_duration_ms, clock, ctx);
    system.share();
    staking.share();
}

#[test_only]
/// Runs `init` as the publication would.
public fun init_for_testing(ctx: &mut TxContext) {
    init(ctx)
}
