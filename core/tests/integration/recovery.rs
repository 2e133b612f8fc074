//! Decoding from random subsets, sliver recovery from random symbol subsets, detection of
//! flipped bytes, and inconsistency proofs for a deliberately inconsistent encoding.

use proptest::prelude::*;
use walrus_core::{
    encoding::{
        decode_and_check, decode_and_verify, decode_blob, encode_blob, expand_sliver_data,
        recover_sliver, recover_sliver_from_verified, recover_slivers_from_verified,
        verify_recovery_symbols, ConsistencyCheck, DecodeError, EncodedBlob, EncodingAxis,
        EncodingConfig, ExpandedSliver, GeneralRecoverySymbol, InconsistencyProofEither,
        InconsistencyVerificationError, Primary, RebuiltSliver, RecoveryError, RecoverySymbol,
        RecoverySymbolsBcs, Secondary, SliverData, VerifiedRecoverySymbol,
    },
    merkle::{MerkleTree, Node},
    metadata::{BlobMetadata, BlobMetadataWithId, VerifiedBlobMetadataWithId},
    SliverIndex, SliverType,
};

fn blob(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| i.to_le_bytes()[0].wrapping_mul(17).wrapping_add(seed))
        .collect()
}

/// All slivers of axis `T`, ordered by sliver index.
fn slivers<T: EncodingAxis>(encoded: &EncodedBlob) -> Vec<SliverData<T>> {
    let mut slivers: Vec<SliverData<T>> = encoded
        .sliver_pairs
        .iter()
        .map(|pair| match T::TYPE {
            SliverType::Primary => bcs::from_bytes(&bcs::to_bytes(&pair.primary).unwrap()).unwrap(),
            SliverType::Secondary => {
                bcs::from_bytes(&bcs::to_bytes(&pair.secondary).unwrap()).unwrap()
            }
        })
        .collect();
    slivers.sort_by_key(|sliver| sliver.index);
    slivers
}

/// The recovery symbols the holders of `sources` (orthogonal slivers) send for `target`.
fn symbols_for<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    sources: &[SliverData<T::Orthogonal>],
    target: SliverIndex,
) -> Vec<RecoverySymbol<T>> {
    sources
        .iter()
        .map(|sliver| {
            ExpandedSliver::new(sliver, metadata.layout())
                .unwrap()
                .recovery_symbol(target)
                .unwrap()
        })
        .collect()
}

