//! Small blobs on a local network of real processes: the latency of one small `walrus store`
//! (the whole process: start, chain transactions, uploads), the same store through the SDK in
//! this process (no process start), and the throughput of many small files in one
//! `walrus store` call (batched chain work, parallel uploads), and the same through
//! `WalrusSdk::store_many` in this process with the uploads alongside the registration and
//! without (`SdkConfig::overlap_registration`), alternating, for an A/B comparison.
//!
//! Run with `scripts/bench-small-blobs.sh` (it builds the binaries first). Environment:
//! `BENCH_NODES` (10), `BENCH_SHARDS` (100), `BENCH_FILES` (150), `BENCH_FILE_KB` (10).

use std::{
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use walrus_e2e::{bench::bench_main, bench::env_number, test_data, write_file, TestNetwork};
use walrus_sdk::client::{NoProgress, SdkConfig, StoreOptions, WalrusSdk};

/// `walrus --config CONFIG ARGS` as a process; its wall time.
fn run_cli(net: &TestNetwork, args: &[&str]) -> Result<Duration> {
    let walrus = walrus_localnet::network::default_bin_dir().join("walrus");
    let start = Instant::now();
    let output = Command::new(&walrus)
        .arg("--config")
        .arg(net.network.client_config_path())
        .args(args)
        .output()
        .with_context(|| format!("running walrus {args:?}"))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        bail!(
            "walrus {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(elapsed)
}

fn seconds(time: Duration) -> String {
    format!("{:.3} s", time.as_secs_f64())
}

async fn bench() -> Result<()> {
    let nodes: usize = env_number("BENCH_NODES", "10")?;
    let shards: u16 = env_number("BENCH_SHARDS", "100")?;
    let files: usize = env_number("BENCH_FILES", "150")?;
    let file_kb: usize = env_number("BENCH_FILE_KB", "10")?;
    let net = TestNetwork::start_with(nodes, shards, |options| options.services = false).await?;
    let scratch = net.scratch();

    // Warm-up, reported apart: right after the start the nodes are still catching up with
    // the chain (the setup's checkpoints), so the first store waits for its registration.
    let mut warm_up = Vec::new();
    for index in 0..20u64 {
        let file = write_file(
            &scratch,
            &format!("warm-up-{index}"),
            &test_data(file_kb * 1000, 100_000 + index),
        )?;
        warm_up.push(file.to_str().context("a UTF-8 path")?.to_owned());
    }
    let mut args = vec!["store", "--epochs", "1"];
    args.extend(warm_up.iter().map(String::as_str));
    let first = run_cli(&net, &args)?;

    // One small file, three times (fresh bytes each time): best and median.
    let mut singles = Vec::new();
    for run in 0..3u64 {
        let file = write_file(
            &scratch,
            &format!("single-{run}"),
            &test_data(file_kb * 1000, run),
        )?;
        let path = file.to_str().context("a UTF-8 path")?;
        singles.push(run_cli(&net, &["store", path, "--epochs", "1"])?);
    }
    singles.sort();

    // The same through the SDK in this process.
    let sdk = net.sdk()?;
    let mut sdk_singles = Vec::new();
    for run in 0..3u64 {
        let data = test_data(file_kb * 1000, 1000 + run);
        let start = Instant::now();
        sdk.store(data, StoreOptions::deletable(1), &NoProgress)
            .await?;
        sdk_singles.push(start.elapsed());
    }
    sdk_singles.sort();

    // Many files in one call.
    let mut paths = Vec::new();
    for index in 0..files {
        let data = test_data(file_kb * 1000, 10_000 + index as u64);
        let file = write_file(&scratch, &format!("many-{index}"), &data)?;
        paths.push(file.to_str().context("a UTF-8 path")?.to_owned());
    }
    let mut args = vec!["store", "--epochs", "1"];
    args.extend(paths.iter().map(String::as_str));
    let many = run_cli(&net, &args)?;
    let rate = files as f64 / many.as_secs_f64();

    // The same number of blobs through `store_many` in this process, alternating with and
    // without the uploads alongside the registration (fresh bytes each time).
    let client = |overlap_registration| -> Result<WalrusSdk> {
        Ok(WalrusSdk::new(
            net.chain_client()?,
            SdkConfig {
                overlap_registration,
                ..SdkConfig::default()
            },
        ))
    };
    let (overlapped, serial) = (client(true)?, client(false)?);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for round in 0..3u64 {
        for (sdk, times) in [(&serial, &mut without), (&overlapped, &mut with)] {
            let seed = 1_000_000 * (1 + round) + 100_000 * times.len() as u64;
            let blobs: Vec<Vec<u8>> = (0..files as u64)
                .map(|index| test_data(file_kb * 1000, seed + index))
                .collect();
            let start = Instant::now();
            let outcome = sdk
                .store_many(blobs, StoreOptions::deletable(1), &NoProgress)
                .await?;
            times.push(start.elapsed());
            if let Some(Err(error)) = outcome.results.iter().find(|result| result.is_err()) {
                bail!("store_many failed for a blob: {error}");
            }
        }
    }
    with.sort();
    without.sort();
    let sdk_rate = |time: Duration| files as f64 / time.as_secs_f64();

    println!("\n{nodes} nodes, {shards} shards; {file_kb} KB files");
    println!("| measurement | figure | target | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| one `walrus store` (process), best / median of 3 | {} / {} | 0.4 s | {:.2} |",
        seconds(singles[0]),
        seconds(singles[1]),
        0.4 / singles[1].as_secs_f64()
    );
    println!(
        "| one SDK store (in process), best / median of 3 | {} / {} | 0.4 s | {:.2} |",
        seconds(sdk_singles[0]),
        seconds(sdk_singles[1]),
        0.4 / sdk_singles[1].as_secs_f64()
    );
    println!(
        "| {files} files in one `walrus store` | {} ({rate:.1} blobs/s) | 20 blobs/s | {:.2} |",
        seconds(many),
        rate / 20.0
    );
    for (label, times) in [
        ("uploads after the registration", &without),
        ("uploads alongside the registration", &with),
    ] {
        println!(
            "| {files} blobs in one SDK `store_many`, {label}, median of 3 | {} ({:.1} blobs/s) | 20 blobs/s | {:.2} |",
            seconds(times[1]),
            sdk_rate(times[1]),
            sdk_rate(times[1]) / 20.0
        );
    }
    println!(
        "| (not a target) 20 files in one `walrus store` right after the network started | {} | | |",
        seconds(first)
    );
    Ok(())
}

fn main() -> Result<()> {
    bench_main(bench)
}
