#!/usr/bin/env bash
# Quilts against separate blobs on a local network of real processes (10 nodes, 100 shards):
# 1000 files of 10 KB stored both ways (chain transactions, WAL, SUI gas, encoded bytes, wall
# time), then one patch read against the whole quilt (slivers and bytes fetched, time).
#
# Environment: BENCH_NODES (10), BENCH_SHARDS (100), BENCH_FILES (1000), BENCH_FILE_KB (10).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins -q
cargo bench -q -p walrus-e2e --bench quilts
