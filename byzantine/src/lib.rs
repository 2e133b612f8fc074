//! **TEST ONLY — never deploy.** A byzantine storage node for the end-to-end tests: the real
//! node ([`walrus_node::run_with`]) with a layer on its REST API that lies in what it serves.
//! Stored data, uploads, confirmations, recovery, inconsistency proofs and the node's own
//! checks stay honest; only the answers of `GET metadata`, `GET sliver`,
//! `GET recoverySymbols` and `GET status` change. The `walrus-node` binary and library
//! contain none of this: no configuration of a release node turns it on.
//!
//! The behaviours ([`Faults`], a TOML file; see [`Faults`] for the format) are chosen per
//! route and combine freely: flipped bytes, genuine slivers of another index, another blob's
//! data under the asked blob ID, inflated bodies (small on the wire and large once decoded,
//! a huge claimed length, a plain oversize body), forged recovery symbols for every index,
//! lying blob statuses and `BLOB_INVALID` errors, and slow answers (a delay, a trickled body
//! or no answer at all). The file is read again on every request, so a test switches
//! behaviours by rewriting it ([`write_faults`]) without restarting the node.
//!
//! The localnet launcher (`walrus_localnet::network`) starts this binary instead of
//! `walrus-node` for a node whose directory holds a `faults.toml`.

pub mod lies;

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use axum::{
    body::Body,
    extract::{MatchedPath, Request, State},
    http::{header, HeaderValue, Method, StatusCode, Uri},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Json, Router,
};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tower::ServiceExt;
use walrus_core::{BlobId, SliverIndex, SliverPairIndex, SliverType};
use walrus_node_client::api::{
    self, ApiError, ApiSuccess, BlobStatus, ErrorReason, EventId, RecoverySymbolsRequest,
    BCS_CONTENT_TYPE, BLOB_STATUS_ENDPOINT, METADATA_ENDPOINT, RECOVERY_SYMBOLS_ENDPOINT,
    SLIVER_ENDPOINT,
};

/// The phrase of the warning the node logs on start (tests look for it).
pub const WARNING: &str = "TEST-ONLY FAULT INJECTION ENABLED";

/// Largest honest answer the layer reads to rewrite (larger ones pass unchanged).
const MAX_REWRITTEN_BODY: usize = 512 << 20;

/// How many blob IDs the node remembers for [`MetadataFault::OtherBlob`] and its siblings.
const REMEMBERED_BLOBS: usize = 64;

/// The behaviours of a byzantine node: at most one lie per route, any combination across
/// routes, and a timing that applies to all four routes. Every field is optional; an empty
/// file is an honest node. TOML, for example:
///
/// ```toml
/// metadata = "corrupt"                              # or "other_blob", "invalid",
///                                                   # { inflated = { entries = 4000000 } },
///                                                   # { oversize = { bytes = 100000000 } }
/// slivers = "other_index"                           # or "flip_byte", "other_blob", "invalid",
///                                                   # { huge_length = { claimed = 4294967295 } },
///                                                   # { oversize = { bytes = 100000000 } }
/// recovery_symbols = "forged"                       # or "flip_byte", "other_blob", "invalid",
///                                                   # { inflated = { symbols = 64, proof_nodes = 200000 } },
///                                                   # { oversize = { bytes = 100000000 } }
/// blob_status = "invalid"                           # or "nonexistent"
/// timing = { delay = { ms = 3000 } }                # or "hang", { trickle = { bytes_per_sec = 64 } }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// The lie of `GET metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataFault>,
    /// The lie of `GET sliver` (both axes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slivers: Option<SliverFault>,
    /// The lie of `GET recoverySymbols`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_symbols: Option<SymbolsFault>,
    /// The lie of `GET status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_status: Option<StatusFault>,
    /// How the answers of the four routes are delayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

/// Lies of `GET metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MetadataFault {
    /// A sliver hash changed: the metadata no longer verify against the blob ID.
    Corrupt,
    /// Another blob's genuine metadata, relabelled with the asked blob ID.
    OtherBlob,
    /// `entries` hashes, all `Node::Empty` (2 bytes each on the wire, 66 once decoded).
    Inflated {
        /// Number of hash pairs.
        entries: u64,
    },
    /// The honest answer followed by `bytes` bytes of zeros.
    Oversize {
        /// Extra bytes.
        bytes: u64,
    },
    /// 410 `BLOB_INVALID` for a blob that is valid.
    Invalid,
}

