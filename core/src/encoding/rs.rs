//! Reed-Solomon over GF(2^16) (reed-solomon-simd) applied to many "lines" at once.
//!
//! Red Stuff extends every row and every column of the message matrix with a 1-D RS code. The
//! code works on 16-bit elements independently per element position, so the lines that share a
//! code can be packed side by side into one wide shard and coded in one call, which is much
//! faster than one call per line when symbols are small (reed-solomon-simd pads every shard to
//! 64 bytes). The packing must keep each symbol's own element layout, which reed-solomon-simd
//! defines as: in each whole 64-byte chunk, element `e` is `(byte e, byte 32 + e)`; in a tail of
//! `t` bytes, element `e` is `(byte e, byte t/2 + e)`. Whole chunks are copied as they are; the
//! tails of all lines are packed densely into shared chunks.

use std::cell::RefCell;

#[cfg(test)]
use reed_solomon_simd::ReedSolomonDecoder;
use reed_solomon_simd::ReedSolomonEncoder;

use crate::EncodeError;

const CHUNK: usize = 64;
const HALF_CHUNK: usize = 32;

/// How one segment of the symbols of `lines` lines is laid out in one packed shard. A segment
/// is a range of whole 64-byte chunks of every symbol, plus (in the last segment) the symbols'
/// tails. Large symbols are coded segment by segment so that the codec's working set stays in
/// cache; small symbols form a single segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packing {
    symbol_size: usize,
    lines: usize,
    /// First whole chunk of each symbol in this segment.
    first_chunk: usize,
    /// Whole chunks of each symbol in this segment.
    chunks: usize,
    /// Tail bytes of each symbol in this segment (0, or `symbol_size % 64` in the last one).
    tail_len: usize,
}

impl Packing {
    /// A single segment holding whole symbols.
    pub(crate) fn new(symbol_size: usize, lines: usize) -> Self {
        debug_assert!(symbol_size.is_multiple_of(2) && symbol_size > 0);
        Self {
            symbol_size,
            lines,
            first_chunk: 0,
            chunks: symbol_size / CHUNK,
            tail_len: symbol_size % CHUNK,
        }
    }

    /// The segments that together cover whole symbols, each packing to about
    /// `target_shard_bytes` (at least one chunk per line).
    pub(crate) fn segments(
        symbol_size: usize,
        lines: usize,
        target_shard_bytes: usize,
    ) -> Vec<Self> {
        let whole = Self::new(symbol_size, lines);
        let per_segment = (target_shard_bytes / (CHUNK * lines.max(1))).max(1);
        if whole.chunks <= per_segment {
            return vec![whole];
        }
        let mut segments: Vec<Self> = (0..whole.chunks)
            .step_by(per_segment)
            .map(|first_chunk| Self {
                first_chunk,
                chunks: per_segment.min(whole.chunks - first_chunk),
                tail_len: 0,
                ..whole
            })
            .collect();
        if let Some(last) = segments.last_mut() {
            last.tail_len = whole.tail_len;
        }
        segments
    }

    fn tail_base(&self) -> usize {
        self.lines * self.chunks * CHUNK
    }

    /// Byte offset of the tail within a symbol.
    fn tail_offset(&self) -> usize {
        self.symbol_size - self.symbol_size % CHUNK
    }

    /// Bytes of one packed shard (a multiple of 64).
    pub(crate) fn shard_bytes(&self) -> usize {
        let tail_elements = self.lines * self.tail_len / 2;
        self.tail_base() + tail_elements.div_ceil(HALF_CHUNK) * CHUNK
    }

