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
//!
//! The routes are documented where they are handled (`#[utoipa::path]`): the OpenAPI document
//! at `/v1/api` is generated from them and the wire types of `walrus_node_client::api`.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{
    body::Body,
    body::Bytes,
    extract::{
        rejection::{PathRejection, QueryRejection},
        Path, Query, RawQuery, State,
    },
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json, Router,
};
use serde::Serialize;
use utoipa_axum::routes;
use walrus_core::messages::{SignedSyncShardRequest, StorageConfirmation};
use walrus_core::ShardIndex;
use walrus_node_client::api::{
    ApiError, ApiSuccess, BlobIdPath, BlobStatus, ConfirmationWaitQuery, DecodingSymbolsParams,
    DecodingSymbolsQuery, DeletableConfirmationPath, ErrorReason, EventProgress, HealthQuery,
    InconsistencyProofPath, RecoverySymbolsParams, RecoverySymbolsRequest, ServiceHealthInfo,
    ShardHealthInfo, ShardStatus, ShardStatusDetail, ShardStatusSummary, SliverPath,
    StoredOnNodeStatus, UploadIntent, UploadIntentQuery, BCS_CONTENT_TYPE, BLOB_STATUS_ENDPOINT,
    DECODING_SYMBOLS_ENDPOINT, DELETABLE_CONFIRMATION_ENDPOINT, HEALTH_ENDPOINT,
    INCONSISTENCY_PROOF_ENDPOINT, METADATA_ENDPOINT, METADATA_STATUS_ENDPOINT, NODE_STATUS_ACTIVE,
    NODE_STATUS_STANDBY, PERMANENT_CONFIRMATION_ENDPOINT, RECOVERY_SYMBOLS_ENDPOINT,
    SLIVER_ENDPOINT, SLIVER_STATUS_ENDPOINT, SYNC_SHARD_ENDPOINT,
};
use walrus_service::{
    router::{BLOBS_TAG, SERVICE_TAG},
    ServiceRouter,
};

use crate::{
    committee::CommitteeView,
    node::{NodeError, StorageNode, MAX_SYNC_SHARD_REQUEST_BYTES},
    store::{ShardSync, SyncPhase},
};

/// Seconds a client is told to wait (`Retry-After`) when the node sheds load.
const RETRY_AFTER_SECS: u64 = 1;

impl IntoResponse for NodeError {
    fn into_response(self) -> Response {
        let shed = matches!(
            self.reason,
            ErrorReason::RateLimited | ErrorReason::Unavailable
        );
        walrus_service::router::error_response(
            ApiError::new(self.reason, self.message),
            shed.then_some(RETRY_AFTER_SECS),
        )
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

fn bcs_response(bytes: impl Into<Bytes>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(BCS_CONTENT_TYPE),
        )],
        bytes.into(),
    )
        .into_response()
}

fn bcs_encode<T: Serialize>(value: &T) -> Result<Response, NodeError> {
    walrus_core::to_bcs_exact(value)
        .map(bcs_response)
        .map_err(|error| NodeError::new(ErrorReason::Internal, error.to_string()))
}

fn json_ok<T: Serialize>(status: StatusCode, data: T) -> Response {
    (status, Json(ApiSuccess::new(status.as_u16(), data))).into_response()
}

/// The answer to an upload: 201 newly stored (202 with `?pending=true`: stored or buffered
/// until the registration is seen), 200 already there.
fn stored(fresh: bool, intent: UploadIntent, what: &str) -> Response {
    match (fresh, intent) {
        (true, UploadIntent::Immediate) => json_ok(StatusCode::CREATED, format!("{what} stored")),
        (true, UploadIntent::Pending) => json_ok(
            StatusCode::ACCEPTED,
            format!("{what} buffered pending registration"),
        ),
        (false, _) => json_ok(StatusCode::OK, format!("{what} already stored")),
    }
}

/// The longest wait for a registration a confirmation query asks for, if it asks for one.
fn confirmation_wait(
    query: Result<Query<ConfirmationWaitQuery>, QueryRejection>,
) -> Result<Option<Duration>, NodeError> {
    let Query(query) = query
        .map_err(|rejection| bad_request(format!("invalid query: {}", rejection.body_text())))?;
    Ok(query.wait_for_registration.then(|| {
        query
            .wait_millis
            .map_or(Duration::MAX, Duration::from_millis)
    }))
}

