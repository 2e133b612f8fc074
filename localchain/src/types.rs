//! The Move types the localnet knows: the object types of the Sui framework and the Walrus
//! packages it stores (with their twin structs), and the pure types of function parameters.

use std::fmt;

use serde::{Deserialize, Serialize};
use sui_sdk_types::{Identifier, StructTag, TypeTag};
use walrus_chain::contract::{
    blob::Blob,
    staking::{StakedWal, Staking, StorageNodeCap},
    storage_resource::Storage,
    sui::{Clock, Coin},
    system::System,
};
use walrus_core::ObjectId;

use crate::{ExecutionError, SUI_FRAMEWORK_ID, WALRUS_PACKAGE_ID, WAL_PACKAGE_ID};

/// Module of `StakedWal` in the `walrus` package (`contracts/walrus/sources/staking.move`;
/// Walrus itself has a `staked_wal` module).
pub const STAKED_WAL_MODULE: &str = "staking";
/// Module of `StorageNodeCap` in the `walrus` package (`staking.move`; Walrus itself has a
/// `storage_node` module).
pub const STORAGE_NODE_MODULE: &str = "staking";

/// A Move object type the localnet stores and the executor can pass to the twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ObjectType {
    /// `0x2::coin::Coin<0x2::sui::SUI>` (gas coins).
    SuiCoin,
    /// `0x2::coin::Coin<{wal}::wal::WAL>`.
    WalCoin,
    /// `0x2::clock::Clock`.
    Clock,
    /// `{walrus}::system::System`.
    System,
    /// `{walrus}::staking::Staking`.
    Staking,
    /// `{walrus}::storage_resource::Storage`.
    Storage,
    /// `{walrus}::blob::Blob`.
    Blob,
    /// `{walrus}::staking::StakedWal`.
    StakedWal,
    /// `{walrus}::staking::StorageNodeCap`.
    StorageNodeCap,
}

const ALL_OBJECT_TYPES: [ObjectType; 9] = [
    ObjectType::SuiCoin,
    ObjectType::WalCoin,
    ObjectType::Clock,
    ObjectType::System,
    ObjectType::Staking,
    ObjectType::Storage,
    ObjectType::Blob,
    ObjectType::StakedWal,
    ObjectType::StorageNodeCap,
];

fn struct_tag(
    address: sui_sdk_types::Address,
    module: &'static str,
    name: &'static str,
    params: Vec<TypeTag>,
) -> StructTag {
    StructTag::new(
        address,
        Identifier::from_static(module),
        Identifier::from_static(name),
        params,
    )
}

impl ObjectType {
    /// The Sui struct tag of the type.
    pub fn struct_tag(self) -> StructTag {
        match self {
            ObjectType::SuiCoin => StructTag::gas_coin(),
            ObjectType::WalCoin => StructTag::coin(TypeTag::Struct(Box::new(struct_tag(
                WAL_PACKAGE_ID,
                "wal",
                "WAL",
                Vec::new(),
            )))),
            ObjectType::Clock => struct_tag(SUI_FRAMEWORK_ID, "clock", "Clock", Vec::new()),
            ObjectType::System => struct_tag(WALRUS_PACKAGE_ID, "system", "System", Vec::new()),
            ObjectType::Staking => struct_tag(WALRUS_PACKAGE_ID, "staking", "Staking", Vec::new()),
            ObjectType::Storage => {
                struct_tag(WALRUS_PACKAGE_ID, "storage_resource", "Storage", Vec::new())
            }
            ObjectType::Blob => struct_tag(WALRUS_PACKAGE_ID, "blob", "Blob", Vec::new()),
            ObjectType::StakedWal => struct_tag(
                WALRUS_PACKAGE_ID,
                STAKED_WAL_MODULE,
                "StakedWal",
                Vec::new(),
            ),
            ObjectType::StorageNodeCap => struct_tag(
                WALRUS_PACKAGE_ID,
                STORAGE_NODE_MODULE,
                "StorageNodeCap",
                Vec::new(),
            ),
        }
    }

    /// The known type with this struct tag.
    pub fn from_struct_tag(tag: &StructTag) -> Option<Self> {
        ALL_OBJECT_TYPES
            .into_iter()
            .find(|ty| ty.struct_tag() == *tag)
    }

    /// Whether the type has `store` (`has_public_transfer` in Sui's object data): everything
    /// but the key-only shared objects.
    pub fn has_public_transfer(self) -> bool {
        !matches!(
            self,
            ObjectType::Clock | ObjectType::System | ObjectType::Staking
        )
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ObjectType::SuiCoin => "0x2::coin::Coin<0x2::sui::SUI>",
            ObjectType::WalCoin => "0x2::coin::Coin<wal::wal::WAL>",
            ObjectType::Clock => "0x2::clock::Clock",
            ObjectType::System => "walrus::system::System",
            ObjectType::Staking => "walrus::staking::Staking",
            ObjectType::Storage => "walrus::storage_resource::Storage",
            ObjectType::Blob => "walrus::blob::Blob",
            ObjectType::StakedWal => "walrus::staking::StakedWal",
            ObjectType::StorageNodeCap => "walrus::staking::StorageNodeCap",
        };
        f.write_str(name)
    }
}

