//! The in-memory object store: Sui objects (`sui_sdk_types::Object`) by ID, each with its
//! version, owner, Move type, BCS contents (the twin struct) and previous transaction. The
//! object digest is Sui's (`Object::digest`: Blake2b-256 of `"Object::"` and the object's BCS).

use std::collections::BTreeMap;

use sui_sdk_types::{
    Address, Digest, MoveStruct, Object, ObjectData, ObjectReference, Owner, Version,
};

use crate::types::{object_id, ObjectType, ObjectValue};

/// Why an object could not be read as a twin value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No object with this ID.
    #[error("object {0} does not exist")]
    NotFound(Address),
    /// The object is a package or of a type the localnet does not know.
    #[error("object {0} is not of a known Move struct type")]
    UnknownType(Address),
    /// The contents do not decode as the object's type.
    #[error("object {id} does not decode as {ty}: {reason}")]
    Malformed {
        /// The object.
        id: Address,
        /// Its type.
        ty: ObjectType,
        /// The BCS error.
        reason: String,
    },
    /// The object's contents are shorter than an object ID.
    #[error("object contents must start with the 32-byte object ID")]
    NoObjectId,
}

/// Builds the Sui object holding `value`.
pub fn move_object(
    value: &ObjectValue,
    version: Version,
    owner: Owner,
    previous_transaction: Digest,
) -> Result<Object, crate::ExecutionError> {
    let ty = value.object_type();
    let data = MoveStruct::new(
        ty.struct_tag(),
        ty.has_public_transfer(),
        version,
        value.to_bcs()?,
    )
    .ok_or_else(|| crate::ExecutionError::Internal(StoreError::NoObjectId.to_string()))?;
    Ok(Object::new(
        ObjectData::Struct(data),
        owner,
        previous_transaction,
        0,
    ))
}

/// All objects of the localnet, by ID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectStore {
    objects: BTreeMap<Address, Object>,
}

impl ObjectStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The object with this ID.
    pub fn get(&self, id: &Address) -> Option<&Object> {
        self.objects.get(id)
    }

    /// The current reference (ID, version, digest) of the object.
    pub fn object_ref(&self, id: &Address) -> Option<ObjectReference> {
        self.get(id)
            .map(|object| ObjectReference::new(*id, object.version(), object.digest()))
    }

    /// Inserts or replaces an object (the ID comes from its contents).
    pub fn insert(&mut self, object: Object) {
        self.objects.insert(object.object_id(), object);
    }

    /// Removes an object.
    pub fn remove(&mut self, id: &Address) -> Option<Object> {
        self.objects.remove(id)
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// All objects, by ID.
    pub fn iter(&self) -> impl Iterator<Item = &Object> {
        self.objects.values()
    }

    /// The objects owned by `owner` (address-owned), by ID.
    pub fn owned_by(&self, owner: Address) -> impl Iterator<Item = &Object> {
        self.objects
            .values()
            .filter(move |object| *object.owner() == Owner::Address(owner))
    }

    /// The objects of type `ty` owned by `owner`, by ID.
    pub fn owned_of_type(&self, owner: Address, ty: ObjectType) -> Vec<&Object> {
        self.owned_by(owner)
            .filter(|object| object_type(object) == Some(ty))
            .collect()
    }

    /// The twin value of the object.
    pub fn value(&self, id: &Address) -> Result<ObjectValue, StoreError> {
        let object = self.get(id).ok_or(StoreError::NotFound(*id))?;
        decode_object(object)
    }

    /// The value of a `Coin<SUI>` or `Coin<WAL>`.
    pub fn coin_balance(&self, id: &Address) -> Result<u64, StoreError> {
        match self.value(id)? {
            ObjectValue::SuiCoin(coin) | ObjectValue::WalCoin(coin) => Ok(coin.balance),
            _ => Err(StoreError::UnknownType(*id)),
        }
    }

    /// Checks that every object's ID is the one its contents name (for tests and debugging).
    pub fn check_ids(&self) -> bool {
        self.objects
            .iter()
            .all(|(id, object)| object.object_id() == *id)
    }
}

/// The known type of a stored object (`None` for packages and unknown types).
pub fn object_type(object: &Object) -> Option<ObjectType> {
    object
        .as_struct()
        .and_then(|data| ObjectType::from_struct_tag(data.object_type()))
}

/// Decodes a stored object into its twin value.
pub fn decode_object(object: &Object) -> Result<ObjectValue, StoreError> {
    let id = object.object_id();
    let data = object.as_struct().ok_or(StoreError::UnknownType(id))?;
    let ty = ObjectType::from_struct_tag(data.object_type()).ok_or(StoreError::UnknownType(id))?;
    let value =
        ObjectValue::decode(ty, data.contents()).map_err(|error| StoreError::Malformed {
            id,
            ty,
            reason: error.to_string(),
        })?;
    if value.id() != object_id(id) {
        return Err(StoreError::NoObjectId);
    }
    Ok(value)
}
