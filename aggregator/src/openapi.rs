//! The aggregator's OpenAPI document: its info ([`TITLE`], [`DESCRIPTION`]), the request
//! headers of blob reads ([`BlobRequestHeaders`]) and the answers the four blob operations share
//! ([`BlobAnswers`], [`BlobHeadAnswers`]); the paths come from the documented handlers of
//! [`crate::server`].

use std::collections::BTreeMap;

use serde_json::json;
use utoipa::{
    openapi::{response::Response, RefOr},
    IntoParams, IntoResponses,
};
use walrus_node_client::api::schema::{BlobId as BlobIdSchema, ObjectId as ObjectIdSchema};

use crate::server::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};

/// The title of the aggregator's document.
pub const TITLE: &str = "Walrus aggregator";

/// The description of the aggregator's document.
pub const DESCRIPTION: &str = "The read side of the Walrus HTTP API: blobs by blob ID or by `Blob` object ID. Blob answers carry `ETag` (the quoted blob ID), `Cache-Control: public, max-age=86400, stale-while-revalidate=3600`, `X-Content-Type-Options: nosniff`, `Content-Security-Policy: sandbox` and `Accept-Ranges: bytes`. Blobs are published by anyone: unless the aggregator runs with `--allow-active-content`, a blob whose type a browser executes or renders as a document (HTML, XHTML, SVG, XML, JavaScript, PDF, any type not known to be passive) is served as `application/octet-stream`. Reads of the network are bounded (`--max-concurrent-reads` running, `--max-queued-reads` waiting; beyond, 503 UNAVAILABLE with `Retry-After`). Every error is the JSON `ApiError` with a stable `reason`. Unknown paths answer 404 NOT_FOUND; an unsupported method on a known path answers 405 METHOD_NOT_ALLOWED. Each operation's `x-error-reasons` lists the reasons it can return.";

/// The path of a read by blob ID.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BlobPath {
    /// The blob ID: 32 bytes, URL-safe base64 without padding (43 characters).
    #[param(inline, value_type = BlobIdSchema)]
    pub blob_id: String,
}

/// The path of a read by object ID.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ObjectPath {
    /// The `Blob` object's ID: `0x` and hex digits.
    #[param(inline, value_type = ObjectIdSchema)]
    pub object_id: String,
}

/// The path of a read by quilt patch ID.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PatchIdPath {
    /// The quilt patch ID: URL-safe base64 without padding of the quilt's blob ID, the
    /// version `1` and the patch's start and end column (`u16` little-endian each).
    pub quilt_patch_id: String,
}

/// The path of a read by identifier.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PatchIdentifierPath {
    /// The quilt's blob ID.
    pub quilt_id: String,
    /// The patch's identifier (percent-encoded as a path segment).
    pub identifier: String,
}

/// The path of a quilt.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct QuiltPath {
    /// The quilt's blob ID.
    pub quilt_id: String,
}

/// The query parameters of a blob read: Walrus's consistency checks.
#[derive(Debug, Default, IntoParams, serde::Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ReadQuery {
    /// Re-encode the whole blob and check that it gives the blob ID (slower; also refuses a
    /// blob whose repair slivers alone are inconsistent). Not with `skip_consistency_check`.
    #[param(required = false)]
    pub strict_consistency_check: bool,
    /// No check after decoding: trusts the writer (readers of an inconsistently encoded blob
    /// may get different bytes). By default each source row of the blob, received or decoded,
    /// must match its hash in the metadata, so every reader that succeeds gets the same bytes.
    #[param(required = false)]
    pub skip_consistency_check: bool,
}

/// The query parameters of a byte-range read (both required).
#[derive(Debug, IntoParams, serde::Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ByteRangeQuery {
    /// The offset of the first byte.
    pub start: u64,
    /// The number of bytes (at least 1; `start + length` at most the blob's size).
    pub length: u64,
}

