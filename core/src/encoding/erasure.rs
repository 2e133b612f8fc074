//! Reed-Solomon erasure decoding planned once per erasure pattern.
//!
//! reed-solomon-simd decodes (Leopard-RS, Lin-Han-Chung additive FFT) by multiplying the
//! received shards with the erasure locator, an IFFT over the whole work domain (`W`, the
//! power of two covering every code position), a formal derivative, an FFT over the whole
//! domain again, and a division of the erased positions by the locator's derivative. Every call
//! also evaluates the locator over all 65536 field elements. Decoding a blob runs that decoder
//! on many packed shards with the same erasure pattern, so this module does the
//! pattern-dependent work once ([`DecodePlan::new`]) and, for each packed shard set, runs only
//! the butterflies whose results are used ([`DecodePlan::decode`]):
//!
//! - values that are structurally zero (positions not received, and everything computed only
//!   from them) are tracked, never read, and never computed;
//! - only the missing source positions are evaluated: the FFT is pruned from its outputs up,
//!   which also prunes the derivative and, through it, the IFFT from their outputs up;
//! - dense subtrees run as one call of the codec's own (two layers at a time) transform, sparse
//!   ones layer by layer, whichever a cost model says is cheaper;
//! - a layer that only scales a subtree's result is folded into that subtree's locator
//!   multiplication, and when the FFT's input starts as a copy of an IFFT output that nothing
//!   else reads, the FFT runs in that memory instead (the transforms take the skew apart from
//!   the memory position).
//!
//! The arithmetic is the codec's own (its engine: transforms, multiplication tables, locator
//! evaluation), applied to the same values in the same positions, so the restored shards are
//! those the codec's decoder returns (a property test compares the two).

use std::cell::RefCell;

use reed_solomon_simd::engine::{
    tables, utils, DefaultEngine, Engine, GfElement, ShardsRefMut, GF_MODULUS, GF_ORDER,
};

use super::rs::Packing;
use crate::EncodeError;

/// The log of the zero element: a butterfly with this skew multiplies by zero (the codec skips
/// the multiplication), and multiplying by it with `Engine::mul` would be the identity.
const ZERO_LOG: GfElement = GF_MODULUS;

/// Relative costs of the operations per shard (one fused butterfly = 1), used to choose
/// between running a subtree as one codec transform and running it layer by layer.
mod cost {
    pub(super) const FUSED_BUTTERFLY: f64 = 1.0;
    pub(super) const LAYER_BUTTERFLY: f64 = 1.05;
    pub(super) const MUL_ADD: f64 = 2.0;
    pub(super) const COPY_MUL: f64 = 1.3;
    pub(super) const MUL: f64 = 0.85;
    pub(super) const XOR: f64 = 0.85;
    pub(super) const COPY: f64 = 0.55;
    pub(super) const ZERO: f64 = 0.33;
    pub(super) const LOAD: f64 = 1.3;
    pub(super) const OP: f64 = 0.1;
}

/// Bytes of the shards a decode should touch at once (about the per-core L2 cache of the
/// machines this runs on), used to size packed shards.
const CACHE_BUDGET: usize = 768 * 1024;

/// One step of a decode, on shards of the work buffer (positions in the codec's work domain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Packs input `input` into shard `at` and multiplies it by `log`.
    Load {
        at: usize,
        input: usize,
        log: GfElement,
    },
    /// Zeroes `len` shards from `at`.
    Zero { at: usize, len: usize },
    /// `dst[..len] = src[..len]`.
    Copy { dst: usize, src: usize, len: usize },
    /// `dst[..len] ^= src[..len]`.
    Xor { dst: usize, src: usize, len: usize },
    /// `at[..len] *= log`.
    Mul {
        at: usize,
        len: usize,
        log: GfElement,
    },
    /// `dst[..len] = src[..len] * log`.
    CopyMul {
        dst: usize,
        src: usize,
        len: usize,
        log: GfElement,
    },
    /// `dst[..len] ^= src[..len] * log`.
    MulAdd {
        dst: usize,
        src: usize,
        len: usize,
        log: GfElement,
    },
    /// The codec's IFFT of `size` shards at `at`, inputs after `truncated` zero.
    Ifft {
        at: usize,
        size: usize,
        truncated: usize,
    },
    /// The codec's FFT of `size` shards at `at`, outputs valid up to `truncated`, with the
    /// skews of position `skew` (the memory need not be where the values belong).
    Fft {
        at: usize,
        size: usize,
        truncated: usize,
        skew: usize,
    },
    /// One IFFT layer: the butterflies between `at + i` and `at + half + i` for all `i < half`.
    IfftLayer { at: usize, half: usize },
    /// One FFT layer: the butterflies between `at + i` and `at + half + i` for all `i < half`,
    /// with skew `skew[skew]`.
    FftLayer { at: usize, half: usize, skew: usize },
    /// Multiplies shard `at` by `log` and hands it out as source position `output`.
    Store {
        at: usize,
        output: usize,
        log: GfElement,
    },
}

/// How the code positions sit in the codec's work domain. reed-solomon-simd encodes at "low
/// rate" (sources at `0..k`, recovery from the next power of two `K` of `k`) or "high rate"
/// (recovery at `0..r`, sources from the next power of two `R` of `r`), chosen by the counts.
#[derive(Debug, Clone, Copy)]
struct Domain {
    k: usize,
    r: usize,
    high_rate: bool,
    /// `K` (low rate) or `R` (high rate).
    chunk: usize,
    /// The work domain size: a power of two.
    size: usize,
}

impl Domain {
    fn new(k: usize, n: usize) -> Result<Self, EncodeError> {
        let r = n.saturating_sub(k);
        let unsupported = || {
            EncodeError::Codec(format!(
                "unsupported code: {k} source, {r} recovery symbols"
            ))
        };
        if k == 0 || r == 0 || k > GF_ORDER || r > GF_ORDER {
            return Err(unsupported());
        }
        let (k_pow2, r_pow2) = (k.next_power_of_two(), r.next_power_of_two());
        if k_pow2.min(r_pow2) + k.max(r) > GF_ORDER {
            return Err(unsupported());
        }
        // The same choice as reed-solomon-simd's `DefaultRate`.
        let high_rate = match k_pow2.cmp(&r_pow2) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => k <= r,
        };
        let (chunk, size) = if high_rate {
            (r_pow2, (r_pow2 + k).next_power_of_two())
        } else {
            (k_pow2, (k_pow2 + r).next_power_of_two())
        };
        Ok(Self {
            k,
            r,
            high_rate,
            chunk,
            size,
        })
    }

    /// The work position of code position `position` (`< k + r`).
    fn position(&self, position: usize) -> usize {
        match (self.high_rate, position < self.k) {
            (false, true) => position,
            (false, false) => self.chunk + position - self.k,
            (true, true) => self.chunk + position,
            (true, false) => position - self.k,
        }
    }

    /// The logs of the erasure locator at every work position, as the codec computes them for
    /// the positions in `received` (work positions).
    fn locator(&self, received: &[bool]) -> Box<[GfElement; GF_ORDER]> {
        let mut erasures: Box<[GfElement; GF_ORDER]> = Box::new([0; GF_ORDER]);
        let truncated = if self.high_rate {
            // Recovery at 0..r, unused r..R, sources at R..R+k; zeros beyond.
            for j in 0..self.r {
                erasures[j] = GfElement::from(!received[j]);
            }
            erasures[self.r..self.chunk].fill(1);
            for i in self.chunk..self.chunk + self.k {
                erasures[i] = GfElement::from(!received[i]);
            }
            self.chunk + self.k
        } else {
            // Sources at 0..k, zeros k..K, recovery at K..K+r; unused beyond.
            for i in 0..self.k {
                erasures[i] = GfElement::from(!received[i]);
            }
            let recovery_end = self.chunk + self.r;
            for j in self.chunk..recovery_end {
                erasures[j] = GfElement::from(!received[j]);
            }
            erasures[recovery_end..].fill(1);
            GF_ORDER
        };
        DefaultEngine::eval_poly(&mut erasures, truncated);
        erasures
    }
}

