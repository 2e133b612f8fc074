//! Staking on the contracts' twin: candidates, stake, withdrawals, epoch changes with shard
//! assignment, rewards, and a property test over random operation sequences.

use fastcrypto::traits::ToFromBytes;
use proptest::prelude::*;
use walrus_chain::contract::{
    bls_aggregate::BlsCommittee,
    events::Event,
    staking::{self, StakedWal, Staking, StorageNodeCap},
    sui::{Clock, Coin, TxContext},
    system::System,
};
use walrus_core::{crypto::ProtocolKeyPair, ObjectId};

const N_SHARDS: u16 = 100;
const EPOCH_MS: u64 = 1000;

struct Network {
    staking: Staking,
    system: System,
    clock: Clock,
    caps: Vec<StorageNodeCap>,
}

fn sender(i: usize) -> [u8; 32] {
    [u8::try_from(i).unwrap() + 1; 32]
}

fn network(n_nodes: usize) -> Network {
    let mut ctx = TxContext::new([0; 32], [0; 32]);
    let clock = Clock { timestamp_ms: 0 };
    let mut staking = Staking::create(N_SHARDS, EPOCH_MS, &clock, &mut ctx);
    let empty = BlsCommittee {
        members: Vec::new(),
        n_shards: 0,
        epoch: 0,
    };
    let system = System::create(empty, 0, 0, 0, 10, &mut ctx);
    let caps = (0..n_nodes)
        .map(|i| {
            let key = ProtocolKeyPair::from_seed([u8::try_from(i).unwrap() + 50; 32]);
            let pop = key.proof_of_possession(sender(i), 0);
            let mut ctx = TxContext::new(sender(i), [u8::try_from(i).unwrap(); 32]);
            staking
                .register_candidate(
                    format!("node-{i}"),
                    format!("127.0.0.1:{}", 9000 + i),
                    key.public().as_bytes().to_vec(),
                    vec![0; 33],
                    pop.as_bytes().to_vec(),
                    100,
                    10 * (u64::try_from(i).unwrap() + 1),
                    5,
                    1 << 40,
                    &mut ctx,
                )
                .unwrap()
        })
        .collect();
    Network {
        staking,
        system,
        clock,
        caps,
    }
}

fn coin(value: u64) -> Coin {
    Coin {
        id: ObjectId([0xcc; 32]),
        balance: value,
    }
}

impl Network {
    fn stake(&mut self, node: usize, amount: u64) -> StakedWal {
        let node_id = self.caps[node].node_id;
        self.staking
            .stake_with_pool(coin(amount), node_id, &mut TxContext::new([9; 32], [9; 32]))
            .unwrap()
    }

    fn next_epoch(&mut self, ctx: &mut TxContext) -> Result<(), walrus_chain::contract::Abort> {
        self.clock.timestamp_ms += EPOCH_MS;
        self.staking
            .initiate_epoch_change(&mut self.system, &self.clock, ctx)
    }
}

#[test]
fn candidates_need_a_valid_proof_of_possession() {
    let mut net = network(1);
    let key = ProtocolKeyPair::from_seed([9; 32]);
    let mut ctx = TxContext::new(sender(5), [5; 32]);
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
    // Signed for another address.
    let wrong_sender = key.proof_of_possession(sender(6), 0).as_bytes().to_vec();
    assert_eq!(
        register(
            &mut net.staking,
            wrong_sender,
            0,
            key.public().as_bytes().to_vec(),
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
            key.public().as_bytes().to_vec(),
            &mut ctx
        ),
        Err(staking::E_INVALID_PROOF_OF_POSSESSION)
    );
    let pop = key.proof_of_possession(sender(5), 0).as_bytes().to_vec();
    assert_eq!(
        register(&mut net.staking, pop.clone(), 0, vec![0; 48], &mut ctx),
        Err(staking::E_INVALID_PROOF_OF_POSSESSION)
    );
    assert_eq!(
        register(
            &mut net.staking,
            pop.clone(),
            10_001,
            key.public().as_bytes().to_vec(),
            &mut ctx
        ),
        Err(staking::E_COMMISSION_TOO_HIGH)
    );
    assert!(register(
        &mut net.staking,
        pop.clone(),
        10_000,
        key.public().as_bytes().to_vec(),
        &mut ctx
    )
    .is_ok());
    assert_eq!(
        register(
            &mut net.staking,
            pop,
            0,
            key.public().as_bytes().to_vec(),
            &mut ctx
        ),
        Err(staking::E_DUPLICATE_NODE)
    );
    assert_eq!(net.staking.pools.len(), 2);
}

