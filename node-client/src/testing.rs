//! A mock storage node for tests (cargo feature `testing`): axum on `127.0.0.1:0` serving a
//! real encoding of one blob, honestly or with one of the lies a byzantine node can tell,
//! optionally after a delay, and counting the requests of each route. Used by the SDK's tests
//! (reads, audits, status) and the node's recovery tests: `MockNode::start(blob, pairs,
//! Behavior::Honest)`, or [`MockNode::builder`] for a delay or a blob status.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{
    extract::{Path, RawQuery, State},
    http::{header::CONTENT_TYPE, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use walrus_core::{
    encoding::{
        encode_blob, BlobLayout, EitherDecodingSymbol, EncodedBlob, EncodingAxis, EncodingConfig,
        ExpandedSliver, GeneralRecoverySymbol, SliverData,
    },
    metadata::BlobMetadataWithId,
    SliverIndex, SliverPairIndex, SliverType,
};

use crate::api::{
    ApiSuccess, BlobIdPath, BlobStatus, ErrorReason, RecoverySymbolsRequest, SliverPath, SymbolId,
    BCS_CONTENT_TYPE, BLOB_STATUS_ENDPOINT, METADATA_ENDPOINT, RECOVERY_SYMBOLS_ENDPOINT,
    SLIVER_ENDPOINT,
};

/// A deterministic blob of `len` bytes; blobs of different `seed`s differ.
pub fn blob_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i * 7 % 251).expect("below 251") ^ seed)
        .collect()
}

/// The encoding of [`blob_bytes`]`(len, seed)` for `n_shards` shards.
///
/// # Panics
///
/// If the blob cannot be encoded for `n_shards` (a bad shard count or a blob too large).
pub fn encoded_blob(n_shards: u16, len: usize, seed: u8) -> EncodedBlob {
    let config = EncodingConfig::new(n_shards).expect("a valid shard count");
    encode_blob(&config, &blob_bytes(len, seed)).expect("an encodable blob")
}

/// The genuine recovery symbols a holder of `pairs` of `blob` answers for rebuilding sliver
/// `target` of `target_type`: one per pair, from its sliver of the orthogonal axis, in the
/// order of `pairs`.
///
/// # Panics
///
/// If a pair or `target` is out of range for the blob's shard count.
pub fn recovery_symbols(
    blob: &EncodedBlob,
    pairs: &[SliverPairIndex],
    target: SliverIndex,
    target_type: SliverType,
) -> Vec<GeneralRecoverySymbol> {
    let layout = blob.metadata.layout();
    pairs
        .iter()
        .map(|pair| {
            let pair = &blob.sliver_pairs[usize::from(pair.0)];
            match target_type {
                SliverType::Primary => symbol_of(&pair.secondary, layout, target),
                SliverType::Secondary => symbol_of(&pair.primary, layout, target),
            }
        })
        .collect()
}

/// The genuine recovery symbols a holder of `pairs` of `blob` answers for the symbol IDs `ids`
/// (the list form of the route): each from its secondary sliver (for rebuilding the primary
/// sliver) or its primary sliver (for the secondary one), of `proof_axis` if given, else
/// whichever is held (secondary first); IDs of slivers not held are left out.
///
/// # Panics
///
/// If an ID is out of range for the blob's shard count.
pub fn symbols_by_id(
    blob: &EncodedBlob,
    pairs: &[SliverPairIndex],
    ids: &[SymbolId],
    proof_axis: Option<SliverType>,
) -> Vec<GeneralRecoverySymbol> {
    let layout = blob.metadata.layout();
    let n = blob.metadata.config().n_shards();
    ids.iter()
        .filter_map(|id| {
            let in_secondary = SliverPairIndex(n - 1 - id.secondary.get());
            let in_primary = SliverPairIndex(id.primary.get());
            let by_secondary = pairs.contains(&in_secondary).then(|| {
                let pair = &blob.sliver_pairs[usize::from(in_secondary.0)];
                symbol_of(&pair.secondary, layout, id.primary)
            });
            let by_primary = || {
                pairs.contains(&in_primary).then(|| {
                    let pair = &blob.sliver_pairs[usize::from(in_primary.0)];
                    symbol_of(&pair.primary, layout, id.secondary)
                })
            };
            match proof_axis {
                Some(SliverType::Secondary) => by_secondary,
                Some(SliverType::Primary) => by_primary(),
                None => by_secondary.or_else(by_primary),
            }
        })
        .collect()
}

/// The symbol of `sliver` that helps rebuild sliver `target` of the orthogonal axis.
fn symbol_of<T: EncodingAxis>(
    sliver: &SliverData<T>,
    layout: &BlobLayout,
    target: SliverIndex,
) -> GeneralRecoverySymbol {
    let symbol = ExpandedSliver::new(sliver, layout)
        .ok()
        .and_then(|expanded| expanded.recovery_symbol(target))
        .expect("a symbol of a genuine sliver");
    GeneralRecoverySymbol::from_recovery_symbol(symbol, target)
}

