//! `walrus-sdk`: the client side of the network: [`client::WalrusSdk`] stores and reads blobs
//! (chain transactions through `walrus-chain`, node requests through `walrus-node-client`);
//! [`blob_id`] computes a blob's ID offline, as `walrus blob-id` prints it.

pub mod blob_id;
pub mod client;
pub mod config;
pub mod outcome;
