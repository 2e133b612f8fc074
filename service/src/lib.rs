//! What every long-running binary of the project (`walrus-node`, `walrus-publisher`,
//! `walrus-aggregator`, `walrus-localnet`) shares: logging setup and the shutdown signal; and
//! what every HTTP service shares: [`metrics`] (a registry that creates and registers metrics in
//! one call, request metrics, gauge guards), [`router`] (a router that only takes documented
//! routes and adds `/metrics`, the generated OpenAPI document at `/v1/api`, the JSON 404/405
//! fallbacks and the request metrics) and [`openapi`] (schemas of foreign bodies, and the
//! checks of a document and its router for the services' tests); with the feature `cli`,
//! `cli` (the options of the services that act through the SDK).

#[cfg(feature = "cli")]
pub mod cli;
pub mod metrics;
pub mod openapi;
pub mod router;

pub use metrics::{GaugeGuard, MetricsRegistry, RequestMetrics};
pub use router::ServiceRouter;

/// Logs to stdout, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// Completes on Ctrl-C or SIGTERM. If SIGTERM cannot be listened for, only Ctrl-C counts (with
/// a warning); if neither can, it never completes.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}
