//! `NodeClient` against a mock storage node (axum on 127.0.0.1:0) serving canned BCS and JSON
//! answers built with walrus-core's encoder, plus a raw TCP peer that streams an endless body.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header::CONTENT_TYPE, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use walrus_core::{
    crypto::ProtocolKeyPair,
    encoding::{
        encode_blob, recover_sliver, EncodedBlob, EncodingConfig, ExpandedSliver,
        GeneralRecoverySymbol, InconsistencyProof, InconsistencyProofEither, Primary,
        RecoverySymbol, Secondary, SliverData,
    },
    messages::{
        BlobPersistenceType, Confirmation, InvalidBlobIdMsg, ProtocolMessageKind,
        StorageConfirmation, StorageConfirmationBody,
    },
    metadata::BlobMetadata,
    BlobId, ObjectId, SliverIndex, SliverPairIndex, SliverType,
};
use walrus_node_client::{
    api::{
        self, BlobIdPath, DeletableConfirmationPath, InconsistencyProofPath, SliverPath,
        BLOB_STATUS_ENDPOINT, DELETABLE_CONFIRMATION_ENDPOINT, HEALTH_ENDPOINT,
        INCONSISTENCY_PROOF_ENDPOINT, METADATA_ENDPOINT, METADATA_STATUS_ENDPOINT,
        PERMANENT_CONFIRMATION_ENDPOINT, RECOVERY_SYMBOLS_ENDPOINT, SLIVER_ENDPOINT,
        SLIVER_STATUS_ENDPOINT,
    },
    default_http_client, ApiSuccess, BlobStatus, DeletableCounts, ErrorReason, EventCursor,
    EventId, EventProgress, NodeClient, NodeClientError, RecoverySymbolsQuery, ServiceHealthInfo,
    StoredOnNodeStatus, TransactionDigest, BCS_CONTENT_TYPE,
};

const N_SHARDS: u16 = 10;
const EPOCH: u32 = 3;
/// A blob whose metadata route answers a body larger than the test client's cap.
const BIG_BLOB: BlobId = BlobId([0xbb; 32]);
/// A blob whose routes answer bodies that are not what they claim.
const GARBAGE_BLOB: BlobId = BlobId([0xcc; 32]);
/// A blob whose routes answer a plain-text gateway error.
const PROXY_ERROR_BLOB: BlobId = BlobId([0xdd; 32]);

struct Fixture {
    config: EncodingConfig,
    encoded: EncodedBlob,
    key: ProtocolKeyPair,
}

impl Fixture {
    fn new() -> Self {
        let config = EncodingConfig::new(N_SHARDS).unwrap();
        let data: Vec<u8> = (0..1500u32).map(|i| i.to_le_bytes()[0] ^ 0x5a).collect();
        let encoded = encode_blob(&config, &data).unwrap();
        Self {
            config,
            encoded,
            key: ProtocolKeyPair::from_seed([7; 32]),
        }
    }

    fn blob_id(&self) -> BlobId {
        *self.encoded.metadata.blob_id()
    }

    fn primary(&self, pair: SliverPairIndex) -> Option<&SliverData<Primary>> {
        self.encoded
            .sliver_pairs
            .iter()
            .find(|p| p.index() == pair)
            .map(|p| &p.primary)
    }

    fn secondary(&self, pair: SliverPairIndex) -> Option<&SliverData<Secondary>> {
        self.encoded
            .sliver_pairs
            .iter()
            .find(|p| p.index() == pair)
            .map(|p| &p.secondary)
    }

    /// The symbols every holder of an orthogonal sliver would give for `target`.
    fn recovery_symbols(
        &self,
        target: SliverIndex,
        target_type: SliverType,
    ) -> Vec<GeneralRecoverySymbol> {
        let layout = self.encoded.metadata.layout();
        self.encoded
            .sliver_pairs
            .iter()
            .filter_map(|pair| match target_type {
                SliverType::Primary => ExpandedSliver::new(&pair.secondary, layout)
                    .unwrap()
                    .recovery_symbol(target)
                    .map(|symbol| GeneralRecoverySymbol::from_recovery_symbol(symbol, target)),
                SliverType::Secondary => ExpandedSliver::new(&pair.primary, layout)
                    .unwrap()
                    .recovery_symbol(target)
                    .map(|symbol| GeneralRecoverySymbol::from_recovery_symbol(symbol, target)),
            })
            .collect()
    }
}

