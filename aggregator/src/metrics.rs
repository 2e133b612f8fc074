//! Prometheus metrics of the aggregator, served at `/metrics`.

use prometheus::{HistogramVec, IntCounter, IntGauge};
use walrus_service::{MetricsRegistry, RequestMetrics};

/// The aggregator's metrics (cheap to clone handles into one registry).
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The registry all of them are in.
    pub registry: MetricsRegistry,
    /// Requests by route template and HTTP status code (`walrus_aggregator_requests_total`),
    /// and their latency by route template and status class
    /// (`walrus_aggregator_request_seconds`).
    pub requests: RequestMetrics,
    /// Body bytes of blob answers (200 and 206).
    pub bytes_served: IntCounter,
    /// Blob requests answered from the cache.
    pub cache_hits: IntCounter,
    /// Blob requests that did not find the blob in the cache.
    pub cache_misses: IntCounter,
    /// Bytes held by the cache.
    pub cache_bytes: IntGauge,
    /// Blobs held by the cache.
    pub cache_entries: IntGauge,
    /// Latency of reads from the network by kind (`blob`, `range`, `size`, `object`) and
    /// result (`ok`, `error`).
    pub read_latency: HistogramVec,
    /// Reads of blob data (whole or range) running now.
    pub reads_running: IntGauge,
    /// Reads of blob data waiting for a running slot.
    pub reads_queued: IntGauge,
    /// Requests refused (503) because too many reads were running and waiting.
    pub reads_rejected: IntCounter,
    /// Whole reads cancelled because every client waiting for them went away.
    pub reads_cancelled: IntCounter,
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub(crate) fn new() -> Self {
        let registry = MetricsRegistry::new();
        Self {
            requests: RequestMetrics::register(&registry, "walrus_aggregator"),
            bytes_served: registry.counter(
                "walrus_aggregator_bytes_served_total",
                "Body bytes of blob answers",
            ),
            cache_hits: registry.counter(
                "walrus_aggregator_cache_hits_total",
                "Blob requests answered from the cache",
            ),
            cache_misses: registry.counter(
                "walrus_aggregator_cache_misses_total",
                "Blob requests that missed the cache",
            ),
            cache_bytes: registry.gauge("walrus_aggregator_cache_bytes", "Bytes in the cache"),
            cache_entries: registry.gauge("walrus_aggregator_cache_entries", "Blobs in the cache"),
            read_latency: registry.histogram_vec(
                "walrus_aggregator_read_seconds",
                "Latency of reads from the network by kind and result",
                &["kind", "result"],
                Some(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                ]),
            ),
            reads_running: registry.gauge(
                "walrus_aggregator_reads_running",
                "Reads of blob data running now",
            ),
            reads_queued: registry.gauge(
                "walrus_aggregator_reads_queued",
                "Reads of blob data waiting for a running slot",
            ),
            reads_rejected: registry.counter(
                "walrus_aggregator_reads_rejected_total",
                "Requests refused because too many reads were running and waiting",
            ),
            reads_cancelled: registry.counter(
                "walrus_aggregator_reads_cancelled_total",
                "Whole reads cancelled because every waiting client went away",
            ),
            registry,
        }
    }
}
