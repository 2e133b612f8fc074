//! The HTTP API (axum): blob reads by blob ID and by object ID, quilt patches (`quilts`),
//! health, metrics and the
//! OpenAPI document (generated from the handlers' documentation, see [`crate::openapi`]). Every
//! error is the JSON [`ApiError`].
//!
//! Blob answers never carry a content type that a browser executes or renders actively unless
//! [`AggregatorConfig::allow_active_content`] is set ([`served_content_type`]), and always carry
//! `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`.

mod quilts;

use std::{ops::Range, str::FromStr, sync::Arc, time::Instant};

use axum::{
    body::{Body, Bytes},
    extract::{
        rejection::{PathRejection, QueryRejection},
        Path, Query, State,
    },
    http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    Json, Router,
};
use futures::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;
use walrus_core::{encoding::ConsistencyCheck, BlobId, ObjectId};
use walrus_node_client::api::{ApiError, ApiErrorBody, ErrorReason};
use walrus_service::{
    router::{BLOBS_TAG, SERVICE_TAG},
    ServiceRouter,
};

use crate::{
    error::AggregatorError,
    metrics::Metrics,
    openapi::{
        BlobAnswers, BlobHeadAnswers, BlobPath, BlobRequestHeaders, ByteRangeAnswers,
        ByteRangeQuery, ObjectPath, ReadQuery, DESCRIPTION, TITLE,
    },
    range::{parse_range, ByteRange},
    reader::{BlobFacts, BlobReader},
    source::BlobSource,
    AggregatorConfig,
};

/// GET / HEAD: the blob's bytes.
pub const BLOB_ENDPOINT: &str = "/v1/blobs/{blob_id}";
/// GET: `length` bytes of a blob from `start` (`?start=&length=`), as Walrus serves them.
pub const BYTE_RANGE_ENDPOINT: &str = "/v1/blobs/{blob_id}/byte-range";
/// GET / HEAD: the bytes of the blob a `Blob` object registers, with headers from its
/// attributes.
pub const BLOB_BY_OBJECT_ENDPOINT: &str = "/v1/blobs/by-object-id/{object_id}";
pub use self::quilts::{
    PatchListEntry, PATCHES_ENDPOINT, PATCH_BY_IDENTIFIER_ENDPOINT, PATCH_BY_ID_ENDPOINT,
    PATCH_IDENTIFIER_HEADER,
};

/// GET: health as JSON.
pub const HEALTH_ENDPOINT: &str = "/v1/health";
/// GET: health as JSON (the same as [`HEALTH_ENDPOINT`]).
pub const HEALTH_ALIAS_ENDPOINT: &str = "/health";

/// `Cache-Control` of blob answers: blobs are immutable.
pub const CACHE_CONTROL: &str = "public, max-age=86400, stale-while-revalidate=3600";

/// `Content-Security-Policy` of blob answers: a document made of a blob is rendered in a
/// sandbox (an opaque origin, no scripts, forms, popups or top-level navigation); images,
/// audio and video are not affected.
pub const CONTENT_SECURITY_POLICY: &str = "sandbox";

/// The content type of blobs whose type is unknown or active.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// Passive `application/*` types: shown, played or downloaded, never run as a document.
const PASSIVE_APPLICATION_TYPES: [&str; 10] = [
    "application/octet-stream",
    "application/json",
    "application/zip",
    "application/gzip",
    "application/x-tar",
    "application/x-7z-compressed",
    "application/x-bzip2",
    "application/x-xz",
    "application/zstd",
    "application/wasm",
];

/// How many leading bytes are looked at to guess the content type.
const SNIFF_BYTES: u64 = 8192;

/// Headers that no attribute or tag may set: those the aggregator sets itself and those that
/// frame or route the answer.
const PROTECTED_HEADERS: [HeaderName; 10] = [
    header::ETAG,
    header::CACHE_CONTROL,
    header::X_CONTENT_TYPE_OPTIONS,
    header::CONTENT_SECURITY_POLICY,
    header::ACCEPT_RANGES,
    header::CONTENT_RANGE,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    header::SET_COOKIE,
];