    /// Packs this segment of one symbol per line into `shard` (`shard_bytes()` long).
    pub(crate) fn pack<'a>(&self, symbols: impl Iterator<Item = &'a [u8]>, shard: &mut [u8]) {
        let segment = self.chunks * CHUNK;
        let start = self.first_chunk * CHUNK;
        let half_tail = self.tail_len / 2;
        let tail_base = self.tail_base();
        let tail_offset = self.tail_offset();
        for (line, symbol) in symbols.enumerate() {
            debug_assert_eq!(symbol.len(), self.symbol_size);
            shard[line * segment..(line + 1) * segment]
                .copy_from_slice(&symbol[start..start + segment]);
            if half_tail == 0 {
                continue;
            }
            let (low, high) = symbol[tail_offset..].split_at(half_tail);
            for (element, (lo, hi)) in (line * half_tail..).zip(low.iter().zip(high)) {
                let chunk = tail_base + element / HALF_CHUNK * CHUNK;
                let position = element % HALF_CHUNK;
                shard[chunk + position] = *lo;
                shard[chunk + HALF_CHUNK + position] = *hi;
            }
        }
        // Zero the unused end of the last tail chunk so that packing is deterministic.
        let used_elements = self.lines * half_tail;
        if !used_elements.is_multiple_of(HALF_CHUNK) {
            let chunk = tail_base + used_elements / HALF_CHUNK * CHUNK;
            let position = used_elements % HALF_CHUNK;
            shard[chunk + position..chunk + HALF_CHUNK].fill(0);
            shard[chunk + HALF_CHUNK + position..chunk + CHUNK].fill(0);
        }
    }

    /// Unpacks this segment of the symbol of `line` from `shard` into `out` (a whole symbol,
    /// `symbol_size` long; bytes outside the segment are left as they are).
    pub(crate) fn unpack(&self, shard: &[u8], line: usize, out: &mut [u8]) {
        let segment = self.chunks * CHUNK;
        let start = self.first_chunk * CHUNK;
        out[start..start + segment].copy_from_slice(&shard[line * segment..(line + 1) * segment]);
        let half_tail = self.tail_len / 2;
        if half_tail == 0 {
            return;
        }
        let tail_offset = self.tail_offset();
        let (low, high) = out[tail_offset..].split_at_mut(half_tail);
        let tail_base = self.tail_base();
        for (element, (lo, hi)) in (line * half_tail..).zip(low.iter_mut().zip(high)) {
            let chunk = tail_base + element / HALF_CHUNK * CHUNK;
            let position = element % HALF_CHUNK;
            *lo = shard[chunk + position];
            *hi = shard[chunk + HALF_CHUNK + position];
        }
    }

    /// The number of lines.
    pub(crate) fn lines(&self) -> usize {
        self.lines
    }
}

/// Target size of one packed shard for a code of length `n`: the codec's working set is about
/// `2 * next_power_of_two(n)` shards, which should stay within the cache.
pub(crate) fn target_shard_bytes(n: usize) -> usize {
    (4 * 1024 * 1024 / n.next_power_of_two()).clamp(1024, 32 * 1024)
}

/// Packed shards, one per code position, holding one symbol of each of several lines.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct PackedShards {
    packing: Packing,
    /// Code position of each shard, in the order they are stored.
    positions: Vec<usize>,
    data: Vec<u8>,
}

#[cfg(test)]
impl PackedShards {
    /// Copies the symbol at `(line, shard number)` into `out`.
    pub(crate) fn symbol_into(&self, line: usize, shard: usize, out: &mut [u8]) {
        let bytes = self.packing.shard_bytes();
        self.packing
            .unpack(&self.data[shard * bytes..(shard + 1) * bytes], line, out);
    }

    /// The symbol at `(line, shard number)`.
    pub(crate) fn symbol(&self, line: usize, shard: usize) -> Vec<u8> {
        let mut out = vec![0; self.packing.symbol_size];
        self.symbol_into(line, shard, &mut out);
        out
    }

    /// The code positions held, in shard order.
    pub(crate) fn positions(&self) -> &[usize] {
        &self.positions
    }
}

fn codec_error(error: reed_solomon_simd::Error) -> EncodeError {
    EncodeError::Codec(error.to_string())
}

thread_local! {
    /// One encoder and one decoder per thread, reset for each use: their work buffers are
    /// large, and allocating them afresh for every batch costs more than the coding itself.
    static ENCODER: RefCell<Option<ReedSolomonEncoder>> = const { RefCell::new(None) };
    #[cfg(test)]
    static DECODER: RefCell<Option<ReedSolomonDecoder>> = const { RefCell::new(None) };
}

