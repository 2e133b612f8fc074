//! The Move contracts' twin. One Rust module per Move module; `sui` holds the few framework
//! types the contracts use (coins, object IDs, the transaction context, the clock).
//!
//! Conventions: a Move `abort` is an `Err(Abort)`; a function that aborts leaves its `&mut`
//! arguments untouched (every check happens before the first write), as a Move transaction
//! that aborts leaves no trace. Events go into the [`sui::TxContext`].

pub mod blob;
pub mod bls_aggregate;
pub mod events;
pub mod init;
pub mod messages;
pub mod redstuff;
pub mod staking;
pub mod storage_resource;
pub mod sui;
pub mod system;

use std::fmt;

/// A Move abort: the module that aborted and its abort code (the position of the error
/// constant in the module, as in the Move source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Abort {
    /// The Move module, e.g. `system`.
    pub module: &'static str,
    /// The abort code.
    pub code: u64,
    /// The name of the error constant, e.g. `EInvalidBlobId`.
    pub name: &'static str,
}

impl Abort {
    /// An abort of `module` with `code`, named `name`.
    pub const fn new(module: &'static str, code: u64, name: &'static str) -> Self {
        Self { module, code, name }
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MoveAbort(walrus::{}, {}): {}",
            self.module, self.code, self.name
        )
    }
}

impl std::error::Error for Abort {}

/// What Sui reports when Move arithmetic overflows or divides by zero (`ARITHMETIC_ERROR`, a VM
/// error rather than a module abort).
pub const ARITHMETIC_ERROR: Abort = Abort::new("vm", 4017, "ARITHMETIC_ERROR");

/// The result of a Move call.
pub type MoveResult<T> = Result<T, Abort>;

/// `assert!(condition, error)` as in Move.
pub(crate) fn ensure(condition: bool, error: Abort) -> MoveResult<()> {
    if condition {
        Ok(())
    } else {
        Err(error)
    }
}
