//! `walrus-localchain`: a Sui-compatible local chain for the Walrus contracts.
//!
//! At its core is a pure, deterministic transaction executor. It takes real signed Sui
//! transactions (`sui_sdk_types::Transaction` + `UserSignature`, as built by
//! `sui-transaction-builder` and signed by `sui-crypto`) and runs their programmable
//! transaction commands against the Rust twin of the Move packages
//! (`walrus_chain::contract`), over an in-memory [`ObjectStore`] of Sui objects with Sui's
//! versions, owners, types, BCS contents and object digests.
//!
//! - [`store`]: the object store ([`ObjectStore`]).
//! - [`genesis`]: the initial state: the `wal` and `walrus` packages at fixed IDs
//!   ([`WAL_PACKAGE_ID`], [`WALRUS_PACKAGE_ID`]), the `0x6` clock, the shared `System` and
//!   `Staking` objects created by `contract::init`, and SUI gas coins and WAL coins.
//! - [`executor`]: [`Executor::execute`] checks the signature, gas and inputs, runs the
//!   commands and commits all of the transaction or nothing; it returns the [`Effects`].
//! - [`types`]: the Move types the executor knows and their twin values.
//! - [`service`]: the gRPC server (Sui's `sui.rpc.v2` services from `sui-rpc`) over an
//!   executor, and [`checkpoints`]: the ledger of executed transactions and checkpoints.
//! - [`launcher`]: a durable chain as a service: the genesis file, epoch clock, faucet and
//!   [`launcher::run_chain`] (what `walrus-localnet chain` runs); [`operators`]: the built-in
//!   epoch keeper and faucet accounts, whose epoch changes and grants are ordinary signed
//!   transactions.
//! - [`db`]: the durable chain in one redb file ([`ChainDb`]); `service::ChainState::open`
//!   opens a data directory (genesis if empty, else resume).
//!
//! Differences from a Sui validator are listed in the crate's `README.md` (most notably: a
//! failed transaction is an `Err` and changes nothing, gas included).

pub mod checkpoints;
pub mod db;
pub mod effects;
pub mod error;
pub mod executor;
pub mod genesis;
pub mod launcher;
pub mod operators;
pub mod service;
pub mod store;
pub mod types;

mod dispatch;
mod runtime;

use sui_sdk_types::Address;

pub use db::{ChainDb, ChainDbError};
pub use effects::Effects;
pub use error::ExecutionError;
pub use executor::Executor;
pub use genesis::{Genesis, GenesisAccount, GenesisConfig, GenesisNode};
pub use service::{serve, serve_with_config, LocalServer, LocalnetService, ServiceConfig};
pub use store::ObjectStore;

/// The ID of the `wal` package (the WAL coin) on the localnet.
pub const WAL_PACKAGE_ID: Address = Address::from_static("0xa11");
/// The ID of the `walrus` package on the localnet.
pub const WALRUS_PACKAGE_ID: Address = Address::from_static("0xa12");
/// The Sui framework package (`0x2`).
pub const SUI_FRAMEWORK_ID: Address = Address::TWO;
/// The shared `0x2::clock::Clock` object (`0x6`).
pub const CLOCK_OBJECT_ID: Address = Address::from_static("0x6");
/// The initial shared version of the clock (as on Sui).
pub const CLOCK_INITIAL_SHARED_VERSION: u64 = 1;

/// The reference gas price (MIST per computation unit); transactions must offer at least this.
pub const REFERENCE_GAS_PRICE: u64 = 1_000;
/// Computation units charged for every transaction.
pub const BASE_COMPUTATION_UNITS: u64 = 1_000;
/// Computation units charged for every command of a transaction.
pub const COMPUTATION_UNITS_PER_COMMAND: u64 = 1_000;
/// The largest gas budget accepted (50 SUI, as on Sui).
pub const MAX_GAS_BUDGET: u64 = 50_000_000_000;

/// The Sui epoch of the localnet (it has no Sui epoch changes; Walrus epochs are in `System`).
pub const SUI_EPOCH: u64 = 0;