type NodeState = State<Arc<StorageNode>>;

/// What the operations on blobs are.
const BLOBS_DESCRIPTION: &str = "Blob metadata, slivers, confirmations, recovery and status.";

// Descriptions of the answers several operations share (the responses of the error reasons an
// operation lists and does not describe itself come from the reasons' meanings).
const BUFFERED: &str = "Accepted with `?pending=true` (buffered until the registration is seen, or stored if it was): `{\"success\":{\"code\":202,\"data\":\"<what> buffered pending registration\"}}`.";
const STORED: &str = "Newly stored: `{\"success\":{\"code\":201,\"data\":\"<what> stored\"}}`.";
const ALREADY_STORED: &str = "Already stored before (idempotent): `{\"success\":{\"code\":200,\"data\":\"<what> already stored\"}}`.";
const CONFIRMATION: &str =
    "The storage confirmation, signed with the node's BLS key for the current epoch.";

/// The description of the node's OpenAPI document.
const API_DESCRIPTION: &str = "REST API of a Walrus storage node. BCS bodies use `application/octet-stream`; JSON successes are `{\"success\":{\"code\":<status>,\"data\":...}}`; every error is the JSON `ApiError` with a stable `reason`. Request bodies are limited to what they can legitimately be and to the node's `max_body_bytes` (default 256 MiB; 413 PAYLOAD_TOO_LARGE), and must arrive within the node's body deadline (408 REQUEST_TIMEOUT). Requests beyond the node's limits (recovery-symbol computations, requests waiting for a registration) are answered 429 RATE_LIMITED with `Retry-After`. Unknown paths answer 404 NOT_FOUND; an unsupported method on a known path answers 405 METHOD_NOT_ALLOWED. Each operation's `x-error-reasons` lists the reasons it can return.";

/// The schemas of the bodies whose types are in `walrus-core` (documentation only).
mod bodies {
    walrus_service::binary_schemas! {
        /// BCS `walrus_core::metadata::BlobMetadata`: enum, `V1` = tag 0, then `BlobMetadataV1`
        /// (encoding type, unencoded length, per-pair primary/secondary hashes).
        pub BcsBlobMetadata;
        /// BCS `walrus_core::metadata::BlobMetadataWithId`: blob ID (32 B) || BCS `BlobMetadata`.
        pub BcsBlobMetadataWithId;
        /// BCS `walrus_core::encoding::SliverData<Primary|Secondary>`:
        /// `{ symbols: { data: Vec<u8>, symbol_size: u16 }, index: u16 }`.
        pub BcsSliverData;
        /// BCS `Vec<walrus_core::encoding::GeneralRecoverySymbol>`: each
        /// `{ symbol: EitherDecodingSymbol, target_index: u16, proof: MerkleProof }`.
        pub BcsRecoverySymbols;
        /// BCS `BTreeMap<u16, Vec<walrus_core::encoding::EitherDecodingSymbol>>`: per target
        /// sliver, symbols `Primary`/`Secondary` (tag 0/1, the target's axis) of
        /// `{ index: u16 (the source sliver), data: Vec<u8> }`.
        pub BcsDecodingSymbols;
        /// BCS `walrus_core::encoding::InconsistencyProof<Primary|Secondary>`:
        /// `{ target_sliver_index: u16, recovery_symbols: Vec<RecoverySymbol<T>> }`.
        pub BcsInconsistencyProof;
        /// BCS `walrus_core::messages::SignedSyncShardRequest`: `{ serialized_message: Vec<u8>,
        /// signature: [u8; 96] }`, the message being intent `[3,0,3]` || epoch (u32 LE) ||
        /// `{ shard_index: u16, sliver_type: u8, starting_blob_id: [u8; 32], sliver_count: u64 }`.
        pub BcsSignedSyncShardRequest;
        /// BCS `SyncShardResponse`: enum, `V1` = tag 0, then `Vec<(BlobId, Sliver)>` in
        /// increasing blob-ID order (`Sliver`: enum, `Primary` = 0, `Secondary` = 1, then
        /// `SliverData`).
        pub BcsSyncShardResponse;
    }

