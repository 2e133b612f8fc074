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
