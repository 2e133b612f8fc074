//! Encoding and decoding throughput (MB/s of blob), for 1, 16 and 128 MiB blobs at 10, 100 and
//! 1000 shards (10 shards only where the blob fits). Run one core with `RAYON_NUM_THREADS=1`.
//!
//! - `encode`: slivers and metadata (what a client does before upload);
//! - `metadata`: the blob ID only (`walrus blob-id`);
//! - `decode/systematic`: from the first `n - 2f` primary slivers (copy fast path);
//! - `decode/recovery`: from the last `n - 2f` primary slivers (every source row restored);
//! - `decode/random`: from a random (seeded) `n - 2f` primary slivers, as a read that takes the
//!   first slivers to arrive (some source rows given, the others restored);
//! - `decode_verify`: `decode/recovery` plus the consistency check (re-encode, compare blob ID);
//! - `check/{skip,default,strict}/{recovery,random}`: `decode_and_check` with each of Walrus's
//!   three consistency checks, from the recovery and the random slivers (`walrus read`'s cost
//!   of `--skip-consistency-check`, the default and `--strict-consistency-check`).
//!
//! And `recovery_symbols/{primary,secondary}/{1,3,6,10,all}`: what a node computes to answer a
//! recovery-symbol request from one stored sliver of a 4 MiB blob at 100 shards (its stored
//! Merkle tree, no hashing), for that many repair targets: a few each as a linear combination
//! of the source symbols, all of them from the codec's whole expansion. A recovering node with
//! 10 of the 100 shards asks each source sliver for up to 10 targets.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{seq::SliceRandom, SeedableRng};
use walrus_core::{
    encoding::{
        compute_metadata, decode_and_check, decode_and_verify, decode_blob, encode_blob,
        ConsistencyCheck, EncodingAxis, EncodingConfig, ExpandedSliver, Primary, PrimarySliver,
        Secondary, SliverData,
    },
    SliverIndex,
};

const MIB: usize = 1024 * 1024;

fn blob(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn cases() -> Vec<(usize, u16)> {
    let sizes: Vec<usize> = match std::env::var("WALRUS_BENCH_SIZES_MIB") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) => vec![1, 16, 128],
    };
    let mut cases = Vec::new();
    for size in sizes {
        for n_shards in [10u16, 100, 1000] {
            let config = EncodingConfig::new(n_shards).expect("valid shard count");
            if (size * MIB) as u64 <= config.max_blob_size() {
                cases.push((size * MIB, n_shards));
            }
        }
    }
    cases
}

