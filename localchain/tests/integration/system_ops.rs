//! The launcher's pieces without a process: the genesis file (committee at genesis, key
//! forms, errors), the keeper's epoch-change calls and the faucet's grants (recorded signed
//! transactions) and their durability, the faucet's rate limiter.

use std::time::{Duration, Instant};

use sui_sdk_types::Address;
use walrus_localchain::{
    launcher::{GenesisFile, GlobalRateLimiter, RateLimiter},
    operators::{run_faucet, run_keeper, KeeperCall, KeeperRun, Operator},
    service::ChainState,
    types::{ObjectType, ObjectValue},
    Executor, Genesis,
};

const FILE: &str = r#"
n_shards = 5
epoch_duration_ms = 1000
start_timestamp_ms = 10000

[[accounts]]
address = "0xa1"
sui = 5000000000

[[nodes]]
owner = "0xb1"
network_address = "127.0.0.1:1"
bls_seed = "0x0909090909090909090909090909090909090909090909090909090909090909"
stake = 3000

[[nodes]]
owner = "0xb2"
network_address = "127.0.0.1:2"
bls_private_key = "0505050505050505050505050505050505050505050505050505050505050505"
stake = 2000
"#;

fn staking(executor: &Executor, genesis: &Genesis) -> walrus_chain::contract::staking::Staking {
    match executor.store().value(&genesis.staking).unwrap() {
        ObjectValue::Staking(staking) => *staking,
        other => panic!("{other:?}"),
    }
}

fn system(executor: &Executor, genesis: &Genesis) -> walrus_chain::contract::system::System {
    match executor.store().value(&genesis.system).unwrap() {
        ObjectValue::System(system) => *system,
        other => panic!("{other:?}"),
    }
}

#[test]
fn genesis_file_builds_the_first_committee() {
    let file: GenesisFile = toml::from_str(FILE).unwrap();
    let config = file.to_config().unwrap();
    assert_eq!(config.nodes.len(), 2);
    assert_eq!(config.nodes[1].name, "node-1");
    let (executor, genesis) = Executor::from_genesis(&config).unwrap();
    let staking = staking(&executor, &genesis);
    assert_eq!((staking.epoch, staking.epoch_start_ms), (1, 10_000));
    assert_eq!(staking.epoch_duration_ms, 1_000);
    // The first committee has nothing to sync.
    assert_eq!(
        staking.epoch_state,
        walrus_chain::contract::staking::EPOCH_CHANGE_DONE
    );
    assert!(staking.previous_shard_assignment.is_empty());
    assert_eq!(staking.shard_assignment.len(), 5);
    let system = system(&executor, &genesis);
    let weights: Vec<u16> = system.committee.members.iter().map(|m| m.weight).collect();
    assert_eq!((system.committee.epoch, weights), (1, vec![3, 2]));
    // Each node owns its cap and its staked WAL.
    for owner in ["0xb1", "0xb2"] {
        let owner = owner.parse().unwrap();
        assert_eq!(
            executor
                .store()
                .owned_of_type(owner, ObjectType::StorageNodeCap)
                .len(),
            1
        );
        assert_eq!(
            executor
                .store()
                .owned_of_type(owner, ObjectType::StakedWal)
                .len(),
            1
        );
    }
    assert!(executor.store().check_ids());
    // The same file gives the same genesis.
    assert_eq!(
        Executor::from_genesis(&file.to_config().unwrap())
            .unwrap()
            .1,
        genesis
    );
}

#[test]
fn genesis_file_errors() {
    let bad = |text: &str| {
        toml::from_str::<GenesisFile>(text)
            .map_err(|error| error.to_string())
            .and_then(|file| file.to_config().map_err(|error| format!("{error:#}")))
            .unwrap_err()
    };
    assert!(bad("n_shards = 4\nbogus = 1").contains("bogus"));
    assert!(bad("[[accounts]]\naddress = \"xyz\"").contains("invalid account address"));
    let node = "[[nodes]]\nowner = \"0x1\"\nnetwork_address = \"a:1\"\nstake = 1\n";
    assert!(bad(node).contains("exactly one of bls_seed and bls_private_key"));
    assert!(bad(&format!("{node}bls_seed = \"0102\"")).contains("32 bytes"));
    // A default file (no nodes) is valid.
    GenesisFile::default().to_config().unwrap();
}

