//! What the benches (`e2e/benches/`, run by `scripts/bench-*.sh`) share.

use std::{future::Future, str::FromStr};

use anyhow::Result;

/// The number in the environment variable `name`, or `default` if it is not set.
pub fn env_number<T: FromStr>(name: &str, default: &str) -> Result<T> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .parse()
        .map_err(|_| anyhow::anyhow!("{name} is not a number"))
}

/// The `main` of a bench: runs `bench` on a Tokio runtime, or nothing when cargo only probes
/// the bench target (`cargo test --benches`, `cargo bench -- --list`).
pub fn bench_main<F: Future<Output = Result<()>>>(bench: impl FnOnce() -> F) -> Result<()> {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return Ok(());
    }
    tokio::runtime::Runtime::new()?.block_on(bench())
}