/// The decode of one erasure pattern of a `(k, n)` code: which source positions it restores
/// and the steps that restore them from the available symbols.
#[derive(Debug)]
pub(crate) struct DecodePlan {
    /// The missing source positions, ascending, in the order they are handed out.
    restored: Vec<usize>,
    ops: Vec<Op>,
    /// Shards of the work buffer (the work domain).
    work_shards: usize,
    /// Distinct work shards the steps touch.
    touched_shards: usize,
}

impl DecodePlan {
    /// Plans the restoration of the missing source symbols of a `(k, n)` code from the symbols
    /// at the code positions `available`, of which the first `k` are used (they must be
    /// distinct and `< n`).
    pub(crate) fn new(k: usize, n: usize, available: &[usize]) -> Result<Self, EncodeError> {
        if k == 0 || k > n {
            return Err(EncodeError::Codec(format!(
                "no code with {k} source symbols of {n}"
            )));
        }
        let used = &available[..k.min(available.len())];
        if used.len() < k {
            return Err(EncodeError::Codec(format!(
                "{} symbols given, {k} needed",
                used.len()
            )));
        }
        let mut given = vec![false; n];
        for position in used {
            match given.get_mut(*position) {
                Some(flag) if !*flag => *flag = true,
                Some(_) => {
                    return Err(EncodeError::Codec(format!(
                        "symbol position {position} given twice"
                    )))
                }
                None => {
                    return Err(EncodeError::Codec(format!(
                        "symbol position {position} out of range for {n} symbols"
                    )))
                }
            }
        }
        let restored: Vec<usize> = (0..k).filter(|source| !given[*source]).collect();
        if restored.is_empty() {
            return Ok(Self {
                restored,
                ops: Vec::new(),
                work_shards: 0,
                touched_shards: 0,
            });
        }
        let domain = Domain::new(k, n)?;
        let mut received = vec![false; domain.size];
        let mut input_at = vec![usize::MAX; domain.size];
        for (input, position) in used.iter().enumerate() {
            let at = domain.position(*position);
            received[at] = true;
            input_at[at] = input;
        }
        let locator = domain.locator(&received);
        let outputs: Vec<(usize, usize)> = restored
            .iter()
            .map(|source| (*source, domain.position(*source)))
            .collect();
        let planner = Planner::new(domain.size, &received);
        let ops = planner.plan(&input_at, &locator, &outputs);
        let touched_shards = touched(&ops, domain.size);
        Ok(Self {
            restored,
            ops,
            work_shards: domain.size,
            touched_shards,
        })
    }

    /// The source positions restored, ascending.
    pub(crate) fn restored(&self) -> &[usize] {
        &self.restored
    }

    /// The packed shard size that keeps a decode's working set in cache.
    pub(crate) fn target_shard_bytes(&self) -> usize {
        (CACHE_BUDGET / self.touched_shards.max(1)).clamp(1024, 32 * 1024) / 64 * 64
    }

    /// Restores the missing source symbols of lines packed with `packing`: `symbol(line, a)`
    /// is the symbol of `line` at `available[a]`; `sink(position, shard)` receives the packed
    /// shard of each restored source position, in ascending order.
    pub(crate) fn decode<'a>(
        &self,
        packing: &Packing,
        symbol: impl Fn(usize, usize) -> &'a [u8],
        mut sink: impl FnMut(usize, &[u8]),
    ) {
        if self.ops.is_empty() {
            return;
        }
        let len64 = packing.shard_bytes() / 64;
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let Scratch { engine, work, tmp } = &mut *scratch;
            let engine = engine.get_or_insert_with(DefaultEngine::new);
            let needed = self.work_shards * len64;
            if work.len() < needed {
                work.resize(needed, [0; 64]);
            }
            if tmp.len() < len64 {
                tmp.resize(len64, [0; 64]);
            }
            let work = &mut work[..needed];
            let tmp = &mut tmp[..len64];
            let mut exec = Exec {
                engine,
                work,
                tmp,
                len64,
            };
            for op in &self.ops {
                match *op {
                    Op::Load { at, input, log } => {
                        let shard = exec.shards(at, 1);
                        packing.pack(
                            (0..packing.lines()).map(|line| symbol(line, input)),
                            shard.as_flattened_mut(),
                        );
                        exec.mul(at, 1, log);
                    }
                    Op::Store { at, output, log } => {
                        exec.mul(at, 1, log);
                        sink(output, exec.shards(at, 1).as_flattened());
                    }
                    other => exec.run(other),
                }
            }
        });
    }
}

/// Per-thread decode state, reused across calls.
#[derive(Default)]
struct Scratch {
    engine: Option<DefaultEngine>,
    work: Vec<[u8; 64]>,
    tmp: Vec<[u8; 64]>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs steps on a work buffer of shards of `len64` 64-byte chunks.
struct Exec<'a> {
    engine: &'a DefaultEngine,
    work: &'a mut [[u8; 64]],
    tmp: &'a mut [[u8; 64]],
    len64: usize,
}

impl Exec<'_> {
    fn shards(&mut self, at: usize, len: usize) -> &mut [[u8; 64]] {
        &mut self.work[at * self.len64..(at + len) * self.len64]
    }

    /// `len` shards at `dst` (mutable) and at `src`; the ranges do not overlap.
    fn pair(&mut self, dst: usize, src: usize, len: usize) -> (&mut [[u8; 64]], &[[u8; 64]]) {
        let (dst, src, len) = (dst * self.len64, src * self.len64, len * self.len64);
        if dst < src {
            let (low, high) = self.work.split_at_mut(src);
            (&mut low[dst..dst + len], &high[..len])
        } else {
            let (low, high) = self.work.split_at_mut(dst);
            (&mut high[..len], &low[src..src + len])
        }
    }

    fn mul(&mut self, at: usize, len: usize, log: GfElement) {
        // Logs 0 and GF_MODULUS both multiply by one.
        if log != 0 && log != ZERO_LOG {
            let engine = self.engine;
            engine.mul(self.shards(at, len), log);
        }
    }

    fn run(&mut self, op: Op) {
        let engine = self.engine;
        match op {
            Op::Zero { at, len } => self.shards(at, len).fill([0; 64]),
            Op::Copy { dst, src, len } => {
                let (dst, src) = self.pair(dst, src, len);
                dst.copy_from_slice(src);
            }
            Op::Xor { dst, src, len } => {
                let (dst, src) = self.pair(dst, src, len);
                utils::xor(dst, src);
            }
            Op::Mul { at, len, log } => self.mul(at, len, log),
            Op::CopyMul { dst, src, len, log } => {
                let (dst_shards, src_shards) = self.pair(dst, src, len);
                dst_shards.copy_from_slice(src_shards);
                self.mul(dst, len, log);
            }
            Op::MulAdd { dst, src, len, log } => {
                let len64 = self.len64;
                for shard in 0..len {
                    let source = (src + shard) * len64;
                    self.tmp.copy_from_slice(&self.work[source..source + len64]);
                    engine.mul(self.tmp, log);
                    let target = (dst + shard) * len64;
                    utils::xor(&mut self.work[target..target + len64], self.tmp);
                }
            }
            Op::Ifft {
                at,
                size,
                truncated,
            } => {
                let shard_count = self.work.len() / self.len64;
                let mut view = ShardsRefMut::new(shard_count, self.len64, self.work);
                engine.ifft(&mut view, at, size, truncated, at);
            }
            Op::Fft {
                at,
                size,
                truncated,
                skew,
            } => {
                let shard_count = self.work.len() / self.len64;
                let mut view = ShardsRefMut::new(shard_count, self.len64, self.work);
                engine.fft(&mut view, at, size, truncated, skew);
            }
            Op::IfftLayer { at, half } => {
                // Each half as one shard: a size-2 transform is exactly this layer, with the
                // skew of the block (`skew[at + half - 1]`).
                let len64 = self.len64;
                let block = &mut self.work[at * len64..(at + 2 * half) * len64];
                let mut view = ShardsRefMut::new(2, half * len64, block);
                engine.ifft(&mut view, 0, 2, 2, at + half - 1);
            }
            Op::FftLayer { at, half, skew } => {
                let len64 = self.len64;
                let block = &mut self.work[at * len64..(at + 2 * half) * len64];
                let mut view = ShardsRefMut::new(2, half * len64, block);
                engine.fft(&mut view, 0, 2, 2, skew);
            }
            Op::Load { .. } | Op::Store { .. } => {
                unreachable!("loads and stores are run by the caller")
            }
        }
    }
}

