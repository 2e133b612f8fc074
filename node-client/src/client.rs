//! [`NodeClient`]: an async HTTP client of one storage node's REST API.

use std::time::Duration;

use bytes::Bytes;
use reqwest::{header::CONTENT_TYPE, Method, Response, Url};
use serde::{de::DeserializeOwned, Serialize};
use thiserror::Error;
use walrus_core::{
    bounded,
    encoding::Sliver,
    encoding::{
        BlobLayout, EncodingAxis, GeneralRecoverySymbol, InconsistencyProofEither, SliverData,
    },
    messages::{
        ProtocolMessageKind, SignedInvalidBlobIdMsg, SignedStorageConfirmation,
        SignedSyncShardRequest, StorageConfirmation,
    },
    metadata::{BlobMetadata, BlobMetadataWithId},
    BlobId, ObjectId, SliverIndex, SliverPairIndex, SliverType,
};

use crate::api::{
    self, ApiError, ApiErrorBody, ApiSuccess, BlobStatus, ErrorReason, ServiceHealthInfo,
    StoredOnNodeStatus, SyncShardResponse, BCS_CONTENT_TYPE,
};
use crate::tls::{NetworkPublicKey, PinnedHttps, PinnedResponse};

/// Default cap on a response body (slivers and symbol lists are the large ones): 64 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Cap on the body of an error response that is read to find the error envelope.
pub const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

/// Bytes of a non-JSON error body kept in [`NodeClientError::UnexpectedStatus`].
pub const ERROR_BODY_PREFIX_BYTES: usize = 512;

/// Cap on a JSON answer (status, health, confirmations, attestations): they are small.
pub const MAX_JSON_RESPONSE_BYTES: usize = 1 << 20;

/// The largest a legitimate metadata answer ([`BlobMetadataWithId`] in BCS) can be for
/// `n_shards` shards ([`bounded::max_metadata_with_id_len`]).
pub fn metadata_response_limit(n_shards: u16) -> usize {
    bounded::max_metadata_with_id_len(n_shards)
}

/// The length of a legitimate answer with a sliver of `axis` ([`SliverData`] in BCS) for a
/// blob of `layout` ([`bounded::sliver_len`]: exact).
pub fn sliver_response_limit(layout: &BlobLayout, axis: SliverType) -> usize {
    bounded::sliver_len(layout, axis)
}

/// The largest a legitimate recovery-symbols answer (a BCS list of [`GeneralRecoverySymbol`])
/// can be for a blob of `layout` from a node holding `n_pairs` sliver pairs: one symbol per
/// pair, each with its Merkle proof ([`bounded::max_recovery_symbols_len`]).
pub fn recovery_symbols_response_limit(layout: &BlobLayout, n_pairs: usize) -> usize {
    bounded::max_recovery_symbols_len(layout, n_pairs)
}

/// Default TCP connect timeout of [`NodeClient::new`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default whole-request timeout of [`NodeClient::new`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a request to a storage node failed.
#[derive(Debug, Error)]
pub enum NodeClientError {
    /// The base URL is not an absolute `http`/`https` URL.
    #[error("invalid node URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting, sending or receiving failed (refused, reset, timeout, ...).
    #[error("transport error: {0}")]
    Transport(#[from] reqwest::Error),
    /// Connecting, the TLS handshake (e.g. a certificate without the node's pinned network
    /// key), sending or receiving failed on an HTTPS connection.
    #[error("HTTPS transport error: {0}")]
    Https(String),
    /// The node's network public key cannot pin an HTTPS connection.
    #[error("cannot pin the node's TLS certificate: {0}")]
    InvalidNetworkKey(String),
    /// The node answered with a JSON error envelope.
    #[error("node answered HTTP {status}: {error}")]
    Api {
        /// The HTTP status of the response.
        status: u16,
        /// The error envelope's contents.
        error: ApiErrorBody,
    },
    /// The node answered with an error status and a body that is not an error envelope.
    #[error("node answered unexpected HTTP {status}: {body_prefix:?}")]
    UnexpectedStatus {
        /// The HTTP status of the response.
        status: u16,
        /// The first bytes of the body (lossy UTF-8).
        body_prefix: String,
    },
    /// A successful response body is not valid BCS/JSON of the expected type, or contradicts
    /// the request.
    #[error("could not decode the node's response: {0}")]
    Decode(String),
    /// A request body could not be encoded.
    #[error("could not encode the request body: {0}")]
    Encode(String),
    /// The response body exceeds the client's cap.
    #[error("response body exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
}

impl NodeClientError {
    /// The HTTP status the node answered, for [`NodeClientError::Api`] and
    /// [`NodeClientError::UnexpectedStatus`].
    pub fn http_status(&self) -> Option<u16> {
        match self {
            NodeClientError::Api { status, .. }
            | NodeClientError::UnexpectedStatus { status, .. } => Some(*status),
            NodeClientError::Transport(error) => error.status().map(|status| status.as_u16()),
            _ => None,
        }
    }

