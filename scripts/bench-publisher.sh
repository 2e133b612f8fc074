#!/usr/bin/env bash
# Publisher throughput with one wallet vs a pool of sub-wallets: starts a local network of
# real processes (chain, storage nodes) and, for `walrus-publisher --n-clients 1` and
# `--n-clients 8` (each with its own freshly funded main wallet), measures the blobs per second
# of 8 concurrent clients each PUTting 10 blobs of 10 KB; prints both and their ratio.
#
# Environment: BENCH_CLIENTS (8), BENCH_BLOBS_PER_CLIENT (10), BENCH_BLOB_KB (10),
# BENCH_POOL (8), BENCH_NODES (4), BENCH_SHARDS (10).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins -q
cargo bench -q -p walrus-e2e --bench publisher_pool