/// The type of a non-object Move value (a pure argument or a plain return value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PureType {
    /// `bool`.
    Bool,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `u256`.
    U256,
    /// `address`.
    Address,
    /// `0x2::object::ID`.
    Id,
    /// `vector<u8>`.
    VecU8,
    /// `0x1::string::String`.
    String,
}

impl fmt::Display for PureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            PureType::Bool => "bool",
            PureType::U8 => "u8",
            PureType::U16 => "u16",
            PureType::U32 => "u32",
            PureType::U64 => "u64",
            PureType::U256 => "u256",
            PureType::Address => "address",
            PureType::Id => "0x2::object::ID",
            PureType::VecU8 => "vector<u8>",
            PureType::String => "0x1::string::String",
        };
        f.write_str(name)
    }
}

/// `0x2::clock::Clock` as stored: `{ id: UID, timestamp_ms: u64 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockObject {
    /// Always `0x6`.
    pub id: ObjectId,
    /// The consensus timestamp.
    pub timestamp_ms: u64,
}

impl ClockObject {
    /// The twin's view of the clock.
    pub fn clock(&self) -> Clock {
        Clock {
            timestamp_ms: self.timestamp_ms,
        }
    }
}

/// A Move object held by the executor: its twin struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectValue {
    /// `Coin<SUI>`.
    SuiCoin(Coin),
    /// `Coin<WAL>`.
    WalCoin(Coin),
    /// The clock.
    Clock(ClockObject),
    /// `System`.
    System(Box<System>),
    /// `Staking`.
    Staking(Box<Staking>),
    /// `Storage`.
    Storage(Storage),
    /// `Blob`.
    Blob(Box<Blob>),
    /// `StakedWal`.
    StakedWal(StakedWal),
    /// `StorageNodeCap`.
    StorageNodeCap(StorageNodeCap),
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, bcs::Error> {
    bcs::from_bytes(bytes)
}

impl ObjectValue {
    /// Decodes an object's BCS contents as `ty`.
    pub fn decode(ty: ObjectType, contents: &[u8]) -> Result<Self, bcs::Error> {
        Ok(match ty {
            ObjectType::SuiCoin => ObjectValue::SuiCoin(decode(contents)?),
            ObjectType::WalCoin => ObjectValue::WalCoin(decode(contents)?),
            ObjectType::Clock => ObjectValue::Clock(decode(contents)?),
            ObjectType::System => ObjectValue::System(Box::new(decode(contents)?)),
            ObjectType::Staking => ObjectValue::Staking(Box::new(decode(contents)?)),
            ObjectType::Storage => ObjectValue::Storage(decode(contents)?),
            ObjectType::Blob => ObjectValue::Blob(Box::new(decode(contents)?)),
            ObjectType::StakedWal => ObjectValue::StakedWal(decode(contents)?),
            ObjectType::StorageNodeCap => ObjectValue::StorageNodeCap(decode(contents)?),
        })
    }

    /// The BCS contents of the object.
    pub fn to_bcs(&self) -> Result<Vec<u8>, ExecutionError> {
        let bytes = match self {
            ObjectValue::SuiCoin(coin) | ObjectValue::WalCoin(coin) => bcs::to_bytes(coin),
            ObjectValue::Clock(clock) => bcs::to_bytes(clock),
            ObjectValue::System(system) => bcs::to_bytes(system),
            ObjectValue::Staking(staking) => bcs::to_bytes(staking),
            ObjectValue::Storage(storage) => bcs::to_bytes(storage),
            ObjectValue::Blob(blob) => bcs::to_bytes(blob),
            ObjectValue::StakedWal(staked) => bcs::to_bytes(staked),
            ObjectValue::StorageNodeCap(cap) => bcs::to_bytes(cap),
        };
        bytes.map_err(|error| ExecutionError::Internal(format!("BCS encoding failed: {error}")))
    }

    /// The object's type.
    pub fn object_type(&self) -> ObjectType {
        match self {
            ObjectValue::SuiCoin(_) => ObjectType::SuiCoin,
            ObjectValue::WalCoin(_) => ObjectType::WalCoin,
            ObjectValue::Clock(_) => ObjectType::Clock,
            ObjectValue::System(_) => ObjectType::System,
            ObjectValue::Staking(_) => ObjectType::Staking,
            ObjectValue::Storage(_) => ObjectType::Storage,
            ObjectValue::Blob(_) => ObjectType::Blob,
            ObjectValue::StakedWal(_) => ObjectType::StakedWal,
            ObjectValue::StorageNodeCap(_) => ObjectType::StorageNodeCap,
        }
    }