/// Lies of `GET sliver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SliverFault {
    /// The first data byte flipped.
    FlipByte,
    /// A genuine sliver of another pair of the same blob that the node holds, with its own
    /// (true) index; a node that holds one pair serves its sliver under another index.
    OtherIndex,
    /// A sliver of the same axis of another blob the node holds (genuine data; the same pair
    /// if it holds it), labelled with the asked index.
    OtherBlob,
    /// The data length prefix claims `claimed` bytes; the body is the short honest rest.
    HugeLength {
        /// The claimed data length.
        claimed: u64,
    },
    /// The honest answer followed by `bytes` bytes of zeros.
    Oversize {
        /// Extra bytes.
        bytes: u64,
    },
    /// 410 `BLOB_INVALID` for a blob that is valid.
    Invalid,
}

/// Lies of `GET recoverySymbols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SymbolsFault {
    /// The first byte of every symbol flipped.
    FlipByte,
    /// Well-formed symbols from every index `0..n` (honest size and proof depth) with
    /// made-up data and proofs, for the target asked (the first one asked, in the list form
    /// of the route).
    Forged,
    /// Another blob's genuine symbols for the same target (or the same symbol IDs).
    OtherBlob,
    /// `symbols` copies of an honest symbol, each with its proof padded by `proof_nodes`
    /// `Node::Empty` entries (1 byte each on the wire, 33 once decoded).
    Inflated {
        /// Number of symbols in the list.
        symbols: u64,
        /// Extra proof nodes per symbol.
        proof_nodes: u64,
    },
    /// The honest answer followed by `bytes` bytes of zeros.
    Oversize {
        /// Extra bytes.
        bytes: u64,
    },
    /// 410 `BLOB_INVALID` for a blob that is valid.
    Invalid,
}

/// Lies of `GET status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFault {
    /// Every blob is `nonexistent`.
    Nonexistent,
    /// Every blob is `invalid`.
    Invalid,
}

/// Slow answers (of the four data routes; the health route stays prompt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Timing {
    /// Wait `ms` milliseconds before answering.
    Delay {
        /// The delay.
        ms: u64,
    },
    /// Send the body at `bytes_per_sec` (in 100 ms steps).
    Trickle {
        /// The rate.
        bytes_per_sec: u64,
    },
    /// Never answer (until the node shuts down: then 503).
    Hang,
}

impl Faults {
    /// Whether no behaviour is set (an honest node).
    pub fn is_honest(&self) -> bool {
        *self == Self::default()
    }
}

/// Reads a faults file.
pub fn read_faults(path: &Path) -> anyhow::Result<Faults> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the faults file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid faults file {}", path.display()))
}

