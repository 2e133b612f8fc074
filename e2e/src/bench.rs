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

/// CPU time (user + system) process `pid` has used so far, in seconds (Linux `/proc`).
pub fn process_cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (in parentheses): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
