//! Prometheus metrics of the publisher, served at `/metrics`.

use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge};
use walrus_service::{MetricsRegistry, RequestMetrics};

/// The publisher's metrics (handles into one registry; cheap to clone).
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The registry all of them are in.
    pub registry: MetricsRegistry,
    /// Requests by route template (`unmatched` for unknown routes) and HTTP status code
    /// (`walrus_publisher_requests_total`), and their latency by route template and status
    /// class (`walrus_publisher_request_seconds`).
    pub requests: RequestMetrics,
    /// Stores by outcome (`newly_created`, `already_certified`, `error`).
    pub stores: IntCounterVec,
    /// Bytes of blobs stored (unencoded sizes of successful stores).
    pub stored_bytes: IntCounter,
    /// Duration of stores (encode, register, upload, certify).
    pub store_seconds: Histogram,
    /// Stores running now.
    pub in_flight: IntGauge,
    /// Uploads waiting for a store slot.
    pub queued: IntGauge,
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub(crate) fn new() -> Self {
        let registry = MetricsRegistry::new();
        Self {
            requests: RequestMetrics::register(&registry, "walrus_publisher"),
            stores: registry.counter_vec(
                "walrus_publisher_stores_total",
                "Stores by outcome",
                &["outcome"],
            ),
            stored_bytes: registry.counter(
                "walrus_publisher_stored_bytes_total",
                "Unencoded bytes of successfully stored blobs",
            ),
            store_seconds: registry.histogram(
                "walrus_publisher_store_seconds",
                "Duration of stores",
                Some(vec![
                    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                ]),
            ),
            in_flight: registry.gauge("walrus_publisher_stores_in_flight", "Stores running now"),
            queued: registry.gauge(
                "walrus_publisher_uploads_queued",
                "Uploads waiting for a store slot",
            ),
            registry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_request_and_store_metrics() {
        let metrics = Metrics::new();
        metrics
            .requests
            .total
            .with_label_values(&["/v1/blobs", "200"])
            .inc();
        metrics.stored_bytes.inc_by(42);
        metrics.store_seconds.observe(1.5);
        let text = metrics.registry.render();
        assert!(
            text.contains("walrus_publisher_requests_total{route=\"/v1/blobs\",status=\"200\"} 1")
        );
        assert!(text.contains("walrus_publisher_stored_bytes_total 42"));
        assert!(text.contains("walrus_publisher_store_seconds_count 1"));
        assert!(text.contains("walrus_publisher_uploads_queued 0"));
    }
}
