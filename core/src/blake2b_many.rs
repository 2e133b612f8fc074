//! Multi-buffer Blake2b-256 for many independent inputs.
//!
//! Merkle leaves (`0x00 || symbol`) and inner nodes (`0x01 || left || right`, 65 bytes) are
//! hashed by the thousand. On CPUs with AVX-512 (F and BW) eight hashes run side by side, one
//! input per 64-bit lane of 512-bit vectors; elsewhere the hashing falls back to
//! `blake2b_simd` (AVX2, four inputs at a time). Two entry points:
//!
//! - [`hash_short_many`]: inputs of at most one 128-byte block each (any mix of lengths), so
//!   each hash is exactly one compression of a zero-padded block;
//! - [`hash_prefixed_leaves`]: `prefix || leaf` for many leaves of one common length (any
//!   number of blocks), read in place: the prefix byte is merged into the first block in
//!   registers instead of copying every leaf behind it.
//!
//! The output is plain Blake2b with a 32-byte digest, no key, salt or personalization:
//! byte-identical to `blake2b_simd::Params::new().hash_length(32).hash(input)`.

// The AVX-512 path needs `unsafe` for three things only: calling the `#[target_feature]`
// functions once the CPU features are detected, the loads of the inputs (including one masked
// load per prefixed leaf from the address just before it, see `load_message_half`) and the
// stores of the digests. Every such block carries a `SAFETY` comment.
#![allow(unsafe_code)]

use blake2b_simd::{
    many::{hash_many, update_many, HashManyJob},
    Params, State,
};

/// Bytes in one Blake2b block: the longest input the multi-buffer path hashes.
pub(crate) const BLOCK_BYTES: usize = 128;

/// Bytes in a Blake2b-256 digest.
const DIGEST_BYTES: usize = 32;

/// The Blake2b initialization vector (the SHA-512 IV).
const IV: [u64; 8] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
];

/// The first chaining word for Blake2b-256 without a key: `IV[0]` xor the parameter block's
/// first word (digest length 32, key length 0, fanout 1, depth 1).
const H0: u64 = IV[0] ^ 0x0101_0000 ^ 32;

/// The message word permutation of each of the twelve rounds.
const SIGMA: [[usize; 16]; 12] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

/// Whether this CPU runs the 8-way AVX-512 path (it needs AVX-512 F and BW).
pub(crate) fn avx512_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx512::Avx512::detect().is_some()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Blake2b-256 of every input, `out[i] = blake2b256(inputs[i])`.
///
/// Meant for inputs of at most [`BLOCK_BYTES`] bytes (debug-asserted), which are hashed eight at
/// a time with AVX-512 where available. Longer inputs are still hashed correctly, one at a time.
/// `inputs` and `out` must have the same length (debug-asserted; otherwise only the shorter
/// prefix is processed).
pub(crate) fn hash_short_many(inputs: &[&[u8]], out: &mut [[u8; DIGEST_BYTES]]) {
    debug_assert_eq!(inputs.len(), out.len(), "one output slot per input");
    debug_assert!(
        inputs.iter().all(|input| input.len() <= BLOCK_BYTES),
        "inputs must fit in one Blake2b block"
    );
    #[cfg(target_arch = "x86_64")]
    if let Some(avx512) = avx512::Avx512::detect() {
        avx512.hash_many(inputs, out);
        return;
    }
    hash_fallback(inputs, out);
}

/// Blake2b-256 parameters: 32-byte digest, nothing else.
fn params() -> Params {
    let mut params = Params::new();
    params.hash_length(DIGEST_BYTES);
    params
}

/// Blake2b-256 of one input of any length through `blake2b_simd`.
fn hash_one(params: &Params, input: &[u8]) -> [u8; DIGEST_BYTES] {
    let mut digest = [0; DIGEST_BYTES];
    digest.copy_from_slice(params.hash(input).as_bytes());
    digest
}

/// The portable path: `blake2b_simd::many::hash_many` (four inputs at a time with AVX2).
fn hash_fallback(inputs: &[&[u8]], out: &mut [[u8; DIGEST_BYTES]]) {
    let params = params();
    let mut jobs: Vec<HashManyJob<'_>> = inputs
        .iter()
        .map(|input| HashManyJob::new(&params, input))
        .collect();
    hash_many(jobs.iter_mut());
    for (slot, job) in out.iter_mut().zip(&jobs) {
        slot.copy_from_slice(job.to_hash().as_bytes());
    }
}

/// Blake2b-256 of `prefix || leaf` for every leaf, `out[i] = blake2b256(prefix || leaves[i])`,
/// without copying the leaves.
///
/// Meant for Merkle leaves, which all have the same length (debug-asserted); with AVX-512 they
/// are hashed eight at a time, block by block, straight from their memory. Leaves of differing
/// lengths are still hashed correctly (through `blake2b_simd`). `leaves` and `out` must have
/// the same length (debug-asserted; otherwise only the shorter prefix is processed).
// Until the Merkle leaf hashing calls it (only the tests do so far).
pub(crate) fn hash_prefixed_leaves(prefix: u8, leaves: &[&[u8]], out: &mut [[u8; DIGEST_BYTES]]) {
    debug_assert_eq!(leaves.len(), out.len(), "one output slot per leaf");
    let len = leaves.first().map_or(0, |leaf| leaf.len());
    let same_length = leaves.iter().all(|leaf| leaf.len() == len);
    debug_assert!(same_length, "all leaves must have the same length");
    #[cfg(target_arch = "x86_64")]
    if same_length {
        if let Some(avx512) = avx512::Avx512::detect() {
            avx512.hash_prefixed(prefix, len, leaves, out);
            return;
        }
    }
    hash_prefixed_fallback(prefix, leaves, out);
}

/// Leaves at least this long are hashed in place by `update_many` on states that absorbed the
/// prefix byte; shorter ones are copied behind it for `hash_many`, which hashes the first and
/// last blocks four at a time too (`update_many` compresses those one state at a time).
const IN_PLACE_LEAF_BYTES: usize = 2048;

/// Leaves copied into the scratch buffer per `hash_many` call, which bounds it to
/// `SCRATCH_LEAVES * IN_PLACE_LEAF_BYTES` bytes (64 KiB).
const SCRATCH_LEAVES: usize = 32;

