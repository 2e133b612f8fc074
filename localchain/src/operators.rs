//! The built-in operator accounts of the chain ([`crate::launcher::run_chain`]), and the
//! signed transactions they send: the **epoch keeper** (the epoch clock's epoch changes) and
//! the **faucet**.
//!
//! # Why ordinary signed transactions
//!
//! On Sui, a Walrus epoch change is not a Sui system transaction: `staking::voting_end` (once
//! half of the epoch has passed) and `staking::initiate_epoch_change` (once the epoch is over)
//! are public entry points that anyone may call when the `0x6` clock allows, and a faucet is an
//! account that pays with ordinary transfers; the keeper is a convenience that sends them. The localnet does
//! exactly that, so an epoch change and a faucet grant go through the one execution path
//! ([`crate::Executor::execute`], then [`crate::service::ChainState::execute`] records them):
//! they have a sender, a signature, gas, effects, Lamport versions, events
//! (`EpochParametersSelected`, `EpochChangeStart`, `ShardsReceived`) and a place in a
//! checkpoint, and `EventStream` sees
//! them like any other transaction. No second way of changing objects exists, so versions,
//! digests and previous transactions stay consistent by construction. (The alternative, Sui
//! system transaction kinds, would need a second executor path and unsigned checkpoint
//! entries that no Sui client expects for these operations.)
//!
//! The keys are **well known** (derived from fixed domain strings, like Sui's localnet
//! keys): anyone can sign as them. That is fine for a local chain and makes the accounts
//! reproducible. The genesis file's configuration adds their funding
//! ([`add_operator_accounts`], called by [`crate::launcher::GenesisFile::to_config`]).
//! Only the `0x6` clock update stays an unrecorded system write (what Sui's consensus commit
//! prologue does).

use sui_crypto::{ed25519::Ed25519PrivateKey, SuiSigner};
use sui_sdk_types::{
    hash::Hasher, Address, Argument, Command, GasPayment, Identifier, Input, MoveCall,
    ObjectReference, ProgrammableTransaction, SharedInput, SplitCoins, Transaction,
    TransactionExpiration, TransactionKind, TransferObjects, UserSignature,
};

use walrus_chain::contract::staking::{Staking, EPOCH_CHANGE_DONE, NEXT_PARAMS_SELECTED};

use crate::{
    service::ChainState,
    types::{ObjectType, ObjectValue},
    Effects, ExecutionError, Executor, Genesis, GenesisAccount, GenesisConfig,
    BASE_COMPUTATION_UNITS, CLOCK_INITIAL_SHARED_VERSION, CLOCK_OBJECT_ID,
    COMPUTATION_UNITS_PER_COMMAND, REFERENCE_GAS_PRICE, WALRUS_PACKAGE_ID,
};

/// MIST given to the epoch keeper at genesis (one epoch change costs 2 000 000 MIST).
pub const KEEPER_SUI: u64 = 1_000_000_000_000_000;
/// MIST given to the faucet at genesis (10^9 SUI).
pub const FAUCET_SUI: u64 = 1_000_000_000_000_000_000;
/// FROST given to the faucet at genesis (10^9 WAL).
pub const FAUCET_WAL: u64 = 1_000_000_000_000_000_000;

/// Errors of building an operator transaction.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The operator has no coin of this type (not funded at genesis, or spent).
    #[error("the {operator} account {address} has no {coin} coin")]
    NoCoin {
        /// Which operator.
        operator: &'static str,
        /// Its address.
        address: Address,
        /// The coin type missing.
        coin: &'static str,
    },
    /// A genesis object is missing or of the wrong type.
    #[error("genesis object {0} is missing or of the wrong type")]
    GenesisObject(Address),
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Signing(String),
    /// A BCS encoding failed.
    #[error("cannot encode a pure argument: {0}")]
    Encoding(String),
}