    walrus_service::schema! {
        /// A message signed by one node (`walrus_core::messages::SignedMessage<T>`).
        pub SignedMessage = {
            "type": "object",
            "description": "A message signed by one node (`SignedMessage<T>`).",
            "required": ["serializedMessage", "signature"],
            "properties": {
                "serializedMessage": {
                    "type": "string",
                    "format": "byte",
                    "description": "Standard padded base64 of the BCS `ProtocolMessage`: intent (3 B: type, version 0, app 3) || epoch (u32 LE) || BCS contents."
                },
                "signature": {
                    "type": "string",
                    "format": "byte",
                    "description": "Standard base64 of the 96-byte BLS12-381 signature over the serialized message."
                }
            }
        }
    }

    walrus_service::schema! {
        /// `walrus_core::messages::StorageConfirmation`.
        pub StorageConfirmation uses(SignedMessage) = {
            "type": "object",
            "description": "`{\"signed\": SignedMessage}`; the message is a `Confirmation` (intent `[1,0,3]`, epoch, blob ID, `BlobPersistenceType`).",
            "required": ["signed"],
            "properties": {
                "signed": { "$ref": "#/components/schemas/SignedMessage" }
            }
        }
    }
}

/// Get the blob's metadata
#[utoipa::path(
    get,
    path = METADATA_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getMetadata",
    params(BlobIdPath),
    responses(
        (status = 200, description = "BCS `BlobMetadataWithId` (blob ID followed by the `BlobMetadata`).", body = bodies::BcsBlobMetadataWithId, content_type = BCS_CONTENT_TYPE),
        (status = 410, description = "BLOB_INVALID: no metadata are stored and the blob was proven invalid.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "METADATA_NOT_FOUND", "BLOB_INVALID", "INTERNAL"])))
)]
async fn get_metadata(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    bcs_encode(&node.get_metadata(&blob_id).await?)
}

/// Store the blob's metadata
///
/// If the node has not yet seen the blob registered it waits (default 10 s) for the
/// registration event before answering NOT_REGISTERED; with `?pending=true` it verifies the
/// metadata and buffers them (bounded, in memory) until the registration is seen (202).
#[utoipa::path(
    put,
    path = METADATA_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "putMetadata",
    params(BlobIdPath, UploadIntentQuery),
    request_body(
        content = bodies::BcsBlobMetadata,
        content_type = BCS_CONTENT_TYPE,
        description = "BCS `BlobMetadata` (the versioned enum, `V1` = tag 0) of the blob."
    ),
    responses(
        (status = 201, description = STORED, body = ApiSuccess<String>),
        (status = 202, description = BUFFERED, body = ApiSuccess<String>),
        (status = 200, description = ALREADY_STORED, body = ApiSuccess<String>),
        (status = 400, description = "INVALID_REQUEST: a path parameter or the query does not parse, or the body cannot be read; CACHE_SATURATED: `?pending=true` and the node's buffer of uploads pending registration is full; INVALID_METADATA: the body is not BCS `BlobMetadata` or does not verify (hash count, length, hashes to `blob_id`); NOT_REGISTERED: the blob is not registered on chain (or has expired) after waiting for the registration event.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "PAYLOAD_TOO_LARGE", "REQUEST_TIMEOUT", "INVALID_METADATA", "NOT_REGISTERED", "CACHE_SATURATED", "BLOB_INVALID", "RATE_LIMITED", "INTERNAL"])))
)]
async fn put_metadata(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
    query: Result<Query<UploadIntentQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    let intent = upload_intent(query)?;
    let limit = node.admit_metadata(&blob_id, intent).await?;
    let bytes = read_body(&node, &headers, body, limit).await?;
    Ok(stored(
        node.put_metadata_bytes(blob_id, &bytes, intent).await?,
        intent,
        "metadata",
    ))
}

/// The upload intent of a `PUT` query (400 INVALID_REQUEST for anything but `pending`).
fn upload_intent(
    query: Result<Query<UploadIntentQuery>, QueryRejection>,
) -> Result<UploadIntent, NodeError> {
    let Query(query) = query
        .map_err(|rejection| bad_request(format!("invalid query: {}", rejection.body_text())))?;
    Ok(query.intent())
}