/// The relative cost of extending `k` source symbols to `n` with the codec's encoder (the
/// transforms its rate runs, the copies in and out), in the units of [`cost`].
fn expansion_cost(k: usize, n: usize) -> f64 {
    let recovery = n - k;
    let (k_pow2, r_pow2) = (k.next_power_of_two(), recovery.next_power_of_two());
    let high_rate = k_pow2 > r_pow2 || (k_pow2 == r_pow2 && k <= recovery);
    let butterflies = if high_rate {
        let chunk = r_pow2;
        let ifft: usize = (0..k)
            .step_by(chunk)
            .map(|start| ifft_butterflies(chunk, (k - start).min(chunk)))
            .sum();
        ifft + fft_butterflies(chunk, recovery) + (k.div_ceil(chunk) - 1) * chunk
    } else {
        let chunk = k_pow2;
        let fft: usize = (0..recovery)
            .step_by(chunk)
            .map(|start| fft_butterflies(chunk, (recovery - start).min(chunk)))
            .sum();
        ifft_butterflies(chunk, k) + fft + recovery.div_ceil(chunk) * chunk
    };
    butterflies as f64 * cost::FUSED_BUTTERFLY + n as f64 * cost::COPY
}

/// The relative cost of [`recovery_symbols_direct`] for `count` recovery symbols of a line of
/// `k` source symbols: each source symbol packed once, then multiplied and added once per
/// recovery symbol; each result unpacked.
fn direct_cost(k: usize, count: usize) -> f64 {
    let count = count as f64;
    k as f64 * (cost::COPY + count * (cost::MUL + cost::XOR)) + count * cost::COPY
}

/// Whether [`recovery_symbols_direct`] computes `count` recovery symbols of a `(k, n)` line
/// for less than the codec's whole expansion.
pub(crate) fn direct_is_cheaper(k: usize, n: usize, count: usize) -> bool {
    count > 0 && k < n && direct_cost(k, count) < expansion_cost(k, n)
}

/// Most `(k, n)` codes whose coefficients are kept.
const KEPT_CODES: usize = 8;

/// The coefficients of the `(k, n)` code: `c[r * k + j]` is the factor of source symbol `j` in
/// recovery symbol `r` (code position `k + r`), element by element. Computed with the codec
/// itself (the recovery symbols of each unit source line), kept for the last [`KEPT_CODES`]
/// codes.
fn coefficients(k: usize, n: usize) -> Result<std::sync::Arc<[GfElement]>, EncodeError> {
    type Kept = Vec<((usize, usize), std::sync::Arc<[GfElement]>)>;
    static KEPT: std::sync::Mutex<Kept> = std::sync::Mutex::new(Vec::new());
    let kept = |kept: &Kept| {
        kept.iter()
            .find(|(code, _)| *code == (k, n))
            .map(|(_, coefficients)| coefficients.clone())
    };
    let lock = || {
        KEPT.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(coefficients) = kept(&lock()) {
        return Ok(coefficients);
    }
    let recovery = n - k;
    let mut coefficients = vec![0; recovery * k];
    let (zero, one) = ([0u8; 2], [1u8, 0]);
    for j in 0..k {
        // A 2-byte symbol is one element, `(byte 0, byte 1)`: the unit line `e_j`.
        super::rs::encode_symbols(
            k,
            n,
            2,
            |i| if i == j { &one[..] } else { &zero[..] },
            |symbols| {
                for (r, symbol) in symbols.enumerate() {
                    coefficients[r * k + j] =
                        GfElement::from(symbol[0]) | GfElement::from(symbol[1]) << 8;
                }
            },
        )?;
    }
    let coefficients: std::sync::Arc<[GfElement]> = coefficients.into();
    let mut kept_codes = lock();
    if let Some(raced) = kept(&kept_codes) {
        return Ok(raced);
    }
    if kept_codes.len() >= KEPT_CODES {
        kept_codes.remove(0);
    }
    kept_codes.push(((k, n), coefficients.clone()));
    Ok(coefficients)
}

/// Appends to `out` the recovery symbols at code `positions` (each in `k..n`) of one line of
/// `k` source symbols of `symbol_size` bytes (`source(i)`), in the order of `positions`: each
/// a linear combination of the source symbols with the code's coefficients, the same bytes the
/// codec's encoder gives at those positions. For a few positions this is cheaper than the whole
/// expansion ([`direct_is_cheaper`]).
pub(crate) fn recovery_symbols_direct<'a>(
    k: usize,
    n: usize,
    symbol_size: usize,
    source: impl Fn(usize) -> &'a [u8],
    positions: &[usize],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if let Some(position) = positions.iter().find(|p| !(k..n).contains(*p)) {
        return Err(EncodeError::Codec(format!(
            "position {position} is not a recovery position of a ({k}, {n}) code"
        )));
    }
    let coefficients = coefficients(k, n)?;
    let log = &tables::get_exp_log().log;
    // One line packed as the codec lays out a shard: its element layout is the codec's own.
    let packing = Packing::new(symbol_size, 1);
    let len64 = packing.shard_bytes() / 64;
    let mut sums = vec![[0u8; 64]; positions.len() * len64];
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let Scratch { engine, tmp, .. } = &mut *scratch;
        let engine = engine.get_or_insert_with(DefaultEngine::new);
        tmp.resize(len64, [0; 64]);
        let tmp = &mut tmp[..len64];
        for j in 0..k {
            packing.pack(std::iter::once(source(j)), tmp.as_flattened_mut());
            // `tmp` holds the source symbol times `exp(factor)`: each product is the previous
            // one multiplied by the ratio of the coefficients.
            let mut factor: GfElement = 0;
            for (sum, position) in sums.chunks_exact_mut(len64).zip(positions) {
                let coefficient = coefficients[(position - k) * k + j];
                if coefficient == 0 {
                    continue;
                }
                let wanted = log[usize::from(coefficient)];
                let ratio = if wanted >= factor {
                    wanted - factor
                } else {
                    wanted + GF_MODULUS - factor
                };
                if ratio != 0 {
                    engine.mul(tmp, ratio);
                }
                factor = wanted;
                utils::xor(sum, tmp);
            }
        }
    });
    let start = out.len();
    out.resize(start + positions.len() * symbol_size, 0);
    for (sum, symbol) in sums
        .chunks_exact(len64)
        .zip(out[start..].chunks_exact_mut(symbol_size))
    {
        packing.unpack(sum.as_flattened(), 0, symbol);
    }
    Ok(())
}

/// The shard ranges (start, length) a step touches.
fn ranges(op: &Op) -> [(usize, usize); 2] {
    match *op {
        Op::Load { at, .. } | Op::Store { at, .. } => [(at, 1), (at, 0)],
        Op::Zero { at, len } | Op::Mul { at, len, .. } => [(at, len), (at, 0)],
        Op::Copy { dst, src, len }
        | Op::Xor { dst, src, len }
        | Op::CopyMul { dst, src, len, .. }
        | Op::MulAdd { dst, src, len, .. } => [(dst, len), (src, len)],
        Op::Ifft { at, size, .. } | Op::Fft { at, size, .. } => [(at, size), (at, 0)],
        Op::IfftLayer { at, half } | Op::FftLayer { at, half, .. } => [(at, 2 * half), (at, 0)],
    }
}

