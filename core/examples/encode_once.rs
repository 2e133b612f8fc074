//! Encodes, computes the metadata of, or decodes one pseudo-random blob, for profiling:
//! `cargo run --release --example encode_once -- SIZE_BYTES N_SHARDS [encode|metadata|decode|decode-verify] [REPEAT]`.
//! `decode` uses the last `n - 2f` primary slivers (a full Reed-Solomon decode).

use std::time::Instant;

use walrus_core::encoding::{
    compute_metadata, decode_and_verify, decode_blob, encode_blob, EncodingConfig, Primary,
    PrimarySliver,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1 << 20);
    let n_shards: u16 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let mode = args.get(3).map(String::as_str).unwrap_or("encode");
    let repeat: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let config = EncodingConfig::new(n_shards).expect("valid shard count");
    let blob: Vec<u8> = (0..size).map(|i| (i * 31 + 7).to_le_bytes()[0]).collect();
    let length = u64::try_from(size).expect("size fits in u64");
    let mut slivers: Vec<PrimarySliver> = Vec::new();
    let mut blob_id = None;
    if mode.starts_with("decode") {
        let encoded = encode_blob(&config, &blob).expect("encodes");
        blob_id = Some(*encoded.metadata.blob_id());
        let skip = config.n() - config.n_primary_source_symbols();
        slivers = encoded
            .sliver_pairs
            .into_iter()
            .skip(skip)
            .map(|p| p.primary)
            .collect();
    }
    let start = Instant::now();
    for _ in 0..repeat {
        match mode {
            "metadata" => {
                std::hint::black_box(compute_metadata(&config, &blob).expect("encodes"));
            }
            "decode" => {
                std::hint::black_box(
                    decode_blob::<Primary, _>(&config, length, &slivers).expect("decodes"),
                );
            }
            "decode-verify" => {
                let id = blob_id.as_ref().expect("set for decode modes");
                std::hint::black_box(
                    decode_and_verify::<Primary, _>(&config, id, length, &slivers)
                        .expect("decodes"),
                );
            }
            _ => {
                std::hint::black_box(encode_blob(&config, &blob).expect("encodes"));
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64() / repeat as f64;
    println!(
        "{mode} {size} B, n = {n_shards}: {:.3} s, {:.1} MB/s",
        seconds,
        size as f64 / seconds / 1e6
    );
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
