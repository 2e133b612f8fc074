//! The publisher's router: `PUT /v1/blobs` over [`WalrusSdk::store`], health, metrics and the
//! OpenAPI document. Every error is the JSON [`ApiError`](walrus_node_client::api::ApiError).

use std::{sync::Arc, time::Instant};

use axum::{
    body::Body,
    extract::{rejection::QueryRejection, MatchedPath, Query, Request, State},
    http::{HeaderMap, StatusCode},
    middleware::{self, Next},
    response::Response,
    routing::{get, put},
    Router,
};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use walrus_chain::client::ClientError;
use walrus_node_client::api::ErrorReason;
use walrus_sdk::client::{NoProgress, SdkError, StoreOutcome, WalrusSdk};

use crate::{
    http::{
        check_bearer, check_content_length, json_response, read_body, typed_response, HttpError,
    },
    metrics::Metrics,
    query::StoreQuery,
    PublisherConfig, API_DOCS_ENDPOINT, BLOBS_ENDPOINT, HEALTH_ENDPOINT, METRICS_ENDPOINT,
    OPENAPI_JSON, V1_HEALTH_ENDPOINT,
};

/// Seconds a client is told to wait (`Retry-After`) when the publisher is at capacity.
pub const RETRY_AFTER_SECS: u64 = 5;

/// How long `/health` waits for the chain's answer about the wallet balance.
const HEALTH_CHAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A running publisher's shared state: the SDK, the limits and the metrics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sdk: WalrusSdk,
    config: PublisherConfig,
    metrics: Metrics,
    /// Stores running or waiting: `max_concurrent_uploads + max_queued` permits.
    admission: Arc<Semaphore>,
    /// Stores running: `max_concurrent_uploads` permits.
    uploads: Arc<Semaphore>,
}

