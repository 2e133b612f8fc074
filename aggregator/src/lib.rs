//! `walrus-aggregator`: the read side of the Walrus HTTP API.
//!
//! `GET /v1/blobs/{blob_id}` and `GET /v1/blobs/by-object-id/{object_id}` answer a blob's raw
//! bytes (also `HEAD`, single `Range`s, `If-None-Match`), over any [`BlobSource`]: the network
//! through [`walrus_sdk::client::WalrusSdk`], or an in-memory mock in tests. Whole blobs are kept
//! in an LRU cache bounded by bytes, and concurrent reads of one uncached blob share one read of
//! the network. `GET /v1/health`, `/metrics` (Prometheus) and `/v1/api` (OpenAPI) describe the
//! service.
//!
//! ```no_run
//! # async fn example(sdk: walrus_sdk::client::WalrusSdk) -> std::io::Result<()> {
//! use std::sync::Arc;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:31416").await?;
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! walrus_aggregator::serve(listener, Arc::new(sdk), Default::default(), shutdown).await
//! # }
//! ```

pub mod cache;
pub mod error;
pub mod metrics;
pub mod range;
mod reader;
pub mod server;
pub mod source;

use std::{future::Future, sync::Arc};

pub use error::AggregatorError;
pub use server::router;
pub use source::{BlobObjectInfo, BlobSource};

/// The default size of the blob cache: 256 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 256 << 20;

/// Default listen address of the binary.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:31416";

/// Settings of the aggregator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregatorConfig {
    /// Bytes of whole blobs kept in memory (0 disables the cache); blobs larger than a quarter
    /// of it are not cached.
    pub cache_bytes: u64,
    /// Blobs larger than this are refused (413 PAYLOAD_TOO_LARGE) before their data is read.
    pub max_blob_bytes: Option<u64>,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        Self {
            cache_bytes: DEFAULT_CACHE_BYTES,
            max_blob_bytes: None,
        }
    }
}

/// Serves the aggregator API over `source` on `listener` until `shutdown` completes, then
/// finishes the requests in progress and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    source: Arc<dyn BlobSource>,
    config: AggregatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(source, config))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Parses a byte count: a number with an optional unit `B`, `K`/`KiB`, `M`/`MiB`, `G`/`GiB`
/// (powers of 1024; case-insensitive, e.g. `256MiB`, `1g`, `4096`).
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().map_err(|_| {
        format!("'{text}' is not a byte count (e.g. 1048576, 512KiB, 256MiB, 1GiB)")
    })?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("unknown unit '{other}' (use B, KiB, MiB or GiB)")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_byte_size;

    #[test]
    fn parses_byte_sizes() {
        assert_eq!(parse_byte_size("4096"), Ok(4096));
        assert_eq!(parse_byte_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_byte_size("1g"), Ok(1 << 30));
        assert_eq!(parse_byte_size("512 KiB"), Ok(512 << 10));
        assert!(parse_byte_size("MiB").is_err());
        assert!(parse_byte_size("12 parsecs").is_err());
        assert!(parse_byte_size("99999999999999999999GiB").is_err());
    }
}