#[test]
fn epoch_change_builds_the_committee_from_stake() {
    let mut net = network(3);
    let mut ctx = TxContext::new([0; 32], [1; 32]);
    assert_eq!(net.next_epoch(&mut ctx), Err(staking::E_NO_STAKE));
    net.clock.timestamp_ms = 0;
    net.stake(0, 100);
    net.stake(1, 300);
    net.stake(2, 600);
    assert_eq!(
        net.staking
            .initiate_epoch_change(&mut net.system, &net.clock, &mut ctx),
        Err(staking::E_EPOCH_NOT_OVER)
    );
    net.next_epoch(&mut ctx).unwrap();
    assert_eq!(net.staking.epoch, 1);
    assert_eq!(net.system.epoch(), 1);
    let weights: Vec<u16> = net
        .system
        .committee
        .members
        .iter()
        .map(|m| m.weight)
        .collect();
    assert_eq!(weights, [10, 30, 60]);
    assert_eq!(net.system.n_shards(), N_SHARDS);
    // Prices: stake-weighted median of the votes 10, 20, 30 -> 30 (60% of shards voted 30).
    assert_eq!(net.system.storage_price_per_unit_size, 30);
    assert_eq!(net.system.write_price_per_unit_size, 5);
    assert_eq!(net.system.total_capacity_size, 1 << 40);
    let names: Vec<&str> = ctx.events().iter().map(Event::type_name).collect();
    assert_eq!(
        names,
        [
            "ShardsReceived",
            "ShardsReceived",
            "ShardsReceived",
            "EpochChangeStart"
        ]
    );

    // Sync: 60 shards are not a quorum, 60 + 10 are.
    let mut caps = net.caps.clone();
    net.staking
        .epoch_sync_done(&mut caps[2], 1, &mut ctx)
        .unwrap();
    assert_eq!(net.staking.epoch_state, staking::EPOCH_CHANGE_SYNC);
    assert_eq!(
        net.staking.epoch_sync_done(&mut caps[2], 1, &mut ctx),
        Err(staking::E_WRONG_EPOCH)
    );
    assert_eq!(
        net.staking.epoch_sync_done(&mut caps[0], 2, &mut ctx),
        Err(staking::E_WRONG_EPOCH)
    );
    net.staking
        .epoch_sync_done(&mut caps[0], 1, &mut ctx)
        .unwrap();
    assert_eq!(net.staking.epoch_state, staking::EPOCH_CHANGE_DONE);
    assert!(matches!(
        ctx.events().last(),
        Some(Event::EpochChangeDone(_))
    ));

    // Stake moves: node 0 grows, shards it held stay in place.
    let before = net.staking.shards_of(&caps[0].node_id);
    net.stake(0, 1000);
    let mut ctx = TxContext::new([0; 32], [2; 32]);
    net.next_epoch(&mut ctx).unwrap();
    let after = net.staking.shards_of(&caps[0].node_id);
    assert!(before.iter().all(|shard| after.contains(shard)));
    assert_eq!(after.len(), 55);
}

#[test]
fn withdrawals() {
    let mut net = network(2);
    let mut ctx = TxContext::new([0; 32], [3; 32]);
    let mut pending = net.stake(0, 50);
    let mut active = net.stake(1, 70);
    // Not yet active: withdrawable at once.
    net.staking.request_withdraw_stake(&mut pending).unwrap();
    assert_eq!(
        net.staking.request_withdraw_stake(&mut pending),
        Err(staking::E_ALREADY_WITHDRAWING)
    );
    assert_eq!(
        net.staking
            .withdraw_stake(pending, &mut ctx)
            .unwrap()
            .value(),
        50
    );
    net.next_epoch(&mut ctx).unwrap();
    let not_requested = active.clone();
    assert_eq!(
        net.staking.withdraw_stake(not_requested, &mut ctx),
        Err(staking::E_NOT_WITHDRAWING)
    );
    net.staking.request_withdraw_stake(&mut active).unwrap();
    assert_eq!(
        net.staking.withdraw_stake(active.clone(), &mut ctx),
        Err(staking::E_WITHDRAW_TOO_EARLY)
    );
    // Keep some stake so that the epoch can change.
    net.stake(0, 10);
    net.next_epoch(&mut ctx).unwrap();
    assert_eq!(
        net.staking
            .withdraw_stake(active, &mut ctx)
            .unwrap()
            .value(),
        70
    );
    assert_eq!(net.system.committee.members.len(), 1);
    assert_eq!(
        net.staking
            .stake_with_pool(coin(0), net.caps[0].node_id, &mut ctx),
        Err(staking::E_ZERO_STAKE)
    );
    assert_eq!(
        net.staking
            .stake_with_pool(coin(1), ObjectId([0xee; 32]), &mut ctx),
        Err(staking::E_POOL_NOT_FOUND)
    );
}

