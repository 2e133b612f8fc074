//! Untrusted recovery symbols (as a node rebuilding a lost sliver receives them from its
//! peers): BCS `Vec<GeneralRecoverySymbol>` (the storage-node API form) or
//! `Vec<RecoverySymbol<Primary | Secondary>>`, each symbol verified against the metadata of a
//! fixed blob (an honest encoding and an inconsistent one), then `recover_sliver` on them.
//!
//! Input: `mode || rest`, with `mode % 3` selecting
//! - 0: `rest = BCS(Vec<GeneralRecoverySymbol>)` (each symbol names its own target),
//! - 1: `rest = target (u16 LE) || BCS(Vec<RecoverySymbol<Primary>>)`,
//! - 2: `rest = target (u16 LE) || BCS(Vec<RecoverySymbol<Secondary>>)`.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use walrus_core::{
    encoding::{
        recover_sliver, EncodingAxis, ExpandedSliver, GeneralRecoverySymbol, InconsistencyProof,
        InconsistencyProofEither, Primary, RecoveryError, RecoverySymbol, Secondary, SliverData,
        SymbolVerificationError,
    },
    metadata::VerifiedBlobMetadataWithId,
    SliverIndex, SliverType,
};
use walrus_fuzz::{all_metadata, honest_pair, inconsistent, BAD_ROW, N_SHARDS};

/// Whether `metadata` is the inconsistent fixture's.
fn is_inconsistent(metadata: &VerifiedBlobMetadataWithId) -> bool {
    std::ptr::eq(metadata, &inconsistent().metadata)
}

/// The source sliver (axis `T::Orthogonal`, index `index`) of the fixture behind `metadata`.
fn source_sliver<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    index: u16,
) -> SliverData<T::Orthogonal> {
    let axis = T::Orthogonal::TYPE;
    let pair = if is_inconsistent(metadata)
        && axis == SliverType::Primary
        && usize::from(index) == BAD_ROW
    {
        &inconsistent().sliver_pairs[BAD_ROW]
    } else {
        honest_pair(axis, index).expect("index checked by verify")
    };
    let symbols = match axis {
        SliverType::Primary => pair.primary.symbols.clone(),
        SliverType::Secondary => pair.secondary.symbols.clone(),
    };
    SliverData::new(symbols, SliverIndex(index))
}

/// Verifies one typed symbol against every fixture; a symbol that verifies must be the very
/// symbol the fixture's source sliver hands out.
fn check_symbol<T: EncodingAxis>(symbol: &RecoverySymbol<T>, target: SliverIndex) {
    for metadata in all_metadata() {
        let result = symbol.verify(metadata, target);
        match result {
            Ok(()) => {
                assert!(target.get() < N_SHARDS && symbol.symbol.index < N_SHARDS);
                let source = source_sliver::<T>(metadata, symbol.symbol.index);
                let expected = ExpandedSliver::new(&source, metadata.layout())
                    .expect("fixture slivers expand")
                    .recovery_symbol(target)
                    .expect("in-range target");
                assert_eq!(
                    symbol.symbol.data, expected.symbol.data,
                    "a symbol other than the encoder's verified"
                );
            }
            Err(SymbolVerificationError::IndexTooLarge { index, n_shards }) => {
                assert_eq!(n_shards, N_SHARDS);
                assert!(index >= n_shards);
            }
            Err(_) => {}
        }
    }
}

