//! The publisher's router: `PUT /v1/blobs` over [`WalrusSdk::store`] and `PUT /v1/quilts`
//! over [`WalrusSdk::store_encoded_quilt`], each with a wallet of its
//! [`WalletPool`] (the main wallet alone, or sub-wallets it funds, one store at a time each),
//! health, metrics and the OpenAPI document (generated from the handlers' documentation).
//! Every error is the JSON [`ApiError`].

use std::{sync::Arc, time::Instant};

use axum::{
    body::Body,
    extract::{rejection::QueryRejection, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::Response,
    Router,
};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use utoipa::ToSchema;
use utoipa_axum::routes;
use walrus_chain::client::ClientError;
use walrus_core::quilt::{EncodedQuilt, QuiltError, QuiltFile};
use walrus_node_client::api::{ApiError, ErrorReason};
use walrus_sdk::{
    client::{NoProgress, QuiltStoreOutcome, SdkConfig, SdkError, StoreOutcome, WalrusSdk},
    rejection::ContractRejection,
    wallet_pool::{WalletPool, WalletPoolConfig},
};

use walrus_service::router::{BLOBS_TAG, SERVICE_TAG};

use crate::{
    http::{check_bearer, check_content_length, json_response, read_body, HttpError},
    metrics::Metrics,
    openapi::{service_router, BlobBytes, BlobStoreResult, QuiltForm, QuiltStoreResult},
    query::{QuiltParameters, StoreParameters, StoreQuery},
    quilt_form::parse_quilt_form,
    PublisherConfig, BLOBS_ENDPOINT, HEALTH_ENDPOINT, QUILTS_ENDPOINT, V1_HEALTH_ENDPOINT,
};

/// Seconds a client is told to wait (`Retry-After`) when the publisher is at capacity.
pub const RETRY_AFTER_SECS: u64 = 5;

/// How long `/health` waits for the chain's answer about the wallet balance.
const HEALTH_CHAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A running publisher's shared state: the wallet pool, the limits and the metrics. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The wallets stores run with.
    pool: WalletPool,
    config: PublisherConfig,
    metrics: Metrics,
    /// Stores running or waiting: `max_concurrent_uploads + max_queued` permits.
    admission: Arc<Semaphore>,
    /// Stores running: `max_concurrent_uploads` permits.
    uploads: Arc<Semaphore>,
}

impl Publisher {
    /// A publisher storing through `sdk` (whose wallet pays, one store at a time) with
    /// `config`'s limits (`max_concurrent_uploads` is at least 1).
    pub fn new(sdk: WalrusSdk, config: PublisherConfig) -> Self {
        Self::with_pool(WalletPool::single(sdk), Metrics::new(), config)
    }

    /// A publisher whose stores run on `pool_config.n_clients` sub-wallets funded by `sdk`'s
    /// wallet (see [`WalletPool`]; each sub-wallet an SDK client with `sdk_config`; refills
    /// counted in the metrics), with `config`'s limits. Funds the sub-wallets that need it
    /// before returning. With `n_clients` 1, the same as [`Self::new`].
    pub async fn with_sub_wallets(
        sdk: WalrusSdk,
        sdk_config: SdkConfig,
        pool_config: WalletPoolConfig,
        config: PublisherConfig,
    ) -> Self {
        let metrics = Metrics::new();
        let observer = Arc::new(metrics.clone());
        let pool = WalletPool::new(sdk, sdk_config, pool_config, Some(observer)).await;
        Self::with_pool(pool, metrics, config)
    }

