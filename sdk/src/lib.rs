//! `walrus-sdk`: the client side of the network: [`client::WalrusSdk`] stores and reads blobs
//! (chain transactions through `walrus-chain`, node requests through `walrus-node-client`);
//! [`blob_id`] computes a blob's ID offline, as `walrus blob-id` prints it; [`audit`] checks
//! which shards hold a blob without downloading it, as `walrus audit` prints it;
//! [`nodes::StorageNodes`] is the storage-node side alone, over any committee;
//! [`rejection`] classifies the contracts' Move aborts; [`wallet_pool::WalletPool`] runs
//! concurrent stores on sub-wallets funded by one main wallet; [`spill`] stores and reads
//! blobs of any size in bounded memory, through files; [`time`] reads and prints RFC 3339
//! times as the CLI's flags and outputs use them.

pub mod audit;
pub mod blob_id;
pub mod client;
pub mod config;
pub mod nodes;
pub mod outcome;
pub mod rejection;
pub mod spill;
pub mod time;
pub mod wallet_pool;
