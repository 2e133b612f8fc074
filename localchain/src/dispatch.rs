//! `MoveCall` dispatch: the public functions of the `wal` and `walrus` packages, each mapped to
//! its twin with its Move signature (argument kinds and types; the trailing `&mut TxContext`
//! is implicit, as in Sui). Unknown functions, wrong arity, type arguments, wrong argument
//! types and malformed pure bytes are errors; a twin `Err(Abort)` is a Move abort.

use serde::{de::DeserializeOwned, Serialize};
use sui_sdk_types::{Argument, MoveCall};
use walrus_chain::contract::{
    blob::{self, Blob},
    staking::{StakedWal, Staking, StorageNodeCap},
    storage_resource::Storage,
    sui::{TxContext, U256},
    system::{self, System},
    Abort,
};
use walrus_core::ObjectId;

use crate::{
    runtime::{Access, Runtime},
    types::{ClockObject, ObjectValue, PureType, TwinObject, Value, WalCoin},
    ExecutionError, WALRUS_PACKAGE_ID, WAL_PACKAGE_ID,
};

type Results = Result<Vec<Value>, ExecutionError>;

/// `wal::wal::frost_per_wal()`.
const FROST_PER_WAL: u64 = 1_000_000_000;

/// The arguments of one Move call.
struct Call<'a> {
    rt: &'a mut Runtime,
    command: usize,
    args: &'a [Argument],
    function: String,
}

impl Call<'_> {
    fn arity(&self, expected: usize) -> Result<(), ExecutionError> {
        if self.args.len() == expected {
            Ok(())
        } else {
            Err(ExecutionError::ArityMismatch {
                command: self.command,
                function: self.function.clone(),
                expected,
                found: self.args.len(),
            })
        }
    }

    fn object<T: TwinObject>(
        &mut self,
        position: usize,
        access: Access,
    ) -> Result<T, ExecutionError> {
        let arg = self.args[position];
        self.rt.object(self.command, position, &arg, access)
    }

    fn borrow<T: TwinObject>(&mut self, position: usize) -> Result<T, ExecutionError> {
        self.object(position, Access::Ref)
    }

    fn borrow_mut<T: TwinObject>(&mut self, position: usize) -> Result<T, ExecutionError> {
        self.object(position, Access::MutRef)
    }

    fn take<T: TwinObject>(&mut self, position: usize) -> Result<T, ExecutionError> {
        self.object(position, Access::ByValue)
    }

    /// Puts a borrowed object back.
    fn put<T: TwinObject>(&mut self, position: usize, value: T) -> Result<(), ExecutionError> {
        let arg = self.args[position];
        self.rt.restore(&arg, Value::Object(value.into_value()))
    }

    fn pure<T: DeserializeOwned>(
        &mut self,
        position: usize,
        ty: PureType,
    ) -> Result<T, ExecutionError> {
        let arg = self.args[position];
        self.rt.pure(self.command, position, &arg, ty)
    }

    fn ctx(&mut self) -> &mut TxContext {
        self.rt.ctx()
    }

    fn abort(&self) -> impl FnOnce(Abort) -> ExecutionError {
        let command = self.command;
        move |abort| ExecutionError::MoveAbort { command, abort }
    }
}

fn object<T: TwinObject>(value: T) -> Value {
    Value::Object(value.into_value())
}

fn typed<T: Serialize>(ty: PureType, value: &T) -> Results {
    let bytes = bcs::to_bytes(value)
        .map_err(|error| ExecutionError::Internal(format!("BCS encoding failed: {error}")))?;
    Ok(vec![Value::Typed(ty, bytes)])
}

/// Runs a Move call; its events are attributed to the called module.
pub(crate) fn call(rt: &mut Runtime, command: usize, call: &MoveCall) -> Results {
    let module = call.module.as_str();
    let function = call.function.as_str();
    let not_found = || ExecutionError::FunctionNotFound {
        command,
        package: call.package,
        module: module.to_string(),
        function: function.to_string(),
    };
    let mut c = Call {
        rt,
        command,
        args: &call.arguments,
        function: format!("{module}::{function}"),
    };
    let results = if call.package == WALRUS_PACKAGE_ID {
        if !call.type_arguments.is_empty() {
            return Err(ExecutionError::ArityMismatch {
                command,
                function: format!("{module}::{function} (type arguments)"),
                expected: 0,
                found: call.type_arguments.len(),
            });
        }
        match module {
            "system" => system_call(&mut c, function),
            "staking" => staking_call(&mut c, function),
            "storage_resource" => storage_call(&mut c, function),
            "blob" => blob_call(&mut c, function),
            _ => None,
        }
    } else if call.package == WAL_PACKAGE_ID && module == "wal" && function == "frost_per_wal" {
        Some(
            c.arity(0)
                .and_then(|()| typed(PureType::U64, &FROST_PER_WAL)),
        )
    } else {
        None
    };
    let results = results.ok_or_else(not_found)??;
    c.rt.collect_events(&call.module);
    Ok(results)
}