#[test]
fn epoch_changes_and_faucet_grants_are_recorded_transactions() {
    let file: GenesisFile = toml::from_str(FILE).unwrap();
    let config = file.to_config().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fresh: Address = "0xf1".parse().unwrap();
    let keeper = Operator::keeper().address();
    let faucet = Operator::faucet().address();
    let (grant, change, genesis) = {
        let (mut state, genesis) = ChainState::open(dir.path(), &config).unwrap();
        // The operators are funded at genesis.
        assert_eq!(
            state
                .executor
                .store()
                .owned_of_type(keeper, ObjectType::SuiCoin)
                .len(),
            1
        );
        // Not yet half of the epoch: nothing happens, nothing is recorded.
        assert!(run_keeper(&mut state, &genesis).unwrap().is_empty());
        assert!(!state.ledger.has_pending());
        state.advance_clock(10_500).unwrap();
        let runs = run_keeper(&mut state, &genesis).unwrap();
        assert_eq!(calls(&runs), [(KeeperCall::VotingEnd, 1)]);
        assert_eq!(event_names(&runs[0].effects), ["EpochParametersSelected"]);
        assert!(run_keeper(&mut state, &genesis).unwrap().is_empty());
        state.advance_clock(11_000).unwrap();
        let runs = run_keeper(&mut state, &genesis).unwrap();
        assert_eq!(calls(&runs), [(KeeperCall::InitiateEpochChange, 2)]);
        let change = runs[0].effects.clone();
        // The new committee syncs: nothing is due until a quorum reports.
        state.advance_clock(20_000).unwrap();
        assert!(run_keeper(&mut state, &genesis).unwrap().is_empty());
        assert_eq!(system(&state.executor, &genesis).committee.epoch, 2);
        // A signed transaction from the keeper, with the epoch change's events and Lamport
        // versions on Staking and System.
        assert_eq!(
            event_names(&change).last().map(String::as_str),
            Some("EpochChangeStart")
        );
        assert!(change.events.iter().all(|event| event.sender == keeper));
        let staking_object = state.executor.store().get(&genesis.staking).unwrap();
        assert_eq!(staking_object.version(), change.lamport_version);
        assert_eq!(
            staking_object.previous_transaction(),
            change.transaction_digest
        );
        // The faucet pays with an ordinary transfer.
        let grant = run_faucet(&mut state, &genesis, fresh, 7, 9).unwrap();
        assert_eq!(grant.created.len(), 2);
        assert!(grant
            .created
            .iter()
            .all(|coin| coin.owner == sui_sdk_types::Owner::Address(fresh)));
        assert_eq!(
            state
                .ledger
                .transaction(&grant.transaction_digest)
                .unwrap()
                .transaction()
                .sender(),
            faucet.to_string()
        );
        // Both are sealed into a checkpoint.
        let sequence_number = state.seal_checkpoint().unwrap().unwrap();
        for digest in [change.transaction_digest, grant.transaction_digest] {
            let executed = state.ledger.transaction(&digest).unwrap();
            assert_eq!(executed.checkpoint, Some(sequence_number));
        }
        (grant, change, genesis)
    };
    let (state, reopened) = ChainState::open(dir.path(), &config).unwrap();
    assert_eq!(reopened, genesis);
    let executor = &state.executor;
    assert_eq!(staking(executor, &genesis).epoch, 2);
    let balances: Vec<u64> = grant
        .created
        .iter()
        .map(|coin| executor.store().coin_balance(&coin.id()).unwrap())
        .collect();
    assert_eq!(balances.iter().sum::<u64>(), 16);
    assert!(executor.effects(&change.transaction_digest).is_some());
    assert!(state
        .ledger
        .transaction(&grant.transaction_digest)
        .unwrap()
        .checkpoint
        .is_some());
}