#[test]
fn storage_fees_become_node_rewards() {
    let mut net = network(2);
    let mut ctx = TxContext::new([0; 32], [4; 32]);
    net.stake(0, 1);
    net.stake(1, 3);
    net.next_epoch(&mut ctx).unwrap();
    let mut payment = coin(1_000_000);
    // 2 units for 1 epoch at the median price (20): 40 FROST for epoch 1.
    net.system
        .reserve_space(2 * 1024 * 1024, 1, &mut payment, &mut ctx)
        .unwrap();
    assert_eq!(payment.value(), 1_000_000 - 40);
    net.next_epoch(&mut ctx).unwrap();
    let caps = net.caps.clone();
    let rewards: Vec<u64> = caps
        .iter()
        .map(|cap| net.staking.collect_rewards(cap, &mut ctx).unwrap().value())
        .collect();
    assert_eq!(rewards, [10, 30]);
    assert_eq!(net.system.rewards_pool, 0);
}

#[derive(Debug, Clone)]
enum Op {
    Stake { node: usize, amount: u64 },
    RequestWithdraw { position: usize },
    Withdraw { position: usize },
    EpochChange,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..5, 1u64..1_000_000).prop_map(|(node, amount)| Op::Stake { node, amount }),
        any::<usize>().prop_map(|position| Op::RequestWithdraw { position }),
        any::<usize>().prop_map(|position| Op::Withdraw { position }),
        Just(Op::EpochChange),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn staking_invariants_hold(ops in prop::collection::vec(op(), 1..60)) {
        let mut net = network(5);
        let mut ctx = TxContext::new([0; 32], [7; 32]);
        let mut staked: Vec<StakedWal> = Vec::new();
        let mut minted = 0u64;
        let mut withdrawn = 0u64;
        for op in ops {
            match op {
                Op::Stake { node, amount } => {
                    minted += amount;
                    staked.push(net.stake(node, amount));
                }
                Op::RequestWithdraw { position } if !staked.is_empty() => {
                    let index = position % staked.len();
                    let _ = net.staking.request_withdraw_stake(&mut staked[index]);
                }
                Op::Withdraw { position } if !staked.is_empty() => {
                    let index = position % staked.len();
                    if let Ok(coin) = net.staking.withdraw_stake(staked[index].clone(), &mut ctx) {
                        withdrawn += coin.value();
                        staked.remove(index);
                    }
                }
                Op::EpochChange => {
                    let _ = net.next_epoch(&mut ctx);
                }
                _ => {}
            }
            // WAL is conserved: every minted FROST is in a pool or was withdrawn.
            let in_pools: u64 = net.staking.pools.iter().map(|pool| pool.wal_balance).sum();
            prop_assert_eq!(in_pools + withdrawn, minted);
            let principals: u64 = staked.iter().map(|s| s.principal).sum();
            prop_assert_eq!(in_pools, principals);
            // Every shard has exactly one owner, in proportion to the stake within one shard.
            if net.staking.epoch > 0 {
                prop_assert_eq!(net.staking.shard_assignment.len(), usize::from(N_SHARDS));
                let total: u64 = net.staking.pools.iter().map(|p| p.active_stake).sum();
                let mut counted = 0usize;
                for pool in &net.staking.pools {
                    let shards = net.staking.shards_of(&pool.node_id).len();
                    counted += shards;
                    let exact = f64::from(N_SHARDS) * pool.active_stake as f64 / total as f64;
                    prop_assert!((shards as f64 - exact).abs() < 1.0, "{} vs {}", shards, exact);
                }
                prop_assert_eq!(counted, usize::from(N_SHARDS));
                let weights: u16 = net.system.committee.members.iter().map(|m| m.weight).sum();
                prop_assert_eq!(weights, N_SHARDS);
            }
        }
    }
}
