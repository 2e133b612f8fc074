//! An in-memory [`BlobSource`] that counts its reads, and helpers to call a router.

#![allow(dead_code)]

use std::{
    collections::HashMap,
    ops::Range,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, Request, StatusCode},
    Router,
};
use futures::{future::BoxFuture, StreamExt};
use tower::ServiceExt;
use walrus_aggregator::{BlobObjectInfo, BlobSource};
use walrus_chain::client::ClientError;
use walrus_core::{
    encoding::{ConsistencyCheck, EncodingConfig},
    quilt::{read_index, read_patch, QuiltIndex, QuiltLayout, QuiltPatchId},
    BlobId, ObjectId,
};
use walrus_sdk::client::{BlobStream, PatchSelection, ReadPatch, SdkError};

/// Shards of the network the mock's quilts are packed for.
pub const QUILT_SHARDS: u16 = 10;

/// Blobs and objects in memory; unknown blobs are `BlobNotFound`, unknown objects
/// `Chain(NotFound)`.
#[derive(Default)]
pub struct MockSource {
    pub blobs: Mutex<HashMap<BlobId, Vec<u8>>>,
    pub objects: Mutex<HashMap<ObjectId, BlobObjectInfo>>,
    /// Blobs that fail: `"invalid"` or `"unavailable"`.
    pub failing: Mutex<HashMap<BlobId, &'static str>>,
    /// Delay of every whole read.
    pub read_delay: Option<Duration>,
    /// If set, every whole or range read first takes (and consumes) a permit of it: reads
    /// block until the test adds permits.
    pub gate: Option<Arc<tokio::sync::Semaphore>>,
    /// Whole or range reads dropped before they finished.
    pub cancelled: AtomicUsize,
    pub reads: AtomicUsize,
    pub range_reads: AtomicUsize,
    pub size_calls: AtomicUsize,
    pub streams: AtomicUsize,
    /// Quilt reads (index, patches or a patch).
    pub quilt_reads: AtomicUsize,
    /// The consistency check of every whole read and stream, in order.
    pub checks: Mutex<Vec<ConsistencyCheck>>,
    /// Bytes per chunk of a stream (1000 if 0).
    pub stream_chunk: usize,
    /// If set, streams fail after this many chunks.
    pub stream_fails_after: Option<usize>,
}

impl MockSource {
    pub fn add(&self, blob_id: BlobId, bytes: Vec<u8>) {
        self.blobs.lock().unwrap().insert(blob_id, bytes);
    }

    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    pub fn streams(&self) -> usize {
        self.streams.load(Ordering::SeqCst)
    }

    pub fn checks(&self) -> Vec<ConsistencyCheck> {
        self.checks.lock().unwrap().clone()
    }

    pub fn range_reads(&self) -> usize {
        self.range_reads.load(Ordering::SeqCst)
    }

    pub fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Waits for the gate (if any), counting the read as cancelled if dropped meanwhile.
    async fn pass_gate(&self) -> CancelCounter<'_> {
        let counter = CancelCounter {
            source: self,
            finished: false,
        };
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        counter
    }

    /// The quilt `quilt_id` (packed for [`QUILT_SHARDS`] shards) and its layout.
    fn quilt(&self, quilt_id: &BlobId) -> Result<(Vec<u8>, QuiltLayout), SdkError> {
        self.quilt_reads.fetch_add(1, Ordering::SeqCst);
        let bytes = self.lookup(quilt_id)?;
        let config = EncodingConfig::new(QUILT_SHARDS).unwrap();
        let layout = QuiltLayout::of(&config, bytes.len() as u64)?;
        Ok((bytes, layout))
    }

    fn lookup(&self, blob_id: &BlobId) -> Result<Vec<u8>, SdkError> {
        match self.failing.lock().unwrap().get(blob_id) {
            Some(&"invalid") => return Err(SdkError::BlobInvalid(*blob_id)),
            Some(_) => {
                return Err(SdkError::NotEnoughSlivers {
                    blob_id: *blob_id,
                    detail: "only 2 of 7 nodes answered".to_owned(),
                })
            }
            None => {}
        }
        self.blobs
            .lock()
            .unwrap()
            .get(blob_id)
            .cloned()
            .ok_or(SdkError::BlobNotFound(*blob_id))
    }
}

/// Counts a read dropped before it finished as cancelled.
struct CancelCounter<'a> {
    source: &'a MockSource,
    finished: bool,
}

impl Drop for CancelCounter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.source.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl BlobSource for MockSource {
    fn blob_size<'a>(&'a self, blob_id: &'a BlobId) -> BoxFuture<'a, Result<u64, SdkError>> {
        self.size_calls.fetch_add(1, Ordering::SeqCst);
        let result = self.lookup(blob_id).map(|bytes| bytes.len() as u64);
        Box::pin(async move { result })
    }