/// Whether the node stores the blob's metadata
#[utoipa::path(
    get,
    path = METADATA_STATUS_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getMetadataStatus",
    params(BlobIdPath),
    responses(
        (status = 200, description = "`{\"success\":{\"code\":200,\"data\":\"stored\"|\"buffered\"|\"nonexistent\"}}` (`buffered`: held in memory until the blob's registration is seen).", body = ApiSuccess<StoredOnNodeStatus>),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "INTERNAL"])))
)]
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

/// Get a sliver
#[utoipa::path(
    get,
    path = SLIVER_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getSliver",
    params(SliverPath),
    responses(
        (status = 200, description = "BCS `SliverData<Primary>` or `SliverData<Secondary>` (per `sliver_type`) held by the pair.", body = bodies::BcsSliverData, content_type = BCS_CONTENT_TYPE),
        (status = 400, description = "INVALID_REQUEST: a path parameter does not parse or `sliver_pair_index` >= n_shards; SHARD_NOT_ASSIGNED: the pair's shard is not held by this node in the current epoch.", body = ApiError),
        (status = 410, description = "BLOB_INVALID: the sliver is not stored and the blob was proven invalid.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "SHARD_NOT_ASSIGNED", "SLIVER_NOT_FOUND", "BLOB_INVALID", "INTERNAL"])))
)]
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

/// Store a sliver
///
/// Checks registration (waiting for it like PUT metadata), the shard assignment, the stored
/// metadata and the sliver itself before storing it durably. With `?pending=true`, a sliver of
/// a blob whose registration is not seen yet is checked against the buffered (or stored)
/// metadata and buffered until the registration is seen (202).
#[utoipa::path(
    put,
    path = SLIVER_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "putSliver",
    params(SliverPath, UploadIntentQuery),
    request_body(
        content = bodies::BcsSliverData,
        content_type = BCS_CONTENT_TYPE,
        description = "BCS `SliverData<Primary>` or `SliverData<Secondary>`, matching `sliver_type`."
    ),
    responses(
        (status = 201, description = STORED, body = ApiSuccess<String>),
        (status = 202, description = BUFFERED, body = ApiSuccess<String>),
        (status = 200, description = ALREADY_STORED, body = ApiSuccess<String>),
        (status = 400, description = "INVALID_REQUEST: a path parameter or the query does not parse, the body cannot be read or `sliver_pair_index` >= n_shards; CACHE_SATURATED: `?pending=true` and the buffer of uploads pending registration is full (or the sliver is larger than it takes); NOT_REGISTERED: the blob is not registered (or has expired) after waiting for the registration event; SHARD_NOT_ASSIGNED: the pair's shard is not held by this node; INVALID_SLIVER: the body is not a BCS sliver or does not verify against the stored metadata; SLIVER_INDEX_MISMATCH: the sliver's index is not the one the pair holds on this axis (primary: pair index; secondary: n_shards - 1 - pair index).", body = ApiError),
        (status = 404, description = "METADATA_NOT_FOUND: the metadata must be stored before the slivers.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "PAYLOAD_TOO_LARGE", "REQUEST_TIMEOUT", "NOT_REGISTERED", "CACHE_SATURATED", "BLOB_INVALID", "SHARD_NOT_ASSIGNED", "METADATA_NOT_FOUND", "INVALID_SLIVER", "SLIVER_INDEX_MISMATCH", "RATE_LIMITED", "INTERNAL"])))
)]
async fn put_sliver(
    State(node): NodeState,
    params: Result<Path<SliverPath>, PathRejection>,
    query: Result<Query<UploadIntentQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, NodeError> {
    let SliverPath {
        blob_id,
        sliver_pair_index,
        sliver_type,
    } = path(params)?;
    let intent = upload_intent(query)?;
    let (metadata, length) = node
        .admit_sliver(&blob_id, sliver_pair_index, sliver_type, intent)
        .await?;
    let bytes = read_body(&node, &headers, body, length).await?;
    let fresh = node
        .put_admitted_sliver(
            blob_id,
            sliver_pair_index,
            sliver_type,
            metadata,
            length,
            bytes,
            intent,
        )
        .await?;
    Ok(stored(fresh, intent, "sliver"))
}

/// Whether the node stores a sliver
#[utoipa::path(
    get,
    path = SLIVER_STATUS_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getSliverStatus",
    params(SliverPath),
    responses(
        (status = 200, description = "`{\"success\":{\"code\":200,\"data\":\"stored\"|\"buffered\"|\"nonexistent\"}}` (`buffered`: held in memory until the blob's registration is seen).", body = ApiSuccess<StoredOnNodeStatus>),
        (status = 400, description = "INVALID_REQUEST: a path parameter does not parse or `sliver_pair_index` >= n_shards; SHARD_NOT_ASSIGNED: the pair's shard is not held by this node in the current epoch.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "SHARD_NOT_ASSIGNED", "INTERNAL"])))
)]
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

/// Get a storage confirmation for a permanent blob
///
/// Signed once the blob has a live permanent registration and the metadata and every sliver of
/// the node's shards are durable. The message is intent `[1,0,3]`, epoch, blob ID,
/// `BlobPersistenceType::Permanent`. With `?wait_for_registration=true[&wait_millis=N]`, if
/// uploads of the blob are buffered pending its registration, the node waits for it (at most
/// `wait_millis`, capped by its limit, 5 s by default), stores them, then signs.
#[utoipa::path(
    get,
    path = PERMANENT_CONFIRMATION_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getPermanentConfirmation",
    params(BlobIdPath, ConfirmationWaitQuery),
    responses(
        (status = 200, description = CONFIRMATION, body = ApiSuccess<bodies::StorageConfirmation>),
        (status = 400, description = "INVALID_REQUEST: a path parameter does not parse; NOT_REGISTERED: the blob is not registered (or has expired) after waiting for the registration, or has no live permanent registration; MISSING_SLIVERS: the metadata or a sliver of one of the node's shards is not stored yet (retry later).", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "NOT_REGISTERED", "BLOB_INVALID", "MISSING_SLIVERS", "RATE_LIMITED", "INTERNAL"])))
)]
async fn permanent_confirmation(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
    query: Result<Query<ConfirmationWaitQuery>, QueryRejection>,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    let wait = confirmation_wait(query)?;
    let signed = node.confirmation(blob_id, None, wait).await?;
    Ok(json_ok(StatusCode::OK, StorageConfirmation::Signed(signed)))
}

