//! The transaction executor: checks a signed transaction (signature, gas, inputs), runs its
//! commands against the twin and commits everything or nothing.
//!
//! Order of the checks: already executed, transaction kind, signature, expiration, gas payment
//! (sponsor, price, budget, cost), gas coins (existence, version and digest, owner, type,
//! balance), inputs (existence, version and digest, owner or shared version, duplicates).
//! Then the commands run in order on copies of the objects; the first error discards them all.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use sui_crypto::{SuiVerifier, UserSignatureVerifier};
use sui_sdk_types::{
    Address, Digest, GasCostSummary, Identifier, Input, Mutability, Object, ObjectReference, Owner,
    StructTag, Transaction, TransactionExpiration, TransactionKind, UserSignature,
};
use walrus_chain::contract::{
    events::Event as TwinEvent,
    sui::{Coin, TxContext},
};

use crate::{
    db::{ChainDb, StoredTransaction},
    effects::{self, Change, Effects, EffectsInput},
    genesis::{Genesis, GenesisConfig},
    runtime::{InputKind, InputSlot, Outcome, Runtime},
    store::{decode_object, move_object, ObjectStore},
    types::{object_id, ClockObject, ObjectValue},
    ExecutionError, BASE_COMPUTATION_UNITS, CLOCK_OBJECT_ID, COMPUTATION_UNITS_PER_COMMAND,
    MAX_GAS_BUDGET, REFERENCE_GAS_PRICE, WALRUS_PACKAGE_ID,
};

/// Executes transactions against an [`ObjectStore`].
///
/// With a [`ChainDb`] attached ([`Self::restore`]), every executed transaction (its object
/// writes and its record) and every clock update is committed to the database, durably, before
/// it is applied in memory and before `execute` returns; a clone shares the database.
#[derive(Debug, Clone, Default)]
pub struct Executor {
    store: ObjectStore,
    executed: BTreeMap<Digest, Effects>,
    db: Option<Arc<ChainDb>>,
}

/// The gas coins of a transaction, loaded and checked.
struct Gas {
    /// The first gas coin, which the others are merged into.
    id: Address,
    /// The coins merged into it (deleted).
    merged: Vec<Address>,
    /// Sum of the coins.
    total: u64,
    budget: u64,
    cost: u64,
}

impl Executor {
    /// An executor over `store`.
    pub fn new(store: ObjectStore) -> Self {
        Self {
            store,
            executed: BTreeMap::new(),
            db: None,
        }
    }

    /// An executor over `store` (the objects loaded from `db`) that has executed `executed`
    /// (in execution order), writing to `db` from now on.
    pub fn restore(
        store: ObjectStore,
        executed: impl IntoIterator<Item = Effects>,
        db: Arc<ChainDb>,
    ) -> Self {
        Self {
            store,
            executed: executed
                .into_iter()
                .map(|effects| (effects.transaction_digest, effects))
                .collect(),
            db: Some(db),
        }
    }

    /// The database the executor writes to, if any.
    pub fn db(&self) -> Option<&Arc<ChainDb>> {
        self.db.as_ref()
    }

    /// Number of transactions executed (since genesis).
    pub fn executed_count(&self) -> usize {
        self.executed.len()
    }

    /// An executor over the genesis state of `config`.
    pub fn from_genesis(config: &GenesisConfig) -> Result<(Self, Genesis), ExecutionError> {
        let (store, genesis) = config.build()?;
        Ok((Self::new(store), genesis))
    }

    /// The objects.
    pub fn store(&self) -> &ObjectStore {
        &self.store
    }

    /// The effects of an executed transaction.
    pub fn effects(&self, digest: &Digest) -> Option<&Effects> {
        self.executed.get(digest)
    }

    /// The clock's timestamp.
    pub fn timestamp_ms(&self) -> Result<u64, ExecutionError> {
        match self.store.value(&CLOCK_OBJECT_ID) {
            Ok(ObjectValue::Clock(clock)) => Ok(clock.timestamp_ms),
            _ => Err(ExecutionError::Internal("no clock object".into())),
        }
    }

