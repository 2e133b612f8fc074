//! Prometheus metrics of the publisher, served at `/metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The publisher's metrics (handles into one registry; cheap to clone).
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route template (`unmatched` for unknown routes) and HTTP status code.
    pub requests: IntCounterVec,
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
    pub fn new() -> Self {
        let registry = Registry::new();
        let register = |collector: Box<dyn prometheus::core::Collector>| {
            registry.register(collector).expect("unique metric");
        };
        let requests = IntCounterVec::new(
            Opts::new(
                "walrus_publisher_requests_total",
                "HTTP requests by route and status code",
            ),
            &["route", "status"],
        )
        .expect("valid metric");
        register(Box::new(requests.clone()));
        let stores = IntCounterVec::new(
            Opts::new("walrus_publisher_stores_total", "Stores by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        register(Box::new(stores.clone()));
        let stored_bytes = IntCounter::new(
            "walrus_publisher_stored_bytes_total",
            "Unencoded bytes of successfully stored blobs",
        )
        .expect("valid metric");
        register(Box::new(stored_bytes.clone()));
        let store_seconds = Histogram::with_opts(
            HistogramOpts::new("walrus_publisher_store_seconds", "Duration of stores").buckets(
                vec![
                    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                ],
            ),
        )
        .expect("valid metric");
        register(Box::new(store_seconds.clone()));
        let in_flight = IntGauge::new("walrus_publisher_stores_in_flight", "Stores running now")
            .expect("valid metric");
        register(Box::new(in_flight.clone()));
        let queued = IntGauge::new(
            "walrus_publisher_uploads_queued",
            "Uploads waiting for a store slot",
        )
        .expect("valid metric");
        register(Box::new(queued.clone()));
        Self {
            registry,
            requests,
            stores,
            stored_bytes,
            store_seconds,
            in_flight,
            queued,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_registered_metrics() {
        let metrics = Metrics::new();
        metrics
            .requests
            .with_label_values(&["/v1/blobs", "200"])
            .inc();
        metrics.stored_bytes.inc_by(42);
        metrics.store_seconds.observe(1.5);
        let text = metrics.render();
        assert!(
            text.contains("walrus_publisher_requests_total{route=\"/v1/blobs\",status=\"200\"} 1")
        );
        assert!(text.contains("walrus_publisher_stored_bytes_total 42"));
        assert!(text.contains("walrus_publisher_store_seconds_count 1"));
        assert!(text.contains("walrus_publisher_uploads_queued 0"));
    }
}