/// Writes a faults file atomically (a running byzantine node reads either the old or the
/// new file, never a half-written one).
pub fn write_faults(path: &Path, faults: &Faults) -> anyhow::Result<()> {
    let text = toml::to_string(faults).context("encoding the faults")?;
    let temporary = path.with_extension("toml.tmp");
    std::fs::write(&temporary, text)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The request a lie applies to, parsed from its route.
#[derive(Debug, Clone)]
enum Target {
    Metadata {
        blob_id: BlobId,
    },
    Sliver {
        blob_id: BlobId,
        pair: SliverPairIndex,
        axis: SliverType,
    },
    RecoverySymbols {
        blob_id: BlobId,
        request: RecoverySymbolsRequest,
    },
    Status {
        blob_id: BlobId,
    },
}

impl Target {
    fn parse(route: &str, uri: &Uri) -> Option<Self> {
        let blob_id = path_blob_id(uri)?;
        // `/v1/blobs/{blob_id}/slivers/{sliver_pair_index}/{sliver_type}`
        let segments: Vec<&str> = uri.path().split('/').collect();
        match route {
            METADATA_ENDPOINT => Some(Target::Metadata { blob_id }),
            SLIVER_ENDPOINT => Some(Target::Sliver {
                blob_id,
                pair: SliverPairIndex(segments.get(5)?.parse().ok()?),
                axis: segments.get(6)?.parse().ok()?,
            }),
            RECOVERY_SYMBOLS_ENDPOINT => Some(Target::RecoverySymbols {
                blob_id,
                request: RecoverySymbolsRequest::parse(uri.query()).ok()?,
            }),
            BLOB_STATUS_ENDPOINT => Some(Target::Status { blob_id }),
            _ => None,
        }
    }

    fn blob_id(&self) -> BlobId {
        match *self {
            Target::Metadata { blob_id }
            | Target::Sliver { blob_id, .. }
            | Target::RecoverySymbols { blob_id, .. }
            | Target::Status { blob_id } => blob_id,
        }
    }
}

/// The layer's state.
struct Byzantine {
    faults_path: PathBuf,
    /// The file's text and what it says, as last read.
    faults: Mutex<(String, Faults)>,
    /// Blob IDs the node answered for successfully, most recent first.
    seen: Mutex<VecDeque<BlobId>>,
    /// The honest router, for the node's own data (other pairs, other blobs).
    honest: Router,
    stopping: watch::Receiver<bool>,
}

/// Wraps the node's router (the `wrap` argument of [`walrus_node::run_with`]) with the
/// lies of the file `faults_path`, which holds `initial` now and is read again on every
/// request. `stopping` turns true when the node shuts down (hung answers then end).
pub fn wrap(
    router: Router,
    faults_path: PathBuf,
    initial: Faults,
    stopping: watch::Receiver<bool>,
) -> Router {
    let text = std::fs::read_to_string(&faults_path).unwrap_or_default();
    let state = Arc::new(Byzantine {
        faults_path,
        faults: Mutex::new((text, initial)),
        seen: Mutex::new(VecDeque::new()),
        honest: router.clone(),
        stopping,
    });
    router.layer(middleware::from_fn_with_state(state, inject))
}

impl Byzantine {
    /// The faults now: the file is read again and, if its text changed and parses, adopted.
    async fn current(&self) -> Faults {
        let text = tokio::fs::read_to_string(&self.faults_path)
            .await
            .unwrap_or_default();
        let mut faults = self.faults.lock().expect("the faults lock");
        if text != faults.0 {
            match toml::from_str::<Faults>(&text) {
                Ok(new) => {
                    tracing::warn!(faults = ?new, "{WARNING}: the faults changed");
                    *faults = (text, new);
                }
                Err(error) => {
                    tracing::error!(%error, "invalid faults file; keeping the previous faults")
                }
            }
        }
        faults.1.clone()
    }

    fn remember(&self, blob_id: BlobId) {
        let mut seen = self.seen.lock().expect("the seen lock");
        if seen.front() != Some(&blob_id) {
            seen.retain(|id| *id != blob_id);
            seen.push_front(blob_id);
            seen.truncate(REMEMBERED_BLOBS);
        }
    }

    fn others(&self, blob_id: BlobId) -> Vec<BlobId> {
        let seen = self.seen.lock().expect("the seen lock");
        seen.iter().copied().filter(|id| *id != blob_id).collect()
    }

    /// A successful answer of the honest router to `GET path`.
    async fn honest_get(&self, path: &str) -> Option<Bytes> {
        let request = Request::get(path).body(Body::empty()).ok()?;
        let response = self.honest.clone().oneshot(request).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        axum::body::to_bytes(response.into_body(), MAX_REWRITTEN_BODY)
            .await
            .ok()
    }

    /// The number of sliver pairs of `blob_id` (from the node's own metadata).
    async fn n_shards(&self, blob_id: &BlobId) -> Option<u16> {
        lies::metadata_pairs(&self.honest_get(&api::metadata_path(blob_id)).await?)
    }

    /// The first successful honest answer for another remembered blob, `path` giving the
    /// route for a blob ID.
    async fn other_blob(&self, blob_id: BlobId, path: impl Fn(&BlobId) -> String) -> Option<Bytes> {
        for other in self.others(blob_id) {
            if let Some(bytes) = self.honest_get(&path(&other)).await {
                return Some(bytes);
            }
        }
        None
    }

    /// The lie for `target` given the honest answer `honest` (a success, read in full).
    async fn lie(&self, faults: &Faults, target: Target, honest: &[u8]) -> Option<Response> {
        match target {
            Target::Metadata { blob_id } => match faults.metadata? {
                MetadataFault::Corrupt => lies::corrupt_metadata(honest).map(bcs_response),
                MetadataFault::OtherBlob => {
                    let other = self.other_blob(blob_id, api::metadata_path).await?;
                    lies::relabel_metadata(&other, blob_id).map(bcs_response)
                }
                MetadataFault::Inflated { entries } => {
                    lies::inflated_metadata(honest, entries).map(bcs_response)
                }
                MetadataFault::Oversize { bytes } => Some(oversize(honest, bytes)),
                MetadataFault::Invalid => Some(blob_invalid()),
            },
            Target::Sliver {
                blob_id,
                pair,
                axis,
            } => match faults.slivers? {
                SliverFault::FlipByte => lies::flip_sliver_byte(honest).map(bcs_response),
                SliverFault::OtherIndex => {
                    let n_shards = self.n_shards(&blob_id).await?;
                    for other in (0..n_shards).filter(|other| *other != pair.0) {
                        let path = api::sliver_path(&blob_id, SliverPairIndex(other), axis);
                        if let Some(bytes) = self.honest_get(&path).await {
                            return Some(bcs_response(bytes.to_vec()));
                        }
                    }
                    let index = lies::sliver_index(honest)?;
                    let other = SliverIndex((index.0 + 1) % n_shards);
                    lies::reindex_sliver(honest, other).map(bcs_response)
                }
                SliverFault::OtherBlob => {
                    // The pairs a node holds rotate with the blob ID: look at every pair.
                    let index = lies::sliver_index(honest)?;
                    let n_shards = self.n_shards(&blob_id).await?;
                    for other in (0..n_shards).map(|offset| (pair.0 + offset) % n_shards) {
                        let path =
                            |blob: &BlobId| api::sliver_path(blob, SliverPairIndex(other), axis);
                        if let Some(bytes) = self.other_blob(blob_id, path).await {
                            return lies::reindex_sliver(&bytes, index).map(bcs_response);
                        }
                    }
                    None
                }
                SliverFault::HugeLength { claimed } => {
                    lies::huge_length_sliver(honest, claimed).map(bcs_response)
                }
                SliverFault::Oversize { bytes } => Some(oversize(honest, bytes)),
                SliverFault::Invalid => Some(blob_invalid()),
            },
            Target::RecoverySymbols { blob_id, request } => match faults.recovery_symbols? {
                SymbolsFault::FlipByte => lies::flip_symbol_bytes(honest).map(bcs_response),
                SymbolsFault::Forged => {
                    let n_shards = self.n_shards(&blob_id).await?;
                    // For the list form: symbols of every index for the first target asked.
                    let (target, axis) = match &request {
                        RecoverySymbolsRequest::Target(query) => {
                            (query.target_index(), query.target_type)
                        }
                        RecoverySymbolsRequest::Ids { ids, proof_axis } => {
                            let axis = proof_axis.unwrap_or(SliverType::Secondary).orthogonal();
                            (ids.first()?.sliver_index(axis), axis)
                        }
                    };
                    lies::forged_symbols(honest, n_shards, target, axis).map(bcs_response)
                }
                SymbolsFault::OtherBlob => {
                    let other = self
                        .other_blob(blob_id, |other| match &request {
                            RecoverySymbolsRequest::Target(query) => api::recovery_symbols_path(
                                other,
                                query.target_index(),
                                query.target_type,
                            ),
                            RecoverySymbolsRequest::Ids { ids, proof_axis } => {
                                api::recovery_symbol_ids_path(other, ids, *proof_axis)
                            }
                        })
                        .await?;
                    Some(bcs_response(other.to_vec()))
                }
                SymbolsFault::Inflated {
                    symbols,
                    proof_nodes,
                } => {
                    let symbol = Bytes::from(lies::inflated_symbol(honest, proof_nodes)?);
                    let count = Bytes::from(lies::uleb128(symbols));
                    let body = futures::stream::iter(
                        std::iter::once(count)
                            .chain(std::iter::repeat_n(symbol, usize::try_from(symbols).ok()?))
                            .map(Ok::<_, std::convert::Infallible>),
                    );
                    Some(bcs_body(Body::from_stream(body)))
                }
                SymbolsFault::Oversize { bytes } => Some(oversize(honest, bytes)),
                SymbolsFault::Invalid => Some(blob_invalid()),
            },
            Target::Status { .. } => {
                let status = match faults.blob_status? {
                    StatusFault::Nonexistent => BlobStatus::Nonexistent,
                    StatusFault::Invalid => BlobStatus::Invalid {
                        event: EventId::default(),
                    },
                };
                Some((StatusCode::OK, Json(ApiSuccess::ok(status))).into_response())
            }
        }
    }

    /// Whether `faults` lie on `target` at all (otherwise the honest answer streams through).
    fn lies_on(faults: &Faults, target: &Target) -> bool {
        match target {
            Target::Metadata { .. } => faults.metadata.is_some(),
            Target::Sliver { .. } => faults.slivers.is_some(),
            Target::RecoverySymbols { .. } => faults.recovery_symbols.is_some(),
            Target::Status { .. } => faults.blob_status.is_some(),
        }
    }
}

fn bcs_body(body: Body) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(BCS_CONTENT_TYPE),
    );
    response
}