/// `symbols` for `target`, verified (each must verify).
fn verified_for<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    target: SliverIndex,
    symbols: &[RecoverySymbol<T>],
) -> Vec<VerifiedRecoverySymbol<T>> {
    let symbols = symbols.iter().map(|symbol| (target, symbol.clone()));
    walrus_core::encoding::verify_recovery_symbols(metadata, symbols.collect())
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn decodes_from_any_sufficient_subset(
        n_shards in prop::sample::select(vec![4u16, 7, 10, 13, 31]),
        len in 0usize..5000,
        seed in any::<u8>(),
        shuffle_seed in any::<u64>(),
    ) {
        let config = EncodingConfig::new(n_shards).unwrap();
        let data = blob(len, seed);
        let encoded = encode_blob(&config, &data).unwrap();
        let id = *encoded.metadata.blob_id();
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(shuffle_seed);

        let mut primaries = slivers::<Primary>(&encoded);
        rand::seq::SliceRandom::shuffle(primaries.as_mut_slice(), &mut rng);
        primaries.truncate(config.n_primary_source_symbols());
        let decoded = decode_and_verify(&config, &id, len as u64, primaries.clone()).unwrap();
        prop_assert_eq!(&decoded, &data);

        let mut secondaries = slivers::<Secondary>(&encoded);
        rand::seq::SliceRandom::shuffle(secondaries.as_mut_slice(), &mut rng);
        secondaries.truncate(config.n_secondary_source_symbols());
        let decoded = decode_and_verify(&config, &id, len as u64, secondaries).unwrap();
        prop_assert_eq!(&decoded, &data);

        // One sliver short is refused with a clear error, never wrong bytes.
        primaries.pop();
        let error = decode_blob(&config, len as u64, primaries).unwrap_err();
        let is_not_enough = matches!(error, DecodeError::NotEnoughSlivers { .. });
        prop_assert!(is_not_enough);
    }

    #[test]
    fn recovers_any_sliver_from_any_sufficient_symbols(
        n_shards in prop::sample::select(vec![4u16, 7, 10, 19]),
        len in 1usize..3000,
        target in any::<prop::sample::Index>(),
        shuffle_seed in any::<u64>(),
    ) {
        let config = EncodingConfig::new(n_shards).unwrap();
        let encoded = encode_blob(&config, &blob(len, 3)).unwrap();
        let metadata = &encoded.metadata;
        let target = SliverIndex(u16::try_from(target.index(config.n())).unwrap());
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(shuffle_seed);

        let mut sources = slivers::<Secondary>(&encoded);
        rand::seq::SliceRandom::shuffle(sources.as_mut_slice(), &mut rng);
        sources.truncate(config.n_symbols_in_sliver(SliverType::Primary));
        let symbols = symbols_for::<Primary>(metadata, &sources, target);
        let recovered = recover_sliver(metadata, target, symbols).unwrap();
        prop_assert_eq!(&recovered, &slivers::<Primary>(&encoded)[target.as_usize()]);

        let mut sources = slivers::<Primary>(&encoded);
        rand::seq::SliceRandom::shuffle(sources.as_mut_slice(), &mut rng);
        sources.truncate(config.n_symbols_in_sliver(SliverType::Secondary));
        let mut symbols = symbols_for::<Secondary>(metadata, &sources, target);
        let recovered = recover_sliver(metadata, target, symbols.clone()).unwrap();
        let expected = &slivers::<Secondary>(&encoded)[target.as_usize()];
        prop_assert_eq!(&recovered, expected);
        // Symbols verified by the caller rebuild the same sliver; a repeated source or a
        // missing symbol is refused, not decoded.
        // Their leaf hashes are reused: the rebuilt sliver's tree is that of hashing its whole
        // expansion.
        let verified = verified_for(metadata, target, &symbols);
        let rebuilt = recover_sliver_from_verified(metadata, target, verified.clone()).unwrap();
        prop_assert_eq!(&rebuilt.sliver, expected);
        prop_assert_eq!(rebuilt.tree, expected.verify_with_tree(metadata).unwrap());
        prop_assert!(rebuilt.kept.is_empty());
        let mut repeated = verified.clone();
        repeated[1] = repeated[0].clone();
        let refused = recover_sliver_from_verified(metadata, target, repeated);
        let is_refused = matches!(refused, Err(RecoveryError::NotEnoughSymbols { .. }));
        prop_assert!(is_refused);
        let short = verified[1..].to_vec();
        let refused = recover_sliver_from_verified(metadata, target, short);
        let is_refused = matches!(refused, Err(RecoveryError::NotEnoughSymbols { .. }));
        prop_assert!(is_refused);
        // A symbol verified for another sliver is not one of this sliver's.
        let other = SliverIndex((target.get() + 1) % n_shards);
        let mut mixed = verified.clone();
        mixed[0] = verified_for(metadata, other, &symbols_for::<Secondary>(metadata, &sources, other))
            .swap_remove(0);
        let refused = recover_sliver_from_verified(metadata, target, mixed);
        let is_refused = matches!(refused, Err(RecoveryError::NotEnoughSymbols { .. }));
        prop_assert!(is_refused);

        // A corrupted symbol is rejected, leaving too few.
        symbols[0].symbol.data[0] ^= 1;
        let error = recover_sliver(metadata, target, symbols).unwrap_err();
        let is_not_enough = matches!(error, RecoveryError::NotEnoughSymbols { rejected: 1, .. });
        prop_assert!(is_not_enough);
    }

    #[test]
    fn slivers_rebuilt_together_are_those_rebuilt_alone(
        n_shards in prop::sample::select(vec![4u16, 7, 10, 19]),
        len in 1usize..3000,
        targets in prop::collection::vec(any::<prop::sample::Index>(), 1..6),
        shared in prop::collection::vec(any::<bool>(), 6),
        shuffle_seed in any::<u64>(),
        keep in prop::collection::vec(0u16..24, 0..6),
    ) {
        let config = EncodingConfig::new(n_shards).unwrap();
        let encoded = encode_blob(&config, &blob(len, 5)).unwrap();
        let metadata = &encoded.metadata;
        let required = config.n_symbols_in_sliver(SliverType::Primary);
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(shuffle_seed);
        let mut common = slivers::<Secondary>(&encoded);
        rand::seq::SliceRandom::shuffle(common.as_mut_slice(), &mut rng);
        common.truncate(required);
        // Some targets from the same source slivers (one decode plan), the others from their
        // own; each target's symbols in a random order.
        let mut work = Vec::new();
        for (number, target) in targets.iter().enumerate() {
            let target = SliverIndex(u16::try_from(target.index(config.n())).unwrap());
            let sources = if shared[number] {
                common.clone()
            } else {
                let mut own = slivers::<Secondary>(&encoded);
                rand::seq::SliceRandom::shuffle(own.as_mut_slice(), &mut rng);
                own.truncate(required);
                own
            };
            let mut symbols = symbols_for::<Primary>(metadata, &sources, target);
            rand::seq::SliceRandom::shuffle(symbols.as_mut_slice(), &mut rng);
            work.push((target, verified_for(metadata, target, &symbols)));
        }
        // One entry that cannot be rebuilt (a repeated source) fails alone.
        let mut short = work[0].clone();
        short.1[1] = short.1[0].clone();
        work.insert(targets.len() / 2, short);
        let alone: Vec<_> = work
            .iter()
            .map(|(target, used)| recover_sliver_from_verified(metadata, *target, used.clone()))
            .collect();
        // Kept symbols for some secondary slivers (indices up to 23: some out of range).
        let keep: Vec<SliverIndex> = keep.into_iter().map(SliverIndex).collect();
        let together = recover_slivers_from_verified(metadata, work.clone(), &keep);
        let without_kept: Vec<_> = together
            .iter()
            .cloned()
            .map(|result| result.map(|rebuilt| RebuiltSliver { kept: Vec::new(), ..rebuilt }))
            .collect();
        prop_assert_eq!(&without_kept, &alone);
        let originals = slivers::<Primary>(&encoded);
        let mut kept_targets: Vec<SliverIndex> =
            keep.iter().copied().filter(|target| target.get() < n_shards).collect();
        kept_targets.sort();
        kept_targets.dedup();
        for ((target, _), result) in work.iter().zip(&together) {
            match result {
                Ok(rebuilt) => {
                    let sliver = &rebuilt.sliver;
                    prop_assert_eq!(sliver, &originals[target.as_usize()]);
                    prop_assert_eq!(&rebuilt.tree, &sliver.verify_with_tree(metadata).unwrap());
                    // Each kept symbol is the one the original sliver's expansion gives, with
                    // the leaf hash its verification computes.
                    let expanded = ExpandedSliver::new(sliver, metadata.layout()).unwrap();
                    let targets: Vec<SliverIndex> =
                        rebuilt.kept.iter().map(VerifiedRecoverySymbol::target_index).collect();
                    prop_assert_eq!(&targets, &kept_targets);
                    for kept in &rebuilt.kept {
                        let genuine = expanded.recovery_symbol(kept.target_index()).unwrap();
                        prop_assert_eq!(kept.symbol(), &genuine);
                        let verified = verify_recovery_symbols(
                            metadata,
                            vec![(kept.target_index(), genuine)],
                        );
                        prop_assert_eq!(verified[0].as_ref(), Ok(kept));
                    }
                }
                Err(error) => {
                    let is_short = matches!(error, RecoveryError::NotEnoughSymbols { .. });
                    prop_assert!(is_short);
                }
            }
        }
        let failed = together.iter().filter(|result| result.is_err()).count();
        prop_assert_eq!(failed, 1);
    }

    #[test]
    fn a_flipped_byte_is_always_detected(
        n_shards in prop::sample::select(vec![4u16, 10, 25]),
        len in 1usize..4000,
        pair in any::<prop::sample::Index>(),
        byte in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let config = EncodingConfig::new(n_shards).unwrap();
        let encoded = encode_blob(&config, &blob(len, 9)).unwrap();
        let metadata = &encoded.metadata;
        let pair = &encoded.sliver_pairs[pair.index(config.n())];

        let mut primary = pair.primary.clone();
        let data = primary.symbols.clone().into_data();
        let mut flipped = data.clone();
        flipped[byte.index(data.len())] ^= 1 << bit;
        primary = SliverData::from_data(flipped, primary.symbols.symbol_size(), primary.index).unwrap();
        prop_assert!(primary.verify(metadata).is_err());

        let mut secondary = pair.secondary.clone();
        let data = secondary.symbols.clone().into_data();
        let mut flipped = data.clone();
        flipped[byte.index(data.len())] ^= 1 << bit;
        secondary = SliverData::from_data(flipped, secondary.symbols.symbol_size(), secondary.index).unwrap();
        prop_assert!(secondary.verify(metadata).is_err());

        // Metadata with a flipped byte no longer match their blob ID.
        let mut bytes = bcs::to_bytes(metadata.as_unverified()).unwrap();
        let position = byte.index(bytes.len());
        bytes[position] ^= 1 << bit;
        if let Ok(tampered) = bcs::from_bytes::<BlobMetadataWithId>(&bytes) {
            prop_assert!(tampered.verify(&config).is_err());
        }
    }
}

