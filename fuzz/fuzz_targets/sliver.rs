//! Untrusted slivers (as a storage node receives them from a client, or a reader from a node):
//! BCS `Sliver`, `SliverData<Primary>` and `SliverData<Secondary>`, each verified against the
//! metadata of a fixed blob (an honest encoding and an inconsistent one), and a shard-sync
//! answer (`SyncShardResponse`, as a new shard owner receives it), every sliver in it checked
//! the same way.
//!
//! Input: any of the four BCS encodings (all four decoders are tried on the whole input).

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_core::{
    encoding::{
        EncodingAxis, ExpandedSliver, Primary, Secondary, Sliver, SliverData,
        SliverVerificationError,
    },
    metadata::VerifiedBlobMetadataWithId,
    SliverIndex, SliverType,
};
use walrus_node_client::api::SyncShardResponse;
use walrus_fuzz::{all_metadata, honest_pair, inconsistent, BAD_ROW, N_SHARDS};

/// The sliver of the fixture behind `metadata` with `T`'s axis and the given index.
fn fixture_sliver<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    index: SliverIndex,
) -> Option<Sliver> {
    let pair = if std::ptr::eq(metadata, &inconsistent().metadata)
        && T::TYPE == SliverType::Primary
        && usize::from(index.get()) == BAD_ROW
    {
        &inconsistent().sliver_pairs[BAD_ROW]
    } else {
        honest_pair(T::TYPE, index.get())?
    };
    Some(match T::TYPE {
        SliverType::Primary => Sliver::Primary(pair.primary.clone()),
        SliverType::Secondary => Sliver::Secondary(pair.secondary.clone()),
    })
}

/// The same sliver as a [`Sliver`] (there is no `From` impl in walrus-core).
fn to_either<T: EncodingAxis>(sliver: &SliverData<T>) -> Sliver {
    match T::TYPE {
        SliverType::Primary => {
            Sliver::Primary(SliverData::new(sliver.symbols.clone(), sliver.index))
        }
        SliverType::Secondary => {
            Sliver::Secondary(SliverData::new(sliver.symbols.clone(), sliver.index))
        }
    }
}

fn check<T: EncodingAxis>(sliver: &SliverData<T>) {
    let as_either = to_either(sliver);
    let _ = sliver.sliver_type();
    // Untrusted indices map to a pair only when in range (for any shard count).
    for n_shards in [0, 1, N_SHARDS, u16::MAX] {
        assert_eq!(
            sliver.pair_index(n_shards).is_some(),
            sliver.index.get() < n_shards
        );
    }
    for metadata in all_metadata() {
        let result = sliver.verify(metadata);
        assert_eq!(as_either.verify(metadata), result, "Sliver::verify differs");
        let shape = sliver.check_shape(metadata);
        match &result {
            Ok(()) => {
                // The Merkle root binds the sliver: only the fixture's own sliver verifies.
                assert_eq!(shape, Ok(()));
                let expected = fixture_sliver::<T>(metadata, sliver.index)
                    .expect("a verified sliver has an in-range index");
                assert_eq!(
                    as_either, expected,
                    "a sliver other than the encoder's verified"
                );
                let pair = sliver
                    .pair_index(N_SHARDS)
                    .expect("verified index is in range");
                assert!(pair.get() < N_SHARDS);
                // A verified sliver can hand out recovery symbols for every orthogonal sliver.
                let expanded = ExpandedSliver::new(sliver, metadata.layout())
                    .expect("a verified sliver expands");
                assert_eq!(
                    Some(&expanded.root()),
                    metadata.sliver_hash(T::TYPE, sliver.index)
                );
                for target in 0..N_SHARDS {
                    let symbol = expanded
                        .recovery_symbol(SliverIndex(target))
                        .expect("in-range recovery symbol");
                    assert_eq!(symbol.verify(metadata, SliverIndex(target)), Ok(()));
                }
                assert!(expanded.recovery_symbol(SliverIndex(N_SHARDS)).is_none());
            }
            Err(SliverVerificationError::MerkleRootMismatch) => {
                assert_eq!(shape, Ok(()), "shape ok but root check skipped?");
                // Well-shaped slivers expand; their root must differ from the metadata's.
                let root = sliver
                    .root(metadata.layout())
                    .expect("well-shaped sliver expands");
                assert_ne!(Some(&root), metadata.sliver_hash(T::TYPE, sliver.index));
            }
            Err(error) => {
                if shape.is_ok() {
                    // Only the expansion can fail after the shape checks.
                    assert!(
                        matches!(error, SliverVerificationError::Expansion(_)),
                        "unexpected error after a good shape: {error:?}"
                    );
                } else {
                    assert_eq!(shape.as_ref().err(), Some(error));
                }
            }
        }
    }
}

fuzz_target!(init: walrus_fuzz::seeds::init("sliver"), |data: &[u8]| {
    if let Ok(sliver) = bcs::from_bytes::<Sliver>(data) {
        let _ = (sliver.sliver_type(), sliver.index());
        match &sliver {
            Sliver::Primary(inner) => check(inner),
            Sliver::Secondary(inner) => check(inner),
        }
    }
    if let Ok(sliver) = bcs::from_bytes::<SliverData<Primary>>(data) {
        check(&sliver);
    }
    if let Ok(sliver) = bcs::from_bytes::<SliverData<Secondary>>(data) {
        check(&sliver);
    }
    if let Ok(answer) = bcs::from_bytes::<SyncShardResponse>(data) {
        for (_, sliver) in answer.into_slivers() {
            match &sliver {
                Sliver::Primary(inner) => check(inner),
                Sliver::Secondary(inner) => check(inner),
            }
        }
    }
});
