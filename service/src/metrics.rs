//! Prometheus metrics of a service: [`MetricsRegistry`] creates and registers a metric in one
//! call and renders them all; [`RequestMetrics`] are the per-route request counts and latencies
//! every HTTP service records; [`GaugeGuard`] counts what is running or waiting.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use prometheus::{
    core::Collector, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, Opts, Registry, TextEncoder,
};

/// The content type of [`MetricsRegistry::render`]'s text.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// A Prometheus registry whose constructors create a metric and register it at once. Cheap to
/// clone (a handle of the same registry). Names and label sets are fixed by the code, so an
/// invalid or duplicate metric is a bug and panics.
#[derive(Debug, Clone, Default)]
pub struct MetricsRegistry {
    registry: Registry,
    /// Name -> (type, help) of every registered metric.
    described: Arc<Mutex<BTreeMap<String, (&'static str, String)>>>,
}

impl MetricsRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn register<T: Collector + Clone + 'static>(
        &self,
        kind: &'static str,
        name: &str,
        help: &str,
        metric: Result<T, prometheus::Error>,
    ) -> T {
        let metric = metric.expect("valid metric");
        self.registry
            .register(Box::new(metric.clone()))
            .expect("unique metric");
        self.described
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_owned(), (kind, help.to_owned()));
        metric
    }

    /// A counter.
    pub fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.register("counter", name, help, IntCounter::new(name, help))
    }

    /// A counter per value of `labels`.
    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let metric = IntCounterVec::new(Opts::new(name, help), labels);
        self.register("counter", name, help, metric)
    }

    /// A gauge.
    pub fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.register("gauge", name, help, IntGauge::new(name, help))
    }

    /// A histogram with `buckets` (upper bounds in seconds, or Prometheus's default ones).
    pub fn histogram(&self, name: &str, help: &str, buckets: Option<Vec<f64>>) -> Histogram {
        let metric = Histogram::with_opts(histogram_opts(name, help, buckets));
        self.register("histogram", name, help, metric)
    }

    /// A histogram per value of `labels`, with `buckets` (or Prometheus's default ones).
    pub fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: Option<Vec<f64>>,
    ) -> HistogramVec {
        let metric = HistogramVec::new(histogram_opts(name, help, buckets), labels);
        self.register("histogram", name, help, metric)
    }

    /// Every registered metric as a Markdown list item, `` `name` (type): help ``, by name.
    pub fn describe(&self) -> Vec<String> {
        self.described
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(name, (kind, help))| format!("`{name}` ({kind}): {help}"))
            .collect()
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding gathered families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

fn histogram_opts(name: &str, help: &str, buckets: Option<Vec<f64>>) -> HistogramOpts {
    let opts = HistogramOpts::new(name, help);
    match buckets {
        Some(buckets) => opts.buckets(buckets),
        None => opts,
    }
}

/// The requests of an HTTP service: `<prefix>_requests_total{route,status}` (status code) and
/// `<prefix>_request_seconds{route,status}` (status class, `2xx`...). `route` is the route
/// template (`/v1/blobs/{blob_id}`), `unmatched` for requests no route takes. Recorded by the
/// router of [`crate::router::ServiceRouter`].
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    /// Requests by route template and HTTP status code.
    pub total: IntCounterVec,
    /// Request latency by route template and status class.
    pub latency: HistogramVec,
}

impl RequestMetrics {
    /// The label of requests that no route takes.
    pub const UNMATCHED: &'static str = "unmatched";

    /// Registers the request metrics of the service whose metric names start with `prefix`
    /// (e.g. `walrus_node`).
    pub fn register(registry: &MetricsRegistry, prefix: &str) -> Self {
        Self {
            total: registry.counter_vec(
                &format!("{prefix}_requests_total"),
                "HTTP requests by route and status code",
                &["route", "status"],
            ),
            latency: registry.histogram_vec(
                &format!("{prefix}_request_seconds"),
                "HTTP request latency by route and status class",
                &["route", "status"],
                None,
            ),
        }
    }

    /// Records one answered request.
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        self.total
            .with_label_values(&[route, status.to_string().as_str()])
            .inc();
        let class = format!("{}xx", status / 100);
        self.latency
            .with_label_values(&[route, class.as_str()])
            .observe(elapsed.as_secs_f64());
    }
}

/// Increments a gauge for as long as it lives (requests running or queued).
#[derive(Debug)]
pub struct GaugeGuard(IntGauge);

impl GaugeGuard {
    /// Increments `gauge` until the guard is dropped.
    pub fn new(gauge: &IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_renders_and_describes() {
        let registry = MetricsRegistry::new();
        let gauge = registry.gauge("test_running", "Things running");
        let requests = RequestMetrics::register(&registry, "test");
        {
            let _guard = GaugeGuard::new(&gauge);
            assert_eq!(gauge.get(), 1);
        }
        assert_eq!(gauge.get(), 0);
        requests.record("/v1/things/{id}", 404, Duration::from_millis(3));
        requests.record(RequestMetrics::UNMATCHED, 200, Duration::from_millis(1));
        let text = registry.render();
        for needle in [
            "test_running 0",
            "test_requests_total{route=\"/v1/things/{id}\",status=\"404\"} 1",
            "test_request_seconds_count{route=\"/v1/things/{id}\",status=\"4xx\"} 1",
            "test_requests_total{route=\"unmatched\",status=\"200\"} 1",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
        assert_eq!(
            registry.describe(),
            [
                "`test_request_seconds` (histogram): HTTP request latency by route and status class",
                "`test_requests_total` (counter): HTTP requests by route and status code",
                "`test_running` (gauge): Things running"
            ]
        );
    }

    #[test]
    #[should_panic(expected = "unique metric")]
    fn a_duplicate_metric_is_a_bug() {
        let registry = MetricsRegistry::new();
        registry.counter("test_total", "Once");
        registry.counter("test_total", "Twice");
    }
}
