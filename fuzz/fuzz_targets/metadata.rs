//! Untrusted blob metadata (as a storage node receives them from a client, or a reader from a
//! node): BCS `BlobMetadataWithId`, then `verify` against a shard count taken from the first
//! input byte (1..=64).
//!
//! Input: `n_byte || BCS(BlobMetadataWithId)`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_core::{
    encoding::EncodingConfig,
    metadata::{node_digest, BlobMetadataWithId},
    SliverIndex, SliverType,
};

fuzz_target!(init: walrus_fuzz::seeds::init("metadata"), |data: &[u8]| {
    let Some((&n_byte, bytes)) = data.split_first() else {
        return;
    };
    let Ok(metadata) = bcs::from_bytes::<BlobMetadataWithId>(bytes) else {
        return;
    };

    // What decodes re-encodes and decodes to the same value.
    let reencoded = bcs::to_bytes(&metadata).expect("decoded metadata re-encode");
    assert_eq!(
        bcs::from_bytes::<BlobMetadataWithId>(&reencoded).expect("re-encoded metadata decode"),
        metadata,
        "BCS round trip changed the metadata"
    );

    // Cheap accessors on unverified metadata must not panic.
    let _ = metadata.metadata.encoding_type();
    let _ = metadata.metadata.unencoded_length();
    let root = metadata.metadata.root_hash();
    let _ = node_digest(&root);
    let computed = metadata.metadata.compute_blob_id();

    let n_shards = u16::from(n_byte % 64) + 1;
    let Ok(config) = EncodingConfig::new(n_shards) else {
        return;
    };
    let Ok(verified) = metadata.clone().verify(&config) else {
        return;
    };

    assert_eq!(*verified.blob_id(), computed, "verified metadata with a foreign blob ID");
    assert_eq!(verified.metadata().hashes().len(), config.n());
    assert!(verified.metadata().unencoded_length() <= config.max_blob_size());
    assert_eq!(verified.root_hash(), root);
    assert_eq!(verified.as_unverified(), &metadata);
    let layout = verified.layout();
    assert_eq!(
        config.blob_layout(verified.metadata().unencoded_length()).ok(),
        Some(*layout)
    );
    let _ = layout.encoded_length();
    let _ = config.encoded_blob_length(verified.metadata().unencoded_length());
    for axis in [SliverType::Primary, SliverType::Secondary] {
        let _ = layout.sliver_length(axis);
        for index in 0..n_shards {
            assert!(verified.sliver_hash(axis, SliverIndex(index)).is_some());
        }
        assert!(verified.sliver_hash(axis, SliverIndex(n_shards)).is_none());
    }
});
