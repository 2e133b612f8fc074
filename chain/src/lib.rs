//! `walrus-chain`: everything about the chain.
//!
//! - [`contract`]: the Rust twin of the Move packages in `contracts/` (`wal`, `walrus`): the
//!   same structs with the same BCS layout, the same public functions with the same checks in
//!   the same order, the same abort codes and events. Pure and deterministic; the localnet
//!   executes Sui transactions against it.
//! - [`client`]: the chain client: typed Walrus operations as signed programmable
//!   transactions over Sui's gRPC API (`sui-rpc`), reads decoded with the twin's types, and
//!   a resumable event stream.

pub mod client;
pub mod contract;
#[cfg(feature = "testing")]
pub mod testing;
