//! Bounded decoding of untrusted BCS: limits on sequence lengths, checked before any element
//! is decoded, so that what a decoder allocates stays within a small constant factor of the
//! bytes it was given.
//!
//! BCS prefixes every sequence with its length (ULEB128). [`sequence_length_at`] reads such a
//! prefix without decoding anything, so that a caller that knows how many elements can be
//! legitimate (`n_shards` hashes, `n - f` recovery symbols, the symbols of the shards one
//! node holds) can refuse a body before decoding it; [`bounded_vec`] is a serde
//! `deserialize_with` helper that refuses a sequence longer than `MAX` elements as soon as
//! its length is read.
//!
//! Memory bound: the worst expansion of the decoded types over their wire size is a Merkle
//! [`crate::merkle::Node::Empty`] (1 byte on the wire, 33 bytes in memory), so a body of `b`
//! bytes whose sequences are bounded decodes into at most about `33 b` bytes plus the fixed
//! size of the bounded number of elements.

use std::{fmt, marker::PhantomData};

use serde::{
    de::{SeqAccess, Visitor},
    Deserialize, Deserializer,
};

use crate::{
    encoding::{BlobLayout, SliverType},
    merkle::tree_depth,
};

/// The longest Merkle proof path accepted when decoding: a tree over at most 2^16 leaves (the
/// largest shard count) has depth 16; the rest is headroom. Verification checks the exact
/// depth later.
pub const MAX_PROOF_PATH: usize = 32;

/// Bytes of a BCS-encoded Merkle node at most (tag and digest).
const MAX_NODE_LEN: usize = 33;

/// Bytes of a ULEB128 length prefix of `value`.
fn uleb_len(value: usize) -> usize {
    let bits = usize::BITS - value.max(1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// The largest BCS encoding of legitimate `BlobMetadata` for `n_shards` (every hash a
/// digest): the bound for a metadata body.
pub fn max_metadata_len(n_shards: u16) -> usize {
    let n = usize::from(n_shards);
    // Version tag, encoding type, unencoded length, hash count, two nodes per pair.
    1 + 1 + 8 + uleb_len(n) + n * 2 * MAX_NODE_LEN
}

/// The largest BCS encoding of legitimate `BlobMetadataWithId` for `n_shards`.
pub fn max_metadata_with_id_len(n_shards: u16) -> usize {
    32 + max_metadata_len(n_shards)
}

/// The exact BCS length of a sliver of `axis` for `layout`
/// (`{symbols: {data, symbol_size}, index}`).
pub fn sliver_len(layout: &BlobLayout, axis: SliverType) -> usize {
    let data = layout.sliver_length(axis);
    uleb_len(data) + data + 2 + 2
}

/// The largest BCS encoding of one legitimate `GeneralRecoverySymbol` for `layout`.
pub fn max_recovery_symbol_len(layout: &BlobLayout) -> usize {
    let symbol = layout.symbol_size();
    let depth = tree_depth(layout.config.n());
    // Axis tag, source index, data, target index, proof path.
    1 + 2 + uleb_len(symbol) + symbol + 2 + uleb_len(depth) + depth * MAX_NODE_LEN
}

/// The largest BCS encoding of a legitimate list of `count` recovery symbols for `layout`.
pub fn max_recovery_symbols_len(layout: &BlobLayout, count: usize) -> usize {
    uleb_len(count) + count * max_recovery_symbol_len(layout)
}

/// The largest BCS encoding of a legitimate inconsistency proof for a sliver of `axis`
/// (exactly the symbols needed to rebuild one sliver).
pub fn max_inconsistency_proof_len(layout: &BlobLayout, axis: SliverType) -> usize {
    let count = layout.config.n_symbols_in_sliver(axis);
    // A typed symbol has no axis tag; the target index is once at the front.
    2 + uleb_len(count) + count * max_recovery_symbol_len(layout)
}

/// The ULEB128 length prefix at `offset` of `bytes` (a BCS sequence or byte vector): `None`
/// if the bytes end first or the value does not fit BCS's 32-bit length.
pub fn sequence_length_at(bytes: &[u8], offset: usize) -> Option<usize> {
    let mut value: u64 = 0;
    for (i, byte) in bytes.get(offset..)?.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| v as usize);
        }
    }
    None
}