/// A read-only getter `f(&T): R`.
fn getter<T: TwinObject, R: Serialize>(
    c: &mut Call<'_>,
    ty: PureType,
    get: impl FnOnce(&T) -> R,
) -> Results {
    c.arity(1)?;
    let value: T = c.borrow(0)?;
    let result = get(&value);
    c.put(0, value)?;
    typed(ty, &result)
}

fn system_call(c: &mut Call<'_>, function: &str) -> Option<Results> {
    Some(match function {
        "reserve_space" => reserve_space(c),
        "register_blob" => register_blob(c),
        "certify_blob" => certify_blob(c),
        "delete_blob" => delete_blob(c),
        "extend_blob" => extend_blob(c),
        "extend_blob_with_resource" => extend_blob_with_resource(c),
        "burn_blob" => burn_blob(c),
        "invalidate_blob_id" => invalidate_blob_id(c),
        "storage_units" => c.arity(1).and_then(|()| {
            let size: u64 = c.pure(0, PureType::U64)?;
            typed(PureType::U64, &system::storage_units(size))
        }),
        "epoch" => getter(c, PureType::U32, System::epoch),
        "n_shards" => getter(c, PureType::U16, System::n_shards),
        "used_capacity_size" => getter(c, PureType::U64, System::used_capacity_size),
        "total_capacity_size" => getter(c, PureType::U64, |s: &System| s.total_capacity_size),
        "storage_price_per_unit_size" => {
            getter(c, PureType::U64, |s: &System| s.storage_price_per_unit_size)
        }
        "write_price_per_unit_size" => {
            getter(c, PureType::U64, |s: &System| s.write_price_per_unit_size)
        }
        "rewards_pool" => getter(c, PureType::U64, |s: &System| s.rewards_pool),
        "max_epochs_ahead" => getter(c, PureType::U32, |s: &System| s.max_epochs_ahead),
        _ => return None,
    })
}

/// `reserve_space(&mut System, storage_amount: u64, epochs_ahead: u32, payment: &mut Coin<WAL>): Storage`
fn reserve_space(c: &mut Call<'_>) -> Results {
    c.arity(4)?;
    let mut system: System = c.borrow_mut(0)?;
    let amount: u64 = c.pure(1, PureType::U64)?;
    let epochs: u32 = c.pure(2, PureType::U32)?;
    let mut payment: WalCoin = c.borrow_mut(3)?;
    let storage = system
        .reserve_space(amount, epochs, &mut payment.0, c.ctx())
        .map_err(c.abort())?;
    c.put(0, system)?;
    c.put(3, payment)?;
    Ok(vec![object(storage)])
}

/// `register_blob(&mut System, Storage, blob_id: u256, root_hash: u256, size: u64,
/// encoding_type: u8, deletable: bool, write_payment: &mut Coin<WAL>): Blob`
fn register_blob(c: &mut Call<'_>) -> Results {
    c.arity(8)?;
    let mut system: System = c.borrow_mut(0)?;
    let storage: Storage = c.take(1)?;
    let blob_id: U256 = c.pure(2, PureType::U256)?;
    let root_hash: U256 = c.pure(3, PureType::U256)?;
    let size: u64 = c.pure(4, PureType::U64)?;
    let encoding_type: u8 = c.pure(5, PureType::U8)?;
    let deletable: bool = c.pure(6, PureType::Bool)?;
    let mut payment: WalCoin = c.borrow_mut(7)?;
    let blob = system
        .register_blob(
            storage,
            blob_id,
            root_hash,
            size,
            encoding_type,
            deletable,
            &mut payment.0,
            c.ctx(),
        )
        .map_err(c.abort())?;
    c.put(0, system)?;
    c.put(7, payment)?;
    Ok(vec![object(blob)])
}

