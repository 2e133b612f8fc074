//! Wire types of the storage-node REST API: routes, JSON envelopes, error reasons, blob status
//! and health. Shared by the node's server and by every client.
//!
//! Conventions: BCS bodies carry [`BCS_CONTENT_TYPE`]; JSON successes are wrapped in
//! [`ApiSuccess`] (`{"success":{"code":200,"data":...}}`), JSON errors in [`ApiError`]
//! (`{"error":{"code":404,"status":"NOT_FOUND","reason":"METADATA_NOT_FOUND","message":"..."}}`).

use std::{cmp::Reverse, fmt, str::FromStr};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde::{Deserialize, Serialize};
use walrus_core::{
    crypto::PublicKey, encoding::Sliver, BlobId, Epoch, ObjectId, SliverIndex, SliverPairIndex,
    SliverType,
};

/// Content type of every BCS request and response body.
pub const BCS_CONTENT_TYPE: &str = "application/octet-stream";

/// Content type of JSON responses.
pub const JSON_CONTENT_TYPE: &str = "application/json";

// ---------------------------------------------------------------------------------------------
// Routes (axum 0.8 templates) and path builders.
// ---------------------------------------------------------------------------------------------

/// GET: BCS `BlobMetadataWithId`; PUT (body: BCS `BlobMetadata`): store the metadata.
pub const METADATA_ENDPOINT: &str = "/v1/blobs/{blob_id}/metadata";
/// GET: JSON `ApiSuccess<StoredOnNodeStatus>` of the metadata.
pub const METADATA_STATUS_ENDPOINT: &str = "/v1/blobs/{blob_id}/metadata/status";
/// GET / PUT: BCS `SliverData` of the axis `{sliver_type}` held by pair `{sliver_pair_index}`.
pub const SLIVER_ENDPOINT: &str = "/v1/blobs/{blob_id}/slivers/{sliver_pair_index}/{sliver_type}";
/// GET: JSON `ApiSuccess<StoredOnNodeStatus>` of one sliver.
pub const SLIVER_STATUS_ENDPOINT: &str =
    "/v1/blobs/{blob_id}/slivers/{sliver_pair_index}/{sliver_type}/status";
/// GET: JSON `ApiSuccess<StorageConfirmation>` for a permanent blob.
pub const PERMANENT_CONFIRMATION_ENDPOINT: &str = "/v1/blobs/{blob_id}/confirmation/permanent";
/// GET: JSON `ApiSuccess<StorageConfirmation>` for the deletable blob object `{object_id}`.
pub const DELETABLE_CONFIRMATION_ENDPOINT: &str =
    "/v1/blobs/{blob_id}/confirmation/deletable/{object_id}";
/// GET with [`RecoverySymbolsQuery`]: BCS `Vec<GeneralRecoverySymbol>`.
pub const RECOVERY_SYMBOLS_ENDPOINT: &str = "/v1/blobs/{blob_id}/recoverySymbols";
/// GET with [`DecodingSymbolsQuery`]: BCS `BTreeMap<u16, Vec<EitherDecodingSymbol>>`, for each
/// target source sliver the symbols this node holds for it, without proofs (Walrus's
/// `decodingSymbols`).
pub const DECODING_SYMBOLS_ENDPOINT: &str = "/v1/blobs/{blob_id}/decodingSymbols";
/// POST (body: BCS `InconsistencyProof` of axis `{sliver_type}`): JSON
/// `ApiSuccess<SignedInvalidBlobIdMsg>`.
pub const INCONSISTENCY_PROOF_ENDPOINT: &str =
    "/v1/blobs/{blob_id}/inconsistencyProof/{sliver_type}";
/// POST (body: BCS `SignedSyncShardRequest`, signed by the shard's owner in the current
/// epoch): BCS [`SyncShardResponse`], the slivers of the shard's certified blobs from the
/// request's starting blob ID, in blob-ID order (shard migration between committees).
pub const SYNC_SHARD_ENDPOINT: &str = "/v1/migrate/sync_shard";
/// GET: JSON `ApiSuccess<BlobStatus>`.
pub const BLOB_STATUS_ENDPOINT: &str = "/v1/blobs/{blob_id}/status";
/// GET: JSON `ApiSuccess<ServiceHealthInfo>`.
pub const HEALTH_ENDPOINT: &str = "/v1/health";
/// GET: the OpenAPI document (JSON).
pub const API_DOCS_ENDPOINT: &str = "/v1/api";
/// GET: Prometheus metrics (text exposition format).
pub const METRICS_ENDPOINT: &str = "/metrics";

/// Concrete path of [`METADATA_ENDPOINT`].
pub fn metadata_path(blob_id: &BlobId) -> String {
    format!("/v1/blobs/{blob_id}/metadata")
}

/// Concrete path of [`METADATA_STATUS_ENDPOINT`].
pub fn metadata_status_path(blob_id: &BlobId) -> String {
    format!("/v1/blobs/{blob_id}/metadata/status")
}

/// Concrete path of [`SLIVER_ENDPOINT`].
pub fn sliver_path(blob_id: &BlobId, pair: SliverPairIndex, sliver_type: SliverType) -> String {
    format!("/v1/blobs/{blob_id}/slivers/{pair}/{sliver_type}")
}

/// Concrete path of [`SLIVER_STATUS_ENDPOINT`].
pub fn sliver_status_path(
    blob_id: &BlobId,
    pair: SliverPairIndex,
    sliver_type: SliverType,
) -> String {
    format!("/v1/blobs/{blob_id}/slivers/{pair}/{sliver_type}/status")
}

/// Concrete path of [`PERMANENT_CONFIRMATION_ENDPOINT`].
pub fn permanent_confirmation_path(blob_id: &BlobId) -> String {
    format!("/v1/blobs/{blob_id}/confirmation/permanent")
}

/// Concrete path of [`DELETABLE_CONFIRMATION_ENDPOINT`] (object ID as `0x` + 64 hex digits).
pub fn deletable_confirmation_path(blob_id: &BlobId, object_id: &ObjectId) -> String {
    format!("/v1/blobs/{blob_id}/confirmation/deletable/{object_id}")
}

/// The confirmation path: deletable for `Some(object)`, permanent for `None`.
pub fn confirmation_path(blob_id: &BlobId, deletable_object: Option<&ObjectId>) -> String {
    match deletable_object {
        Some(object_id) => deletable_confirmation_path(blob_id, object_id),
        None => permanent_confirmation_path(blob_id),
    }
}

/// Concrete path and query of [`RECOVERY_SYMBOLS_ENDPOINT`]:
/// `...?targetSliver=<index>&targetType=<primary|secondary>`.
pub fn recovery_symbols_path(
    blob_id: &BlobId,
    target_sliver: SliverIndex,
    target_type: SliverType,
) -> String {
    let query = RecoverySymbolsQuery {
        target_sliver: target_sliver.get(),
        target_type,
    };
    format!(
        "/v1/blobs/{blob_id}/recoverySymbols?{}",
        query.to_query_string()
    )
}

/// Concrete path of [`INCONSISTENCY_PROOF_ENDPOINT`].
pub fn inconsistency_proof_path(blob_id: &BlobId, sliver_type: SliverType) -> String {
    format!("/v1/blobs/{blob_id}/inconsistencyProof/{sliver_type}")
}

/// Concrete path of [`BLOB_STATUS_ENDPOINT`].
pub fn blob_status_path(blob_id: &BlobId) -> String {
    format!("/v1/blobs/{blob_id}/status")
}

/// Concrete path of [`SYNC_SHARD_ENDPOINT`].
pub fn sync_shard_path() -> String {
    SYNC_SHARD_ENDPOINT.to_owned()
}

/// Concrete path of [`HEALTH_ENDPOINT`].
pub fn health_path() -> String {
    HEALTH_ENDPOINT.to_owned()
}

/// Concrete path of [`API_DOCS_ENDPOINT`].
pub fn api_docs_path() -> String {
    API_DOCS_ENDPOINT.to_owned()
}

/// Concrete path of [`METRICS_ENDPOINT`].
pub fn metrics_path() -> String {
    METRICS_ENDPOINT.to_owned()
}

/// OpenAPI schemas of the `walrus-core` types in paths and bodies (documentation only).
#[cfg(feature = "openapi")]
pub mod schema {
    /// The blob ID: unpadded URL-safe base64 of 32 bytes.
    #[derive(utoipa::ToSchema)]
    #[schema(
        pattern = "^[A-Za-z0-9_-]{43}$",
        example = "CmzciFdWJP1IIM-rD3cqXlVBXYM0fpAfHahZBvkaZUI"
    )]
    pub struct BlobId(pub String);

    /// A Sui object ID: `0x` + hex (64 digits on output; shorter forms are left-padded with
    /// zeros on input).
    #[derive(utoipa::ToSchema)]
    #[schema(pattern = "^0x[0-9a-fA-F]{1,64}$")]
    pub struct ObjectId(pub String);

    /// The sliver axis.
    #[derive(utoipa::ToSchema)]
    #[schema(rename_all = "lowercase")]
    pub enum SliverType {
        /// The primary axis (rows of the expanded blob).
        Primary,
        /// The secondary axis (columns of the expanded blob).
        Secondary,
    }
}

// ---------------------------------------------------------------------------------------------
// Path parameters and queries (for axum extractors on the server).
// ---------------------------------------------------------------------------------------------

/// Path parameters of the routes that only name a blob (`{blob_id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Path))]
pub struct BlobIdPath {
    /// The blob (base64url text in the path).
    #[cfg_attr(feature = "openapi", param(inline, value_type = schema::BlobId))]
    pub blob_id: BlobId,
}

/// Path parameters of [`SLIVER_ENDPOINT`] and [`SLIVER_STATUS_ENDPOINT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Path))]
pub struct SliverPath {
    /// The blob.
    #[cfg_attr(feature = "openapi", param(inline, value_type = schema::BlobId))]
    pub blob_id: BlobId,
    /// The sliver pair (decimal `u16`, < n_shards).
    #[cfg_attr(feature = "openapi", param(value_type = u16))]
    pub sliver_pair_index: SliverPairIndex,
    /// The axis (`primary` / `secondary`).
    #[cfg_attr(feature = "openapi", param(inline, value_type = schema::SliverType))]
    pub sliver_type: SliverType,
}

