//! Staking on the contracts' twin: candidates, the epoch state machine (`voting_end`,
//! `initiate_epoch_change`, `epoch_sync_done`), committee selection, stake and withdrawal
//! epochs, rewards shared by exchange rate with the commission to the operator, key rotation,
//! and a property test over random operation sequences.

use fastcrypto::traits::ToFromBytes;
use proptest::prelude::*;
use walrus_chain::{
    contract::{
        events::{EpochParametersSelected, Event},
        staking::{
            self, StakedWal, Staking, StorageNodeCap, EPOCH_CHANGE_DONE, EPOCH_CHANGE_SYNC,
            NEXT_PARAMS_SELECTED,
        },
        sui::{Clock, TxContext, E_NOT_ENOUGH},
    },
    testing::StakingNetwork,
};
use walrus_core::{crypto::ProtocolKeyPair, ObjectId};

const N_SHARDS: u16 = 100;
const EPOCH_MS: u64 = 1000;
const WALLET: u64 = 1_000_000_000_000_000;

fn network(n_nodes: usize, commission_rate: u16) -> StakingNetwork {
    StakingNetwork::new(n_nodes, N_SHARDS, EPOCH_MS, commission_rate, WALLET)
}

fn weights(net: &StakingNetwork) -> Vec<u16> {
    net.system
        .committee
        .members
        .iter()
        .map(|m| m.weight)
        .collect()
}

fn event_names(ctx: &TxContext) -> Vec<&'static str> {
    ctx.events().iter().map(Event::type_name).collect()
}

#[test]
fn candidates_need_a_valid_proof_of_possession() {
    let mut net = network(1, 0);
    let key = ProtocolKeyPair::from_seed([9; 32]);
    let sender = [6; 32];
    let mut ctx = TxContext::new(sender, [5; 32]);
    let register = |staking: &mut Staking,
                    pop: Vec<u8>,
                    commission,
                    public_key: Vec<u8>,
                    ctx: &mut TxContext| {
        staking.register_candidate(
            "n".into(),
            "a".into(),
            public_key,
            vec![],
            pop,
            commission,
            1,
            1,
            1,
            ctx,
        )
    };
    let public_key = key.public().as_bytes().to_vec();
    // Signed for another address.
    let wrong_sender = key.proof_of_possession([7; 32], 0).as_bytes().to_vec();
    assert_eq!(
        register(
            &mut net.staking,
            wrong_sender,
            0,
            public_key.clone(),
            &mut ctx
        ),
        Err(staking::E_INVALID_PROOF_OF_POSSESSION)
    );
    // Garbage signature and garbage key.
    assert_eq!(
        register(
            &mut net.staking,
            vec![1; 96],
            0,
            public_key.clone(),
            &mut ctx
        ),
        Err(staking::E_INVALID_PROOF_OF_POSSESSION)
    );
    let pop = key.proof_of_possession(sender, 0).as_bytes().to_vec();
    assert_eq!(
        register(&mut net.staking, pop.clone(), 0, vec![0; 48], &mut ctx),
        Err(staking::E_INVALID_PROOF_OF_POSSESSION)
    );
    assert_eq!(
        register(
            &mut net.staking,
            pop.clone(),
            10_001,
            public_key.clone(),
            &mut ctx
        ),
        Err(staking::E_COMMISSION_TOO_HIGH)
    );
    let cap = register(
        &mut net.staking,
        pop.clone(),
        10_000,
        public_key.clone(),
        &mut ctx,
    )
    .unwrap();
    let pool = &net.staking.pools[1];
    assert_eq!(pool.node_id, cap.node_id);
    assert_eq!(
        (pool.commission_rate, pool.next_commission_rate),
        (10_000, 10_000)
    );
    assert_eq!(
        register(&mut net.staking, pop, 0, public_key, &mut ctx),
        Err(staking::E_DUPLICATE_NODE)
    );
    assert_eq!(net.staking.pools.len(), 2);
}