/// The number of distinct work shards the steps touch.
fn touched(ops: &[Op], size: usize) -> usize {
    let mut touched = vec![false; size];
    for (at, len) in ops.iter().flat_map(ranges) {
        touched[at..at + len].fill(true);
    }
    touched.iter().filter(|t| **t).count()
}

/// `step` with every shard position moved by `shift` (skews stay: they belong to the values).
fn shifted(op: Op, shift: usize) -> Op {
    match op {
        Op::Load { at, input, log } => Op::Load {
            at: at + shift,
            input,
            log,
        },
        Op::Store { at, output, log } => Op::Store {
            at: at + shift,
            output,
            log,
        },
        Op::Zero { at, len } => Op::Zero {
            at: at + shift,
            len,
        },
        Op::Mul { at, len, log } => Op::Mul {
            at: at + shift,
            len,
            log,
        },
        Op::Copy { dst, src, len } => Op::Copy {
            dst: dst + shift,
            src: src + shift,
            len,
        },
        Op::Xor { dst, src, len } => Op::Xor {
            dst: dst + shift,
            src: src + shift,
            len,
        },
        Op::CopyMul { dst, src, len, log } => Op::CopyMul {
            dst: dst + shift,
            src: src + shift,
            len,
            log,
        },
        Op::MulAdd { dst, src, len, log } => Op::MulAdd {
            dst: dst + shift,
            src: src + shift,
            len,
            log,
        },
        Op::Ifft {
            at,
            size,
            truncated,
        } => Op::Ifft {
            at: at + shift,
            size,
            truncated,
        },
        Op::Fft {
            at,
            size,
            truncated,
            skew,
        } => Op::Fft {
            at: at + shift,
            size,
            truncated,
            skew,
        },
        Op::IfftLayer { at, half } => Op::IfftLayer {
            at: at + shift,
            half,
        },
        Op::FftLayer { at, half, skew } => Op::FftLayer {
            at: at + shift,
            half,
            skew,
        },
    }
}

/// `a + b` of two logs (a product of the multipliers), as the codec adds them.
fn add_logs(a: GfElement, b: GfElement) -> GfElement {
    let (sum, carry) = a.overflowing_add(b);
    sum + GfElement::from(carry)
}

/// Where the FFT may run instead of in place: when the derivative's outputs that the FFT reads
/// (`fft_inputs`) lie in a block `[0, B)` whose own IFFT outputs are zero, each output starts
/// as a copy of the IFFT output `B` positions later, which nothing else reads. The derivative
/// then accumulates in `[B, 2B)` and the FFT runs there (the codec's transforms take the skew
/// apart from the memory position), which saves the copy. Returns `B`, or 0.
fn fft_shift(old_zero: &[bool], fft_inputs: &[bool], fft_ops: &[Op]) -> usize {
    let Some(last) = fft_inputs.iter().rposition(|needed| *needed) else {
        return 0;
    };
    let block = (last + 1).next_power_of_two();
    let fits = 2 * block <= old_zero.len()
        && (0..block).all(|j| !fft_inputs[j] || old_zero[j])
        && fft_ops
            .iter()
            .flat_map(ranges)
            .all(|(at, len)| at + len <= block);
    if fits {
        block
    } else {
        0
    }
}

/// Butterflies of the codec's IFFT of `size` with inputs after `truncated` zero.
fn ifft_butterflies(size: usize, truncated: usize) -> usize {
    let (mut total, mut dist, mut dist4) = (0, 1, 4);
    while dist4 <= size {
        total += truncated.div_ceil(dist4) * dist4;
        dist = dist4;
        dist4 <<= 2;
    }
    if dist < size {
        total += dist;
    }
    total
}

/// Butterflies of the codec's FFT of `size` with outputs needed up to `truncated`.
fn fft_butterflies(size: usize, truncated: usize) -> usize {
    let (mut total, mut dist4, mut dist) = (0, size, size >> 2);
    while dist != 0 {
        total += truncated.div_ceil(dist4) * dist4;
        dist4 = dist;
        dist >>= 2;
    }
    if dist4 == 2 {
        total += truncated.div_ceil(2);
    }
    total
}

/// How a subtree of a transform is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    /// Nothing of it is needed.
    Skip,
    /// One codec transform.
    Whole,
    /// Its two halves, then (IFFT) or before (FFT) the layer joining them.
    Split,
}

/// What one butterfly position of a layer does, given which of its values are zero and needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing to compute (zero, or not needed, or unchanged).
    Nothing,
    /// `a = b * log`.
    CopyMulToA(GfElement),
    /// `b = a` (if `copy`), then `a *= log` (if `Some`).
    CopyToBMulA { copy: bool, mul: Option<GfElement> },
    /// `b *= log` (if `Some`) then `b ^= a`.
    MulBXorA(Option<GfElement>),
    /// `b = a`.
    CopyToB,
    /// `a = b * first` (if `Some`), then `b *= second` (if `Some`).
    CopyMulToAMulB(Option<GfElement>, Option<GfElement>),
    /// `a ^= b * log`.
    MulAddToA(GfElement),
    /// The whole butterfly, with the layer's skew.
    Butterfly(GfElement),
}

/// The planning state: structural zero flags and needed flags of every value of the
/// transforms, level by level.
struct Planner {
    size: usize,
    levels: usize,
    skew: &'static [GfElement],
    exp: &'static [GfElement; GF_ORDER],
    log: &'static [GfElement; GF_ORDER],
    received: Vec<bool>,
    /// Prefix counts of `received`.
    received_before: Vec<usize>,
    /// `ifft_zero[l][x]`: the value at `x` after the IFFT layers of blocks up to `2^l` is zero.
    ifft_zero: Vec<Vec<bool>>,
    /// `ifft_need[l][x]`: that value is read later (and is not zero).
    ifft_need: Vec<Vec<bool>>,
    /// `fft_zero[l][x]`: the value at `x` before the FFT layers of blocks up to `2^l` is zero.
    fft_zero: Vec<Vec<bool>>,
    /// `fft_need[l][x]`: that value is read later (and is not zero).
    fft_need: Vec<Vec<bool>>,
    /// How each block of each level is run (`[l][block]`, blocks of `2^l`).
    ifft_choice: Vec<Vec<Choice>>,
    fft_choice: Vec<Vec<Choice>>,
}

impl Planner {
    fn new(size: usize, received: &[bool]) -> Self {
        let levels = size.trailing_zeros() as usize;
        let exp_log = tables::get_exp_log();
        let mut received_before = Vec::with_capacity(size + 1);
        received_before.push(0);
        for flag in received {
            received_before.push(received_before.last().copied().unwrap_or(0) + usize::from(*flag));
        }
        Self {
            size,
            levels,
            skew: tables::get_skew().as_slice(),
            exp: &exp_log.exp,
            log: &exp_log.log,
            received: received.to_vec(),
            received_before,
            ifft_zero: Vec::new(),
            ifft_need: Vec::new(),
            fft_zero: Vec::new(),
            fft_need: Vec::new(),
            ifft_choice: Vec::new(),
            fft_choice: Vec::new(),
        }
    }

    /// The skew (log) of the layer joining `[at, at + half)` and `[at + half, at + 2 half)`.
    fn skew(&self, at: usize, half: usize) -> GfElement {
        self.skew[at + half - 1]
    }

    /// `log(1 + m)` for `m = exp(log_m)` (`ZERO_LOG` for zero).
    fn one_plus(&self, log_m: GfElement) -> GfElement {
        if log_m == ZERO_LOG {
            return 0;
        }
        // exp[0] is the multiplicative identity.
        let value = self.exp[usize::from(log_m)] ^ self.exp[0];
        if value == 0 {
            ZERO_LOG
        } else {
            self.log[usize::from(value)]
        }
    }

