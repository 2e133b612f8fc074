//! The integration tests of the end-to-end suite, one module per suite, in one test binary (one
//! compile and one link for all of them: each test binary re-instantiates the generic
//! code it uses and links the whole dependency tree).

mod adversarial;
mod audit;
mod batch_store;
mod cli_commands;
mod committee_changes;
mod faults_availability;
mod faults_integrity;
mod hostile_requests;
mod public_ts_client;
mod publisher_pool;
mod quilts;
mod sdk_end_to_end;
mod services;
mod staking_cli;
mod storage_nodes;
mod tls_nodes;
