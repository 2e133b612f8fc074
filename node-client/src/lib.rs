//! Wire types of the storage-node REST API and an HTTP client for it.
//!
//! - [`api`]: routes (axum templates and path builders), JSON envelopes ([`ApiSuccess`],
//!   [`ApiError`]), [`ErrorReason`], [`BlobStatus`] and its "latest" order, health info. Shared
//!   by the node's server and every client.
//! - [`client`]: [`NodeClient`], an async reqwest client of one node, with a cap on response
//!   bodies.
//! - [`tls`]: the nodes' network keys and TLS as Walrus has it; clients pinned to a node's
//!   on-chain network key ([`NodeConnector`] makes the clients of committee members).
//! - `testing` (cargo feature `testing`): `MockNode`, a mock storage node for tests.

pub mod api;
pub mod client;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

pub use api::{
    ApiError, ApiErrorBody, ApiSuccess, BlobStatus, DeletableCounts, ErrorReason, EventCursor,
    EventId, EventProgress, RecoverySymbolsQuery, ServiceHealthInfo, StoredOnNodeStatus,
    TransactionDigest, BCS_CONTENT_TYPE,
};
pub use client::{default_http_client, NodeClient, NodeClientError};
pub use tls::{NetworkPublicKey, NodeConnector};