    /// The reason of an error envelope, if this client knows it.
    pub fn reason(&self) -> Option<ErrorReason> {
        match self {
            NodeClientError::Api { error, .. } => error.reason(),
            _ => None,
        }
    }

    /// Whether the node said the item does not exist (HTTP 404 or a not-found reason).
    pub fn is_not_found(&self) -> bool {
        self.http_status() == Some(404) || self.reason().is_some_and(ErrorReason::is_not_found)
    }

    /// Whether retrying later may succeed: transport failures, 429, 500, 502, 503 and 504.
    pub fn is_transient(&self) -> bool {
        match self {
            NodeClientError::Transport(_) | NodeClientError::Https(_) => true,
            _ => matches!(self.http_status(), Some(429 | 500 | 502 | 503 | 504)),
        }
    }
}

/// A reqwest client for node traffic: plain HTTP (HTTPS nodes are reached by clients pinned to
/// their network key: [`crate::tls::NodeConnector`]), the given TCP connect timeout and whole-request
/// timeout, system proxies ignored (nodes are on our network). Share one among many
/// [`NodeClient`]s so they share the connection pool.
///
/// # Panics
///
/// If reqwest cannot build an HTTP-only client (it can only fail initializing TLS, which this
/// build does not have).
pub fn default_http_client(
    connect_timeout: Duration,
    request_timeout: Duration,
) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .tcp_nodelay(true)
        .no_proxy()
        .build()
        .expect("an HTTP-only reqwest client always builds")
}

/// An async client of one storage node's REST API (see [`crate::api`] for the routes).
///
/// Metadata, slivers and symbols are returned as received: the caller verifies them against the
/// blob ID and the metadata.
#[derive(Debug, Clone)]
pub struct NodeClient {
    base_url: String,
    http: reqwest::Client,
    /// The HTTPS transport pinned to the node's network key, if the client was made for one.
    pinned: Option<PinnedHttps>,
    max_response_bytes: usize,
}

impl NodeClient {
    /// A client of the node at `base_url` (e.g. `http://10.0.0.5:9185`) with its own
    /// [`default_http_client`] ([`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_REQUEST_TIMEOUT`]).
    pub fn new(base_url: &str) -> Result<Self, NodeClientError> {
        Self::with_http(
            base_url,
            default_http_client(DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT),
        )
    }

