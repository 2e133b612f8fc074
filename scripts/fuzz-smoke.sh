#!/usr/bin/env bash
# Fuzz smoke test: builds every cargo-fuzz target in fuzz/ and runs each one for a short,
# fixed time on its seed corpus. Exits non-zero if any target crashes (panic, failed
# assertion, sanitizer report, timeout or out-of-memory); the crashing inputs are left in
# fuzz/artifacts/<target>/.
#
# Works on the stable toolchain: cargo-fuzz needs `-Z` rustc flags (sanitizer and coverage
# instrumentation), which RUSTC_BOOTSTRAP=1 unlocks on stable.
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 20)
#   FUZZ_SANITIZER  address (default) | none   (none: about 2x more executions per second)
#   FUZZ_TIMEOUT    seconds after which one input counts as a hang (default 30)
#   FUZZ_TARGETS    space-separated subset of targets (default: all, from `cargo fuzz list`)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds="${FUZZ_SECONDS:-20}"
sanitizer="${FUZZ_SANITIZER:-address}"
timeout="${FUZZ_TIMEOUT:-30}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --version 0.13.2 --locked
fi

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <(cargo fuzz list)
fi
if [[ ${#targets[@]} -eq 0 ]]; then
    echo "no fuzz targets found" >&2
    exit 1
fi

echo "== building ${#targets[@]} fuzz targets (sanitizer: $sanitizer)"
build_start=$SECONDS
cargo fuzz build --sanitizer "$sanitizer"
echo "== build took $((SECONDS - build_start)) s"

failed=()
for target in "${targets[@]}"; do
    # Seeds: valid inputs from the target's own fixtures (see fuzz/src/seeds.rs); the target
    # writes them and exits when WALRUS_FUZZ_WRITE_SEEDS is set.
    WALRUS_FUZZ_WRITE_SEEDS="fuzz/corpus/$target" \
        cargo fuzz run --sanitizer "$sanitizer" "$target"

    echo "== fuzzing $target for ${seconds} s"
    if cargo fuzz run --sanitizer "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -timeout="$timeout" -print_final_stats=1; then
        echo "== $target: ok"
    else
        echo "== $target: CRASH (inputs in fuzz/artifacts/$target/)" >&2
        failed+=("$target")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "== fuzz smoke FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "== fuzz smoke passed: ${#targets[@]} targets, ${seconds} s each"
