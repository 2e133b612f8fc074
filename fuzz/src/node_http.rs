//! Context and input format of the `node_http` target: a real [`StorageNode`] behind the real
//! axum router of `walrus-node` (`walrus_node::server::router`), driven in-process with
//! `tower::ServiceExt::oneshot` (no sockets, no hyper), over a redb store in a temporary
//! directory holding a few blobs in known states.
//!
//! The node's world (built once per process, [`fixture`]):
//!
//! - committee: one member, the node itself (BLS key from seed [`NODE_KEY_SEED`]), holding
//!   all [`N_SHARDS`] shards in epoch [`EPOCH`] (no chain: the view is built from its public
//!   fields);
//! - blob `A` ([`Blobs::a`]): registered permanent (certified) and as the deletable object
//!   [`OBJECT_A`] (certified); its metadata and **every** sliver pair are stored, so reads,
//!   recovery symbols, confirmations and (idempotent) re-uploads of valid data succeed;
//! - blob `B`: registered as the deletable object [`OBJECT_B`], nothing stored (uploads are
//!   admitted and reach the decoders and verifiers; confirmations miss slivers);
//! - blob `C`: registered, then proven invalid (its data deleted: reads answer 410);
//! - blob `D`: registered, but its storage ended in [`EPOCH`] (expired: uploads refused);
//! - registration wait 0 ms (a request for an unknown blob does not sleep), small limits.
//!
//! Every upload a fuzz input can make is either refused or a re-upload of data already
//! stored (valid data of `B` would need a preimage of its blob ID), so the store never
//! changes across inputs and the target is deterministic.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Uri},
    Router,
};
use tower::ServiceExt;
use walrus_core::{
    crypto::{Committee, CommitteeMember, ProtocolKeyPair},
    encoding::{encode_blob, EncodedBlob, EncodingConfig},
    BlobId, Epoch, ObjectId, ShardIndex,
};
use walrus_node::{
    committee::{CommitteeView, MemberInfo},
    config::RequestLimits,
    metrics::Metrics,
    store::{BlobObjectInfo, EventEffect, NodeStore},
    StorageNode,
};
use walrus_node_client::api::{
    EventCursor, EventId, TransactionDigest, API_DOCS_ENDPOINT, BLOB_STATUS_ENDPOINT,
    DECODING_SYMBOLS_ENDPOINT, DELETABLE_CONFIRMATION_ENDPOINT, HEALTH_ENDPOINT,
    INCONSISTENCY_PROOF_ENDPOINT, METADATA_ENDPOINT, METADATA_STATUS_ENDPOINT, METRICS_ENDPOINT,
    PERMANENT_CONFIRMATION_ENDPOINT, RECOVERY_SYMBOLS_ENDPOINT, SLIVER_ENDPOINT,
    SLIVER_STATUS_ENDPOINT, SYNC_SHARD_ENDPOINT,
};

/// Shard count of the node's committee (n = 10, f = 3).
pub const N_SHARDS: u16 = 10;
/// The committee's epoch.
pub const EPOCH: Epoch = 1;
/// Seed of the node's BLS key.
pub const NODE_KEY_SEED: [u8; 32] = [7; 32];
/// The deletable blob object of blob `A` (certified).
pub const OBJECT_A: ObjectId = ObjectId([0xa1; 32]);
/// The deletable blob object of blob `B` (registered, not certified).
pub const OBJECT_B: ObjectId = ObjectId([0xb1; 32]);
/// A blob ID the node has never heard of.
pub const UNKNOWN_BLOB: BlobId = BlobId([0x55; 32]);
/// The node's `max_body_bytes` (below the largest legitimate inconsistency proof of `A`, so
/// the global cap is exercised too).
pub const MAX_BODY_BYTES: usize = 4096;
/// The largest response body the target reads (the OpenAPI document is ~40 KB).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// How long one request may take before the target reports a hang (far below libFuzzer's
/// `-timeout`, so a hang is reported with the request).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// The node's request limits (tiny: the target sends one request at a time anyway). The
/// `..Default` keeps this building when `RequestLimits` gains a field.
#[allow(clippy::needless_update)]
pub fn limits() -> RequestLimits {
    RequestLimits {
        max_concurrent_symbol_requests: 1,
        max_queued_symbol_requests: 2,
        max_registration_waits: 2,
        body_timeout_ms: 5_000,
        ..RequestLimits::default()
    }
}