/// The response headers that `pairs` (a `Blob` object's attributes or a quilt patch's tags,
/// name and value) set: those named in `allowed` (any valid name if `allow_all`), with a valid
/// value, except [`PROTECTED_HEADERS`]; the first of a name wins.
fn headers_from_pairs<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    allowed: &[HeaderName],
    allow_all: bool,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    for (key, value) in pairs {
        let Ok(name) = HeaderName::from_bytes(key.trim().as_bytes()) else {
            continue;
        };
        let Ok(value) = HeaderValue::from_str(value) else {
            continue;
        };
        if (allow_all || allowed.contains(&name))
            && !PROTECTED_HEADERS.contains(&name)
            && !headers.iter().any(|(seen, _)| *seen == name)
        {
            headers.push((name, value));
        }
    }
    headers
}

#[derive(Clone)]
struct AppState {
    reader: Arc<BlobReader>,
    config: AggregatorConfig,
    metrics: Metrics,
    started: Instant,
}

fn bad_request(message: String) -> AggregatorError {
    AggregatorError::new(ErrorReason::InvalidRequest, message)
}

/// The path parameter, parsed as the `what` it names (400 INVALID_REQUEST otherwise).
fn path_param<T: FromStr<Err: std::fmt::Display>>(
    extracted: Result<Path<String>, PathRejection>,
    what: &str,
) -> Result<T, AggregatorError> {
    let Path(text) = extracted
        .map_err(|rejection| bad_request(format!("invalid path: {}", rejection.body_text())))?;
    text.parse()
        .map_err(|error| bad_request(format!("invalid {what} '{text}': {error}")))
}

/// The consistency check a read asks for (400 INVALID_REQUEST for a malformed query or both
/// flags).
fn consistency_check(
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<ConsistencyCheck, AggregatorError> {
    let Query(query) = query
        .map_err(|rejection| bad_request(format!("invalid query: {}", rejection.body_text())))?;
    ConsistencyCheck::from_flags(query.strict_consistency_check, query.skip_consistency_check)
        .ok_or_else(|| {
            bad_request(
                "strict_consistency_check and skip_consistency_check cannot both be set".into(),
            )
        })
}

/// The reasons a blob read can fail with (`x-error-reasons` of the blob operations).
const BLOB_ERROR_REASONS: [&str; 6] = [
    "INVALID_REQUEST",
    "NOT_FOUND",
    "BLOB_INVALID",
    "PAYLOAD_TOO_LARGE",
    "INTERNAL",
    "UNAVAILABLE",
];

/// Read a blob
///
/// The blob's raw bytes. `Content-Type` is guessed from the first bytes (known file
/// signatures; printable UTF-8 is `text/plain; charset=utf-8`; else
/// `application/octet-stream`); unless the aggregator runs with `--allow-active-content`, only
/// passive types are kept (images other than SVG, audio, video, fonts, `text/plain`,
/// `text/csv`, `text/css`, JSON, archives) and every other type (HTML, SVG, XML, JavaScript,
/// ...) is served as `application/octet-stream`. One byte range per request (`bytes=a-b`,
/// `bytes=a-`, `bytes=-n`); several ranges or a malformed header are ignored (200 with the
/// whole blob).
#[utoipa::path(
    get,
    path = BLOB_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getBlob",
    params(BlobPath, ReadQuery, BlobRequestHeaders),
    responses(BlobAnswers),
    extensions(("x-error-reasons" = json!(BLOB_ERROR_REASONS)))
)]
async fn get_blob(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    param: Result<Path<String>, PathRejection>,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Response, AggregatorError> {
    let blob_id: BlobId = path_param(param, "blob ID")?;
    let check = consistency_check(query)?;
    state
        .serve_blob(blob_id, check, &method, &headers, &[])
        .await
}

/// The reasons a byte-range read can fail with.
const BYTE_RANGE_ERROR_REASONS: [&str; 7] = [
    "INVALID_REQUEST",
    "INVALID_BYTE_RANGE",
    "NOT_FOUND",
    "BLOB_INVALID",
    "PAYLOAD_TOO_LARGE",
    "INTERNAL",
    "UNAVAILABLE",
];

/// Read a byte range of a blob
///
/// The `length` bytes of the blob from offset `start`, as Walrus's aggregator serves them:
/// 200 (not 206), `Content-Type: application/octet-stream`, `ETag` naming the blob and the
/// range. Only the slivers holding the range are fetched, each verified against the blob's
/// metadata.
#[utoipa::path(
    get,
    path = BYTE_RANGE_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getBlobByteRange",
    params(BlobPath, ByteRangeQuery),
    responses(ByteRangeAnswers),
    extensions(("x-error-reasons" = json!(BYTE_RANGE_ERROR_REASONS)))
)]
async fn get_byte_range(
    State(state): State<AppState>,
    headers: HeaderMap,
    param: Result<Path<String>, PathRejection>,
    query: Result<Query<ByteRangeQuery>, QueryRejection>,
) -> Result<Response, AggregatorError> {
    let blob_id: BlobId = path_param(param, "blob ID")?;
    let Query(ByteRangeQuery { start, length }) = query
        .map_err(|rejection| bad_request(format!("invalid query: {}", rejection.body_text())))?;
    state
        .serve_byte_range(blob_id, start, length, &headers)
        .await
}