fn bcs_response(bytes: Vec<u8>) -> Response {
    bcs_body(Body::from(bytes))
}

/// The JSON error envelope of `reason`, with its HTTP status.
fn api_error(reason: ErrorReason, message: &str) -> Response {
    let status =
        StatusCode::from_u16(reason.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(ApiError::new(reason, message))).into_response()
}

fn blob_invalid() -> Response {
    api_error(ErrorReason::BlobInvalid, "the blob is invalid (a lie)")
}

/// `honest` followed by `bytes` zeros, streamed in 1 MiB chunks without a length.
fn oversize(honest: &[u8], bytes: u64) -> Response {
    const CHUNK: u64 = 1 << 20;
    let zeros = Bytes::from(vec![0u8; 1 << 20]);
    let full = bytes / CHUNK;
    let rest = usize::try_from(bytes % CHUNK).expect("less than a chunk");
    let chunks = std::iter::once(Bytes::copy_from_slice(honest))
        .chain((0..full).map(move |_| zeros.clone()))
        .chain(std::iter::once(Bytes::from(vec![0u8; rest])))
        .map(Ok::<_, std::convert::Infallible>);
    bcs_body(Body::from_stream(futures::stream::iter(chunks)))
}

/// `response` with its body sent at `bytes_per_sec`, ending early when the node stops.
fn trickle(response: Response, bytes_per_sec: u64, stopping: watch::Receiver<bool>) -> Response {
    let step = usize::try_from((bytes_per_sec / 10).max(1)).unwrap_or(usize::MAX);
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let pieces = body
        .into_data_stream()
        .flat_map(move |chunk| {
            let pieces: Vec<Result<Bytes, axum::Error>> = match chunk {
                Ok(bytes) => (0..bytes.len())
                    .step_by(step)
                    .map(|start| Ok(bytes.slice(start..(start + step).min(bytes.len()))))
                    .collect(),
                Err(error) => vec![Err(error)],
            };
            futures::stream::iter(pieces)
        })
        .then(|piece| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            piece
        })
        .take_until(async move {
            let mut stopping = stopping;
            let _ = stopping.wait_for(|stopping| *stopping).await;
        });
    Response::from_parts(parts, Body::from_stream(pieces))
}

