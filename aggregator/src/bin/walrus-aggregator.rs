//! `walrus-aggregator`: serves blobs of a Walrus network over HTTP (the read side of the
//! Walrus HTTP API).

use std::sync::Arc;

use anyhow::Context;
use axum::http::HeaderName;
use clap::Parser;
use walrus_aggregator::{
    parse_byte_size, AggregatorConfig, DEFAULT_ALLOWED_HEADERS, DEFAULT_LISTEN,
    DEFAULT_MAX_CONCURRENT_READS, DEFAULT_MAX_QUEUED_READS,
};
use walrus_service::cli::{default_listen, ServiceArgs};

/// The Walrus aggregator: serves blobs by blob ID or `Blob` object ID over HTTP.
///
/// Routes: `GET|HEAD /v1/blobs/{blob_id}`, `GET|HEAD /v1/blobs/by-object-id/{object_id}`
/// (single byte ranges, `If-None-Match`, `?strict_consistency_check=true`,
/// `?skip_consistency_check=true`), `GET /v1/blobs/{blob_id}/byte-range?start=&length=`,
/// the quilt reads (`/v1/blobs/by-quilt-patch-id/{id}`,
/// `/v1/blobs/by-quilt-id/{quilt_id}/{identifier}`, `/v1/quilts/{quilt_id}/patches`),
/// `GET /v1/health`, `GET /metrics` (Prometheus),
/// `GET /v1/api` (OpenAPI). Stops gracefully on SIGTERM or Ctrl-C.
///
/// Blobs are content anyone can publish, served from this aggregator's origin: by default a
/// blob whose type a browser would execute or render as a document (HTML, SVG, JavaScript,
/// XML, ...) is served as `application/octet-stream`, and every blob answer carries
/// `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`. Reads of the
/// network are bounded (`--max-concurrent-reads`, `--max-queued-reads`; 503 with
/// `Retry-After` beyond), and a read nobody waits for any more is cancelled.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    long_about,
    mut_arg("listen", default_listen(DEFAULT_LISTEN))
)]
struct Cli {
    #[command(flatten)]
    service: ServiceArgs,
    /// Memory for cached whole blobs (e.g. 268435456, 512MiB, 1GiB; 0 disables the cache).
    /// Blobs larger than a quarter of it are not cached.
    #[arg(long, default_value = "256MiB", value_parser = parse_byte_size)]
    cache_bytes: u64,
    /// Refuse blobs larger than this (413) before reading them (e.g. 100MiB); no limit by
    /// default.
    #[arg(long, value_parser = parse_byte_size)]
    max_blob_bytes: Option<u64>,
    /// Serve blobs with their detected content type even when browsers execute or render it
    /// actively (text/html, image/svg+xml, JavaScript, XML, ...). RISK: anyone who stores a
    /// blob can then publish a page under this aggregator's origin (shown in a CSP sandbox, so
    /// without scripts, but fit for phishing, and without the sandbox for clients that ignore
    /// CSP). Use it only on an origin of its own that no other site or cookie trusts.
    #[arg(long)]
    allow_active_content: bool,
    /// Reads of blob data from the network (whole blobs, decoded in memory, and ranges)
    /// running at once; requests for a blob already being read share its read.
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENT_READS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_concurrent_reads: usize,
    /// Reads that may wait for a running slot; beyond that requests get 503 with Retry-After.
    #[arg(long, default_value_t = DEFAULT_MAX_QUEUED_READS)]
    max_queued_reads: usize,
    /// Uncached blobs larger than this are streamed: bytes go out while the rest is still
    /// being read, in constant memory (rows wait in a temporary file under TMPDIR); smaller
    /// blobs are read whole (one read shared by concurrent requests) and cached.
    #[arg(long, default_value = "8MiB", value_parser = parse_byte_size)]
    stream_threshold: u64,
    /// `Blob` object attributes (reads by object ID) and quilt patch tags of these names
    /// become response headers (never one the aggregator sets itself, such as `ETag` or
    /// `Content-Security-Policy`, nor `Content-Length`, `Set-Cookie`, ...).
    #[arg(long, num_args = 1.., default_values = DEFAULT_ALLOWED_HEADERS,
          value_parser = parse_header_name)]
    allowed_headers: Vec<HeaderName>,
    /// Every quilt patch tag that is a valid header becomes one, not only those of
    /// `--allowed-headers` (same exceptions).
    #[arg(long)]
    allow_quilt_patch_tags_in_response: bool,
}

/// A header name (case-insensitive).
fn parse_header_name(text: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(text.as_bytes()).map_err(|error| format!("'{text}': {error}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    walrus_service::init_tracing();
    let cli = Cli::parse();
    let sdk = cli.service.sdk()?;
    let config = AggregatorConfig {
        cache_bytes: cli.cache_bytes,
        max_blob_bytes: cli.max_blob_bytes,
        allow_active_content: cli.allow_active_content,
        max_concurrent_reads: cli.max_concurrent_reads,
        max_queued_reads: cli.max_queued_reads,
        stream_threshold_bytes: cli.stream_threshold,
        allowed_headers: cli.allowed_headers,
        allow_quilt_patch_tags_in_response: cli.allow_quilt_patch_tags_in_response,
    };
    if config.allow_active_content {
        tracing::warn!(
            "--allow-active-content: blobs are served as HTML, SVG, JavaScript, ... from this \
             origin; anyone who stores a blob can publish a page here"
        );
    }
    let (listener, address) = cli.service.bind().await?;
    println!("listening on {address}");
    tracing::info!(%address, ?config, "aggregator started");
    walrus_aggregator::serve(
        listener,
        Arc::new(sdk),
        config,
        walrus_service::shutdown_signal(),
    )
    .await
    .context("the aggregator failed")
}