/// The encoding configuration of the node's committee.
pub fn config() -> &'static EncodingConfig {
    static CONFIG: OnceLock<EncodingConfig> = OnceLock::new();
    CONFIG.get_or_init(|| EncodingConfig::new(N_SHARDS).expect("10 shards is a valid count"))
}

/// The blobs the node knows (deterministic encodings; no node needed).
pub struct Blobs {
    /// Registered, certified, everything stored.
    pub a: EncodedBlob,
    /// Registered (deletable, [`OBJECT_B`]), nothing stored.
    pub b: EncodedBlob,
    /// Proven invalid.
    pub c: EncodedBlob,
    /// Expired.
    pub d: EncodedBlob,
}

impl Blobs {
    /// The blob IDs of `A`, `B`, `C`, `D` and [`UNKNOWN_BLOB`], in the order
    /// [`BlobSel::Known`] indexes them.
    pub fn ids(&self) -> [BlobId; 5] {
        [
            *self.a.metadata.blob_id(),
            *self.b.metadata.blob_id(),
            *self.c.metadata.blob_id(),
            *self.d.metadata.blob_id(),
            UNKNOWN_BLOB,
        ]
    }

    /// Blob `A`'s ID.
    pub fn a_id(&self) -> BlobId {
        *self.a.metadata.blob_id()
    }
}

fn blob_bytes(length: usize, salt: u8) -> Vec<u8> {
    (0..length)
        .map(|i| u8::try_from((i * 31 + usize::from(salt)) % 251).expect("reduced mod 251"))
        .collect()
}

/// The fixed blobs.
pub fn blobs() -> &'static Blobs {
    static BLOBS: OnceLock<Blobs> = OnceLock::new();
    BLOBS.get_or_init(|| {
        let encode =
            |length, salt| encode_blob(config(), &blob_bytes(length, salt)).expect("encodes");
        Blobs {
            a: encode(1000, 1),
            b: encode(700, 2),
            c: encode(300, 3),
            d: encode(50, 4),
        }
    })
}

/// The node behind its router, and the runtime that drives it.
pub struct Fixture {
    /// Current-thread runtime (timers enabled; `spawn_blocking` has its own pool).
    pub runtime: tokio::runtime::Runtime,
    /// `walrus_node::server::router(node)`.
    pub router: Router,
    /// The node (for its public key and committee).
    pub node: Arc<StorageNode>,
}

/// A response, fully read.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Fixture {
    /// Sends `request` to the router and reads the whole response; panics if that takes longer
    /// than [`REQUEST_DEADLINE`] or the body is larger than [`MAX_RESPONSE_BYTES`].
    pub fn send(&self, request: Request<Body>) -> Answer {
        let description = format!("{} {}", request.method(), request.uri());
        self.runtime.block_on(async {
            let exchange = async {
                let response = self
                    .router
                    .clone()
                    .oneshot(request)
                    .await
                    .unwrap_or_else(|never| match never {});
                let (parts, body) = response.into_parts();
                let body = axum::body::to_bytes(body, MAX_RESPONSE_BYTES)
                    .await
                    .unwrap_or_else(|error| panic!("{description}: reading the response: {error}"));
                Answer {
                    status: parts.status,
                    headers: parts.headers,
                    body,
                }
            };
            tokio::time::timeout(REQUEST_DEADLINE, exchange)
                .await
                .unwrap_or_else(|_| {
                    panic!("{description}: no response within {REQUEST_DEADLINE:?}")
                })
        })
    }
}