    /// A multiplication by `log` that is not the identity, or `None`.
    fn nontrivial(log: GfElement) -> Option<GfElement> {
        (log != 0 && log != ZERO_LOG).then_some(log)
    }

    /// The steps restoring `outputs` (source position, work position) from the loaded
    /// `input_at` (the input at each work position). Planned back to front (the FFT from its
    /// outputs, the derivative from what the FFT reads, the IFFT from what the derivative
    /// reads), emitted front to back.
    fn plan(
        mut self,
        input_at: &[usize],
        locator: &[GfElement; GF_ORDER],
        outputs: &[(usize, usize)],
    ) -> Vec<Op> {
        let size = self.size;
        self.ifft_zeros();
        let old_zero = self.ifft_zero[self.levels].clone();
        let new_zero = derivative_zeros(&old_zero);
        let mut output_needed = vec![false; size];
        for (_, at) in outputs {
            output_needed[*at] = true;
        }
        self.fft_zeros_and_needs(new_zero, output_needed);
        let fft_inputs = self.fft_need[self.levels].clone();
        self.fft_choose();
        let mut fft_ops = Vec::new();
        self.emit_fft(self.levels, 0, &mut fft_ops);
        for (source, at) in outputs {
            if self.fft_zero[0][*at] {
                fft_ops.push(Op::Zero { at: *at, len: 1 });
            }
            fft_ops.push(Op::Store {
                at: *at,
                output: *source,
                log: GF_MODULUS - locator[*at],
            });
        }
        let shift = fft_shift(&old_zero, &fft_inputs, &fft_ops);
        let (derivative_ops, ifft_outputs) = derivative(&old_zero, &fft_inputs, shift);
        self.ifft_needs(ifft_outputs);
        self.ifft_choose();

        let mut ops = Vec::new();
        self.emit_ifft(self.levels, 0, 0, input_at, locator, &mut ops);
        ops.extend(derivative_ops);
        ops.extend(fft_ops.into_iter().map(|op| shifted(op, shift)));
        ops
    }

    fn ifft_zeros(&mut self) {
        let mut zero: Vec<bool> = self.received.iter().map(|r| !r).collect();
        self.ifft_zero.push(zero.clone());
        for level in 1..=self.levels {
            let half = 1 << (level - 1);
            let previous = zero.clone();
            for at in (0..self.size).step_by(2 * half) {
                let m = self.skew(at, half);
                let opm = self.one_plus(m);
                for i in 0..half {
                    let (a, b) = (at + i, at + half + i);
                    let (za, zb) = (previous[a], previous[b]);
                    // b' = a + b; a' = a + m b' = (1 + m) a + m b.
                    zero[b] = za && zb;
                    zero[a] = (za || opm == ZERO_LOG) && (zb || m == ZERO_LOG);
                }
            }
            self.ifft_zero.push(zero.clone());
        }
    }

    fn ifft_needs(&mut self, outputs: Vec<bool>) {
        let mut needs = vec![Vec::new(); self.levels + 1];
        let mut need = outputs;
        for level in (1..=self.levels).rev() {
            let half = 1 << (level - 1);
            let zero = &self.ifft_zero[level - 1];
            let mut below = vec![false; self.size];
            for at in (0..self.size).step_by(2 * half) {
                let m = self.skew(at, half);
                for i in 0..half {
                    let (a, b) = (at + i, at + half + i);
                    below[a] = (need[a] || need[b]) && !zero[a];
                    below[b] = (need[b] || (need[a] && m != ZERO_LOG)) && !zero[b];
                }
            }
            needs[level] = need;
            need = below;
        }
        needs[0] = need;
        self.ifft_need = needs;
    }

    fn ifft_step(&self, level: usize, at: usize, i: usize) -> Step {
        let half = 1 << (level - 1);
        let (a, b) = (at + i, at + half + i);
        let zero = &self.ifft_zero[level - 1];
        let need = &self.ifft_need[level];
        let (za, zb, na, nb) = (zero[a], zero[b], need[a], need[b]);
        let m = self.skew(at, half);
        match (za, zb) {
            (true, true) => Step::Nothing,
            // b' = b; a' = m b.
            (true, false) => {
                if na && m != ZERO_LOG {
                    Step::CopyMulToA(m)
                } else {
                    Step::Nothing
                }
            }
            // b' = a; a' = (1 + m) a.
            (false, true) => {
                let mul = if na {
                    Self::nontrivial(self.one_plus(m))
                } else {
                    None
                };
                if nb || mul.is_some() {
                    Step::CopyToBMulA { copy: nb, mul }
                } else {
                    Step::Nothing
                }
            }
            (false, false) => {
                if na && m != ZERO_LOG {
                    Step::Butterfly(m)
                } else if nb {
                    Step::MulBXorA(None)
                } else {
                    Step::Nothing
                }
            }
        }
    }

    /// If the IFFT layer of block `[at, at + 2^level)` only scales its first half (the second
    /// half is zero and not needed: `a' = (1 + m) a`), the scale: it is folded into the loads
    /// of the first half's subtree (the transform is linear) instead of being a pass of its own.
    fn ifft_scale(&self, level: usize, at: usize) -> Option<GfElement> {
        let half = 1 << (level - 1);
        let zero = &self.ifft_zero[level - 1];
        let need = &self.ifft_need[level];
        let only_scales = (at + half..at + 2 * half).all(|b| zero[b] && !need[b]);
        let scale = self.one_plus(self.skew(at, half));
        (only_scales && scale != ZERO_LOG).then_some(scale)
    }

    /// The cost of the IFFT layer of block `[at, at + 2^level)`, and its steps if `ops`.
    fn ifft_layer(&self, level: usize, at: usize, ops: Option<&mut Vec<Op>>) -> f64 {
        if self.ifft_scale(level, at).is_some() {
            return 0.0;
        }
        let half = 1 << (level - 1);
        let steps: Vec<Step> = (0..half).map(|i| self.ifft_step(level, at, i)).collect();
        layer_ops(&steps, at, half, false, ops)
    }

    fn ifft_choose(&mut self) {
        let mut costs: Vec<Vec<f64>> = Vec::with_capacity(self.levels + 1);
        let mut choices: Vec<Vec<Choice>> = Vec::with_capacity(self.levels + 1);
        let leaf_costs: Vec<f64> = (0..self.size)
            .map(|x| {
                if self.ifft_need[0][x] {
                    cost::LOAD + cost::OP
                } else {
                    0.0
                }
            })
            .collect();
        costs.push(leaf_costs);
        choices.push(vec![Choice::Skip; self.size]);
        for level in 1..=self.levels {
            let block = 1 << level;
            let mut level_costs = Vec::with_capacity(self.size / block);
            let mut level_choices = Vec::with_capacity(self.size / block);
            for node in 0..self.size / block {
                let at = node * block;
                if !self.ifft_need[level][at..at + block].iter().any(|n| *n) {
                    level_costs.push(0.0);
                    level_choices.push(Choice::Skip);
                    continue;
                }
                let split = costs[level - 1][2 * node]
                    + costs[level - 1][2 * node + 1]
                    + self.ifft_layer(level, at, None);
                let received = self.received_before[at + block] - self.received_before[at];
                let last = (at..at + block).rev().find(|x| self.received[*x]);
                let whole = last.map_or(f64::INFINITY, |last| {
                    received as f64 * (cost::LOAD + cost::OP)
                        + (block - received) as f64 * cost::ZERO
                        + ifft_butterflies(block, last - at + 1) as f64 * cost::FUSED_BUTTERFLY
                });
                if whole < split {
                    level_costs.push(whole);
                    level_choices.push(Choice::Whole);
                } else {
                    level_costs.push(split);
                    level_choices.push(Choice::Split);
                }
            }
            costs.push(level_costs);
            choices.push(level_choices);
        }
        self.ifft_choice = choices;
    }

