//! Seed corpora: valid inputs for every fuzz target, built from the same fixtures the targets
//! verify against, so that the fuzzer starts past the decoders and inside the verification code
//! (valid Merkle proofs and BLS signatures are out of reach of blind mutation).
//!
//! Every target calls [`init`] once at start-up: with `WALRUS_FUZZ_WRITE_SEEDS=<dir>` in the
//! environment it writes that target's seeds to `<dir>/seed-*` and exits, so the seeds come
//! from the already built fuzz binary (no second, uninstrumented build). Deterministic: the same
//! files every run.

use std::{fs, path::PathBuf};

use crate::{committee, consistent, inconsistent, keys, merkle_tree, BAD_ROW, EPOCH, N_SHARDS};
use walrus_core::{
    encoding::{
        encode_blob, recover_sliver, EncodedBlob, EncodingAxis, EncodingConfig, ExpandedSliver,
        GeneralRecoverySymbol, InconsistencyProof, InconsistencyProofEither, Primary,
        RecoveryError, RecoverySymbol, Secondary, Sliver, SliverData,
    },
    messages::{
        BlobPersistenceType, Confirmation, InvalidBlobIdMsg, ProofOfPossessionMsg,
        ProtocolMessageCertificate, ProtocolMessageKind, StorageConfirmation,
    },
    metadata::VerifiedBlobMetadataWithId,
    BlobId, ObjectId, SliverIndex, SliverType,
};

/// Writes numbered seed files into one directory.
struct TargetWriter {
    dir: PathBuf,
    next: usize,
}

impl TargetWriter {
    fn put(&mut self, bytes: impl AsRef<[u8]>) {
        let path = self.dir.join(format!("seed-{:03}", self.next));
        fs::write(&path, bytes)
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        self.next += 1;
    }
}

/// All slivers of axis `T` of `encoded`, indexed by sliver index.
fn slivers<T: EncodingAxis>(encoded: &EncodedBlob) -> Vec<SliverData<T>> {
    let mut slivers: Vec<SliverData<T>> = encoded
        .sliver_pairs
        .iter()
        .map(|pair| {
            let (symbols, index) = match T::TYPE {
                SliverType::Primary => (pair.primary.symbols.clone(), pair.primary.index),
                SliverType::Secondary => (pair.secondary.symbols.clone(), pair.secondary.index),
            };
            SliverData::new(symbols, index)
        })
        .collect();
    slivers.sort_by_key(|sliver| sliver.index);
    slivers
}

/// Recovery symbols for sliver `target` of axis `T`, from the given source indices.
fn symbols_for<T: EncodingAxis>(
    encoded: &EncodedBlob,
    target: u16,
    sources: impl IntoIterator<Item = u16>,
) -> Vec<RecoverySymbol<T>> {
    let all = slivers::<T::Orthogonal>(encoded);
    sources
        .into_iter()
        .map(|source| {
            ExpandedSliver::new(&all[usize::from(source)], encoded.metadata.layout())
                .expect("fixture slivers expand")
                .recovery_symbol(SliverIndex(target))
                .expect("in-range target")
        })
        .collect()
}

fn typed_seed<T: EncodingAxis>(mode: u8, target: u16, symbols: &[RecoverySymbol<T>]) -> Vec<u8> {
    let mut bytes = vec![mode];
    bytes.extend_from_slice(&target.to_le_bytes());
    bytes.extend(bcs::to_bytes(symbols).expect("symbols encode"));
    bytes
}

fn general_seed<T: EncodingAxis>(target: u16, symbols: &[RecoverySymbol<T>]) -> Vec<u8> {
    let general: Vec<GeneralRecoverySymbol> = symbols
        .iter()
        .map(|symbol| {
            GeneralRecoverySymbol::from_recovery_symbol(symbol.clone(), SliverIndex(target))
        })
        .collect();
    let mut bytes = vec![0];
    bytes.extend(bcs::to_bytes(&general).expect("symbols encode"));
    bytes
}

fn metadata_seeds(out: &mut TargetWriter) {
    let seed = |n: u16, metadata: &VerifiedBlobMetadataWithId| {
        let mut bytes = vec![u8::try_from(n - 1).expect("n <= 64")];
        bytes.extend(bcs::to_bytes(metadata.as_unverified()).expect("metadata encode"));
        bytes
    };
    out.put(seed(N_SHARDS, &consistent().metadata));
    out.put(seed(N_SHARDS, &inconsistent().metadata));
    for (n, length) in [(1u16, 0usize), (4, 1), (10, 1000), (64, 3000)] {
        let config = EncodingConfig::new(n).expect("valid shard count");
        let blob: Vec<u8> = (0..length).map(|i| (i % 251) as u8).collect();
        out.put(seed(
            n,
            &encode_blob(&config, &blob).expect("encodes").metadata,
        ));
    }
}

