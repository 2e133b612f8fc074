//! The integration tests of the localchain, one module per suite, in one test binary (one
//! compile and one link for all of them: each test binary re-instantiates the generic
//! code it uses and links the whole dependency tree).

mod blob_lifecycle;
mod chain_client;
mod common;
mod genesis;
mod grpc;
mod operators;
mod persistence;
mod rejections;
mod staking;
mod system_ops;
