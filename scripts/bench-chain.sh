#!/usr/bin/env bash
# Chain throughput of the localnet (localchain/benches/chain_throughput.rs): BENCH_CLIENTS
# clients x BENCH_BLOBS_PER_CLIENT concurrent register transactions, then as many certify
# transactions with real BLS certificates (signed before timing), in memory and durable
# (redb in a temporary directory). Prints a markdown table: wall time, TPS, latency from
# submission to "in a checkpoint" (p50/p95/max/mean), checkpoints sealed.
#
# Environment: BENCH_CLIENTS (default 50), BENCH_BLOBS_PER_CLIENT (default 20),
# BENCH_STORES (default memory,durable), BENCH_CHECKPOINT_MS (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -p walrus-localchain --bench chain_throughput "$@"