#[test]
fn the_epoch_state_machine_runs_as_on_walrus() {
    let mut net = network(3, 0);
    // Nothing to select yet, nothing selected yet.
    assert_eq!(net.voting_end(), Err(staking::E_NO_STAKE));
    assert_eq!(net.initiate(), Err(staking::E_WRONG_EPOCH_STATE));
    for (node, amount) in [(0, 100), (1, 300), (2, 600)] {
        net.stake(node, amount).unwrap();
    }
    net.ctx.take_events();
    net.voting_end().unwrap();
    assert_eq!(
        net.ctx.take_events(),
        [Event::EpochParametersSelected(EpochParametersSelected {
            next_epoch: 1
        })]
    );
    assert_eq!(net.staking.epoch_state, NEXT_PARAMS_SELECTED);
    assert_eq!(
        net.staking.next_shard_assignment.len(),
        usize::from(N_SHARDS)
    );
    assert!(net.staking.shard_assignment.is_empty());
    assert_eq!(net.voting_end(), Err(staking::E_WRONG_EPOCH_STATE));

    // The first committee: nothing to sync, so the epoch change is done at once.
    net.initiate().unwrap();
    assert_eq!((net.staking.epoch, net.system.epoch()), (1, 1));
    assert_eq!(net.staking.epoch_state, EPOCH_CHANGE_DONE);
    assert!(net.staking.previous_shard_assignment.is_empty());
    assert!(net.staking.next_shard_assignment.is_empty());
    assert_eq!(net.staking.next_epoch_params, None);
    assert_eq!(weights(&net), [10, 30, 60]);
    assert_eq!(net.system.storage_price_per_unit_size, 1);
    assert_eq!(net.system.total_capacity_size, 1 << 40);
    assert_eq!(
        event_names(&net.ctx),
        [
            "ShardsReceived",
            "ShardsReceived",
            "ShardsReceived",
            "EpochChangeStart",
            "EpochChangeDone"
        ]
    );

    // Epoch 1: voting ends at half of the epoch, the epoch change at its end.
    let start = net.staking.epoch_start_ms;
    let early = Clock {
        timestamp_ms: start + EPOCH_MS / 2 - 1,
    };
    assert_eq!(
        net.staking.voting_end(&early, &mut net.ctx),
        Err(staking::E_VOTING_NOT_OVER)
    );
    assert_eq!(
        net.staking
            .initiate_epoch_change(&mut net.system, &early, &mut net.ctx),
        Err(staking::E_WRONG_EPOCH_STATE)
    );
    // Node 0 grows to 1100 of 2000: 55 shards, keeping its 10.
    net.stake(0, 1000).unwrap();
    net.voting_end().unwrap();
    let almost = Clock {
        timestamp_ms: start + EPOCH_MS - 1,
    };
    assert_eq!(
        net.staking
            .initiate_epoch_change(&mut net.system, &almost, &mut net.ctx),
        Err(staking::E_EPOCH_NOT_OVER)
    );
    let before = net.staking.shard_assignment.clone();
    let node_0 = net.caps[0].node_id;
    let kept = net.staking.shards_of(&node_0);
    net.ctx.take_events();
    net.initiate().unwrap();
    assert_eq!(net.staking.epoch, 2);
    assert_eq!(net.staking.epoch_state, EPOCH_CHANGE_SYNC);
    assert_eq!(net.staking.previous_shard_assignment, before);
    let after = net.staking.shards_of(&node_0);
    assert_eq!(after.len(), 55);
    assert!(kept.iter().all(|shard| after.contains(shard)));
    assert_eq!(weights(&net), [55, 15, 30]);
    assert_eq!(
        event_names(&net.ctx),
        ["ShardsReceived", "EpochChangeStart"]
    );
    // Still syncing: no selection of the next committee.
    assert_eq!(net.voting_end(), Err(staking::E_WRONG_EPOCH_STATE));

    // Sync: 30 shards are not a quorum, 30 + 55 are.
    net.sync(2).unwrap();
    assert_eq!(net.staking.epoch_state, EPOCH_CHANGE_SYNC);
    assert_eq!(net.sync(2), Err(staking::E_WRONG_EPOCH));
    let mut cap = net.caps[0].clone();
    assert_eq!(
        net.staking.epoch_sync_done(&mut cap, 3, &mut net.ctx),
        Err(staking::E_WRONG_EPOCH)
    );
    net.sync(0).unwrap();
    assert_eq!(net.staking.epoch_state, EPOCH_CHANGE_DONE);
    assert!(matches!(
        net.ctx.events().last(),
        Some(Event::EpochChangeDone(done)) if done.epoch == 2
    ));
    // A late report still counts, and changes nothing else.
    net.sync(1).unwrap();
    assert_eq!(net.staking.sync_done_weight, 100);
    net.voting_end().unwrap();
}