/// Encodes `data` but replaces primary sliver `bad_row` with garbage and commits to the
/// garbage in the metadata: every sliver verifies on its own, but the axes disagree.
fn inconsistent_encoding(
    config: &EncodingConfig,
    data: &[u8],
    bad_row: usize,
) -> (EncodedBlob, VerifiedBlobMetadataWithId) {
    let mut encoded = encode_blob(config, data).unwrap();
    let layout = *encoded.metadata.layout();
    let garbage: Vec<u8> = (0..layout.row_length())
        .map(|i| (i * 7 + 1).to_le_bytes()[0])
        .collect();
    let expanded = expand_sliver_data(&layout, SliverType::Primary, &garbage).unwrap();
    let root = MerkleTree::from_leaves(expanded.chunks_exact(layout.symbol_size())).root();
    let pair = &mut encoded.sliver_pairs[bad_row];
    pair.primary = SliverData::from_data(garbage, layout.symbol_size, pair.primary.index).unwrap();
    let mut v1 = encoded.metadata.metadata().v1().clone();
    v1.hashes[bad_row].primary_hash = root;
    let metadata = BlobMetadata::V1(v1);
    let with_id = BlobMetadataWithId {
        blob_id: metadata.compute_blob_id(),
        metadata,
    };
    let verified = with_id.verify(config).unwrap();
    (encoded, verified)
}