fn calls(runs: &[KeeperRun]) -> Vec<(KeeperCall, u32)> {
    runs.iter().map(|run| (run.call, run.epoch)).collect()
}

fn event_names(effects: &walrus_localchain::Effects) -> Vec<String> {
    effects
        .events
        .iter()
        .map(|event| event.type_.name().to_string())
        .collect()
}

#[test]
fn a_late_keeper_selects_and_changes_in_one_tick() {
    let config = toml::from_str::<GenesisFile>(FILE)
        .unwrap()
        .to_config()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut state, genesis) = ChainState::open(dir.path(), &config).unwrap();
    state.advance_clock(12_345).unwrap();
    let runs = run_keeper(&mut state, &genesis).unwrap();
    assert_eq!(
        calls(&runs),
        [
            (KeeperCall::VotingEnd, 1),
            (KeeperCall::InitiateEpochChange, 2)
        ]
    );
    assert_eq!(staking(&state.executor, &genesis).epoch_start_ms, 12_345);
}

#[test]
fn faucet_rate_limiter_window() {
    let limiter = RateLimiter::new(2, Duration::from_secs(60));
    let start = Instant::now();
    let (a, b): (Address, Address) = ("0xa".parse().unwrap(), "0xb".parse().unwrap());
    assert!(limiter.check(a, start).is_ok());
    assert!(limiter.check(a, start + Duration::from_secs(10)).is_ok());
    let retry = limiter
        .check(a, start + Duration::from_secs(20))
        .unwrap_err();
    assert_eq!(retry, Duration::from_secs(40));
    // Per recipient.
    assert!(limiter.check(b, start + Duration::from_secs(20)).is_ok());
    // The first grant leaves the window after 60 s.
    assert!(limiter.check(a, start + Duration::from_secs(60)).is_ok());
    assert!(limiter.check(a, start + Duration::from_secs(61)).is_err());
    // 0: no limit.
    let unlimited = RateLimiter::new(0, Duration::from_secs(60));
    for _ in 0..100 {
        assert!(unlimited.check(a, start).is_ok());
    }
}

#[test]
fn faucet_rate_limiter_forgets_refused_grants() {
    let limiter = RateLimiter::new(1, Duration::from_secs(60));
    let start = Instant::now();
    let a: Address = "0xa".parse().unwrap();
    assert!(limiter.check(a, start).is_ok());
    assert!(limiter.check(a, start).is_err());
    limiter.forget(a, start);
    assert!(limiter.check(a, start + Duration::from_secs(1)).is_ok());
    // Forgetting what was never recorded changes nothing.
    limiter.forget(a, start + Duration::from_secs(2));
    limiter.forget("0xb".parse().unwrap(), start);
    assert!(limiter.check(a, start + Duration::from_secs(2)).is_err());
}

#[test]
fn faucet_global_token_bucket() {
    let limiter = GlobalRateLimiter::new(6);
    let start = Instant::now();
    // A full bucket: a burst of 6 ...
    for _ in 0..6 {
        assert!(limiter.check(start).is_ok());
    }
    // ... then one grant every 10 s.
    let retry = limiter.check(start).unwrap_err();
    assert_eq!(retry.as_secs_f64().round(), 10.0);
    let retry = limiter.check(start + Duration::from_secs(4)).unwrap_err();
    assert_eq!(retry.as_secs_f64().round(), 6.0);
    assert!(limiter.check(start + Duration::from_secs(10)).is_ok());
    assert!(limiter.check(start + Duration::from_secs(11)).is_err());
    // Refilled to the burst size at most.
    let later = start + Duration::from_secs(3600);
    for _ in 0..6 {
        assert!(limiter.check(later).is_ok());
    }
    assert!(limiter.check(later).is_err());
    // 0: no limit.
    let unlimited = GlobalRateLimiter::new(0);
    for _ in 0..100 {
        assert!(unlimited.check(start).is_ok());
    }
}
