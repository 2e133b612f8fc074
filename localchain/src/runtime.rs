//! The programmable-transaction runtime: input and result slots, argument access with Sui's
//! rules (by reference, by mutable reference, by value), the native commands (`SplitCoins`,
//! `MergeCoins`, `TransferObjects`) and the end-of-transaction check for unused values.
//!
//! A borrowed object is taken out of its slot for the duration of the command and put back
//! afterwards, so an object used twice in one command (or after it was moved) is an error.
//! Nothing here touches the object store: the executor commits the outcome.

use serde::de::DeserializeOwned;
use sui_sdk_types::{
    Address, Argument, Command, Identifier, MergeCoins, SplitCoins, TransferObjects, Version,
};
use walrus_chain::contract::{events::Event, sui::TxContext, ARITHMETIC_ERROR};

use crate::{
    dispatch,
    types::{ObjectValue, PureType, TwinObject, Value},
    ExecutionError,
};

/// How a transaction declared an input object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputKind {
    /// Address-owned by the sender.
    Owned,
    /// Shared, at this initial shared version, declared mutable or not.
    Shared {
        /// The initial shared version.
        initial_shared_version: Version,
        /// Whether the transaction may mutate it.
        mutable: bool,
    },
    /// Immutable (frozen).
    Immutable,
}

/// One input of the transaction.
#[derive(Debug)]
pub(crate) enum InputSlot {
    /// Pure BCS bytes.
    Pure(Vec<u8>),
    /// An object; `None` once moved.
    Object {
        /// How it was declared.
        kind: InputKind,
        /// Its value.
        value: Option<ObjectValue>,
    },
}

/// How a command uses an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// `&T`.
    Ref,
    /// `&mut T`.
    MutRef,
    /// `T`.
    ByValue,
}

/// The state of a programmable transaction being executed.
pub(crate) struct Runtime {
    inputs: Vec<InputSlot>,
    gas: Option<ObjectValue>,
    results: Vec<Vec<Option<Value>>>,
    transfers: Vec<(ObjectValue, Address)>,
    ctx: TxContext,
    events: Vec<(Identifier, Event)>,
}

/// What a successful programmable transaction leaves.
pub(crate) struct Outcome {
    /// The input slots (objects still present were used by reference or not at all).
    pub inputs: Vec<InputSlot>,
    /// The gas coin, unless it was transferred.
    pub gas: Option<ObjectValue>,
    /// Objects transferred, with their recipients.
    pub transfers: Vec<(ObjectValue, Address)>,
    /// Events, with the module of the call that emitted them.
    pub events: Vec<(Identifier, Event)>,
}

impl Runtime {
    /// A runtime over the resolved inputs, the (smashed) gas coin and the context.
    pub fn new(inputs: Vec<InputSlot>, gas: ObjectValue, ctx: TxContext) -> Self {
        Self {
            inputs,
            gas: Some(gas),
            results: Vec::new(),
            transfers: Vec::new(),
            ctx,
            events: Vec::new(),
        }
    }

    /// The transaction context (object IDs, events).
    pub fn ctx(&mut self) -> &mut TxContext {
        &mut self.ctx
    }

    /// Moves the events emitted so far by a call into `module` to the transaction's events.
    pub fn collect_events(&mut self, module: &Identifier) {
        for event in self.ctx.take_events() {
            self.events.push((module.clone(), event));
        }
    }

    /// Runs one command and records its results.
    pub fn execute(&mut self, command: usize, cmd: &Command) -> Result<(), ExecutionError> {
        let results = match cmd {
            Command::MoveCall(call) => dispatch::call(self, command, call)?,
            Command::SplitCoins(split) => self.split_coins(command, split)?,
            Command::MergeCoins(merge) => {
                self.merge_coins(command, merge)?;
                Vec::new()
            }
            Command::TransferObjects(transfer) => {
                self.transfer_objects(command, transfer)?;
                Vec::new()
            }
            Command::Publish(_) => return Err(unsupported(command, "Publish")),
            Command::Upgrade(_) => return Err(unsupported(command, "Upgrade")),
            Command::MakeMoveVector(_) => return Err(unsupported(command, "MakeMoveVec")),
            _ => return Err(unsupported(command, "unknown")),
        };
        self.results
            .push(results.into_iter().map(Some).collect::<Vec<_>>());
        Ok(())
    }

    /// Ends the transaction: every object returned by a command must have been used.
    pub fn finish(self) -> Result<Outcome, ExecutionError> {
        for (command, results) in self.results.iter().enumerate() {
            for (result, value) in results.iter().enumerate() {
                if let Some(Value::Object(_)) = value {
                    return Err(ExecutionError::UnusedValueWithoutDrop { command, result });
                }
            }
        }
        Ok(Outcome {
            inputs: self.inputs,
            gas: self.gas,
            transfers: self.transfers,
            events: self.events,
        })
    }