/// The node, built once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let blobs = blobs();
    let keys = ProtocolKeyPair::from_seed(NODE_KEY_SEED);
    let public_key = keys.public().clone();
    let shards: Vec<ShardIndex> = (0..N_SHARDS).map(ShardIndex).collect();
    let committee = Committee::new(
        EPOCH,
        N_SHARDS,
        vec![CommitteeMember {
            public_key: public_key.clone(),
            weight: N_SHARDS,
        }],
    )
    .expect("one member holding every shard");
    let view = CommitteeView {
        epoch: EPOCH,
        n_shards: N_SHARDS,
        committee,
        members: vec![MemberInfo {
            node_id: ObjectId([0x0d; 32]),
            public_key,
            url: "http://127.0.0.1:1".to_owned(),
            network_public_key: Vec::new(),
            shards: shards.clone(),
        }],
        own_index: Some(0),
        own_shards: shards.into_iter().collect(),
        previous: None,
        in_transition: false,
    };

    // The store lives in a fresh directory that is unlinked right after the database is
    // open: redb keeps its file handle, and nothing is left behind when libFuzzer exits
    // without running destructors.
    let dir = std::env::temp_dir().join(format!("walrus-fuzz-node-http-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = NodeStore::open(&dir).expect("open the node store");
    std::fs::remove_dir_all(&dir).expect("unlink the node store's directory");
    populate(&store, blobs);

    let node = Arc::new(
        StorageNode::new(
            Arc::new(store),
            keys,
            view,
            Metrics::new(),
            Duration::ZERO,
            limits(),
            MAX_BODY_BYTES,
        )
        .expect("node over a fresh store"),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let router = walrus_node::server::router(node.clone());
    Fixture {
        runtime,
        router,
        node,
    }
}

fn populate(store: &NodeStore, blobs: &Blobs) {
    let mut checkpoint = 0;
    let mut event =
        |blob_id: &BlobId,
         update: &dyn Fn(&mut walrus_node::store::BlobInfo, EventId) -> EventEffect| {
            checkpoint += 1;
            let cursor = EventCursor {
                checkpoint,
                event_index: 0,
            };
            let id = EventId {
                tx_digest: TransactionDigest([checkpoint.to_le_bytes()[0]; 32]),
                event_seq: 0,
            };
            store
                .apply_event(cursor, Some(blob_id), |info| update(info, id))
                .expect("apply an event");
        };
    let object = |deletable, end_epoch, certified_epoch, event| BlobObjectInfo {
        deletable,
        end_epoch,
        certified_epoch,
        event,
    };
    let [a, b, c, d, _] = blobs.ids();

    event(&a, &|info, id| {
        info.objects.insert(
            ObjectId([0xa0; 32]),
            object(false, EPOCH + 100, Some(EPOCH), id),
        );
        info.objects
            .insert(OBJECT_A, object(true, EPOCH + 100, Some(EPOCH), id));
        EventEffect::None
    });
    let stored = blobs.a.metadata.as_unverified();
    store
        .put_metadata(&stored.blob_id, &stored.metadata)
        .expect("store metadata");
    for pair in &blobs.a.sliver_pairs {
        store
            .put_sliver(&a, pair.index(), pair.primary.clone(), &[])
            .expect("store a sliver");
        store
            .put_sliver(&a, pair.index(), pair.secondary.clone(), &[])
            .expect("store a sliver");
    }

    event(&b, &|info, id| {
        info.objects
            .insert(OBJECT_B, object(true, EPOCH + 100, None, id));
        EventEffect::None
    });

    event(&c, &|info, id| {
        info.objects.insert(
            ObjectId([0xc0; 32]),
            object(false, EPOCH + 100, Some(EPOCH), id),
        );
        EventEffect::None
    });
    let c_metadata = blobs.c.metadata.as_unverified();
    store
        .put_metadata(&c_metadata.blob_id, &c_metadata.metadata)
        .expect("store metadata");
    event(&c, &|info, id| {
        info.invalid = Some(id);
        EventEffect::DeleteData
    });

    event(&d, &|info, id| {
        info.objects
            .insert(ObjectId([0xd0; 32]), object(false, EPOCH, None, id));
        EventEffect::None
    });
}

// ---------------------------------------------------------------------------------------------
// Input format.
// ---------------------------------------------------------------------------------------------

/// HTTP methods an input can use (index `% len`).
pub const METHODS: [&str; 9] = [
    "GET", "PUT", "POST", "HEAD", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
];

/// The node's routes, in the order [`Input::route`] selects them (`% ROUTES.len() + 1`; the
/// last choice, [`RAW_ROUTE`], is a fully arbitrary path).
pub const ROUTES: [&str; 14] = [
    METADATA_ENDPOINT,
    METADATA_STATUS_ENDPOINT,
    SLIVER_ENDPOINT,
    SLIVER_STATUS_ENDPOINT,
    PERMANENT_CONFIRMATION_ENDPOINT,
    DELETABLE_CONFIRMATION_ENDPOINT,
    RECOVERY_SYMBOLS_ENDPOINT,
    INCONSISTENCY_PROOF_ENDPOINT,
    SYNC_SHARD_ENDPOINT,
    BLOB_STATUS_ENDPOINT,
    HEALTH_ENDPOINT,
    API_DOCS_ENDPOINT,
    METRICS_ENDPOINT,
    DECODING_SYMBOLS_ENDPOINT,
];
/// The route choice meaning "the raw path is the whole path".
pub const RAW_ROUTE: u8 = ROUTES.len() as u8;

/// The `{blob_id}` of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSel {
    /// `A`, `B`, `C`, `D`, unknown (index into [`Blobs::ids`]).
    Known(u8),
    /// Any 32 bytes, as base64url.
    Raw([u8; 32]),
    /// Any bytes as the path segment.
    Text(Vec<u8>),
}

/// A `{sliver_type}` or `targetType` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AxisSel {
    /// `primary`.
    Primary,
    /// `secondary`.
    Secondary,
    /// Any bytes.
    Text(Vec<u8>),
}