/// `symbols` with the first byte of each flipped: well formed, of the right size, but their
/// Merkle proofs fail.
pub fn forge(mut symbols: Vec<GeneralRecoverySymbol>) -> Vec<GeneralRecoverySymbol> {
    for symbol in &mut symbols {
        let data = match &mut symbol.symbol {
            EitherDecodingSymbol::Primary(symbol) => &mut symbol.data,
            EitherDecodingSymbol::Secondary(symbol) => &mut symbol.data,
        };
        if let Some(first) = data.first_mut() {
            *first ^= 0x01;
        }
    }
    symbols
}

/// How a mock node behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// Serves the genuine data of its pairs.
    Honest,
    /// Answers a sliver request with the genuine sliver of the next pair.
    OtherSliver,
    /// Answers metadata requests with these metadata (e.g. another blob's genuine ones), the
    /// rest honestly.
    Metadata(BlobMetadataWithId),
    /// Answers recovery symbols with a flipped byte (see [`forge`]).
    CorruptSymbols,
    /// Answers genuine recovery symbols for the next position rather than the one asked for.
    WrongPosition,
    /// Answers every request with this error (e.g. `MetadataNotFound`: a node without the data;
    /// `BlobInvalid`: a node that holds the blob invalid).
    Refuse(ErrorReason),
    /// Answers every request with these bytes as BCS (junk, oversize bodies, forged symbols).
    Body(Vec<u8>),
    /// Never answers.
    Hang,
}

/// A route of the mock node, to count its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET` [`METADATA_ENDPOINT`].
    Metadata,
    /// `GET` [`SLIVER_ENDPOINT`].
    Sliver,
    /// `GET` [`RECOVERY_SYMBOLS_ENDPOINT`].
    RecoverySymbols,
    /// `GET` [`BLOB_STATUS_ENDPOINT`].
    BlobStatus,
}

impl Route {
    const COUNT: usize = 4;

    fn slot(self) -> usize {
        match self {
            Route::Metadata => 0,
            Route::Sliver => 1,
            Route::RecoverySymbols => 2,
            Route::BlobStatus => 3,
        }
    }
}

/// What a mock node serves, and how.
#[derive(Debug)]
struct Mock {
    blob: Arc<EncodedBlob>,
    pairs: Vec<SliverPairIndex>,
    behavior: Behavior,
    delay: Duration,
    status: BlobStatus,
    requests: [AtomicUsize; Route::COUNT],
}

/// A running mock node (it serves until the runtime ends).
#[derive(Debug, Clone)]
pub struct MockNode {
    url: String,
    mock: Arc<Mock>,
}

/// The settings of a mock node before it starts: see [`MockNode::builder`].
#[derive(Debug)]
pub struct MockNodeBuilder {
    blob: Arc<EncodedBlob>,
    pairs: Vec<SliverPairIndex>,
    behavior: Behavior,
    delay: Duration,
    status: BlobStatus,
}

impl MockNodeBuilder {
    /// The pairs of the blob it holds (default: none).
    pub fn pairs(mut self, pairs: impl IntoIterator<Item = SliverPairIndex>) -> Self {
        self.pairs = pairs.into_iter().collect();
        self
    }

    /// How it behaves (default: [`Behavior::Honest`]).
    pub fn behavior(mut self, behavior: Behavior) -> Self {
        self.behavior = behavior;
        self
    }

    /// How long it waits before answering each request (default: not at all).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The status it reports for the blob (default: [`BlobStatus::Nonexistent`]).
    pub fn status(mut self, status: BlobStatus) -> Self {
        self.status = status;
        self
    }

    /// Binds `127.0.0.1:0` and serves on a spawned task.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, or if no local port can be bound.
    pub async fn start(self) -> MockNode {
        let mock = Arc::new(Mock {
            blob: self.blob,
            pairs: self.pairs,
            behavior: self.behavior,
            delay: self.delay,
            status: self.status,
            requests: Default::default(),
        });
        let router = Router::new()
            .route(METADATA_ENDPOINT, get(metadata))
            .route(SLIVER_ENDPOINT, get(sliver))
            .route(RECOVERY_SYMBOLS_ENDPOINT, get(recovery_symbols_route))
            .route(BLOB_STATUS_ENDPOINT, get(blob_status))
            .with_state(mock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let address = listener.local_addr().expect("a bound address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        MockNode {
            url: format!("http://{address}"),
            mock,
        }
    }
}

impl MockNode {
    /// A mock node serving `blob`; see [`MockNodeBuilder`] for its settings.
    pub fn builder(blob: Arc<EncodedBlob>) -> MockNodeBuilder {
        MockNodeBuilder {
            blob,
            pairs: Vec::new(),
            behavior: Behavior::Honest,
            delay: Duration::ZERO,
            status: BlobStatus::Nonexistent,
        }
    }