#[test]
fn inconsistent_encoding_yields_a_verifiable_proof() {
    let config = EncodingConfig::new(10).unwrap();
    let data = blob(2000, 1);
    let bad_row = 2;
    let (encoded, metadata) = inconsistent_encoding(&config, &data, bad_row);
    for pair in &encoded.sliver_pairs {
        pair.primary.verify(&metadata).unwrap();
        pair.secondary.verify(&metadata).unwrap();
    }

    // Rebuilding the tampered primary sliver from (honest) secondary slivers exposes it.
    let sources = slivers::<Secondary>(&encoded);
    let target = SliverIndex(u16::try_from(bad_row).unwrap());
    let symbols = symbols_for::<Primary>(&metadata, &sources, target);
    let RecoveryError::Inconsistent(proof) =
        recover_sliver(&metadata, target, symbols.clone()).unwrap_err()
    else {
        panic!("expected an inconsistency proof");
    };
    assert_eq!(proof.verify(&metadata), Ok(()));
    // The same from symbols the caller verified.
    let required = config.n_symbols_in_sliver(SliverType::Primary);
    let used = verified_for(&metadata, target, &symbols[..required]);
    let RecoveryError::Inconsistent(proof) =
        recover_sliver_from_verified(&metadata, target, used).unwrap_err()
    else {
        panic!("expected an inconsistency proof from verified symbols");
    };
    assert_eq!(proof.verify(&metadata), Ok(()));

    // The proof travels as BCS and verifies on the other side from the metadata alone.
    let bytes = bcs::to_bytes(&*proof).unwrap();
    let received: InconsistencyProofEither = bcs::from_bytes(&bytes).unwrap();
    assert_eq!(received.verify(&metadata), Ok(()));

    // Rebuilding a secondary sliver from primary slivers that include the bad row also fails.
    let sources = slivers::<Primary>(&encoded);
    let target = SliverIndex(5);
    let symbols = symbols_for::<Secondary>(&metadata, &sources, target);
    assert!(matches!(
        recover_sliver(&metadata, target, symbols),
        Err(RecoveryError::Inconsistent(_))
    ));

    // The reader's consistency check refuses the blob.
    let primaries = slivers::<Primary>(&encoded);
    let error = decode_and_verify(
        &config,
        metadata.blob_id(),
        2000,
        primaries.into_iter().rev(),
    )
    .unwrap_err();
    assert!(
        matches!(error, DecodeError::InconsistentBlob { .. }),
        "{error}"
    );
}