/// A transaction and its signature, ready for [`crate::service::ChainState::execute`].
#[derive(Debug, Clone)]
pub struct SignedTransaction {
    /// The transaction.
    pub transaction: Transaction,
    /// Its sender's signature.
    pub signatures: Vec<UserSignature>,
}

/// A built-in account: a well-known Ed25519 key and its address.
#[derive(Debug, Clone)]
pub struct Operator {
    name: &'static str,
    key: Ed25519PrivateKey,
    address: Address,
}

impl Operator {
    fn derive(name: &'static str) -> Self {
        let mut hasher = Hasher::new();
        hasher.update(b"walrus-localnet::operator::");
        hasher.update(name.as_bytes());
        let key = Ed25519PrivateKey::new(hasher.finalize().into_inner());
        let address = key.public_key().derive_address();
        Self { name, key, address }
    }

    /// The epoch keeper: sends `staking::voting_end` and `staking::initiate_epoch_change`
    /// when they are due.
    pub fn keeper() -> Self {
        Self::derive("keeper")
    }

    /// The faucet: pays SUI and WAL with ordinary transfers.
    pub fn faucet() -> Self {
        Self::derive("faucet")
    }

    /// The account's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The account's private key (well known; see the module documentation).
    pub fn key(&self) -> &Ed25519PrivateKey {
        &self.key
    }

    /// The reference to the operator's largest coin of `ty` among its genesis coins.
    fn coin(
        &self,
        executor: &Executor,
        genesis: &Genesis,
        ty: ObjectType,
    ) -> Result<ObjectReference, OperatorError> {
        genesis
            .coins_of(self.address, ty)
            .into_iter()
            .filter_map(|id| {
                let balance = executor.store().coin_balance(&id).ok()?;
                Some((balance, executor.store().object_ref(&id)?))
            })
            .max_by_key(|(balance, _)| *balance)
            .map(|(_, reference)| reference)
            .ok_or(OperatorError::NoCoin {
                operator: self.name,
                address: self.address,
                coin: if ty == ObjectType::SuiCoin {
                    "SUI"
                } else {
                    "WAL"
                },
            })
    }

    /// Builds and signs a programmable transaction paying gas with the operator's SUI coin
    /// (budget = exactly the localnet's cost of `commands`).
    fn sign(
        &self,
        gas: ObjectReference,
        inputs: Vec<Input>,
        commands: Vec<Command>,
    ) -> Result<SignedTransaction, OperatorError> {
        let units = BASE_COMPUTATION_UNITS
            + COMPUTATION_UNITS_PER_COMMAND * u64::try_from(commands.len()).unwrap_or(u64::MAX);
        let transaction = Transaction {
            kind: TransactionKind::ProgrammableTransaction(ProgrammableTransaction {
                inputs,
                commands,
            }),
            sender: self.address,
            gas_payment: GasPayment {
                objects: vec![gas],
                owner: self.address,
                price: REFERENCE_GAS_PRICE,
                budget: units.saturating_mul(REFERENCE_GAS_PRICE),
            },
            expiration: TransactionExpiration::None,
        };
        let signature = self
            .key
            .sign_transaction(&transaction)
            .map_err(|error| OperatorError::Signing(error.to_string()))?;
        Ok(SignedTransaction {
            transaction,
            signatures: vec![signature],
        })
    }
}

/// Adds the funding of the epoch keeper (SUI for gas) and the faucet (SUI and WAL) to a
/// genesis configuration, as two more accounts after the configured ones.
pub fn add_operator_accounts(config: &mut GenesisConfig) {
    config.accounts.push(GenesisAccount {
        address: Operator::keeper().address(),
        sui_coins: vec![KEEPER_SUI],
        wal_coins: Vec::new(),
    });
    config.accounts.push(GenesisAccount {
        address: Operator::faucet().address(),
        sui_coins: vec![FAUCET_SUI],
        wal_coins: vec![FAUCET_WAL],
    });
}

