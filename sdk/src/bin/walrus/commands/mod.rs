//! The commands, by group.

pub mod attributes;
pub mod audit;
pub mod blob_id;
pub mod blobs;
pub mod get_wal;
pub mod health;
pub mod info;
pub mod json;
pub mod quilt;
pub mod read;
pub mod staking;
pub mod store;
