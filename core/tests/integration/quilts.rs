//! Reproduces every quilt vector of the public Walrus encoders (`data/quilts.json`, a copy of
//! `shared/vectors/quilts.json`): quilt bytes, symbol size, quilt blob ID, each patch's columns
//! and patch ID, and each patch read back by identifier and by patch ID.

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use walrus_core::{
    encoding::{compute_metadata, EncodingConfig},
    quilt::{encode_quilt, read_index, read_patch, QuiltFile, QuiltLayout, QuiltPatchId},
    BlobId,
};

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    n_shards: u16,
    spec: Spec,
    expected: Expected,
}

#[derive(Deserialize)]
struct Spec {
    patches: Vec<SpecPatch>,
}

#[derive(Deserialize)]
struct SpecPatch {
    identifier: String,
    gen: (usize, u32),
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Expected {
    quilt_blob_id: String,
    quilt_length: usize,
    symbol_size: usize,
    quilt_sha256: String,
    patches: Vec<ExpectedPatch>,
}

#[derive(Deserialize)]
struct ExpectedPatch {
    identifier: String,
    start_index: u16,
    end_index: u16,
    patch_id: String,
    length: usize,
    sha256: String,
}

/// The vectors' generator: xorshift32 (13, 17, 5), one byte (the low 8 bits) per step.
fn generate(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn the_generator_matches_its_check_values() {
    assert_eq!(
        generate(8, 1),
        [0x21, 0x01, 0xc5, 0x4f, 0xd1, 0xd0, 0x1a, 0xb2]
    );
    assert_eq!(
        sha256(&generate(1234, 1)),
        "29eef2bfbd6a7d0b17c895f0fe80b4dca4372aa2ff42108df3184efa96dd8ff9"
    );
}

#[test]
fn every_vector_is_reproduced() {
    let vectors: Vectors =
        serde_json::from_str(include_str!("../data/quilts.json")).expect("valid vectors");
    assert!(vectors.cases.len() >= 6);
    for case in &vectors.cases {
        let name = &case.name;
        let config = EncodingConfig::new(case.n_shards).unwrap();
        let files: Vec<QuiltFile> = case
            .spec
            .patches
            .iter()
            .map(|patch| {
                QuiltFile::new(&patch.identifier, generate(patch.gen.0, patch.gen.1))
                    .with_tags(patch.tags.clone())
            })
            .collect();
        let quilt = encode_quilt(&config, &files).unwrap();
        let expected = &case.expected;
        assert_eq!(quilt.bytes.len(), expected.quilt_length, "{name}");
        assert_eq!(quilt.layout.symbol_size, expected.symbol_size, "{name}");
        assert_eq!(sha256(&quilt.bytes), expected.quilt_sha256, "{name}");
        let quilt_id = *compute_metadata(&config, &quilt.bytes).unwrap().blob_id();
        assert_eq!(quilt_id.to_string(), expected.quilt_blob_id, "{name}");

        let layout = QuiltLayout::of(&config, quilt.bytes.len() as u64).unwrap();
        let index = read_index(quilt.bytes.as_slice(), &layout).unwrap();
        assert_eq!(index, quilt.index, "{name}");
        assert_eq!(index.patches.len(), expected.patches.len(), "{name}");
        for (patch, want) in index.patches.iter().zip(&expected.patches) {
            assert_eq!(patch.identifier, want.identifier, "{name}");
            assert_eq!(
                (patch.start_index, patch.end_index),
                (want.start_index, want.end_index),
                "{name}: {}",
                want.identifier
            );
            let patch_id = patch.patch_id(quilt_id);
            assert_eq!(patch_id.to_string(), want.patch_id, "{name}");
            let parsed: QuiltPatchId = want.patch_id.parse().unwrap();
            assert_eq!(parsed, patch_id);
            assert_eq!(parsed.quilt_id, BlobId(quilt_id.0));

            // By identifier (through the index) and by patch ID (its columns alone).
            let by_identifier = &index.by_identifiers(&[&want.identifier]).unwrap()[0];
            let read = read_patch(
                quilt.bytes.as_slice(),
                &layout,
                by_identifier.start_index,
                by_identifier.end_index,
            )
            .unwrap();
            let by_id = read_patch(
                quilt.bytes.as_slice(),
                &layout,
                parsed.start_index,
                parsed.end_index,
            )
            .unwrap();
            assert_eq!(read, by_id);
            assert_eq!(read.identifier, want.identifier);
            assert_eq!(read.contents.len(), want.length, "{name}");
            assert_eq!(sha256(&read.contents), want.sha256, "{name}");
            let spec = case
                .spec
                .patches
                .iter()
                .find(|spec| spec.identifier == want.identifier)
                .unwrap();
            assert_eq!(read.tags, spec.tags, "{name}");
        }
    }
}