    fn with_pool(pool: WalletPool, metrics: Metrics, mut config: PublisherConfig) -> Self {
        config.max_concurrent_uploads = config.max_concurrent_uploads.max(1);
        let admission = config
            .max_concurrent_uploads
            .saturating_add(config.max_queued)
            .min(Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new(Inner {
                admission: Arc::new(Semaphore::new(admission)),
                uploads: Arc::new(Semaphore::new(config.max_concurrent_uploads)),
                pool,
                config,
                metrics,
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

    /// The SDK of the main wallet (which pays, directly or by funding the sub-wallets).
    pub fn sdk(&self) -> &WalrusSdk {
        self.inner.pool.main()
    }

    /// The wallet pool.
    pub fn pool(&self) -> &WalletPool {
        &self.inner.pool
    }

    /// Waits until no store runs (each store runs to its end even if its client went away)
    /// and the wallets are back in the pool (balances read, refills done).
    pub async fn wait_idle(&self) {
        let all = u32::try_from(self.inner.config.max_concurrent_uploads).unwrap_or(u32::MAX);
        let _ = self.inner.uploads.acquire_many(all).await;
        self.inner.pool.wait_idle().await;
    }

    /// The router serving every route of the publisher (each documented in the OpenAPI
    /// document at `/v1/api`), `/metrics`, JSON 404/405 fallbacks and request metrics.
    pub fn router(&self) -> Router {
        let metrics = &self.inner.metrics;
        service_router()
            .routes(routes!(put_blob))
            .routes(routes!(put_quilt))
            .routes_with_alias(V1_HEALTH_ENDPOINT, routes!(health))
            .status_route()
            .finish(self.clone(), &metrics.registry, &metrics.requests)
    }
}

/// Maps a failed store to its HTTP answer.
pub fn store_error(error: SdkError) -> HttpError {
    if let Some(rejection) = error.rejection() {
        return match rejection {
            ContractRejection::InvalidEpochsAhead => HttpError::bad_request(format!(
                "invalid `epochs` (zero or too far ahead for the system): {error}"
            )),
            ContractRejection::StorageExceeded => HttpError::new(
                ErrorReason::Unavailable,
                format!("the network has not enough free storage capacity: {error}"),
            ),
            ContractRejection::InsufficientPayment => HttpError::new(
                ErrorReason::Unavailable,
                format!("the publisher's wallet cannot pay for this store: {error}"),
            ),
            _ => HttpError::internal(error.to_string()),
        };
    }
    match error {
        SdkError::Quilt(QuiltError::TooLarge { .. }) => HttpError::new(
            ErrorReason::PayloadTooLarge,
            format!("failed to construct quilt: {error}"),
        ),
        SdkError::Quilt(error) => {
            HttpError::bad_request(format!("failed to construct quilt: {error}"))
        }
        SdkError::Encode(error) => HttpError::new(
            ErrorReason::PayloadTooLarge,
            format!("the blob cannot be encoded for this network: {error}"),
        ),
        SdkError::NotEnoughConfirmations { .. } => HttpError::with_status(
            ErrorReason::Unavailable,
            StatusCode::GATEWAY_TIMEOUT,
            format!("insufficient confirmations from the storage nodes: {error}"),
        ),
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
        // As Walrus's publisher: an honest encoder never makes an invalid blob, so this is a
        // system error, not the client's.
        SdkError::MarkedInvalid { .. } => HttpError::internal(format!(
            "the blob was marked invalid, which is likely a system error, please report it: \
             {error}"
        )),
        other => HttpError::internal(other.to_string()),
    }
}

fn outcome_label(outcome: &StoreOutcome) -> &'static str {
    match outcome {
        StoreOutcome::NewlyCreated { .. } => "newly_created",
        StoreOutcome::AlreadyCertified { .. } => "already_certified",
    }
}

/// Store a blob
///
/// The body is the blob's raw bytes (any content type is accepted, so `curl -d` works). It is
/// read into memory up to the publisher's `--max-body-bytes` (default 512 MiB): a larger
/// `Content-Length` is refused before the body is read, a chunked body as soon as it passes the
/// limit (413). At most `--max-concurrent-uploads` stores run at once and `--max-queued` more
/// wait (their bodies are not read while they wait); beyond that the answer is 429 with
/// `Retry-After`. Once an upload holds a store slot its body must keep arriving: at most
/// `--body-read-timeout-secs` (default 60) without data, and in all that time plus one second
/// per `--body-min-bytes-per-sec` (default 65536) bytes received; a slower body is answered 408
/// and its slot goes to the next upload. When the publisher runs with `--auth-token`, the
/// request needs `Authorization: Bearer <token>` (401 otherwise). Blobs are deletable unless
/// `permanent=true`. A store runs to its end even if the client disconnects. Each store runs
/// with one of the publisher's wallets (`--n-clients` sub-wallets funded by its main wallet,
/// one store at a time each), which keeps the new `Blob` object unless `send_object_to` names
/// a recipient.
#[utoipa::path(
    put,
    path = BLOBS_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "putBlob",
    params(StoreParameters),
    request_body(
        description = "The blob's bytes.",
        content(
            (Option<BlobBytes> = "application/octet-stream"),
            (Option<BlobBytes> = "*/*"),
        )
    ),
    security((), ("bearerAuth" = [])),
    responses(
        (status = 200, description = "The blob is stored (`newlyCreated`) or was already certified long enough (`alreadyCertified`).", body = BlobStoreResult),
        (status = 400, description = "INVALID_REQUEST: unknown, repeated or invalid query parameter (the message names it), `permanent=true` with `deletable=true`, `share=true`, or `epochs` too far ahead (the Move abort is in the message).", body = ApiError),
        (status = 401, description = "INVALID_REQUEST with status UNAUTHENTICATED: missing or wrong bearer token (only when auth is on).", body = ApiError),
        (status = 408, description = "REQUEST_TIMEOUT: the body did not arrive in time (see above); the slot is freed.", body = ApiError),
        (status = 413, description = "PAYLOAD_TOO_LARGE: the body exceeds the publisher's limit, or the blob is too large for the network's shard count.", body = ApiError),
        (status = 429, description = "RATE_LIMITED: too many uploads running and waiting; retry after `Retry-After` seconds.", body = ApiError, headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: any other failure (including a store that succeeded but whose `send_object_to` transfer failed; the message names the blob and object).", body = ApiError),
        (status = 503, description = "UNAVAILABLE: the publisher's wallet cannot pay (insufficient funds), the network lacks free capacity, or the chain is unreachable.", body = ApiError),
        (status = 504, description = "UNAVAILABLE with code 504: not enough storage nodes confirmed the blob (Walrus's INSUFFICIENT_CONFIRMATIONS).", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "REQUEST_TIMEOUT", "PAYLOAD_TOO_LARGE", "RATE_LIMITED", "UNAVAILABLE", "INTERNAL"])))
)]
async fn put_blob(
    State(publisher): State<Publisher>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let query = parse_query(query, StoreQuery::parse)?;
    let (bytes, permits) = admit_and_read(&publisher, &headers, body).await?;
    run_store(publisher, Upload::Blob(bytes), query, permits).await
}