    /// A client of the node at `base_url` using a shared reqwest client. A path in `base_url`
    /// is kept as a prefix of every route. The reqwest client speaks plain HTTP only: reach an
    /// `https://` node with [`Self::pinned`] (or [`crate::tls::NodeConnector`]).
    pub fn with_http(base_url: &str, http: reqwest::Client) -> Result<Self, NodeClientError> {
        let invalid = |reason: String| NodeClientError::InvalidUrl {
            url: base_url.to_owned(),
            reason,
        };
        let url = Url::parse(base_url).map_err(|error| invalid(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!("unsupported scheme '{}'", url.scheme())));
        }
        if url.host_str().is_none() {
            return Err(invalid("no host".to_owned()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a base URL has no query or fragment".to_owned()));
        }
        let base_url = url.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            base_url,
            http,
            pinned: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        })
    }

    /// A client of the node at the `https://` URL `base_url` that trusts only a TLS
    /// certificate carrying `network_public_key` (the key the chain has for the node; see
    /// [`crate::tls`]), with these TCP + TLS connect and whole-request timeouts. It keeps its
    /// own connection pool: make one per node and reuse it ([`crate::tls::NodeConnector`]
    /// does).
    pub fn pinned(
        base_url: &str,
        network_public_key: &NetworkPublicKey,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Self, NodeClientError> {
        let client = Self::with_http(
            base_url,
            default_http_client(connect_timeout, request_timeout),
        )?;
        if !client.is_https() {
            return Err(NodeClientError::InvalidUrl {
                url: base_url.to_owned(),
                reason: "a client pinned to a network key needs an https:// URL".to_owned(),
            });
        }
        let pinned = PinnedHttps::new(*network_public_key, connect_timeout, request_timeout)
            .map_err(|error| NodeClientError::InvalidNetworkKey(error.to_string()))?;
        Ok(client.with_pinned(pinned))
    }

    /// This client with its requests sent over `pinned`.
    pub(crate) fn with_pinned(mut self, pinned: PinnedHttps) -> Self {
        self.pinned = Some(pinned);
        self
    }

    /// Whether the base URL is `https://`.
    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// The network key the client pins the node's certificate to, if it is an HTTPS client.
    pub fn network_public_key(&self) -> Option<NetworkPublicKey> {
        self.pinned.as_ref().map(PinnedHttps::key)
    }

    /// Sets the cap on response bodies (default [`DEFAULT_MAX_RESPONSE_BYTES`]).
    pub fn with_max_response_bytes(mut self, max_response_bytes: usize) -> Self {
        self.max_response_bytes = max_response_bytes;
        self
    }

    /// The cap on response bodies.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// The node's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The underlying reqwest client (plain HTTP; a pinned client's requests do not use it).
    pub fn http_client(&self) -> &reqwest::Client {
        &self.http
    }

    /// The absolute URL of a path built by the functions of [`crate::api`].
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// GET the metadata of `blob_id` (unverified: check them with `BlobMetadataWithId::verify`).
    /// Fails with [`NodeClientError::Decode`] if the node answers metadata of another blob ID.
    /// The answer is capped at what metadata of the largest shard count can be (or at the
    /// client's cap if lower); [`Self::get_metadata_with_limit`] caps it for a known shard
    /// count.
    pub async fn get_metadata(
        &self,
        blob_id: &BlobId,
    ) -> Result<BlobMetadataWithId, NodeClientError> {
        let limit = metadata_response_limit(u16::MAX).min(self.max_response_bytes);
        self.get_metadata_with_limit(blob_id, limit).await
    }

    /// Like [`Self::get_metadata`], with the answer capped at `limit` bytes instead (e.g.
    /// [`metadata_response_limit`] of the committee's shard count).
    pub async fn get_metadata_with_limit(
        &self,
        blob_id: &BlobId,
        limit: usize,
    ) -> Result<BlobMetadataWithId, NodeClientError> {
        let metadata: BlobMetadataWithId =
            self.get_bcs(&api::metadata_path(blob_id), limit).await?;
        if metadata.blob_id != *blob_id {
            return Err(NodeClientError::Decode(format!(
                "asked for the metadata of {blob_id}, got those of {}",
                metadata.blob_id
            )));
        }
        Ok(metadata)
    }

    /// PUT the metadata of `blob_id`. Any 2xx status is success (stored now or before).
    pub async fn put_metadata(
        &self,
        blob_id: &BlobId,
        metadata: &BlobMetadata,
    ) -> Result<(), NodeClientError> {
        self.send_bcs(Method::PUT, &api::metadata_path(blob_id), metadata)
            .await
            .map(drop)
    }

    /// PUT the metadata of `blob_id` with `?pending=true`: a node that has not seen the blob's
    /// registration yet verifies and buffers them until it does. Any 2xx status is success.
    pub async fn put_metadata_pending(
        &self,
        blob_id: &BlobId,
        metadata: &BlobMetadata,
    ) -> Result<(), NodeClientError> {
        let path = format!("{}?pending=true", api::metadata_path(blob_id));
        self.send_bcs(Method::PUT, &path, metadata).await.map(drop)
    }

    /// GET whether the node stores the metadata of `blob_id`.
    pub async fn get_metadata_status(
        &self,
        blob_id: &BlobId,
    ) -> Result<StoredOnNodeStatus, NodeClientError> {
        self.get_json(&api::metadata_status_path(blob_id)).await
    }

    /// GET the sliver of axis `T` of pair `pair` (unverified: check it against the metadata,
    /// and that its index is the one pair `pair` holds), capped at the client's cap.
    pub async fn get_sliver<T: EncodingAxis>(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
    ) -> Result<SliverData<T>, NodeClientError> {
        self.get_sliver_with_limit(blob_id, pair, self.max_response_bytes)
            .await
    }

    /// Like [`Self::get_sliver`], with the answer capped at `limit` bytes instead (e.g.
    /// [`sliver_response_limit`] of the blob's layout).
    pub async fn get_sliver_with_limit<T: EncodingAxis>(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        limit: usize,
    ) -> Result<SliverData<T>, NodeClientError> {
        self.get_bcs(&api::sliver_path(blob_id, pair, T::TYPE), limit)
            .await
    }

    /// PUT the sliver of axis `T` of pair `pair`. Any 2xx status is success.
    pub async fn put_sliver<T: EncodingAxis>(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        sliver: &SliverData<T>,
    ) -> Result<(), NodeClientError> {
        self.send_bcs(
            Method::PUT,
            &api::sliver_path(blob_id, pair, T::TYPE),
            sliver,
        )
        .await
        .map(drop)
    }

    /// PUT the sliver of axis `T` of pair `pair` with `?pending=true` (buffered until the node
    /// sees the blob's registration, after its metadata). Any 2xx status is success.
    pub async fn put_sliver_pending<T: EncodingAxis>(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        sliver: &SliverData<T>,
    ) -> Result<(), NodeClientError> {
        let path = format!("{}?pending=true", api::sliver_path(blob_id, pair, T::TYPE));
        self.send_bcs(Method::PUT, &path, sliver).await.map(drop)
    }

    /// GET whether the node stores the sliver of `sliver_type` of pair `pair`.
    pub async fn get_sliver_status(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        sliver_type: SliverType,
    ) -> Result<StoredOnNodeStatus, NodeClientError> {
        self.get_json(&api::sliver_status_path(blob_id, pair, sliver_type))
            .await
    }

    /// GET the node's signed storage confirmation: for the deletable blob object
    /// `deletable_object`, or for the permanent blob if `None` (unverified: check it with
    /// `SignedMessage::verify_signature_and_get_message`).
    pub async fn get_confirmation(
        &self,
        blob_id: &BlobId,
        deletable_object: Option<ObjectId>,
    ) -> Result<SignedStorageConfirmation, NodeClientError> {
        let path = api::confirmation_path(blob_id, deletable_object.as_ref());
        let StorageConfirmation::Signed(signed) = self.get_json(&path).await?;
        Ok(signed)
    }

    /// Like [`Self::get_confirmation`], asking the node to wait up to `wait` for the blob's
    /// registration if it holds uploads of the blob buffered pending it
    /// (`?wait_for_registration=true&wait_millis=...`).
    pub async fn get_confirmation_waiting(
        &self,
        blob_id: &BlobId,
        deletable_object: Option<ObjectId>,
        wait: std::time::Duration,
    ) -> Result<SignedStorageConfirmation, NodeClientError> {
        let path = format!(
            "{}?wait_for_registration=true&wait_millis={}",
            api::confirmation_path(blob_id, deletable_object.as_ref()),
            wait.as_millis()
        );
        let StorageConfirmation::Signed(signed) = self.get_json(&path).await?;
        Ok(signed)
    }

    /// GET every recovery symbol the node can give for rebuilding sliver `target` of axis
    /// `target_type` (unverified: `recover_sliver` checks each against the metadata), capped
    /// at the client's cap.
    pub async fn get_recovery_symbols(
        &self,
        blob_id: &BlobId,
        target: SliverIndex,
        target_type: SliverType,
    ) -> Result<Vec<GeneralRecoverySymbol>, NodeClientError> {
        self.get_recovery_symbols_with_limit(blob_id, target, target_type, self.max_response_bytes)
            .await
    }

    /// Like [`Self::get_recovery_symbols`], with the answer capped at `limit` bytes instead
    /// (e.g. [`recovery_symbols_response_limit`] of the blob's layout and the node's pairs).
    pub async fn get_recovery_symbols_with_limit(
        &self,
        blob_id: &BlobId,
        target: SliverIndex,
        target_type: SliverType,
        limit: usize,
    ) -> Result<Vec<GeneralRecoverySymbol>, NodeClientError> {
        self.get_bcs(
            &api::recovery_symbols_path(blob_id, target, target_type),
            limit,
        )
        .await
    }

    /// GET the recovery symbols named by `ids` (the list form of the route: many slivers'
    /// symbols in one request; at most [`api::max_symbol_ids_per_request`] IDs), each proven
    /// in the tree of its sliver of `proof_axis` if given, with the answer capped at `limit`
    /// bytes (e.g. [`recovery_symbols_response_limit`] of the blob's layout and `ids.len()`).
    /// Unverified: the caller checks each symbol against the metadata.
    pub async fn list_recovery_symbols_with_limit(
        &self,
        blob_id: &BlobId,
        ids: &[api::SymbolId],
        proof_axis: Option<SliverType>,
        limit: usize,
    ) -> Result<Vec<GeneralRecoverySymbol>, NodeClientError> {
        self.get_bcs(
            &api::recovery_symbol_ids_path(blob_id, ids, proof_axis),
            limit,
        )
        .await
    }

    /// POST an inconsistency proof; the node answers its signed invalid-blob-ID attestation.
    pub async fn submit_inconsistency_proof(
        &self,
        blob_id: &BlobId,
        proof: &InconsistencyProofEither,
    ) -> Result<SignedInvalidBlobIdMsg, NodeClientError> {
        let (path, response) = match proof {
            InconsistencyProofEither::Primary(proof) => {
                let path = api::inconsistency_proof_path(blob_id, SliverType::Primary);
                let response = self.send_bcs(Method::POST, &path, proof).await?;
                (path, response)
            }
            InconsistencyProofEither::Secondary(proof) => {
                let path = api::inconsistency_proof_path(blob_id, SliverType::Secondary);
                let response = self.send_bcs(Method::POST, &path, proof).await?;
                (path, response)
            }
        };
        self.decode_json_envelope(&path, response).await
    }

    /// POST a signed shard-sync request: the slivers the node gives for the request's shard,
    /// axis and blob range, unverified, with the answer capped at `limit` bytes. Refused
    /// before decoding if the answer claims more slivers than asked for, or is not in strictly
    /// increasing blob-ID order from the starting blob ID, or holds a sliver of another axis.
    pub async fn sync_shard(
        &self,
        request: &SignedSyncShardRequest,
        limit: usize,
    ) -> Result<Vec<(BlobId, Sliver)>, NodeClientError> {
        let asked = request
            .decode_message()
            .map_err(|error| NodeClientError::Encode(error.to_string()))?;
        let asked = *asked.contents();
        let path = api::sync_shard_path();
        let response = self.send_bcs(Method::POST, &path, request).await?;
        let body = read_capped(response, limit.min(self.max_response_bytes)).await?;
        // Variant tag (1 byte), then the sequence length.
        let count = bounded::sequence_length_at(&body, 1)
            .ok_or_else(|| NodeClientError::Decode(format!("invalid BCS from {path}")))?;
        if u64::try_from(count).map_or(true, |count| count > asked.sliver_count) {
            return Err(NodeClientError::Decode(format!(
                "{count} slivers from {path}, asked for at most {}",
                asked.sliver_count
            )));
        }
        let slivers = bcs::from_bytes::<SyncShardResponse>(&body)
            .map_err(|error| NodeClientError::Decode(format!("invalid BCS from {path}: {error}")))?
            .into_slivers();
        let mut previous: Option<BlobId> = None;
        for (blob_id, sliver) in &slivers {
            let ordered = match previous {
                None => *blob_id >= asked.starting_blob_id,
                Some(previous) => *blob_id > previous,
            };
            if !ordered || sliver.sliver_type() != asked.sliver_type {
                return Err(NodeClientError::Decode(format!(
                    "{path} answered blob {blob_id} out of order or of the wrong axis"
                )));
            }
            previous = Some(*blob_id);
        }
        Ok(slivers)
    }

    /// GET the node's view of the blob's status on chain.
    pub async fn get_blob_status(&self, blob_id: &BlobId) -> Result<BlobStatus, NodeClientError> {
        self.get_json(&api::blob_status_path(blob_id)).await
    }

    /// GET the node's health.
    pub async fn health(&self) -> Result<ServiceHealthInfo, NodeClientError> {
        self.get_json(&api::health_path()).await
    }

    /// GET the node's health (`?detailed=true` if `detailed`) as the JSON `data` of its answer,
    /// undecoded: every field the node sends, known to this client or not.
    pub async fn health_json(&self, detailed: bool) -> Result<serde_json::Value, NodeClientError> {
        let query = if detailed { "?detailed=true" } else { "" };
        self.get_json(&format!("{}{query}", api::health_path()))
            .await
    }

    // -----------------------------------------------------------------------------------------

    /// GETs `path` and decodes the BCS answer of at most `limit` bytes. Decoding allocates
    /// in proportion to the bytes received: serde preallocates at most 1 MiB per sequence
    /// whatever length prefix the body claims, and a prefix longer than the remaining body
    /// fails at its end.
    async fn get_bcs<R: DeserializeOwned>(
        &self,
        path: &str,
        limit: usize,
    ) -> Result<R, NodeClientError> {
        let response = self.execute(Method::GET, path, None).await?;
        let body = read_capped(response, limit).await?;
        bcs::from_bytes(&body)
            .map_err(|error| NodeClientError::Decode(format!("invalid BCS from {path}: {error}")))
    }

    async fn get_json<R: DeserializeOwned>(&self, path: &str) -> Result<R, NodeClientError> {
        let response = self.execute(Method::GET, path, None).await?;
        self.decode_json_envelope(path, response).await
    }

    async fn decode_json_envelope<R: DeserializeOwned>(
        &self,
        path: &str,
        response: Reply,
    ) -> Result<R, NodeClientError> {
        let url = path.split('?').next().unwrap_or(path);
        let limit = MAX_JSON_RESPONSE_BYTES.min(self.max_response_bytes);
        let body = read_capped(response, limit).await?;
        serde_json::from_slice::<ApiSuccess<R>>(&body)
            .map(ApiSuccess::into_data)
            .map_err(|error| NodeClientError::Decode(format!("invalid JSON from {url}: {error}")))
    }

    async fn send_bcs<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<Reply, NodeClientError> {
        let bytes = walrus_core::to_bcs_exact(body)
            .map_err(|error| NodeClientError::Encode(error.to_string()))?;
        self.execute(method, path, Some(bytes)).await
    }

    /// Sends a request for `path` (with a BCS body, if any) over the pinned HTTPS transport or
    /// the reqwest client; a non-2xx answer becomes an error.
    async fn execute(
        &self,
        method: Method,
        path: &str,
        bcs_body: Option<Vec<u8>>,
    ) -> Result<Reply, NodeClientError> {
        let url = self.url(path);
        let response = match &self.pinned {
            Some(pinned) => {
                let body = bcs_body.map(|bytes| (BCS_CONTENT_TYPE, bytes));
                Reply::Pinned(pinned.send(method, &url, body).await?)
            }
            None => {
                let mut request = self.http.request(method, url);
                if let Some(bytes) = bcs_body {
                    request = request.header(CONTENT_TYPE, BCS_CONTENT_TYPE).body(bytes);
                }
                Reply::Reqwest(request.send().await?)
            }
        };
        if (200..300).contains(&response.status()) {
            Ok(response)
        } else {
            Err(error_from_response(response).await)
        }
    }
}