fn sliver_seeds(out: &mut TargetWriter) {
    for pair in consistent().sliver_pairs.iter().take(3) {
        out.put(bcs::to_bytes(&Sliver::Primary(pair.primary.clone())).expect("encode"));
        out.put(bcs::to_bytes(&Sliver::Secondary(pair.secondary.clone())).expect("encode"));
        out.put(bcs::to_bytes(&pair.primary).expect("encode"));
        out.put(bcs::to_bytes(&pair.secondary).expect("encode"));
    }
    let bad = &inconsistent().sliver_pairs[BAD_ROW].primary;
    out.put(bcs::to_bytes(&Sliver::Primary(bad.clone())).expect("encode"));
}

fn recovery_seeds(out: &mut TargetWriter) {
    let config = consistent().metadata.config();
    let k_primary = u16::try_from(config.n_symbols_in_sliver(SliverType::Primary)).expect("small");
    let k_secondary =
        u16::try_from(config.n_symbols_in_sliver(SliverType::Secondary)).expect("small");
    for encoded in [consistent(), inconsistent()] {
        for target in [0u16, BAD_ROW as u16, N_SHARDS - 1] {
            // Exactly enough symbols, and all of them (duplicates and surplus included).
            let primary = symbols_for::<Primary>(encoded, target, 0..k_primary);
            out.put(typed_seed(1, target, &primary));
            out.put(general_seed(target, &primary));
            let all = symbols_for::<Primary>(encoded, target, (0..N_SHARDS).rev());
            out.put(typed_seed(1, target, &all));
            let secondary = symbols_for::<Secondary>(encoded, target, 0..k_secondary);
            out.put(typed_seed(2, target, &secondary));
            out.put(general_seed(target, &secondary));
            let all = symbols_for::<Secondary>(encoded, target, 0..N_SHARDS);
            out.put(typed_seed(2, target, &all));
        }
    }
    // Mixed axes and targets in one API response.
    let mut mixed = symbols_for::<Primary>(consistent(), 2, 0..k_primary)
        .into_iter()
        .map(|symbol| GeneralRecoverySymbol::from_recovery_symbol(symbol, SliverIndex(2)))
        .collect::<Vec<_>>();
    mixed.extend(
        symbols_for::<Secondary>(consistent(), 4, 1..=k_secondary)
            .into_iter()
            .map(|symbol| GeneralRecoverySymbol::from_recovery_symbol(symbol, SliverIndex(4))),
    );
    let mut bytes = vec![0];
    bytes.extend(bcs::to_bytes(&mixed).expect("encode"));
    out.put(bytes);
}

fn inconsistency_seeds(out: &mut TargetWriter) {
    let config = consistent().metadata.config();
    let k_primary = u16::try_from(config.n_symbols_in_sliver(SliverType::Primary)).expect("small");
    let k_secondary =
        u16::try_from(config.n_symbols_in_sliver(SliverType::Secondary)).expect("small");
    let bad = u16::try_from(BAD_ROW).expect("small");

    // Valid proofs for the inconsistent fixture, as recover_sliver produces them.
    let symbols = symbols_for::<Primary>(inconsistent(), bad, 0..N_SHARDS);
    match recover_sliver(&inconsistent().metadata, SliverIndex(bad), symbols) {
        Err(RecoveryError::Inconsistent(proof)) => out.put(bcs::to_bytes(&*proof).expect("encode")),
        other => panic!(
            "expected an inconsistency, got {:?}",
            other.map(|s| s.index)
        ),
    }
    let symbols = symbols_for::<Secondary>(inconsistent(), 3, [0, bad, 2]);
    match recover_sliver(&inconsistent().metadata, SliverIndex(3), symbols) {
        Err(RecoveryError::Inconsistent(proof)) => out.put(bcs::to_bytes(&*proof).expect("encode")),
        other => eprintln!(
            "note: no secondary inconsistency from rows 0, {bad}, 2: {:?}",
            other.map(|s| s.index)
        ),
    }

    // Well-formed proofs of consistent slivers (refused as "not inconsistent").
    for encoded in [consistent(), inconsistent()] {
        let proof: InconsistencyProofEither = InconsistencyProof {
            target_sliver_index: SliverIndex(0),
            recovery_symbols: symbols_for::<Primary>(encoded, 0, 0..k_primary),
        }
        .into();
        out.put(bcs::to_bytes(&proof).expect("encode"));
        let proof: InconsistencyProofEither = InconsistencyProof {
            target_sliver_index: SliverIndex(5),
            recovery_symbols: symbols_for::<Secondary>(encoded, 5, 3..3 + k_secondary),
        }
        .into();
        out.put(bcs::to_bytes(&proof).expect("encode"));
    }
}

