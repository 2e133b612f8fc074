//! Multi-buffer Blake2b-256 for many independent short inputs.
//!
//! Merkle leaves (`0x00 || symbol`) and inner nodes (`0x01 || left || right`, 65 bytes) fit in a
//! single 128-byte Blake2b block, so each hash is exactly one compression of a zero-padded
//! block. On CPUs with AVX-512 (F and BW) eight such compressions run side by side, one input
//! per 64-bit lane of 512-bit vectors; elsewhere, and for inputs longer than one block, the
//! hashing falls back to `blake2b_simd` (AVX2, four inputs at a time).
//!
//! The output is plain Blake2b with a 32-byte digest, no key, salt or personalization:
//! byte-identical to `blake2b_simd::Params::new().hash_length(32).hash(input)`.

// The AVX-512 path needs `unsafe` for three things only: calling the `#[target_feature]`
// functions once the CPU features are detected, the loads of the inputs and the stores of
// the digests. Every such block carries a `SAFETY` comment.
#![allow(unsafe_code)]

use blake2b_simd::{
    many::{hash_many, HashManyJob},
    Params,
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

/// The 8-way AVX-512 compression.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512i, _mm512_add_epi64, _mm512_loadu_si512, _mm512_maskz_loadu_epi8,
        _mm512_permutex2var_epi64, _mm512_ror_epi64, _mm512_set1_epi64, _mm512_setr_epi64,
        _mm512_shuffle_i64x2, _mm512_storeu_si512, _mm512_ternarylogic_epi64,
        _mm512_unpackhi_epi64, _mm512_unpacklo_epi64, _mm512_xor_si512,
    };

    use super::{hash_one, params, BLOCK_BYTES, DIGEST_BYTES, H0, IV, SIGMA};

    /// Inputs hashed per compression call: one per 64-bit lane of a 512-bit vector.
    const LANES: usize = 8;

    /// Bytes loaded by one 512-bit load.
    const VECTOR_BYTES: usize = 64;

    /// Bytes in one message word.
    const WORD_BYTES: usize = 8;

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

        let h = [
            splat(H0),
            splat(IV[1]),
            splat(IV[2]),
            splat(IV[3]),
            splat(IV[4]),
            splat(IV[5]),
            splat(IV[6]),
            splat(IV[7]),
        ];
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
            _mm512_xor_si512(splat(IV[4]), t0), // t0 = length, t1 = 0
            splat(IV[5]),
            splat(!IV[6]), // final block: f0 = !0 (not the last node: f1 = 0)
            splat(IV[7]),
        ];

        round!(v, m, 0);
        round!(v, m, 1);
        round!(v, m, 2);
        round!(v, m, 3);
        round!(v, m, 4);
        round!(v, m, 5);
        round!(v, m, 6);
        round!(v, m, 7);
        round!(v, m, 8);
        round!(v, m, 9);
        round!(v, m, 10);
        round!(v, m, 11);

        // h'[i] = h[i] ^ v[i] ^ v[i + 8]; the 32-byte digest is h'[0..4].
        let out = digests_layout([
            _mm512_ternarylogic_epi64::<0x96>(h[0], v[0], v[8]),
            _mm512_ternarylogic_epi64::<0x96>(h[1], v[1], v[9]),
            _mm512_ternarylogic_epi64::<0x96>(h[2], v[2], v[10]),
            _mm512_ternarylogic_epi64::<0x96>(h[3], v[3], v[11]),
        ]);
        let dst = digests.as_mut_ptr().cast::<__m512i>();
        for (k, vector) in out.into_iter().enumerate() {
            // SAFETY: `digests` is 8 * 32 = 256 contiguous bytes, i.e. exactly 4 vectors of 64
            // bytes, and `k < 4`, so the 64 bytes at `dst + k` are inside `digests`, which is
            // borrowed mutably. `storeu` has no alignment requirement; AVX-512 F is enabled.
            unsafe { _mm512_storeu_si512(dst.add(k), vector) };
        }
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
}