/// A node's answer, from either transport.
#[derive(Debug)]
enum Reply {
    Reqwest(Response),
    Pinned(PinnedResponse),
}

impl Reply {
    fn status(&self) -> u16 {
        match self {
            Reply::Reqwest(response) => response.status().as_u16(),
            Reply::Pinned(response) => response.status(),
        }
    }

    fn content_length(&self) -> Option<u64> {
        match self {
            Reply::Reqwest(response) => response.content_length(),
            Reply::Pinned(response) => response.content_length(),
        }
    }

    async fn chunk(&mut self) -> Result<Option<Bytes>, NodeClientError> {
        match self {
            Reply::Reqwest(response) => Ok(response.chunk().await?),
            Reply::Pinned(response) => response.chunk().await,
        }
    }
}

/// Reads a response body, failing as soon as it exceeds `limit` bytes (by its declared length or
/// by the bytes actually received).
async fn read_capped(mut response: Reply, limit: usize) -> Result<Vec<u8>, NodeClientError> {
    if let Some(length) = response.content_length() {
        if usize::try_from(length).map_or(true, |length| length > limit) {
            return Err(NodeClientError::ResponseTooLarge { limit });
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if chunk.len() > limit.saturating_sub(body.len()) {
            return Err(NodeClientError::ResponseTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads at most `limit` bytes of a body, silently stopping there (for error bodies).
async fn read_prefix(response: &mut Reply, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(limit - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// The error of a non-2xx response: the JSON error envelope if there is one.
async fn error_from_response(mut response: Reply) -> NodeClientError {
    let status = response.status();
    let body = read_prefix(&mut response, MAX_ERROR_BODY_BYTES).await;
    match serde_json::from_slice::<ApiError>(&body) {
        Ok(envelope) => NodeClientError::Api {
            status,
            error: envelope.error,
        },
        Err(_) => {
            let prefix = &body[..body.len().min(ERROR_BODY_PREFIX_BYTES)];
            NodeClientError::UnexpectedStatus {
                status,
                body_prefix: String::from_utf8_lossy(prefix).into_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_normalized_and_checked() {
        let client = NodeClient::new("http://127.0.0.1:9185/").unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9185");
        let blob_id = BlobId([1; 32]);
        assert_eq!(
            client.url(&api::blob_status_path(&blob_id)),
            format!("http://127.0.0.1:9185/v1/blobs/{blob_id}/status")
        );
        let prefixed = NodeClient::new("http://node.local:80/prefix/").unwrap();
        assert_eq!(
            prefixed.url("/v1/health"),
            "http://node.local/prefix/v1/health"
        );
        for bad in [
            "127.0.0.1:9185",
            "ftp://host/",
            "not a url",
            "http://host/?a=1",
        ] {
            assert!(
                matches!(
                    NodeClient::new(bad),
                    Err(NodeClientError::InvalidUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn error_helpers() {
        let api = NodeClientError::Api {
            status: 404,
            error: ApiErrorBody::new(ErrorReason::SliverNotFound, "no sliver"),
        };
        assert_eq!(api.reason(), Some(ErrorReason::SliverNotFound));
        assert!(api.is_not_found());
        assert!(!api.is_transient());
        let unknown = NodeClientError::Api {
            status: 400,
            error: ApiErrorBody {
                code: 400,
                status: "INVALID_ARGUMENT".into(),
                reason: "SOMETHING_NEW".into(),
                message: String::new(),
                details: Vec::new(),
            },
        };
        assert_eq!(unknown.reason(), None);
        // An upstream node's answer: the reason only in the AIP-193 details.
        let upstream: crate::api::ApiError = serde_json::from_str(
            r#"{"error":{"code":404,"status":"NOT_FOUND","message":"not registered",
                "details":[{"@type":"ErrorInfo","reason":"NOT_REGISTERED","domain":"storage.walrus.space","metadata":{}}]}}"#,
        )
        .unwrap();
        assert_eq!(upstream.reason(), Some(ErrorReason::NotRegistered));
        // Ours carries both.
        let ours =
            serde_json::to_value(crate::api::ApiError::new(ErrorReason::SliverNotFound, "x"))
                .unwrap();
        assert_eq!(ours["error"]["reason"], "SLIVER_NOT_FOUND");
        assert_eq!(ours["error"]["details"][0]["reason"], "SLIVER_NOT_FOUND");
        assert_eq!(ours["error"]["details"][0]["@type"], "ErrorInfo");
        assert!(!unknown.is_not_found());
        let unavailable = NodeClientError::UnexpectedStatus {
            status: 503,
            body_prefix: "busy".into(),
        };
        assert!(unavailable.is_transient());
        assert_eq!(unavailable.http_status(), Some(503));
        assert!(!NodeClientError::Decode("x".into()).is_transient());
    }
}
