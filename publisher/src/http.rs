//! HTTP helpers: JSON errors in the storage nodes' [`ApiError`] envelope, body reading with a
//! size limit and a deadline, bearer-token checks.

use std::time::{Duration, Instant};

use axum::{
    body::Body,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use walrus_node_client::api::{ApiError, ErrorReason};

/// An error answer: the JSON [`ApiError`] envelope, its HTTP status (`error.code`), and an
/// optional `Retry-After` (seconds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct HttpError {
    /// The JSON body.
    pub error: ApiError,
    /// Seconds for the `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl HttpError {
    /// An error with `reason`'s HTTP status.
    pub fn new(reason: ErrorReason, message: impl Into<String>) -> Self {
        Self {
            error: ApiError::new(reason, message),
            retry_after: None,
        }
    }

    /// An error with `reason` but another HTTP status (e.g. 504 for a timeout, which has no
    /// reason of its own).
    pub fn with_status(
        reason: ErrorReason,
        status: StatusCode,
        message: impl Into<String>,
    ) -> Self {
        let mut error = Self::new(reason, message);
        error.error.error.code = status.as_u16();
        error
    }

    /// 400 INVALID_REQUEST.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorReason::InvalidRequest, message)
    }

    /// 500 INTERNAL.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorReason::Internal, message)
    }

    /// Adds a `Retry-After` header of `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        walrus_service::router::error_response(self.error, self.retry_after)
    }
}

/// A JSON response with `status`.
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    (status, Json(body)).into_response()
}

fn too_large(limit: u64) -> HttpError {
    HttpError::new(
        ErrorReason::PayloadTooLarge,
        format!("the body exceeds the limit of {limit} bytes"),
    )
}

/// Rejects a request whose `Content-Length` announces more than `limit` bytes (413), before
/// any of the body is read. A missing length passes (chunked bodies are checked while read).
pub fn check_content_length(headers: &HeaderMap, limit: u64) -> Result<(), HttpError> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(());
    };
    let length: u64 = value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| HttpError::bad_request("invalid Content-Length header"))?;
    if length > limit {
        return Err(too_large(limit));
    }
    Ok(())
}

/// How long a request body may take to arrive, so that a client sending it slowly cannot hold
/// a store slot: at most `timeout` without any data, and at most `timeout` plus one second per
/// `min_bytes_per_sec` bytes received in all (0: no allowance for data received, the whole
/// body within `timeout`). A body arriving at least at `min_bytes_per_sec` never times out
/// while it flows; one that stalls fails `timeout` after its last data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDeadline {
    /// The time allowed without data, and the base of the total allowance.
    pub timeout: Duration,
    /// Bytes per second the total allowance grows by (Apache `mod_reqtimeout`'s `MinRate`).
    pub min_bytes_per_sec: u64,
}

impl BodyDeadline {
    /// When the body's time is up, given its start, the last data and the bytes received
    /// (`None`: too far ahead to represent).
    fn at(&self, start: Instant, last_data: Instant, received: u64) -> Option<Instant> {
        let idle = last_data.checked_add(self.timeout);
        let allowance = if self.min_bytes_per_sec == 0 {
            Some(Duration::ZERO)
        } else {
            Duration::try_from_secs_f64(received as f64 / self.min_bytes_per_sec as f64).ok()
        };
        let total = allowance.and_then(|allowance| start.checked_add(self.timeout + allowance));
        match (idle, total) {
            (Some(idle), Some(total)) => Some(idle.min(total)),
            (idle, total) => idle.or(total),
        }
    }

    /// 408 REQUEST_TIMEOUT after `received` bytes in `elapsed`.
    fn exceeded(&self, received: u64, elapsed: Duration) -> HttpError {
        HttpError::new(
            ErrorReason::RequestTimeout,
            format!(
                "the request body was too slow: {received} bytes in {:.1} s (allowed: {} s \
                 without data, and {} s plus one second per {} bytes received in all)",
                elapsed.as_secs_f64(),
                self.timeout.as_secs_f64(),
                self.timeout.as_secs_f64(),
                self.min_bytes_per_sec,
            ),
        )
    }
}

