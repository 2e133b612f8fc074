// The WAL coin (contracts/DESIGN.md, `wal::wal`).
//
// Rust twin: none of its own. The twin (`chain/src/contract/sui.rs`) models every `Coin<WAL>` as
// `sui::Coin { id, balance }` (the type parameter is erased) and amounts in FROST.

/// WAL, the coin storage and writes are paid in. 1 WAL = 10^9 FROST; the whole supply is minted
/// once, at publication, to the publisher, who also receives the `TreasuryCap`.
module wal::wal;

use sui::coin;

/// The one-time witness of the currency.
public struct WAL has drop {}

/// Decimals of WAL: amounts are counted in FROST, 10^-9 WAL.
const DECIMALS: u8 = 9;

/// FROST per WAL.
const FROST_PER_WAL: u64 = 1_000_000_000;

/// The total supply, in FROST: 5 billion WAL.
const TOTAL_SUPPLY: u64 = 5_000_000_000_000_000_000;

/// Creates the currency, mints the total supply to the publisher, freezes the metadata and
/// transfers the `TreasuryCap` to the publisher.
fun init(otw: WAL, ctx: &mut TxContext) {
    let (mut treasury_cap, metadata) = coin::create_currency(
        otw,
        DECIMALS,
        b"WAL",
        b"WAL",
        b"The native coin of the Walrus storage network.",
        option::none(),
        ctx,
    );
    transfer::public_freeze_object(metadata);
    let supply = treasury_cap.mint(TOTAL_SUPPLY, ctx);
    transfer::public_transfer(supply, ctx.sender());
    transfer::public_transfer(treasury_cap, ctx.sender());
}

/// FROST per WAL (10^9).
public fun frost_per_wal(): u64 {
    FROST_PER_WAL
}

#[test_only]
/// Runs `init` as the publication would (tests cannot construct the witness otherwise).
public fun init_for_testing(ctx: &mut TxContext) {
    init(WAL {}, ctx)
}

#[test_only]
/// The total supply, in FROST.
public fun total_supply_for_testing(): u64 {
    TOTAL_SUPPLY
}