/// Decodes `rows` (primary sliver indices) of `encoded` with each consistency check.
fn decode_rows(
    encoded: &EncodedBlob,
    metadata: &VerifiedBlobMetadataWithId,
    rows: &[usize],
) -> [Result<Vec<u8>, DecodeError>; 3] {
    let primaries = slivers::<Primary>(encoded);
    let chosen: Vec<&SliverData<Primary>> = rows.iter().map(|row| &primaries[*row]).collect();
    [
        ConsistencyCheck::Skip,
        ConsistencyCheck::Default,
        ConsistencyCheck::Strict,
    ]
    .map(|check| decode_and_check(metadata, chosen.iter().copied(), check))
}

#[test]
fn consistency_checks_pass_a_consistent_blob_from_any_slivers() {
    let config = EncodingConfig::new(10).unwrap();
    for len in [0, 1, 27, 2000, 5000] {
        let data = blob(len, 9);
        let encoded = encode_blob(&config, &data).unwrap();
        let metadata = encoded.metadata.clone();
        // Source rows only, repair rows only, a mix (k_p = 4 at n = 10).
        for rows in [[0, 1, 2, 3], [6, 7, 8, 9], [0, 3, 5, 8]] {
            for result in decode_rows(&encoded, &metadata, &rows) {
                assert_eq!(result.unwrap(), data, "{len} bytes from rows {rows:?}");
            }
        }
        let columns = slivers::<Secondary>(&encoded);
        for check in [
            ConsistencyCheck::Skip,
            ConsistencyCheck::Default,
            ConsistencyCheck::Strict,
        ] {
            let decoded = decode_and_check(&metadata, columns.iter().rev(), check).unwrap();
            assert_eq!(decoded, data, "{len} bytes from columns, {check}");
        }
    }
}

