//! The integration tests of the localnet, one module per suite, in one test binary (one
//! compile and one link for all of them: each test binary re-instantiates the generic
//! code it uses and links the whole dependency tree).

mod binary;
mod network;
mod node_add;
