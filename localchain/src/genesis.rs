//! The localnet's initial state.
//!
//! - The `wal` package at [`WAL_PACKAGE_ID`] and the `walrus` package at [`WALRUS_PACKAGE_ID`]
//!   (immutable package objects, version 1, with a type-origin table but no bytecode: no Move
//!   toolchain runs here, the twin executes the calls).
//! - The `0x6` clock (shared, initial shared version 1, as on Sui).
//! - `System` and `Staking`, created by the twin's `init::init` + `init::initialize_walrus`
//!   (epoch 0, no committee) and shared at version 1.
//! - For each account, its SUI gas coins and WAL coins (version 1). The WAL coins stand for the
//!   publisher's share-out of the minted supply; the `TreasuryCap` is not modelled.
//!
//! Object IDs are derived as in a Sui transaction whose digest is the genesis digest
//! (Blake2b-256 of a domain tag and the BCS of the configuration), so the same configuration
//! always gives the same state.

use std::collections::BTreeMap;

use serde::Serialize;
use sui_sdk_types::{
    hash::Hasher, Address, Digest, Identifier, MovePackage, Object, ObjectData, Owner, TypeOrigin,
    Version,
};
use walrus_chain::contract::{
    init,
    sui::{Clock, Coin, TxContext},
};
use walrus_core::ObjectId;

use crate::{
    store::{move_object, ObjectStore},
    types::{
        address, ClockObject, ObjectType, ObjectValue, STAKED_WAL_MODULE, STORAGE_NODE_MODULE,
    },
    ExecutionError, CLOCK_INITIAL_SHARED_VERSION, CLOCK_OBJECT_ID, WALRUS_PACKAGE_ID,
    WAL_PACKAGE_ID,
};

/// The version of every genesis object.
pub const GENESIS_VERSION: Version = 1;

/// An account funded at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenesisAccount {
    /// The owner.
    pub address: Address,
    /// One `Coin<SUI>` (MIST) per entry.
    pub sui_coins: Vec<u64>,
    /// One `Coin<WAL>` (FROST) per entry.
    pub wal_coins: Vec<u64>,
}

/// What the genesis contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenesisConfig {
    /// Number of shards (fixed for the network's lifetime).
    pub n_shards: u16,
    /// Length of a Walrus epoch.
    pub epoch_duration_ms: u64,
    /// How many epochs ahead storage can be bought.
    pub max_epochs_ahead: u32,
    /// The clock's initial timestamp.
    pub start_timestamp_ms: u64,
    /// Funded accounts.
    pub accounts: Vec<GenesisAccount>,
    /// The initial committee's storage nodes: registered, staked and, if there is any, made
    /// the committee of epoch 1 at genesis (`voting_end` and `initiate_epoch_change`; the first
    /// committee starts in `EPOCH_CHANGE_DONE`, with no previous shard assignment).
    pub nodes: Vec<GenesisNode>,
}

/// A storage node registered and staked at genesis (what its operator would do with
/// `register_candidate` and `stake_with_pool`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenesisNode {
    /// The node's Sui address: it receives the `StorageNodeCap` and the `StakedWal`, and the
    /// proof of possession is over it.
    pub owner: Address,
    /// The node's name.
    pub name: String,
    /// Its network address (`host:port`).
    pub network_address: String,
    /// The BLS12-381 protocol public key (96 bytes, compressed).
    pub public_key: Vec<u8>,
    /// The proof of possession of `public_key` for `owner` in epoch 0.
    pub proof_of_possession: Vec<u8>,
    /// The network public key.
    pub network_public_key: Vec<u8>,
    /// Commission rate (basis points).
    pub commission_rate: u16,
    /// Storage price vote (FROST per unit size per epoch).
    pub storage_price: u64,
    /// Write price vote (FROST per unit size).
    pub write_price: u64,
    /// Capacity vote (bytes).
    pub node_capacity: u64,
    /// WAL (FROST) staked with the node at genesis (minted for it).
    pub stake: u64,
}