/// The `{object_id}` of the deletable confirmation path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectSel {
    /// [`OBJECT_A`].
    A,
    /// [`OBJECT_B`].
    B,
    /// Any 32 bytes, as `0x` + hex.
    Raw([u8; 32]),
    /// Any bytes.
    Text(Vec<u8>),
}

/// The query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuerySel {
    /// No `?`.
    None,
    /// `targetSliver=<u16>&targetType=<axis>`.
    Symbols(u16, AxisSel),
    /// Any bytes after `?`.
    Text(Vec<u8>),
    /// The canonical query followed by `&` and any bytes.
    SymbolsAnd(u16, AxisSel, Vec<u8>),
    /// `pending=true` (uploads before the registration).
    Pending,
    /// `targetSlivers=<u16>,<u16>&targetType=<axis>` (decoding symbols).
    Decoding(u16, u16, AxisSel),
}

/// The `Content-Length` header(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LengthSel {
    /// No header.
    None,
    /// The body's true length.
    Exact,
    /// Any number (a lie, mostly).
    Value(u64),
    /// Any bytes (skipped if not a valid header value).
    Text(Vec<u8>),
    /// Two headers: the true length, then any number.
    Twice(u64),
}

/// One fuzz input, decoded from bytes by [`Input::decode`] (never fails: missing bytes read
/// as zeros) and encoded by [`Input::encode`] (for the seeds).
///
/// Layout: `method u8 | route u8 | blob | pair u16 LE | axis | object | query | length |
/// chunks u8 | suffix | body...`, where a selector is one byte (`% variants`) followed by
/// its payload, and text is `len u8 | bytes`. `chunks`: low 4 bits = number of body chunks (0:
/// one in-memory body), bit 7 = the stream ends with an I/O error. `suffix` is appended to
/// the path (for [`RAW_ROUTE`] it is the whole path). The body is the rest of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Index into [`METHODS`].
    pub method: u8,
    /// Index into [`ROUTES`], or [`RAW_ROUTE`].
    pub route: u8,
    /// `{blob_id}`.
    pub blob: BlobSel,
    /// `{sliver_pair_index}` (decimal).
    pub pair: u16,
    /// `{sliver_type}`.
    pub axis: AxisSel,
    /// `{object_id}`.
    pub object: ObjectSel,
    /// The query.
    pub query: QuerySel,
    /// `Content-Length`.
    pub length: LengthSel,
    /// Body chunking (see the type's docs).
    pub chunks: u8,
    /// Appended to the path; the whole path for [`RAW_ROUTE`].
    pub suffix: Vec<u8>,
    /// The body.
    pub body: Vec<u8>,
}

