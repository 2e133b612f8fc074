//! The lies as pure functions of bytes: each takes the honest BCS answer (and what else it
//! needs) and returns the bytes to serve instead. `None` means the input was not what the
//! lie expects (the layer then serves the honest answer).

use walrus_core::{
    encoding::{DecodingSymbol, EitherDecodingSymbol, GeneralRecoverySymbol, Primary, SliverData},
    merkle::{blake2b256, tree_depth, MerkleProof, Node},
    metadata::{BlobMetadata, BlobMetadataWithId},
    BlobId, SliverIndex, SliverType,
};

/// ULEB128, the length prefix of every BCS sequence.
pub fn uleb128(mut value: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let byte = u8::try_from(value & 0x7f).expect("seven bits");
        value >>= 7;
        if value == 0 {
            bytes.push(byte);
            return bytes;
        }
        bytes.push(byte | 0x80);
    }
}

/// A sliver (either axis: the BCS shape is the same) with the first byte of its data flipped.
pub fn flip_sliver_byte(bytes: &[u8]) -> Option<Vec<u8>> {
    let sliver: SliverData<Primary> = bcs::from_bytes(bytes).ok()?;
    let mut data = sliver.symbols.data().to_vec();
    *data.first_mut()? ^= 0x01;
    let flipped =
        SliverData::<Primary>::from_data(data, sliver.symbols.symbol_size(), sliver.index).ok()?;
    bcs::to_bytes(&flipped).ok()
}

/// The index a sliver claims.
pub fn sliver_index(bytes: &[u8]) -> Option<SliverIndex> {
    bcs::from_bytes::<SliverData<Primary>>(bytes)
        .ok()
        .map(|sliver| sliver.index)
}

/// The same sliver data labelled with `index` (another row's genuine data under the asked
/// index, or the asked row's data under another index).
pub fn reindex_sliver(bytes: &[u8], index: SliverIndex) -> Option<Vec<u8>> {
    let mut sliver: SliverData<Primary> = bcs::from_bytes(bytes).ok()?;
    sliver.index = index;
    bcs::to_bytes(&sliver).ok()
}

/// A sliver whose data length prefix claims `claimed` bytes, followed by the genuine (far
/// shorter) rest of the sliver: a decoder that trusts the prefix allocates `claimed` bytes.
pub fn huge_length_sliver(bytes: &[u8], claimed: u64) -> Option<Vec<u8>> {
    let sliver: SliverData<Primary> = bcs::from_bytes(bytes).ok()?;
    let prefix = uleb128(u64::try_from(sliver.symbols.data().len()).ok()?).len();
    let mut lie = uleb128(claimed);
    lie.extend_from_slice(bytes.get(prefix..)?);
    Some(lie)
}

/// Metadata with the primary hash of pair 0 changed (the blob ID is kept, so they no longer
/// verify against it).
pub fn corrupt_metadata(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut metadata: BlobMetadataWithId = bcs::from_bytes(bytes).ok()?;
    let BlobMetadata::V1(v1) = &mut metadata.metadata;
    let first = v1.hashes.first_mut()?;
    let mut digest = first.primary_hash.bytes();
    digest[0] ^= 0x01;
    first.primary_hash = Node::Digest(digest);
    bcs::to_bytes(&metadata).ok()
}

/// Another blob's genuine metadata relabelled with `blob_id`.
pub fn relabel_metadata(other: &[u8], blob_id: BlobId) -> Option<Vec<u8>> {
    let mut metadata: BlobMetadataWithId = bcs::from_bytes(other).ok()?;
    metadata.blob_id = blob_id;
    bcs::to_bytes(&metadata).ok()
}

/// The number of sliver pairs of honest metadata.
pub fn metadata_pairs(bytes: &[u8]) -> Option<u16> {
    let metadata: BlobMetadataWithId = bcs::from_bytes(bytes).ok()?;
    u16::try_from(metadata.metadata.hashes().len()).ok()
}

/// Metadata under the blob ID and length of the honest `bytes`, with `entries` hashes that
/// are all `Node::Empty`: 2 bytes each on the wire, 66 bytes each once decoded. Built as
/// bytes, so the liar itself allocates only the wire size.
pub fn inflated_metadata(bytes: &[u8], entries: u64) -> Option<Vec<u8>> {
    let mut metadata: BlobMetadataWithId = bcs::from_bytes(bytes).ok()?;
    let BlobMetadata::V1(v1) = &mut metadata.metadata;
    v1.hashes.clear();
    let mut lie = bcs::to_bytes(&metadata).ok()?;
    // The hashes are the last field: their (empty) length prefix is the last byte.
    lie.pop();
    lie.extend(uleb128(entries));
    lie.resize(lie.len() + 2 * usize::try_from(entries).ok()?, 0);
    Some(lie)
}