/// The request headers a blob read takes.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct BlobRequestHeaders {
    /// One byte range: `bytes=a-b`, `bytes=a-` or `bytes=-n` (several ranges or a malformed
    /// header are ignored: 200 with the whole blob).
    #[param(rename = "Range", required = false)]
    pub range: String,
    /// ETags already held (a list, weak tags compare equal), or `*`: 304 if one is the blob's,
    /// or for `*` if the blob exists (a missing blob answers as without the header).
    #[param(rename = "If-None-Match", required = false)]
    pub if_none_match: String,
}

/// The answers of `GET` of a blob.
pub struct BlobAnswers;

impl IntoResponses for BlobAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        blob_answers(false)
    }
}

/// The answers of `HEAD` of a blob: those of `GET`, without bodies.
pub struct BlobHeadAnswers;

impl IntoResponses for BlobHeadAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        blob_answers(true)
    }
}

/// The answers of a blob read; without their bodies for `head`.
fn blob_answers(head: bool) -> BTreeMap<String, RefOr<Response>> {
    let blob_headers = |range: bool| {
        let mut headers = json!({
            "ETag": { "description": "The blob ID, quoted.", "schema": { "type": "string" } },
            "Cache-Control": { "description": format!("`{CACHE_CONTROL}`."), "schema": { "type": "string" } },
            "X-Content-Type-Options": { "description": "`nosniff`.", "schema": { "type": "string" } },
            "Content-Security-Policy": {
                "description": format!("`{CONTENT_SECURITY_POLICY}`: a document made of the blob is rendered in an opaque origin without scripts, forms or popups."),
                "schema": { "type": "string" }
            },
            "Accept-Ranges": { "description": "`bytes`.", "schema": { "type": "string" } },
            "Content-Length": {
                "description": "Bytes of the body (for HEAD: of the body GET would send).",
                "schema": { "type": "integer" }
            }
        });
        if range {
            headers["Content-Range"] = content_range();
        }
        headers
    };
    let bytes = |description: &str, range: bool| {
        let mut response = json!({
            "description": description,
            "headers": blob_headers(range),
        });
        if !head {
            response["content"] =
                json!({ "*/*": { "schema": { "type": "string", "format": "binary" } } });
        }
        response
    };
    let (whole, partial) = if head {
        (
            "Headers only (`Content-Length` = the blob's size); no body.",
            "The requested byte range (headers only).",
        )
    } else {
        ("The blob's bytes.", "The requested byte range.")
    };
    let mut unsatisfiable = error_answer("The range is not within the blob: `Content-Range: bytes */SIZE`; an `ApiError` with code 416, status `OUT_OF_RANGE` and reason INVALID_REQUEST.");
    unsatisfiable["headers"] = json!({ "Content-Range": content_range() });
    let mut unavailable = error_answer("UNAVAILABLE: too few storage nodes answered to read the blob, or the aggregator is at capacity (`--max-concurrent-reads` reads running and `--max-queued-reads` waiting; then with `Retry-After`); retry later.");
    unavailable["headers"] = json!({
        "Retry-After": { "description": "Seconds to wait before retrying.", "schema": { "type": "integer" } }
    });
    let answers = json!({
        "200": bytes(whole, false),
        "206": bytes(partial, true),
        "304": {
            "description": "`If-None-Match` names the blob's ETag (blobs are immutable), or is `*` and the blob exists; no body.",
            "headers": { "ETag": { "description": "The blob ID, quoted.", "schema": { "type": "string" } } }
        },
        "400": error_answer("INVALID_REQUEST: the blob ID (by object ID: the object ID) does not parse, or both consistency-check parameters are set."),
        "404": error_answer("NOT_FOUND: no node knows the blob (never stored, deleted or expired), or, by object ID, there is no such `Blob` object."),
        "410": error_answer("BLOB_INVALID: the blob was proven invalid, or failed the consistency check (inconsistent encoding)."),
        "413": error_answer("PAYLOAD_TOO_LARGE: the blob is larger than the aggregator's `--max-blob-bytes`."),
        "416": unsatisfiable,
        "500": error_answer("INTERNAL: an unexpected failure."),
        "503": unavailable,
    });
    serde_json::from_value(answers).expect("valid OpenAPI responses")
}