/// Path parameters of [`DELETABLE_CONFIRMATION_ENDPOINT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Path))]
pub struct DeletableConfirmationPath {
    /// The blob.
    #[cfg_attr(feature = "openapi", param(inline, value_type = schema::BlobId))]
    pub blob_id: BlobId,
    /// The deletable blob's Sui object (`0x` + hex).
    #[cfg_attr(feature = "openapi", param(inline, value_type = schema::ObjectId))]
    pub object_id: ObjectId,
}

/// Path parameters of [`INCONSISTENCY_PROOF_ENDPOINT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Path))]
pub struct InconsistencyProofPath {
    /// The blob.
    #[cfg_attr(feature = "openapi", param(inline, value_type = schema::BlobId))]
    pub blob_id: BlobId,
    /// The axis of the sliver the proof rebuilds.
    #[cfg_attr(feature = "openapi", param(inline, value_type = schema::SliverType))]
    pub sliver_type: SliverType,
}

/// Query of [`RECOVERY_SYMBOLS_ENDPOINT`]: `?targetSliver=<u16>&targetType=<primary|secondary>`.
/// The node answers every symbol it can give for rebuilding that sliver, one per sliver it
/// holds on the orthogonal axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase")]
pub struct RecoverySymbolsQuery {
    /// Index of the sliver to rebuild, on its own axis (< n_shards).
    pub target_sliver: u16,
    /// Axis of the sliver to rebuild; the symbols come from the other axis.
    #[cfg_attr(feature = "openapi", param(inline, value_type = schema::SliverType))]
    pub target_type: SliverType,
}

impl RecoverySymbolsQuery {
    /// The URL query string, without the leading `?` (no escaping needed: digits and letters).
    pub fn to_query_string(&self) -> String {
        format!(
            "targetSliver={}&targetType={}",
            self.target_sliver, self.target_type
        )
    }

    /// The target sliver index as the typed index.
    pub fn target_index(&self) -> SliverIndex {
        SliverIndex(self.target_sliver)
    }
}

/// Most symbol IDs one list request of [`RECOVERY_SYMBOLS_ENDPOINT`] may name (the node
/// refuses more with INVALID_REQUEST); see also [`max_symbol_ids_per_request`].
pub const MAX_RECOVERY_SYMBOL_IDS: usize = 1_024;

/// Most bytes of symbols (with their proofs) one list request of [`RECOVERY_SYMBOLS_ENDPOINT`]
/// may ask for: with large symbols, fewer IDs than [`MAX_RECOVERY_SYMBOL_IDS`] fit.
pub const MAX_RECOVERY_SYMBOL_LIST_BYTES: usize = 16 << 20;

/// Most symbol IDs one list request may name for a blob of `layout`: at most
/// [`MAX_RECOVERY_SYMBOL_IDS`], and no more than [`MAX_RECOVERY_SYMBOL_LIST_BYTES`] of answer
/// (at least one).
pub fn max_symbol_ids_per_request(layout: &walrus_core::encoding::BlobLayout) -> usize {
    (MAX_RECOVERY_SYMBOL_LIST_BYTES / walrus_core::bounded::max_recovery_symbol_len(layout))
        .clamp(1, MAX_RECOVERY_SYMBOL_IDS)
}

/// A symbol of the expanded matrix: the one where primary sliver (row) `primary` and
/// secondary sliver (column) `secondary` cross. Text: `<primary>-<secondary>` (as Walrus),
/// e.g. `17-21`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SymbolId {
    /// The primary sliver holding the symbol.
    pub primary: SliverIndex,
    /// The secondary sliver holding the symbol.
    pub secondary: SliverIndex,
}

impl SymbolId {
    /// The symbol where primary sliver `primary` and secondary sliver `secondary` cross.
    pub fn new(primary: SliverIndex, secondary: SliverIndex) -> Self {
        Self { primary, secondary }
    }

    /// The symbol that the sliver `source` of the axis orthogonal to `target_type` gives for
    /// rebuilding sliver `target` of `target_type`.
    pub fn for_target(target: SliverIndex, target_type: SliverType, source: SliverIndex) -> Self {
        match target_type {
            SliverType::Primary => Self::new(target, source),
            SliverType::Secondary => Self::new(source, target),
        }
    }

    /// The index of the sliver of `axis` holding the symbol.
    pub fn sliver_index(&self, axis: SliverType) -> SliverIndex {
        match axis {
            SliverType::Primary => self.primary,
            SliverType::Secondary => self.secondary,
        }
    }
}

impl fmt::Display for SymbolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.primary.get(), self.secondary.get())
    }
}

impl FromStr for SymbolId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("invalid symbol ID '{text}' (<primary>-<secondary>)");
        let (primary, secondary) = text.split_once('-').ok_or_else(invalid)?;
        let index = |part: &str| part.parse::<u16>().map(SliverIndex).map_err(|_| invalid());
        Ok(Self::new(index(primary)?, index(secondary)?))
    }
}

/// What a request to [`RECOVERY_SYMBOLS_ENDPOINT`] asks for. Its query has one of two forms
/// (Walrus's list endpoint):
///
/// - `?targetSliver=<u16>&targetType=<primary|secondary>` ([`RecoverySymbolsQuery`]): every
///   symbol the node can give for rebuilding that sliver, one per sliver it holds on the
///   orthogonal axis;
/// - `?id=<P-S>&id=<P-S>...[&proofAxis=<primary|secondary>]`: the symbols named (at most
///   [`MAX_RECOVERY_SYMBOL_IDS`], duplicates ignored) that the node holds, each with its
///   Merkle proof in the tree of the sliver of `proofAxis` holding it (without `proofAxis`,
///   whichever the node holds; the secondary sliver if both). A symbol proven in secondary
///   sliver `S` rebuilds primary sliver `P`, and one proven in primary sliver `P` rebuilds
///   secondary sliver `S`: many slivers' symbols in one request.
///
/// Other parameters are ignored; mixing the forms is an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoverySymbolsRequest {
    /// The symbols for rebuilding one sliver.
    Target(RecoverySymbolsQuery),
    /// The symbols named by their IDs.
    Ids {
        /// The symbols, sorted, without duplicates, at most [`MAX_RECOVERY_SYMBOL_IDS`].
        ids: Vec<SymbolId>,
        /// The axis of the sliver whose tree proves each symbol, if asked.
        proof_axis: Option<SliverType>,
    },
}

impl RecoverySymbolsRequest {
    /// Parses the URL query (without `?`). Values are plain digits, `-` and letters, taken
    /// as they are (not percent-decoded).
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut target_sliver = None;
        let mut target_type = None;
        let mut proof_axis = None;
        let mut ids = Vec::new();
        fn once<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), String> {
            match slot.replace(value) {
                Some(_) => Err(format!("query parameter '{key}' given twice")),
                None => Ok(()),
            }
        }
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "targetSliver" => {
                    let index = value
                        .parse::<u16>()
                        .map_err(|_| format!("invalid targetSliver '{value}'"))?;
                    once(&mut target_sliver, key, index)?;
                }
                "targetType" => once(&mut target_type, key, value.parse::<SliverType>()?)?,
                "proofAxis" => once(&mut proof_axis, key, value.parse::<SliverType>()?)?,
                "id" => {
                    if ids.len() == MAX_RECOVERY_SYMBOL_IDS {
                        return Err(format!(
                            "more than {MAX_RECOVERY_SYMBOL_IDS} symbol IDs in one request"
                        ));
                    }
                    ids.push(value.parse::<SymbolId>()?);
                }
                _ => {}
            }
        }
        match (target_sliver, target_type, ids.is_empty()) {
            (Some(target_sliver), Some(target_type), true) if proof_axis.is_none() => {
                Ok(Self::Target(RecoverySymbolsQuery {
                    target_sliver,
                    target_type,
                }))
            }
            (None, None, false) => {
                ids.sort_unstable();
                ids.dedup();
                Ok(Self::Ids { ids, proof_axis })
            }
            _ => Err(
                "the query must be either targetSliver and targetType, or id (repeated) with an \
                 optional proofAxis"
                    .to_owned(),
            ),
        }
    }
}

/// Most target slivers one request of [`DECODING_SYMBOLS_ENDPOINT`] may name.
pub const MAX_DECODING_SYMBOL_TARGETS: usize = 1_024;

/// The query of [`DECODING_SYMBOLS_ENDPOINT`] (Walrus's `ListDecodingSymbolsQuery`):
/// `targetSlivers` (one or more, as repeated keys or one comma-separated list; each a source
/// sliver of `targetType`: below `n - 2f` for primary, `n - f` for secondary) and
/// `targetType`. The symbols come from the slivers of the other axis that the node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodingSymbolsQuery {
    /// The source slivers to decode, sorted, without duplicates, at least one.
    pub target_slivers: Vec<u16>,
    /// Their axis.
    pub target_type: SliverType,
}

impl DecodingSymbolsQuery {
    /// The URL query string, without the leading `?`.
    pub fn to_query_string(&self) -> String {
        let targets: Vec<String> = self.target_slivers.iter().map(u16::to_string).collect();
        format!(
            "targetSlivers={}&targetType={}",
            targets.join(","),
            self.target_type
        )
    }

    /// Parses the URL query (without `?`); unknown keys are refused.
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut target_slivers = Vec::new();
        let mut target_type = None;
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "targetSlivers" => {
                    for item in value.split(',').filter(|item| !item.is_empty()) {
                        if target_slivers.len() == MAX_DECODING_SYMBOL_TARGETS {
                            return Err(format!(
                                "more than {MAX_DECODING_SYMBOL_TARGETS} target slivers in one \
                                 request"
                            ));
                        }
                        target_slivers.push(
                            item.parse::<u16>()
                                .map_err(|_| format!("invalid targetSlivers '{item}'"))?,
                        );
                    }
                }
                "targetType" => {
                    if target_type.replace(value.parse::<SliverType>()?).is_some() {
                        return Err("query parameter 'targetType' given twice".to_owned());
                    }
                }
                other => return Err(format!("unknown query parameter '{other}'")),
            }
        }
        let target_type = target_type.ok_or("the query needs targetType")?;
        if target_slivers.is_empty() {
            return Err("the query needs at least one targetSlivers".to_owned());
        }
        target_slivers.sort_unstable();
        target_slivers.dedup();
        Ok(Self {
            target_slivers,
            target_type,
        })
    }
}