/// `certify_blob(&System, &mut Blob, signature: vector<u8>, signers_bitmap: vector<u8>,
/// message: vector<u8>)`
fn certify_blob(c: &mut Call<'_>) -> Results {
    c.arity(5)?;
    let system: System = c.borrow(0)?;
    let mut blob: Blob = c.borrow_mut(1)?;
    let signature: Vec<u8> = c.pure(2, PureType::VecU8)?;
    let bitmap: Vec<u8> = c.pure(3, PureType::VecU8)?;
    let message: Vec<u8> = c.pure(4, PureType::VecU8)?;
    system
        .certify_blob(&mut blob, &signature, &bitmap, &message, c.ctx())
        .map_err(c.abort())?;
    c.put(0, system)?;
    c.put(1, blob)?;
    Ok(Vec::new())
}

/// `delete_blob(&System, Blob): Storage`
fn delete_blob(c: &mut Call<'_>) -> Results {
    c.arity(2)?;
    let system: System = c.borrow(0)?;
    let blob: Blob = c.take(1)?;
    let storage = system.delete_blob(blob, c.ctx()).map_err(c.abort())?;
    c.put(0, system)?;
    Ok(vec![object(storage)])
}

/// `extend_blob(&mut System, &mut Blob, extended_epochs: u32, payment: &mut Coin<WAL>)`
fn extend_blob(c: &mut Call<'_>) -> Results {
    c.arity(4)?;
    let mut system: System = c.borrow_mut(0)?;
    let mut blob: Blob = c.borrow_mut(1)?;
    let epochs: u32 = c.pure(2, PureType::U32)?;
    let mut payment: WalCoin = c.borrow_mut(3)?;
    system
        .extend_blob(&mut blob, epochs, &mut payment.0, c.ctx())
        .map_err(c.abort())?;
    c.put(0, system)?;
    c.put(1, blob)?;
    c.put(3, payment)?;
    Ok(Vec::new())
}

/// `extend_blob_with_resource(&System, &mut Blob, extension: Storage)`
fn extend_blob_with_resource(c: &mut Call<'_>) -> Results {
    c.arity(3)?;
    let system: System = c.borrow(0)?;
    let mut blob: Blob = c.borrow_mut(1)?;
    let extension: Storage = c.take(2)?;
    system
        .extend_blob_with_resource(&mut blob, extension, c.ctx())
        .map_err(c.abort())?;
    c.put(0, system)?;
    c.put(1, blob)?;
    Ok(Vec::new())
}

/// `burn_blob(&System, Blob)`
fn burn_blob(c: &mut Call<'_>) -> Results {
    c.arity(2)?;
    let system: System = c.borrow(0)?;
    let blob: Blob = c.take(1)?;
    system.burn_blob(blob).map_err(c.abort())?;
    c.put(0, system)?;
    Ok(Vec::new())
}

/// `invalidate_blob_id(&System, signature: vector<u8>, members_bitmap: vector<u8>,
/// message: vector<u8>): u256`
fn invalidate_blob_id(c: &mut Call<'_>) -> Results {
    c.arity(4)?;
    let system: System = c.borrow(0)?;
    let signature: Vec<u8> = c.pure(1, PureType::VecU8)?;
    let bitmap: Vec<u8> = c.pure(2, PureType::VecU8)?;
    let message: Vec<u8> = c.pure(3, PureType::VecU8)?;
    let blob_id = system
        .invalidate_blob_id(&signature, &bitmap, &message, c.ctx())
        .map_err(c.abort())?;
    c.put(0, system)?;
    typed(PureType::U256, &blob_id)
}

