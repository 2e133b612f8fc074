//! Staking through signed Sui transactions: candidates with proofs of possession, stake,
//! withdrawals, the epoch state machine (`voting_end`, the epoch change) and epoch sync.

use crate::common;

use common::*;
use fastcrypto::traits::ToFromBytes;
use walrus_chain::contract::{
    events::StakingPoolCreated,
    staking::{EPOCH_CHANGE_DONE, EPOCH_CHANGE_SYNC},
};
use walrus_core::crypto::ProtocolKeyPair;
use walrus_localchain::types::{address, ObjectType};

#[test]
fn register_candidate_with_proof_of_possession() {
    let mut net = Net::new(2);
    let bls = ProtocolKeyPair::from_seed([42; 32]);
    let address_1 = net.users[1].address.into_inner();

    // A proof of possession for another address (or epoch) is refused.
    let wrong = bls.proof_of_possession([9; 32], 0).as_bytes().to_vec();
    let abort = net
        .reject(1, net.register_candidate_tx(1, &bls, wrong))
        .move_abort()
        .unwrap();
    assert_eq!(
        (abort.module, abort.code, abort.name),
        ("staking", 0, "EInvalidProofOfPossession")
    );
    let wrong_epoch = bls.proof_of_possession(address_1, 1).as_bytes().to_vec();
    assert!(net
        .reject(1, net.register_candidate_tx(1, &bls, wrong_epoch))
        .move_abort()
        .is_some());

    let pop = bls.proof_of_possession(address_1, 0).as_bytes().to_vec();
    let effects = net
        .execute(1, net.register_candidate_tx(1, &bls, pop.clone()))
        .unwrap();
    let cap_id = effects.created_of_type(ObjectType::StorageNodeCap)[0].id();
    assert_eq!(net.owned(1, ObjectType::StorageNodeCap), vec![cap_id]);
    let cap = net.node_cap(cap_id);
    let events = effects.events_named("StakingPoolCreated");
    assert_eq!(events[0].module.as_str(), "staking");
    let event: StakingPoolCreated = bcs::from_bytes(&events[0].contents).unwrap();
    assert_eq!(event.node_id, cap.node_id);
    let staking = net.staking_value();
    assert_eq!(staking.pools.len(), 1);
    assert_eq!(staking.pools[0].info.public_key, bls.public().as_bytes());
    assert!(effects
        .mutated
        .iter()
        .any(|change| change.id() == net.genesis.staking));

    // The same key again: EDuplicateNode.
    let abort = net
        .reject(1, net.register_candidate_tx(1, &bls, pop))
        .move_abort()
        .unwrap();
    assert_eq!(abort.name, "EDuplicateNode");
}