impl Publisher {
    /// A publisher storing through `sdk` (whose wallet pays) with `config`'s limits
    /// (`max_concurrent_uploads` is at least 1).
    pub fn new(sdk: WalrusSdk, mut config: PublisherConfig) -> Self {
        config.max_concurrent_uploads = config.max_concurrent_uploads.max(1);
        let admission = config
            .max_concurrent_uploads
            .saturating_add(config.max_queued)
            .min(Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new(Inner {
                admission: Arc::new(Semaphore::new(admission)),
                uploads: Arc::new(Semaphore::new(config.max_concurrent_uploads)),
                sdk,
                config,
                metrics: Metrics::new(),
            }),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &PublisherConfig {
        &self.inner.config
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The SDK.
    pub fn sdk(&self) -> &WalrusSdk {
        &self.inner.sdk
    }

    /// Waits until no store runs (each store runs to its end even if its client went away).
    pub async fn wait_idle(&self) {
        let all = u32::try_from(self.inner.config.max_concurrent_uploads).unwrap_or(u32::MAX);
        let _ = self.inner.uploads.acquire_many(all).await;
    }

    /// The router serving every route of the publisher.
    pub fn router(&self) -> Router {
        Router::new()
            .route(BLOBS_ENDPOINT, put(put_blob))
            .route(HEALTH_ENDPOINT, get(health))
            .route(V1_HEALTH_ENDPOINT, get(health))
            .route(METRICS_ENDPOINT, get(metrics))
            .route(API_DOCS_ENDPOINT, get(api_docs))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(self.clone(), count_requests))
            .with_state(self.clone())
    }
}

/// Maps a failed store to its HTTP answer.
pub fn store_error(error: SdkError) -> HttpError {
    match error {
        SdkError::Encode(error) => HttpError::new(
            ErrorReason::PayloadTooLarge,
            format!("the blob cannot be encoded for this network: {error}"),
        ),
        SdkError::NotEnoughConfirmations { .. } => HttpError::with_status(
            ErrorReason::Unavailable,
            StatusCode::GATEWAY_TIMEOUT,
            format!("insufficient confirmations from the storage nodes: {error}"),
        ),
        SdkError::Chain(ClientError::MoveAbort {
            ref module,
            code,
            ref name,
            ..
        }) => {
            // By the constant's name, or by the `system` module's code if the name is unknown.
            let is = |expected: &str, expected_code: u64| {
                name == expected || (name.is_empty() && module == "system" && code == expected_code)
            };
            if is("EInvalidEpochsAhead", 0) {
                HttpError::bad_request(format!(
                    "invalid `epochs` (zero or too far ahead for the system): {error}"
                ))
            } else if is("EStorageExceeded", 1) {
                HttpError::new(
                    ErrorReason::Unavailable,
                    format!("the network has not enough free storage capacity: {error}"),
                )
            } else if is("EInsufficientPayment", 2) {
                HttpError::new(
                    ErrorReason::Unavailable,
                    format!("the publisher's wallet cannot pay for this store: {error}"),
                )
            } else {
                HttpError::internal(error.to_string())
            }
        }
        SdkError::Chain(ClientError::InsufficientFunds(ref detail)) => HttpError::new(
            ErrorReason::Unavailable,
            format!("the publisher's wallet cannot pay for this store: {detail}"),
        ),
        SdkError::Chain(ClientError::Rpc(_) | ClientError::CheckpointWait { .. }) => {
            HttpError::new(
                ErrorReason::Unavailable,
                format!("the chain is unavailable: {error}"),
            )
        }
        other => HttpError::internal(other.to_string()),
    }
}

fn outcome_label(outcome: &StoreOutcome) -> &'static str {
    match outcome {
        StoreOutcome::NewlyCreated { .. } => "newly_created",
        StoreOutcome::AlreadyCertified { .. } => "already_certified",
    }
}

/// `PUT /v1/blobs`: checks auth, query and announced length, takes a place (429 when full),
/// waits for a store slot, reads the body (413 past the limit, 408 if too slow), stores, sends
/// the object.
async fn put_blob(
    State(publisher): State<Publisher>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let inner = &publisher.inner;
    if let Some(token) = &inner.config.auth_token {
        check_bearer(&headers, token)?;
    }
    let Query(pairs) = query.map_err(|rejection| {
        HttpError::bad_request(format!("invalid query: {}", rejection.body_text()))
    })?;
    let query = StoreQuery::parse(&pairs).map_err(HttpError::bad_request)?;
    check_content_length(&headers, inner.config.max_body_bytes)?;
    let admitted = inner.admission.clone().try_acquire_owned().map_err(|_| {
        HttpError::new(
            ErrorReason::RateLimited,
            format!(
                "the publisher is busy ({} stores running, {} waiting); retry later",
                inner.config.max_concurrent_uploads, inner.config.max_queued
            ),
        )
        .retry_after(RETRY_AFTER_SECS)
    })?;
    let slot =
        {
            let _queued = walrus_service::GaugeGuard::new(&inner.metrics.queued);
            inner.uploads.clone().acquire_owned().await.map_err(|_| {
                HttpError::new(ErrorReason::Unavailable, "the publisher is stopping")
            })?
        };
    let in_flight = walrus_service::GaugeGuard::new(&inner.metrics.in_flight);
    let bytes = read_body(
        body,
        inner.config.max_body_bytes,
        inner.config.body_deadline(),
    )
    .await
    .inspect_err(|error| {
        if error.status() == StatusCode::REQUEST_TIMEOUT {
            tracing::info!("upload refused: its body was too slow");
        }
    })?;
    // The store runs in its own task: it finishes (and the wallet's spending is accounted for)
    // even if the client disconnects.
    let task = tokio::spawn(store(
        publisher.clone(),
        bytes,
        query,
        (admitted, slot, in_flight),
    ));
    let outcome = task
        .await
        .map_err(|error| HttpError::internal(format!("the store failed: {error}")))??;
    Ok(json_response(StatusCode::OK, &outcome))
}

async fn store(
    publisher: Publisher,
    bytes: Vec<u8>,
    query: StoreQuery,
    _permits: (
        OwnedSemaphorePermit,
        OwnedSemaphorePermit,
        walrus_service::GaugeGuard,
    ),
) -> Result<StoreOutcome, HttpError> {
    let inner = &publisher.inner;
    let size = bytes.len() as u64;
    let start = Instant::now();
    let result = inner.sdk.store(bytes, query.options, &NoProgress).await;
    inner
        .metrics
        .store_seconds
        .observe(start.elapsed().as_secs_f64());
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => {
            inner.metrics.stores.with_label_values(&["error"]).inc();
            tracing::warn!(%error, size, "store failed");
            return Err(store_error(error));
        }
    };
    inner
        .metrics
        .stores
        .with_label_values(&[outcome_label(&outcome)])
        .inc();
    inner.metrics.stored_bytes.inc_by(size);
    tracing::info!(blob_id = %outcome.blob_id(), size, outcome = outcome_label(&outcome), "stored");
    if let (StoreOutcome::NewlyCreated { blob_object, .. }, Some(recipient)) =
        (&outcome, query.send_object_to)
    {
        inner
            .sdk
            .send_blob_object(blob_object.id, recipient)
            .await
            .map_err(|error| {
                HttpError::internal(format!(
                    "blob {} was stored as object {}, but sending it to {recipient} failed: {error}",
                    blob_object.blob_id, blob_object.id
                ))
            })?;
    }
    Ok(outcome)
}