fn staking_call(c: &mut Call<'_>, function: &str) -> Option<Results> {
    Some(match function {
        "register_candidate" => register_candidate(c),
        "set_votes" => set_votes(c),
        "stake_with_pool" => stake_with_pool(c),
        "request_withdraw_stake" => request_withdraw_stake(c),
        "withdraw_stake" => withdraw_stake(c),
        "set_commission_rate" => set_commission_rate(c),
        "set_name" => set_info(c, "set_name"),
        "set_network_address" => set_info(c, "set_network_address"),
        "set_next_public_key" => set_next_public_key(c),
        "collect_commission" => collect_commission(c),
        "staked_wal_value" => staked_wal_value(c),
        "voting_end" => voting_end(c),
        "initiate_epoch_change" => initiate_epoch_change(c),
        "epoch_sync_done" => epoch_sync_done(c),
        "n_shards" => getter(c, PureType::U16, |s: &Staking| s.n_shards),
        "epoch_duration_ms" => getter(c, PureType::U64, |s: &Staking| s.epoch_duration_ms),
        "epoch" => getter(c, PureType::U32, |s: &Staking| s.epoch),
        "epoch_start_ms" => getter(c, PureType::U64, |s: &Staking| s.epoch_start_ms),
        "sync_done_weight" => getter(c, PureType::U16, |s: &Staking| s.sync_done_weight),
        "epoch_state" => getter(c, PureType::U8, |s: &Staking| s.epoch_state),
        "staked_wal_node_id" => getter(c, PureType::Id, |s: &StakedWal| s.node_id),
        "principal" => getter(c, PureType::U64, |s: &StakedWal| s.principal),
        "activation_epoch" => getter(c, PureType::U32, |s: &StakedWal| s.activation_epoch),
        "node_id" => getter(c, PureType::Id, |cap: &StorageNodeCap| cap.node_id),
        "last_epoch_sync_done" => getter(c, PureType::U32, |cap: &StorageNodeCap| {
            cap.last_epoch_sync_done
        }),
        _ => return None,
    })
}

/// `register_candidate(&mut Staking, name: String, network_address: String,
/// public_key: vector<u8>, network_public_key: vector<u8>, proof_of_possession: vector<u8>,
/// commission_rate: u16, storage_price: u64, write_price: u64, node_capacity: u64): StorageNodeCap`
fn register_candidate(c: &mut Call<'_>) -> Results {
    c.arity(10)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let name: String = c.pure(1, PureType::String)?;
    let network_address: String = c.pure(2, PureType::String)?;
    let public_key: Vec<u8> = c.pure(3, PureType::VecU8)?;
    let network_public_key: Vec<u8> = c.pure(4, PureType::VecU8)?;
    let proof_of_possession: Vec<u8> = c.pure(5, PureType::VecU8)?;
    let commission_rate: u16 = c.pure(6, PureType::U16)?;
    let storage_price: u64 = c.pure(7, PureType::U64)?;
    let write_price: u64 = c.pure(8, PureType::U64)?;
    let node_capacity: u64 = c.pure(9, PureType::U64)?;
    let cap = staking
        .register_candidate(
            name,
            network_address,
            public_key,
            network_public_key,
            proof_of_possession,
            commission_rate,
            storage_price,
            write_price,
            node_capacity,
            c.ctx(),
        )
        .map_err(c.abort())?;
    c.put(0, staking)?;
    Ok(vec![object(cap)])
}

/// `set_votes(&mut Staking, &StorageNodeCap, storage_price: u64, write_price: u64,
/// node_capacity: u64)`
fn set_votes(c: &mut Call<'_>) -> Results {
    c.arity(5)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let cap: StorageNodeCap = c.borrow(1)?;
    let storage_price: u64 = c.pure(2, PureType::U64)?;
    let write_price: u64 = c.pure(3, PureType::U64)?;
    let node_capacity: u64 = c.pure(4, PureType::U64)?;
    staking
        .set_votes(&cap, storage_price, write_price, node_capacity)
        .map_err(c.abort())?;
    c.put(0, staking)?;
    c.put(1, cap)?;
    Ok(Vec::new())
}

/// `stake_with_pool(&mut Staking, to_stake: Coin<WAL>, node_id: ID): StakedWal`
fn stake_with_pool(c: &mut Call<'_>) -> Results {
    c.arity(3)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let coin: WalCoin = c.take(1)?;
    let node_id: ObjectId = c.pure(2, PureType::Id)?;
    let staked = staking
        .stake_with_pool(coin.0, node_id, c.ctx())
        .map_err(c.abort())?;
    c.put(0, staking)?;
    Ok(vec![object(staked)])
}

/// `request_withdraw_stake(&mut Staking, &mut StakedWal)`
fn request_withdraw_stake(c: &mut Call<'_>) -> Results {
    c.arity(2)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let mut staked: StakedWal = c.borrow_mut(1)?;
    staking
        .request_withdraw_stake(&mut staked)
        .map_err(c.abort())?;
    c.put(0, staking)?;
    c.put(1, staked)?;
    Ok(Vec::new())
}

