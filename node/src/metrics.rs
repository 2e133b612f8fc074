//! Prometheus metrics of a node, served at `/metrics`.

use prometheus::{IntCounter, IntCounterVec, IntGauge};
use walrus_service::{MetricsRegistry, RequestMetrics};

/// The node's metrics (cheap to clone handles into one registry).
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The registry all of them are in.
    pub registry: MetricsRegistry,
    /// Bytes of metadata and slivers stored.
    pub stored_bytes: IntGauge,
    /// Slivers stored.
    pub stored_slivers: IntGauge,
    /// Slivers accepted from uploads (`PUT`).
    pub slivers_uploaded: IntCounter,
    /// Slivers buffered before their blob's registration was seen (`?pending=true`).
    pub slivers_buffered: IntCounter,
    /// Slivers rebuilt from peers' recovery symbols.
    pub slivers_recovered: IntCounter,
    /// Recovery symbols a blob's first rebuilt axis handed to its second (not read back and
    /// expanded again).
    pub recovery_symbols_kept: IntCounter,
    /// Recovery attempts by result (`ok`, `failed`, `inconsistent`).
    pub recoveries: IntCounterVec,
    /// Bytes fetched from peers to recover slivers (symbols, proofs and metadata).
    pub recovery_bytes_fetched: IntCounter,
    /// Chain events applied.
    pub events_processed: IntCounter,
    /// REST requests by route template and status (`walrus_node_requests_total`), and their
    /// latency by route template and status class (`walrus_node_request_seconds`).
    pub requests: RequestMetrics,
    /// Requests refused by a limit (load shedding, oversize bodies, slow bodies) by reason.
    pub requests_refused: IntCounterVec,
    /// Answers from peers rejected as lies while recovering (forged or misplaced symbols,
    /// oversize answers).
    pub recovery_lies: IntCounter,
    /// Slivers pulled directly from a shard's previous owner at an epoch change.
    pub shard_sync_slivers: IntCounter,
    /// Bytes of shard-sync answers received from previous owners.
    pub shard_sync_bytes: IntCounter,
    /// Shard syncs that fell back to recovery (previous owner down, slow or lying).
    pub shard_sync_fallbacks: IntCounter,
    /// Slivers of shards given away, deleted once the epoch change was done.
    pub slivers_released: IntCounter,
    /// The last epoch this node reported synced on chain (`epoch_sync_done`).
    pub epoch_synced: IntGauge,
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let registry = MetricsRegistry::new();
        Self {
            stored_bytes: registry.gauge(
                "walrus_node_stored_bytes",
                "Bytes of metadata and slivers stored",
            ),
            stored_slivers: registry.gauge("walrus_node_stored_slivers", "Slivers stored"),
            slivers_uploaded: registry.counter(
                "walrus_node_slivers_uploaded_total",
                "Slivers accepted from uploads",
            ),
            slivers_buffered: registry.counter(
                "walrus_node_slivers_buffered_total",
                "Slivers buffered before their blob's registration was seen (?pending=true)",
            ),
            slivers_recovered: registry.counter(
                "walrus_node_slivers_recovered_total",
                "Slivers rebuilt from peers' recovery symbols",
            ),
            recovery_symbols_kept: registry.counter(
                "walrus_node_recovery_symbols_kept_total",
                "Recovery symbols a blob's first rebuilt axis handed to its second axis",
            ),
            recoveries: registry.counter_vec(
                "walrus_node_recoveries_total",
                "Blob recoveries by result",
                &["result"],
            ),
            recovery_bytes_fetched: registry.counter(
                "walrus_node_recovery_bytes_fetched_total",
                "Bytes fetched from peers to recover slivers",
            ),
            events_processed: registry
                .counter("walrus_node_events_processed_total", "Chain events applied"),
            requests: RequestMetrics::register(&registry, "walrus_node"),
            requests_refused: registry.counter_vec(
                "walrus_node_requests_refused_total",
                "Requests refused by a limit, by reason (busy, too_large, body_timeout)",
                &["reason"],
            ),
            recovery_lies: registry.counter(
                "walrus_node_recovery_lies_total",
                "Peer answers rejected as lies while recovering",
            ),
            shard_sync_slivers: registry.counter(
                "walrus_node_shard_sync_slivers_total",
                "Slivers pulled directly from a shard's previous owner",
            ),
            shard_sync_bytes: registry.counter(
                "walrus_node_shard_sync_bytes_total",
                "Bytes of shard-sync answers received from previous owners",
            ),
            shard_sync_fallbacks: registry.counter(
                "walrus_node_shard_sync_fallbacks_total",
                "Shard syncs that fell back to recovery from symbols",
            ),
            slivers_released: registry.counter(
                "walrus_node_slivers_released_total",
                "Slivers of shards given away, deleted after the epoch change",
            ),
            epoch_synced: registry.gauge(
                "walrus_node_epoch_synced",
                "The last epoch this node reported synced on chain",
            ),
            registry,
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
            .requests
            .latency
            .with_label_values(&["/v1/health", "2xx"])
            .observe(0.01);
        let text = metrics.registry.render();
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
