//! The integration tests of the chain crate, one module per suite, in one test binary (one
//! compile and one link for all of them: each test binary re-instantiates the generic
//! code it uses and links the whole dependency tree).

mod staking;
mod system_invariants;
mod system_lifecycle;
mod twin_table;
