//! Why a transaction was rejected. Every error leaves the object store untouched.

use sui_sdk_types::{Address, Digest, Version};
use walrus_chain::contract::Abort;

/// A rejected transaction: a check before execution failed, or a command failed.
///
/// `command` fields are the index of the failing command in the programmable transaction;
/// `argument` fields are the position of the argument within that command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionError {
    /// Only programmable transactions are accepted.
    #[error("unsupported transaction kind: only programmable transactions can be executed")]
    UnsupportedTransactionKind,
    /// The transaction's expiration is not supported or has passed.
    #[error("transaction expiration: {0}")]
    Expiration(String),
    /// This transaction was executed already.
    #[error("transaction {0} was executed already")]
    AlreadyExecuted(Digest),
    /// Exactly one signature (the sender's) is required: sponsored transactions are not
    /// supported yet.
    #[error("expected exactly 1 signature (the sender's), got {0}")]
    SignatureCount(usize),
    /// The signature does not verify over the transaction.
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
    /// The signature verifies but belongs to another address than the sender.
    #[error("the signature is by {signer}, not by the sender {sender}")]
    SignerMismatch {
        /// The transaction's sender.
        sender: Address,
        /// The address derived from the signature.
        signer: Address,
    },
    /// The gas payment is malformed (no coins, sponsor, price too low, budget too high ...).
    #[error("invalid gas payment: {0}")]
    InvalidGasPayment(String),
    /// The gas budget does not cover the cost of the transaction.
    #[error("gas budget {budget} is below the transaction's cost {required}")]
    InsufficientGasBudget {
        /// The budget offered.
        budget: u64,
        /// The cost of the transaction.
        required: u64,
    },
    /// The gas coins hold less than the gas budget.
    #[error("gas coins hold {balance} MIST, less than the budget {budget}")]
    InsufficientGasBalance {
        /// Sum of the gas coins.
        balance: u64,
        /// The budget.
        budget: u64,
    },
    /// An input object does not exist.
    #[error("object {0} does not exist")]
    ObjectNotFound(Address),
    /// An owned or immutable input names another version or digest than the current one.
    #[error(
        "stale object reference: {object} is at version {current_version} \
         (digest {current_digest}), the transaction names version {version} (digest {digest})"
    )]
    StaleObjectReference {
        /// The object.
        object: Address,
        /// The version named in the transaction.
        version: Version,
        /// The digest named in the transaction.
        digest: Digest,
        /// The current version.
        current_version: Version,
        /// The current digest.
        current_digest: Digest,
    },
    /// An owned input (or gas coin) is owned by someone other than the sender.
    #[error("object {object} is not owned by the sender: its owner is {owner}")]
    NotOwnedBySender {
        /// The object.
        object: Address,
        /// Its owner, as text.
        owner: String,
    },
    /// A shared input is not shared, names a wrong initial shared version, or a shared object
    /// was passed as an owned one.
    #[error("invalid shared object input {object}: {reason}")]
    InvalidSharedInput {
        /// The object.
        object: Address,
        /// What is wrong.
        reason: String,
    },
    /// The same object appears twice among the inputs and gas coins.
    #[error("object {0} is used twice as an input or gas coin")]
    DuplicateObject(Address),
    /// An input kind or object type the localnet does not support.
    #[error("unsupported input {index}: {reason}")]
    UnsupportedInput {
        /// Input index.
        index: usize,
        /// What is unsupported.
        reason: String,
    },
    /// A command refers to an input or result that does not exist.
    #[error("command {command}: invalid argument {argument}: {reason}")]
    InvalidArgument {
        /// Command index.
        command: usize,
        /// Argument position.
        argument: usize,
        /// What is wrong.
        reason: String,
    },
    /// A value was used after it was moved (or is used twice in one command).
    #[error("command {command}: argument {argument} was already moved or is used twice")]
    ValueUnavailable {
        /// Command index.
        command: usize,
        /// Argument position.
        argument: usize,
    },
    /// An argument has the wrong Move type.
    #[error("command {command}: argument {argument} has type {found}, expected {expected}")]
    TypeMismatch {
        /// Command index.
        command: usize,
        /// Argument position.
        argument: usize,
        /// The expected Move type.
        expected: String,
        /// The argument's Move type.
        found: String,
    },
    /// An object is used in a way its input kind forbids (an immutable or read-only shared
    /// object mutably, a shared or immutable object or the gas coin by value).
    #[error("command {command}: argument {argument}: {reason}")]
    InvalidObjectUse {
        /// Command index.
        command: usize,
        /// Argument position.
        argument: usize,
        /// What is forbidden.
        reason: String,
    },
    /// Pure bytes do not decode as the parameter's type.
    #[error("command {command}: argument {argument} is not a valid BCS {expected}: {reason}")]
    InvalidPureBytes {
        /// Command index.
        command: usize,
        /// Argument position.
        argument: usize,
        /// The expected Move type.
        expected: String,
        /// The decoding error.
        reason: String,
    },
    /// A Move call to a function the localnet does not have.
    #[error("command {command}: no callable function {package}::{module}::{function}")]
    FunctionNotFound {
        /// Command index.
        command: usize,
        /// The package.
        package: Address,
        /// The module.
        module: String,
        /// The function.
        function: String,
    },
    /// A Move call with the wrong number of arguments or type arguments.
    #[error("command {command}: {function} takes {expected} arguments, got {found}")]
    ArityMismatch {
        /// Command index.
        command: usize,
        /// The function.
        function: String,
        /// Expected count.
        expected: usize,
        /// Given count.
        found: usize,
    },
    /// A Move call aborted.
    #[error("command {command}: {abort}")]
    MoveAbort {
        /// Command index.
        command: usize,
        /// The abort: module, code and the name of the error constant.
        abort: Abort,
    },
    /// `SplitCoins` asked for more than the coin holds.
    #[error("command {command}: insufficient coin balance")]
    InsufficientCoinBalance {
        /// Command index.
        command: usize,
    },
    /// A command the localnet does not support (`Publish`, `Upgrade`, `MakeMoveVec`).
    #[error("command {command}: unsupported command {kind}")]
    UnsupportedCommand {
        /// Command index.
        command: usize,
        /// The command kind.
        kind: String,
    },
    /// An object without `drop` returned by a command was neither used nor transferred.
    #[error("unused value without drop: result {result} of command {command}")]
    UnusedValueWithoutDrop {
        /// Command index.
        command: usize,
        /// Result index.
        result: usize,
    },
    /// A bug or an impossible state (e.g. a BCS encoding failure).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ExecutionError {
    /// The Move abort, if the transaction failed with one.
    pub fn move_abort(&self) -> Option<Abort> {
        match self {
            ExecutionError::MoveAbort { abort, .. } => Some(*abort),
            _ => None,
        }
    }
}
