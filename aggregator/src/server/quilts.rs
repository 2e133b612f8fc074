//! Quilt reads: a patch by its quilt patch ID or by the quilt's ID and the patch's
//! identifier, and the list of a quilt's patches. Only the patch's own columns are read from
//! the network (see `walrus_sdk::nodes`). A patch is served as a blob is: `ETag` (the quoted
//! patch ID; `If-None-Match` answers 304), immutable caching, `nosniff`, `sandbox`, the
//! content type from a `content-type` tag or sniffed, under the same passive-only rule; the
//! identifier in `X-Quilt-Patch-Identifier`, and the tags named in the aggregator's
//! `--allowed-headers` (every valid one with `--allow-quilt-patch-tags-in-response`) as those
//! headers, never replacing one the aggregator sets.

use axum::{
    extract::{rejection::PathRejection, Path, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;
use walrus_core::{
    quilt::{QuiltPatch, QuiltPatchId},
    BlobId,
};
use walrus_sdk::client::{PatchSelection, ReadPatch};

use super::{
    bad_request, content_headers, header_value, headers_from_pairs, if_none_match, path_param,
    served_content_type, sniff_content_type, AppState, NoneMatch,
};
use crate::{
    error::AggregatorError,
    openapi::{PatchIdPath, PatchIdentifierPath, QuiltPatchAnswers, QuiltPath},
};

/// GET: a patch by its quilt patch ID.
pub const PATCH_BY_ID_ENDPOINT: &str = "/v1/blobs/by-quilt-patch-id/{quilt_patch_id}";
/// GET: a patch by the quilt's ID and the patch's identifier.
pub const PATCH_BY_IDENTIFIER_ENDPOINT: &str = "/v1/blobs/by-quilt-id/{quilt_id}/{identifier}";
/// GET: the patches of a quilt.
pub const PATCHES_ENDPOINT: &str = "/v1/quilts/{quilt_id}/patches";

/// The header holding a served patch's identifier.
pub const PATCH_IDENTIFIER_HEADER: &str = "x-quilt-patch-identifier";

/// The reasons a patch read can fail with.
const PATCH_ERROR_REASONS: [&str; 6] = [
    "INVALID_REQUEST",
    "NOT_FOUND",
    "QUILT_PATCH_NOT_FOUND",
    "BLOB_INVALID",
    "INTERNAL",
    "UNAVAILABLE",
];

/// One patch in the list of `GET /v1/quilts/{quilt_id}/patches` (Walrus's field names).
#[derive(Debug, Serialize, ToSchema)]
pub struct PatchListEntry {
    /// The patch's identifier.
    pub identifier: String,
    /// Its quilt patch ID.
    #[schema(value_type = String)]
    pub patch_id: QuiltPatchId,
    /// Its tags.
    pub tags: std::collections::BTreeMap<String, String>,
}

/// Read a quilt patch by its ID
///
/// The patch's bytes, read from the slivers of its own columns (the whole quilt only if some
/// of them cannot be had). Headers as for a blob, with the patch ID as `ETag`, the identifier
/// in `X-Quilt-Patch-Identifier` and the tags named in `--allowed-headers` (by default
/// `content-type`, `authorization`, `content-disposition`, `content-encoding`,
/// `content-language`, `content-location`, `link`; every tag with
/// `--allow-quilt-patch-tags-in-response`) as those headers.
#[utoipa::path(
    get,
    path = PATCH_BY_ID_ENDPOINT,
    tag = walrus_service::router::BLOBS_TAG,
    operation_id = "getQuiltPatchById",
    params(PatchIdPath),
    responses(QuiltPatchAnswers),
    extensions(("x-error-reasons" = json!(PATCH_ERROR_REASONS)))
)]
pub(super) async fn get_patch_by_id(
    State(state): State<AppState>,
    headers: HeaderMap,
    param: Result<Path<String>, PathRejection>,
) -> Result<Response, AggregatorError> {
    let patch_id: QuiltPatchId = path_param(param, "quilt patch ID")?;
    // The ID names the patch's immutable bytes: a matching ETag needs no read.
    if if_none_match(&headers, &patch_etag(&patch_id)) == NoneMatch::Tag {
        return Ok(not_modified(&patch_id));
    }
    let source = state.reader.source();
    let patch = state
        .reader
        .quilt("quilt_patch", source.quilt_patch(&patch_id))
        .await?;
    Ok(state.serve_patch(patch, &headers))
}