/// Query parameters of [`DECODING_SYMBOLS_ENDPOINT`] as documented ([`DecodingSymbolsQuery`]
/// parses them).
#[cfg(feature = "openapi")]
#[derive(Debug, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct DecodingSymbolsParams {
    /// The source slivers to decode: repeated, or one comma-separated list (at most 1024).
    #[param(style = Form, explode)]
    pub target_slivers: Vec<u16>,
    /// Their axis; the symbols come from the other axis.
    #[param(inline, value_type = schema::SliverType)]
    pub target_type: SliverType,
}

/// Query parameters of [`RECOVERY_SYMBOLS_ENDPOINT`] as documented: both forms of
/// [`RecoverySymbolsRequest`] (which parses them), every parameter optional.
#[cfg(feature = "openapi")]
#[derive(Debug, Clone, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RecoverySymbolsParams {
    /// Index of the sliver to rebuild, on its own axis (< n_shards); with `targetType`.
    pub target_sliver: Option<u16>,
    /// Axis of the sliver to rebuild; the symbols come from the other axis. With
    /// `targetSliver`.
    #[param(inline, value_type = Option<schema::SliverType>)]
    pub target_type: Option<SliverType>,
    /// The symbols asked, `<primary>-<secondary>`, repeated (`id=3-7&id=3-9`): at most 1024
    /// and at most 16 MiB of answer; instead of `targetSliver` and `targetType`.
    #[param(style = Form, explode, value_type = Option<Vec<String>>)]
    pub id: Option<Vec<String>>,
    /// With `id`: the axis of the sliver whose Merkle tree proves each symbol.
    #[param(inline, value_type = Option<schema::SliverType>)]
    pub proof_axis: Option<SliverType>,
}

/// Concrete path and query of [`RECOVERY_SYMBOLS_ENDPOINT`] in its list form:
/// `...?id=<P-S>&...` and `&proofAxis=<axis>` if given.
pub fn recovery_symbol_ids_path(
    blob_id: &BlobId,
    ids: &[SymbolId],
    proof_axis: Option<SliverType>,
) -> String {
    let mut path = format!("/v1/blobs/{blob_id}/recoverySymbols?");
    let mut separator = "";
    for id in ids {
        path.push_str(&format!("{separator}id={id}"));
        separator = "&";
    }
    if let Some(axis) = proof_axis {
        path.push_str(&format!("{separator}proofAxis={axis}"));
    }
    path
}

// ---------------------------------------------------------------------------------------------
// Envelopes.
// ---------------------------------------------------------------------------------------------

/// The JSON success envelope: `{"success":{"code":<http status>,"data":T}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiSuccess<T> {
    /// The envelope's contents.
    pub success: ApiSuccessBody<T>,
}

/// Contents of [`ApiSuccess`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiSuccessBody<T> {
    /// The HTTP status code of the response.
    pub code: u16,
    /// The payload.
    pub data: T,
}

impl<T> ApiSuccess<T> {
    /// An envelope with the given HTTP status.
    pub fn new(code: u16, data: T) -> Self {
        Self {
            success: ApiSuccessBody { code, data },
        }
    }

    /// An envelope with status 200.
    pub fn ok(data: T) -> Self {
        Self::new(200, data)
    }

    /// The payload.
    pub fn into_data(self) -> T {
        self.success.data
    }
}

/// The JSON error envelope, Google's AIP-193 shape as Walrus answers it (public clients read
/// the reason from `details[0].reason`), with the reason also at the top level:
/// `{"error":{"code":404,"status":"NOT_FOUND","reason":"METADATA_NOT_FOUND","message":"...",
/// "details":[{"@type":"ErrorInfo","reason":"METADATA_NOT_FOUND","domain":"storage.walrus.space","metadata":{}}]}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(example = json!({"error": {
        "code": 404,
        "status": "NOT_FOUND",
        "reason": "METADATA_NOT_FOUND",
        "message": "no metadata stored for blob CmzciFdWJP1IIM-rD3cqXlVBXYM0fpAfHahZBvkaZUI",
        "details": [{
            "@type": "ErrorInfo",
            "reason": "METADATA_NOT_FOUND",
            "domain": ERROR_DOMAIN,
            "metadata": {},
        }],
    }}))
)]
pub struct ApiError {
    /// The envelope's contents.
    pub error: ApiErrorBody,
}

/// Contents of [`ApiError`]. Lenient on input: `status`, `reason` and `message` default to empty
/// and unknown fields are ignored, so errors of newer or foreign servers still parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    /// The HTTP status code of the response.
    pub code: u16,
    /// The gRPC-style canonical status name (`NOT_FOUND`, `INVALID_ARGUMENT`, ...).
    #[serde(default)]
    pub status: String,
    /// The machine-readable reason (an [`ErrorReason`] name, kept as text so unknown reasons
    /// survive).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = ErrorReason))]
    pub reason: String,
    /// Human-readable text.
    #[serde(default)]
    pub message: String,
    /// AIP-193 details: an [`ErrorInfo`] with the reason (what Walrus's clients read).
    #[serde(default)]
    pub details: Vec<ErrorInfo>,
}

/// The `domain` of the [`ErrorInfo`] of every error answer.
pub const ERROR_DOMAIN: &str = "storage.walrus.space";

/// An AIP-193 `ErrorInfo` detail: `{"@type":"ErrorInfo","reason","domain","metadata"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorInfo {
    /// Always `ErrorInfo`.
    #[serde(rename = "@type", default)]
    pub kind: String,
    /// The machine-readable reason, as [`ApiErrorBody::reason`].
    #[serde(default)]
    pub reason: String,
    /// Who defines the reasons: [`ERROR_DOMAIN`].
    #[serde(default)]
    pub domain: String,
    /// Further facts (none so far).
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl ErrorInfo {
    /// The detail of `reason`.
    pub fn new(reason: &str) -> Self {
        Self {
            kind: "ErrorInfo".to_owned(),
            reason: reason.to_owned(),
            domain: ERROR_DOMAIN.to_owned(),
            metadata: std::collections::BTreeMap::new(),
        }
    }
}

impl ApiErrorBody {
    /// The error body for `reason`, with its HTTP status and canonical status name.
    pub fn new(reason: ErrorReason, message: impl Into<String>) -> Self {
        Self::with_status(reason.http_status(), reason.status(), reason, message)
    }

    /// The error body for `reason` with another HTTP status and canonical status name than
    /// the reason's own (e.g. 416 `OUT_OF_RANGE` for a range outside the blob).
    pub fn with_status(
        code: u16,
        status: &str,
        reason: ErrorReason,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            status: status.to_owned(),
            reason: reason.as_str().to_owned(),
            message: message.into(),
            details: vec![ErrorInfo::new(reason.as_str())],
        }
    }

    /// The reason, if this client knows it: the top-level `reason`, else that of the first
    /// `ErrorInfo` detail (as upstream Walrus nodes send it).
    pub fn reason(&self) -> Option<ErrorReason> {
        if !self.reason.is_empty() {
            return self.reason.parse().ok();
        }
        self.details.first()?.reason.parse().ok()
    }
}

impl fmt::Display for ApiErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}): {}",
            self.code, self.status, self.reason, self.message
        )
    }
}

impl ApiError {
    /// The error envelope for `reason`.
    pub fn new(reason: ErrorReason, message: impl Into<String>) -> Self {
        Self {
            error: ApiErrorBody::new(reason, message),
        }
    }

    /// The HTTP status code to answer with.
    pub fn http_status(&self) -> u16 {
        self.error.code
    }

    /// The reason, if this client knows it.
    pub fn reason(&self) -> Option<ErrorReason> {
        self.error.reason()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ApiError {}

macro_rules! error_reasons {
    ($($(#[doc = $doc:literal])* $variant:ident = ($name:literal, $code:literal, $status:literal),)*) => {
        /// Why a request failed: the machine-readable `reason` of an [`ApiError`]. Serde and
        /// `Display` use the SCREAMING_SNAKE_CASE name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum ErrorReason {
            $($(#[doc = $doc])* $variant,)*
        }

        /// The names, with each one's HTTP status, canonical status and meaning.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for ErrorReason {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($name,)*]))
                    .description(Some(concat!(
                        "Machine-readable reason (HTTP status, canonical status):",
                        $("\n- `", $name, "` (", $code, ", ", $status, "):", $($doc,)*)*
                    )))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for ErrorReason {}

        impl ErrorReason {
            /// Every reason.
            pub const ALL: &'static [ErrorReason] = &[$(ErrorReason::$variant,)*];

            /// The wire name (`METADATA_NOT_FOUND`, ...).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorReason::$variant => $name,)*
                }
            }

            /// The HTTP status code of this reason.
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorReason::$variant => $code,)*
                }
            }

            /// The gRPC-style canonical status name of this reason.
            pub fn status(self) -> &'static str {
                match self {
                    $(ErrorReason::$variant => $status,)*
                }
            }

            /// What the reason means (its documentation), for the OpenAPI documents.
            #[cfg(feature = "openapi")]
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorReason::$variant => concat!($($doc),*).trim_ascii_start(),)*
                }
            }
        }

        impl FromStr for ErrorReason {
            type Err = UnknownErrorReason;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($name => Ok(ErrorReason::$variant),)*
                    other => Err(UnknownErrorReason(other.to_owned())),
                }
            }
        }
    };
}