fn with_encoder<R>(
    k: usize,
    m: usize,
    shard_bytes: usize,
    run: impl FnOnce(&mut ReedSolomonEncoder) -> Result<R, EncodeError>,
) -> Result<R, EncodeError> {
    ENCODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let encoder = match slot.as_mut() {
            Some(encoder) => {
                encoder.reset(k, m, shard_bytes).map_err(codec_error)?;
                encoder
            }
            None => slot.insert(ReedSolomonEncoder::new(k, m, shard_bytes).map_err(codec_error)?),
        };
        run(encoder)
    })
}

#[cfg(test)]
fn with_decoder<R>(
    k: usize,
    m: usize,
    shard_bytes: usize,
    run: impl FnOnce(&mut ReedSolomonDecoder) -> Result<R, EncodeError>,
) -> Result<R, EncodeError> {
    DECODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decoder = match slot.as_mut() {
            Some(decoder) => {
                decoder.reset(k, m, shard_bytes).map_err(codec_error)?;
                decoder
            }
            None => slot.insert(ReedSolomonDecoder::new(k, m, shard_bytes).map_err(codec_error)?),
        };
        run(decoder)
    })
}

/// Extends lines of `k` source symbols to `n` symbols each, packed with `packing` (one line
/// per packed position). `source(line, i)` returns source symbol `i` of `line`; `sink(j, shard)`
/// receives recovery shard `j` (code position `k + j`) of all lines, to unpack with `packing`.
pub(crate) fn encode_packed<'a>(
    packing: &Packing,
    k: usize,
    n: usize,
    source: impl Fn(usize, usize) -> &'a [u8],
    mut sink: impl FnMut(usize, &[u8]),
) -> Result<(), EncodeError> {
    let recovery_count = n - k;
    if recovery_count == 0 {
        return Ok(());
    }
    let shard_bytes = packing.shard_bytes();
    with_encoder(k, recovery_count, shard_bytes, |encoder| {
        let mut shard = vec![0u8; shard_bytes];
        for i in 0..k {
            packing.pack((0..packing.lines()).map(|line| source(line, i)), &mut shard);
            encoder.add_original_shard(&shard).map_err(codec_error)?;
        }
        let result = encoder.encode().map_err(codec_error)?;
        for (j, recovery) in result.recovery_iter().enumerate() {
            sink(j, recovery);
        }
        Ok(())
    })
}

/// Extends one line of `k` source symbols of `symbol_size` bytes (even) to `n` symbols and
/// hands the `n - k` recovery symbols, in code order, to `use_recovery`. The symbols go to the
/// codec as they are, without packing: the layout of a one-line [`Packing`] is the codec's own,
/// so the result equals [`encode_lines`] with one line, minus the copies in and out.
pub(crate) fn encode_symbols<'a, R>(
    k: usize,
    n: usize,
    symbol_size: usize,
    source: impl Fn(usize) -> &'a [u8],
    use_recovery: impl FnOnce(&mut dyn Iterator<Item = &[u8]>) -> R,
) -> Result<R, EncodeError> {
    let recovery_count = n - k;
    if recovery_count == 0 {
        return Ok(use_recovery(&mut std::iter::empty()));
    }
    with_encoder(k, recovery_count, symbol_size, |encoder| {
        for i in 0..k {
            encoder.add_original_shard(source(i)).map_err(codec_error)?;
        }
        let result = encoder.encode().map_err(codec_error)?;
        Ok(use_recovery(&mut result.recovery_iter()))
    })
}

/// Extends `lines` lines of `k` source symbols to `n` symbols each, and returns the `n - k`
/// recovery symbols of every line (shard number `j` is code position `k + j`). Tests compare
/// the other encoding paths with it.
#[cfg(test)]
pub(crate) fn encode_lines<'a>(
    k: usize,
    n: usize,
    symbol_size: usize,
    lines: usize,
    source: impl Fn(usize, usize) -> &'a [u8],
) -> Result<PackedShards, EncodeError> {
    let packing = Packing::new(symbol_size, lines);
    let mut data = Vec::with_capacity((n - k) * packing.shard_bytes());
    encode_packed(&packing, k, n, source, |_, shard| {
        data.extend_from_slice(shard)
    })?;
    Ok(PackedShards {
        packing,
        positions: (k..n).collect(),
        data,
    })
}

