//! The REST API (axum): Walrus's storage-node routes over [`StorageNode`]. BCS bodies in and
//! out (`application/octet-stream`), JSON envelopes for everything else; every error is the
//! JSON [`ApiError`] with a stable reason.
//!
//! Hostile clients: a request body is read only after the request was admitted (blob
//! registered, pair on our shard, metadata stored), and only up to what it can legitimately
//! be (metadata: from the shard count; a sliver: exactly its length from the blob's layout; a
//! proof: the symbols one rebuild takes), within a deadline; larger bodies get 413 before
//! anything is buffered or decoded, slow ones 408. Expensive work is bounded: recovery-symbol
//! computations and requests waiting for a registration have limits beyond which the node
//! answers 429 with `Retry-After`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    body::Bytes,
    extract::{
        rejection::{PathRejection, QueryRejection},
        MatchedPath, Path, Query, Request, State,
    },
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Serialize;
use walrus_core::messages::StorageConfirmation;
use walrus_node_client::api::{
    ApiError, ApiSuccess, BlobIdPath, DeletableConfirmationPath, ErrorReason, EventProgress,
    InconsistencyProofPath, RecoverySymbolsQuery, ServiceHealthInfo, SliverPath, API_DOCS_ENDPOINT,
    BCS_CONTENT_TYPE, BLOB_STATUS_ENDPOINT, DELETABLE_CONFIRMATION_ENDPOINT, HEALTH_ENDPOINT,
    INCONSISTENCY_PROOF_ENDPOINT, METADATA_ENDPOINT, METADATA_STATUS_ENDPOINT, METRICS_ENDPOINT,
    PERMANENT_CONFIRMATION_ENDPOINT, RECOVERY_SYMBOLS_ENDPOINT, SLIVER_ENDPOINT,
    SLIVER_STATUS_ENDPOINT,
};

use crate::node::{NodeError, StorageNode};

/// The OpenAPI 3 description of this API, served at `/v1/api`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Seconds a client is told to wait (`Retry-After`) when the node sheds load.
const RETRY_AFTER_SECS: &str = "1";