#[test]
fn consistency_checks_against_an_inconsistent_writer() {
    let config = EncodingConfig::new(10).unwrap();
    let data = blob(2000, 3);
    let is_inconsistent = |result: &Result<Vec<u8>, DecodeError>| {
        matches!(
            result,
            Err(DecodeError::InconsistentBlob { .. } | DecodeError::InconsistentSourceRow { .. })
        )
    };

    // A tampered source row (2 of 0..4), committed to in the metadata.
    let (encoded, metadata) = inconsistent_encoding(&config, &data, 2);
    // Read from the source rows: the bytes are those committed to, garbage row included;
    // default passes them (every row matches its hash), strict refuses.
    let [skip, default, strict] = decode_rows(&encoded, &metadata, &[0, 1, 2, 3]);
    let committed = skip.unwrap();
    assert_ne!(committed, data);
    assert_eq!(default.unwrap(), committed);
    assert!(is_inconsistent(&strict));
    // Row 2 restored from honest rows: it does not match its hash; skip returns other bytes
    // than the reader above got (skip trusts the writer).
    let [skip, default, strict] = decode_rows(&encoded, &metadata, &[0, 1, 3, 7]);
    assert_eq!(skip.unwrap(), data);
    assert!(matches!(
        default,
        Err(DecodeError::InconsistentSourceRow { row: 2, .. })
    ));
    assert!(is_inconsistent(&strict));

    // A tampered repair row (6): source rows give the honest bytes under default, strict
    // still refuses; decoding through the bad row, default refuses too.
    let (encoded, metadata) = inconsistent_encoding(&config, &data, 6);
    let [skip, default, strict] = decode_rows(&encoded, &metadata, &[0, 1, 2, 3]);
    assert_eq!(skip.unwrap(), data);
    assert_eq!(default.unwrap(), data);
    assert!(is_inconsistent(&strict));
    let [skip, default, strict] = decode_rows(&encoded, &metadata, &[0, 1, 6, 7]);
    assert_ne!(skip.unwrap(), data);
    assert!(is_inconsistent(&default));
    assert!(is_inconsistent(&strict));
}

#[test]
fn consistency_check_flags_and_names() {
    assert_eq!(ConsistencyCheck::default(), ConsistencyCheck::Default);
    assert_eq!(
        ConsistencyCheck::from_flags(true, false),
        Some(ConsistencyCheck::Strict)
    );
    assert_eq!(
        ConsistencyCheck::from_flags(false, true),
        Some(ConsistencyCheck::Skip)
    );
    assert_eq!(ConsistencyCheck::from_flags(true, true), None);
    for check in [
        ConsistencyCheck::Skip,
        ConsistencyCheck::Default,
        ConsistencyCheck::Strict,
    ] {
        assert_eq!(check.to_string().parse::<ConsistencyCheck>(), Ok(check));
    }
    assert!(ConsistencyCheck::Skip < ConsistencyCheck::Default);
    assert!(ConsistencyCheck::Default < ConsistencyCheck::Strict);
}

#[test]
fn proofs_of_consistent_blobs_and_malformed_proofs_are_refused() {
    let config = EncodingConfig::new(7).unwrap();
    let (encoded, metadata) = inconsistent_encoding(&config, &blob(500, 4), 1);
    let sources = slivers::<Secondary>(&encoded);
    let target = SliverIndex(1);
    let symbols = symbols_for::<Primary>(&metadata, &sources, target);
    let Err(RecoveryError::Inconsistent(proof)) = recover_sliver(&metadata, target, symbols) else {
        panic!("expected an inconsistency proof");
    };
    let InconsistencyProofEither::Primary(proof) = *proof else {
        panic!("expected a primary proof");
    };

    let mut short = proof.clone();
    short.recovery_symbols.pop();
    assert!(matches!(
        short.verify(&metadata),
        Err(InconsistencyVerificationError::IncorrectSymbolCount { .. })
    ));

    let mut duplicated = proof.clone();
    duplicated.recovery_symbols[1] = duplicated.recovery_symbols[0].clone();
    assert!(matches!(
        duplicated.verify(&metadata),
        Err(InconsistencyVerificationError::DuplicateSymbol(_))
    ));

    let mut forged = proof.clone();
    forged.recovery_symbols[0].symbol.data[0] ^= 0xff;
    assert!(matches!(
        forged.verify(&metadata),
        Err(InconsistencyVerificationError::InvalidRecoverySymbol { position: 0, .. })
    ));

    // A proof about a sliver that is in fact consistent is refused.
    let honest = encode_blob(&config, &blob(500, 4)).unwrap();
    let sources = slivers::<Secondary>(&honest);
    let symbols = symbols_for::<Primary>(&honest.metadata, &sources, target);
    let mut not_a_proof = proof;
    not_a_proof.recovery_symbols = symbols[..config.n_secondary_source_symbols()].to_vec();
    assert_eq!(
        not_a_proof.verify(&honest.metadata),
        Err(InconsistencyVerificationError::SliverNotInconsistent)
    );
    assert!(matches!(honest.metadata.root_hash(), Node::Digest(_)));
}