/// Recovery symbols with the first byte of every symbol flipped (their proofs fail).
pub fn flip_symbol_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut symbols: Vec<GeneralRecoverySymbol> = bcs::from_bytes(bytes).ok()?;
    for symbol in &mut symbols {
        let data = match &mut symbol.symbol {
            EitherDecodingSymbol::Primary(symbol) => &mut symbol.data,
            EitherDecodingSymbol::Secondary(symbol) => &mut symbol.data,
        };
        if let Some(first) = data.first_mut() {
            *first ^= 0x01;
        }
    }
    bcs::to_bytes(&symbols).ok()
}

/// Well-formed recovery symbols for sliver `target` of axis `axis`, one from every index
/// `0..n_shards`, each of the honest symbol size with a proof of the right depth, but with
/// made-up data and proof nodes. The symbol size comes from the honest answer `bytes`.
pub fn forged_symbols(
    bytes: &[u8],
    n_shards: u16,
    target: SliverIndex,
    axis: SliverType,
) -> Option<Vec<u8>> {
    let honest: Vec<GeneralRecoverySymbol> = bcs::from_bytes(bytes).ok()?;
    let symbol_size = match &honest.first()?.symbol {
        EitherDecodingSymbol::Primary(symbol) => symbol.data.len(),
        EitherDecodingSymbol::Secondary(symbol) => symbol.data.len(),
    };
    let depth = tree_depth(usize::from(n_shards));
    let forged: Vec<GeneralRecoverySymbol> = (0..n_shards)
        .map(|index| {
            let seed = blake2b256(&[&index.to_le_bytes()[..], &target.0.to_le_bytes()].concat());
            let data: Vec<u8> = seed.iter().copied().cycle().take(symbol_size).collect();
            let symbol = match axis {
                SliverType::Primary => {
                    EitherDecodingSymbol::Primary(DecodingSymbol::new(index, data))
                }
                SliverType::Secondary => {
                    EitherDecodingSymbol::Secondary(DecodingSymbol::new(index, data))
                }
            };
            GeneralRecoverySymbol {
                symbol,
                target_index: target,
                proof: MerkleProof {
                    path: vec![Node::Digest(blake2b256(&seed)); depth],
                },
            }
        })
        .collect();
    bcs::to_bytes(&forged).ok()
}

/// One recovery symbol (the first honest one) whose proof is padded with `proof_nodes`
/// `Node::Empty` entries (1 byte each on the wire, 33 once decoded), as BCS bytes; the
/// layer repeats it after a count prefix, so that it never holds the whole list.
pub fn inflated_symbol(bytes: &[u8], proof_nodes: u64) -> Option<Vec<u8>> {
    let honest: Vec<GeneralRecoverySymbol> = bcs::from_bytes(bytes).ok()?;
    let mut symbol = honest.into_iter().next()?;
    symbol.proof.path.clear();
    let mut lie = bcs::to_bytes(&symbol).ok()?;
    // The proof path is the last field: its (empty) length prefix is the last byte.
    lie.pop();
    lie.extend(uleb128(proof_nodes));
    lie.resize(lie.len() + usize::try_from(proof_nodes).ok()?, 0);
    Some(lie)
}

#[cfg(test)]
mod tests {
    use walrus_core::{
        encoding::{encode_blob, EncodingConfig, ExpandedSliver, Secondary},
        merkle::MerkleProof,
    };

    use super::*;

    fn honest_symbols(n_shards: u16) -> (walrus_core::encoding::EncodedBlob, Vec<u8>) {
        let config = EncodingConfig::new(n_shards).unwrap();
        let encoded = encode_blob(&config, &[7u8; 5_000]).unwrap();
        let layout = *encoded.metadata.layout();
        let symbols: Vec<GeneralRecoverySymbol> = encoded.sliver_pairs[..2]
            .iter()
            .map(|pair| {
                let symbol = ExpandedSliver::new(&pair.secondary, &layout)
                    .unwrap()
                    .recovery_symbol(SliverIndex(2))
                    .unwrap();
                GeneralRecoverySymbol::from_recovery_symbol(symbol, SliverIndex(2))
            })
            .collect();
        let bytes = bcs::to_bytes(&symbols).unwrap();
        (encoded, bytes)
    }