fn certificate_bytes<T: ProtocolMessageKind>(message: &T, signers: &[u16]) -> Vec<u8> {
    let signed: Vec<_> = signers
        .iter()
        .map(|&index| keys()[usize::from(index)].sign_message(message))
        .collect();
    let certificate =
        ProtocolMessageCertificate::<T>::from_signed_messages_and_indices(&signed, signers)
            .expect("identical messages, distinct signers");
    bcs::to_bytes(&certificate).expect("encode")
}

fn message_seeds(out: &mut TargetWriter) {
    let blob_id = *consistent().metadata.blob_id();
    let permanent = Confirmation::for_blob(EPOCH, blob_id, BlobPersistenceType::Permanent);
    let deletable = Confirmation::for_blob(
        EPOCH,
        blob_id,
        BlobPersistenceType::Deletable {
            object_id: ObjectId([0x42; 32]),
        },
    );
    let invalid = InvalidBlobIdMsg::new(EPOCH, blob_id);
    let key = &keys()[0];
    let pop = ProofOfPossessionMsg::for_key(EPOCH, [7; 32], key.public().clone());

    // Bare messages.
    out.put(permanent.to_bcs_bytes());
    out.put(deletable.to_bcs_bytes());
    out.put(invalid.to_bcs_bytes());
    out.put(pop.to_bcs_bytes());

    // Signed messages, BCS and JSON.
    for (index, key) in keys().iter().enumerate() {
        let signed = key.sign_message(&permanent);
        out.put(bcs::to_bytes(&signed).expect("encode"));
        if index == 0 {
            out.put(serde_json::to_vec(&signed).expect("json"));
            out.put(
                serde_json::to_vec(&StorageConfirmation::Signed(signed.clone())).expect("json"),
            );
            out.put(bcs::to_bytes(&key.sign_message(&deletable)).expect("encode"));
            out.put(bcs::to_bytes(&key.sign_message(&invalid)).expect("encode"));
            out.put(serde_json::to_vec(&key.sign_message(&invalid)).expect("json"));
        }
    }

    // Certificates: a quorum (weights 2 + 3 + 4 of 10), a validity set (4), a short one (1 + 2).
    out.put(certificate_bytes(&permanent, &[1, 2, 3]));
    out.put(certificate_bytes(&deletable, &[3, 2, 1, 0]));
    out.put(certificate_bytes(&invalid, &[3]));
    out.put(certificate_bytes(&invalid, &[0, 1]));
    let signed: Vec<_> = [2u16, 3]
        .iter()
        .map(|&index| keys()[usize::from(index)].sign_message(&permanent))
        .collect();
    let certificate = ProtocolMessageCertificate::<Confirmation>::from_signed_messages_and_indices(
        &signed,
        &[2, 3],
    )
    .expect("aggregates");
    out.put(serde_json::to_vec(&certificate).expect("json"));

    // A signer bitmap, and key || address || proof of possession.
    let n_members = committee().n_members();
    out.put(walrus_core::crypto::signers_to_bitmap(&[1, 2, 3], n_members).expect("bitmap"));
    let mut pop_bytes = key.public().as_ref().to_vec();
    pop_bytes.extend_from_slice(&[7; 32]);
    pop_bytes.extend_from_slice(key.proof_of_possession([7; 32], EPOCH).as_ref());
    out.put(pop_bytes);
}