#[test]
fn the_committee_and_parameters_are_fixed_at_voting_end() {
    let mut net = network(2, 0);
    net.stake(0, 100).unwrap();
    net.stake(1, 100).unwrap();
    net.next_epoch().unwrap();
    net.voting_end().unwrap();
    // After voting_end: new stake counts from the epoch after next, votes from the next
    // selection.
    let late = net.stake(1, 800).unwrap();
    assert_eq!(late.activation_epoch, 3);
    let cap = net.caps[1].clone();
    net.staking.set_votes(&cap, 7, 3, 1 << 30).unwrap();
    net.initiate().unwrap();
    assert_eq!(weights(&net), [50, 50]);
    assert_eq!(
        (
            net.system.storage_price_per_unit_size,
            net.system.write_price_per_unit_size,
            net.system.total_capacity_size
        ),
        (1, 0, 1 << 40)
    );
    let pool = &net.staking.pools[1];
    assert_eq!(pool.active_stake, 100);
    assert_eq!(pool.stake_at_epoch(2), 100);
    assert_eq!(pool.stake_at_epoch(3), 900);
    net.next_epoch().unwrap();
    assert_eq!(weights(&net), [10, 90]);
    // Node 1 holds 90 of the shards: its votes win; the capacity a quorum voted at least.
    assert_eq!(
        (
            net.system.storage_price_per_unit_size,
            net.system.write_price_per_unit_size,
            net.system.total_capacity_size
        ),
        (7, 3, 1 << 30)
    );
    assert_eq!(net.staking.pools[1].active_stake, 900);
}

#[test]
fn rewards_pay_the_commission_then_compound() {
    let mut net = network(2, 1000);
    let staked = net.stake(0, 1000).unwrap();
    let leaving = net.stake(1, 1000).unwrap();
    net.voting_end().unwrap();
    // Node 1's only stake leaves before it activates: node 1 is in the committee of epoch 1
    // without active stake, so all its rewards are commission.
    assert_eq!(net.withdraw(leaving), Ok(1000));
    net.initiate().unwrap();
    assert_eq!(weights(&net), [50, 50]);
    assert_eq!(net.staking.pools[1].active_stake, 0);
    net.pay_storage(500).unwrap();
    net.next_epoch().unwrap();
    // 250 each: node 0 keeps 10% (25) and compounds 225; node 1 keeps everything.
    let pools = &net.staking.pools;
    assert_eq!((pools[0].commission, pools[0].active_stake), (25, 1225));
    assert_eq!((pools[1].commission, pools[1].active_stake), (250, 0));
    assert_eq!(net.staking.staked_wal_value(&staked), 1225);
    assert_eq!(net.collect_commission(0), Ok(25));
    assert_eq!(net.collect_commission(0), Ok(0));
    assert_eq!(net.collect_commission(1), Ok(250));

    // A new rate applies from the next epoch change on: epoch 2's rewards pay 10%.
    let cap = net.caps[0].clone();
    assert_eq!(
        net.staking.set_commission_rate(&cap, 10_001),
        Err(staking::E_COMMISSION_TOO_HIGH)
    );
    net.staking.set_commission_rate(&cap, 5000).unwrap();
    assert_eq!(
        (
            net.staking.pools[0].commission_rate,
            net.staking.pools[0].next_commission_rate
        ),
        (1000, 5000)
    );
    // Node 1 has had no stake since epoch 2: node 0 holds every shard.
    assert_eq!(weights(&net), [100]);
    net.pay_storage(100).unwrap();
    net.next_epoch().unwrap();
    assert_eq!(net.staking.pools[0].commission, 10);
    assert_eq!(net.staking.pools[0].commission_rate, 5000);
    net.pay_storage(100).unwrap();
    net.next_epoch().unwrap();
    assert_eq!(net.staking.pools[0].commission, 60);
    // 1000 + 225 + 90 + 50.
    assert_eq!(net.staking.staked_wal_value(&staked), 1365);
    let stranger = StorageNodeCap {
        id: ObjectId([0xaa; 32]),
        node_id: ObjectId([0xee; 32]),
        last_epoch_sync_done: 0,
    };
    assert_eq!(
        net.staking.set_commission_rate(&stranger, 1),
        Err(staking::E_POOL_NOT_FOUND)
    );
    assert_eq!(
        net.staking.collect_commission(&stranger, &mut net.ctx),
        Err(staking::E_POOL_NOT_FOUND)
    );
    assert_eq!(net.total_wal(), WALLET);
}