/// An error answer of `description` with the `ApiError` body.
fn error_answer(description: &str) -> serde_json::Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ApiError" } } }
    })
}

/// The answers of a quilt patch read.
pub struct QuiltPatchAnswers;

impl IntoResponses for QuiltPatchAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let answers = json!({
            "200": {
                "description": "The patch's bytes.",
                "headers": {
                    "ETag": { "description": "The quilt patch ID, quoted.", "schema": { "type": "string" } },
                    "X-Quilt-Patch-Identifier": { "description": "The patch's identifier.", "schema": { "type": "string" } },
                    "Cache-Control": { "description": format!("`{CACHE_CONTROL}`."), "schema": { "type": "string" } },
                    "X-Content-Type-Options": { "description": "`nosniff`.", "schema": { "type": "string" } },
                    "Content-Security-Policy": { "description": format!("`{CONTENT_SECURITY_POLICY}`."), "schema": { "type": "string" } }
                },
                "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } }
            },
            "304": {
                "description": "`If-None-Match` names the patch's ETag; no body.",
                "headers": { "ETag": { "description": "The quilt patch ID, quoted.", "schema": { "type": "string" } } }
            },
            "400": error_answer("INVALID_REQUEST: the quilt patch ID or quilt ID does not parse, or the blob is not a quilt (or has no patch at those columns)."),
            "404": error_answer("NOT_FOUND: no node knows the quilt; QUILT_PATCH_NOT_FOUND: the quilt has no patch of that identifier."),
            "410": error_answer("BLOB_INVALID: the quilt was proven invalid."),
            "500": error_answer("INTERNAL: an unexpected failure."),
            "503": error_answer("UNAVAILABLE: too few storage nodes answered, or the aggregator is at capacity (with `Retry-After`)."),
        });
        serde_json::from_value(answers).expect("valid OpenAPI responses")
    }
}

/// The answers of a byte-range read.
pub struct ByteRangeAnswers;

impl IntoResponses for ByteRangeAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let answers = json!({
            "200": {
                "description": "The `length` bytes of the blob from `start` (200, not 206, so that caches keep the answer like any other).",
                "headers": {
                    "ETag": { "description": "`\"BLOB_ID-START-LENGTH\"`.", "schema": { "type": "string" } },
                    "Cache-Control": { "description": format!("`{CACHE_CONTROL}`."), "schema": { "type": "string" } },
                    "X-Content-Type-Options": { "description": "`nosniff`.", "schema": { "type": "string" } },
                    "Content-Security-Policy": { "description": format!("`{CONTENT_SECURITY_POLICY}`."), "schema": { "type": "string" } }
                },
                "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } }
            },
            "304": {
                "description": "`If-None-Match` names the range's ETag; no body.",
                "headers": { "ETag": { "description": "`\"BLOB_ID-START-LENGTH\"`.", "schema": { "type": "string" } } }
            },
            "400": error_answer("INVALID_REQUEST: the blob ID or the query does not parse (both `start` and `length` are required, nothing else is accepted); INVALID_BYTE_RANGE: `length` is 0 or the range ends past the blob."),
            "404": error_answer("NOT_FOUND: no node knows the blob."),
            "410": error_answer("BLOB_INVALID: the blob was proven invalid."),
            "413": error_answer("PAYLOAD_TOO_LARGE: `length` exceeds the aggregator's `--max-blob-bytes`."),
            "500": error_answer("INTERNAL: an unexpected failure."),
            "503": error_answer("UNAVAILABLE: too few storage nodes answered, or the aggregator is at capacity (with `Retry-After`)."),
        });
        serde_json::from_value(answers).expect("valid OpenAPI responses")
    }
}

fn content_range() -> serde_json::Value {
    json!({
        "description": "`bytes a-b/SIZE` (206) or `bytes */SIZE` (416).",
        "schema": { "type": "string" }
    })
}