/// The portable path of [`hash_prefixed_leaves`], for any leaf lengths: `blake2b_simd`'s
/// four-way hashing of copies `prefix || leaf` (short leaves) or of the leaves in place, after
/// the prefix (long ones).
fn hash_prefixed_fallback(prefix: u8, leaves: &[&[u8]], out: &mut [[u8; DIGEST_BYTES]]) {
    let params = params();
    let mut scratch = Vec::new();
    for (leaves, out) in leaves
        .chunks(SCRATCH_LEAVES)
        .zip(out.chunks_mut(SCRATCH_LEAVES))
    {
        if leaves.iter().all(|leaf| leaf.len() < IN_PLACE_LEAF_BYTES) {
            scratch.clear();
            for leaf in leaves {
                scratch.push(prefix);
                scratch.extend_from_slice(leaf);
            }
            let mut rest = scratch.as_slice();
            let mut jobs: Vec<HashManyJob<'_>> = leaves
                .iter()
                .map(|leaf| {
                    let (input, tail) = rest.split_at(leaf.len() + 1);
                    rest = tail;
                    HashManyJob::new(&params, input)
                })
                .collect();
            hash_many(jobs.iter_mut());
            for (slot, job) in out.iter_mut().zip(&jobs) {
                slot.copy_from_slice(job.to_hash().as_bytes());
            }
        } else {
            let mut states: Vec<State> = leaves
                .iter()
                .map(|_| {
                    let mut state = params.to_state();
                    state.update(&[prefix]);
                    state
                })
                .collect();
            update_many(states.iter_mut().zip(leaves));
            for (slot, state) in out.iter_mut().zip(&states) {
                slot.copy_from_slice(state.finalize().as_bytes());
            }
        }
    }
}