impl IntoResponse for NodeError {
    fn into_response(self) -> Response {
        let shed = matches!(
            self.reason,
            ErrorReason::RateLimited | ErrorReason::Unavailable
        );
        let error = ApiError::new(self.reason, self.message);
        let status =
            StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(error)).into_response();
        if shed {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

fn bad_request(message: impl std::fmt::Display) -> NodeError {
    NodeError::new(ErrorReason::InvalidRequest, message.to_string())
}

fn path<T>(extracted: Result<Path<T>, PathRejection>) -> Result<T, NodeError> {
    extracted
        .map(|Path(value)| value)
        .map_err(|rejection| bad_request(format!("invalid path: {}", rejection.body_text())))
}

/// Reads a request body of at most `limit` bytes (and at most the server's `max_body_bytes`)
/// within the node's body deadline: 413 as soon as the declared or received length passes the
/// limit, 408 when the body is too slow. Called only after the request was admitted, so
/// nothing is buffered for requests that would be refused anyway.
async fn read_body(
    node: &StorageNode,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, NodeError> {
    let limit = limit.min(node.max_body_bytes());
    let too_large = |length: String| {
        node.refused("too_large");
        NodeError::new(
            ErrorReason::PayloadTooLarge,
            format!("the body has {length} bytes; at most {limit} are legitimate here"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(declared) = declared {
        if usize::try_from(declared).map_or(true, |declared| declared > limit) {
            return Err(too_large(declared.to_string()));
        }
    }
    let deadline = Duration::from_millis(node.limits().body_timeout_ms);
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            let length_limit = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if length_limit {
                Err(too_large(format!("more than {limit}")))
            } else {
                Err(bad_request(format!("cannot read the body: {error}")))
            }
        }
        Err(_) => {
            node.refused("body_timeout");
            Err(NodeError::new(
                ErrorReason::RequestTimeout,
                format!("the body did not arrive within {} ms", deadline.as_millis()),
            ))
        }
    }
}

fn bcs_response(bytes: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(BCS_CONTENT_TYPE),
        )],
        bytes,
    )
        .into_response()
}

fn bcs_encode<T: Serialize>(value: &T) -> Result<Response, NodeError> {
    bcs::to_bytes(value)
        .map(bcs_response)
        .map_err(|error| NodeError::new(ErrorReason::Internal, error.to_string()))
}

fn json_ok<T: Serialize>(status: StatusCode, data: T) -> Response {
    (status, Json(ApiSuccess::new(status.as_u16(), data))).into_response()
}

fn stored(fresh: bool, what: &str) -> Response {
    if fresh {
        json_ok(StatusCode::CREATED, format!("{what} stored"))
    } else {
        json_ok(StatusCode::OK, format!("{what} already stored"))
    }
}

type NodeState = State<Arc<StorageNode>>;

async fn get_metadata(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    bcs_encode(&node.get_metadata(&blob_id).await?)
}

async fn put_metadata(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    let limit = node.admit_metadata(&blob_id).await?;
    let bytes = read_body(&node, &headers, body, limit).await?;
    Ok(stored(
        node.put_metadata_bytes(blob_id, &bytes).await?,
        "metadata",
    ))
}

async fn metadata_status(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    Ok(json_ok(
        StatusCode::OK,
        node.metadata_status(&blob_id).await?,
    ))
}

async fn get_sliver(
    State(node): NodeState,
    params: Result<Path<SliverPath>, PathRejection>,
) -> Result<Response, NodeError> {
    let SliverPath {
        blob_id,
        sliver_pair_index,
        sliver_type,
    } = path(params)?;
    Ok(bcs_response(
        node.get_sliver(blob_id, sliver_pair_index, sliver_type)
            .await?,
    ))
}

async fn put_sliver(
    State(node): NodeState,
    params: Result<Path<SliverPath>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, NodeError> {
    let SliverPath {
        blob_id,
        sliver_pair_index,
        sliver_type,
    } = path(params)?;
    let (metadata, length) = node
        .admit_sliver(&blob_id, sliver_pair_index, sliver_type)
        .await?;
    let bytes = read_body(&node, &headers, body, length).await?;
    let fresh = node
        .put_admitted_sliver(
            blob_id,
            sliver_pair_index,
            sliver_type,
            metadata,
            length,
            &bytes,
        )
        .await?;
    Ok(stored(fresh, "sliver"))
}

async fn sliver_status(
    State(node): NodeState,
    params: Result<Path<SliverPath>, PathRejection>,
) -> Result<Response, NodeError> {
    let SliverPath {
        blob_id,
        sliver_pair_index,
        sliver_type,
    } = path(params)?;
    Ok(json_ok(
        StatusCode::OK,
        node.sliver_status(blob_id, sliver_pair_index, sliver_type)
            .await?,
    ))
}

async fn permanent_confirmation(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    let signed = node.confirmation(blob_id, None).await?;
    Ok(json_ok(StatusCode::OK, StorageConfirmation::Signed(signed)))
}

async fn deletable_confirmation(
    State(node): NodeState,
    params: Result<Path<DeletableConfirmationPath>, PathRejection>,
) -> Result<Response, NodeError> {
    let DeletableConfirmationPath { blob_id, object_id } = path(params)?;
    let signed = node.confirmation(blob_id, Some(object_id)).await?;
    Ok(json_ok(StatusCode::OK, StorageConfirmation::Signed(signed)))
}

async fn recovery_symbols(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
    query: Result<Query<RecoverySymbolsQuery>, QueryRejection>,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    let Query(query) = query
        .map_err(|rejection| bad_request(format!("invalid query: {}", rejection.body_text())))?;
    // Each answer expands and hashes slivers: a bounded number at a time.
    let _slot = node.symbol_slot().await?;
    let symbols = node
        .recovery_symbols(blob_id, query.target_index(), query.target_type)
        .await?;
    bcs_encode(&symbols)
}

async fn inconsistency_proof(
    State(node): NodeState,
    params: Result<Path<InconsistencyProofPath>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, NodeError> {
    let InconsistencyProofPath {
        blob_id,
        sliver_type,
    } = path(params)?;
    let (metadata, limit) = node
        .admit_inconsistency_proof(&blob_id, sliver_type)
        .await?;
    let bytes = read_body(&node, &headers, body, limit).await?;
    let proof = StorageNode::decode_inconsistency_proof(&metadata, sliver_type, &bytes)?;
    let signed = node.verify_inconsistency_proof(blob_id, proof).await?;
    Ok(json_ok(StatusCode::OK, signed))
}

async fn blob_status(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    Ok(json_ok(StatusCode::OK, node.blob_status(&blob_id)?))
}

async fn health(State(node): NodeState) -> Result<Response, NodeError> {
    let view = node.committee();
    let (last_cursor, events_processed) = node.store().event_progress()?;
    let node_id = view
        .own_index
        .map(|index| view.members[index].node_id.to_string())
        .unwrap_or_default();
    let info = ServiceHealthInfo {
        uptime_secs: node.uptime().as_secs(),
        epoch: view.epoch,
        public_key: ServiceHealthInfo::encode_public_key(node.keys().public()),
        node_id,
        node_status: if view.own_index.is_some() {
            "active".to_owned()
        } else {
            "standby".to_owned()
        },
        event_progress: EventProgress {
            events_processed,
            last_cursor,
        },
        shards: view.own_shards.iter().map(|shard| shard.0).collect(),
    };
    Ok(json_ok(StatusCode::OK, info))
}

async fn metrics(State(node): NodeState) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        node.metrics().render(),
    )
        .into_response()
}

async fn api_docs() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON,
    )
        .into_response()
}

