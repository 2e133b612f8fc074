#!/usr/bin/env bash
# Stores and reads blobs through the `walrus` CLI on a local network of real processes
# (10 nodes, 100 shards) and prints throughput as a ratio of the raw encode / decode speed
# measured in the same run, plus the CLI's peak memory, including one 1 GiB store and read
# (on a 300-shard network: 100 shards cap blobs at ~149 MB).
#
# Environment: BENCH_SIZES_MIB (default 1,128), BENCH_NODES (10), BENCH_SHARDS (100),
# BENCH_MEMORY_MIB (1024; 0 skips), BENCH_MEMORY_SHARDS (300; 4096 MiB needs at least 600),
# BENCH_DRY_RUN_MIB (0: skipped; a `walrus store --dry-run`, the client side alone),
# BENCH_DRY_RUN_SHARDS (1000).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins -q
cargo bench -q -p walrus-e2e --bench store_read
