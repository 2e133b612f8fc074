#!/usr/bin/env bash
# Runs the Red Stuff criterion benches (core/benches/encoding.rs) with one core and with all
# cores, and prints a table of MB/s of blob (10^6 bytes per second, as Walrus reports them).
#
# Environment: WALRUS_BENCH_SIZES_MIB (default 1,16,128), BENCH_THREADS (default "1 all"),
# BENCH_FILTER (a criterion filter, e.g. "decode": only the decode benches; default all).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
threads_list="${BENCH_THREADS:-1 all}"
for threads in $threads_list; do
  if [[ "$threads" == all ]]; then unset RAYON_NUM_THREADS; else export RAYON_NUM_THREADS="$threads"; fi
  echo "== threads: $threads" >&2
  cargo bench -p walrus-core --bench encoding -- ${BENCH_FILTER:+"$BENCH_FILTER"} \
    --warm-up-time 1 --measurement-time 3 >&2
  python3 - "$target_dir" "$threads" <<'PY'
import json, pathlib, re, sys
root = pathlib.Path(sys.argv[1]) / "criterion" / "redstuff"
rows = {}
for estimates in root.glob("**/new/estimates.json"):
    parts = estimates.relative_to(root).parts[:-2]
    name, case = "/".join(parts[:-1]), parts[-1]
    match = re.match(r"(\d+)MiB_n(\d+)", case)
    if not match:
        continue
    size_mib, n = int(match.group(1)), int(match.group(2))
    mean_ns = json.loads(estimates.read_text())["mean"]["point_estimate"]
    rows.setdefault((size_mib, n), {})[name] = size_mib * 1024 * 1024 / (mean_ns / 1e9) / 1e6
columns = ["encode", "metadata", "decode_systematic", "decode_recovery", "decode_random", "decode_verify"]
print(f"\nthreads: {sys.argv[2]}  (MB/s of blob)")
print("| blob | n | " + " | ".join(columns) + " |")
print("|---|---|" + "---|" * len(columns))
for (size, n), values in sorted(rows.items()):
    cells = [f"{values[c]:.1f}" if c in values else "-" for c in columns]
    print(f"| {size} MiB | {n} | " + " | ".join(cells) + " |")
PY
done