async fn not_found() -> NodeError {
    NodeError::new(ErrorReason::NotFound, "no such endpoint")
}

async fn method_not_allowed() -> NodeError {
    NodeError::new(
        ErrorReason::MethodNotAllowed,
        "this endpoint does not take this method",
    )
}

/// Records the latency of every request by route template and status class.
async fn record_latency(State(node): NodeState, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(request).await;
    let class = format!("{}xx", response.status().as_u16() / 100);
    node.metrics()
        .request_latency
        .with_label_values(&[route.as_str(), class.as_str()])
        .observe(start.elapsed().as_secs_f64());
    response
}

/// The node's router. Request bodies are read by the handlers themselves, after admission,
/// with per-route limits (see `read_body`).
pub fn router(node: Arc<StorageNode>) -> Router {
    Router::new()
        .route(METADATA_ENDPOINT, get(get_metadata).put(put_metadata))
        .route(METADATA_STATUS_ENDPOINT, get(metadata_status))
        .route(SLIVER_ENDPOINT, get(get_sliver).put(put_sliver))
        .route(SLIVER_STATUS_ENDPOINT, get(sliver_status))
        .route(PERMANENT_CONFIRMATION_ENDPOINT, get(permanent_confirmation))
        .route(DELETABLE_CONFIRMATION_ENDPOINT, get(deletable_confirmation))
        .route(RECOVERY_SYMBOLS_ENDPOINT, get(recovery_symbols))
        .route(INCONSISTENCY_PROOF_ENDPOINT, post(inconsistency_proof))
        .route(BLOB_STATUS_ENDPOINT, get(blob_status))
        .route(HEALTH_ENDPOINT, get(health))
        .route(METRICS_ENDPOINT, get(metrics))
        .route(API_DOCS_ENDPOINT, get(api_docs))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(node.clone(), record_latency))
        .with_state(node)
}