#[test]
fn rewards_are_shared_pro_rata_between_stakers() {
    let mut net = network(1, 0);
    let mut first = net.stake(0, 1000).unwrap();
    net.next_epoch().unwrap();
    // Staked in epoch 1: active from epoch 2, so epoch 1's rewards are all the first staker's.
    let second = net.stake(0, 1000).unwrap();
    assert_eq!(second.activation_epoch, 2);
    net.pay_storage(500).unwrap();
    net.next_epoch().unwrap();
    // Epoch 2 starts at 1500 FROST for 1000 shares: the second stake buys 666 shares.
    let pool = &net.staking.pools[0];
    assert_eq!((pool.active_stake, pool.num_shares), (2500, 1666));
    let rate = pool.rate_at(2);
    assert_eq!((rate.wal_amount, rate.share_amount), (1500, 1000));
    assert_eq!(net.staking.staked_wal_value(&first), 1500);
    assert_eq!(net.staking.staked_wal_value(&second), 999);
    net.pay_storage(300).unwrap();
    net.next_epoch().unwrap();
    // 300 shared 1000 : 666.
    assert_eq!(net.staking.staked_wal_value(&first), 1680);
    assert_eq!(net.staking.staked_wal_value(&second), 1119);
    // The first staker leaves at the next epoch change and still earns epoch 3's rewards.
    net.staking.request_withdraw_stake(&mut first).unwrap();
    assert_eq!(first.withdraw_epoch, Some(4));
    assert_eq!(
        net.withdraw(first.clone()),
        Err(staking::E_WITHDRAW_TOO_EARLY)
    );
    net.pay_storage(1666).unwrap();
    net.next_epoch().unwrap();
    // 1000 + 500 + 1000/1666 of 300 + 1000/1666 of 1666.
    assert_eq!(net.staking.staked_wal_value(&first), 2680);
    assert_eq!(net.withdraw(first), Ok(2680));
    // The rest is the second staker's: 1000 + 666/1666 of 300 + 666/1666 of 1666.
    let pool = &net.staking.pools[0];
    assert_eq!((pool.active_stake, pool.num_shares), (1786, 666));
    assert_eq!(net.staking.staked_wal_value(&second), 1786);
    assert_eq!(pool.wal_balance, 1786);
    assert_eq!(net.total_wal(), WALLET);
}

