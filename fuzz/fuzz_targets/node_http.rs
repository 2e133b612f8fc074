//! The storage node's HTTP API with arbitrary methods, paths, queries, `Content-Length`
//! headers and bodies: the real router of `walrus-node` over a real `StorageNode` and redb
//! store (see `walrus_fuzz::node_http` for the node's fixed world and the input layout),
//! driven in-process, one request per input.
//!
//! Every response must satisfy:
//!
//! - the request finishes (within `REQUEST_DEADLINE`; libFuzzer's `-timeout` is the backstop)
//!   and nothing panics (libfuzzer-sys aborts on a panic in any thread, so a panic inside the
//!   node's `spawn_blocking` work is a crash too, not only a 500);
//! - **no 500**: the store is healthy and never changes, so `INTERNAL` can only mean a bug
//!   (a store error or a panicked blocking task turned into an answer);
//! - **no 201**: every valid upload an input can make is already stored, so "stored" means
//!   the node accepted data it cannot have verified;
//! - every error (4xx/5xx) is the JSON `ApiError` whose `code` is the HTTP status and whose
//!   `reason` is a known `ErrorReason` with that status and canonical name (a wrong method
//!   on an existing route included: METHOD_NOT_ALLOWED, found by this target);
//! - every JSON success is the `ApiSuccess` envelope with the HTTP status as its code (the
//!   OpenAPI document at `/v1/api` excepted);
//! - data is only served for blob `A` and is exactly what was stored: metadata and slivers
//!   byte-equal to the encoder's, recovery symbols that verify against `A`'s metadata for the
//!   requested target, confirmations signed by the node's key over the right message; a
//!   re-upload answered 200 carries the stored value; an inconsistency proof against the
//!   honest blob `A` is never accepted.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{header, Method, StatusCode, Uri};
use libfuzzer_sys::fuzz_target;
use walrus_core::{
    encoding::{
        EitherDecodingSymbol, EncodingAxis, GeneralRecoverySymbol, Primary, Secondary, SliverData,
    },
    messages::{BlobPersistenceType, Confirmation, StorageConfirmation},
    metadata::{BlobMetadata, BlobMetadataWithId},
    SliverIndex, SliverPairIndex, SliverType,
};
use walrus_fuzz::node_http::{blobs, fixture, Answer, AxisSel, Input, QuerySel, EPOCH, OBJECT_A};
use walrus_node_client::api::{
    ApiError, ApiSuccess, ErrorReason, API_DOCS_ENDPOINT, BCS_CONTENT_TYPE,
    DECODING_SYMBOLS_ENDPOINT, DELETABLE_CONFIRMATION_ENDPOINT, INCONSISTENCY_PROOF_ENDPOINT, JSON_CONTENT_TYPE,
    METADATA_ENDPOINT, METRICS_ENDPOINT, PERMANENT_CONFIRMATION_ENDPOINT,
    RECOVERY_SYMBOLS_ENDPOINT, SLIVER_ENDPOINT,
};

