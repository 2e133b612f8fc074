//! The launcher's pieces without a process: the genesis file (committee at genesis, key
//! forms, errors), the system operations (epoch change, mint) and their durability.

use walrus_localnet::{
    launcher::GenesisFile,
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
fn system_epoch_change_and_mint_are_durable() {
    let file: GenesisFile = toml::from_str(FILE).unwrap();
    let config = file.to_config().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fresh = "0xf1".parse().unwrap();
    let (minted, genesis) = {
        let (mut state, genesis) = ChainState::open(dir.path(), &config).unwrap();
        let executor = &mut state.executor;
        // Not yet over: nothing happens.
        assert_eq!(executor.system_epoch_change(&genesis).unwrap(), None);
        executor.set_timestamp_ms(11_000).unwrap();
        assert_eq!(executor.system_epoch_change(&genesis).unwrap(), Some(2));
        assert_eq!(executor.system_epoch_change(&genesis).unwrap(), None);
        assert_eq!(system(executor, &genesis).committee.epoch, 2);
        let minted = executor.system_mint(fresh, 7, 9, b"n").unwrap();
        assert_eq!(minted.len(), 2);
        // The same request again gives other coins (the nonce and the store size differ).
        let again = executor.system_mint(fresh, 7, 0, b"n").unwrap();
        assert_eq!(again.len(), 1);
        assert!(!minted.contains(&again[0]));
        (minted, genesis)
    };
    let (state, reopened) = ChainState::open(dir.path(), &config).unwrap();
    assert_eq!(reopened, genesis);
    let executor = &state.executor;
    assert_eq!(staking(executor, &genesis).epoch, 2);
    assert_eq!(executor.store().coin_balance(&minted[0]).unwrap(), 7);
    assert_eq!(executor.store().coin_balance(&minted[1]).unwrap(), 9);
    assert_eq!(
        executor
            .store()
            .owned_of_type(fresh, ObjectType::SuiCoin)
            .len(),
        2
    );
}