#[test]
fn stake_and_withdrawals_take_effect_at_the_epoch_boundaries() {
    let mut net = network(2, 0);
    let mut keep = net.stake(1, 1000).unwrap();
    let mut first = net.stake(0, 100).unwrap();
    assert_eq!(first.activation_epoch, 1);
    net.voting_end().unwrap();
    let mut second = net.stake(0, 100).unwrap();
    assert_eq!(second.activation_epoch, 2);
    // Not active yet: withdrawn at once, with or without a request.
    let pending = net.stake(0, 50).unwrap();
    assert_eq!(net.staking.staked_wal_value(&pending), 50);
    assert_eq!(net.withdraw(pending), Ok(50));
    net.initiate().unwrap();
    assert_eq!(net.staking.pools[0].active_stake, 100);
    assert_eq!(net.staking.pools[0].stake_at_epoch(2), 200);

    // Epoch 1, before voting_end: active stake leaves at epoch 2.
    net.staking.request_withdraw_stake(&mut first).unwrap();
    assert_eq!(first.withdraw_epoch, Some(2));
    assert_eq!(
        net.staking.request_withdraw_stake(&mut first),
        Err(staking::E_ALREADY_WITHDRAWING)
    );
    assert_eq!(
        net.withdraw(first.clone()),
        Err(staking::E_WITHDRAW_TOO_EARLY)
    );
    assert_eq!(net.staking.pools[0].stake_at_epoch(2), 100);
    let third = net.stake(0, 100).unwrap();
    assert_eq!(third.activation_epoch, 2);
    net.voting_end().unwrap();
    // After voting_end: stake activates at epoch 3; active stake leaves at epoch 3; stake
    // not active yet still leaves at once.
    let fourth = net.stake(0, 100).unwrap();
    assert_eq!(fourth.activation_epoch, 3);
    net.staking.request_withdraw_stake(&mut keep).unwrap();
    assert_eq!(keep.withdraw_epoch, Some(3));
    net.staking.request_withdraw_stake(&mut second).unwrap();
    assert_eq!(second.withdraw_epoch, Some(1));
    assert_eq!(net.withdraw(second), Ok(100));
    net.initiate().unwrap();

    // Epoch 2: the committee selected at epoch 1's voting_end still counts node 1 (and the
    // second stake, withdrawn after it).
    assert_eq!(weights(&net), [17, 83]);
    assert_eq!(net.withdraw(first), Ok(100));
    assert_eq!(
        net.withdraw(keep.clone()),
        Err(staking::E_WITHDRAW_TOO_EARLY)
    );
    assert_eq!(net.withdraw(third.clone()), Err(staking::E_NOT_WITHDRAWING));
    net.next_epoch().unwrap();
    assert_eq!(weights(&net), [100]);
    assert_eq!(net.withdraw(keep), Ok(1000));
    assert_eq!(net.staking.pools[0].active_stake, 200);
    assert_eq!(net.staking.pools[1].wal_balance, 0);
    assert_eq!(net.staking.staked_wal_value(&third), 100);
    assert_eq!(net.staking.staked_wal_value(&fourth), 100);
    assert_eq!(
        net.staking.stake_with_pool(
            net.wallet.split(0, &mut net.ctx).unwrap(),
            net.caps[0].node_id,
            &mut net.ctx
        ),
        Err(staking::E_ZERO_STAKE)
    );
    let coin = net.wallet.split(1, &mut net.ctx).unwrap();
    assert_eq!(
        net.staking
            .stake_with_pool(coin, ObjectId([0xee; 32]), &mut net.ctx),
        Err(staking::E_POOL_NOT_FOUND)
    );
}

#[test]
fn the_next_public_key_is_used_from_the_selected_committee_on() {
    let mut net = network(2, 0);
    net.stake(0, 100).unwrap();
    net.stake(1, 100).unwrap();
    net.next_epoch().unwrap();
    let old_key = net.keys[0].public().as_bytes().to_vec();
    let new_key = ProtocolKeyPair::from_seed([99; 32]);
    let new_public = new_key.public().as_bytes().to_vec();
    let sender = StakingNetwork::node_sender(0);
    let mut ctx = TxContext::new(sender, [0x40; 32]);
    let cap = net.caps[0].clone();
    let pop = |key: &ProtocolKeyPair, sender, epoch| {
        key.proof_of_possession(sender, epoch).as_bytes().to_vec()
    };
    // The proof must be for this epoch and the sender.
    assert_eq!(
        net.staking.set_next_public_key(
            &cap,
            new_public.clone(),
            pop(&new_key, sender, 0),
            &mut ctx
        ),
        Err(staking::E_INVALID_PROOF_OF_POSSESSION)
    );
    let mut other_ctx = TxContext::new([0x77; 32], [0x41; 32]);
    assert_eq!(
        net.staking.set_next_public_key(
            &cap,
            new_public.clone(),
            pop(&new_key, sender, 1),
            &mut other_ctx
        ),
        Err(staking::E_INVALID_PROOF_OF_POSSESSION)
    );
    // Node 1's key.
    let key_1 = net.keys[1].public().as_bytes().to_vec();
    assert_eq!(
        net.staking
            .set_next_public_key(&cap, key_1, pop(&net.keys[1], sender, 1), &mut ctx),
        Err(staking::E_DUPLICATE_NODE)
    );
    net.staking
        .set_next_public_key(&cap, new_public.clone(), pop(&new_key, sender, 1), &mut ctx)
        .unwrap();
    assert_eq!(net.staking.pools[0].info.public_key, old_key);
    assert_eq!(
        net.staking.pools[0].info.next_epoch_public_key,
        Some(new_public.clone())
    );
    // Nobody else may take it.
    let sender_1 = StakingNetwork::node_sender(1);
    let cap_1 = net.caps[1].clone();
    assert_eq!(
        net.staking.set_next_public_key(
            &cap_1,
            new_public.clone(),
            pop(&new_key, sender_1, 1),
            &mut TxContext::new(sender_1, [0x42; 32])
        ),
        Err(staking::E_DUPLICATE_NODE)
    );
    // The selection at voting_end uses it; the current committee keeps the old key.
    net.voting_end().unwrap();
    assert_eq!(net.staking.pools[0].info.public_key, new_public);
    assert_eq!(net.staking.pools[0].info.next_epoch_public_key, None);
    assert_eq!(net.system.committee.members[0].public_key, old_key);
    net.initiate().unwrap();
    assert_eq!(net.system.committee.members[0].public_key, new_public);

    // Set after voting_end: the committee already selected keeps the key, the next one not.
    net.sync(0).unwrap();
    net.sync(1).unwrap();
    net.voting_end().unwrap();
    let rotated = ProtocolKeyPair::from_seed([98; 32]);
    let rotated_public = rotated.public().as_bytes().to_vec();
    net.staking
        .set_next_public_key(
            &cap_1,
            rotated_public.clone(),
            pop(&rotated, sender_1, 2),
            &mut TxContext::new(sender_1, [0x43; 32]),
        )
        .unwrap();
    net.initiate().unwrap();
    let old_key_1 = net.keys[1].public().as_bytes().to_vec();
    assert_eq!(net.system.committee.members[1].public_key, old_key_1);
    net.next_epoch().unwrap();
    assert_eq!(net.system.committee.members[1].public_key, rotated_public);

    // Name and address change at once; only for a known pool.
    net.staking.set_name(&cap, "renamed".into()).unwrap();
    net.staking
        .set_network_address(&cap, "10.0.0.1:1".into())
        .unwrap();
    assert_eq!(net.staking.pools[0].info.name, "renamed");
    assert_eq!(net.staking.pools[0].info.network_address, "10.0.0.1:1");
    let stranger = StorageNodeCap {
        id: ObjectId([0xaa; 32]),
        node_id: ObjectId([0xee; 32]),
        last_epoch_sync_done: 0,
    };
    assert_eq!(
        net.staking.set_name(&stranger, "x".into()),
        Err(staking::E_POOL_NOT_FOUND)
    );
}