error_reasons! {
    /// The request is malformed (bad path parameter, query or body).
    InvalidRequest = ("INVALID_REQUEST", 400, "INVALID_ARGUMENT"),
    /// The blob is not registered on chain (or not yet seen by the node).
    NotRegistered = ("NOT_REGISTERED", 400, "FAILED_PRECONDITION"),
    /// The blob's storage has expired.
    BlobExpired = ("BLOB_EXPIRED", 400, "FAILED_PRECONDITION"),
    /// The metadata do not verify (hash count, length, blob ID).
    InvalidMetadata = ("INVALID_METADATA", 400, "INVALID_ARGUMENT"),
    /// The sliver does not verify against the stored metadata.
    InvalidSliver = ("INVALID_SLIVER", 400, "INVALID_ARGUMENT"),
    /// The sliver's index does not belong to the pair in the path.
    SliverIndexMismatch = ("SLIVER_INDEX_MISMATCH", 400, "INVALID_ARGUMENT"),
    /// The pair's shard is not held by this node in the current epoch.
    ShardNotAssigned = ("SHARD_NOT_ASSIGNED", 400, "FAILED_PRECONDITION"),
    /// The node lacks slivers of its shards, so it does not sign a confirmation.
    MissingSlivers = ("MISSING_SLIVERS", 400, "FAILED_PRECONDITION"),
    /// The request is for another epoch than the node's current one (the committee changed:
    /// refresh it and retry).
    InvalidEpoch = ("INVALID_EPOCH", 400, "FAILED_PRECONDITION"),
    /// The request is not signed by a node allowed to make it (e.g. a shard sync not signed
    /// by the shard's owner in the current epoch).
    Unauthorized = ("UNAUTHORIZED", 403, "PERMISSION_DENIED"),
    /// The inconsistency proof does not verify.
    InvalidProof = ("INVALID_PROOF", 400, "INVALID_ARGUMENT"),
    /// The node has no metadata for the blob.
    MetadataNotFound = ("METADATA_NOT_FOUND", 404, "NOT_FOUND"),
    /// The node does not hold the sliver.
    SliverNotFound = ("SLIVER_NOT_FOUND", 404, "NOT_FOUND"),
    /// Anything else that does not exist (blob, route).
    NotFound = ("NOT_FOUND", 404, "NOT_FOUND"),
    /// The node's buffer of uploads made before their registration (`?pending=true`) is full;
    /// retry once the registration is on chain.
    CacheSaturated = ("CACHE_SATURATED", 400, "FAILED_PRECONDITION"),
    /// The byte range asked for is empty or not within the blob (aggregator's `byte-range`).
    InvalidByteRange = ("INVALID_BYTE_RANGE", 400, "INVALID_ARGUMENT"),
    /// The quilt has no patch of that identifier (aggregator).
    QuiltPatchNotFound = ("QUILT_PATCH_NOT_FOUND", 404, "NOT_FOUND"),
    /// The blob was certified invalid: its data is never served.
    BlobInvalid = ("BLOB_INVALID", 410, "FAILED_PRECONDITION"),
    /// The route exists but not with this HTTP method.
    MethodNotAllowed = ("METHOD_NOT_ALLOWED", 405, "UNIMPLEMENTED"),
    /// The request body exceeds the route's limit.
    PayloadTooLarge = ("PAYLOAD_TOO_LARGE", 413, "INVALID_ARGUMENT"),
    /// The request body has a content type the route does not accept.
    UnsupportedMediaType = ("UNSUPPORTED_MEDIA_TYPE", 415, "INVALID_ARGUMENT"),
    /// The request body did not arrive within the node's deadline.
    RequestTimeout = ("REQUEST_TIMEOUT", 408, "DEADLINE_EXCEEDED"),
    /// Too many requests; retry later.
    RateLimited = ("RATE_LIMITED", 429, "RESOURCE_EXHAUSTED"),
    /// The node cannot serve now (starting, syncing, shutting down); retry later.
    Unavailable = ("UNAVAILABLE", 503, "UNAVAILABLE"),
    /// A bug or storage failure on the node.
    Internal = ("INTERNAL", 500, "INTERNAL"),
}

impl ErrorReason {
    /// The error envelope for this reason.
    pub fn to_api_error(self, message: impl Into<String>) -> ApiError {
        ApiError::new(self, message)
    }

    /// Whether this reason says the requested item does not exist on the node.
    pub fn is_not_found(self) -> bool {
        matches!(
            self,
            ErrorReason::MetadataNotFound
                | ErrorReason::SliverNotFound
                | ErrorReason::NotFound
                | ErrorReason::QuiltPatchNotFound
        )
    }
}

impl fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reason name this client does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error reason '{0}'")]
pub struct UnknownErrorReason(pub String);

// ---------------------------------------------------------------------------------------------
// Status types.
// ---------------------------------------------------------------------------------------------

/// The answer to a shard sync ([`SYNC_SHARD_ENDPOINT`]): `(blob ID, sliver)` pairs in
/// increasing blob-ID order, each blob at most once (unverified: the requester checks every
/// sliver against the blob's metadata and the pair its shard holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncShardResponse {
    /// Version 1.
    V1(Vec<(BlobId, Sliver)>),
}

impl SyncShardResponse {
    /// The slivers.
    pub fn into_slivers(self) -> Vec<(BlobId, Sliver)> {
        match self {
            SyncShardResponse::V1(slivers) => slivers,
        }
    }
}

/// Whether a node stores an item (metadata or a sliver). JSON: `"nonexistent"` / `"stored"` /
/// `"buffered"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum StoredOnNodeStatus {
    /// The node does not have it.
    Nonexistent,
    /// The node has it.
    Stored,
    /// The node holds it in memory until it sees the blob's registration (an upload with
    /// `?pending=true`).
    Buffered,
}

/// How an upload is treated if the node has not seen the blob's registration yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadIntent {
    /// Wait a little for the registration, then refuse (NOT_REGISTERED).
    #[default]
    Immediate,
    /// Verify and buffer it until the registration is seen (`?pending=true`, 202).
    Pending,
}

/// The query of `PUT` metadata and sliver (Walrus's `UploadIntentQuery`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(default, deny_unknown_fields)]
pub struct UploadIntentQuery {
    /// `true`: if the blob's registration is not seen yet, verify and buffer the upload
    /// (bounded, in memory) until it is, answering 202.
    pub pending: Option<bool>,
}

impl UploadIntentQuery {
    /// The intent the query asks for.
    pub fn intent(self) -> UploadIntent {
        if self.pending.unwrap_or(false) {
            UploadIntent::Pending
        } else {
            UploadIntent::Immediate
        }
    }
}

/// The query of the confirmation routes (Walrus's `ConfirmationWaitQuery`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(default)]
pub struct ConfirmationWaitQuery {
    /// If uploads of the blob are buffered pending its registration, wait for the
    /// registration (up to `wait_millis`, at most the node's limit) before answering.
    pub wait_for_registration: bool,
    /// The longest wait, in milliseconds (default and cap: the node's limit, 5 s by default).
    pub wait_millis: Option<u64>,
}

impl StoredOnNodeStatus {
    /// Whether the item is stored.
    pub fn is_stored(self) -> bool {
        self == StoredOnNodeStatus::Stored
    }
}

/// The digest of a Sui transaction: 32 bytes, written in JSON as Sui writes it (base58).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TransactionDigest(pub [u8; 32]);

impl fmt::Display for TransactionDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

impl FromStr for TransactionDigest {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // 32 bytes are at most 44 base58 characters: refuse longer text before decoding.
        if text.len() > 44 {
            return Err(format!(
                "a transaction digest is at most 44 characters, got {}",
                text.len()
            ));
        }
        let mut bytes = [0u8; 32];
        let written = bs58::decode(text)
            .onto(&mut bytes)
            .map_err(|error| format!("invalid transaction digest {text:?}: {error}"))?;
        if written != 32 {
            return Err(format!(
                "a transaction digest has 32 bytes, {text:?} has {written}"
            ));
        }
        Ok(Self(bytes))
    }
}

impl Serialize for TransactionDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for TransactionDigest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
            text.parse().map_err(serde::de::Error::custom)
        } else {
            Ok(Self(<[u8; 32]>::deserialize(deserializer)?))
        }
    }
}

/// A chain event as Sui identifies it: the transaction that emitted it and its index among
/// that transaction's events. JSON as Walrus's (Sui's `EventID`):
/// `{"txDigest":"<base58>","eventSeq":"<decimal u64>"}`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventId {
    /// The digest of the transaction that emitted the event (base58).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub tx_digest: TransactionDigest,
    /// The index of the event among the transaction's events (a decimal string in JSON).
    #[serde(with = "u64_as_decimal_string")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub event_seq: u64,
}

/// A `u64` as a decimal string in human-readable formats (as Sui writes `eventSeq`), a plain
/// integer otherwise; a JSON number is also accepted.
mod u64_as_decimal_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(value)
        } else {
            serializer.serialize_u64(*value)
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Number(u64),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        if !deserializer.is_human_readable() {
            return u64::deserialize(deserializer);
        }
        match TextOrNumber::deserialize(deserializer)? {
            TextOrNumber::Text(text) => text.parse().map_err(serde::de::Error::custom),
            TextOrNumber::Number(value) => Ok(value),
        }
    }
}

/// A position in the chain's event sequence: a checkpoint and the index of the event among
/// the checkpoint's events (where a node's event follower stands).
/// JSON: `{"checkpoint":1,"eventIndex":2}`. Ordered by checkpoint, then index.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventCursor {
    /// Sequence number of the checkpoint holding the event.
    pub checkpoint: u64,
    /// Index of the event among the checkpoint's events.
    pub event_index: u64,
}

/// Counts of the deletable blob objects of a blob ID. The field names stay snake_case in JSON
/// (as in Walrus). Ordered by total, then certified.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletableCounts {
    /// Live deletable blob objects registered for the blob ID.
    pub count_deletable_total: u32,
    /// Of those, the certified ones.
    pub count_deletable_certified: u32,
}