/// A call of the epoch keeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeeperCall {
    /// `walrus::staking::voting_end(&mut Staking, &Clock)`: selects the next committee.
    VotingEnd,
    /// `walrus::staking::initiate_epoch_change(&mut Staking, &mut System, &Clock)`.
    InitiateEpochChange,
}

impl KeeperCall {
    /// The Move function's name.
    pub fn function(self) -> &'static str {
        match self {
            KeeperCall::VotingEnd => "voting_end",
            KeeperCall::InitiateEpochChange => "initiate_epoch_change",
        }
    }
}

fn staking_of(executor: &Executor, genesis: &Genesis) -> Result<Box<Staking>, OperatorError> {
    match executor.store().value(&genesis.staking) {
        Ok(ObjectValue::Staking(staking)) => Ok(staking),
        _ => Err(OperatorError::GenesisObject(genesis.staking)),
    }
}

/// The keeper call the epoch state and the `0x6` clock allow now, if any: `voting_end` once
/// the epoch change is done and half of the epoch has passed, `initiate_epoch_change` once the
/// next committee is selected and the epoch is over (the contract's own conditions).
pub fn due_keeper_call(
    executor: &Executor,
    genesis: &Genesis,
) -> Result<Option<KeeperCall>, OperatorError> {
    let staking = staking_of(executor, genesis)?;
    let now = executor
        .timestamp_ms()
        .map_err(|_| OperatorError::GenesisObject(CLOCK_OBJECT_ID))?;
    let start = staking.epoch_start_ms;
    let duration = staking.epoch_duration_ms;
    Ok(match staking.epoch_state {
        EPOCH_CHANGE_DONE if now >= start.saturating_add(duration / 2) => {
            Some(KeeperCall::VotingEnd)
        }
        NEXT_PARAMS_SELECTED if now >= start.saturating_add(duration) => {
            Some(KeeperCall::InitiateEpochChange)
        }
        _ => None,
    })
}

/// The keeper's signed `call` at the current state (an ordinary transaction: anyone may send
/// the same call).
pub fn keeper_transaction(
    executor: &Executor,
    genesis: &Genesis,
    call: KeeperCall,
) -> Result<SignedTransaction, OperatorError> {
    let keeper = Operator::keeper();
    let gas = keeper.coin(executor, genesis, ObjectType::SuiCoin)?;
    let version = genesis.initial_shared_version;
    let clock = Input::Shared(SharedInput::new(
        CLOCK_OBJECT_ID,
        CLOCK_INITIAL_SHARED_VERSION,
        false,
    ));
    let staking = Input::Shared(SharedInput::new(genesis.staking, version, true));
    let (inputs, arguments) = match call {
        KeeperCall::VotingEnd => (
            vec![staking, clock],
            vec![Argument::Input(0), Argument::Input(1)],
        ),
        KeeperCall::InitiateEpochChange => (
            vec![
                staking,
                Input::Shared(SharedInput::new(genesis.system, version, true)),
                clock,
            ],
            vec![Argument::Input(0), Argument::Input(1), Argument::Input(2)],
        ),
    };
    let commands = vec![Command::MoveCall(MoveCall {
        package: WALRUS_PACKAGE_ID,
        module: Identifier::from_static("staking"),
        function: Identifier::from_static(call.function()),
        type_arguments: Vec::new(),
        arguments,
    })];
    keeper.sign(gas, inputs, commands)
}

fn pure<T: serde::Serialize>(value: &T) -> Result<Input, OperatorError> {
    bcs::to_bytes(value)
        .map(Input::Pure)
        .map_err(|error| OperatorError::Encoding(error.to_string()))
}