/// `withdraw_stake(&mut Staking, StakedWal): Coin<WAL>`
fn withdraw_stake(c: &mut Call<'_>) -> Results {
    c.arity(2)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let staked: StakedWal = c.take(1)?;
    let coin = staking.withdraw_stake(staked, c.ctx()).map_err(c.abort())?;
    c.put(0, staking)?;
    Ok(vec![Value::Object(ObjectValue::WalCoin(coin))])
}

/// `set_commission_rate(&mut Staking, &StorageNodeCap, rate: u16)`
fn set_commission_rate(c: &mut Call<'_>) -> Results {
    c.arity(3)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let cap: StorageNodeCap = c.borrow(1)?;
    let rate: u16 = c.pure(2, PureType::U16)?;
    staking.set_commission_rate(&cap, rate).map_err(c.abort())?;
    c.put(0, staking)?;
    c.put(1, cap)?;
    Ok(Vec::new())
}

/// `set_name(&mut Staking, &StorageNodeCap, name: String)` and
/// `set_network_address(&mut Staking, &StorageNodeCap, network_address: String)`
fn set_info(c: &mut Call<'_>, function: &str) -> Results {
    c.arity(3)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let cap: StorageNodeCap = c.borrow(1)?;
    let value: String = c.pure(2, PureType::String)?;
    if function == "set_name" {
        staking.set_name(&cap, value)
    } else {
        staking.set_network_address(&cap, value)
    }
    .map_err(c.abort())?;
    c.put(0, staking)?;
    c.put(1, cap)?;
    Ok(Vec::new())
}

/// `set_next_public_key(&mut Staking, &StorageNodeCap, public_key: vector<u8>,
/// proof_of_possession: vector<u8>)`
fn set_next_public_key(c: &mut Call<'_>) -> Results {
    c.arity(4)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let cap: StorageNodeCap = c.borrow(1)?;
    let public_key: Vec<u8> = c.pure(2, PureType::VecU8)?;
    let proof_of_possession: Vec<u8> = c.pure(3, PureType::VecU8)?;
    staking
        .set_next_public_key(&cap, public_key, proof_of_possession, c.ctx())
        .map_err(c.abort())?;
    c.put(0, staking)?;
    c.put(1, cap)?;
    Ok(Vec::new())
}

/// `collect_commission(&mut Staking, &StorageNodeCap): Coin<WAL>`
fn collect_commission(c: &mut Call<'_>) -> Results {
    c.arity(2)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let cap: StorageNodeCap = c.borrow(1)?;
    let coin = staking
        .collect_commission(&cap, c.ctx())
        .map_err(c.abort())?;
    c.put(0, staking)?;
    c.put(1, cap)?;
    Ok(vec![Value::Object(ObjectValue::WalCoin(coin))])
}

/// `staked_wal_value(&Staking, &StakedWal): u64`
fn staked_wal_value(c: &mut Call<'_>) -> Results {
    c.arity(2)?;
    let staking: Staking = c.borrow(0)?;
    let staked: StakedWal = c.borrow(1)?;
    let value = staking.staked_wal_value(&staked);
    c.put(0, staking)?;
    c.put(1, staked)?;
    typed(PureType::U64, &value)
}

/// `voting_end(&mut Staking, &Clock)`
fn voting_end(c: &mut Call<'_>) -> Results {
    c.arity(2)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let clock: ClockObject = c.borrow(1)?;
    staking
        .voting_end(&clock.clock(), c.ctx())
        .map_err(c.abort())?;
    c.put(0, staking)?;
    c.put(1, clock)?;
    Ok(Vec::new())
}

/// `initiate_epoch_change(&mut Staking, &mut System, &Clock)`
fn initiate_epoch_change(c: &mut Call<'_>) -> Results {
    c.arity(3)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let mut system: System = c.borrow_mut(1)?;
    let clock: ClockObject = c.borrow(2)?;
    staking
        .initiate_epoch_change(&mut system, &clock.clock(), c.ctx())
        .map_err(c.abort())?;
    c.put(0, staking)?;
    c.put(1, system)?;
    c.put(2, clock)?;
    Ok(Vec::new())
}

