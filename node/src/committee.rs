//! The committee view (shared with clients; it lives in the chain client).

pub use walrus_chain::client::committee::*;
