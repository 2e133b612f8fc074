//! Transaction effects: what a transaction changed, in the localnet's own summary and as Sui's
//! `TransactionEffectsV2` (whose digest is the effects digest).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sui_sdk_types::{
    Address, ChangedObject, Digest, Event, ExecutionStatus, GasCostSummary, IdOperation, Object,
    ObjectIn, ObjectOut, ObjectReference, Owner, TransactionEffects, TransactionEffectsV2,
    TransactionEvents, UnchangedConsensusKind, UnchangedConsensusObject, Version,
};

use crate::{store::object_type, types::ObjectType, ExecutionError, SUI_EPOCH};

/// Sui's digest for a deleted object in an object reference.
pub const OBJECT_DIGEST_DELETED: Digest = Digest::new([99; 32]);
/// Sui's digest for a wrapped object in an object reference.
pub const OBJECT_DIGEST_WRAPPED: Digest = Digest::new([88; 32]);

/// An object a transaction wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectChange {
    /// The new reference (the transaction's Lamport version, the new digest).
    pub reference: ObjectReference,
    /// The new owner.
    pub owner: Owner,
    /// The object's type.
    pub object_type: ObjectType,
}

impl ObjectChange {
    /// The object's ID.
    pub fn id(&self) -> Address {
        *self.reference.object_id()
    }
}

/// What a successful transaction did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effects {
    /// The transaction digest.
    pub transaction_digest: Digest,
    /// The version of every object the transaction wrote (1 + the largest input version).
    pub lamport_version: Version,
    /// New objects.
    pub created: Vec<ObjectChange>,
    /// Input objects written back (every owned and mutable shared input, and the gas coin).
    pub mutated: Vec<ObjectChange>,
    /// Objects taken out of another object (e.g. the storage of a deleted blob).
    pub unwrapped: Vec<ObjectChange>,
    /// Input objects destroyed (their reference has the deletion digest).
    pub deleted: Vec<ObjectReference>,
    /// Input objects now inside another object (e.g. a storage registered as a blob).
    pub wrapped: Vec<ObjectReference>,
    /// Objects taken out of an input object and destroyed in the same transaction.
    pub unwrapped_then_deleted: Vec<ObjectReference>,
    /// The gas coin after the charge.
    pub gas_object: ObjectChange,
    /// The gas charged.
    pub gas_used: GasCostSummary,
    /// The events, in emission order.
    pub events: Vec<Event>,
    /// Sui's effects.
    pub effects: TransactionEffects,
}

impl Effects {
    /// The effects digest (Sui's, of [`Self::effects`]).
    pub fn digest(&self) -> Digest {
        self.effects.digest()
    }

    /// The created objects of type `ty`.
    pub fn created_of_type(&self, ty: ObjectType) -> Vec<&ObjectChange> {
        self.created
            .iter()
            .chain(&self.unwrapped)
            .filter(|change| change.object_type == ty)
            .collect()
    }

    /// The events whose Move struct is named `name` (e.g. `BlobRegistered`).
    pub fn events_named(&self, name: &str) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|event| event.type_.name().as_str() == name)
            .collect()
    }
}

/// How an object changed.
pub(crate) enum Change {
    /// New object.
    Created(Object),
    /// Input object written back.
    Mutated(Object),
    /// Previously wrapped object now top-level.
    Unwrapped(Object),
    /// Input object destroyed.
    Deleted,
    /// Input object now wrapped.
    Wrapped,
    /// Previously wrapped object destroyed.
    UnwrappedThenDeleted,
}

/// Everything the effects are built from.
pub(crate) struct EffectsInput {
    pub digest: Digest,
    pub lamport_version: Version,
    /// Pre-state of every input object and gas coin.
    pub before: BTreeMap<Address, Object>,
    pub changes: BTreeMap<Address, Change>,
    /// Shared objects read but not written.
    pub read_only_shared: Vec<ObjectReference>,
    pub gas_id: Address,
    pub gas_used: GasCostSummary,
    pub events: Vec<Event>,
    pub dependencies: BTreeSet<Digest>,
}