    /// Starts a node holding `pairs` of `blob` that behaves as `behavior`, without delay.
    pub async fn start(
        blob: Arc<EncodedBlob>,
        pairs: impl IntoIterator<Item = SliverPairIndex>,
        behavior: Behavior,
    ) -> Self {
        Self::builder(blob)
            .pairs(pairs)
            .behavior(behavior)
            .start()
            .await
    }

    /// Its base URL (`http://127.0.0.1:port`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests of `route` received so far (answered or not).
    pub fn requests(&self, route: Route) -> usize {
        self.mock.requests[route.slot()].load(Ordering::SeqCst)
    }
}

type MockState = State<Arc<Mock>>;

fn bcs_response(bytes: Vec<u8>) -> Response {
    ([(CONTENT_TYPE, BCS_CONTENT_TYPE)], bytes).into_response()
}

fn bcs_of<T: serde::Serialize>(value: &T) -> Response {
    bcs_response(bcs::to_bytes(value).expect("BCS of an in-memory value"))
}

fn error_response(reason: ErrorReason) -> Response {
    let error = reason.to_api_error("refused by the mock node");
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(error)).into_response()
}

impl Mock {
    /// Counts the request, waits the delay, and answers for the behaviors common to every
    /// route; `None` to answer as the route does.
    async fn arrive(&self, route: Route) -> Option<Response> {
        self.requests[route.slot()].fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        match &self.behavior {
            Behavior::Refuse(reason) => Some(error_response(*reason)),
            Behavior::Body(bytes) => Some(bcs_response(bytes.clone())),
            Behavior::Hang => std::future::pending().await,
            _ => None,
        }
    }
}

async fn metadata(State(mock): MockState, Path(path): Path<BlobIdPath>) -> Response {
    if let Some(response) = mock.arrive(Route::Metadata).await {
        return response;
    }
    if path.blob_id != *mock.blob.metadata.blob_id() {
        return error_response(ErrorReason::MetadataNotFound);
    }
    match &mock.behavior {
        Behavior::Metadata(metadata) => bcs_of(metadata),
        _ => bcs_of(mock.blob.metadata.as_unverified()),
    }
}

async fn sliver(State(mock): MockState, Path(path): Path<SliverPath>) -> Response {
    if let Some(response) = mock.arrive(Route::Sliver).await {
        return response;
    }
    let pair = path.sliver_pair_index;
    if !mock.pairs.contains(&pair) {
        return error_response(ErrorReason::SliverNotFound);
    }
    let n_pairs = mock.blob.sliver_pairs.len();
    let mut index = usize::from(pair.0);
    if mock.behavior == Behavior::OtherSliver {
        index = (index + 1) % n_pairs;
    }
    let pair = &mock.blob.sliver_pairs[index];
    match path.sliver_type {
        SliverType::Primary => bcs_of(&pair.primary),
        SliverType::Secondary => bcs_of(&pair.secondary),
    }
}

async fn recovery_symbols_route(State(mock): MockState, RawQuery(query): RawQuery) -> Response {
    if let Some(response) = mock.arrive(Route::RecoverySymbols).await {
        return response;
    }
    let n_shards = mock.blob.metadata.config().n_shards();
    // `WrongPosition`: genuine symbols for the next target instead.
    let shift = |target: SliverIndex| {
        if mock.behavior == Behavior::WrongPosition {
            SliverIndex((target.get() + 1) % n_shards)
        } else {
            target
        }
    };
    let symbols = match RecoverySymbolsRequest::parse(query.as_deref()) {
        Ok(RecoverySymbolsRequest::Target(query)) => recovery_symbols(
            &mock.blob,
            &mock.pairs,
            shift(query.target_index()),
            query.target_type,
        ),
        Ok(RecoverySymbolsRequest::Ids { ids, proof_axis }) => {
            let ids: Vec<SymbolId> = ids
                .into_iter()
                .map(|id| match proof_axis {
                    Some(SliverType::Primary) => SymbolId::new(id.primary, shift(id.secondary)),
                    _ => SymbolId::new(shift(id.primary), id.secondary),
                })
                .collect();
            symbols_by_id(&mock.blob, &mock.pairs, &ids, proof_axis)
        }
        Err(_) => return error_response(ErrorReason::InvalidRequest),
    };
    if mock.behavior == Behavior::CorruptSymbols {
        return bcs_of(&forge(symbols));
    }
    bcs_of(&symbols)
}

async fn blob_status(State(mock): MockState, Path(_): Path<BlobIdPath>) -> Response {
    if let Some(response) = mock.arrive(Route::BlobStatus).await {
        return response;
    }
    Json(ApiSuccess::ok(mock.status)).into_response()
}