fn content_type(answer: &Answer) -> &str {
    answer
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

fn check_error(context: &str, answer: &Answer) {
    assert!(
        content_type(answer).starts_with(JSON_CONTENT_TYPE),
        "{context}: error without a JSON body: {answer:?}"
    );
    let error: ApiError = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{context}: error body is not an ApiError ({e}): {answer:?}"));
    let status = answer.status.as_u16();
    assert_eq!(
        error.error.code, status,
        "{context}: code != status: {answer:?}"
    );
    let reason: ErrorReason = error
        .reason()
        .unwrap_or_else(|| panic!("{context}: unknown reason: {answer:?}"));
    assert_eq!(
        reason.http_status(),
        status,
        "{context}: reason/status: {answer:?}"
    );
    assert_eq!(
        error.error.status,
        reason.status(),
        "{context}: status name: {answer:?}"
    );
    if matches!(reason, ErrorReason::RateLimited | ErrorReason::Unavailable) {
        assert!(
            answer.headers.contains_key(header::RETRY_AFTER),
            "{context}: load shed without Retry-After: {answer:?}"
        );
    }
}

/// The sliver of blob `A` of axis `T` in pair `pair`.
fn stored_sliver<T: EncodingAxis>(pair: u16) -> Option<Vec<u8>> {
    let pair = blobs()
        .a
        .sliver_pairs
        .iter()
        .find(|stored| stored.index() == SliverPairIndex(pair))?;
    Some(
        match T::TYPE {
            SliverType::Primary => bcs::to_bytes(&pair.primary),
            SliverType::Secondary => bcs::to_bytes(&pair.secondary),
        }
        .expect("slivers encode"),
    )
}

fn stored_sliver_of(axis: &AxisSel, pair: u16) -> Option<Vec<u8>> {
    match axis {
        AxisSel::Primary => stored_sliver::<Primary>(pair),
        AxisSel::Secondary => stored_sliver::<Secondary>(pair),
        AxisSel::Text(_) => None,
    }
}

fn check_symbols(context: &str, input: &Input, body: &[u8]) {
    let symbols: Vec<GeneralRecoverySymbol> =
        bcs::from_bytes(body).unwrap_or_else(|e| panic!("{context}: symbols do not decode: {e}"));
    let metadata = &blobs().a.metadata;
    let (target, axis) = match &input.query {
        QuerySel::Symbols(target, axis @ (AxisSel::Primary | AxisSel::Secondary))
        | QuerySel::SymbolsAnd(target, axis @ (AxisSel::Primary | AxisSel::Secondary), _) => {
            (*target, axis.clone())
        }
        // A free-text query (or target type) that parsed: only self-consistency is checked.
        _ => {
            let Some(first) = symbols.first() else { return };
            let axis = match first.target_type() {
                SliverType::Primary => AxisSel::Primary,
                SliverType::Secondary => AxisSel::Secondary,
            };
            (first.target_index.get(), axis)
        }
    };
    let target = SliverIndex(target);
    for symbol in symbols {
        let verified = match axis {
            AxisSel::Primary => symbol
                .into_recovery_symbol::<Primary>(target)
                .and_then(|symbol| symbol.verify(metadata, target)),
            AxisSel::Secondary => symbol
                .into_recovery_symbol::<Secondary>(target)
                .and_then(|symbol| symbol.verify(metadata, target)),
            AxisSel::Text(_) => unreachable!("the axis is a parsed one"),
        };
        if let Err(error) = verified {
            panic!("{context}: the node served a recovery symbol that does not verify: {error}");
        }
    }
}

/// A `decodingSymbols` answer: for each requested target, symbols that are exactly symbol
/// `target` of the stored source sliver they name (of the axis orthogonal to the target's).
fn check_decoding_symbols(context: &str, input: &Input, body: &[u8]) {
    let answer: BTreeMap<u16, Vec<EitherDecodingSymbol>> = bcs::from_bytes(body)
        .unwrap_or_else(|e| panic!("{context}: decoding symbols do not decode: {e}"));
    if let (true, QuerySel::Decoding(first, second, AxisSel::Primary | AxisSel::Secondary)) =
        (input.is_canonical(), &input.query)
    {
        let (first, second) = (*first, *second);
        let asked: BTreeSet<u16> = [first, second].into();
        assert!(
            answer.keys().copied().eq(asked.iter().copied()),
            "{context}: answered targets {:?}, asked {asked:?}",
            answer.keys()
        );
    }
    let pairs = &blobs().a.sliver_pairs;
    for (&target, symbols) in &answer {
        let target = usize::from(target);
        for symbol in symbols {
            // A primary target's symbols come from secondary slivers, and the reverse.
            let (index, data, stored) = match symbol {
                EitherDecodingSymbol::Primary(symbol) => (
                    symbol.index,
                    &symbol.data,
                    pairs
                        .iter()
                        .find(|pair| pair.secondary.index.get() == symbol.index)
                        .and_then(|pair| pair.secondary.symbols.get(target)),
                ),
                EitherDecodingSymbol::Secondary(symbol) => (
                    symbol.index,
                    &symbol.data,
                    pairs
                        .iter()
                        .find(|pair| pair.primary.index.get() == symbol.index)
                        .and_then(|pair| pair.primary.symbols.get(target)),
                ),
            };
            assert!(
                stored == Some(&data[..]),
                "{context}: decoding symbol {target} of source sliver {index} differs from stored"
            );
        }
    }
}

fn check_confirmation(context: &str, input: &Input, template: &str, body: &[u8]) {
    let a = blobs().a_id();
    assert_eq!(
        input.blob_id(),
        Some(a),
        "{context}: confirmation for a blob not stored"
    );
    let blob_type = if template == DELETABLE_CONFIRMATION_ENDPOINT {
        let object_id = input
            .object_id()
            .unwrap_or_else(|| panic!("{context}: confirmation for free-text object"));
        assert_eq!(
            object_id, OBJECT_A,
            "{context}: confirmation for a foreign object"
        );
        BlobPersistenceType::Deletable { object_id }
    } else {
        BlobPersistenceType::Permanent
    };
    let success: ApiSuccess<StorageConfirmation> = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{context}: not a confirmation: {e}"));
    let StorageConfirmation::Signed(signed) = success.into_data();
    signed
        .verify_signature(fixture().node.keys().public())
        .unwrap_or_else(|e| panic!("{context}: confirmation signature: {e}"));
    let message = signed
        .decode_message()
        .unwrap_or_else(|e| panic!("{context}: confirmation message: {e}"));
    assert!(
        message == Confirmation::for_blob(EPOCH, a, blob_type),
        "{context}: signed the wrong confirmation"
    );
}

fn check_success(context: &str, input: &Input, method: &Method, uri: &Uri, answer: &Answer) {
    let a = blobs().a_id();
    let kind = content_type(answer);
    // What the route grammar says was asked (free-text parameters and suffixes only get the
    // generic checks).
    let template = input.is_canonical().then(|| input.template()).flatten();

    if kind.starts_with(BCS_CONTENT_TYPE) {
        assert_eq!(*method, Method::GET, "{context}: BCS answer to a non-GET");
        let metadata_bytes =
            bcs::to_bytes(blobs().a.metadata.as_unverified()).expect("metadata encode");
        match template {
            Some(METADATA_ENDPOINT) => {
                assert_eq!(
                    input.blob_id(),
                    Some(a),
                    "{context}: metadata of a blob not stored"
                );
                assert!(
                    answer.body == metadata_bytes,
                    "{context}: metadata differ from stored"
                );
            }
            Some(SLIVER_ENDPOINT) => {
                assert_eq!(
                    input.blob_id(),
                    Some(a),
                    "{context}: sliver of a blob not stored"
                );
                let stored = stored_sliver_of(&input.axis, input.pair);
                assert!(
                    stored.as_deref() == Some(&answer.body[..]),
                    "{context}: sliver differs from stored"
                );
            }
            Some(RECOVERY_SYMBOLS_ENDPOINT) => {
                assert_eq!(
                    input.blob_id(),
                    Some(a),
                    "{context}: symbols of a blob not stored"
                );
                check_symbols(context, input, &answer.body);
            }
            Some(DECODING_SYMBOLS_ENDPOINT) => {
                assert_eq!(
                    input.blob_id(),
                    Some(a),
                    "{context}: decoding symbols of a blob not stored"
                );
                check_decoding_symbols(context, input, &answer.body);
            }
            Some(other) => panic!("{context}: BCS answer from {other}"),
            None => {
                // Some route behind a non-canonical path: the bytes are still stored data.
                let known = answer.body == metadata_bytes
                    || blobs().a.sliver_pairs.iter().any(|pair| {
                        answer.body == bcs::to_bytes(&pair.primary).expect("encode")
                            || answer.body == bcs::to_bytes(&pair.secondary).expect("encode")
                    })
                    || bcs::from_bytes::<Vec<GeneralRecoverySymbol>>(&answer.body).is_ok();
                assert!(known, "{context}: BCS answer that is no stored data");
            }
        }
        return;
    }

    if uri.path() == METRICS_ENDPOINT {
        assert!(
            kind.starts_with("text/plain"),
            "{context}: metrics content type"
        );
        return;
    }
    assert!(
        kind.starts_with(JSON_CONTENT_TYPE),
        "{context}: success that is neither BCS nor JSON: {answer:?}"
    );
    let json: serde_json::Value = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{context}: invalid JSON ({e}): {answer:?}"));
    if uri.path() == API_DOCS_ENDPOINT {
        return;
    }
    assert_eq!(
        json["success"]["code"].as_u64(),
        Some(u64::from(answer.status.as_u16())),
        "{context}: success envelope: {answer:?}"
    );

    match template {
        Some(INCONSISTENCY_PROOF_ENDPOINT) => {
            panic!("{context}: an inconsistency proof against the honest blob A was accepted")
        }
        Some(t @ (PERMANENT_CONFIRMATION_ENDPOINT | DELETABLE_CONFIRMATION_ENDPOINT)) => {
            check_confirmation(context, input, t, &answer.body)
        }
        Some(METADATA_ENDPOINT) if *method == Method::PUT => {
            assert_eq!(
                input.blob_id(),
                Some(a),
                "{context}: metadata accepted for {uri}"
            );
            let metadata: BlobMetadata = bcs::from_bytes(&input.body)
                .unwrap_or_else(|e| panic!("{context}: accepted undecodable metadata: {e}"));
            assert!(
                BlobMetadataWithId {
                    blob_id: a,
                    metadata
                } == *blobs().a.metadata.as_unverified(),
                "{context}: accepted metadata that differ from the stored ones"
            );
        }
        Some(SLIVER_ENDPOINT) if *method == Method::PUT => {
            assert_eq!(
                input.blob_id(),
                Some(a),
                "{context}: sliver accepted for {uri}"
            );
            let same = match input.axis {
                AxisSel::Primary => {
                    bcs::from_bytes::<SliverData<Primary>>(&input.body)
                        .ok()
                        .map(|s| bcs::to_bytes(&s).expect("encode"))
                        == stored_sliver::<Primary>(input.pair)
                }
                AxisSel::Secondary => {
                    bcs::from_bytes::<SliverData<Secondary>>(&input.body)
                        .ok()
                        .map(|s| bcs::to_bytes(&s).expect("encode"))
                        == stored_sliver::<Secondary>(input.pair)
                }
                AxisSel::Text(_) => false,
            };
            assert!(
                same,
                "{context}: accepted a sliver that differs from the stored one"
            );
        }
        _ => {}
    }
}

fn check(input: &Input, method: &Method, uri: &Uri, answer: &Answer) {
    let context = format!("{method} {uri}");
    let context = context.as_str();
    assert_ne!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{context}: internal error: {answer:?}"
    );
    assert_ne!(
        answer.status,
        StatusCode::CREATED,
        "{context}: the node stored something new: {answer:?}"
    );
    if *method == Method::HEAD {
        // HEAD answers carry no body; status checks only.
        return;
    }
    if answer.status.is_client_error() || answer.status.is_server_error() {
        check_error(context, answer);
    } else if answer.status.is_success() {
        check_success(context, input, method, uri, answer);
    } else {
        panic!("{context}: unexpected status class: {answer:?}");
    }
}

/// With `WALRUS_FUZZ_TRACE` set, every request and the start of its answer go to stderr
/// (e.g. to see what the seeds reach: `cargo fuzz run node_http corpus -- -runs=0`).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("WALRUS_FUZZ_TRACE").is_some())
}

fuzz_target!(
    init: {
        walrus_fuzz::seeds::init("node_http");
        let _ = fixture();
    },
    |data: &[u8]| {
        let input = Input::decode(data);
        let request = input.request();
        let method = request.method().clone();
        let uri = request.uri().clone();
        let answer = fixture().send(request);
        if trace() {
            let shown = &answer.body[..answer.body.len().min(160)];
            eprintln!("{method} {uri} -> {} {}", answer.status, String::from_utf8_lossy(shown));
        }
        check(&input, &method, &uri, &answer);
    }
);