#[derive(Debug, Clone)]
enum Op {
    Stake { node: usize, amount: u64 },
    RequestWithdraw { position: usize },
    Withdraw { position: usize },
    VotingEnd,
    Initiate,
    Sync { node: usize },
    PayStorage { units: u64 },
    CollectCommission { node: usize },
    SetCommission { node: usize, rate: u16 },
    NextEpoch,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..5, 1u64..1_000_000).prop_map(|(node, amount)| Op::Stake { node, amount }),
        2 => any::<usize>().prop_map(|position| Op::RequestWithdraw { position }),
        2 => any::<usize>().prop_map(|position| Op::Withdraw { position }),
        2 => Just(Op::VotingEnd),
        2 => Just(Op::Initiate),
        2 => (0usize..5).prop_map(|node| Op::Sync { node }),
        2 => (1u64..10_000).prop_map(|units| Op::PayStorage { units }),
        1 => (0usize..5).prop_map(|node| Op::CollectCommission { node }),
        1 => (0usize..5, 0u16..=10_000).prop_map(|(node, rate)| Op::SetCommission { node, rate }),
        2 => Just(Op::NextEpoch),
    ]
}

/// How many shards each pool of `staking` owns in `assignment`.
fn counts(staking: &Staking, assignment: &[ObjectId]) -> Vec<usize> {
    staking
        .pools
        .iter()
        .map(|pool| {
            assignment
                .iter()
                .filter(|owner| **owner == pool.node_id)
                .count()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn staking_invariants_hold(ops in prop::collection::vec(op(), 1..80)) {
        let mut net = network(5, 500);
        let mut staked: Vec<StakedWal> = Vec::new();
        for op in ops {
            match op {
                Op::Stake { node, amount } => staked.push(net.stake(node, amount).unwrap()),
                Op::RequestWithdraw { position } if !staked.is_empty() => {
                    let index = position % staked.len();
                    let result = net.staking.request_withdraw_stake(&mut staked[index]);
                    prop_assert!(matches!(result, Ok(()) | Err(staking::E_ALREADY_WITHDRAWING)));
                }
                Op::Withdraw { position } if !staked.is_empty() => {
                    let index = position % staked.len();
                    let value = net.staking.staked_wal_value(&staked[index]);
                    match net.withdraw(staked[index].clone()) {
                        Ok(amount) => {
                            // It pays what the pure helper says.
                            prop_assert_eq!(amount, value);
                            staked.remove(index);
                        }
                        Err(abort) => prop_assert!(
                            abort == staking::E_NOT_WITHDRAWING
                                || abort == staking::E_WITHDRAW_TOO_EARLY,
                            "{abort}"
                        ),
                    }
                }
                Op::VotingEnd => {
                    let next = net.staking.epoch + 1;
                    let stakes: Vec<u64> = net
                        .staking
                        .pools
                        .iter()
                        .map(|pool| pool.stake_at_epoch(next))
                        .collect();
                    let current = net.staking.shard_assignment.clone();
                    if net.voting_end().is_ok() {
                        let assignment = &net.staking.next_shard_assignment;
                        // Every shard has exactly one owner, a pool.
                        prop_assert_eq!(assignment.len(), usize::from(N_SHARDS));
                        let new = counts(&net.staking, assignment);
                        prop_assert_eq!(new.iter().sum::<usize>(), usize::from(N_SHARDS));
                        // Each pool's count is within one shard of its exact share.
                        let total: u128 = stakes.iter().map(|s| u128::from(*s)).sum();
                        for (count, stake) in new.iter().zip(&stakes) {
                            let scaled = *count as u128 * total;
                            let exact = u128::from(N_SHARDS) * u128::from(*stake);
                            prop_assert!(scaled.abs_diff(exact) < total, "{} {}", count, stake);
                        }
                        // Only the shards of shrinking pools move.
                        if !current.is_empty() {
                            let old = counts(&net.staking, &current);
                            let moved = current
                                .iter()
                                .zip(assignment)
                                .filter(|(a, b)| a != b)
                                .count();
                            let shrunk: usize = old
                                .iter()
                                .zip(&new)
                                .map(|(old, new)| old.saturating_sub(*new))
                                .sum();
                            prop_assert_eq!(moved, shrunk);
                        }
                    }
                }
                Op::Initiate => {
                    let selected = net.staking.next_shard_assignment.clone();
                    let before = net.staking.shard_assignment.clone();
                    if net.initiate().is_ok() {
                        prop_assert_eq!(&net.staking.shard_assignment, &selected);
                        prop_assert_eq!(&net.staking.previous_shard_assignment, &before);
                        let weights: u16 = net.system.committee.members.iter().map(|m| m.weight).sum();
                        prop_assert_eq!(weights, N_SHARDS);
                    }
                }
                Op::Sync { node } => {
                    let _ = net.sync(node);
                }
                Op::NextEpoch => {
                    // Syncs everyone first, so that epochs advance often.
                    let _ = net.next_epoch();
                }
                // Storage is for sale once there is a committee.
                Op::PayStorage { units } if net.system.epoch() > 0 => {
                    net.pay_storage(units).unwrap();
                }
                Op::CollectCommission { node } => {
                    net.collect_commission(node).unwrap();
                }
                Op::SetCommission { node, rate } => {
                    let cap = net.caps[node].clone();
                    net.staking.set_commission_rate(&cap, rate).unwrap();
                }
                _ => {}
            }
            // No WAL is created or lost.
            prop_assert_eq!(net.total_wal(), WALLET);
            // Each pool can pay every staked WAL what it is worth now.
            for pool in &net.staking.pools {
                let owed: u64 = staked
                    .iter()
                    .filter(|s| s.node_id == pool.node_id)
                    .map(|s| net.staking.staked_wal_value(s))
                    .sum();
                prop_assert!(owed <= pool.wal_balance, "{} > {}", owed, pool.wal_balance);
            }
        }
        // In the end everyone can leave: no withdrawal fails for lack of WAL.
        for mut s in staked {
            if s.withdraw_epoch.is_none() {
                net.staking.request_withdraw_stake(&mut s).unwrap();
            }
            let value = net.staking.staked_wal_value(&s);
            match net.withdraw(s) {
                Ok(amount) => prop_assert_eq!(amount, value),
                Err(abort) => prop_assert_ne!(abort, E_NOT_ENOUGH),
            }
        }
        prop_assert_eq!(net.total_wal(), WALLET);
    }
}