/// Rebuilds sliver `target` of axis `T` from `symbols` against every fixture and checks the
/// outcome.
fn recover<T: EncodingAxis>(symbols: &[RecoverySymbol<T>], target: SliverIndex)
where
    InconsistencyProofEither: From<InconsistencyProof<T>>,
{
    for metadata in all_metadata() {
        let required = metadata.config().n_symbols_in_sliver(T::TYPE);
        match recover_sliver(metadata, target, symbols.iter().cloned()) {
            Ok(sliver) => {
                assert_eq!(sliver.index, target);
                assert_eq!(
                    sliver.verify(metadata),
                    Ok(()),
                    "recovered sliver does not verify"
                );
            }
            Err(RecoveryError::NotEnoughSymbols {
                available,
                required: reported,
                rejected,
            }) => {
                assert_eq!(reported, required);
                assert!(available < required);
                assert!(rejected <= symbols.len());
            }
            Err(RecoveryError::Inconsistent(proof)) => {
                // Verified symbols are the encoder's own: an honest encoding never yields an
                // inconsistency, and the proof for the dishonest one must verify on its own,
                // also after a BCS round trip.
                assert!(
                    is_inconsistent(metadata),
                    "inconsistency proof for an honestly encoded blob"
                );
                assert_eq!(
                    proof.verify(metadata),
                    Ok(()),
                    "own inconsistency proof refused"
                );
                let bytes = bcs::to_bytes(&*proof).expect("proofs encode");
                let received: InconsistencyProofEither =
                    bcs::from_bytes(&bytes).expect("proofs decode");
                assert_eq!(received.verify(metadata), Ok(()));
            }
            Err(RecoveryError::Codec(error)) => {
                panic!("RS decoding of verified, distinct symbols failed: {error}")
            }
        }
    }
}

fn typed<T: EncodingAxis>(bytes: &[u8])
where
    InconsistencyProofEither: From<InconsistencyProof<T>>,
{
    let Some((target, rest)) = bytes.split_first_chunk::<2>() else {
        return;
    };
    let target = SliverIndex(u16::from_le_bytes(*target));
    let Ok(symbols) = bcs::from_bytes::<Vec<RecoverySymbol<T>>>(rest) else {
        return;
    };
    for symbol in &symbols {
        check_symbol(symbol, target);
        // The API form carries the same symbol.
        let general = GeneralRecoverySymbol::from_recovery_symbol(symbol.clone(), target);
        assert_eq!(general.target_type(), T::TYPE);
        assert_eq!(
            general.into_recovery_symbol::<T>(target).as_ref(),
            Ok(symbol)
        );
    }
    recover(&symbols, target);
}

fn general(bytes: &[u8]) {
    let Ok(symbols) = bcs::from_bytes::<Vec<GeneralRecoverySymbol>>(bytes) else {
        return;
    };
    let mut primary: BTreeMap<SliverIndex, Vec<RecoverySymbol<Primary>>> = BTreeMap::new();
    let mut secondary: BTreeMap<SliverIndex, Vec<RecoverySymbol<Secondary>>> = BTreeMap::new();
    for symbol in symbols {
        let target = symbol.target_index;
        let axis = symbol.target_type();
        // The wrong axis or target is refused.
        let other = SliverIndex(target.get().wrapping_add(1));
        match axis {
            SliverType::Primary => {
                assert_eq!(
                    symbol.clone().into_recovery_symbol::<Secondary>(target),
                    Err(SymbolVerificationError::SymbolNotUsable)
                );
                assert!(symbol
                    .clone()
                    .into_recovery_symbol::<Primary>(other)
                    .is_err());
                let typed = symbol
                    .into_recovery_symbol::<Primary>(target)
                    .expect("own axis and target");
                check_symbol(&typed, target);
                primary.entry(target).or_default().push(typed);
            }
            SliverType::Secondary => {
                assert_eq!(
                    symbol.clone().into_recovery_symbol::<Primary>(target),
                    Err(SymbolVerificationError::SymbolNotUsable)
                );
                assert!(symbol
                    .clone()
                    .into_recovery_symbol::<Secondary>(other)
                    .is_err());
                let typed = symbol
                    .into_recovery_symbol::<Secondary>(target)
                    .expect("own axis and target");
                check_symbol(&typed, target);
                secondary.entry(target).or_default().push(typed);
            }
        }
    }
    for (target, symbols) in &primary {
        recover(symbols, *target);
    }
    for (target, symbols) in &secondary {
        recover(symbols, *target);
    }
}

fuzz_target!(init: walrus_fuzz::seeds::init("recovery_symbols"), |data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => general(rest),
        1 => typed::<Primary>(rest),
        _ => typed::<Secondary>(rest),
    }
});