    /// The object's ID.
    pub fn id(&self) -> ObjectId {
        match self {
            ObjectValue::SuiCoin(coin) | ObjectValue::WalCoin(coin) => coin.id,
            ObjectValue::Clock(clock) => clock.id,
            ObjectValue::System(system) => system.id,
            ObjectValue::Staking(staking) => staking.id,
            ObjectValue::Storage(storage) => storage.id,
            ObjectValue::Blob(blob) => blob.id,
            ObjectValue::StakedWal(staked) => staked.id,
            ObjectValue::StorageNodeCap(cap) => cap.id,
        }
    }

    /// IDs of the objects wrapped inside this one (a blob's storage).
    pub fn wrapped_ids(&self) -> Vec<ObjectId> {
        match self {
            ObjectValue::Blob(blob) => vec![blob.storage.id],
            _ => Vec::new(),
        }
    }

    /// The coin inside, if this is a coin.
    pub fn coin_mut(&mut self) -> Option<&mut Coin> {
        match self {
            ObjectValue::SuiCoin(coin) | ObjectValue::WalCoin(coin) => Some(coin),
            _ => None,
        }
    }

    /// A coin of the same coin type as `self` (`None` if `self` is not a coin).
    pub fn same_coin_type(&self, coin: Coin) -> Option<ObjectValue> {
        match self {
            ObjectValue::SuiCoin(_) => Some(ObjectValue::SuiCoin(coin)),
            ObjectValue::WalCoin(_) => Some(ObjectValue::WalCoin(coin)),
            _ => None,
        }
    }
}

/// A twin struct that is a Move object, convertible to and from [`ObjectValue`].
pub(crate) trait TwinObject: Sized {
    /// Its Move type.
    const TYPE: ObjectType;
    /// The twin value, if `value` has this type; otherwise `value` back.
    fn from_value(value: ObjectValue) -> Result<Self, ObjectValue>;
    /// The value.
    fn into_value(self) -> ObjectValue;
}

/// `Coin<WAL>` as a distinct Rust type (the twin's `Coin` erases the type parameter).
#[derive(Debug)]
pub(crate) struct WalCoin(pub Coin);

macro_rules! twin_object {
    ($rust:ty, $variant:ident, wrap: $wrap:expr, unwrap: $unwrap:expr) => {
        impl TwinObject for $rust {
            const TYPE: ObjectType = ObjectType::$variant;
            fn from_value(value: ObjectValue) -> Result<Self, ObjectValue> {
                match value {
                    ObjectValue::$variant(inner) => Ok($unwrap(inner)),
                    other => Err(other),
                }
            }
            fn into_value(self) -> ObjectValue {
                ObjectValue::$variant($wrap(self))
            }
        }
    };
}

twin_object!(WalCoin, WalCoin, wrap: |c: WalCoin| c.0, unwrap: WalCoin);
twin_object!(ClockObject, Clock, wrap: |c| c, unwrap: |c| c);
twin_object!(System, System, wrap: Box::new, unwrap: |b: Box<System>| *b);
twin_object!(Staking, Staking, wrap: Box::new, unwrap: |b: Box<Staking>| *b);
twin_object!(Storage, Storage, wrap: |s| s, unwrap: |s| s);
twin_object!(Blob, Blob, wrap: Box::new, unwrap: |b: Box<Blob>| *b);
twin_object!(StakedWal, StakedWal, wrap: |s| s, unwrap: |s| s);
twin_object!(StorageNodeCap, StorageNodeCap, wrap: |c| c, unwrap: |c| c);

/// A value held in a programmable transaction's slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A Move object.
    Object(ObjectValue),
    /// Untyped BCS bytes of a pure input (typed at each use).
    Pure(Vec<u8>),
    /// A plain (copy, drop) value returned by a call, with its type.
    Typed(PureType, Vec<u8>),
}

impl Value {
    /// The Move type of the value, for error messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::Object(object) => object.object_type().to_string(),
            Value::Pure(_) => "pure bytes".to_string(),
            Value::Typed(ty, _) => ty.to_string(),
        }
    }
}

/// The `sui_sdk_types::Address` of an object ID.
pub fn address(id: ObjectId) -> sui_sdk_types::Address {
    sui_sdk_types::Address::new(id.0)
}

/// The `ObjectId` of an address.
pub fn object_id(address: sui_sdk_types::Address) -> ObjectId {
    ObjectId(address.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_tags_round_trip() {
        for ty in ALL_OBJECT_TYPES {
            assert_eq!(ObjectType::from_struct_tag(&ty.struct_tag()), Some(ty));
        }
        assert_eq!(
            ObjectType::WalCoin.struct_tag().to_string(),
            format!("{SUI_FRAMEWORK_ID}::coin::Coin<{WAL_PACKAGE_ID}::wal::WAL>")
        );
    }
}