    /// Takes the value of `arg` (argument `position` of `command`) for `access`: pure values
    /// are copied, objects are taken out of their slot (to be put back with [`Self::restore`]
    /// unless moved). Enforces what each input kind allows.
    pub fn checkout(
        &mut self,
        command: usize,
        position: usize,
        arg: &Argument,
        access: Access,
        gas_by_value: bool,
    ) -> Result<Value, ExecutionError> {
        let unavailable = ExecutionError::ValueUnavailable {
            command,
            argument: position,
        };
        let misuse = |reason: &str| ExecutionError::InvalidObjectUse {
            command,
            argument: position,
            reason: reason.to_string(),
        };
        match *arg {
            Argument::Gas => {
                if access == Access::ByValue && !gas_by_value {
                    return Err(misuse(
                        "the gas coin can be taken by value only by TransferObjects",
                    ));
                }
                self.gas.take().map(Value::Object).ok_or(unavailable)
            }
            Argument::Input(index) => {
                let slot = self.inputs.get_mut(usize::from(index)).ok_or_else(|| {
                    invalid_argument(command, position, format!("no input {index}"))
                })?;
                match slot {
                    InputSlot::Pure(bytes) => Ok(Value::Pure(bytes.clone())),
                    InputSlot::Object { kind, value } => {
                        match (*kind, access) {
                            (InputKind::Immutable, Access::MutRef | Access::ByValue) => {
                                return Err(misuse("an immutable object can only be read"));
                            }
                            (InputKind::Shared { mutable: false, .. }, Access::MutRef) => {
                                return Err(misuse(
                                    "a shared object declared immutable cannot be mutated",
                                ));
                            }
                            (InputKind::Shared { .. }, Access::ByValue) => {
                                return Err(misuse("a shared object cannot be taken by value"));
                            }
                            _ => {}
                        }
                        value.take().map(Value::Object).ok_or(unavailable)
                    }
                }
            }
            Argument::Result(result) => self.result_slot(command, position, result, None),
            Argument::NestedResult(result, nested) => {
                self.result_slot(command, position, result, Some(nested))
            }
        }
    }

    fn result_slot(
        &mut self,
        command: usize,
        position: usize,
        result: u16,
        nested: Option<u16>,
    ) -> Result<Value, ExecutionError> {
        let results = self.results.get_mut(usize::from(result)).ok_or_else(|| {
            invalid_argument(
                command,
                position,
                format!("result {result} is not of an earlier command"),
            )
        })?;
        let index = match nested {
            Some(nested) => usize::from(nested),
            None if results.len() == 1 => 0,
            None => {
                return Err(invalid_argument(
                    command,
                    position,
                    format!(
                        "command {result} returned {} values, not one",
                        results.len()
                    ),
                ))
            }
        };
        let slot = results.get_mut(index).ok_or_else(|| {
            invalid_argument(
                command,
                position,
                format!("command {result} has no result {index}"),
            )
        })?;
        match slot {
            Some(Value::Object(_)) => slot.take().ok_or(ExecutionError::ValueUnavailable {
                command,
                argument: position,
            }),
            Some(value) => Ok(value.clone()),
            None => Err(ExecutionError::ValueUnavailable {
                command,
                argument: position,
            }),
        }
    }

    /// Puts a borrowed object back into the slot it came from (plain values are copies and
    /// need no restoring).
    pub fn restore(&mut self, arg: &Argument, value: Value) -> Result<(), ExecutionError> {
        let Value::Object(object) = value else {
            return Ok(());
        };
        match *arg {
            Argument::Gas => put(&mut self.gas, object),
            Argument::Input(index) => match self.inputs.get_mut(usize::from(index)) {
                Some(InputSlot::Object { value, .. }) => put(value, object),
                _ => Err(internal("restoring into a non-object input")),
            },
            Argument::Result(result) => put(
                self.results
                    .get_mut(usize::from(result))
                    .and_then(|results| results.first_mut())
                    .ok_or_else(|| internal("restoring into a missing result"))?,
                Value::Object(object),
            ),
            Argument::NestedResult(result, nested) => put(
                self.results
                    .get_mut(usize::from(result))
                    .and_then(|results| results.get_mut(usize::from(nested)))
                    .ok_or_else(|| internal("restoring into a missing result"))?,
                Value::Object(object),
            ),
        }
    }

    /// The argument as a twin object of type `T`.
    pub fn object<T: TwinObject>(
        &mut self,
        command: usize,
        position: usize,
        arg: &Argument,
        access: Access,
    ) -> Result<T, ExecutionError> {
        let value = self.checkout(command, position, arg, access, false)?;
        let mismatch = |found: String| ExecutionError::TypeMismatch {
            command,
            argument: position,
            expected: reference(access, &T::TYPE.to_string()),
            found,
        };
        match value {
            Value::Object(object) => {
                T::from_value(object).map_err(|object| mismatch(object.object_type().to_string()))
            }
            other => Err(mismatch(other.type_name())),
        }
    }

