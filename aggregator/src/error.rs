//! [`AggregatorError`]: every error answer, as the JSON [`ApiError`] of the node API.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use walrus_chain::client::ClientError;
use walrus_node_client::api::{ApiError, ErrorReason};
use walrus_sdk::client::SdkError;

/// An error answer: a stable reason (which fixes the HTTP status) and a message. Cloneable, so
/// one failed read can answer every request that waited for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct AggregatorError {
    /// The machine-readable reason.
    pub reason: ErrorReason,
    /// Human-readable text.
    pub message: String,
}

impl AggregatorError {
    /// An error with `reason`.
    pub fn new(reason: ErrorReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.reason.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<SdkError> for AggregatorError {
    /// Not found (no node knows the blob, or no such object) -> 404 NOT_FOUND; proven invalid
    /// -> 410 BLOB_INVALID; too few nodes answered -> 503 UNAVAILABLE; anything else -> 500.
    fn from(error: SdkError) -> Self {
        let reason = match &error {
            SdkError::BlobNotFound(_) | SdkError::Chain(ClientError::NotFound(_)) => {
                ErrorReason::NotFound
            }
            SdkError::BlobInvalid(_) => ErrorReason::BlobInvalid,
            SdkError::NotEnoughSlivers { .. } => ErrorReason::Unavailable,
            _ => ErrorReason::Internal,
        };
        Self::new(reason, error.to_string())
    }
}

impl IntoResponse for AggregatorError {
    fn into_response(self) -> Response {
        (
            self.status(),
            Json(ApiError::new(self.reason, self.message)),
        )
            .into_response()
    }
}