/// Get a storage confirmation for a deletable blob object
///
/// Like the permanent confirmation, for the live deletable `Blob` object `object_id`; the
/// message carries `BlobPersistenceType::Deletable { object_id }`.
#[utoipa::path(
    get,
    path = DELETABLE_CONFIRMATION_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getDeletableConfirmation",
    params(DeletableConfirmationPath, ConfirmationWaitQuery),
    responses(
        (status = 200, description = CONFIRMATION, body = ApiSuccess<bodies::StorageConfirmation>),
        (status = 400, description = "INVALID_REQUEST: a path parameter does not parse; NOT_REGISTERED: the blob is not registered (or has expired) after waiting for the registration, or has no live deletable object `object_id`; MISSING_SLIVERS: the metadata or a sliver of one of the node's shards is not stored yet (retry later).", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "NOT_REGISTERED", "BLOB_INVALID", "MISSING_SLIVERS", "RATE_LIMITED", "INTERNAL"])))
)]
async fn deletable_confirmation(
    State(node): NodeState,
    params: Result<Path<DeletableConfirmationPath>, PathRejection>,
    query: Result<Query<ConfirmationWaitQuery>, QueryRejection>,
) -> Result<Response, NodeError> {
    let DeletableConfirmationPath { blob_id, object_id } = path(params)?;
    let wait = confirmation_wait(query)?;
    let signed = node.confirmation(blob_id, Some(object_id), wait).await?;
    Ok(json_ok(StatusCode::OK, StorageConfirmation::Signed(signed)))
}