/// The blob ID of a `/v1/blobs/{blob_id}/...` path.
fn path_blob_id(uri: &Uri) -> Option<BlobId> {
    uri.path()
        .strip_prefix("/v1/blobs/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// The middleware: the honest answer, then the lie and the timing the faults file says.
/// Every blob ID of a successful request (uploads included) is remembered.
async fn inject(State(state): State<Arc<Byzantine>>, request: Request, next: Next) -> Response {
    let target = request
        .extensions()
        .get::<MatchedPath>()
        .filter(|_| request.method() == Method::GET)
        .and_then(|route| Target::parse(route.as_str(), request.uri()));
    let Some(target) = target else {
        let blob_id = path_blob_id(request.uri());
        let response = next.run(request).await;
        if let Some(blob_id) = blob_id.filter(|_| response.status().is_success()) {
            state.remember(blob_id);
        }
        return response;
    };
    let faults = state.current().await;
    match faults.timing {
        Some(Timing::Delay { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Timing::Hang) => {
            let mut stopping = state.stopping.clone();
            let _ = stopping.wait_for(|stopping| *stopping).await;
            return api_error(ErrorReason::Unavailable, "shutting down");
        }
        Some(Timing::Trickle { .. }) | None => {}
    }
    let response = next.run(request).await;
    if response.status().is_success() {
        state.remember(target.blob_id());
    }
    let response = if (response.status().is_success() || matches!(target, Target::Status { .. }))
        && Byzantine::lies_on(&faults, &target)
    {
        let (parts, body) = response.into_parts();
        match axum::body::to_bytes(body, MAX_REWRITTEN_BODY).await {
            Ok(honest) => match state.lie(&faults, target, &honest).await {
                Some(lie) => lie,
                None => Response::from_parts(parts, Body::from(honest)),
            },
            Err(_) => Response::from_parts(parts, Body::empty()),
        }
    } else {
        response
    };
    match faults.timing {
        Some(Timing::Trickle { bytes_per_sec }) => {
            trickle(response, bytes_per_sec, state.stopping.clone())
        }
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_files_round_trip() {
        let faults = Faults {
            metadata: Some(MetadataFault::Inflated { entries: 4_000_000 }),
            slivers: Some(SliverFault::OtherIndex),
            recovery_symbols: Some(SymbolsFault::Inflated {
                symbols: 64,
                proof_nodes: 200_000,
            }),
            blob_status: Some(StatusFault::Invalid),
            timing: Some(Timing::Hang),
        };
        let dir = std::env::temp_dir().join(format!("byzantine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("faults.toml");
        write_faults(&path, &faults).unwrap();
        assert_eq!(read_faults(&path).unwrap(), faults);
        std::fs::remove_dir_all(&dir).unwrap();

        let example = r#"
metadata = "corrupt"
slivers = { huge_length = { claimed = 4294967295 } }
recovery_symbols = "forged"
blob_status = "nonexistent"
timing = { delay = { ms = 3000 } }
"#;
        let parsed: Faults = toml::from_str(example).unwrap();
        assert_eq!(parsed.metadata, Some(MetadataFault::Corrupt));
        assert_eq!(
            parsed.slivers,
            Some(SliverFault::HugeLength {
                claimed: u64::from(u32::MAX)
            })
        );
        assert_eq!(parsed.timing, Some(Timing::Delay { ms: 3000 }));
        assert!(toml::from_str::<Faults>("slivers = \"flip\"").is_err());
        assert!(toml::from_str::<Faults>("").unwrap().is_honest());
    }

    #[test]
    fn targets_parse_from_routes() {
        let blob_id = BlobId([7; 32]);
        let uri: Uri = api::sliver_path(&blob_id, SliverPairIndex(3), SliverType::Secondary)
            .parse()
            .unwrap();
        assert!(matches!(
            Target::parse(SLIVER_ENDPOINT, &uri),
            Some(Target::Sliver {
                pair: SliverPairIndex(3),
                axis: SliverType::Secondary,
                ..
            })
        ));
        let uri: Uri = api::recovery_symbols_path(&blob_id, SliverIndex(2), SliverType::Primary)
            .parse()
            .unwrap();
        match Target::parse(RECOVERY_SYMBOLS_ENDPOINT, &uri) {
            Some(Target::RecoverySymbols {
                request: RecoverySymbolsRequest::Target(query),
                ..
            }) => {
                assert_eq!(query.target_index(), SliverIndex(2));
            }
            other => panic!("{other:?}"),
        }
        let ids = [api::SymbolId::new(SliverIndex(4), SliverIndex(1))];
        let uri: Uri = api::recovery_symbol_ids_path(&blob_id, &ids, Some(SliverType::Secondary))
            .parse()
            .unwrap();
        match Target::parse(RECOVERY_SYMBOLS_ENDPOINT, &uri) {
            Some(Target::RecoverySymbols {
                request: RecoverySymbolsRequest::Ids { ids: parsed, .. },
                ..
            }) => assert_eq!(parsed, ids),
            other => panic!("{other:?}"),
        }
        let uri: Uri = api::metadata_path(&blob_id).parse().unwrap();
        assert!(Target::parse(METADATA_ENDPOINT, &uri).is_some());
        assert!(Target::parse("/v1/health", &uri).is_none());
    }
}