    /// Emits the steps of IFFT block `node` of size `2^level`, its outputs multiplied by
    /// `scale` (a log).
    fn emit_ifft(
        &self,
        level: usize,
        node: usize,
        scale: GfElement,
        input_at: &[usize],
        locator: &[GfElement; GF_ORDER],
        ops: &mut Vec<Op>,
    ) {
        let block = 1 << level;
        let at = node * block;
        let load = |x: usize, ops: &mut Vec<Op>| {
            ops.push(Op::Load {
                at: x,
                input: input_at[x],
                log: add_logs(locator[x], scale),
            })
        };
        if level == 0 {
            if self.ifft_need[0][at] {
                load(at, ops);
            }
            return;
        }
        match self.ifft_choice[level][node] {
            Choice::Skip => {}
            Choice::Whole => {
                let mut last = at;
                let mut x = at;
                while x < at + block {
                    if self.received[x] {
                        load(x, ops);
                        last = x;
                        x += 1;
                    } else {
                        let start = x;
                        while x < at + block && !self.received[x] {
                            x += 1;
                        }
                        ops.push(Op::Zero {
                            at: start,
                            len: x - start,
                        });
                    }
                }
                ops.push(Op::Ifft {
                    at,
                    size: block,
                    truncated: last - at + 1,
                });
            }
            Choice::Split => match self.ifft_scale(level, at) {
                Some(layer_scale) => {
                    let scale = add_logs(scale, layer_scale);
                    self.emit_ifft(level - 1, 2 * node, scale, input_at, locator, ops);
                }
                None => {
                    self.emit_ifft(level - 1, 2 * node, scale, input_at, locator, ops);
                    self.emit_ifft(level - 1, 2 * node + 1, scale, input_at, locator, ops);
                    self.ifft_layer(level, at, Some(ops));
                }
            },
        }
    }

    fn fft_zeros_and_needs(&mut self, inputs: Vec<bool>, outputs: Vec<bool>) {
        let mut zeros = vec![Vec::new(); self.levels + 1];
        let mut zero = inputs;
        for level in (1..=self.levels).rev() {
            let half = 1 << (level - 1);
            let mut below = zero.clone();
            for at in (0..self.size).step_by(2 * half) {
                let m = self.skew(at, half);
                let opm = self.one_plus(m);
                for i in 0..half {
                    let (a, b) = (at + i, at + half + i);
                    let (za, zb) = (zero[a], zero[b]);
                    // a' = a + m b; b' = b + a' = a + (1 + m) b.
                    below[a] = za && (zb || m == ZERO_LOG);
                    below[b] = za && (zb || opm == ZERO_LOG);
                }
            }
            zeros[level] = zero;
            zero = below;
        }
        zeros[0] = zero;
        let mut needs = Vec::with_capacity(self.levels + 1);
        let mut need: Vec<bool> = outputs
            .iter()
            .zip(&zeros[0])
            .map(|(n, z)| *n && !z)
            .collect();
        needs.push(need.clone());
        for (level, zero) in zeros.iter().enumerate().skip(1) {
            let half = 1 << (level - 1);
            let mut above = vec![false; self.size];
            for at in (0..self.size).step_by(2 * half) {
                let m = self.skew(at, half);
                let opm = self.one_plus(m);
                for i in 0..half {
                    let (a, b) = (at + i, at + half + i);
                    let (na, nb) = (need[a], need[b]);
                    above[a] = (na || nb) && !zero[a];
                    above[b] = ((na && m != ZERO_LOG) || (nb && opm != ZERO_LOG)) && !zero[b];
                }
            }
            need = above;
            needs.push(need.clone());
        }
        self.fft_zero = zeros;
        self.fft_need = needs;
    }

    fn fft_step(&self, level: usize, at: usize, i: usize) -> Step {
        let half = 1 << (level - 1);
        let (a, b) = (at + i, at + half + i);
        let zero = &self.fft_zero[level];
        let need = &self.fft_need[level - 1];
        let (za, zb, na, nb) = (zero[a], zero[b], need[a], need[b]);
        let m = self.skew(at, half);
        let opm = self.one_plus(m);
        match (za, zb) {
            (true, true) => Step::Nothing,
            // a' = a; b' = a.
            (false, true) => {
                if nb {
                    Step::CopyToB
                } else {
                    Step::Nothing
                }
            }
            // a' = m b; b' = (1 + m) b.
            (true, false) => {
                let to_a = na && m != ZERO_LOG;
                let mul_b = if nb { Self::nontrivial(opm) } else { None };
                match (to_a, mul_b) {
                    (false, None) => Step::Nothing,
                    (false, mul_b) => Step::CopyMulToAMulB(None, mul_b),
                    (true, mul_b) => Step::CopyMulToAMulB(Some(m), mul_b),
                }
            }
            // a' = a + m b; b' = b + a' = a + (1 + m) b.
            (false, false) => match (na, nb) {
                (_, true) if na && m != ZERO_LOG => Step::Butterfly(m),
                (_, true) if opm == ZERO_LOG => Step::CopyToB,
                (_, true) => Step::MulBXorA(Self::nontrivial(opm)),
                (true, false) if m != ZERO_LOG => Step::MulAddToA(m),
                _ => Step::Nothing,
            },
        }
    }

    /// The cost of the FFT layer of block `[at, at + 2^level)`, and its steps if `ops`.
    fn fft_layer(&self, level: usize, at: usize, ops: Option<&mut Vec<Op>>) -> f64 {
        let half = 1 << (level - 1);
        let steps: Vec<Step> = (0..half).map(|i| self.fft_step(level, at, i)).collect();
        layer_ops(&steps, at, half, true, ops)
    }

    fn fft_choose(&mut self) {
        let mut costs: Vec<Vec<f64>> = vec![vec![0.0; self.size]];
        let mut choices: Vec<Vec<Choice>> = vec![vec![Choice::Skip; self.size]];
        for level in 1..=self.levels {
            let block = 1 << level;
            let mut level_costs = Vec::with_capacity(self.size / block);
            let mut level_choices = Vec::with_capacity(self.size / block);
            for node in 0..self.size / block {
                let at = node * block;
                let last_output = (at..at + block).rev().find(|x| self.fft_need[0][*x]);
                let Some(last_output) = last_output else {
                    level_costs.push(0.0);
                    level_choices.push(Choice::Skip);
                    continue;
                };
                let split = costs[level - 1][2 * node]
                    + costs[level - 1][2 * node + 1]
                    + self.fft_layer(level, at, None);
                // One transform reads every input of the block: only if all are needed anyway.
                let zero = &self.fft_zero[level];
                let need = &self.fft_need[level];
                let all_needed = (at..at + block).all(|x| zero[x] || need[x]);
                let whole = if all_needed {
                    let zeros = (at..at + block).filter(|x| zero[*x]).count();
                    zeros as f64 * cost::ZERO
                        + fft_butterflies(block, last_output - at + 1) as f64
                            * cost::FUSED_BUTTERFLY
                } else {
                    f64::INFINITY
                };
                if whole < split {
                    level_costs.push(whole);
                    level_choices.push(Choice::Whole);
                } else {
                    level_costs.push(split);
                    level_choices.push(Choice::Split);
                }
            }
            costs.push(level_costs);
            choices.push(level_choices);
        }
        self.fft_choice = choices;
    }