/// Quilts of a few shard counts with patches read back, and their patch IDs as text.
fn quilt_seeds(out: &mut TargetWriter) {
    use walrus_core::quilt::{encode_quilt, QuiltFile};
    for n in [4u16, 7, 10] {
        let config = walrus_core::encoding::EncodingConfig::new(n).expect("valid shard count");
        let files = [
            QuiltFile::new("a.txt", b"hello quilt".to_vec()),
            QuiltFile::new("b", vec![7; 300])
                .with_tags([("k".to_string(), "v".to_string())].into_iter().collect()),
        ];
        let quilt = encode_quilt(&config, &files).expect("a small quilt");
        for patch in &quilt.index.patches {
            let mut seed = vec![(n - 4) as u8];
            seed.extend_from_slice(&patch.start_index.to_le_bytes());
            seed.extend_from_slice(&patch.end_index.to_le_bytes());
            seed.extend_from_slice(&quilt.bytes);
            out.put(seed);
            out.put(patch.patch_id(BlobId([n as u8; 32])).to_string());
        }
    }
}

fn id_seeds(out: &mut TargetWriter) {
    let blob_id = *consistent().metadata.blob_id();
    out.put(blob_id.to_string());
    out.put(format!("  {blob_id}\n"));
    out.put("CmzciFdWJP1IIM-rD3cqXlVBXYM0fpAfHahZBvkaZUI");
    out.put(ObjectId([0xab; 32]).to_string());
    out.put("0x2");
    out.put("primary");
    out.put("secondary");
    out.put(serde_json::to_vec(&blob_id).expect("json"));
    out.put(serde_json::to_vec(&ObjectId([1; 32])).expect("json"));
    out.put(bcs::to_bytes(&BlobId([9; 32])).expect("encode"));
    let mut index_seed = 1000u16.to_le_bytes().to_vec();
    index_seed.extend_from_slice(&blob_id.0);
    index_seed.extend_from_slice(&999u16.to_le_bytes());
    out.put(index_seed);
    let tree = merkle_tree();
    for index in 0..tree.leaf_count() {
        out.put(bcs::to_bytes(&tree.proof(index).expect("in range")).expect("encode"));
    }
}