type AppState = Arc<Fixture>;

fn api_error(reason: ErrorReason, message: &str) -> Response {
    let error = reason.to_api_error(message);
    let status = StatusCode::from_u16(error.http_status()).unwrap();
    (status, Json(error)).into_response()
}

fn bcs_response(bytes: Vec<u8>) -> Response {
    ([(CONTENT_TYPE, BCS_CONTENT_TYPE)], bytes).into_response()
}

fn json_ok<T: serde::Serialize>(data: T) -> Response {
    Json(ApiSuccess::ok(data)).into_response()
}

fn is_bcs(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|value| value == BCS_CONTENT_TYPE)
}

async fn get_metadata(State(state): State<AppState>, Path(path): Path<BlobIdPath>) -> Response {
    match path.blob_id {
        id if id == state.blob_id() => {
            bcs_response(bcs::to_bytes(state.encoded.metadata.as_unverified()).unwrap())
        }
        BIG_BLOB => bcs_response(vec![0; 2 << 20]),
        GARBAGE_BLOB => bcs_response(vec![0xff; 10]),
        PROXY_ERROR_BLOB => (StatusCode::BAD_GATEWAY, "upstream exploded").into_response(),
        _ => api_error(ErrorReason::MetadataNotFound, "no metadata for this blob"),
    }
}

async fn put_metadata(
    State(state): State<AppState>,
    Path(path): Path<BlobIdPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_bcs(&headers) {
        return api_error(ErrorReason::UnsupportedMediaType, "BCS expected");
    }
    match bcs::from_bytes::<BlobMetadata>(&body) {
        Ok(metadata) if metadata.compute_blob_id() == path.blob_id => {
            assert_eq!(&metadata, state.encoded.metadata.metadata());
            StatusCode::CREATED.into_response()
        }
        _ => api_error(
            ErrorReason::InvalidMetadata,
            "metadata do not match the blob ID",
        ),
    }
}

async fn metadata_status(State(state): State<AppState>, Path(path): Path<BlobIdPath>) -> Response {
    json_ok(if path.blob_id == state.blob_id() {
        StoredOnNodeStatus::Stored
    } else {
        StoredOnNodeStatus::Nonexistent
    })
}

async fn get_sliver(State(state): State<AppState>, Path(path): Path<SliverPath>) -> Response {
    if path.blob_id == GARBAGE_BLOB {
        return bcs_response(vec![1, 2, 3]);
    }
    if path.blob_id != state.blob_id() {
        return api_error(ErrorReason::SliverNotFound, "no such sliver");
    }
    if path.sliver_pair_index.get() >= N_SHARDS {
        return api_error(ErrorReason::ShardNotAssigned, "not our shard");
    }
    let pair = path.sliver_pair_index;
    let bytes = match path.sliver_type {
        SliverType::Primary => bcs::to_bytes(state.primary(pair).unwrap()),
        SliverType::Secondary => bcs::to_bytes(state.secondary(pair).unwrap()),
    };
    bcs_response(bytes.unwrap())
}

async fn put_sliver(
    State(state): State<AppState>,
    Path(path): Path<SliverPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_bcs(&headers) {
        return api_error(ErrorReason::UnsupportedMediaType, "BCS expected");
    }
    let pair = path.sliver_pair_index;
    let matches = match path.sliver_type {
        SliverType::Primary => bcs::from_bytes::<SliverData<Primary>>(&body)
            .is_ok_and(|sliver| Some(&sliver) == state.primary(pair)),
        SliverType::Secondary => bcs::from_bytes::<SliverData<Secondary>>(&body)
            .is_ok_and(|sliver| Some(&sliver) == state.secondary(pair)),
    };
    if matches {
        StatusCode::OK.into_response()
    } else {
        api_error(ErrorReason::InvalidSliver, "sliver does not verify")
    }
}

