//! `walrus-aggregator`: the read side of the Walrus HTTP API.
//!
//! `GET /v1/blobs/{blob_id}` and `GET /v1/blobs/by-object-id/{object_id}` answer a blob's raw
//! bytes (also `HEAD`, single `Range`s, `If-None-Match`), over any [`BlobSource`]: the network
//! through [`walrus_sdk::client::WalrusSdk`], or an in-memory mock in tests. Whole blobs are kept
//! in an LRU cache bounded by bytes, and concurrent reads of one uncached blob share one read of
//! the network. `GET /v1/health`, `/metrics` (Prometheus) and `/v1/api` (the OpenAPI document,
//! generated from the routes: [`openapi`]) describe the service.
//!
//! # Hostile content and hostile clients
//!
//! Anyone can store a blob, and the aggregator serves it from its own origin, so blob bytes are
//! never served with a type a browser executes or renders actively (HTML, XHTML, SVG,
//! JavaScript, XML, ...): only passive types ([`server::is_passive_content_type`]: images other
//! than SVG, audio, video, fonts, plain text, JSON, ...) are kept, whether sniffed or taken from
//! a `Blob` object's `content-type` attribute; every other type is served as
//! `application/octet-stream`. Every blob answer also carries `X-Content-Type-Options: nosniff`
//! and `Content-Security-Policy: sandbox`. [`AggregatorConfig::allow_active_content`] (the
//! binary's `--allow-active-content`) keeps the detected type. Its risk: anyone who stores a
//! blob can then publish an HTML page or SVG under the aggregator's origin. The sandbox header
//! still applies (browsers that honour it render the page in an opaque origin without scripts,
//! forms or popups), but the page can still phish under that URL, and clients that ignore CSP
//! run its scripts on the origin. Set it only for an aggregator on an origin of its own that
//! holds no cookies or credentials of any other site.
//!
//! Reads from the network are bounded: at most [`AggregatorConfig::max_concurrent_reads`]
//! distinct reads (whole blobs and ranges) run at once and at most
//! [`AggregatorConfig::max_queued_reads`] more wait; beyond that a request is answered 503
//! UNAVAILABLE with `Retry-After` at once. Requests for a blob already being read share that
//! read and take no place. A read whose every waiting client went away is cancelled.
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
pub mod openapi;
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

/// The default of [`AggregatorConfig::max_concurrent_reads`].
pub const DEFAULT_MAX_CONCURRENT_READS: usize = 8;

/// The default of [`AggregatorConfig::max_queued_reads`].
pub const DEFAULT_MAX_QUEUED_READS: usize = 32;

/// The default of [`AggregatorConfig::stream_threshold_bytes`]: 8 MiB.
pub const DEFAULT_STREAM_THRESHOLD_BYTES: u64 = 8 << 20;

/// The default of [`AggregatorConfig::allowed_headers`] (Walrus's): the `Blob` attributes and
/// quilt patch tags of these names become response headers.
pub const DEFAULT_ALLOWED_HEADERS: [&str; 7] = [
    "content-type",
    "authorization",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-location",
    "link",
];

/// Settings of the aggregator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatorConfig {
    /// Bytes of whole blobs kept in memory (0 disables the cache); blobs larger than a quarter
    /// of it are not cached.
    pub cache_bytes: u64,
    /// Blobs larger than this are refused (413 PAYLOAD_TOO_LARGE) before their data is read.
    pub max_blob_bytes: Option<u64>,
    /// Serve blobs with the content type detected (sniffed or from the object's attributes)
    /// even when a browser executes or renders it actively (HTML, SVG, JavaScript, XML, ...).
    /// Off by default: such blobs are served as `application/octet-stream`. Turning it on lets
    /// anyone who stores a blob publish a page on the aggregator's origin; do it only on an
    /// origin of its own that no other site trusts.
    pub allow_active_content: bool,
    /// Distinct reads of the network (whole blobs and ranges) running at once (at least 1).
    /// Each whole read holds the blob in memory while it is decoded.
    pub max_concurrent_reads: usize,
    /// Reads that may wait for a running place; beyond that, 503 UNAVAILABLE with
    /// `Retry-After`.
    pub max_queued_reads: usize,
    /// Uncached whole blobs larger than this are streamed: the first bytes go out while the
    /// rest is still being read, in memory bounded by a constant (rows wait in a temporary
    /// file); smaller ones are read whole, shared by concurrent requests, then cached.
    pub stream_threshold_bytes: u64,
    /// The `Blob` object attributes (reads by object ID) and quilt patch tags of these names
    /// become response headers (`content-type` under the active-content rule above). Never
    /// one the aggregator sets itself (`ETag`, `Cache-Control`, `X-Content-Type-Options`,
    /// `Content-Security-Policy`, ...) or one that frames the answer (`Content-Length`, ...).
    pub allowed_headers: Vec<axum::http::HeaderName>,
    /// Every quilt patch tag that is a valid header becomes one, not only
    /// [`Self::allowed_headers`] (with the same exceptions).
    pub allow_quilt_patch_tags_in_response: bool,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        Self {
            cache_bytes: DEFAULT_CACHE_BYTES,
            max_blob_bytes: None,
            allow_active_content: false,
            max_concurrent_reads: DEFAULT_MAX_CONCURRENT_READS,
            max_queued_reads: DEFAULT_MAX_QUEUED_READS,
            stream_threshold_bytes: DEFAULT_STREAM_THRESHOLD_BYTES,
            allowed_headers: DEFAULT_ALLOWED_HEADERS
                .iter()
                .map(|name| axum::http::HeaderName::from_static(name))
                .collect(),
            allow_quilt_patch_tags_in_response: false,
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
