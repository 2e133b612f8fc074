#!/usr/bin/env bash
# The project's test command (the one the README shows and CI runs): formatting, lints, and
# every test of the workspace in release mode (the encoding tests are heavy in debug).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release --locked -- -D warnings
# The public Walrus TypeScript clients (npm), which e2e/tests/integration/public_ts_client.rs
# drives against our nodes.
npm ci --prefix e2e/ts --no-audit --no-fund --loglevel=error
# The end-to-end tests (e2e/) start the binaries from the target directory. Binaries and test
# targets in one invocation: the tests' dev-dependencies change features of shared crates, so
# binaries built on their own would be compiled a second time for the tests.
cargo build --workspace --release --locked --bins --tests
cargo test --workspace --release --locked
# The Move unit tests' vectors (BLS certificates, blob IDs) must match walrus-core and the twin.
cargo run --release --locked -q -p walrus-move-test-vectors -- --check