/// A blob's headers
///
/// As GET, without the body; does not read the blob's data.
#[utoipa::path(
    head,
    path = BLOB_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "headBlob",
    params(BlobPath, ReadQuery, BlobRequestHeaders),
    responses(BlobHeadAnswers),
    extensions(("x-error-reasons" = json!(BLOB_ERROR_REASONS)))
)]
async fn head_blob(
    state: State<AppState>,
    method: Method,
    headers: HeaderMap,
    param: Result<Path<String>, PathRejection>,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Response, AggregatorError> {
    get_blob(state, method, headers, param, query).await
}

/// Read the blob of a Blob object
///
/// Reads the `Blob` object and serves its blob as `GET /v1/blobs/{blob_id}` does; the object's
/// attributes named in the aggregator's `--allowed-headers` (by default `content-type`,
/// `authorization`, `content-disposition`, `content-encoding`, `content-language`,
/// `content-location` and `link`) become response headers (`content-type` replaces the guessed
/// type, under the same rule: an active type is served as `application/octet-stream` unless
/// the aggregator runs with `--allow-active-content`).
#[utoipa::path(
    get,
    path = BLOB_BY_OBJECT_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "getBlobByObjectId",
    params(ObjectPath, ReadQuery, BlobRequestHeaders),
    responses(BlobAnswers),
    extensions(("x-error-reasons" = json!(BLOB_ERROR_REASONS)))
)]
async fn get_blob_by_object(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    param: Result<Path<String>, PathRejection>,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Response, AggregatorError> {
    let object_id: ObjectId = path_param(param, "object ID")?;
    let check = consistency_check(query)?;
    let object = state.reader.object(object_id).await?;
    let attributes = headers_from_pairs(
        object
            .attributes
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
        &state.config.allowed_headers,
        false,
    );
    state
        .serve_blob(object.blob_id, check, &method, &headers, &attributes)
        .await
}

/// The headers of the blob of a Blob object
///
/// As GET, without the body; does not read the blob's data.
#[utoipa::path(
    head,
    path = BLOB_BY_OBJECT_ENDPOINT,
    tag = BLOBS_TAG,
    operation_id = "headBlobByObjectId",
    params(ObjectPath, ReadQuery, BlobRequestHeaders),
    responses(BlobHeadAnswers),
    extensions(("x-error-reasons" = json!(BLOB_ERROR_REASONS)))
)]
async fn head_blob_by_object(
    state: State<AppState>,
    method: Method,
    headers: HeaderMap,
    param: Result<Path<String>, PathRejection>,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Response, AggregatorError> {
    get_blob_by_object(state, method, headers, param, query).await
}

/// What the `If-None-Match` fields of a request match (RFC 9110 §13.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoneMatch {
    /// No field, or no tag of it names the blob: serve the blob.
    No,
    /// A tag names the blob's ETag (weak comparison: `W/"x"` matches `"x"`): 304.
    Tag,
    /// `*`: 304 if the blob exists (has a current representation), else the usual error.
    Any,
}