/// `epoch_sync_done(&mut Staking, &mut StorageNodeCap, epoch: u32)`
fn epoch_sync_done(c: &mut Call<'_>) -> Results {
    c.arity(3)?;
    let mut staking: Staking = c.borrow_mut(0)?;
    let mut cap: StorageNodeCap = c.borrow_mut(1)?;
    let epoch: u32 = c.pure(2, PureType::U32)?;
    staking
        .epoch_sync_done(&mut cap, epoch, c.ctx())
        .map_err(c.abort())?;
    c.put(0, staking)?;
    c.put(1, cap)?;
    Ok(Vec::new())
}

fn storage_call(c: &mut Call<'_>, function: &str) -> Option<Results> {
    Some(match function {
        "split_by_epoch" => split_storage(c, PureType::U32),
        "split_by_size" => split_storage(c, PureType::U64),
        "fuse_periods" => fuse_storage(c, Storage::fuse_periods),
        "fuse_amount" => fuse_storage(c, Storage::fuse_amount),
        "fuse" => fuse_storage(c, Storage::fuse),
        "destroy" => c.arity(1).and_then(|()| {
            let _destroyed: Storage = c.take(0)?;
            Ok(Vec::new())
        }),
        "start_epoch" => getter(c, PureType::U32, |s: &Storage| s.start_epoch),
        "end_epoch" => getter(c, PureType::U32, |s: &Storage| s.end_epoch),
        "storage_size" => getter(c, PureType::U64, |s: &Storage| s.storage_size),
        _ => return None,
    })
}

/// `split_by_epoch(&mut Storage, u32): Storage` / `split_by_size(&mut Storage, u64): Storage`
fn split_storage(c: &mut Call<'_>, ty: PureType) -> Results {
    c.arity(2)?;
    let mut storage: Storage = c.borrow_mut(0)?;
    let split = if ty == PureType::U32 {
        let epoch: u32 = c.pure(1, ty)?;
        storage.split_by_epoch(epoch, c.ctx())
    } else {
        let size: u64 = c.pure(1, ty)?;
        storage.split_by_size(size, c.ctx())
    }
    .map_err(c.abort())?;
    c.put(0, storage)?;
    Ok(vec![object(split)])
}

/// `fuse*(&mut Storage, Storage)`
fn fuse_storage(c: &mut Call<'_>, fuse: fn(&mut Storage, Storage) -> Result<(), Abort>) -> Results {
    c.arity(2)?;
    let mut storage: Storage = c.borrow_mut(0)?;
    let other: Storage = c.take(1)?;
    fuse(&mut storage, other).map_err(c.abort())?;
    c.put(0, storage)?;
    Ok(Vec::new())
}

fn blob_call(c: &mut Call<'_>, function: &str) -> Option<Results> {
    Some(match function {
        "derive_blob_id" => c.arity(3).and_then(|()| {
            let root_hash: U256 = c.pure(0, PureType::U256)?;
            let encoding_type: u8 = c.pure(1, PureType::U8)?;
            let size: u64 = c.pure(2, PureType::U64)?;
            let blob_id =
                blob::derive_blob_id(root_hash, encoding_type, size).map_err(c.abort())?;
            typed(PureType::U256, &blob_id)
        }),
        "add_or_replace_attribute" => c.arity(3).and_then(|()| {
            let mut blob: Blob = c.borrow_mut(0)?;
            let key: String = c.pure(1, PureType::String)?;
            let value: String = c.pure(2, PureType::String)?;
            blob.add_or_replace_attribute(key, value);
            c.put(0, blob)?;
            Ok(Vec::new())
        }),
        "remove_attribute" => c.arity(2).and_then(|()| {
            let mut blob: Blob = c.borrow_mut(0)?;
            let key: String = c.pure(1, PureType::String)?;
            blob.remove_attribute(&key).map_err(c.abort())?;
            c.put(0, blob)?;
            Ok(Vec::new())
        }),
        "object_id" => getter(c, PureType::Id, |b: &Blob| b.id),
        "blob_id" => getter(c, PureType::U256, |b: &Blob| b.blob_id),
        "registered_epoch" => getter(c, PureType::U32, |b: &Blob| b.registered_epoch),
        "size" => getter(c, PureType::U64, |b: &Blob| b.size),
        "encoding_type" => getter(c, PureType::U8, |b: &Blob| b.encoding_type),
        "end_epoch" => getter(c, PureType::U32, Blob::end_epoch),
        "is_certified" => getter(c, PureType::Bool, Blob::is_certified),
        "deletable" => getter(c, PureType::Bool, |b: &Blob| b.deletable),
        _ => return None,
    })
}