/// Restores the missing source symbols of lines of a `(k, n)` code, packed with `packing`,
/// from symbols at the code positions `available` (at least `k` distinct positions `< n`; the
/// first `k` are used). `symbol(line, a)` returns the symbol of `line` at `available[a]`;
/// `sink(position, shard)` receives each restored source position's packed shard. The crate's
/// own decoder: the reference [`super::erasure::DecodePlan`] is tested against.
#[cfg(test)]
pub(crate) fn decode_packed<'a>(
    packing: &Packing,
    k: usize,
    n: usize,
    available: &[usize],
    symbol: impl Fn(usize, usize) -> &'a [u8],
    mut sink: impl FnMut(usize, &[u8]),
) -> Result<(), EncodeError> {
    let used = &available[..k.min(available.len())];
    if used.len() < k {
        return Err(EncodeError::Codec(format!(
            "{} symbols given, {k} needed",
            used.len()
        )));
    }
    let mut present = vec![false; k];
    for position in used {
        if let Some(flag) = present.get_mut(*position) {
            *flag = true;
        }
    }
    if present.iter().all(|flag| *flag) {
        return Ok(());
    }
    let shard_bytes = packing.shard_bytes();
    with_decoder(k, n - k, shard_bytes, |decoder| {
        let mut shard = vec![0u8; shard_bytes];
        for (a, position) in used.iter().enumerate() {
            packing.pack((0..packing.lines()).map(|line| symbol(line, a)), &mut shard);
            if *position < k {
                decoder.add_original_shard(*position, &shard)
            } else {
                decoder.add_recovery_shard(*position - k, &shard)
            }
            .map_err(codec_error)?;
        }
        let result = decoder.decode().map_err(codec_error)?;
        for (position, restored) in result.restored_original_iter() {
            sink(position, restored);
        }
        Ok(())
    })
}