async fn sliver_status(Path(path): Path<SliverPath>) -> Response {
    json_ok(match path.sliver_type {
        SliverType::Primary => StoredOnNodeStatus::Stored,
        SliverType::Secondary => StoredOnNodeStatus::Nonexistent,
    })
}

fn confirmation(state: &Fixture, blob_id: BlobId, blob_type: BlobPersistenceType) -> Response {
    let signed = state
        .key
        .sign_message(&Confirmation::for_blob(EPOCH, blob_id, blob_type));
    json_ok(StorageConfirmation::Signed(signed))
}

async fn permanent_confirmation(
    State(state): State<AppState>,
    Path(path): Path<BlobIdPath>,
) -> Response {
    if path.blob_id != state.blob_id() {
        return api_error(ErrorReason::NotRegistered, "blob not registered");
    }
    confirmation(&state, path.blob_id, BlobPersistenceType::Permanent)
}

async fn deletable_confirmation(
    State(state): State<AppState>,
    Path(path): Path<DeletableConfirmationPath>,
) -> Response {
    let blob_type = BlobPersistenceType::Deletable {
        object_id: path.object_id,
    };
    confirmation(&state, path.blob_id, blob_type)
}

async fn recovery_symbols(
    State(state): State<AppState>,
    Path(path): Path<BlobIdPath>,
    Query(query): Query<RecoverySymbolsQuery>,
) -> Response {
    if path.blob_id != state.blob_id() {
        return api_error(ErrorReason::MetadataNotFound, "unknown blob");
    }
    let symbols = state.recovery_symbols(query.target_index(), query.target_type);
    bcs_response(bcs::to_bytes(&symbols).unwrap())
}

async fn inconsistency_proof(
    State(state): State<AppState>,
    Path(path): Path<InconsistencyProofPath>,
    body: Bytes,
) -> Response {
    let decodes = match path.sliver_type {
        SliverType::Primary => bcs::from_bytes::<InconsistencyProof<Primary>>(&body).is_ok(),
        SliverType::Secondary => bcs::from_bytes::<InconsistencyProof<Secondary>>(&body).is_ok(),
    };
    if !decodes {
        return api_error(ErrorReason::InvalidProof, "not a proof of that axis");
    }
    json_ok(
        state
            .key
            .sign_message(&InvalidBlobIdMsg::new(EPOCH, path.blob_id)),
    )
}

fn canned_status() -> BlobStatus {
    BlobStatus::Permanent {
        end_epoch: 10,
        is_certified: true,
        status_event: EventId {
            tx_digest: TransactionDigest([44; 32]),
            event_seq: 1,
        },
        deletable_counts: DeletableCounts {
            count_deletable_total: 1,
            count_deletable_certified: 0,
        },
        initial_certified_epoch: Some(2),
    }
}

async fn blob_status(State(state): State<AppState>, Path(path): Path<BlobIdPath>) -> Response {
    if path.blob_id == GARBAGE_BLOB {
        // Valid JSON, but not a success envelope.
        return Json(serde_json::json!({"status": "permanent"})).into_response();
    }
    json_ok(if path.blob_id == state.blob_id() {
        canned_status()
    } else {
        BlobStatus::Nonexistent
    })
}

fn canned_health(state: &Fixture) -> ServiceHealthInfo {
    ServiceHealthInfo {
        uptime: std::time::Duration::from_secs(12),
        uptime_secs: 12,
        epoch: EPOCH,
        public_key: ServiceHealthInfo::encode_public_key(state.key.public()),
        node_id: ObjectId([3; 32]).to_string(),
        node_status: "Active".into(),
        event_progress: EventProgress::new(
            9,
            Some(EventCursor {
                checkpoint: 44,
                event_index: 1,
            }),
        ),
        shard_summary: Default::default(),
        shard_detail: None,
        latest_checkpoint_sequence_number: Some(44),
        shards: vec![1, 4],
    }
}

async fn health(State(state): State<AppState>) -> Response {
    json_ok(canned_health(&state))
}

