//! [`AggregatorError`]: every error answer, as the JSON [`ApiError`] of the node API.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use walrus_chain::client::ClientError;
use walrus_core::quilt::QuiltError;
use walrus_node_client::api::{ApiError, ErrorReason};
use walrus_sdk::client::SdkError;

/// An error answer: a stable reason (which fixes the HTTP status), a message and an optional
/// `Retry-After`. Cloneable, so one failed read can answer every request that waited for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct AggregatorError {
    /// The machine-readable reason.
    pub reason: ErrorReason,
    /// Human-readable text.
    pub message: String,
    /// Seconds for the `Retry-After` header (e.g. when the aggregator is at capacity).
    pub retry_after: Option<u64>,
}

impl AggregatorError {
    /// An error with `reason`.
    pub fn new(reason: ErrorReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` header of `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.reason.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<SdkError> for AggregatorError {
    /// Not found (no node knows the blob, or no such object) -> 404 NOT_FOUND; no patch of that
    /// identifier in the quilt -> 404 QUILT_PATCH_NOT_FOUND; not a quilt (or not the patch the
    /// ID says) -> 400 INVALID_REQUEST; proven invalid -> 410 BLOB_INVALID; too few nodes
    /// answered -> 503 UNAVAILABLE; anything else -> 500.
    fn from(error: SdkError) -> Self {
        let reason = match &error {
            SdkError::BlobNotFound(_) | SdkError::Chain(ClientError::NotFound(_)) => {
                ErrorReason::NotFound
            }
            SdkError::BlobInvalid(_) => ErrorReason::BlobInvalid,
            SdkError::Quilt(QuiltError::PatchesNotFound(_)) => ErrorReason::QuiltPatchNotFound,
            SdkError::Quilt(QuiltError::Malformed(_)) => ErrorReason::InvalidRequest,
            SdkError::NotEnoughSlivers { .. } => ErrorReason::Unavailable,
            _ => ErrorReason::Internal,
        };
        Self::new(reason, error.to_string())
    }
}

impl IntoResponse for AggregatorError {
    fn into_response(self) -> Response {
        walrus_service::router::error_response(
            ApiError::new(self.reason, self.message),
            self.retry_after,
        )
    }
}
