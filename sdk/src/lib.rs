//! `walrus-sdk`: the client side of the network. For now it holds what needs no network:
//! computing a blob's ID and encoding facts from its bytes, as `walrus blob-id` prints them.

pub mod blob_id;
