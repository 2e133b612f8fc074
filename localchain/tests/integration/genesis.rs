//! The genesis state and the object store.

use crate::common;

use common::*;
use sui_sdk_types::{ObjectData, ObjectType as SuiObjectType, Owner};
use walrus_localchain::{
    store::object_type, types::ObjectType, ExecutionError, GenesisConfig, CLOCK_OBJECT_ID,
    WALRUS_PACKAGE_ID, WAL_PACKAGE_ID,
};

#[test]
fn genesis_objects() {
    let net = Net::new(2);
    let store = net.executor.store();
    // 2 packages, the clock, System, Staking, and 3 coins per user.
    assert_eq!(store.len(), 5 + 2 * 3);
    assert!(store.check_ids());
    for package in [WAL_PACKAGE_ID, WALRUS_PACKAGE_ID] {
        let object = store.get(&package).unwrap();
        assert_eq!(object.object_type(), SuiObjectType::Package);
        assert_eq!(*object.owner(), Owner::Immutable);
        assert!(matches!(object.data(), ObjectData::Package(p) if p.id == package));
    }
    let clock = store.get(&CLOCK_OBJECT_ID).unwrap();
    assert_eq!(*clock.owner(), Owner::Shared(1));
    assert_eq!(object_type(clock), Some(ObjectType::Clock));
    assert_eq!(net.executor.timestamp_ms().unwrap(), 1_000);

    let system = net.system_value();
    assert_eq!(
        (system.epoch(), system.max_epochs_ahead),
        (0, MAX_EPOCHS_AHEAD)
    );
    let staking = net.staking_value();
    assert_eq!(
        (staking.n_shards, staking.epoch_duration_ms),
        (N_SHARDS, EPOCH_MS)
    );
    assert_eq!(staking.epoch_start_ms, 1_000);
    for shared in [net.genesis.system, net.genesis.staking] {
        assert_eq!(*net.object(shared).owner(), Owner::Shared(1));
        assert_eq!(net.object(shared).version(), 1);
        assert!(!net
            .object(shared)
            .as_struct()
            .unwrap()
            .has_public_transfer());
    }
    let wal = net.object(net.wal(0));
    assert_eq!(
        wal.as_struct().unwrap().object_type().to_string(),
        format!(
            "0x{}::coin::Coin<{WAL_PACKAGE_ID}::wal::WAL>",
            "0".repeat(63) + "2"
        )
    );
    assert_eq!(net.balance(net.wal(0)), 100_000 * WAL);
    assert_eq!(net.owned(0, ObjectType::SuiCoin).len(), 2);
    // The contents are the twin's BCS, and the digest is Sui's object digest.
    let contents = wal.as_struct().unwrap().contents();
    assert_eq!(&contents[..32], net.wal(0).as_bytes());
    assert_eq!(&contents[32..], (100_000 * WAL).to_le_bytes());
    assert_eq!(
        net.executor
            .store()
            .object_ref(&net.wal(0))
            .unwrap()
            .digest(),
        &wal.digest()
    );
}

#[test]
fn genesis_is_deterministic_and_checked() {
    let config = GenesisConfig::new(10, 1_000, 5).with_account(
        sui_sdk_types::Address::from_static("0x1234"),
        &[5],
        &[6],
    );
    let (a, genesis_a) = config.build().unwrap();
    let (b, genesis_b) = config.build().unwrap();
    assert_eq!((a, genesis_a.clone()), (b, genesis_b));
    let mut other = config.clone();
    other.start_timestamp_ms = 1;
    assert_ne!(other.build().unwrap().1.system, genesis_a.system);

    let zero_shards = GenesisConfig::new(0, 1_000, 5);
    let error = zero_shards.build().unwrap_err();
    assert!(
        matches!(error, ExecutionError::MoveAbort { abort, .. } if abort.name == "EInvalidParameters")
    );
}

#[test]
fn the_clock_moves_forward_only() {
    let mut net = Net::new(1);
    let version = net.object(CLOCK_OBJECT_ID).version();
    net.executor.set_timestamp_ms(5_000).unwrap();
    assert_eq!(net.executor.timestamp_ms().unwrap(), 5_000);
    assert_eq!(net.object(CLOCK_OBJECT_ID).version(), version + 1);
    assert!(net.executor.set_timestamp_ms(4_999).is_err());
    assert_eq!(net.executor.timestamp_ms().unwrap(), 5_000);
}