/// Get recovery symbols for rebuilding slivers
///
/// Two forms (Walrus's list endpoint): `?targetSliver=<u16>&targetType=<axis>`, every symbol
/// this node can give for rebuilding that sliver (one per sliver of the orthogonal axis it
/// holds); or `?id=<P-S>&id=<P-S>...[&proofAxis=<axis>]`, the named symbols it holds, each
/// proven in its sliver of `proofAxis` (a symbol proven in secondary sliver `S` rebuilds
/// primary sliver `P`; one proven in primary sliver `P` rebuilds secondary sliver `S`), so
/// that a recovering node gets the symbols of many slivers in one request.
#[utoipa::path(
    get,
    path = RECOVERY_SYMBOLS_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getRecoverySymbols",
    params(BlobIdPath, RecoverySymbolsParams),
    responses(
        (status = 200, description = "BCS `Vec<GeneralRecoverySymbol>`: each with its Merkle proof; those asked that the node holds (possibly none).", body = bodies::BcsRecoverySymbols, content_type = BCS_CONTENT_TYPE),
        (status = 400, description = "INVALID_REQUEST: a path parameter does not parse, the query is missing, malformed or mixes the forms, an index is >= n_shards, or more symbols are asked than one answer may hold (1024, or 16 MiB of symbols).", body = ApiError),
        (status = 410, description = "BLOB_INVALID: no metadata are stored and the blob was proven invalid.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "METADATA_NOT_FOUND", "BLOB_INVALID", "RATE_LIMITED", "INTERNAL"])))
)]
async fn recovery_symbols(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    let request = RecoverySymbolsRequest::parse(query.as_deref())
        .map_err(|error| bad_request(format!("invalid query: {error}")))?;
    // Each answer expands and hashes slivers: a bounded number at a time.
    let _slot = node.symbol_slot().await?;
    let symbols = match request {
        RecoverySymbolsRequest::Target(query) => {
            node.recovery_symbols(blob_id, query.target_index(), query.target_type)
                .await?
        }
        RecoverySymbolsRequest::Ids { ids, proof_axis } => {
            node.recovery_symbols_by_id(blob_id, &ids, proof_axis)
                .await?
        }
    };
    Ok(bcs_response(symbols))
}

/// Get decoding symbols of source slivers
///
/// Walrus's `decodingSymbols`: for each target source sliver
/// (`?targetSlivers=0,3&targetType=primary`, or the key repeated), the symbols this node
/// holds for it, one per sliver of the other axis it serves, **without proofs**: a reader
/// must check what it decodes from them (against the metadata's hashes). Only source slivers
/// can be targets (below `n - 2f` for primary, `n - f` for secondary): their symbols are in
/// the stored slivers as they are.
#[utoipa::path(
    get,
    path = DECODING_SYMBOLS_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getDecodingSymbols",
    params(BlobIdPath, DecodingSymbolsParams),
    responses(
        (status = 200, description = "BCS `BTreeMap<u16, Vec<EitherDecodingSymbol>>`: every target asked, with the symbols the node holds for it (possibly none).", body = bodies::BcsDecodingSymbols, content_type = BCS_CONTENT_TYPE),
        (status = 400, description = "INVALID_REQUEST: a path parameter does not parse; the query is missing, malformed or has unknown keys; a target is not a source sliver; more than 1024 targets or 16 MiB of symbols are asked.", body = ApiError),
        (status = 410, description = "BLOB_INVALID: no metadata are stored and the blob was proven invalid.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "METADATA_NOT_FOUND", "BLOB_INVALID", "RATE_LIMITED", "INTERNAL"])))
)]
async fn decoding_symbols(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    let query = DecodingSymbolsQuery::parse(query.as_deref())
        .map_err(|error| bad_request(format!("invalid query: {error}")))?;
    // Reads of stored slivers: bounded with the recovery symbols' requests.
    let _slot = node.symbol_slot().await?;
    bcs_encode(&node.decoding_symbols(blob_id, &query).await?)
}

/// Submit an inconsistency proof; get an invalid-blob attestation
#[utoipa::path(
    post,
    path = INCONSISTENCY_PROOF_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "postInconsistencyProof",
    params(InconsistencyProofPath),
    request_body(
        content = bodies::BcsInconsistencyProof,
        content_type = BCS_CONTENT_TYPE,
        description = "BCS `InconsistencyProof<Primary>` or `InconsistencyProof<Secondary>`, matching `sliver_type` (the axis of the sliver the proof rebuilds)."
    ),
    responses(
        (status = 200, description = "The proof verifies: an invalid-blob-ID attestation (intent `[2,0,3]`, current epoch, blob ID) signed with the node's BLS key (`ApiSuccess<SignedInvalidBlobIdMsg>`, no `signed` wrapper).", body = ApiSuccess<bodies::SignedMessage>),
        (status = 400, description = "INVALID_REQUEST: a path parameter does not parse or the body cannot be read; INVALID_PROOF: the body is not a BCS proof of that axis or does not verify against the stored metadata.", body = ApiError),
        (status = 410, description = "BLOB_INVALID: no metadata are stored and the blob was proven invalid.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "PAYLOAD_TOO_LARGE", "REQUEST_TIMEOUT", "INVALID_PROOF", "METADATA_NOT_FOUND", "BLOB_INVALID", "INTERNAL"])))
)]
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

