//! Prometheus metrics of a node, served at `/metrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The node's metrics (cheap to clone handles into one registry).
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Bytes of metadata and slivers stored.
    pub stored_bytes: IntGauge,
    /// Slivers stored.
    pub stored_slivers: IntGauge,
    /// Slivers accepted from uploads (`PUT`).
    pub slivers_uploaded: IntCounter,
    /// Slivers rebuilt from peers' recovery symbols.
    pub slivers_recovered: IntCounter,
    /// Recovery attempts by result (`ok`, `failed`, `inconsistent`).
    pub recoveries: IntCounterVec,
    /// Bytes fetched from peers to recover slivers (symbols, proofs and metadata).
    pub recovery_bytes_fetched: IntCounter,
    /// Chain events applied.
    pub events_processed: IntCounter,
    /// Request latency by route template and status class.
    pub request_latency: HistogramVec,
    /// Requests refused by a limit (load shedding, oversize bodies, slow bodies) by reason.
    pub requests_refused: IntCounterVec,
    /// Answers from peers rejected as lies while recovering (forged or misplaced symbols,
    /// oversize answers).
    pub recovery_lies: IntCounter,
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| {
            let gauge = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(gauge.clone()))
                .expect("unique metric");
            gauge
        };
        let counter = |name: &str, help: &str| {
            let counter = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(counter.clone()))
                .expect("unique metric");
            counter
        };
        let stored_bytes = gauge(
            "walrus_node_stored_bytes",
            "Bytes of metadata and slivers stored",
        );
        let stored_slivers = gauge("walrus_node_stored_slivers", "Slivers stored");
        let slivers_uploaded = counter(
            "walrus_node_slivers_uploaded_total",
            "Slivers accepted from uploads",
        );
        let slivers_recovered = counter(
            "walrus_node_slivers_recovered_total",
            "Slivers rebuilt from peers' recovery symbols",
        );
        let recovery_bytes_fetched = counter(
            "walrus_node_recovery_bytes_fetched_total",
            "Bytes fetched from peers to recover slivers",
        );
        let events_processed =
            counter("walrus_node_events_processed_total", "Chain events applied");
        let recoveries = IntCounterVec::new(
            Opts::new("walrus_node_recoveries_total", "Blob recoveries by result"),
            &["result"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(recoveries.clone()))
            .expect("unique metric");
        let request_latency = HistogramVec::new(
            HistogramOpts::new(
                "walrus_node_request_seconds",
                "REST request latency by route and status class",
            ),
            &["route", "status"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(request_latency.clone()))
            .expect("unique metric");
        let requests_refused = IntCounterVec::new(
            Opts::new(
                "walrus_node_requests_refused_total",
                "Requests refused by a limit, by reason (busy, too_large, body_timeout)",
            ),
            &["reason"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests_refused.clone()))
            .expect("unique metric");
        let recovery_lies = counter(
            "walrus_node_recovery_lies_total",
            "Peer answers rejected as lies while recovering",
        );
        Self {
            registry,
            stored_bytes,
            stored_slivers,
            slivers_uploaded,
            slivers_recovered,
            recoveries,
            recovery_bytes_fetched,
            events_processed,
            request_latency,
            requests_refused,
            recovery_lies,
        }
    }

    /// Records `bytes` and `slivers` newly stored.
    pub fn add_stored(&self, bytes: u64, slivers: u64) {
        self.stored_bytes.add(gauge_value(bytes));
        self.stored_slivers.add(gauge_value(slivers));
    }

    /// Records data deleted.
    pub fn remove_stored(&self, freed: crate::store::Usage) {
        self.stored_bytes.sub(gauge_value(freed.bytes));
        self.stored_slivers.sub(gauge_value(freed.slivers));
    }

    /// Sets the stored totals (at start-up).
    pub fn set_stored(&self, usage: crate::store::Usage) {
        self.stored_bytes.set(gauge_value(usage.bytes));
        self.stored_slivers.set(gauge_value(usage.slivers));
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding gathered families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
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
        metrics.stored_bytes.set(42);
        metrics.recoveries.with_label_values(&["ok"]).inc();
        metrics
            .request_latency
            .with_label_values(&["/v1/health", "2xx"])
            .observe(0.01);
        let text = metrics.render();
        assert!(text.contains("walrus_node_stored_bytes 42"), "{text}");
        assert!(text.contains("walrus_node_recoveries_total{result=\"ok\"} 1"));
        assert!(text.contains("walrus_node_request_seconds_count"));
    }

    #[test]
    fn stored_totals_follow_writes_and_deletions() {
        let metrics = Metrics::new();
        metrics.set_stored(crate::store::Usage {
            bytes: 100,
            slivers: 2,
        });
        metrics.add_stored(50, 1);
        metrics.remove_stored(crate::store::Usage {
            bytes: 120,
            slivers: 2,
        });
        assert_eq!(
            (metrics.stored_bytes.get(), metrics.stored_slivers.get()),
            (30, 1)
        );
    }
}