/// Read a quilt patch by identifier
///
/// As by patch ID, for the patch of the quilt `quilt_id` named `identifier` (the quilt's index
/// is read first, from its own columns).
#[utoipa::path(
    get,
    path = PATCH_BY_IDENTIFIER_ENDPOINT,
    tag = walrus_service::router::BLOBS_TAG,
    operation_id = "getQuiltPatchByIdentifier",
    params(PatchIdentifierPath),
    responses(QuiltPatchAnswers),
    extensions(("x-error-reasons" = json!(PATCH_ERROR_REASONS)))
)]
pub(super) async fn get_patch_by_identifier(
    State(state): State<AppState>,
    headers: HeaderMap,
    param: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, AggregatorError> {
    let Path((quilt_id, identifier)) = param
        .map_err(|rejection| bad_request(format!("invalid path: {}", rejection.body_text())))?;
    let quilt_id: BlobId = quilt_id
        .parse()
        .map_err(|error| bad_request(format!("invalid quilt ID '{quilt_id}': {error}")))?;
    let source = state.reader.source();
    let selection = PatchSelection::Identifiers(vec![identifier]);
    let mut patches = state
        .reader
        .quilt("quilt_patch", source.quilt_patches(&quilt_id, &selection))
        .await?;
    let patch = patches.pop().ok_or_else(|| {
        AggregatorError::new(
            walrus_node_client::api::ErrorReason::QuiltPatchNotFound,
            "the requested quilt patch does not exist",
        )
    })?;
    Ok(state.serve_patch(patch, &headers))
}

/// List the patches of a quilt
///
/// Every patch of the quilt's index (read from its own columns): identifier, quilt patch ID
/// and tags, in quilt order.
#[utoipa::path(
    get,
    path = PATCHES_ENDPOINT,
    tag = walrus_service::router::BLOBS_TAG,
    operation_id = "listQuiltPatches",
    params(QuiltPath),
    responses(
        (status = 200, description = "The patches.", body = Vec<PatchListEntry>),
        (status = 400, description = "INVALID_REQUEST: the quilt ID does not parse, or the blob is not a quilt.", body = walrus_node_client::api::ApiError),
        (status = 404, description = "NOT_FOUND: no node knows the blob.", body = walrus_node_client::api::ApiError),
        (status = 410, description = "BLOB_INVALID: the quilt was proven invalid.", body = walrus_node_client::api::ApiError),
        (status = 500, description = "INTERNAL: an unexpected failure.", body = walrus_node_client::api::ApiError),
        (status = 503, description = "UNAVAILABLE: too few storage nodes answered, or the aggregator is at capacity.", body = walrus_node_client::api::ApiError),
    ),
    extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "NOT_FOUND", "BLOB_INVALID", "INTERNAL", "UNAVAILABLE"])))
)]
pub(super) async fn list_patches(
    State(state): State<AppState>,
    param: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<PatchListEntry>>, AggregatorError> {
    let quilt_id: BlobId = path_param(param, "quilt ID")?;
    let source = state.reader.source();
    let index = state
        .reader
        .quilt("quilt_index", source.quilt_index(&quilt_id))
        .await?;
    Ok(Json(
        index
            .patches
            .into_iter()
            .map(|patch: QuiltPatch| PatchListEntry {
                patch_id: patch.patch_id(quilt_id),
                identifier: patch.identifier,
                tags: patch.tags,
            })
            .collect(),
    ))
}

/// A patch's ETag: its quilt patch ID, quoted.
fn patch_etag(patch_id: &QuiltPatchId) -> String {
    format!("\"{patch_id}\"")
}

fn not_modified(patch_id: &QuiltPatchId) -> Response {
    (
        StatusCode::NOT_MODIFIED,
        [(header::ETAG, header_value(patch_etag(patch_id)))],
    )
        .into_response()
}

impl AppState {
    /// The answer carrying `patch`'s bytes and headers, or 304 if the `request`'s
    /// `If-None-Match` names it.
    fn serve_patch(&self, patch: ReadPatch, request: &HeaderMap) -> Response {
        let etag = patch_etag(&patch.patch_id);
        if if_none_match(request, &etag) == NoneMatch::Tag {
            return not_modified(&patch.patch_id);
        }
        let mut headers = content_headers(&etag);
        // Identifiers have no control characters: any of them is a valid header value.
        if let Ok(value) = HeaderValue::from_bytes(patch.file.identifier.as_bytes()) {
            headers.insert(HeaderName::from_static(PATCH_IDENTIFIER_HEADER), value);
        }
        let mut detected = None;
        for (name, value) in headers_from_pairs(
            patch
                .file
                .tags
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
            &self.config.allowed_headers,
            self.config.allow_quilt_patch_tags_in_response,
        ) {
            if name == header::CONTENT_TYPE {
                detected = Some(value);
            } else {
                headers.entry(name).or_insert(value);
            }
        }
        let detected = detected.unwrap_or_else(|| {
            let prefix = &patch.file.contents[..patch.file.contents.len().min(8192)];
            HeaderValue::from_static(sniff_content_type(prefix))
        });
        headers.insert(
            header::CONTENT_TYPE,
            served_content_type(&detected, self.config.allow_active_content),
        );
        (StatusCode::OK, headers, patch.file.contents).into_response()
    }
}