    /// The argument as a pure value of type `ty`, decoded into `T`.
    pub fn pure<T: DeserializeOwned>(
        &mut self,
        command: usize,
        position: usize,
        arg: &Argument,
        ty: PureType,
    ) -> Result<T, ExecutionError> {
        // Pure values are copied whatever the access; `Ref` lets a mistyped object be put
        // back and reported as a type mismatch.
        let value = self.checkout(command, position, arg, Access::Ref, false)?;
        let bytes = match value {
            Value::Pure(bytes) => bytes,
            Value::Typed(found, bytes) if found == ty => bytes,
            other => {
                let found = other.type_name();
                // Put a taken object back so the error is the only effect.
                self.restore(arg, other)?;
                return Err(ExecutionError::TypeMismatch {
                    command,
                    argument: position,
                    expected: ty.to_string(),
                    found,
                });
            }
        };
        bcs::from_bytes(&bytes).map_err(|error| ExecutionError::InvalidPureBytes {
            command,
            argument: position,
            expected: ty.to_string(),
            reason: error.to_string(),
        })
    }

    fn coin(
        &mut self,
        command: usize,
        position: usize,
        arg: &Argument,
        access: Access,
    ) -> Result<ObjectValue, ExecutionError> {
        match self.checkout(command, position, arg, access, false)? {
            Value::Object(object @ (ObjectValue::SuiCoin(_) | ObjectValue::WalCoin(_))) => {
                Ok(object)
            }
            other => Err(ExecutionError::TypeMismatch {
                command,
                argument: position,
                expected: reference(access, "0x2::coin::Coin<T>"),
                found: other.type_name(),
            }),
        }
    }

    fn split_coins(
        &mut self,
        command: usize,
        split: &SplitCoins,
    ) -> Result<Vec<Value>, ExecutionError> {
        let mut amounts = Vec::with_capacity(split.amounts.len());
        for (i, amount) in split.amounts.iter().enumerate() {
            amounts.push(self.pure::<u64>(command, i + 1, amount, PureType::U64)?);
        }
        let mut source = self.coin(command, 0, &split.coin, Access::MutRef)?;
        let mut results = Vec::with_capacity(amounts.len());
        for amount in amounts {
            let coin = source
                .coin_mut()
                .ok_or_else(|| internal("a coin without a coin"))?
                .split(amount, &mut self.ctx)
                .map_err(|_| ExecutionError::InsufficientCoinBalance { command })?;
            let value = source
                .same_coin_type(coin)
                .ok_or_else(|| internal("a coin without a coin type"))?;
            results.push(Value::Object(value));
        }
        self.restore(&split.coin, Value::Object(source))?;
        Ok(results)
    }

    fn merge_coins(&mut self, command: usize, merge: &MergeCoins) -> Result<(), ExecutionError> {
        let mut target = self.coin(command, 0, &merge.coin, Access::MutRef)?;
        let target_type = target.object_type();
        for (i, arg) in merge.coins_to_merge.iter().enumerate() {
            let source = self.coin(command, i + 1, arg, Access::ByValue)?;
            if source.object_type() != target_type {
                return Err(ExecutionError::TypeMismatch {
                    command,
                    argument: i + 1,
                    expected: target_type.to_string(),
                    found: source.object_type().to_string(),
                });
            }
            if let (Some(target), ObjectValue::SuiCoin(source) | ObjectValue::WalCoin(source)) =
                (target.coin_mut(), source)
            {
                // `balance::join` aborts on overflow in Move; the twin's `join` would panic.
                if target.balance.checked_add(source.balance).is_none() {
                    return Err(ExecutionError::MoveAbort {
                        command,
                        abort: ARITHMETIC_ERROR,
                    });
                }
                target.join(source);
            }
        }
        self.restore(&merge.coin, Value::Object(target))
    }

    fn transfer_objects(
        &mut self,
        command: usize,
        transfer: &TransferObjects,
    ) -> Result<(), ExecutionError> {
        let position = transfer.objects.len();
        let recipient: [u8; 32] =
            self.pure(command, position, &transfer.address, PureType::Address)?;
        for (i, arg) in transfer.objects.iter().enumerate() {
            match self.checkout(command, i, arg, Access::ByValue, true)? {
                Value::Object(object) if object.object_type().has_public_transfer() => {
                    self.transfers.push((object, Address::new(recipient)));
                }
                other => {
                    return Err(ExecutionError::TypeMismatch {
                        command,
                        argument: i,
                        expected: "an object with key + store".to_string(),
                        found: other.type_name(),
                    })
                }
            }
        }
        Ok(())
    }
}

fn reference(access: Access, ty: &str) -> String {
    match access {
        Access::Ref => format!("&{ty}"),
        Access::MutRef => format!("&mut {ty}"),
        Access::ByValue => ty.to_string(),
    }
}

fn unsupported(command: usize, kind: &str) -> ExecutionError {
    ExecutionError::UnsupportedCommand {
        command,
        kind: kind.to_string(),
    }
}

fn invalid_argument(command: usize, argument: usize, reason: String) -> ExecutionError {
    ExecutionError::InvalidArgument {
        command,
        argument,
        reason,
    }
}

fn put<T>(slot: &mut Option<T>, value: T) -> Result<(), ExecutionError> {
    if slot.is_some() {
        return Err(internal("restoring into an occupied slot"));
    }
    *slot = Some(value);
    Ok(())
}

fn internal(what: &str) -> ExecutionError {
    ExecutionError::Internal(what.to_string())
}