/// The status of a blob ID as a node sees it on chain. JSON, externally tagged:
/// `"nonexistent"` | `{"invalid":{"event":...}}` |
/// `{"permanent":{"endEpoch","isCertified","statusEvent","deletableCounts","initialCertifiedEpoch"}}` |
/// `{"deletable":{"initialCertifiedEpoch","deletableCounts"}}`.
///
/// Clients pick the "latest" status across nodes with [`BlobStatus::rank_key`] /
/// [`BlobStatus::cmp_rank`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum BlobStatus {
    /// No live registration of the blob ID.
    Nonexistent,
    /// The blob ID was certified invalid.
    #[cfg_attr(feature = "openapi", schema(rename_all = "camelCase"))]
    Invalid {
        /// The event that marked it invalid.
        event: EventId,
    },
    /// At least one permanent blob object is registered.
    #[cfg_attr(feature = "openapi", schema(rename_all = "camelCase"))]
    Permanent {
        /// Latest end epoch of the permanent objects.
        #[cfg_attr(feature = "openapi", schema(value_type = u32))]
        end_epoch: Epoch,
        /// Whether a permanent object with that end epoch is certified.
        is_certified: bool,
        /// The event that set this status.
        status_event: EventId,
        /// The deletable objects of the same blob ID.
        deletable_counts: DeletableCounts,
        /// Earliest epoch in which any object of the blob ID was certified.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
        initial_certified_epoch: Option<Epoch>,
    },
    /// Only deletable blob objects are registered.
    #[cfg_attr(feature = "openapi", schema(rename_all = "camelCase"))]
    Deletable {
        /// Earliest epoch in which a deletable object was certified.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
        initial_certified_epoch: Option<Epoch>,
        /// The deletable objects.
        deletable_counts: DeletableCounts,
    },
}

/// The comparable rank of a [`BlobStatus`] (see [`BlobStatus::rank_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BlobStatusRank {
    kind: u8,
    is_certified: bool,
    end_epoch: Epoch,
    deletable_counts: DeletableCounts,
    initial_certified_epoch: Option<Reverse<Epoch>>,
}

impl BlobStatus {
    /// The key of the total order clients use to pick the "latest" status across nodes:
    /// nonexistent < deletable (by counts, then a certified epoch over none, the earlier
    /// certified epoch ranking higher) < permanent (by `isCertified`, `endEpoch`, counts) <
    /// invalid. Statuses with equal keys are equally recent.
    pub fn rank_key(&self) -> BlobStatusRank {
        let base = BlobStatusRank {
            kind: 0,
            is_certified: false,
            end_epoch: 0,
            deletable_counts: DeletableCounts::default(),
            initial_certified_epoch: None,
        };
        match *self {
            BlobStatus::Nonexistent => base,
            BlobStatus::Deletable {
                initial_certified_epoch,
                deletable_counts,
            } => BlobStatusRank {
                kind: 1,
                deletable_counts,
                initial_certified_epoch: initial_certified_epoch.map(Reverse),
                ..base
            },
            BlobStatus::Permanent {
                end_epoch,
                is_certified,
                deletable_counts,
                ..
            } => BlobStatusRank {
                kind: 2,
                is_certified,
                end_epoch,
                deletable_counts,
                ..base
            },
            BlobStatus::Invalid { .. } => BlobStatusRank { kind: 3, ..base },
        }
    }

    /// Compares two statuses by [`BlobStatus::rank_key`].
    pub fn cmp_rank(&self, other: &Self) -> std::cmp::Ordering {
        self.rank_key().cmp(&other.rank_key())
    }

    /// Whether the blob is certified: a certified permanent object, or a certified deletable
    /// object.
    pub fn is_certified(&self) -> bool {
        match self {
            BlobStatus::Permanent { is_certified, .. } => *is_certified,
            BlobStatus::Deletable {
                deletable_counts, ..
            } => deletable_counts.count_deletable_certified > 0,
            BlobStatus::Nonexistent | BlobStatus::Invalid { .. } => false,
        }
    }

    /// The earliest epoch in which the blob was certified, if known.
    pub fn initial_certified_epoch(&self) -> Option<Epoch> {
        match self {
            BlobStatus::Permanent {
                initial_certified_epoch,
                ..
            }
            | BlobStatus::Deletable {
                initial_certified_epoch,
                ..
            } => *initial_certified_epoch,
            BlobStatus::Nonexistent | BlobStatus::Invalid { .. } => None,
        }
    }
}

/// Progress of the node's chain event processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventProgress {
    /// Events processed and persisted since genesis (Walrus's field).
    pub persisted: u64,
    /// Events received but not yet processed (Walrus's field; always 0 here: a checkpoint's
    /// events are applied in one transaction when they arrive).
    pub pending: u64,
    /// Index of the last event processed, counting from 0 at genesis (Walrus's field).
    pub highest_finished_event_index: Option<u64>,
    /// Events processed since genesis (as `persisted`).
    pub events_processed: u64,
    /// The position of the last event processed, if any.
    pub last_cursor: Option<EventCursor>,
}

impl EventProgress {
    /// The progress after `events_processed` events, the last one at `last_cursor`.
    pub fn new(events_processed: u64, last_cursor: Option<EventCursor>) -> Self {
        Self {
            persisted: events_processed,
            pending: 0,
            highest_finished_event_index: events_processed.checked_sub(1),
            events_processed,
            last_cursor,
        }
    }
}

/// A shard's state on a node (Walrus's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ShardStatus {
    /// Not known.
    Unknown,
    /// Held and serving.
    Ready,
    /// Gained this epoch, its slivers still being pulled from the previous owner.
    InTransfer,
    /// Gained this epoch, its missing slivers being recovered from other nodes.
    InRecovery,
    /// Given away this epoch, still served until the epoch change is done.
    ReadOnly,
}

/// How many of the node's shards are in each state (`ownedShardStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OwnedShardStatus {
    /// Shards of unknown state.
    pub unknown: usize,
    /// Ready shards.
    pub ready: usize,
    /// Shards being transferred.
    pub in_transfer: usize,
    /// Shards being recovered.
    pub in_recovery: usize,
}

/// The node's shards by state (Walrus's `shardSummary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ShardStatusSummary {
    /// Shards held in the current epoch.
    pub owned: usize,
    /// Those by state.
    pub owned_shard_status: OwnedShardStatus,
    /// Shards given away this epoch and still served.
    pub read_only: usize,
}

/// One shard and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ShardHealthInfo {
    /// The shard.
    pub shard: u16,
    /// Its state.
    pub status: ShardStatus,
}

/// Every shard of the node with its state (`?detailed=true`; Walrus's `shardDetail`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ShardStatusDetail {
    /// The shards held in the current epoch.
    pub owned: Vec<ShardHealthInfo>,
    /// Other shards the node still serves (read-only).
    pub other: Vec<ShardHealthInfo>,
}

/// The answer of [`HEALTH_ENDPOINT`]: Walrus's fields (`uptime` as `{"secs","nanos"}`,
/// `epoch`, `publicKey`, `nodeStatus` `"Active"` or `"Standby"`, `eventProgress`,
/// `shardSummary`, `shardDetail` with `?detailed=true`, `latestCheckpointSequenceNumber`) and
/// ours (`uptimeSecs`, `nodeId`, `shards`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceHealthInfo {
    /// Time since the node started (`{"secs","nanos"}`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub uptime: std::time::Duration,
    /// Seconds since the node started.
    pub uptime_secs: u64,
    /// The node's current epoch.
    #[cfg_attr(feature = "openapi", schema(value_type = u32))]
    pub epoch: Epoch,
    /// Standard (padded) base64 of the node's 48-byte BLS public key.
    pub public_key: String,
    /// The node's ID (its staking pool object, `0x` + hex).
    pub node_id: String,
    /// `"Active"` (a committee member) or `"Standby"`.
    pub node_status: String,
    /// Chain event processing progress.
    pub event_progress: EventProgress,
    /// The node's shards by state.
    pub shard_summary: ShardStatusSummary,
    /// Every shard with its state, when asked (`?detailed=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_detail: Option<ShardStatusDetail>,
    /// The checkpoint of the last event processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_checkpoint_sequence_number: Option<u64>,
    /// The shards the node holds in the current epoch.
    pub shards: Vec<u16>,
}

/// The query of [`HEALTH_ENDPOINT`].
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(default)]
pub struct HealthQuery {
    /// Include every shard with its state (`shardDetail`).
    pub detailed: bool,
}

/// The status of a node in the committee ([`ServiceHealthInfo::node_status`]).
pub const NODE_STATUS_ACTIVE: &str = "Active";
/// The status of a node outside the committee ([`ServiceHealthInfo::node_status`]).
pub const NODE_STATUS_STANDBY: &str = "Standby";

impl ServiceHealthInfo {
    /// The text form of a BLS public key used in [`ServiceHealthInfo::public_key`].
    pub fn encode_public_key(public_key: &PublicKey) -> String {
        STANDARD.encode(AsRef::<[u8]>::as_ref(public_key))
    }

