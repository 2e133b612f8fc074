//! Encodes (or only computes the metadata of) one pseudo-random blob, for profiling:
//! `cargo run --release --example encode_once -- SIZE_BYTES N_SHARDS [metadata|encode] [REPEAT]`.

use std::time::Instant;

use walrus_core::encoding::{compute_metadata, encode_blob, EncodingConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1 << 20);
    let n_shards: u16 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let mode = args.get(3).map(String::as_str).unwrap_or("encode");
    let repeat: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let config = EncodingConfig::new(n_shards).expect("valid shard count");
    let blob: Vec<u8> = (0..size).map(|i| (i * 31 + 7).to_le_bytes()[0]).collect();
    let start = Instant::now();
    for _ in 0..repeat {
        let id = match mode {
            "metadata" => *compute_metadata(&config, &blob).expect("encodes").blob_id(),
            _ => *encode_blob(&config, &blob)
                .expect("encodes")
                .metadata
                .blob_id(),
        };
        std::hint::black_box(id);
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