async fn mock_node() -> (String, Arc<Fixture>) {
    let state = Arc::new(Fixture::new());
    let router = Router::new()
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
        .with_state(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{address}"), state)
}

/// A peer that answers every request with an endless chunked body, counting what it sent.
async fn endless_peer() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let header = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {BCS_CONTENT_TYPE}\r\ntransfer-encoding: chunked\r\n\r\n"
                );
                if socket.write_all(header.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![0u8; 64 << 10];
                let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
                frame.extend_from_slice(&chunk);
                frame.extend_from_slice(b"\r\n");
                // Stops when the client hangs up.
                while socket.write_all(&frame).await.is_ok() {}
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn metadata_round_trip_and_status() {
    let (url, state) = mock_node().await;
    let client = NodeClient::new(&url).unwrap();
    let blob_id = state.blob_id();

    let metadata = client.get_metadata(&blob_id).await.unwrap();
    assert_eq!(&metadata, state.encoded.metadata.as_unverified());
    // The caller verifies: the answer verifies against the blob ID.
    let verified = metadata.verify(&state.config).unwrap();
    assert_eq!(verified.blob_id(), &blob_id);

    client
        .put_metadata(&blob_id, state.encoded.metadata.metadata())
        .await
        .unwrap();
    assert_eq!(
        client.get_metadata_status(&blob_id).await.unwrap(),
        StoredOnNodeStatus::Stored
    );
    assert_eq!(
        client.get_metadata_status(&BlobId([1; 32])).await.unwrap(),
        StoredOnNodeStatus::Nonexistent
    );
}

#[tokio::test]
async fn json_error_envelope_maps_to_api_error() {
    let (url, state) = mock_node().await;
    let client = NodeClient::new(&url).unwrap();

    let error = client.get_metadata(&BlobId([1; 32])).await.unwrap_err();
    match &error {
        NodeClientError::Api { status, error } => {
            assert_eq!(*status, 404);
            assert_eq!(error.code, 404);
            assert_eq!(error.status, "NOT_FOUND");
            assert_eq!(error.reason, "METADATA_NOT_FOUND");
            assert_eq!(error.message, "no metadata for this blob");
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert_eq!(error.reason(), Some(ErrorReason::MetadataNotFound));
    assert!(error.is_not_found());
    assert!(!error.is_transient());

    // Metadata of another blob are refused as a bad PUT.
    let other = walrus_core::encoding::encode_blob(&state.config, b"other").unwrap();
    let error = client
        .put_metadata(&state.blob_id(), other.metadata.metadata())
        .await
        .unwrap_err();
    assert_eq!(error.reason(), Some(ErrorReason::InvalidMetadata));
    assert_eq!(error.http_status(), Some(400));
    assert!(!error.is_not_found());

    let error = client
        .get_sliver::<Primary>(&state.blob_id(), SliverPairIndex(N_SHARDS))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), Some(ErrorReason::ShardNotAssigned));

    let error = client
        .get_confirmation(&BlobId([1; 32]), None)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), Some(ErrorReason::NotRegistered));
}

#[tokio::test]
async fn slivers_round_trip() {
    let (url, state) = mock_node().await;
    let client = NodeClient::new(&url).unwrap();
    let blob_id = state.blob_id();
    let pair = SliverPairIndex(3);

    let primary = client.get_sliver::<Primary>(&blob_id, pair).await.unwrap();
    assert_eq!(Some(&primary), state.primary(pair));
    let secondary = client
        .get_sliver::<Secondary>(&blob_id, pair)
        .await
        .unwrap();
    assert_eq!(Some(&secondary), state.secondary(pair));
    primary.verify(&state.encoded.metadata).unwrap();
    secondary.verify(&state.encoded.metadata).unwrap();

    client.put_sliver(&blob_id, pair, &primary).await.unwrap();
    client.put_sliver(&blob_id, pair, &secondary).await.unwrap();
    // A sliver of the wrong pair is refused.
    let error = client
        .put_sliver(&blob_id, SliverPairIndex(4), &primary)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), Some(ErrorReason::InvalidSliver));

    assert_eq!(
        client
            .get_sliver_status(&blob_id, pair, SliverType::Primary)
            .await
            .unwrap(),
        StoredOnNodeStatus::Stored
    );
    assert_eq!(
        client
            .get_sliver_status(&blob_id, pair, SliverType::Secondary)
            .await
            .unwrap(),
        StoredOnNodeStatus::Nonexistent
    );
    let error = client
        .get_sliver::<Primary>(&BlobId([1; 32]), pair)
        .await
        .unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(error.reason(), Some(ErrorReason::SliverNotFound));
}