impl Default for Input {
    fn default() -> Self {
        Self {
            method: 0,
            route: 0,
            blob: BlobSel::Known(0),
            pair: 0,
            axis: AxisSel::Primary,
            object: ObjectSel::A,
            query: QuerySel::None,
            length: LengthSel::None,
            chunks: 0,
            suffix: Vec::new(),
            body: Vec::new(),
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&byte, rest)) => {
                self.0 = rest;
                byte
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        bytes.iter_mut().for_each(|byte| *byte = self.u8());
        u64::from_le_bytes(bytes)
    }
    fn array(&mut self) -> [u8; 32] {
        let mut bytes = [0; 32];
        bytes.iter_mut().for_each(|byte| *byte = self.u8());
        bytes
    }
    fn text(&mut self) -> Vec<u8> {
        let length = usize::from(self.u8()).min(self.0.len());
        let (text, rest) = self.0.split_at(length);
        self.0 = rest;
        text.to_vec()
    }
    fn axis(&mut self) -> AxisSel {
        match self.u8() % 3 {
            0 => AxisSel::Primary,
            1 => AxisSel::Secondary,
            _ => AxisSel::Text(self.text()),
        }
    }
}

fn put_text(out: &mut Vec<u8>, text: &[u8]) {
    let length = u8::try_from(text.len()).expect("seed texts are at most 255 bytes");
    out.push(length);
    out.extend_from_slice(text);
}

fn put_axis(out: &mut Vec<u8>, axis: &AxisSel) {
    match axis {
        AxisSel::Primary => out.push(0),
        AxisSel::Secondary => out.push(1),
        AxisSel::Text(text) => {
            out.push(2);
            put_text(out, text);
        }
    }
}

impl Input {
    /// Decodes any bytes.
    pub fn decode(data: &[u8]) -> Self {
        let mut r = Reader(data);
        let method = r.u8() % METHODS.len() as u8;
        let route = r.u8() % (RAW_ROUTE + 1);
        let blob = match r.u8() % 7 {
            selector @ 0..=4 => BlobSel::Known(selector),
            5 => BlobSel::Raw(r.array()),
            _ => BlobSel::Text(r.text()),
        };
        let pair = r.u16();
        let axis = r.axis();
        let object = match r.u8() % 4 {
            0 => ObjectSel::A,
            1 => ObjectSel::B,
            2 => ObjectSel::Raw(r.array()),
            _ => ObjectSel::Text(r.text()),
        };
        let query = match r.u8() % 6 {
            0 => QuerySel::None,
            1 => {
                let target = r.u16();
                QuerySel::Symbols(target, r.axis())
            }
            2 => QuerySel::Text(r.text()),
            3 => {
                let target = r.u16();
                let axis = r.axis();
                QuerySel::SymbolsAnd(target, axis, r.text())
            }
            4 => QuerySel::Pending,
            _ => {
                let (first, second) = (r.u16(), r.u16());
                QuerySel::Decoding(first, second, r.axis())
            }
        };
        let length = match r.u8() % 5 {
            0 => LengthSel::None,
            1 => LengthSel::Exact,
            2 => LengthSel::Value(r.u64()),
            3 => LengthSel::Text(r.text()),
            _ => LengthSel::Twice(r.u64()),
        };
        let chunks = r.u8();
        let suffix = r.text();
        Self {
            method,
            route,
            blob,
            pair,
            axis,
            object,
            query,
            length,
            chunks,
            suffix,
            body: r.0.to_vec(),
        }
    }