/// Requests to the node's routes (`node_http`): every route with each fixed blob, valid and
/// invalid uploads, recovery-symbol queries, a well-formed (but refused) inconsistency proof,
/// lying `Content-Length`s, chunked and failing bodies, wrong methods and odd paths.
fn node_http_seeds(out: &mut TargetWriter) {
    use crate::node_http::{
        blobs, AxisSel, BlobSel, Input, LengthSel, ObjectSel, QuerySel, RAW_ROUTE, ROUTES,
    };
    const GET: u8 = 0;
    const PUT: u8 = 1;
    const POST: u8 = 2;
    let route = |template: &str| {
        u8::try_from(ROUTES.iter().position(|t| *t == template).expect("a route"))
            .expect("few routes")
    };
    let a = &blobs().a;
    let config = a.metadata.config();
    let metadata = bcs::to_bytes(a.metadata.as_unverified()).expect("encode");
    let inner_metadata = bcs::to_bytes(a.metadata.metadata()).expect("encode");
    let mut put = |input: Input| out.put(input.encode());

    // Every route, every fixed blob (A, B, C, D, unknown), GET.
    for (index, _) in ROUTES.iter().enumerate() {
        for blob in 0..5 {
            put(Input {
                route: u8::try_from(index).expect("few routes"),
                blob: BlobSel::Known(blob),
                pair: 3,
                query: QuerySel::Symbols(2, AxisSel::Primary),
                ..Input::default()
            });
        }
    }
    // Reads of A's slivers, both axes, and their status.
    for pair in [0, 9] {
        for axis in [AxisSel::Primary, AxisSel::Secondary] {
            for template in [
                walrus_node_client::api::SLIVER_ENDPOINT,
                walrus_node_client::api::SLIVER_STATUS_ENDPOINT,
            ] {
                put(Input {
                    route: route(template),
                    pair,
                    axis: axis.clone(),
                    ..Input::default()
                });
            }
        }
    }
    // Uploads: A's own metadata (already stored: 200) to A, B, C, D and an unknown blob, with
    // the metadata inside and outside the envelope; lying and missing lengths.
    for blob in 0..5 {
        for body in [&inner_metadata, &metadata] {
            put(Input {
                method: PUT,
                route: route(walrus_node_client::api::METADATA_ENDPOINT),
                blob: BlobSel::Known(blob),
                length: LengthSel::Exact,
                body: body.clone(),
                ..Input::default()
            });
        }
    }
    for length in [
        LengthSel::Value(0),
        LengthSel::Value(u64::MAX),
        LengthSel::Text(b"-1".to_vec()),
        LengthSel::Twice(3),
    ] {
        put(Input {
            method: PUT,
            route: route(walrus_node_client::api::METADATA_ENDPOINT),
            length,
            body: inner_metadata.clone(),
            ..Input::default()
        });
    }
    // A's slivers to their own pairs (200), to the wrong pair and axis, chunked, failing.
    for (pair_index, pair) in a.sliver_pairs.iter().enumerate().step_by(4) {
        let index = u16::try_from(pair_index).expect("few pairs");
        let primary = bcs::to_bytes(&pair.primary).expect("encode");
        let secondary = bcs::to_bytes(&pair.secondary).expect("encode");
        for (axis, body, chunks) in [
            (AxisSel::Primary, &primary, 0),
            (AxisSel::Secondary, &secondary, 3),
            (AxisSel::Secondary, &primary, 0),
            (AxisSel::Primary, &primary, 0x82),
        ] {
            put(Input {
                method: PUT,
                route: route(walrus_node_client::api::SLIVER_ENDPOINT),
                pair: index,
                axis,
                length: LengthSel::Exact,
                chunks,
                body: body.clone(),
                ..Input::default()
            });
        }
        put(Input {
            method: PUT,
            route: route(walrus_node_client::api::SLIVER_ENDPOINT),
            pair: index + 1,
            body: primary.clone(),
            ..Input::default()
        });
        put(Input {
            method: PUT,
            route: route(walrus_node_client::api::SLIVER_ENDPOINT),
            blob: BlobSel::Known(1),
            pair: index,
            body: primary,
            ..Input::default()
        });
    }
    // Recovery symbols: canonical queries, free-text and broken ones.
    for query in [
        QuerySel::Symbols(0, AxisSel::Primary),
        QuerySel::Symbols(9, AxisSel::Secondary),
        QuerySel::Symbols(10, AxisSel::Primary),
        QuerySel::Symbols(1, AxisSel::Text(b"Primary".to_vec())),
        QuerySel::Text(b"targetType=secondary&targetSliver=4".to_vec()),
        QuerySel::Text(b"targetSliver=70000&targetType=primary".to_vec()),
        QuerySel::SymbolsAnd(3, AxisSel::Primary, b"targetSliver=4".to_vec()),
        QuerySel::None,
    ] {
        put(Input {
            route: route(walrus_node_client::api::RECOVERY_SYMBOLS_ENDPOINT),
            query,
            ..Input::default()
        });
    }
    // Decoding symbols: source targets, a repair target, a broken and a mixed query.
    for query in [
        QuerySel::Decoding(0, 1, AxisSel::Primary),
        QuerySel::Decoding(2, 0, AxisSel::Secondary),
        QuerySel::Decoding(0, 9, AxisSel::Primary),
        QuerySel::Text(b"targetSlivers=1&targetSlivers=2,3&targetType=secondary".to_vec()),
        QuerySel::Symbols(0, AxisSel::Primary),
    ] {
        put(Input {
            route: route(walrus_node_client::api::DECODING_SYMBOLS_ENDPOINT),
            query,
            ..Input::default()
        });
    }
    // Uploads pending registration: metadata and a sliver of the unregistered blob.
    put(Input {
        method: 1,
        route: route(walrus_node_client::api::METADATA_ENDPOINT),
        blob: BlobSel::Known(4),
        query: QuerySel::Pending,
        ..Input::default()
    });
    // Inconsistency proofs: well-formed proofs from A's own symbols (A is honest: refused
    // after verification), too few symbols, to B and an unknown blob.
    let k_primary = u16::try_from(config.n_symbols_in_sliver(SliverType::Primary)).expect("small");
    let k_secondary =
        u16::try_from(config.n_symbols_in_sliver(SliverType::Secondary)).expect("small");
    let primary_proof = bcs::to_bytes(&InconsistencyProof {
        target_sliver_index: SliverIndex(1),
        recovery_symbols: symbols_for::<Primary>(a, 1, 0..k_primary),
    })
    .expect("encode");
    let secondary_proof = bcs::to_bytes(&InconsistencyProof {
        target_sliver_index: SliverIndex(6),
        recovery_symbols: symbols_for::<Secondary>(a, 6, 2..2 + k_secondary),
    })
    .expect("encode");
    let short_proof = bcs::to_bytes(&InconsistencyProof {
        target_sliver_index: SliverIndex(1),
        recovery_symbols: symbols_for::<Primary>(a, 1, 0..2),
    })
    .expect("encode");
    for (blob, axis, body) in [
        (0, AxisSel::Primary, &primary_proof),
        (0, AxisSel::Secondary, &secondary_proof),
        (0, AxisSel::Secondary, &primary_proof),
        (0, AxisSel::Primary, &short_proof),
        (1, AxisSel::Primary, &primary_proof),
        (4, AxisSel::Primary, &primary_proof),
    ] {
        put(Input {
            method: POST,
            route: route(walrus_node_client::api::INCONSISTENCY_PROOF_ENDPOINT),
            blob: BlobSel::Known(blob),
            axis,
            length: LengthSel::Exact,
            body: body.clone(),
            ..Input::default()
        });
    }
    // Confirmations for each deletable object.
    for (blob, object) in [
        (0, ObjectSel::A),
        (0, ObjectSel::B),
        (1, ObjectSel::B),
        (0, ObjectSel::Raw([0xa1; 32])),
        (0, ObjectSel::Text(b"0xa1".to_vec())),
    ] {
        put(Input {
            route: route(walrus_node_client::api::DELETABLE_CONFIRMATION_ENDPOINT),
            blob: BlobSel::Known(blob),
            object,
            ..Input::default()
        });
    }
    // Odd blob IDs and paths, wrong methods.
    for blob in [
        BlobSel::Raw([0; 32]),
        BlobSel::Text(Vec::new()),
        BlobSel::Text(b"not-a-blob-id".to_vec()),
        BlobSel::Text(b"%ff%fe".to_vec()),
        BlobSel::Text(b"../..".to_vec()),
    ] {
        put(Input {
            route: route(walrus_node_client::api::METADATA_ENDPOINT),
            blob,
            ..Input::default()
        });
    }
    for path in [
        &b"/"[..],
        b"/v1/blobs",
        b"/v1/blobs//metadata",
        b"/v1/health/",
        b"//v1//health",
        b"/v1/blobs/x/slivers/99999999999/primary",
        b"/v1/api?x=%zz",
        b"/metrics#frag",
        b"*",
        b"/v1/blobs/\xff/status",
    ] {
        put(Input {
            route: RAW_ROUTE,
            suffix: path.to_vec(),
            ..Input::default()
        });
    }
    for method in [3, 4, 5, 6, POST] {
        for template in [
            walrus_node_client::api::METADATA_ENDPOINT,
            walrus_node_client::api::HEALTH_ENDPOINT,
        ] {
            put(Input {
                method,
                route: route(template),
                body: b"{}".to_vec(),
                ..Input::default()
            });
        }
    }
    put(Input {
        method: GET,
        route: route(walrus_node_client::api::SLIVER_ENDPOINT),
        pair: 0,
        suffix: b"/extra".to_vec(),
        ..Input::default()
    });
}

