//! Prometheus metrics of the aggregator, served at `/metrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The aggregator's metrics (cheap to clone handles into one registry).
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route template and HTTP status code.
    pub requests: IntCounterVec,
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
    pub fn new() -> Self {
        let registry = Registry::new();
        let register = |metric: Box<dyn prometheus::core::Collector>| {
            registry.register(metric).expect("unique metric");
        };
        let requests = IntCounterVec::new(
            Opts::new(
                "walrus_aggregator_requests_total",
                "HTTP requests by route and status",
            ),
            &["route", "status"],
        )
        .expect("valid metric");
        let bytes_served = IntCounter::new(
            "walrus_aggregator_bytes_served_total",
            "Body bytes of blob answers",
        )
        .expect("valid metric");
        let cache_hits = IntCounter::new(
            "walrus_aggregator_cache_hits_total",
            "Blob requests answered from the cache",
        )
        .expect("valid metric");
        let cache_misses = IntCounter::new(
            "walrus_aggregator_cache_misses_total",
            "Blob requests that missed the cache",
        )
        .expect("valid metric");
        let cache_bytes = IntGauge::new("walrus_aggregator_cache_bytes", "Bytes in the cache")
            .expect("valid metric");
        let cache_entries = IntGauge::new("walrus_aggregator_cache_entries", "Blobs in the cache")
            .expect("valid metric");
        let read_latency = HistogramVec::new(
            HistogramOpts::new(
                "walrus_aggregator_read_seconds",
                "Latency of reads from the network by kind and result",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
            &["kind", "result"],
        )
        .expect("valid metric");
        let reads_running = IntGauge::new(
            "walrus_aggregator_reads_running",
            "Reads of blob data running now",
        )
        .expect("valid metric");
        let reads_queued = IntGauge::new(
            "walrus_aggregator_reads_queued",
            "Reads of blob data waiting for a running slot",
        )
        .expect("valid metric");
        let reads_rejected = IntCounter::new(
            "walrus_aggregator_reads_rejected_total",
            "Requests refused because too many reads were running and waiting",
        )
        .expect("valid metric");
        let reads_cancelled = IntCounter::new(
            "walrus_aggregator_reads_cancelled_total",
            "Whole reads cancelled because every waiting client went away",
        )
        .expect("valid metric");
        register(Box::new(requests.clone()));
        register(Box::new(bytes_served.clone()));
        register(Box::new(cache_hits.clone()));
        register(Box::new(cache_misses.clone()));
        register(Box::new(cache_bytes.clone()));
        register(Box::new(cache_entries.clone()));
        register(Box::new(read_latency.clone()));
        register(Box::new(reads_running.clone()));
        register(Box::new(reads_queued.clone()));
        register(Box::new(reads_rejected.clone()));
        register(Box::new(reads_cancelled.clone()));
        Self {
            registry,
            requests,
            bytes_served,
            cache_hits,
            cache_misses,
            cache_bytes,
            cache_entries,
            read_latency,
            reads_running,
            reads_queued,
            reads_rejected,
            reads_cancelled,
        }
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding gathered families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
