//! `walrus-chain`: everything about the chain.
//!
//! - [`contract`]: the Rust twin of the Move packages in `contracts/` (`wal`, `walrus`): the
//!   same structs with the same BCS layout, the same public functions with the same checks in
//!   the same order, the same abort codes and events. Pure and deterministic; the localnet
//!   executes Sui transactions against it.

pub mod contract;