    fn emit_fft(&self, level: usize, node: usize, ops: &mut Vec<Op>) {
        if level == 0 {
            return;
        }
        let block = 1 << level;
        let at = node * block;
        match self.fft_choice[level][node] {
            Choice::Skip => {}
            Choice::Whole => {
                let zero = &self.fft_zero[level];
                push_runs(
                    at,
                    block,
                    |x| zero[x],
                    |start, len| Op::Zero { at: start, len },
                    ops,
                );
                let last_output = (at..at + block)
                    .rev()
                    .find(|x| self.fft_need[0][*x])
                    .unwrap_or(at);
                ops.push(Op::Fft {
                    at,
                    size: block,
                    truncated: last_output - at + 1,
                    skew: at,
                });
            }
            Choice::Split => {
                self.fft_layer(level, at, Some(ops));
                self.emit_fft(level - 1, 2 * node, ops);
                self.emit_fft(level - 1, 2 * node + 1, ops);
            }
        }
    }
}

/// Pushes `make(start, len)` for each maximal run of positions in `[at, at + len)` where `pick`.
fn push_runs(
    at: usize,
    len: usize,
    pick: impl Fn(usize) -> bool,
    make: impl Fn(usize, usize) -> Op,
    ops: &mut Vec<Op>,
) {
    let mut x = at;
    while x < at + len {
        if pick(x) {
            let start = x;
            while x < at + len && pick(x) {
                x += 1;
            }
            ops.push(make(start, x - start));
        } else {
            x += 1;
        }
    }
}

/// The cost of one layer's steps (runs of equal steps become one operation each), and the
/// operations if `ops`. `fft` selects the FFT butterfly for a whole-layer `Butterfly`.
fn layer_ops(steps: &[Step], at: usize, half: usize, fft: bool, ops: Option<&mut Vec<Op>>) -> f64 {
    let mut out = Vec::new();
    let mut total = 0.0;
    let mut i = 0;
    while i < half {
        let step = steps[i];
        let start = i;
        while i < half && steps[i] == step {
            i += 1;
        }
        let len = i - start;
        let (a, b) = (at + start, at + half + start);
        let n = len as f64;
        match step {
            Step::Nothing => {}
            Step::Butterfly(_) if len == half => {
                total += n * cost::LAYER_BUTTERFLY + cost::OP;
                out.push(if fft {
                    Op::FftLayer {
                        at,
                        half,
                        skew: at + half - 1,
                    }
                } else {
                    Op::IfftLayer { at, half }
                });
            }
            Step::Butterfly(log) => {
                total += n * (cost::XOR + cost::MUL_ADD) + 2.0 * cost::OP;
                let xor = Op::Xor {
                    dst: b,
                    src: a,
                    len,
                };
                let mul_add = Op::MulAdd {
                    dst: a,
                    src: b,
                    len,
                    log,
                };
                // IFFT: b' = a + b, a' = a + m b'. FFT: a' = a + m b, b' = b + a'.
                if fft {
                    out.extend([mul_add, xor]);
                } else {
                    out.extend([xor, mul_add]);
                }
            }
            Step::CopyMulToA(log) => {
                total += n * cost::COPY_MUL + cost::OP;
                out.push(Op::CopyMul {
                    dst: a,
                    src: b,
                    len,
                    log,
                });
            }
            Step::CopyToBMulA { copy, mul } => {
                if copy {
                    total += n * cost::COPY + cost::OP;
                    out.push(Op::Copy {
                        dst: b,
                        src: a,
                        len,
                    });
                }
                if let Some(log) = mul {
                    total += n * cost::MUL + cost::OP;
                    out.push(Op::Mul { at: a, len, log });
                }
            }
            Step::MulBXorA(mul) => {
                if let Some(log) = mul {
                    total += n * cost::MUL + cost::OP;
                    out.push(Op::Mul { at: b, len, log });
                }
                total += n * cost::XOR + cost::OP;
                out.push(Op::Xor {
                    dst: b,
                    src: a,
                    len,
                });
            }
            Step::CopyToB => {
                total += n * cost::COPY + cost::OP;
                out.push(Op::Copy {
                    dst: b,
                    src: a,
                    len,
                });
            }
            Step::CopyMulToAMulB(to_a, mul_b) => {
                if let Some(log) = to_a {
                    total += n * cost::COPY_MUL + cost::OP;
                    out.push(Op::CopyMul {
                        dst: a,
                        src: b,
                        len,
                        log,
                    });
                }
                if let Some(log) = mul_b {
                    total += n * cost::MUL + cost::OP;
                    out.push(Op::Mul { at: b, len, log });
                }
            }
            Step::MulAddToA(log) => {
                total += n * cost::MUL_ADD + cost::OP;
                out.push(Op::MulAdd {
                    dst: a,
                    src: b,
                    len,
                    log,
                });
            }
        }
    }
    if let Some(ops) = ops {
        ops.extend(out);
    }
    total
}

/// Which values the formal derivative makes zero, from the zero flags of its input.
///
/// The codec's formal derivative is, in place and for `i` ascending,
/// `data[i - w .. i] ^= data[i .. i + w]` with `w` the lowest set bit of `i`; each source is
/// read before it is overwritten, so output `j` is input `j` plus inputs `j + w` for each such
/// step.
fn derivative_zeros(old_zero: &[bool]) -> Vec<bool> {
    let mut zero = old_zero.to_vec();
    for i in 1..old_zero.len() {
        let width = 1 << i.trailing_zeros();
        for t in 0..width {
            if !old_zero[i + t] {
                zero[i - width + t] = false;
            }
        }
    }
    zero
}