/// The 8-way AVX-512 compression.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512i, _mm512_add_epi64, _mm512_loadu_si512, _mm512_maskz_loadu_epi8, _mm512_or_si512,
        _mm512_permutex2var_epi64, _mm512_ror_epi64, _mm512_set1_epi64, _mm512_setr_epi64,
        _mm512_shuffle_i64x2, _mm512_storeu_si512, _mm512_ternarylogic_epi64,
        _mm512_unpackhi_epi64, _mm512_unpacklo_epi64, _mm512_xor_si512, _mm_prefetch, _MM_HINT_T0,
    };

    use super::{hash_one, params, BLOCK_BYTES, DIGEST_BYTES, H0, IV, SIGMA};

    /// Inputs hashed per compression call: one per 64-bit lane of a 512-bit vector.
    const LANES: usize = 8;

    /// Bytes loaded by one 512-bit load.
    const VECTOR_BYTES: usize = 64;

    /// Bytes in one message word.
    const WORD_BYTES: usize = 8;

    /// Whether [`Avx512::hash_prefixed`] hashes a final group of `rest` (< 8) leaves by
    /// padding it to eight lanes rather than through `blake2b_simd`, which hashes four leaves
    /// (AVX2) or two (SSE4.1) at a time. Measured on Zen 4, where one 8-way AVX-512
    /// compression costs about as much as two 4-way AVX2 ones: `blake2b_simd` wins for 1, 2
    /// and 4 leaves of several blocks (by up to 2.6x for one leaf), padding for 3, 5, 6 and 7.
    fn pad_rest(rest: usize) -> bool {
        !matches!(rest, 1 | 2 | 4)
    }

    /// Proof that the CPU supports AVX-512 F and BW: only [`Avx512::detect`] creates one.
    #[derive(Clone, Copy)]
    pub(super) struct Avx512(());

    impl Avx512 {
        /// The token, if this CPU has AVX-512 F and BW.
        pub(super) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw"))
                .then_some(Self(()))
        }

        /// `out[i] = blake2b256(inputs[i])`, eight inputs per compression; a final group of
        /// fewer than eight is padded with empty inputs, and inputs longer than one block are
        /// hashed by `blake2b_simd`.
        pub(super) fn hash_many(self, inputs: &[&[u8]], out: &mut [[u8; DIGEST_BYTES]]) {
            let mut in_groups = inputs.chunks_exact(LANES);
            let mut out_groups = out.chunks_exact_mut(LANES);
            for (group, digests) in (&mut in_groups).zip(&mut out_groups) {
                let group: &[&[u8]; LANES] = group.try_into().expect("chunks_exact");
                let digests: &mut [[u8; DIGEST_BYTES]; LANES] =
                    digests.try_into().expect("chunks_exact");
                self.hash_group(group, digests);
            }
            let (rest_in, rest_out) = (in_groups.remainder(), out_groups.into_remainder());
            let rest = rest_in.len().min(rest_out.len());
            if rest > 0 {
                let mut group: [&[u8]; LANES] = [&[]; LANES];
                group[..rest].copy_from_slice(&rest_in[..rest]);
                let mut digests = [[0; DIGEST_BYTES]; LANES];
                self.hash_group(&group, &mut digests);
                rest_out[..rest].copy_from_slice(&digests[..rest]);
            }
        }

        /// Hashes one group of eight inputs, routing any longer than one block to
        /// `blake2b_simd`.
        fn hash_group(self, group: &[&[u8]; LANES], digests: &mut [[u8; DIGEST_BYTES]; LANES]) {
            if group.iter().all(|input| input.len() <= BLOCK_BYTES) {
                self.compress(group, digests);
                return;
            }
            let mut short = *group;
            for input in &mut short {
                if input.len() > BLOCK_BYTES {
                    *input = &[];
                }
            }
            self.compress(&short, digests);
            let params = params();
            for (input, digest) in group.iter().zip(digests) {
                if input.len() > BLOCK_BYTES {
                    *digest = hash_one(&params, input);
                }
            }
        }

        /// `out[i] = blake2b256(prefix || leaves[i])` for leaves of `len` bytes each, eight
        /// leaves at a time; a final group of fewer than eight goes to `blake2b_simd` or is
        /// padded with copies of its last leaf, whichever is faster.
        pub(super) fn hash_prefixed(
            self,
            prefix: u8,
            len: usize,
            leaves: &[&[u8]],
            out: &mut [[u8; DIGEST_BYTES]],
        ) {
            let count = leaves.len().min(out.len());
            let (leaves, out) = (&leaves[..count], &mut out[..count]);
            let full = count - count % LANES;
            for (start, digests) in (0..full).step_by(LANES).zip(out.chunks_exact_mut(LANES)) {
                let group = leaves[start..start + LANES]
                    .try_into()
                    .expect("LANES leaves");
                let digests = digests.try_into().expect("chunks_exact");
                // The leaves hashed next, whose first block is prefetched meanwhile.
                let next = &leaves[start + LANES..count.min(start + 2 * LANES)];
                self.hash_prefixed_group(prefix, len, group, next, digests);
            }
            let (rest_in, rest_out) = (&leaves[full..], &mut out[full..]);
            let rest = rest_in.len();
            if rest == 0 {
                return;
            }
            if !pad_rest(rest) {
                super::hash_prefixed_fallback(prefix, rest_in, rest_out);
                return;
            }
            let mut group = [rest_in[rest - 1]; LANES];
            group[..rest].copy_from_slice(rest_in);
            let mut digests = [[0; DIGEST_BYTES]; LANES];
            self.hash_prefixed_group(prefix, len, &group, &[], &mut digests);
            rest_out.copy_from_slice(&digests[..rest]);
        }

        /// Eight prefixed leaves of `len` bytes each, by the variant that skips the message
        /// words of the last block that are zero in every lane.
        fn hash_prefixed_group(
            self,
            prefix: u8,
            len: usize,
            group: &[&[u8]; LANES],
            next: &[&[u8]],
            digests: &mut [[u8; DIGEST_BYTES]; LANES],
        ) {
            debug_assert!(group.iter().all(|leaf| leaf.len() == len));
            // Message bytes in the last block, 1..=128 (the message is never empty).
            let last_block_bytes = len % BLOCK_BYTES + 1;
            // SAFETY: `self` proves that the CPU supports AVX-512 F and BW, the only
            // requirement of `prefixed8` beyond its (safe) signature.
            unsafe {
                if last_block_bytes <= WORD_BYTES {
                    // For instance leaves of tiny symbols (up to 7 bytes).
                    prefixed8::<1>(prefix, len, group, next, digests);
                } else if last_block_bytes <= VECTOR_BYTES {
                    prefixed8::<8>(prefix, len, group, next, digests);
                } else {
                    prefixed8::<16>(prefix, len, group, next, digests);
                }
            }
        }

        /// One compression of eight inputs of at most one block each, by the variant that
        /// skips the message words that are zero in every input.
        fn compress(self, group: &[&[u8]; LANES], digests: &mut [[u8; DIGEST_BYTES]; LANES]) {
            let longest = group.iter().map(|input| input.len()).max().unwrap_or(0);
            // SAFETY: `self` proves that the CPU supports AVX-512 F and BW, the only
            // requirement of `compress8` beyond its (safe) signature.
            unsafe {
                if longest <= WORD_BYTES {
                    // Merkle leaves of tiny symbols.
                    compress8::<1>(group, digests);
                } else if longest <= 9 * WORD_BYTES {
                    // Merkle inner nodes: 65 bytes.
                    compress8::<9>(group, digests);
                } else {
                    compress8::<16>(group, digests);
                }
            }
        }
    }

    /// A 64-bit constant in every lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn splat(word: u64) -> __m512i {
        _mm512_set1_epi64(i64::from_ne_bytes(word.to_ne_bytes()))
    }

    /// The mask selecting the first `len` bytes of a 64-byte vector (`len <= 64`).
    #[inline]
    fn prefix_mask(len: usize) -> u64 {
        debug_assert!(len <= VECTOR_BYTES);
        if len >= VECTOR_BYTES {
            u64::MAX
        } else {
            (1 << len) - 1
        }
    }

    /// The first 64 bytes of `part`, zero-padded if it is shorter.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn load_part(part: &[u8]) -> __m512i {
        if let Some(full) = part.first_chunk::<VECTOR_BYTES>() {
            // A plain load whenever 64 bytes are there: on Zen 4, masked loads of whole vectors
            // made the compression of 128-byte inputs about 1.6x slower.
            // SAFETY: `full` is 64 readable bytes, exactly what is loaded; `loadu` has no
            // alignment requirement, and AVX-512 F is enabled.
            unsafe { _mm512_loadu_si512(full.as_ptr().cast()) }
        } else {
            // SAFETY: a masked load only accesses the bytes whose mask bit is set (faults on
            // the others are suppressed); the mask covers the first `part.len()` (< 64) bytes,
            // all inside `part`. `loadu` has no alignment requirement, and AVX-512 BW is
            // enabled.
            unsafe { _mm512_maskz_loadu_epi8(prefix_mask(part.len()), part.as_ptr().cast()) }
        }
    }

    /// Bytes 64..128 of `input`, zero-padded (zero if `input` is at most 64 bytes long).
    fn high_half(input: &[u8]) -> &[u8] {
        &input[input.len().min(VECTOR_BYTES)..input.len().min(BLOCK_BYTES)]
    }

    /// Transposes an 8x8 matrix of 64-bit words: lane `j` of output `i` is lane `i` of
    /// input `j`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn transpose8(rows: [__m512i; 8]) -> [__m512i; 8] {
        // Pairs of rows interleaved: even words of rows 0 and 1, odd words, ...
        let t0 = _mm512_unpacklo_epi64(rows[0], rows[1]);
        let t1 = _mm512_unpackhi_epi64(rows[0], rows[1]);
        let t2 = _mm512_unpacklo_epi64(rows[2], rows[3]);
        let t3 = _mm512_unpackhi_epi64(rows[2], rows[3]);
        let t4 = _mm512_unpacklo_epi64(rows[4], rows[5]);
        let t5 = _mm512_unpackhi_epi64(rows[4], rows[5]);
        let t6 = _mm512_unpacklo_epi64(rows[6], rows[7]);
        let t7 = _mm512_unpackhi_epi64(rows[6], rows[7]);
        // Quads: words (k, k + 4) of rows 0..4 (or 4..8) for k = 0, 2 (even) and 1, 3 (odd).
        let first = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
        let second = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
        let u0 = _mm512_permutex2var_epi64(t0, first, t2); // words 0, 4 of rows 0..4
        let u1 = _mm512_permutex2var_epi64(t0, second, t2); // words 2, 6
        let u2 = _mm512_permutex2var_epi64(t1, first, t3); // words 1, 5
        let u3 = _mm512_permutex2var_epi64(t1, second, t3); // words 3, 7
        let u4 = _mm512_permutex2var_epi64(t4, first, t6); // words 0, 4 of rows 4..8
        let u5 = _mm512_permutex2var_epi64(t4, second, t6);
        let u6 = _mm512_permutex2var_epi64(t5, first, t7);
        let u7 = _mm512_permutex2var_epi64(t5, second, t7);
        // Low 256 bits of both halves (0x44), or high 256 bits of both (0xEE).
        [
            _mm512_shuffle_i64x2::<0x44>(u0, u4),
            _mm512_shuffle_i64x2::<0x44>(u2, u6),
            _mm512_shuffle_i64x2::<0x44>(u1, u5),
            _mm512_shuffle_i64x2::<0x44>(u3, u7),
            _mm512_shuffle_i64x2::<0xEE>(u0, u4),
            _mm512_shuffle_i64x2::<0xEE>(u2, u6),
            _mm512_shuffle_i64x2::<0xEE>(u1, u5),
            _mm512_shuffle_i64x2::<0xEE>(u3, u7),
        ]
    }

    /// Rearranges the four digest words of eight lanes (`words[w]` lane `j` = word `w` of
    /// digest `j`) into the 256 contiguous digest bytes, two digests per vector.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn digests_layout(words: [__m512i; 4]) -> [__m512i; 4] {
        let t0 = _mm512_unpacklo_epi64(words[0], words[1]); // w0, w1 of lanes 0, 2, 4, 6
        let t1 = _mm512_unpackhi_epi64(words[0], words[1]); // w0, w1 of lanes 1, 3, 5, 7
        let t2 = _mm512_unpacklo_epi64(words[2], words[3]); // w2, w3 of lanes 0, 2, 4, 6
        let t3 = _mm512_unpackhi_epi64(words[2], words[3]); // w2, w3 of lanes 1, 3, 5, 7
        let first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
        let second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
        let u0 = _mm512_permutex2var_epi64(t0, first, t2); // digests 0, 2
        let u1 = _mm512_permutex2var_epi64(t0, second, t2); // digests 4, 6
        let u2 = _mm512_permutex2var_epi64(t1, first, t3); // digests 1, 3
        let u3 = _mm512_permutex2var_epi64(t1, second, t3); // digests 5, 7
        [
            _mm512_shuffle_i64x2::<0x44>(u0, u2), // digests 0, 1
            _mm512_shuffle_i64x2::<0xEE>(u0, u2), // digests 2, 3
            _mm512_shuffle_i64x2::<0x44>(u1, u3), // digests 4, 5
            _mm512_shuffle_i64x2::<0xEE>(u1, u3), // digests 6, 7
        ]
    }

    /// The Blake2b mixing function G on state words `a, b, c, d` with message words `x, y`.
    macro_rules! g {
        ($v:ident, $a:literal, $b:literal, $c:literal, $d:literal, $x:expr, $y:expr) => {
            $v[$a] = _mm512_add_epi64(_mm512_add_epi64($v[$a], $v[$b]), $x);
            $v[$d] = _mm512_ror_epi64::<32>(_mm512_xor_si512($v[$d], $v[$a]));
            $v[$c] = _mm512_add_epi64($v[$c], $v[$d]);
            $v[$b] = _mm512_ror_epi64::<24>(_mm512_xor_si512($v[$b], $v[$c]));
            $v[$a] = _mm512_add_epi64(_mm512_add_epi64($v[$a], $v[$b]), $y);
            $v[$d] = _mm512_ror_epi64::<16>(_mm512_xor_si512($v[$d], $v[$a]));
            $v[$c] = _mm512_add_epi64($v[$c], $v[$d]);
            $v[$b] = _mm512_ror_epi64::<63>(_mm512_xor_si512($v[$b], $v[$c]));
        };
    }

    /// One Blake2b round: G on the columns, then on the diagonals.
    macro_rules! round {
        ($v:ident, $m:ident, $r:literal) => {
            let s = &SIGMA[$r];
            g!($v, 0, 4, 8, 12, $m[s[0]], $m[s[1]]);
            g!($v, 1, 5, 9, 13, $m[s[2]], $m[s[3]]);
            g!($v, 2, 6, 10, 14, $m[s[4]], $m[s[5]]);
            g!($v, 3, 7, 11, 15, $m[s[6]], $m[s[7]]);
            g!($v, 0, 5, 10, 15, $m[s[8]], $m[s[9]]);
            g!($v, 1, 6, 11, 12, $m[s[10]], $m[s[11]]);
            g!($v, 2, 7, 8, 13, $m[s[12]], $m[s[13]]);
            g!($v, 3, 4, 9, 14, $m[s[14]], $m[s[15]]);
        };
    }

    /// One Blake2b compression of eight lanes: the chaining value `$h` (8 vectors) updated
    /// with the message block `$m` (16 vectors), byte counter `t0 = $t` (`t1 = 0`) and
    /// finalization flag `f0 = $f` (`!0` on the last block, `0` before; `f1 = 0`, never the
    /// last node). A macro rather than a function so that it is always inlined: the message
    /// words known to be zero then cost nothing.
    macro_rules! compress {
        ($h:expr, $m:ident, $t:expr, $f:expr) => {{
            let h: [__m512i; 8] = $h;
            let mut v = [
                h[0],
                h[1],
                h[2],
                h[3],
                h[4],
                h[5],
                h[6],
                h[7],
                splat(IV[0]),
                splat(IV[1]),
                splat(IV[2]),
                splat(IV[3]),
                _mm512_xor_si512(splat(IV[4]), $t),
                splat(IV[5]),
                _mm512_xor_si512(splat(IV[6]), $f),
                splat(IV[7]),
            ];
            round!(v, $m, 0);
            round!(v, $m, 1);
            round!(v, $m, 2);
            round!(v, $m, 3);
            round!(v, $m, 4);
            round!(v, $m, 5);
            round!(v, $m, 6);
            round!(v, $m, 7);
            round!(v, $m, 8);
            round!(v, $m, 9);
            round!(v, $m, 10);
            round!(v, $m, 11);
            // h'[i] = h[i] ^ v[i] ^ v[i + 8].
            [
                _mm512_ternarylogic_epi64::<0x96>(h[0], v[0], v[8]),
                _mm512_ternarylogic_epi64::<0x96>(h[1], v[1], v[9]),
                _mm512_ternarylogic_epi64::<0x96>(h[2], v[2], v[10]),
                _mm512_ternarylogic_epi64::<0x96>(h[3], v[3], v[11]),
                _mm512_ternarylogic_epi64::<0x96>(h[4], v[4], v[12]),
                _mm512_ternarylogic_epi64::<0x96>(h[5], v[5], v[13]),
                _mm512_ternarylogic_epi64::<0x96>(h[6], v[6], v[14]),
                _mm512_ternarylogic_epi64::<0x96>(h[7], v[7], v[15]),
            ]
        }};
    }

    /// The chaining value before the first block, in every lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn initial_state() -> [__m512i; 8] {
        [
            splat(H0),
            splat(IV[1]),
            splat(IV[2]),
            splat(IV[3]),
            splat(IV[4]),
            splat(IV[5]),
            splat(IV[6]),
            splat(IV[7]),
        ]
    }

    /// Writes the digests (the first four chaining words of each lane) to `digests`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn store_digests(h: &[__m512i; 8], digests: &mut [[u8; DIGEST_BYTES]; LANES]) {
        let out = digests_layout([h[0], h[1], h[2], h[3]]);
        let dst = digests.as_mut_ptr().cast::<__m512i>();
        for (k, vector) in out.into_iter().enumerate() {
            // SAFETY: `digests` is 8 * 32 = 256 contiguous bytes, i.e. exactly 4 vectors of 64
            // bytes, and `k < 4`, so the 64 bytes at `dst + k` are inside `digests`, which is
            // borrowed mutably. `storeu` has no alignment requirement; AVX-512 F is enabled.
            unsafe { _mm512_storeu_si512(dst.add(k), vector) };
        }
    }

    /// Bytes `pos..pos + 64` of the message `prefix || leaf`, zero-padded past its end, with
    /// the prefix byte (message byte 0) left zero for the caller to insert. `pos` is a multiple
    /// of 64.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn load_message_half(leaf: &[u8], pos: usize) -> __m512i {
        match pos.checked_sub(1) {
            // Message byte `pos` is leaf byte `pos - 1`.
            Some(start) => {
                let end = leaf.len().min(start + VECTOR_BYTES);
                load_part(leaf.get(start..end).unwrap_or_default())
            }
            None => {
                // Message bytes 1..64 are leaf bytes 0..63: load from one byte before the
                // leaf, with that byte (and any past the leaf) masked off.
                let mask = prefix_mask(leaf.len().saturating_add(1).min(VECTOR_BYTES)) & !1;
                let before = leaf.as_ptr().wrapping_sub(1);
                // SAFETY: a masked load only accesses the bytes whose mask bit is set (faults
                // on the others are suppressed). Bit `k` is set only for `1 <= k <= leaf.len()`,
                // i.e. for `before + k = leaf[k - 1]`, inside `leaf`: the byte at `before`
                // itself, which may be outside any allocation (`wrapping_sub` keeps computing
                // that address defined), is never read. `loadu` has no alignment requirement,
                // and AVX-512 BW is enabled.
                unsafe { _mm512_maskz_loadu_epi8(mask, before.cast()) }
            }
        }
    }

    /// Message block `block` (bytes `128 * block..`) of eight prefixed leaves, transposed to
    /// one message word per vector, one leaf per lane. Only the first `WORDS` words are loaded,
    /// the others are zero (right when the message has no bytes past `8 * WORDS` in this
    /// block). The prefix byte is not inserted.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn load_leaf_block<const WORDS: usize>(leaves: &[&[u8]; LANES], block: usize) -> [__m512i; 16] {
        let pos = block * BLOCK_BYTES;
        let zero = splat(0);
        let mut low = [zero; LANES];
        let mut high = [zero; LANES];
        for (lane, leaf) in leaves.iter().enumerate() {
            low[lane] = load_message_half(leaf, pos);
            if WORDS > LANES {
                high[lane] = load_message_half(leaf, pos + VECTOR_BYTES);
            }
        }
        let low = transpose8(low);
        let high = if WORDS > LANES {
            transpose8(high)
        } else {
            high
        };
        let mut m = [zero; 16];
        for word in 0..WORDS.min(16) {
            m[word] = if word < LANES {
                low[word]
            } else {
                high[word - LANES]
            };
        }
        m
    }

    /// Asks the CPU to fetch message block `block` of every leaf into the cache: the memory
    /// latency is otherwise exposed when leaves are short (a few blocks), as eight interleaved
    /// short streams defeat the hardware prefetcher. (The prefetch is SSE; `avx512f`, which
    /// every caller has, only makes the intrinsic safe to call.)
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn prefetch_block(leaves: &[&[u8]], block: usize) {
        // Message bytes 128 * block.. are leaf bytes 128 * block - 1..: three cache lines at
        // most, of which only those inside the leaf are fetched.
        let start = (block * BLOCK_BYTES).saturating_sub(1);
        for leaf in leaves {
            for offset in [0, VECTOR_BYTES, BLOCK_BYTES - 1] {
                if start + offset < leaf.len() {
                    // A prefetch is a hint that never faults nor changes memory.
                    _mm_prefetch::<_MM_HINT_T0>(leaf[start + offset..].as_ptr().cast());
                }
            }
        }
    }

    /// Blake2b-256 of `prefix || leaf` for eight leaves of `len` bytes each, block by block,
    /// read in place.
    ///
    /// Only the first `LAST_WORDS` message words of the last block enter its compression, the
    /// others are taken as zero: the digests are right when the last block holds at most
    /// `8 * LAST_WORDS` message bytes. Memory is never read outside the leaves, whatever their
    /// lengths (lanes with the wrong length only get wrong digests).
    #[target_feature(enable = "avx512f,avx512bw")]
    fn prefixed8<const LAST_WORDS: usize>(
        prefix: u8,
        len: usize,
        leaves: &[&[u8]; LANES],
        next: &[&[u8]],
        digests: &mut [[u8; DIGEST_BYTES]; LANES],
    ) {
        let total = len + 1;
        let last = total.div_ceil(BLOCK_BYTES) - 1;
        // Byte counters fit in 64 bits: `total` is at most `isize::MAX + 1`.
        let counter = |bytes: usize| splat(u64::try_from(bytes).expect("usize fits in u64"));
        let prefix = splat(u64::from(prefix));
        let mut h = initial_state();
        for block in 0..last {
            let mut m = load_leaf_block::<16>(leaves, block);
            if block == 0 {
                m[0] = _mm512_or_si512(m[0], prefix);
            }
            prefetch_block(leaves, block + 1);
            let t = counter((block + 1) * BLOCK_BYTES);
            h = compress!(h, m, t, splat(0));
        }
        let mut m = load_leaf_block::<LAST_WORDS>(leaves, last);
        if last == 0 {
            m[0] = _mm512_or_si512(m[0], prefix);
        }
        prefetch_block(next, 0);
        h = compress!(h, m, counter(total), splat(u64::MAX));
        store_digests(&h, digests);
    }

    /// Blake2b-256 of eight inputs of at most one block each: a single compression of each
    /// zero-padded block with byte counter `t0 = len` and the final-block flag set.
    ///
    /// Only the first `WORDS` message words (`8 * WORDS` bytes) of each block enter the
    /// compression, the others are taken as zero (which saves their additions): the digests
    /// are right when no input is longer than `8 * WORDS` bytes (nor than one block). Memory is
    /// never read outside the inputs, whatever their lengths.
    #[target_feature(enable = "avx512f,avx512bw")]
    fn compress8<const WORDS: usize>(
        inputs: &[&[u8]; LANES],
        digests: &mut [[u8; DIGEST_BYTES]; LANES],
    ) {
        // Plain loops rather than `array::map` or `from_fn`: their closures are not always
        // inlined, and an out-of-line call per vector costs more than the loads themselves.
        let zero = splat(0);
        let mut low = [zero; LANES];
        let mut high = [zero; LANES];
        for (lane, input) in inputs.iter().enumerate() {
            low[lane] = load_part(input);
            if WORDS > LANES {
                high[lane] = load_part(high_half(input));
            }
        }
        let low = transpose8(low);
        let high = if WORDS > LANES {
            transpose8(high)
        } else {
            high
        };
        let mut m = [zero; 16];
        for word in 0..WORDS.min(16) {
            m[word] = if word < LANES {
                low[word]
            } else {
                high[word - LANES]
            };
        }

        // Byte counts fit in a u8: at most one block is compressed per input.
        let len = |lane: usize| {
            let bytes = inputs[lane].len().min(BLOCK_BYTES);
            i64::from(u8::try_from(bytes).unwrap_or(u8::MAX))
        };
        let t0 = _mm512_setr_epi64(
            len(0),
            len(1),
            len(2),
            len(3),
            len(4),
            len(5),
            len(6),
            len(7),
        );

        let h = compress!(initial_state(), m, t0, splat(u64::MAX));
        store_digests(&h, digests);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A xorshift64 generator: reproducible test data without extra dependencies.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
        }

        fn below(&mut self, bound: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(bound).unwrap()).unwrap()
        }
    }

    fn reference(inputs: &[&[u8]]) -> Vec<[u8; DIGEST_BYTES]> {
        let params = params();
        inputs
            .iter()
            .map(|input| hash_one(&params, input))
            .collect()
    }

    /// Checks the dispatched path, the fallback and (if available) the AVX-512 path directly.
    fn check(inputs: &[&[u8]]) {
        let expected = reference(inputs);
        let mut out = vec![[0xAA; DIGEST_BYTES]; inputs.len()];
        if inputs.iter().all(|input| input.len() <= BLOCK_BYTES) {
            hash_short_many(inputs, &mut out);
            assert_eq!(out, expected, "lengths {:?}", lengths(inputs));
        }
        out.fill([0x55; DIGEST_BYTES]);
        hash_fallback(inputs, &mut out);
        assert_eq!(out, expected);
        #[cfg(target_arch = "x86_64")]
        if let Some(avx512) = avx512::Avx512::detect() {
            out.fill([0x33; DIGEST_BYTES]);
            avx512.hash_many(inputs, &mut out);
            assert_eq!(out, expected, "lengths {:?}", lengths(inputs));
        }
    }

    fn lengths(inputs: &[&[u8]]) -> Vec<usize> {
        inputs.iter().map(|input| input.len()).collect()
    }

    #[test]
    fn known_answer_abc() {
        let mut out = [[0; DIGEST_BYTES]];
        hash_short_many(&[b"abc"], &mut out);
        assert_eq!(
            hex::encode(out[0]),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
        );
    }

    #[test]
    fn empty_batch() {
        hash_short_many(&[], &mut []);
    }

    #[test]
    fn matches_blake2b_simd_for_all_short_lengths_and_batch_sizes() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        // One contiguous buffer, so inputs start at arbitrary (unaligned) offsets.
        let pool = rng.bytes(64 * 1024);
        for batch in 1..=20 {
            for first_len in 0..=BLOCK_BYTES {
                let inputs: Vec<&[u8]> = (0..batch)
                    .map(|k| {
                        let len = (first_len + 37 * k) % (BLOCK_BYTES + 1);
                        let start = rng.below(pool.len() - len);
                        &pool[start..start + len]
                    })
                    .collect();
                check(&inputs);
            }
        }
    }

    #[test]
    fn every_length_in_every_lane() {
        let mut rng = XorShift(7);
        let data: Vec<Vec<u8>> = (0..=BLOCK_BYTES).map(|len| rng.bytes(len)).collect();
        for shift in 0..8 {
            let inputs: Vec<&[u8]> = (0..=BLOCK_BYTES)
                .map(|k| data[(k + shift) % data.len()].as_slice())
                .collect();
            check(&inputs);
        }
    }

    #[test]
    fn inputs_ending_at_allocation_end() {
        // Each input is its own exact-size allocation: the masked loads must not read past it.
        let mut rng = XorShift(99);
        for len in 0..=BLOCK_BYTES {
            let owned: Vec<Box<[u8]>> = (0..11).map(|_| rng.bytes(len).into()).collect();
            let inputs: Vec<&[u8]> = owned.iter().map(|input| &input[..]).collect();
            check(&inputs);
        }
    }

    #[test]
    fn merkle_shaped_inputs() {
        let mut rng = XorShift(3);
        let leaves: Vec<Vec<u8>> = (0..100)
            .map(|_| {
                let mut leaf = vec![0x00];
                leaf.extend(rng.bytes(6));
                leaf
            })
            .collect();
        let nodes: Vec<Vec<u8>> = (0..100)
            .map(|_| {
                let mut node = vec![0x01];
                node.extend(rng.bytes(64));
                node
            })
            .collect();
        check(&leaves.iter().map(Vec::as_slice).collect::<Vec<_>>());
        check(&nodes.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }

    #[test]
    fn long_inputs_fall_back() {
        let mut rng = XorShift(12345);
        let pool = rng.bytes(4096);
        for batch in 1..=20 {
            let inputs: Vec<&[u8]> = (0..batch)
                .map(|_| {
                    let len = if rng.below(3) == 0 {
                        BLOCK_BYTES + 1 + rng.below(400)
                    } else {
                        rng.below(BLOCK_BYTES + 1)
                    };
                    &pool[..len]
                })
                .collect();
            check(&inputs);
        }
        // Release builds (no debug assertions) still hash long inputs correctly through the
        // dispatched entry point.
        if !cfg!(debug_assertions) {
            let long = rng.bytes(1000);
            let inputs: Vec<&[u8]> = vec![b"x", &long, &long[..129], b"", &long[..128]];
            let mut out = vec![[0; DIGEST_BYTES]; inputs.len()];
            hash_short_many(&inputs, &mut out);
            assert_eq!(out, reference(&inputs));
        }
    }

    /// The Merkle leaf lengths of interest: around the word, half-block and block boundaries of
    /// `prefix || leaf`, and symbol sizes of real encodings.
    const LEAF_LENGTHS: [usize; 15] = [
        0, 1, 6, 62, 63, 64, 126, 127, 128, 129, 255, 256, 604, 4390, 58920,
    ];

    fn prefixed_reference(prefix: u8, leaves: &[&[u8]]) -> Vec<[u8; DIGEST_BYTES]> {
        let params = params();
        leaves
            .iter()
            .map(|leaf| {
                let mut message = vec![prefix];
                message.extend_from_slice(leaf);
                hash_one(&params, &message)
            })
            .collect()
    }

    /// Checks the dispatched path, the fallback and (if available) the AVX-512 path directly.
    fn check_prefixed(prefix: u8, leaves: &[&[u8]]) {
        let expected = prefixed_reference(prefix, leaves);
        let mut out = vec![[0xAA; DIGEST_BYTES]; leaves.len()];
        hash_prefixed_leaves(prefix, leaves, &mut out);
        assert_eq!(out, expected, "lengths {:?}", lengths(leaves));
        out.fill([0x55; DIGEST_BYTES]);
        hash_prefixed_fallback(prefix, leaves, &mut out);
        assert_eq!(out, expected);
        #[cfg(target_arch = "x86_64")]
        if let Some(avx512) = avx512::Avx512::detect() {
            out.fill([0x33; DIGEST_BYTES]);
            let len = leaves.first().map_or(0, |leaf| leaf.len());
            avx512.hash_prefixed(prefix, len, leaves, &mut out);
            assert_eq!(out, expected, "lengths {:?}", lengths(leaves));
        }
    }

    #[test]
    fn prefixed_known_answer() {
        // Blake2b-256("\x00abc"): the prefix is part of the message.
        let mut out = [[0; DIGEST_BYTES]; 9];
        hash_prefixed_leaves(0x00, &[&b"abc"[..]; 9], &mut out);
        assert_eq!(out[0], hash_one(&params(), b"\x00abc"));
        assert!(out.iter().all(|digest| *digest == out[0]));
        let mut nodes = [[0; DIGEST_BYTES]; 1];
        hash_short_many(&[b"abc"], &mut nodes);
        hash_prefixed_leaves(b'a', &[b"bc"], &mut out[..1]);
        assert_eq!(out[0], nodes[0]);
    }

    #[test]
    fn prefixed_empty_batch() {
        hash_prefixed_leaves(0, &[], &mut []);
    }

    #[test]
    fn prefixed_matches_blake2b_simd_for_leaf_lengths_and_batch_sizes() {
        let mut rng = XorShift(0x5DEE_CE66_D1CE_4E5B);
        let pool = rng.bytes(LEAF_LENGTHS[LEAF_LENGTHS.len() - 1] * 3 + 1000);
        for len in LEAF_LENGTHS {
            for batch in 1..=17 {
                // Leaves at random (unaligned) offsets of one buffer, the last one ending
                // exactly at its end and the first starting at its beginning.
                let mut leaves: Vec<&[u8]> = (0..batch)
                    .map(|_| {
                        let start = rng.below(pool.len() - len + 1);
                        &pool[start..start + len]
                    })
                    .collect();
                leaves[batch - 1] = &pool[pool.len() - len..];
                leaves[0] = &pool[..len];
                check_prefixed([0x00, 0x01, 0xFF][batch % 3], &leaves);
            }
        }
    }

    #[test]
    fn prefixed_every_length_up_to_three_blocks() {
        let mut rng = XorShift(17);
        let pool = rng.bytes(4096);
        for len in 0..=3 * BLOCK_BYTES + 1 {
            for batch in [1, 5, 8, 13] {
                let leaves: Vec<&[u8]> = (0..batch).map(|k| &pool[k * 7..k * 7 + len]).collect();
                check_prefixed(0x00, &leaves);
            }
        }
    }

    #[test]
    fn prefixed_leaves_in_exact_allocations() {
        // Each leaf is its own exact-size allocation: the masked loads must read neither the
        // byte before it nor past its end.
        let mut rng = XorShift(4242);
        for len in LEAF_LENGTHS.into_iter().chain(0..=2 * BLOCK_BYTES) {
            let owned: Vec<Box<[u8]>> = (0..11).map(|_| rng.bytes(len).into()).collect();
            let leaves: Vec<&[u8]> = owned.iter().map(|leaf| &leaf[..]).collect();
            check_prefixed(0x00, &leaves);
        }
    }

    #[test]
    fn prefixed_mixed_lengths_fall_back() {
        // Release builds only: debug builds assert that the lengths are equal.
        if cfg!(debug_assertions) {
            return;
        }
        let mut rng = XorShift(777);
        let pool = rng.bytes(8192);
        for batch in 1..=20 {
            let leaves: Vec<&[u8]> = (0..batch)
                .map(|_| {
                    let len = rng.below(3000);
                    &pool[..len]
                })
                .collect();
            let mut out = vec![[0; DIGEST_BYTES]; batch];
            hash_prefixed_leaves(0x00, &leaves, &mut out);
            assert_eq!(out, prefixed_reference(0x00, &leaves));
        }
    }

    /// Throughput of both paths on 1M inputs each of 65 bytes (Merkle inner nodes), 7 bytes
    /// (leaves of 6-byte symbols) and 128 bytes (a full block), hashed 512 at a time as the
    /// Merkle code does. Run with
    /// `cargo test --release -p walrus-core blake2b_many -- --ignored --nocapture`.
    #[test]
    #[ignore = "benchmark"]
    fn bench_short_inputs() {
        for len in [65, 7, 128] {
            bench(len);
        }
    }

    fn bench(len: usize) {
        const COUNT: usize = 1 << 20;
        /// Inputs per timed slice: the minimum over many short slices filters out the noise of
        /// a shared machine (preemption), which a single long run would include.
        const SLICE: usize = 1 << 14;
        const BATCH: usize = 512;
        type Run<'a> = &'a dyn Fn(&[&[u8]], &mut [[u8; DIGEST_BYTES]]);
        let mut rng = XorShift(1);
        let data: Vec<u8> = (0..=COUNT * len / 8)
            .flat_map(|_| rng.next().to_le_bytes())
            .collect();
        let inputs: Vec<&[u8]> = data.chunks_exact(len).take(COUNT).collect();
        let params = params();

        let time = |name: &str, run: Run<'_>| {
            let mut best = f64::INFINITY;
            let mut result = vec![[0; DIGEST_BYTES]; COUNT];
            for _ in 0..5 {
                for (inputs, out) in inputs.chunks(SLICE).zip(result.chunks_mut(SLICE)) {
                    let start = Instant::now();
                    for (inputs, out) in inputs.chunks(BATCH).zip(out.chunks_mut(BATCH)) {
                        run(inputs, out);
                    }
                    best = best.min(start.elapsed().as_secs_f64());
                }
            }
            let per_hash = best * 1e9 / f64::from(u32::try_from(SLICE).unwrap());
            println!("{len:>3}-byte inputs, {name}: {per_hash:.1} ns/hash");
            result
        };

        let expected = time("blake2b_simd::many::hash_many", &|inputs, out| {
            let mut jobs: Vec<HashManyJob<'_>> = inputs
                .iter()
                .map(|input| HashManyJob::new(&params, input))
                .collect();
            hash_many(jobs.iter_mut());
            for (slot, job) in out.iter_mut().zip(&jobs) {
                slot.copy_from_slice(job.to_hash().as_bytes());
            }
        });
        let name = if avx512_available() {
            "hash_short_many (AVX-512, 8-way)"
        } else {
            "hash_short_many (fallback)"
        };
        let fast = time(name, &|inputs, out| hash_short_many(inputs, out));
        assert!(fast == expected, "digests differ");
    }

    /// Throughput of the prefixed leaf hashing against what the Merkle code did before it
    /// (copy `0x00 || leaf` into scratch and hash the copies with `hash_short_many` or
    /// `blake2b_simd::many::hash_many`; `update_many` on states that absorbed the prefix for
    /// leaves of 2048 bytes or more), 512 leaves per call. Run with
    /// `cargo test --release -p walrus-core blake2b_many -- --ignored --nocapture`.
    #[test]
    #[ignore = "benchmark"]
    fn bench_prefixed_leaves() {
        // (leaf length, leaves per timed slice, slices)
        for (len, slice, slices) in [(6, 1 << 14, 64), (604, 2048, 16), (58920, 64, 8)] {
            bench_prefixed(len, slice, slices);
        }
    }

    /// The Merkle leaf hashing before `hash_prefixed_leaves` (`merkle::hash_leaves_into`).
    fn copy_then_hash(leaves: &[&[u8]], scratch: &mut Vec<u8>, out: &mut [[u8; DIGEST_BYTES]]) {
        const HASH_BATCH_BYTES: usize = 256 * 1024;
        let params = params();
        if leaves.first().is_some_and(|leaf| leaf.len() >= 2048) {
            for (group, out) in leaves.chunks(4).zip(out.chunks_mut(4)) {
                let mut states: Vec<State> = group
                    .iter()
                    .map(|_| {
                        let mut state = params.to_state();
                        state.update(&[0x00]);
                        state
                    })
                    .collect();
                update_many(states.iter_mut().zip(group));
                for (slot, state) in out.iter_mut().zip(&states) {
                    slot.copy_from_slice(state.finalize().as_bytes());
                }
            }
            return;
        }
        let mut written = 0;
        for group in leaves.chunks(HASH_BATCH_BYTES / (leaves[0].len() + 1)) {
            scratch.clear();
            for leaf in group {
                scratch.push(0x00);
                scratch.extend_from_slice(leaf);
            }
            let inputs: Vec<&[u8]> = scratch.chunks_exact(group[0].len() + 1).collect();
            let out = &mut out[written..written + inputs.len()];
            written += inputs.len();
            if avx512_available() && inputs[0].len() <= BLOCK_BYTES {
                hash_short_many(&inputs, out);
            } else {
                let mut jobs: Vec<HashManyJob<'_>> = inputs
                    .iter()
                    .map(|input| HashManyJob::new(&params, input))
                    .collect();
                hash_many(jobs.iter_mut());
                for (slot, job) in out.iter_mut().zip(&jobs) {
                    slot.copy_from_slice(job.to_hash().as_bytes());
                }
            }
        }
    }

    fn bench_prefixed(len: usize, slice: usize, slices: usize) {
        const BATCH: usize = 512;
        type Run<'a> = &'a dyn Fn(&[&[u8]], &mut Vec<u8>, &mut [[u8; DIGEST_BYTES]]);
        let count = slice * slices;
        let mut rng = XorShift(1);
        let data: Vec<u8> = (0..=count * len / 8)
            .flat_map(|_| rng.next().to_le_bytes())
            .collect();
        let leaves: Vec<&[u8]> = (0..count).map(|k| &data[k * len..][..len]).collect();

        let time = |name: &str, run: Run<'_>| {
            let mut best = f64::INFINITY;
            let mut result = vec![[0; DIGEST_BYTES]; count];
            let mut scratch = Vec::new();
            for _ in 0..5 {
                for (leaves, out) in leaves.chunks(slice).zip(result.chunks_mut(slice)) {
                    let start = Instant::now();
                    for (leaves, out) in leaves.chunks(BATCH).zip(out.chunks_mut(BATCH)) {
                        run(leaves, &mut scratch, out);
                    }
                    best = best.min(start.elapsed().as_secs_f64());
                }
            }
            let leaves_per_slice = f64::from(u32::try_from(slice).unwrap());
            let bytes = leaves_per_slice * f64::from(u32::try_from(len).unwrap());
            println!(
                "{len:>5}-byte leaves, {name:<40}: {:>9.1} ns/leaf, {:>5.2} GB/s",
                best * 1e9 / leaves_per_slice,
                bytes / best / 1e9,
            );
            result
        };

        let expected = time(
            "copy + hash_short_many/hash_many/update",
            &|leaves, scratch, out| {
                copy_then_hash(leaves, scratch, out);
            },
        );
        let fallback = time(
            "hash_prefixed_fallback (blake2b_simd)",
            &|leaves, _, out| {
                hash_prefixed_fallback(0x00, leaves, out);
            },
        );
        let name = if avx512_available() {
            "hash_prefixed_leaves (AVX-512, 8-way)"
        } else {
            "hash_prefixed_leaves (fallback)"
        };
        let fast = time(name, &|leaves, _, out| {
            hash_prefixed_leaves(0x00, leaves, out)
        });
        assert!(fast == expected && fallback == expected, "digests differ");
    }
}