/// Matches the `If-None-Match` fields (each `*` or a list of entity tags, `"x"` or `W/"x"`;
/// malformed members are skipped) against `etag` (a quoted strong tag).
fn if_none_match(headers: &HeaderMap, etag: &str) -> NoneMatch {
    let mut result = NoneMatch::No;
    for value in headers.get_all(header::IF_NONE_MATCH) {
        let Ok(mut rest) = value.to_str() else {
            continue;
        };
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            let quoted = rest.strip_prefix("W/").unwrap_or(rest);
            let member_end = if let Some(tail) = quoted.strip_prefix('"') {
                // An entity tag: up to its closing quote (its content may hold commas).
                match tail.find('"') {
                    Some(close) => {
                        let tag = &quoted[..close + 2];
                        if tag == etag {
                            return NoneMatch::Tag;
                        }
                        rest.len() - quoted.len() + close + 2
                    }
                    None => rest.len(),
                }
            } else {
                let end = rest.find(',').unwrap_or(rest.len());
                if rest[..end].trim() == "*" {
                    result = NoneMatch::Any;
                }
                end
            };
            rest = &rest[member_end..];
        }
    }
    result
}

/// Whether browsers treat `content_type` (a media type, parameters ignored) as passive
/// content: images other than SVG, audio, video, fonts, plain text, CSV, CSS, JSON and archives
/// are shown, played or downloaded; every other type (HTML, XHTML, SVG, XML, JavaScript, PDF,
/// unknown ones) may run script or be rendered as a document.
pub fn is_passive_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let is_token = |text: &str| {
        !text.is_empty()
            && text
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
    };
    if !is_token(kind) || !is_token(subtype) || subtype.contains("xml") {
        return false;
    }
    match kind {
        "image" | "audio" | "video" | "font" => true,
        "text" => matches!(subtype, "plain" | "csv" | "css"),
        "application" => PASSIVE_APPLICATION_TYPES.contains(&essence.as_str()),
        _ => false,
    }
}

/// The `Content-Type` a blob of `detected` type (sniffed, or the object's attribute) is served
/// with: `detected` itself if `allow_active`; otherwise a passive type, rebuilt from its essence
/// and `charset` alone (so that no list or odd parameter reaches the browser), and
/// `application/octet-stream` for any other type.
pub fn served_content_type(detected: &HeaderValue, allow_active: bool) -> HeaderValue {
    if allow_active {
        return detected.clone();
    }
    let Some(text) = detected
        .to_str()
        .ok()
        .filter(|text| is_passive_content_type(text))
    else {
        return HeaderValue::from_static(OCTET_STREAM);
    };
    let mut parts = text.split(';');
    let mut served = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let charset = parts.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (name.trim().eq_ignore_ascii_case("charset")
            && !value.is_empty()
            && value
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte)))
        .then_some(value)
    });
    if let Some(charset) = charset {
        served = format!("{served}; charset={charset}");
    }
    HeaderValue::from_str(&served).unwrap_or_else(|_| HeaderValue::from_static(OCTET_STREAM))
}