#[tokio::test]
async fn confirmations_are_decoded() {
    let (url, state) = mock_node().await;
    let client = NodeClient::new(&url).unwrap();
    let blob_id = state.blob_id();

    let signed = client.get_confirmation(&blob_id, None).await.unwrap();
    let message = signed
        .verify_signature_and_get_message(
            state.key.public(),
            EPOCH,
            &StorageConfirmationBody {
                blob_id,
                blob_type: BlobPersistenceType::Permanent,
            },
        )
        .unwrap();
    assert_eq!(message.epoch(), EPOCH);

    let object_id = ObjectId([0x42; 32]);
    let signed = client
        .get_confirmation(&blob_id, Some(object_id))
        .await
        .unwrap();
    signed
        .verify_signature_and_get_message(
            state.key.public(),
            EPOCH,
            &StorageConfirmationBody {
                blob_id,
                blob_type: BlobPersistenceType::Deletable { object_id },
            },
        )
        .unwrap();
}

#[tokio::test]
async fn recovery_symbols_rebuild_slivers() {
    let (url, state) = mock_node().await;
    let client = NodeClient::new(&url).unwrap();
    let blob_id = state.blob_id();
    let metadata = client
        .get_metadata(&blob_id)
        .await
        .unwrap()
        .verify(&state.config)
        .unwrap();
    let target = SliverIndex(2);

    let symbols = client
        .get_recovery_symbols(&blob_id, target, SliverType::Primary)
        .await
        .unwrap();
    assert_eq!(symbols.len(), usize::from(N_SHARDS));
    assert!(
        symbols
            .iter()
            .all(|symbol| symbol.target_type() == SliverType::Primary
                && symbol.target_index == target)
    );
    let typed: Vec<RecoverySymbol<Primary>> = symbols
        .into_iter()
        .map(|symbol| symbol.into_recovery_symbol(target).unwrap())
        .collect();
    let rebuilt = recover_sliver(&metadata, target, typed).unwrap();
    assert_eq!(Some(&rebuilt), state.primary(SliverPairIndex(2)));

    let symbols = client
        .get_recovery_symbols(&blob_id, target, SliverType::Secondary)
        .await
        .unwrap();
    let typed: Vec<RecoverySymbol<Secondary>> = symbols
        .into_iter()
        .map(|symbol| symbol.into_recovery_symbol(target).unwrap())
        .collect();
    let rebuilt = recover_sliver(&metadata, target, typed).unwrap();
    let pair = SliverPairIndex(N_SHARDS - 1 - target.get());
    assert_eq!(Some(&rebuilt), state.secondary(pair));
}

#[tokio::test]
async fn inconsistency_proof_is_posted_with_its_axis() {
    let (url, state) = mock_node().await;
    let client = NodeClient::new(&url).unwrap();
    let blob_id = state.blob_id();
    let target = SliverIndex(1);
    let secondary_symbols: Vec<RecoverySymbol<Secondary>> = state
        .recovery_symbols(target, SliverType::Secondary)
        .into_iter()
        .map(|symbol| symbol.into_recovery_symbol(target).unwrap())
        .collect();
    let proof = InconsistencyProofEither::Secondary(InconsistencyProof {
        target_sliver_index: target,
        recovery_symbols: secondary_symbols,
    });
    let signed = client
        .submit_inconsistency_proof(&blob_id, &proof)
        .await
        .unwrap();
    let message = signed
        .verify_signature_and_get_message(state.key.public(), EPOCH, &blob_id)
        .unwrap();
    assert_eq!(message.epoch(), EPOCH);

    let primary_symbols: Vec<RecoverySymbol<Primary>> = state
        .recovery_symbols(target, SliverType::Primary)
        .into_iter()
        .map(|symbol| symbol.into_recovery_symbol(target).unwrap())
        .collect();
    let proof = InconsistencyProofEither::Primary(InconsistencyProof {
        target_sliver_index: target,
        recovery_symbols: primary_symbols,
    });
    client
        .submit_inconsistency_proof(&blob_id, &proof)
        .await
        .unwrap();
}