    fn read<'a>(
        &'a self,
        blob_id: &'a BlobId,
        check: ConsistencyCheck,
    ) -> BoxFuture<'a, Result<Vec<u8>, SdkError>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.checks.lock().unwrap().push(check);
        Box::pin(async move {
            let mut counter = self.pass_gate().await;
            if let Some(delay) = self.read_delay {
                tokio::time::sleep(delay).await;
            }
            counter.finished = true;
            self.lookup(blob_id)
        })
    }

    fn read_stream<'a>(
        &'a self,
        blob_id: &'a BlobId,
        check: ConsistencyCheck,
    ) -> BoxFuture<'a, Result<BlobStream, SdkError>> {
        self.streams.fetch_add(1, Ordering::SeqCst);
        self.checks.lock().unwrap().push(check);
        Box::pin(async move {
            let mut counter = self.pass_gate().await;
            counter.finished = true;
            let bytes = self.lookup(blob_id)?;
            let chunk = if self.stream_chunk == 0 {
                1000
            } else {
                self.stream_chunk
            };
            let mut chunks: Vec<Result<Bytes, SdkError>> = bytes
                .chunks(chunk)
                .map(|piece| Ok(Bytes::copy_from_slice(piece)))
                .collect();
            if let Some(after) = self.stream_fails_after {
                chunks.truncate(after);
                chunks.push(Err(SdkError::NotEnoughSlivers {
                    blob_id: *blob_id,
                    detail: "the nodes went away mid-read".to_owned(),
                }));
            }
            Ok(BlobStream {
                size: bytes.len() as u64,
                chunks: futures::stream::iter(chunks).boxed(),
            })
        })
    }

    fn read_range<'a>(
        &'a self,
        blob_id: &'a BlobId,
        range: Range<u64>,
    ) -> BoxFuture<'a, Result<Vec<u8>, SdkError>> {
        self.range_reads.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let mut counter = self.pass_gate().await;
            counter.finished = true;
            let bytes = self.lookup(blob_id)?;
            let size = bytes.len() as u64;
            if range.start > range.end || range.end > size {
                return Err(SdkError::InvalidRange {
                    start: range.start,
                    end: range.end,
                    size,
                });
            }
            let index = |value: u64| usize::try_from(value).unwrap();
            Ok(bytes[index(range.start)..index(range.end)].to_vec())
        })
    }

    fn quilt_index<'a>(
        &'a self,
        quilt_id: &'a BlobId,
    ) -> BoxFuture<'a, Result<QuiltIndex, SdkError>> {
        let result = self
            .quilt(quilt_id)
            .and_then(|(bytes, layout)| Ok(read_index(bytes.as_slice(), &layout)?));
        Box::pin(async move { result })
    }

    fn quilt_patches<'a>(
        &'a self,
        quilt_id: &'a BlobId,
        selection: &'a PatchSelection,
    ) -> BoxFuture<'a, Result<Vec<ReadPatch>, SdkError>> {
        let result = self.quilt(quilt_id).and_then(|(bytes, layout)| {
            let index = read_index(bytes.as_slice(), &layout)?;
            let patches = match selection {
                PatchSelection::All => index.patches.iter().collect(),
                PatchSelection::Identifiers(identifiers) => index.by_identifiers(identifiers)?,
                PatchSelection::Tag { key, value } => index.by_tag(key, value),
            };
            patches
                .into_iter()
                .map(|patch| {
                    Ok(ReadPatch {
                        patch_id: patch.patch_id(*quilt_id),
                        file: read_patch(
                            bytes.as_slice(),
                            &layout,
                            patch.start_index,
                            patch.end_index,
                        )?,
                    })
                })
                .collect()
        });
        Box::pin(async move { result })
    }

    fn quilt_patch<'a>(
        &'a self,
        patch_id: &'a QuiltPatchId,
    ) -> BoxFuture<'a, Result<ReadPatch, SdkError>> {
        let result = self.quilt(&patch_id.quilt_id).and_then(|(bytes, layout)| {
            Ok(ReadPatch {
                patch_id: *patch_id,
                file: read_patch(
                    bytes.as_slice(),
                    &layout,
                    patch_id.start_index,
                    patch_id.end_index,
                )?,
            })
        });
        Box::pin(async move { result })
    }

    fn blob_object(&self, object_id: ObjectId) -> BoxFuture<'_, Result<BlobObjectInfo, SdkError>> {
        let result = self
            .objects
            .lock()
            .unwrap()
            .get(&object_id)
            .cloned()
            .ok_or_else(|| SdkError::Chain(ClientError::NotFound(object_id.to_string())));
        Box::pin(async move { result })
    }
}

/// A response's parts.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap())
            .unwrap_or_else(|| panic!("no header {name}: {:?}", self.headers))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// The `reason` of an `ApiError` body.
    pub fn reason(&self) -> String {
        self.json()["error"]["reason"]
            .as_str()
            .expect("an ApiError")
            .to_owned()
    }
}

/// Sends `method path` with `headers` to `app`.
pub async fn call(app: &Router, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let (answer, body) = call_body(app, method, path, headers).await;
    Answer {
        body: body.expect("a complete body"),
        ..answer
    }
}

/// Sends `method path` with `headers` to `app`; the body may fail part way (a stream cut).
pub async fn call_body(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (Answer, Result<Bytes, axum::Error>) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    (
        Answer {
            status,
            headers,
            body: Bytes::new(),
        },
        body,
    )
}

/// `GET path`.
pub async fn get(app: &Router, path: &str) -> Answer {
    call(app, "GET", path, &[]).await
}