fn bench_encoding(c: &mut Criterion) {
    for (len, n_shards) in cases() {
        let config = EncodingConfig::new(n_shards).expect("valid shard count");
        let data = blob(len);
        let label = format!("{}MiB/n{}", len / MIB, n_shards);
        let mut group = c.benchmark_group("redstuff");
        group.throughput(Throughput::Bytes(len as u64));
        group.sample_size(10);
        if len >= 16 * MIB {
            group.measurement_time(std::time::Duration::from_secs(5));
        }
        group.bench_function(BenchmarkId::new("encode", &label), |b| {
            b.iter(|| encode_blob(&config, &data).expect("encodes"))
        });
        group.bench_function(BenchmarkId::new("metadata", &label), |b| {
            b.iter(|| compute_metadata(&config, &data).expect("encodes"))
        });

        let encoded = encode_blob(&config, &data).expect("encodes");
        let blob_id = *encoded.metadata.blob_id();
        let metadata = encoded.metadata.clone();
        let k = config.n_primary_source_symbols();
        let primaries: Vec<PrimarySliver> = encoded
            .sliver_pairs
            .iter()
            .map(|p| p.primary.clone())
            .collect();
        drop(encoded);
        let systematic: Vec<PrimarySliver> = primaries[..k].to_vec();
        let recovery: Vec<PrimarySliver> = primaries[primaries.len() - k..].to_vec();
        let mut random = primaries;
        random.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
        random.truncate(k);
        group.bench_function(BenchmarkId::new("decode/systematic", &label), |b| {
            b.iter(|| decode_blob::<Primary, _>(&config, len as u64, &systematic).expect("decodes"))
        });
        group.bench_function(BenchmarkId::new("decode/recovery", &label), |b| {
            b.iter(|| decode_blob::<Primary, _>(&config, len as u64, &recovery).expect("decodes"))
        });
        group.bench_function(BenchmarkId::new("decode/random", &label), |b| {
            b.iter(|| decode_blob::<Primary, _>(&config, len as u64, &random).expect("decodes"))
        });
        group.bench_function(BenchmarkId::new("decode_verify", &label), |b| {
            b.iter(|| {
                decode_and_verify::<Primary, _>(&config, &blob_id, len as u64, &recovery)
                    .expect("decodes")
            })
        });
        for check in [
            ConsistencyCheck::Skip,
            ConsistencyCheck::Default,
            ConsistencyCheck::Strict,
        ] {
            for (set, slivers) in [("recovery", &recovery), ("random", &random)] {
                let name = format!("check/{check}/{set}");
                group.bench_function(BenchmarkId::new(name, &label), |b| {
                    b.iter(|| {
                        decode_and_check::<Primary, _>(&metadata, slivers, check).expect("decodes")
                    })
                });
            }
        }
        group.finish();
    }
}

/// `recovery_symbols/{axis}/{targets}` for the first sliver of axis `T` of `encoded`.
fn bench_symbols_of<T: EncodingAxis>(
    c: &mut Criterion,
    encoded: &walrus_core::encoding::EncodedBlob,
    sliver: &SliverData<T>,
) {
    let metadata = &encoded.metadata;
    let layout = metadata.layout();
    let n = metadata.config().n_shards();
    let nodes = sliver
        .verify_with_tree(metadata)
        .expect("a verified sliver")
        .nodes()
        .to_vec();
    let root = *metadata
        .sliver_hash(T::TYPE, sliver.index)
        .expect("the sliver's root");
    let in_sliver = u16::try_from(metadata.config().n_symbols_in_sliver(T::TYPE)).expect("fits");
    let repair: Vec<SliverIndex> = (in_sliver..n).map(SliverIndex).collect();
    let mut group = c.benchmark_group("recovery_symbols");
    group.throughput(Throughput::Elements(1));
    for count in [1, 3, 6, 10, repair.len()] {
        // Spread over the repair part, as a node's shards are.
        let step = (repair.len() / count).max(1);
        let targets: Vec<SliverIndex> = repair.iter().copied().step_by(step).take(count).collect();
        let label = if count == repair.len() {
            "all".to_owned()
        } else {
            count.to_string()
        };
        let axis = format!("{:?}", T::TYPE).to_lowercase();
        group.bench_function(BenchmarkId::new(axis, label), |b| {
            b.iter_batched(
                || nodes.clone(),
                |nodes| {
                    ExpandedSliver::with_tree_nodes(sliver.into(), layout, nodes, &root, &targets)
                        .expect("the stored nodes give the root")
                        .expect("symbols computed")
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn bench_recovery_symbols(c: &mut Criterion) {
    let config = EncodingConfig::new(100).expect("valid shard count");
    let encoded = encode_blob(&config, &blob(4 * MIB)).expect("encodes");
    let pair = &encoded.sliver_pairs[0];
    bench_symbols_of::<Primary>(c, &encoded, &pair.primary);
    bench_symbols_of::<Secondary>(c, &encoded, &pair.secondary);
}

criterion_group!(benches, bench_encoding, bench_recovery_symbols);
criterion_main!(benches);

/// The allocator the project's binaries use: it keeps freed memory instead of returning it to
/// the kernel, which on this machine class costs more than the coding (fresh pages are zeroed).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