    /// Decodes [`ServiceHealthInfo::public_key`].
    pub fn decode_public_key(&self) -> Result<PublicKey, String> {
        let bytes = STANDARD
            .decode(self.public_key.trim())
            .map_err(|error| format!("public key is not base64: {error}"))?;
        walrus_core::crypto::public_key_from_bytes(&bytes)
            .map_err(|error| format!("invalid BLS public key: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use serde::de::DeserializeOwned;
    use walrus_core::{
        crypto::ProtocolKeyPair,
        messages::{BlobPersistenceType, Confirmation, InvalidBlobIdMsg, StorageConfirmation},
    };

    use super::*;

    const BLOB_ID_TEXT: &str = "CmzciFdWJP1IIM-rD3cqXlVBXYM0fpAfHahZBvkaZUI";

    fn blob_id() -> BlobId {
        BLOB_ID_TEXT.parse().unwrap()
    }

    /// Serializes to exactly `golden` and parses back to `value`.
    fn assert_golden<T>(value: &T, golden: &str)
    where
        T: Serialize + DeserializeOwned + PartialEq + fmt::Debug,
    {
        assert_eq!(serde_json::to_string(value).unwrap(), golden);
        assert_eq!(&serde_json::from_str::<T>(golden).unwrap(), value);
    }

    /// An event of the transaction whose digest is 32 bytes of `digest_byte`.
    fn event(digest_byte: u8, event_seq: u64) -> EventId {
        EventId {
            tx_digest: TransactionDigest([digest_byte; 32]),
            event_seq,
        }
    }

    fn counts(total: u32, certified: u32) -> DeletableCounts {
        DeletableCounts {
            count_deletable_total: total,
            count_deletable_certified: certified,
        }
    }

    fn permanent(end_epoch: Epoch, is_certified: bool, deletable: DeletableCounts) -> BlobStatus {
        BlobStatus::Permanent {
            end_epoch,
            is_certified,
            status_event: event(1, 0),
            deletable_counts: deletable,
            initial_certified_epoch: None,
        }
    }

    fn deletable(epoch: Option<Epoch>, deletable: DeletableCounts) -> BlobStatus {
        BlobStatus::Deletable {
            initial_certified_epoch: epoch,
            deletable_counts: deletable,
        }
    }

    #[test]
    fn route_templates_and_paths() {
        let id = blob_id();
        let base = format!("/v1/blobs/{BLOB_ID_TEXT}");
        assert_eq!(metadata_path(&id), format!("{base}/metadata"));
        assert_eq!(metadata_status_path(&id), format!("{base}/metadata/status"));
        assert_eq!(
            sliver_path(&id, SliverPairIndex(7), SliverType::Primary),
            format!("{base}/slivers/7/primary")
        );
        assert_eq!(
            sliver_status_path(&id, SliverPairIndex(65535), SliverType::Secondary),
            format!("{base}/slivers/65535/secondary/status")
        );
        assert_eq!(
            permanent_confirmation_path(&id),
            format!("{base}/confirmation/permanent")
        );
        let object = ObjectId([0xab; 32]);
        let object_text = format!("0x{}", "ab".repeat(32));
        assert_eq!(
            deletable_confirmation_path(&id, &object),
            format!("{base}/confirmation/deletable/{object_text}")
        );
        assert_eq!(
            confirmation_path(&id, None),
            permanent_confirmation_path(&id)
        );
        assert_eq!(
            confirmation_path(&id, Some(&object)),
            deletable_confirmation_path(&id, &object)
        );
        assert_eq!(
            recovery_symbols_path(&id, SliverIndex(12), SliverType::Secondary),
            format!("{base}/recoverySymbols?targetSliver=12&targetType=secondary")
        );
        assert_eq!(
            inconsistency_proof_path(&id, SliverType::Primary),
            format!("{base}/inconsistencyProof/primary")
        );
        assert_eq!(blob_status_path(&id), format!("{base}/status"));
        assert_eq!(health_path(), "/v1/health");
        assert_eq!(api_docs_path(), "/v1/api");
        assert_eq!(metrics_path(), "/metrics");

        // Each builder fills its template.
        let fill = |template: &str| {
            template
                .replace("{blob_id}", BLOB_ID_TEXT)
                .replace("{sliver_pair_index}", "7")
                .replace("{sliver_type}", "primary")
                .replace("{object_id}", &object_text)
        };
        assert_eq!(fill(METADATA_ENDPOINT), metadata_path(&id));
        assert_eq!(fill(METADATA_STATUS_ENDPOINT), metadata_status_path(&id));
        let pair = SliverPairIndex(7);
        assert_eq!(
            fill(SLIVER_ENDPOINT),
            sliver_path(&id, pair, SliverType::Primary)
        );
        assert_eq!(
            fill(SLIVER_STATUS_ENDPOINT),
            sliver_status_path(&id, pair, SliverType::Primary)
        );
        assert_eq!(
            fill(PERMANENT_CONFIRMATION_ENDPOINT),
            permanent_confirmation_path(&id)
        );
        assert_eq!(
            fill(DELETABLE_CONFIRMATION_ENDPOINT),
            deletable_confirmation_path(&id, &object)
        );
        assert!(
            recovery_symbols_path(&id, SliverIndex(0), SliverType::Primary)
                .starts_with(&format!("{}?", fill(RECOVERY_SYMBOLS_ENDPOINT)))
        );
        assert_eq!(
            fill(INCONSISTENCY_PROOF_ENDPOINT),
            inconsistency_proof_path(&id, SliverType::Primary)
        );
        assert_eq!(fill(BLOB_STATUS_ENDPOINT), blob_status_path(&id));
    }

    #[test]
    fn recovery_symbols_query_json() {
        let query = RecoverySymbolsQuery {
            target_sliver: 3,
            target_type: SliverType::Primary,
        };
        assert_golden(&query, r#"{"targetSliver":3,"targetType":"primary"}"#);
        assert_eq!(query.to_query_string(), "targetSliver=3&targetType=primary");
        assert_eq!(query.target_index(), SliverIndex(3));
    }

    #[test]
    fn recovery_symbols_requests_parse_in_both_forms() {
        let target = RecoverySymbolsRequest::parse(Some("targetSliver=3&targetType=secondary"));
        assert_eq!(
            target,
            Ok(RecoverySymbolsRequest::Target(RecoverySymbolsQuery {
                target_sliver: 3,
                target_type: SliverType::Secondary,
            }))
        );
        let id = |p, s| SymbolId::new(SliverIndex(p), SliverIndex(s));
        // Sorted, duplicates dropped, unknown parameters ignored.
        let ids = RecoverySymbolsRequest::parse(Some("id=9-2&id=3-7&x=1&id=3-7&proofAxis=primary"));
        assert_eq!(
            ids,
            Ok(RecoverySymbolsRequest::Ids {
                ids: vec![id(3, 7), id(9, 2)],
                proof_axis: Some(SliverType::Primary),
            })
        );
        assert_eq!(
            RecoverySymbolsRequest::parse(Some("id=0-65535")),
            Ok(RecoverySymbolsRequest::Ids {
                ids: vec![id(0, 65_535)],
                proof_axis: None,
            })
        );
        // The path builder's query parses back.
        let path = recovery_symbol_ids_path(&blob_id(), &[id(3, 7), id(9, 2)], None);
        assert!(path.ends_with("/recoverySymbols?id=3-7&id=9-2"), "{path}");
        let query = path.split_once('?').map(|(_, query)| query);
        assert_eq!(
            RecoverySymbolsRequest::parse(query),
            Ok(RecoverySymbolsRequest::Ids {
                ids: vec![id(3, 7), id(9, 2)],
                proof_axis: None,
            })
        );
        assert_eq!(id(17, 21).to_string(), "17-21");
        assert_eq!("17-21".parse::<SymbolId>(), Ok(id(17, 21)));
        assert_eq!(
            SymbolId::for_target(SliverIndex(4), SliverType::Secondary, SliverIndex(8)),
            id(8, 4)
        );
        assert_eq!(id(8, 4).sliver_index(SliverType::Secondary), SliverIndex(4));
        // Refused: no query, mixed forms, a lone half, bad values, repeats, too many IDs.
        for bad in [
            None,
            Some(""),
            Some("targetSliver=3"),
            Some("targetSliver=3&targetType=primary&id=1-2"),
            Some("targetSliver=3&targetType=primary&proofAxis=primary"),
            Some("proofAxis=primary"),
            Some("id=1"),
            Some("id=1-"),
            Some("id=-1-2"),
            Some("id=1-70000"),
            Some("id=1-2&proofAxis=diagonal"),
            Some("id=1-2&proofAxis=primary&proofAxis=primary"),
            Some("targetSliver=3&targetSliver=4&targetType=primary"),
            Some("targetSliver=x&targetType=primary"),
        ] {
            assert!(RecoverySymbolsRequest::parse(bad).is_err(), "{bad:?}");
        }
        let most = vec!["id=1-2"; MAX_RECOVERY_SYMBOL_IDS].join("&");
        assert!(RecoverySymbolsRequest::parse(Some(&most)).is_ok());
        assert!(RecoverySymbolsRequest::parse(Some(&format!("{most}&id=1-2"))).is_err());
    }

    #[test]
    fn symbol_ids_per_request_fit_the_answer_budget() {
        let config = walrus_core::encoding::EncodingConfig::new(100).unwrap();
        let small = config.blob_layout(10_000).unwrap();
        assert_eq!(max_symbol_ids_per_request(&small), MAX_RECOVERY_SYMBOL_IDS);
        let large = config.blob_layout(config.max_blob_size()).unwrap();
        let most = max_symbol_ids_per_request(&large);
        assert!(most < MAX_RECOVERY_SYMBOL_IDS);
        assert!(
            most * walrus_core::bounded::max_recovery_symbol_len(&large)
                <= MAX_RECOVERY_SYMBOL_LIST_BYTES
        );
    }

    #[test]
    fn path_params_json() {
        let object = ObjectId([1; 32]);
        assert_golden(
            &SliverPath {
                blob_id: blob_id(),
                sliver_pair_index: SliverPairIndex(4),
                sliver_type: SliverType::Secondary,
            },
            &format!(
                r#"{{"blob_id":"{BLOB_ID_TEXT}","sliver_pair_index":4,"sliver_type":"secondary"}}"#
            ),
        );
        assert_golden(
            &DeletableConfirmationPath {
                blob_id: blob_id(),
                object_id: object,
            },
            &format!(r#"{{"blob_id":"{BLOB_ID_TEXT}","object_id":"{object}"}}"#),
        );
        assert_golden(
            &BlobIdPath { blob_id: blob_id() },
            &format!(r#"{{"blob_id":"{BLOB_ID_TEXT}"}}"#),
        );
        assert_golden(
            &InconsistencyProofPath {
                blob_id: blob_id(),
                sliver_type: SliverType::Primary,
            },
            &format!(r#"{{"blob_id":"{BLOB_ID_TEXT}","sliver_type":"primary"}}"#),
        );
    }

    #[test]
    fn api_success_json() {
        assert_golden(
            &ApiSuccess::ok(StoredOnNodeStatus::Stored),
            r#"{"success":{"code":200,"data":"stored"}}"#,
        );
        assert_golden(
            &ApiSuccess::new(201, StoredOnNodeStatus::Nonexistent),
            r#"{"success":{"code":201,"data":"nonexistent"}}"#,
        );
        assert_eq!(
            ApiSuccess::ok(5u32).into_data(),
            5,
            "into_data unwraps the payload"
        );
    }

    #[test]
    fn storage_confirmation_envelope_json() {
        let key = ProtocolKeyPair::from_seed([4; 32]);
        let signed = key.sign_message(&Confirmation::for_blob(
            3,
            blob_id(),
            BlobPersistenceType::Permanent,
        ));
        let golden = format!(
            r#"{{"success":{{"code":200,"data":{{"signed":{{"serializedMessage":"{}","signature":"{}"}}}}}}}}"#,
            STANDARD.encode(&signed.serialized_message),
            STANDARD.encode(AsRef::<[u8]>::as_ref(&signed.signature)),
        );
        assert_golden(
            &ApiSuccess::ok(StorageConfirmation::Signed(signed)),
            &golden,
        );
    }

    #[test]
    fn invalid_blob_attestation_envelope_json() {
        let key = ProtocolKeyPair::from_seed([5; 32]);
        let signed = key.sign_message(&InvalidBlobIdMsg::new(9, blob_id()));
        let golden = format!(
            r#"{{"success":{{"code":200,"data":{{"serializedMessage":"{}","signature":"{}"}}}}}}"#,
            STANDARD.encode(&signed.serialized_message),
            STANDARD.encode(AsRef::<[u8]>::as_ref(&signed.signature)),
        );
        assert_golden(&ApiSuccess::ok(signed), &golden);
    }

    #[test]
    fn api_error_json() {
        let error = ApiError::new(ErrorReason::MetadataNotFound, "no metadata for the blob");
        assert_golden(
            &error,
            r#"{"error":{"code":404,"status":"NOT_FOUND","reason":"METADATA_NOT_FOUND","message":"no metadata for the blob","details":[{"@type":"ErrorInfo","reason":"METADATA_NOT_FOUND","domain":"storage.walrus.space","metadata":{}}]}}"#,
        );
        assert_eq!(error.reason(), Some(ErrorReason::MetadataNotFound));
        assert_eq!(error.http_status(), 404);
        assert_eq!(
            error.to_string(),
            "404 NOT_FOUND (METADATA_NOT_FOUND): no metadata for the blob"
        );
    }

    #[test]
    fn api_error_tolerates_unknown_reasons_and_fields() {
        let text = r#"{"error":{"code":418,"status":"TEAPOT","reason":"BREWING","message":"m","details":[{"x":1}]}}"#;
        let error: ApiError = serde_json::from_str(text).unwrap();
        assert_eq!(error.error.reason, "BREWING");
        assert_eq!(error.reason(), None);
        assert_eq!(error.http_status(), 418);
        // A Walrus-style error without `reason` still parses.
        let walrus = r#"{"error":{"code":404,"status":"NOT_FOUND","message":"gone","details":[]}}"#;
        let error: ApiError = serde_json::from_str(walrus).unwrap();
        assert_eq!(error.error.reason, "");
        assert_eq!(error.error.message, "gone");
    }

    #[test]
    fn error_reason_mapping() {
        let expected: &[(ErrorReason, &str, u16, &str)] = &[
            (
                ErrorReason::InvalidRequest,
                "INVALID_REQUEST",
                400,
                "INVALID_ARGUMENT",
            ),
            (
                ErrorReason::NotRegistered,
                "NOT_REGISTERED",
                400,
                "FAILED_PRECONDITION",
            ),
            (
                ErrorReason::BlobExpired,
                "BLOB_EXPIRED",
                400,
                "FAILED_PRECONDITION",
            ),
            (
                ErrorReason::InvalidMetadata,
                "INVALID_METADATA",
                400,
                "INVALID_ARGUMENT",
            ),
            (
                ErrorReason::InvalidSliver,
                "INVALID_SLIVER",
                400,
                "INVALID_ARGUMENT",
            ),
            (
                ErrorReason::SliverIndexMismatch,
                "SLIVER_INDEX_MISMATCH",
                400,
                "INVALID_ARGUMENT",
            ),
            (
                ErrorReason::ShardNotAssigned,
                "SHARD_NOT_ASSIGNED",
                400,
                "FAILED_PRECONDITION",
            ),
            (
                ErrorReason::MissingSlivers,
                "MISSING_SLIVERS",
                400,
                "FAILED_PRECONDITION",
            ),
            (
                ErrorReason::InvalidProof,
                "INVALID_PROOF",
                400,
                "INVALID_ARGUMENT",
            ),
            (
                ErrorReason::MetadataNotFound,
                "METADATA_NOT_FOUND",
                404,
                "NOT_FOUND",
            ),
            (
                ErrorReason::SliverNotFound,
                "SLIVER_NOT_FOUND",
                404,
                "NOT_FOUND",
            ),
            (ErrorReason::NotFound, "NOT_FOUND", 404, "NOT_FOUND"),
            (
                ErrorReason::BlobInvalid,
                "BLOB_INVALID",
                410,
                "FAILED_PRECONDITION",
            ),
            (
                ErrorReason::PayloadTooLarge,
                "PAYLOAD_TOO_LARGE",
                413,
                "INVALID_ARGUMENT",
            ),
            (
                ErrorReason::UnsupportedMediaType,
                "UNSUPPORTED_MEDIA_TYPE",
                415,
                "INVALID_ARGUMENT",
            ),
            (
                ErrorReason::MethodNotAllowed,
                "METHOD_NOT_ALLOWED",
                405,
                "UNIMPLEMENTED",
            ),
            (
                ErrorReason::RequestTimeout,
                "REQUEST_TIMEOUT",
                408,
                "DEADLINE_EXCEEDED",
            ),
            (
                ErrorReason::RateLimited,
                "RATE_LIMITED",
                429,
                "RESOURCE_EXHAUSTED",
            ),
            (ErrorReason::Unavailable, "UNAVAILABLE", 503, "UNAVAILABLE"),
            (ErrorReason::Internal, "INTERNAL", 500, "INTERNAL"),
            (
                ErrorReason::QuiltPatchNotFound,
                "QUILT_PATCH_NOT_FOUND",
                404,
                "NOT_FOUND",
            ),
            (
                ErrorReason::InvalidEpoch,
                "INVALID_EPOCH",
                400,
                "FAILED_PRECONDITION",
            ),
            (
                ErrorReason::Unauthorized,
                "UNAUTHORIZED",
                403,
                "PERMISSION_DENIED",
            ),
            (
                ErrorReason::InvalidByteRange,
                "INVALID_BYTE_RANGE",
                400,
                "INVALID_ARGUMENT",
            ),
            (
                ErrorReason::CacheSaturated,
                "CACHE_SATURATED",
                400,
                "FAILED_PRECONDITION",
            ),
        ];
        assert_eq!(expected.len(), ErrorReason::ALL.len());
        for &(reason, name, code, status) in expected {
            assert!(ErrorReason::ALL.contains(&reason));
            assert_eq!(reason.as_str(), name);
            assert_eq!(reason.to_string(), name);
            assert_eq!(
                serde_json::to_string(&reason).unwrap(),
                format!("\"{name}\"")
            );
            assert_eq!(
                serde_json::from_str::<ErrorReason>(&format!("\"{name}\"")).unwrap(),
                reason
            );
            assert_eq!(name.parse::<ErrorReason>().unwrap(), reason);
            assert_eq!(reason.http_status(), code, "{name}");
            assert_eq!(reason.status(), status, "{name}");
            let body = reason.to_api_error("m").error;
            assert_eq!((body.code, body.status.as_str()), (code, status));
            assert_eq!(body.reason(), Some(reason));
            assert_eq!(reason.is_not_found(), code == 404);
        }
        assert_eq!(
            "SOMETHING_NEW".parse::<ErrorReason>(),
            Err(UnknownErrorReason("SOMETHING_NEW".into()))
        );
    }

    #[test]
    fn stored_on_node_status_json() {
        assert_golden(&StoredOnNodeStatus::Nonexistent, r#""nonexistent""#);
        assert_golden(&StoredOnNodeStatus::Stored, r#""stored""#);
        assert!(StoredOnNodeStatus::Stored.is_stored());
        assert!(!StoredOnNodeStatus::Nonexistent.is_stored());
        assert_golden(&StoredOnNodeStatus::Buffered, r#""buffered""#);
        assert!(!StoredOnNodeStatus::Buffered.is_stored());
    }

    #[test]
    fn event_id_and_counts_json() {
        assert_golden(
            &event(1, 2),
            r#"{"txDigest":"4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi","eventSeq":"2"}"#,
        );
        assert_golden(
            &counts(3, 1),
            r#"{"count_deletable_total":3,"count_deletable_certified":1}"#,
        );
        // A number for eventSeq is read too; BCS is the 32 digest bytes and a u64.
        let numeric: EventId = serde_json::from_str(
            r#"{"txDigest":"4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi","eventSeq":9}"#,
        )
        .unwrap();
        assert_eq!(numeric, event(1, 9));
        let bcs_bytes = bcs::to_bytes(&event(1, 9)).unwrap();
        assert_eq!(bcs_bytes.len(), 40);
        assert_eq!(bcs::from_bytes::<EventId>(&bcs_bytes).unwrap(), event(1, 9));
        let cursor = EventCursor {
            checkpoint: 1,
            event_index: 2,
        };
        assert_golden(&cursor, r#"{"checkpoint":1,"eventIndex":2}"#);
    }

    #[test]
    fn decoding_symbols_queries() {
        let parse = |query: &str| DecodingSymbolsQuery::parse(Some(query));
        let query = parse("targetSlivers=3&targetType=primary&targetSlivers=1,3,0").unwrap();
        assert_eq!(query.target_slivers, [0, 1, 3]);
        assert_eq!(query.target_type, SliverType::Primary);
        assert_eq!(
            query.to_query_string(),
            "targetSlivers=0,1,3&targetType=primary"
        );
        assert_eq!(parse(&query.to_query_string()), Ok(query));
        for bad in [
            "",
            "targetType=primary",
            "targetSlivers=1",
            "targetSlivers=x&targetType=primary",
            "targetSlivers=70000&targetType=primary",
            "targetSlivers=1&targetType=diagonal",
            "targetSlivers=1&targetType=primary&targetType=primary",
            "targetSlivers=1&targetType=primary&proofAxis=primary",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let too_many: Vec<String> = (0..=MAX_DECODING_SYMBOL_TARGETS)
            .map(|i| (i % 7).to_string())
            .collect();
        let query = format!("targetSlivers={}&targetType=secondary", too_many.join(","));
        assert!(parse(&query).is_err());
    }

    #[test]
    fn transaction_digests_are_checked() {
        let digest = TransactionDigest([5; 32]);
        assert_eq!(
            digest.to_string(),
            "LbUiWL3xVV8hTFYBVdbTNrpDo41NKS6o3LHHuDzjfcY"
        );
        assert_eq!(
            "LbUiWL3xVV8hTFYBVdbTNrpDo41NKS6o3LHHuDzjfcY".parse::<TransactionDigest>(),
            Ok(digest)
        );
        // The all-zero digest is 32 "1"s in base58.
        assert_eq!(TransactionDigest::default().to_string(), "1".repeat(32));
        for bad in ["", "0OIl", "abc", &"z".repeat(45), &"z".repeat(44)] {
            assert!(bad.parse::<TransactionDigest>().is_err(), "{bad:?}");
        }
        for bad in [
            r#"{"txDigest":"abc","eventSeq":"1"}"#,
            r#"{"txDigest":"LbUiWL3xVV8hTFYBVdbTNrpDo41NKS6o3LHHuDzjfcY","eventSeq":"-1"}"#,
            r#"{"txDigest":"LbUiWL3xVV8hTFYBVdbTNrpDo41NKS6o3LHHuDzjfcY","eventSeq":"x"}"#,
        ] {
            assert!(serde_json::from_str::<EventId>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blob_status_json() {
        assert_golden(&BlobStatus::Nonexistent, r#""nonexistent""#);
        assert_golden(
            &BlobStatus::Invalid { event: event(5, 6) },
            r#"{"invalid":{"event":{"txDigest":"LbUiWL3xVV8hTFYBVdbTNrpDo41NKS6o3LHHuDzjfcY","eventSeq":"6"}}}"#,
        );
        assert_golden(
            &BlobStatus::Permanent {
                end_epoch: 12,
                is_certified: true,
                status_event: event(7, 0),
                deletable_counts: counts(2, 1),
                initial_certified_epoch: Some(4),
            },
            r#"{"permanent":{"endEpoch":12,"isCertified":true,"statusEvent":{"txDigest":"US517G5965aydkZ46HS38QLi7UQiSojurfbQfKCELFx","eventSeq":"0"},"deletableCounts":{"count_deletable_total":2,"count_deletable_certified":1},"initialCertifiedEpoch":4}}"#,
        );
        assert_golden(
            &permanent(3, false, counts(0, 0)),
            r#"{"permanent":{"endEpoch":3,"isCertified":false,"statusEvent":{"txDigest":"4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi","eventSeq":"0"},"deletableCounts":{"count_deletable_total":0,"count_deletable_certified":0},"initialCertifiedEpoch":null}}"#,
        );
        assert_golden(
            &deletable(None, counts(1, 0)),
            r#"{"deletable":{"initialCertifiedEpoch":null,"deletableCounts":{"count_deletable_total":1,"count_deletable_certified":0}}}"#,
        );
        assert_golden(
            &deletable(Some(2), counts(1, 1)),
            r#"{"deletable":{"initialCertifiedEpoch":2,"deletableCounts":{"count_deletable_total":1,"count_deletable_certified":1}}}"#,
        );
        // A missing optional epoch parses as `None`.
        let parsed: BlobStatus = serde_json::from_str(
            r#"{"deletable":{"deletableCounts":{"count_deletable_total":1,"count_deletable_certified":0}}}"#,
        )
        .unwrap();
        assert_eq!(parsed, deletable(None, counts(1, 0)));
    }

    #[test]
    fn blob_status_order() {
        // Ascending: each entry ranks strictly above the previous one.
        let ascending = [
            BlobStatus::Nonexistent,
            deletable(None, counts(1, 0)),
            deletable(Some(9), counts(1, 0)),
            deletable(Some(3), counts(1, 0)),
            deletable(None, counts(1, 1)),
            deletable(Some(5), counts(1, 1)),
            deletable(None, counts(2, 0)),
            permanent(1, false, counts(0, 0)),
            permanent(1, false, counts(1, 0)),
            permanent(9, false, counts(0, 0)),
            permanent(1, true, counts(0, 0)),
            permanent(1, true, counts(0, 1)),
            permanent(1, true, counts(3, 0)),
            permanent(2, true, counts(0, 0)),
            BlobStatus::Invalid { event: event(0, 0) },
        ];
        for (i, lower) in ascending.iter().enumerate() {
            assert_eq!(lower.cmp_rank(lower), Ordering::Equal);
            for higher in &ascending[i + 1..] {
                assert_eq!(
                    lower.cmp_rank(higher),
                    Ordering::Less,
                    "{lower:?} < {higher:?}"
                );
                assert_eq!(higher.cmp_rank(lower), Ordering::Greater);
            }
        }
        // The status event and the permanent blob's initial epoch do not affect the rank.
        let a = permanent(4, true, counts(0, 0));
        let BlobStatus::Permanent {
            end_epoch,
            is_certified,
            deletable_counts,
            ..
        } = a
        else {
            unreachable!()
        };
        let b = BlobStatus::Permanent {
            end_epoch,
            is_certified,
            status_event: event(99, 3),
            deletable_counts,
            initial_certified_epoch: Some(1),
        };
        assert_eq!(a.cmp_rank(&b), Ordering::Equal);
        assert_eq!(
            BlobStatus::Invalid { event: event(1, 0) }
                .cmp_rank(&BlobStatus::Invalid { event: event(2, 0) }),
            Ordering::Equal
        );
        // Picking the latest of several answers.
        let answers = [
            deletable(Some(1), counts(1, 1)),
            permanent(5, true, counts(0, 0)),
            BlobStatus::Nonexistent,
            permanent(5, false, counts(0, 0)),
        ];
        let latest = answers
            .iter()
            .max_by_key(|status| status.rank_key())
            .unwrap();
        assert_eq!(*latest, permanent(5, true, counts(0, 0)));
    }

    #[test]
    fn blob_status_helpers() {
        assert!(permanent(1, true, counts(0, 0)).is_certified());
        assert!(!permanent(1, false, counts(0, 0)).is_certified());
        assert!(deletable(Some(1), counts(1, 1)).is_certified());
        assert!(!deletable(None, counts(1, 0)).is_certified());
        assert!(!BlobStatus::Nonexistent.is_certified());
        assert_eq!(
            deletable(Some(7), counts(1, 1)).initial_certified_epoch(),
            Some(7)
        );
        assert_eq!(BlobStatus::Nonexistent.initial_certified_epoch(), None);
    }

    #[test]
    fn health_info_json() {
        let key = ProtocolKeyPair::from_seed([6; 32]);
        let public_key = ServiceHealthInfo::encode_public_key(key.public());
        assert_eq!(STANDARD.decode(&public_key).unwrap().len(), 48);
        let shard = |shard, status| ShardHealthInfo { shard, status };
        let info = ServiceHealthInfo {
            uptime: std::time::Duration::new(42, 5),
            uptime_secs: 42,
            epoch: 3,
            public_key: public_key.clone(),
            node_id: format!("0x{}", "01".repeat(32)),
            node_status: NODE_STATUS_ACTIVE.into(),
            event_progress: EventProgress::new(
                17,
                Some(EventCursor {
                    checkpoint: 8,
                    event_index: 2,
                }),
            ),
            shard_summary: ShardStatusSummary {
                owned: 3,
                owned_shard_status: OwnedShardStatus {
                    ready: 2,
                    in_transfer: 1,
                    ..OwnedShardStatus::default()
                },
                read_only: 1,
            },
            shard_detail: Some(ShardStatusDetail {
                owned: vec![
                    shard(0, ShardStatus::Ready),
                    shard(5, ShardStatus::InTransfer),
                    shard(9, ShardStatus::Ready),
                ],
                other: vec![shard(2, ShardStatus::ReadOnly)],
            }),
            latest_checkpoint_sequence_number: Some(8),
            shards: vec![0, 5, 9],
        };
        // Walrus's fields and names (upstream `ServiceHealthInfo`), then ours.
        let golden = format!(
            concat!(
                r#"{{"success":{{"code":200,"data":{{"uptime":{{"secs":42,"nanos":5}},"uptimeSecs":42,"epoch":3,"#,
                r#""publicKey":"{public_key}","nodeId":"0x{node_id}","nodeStatus":"Active","#,
                r#""eventProgress":{{"persisted":17,"pending":0,"highestFinishedEventIndex":16,"eventsProcessed":17,"lastCursor":{{"checkpoint":8,"eventIndex":2}}}},"#,
                r#""shardSummary":{{"owned":3,"ownedShardStatus":{{"unknown":0,"ready":2,"inTransfer":1,"inRecovery":0}},"readOnly":1}},"#,
                r#""shardDetail":{{"owned":[{{"shard":0,"status":"ready"}},{{"shard":5,"status":"inTransfer"}},{{"shard":9,"status":"ready"}}],"other":[{{"shard":2,"status":"readOnly"}}]}},"#,
                r#""latestCheckpointSequenceNumber":8,"shards":[0,5,9]}}}}}}"#
            ),
            public_key = public_key,
            node_id = "01".repeat(32)
        );
        assert_golden(&ApiSuccess::ok(info.clone()), &golden);
        assert_eq!(&info.decode_public_key().unwrap(), key.public());
        assert_golden(
            &EventProgress::new(0, None),
            r#"{"persisted":0,"pending":0,"highestFinishedEventIndex":null,"eventsProcessed":0,"lastCursor":null}"#,
        );
        let bad = ServiceHealthInfo {
            public_key: "AAAA".into(),
            ..info
        };
        assert!(bad.decode_public_key().is_err());
    }
}