/// The faucet's transfer of `sui` MIST (split off its gas coin) and `wal` FROST (split off its
/// WAL coin) to `recipient`, each only if non-zero: one new coin of each, in that order.
pub fn faucet_transaction(
    executor: &Executor,
    genesis: &Genesis,
    recipient: Address,
    sui: u64,
    wal: u64,
) -> Result<SignedTransaction, OperatorError> {
    let faucet = Operator::faucet();
    let gas = faucet.coin(executor, genesis, ObjectType::SuiCoin)?;
    let mut inputs = vec![pure(&recipient)?];
    let mut commands = Vec::new();
    let mut coins = Vec::new();
    if sui > 0 {
        inputs.push(pure(&sui)?);
        coins.push(Argument::NestedResult(
            u16::try_from(commands.len()).unwrap_or(u16::MAX),
            0,
        ));
        commands.push(Command::SplitCoins(SplitCoins {
            coin: Argument::Gas,
            amounts: vec![Argument::Input(1)],
        }));
    }
    if wal > 0 {
        let wal_coin = faucet.coin(executor, genesis, ObjectType::WalCoin)?;
        let coin_input = u16::try_from(inputs.len()).unwrap_or(u16::MAX);
        inputs.push(Input::ImmutableOrOwned(wal_coin));
        inputs.push(pure(&wal)?);
        coins.push(Argument::NestedResult(
            u16::try_from(commands.len()).unwrap_or(u16::MAX),
            0,
        ));
        commands.push(Command::SplitCoins(SplitCoins {
            coin: Argument::Input(coin_input),
            amounts: vec![Argument::Input(coin_input + 1)],
        }));
    }
    commands.push(Command::TransferObjects(TransferObjects {
        objects: coins,
        address: Argument::Input(0),
    }));
    faucet.sign(gas, inputs, commands)
}

/// Errors of running an operator transaction on the chain.
#[derive(Debug, thiserror::Error)]
pub enum OperatorRunError {
    /// The transaction could not be built.
    #[error(transparent)]
    Build(#[from] OperatorError),
    /// The transaction failed (nothing changed).
    #[error(transparent)]
    Execution(#[from] ExecutionError),
}

/// One keeper call that ran: which, the epoch after it, and the transaction's effects.
#[derive(Debug, Clone)]
pub struct KeeperRun {
    /// The call.
    pub call: KeeperCall,
    /// The staking epoch after it.
    pub epoch: u32,
    /// Its effects (`EpochParametersSelected`, or `ShardsReceived` and `EpochChangeStart`).
    pub effects: Effects,
}

/// Runs the keeper's calls that are due (see [`due_keeper_call`]): `voting_end`, then
/// `initiate_epoch_change` if the epoch is over too, each a signed transaction executed and
/// recorded (it goes into the next checkpoint with its events). Returns the calls that ran
/// (none if nothing is due). A Move abort (e.g. no stake) changes nothing and is the error.
pub fn run_keeper(
    state: &mut ChainState,
    genesis: &Genesis,
) -> Result<Vec<KeeperRun>, OperatorRunError> {
    let mut runs = Vec::new();
    // At most one of each per run: the next call is due at the earliest half an epoch later.
    while runs.len() < 2 {
        let Some(call) = due_keeper_call(&state.executor, genesis)? else {
            break;
        };
        let signed = keeper_transaction(&state.executor, genesis, call)?;
        let (effects, _) = state.execute(&signed.transaction, &signed.signatures)?;
        let epoch = staking_of(&state.executor, genesis)?.epoch;
        runs.push(KeeperRun {
            call,
            epoch,
            effects,
        });
        if call == KeeperCall::InitiateEpochChange {
            break;
        }
    }
    Ok(runs)
}

/// Runs a faucet grant: the faucet's signed transfer ([`faucet_transaction`]), executed and
/// recorded. Returns its effects (the new coins are its created objects).
pub fn run_faucet(
    state: &mut ChainState,
    genesis: &Genesis,
    recipient: Address,
    sui: u64,
    wal: u64,
) -> Result<Effects, OperatorRunError> {
    let signed = faucet_transaction(&state.executor, genesis, recipient, sui, wal)?;
    let (effects, _) = state.execute(&signed.transaction, &signed.signatures)?;
    Ok(effects)
}