/// The IDs of the genesis objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    /// The digest the genesis objects name as their previous transaction.
    pub digest: Digest,
    /// The shared `System` object.
    pub system: Address,
    /// The shared `Staking` object.
    pub staking: Address,
    /// The initial shared version of `System`, `Staking` and the clock.
    pub initial_shared_version: Version,
    /// `(owner, type, coin ID)` of every genesis coin, in configuration order.
    pub coins: Vec<(Address, ObjectType, Address)>,
}

impl Genesis {
    /// The IDs of the coins of `ty` given to `owner` at genesis.
    pub fn coins_of(&self, owner: Address, ty: ObjectType) -> Vec<Address> {
        self.coins
            .iter()
            .filter(|(coin_owner, coin_type, _)| *coin_owner == owner && *coin_type == ty)
            .map(|(_, _, id)| *id)
            .collect()
    }
}

fn package(id: Address, types: &[(&'static str, &'static str)]) -> Object {
    let type_origin_table = types
        .iter()
        .map(|(module, name)| TypeOrigin {
            module_name: Identifier::from_static(module),
            struct_name: Identifier::from_static(name),
            package: id,
        })
        .collect();
    Object::new(
        ObjectData::Package(MovePackage {
            id,
            version: GENESIS_VERSION,
            modules: BTreeMap::new(),
            type_origin_table,
            linkage_table: BTreeMap::new(),
        }),
        Owner::Immutable,
        Digest::ZERO,
        0,
    )
}

impl GenesisConfig {
    /// A configuration with no accounts.
    pub fn new(n_shards: u16, epoch_duration_ms: u64, max_epochs_ahead: u32) -> Self {
        Self {
            n_shards,
            epoch_duration_ms,
            max_epochs_ahead,
            start_timestamp_ms: 0,
            accounts: Vec::new(),
            nodes: Vec::new(),
        }
    }

    /// Adds an account with these SUI and WAL coins.
    pub fn with_account(mut self, address: Address, sui_coins: &[u64], wal_coins: &[u64]) -> Self {
        self.accounts.push(GenesisAccount {
            address,
            sui_coins: sui_coins.to_vec(),
            wal_coins: wal_coins.to_vec(),
        });
        self
    }

    /// Adds a storage node of the initial committee.
    pub fn with_node(mut self, node: GenesisNode) -> Self {
        self.nodes.push(node);
        self
    }

    /// The genesis digest: Blake2b-256 of a domain tag and the configuration's BCS.
    pub fn digest(&self) -> Result<Digest, ExecutionError> {
        let mut hasher = Hasher::new();
        hasher.update(b"walrus-localnet::genesis::");
        hasher.update(
            bcs::to_bytes(self)
                .map_err(|error| ExecutionError::Internal(format!("genesis BCS: {error}")))?,
        );
        Ok(hasher.finalize())
    }

