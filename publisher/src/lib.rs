//! `walrus-publisher`: the write side of the Walrus HTTP API. `PUT /v1/blobs` stores the
//! request body as a blob through [`WalrusSdk::store`] and answers Walrus's `BlobStoreResult`
//! JSON ([`walrus_sdk::client::StoreOutcome`]). The publisher's wallet pays: each store runs
//! with a wallet of its [`walrus_sdk::wallet_pool::WalletPool`], one store at a time per
//! wallet, either the wallet itself ([`Publisher::new`]) or sub-wallets it funds
//! ([`Publisher::with_sub_wallets`], what the binary's `--n-clients` sets up).
//!
//! Query parameters as Walrus's publisher: `epochs` (default 1), `permanent=true` (blobs are
//! deletable by default), `deletable=true` (the default), `force=true`, `send_object_to=0x…`;
//! `share=true` is refused (400). Bodies are read into memory up to
//! [`PublisherConfig::max_body_bytes`]; at most `max_concurrent_uploads` stores run, at most
//! `max_queued` more wait, beyond that 429. A body is read only once its upload holds a store
//! slot, and must then arrive in time ([`PublisherConfig::body_read_timeout`] without data, and
//! at least [`PublisherConfig::body_min_bytes_per_sec`] after that time; see
//! [`http::BodyDeadline`]), else 408 and the slot is free again: a client sending its body
//! slowly or not at all cannot hold a slot. Optional bearer-token auth. Also `GET /health`,
//! `GET /v1/api` (the OpenAPI document, generated from the routes: [`openapi`]), `GET /metrics`
//! (Prometheus).
//!
//! ```no_run
//! # async fn run(sdk: walrus_sdk::client::WalrusSdk) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:31415").await?;
//! walrus_publisher::serve(listener, sdk, Default::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

use std::{future::Future, time::Duration};

use walrus_sdk::client::WalrusSdk;

pub mod http;
pub mod metrics;
pub mod openapi;
pub mod query;
pub mod quilt_form;
pub mod server;

pub use server::Publisher;

/// `PUT`: store a blob.
pub const BLOBS_ENDPOINT: &str = "/v1/blobs";
/// `PUT`: store files as a quilt (`multipart/form-data`).
pub const QUILTS_ENDPOINT: &str = "/v1/quilts";
/// `GET`: health and the wallet.
pub const HEALTH_ENDPOINT: &str = "/health";
/// `GET`: the same as [`HEALTH_ENDPOINT`].
pub const V1_HEALTH_ENDPOINT: &str = "/v1/health";

/// The default listen address (as Walrus's publisher examples use).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:31415";

/// The publisher's limits and access control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherConfig {
    /// Largest accepted body in bytes (larger ones get 413).
    pub max_body_bytes: u64,
    /// Stores running at once (at least 1). Each holds its body (and its encoding) in memory.
    pub max_concurrent_uploads: usize,
    /// Uploads that may wait for a store slot; beyond that, 429 with `Retry-After`.
    pub max_queued: usize,
    /// If set, `PUT /v1/blobs` needs `Authorization: Bearer <token>`.
    pub auth_token: Option<String>,
    /// On shutdown, how long running stores may take to finish.
    pub shutdown_grace: Duration,
    /// How long an upload holding a store slot may go without body data; also the base of the
    /// whole body's allowance (408 beyond).
    pub body_read_timeout: Duration,
    /// The allowance for the whole body grows by one second per this many bytes received, so
    /// a body arriving at least this fast never times out (0: the whole body within
    /// `body_read_timeout`).
    pub body_min_bytes_per_sec: u64,
}

impl PublisherConfig {
    /// The deadline of request bodies.
    pub fn body_deadline(&self) -> http::BodyDeadline {
        http::BodyDeadline {
            timeout: self.body_read_timeout,
            min_bytes_per_sec: self.body_min_bytes_per_sec,
        }
    }
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 512 * 1024 * 1024,
            max_concurrent_uploads: 4,
            max_queued: 16,
            auth_token: None,
            shutdown_grace: Duration::from_secs(120),
            body_read_timeout: Duration::from_secs(60),
            body_min_bytes_per_sec: 64 * 1024,
        }
    }
}

/// Serves the publisher of `sdk`'s wallet alone ([`Publisher::new`]) on `listener` until
/// `shutdown` completes; then stops accepting connections and lets running requests and stores
/// finish, for at most [`PublisherConfig::shutdown_grace`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    sdk: WalrusSdk,
    config: PublisherConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    Publisher::new(sdk, config).serve(listener, shutdown).await
}

impl Publisher {
    /// Serves this publisher on `listener`; see [`serve`].
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stopping, mut stopped) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing running stores");
            let _ = stopping.send(true);
        };
        let drained = async {
            axum::serve(listener, self.router())
                .with_graceful_shutdown(signal)
                .await?;
            self.wait_idle().await;
            Ok(())
        };
        let grace = self.config().shutdown_grace;
        let deadline = async move {
            if stopped.wait_for(|stopping| *stopping).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = drained => result,
            () = deadline => {
                tracing::warn!(?grace, "stores still running after the shutdown grace period; stopping anyway");
                Ok(())
            }
        }
    }
}