fn change_of(object: &Object) -> Result<ObjectChange, ExecutionError> {
    Ok(ObjectChange {
        reference: ObjectReference::new(object.object_id(), object.version(), object.digest()),
        owner: *object.owner(),
        object_type: object_type(object)
            .ok_or_else(|| ExecutionError::Internal("written object of unknown type".into()))?,
    })
}

/// Builds the effects.
pub(crate) fn build(input: EffectsInput) -> Result<Effects, ExecutionError> {
    let lamport = input.lamport_version;
    let mut created = Vec::new();
    let mut mutated = Vec::new();
    let mut unwrapped = Vec::new();
    let mut deleted = Vec::new();
    let mut wrapped = Vec::new();
    let mut unwrapped_then_deleted = Vec::new();
    let mut changed_objects = Vec::new();
    let mut gas_object = None;
    let mut gas_object_index = None;
    for (id, change) in &input.changes {
        let input_state = match input.before.get(id) {
            Some(before) => ObjectIn::Exist {
                version: before.version(),
                digest: before.digest(),
                owner: *before.owner(),
            },
            None => ObjectIn::NotExist,
        };
        let (output_state, id_operation) = match change {
            Change::Created(object) | Change::Mutated(object) | Change::Unwrapped(object) => {
                let summary = change_of(object)?;
                if *id == input.gas_id {
                    gas_object = Some(summary.clone());
                    gas_object_index =
                        Some(u32::try_from(changed_objects.len()).map_err(|_| {
                            ExecutionError::Internal("too many changed objects".into())
                        })?);
                }
                let output = ObjectOut::ObjectWrite {
                    digest: object.digest(),
                    owner: *object.owner(),
                };
                match change {
                    Change::Created(_) => {
                        created.push(summary);
                        (output, IdOperation::Created)
                    }
                    Change::Mutated(_) => {
                        mutated.push(summary);
                        (output, IdOperation::None)
                    }
                    _ => {
                        unwrapped.push(summary);
                        (output, IdOperation::None)
                    }
                }
            }
            Change::Deleted => {
                deleted.push(ObjectReference::new(*id, lamport, OBJECT_DIGEST_DELETED));
                (ObjectOut::NotExist, IdOperation::Deleted)
            }
            Change::Wrapped => {
                wrapped.push(ObjectReference::new(*id, lamport, OBJECT_DIGEST_WRAPPED));
                (ObjectOut::NotExist, IdOperation::None)
            }
            Change::UnwrappedThenDeleted => {
                unwrapped_then_deleted.push(ObjectReference::new(
                    *id,
                    lamport,
                    OBJECT_DIGEST_DELETED,
                ));
                (ObjectOut::NotExist, IdOperation::Deleted)
            }
        };
        changed_objects.push(ChangedObject {
            object_id: *id,
            input_state,
            output_state,
            id_operation,
        });
    }
    let gas_object = gas_object
        .ok_or_else(|| ExecutionError::Internal("the gas coin was not written".into()))?;
    let events_digest =
        (!input.events.is_empty()).then(|| TransactionEvents(input.events.clone()).digest());
    let unchanged_consensus_objects = input
        .read_only_shared
        .iter()
        .map(|reference| UnchangedConsensusObject {
            object_id: *reference.object_id(),
            kind: UnchangedConsensusKind::ReadOnlyRoot {
                version: reference.version(),
                digest: *reference.digest(),
            },
        })
        .collect();
    let effects = TransactionEffects::V2(Box::new(TransactionEffectsV2 {
        status: ExecutionStatus::Success,
        epoch: SUI_EPOCH,
        gas_used: input.gas_used.clone(),
        transaction_digest: input.digest,
        gas_object_index,
        events_digest,
        dependencies: input.dependencies.into_iter().collect(),
        lamport_version: lamport,
        changed_objects,
        unchanged_consensus_objects,
        auxiliary_data_digest: None,
    }));
    Ok(Effects {
        transaction_digest: input.digest,
        lamport_version: lamport,
        created,
        mutated,
        unwrapped,
        deleted,
        wrapped,
        unwrapped_then_deleted,
        gas_object,
        gas_used: input.gas_used,
        events: input.events,
        effects,
    })
}