/// `#[serde(deserialize_with = "bounded_vec::<_, MAX, _>")]`: a `Vec<T>` of at most `MAX`
/// elements, refused before its first element when its declared length is larger.
pub fn bounded_vec<'de, T, const MAX: usize, D>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    struct BoundedVisitor<T, const MAX: usize>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for BoundedVisitor<T, MAX> {
        type Value = Vec<T>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            write!(formatter, "a sequence of at most {MAX} elements")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let declared = seq.size_hint().unwrap_or(0);
            if declared > MAX {
                return Err(serde::de::Error::invalid_length(declared, &self));
            }
            let mut out = Vec::with_capacity(declared);
            while let Some(element) = seq.next_element()? {
                if out.len() == MAX {
                    return Err(serde::de::Error::invalid_length(MAX + 1, &self));
                }
                out.push(element);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_seq(BoundedVisitor::<T, MAX>(PhantomData))
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Small {
        #[serde(deserialize_with = "bounded_vec::<_, 3, _>")]
        items: Vec<u8>,
    }

    #[test]
    fn reads_length_prefixes() {
        assert_eq!(sequence_length_at(&[0x00], 0), Some(0));
        assert_eq!(sequence_length_at(&[9, 0x7f], 1), Some(127));
        assert_eq!(sequence_length_at(&[0x80, 0x01], 0), Some(128));
        assert_eq!(
            sequence_length_at(&[0xff, 0xff, 0xff, 0xff, 0x0f], 0),
            Some(u32::MAX as usize)
        );
        assert_eq!(sequence_length_at(&[0xff, 0xff, 0xff, 0xff, 0x1f], 0), None);
        assert_eq!(sequence_length_at(&[0x80], 0), None);
        assert_eq!(sequence_length_at(&[], 0), None);
        assert_eq!(sequence_length_at(&[1], 5), None);
        let encoded = bcs::to_bytes(&(7u16, vec![1u32; 300])).unwrap();
        assert_eq!(sequence_length_at(&encoded, 2), Some(300));
    }

    #[test]
    fn legitimate_encodings_fit_their_bounds() {
        use crate::encoding::{encode_blob, EncodingConfig, ExpandedSliver, GeneralRecoverySymbol};
        for (n, size) in [(4u16, 1usize), (10, 5_000), (7, 100_000)] {
            let config = EncodingConfig::new(n).unwrap();
            let data: Vec<u8> = (0..size).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let encoded = encode_blob(&config, &data).unwrap();
            let metadata = encoded.metadata.clone().into_unverified();
            assert!(bcs::to_bytes(&metadata.metadata).unwrap().len() <= max_metadata_len(n));
            assert!(bcs::to_bytes(&metadata).unwrap().len() <= max_metadata_with_id_len(n));
            let layout = encoded.metadata.layout();
            let pair = &encoded.sliver_pairs[1];
            let primary = bcs::to_bytes(&pair.primary).unwrap();
            assert_eq!(primary.len(), sliver_len(layout, SliverType::Primary));
            let secondary = bcs::to_bytes(&pair.secondary).unwrap();
            assert_eq!(secondary.len(), sliver_len(layout, SliverType::Secondary));
            let expanded = ExpandedSliver::new(&pair.primary, layout).unwrap();
            let symbols: Vec<GeneralRecoverySymbol> = (0..n)
                .map(|target| {
                    let target = crate::SliverIndex(target);
                    GeneralRecoverySymbol::from_recovery_symbol(
                        expanded.recovery_symbol(target).unwrap(),
                        target,
                    )
                })
                .collect();
            let bytes = bcs::to_bytes(&symbols).unwrap();
            assert!(bytes.len() <= max_recovery_symbols_len(layout, symbols.len()));
        }
        assert_eq!(uleb_len(0), 1);
        assert_eq!(uleb_len(127), 1);
        assert_eq!(uleb_len(128), 2);
    }

    #[test]
    fn bounded_vectors_refuse_long_sequences() {
        let ok = bcs::to_bytes(&Small {
            items: vec![1, 2, 3],
        })
        .unwrap();
        assert_eq!(bcs::from_bytes::<Small>(&ok).unwrap().items, vec![1, 2, 3]);
        let long = bcs::to_bytes(&Small {
            items: vec![1, 2, 3, 4],
        })
        .unwrap();
        assert!(bcs::from_bytes::<Small>(&long).is_err());
        // A declared length far beyond the bytes is refused without allocating for it.
        let lying = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(bcs::from_bytes::<Small>(&lying).is_err());
    }
}