    /// Builds the genesis store. Fails if the twin's initialisation aborts (zero shards,
    /// epoch duration or epochs ahead).
    pub fn build(&self) -> Result<(ObjectStore, Genesis), ExecutionError> {
        let digest = self.digest()?;
        let mut ctx = TxContext::new([0; 32], digest.into_inner());
        let clock = Clock {
            timestamp_ms: self.start_timestamp_ms,
        };
        let cap = init::init(&mut ctx);
        let (mut system, mut staking) = init::initialize_walrus(
            cap,
            self.n_shards,
            self.epoch_duration_ms,
            self.max_epochs_ahead,
            &clock,
            &mut ctx,
        )
        .map_err(|abort| ExecutionError::MoveAbort { command: 0, abort })?;

        let abort = |abort| ExecutionError::MoveAbort { command: 0, abort };
        let mut node_objects = Vec::new();
        for (index, node) in self.nodes.iter().enumerate() {
            // Each node's registration runs as its own transaction from its owner.
            let mut hasher = Hasher::new();
            hasher.update(digest.inner());
            hasher.update(b"::node::");
            hasher.update((index as u64).to_le_bytes());
            let mut node_ctx =
                TxContext::new(node.owner.into_inner(), hasher.finalize().into_inner());
            let cap = staking
                .register_candidate(
                    node.name.clone(),
                    node.network_address.clone(),
                    node.public_key.clone(),
                    node.network_public_key.clone(),
                    node.proof_of_possession.clone(),
                    node.commission_rate,
                    node.storage_price,
                    node.write_price,
                    node.node_capacity,
                    &mut node_ctx,
                )
                .map_err(abort)?;
            let stake = Coin {
                id: node_ctx.fresh_id(),
                balance: node.stake,
            };
            let staked = staking
                .stake_with_pool(stake, cap.node_id, &mut node_ctx)
                .map_err(abort)?;
            node_objects.push((node.owner, ObjectValue::StorageNodeCap(cap)));
            node_objects.push((node.owner, ObjectValue::StakedWal(staked)));
        }
        if !self.nodes.is_empty() {
            // The first committee, at the genesis time: `voting_end` selects it and the epoch
            // change makes it epoch 1's. It has nothing to sync, so the epoch change is done.
            let duration = staking.epoch_duration_ms;
            staking.epoch_duration_ms = 0;
            staking.voting_end(&clock, &mut ctx).map_err(abort)?;
            staking
                .initiate_epoch_change(&mut system, &clock, &mut ctx)
                .map_err(abort)?;
            staking.epoch_duration_ms = duration;
        }

        let mut store = ObjectStore::new();
        store.insert(package(WAL_PACKAGE_ID, &[("wal", "WAL")]));
        store.insert(package(
            WALRUS_PACKAGE_ID,
            &[
                ("system", "System"),
                ("staking", "Staking"),
                ("storage_resource", "Storage"),
                ("blob", "Blob"),
                (STAKED_WAL_MODULE, "StakedWal"),
                (STORAGE_NODE_MODULE, "StorageNodeCap"),
            ],
        ));
        let shared = Owner::Shared(CLOCK_INITIAL_SHARED_VERSION);
        let clock_object = ObjectValue::Clock(ClockObject {
            id: ObjectId(CLOCK_OBJECT_ID.into_inner()),
            timestamp_ms: self.start_timestamp_ms,
        });
        store.insert(move_object(&clock_object, GENESIS_VERSION, shared, digest)?);
        let system_id = address(system.id);
        let staking_id = address(staking.id);
        let shared = Owner::Shared(GENESIS_VERSION);
        for value in [
            ObjectValue::System(Box::new(system)),
            ObjectValue::Staking(Box::new(staking)),
        ] {
            store.insert(move_object(&value, GENESIS_VERSION, shared, digest)?);
        }

        for (owner, value) in &node_objects {
            store.insert(move_object(
                value,
                GENESIS_VERSION,
                Owner::Address(*owner),
                digest,
            )?);
        }
        let mut coins = Vec::new();
        for account in &self.accounts {
            let kinds = [
                (ObjectType::SuiCoin, &account.sui_coins),
                (ObjectType::WalCoin, &account.wal_coins),
            ];
            for (ty, balances) in kinds {
                for balance in balances {
                    let coin = Coin {
                        id: ctx.fresh_id(),
                        balance: *balance,
                    };
                    let id = address(coin.id);
                    let value = match ty {
                        ObjectType::SuiCoin => ObjectValue::SuiCoin(coin),
                        _ => ObjectValue::WalCoin(coin),
                    };
                    let owner = Owner::Address(account.address);
                    store.insert(move_object(&value, GENESIS_VERSION, owner, digest)?);
                    coins.push((account.address, ty, id));
                }
            }
        }
        Ok((
            store,
            Genesis {
                digest,
                system: system_id,
                staking: staking_id,
                initial_shared_version: GENESIS_VERSION,
                coins,
            },
        ))
    }
}