    /// Sets the clock (as Sui's consensus commit prologue does): a new version of `0x6` with
    /// the timestamp. Time never goes back.
    pub fn set_timestamp_ms(&mut self, timestamp_ms: u64) -> Result<(), ExecutionError> {
        let current = self.timestamp_ms()?;
        if timestamp_ms < current {
            return Err(ExecutionError::Internal(format!(
                "the clock cannot go back from {current} to {timestamp_ms}"
            )));
        }
        let object = self
            .store
            .get(&CLOCK_OBJECT_ID)
            .ok_or(ExecutionError::ObjectNotFound(CLOCK_OBJECT_ID))?;
        let value = ObjectValue::Clock(ClockObject {
            id: object_id(CLOCK_OBJECT_ID),
            timestamp_ms,
        });
        let version = object
            .version()
            .checked_add(1)
            .ok_or_else(|| ExecutionError::Internal("version overflow".into()))?;
        let updated = move_object(&value, version, *object.owner(), Digest::ZERO)?;
        if let Some(db) = &self.db {
            db.write_object(&updated)
                .map_err(|error| ExecutionError::Internal(error.to_string()))?;
        }
        self.store.insert(updated);
        Ok(())
    }

    /// Verifies and executes a signed transaction. On success the store holds its writes and
    /// the effects are returned; on any error the store is unchanged.
    pub fn execute(
        &mut self,
        transaction: &Transaction,
        signatures: &[UserSignature],
    ) -> Result<Effects, ExecutionError> {
        let digest = transaction.digest();
        if self.executed.contains_key(&digest) {
            return Err(ExecutionError::AlreadyExecuted(digest));
        }
        let TransactionKind::ProgrammableTransaction(ptb) = &transaction.kind else {
            return Err(ExecutionError::UnsupportedTransactionKind);
        };
        verify_signatures(transaction, signatures)?;
        check_expiration(&transaction.expiration)?;
        let sender = transaction.sender;

        let mut before = BTreeMap::new();
        let gas = self.load_gas(transaction, ptb.commands.len(), &mut before)?;
        let mut seen: BTreeSet<Address> = before.keys().copied().collect();
        let mut slots = Vec::with_capacity(ptb.inputs.len());
        let mut input_ids = Vec::with_capacity(ptb.inputs.len());
        for (index, input) in ptb.inputs.iter().enumerate() {
            let (slot, id) = self.load_input(index, input, sender, &mut seen, &mut before)?;
            slots.push(slot);
            input_ids.push(id);
        }
        let lamport_version = before
            .values()
            .map(Object::version)
            .max()
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| ExecutionError::Internal("version overflow".into()))?;
        let pre_wrapped = wrapped_ids(&before);

        let gas_coin = ObjectValue::SuiCoin(Coin {
            id: object_id(gas.id),
            balance: gas.total - gas.budget,
        });
        let ctx = TxContext::new(sender.into_inner(), digest.into_inner());
        let mut runtime = Runtime::new(slots, gas_coin, ctx);
        for (index, command) in ptb.commands.iter().enumerate() {
            runtime.execute(index, command)?;
        }
        let outcome = runtime.finish()?;

