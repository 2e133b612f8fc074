//! Prometheus metrics of the publisher, served at `/metrics`.

use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge};
use walrus_sdk::{
    client::SdkError,
    wallet_pool::{RefillObserver, RefillReport},
};
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
    /// Refill transactions from the main wallet to the sub-wallets, by result (`ok`,
    /// `error`).
    pub refills: IntCounterVec,
    /// Sub-wallet top-ups (one refill transaction may top up several sub-wallets).
    pub topups: IntCounter,
    /// SUI sent to sub-wallets, in MIST.
    pub refilled_sui: IntCounter,
    /// WAL sent to sub-wallets, in FROST.
    pub refilled_wal: IntCounter,
    /// Gas the refill transactions cost the main wallet, in MIST.
    pub refill_gas: IntCounter,
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
            refills: registry.counter_vec(
                "walrus_publisher_refills_total",
                "Refill transactions from the main wallet to the sub-wallets, by result",
                &["result"],
            ),
            topups: registry.counter(
                "walrus_publisher_sub_wallet_topups_total",
                "Sub-wallet top-ups (a refill transaction may top up several)",
            ),
            refilled_sui: registry.counter(
                "walrus_publisher_refilled_sui_mist_total",
                "SUI sent from the main wallet to sub-wallets, in MIST",
            ),
            refilled_wal: registry.counter(
                "walrus_publisher_refilled_wal_frost_total",
                "WAL sent from the main wallet to sub-wallets, in FROST",
            ),
            refill_gas: registry.counter(
                "walrus_publisher_refill_gas_mist_total",
                "Gas of the refill transactions, in MIST",
            ),
            registry,
        }
    }
}

impl RefillObserver for Metrics {
    fn refilled(&self, report: &RefillReport) {
        self.refills.with_label_values(&["ok"]).inc();
        for payment in &report.payments {
            self.topups.inc();
            self.refilled_sui.inc_by(payment.sui);
            self.refilled_wal.inc_by(payment.wal);
        }
        self.refill_gas
            .inc_by(u64::try_from(report.gas_cost).unwrap_or(0));
    }

    fn refill_failed(&self, _error: &SdkError) {
        self.refills.with_label_values(&["error"]).inc();
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

    #[test]
    fn refills_are_counted() {
        let metrics = Metrics::new();
        let payment = |sui, wal| walrus_chain::client::Payment {
            recipient: sui_sdk_types::Address::ZERO,
            sui,
            wal,
        };
        metrics.refilled(&RefillReport {
            digest: sui_sdk_types::Digest::ZERO,
            payments: vec![payment(5, 7), payment(0, 3)],
            gas_cost: 11,
        });
        metrics.refill_failed(&SdkError::Internal("no funds".into()));
        let text = metrics.registry.render();
        for line in [
            "walrus_publisher_refills_total{result=\"ok\"} 1",
            "walrus_publisher_refills_total{result=\"error\"} 1",
            "walrus_publisher_sub_wallet_topups_total 2",
            "walrus_publisher_refilled_sui_mist_total 5",
            "walrus_publisher_refilled_wal_frost_total 10",
            "walrus_publisher_refill_gas_mist_total 11",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