#[test]
fn stored_tree_nodes_give_the_same_recovery_symbols() {
    for n_shards in [4u16, 10, 31, 100] {
        let config = EncodingConfig::new(n_shards).unwrap();
        let encoded = encode_blob(&config, &blob(3000, 9)).unwrap();
        let metadata = &encoded.metadata;
        let layout = metadata.layout();
        for sliver in slivers::<Primary>(&encoded) {
            let full = ExpandedSliver::new(&sliver, layout).unwrap();
            let tree = sliver.verify_with_tree(metadata).unwrap();
            assert_eq!(tree.leaf_count(), config.n());
            let leaf_hashes = tree.leaf_hashes().to_vec();
            let root = full.root();
            let in_sliver = config.n_symbols_in_sliver(SliverType::Primary);
            let all: Vec<SliverIndex> = (0..n_shards).map(SliverIndex).collect();
            // Every target; only the source part; every third target (and one out of range);
            // one or a few repair targets (each computed on its own, not by an expansion).
            let source_part: Vec<SliverIndex> = all[..in_sliver].to_vec();
            let mut some: Vec<SliverIndex> = all.iter().copied().step_by(3).rev().collect();
            some.push(SliverIndex(n_shards));
            let last_repair = vec![SliverIndex(n_shards - 1)];
            let few_repair: Vec<SliverIndex> =
                all[in_sliver..].iter().copied().step_by(7).collect();
            // From the whole tree's nodes (nothing hashed) or from its leaf hashes alone.
            let nodes = [tree.nodes().to_vec(), leaf_hashes.clone()];
            for (targets, nodes) in [&all, &source_part, &some, &last_repair, &few_repair]
                .into_iter()
                .flat_map(|targets| nodes.iter().map(move |nodes| (targets, nodes)))
            {
                let held = ExpandedSliver::with_tree_nodes(
                    (&sliver).into(),
                    layout,
                    nodes.clone(),
                    &root,
                    targets,
                )
                .unwrap()
                .unwrap();
                assert_eq!(held.root(), full.root());
                for target in &all {
                    let from_held = held.recovery_symbol(*target);
                    if targets.contains(target) {
                        assert_eq!(from_held.unwrap(), full.recovery_symbol(*target).unwrap());
                    } else {
                        assert!(from_held.is_none(), "a symbol not kept");
                    }
                }
                assert!(held.recovery_symbol(SliverIndex(n_shards)).is_none());
            }
            // Nodes of another number, or of another root, are refused.
            let short = leaf_hashes[1..].to_vec();
            let refused =
                ExpandedSliver::with_tree_nodes((&sliver).into(), layout, short, &root, &all);
            assert!(refused.is_none());
            let mut wrong = leaf_hashes.clone();
            wrong[0][0] ^= 1;
            let refused =
                ExpandedSliver::with_tree_nodes((&sliver).into(), layout, wrong, &root, &all);
            assert!(refused.is_none());
            let mut wrong_root = tree.nodes().to_vec();
            if let Some(root) = wrong_root.last_mut() {
                root[0] ^= 1;
            }
            let refused =
                ExpandedSliver::with_tree_nodes((&sliver).into(), layout, wrong_root, &root, &all);
            assert!(refused.is_none());
        }
    }
}

/// The BCS a node answers with, written straight from expanded slivers, is that of the symbols
/// serialized: both axes, whole and partial expansions, one list of many symbols.
#[test]
fn recovery_symbols_written_as_bcs_are_the_symbols_serialized() {
    for n_shards in [4u16, 10, 31] {
        let config = EncodingConfig::new(n_shards).unwrap();
        let encoded = encode_blob(&config, &blob(3000, 5)).unwrap();
        symbols_written_as_serialized::<Primary>(&encoded);
        symbols_written_as_serialized::<Secondary>(&encoded);
    }
}