/// The steps of the formal derivative that compute the outputs in `targets` (none of them
/// zero), and which of its inputs they read. Output `j` is written at `j + shift` (see
/// [`fft_shift`]: there it starts as input `j + shift`).
fn derivative(old_zero: &[bool], targets: &[bool], shift: usize) -> (Vec<Op>, Vec<bool>) {
    let size = old_zero.len();
    let mut read: Vec<bool> = (0..size).map(|j| targets[j] && !old_zero[j]).collect();
    let mut zero = old_zero.to_vec();
    if shift > 0 {
        for j in 0..shift {
            if targets[j] && !old_zero[j + shift] {
                zero[j] = false;
                read[j + shift] = true;
            }
        }
    }
    let mut ops = Vec::new();
    for i in 1..size {
        let width = 1 << i.trailing_zeros();
        // 0: nothing, 1: copy (the target is still zero), 2: xor.
        let kind = |t: usize, zero: &[bool]| {
            let j = i - width + t;
            let contributes = targets[j] && !old_zero[i + t] && (shift == 0 || i + t != j + shift);
            match (contributes, zero[j]) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => 2,
            }
        };
        let mut t = 0;
        while t < width {
            let this = kind(t, &zero);
            let start = t;
            while t < width && kind(t, &zero) == this {
                t += 1;
            }
            if this == 0 {
                continue;
            }
            let (target, src, len) = (i - width + start, i + start, t - start);
            zero[target..target + len].fill(false);
            read[src..src + len].fill(true);
            let dst = target + shift;
            ops.push(if this == 1 {
                Op::Copy { dst, src, len }
            } else {
                Op::Xor { dst, src, len }
            });
        }
    }
    (ops, read)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::{seq::SliceRandom, SeedableRng};

    use super::*;
    use crate::encoding::{rs, EncodingConfig, SliverType};

    fn symbol(seed: usize, size: usize) -> Vec<u8> {
        let mut state = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..size)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    }

    /// Restores the missing sources of `lines` random lines of a `(k, n)` code from the symbols
    /// at `available` with a plan (packed with each of `packings`) and with reed-solomon-simd's
    /// decoder, and checks that both restore the same positions, the same bytes, and the
    /// sources.
    fn check(k: usize, n: usize, symbol_size: usize, lines: usize, available: &[usize]) {
        let context = format!("k {k} n {n} ss {symbol_size} lines {lines} available {available:?}");
        let sources: Vec<Vec<Vec<u8>>> = (0..lines)
            .map(|l| (0..k).map(|i| symbol(l * 1000 + i, symbol_size)).collect())
            .collect();
        let recovery = rs::encode_lines(k, n, symbol_size, lines, |l, i| &sources[l][i]).unwrap();
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
        let reference = rs::decode_lines(k, n, symbol_size, lines, available, |l, a| {
            &full[l][available[a]]
        })
        .unwrap();
        let mut reference_positions = reference.positions().to_vec();
        reference_positions.sort_unstable();

        let plan = DecodePlan::new(k, n, available).unwrap();
        assert_eq!(plan.restored(), reference_positions.as_slice(), "{context}");
        for target in [1 << 20, 256] {
            let mut restored = vec![vec![vec![0u8; symbol_size]; lines]; k];
            let mut seen = Vec::new();
            for packing in Packing::segments(symbol_size, lines, target) {
                seen.clear();
                plan.decode(
                    &packing,
                    |l, a| &full[l][available[a]],
                    |position, shard| {
                        seen.push(position);
                        for (line, out) in restored[position].iter_mut().enumerate() {
                            packing.unpack(shard, line, out);
                        }
                    },
                );
                assert_eq!(seen, plan.restored(), "{context}");
            }
            for (shard, position) in reference.positions().iter().enumerate() {
                for line in 0..lines {
                    assert_eq!(
                        restored[*position][line],
                        reference.symbol(line, shard),
                        "{context} position {position} line {line}"
                    );
                    assert_eq!(restored[*position][line], sources[line][*position]);
                }
            }
        }
    }

    fn source_symbols(n: u16, axis: SliverType) -> usize {
        EncodingConfig::new(n).unwrap().n_source_symbols(axis)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any erasure pattern, both codes (axes) of several committee sizes, symbols with and
        /// without a tail, more symbols than needed or exactly enough.
        #[test]
        fn plans_restore_what_the_codec_restores(
            n in prop::sample::select(vec![4u16, 7, 10, 100]),
            secondary in any::<bool>(),
            half_symbol in 1usize..80,
            lines in 1usize..4,
            extra in 0usize..4,
            seed in any::<u64>(),
        ) {
            let axis = if secondary { SliverType::Secondary } else { SliverType::Primary };
            let k = source_symbols(n, axis);
            let n = usize::from(n);
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut available: Vec<usize> = (0..n).collect();
            available.shuffle(&mut rng);
            available.truncate((k + extra).min(n));
            check(k, n, 2 * half_symbol, lines, &available);
        }
    }

    /// The codec's recovery symbols of one line, and [`recovery_symbols_direct`]'s at
    /// `positions` (in that order), each symbol on its own.
    fn codec_and_direct(
        k: usize,
        n: usize,
        symbol_size: usize,
        seed: usize,
        positions: &[usize],
    ) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let sources: Vec<Vec<u8>> = (0..k).map(|i| symbol(seed + i, symbol_size)).collect();
        let recovery: Vec<Vec<u8>> = rs::encode_symbols(
            k,
            n,
            symbol_size,
            |i| &sources[i],
            |recovery| recovery.map(<[u8]>::to_vec).collect(),
        )
        .unwrap();
        let expected = positions.iter().map(|p| recovery[p - k].clone()).collect();
        let mut out = b"kept before".to_vec();
        recovery_symbols_direct(k, n, symbol_size, |i| &sources[i], positions, &mut out).unwrap();
        assert_eq!(&out[..11], b"kept before", "appended after what was there");
        let direct = out[11..].chunks(symbol_size).map(<[u8]>::to_vec).collect();
        (expected, direct)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any recovery positions (repeated, in any order) of both codes of several committee
        /// sizes, symbols with and without a tail: the codec's own symbols.
        #[test]
        fn direct_recovery_symbols_are_the_codecs(
            n in prop::sample::select(vec![4u16, 7, 10, 100, 1000]),
            secondary in any::<bool>(),
            half_symbol in 1usize..80,
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
            seed in any::<usize>(),
        ) {
            let axis = if secondary { SliverType::Secondary } else { SliverType::Primary };
            let k = source_symbols(n, axis);
            let n = usize::from(n);
            let positions: Vec<usize> = picks.iter().map(|pick| k + pick.index(n - k)).collect();
            let (expected, direct) = codec_and_direct(k, n, 2 * half_symbol, seed, &positions);
            prop_assert_eq!(direct, expected);
        }
    }

    #[test]
    fn direct_recovery_symbols_refuse_source_and_out_of_range_positions() {
        let source = |_| &[0u8; 4][..];
        for bad in [0usize, 2, 7, 100] {
            let mut out = Vec::new();
            assert!(recovery_symbols_direct(3, 7, 4, source, &[5, bad], &mut out).is_err());
            assert!(out.is_empty(), "nothing appended for a refused request");
        }
    }

    #[test]
    fn direct_recovery_symbols_are_chosen_for_few_positions_only() {
        // n = 100: a recovery request names one symbol per shard of the asking node (about 10).
        for axis in [SliverType::Primary, SliverType::Secondary] {
            let k = source_symbols(100, axis);
            assert!(direct_is_cheaper(k, 100, 1), "{axis:?}: one position");
            assert!(
                !direct_is_cheaper(k, 100, 100 - k),
                "{axis:?}: every position"
            );
        }
        // Nothing to compute, or no recovery position at all in a code without any.
        assert!(!direct_is_cheaper(34, 100, 0));
        assert!(!direct_is_cheaper(5, 5, 1));
    }

    #[test]
    fn structured_patterns_restore_what_the_codec_restores() {
        for n in [4u16, 7, 10, 100, 1000] {
            for axis in [SliverType::Primary, SliverType::Secondary] {
                let k = source_symbols(n, axis);
                let n = usize::from(n);
                // The last k (all recovery symbols when k <= n - k), the first k (nothing to
                // restore), one source missing, every other position.
                let last: Vec<usize> = (n - k..n).collect();
                let first: Vec<usize> = (0..k).collect();
                let one_missing: Vec<usize> = (1..=k).collect();
                let mut alternate: Vec<usize> =
                    (0..n).step_by(2).chain((1..n).step_by(2)).collect();
                alternate.truncate(k);
                let descending: Vec<usize> = (0..n).rev().take(k).collect();
                for available in [last, first, one_missing, alternate, descending] {
                    check(k, n, 70, 2, &available);
                }
            }
        }
    }

    #[test]
    fn codes_without_recovery_symbols_need_no_plan() {
        for n in [1usize, 2, 3] {
            let plan = DecodePlan::new(n, n, &(0..n).collect::<Vec<_>>()).unwrap();
            assert!(plan.restored().is_empty());
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(DecodePlan::new(3, 5, &[0, 1]).is_err());
        assert!(DecodePlan::new(2, 5, &[4, 4]).is_err());
        assert!(DecodePlan::new(2, 5, &[4, 5]).is_err());
        assert!(DecodePlan::new(0, 5, &[]).is_err());
        assert!(DecodePlan::new(6, 5, &[0, 1, 2, 3, 4, 5]).is_err());
    }

    #[test]
    fn recovery_only_patterns_skip_most_of_the_transforms() {
        // The benchmark's pattern at n = 1000: every source row missing, rows 666..1000 given.
        let k = source_symbols(1000, SliverType::Primary);
        let available: Vec<usize> = (1000 - k..1000).collect();
        let plan = DecodePlan::new(k, 1000, &available).unwrap();
        let butterflies: usize = plan
            .ops
            .iter()
            .map(|op| match *op {
                Op::Ifft {
                    size, truncated, ..
                } => ifft_butterflies(size, truncated),
                Op::Fft {
                    size, truncated, ..
                } => fft_butterflies(size, truncated),
                Op::IfftLayer { half, .. } | Op::FftLayer { half, .. } => half,
                Op::MulAdd { len, .. } => len,
                _ => 0,
            })
            .sum();
        // The codec's decoder runs an IFFT and an FFT of 2048 truncated to 1178 positions.
        let codec = ifft_butterflies(2048, 1178) + fft_butterflies(2048, 1178);
        assert!(butterflies * 3 < codec, "{butterflies} vs {codec}");
    }
}