/// The content type guessed from the blob's first bytes: a known file signature (`infer`),
/// else `text/plain; charset=utf-8` for printable UTF-8 text, else `application/octet-stream`.
pub fn sniff_content_type(prefix: &[u8]) -> &'static str {
    if let Some(kind) = infer::get(prefix) {
        return kind.mime_type();
    }
    let text = match std::str::from_utf8(prefix) {
        Ok(text) => text,
        // The prefix may end inside a character.
        Err(error) if error.error_len().is_none() && prefix.len() as u64 >= SNIFF_BYTES => {
            std::str::from_utf8(&prefix[..error.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return "application/octet-stream",
    };
    let printable = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0c'));
    if !text.is_empty() && printable {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// The headers of every answer carrying blob bytes: `etag`, immutable caching, `nosniff` and
/// the CSP sandbox.
pub(crate) fn content_headers(etag: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, header_value(etag.to_owned()));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers
}

fn header_value(text: String) -> HeaderValue {
    // Only built from digits, ASCII letters and `"-/*`.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl AppState {
    /// Serves `blob_id`: 304 for a matching `If-None-Match` (for `*` only if the blob exists),
    /// 206 / 416 for a `Range`, else 200.
    async fn serve_blob(
        &self,
        blob_id: BlobId,
        check: ConsistencyCheck,
        method: &Method,
        request: &HeaderMap,
        attributes: &[(HeaderName, HeaderValue)],
    ) -> Result<Response, AggregatorError> {
        let etag = format!("\"{blob_id}\"");
        let mut headers = content_headers(&etag);
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        let allow_active = self.config.allow_active_content;
        for (name, value) in attributes {
            let value = if name == header::CONTENT_TYPE {
                served_content_type(value, allow_active)
            } else {
                value.clone()
            };
            headers.insert(name.clone(), value);
        }
        let none_match = if_none_match(request, &etag);
        if none_match == NoneMatch::Tag {
            // The ETag is the blob ID: the client holds the blob's (immutable) bytes.
            headers.remove(header::CONTENT_TYPE);
            return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
        }

        let head = method == Method::HEAD;
        let range_header = request
            .get(header::RANGE)
            .and_then(|value| value.to_str().ok());
        let mut whole = self.reader.cached(&blob_id, check);
        let facts = self.reader.facts(&blob_id);
        if none_match == NoneMatch::Any {
            if whole.is_none() && facts.is_none() {
                // The metadata read fails (404, 410, ...) if there is no such blob.
                self.reader.size(&blob_id).await?;
            }
            headers.remove(header::CONTENT_TYPE);
            return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
        }
        let size = match (&whole, facts) {
            (Some(bytes), _) => bytes.len() as u64,
            (None, Some(facts)) => facts.size,
            (None, None) => self.reader.size(&blob_id).await?,
        };
        if let Some(max) = self.config.max_blob_bytes {
            if size > max {
                return Err(AggregatorError::new(
                    ErrorReason::PayloadTooLarge,
                    format!("blob {blob_id} has {size} bytes, more than this aggregator's limit of {max}"),
                ));
            }
        }
        let range = match range_header.map(|value| parse_range(value, size)) {
            Some(ByteRange::Satisfiable(range)) => Some(range),
            Some(ByteRange::Unsatisfiable) => return Ok(unsatisfiable(size, headers)),
            Some(ByteRange::Ignored) | None => None,
        };

        if !head && whole.is_none() && range.is_none() && size > self.config.stream_threshold_bytes
        {
            return self.stream_blob(blob_id, check, size, facts, headers).await;
        }
        let body = if head {
            None
        } else {
            Some(match (&whole, &range) {
                (Some(bytes), Some(range)) => bytes.slice(usize_range(range)),
                (Some(bytes), None) => bytes.clone(),
                (None, Some(range)) => self.reader.range(&blob_id, range.clone()).await?,
                (None, None) => {
                    let bytes = self.reader.whole(blob_id, check).await?;
                    whole = Some(bytes.clone());
                    bytes
                }
            })
        };
        if !headers.contains_key(header::CONTENT_TYPE) {
            let content_type = match facts {
                Some(facts) => facts.content_type,
                None => {
                    let prefix = self
                        .prefix(
                            &blob_id,
                            size,
                            whole.as_ref(),
                            body.as_ref(),
                            range.as_ref(),
                        )
                        .await?;
                    sniff_content_type(&prefix)
                }
            };
            headers.insert(
                header::CONTENT_TYPE,
                served_content_type(&HeaderValue::from_static(content_type), allow_active),
            );
            self.reader
                .remember(blob_id, BlobFacts { size, content_type });
        }

        let status = match &range {
            Some(range) => {
                headers.insert(
                    header::CONTENT_RANGE,
                    header_value(format!("bytes {}-{}/{size}", range.start, range.end - 1)),
                );
                StatusCode::PARTIAL_CONTENT
            }
            None => StatusCode::OK,
        };
        let length = range.as_ref().map_or(size, |range| range.end - range.start);
        Ok(match body {
            Some(body) => {
                self.metrics.bytes_served.inc_by(body.len() as u64);
                (status, headers, body).into_response()
            }
            None => {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
                (status, headers, Body::empty()).into_response()
            }
        })
    }

    /// Serves `length` bytes of `blob_id` from `start` (200), or 304 for a matching
    /// `If-None-Match`; 400 INVALID_BYTE_RANGE for an empty range or one past the blob.
    async fn serve_byte_range(
        &self,
        blob_id: BlobId,
        start: u64,
        length: u64,
        request: &HeaderMap,
    ) -> Result<Response, AggregatorError> {
        let invalid =
            |message: String| AggregatorError::new(ErrorReason::InvalidByteRange, message);
        if length == 0 {
            return Err(invalid("the byte range is empty (length 0)".into()));
        }
        let end = start
            .checked_add(length)
            .ok_or_else(|| invalid(format!("start {start} + length {length} overflows")))?;
        if let Some(max) = self.config.max_blob_bytes {
            if length > max {
                return Err(AggregatorError::new(
                    ErrorReason::PayloadTooLarge,
                    format!("{length} bytes asked, more than this aggregator's limit of {max}"),
                ));
            }
        }
        let etag = format!("\"{blob_id}-{start}-{length}\"");
        let mut headers = content_headers(&etag);
        if if_none_match(request, &etag) == NoneMatch::Tag {
            return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
        }
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
        let whole = self.reader.cached(&blob_id, ConsistencyCheck::Default);
        let size = match (&whole, self.reader.facts(&blob_id)) {
            (Some(bytes), _) => bytes.len() as u64,
            (None, Some(facts)) => facts.size,
            (None, None) => self.reader.size(&blob_id).await?,
        };
        if end > size {
            return Err(invalid(format!(
                "bytes {start}..{end} are not within blob {blob_id} of {size} bytes"
            )));
        }
        let body = match whole {
            Some(bytes) => bytes.slice(usize_range(&(start..end))),
            None => self.reader.range(&blob_id, start..end).await?,
        };
        self.metrics.bytes_served.inc_by(body.len() as u64);
        Ok((StatusCode::OK, headers, body).into_response())
    }

    /// Serves the whole blob as it is read (200): headers once its first bytes passed the
    /// consistency check (so a blob that cannot be read at all gets a proper error answer),
    /// then the rest as it comes. A failure later cuts the body short of its
    /// `Content-Length`.
    async fn stream_blob(
        &self,
        blob_id: BlobId,
        check: ConsistencyCheck,
        size: u64,
        facts: Option<BlobFacts>,
        mut headers: HeaderMap,
    ) -> Result<Response, AggregatorError> {
        let (size_read, mut chunks) = self.reader.stream(blob_id, check).await?;
        if size_read != size {
            return Err(AggregatorError::new(
                ErrorReason::Internal,
                format!("blob {blob_id} has {size_read} bytes, not the {size} its metadata said"),
            ));
        }
        let first = match chunks.next().await {
            Some(Ok(first)) => first,
            Some(Err(error)) => return Err(error.into()),
            None => Bytes::new(),
        };
        if !headers.contains_key(header::CONTENT_TYPE) {
            let content_type = match facts {
                Some(facts) => facts.content_type,
                None => {
                    let prefix = self
                        .prefix(&blob_id, size, None, Some(&first), Some(&(0..size)))
                        .await?;
                    sniff_content_type(&prefix)
                }
            };
            headers.insert(
                header::CONTENT_TYPE,
                served_content_type(
                    &HeaderValue::from_static(content_type),
                    self.config.allow_active_content,
                ),
            );
            self.reader
                .remember(blob_id, BlobFacts { size, content_type });
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        let body = futures::stream::once(async move { Ok(first) }).chain(chunks);
        Ok((StatusCode::OK, headers, Body::from_stream(body)).into_response())
    }

    /// The first bytes of the blob, to guess its type: from the bytes at hand if they cover
    /// them, else a range read.
    async fn prefix(
        &self,
        blob_id: &BlobId,
        size: u64,
        whole: Option<&Bytes>,
        body: Option<&Bytes>,
        range: Option<&Range<u64>>,
    ) -> Result<Bytes, AggregatorError> {
        let wanted = size.min(SNIFF_BYTES);
        let end = usize_range(&(0..wanted)).end;
        if let Some(bytes) = whole {
            return Ok(bytes.slice(..end));
        }
        if let (Some(body), Some(range)) = (body, range) {
            if range.start == 0 && body.len() >= end {
                return Ok(body.slice(..end));
            }
        }
        if wanted == 0 {
            return Ok(Bytes::new());
        }
        self.reader.range(blob_id, 0..wanted).await
    }
}

fn usize_range(range: &Range<u64>) -> Range<usize> {
    let convert = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
    convert(range.start)..convert(range.end)
}

/// 416 with `Content-Range: bytes */SIZE` and an INVALID_REQUEST error body.
fn unsatisfiable(size: u64, mut headers: HeaderMap) -> Response {
    headers.remove(header::CONTENT_TYPE);
    headers.insert(
        header::CONTENT_RANGE,
        header_value(format!("bytes */{size}")),
    );
    let status = StatusCode::RANGE_NOT_SATISFIABLE;
    let body = ApiError {
        error: ApiErrorBody::with_status(
            status.as_u16(),
            "OUT_OF_RANGE",
            ErrorReason::InvalidRequest,
            format!("the range is not within the blob's {size} bytes"),
        ),
    };
    (status, headers, Json(body)).into_response()
}

/// The answer of `GET /v1/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the aggregator serves.
    #[schema(pattern = "^ok$")]
    pub status: &'static str,
    /// Seconds since the aggregator started.
    pub uptime_secs: u64,
    /// The blob cache.
    pub cache: CacheHealth,
    /// The largest blob served (`--max-blob-bytes`), if limited.
    pub max_blob_bytes: Option<u64>,
    /// Whether active content types (HTML, SVG, JavaScript, ...) are served as such
    /// (`--allow-active-content`).
    pub allow_active_content: bool,
    /// Reads of blob data from the network.
    pub reads: ReadsHealth,
}

/// The blob cache in [`Health`].
#[derive(Debug, Serialize, ToSchema)]
pub struct CacheHealth {
    /// Blobs held.
    pub entries: u64,
    /// Bytes held.
    pub bytes: u64,
    /// Bytes it may hold.
    pub capacity_bytes: u64,
    /// The largest blob it keeps.
    pub max_entry_bytes: u64,
    /// Blob requests answered from the cache.
    pub hits: u64,
    /// Blob requests that missed the cache.
    pub misses: u64,
}

/// The reads of blob data in [`Health`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadsHealth {
    /// Reads running now.
    pub running: i64,
    /// Reads waiting for a running slot.
    pub queued: i64,
    /// Reads that may run at once.
    pub max_concurrent: usize,
    /// Reads that may wait.
    pub max_queued: usize,
    /// Requests refused with 503 at capacity.
    pub rejected: u64,
    /// Whole reads cancelled because every waiting client went away.
    pub cancelled: u64,
}

/// Health and cache statistics
#[utoipa::path(
    get,
    path = HEALTH_ENDPOINT,
    tag = SERVICE_TAG,
    operation_id = "getHealth",
    responses((status = 200, description = "The service is up.", body = Health))
)]
async fn health(State(state): State<AppState>) -> Json<Health> {
    let cache = state.reader.cache_stats();
    let limits = state.reader.limits();
    let metrics = &state.metrics;
    Json(Health {
        status: "ok",
        uptime_secs: state.started.elapsed().as_secs(),
        cache: CacheHealth {
            entries: cache.entries,
            bytes: cache.bytes,
            capacity_bytes: cache.capacity_bytes,
            max_entry_bytes: cache.max_entry_bytes,
            hits: metrics.cache_hits.get(),
            misses: metrics.cache_misses.get(),
        },
        max_blob_bytes: state.config.max_blob_bytes,
        allow_active_content: state.config.allow_active_content,
        reads: ReadsHealth {
            running: metrics.reads_running.get(),
            queued: metrics.reads_queued.get(),
            max_concurrent: limits.max_concurrent,
            max_queued: limits.max_queued,
            rejected: metrics.reads_rejected.get(),
            cancelled: metrics.reads_cancelled.get(),
        },
    })
}