/// Pull a shard's slivers from its previous owner (shard migration)
#[utoipa::path(
    post,
    path = SYNC_SHARD_ENDPOINT,
    tag = SERVICE_TAG,
    operation_id = "syncShard",
    request_body(
        content = bodies::BcsSignedSyncShardRequest,
        content_type = BCS_CONTENT_TYPE,
        description = "BCS `SignedSyncShardRequest`: the shard, axis, starting blob ID and sliver count, for the current epoch, signed with the BLS key of the shard's owner in the current epoch."
    ),
    responses(
        (status = 200, description = "BCS `SyncShardResponse`: the slivers of that shard and axis that this node stores for the certified blobs from the starting blob ID (inclusive), in blob-ID order; at most `sliver_count` (and at most 1000) slivers, about 32 MiB at most (at least one sliver). Blobs whose sliver this node lacks are skipped.", body = bodies::BcsSyncShardResponse, content_type = BCS_CONTENT_TYPE),
        (status = 400, description = "INVALID_REQUEST: the body is not a signed sync-shard request or the shard is out of range; INVALID_EPOCH: the request is for another epoch; SHARD_NOT_ASSIGNED: this node held the shard neither in the previous epoch nor now.", body = ApiError),
        (status = 403, description = "UNAUTHORIZED: the signature is not the key of the shard's owner in the current epoch.", body = ApiError),
        (status = 429, description = "RATE_LIMITED: too many shard syncs at once; retry later.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "INVALID_EPOCH", "SHARD_NOT_ASSIGNED", "UNAUTHORIZED", "PAYLOAD_TOO_LARGE", "REQUEST_TIMEOUT", "RATE_LIMITED", "INTERNAL"])))
)]
async fn sync_shard(
    State(node): NodeState,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, NodeError> {
    let bytes = read_body(&node, &headers, body, MAX_SYNC_SHARD_REQUEST_BYTES).await?;
    let request: SignedSyncShardRequest = bcs::from_bytes(&bytes)
        .map_err(|error| bad_request(format!("invalid sync-shard request: {error}")))?;
    let response = node.sync_shard(request).await?;
    bcs_encode(&response)
}

/// The blob's on-chain status as the node sees it
#[utoipa::path(
    get,
    path = BLOB_STATUS_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getBlobStatus",
    params(BlobIdPath),
    responses(
        (status = 200, description = "The status.", body = ApiSuccess<BlobStatus>),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "INTERNAL"])))
)]
async fn blob_status(
    State(node): NodeState,
    params: Result<Path<BlobIdPath>, PathRejection>,
) -> Result<Response, NodeError> {
    let BlobIdPath { blob_id } = path(params)?;
    Ok(json_ok(StatusCode::OK, node.blob_status(&blob_id)?))
}