        let (input, read_only_shared) = self.collect_writes(outcome, &input_ids, &gas, sender)?;
        let mut changes = BTreeMap::new();
        for (id, (value, owner)) in input.written {
            let object = move_object(&value, lamport_version, owner, digest)?;
            let change = if before.contains_key(&id) {
                Change::Mutated(object)
            } else if pre_wrapped.contains(&id) {
                Change::Unwrapped(object)
            } else {
                Change::Created(object)
            };
            changes.insert(id, change);
        }
        for id in &input.consumed {
            let change = if input.post_wrapped.contains(id) {
                Change::Wrapped
            } else {
                Change::Deleted
            };
            changes.insert(*id, change);
        }
        for id in &pre_wrapped {
            if !changes.contains_key(id) && !input.post_wrapped.contains(id) {
                changes.insert(*id, Change::UnwrappedThenDeleted);
            }
        }
        let commit: Vec<(Address, Option<Object>)> = changes
            .iter()
            .map(|(id, change)| match change {
                Change::Created(object) | Change::Mutated(object) | Change::Unwrapped(object) => {
                    (*id, Some(object.clone()))
                }
                _ => (*id, None),
            })
            .collect();
        let dependencies = before
            .values()
            .map(Object::previous_transaction)
            .filter(|previous| *previous != digest)
            .collect();
        let effects = effects::build(EffectsInput {
            digest,
            lamport_version,
            before,
            changes,
            read_only_shared,
            gas_id: gas.id,
            gas_used: GasCostSummary::new(gas.cost, 0, 0, 0),
            events: sui_events(sender, input.events)?,
            dependencies,
        })?;
        if let Some(db) = &self.db {
            let writes: Vec<(Address, Option<&Object>)> = commit
                .iter()
                .map(|(id, object)| (*id, object.as_ref()))
                .collect();
            let record = StoredTransaction {
                index: u64::try_from(self.executed.len())
                    .map_err(|_| ExecutionError::Internal("too many transactions".into()))?,
                transaction: transaction.clone(),
                signatures: signatures.to_vec(),
                effects: effects.clone(),
            };
            // Durable before anything changes in memory: a failed write changes nothing.
            db.write_transaction(&writes, &record)
                .map_err(|error| ExecutionError::Internal(error.to_string()))?;
        }
        for (id, object) in commit {
            match object {
                Some(object) => self.store.insert(object),
                None => {
                    self.store.remove(&id);
                }
            }
        }
        self.executed.insert(digest, effects.clone());
        Ok(effects)
    }

    /// Checks the gas payment and loads the gas coins into `before`.
    fn load_gas(
        &self,
        transaction: &Transaction,
        n_commands: usize,
        before: &mut BTreeMap<Address, Object>,
    ) -> Result<Gas, ExecutionError> {
        let payment = &transaction.gas_payment;
        let invalid = |reason: String| Err(ExecutionError::InvalidGasPayment(reason));
        if payment.owner != transaction.sender {
            return invalid("sponsored transactions are not supported".into());
        }
        let Some(first) = payment.objects.first() else {
            return invalid("no gas coins".into());
        };
        if payment.price < REFERENCE_GAS_PRICE {
            return invalid(format!(
                "gas price {} is below the reference gas price {REFERENCE_GAS_PRICE}",
                payment.price
            ));
        }
        if payment.budget > MAX_GAS_BUDGET {
            return invalid(format!(
                "gas budget {} is above the maximum {MAX_GAS_BUDGET}",
                payment.budget
            ));
        }
        let units = u64::try_from(n_commands)
            .ok()
            .and_then(|n| n.checked_mul(COMPUTATION_UNITS_PER_COMMAND))
            .and_then(|units| units.checked_add(BASE_COMPUTATION_UNITS));
        let cost = units.and_then(|units| units.checked_mul(payment.price));
        let Some(cost) = cost else {
            return invalid("the transaction's cost overflows".into());
        };
        if payment.budget < cost {
            return Err(ExecutionError::InsufficientGasBudget {
                budget: payment.budget,
                required: cost,
            });
        }
        let mut total: u64 = 0;
        for reference in &payment.objects {
            let id = *reference.object_id();
            if before.contains_key(&id) {
                return Err(ExecutionError::DuplicateObject(id));
            }
            let object = self.owned_object(reference, transaction.sender)?;
            let Ok(ObjectValue::SuiCoin(coin)) = decode_object(object) else {
                return invalid(format!("gas object {id} is not a Coin<SUI>"));
            };
            total = total
                .checked_add(coin.balance)
                .ok_or_else(|| ExecutionError::Internal("gas balance overflow".into()))?;
            before.insert(id, object.clone());
        }
        if total < payment.budget {
            return Err(ExecutionError::InsufficientGasBalance {
                balance: total,
                budget: payment.budget,
            });
        }
        Ok(Gas {
            id: *first.object_id(),
            merged: payment.objects[1..]
                .iter()
                .map(|reference| *reference.object_id())
                .collect(),
            total,
            budget: payment.budget,
            cost,
        })
    }

    /// The object named by an owned reference: it exists, is at that version and digest, and
    /// the sender owns it.
    fn owned_object(
        &self,
        reference: &ObjectReference,
        sender: Address,
    ) -> Result<&Object, ExecutionError> {
        let object = self.object_at(reference)?;
        match object.owner() {
            Owner::Address(owner) if *owner == sender => Ok(object),
            other => Err(ExecutionError::NotOwnedBySender {
                object: *reference.object_id(),
                owner: owner_text(other),
            }),
        }
    }

    /// The object at exactly this reference.
    fn object_at(&self, reference: &ObjectReference) -> Result<&Object, ExecutionError> {
        let id = *reference.object_id();
        let object = self
            .store
            .get(&id)
            .ok_or(ExecutionError::ObjectNotFound(id))?;
        let current_digest = object.digest();
        if object.version() != reference.version() || current_digest != *reference.digest() {
            return Err(ExecutionError::StaleObjectReference {
                object: id,
                version: reference.version(),
                digest: *reference.digest(),
                current_version: object.version(),
                current_digest,
            });
        }
        Ok(object)
    }

    /// Resolves one input into its slot (and its object ID, for objects).
    fn load_input(
        &self,
        index: usize,
        input: &Input,
        sender: Address,
        seen: &mut BTreeSet<Address>,
        before: &mut BTreeMap<Address, Object>,
    ) -> Result<(InputSlot, Option<Address>), ExecutionError> {
        let unsupported = |reason: &str| ExecutionError::UnsupportedInput {
            index,
            reason: reason.to_string(),
        };
        let (id, kind) = match input {
            Input::Pure(bytes) => return Ok((InputSlot::Pure(bytes.clone()), None)),
            Input::ImmutableOrOwned(reference) => {
                let id = *reference.object_id();
                let object = self.object_at(reference)?;
                let kind = match object.owner() {
                    Owner::Address(owner) if *owner == sender => InputKind::Owned,
                    Owner::Immutable => InputKind::Immutable,
                    Owner::Shared(_) | Owner::ConsensusAddress { .. } => {
                        return Err(ExecutionError::InvalidSharedInput {
                            object: id,
                            reason: "a shared object must be passed as a shared input".into(),
                        })
                    }
                    other => {
                        return Err(ExecutionError::NotOwnedBySender {
                            object: id,
                            owner: owner_text(other),
                        })
                    }
                };
                (id, kind)
            }
            Input::Shared(shared) => {
                let id = shared.object_id();
                let object = self
                    .store
                    .get(&id)
                    .ok_or(ExecutionError::ObjectNotFound(id))?;
                let invalid =
                    |reason: String| ExecutionError::InvalidSharedInput { object: id, reason };
                let Owner::Shared(initial_shared_version) = *object.owner() else {
                    return Err(invalid("the object is not shared".into()));
                };
                if shared.version() != initial_shared_version {
                    return Err(invalid(format!(
                        "its initial shared version is {initial_shared_version}, not {}",
                        shared.version()
                    )));
                }
                let mutable = match shared.mutability() {
                    Mutability::Immutable => false,
                    Mutability::Mutable => true,
                    _ => return Err(unsupported("non-exclusive writes")),
                };
                if id == CLOCK_OBJECT_ID && mutable {
                    return Err(invalid("the clock can only be passed immutably".into()));
                }
                (
                    id,
                    InputKind::Shared {
                        initial_shared_version,
                        mutable,
                    },
                )
            }
            Input::Receiving(_) => return Err(unsupported("receiving objects")),
            _ => return Err(unsupported("funds withdrawals")),
        };
        if !seen.insert(id) {
            return Err(ExecutionError::DuplicateObject(id));
        }
        let object = self
            .store
            .get(&id)
            .ok_or(ExecutionError::ObjectNotFound(id))?;
        let value = decode_object(object).map_err(|error| unsupported(&error.to_string()))?;
        before.insert(id, object.clone());
        Ok((
            InputSlot::Object {
                kind,
                value: Some(value),
            },
            Some(id),
        ))
    }

    /// Sorts the outcome into written objects (with owners), consumed inputs and read-only
    /// shared inputs, and charges gas.
    fn collect_writes(
        &self,
        outcome: Outcome,
        input_ids: &[Option<Address>],
        gas: &Gas,
        sender: Address,
    ) -> Result<(Writes, Vec<ObjectReference>), ExecutionError> {
        let mut written: BTreeMap<Address, (ObjectValue, Owner)> = BTreeMap::new();
        let mut consumed: Vec<Address> = gas.merged.clone();
        let mut read_only_shared = Vec::new();
        for (slot, id) in outcome.inputs.into_iter().zip(input_ids) {
            let (InputSlot::Object { kind, value }, Some(id)) = (slot, id) else {
                continue;
            };
            match (kind, value) {
                (InputKind::Immutable, _) => {}
                (InputKind::Shared { mutable: false, .. }, _) => {
                    let reference = self
                        .store
                        .object_ref(id)
                        .ok_or(ExecutionError::ObjectNotFound(*id))?;
                    read_only_shared.push(reference);
                }
                (InputKind::Owned, Some(value)) => {
                    written.insert(*id, (value, Owner::Address(sender)));
                }
                (
                    InputKind::Shared {
                        initial_shared_version,
                        ..
                    },
                    Some(value),
                ) => {
                    written.insert(*id, (value, Owner::Shared(initial_shared_version)));
                }
                (_, None) => consumed.push(*id),
            }
        }
        if let Some(value) = outcome.gas {
            written.insert(gas.id, (value, Owner::Address(sender)));
        }
        for (value, recipient) in outcome.transfers {
            let id = crate::types::address(value.id());
            if written
                .insert(id, (value, Owner::Address(recipient)))
                .is_some()
            {
                return Err(ExecutionError::Internal(format!("{id} written twice")));
            }
        }
        // An owned input moved into a transfer is written to its recipient, not deleted.
        consumed.retain(|id| !written.contains_key(id));
        // Charge gas: the budget was reserved; give back what was not used.
        let refund = gas.budget - gas.cost;
        let coin = written
            .get_mut(&gas.id)
            .and_then(|(value, _)| value.coin_mut())
            .ok_or_else(|| ExecutionError::Internal("the gas coin disappeared".into()))?;
        coin.balance = coin
            .balance
            .checked_add(refund)
            .ok_or_else(|| ExecutionError::Internal("gas coin overflow".into()))?;
        let mut post_wrapped = BTreeSet::new();
        for (value, _) in written.values() {
            post_wrapped.extend(value.wrapped_ids().into_iter().map(crate::types::address));
        }
        Ok((
            Writes {
                written,
                consumed,
                post_wrapped,
                events: outcome.events,
            },
            read_only_shared,
        ))
    }
}