/// `GET /health`: always 200 while the process serves; `status` is `ok` with the wallet's WAL
/// balance, or `degraded` with `chainError` when the chain does not answer.
async fn health(State(publisher): State<Publisher>) -> Response {
    let inner = &publisher.inner;
    let chain = inner.sdk.chain();
    let mut body = json!({
        "status": "ok",
        "walletAddress": chain.address().to_string(),
        "storesInFlight": inner.metrics.in_flight.get(),
        "uploadsQueued": inner.metrics.queued.get(),
    });
    let balance = tokio::time::timeout(HEALTH_CHAIN_TIMEOUT, chain.wal_balance()).await;
    match balance {
        Ok(Ok(balance)) => body["walBalance"] = json!(balance),
        Ok(Err(error)) => {
            body["status"] = json!("degraded");
            body["chainError"] = json!(error.to_string());
        }
        Err(_) => {
            body["status"] = json!("degraded");
            body["chainError"] = json!("the chain did not answer in time");
        }
    }
    json_response(StatusCode::OK, &body)
}

async fn metrics(State(publisher): State<Publisher>) -> Response {
    typed_response(
        "text/plain; version=0.0.4",
        publisher.inner.metrics.render(),
    )
}

async fn api_docs() -> Response {
    typed_response("application/json", OPENAPI_JSON)
}

async fn not_found() -> HttpError {
    HttpError::new(ErrorReason::NotFound, "no such endpoint")
}

/// Counts every request by route template and status code.
async fn count_requests(
    State(publisher): State<Publisher>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    publisher
        .inner
        .metrics
        .requests
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abort(name: &str, code: u64) -> SdkError {
        SdkError::Chain(ClientError::MoveAbort {
            module: "system".into(),
            code,
            name: name.into(),
            command: Some(0),
        })
    }

    fn status(error: SdkError) -> (u16, String) {
        let error = store_error(error);
        (error.error.http_status(), error.error.error.reason)
    }

    #[test]
    fn store_errors_map_to_statuses() {
        let cases = [
            (abort("EInvalidEpochsAhead", 0), 400, "INVALID_REQUEST"),
            (abort("", 0), 400, "INVALID_REQUEST"),
            (abort("EStorageExceeded", 1), 503, "UNAVAILABLE"),
            (abort("EInsufficientPayment", 2), 503, "UNAVAILABLE"),
            (abort("EInvalidBlobId", 3), 500, "INTERNAL"),
            (
                SdkError::Chain(ClientError::InsufficientFunds("no WAL coin".into())),
                503,
                "UNAVAILABLE",
            ),
            (
                SdkError::NotEnoughConfirmations {
                    weight: 1,
                    required: 7,
                    failures: "timeouts".into(),
                },
                504,
                "UNAVAILABLE",
            ),
            (
                SdkError::Encode(walrus_core::EncodeError::DataTooLarge { length: 2, max: 1 }),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (SdkError::Internal("boom".into()), 500, "INTERNAL"),
        ];
        for (error, code, reason) in cases {
            let text = error.to_string();
            assert_eq!(status(error), (code, reason.to_owned()), "{text}");
        }
        let message = store_error(abort("EInvalidEpochsAhead", 0))
            .error
            .error
            .message;
        assert!(message.contains("EInvalidEpochsAhead"), "{message}");
    }
}