/// Environment variable naming the directory to write seeds to.
pub const SEEDS_ENV: &str = "WALRUS_FUZZ_WRITE_SEEDS";

/// Writes the seeds of fuzz target `target` to `dir` (created if missing); returns how many.
pub fn write(target: &str, dir: &std::path::Path) -> usize {
    fs::create_dir_all(dir).unwrap_or_else(|error| panic!("creating {}: {error}", dir.display()));
    let mut out = TargetWriter {
        dir: dir.to_path_buf(),
        next: 0,
    };
    match target {
        "metadata" => metadata_seeds(&mut out),
        "sliver" => sliver_seeds(&mut out),
        "recovery_symbols" => recovery_seeds(&mut out),
        "inconsistency_proof" => inconsistency_seeds(&mut out),
        "messages" => message_seeds(&mut out),
        "ids" => id_seeds(&mut out),
        "quilt" => quilt_seeds(&mut out),
        "node_http" => node_http_seeds(&mut out),
        other => panic!("no seeds for unknown fuzz target {other}"),
    }
    out.next
}

/// Start-up hook of every fuzz target: builds the fixtures once (so their cost never counts
/// against an input), and with [`SEEDS_ENV`] set writes the target's seeds and exits.
pub fn init(target: &str) {
    crate::warm_up();
    if let Some(dir) = std::env::var_os(SEEDS_ENV) {
        let dir = PathBuf::from(dir);
        let count = write(target, &dir);
        eprintln!("{target}: wrote {count} seeds to {}", dir.display());
        std::process::exit(0);
    }
}
