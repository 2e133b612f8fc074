#!/usr/bin/env bash
# Recovery of a wiped storage node on a local network of real processes (10 nodes, 100
# shards): slivers/s for many small blobs and for a few large ones (each on its own network),
# bytes fetched per rebuilt sliver, symbol requests served, the node's peak memory.
#
# Environment: BENCH_NODES (10), BENCH_SHARDS (100), BENCH_SMALL_BLOBS (300), BENCH_SMALL_KB
# (10), BENCH_LARGE_BLOBS (10), BENCH_LARGE_MIB (4), BENCH_WIPED (0), BENCH_TIMEOUT_S (600),
# BENCH_TRACE (set: a timeline of the recovery every 250 ms).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p walrus-localnet -p walrus-node -p walrus-sdk -p walrus-publisher \
    -p walrus-aggregator
cargo bench -q -p walrus-e2e --bench recovery