    /// The bytes [`Input::decode`] turns into `self`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.method, self.route];
        match &self.blob {
            BlobSel::Known(index) => out.push(*index),
            BlobSel::Raw(bytes) => {
                out.push(5);
                out.extend_from_slice(bytes);
            }
            BlobSel::Text(text) => {
                out.push(6);
                put_text(&mut out, text);
            }
        }
        out.extend_from_slice(&self.pair.to_le_bytes());
        put_axis(&mut out, &self.axis);
        match &self.object {
            ObjectSel::A => out.push(0),
            ObjectSel::B => out.push(1),
            ObjectSel::Raw(bytes) => {
                out.push(2);
                out.extend_from_slice(bytes);
            }
            ObjectSel::Text(text) => {
                out.push(3);
                put_text(&mut out, text);
            }
        }
        match &self.query {
            QuerySel::None => out.push(0),
            QuerySel::Symbols(target, axis) => {
                out.push(1);
                out.extend_from_slice(&target.to_le_bytes());
                put_axis(&mut out, axis);
            }
            QuerySel::Text(text) => {
                out.push(2);
                put_text(&mut out, text);
            }
            QuerySel::SymbolsAnd(target, axis, text) => {
                out.push(3);
                out.extend_from_slice(&target.to_le_bytes());
                put_axis(&mut out, axis);
                put_text(&mut out, text);
            }
            QuerySel::Pending => out.push(4),
            QuerySel::Decoding(first, second, axis) => {
                out.push(5);
                out.extend_from_slice(&first.to_le_bytes());
                out.extend_from_slice(&second.to_le_bytes());
                put_axis(&mut out, axis);
            }
        }
        match &self.length {
            LengthSel::None => out.push(0),
            LengthSel::Exact => out.push(1),
            LengthSel::Value(value) => {
                out.push(2);
                out.extend_from_slice(&value.to_le_bytes());
            }
            LengthSel::Text(text) => {
                out.push(3);
                put_text(&mut out, text);
            }
            LengthSel::Twice(value) => {
                out.push(4);
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        out.push(self.chunks);
        put_text(&mut out, &self.suffix);
        out.extend_from_slice(&self.body);
        out
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        Method::from_bytes(METHODS[usize::from(self.method) % METHODS.len()].as_bytes())
            .expect("standard methods")
    }

    /// The blob ID the path names, if it names one of the fixed ones or raw bytes.
    pub fn blob_id(&self) -> Option<BlobId> {
        match &self.blob {
            BlobSel::Known(index) => blobs().ids().get(usize::from(*index)).copied(),
            BlobSel::Raw(bytes) => Some(BlobId(*bytes)),
            BlobSel::Text(_) => None,
        }
    }

    /// The object ID the path names, if not free text.
    pub fn object_id(&self) -> Option<ObjectId> {
        match &self.object {
            ObjectSel::A => Some(OBJECT_A),
            ObjectSel::B => Some(OBJECT_B),
            ObjectSel::Raw(bytes) => Some(ObjectId(*bytes)),
            ObjectSel::Text(_) => None,
        }
    }

    /// The route template, unless the path is raw.
    pub fn template(&self) -> Option<&'static str> {
        ROUTES.get(usize::from(self.route)).copied()
    }

    /// Whether the path and query are exactly a route's (no suffix, no free text in a
    /// parameter), so the route's handler runs with these parameters.
    pub fn is_canonical(&self) -> bool {
        let template = self.template();
        self.suffix.is_empty()
            && template.is_some()
            && !matches!(self.blob, BlobSel::Text(_))
            && !(template.is_some_and(|t| t.contains("{sliver_type}"))
                && matches!(self.axis, AxisSel::Text(_)))
            && !(template.is_some_and(|t| t.contains("{object_id}"))
                && matches!(self.object, ObjectSel::Text(_)))
    }