/// What the commands wrote.
struct Writes {
    written: BTreeMap<Address, (ObjectValue, Owner)>,
    consumed: Vec<Address>,
    post_wrapped: BTreeSet<Address>,
    events: Vec<(Identifier, TwinEvent)>,
}

/// IDs of the objects wrapped in `objects`.
fn wrapped_ids(objects: &BTreeMap<Address, Object>) -> BTreeSet<Address> {
    objects
        .values()
        .filter_map(|object| decode_object(object).ok())
        .flat_map(|value| value.wrapped_ids())
        .map(crate::types::address)
        .collect()
}

fn verify_signatures(
    transaction: &Transaction,
    signatures: &[UserSignature],
) -> Result<(), ExecutionError> {
    let [signature] = signatures else {
        return Err(ExecutionError::SignatureCount(signatures.len()));
    };
    UserSignatureVerifier::new()
        .verify_transaction(transaction, signature)
        .map_err(|error| ExecutionError::InvalidSignature(error.to_string()))?;
    if !signature
        .derive_addresses()
        .any(|address| address == transaction.sender)
    {
        return Err(ExecutionError::SignerMismatch {
            sender: transaction.sender,
            signer: signature.derive_address(),
        });
    }
    Ok(())
}

fn check_expiration(expiration: &TransactionExpiration) -> Result<(), ExecutionError> {
    match expiration {
        TransactionExpiration::None => Ok(()),
        // The localnet stays in Sui epoch `SUI_EPOCH` = 0, so no epoch expiration has passed.
        TransactionExpiration::Epoch(_) => Ok(()),
        _ => Err(ExecutionError::Expiration(
            "only `None` and `Epoch` expirations are supported".into(),
        )),
    }
}

fn owner_text(owner: &Owner) -> String {
    match owner {
        Owner::Address(address) => address.to_string(),
        Owner::Object(parent) => format!("object {parent}"),
        Owner::Shared(_) => "shared".into(),
        Owner::Immutable => "immutable".into(),
        other => format!("{other:?}"),
    }
}

/// The twin's events as Sui events of the `walrus` package.
fn sui_events(
    sender: Address,
    events: Vec<(Identifier, TwinEvent)>,
) -> Result<Vec<sui_sdk_types::Event>, ExecutionError> {
    events
        .into_iter()
        .map(|(module, event)| {
            let name = Identifier::new(event.type_name())
                .map_err(|error| ExecutionError::Internal(error.to_string()))?;
            Ok(sui_sdk_types::Event {
                package_id: WALRUS_PACKAGE_ID,
                module,
                sender,
                type_: StructTag::new(
                    WALRUS_PACKAGE_ID,
                    Identifier::from_static("events"),
                    name,
                    Vec::new(),
                ),
                contents: event.bcs_contents(),
            })
        })
        .collect()
}
