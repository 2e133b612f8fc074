#!/usr/bin/env bash
# Small blobs on a local network of real processes (10 nodes, 100 shards): the latency of one
# small `walrus store` (process and in-process SDK) and the throughput of many small files in
# one `walrus store` call, each beside its target and the ratio; and the same many blobs through
# the SDK's `store_many` with the uploads alongside the registration and without (A/B).
#
# Environment: BENCH_NODES (10), BENCH_SHARDS (100), BENCH_FILES (150), BENCH_FILE_KB (10).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins -q
cargo bench -q -p walrus-e2e --bench small_blobs