    #[test]
    fn sliver_lies_fail_verification_or_decoding() {
        let config = EncodingConfig::new(10).unwrap();
        let encoded = encode_blob(&config, &[7u8; 5_000]).unwrap();
        let primary = &encoded.sliver_pairs[3].primary;
        let honest = bcs::to_bytes(primary).unwrap();

        let flipped: SliverData<Primary> =
            bcs::from_bytes(&flip_sliver_byte(&honest).unwrap()).unwrap();
        assert_eq!(flipped.index, primary.index);
        assert!(flipped.verify(&encoded.metadata).is_err());
        let secondary = bcs::to_bytes(&encoded.sliver_pairs[3].secondary).unwrap();
        let flipped: SliverData<Secondary> =
            bcs::from_bytes(&flip_sliver_byte(&secondary).unwrap()).unwrap();
        assert!(flipped.verify(&encoded.metadata).is_err());

        assert_eq!(sliver_index(&honest), Some(primary.index));
        let other = bcs::to_bytes(&encoded.sliver_pairs[4].primary).unwrap();
        let relabelled: SliverData<Primary> =
            bcs::from_bytes(&reindex_sliver(&other, primary.index).unwrap()).unwrap();
        assert_eq!(relabelled.index, primary.index);
        assert!(relabelled.verify(&encoded.metadata).is_err());

        let huge = huge_length_sliver(&honest, u64::from(u32::MAX)).unwrap();
        assert!(huge.len() < honest.len() + 8);
        assert!(bcs::from_bytes::<SliverData<Primary>>(&huge).is_err());
        assert!(flip_sliver_byte(b"junk").is_none());
    }

    #[test]
    fn metadata_lies_fail_verification() {
        let config = EncodingConfig::new(10).unwrap();
        let encoded = encode_blob(&config, &[7u8; 5_000]).unwrap();
        let honest = bcs::to_bytes(&encoded.metadata.clone().into_unverified()).unwrap();
        assert_eq!(metadata_pairs(&honest), Some(10));

        let bad: BlobMetadataWithId = bcs::from_bytes(&corrupt_metadata(&honest).unwrap()).unwrap();
        assert_eq!(bad.blob_id, *encoded.metadata.blob_id());
        assert!(bad.verify(&config).is_err());

        let other = encode_blob(&config, &[8u8; 5_000]).unwrap();
        let other = bcs::to_bytes(&other.metadata.into_unverified()).unwrap();
        let relabelled = relabel_metadata(&other, *encoded.metadata.blob_id()).unwrap();
        let bad: BlobMetadataWithId = bcs::from_bytes(&relabelled).unwrap();
        assert_eq!(bad.blob_id, *encoded.metadata.blob_id());
        assert!(bad.verify(&config).is_err());

        let inflated = inflated_metadata(&honest, 1_000).unwrap();
        assert!(inflated.len() < 2_100);
        let bad: BlobMetadataWithId = bcs::from_bytes(&inflated).unwrap();
        assert_eq!(bad.metadata.hashes().len(), 1_000);
        assert!(bad.verify(&config).is_err());
    }

    #[test]
    fn symbol_lies_are_well_formed_and_fail_their_proofs() {
        let (encoded, honest) = honest_symbols(10);
        let symbols: Vec<GeneralRecoverySymbol> = bcs::from_bytes(&honest).unwrap();
        for symbol in symbols {
            let typed = symbol
                .into_recovery_symbol::<Primary>(SliverIndex(2))
                .unwrap();
            assert!(typed.verify(&encoded.metadata, SliverIndex(2)).is_ok());
        }
        let check = |bytes: &[u8]| -> usize {
            let symbols: Vec<GeneralRecoverySymbol> = bcs::from_bytes(bytes).unwrap();
            for symbol in &symbols {
                let typed = symbol
                    .clone()
                    .into_recovery_symbol::<Primary>(SliverIndex(2))
                    .unwrap();
                assert!(typed.verify(&encoded.metadata, SliverIndex(2)).is_err());
            }
            symbols.len()
        };
        assert_eq!(check(&flip_symbol_bytes(&honest).unwrap()), 2);
        let forged = forged_symbols(&honest, 10, SliverIndex(2), SliverType::Primary).unwrap();
        assert_eq!(check(&forged), 10);

        let symbol = inflated_symbol(&honest, 20).unwrap();
        let mut list = uleb128(3);
        for _ in 0..3 {
            list.extend_from_slice(&symbol);
        }
        let inflated: Vec<GeneralRecoverySymbol> = bcs::from_bytes(&list).unwrap();
        assert_eq!(inflated.len(), 3);
        assert_eq!(
            inflated[0].proof,
            MerkleProof {
                path: vec![Node::Empty; 20]
            }
        );
    }

    #[test]
    fn uleb128_matches_bcs() {
        for length in [0usize, 1, 127, 128, 300, 70_000] {
            let encoded = bcs::to_bytes(&vec![0u8; length]).unwrap();
            assert_eq!(uleb128(length as u64), encoded[..encoded.len() - length]);
        }
    }
}