/// Like [`decode_packed`] for `lines` lines, returning the restored shards.
#[cfg(test)]
pub(crate) fn decode_lines<'a>(
    k: usize,
    n: usize,
    symbol_size: usize,
    lines: usize,
    available: &[usize],
    symbol: impl Fn(usize, usize) -> &'a [u8],
) -> Result<PackedShards, EncodeError> {
    let packing = Packing::new(symbol_size, lines);
    let mut positions = Vec::new();
    let mut data = Vec::new();
    decode_packed(&packing, k, n, available, symbol, |position, shard| {
        positions.push(position);
        data.extend_from_slice(shard);
    })?;
    Ok(PackedShards {
        packing,
        positions,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(seed: usize, size: usize) -> Vec<u8> {
        (0..size)
            .map(|i| u8::try_from((seed * 131 + i * 7 + 3) % 256).unwrap())
            .collect()
    }

    #[test]
    fn packing_round_trips() {
        for symbol_size in [2usize, 6, 62, 64, 66, 130, 604] {
            for lines in [1usize, 3, 11, 40] {
                let packing = Packing::new(symbol_size, lines);
                let symbols: Vec<Vec<u8>> = (0..lines).map(|l| symbol(l, symbol_size)).collect();
                let mut shard = vec![0xAA; packing.shard_bytes()];
                packing.pack(symbols.iter().map(Vec::as_slice), &mut shard);
                for (line, expected) in symbols.iter().enumerate() {
                    let mut out = vec![0; symbol_size];
                    packing.unpack(&shard, line, &mut out);
                    assert_eq!(&out, expected);
                }
            }
        }
    }

    #[test]
    fn segmented_packing_round_trips() {
        for symbol_size in [2usize, 62, 64, 130, 604, 4390] {
            for lines in [1usize, 3] {
                let symbols: Vec<Vec<u8>> = (0..lines).map(|l| symbol(l, symbol_size)).collect();
                let mut outs = vec![vec![0u8; symbol_size]; lines];
                for packing in Packing::segments(symbol_size, lines, 256) {
                    let mut shard = vec![0xAA; packing.shard_bytes()];
                    packing.pack(symbols.iter().map(Vec::as_slice), &mut shard);
                    for (line, out) in outs.iter_mut().enumerate() {
                        packing.unpack(&shard, line, out);
                    }
                }
                assert_eq!(outs, symbols, "symbol size {symbol_size}, lines {lines}");
            }
        }
    }

    #[test]
    fn segmented_encoding_equals_whole_symbol_encoding() {
        let (k, n, symbol_size) = (3usize, 8usize, 4390usize);
        let sources: Vec<Vec<u8>> = (0..k).map(|i| symbol(i, symbol_size)).collect();
        let single = reed_solomon_simd::encode(k, n - k, &sources).unwrap();
        let mut outs = vec![vec![0u8; symbol_size]; n - k];
        for packing in Packing::segments(symbol_size, 1, 1024) {
            encode_packed(
                &packing,
                k,
                n,
                |_, i| &sources[i],
                |j, shard| {
                    packing.unpack(shard, 0, &mut outs[j]);
                },
            )
            .unwrap();
        }
        assert_eq!(outs, single);
    }

    #[test]
    fn unpacked_one_line_encoding_equals_packed_encoding() {
        for symbol_size in [2usize, 30, 62, 64, 66, 130, 4390] {
            let (k, n) = (7usize, 19usize);
            let sources: Vec<Vec<u8>> = (0..k).map(|i| symbol(i, symbol_size)).collect();
            let packed = encode_lines(k, n, symbol_size, 1, |_, i| &sources[i]).unwrap();
            let direct: Vec<Vec<u8>> = encode_symbols(
                k,
                n,
                symbol_size,
                |i| &sources[i],
                |recovery| recovery.map(<[u8]>::to_vec).collect(),
            )
            .unwrap();
            let expected: Vec<Vec<u8>> = (0..n - k).map(|j| packed.symbol(0, j)).collect();
            assert_eq!(direct, expected, "symbol size {symbol_size}");
        }
        let none: usize =
            encode_symbols(3, 3, 8, |_| &[0u8; 8][..], |recovery| recovery.count()).unwrap();
        assert_eq!(none, 0);
    }

    #[test]
    fn batched_encoding_equals_one_line_at_a_time() {
        let (k, n) = (5usize, 12usize);
        for symbol_size in [2usize, 6, 64, 70, 200] {
            let lines = 7;
            let sources: Vec<Vec<Vec<u8>>> = (0..lines)
                .map(|l| (0..k).map(|i| symbol(l * 100 + i, symbol_size)).collect())
                .collect();
            let batched = encode_lines(k, n, symbol_size, lines, |l, i| &sources[l][i]).unwrap();
            for (line, source) in sources.iter().enumerate() {
                let single = reed_solomon_simd::encode(k, n - k, source).unwrap();
                for (j, expected) in single.iter().enumerate() {
                    assert_eq!(
                        &batched.symbol(line, j),
                        expected,
                        "ss={symbol_size} line={line} j={j}"
                    );
                }
            }
        }
    }

    #[test]
    fn decoding_restores_missing_sources() {
        let (k, n, symbol_size, lines) = (4usize, 10usize, 10usize, 3usize);
        let sources: Vec<Vec<Vec<u8>>> = (0..lines)
            .map(|l| (0..k).map(|i| symbol(l * 10 + i, symbol_size)).collect())
            .collect();
        let recovery = encode_lines(k, n, symbol_size, lines, |l, i| &sources[l][i]).unwrap();
        let full: Vec<Vec<Vec<u8>>> = (0..lines)
            .map(|l| {
                (0..n)
                    .map(|p| {
                        if p < k {
                            sources[l][p].clone()
                        } else {
                            recovery.symbol(l, p - k)
                        }
                    })
                    .collect()
            })
            .collect();
        let available = [9usize, 1, 7, 5];
        let restored = decode_lines(k, n, symbol_size, lines, &available, |l, a| {
            &full[l][available[a]]
        })
        .unwrap();
        let mut restored_positions = restored.positions().to_vec();
        restored_positions.sort_unstable();
        assert_eq!(restored_positions, vec![0, 2, 3]);
        for (shard, position) in restored.positions().iter().enumerate() {
            for (line, source) in sources.iter().enumerate() {
                assert_eq!(restored.symbol(line, shard), source[*position]);
            }
        }
    }
}