/// The aggregator's router over `source`: the blob reads and health (each documented in the
/// OpenAPI document at `/v1/api`), `/metrics`, JSON 404/405 fallbacks and request metrics.
pub fn router(source: Arc<dyn BlobSource>, config: AggregatorConfig) -> Router {
    let metrics = Metrics::new();
    let state = AppState {
        reader: Arc::new(BlobReader::new(source, &config, metrics.clone())),
        config,
        metrics: metrics.clone(),
        started: Instant::now(),
    };
    ServiceRouter::new(TITLE, DESCRIPTION, "Blob reads.")
        .routes(routes!(get_blob, head_blob))
        .routes(routes!(get_byte_range))
        .routes(routes!(get_blob_by_object, head_blob_by_object))
        .routes(routes!(quilts::get_patch_by_id))
        .routes(routes!(quilts::get_patch_by_identifier))
        .routes(routes!(quilts::list_patches))
        .routes_with_alias(HEALTH_ALIAS_ENDPOINT, routes!(health))
        .status_route()
        .finish(state, &metrics.registry, &metrics.requests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_signatures_text_and_binary() {
        let png = [
            0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
        ];
        assert_eq!(sniff_content_type(&png), "image/png");
        assert_eq!(
            sniff_content_type("hello, wörld\n".as_bytes()),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            sniff_content_type(&[0, 1, 2, 3, 255]),
            "application/octet-stream"
        );
        assert_eq!(sniff_content_type(&[]), "application/octet-stream");
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        let check = |values: &[&'static str], etag: &str| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::IF_NONE_MATCH, HeaderValue::from_static(value));
            }
            if_none_match(&headers, etag)
        };
        let id = "\"id\"";
        assert_eq!(check(&["\"other\", W/\"id\""], id), NoneMatch::Tag);
        assert_eq!(check(&["\"other\", W/\"id\""], "\"nope\""), NoneMatch::No);
        assert_eq!(check(&["\"a,b\",\"id\""], id), NoneMatch::Tag);
        assert_eq!(check(&["\"x\"", " \t\"id\" "], id), NoneMatch::Tag);
        assert_eq!(check(&["*"], id), NoneMatch::Any);
        assert_eq!(check(&[" * "], id), NoneMatch::Any);
        assert_eq!(check(&["*", "\"id\""], id), NoneMatch::Tag);
        // Unquoted, a lowercase weak prefix, an unterminated tag: no match.
        for value in ["id", "w/\"id\"", "\"id", "W/id", "\"i d\"", ""] {
            assert_eq!(check(&[value], id), NoneMatch::No, "{value}");
        }
        assert_eq!(check(&[], id), NoneMatch::No);
    }

    #[test]
    fn only_passive_types_are_served_as_such() {
        let served = |value: &'static str| {
            served_content_type(&HeaderValue::from_static(value), false)
                .to_str()
                .unwrap()
                .to_owned()
        };
        for (detected, expected) in [
            ("image/png", "image/png"),
            ("IMAGE/JPEG", "image/jpeg"),
            ("video/mp4", "video/mp4"),
            ("audio/mpeg", "audio/mpeg"),
            ("font/woff2", "font/woff2"),
            ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
            (
                "text/plain;charset=\"UTF-8\";x=1",
                "text/plain; charset=UTF-8",
            ),
            ("text/plain; charset=<x>", "text/plain"),
            ("application/json", "application/json"),
            ("application/zip", "application/zip"),
        ] {
            assert_eq!(served(detected), expected, "{detected}");
        }
        for active in [
            "text/html",
            "text/html; charset=utf-8",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/javascript",
            "application/javascript",
            "application/x-javascript",
            "text/ecmascript",
            "text/xml",
            "application/xml",
            "application/rss+xml",
            "text/xsl",
            "application/pdf",
            "multipart/x-mixed-replace; boundary=x",
            "application/x-shockwave-flash",
            "text/plain, text/html",
            "text/plain , text/html",
            "image/png,text/html",
            "nonsense",
            "",
            "application/vnd.unknown",
        ] {
            assert_eq!(served(active), OCTET_STREAM, "{active}");
        }
        let html = HeaderValue::from_static("text/html; charset=utf-8");
        assert_eq!(served_content_type(&html, true), html);
    }
}