    /// The path and query, as bytes (not necessarily a valid URI).
    pub fn path_and_query(&self) -> Vec<u8> {
        let axis_text = |axis: &AxisSel| match axis {
            AxisSel::Primary => b"primary".to_vec(),
            AxisSel::Secondary => b"secondary".to_vec(),
            AxisSel::Text(text) => text.clone(),
        };
        let mut path = match self.template() {
            None => self.suffix.clone(),
            Some(template) => {
                let blob = match &self.blob {
                    BlobSel::Text(text) => text.clone(),
                    _ => self.blob_id().expect("not text").to_string().into_bytes(),
                };
                let object = match &self.object {
                    ObjectSel::Text(text) => text.clone(),
                    _ => self.object_id().expect("not text").to_string().into_bytes(),
                };
                let mut path = fill(
                    template,
                    &[
                        ("{blob_id}", &blob),
                        ("{sliver_pair_index}", self.pair.to_string().as_bytes()),
                        ("{sliver_type}", &axis_text(&self.axis)),
                        ("{object_id}", &object),
                    ],
                );
                path.extend_from_slice(&self.suffix);
                path
            }
        };
        let canonical = |target: u16, axis: &AxisSel| {
            let mut query = format!("targetSliver={target}&targetType=").into_bytes();
            query.extend(axis_text(axis));
            query
        };
        match &self.query {
            QuerySel::None => {}
            QuerySel::Symbols(target, axis) => {
                path.push(b'?');
                path.extend(canonical(*target, axis));
            }
            QuerySel::Text(text) => {
                path.push(b'?');
                path.extend_from_slice(text);
            }
            QuerySel::SymbolsAnd(target, axis, text) => {
                path.push(b'?');
                path.extend(canonical(*target, axis));
                path.push(b'&');
                path.extend_from_slice(text);
            }
            QuerySel::Pending => path.extend_from_slice(b"?pending=true"),
            QuerySel::Decoding(first, second, axis) => {
                path.extend(format!("?targetSlivers={first},{second}&targetType=").into_bytes());
                path.extend(axis_text(axis));
            }
        }
        path
    }

    /// The request. The path is used as is when it is a valid URI; otherwise the bytes a URI
    /// cannot hold are percent-encoded (and a missing leading `/` is added).
    pub fn request(&self) -> Request<Body> {
        let uri = to_uri(self.path_and_query());
        let mut builder = Request::builder().method(self.method()).uri(uri);
        let headers = builder.headers_mut().expect("valid method and URI");
        let true_length = self.body.len() as u64;
        match &self.length {
            LengthSel::None => {}
            LengthSel::Exact => {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(true_length));
            }
            LengthSel::Value(value) => {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(*value));
            }
            LengthSel::Text(text) => {
                if let Ok(value) = HeaderValue::from_bytes(text) {
                    headers.insert(header::CONTENT_LENGTH, value);
                }
            }
            LengthSel::Twice(value) => {
                headers.append(header::CONTENT_LENGTH, HeaderValue::from(true_length));
                headers.append(header::CONTENT_LENGTH, HeaderValue::from(*value));
            }
        }
        builder.body(self.body()).expect("valid request parts")
    }

    fn body(&self) -> Body {
        let pieces = usize::from(self.chunks & 0x0f);
        let fails = self.chunks & 0x80 != 0;
        if pieces == 0 && !fails {
            return Body::from(self.body.clone());
        }
        let size = self.body.len().div_ceil(pieces.max(1)).max(1);
        let mut items: Vec<Result<Bytes, std::io::Error>> = self
            .body
            .chunks(size)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        if fails {
            items.push(Err(std::io::Error::other("the client went away")));
        }
        Body::from_stream(futures_util::stream::iter(items))
    }
}

/// `template` with each `{name}` replaced by its bytes.
fn fill(template: &str, params: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let end = rest[start..].find('}').expect("balanced template") + start + 1;
        let name = &rest[start..end];
        let value = params
            .iter()
            .find(|(param, _)| *param == name)
            .unwrap_or_else(|| panic!("no value for {name} in {template}"))
            .1;
        out.extend_from_slice(value);
        rest = &rest[end..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// A URI from arbitrary path-and-query bytes.
pub fn to_uri(mut bytes: Vec<u8>) -> Uri {
    if bytes.first() != Some(&b'/') {
        bytes.insert(0, b'/');
    }
    if let Ok(uri) = Uri::try_from(bytes.as_slice()) {
        return uri;
    }
    // First keep `%` (the input may hold its own escapes), then escape it too.
    for keep in [&b"/?&=-._~!$'()*+,;:@%"[..], &b"/?&="[..]] {
        if let Ok(uri) = Uri::try_from(escape(&bytes, keep).as_str()) {
            return uri;
        }
    }
    panic!("escaped path {:?} is not a URI", escape(&bytes, b"/?&="))
}

fn escape(bytes: &[u8], keep: &[u8]) -> String {
    let mut escaped = String::with_capacity(bytes.len() * 3);
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || keep.contains(&byte) {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    escaped
}