#[tokio::test]
async fn blob_status_and_health() {
    let (url, state) = mock_node().await;
    let client = NodeClient::new(&url).unwrap();
    assert_eq!(
        client.get_blob_status(&state.blob_id()).await.unwrap(),
        canned_status()
    );
    assert_eq!(
        client.get_blob_status(&BlobId([1; 32])).await.unwrap(),
        BlobStatus::Nonexistent
    );
    let health = client.health().await.unwrap();
    assert_eq!(health, canned_health(&state));
    assert_eq!(&health.decode_public_key().unwrap(), state.key.public());
}

#[tokio::test]
async fn response_cap_is_enforced() {
    let (url, state) = mock_node().await;
    let client = NodeClient::with_http(
        &url,
        default_http_client(Duration::from_secs(5), Duration::from_secs(30)),
    )
    .unwrap()
    .with_max_response_bytes(1 << 20);
    assert_eq!(client.max_response_bytes(), 1 << 20);

    // Declared length above the cap.
    let error = client.get_metadata(&BIG_BLOB).await.unwrap_err();
    assert!(
        matches!(error, NodeClientError::ResponseTooLarge { limit } if limit == 1 << 20),
        "{error:?}"
    );
    // Answers under the cap still pass through the same client.
    client.get_metadata(&state.blob_id()).await.unwrap();
    // A cap below a sliver's size refuses the sliver.
    let tiny = client.clone().with_max_response_bytes(16);
    let error = tiny
        .get_sliver::<Primary>(&state.blob_id(), SliverPairIndex(0))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        NodeClientError::ResponseTooLarge { limit: 16 }
    ));

    // A peer streaming an endless chunked body (no length): the client stops at the cap.
    let endless = NodeClient::new(&endless_peer().await)
        .unwrap()
        .with_max_response_bytes(1 << 20);
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        endless.get_sliver::<Primary>(&state.blob_id(), SliverPairIndex(0)),
    )
    .await
    .expect("the capped read ends without waiting for the endless body");
    assert!(matches!(
        result,
        Err(NodeClientError::ResponseTooLarge { limit }) if limit == 1 << 20
    ));
}

#[tokio::test]
async fn bad_bodies_and_transport_errors() {
    let (url, _state) = mock_node().await;
    let client = NodeClient::new(&url).unwrap();

    let error = client.get_metadata(&GARBAGE_BLOB).await.unwrap_err();
    assert!(matches!(error, NodeClientError::Decode(_)), "{error:?}");
    let error = client
        .get_sliver::<Primary>(&GARBAGE_BLOB, SliverPairIndex(0))
        .await
        .unwrap_err();
    assert!(matches!(error, NodeClientError::Decode(_)), "{error:?}");
    let error = client.get_blob_status(&GARBAGE_BLOB).await.unwrap_err();
    assert!(matches!(error, NodeClientError::Decode(_)), "{error:?}");

    let error = client.get_metadata(&PROXY_ERROR_BLOB).await.unwrap_err();
    match &error {
        NodeClientError::UnexpectedStatus {
            status,
            body_prefix,
        } => {
            assert_eq!(*status, 502);
            assert_eq!(body_prefix, "upstream exploded");
        }
        other => panic!("expected an unexpected status, got {other:?}"),
    }
    assert!(error.is_transient());
    assert_eq!(error.reason(), None);

    // Unrouted paths answer 404 without an envelope: still "not found".
    let prefixed = NodeClient::new(&format!("{url}/no-such-prefix")).unwrap();
    let error = prefixed.health().await.unwrap_err();
    assert!(
        matches!(error, NodeClientError::UnexpectedStatus { status: 404, .. }),
        "{error:?}"
    );
    assert!(error.is_not_found());
    assert_eq!(error.reason(), None);

    // Nobody listens on a freshly closed port.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let client = NodeClient::new(&format!("http://{closed}")).unwrap();
    let error = client.health().await.unwrap_err();
    assert!(matches!(error, NodeClientError::Transport(_)), "{error:?}");
    assert!(error.is_transient());
}