fn symbols_written_as_serialized<T: EncodingAxis>(encoded: &EncodedBlob) {
    let metadata = &encoded.metadata;
    let layout = metadata.layout();
    let n_shards = metadata.config().n_shards();
    // Every target, and one out of range.
    let all: Vec<SliverIndex> = (0..=n_shards).map(SliverIndex).collect();
    let some: Vec<SliverIndex> = all.iter().copied().step_by(2).collect();
    let mut list = RecoverySymbolsBcs::with_capacity(3, layout);
    let mut expected = Vec::new();
    for sliver in slivers::<T>(encoded) {
        let nodes = sliver.verify_with_tree(metadata).unwrap().into_nodes();
        let root = metadata.sliver_hash(T::TYPE, sliver.index).unwrap();
        let held = ExpandedSliver::with_tree_nodes((&sliver).into(), layout, nodes, root, &some)
            .unwrap()
            .unwrap();
        let full = ExpandedSliver::new(&sliver, layout).unwrap();
        for expanded in [&full, &held] {
            for target in &all {
                let symbol = expanded
                    .recovery_symbol(*target)
                    .map(|symbol| GeneralRecoverySymbol::from_recovery_symbol(symbol, *target));
                let mut written = Vec::new();
                assert_eq!(
                    expanded.write_recovery_symbol_bcs(*target, &mut written),
                    symbol.is_some()
                );
                let serialized = symbol.as_ref().map(|s| bcs::to_bytes(s).unwrap());
                assert_eq!(written, serialized.unwrap_or_default());
                assert_eq!(list.push(expanded, *target), symbol.is_some());
                expected.extend(symbol);
            }
        }
    }
    assert_eq!(list.len(), expected.len());
    // At 31 shards, a count written in two bytes.
    assert!(n_shards < 31 || expected.len() > 127);
    assert_eq!(list.into_bytes(), bcs::to_bytes(&expected).unwrap());
}

/// Symbols verified together (leaves and proof paths hashed side by side) get exactly the
/// outcome each gets verified alone, whatever is wrong with some of them.
#[test]
fn symbols_verified_together_are_judged_as_one_by_one() {
    let config = EncodingConfig::new(10).unwrap();
    let encoded = encode_blob(&config, &blob(5000, 3)).unwrap();
    let metadata = &encoded.metadata;
    let target = SliverIndex(8);
    let sources = slivers::<Secondary>(&encoded);
    let mut symbols: Vec<(SliverIndex, RecoverySymbol<Primary>)> =
        symbols_for::<Primary>(metadata, &sources, target)
            .into_iter()
            .map(|symbol| (target, symbol))
            .collect();
    // A flipped byte, a short symbol, a source index out of range, another target, a short
    // path, a path from another symbol, and a target out of range; the rest are honest.
    symbols[0].1.symbol.data[0] ^= 1;
    symbols[1].1.symbol.data.pop();
    symbols[2].1.symbol.index = 10;
    symbols[3].0 = SliverIndex(7);
    symbols[4].1.proof.path.pop();
    symbols[5].1.proof = symbols[6].1.proof.clone();
    symbols[7].0 = SliverIndex(10);
    let together = verify_recovery_symbols(metadata, symbols.clone());
    assert_eq!(together.len(), symbols.len());
    let mut honest = 0;
    for ((target, symbol), outcome) in symbols.iter().zip(together) {
        match (symbol.verify(metadata, *target), outcome) {
            (Ok(()), Ok(verified)) => {
                honest += 1;
                assert_eq!(verified.target_index(), *target);
                assert_eq!(
                    verified.into_symbol(),
                    symbol.clone(),
                    "the verified symbol is the one given"
                );
            }
            (Err(alone), Err(together)) => assert_eq!(alone, together),
            (alone, together) => panic!("alone {alone:?}, together {together:?}"),
        }
    }
    assert_eq!(honest, symbols.len() - 7);
}
