//! A mock storage node for the SDK's unit tests: axum on 127.0.0.1:0 serving a real encoding
//! of a small blob honestly, or with one of the lies a byzantine node can tell.

use std::sync::Arc;

use axum::{
    extract::{Path, Query, State},
    http::{header::CONTENT_TYPE, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use tokio::net::TcpListener;
use walrus_core::{
    encoding::{
        encode_blob, EncodedBlob, EncodingConfig, ExpandedSliver, GeneralRecoverySymbol,
        RecoverySymbol,
    },
    SliverIndex, SliverPairIndex, SliverType,
};
use walrus_node_client::{
    api::{BlobIdPath, SliverPath, METADATA_ENDPOINT, RECOVERY_SYMBOLS_ENDPOINT, SLIVER_ENDPOINT},
    ErrorReason, RecoverySymbolsQuery, BCS_CONTENT_TYPE,
};

/// Shards of the mock network.
pub const N_SHARDS: u16 = 10;

/// How the mock node behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Serves the real data of its pairs.
    Honest,
    /// Answers a sliver request with the genuine sliver of the next pair.
    OtherSliver,
    /// Answers the metadata of another (genuine) blob.
    OtherBlobMetadata,
    /// Answers every request with a body of 8 MiB of zeros.
    Oversize,
    /// Answers symbols with a flipped byte.
    CorruptSymbols,
    /// Answers genuine symbols for another position than the one asked for.
    WrongPosition,
    /// Has nothing: 404 everywhere.
    Empty,
    /// Never answers.
    Hang,
}

/// The blob every mock node serves, and another one.
pub struct Fixture {
    /// The encoding configuration.
    pub config: EncodingConfig,
    /// The blob served.
    pub encoded: EncodedBlob,
    /// Another blob (for answers about the wrong blob).
    pub other: EncodedBlob,
}

impl Fixture {
    /// A 1500-byte blob for [`N_SHARDS`] shards.
    pub fn new() -> Arc<Self> {
        let config = EncodingConfig::new(N_SHARDS).unwrap();
        let data: Vec<u8> = (0..1500u32).map(|i| i.to_le_bytes()[0] ^ 0x5a).collect();
        let other: Vec<u8> = (0..1500u32).map(|i| i.to_le_bytes()[0] ^ 0x33).collect();
        Arc::new(Self {
            config,
            encoded: encode_blob(&config, &data).unwrap(),
            other: encode_blob(&config, &other).unwrap(),
        })
    }
}

struct Mock {
    fixture: Arc<Fixture>,
    pairs: Vec<SliverPairIndex>,
    behavior: Behavior,
}

type MockState = Arc<Mock>;

fn bcs_response(bytes: Vec<u8>) -> Response {
    ([(CONTENT_TYPE, BCS_CONTENT_TYPE)], bytes).into_response()
}

fn not_found(reason: ErrorReason) -> Response {
    let error = reason.to_api_error("not here");
    let status = StatusCode::from_u16(error.http_status()).unwrap();
    (status, Json(error)).into_response()
}

/// Handles the behaviors common to every route; `None` to answer normally.
async fn misbehave(mock: &Mock) -> Option<Response> {
    match mock.behavior {
        Behavior::Oversize => Some(bcs_response(vec![0; 8 << 20])),
        Behavior::Empty => Some(not_found(ErrorReason::MetadataNotFound)),
        Behavior::Hang => {
            std::future::pending::<()>().await;
            None
        }
        _ => None,
    }
}

async fn metadata(State(mock): State<MockState>, Path(path): Path<BlobIdPath>) -> Response {
    if let Some(response) = misbehave(&mock).await {
        return response;
    }
    let fixture = &mock.fixture;
    if path.blob_id != *fixture.encoded.metadata.blob_id() {
        return not_found(ErrorReason::MetadataNotFound);
    }
    let metadata = if mock.behavior == Behavior::OtherBlobMetadata {
        fixture.other.metadata.as_unverified()
    } else {
        fixture.encoded.metadata.as_unverified()
    };
    bcs_response(bcs::to_bytes(metadata).unwrap())
}

async fn sliver(State(mock): State<MockState>, Path(path): Path<SliverPath>) -> Response {
    if let Some(response) = misbehave(&mock).await {
        return response;
    }
    let pair = path.sliver_pair_index;
    if !mock.pairs.contains(&pair) {
        return not_found(ErrorReason::SliverNotFound);
    }
    let index = if mock.behavior == Behavior::OtherSliver {
        (pair.0 + 1) % N_SHARDS
    } else {
        pair.0
    };
    let pair = &mock.fixture.encoded.sliver_pairs[usize::from(index)];
    let bytes = match path.sliver_type {
        SliverType::Primary => bcs::to_bytes(&pair.primary),
        SliverType::Secondary => bcs::to_bytes(&pair.secondary),
    };
    bcs_response(bytes.unwrap())
}

async fn recovery_symbols(
    State(mock): State<MockState>,
    Query(query): Query<RecoverySymbolsQuery>,
) -> Response {
    if let Some(response) = misbehave(&mock).await {
        return response;
    }
    let mut target = query.target_index();
    if mock.behavior == Behavior::WrongPosition {
        target = SliverIndex((target.get() + 1) % N_SHARDS);
    }
    let encoded = &mock.fixture.encoded;
    let layout = encoded.metadata.layout();
    let mut symbols: Vec<GeneralRecoverySymbol> = mock
        .pairs
        .iter()
        .map(|pair| {
            let pair = &encoded.sliver_pairs[usize::from(pair.0)];
            match query.target_type {
                SliverType::Primary => general(
                    ExpandedSliver::new(&pair.secondary, layout)
                        .unwrap()
                        .recovery_symbol(target)
                        .unwrap(),
                    target,
                ),
                SliverType::Secondary => general(
                    ExpandedSliver::new(&pair.primary, layout)
                        .unwrap()
                        .recovery_symbol(target)
                        .unwrap(),
                    target,
                ),
            }
        })
        .collect();
    if mock.behavior == Behavior::CorruptSymbols {
        for symbol in &mut symbols {
            match &mut symbol.symbol {
                walrus_core::encoding::EitherDecodingSymbol::Primary(symbol) => symbol.data[0] ^= 1,
                walrus_core::encoding::EitherDecodingSymbol::Secondary(symbol) => {
                    symbol.data[0] ^= 1
                }
            }
        }
    }
    bcs_response(bcs::to_bytes(&symbols).unwrap())
}

fn general<T: walrus_core::encoding::EncodingAxis>(
    symbol: RecoverySymbol<T>,
    target: SliverIndex,
) -> GeneralRecoverySymbol {
    GeneralRecoverySymbol::from_recovery_symbol(symbol, target)
}

/// Starts a mock node holding `pairs` of the fixture's blob; returns its base URL.
pub async fn start(
    fixture: Arc<Fixture>,
    pairs: Vec<SliverPairIndex>,
    behavior: Behavior,
) -> String {
    let state = Arc::new(Mock {
        fixture,
        pairs,
        behavior,
    });
    let router = Router::new()
        .route(METADATA_ENDPOINT, get(metadata))
        .route(SLIVER_ENDPOINT, get(sliver))
        .route(RECOVERY_SYMBOLS_ENDPOINT, get(recovery_symbols))
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}