#[test]
fn paths_match_the_mock_routes() {
    // The client's paths are those the templates route (checked end to end above); spot-check
    // the recovery query used by the mock's `Query` extractor.
    let path = api::recovery_symbols_path(&BlobId([0; 32]), SliverIndex(5), SliverType::Primary);
    assert!(path.ends_with("/recoverySymbols?targetSliver=5&targetType=primary"));
}

#[tokio::test]
async fn computed_caps_fit_legitimate_answers_only() {
    use walrus_node_client::client::{
        metadata_response_limit, recovery_symbols_response_limit, sliver_response_limit,
    };
    let (url, state) = mock_node().await;
    let client = NodeClient::new(&url).unwrap();
    let blob_id = state.blob_id();
    let layout = *state.encoded.metadata.layout();

    // Each cap is at least the real answer's size and only a small header above it.
    let metadata_bytes = bcs::to_bytes(state.encoded.metadata.as_unverified())
        .unwrap()
        .len();
    let limit = metadata_response_limit(N_SHARDS);
    assert!((metadata_bytes..metadata_bytes + 128).contains(&limit));
    client
        .get_metadata_with_limit(&blob_id, limit)
        .await
        .unwrap();
    let error = client
        .get_metadata_with_limit(&blob_id, metadata_bytes - 1)
        .await
        .unwrap_err();
    assert!(matches!(error, NodeClientError::ResponseTooLarge { .. }));
    // Metadata for many more shards than the committee has are refused.
    assert!(metadata_response_limit(N_SHARDS / 2) < metadata_bytes);
    // Without a shard count, the cap is what the largest shard count allows.
    assert!(metadata_response_limit(u16::MAX) < 5 << 20);

    for axis in [SliverType::Primary, SliverType::Secondary] {
        let sliver_bytes = match axis {
            SliverType::Primary => bcs::to_bytes(state.primary(SliverPairIndex(3)).unwrap()),
            SliverType::Secondary => bcs::to_bytes(state.secondary(SliverPairIndex(3)).unwrap()),
        }
        .unwrap()
        .len();
        let limit = sliver_response_limit(&layout, axis);
        assert!(
            (sliver_bytes..sliver_bytes + 128).contains(&limit),
            "{axis}"
        );
    }
    client
        .get_sliver_with_limit::<Primary>(
            &blob_id,
            SliverPairIndex(3),
            sliver_response_limit(&layout, SliverType::Primary),
        )
        .await
        .unwrap();
    let error = client
        .get_sliver_with_limit::<Secondary>(
            &blob_id,
            SliverPairIndex(3),
            sliver_response_limit(&layout, SliverType::Primary) / 2,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, NodeClientError::ResponseTooLarge { .. }));

    // The mock answers one symbol per pair: N_SHARDS of them.
    let n_pairs = usize::from(N_SHARDS);
    let symbols_bytes = bcs::to_bytes(&state.recovery_symbols(SliverIndex(2), SliverType::Primary))
        .unwrap()
        .len();
    let limit = recovery_symbols_response_limit(&layout, n_pairs);
    assert!(symbols_bytes <= limit && limit <= symbols_bytes + 128 * n_pairs);
    let symbols = client
        .get_recovery_symbols_with_limit(&blob_id, SliverIndex(2), SliverType::Primary, limit)
        .await
        .unwrap();
    assert_eq!(symbols.len(), n_pairs);
    // A node claiming two shards that answers ten symbols is refused.
    let error = client
        .get_recovery_symbols_with_limit(
            &blob_id,
            SliverIndex(2),
            SliverType::Primary,
            recovery_symbols_response_limit(&layout, 2),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, NodeClientError::ResponseTooLarge { .. }));
}

#[test]
fn decoding_hostile_length_prefixes_allocates_little() {
    // A 16-byte body claiming a sliver of 2^31 - 1 bytes and a list of 2^31 - 1 symbols:
    // decoding fails at the end of the body instead of allocating what the prefixes claim.
    let mut sliver = vec![0xff, 0xff, 0xff, 0xff, 0x07];
    sliver.extend_from_slice(&[0; 11]);
    assert!(bcs::from_bytes::<SliverData<Primary>>(&sliver).is_err());
    assert!(bcs::from_bytes::<Vec<GeneralRecoverySymbol>>(&sliver).is_err());
}