/// Node health
#[utoipa::path(
    get,
    path = HEALTH_ENDPOINT,
    tag = SERVICE_TAG,
    operation_id = "getHealth",
    params(HealthQuery),
    responses(
        (status = 200, description = "Walrus's health fields (uptime, epoch, BLS public key, status `Active` in the committee else `Standby`, event progress, shard summary, every shard's state with `?detailed=true`, the last checkpoint processed) and ours (uptime in seconds, node ID (empty if the node is not in the committee), shards).", body = ApiSuccess<ServiceHealthInfo>),
        (status = 400, description = "INVALID_REQUEST: the query does not parse.", body = ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "INTERNAL"])))
)]
async fn health(
    State(node): NodeState,
    query: Result<Query<HealthQuery>, QueryRejection>,
) -> Result<Response, NodeError> {
    let Query(query) = query
        .map_err(|rejection| bad_request(format!("invalid query: {}", rejection.body_text())))?;
    let view = node.committee();
    let (last_cursor, events_processed) = node.store().event_progress()?;
    let node_id = view
        .own_index
        .map(|index| view.members[index].node_id.to_string())
        .unwrap_or_default();
    let detail = shard_detail(&view, &node.store().shard_syncs()?);
    let uptime = node.uptime();
    let info = ServiceHealthInfo {
        uptime,
        uptime_secs: uptime.as_secs(),
        epoch: view.epoch,
        public_key: ServiceHealthInfo::encode_public_key(node.keys().public()),
        node_id,
        node_status: if view.own_index.is_some() {
            NODE_STATUS_ACTIVE
        } else {
            NODE_STATUS_STANDBY
        }
        .to_owned(),
        event_progress: EventProgress::new(events_processed, last_cursor),
        shard_summary: shard_summary(&detail),
        shard_detail: query.detailed.then_some(detail),
        latest_checkpoint_sequence_number: last_cursor.map(|cursor| cursor.checkpoint),
        shards: view.own_shards.iter().map(|shard| shard.0).collect(),
    };
    Ok(json_ok(StatusCode::OK, info))
}

/// Every shard the node serves with its state: those it holds (in transfer while a sync
/// from the previous owner runs, else ready) and, while the epoch change is not done, those
/// it gave away (read-only).
fn shard_detail(
    view: &CommitteeView,
    syncs: &BTreeMap<ShardIndex, ShardSync>,
) -> ShardStatusDetail {
    let owned = view
        .own_shards
        .iter()
        .map(|shard| {
            let syncing = syncs.get(shard).is_some_and(|sync| {
                sync.epoch == view.epoch && matches!(sync.phase, SyncPhase::Direct { .. })
            });
            ShardHealthInfo {
                shard: shard.0,
                status: if syncing {
                    ShardStatus::InTransfer
                } else {
                    ShardStatus::Ready
                },
            }
        })
        .collect();
    let other = match (&view.previous, view.in_transition) {
        (Some(previous), true) => previous
            .own_shards
            .difference(&view.own_shards)
            .map(|shard| ShardHealthInfo {
                shard: shard.0,
                status: ShardStatus::ReadOnly,
            })
            .collect(),
        _ => Vec::new(),
    };
    ShardStatusDetail { owned, other }
}

/// The counts of [`shard_detail`]'s states.
fn shard_summary(detail: &ShardStatusDetail) -> ShardStatusSummary {
    let mut summary = ShardStatusSummary {
        owned: detail.owned.len(),
        read_only: detail.other.len(),
        ..ShardStatusSummary::default()
    };
    for shard in &detail.owned {
        let counter = &mut summary.owned_shard_status;
        match shard.status {
            ShardStatus::Ready => counter.ready += 1,
            ShardStatus::InTransfer => counter.in_transfer += 1,
            ShardStatus::InRecovery => counter.in_recovery += 1,
            ShardStatus::Unknown | ShardStatus::ReadOnly => counter.unknown += 1,
        }
    }
    summary
}

/// The node's router: the routes of the REST API (each documented in the OpenAPI document at
/// `/v1/api`), `/metrics`, JSON 404/405 fallbacks, request metrics. Request bodies are read by
/// the handlers themselves, after admission, with per-route limits (see `read_body`).
pub fn router(node: Arc<StorageNode>) -> Router {
    let metrics = node.metrics().clone();
    ServiceRouter::new("Walrus storage node", API_DESCRIPTION, BLOBS_DESCRIPTION)
        .routes(routes!(get_metadata, put_metadata))
        .routes(routes!(metadata_status))
        .routes(routes!(get_sliver, put_sliver))
        .routes(routes!(sliver_status))
        .routes(routes!(permanent_confirmation))
        .routes(routes!(deletable_confirmation))
        .routes(routes!(recovery_symbols))
        .routes(routes!(decoding_symbols))
        .routes(routes!(inconsistency_proof))
        .routes(routes!(sync_shard))
        .routes(routes!(blob_status))
        .routes(routes!(health))
        .finish(node, &metrics.registry, &metrics.requests)
}