/// Store files as a quilt
///
/// The body is `multipart/form-data`: one part per file, the part's name its identifier
/// (unique, not empty, no trailing whitespace or control characters), and optionally a part
/// named `_metadata` holding a JSON list of `{"identifier": "...", "tags": {"key": "value"}}`.
/// The files are packed into one quilt (Walrus's `QuiltV1`; at most `n - f - 1` files for `n`
/// shards) and stored as one blob with the attribute `_walrusBlobType` = `quilt`, exactly as
/// `PUT /v1/blobs` stores a blob: the same query parameters (and `quilt_version=V1`), body
/// limit, concurrency limits, deadlines and auth. The answer is the blob's store result and
/// every stored patch with its quilt patch ID (read it back from an aggregator with
/// `GET /v1/blobs/by-quilt-patch-id/{id}`).
#[utoipa::path(
    put,
    path = QUILTS_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "putQuilt",
    params(StoreParameters, QuiltParameters),
    request_body(
        description = "The files, one part each (name: identifier), and an optional `_metadata` part with their tags.",
        content((Option<QuiltForm> = "multipart/form-data")),
    ),
    security((), ("bearerAuth" = [])),
    responses(
        (status = 200, description = "The quilt is stored (`blobStoreResult`) with its patches (`storedQuiltBlobs`).", body = QuiltStoreResult),
        (status = 400, description = "INVALID_REQUEST: a query parameter as for `PUT /v1/blobs`; not a multipart form; no files; an invalid or repeated identifier; too many files for the shard count; a malformed `_metadata`.", body = ApiError),
        (status = 401, description = "INVALID_REQUEST with status UNAUTHENTICATED: missing or wrong bearer token (only when auth is on).", body = ApiError),
        (status = 408, description = "REQUEST_TIMEOUT: the body did not arrive in time; the slot is freed.", body = ApiError),
        (status = 413, description = "PAYLOAD_TOO_LARGE: the body exceeds the publisher's limit, or the files do not fit in one quilt.", body = ApiError),
        (status = 429, description = "RATE_LIMITED: too many uploads running and waiting; retry after `Retry-After` seconds.", body = ApiError, headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: any other failure.", body = ApiError),
        (status = 503, description = "UNAVAILABLE: the publisher's wallet cannot pay, the network lacks free capacity, or the chain is unreachable.", body = ApiError),
        (status = 504, description = "UNAVAILABLE with code 504: not enough storage nodes confirmed the quilt.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "REQUEST_TIMEOUT", "PAYLOAD_TOO_LARGE", "RATE_LIMITED", "UNAVAILABLE", "INTERNAL"])))
)]
async fn put_quilt(
    State(publisher): State<Publisher>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let query = parse_query(query, StoreQuery::parse_quilt)?;
    let (bytes, permits) = admit_and_read(&publisher, &headers, body).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let files = parse_quilt_form(content_type, bytes).await?;
    run_store(publisher, Upload::Quilt(files), query, permits).await
}

/// A parser of a store's query pairs ([`StoreQuery::parse`] or [`StoreQuery::parse_quilt`]).
type QueryParser = fn(&[(String, String)]) -> Result<StoreQuery, String>;

/// The store query, parsed by `parse` (400 INVALID_REQUEST naming what is wrong).
fn parse_query(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    parse: QueryParser,
) -> Result<StoreQuery, HttpError> {
    let Query(pairs) = query.map_err(|rejection| {
        HttpError::bad_request(format!("invalid query: {}", rejection.body_text()))
    })?;
    parse(&pairs).map_err(HttpError::bad_request)
}

/// What a store holds while it runs: its admission, its store slot and the in-flight gauge.
type StorePermits = (
    OwnedSemaphorePermit,
    OwnedSemaphorePermit,
    walrus_service::GaugeGuard,
);

/// Checks auth and the announced length, admits the upload (429 beyond the queue), waits for
/// a store slot and then reads the body within its limit and deadline.
async fn admit_and_read(
    publisher: &Publisher,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Vec<u8>, StorePermits), HttpError> {
    let inner = &publisher.inner;
    if let Some(token) = &inner.config.auth_token {
        check_bearer(headers, token)?;
    }
    check_content_length(headers, inner.config.max_body_bytes)?;
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
    Ok((bytes, (admitted, slot, in_flight)))
}

/// Runs the store in its own task, so that it finishes (and the wallet's spending is accounted
/// for) even if the client disconnects, and answers its outcome.
async fn run_store(
    publisher: Publisher,
    upload: Upload,
    query: StoreQuery,
    permits: StorePermits,
) -> Result<Response, HttpError> {
    let task = tokio::spawn(store(publisher, upload, query, permits));
    let outcome = task
        .await
        .map_err(|error| HttpError::internal(format!("the store failed: {error}")))??;
    Ok(json_response(StatusCode::OK, &outcome))
}

/// What a request asks to store.
enum Upload {
    /// A blob's bytes.
    Blob(Vec<u8>),
    /// Files to pack into a quilt.
    Quilt(Vec<QuiltFile>),
}

/// What a store answers: a blob's outcome, or a quilt's with its patches.
#[derive(Serialize)]
#[serde(untagged)]
enum Stored {
    Blob(StoreOutcome),
    Quilt(QuiltStoreOutcome),
}

impl Stored {
    /// The store of the blob (of the quilt).
    fn blob(&self) -> &StoreOutcome {
        match self {
            Stored::Blob(outcome) => outcome,
            Stored::Quilt(outcome) => &outcome.blob_store_result,
        }
    }
}

/// An upload ready to store: a quilt is packed first, since its blob's size (what the store
/// costs) depends on every file.
enum Prepared {
    Blob(Vec<u8>),
    Quilt(EncodedQuilt),
}

async fn store(
    publisher: Publisher,
    upload: Upload,
    query: StoreQuery,
    _permits: StorePermits,
) -> Result<Stored, HttpError> {
    let inner = &publisher.inner;
    let start = Instant::now();
    // The store runs with a wallet of the pool, its alone until `wallet` is dropped (which
    // gives it back, topped up if it ran low).
    let result = async {
        let prepared = match upload {
            Upload::Blob(bytes) => Prepared::Blob(bytes),
            Upload::Quilt(files) => Prepared::Quilt(inner.pool.main().encode_quilt(files).await?),
        };
        let size = match &prepared {
            Prepared::Blob(bytes) => bytes.len() as u64,
            Prepared::Quilt(quilt) => quilt.bytes.len() as u64,
        };
        let needed = inner
            .pool
            .funds_for_store(size, query.options.epochs)
            .await?;
        let wallet = inner.pool.checkout(needed).await?;
        let sdk = wallet.sdk();
        let outcome = match prepared {
            Prepared::Blob(bytes) => {
                Stored::Blob(sdk.store(bytes, query.options, &NoProgress).await?)
            }
            Prepared::Quilt(quilt) => Stored::Quilt(
                sdk.store_encoded_quilt(quilt, query.options, &NoProgress)
                    .await?,
            ),
        };
        Ok::<_, SdkError>((wallet, outcome, size))
    }
    .await;
    inner
        .metrics
        .store_seconds
        .observe(start.elapsed().as_secs_f64());
    let (wallet, outcome, size) = match result {
        Ok(stored) => stored,
        Err(error) => {
            inner.metrics.stores.with_label_values(&["error"]).inc();
            tracing::warn!(%error, "store failed");
            return Err(store_error(error));
        }
    };
    let blob = outcome.blob();
    inner
        .metrics
        .stores
        .with_label_values(&[outcome_label(blob)])
        .inc();
    inner.metrics.stored_bytes.inc_by(size);
    tracing::info!(blob_id = %blob.blob_id(), size, outcome = outcome_label(blob), "stored");
    if let (StoreOutcome::NewlyCreated { blob_object, .. }, Some(recipient)) =
        (blob, query.send_object_to)
    {
        // The wallet that stored the blob owns its object.
        wallet
            .sdk()
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

/// The answer of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`, or `degraded` when the chain does not answer.
    #[schema(pattern = "^(ok|degraded)$")]
    pub status: &'static str,
    /// The paying wallet's Sui address.
    pub wallet_address: String,
    /// Stores running now.
    pub stores_in_flight: i64,
    /// Uploads waiting for a store slot.
    pub uploads_queued: i64,
    /// The wallet's WAL in FROST (absent when degraded).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    pub wal_balance: Option<u64>,
    /// Why the balance is unknown (only when degraded).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub chain_error: Option<String>,
    /// Wallets that run stores (`--n-clients`): the sub-wallets, or 1 for the main wallet
    /// alone.
    pub n_clients: usize,
    /// The sub-wallets the main wallet funds (empty when it stores itself).
    pub sub_wallets: Vec<SubWalletHealth>,
}

/// A sub-wallet in [`Health`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubWalletHealth {
    /// Its Sui address.
    pub address: String,
    /// Whether a store is using it now.
    pub busy: bool,
    /// Its SUI in MIST as last seen (after its last store, plus refills since); absent if
    /// unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    pub sui_balance: Option<u64>,
    /// Its WAL in FROST as last seen; absent if unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    pub wal_balance: Option<u64>,
}

/// Health and the wallet
///
/// Always 200 while the publisher serves. `status` is `ok` with the main wallet's WAL balance
/// (FROST), or `degraded` with `chainError` (and no `walBalance`) when the chain does not
/// answer within 5 s. `nClients` wallets run stores; `subWallets` lists the sub-wallets with
/// their balances as the publisher last saw them (after each store and refill; no chain
/// request).
#[utoipa::path(
    get,
    path = HEALTH_ENDPOINT,
    tag = SERVICE_TAG,
    operation_id = "health",
    responses((status = 200, description = "Health.", body = Health))
)]
async fn health(State(publisher): State<Publisher>) -> Response {
    let inner = &publisher.inner;
    let pool = &inner.pool;
    let chain = pool.main().chain();
    let sub_wallets = if pool.has_sub_wallets() {
        pool.wallets()
            .into_iter()
            .map(|wallet| SubWalletHealth {
                address: wallet.address.to_string(),
                busy: wallet.busy,
                sui_balance: wallet.balances.map(|funds| funds.sui),
                wal_balance: wallet.balances.map(|funds| funds.wal),
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut health = Health {
        status: "ok",
        wallet_address: chain.address().to_string(),
        stores_in_flight: inner.metrics.in_flight.get(),
        uploads_queued: inner.metrics.queued.get(),
        wal_balance: None,
        chain_error: None,
        n_clients: pool.addresses().len(),
        sub_wallets,
    };
    match tokio::time::timeout(HEALTH_CHAIN_TIMEOUT, chain.wal_balance()).await {
        Ok(Ok(balance)) => health.wal_balance = Some(balance),
        Ok(Err(error)) => health.chain_error = Some(error.to_string()),
        Err(_) => health.chain_error = Some("the chain did not answer in time".to_owned()),
    }
    if health.chain_error.is_some() {
        health.status = "degraded";
    }
    json_response(StatusCode::OK, &health)
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
            (
                SdkError::MarkedInvalid {
                    blob_id: walrus_core::BlobId([1; 32]),
                    event: Default::default(),
                },
                500,
                "INTERNAL",
            ),
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