#[test]
fn stake_withdraw_and_epoch_sync() {
    let mut net = Net::new(5);
    net.register_nodes();
    let staking = net.staking_value();
    let pending: Vec<u64> = staking
        .pools
        .iter()
        .map(|pool| pool.stake_at_epoch(1))
        .collect();
    assert_eq!(pending, STAKES.map(|stake| stake * WAL));
    let wal_before = net.balance(net.wal(0));

    // User 0 stakes 500 WAL with node 1 and withdraws it before it is active.
    let node_id = net.nodes[1].node_id;
    let effects = net.execute(0, net.stake_tx(0, node_id, 500 * WAL)).unwrap();
    // The split coin was created and consumed in the same transaction: not in the effects.
    assert_eq!(effects.created.len(), 1);
    let staked_id = effects.created_of_type(ObjectType::StakedWal)[0].id();
    assert!(effects.deleted.is_empty());
    assert_eq!(wal_before - net.balance(net.wal(0)), 500 * WAL);
    let staked = net.staked_wal(staked_id);
    assert_eq!((staked.principal, staked.activation_epoch), (500 * WAL, 1));
    assert_eq!(net.staking_value().pools[1].stake_at_epoch(1), 2_500 * WAL);

    let withdraw_tx = |net: &Net, user: usize, staked_id| {
        let mut tx = net.tx(user);
        let staking = tx.object(net.staking(true));
        let staked = tx.object(net.input(staked_id));
        let coin = call(&mut tx, "staking", "withdraw_stake", vec![staking, staked]);
        net.keep(&mut tx, user, vec![coin]);
        tx
    };

    let mut tx = net.tx(0);
    let staking = tx.object(net.staking(true));
    let staked = tx.object(net.input(staked_id));
    call(
        &mut tx,
        "staking",
        "request_withdraw_stake",
        vec![staking, staked],
    );
    net.execute(0, tx).unwrap();
    assert_eq!(net.staked_wal(staked_id).withdraw_epoch, Some(0));
    assert_eq!(net.staking_value().pools[1].stake_at_epoch(1), 2_000 * WAL);

    let effects = net.execute(0, withdraw_tx(&net, 0, staked_id)).unwrap();
    assert_eq!(*effects.deleted[0].object_id(), staked_id);
    let coin = effects.created_of_type(ObjectType::WalCoin)[0].id();
    assert_eq!(net.balance(coin), 500 * WAL);
    assert_eq!(net.owned(0, ObjectType::WalCoin).len(), 2);

    // The epoch cannot change before the next committee is selected (EWrongEpochState), nor
    // the committee be selected before half of the epoch (EVotingNotOver).
    let abort = net.reject(0, net.epoch_change_tx(0)).move_abort().unwrap();
    assert_eq!(abort.name, "EWrongEpochState");
    let abort = net.reject(0, net.voting_end_tx(0)).move_abort().unwrap();
    assert_eq!(abort.name, "EVotingNotOver");

    // The first committee: nothing to sync.
    let effects = net.next_epoch();
    assert_eq!(effects.events_named("ShardsReceived").len(), 4);
    assert_eq!(effects.events_named("EpochChangeDone").len(), 1);
    let staking = net.staking_value();
    assert_eq!((staking.epoch, staking.epoch_state), (1, EPOCH_CHANGE_DONE));
    // Active stake leaves only on request: ENotWithdrawing.
    let user = net.nodes[0].user;
    let node_stake = net.owned(user, ObjectType::StakedWal)[0];
    let abort = net
        .reject(user, withdraw_tx(&net, user, node_stake))
        .move_abort()
        .unwrap();
    assert_eq!(abort.name, "ENotWithdrawing");

    // The second committee syncs. Nodes report their shards synced; the change is done once
    // 7 of 10 shards did (nodes 3 and 2 hold 4 + 3).
    let now = net.executor.timestamp_ms().unwrap();
    net.executor.set_timestamp_ms(now + EPOCH_MS / 2).unwrap();
    let effects = net.execute(0, net.voting_end_tx(0)).unwrap();
    assert_eq!(effects.events_named("EpochParametersSelected").len(), 1);
    net.executor.set_timestamp_ms(now + EPOCH_MS).unwrap();
    net.execute(0, net.epoch_change_tx(0)).unwrap();
    let staking = net.staking_value();
    assert_eq!((staking.epoch, staking.epoch_state), (2, EPOCH_CHANGE_SYNC));
    assert_eq!(
        staking.previous_shard_assignment.len(),
        staking.shard_assignment.len()
    );
    let sync = |net: &mut Net, node: usize| {
        let user = net.nodes[node].user;
        let tx = net.epoch_sync_done_tx(user, net.nodes[node].cap, 2);
        net.execute(user, tx)
    };
    let effects = sync(&mut net, 3).unwrap();
    assert!(effects.events_named("EpochChangeDone").is_empty());
    let effects = sync(&mut net, 2).unwrap();
    assert_eq!(effects.events_named("EpochChangeDone").len(), 1);
    assert_eq!(net.node_cap(net.nodes[2].cap).last_epoch_sync_done, 2);
    // Reporting twice: EWrongEpoch.
    let error = sync(&mut net, 2).unwrap_err();
    assert_eq!(
        error.move_abort().map(|abort| abort.name),
        Some("EWrongEpoch")
    );

    // Everyone's objects are consistent: every stored object's ID is its contents' ID.
    assert!(net.executor.store().check_ids());
    assert_eq!(address(net.staking_value().id), net.genesis.staking);
}