/// Reads `body` into memory, failing with 413 PAYLOAD_TOO_LARGE as soon as more than `limit`
/// bytes arrived (nothing beyond the limit is buffered), 408 when it does not arrive within
/// `deadline` (see [`BodyDeadline`]), and 400 if the body breaks off.
pub async fn read_body(
    body: Body,
    limit: u64,
    deadline: BodyDeadline,
) -> Result<Vec<u8>, HttpError> {
    let mut body = body;
    let mut bytes = Vec::new();
    let start = Instant::now();
    let mut last_data = start;
    loop {
        let next = body.frame();
        let frame = match deadline.at(start, last_data, bytes.len() as u64) {
            Some(until) => tokio::time::timeout_at(until.into(), next)
                .await
                .map_err(|_| deadline.exceeded(bytes.len() as u64, start.elapsed()))?,
            None => next.await,
        };
        let Some(frame) = frame else {
            break;
        };
        let frame = frame
            .map_err(|error| HttpError::bad_request(format!("cannot read the body: {error}")))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if (bytes.len() as u64).saturating_add(data.len() as u64) > limit {
            return Err(too_large(limit));
        }
        if !data.is_empty() {
            last_data = Instant::now();
        }
        bytes.extend_from_slice(&data);
    }
    Ok(bytes)
}

/// Checks `Authorization: Bearer <token>` against `expected` in constant time (both sides are
/// hashed first, so neither the token's content nor its length leaks through timing): 401
/// UNAUTHENTICATED-style JSON error (reason INVALID_REQUEST, status 401) otherwise.
pub fn check_bearer(headers: &HeaderMap, expected: &str) -> Result<(), HttpError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let unauthorized = |message: &str| {
        let mut error = HttpError::with_status(
            ErrorReason::InvalidRequest,
            StatusCode::UNAUTHORIZED,
            message,
        );
        error.error.error.status = "UNAUTHENTICATED".to_owned();
        error
    };
    let Some(given) = given else {
        return Err(unauthorized(
            "missing `Authorization: Bearer <token>` header",
        ));
    };
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(unauthorized("invalid bearer token"));
    }
    Ok(())
}

/// Whether `a == b`, in time independent of where they differ and of their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn bearer_tokens() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            check_bearer(&headers, "secret").unwrap_err().status(),
            StatusCode::UNAUTHORIZED
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer nope"),
        );
        assert!(check_bearer(&headers, "secret").is_err());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic secret"),
        );
        assert!(check_bearer(&headers, "secret").is_err());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer secret"),
        );
        assert!(check_bearer(&headers, "secret").is_ok());
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b"ab"));
    }

    #[test]
    fn content_length() {
        let mut headers = HeaderMap::new();
        assert!(check_content_length(&headers, 10).is_ok());
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(10u64));
        assert!(check_content_length(&headers, 10).is_ok());
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(11u64));
        assert_eq!(
            check_content_length(&headers, 10).unwrap_err().status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("x"));
        assert_eq!(
            check_content_length(&headers, 10).unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
    }

    const DEADLINE: BodyDeadline = BodyDeadline {
        timeout: Duration::from_secs(60),
        min_bytes_per_sec: 1024,
    };

    #[tokio::test]
    async fn body_limit() {
        let read = |body: &'static str| read_body(Body::from(body), 5, DEADLINE);
        assert_eq!(read("hello").await.unwrap(), b"hello");
        let error = read("hello!").await.unwrap_err();
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(error.error.reason(), Some(ErrorReason::PayloadTooLarge));
    }

    #[test]
    fn body_deadlines() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        // Without data: `timeout` after the start.
        assert_eq!(DEADLINE.at(start, start, 0), Some(start + 60 * second));
        // Data extends the total by one second per `min_bytes_per_sec`, but a stall ends it
        // `timeout` after the last data.
        let later = start + 30 * second;
        assert_eq!(
            DEADLINE.at(start, later, 10 * 1024),
            Some(start + 70 * second)
        );
        assert_eq!(
            DEADLINE.at(start, later, 1 << 30),
            Some(later + 60 * second)
        );
        // No allowance for data.
        let strict = BodyDeadline {
            min_bytes_per_sec: 0,
            ..DEADLINE
        };
        assert_eq!(strict.at(start, later, 1 << 30), Some(start + 60 * second));
        let error = strict.exceeded(3, second);
        assert_eq!(error.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(error.error.error.status, "DEADLINE_EXCEEDED");
        assert_eq!(error.error.reason(), Some(ErrorReason::RequestTimeout));
    }
}
